/* test_api_wait.c - a request that waits for central keeps its context
 * (edge/api/api_central.c, api_int.h): it is verified once, charged
 * once, keeps its client's address, its parsed items and the headers its
 * answer needs, and is counted in the metrics from its first step, even
 * though the request itself is gone once the handler returned.
 *
 * The edge's real HTTP server runs the api on a loop thread of its own,
 * over a real ledger whose replica is incomplete (so counts not held
 * here are read through) and a shard router whose one central is an
 * fakesrv.h fake on a second thread; the fake can hold its answers
 * until the test lets them go. The server's handler hands api_handle a
 * copy of each request and, once the handler returns, overwrites and
 * frees every byte of that copy (method, path, headers, body, addresses):
 * an answer that came out right cannot have read them after. The test
 * thread is the client (h1client.h) and touches only what locks for
 * itself (ledger, guard, key ring) while the loop runs. One temp dir per
 * test.
 */
#include <criterion/criterion.h>
#include <jwt.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "edge/api/api_int.h"
#include "edge/auth/bearer.h"
#include "edge/http/proxy.h"
#include "edge/ledger/ledger.h"
#include "edge/upstream/shards.h"
#include "log.h"
#include "partition.h"
#include "store.h"
#include "tests/support/api_util.h"
#include "tests/support/fakesrv.h"
#include "tests/support/h1client.h"
#include "tests/support/ledger_sink.h"
#include "tests/support/prom_util.h"
#include "tests/support/testdir.h"
#include "xmem.h"

#define NPARTS 4
#define WAIT_MS 5000

static const char SECRET1[] = "0123456789abcdef0123456789abcdef-one";
static const char SECRET2[] = "0123456789abcdef0123456789abcdef-two";

static struct {
	char dir[64], key[128];
	store *db;
	ledger *l;
	telemetry *tm;
	guard *g;
	bearer_ring *ring;
	proxy_list trusted;
	api a;
	struct event_base *base;
	http_server *srv;
	shard_router *router;
	pthread_t thread;
	bool running;
	int stop[2]; /* a byte here ends the loop */
	struct event *stop_ev;
	fakesrv central;
	char central_addr[32];
	atomic_int asked;    /* requests the fake central received */
	atomic_int answered; /* and answered */
	atomic_bool hold;    /* the fake holds its answers while set */
	/* Set: memberships are "not a member" with a clock later than any
	 * this edge made, and every second request for them is answered
	 * SLOW_MS late (the first at once). */
	atomic_bool newer_no;
	atomic_int member_asks;
	h1client cl;
} T;

#define SLOW_MS 1500

/* --- the fake central ------------------------------------------------------ */

static void send_body(struct evhttp_request *req, const char *body)
{
	struct evbuffer *b = evbuffer_new();
	cr_assert_not_null(b);
	cr_assert_eq(evbuffer_add(b, body, strlen(body)), 0);
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void send_late(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct evhttp_request *req = arg;
	const char *uri = evhttp_request_get_uri(req);
	/* A clock a minute past now: later than any op this edge stamped. */
	uint64_t hlc = (clock_wall_ms() + 60000) << 16;
	char body[8192];
	int n = snprintf(body, sizeof body, "{\"members\":[");
	for (const char *p = strchr(uri, '=') + 1; p && *p;) {
		const char *end_pair = strchr(p, ',');
		n += snprintf(body + n, sizeof body - (size_t)n,
		              "%s{\"member\":false,\"known\":true,\"hlc\":%" PRIu64 "}",
		              p == strchr(uri, '=') + 1 ? "" : ",", hlc);
		p = end_pair ? end_pair + 1 : NULL;
	}
	snprintf(body + n, sizeof body - (size_t)n, "]}");
	send_body(req, body);
	atomic_fetch_add(&T.answered, 1);
}

/* Counts: 10 likes at version 3 for every item asked. Memberships:
 * every pair a member (with T.newer_no, see there). A breakdown: 10
 * likes in r1. Held (on the fake's own thread) while T.hold is set, for
 * at most WAIT_MS. */
static void on_central(struct evhttp_request *req, void *arg)
{
	(void)arg;
	atomic_fetch_add(&T.asked, 1);
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (atomic_load(&T.hold) && clock_mono_ms() < end) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	const char *uri = evhttp_request_get_uri(req);
	if (atomic_load(&T.newer_no) && strncmp(uri, "/v1/memberships?pairs=", 22) == 0) {
		bool slow = atomic_fetch_add(&T.member_asks, 1) % 2 == 1;
		struct timeval tv = {slow ? SLOW_MS / 1000 : 0, slow ? SLOW_MS % 1000 * 1000 : 0};
		if (event_base_once(T.central.base, -1, EV_TIMEOUT, send_late, req, &tv))
			abort(); /* the fake's thread: no Criterion assertion here */
		return;
	}
	char body[4096];
	if (strncmp(uri, "/v1/counts?items=", 17) == 0) {
		api_util_counts_answer(body, sizeof body, uri + 17, NPARTS, 10);
	} else if (strncmp(uri, "/v1/memberships?pairs=", 22) == 0) {
		int n = snprintf(body, sizeof body, "{\"members\":[");
		for (const char *p = uri + 22; p && *p;) {
			const char *end_pair = strchr(p, ',');
			n += snprintf(body + n, sizeof body - (size_t)n,
			              "%s{\"member\":true,\"known\":true}",
			              p == uri + 22 ? "" : ",");
			p = end_pair ? end_pair + 1 : NULL;
		}
		snprintf(body + n, sizeof body - (size_t)n, "]}");
	} else {
		snprintf(body, sizeof body,
		         "{\"by\":\"region\",\"regions\":{\"r1\":10},\"uri\":\"%s\"}", uri);
	}
	send_body(req, body);
	atomic_fetch_add(&T.answered, 1);
}

/* --- the edge's server, handing the api copies it destroys after --------- */

static char *dup_bytes(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

static void scribble_free(char *p, size_t n)
{
	if (!p)
		return;
	memset(p, 'Z', n);
	free(p);
}

static void probe(api *a, const http_request *req, http_response *resp);

/* Calls the api (or, for /test/probe, the probe below) with a copy of
 * req, then overwrites and frees the copy: whatever the api still needs
 * must be in its own context by the time the handler returns. */
static void handle_copy(void *ctx, const http_request *req, http_response *resp)
{
	http_request c = *req;
	c.method = dup_bytes(req->method, strlen(req->method));
	c.path = dup_bytes(req->path, strlen(req->path));
	c.body = req->body ? dup_bytes(req->body, req->body_len) : NULL;
	c.peer = req->peer ? dup_bytes(req->peer, strlen(req->peer)) : NULL;
	uint8_t *peer_ip = req->peer_ip ? xmemdup(req->peer_ip, GUARD_IP_LEN) : NULL;
	uint8_t *client_ip = req->client_ip ? xmemdup(req->client_ip, GUARD_IP_LEN) : NULL;
	c.peer_ip = peer_ip;
	c.client_ip = client_ip;
	http_header *h = xcalloc(req->nheaders + 1, sizeof *h);
	for (size_t i = 0; i < req->nheaders; i++)
		h[i] = (http_header){dup_bytes(req->headers[i].name, req->headers[i].namelen),
		                     req->headers[i].namelen,
		                     dup_bytes(req->headers[i].value, req->headers[i].valuelen),
		                     req->headers[i].valuelen};
	c.headers = h;
	if (strcmp(req->path, "/test/probe") == 0)
		probe(ctx, &c, resp);
	else
		api_handle(ctx, &c, resp);
	for (size_t i = 0; i < req->nheaders; i++) {
		scribble_free((char *)h[i].name, h[i].namelen);
		scribble_free((char *)h[i].value, h[i].valuelen);
	}
	memset(h, 0, req->nheaders * sizeof *h);
	free(h);
	scribble_free((char *)c.method, strlen(c.method));
	scribble_free((char *)c.path, strlen(c.path));
	scribble_free((char *)c.body, req->body_len);
	scribble_free((char *)c.peer, req->peer ? strlen(req->peer) : 0);
	scribble_free((char *)peer_ip, GUARD_IP_LEN);
	scribble_free((char *)client_ip, GUARD_IP_LEN);
}

/* --- a probe of the waiting machinery itself ----------------------------- */

/* Answers what the context holds once the wait is over: the loopback
 * rule's verdict on the client, the client's address, the user. */
static void probe_resume(api *a, api_ctx *x, http_response *resp)
{
	(void)a;
	char hex[2 * GUARD_IP_LEN + 1] = "";
	for (int i = 0; x->has_client_ip && i < GUARD_IP_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", x->client_ip[i]);
	char body[256];
	int n = snprintf(body, sizeof body,
	                 "{\"loopback\":%s,\"client\":\"%s\",\"user\":\"%s\",\"step\":%d}",
	                 api_from_loopback(x) ? "true" : "false", hex, x->who.user, x->step);
	api_respond(resp, 200, dup_bytes(body, (size_t)n), (size_t)n);
}

/* A route of the test's own: resolves the user, looks up a membership
 * this edge never saw, and waits for it with probe_resume as its next
 * step. Runs on the loop thread, where Criterion cannot assert: a
 * broken expectation aborts. */
static void probe(api *a, const http_request *req, http_response *resp)
{
	need n;
	api_ctx x;
	api_ctx_init(&x, req, &n);
	if (!api_user(a, &x, req, resp)) {
		api_ctx_release(&x);
		sbuf_free(&n.items);
		return;
	}
	int state;
	const char *source;
	if (api_membership(a, &x, "likes", "post:9", x.who.user, &state, &source) ||
	    !api_need_any(&n))
		abort();
	if (api_again(&x, req, probe_resume, 7, false) != API_AGAIN)
		abort();
	api_wait(a, req, &x, &n);
	sbuf_free(&n.items);
}

/* --- set-up ------------------------------------------------------------------ */

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

static void *loop_main(void *arg)
{
	(void)arg;
	event_base_dispatch(T.base);
	return NULL;
}

static void write_key(const char *secret)
{
	FILE *f = fopen(T.key, "wb");
	cr_assert_not_null(f, "%s", T.key);
	cr_assert_eq(fwrite(secret, 1, strlen(secret), f), strlen(secret));
	cr_assert_eq(fclose(f), 0);
}

static void setup(void)
{
	log_threshold = LOG_ERROR;
	memset(&T, 0, sizeof T);
	T.cl.conn.fd = -1;
	T.stop[0] = T.stop[1] = -1;
	testdir_make(T.dir, sizeof T.dir, "test_api_wait");
	T.db = testdir_open_store(T.dir);
	ledger_opts o = api_util_ledger_opts(NPARTS);
	o.rt_ttl_ms = 60000;
	char err[256];
	T.tm = telemetry_new(16);
	cr_assert_not_null(T.tm);
	o.tm = T.tm;
	T.l = ledger_open(T.db, &o, err, sizeof err);
	cr_assert_not_null(T.l, "%s", err);
	snprintf(T.key, sizeof T.key, "%s/hs.key", T.dir);
	write_key(SECRET1);
	char spec[256];
	snprintf(spec, sizeof spec, "k1:HS256:%s", T.key);
	T.ring = bearer_ring_new(spec, NULL, NULL, 0, err, sizeof err);
	cr_assert_not_null(T.ring, "%s", err);

	fakesrv_init(&T.central);
	int port = fakesrv_listen(&T.central, NULL, on_central, NULL);
	snprintf(T.central_addr, sizeof T.central_addr, "127.0.0.1:%d", port);
	fakesrv_start(&T.central);
}

/* Starts the edge: the api over the ledger, central through the fake,
 * the server (trusting the proxies in trusted, if any) with its loop on
 * a thread of its own. g may be NULL (no limits). */
static void start_edge(const char *trusted, guard *g)
{
	char err[256];
	T.base = event_base_new();
	cr_assert_not_null(T.base);
	char spec[64];
	snprintf(spec, sizeof spec, "0-%d=%s", NPARTS - 1, T.central_addr);
	shard_map m;
	cr_assert_eq(shards_parse(&m, spec, NPARTS, err, sizeof err), 0, "%s", err);
	central_client_opts co = {.timeout_ms = 4 * WAIT_MS};
	T.router = shards_router_new(T.base, &m, &co, err, sizeof err);
	shards_free(&m);
	cr_assert_not_null(T.router, "%s", err);

	T.a.lg = T.l;
	T.a.base = T.base;
	T.a.central = T.router;
	T.a.ic.dev_header = true;
	T.a.ic.ring = T.ring;
	T.a.edge_id = "e1";
	T.a.tm = T.tm;
	T.a.guard = g;
	cr_assert_eq(item_parse_names("post,reel", T.a.types, item_type_valid), 0);
	cr_assert_eq(counters_parse(&T.a.counters, "likes", "views", err, sizeof err), 0, "%s",
	             err);
	T.a.cfg = (api_config){.max_items = 20,
	                       .max_ops = 3,
	                       .idem_retention_ms = 60000,
	                       .max_age_s = 2,
	                       .stale_s = 10,
	                       .member_ttl_ms = 60000,
	                       .member_entries = 64};
	cr_assert_eq(api_init(&T.a), 0);

	http_config hc = {.listen = "127.0.0.1:0"};
	if (trusted) {
		cr_assert_eq(proxy_list_parse(trusted, &T.trusted, err, sizeof err), 0, "%s", err);
		hc.trusted = &T.trusted;
	}
	T.srv = http_server_new(T.base, &hc, handle_copy, &T.a, err, sizeof err);
	cr_assert_not_null(T.srv, "%s", err);
	cr_assert_eq(pipe(T.stop), 0);
	T.stop_ev = event_new(T.base, T.stop[0], EV_READ, on_stop, T.base);
	cr_assert_not_null(T.stop_ev);
	cr_assert_eq(event_add(T.stop_ev, NULL), 0);
	cr_assert_eq(pthread_create(&T.thread, NULL, loop_main, NULL), 0);
	T.running = true;
	int hp = http_server_port(T.srv, false);
	cr_assert_gt(hp, 0);
	cr_assert(h1client_open(&T.cl, hp, false, "", 0));
}

/* Stops the edge's loop; the api's state may be read after. */
static void stop_loop(void)
{
	if (!T.running)
		return;
	cr_assert_eq(write(T.stop[1], "x", 1), 1);
	pthread_join(T.thread, NULL);
	T.running = false;
}

static void teardown(void)
{
	atomic_store(&T.hold, false);
	stop_loop();
	h1client_close(&T.cl);
	if (T.base) {
		http_server_free(T.srv);
		shards_router_free(T.router);
		api_free(&T.a);
		item_free_names(T.a.types);
		counters_free(&T.a.counters);
		event_free(T.stop_ev);
		event_base_free(T.base);
	}
	if (T.stop[0] >= 0) {
		close(T.stop[0]);
		close(T.stop[1]);
	}
	fakesrv_stop(&T.central);
	guard_free(T.g);
	bearer_ring_free(T.ring);
	ledger_free(T.l);
	telemetry_free(T.tm);
	store_close(T.db);
	testdir_remove(T.dir);
}

TestSuite(api_wait, .init = setup, .fini = teardown, .timeout = 30);

/* --- helpers ------------------------------------------------------------------ */

/* Sends one GET for path with the extra header lines (each ending in
 * \r\n; may be ""). */
static void get(const char *path, const char *headers)
{
	char buf[2048];
	snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\nHost: edge\r\n%s\r\n", path, headers);
	h1client_send_str(&T.cl, buf);
}

/* The answer number i, once it is complete. */
static const h1client_resp *answer(int i)
{
	cr_assert(h1client_wait(&T.cl, i + 1), "answer %d did not come", i);
	return &T.cl.r[i];
}

/* Waits until the fake central has received n requests. */
static void central_asked(int n)
{
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (atomic_load(&T.asked) < n) {
		cr_assert_lt(clock_mono_ms(), end, "central was not asked");
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

/* "Authorization: Bearer ...\r\n" for sub signed with secret (HS256,
 * kid k1, valid for ten minutes). */
static void bearer_line(char *out, size_t cap, const char *secret, const char *sub)
{
	jwt_t *j;
	cr_assert_eq(jwt_new(&j), 0);
	cr_assert_eq(jwt_add_grant(j, "sub", sub), 0);
	cr_assert_eq(jwt_add_grant_int(j, "exp", (long)time(NULL) + 600), 0);
	cr_assert_eq(jwt_add_header(j, "kid", "k1"), 0);
	cr_assert_eq(
	    jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)), 0);
	char *tok = jwt_encode_str(j);
	cr_assert_not_null(tok);
	jwt_free(j);
	snprintf(out, cap, "Authorization: Bearer %s\r\n", tok);
	free(tok);
}

/* The edge's /metrics, scraped over a connection of its own. */
static char *scrape(void)
{
	h1client m;
	cr_assert(h1client_open(&m, http_server_port(T.srv, false), false, "", 0));
	h1client_send_str(&m, "GET /metrics HTTP/1.1\r\nHost: edge\r\n\r\n");
	cr_assert(h1client_wait(&m, 1));
	cr_assert_eq(m.r[0].status, 200);
	char *body = xstrdup(m.r[0].body);
	h1client_close(&m);
	return body;
}

/* --- identity ----------------------------------------------------------------- */

/* Sends a GET of path with a token of sub signed with the first key;
 * while it waits for central, the keys rotate to the second. The
 * token's line goes into auth (cap bytes). */
static void get_while_keys_rotate(const char *path, const char *sub, char *auth, size_t cap)
{
	bearer_line(auth, cap, SECRET1, sub);
	atomic_store(&T.hold, true);
	get(path, auth);
	central_asked(1);
	write_key(SECRET2);
	char err[256];
	cr_assert_eq(bearer_ring_reload(T.ring, err, sizeof err), 0, "%s", err);
	atomic_store(&T.hold, false);
}

Test(api_wait, a_waiting_me_is_verified_once_though_the_keys_change_meanwhile)
{
	start_edge(NULL, NULL);
	/* The token was good when the request arrived, and its request is
	 * not judged again when it resumes. */
	char auth[1024];
	get_while_keys_rotate("/v1/items/post/1/likes/me", "alice", auth, sizeof auth);
	const h1client_resp *r = answer(0);
	cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
	cr_assert_str_eq(r->body, "{\"item\":\"post:1\",\"counter\":\"likes\",\"member\":true,"
	                          "\"source\":\"central\"}");
	/* The same token on a new request is judged by the new keys. */
	get("/v1/items/post/1/likes/me", auth);
	r = answer(1);
	cr_assert_eq(r->status, 401, "%d %s", r->status, r->body);
	cr_assert(strstr(r->body, "bad signature"), "%s", r->body);
}

Test(api_wait, a_waiting_feed_of_memberships_is_verified_once)
{
	start_edge(NULL, NULL);
	char auth[1024];
	get_while_keys_rotate("/v1/me?items=post:1,reel:2,post:1", "bob", auth, sizeof auth);
	const h1client_resp *r = answer(0);
	cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
	cr_assert_str_eq(r->body,
	                 "{\"me\":{\"post:1\":{\"likes\":true},\"reel:2\":{\"likes\":true}}}");
	cr_assert_str_eq(h1client_header(r, "cache-control"), "private, no-store");
}

/* --- admission ---------------------------------------------------------------- */

Test(api_wait, a_waiting_request_without_identity_draws_one_token_from_its_address)
{
	/* One token a second, a burst of one: a second charge of the same
	 * request would be refused. */
	T.g = guard_new(&(guard_config){.addr_per_s = 1, .addr_burst = 1});
	cr_assert_not_null(T.g);
	start_edge(NULL, T.g);
	get("/v1/counts?items=post:1,reel:2&counters=likes", "");
	const h1client_resp *r = answer(0);
	cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
	cr_assert_eq(atomic_load(&T.asked), 1, "the counts were read through");
	cr_assert_eq(guard_refusals(T.g, GUARD_ADDR_RATE), 0, "charged once, not refused after");
}

/* --- the client's address --------------------------------------------------- */

Test(api_wait, a_continuation_judges_the_client_the_first_step_saw)
{
	/* The TCP peer is a trusted proxy; the client is in its header. */
	start_edge("127.0.0.1", NULL);
	get("/test/probe", "X-User-Id: u1\r\nX-Forwarded-For: 203.0.113.7\r\n");
	const h1client_resp *r = answer(0);
	cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
	cr_assert_str_eq(r->body,
	                 "{\"loopback\":false,\"client\":\"00000000000000000000ffffcb007107\","
	                 "\"user\":\"u1\",\"step\":7}");
	get("/test/probe", "X-User-Id: u2\r\nX-Forwarded-For: 127.0.0.2\r\n");
	r = answer(1);
	cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
	cr_assert_str_eq(r->body,
	                 "{\"loopback\":true,\"client\":\"00000000000000000000ffff7f000002\","
	                 "\"user\":\"u2\",\"step\":7}");
	cr_assert_eq(atomic_load(&T.answered), 2, "each waited for central");
}

/* --- what the answer needs of the request ------------------------------------ */

Test(api_wait, a_waiting_count_keeps_its_if_none_match)
{
	start_edge(NULL, NULL);
	/* Central says 10 likes at version 3: the ETag is "3-10". */
	get("/v1/items/post/1/likes", "If-None-Match: W/\"3-10\"\r\n");
	const h1client_resp *r = answer(0);
	cr_assert_eq(r->status, 304, "%d %s", r->status, r->body);
	cr_assert_str_eq(h1client_header(r, "etag"), "\"3-10\"");
	get("/v1/items/post/2/likes", "If-None-Match: \"3-9\"\r\n");
	r = answer(1);
	cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
	cr_assert_str_eq(h1client_header(r, "etag"), "\"3-10\"");
	cr_assert(strstr(r->body, "\"item\":\"post:2\",\"counter\":\"likes\",\"count\":10"), "%s",
	          r->body);
	cr_assert_eq(atomic_load(&T.asked), 2);
	stop_loop();
	cr_assert_eq(T.a.st.not_modified, 1);
}

Test(api_wait, a_waiting_feed_answers_from_its_kept_items)
{
	start_edge(NULL, NULL);
	get("/v1/counts?items=reel:7,post:1,reel:7,post:5&counters=likes", "");
	const h1client_resp *r = answer(0);
	cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
	cr_assert(strstr(r->body,
	                 "{\"counts\":{\"reel:7\":{\"likes\":10},\"post:1\":{\"likes\":10},"
	                 "\"post:5\":{\"likes\":10}}"),
	          "in the request's order, a repeat once: %s", r->body);
	cr_assert_null(strstr(r->body, "missing"), "%s", r->body);
	const char *etag = h1client_header(r, "etag");
	cr_assert_not_null(etag);
	/* The same request again is answered here; its ETag is the same. */
	char inm[128];
	snprintf(inm, sizeof inm, "If-None-Match: %s\r\n", etag);
	get("/v1/counts?items=reel:7,post:1,reel:7,post:5&counters=likes", inm);
	cr_assert_eq(answer(1)->status, 304);
	cr_assert_eq(atomic_load(&T.asked), 1);
}

/* A user away from home (the identity names another region, r1; this
 * edge is r0) with a 120-byte id, in hdr (cap bytes), who likes post:1
 * to post:12 here: answers 0 to 11. Then the fake central says "not a
 * member" of every pair, by ops later than those, and answers every
 * second request for memberships SLOW_MS late. */
static void away_user_liked_twelve(char *hdr, size_t cap)
{
	T.a.cfg.region = "r0";
	char user[121];
	memset(user, 'u', sizeof user - 1);
	user[sizeof user - 1] = 0;
	snprintf(hdr, cap, "X-User-Id: %s\r\nX-User-Home: r1\r\n", user);
	for (int i = 1; i <= 12; i++) {
		char req[1024];
		snprintf(req, sizeof req,
		         "POST /v1/items/post/%d/likes HTTP/1.1\r\nHost: edge\r\n%s"
		         "Content-Length: 0\r\n\r\n",
		         i, hdr);
		h1client_send_str(&T.cl, req);
		const h1client_resp *r = answer(i - 1);
		cr_assert_eq(r->status, 200, "like %d: %d %s", i, r->status, r->body);
	}
	atomic_store(&T.newer_no, true);
}

/* GET /v1/me of post:from to post:to as the user of hdr: answer i,
 * every pair "not liked" (central's, not this store's like). */
static void away_page_says_no(const char *hdr, int from, int to, int i)
{
	char path[512] = "/v1/me?counters=likes&items=";
	for (int k = from; k <= to; k++)
		snprintf(path + strlen(path), sizeof path - strlen(path), "%spost:%d",
		         k > from ? "," : "", k);
	get(path, hdr);
	const h1client_resp *r = answer(i);
	cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
	for (int k = from; k <= to; k++) {
		char want[64];
		snprintf(want, sizeof want, "\"post:%d\":{\"likes\":false}", k);
		cr_assert(strstr(r->body, want), "post:%d: %s", k, r->body);
	}
}

/* The page's twenty pairs go to central in two requests (the long user
 * id fills one's path), one answered SLOW_MS after the other: the pairs
 * of the first are answered from central's answer, though it is over a
 * second old when the page resumes. */
Test(api_wait, an_away_page_answered_over_a_second_takes_every_answer_central_gave)
{
	start_edge(NULL, NULL);
	char hdr[512];
	away_user_liked_twelve(hdr, sizeof hdr);
	away_page_says_no(hdr, 1, 20, 12);
	cr_assert_eq(atomic_load(&T.member_asks), 2, "%d requests for the page, not 2",
	             atomic_load(&T.member_asks));
}

/* A page whose first ten pairs are answered from central's answers to
 * the page before (one request, at once, 300 ms earlier) and whose
 * other ten wait SLOW_MS for theirs: the first ten still come from
 * central's answers, which were fresh when the page arrived. */
Test(api_wait, an_away_pages_cached_answers_still_count_after_it_waited)
{
	start_edge(NULL, NULL);
	char hdr[512];
	away_user_liked_twelve(hdr, sizeof hdr);
	away_page_says_no(hdr, 1, 10, 12);
	struct timespec ts = {0, 300 * 1000000L};
	nanosleep(&ts, NULL);
	away_page_says_no(hdr, 1, 20, 13);
	cr_assert_eq(atomic_load(&T.member_asks), 2, "%d requests for two pages, not 2",
	             atomic_load(&T.member_asks));
}

Test(api_wait, a_waiting_breakdown_passes_centrals_answer_through)
{
	start_edge(NULL, NULL);
	get("/v1/items/post/1/likes?by=region", "");
	const h1client_resp *r = answer(0);
	cr_assert_eq(r->status, 200, "%d %s", r->status, r->body);
	cr_assert_str_eq(r->body, "{\"by\":\"region\",\"regions\":{\"r1\":10},"
	                          "\"uri\":\"/v1/items/post/1/likes?by=region\"}");
	cr_assert_str_eq(h1client_header(r, "cache-control"),
	                 "public, max-age=2, stale-while-revalidate=10");
}

/* --- metrics ------------------------------------------------------------------ */

Test(api_wait, a_waiting_request_is_timed_from_its_first_step)
{
	start_edge(NULL, NULL);
	atomic_store(&T.hold, true);
	get("/v1/items/post/1/likes/me", "X-User-Id: u1\r\n");
	central_asked(1);
	struct timespec ts = {0, 300 * 1000000};
	nanosleep(&ts, NULL);
	atomic_store(&T.hold, false);
	cr_assert_eq(answer(0)->status, 200);
	char *m = scrape();
	cr_assert_eq(prom_util_get(m, "likes_edge_requests_total{route=\"me\",status=\"200\"}"), 1,
	             "%s", m);
	cr_assert_eq(prom_util_get(m, "likes_edge_request_duration_seconds_count{route=\"me\"}"),
	             1);
	cr_assert_geq(prom_util_get(m, "likes_edge_request_duration_seconds_sum{route=\"me\"}"),
	              0.3);
	free(m);
}

Test(api_wait, a_client_gone_while_waiting_is_neither_answered_nor_counted)
{
	start_edge(NULL, NULL);
	atomic_store(&T.hold, true);
	get("/v1/items/post/1/likes/me", "X-User-Id: u1\r\n");
	central_asked(1);
	h1client_close(&T.cl);
	struct timespec ts = {0, 200 * 1000000};
	nanosleep(&ts, NULL);
	atomic_store(&T.hold, false);
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (atomic_load(&T.answered) < 1) {
		cr_assert_lt(clock_mono_ms(), end);
		nanosleep(&ts, NULL);
	}
	/* Central's answer is kept all the same: the next ask is local. */
	cr_assert(h1client_open(&T.cl, http_server_port(T.srv, false), false, "", 0));
	get("/v1/items/post/1/likes/me", "X-User-Id: u1\r\n");
	cr_assert_eq(answer(0)->status, 200);
	cr_assert_eq(atomic_load(&T.asked), 1);
	char *m = scrape();
	cr_assert_eq(prom_util_get(m, "likes_edge_requests_total{route=\"me\",status=\"200\"}"), 1,
	             "the answer nobody received is not counted");
	free(m);
}
