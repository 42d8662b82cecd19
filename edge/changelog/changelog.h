/* changelog.h - the edge's own writes copied to a replicated log before
 * they count, and the log as the one place that says which instance of
 * an edge is active.
 *
 * Each store batch the ledger writes for itself (a group commit's ops,
 * memberships and idempotency records; a seal's batch, its sequence and
 * the records it deletes) is appended as one record to the edge's own
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
 * positions, the replica) is not in it.
 *
 * Instances and epochs. Two or more instances run under one edge id and
 * partition, in different data centers; each starts as a follower: it
 * brings its store to the log's end (changelog_restore), then tails the
 * log into it (changelog_follow). The log is active's alone: an active
 * appends a beat whenever it has appended nothing for beat_ms, so a log
 * silent for takeover_ms, with the cluster in reach, has no active. A
 * follower that finds it so appends a takeover record with an epoch above
 * every one that counts in the log, reads the log up to that record, and is active
 * from then on if no other takeover of its epoch or above came first
 * (changelog_take). A follower's takeover names its place, the offset
 * after the last record it read, and counts only there: landed later,
 * records it was not shown came first (a deposed leader answered it),
 * the log was not silent, and the takeover is void for every reader.
 * Replay keeps the highest epoch taken over so far, in
 * log order: a record of a lower epoch after a takeover is void, skipped
 * by every replay. So a former active (a paused process, a machine cut
 * off) may still get records into the log, but none of them counts, and
 * it answers none: an active acknowledges an append only once it knows
 * no takeover lies between its own takeover and its record (its records'
 * offsets follow each other; any other offset between them is read and
 * checked), and once it finds one it is fenced for good (ERR_FENCED).
 * The fencing rests on the order of one partition's log alone, not on
 * producer ids or epochs, which librdkafka's mock cluster does not
 * enforce; it needs a topic neither compacted nor written in
 * transactions, whose offsets follow one another.
 *
 * Record (the message value; the key is the edge id), version 2:
 *   [version u8 = 2][kind u8][epoch u64], then
 *   data:     [changes u32], per change [op u8: 1 put, 2 delete]
 *             [key length u32][key][value length u32][value] (no value
 *             for a delete)
 *   takeover: [instance length u32][instance][writer ms u64]
 *             [place u64] (the writer time absent before writer times;
 *             the place absent before places, and in a takeover at
 *             start-up: it counts wherever it lands)
 *   beat:     nothing
 * Version 1 (before epochs) is [1][changes u32][changes]: a data record
 * of epoch 0. Numbers big-endian.
 *
 * Threads: changelog_append from any thread, only while active; appends
 * are produced in the order their callers take the changelog's mutex, so
 * the log holds them in that order. The appender waiting for its
 * delivery report serves the producer's queue itself (one thread at a
 * time), checking each report's offset against the log's order; the
 * changelog's own thread serves the reports no appender waits for (the
 * beats') and appends the beats. The follower
 * runs on a thread of its own, which also makes the takeover.
 */
#ifndef EDGE_CHANGELOG_H
#define EDGE_CHANGELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/ledger/keys.h"
#include "err.h"
#include "metrics.h"
#include "sbuf.h"
#include "store.h"

#define CHANGELOG_FORMAT 2

/* The store's place in the log is kept under keys.h's EKEY_LOG_* keys
 * (the position 'L', the epoch 'E', the writer time 'V', the gap 'U',
 * the held records 'Q'): keys.h is their one definition. */

/* Puts v at the one-byte key of tag (EKEY_LOG_POSITION, ...) in wb, as
 * every reader reads it. */
void changelog_put_u64(store_batch *wb, enum ekey_tag tag, uint64_t v);
/* The u64 at the one-byte key of tag in db into *v, 0 when absent: 0,
 * or the store's error. */
int changelog_read_u64(store *db, enum ekey_tag tag, uint64_t *v) WARN_UNUSED;

/* What an active does with a write the log does not acknowledge. */
enum changelog_durability {
	CHANGELOG_REPLICATED, /* refuses it (503 not_replicated): the default */
	/* Writes it to this machine's disk with fsync, holding its record
	 * (and every one after it, to keep their order) until the log takes
	 * them: the region takes likes through a regional Kafka outage, on
	 * one machine's disk meanwhile. */
	CHANGELOG_LOCAL,
};

enum changelog_kind { CHANGELOG_DATA = 1, CHANGELOG_TAKEOVER = 2, CHANGELOG_BEAT = 3 };

typedef struct changelog changelog;

typedef struct changelog_opts {
	const char *brokers;        /* bootstrap.servers; "" to take bootstrap_file's */
	const char *bootstrap_file; /* a file holding the list (the embedded cluster's) */
	const char *topic;
	int32_t partition; /* the edge's own partition of the topic */
	const char *edge_id;
	const char *instance; /* who this process is, in its takeover records */
	int timeout_ms;       /* an append not acknowledged by then fails */
	int beat_ms;          /* an active idle this long appends a beat; 0: 500 */
	int takeover_ms;      /* a follower takes over a log silent this long; 0: 2000 */
	int durability;       /* enum changelog_durability */
	metrics *reg;         /* its counters, gauges and histogram, and a render hook
	                       * over the changelog: no render of reg may start after
	                       * changelog_free; NULL: none */
	/* changelog_restore calls it for a store it cannot bring to the
	 * log's end from the log alone (its position before the log's
	 * start, or already unfit) and that holds no writes the log lacks:
	 * it replaces the store's contents with a fit peer's (seed.h). 0
	 * when it did; otherwise the reason in err, and the store is unfit.
	 * NULL: the store follows on, unfit. */
	int (*reseed)(void *ctx, store *db, int64_t log_start, char *err, size_t errlen);
	void *reseed_ctx;
} changelog_opts;

/* A follower must outwait a live active's longest silence: an append
 * stuck until its deadline holds the beats back behind it. 0 when
 * takeover_ms >= timeout_ms + 2 x beat_ms (0 meaning the defaults), else
 * ERR_CONFIG with the reason in err. */
int changelog_timing_check(const changelog_opts *o, char *err, size_t errlen);

/* The producer, not active yet; refuses timings changelog_timing_check
 * refuses. NULL with the reason in err. */
changelog *changelog_new(const changelog_opts *o, char *err, size_t errlen);
/* Stops the follower, waits for what is in flight (at most timeout_ms),
 * then frees. */
void changelog_free(changelog *cl);

/* Appends wb's changes as one record of this instance's epoch and waits
 * until the cluster has it (acks=all) and its place in the log is
 * checked, then adds to wb the store key of the position after it, so
 * the local write that follows says how far the store is (held back to
 * an earlier append whose write has not been reported yet: that write
 * may land after this one, or never, and a replay from this position
 * must not pass it). 0, or
 * ERR_TIMEOUT (not acknowledged within timeout_ms: the record may yet
 * reach the log; or, with durability = replicated, refused unproduced
 * while the cluster is failing: changelog_refusing), ERR_KAFKA
 * (refused), or ERR_FENCED (not active: a
 * follower, or an active another instance has taken over from; the
 * record, if it reached the log, is void). A refused group record
 * (may_defer) that may yet reach the log (any failure but ERR_FENCED) is
 * undone there: every key it wrote is written again with its value in
 * the store (deleted when the store has none) at the head of the next
 * group's record, until one is acknowledged, so that the log never keeps
 * what the edge refused. Only groups write those keys, one at a time. A
 * seal's refused copy is not undone: the seal is tried again under the
 * same sequence and rewrites the same keys.
 * With durability = local and may_defer, a record the log does not
 * acknowledge, and every one after it while any is held, is held
 * instead: added to wb under a 'Q' key, wb marked to be fsynced
 * (store_batch_sync), and 0 returned; changelog_drain appends them in
 * order later. Without may_defer such an append fails (ERR_TIMEOUT)
 * while records are held, since the log must hold them first. */
int changelog_append(changelog *cl, store_batch *wb, bool may_defer) WARN_UNUSED;

/* The ledger's log (edge/ledger/ledger.h, ledger_log: its begin, end,
 * written, refused, refusing and may_send) is these functions, with the
 * changelog as its ctx: so they take the changelog as a void *, and the
 * ledger includes nothing of this folder. */

/* changelog_append in two halves, so that several records can be in
 * flight: begin encodes wb and produces it (the log holds records in
 * the order their begins produced them), end waits for its report and
 * returns what changelog_append would, adding the position key to wb as
 * it does. Every begin is ended once, with the same wb, unchanged
 * between the two; end frees the pending append. begin never fails:
 * what it could not do is end's result. Unlike changelog_append, end
 * does not undo a refused group record (may_defer): its caller calls
 * changelog_refused for it once every group before it is written (the
 * undoing reads their values from the store). */
typedef struct changelog_pending changelog_pending;
void *changelog_append_begin(void *cl, store_batch *wb, bool may_defer);
int changelog_append_end(void *cl, store_batch *wb, void *pending) WARN_UNUSED;

/* A group record (may_defer) that its caller refuses, and whose copy
 * may be in the log: changelog_append_end failed (but with ERR_FENCED),
 * or acknowledged it and the caller refuses it after all (it was staged
 * on a group that failed, or its own store write failed: then in place
 * of changelog_written). Undone in the log as changelog_append undoes a
 * refused group record; an acknowledged one also holds every later
 * position back, as a failed write does, so a restart replays it before
 * its undoing, until a record carrying the undoing is written here
 * (changelog_written, or, held on the disk with durability = local,
 * once drained): from then on a replay past it finds the store as it
 * is. A refused batch that holds a held record of its own has every key
 * of that record undone too (the undoing it carried among them). Call
 * it once every group before it is written. */
void changelog_refused(void *cl, const store_batch *wb);

/* With durability = replicated: true while the region's Kafka took no
 * copy lately (the last report was an error) and one append probes it;
 * appends begun meanwhile are refused at once (ERR_TIMEOUT, unproduced).
 * ctx: the changelog. */
bool changelog_refusing(void *ctx);
/* True while this instance is surely the edge's writer: active, and a
 * record of its own passed the order check (no takeover before it)
 * recently enough that no takeover can have landed since (produced
 * less than takeover_ms - beat_ms ago; beats renew it). A paused or
 * cut-off active loses it before a standby may take over, so it sends
 * no batch to central after a takeover. ctx: the changelog. */
bool changelog_may_send(void *ctx);

/* The caller's store write of wb, which changelog_append took, is done:
 * rc its result. Written (0), wb's record no longer holds positions
 * back, nor do the refused records whose undoing it carried; failed, it
 * holds every later one back for this process's life, so a restart
 * replays it from the log. Every successful append is reported once,
 * after the write it was made for (or refused instead); wb is not read.
 * Any thread. */
void changelog_written(void *cl, const store_batch *wb, int rc);

/* A read view of db that a peer may load as its own store, and the log
 * position it is at (*position; seed.h): the store's own (key L), but
 * no later than the lowest acknowledged append whose store write has
 * not been reported (a later record's write may have landed first), and
 * on an active with none such, its last checked record (what lies
 * between is its beats and void records). NULL when db cannot be read.
 * Any thread; the caller frees the view. */
store_snap *changelog_snapshot(changelog *cl, store *db, int64_t *position);

/* Appends the held records, oldest first, until none is left or the log
 * does not take one (then it stops, to go on at the next call). Once none
 * is left the changelog appends as before. The follower's thread calls it
 * while active; tests call it themselves. 0, or the error of the append
 * that stopped it (ERR_FENCED: another instance took over, and the held
 * records are void). */
int changelog_drain(changelog *cl) WARN_UNUSED;
/* Records are held (durability = local): the log is behind this store. */
bool changelog_degraded(const changelog *cl);
/* How many are held. */
uint64_t changelog_held(const changelog *cl);

/* Where replayed records go: apply writes a record's changes (with the
 * position keys) to the store, as the ledger wants them written
 * (store_write for a store no ledger has open). promote, called once on
 * the follower's thread when this instance has become active, readies
 * the writer (the ledger reads what the log gave it); its error is
 * logged, and the instance stays active but writes nothing it cannot.
 */
typedef struct changelog_sink {
	int (*apply)(void *ctx, store_batch *wb);
	int (*promote)(void *ctx);
	void *ctx;
} changelog_sink;

/* Tails the log into db from the position db holds, on a thread of its
 * own, and takes over once the log has been silent for takeover_ms with
 * the cluster in reach (then calls sink->promote and stops following).
 * Call after changelog_restore. 0 or ERR_IO (no thread). */
int changelog_follow(changelog *cl, store *db, const changelog_sink *sink) WARN_UNUSED;

/* Stops the follower's thread (and its keeping of held records), which
 * uses the sink's ledger: before that ledger is freed. Any thread; twice
 * is harmless. */
void changelog_stop_follow(changelog *cl);

/* Takes over now, on the caller's thread (the follower's way, and
 * tests'): appends a takeover record of the next epoch, applies the log
 * through it to db with sink->apply, and is active if no other takeover
 * came first. 0, ERR_FENCED (another instance's takeover came first:
 * still a follower), or ERR_TIMEOUT/ERR_KAFKA with the reason in err.
 * Not while changelog_follow's thread runs. Does not call promote. */
int changelog_take(changelog *cl, store *db, const changelog_sink *sink, char *err,
                   size_t errlen) WARN_UNUSED;

/* This instance is active: it took over and has not been fenced. */
bool changelog_active(const changelog *cl);
/* The follower stopped on a record it could not apply (logged): this
 * store no longer follows the log and never takes over. */
bool changelog_follow_failed(const changelog *cl);
/* This instance was active and found another's takeover after its own:
 * it may never append again. */
bool changelog_fenced(const changelog *cl);
/* This instance was active and its order check found that the log lost
 * records between two of its appends before it read them: whether
 * another's takeover was among them cannot be known, so it may never
 * append again either (changelog_needs_copy: whether a peer's copy can
 * mend its store; else it restarts as a standby). */
bool changelog_unchecked(const changelog *cl);
/* The epoch this instance took over with; 0 before. */
uint64_t changelog_epoch(const changelog *cl);
/* The writer time this instance took over with (its takeover record's):
 * after every writer time the log or this store named before, whatever
 * this machine's clock says; 0 before. */
uint64_t changelog_writer(const changelog *cl);
/* Records the log lost before this instance's store read them (it
 * started after the store's position): 0 for a store fit to take over.
 * One that lacks them never takes over; rebuild it (docs/ops.md). */
uint64_t changelog_gap(const changelog *cl);
/* The follower found, while running, that the log lost records its
 * store never read, or the active that it lost records it never checked
 * (changelog_unchecked), and a peer's copy could replace the store
 * (changelog_opts.reseed, and no record held for the log): the store is
 * unfit until a restart copies one. (A gap found at start-up, where no
 * peer gave a copy, does not set it: a restart would meet the same
 * refusal.) */
bool changelog_needs_copy(const changelog *cl);

typedef struct changelog_restored {
	uint64_t records; /* applied */
	uint64_t voided;  /* read and skipped: of an epoch taken over from */
	int64_t from, to; /* the offsets read, [from, to) */
	/* The log started after the store's position: records were gone
	 * (retention, or the embedded cluster's cap) before this store read
	 * them, and what they held is not here. */
	int64_t missing;
	/* The log ended before the store's position (it lost records this
	 * store holds: recreated, or rebuilt empty): by this many. The
	 * position and epoch start again at the log's end; what the store
	 * holds past it is not in the log. */
	int64_t behind;
	bool seeded; /* the store was replaced by a peer's copy first (reseed) */
} changelog_restored;

/* Applies to db each record of the log from the position db holds (the
 * log's start for an empty store) to the end the log had when it began,
 * each in one store write with the position after it; records of an
 * epoch taken over from are skipped. 0, or ERR_* with the reason in err
 * (a record that does not decode is ERR_CORRUPT, one whose key is not
 * o->edge_id ERR_CONFLICT: the store stays at the record before it). It
 * needs the cluster: with it out of reach the edge does not start. */
int changelog_restore(const changelog_opts *o, store *db, changelog_restored *out, char *err,
                      size_t errlen) WARN_UNUSED;

/* --- the record (changelog_record.c; pure) ------------------------------ */

typedef struct changelog_head {
	uint8_t kind;         /* enum changelog_kind */
	uint64_t epoch;       /* the data's or beat's writer's; a takeover's new one */
	const char *instance; /* a takeover's, in the decoded buffer */
	size_t instance_len;
	/* A takeover's writer time (wall ms, after every earlier takeover's
	 * in the log): what the new active stamps its batches to central
	 * with; 0 in a takeover from before writer times. */
	uint64_t writer_ms;
	/* A takeover's place: the offset it must land at to count, the one
	 * after the last record its writer had read (a follower's takeover
	 * of a log it found silent); -1 when it counts wherever it lands (a
	 * takeover at start, and one from before places). A takeover that
	 * lands elsewhere is void: records its writer had not read came
	 * first, so the log was not silent (changelog_takeover_counts). */
	int64_t expect_at;
} changelog_head;

/* A data record of wb's changes at epoch, appended to out. */
void changelog_encode(const store_batch *wb, uint64_t epoch, sbuf *out);
/* A takeover at epoch by instance (who), with its writer time and its
 * place (expect_at; -1: none). */
void changelog_encode_takeover(uint64_t epoch, const char *instance, uint64_t writer_ms,
                               int64_t expect_at, sbuf *out);
/* Whether the takeover h, read at offset, counts: it names no place, or
 * landed at the one it names. Every reader of the log applies this one
 * rule (the replay, the active's order check), so all agree on who is
 * active. */
bool changelog_takeover_counts(const changelog_head *h, int64_t offset);
/* A beat of the active of epoch. */
void changelog_encode_beat(uint64_t epoch, sbuf *out);
/* Record buf (len bytes): its head, and a data record's changes added to
 * wb. 0, ERR_VERSION or ERR_CORRUPT (then wb may hold some of them:
 * clear it). */
int changelog_decode(const void *buf, size_t len, changelog_head *h, store_batch *wb) WARN_UNUSED;

#endif
