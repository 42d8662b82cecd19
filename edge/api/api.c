/* api.c - the edge's routes (api.h), the top of edge/api: the route
 * table (method, pattern, handler, metrics label), the dispatch that
 * reads it, the loopback-only routes (/metrics, /v1/hot, inspect),
 * /healthz and /readyz, and api_handle, which sets up a request's
 * context, charges it, runs its route's first step and then parks,
 * waits or answers. The routes' own files, the waiting for central and
 * group commit sit below it (api_int.h draws the layers); none calls
 * back up here. Loop thread.
 */
#include "edge/api/api.h"

#include "edge/api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "edge/api/demo.h"
#include "edge/ops/inspect.h"
#include "hot.h"
#include "log.h"
#include "query.h"
#include "route.h"
#include "xmem.h"

/* --- the loopback-only and health routes -------------------------------------- */

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
	api_readiness r = {.store.ok = true,
	                   .kafka.ok = true,
	                   .snapshots.ok = true,
	                   .replica.ok = true,
	                   .writer.ok = true};
	if (a->readiness)
		a->readiness(a->readiness_ctx, &r);
	const struct {
		const char *name;
		const api_check *c;
	} ch[] = {{"store", &r.store},
	          {"kafka", &r.kafka},
	          {"snapshots", &r.snapshots},
	          {"replica", &r.replica},
	          {"writer", &r.writer}};
	bool ready = r.store.ok && r.kafka.ok && r.snapshots.ok && r.replica.ok && r.writer.ok;
	sbuf b;
	sbuf_init(&b);
	sbuf_addf(&b, "{\"ready\":%s,\"checks\":{", ready ? "true" : "false");
	for (size_t i = 0; i < sizeof ch / sizeof ch[0]; i++) {
		/* A passing check may say why it passes only in part. */
		sbuf_addf(&b, "%s\"%s\":{\"ok\":%s,\"reason\":\"%s\"}", i ? "," : "", ch[i].name,
		          ch[i].c->ok ? "true" : "false", ch[i].c->reason);
	}
	sbuf_addf(&b, "}}");
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_header(resp, "cache-control", "no-store");
	api_respond(resp, ready ? 200 : 503, body, len);
}

/* --- the route table ---------------------------------------------------------- */

static int r_healthz(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	(void)req;
	(void)x;
	/* Alive: the loop answers. Over budget is readiness's. */
	sbuf b;
	sbuf_init(&b);
	sbuf_addf(&b, "{\"status\":\"ok\",\"edge\":\"%s\"}", a->edge_id);
	size_t len;
	char *body = sbuf_take(&b, &len);
	api_respond(resp, 200, body, len);
	api_header(resp, "cache-control", "no-store");
	return API_DONE;
}

static int r_readyz(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	(void)req;
	(void)x;
	answer_ready(a, resp);
	return API_DONE;
}

static int r_metrics(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	(void)req;
	(void)x;
	answer_metrics(a, resp);
	return API_DONE;
}

static int r_hot(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	(void)x;
	answer_hot(a, req, resp);
	return API_DONE;
}

/* Pending batches, watermarks, snapshots: edge inspect (inspect.h). */
static int r_inspect(api *a, api_ctx *x, const http_request *req, http_response *resp)
{
	(void)req;
	(void)x;
	size_t len;
	char *body = inspect_json(a->lg, a->up, clock_wall_ms(), &len);
	api_respond(resp, 200, body, len);
	api_header(resp, "cache-control", "no-store");
	return API_DONE;
}

/* A route's first step: API_DONE, or API_AGAIN when it waits for central
 * (api_int.h). */
typedef int (*route_fn)(api *a, api_ctx *x, const http_request *req, http_response *resp);

/* What a route needs set up to exist (route.needs): tests run an api
 * without telemetry or a ledger. */
#define NEEDS_TM 1u
#define NEEDS_LG 2u
#define ITEMS_PREFIX "/v1/items/"
#define ROUTE(fn) ((route_handler)(fn))

/* The edge's routes (route.h), in one table that dispatch, the 404 and
 * 405 answers and the metrics' route label read. A route a request's
 * method does not match answers 405 with its Allow; a loopback route is
 * absent for anyone else (404, as for a path nobody serves). The item
 * routes share a prefix row: api_item_routes (api_item.c) judges their
 * methods, and item_metric their label. */
static const route routes[] = {
    /* First: nearly every request is an item route. */
    {ITEMS_PREFIX, NULL, ROUTE_PUBLIC, NULL, 0, TM_ROUTE_COUNT, ROUTE(api_item_routes)},
    {"/healthz", "GET", ROUTE_PUBLIC, NULL, 0, TM_ROUTE_HEALTHZ, ROUTE(r_healthz)},
    {"/readyz", "GET", ROUTE_PUBLIC, NULL, 0, TM_ROUTE_READYZ, ROUTE(r_readyz)},
    {"/metrics", "GET", ROUTE_LOOPBACK, NULL, NEEDS_TM, TM_ROUTE_METRICS, ROUTE(r_metrics)},
    {"/v1/hot", "GET", ROUTE_LOOPBACK, NULL, NEEDS_TM, TM_ROUTE_HOT, ROUTE(r_hot)},
    {"/v1/admin/inspect", "GET", ROUTE_LOOPBACK, NULL, NEEDS_LG, TM_ROUTE_OTHER, ROUTE(r_inspect)},
    {"/v1/counts", "GET", ROUTE_PUBLIC, NULL, 0, TM_ROUTE_COUNTS, ROUTE(api_counts)},
    {"/v1/me", "GET", ROUTE_PUBLIC, NULL, 0, TM_ROUTE_ME, ROUTE(api_me_batch)},
    {"/v1/ops", "POST", ROUTE_PUBLIC, NULL, 0, TM_ROUTE_OPS, ROUTE(api_ops)},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* Is route r there for this request (its daemon parts set up, and a
 * loopback client for a loopback route)? */
static bool route_serves(const api *a, const route *r, const api_ctx *x)
{
	return (!(r->needs & NEEDS_TM) || a->tm) && (!(r->needs & NEEDS_LG) || a->lg) &&
	       (r->access != ROUTE_LOOPBACK || api_from_loopback(x));
}

/* Runs the first step of req's route r (NULL: none): API_DONE or
 * API_AGAIN. */
static int dispatch(api *a, api_ctx *x, const route *r, const http_request *req,
                    http_response *resp)
{
	if (r && route_serves(a, r, x)) {
		if (route_method_ok(r, req->method))
			return ((route_fn)r->fn)(a, x, req, resp);
		api_method_not_allowed(resp, route_allow(r));
	} else if (!a->demo || !demo_site_answer(a->demo, req, resp)) {
		api_error(resp, 404, "not_found", "no such route");
	}
	return API_DONE;
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

/* The label a request of route r (NULL: none) is counted under. */
static tm_route route_label(const route *r, const http_request *req)
{
	if (!r)
		return TM_ROUTE_OTHER;
	return r->fn == ROUTE(api_item_routes) ? item_metric(req) : (tm_route)r->metric;
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
	/* The context is the request's own from here on; should the route
	 * wait, api_wait moves it, with what the route kept, to the heap. */
	need n, *np = a->central ? &n : NULL;
	api_ctx x;
	api_ctx_init(&x, req, np);
	const route *r = route_find(routes, NROUTES, req->path); /* once a request */
	if (a->tm) {
		x.t0_ns = req->arrived_ns ? req->arrived_ns : clock_mono_ns();
		x.route = route_label(r, req);
	}
	parked *p = api_park_get(a);
	x.ticket = p ? &p->ticket : NULL;
	int rc = API_DONE;
	if (api_charge_address(a, &x, req, resp))
		rc = dispatch(a, &x, r, req, resp);
	if (rc == API_AGAIN) {
		/* Only reads wait: nothing was staged. */
		x.ticket = NULL;
		api_wait(a, req, &x, &n);
	} else if (api_park_staged(p)) {
		api_park(a, p, &x, http_defer(req), resp);
		p = NULL;
	} else {
		telemetry_request(a->tm, x.route, resp->status, x.t0_ns);
	}
	api_park_put(a, p);
	if (rc != API_AGAIN)
		api_ctx_release(&x);
	if (np)
		sbuf_free(&np->items);
}

int api_init(api *a)
{
	api_member_init(a);
	snprintf(a->cache_control, sizeof a->cache_control,
	         "public, max-age=%u, stale-while-revalidate=%u", a->cfg.max_age_s, a->cfg.stale_s);
	memset(&a->st, 0, sizeof a->st);
	a->wait_free = NULL;
	a->wait_nfree = 0;
	return api_group_init(a);
}

void api_free(api *a)
{
	api_central_free(a);
	api_group_free(a);
	api_member_free(a);
}
