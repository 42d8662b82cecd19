/* clock.c - wall and monotonic milliseconds. Any thread. */
#include "clock.h"

#include <time.h>

static int64_t skew; /* set once at start-up, before threads */

static uint64_t ms_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t clock_wall_ms(void)
{
	return (uint64_t)((int64_t)ms_of(CLOCK_REALTIME) + skew);
}

uint64_t clock_mono_ms(void)
{
	return ms_of(CLOCK_MONOTONIC);
}

struct timespec clock_mono_deadline(unsigned ms)
{
	return clock_deadline(CLOCK_MONOTONIC, ms);
}

int clock_join_ms(pthread_t t, unsigned ms)
{
	struct timespec ts = clock_mono_deadline(ms);
	return pthread_clockjoin_np(t, NULL, CLOCK_MONOTONIC, &ts);
}

void clock_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

struct timespec clock_deadline(clockid_t clock, unsigned ms)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

void clock_set_skew_ms(int64_t skew_ms)
{
	skew = skew_ms;
}
