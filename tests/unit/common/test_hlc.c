/* test_hlc.c - hybrid logical clock: ordering under a misbehaving wall
 * clock, counter overflow, merging remote timestamps. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <inttypes.h>
#include <stdlib.h>

#include "hlc.h"

static hlc clk;

static void setup(void)
{
	hlc_init(&clk);
}

static void teardown(void) {}

TestSuite(hlc, .init = setup, .fini = teardown, .timeout = 10);

#define T0 UINT64_C(1700000000000) /* a plausible wall clock, ms */

Test(hlc, init_starts_below_any_wall_clock)
{
	cr_assert_eq(clk.last, 0);
	cr_assert_eq(hlc_now(&clk, 1), hlc_make(1, 0));
}

Test(hlc, advancing_wall_clock_gives_wall_time_with_zero_counter)
{
	for (uint64_t ms = T0; ms < T0 + 100; ms += 7) {
		uint64_t t = hlc_now(&clk, ms);
		cr_assert_eq(hlc_ms(t), ms);
		cr_assert_eq(hlc_logical(t), 0);
	}
}

Test(hlc, standing_wall_clock_counts_up_in_the_same_ms)
{
	uint64_t prev = hlc_now(&clk, T0);
	for (int i = 1; i <= 1000; i++) {
		uint64_t t = hlc_now(&clk, T0);
		cr_assert_gt(t, prev);
		cr_assert_eq(hlc_ms(t), T0);
		cr_assert_eq(hlc_logical(t), (uint64_t)i);
		prev = t;
	}
}

Test(hlc, wall_clock_going_back_keeps_order_and_old_ms)
{
	uint64_t a = hlc_now(&clk, T0 + 5000);
	uint64_t b = hlc_now(&clk, T0);
	uint64_t c = hlc_now(&clk, T0 - 100000);
	cr_assert_gt(b, a);
	cr_assert_gt(c, b);
	cr_assert_eq(hlc_ms(c), T0 + 5000);
	cr_assert_eq(hlc_logical(c), 2);
	/* once the wall clock catches up the counter resets */
	uint64_t d = hlc_now(&clk, T0 + 5001);
	cr_assert_eq(d, hlc_make(T0 + 5001, 0));
}

Test(hlc, wall_clock_jump_ahead_is_followed)
{
	hlc_now(&clk, T0);
	hlc_now(&clk, T0);
	uint64_t t = hlc_now(&clk, T0 + 3600000);
	cr_assert_eq(t, hlc_make(T0 + 3600000, 0));
}

Test(hlc, counter_overflow_moves_to_next_ms)
{
	clk.last = hlc_make(T0, HLC_LOGICAL_MASK - 1);
	uint64_t a = hlc_now(&clk, T0);
	cr_assert_eq(a, hlc_make(T0, HLC_LOGICAL_MASK));
	uint64_t b = hlc_now(&clk, T0);
	cr_assert_eq(hlc_ms(b), T0 + 1);
	cr_assert_eq(hlc_logical(b), 0);
	cr_assert_gt(b, a);
	/* the wall clock reaching that ms continues the counter */
	uint64_t c = hlc_now(&clk, T0 + 1);
	cr_assert_eq(c, hlc_make(T0 + 1, 1));
}

Test(hlc, full_ms_of_events_under_a_stuck_clock_stays_increasing)
{
	uint64_t prev = hlc_now(&clk, T0);
	for (uint64_t i = 0; i < 3 * (HLC_LOGICAL_MASK + 1); i++) {
		uint64_t t = hlc_now(&clk, T0);
		cr_assert_gt(t, prev);
		prev = t;
	}
	cr_assert_eq(hlc_ms(prev), T0 + 3);
}

Test(hlc, observe_remote_far_ahead_jumps_past_it)
{
	hlc_now(&clk, T0);
	uint64_t remote = hlc_make(T0 + 86400000, 17);
	uint64_t t = hlc_observe(&clk, remote, T0);
	cr_assert_eq(t, hlc_make(T0 + 86400000, 18));
	/* later local events stay after it while the wall clock lags */
	uint64_t u = hlc_now(&clk, T0 + 1);
	cr_assert_eq(u, hlc_make(T0 + 86400000, 19));
}

Test(hlc, observe_remote_behind_is_like_a_local_event)
{
	uint64_t a = hlc_now(&clk, T0);
	uint64_t t = hlc_observe(&clk, hlc_make(T0 - 10, 500), T0);
	cr_assert_eq(t, a + 1);
	uint64_t u = hlc_observe(&clk, hlc_make(T0 - 10, 500), T0 + 2);
	cr_assert_eq(u, hlc_make(T0 + 2, 0));
}

Test(hlc, observe_remote_equal_to_last_goes_one_past)
{
	uint64_t a = hlc_now(&clk, T0);
	uint64_t t = hlc_observe(&clk, a, T0);
	cr_assert_eq(t, hlc_make(T0, 1));
}

Test(hlc, observe_at_counter_limit_moves_to_next_ms)
{
	uint64_t remote = hlc_make(T0, HLC_LOGICAL_MASK);
	uint64_t t = hlc_observe(&clk, remote, T0);
	cr_assert_eq(t, hlc_make(T0 + 1, 0));
}

Test(hlc, top_of_range_saturates_instead_of_wrapping)
{
	uint64_t t = hlc_now(&clk, UINT64_MAX);
	cr_assert_eq(hlc_ms(t), UINT64_MAX >> HLC_LOGICAL_BITS);
	clk.last = UINT64_MAX;
	cr_assert_eq(hlc_now(&clk, T0), UINT64_MAX);
	cr_assert_eq(hlc_observe(&clk, UINT64_MAX, T0), UINT64_MAX);
}

typedef struct hlc_case {
	uint64_t last_ms, last_logical;
	int observe; /* 0: hlc_now, 1: hlc_observe */
	uint64_t remote_ms, remote_logical;
	uint64_t wall;
	uint64_t want_ms, want_logical;
} hlc_case;

ParameterizedTestParameters(hlc, table_of_steps)
{
	static hlc_case cases[] = {
	    /* now: wall ahead, equal, behind */
	    {100, 0, 0, 0, 0, 101, 101, 0},
	    {100, 3, 0, 0, 0, 100, 100, 4},
	    {100, 3, 0, 0, 0, 50, 100, 4},
	    {100, HLC_LOGICAL_MASK, 0, 0, 0, 100, 101, 0},
	    /* observe: wall wins */
	    {100, 5, 1, 100, 9, 200, 200, 0},
	    /* observe: remote ahead in ms */
	    {100, 5, 1, 150, 9, 120, 150, 10},
	    /* observe: same ms, larger counter wins */
	    {100, 5, 1, 100, 9, 100, 100, 10},
	    {100, 9, 1, 100, 5, 100, 100, 10},
	    /* observe: local ahead */
	    {150, 2, 1, 100, 9, 120, 150, 3},
	    /* observe: wall equals both ms */
	    {100, 1, 1, 100, 1, 100, 100, 2},
	    /* observe: remote counter at its limit */
	    {90, 0, 1, 100, HLC_LOGICAL_MASK, 100, 101, 0},
	};
	return cr_make_param_array(hlc_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(hlc_case *c, hlc, table_of_steps)
{
	hlc h = {.last = hlc_make(c->last_ms, c->last_logical)};
	uint64_t t = c->observe
	                 ? hlc_observe(&h, hlc_make(c->remote_ms, c->remote_logical), c->wall)
	                 : hlc_now(&h, c->wall);
	cr_assert_eq(hlc_ms(t), c->want_ms, "ms %" PRIu64 " want %" PRIu64, hlc_ms(t), c->want_ms);
	cr_assert_eq(hlc_logical(t), c->want_logical, "logical %" PRIu64 " want %" PRIu64,
	             hlc_logical(t), c->want_logical);
	cr_assert_eq(h.last, t);
}

/* Random walk of a wall clock that stalls, steps back and jumps, mixed with
 * remote timestamps near and far: every result is strictly after the
 * previous one and the remote, and never before the wall clock. */
Test(hlc, random_steps_are_strictly_increasing_and_not_before_wall)
{
	unsigned seed = 12345;
	uint64_t wall = T0, prev = 0;
	for (int i = 0; i < 5000; i++) {
		int r = rand_r(&seed) % 100;
		if (r < 30)
			; /* wall clock stands still */
		else if (r < 60)
			wall += (uint64_t)(rand_r(&seed) % 5);
		else if (r < 80)
			wall -= (uint64_t)(rand_r(&seed) % 2000);
		else if (r < 85)
			wall += (uint64_t)(rand_r(&seed) % 100000);
		uint64_t t;
		if (rand_r(&seed) % 3 == 0) {
			int64_t off = (int64_t)(rand_r(&seed) % 20001) - 10000;
			uint64_t remote = hlc_make((uint64_t)((int64_t)wall + off),
			                           (uint64_t)(rand_r(&seed) % 4) * 0x5555);
			t = hlc_observe(&clk, remote, wall);
			cr_assert_gt(t, remote, "step %d", i);
		} else {
			t = hlc_now(&clk, wall);
		}
		cr_assert_gt(t, prev, "step %d", i);
		cr_assert_geq(t, hlc_make(wall, 0), "step %d", i);
		prev = t;
	}
}
