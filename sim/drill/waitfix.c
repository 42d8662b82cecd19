/* waitfix.c - an LD_PRELOAD library that sim puts before libfaketime
 * in the daemons of a drill with a clock step (sim/drill/faketime.h),
 * for the two waits libfaketime 0.9.10 gets wrong when only the wall
 * clock is faked (FAKETIME_DONT_FAKE_MONOTONIC); never linked into a
 * program.
 *
 * cnd_timedwait: librdkafka waits on its queues with C11's
 * cnd_timedwait, a deadline on CLOCK_REALTIME that it takes from
 * timespec_get. libfaketime fakes timespec_get but does not convert
 * cnd_timedwait's deadline (only pthread_cond_timedwait's), so under a
 * clock moved back every such wait ended at once (a 100 ms poll of the
 * changelog returned in microseconds, and a standby's read-back of its
 * own takeover record "stalled" four times over), and under a clock
 * moved ahead each one lasted the offset longer. On glibc a cnd_t is a
 * pthread_cond_t and an mtx_t a pthread_mutex_t (glibc's own
 * cnd_timedwait calls pthread_cond_timedwait on them), so this one
 * makes that call, which the dynamic linker finds in libfaketime.
 *
 * clock_nanosleep: libfaketime converts an absolute deadline on
 * CLOCK_MONOTONIC as if that clock were faked too, which puts it in the
 * distant past: common/ticker.c's threads, which sleep to the next tick
 * with TIMER_ABSTIME on CLOCK_MONOTONIC, never slept (a fifth of a core
 * each, idle). Any clock but CLOCK_REALTIME goes straight to the kernel
 * here; CLOCK_REALTIME to libfaketime, which converts it right.
 *
 * Any thread, as the calls it replaces.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

int cnd_timedwait(cnd_t *restrict cnd, mtx_t *restrict mtx, const struct timespec *restrict ts)
{
	int rc = pthread_cond_timedwait((pthread_cond_t *)cnd, (pthread_mutex_t *)mtx, ts);
	return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : thrd_error;
}

typedef int nanosleep_fn(clockid_t, int, const struct timespec *, struct timespec *);

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem)
{
	if (clock != CLOCK_REALTIME) {
		int saved = errno;
		long rc = syscall(SYS_clock_nanosleep, clock, flags, req, rem);
		int e = rc ? errno : 0;
		errno = saved;
		return e;
	}
	static nanosleep_fn *next;
	if (!next)
		next = (nanosleep_fn *)dlsym(RTLD_NEXT, "clock_nanosleep");
	return next ? next(clock, flags, req, rem) : ENOSYS;
}
