/* uplink.h - the edge's Kafka side: the idempotent producer that carries
 * sealed batches and the consumer that reads central's snapshots.
 *
 * The uplink is driven from one thread (the edge's upstream thread):
 * uplink_poll() serves delivery reports (into the ledger) and applies
 * waiting snapshots. The stats and health getters may be called from any
 * thread meanwhile. The
 * snapshot consumer is assigned every partition and resumes from the
 * offsets the ledger stored with the snapshots' effects.
 *
 * Quarantine: a snapshot that does not decode, or that uplink_check_snapshot
 * refuses, is skipped (its resume offset moves past it) and produced,
 * unchanged, to the dead-letter topic (cfg->deadletter_topic; "" = only
 * logged) with headers reason, source_topic, source_partition,
 * source_offset and dlq_by (the edge id). One with some bad count entries
 * applies without them and is quarantined as well, once applied.
 */
#ifndef EDGE_UPLINK_H
#define EDGE_UPLINK_H

#include <stdint.h>

#include "edge/config/edge.h"
#include "kcommit.h"
#include "edge/ledger/ledger.h"
#include "edge/telemetry/telemetry.h"

typedef struct uplink uplink;

typedef struct uplink_stats {
	uint64_t produced; /* batch messages delivered */
	uint64_t produce_errors;
	uint64_t snapshots_received;     /* snapshot messages read */
	uint64_t snapshots_bad;          /* refused in whole: undecodable or inconsistent */
	uint64_t snapshots_deadlettered; /* refused in whole or in part: quarantined */
	uint64_t deadletter_failed;      /* of those, not queued or not delivered */
	uint64_t offset_resets;
	uint64_t snapshot_retries; /* snapshots the store could not take yet */
} uplink_stats;

/* Readiness facts (GET /readyz), in monotonic ms. */
typedef struct uplink_health {
	uint64_t kafka_ok_ms;     /* last delivered batch or snapshot read; 0 = never */
	uint64_t snapshot_ms;     /* the oldest of the partitions' newest snapshots
	                             (when it was read); 0 while a partition has
	                             had none */
	uint32_t stale_partition; /* that partition */
} uplink_health;

/* Checks a decoded snapshot, read from partition msg_partition of a topic
 * with `partitions` partitions, for what applying it in the ledger
 * assumes. ERR_CORRUPT when it must not apply at all (it describes
 * another partition); then why says so. Otherwise 0, and count entries
 * that would corrupt the ledger are removed from s (the others keep
 * their order): a counter name or item that is not valid, an item of
 * another partition, a count above INT64_MAX (the ledger keeps counts
 * signed beside a flag bit). *dropped says how many, why names the
 * first. Pure; any thread. */
int uplink_check_snapshot(wire_snapshot *s, uint32_t msg_partition, uint32_t partitions,
                          uint32_t *dropped, char *why, size_t whylen) WARN_UNUSED;

/* tm (may be NULL) gets the produce latency; the uplink's counters are
 * its own (uplink_metrics_add). */
uplink *uplink_new(const edge_config *cfg, telemetry *tm, char *err, size_t errlen);
/* Adds the uplink's families to reg, read from u at each render: its
 * counters (kafka_delivered_total, kafka_produce_errors_total,
 * snapshots_received_total, snapshots_bad_total,
 * snapshots_deadlettered_total, deadletter_failed_total: uplink_stats,
 * the only count of each), kafka_inflight_messages and the offset
 * commits' counters. Start-up. */
void uplink_metrics_add(metrics *reg, uplink *u);
/* Starts reading snapshots into lg (after the ledger exists). */
int uplink_start(uplink *u, ledger *lg, char *err, size_t errlen) WARN_UNUSED;
/* The ledger's send function: ctx is the uplink. Any thread (the one
 * that seals the batch, under the ledger's writer mutex). */
int uplink_send(void *ctx, uint32_t partition, uint64_t seq, const void *buf, size_t len);
/* This instance took over its edge's changelog at epoch with writer
 * time writer (changelog_writer): a hand-over naming it is queued to every partition of the
 * batch topic, ahead of the batches this instance sends, and every
 * batch from now on is stamped with it (WIRE_WRITER_HEADER); so central
 * voids the batches of the instances before it that reach a partition
 * after it (docs/wire.md, "Hand-over"). Call before the ledger sends
 * anything. 0, or with the reason in err ERR_KAFKA (a partition's could
 * not be queued: the queue stayed full for 5 s, or librdkafka refused
 * it) or ERR_INVAL (the edge id cannot be encoded, or writer is 0 or
 * not after one this uplink handed over before). A hand-over whose
 * delivery fails is only logged: central then fences from this
 * instance's first batch in that partition. Any thread. */
int uplink_handover(uplink *u, uint64_t epoch, uint64_t writer, char *err,
                    size_t errlen) WARN_UNUSED;
/* Serves callbacks and reads up to max snapshots; never blocks. When the
 * store cannot take a snapshot (a full disk), reading stops and, a
 * second later, starts again from the last snapshot offset the store
 * kept, so the edge stays up and serves reads meanwhile. */
void uplink_poll(uplink *u, int max);
/* Waits up to timeout_ms for queued batches to reach Kafka. */
void uplink_flush(uplink *u, int timeout_ms);
/* Messages handed to the producer that Kafka has not acknowledged yet. */
size_t uplink_queued(const uplink *u);
void uplink_get_stats(const uplink *u, uplink_stats *out);
/* The commits of stored snapshot positions for Kafka's tools (zeros when
 * off or not started). Any thread. */
void uplink_commit_stats(const uplink *u, kcommit_stats *out);
/* Messages in the producer's queue not yet acknowledged (any thread). */
uint64_t uplink_outq_len(uplink *u);
/* Scans every partition: call it once a second, not per request. */
void uplink_get_health(const uplink *u, uplink_health *out);
void uplink_free(uplink *u);

#endif
