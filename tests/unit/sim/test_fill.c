/* test_fill.c - sim fill against a fake edge: an evhttp server on its own
 * thread (fakesrv.h) that answers POST /v1/ops like the edge does and
 * records which items and users it saw. Covers the request plan (each
 * item once, users cycled, the remainder in the last request), the
 * default ops per request, failure counting (non-2xx, a refused op, a
 * dead port, a silent server), connections the server closes, and
 * refused options.
 */
#include <criterion/criterion.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "sim/bench/fill.h"
#include "tests/support/fakesrv.h"
#include "xmem.h"

#define SEEN_MAX 4096

enum {
	ANSWER_OK,
	ANSWER_500_EVERY_5TH,
	ANSWER_OP_503_EVERY_10TH,
	ANSWER_CLOSE,
	ANSWER_NEVER,
	ANSWER_UNCHANGED
};

static struct {
	fakesrv srv;
	int port;
	int mode;
	atomic_int requests;
	atomic_int bad_requests; /* not the shape fill should send */
	atomic_int items[SEEN_MAX];
	atomic_int users[SEEN_MAX];
} S;

static void setup(void)
{
	memset(&S, 0, sizeof S);
	fakesrv_init(&S.srv);
}

static void teardown(void)
{
	fakesrv_stop(&S.srv);
}

TestSuite(fill, .init = setup, .fini = teardown, .timeout = 30);

/* The number after prefix in s, or -1. */
static long id_after(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	if (!s || strncmp(s, prefix, n) != 0 || !s[n])
		return -1;
	char *end;
	long v = strtol(s + n, &end, 10);
	return *end || v < 0 || v >= SEEN_MAX ? -1 : v;
}

/* Records the request's user and items; returns its op count, or -1 when
 * the request is not a well-formed likes batch. */
static int record(struct evhttp_request *req)
{
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST ||
	    strcmp(evhttp_request_get_uri(req), "/v1/ops") != 0)
		return -1;
	const char *user = evhttp_find_header(evhttp_request_get_input_headers(req), "X-User-Id");
	long u = id_after(user, "mu");
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	json_t *root = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, NULL);
	json_t *ops = root ? json_object_get(root, "ops") : NULL;
	int n = -1;
	if (u >= 0 && json_is_array(ops) && json_array_size(ops) > 0) {
		n = (int)json_array_size(ops);
		for (size_t i = 0; i < json_array_size(ops); i++) {
			json_t *op = json_array_get(ops, i);
			long it =
			    id_after(json_string_value(json_object_get(op, "item")), "post:m");
			if (it < 0 || strcmp(json_string_value(json_object_get(op, "op")), "add") ||
			    strcmp(json_string_value(json_object_get(op, "counter")), "likes")) {
				n = -1;
				break;
			}
			atomic_fetch_add(&S.items[it], 1);
		}
		if (n > 0)
			atomic_fetch_add(&S.users[u], 1);
	}
	json_decref(root);
	return n;
}

static void handler(struct evhttp_request *req, void *arg)
{
	(void)arg;
	int q = atomic_fetch_add(&S.requests, 1) + 1;
	int n = record(req);
	if (n < 0) {
		atomic_fetch_add(&S.bad_requests, 1);
		evhttp_send_reply(req, 400, "Bad Request", NULL);
		return;
	}
	if (S.mode == ANSWER_NEVER)
		return; /* evhttp frees it when the client gives up and closes */
	if (S.mode == ANSWER_500_EVERY_5TH && q % 5 == 0) {
		evhttp_send_reply(req, 500, "Internal Server Error", NULL);
		return;
	}
	struct evbuffer *out = evbuffer_new();
	evbuffer_add_printf(out, "{\"results\":[");
	for (int i = 0; i < n; i++) {
		int st = S.mode == ANSWER_OP_503_EVERY_10TH && q % 10 == 0 && i == 0 ? 503 : 200;
		evbuffer_add_printf(out, "%s{\"status\":%d,\"body\":{\"changed\":%s}}",
		                    i ? "," : "", st,
		                    S.mode == ANSWER_UNCHANGED ? "false" : "true");
	}
	evbuffer_add_printf(out, "]}");
	if (S.mode == ANSWER_CLOSE)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void serve(int mode)
{
	S.mode = mode;
	S.port = fakesrv_listen(&S.srv, NULL, handler, NULL);
	fakesrv_start(&S.srv);
}

static fill_opts opts(uint64_t items, uint64_t users)
{
	fill_opts o;
	fill_opts_default(&o);
	o.port = S.port;
	o.items = items;
	o.users = users;
	o.conns = 4;
	o.timeout_ms = 5000;
	return o;
}

static void run_ok(const fill_opts *o, fill_result *r)
{
	char err[128] = "";
	cr_assert_eq(fill_run(o, r, err, sizeof err), 0, "fill_run: %s", err);
}

Test(fill, every_item_is_liked_once_and_every_user_is_in_play)
{
	serve(ANSWER_OK);
	fill_opts o = opts(1000, 100);
	fill_result r;
	run_ok(&o, &r);
	cr_expect_eq(r.per_request, 10);
	cr_expect_eq(r.requests, 100);
	cr_expect_eq(r.requests_ok, 100);
	cr_expect_eq(r.requests_failed, 0);
	cr_expect_eq(r.ops_ok, 1000);
	cr_expect_eq(r.ops_failed, 0);
	cr_expect_eq(r.items, 1000);
	cr_expect_eq(r.users, 100);
	cr_expect_not(r.stopped_early);
	cr_expect_eq(atomic_load(&S.bad_requests), 0);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(atomic_load(&S.items[i]), 1, "item %d liked %d times", i,
		             atomic_load(&S.items[i]));
	for (int u = 0; u < 100; u++)
		cr_assert_eq(atomic_load(&S.users[u]), 1, "user %d", u);
	cr_expect_eq(atomic_load(&S.users[100]), 0);
}

Test(fill, the_last_request_carries_the_remainder_and_users_cycle)
{
	serve(ANSWER_OK);
	fill_opts o = opts(1005, 100);
	o.per_request = 3;
	fill_result r;
	run_ok(&o, &r);
	cr_expect_eq(r.requests, 335);
	cr_expect_eq(r.ops_ok, 1005);
	cr_expect_eq(r.users, 100);
	for (int i = 0; i < 1005; i++)
		cr_assert_eq(atomic_load(&S.items[i]), 1, "item %d", i);
	cr_expect_eq(atomic_load(&S.items[1005]), 0);
	/* 335 requests over 100 users: the first 35 users get 4, the rest 3. */
	cr_expect_eq(atomic_load(&S.users[0]), 4);
	cr_expect_eq(atomic_load(&S.users[34]), 4);
	cr_expect_eq(atomic_load(&S.users[35]), 3);
	cr_expect_eq(atomic_load(&S.users[99]), 3);
}

Test(fill, ops_per_request_default_to_items_over_users_within_the_edge_max)
{
	fill_opts o;
	fill_opts_default(&o);
	o.items = 10000000, o.users = 1000000;
	cr_expect_eq(fill_per_request(&o), 10);
	o.users = 3000000;
	cr_expect_eq(fill_per_request(&o), 4);
	o.users = 1;
	cr_expect_eq(fill_per_request(&o), FILL_OPS_MAX);
	o.users = o.items;
	cr_expect_eq(fill_per_request(&o), 1);
	o.per_request = 7;
	cr_expect_eq(fill_per_request(&o), 7);
}

Test(fill, a_non_2xx_answer_fails_its_request)
{
	serve(ANSWER_500_EVERY_5TH);
	fill_opts o = opts(1000, 100);
	fill_result r;
	run_ok(&o, &r);
	cr_expect_eq(r.requests, 100);
	cr_expect_eq(r.requests_failed, 20);
	cr_expect_eq(r.non_2xx, 20);
	cr_expect_eq(r.conn_errors, 0);
	cr_expect_eq(r.requests_ok, 80);
	cr_expect_eq(r.ops_failed, 200);
	cr_expect_eq(r.ops_ok, 800);
}

Test(fill, an_op_answered_other_than_200_fails_its_request)
{
	serve(ANSWER_OP_503_EVERY_10TH);
	fill_opts o = opts(1000, 100);
	fill_result r;
	run_ok(&o, &r);
	cr_expect_eq(r.requests_failed, 10);
	cr_expect_eq(r.non_2xx, 0);
	cr_expect_eq(r.ops_failed, 10);
	cr_expect_eq(r.ops_ok, 990);
}

Test(fill, repeats_are_counted_but_not_failures)
{
	serve(ANSWER_UNCHANGED);
	fill_opts o = opts(200, 20);
	fill_result r;
	run_ok(&o, &r);
	cr_expect_eq(r.requests_ok, 20);
	cr_expect_eq(r.ops_unchanged, 200);
}

Test(fill, a_server_that_closes_after_each_answer_still_gets_every_request)
{
	serve(ANSWER_CLOSE);
	fill_opts o = opts(500, 100);
	fill_result r;
	run_ok(&o, &r);
	cr_expect_eq(r.requests_ok, 100);
	cr_expect_eq(r.requests_failed, 0);
	for (int i = 0; i < 500; i++)
		cr_assert_eq(atomic_load(&S.items[i]), 1, "item %d", i);
}

Test(fill, a_dead_port_fails_requests_until_max_failures)
{
	fill_opts o = opts(1000, 100);
	o.port = fakesrv_dead_port();
	o.max_failures = 3;
	fill_result r;
	run_ok(&o, &r);
	cr_expect_eq(r.requests_ok, 0);
	cr_expect_geq(r.requests_failed, 3);
	cr_expect_eq(r.conn_errors, r.requests_failed);
	cr_expect_lt(r.requests, 100);
	cr_expect(r.stopped_early);
}

Test(fill, a_silent_server_times_out)
{
	serve(ANSWER_NEVER);
	fill_opts o = opts(100, 10);
	o.conns = 1;
	o.timeout_ms = 100;
	o.max_failures = 1;
	fill_result r;
	run_ok(&o, &r);
	cr_expect_eq(r.requests, 1);
	cr_expect_eq(r.requests_failed, 1);
	cr_expect_eq(r.conn_errors, 1);
	cr_expect_eq(r.ops_failed, 10);
	cr_expect(r.stopped_early);
	cr_expect_geq(r.seconds, 0.09);
}

Test(fill, max_ms_stops_sending)
{
	serve(ANSWER_NEVER);
	fill_opts o = opts(100, 10);
	o.conns = 1;
	o.timeout_ms = 100;
	o.max_ms = 50;
	fill_result r;
	run_ok(&o, &r);
	cr_expect_eq(r.requests, 1);
	cr_expect(r.stopped_early);
}

Test(fill, bad_options_are_refused)
{
	char err[128];
	fill_result r;
	fill_opts o = opts(100, 10);
	o.port = 0;
	cr_expect_eq(fill_run(&o, &r, err, sizeof err), ERR_INVAL);
	o = opts(100, 101);
	o.port = 1;
	cr_expect_eq(fill_run(&o, &r, err, sizeof err), ERR_INVAL);
	o = opts(100, 10);
	o.port = 1;
	o.per_request = FILL_OPS_MAX + 1;
	cr_expect_eq(fill_run(&o, &r, err, sizeof err), ERR_INVAL);
	o.per_request = 0;
	o.item_prefix = "post:\"x";
	cr_expect_eq(fill_run(&o, &r, err, sizeof err), ERR_INVAL);
	o.item_prefix = "post:m";
	o.user_prefix = "a b";
	cr_expect_eq(fill_run(&o, &r, err, sizeof err), ERR_INVAL);
	o.user_prefix = "mu";
	o.conns = 0;
	cr_expect_eq(fill_run(&o, &r, err, sizeof err), ERR_INVAL);
	cr_expect_neq(err[0], '\0');
}
