/* child.h - a child process sim starts: made to die with sim, and ended
 * with SIGTERM, then SIGKILL if it has not exited within its grace,
 * reaped either way. Main thread.
 */
#ifndef SIM_PROC_CHILD_H
#define SIM_PROC_CHILD_H

#include <sys/types.h>

void child_end(pid_t pid, unsigned grace_ms);

/* In a child just forked by parent (its getpid() before the fork): it is
 * killed when sim exits (PR_SET_PDEATHSIG), exits 126 at once if sim is
 * already gone, and has no signal blocked (sim's threads block some).
 * Async-signal-safe calls only: the child of a threaded process. */
void child_prepare(pid_t parent);

/* Starts the program argv[0] (a path; argv NULL-terminated), prepared
 * as child_prepare says, its standard output and error appended to the
 * file log. enter, when not NULL, runs in the child before the exec
 * (async-signal-safe calls only: it joins namespaces, say); a nonzero
 * return is the child's exit status. Its pid, or -1 with errno. */
pid_t child_spawn(const char *log, const char *const *argv, int (*enter)(const void *ctx),
                  const void *ctx);

#endif
