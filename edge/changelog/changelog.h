/* changelog.h - the edge's own writes copied to a replicated log before
 * they count: each store batch the ledger writes for itself (a group
 * commit's ops, memberships and idempotency records; a seal's batch, its
 * sequence and the records it deletes) is appended as one record to one
 * partition of a Kafka topic on the region's cluster, produced with
 * acks=all by an idempotent producer, and goes to the local store only
 * once the cluster has it. The ledger answers a write only after its
 * local write, so an answered like is on the cluster's in-sync replicas
 * (min.insync.replicas of them, in other data centers when broker.rack
 * spreads them) before its client hears of it.
 *
 * The log is the edge's store as a stream of changes, as Kafka Streams
 * keeps a state store's changelog: replayed in order into a store (every
 * record's puts and deletes), it gives back every key the ledger wrote
 * for itself. What the edge learns from central (counts, snapshot
 * positions, the replica) is not in it: a store rebuilt from the log
 * loads that from central's checkpoint, as any new edge does.
 * changelog_restore brings a store up to the log's end before the ledger
 * opens: an empty one (a wiped machine, a new one) from the log's start,
 * a kept one from the position its last replicated write stored with it.
 *
 * Record (the message value; the key is the edge id):
 *   [version u8 = 1][changes u32], then per change
 *   [op u8: 1 put, 2 delete][key length u32][key][value length u32][value]
 *   (no value for a delete); numbers big-endian.
 *
 * Threads: changelog_append from any thread; appends are produced in the
 * order their callers take the changelog's mutex, so the log holds them in
 * that order. The delivery reports come on the changelog's own thread,
 * which polls the producer. changelog_restore before the ledger opens, on one thread.
 */
#ifndef EDGE_CHANGELOG_H
#define EDGE_CHANGELOG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "metrics.h"
#include "sbuf.h"
#include "store.h"

#define CHANGELOG_FORMAT 1
#define CHANGELOG_KEY "L" /* the store key of the next offset to apply */

typedef struct changelog changelog;

typedef struct changelog_opts {
	const char *brokers;        /* bootstrap.servers; "" to take bootstrap_file's */
	const char *bootstrap_file; /* a file holding the list (the embedded cluster's) */
	const char *topic;
	int32_t partition; /* the edge's own partition of the topic */
	const char *edge_id;
	int timeout_ms; /* an append not acknowledged by then fails */
	metrics *reg;   /* its counters and histogram; NULL: none */
} changelog_opts;

/* The producer. NULL with the reason in err. */
changelog *changelog_new(const changelog_opts *o, char *err, size_t errlen);
/* Waits for what is in flight (at most timeout_ms), then frees. */
void changelog_free(changelog *cl);

/* Appends wb's changes as one record and waits until the cluster has it
 * (acks=all), then adds to wb the store key of the position after it,
 * so the local write that follows says how far the store is. 0, or
 * ERR_TIMEOUT (not acknowledged within timeout_ms: the record may yet
 * reach the log) or ERR_KAFKA (refused). */
int changelog_append(changelog *cl, store_batch *wb) WARN_UNUSED;

/* changelog_append as the ledger's replicate hook (ledger_opts). */
int changelog_replicate(void *ctx, store_batch *wb);

typedef struct changelog_restored {
	uint64_t records; /* applied */
	int64_t from, to; /* the offsets applied, [from, to) */
	/* The log started after the store's position: records were gone
	 * (retention, or the embedded cluster's cap) before this store read
	 * them, and what they held is not here. */
	int64_t missing;
} changelog_restored;

/* Applies to db each record of the log from the position db holds (the
 * log's start for an empty store) to the end the log had when it began,
 * each in one store write with the position after it. 0, or ERR_*
 * with the reason in err (a record that does not decode is ERR_CORRUPT,
 * one whose key is not o->edge_id ERR_CONFLICT: the store stays at the
 * record before it). It needs the cluster: with it out of reach the
 * edge does not start. */
int changelog_restore(const changelog_opts *o, store *db, changelog_restored *out, char *err,
                      size_t errlen) WARN_UNUSED;

/* A record of wb's changes, appended to out. Pure. */
void changelog_encode(const store_batch *wb, sbuf *out);
/* The changes of record buf (len bytes) added to wb: 0, ERR_VERSION or
 * ERR_CORRUPT (then wb may hold some of them: clear it). Pure. */
int changelog_decode(const void *buf, size_t len, store_batch *wb) WARN_UNUSED;

#endif
