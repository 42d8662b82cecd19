/* itest_api.c - the edge's API against real processes: broker, central
 * (with an ops token) and two edges that read through to central.
 *
 * Two suites. "api" publishes snapshots every 200 ms and checks what a
 * client sees: sum counters, ETag/304, the 100-item limits, batch writes
 * with per-op results, breakdowns, HTTP/1.1 and HTTP/2 alike. "dark"
 * publishes snapshots only once a minute, so an edge has not heard of
 * what another edge did: it must read through to central, and a batch
 * central applied is still unconfirmed when its edge is killed (so the
 * restart sends it again).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/stack.h"

#define TOKEN "itest-token"
#define BIG 65536

static char out[BIG];

static void api_setup(void)
{
	S.central_extra = "ops_token = " TOKEN "\n";
	S.edge_extra = "[central]\ntoken = " TOKEN "\n";
	stack_up(2, 2, 200);
}

static void dark_setup(void)
{
	S.central_extra = "ops_token = " TOKEN "\n";
	S.edge_extra = "[central]\ntoken = " TOKEN "\n";
	stack_up(2, 2, 60000);
}

static void workers_setup(void)
{
	S.central_extra = "ops_token = " TOKEN "\n";
	S.edge_extra = "[central]\ntoken = " TOKEN "\n[edge]\nworkers = 2\n";
	stack_up(1, 2, 200);
}

TestSuite(api, .init = api_setup, .fini = stack_down, .timeout = 120);
TestSuite(workers, .init = workers_setup, .fini = stack_down, .timeout = 120);
TestSuite(dark, .init = dark_setup, .fini = stack_down, .timeout = 120);

/* --- helpers -------------------------------------------------------------- */

/* A request to edge e as user (NULL: none) with extra curl options. */
static int call(int e, const char *method, const char *path, const char *user, const char *opts)
{
	char o[4096];
	snprintf(o, sizeof o, "-i --http2-prior-knowledge -X %s %s%s%s %s", method,
	         user ? "-H 'X-User-Id: " : "", user ? user : "", user ? "'" : "",
	         opts ? opts : "");
	return proc_curl(out, sizeof out, o, S.edge_port[e], path);
}

static const char *body_file(void)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/body.json", S.dir);
	return path;
}

/* The number after "name " in Prometheus text; -1 if absent. */
static long long metric_value(const char *text, const char *name)
{
	char pat[128];
	snprintf(pat, sizeof pat, "\n%s ", name);
	const char *p = strstr(text, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

static long long num(const char *key)
{
	return proc_json_num(proc_body(out), key);
}

/* Central's authoritative answer for a path of its ops API. */
static int central(const char *path)
{
	return proc_curl(out, sizeof out, "-i -H 'Authorization: Bearer " TOKEN "'", S.ops_port,
	                 path);
}

/* Waits until central's count of (item path) is want. */
static void central_reaches(const char *item_path, long long want)
{
	uint64_t deadline = clock_mono_ms() + 20000;
	long long got = -1;
	while (clock_mono_ms() < deadline) {
		if (central(item_path) == 200 && (got = num("count")) == want)
			return;
		proc_sleep_ms(50);
	}
	cr_assert_fail("central's %s stayed %lld, want %lld", item_path, got, want);
}

static void edge_reaches(int e, const char *item_path, long long want)
{
	uint64_t deadline = clock_mono_ms() + 20000;
	long long got = -1;
	while (clock_mono_ms() < deadline) {
		if (call(e, "GET", item_path, NULL, NULL) == 200 && (got = num("count")) == want)
			return;
		proc_sleep_ms(50);
	}
	cr_assert_fail("edge%d's %s stayed %lld, want %lld", e, item_path, got, want);
}

/* --- counters -------------------------------------------------------------- */

Test(api, sum_counter_adds_n_and_refuses_delete_and_bad_n)
{
	cr_assert_eq(call(0, "POST", "/v1/items/reel/r1/views", "u1", "-d '{\"n\":5}'"), 200);
	cr_assert_eq(num("count"), 5);
	cr_assert_null(strstr(proc_body(out), "member"), "sum answers carry no membership");
	cr_assert_eq(call(1, "POST", "/v1/items/reel/r1/views", "u2", "-d '{\"n\":1000}'"), 200);
	cr_assert_eq(call(0, "POST", "/v1/items/reel/r1/views", "u1", "-d '{\"n\":1001}'"), 400);
	cr_assert_eq(call(0, "POST", "/v1/items/reel/r1/views", "u1", "-d '{\"n\":0}'"), 400);
	cr_assert_eq(call(0, "DELETE", "/v1/items/reel/r1/views", "u1", NULL), 405);
	char allow[64];
	cr_assert(proc_header(out, "allow", allow, sizeof allow));
	cr_assert_str_eq(allow, "GET, HEAD, POST");
	cr_assert_eq(call(0, "POST", "/v1/items/reel/r1/nope", "u1", NULL), 404);
	cr_assert_eq(call(0, "POST", "/v1/items/blog/r1/views", "u1", NULL), 400);
	/* Saves are a set counter next to likes. */
	cr_assert_eq(call(0, "POST", "/v1/items/post/s1/saves", "u1", NULL), 200);
	cr_assert_eq(call(0, "POST", "/v1/items/post/s1/saves", "u1", NULL), 200);
	cr_assert(strstr(proc_body(out), "\"changed\":false"));
	central_reaches("/v1/items/reel/r1/views", 1005);
	central_reaches("/v1/items/post/s1/saves", 1);
	edge_reaches(0, "/v1/items/reel/r1/views", 1005);
	edge_reaches(1, "/v1/items/reel/r1/views", 1005);
}

/* --- reads ------------------------------------------------------------------ */

Test(api, count_get_is_cacheable_and_answers_304_to_its_etag)
{
	cr_assert_eq(call(0, "POST", "/v1/items/post/e1/likes", "u1", NULL), 200);
	edge_reaches(0, "/v1/items/post/e1/likes", 1);
	char etag[128], cc[128], opt[256];
	cr_assert(proc_header(out, "etag", etag, sizeof etag));
	cr_assert(proc_header(out, "cache-control", cc, sizeof cc));
	cr_assert(strstr(cc, "public") && strstr(cc, "max-age=") &&
	              strstr(cc, "stale-while-revalidate="),
	          "%s", cc);
	cr_assert_geq(num("version"), 0);
	cr_assert_gt(num("as_of"), 0);
	/* A snapshot that confirms the like between the two calls moves the
	 * version, and with it the ETag (a 200 with the new one): try again,
	 * as for batch reads below. */
	int got = 0;
	for (uint64_t end = clock_mono_ms() + 10000; got != 304 && clock_mono_ms() < end;) {
		snprintf(opt, sizeof opt, "-H 'If-None-Match: %s'", etag);
		got = call(0, "GET", "/v1/items/post/e1/likes", NULL, opt);
		cr_assert(got == 304 || got == 200, "%d", got);
		if (got == 200) {
			char moved[128];
			cr_assert(proc_header(out, "etag", moved, sizeof moved));
			cr_assert_str_neq(moved, etag, "a 200 to its own ETag");
			snprintf(etag, sizeof etag, "%s", moved);
		}
	}
	cr_assert_eq(got, 304);
	cr_assert_str_eq(proc_body(out), "");
	cr_assert_eq(call(0, "GET", "/v1/items/post/e1/likes", NULL, "-H 'If-None-Match: \"0-0\"'"),
	             200);
	/* A new like changes the ETag. */
	cr_assert_eq(call(0, "POST", "/v1/items/post/e1/likes", "u2", NULL), 200);
	cr_assert_eq(call(0, "GET", "/v1/items/post/e1/likes", NULL, opt), 200);
	/* Batch reads too. A snapshot that lands between the two calls
	 * moves a version, and with it the ETag: then try again. */
	int st = 0;
	for (uint64_t end = clock_mono_ms() + 10000; st != 304 && clock_mono_ms() < end;) {
		cr_assert_eq(call(0, "GET", "/v1/counts?items=post:e1", NULL, NULL), 200);
		cr_assert(proc_header(out, "etag", etag, sizeof etag));
		snprintf(opt, sizeof opt, "-H 'If-None-Match: %s'", etag);
		st = call(0, "GET", "/v1/counts?items=post:e1", NULL, opt);
		cr_assert(st == 304 || st == 200, "%d", st);
	}
	cr_assert_eq(st, 304);
	/* /me is private. */
	cr_assert_eq(call(0, "GET", "/v1/items/post/e1/likes/me", "u1", NULL), 200);
	cr_assert(proc_header(out, "cache-control", cc, sizeof cc));
	cr_assert_str_eq(cc, "private, no-store");
	cr_assert(strstr(proc_body(out), "\"member\":true"));
}

Test(api, batch_counts_answer_a_feed_page_and_refuse_past_100_items)
{
	cr_assert_eq(call(0, "POST", "/v1/items/post/f1/likes", "u1", NULL), 200);
	cr_assert_eq(call(0, "POST", "/v1/items/post/f1/views", "u1", "-d '{\"n\":7}'"), 200);
	edge_reaches(1, "/v1/items/post/f1/views", 7);
	cr_assert_eq(
	    call(1, "GET", "/v1/counts?items=post:f1,reel:none&counters=likes,views", NULL, NULL),
	    200, "%s", out);
	const char *b = proc_body(out);
	cr_assert(strstr(b, "\"counts\":{\"post:f1\":{\"likes\":1,\"views\":7}"), "%s", b);
	cr_assert(strstr(b, "\"reel:none\":{\"likes\":0,\"views\":0}"), "%s", b);
	cr_assert(strstr(b, "\"freshness\":{\"post:f1\":{\"version\":"), "%s", b);
	cr_assert(strstr(b, "\"display\":{\"post:f1\":{\"likes\":\"1\""), "%s", b);

	char path[4096];
	int n = snprintf(path, sizeof path, "/v1/counts?items=");
	for (int i = 0; i < 100; i++)
		n += snprintf(path + n, sizeof path - (size_t)n, "%spost:p%d", i ? "," : "", i);
	cr_assert_eq(call(1, "GET", path, NULL, NULL), 200, "100 items are fine");
	snprintf(path + n, sizeof path - (size_t)n, ",post:p100");
	cr_assert_eq(call(1, "GET", path, NULL, NULL), 400);
	cr_assert(strstr(proc_body(out), "too_many_items"));
	cr_assert(strstr(proc_body(out), "at most 100 items"));
	cr_assert_eq(call(1, "GET", "/v1/counts?items=post:f1&counters=bogus", NULL, NULL), 400);
	cr_assert_eq(call(1, "GET", "/v1/counts?items=post:f%21", NULL, NULL), 400);
	cr_assert_eq(call(1, "GET", "/v1/counts", NULL, NULL), 400);
}

Test(api, breakdowns_by_region_and_day_come_from_central)
{
	cr_assert_eq(call(0, "POST", "/v1/items/post/b1/likes", "u1", NULL), 200);
	cr_assert_eq(call(1, "POST", "/v1/items/post/b1/likes", "u2", NULL), 200);
	cr_assert_eq(call(1, "POST", "/v1/items/post/b1/likes", "u3", NULL), 200);
	central_reaches("/v1/items/post/b1/likes", 3);
	cr_assert_eq(call(0, "GET", "/v1/items/post/b1/likes?by=region", NULL, NULL), 200, "%s",
	             out);
	cr_assert(strstr(proc_body(out), "\"by_region\":{\"r0\":1,\"r1\":2}"), "%s",
	          proc_body(out));
	cr_assert_eq(call(0, "GET", "/v1/items/post/b1/likes?by=day", NULL, NULL), 200);
	cr_assert(strstr(proc_body(out), "\"by_day\":{\""), "%s", proc_body(out));
	cr_assert_eq(call(0, "GET", "/v1/items/post/b1/likes?by=week", NULL, NULL), 400);
	cr_assert_eq(call(0, "GET", "/v1/items/post/b1/likes?by=day&from=2026-13", NULL, NULL),
	             400);
}

/* --- writes ----------------------------------------------------------------- */

Test(api, batch_ops_answer_each_op_in_order_and_a_bad_op_spares_its_neighbours)
{
	const char *body = "-d '{\"ops\":["
	                   "{\"op\":\"add\",\"item\":\"post:o1\",\"counter\":\"likes\"},"
	                   "{\"op\":\"add\",\"item\":\"post:bad!\",\"counter\":\"likes\"},"
	                   "{\"op\":\"add\",\"item\":\"post:o1\",\"counter\":\"shares\",\"n\":3},"
	                   "{\"op\":\"remove\",\"item\":\"post:o1\",\"counter\":\"views\"},"
	                   "{\"op\":\"add\",\"item\":\"post:o1\",\"counter\":\"nope\"},"
	                   "{\"op\":\"remove\",\"item\":\"post:o1\",\"counter\":\"likes\"}]}'";
	cr_assert_eq(call(0, "POST", "/v1/ops", "u1", body), 200, "%s", out);
	const char *b = proc_body(out);
	const char *want[] = {
	    "{\"status\":200,\"body\":{\"item\":\"post:o1\",\"counter\":\"likes\","
	    "\"member\":true,\"changed\":true,\"count\":1",
	    "{\"status\":400,\"body\":{\"error\":{\"code\":\"invalid_item\"",
	    "{\"status\":200,\"body\":{\"item\":\"post:o1\",\"counter\":\"shares\","
	    "\"changed\":true,\"count\":3",
	    "{\"status\":405,",
	    "{\"status\":404,",
	    "{\"status\":200,\"body\":{\"item\":\"post:o1\",\"counter\":\"likes\","
	    "\"member\":false,\"changed\":true,\"count\":0"};
	const char *p = b;
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const char *q = strstr(p, want[i]);
		cr_assert_not_null(q, "result %zu missing or out of order: %s", i, b);
		p = q + 1;
	}
	central_reaches("/v1/items/post/o1/shares", 3);

	/* 100 ops are fine, 101 are not. */
	for (int nops = 101; nops >= 100; nops--) {
		FILE *f = fopen(body_file(), "w");
		cr_assert(f);
		fprintf(f, "{\"ops\":[");
		for (int i = 0; i < nops; i++)
			fprintf(f, "%s{\"op\":\"add\",\"item\":\"post:m%d\",\"counter\":\"views\"}",
			        i ? "," : "", i);
		fprintf(f, "]}");
		fclose(f);
		char opt[600];
		snprintf(opt, sizeof opt, "--data-binary @%s", body_file());
		int st = call(0, "POST", "/v1/ops", "u1", opt);
		if (nops == 101) {
			cr_assert_eq(st, 400);
			cr_assert(strstr(proc_body(out), "at most 100 ops"), "%s", proc_body(out));
		} else {
			cr_assert_eq(st, 200, "%s", proc_body(out));
			cr_assert(strstr(proc_body(out), "\"item\":\"post:m99\""));
		}
	}
	cr_assert_eq(call(0, "POST", "/v1/ops", "u1", "-d '{\"ops\":[]}'"), 400);
	cr_assert_eq(call(0, "POST", "/v1/ops", "u1", "-d 'nonsense'"), 400);
	cr_assert_eq(call(0, "POST", "/v1/ops", NULL, body), 401);
}

Test(api, idempotency_key_replays_byte_for_byte_and_refuses_reuse)
{
	const char *opt = "-H 'Idempotency-Key: tap-1' -d '{\"n\":2}'";
	cr_assert_eq(call(0, "POST", "/v1/items/post/k1/shares", "u1", opt), 200);
	char first[4096];
	snprintf(first, sizeof first, "%s", proc_body(out));
	cr_assert_eq(call(0, "POST", "/v1/items/post/k1/shares", "u1", opt), 200);
	cr_assert_str_eq(proc_body(out), first);
	char h[32];
	cr_assert(proc_header(out, "idempotent-replayed", h, sizeof h));
	/* Another user's key of the same name is theirs. */
	cr_assert_eq(call(0, "POST", "/v1/items/post/k1/shares", "u2", opt), 200);
	cr_assert_eq(call(0, "POST", "/v1/items/post/k1/shares", "u1",
	                  "-H 'Idempotency-Key: tap-1' -d '{\"n\":3}'"),
	             422);
	cr_assert(strstr(proc_body(out), "idempotency_key_reused"));
	central_reaches("/v1/items/post/k1/shares", 4);
}

/* --- protocols -------------------------------------------------------------- */

/* Blanks the digits of every "as_of" in a body and returns the largest.
 * as_of is the time a partition's replica was last confirmed complete, so
 * a snapshot arriving between two reads moves it forward; everything else
 * in two reads of unchanged counts must be the same byte for byte. */
static uint64_t blank_as_of(char *body)
{
	uint64_t max = 0;
	for (char *p = strstr(body, "\"as_of\":"); p; p = strstr(p, "\"as_of\":")) {
		p += strlen("\"as_of\":");
		uint64_t v = strtoull(p, NULL, 10);
		if (v > max)
			max = v;
		while (*p >= '0' && *p <= '9')
			*p++ = '#';
	}
	return max;
}

Test(api, http1_and_http2_give_the_same_answers)
{
	cr_assert_eq(call(0, "POST", "/v1/items/post/h1/likes", "u1", NULL), 200);
	edge_reaches(0, "/v1/items/post/h1/likes", 1);
	char h2[4096], h1[4096], o[512];
	/* The like's snapshot may land between the two reads (its version
	 * moves, not its count): the pair is read again until no snapshot
	 * came between them. Answers that differ otherwise differ in every
	 * pair. */
	for (int tries = 0; tries < 20; tries++) {
		cr_assert_eq(proc_curl(out, sizeof out, "-i --http2-prior-knowledge",
		                       S.edge_port[0], "/v1/counts?items=post:h1,post:h2"),
		             200);
		cr_assert(strncmp(out, "HTTP/2 200", 10) == 0, "%.20s", out);
		snprintf(h2, sizeof h2, "%s", proc_body(out));
		cr_assert_eq(proc_curl(out, sizeof out, "-i --http1.1", S.edge_port[0],
		                       "/v1/counts?items=post:h1,post:h2"),
		             200);
		cr_assert(strncmp(out, "HTTP/1.1 200", 12) == 0, "%.20s", out);
		snprintf(h1, sizeof h1, "%s", proc_body(out));
		uint64_t as_of2 = blank_as_of(h2), as_of1 = blank_as_of(h1);
		cr_assert(as_of1 >= as_of2, "as_of %llu then %llu", (unsigned long long)as_of2,
		          (unsigned long long)as_of1);
		if (strcmp(h1, h2) == 0)
			break;
		proc_sleep_ms(100);
	}
	cr_assert_str_eq(h1, h2);
	/* Writes, errors and keep-alive over HTTP/1.1. */
	snprintf(o, sizeof o, "-i --http1.1 -X POST -H 'X-User-Id: u2'");
	cr_assert_eq(proc_curl(out, sizeof out, o, S.edge_port[0], "/v1/items/post/h1/likes"), 200);
	cr_assert(strstr(proc_body(out), "\"count\":2"), "%s", proc_body(out));
	cr_assert_eq(
	    proc_curl(out, sizeof out, "-i --http1.1", S.edge_port[0], "/v1/items/blog/1/likes"),
	    400);
	cr_assert(strstr(proc_body(out), "invalid_item"));
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
	         "curl -s -v --http1.1 http://127.0.0.1:%d/healthz http://127.0.0.1:%d/healthz "
	         "2>&1 | grep -c 'Re-using existing connection'",
	         S.edge_port[0], S.edge_port[0]);
	char n[32];
	proc_capture(n, sizeof n, "%s", cmd);
	cr_assert_geq(atoi(n), 1, "the second request reused the connection");
}

/* --- what only central knows ------------------------------------------------ */

/* Edge 1 restarted on an empty data directory: its replica loads again. */
static void rebuild_edge1(void)
{
	proc_stop(S.edge_pid[1], SIGKILL);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s/edge1", S.dir);
	cr_assert_eq(system(cmd), 0);
	stack_start_edge(1);
}

Test(dark, a_rebuilt_edge_loads_counts_from_the_checkpoint_and_never_makes_up_a_zero)
{
	for (int u = 0; u < 3; u++) {
		char user[16];
		snprintf(user, sizeof user, "u%d", u);
		cr_assert_eq(call(0, "POST", "/v1/items/post/d1/likes", user, NULL), 200);
	}
	central_reaches("/v1/items/post/d1/likes", 3);
	/* Snapshots come once a minute here: only the checkpoint can bring
	 * the count to a new edge. */
	rebuild_edge1();
	uint64_t deadline = clock_mono_ms() + 20000;
	/* Its replica check passes (the snapshots' does not: none comes
	 * within the minute). */
	while (call(1, "GET", "/readyz", NULL, NULL) < 0 ||
	       !strstr(proc_body(out), "\"replica\":{\"ok\":true")) {
		cr_assert(clock_mono_ms() < deadline, "edge 1 never loaded its replica: %s",
		          proc_body(out));
		proc_sleep_ms(100);
	}
	cr_assert_eq(call(1, "GET", "/v1/items/post/d1/likes", NULL, NULL), 200, "%s", out);
	cr_assert_eq(num("count"), 3, "%s", proc_body(out));
	cr_assert_eq(call(1, "GET", "/v1/counts?items=post:d1,post:d2", NULL, NULL), 200);
	cr_assert(strstr(proc_body(out), "\"post:d1\":{\"likes\":3"), "%s", proc_body(out));
	cr_assert(strstr(proc_body(out), "\"post:d2\":{\"likes\":0"),
	          "complete: an item central never counted is 0: %s", proc_body(out));
	cr_assert_eq(call(1, "POST", "/v1/items/post/d1/likes", "u9", NULL), 200);
	cr_assert_eq(num("count"), 4, "%s", proc_body(out));

	/* With central gone a rebuilt edge cannot load: it is not ready,
	 * takes writes, and answers 503 rather than 0 for what it lacks. */
	int st = proc_stop(S.central_pid, SIGKILL);
	(void)st;
	S.central_pid = 0;
	rebuild_edge1();
	cr_assert_eq(call(1, "GET", "/readyz", NULL, NULL), 503);
	cr_assert(strstr(proc_body(out), "loading the replica from central"), "%s", proc_body(out));
	cr_assert_eq(call(1, "GET", "/v1/items/post/d1/likes", NULL, NULL), 503);
	cr_assert(strstr(proc_body(out), "count_unavailable"), "%s", proc_body(out));
	char ra[16];
	cr_assert(proc_header(out, "retry-after", ra, sizeof ra));
	/* Writes go on without central, and say the count is not known. */
	cr_assert_eq(call(1, "POST", "/v1/items/post/d9/likes", "u1", NULL), 200);
	cr_assert(strstr(proc_body(out), "\"count\":null"), "%s", proc_body(out));
}

Test(dark, me_for_a_user_who_liked_through_another_region_asks_central)
{
	cr_assert_eq(call(0, "POST", "/v1/items/post/m1/likes", "roamer", NULL), 200);
	central_reaches("/v1/items/post/m1/likes", 1);
	cr_assert_eq(call(1, "GET", "/v1/items/post/m1/likes/me", "roamer", NULL), 200);
	cr_assert(strstr(proc_body(out), "\"member\":true,\"source\":\"central\""), "%s",
	          proc_body(out));
	cr_assert_eq(call(1, "GET", "/v1/items/post/m1/likes/me", "stranger", NULL), 200);
	cr_assert(strstr(proc_body(out), "\"member\":false,\"source\":\"central\""), "%s",
	          proc_body(out));
	/* The unlike at the other region is not a drop below the truth. */
	cr_assert_eq(call(1, "DELETE", "/v1/items/post/m1/likes", "stranger", NULL), 200);
	cr_assert(strstr(proc_body(out), "\"changed\":false"), "%s", proc_body(out));
	cr_assert_eq(call(1, "DELETE", "/v1/items/post/m1/likes", "roamer", NULL), 200);
	cr_assert(strstr(proc_body(out), "\"changed\":true"), "%s", proc_body(out));
	central_reaches("/v1/items/post/m1/likes", 0);
	cr_assert_eq(call(0, "GET", "/v1/items/post/m1/likes/me", "roamer", NULL), 200);
	cr_assert(strstr(proc_body(out), "\"source\":\"local\""), "%s", proc_body(out));
}

Test(dark, sum_counter_is_exactly_once_across_a_forced_redelivery)
{
	cr_assert_eq(call(0, "POST", "/v1/items/post/x1/views", "u1", "-d '{\"n\":40}'"), 200);
	cr_assert_eq(call(0, "POST", "/v1/items/post/x1/views", "u2", "-d '{\"n\":2}'"), 200);
	central_reaches("/v1/items/post/x1/views", 42);
	/* Central applied the batch; no snapshot has told edge 0 so. Kill
	 * it: the restart must send the batch again. */
	proc_stop(S.edge_pid[0], SIGKILL);
	stack_start_edge(0);
	cr_assert(stack_file_has("edge0.log", "pending_batches=1"), "the batch was still pending");
	/* Central sees the batch again and drops it as a duplicate. */
	uint64_t deadline = clock_mono_ms() + 20000;
	while (central("/metrics") != 200 ||
	       metric_value(proc_body(out), "likes_central_batches_duplicate_total") < 1) {
		cr_assert(clock_mono_ms() < deadline, "central never saw the batch again");
		proc_sleep_ms(100);
	}
	central_reaches("/v1/items/post/x1/views", 42);
	proc_sleep_ms(500);
	cr_assert_eq(central("/v1/items/post/x1/views"), 200);
	cr_assert_eq(num("count"), 42, "the redelivered batch added nothing");
}

Test(dark, idempotency_survives_an_edge_restart)
{
	const char *opt = "-H 'Idempotency-Key: retry-after-crash' -d '{\"n\":9}'";
	cr_assert_eq(call(0, "POST", "/v1/items/post/i1/views", "u1", opt), 200);
	char first[4096];
	snprintf(first, sizeof first, "%s", proc_body(out));
	proc_stop(S.edge_pid[0], SIGKILL);
	stack_start_edge(0);
	cr_assert_eq(call(0, "POST", "/v1/items/post/i1/views", "u1", opt), 200);
	cr_assert_str_eq(proc_body(out), first, "the first answer, byte for byte");
	central_reaches("/v1/items/post/i1/views", 9);
	proc_sleep_ms(500);
	cr_assert_eq(central("/v1/items/post/i1/views"), 200);
	cr_assert_eq(num("count"), 9);
}

/* --- workers ---------------------------------------------------------------- */

/* The number after "key=" in the last line of edge0.log holding both
 * needle and "key="; -1 if none. */
static long long log_num(const char *needle, const char *key)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
	         "grep -h '%s' '%s/edge0.log' | grep -o ' %s=[0-9]*' | tail -1 | cut -d= -f2",
	         needle, S.dir, key);
	char o[64];
	if (proc_capture(o, sizeof o, "%s", cmd) != 0 || !o[0])
		return -1;
	return strtoll(o, NULL, 10);
}

Test(workers, two_workers_share_the_port_and_every_like_counts_once)
{
	cr_assert(stack_file_has("edge0.log", "workers=2"), "%s", stack_log_tail("edge0.log"));
	/* Each curl is a connection of its own: the kernel spreads them over
	 * the two listeners; all likes land in the one ledger. */
	enum { N = 32 };
	char user[32];
	for (int i = 0; i < N; i++) {
		snprintf(user, sizeof user, "w%d", i);
		cr_assert_eq(call(0, "POST", "/v1/items/post/wk/likes", user, NULL), 200, "%s",
		             out);
	}
	cr_assert_eq(call(0, "POST", "/v1/items/post/wk/likes", "w0", NULL), 200);
	cr_assert_eq(num("changed"), 0, "a repeat at either worker is a repeat");
	edge_reaches(0, "/v1/items/post/wk/likes", N);
	central_reaches("/v1/items/post/wk/likes", N);
	/* At a clean stop each worker logs what it served. */
	cr_assert_eq(proc_stop(S.edge_pid[0], SIGTERM), 0);
	S.edge_pid[0] = 0;
	long long w0 = -1, w1 = -1;
	char needle[64];
	snprintf(needle, sizeof needle, "worker stats.*worker=0 ");
	w0 = log_num(needle, "requests");
	snprintf(needle, sizeof needle, "worker stats.*worker=1 ");
	w1 = log_num(needle, "requests");
	cr_assert(w0 > 0 && w1 > 0, "both workers served (%lld and %lld requests)", w0, w1);
}
