/* opsapi_int.h - what opsapi.c (the HTTP plumbing: auth, query parsing,
 * the dispatch of every route, the thread's life cycle) and opsread.c
 * (the read routes: counts, items, memberships, totals) share, beside
 * the ops API's state and answer helpers in opsadmin.h. The ops API's
 * thread only.
 */
#ifndef CENTRAL_OPSAPI_INT_H
#define CENTRAL_OPSAPI_INT_H

#include <event2/http.h>
#include <stdbool.h>

#include "central/ops/opsadmin.h"
#include "query.h"

#define OPS_MAX_PATH 1024 /* the longest request path, still %-encoded */

/* Parses the query into kv (query.h); each name at most once and one of
 * allowed (NULL-terminated). On failure answers 400 and returns false;
 * query_free(kv) afterwards, either way. */
bool ops_parse_query(struct evhttp_request *req, const struct evhttp_uri *uri, query *kv,
                     const char *const *allowed);

/* GET /v1/counts?items=..[&counters=..][&edge=..] (opsread.c) */
void ops_route_counts(ops_api *api, struct evhttp_request *req, const query *kv);
/* GET /v1/memberships?pairs=counter/item/userhex,... (opsread.c) */
void ops_route_memberships(ops_api *api, struct evhttp_request *req, const query *kv);
/* GET /v1/items/T/I/C[?by=..] or /v1/items/T/I/C/users/U; rest is the
 * path after "/v1/items/", and the route parses uri's query itself
 * (opsread.c). */
void ops_route_items(ops_api *api, struct evhttp_request *req, const char *rest,
                     const struct evhttp_uri *uri);
/* GET /v1/totals/{counter} (opsread.c) */
void ops_route_totals(ops_api *api, struct evhttp_request *req, const char *counter);

extern const char *const ops_counts_params[];
extern const char *const ops_memberships_params[];

#endif
