/* feedread.h - a topic read back for a drill's end checks: every
 * partition of a topic from its first message to the high watermark it
 * has when the read starts, each message handed, in the partition's
 * order, to a sink. The change feed's topics go to a feedcheck
 * (sim/drill/feedcheck.h), each message decoded (feedev_decode), which
 * counts what does not decode and what is gone before the first offset.
 *
 * A consumer of its own (group "likes-sim-feedcheck", assigned, never
 * committing) for the call's length. Runner thread; blocks.
 */
#ifndef SIM_FEEDREAD_H
#define SIM_FEEDREAD_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "err.h"
#include "sim/drill/feedcheck.h"

#define FEEDREAD_GROUP "likes-sim-feedcheck"

/* What a read hands each message to (message), and each partition
 * whose first offset is not 0 (lost: may be NULL). */
typedef struct feedread_sink {
	void (*message)(void *ctx, rd_kafka_message_t *m);
	void (*lost)(void *ctx, unsigned partition, int64_t first_offset);
	void *ctx;
} feedread_sink;

/* Reads topic at bootstraps ("host:port,...") into sink; *partitions
 * gets the topic's partition count. 0; ERR_KAFKA with the reason in err
 * when the client, the metadata or a watermark fails; ERR_TIMEOUT when
 * the watermarks are not all reached in timeout_ms (what was read went
 * to the sink). */
int feedread_each(const char *bootstraps, const char *topic, const feedread_sink *sink,
                  unsigned timeout_ms, int *partitions, char *err, size_t errlen) WARN_UNUSED;

/* Reads topic (of t's kind) at bootstraps ("host:port,...") into fc;
 * *partitions gets the topic's partition count. 0; ERR_KAFKA with the
 * reason in err when the client, the metadata or a watermark fails;
 * ERR_TIMEOUT when the watermarks are not all reached in timeout_ms
 * (what was read is in fc). */
int feedread_topic(const char *bootstraps, const char *topic, enum feedcheck_topic t, feedcheck *fc,
                   unsigned timeout_ms, int *partitions, char *err, size_t errlen) WARN_UNUSED;

#endif
