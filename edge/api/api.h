/* api.h - the edge's HTTP API: routing, validation, JSON answers.
 *
 *   POST   /v1/items/{type}/{id}/{counter}      like, save, add n (sum)
 *   DELETE /v1/items/{type}/{id}/{counter}      unlike, unsave (set only)
 *   GET    /v1/items/{type}/{id}/{counter}      count [?by=region|day]
 *   GET    /v1/items/{type}/{id}/{counter}/me   this user's membership
 *   GET    /v1/counts?items=..[&counters=..]    counts of up to max_items
 *   POST   /v1/ops                              up to max_ops writes
 *   GET    /healthz                             alive: 200 while the loop runs
 *   GET    /readyz                              ready: the daemon's checks (below)
 *   GET    /metrics, /v1/hot?limit=N             loopback clients only
 *   GET    /v1/admin/inspect                    loopback clients only
 * docs/api.md is the reference for bodies, headers and error codes.
 *
 * api_handle is an http_handler on the loop thread that owns the
 * connection; it calls into the ledger (which locks for itself) and, for
 * what the edge does not know, into central's ops API through the
 * central clients on the same loop: the answer is then deferred, the
 * request's context (its user, what it was charged, its parsed items,
 * its client's address, its start time) kept, and the route resumes at
 * its next step when central has answered (edge/api/api_int.h). With a
 * sharded central, each item is asked of the shard owning its partition:
 * a GET /v1/counts becomes one request per shard involved, a membership
 * goes to its item's shard; a shard's request that fails (connection
 * error, timeout, 5xx, or 421 not_owner) is asked once more of the
 * shard's next address. One api per loop thread.
 *
 * With group commit on (base set and group_commit true before api_init),
 * a write is staged in the ledger and its answer parked; once per loop
 * turn, after the requests read in that turn, one ledger_commit writes
 * every staged op (or asks the ledger's commit thread to, which wakes the
 * loop when it has) and the parked answers go out (or, if the write
 * failed, 503 store_unavailable in their place). Without it each write
 * is its own store write, answered at once.
 *
 * The api's struct, its config and stats: api_state.h.
 */
#ifndef EDGE_API_H
#define EDGE_API_H

#include "edge/api/api_state.h"
#include "edge/http/http.h"

/* Sets the parts that api_handle builds from cfg; the caller fills the
 * rest (lg, central, ic, types, counters, edge_id, cfg) first. */
int api_init(api *a) WARN_UNUSED;
void api_free(api *a);

void api_handle(void *ctx, const http_request *req, http_response *resp);

#endif
