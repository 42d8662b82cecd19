/* central_client.h - the edge's asynchronous client for central's ops API,
 * and strict parsers of the answers the edge reads from it.
 *
 * The client speaks HTTP/1.1 over a few persistent (keep-alive) evhttp
 * connections on the edge's event_base. Identical GETs in flight share one
 * request. A whole-request deadline, a cap on distinct requests in flight
 * and a circuit breaker keep a slow or absent central from tying up the
 * edge: callers get ERR_TIMEOUT or ERR_AGAIN and answer from what they
 * know. The client and its callbacks belong to the loop thread of base.
 *
 * The parsers are pure (any thread) and refuse anything outside central's
 * contract (docs: /v1/counts and /v1/items/.../users/...).
 */
#ifndef EDGE_CENTRAL_CLIENT_H
#define EDGE_CENTRAL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "item.h"

struct event_base;

#define CENTRAL_BODY_MAX (1u << 20) /* answers bigger than this: ERR_TOOBIG */
#define CENTRAL_PATH_MAX 4096       /* longest path + query a get accepts */
#define CENTRAL_TOKEN_MAX 512
#define CENTRAL_WAITERS_MAX 1024 /* callers sharing one request */
#define CENTRAL_CONNS 4          /* persistent connections to central */
#define CENTRAL_ITEMS_MAX 100    /* items in one /v1/counts answer */
#define CENTRAL_FAILS_TO_OPEN 3  /* consecutive failures that open the circuit */

typedef struct central_client central_client;

typedef struct central_client_opts {
	const char *address;   /* numeric "IPv4:port" or "[IPv6]:port" */
	const char *token;     /* bearer token; NULL or "" sends none */
	unsigned timeout_ms;   /* whole request, from the get; 0: 300 */
	unsigned max_inflight; /* distinct requests in flight; 0: 256 */
	unsigned fail_open_ms; /* how long the circuit stays open; 0: 1000 */
	struct telemetry *tm;  /* each request's outcome and latency; NULL: none */
} central_client_opts;

typedef struct central_client_stats {
	uint64_t requests;             /* HTTP requests started */
	uint64_t coalesced;            /* gets that joined a request in flight */
	uint64_t failures;             /* requests without a usable answer, or 5xx */
	uint64_t timeouts;             /* of the failures, those past the deadline */
	uint64_t circuit_open_rejects; /* gets refused because the circuit was open */
	uint64_t busy_rejects;         /* gets refused at max_inflight */
	unsigned inflight;             /* distinct requests in flight now */
	bool circuit_open;             /* open or half-open (a probe decides) */
} central_client_stats;

/* Called once per accepted get. rc 0: an answer came, with its HTTP status
 * and body (len bytes plus a NUL; both valid only during the call). Else
 * rc < 0 and status 0, body NULL:
 *   ERR_TIMEOUT  no whole answer within timeout_ms
 *   ERR_IO       connect refused or failed, connection reset
 *   ERR_TOOBIG   the answer's head or body is over its cap
 *   ERR_CORRUPT  the answer is not HTTP
 *   ERR_AGAIN    max_inflight distinct requests are in flight, too many
 *                callers share this one, or the circuit is open
 *   ERR_CLOSED   central_client_free() ran first
 * A callback may call central_client_get(), never central_client_free(). */
typedef void (*central_done)(void *arg, int rc, int status, const char *body, size_t len);

/* A client for central at o->address. It connects lazily, on the first
 * get. NULL with a reason in err for a bad address or option. */
central_client *central_client_new(struct event_base *base, const central_client_opts *o, char *err,
                                   size_t errlen);

/* Calls every outstanding callback with ERR_CLOSED, then frees c. NULL is
 * a no-op. Not from inside a central_done callback. */
void central_client_free(central_client *c);

/* GETs path (starting with '/', query included, already URL-safe:
 * printable ASCII without spaces, at most CENTRAL_PATH_MAX bytes).
 * Returns 0 when cb will be called exactly once, always from the loop
 * and never from inside this call: errors found at once (ERR_AGAIN)
 * arrive on the loop's next turn. Identical paths in flight are coalesced:
 * one request, every waiter called with the same answer. ERR_INVAL for a
 * bad path or a NULL cb, ERR_CLOSED while the client is being freed: cb
 * is then never called. */
int central_client_get(central_client *c, const char *path, central_done cb, void *arg) WARN_UNUSED;

/* True when a get now would reach central: the circuit is closed, or has
 * been open long enough for a probe and none is in flight. */
bool central_client_usable(const central_client *c);

/* 0 when address is what central_client_opts.address accepts (numeric
 * "IPv4:port" or "[IPv6]:port", port 1..65535), else ERR_INVAL. Pure. */
int central_check_address(const char *address) WARN_UNUSED;

/* Counters since central_client_new(), and the state now. */
void central_client_get_stats(const central_client *c, central_client_stats *out);

/* --- answers --------------------------------------------------------------- */

typedef struct central_count {
	char item[ITEM_MAX + 1];
	char counter[COUNTER_MAX + 1];
	uint64_t count;
	uint32_t partition;
	uint64_t version, applied, as_of;
} central_count;

/* Parses a 200 answer of GET /v1/counts: one entry per (item, counter), in
 * a malloc'ed array in *out (NULL when there are none) that the caller
 * frees. ERR_CORRUPT for anything malformed: not one JSON object,
 * duplicate keys, a missing or mistyped field, a negative or fractional
 * number, an invalid or oversized item or counter name, a partition at or
 * over PARTITION_MAX, more than CENTRAL_ITEMS_MAX items or ITEM_MAX_NAMES
 * counters per item, or an item without counts. ERR_TOOBIG for len over
 * CENTRAL_BODY_MAX. Fields this parser does not know are ignored, so that
 * central may add some. On error *out is NULL and *n 0. */
int central_parse_counts(const char *body, size_t len, central_count **out, size_t *n) WARN_UNUSED;

typedef struct central_member {
	bool member, known;
	uint64_t hlc;
	char edge[EDGE_ID_MAX + 1];
	char region[EDGE_ID_MAX + 1];
} central_member;

/* Parses a 200 answer of GET /v1/items/{type}/{id}/{counter}/users/{user}.
 * ERR_CORRUPT for anything malformed, as above, and for answers that
 * contradict themselves: a member that is not known, an unknown pair with
 * an hlc, edge or region, a known pair without an hlc or edge. ERR_TOOBIG
 * for len over CENTRAL_BODY_MAX. On error *out is zeroed. */
int central_parse_member(const char *body, size_t len, central_member *out) WARN_UNUSED;

/* Parses a 200 answer of GET /v1/memberships for n pairs asked:
 * {"members":[{"member":bool,"known":bool,"hlc":N},...]} with exactly n
 * entries, in the order asked. states[i] is 1 for a member, 0 for not (or
 * never seen at central); stamps[i] the winning op's clock (0: not known,
 * or an older central that does not say). ERR_CORRUPT for anything else
 * (another count, a member that is not known), ERR_TOOBIG for len over
 * CENTRAL_BODY_MAX. */
int central_parse_memberships(const char *body, size_t len, int8_t *states, uint64_t *stamps,
                              size_t n) WARN_UNUSED;

#endif
