/* opsapi_int.h - private to the ops API (central/ops/): its state and the
 * answer helpers and routes its files share: opsapi.c (the HTTP plumbing:
 * auth, query parsing, the dispatch of every route, the thread's life
 * cycle), opsread.c (the read routes: counts, items, memberships,
 * totals), opsadmin.c (verify and repair, the export stream, stats,
 * digests, backup), opsckpt.c (the checkpoint stream) and opsmetrics.c
 * (/metrics and /v1/hot). The ops API's thread only.
 */
#ifndef CENTRAL_OPSAPI_INT_H
#define CENTRAL_OPSAPI_INT_H

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <stdbool.h>

#include "central/ops/opsapi.h"
#include "query.h"

struct ops_api {
	struct event_base *base;
	struct evhttp *http;
	store *db;
	const counters *ctr;
	uint32_t partitions;
	const applier *ap;
	const ops_run_stats *run;
	ops_repair_fn repair;
	void *repair_ctx;
	ops_readiness_fn readiness; /* NULL: not started */
	void *readiness_ctx;
	char *data_dir; /* NULL: store size not reported */
	struct cmetrics *metrics;
	const struct shard_set *owned; /* NULL = every partition */
	char *instance_id;
	bool own_metrics; /* made by ops_api_start, freed with the API */
	char *token;
	int port;
	int stop_fds[2]; /* a byte on [1] stops the loop, however early */
	struct event *stop_ev;
	pthread_t thread;
};

void ops_reply_buf(struct evhttp_request *req, int code, const char *ctype, struct evbuffer *out);
void ops_reply_json(struct evhttp_request *req, int code, const char *body);
/* msg is ours (a fixed text, numbers or validated names): no escaping. */
void ops_reply_error(struct evhttp_request *req, int code, const char *ecode, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* From the close callback of a streamed answer's connection (the client
 * went away, or the API stops): evhttp leaves a request it detached
 * from its connection to us, and this frees it; one still attached goes
 * with its connection. The request is not to be used after. */
void ops_stream_gone(struct evhttp_request *req);
/* Does the request carry the configured token? False when none is set. */
bool ops_bearer_ok(const ops_api *api, struct evhttp_request *req);

/* What a route's handler is handed (the route table in opsapi.c): the
 * request, its parsed target, its query parsed against the route's
 * parameters (NULL for a route that takes any), and the path after the
 * route's prefix ("" for an exact path). Lives during the call. */
typedef struct ops_call {
	struct evhttp_request *req;
	const struct evhttp_uri *uri;
	const query *kv;
	const char *rest;
} ops_call;

/* GET /v1/admin/verify[?limit=N] */
void ops_route_verify(ops_api *api, const ops_call *call);
/* POST /v1/admin/repair[?limit=N], once the caller checked the method
 * and the token (always needed, from loopback too). */
void ops_route_repair(ops_api *api, const ops_call *call);
/* GET /v1/export[?format=csv|json][&counter=C] */
void ops_route_export(ops_api *api, const ops_call *call);
/* GET /v1/stats */
void ops_route_stats(ops_api *api, const ops_call *call);
/* GET /v1/checkpoint?partitions=LIST[&after_counter=C&after_item=I],
 * or ?partitions=LIST&home=REGION (opsckpt.c) */
void ops_route_checkpoint(ops_api *api, const ops_call *call);

/* 421 not_owner for item (validated) of partition p. */
void ops_reply_not_owner(struct evhttp_request *req, const char *item, uint32_t p);
/* 421 not_owner for partition p asked by number. */
void ops_reply_not_owner_partition(struct evhttp_request *req, uint32_t p);
/* GET /v1/digest[?partition=N] */
void ops_route_digest(ops_api *api, const ops_call *call);
/* POST /v1/admin/backup?dir=PATH, once the caller checked the method and
 * the token. */
void ops_route_backup(ops_api *api, const ops_call *call);

/* GET /metrics (opsmetrics.c) */
void ops_route_metrics(ops_api *api, const ops_call *call);
/* GET /v1/hot[?limit=N] (opsmetrics.c) */
void ops_route_hot(ops_api *api, const ops_call *call);

extern const char *const ops_hot_params[];
extern const char *const ops_verify_params[];
extern const char *const ops_export_params[];
extern const char *const ops_digest_params[];
extern const char *const ops_backup_params[];
extern const char *const ops_checkpoint_params[];

#define OPS_MAX_PATH 1024 /* the longest request path, still %-encoded */

/* Parses the query into kv (query.h); each name at most once and one of
 * allowed (NULL-terminated). On failure answers 400 and returns false;
 * query_free(kv) afterwards, either way. */
bool ops_parse_query(struct evhttp_request *req, const struct evhttp_uri *uri, query *kv,
                     const char *const *allowed);

/* GET /v1/counts?items=..[&counters=..][&edge=..] (opsread.c) */
void ops_route_counts(ops_api *api, const ops_call *call);
/* GET /v1/memberships?pairs=counter/item/userhex,... (opsread.c) */
void ops_route_memberships(ops_api *api, const ops_call *call);
/* GET /v1/items/T/I/C[?by=..] or /v1/items/T/I/C/users/U; c->rest is the
 * path after "/v1/items/", and the route parses c->uri's query itself
 * (opsread.c). */
void ops_route_items(ops_api *api, const ops_call *call);
/* GET /v1/totals/{counter}: the counter is c->rest (opsread.c) */
void ops_route_totals(ops_api *api, const ops_call *call);

extern const char *const ops_counts_params[];
extern const char *const ops_memberships_params[];

#endif
