/* test_central_client.c - the edge's client for central's ops API against
 * a fake central, and the parsers of central's answers.
 *
 * The fake central is a fakesrv.h server on 127.0.0.1 port 0 whose loop
 * thread is never started: it shares its event_base with the client, and
 * tests drive the loop until a condition holds or a deadline passes. Its
 * routes: /slow?ms=N answers after N ms, /fail answers 503, /big answers
 * 2 MiB, anything else 200 {"path":"<uri>"}.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edge/upstream/central_client.h"
#include "clock.h"
#include "tests/support/fakesrv.h"
#include "tests/support/logfmt.h"
#include "log.h"
#include "xmem.h"

#define WAIT_MS 3000
#define MAX_DELAYED 32

/* --- the fake central ------------------------------------------------------- */

typedef struct delayed {
	struct evhttp_request *req;
	struct event *ev;
	bool sent;
} delayed;

static struct {
	fakesrv srv; /* its stop timer keeps the loop turning while tests wait */
	uint16_t port;
	char addr[64];
	int hits;
	bool saw_auth;
	char auth[256], host[128], path[512];
	uint16_t peer_port[8];
	delayed d[MAX_DELAYED];
	int nd;
	central_client *cc;
} S;

static void reply(struct evhttp_request *req, int status, const char *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();
	cr_assert_not_null(b);
	cr_assert_eq(evbuffer_add(b, body, len), 0);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
}

static void reply_path(struct evhttp_request *req, int status)
{
	char body[600];
	int n = snprintf(body, sizeof body, "{\"path\":\"%s\"}", evhttp_request_get_uri(req));
	reply(req, status, body, (size_t)n);
}

static void send_delayed(delayed *d)
{
	if (d->sent)
		return;
	d->sent = true;
	reply_path(d->req, 200);
}

static void on_delay(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_delayed(arg);
}

static void handler(struct evhttp_request *req, void *arg)
{
	(void)arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *auth = evhttp_find_header(in, "Authorization");
	const char *host = evhttp_find_header(in, "Host");
	char *peer;
	uint16_t port;
	evhttp_connection_get_peer(evhttp_request_get_connection(req), &peer, &port);
	if (S.hits < 8)
		S.peer_port[S.hits] = port;
	S.hits++;
	S.saw_auth = auth != NULL;
	snprintf(S.auth, sizeof S.auth, "%s", auth ? auth : "");
	snprintf(S.host, sizeof S.host, "%s", host ? host : "");
	snprintf(S.path, sizeof S.path, "%s", uri);

	if (strncmp(uri, "/slow?ms=", 9) == 0) {
		cr_assert_lt(S.nd, MAX_DELAYED);
		delayed *d = &S.d[S.nd++];
		unsigned ms = (unsigned)strtoul(uri + 9, NULL, 10);
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		d->req = req;
		d->ev = evtimer_new(S.srv.base, on_delay, d);
		cr_assert_not_null(d->ev);
		cr_assert_eq(evtimer_add(d->ev, &tv), 0);
	} else if (strcmp(uri, "/fail") == 0) {
		reply(req, 503, "{\"error\":{\"code\":\"store_error\"}}", 33);
	} else if (strcmp(uri, "/big") == 0) {
		size_t n = 2u << 20;
		char *big = xmalloc(n);
		memset(big, 'x', n);
		reply(req, 200, big, n);
		free(big);
	} else {
		reply_path(req, 200);
	}
}

static void server_start(void)
{
	memset(&S, 0, sizeof S);
	fakesrv_init(&S.srv);
	S.port = (uint16_t)fakesrv_listen(&S.srv, NULL, handler, NULL);
	snprintf(S.addr, sizeof S.addr, "127.0.0.1:%u", S.port);
}

static void server_stop(void)
{
	central_client_free(S.cc);
	S.cc = NULL;
	for (int i = 0; i < S.nd; i++) {
		send_delayed(&S.d[i]);
		event_free(S.d[i].ev);
	}
	fakesrv_stop(&S.srv);
}

TestSuite(central_client, .init = server_start, .fini = server_stop, .timeout = 15);

/* Runs the loop until cond holds or WAIT_MS pass, then asserts cond. */
#define WAIT_UNTIL(cond)                                                                           \
	do {                                                                                       \
		uint64_t deadline_ = clock_mono_ms() + WAIT_MS;                                    \
		while (!(cond) && clock_mono_ms() < deadline_)                                     \
			event_base_loop(S.srv.base, EVLOOP_ONCE);                                  \
		cr_assert(cond, "timed out waiting for %s", #cond);                                \
	} while (0)

/* Lets the loop run for ms: for checks that something does NOT happen. */
static void run_for(unsigned ms)
{
	uint64_t end = clock_mono_ms() + ms;
	while (clock_mono_ms() < end)
		event_base_loop(S.srv.base, EVLOOP_ONCE);
}

typedef struct rec {
	int calls;
	int rc;
	int status;
	char body[600];
	size_t len;
	uint64_t at;
} rec;

static void record(void *arg, int rc, int status, const char *body, size_t len)
{
	rec *r = arg;
	r->calls++;
	r->rc = rc;
	r->status = status;
	r->len = len;
	r->at = clock_mono_ms();
	r->body[0] = 0;
	if (body) {
		cr_assert_eq(body[len], 0, "body is NUL-terminated");
		snprintf(r->body, sizeof r->body, "%s", body);
	} else {
		cr_assert_eq(len, 0);
	}
}

static central_client *client_at(const char *addr, const char *token, unsigned timeout_ms,
                                 unsigned max_inflight, unsigned fail_open_ms)
{
	central_client_opts o = {.address = addr,
	                         .token = token,
	                         .timeout_ms = timeout_ms,
	                         .max_inflight = max_inflight,
	                         .fail_open_ms = fail_open_ms};
	char err[256] = "";
	central_client *c = central_client_new(S.srv.base, &o, err, sizeof err);
	cr_assert_not_null(c, "central_client_new: %s", err);
	return c;
}

static central_client *client(const char *token, unsigned timeout_ms, unsigned max_inflight,
                              unsigned fail_open_ms)
{
	return S.cc = client_at(S.addr, token, timeout_ms, max_inflight, fail_open_ms);
}

static void get_ok(central_client *c, const char *path, rec *r)
{
	cr_assert_eq(central_client_get(c, path, record, r), 0, "get %s", path);
}

/* --- client --------------------------------------------------------------------- */

Test(central_client, answer_carries_status_body_and_host)
{
	central_client *c = client("", 0, 0, 0);
	rec r = {0};
	get_ok(c, "/v1/counts?items=post:1,reel:9", &r);
	WAIT_UNTIL(r.calls == 1);
	cr_assert_eq(r.rc, 0, "%s", err_str(r.rc));
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(r.body, "{\"path\":\"/v1/counts?items=post:1,reel:9\"}");
	cr_assert_eq(r.len, strlen(r.body));
	cr_assert_eq(S.hits, 1);
	cr_assert_str_eq(S.host, S.addr);
	cr_assert_not(S.saw_auth, "no token, no Authorization header");
	central_client_stats st;
	central_client_get_stats(c, &st);
	cr_assert_eq(st.requests, 1);
	cr_assert_eq(st.failures, 0);
	cr_assert_eq(st.inflight, 0);
}

Test(central_client, bearer_token_reaches_central)
{
	central_client *c = client("s3cret-token", 0, 0, 0);
	rec r = {0};
	get_ok(c, "/healthz", &r);
	WAIT_UNTIL(r.calls == 1);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq(S.auth, "Bearer s3cret-token");
}

Test(central_client, server_error_is_an_answer)
{
	central_client *c = client("", 0, 0, 0);
	rec r = {0};
	get_ok(c, "/fail", &r);
	WAIT_UNTIL(r.calls == 1);
	cr_assert_eq(r.rc, 0);
	cr_assert_eq(r.status, 503);
	cr_assert(strstr(r.body, "store_error"));
	central_client_stats st;
	central_client_get_stats(c, &st);
	cr_assert_eq(st.failures, 1);
}

Test(central_client, identical_paths_share_one_request)
{
	central_client *c = client("", 0, 0, 0);
	rec a = {0}, b = {0}, other = {0};
	get_ok(c, "/slow?ms=30", &a);
	get_ok(c, "/slow?ms=30", &b);
	get_ok(c, "/slow?ms=31", &other);
	WAIT_UNTIL(a.calls == 1 && b.calls == 1 && other.calls == 1);
	cr_assert_eq(S.hits, 2, "one request per distinct path");
	cr_assert_eq(a.status, 200);
	cr_assert_eq(b.status, 200);
	cr_assert_str_eq(a.body, "{\"path\":\"/slow?ms=30\"}");
	cr_assert_str_eq(b.body, a.body);
	cr_assert_str_eq(other.body, "{\"path\":\"/slow?ms=31\"}");
	central_client_stats st;
	central_client_get_stats(c, &st);
	cr_assert_eq(st.requests, 2);
	cr_assert_eq(st.coalesced, 1);
	/* Done requests are not joined: the same path again goes to central. */
	rec again = {0};
	get_ok(c, "/slow?ms=30", &again);
	WAIT_UNTIL(again.calls == 1);
	cr_assert_eq(S.hits, 3);
}

Test(central_client, sequential_requests_reuse_the_connection)
{
	central_client *c = client("", 0, 0, 0);
	rec a = {0}, b = {0};
	get_ok(c, "/one", &a);
	WAIT_UNTIL(a.calls == 1);
	get_ok(c, "/two", &b);
	WAIT_UNTIL(b.calls == 1);
	cr_assert_eq(S.hits, 2);
	cr_assert_eq(S.peer_port[0], S.peer_port[1], "keep-alive: one connection");
}

Test(central_client, callbacks_never_run_inside_get)
{
	central_client *c = client("", 0, 1, 0);
	rec a = {0}, busy = {0}, never = {0};
	get_ok(c, "/slow?ms=20", &a);
	get_ok(c, "/other", &busy);
	cr_assert_eq(busy.calls, 0, "ERR_AGAIN waits for the loop");
	WAIT_UNTIL(busy.calls == 1);
	cr_assert_eq(busy.rc, ERR_AGAIN);
	cr_assert_eq(a.calls, 0);
	WAIT_UNTIL(a.calls == 1);
	cr_assert_eq(a.rc, 0);
	cr_assert_eq(S.hits, 1);

	cr_assert_eq(central_client_get(c, "no-slash", record, &never), ERR_INVAL);
	cr_assert_eq(central_client_get(c, "/has space", record, &never), ERR_INVAL);
	cr_assert_eq(central_client_get(c, "/quote\"", record, &never), ERR_INVAL);
	cr_assert_eq(central_client_get(c, "", record, &never), ERR_INVAL);
	cr_assert_eq(central_client_get(c, "/ok", NULL, &never), ERR_INVAL);
	char *long_path = xmalloc(CENTRAL_PATH_MAX + 2);
	memset(long_path, 'a', CENTRAL_PATH_MAX + 1);
	long_path[0] = '/';
	long_path[CENTRAL_PATH_MAX + 1] = 0;
	cr_assert_eq(central_client_get(c, long_path, record, &never), ERR_INVAL);
	free(long_path);
	run_for(20);
	cr_assert_eq(never.calls, 0, "refused gets never call back");
	central_client_stats st;
	central_client_get_stats(c, &st);
	cr_assert_eq(st.busy_rejects, 1);
}

Test(central_client, slow_answer_times_out)
{
	central_client *c = client("", 50, 0, 0);
	rec r = {0};
	uint64_t t0 = clock_mono_ms();
	get_ok(c, "/slow?ms=400", &r);
	WAIT_UNTIL(r.calls == 1);
	cr_assert_eq(r.rc, ERR_TIMEOUT, "%s", err_str(r.rc));
	cr_assert_eq(r.status, 0);
	cr_assert_geq(r.at - t0, 45);
	cr_assert_lt(r.at - t0, 350, "took %" PRIu64 " ms", r.at - t0);
	central_client_stats st;
	central_client_get_stats(c, &st);
	cr_assert_eq(st.timeouts, 1);
	cr_assert_eq(st.failures, 1);
	cr_assert_eq(st.inflight, 0);
	/* The abandoned connection is replaced: the next get works. */
	rec next = {0};
	get_ok(c, "/after", &next);
	WAIT_UNTIL(next.calls == 1);
	cr_assert_eq(next.rc, 0, "%s", err_str(next.rc));
	cr_assert_eq(next.status, 200);
}

Test(central_client, refused_connection_is_io_error)
{
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", fakesrv_dead_port());
	central_client *c = S.cc = client_at(addr, "", 0, 0, 0);
	rec r = {0};
	get_ok(c, "/v1/counts?items=post:1", &r);
	WAIT_UNTIL(r.calls == 1);
	cr_assert_eq(r.rc, ERR_IO, "%s", err_str(r.rc));
	cr_assert_eq(r.status, 0);
}

Test(central_client, oversized_answer_is_toobig)
{
	central_client *c = client("", 2000, 0, 0);
	rec r = {0};
	get_ok(c, "/big", &r);
	WAIT_UNTIL(r.calls == 1);
	cr_assert_eq(r.rc, ERR_TOOBIG, "%s", err_str(r.rc));
}

Test(central_client, refusals_open_the_circuit)
{
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", fakesrv_dead_port());
	central_client *c = S.cc = client_at(addr, "", 0, 0, 5000);
	for (int i = 0; i < 3; i++) {
		rec r = {0};
		get_ok(c, "/x", &r);
		WAIT_UNTIL(r.calls == 1);
		cr_assert_eq(r.rc, ERR_IO);
	}
	rec r = {0};
	uint64_t t0 = clock_mono_ms();
	get_ok(c, "/x", &r);
	WAIT_UNTIL(r.calls == 1);
	cr_assert_eq(r.rc, ERR_AGAIN);
	cr_assert_lt(r.at - t0, 100, "fails fast");
	central_client_stats st;
	central_client_get_stats(c, &st);
	cr_assert(st.circuit_open);
	cr_assert_eq(st.circuit_open_rejects, 1);
	cr_assert_eq(st.requests, 3);
}

/* Three 503s in a row open it; a request then fails fast without reaching
 * central; after fail_open_ms one probe goes through (others still fail
 * fast while it is out) and its success closes the circuit. */
Test(central_client, circuit_opens_after_three_failures_and_a_probe_closes_it)
{
	central_client *c = client("", 0, 0, 150);
	for (int i = 0; i < 3; i++) {
		rec r = {0};
		get_ok(c, "/fail", &r);
		WAIT_UNTIL(r.calls == 1);
		cr_assert_eq(r.status, 503);
	}
	uint64_t opened = clock_mono_ms();
	rec rej = {0};
	get_ok(c, "/v1/counts?items=post:1", &rej);
	WAIT_UNTIL(rej.calls == 1);
	cr_assert_eq(rej.rc, ERR_AGAIN);
	cr_assert_eq(S.hits, 3, "an open circuit does not touch central");

	WAIT_UNTIL(clock_mono_ms() >= opened + 160);
	rec probe = {0}, during = {0};
	get_ok(c, "/slow?ms=40", &probe);
	get_ok(c, "/during", &during);
	WAIT_UNTIL(during.calls == 1);
	cr_assert_eq(during.rc, ERR_AGAIN, "one probe at a time");
	WAIT_UNTIL(probe.calls == 1);
	cr_assert_eq(probe.rc, 0);
	cr_assert_eq(probe.status, 200);

	central_client_stats st;
	central_client_get_stats(c, &st);
	cr_assert_not(st.circuit_open);
	cr_assert_eq(st.circuit_open_rejects, 2);
	rec after = {0};
	get_ok(c, "/after", &after);
	WAIT_UNTIL(after.calls == 1);
	cr_assert_eq(after.rc, 0);
	cr_assert_eq(after.status, 200);
}

Test(central_client, failed_probe_reopens_the_circuit)
{
	central_client *c = client("", 0, 0, 100);
	for (int i = 0; i < 3; i++) {
		rec r = {0};
		get_ok(c, "/fail", &r);
		WAIT_UNTIL(r.calls == 1);
	}
	uint64_t opened = clock_mono_ms();
	WAIT_UNTIL(clock_mono_ms() >= opened + 110);
	rec probe = {0}, next = {0};
	get_ok(c, "/fail", &probe);
	WAIT_UNTIL(probe.calls == 1);
	cr_assert_eq(probe.status, 503);
	get_ok(c, "/ok", &next);
	WAIT_UNTIL(next.calls == 1);
	cr_assert_eq(next.rc, ERR_AGAIN);
	cr_assert_eq(S.hits, 4);
}

/* A central that stays down costs one warning, not one per failed probe. */
Test(central_client, a_central_that_stays_down_is_warned_about_once)
{
	logfmt_capture cap;
	logfmt_capture_start(&cap, LOG_WARN);
	central_client *c = client("", 0, 0, 50);
	for (int i = 0; i < 3; i++) {
		rec r = {0};
		get_ok(c, "/fail", &r);
		WAIT_UNTIL(r.calls == 1);
	}
	for (int probes = 0; probes < 3; probes++) {
		uint64_t opened = clock_mono_ms();
		WAIT_UNTIL(clock_mono_ms() >= opened + 60);
		rec probe = {0};
		get_ok(c, "/fail", &probe);
		WAIT_UNTIL(probe.calls == 1);
		cr_assert_eq(probe.status, 503);
	}
	int warned = logfmt_capture_end(&cap, "central failing, circuit open");
	cr_assert_eq(S.hits, 6, "three failures and three failed probes reached central");
	cr_assert_eq(warned, 1, "warnings: %d (-1: the log could not be read)", warned);
}

Test(central_client, two_failures_then_success_keep_it_closed)
{
	central_client *c = client("", 0, 0, 5000);
	const char *seq[] = {"/fail", "/fail", "/ok", "/fail", "/fail", "/ok"};
	for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
		rec r = {0};
		get_ok(c, seq[i], &r);
		WAIT_UNTIL(r.calls == 1);
		cr_assert_eq(r.rc, 0, "step %zu: %s", i, err_str(r.rc));
	}
	central_client_stats st;
	central_client_get_stats(c, &st);
	cr_assert_not(st.circuit_open);
	cr_assert_eq(st.failures, 4);
}

static int closed_calls;
static central_client *reentry;

static void get_again_on_close(void *arg, int rc, int status, const char *body, size_t len)
{
	record(arg, rc, status, body, len);
	rec spare = {0};
	cr_assert_eq(central_client_get(reentry, "/again", record, &spare), ERR_CLOSED);
	closed_calls++;
}

Test(central_client, free_calls_every_outstanding_callback_with_closed)
{
	central_client *c = client("", 2000, 2, 0);
	rec a = {0}, b = {0}, joined = {0}, busy = {0}, reenter = {0};
	get_ok(c, "/slow?ms=1000", &a);
	get_ok(c, "/slow?ms=1001", &b);
	get_ok(c, "/slow?ms=1000", &joined);
	WAIT_UNTIL(S.hits == 2);
	get_ok(c, "/third", &busy); /* over max_inflight: due on the next turn */
	reentry = c;
	cr_assert_eq(central_client_get(c, "/slow?ms=1001", get_again_on_close, &reenter), 0);
	central_client_free(c);
	S.cc = NULL;
	rec *all[] = {&a, &b, &joined, &busy, &reenter};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		cr_assert_eq(all[i]->calls, 1, "callback %zu", i);
		cr_assert_eq(all[i]->rc, ERR_CLOSED, "callback %zu: %s", i, err_str(all[i]->rc));
	}
	cr_assert_eq(closed_calls, 1);
	run_for(20);
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		cr_assert_eq(all[i]->calls, 1, "callback %zu only once", i);
}

Test(central_client, bad_options_are_refused)
{
	const char *bad[] = {"",
	                     "127.0.0.1",
	                     "127.0.0.1:",
	                     "127.0.0.1:0",
	                     "127.0.0.1:65536",
	                     "central:9090",
	                     "::1:9090",
	                     "[::1]9090",
	                     "127.0.0.1:90x"};
	char err[256];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		central_client_opts o = {.address = bad[i]};
		err[0] = 0;
		cr_assert_null(central_client_new(S.srv.base, &o, err, sizeof err), "%s", bad[i]);
		cr_assert(err[0], "a reason for %s", bad[i]);
	}
	central_client_opts o = {.address = "127.0.0.1:9090", .token = "two words"};
	cr_assert_null(central_client_new(S.srv.base, &o, err, sizeof err));
	o.token = "";
	o.timeout_ms = 10u * 60 * 60 * 1000;
	cr_assert_null(central_client_new(S.srv.base, &o, err, sizeof err));
	o.timeout_ms = 0;
	o.address = "[::1]:9090";
	central_client *c = central_client_new(S.srv.base, &o, err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	central_client_free(c);
}

/* --- parsers ------------------------------------------------------------------- */

static const char counts_ok[] =
    "{\"items\":{"
    "\"post:1\":{\"partition\":3,\"version\":1234,\"applied\":17,\"as_of\":1763700000000,"
    "\"counts\":{\"likes\":12,\"views\":0}},"
    "\"reel:9\":{\"partition\":4095,\"version\":0,\"applied\":0,\"as_of\":1763700000001,"
    "\"counts\":{\"likes\":9007199254740993},\"future\":[1,2]}},\"extra\":true}";

static const central_count *find_count(const central_count *v, size_t n, const char *item,
                                       const char *counter)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].item, item) == 0 && strcmp(v[i].counter, counter) == 0)
			return &v[i];
	return NULL;
}

Test(central_parse, counts_answer_gives_one_entry_per_item_and_counter)
{
	central_count *v;
	size_t n;
	cr_assert_eq(central_parse_counts(counts_ok, strlen(counts_ok), &v, &n), 0);
	cr_assert_eq(n, 3);
	const central_count *e = find_count(v, n, "post:1", "likes");
	cr_assert_not_null(e);
	cr_assert_eq(e->count, 12);
	cr_assert_eq(e->partition, 3);
	cr_assert_eq(e->version, 1234);
	cr_assert_eq(e->applied, 17);
	cr_assert_eq(e->as_of, 1763700000000ull);
	e = find_count(v, n, "post:1", "views");
	cr_assert_not_null(e);
	cr_assert_eq(e->count, 0);
	cr_assert_eq(e->version, 1234);
	e = find_count(v, n, "reel:9", "likes");
	cr_assert_not_null(e);
	cr_assert_eq(e->count, 9007199254740993ull, "64-bit counts survive");
	cr_assert_eq(e->partition, 4095);
	cr_assert_eq(e->as_of, 1763700000001ull);
	free(v);
}

Test(central_parse, empty_items_are_no_entries)
{
	central_count *v = (central_count *)1;
	size_t n = 7;
	const char *body = "{\"items\":{}}";
	cr_assert_eq(central_parse_counts(body, strlen(body), &v, &n), 0);
	cr_assert_null(v);
	cr_assert_eq(n, 0);
}

Test(central_parse, length_bounds_the_input)
{
	central_count *v;
	size_t n;
	/* Only the first len bytes count: a cut answer is corrupt. */
	cr_assert_eq(central_parse_counts(counts_ok, strlen(counts_ok) - 1, &v, &n), ERR_CORRUPT);
	cr_assert_eq(central_parse_counts(counts_ok, CENTRAL_BODY_MAX + 1, &v, &n), ERR_TOOBIG);
	cr_assert_null(v);
	cr_assert_eq(n, 0);
	central_member m;
	cr_assert_eq(central_parse_member("{}", CENTRAL_BODY_MAX + 1, &m), ERR_TOOBIG);
}

Test(central_parse, more_than_the_item_limit_is_corrupt)
{
	size_t cap = 64 * 1024, off = 0;
	char *body = xmalloc(cap);
	off += (size_t)snprintf(body + off, cap - off, "{\"items\":{");
	for (int i = 0; i <= CENTRAL_ITEMS_MAX; i++)
		off +=
		    (size_t)snprintf(body + off, cap - off,
		                     "%s\"post:%d\":{\"partition\":1,\"version\":1,\"applied\":0,"
		                     "\"as_of\":1,\"counts\":{\"likes\":1}}",
		                     i ? "," : "", i);
	off += (size_t)snprintf(body + off, cap - off, "}}");
	cr_assert_lt(off, cap);
	central_count *v;
	size_t n;
	cr_assert_eq(central_parse_counts(body, off, &v, &n), ERR_CORRUPT);
	/* One fewer is fine. */
	char *cut = strstr(body, ",\"post:100\"");
	cr_assert_not_null(cut);
	strcpy(cut, "}}");
	cr_assert_eq(central_parse_counts(body, strlen(body), &v, &n), 0);
	cr_assert_eq(n, CENTRAL_ITEMS_MAX);
	free(v);
	free(body);
}

/* Inline arrays: Criterion copies parameters into the test's process, so
 * they may not point elsewhere. */
typedef struct bad_body {
	char why[32];
	char body[256];
} bad_body;

#define ENTRY(fields) "{\"items\":{\"post:1\":{" fields "}}}"
#define GOOD_HEAD "\"partition\":3,\"version\":1,\"applied\":0,\"as_of\":5,"

ParameterizedTestParameters(central_parse, malformed_counts_are_corrupt)
{
	static bad_body params[] = {
	    {"not json", "nope"},
	    {"array root", "[]"},
	    {"trailing garbage", "{\"items\":{}} x"},
	    {"no items", "{}"},
	    {"items an array", "{\"items\":[]}"},
	    {"item not an object", "{\"items\":{\"post:1\":7}}"},
	    {"duplicate item", "{\"items\":{\"post:1\":{" GOOD_HEAD "\"counts\":{\"likes\":1}},"
	                       "\"post:1\":{" GOOD_HEAD "\"counts\":{\"likes\":1}}}}"},
	    {"missing version", ENTRY("\"partition\":3,\"applied\":0,\"as_of\":5,"
	                              "\"counts\":{\"likes\":1}")},
	    {"missing partition", ENTRY("\"version\":1,\"applied\":0,\"as_of\":5,"
	                                "\"counts\":{\"likes\":1}")},
	    {"missing applied", ENTRY("\"partition\":3,\"version\":1,\"as_of\":5,"
	                              "\"counts\":{\"likes\":1}")},
	    {"missing as_of", ENTRY("\"partition\":3,\"version\":1,\"applied\":0,"
	                            "\"counts\":{\"likes\":1}")},
	    {"missing counts", ENTRY(GOOD_HEAD "\"x\":1")},
	    {"empty counts", ENTRY(GOOD_HEAD "\"counts\":{}")},
	    {"counts an array", ENTRY(GOOD_HEAD "\"counts\":[1]")},
	    {"version a string", ENTRY("\"partition\":3,\"version\":\"1\",\"applied\":0,"
	                               "\"as_of\":5,\"counts\":{\"likes\":1}")},
	    {"version a real", ENTRY("\"partition\":3,\"version\":1.5,\"applied\":0,"
	                             "\"as_of\":5,\"counts\":{\"likes\":1}")},
	    {"negative applied", ENTRY("\"partition\":3,\"version\":1,\"applied\":-1,"
	                               "\"as_of\":5,\"counts\":{\"likes\":1}")},
	    {"partition too big", ENTRY("\"partition\":4096,\"version\":1,\"applied\":0,"
	                                "\"as_of\":5,\"counts\":{\"likes\":1}")},
	    {"version over 64 bits", ENTRY("\"partition\":3,\"version\":18446744073709551616,"
	                                   "\"applied\":0,\"as_of\":5,\"counts\":{\"likes\":1}")},
	    {"count a string", ENTRY(GOOD_HEAD "\"counts\":{\"likes\":\"1\"}")},
	    {"count null", ENTRY(GOOD_HEAD "\"counts\":{\"likes\":null}")},
	    {"count negative", ENTRY(GOOD_HEAD "\"counts\":{\"likes\":-3}")},
	    {"count a real", ENTRY(GOOD_HEAD "\"counts\":{\"likes\":1e3}")},
	    {"bad counter name", ENTRY(GOOD_HEAD "\"counts\":{\"Likes\":1}")},
	    {"empty counter name", ENTRY(GOOD_HEAD "\"counts\":{\"\":1}")},
	    {"oversized counter name",
	     ENTRY(GOOD_HEAD "\"counts\":{\"abcdefghijabcdefghijabcdefghijabc\":1}")},
	    {"too many counters",
	     ENTRY(GOOD_HEAD "\"counts\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,"
	                     "\"g\":1,\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,"
	                     "\"o\":1,\"p\":1,\"q\":1}")},
	    {"item without colon", "{\"items\":{\"post1\":{" GOOD_HEAD "\"counts\":{\"a\":1}}}}"},
	    {"item with a space", "{\"items\":{\"post:1 2\":{" GOOD_HEAD "\"counts\":{\"a\":1}}}}"},
	    {"item with NUL",
	     "{\"items\":{\"post:1\\u0000\":{" GOOD_HEAD "\"counts\":{\"a\":1}}}}"},
	    {"oversized item id",
	     "{\"items\":{\"post:"
	     "1234567890123456789012345678901234567890123456789012345678901234567"
	     "\":{" GOOD_HEAD "\"counts\":{\"a\":1}}}}"},
	    {"oversized item type",
	     "{\"items\":{\"abcdefghijabcdefghijabcdefghijabc:1\":{" GOOD_HEAD
	     "\"counts\":{\"a\":1}}}}"},
	};
	return cr_make_param_array(bad_body, params, sizeof params / sizeof params[0]);
}

ParameterizedTest(bad_body *b, central_parse, malformed_counts_are_corrupt)
{
	central_count *v = (central_count *)1;
	size_t n = 9;
	cr_assert_eq(central_parse_counts(b->body, strlen(b->body), &v, &n), ERR_CORRUPT, "%s",
	             b->why);
	cr_assert_null(v, "%s", b->why);
	cr_assert_eq(n, 0, "%s", b->why);
}

#define MEMBER_HEAD "\"item\":\"post:1\",\"counter\":\"likes\",\"user\":\"u-42\","

Test(central_parse, member_answers)
{
	const char *known = "{" MEMBER_HEAD "\"member\":true,\"known\":true,"
	                    "\"hlc\":115543210000000001,\"edge\":\"edge-mumbai-1\","
	                    "\"region\":\"mumbai\"}";
	central_member m;
	cr_assert_eq(central_parse_member(known, strlen(known), &m), 0);
	cr_assert(m.member);
	cr_assert(m.known);
	cr_assert_eq(m.hlc, 115543210000000001ull);
	cr_assert_str_eq(m.edge, "edge-mumbai-1");
	cr_assert_str_eq(m.region, "mumbai");

	const char *removed = "{" MEMBER_HEAD "\"member\":false,\"known\":true,\"hlc\":7,"
	                      "\"edge\":\"e1\",\"region\":\"\"}";
	cr_assert_eq(central_parse_member(removed, strlen(removed), &m), 0);
	cr_assert_not(m.member);
	cr_assert(m.known);
	cr_assert_str_eq(m.region, "");

	const char *unknown = "{" MEMBER_HEAD "\"member\":false,\"known\":false,\"hlc\":0,"
	                      "\"edge\":\"\",\"region\":\"\"}";
	cr_assert_eq(central_parse_member(unknown, strlen(unknown), &m), 0);
	cr_assert_not(m.member);
	cr_assert_not(m.known);
	cr_assert_eq(m.hlc, 0);
	cr_assert_str_eq(m.edge, "");
}

#define MEMBER(rest) "{" MEMBER_HEAD rest "}"
#define KNOWN_TAIL "\"hlc\":7,\"edge\":\"e1\",\"region\":\"r1\""

ParameterizedTestParameters(central_parse, malformed_members_are_corrupt)
{
	static bad_body params[] = {
	    {"not json", "{"},
	    {"not an object", "\"member\""},
	    {"missing known", MEMBER("\"member\":true," KNOWN_TAIL)},
	    {"missing member", MEMBER("\"known\":true," KNOWN_TAIL)},
	    {"missing hlc", MEMBER("\"member\":true,\"known\":true,\"edge\":\"e1\","
	                           "\"region\":\"r1\"")},
	    {"missing edge", MEMBER("\"member\":true,\"known\":true,\"hlc\":7,"
	                            "\"region\":\"r1\"")},
	    {"missing item", "{\"counter\":\"likes\",\"user\":\"u\",\"member\":true,"
	                     "\"known\":true," KNOWN_TAIL "}"},
	    {"member a number", MEMBER("\"member\":1,\"known\":true," KNOWN_TAIL)},
	    {"known a string", MEMBER("\"member\":true,\"known\":\"true\"," KNOWN_TAIL)},
	    {"hlc a string", MEMBER("\"member\":true,\"known\":true,\"hlc\":\"7\","
	                            "\"edge\":\"e1\",\"region\":\"r1\"")},
	    {"hlc negative", MEMBER("\"member\":true,\"known\":true,\"hlc\":-7,"
	                            "\"edge\":\"e1\",\"region\":\"r1\"")},
	    {"edge a number", MEMBER("\"member\":true,\"known\":true,\"hlc\":7,\"edge\":1,"
	                             "\"region\":\"r1\"")},
	    {"oversized edge",
	     MEMBER("\"member\":true,\"known\":true,\"hlc\":7,\"edge\":"
	            "\"e1234567890123456789012345678901234567890123456789012345678901234\","
	            "\"region\":\"r1\"")},
	    {"bad region", MEMBER("\"member\":true,\"known\":true,\"hlc\":7,\"edge\":\"e1\","
	                          "\"region\":\"Mumbai\"")},
	    {"bad item", "{\"item\":\"post\",\"counter\":\"likes\",\"user\":\"u\","
	                 "\"member\":true,\"known\":true," KNOWN_TAIL "}"},
	    {"bad user", "{\"item\":\"post:1\",\"counter\":\"likes\",\"user\":\"a b\","
	                 "\"member\":true,\"known\":true," KNOWN_TAIL "}"},
	    {"member but unknown", MEMBER("\"member\":true,\"known\":false," KNOWN_TAIL)},
	    {"unknown with an hlc", MEMBER("\"member\":false,\"known\":false,\"hlc\":3,"
	                                   "\"edge\":\"\",\"region\":\"\"")},
	    {"unknown with an edge", MEMBER("\"member\":false,\"known\":false,\"hlc\":0,"
	                                    "\"edge\":\"e1\",\"region\":\"\"")},
	    {"known without hlc", MEMBER("\"member\":true,\"known\":true,\"hlc\":0,"
	                                 "\"edge\":\"e1\",\"region\":\"r1\"")},
	    {"known without edge", MEMBER("\"member\":true,\"known\":true,\"hlc\":7,"
	                                  "\"edge\":\"\",\"region\":\"r1\"")},
	    {"duplicate key",
	     MEMBER("\"member\":true,\"member\":false,\"known\":true," KNOWN_TAIL)},
	};
	return cr_make_param_array(bad_body, params, sizeof params / sizeof params[0]);
}

ParameterizedTest(bad_body *b, central_parse, malformed_members_are_corrupt)
{
	central_member m;
	memset(&m, 0xab, sizeof m);
	cr_assert_eq(central_parse_member(b->body, strlen(b->body), &m), ERR_CORRUPT, "%s", b->why);
	cr_assert_not(m.member || m.known || m.hlc || m.edge[0] || m.region[0], "%s: zeroed",
	              b->why);
}

/* With no file descriptors left evhttp fails the request from inside
 * evhttp_make_request; the client still calls back only from the loop. */
Test(central_client, failure_inside_make_request_waits_for_the_loop)
{
	central_client *c = client("", 0, 0, 0);
	struct rlimit old, low;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	int fds[256], nfds = 0;
	low = old;
	low.rlim_cur = 128;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	int fd;
	while (nfds < 256 && (fd = dup(0)) >= 0)
		fds[nfds++] = fd;
	cr_assert_lt(nfds, 256, "descriptors exhausted");
	rec r = {0};
	get_ok(c, "/no-fd", &r);
	cr_assert_eq(r.calls, 0, "not from inside get");
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	WAIT_UNTIL(r.calls == 1);
	cr_assert_eq(r.rc, ERR_IO, "%s", err_str(r.rc));
	cr_assert_eq(S.hits, 0);
	rec next = {0};
	get_ok(c, "/next", &next);
	WAIT_UNTIL(next.calls == 1);
	cr_assert_eq(next.status, 200);
}
