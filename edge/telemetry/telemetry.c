/* telemetry.c - the edge's registry, its precreated series and the
 * memory_bytes family (telemetry.h).
 *
 * Owns the registry, the precreated series, the hot-items sketch and the
 * list of memory holders; it includes no other module of the edge: each
 * owner adds its own render hooks to the registry and names its holders.
 * Updates are the registry's relaxed atomics (any thread); hooks run on
 * the thread that renders /metrics.
 */
#include "edge/telemetry/telemetry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "item.h"
#include "log.h"
#include "memtrim.h"
#include "partition.h"
#include "xmem.h"

static const char *const route_names[TM_NROUTES] = {
    "count",   "count_breakdown", "me",      "write", "counts", "ops",
    "healthz", "readyz",          "metrics", "hot",   "other",
};

/* The statuses counted apart; anything else is "other" (the last). */
static const int statuses[TM_NSTATUS - 1] = {200, 204, 304, 400, 401, 403, 404, 405, 408,
                                             409, 413, 422, 429, 431, 500, 502, 503, 504};

static const char *const refusal_names[TM_NREFUSALS] = {
    "budget",         "rate",       "store",       "idempotency_conflict",
    "not_replicated", "not_active", "clock_ahead", "queue_full"};

/* Ops per batch: 1 .. batch.max_ops's ceiling. */
static const double batch_bounds[] = {1,   2,    5,    10,   25,    50,    100,   250,
                                      500, 1000, 2500, 5000, 10000, 25000, 50000, 100000};

static size_t status_index(int status)
{
	switch (status) {
	case 0:
	case 200: return 0;
	case 204: return 1;
	case 304: return 2;
	case 400: return 3;
	case 401: return 4;
	case 403: return 5;
	case 404: return 6;
	case 405: return 7;
	case 408: return 8;
	case 409: return 9;
	case 413: return 10;
	case 422: return 11;
	case 429: return 12;
	case 431: return 13;
	case 500: return 14;
	case 502: return 15;
	case 503: return 16;
	case 504: return 17;
	default: return TM_NSTATUS - 1;
	}
}

telemetry *telemetry_new(size_t hot_k)
{
	telemetry *tm = xcalloc(1, sizeof *tm);
	metrics *m = tm->reg = metrics_new("likes_edge_");
	metrics_add_process(m);
	char labels[128];
	for (int r = 0; r < TM_NROUTES; r++) {
		for (size_t s = 0; s < TM_NSTATUS; s++) {
			if (s < TM_NSTATUS - 1)
				snprintf(labels, sizeof labels, "route=\"%s\",status=\"%d\"",
				         route_names[r], statuses[s]);
			else
				snprintf(labels, sizeof labels, "route=\"%s\",status=\"other\"",
				         route_names[r]);
			tm->requests[r][s] = metrics_counter(
			    m, "requests_total",
			    "HTTP requests answered by the API, by route and status.", labels);
		}
	}
	for (int r = 0; r < TM_NROUTES; r++) {
		snprintf(labels, sizeof labels, "route=\"%s\"", route_names[r]);
		tm->latency[r] = metrics_histogram(
		    m, "request_duration_seconds",
		    "Time from a request reaching the API to its answer leaving it, by route "
		    "(answers that wait for central or for the group commit included).",
		    labels, metrics_latency_bounds, metrics_latency_nbounds);
	}
	for (int i = 0; i < TM_NREFUSALS; i++) {
		snprintf(labels, sizeof labels, "reason=\"%s\"", refusal_names[i]);
		tm->refused[i] = metrics_counter(m, "ops_refused_total",
		                                 "Write ops refused, by reason.", labels);
	}
	tm->batch_ops = metrics_histogram(m, "batch_ops", "Ops per sealed batch.", NULL,
	                                  batch_bounds, sizeof batch_bounds / sizeof *batch_bounds);
	tm->produce_latency =
	    metrics_histogram(m, "kafka_produce_duration_seconds",
	                      "Time from producing a batch to its delivery report.", NULL,
	                      metrics_latency_bounds, metrics_latency_nbounds);
	tm->commit_latency = metrics_histogram(
	    m, "store_commit_duration_seconds",
	    "Time of a group commit's store write, from handing its batch to LevelDB to the "
	    "write's end (with store.sync, the fsync too); the wait behind other store writes "
	    "(snapshots, seals) included.",
	    NULL, metrics_latency_bounds, metrics_latency_nbounds);
	tm->rt_requests = metrics_counter(m, "readthrough_requests_total",
	                                  "HTTP requests sent to central's ops API.", NULL);
	tm->rt_counts = metrics_counter(
	    m, "readthrough_counts_total",
	    "Requests to central for counts this edge does not hold (its replica is loading).",
	    NULL);
	const char *members_help =
	    "Memberships this edge asked of central (pairs its store cannot answer), by whether "
	    "the user is at home in this edge's region (home.follow): a home user's are "
	    "pairs of posts liked before the edge's horizon.";
	tm->rt_members[0] =
	    metrics_counter(m, "readthrough_members_total", members_help, "user=\"home\"");
	tm->rt_members[1] =
	    metrics_counter(m, "readthrough_members_total", members_help, "user=\"away\"");
	tm->rt_failures = metrics_counter(
	    m, "readthrough_failures_total",
	    "Requests to central without a usable answer (errors, timeouts, 5xx).", NULL);
	tm->rt_latency = metrics_histogram(m, "readthrough_duration_seconds",
	                                   "Time from sending a request to central to its end.",
	                                   NULL, metrics_latency_bounds, metrics_latency_nbounds);
	tm->ready = metrics_gauge(m, "ready", "1 while /readyz answers 200, else 0.", NULL);
	static const char *const checks[TM_NCHECKS] = {"store", "kafka", "snapshots", "replica",
	                                               "writer"};
	for (int i = 0; i < TM_NCHECKS; i++) {
		snprintf(labels, sizeof labels, "check=\"%s\"", checks[i]);
		tm->ready_check[i] = metrics_gauge(
		    m, "ready_check", "1 while this /readyz check passes, else 0.", labels);
	}
	tm->budget_bytes = metrics_gauge(
	    m, "pending_budget_bytes",
	    "batch.budget_mb in bytes: writes are refused once pending_bytes reaches it.", NULL);
	if (hot_k)
		tm->hot = topk_new(hot_k, TM_HOT_WINDOW_MS);
	tm->hot_k = tm->hot ? hot_k : 0;
	return tm;
}

void telemetry_readiness(telemetry *tm, bool ready, const bool ok[TM_NCHECKS])
{
	if (!tm)
		return;
	metric_set(tm->ready, ready ? 1 : 0);
	for (int i = 0; i < TM_NCHECKS; i++)
		metric_set(tm->ready_check[i], ok[i] ? 1 : 0);
}

void telemetry_budget(telemetry *tm, uint64_t bytes)
{
	if (tm)
		metric_set(tm->budget_bytes, (int64_t)bytes);
}

void telemetry_free(telemetry *tm)
{
	if (!tm)
		return;
	topk_free(tm->hot);
	metrics_free(tm->reg);
	free(tm);
}

void telemetry_request(telemetry *tm, tm_route route, int status, uint64_t t0_ns)
{
	if (!tm || route >= TM_NROUTES)
		return;
	metric_add(tm->requests[route][status_index(status)], 1);
	uint64_t now = clock_mono_ns();
	metric_observe(tm->latency[route], now > t0_ns ? (double)(now - t0_ns) / 1e9 : 0);
}

void telemetry_group_written(telemetry *tm, uint64_t ns)
{
	if (tm)
		metric_observe(tm->commit_latency, (double)ns / 1e9);
}

uint64_t telemetry_refused_ops(const telemetry *tm, tm_refusal why)
{
	return tm && why < TM_NREFUSALS ? metric_value(tm->refused[why]) : 0;
}

void telemetry_refused(telemetry *tm, tm_refusal why, uint64_t n)
{
	if (tm && why < TM_NREFUSALS)
		metric_add(tm->refused[why], n);
}

void telemetry_batch_ops(telemetry *tm, uint32_t nops)
{
	if (tm)
		metric_observe(tm->batch_ops, nops);
}

void telemetry_accepted(telemetry *tm, const char *counter, size_t cl, const char *item, size_t il,
                        uint32_t n, uint64_t now_ms)
{
	if (!tm || !tm->hot || cl > COUNTER_MAX || il > ITEM_MAX)
		return;
	char key[COUNTER_MAX + 1 + ITEM_MAX];
	memcpy(key, counter, cl);
	key[cl] = ' ';
	memcpy(key + cl + 1, item, il);
	topk_add(tm->hot, key, cl + 1 + il, n, now_ms);
}

void telemetry_readthrough(telemetry *tm, double seconds, int ok)
{
	if (!tm)
		return;
	metric_add(tm->rt_requests, 1);
	if (!ok)
		metric_add(tm->rt_failures, 1);
	metric_observe(tm->rt_latency, seconds);
}

size_t telemetry_hot_k(const telemetry *tm)
{
	return tm ? tm->hot_k : 0;
}

size_t telemetry_hot(telemetry *tm, topk_entry *out, size_t max)
{
	if (!tm || !tm->hot)
		return 0;
	return topk_list(tm->hot, clock_mono_ms(), out, max);
}

/* --- memory_bytes ------------------------------------------------------------ */

/* One sample of memory_bytes. */
static void holder(const telemetry *tm, sbuf *out, const char *name, uint64_t bytes)
{
	char labels[64];
	snprintf(labels, sizeof labels, "holder=\"%s\"", name);
	metrics_sample(tm->reg, out, "memory_bytes", labels, (double)bytes);
}

/* The heap each in-memory structure holds, as its owner's holder
 * function says (telemetry_memory_holder), in the order they were
 * registered, and the allocator's free bytes last. */
static void memory_hook(void *ctx, sbuf *out)
{
	telemetry *tm = ctx;
	metrics_family(tm->reg, out, "memory_bytes", METRIC_GAUGE,
	               "Heap bytes an in-memory structure holds now, by holder: estimated from "
	               "its entries and their sizes, tables by the pages written (docs/ops.md); "
	               "store is LevelDB's memtables and block cache, heap_free what the "
	               "allocator held free at the last 30 s stats tick.");
	for (size_t i = 0; i < tm->nmem; i++) {
		uint64_t bytes;
		if (tm->mem[i].bytes(tm->mem[i].ctx, &bytes))
			holder(tm, out, tm->mem[i].holder, bytes);
	}
	holder(tm, out, "heap_free", memtrim_last_free_bytes());
}

void telemetry_memory_holder(telemetry *tm, const char *name,
                             bool (*bytes)(void *ctx, uint64_t *out), void *ctx)
{
	if (!tm)
		return;
	if (tm->nmem == TM_MEM_HOLDERS) {
		/* A programming error: the wiring adds a fixed set. */
		log_error("too many memory holders", "holder=%s", name);
		abort();
	}
	if (tm->nmem == 0)
		metrics_add_hook(tm->reg, memory_hook, tm);
	tm->mem[tm->nmem++] = (tm_mem_holder){name, bytes, ctx};
}
