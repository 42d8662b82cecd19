/* test_ready.c - edges' readiness in a drill (sim/drill/ready.c): reading a
 * counter from a /metrics body, following an edge's incarnations and the
 * read-throughs each made once ready (the counts counter, or the
 * requests one when the edge lacks it), their split over rate phases,
 * and the drill's expectations on the ready figures. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/drill/ready.h"

TestSuite(ready, .timeout = 10);

static const char metrics_body[] =
    "# HELP likes_edge_readthrough_requests_total HTTP requests sent to central's ops API.\n"
    "# TYPE likes_edge_readthrough_requests_total counter\n"
    "likes_edge_readthrough_requests_total 42\n"
    "likes_edge_readthrough_requests_total_extra 1000\n"
    "likes_edge_readthrough_counts_total{shard=\"0\"} 3\n"
    "likes_edge_readthrough_counts_total{shard=\"1\"} 4.5\n"
    "likes_edge_pending_ops 0\n"
    "likes_edge_broken{a=\"b\" 9\n"
    "likes_edge_no_value \n";

Test(ready, a_metric_is_read_by_its_exact_name_and_labeled_samples_add_up)
{
	double v = -1;
	cr_assert(ready_metric(metrics_body, READY_METRIC_REQUESTS, &v));
	cr_assert_float_eq(v, 42, 1e-9, "the _extra series is another metric");
	cr_assert(ready_metric(metrics_body, READY_METRIC_COUNTS, &v));
	cr_assert_float_eq(v, 7.5, 1e-9);
	cr_assert(ready_metric(metrics_body, "likes_edge_pending_ops", &v));
	cr_assert_float_eq(v, 0, 1e-9);
	v = -1;
	cr_assert_not(ready_metric(metrics_body, "likes_edge_missing_total", &v));
	cr_assert_not(ready_metric(metrics_body, "likes_edge_broken", &v));
	cr_assert_not(ready_metric(metrics_body, "likes_edge_no_value", &v));
	cr_assert_not(ready_metric(metrics_body, "likes_edge", &v), "a prefix is not a name");
	cr_assert_not(ready_metric("", READY_METRIC_COUNTS, &v));
	cr_assert_float_eq(v, -1, 1e-9, "untouched when absent");
	/* The last line needs no newline. */
	cr_assert(ready_metric("a 1\nb 2", "b", &v));
	cr_assert_float_eq(v, 2, 1e-9);
}

/* A /metrics body with the counts counter at n. */
static const char *counts(double n)
{
	static char buf[128];
	snprintf(buf, sizeof buf, "%s 99\n%s %g\n", READY_METRIC_REQUESTS, READY_METRIC_COUNTS, n);
	return buf;
}

Test(ready, read_throughs_count_from_the_first_ready_sample_of_each_incarnation)
{
	ready_edge e;
	memset(&e, 0, sizeof e);
	cr_assert_float_eq(ready_readthroughs(&e), -1, 1e-9, "no metric seen yet");

	/* Loading: read-throughs made before ready do not count. */
	ready_observe(&e, 0.5, 100, 503, counts(5));
	cr_assert_not(e.ready);
	cr_assert_float_eq(ready_readthroughs(&e), 0, 1e-9);
	ready_observe(&e, 1.0, 100, 200, counts(7));
	cr_assert(e.ready);
	cr_assert_str_eq(e.rt_metric, READY_METRIC_COUNTS);
	ready_observe(&e, 2.0, 100, 200, counts(10));
	cr_assert_float_eq(ready_readthroughs(&e), 3, 1e-9);
	/* Not ready for a while: still the same incarnation, still counted. */
	ready_observe(&e, 3.0, 100, 503, counts(11));
	cr_assert_not(e.ready);
	cr_assert_float_eq(ready_readthroughs(&e), 4, 1e-9);

	/* Killed (or wiped): the incarnation ends, its figure stays. */
	ready_down(&e, true);
	cr_assert_eq(e.pid, 0);
	ready_observe(&e, 4.0, 0, 0, NULL);
	cr_assert_float_eq(ready_readthroughs(&e), 4, 1e-9);

	/* A new process: its counter starts again, loading read-throughs
	 * are left out again. */
	ready_observe(&e, 5.0, 200, 503, counts(50));
	ready_observe(&e, 6.5, 200, 200, counts(52));
	ready_observe(&e, 7.0, 200, 200, counts(55));
	cr_assert_float_eq(ready_readthroughs(&e), 7, 1e-9);

	/* A crash sim only notices by the pid: the same. */
	ready_observe(&e, 8.0, 300, 200, counts(1));
	ready_observe(&e, 9.0, 300, 200, counts(2));
	cr_assert_float_eq(ready_readthroughs(&e), 8, 1e-9);

	cr_assert_eq(e.nspells, 3);
	cr_assert_float_eq(e.spells[0].up_s, 0.5, 1e-9);
	cr_assert_float_eq(e.spells[0].ready_s, 1.0, 1e-9);
	cr_assert_float_eq(e.spells[1].up_s, 5.0, 1e-9);
	cr_assert_float_eq(e.spells[1].ready_s, 6.5, 1e-9);
	cr_assert_float_eq(e.spells[2].ready_s, 8.0, 1e-9);
	char text[256];
	ready_spells_text(&e, text, sizeof text);
	cr_assert_str_eq(text, "running at 0.5s, ready at 1.0s (0.5 s); running at 5.0s, ready at "
	                       "6.5s (1.5 s); running at 8.0s, ready at 8.0s (0.0 s)");
}

Test(ready, a_frozen_edge_is_not_ready_but_keeps_its_incarnation)
{
	ready_edge e;
	memset(&e, 0, sizeof e);
	ready_observe(&e, 0, 100, 200, counts(0));
	ready_observe(&e, 1, 100, 200, counts(2));
	ready_down(&e, false);
	cr_assert_not(e.ready);
	cr_assert_eq(e.pid, 100);
	ready_observe(&e, 2, 100, 200, counts(3));
	cr_assert(e.ready);
	cr_assert_float_eq(ready_readthroughs(&e), 3, 1e-9);
	cr_assert_eq(e.nspells, 1);
	/* A poll without /metrics keeps the last figures. */
	ready_observe(&e, 3, 100, 200, "likes_edge_pending_ops 4\nlikes_edge_pending_batches 1\n");
	cr_assert(e.have_pending);
	ready_observe(&e, 4, 100, 200, NULL);
	cr_assert(e.have_pending);
	cr_assert_float_eq(e.pending_ops, 4, 1e-9);
	cr_assert_float_eq(e.scraped_s, 3, 1e-9);
	cr_assert_float_eq(ready_readthroughs(&e), 3, 1e-9);
}

Test(ready, without_the_counts_counter_the_requests_counter_stands_in)
{
	ready_edge e;
	memset(&e, 0, sizeof e);
	ready_observe(&e, 0, 100, 200, READY_METRIC_REQUESTS " 10\n");
	ready_observe(&e, 1, 100, 200, READY_METRIC_REQUESTS " 12\n");
	cr_assert_str_eq(e.rt_metric, READY_METRIC_REQUESTS);
	cr_assert_float_eq(ready_readthroughs(&e), 2, 1e-9);

	/* An edge with no counter at all: unknown, not 0. */
	ready_edge none;
	memset(&none, 0, sizeof none);
	ready_observe(&none, 0, 100, 200, "likes_edge_pending_ops 0\n");
	ready_observe(&none, 1, 100, 200, NULL);
	cr_assert(none.ready);
	cr_assert_float_eq(ready_readthroughs(&none), -1, 1e-9);
}

Test(ready, each_rate_phase_gets_the_read_throughs_made_during_it)
{
	ready_watch w;
	ready_init(&w, 2);
	ready_observe(&w.e[0], 0, 100, 200, counts(0));
	ready_observe(&w.e[1], 0, 101, 503, counts(0));
	cr_assert_eq(ready_phase(&w, "300 ops/s from 0.0s"), 0);
	ready_observe(&w.e[0], 1, 100, 200, counts(4));
	ready_observe(&w.e[1], 1, 101, 503, counts(9)); /* loading: not counted */
	cr_assert_eq(ready_phase(&w, "900 ops/s from 1.0s"), 1);
	ready_observe(&w.e[0], 2, 100, 200, counts(5));
	ready_observe(&w.e[1], 2, 101, 200, counts(9));
	ready_observe(&w.e[1], 3, 101, 200, counts(11));
	cr_assert_eq(ready_phase(&w, "after the load"), 2);
	ready_observe(&w.e[0], 4, 100, 200, counts(6));
	cr_assert_str_eq(w.phase_name[1], "900 ops/s from 1.0s");
	cr_assert_float_eq(ready_phase_readthroughs(&w, 0, 0), 4, 1e-9);
	cr_assert_float_eq(ready_phase_readthroughs(&w, 0, 1), 1, 1e-9);
	cr_assert_float_eq(ready_phase_readthroughs(&w, 0, 2), 1, 1e-9);
	cr_assert_float_eq(ready_readthroughs(&w.e[0]), 6, 1e-9);
	cr_assert_float_eq(ready_phase_readthroughs(&w, 1, 0), 0, 1e-9);
	cr_assert_float_eq(ready_phase_readthroughs(&w, 1, 1), 2, 1e-9);
	cr_assert_float_eq(ready_phase_readthroughs(&w, 1, 2), 0, 1e-9);
	cr_assert_float_eq(ready_phase_readthroughs(&w, 1, 3), -1, 1e-9, "no such phase");
	cr_assert_float_eq(ready_phase_readthroughs(&w, 2, 0), -1, 1e-9, "no such edge");

	/* Past the most phases, the last one goes on. */
	for (int i = 3; i < READY_PHASES_MAX; i++)
		cr_assert_eq(ready_phase(&w, "more"), (unsigned)i);
	cr_assert_eq(ready_phase(&w, "one too many"), READY_PHASES_MAX - 1);
	cr_assert_eq(w.nphases, READY_PHASES_MAX);
}

/* A row of edge name with its figures. */
static report_ready_row row(const char *edge, const char *phase, uint64_t writes, double w99,
                            uint64_t reads, double r99, uint64_t errs, double rt)
{
	report_ready_row q;
	memset(&q, 0, sizeof q);
	snprintf(q.edge, sizeof q.edge, "%s", edge);
	snprintf(q.phase, sizeof q.phase, "%s", phase);
	q.writes = writes;
	q.w_p50_ms = w99 / 4;
	q.w_p99_ms = w99;
	q.w_p999_ms = w99 * 2;
	q.reads = reads;
	q.r_p50_ms = r99 / 4;
	q.r_p99_ms = r99;
	q.read_errors = errs;
	q.readthroughs = rt;
	return q;
}

static drill expecting(const char *text)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("x", text, &d, err, sizeof err), 0, "%s", err);
	return d;
}

Test(ready, figures_within_the_expectations_pass)
{
	drill d = expecting("duration 60\nexpect ready_write_p99_ms 5\nexpect ready_read_p99_ms 2\n"
	                    "expect ready_readthroughs 0\nexpect ready_read_errors 0\n"
	                    "expect read_errors 0\n");
	report_ready_row rows[] = {
	    row("edge0", "300 ops/s", 100, 4.9, 10, 2, 0, 0),
	    row("edge0", "after the load", 0, 0, 0, 0, 0, 0),
	    row("edge0", "whole run", 100, 4.9, 10, 2, 0, 0),
	};
	bool whole[] = {false, false, true};
	report *r = report_new("x", false, 1);
	cr_assert_eq(ready_check(&d, false, rows, whole, 3, 0, r), 0);
	cr_assert_eq(report_violations(r), 0);
	report_free(r);
	drill_free(&d);
}

Test(ready, the_interval_keys_are_left_to_the_intervals)
{
	drill d = expecting("duration 60\nlatency_every 10\nexpect interval_p99_ms 0.1\n"
	                    "expect interval_edge_p99_ms 0.1\nexpect interval_drift 0\n");
	report_ready_row rows[] = {
	    row("edge0", "300 ops/s", 100, 4.9, 10, 2, 0, 0),
	    row("edge0", "whole run", 100, 4.9, 10, 2, 0, 0),
	};
	bool whole[] = {false, true};
	report *r = report_new("x", false, 1);
	cr_assert_eq(ready_check(&d, false, rows, whole, 2, 0, r), 0);
	cr_assert_eq(report_violations(r), 0, "no 'no figure to hold' for them");
	report_free(r);
	/* A short run says they were not held, as for the ready latencies. */
	r = report_new("x", true, 1);
	cr_assert_eq(ready_check(&d, true, rows, whole, 2, 0, r), 0);
	report_free(r);
	drill_free(&d);
}

Test(ready, the_takeover_key_is_left_to_the_takeovers)
{
	drill d = expecting("duration 60\nchangelog 1\nstandby 1\nexpect takeover_max_s 0\n");
	report_ready_row rows[] = {
	    row("edge0", "whole run", 0, 0, 0, 0, 0, -1), /* never ready: held by nothing */
	};
	bool whole[] = {true};
	report *r = report_new("x", false, 1);
	cr_assert_eq(ready_check(&d, false, rows, whole, 1, 0, r), 0);
	cr_assert_eq(report_violations(r), 0, "no 'no figure to hold' for it");
	report_free(r);
	drill_free(&d);
}

Test(ready, each_missed_expectation_is_a_violation)
{
	drill d = expecting("duration 60\nexpect ready_write_p99_ms 5\nexpect ready_read_p99_ms 2\n"
	                    "expect ready_readthroughs 0\nexpect ready_read_errors 0\n"
	                    "expect read_errors 1\nexpect ready_write_p999_ms 100\n");
	report_ready_row rows[] = {
	    row("edge0", "300 ops/s", 100, 6, 10, 1, 0, 0),   /* write p99 */
	    row("edge0", "900 ops/s", 100, 4, 10, 2.5, 1, 3), /* read p99, errors, rt */
	    row("edge0", "whole run", 200, 6, 20, 2.5, 1, 3), /* the same four */
	    row("edge1", "300 ops/s", 0, 0, 0, 0, 0, 0),
	    row("edge1", "whole run", 0, 0, 0, 0, 0, 0),   /* never ready: one miss */
	    row("edge2", "whole run", 50, 1, 0, 0, 0, -1), /* no reads, no counter */
	};
	bool whole[] = {false, false, true, false, true, true};
	report *r = report_new("x", false, 3);
	size_t miss = ready_check(&d, false, rows, whole, 6, 2, r);
	/* 1 + 3 + 4 edge0, 1 edge1, 2 edge2, 1 read_errors. */
	cr_assert_eq(miss, 12, "%zu misses", miss);
	cr_assert_eq(report_violations(r), 12);
	cr_assert_not(report_passed(r));
	report_free(r);

	/* A short run holds the counts but not the latencies: 4 edge0 (read
	 * errors and read-throughs, 900 and whole run), 1 edge1, 1 edge2 (no
	 * counter; its missing read p99 is a latency), 1 read_errors. */
	r = report_new("x", true, 3);
	miss = ready_check(&d, true, rows, whole, 6, 2, r);
	cr_assert_eq(miss, 7, "%zu misses in the short run", miss);
	cr_assert_eq(report_violations(r), 7);
	report_free(r);

	drill_free(&d);

	/* Without ready_* expectations an edge never ready is no miss. */
	d = expecting("duration 60\nexpect read_errors 5\n");
	r = report_new("x", false, 3);
	cr_assert_eq(ready_check(&d, false, rows, whole, 6, 2, r), 0);
	report_free(r);
	drill_free(&d);
}

/* The edge's request-duration buckets of one route, cumulative. */
static const char *srv_body =
    "# TYPE likes_edge_request_duration_seconds histogram\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"0.0001\"} 10\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"0.00025\"} 500\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"0.0005\"} 900\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"0.001\"} 980\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"0.0025\"} 989\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"0.005\"} 995\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"0.01\"} 999\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"0.025\"} 1000\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"0.05\"} 1000\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"0.1\"} 1000\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"0.25\"} 1000\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"0.5\"} 1000\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"1\"} 1000\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"2.5\"} 1000\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"5\"} 1000\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"10\"} 1000\n"
    "likes_edge_request_duration_seconds_bucket{route=\"write\",le=\"+Inf\"} 1000\n"
    "likes_edge_request_duration_seconds_count{route=\"write\"} 1000\n";

Test(ready, server_side_buckets_and_their_p99)
{
	double cum[READY_BUCKETS];
	cr_assert(ready_srv_parse(srv_body, READY_ROUTE_WRITE, cum));
	cr_assert_float_eq(cum[0], 10, 1e-9);
	cr_assert_float_eq(cum[READY_BUCKETS - 1], 1000, 1e-9);
	cr_assert_not(ready_srv_parse(srv_body, READY_ROUTE_COUNTS, cum), "no counts route");

	/* 989 of 1000 by 2.5 ms, 995 by 5 ms: the p99 is in the 5 ms bucket. */
	double counts[READY_BUCKETS] = {10, 490, 400, 80, 9, 6, 4, 1};
	cr_assert_float_eq(ready_srv_quantile_ms(counts, 0.99), 5, 1e-9);
	cr_assert_float_eq(ready_srv_quantile_ms(counts, 0.5), 0.25, 1e-9);
	double none[READY_BUCKETS] = {0};
	cr_assert_float_eq(ready_srv_quantile_ms(none, 0.99), -1, 1e-9);
	double slow[READY_BUCKETS] = {0};
	slow[READY_BUCKETS - 1] = 3;
	cr_assert(isinf(ready_srv_quantile_ms(slow, 0.99)), "past the last bound");
}

/* srv_body's buckets times factor, for both routes (an edge exports
 * every route's), into buf. */
static void both_routes(char *buf, size_t cap, double factor)
{
	size_t k = 0;
	for (int route = 0; route < 2; route++)
		for (const char *line = srv_body; *line && k + 200 < cap;) {
			const char *end = strchr(line, '\n');
			char one[256];
			snprintf(one, sizeof one, "%.*s", (int)(end - line), line);
			line = end + 1;
			const char *sp = strrchr(one, ' ');
			const char *rest = strstr(one, "\",le=");
			if (one[0] == '#' || !strstr(one, "_bucket{") || !sp || !rest)
				continue;
			k += (size_t)snprintf(
			    buf + k, cap - k,
			    "likes_edge_request_duration_seconds_bucket{route=\"%s%.*s %g\n",
			    route ? "counts" : "write", (int)(sp - rest), rest,
			    factor * strtod(sp + 1, NULL));
		}
}

static double total_of(const double *counts)
{
	double n = 0;
	for (int b = 0; b < READY_BUCKETS; b++)
		n += counts[b];
	return n;
}

Test(ready, server_side_figures_count_from_the_first_ready_sample)
{
	char once[8192], twice[8192];
	both_routes(once, sizeof once, 1);
	both_routes(twice, sizeof twice, 2);
	ready_watch w;
	ready_init(&w, 1);
	ready_edge *e = &w.e[0];
	/* Loading: its requests so far are not the ready edge's. */
	ready_observe(e, 0, 42, 503, once);
	ready_observe(e, 1, 42, 200, once);
	unsigned p = ready_phase(&w, "300 ops/s");
	cr_assert_eq(p, 0);
	double out[READY_BUCKETS];
	ready_phase_srv(&w, 0, p, READY_ROUTE_WRITE, out);
	cr_assert_float_eq(ready_srv_quantile_ms(out, 0.99), -1, 1e-9, "nothing since ready");
	/* The same process later: 1000 more of each. */
	ready_observe(e, 5, 42, 200, twice);
	ready_phase_srv(&w, 0, p, READY_ROUTE_WRITE, out);
	cr_assert_float_eq(total_of(out), 1000, 1e-9,
	                   "only what came after the first ready sample");
	cr_assert_float_eq(ready_srv_quantile_ms(out, 0.99), 5, 1e-9);
	ready_phase_srv(&w, 0, p, READY_ROUTE_COUNTS, out);
	cr_assert_float_eq(total_of(out), 1000, 1e-9);
	/* A new incarnation keeps the old one's share and starts its own at
	 * its first ready sample. */
	ready_observe(e, 6, 43, 200, once);
	ready_observe(e, 7, 43, 200, twice);
	ready_run_srv(e, READY_ROUTE_WRITE, out);
	cr_assert_float_eq(total_of(out), 2000, 1e-9);
}

Test(ready, a_region_with_a_standby_is_ready_while_either_instance_is)
{
	char once[8192], twice[8192];
	both_routes(once, sizeof once, 1);
	both_routes(twice, sizeof twice, 2);
	ready_watch w;
	ready_init(&w, 2);
	ready_set_instances(&w, 2);
	cr_assert_eq(w.ninst, 2);
	ready_edge *a = &w.e[READY_SLOT(1, 0)], *b = &w.e[READY_SLOT(1, 1)];
	cr_assert_eq(a, &w.e[1], "edgeN's first instance is where it was");
	cr_assert_eq(a->writer, -1, "nobody said who writes yet");
	/* edge1's first instance is active, its standby answers 503. */
	ready_observe(a, 0, 100, 200, counts(0));
	ready_observe(b, 0, 200, 503, counts(0));
	cr_assert(ready_region(&w, 1));
	cr_assert_not(ready_region(&w, 0), "edge0 was never seen");
	unsigned p = ready_phase(&w, "300 ops/s from 0.0s");
	ready_observe(a, 1, 100, 200, counts(3));
	ready_observe(b, 1, 200, 503, counts(1)); /* a standby's: not once ready */
	/* The active one is lost; the standby takes over and reads through. */
	ready_down(a, true);
	cr_assert_not(ready_region(&w, 1), "the standby has not taken over yet");
	ready_observe(b, 2, 200, 200, counts(1));
	cr_assert(ready_region(&w, 1));
	ready_observe(b, 3, 200, 200, counts(5));
	cr_assert_float_eq(ready_phase_readthroughs(&w, 1, p), 7, 1e-9, "3 + 4, both instances");
	cr_assert_float_eq(ready_region_readthroughs(&w, 1), 7, 1e-9);
	cr_assert_float_eq(ready_region_readthroughs(&w, 0), -1, 1e-9, "no metric seen at edge0");

	/* Server-side buckets add up over the instances too. */
	ready_watch v;
	ready_init(&v, 1);
	ready_set_instances(&v, 2);
	ready_observe(&v.e[READY_SLOT(0, 0)], 0, 1, 200, once);
	ready_observe(&v.e[READY_SLOT(0, 1)], 0, 2, 200, once);
	unsigned q = ready_phase(&v, "300 ops/s");
	ready_observe(&v.e[READY_SLOT(0, 0)], 1, 1, 200, twice);
	ready_observe(&v.e[READY_SLOT(0, 1)], 1, 2, 200, twice);
	double out[READY_BUCKETS];
	ready_phase_srv(&v, 0, q, READY_ROUTE_WRITE, out);
	cr_assert_float_eq(total_of(out), 2000, 1e-9);
	cr_assert(ready_region_srv(&v, 0, READY_ROUTE_COUNTS, out));
	cr_assert_float_eq(total_of(out), 2000, 1e-9);
	ready_set_instances(&v, 9);
	cr_assert_eq(v.ninst, READY_INSTANCES_MAX, "at most the cluster's instances");
}
