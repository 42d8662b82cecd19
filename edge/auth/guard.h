/* guard.h - the edge's admission limits, shared by every worker: the
 * per-user write rate, the rate of unauthenticated requests per client
 * address, the number of connections per address, and the counters of
 * every refusal (by reason) that /metrics shows.
 *
 * Users and addresses live in fixed-size, 8-way set-associative tables
 * split into lock stripes, so memory is bounded by configuration and two
 * workers contend only when they touch the same stripe. An entry that
 * carries no state any more (its windows have passed, its bucket is
 * full, it holds no connection) is reused first; when a set is full of
 * live entries the oldest is evicted (counted: it means the table is too
 * small and a user or address got a fresh allowance).
 *
 * The user limit is a sliding window of one minute, estimated from two
 * fixed windows (the count of the previous minute weighted by how much
 * of it still overlaps the window, plus the count of this minute): exact
 * at a steady rate and never more than the limit over any minute when
 * the counts are spread evenly in the previous one. The address limit is
 * a token bucket (a rate per second and a burst).
 *
 * Any thread may call any function; guard_free only once no one else
 * does.
 */
#ifndef EDGE_GUARD_H
#define EDGE_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/http/http.h"
#include "metrics.h"

#define GUARD_IP_LEN HTTP_IP_LEN /* addresses as IPv6; IPv4 is v4-mapped */

typedef enum guard_reason {
	GUARD_USER_RATE, /* 429: a user's writes over the per-minute limit */
	GUARD_ADDR_RATE, /* 429: unauthenticated requests from one address */
	GUARD_CONNS,     /* a connection over the per-address cap: closed */
	GUARD_STREAMS,   /* HTTP/2 stream over the concurrent cap: RST_STREAM */
	GUARD_SLOW,      /* 408 or closed: a request that did not arrive in time */
	GUARD_RESETS,    /* HTTP/2 rapid reset: GOAWAY and closed */
	GUARD_HEADERS,   /* 431 */
	GUARD_BODY,      /* 413 */
	GUARD_MALFORMED, /* 400 before the handler: not valid HTTP */
	GUARD_UNAUTH,    /* 401 */
	GUARD_BATCH,     /* 400: more items or ops than one request may hold */
	GUARD_NREASONS
} guard_reason;

typedef struct guard_config {
	unsigned user_writes_per_min; /* 0: no per-user limit */
	unsigned addr_per_s;          /* unauthenticated requests per address and
	                                 second; 0: no limit */
	unsigned addr_burst;          /* bucket size; 0: twice addr_per_s */
	unsigned conns_per_addr;      /* 0: no cap */
	size_t users;                 /* user entries (rounded up to 512) */
	size_t addrs;                 /* address entries (rounded up to 512) */
} guard_config;

typedef struct guard guard;

guard *guard_new(const guard_config *cfg);
void guard_free(guard *g);

/* Charges n writes to user at now_ms (monotonic). True when they fit the
 * limit (and are counted); false when they do not (nothing is counted,
 * the refusal is, and *retry_after_s says when n would fit: at least 1).
 * user is NUL-terminated. */
bool guard_user_write(guard *g, const char *user, unsigned n, uint64_t now_ms,
                      unsigned *retry_after_s);
/* Takes one unauthenticated request from ip's bucket. True when there
 * was a token; false (the refusal counted, *retry_after_s set) when not.
 * ip NULL is always allowed. */
bool guard_addr_request(guard *g, const uint8_t *ip, uint64_t now_ms, unsigned *retry_after_s);
/* False when the address limit is off (guard_addr_request always
 * allows): callers may skip working out whether a request has an
 * identity. */
bool guard_addr_limited(const guard *g);
/* A connection from ip opens. True when it is within the cap; then it
 * must be closed with guard_conn_close. False when it is over the cap
 * (refusal counted) or cannot be tracked (table full: let in, counted as
 * an eviction; *tracked false, so no guard_conn_close). */
bool guard_conn_open(guard *g, const uint8_t *ip, bool *tracked);
void guard_conn_close(guard *g, const uint8_t *ip);

/* The server's admission hooks (http.h) backed by g: connections per
 * address (guard_conn_open, guard_conn_close) and every refusal before
 * a handler counted under its reason. g may be NULL: no hooks. */
http_admission guard_http_admission(guard *g);

/* guard_bytes as a memory holder (telemetry.h): ctx is the guard; false
 * (no sample) when it is NULL. */
bool guard_holds(void *ctx, uint64_t *out);

/* Adds refused_total{reason} and guard_evictions_total, read from g at
 * each render, to reg. g may be NULL (every figure 0). Start-up. */
void guard_metrics_add(metrics *reg, guard *g);

/* Counts one refusal. g may be NULL. */
void guard_count(guard *g, guard_reason why);
uint64_t guard_refusals(const guard *g, guard_reason why);
/* The reason's name in metrics: "user_rate", "conns_per_addr", ... */
const char *guard_reason_name(guard_reason why);
/* Live entries pushed out of a full set (tables too small). */
uint64_t guard_evictions(const guard *g);
/* Open connections g tracks for ip (tests and inspection). */
unsigned guard_conns(guard *g, const uint8_t *ip);
/* The heap bytes g holds: its struct, and of its tables (calloc'ed at
 * limits.users and limits.addrs entries, zero pages until written) the
 * pages the users and addresses seen so far have written, estimated
 * from the sets they filled (memacct_touched). Grows with the users and
 * addresses seen, to the tables' size. Atomics only: any thread. */
uint64_t guard_bytes(const guard *g);

#endif
