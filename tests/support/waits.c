/* waits.c - timed waits for tests (waits.h). */
#include "tests/support/waits.h"

#include <criterion/criterion.h>
#include <errno.h>

#include "clock.h"

struct timespec waits_deadline(long ms)
{
	return clock_deadline(CLOCK_REALTIME, (unsigned)ms);
}

bool waits_sem(sem_t *s, long ms)
{
	struct timespec ts = waits_deadline(ms);
	int rc;
	while ((rc = sem_timedwait(s, &ts)) == -1 && errno == EINTR)
		;
	return rc == 0;
}

static void *call_main(void *arg)
{
	waits_call *c = arg;
	c->fn(c->arg);
	sem_post(&c->done);
	return NULL;
}

void waits_call_start(waits_call *c, void (*fn)(void *), void *arg)
{
	c->fn = fn;
	c->arg = arg;
	sem_init(&c->done, 0, 0);
	cr_assert_eq(pthread_create(&c->th, NULL, call_main, c), 0);
}

bool waits_call_within(waits_call *c, long ms)
{
	return waits_sem(&c->done, ms);
}

void waits_call_join(waits_call *c)
{
	pthread_join(c->th, NULL);
	sem_destroy(&c->done);
}
