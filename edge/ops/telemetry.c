/* telemetry.c - the edge's series and render hooks (telemetry.h).
 *
 * Owns the registry, the precreated series and the hot-items sketch; the
 * ledger, store, guard and uplink the hooks read are borrowed. Updates
 * are the registry's relaxed atomics (any thread); hooks run on the
 * thread that renders /metrics and take the ledger's lock once each,
 * but for memory_bytes, which reads atomics only.
 */
#include "edge/ops/telemetry.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "edge/auth/guard.h"
#include "edge/auth/tokcache.h"
#include "edge/http/http.h"
#include "item.h"
#include "edge/ledger/ledger.h"
#include "log.h"
#include "memtrim.h"
#include "partition.h"
#include "store.h"
#include "store_metrics.h"
#include "edge/upstream/uplink.h"
#include "xmem.h"

static const char *const route_names[TM_NROUTES] = {
    "count",   "count_breakdown", "me",      "write", "counts", "ops",
    "healthz", "readyz",          "metrics", "hot",   "other",
};

/* The statuses counted apart; anything else is "other" (the last). */
static const int statuses[TM_NSTATUS - 1] = {200, 204, 304, 400, 401, 403, 404, 405, 408,
                                             409, 413, 422, 429, 431, 500, 502, 503, 504};

static const char *const seal_names[TM_NSEALS] = {"ops", "age", "drain", "clock"};
static const char *const refusal_names[TM_NREFUSALS] = {"budget", "rate", "store",
                                                        "idempotency_conflict"};

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
	for (int i = 0; i < TM_NSEALS; i++) {
		snprintf(labels, sizeof labels, "reason=\"%s\"", seal_names[i]);
		tm->sealed[i] = metrics_counter(m, "batches_sealed_total",
		                                "Batches sealed, by what sealed them.", labels);
	}
	tm->batch_ops = metrics_histogram(m, "batch_ops", "Ops per sealed batch.", NULL,
	                                  batch_bounds, sizeof batch_bounds / sizeof *batch_bounds);
	tm->produce_latency =
	    metrics_histogram(m, "kafka_produce_duration_seconds",
	                      "Time from producing a batch to its delivery report.", NULL,
	                      metrics_latency_bounds, metrics_latency_nbounds);
	tm->produced =
	    metrics_counter(m, "kafka_delivered_total", "Batch messages Kafka acknowledged.", NULL);
	tm->commit_latency = metrics_histogram(
	    m, "store_commit_duration_seconds",
	    "Time of a group commit's store write, from handing its batch to LevelDB to the "
	    "write's end (with store.sync, the fsync too); the wait behind other store writes "
	    "(snapshots, seals) included.",
	    NULL, metrics_latency_bounds, metrics_latency_nbounds);
	tm->produce_errors =
	    metrics_counter(m, "kafka_produce_errors_total",
	                    "Batch messages whose delivery failed (they are sent again).", NULL);
	tm->snapshot_msgs = metrics_counter(m, "snapshots_received_total",
	                                    "Snapshot messages read from Kafka.", NULL);
	tm->snapshots_bad =
	    metrics_counter(m, "snapshots_bad_total", "Snapshots refused whole.", NULL);
	tm->snapshots_dlq = metrics_counter(
	    m, "snapshots_deadlettered_total",
	    "Snapshots refused in whole or in part and copied to the dead-letter topic.", NULL);
	tm->deadletter_failed = metrics_counter(m, "deadletter_failed_total",
	                                        "Dead letters that could not be produced.", NULL);
	tm->rt_requests = metrics_counter(m, "readthrough_requests_total",
	                                  "HTTP requests sent to central's ops API.", NULL);
	tm->rt_counts = metrics_counter(
	    m, "readthrough_counts_total",
	    "Requests to central for counts this edge does not hold (its replica is loading).",
	    NULL);
	tm->rt_failures = metrics_counter(
	    m, "readthrough_failures_total",
	    "Requests to central without a usable answer (errors, timeouts, 5xx).", NULL);
	tm->rt_latency = metrics_histogram(m, "readthrough_duration_seconds",
	                                   "Time from sending a request to central to its end.",
	                                   NULL, metrics_latency_bounds, metrics_latency_nbounds);
	tm->ready = metrics_gauge(m, "ready", "1 while /readyz answers 200, else 0.", NULL);
	static const char *const checks[TM_NCHECKS] = {"store", "kafka", "snapshots", "replica"};
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

void telemetry_refused(telemetry *tm, tm_refusal why, uint64_t n)
{
	if (tm && why < TM_NREFUSALS)
		metric_add(tm->refused[why], n);
}

void telemetry_sealed(telemetry *tm, tm_seal why, uint32_t nops)
{
	if (!tm || why >= TM_NSEALS)
		return;
	metric_add(tm->sealed[why], 1);
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

/* --- render hooks ----------------------------------------------------------- */

static void one(const telemetry *tm, sbuf *out, const char *name, metric_kind kind,
                const char *help, double v)
{
	metrics_family(tm->reg, out, name, kind, help);
	metrics_sample(tm->reg, out, name, NULL, v);
}

static void guard_hook(void *ctx, sbuf *out)
{
	telemetry *tm = ctx;
	metrics_family(tm->reg, out, "refused_total", METRIC_COUNTER,
	               "Requests, streams and connections refused, by reason.");
	char labels[64];
	for (int r = 0; r < GUARD_NREASONS; r++) {
		snprintf(labels, sizeof labels, "reason=\"%s\"",
		         guard_reason_name((guard_reason)r));
		metrics_sample(tm->reg, out, "refused_total", labels,
		               (double)guard_refusals(tm->guard, (guard_reason)r));
	}
	one(tm, out, "guard_evictions_total", METRIC_COUNTER,
	    "Rate-limit entries pushed out while live (the tables are too small).",
	    (double)(tm->guard ? guard_evictions(tm->guard) : 0));
}

static void ledger_hook(void *ctx, sbuf *out)
{
	telemetry *tm = ctx;
	ledger_stats ls;
	ledger_get_stats(tm->lg, &ls);
	const struct {
		const char *name, *help;
		metric_kind kind;
		uint64_t v;
	} s[] = {
	    {"ops_accepted_total", "Write ops recorded that moved a count.", METRIC_COUNTER,
	     ls.ops_accepted},
	    {"ops_duplicate_total", "Write ops recorded that repeated the known state.",
	     METRIC_COUNTER, ls.ops_duplicate},
	    {"ops_replayed_total", "Writes answered from an idempotency record.", METRIC_COUNTER,
	     ls.ops_replayed},
	    {"pending_ops", "Ops in open (unsealed) batches.", METRIC_GAUGE, ls.pending_ops},
	    {"pending_bytes", "Bytes of ops and batches central has not applied.", METRIC_GAUGE,
	     ls.pending_bytes},
	    {"pending_batches", "Sealed batches central has not applied yet (sent or not).",
	     METRIC_GAUGE, ls.pending_batches},
	    {"batches_sent_total", "Batch produce calls, resends included.", METRIC_COUNTER,
	     ls.batches_sent},
	    {"batches_resent_total", "Batches sent again.", METRIC_COUNTER, ls.batches_resent},
	    {"batches_applied_total", "Batches a snapshot showed applied at central.",
	     METRIC_COUNTER, ls.batches_applied},
	    {"snapshots_applied_total", "Snapshots taken in.", METRIC_COUNTER,
	     ls.snapshots_applied},
	    {"snapshots_stale_total", "Snapshots older than what the edge had (skipped).",
	     METRIC_COUNTER, ls.snapshots_stale},
	    {"readthrough_kept_total",
	     "Counts read through from central that snapshots caught up with and that are now "
	     "kept.",
	     METRIC_COUNTER, ls.readthrough_kept},
	    {"store_commits_total", "Store writes of staged ops (group commits).", METRIC_COUNTER,
	     ls.commits},
	    {"store_commits_failed_total", "Of those, the ones that failed.", METRIC_COUNTER,
	     ls.commits_failed},
	    {"member_reads_total", "Membership lookups in the store.", METRIC_COUNTER,
	     ls.member_reads},
	    {"member_reads_skipped_total",
	     "Membership lookups the filter answered (never recorded) without the store.",
	     METRIC_COUNTER, ls.member_reads_skipped},
	    {"stage_fresh_total",
	     "Ops staged with the membership and count read before the writer lock.",
	     METRIC_COUNTER, ls.stage_fresh},
	    {"stage_reread_total",
	     "Ops whose membership and count were read again under the writer lock, as a group "
	     "committed meanwhile.",
	     METRIC_COUNTER, ls.stage_reread},
	};
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
		one(tm, out, s[i].name, s[i].kind, s[i].help, (double)s[i].v);
	metrics_family(tm->reg, out, "cache_hits_total", METRIC_COUNTER,
	               "Cache lookups answered from memory, by cache (snapshots: the snapshot "
	               "counts, cache.entries).");
	metrics_sample(tm->reg, out, "cache_hits_total", "cache=\"snapshots\"",
	               (double)ls.cache_hits);
	metrics_family(tm->reg, out, "cache_misses_total", METRIC_COUNTER,
	               "Cache lookups that went to the store, by cache.");
	metrics_sample(tm->reg, out, "cache_misses_total", "cache=\"snapshots\"",
	               (double)ls.cache_misses);
	metrics_family(
	    tm->reg, out, "ledger_serial_seconds_total", METRIC_COUNTER,
	    "Time spent where one thread at a time can be, summed over threads, by "
	    "section (writer_lock, view_lock: every view stripe's together, commit_write): "
	    "over CPU seconds, the serial fraction that bounds the speed-up of more "
	    "workers.");
	metrics_sample(tm->reg, out, "ledger_serial_seconds_total", "section=\"writer_lock\"",
	               (double)ls.writer_lock_ns / 1e9);
	metrics_sample(tm->reg, out, "ledger_serial_seconds_total", "section=\"view_lock\"",
	               (double)ls.view_lock_ns / 1e9);
	metrics_sample(tm->reg, out, "ledger_serial_seconds_total", "section=\"commit_write\"",
	               (double)ls.commit_write_ns / 1e9);
	metrics_family(tm->reg, out, "ledger_view_stripe_seconds_total", METRIC_COUNTER,
	               "Time a view stripe's lock was held, without the writer lock, by stripe: "
	               "view_lock's part that only the threads reading or writing the stripe's "
	               "partitions share (partition p is in stripe p mod the stripes).");
	for (uint32_t i = 0; i < ls.view_stripes && i < LEDGER_VIEW_STRIPES; i++) {
		char lbl[24];
		snprintf(lbl, sizeof lbl, "stripe=\"%u\"", i);
		metrics_sample(tm->reg, out, "ledger_view_stripe_seconds_total", lbl,
		               (double)ls.view_stripe_ns[i] / 1e9);
	}
	one(tm, out, "ledger_commit_write_cpu_seconds_total", METRIC_COUNTER,
	    "The commit thread's CPU time in group writes and the building of their records: "
	    "commit_write's time without the wait for an fsync.",
	    (double)ls.commit_write_cpu_ns / 1e9);
	one(tm, out, "ledger_seal_write_cpu_seconds_total", METRIC_COUNTER,
	    "CPU time of seals' encoding and store writes, made outside the writer lock but one "
	    "seal at a time.",
	    (double)ls.seal_write_cpu_ns / 1e9);
	uint64_t loaded;
	uint32_t complete = ledger_replica_ready(tm->lg, &loaded);
	one(tm, out, "replica_partitions_complete", METRIC_GAUGE,
	    "Partitions whose replica of counts is complete (every count central has is here).",
	    (double)complete);
	one(tm, out, "replica_counts_loaded", METRIC_GAUGE,
	    "Counts the current or last checkpoint load of each partition brought, summed.",
	    (double)loaded);

	ledger_part_info parts[PARTITION_MAX];
	size_t np = ledger_get_parts(tm->lg, parts, PARTITION_MAX);
	one(tm, out, "partitions", METRIC_GAUGE,
	    "Partitions of the deployment (topics.partitions): what "
	    "replica_partitions_complete reaches once the replica is complete.",
	    (double)np);
	uint64_t now = clock_wall_ms();
	char labels[48];
	metrics_family(tm->reg, out, "snapshot_age_seconds", METRIC_GAUGE,
	               "Seconds since central made the newest snapshot applied here, by "
	               "partition (none before the first).");
	for (size_t p = 0; p < np; p++) {
		if (!parts[p].as_of)
			continue;
		snprintf(labels, sizeof labels, "partition=\"%zu\"", p);
		double age = now > parts[p].as_of ? (double)(now - parts[p].as_of) / 1000.0 : 0;
		metrics_sample(tm->reg, out, "snapshot_age_seconds", labels, age);
	}
	metrics_family(tm->reg, out, "snapshot_next_offset", METRIC_GAUGE,
	               "The snapshot-topic offset this edge resumes from, by partition, as "
	               "stored with the snapshots' effects (none before the first).");
	for (size_t p = 0; p < np; p++) {
		int64_t off;
		if (ledger_snapshot_resume(tm->lg, (uint32_t)p, &off))
			continue;
		snprintf(labels, sizeof labels, "partition=\"%zu\"", p);
		metrics_sample(tm->reg, out, "snapshot_next_offset", labels, (double)off);
	}
	metrics_family(tm->reg, out, "snapshot_version", METRIC_GAUGE,
	               "The version (central's input epoch and offset) the newest applied "
	               "snapshot reflects, by partition.");
	for (size_t p = 0; p < np; p++) {
		if (!parts[p].as_of)
			continue;
		snprintf(labels, sizeof labels, "partition=\"%zu\"", p);
		metrics_sample(tm->reg, out, "snapshot_version", labels, (double)parts[p].version);
	}
}

static void uplink_hook(void *ctx, sbuf *out)
{
	telemetry *tm = ctx;
	one(tm, out, "kafka_inflight_messages", METRIC_GAUGE,
	    "Messages in the producer's queue, not yet acknowledged by Kafka.",
	    (double)uplink_outq_len(tm->up));
	kcommit_stats ks;
	uplink_commit_stats(tm->up, &ks);
	one(tm, out, "kafka_offset_commits_total", METRIC_COUNTER,
	    "Requests committing the stored snapshot positions to the group likes-edge-ID (for "
	    "Kafka's lag tools).",
	    (double)ks.sent);
	one(tm, out, "kafka_offset_commit_errors_total", METRIC_COUNTER,
	    "Of those, refused in whole or in part, or timed out (positions stay in the store).",
	    (double)ks.failed);
}

/* One sample of memory_bytes. */
static void holder(const telemetry *tm, sbuf *out, const char *name, uint64_t bytes)
{
	char labels[64];
	snprintf(labels, sizeof labels, "holder=\"%s\"", name);
	metrics_sample(tm->reg, out, "memory_bytes", labels, (double)bytes);
}

/* The heap each in-memory structure holds, from what its owner keeps:
 * atomics, and LevelDB's figure. */
static void memory_hook(void *ctx, sbuf *out)
{
	telemetry *tm = ctx;
	metrics_family(tm->reg, out, "memory_bytes", METRIC_GAUGE,
	               "Heap bytes an in-memory structure holds now, by holder: estimated from "
	               "its entries and their sizes, tables by the pages written (docs/ops.md); "
	               "store is LevelDB's memtables and block cache, heap_free what the "
	               "allocator held free at the last 30 s stats tick.");
	if (tm->lg) {
		ledger_memory lm;
		ledger_get_memory(tm->lg, &lm);
		holder(tm, out, "count_cache", lm.count_cache);
		holder(tm, out, "readthrough_counts", lm.readthrough);
		holder(tm, out, "overlay", lm.overlay);
		holder(tm, out, "member_filter", lm.member_filter);
		holder(tm, out, "outbox", lm.outbox);
	}
	for (size_t i = 0; i < tm->nmem; i++)
		holder(tm, out, tm->mem[i].holder, tm->mem[i].bytes(tm->mem[i].ctx));
	holder(tm, out, "token_cache", tokcache_total_bytes());
	if (tm->guard)
		holder(tm, out, "guard", guard_bytes(tm->guard));
	double store_bytes;
	if (tm->db && store_metrics_memory(tm->db, &store_bytes))
		holder(tm, out, "store", (uint64_t)store_bytes);
	holder(tm, out, "heap_free", memtrim_last_free_bytes());
}

void telemetry_memory_holder(telemetry *tm, const char *name, uint64_t (*bytes)(void *ctx),
                             void *ctx)
{
	if (!tm)
		return;
	if (tm->nmem == TM_MEM_HOLDERS) {
		/* A programming error: the wiring adds a fixed set. */
		log_error("too many memory holders", "holder=%s", name);
		abort();
	}
	tm->mem[tm->nmem++] = (tm_mem_holder){name, bytes, ctx};
}

void telemetry_attach(telemetry *tm, struct guard *g, struct ledger *lg, struct store *db,
                      struct uplink *up)
{
	if (!tm)
		return;
	tm->guard = g;
	tm->lg = lg;
	tm->db = db;
	tm->up = up;
	metrics_add_hook(tm->reg, guard_hook, tm);
	if (lg)
		metrics_add_hook(tm->reg, ledger_hook, tm);
	if (up)
		metrics_add_hook(tm->reg, uplink_hook, tm);
	if (db)
		store_metrics_add(tm->reg, db);
	metrics_add_hook(tm->reg, memory_hook, tm);
}

static void tls_hook(void *ctx, sbuf *out)
{
	telemetry *tm = ctx;
	double t;
	if (http_tls_store_not_after(tm->tls, &t))
		one(tm, out, "tls_cert_expiry_timestamp_seconds", METRIC_GAUGE,
		    "When the certificate new TLS connections get expires (its notAfter), in "
		    "Unix seconds; it follows a reload (SIGHUP).",
		    t);
}

void telemetry_attach_tls(telemetry *tm, struct http_tls_store *ts)
{
	if (!tm || !ts)
		return;
	tm->tls = ts;
	metrics_add_hook(tm->reg, tls_hook, tm);
}
