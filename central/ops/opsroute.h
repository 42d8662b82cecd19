/* opsroute.h - a route of central's ops API: what its handler is handed
 * (the daemon's state it reads, the request) and the answers it gives.
 * The layer under opsapi.c, which dispatches to the routes of
 * opsread.c, opsadmin.c, opsckpt.c and opsmetrics.c; none of them calls
 * back up. Private to this folder. The ops API's thread only.
 */
#ifndef CENTRAL_OPSROUTE_H
#define CENTRAL_OPSROUTE_H

#include <event2/http.h>
#include <stdbool.h>
#include <stdint.h>

#include "central/apply/apply.h"
#include "central/ops/opsrun.h"
#include "counter.h"
#include "query.h"
#include "store.h"

struct cmetrics;
struct shard_set;

/* What the daemon handed the API (ops_api_opts), read by the routes:
 * it all outlives the API, but data_dir and instance_id, which the API
 * copied and frees. */
typedef struct ops_env {
	store *db;
	const counters *ctr;
	uint32_t partitions;
	const applier *ap;        /* may be NULL */
	const ops_run_stats *run; /* may be NULL */
	ops_repair_fn repair;     /* NULL: repair answers 503 */
	void *repair_ctx;
	ops_readiness_fn readiness; /* NULL: not started */
	void *readiness_ctx;
	const char *data_dir; /* NULL: store size not reported */
	struct cmetrics *metrics;
	const struct shard_set *owned; /* NULL = every partition */
	const char *instance_id;
} ops_env;

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

/* A route's handler. */
typedef void (*ops_route_fn)(const ops_env *env, const ops_call *call);

#define OPS_MAX_PATH 1024 /* the longest request path, still %-encoded */

void ops_reply_buf(struct evhttp_request *req, int code, const char *ctype, struct evbuffer *out);
void ops_reply_json(struct evhttp_request *req, int code, const char *body);
/* msg is ours (a fixed text, numbers or validated names): no escaping. */
void ops_reply_error(struct evhttp_request *req, int code, const char *ecode, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 421 not_owner for item (validated) of partition p. */
void ops_reply_not_owner(struct evhttp_request *req, const char *item, uint32_t p);
/* 421 not_owner for partition p asked by number. */
void ops_reply_not_owner_partition(struct evhttp_request *req, uint32_t p);
/* From the close callback of a streamed answer's connection (the client
 * went away, or the API stops): evhttp leaves a request it detached
 * from its connection to us, and this frees it; one still attached goes
 * with its connection. The request is not to be used after. */
void ops_stream_gone(struct evhttp_request *req);

/* Parses the query into kv (query.h); each name at most once and one of
 * allowed (NULL-terminated). On failure answers 400 and returns false;
 * query_free(kv) afterwards, either way. */
bool ops_parse_query(struct evhttp_request *req, const struct evhttp_uri *uri, query *kv,
                     const char *const *allowed);

#endif
