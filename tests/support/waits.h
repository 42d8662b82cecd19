/* waits.h - timed waits for tests that run a call on another thread and
 * must know whether it returned in time: the deadline ms from now on the
 * clock sem_timedwait and pthread_cond_timedwait read, a semaphore wait
 * with that deadline, and a call run on a thread of its own.
 */
#ifndef TESTS_SUPPORT_WAITS_H
#define TESTS_SUPPORT_WAITS_H

#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <time.h>

/* CLOCK_REALTIME now plus ms. */
struct timespec waits_deadline(long ms);
/* Whether s was posted within ms (a wait cut by a signal goes on). */
bool waits_sem(sem_t *s, long ms);

/* fn(arg) on a thread of its own; done is posted when it returns. */
typedef struct waits_call {
	void (*fn)(void *);
	void *arg;
	sem_t done;
	pthread_t th;
} waits_call;

/* Starts fn(arg) (a failed start fails the test). */
void waits_call_start(waits_call *c, void (*fn)(void *), void *arg);
/* Whether the call returned within ms. */
bool waits_call_within(waits_call *c, long ms);
/* Waits for the call's end and frees what it used. */
void waits_call_join(waits_call *c);

#endif
