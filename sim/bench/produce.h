/* produce.h - `sim produce-batches`: the change feed benchmark's input
 * (mixgen.h), built in memory, then produced into a running cluster's
 * batch topic as fast as the producer goes, so that a central started
 * before it has all of it to apply at once.
 *
 * The producer is configured as the daemons' are (bus.h: idempotent,
 * acks=all, lz4), its bootstrap list read from a file (the embedded
 * broker's). Before the first message it asks for the topic's metadata
 * (so the first produce does not wait for a topic scan) and checks its
 * partition count against the input's. Each partition's batches go in
 * order, partitions in turns. After the last delivery it asks each
 * partition's watermarks: a low watermark above 0 means the cluster
 * dropped messages (the embedded broker keeps about 5 MiB a partition),
 * and the run fails, since a central reading the topic would miss them.
 *
 * One thread (librdkafka's run beside it).
 */
#ifndef SIM_PRODUCE_H
#define SIM_PRODUCE_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "sim/bench/mixgen.h"

typedef struct produce_opts {
	mixgen_opts load;
	const char *bootstrap_file; /* required */
	const char *topic;          /* likes.batches */
	int timeout_ms;             /* for every message to be delivered (120000) */
} produce_opts;

void produce_opts_default(produce_opts *o);

typedef struct produce_result {
	mixgen load; /* the input's figures; parts freed (NULL) */
	uint64_t delivered, failed;
	uint64_t start_ms, end_ms; /* wall clock: the first message queued, the last delivered */
	int64_t low_max;           /* the highest low watermark after (0: nothing dropped) */
	int64_t high_sum;          /* the high watermarks added up */
} produce_result;

/* 0; ERR_INVAL for a bad option; ERR_KAFKA when the cluster, the topic
 * or a delivery failed or the cluster dropped messages; err says why. */
int produce_run(const produce_opts *o, produce_result *r, char *err, size_t errlen) WARN_UNUSED;

/* key=value lines: messages, ops, likes, unlikes, views, entries,
 * wire_bytes, max_partition_bytes, delivered, failed, start_ms, end_ms,
 * low_max, high_sum. */
void produce_print(FILE *f, const produce_result *r);

#endif
