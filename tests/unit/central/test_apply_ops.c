/* test_apply_ops.c - what a batch's ops do in central's applier, over a
 * real LevelDB store: LWW across edges, sum counters and their
 * exactly-once delivery, invalid ops skipped among valid ones, and the
 * per-region and per-day aggregates of set and sum counters (every
 * breakdown sums to the count), and the home index (the 'U' entry of
 * each change an op with a home made). Order, gaps, restarts, snapshots and
 * versions are test_apply.c's.
 *
 * Each test gets its own temp dir (made in .init, removed in .fini) with
 * a store and an applier for 4 partitions with set counters likes, saves
 * and sum counters views, shares (apply_fixture.h).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/testdir.h"
#include "tests/unit/central/apply_fixture.h"
#include "central/apply/apply.h"
#include "central/apply/day.h"
#include "central/apply/keys.h"
#include "central/apply/merge.h"
#include "counter.h"
#include "err.h"
#include "hlc.h"
#include "store.h"
#include "wire.h"

TestSuite(apply_ops, .init = setup, .fini = teardown, .timeout = 60);

/* ---- merge across edges -------------------------------------------------- */

Test(apply_ops, like_then_later_unlike_elsewhere_ends_at_zero_in_both_orders)
{
	/* Order 1 on partition 0, order 2 on partition 1: the store's state
	 * is per (counter, item, user), so use two users. */
	wire_op like1 = like_op("u1", true, 100), unlike1 = like_op("u1", false, 200);
	apply_msg(0, 0, make_batch("a", 0, 1, &like1, 1));
	apply_msg(0, 1, make_batch("b", 0, 1, &unlike1, 1));
	cr_assert_eq(count(), 0, "like then unlike");

	wire_op like2 = like_op("u2", true, 100), unlike2 = like_op("u2", false, 200);
	apply_msg(1, 0, make_batch("b", 1, 1, &unlike2, 1));
	cr_assert_eq(count(), 0);
	apply_msg(1, 1, make_batch("a", 1, 1, &like2, 1));
	cr_assert_eq(count(), 0, "unlike then the older like");
}

Test(apply_ops, two_edges_liking_for_one_user_count_once)
{
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 100));
	apply_msg(0, 1, one_op("b", 0, 1, "u1", true, 101));
	apply_msg(0, 2, one_op("c", 0, 1, "u1", true, 99));
	cr_assert_eq(count(), 1);
}

Test(apply_ops, unknown_counter_op_is_refused_and_others_apply)
{
	wire_op ops[2] = {like_op("u1", true, 10), like_op("u2", true, 11)};
	ops[0].counter = wire_cstr("hugs", 4);
	apply_msg(0, 0, make_batch("a", 0, 1, ops, 2));
	cr_assert_eq(count(), 1);
	cr_assert_eq(stats().ops_invalid, 1);
}

/* ---- sum counters and invalid ops ---------------------------------------- */

#define DAY0 20000u /* 2024-10-04 */

/* An hlc in UTC day d, ms milliseconds into it. */
static uint64_t hlc_on(uint32_t d, uint64_t ms)
{
	return hlc_make((uint64_t)d * DAY_MS + ms, 0);
}

static wire_op sum_op(const char *counter, const char *user, uint32_t n, uint64_t ts)
{
	return (wire_op){wire_cstr(counter, strlen(counter)),
	                 wire_cstr(ITEM, strlen(ITEM)),
	                 wire_cstr(user, strlen(user)),
	                 WIRE_ADD,
	                 n,
	                 ts,
	                 {NULL, 0}};
}

static uint64_t count_of(const char *counter)
{
	uint64_t c = 12345;
	cr_assert_eq(applier_count(T.a, counter, ITEM, &c), 0);
	return c;
}

/* A region or day bucket of ITEM straight from the store; 0 when absent. */
static uint64_t stored(const unsigned char *key, size_t kn)
{
	uint64_t v = 0;
	int rc = store_read_u64(T.db, key, kn, &v);
	cr_assert(rc == 0 || rc == ERR_NOTFOUND, "store_read_u64: %s", err_str(rc));
	return rc == 0 ? v : 0;
}

static uint64_t by_region(const char *counter, const char *region)
{
	unsigned char k[CKEY_MAX];
	return stored(k, ckey_region(k, counter, strlen(counter), ITEM, strlen(ITEM), region,
	                             strlen(region)));
}

static uint64_t by_day(const char *counter, uint32_t d)
{
	unsigned char k[CKEY_MAX];
	return stored(k, ckey_day(k, counter, strlen(counter), ITEM, strlen(ITEM), d));
}

/* Sums every 'R' or 'Y' bucket of (counter, ITEM); also checks that no
 * bucket of 0 is kept. */
static uint64_t bucket_sum(char tag, const char *counter)
{
	unsigned char pre[CKEY_MAX];
	size_t pn = ckey_breakdown_prefix(pre, tag, counter, strlen(counter), ITEM, strlen(ITEM));
	store_iter *it = store_iter_new(T.db, pre, pn);
	const char *k, *v;
	size_t kn, vn;
	uint64_t sum = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		cr_assert_eq(vn, 8);
		uint64_t x = store_get_u64((const unsigned char *)v);
		cr_assert_gt(x, 0, "an empty %c bucket was kept", tag);
		sum += x;
	}
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	return sum;
}

static void assert_breakdowns_sum_to_count(const char *counter)
{
	uint64_t c = count_of(counter);
	cr_assert_eq(bucket_sum('R', counter), c, "%s: regions do not sum to the count", counter);
	cr_assert_eq(bucket_sum('Y', counter), c, "%s: days do not sum to the count", counter);
}

Test(apply_ops, sum_ops_add_n_to_the_count_and_its_buckets)
{
	wire_op ops[3] = {sum_op("views", "u1", 5, hlc_on(DAY0, 1)),
	                  sum_op("views", "u1", 3, hlc_on(DAY0 + 1, 1)),
	                  sum_op("shares", "u2", 1000, hlc_on(DAY0, 2))};
	apply_msg(0, 0, make_batch_in("m1", "mumbai", 0, 1, ops, 3));
	wire_op more = sum_op("views", "u9", 2, hlc_on(DAY0 + 1, 5));
	apply_msg(0, 1, make_batch_in("v1", "virginia", 0, 1, &more, 1));

	cr_assert_eq(count_of("views"), 10);
	cr_assert_eq(count_of("shares"), 1000);
	cr_assert_eq(count(), 0, "sums do not touch set counters");
	cr_assert_eq(by_region("views", "mumbai"), 8);
	cr_assert_eq(by_region("views", "virginia"), 2);
	cr_assert_eq(by_day("views", DAY0), 5);
	cr_assert_eq(by_day("views", DAY0 + 1), 5);
	assert_breakdowns_sum_to_count("views");
	assert_breakdowns_sum_to_count("shares");
	cr_assert_eq(stats().ops_applied, 4);
}

/* A version-2 batch: ops plus sums, with the given invalid sums too. */
static msg make_sums_batch(const char *edge, const char *region, uint32_t p, uint64_t seq,
                           const wire_op *ops, size_t nops, const wire_sum *sums, size_t nsums)
{
	return wire_util_batch(edge, region, p, seq, ops, nops, sums, nsums);
}

static wire_sum item_sum(const char *counter, uint64_t n, uint64_t ts)
{
	return (wire_sum){wire_cstr(counter, strlen(counter)), wire_cstr(ITEM, strlen(ITEM)), n,
	                  ts};
}

Test(apply_ops, sums_move_the_count_and_its_buckets_as_their_ops_would)
{
	wire_op like = like_op("u1", true, hlc_on(DAY0, 1));
	wire_sum sums[3] = {item_sum("views", 5000, hlc_on(DAY0, 9)),
	                    item_sum("views", 3, hlc_on(DAY0 + 1, 1)),
	                    item_sum("shares", 2, hlc_on(DAY0, 3))};
	apply_msg(0, 0, make_sums_batch("m1", "mumbai", 0, 1, &like, 1, sums, 3));
	/* The same views as ops, from another region, for comparison. */
	wire_op ops[2] = {sum_op("views", "u7", 4, hlc_on(DAY0, 2)),
	                  sum_op("views", "u8", 1, hlc_on(DAY0 + 1, 2))};
	apply_msg(0, 1, make_batch_in("v1", "virginia", 0, 1, ops, 2));
	cr_assert_eq(count(), 1, "the like in the same batch applies");
	cr_assert_eq(count_of("views"), 5008);
	cr_assert_eq(count_of("shares"), 2);
	cr_assert_eq(by_region("views", "mumbai"), 5003);
	cr_assert_eq(by_region("views", "virginia"), 5);
	cr_assert_eq(by_day("views", DAY0), 5004);
	cr_assert_eq(by_day("views", DAY0 + 1), 4);
	assert_breakdowns_sum_to_count("views");
	assert_breakdowns_sum_to_count("shares");
	/* A redelivery of the sums batch changes nothing. */
	apply_msg(0, 2, make_sums_batch("m1", "mumbai", 0, 1, &like, 1, sums, 3));
	cr_assert_eq(count_of("views"), 5008);
}

Test(apply_ops, invalid_sums_are_skipped_and_the_rest_applies)
{
	wire_sum sums[4] = {item_sum("likes", 2, hlc_on(DAY0, 1)), /* a set counter */
	                    item_sum("nope", 2, hlc_on(DAY0, 1)),
	                    {wire_cstr("views", 5), wire_cstr("bad item", 8), 2, hlc_on(DAY0, 1)},
	                    item_sum("views", 6, hlc_on(DAY0, 1))};
	apply_msg(0, 0, make_sums_batch("m1", "mumbai", 0, 1, NULL, 0, sums, 4));
	cr_assert_eq(count_of("views"), 6);
	cr_assert_eq(count(), 0, "a sum never moves a set counter");
	applier_stats st = stats();
	cr_assert_eq(st.ops_invalid, 3);
	cr_assert_eq(st.ops_applied, 1);
	cr_assert_eq(st.batches_applied, 1);
}

Test(apply_ops, redelivered_sum_batch_does_not_count_twice)
{
	wire_op ops[2] = {sum_op("views", "u1", 7, hlc_on(DAY0, 1)),
	                  sum_op("views", "u2", 1, hlc_on(DAY0, 2))};
	msg m = make_batch_in("m1", "mumbai", 2, 1, ops, 2);
	cr_assert_eq(applier_apply(T.a, 2, 0, m.buf, m.len, 0), 0);
	cr_assert_eq(count_of("views"), 8);
	/* Kafka delivers the very same bytes again (a producer retry). */
	cr_assert_eq(applier_apply(T.a, 2, 1, m.buf, m.len, 0), 0);
	cr_assert_eq(count_of("views"), 8, "a redelivered sum batch counted again");
	reopen();
	cr_assert_eq(applier_apply(T.a, 2, 2, m.buf, m.len, 0), 0);
	free(m.buf);
	cr_assert_eq(count_of("views"), 8, "a redelivery after a restart counted again");
	cr_assert_eq(stats().batches_duplicate, 1);
	cr_assert_eq(by_region("views", "mumbai"), 8);
	assert_breakdowns_sum_to_count("views");
}

Test(apply_ops, sum_batch_after_a_gap_applies_once_when_the_gap_fills)
{
	wire_op one = sum_op("views", "u1", 1, hlc_on(DAY0, 1));
	wire_op hundred = sum_op("views", "u3", 100, hlc_on(DAY0, 3));
	wire_op ten = sum_op("views", "u2", 10, hlc_on(DAY0, 2));
	apply_msg(1, 0, make_batch_in("m1", "mumbai", 1, 1, &one, 1));
	apply_msg(1, 1, make_batch_in("m1", "mumbai", 1, 3, &hundred, 1));
	cr_assert_eq(count_of("views"), 1, "a held sum batch must not apply");
	/* The held batch arrives again before the gap fills. */
	apply_msg(1, 2, make_batch_in("m1", "mumbai", 1, 3, &hundred, 1));
	cr_assert_eq(count_of("views"), 1);
	cr_assert_eq(applier_held_batches(T.a, 1), 1, "held once, however often delivered");
	apply_msg(1, 3, make_batch_in("m1", "mumbai", 1, 2, &ten, 1));
	cr_assert_eq(count_of("views"), 111);
	cr_assert_eq(applier_held_batches(T.a, 1), 0);
	apply_msg(1, 4, make_batch_in("m1", "mumbai", 1, 3, &hundred, 1));
	apply_msg(1, 5, make_batch_in("m1", "mumbai", 1, 2, &ten, 1));
	cr_assert_eq(count_of("views"), 111, "late copies of applied batches change nothing");
	assert_breakdowns_sum_to_count("views");
}

Test(apply_ops, invalid_ops_are_skipped_while_their_neighbours_apply)
{
	wire_op ops[7] = {
	    like_op("u1", true, 10),                    /* valid */
	    sum_op("views", "u1", 4, hlc_on(DAY0, 1)),  /* valid */
	    sum_op("views", "u2", 1, hlc_on(DAY0, 2)),  /* remove on a sum: invalid */
	    like_op("u2", true, 11),                    /* n = 2 on a set: invalid */
	    like_op("u3", true, 12),                    /* unknown counter: invalid */
	    like_op("u4", true, 13),                    /* bad item: invalid */
	    sum_op("shares", "u5", 2, hlc_on(DAY0, 3)), /* valid */
	};
	ops[2].kind = WIRE_REMOVE;
	ops[3].n = 2;
	ops[4].counter = wire_cstr("hugs", 4);
	ops[5].item = wire_cstr("no-colon", 8);
	apply_msg(0, 0, make_batch("a", 0, 1, ops, 7));
	cr_assert_eq(count(), 1);
	cr_assert_eq(count_of("views"), 4);
	cr_assert_eq(count_of("shares"), 2);
	applier_stats st = stats();
	cr_assert_eq(st.ops_invalid, 4);
	cr_assert_eq(st.ops_applied, 3);
	cr_assert_eq(st.batches_applied, 1, "the batch itself applied");
	wire_snapshot s;
	bool more;
	applier_snapshot(T.a, 0, 100, &s, &more);
	cr_assert_eq(snap_edge(&s, "a")->applied, 1, "the sequence moved past the batch");
	wire_snapshot_free(&s);
	assert_breakdowns_sum_to_count("likes");
	assert_breakdowns_sum_to_count("views");
}

/* ---- aggregates of set counters ------------------------------------------ */

Test(apply_ops, like_unlike_and_relike_from_another_region_move_the_buckets)
{
	wire_op like = like_op("u1", true, hlc_on(DAY0, 100));
	apply_msg(0, 0, make_batch_in("m1", "mumbai", 0, 1, &like, 1));
	cr_assert_eq(count(), 1);
	cr_assert_eq(by_region("likes", "mumbai"), 1);
	cr_assert_eq(by_day("likes", DAY0), 1);
	assert_breakdowns_sum_to_count("likes");

	wire_op unlike = like_op("u1", false, hlc_on(DAY0 + 1, 100));
	apply_msg(0, 1, make_batch_in("v1", "virginia", 0, 1, &unlike, 1));
	cr_assert_eq(count(), 0);
	cr_assert_eq(by_region("likes", "mumbai"), 0, "the unlike takes the unit away");
	cr_assert_eq(by_region("likes", "virginia"), 0, "an unlike adds nothing anywhere");
	cr_assert_eq(by_day("likes", DAY0), 0);
	cr_assert_eq(by_day("likes", DAY0 + 1), 0);
	assert_breakdowns_sum_to_count("likes");

	wire_op relike = like_op("u1", true, hlc_on(DAY0 + 2, 100));
	apply_msg(0, 2, make_batch_in("v1", "virginia", 0, 2, &relike, 1));
	cr_assert_eq(count(), 1);
	cr_assert_eq(by_region("likes", "virginia"), 1);
	cr_assert_eq(by_region("likes", "mumbai"), 0);
	cr_assert_eq(by_day("likes", DAY0 + 2), 1);
	assert_breakdowns_sum_to_count("likes");
}

Test(apply_ops, like_over_like_moves_the_unit_to_the_newer_buckets)
{
	wire_op a = like_op("u1", true, hlc_on(DAY0, 5));
	wire_op b = like_op("u1", true, hlc_on(DAY0 + 3, 5));
	apply_msg(0, 0, make_batch_in("m1", "mumbai", 0, 1, &a, 1));
	apply_msg(0, 1, make_batch_in("s1", "singapore", 0, 1, &b, 1));
	cr_assert_eq(count(), 1);
	cr_assert_eq(by_region("likes", "mumbai"), 0);
	cr_assert_eq(by_region("likes", "singapore"), 1);
	cr_assert_eq(by_day("likes", DAY0), 0);
	cr_assert_eq(by_day("likes", DAY0 + 3), 1);
	assert_breakdowns_sum_to_count("likes");
}

Test(apply_ops, out_of_order_ops_leave_the_buckets_of_the_winner)
{
	/* u1: the newer unlike arrives first; the older like must not count. */
	wire_op unlike = like_op("u1", false, hlc_on(DAY0 + 1, 0));
	wire_op like = like_op("u1", true, hlc_on(DAY0, 0));
	apply_msg(0, 0, make_batch_in("v1", "virginia", 0, 1, &unlike, 1));
	apply_msg(0, 1, make_batch_in("m1", "mumbai", 0, 1, &like, 1));
	cr_assert_eq(count(), 0);
	cr_assert_eq(bucket_sum('R', "likes"), 0);
	cr_assert_eq(bucket_sum('Y', "likes"), 0);

	/* u2: the newer like from singapore first, the older from mumbai
	 * after: the unit stays in singapore's buckets. */
	wire_op newer = like_op("u2", true, hlc_on(DAY0 + 2, 0));
	wire_op older = like_op("u2", true, hlc_on(DAY0, 0));
	apply_msg(0, 2, make_batch_in("s1", "singapore", 0, 1, &newer, 1));
	apply_msg(0, 3, make_batch_in("m1", "mumbai", 0, 2, &older, 1));
	cr_assert_eq(count(), 1);
	cr_assert_eq(by_region("likes", "singapore"), 1);
	cr_assert_eq(by_region("likes", "mumbai"), 0);
	cr_assert_eq(by_day("likes", DAY0 + 2), 1);
	assert_breakdowns_sum_to_count("likes");
}

Test(apply_ops, ops_on_one_member_within_one_batch_net_out)
{
	wire_op ops[4] = {
	    like_op("u1", true, hlc_on(DAY0, 1)), like_op("u1", false, hlc_on(DAY0, 2)),
	    like_op("u1", true, hlc_on(DAY0 + 1, 3)), like_op("u2", true, hlc_on(DAY0, 4))};
	apply_msg(0, 0, make_batch_in("m1", "mumbai", 0, 1, ops, 4));
	cr_assert_eq(count(), 2);
	cr_assert_eq(by_region("likes", "mumbai"), 2);
	cr_assert_eq(by_day("likes", DAY0), 1);
	cr_assert_eq(by_day("likes", DAY0 + 1), 1);
	assert_breakdowns_sum_to_count("likes");
}

/* A small deterministic generator, so a failure replays. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

Test(apply_ops, random_ops_from_three_regions_keep_every_breakdown_equal_to_the_count)
{
	enum { NUSERS = 12, NBATCHES = 60, OPS_PER = 5, NEDGES = 3 };
	static const char *edges[NEDGES] = {"m1", "v1", "s1"};
	static const char *regions[NEDGES] = {"mumbai", "virginia", "singapore"};
	/* The expected winner per user, computed independently. */
	struct {
		bool seen, add;
		uint64_t hlc;
		int edge;
	} win[NUSERS] = {{0}};
	char users[NUSERS][8];
	for (int u = 0; u < NUSERS; u++)
		snprintf(users[u], sizeof users[u], "u%d", u);
	uint64_t seq[NEDGES] = {0}, rng = 0x9e3779b97f4a7c15u;
	int64_t offset = 0;
	for (int b = 0; b < NBATCHES; b++) {
		int e = (int)(rng_next(&rng) % NEDGES);
		wire_op ops[OPS_PER];
		for (int i = 0; i < OPS_PER; i++) {
			int u = (int)(rng_next(&rng) % NUSERS);
			bool add = rng_next(&rng) % 3 != 0;
			/* hlcs spread over 10 days, in no order across batches */
			uint64_t h =
			    hlc_on(DAY0 + (uint32_t)(rng_next(&rng) % 10), rng_next(&rng) % 1000);
			ops[i] = like_op(users[u], add, h);
			bool wins = !win[u].seen || h > win[u].hlc ||
			            (h == win[u].hlc && strcmp(edges[e], edges[win[u].edge]) > 0);
			if (wins) {
				win[u].seen = true;
				win[u].add = add;
				win[u].hlc = h;
				win[u].edge = e;
			}
		}
		apply_msg(0, offset++,
		          make_batch_in(edges[e], regions[e], 0, ++seq[e], ops, OPS_PER));
		assert_breakdowns_sum_to_count("likes");
	}
	uint64_t want = 0, want_region[NEDGES] = {0};
	for (int u = 0; u < NUSERS; u++)
		if (win[u].seen && win[u].add) {
			want++;
			want_region[win[u].edge]++;
		}
	cr_assert_eq(count(), want);
	for (int e = 0; e < NEDGES; e++)
		cr_assert_eq(by_region("likes", regions[e]), want_region[e], "region %s",
		             regions[e]);
	for (uint32_t d = 0; d < 10; d++) {
		uint64_t wd = 0;
		for (int u = 0; u < NUSERS; u++)
			if (win[u].seen && win[u].add && day_of_hlc(win[u].hlc) == DAY0 + d)
				wd++;
		cr_assert_eq(by_day("likes", DAY0 + d), wd, "day %u", DAY0 + d);
	}
}

Test(apply_ops, membership_state_records_the_winning_region)
{
	wire_op like = like_op("u1", true, hlc_on(DAY0, 1));
	apply_msg(0, 0, make_batch_in("m1", "mumbai", 0, 1, &like, 1));
	unsigned char k[CKEY_MAX];
	size_t kn = ckey_state(k, "likes", 5, ITEM, strlen(ITEM), "u1", 2);
	char *v;
	size_t vn;
	cr_assert_eq(store_get(T.db, k, kn, &v, &vn), 0);
	merge_state st;
	cr_assert_eq(merge_state_decode(v, vn, &st), 0);
	free(v);
	cr_assert(st.present);
	cr_assert_eq(st.region_len, 6);
	cr_assert(memcmp(st.region, "mumbai", 6) == 0);
	cr_assert_eq(st.edge_len, 2);
	cr_assert(memcmp(st.edge, "m1", 2) == 0);
}

/* ---- the home index ------------------------------------------------------ */

static wire_op like_from(const char *user, bool add, uint64_t ts, const char *home)
{
	wire_op op = like_op(user, add, ts);
	op.home = wire_cstr(home, strlen(home));
	return op;
}

/* The 'V' entry of (region, p, user, likes, ITEM). */
static bool home_entry(const char *region, uint32_t p, const char *user, bool *member,
                       uint64_t *clk)
{
	return home_entry_of(region, p, user, ITEM, member, clk);
}

static size_t home_keys(void)
{
	return testdir_count_keys(T.db, ckey_prefix(CKEY_HOME), 1);
}

Test(apply_ops, a_like_by_a_user_with_a_home_is_indexed_under_the_home)
{
	wire_op like = like_from("u1", true, 100, "ap");
	apply_msg(2, 0, make_batch_in("m1", "mumbai", 2, 1, &like, 1));
	bool member = false;
	uint64_t clk = 0;
	cr_assert(home_entry("ap", 2, "u1", &member, &clk));
	cr_assert(member);
	cr_assert_eq(clk, 100);
	cr_assert_not(home_entry("mumbai", 2, "u1", &member, &clk), "not where it was made");
	cr_assert_not(home_entry("ap", 0, "u1", &member, &clk), "under the batch's partition");
	cr_assert_eq(home_keys(), 1);
}

Test(apply_ops, an_unlike_leaves_the_entry_not_a_member_and_an_older_op_leaves_it_alone)
{
	wire_op like = like_from("u1", true, 100, "ap");
	wire_op unlike = like_from("u1", false, 200, "ap");
	apply_msg(0, 0, make_batch("a", 0, 1, &like, 1));
	apply_msg(0, 1, make_batch("b", 0, 1, &unlike, 1));
	bool member = true;
	uint64_t clk = 0;
	cr_assert(home_entry("ap", 0, "u1", &member, &clk), "kept, not deleted");
	cr_assert_not(member);
	cr_assert_eq(clk, 200);
	/* An older like loses the merge: the entry stays as it was. */
	wire_op late = like_from("u1", true, 150, "ap");
	apply_msg(0, 2, make_batch("c", 0, 1, &late, 1));
	cr_assert(home_entry("ap", 0, "u1", &member, &clk));
	cr_assert_not(member);
	cr_assert_eq(clk, 200);
	cr_assert_eq(count(), 0);
	/* Two ops of one pair in one batch: the entry has the winner. */
	wire_op both[2] = {like_from("u2", true, 300, "ap"), like_from("u2", false, 310, "ap")};
	apply_msg(0, 3, make_batch("a", 0, 2, both, 2));
	cr_assert(home_entry("ap", 0, "u2", &member, &clk));
	cr_assert_not(member);
	cr_assert_eq(clk, 310);
	/* After a restart (the caches empty), a newer like moves it again. */
	reopen();
	wire_op again = like_from("u1", true, 400, "ap");
	apply_msg(0, 4, make_batch("b", 0, 2, &again, 1));
	cr_assert(home_entry("ap", 0, "u1", &member, &clk));
	cr_assert(member);
	cr_assert_eq(clk, 400);
	cr_assert_eq(count(), 1);
}

Test(apply_ops, an_op_without_a_home_or_with_a_bad_one_indexes_nothing)
{
	wire_op like = like_op("u1", true, 100);
	apply_msg(0, 0, make_batch("a", 0, 1, &like, 1));
	/* A home that is not a region name cannot be keyed: the op still
	 * applies. */
	wire_op bad = like_from("u2", true, 110, "Not A Region");
	apply_msg(0, 1, make_batch("a", 0, 2, &bad, 1));
	cr_assert_eq(count(), 2);
	cr_assert_eq(home_keys(), 0);
	cr_assert_eq(stats().ops_invalid, 0);
}

/* The 'G' key of (region, p, likes, ITEM, day of hlc): its value's clock
 * and user ("" when there is none). */
static const char *day_entry(const char *region, uint32_t p, uint64_t at, uint64_t *clk)
{
	static char user[USER_MAX + 1];
	unsigned char k[CKEY_MAX];
	size_t kn = ckey_home_day(k, region, strlen(region), p, "likes", 5, ITEM, strlen(ITEM),
	                          day_of_hlc(at));
	char *v;
	size_t vn;
	user[0] = 0;
	if (store_get(T.db, k, kn, &v, &vn) == ERR_NOTFOUND)
		return user;
	cr_assert_gt(vn, 8);
	*clk = store_get_u64((unsigned char *)v);
	snprintf(user, sizeof user, "%.*s", (int)(vn - 8), v + 8);
	free(v);
	return user;
}

Test(apply_ops, likes_of_one_item_on_one_day_by_users_of_any_length_keep_the_message_whole)
{
	/* One batch: a short user id, a long one, a short one again, all
	 * liking ITEM the same day: the day's 'G' key is rewritten with
	 * values of each length, and every other entry of the message must
	 * come out whole. */
	char long_user[USER_MAX + 1];
	memset(long_user, 'L', USER_MAX);
	long_user[USER_MAX] = 0;
	uint64_t t0 = hlc_on(DAY0, 1);
	wire_op ops[3] = {like_from("u1", true, t0, "ap"), like_from(long_user, true, t0 + 1, "ap"),
	                  like_from("u3", true, t0 + 2, "ap")};
	apply_msg(0, 0, make_batch("a", 0, 1, ops, 3));
	cr_assert_eq(count(), 3);
	bool member;
	uint64_t clk = 0;
	const char *users[3] = {"u1", long_user, "u3"};
	for (int i = 0; i < 3; i++) {
		cr_assert(home_entry("ap", 0, users[i], &member, &clk) && member, "%s", users[i]);
		cr_assert_eq(clk, t0 + (uint64_t)i);
	}
	cr_assert_str_eq(day_entry("ap", 0, t0, &clk), "u3", "the day's last like");
	cr_assert_eq(clk, t0 + 2);
	/* And the other way round: the long one last. */
	wire_op more[2] = {like_from("u4", true, t0 + 3, "ap"),
	                   like_from(long_user, false, t0 + 4, "ap")};
	more[0].item = wire_cstr(ITEM, strlen(ITEM));
	wire_op again = like_from(long_user, true, t0 + 5, "ap");
	apply_msg(0, 1, make_batch("a", 0, 2, more, 2));
	apply_msg(
	    0, 2,
	    make_batch("a", 0, 3, (wire_op[]){like_from("u5", true, t0 + 6, "ap"), again}, 2));
	cr_assert_str_eq(day_entry("ap", 0, t0, &clk), long_user);
	cr_assert_eq(clk, t0 + 5);
	cr_assert_eq(count(), 5);
}
