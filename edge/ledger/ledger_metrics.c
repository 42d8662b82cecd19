/* ledger_metrics.c - the ledger's scrape-time figures on the edge's
 * registry (ledger_metrics_add) and its structures among the memory
 * holders (ledger_memory_holders): counters and gauges from
 * ledger_get_stats, the replica's progress, and per partition the
 * snapshot's age, version and resume offset, read at each render.
 *
 * Start-up registers; the hooks run on the thread that renders /metrics
 * and take the ledger's locks as ledger_get_stats and ledger_get_parts
 * do (once each); the memory holders read atomics only.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "clock.h"
#include "edge/ledger/ledger.h"
#include "edge/telemetry/telemetry.h"
#include "metrics.h"
#include "partition.h"

static void render(const metrics *m, void *obj, sbuf *out)
{
	ledger *lg = obj;
	ledger_stats ls;
	ledger_get_stats(lg, &ls);
	const metrics_row s[] = {
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
	    {"members_dropped_total",
	     "Memberships dropped by retention (store.member_keep_s); pairs of items whose likes "
	     "were dropped are read through.",
	     METRIC_COUNTER, ls.members_dropped},
	    {"member_sweeps_total", "Passes of the retention over every membership.",
	     METRIC_COUNTER, ls.member_sweeps},
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
	metrics_singles(m, out, s, sizeof s / sizeof s[0]);
	metrics_family(m, out, "batches_sealed_total", METRIC_COUNTER,
	               "Batches sealed, by what sealed them.");
	for (int i = 0; i < LEDGER_NSEALS; i++) {
		char reason[32];
		snprintf(reason, sizeof reason, "reason=\"%s\"", ledger_seal_name(i));
		metrics_sample(m, out, "batches_sealed_total", reason, (double)ls.sealed_by[i]);
	}
	metrics_family(m, out, "cache_hits_total", METRIC_COUNTER,
	               "Cache lookups answered from memory, by cache (snapshots: the snapshot "
	               "counts, cache.entries).");
	metrics_sample(m, out, "cache_hits_total", "cache=\"snapshots\"", (double)ls.cache_hits);
	metrics_family(m, out, "cache_misses_total", METRIC_COUNTER,
	               "Cache lookups that went to the store, by cache.");
	metrics_sample(m, out, "cache_misses_total", "cache=\"snapshots\"",
	               (double)ls.cache_misses);
	metrics_family(
	    m, out, "ledger_serial_seconds_total", METRIC_COUNTER,
	    "Time spent where one thread at a time can be, summed over threads, by "
	    "section (writer_lock, view_lock: every view stripe's together, commit_write: "
	    "group writes, which with pipelined copies overlap and may pass wall time): "
	    "over CPU seconds, the serial fraction that bounds the speed-up of more "
	    "workers.");
	metrics_sample(m, out, "ledger_serial_seconds_total", "section=\"writer_lock\"",
	               (double)ls.writer_lock_ns / 1e9);
	metrics_sample(m, out, "ledger_serial_seconds_total", "section=\"view_lock\"",
	               (double)ls.view_lock_ns / 1e9);
	metrics_sample(m, out, "ledger_serial_seconds_total", "section=\"commit_write\"",
	               (double)ls.commit_write_ns / 1e9);
	metrics_family(m, out, "ledger_view_stripe_seconds_total", METRIC_COUNTER,
	               "Time a view stripe's lock was held, without the writer lock, by stripe: "
	               "view_lock's part that only the threads reading or writing the stripe's "
	               "partitions share (partition p is in stripe p mod the stripes).");
	for (uint32_t i = 0; i < ls.view_stripes && i < LEDGER_VIEW_STRIPES; i++) {
		char lbl[24];
		snprintf(lbl, sizeof lbl, "stripe=\"%u\"", i);
		metrics_sample(m, out, "ledger_view_stripe_seconds_total", lbl,
		               (double)ls.view_stripe_ns[i] / 1e9);
	}
	metrics_single(
	    m, out, "ledger_commit_write_cpu_seconds_total", METRIC_COUNTER,
	    "The commit threads' CPU time in group writes and the building of their records, "
	    "summed over the threads: commit_write's time without the waits for a copy's "
	    "acknowledgement and an fsync.",
	    (double)ls.commit_write_cpu_ns / 1e9);
	metrics_single(
	    m, out, "ledger_seal_write_cpu_seconds_total", METRIC_COUNTER,
	    "CPU time of seals' encoding and store writes, made outside the writer lock but one "
	    "seal at a time.",
	    (double)ls.seal_write_cpu_ns / 1e9);
	uint64_t loaded;
	uint32_t complete = ledger_replica_ready(lg, &loaded);
	metrics_single(
	    m, out, "replica_partitions_complete", METRIC_GAUGE,
	    "Partitions whose replica of counts is complete (every count central has is here).",
	    (double)complete);
	metrics_single(
	    m, out, "replica_counts_loaded", METRIC_GAUGE,
	    "Counts the current or last checkpoint load of each partition brought, summed.",
	    (double)loaded);

	ledger_part_info parts[PARTITION_MAX];
	size_t np = ledger_get_parts(lg, parts, PARTITION_MAX);
	metrics_single(m, out, "partitions", METRIC_GAUGE,
	               "Partitions of the deployment (topics.partitions): what "
	               "replica_partitions_complete reaches once the replica is complete.",
	               (double)np);
	uint64_t now = clock_wall_ms();
	char labels[48];
	metrics_family(m, out, "snapshot_age_seconds", METRIC_GAUGE,
	               "Seconds since central made the newest snapshot applied here, by "
	               "partition (none before the first).");
	for (size_t p = 0; p < np; p++) {
		if (!parts[p].as_of)
			continue;
		snprintf(labels, sizeof labels, "partition=\"%zu\"", p);
		double age = now > parts[p].as_of ? (double)(now - parts[p].as_of) / 1000.0 : 0;
		metrics_sample(m, out, "snapshot_age_seconds", labels, age);
	}
	metrics_family(m, out, "snapshot_next_offset", METRIC_GAUGE,
	               "The snapshot-topic offset this edge resumes from, by partition, as "
	               "stored with the snapshots' effects (none before the first).");
	for (size_t p = 0; p < np; p++) {
		int64_t off;
		if (ledger_snapshot_resume(lg, (uint32_t)p, &off))
			continue;
		snprintf(labels, sizeof labels, "partition=\"%zu\"", p);
		metrics_sample(m, out, "snapshot_next_offset", labels, (double)off);
	}
	metrics_family(m, out, "snapshot_version", METRIC_GAUGE,
	               "The version (central's input epoch and offset) the newest applied "
	               "snapshot reflects, by partition.");
	for (size_t p = 0; p < np; p++) {
		if (!parts[p].as_of)
			continue;
		snprintf(labels, sizeof labels, "partition=\"%zu\"", p);
		metrics_sample(m, out, "snapshot_version", labels, (double)parts[p].version);
	}
}

const char *ledger_seal_name(ledger_seal_why why)
{
	static const char *const names[LEDGER_NSEALS] = {"ops", "age", "drain", "clock"};
	return why < LEDGER_NSEALS ? names[why] : "unknown";
}

void ledger_metrics_add(metrics *reg, ledger *lg)
{
	metrics_add_object_hook(reg, render, lg);
}

/* One holder function per field of ledger_memory. */
#define LEDGER_HOLDER(field)                                                                       \
	static bool holds_##field(void *lg, uint64_t *out)                                         \
	{                                                                                          \
		ledger_memory lm;                                                                  \
		ledger_get_memory(lg, &lm);                                                        \
		*out = lm.field;                                                                   \
		return true;                                                                       \
	}
LEDGER_HOLDER(count_cache)
LEDGER_HOLDER(readthrough)
LEDGER_HOLDER(overlay)
LEDGER_HOLDER(member_filter)
LEDGER_HOLDER(outbox)

void ledger_memory_holders(telemetry *tm, ledger *lg)
{
	telemetry_memory_holder(tm, "count_cache", holds_count_cache, lg);
	telemetry_memory_holder(tm, "readthrough_counts", holds_readthrough, lg);
	telemetry_memory_holder(tm, "overlay", holds_overlay, lg);
	telemetry_memory_holder(tm, "member_filter", holds_member_filter, lg);
	telemetry_memory_holder(tm, "outbox", holds_outbox, lg);
}
