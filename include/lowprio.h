/* lowprio.h - work done on a thread of low CPU priority, so that the
 * threads it starts are born there.
 *
 * Some libraries start a background thread of their own and give no
 * handle on it: LevelDB's compaction thread, librdkafka's mock cluster.
 * A new thread inherits its creator's scheduling policy and nice value,
 * so calling the library from a thread that has lowered itself first
 * puts the library's thread there too. lowprio_run does that: a thread
 * of its own takes SCHED_IDLE (when asked) or else the nice value asked
 * for, runs fn, and is joined. An unprivileged thread may always lower
 * itself; only the way back needs a privilege, so the caller's own
 * thread is never touched.
 *
 * A thread under SCHED_IDLE runs only on a CPU no other thread wants,
 * and a thread that wakes there takes the CPU back at once; under a
 * nice value it keeps a small share and is preempted less surely.
 *
 * Any thread; fn runs on the new thread, which is joined before
 * lowprio_run returns.
 */
#ifndef LIKES_LOWPRIO_H
#define LIKES_LOWPRIO_H

#include <stdbool.h>

#include "err.h"

typedef struct lowprio {
	bool idle; /* SCHED_IDLE first */
	int nice;  /* else (or when SCHED_IDLE is refused) this nice value; <= 0: none */
	/* What happened, filled in by lowprio_run: */
	int idle_errno; /* sched_setscheduler's errno, 0 when not asked or done */
	int nice_errno; /* setpriority's (or getpriority's) errno, 0 when not asked or done */
} lowprio;

/* Runs fn(arg) on a new thread lowered as p asks, and joins it. With
 * nothing asked (no idle, nice <= 0) fn runs on the caller's thread.
 * 0 when fn ran (p's errno fields say whether each lowering took);
 * ERR_IO, with fn not run and errno set, when no thread could be
 * started. */
int lowprio_run(lowprio *p, void (*fn)(void *arg), void *arg) WARN_UNUSED;

#endif
