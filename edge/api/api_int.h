/* api_int.h - what api.c (routing, answer helpers, needs), api_item.c
 * (the single-item routes), api_batch.c (GET /v1/counts, POST /v1/ops),
 * api_central.c (asking central) and api_group.c (group commit) share.
 * Loop thread only.
 *
 * A route runs in up to two passes. The first may find that it needs
 * something only central knows (a count this edge never received, the
 * membership of a pair it never saw): it records that in a need and
 * returns without answering; api.c then defers the answer, asks central,
 * keeps what comes back (ledger read-through, membership cache) and runs
 * the route again with consulted = true, which answers from whatever is
 * known by then.
 */
#ifndef EDGE_API_INT_H
#define EDGE_API_INT_H

#include "edge/api/api.h"
#include "sbuf.h"

#define NEED_MAX                                                                                   \
	256 /* members one request may ask central about (GET                                      \
	       /v1/me: 100 items x the set counters) */

typedef struct need_member {
	char counter[COUNTER_MAX + 1];
	char item[ITEM_MAX + 1];
	char user[USER_MAX + 1];
} need_member;

typedef struct need {
	bool on;    /* the route may ask (first pass, central configured) */
	bool rerun; /* the pass after central answered: limits are
	               not charged again */
	int id_rc;  /* identity_user's answer, 1 until asked */
	const char *id_why;
	char user[USER_MAX + 1];
	sbuf items; /* "post:1,reel:9": counts to read through */
	uint32_t nitems;
	bool counter_used[COUNTERS_MAX];
	need_member members[NEED_MAX];
	size_t nmembers;
	ledger_ticket *ticket; /* group commit: writes stage with it (NULL:
	                          they are written at once) */
	char *fail_body;       /* POST /v1/ops: the answer should the group's
	                          write fail (malloc'ed), or NULL */
	size_t fail_len;
	tm_route route; /* for the metrics: the request's route */
	uint64_t t0_ns; /* and when it reached the api */
	bool deferred;  /* the route deferred the answer itself */
} need;

/* Answers. */
void api_respond(http_response *resp, int status, char *body, size_t len);
void api_error(http_response *resp, int status, const char *code, const char *message);
void api_header(http_response *resp, const char *name, const char *value);
/* 405 with an Allow header of allow. */
void api_method_not_allowed(http_response *resp, const char *allow);
/* The JSON error object {"error":{...}} as a string in b. */
void api_error_json(sbuf *b, const char *code, const char *message);
/* Public caching headers and an ETag; true when the request's
 * If-None-Match matches (the caller then answers 304 with no body). */
bool api_cacheable(api *a, const http_request *req, http_response *resp, const char *etag);

/* The view of (counter, item), asking central (through n) when unknown.
 * 0 with v filled; 1 when the caller must stop and wait; ERR_IO. */
int api_view(api *a, need *n, const counter_def *c, const char *item, ledger_view *v);
/* Adds (counter, item) to the counts to read through. */
void api_need_count(api *a, need *n, const counter_def *c, const char *item);
/* Membership of a pair from the local store or, failing that, what
 * central said recently: -1 unknown. With n->on, an unknown pair is
 * added to the needs. */
int api_membership(api *a, need *n, const char *counter, const char *item, const char *user,
                   int *state, const char **source);
/* Frees the membership batches not sent yet (their answers fail) and
 * the flush event; api_free calls it. */
void api_central_free(api *a);
/* What central said of a pair recently, from the cache only: 1, 0, or -1
 * when nothing fresh is cached. */
int api_member_cached(api *a, const char *counter, const char *item, const char *user);
bool api_need_any(const need *n);
/* n set up for a pass: on lets a route ask central, rerun is the pass
 * after central answered. */
void api_need_init(need *n, bool on, bool rerun);
/* Remembers for a while what central said of a membership (1, 0). */
void api_member_put(api *a, const char *counter, const char *item, const char *user, int state);
/* Runs the route of req (the request router of api.c). */
void api_dispatch(api *a, const http_request *req, http_response *resp, need *n);
/* /v1/items/{type}/{id}/{counter}[/me][?by=..], every method
 * (api_item.c). */
void api_item_routes(api *a, const http_request *req, http_response *resp, need *n);

/* Asking central (api_central.c). Defers req's answer, asks for every
 * count and membership n lists, and runs the route again when all are
 * in. */
void api_defer(api *a, const http_request *req, const need *n);
/* Defers req's answer to central's breakdown at path, for item's shard. */
void api_ask_breakdown(api *a, const http_request *req, const need *n, const char *item,
                       const char *path);

/* Parses "type:id" against the configured types. */
bool api_item_ok(api *a, const char *s, size_t n);
/* The Idempotency-Key header into key (*present false without one);
 * false with a 400 in resp when it is malformed. */
bool api_idem_key(const http_request *req, http_response *resp, char key[IDEM_KEY_MAX + 1],
                  bool *present);
/* The user, or a 401 in resp. The identity is worked out once per pass
 * (kept in n). */
bool api_user(api *a, need *n, const http_request *req, http_response *resp,
              char user[USER_MAX + 1]);
/* Charges count writes to user's per-minute limit (on the first pass
 * only). False with a 429 and Retry-After in resp when they do not fit. */
bool api_charge_writes(api *a, const need *n, const char *user, unsigned count,
                       http_response *resp);

/* Group commit (api_group.c). A parked answer waits for the group
 * commit of the loop turn. */
struct parked {
	ledger_ticket ticket;
	http_deferred *d;
	http_response resp;
	char *fail_body; /* see need */
	size_t fail_len;
	tm_route route; /* see need */
	uint64_t t0_ns;
	parked *next;
};
/* Sets up the commit event when a->base and a->group_commit; 0 or ERR_IO. */
int api_group_init(api *a) WARN_UNUSED;
/* Commits what is staged, sends (or drops) the parked answers. */
void api_group_free(api *a);
/* A parked entry for a request about to run (NULL without group commit). */
parked *api_park_get(api *a);
/* Gives back an entry whose ticket was never staged. */
void api_park_put(api *a, parked *p);
/* After a route ran with n->ticket = &p->ticket: true when it staged a
 * write, whose answer must then wait for the commit. */
bool api_park_staged(const parked *p);
/* Parks the answer of a staged write: takes resp (and n->fail_body), to
 * be sent through d after the loop turn's commit. */
void api_park(api *a, parked *p, need *n, http_deferred *d, http_response *resp);

void api_counts(api *a, const http_request *req, http_response *resp, need *n);
void api_ops(api *a, const http_request *req, http_response *resp, need *n);
/* GET /v1/me?items=...[&counters=...]: this user's memberships of up to
 * max_items items, every set counter unless counters names some. */
void api_me_batch(api *a, const http_request *req, http_response *resp, need *n);

/* One write's outcome as the single-item route answers it. */
typedef struct write_result {
	int status;
	const char *code, *message; /* for status != 200 */
} write_result;

/* A parsed write: counter, item, op, n, the client's clock. */
typedef struct write_req {
	const counter_def *c;
	char item[ITEM_MAX + 1];
	bool add;
	uint32_t n;
	uint64_t client_hlc;
} write_req;

/* Appends the single-item write answer for (w, a) to b (api_item.c). */
void api_write_json(sbuf *b, const write_req *w, const ledger_answer *a);
/* The ledger error of a write as status, code and message. */
write_result api_write_error(int rc);

#endif
