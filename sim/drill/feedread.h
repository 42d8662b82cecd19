/* feedread.h - the change feed's topics read back for the replay check:
 * every partition of a topic from its first message to the high
 * watermark it has when the read starts, each message decoded
 * (feedev_decode) and handed, in the partition's order, to a feedcheck
 * (sim/drill/feedcheck.h), which counts what does not decode and what
 * is gone before the first offset.
 *
 * A consumer of its own (group "likes-sim-feedcheck", assigned, never
 * committing) for the call's length. Runner thread; blocks.
 */
#ifndef SIM_FEEDREAD_H
#define SIM_FEEDREAD_H

#include <stddef.h>

#include "err.h"
#include "sim/drill/feedcheck.h"

#define FEEDREAD_GROUP "likes-sim-feedcheck"

/* Reads topic (of t's kind) at bootstraps ("host:port,...") into fc;
 * *partitions gets the topic's partition count. 0; ERR_KAFKA with the
 * reason in err when the client, the metadata or a watermark fails;
 * ERR_TIMEOUT when the watermarks are not all reached in timeout_ms
 * (what was read is in fc). */
int feedread_topic(const char *bootstraps, const char *topic, enum feedcheck_topic t, feedcheck *fc,
                   unsigned timeout_ms, int *partitions, char *err, size_t errlen) WARN_UNUSED;

#endif
