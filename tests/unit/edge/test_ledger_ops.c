/* test_ledger_ops.c - the ledger's API-facing parts: sum counters,
 * several ops in one atomic write, idempotency records (replay,
 * conflict, restart, expiry), read-through counts and how they meet the
 * overlay and later snapshots, and client clocks.
 *
 * Same fixture as test_ledger.c (ledger_util.h); wall times are chosen
 * by the tests.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge/ledger/ledger_int.h"
#include "hlc.h"
#include "tests/support/ledger_util.h"
#include "tests/support/waits.h"
#include "wire.h"

static void setup(void)
{
	ledger_util_setup("test_ledger_ops");
	T.o.rt_entries = 64;
	T.o.rt_ttl_ms = 60000;
	T.o.max_ahead_ms = 60000;
	open_ledger();
}

TestSuite(ledger_ops, .init = setup, .fini = ledger_util_teardown, .timeout = 60);

static ledger_view view(const char *counter, const char *item)
{
	ledger_view v;
	cr_assert_eq(ledger_read(T.l, counter, item, &v), 0);
	return v;
}

static ledger_op sum_op(const char *user, uint32_t n)
{
	return (ledger_op){
	    .counter = "views", .item = ITEM, .user = user, .sum = true, .n = n, .prior = -1};
}

static ledger_op set_op(const char *user, bool add)
{
	return (ledger_op){.counter = "likes", .item = ITEM, .user = user, .add = add, .prior = -1};
}

/* A one-message snapshot of T.p from central with one count. */
static void snapshot(uint64_t applied, uint64_t offset, const char *counter, uint64_t cnt)
{
	wire_edge_seq e = {wire_cstr(EDGE, strlen(EDGE)), applied, 0};
	const char *cn = counter ? counter : "likes";
	wire_count c = {wire_cstr(cn, strlen(cn)), wire_cstr(ITEM, strlen(ITEM)), cnt};
	wire_snapshot s = wire_util_snap(T.p, offset, WALL, &e, 1, &c, counter ? 1 : 0);
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 0), 0);
}

static char *render_fixed(void *ctx, const ledger_answer *answers, size_t n, size_t *len)
{
	(void)answers;
	(void)n;
	char *s = xstrdup(ctx);
	*len = strlen(s);
	return s;
}

/* ---- sum counters ---------------------------------------------------------- */

Test(ledger_ops, sum_ops_add_n_and_are_never_repeats)
{
	ledger_op ops[2] = {sum_op("u1", 5), sum_op("u1", 7)};
	ledger_answer a[2];
	cr_assert_eq(ledger_write_ops(T.l, ops, 2, WALL, a, NULL, NULL), 0);
	cr_assert(a[0].changed && a[1].changed);
	cr_assert_not(a[0].member, "sum counters have no membership");
	cr_assert_eq(a[0].view.count, 5);
	cr_assert_eq(a[1].view.count, 12, "the second op sees the first");
	cr_assert_eq(view("views", ITEM).count, 12);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(T.nsent, 1);
	wire_batch b;
	cr_assert_eq(wire_decode_batch(T.sent[0].buf, T.sent[0].len, &b), 0);
	/* A batch carries one sum per item and day, not an op per view. */
	cr_assert_eq(b.nops, 0);
	cr_assert_eq(b.nsums, 1);
	cr_assert_eq(b.sums[0].n, 12);
	wire_batch_free(&b);
	/* Central applied it: 12 from the snapshot, nothing from the overlay. */
	snapshot(1, 10, "views", 12);
	cr_assert_eq(view("views", ITEM).count, 12);
	ledger_stats st;
	ledger_get_stats(T.l, &st);
	cr_assert_eq(st.overlay_entries, 0, "the sum took both ops off the overlay");
}

Test(ledger_ops, a_seal_sums_views_per_item_and_day_and_keeps_set_ops_whole)
{
	const char *shares = "shares";
	ledger_op ops[5] = {
	    sum_op("u1", 3),
	    set_op("u1", true),
	    sum_op("u2", 4),
	    {.counter = shares, .item = ITEM, .user = "u3", .sum = true, .n = 2, .prior = -1},
	    sum_op("u4", 1),
	};
	ledger_answer a[5];
	cr_assert_eq(ledger_write_ops(T.l, ops, 3, WALL, a, NULL, NULL), 0);
	cr_assert_eq(ledger_write_ops(T.l, ops + 3, 1, WALL + 1, a, NULL, NULL), 0);
	/* The next UTC day: a sum of its own, so central's day buckets stay right. */
	uint64_t next_day = (WALL / 86400000 + 1) * 86400000 + 5;
	cr_assert_eq(ledger_write_ops(T.l, ops + 4, 1, next_day, a, NULL, NULL), 0);
	cr_assert_eq(view("views", ITEM).count, 8);
	cr_assert_eq(ledger_seal_due(T.l, next_day, true), 0);
	cr_assert_eq(T.nsent, 1);
	wire_batch b;
	cr_assert_eq(wire_decode_batch(T.sent[0].buf, T.sent[0].len, &b), 0);
	cr_assert_eq(b.nops, 1, "the like stays an op, with its user");
	cr_assert(b.ops[0].user.n == 2 && memcmp(b.ops[0].user.p, "u1", 2) == 0);
	cr_assert_eq(b.nsums, 3);
	cr_assert(b.sums[0].counter.n == 5 && memcmp(b.sums[0].counter.p, "views", 5) == 0);
	cr_assert_eq(b.sums[0].n, 7, "3 + 4 on the first day");
	cr_assert_eq(hlc_ms(b.sums[0].hlc), WALL, "the latest of the two");
	cr_assert(b.sums[1].counter.n == 6 && memcmp(b.sums[1].counter.p, "shares", 6) == 0);
	cr_assert_eq(b.sums[1].n, 2);
	cr_assert_eq(b.sums[2].n, 1);
	cr_assert_eq(hlc_ms(b.sums[2].hlc) / 86400000, WALL / 86400000 + 1);
	wire_batch_free(&b);
	/* After a restart the sealed batch rebuilds the same overlay. */
	reopen();
	cr_assert_eq(view("views", ITEM).count, 8);
	cr_assert_eq(view("shares", ITEM).count, 2);
	cr_assert_eq(view("likes", ITEM).count, 1);
	/* Applied: nothing of it stays in the overlay. */
	snapshot(1, 10, "views", 8);
	ledger_stats st;
	ledger_get_stats(T.l, &st);
	cr_assert_eq(st.overlay_entries, 0);
}

Test(ledger_ops, without_batch_sums_views_go_out_as_ops_in_version_1)
{
	ledger_free(T.l);
	T.o.seal_sums = false;
	open_ledger();
	ledger_op ops[2] = {sum_op("u1", 5), sum_op("u2", 7)};
	ledger_answer a[2];
	cr_assert_eq(ledger_write_ops(T.l, ops, 2, WALL, a, NULL, NULL), 0);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(((const unsigned char *)T.sent[0].buf)[3], WIRE_VERSION);
	wire_batch b;
	cr_assert_eq(wire_decode_batch(T.sent[0].buf, T.sent[0].len, &b), 0);
	cr_assert_eq(b.nops, 2);
	cr_assert_eq(b.nsums, 0);
	cr_assert_eq(b.ops[1].n, 7);
	wire_batch_free(&b);
	snapshot(1, 10, "views", 12);
	ledger_stats st;
	ledger_get_stats(T.l, &st);
	cr_assert_eq(st.overlay_entries, 0);
}

Test(ledger_ops, a_sum_applied_without_a_restart_leaves_no_overlay_entry)
{
	for (int i = 0; i < 5; i++) {
		ledger_op op = sum_op("u1", 1);
		ledger_answer a;
		cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	}
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	ledger_stats st;
	ledger_get_stats(T.l, &st);
	cr_assert_eq(st.overlay_entries, 1);
	snapshot(1, 10, "views", 5);
	cr_assert_eq(view("views", ITEM).count, 5);
	ledger_get_stats(T.l, &st);
	cr_assert_eq(st.overlay_entries, 0, "five ops, one sum, one removal");
}

Test(ledger_ops, out_of_range_ops_are_refused_whole)
{
	ledger_op ops[2] = {set_op("u1", true), sum_op("u1", 1001)};
	ledger_answer a[2];
	cr_assert_eq(ledger_write_ops(T.l, ops, 2, WALL, a, NULL, NULL), ERR_INVAL);
	ops[1] = sum_op("u1", 0);
	cr_assert_eq(ledger_write_ops(T.l, ops, 2, WALL, a, NULL, NULL), ERR_INVAL);
	cr_assert_eq(view("likes", ITEM).count, 0, "nothing of a refused call is recorded");
	ledger_stats s;
	ledger_get_stats(T.l, &s);
	cr_assert_eq(s.pending_ops, 0);
}

/* ---- several ops in one write ---------------------------------------------- */

Test(ledger_ops, like_then_unlike_in_one_call_nets_zero_with_ordered_clocks)
{
	ledger_op ops[3] = {set_op("u1", true), set_op("u1", false), set_op("u2", true)};
	ledger_answer a[3];
	cr_assert_eq(ledger_write_ops(T.l, ops, 3, WALL, a, NULL, NULL), 0);
	cr_assert(a[0].member && a[0].changed);
	cr_assert_eq(a[0].view.count, 1);
	cr_assert(!a[1].member && a[1].changed, "the unlike sees the like before it");
	cr_assert_eq(a[1].view.count, 0);
	cr_assert_eq(a[2].view.count, 1);
	cr_assert_gt(a[1].hlc, a[0].hlc);
	int state;
	cr_assert_eq(ledger_member(T.l, "likes", ITEM, "u1", &state), 0);
	cr_assert_eq(state, 0);
	cr_assert_eq(view("likes", ITEM).count, 1);
	/* Survives a restart: the ops were recorded, in order. */
	reopen();
	cr_assert_eq(view("likes", ITEM).count, 1);
}

Test(ledger_ops, prior_from_central_makes_an_unlike_of_a_never_liked_pair_a_repeat)
{
	ledger_op op = set_op("u9", false);
	op.prior = 0;
	ledger_answer a;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	cr_assert_not(a.changed, "central said the user was never in");
	snapshot(0, 5, "likes", 3);
	cr_assert_eq(view("likes", ITEM).count, 3, "the count does not drop");
	/* Known to be in (central): the unlike counts. */
	op.user = "u8";
	op.prior = 1;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	cr_assert(a.changed);
	cr_assert_eq(view("likes", ITEM).count, 2);
}

Test(ledger_ops, client_clock_moves_ours_within_the_bound_and_past_it_refuses)
{
	ledger_op op = set_op("u1", true);
	uint64_t ahead = hlc_make(WALL + 30000, 5);
	op.client_hlc = ahead;
	ledger_answer a;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	cr_assert_gt(a.hlc, ahead, "a later tap wins over the client's last clock");
	/* An hour ahead: it can be neither followed (the clock would jump an
	 * hour) nor ignored (the write would sort before the op it
	 * follows). Refused, nothing staged, the clock unmoved. */
	op = set_op("u2", true);
	op.client_hlc = hlc_make(WALL + 3600000, 0);
	uint64_t count = view("likes", ITEM).count;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), ERR_CLOCK);
	cr_assert_eq(view("likes", ITEM).count, count, "nothing recorded");
	/* The bound runs from the edge's hybrid clock, which the first
	 * write moved to WALL + 30 s: 80 s ahead of the wall clock is within
	 * it, and the clock goes no further than the client's. */
	op.client_hlc = hlc_make(WALL + 80000, 0);
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	cr_assert_lt(hlc_ms(a.hlc), WALL + 80001, "moved to the client's clock, not past it");
	cr_assert_eq(view("likes", ITEM).count, count + 1);
	/* One op past the bound refuses a call of several whole. */
	ledger_op two[2] = {set_op("u3", true), set_op("u4", true)};
	two[1].client_hlc = hlc_make(WALL + 3600000, 0);
	ledger_answer as[2];
	cr_assert_eq(ledger_write_ops(T.l, two, 2, WALL, as, NULL, NULL), ERR_CLOCK);
	cr_assert_eq(view("likes", ITEM).count, count + 1, "neither op recorded");
}

/* ---- idempotency ----------------------------------------------------------- */

Test(ledger_ops, same_key_replays_the_first_answer_and_records_nothing)
{
	ledger_op op = sum_op("u1", 3);
	ledger_idem idem = {
	    .req = {"u1", "key-1", 42, WALL + 1000}, .render = render_fixed, .ctx = "first answer"};
	ledger_replay r;
	ledger_answer a;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, &idem, &r), 0);
	cr_assert_not(r.replayed);
	idem.ctx = "second answer";
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL + 10, &a, &idem, &r), 0);
	cr_assert(r.replayed);
	cr_assert_eq(r.status, 200);
	cr_assert_eq(r.len, strlen("first answer"));
	cr_assert_str_eq(r.body, "first answer");
	free(r.body);
	cr_assert_eq(view("views", ITEM).count, 3, "the retry added nothing");

	/* After a restart too. */
	reopen();
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL + 20, &a, &idem, &r), 0);
	cr_assert(r.replayed);
	free(r.body);
	cr_assert_eq(view("views", ITEM).count, 3);

	/* The same key for another request is a conflict; another user's
	 * key of the same name is theirs. */
	idem.req.fingerprint = 43;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL + 30, &a, &idem, &r), ERR_CONFLICT);
	idem.req.user = "u2";
	op.user = "u2";
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL + 30, &a, &idem, &r), 0);
	cr_assert_not(r.replayed);
	cr_assert_eq(view("views", ITEM).count, 6);
}

Test(ledger_ops, expired_keys_are_swept_and_may_be_used_again)
{
	ledger_op op = sum_op("u1", 1);
	ledger_idem idem = {.req = {"u1", "k", 1, WALL + 1000}, .render = render_fixed, .ctx = "a"};
	ledger_replay r;
	ledger_answer a;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, &idem, &r), 0);
	cr_assert_eq(ledger_idem_sweep(T.l, WALL + 999, 100), 0, "nothing expired yet");
	/* Expired (not yet swept): a new request may use the key. */
	idem.req.expires_ms = WALL + 5000;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL + 1000, &a, &idem, &r), 0);
	cr_assert_not(r.replayed);
	cr_assert_eq(view("views", ITEM).count, 2);
	/* The first entry's sweep keeps the newer record. */
	cr_assert_eq(ledger_idem_sweep(T.l, WALL + 1000, 100), 1);
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL + 1001, &a, &idem, &r), 0);
	cr_assert(r.replayed);
	free(r.body);
	cr_assert_eq(ledger_idem_sweep(T.l, WALL + 5000, 100), 1);
	char *v;
	size_t vn;
	cr_assert_eq(store_get(T.db, "Iu1\0k", 5, &v, &vn), ERR_NOTFOUND, "record removed");
}

Test(ledger_ops, a_sweep_goes_on_where_the_last_stopped_and_from_the_start_after_a_step_back)
{
	ledger_op op = sum_op("u1", 1);
	ledger_replay r;
	ledger_answer a;
	const char *keys[] = {"k1", "k2", "k0"};
	uint64_t expiry[] = {WALL + 1000, WALL + 2000, WALL + 500};
	for (int i = 0; i < 2; i++) {
		ledger_idem idem = {
		    .req = {"u1", keys[i], 1, expiry[i]}, .render = render_fixed, .ctx = "a"};
		cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, &idem, &r), 0);
	}
	cr_assert_eq(ledger_idem_sweep(T.l, WALL + 1500, 100), 1, "k1");
	/* An entry that expires before the last one swept (written after
	 * the wall clock went back, with a short retention) is found once a
	 * sweep sees the clock behind the last one's. */
	ledger_idem idem = {
	    .req = {"u1", keys[2], 1, expiry[2]}, .render = render_fixed, .ctx = "a"};
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, &idem, &r), 0);
	cr_assert_eq(ledger_idem_sweep(T.l, WALL + 2500, 100), 1, "k2 only");
	cr_assert_eq(ledger_idem_sweep(T.l, WALL + 3000, 100), 0, "k0 lies before the place");
	cr_assert_eq(ledger_idem_sweep(T.l, WALL + 600, 100), 1, "k0, the clock gone back");
	char *v;
	size_t vn;
	cr_assert_eq(store_get(T.db, "Iu1\0k0", 6, &v, &vn), ERR_NOTFOUND, "record removed");
}

/* ---- read-through ---------------------------------------------------------- */

Test(ledger_ops, unknown_count_is_reported_unknown_until_read_through)
{
	ledger_view v = view("likes", ITEM);
	cr_assert_not(v.known);
	ledger_readthrough_put(T.l, "likes", ITEM, 40, 7, 0, WALL - 5);
	v = view("likes", ITEM);
	cr_assert(v.known);
	cr_assert_eq(v.count, 40);
	cr_assert_eq(v.version, 7);
	cr_assert_eq(v.as_of, WALL - 5);
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u1", true, WALL, &a), 0);
	cr_assert_eq(a.view.count, 41, "own op on top of the read-through count");
}

Test(ledger_ops, read_through_that_holds_own_applied_ops_does_not_count_them_twice)
{
	T.o.seal_ops = 1;
	reopen();
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u1", true, WALL, &a), 0);
	cr_assert_eq(T.nsent, 1, "sealed and sent as batch 1");
	/* Central applied batch 1 (count 10 with it) but no snapshot has
	 * reached this edge yet. */
	ledger_readthrough_put(T.l, "likes", ITEM, 10, 20, 1, WALL);
	cr_assert_eq(view("likes", ITEM).count, 10);
	/* A second like, not yet at central, adds. */
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u2", true, WALL, &a), 0);
	cr_assert_eq(a.view.count, 11);
}

Test(ledger_ops, own_applied_ops_are_taken_off_each_item_across_many_batches)
{
	/* More sealed batches than the ledger keeps decoded (32), each a
	 * like of its own item, all applied at central: every item's
	 * read-through count already holds its like, so the view is that
	 * count, however often and in whatever order it is read. */
	enum { N = 40 };
	T.o.seal_ops = 1;
	reopen();
	ledger_answer a;
	char item[16];
	for (int i = 0; i < N; i++) {
		snprintf(item, sizeof item, "post:b%d", i);
		cr_assert_eq(ledger_write(T.l, "likes", item, "u1", true, WALL, &a), 0);
	}
	cr_assert_eq(T.nsent, N);
	for (int i = 0; i < N; i++) {
		snprintf(item, sizeof item, "post:b%d", i);
		ledger_readthrough_put(T.l, "likes", item, 100 + (uint64_t)i, 20, N, WALL);
	}
	for (int round = 0; round < 3; round++)
		for (int i = N - 1; i >= 0; i--) {
			snprintf(item, sizeof item, "post:b%d", i);
			cr_assert_eq(view("likes", item).count, 100 + (uint64_t)i, "%s round %d",
			             item, round);
		}
}

Test(ledger_ops, read_through_is_kept_once_snapshots_reach_its_version)
{
	ledger_readthrough_put(T.l, "likes", ITEM, 5, 30, 0, WALL);
	/* An older snapshot (without this item) does not replace it. */
	snapshot(0, 20, NULL, 0);
	ledger_view v = view("likes", ITEM);
	cr_assert_eq(v.count, 5);
	cr_assert_eq(v.version, 30);
	/* Snapshots reached offset 30 without the item: it did not change,
	 * so the read-through count becomes a stored snapshot count. */
	snapshot(0, 31, NULL, 0);
	v = view("likes", ITEM);
	cr_assert(v.known);
	cr_assert_eq(v.count, 5);
	cr_assert_eq(v.version, 31);
	ledger_stats s;
	ledger_get_stats(T.l, &s);
	cr_assert_eq(s.readthrough_kept, 1);
	reopen();
	v = view("likes", ITEM);
	cr_assert(v.known, "kept on disk");
	cr_assert_eq(v.count, 5);
}

static void seal_tick(void *arg)
{
	*(int *)arg = ledger_seal_due(T.l, WALL, false);
}

/* The seal tick writes the kept counts (a store read per count, one
 * write) before it takes the writer mutex: with that mutex held by
 * another thread (a like, a group's finish) the count is still written,
 * and the tick then waits for the mutex for its seal. */
Test(ledger_ops, kept_read_through_is_written_without_the_writer_lock)
{
	ledger_readthrough_put(T.l, "likes", ITEM, 5, 30, 0, WALL);
	snapshot(0, 31, NULL, 0);
	cr_assert_eq(view("likes", ITEM).version, 31, "kept: the snapshots reached it");
	pair_key k;
	ledger_pair_make(&k, "likes", 5, ITEM, strlen(ITEM), NPARTS);
	uint64_t version;
	cr_assert_eq(ledger_count_version(&T.l->view, k.key, k.kn, &version), ERR_NOTFOUND,
	             "not written before the tick");
	pthread_mutex_lock(&T.l->mu);
	waits_call tick;
	int tick_rc = -1;
	waits_call_start(&tick, seal_tick, &tick_rc);
	int rc = ERR_NOTFOUND;
	for (int ms = 0; ms < 5000 && rc == ERR_NOTFOUND; ms++) {
		usleep(1000);
		rc = ledger_count_version(&T.l->view, k.key, k.kn, &version);
	}
	bool done_early = waits_call_within(&tick, 0);
	pthread_mutex_unlock(&T.l->mu);
	cr_assert(waits_call_within(&tick, 5000), "the tick ends once the mutex is free");
	waits_call_join(&tick);
	cr_assert_eq(tick_rc, 0);
	cr_assert_eq(rc, 0, "the count was written while the writer mutex was held");
	cr_assert_eq(version, 31);
	cr_assert_not(done_early, "the seal itself waits for the writer mutex");
}

Test(ledger_ops, newer_read_through_wins_over_an_older_snapshot_count)
{
	snapshot(0, 10, "likes", 3);
	ledger_readthrough_put(T.l, "likes", ITEM, 4, 15, 0, WALL);
	cr_assert_eq(view("likes", ITEM).count, 4);
	snapshot(0, 16, "likes", 6);
	cr_assert_eq(view("likes", ITEM).count, 6, "snapshots take over past its version");
}

Test(ledger_ops, read_through_expires)
{
	T.o.rt_ttl_ms = 0;
	reopen();
	ledger_readthrough_put(T.l, "likes", ITEM, 4, 15, 0, WALL);
	/* ttl 0: usable only within the same millisecond; wait past it. */
	for (int i = 0; i < 1000 && view("likes", ITEM).known; i++)
		usleep(1000);
	cr_assert_not(view("likes", ITEM).known);
}

Test(ledger_ops, a_write_of_an_unknown_count_is_recorded_and_says_it_is_unknown)
{
	ledger_op op = set_op("u1", true);
	ledger_answer a;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	cr_assert_not(a.view.known, "no count here: the answer does not invent one");
	cr_assert(a.changed);
	int state;
	cr_assert_eq(ledger_member(T.l, "likes", ITEM, "u1", &state), 0);
	cr_assert_eq(state, 1, "recorded without waiting for central");
	ledger_stats s;
	ledger_get_stats(T.l, &s);
	cr_assert_eq(s.pending_ops, 1);
	/* Once central's count is known the answer has it, with the like. */
	ledger_readthrough_put(T.l, "likes", ITEM, 7, 3, 0, WALL);
	op.user = "u2";
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	cr_assert(a.view.known);
	cr_assert_eq(a.view.count, 9);
}
