/* api.c - the edge's routes (api.h): routing (the route table, the
 * loopback-only routes, /healthz and /readyz), shared answer helpers,
 * the user and the admission limits a route charges, and the needs a
 * route collects for central (the asking itself is api_central.c; the
 * single-item routes are api_item.c). Loop thread.
 */
#include "edge/api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "edge/ops/demo.h"
#include "edge/ops/inspect.h"
#include "item.h"
#include "log.h"
#include "hot.h"
#include "netaddr.h"
#include "query.h"
#include "xmem.h"

/* --- answers -------------------------------------------------------------- */

void api_respond(http_response *resp, int status, char *body, size_t len)
{
	resp->status = status;
	resp->body = body;
	resp->body_len = len;
}

void api_header(http_response *resp, const char *name, const char *value)
{
	/* Response headers here are short; a refusal would be a bug. */
	int rc = http_add_header(resp, name, value);
	if (rc)
		log_error("response header dropped", "name=%s err=\"%s\"", name, err_str(rc));
}

void api_error_json(sbuf *b, const char *code, const char *message)
{
	sbuf_adderror(b, code, message, NULL);
}

void api_error(http_response *resp, int status, const char *code, const char *message)
{
	sbuf b;
	sbuf_init(&b);
	api_error_json(&b, code, message);
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, status, body, len);
	if (status == 503)
		api_header(resp, "retry-after", "1");
}

void api_method_not_allowed(http_response *resp, const char *allow)
{
	api_header(resp, "allow", allow);
	char msg[64];
	snprintf(msg, sizeof msg, "allowed: %s", allow);
	api_error(resp, 405, "method_not_allowed", msg);
}

/* Does an If-None-Match list hold etag? Weak and strong forms compare
 * equal, as RFC 9110 asks for If-None-Match. */
static bool etag_listed(const http_header *h, const char *etag)
{
	const char *p = h->value, *end = h->value + h->valuelen;
	size_t el = strlen(etag);
	while (p < end) {
		while (p < end && (*p == ' ' || *p == ','))
			p++;
		const char *t = p;
		while (p < end && *p != ',')
			p++;
		const char *te = p;
		while (te > t && te[-1] == ' ')
			te--;
		if (te - t == 1 && *t == '*')
			return true;
		if (te - t > 2 && t[0] == 'W' && t[1] == '/')
			t += 2;
		if ((size_t)(te - t) == el && memcmp(t, etag, el) == 0)
			return true;
	}
	return false;
}

bool api_cacheable(api *a, const http_request *req, http_response *resp, const char *etag)
{
	api_header(resp, "cache-control", a->cache_control);
	api_header(resp, "etag", etag);
	const http_header *h = http_find_header(req, "if-none-match");
	if (h && etag_listed(h, etag)) {
		a->st.not_modified++;
		return true;
	}
	return false;
}

void api_need_init(need *n, bool on, bool rerun)
{
	/* Field by field: members is NEED_MAX entries that are only read
	 * below nmembers, and zeroing it cost more than a whole count GET. */
	n->on = on;
	n->rerun = rerun;
	n->id_rc = 1;
	n->id_why = NULL;
	sbuf_init(&n->items);
	n->nitems = 0;
	memset(n->counter_used, 0, sizeof n->counter_used);
	n->nmembers = 0;
	n->ticket = NULL;
	n->fail_body = NULL;
	n->fail_len = 0;
	n->route = TM_ROUTE_OTHER;
	n->t0_ns = 0;
	n->deferred = false;
}

/* --- what the edge knows, and what it asks central ------------------------ */

typedef struct member_entry {
	int8_t state; /* 1 member, 0 not (or never seen at central) */
	uint64_t fetched_mono;
} member_entry;

static size_t member_key(char *k, const char *counter, const char *item, const char *user)
{
	size_t cl = strlen(counter), il = strlen(item), ul = strlen(user);
	memcpy(k, counter, cl + 1);
	memcpy(k + cl + 1, item, il + 1);
	memcpy(k + cl + 1 + il + 1, user, ul);
	return cl + il + ul + 2;
}

void api_member_put(api *a, const char *counter, const char *item, const char *user, int state)
{
	char k[COUNTER_MAX + ITEM_MAX + USER_MAX + 3];
	size_t kn = member_key(k, counter, item, user);
	bool created;
	smap_val *v = smap_put_gen(&a->member_hot, &a->member_cold, a->cfg.member_entries, k, kn,
	                           true, &created);
	if (created)
		v->p = xmalloc(sizeof(member_entry));
	member_entry *e = v->p;
	e->state = (int8_t)state;
	e->fetched_mono = clock_mono_ms();
}

int api_member_cached(api *a, const char *counter, const char *item, const char *user)
{
	char k[COUNTER_MAX + ITEM_MAX + USER_MAX + 3];
	size_t kn = member_key(k, counter, item, user);
	smap_val *v = smap_get(&a->member_hot, k, kn);
	if (!v)
		v = smap_get(&a->member_cold, k, kn);
	if (!v)
		return -1;
	member_entry *e = v->p;
	return clock_mono_ms() - e->fetched_mono <= a->cfg.member_ttl_ms ? e->state : -1;
}

bool api_need_any(const need *n)
{
	return n->nitems > 0 || n->nmembers > 0;
}

void api_need_count(api *a, need *n, const counter_def *c, const char *item)
{
	n->counter_used[c - a->counters.defs] = true;
	/* The same item for two counters is asked once. */
	size_t il = strlen(item);
	const char *p = n->items.p;
	for (uint32_t i = 0; i < n->nitems && p; i++) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == il && memcmp(p, item, il) == 0)
			return;
		p = e ? e + 1 : NULL;
	}
	if (n->nitems)
		sbuf_add(&n->items, ",", 1);
	sbuf_adds(&n->items, item);
	n->nitems++;
}

int api_view(api *a, need *n, const counter_def *c, const char *item, ledger_view *v)
{
	int rc = ledger_read(a->lg, c->name, item, v);
	if (rc)
		return rc;
	if (!v->known && n->on) {
		api_need_count(a, n, c, item);
		return 1;
	}
	return 0;
}

int api_membership(api *a, need *n, const char *counter, const char *item, const char *user,
                   int *state, const char **source)
{
	int rc = ledger_member(a->lg, counter, item, user, state);
	if (rc)
		return rc;
	*source = "local";
	if (*state >= 0)
		return 0;
	*state = api_member_cached(a, counter, item, user);
	*source = "central";
	if (*state >= 0 || !n->on)
		return 0;
	for (size_t i = 0; i < n->nmembers; i++)
		if (!strcmp(n->members[i].counter, counter) && !strcmp(n->members[i].item, item) &&
		    !strcmp(n->members[i].user, user))
			return 0;
	if (n->nmembers < NEED_MAX) {
		need_member *m = &n->members[n->nmembers++];
		snprintf(m->counter, sizeof m->counter, "%s", counter);
		snprintf(m->item, sizeof m->item, "%s", item);
		snprintf(m->user, sizeof m->user, "%s", user);
	}
	return 0;
}

bool api_item_ok(api *a, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	return colon && item_valid(s, n) && item_in_names(a->types, s, (size_t)(colon - s));
}

bool api_idem_key(const http_request *req, http_response *resp, char key[IDEM_KEY_MAX + 1],
                  bool *present)
{
	const http_header *h = http_find_header(req, "idempotency-key");
	*present = h != NULL;
	if (!h)
		return true;
	if (!idem_key_valid(h->value, h->valuelen)) {
		api_error(resp, 400, "invalid_idempotency_key",
		          "Idempotency-Key must be 1-128 visible ASCII characters");
		return false;
	}
	memcpy(key, h->value, h->valuelen);
	key[h->valuelen] = 0;
	return true;
}

/* Works out who is asking, once per pass. */
static int resolve_identity(api *a, need *n, const http_request *req)
{
	if (n->id_rc == 1)
		n->id_rc = identity_user(&a->ic, req, (int64_t)(clock_wall_ms() / 1000), n->user,
		                         &n->id_why);
	return n->id_rc;
}

bool api_user(api *a, need *n, const http_request *req, http_response *resp,
              char user[USER_MAX + 1])
{
	int rc = resolve_identity(a, n, req);
	if (rc == 0) {
		memcpy(user, n->user, sizeof n->user);
		return true;
	}
	guard_count(a->guard, GUARD_UNAUTH);
	api_error(resp, 401, "unauthenticated", n->id_why);
	/* RFC 6750 3: a refused token says so; no token just names the scheme. */
	api_header(resp, "www-authenticate",
	           rc == ERR_INVAL ? "Bearer error=\"invalid_token\"" : "Bearer");
	return false;
}

static void too_many(http_response *resp, const char *code, const char *message,
                     unsigned retry_after_s)
{
	char ra[16];
	snprintf(ra, sizeof ra, "%u", retry_after_s);
	api_error(resp, 429, code, message);
	api_header(resp, "retry-after", ra);
}

bool api_charge_writes(api *a, const need *n, const char *user, unsigned count, http_response *resp)
{
	unsigned retry_s;
	if (!a->guard || n->rerun ||
	    guard_user_write(a->guard, user, count, clock_mono_ms(), &retry_s))
		return true;
	telemetry_refused(a->tm, TM_REFUSED_RATE, count);
	too_many(resp, "rate_limited", "too many writes by this user: see Retry-After", retry_s);
	return false;
}

/* Requests that carry no valid identity share a budget per client
 * address. Checked once, on the first pass. False with a 429 in resp. */
static bool charge_address(api *a, need *n, const http_request *req, http_response *resp)
{
	unsigned retry_s;
	if (!a->guard || n->rerun || !guard_addr_limited(a->guard) ||
	    resolve_identity(a, n, req) == 0 ||
	    guard_addr_request(a->guard, req->client_ip ? req->client_ip : req->peer_ip,
	                       clock_mono_ms(), &retry_s))
		return true;
	too_many(resp, "rate_limited",
	         "too many requests without a valid identity from this address: see Retry-After",
	         retry_s);
	return false;
}

/* --- routing ---------------------------------------------------------------- */

static bool path_is(const char *path, const char *route_path)
{
	size_t plen = strcspn(path, "?"), rl = strlen(route_path);
	return plen == rl && strncmp(path, route_path, rl) == 0;
}

/* The loopback-only routes judge the client (through trusted proxies:
 * the one their headers name), and refuse a request that came through a
 * proxy the edge does not trust, wherever that proxy is. */
static bool from_loopback(const http_request *req)
{
	return req->client_ip && !req->via_untrusted && netaddr_ip_is_loopback(req->client_ip);
}

/* Prometheus text of the edge's registry (telemetry.h). Served to
 * loopback clients only, for the agent on the same host; the rest of the
 * world gets 404. */
static void answer_metrics(api *a, http_response *resp)
{
	sbuf b;
	sbuf_init(&b);
	metrics_render(a->tm->reg, &b);
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, 200, body, len);
	resp->content_type = "text/plain; version=0.0.4";
	api_header(resp, "cache-control", "no-store");
}

/* GET /v1/hot[?limit=N]: the hot items, fastest first (loopback only;
 * hot.h: the same answer as central's). */
static void answer_hot(api *a, const http_request *req, http_response *resp)
{
	query q;
	size_t k = telemetry_hot_k(a->tm), limit = 0;
	if (query_parse_target(&q, req->path)) {
		query_free(&q);
		api_error(resp, 400, "bad_query", "the query string does not parse");
		return;
	}
	bool ok = hot_limit(query_get(&q, "limit"), k, &limit);
	query_free(&q);
	if (!ok) {
		api_error(resp, 400, "bad_limit", HOT_LIMIT_MESSAGE);
		return;
	}
	topk_entry *e = xcalloc(limit ? limit : 1, sizeof *e);
	size_t n = telemetry_hot(a->tm, e, limit);
	sbuf b;
	sbuf_init(&b);
	hot_render(&b, e, n, TM_HOT_WINDOW_MS, k);
	free(e);
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, 200, body, len);
	api_header(resp, "cache-control", "no-store");
}

/* GET /readyz: {"ready":bool,"checks":{name:{"ok":bool,"reason":".."}}},
 * 503 when a check fails. */
static void answer_ready(api *a, http_response *resp)
{
	api_readiness r = {
	    .store.ok = true, .kafka.ok = true, .snapshots.ok = true, .replica.ok = true};
	if (a->readiness)
		a->readiness(a->readiness_ctx, &r);
	const struct {
		const char *name;
		const api_check *c;
	} ch[] = {{"store", &r.store},
	          {"kafka", &r.kafka},
	          {"snapshots", &r.snapshots},
	          {"replica", &r.replica}};
	bool ready = r.store.ok && r.kafka.ok && r.snapshots.ok && r.replica.ok;
	sbuf b;
	sbuf_init(&b);
	sbuf_addf(&b, "{\"ready\":%s,\"checks\":{", ready ? "true" : "false");
	for (size_t i = 0; i < sizeof ch / sizeof ch[0]; i++) {
		sbuf_addf(&b, "%s\"%s\":{\"ok\":%s,\"reason\":\"%s\"}", i ? "," : "", ch[i].name,
		          ch[i].c->ok ? "true" : "false", ch[i].c->ok ? "" : ch[i].c->reason);
	}
	sbuf_addf(&b, "}}");
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_header(resp, "cache-control", "no-store");
	api_respond(resp, ready ? 200 : 503, body, len);
}

/* --- the route table ---------------------------------------------------------- */

static void r_healthz(api *a, const http_request *req, http_response *resp, need *n)
{
	(void)req;
	(void)n;
	/* Alive: the loop answers. Over budget is readiness's. */
	sbuf b;
	sbuf_init(&b);
	sbuf_addf(&b, "{\"status\":\"ok\",\"edge\":\"%s\"}", a->edge_id);
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, 200, body, len);
	api_header(resp, "cache-control", "no-store");
}

static void r_readyz(api *a, const http_request *req, http_response *resp, need *n)
{
	(void)req;
	(void)n;
	answer_ready(a, resp);
}

static void r_metrics(api *a, const http_request *req, http_response *resp, need *n)
{
	(void)req;
	(void)n;
	answer_metrics(a, resp);
}

static void r_hot(api *a, const http_request *req, http_response *resp, need *n)
{
	(void)n;
	answer_hot(a, req, resp);
}

/* Pending batches, watermarks, snapshots: edge inspect (inspect.h). */
static void r_inspect(api *a, const http_request *req, http_response *resp, need *n)
{
	(void)req;
	(void)n;
	size_t len;
	char *body = inspect_json(a->lg, a->tm ? a->tm->up : NULL, clock_wall_ms(), &len);
	api_respond(resp, 200, body, len);
	api_header(resp, "cache-control", "no-store");
}

typedef void (*route_fn)(api *a, const http_request *req, http_response *resp, need *n);

/* The edge's fixed-path routes, in one table that both dispatch and the
 * metrics' route label read. A route a request's method does not match
 * answers 405 with allow; a loopback route is absent for anyone else
 * (404, as for a path nobody serves). The item routes
 * (/v1/items/{type}/{id}/...) sit under a prefix: api_item_routes
 * (api_item.c) and item_metric. */
typedef struct path_route {
	const char *path;
	const char *method; /* "GET" (HEAD too) or "POST" */
	const char *allow;
	bool loopback; /* for loopback clients only */
	bool needs_tm, needs_lg;
	tm_route metric;
	route_fn fn;
} path_route;

static const path_route routes[] = {
    {"/healthz", "GET", "GET, HEAD", false, false, false, TM_ROUTE_HEALTHZ, r_healthz},
    {"/readyz", "GET", "GET, HEAD", false, false, false, TM_ROUTE_READYZ, r_readyz},
    {"/metrics", "GET", "GET, HEAD", true, true, false, TM_ROUTE_METRICS, r_metrics},
    {"/v1/hot", "GET", "GET, HEAD", true, true, false, TM_ROUTE_HOT, r_hot},
    {"/v1/admin/inspect", "GET", "GET, HEAD", true, false, true, TM_ROUTE_OTHER, r_inspect},
    {"/v1/counts", "GET", "GET, HEAD", false, false, false, TM_ROUTE_COUNTS, api_counts},
    {"/v1/me", "GET", "GET, HEAD", false, false, false, TM_ROUTE_ME, api_me_batch},
    {"/v1/ops", "POST", "POST", false, false, false, TM_ROUTE_OPS, api_ops},
};
#define NROUTES (sizeof routes / sizeof routes[0])
#define ITEMS_PREFIX "/v1/items/"

static const path_route *route_find(const char *path)
{
	for (size_t i = 0; i < NROUTES; i++)
		if (path_is(path, routes[i].path))
			return &routes[i];
	return NULL;
}

/* Is route r there for this request (its daemon parts set up, and a
 * loopback client for a loopback route)? */
static bool route_serves(const api *a, const path_route *r, const http_request *req)
{
	return (!r->needs_tm || a->tm) && (!r->needs_lg || a->lg) &&
	       (!r->loopback || from_loopback(req));
}

void api_dispatch(api *a, const http_request *req, http_response *resp, need *n)
{
	const char *path = req->path;
	const path_route *r = route_find(path);
	if (r && route_serves(a, r, req)) {
		if (strcmp(req->method, r->method) == 0)
			r->fn(a, req, resp, n);
		else
			api_method_not_allowed(resp, r->allow);
	} else if (strncmp(path, ITEMS_PREFIX, strlen(ITEMS_PREFIX)) == 0) {
		api_item_routes(a, req, resp, n);
	} else if (!a->demo || !demo_site_answer(a->demo, req, resp)) {
		api_error(resp, 404, "not_found", "no such route");
	}
}

/* The metrics label of an item route. */
static tm_route item_metric(const http_request *req)
{
	size_t len = strcspn(req->path, "?");
	if (len > 13 && memcmp(req->path + len - 3, "/me", 3) == 0)
		return TM_ROUTE_ME;
	if (strcmp(req->method, "GET") != 0)
		return TM_ROUTE_WRITE;
	return req->path[len] == '?' ? TM_ROUTE_COUNT_BREAKDOWN : TM_ROUTE_COUNT;
}

/* The route a request is counted under; cheap, as every request asks. */
static tm_route route_of(const http_request *req)
{
	if (strncmp(req->path, ITEMS_PREFIX, strlen(ITEMS_PREFIX)) == 0)
		return item_metric(req);
	const path_route *r = route_find(req->path);
	return r ? r->metric : TM_ROUTE_OTHER;
}

void api_handle(void *ctx, const http_request *req, http_response *resp)
{
	api *a = ctx;
	a->st.requests++;
	if (!http_method_known(req->method, strlen(req->method))) {
		api_error(resp, 501, "not_implemented", "a method this server does not implement");
		if (a->tm)
			telemetry_request(a->tm, TM_ROUTE_OTHER, 501, clock_mono_ns());
		return;
	}
	/* HEAD is GET without the body (RFC 9110 9.3.2): routed as GET; the
	 * transports send the head alone. */
	http_request as_get;
	if (strcmp(req->method, "HEAD") == 0) {
		as_get = *req;
		as_get.method = "GET";
		req = &as_get;
	}
	need n;
	api_need_init(&n, a->central != NULL, false);
	if (a->tm) {
		n.t0_ns = clock_mono_ns();
		n.route = route_of(req);
	}
	parked *p = api_park_get(a);
	n.ticket = p ? &p->ticket : NULL;
	if (charge_address(a, &n, req, resp))
		api_dispatch(a, req, resp, &n);
	if (api_need_any(&n)) {
		api_defer(a, req, &n);
	} else if (api_park_staged(p)) {
		api_park(a, p, &n, http_defer(req), resp);
		p = NULL;
	} else if (!n.deferred) {
		telemetry_request(a->tm, n.route, resp->status, n.t0_ns);
	}
	api_park_put(a, p);
	free(n.fail_body);
	sbuf_free(&n.items);
}

int api_init(api *a)
{
	smap_init(&a->member_hot);
	smap_init(&a->member_cold);
	if (a->cfg.member_entries < 2)
		a->cfg.member_entries = 2;
	snprintf(a->cache_control, sizeof a->cache_control,
	         "public, max-age=%u, stale-while-revalidate=%u", a->cfg.max_age_s, a->cfg.stale_s);
	memset(&a->st, 0, sizeof a->st);
	return api_group_init(a);
}

void api_free(api *a)
{
	api_central_free(a);
	api_group_free(a);
	smap_free_values(&a->member_hot);
	smap_free_values(&a->member_cold);
}
