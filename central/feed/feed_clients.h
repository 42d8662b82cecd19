/* feed_clients.h - the change feed publisher's Kafka clients: its
 * producer (made again after a purge), the reader of the topics' tail
 * and the member of the group that names each partition's publisher.
 *
 * The layer under feed.c: it knows nothing of the partitions' states.
 * What the brokers say goes up through the hooks it is given: each
 * delivery report, and each change of the group's assignment (before
 * the clients take it). The run loop's thread; the reader's watermark
 * queries may run on another (feed.c's asker).
 */
#ifndef CENTRAL_FEED_CLIENTS_H
#define CENTRAL_FEED_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "central/apply/feedrec.h"
#include "central/apply/shard.h"
#include "log.h"

#define FEED_TAIL_READ 2000      /* the reader starts this far before the end: two chunks */
#define FEED_READER_WAIT_MS "50" /* the reader's fetch.wait.max.ms: read-back delay */

/* The group gave (take) or took away partitions of its topic: parts[0..n),
 * each below the partitions the clients were made for. coop: the
 * cooperative protocol (a change, not the whole assignment); lost: a
 * revoke the group did not agree with this member (it was away). */
typedef struct feed_group_change {
	bool take, coop, lost;
	const uint32_t *parts;
	size_t n;
} feed_group_change;

typedef struct feed_clients_opts {
	const char *const *topics; /* FEEDREC_TOPICS of them; "" or NULL = off */
	const char *group;         /* the group's id; the reader's name starts with it */
	const char *id;            /* this instance */
	uint32_t partitions;
	const shard_set *own; /* the reader's partitions */
	int64_t timeout_ms;   /* message.timeout.ms, and the reconnect cap's base */
	int64_t session_ms;   /* the group's session */
	const bus_props *props;
	const char *bootstrap_file;
	/* Each delivery report of the producer, on the thread that polls it. */
	void (*delivered)(void *ctx, const rd_kafka_message_t *m);
	/* Each change of the group's assignment, from feed_clients_serve. */
	void (*changed)(void *ctx, const feed_group_change *ch);
	void *ctx;
} feed_clients_opts;

typedef struct feed_clients {
	feed_clients_opts o; /* what it points to outlives the clients */
	bool on[FEEDREC_TOPICS];
	int own_topic; /* the group's subscription: the first topic on; -1 none */
	rd_kafka_t *prod, *reader, *group;
	rd_kafka_topic_t *rkt[FEEDREC_TOPICS];
	log_limit group_errors;
} feed_clients;

/* Which topics are on, and the group's topic; no client yet. */
void feed_clients_init(feed_clients *c, const feed_clients_opts *o);
/* The producer, the reader (the owned partitions of every topic on,
 * from their tail) and the group's member. 0 or ERR_KAFKA with the
 * reason in err. */
int feed_clients_start(feed_clients *c, char *err, size_t errlen);
/* The producer and its topic handles (c->prod, c->rkt). 0 or ERR_KAFKA
 * with the reason in err. */
int feed_producer_start(feed_clients *c, char *err, size_t errlen);
/* Destroys them, waiting at most wait_ms for what is in flight. */
void feed_producer_stop(feed_clients *c, int wait_ms);
/* Serves the group's callbacks (rebalances) and errors. */
void feed_clients_serve(feed_clients *c);
/* The topic of a message (its index), or -1 for none of those on. */
int feed_clients_topic_of(const feed_clients *c, const rd_kafka_topic_t *rkt);
/* The producer first (it waits at most wait_ms), then the group (only
 * now it hears this member leave: what it sent is delivered or failed),
 * then the reader. */
void feed_clients_free(feed_clients *c, int wait_ms);

#endif
