/* test_ledger_async.c - group commit on the ledger's commit thread
 * (commit_thread): ledger_commit only asks, the thread writes the group
 * while writes stage into the next one and see the memberships and counts
 * of the group being written; readers see a group only once it is
 * written; tickets resolve and each distinct wake is called once per
 * group; a failed write fails its tickets and records nothing, and so
 * fails the group staged on top of it (with or without tickets); groups
 * reach the store in staging order, also when a write commits at once;
 * and a random run with commits asked at random answers exactly as the
 * same run written one op at a time.
 *
 * The thread's hook (before_group_write) holds a group before its write
 * until the test lets it go, so "during the write" is a state the test
 * controls rather than a race it hopes to win.
 *
 * Same fixture as test_ledger.c (ledger_util.h).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/ledger_util.h"
#include "tests/support/ledger_sink.h"
#include "tests/unit/edge/ledger_fixture.h"

static struct {
	bool hold;         /* the hook waits for a release */
	sem_t entered;     /* posted when a group reaches the hook */
	sem_t release;     /* the hook waits on it while hold */
	unsigned jitter;   /* else: sleep up to this many us (random run) */
	atomic_int wakes;  /* calls of wake() */
	atomic_int writes; /* groups that reached the hook */
} H;

static void sleep_us(unsigned us)
{
	struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000L};
	nanosleep(&ts, NULL);
}

static void hook(void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&H.writes, 1);
	if (H.hold) {
		sem_post(&H.entered);
		sem_wait(&H.release);
	} else if (H.jitter) {
		sleep_us((unsigned)rand() % H.jitter);
	}
}

static void wake(void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&H.wakes, 1);
}

static void setup(void)
{
	ledger_util_setup("test_ledger_async");
	memset(&H, 0, sizeof H);
	sem_init(&H.entered, 0, 0);
	sem_init(&H.release, 0, 0);
	T.o.commit_thread = true;
	T.o.before_group_write = hook;
	open_ledger();
	cr_assert(ledger_commits_async(T.l));
}

static void teardown(void)
{
	H.hold = false;
	sem_post(&H.release); /* a group still held goes on, and the thread stops */
	ledger_util_teardown();
	sem_destroy(&H.entered);
	sem_destroy(&H.release);
}

TestSuite(ledger_async, .init = setup, .fini = teardown, .timeout = 60);

/* The wakes once they are n or more (5 s at most): a ticket resolves
 * under the writer mutex and its wake is called after, with the mutex
 * let go (ledger_commit.c's group_fly), so a ticket seen resolved may
 * not have had its wake yet. The caller asserts the number exactly. */
static int wakes_at_least(int n)
{
	for (int i = 0; i < 5000 && atomic_load(&H.wakes) < n; i++)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	return atomic_load(&H.wakes);
}

static ledger_answer stage1(ledger_op op, ledger_ticket *t)
{
	ledger_answer a;
	t->wake = wake;
	t->wake_ctx = &H;
	int rc = ledger_stage_ops(T.l, &op, 1, WALL, &a, NULL, NULL, t);
	cr_assert_eq(rc, 0, "stage: %s", err_str(rc));
	return a;
}

Test(ledger_async, writes_staged_during_a_group_write_see_that_group)
{
	H.hold = true;
	ledger_ticket t1, t2, t3;
	cr_assert(stage1(like_op("u1", ITEM, true), &t1).changed);
	cr_assert_eq(ledger_commit(T.l, WALL), 0, "only asks");
	sem_wait(&H.entered); /* the thread holds group 1 before its write */
	cr_assert_eq(ledger_ticket_state(&t1), LEDGER_STAGED);

	ledger_answer a = stage1(like_op("u1", ITEM, true), &t2);
	cr_assert_not(a.changed, "a repeat of the like being written");
	cr_assert_eq(a.view.count, 1, "the count includes the group being written");
	a = stage1(like_op("u2", ITEM, true), &t3);
	cr_assert(a.changed);
	cr_assert_eq(a.view.count, 2);
	cr_assert_eq(count_of(ITEM), 0, "a reader sees no unwritten group");
	cr_assert_eq(member_of("u1", ITEM), -1);

	sem_post(&H.release);
	cr_assert_eq(ticket_resolved(&t1), LEDGER_DURABLE);
	cr_assert_eq(wakes_at_least(1), 1, "one wake for the group");
	cr_assert_eq(ledger_ticket_state(&t2), LEDGER_STAGED, "group 2 was not asked for");
	cr_assert_eq(count_of(ITEM), 1);
	cr_assert_eq(member_of("u1", ITEM), 1);

	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	sem_wait(&H.entered);
	sem_post(&H.release);
	cr_assert_eq(ticket_resolved(&t2), LEDGER_DURABLE);
	cr_assert_eq(ticket_resolved(&t3), LEDGER_DURABLE);
	cr_assert_eq(wakes_at_least(2), 2, "one wake for both tickets of group 2");
	cr_assert_eq(count_of(ITEM), 2);
	ledger_stats s = stats_now();
	cr_assert_eq(s.pending_ops, 3);
	cr_assert_eq(s.commits, 2);
	cr_assert_eq(s.ops_duplicate, 1);
	/* The op numbers of group 2 followed group 1's: all three load. */
	H.hold = false;
	reopen();
	cr_assert_eq(stats_now().pending_ops, 3);
	cr_assert_eq(count_of(ITEM), 2);
}

/* u1 likes ITEM after a failed write left no trace of its like: the like
 * is new, is written, and the count is then want. */
static void like_again_counts(uint64_t want)
{
	ledger_ticket t;
	cr_assert(stage1(like_op("u1", ITEM, true), &t).changed);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	cr_assert_eq(ticket_resolved(&t), LEDGER_DURABLE);
	cr_assert_eq(count_of(ITEM), want);
}

Test(ledger_async, a_failed_group_write_fails_its_tickets_and_records_nothing)
{
	ledger_ticket t1, t2;
	stage1(like_op("u1", ITEM, true), &t1);
	stage1(like_op("u2", ITEM, true), &t2);
	store_fail_writes(T.db, 1);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	cr_assert_eq(ticket_resolved(&t1), ERR_IO);
	cr_assert_eq(ticket_resolved(&t2), ERR_IO);
	cr_assert_eq(count_of(ITEM), 0);
	cr_assert_eq(member_of("u1", ITEM), -1);
	ledger_stats s = stats_now();
	cr_assert_eq(s.pending_ops, 0);
	cr_assert_eq(s.commits_failed, 1);
	/* The same like again is new, and goes through. */
	like_again_counts(1);
}

/* u2's like is written; u1's like is group 1, held before its write. */
static void hold_group_one(ledger_ticket *t0, ledger_ticket *t1)
{
	stage1(like_op("u2", ITEM, true), t0);
	cr_assert_eq(ledger_commit_now(T.l, WALL), 0);
	H.hold = true;
	stage1(like_op("u1", ITEM, true), t1);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	sem_wait(&H.entered); /* group 1 is being written */
}

/* Group 1 held (hold_group_one); then `then` (u1 again) is staged into
 * group 2 on top of it, and group 1's write fails. */
static void fail_group_under(ledger_op then, ledger_ticket *t2, ledger_answer *a2)
{
	ledger_ticket t0, t1;
	hold_group_one(&t0, &t1);
	*a2 = stage1(then, t2);
	store_fail_writes(T.db, 1);
	H.hold = false;
	sem_post(&H.release);
	cr_assert_eq(ticket_resolved(&t1), ERR_IO);
}

/* `then` (u1 again), staged on group 1 whose write fails, fails too and
 * records nothing: u1 is no member, and the count is u2's like alone.
 * changed: what its answer said. */
static void fails_with_the_group_under(ledger_op then, bool changed)
{
	ledger_ticket t2;
	ledger_answer a;
	fail_group_under(then, &t2, &a);
	cr_assert_eq(a.changed, changed);
	cr_assert_eq(ticket_resolved(&t2), ERR_IO);
	cr_assert_eq(ledger_commit_now(T.l, WALL), 0);
	cr_assert_eq(member_of("u1", ITEM), -1);
	cr_assert_eq(count_of(ITEM), 1);
}

Test(ledger_async, a_failed_write_leaves_the_records_written_before_it_whole)
{
	/* u2's group is written (its record is G#0), group 1 fails and takes
	 * group 2 staged on it along: only group 1's number may go to the
	 * next group, never a number a written record holds. */
	ledger_ticket t2;
	ledger_answer a;
	fail_group_under(like_op("u3", ITEM, true), &t2, &a);
	cr_assert_eq(ticket_resolved(&t2), ERR_IO);
	like_again_counts(2);
	reopen();
	cr_assert_eq(stats_now().pending_ops, 2, "u2's like and u1's, both on disk");
	cr_assert_eq(count_of(ITEM), 2);
	cr_assert_eq(member_of("u2", ITEM), 1);
}

Test(ledger_async, a_repeat_staged_on_a_group_whose_write_fails_fails_too)
{
	/* A repeat of the like being written: written alone, it would record
	 * u1 as a member that no op counts. */
	fails_with_the_group_under(like_op("u1", ITEM, true), false);
	ledger_stats s = stats_now();
	cr_assert_eq(s.commits_failed, 2);
	cr_assert_eq(s.pending_ops, 1);
	/* u1's like is new again, and counts. */
	like_again_counts(2);
	reopen();
	cr_assert_eq(count_of(ITEM), 2);
	cr_assert_eq(stats_now().pending_ops, 2);
}

Test(ledger_async, an_unlike_staged_on_a_group_whose_write_fails_fails_too)
{
	/* It undoes the like being written: written alone, it would take
	 * u2's like off. */
	fails_with_the_group_under(like_op("u1", ITEM, false), true);
}

typedef struct unticketed {
	ledger_answer a;
	int rc;
} unticketed;

static void *write_unticketed(void *arg)
{
	unticketed *u = arg;
	ledger_op op = like_op("u1", ITEM, true);
	u->rc = ledger_write_ops(T.l, &op, 1, WALL, &u->a, NULL, NULL);
	return NULL;
}

Test(ledger_async, a_write_without_ticket_on_a_group_whose_write_fails_gets_the_error)
{
	ledger_ticket t0, t1;
	hold_group_one(&t0, &t1);
	/* Staged on top of group 1, then waits for it to write its own. */
	unticketed u = {.rc = 1};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, write_unticketed, &u), 0);
	sleep_us(50000);
	store_fail_writes(T.db, 1);
	H.hold = false;
	sem_post(&H.release);
	cr_assert_eq(pthread_join(th, NULL), 0);
	cr_assert_eq(ticket_resolved(&t1), ERR_IO);
	cr_assert_eq(u.rc, ERR_IO, "the write was dropped with the group under it: %d", u.rc);
	cr_assert_eq(member_of("u1", ITEM), -1);
	cr_assert_eq(count_of(ITEM), 1);
}

static void *commit_now(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)ledger_commit_now(T.l, WALL);
}

Test(ledger_async, a_commit_at_once_waits_for_the_group_being_written)
{
	H.hold = true;
	ledger_ticket t1, t2;
	stage1(like_op("u1", ITEM, true), &t1);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	sem_wait(&H.entered);
	/* The unlike comes second: it must reach the store second. */
	ledger_answer a = stage1(like_op("u1", ITEM, false), &t2);
	cr_assert(a.changed);
	cr_assert_eq(a.view.count, 0);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, commit_now, NULL), 0);
	sleep_us(50000);
	cr_assert_eq(ledger_ticket_state(&t2), LEDGER_STAGED,
	             "group 2 must not be written while group 1 is held");
	H.hold = false; /* group 2 passes the hook too, on commit_now's thread */
	sem_post(&H.release);
	void *rc;
	cr_assert_eq(pthread_join(th, &rc), 0);
	cr_assert_eq((intptr_t)rc, 0);
	cr_assert_eq(ticket_resolved(&t1), LEDGER_DURABLE);
	cr_assert_eq(ledger_ticket_state(&t2), LEDGER_DURABLE);
	cr_assert_eq(member_of("u1", ITEM), 0, "the unlike is the last word");
	cr_assert_eq(count_of(ITEM), 0);
	H.hold = false;
	reopen();
	cr_assert_eq(member_of("u1", ITEM), 0);
	cr_assert_eq(stats_now().pending_ops, 2);
}

Test(ledger_async, sealing_everything_writes_what_is_staged_and_being_written)
{
	H.hold = true;
	ledger_ticket t1, t2;
	stage1(like_op("u1", ITEM, true), &t1);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	sem_wait(&H.entered);
	stage1(like_op("u2", ITEM, true), &t2);
	H.hold = false;
	sem_post(&H.release);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(ledger_ticket_state(&t1), LEDGER_DURABLE);
	cr_assert_eq(ledger_ticket_state(&t2), LEDGER_DURABLE);
	cr_assert_eq(stats_now().pending_ops, 0);
	cr_assert_eq(T.nsent, 1, "both ops in one sealed batch");
}

/* --- a random run, committed by the thread at random moments --------------- */

static uint64_t rnd_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	return ledger_util_rnd(&rnd_state);
}

Test(ledger_async, a_random_run_answers_as_one_op_at_a_time)
{
	enum { OPS = 3000, USERS = 12, ITEMS = 5 };
	H.jitter = 300; /* writes take up to 0.3 ms more: groups overlap staging */
	store *db2;
	ledger *l2 = ledger_util_twin(&db2);
	ledger_ticket *t = xcalloc(OPS, sizeof *t);
	for (size_t i = 0; i < OPS; i++) {
		char user[LEDGER_RUN_NAME], item[LEDGER_RUN_NAME];
		ledger_op op = random_like(&rnd_state, user, item, USERS, ITEMS);
		ledger_answer a1, a2;
		a1 = stage1(op, &t[i]);
		cr_assert_eq(ledger_write(l2, "likes", item, user, op.add, WALL, &a2), 0);
		ledger_util_same_answer(&a1, &a2, i);
		if (rnd() % 8 == 0)
			cr_assert_eq(ledger_commit(T.l, WALL), 0);
	}
	cr_assert_eq(ledger_commit_now(T.l, WALL), 0);
	for (size_t i = 0; i < OPS; i++)
		cr_assert_eq(ledger_ticket_state(&t[i]), LEDGER_DURABLE, "op %zu", i);
	free(t);
	uint64_t pending = ledger_util_twin_matched(l2, db2, ITEMS);
	H.jitter = 0;
	ledger_util_reopen_keeps(pending);
}

/* A home event newer than an op not yet written on its pair waits for
 * that write: applied first, the op's older membership would land on it. */
Test(ledger_async, a_home_event_waits_for_a_group_holding_its_pair_with_an_older_op)
{
	H.hold = true;
	ledger_ticket t1;
	ledger_answer a = stage1(like_op("u1", ITEM, true), &t1);
	cr_assert_eq(ledger_commit(T.l, WALL), 0, "only asks");
	sem_wait(&H.entered); /* group 1 held before its write */
	uint32_t p = partition_of(ITEM, strlen(ITEM), NPARTS);
	ledger_home_pos pos[NPARTS] = {{-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}};
	pos[p] = (ledger_home_pos){1, 0};
	ledger_home_ev e = {
	    .counter = "likes", .item = ITEM, .user = "u1", .member = false, .hlc = a.hlc + 1};
	size_t taken = 7;
	cr_assert_eq(ledger_home_apply(T.l, &e, 1, pos, WALL, &taken), ERR_AGAIN);
	cr_assert_eq(taken, 0);
	H.hold = false;
	sem_post(&H.release);
	cr_assert_eq(ticket_resolved(&t1), LEDGER_DURABLE);
	cr_assert_eq(ledger_home_apply(T.l, &e, 1, pos, WALL, &taken), 0);
	cr_assert_eq(taken, 1);
	cr_assert_eq(member_of("u1", ITEM), 0, "the later state, central's, stays");
}
