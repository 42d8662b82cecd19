/* test_api_shards.c - the edge's read-through routed by central shard
 * (edge/api/api.c over edge/upstream/shards.h) against fake centrals.
 *
 * The api runs in process over a real ledger (as test_api.c does) with a
 * router whose clients talk to fakesrv.h fake centrals, one listener per
 * instance, all on one event_base the test drives until a condition holds
 * or a deadline passes. The first request of a route defers (no HTTP
 * server, so its answer is dropped) and fills the ledger's read-through
 * and the membership cache; the same request again answers from them.
 */
#include <criterion/criterion.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/api/api.h"
#include "tests/support/api_util.h"
#include "edge/ledger/ledger.h"
#include "edge/upstream/shards.h"
#include "clock.h"
#include "tests/support/fakesrv.h"
#include "tests/support/ledger_sink.h"
#include "log.h"
#include "partition.h"
#include "store.h"
#include "tests/support/testdir.h"

#define NPARTS 4
#define WAIT_MS 3000
#define NFAKES 3

static char err[256];

/* --- routing against fake centrals ------------------------------------------ */

typedef struct fake {
	int index;
	uint16_t port;
	char addr[32];
	int status; /* what it answers: 200 or, say, 421 */
	int hits;
	char path[1024]; /* the last one asked */
} fake;

static struct {
	char dir[64];
	store *db;
	ledger *l;
	api a;
	telemetry *tm;
	http_response r;
	uint8_t ip[GUARD_IP_LEN];
	fakesrv srv;
	fake f[NFAKES];
	shard_router *router;
} T;

static void send_body(struct evhttp_request *req, int status, const char *body)
{
	struct evbuffer *b = evbuffer_new();
	cr_assert_not_null(b);
	cr_assert_eq(evbuffer_add(b, body, strlen(body)), 0);
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
}

/* Counts: likes = 10 x (index + 1) for every item asked. Memberships:
 * known, a member. */
static void on_fake(struct evhttp_request *req, void *arg)
{
	fake *f = arg;
	const char *uri = evhttp_request_get_uri(req);
	f->hits++;
	snprintf(f->path, sizeof f->path, "%s", uri);
	if (f->status != 200) {
		send_body(req, f->status, "{\"error\":{\"code\":\"not_owner\",\"message\":\"x\"}}");
		return;
	}
	char body[4096];
	if (strncmp(uri, "/v1/counts?items=", 17) == 0) {
		api_util_counts_answer(body, sizeof body, uri + 17, NPARTS, 10 * (f->index + 1));
	} else {
		/* /v1/memberships?pairs=counter/item/userhex,...: every pair a
		 * member, except users whose id starts with "n". */
		cr_assert_eq(strncmp(uri, "/v1/memberships?pairs=", 22), 0, "%s", uri);
		int n = snprintf(body, sizeof body, "{\"members\":[");
		for (const char *p = uri + 22; p && *p;) {
			const char *end = strchr(p, ',');
			const char *hex = end ? end : p + strlen(p);
			while (hex > p && *hex != '/')
				hex--;
			cr_assert(*hex == '/', "%s", uri);
			bool no = hex[1] == '6' && hex[2] == 'e'; /* 'n' */
			n += snprintf(body + n, sizeof body - (size_t)n,
			              "%s{\"member\":%s,\"known\":true}", p == uri + 22 ? "" : ",",
			              no ? "false" : "true");
			p = end ? end + 1 : NULL;
		}
		snprintf(body + n, sizeof body - (size_t)n, "]}");
	}
	send_body(req, 200, body);
}

static void route_setup(void)
{
	log_threshold = LOG_ERROR;
	memset(&T, 0, sizeof T);
	testdir_make(T.dir, sizeof T.dir, "test_api_shards");
	T.db = testdir_open_store(T.dir);
	ledger_opts o = api_util_ledger_opts(NPARTS);
	o.rt_ttl_ms = 60000;
	T.tm = telemetry_new(16);
	o.tm = T.tm;
	T.l = ledger_open(T.db, &o, err, sizeof err);
	cr_assert_not_null(T.l, "%s", err);
	T.a.tm = T.tm;
	api_config cfg = api_util_config();
	cfg.max_items = 20;
	cfg.member_ttl_ms = 60000;
	cr_assert_eq(api_util_init(&T.a, T.l, "post,reel", "likes", "views", cfg, err, sizeof err),
	             0, "%s", err);
	api_util_loopback(T.ip);
	fakesrv_init(&T.srv);
	for (int i = 0; i < NFAKES; i++) {
		fake *f = &T.f[i];
		f->index = i;
		f->status = 200;
		f->port = (uint16_t)fakesrv_listen(&T.srv, NULL, on_fake, f);
		snprintf(f->addr, sizeof f->addr, "127.0.0.1:%u", f->port);
	}
}

static void route_teardown(void)
{
	free(T.r.body);
	shards_router_free(T.router);
	api_util_free(&T.a);
	ledger_free(T.l);
	telemetry_free(T.tm);
	store_close(T.db);
	fakesrv_stop(&T.srv);
	testdir_remove(T.dir);
}

TestSuite(shard_routing, .init = route_setup, .fini = route_teardown, .timeout = 30);

/* Routes the api through the shard map spec. */
static void route_spec(const char *spec)
{
	shard_map m;
	cr_assert_eq(shards_parse(&m, spec, NPARTS, err, sizeof err), 0, "%s", err);
	central_client_opts co = {.timeout_ms = 2000};
	T.router = shards_router_new(T.srv.base, &m, &co, err, sizeof err);
	shards_free(&m);
	cr_assert_not_null(T.router, "%s", err);
	T.a.central = T.router;
}

/* Routes the api through spec, whose "%s" are the fakes' addresses. */
static void route_by(const char *fmt)
{
	char spec[512];
	snprintf(spec, sizeof spec, fmt, T.f[0].addr, T.f[1].addr, T.f[2].addr);
	route_spec(spec);
}

static int req(const char *method, const char *path, const char *user)
{
	return api_util_call(&T.a, &T.r, T.ip, method, path, user, NULL, NULL, NULL);
}

/* Turns the loop until cond() holds, within WAIT_MS. */
static void wait_for(bool (*cond)(void), const char *what)
{
	uint64_t deadline = clock_mono_ms() + WAIT_MS;
	while (!cond()) {
		cr_assert_lt(clock_mono_ms(), deadline, "timed out waiting for %s", what);
		event_base_loop(T.srv.base, EVLOOP_ONCE);
	}
}

/* Every request the api sent was answered, one way or the other. */
static bool all_done(void)
{
	central_client_stats cs;
	shards_router_get_stats(T.router, &cs);
	return cs.inflight == 0 && T.a.st.readthrough_asked > 0 &&
	       T.a.st.readthrough_asked == (uint64_t)(T.f[0].hits + T.f[1].hits + T.f[2].hits);
}

static uint64_t likes_of(const char *item, bool *known)
{
	ledger_view v;
	cr_assert_eq(ledger_read(T.l, "likes", item, &v), 0);
	*known = v.known;
	return v.count;
}

/* An item "post:N" of partition p. */
static void item_in(uint32_t p, char *out, size_t cap)
{
	for (int i = 1; i < 10000; i++) {
		snprintf(out, cap, "post:%d", i);
		if (partition_of(out, strlen(out), NPARTS) == p)
			return;
	}
	cr_assert_fail("no item in partition %u", p);
}

Test(shard_routing, counts_of_two_shards_in_one_request_come_back_merged)
{
	route_by("0-1=%s;2-3=%s");
	char a[32], b[32], c[32], path[160];
	item_in(0, a, sizeof a);
	item_in(3, b, sizeof b);
	item_in(1, c, sizeof c);
	snprintf(path, sizeof path, "/v1/counts?items=%s,%s,%s&counters=likes", a, b, c);
	req("GET", path, NULL);
	wait_for(all_done, "both shards' answers");
	cr_assert_eq(T.f[0].hits, 1, "one request for the two items of shard 1");
	cr_assert_eq(T.f[1].hits, 1, "one request for the item of shard 2");
	char want[128];
	snprintf(want, sizeof want, "/v1/counts?items=%s,%s&counters=likes&edge=e1", a, c);
	cr_assert_str_eq(T.f[0].path, want);
	snprintf(want, sizeof want, "/v1/counts?items=%s&counters=likes&edge=e1", b);
	cr_assert_str_eq(T.f[1].path, want);
	cr_assert_eq(T.a.st.readthrough_failed, 0);

	/* The same request again answers from both shards' counts. */
	cr_assert_eq(req("GET", path, NULL), 200, "%s", T.r.body);
	char body[512];
	snprintf(body, sizeof body, "\"%s\":{\"likes\":10}", a);
	cr_assert(strstr(T.r.body, body), "%s", T.r.body);
	snprintf(body, sizeof body, "\"%s\":{\"likes\":20}", b);
	cr_assert(strstr(T.r.body, body), "%s", T.r.body);
	snprintf(body, sizeof body, "\"%s\":{\"likes\":10}", c);
	cr_assert(strstr(T.r.body, body), "%s", T.r.body);
	cr_assert_null(strstr(T.r.body, "missing"), "%s", T.r.body);
}

Test(shard_routing, a_membership_goes_to_its_items_shard)
{
	route_by("0,2=%s;1,3=%s");
	char a[32], path[160];
	item_in(3, a, sizeof a);
	char *colon = strchr(a, ':');
	snprintf(path, sizeof path, "/v1/items/post/%s/likes/me", colon + 1);
	req("GET", path, "u7");
	wait_for(all_done, "the membership answer");
	cr_assert_eq(T.f[0].hits, 0, "partition 3 is not shard 1's");
	cr_assert_eq(T.f[1].hits, 1);
	char want[128];
	snprintf(want, sizeof want, "/v1/memberships?pairs=likes/%s/7537", a);
	cr_assert_str_eq(T.f[1].path, want, "u7 in hex");
	cr_assert_eq(req("GET", path, "u7"), 200, "%s", T.r.body);
	cr_assert(strstr(T.r.body, "\"member\":true"), "%s", T.r.body);
	cr_assert(strstr(T.r.body, "\"source\":\"central\""), "%s", T.r.body);
}

static bool retried_count_known(void)
{
	char a[32];
	bool known;
	item_in(2, a, sizeof a);
	likes_of(a, &known);
	return known;
}

Test(shard_routing, not_owner_from_the_first_address_is_asked_of_the_next)
{
	route_by("0-1=%s;2-3=%s|%s");
	T.f[1].status = 421;
	char a[32], path[96];
	item_in(2, a, sizeof a);
	snprintf(path, sizeof path, "/v1/counts?items=%s&counters=likes", a);
	req("GET", path, NULL);
	wait_for(retried_count_known, "the count from the replica");
	cr_assert_eq(T.f[1].hits, 1, "the primary said 421");
	cr_assert_eq(T.f[2].hits, 1, "asked once more, of the replica");
	cr_assert_str_eq(T.f[2].path, T.f[1].path);
	cr_assert_eq(T.a.st.readthrough_retried, 1);
	cr_assert_eq(T.a.st.readthrough_misrouted, 1);
	cr_assert_eq(T.a.st.readthrough_failed, 0);
	bool known;
	cr_assert_eq(likes_of(a, &known), 30, "the replica's answer");
}

Test(shard_routing, not_owner_everywhere_fails_after_one_retry)
{
	route_by("0-3=%s|%s|%s");
	T.f[0].status = 421;
	T.f[1].status = 421;
	char a[32], path[96];
	item_in(0, a, sizeof a);
	snprintf(path, sizeof path, "/v1/counts?items=%s&counters=likes", a);
	req("GET", path, NULL);
	wait_for(all_done, "both answers");
	cr_assert_eq(T.a.st.readthrough_failed, 1);
	cr_assert_eq(T.f[2].hits, 0, "retried once, not down the whole list");
	bool known;
	likes_of(a, &known);
	cr_assert_not(known, "nothing known: both addresses refused");
}

Test(shard_routing, a_dead_primary_is_passed_over_for_its_replica)
{
	char full[128];
	snprintf(full, sizeof full, "0-3=127.0.0.1:%d|%s", fakesrv_dead_port(), T.f[0].addr);
	route_spec(full);
	char a[32], path[96];
	item_in(1, a, sizeof a);
	snprintf(path, sizeof path, "/v1/counts?items=%s&counters=likes", a);
	req("GET", path, NULL);
	uint64_t deadline = clock_mono_ms() + WAIT_MS;
	bool known = false;
	while (!known) {
		cr_assert_lt(clock_mono_ms(), deadline, "no answer from the replica");
		event_base_loop(T.srv.base, EVLOOP_ONCE);
		likes_of(a, &known);
	}
	cr_assert_eq(T.f[0].hits, 1);
	cr_assert_eq(T.a.st.readthrough_retried, 1, "a connection error is retried");
	cr_assert_eq(T.a.st.readthrough_misrouted, 0);
}

/* --- membership batches --------------------------------------------------- */

static bool lookups_answered(void)
{
	central_client_stats cs;
	shards_router_get_stats(T.router, &cs);
	return cs.inflight == 0 && T.f[0].hits + T.f[1].hits >= 1 && T.a.member_lookups == 0;
}

Test(shard_routing, the_lookups_of_one_turn_go_as_one_request_per_shard)
{
	route_by("0,2=%s;1,3=%s");
	T.a.base = T.srv.base; /* a loop: lookups wait for the turn's end */
	char a[32], b[32], path[160];
	item_in(1, a, sizeof a);
	item_in(3, b, sizeof b);
	/* Forty /me lookups of users this edge never saw, in one turn. */
	for (int i = 0; i < 40; i++) {
		char user[16];
		snprintf(user, sizeof user, i % 2 ? "u%d" : "n%d", i);
		snprintf(path, sizeof path, "/v1/items/post/%s/likes/me",
		         strchr(i < 20 ? a : b, ':') + 1);
		req("GET", path, user);
	}
	cr_assert_eq(T.f[0].hits + T.f[1].hits, 0, "nothing sent before the turn ends");
	wait_for(lookups_answered, "the batch");
	cr_assert_eq(T.f[0].hits, 0);
	cr_assert_eq(T.f[1].hits, 1, "forty lookups, one request: %d", T.f[1].hits);
	/* Each lookup's answer went to its own pair (the last ones are
	 * still in the 16-entry cache). */
	snprintf(path, sizeof path, "/v1/items/post/%s/likes/me", strchr(b, ':') + 1);
	cr_assert_eq(req("GET", path, "u39"), 200);
	cr_assert(T.r.body && strstr(T.r.body, "\"member\":true"), "%s", T.r.body);
	cr_assert_eq(req("GET", path, "n38"), 200);
	cr_assert(T.r.body && strstr(T.r.body, "\"member\":false"), "%s", T.r.body);
	cr_assert_eq(T.f[1].hits, 1, "answered from the cache");
	T.a.base = NULL;
}

Test(shard_routing, lookups_past_the_bound_are_refused_at_once)
{
	route_by("0-3=%s");
	T.a.base = T.srv.base;
	char a[32], path[160];
	item_in(2, a, sizeof a);
	snprintf(path, sizeof path, "/v1/items/post/%s/likes/me", strchr(a, ':') + 1);
	T.a.member_lookups = MEMBER_LOOKUPS; /* as if that many were in flight */
	req("GET", path, "u1");
	cr_assert_eq(T.a.st.member_refused, 1);
	T.a.member_lookups = 0;
	/* Nothing was queued: the turn sends nothing. */
	event_base_loop(T.srv.base, EVLOOP_NONBLOCK);
	cr_assert_eq(T.f[0].hits, 0);
	T.a.base = NULL;
}

Test(shard_routing, a_feed_of_memberships_costs_one_request_per_shard)
{
	route_by("0,2=%s;1,3=%s");
	char a[32], b[32], c[32], path[200];
	item_in(0, a, sizeof a);
	item_in(1, b, sizeof b);
	item_in(2, c, sizeof c);
	/* One pair known here: it is answered without central. */
	ledger_answer la;
	cr_assert_eq(ledger_write(T.l, "likes", c, "u5", true, 1800000000000ULL, &la), 0);
	snprintf(path, sizeof path, "/v1/me?items=%s,%s,%s", a, b, c);
	req("GET", path, "u5");
	wait_for(all_done, "the feed's lookups");
	cr_assert_eq(T.f[0].hits, 1, "shard 1: one request for its item");
	cr_assert_eq(T.f[1].hits, 1, "shard 2: one request");
	cr_assert_null(strstr(T.f[0].path, c), "the pair known here is not asked: %s", T.f[0].path);
	cr_assert_eq(req("GET", path, "u5"), 200, "%s", T.r.body);
	char want[200];
	snprintf(want, sizeof want,
	         "{\"me\":{\"%s\":{\"likes\":true},\"%s\":{\"likes\":true},"
	         "\"%s\":{\"likes\":true}}}",
	         a, b, c);
	cr_assert_str_eq(T.r.body, want);
	cr_assert_eq(req("GET", "/v1/me?items=post:1&counters=views", "u5"), 400);
	cr_assert_eq(req("GET", "/v1/me?items=post:1", NULL), 401);
}
