/* test_report.c - a drill's report (sim/drill/report.c, sim/drill/report_svg.c):
 * report.json parses with every field, summary.txt says PASS or FAIL for
 * the right reasons, viral.svg is well formed with one polyline per
 * unbroken series and escaped labels, the ready edges' table, and empty,
 * single-sample, gapped and huge inputs all render. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/support/testdir.h"
#include "xmem.h"
#include "sim/drill/report.h"
#include "sim/drill/soak.h"

static char tmpdir[64];

static void setup(void)
{
	testdir_make(tmpdir, sizeof tmpdir, "test_report");
}

static void teardown(void)
{
	testdir_remove(tmpdir);
}

TestSuite(report, .init = setup, .fini = teardown, .timeout = 20);

/* The whole of tmpdir/name, NUL-terminated; the caller frees it. */
static char *slurp(const char *name)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "open %s", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	cr_assert_geq(n, 0);
	rewind(f);
	char *buf = xmalloc((size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static json_t *load_json(void)
{
	char path[128];
	json_error_t jerr;
	snprintf(path, sizeof path, "%s/report.json", tmpdir);
	json_t *j = json_load_file(path, 0, &jerr);
	cr_assert_not_null(j, "report.json: line %d: %s", jerr.line, jerr.text);
	return j;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Starts with <svg, ends with </svg>, every coordinate of every polyline
 * inside the picture, no NaN or infinity anywhere. */
static void assert_svg_sane(const char *svg)
{
	cr_assert_eq(strncmp(svg, "<svg", 4), 0, "starts with %.20s", svg);
	size_t n = strlen(svg);
	cr_assert(n > 8 && strcmp(svg + n - 7, "</svg>\n") == 0, "ends with %s",
	          svg + (n > 20 ? n - 20 : 0));
	cr_assert_eq(count(svg, "<svg"), 1);
	cr_assert_null(strstr(svg, "nan"));
	cr_assert_null(strstr(svg, "inf"));
	for (const char *p = strstr(svg, "points=\""); p; p = strstr(p + 1, "points=\"")) {
		const char *q = p + 8;
		while (*q != '"') {
			char *end;
			double x = strtod(q, &end);
			cr_assert(end != q && *end == ',', "bad point at %.20s", q);
			double y = strtod(end + 1, &end);
			cr_assert(x >= 0 && x <= 900 && y >= 0 && y <= 640, "point %g,%g outside",
			          x, y);
			q = end;
			while (*q == ' ')
				q++;
		}
	}
	/* Every opened element is closed: tags balance. */
	cr_assert_eq(count(svg, "<text"), count(svg, "</text>"));
	cr_assert_eq(count(svg, "<title>"), count(svg, "</title>"));
}

static void write_ok(report *r)
{
	cr_assert_eq(report_write(r, tmpdir), 0);
}

static void feed_samples(report *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int64_t ans[3] = {(int64_t)(i * 10), (int64_t)(i * 9), (int64_t)(i * 8)};
		report_sample(r, (double)i * 0.5, i * 10, ans, 3, 2.0 + (double)i);
	}
}

Test(report, full_report_writes_all_three_files)
{
	report *r = report_new("edge_kafka_partition", true, 3);
	report_fault(r, 2, 6, "cut edge0 <kafka> & \"x\"");
	report_fault(r, 7, -1, "broker_down all");
	feed_samples(r, 20);
	report_latency(r, "before", REPORT_WRITES, 1200, 1.5, 4.25, 9);
	report_latency(r, "during cut", REPORT_READS, 300, 0.5, 2, 3.5);
	report_convergence(r, "heal edge0 kafka", 1.75, true);
	report_number(r, "ops_acked", 12345);
	report_number(r, "ratio", 0.5);
	report_number(r, "ops_acked", 12346); /* a second value replaces the first */
	report_text(r, "note", "line1\nline2 \"quoted\" \xff");
	cr_assert_eq(report_violations(r), 0);
	cr_assert(report_passed(r));
	write_ok(r);
	report_free(r);

	json_t *j = load_json();
	cr_assert_str_eq(json_string_value(json_object_get(j, "drill")), "edge_kafka_partition");
	cr_assert(json_is_true(json_object_get(j, "short")));
	cr_assert(json_is_true(json_object_get(j, "pass")));
	cr_assert_eq(json_integer_value(json_object_get(j, "samples")), 20);
	json_t *nums = json_object_get(j, "numbers");
	cr_assert_eq(json_object_size(nums), 2);
	cr_assert(json_is_integer(json_object_get(nums, "ops_acked")));
	cr_assert_eq(json_integer_value(json_object_get(nums, "ops_acked")), 12346);
	cr_assert_float_eq(json_real_value(json_object_get(nums, "ratio")), 0.5, 1e-12);
	/* Control characters and bad UTF-8 are cleaned, quotes survive. */
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "texts"), "note")),
	                 "line1 line2 \"quoted\" ?");

	json_t *lat = json_object_get(j, "latency");
	cr_assert_eq(json_array_size(lat), 2);
	json_t *l0 = json_array_get(lat, 0), *l1 = json_array_get(lat, 1);
	cr_assert_str_eq(json_string_value(json_object_get(l0, "phase")), "before");
	cr_assert_str_eq(json_string_value(json_object_get(l0, "kind")), "write");
	cr_assert_eq(json_integer_value(json_object_get(l0, "n")), 1200);
	cr_assert_float_eq(json_number_value(json_object_get(l0, "p50_ms")), 1.5, 1e-9);
	cr_assert_float_eq(json_number_value(json_object_get(l0, "p99_ms")), 4.25, 1e-9);
	cr_assert_float_eq(json_number_value(json_object_get(l0, "p999_ms")), 9, 1e-9);
	cr_assert_str_eq(json_string_value(json_object_get(l1, "kind")), "read");

	json_t *faults = json_object_get(j, "faults");
	cr_assert_eq(json_array_size(faults), 2);
	json_t *f0 = json_array_get(faults, 0);
	cr_assert_str_eq(json_string_value(json_object_get(f0, "label")),
	                 "cut edge0 <kafka> & \"x\"");
	cr_assert_float_eq(json_number_value(json_object_get(f0, "start_s")), 2, 1e-9);
	cr_assert_float_eq(json_number_value(json_object_get(f0, "end_s")), 6, 1e-9);
	cr_assert(json_is_null(json_object_get(json_array_get(faults, 1), "end_s")));

	json_t *conv = json_object_get(j, "convergence");
	cr_assert_eq(json_array_size(conv), 1);
	json_t *c0 = json_array_get(conv, 0);
	cr_assert_str_eq(json_string_value(json_object_get(c0, "after")), "heal edge0 kafka");
	cr_assert_float_eq(json_number_value(json_object_get(c0, "seconds")), 1.75, 1e-9);
	cr_assert(json_is_true(json_object_get(c0, "converged")));
	cr_assert_eq(json_array_size(json_object_get(j, "violations")), 0);
	json_decref(j);

	char *sum = slurp("summary.txt");
	cr_assert_not_null(strstr(sum, "edge_kafka_partition"));
	cr_assert_not_null(strstr(sum, "PASS"));
	cr_assert_null(strstr(sum, "FAIL"));
	cr_assert_not_null(strstr(sum, "12346"));
	cr_assert_not_null(strstr(sum, "during cut"));
	cr_assert_not_null(strstr(sum, "4.25"));
	cr_assert_not_null(strstr(sum, "heal edge0 kafka"));
	cr_assert_not_null(strstr(sum, "broker_down all"));
	free(sum);

	char *svg = slurp("viral.svg");
	assert_svg_sane(svg);
	/* Three regions, the truth, the p99: one unbroken line each. */
	cr_assert_eq(count(svg, "<polyline"), 5, "%zu polylines", count(svg, "<polyline"));
	cr_assert_eq(count(svg, "class=\"truth\""), 1);
	cr_assert_eq(count(svg, "class=\"p99\""), 1);
	for (int k = 0; k < 3; k++) {
		char cls[32];
		snprintf(cls, sizeof cls, "<polyline class=\"edge%d\"", k);
		cr_assert_eq(count(svg, cls), 1, "%s", cls);
	}
	cr_assert_eq(count(svg, "class=\"fault\""), 4); /* two windows, two plots each */
	cr_assert_not_null(strstr(svg, "cut edge0 &lt;kafka&gt; &amp; &quot;x&quot;"));
	cr_assert_null(strstr(svg, "<kafka>"));
	cr_assert_not_null(strstr(svg, "edge_kafka_partition"));
	cr_assert_not_null(strstr(svg, "edge2 answer"));
	cr_assert_not_null(strstr(svg, "ack p99 (ms)"));
	free(svg);
}

Test(report, ready_rows_go_to_the_json_and_the_summary)
{
	report *r = report_new("geo", false, 2);
	report_ready_row q = {.edge = "edge0",
	                      .phase = "300 ops/s from 0.0s",
	                      .writes = 9000,
	                      .w_p50_ms = 0.5,
	                      .w_p99_ms = 3.25,
	                      .w_p999_ms = 7.5,
	                      .reads = 1800,
	                      .r_p50_ms = 0.25,
	                      .r_p99_ms = 1.75,
	                      .read_errors = 2,
	                      .readthroughs = 0};
	report_ready(r, &q);
	report_ready_row none = {
	    .edge = "edge1", .phase = "whole run \x01\xff", .readthroughs = -1};
	report_ready(r, &none);
	cr_assert(report_passed(r), "rows alone hold nothing");
	write_ok(r);
	report_free(r);

	json_t *j = load_json();
	json_t *rows = json_object_get(j, "ready");
	cr_assert_eq(json_array_size(rows), 2);
	json_t *a = json_array_get(rows, 0), *b = json_array_get(rows, 1);
	cr_assert_str_eq(json_string_value(json_object_get(a, "edge")), "edge0");
	cr_assert_str_eq(json_string_value(json_object_get(a, "phase")), "300 ops/s from 0.0s");
	cr_assert_eq(json_integer_value(json_object_get(a, "writes")), 9000);
	cr_assert_float_eq(json_number_value(json_object_get(a, "write_p99_ms")), 3.25, 1e-9);
	cr_assert_float_eq(json_number_value(json_object_get(a, "write_p999_ms")), 7.5, 1e-9);
	cr_assert_eq(json_integer_value(json_object_get(a, "reads")), 1800);
	cr_assert_float_eq(json_number_value(json_object_get(a, "read_p99_ms")), 1.75, 1e-9);
	cr_assert_eq(json_integer_value(json_object_get(a, "read_errors")), 2);
	cr_assert_float_eq(json_number_value(json_object_get(a, "readthroughs")), 0, 1e-9);
	cr_assert(json_is_null(json_object_get(b, "readthroughs")), "unknown is null");
	cr_assert(json_is_null(json_object_get(b, "write_p99_ms")), "no writes, no quantile");
	cr_assert(json_is_null(json_object_get(b, "read_p50_ms")));
	cr_assert_eq(json_integer_value(json_object_get(b, "writes")), 0);
	cr_assert_str_eq(json_string_value(json_object_get(b, "phase")), "whole run  ?");
	json_decref(j);

	char *sum = slurp("summary.txt");
	cr_assert_not_null(strstr(sum, "ready edges"));
	cr_assert_not_null(strstr(sum, "300 ops/s from 0.0s"));
	cr_assert_not_null(strstr(sum, "3.25"));
	cr_assert_not_null(strstr(sum, "1.75"));
	/* A row without ops shows dashes, not zeros, for its quantiles. */
	const char *line = strstr(sum, "edge1");
	cr_assert_not_null(line);
	cr_assert_not_null(strstr(line, "       -"), "%s", line);
	free(sum);
}

Test(report, takeovers_go_to_the_json_and_the_summary)
{
	report *r = report_new("standby_wipe", true, 3);
	report_takeover_row q = {.region = "edge1",
	                         .lost = "edge1 (r1-a)",
	                         .by = "edge1.standby (r1-b)",
	                         .step = "at 20 wipe edge1",
	                         .at_s = 5,
	                         .seconds = 2.25,
	                         .in_flight = 3,
	                         .pending_ops = 17,
	                         .pending_batches = 1};
	report_takeover(r, &q);
	report_takeover_row none = {.region = "edge2",
	                            .lost = "edge2 (r2-b)",
	                            .step = "at 30 stop edge2",
	                            .at_s = 7.5,
	                            .seconds = -1,
	                            .pending_ops = -1,
	                            .pending_batches = -1};
	report_takeover(r, &none);
	cr_assert(report_passed(r), "rows alone hold nothing");
	write_ok(r);
	report_free(r);

	json_t *j = load_json();
	json_t *rows = json_object_get(j, "takeovers");
	cr_assert_eq(json_array_size(rows), 2);
	json_t *a = json_array_get(rows, 0), *b = json_array_get(rows, 1);
	cr_assert_str_eq(json_string_value(json_object_get(a, "region")), "edge1");
	cr_assert_str_eq(json_string_value(json_object_get(a, "step")), "at 20 wipe edge1");
	cr_assert_str_eq(json_string_value(json_object_get(a, "by")), "edge1.standby (r1-b)");
	cr_assert_float_eq(json_number_value(json_object_get(a, "seconds")), 2.25, 1e-9);
	cr_assert_eq(json_integer_value(json_object_get(a, "writes_in_flight")), 3);
	cr_assert_float_eq(json_number_value(json_object_get(a, "pending_ops")), 17, 1e-9);
	cr_assert(json_is_null(json_object_get(b, "seconds")), "no takeover is null");
	cr_assert(json_is_null(json_object_get(b, "by")));
	cr_assert(json_is_null(json_object_get(b, "pending_batches")), "unknown is null");
	json_decref(j);

	char *sum = slurp("summary.txt");
	cr_assert_not_null(strstr(sum, "takeovers"));
	const char *line = strstr(sum, "at 20 wipe edge1");
	cr_assert_not_null(line);
	cr_assert_not_null(strstr(line, "2.25"), "%s", line);
	line = strstr(sum, "at 30 stop edge2");
	cr_assert_not_null(line);
	cr_assert_not_null(strstr(line, "none"), "%s", line);
	free(sum);

	/* A drill without standbys has no such table. */
	r = report_new("baseline", true, 3);
	write_ok(r);
	report_free(r);
	j = load_json();
	cr_assert_null(json_object_get(j, "takeovers"));
	json_decref(j);
	sum = slurp("summary.txt");
	cr_assert_null(strstr(sum, "takeovers"));
	free(sum);
}

Test(report, a_violation_fails_the_run)
{
	report *r = report_new("d", false, 2);
	feed_samples(r, 3);
	report_convergence(r, "end of load", 2, true);
	report_violation(r, "lost: item=%s counter=%s edge=%d expected=%d seen=%d", "post:viral",
	                 "likes", 1, 10, 9);
	cr_assert_eq(report_violations(r), 1);
	cr_assert_not(report_passed(r));
	write_ok(r);
	report_free(r);

	json_t *j = load_json();
	cr_assert(json_is_false(json_object_get(j, "pass")));
	cr_assert(json_is_false(json_object_get(j, "short")));
	json_t *v = json_object_get(j, "violations");
	cr_assert_eq(json_array_size(v), 1);
	cr_assert_str_eq(json_string_value(json_array_get(v, 0)),
	                 "lost: item=post:viral counter=likes edge=1 expected=10 seen=9");
	json_decref(j);

	char *sum = slurp("summary.txt");
	cr_assert_not_null(strstr(sum, "FAIL"));
	cr_assert_null(strstr(sum, "PASS"));
	cr_assert_not_null(strstr(sum, "lost: item=post:viral counter=likes edge=1"));
	free(sum);
}

Test(report, a_convergence_not_reached_fails_the_run)
{
	report *r = report_new("d", false, 1);
	report_convergence(r, "heal edge0 kafka", 1, true);
	report_convergence(r, "end of load", 60, false);
	cr_assert_eq(report_violations(r), 0);
	cr_assert_not(report_passed(r));
	write_ok(r);
	report_free(r);

	json_t *j = load_json();
	cr_assert(json_is_false(json_object_get(j, "pass")));
	cr_assert(json_is_false(
	    json_object_get(json_array_get(json_object_get(j, "convergence"), 1), "converged")));
	json_decref(j);
	char *sum = slurp("summary.txt");
	cr_assert_not_null(strstr(sum, "FAIL"));
	cr_assert_not_null(strstr(sum, "NOT converged"));
	free(sum);
}

Test(report, empty_report_renders)
{
	report *r = report_new("empty", false, 3);
	cr_assert(report_passed(r));
	write_ok(r);
	report_free(r);

	json_t *j = load_json();
	cr_assert_eq(json_integer_value(json_object_get(j, "samples")), 0);
	cr_assert_eq(json_array_size(json_object_get(j, "latency")), 0);
	cr_assert_eq(json_array_size(json_object_get(j, "faults")), 0);
	cr_assert_eq(json_object_size(json_object_get(j, "numbers")), 0);
	json_decref(j);
	char *sum = slurp("summary.txt");
	cr_assert_not_null(strstr(sum, "PASS"));
	free(sum);
	char *svg = slurp("viral.svg");
	assert_svg_sane(svg);
	cr_assert_eq(count(svg, "<polyline"), 0);
	cr_assert_not_null(strstr(svg, "no samples"));
	free(svg);
}

Test(report, single_sample_draws_a_dot_per_series)
{
	report *r = report_new("one", false, 2);
	int64_t ans[2] = {5, 7};
	report_sample(r, 3, 7, ans, 2, 1.25);
	write_ok(r);
	report_free(r);
	char *svg = slurp("viral.svg");
	assert_svg_sane(svg);
	cr_assert_eq(count(svg, "<polyline"), 4);
	cr_assert_eq(count(svg, "<circle"), 4);
	cr_assert_null(strstr(svg, "no samples"));
	free(svg);
}

Test(report, no_answer_breaks_a_regions_line)
{
	report *r = report_new("gaps", false, 3);
	for (int i = 0; i < 9; i++) {
		/* edge1 does not answer in samples 3..5; edge2 never does. */
		int64_t ans[3] = {i, (i >= 3 && i <= 5) ? -1 : i, -1};
		double p99 = i == 4 ? NAN : 3.0;
		report_sample(r, i, (uint64_t)i, ans, 3, p99);
	}
	write_ok(r);
	report_free(r);
	char *svg = slurp("viral.svg");
	assert_svg_sane(svg);
	cr_assert_eq(count(svg, "<polyline class=\"edge0\""), 1);
	cr_assert_eq(count(svg, "<polyline class=\"edge1\""), 2);
	cr_assert_eq(count(svg, "<polyline class=\"edge2\""), 0);
	cr_assert_eq(count(svg, "<polyline class=\"truth\""), 1);
	cr_assert_eq(count(svg, "<polyline class=\"p99\""), 2);
	free(svg);
}

Test(report, huge_values_stay_inside_the_picture)
{
	report *r = report_new("huge", false, 2);
	int64_t a0[2] = {INT64_MAX, 0};
	int64_t a1[2] = {1, INT64_MAX / 2};
	report_sample(r, 0, UINT64_MAX, a0, 2, 1e15);
	report_sample(r, 1e6, 0, a1, 2, INFINITY);
	report_fault(r, -5, 2e6, "long");
	report_fault(r, NAN, 3, "not a time");
	report_latency(r, "p", false, UINT64_MAX, NAN, INFINITY, 1e300);
	report_number(r, "inf", INFINITY);
	write_ok(r);
	report_free(r);
	char *svg = slurp("viral.svg");
	assert_svg_sane(svg);
	cr_assert_not_null(strstr(svg, "E</text>"), "no exa-scale tick label");
	free(svg);
	json_t *j = load_json();
	cr_assert(json_is_null(json_object_get(json_object_get(j, "numbers"), "inf")));
	json_t *l0 = json_array_get(json_object_get(j, "latency"), 0);
	cr_assert(json_is_null(json_object_get(l0, "p50_ms")));
	cr_assert(json_is_null(json_object_get(l0, "p99_ms")));
	json_decref(j);
}

Test(report, violations_past_the_cap_are_counted)
{
	report *r = report_new("many", false, 1);
	for (int i = 0; i < 1005; i++)
		report_violation(r, "v%d", i);
	cr_assert_eq(report_violations(r), 1005);
	write_ok(r);
	report_free(r);
	json_t *j = load_json();
	cr_assert_eq(json_array_size(json_object_get(j, "violations")), 1000);
	cr_assert_eq(json_integer_value(json_object_get(j, "violations_total")), 1005);
	json_decref(j);
	char *sum = slurp("summary.txt");
	cr_assert_not_null(strstr(sum, "violations (1005)"));
	cr_assert_not_null(strstr(sum, "5 more"));
	free(sum);
}

Test(report, missing_directory_is_an_io_error)
{
	char dir[128];
	snprintf(dir, sizeof dir, "%s/absent", tmpdir);
	report *r = report_new("x", false, 1);
	cr_assert_eq(report_write(r, dir), ERR_IO);
	report_free(r);
}

Test(report, more_regions_than_series_are_capped)
{
	report *r = report_new("wide", false, 12);
	int64_t ans[12];
	for (int i = 0; i < 12; i++)
		ans[i] = i;
	report_sample(r, 0, 1, ans, 12, 1);
	report_sample(r, 1, 2, ans, 12, 1);
	write_ok(r);
	report_free(r);
	char *svg = slurp("viral.svg");
	assert_svg_sane(svg);
	cr_assert_eq(count(svg, "<polyline"), REPORT_SERIES_MAX + 2);
	free(svg);
}

Test(report, latency_intervals_go_to_the_json_the_summary_and_their_picture)
{
	report *r = report_new("soak", false, 2);
	for (unsigned e = 0; e < 2; e++)
		for (unsigned i = 0; i < 4; i++) {
			report_interval_row q = {.index = i,
			                         .t0_s = 60.0 * i,
			                         .t1_s = i == 3 ? 190 : 60.0 * (i + 1),
			                         .complete = i < 3,
			                         .writes = 1000,
			                         .w_p50_ms = 0.4,
			                         .w_p99_ms = 1.25 + e,
			                         .w_p999_ms = 2.5,
			                         .reads = i == 2 ? 0 : 100,
			                         .r_p50_ms = 0.3,
			                         .r_p99_ms = 0.75,
			                         .w_srv_p99_ms = 0.5,
			                         .r_srv_p99_ms = i == 1 ? INFINITY : -1};
			snprintf(q.edge, sizeof q.edge, "edge%u", e);
			report_interval(r, &q);
		}
	report_interval_limits(r, 2, 1);
	write_ok(r);
	report_free(r);

	json_t *j = load_json();
	json_t *rows = json_object_get(j, "intervals");
	cr_assert_eq(json_array_size(rows), 8);
	json_t *a = json_array_get(rows, 5);
	cr_assert_str_eq(json_string_value(json_object_get(a, "edge")), "edge1");
	cr_assert_eq(json_integer_value(json_object_get(a, "interval")), 2, "1-based");
	cr_assert_float_eq(json_number_value(json_object_get(a, "write_p99_ms")), 2.25, 1e-9);
	cr_assert(json_is_null(json_object_get(a, "edge_read_p99_ms_at_most")), "past the last");
	cr_assert(json_is_true(json_object_get(a, "complete")));
	json_t *b = json_array_get(rows, 6);
	cr_assert(json_is_null(json_object_get(b, "read_p99_ms")), "no reads, no quantile");
	cr_assert(json_is_false(json_object_get(json_array_get(rows, 7), "complete")));
	json_decref(j);

	char *sum = slurp("summary.txt");
	cr_assert_not_null(strstr(sum, "latency per interval"));
	cr_assert_not_null(strstr(sum, "180-190s*"), "the shorter last one is marked");
	free(sum);

	char *svg = slurp("latency.svg");
	assert_svg_sane(svg);
	/* Per edge: clients' writes and reads, the edge's own writes (reads
	 * have no finite bound in any row but are broken into runs). */
	cr_assert_eq(count(svg, "class=\"write\""), 2);
	cr_assert_geq(count(svg, "class=\"read\""), 2);
	cr_assert_eq(count(svg, "class=\"edge-write\""), 2);
	cr_assert_eq(count(svg, "class=\"limit\""), 2);
	free(svg);
}

Test(report, a_drill_without_intervals_writes_no_latency_picture)
{
	report *r = report_new("short", false, 1);
	write_ok(r);
	report_free(r);
	char path[128];
	snprintf(path, sizeof path, "%s/latency.svg", tmpdir);
	cr_assert_eq(access(path, F_OK), -1);
	json_t *j = load_json();
	cr_assert_null(json_object_get(j, "intervals"));
	json_decref(j);
}

Test(report, process_readings_and_what_held_the_memory_go_to_every_file)
{
	report *r = report_new("soak", false, 1);
	soak_sample s[40];
	for (size_t i = 0; i < 40; i++) {
		double cache = i < 30 ? (double)i : 30;
		s[i] = (soak_sample){.t_s = 30.0 * (double)i,
		                     .rss_mb = 90 + cache,
		                     .anon_mb = 50 + cache,
		                     .hwm_mb = 130,
		                     .fds = 50,
		                     .store_fds = 4,
		                     .nheld = 2};
		s[i].held[0] = (soak_held){.name = "count_cache", .mb = cache};
		s[i].held[1] = (soak_held){.name = "store", .mb = 20};
		if (i == 3)
			s[i].nheld = 0; /* a scrape that failed, in the warm-up */
		report_proc(r, "edge0", 4242, &s[i]);
	}
	soak_rules rules;
	soak_rules_default(1200, &rules);
	soak_bound b = {.total_mb = 300, .max_open_files = 1000};
	soak_verdict v;
	cr_assert(soak_judge(s, 40, &rules, &b, &v), "%s", v.why);
	report_proc_verdict(r, "edge0", &v, &b);
	report_proc_rules(r, rules.warmup_s, 30);
	write_ok(r);
	report_free(r);

	json_t *j = load_json();
	json_t *node = json_array_get(json_object_get(json_object_get(j, "processes"), "nodes"), 0);
	cr_assert_not_null(node);
	json_t *held = json_object_get(node, "held");
	cr_assert_eq(json_object_size(held), 2);
	cr_assert_float_eq(
	    json_number_value(json_object_get(json_object_get(held, "count_cache"), "end_mb")), 30,
	    1e-9);
	cr_assert_float_eq(json_number_value(json_object_get(node, "unheld_end_mb")), 30, 1e-9);
	json_decref(j);

	char *csv = slurp("held.csv");
	cr_assert_eq(strncmp(csv, "t_s,node,holder,mb\n", 19), 0);
	cr_assert_eq(count(csv, "\n"), 1 + 39 * 2, "a line per holder per reading that had them");
	cr_assert_not_null(strstr(csv, "1170.0,edge0,count_cache,30.00\n"));
	free(csv);

	char *sum = slurp("summary.txt");
	cr_assert_not_null(strstr(sum, "what holds the anonymous memory"));
	cr_assert_not_null(strstr(sum, "none of these 30.0 -> 30.0"), "%s", sum);
	free(sum);

	char *svg = slurp("procs.svg");
	assert_svg_sane(svg);
	/* The unheld line breaks at the reading without holders. */
	cr_assert_eq(count(svg, "class=\"unheld\""), 2);
	cr_assert_eq(count(svg, "class=\"anon\""), 1);
	free(svg);
}

/* The instrument's own processes (sim, its Kafka) are shown with their
 * levels beside the daemons, and never fail the run, however they grow. */
Test(report, the_instruments_memory_is_shown_and_never_judged)
{
	report *r = report_new("soak", false, 1);
	soak_sample s[40];
	for (size_t i = 0; i < 40; i++) {
		s[i] = (soak_sample){.t_s = 30.0 * (double)i,
		                     .rss_mb = 20 + 2 * (double)i,
		                     .anon_mb = 10 + 2 * (double)i,
		                     .hwm_mb = 100,
		                     .fds = 30};
		report_proc(r, "sim", 77, &s[i]);
	}
	soak_rules rules;
	soak_rules_default(1200, &rules);
	soak_bound none = {.total_mb = HUGE_VAL};
	soak_verdict v;
	cr_assert_not(soak_judge(s, 40, &rules, &none, &v), "it grows: a daemon would fail");
	report_proc_instrument(r, "sim", &v);
	report_proc_rules(r, rules.warmup_s, 30);
	write_ok(r);
	report_free(r);

	json_t *j = load_json();
	cr_assert(json_is_true(json_object_get(j, "pass")), "the instrument fails nothing");
	json_t *node = json_array_get(json_object_get(json_object_get(j, "processes"), "nodes"), 0);
	cr_assert_not_null(node);
	cr_assert(json_is_true(json_object_get(node, "instrument")));
	cr_assert(json_is_false(json_object_get(node, "judged")));
	cr_assert_float_eq(json_number_value(json_object_get(node, "anon_end_mb")), v.anon_end,
	                   1e-9);
	cr_assert_gt(v.anon_end, v.anon_settled + 10);
	json_decref(j);

	char *sum = slurp("summary.txt");
	cr_assert_not_null(strstr(sum, "the instrument: not judged"), "%s", sum);
	cr_assert_not_null(strstr(sum, "violations (0)"), "%s", sum);
	free(sum);
}

Test(report, the_feed_section_goes_to_the_json_and_the_summary)
{
	report *r = report_new("baseline", true, 3);
	feedcheck_figures f = {.changes = {.events = 1200, .duplicates = 2},
	                       .milestones = {.events = 31},
	                       .noop = 1,
	                       .counts = 400,
	                       .pairs_in = 700,
	                       .ms_expected = 30,
	                       .ms_seen = 31,
	                       .ms_extra = 1,
	                       .thresholds = {10, 50},
	                       .reached = {25, 5},
	                       .nthresholds = 2};
	const char *const ex[] = {"changes 0-3-17-0: a repeat (partition 3)", "bad\x01text"};
	report_feed(r, "checked", &f, ex, 2);
	cr_assert(report_passed(r), "the figures alone fail nothing: violations do");
	write_ok(r);
	report_free(r);

	json_t *j = load_json();
	json_t *feed = json_object_get(j, "feed");
	cr_assert_not_null(feed);
	cr_assert_str_eq(json_string_value(json_object_get(feed, "state")), "checked");
	json_t *c = json_object_get(feed, "changes");
	cr_assert_eq(json_integer_value(json_object_get(c, "events")), 1200);
	cr_assert_eq(json_integer_value(json_object_get(c, "duplicates")), 2);
	cr_assert_eq(
	    json_integer_value(json_object_get(json_object_get(feed, "milestones"), "events")), 31);
	cr_assert_eq(json_integer_value(json_object_get(feed, "noop_events")), 1);
	cr_assert_eq(json_integer_value(json_object_get(feed, "milestones_expected")), 30);
	cr_assert_eq(json_integer_value(json_object_get(feed, "milestones_extra")), 1);
	cr_assert_eq(json_integer_value(json_object_get(feed, "violations")), 4);
	json_t *reached = json_object_get(feed, "milestones_reached");
	cr_assert_eq(json_integer_value(json_object_get(reached, "50")), 5);
	json_t *exj = json_object_get(feed, "examples");
	cr_assert_eq(json_array_size(exj), 2);
	cr_assert_str_eq(json_string_value(json_array_get(exj, 1)), "bad text", "cleaned");
	json_decref(j);

	char *sum = slurp("summary.txt");
	const char *s = strstr(sum, "change feed");
	cr_assert_not_null(s, "%s", sum);
	cr_assert_not_null(strstr(s, "expected 30, seen 31, missing 0, extra 1"), "%s", s);
	cr_assert_not_null(strstr(s, "a repeat (partition 3)"));
	cr_assert_not_null(strstr(s, "10: 25, 50: 5"), "%s", s);
	free(sum);

	/* Off: the state alone. */
	r = report_new("baseline", true, 3);
	report_feed(r, "off (feed 0)", NULL, NULL, 0);
	write_ok(r);
	report_free(r);
	j = load_json();
	feed = json_object_get(j, "feed");
	cr_assert_str_eq(json_string_value(json_object_get(feed, "state")), "off (feed 0)");
	cr_assert_null(json_object_get(feed, "changes"));
	json_decref(j);
	sum = slurp("summary.txt");
	s = strstr(sum, "change feed");
	cr_assert_not_null(s);
	cr_assert_null(strstr(s, "duplicates"));
	free(sum);
}
