/* benchutil.h - what sim's in-process benchmarks (bench-central,
 * bench-views) share: a seeded generator, the calling thread's CPU time
 * and the removal of a run's temp dir. Pure or per-thread; any thread.
 */
#ifndef SIM_BENCHUTIL_H
#define SIM_BENCHUTIL_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"

/* SplitMix64: the next 64-bit value of the sequence *s seeds. */
static inline uint64_t bench_splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* CPU time of the calling thread: what a loop itself cost, which other
 * processes on a shared machine disturb less than wall time (LevelDB's
 * own thread is not included). */
static inline double bench_thread_cpu_s(void)
{
	return (double)clock_thread_cpu_ns() / 1e9;
}

static inline int bench_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything in it (a run's temp dir). */
static inline void bench_rmtree(const char *dir)
{
	nftw(dir, bench_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
