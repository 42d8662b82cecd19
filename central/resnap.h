/* resnap.h - at central's start, the counts its snapshots may have
 * carried without ever being delivered.
 *
 * A snapshot holds the counts changed since the one before, and every
 * edge's applied sequence. Central keeps what changed in memory and
 * hands the message to its producer; a central killed while such
 * messages wait (a partition of the snapshot topic without a leader, a
 * slow cluster) loses them, and the next snapshot after its restart says
 * the batches applied without their counts. An edge drops an op from its
 * overlay once a snapshot says central applied it: without the count it
 * would show the item without the like until the item changes again.
 * Found on real Kafka (tests/itest/itest_realkafka.c), where the wait
 * for a new leader is a second or two.
 *
 * So, before consuming, resnap_run reads for each owned partition the
 * last complete snapshot in the topic (the highest version, of the
 * input's epoch now, among the last messages whose `last` is set, by any
 * instance: every instance's snapshots carry every count changed up to
 * their version, apply being deterministic), and reads the batch topic
 * again from that version's input offset to the applied one,
 * marking every (counter, item) those batches touch for the next
 * snapshot with its stored count (applier_mark_changed). Nothing is
 * applied again. A topic with no snapshot of the current epoch (a new
 * cluster, a new store, or an input reset that no snapshot has followed
 * yet), an input that retention cut short, or a run past deadline_ms
 * are logged and counted, and those partitions' counts are as they were.
 * (A snapshot whose delivery failed for good is another way to lose its
 * counts: central.c marks them again when the producer reports it.)
 *
 * Run loop, once, before the assignment; a consumer of its own.
 */
#ifndef CENTRAL_RESNAP_H
#define CENTRAL_RESNAP_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "central/apply/apply.h"
#include "central/apply/shard.h"
#include "err.h"

typedef struct resnap_opts {
	rd_kafka_conf_t *conf; /* a consumer's; taken, also on failure */
	const char *snapshot_topic;
	const char *batch_topic;
	uint32_t partitions;
	const shard_set *own;
	applier *ap;
	unsigned timeout_ms;  /* for each read of one partition */
	unsigned deadline_ms; /* for the whole run (0: none); partitions not
	                         reached by then count as unknown */
} resnap_opts;

typedef struct resnap_result {
	uint32_t partitions; /* with batches read again */
	uint64_t batches;    /* read again */
	uint64_t counts;     /* marked for the next snapshot (with repeats) */
	uint32_t unknown;    /* owned partitions whose last snapshot could not be read */
	uint32_t cut_short;  /* partitions whose input lost part of the range */
	uint64_t ms;
} resnap_result;

/* See above. 0 (what it did in *r, logged), or ERR_KAFKA when no
 * consumer could be made, ERR_IO when the store failed (err says). */
int resnap_run(const resnap_opts *o, resnap_result *r, char *err, size_t errlen) WARN_UNUSED;

#endif
