/* cmetrics.c - central's metrics registry, instruments and hot items
 * (cmetrics.h).
 *
 * Owns the registry, the hot-items sketch and the per-partition atomics
 * the hooks read (lag high-water mark, last snapshot delivery). The
 * applier's instruments run on the run loop: an op that moved a count
 * costs a compare with the previous op's key and, when it differs, one
 * topk_add (a mutex nobody else holds for long); runs of ops on the same
 * count are summed first. Hooks and the hot list run on any thread and
 * only read atomics, LevelDB and the sketch (its own mutex); none walks
 * a structure to size it (memory_bytes reads what the owners keep).
 */
#include "central/ops/cmetrics.h"
#include "central/apply/shard.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "kcommit.h"
#include "log.h"
#include "memtrim.h"
#include "store_metrics.h"
#include "wire.h"
#include "xmem.h"

/* The reasons op_invalid gives (apply_ops.c), then a catch-all. */
static const char *const invalid_reasons[] = {
    "unknown_counter", "bad_item",           "bad_user", "set_n_not_1",
    "remove_on_sum",   "sum_n_out_of_range", "other"};
#define NREASONS (sizeof invalid_reasons / sizeof invalid_reasons[0])

struct cmetrics {
	metrics *reg;
	cmetrics_opts o;
	applier_obs obs;
	/* series fed directly */
	metric *apply_duration, *store_write_duration, *produce_duration;
	metric *snap_counts, *snap_delivered;
	metric *ready, *ready_check[3];          /* /readyz: overall; store, kafka, lag */
	metric *ops_by_counter[COUNTERS_MAX][2]; /* [counter][0 add, 1 remove] */
	metric *invalid_by_reason[NREASONS];
	/* per partition, read by hooks */
	_Atomic int64_t *lag_max;     /* -1 until a lag was seen */
	_Atomic uint64_t *snap_ok_ms; /* mono ms of the last delivered snapshot, 0 none */
	/* hot items */
	topk *hot;
	uint64_t window_ms;
	size_t hot_k;
	uint64_t now_ms; /* of the message being applied, 0 outside one */
	char pend[TOPK_KEY_MAX];
	size_t pend_len;
	uint64_t pend_n;
};

/* ---- instruments --------------------------------------------------------- */

static void hot_flush(cmetrics *cm)
{
	if (!cm->pend_n)
		return;
	topk_add(cm->hot, cm->pend, cm->pend_len, cm->pend_n,
	         cm->now_ms ? cm->now_ms : clock_mono_ms());
	cm->pend_n = 0;
}

static void on_op(void *ctx, const counter_def *def, const wire_op *op, uint64_t moved)
{
	cmetrics *cm = ctx;
	size_t ci = (size_t)(def - cm->o.ctr->defs);
	if (ci < COUNTERS_MAX)
		metric_add(cm->ops_by_counter[ci][op->kind == WIRE_REMOVE], 1);
	if (!moved)
		return;
	/* The key "counter item": both validated, so the space is unique. */
	char key[TOPK_KEY_MAX];
	size_t cn = op->counter.n, in = op->item.n;
	if (cn + 1 + in > sizeof key)
		in = sizeof key - 1 - cn; /* cannot happen with the name limits */
	memcpy(key, op->counter.p, cn);
	key[cn] = ' ';
	memcpy(key + cn + 1, op->item.p, in);
	size_t kn = cn + 1 + in;
	if (cm->pend_n && kn == cm->pend_len && memcmp(key, cm->pend, kn) == 0) {
		cm->pend_n += moved;
		return;
	}
	hot_flush(cm);
	memcpy(cm->pend, key, kn);
	cm->pend_len = kn;
	cm->pend_n = moved;
}

static void on_invalid(void *ctx, const char *why)
{
	cmetrics *cm = ctx;
	size_t i = 0;
	while (i + 1 < NREASONS && (!why || strcmp(why, invalid_reasons[i]) != 0))
		i++;
	metric_add(cm->invalid_by_reason[i], 1);
}

static void on_store_write(void *ctx, uint64_t ns)
{
	cmetrics *cm = ctx;
	metric_observe(cm->store_write_duration, (double)ns / 1e9);
}

void cmetrics_feed(cmetrics *cm, applier *ap)
{
	applier_set_obs(ap, &cm->obs);
}

/* The applier's observer, around each message it applies. */
static void on_begin(void *ctx)
{
	cmetrics *cm = ctx;
	cm->now_ms = clock_mono_ms();
}

static void on_end(void *ctx, uint64_t ns)
{
	cmetrics *cm = ctx;
	uint64_t t0 = clock_mono_ns();
	hot_flush(cm);
	cm->now_ms = 0;
	/* The message's hot-item adds are part of its apply time, as they
	 * were when the run loop timed the whole call. */
	metric_observe(cm->apply_duration, (double)(ns + clock_mono_ns() - t0) / 1e9);
}

void cmetrics_snapshot_queued(cmetrics *cm, uint32_t p, size_t ncounts)
{
	(void)p;
	metric_add(cm->snap_counts, ncounts);
}

void cmetrics_snapshot_delivered(cmetrics *cm, int32_t p, bool ok, int64_t latency_us)
{
	if (!ok)
		return; /* counted in kafka_produce_errors_total by the run loop */
	metric_add(cm->snap_delivered, 1);
	if (latency_us >= 0)
		metric_observe(cm->produce_duration, (double)latency_us / 1e6);
	if (p >= 0 && (uint32_t)p < cm->o.partitions)
		atomic_store_explicit(&cm->snap_ok_ms[p], clock_mono_ms(), memory_order_relaxed);
}

/* Partition p's lag: the high watermark less the next offset, or -1
 * when the watermark is unknown. */
static int64_t lag_of(const cmetrics *cm, uint32_t p)
{
	if (!cm->o.run || !cm->o.run->input_high || !cm->o.ap)
		return -1;
	int64_t high = atomic_load_explicit(&cm->o.run->input_high[p], memory_order_relaxed);
	if (high < 0)
		return -1;
	int64_t next = applier_input_offset(cm->o.ap, p);
	int64_t lag = high - (next < 0 ? 0 : next);
	return lag < 0 ? 0 : lag; /* a watermark older than the offset */
}

void cmetrics_note_lag(cmetrics *cm)
{
	for (uint32_t p = 0; p < cm->o.partitions; p++) {
		if (!shard_owns(cm->o.owned, p))
			continue;
		int64_t lag = lag_of(cm, p);
		if (lag > atomic_load_explicit(&cm->lag_max[p], memory_order_relaxed))
			atomic_store_explicit(&cm->lag_max[p], lag, memory_order_relaxed);
	}
}

/* ---- render hooks -------------------------------------------------------- */

/* One counter of applier_stats rendered as a family of its own. */
typedef struct stat_family {
	const char *name, *help;
	size_t off; /* in applier_stats */
} stat_family;

#define STAT_FAMILY(f, n, h)                                                                       \
	{                                                                                          \
		n, h, offsetof(applier_stats, f)                                                   \
	}
static const stat_family applier_families[] = {
    STAT_FAMILY(batches_applied, "batches_applied_total",
                "Batches applied in order, held ones included."),
    STAT_FAMILY(batches_duplicate, "batches_duplicate_total",
                "Batches skipped because their sequence was already applied."),
    STAT_FAMILY(batches_held, "batches_held_total", "Batches stored to wait for a gap to fill."),
    STAT_FAMILY(batches_bad, "batches_bad_total",
                "Messages skipped as undecodable or with a bad header."),
    STAT_FAMILY(batches_deadlettered, "batches_deadlettered_total",
                "Messages refused in whole or in part and quarantined (dead-letter topic)."),
    STAT_FAMILY(deadletter_failed, "deadletter_failed_total",
                "Quarantined messages that did not reach the dead-letter topic."),
    STAT_FAMILY(store_writes, "store_writes_total",
                "Atomic store writes of applied input (one per consumed message)."),
    STAT_FAMILY(numbers_clamped, "numbers_clamped_total",
                "Counts or buckets an op would have taken below 0 (or past the top), held there: "
                "the stored numbers disagree with the memberships (central verify)."),
    STAT_FAMILY(feed_events, "feed_events_total",
                "Change feed events (changes and milestones) stored with the changes that made "
                "them, to be published (docs/events.md)."),
    STAT_FAMILY(home_unrouted, "home_unrouted_total",
                "Membership changes of users at home in a region that feed.home_regions does not "
                "name, made in another: sent to no home stream (docs/events.md)."),
    STAT_FAMILY(moves_applied, "home_moves_applied_total",
                "Move messages that moved a user's memberships of their partition to a new home "
                "region (one per partition per move)."),
    STAT_FAMILY(moves_stale, "home_moves_stale_total",
                "Move messages no later than the user's last move in their partition: nothing "
                "done (a repeat)."),
    STAT_FAMILY(moves_bad, "home_moves_bad_total",
                "Move messages refused and quarantined (undecodable, bad user or region, or "
                "another partition's)."),
    STAT_FAMILY(handovers_applied, "handovers_applied_total",
                "Hand-overs that moved an edge's fence in a partition (a takeover of its "
                "changelog)."),
    STAT_FAMILY(batches_fenced, "batches_fenced_total",
                "Batches skipped because their sender's writer time is before its edge's "
                "fence: sent by an instance after another took over from it."),
    STAT_FAMILY(moved_pairs, "home_moved_pairs_total",
                "Memberships moves took to a new home region's index (and stream)."),
    STAT_FAMILY(days_thinned, "home_day_keys_thinned_total",
                "Day keys of the home index deleted by the sweep: every key of an item after "
                "its oldest in a region's partition, which nothing reads."),
    STAT_FAMILY(thin_rounds, "home_day_key_sweeps_total",
                "Rounds of the home index's day key sweep done (one an hour)."),
};

static void counter_family(const metrics *reg, sbuf *out, const char *name, const char *help,
                           uint64_t v)
{
	metrics_family(reg, out, name, METRIC_COUNTER, help);
	metrics_sample(reg, out, name, NULL, (double)v);
}

/* The applier's and the run loop's counters, and the applier's caches. */
static void hook_counters(void *ctx, sbuf *out)
{
	cmetrics *cm = ctx;
	if (cm->o.ap) {
		applier_stats st;
		applier_get_stats(cm->o.ap, &st);
		for (size_t i = 0; i < sizeof applier_families / sizeof applier_families[0]; i++) {
			const stat_family *l = &applier_families[i];
			uint64_t v;
			memcpy(&v, (const char *)&st + l->off, sizeof v);
			counter_family(cm->reg, out, l->name, l->help, v);
		}
		metrics_family(cm->reg, out, "cache_hits_total", METRIC_COUNTER,
		               "Applier cache lookups answered from memory: cache=counts (counts "
		               "and their region/day buckets) or members (memberships).");
		metrics_sample(cm->reg, out, "cache_hits_total", "cache=\"counts\"",
		               (double)st.count_cache_hits);
		metrics_sample(cm->reg, out, "cache_hits_total", "cache=\"members\"",
		               (double)st.member_cache_hits);
		metrics_family(cm->reg, out, "cache_misses_total", METRIC_COUNTER,
		               "Applier cache lookups that went to LevelDB, by cache.");
		metrics_sample(cm->reg, out, "cache_misses_total", "cache=\"counts\"",
		               (double)st.count_cache_misses);
		metrics_sample(cm->reg, out, "cache_misses_total", "cache=\"members\"",
		               (double)st.member_cache_misses);
	}
	if (cm->o.run) {
		const ops_run_stats *rs = cm->o.run;
		counter_family(cm->reg, out, "snapshots_sent_total",
		               "Snapshot messages handed to Kafka.",
		               atomic_load(&rs->snapshot_messages));
		counter_family(cm->reg, out, "kafka_produce_errors_total",
		               "Snapshot messages not queued or not delivered (their counts go "
		               "again).",
		               atomic_load(&rs->snapshot_errors));
		counter_family(cm->reg, out, "input_offset_resets_total",
		               "Input offsets found out of range (the broker dropped unread "
		               "batches).",
		               atomic_load(&rs->offset_resets));
		kcommit_stats ks;
		kcommit_get_stats(rs->commits, &ks);
		counter_family(cm->reg, out, "kafka_offset_commits_total",
		               "Requests committing the stored input positions to the group "
		               "likes-central-ID (for Kafka's lag tools).",
		               ks.sent);
		counter_family(cm->reg, out, "kafka_offset_commit_errors_total",
		               "Of those, refused in whole or in part, or timed out (positions "
		               "stay in the store; consuming goes on).",
		               ks.failed);
	}
}

static void partition_label(char *buf, size_t cap, uint32_t p)
{
	snprintf(buf, cap, "partition=\"%u\"", p);
}

/* Per partition: offsets, held batches, lag and its maximum, snapshot age. */
static void hook_partitions(void *ctx, sbuf *out)
{
	cmetrics *cm = ctx;
	const metrics *reg = cm->reg;
	char lb[32];
	if (cm->o.ap) {
		metrics_family(reg, out, "input_next_offset", METRIC_GAUGE,
		               "Next batch-topic offset per partition (0 before any).");
		for (uint32_t p = 0; p < cm->o.partitions; p++) {
			if (!shard_owns(cm->o.owned, p))
				continue;
			int64_t off = applier_input_offset(cm->o.ap, p);
			partition_label(lb, sizeof lb, p);
			metrics_sample(reg, out, "input_next_offset", lb,
			               (double)(off < 0 ? 0 : off));
		}
		metrics_family(reg, out, "held_batches", METRIC_GAUGE,
		               "Batches waiting for a gap to fill, per partition.");
		for (uint32_t p = 0; p < cm->o.partitions; p++) {
			if (!shard_owns(cm->o.owned, p))
				continue;
			partition_label(lb, sizeof lb, p);
			metrics_sample(reg, out, "held_batches", lb,
			               (double)applier_held_batches(cm->o.ap, p));
		}
	}
	if (cm->o.ap && cm->o.run && cm->o.run->input_high) {
		metrics_family(reg, out, "input_high_watermark", METRIC_GAUGE,
		               "The broker's high watermark of each batch-topic partition as "
		               "central last saw it (absent until known).");
		for (uint32_t p = 0; p < cm->o.partitions; p++) {
			if (!shard_owns(cm->o.owned, p))
				continue;
			int64_t high =
			    atomic_load_explicit(&cm->o.run->input_high[p], memory_order_relaxed);
			partition_label(lb, sizeof lb, p);
			if (high >= 0)
				metrics_sample(reg, out, "input_high_watermark", lb, (double)high);
		}
		metrics_family(reg, out, "consumer_lag", METRIC_GAUGE,
		               "Batch-topic messages not yet applied per partition: high watermark "
		               "less the next offset (absent until the watermark is known).");
		for (uint32_t p = 0; p < cm->o.partitions; p++) {
			if (!shard_owns(cm->o.owned, p))
				continue;
			int64_t lag = lag_of(cm, p);
			partition_label(lb, sizeof lb, p);
			if (lag >= 0)
				metrics_sample(reg, out, "consumer_lag", lb, (double)lag);
		}
		metrics_family(reg, out, "consumer_lag_max", METRIC_GAUGE,
		               "Largest consumer_lag seen per partition since start: at start-up "
		               "(watermarks asked of the broker before consuming) and at every "
		               "snapshot tick.");
		for (uint32_t p = 0; p < cm->o.partitions; p++) {
			if (!shard_owns(cm->o.owned, p))
				continue;
			int64_t m = atomic_load_explicit(&cm->lag_max[p], memory_order_relaxed);
			partition_label(lb, sizeof lb, p);
			if (m >= 0)
				metrics_sample(reg, out, "consumer_lag_max", lb, (double)m);
		}
	}
	metrics_family(reg, out, "snapshot_age_seconds", METRIC_GAUGE,
	               "Seconds since the last snapshot of each partition was delivered "
	               "(absent before the first).");
	uint64_t now = clock_mono_ms();
	for (uint32_t p = 0; p < cm->o.partitions; p++) {
		if (!shard_owns(cm->o.owned, p))
			continue;
		uint64_t t = atomic_load_explicit(&cm->snap_ok_ms[p], memory_order_relaxed);
		partition_label(lb, sizeof lb, p);
		if (t)
			metrics_sample(reg, out, "snapshot_age_seconds", lb,
			               (double)(now > t ? now - t : 0) / 1000.0);
	}
}

uint64_t cmetrics_store_bytes(const char *data_dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/store", data_dir);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	uint64_t sum = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char f[4096 + 256 + 2];
		struct stat st;
		snprintf(f, sizeof f, "%s/%s", path, e->d_name);
		if (stat(f, &st) == 0 && S_ISREG(st.st_mode))
			sum += (uint64_t)st.st_size;
	}
	closedir(d);
	return sum;
}

/* The bytes of the store's files (LevelDB's own figures: store_metrics.h). */
static void hook_store(void *ctx, sbuf *out)
{
	cmetrics *cm = ctx;
	const metrics *reg = cm->reg;
	if (cm->o.data_dir) {
		metrics_family(reg, out, "store_disk_bytes", METRIC_GAUGE,
		               "Bytes in the store's files on disk.");
		metrics_sample(reg, out, "store_disk_bytes", NULL,
		               (double)cmetrics_store_bytes(cm->o.data_dir));
	}
}

/* The heap each in-memory structure holds: atomics the applier's thread
 * and memtrim keep, and LevelDB's figure. */
static void hook_memory(void *ctx, sbuf *out)
{
	cmetrics *cm = ctx;
	const metrics *reg = cm->reg;
	metrics_family(reg, out, "memory_bytes", METRIC_GAUGE,
	               "Heap bytes an in-memory structure holds now, by holder: estimated from "
	               "its entries and their sizes (docs/ops.md); store is LevelDB's memtables "
	               "and block cache, heap_free what the allocator held free at the last 30 s "
	               "stats tick.");
	if (cm->o.ap) {
		applier_memory am;
		applier_get_memory(cm->o.ap, &am);
		const struct {
			const char *holder;
			uint64_t bytes;
		} h[] = {{"count_cache", am.count_cache},
		         {"member_cache", am.member_cache},
		         {"working_set", am.working_set},
		         {"snapshot_changes", am.snapshot_changes},
		         {"moved_users", am.moved_users}};
		for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
			char lb[48];
			snprintf(lb, sizeof lb, "holder=\"%s\"", h[i].holder);
			metrics_sample(reg, out, "memory_bytes", lb, (double)h[i].bytes);
		}
	}
	double store_bytes;
	if (cm->o.db && store_metrics_memory(cm->o.db, &store_bytes))
		metrics_sample(reg, out, "memory_bytes", "holder=\"store\"", store_bytes);
	metrics_sample(reg, out, "memory_bytes", "holder=\"heap_free\"",
	               (double)memtrim_last_free_bytes());
}

/* ---- life cycle ---------------------------------------------------------- */

static void register_series(cmetrics *cm)
{
	metrics *reg = cm->reg;
	cm->apply_duration = metrics_histogram(
	    reg, "apply_duration_seconds",
	    "Time to apply one batch-topic message, from its poll to its store write done; "
	    "its _count rate is the messages applied per second.",
	    NULL, metrics_latency_bounds, metrics_latency_nbounds);
	cm->store_write_duration =
	    metrics_histogram(reg, "store_write_duration_seconds",
	                      "Time of one atomic LevelDB write of applied input.", NULL,
	                      metrics_latency_bounds, metrics_latency_nbounds);
	for (size_t i = 0; i < cm->o.ctr->n && i < COUNTERS_MAX; i++) {
		const counter_def *d = &cm->o.ctr->defs[i];
		bool set = d->kind == COUNTER_SET;
		for (int k = 0; k < (set ? 2 : 1); k++) {
			char lb[COUNTER_MAX + 64];
			snprintf(lb, sizeof lb, "counter=\"%s\",kind=\"%s\",op=\"%s\"", d->name,
			         set ? "set" : "sum", k ? "remove" : "add");
			cm->ops_by_counter[i][k] = metrics_counter(
			    reg, "ops_applied_total",
			    "Valid ops merged or summed (an op that loses LWW included), by "
			    "counter, its kind (set or sum) and the op (add or remove).",
			    lb);
		}
		if (!set) /* a remove on a sum counter is invalid: never applied */
			cm->ops_by_counter[i][1] = cm->ops_by_counter[i][0];
	}
	for (size_t i = 0; i < NREASONS; i++) {
		char lb[64];
		snprintf(lb, sizeof lb, "reason=\"%s\"", invalid_reasons[i]);
		cm->invalid_by_reason[i] = metrics_counter(
		    reg, "ops_invalid_total",
		    "Ops skipped as invalid while the rest of their batch applied, by reason.", lb);
	}
	cm->snap_counts =
	    metrics_counter(reg, "snapshot_counts_total",
	                    "Counts carried by the snapshot messages handed to Kafka.", NULL);
	cm->snap_delivered = metrics_counter(
	    reg, "kafka_delivered_total",
	    "Snapshot messages the broker acknowledged (delivery report without error).", NULL);
	cm->produce_duration = metrics_histogram(
	    reg, "kafka_produce_duration_seconds",
	    "Time from handing a snapshot message to Kafka to its delivery report.", NULL,
	    metrics_latency_bounds, metrics_latency_nbounds);
}

metrics *cmetrics_registry(cmetrics *cm)
{
	return cm->reg;
}

cmetrics *cmetrics_new(const cmetrics_opts *o)
{
	cmetrics *cm = xcalloc(1, sizeof *cm);
	cm->o = *o;
	cm->reg = metrics_new("likes_central_");
	metrics_add_process(cm->reg);
	cm->hot_k = o->hot_k ? o->hot_k : CMETRICS_HOT_DEFAULT;
	cm->window_ms = o->hot_window_ms ? o->hot_window_ms : CMETRICS_HOT_WINDOW_MS;
	cm->hot = topk_new(cm->hot_k, cm->window_ms);
	size_t np = o->partitions ? o->partitions : 1;
	cm->lag_max = xcalloc(np, sizeof *cm->lag_max);
	cm->snap_ok_ms = xcalloc(np, sizeof *cm->snap_ok_ms);
	for (size_t p = 0; p < np; p++) {
		atomic_init(&cm->lag_max[p], -1);
		atomic_init(&cm->snap_ok_ms[p], 0);
	}
	cm->obs = (applier_obs){.ctx = cm,
	                        .op = on_op,
	                        .invalid = on_invalid,
	                        .store_write = on_store_write,
	                        .begin = on_begin,
	                        .end = on_end};
	register_series(cm);
	cm->ready = metrics_gauge(cm->reg, "ready", "1 while /readyz answers 200, else 0.", NULL);
	static const char *const checks[3] = {"store", "kafka", "lag"};
	for (int i = 0; i < 3; i++) {
		char lb[32];
		snprintf(lb, sizeof lb, "check=\"%s\"", checks[i]);
		cm->ready_check[i] = metrics_gauge(
		    cm->reg, "ready_check", "1 while this /readyz check passes, else 0.", lb);
	}
	metrics_add_hook(cm->reg, hook_counters, cm);
	metrics_add_hook(cm->reg, hook_partitions, cm);
	metrics_add_hook(cm->reg, hook_store, cm);
	if (o->db)
		store_metrics_add(cm->reg, o->db);
	metrics_add_hook(cm->reg, hook_memory, cm);
	return cm;
}

void cmetrics_free(cmetrics *cm)
{
	if (!cm)
		return;
	metrics_free(cm->reg);
	topk_free(cm->hot);
	free((void *)cm->lag_max);
	free((void *)cm->snap_ok_ms);
	free(cm);
}

void cmetrics_render(cmetrics *cm, sbuf *out)
{
	metrics_render(cm->reg, out);
}

size_t cmetrics_hot(cmetrics *cm, topk_entry *out, size_t max)
{
	return max ? topk_list(cm->hot, clock_mono_ms(), out, max) : 0;
}

void cmetrics_readiness(cmetrics *cm, bool store_ok, bool kafka, bool lag)
{
	metric_set(cm->ready, store_ok && kafka && lag ? 1 : 0);
	metric_set(cm->ready_check[0], store_ok ? 1 : 0);
	metric_set(cm->ready_check[1], kafka ? 1 : 0);
	metric_set(cm->ready_check[2], lag ? 1 : 0);
}

size_t cmetrics_hot_k(const cmetrics *cm)
{
	return cm->hot_k;
}

uint64_t cmetrics_hot_window_ms(const cmetrics *cm)
{
	return cm->window_ms;
}
