/* test_pace.c - sim pace against the edge's own HTTP server in-process
 * (http_server_util.h: h2c on 127.0.0.1, a test handler on a loop
 * thread). Covers the schedule (even gaps, Poisson gaps of the asked
 * mean), every request answered and logged, POST bodies (one larger than
 * the flow-control windows), the paths of whole URLs, latency timed from
 * the due time (a slow server delays the requests queued behind it, and
 * they count that), answers that are not 2xx, requests never answered, a
 * dead port and refused options.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/bench/pace.h"
#include "tests/support/http_server_util.h"

static char uris[PATH_MAX + 16], body[PATH_MAX + 16], log_path[PATH_MAX + 16];

static void setup(void)
{
	suite_init();
	snprintf(uris, sizeof uris, "%s/uris", H.tmp);
	snprintf(body, sizeof body, "%s/body", H.tmp);
	snprintf(log_path, sizeof log_path, "%s/log", H.tmp);
	http_config cfg = base_config();
	start_server(&cfg);
}

TestSuite(pace, .init = setup, .fini = suite_fini, .timeout = 30);

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_geq(fputs(text, f), 0);
	cr_assert_eq(fclose(f), 0);
}

/* The log's lines: due times (us), statuses, latencies (us); how many. */
static size_t read_log(uint64_t *due, int *status, uint64_t *lat, size_t max)
{
	FILE *f = fopen(log_path, "r");
	cr_assert_not_null(f);
	size_t n = 0;
	unsigned long long d, l;
	int s;
	while (fscanf(f, "%llu\t%d\t%llu\n", &d, &s, &l) == 3) {
		cr_assert_lt(n, max);
		due[n] = d;
		status[n] = s;
		lat[n] = l;
		n++;
	}
	fclose(f);
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Options for a run against the test server over the paths given (one
 * per line), the rest at their defaults. */
static pace_opts opts_on(const char *paths)
{
	write_file(uris, paths);
	pace_opts o;
	pace_opts_default(&o);
	o.port = port(false);
	o.uris = uris;
	return o;
}

/* Runs o, which must not fail as a whole; its result. */
static pace_result run_ok(const pace_opts *o)
{
	pace_result r;
	char err[256];
	cr_assert_eq(pace_run(o, &r, err, sizeof err), 0, "%s", err);
	return r;
}

#define N 400

Test(pace, even_gaps_every_request_answered_and_logged)
{
	pace_opts o = opts_on("/a\nhttp://127.0.0.1:1/b\n\n/c\n");
	write_file(body, "hello");
	o.body = body;
	o.user = "u";
	o.log = log_path;
	o.rate = 2000;
	o.requests = N;
	pace_result r = run_ok(&o);
	cr_assert_eq(r.sent, N);
	cr_assert_eq(r.ok, N);
	cr_assert_eq(r.failed + r.non_2xx, 0);
	cr_assert_eq(atomic_load(&H.calls), N);
	cr_assert_str_eq(H.last_method, "POST");
	cr_assert_eq(H.last_body_len, 5);
	cr_assert(strcmp(H.last_path, "/a") == 0 || strcmp(H.last_path, "/b") == 0 ||
	              strcmp(H.last_path, "/c") == 0,
	          "%s", H.last_path);
	cr_assert_gt(r.p99_ms, 0);
	cr_assert_geq(r.max_ms, r.p999_ms);
	cr_assert_geq(r.p999_ms, r.p99_ms);
	cr_assert_geq(r.p99_ms, r.p50_ms);
	cr_assert(r.seconds > 0.19 && r.seconds < 5, "%.3f s for 400 requests at 2000/s",
	          r.seconds);

	static uint64_t due[N + 1], lat[N + 1];
	static int status[N + 1];
	cr_assert_eq(read_log(due, status, lat, N + 1), N);
	for (size_t i = 0; i < N; i++)
		cr_assert_eq(status[i], 200, "line %zu", i);
	for (size_t i = 1; i < N; i++) {
		uint64_t gap = due[i] - due[i - 1];
		cr_assert(gap >= 499 && gap <= 501, "gap %zu: %llu us, not 500", i,
		          (unsigned long long)gap);
	}
}

Test(pace, poisson_gaps_have_the_asked_mean_and_vary)
{
	pace_opts o = opts_on("/p\n");
	o.log = log_path;
	o.rate = 20000;
	o.requests = 2000;
	o.poisson = true;
	pace_result r = run_ok(&o);
	cr_assert_eq(r.ok, 2000);
	cr_assert_str_eq(H.last_method, "GET");
	static uint64_t due[2001], lat[2001];
	static int status[2001];
	size_t n = read_log(due, status, lat, 2001);
	cr_assert_eq(n, 2000);
	qsort(due, n, sizeof *due, cmp_u64);
	double sum = 0, sq = 0;
	for (size_t i = 1; i < n; i++) {
		double g = (double)(due[i] - due[i - 1]);
		sum += g;
		sq += g * g;
	}
	double mean = sum / (double)(n - 1), sd = sqrt(sq / (double)(n - 1) - mean * mean);
	cr_assert(mean > 45 && mean < 55, "mean gap %.1f us, want 50", mean);
	/* Exponential gaps: the deviation is about the mean. */
	cr_assert(sd > 0.8 * mean && sd < 1.2 * mean, "gap deviation %.1f us, mean %.1f", sd, mean);
}

/* One stream, a request due every 10 ms, each answered 30 ms after it
 * arrives: each waits for the one before, and its latency, timed from
 * when it was due, grows by 20 ms a request (30, 50, ..., 210 ms). Timed
 * from when it went out, each would show 30 ms. */
Test(pace, latency_runs_from_the_due_time)
{
	pace_opts o = opts_on("/defer/30\n");
	o.rate = 100;
	o.requests = 10;
	o.conns = 1;
	o.depth = 1;
	pace_result r = run_ok(&o);
	cr_assert_eq(r.ok, 10, "202 counts as 2xx");
	cr_assert_geq(r.p50_ms, 100, "p50 %.1f ms", r.p50_ms);
	cr_assert_geq(r.max_ms, 200, "max %.1f ms", r.max_ms);
	cr_assert_geq(r.late_p99_ms, 150, "the last went out %.1f ms late", r.late_p99_ms);
}

/* A URL's scheme and authority are dropped: its path is what goes out. */
Test(pace, a_url_in_the_list_sends_its_path)
{
	pace_opts o = opts_on("http://127.0.0.1:1/only/this\n");
	o.requests = 2;
	o.conns = 1;
	pace_result r = run_ok(&o);
	cr_assert_eq(r.ok, 2);
	cr_assert_str_eq(H.last_path, "/only/this");
}

/* A body larger than what the flow-control windows let through at once
 * arrives whole on every stream: each request says its content-length,
 * and a body that ended short of it would be refused. */
Test(pace, a_large_body_arrives_whole)
{
	pace_opts o = opts_on("/echo\n");
	static char big[40001]; /* three DATA frames at least */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	write_file(body, big);
	o.body = body;
	o.requests = 32;
	o.rate = 10000; /* due together: 16 streams share the connection's window */
	pace_result r = run_ok(&o);
	cr_assert_eq(r.ok, 32, "%" PRIu64 " failed, %" PRIu64 " not 2xx", r.failed, r.non_2xx);
	cr_assert_eq(H.last_body_len, 40000);
}

/* Answers that are not 2xx are counted apart and left out of the
 * latencies. */
Test(pace, answers_that_are_not_2xx_are_counted_apart)
{
	stop_server();
	http_config cfg = base_config();
	cfg.max_body = 4; /* the 5-byte body is refused */
	start_server(&cfg);
	pace_opts o = opts_on("/a\n");
	write_file(body, "hello");
	o.body = body;
	o.requests = 20;
	o.log = log_path;
	pace_result r = run_ok(&o);
	cr_assert_eq(r.non_2xx, 20);
	cr_assert_eq(r.ok + r.failed, 0);
	cr_assert_eq(r.p99_ms, 0);
	static uint64_t due[21], lat[21];
	static int status[21];
	cr_assert_eq(read_log(due, status, lat, 21), 20);
	cr_assert_geq(status[0], 400);
}

/* A request the server never answers is given up after the timeout:
 * failed, logged with status -1 and the time until then. (One: the
 * fixture keeps one held answer.) */
Test(pace, an_unanswered_request_fails_after_the_timeout)
{
	pace_opts o = opts_on("/hold\n");
	o.requests = 1;
	o.conns = 1;
	o.timeout_ms = 200;
	o.log = log_path;
	pace_result r = run_ok(&o);
	cr_assert_eq(r.sent, 1);
	cr_assert_eq(r.failed, 1);
	cr_assert_eq(r.ok + r.non_2xx, 0);
	uint64_t due[2], lat[2];
	int status[2];
	cr_assert_eq(read_log(due, status, lat, 2), 1);
	cr_assert_eq(status[0], -1);
	cr_assert_geq(lat[0], 150000, "given up after %" PRIu64 " us", lat[0]);
}

Test(pace, a_dead_port_is_an_error)
{
	write_file(uris, "/a\n");
	stop_server();
	pace_opts o;
	pace_opts_default(&o);
	o.port = 1; /* nothing listens on 127.0.0.1:1 */
	o.uris = uris;
	pace_result r;
	char err[256] = "";
	cr_assert_eq(pace_run(&o, &r, err, sizeof err), ERR_IO);
	cr_assert(strstr(err, "127.0.0.1:1") != NULL, "%s", err);
}

Test(pace, refused_options)
{
	write_file(uris, "\n\n");
	pace_opts o;
	pace_opts_default(&o);
	o.port = port(false);
	pace_result r;
	char err[256] = "";
	cr_assert_eq(pace_run(&o, &r, err, sizeof err), ERR_INVAL, "no --uris");
	o.uris = uris;
	cr_assert_eq(pace_run(&o, &r, err, sizeof err), ERR_IO, "a file without paths");
	cr_assert(strstr(err, "no path") != NULL, "%s", err);
	write_file(uris, "/a\n");
	o.rate = 0;
	cr_assert_eq(pace_run(&o, &r, err, sizeof err), ERR_INVAL, "rate 0");
	o.rate = 10;
	o.body = "/nonexistent/body";
	cr_assert_eq(pace_run(&o, &r, err, sizeof err), ERR_IO, "a body that cannot be read");
	cr_assert_eq(atomic_load(&H.calls), 0);
}
