/* cndwait.c - an LD_PRELOAD library that sim puts before libfaketime
 * in the daemons of a drill with a clock step (sim/drill/faketime.h);
 * never linked into a program.
 *
 * librdkafka waits on its queues with C11's cnd_timedwait, a deadline
 * on CLOCK_REALTIME that it takes from timespec_get. libfaketime 0.9.10
 * fakes timespec_get but not cnd_timedwait (it converts the deadlines
 * of pthread_cond_timedwait only), so under a clock moved back every
 * such wait ended at once (a 100 ms poll of the changelog returned in
 * microseconds, and a standby's read-back of its own takeover record
 * "stalled" four times over), and under a clock moved ahead each one
 * lasted the offset longer. On glibc a cnd_t is a pthread_cond_t and an
 * mtx_t a pthread_mutex_t (glibc's own cnd_timedwait is a call of
 * pthread_cond_timedwait on them), so this one makes that call, which
 * the dynamic linker then finds in libfaketime, loaded after this.
 *
 * Any thread, as cnd_timedwait.
 */
#include <errno.h>
#include <pthread.h>
#include <threads.h>
#include <time.h>

int cnd_timedwait(cnd_t *restrict cnd, mtx_t *restrict mtx, const struct timespec *restrict ts)
{
	int rc = pthread_cond_timedwait((pthread_cond_t *)cnd, (pthread_mutex_t *)mtx, ts);
	return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : thrd_error;
}
