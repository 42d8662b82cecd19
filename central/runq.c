/* runq.c - the run loop's job queue (see runq.h): a mutex, a condition
 * variable and a short FIFO of jobs that belong to their posters.
 */
#include "central/runq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "tsa.h"
#include "xmem.h"

typedef enum state { QUEUED, RUNNING, DONE, CANCELLED } state;

typedef struct job {
	runq_fn fn;
	void *arg;
	state st;
	struct job *next;
} job;

struct runq {
	tsa_mutex mu;
	pthread_cond_t cv; /* a job finished, or the queue closed */
	job *head, *tail;
	int n;
	bool closed;
};

runq *runq_new(void)
{
	runq *q = xcalloc(1, sizeof *q);
	pthread_mutex_init(&q->mu, NULL);
	clock_cond_init(&q->cv);
	return q;
}

void runq_close(runq *q)
{
	tsa_lock(&q->mu);
	q->closed = true;
	for (job *j = q->head; j; j = j->next)
		j->st = CANCELLED;
	q->head = q->tail = NULL;
	q->n = 0;
	pthread_cond_broadcast(&q->cv);
	tsa_unlock(&q->mu);
}

void runq_free(runq *q)
{
	if (!q)
		return;
	runq_close(q);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

static void unlink_job(runq *q, job *j) TSA_REQUIRES(q->mu)
{
	job **pp = &q->head, *prev = NULL;
	while (*pp && *pp != j) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = j->next;
	if (q->tail == j)
		q->tail = prev;
	q->n--;
}

int runq_call(runq *q, runq_fn fn, void *arg, int timeout_ms)
{
	job j = {.fn = fn, .arg = arg, .st = QUEUED};
	struct timespec until = clock_mono_deadline(timeout_ms > 0 ? (unsigned)timeout_ms : 0);
	tsa_lock(&q->mu);
	if (q->closed || q->n >= RUNQ_MAX) {
		int rc = q->closed ? ERR_CLOSED : ERR_FULL;
		tsa_unlock(&q->mu);
		return rc;
	}
	if (q->tail)
		q->tail->next = &j;
	else
		q->head = &j;
	q->tail = &j;
	q->n++;
	int rc = 0;
	while (j.st == QUEUED) {
		int w = pthread_cond_timedwait(&q->cv, &q->mu, &until);
		if (w == ETIMEDOUT && j.st == QUEUED) {
			unlink_job(q, &j);
			rc = ERR_TIMEOUT;
			break;
		}
	}
	/* Once running, the job is waited for to its end: arg is ours. */
	while (j.st == RUNNING)
		pthread_cond_wait(&q->cv, &q->mu);
	if (j.st == CANCELLED)
		rc = ERR_CLOSED;
	tsa_unlock(&q->mu);
	return rc;
}

void runq_drain(runq *q)
{
	tsa_lock(&q->mu);
	while (q->head) {
		job *j = q->head;
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		q->n--;
		j->st = RUNNING;
		tsa_unlock(&q->mu);
		j->fn(j->arg);
		tsa_lock(&q->mu);
		j->st = DONE;
		pthread_cond_broadcast(&q->cv);
	}
	tsa_unlock(&q->mu);
}
