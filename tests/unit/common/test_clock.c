/* test_clock.c - the monotonic waits of common/clock.c: a join bounded
 * by clock_join_ms gives up after its time while the thread runs, and
 * joins a thread that ends within it. (That a wall clock step moves
 * none of these waits is sim's test_faketime's, under libfaketime.)
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>

#include "clock.h"

TestSuite(clock, .timeout = 20);

static sem_t go;

static void *wait_for_go(void *arg)
{
	(void)arg;
	while (sem_wait(&go) != 0)
		;
	return NULL;
}

Test(clock, a_join_gives_up_after_its_time_and_joins_a_thread_that_ends)
{
	cr_assert_eq(sem_init(&go, 0, 0), 0);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, wait_for_go, NULL), 0);
	uint64_t t0 = clock_mono_ms();
	cr_assert_eq(clock_join_ms(t, 150), ETIMEDOUT);
	uint64_t took = clock_mono_ms() - t0;
	cr_assert(took >= 150 && took < 2000, "gave up after %llu ms", (unsigned long long)took);
	sem_post(&go);
	cr_assert_eq(clock_join_ms(t, 10000), 0);
	sem_destroy(&go);
}

Test(clock, a_monotonic_deadline_is_now_plus_the_wait)
{
	struct timespec now, d;
	clock_gettime(CLOCK_MONOTONIC, &now);
	d = clock_mono_deadline(1500);
	int64_t ms = (int64_t)(d.tv_sec - now.tv_sec) * 1000 + (d.tv_nsec - now.tv_nsec) / 1000000;
	cr_assert(ms >= 1500 && ms < 1600, "%lld ms ahead", (long long)ms);
	cr_assert(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
}
