/* feed.h - the change feed's publisher (docs/events.md): the events the
 * applier stored in 'X' records (central/apply/feedrec.h) go to the
 * changes and milestones topics, each once.
 *
 * - Every instance reads the topics' partitions it owns
 *   (central.partitions) from their last message on, and knows the
 *   highest id each holds. A record whose events the topics hold is
 *   dropped through the trim hook (the applier's store write).
 * - One instance per partition publishes: the member the Kafka consumer
 *   group `opts.group` (a subscription to the first topic that is on)
 *   gives it to. Given one, it waits timeout_ms (a former publisher's
 *   messages land or fail by then), reads both topics to their end as
 *   the broker then says, and sends only events above what they hold.
 * - One chunk of messages per partition is in flight at a time. A chunk
 *   that fails stops the partition, which then starts again the same way
 *   from the topics' tail; so does every partition with messages queued
 *   when a chunk has waited half of timeout_ms (they are purged before
 *   librdkafka's own timeout could fail an older one than it sends).
 *   An id read back that is not the next one this instance sent is
 *   counted (a gap, or another publisher's repeat: feed_gaps_total,
 *   feed_foreign_total) and logged.
 *
 * The run loop's thread only (feed_turn, feed_noted, feed_free), but
 * for the feed's own thread that asks the brokers where the topics end
 * (it waits, the loop does not); the metrics it registers are atomics.
 */
#ifndef CENTRAL_FEED_H
#define CENTRAL_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "metrics.h"
#include "store.h"
#include "central/apply/feedrec.h"
#include "central/apply/shard.h"

/* Drops partition p's records from version `from` up to and including
 * `upto` (their events are all in the topics). 0, or the store's error. */
typedef int (*feed_trim_fn)(void *ctx, uint32_t p, uint64_t from, uint64_t upto);

typedef struct feed_opts {
	const char *topics[FEEDREC_TOPICS]; /* changes, milestones, then the home streams
	                                       (FEEDREC_HOMES + i); "" or NULL = off */
	const char *group;                  /* decides each partition's publisher */
	const char *id;                     /* this instance, for logs and client names */
	uint32_t partitions;
	const shard_set *own;
	store *db; /* read only: records go through trim */
	feed_trim_fn trim;
	void *trim_ctx;
	/* Partition p's input epoch in this instance's store (the applier's). */
	uint32_t (*epoch)(void *ctx, uint32_t p);
	void *epoch_ctx;
	int64_t timeout_ms; /* a message not acknowledged by then failed */
	int64_t session_ms; /* the group's session: how soon a silent publisher is replaced */
	bus_props props;
	const char *bootstrap_file;
	metrics *reg; /* the feed's figures go here */
} feed_opts;

typedef struct feed feed;

/* NULL with the reason in err. Start-up. Counts the records already
 * stored (feed_pending_events). */
feed *feed_new(const feed_opts *o, char *err, size_t errlen);
/* Serves the clients' callbacks, reads the topics back, trims, takes or
 * gives up partitions and publishes. Never waits on a broker: the
 * watermark queries of a takeover run on a thread of the feed's own.
 * 0, or the trim's error. */
int feed_turn(feed *f, uint64_t now_ms) WARN_UNUSED;
/* The applier stored n events for partition p. */
void feed_noted(feed *f, uint32_t p, uint32_t n);
/* Waits (at most timeout_ms) for what was sent, then leaves the group. */
void feed_free(feed *f);

#endif
