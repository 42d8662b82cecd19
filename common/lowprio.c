/* lowprio.c - work done on a thread of low CPU priority (lowprio.h). */
#include "lowprio.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct job {
	lowprio *p;
	void (*fn)(void *arg);
	void *arg;
} job;

/* Lowers the calling thread alone, as p asks. */
static void lower_self(lowprio *p)
{
	static const struct sched_param prio0 = {.sched_priority = 0};
	p->idle_errno = p->nice_errno = 0;
	if (p->idle)
		p->idle_errno = pthread_setschedparam(pthread_self(), SCHED_IDLE, &prio0);
	if ((p->idle && !p->idle_errno) || p->nice <= 0)
		return;
	/* Never raise it: a thread already nicer stays where it is (and
	 * could not come back up without a privilege anyway). */
	errno = 0;
	int now = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno)
		p->nice_errno = errno;
	else if (now < p->nice && setpriority(PRIO_PROCESS, (id_t)gettid(), p->nice))
		p->nice_errno = errno;
}

static void *run(void *arg)
{
	job *j = arg;
	lower_self(j->p);
	j->fn(j->arg);
	return NULL;
}

int lowprio_run(lowprio *p, void (*fn)(void *arg), void *arg)
{
	p->idle_errno = p->nice_errno = 0;
	if (!p->idle && p->nice <= 0) {
		fn(arg);
		return 0;
	}
	job j = {.p = p, .fn = fn, .arg = arg};
	pthread_t t;
	int rc = pthread_create(&t, NULL, run, &j);
	if (rc) {
		errno = rc;
		return ERR_IO;
	}
	pthread_join(t, NULL);
	return 0;
}
