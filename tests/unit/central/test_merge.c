/* test_merge.c - the last-writer-wins rule for set counters: which op
 * wins, the count deltas it returns, convergence whatever the arrival
 * order, the region the winner records, and the store encoding of a
 * membership state (version 2, with the region).
 *
 * Pure: no files are written, so no test needs a temp directory.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "central/apply/merge.h"

static void setup(void)
{
	log_threshold = LOG_ERROR;
}

static void teardown(void) {}

TestSuite(merge, .init = setup, .fini = teardown, .timeout = 30);

/* A known state set by (add, hlc, edge) from region. */
static merge_state state_in(bool present, uint64_t hlc, const char *edge, const char *region)
{
	merge_state st;
	memset(&st, 0, sizeof st);
	st.present = present;
	st.hlc = hlc;
	st.edge_len = (uint8_t)strlen(edge);
	memcpy(st.edge, edge, st.edge_len);
	st.region_len = (uint8_t)strlen(region);
	memcpy(st.region, region, st.region_len);
	return st;
}

static merge_state state_of(bool present, uint64_t hlc, const char *edge)
{
	return state_in(present, hlc, edge, "eu");
}

static int apply_in(merge_state *st, bool known, bool add, uint64_t hlc, const char *edge,
                    const char *region, bool *changed)
{
	return merge_apply(st, known, add, hlc, edge, strlen(edge), region, strlen(region),
	                   changed);
}

static int apply(merge_state *st, bool known, bool add, uint64_t hlc, const char *edge,
                 bool *changed)
{
	return apply_in(st, known, add, hlc, edge, "eu", changed);
}

/* ---- who wins ------------------------------------------------------------ */

typedef struct order_case {
	uint64_t cur_hlc;
	char cur_edge[16];
	uint64_t op_hlc;
	char op_edge[16];
	bool wins;
} order_case;

ParameterizedTestParameters(merge, op_wins_only_when_its_hlc_then_edge_is_greater)
{
	static order_case cases[] = {
	    {100, "b", 101, "a", true},    /* newer hlc wins, whatever the edge */
	    {100, "a", 99, "z", false},    /* older hlc loses, whatever the edge */
	    {100, "a", 100, "b", true},    /* equal hlc: greater edge id wins */
	    {100, "b", 100, "a", false},   /* equal hlc: smaller edge id loses */
	    {100, "ab", 100, "abc", true}, /* a prefix sorts first */
	    {100, "abc", 100, "ab", false},
	    {100, "edge-9", 100, "edge_1", true}, /* bytewise: '_' > '-' */
	    {100, "a", 100, "a", false},          /* the very same op: a no-op */
	    {UINT64_MAX - 1, "a", UINT64_MAX, "a", true},
	};
	return cr_make_param_array(order_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(order_case *c, merge, op_wins_only_when_its_hlc_then_edge_is_greater)
{
	/* Try both memberships so the outcome never depends on add/remove. */
	for (int present = 0; present < 2; present++) {
		merge_state st = state_of(present, c->cur_hlc, c->cur_edge);
		merge_state before = st;
		bool changed = true;
		int delta = apply(&st, true, !present, c->op_hlc, c->op_edge, &changed);

		cr_assert_eq(changed, c->wins, "cur=(%lu,%s) op=(%lu,%s)",
		             (unsigned long)c->cur_hlc, c->cur_edge, (unsigned long)c->op_hlc,
		             c->op_edge);
		if (c->wins) {
			cr_assert_eq(delta, present ? -1 : 1);
			cr_assert_eq(st.present, !present);
			cr_assert_eq(st.hlc, c->op_hlc);
			cr_assert_eq(st.edge_len, strlen(c->op_edge));
			cr_assert(memcmp(st.edge, c->op_edge, st.edge_len) == 0);
		} else {
			cr_assert_eq(delta, 0);
			cr_assert(memcmp(&st, &before, sizeof st) == 0,
			          "a losing op changed state");
		}
	}
}

Test(merge, cmp_orders_by_hlc_then_edge_bytes)
{
	cr_assert_lt(merge_cmp(1, "z", 1, 2, "a", 1), 0);
	cr_assert_gt(merge_cmp(2, "a", 1, 1, "z", 1), 0);
	cr_assert_lt(merge_cmp(5, "a", 1, 5, "b", 1), 0);
	cr_assert_gt(merge_cmp(5, "b", 1, 5, "a", 1), 0);
	cr_assert_lt(merge_cmp(5, "ab", 2, 5, "abc", 3), 0);
	cr_assert_eq(merge_cmp(5, "ab", 2, 5, "ab", 2), 0);
	/* Bytes compare unsigned. */
	cr_assert_lt(merge_cmp(5, "\x01", 1, 5, "\xff", 1), 0);
}

Test(merge, exact_duplicate_is_a_no_op)
{
	merge_state st;
	bool changed;
	memset(&st, 0, sizeof st);
	cr_assert_eq(apply(&st, false, true, 42, "edge-a", &changed), 1);
	cr_assert(changed);
	merge_state after_first = st;
	cr_assert_eq(apply(&st, true, true, 42, "edge-a", &changed), 0);
	cr_assert_not(changed);
	/* Even a remove with the very same stamp cannot undo the add. */
	cr_assert_eq(apply(&st, true, false, 42, "edge-a", &changed), 0);
	cr_assert_not(changed);
	cr_assert(memcmp(&st, &after_first, sizeof st) == 0);
}

/* ---- deltas -------------------------------------------------------------- */

typedef struct delta_case {
	bool known;
	bool was_present;
	bool add;
	int delta;
} delta_case;

ParameterizedTestParameters(merge, delta_follows_the_membership_flip)
{
	static delta_case cases[] = {
	    {false, false, true, 1},  /* first add: +1 */
	    {false, false, false, 0}, /* first op a remove: stays absent */
	    {true, false, true, 1},   /* absent -> present */
	    {true, true, false, -1},  /* present -> absent */
	    {true, true, true, 0},    /* restated present */
	    {true, false, false, 0},  /* restated absent */
	};
	return cr_make_param_array(delta_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(delta_case *c, merge, delta_follows_the_membership_flip)
{
	merge_state st = state_of(c->was_present, 10, "a");
	if (!c->known)
		memset(&st, 0, sizeof st);
	bool changed;
	int delta = apply(&st, c->known, c->add, 20, "b", &changed);
	cr_assert_eq(delta, c->delta);
	cr_assert(changed, "a newer op always overwrites the state");
	cr_assert_eq(st.present, c->add);
	cr_assert_eq(st.hlc, 20);
}

Test(merge, count_never_goes_negative)
{
	/* Any sequence of ops, in any order: the running sum of deltas is
	 * the number of present states, so it is 0 or 1 for one user. */
	static const struct {
		bool add;
		uint64_t hlc;
		const char *edge;
	} ops[] = {
	    {false, 5, "a"},  {false, 6, "b"}, {true, 3, "a"},   {false, 7, "a"},
	    {false, 8, "c"},  {true, 9, "b"},  {false, 9, "a"},  {false, 10, "a"},
	    {false, 11, "b"}, {true, 1, "z"},  {false, 12, "a"}, {true, 12, "b"},
	};
	merge_state st;
	memset(&st, 0, sizeof st);
	bool known = false;
	long count = 0;
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		bool changed;
		count += apply(&st, known, ops[i].add, ops[i].hlc, ops[i].edge, &changed);
		known = known || changed;
		cr_assert_geq(count, 0, "op %zu made the count negative", i);
		cr_assert_leq(count, 1, "op %zu counted the same user twice", i);
		cr_assert_eq(count, st.present ? 1 : 0, "op %zu: count and state disagree", i);
	}
	cr_assert(st.present, "(12, b) add is the greatest op");
}

Test(merge, oversized_edge_id_is_refused)
{
	char edge[EDGE_ID_MAX + 2];
	memset(edge, 'e', sizeof edge - 1);
	edge[sizeof edge - 1] = 0;
	merge_state st;
	memset(&st, 0, sizeof st);
	bool changed = true;
	cr_assert_eq(merge_apply(&st, false, true, 1, edge, EDGE_ID_MAX + 1, "eu", 2, &changed), 0);
	cr_assert_not(changed);
	cr_assert_eq(st.edge_len, 0);
}

Test(merge, oversized_region_is_refused)
{
	char region[MERGE_REGION_MAX + 2];
	memset(region, 'r', sizeof region - 1);
	region[sizeof region - 1] = 0;
	merge_state st;
	memset(&st, 0, sizeof st);
	bool changed = true;
	cr_assert_eq(apply_in(&st, false, true, 1, "a", region, &changed), 0);
	cr_assert_not(changed);
	cr_assert_eq(st.edge_len, 0);
	cr_assert_eq(st.region_len, 0);
}

/* ---- regions ------------------------------------------------------------- */

Test(merge, winning_op_records_its_region)
{
	merge_state st;
	memset(&st, 0, sizeof st);
	bool changed;
	cr_assert_eq(apply_in(&st, false, true, 10, "edge-m", "mumbai", &changed), 1);
	cr_assert_eq(st.region_len, 6);
	cr_assert(memcmp(st.region, "mumbai", 6) == 0);
	/* A re-like from another region wins: the region moves with it. */
	cr_assert_eq(apply_in(&st, true, true, 20, "edge-v", "virginia", &changed), 0);
	cr_assert(changed);
	cr_assert_eq(st.region_len, 8);
	cr_assert(memcmp(st.region, "virginia", 8) == 0);
	/* An older op from a third region loses and leaves the region alone. */
	cr_assert_eq(apply_in(&st, true, false, 15, "edge-s", "singapore", &changed), 0);
	cr_assert_not(changed);
	cr_assert(memcmp(st.region, "virginia", 8) == 0);
	/* A newer unlike records its own region too. */
	cr_assert_eq(apply_in(&st, true, false, 30, "edge-s", "singapore", &changed), -1);
	cr_assert_eq(st.region_len, 9);
	cr_assert(memcmp(st.region, "singapore", 9) == 0);
}

Test(merge, region_never_decides_the_winner)
{
	/* Same (hlc, edge) twice with different regions: the second is the
	 * same op, a no-op, whatever region it claims. */
	merge_state st = state_in(true, 50, "edge-a", "zzz");
	bool changed = true;
	cr_assert_eq(apply_in(&st, true, false, 50, "edge-a", "aaa", &changed), 0);
	cr_assert_not(changed);
	cr_assert(memcmp(st.region, "zzz", 3) == 0);
}

/* ---- convergence --------------------------------------------------------- */

typedef struct conv_case {
	bool x_add;
	uint64_t x_hlc;
	char x_edge[16];
	bool y_add;
	uint64_t y_hlc;
	char y_edge[16];
	bool present; /* the converged membership */
} conv_case;

ParameterizedTestParameters(merge, both_arrival_orders_converge)
{
	static conv_case cases[] = {
	    /* like in region A, unlike in region B later: absent */
	    {true, 1000, "edge-a", false, 2000, "edge-b", false},
	    /* unlike first, like later: present */
	    {false, 1000, "edge-a", true, 2000, "edge-b", true},
	    /* same hlc: the greater edge id wins */
	    {true, 1000, "edge-a", false, 1000, "edge-b", false},
	    {false, 1000, "edge-a", true, 1000, "edge-b", true},
	    /* both likes from two edges: one present user */
	    {true, 1000, "edge-a", true, 1001, "edge-b", true},
	};
	return cr_make_param_array(conv_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(conv_case *c, merge, both_arrival_orders_converge)
{
	merge_state xy, yx;
	bool changed, known;
	int count_xy = 0, count_yx = 0;

	memset(&xy, 0, sizeof xy);
	count_xy += apply_in(&xy, false, c->x_add, c->x_hlc, c->x_edge, c->x_edge, &changed);
	known = changed;
	count_xy += apply_in(&xy, known, c->y_add, c->y_hlc, c->y_edge, c->y_edge, &changed);

	memset(&yx, 0, sizeof yx);
	count_yx += apply_in(&yx, false, c->y_add, c->y_hlc, c->y_edge, c->y_edge, &changed);
	known = changed;
	count_yx += apply_in(&yx, known, c->x_add, c->x_hlc, c->x_edge, c->x_edge, &changed);

	cr_assert_eq(xy.present, c->present);
	cr_assert_eq(yx.present, c->present);
	cr_assert_eq(count_xy, c->present ? 1 : 0);
	cr_assert_eq(count_yx, c->present ? 1 : 0);
	cr_assert_eq(xy.hlc, yx.hlc);
	cr_assert_eq(xy.edge_len, yx.edge_len);
	cr_assert(memcmp(xy.edge, yx.edge, xy.edge_len) == 0);
	/* Each op came from a region named like its edge: the winner's. */
	cr_assert_eq(xy.region_len, yx.region_len);
	cr_assert(memcmp(xy.region, yx.region, xy.region_len) == 0);
	cr_assert(memcmp(xy.region, xy.edge, xy.edge_len) == 0);
}

/* ---- encoding ------------------------------------------------------------ */

Test(merge, state_encoding_round_trips)
{
	char longest[EDGE_ID_MAX + 1];
	memset(longest, 'x', EDGE_ID_MAX);
	longest[EDGE_ID_MAX] = 0;
	const merge_state in[] = {
	    state_in(true, UINT64_C(0x0102030405060708), "edge-paris-2", "paris"),
	    state_in(false, 0, "a", ""),
	    state_in(true, UINT64_MAX, longest, longest),
	};
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		unsigned char buf[MERGE_STATE_MAX];
		size_t n = merge_state_encode(&in[i], buf);
		cr_assert_eq(n, 12u + in[i].edge_len + in[i].region_len);
		cr_assert_leq(n, MERGE_STATE_MAX);
		merge_state out;
		memset(&out, 0xaa, sizeof out);
		cr_assert_eq(merge_state_decode(buf, n, &out), 0, "case %zu", i);
		cr_assert_eq(out.present, in[i].present);
		cr_assert_eq(out.hlc, in[i].hlc);
		cr_assert_eq(out.edge_len, in[i].edge_len);
		cr_assert(memcmp(out.edge, in[i].edge, out.edge_len) == 0);
		cr_assert_eq(out.region_len, in[i].region_len);
		cr_assert(memcmp(out.region, in[i].region, out.region_len) == 0);
	}
}

Test(merge, encoding_is_big_endian_and_documented_layout)
{
	merge_state st = state_in(true, UINT64_C(0x0102030405060708), "ab", "xyz");
	unsigned char buf[MERGE_STATE_MAX];
	const unsigned char want[] = {
	    MERGE_STATE_VERSION, 1, 1, 2, 3, 4, 5, 6, 7, 8, 2, 'a', 'b', 3, 'x', 'y', 'z'};
	cr_assert_eq(merge_state_encode(&st, buf), sizeof want);
	cr_assert(memcmp(buf, want, sizeof want) == 0);
}

typedef struct corrupt_case {
	unsigned char bytes[16];
	size_t len;
	const char *why;
} corrupt_case;

ParameterizedTestParameters(merge, corrupt_state_is_err_corrupt)
{
	static corrupt_case cases[] = {
	    {{0}, 0, "empty"},
	    {{2, 1, 0, 0, 0, 0, 0, 0, 0, 1}, 10, "shorter than the fixed header"},
	    {{1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a'}, 11, "layout 1 (no version, no region)"},
	    {{3, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 0}, 13, "unknown version"},
	    {{2, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 0}, 13, "present byte not 0 or 1"},
	    {{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 'a', 0}, 13, "edge length past the end"},
	    {{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a'}, 12, "region length missing"},
	    {{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 2, 'r'}, 14, "region length past the end"},
	    {{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', 1, 'r', 'x'}, 15, "trailing byte"},
	    {{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, EDGE_ID_MAX + 1, 'a', 0},
	     13,
	     "edge length over the max"},
	    {{2, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 'a', MERGE_REGION_MAX + 1, 'r'},
	     14,
	     "region length over the max"},
	};
	return cr_make_param_array(corrupt_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(corrupt_case *c, merge, corrupt_state_is_err_corrupt)
{
	merge_state st;
	memset(&st, 0, sizeof st);
	cr_assert_eq(merge_state_decode(c->bytes, c->len, &st), ERR_CORRUPT, "%s", c->why);
}

Test(merge, truncations_of_a_valid_state_are_all_corrupt)
{
	merge_state st = state_in(true, 77, "edge-x", "region-y");
	unsigned char buf[MERGE_STATE_MAX];
	size_t n = merge_state_encode(&st, buf);
	for (size_t len = 0; len < n; len++) {
		merge_state out;
		cr_assert_eq(merge_state_decode(buf, len, &out), ERR_CORRUPT, "len %zu", len);
	}
}
