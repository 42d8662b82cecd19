/* runq.h - jobs handed to central's run-loop thread by other threads.
 *
 * The applier is the store's only writer and belongs to the run loop, so
 * work that must write the store while central is live (a repair) is not
 * done where it is asked for: the asking thread posts it here and waits;
 * the run loop runs every posted job between two messages (runq_drain)
 * and wakes the poster. Jobs live on the poster's stack: a job still
 * waiting when its deadline passes is taken back and never runs; one
 * already running is waited for, however long it takes. The queue holds
 * at most RUNQ_MAX jobs (more are refused with ERR_FULL).
 *
 * runq_call: any thread but the run loop's. runq_drain: the run loop
 * only. runq_close: the run loop's owner, once the loop has stopped.
 */
#ifndef CENTRAL_RUNQ_H
#define CENTRAL_RUNQ_H

#include "err.h"

#define RUNQ_MAX 16

typedef struct runq runq;
typedef void (*runq_fn)(void *arg);

runq *runq_new(void);
/* Every job still queued is failed with ERR_CLOSED; NULL is a no-op. */
void runq_free(runq *q);
/* Runs fn(arg) on the run loop and waits for it. 0 once it ran;
 * ERR_TIMEOUT when it did not start within timeout_ms (it then never
 * runs); ERR_CLOSED when the loop is gone; ERR_FULL when too many jobs
 * wait already. */
int runq_call(runq *q, runq_fn fn, void *arg, int timeout_ms) WARN_UNUSED;
/* Runs every job posted so far, in order. */
void runq_drain(runq *q);
/* Fails every job queued and every later call with ERR_CLOSED. */
void runq_close(runq *q);

#endif
