/* clock.h - wall and monotonic time in milliseconds.
 *
 * clock_wall_ms() is the system's real-time clock plus a skew that is 0
 * unless a drill sets one (clock.skew_ms in a daemon's config: the
 * simulator's way to run one edge's clock ahead or behind);
 * clock_mono_ms() never jumps. Any thread.
 */
#ifndef LIKES_CLOCK_H
#define LIKES_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

uint64_t clock_wall_ms(void);
uint64_t clock_mono_ms(void);
/* The monotonic clock in ns (inline: request timing calls it twice per
 * request), in us (the simulator's latencies and relay delays) and in
 * seconds, for durations. The same clock as clock_mono_ms(). */
static inline uint64_t clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static inline uint64_t clock_mono_us(void)
{
	return clock_mono_ns() / 1000u;
}
static inline double clock_mono_s(void)
{
	return (double)clock_mono_ns() / 1e9;
}
/* The CPU time the calling thread has used, in ns. A system call (not in
 * the vDSO, about 0.5 us on a VM): once per group write, never per
 * request. */
static inline uint64_t clock_thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
/* CLOCK_MONOTONIC now plus ms, as pthread_cond_timedwait takes it on a
 * condition variable set to that clock. */
struct timespec clock_mono_deadline(unsigned ms);
/* The same on another clock. */
struct timespec clock_deadline(clockid_t clock, unsigned ms);
/* Joins thread t, waiting at most ms on the monotonic clock (a wall
 * clock step neither cuts the wait short nor stretches it): 0, or
 * ETIMEDOUT (t still runs and is not joined) or another pthread error. */
int clock_join_ms(pthread_t t, unsigned ms);
/* A condition variable whose timed waits take clock_mono_deadline()'s
 * deadlines (CLOCK_MONOTONIC: a wall clock step moves no wait). */
void clock_cond_init(pthread_cond_t *cv);
/* Offsets clock_wall_ms() by skew_ms from now on (start-up only). */
void clock_set_skew_ms(int64_t skew_ms);

#endif
