/* telemetry.h - the edge's Prometheus metrics: one registry (metrics.h,
 * prefix "likes_edge_") that main.c makes at start-up and every module
 * writes to, and the hot items (topk.h) of the writes.
 *
 * Every series a hot path moves is created in telemetry_new, so a
 * request costs an array index, one counter add and one histogram
 * observation: requests by route and status, their latency by route,
 * the size of sealed batches, Kafka produce latency,
 * read-through requests to central. What is
 * cheaper to read when scraped comes from render hooks that each owner
 * adds to the registry itself at start-up (ledger_metrics_add,
 * uplink_metrics_add, guard_metrics_add, http_tls_metrics_add,
 * store_metrics_add); the bytes each in-memory structure holds
 * (memory_bytes{holder}) from the holders the wiring names here. This
 * module includes no other module of the edge. The hot items are served
 * by GET /v1/hot only: their labels would be item ids, an unbounded set
 * of series.
 *
 * telemetry_new, telemetry_memory_holder and telemetry_free: start-up
 * and shutdown, one thread. Everything else: any thread. Modules take a
 * telemetry pointer that may be NULL (tests): the functions here accept
 * NULL and do nothing; code that uses the public metric fields checks.
 */
#ifndef EDGE_TELEMETRY_H
#define EDGE_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "metrics.h"
#include "topk.h"

/* Routes as requests_total and request_duration_seconds label them. */
typedef enum tm_route {
	TM_ROUTE_COUNT,           /* GET /v1/items/{type}/{id}/{counter} */
	TM_ROUTE_COUNT_BREAKDOWN, /* the same with ?by= */
	TM_ROUTE_ME,              /* .../me */
	TM_ROUTE_WRITE,           /* POST, DELETE (any other method) on an item */
	TM_ROUTE_COUNTS,          /* GET /v1/counts */
	TM_ROUTE_OPS,             /* POST /v1/ops */
	TM_ROUTE_HEALTHZ,
	TM_ROUTE_READYZ,
	TM_ROUTE_METRICS,
	TM_ROUTE_HOT, /* GET /v1/hot */
	TM_ROUTE_OTHER,
	TM_NROUTES
} tm_route;

/* /readyz's checks, as the ready_check{check} series label them. */
typedef enum {
	TM_CHECK_STORE,
	TM_CHECK_KAFKA,
	TM_CHECK_SNAPSHOTS,
	TM_CHECK_REPLICA,
	TM_CHECK_WRITER,
	TM_NCHECKS
} tm_check;

/* Why ops were refused (ops_refused_total{reason}). */
typedef enum tm_refusal {
	TM_REFUSED_BUDGET,      /* pending budget spent (503 over_budget) */
	TM_REFUSED_RATE,        /* the user's write limit (429) */
	TM_REFUSED_STORE,       /* the store write failed (503 store_unavailable) */
	TM_REFUSED_CONFLICT,    /* Idempotency-Key reused for another request (422) */
	TM_REFUSED_REPLICATION, /* the changelog did not take the copy (503 not_replicated) */
	TM_REFUSED_NOT_ACTIVE,  /* a standby instance, or one fenced (503 not_active) */
	TM_REFUSED_CLOCK,       /* a client clock past the bound (409 clock_ahead) */
	TM_REFUSED_QUEUE, /* every group a commit thread may take is full (503 write_queue_full) */
	TM_NREFUSALS
} tm_refusal;

#define TM_NSTATUS 19 /* the statuses kept apart, and "other" */
#define TM_HOT_WINDOW_MS 60000
#define TM_MEM_HOLDERS 16 /* memory_bytes holders the wiring may add */

/* A holder of memory_bytes{holder} that the edge's wiring adds
 * (telemetry_memory_holder). */
typedef struct tm_mem_holder {
	const char *holder;
	bool (*bytes)(void *ctx, uint64_t *out);
	void *ctx;
} tm_mem_holder;

typedef struct telemetry {
	metrics *reg;
	metric *requests[TM_NROUTES][TM_NSTATUS];
	metric *latency[TM_NROUTES];
	metric *refused[TM_NREFUSALS];
	metric *batch_ops;       /* histogram: ops per sealed batch */
	metric *produce_latency; /* histogram: produce call to delivery report */
	metric *commit_latency;  /* histogram: a group commit's store write */
	metric *rt_requests;     /* HTTP requests to central */
	metric *rt_counts;       /* of them, for counts (not memberships) */
	metric *rt_members[2];   /* memberships asked of central: of users at home
	                            here [0], of others [1] */
	metric *rt_failures;
	metric *rt_latency;              /* histogram: request sent to answer */
	metric *ready;                   /* 1 while /readyz answers 200 */
	metric *ready_check[TM_NCHECKS]; /* each /readyz check: 1 passing */
	metric *budget_bytes;            /* batch.budget_mb, in bytes */
	topk *hot;                       /* NULL: hot items off */
	size_t hot_k;                    /* the keys it keeps (metrics.hot_items) */
	tm_mem_holder mem[TM_MEM_HOLDERS];
	size_t nmem;
} telemetry;

/* A registry with every series above; hot_k = 0 keeps no hot items. */
telemetry *telemetry_new(size_t hot_k);
/* Adds a sample of memory_bytes: holder (a fixed name, kept) with what
 * bytes(ctx, &out) finds at each render, on the rendering thread; false
 * leaves the sample out that time. It must read its owner's atomics, or
 * take a lock only for a moment (LevelDB's property). The family lists
 * the holders in the order they were added, then heap_free (the heap
 * held free at the last stats tick). Start-up only, before the first
 * render; at most TM_MEM_HOLDERS. */
void telemetry_memory_holder(telemetry *tm, const char *holder,
                             bool (*bytes)(void *ctx, uint64_t *out), void *ctx);
void telemetry_free(telemetry *tm);

/* A request of route answered status, started at t0_ns. */
void telemetry_request(telemetry *tm, tm_route route, int status, uint64_t t0_ns);
/* n ops refused for why. */
void telemetry_refused(telemetry *tm, tm_refusal why, uint64_t n);
/* The ops refused for why so far: the registry's count, the only one. */
uint64_t telemetry_refused_ops(const telemetry *tm, tm_refusal why);
/* A batch of nops sealed (batch_ops; the ledger counts why it sealed). */
void telemetry_batch_ops(telemetry *tm, uint32_t nops);
/* An op recorded that moved a count: counts n for (counter, item) in the
 * hot items, at now_ms (clock_mono_ms(), read once for a group's ops). */
void telemetry_accepted(telemetry *tm, const char *counter, size_t cl, const char *item, size_t il,
                        uint32_t n, uint64_t now_ms);
/* A read-through request to central ended after seconds; ok or not. */
void telemetry_readthrough(telemetry *tm, double seconds, int ok);
/* A group commit's store write that succeeded, and how long it took. */
void telemetry_group_written(telemetry *tm, uint64_t ns);

/* The hottest items now: up to max, highest rate first; each key is
 * "counter item". rate_per_s is the entry's rate over the window, per
 * second. Returns how many. */
size_t telemetry_hot(telemetry *tm, topk_entry *out, size_t max);
/* What /readyz found (main thread, each readiness check): the overall
 * answer and each check, in tm_check order. */
void telemetry_readiness(telemetry *tm, bool ready, const bool ok[TM_NCHECKS]);
/* The pending-bytes budget, set once at start. */
void telemetry_budget(telemetry *tm, uint64_t bytes);

/* How many keys the hot-items sketch keeps; 0 when it is off. */
size_t telemetry_hot_k(const telemetry *tm);

#endif
