/* ticker.c - a thread calling one function on a period (ticker.h). */
#include "ticker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "clock.h"
#include "xmem.h"

struct ticker {
	pthread_t th;
	unsigned period_ms;
	void (*turn)(void *ctx);
	void *ctx;
	atomic_bool quit;
	_Atomic uint64_t beat_ms;
};

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *run(void *arg)
{
	ticker *t = arg;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next); /* the schedule of clock_nanosleep */
	while (!atomic_load(&t->quit)) {
		atomic_store(&t->beat_ms, clock_mono_ms());
		t->turn(t->ctx);
		next.tv_nsec += (long)t->period_ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (before(&next, &now)) {
			next = now; /* late: the next turn at once */
			continue;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	return NULL;
}

ticker *ticker_start(const char *name, unsigned period_ms, void (*turn)(void *ctx), void *ctx)
{
	ticker *t = xcalloc(1, sizeof *t);
	t->period_ms = period_ms ? period_ms : 1;
	t->turn = turn;
	t->ctx = ctx;
	atomic_store(&t->beat_ms, clock_mono_ms());
	if (pthread_create(&t->th, NULL, run, t) != 0) {
		free(t);
		return NULL;
	}
	(void)pthread_setname_np(t->th, name); /* only for top -H and perf */
	return t;
}

uint64_t ticker_beat_ms(const ticker *t)
{
	return atomic_load(&((ticker *)t)->beat_ms);
}

void ticker_stop(ticker *t)
{
	if (!t)
		return;
	atomic_store(&t->quit, true);
	pthread_join(t->th, NULL);
	free(t);
}
