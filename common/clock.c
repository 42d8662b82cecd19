/* clock.c - wall (with configured skew) and monotonic milliseconds. */
#include "clock.h"

#include <stdatomic.h>
#include <time.h>

static _Atomic int64_t skew_ms;

void clock_set_skew_ms(int64_t skew)
{
	atomic_store(&skew_ms, skew);
}

static uint64_t ms_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t clock_wall_ms(void)
{
	return (uint64_t)((int64_t)ms_of(CLOCK_REALTIME) + atomic_load(&skew_ms));
}

uint64_t clock_mono_ms(void)
{
	return ms_of(CLOCK_MONOTONIC);
}
