/* test_intervals.c - a long drill's latency per interval and its rules
 * (sim/drill/intervals.c): the first intervals are a warm-up, a slow
 * interval after them is named, the edge's own bucket is held apart from
 * its clients', the last five are compared with the five after the
 * warm-up, a shorter last interval is shown but not held, and a run too
 * short to judge fails.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/drill/drill.h"
#include "sim/drill/intervals.h"
#include "sim/drill/report.h"

#define EVERY 60.0
#define EDGES 2

static const char *const names[EDGES] = {"edge0", "edge1"};
static drill d;
static intervals iv;
static report *rep;

static const char *const rules = "duration 1800\nlatency_every 60\n"
                                 "expect interval_p99_ms 2\n"
                                 "expect interval_edge_p99_ms 1\n"
                                 "expect interval_drift 0.25\n";

static void setup(void)
{
	char err[256];
	cr_assert_eq(drill_parse("t", rules, &d, err, sizeof err), 0, "%s", err);
	intervals_init(&iv, EDGES, EVERY);
	rep = report_new("t", false, EDGES);
}

static void teardown(void)
{
	report_free(rep);
	intervals_free(&iv);
	drill_free(&d);
}

TestSuite(intervals, .init = setup, .fini = teardown, .timeout = 20);

/* n ops of latency us into h. */
static void fill(hist *h, unsigned n, uint64_t us)
{
	for (unsigned i = 0; i < n; i++)
		hist_add(h, us);
}

/* The edge's own buckets: n requests in the bucket of bound le_ms. */
static void srv_at(double *b, double n, double le_ms)
{
	static const double le[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000};
	for (size_t k = 0; k < sizeof le / sizeof le[0]; k++)
		if (fabs(le[k] - le_ms) < 1e-9)
			b[k] += n;
}

/* An interval in which every edge's clients saw w_us for writes and
 * r_us for reads, and each edge itself answered within srv_ms. */
static void add(double t0, double len, uint64_t w_us, uint64_t r_us, double srv_ms)
{
	interval_cell *c = intervals_add(&iv, t0, t0 + len);
	for (unsigned e = 0; e < EDGES; e++) {
		fill(&c[e].w, 1000, w_us);
		fill(&c[e].r, 200, r_us);
		srv_at(c[e].srv_w, 1000, srv_ms);
		srv_at(c[e].srv_r, 200, srv_ms);
		c[e].have_srv = true;
	}
}

/* n whole intervals from the current end of the series. */
static void add_n(size_t n, uint64_t w_us, uint64_t r_us, double srv_ms)
{
	for (size_t i = 0; i < n; i++)
		add((double)iv.n * EVERY, EVERY, w_us, r_us, srv_ms);
}

Test(intervals, a_flat_run_holds_and_the_warm_up_is_not_held)
{
	add_n(2, 9000, 9000, 10); /* a slow start: the first two, not held */
	add_n(28, 900, 700, 0.5);
	cr_expect_eq(intervals_check(&iv, &d, false, names, rep), 0);
	cr_expect(report_passed(rep));
	report_interval_row row;
	intervals_row(&iv, 5, 1, "edge1", &row);
	cr_expect_eq(row.index, 5);
	cr_expect_float_eq(row.t0_s, 300, 1e-9);
	cr_expect(row.complete);
	cr_expect_eq(row.writes, 1000);
	cr_expect_float_eq(row.w_p99_ms, 0.9, 0.06);
	cr_expect_float_eq(row.r_p99_ms, 0.7, 0.05);
	cr_expect_float_eq(row.w_srv_p99_ms, 0.5, 1e-9);
}

Test(intervals, a_slow_interval_after_the_warm_up_is_a_violation_per_edge_and_kind)
{
	add_n(10, 900, 700, 0.5);
	add(600, EVERY, 3000, 700, 0.5); /* interval 11: writes at 3 ms */
	add_n(19, 900, 700, 0.5);
	cr_expect_eq(intervals_check(&iv, &d, false, names, rep), 2, "one per edge");
	cr_expect_not(report_passed(rep));
}

Test(intervals, the_edges_own_p99_is_held_to_its_own_limit)
{
	add_n(10, 900, 700, 0.5);
	add(600, EVERY, 900, 700, 2.5); /* the edge's own, writes and reads */
	add_n(19, 900, 700, 0.5);
	cr_expect_eq(intervals_check(&iv, &d, false, names, rep), 4);
}

Test(intervals, a_tail_that_grows_by_more_than_the_drift_fails)
{
	/* Under 2 ms throughout, but the last five 1.6 x the first five. */
	add_n(7, 1000, 700, 0.5);
	add_n(18, 1200, 700, 0.5);
	add_n(5, 1600, 700, 0.5);
	cr_expect_eq(intervals_check(&iv, &d, false, names, rep), 2, "writes, at each edge");
}

Test(intervals, a_tail_within_the_drift_passes)
{
	add_n(7, 1000, 700, 0.5);
	add_n(23, 1150, 780, 0.5);
	cr_expect_eq(intervals_check(&iv, &d, false, names, rep), 0);
}

Test(intervals, a_shorter_last_interval_is_shown_but_not_held)
{
	add_n(30, 900, 700, 0.5);
	add(1800, 10, 9000, 9000, 10); /* 10 s, slow: the end of a longer run */
	cr_expect_not(intervals_complete(&iv, 30));
	report_interval_row row;
	intervals_row(&iv, 30, 0, "edge0", &row);
	cr_expect_not(row.complete);
	cr_expect_eq(intervals_check(&iv, &d, false, names, rep), 0);
}

Test(intervals, an_edge_without_its_own_buckets_holds_only_its_clients)
{
	add_n(3, 900, 700, 0.5);
	interval_cell *c = intervals_add(&iv, 180, 240);
	fill(&c[0].w, 1000, 900); /* edge0: no scrape at one end; edge1: no ops */
	cr_expect_eq(intervals_check(&iv, &d, false, names, rep), 0);
	report_interval_row row;
	intervals_row(&iv, 3, 0, "edge0", &row);
	cr_expect_lt(row.w_srv_p99_ms, 0, "unknown, not 0");
}

Test(intervals, a_run_too_short_to_judge_fails)
{
	add_n(2, 900, 700, 0.5);
	cr_expect_eq(intervals_check(&iv, &d, false, names, rep), 1);
	cr_expect_not(report_passed(rep));
}

Test(intervals, a_short_run_holds_no_latency)
{
	add_n(2, 9000, 9000, 10);
	add_n(3, 9000, 9000, 10);
	cr_expect_eq(intervals_check(&iv, &d, true, names, rep), 0);
	cr_expect(report_passed(rep));
}

Test(intervals, a_drill_without_interval_keys_holds_nothing)
{
	drill none;
	char err[256];
	cr_assert_eq(drill_parse("n", "duration 60\nlatency_every 10\n", &none, err, sizeof err), 0,
	             "%s", err);
	add_n(5, 9000, 9000, 10);
	cr_expect_eq(intervals_check(&iv, &none, false, names, rep), 0);
	drill_free(&none);
}

Test(intervals, the_instruments_lateness_is_in_every_edges_row)
{
	add_n(2, 800, 900, 0.5);
	hist lag, wake;
	hist_init(&lag);
	hist_init(&wake);
	fill(&lag, 990, 100);
	fill(&lag, 10, 3000); /* the loop 3 ms late on 1% of its ticks */
	fill(&wake, 1000, 60);
	hist echo, hand;
	hist_init(&echo);
	fill(&echo, 1000, 40);
	hist_init(&hand);
	fill(&hand, 1000, 250);
	intervals_set_instrument(&iv, &lag, &hand, &wake, &echo);
	report_interval_row row;
	for (unsigned e = 0; e < EDGES; e++) {
		intervals_row(&iv, 1, e, names[e], &row);
		cr_assert_float_eq(row.lag_p99_ms, 0.1, 0.01, "%f", row.lag_p99_ms);
		cr_assert_float_eq(row.wake_p99_ms, 0.06, 0.01, "%f", row.wake_p99_ms);
		cr_assert_float_eq(row.echo_p99_ms, 0.04, 0.01, "%f", row.echo_p99_ms);
		cr_assert_float_eq(row.hand_p99_ms, 0.25, 0.02, "%f", row.hand_p99_ms);
	}
	/* Unknown where nothing was set: the first interval, and a wake
	 * probe that could not start. */
	intervals_row(&iv, 0, 0, names[0], &row);
	cr_assert_lt(row.lag_p99_ms, 0);
	cr_assert_lt(row.hand_p99_ms, 0);
	cr_assert_lt(row.wake_p99_ms, 0);
	cr_assert_lt(row.echo_p99_ms, 0);
	add_n(1, 800, 900, 0.5);
	intervals_set_instrument(&iv, &lag, NULL, NULL, NULL);
	intervals_row(&iv, 2, 1, names[1], &row);
	cr_assert_gt(row.lag_p99_ms, 0);
	cr_assert_lt(row.hand_p99_ms, 0);
	cr_assert_lt(row.wake_p99_ms, 0);
	cr_assert_lt(row.echo_p99_ms, 0);
}
