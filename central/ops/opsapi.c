/* opsapi.c - central's ops API on evhttp (see opsapi.h): the HTTP
 * plumbing, on top of the folder's layers. Auth (the bearer token,
 * loopback), the route table and the dispatch of every route to its
 * handler, /healthz and /readyz, and the life cycle of the API and its
 * thread. The routes themselves are in opsread.c (counts, items,
 * memberships, totals), opsadmin.c (verify, repair, export, stats,
 * digest, backup), opsckpt.c (the checkpoint stream) and opsmetrics.c
 * (/metrics, /v1/hot); each is handed the daemon's state they read
 * (ops_env) and answers through opsroute.c, and none calls back here.
 *
 * One thread of its own runs the event_base; every handler only reads.
 * Requests are parsed with evhttp_uri_parse and query_parse (query.h),
 * and every path segment and parameter is checked before it is used.
 */
#include "central/ops/opsapi.h"
#include "central/ops/cmetrics.h"
#include "central/ops/opsadmin.h"
#include "central/ops/opsckpt.h"
#include "central/ops/opsmetrics.h"
#include "central/ops/opsread.h"
#include "central/ops/opsroute.h"
#include "route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "evauth.h"
#include "log.h"
#include "netaddr.h"
#include "xmem.h"

#define OPS_MAX_HEADERS 32768
#define OPS_TIMEOUT_S 10

struct ops_api {
	ops_env env;      /* what the routes read */
	bool own_metrics; /* env.metrics made by ops_api_start, freed with the API */
	char *token;
	int port;
	struct event_base *base;
	struct evhttp *http;
	int stop_fds[2]; /* a byte on [1] stops the loop, however early */
	struct event *stop_ev;
	pthread_t thread;
};

/* ---- auth ---------------------------------------------------------------- */

/* Is the configured listen host loopback only? "" (and 0.0.0.0 or ::)
 * means every interface, so no; a name other than localhost is not
 * resolved here, so no either. */
static bool host_is_loopback(const char *host)
{
	return netaddr_host_is_loopback(host, strlen(host));
}

static bool bearer_ok(const ops_api *api, struct evhttp_request *req);

/* May req call a route of this access (route.h)? With no token set,
 * every read route is open; ROUTE_ADMIN never comes here (handle checks
 * it: the token always, even from loopback). */
static bool authorized(const ops_api *api, struct evhttp_request *req, route_access access)
{
	if (!api->token[0] || access == ROUTE_PUBLIC)
		return true;
	if (access == ROUTE_TOKEN_OR_LOOPBACK && evauth_from_loopback(req))
		return true;
	return bearer_ok(api, req);
}

static bool bearer_ok(const ops_api *api, struct evhttp_request *req)
{
	return evauth_bearer_ok(req, api->token);
}

/* ---- /readyz ------------------------------------------------------------- */

/* The daemon's checks (its readiness hook): 200 when all pass, else 503. */
static void route_ready(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	ops_readiness r = {.store = {false, "not started"},
	                   .kafka = {false, "not started"},
	                   .lag = {false, "not started"}};
	if (env->readiness)
		env->readiness(env->readiness_ctx, &r);
	bool ok = r.store.ok && r.kafka.ok && r.lag.ok;
	const struct {
		const char *name;
		const ops_check *c;
	} ch[] = {{"store", &r.store}, {"kafka", &r.kafka}, {"lag", &r.lag}};
	char body[1024];
	int n = snprintf(body, sizeof body, "{\"ready\":%s,\"checks\":{", ok ? "true" : "false");
	for (size_t i = 0; i < 3 && n > 0 && (size_t)n < sizeof body; i++)
		n += snprintf(body + n, sizeof body - (size_t)n,
		              "%s\"%s\":{\"ok\":%s,\"reason\":\"%s\"}", i ? "," : "", ch[i].name,
		              ch[i].c->ok ? "true" : "false", ch[i].c->ok ? "" : ch[i].c->reason);
	if (n > 0 && (size_t)n < sizeof body)
		snprintf(body + n, sizeof body - (size_t)n, "}}");
	ops_reply_json(req, ok ? 200 : 503, body);
}

/* ---- dispatch ------------------------------------------------------------ */

#define ROUTE(fn) ((route_handler)(fn))

static const char *const no_params[] = {NULL};

static void route_healthz(const ops_env *env, const ops_call *call)
{
	(void)env;
	ops_reply_json(call->req, 200, "{\"status\":\"ok\"}");
}

/* Central's routes (route.h), in one table that dispatch and the 404 and
 * 405 answers read. Every read is a GET: a method the API does not take
 * answers 405 before the path is looked up; the admin routes are POST
 * and need the token always. params NULL: the handler reads the query
 * itself (or takes none). */
static const route routes[] = {
    {"/healthz", "GET", ROUTE_TOKEN_OR_LOOPBACK, NULL, 0, 0, ROUTE(route_healthz)},
    {"/readyz", "GET", ROUTE_TOKEN_OR_LOOPBACK, NULL, 0, 0, ROUTE(route_ready)},
    {"/metrics", "GET", ROUTE_TOKEN_OR_LOOPBACK, NULL, 0, 0, ROUTE(ops_route_metrics)},
    {"/v1/counts", "GET", ROUTE_TOKEN, ops_counts_params, 0, 0, ROUTE(ops_route_counts)},
    {"/v1/memberships", "GET", ROUTE_TOKEN, ops_memberships_params, 0, 0,
     ROUTE(ops_route_memberships)},
    {"/v1/digest", "GET", ROUTE_TOKEN, ops_digest_params, 0, 0, ROUTE(ops_route_digest)},
    {"/v1/admin/verify", "GET", ROUTE_TOKEN, ops_verify_params, 0, 0, ROUTE(ops_route_verify)},
    {"/v1/export", "GET", ROUTE_TOKEN, ops_export_params, 0, 0, ROUTE(ops_route_export)},
    {"/v1/checkpoint", "GET", ROUTE_TOKEN, ops_checkpoint_params, 0, 0,
     ROUTE(ops_route_checkpoint)},
    {"/v1/hot", "GET", ROUTE_TOKEN, ops_hot_params, 0, 0, ROUTE(ops_route_hot)},
    {"/v1/stats", "GET", ROUTE_TOKEN, no_params, 0, 0, ROUTE(ops_route_stats)},
    {"/v1/totals/", "GET", ROUTE_TOKEN, no_params, 0, 0, ROUTE(ops_route_totals)},
    {"/v1/items/", "GET", ROUTE_TOKEN, NULL, 0, 0, ROUTE(ops_route_items)},
    {"/v1/admin/repair", "POST", ROUTE_ADMIN, ops_verify_params, 0, 0, ROUTE(ops_route_repair)},
    {"/v1/admin/backup", "POST", ROUTE_ADMIN, ops_backup_params, 0, 0, ROUTE(ops_route_backup)},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* An admin route's own checks: POST, a token set, and that token. */
static bool admin_ok(const ops_api *api, struct evhttp_request *req, const route *r,
                     enum evhttp_cmd_type cmd)
{
	const char *what = strrchr(r->path, '/') + 1;
	if (cmd != EVHTTP_REQ_POST) {
		ops_reply_error(req, 405, "method_not_allowed", "%s is POST only", what);
	} else if (!api->token[0]) {
		ops_reply_error(req, 403, "forbidden", "%s needs central.ops_token to be set",
		                what);
	} else if (!bearer_ok(api, req)) {
		ops_reply_error(req, 401, "unauthorized",
		                "a valid Authorization: Bearer token is needed");
	} else {
		return true;
	}
	return false;
}

static void handle(struct evhttp_request *req, void *arg)
{
	ops_api *api = arg;
	struct evhttp_uri *uri = evhttp_uri_parse(evhttp_request_get_uri(req));
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const route *r = NULL;
	if (!path || path[0] != '/' || strlen(path) > OPS_MAX_PATH) {
		ops_reply_error(req, 400, "bad_request", "the request target does not parse");
		goto done;
	}
	r = route_find(routes, NROUTES, path);
	if (r && r->access == ROUTE_ADMIN) {
		if (!admin_ok(api, req, r, cmd))
			goto done;
	} else if (!authorized(api, req, r ? r->access : ROUTE_TOKEN)) {
		ops_reply_error(req, 401, "unauthorized",
		                "a valid Authorization: Bearer token is needed");
		goto done;
	} else if (cmd != EVHTTP_REQ_GET) {
		ops_reply_error(req, 405, "method_not_allowed",
		                "the ops API reads with GET only; POST is for /v1/admin/repair and "
		                "/v1/admin/backup");
		goto done;
	} else if (!r) {
		ops_reply_error(req, 404, "not_found", "no such route");
		goto done;
	}
	query kv;
	ops_call call = {.req = req, .uri = uri, .kv = NULL, .rest = route_rest(r, path)};
	if (!r->params) {
		((ops_route_fn)r->fn)(&api->env, &call);
	} else {
		if (ops_parse_query(req, uri, &kv, r->params)) {
			call.kv = &kv;
			((ops_route_fn)r->fn)(&api->env, &call);
		}
		query_free(&kv);
	}
done:
	if (uri)
		evhttp_uri_free(uri);
}

/* ---- life cycle ---------------------------------------------------------- */

static void *run(void *arg)
{
	ops_api *api = arg;
	event_base_dispatch(api->base);
	return NULL;
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ops_api *api = arg;
	event_base_loopbreak(api->base);
}

static void api_free(ops_api *api)
{
	if (api->stop_ev)
		event_free(api->stop_ev);
	for (int i = 0; i < 2; i++)
		if (api->stop_fds[i] >= 0)
			close(api->stop_fds[i]);
	if (api->http)
		evhttp_free(api->http);
	if (api->base)
		event_base_free(api->base);
	if (api->own_metrics)
		cmetrics_free(api->env.metrics);
	free(api->token);
	free((char *)api->env.data_dir);
	free((char *)api->env.instance_id);
	free(api);
}

int ops_api_check(const char *listen, const char *token, char *host, size_t hostcap, int *port,
                  char *err, size_t errlen)
{
	if (cfg_parse_hostport(listen, host, hostcap, port)) {
		snprintf(err, errlen, "ops listen address '%s' is not host:port", listen);
		return ERR_CONFIG;
	}
	/* Without a token whoever reaches the port reads every count and
	 * membership: that is only for loopback. */
	if ((!token || !token[0]) && !host_is_loopback(host)) {
		snprintf(err, errlen,
		         "central.ops_token is empty and the ops API would listen on %s, "
		         "which is not a loopback address: set central.ops_token, or "
		         "listen on 127.0.0.1",
		         listen);
		return ERR_CONFIG;
	}
	return 0;
}

ops_api *ops_api_start(const ops_api_opts *o, char *err, size_t errlen)
{
	if (errlen)
		err[0] = 0;
	if (!o->listen || !o->listen[0])
		return NULL;
	char host[256];
	int port;
	if (ops_api_check(o->listen, o->token, host, sizeof host, &port, err, errlen))
		return NULL;
	ops_api *api = xcalloc(1, sizeof *api);
	api->env = (ops_env){.db = o->db,
	                     .ctr = o->ctr,
	                     .partitions = o->partitions,
	                     .ap = o->ap,
	                     .run = o->run,
	                     .repair = o->repair,
	                     .repair_ctx = o->repair_ctx,
	                     .readiness = o->readiness,
	                     .readiness_ctx = o->readiness_ctx,
	                     .data_dir = o->data_dir ? xstrdup(o->data_dir) : NULL,
	                     .metrics = o->metrics,
	                     .owned = o->owned,
	                     .instance_id = xstrdup(o->instance_id ? o->instance_id : "")};
	api->token = xstrdup(o->token ? o->token : "");
	if (!api->env.metrics) {
		cmetrics_opts mo = {.ctr = o->ctr,
		                    .partitions = o->partitions,
		                    .ap = o->ap,
		                    .run = o->run,
		                    .db = o->db,
		                    .data_dir = api->env.data_dir,
		                    .owned = o->owned};
		api->env.metrics = cmetrics_new(&mo);
		api->own_metrics = true;
	}
	api->stop_fds[0] = api->stop_fds[1] = -1;
	api->base = event_base_new();
	api->http = api->base ? evhttp_new(api->base) : NULL;
	struct evhttp_bound_socket *bound =
	    api->http ? evhttp_bind_socket_with_handle(api->http, host[0] ? host : "0.0.0.0",
	                                               (ev_uint16_t)port)
	              : NULL;
	if (!bound) {
		snprintf(err, errlen, "ops API cannot listen on %s", o->listen);
		api_free(api);
		return NULL;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &sl) == 0)
		api->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
		                                           : ((struct sockaddr_in *)&ss)->sin_port);
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	                                          EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT);
	evhttp_set_max_headers_size(api->http, OPS_MAX_HEADERS);
	evhttp_set_max_body_size(api->http, 4096);
	evhttp_set_timeout(api->http, OPS_TIMEOUT_S);
	evhttp_set_gencb(api->http, handle, api);
	/* event_base_loopbreak from another thread is lost when it comes
	 * before the loop starts; a readable pipe is not. */
	if (pipe2(api->stop_fds, O_CLOEXEC | O_NONBLOCK) ||
	    !(api->stop_ev = event_new(api->base, api->stop_fds[0], EV_READ, on_stop, api)) ||
	    event_add(api->stop_ev, NULL)) {
		snprintf(err, errlen, "ops API stop pipe: %s", strerror(errno));
		api_free(api);
		return NULL;
	}
	if (pthread_create(&api->thread, NULL, run, api)) {
		snprintf(err, errlen, "ops API thread could not start");
		api_free(api);
		return NULL;
	}
	(void)pthread_setname_np(api->thread, "central-ops");
	if (!api->token[0])
		log_warn("ops API serves without a token on loopback: set central.ops_token",
		         "listen=%s", o->listen);
	return api;
}

int ops_api_port(const ops_api *api)
{
	return api ? api->port : 0;
}

void ops_api_stop(ops_api *api)
{
	if (!api)
		return;
	if (write(api->stop_fds[1], "x", 1) != 1)
		log_error("ops API stop pipe write failed", "err=\"%s\"", strerror(errno));
	pthread_join(api->thread, NULL);
	api_free(api);
}
