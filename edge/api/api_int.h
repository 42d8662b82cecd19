/* api_int.h - what the files of edge/api share, in layers that call
 * only down (each file's part below, lowest first):
 *
 *   api.c                        the route table, dispatch, api_handle
 *   api_central.c                waiting for central (api_wait)
 *   api_group.c                  group commit: parked answers
 *   api_batch.c                  GET /v1/counts, GET /v1/me, POST /v1/ops
 *   api_item.c  demo.c           the single-item routes and the one write
 *                                path; the demo page
 *   api_ctx.c                    answers, the request's context, needs,
 *                                who is asking, admission
 *   api_member.c                 memberships: the store, central's answers
 *                                cached, the home-region policy
 *
 * Loop thread only.
 *
 * Every request has a context (api_ctx) from its first step: who is
 * asking (resolved once), where from (the peer and client addresses,
 * copied out of the request), the route's metrics label and start time,
 * and the route's own state (the item it parsed, the feed's items and
 * counters). A route's first step runs in api_handle with the request.
 * When it needs something only central knows (a count this edge never
 * received, the membership of a pair it never saw, a breakdown) it
 * records that in the need, keeps what its answer will need, sets its
 * step and continuation (api_again) and returns API_AGAIN, as nginx
 * handlers return NGX_AGAIN. api_wait then moves the context into a
 * waiting entry with the deferred answer, asks central, keeps what comes
 * back (ledger read-through, membership cache, a breakdown's answer in
 * the context), and calls the continuation once every answer is in or
 * failed. The continuation answers from what is known by then; it never
 * sees the request again (its fields live only during the handler call),
 * so nothing is parsed, verified or charged twice.
 */
#ifndef EDGE_API_INT_H
#define EDGE_API_INT_H

#include "edge/api/api_state.h"
#include "sbuf.h"

#define NEED_MAX                                                                                   \
	256                    /* members one request may ask central about (GET                   \
	                          /v1/me: 100 items x the set counters) */
#define API_BREAKDOWN_PATH 256 /* central's path of a breakdown */

/* What a route's first step returns. */
enum {
	API_DONE = 0, /* resp holds the answer (or a parked write's) */
	API_AGAIN = 1 /* it waits for central: api_again was called */
};

typedef struct need_member {
	char counter[COUNTER_MAX + 1];
	char item[ITEM_MAX + 1];
	char user[USER_MAX + 1];
} need_member;

/* What a route's first step needs from central. On api_handle's stack
 * (members is large and read only below nmembers); api_wait reads it
 * and it is gone after. */
typedef struct need {
	sbuf items; /* "post:1,reel:9": counts to read through */
	uint32_t nitems;
	bool counter_used[COUNTERS_MAX];
	need_member members[NEED_MAX];
	size_t nmembers;
	/* A breakdown, passed through: central's path and the item whose
	 * shard answers it (path[0] 0: none). */
	char breakdown[API_BREAKDOWN_PATH];
	char breakdown_item[ITEM_MAX + 1];
} need;

/* A single-item route's state: /v1/items/{type}/{id}/{counter}[/me]. */
typedef struct item_route {
	char item[ITEM_MAX + 1];
	const counter_def *c;
	bool me;
} item_route;

/* A feed request's distinct items and its counters (GET /v1/counts, GET
 * /v1/me). On the first step the items point into the parsed query; a
 * route that waits copies them into one block the context owns
 * (api_feed_keep, api_ctx.kept). */
typedef struct api_feed {
	char **items; /* NUL-terminated */
	size_t *ilen;
	size_t nitems;
	const counter_def *cs[COUNTERS_MAX];
	size_t cl[COUNTERS_MAX]; /* their names' lengths */
	size_t ncs;
} api_feed;

/* Central's answer to a breakdown, kept for the continuation. */
typedef struct api_reply {
	bool ok; /* a usable answer: 200, 400 or 404 */
	int status;
	char *body; /* malloc'ed; the continuation takes it */
	size_t len;
} api_reply;

typedef struct api_ctx api_ctx;

/* A route's continuation: its step after the lookup, called with the
 * same context once central answered (or failed), only while the client
 * is still there. Fills resp; never waits again, never writes. */
typedef void (*api_resume_fn)(api *a, api_ctx *x, http_response *resp);

/* A request's context. It lives on api_handle's stack for the first
 * step and is moved (copied as a struct) into a waiting entry when the
 * route waits, so it holds no pointer into itself; the heap blocks it
 * owns (fail_body, inm, kept, reply.body) go with it and
 * api_ctx_release frees them. */
struct api_ctx {
	need *n; /* where the first step records what it needs; NULL when
	            it may not ask (no central) and in a continuation */
	/* Who is asking: resolved at most once (api_user, charge_address). */
	int id_rc; /* identity_user's answer, 1 until asked */
	const char *id_why;
	principal who;
	/* Where from: the request's addresses, copied (http_request's
	 * pointers live only during the handler call). */
	uint8_t peer_ip[GUARD_IP_LEN], client_ip[GUARD_IP_LEN];
	bool has_peer_ip, has_client_ip;
	bool via_untrusted;
	tm_route route;        /* for the metrics: the request's route */
	uint64_t t0_ns;        /* and when it reached the api */
	uint64_t begun_ms;     /* when it arrived (clock_mono_ms) */
	ledger_ticket *ticket; /* group commit: writes stage with it (NULL:
	                          they are written at once, and always in a
	                          continuation) */
	char *fail_body;       /* POST /v1/ops: the answer should the group's
	                          write fail (malloc'ed), or NULL */
	size_t fail_len;
	/* Set by api_again: where the route resumes. */
	api_resume_fn resume;
	int step; /* the route's own step number */
	/* Kept for the continuation: the request's If-None-Match (malloc'ed,
	 * NULL when it had none), the route's copy of what it parsed (the
	 * block st.feed points into), central's answer to a breakdown. */
	char *inm;
	size_t inm_len;
	void *kept;
	api_reply reply;
	union {
		item_route item;
		api_feed feed;
	} st; /* the route's own state */
};

/* --- api_member.c: memberships and what central said of them ----------------- */

/* Membership of a pair from the local store or, failing that, what
 * central said recently: -1 unknown. With x->n, an unknown pair is
 * added to the needs. */
int api_membership(api *a, api_ctx *x, const char *counter, const char *item, const char *user,
                   int *state, const char **source);
/* What central said of a pair recently, from the cache only: 1, 0, or -1
 * when nothing fresh is cached. */
int api_member_cached(api *a, const char *counter, const char *item, const char *user);
/* The same, fresh within max_age_ms, with the winning op's clock. */
int api_member_cached_at(api *a, const char *counter, const char *item, const char *user,
                         uint64_t max_age_ms, uint64_t *hlc);
/* Remembers for a while what central said of a membership (1, 0) and
 * its winning op's clock (0: not said). */
void api_member_put(api *a, const char *counter, const char *item, const char *user, int state,
                    uint64_t hlc);
/* Sets up a's cache of what central said (api_init); frees it (api_free). */
void api_member_init(api *a);
void api_member_free(api *a);

/* --- api_ctx.c: answers, the context, needs, who is asking ------------------ */

void api_respond(http_response *resp, int status, char *body, size_t len);
void api_error(http_response *resp, int status, const char *code, const char *message);
void api_header(http_response *resp, const char *name, const char *value);
/* 405 with an Allow header of allow. */
void api_method_not_allowed(http_response *resp, const char *allow);
/* The JSON error object {"error":{...}} as a string in b. */
void api_error_json(sbuf *b, const char *code, const char *message);
/* Public caching headers and an ETag; true when the request's
 * If-None-Match matches (the caller then answers 304 with no body). req
 * on a first step; NULL in a continuation, which reads the one x kept. */
bool api_cacheable(api *a, const api_ctx *x, const http_request *req, http_response *resp,
                   const char *etag);
/* x set up for req's first step: the addresses copied, nothing resolved
 * yet; n (may be NULL) is where it records its needs, set up here. */
void api_ctx_init(api_ctx *x, const http_request *req, need *n);
/* Frees the heap blocks x owns (fail_body, inm, kept, reply.body). */
void api_ctx_release(api_ctx *x);
/* A route's first step about to return API_AGAIN: it resumes at step
 * through resume. With keep_inm, req's If-None-Match is kept for
 * api_cacheable. Returns API_AGAIN. */
int api_again(api_ctx *x, const http_request *req, api_resume_fn resume, int step, bool keep_inm);
/* Copies the feed's items and counters into x->st.feed (one block, owned
 * by x), for a route about to wait. */
void api_feed_keep(api_ctx *x, const api_feed *f);
/* Is the client a loopback one? The loopback-only routes' rule: the
 * client the trusted-proxy rule found, on loopback, and not behind a
 * proxy the edge does not trust. Reads x only, so a continuation may
 * ask it too. */
bool api_from_loopback(const api_ctx *x);
/* Does n (may be NULL) list anything to ask? */
bool api_need_any(const need *n);
/* Adds (counter, item) to the counts to read through. */
void api_need_count(api *a, need *n, const counter_def *c, const char *item);
/* The view of (counter, item), asking central (through x->n) when
 * unknown. 0 with v filled; 1 when the caller must stop and wait;
 * ERR_IO. */
int api_view(api *a, api_ctx *x, const counter_def *c, const char *item, ledger_view *v);
/* Parses "type:id" against the configured types. */
bool api_item_ok(api *a, const char *s, size_t n);
/* The Idempotency-Key header into key (*present false without one);
 * false with a 400 in resp when it is malformed. */
bool api_idem_key(const http_request *req, http_response *resp, char key[IDEM_KEY_MAX + 1],
                  bool *present);
/* The user into x->user, or a 401 in resp. The identity is worked out
 * once per request (kept in x). */
bool api_user(api *a, api_ctx *x, const http_request *req, http_response *resp);
/* Charges count writes to user's per-minute limit. False with a 429 and
 * Retry-After in resp when they do not fit. */
bool api_charge_writes(api *a, const char *user, unsigned count, http_response *resp);
/* Requests that carry no valid identity share a budget per client
 * address (the client the trusted-proxy rule found, else the peer).
 * Charged once, before the route's first step. False with a 429 in
 * resp. */
bool api_charge_address(api *a, api_ctx *x, const http_request *req, http_response *resp);

/* --- api_item.c: the single-item routes, and the write path of both ------- */

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

/* The one write path of both write routes (the single-item POST and
 * DELETE, and POST /v1/ops): stages the writes w[i] of x's user for
 * which skip is NULL or skip[i] false, in one ledger_stage_ops call.
 * Each op is built the same way: a write never waits for central, so
 * an unlike takes its prior state from the member cache (else -1: the
 * ledger records it without moving the count). With key, the request's
 * idempotency record is staged too, its answer from render(ctx). ans
 * gets one answer per staged write, in order; slot, when not NULL, the
 * index in ans of each w[i] staged. *nstaged: how many were. Returns
 * ledger_stage_ops's code, with *replay set when an earlier answer of
 * the same key stands. */
int api_stage_writes(api *a, api_ctx *x, const http_request *req, const char *key,
                     const write_req *w, const bool *skip, size_t n, ledger_render_fn render,
                     void *ctx, ledger_answer *ans, size_t *slot, size_t *nstaged,
                     ledger_replay *replay) WARN_UNUSED;

/* Appends the single-item write answer for (w, a) to b. */
void api_write_json(sbuf *b, const write_req *w, const ledger_answer *a);
/* The ledger error of a write as status, code and message. */
write_result api_write_error(int rc);
/* /v1/items/{type}/{id}/{counter}[/me][?by=..], every method
 * (api_item.c): a first step. */
int api_item_routes(api *a, api_ctx *x, const http_request *req, http_response *resp);

/* --- api_batch.c: the batch routes' first steps ---------------------------- */

int api_counts(api *a, api_ctx *x, const http_request *req, http_response *resp);
int api_ops(api *a, api_ctx *x, const http_request *req, http_response *resp);
/* GET /v1/me?items=...[&counters=...]: this user's memberships of up to
 * max_items items, every set counter unless counters names some. */
int api_me_batch(api *a, api_ctx *x, const http_request *req, http_response *resp);

/* --- api_group.c: group commit ------------------------------------------------ */

/* A parked answer waits for the group
 * commit of the loop turn. */
struct parked {
	ledger_ticket ticket;
	http_deferred *d;
	http_response resp;
	char *fail_body; /* see api_ctx */
	size_t fail_len;
	tm_route route; /* see api_ctx */
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
/* After a route ran with x->ticket = &p->ticket: true when it staged a
 * write, whose answer must then wait for the commit. The ticket may be
 * resolved already (the commit thread may have taken its group and
 * written it, or failed it, before the route returned): a staged write
 * is parked all the same, and the parked list answers it by its
 * outcome. */
bool api_park_staged(const parked *p);
/* Parks the answer of a staged write: takes resp (and x->fail_body), to
 * be sent through d after the loop turn's commit. */
void api_park(api *a, parked *p, api_ctx *x, http_deferred *d, http_response *resp);

/* --- api_central.c: waiting for central ----------------------------------------- */

/* Defers req's answer and keeps x
 * with it (x is moved: the caller must not use or release it after),
 * asks for every count, membership and breakdown n lists, and calls
 * x->resume when all are in (at once, before returning, when nothing
 * could be sent). */
void api_wait(api *a, const http_request *req, api_ctx *x, need *n);
/* Frees the membership batches not sent yet (their answers fail), the
 * flush event and the pool of waiting entries; api_free calls it. The
 * central clients must be freed first: their callbacks end the waits of
 * the requests still in flight, whose entries go back to the pool. */
void api_central_free(api *a);

#endif
