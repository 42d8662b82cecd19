/* test_ledger_pipeline.c - group commits pipelined (commit_depth 2 with
 * a copy in two halves, as the changelog gives): the next group's copy
 * is sent while the one before waits for its acknowledgement; groups are
 * answered and written in the order taken, whatever order their copies
 * are acknowledged in; a group whose copy fails fails the group in
 * flight behind it, whose acknowledged copy is then refused (undone)
 * once the failed one is finished, and no group is taken while such a
 * doomed group is in flight; what is staged meanwhile rests on the
 * store alone; and a random run with acknowledgements late at random
 * answers as the same run written one op at a time.
 *
 * The fake copy (begin, end, refused) holds each end until the test
 * acknowledges that copy, with the result the test chose, so "while the
 * first copy is out" is a state the test controls.
 *
 * Same fixture as test_ledger.c (ledger_util.h).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge/ledger/ledger_int.h" /* GROUP_CLOSED_MAX, the commit threads' stop */
#include "tests/support/ledger_util.h"
#include "tests/unit/edge/ledger_fixture.h"

#define COPIES_MAX 4096

static struct {
	bool hold;              /* each end waits for its ack */
	sem_t ack[COPIES_MAX];  /* posted by the test: copy i acknowledged */
	int result[COPIES_MAX]; /* what end i returns */
	unsigned jitter_us;     /* without hold: end sleeps up to this */
	unsigned fail_one_in;   /* without hold: end fails 1 copy in this many (0: none) */
	bool overlap_first;     /* without hold: end 0 waits for copy 1 to begin */
	atomic_uint begun;      /* copies begun */
	atomic_uint ended;      /* copies ended */
	atomic_uint refused;    /* refused calls */
	atomic_bool was_refused[COPIES_MAX];
	const store_batch *wb[COPIES_MAX];
	atomic_uint in_flight_max; /* most copies begun and not ended */
	pthread_mutex_t mu;
} H;

static void sleep_us(unsigned us)
{
	struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000L};
	nanosleep(&ts, NULL);
}

static void *begin(void *ctx, store_batch *wb, bool may_defer)
{
	(void)ctx;
	if (!may_defer)
		return NULL; /* a seal's or a confirmation's: taken at once, not counted */
	unsigned i = atomic_fetch_add(&H.begun, 1);
	cr_assert_lt(i, COPIES_MAX);
	pthread_mutex_lock(&H.mu);
	H.wb[i] = wb;
	pthread_mutex_unlock(&H.mu);
	unsigned out = i + 1 - atomic_load(&H.ended);
	if (out > atomic_load(&H.in_flight_max))
		atomic_store(&H.in_flight_max, out);
	return (void *)(uintptr_t)(i + 1);
}

static int end(void *ctx, store_batch *wb, void *pending)
{
	(void)ctx;
	if (!pending)
		return 0;
	unsigned i = (unsigned)(uintptr_t)pending - 1;
	cr_assert_eq(H.wb[i], wb, "end gets the batch begin got");
	if (H.hold) {
		sem_wait(&H.ack[i]);
	} else {
		/* The first copy stays out until the second is begun (5 s at
		 * most), so that a run has two out at once however the threads
		 * are scheduled. */
		for (int k = 0; i == 0 && H.overlap_first && k < 5000 && atomic_load(&H.begun) < 2;
		     k++)
			sleep_us(1000);
		if (H.jitter_us)
			sleep_us((unsigned)rand() % H.jitter_us);
		/* Copies 1, 1 + n, 1 + 2n...: copy 1 always goes out (copy 0
		 * waits for it), so every run has a failure. */
		if (H.fail_one_in && i % H.fail_one_in == 1)
			H.result[i] = (i / H.fail_one_in) % 2 ? ERR_KAFKA : ERR_TIMEOUT;
	}
	atomic_fetch_add(&H.ended, 1);
	return H.result[i];
}

static void refused(void *ctx, const store_batch *wb)
{
	(void)ctx;
	pthread_mutex_lock(&H.mu);
	/* The newest copy of this batch: group slots are reused. */
	for (unsigned i = atomic_load(&H.begun); i-- > 0;)
		if (H.wb[i] == wb) {
			atomic_store(&H.was_refused[i], true);
			break;
		}
	pthread_mutex_unlock(&H.mu);
	atomic_fetch_add(&H.refused, 1);
}

static const ledger_log copies = {
    .begin = begin,
    .end = end,
    .written = ledger_util_log_written,
    .refused = refused,
    .refusing = ledger_util_log_refusing,
    .may_send = ledger_util_log_may_send,
};

static void setup(void)
{
	ledger_util_setup("test_ledger_pipeline");
	memset(&H, 0, sizeof H);
	pthread_mutex_init(&H.mu, NULL);
	for (int i = 0; i < COPIES_MAX; i++)
		sem_init(&H.ack[i], 0, 0);
	T.o.commit_thread = true;
	T.o.commit_depth = 2;
	T.o.log = &copies;
	open_ledger();
	cr_assert(ledger_commits_async(T.l));
}

static void teardown(void)
{
	H.hold = false;
	for (int i = 0; i < COPIES_MAX; i++)
		sem_post(&H.ack[i]); /* copies still held go on, and the threads stop */
	ledger_util_teardown();
	for (int i = 0; i < COPIES_MAX; i++)
		sem_destroy(&H.ack[i]);
	pthread_mutex_destroy(&H.mu);
}

TestSuite(ledger_pipeline, .init = setup, .fini = teardown, .timeout = 60);

static ledger_answer stage1(ledger_op op, ledger_ticket *t)
{
	ledger_answer a;
	t->wake = NULL; /* the test polls its tickets */
	t->wake_ctx = NULL;
	int rc = ledger_stage_ops(T.l, &op, 1, WALL, &a, NULL, NULL, t);
	cr_assert_eq(rc, 0, "stage: %s", err_str(rc));
	return a;
}

/* Waits (5 s at most) until cond() holds. */
static void wait_until(bool (*cond)(unsigned), unsigned arg, const char *what)
{
	for (int i = 0; i < 5000; i++) {
		if (cond(arg))
			return;
		sleep_us(1000);
	}
	cr_assert_fail("never: %s", what);
}

static bool begun_at_least(unsigned n)
{
	return atomic_load(&H.begun) >= n;
}

/* Stages op with t and asks for a commit, then waits until its group's
 * copy is begun (the nth). */
static ledger_answer send_group(ledger_op op, ledger_ticket *t, unsigned nth)
{
	ledger_answer a = stage1(op, t);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	wait_until(begun_at_least, nth, "the group's copy is sent");
	return a;
}

Test(ledger_pipeline, the_next_copy_goes_out_while_one_waits_and_answers_keep_their_order)
{
	H.hold = true;
	ledger_ticket t1, t2;
	send_group(like_op("u1", ITEM, true), &t1, 1);
	/* Group 2 is staged on group 1 (it sees u1's like) and its copy
	 * goes out while group 1's is still unacknowledged. */
	ledger_answer a2 = send_group(like_op("u2", ITEM, true), &t2, 2);
	cr_assert_eq(a2.view.count, 2, "group 2 sees group 1's like");
	cr_assert_eq(atomic_load(&H.in_flight_max), 2);
	/* Acknowledged out of order: group 2 still waits for group 1. */
	sem_post(&H.ack[1]);
	sleep_us(50000);
	cr_assert_eq(ledger_ticket_state(&t2), LEDGER_STAGED, "answered before the group under it");
	cr_assert_eq(ledger_ticket_state(&t1), LEDGER_STAGED);
	cr_assert_eq(count_of(ITEM), 0, "readers see no group before it is written");
	sem_post(&H.ack[0]);
	cr_assert_eq(ticket_resolved(&t1), LEDGER_DURABLE);
	cr_assert_eq(ticket_resolved(&t2), LEDGER_DURABLE);
	cr_assert_eq(count_of(ITEM), 2);
	cr_assert_eq(atomic_load(&H.refused), 0);
	reopen();
	cr_assert_eq(count_of(ITEM), 2);
	cr_assert_eq(stats_now().pending_ops, 2);
}

/* Group 1 (u1's like) goes out and fails with err; group 2 (then) is
 * staged on it and goes out before group 1's answer, and is
 * acknowledged. */
static void fail_under(ledger_op then, int err, ledger_ticket *t1, ledger_ticket *t2,
                       ledger_answer *a2)
{
	H.hold = true;
	H.result[0] = err;
	send_group(like_op("u1", ITEM, true), t1, 1);
	*a2 = send_group(then, t2, 2);
	sem_post(&H.ack[1]);
	sem_post(&H.ack[0]);
	cr_assert_eq(ticket_resolved(t1), err);
	cr_assert_eq(ticket_resolved(t2), err, "staged on a failed group, it fails too");
}

Test(ledger_pipeline, a_failed_copy_fails_the_group_sent_behind_it_and_that_copy_is_refused)
{
	ledger_ticket t1, t2;
	ledger_answer a2;
	/* An unlike of the like in group 1: written without it, it would
	 * take off a like never recorded. */
	fail_under(like_op("u1", ITEM, false), ERR_TIMEOUT, &t1, &t2, &a2);
	cr_assert(a2.changed);
	cr_assert_eq(atomic_load(&H.refused), 2, "both copies may be in the log: both undone");
	cr_assert(atomic_load(&H.was_refused[0]));
	cr_assert(atomic_load(&H.was_refused[1]));
	cr_assert_eq(member_of("u1", ITEM), -1);
	cr_assert_eq(count_of(ITEM), 0);
	ledger_stats s = stats_now();
	cr_assert_eq(s.commits_failed, 2);
	cr_assert_eq(s.pending_ops, 0);
	/* u1's like is new again, and counts. */
	ledger_ticket t3;
	cr_assert(send_group(like_op("u1", ITEM, true), &t3, 3).changed);
	sem_post(&H.ack[2]);
	cr_assert_eq(ticket_resolved(&t3), LEDGER_DURABLE);
	cr_assert_eq(count_of(ITEM), 1);
	reopen();
	cr_assert_eq(count_of(ITEM), 1);
	cr_assert_eq(stats_now().pending_ops, 1);
}

Test(ledger_pipeline, a_fenced_copy_is_not_undone)
{
	ledger_ticket t1, t2;
	ledger_answer a2;
	fail_under(like_op("u2", ITEM, true), ERR_FENCED, &t1, &t2, &a2);
	/* Group 1's record is void in the log; group 2's was acknowledged
	 * and is refused. */
	cr_assert_eq(atomic_load(&H.refused), 1);
	cr_assert_not(atomic_load(&H.was_refused[0]));
	cr_assert(atomic_load(&H.was_refused[1]));
	cr_assert_eq(count_of(ITEM), 0);
}

Test(ledger_pipeline, nothing_is_taken_while_a_doomed_group_is_in_flight)
{
	H.hold = true;
	H.result[0] = ERR_KAFKA;
	ledger_ticket t1, t2, t3;
	send_group(like_op("u1", ITEM, true), &t1, 1);
	send_group(like_op("u2", ITEM, true), &t2, 2);
	sem_post(&H.ack[0]); /* group 1 fails; group 2 is still out */
	cr_assert_eq(ticket_resolved(&t1), ERR_KAFKA);
	/* Staged now, it rests on the store: u1 and u2 are not members. */
	ledger_answer a3 = stage1(like_op("u2", ITEM, true), &t3);
	cr_assert(a3.changed, "a like of a pair only the doomed group held is new");
	cr_assert_eq(a3.view.count, 1);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	sleep_us(50000);
	cr_assert_eq(atomic_load(&H.begun), 2, "a group was sent while a doomed one was out");
	sem_post(&H.ack[1]); /* group 2: acknowledged, then refused */
	cr_assert_eq(ticket_resolved(&t2), ERR_KAFKA);
	wait_until(begun_at_least, 3, "group 3 is sent once group 2 is finished");
	cr_assert(atomic_load(&H.was_refused[1]));
	sem_post(&H.ack[2]);
	cr_assert_eq(ticket_resolved(&t3), LEDGER_DURABLE);
	cr_assert_eq(count_of(ITEM), 1);
	cr_assert_eq(member_of("u2", ITEM), 1);
	cr_assert_eq(member_of("u1", ITEM), -1);
}

Test(ledger_pipeline, a_failed_store_write_undoes_its_own_copy_and_the_doomed_ones_behind_it)
{
	H.hold = true;
	ledger_ticket t1, t2;
	send_group(like_op("u1", ITEM, true), &t1, 1);
	/* Group 2 takes u1's like off: written without group 1, it would
	 * take off a like never recorded. */
	cr_assert(send_group(like_op("u1", ITEM, false), &t2, 2).changed);
	store_fail_writes(T.db, 1); /* group 1's store write */
	sem_post(&H.ack[1]);
	sem_post(&H.ack[0]);
	int rc = ticket_resolved(&t1);
	cr_assert_neq(rc, LEDGER_DURABLE);
	cr_assert_eq(ticket_resolved(&t2), rc, "staged on a failed group, it fails with its error");
	/* Both copies are in the log and neither is in the store: both are
	 * undone there, each undoing read from the store both lack, so a
	 * replay ends where the store is. */
	cr_assert_eq(atomic_load(&H.refused), 2);
	cr_assert(atomic_load(&H.was_refused[0]), "the copy of the group whose write failed");
	cr_assert(atomic_load(&H.was_refused[1]));
	cr_assert_eq(member_of("u1", ITEM), -1);
	cr_assert_eq(count_of(ITEM), 0);
	reopen();
	cr_assert_eq(count_of(ITEM), 0);
	cr_assert_eq(stats_now().pending_ops, 0);
}

Test(ledger_pipeline, a_group_failing_after_a_written_one_fails_alone_and_dooms_the_next)
{
	H.hold = true;
	H.result[1] = ERR_TIMEOUT;
	ledger_ticket t1, t2, t3;
	send_group(like_op("u1", ITEM, true), &t1, 1);
	send_group(like_op("u2", ITEM, true), &t2, 2);
	sem_post(&H.ack[0]);
	cr_assert_eq(ticket_resolved(&t1), LEDGER_DURABLE);
	/* Group 3, staged on group 2 (it takes u2's like off), goes out
	 * while group 2 waits, and is acknowledged first. */
	cr_assert(send_group(like_op("u2", ITEM, false), &t3, 3).changed);
	sem_post(&H.ack[2]);
	sem_post(&H.ack[1]); /* group 2 fails */
	cr_assert_eq(ticket_resolved(&t2), ERR_TIMEOUT);
	cr_assert_eq(ticket_resolved(&t3), ERR_TIMEOUT);
	cr_assert_not(atomic_load(&H.was_refused[0]), "the written group is not undone");
	cr_assert(atomic_load(&H.was_refused[1]));
	cr_assert(atomic_load(&H.was_refused[2]));
	cr_assert_eq(atomic_load(&H.refused), 2);
	cr_assert_eq(member_of("u1", ITEM), 1);
	cr_assert_eq(member_of("u2", ITEM), -1);
	cr_assert_eq(count_of(ITEM), 1);
	reopen();
	cr_assert_eq(count_of(ITEM), 1);
	cr_assert_eq(stats_now().pending_ops, 1);
}

static atomic_int inline_rc = -1;

static void *commit_inline(void *arg)
{
	(void)arg;
	atomic_store(&inline_rc, ledger_commit_now(T.l, WALL));
	return NULL;
}

Test(ledger_pipeline, a_caller_committing_inline_while_a_thread_has_a_group_out_keeps_the_order)
{
	H.hold = true;
	atomic_store(&inline_rc, -1);
	ledger_ticket t1, t2;
	send_group(like_op("u1", ITEM, true), &t1, 1);
	/* A caller writes the open group itself (as ledger_group_room does
	 * with a full group): its copy goes out beside group 1's. */
	ledger_answer a2 = stage1(like_op("u2", ITEM, true), &t2);
	cr_assert_eq(a2.view.count, 2);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, commit_inline, NULL), 0);
	wait_until(begun_at_least, 2, "the inline group's copy is sent");
	sem_post(&H.ack[1]);
	sleep_us(50000);
	cr_assert_eq(atomic_load(&inline_rc), -1, "the inline commit returned before group 1");
	cr_assert_eq(ledger_ticket_state(&t2), LEDGER_STAGED);
	sem_post(&H.ack[0]);
	pthread_join(th, NULL);
	cr_assert_eq(atomic_load(&inline_rc), 0);
	cr_assert_eq(ticket_resolved(&t1), LEDGER_DURABLE);
	cr_assert_eq(ledger_ticket_state(&t2), LEDGER_DURABLE);
	cr_assert_eq(count_of(ITEM), 2);
	reopen();
	cr_assert_eq(count_of(ITEM), 2);
}

Test(ledger_pipeline, at_depth_one_the_copy_in_halves_goes_one_group_at_a_time)
{
	T.o.commit_depth = 1;
	reopen();
	H.hold = true;
	H.result[0] = ERR_TIMEOUT;
	ledger_ticket t1, t2, t3;
	send_group(like_op("u1", ITEM, true), &t1, 1);
	ledger_answer a2 = stage1(like_op("u1", ITEM, false), &t2);
	cr_assert(a2.changed);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	sleep_us(50000);
	cr_assert_eq(atomic_load(&H.begun), 1, "a second copy went out at depth 1");
	sem_post(&H.ack[0]); /* group 1 fails, and the open group staged on it */
	cr_assert_eq(ticket_resolved(&t1), ERR_TIMEOUT);
	cr_assert_eq(ticket_resolved(&t2), ERR_TIMEOUT);
	cr_assert(atomic_load(&H.was_refused[0]));
	cr_assert_eq(atomic_load(&H.refused), 1);
	cr_assert(send_group(like_op("u3", ITEM, true), &t3, 2).changed);
	sem_post(&H.ack[1]);
	cr_assert_eq(ticket_resolved(&t3), LEDGER_DURABLE);
	cr_assert_eq(atomic_load(&H.in_flight_max), 1);
	cr_assert_eq(count_of(ITEM), 1);
	cr_assert_eq(member_of("u1", ITEM), -1);
}

/* --- a loop's writes never wait: closed groups, retries that follow -------- */

/* Stages a full group's worth of likes of ITEM, by users "q<first>"
 * and on, with t: ledger_stage_ops's code. */
static int stage_full_group(unsigned first, ledger_ticket *t)
{
	static char users[LEDGER_GROUP_OPS][16];
	static ledger_op ops[LEDGER_GROUP_OPS];
	static ledger_answer ans[LEDGER_GROUP_OPS];
	for (unsigned i = 0; i < LEDGER_GROUP_OPS; i++) {
		snprintf(users[i], sizeof users[i], "q%u", first + i);
		ops[i] = like_op(users[i], ITEM, true);
	}
	t->wake = NULL;
	t->wake_ctx = NULL;
	return ledger_stage_ops(T.l, ops, LEDGER_GROUP_OPS, WALL, ans, NULL, NULL, t);
}

Test(ledger_pipeline, full_groups_are_closed_rather_than_waited_for_and_the_rest_refused)
{
	H.hold = true;
	ledger_ticket t1, t2, full[GROUP_CLOSED_MAX + 1], over;
	send_group(like_op("u1", ITEM, true), &t1, 1);
	send_group(like_op("u2", ITEM, true), &t2, 2);
	/* Both groups are out and held: no group can be taken. Each call
	 * below fills the open group; the next closes it and opens
	 * another, with no copy acknowledged meanwhile (a wait here would
	 * hang the test). */
	for (unsigned k = 0; k <= GROUP_CLOSED_MAX; k++)
		cr_assert_eq(stage_full_group(k * LEDGER_GROUP_OPS, &full[k]), 0, "group %u", k);
	/* Every group a commit thread may take is full: refused at once. */
	int rc = stage_full_group((GROUP_CLOSED_MAX + 1) * LEDGER_GROUP_OPS, &over);
	cr_assert_eq(rc, ERR_AGAIN);
	cr_assert_eq(ledger_ticket_state(&over), LEDGER_UNSTAGED);
	cr_assert_eq(atomic_load(&H.begun), 2, "a closed group went out past the depth");
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	for (int i = 0; i < COPIES_MAX; i++)
		sem_post(&H.ack[i]);
	cr_assert_eq(ticket_resolved(&t1), LEDGER_DURABLE);
	cr_assert_eq(ticket_resolved(&t2), LEDGER_DURABLE);
	for (unsigned k = 0; k <= GROUP_CLOSED_MAX; k++)
		cr_assert_eq(ticket_resolved(&full[k]), LEDGER_DURABLE, "group %u", k);
	cr_assert_eq(atomic_load(&H.begun), 2 + GROUP_CLOSED_MAX + 1, "one copy per group");
	uint64_t want = 2 + (GROUP_CLOSED_MAX + 1) * LEDGER_GROUP_OPS;
	cr_assert_eq(count_of(ITEM), want);
	reopen();
	cr_assert_eq(count_of(ITEM), want);
}

Test(ledger_pipeline, groups_closed_on_a_failed_one_fail_with_it)
{
	H.hold = true;
	H.result[0] = ERR_TIMEOUT;
	ledger_ticket t1, t2, full[2];
	send_group(like_op("u1", ITEM, true), &t1, 1);
	send_group(like_op("u2", ITEM, true), &t2, 2);
	cr_assert_eq(stage_full_group(0, &full[0]), 0);
	cr_assert_eq(stage_full_group(LEDGER_GROUP_OPS, &full[1]), 0); /* closes full[0]'s */
	sem_post(&H.ack[1]);
	sem_post(&H.ack[0]);
	cr_assert_eq(ticket_resolved(&t1), ERR_TIMEOUT);
	cr_assert_eq(ticket_resolved(&t2), ERR_TIMEOUT);
	cr_assert_eq(ticket_resolved(&full[0]), ERR_TIMEOUT, "closed on a failed group");
	cr_assert_eq(ticket_resolved(&full[1]), ERR_TIMEOUT, "open on a failed group");
	cr_assert_eq(count_of(ITEM), 0);
	cr_assert_eq(member_of("q0", ITEM), -1);
	/* What stages now rests on the store alone, and is written. */
	ledger_ticket t3;
	cr_assert(send_group(like_op("q0", ITEM, true), &t3, 3).changed);
	sem_post(&H.ack[2]);
	cr_assert_eq(ticket_resolved(&t3), LEDGER_DURABLE);
	cr_assert_eq(count_of(ITEM), 1);
}

/* Renders the answer to a write as the number of the call that made it,
 * so that a retry's answer shows whose it is. */
static unsigned renders;

static char *render_call(void *ctx, const ledger_answer *answers, size_t n, size_t *len)
{
	(void)ctx;
	(void)answers;
	(void)n;
	char *s = xmalloc(16);
	*len = (size_t)snprintf(s, 16, "call-%u", ++renders);
	return s;
}

/* Stages a like of ITEM by u1 with Idempotency-Key k1 and fingerprint
 * fp, with t: its code, *r what it replayed. */
static int stage_keyed(uint64_t fp, ledger_ticket *t, ledger_replay *r)
{
	ledger_op op = like_op("u1", ITEM, true);
	ledger_idem idem = {.req = {"u1", "k1", fp, WALL + 60000}, .render = render_call};
	ledger_answer a;
	t->wake = NULL;
	t->wake_ctx = NULL;
	return ledger_stage_ops(T.l, &op, 1, WALL, &a, &idem, r, t);
}

/* A retry of u1's keyed like (fingerprint 42), with t: answered with
 * the first try's answer. */
static void retry_replayed(ledger_ticket *t)
{
	ledger_replay r;
	cr_assert_eq(stage_keyed(42, t, &r), 0, "a retry waited for its first try");
	cr_assert(r.replayed);
	cr_assert_eq(r.len, 6);
	cr_assert_eq(memcmp(r.body, "call-1", 6), 0, "the retry answers as the first try");
	free(r.body);
}

/* The first try of u1's keyed like goes out and is held (copy 0); a
 * retry is made meanwhile: it follows the first try, answered with its
 * answer at once and resolved with its group. */
static void retry_while_out(ledger_ticket *t1, ledger_ticket *t2)
{
	H.hold = true;
	renders = 0;
	ledger_replay r1;
	cr_assert_eq(stage_keyed(42, t1, &r1), 0);
	cr_assert_not(r1.replayed);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	wait_until(begun_at_least, 1, "the first try's copy is sent");
	retry_replayed(t2);
	cr_assert_eq(ledger_ticket_state(t2), LEDGER_STAGED, "answered before its first try");
	/* The same key for another request: refused at once. */
	ledger_ticket t3;
	ledger_replay r3;
	cr_assert_eq(stage_keyed(43, &t3, &r3), ERR_CONFLICT);
	cr_assert_eq(ledger_ticket_state(&t3), LEDGER_UNSTAGED);
	cr_assert_eq(renders, 1, "a retry rendered an answer of its own");
}

Test(ledger_pipeline, a_retry_of_a_write_out_follows_it_without_waiting)
{
	ledger_ticket t1, t2;
	retry_while_out(&t1, &t2);
	sem_post(&H.ack[0]);
	cr_assert_eq(ticket_resolved(&t1), LEDGER_DURABLE);
	cr_assert_eq(ticket_resolved(&t2), LEDGER_DURABLE);
	cr_assert_eq(atomic_load(&H.begun), 1, "the retry went out in a copy of its own");
	cr_assert_eq(count_of(ITEM), 1);
	cr_assert_eq(stats_now().ops_replayed, 1);
	/* Once written, a retry is answered from the store. */
	ledger_ticket t4;
	retry_replayed(&t4);
	cr_assert_eq(ledger_ticket_state(&t4), LEDGER_UNSTAGED);
}

Test(ledger_pipeline, a_retry_following_a_write_that_fails_fails_with_it)
{
	H.result[0] = ERR_KAFKA;
	ledger_ticket t1, t2;
	retry_while_out(&t1, &t2);
	sem_post(&H.ack[0]);
	cr_assert_eq(ticket_resolved(&t1), ERR_KAFKA);
	cr_assert_eq(ticket_resolved(&t2), ERR_KAFKA, "told durable of a write not recorded");
	cr_assert_eq(count_of(ITEM), 0);
	/* Nothing of it is in the store: the key is new again. */
	ledger_ticket t4;
	ledger_replay r4;
	cr_assert_eq(stage_keyed(42, &t4, &r4), 0);
	cr_assert_not(r4.replayed);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	wait_until(begun_at_least, 2, "the new try's copy is sent");
	sem_post(&H.ack[1]);
	cr_assert_eq(ticket_resolved(&t4), LEDGER_DURABLE);
	cr_assert_eq(count_of(ITEM), 1);
}

static void *stop_commits(void *arg)
{
	(void)arg;
	ledger_stop_commits(T.l);
	return NULL;
}

static bool stopping(unsigned unused)
{
	(void)unused;
	ledger_lock(T.l);
	bool s = T.l->committer.stopping;
	ledger_unlock(T.l);
	return s;
}

/* n threads are in ledger_group_commit, their groups marked. */
static bool committing(unsigned n)
{
	ledger_lock(T.l);
	bool s = T.l->committer.callers == n;
	ledger_unlock(T.l);
	return s;
}

Test(ledger_pipeline, a_closed_group_left_by_stopped_commit_threads_is_written_by_a_retry)
{
	H.hold = true;
	ledger_ticket t1, t2, keyed, full;
	ledger_replay r;
	send_group(like_op("u1", ITEM, true), &t1, 1);
	send_group(like_op("u2", ITEM, true), &t2, 2);
	renders = 0;
	cr_assert_eq(stage_keyed(42, &keyed, &r), 0);
	cr_assert_eq(stage_full_group(0, &full), 0); /* closes the keyed write's group */
	/* The commit threads stop once their groups are out: the closed
	 * one and the open one stay staged. */
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, stop_commits, NULL), 0);
	wait_until(stopping, 0, "the commit threads are told to stop");
	H.hold = false;
	sem_post(&H.ack[0]);
	sem_post(&H.ack[1]);
	pthread_join(th, NULL);
	cr_assert_not(ledger_commits_async(T.l));
	cr_assert_eq(ledger_ticket_state(&keyed), LEDGER_STAGED);
	/* With no commit thread a retry takes the blocking path and waits
	 * for its first try: the closed group is written on its own
	 * thread, and the open one after it (no commit thread is left to). */
	ledger_ticket t3;
	retry_replayed(&t3);
	cr_assert_eq(ledger_ticket_state(&keyed), LEDGER_DURABLE);
	cr_assert_eq(ledger_ticket_state(&full), LEDGER_DURABLE, "the group after it");
	cr_assert_eq(count_of(ITEM), 2 + LEDGER_GROUP_OPS, "u1's keyed like repeats its first");
}

Test(ledger_pipeline, a_commit_now_writes_the_groups_there_were_not_those_closed_after)
{
	H.hold = true;
	atomic_store(&inline_rc, -1);
	ledger_ticket t1, t2, t3, full[3];
	send_group(like_op("u1", ITEM, true), &t1, 1);
	send_group(like_op("u2", ITEM, true), &t2, 2);
	cr_assert_eq(stage_full_group(0, &full[0]), 0);
	stage1(like_op("u3", ITEM, true), &t3); /* closes full[0]'s group */
	/* In flight: copies 0 and 1; closed: full[0]; open: u3's like. */
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, commit_inline, NULL), 0);
	wait_until(committing, 1, "the inline commit marked its groups");
	/* Staged after the call: two more groups closed behind it. */
	cr_assert_eq(stage_full_group(LEDGER_GROUP_OPS, &full[1]), 0);
	cr_assert_eq(stage_full_group(2 * LEDGER_GROUP_OPS, &full[2]), 0);
	for (int i = 0; i < 4; i++)
		sem_post(&H.ack[i]); /* the four groups there were */
	pthread_join(th, NULL);      /* a hang here: it went on with the later groups */
	cr_assert_eq(atomic_load(&inline_rc), 0);
	cr_assert_eq(ledger_ticket_state(&t3), LEDGER_DURABLE);
	cr_assert_eq(ledger_ticket_state(&full[0]), LEDGER_DURABLE);
	cr_assert_eq(ledger_ticket_state(&full[2]), LEDGER_STAGED);
	H.hold = false;
	for (int i = 4; i < 8; i++)
		sem_post(&H.ack[i]);
	cr_assert_eq(ticket_resolved(&full[1]), LEDGER_DURABLE);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	cr_assert_eq(ticket_resolved(&full[2]), LEDGER_DURABLE);
	cr_assert_eq(count_of(ITEM), 3 + 3 * LEDGER_GROUP_OPS);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	return ledger_util_rnd(&rnd_state);
}

/* A random run, copies acknowledged up to 0.4 ms late (groups overlap)
 * and, with fail_one_in, one in that many failing. Each op answered
 * durable, replayed in order into a twin written op by op with no copy,
 * answers as it did, and the two end in the same state, after a reopen
 * too: no op that failed counts, and none answered durable rested on
 * one that failed. */
static void random_run(unsigned fail_one_in)
{
	enum { OPS = 3000, USERS = 12, ITEMS = 5 };
	H.jitter_us = 400;
	H.fail_one_in = fail_one_in;
	H.overlap_first = true;
	ledger_opts keep = T.o;
	T.o.log = NULL;
	store *db2;
	ledger *l2 = ledger_util_twin(&db2);
	T.o = keep;
	struct {
		char user[16], item[16];
		bool add;
		ledger_answer a;
	} *op = xcalloc(OPS, sizeof *op);
	ledger_ticket *t = xcalloc(OPS, sizeof *t);
	for (size_t i = 0; i < OPS; i++) {
		snprintf(op[i].user, sizeof op[i].user, "u%u", (unsigned)(rnd() % USERS));
		snprintf(op[i].item, sizeof op[i].item, "post:%u", (unsigned)(rnd() % ITEMS));
		op[i].add = rnd() % 3 != 0;
		op[i].a = stage1(like_op(op[i].user, op[i].item, op[i].add), &t[i]);
		if (rnd() % 4 == 0)
			cr_assert_eq(ledger_commit(T.l, WALL), 0);
		if (rnd() % 16 == 0)
			sleep_us(200);
	}
	(void)ledger_commit_now(T.l, WALL); /* the last group's outcome is its tickets' */
	size_t failed = 0;
	for (size_t i = 0; i < OPS; i++) {
		int st = ticket_resolved(&t[i]);
		if (st != LEDGER_DURABLE) {
			cr_assert(st == ERR_TIMEOUT || st == ERR_KAFKA, "op %zu: %d", i, st);
			failed++;
			continue;
		}
		ledger_answer a2;
		cr_assert_eq(
		    ledger_write(l2, "likes", op[i].item, op[i].user, op[i].add, WALL, &a2), 0);
		ledger_util_same_answer(&op[i].a, &a2, i);
	}
	if (fail_one_in)
		cr_assert_gt(failed, 0, "no copy failed: the run tested nothing more");
	else
		cr_assert_eq(failed, 0);
	cr_assert_eq(atomic_load(&H.in_flight_max), 2, "the run never had two copies out");
	free(t);
	free(op);
	uint64_t pending = ledger_util_twin_matched(l2, db2, ITEMS);
	H.jitter_us = 0;
	H.fail_one_in = 0;
	ledger_util_reopen_keeps(pending);
}

Test(ledger_pipeline, a_random_run_with_late_acknowledgements_answers_as_one_op_at_a_time)
{
	random_run(0);
}

Test(ledger_pipeline, a_random_run_with_failed_copies_counts_only_the_ops_answered_durable)
{
	random_run(40);
}
