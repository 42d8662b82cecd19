/* test_lowprio.c - lowprio_run: the work runs on a thread lowered as
 * asked, a thread that work starts is born there, and the caller's own
 * thread is never touched.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lowprio.h"

/* What a thread saw of itself: its policy, its nice value, its id. */
typedef struct seen {
	int policy, nice;
	pid_t tid;
} seen;

static void look(seen *s)
{
	s->policy = sched_getscheduler(0);
	errno = 0;
	s->nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	cr_assert_eq(errno, 0);
	s->tid = gettid();
}

static void *child(void *arg)
{
	look(arg);
	return NULL;
}

/* The work: looks at itself, then starts a thread that looks too. */
typedef struct work {
	seen self, born;
} work;

static void do_work(void *arg)
{
	work *w = arg;
	look(&w->self);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, child, &w->born), 0);
	pthread_join(t, NULL);
}

static int own_nice(void)
{
	errno = 0;
	int n = getpriority(PRIO_PROCESS, (id_t)gettid());
	cr_assert_eq(errno, 0);
	return n;
}

Test(lowprio, idle_work_and_the_threads_it_starts_run_under_sched_idle)
{
	int policy0 = sched_getscheduler(0), nice0 = own_nice();
	work w = {0};
	lowprio p = {.idle = true, .nice = 19};
	cr_assert_eq(lowprio_run(&p, do_work, &w), 0);
	if (p.idle_errno)
		cr_skip_test("this kernel refuses SCHED_IDLE here: %s", strerror(p.idle_errno));
	cr_expect_eq(w.self.policy, SCHED_IDLE);
	cr_expect_eq(w.born.policy, SCHED_IDLE, "a thread the work started inherits it");
	cr_expect_neq(w.self.tid, gettid(), "the work ran on a thread of its own");
	cr_expect_eq(w.self.nice, nice0, "SCHED_IDLE taken, the nice value is left alone");
	cr_expect_eq(sched_getscheduler(0), policy0, "the caller keeps its policy");
	cr_expect_eq(own_nice(), nice0, "and its nice value");
}

Test(lowprio, nice_work_and_the_threads_it_starts_run_at_the_nice_value)
{
	int nice0 = own_nice();
	if (nice0 + 5 > 19)
		cr_skip_test("the test runs at nice %d: no room above it", nice0);
	work w = {0};
	lowprio p = {.nice = nice0 + 5};
	cr_assert_eq(lowprio_run(&p, do_work, &w), 0);
	cr_assert_eq(p.nice_errno, 0, "%s", strerror(p.nice_errno));
	cr_expect_eq(w.self.nice, nice0 + 5);
	cr_expect_eq(w.born.nice, nice0 + 5);
	cr_expect_eq(w.self.policy, SCHED_OTHER);
	cr_expect_eq(own_nice(), nice0, "the caller keeps its nice value");
}

Test(lowprio, a_thread_nicer_already_is_not_raised)
{
	int nice0 = own_nice();
	if (nice0 + 5 > 19)
		cr_skip_test("the test runs at nice %d: no room above it", nice0);
	/* This whole test's process goes to nice0 + 5 (its own process). */
	cr_assert_eq(setpriority(PRIO_PROCESS, (id_t)gettid(), nice0 + 5), 0);
	work w = {0};
	lowprio p = {.nice = nice0 + 2};
	cr_assert_eq(lowprio_run(&p, do_work, &w), 0);
	cr_expect_eq(p.nice_errno, 0);
	cr_expect_eq(w.self.nice, nice0 + 5, "not brought back up to the value asked");
}

Test(lowprio, nothing_asked_runs_the_work_on_the_callers_thread)
{
	work w = {0};
	lowprio p = {0};
	cr_assert_eq(lowprio_run(&p, do_work, &w), 0);
	cr_expect_eq(w.self.tid, gettid());
	cr_expect_eq(p.idle_errno, 0);
	cr_expect_eq(p.nice_errno, 0);
}
