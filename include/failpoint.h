/* failpoint.h - named points where a test can make a daemon die as if
 * killed with SIGKILL, to check what a crash at that exact step leaves.
 *
 *   FAILPOINT("seal.written");
 *
 * LIKES_FAILPOINT=name[:n] in the environment at start-up arms one point:
 * its n-th pass (the first when n is absent) logs "failpoint reached"
 * and raises SIGKILL, which no handler can catch, so nothing is flushed
 * or cleaned up that a real kill -9 would not leave either. Unarmed (the
 * only state outside tests), a pass costs a load and a branch. The names
 * are listed in docs/ARCHITECTURE.md ("Crash points").
 *
 * failpoint_init runs once on the main thread before other threads
 * start; after it, FAILPOINT may be passed on any thread.
 */
#ifndef LIKES_FAILPOINT_H
#define LIKES_FAILPOINT_H

#include <stdbool.h>
#include <stddef.h>

/* Reads LIKES_FAILPOINT; false with a message in err when it is set but
 * malformed (the caller refuses to start). Logs a warning when armed. */
bool failpoint_init(char *err, size_t errlen);

/* Counts a pass of name; the armed point's n-th pass kills the process. */
void failpoint_pass(const char *name);

extern bool failpoint_armed; /* set by failpoint_init only */

#define FAILPOINT(name)                                                                            \
	do {                                                                                       \
		if (failpoint_armed)                                                               \
			failpoint_pass(name);                                                      \
	} while (0)

#endif
