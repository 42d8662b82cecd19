/* reseek.h - restarting one partition of a consumer's manual assignment
 * at a new offset after an out-of-range event, leaving the others alone
 * (central's input, the edge's home stream).
 *
 * With auto.offset.reset=error, a partition whose fetch offset is out of
 * range reports one error event and its fetcher goes idle; a seek does
 * not restart it. reseek_partition restarts that partition alone:
 * rd_kafka_incremental_unassign, then rd_kafka_incremental_assign at the
 * new offset. rdkafka.h allows both outside a rebalance callback; with a
 * manual assignment (no group subscription, so no rebalance protocol
 * that would insist on one kind of call) librdkafka 2.0.2 takes them
 * alongside rd_kafka_assign, as tests/unit/common/test_reseek.c checks
 * against the mock cluster. Each call returns once the assignment
 * changed; the fetcher then stops, and starts again at the offset,
 * asynchronously.
 *
 * Re-assigning every partition for each event (rd_kafka_assign of the
 * whole set) trips librdkafka's assertion
 * (rd_kafka_assignment_partition_stopped: rktp_started) as soon as
 * several partitions go out of range together: partitions whose stop is
 * still under way get stopped again (reproduced against the mock cluster
 * with librdkafka 2.0.2). So only the partition of the event is
 * restarted, and each re-seek is remembered until a message at or after
 * its offset shows the fetcher restarted (reseek_note_fetch). Meanwhile
 * an out-of-range event naming another offset is an echo of the fetch
 * before the re-seek (reseek_wanted says no), so it restarts nothing;
 * one naming the re-seek's own offset comes from the restarted fetcher
 * (an event carries the offset it failed to fetch), so the restart
 * happened and the partition may be re-seeked again.
 *
 * The consumer's poller owns a reseek (one thread).
 */
#ifndef LIKES_RESEEK_H
#define LIKES_RESEEK_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct reseek {
	uint32_t nparts;
	int64_t *to; /* per partition: the re-seek under way, -1 none */
} reseek;

void reseek_init(reseek *r, uint32_t nparts);
void reseek_free(reseek *r);

/* An out-of-range event for p at event_offset (the message's offset
 * field: the offset the fetcher could not read): should it be acted on?
 * False for an echo of a fetch before a re-seek still under way. */
bool reseek_wanted(const reseek *r, uint32_t p, int64_t event_offset);
/* A message (or end-of-partition event) of p at offset was consumed: a
 * re-seek of p to offset or below is over. */
void reseek_note_fetch(reseek *r, uint32_t p, int64_t offset);
/* Is a re-seek of p under way? */
bool reseek_pending(const reseek *r, uint32_t p);

/* After an out-of-range event: did the input's offsets go backwards,
 * given the stored offset (-1 none) and the broker's low and high
 * watermarks? True when the stored offset is at or above the low one
 * (above the high one: the log restarted empty or was recreated; inside
 * both by the time they are asked: replaced and refilled since); false
 * below the low one (retention dropped what the consumer had not read) or
 * with none stored. Pure. */
bool reseek_went_backwards(int64_t stored, int64_t lo, int64_t hi);

/* Restarts the consumption of (topic, p) at offset, and remembers the
 * re-seek. A p that is not in rk's assignment (an earlier call failed
 * between its two steps) is only assigned. 0, or ERR_KAFKA with the
 * reason in err (nothing is remembered: call again later). */
int reseek_partition(reseek *r, rd_kafka_t *rk, const char *topic, uint32_t p, int64_t offset,
                     char *err, size_t errlen) WARN_UNUSED;

#endif
