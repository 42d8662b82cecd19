/* test_ledger_group.c - group commit: writes staged with a ticket are
 * invisible to readers and absent from the store until ledger_commit
 * writes them all in one store write; later writes of the same group see
 * the memberships and counts staged before them; a failed group write
 * records nothing and fails every ticket; and a random run staged in
 * groups answers exactly as the same run written one op at a time (and
 * with the membership filter as without it); the filter spares the store
 * read of a pair never recorded and is rebuilt from the store on open;
 * and a write whose reads before the writer mutex are overtaken by a
 * group's commit reads again under it.
 *
 * Same fixture as test_ledger.c (ledger_util.h).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/ledger_util.h"
#include "tests/support/ledger_sink.h"
#include "tests/unit/edge/ledger_fixture.h"

static void setup(void)
{
	ledger_util_setup("test_ledger_group");
	T.o.member_filter_bytes = 1 << 16; /* the edge's default is on too */
	open_ledger();
}

TestSuite(ledger_group, .init = setup, .fini = ledger_util_teardown, .timeout = 60);

/* Stages one op with ticket t; returns its answer. */
static ledger_answer stage1(ledger_op op, ledger_ticket *t)
{
	ledger_answer a;
	int rc = ledger_stage_ops(T.l, &op, 1, WALL, &a, NULL, NULL, t);
	cr_assert_eq(rc, 0, "stage: %s", err_str(rc));
	cr_assert_eq(t->state, LEDGER_STAGED);
	return a;
}

Test(ledger_group, staged_ops_are_invisible_until_the_commit)
{
	ledger_ticket t;
	ledger_answer a = stage1(like_op("u1", ITEM, true), &t);
	cr_assert(a.changed);
	cr_assert_eq(a.view.count, 1, "the writer's answer includes its own op");
	cr_assert_eq(count_of(ITEM), 0, "a reader sees nothing staged");
	cr_assert_eq(member_of("u1", ITEM), -1, "nor does the store hold it");
	cr_assert_eq(stats_now().pending_ops, 0);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	cr_assert_eq(t.state, LEDGER_DURABLE);
	cr_assert_eq(count_of(ITEM), 1);
	cr_assert_eq(member_of("u1", ITEM), 1);
	cr_assert_eq(stats_now().pending_ops, 1);
	cr_assert_eq(stats_now().commits, 1);
	/* Nothing staged: a commit writes nothing. */
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	cr_assert_eq(stats_now().commits, 1);
}

Test(ledger_group, one_store_write_for_many_writers_and_their_counts_add_up)
{
	enum { N = 50 };
	ledger_ticket t[N];
	char user[16];
	for (int i = 0; i < N; i++) {
		snprintf(user, sizeof user, "u%d", i);
		ledger_answer a = stage1(like_op(user, ITEM, true), &t[i]);
		cr_assert_eq(a.view.count, (uint64_t)i + 1, "writer %d sees the %d before it", i,
		             i);
	}
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	for (int i = 0; i < N; i++)
		cr_assert_eq(t[i].state, LEDGER_DURABLE);
	cr_assert_eq(count_of(ITEM), N);
	ledger_stats s = stats_now();
	cr_assert_eq(s.commits, 1);
	cr_assert_eq(s.ops_accepted, N);
}

Test(ledger_group, a_repeat_in_the_same_group_sees_the_staged_membership)
{
	ledger_ticket t1, t2, t3;
	cr_assert(stage1(like_op("u1", ITEM, true), &t1).changed);
	ledger_answer a = stage1(like_op("u1", ITEM, true), &t2);
	cr_assert_not(a.changed, "a double tap in one turn is a repeat");
	cr_assert_eq(a.view.count, 1);
	a = stage1(like_op("u1", ITEM, false), &t3);
	cr_assert(a.changed);
	cr_assert_eq(a.view.count, 0);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	cr_assert_eq(count_of(ITEM), 0);
	cr_assert_eq(member_of("u1", ITEM), 0);
	cr_assert_eq(stats_now().ops_duplicate, 1);
	cr_assert_eq(stats_now().pending_ops, 3, "every op is sent, repeats included");
}

Test(ledger_group, a_failed_group_write_records_nothing_and_fails_every_ticket)
{
	ledger_ticket t1, t2;
	stage1(like_op("u1", ITEM, true), &t1);
	stage1(like_op("u2", ITEM, true), &t2);
	store_fail_writes(T.db, 1);
	cr_assert_eq(ledger_commit(T.l, WALL), ERR_IO);
	cr_assert_eq(t1.state, ERR_IO);
	cr_assert_eq(t2.state, ERR_IO);
	cr_assert_eq(count_of(ITEM), 0);
	cr_assert_eq(member_of("u1", ITEM), -1);
	ledger_stats s = stats_now();
	cr_assert_eq(s.pending_ops, 0);
	cr_assert_eq(s.commits_failed, 1);
	/* The group is gone: the same like again is new, and the next commit
	 * writes only it. */
	ledger_ticket t3;
	ledger_answer a = stage1(like_op("u1", ITEM, true), &t3);
	cr_assert(a.changed);
	cr_assert_eq(a.view.count, 1);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	cr_assert_eq(count_of(ITEM), 1);
	cr_assert_eq(stats_now().pending_ops, 1);
}

Test(ledger_group, a_write_without_ticket_commits_the_staged_ops_with_its_own)
{
	ledger_ticket t;
	stage1(like_op("u1", ITEM, true), &t);
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u2", true, WALL, &a), 0);
	cr_assert_eq(a.view.count, 2);
	cr_assert_eq(t.state, LEDGER_DURABLE, "resolved by the other writer's commit");
	cr_assert_eq(count_of(ITEM), 2);
	cr_assert_eq(stats_now().commits, 1);
}

Test(ledger_group, sealing_everything_writes_the_staged_ops_first)
{
	ledger_ticket t;
	stage1(like_op("u1", ITEM, true), &t);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(t.state, LEDGER_DURABLE);
	cr_assert_eq(T.nsent, 1, "the staged op went out in a sealed batch");
}

static char *render_ok(void *ctx, const ledger_answer *answers, size_t n, size_t *len)
{
	(void)ctx;
	(void)answers;
	(void)n;
	*len = 4;
	return xstrdup("{ok}");
}

Test(ledger_group, a_retry_with_the_same_key_in_the_same_group_is_replayed)
{
	ledger_op op = like_op("u1", ITEM, true);
	ledger_idem idem = {.req = {"u1", "k1", 42, WALL + 60000}, .render = render_ok};
	ledger_answer a;
	ledger_replay r;
	ledger_ticket t1, t2;
	cr_assert_eq(ledger_stage_ops(T.l, &op, 1, WALL, &a, &idem, &r, &t1), 0);
	cr_assert_not(r.replayed);
	cr_assert_eq(t1.state, LEDGER_STAGED);
	cr_assert_eq(ledger_stage_ops(T.l, &op, 1, WALL, &a, &idem, &r, &t2), 0);
	cr_assert(r.replayed, "the first request's record was written before the lookup");
	cr_assert_eq(r.len, 4);
	cr_assert_eq(memcmp(r.body, "{ok}", 4), 0);
	free(r.body);
	cr_assert_eq(t1.state, LEDGER_DURABLE);
	cr_assert_eq(t2.state, LEDGER_UNSTAGED, "a replay stages nothing");
	cr_assert_eq(count_of(ITEM), 1);
}

Test(ledger_group, a_refused_write_leaves_the_group_as_it_was)
{
	ledger_ticket t1, t2;
	stage1(like_op("u1", ITEM, true), &t1);
	/* The second op is out of range: neither op of the call is staged. */
	ledger_op ops[2] = {like_op("u2", ITEM, true), like_op("", ITEM, true)};
	ledger_answer a[2];
	cr_assert_eq(ledger_stage_ops(T.l, ops, 2, WALL, a, NULL, NULL, &t2), ERR_INVAL);
	cr_assert_eq(t2.state, LEDGER_UNSTAGED);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	cr_assert_eq(count_of(ITEM), 1);
	cr_assert_eq(member_of("u2", ITEM), -1);
}

/* --- a random run, staged in groups and written one op at a time --------- */

static uint64_t rnd_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	return ledger_util_rnd(&rnd_state);
}

Test(ledger_group, a_random_run_in_groups_answers_as_one_op_at_a_time)
{
	enum { OPS = 3000, USERS = 12, ITEMS = 5 };
	/* A second ledger on its own store writes every op at once. */
	store *db2;
	ledger *l2 = ledger_util_twin(&db2);
	ledger_ticket *t = xcalloc(OPS, sizeof *t);
	size_t from = 0; /* first op of the open group */
	for (size_t i = 0; i < OPS; i++) {
		char user[LEDGER_RUN_NAME], item[LEDGER_RUN_NAME];
		ledger_op op = random_like(&rnd_state, user, item, USERS, ITEMS);
		ledger_answer a1, a2;
		cr_assert_eq(ledger_stage_ops(T.l, &op, 1, WALL + i, &a1, NULL, NULL, &t[i]), 0);
		cr_assert_eq(ledger_write(l2, "likes", item, user, op.add, WALL + i, &a2), 0);
		ledger_util_same_answer(&a1, &a2, i);
		if (rnd() % 8 == 0) {
			cr_assert_eq(ledger_commit(T.l, WALL + i), 0);
			for (size_t j = from; j <= i; j++)
				cr_assert_eq(t[j].state, LEDGER_DURABLE, "op %zu", j);
			from = i + 1;
		}
	}
	cr_assert_eq(ledger_commit(T.l, WALL + OPS), 0);
	ledger_stats s1, s2;
	ledger_util_same_state(l2, ITEMS, &s1, &s2);
	cr_assert_eq(s1.batches_sealed, s2.batches_sealed);
	cr_assert_lt(s1.commits, s2.commits / 4, "groups: %" PRIu64 " writes for %" PRIu64,
	             s1.commits, s2.commits);
	free(t);
	ledger_free(l2);
	store_close(db2);
}

Test(ledger_group, the_filter_skips_the_read_of_a_new_pair_and_survives_a_restart)
{
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u1", true, WALL, &a), 0);
	cr_assert(a.changed);
	ledger_stats s = stats_now();
	cr_assert_eq(s.member_reads_skipped, 1, "a first like reads nothing");
	cr_assert_eq(s.member_reads, 0);
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u1", true, WALL, &a), 0);
	cr_assert_not(a.changed, "the filter knows the pair: the repeat is read and found");
	cr_assert_eq(stats_now().member_reads, 1);
	/* A new process rebuilds the filter from the store's records. */
	reopen();
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u1", true, WALL, &a), 0);
	cr_assert_not(a.changed, "no false negative after a restart");
	cr_assert_eq(stats_now().member_reads, 1);
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u2", true, WALL, &a), 0);
	cr_assert(a.changed);
}

Test(ledger_group, a_repeat_whose_first_like_commits_after_its_reads_is_a_repeat)
{
	bool once = true;
	reopen_with_commit_between(&once);
	ledger_ticket t;
	stage1(like_op("u1", ITEM, true), &t);
	/* The repeat reads the store and the view while the first like is
	 * still staged (not a member, count 0); then the group commits,
	 * before the repeat takes the mutex, so neither group holds it. */
	once = false;
	ledger_answer a;
	ledger_op op = like_op("u1", ITEM, true);
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	cr_assert(once, "the hook ran");
	cr_assert_eq(t.state, LEDGER_DURABLE);
	cr_assert_not(a.changed, "the like is a repeat");
	cr_assert_eq(a.view.count, 1);
	cr_assert_eq(count_of(ITEM), 1);
	ledger_stats s = stats_now();
	cr_assert_eq(s.ops_accepted, 1);
	cr_assert_eq(s.ops_duplicate, 1);
	cr_assert_eq(s.stage_reread, 1);
	cr_assert_eq(s.stage_fresh, 1, "the first like's reads stood");
}

Test(ledger_group, a_like_whose_reads_a_commit_overtakes_counts_the_committed_likes_once)
{
	bool once = true;
	reopen_with_commit_between(&once);
	ledger_ticket t1, t2;
	stage1(like_op("u1", ITEM, true), &t1);
	stage1(like_op("u2", ITEM, true), &t2);
	once = false;
	ledger_answer a;
	ledger_op op = like_op("u3", ITEM, true);
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	cr_assert(a.changed);
	cr_assert_eq(a.view.count, 3, "both committed likes, once each, and this one");
	cr_assert_eq(count_of(ITEM), 3);
	cr_assert_eq(stats_now().stage_reread, 1);
}

Test(ledger_group, a_retry_whose_first_try_commits_after_its_reads_is_replayed)
{
	bool once = true;
	reopen_with_commit_between(&once);
	ledger_op op = {
	    .counter = "views", .item = ITEM, .user = "u1", .sum = true, .n = 1, .prior = -1};
	ledger_idem idem = {.req = {"u1", "key-1", 42, WALL + 60000}, .render = render_ok};
	ledger_ticket t;
	ledger_answer a;
	ledger_replay r;
	/* The retry reads the store before the writer mutex: no record yet,
	 * the first try is only staged. Then its group commits, before the
	 * retry takes the mutex, so neither group holds the key any more:
	 * the record must be read again, and the retry replayed. */
	retry_overtaken(&once, &op, &idem, &t, &a, &r);
	cr_assert_eq(t.state, LEDGER_DURABLE);
	cr_assert(r.replayed, "the retry is answered from the first try's record");
	cr_assert_str_eq(r.body, "{ok}");
	free(r.body);
	ledger_view v;
	cr_assert_eq(ledger_read(T.l, "views", ITEM, &v), 0);
	cr_assert_eq(v.count, 1, "one view, not two");
	cr_assert_eq(stats_now().ops_replayed, 1);
}
