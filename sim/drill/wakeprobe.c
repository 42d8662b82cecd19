/* wakeprobe.c - see wakeprobe.h. */
#include "sim/drill/wakeprobe.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "xmem.h"

struct wakeprobe {
	pthread_t thread;
	atomic_bool stop;
	unsigned period_us;
	pthread_mutex_t mu;
	hist late; /* under mu */
};

static uint64_t ts_us(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000u + (uint64_t)t->tv_nsec / 1000u;
}

static struct timespec us_ts(uint64_t us)
{
	return (struct timespec){.tv_sec = (time_t)(us / 1000000u),
	                         .tv_nsec = (long)(us % 1000000u) * 1000};
}

static void *probe_main(void *arg)
{
	wakeprobe *p = arg;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	uint64_t due = ts_us(&t) + p->period_us;
	while (!atomic_load(&p->stop)) {
		struct timespec d = us_ts(due);
		int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL);
		if (rc == EINTR)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t);
		uint64_t now = ts_us(&t);
		pthread_mutex_lock(&p->mu);
		hist_add(&p->late, now > due ? now - due : 0);
		pthread_mutex_unlock(&p->mu);
		/* A wake-up later than a whole period plans from now: a stall
		 * counts once, not once for every deadline it swallowed. */
		due = due + p->period_us > now ? due + p->period_us : now + p->period_us;
	}
	return NULL;
}

wakeprobe *wakeprobe_start(unsigned period_us)
{
	wakeprobe *p = xcalloc(1, sizeof *p);
	p->period_us = period_us ? period_us : 1;
	pthread_mutex_init(&p->mu, NULL);
	hist_init(&p->late);
	int rc = pthread_create(&p->thread, NULL, probe_main, p);
	if (rc) {
		log_error("wake-up probe thread failed", "err=\"%s\"", strerror(rc));
		pthread_mutex_destroy(&p->mu);
		free(p);
		return NULL;
	}
	return p;
}

void wakeprobe_take(wakeprobe *p, hist *out)
{
	pthread_mutex_lock(&p->mu);
	*out = p->late;
	hist_init(&p->late);
	pthread_mutex_unlock(&p->mu);
}

void wakeprobe_stop(wakeprobe *p)
{
	if (!p)
		return;
	atomic_store(&p->stop, true);
	pthread_join(p->thread, NULL);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
