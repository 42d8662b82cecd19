/* changelog_int.h - struct changelog and what the folder's files share.
 * Private to edge/changelog/.
 *
 * The files are layers; each calls only those below it:
 *   changelog_follow.c  replay, following, taking over
 *   changelog.c         the append (begin, end), beats, new and free
 *   changelog_held.c    records held on the disk (durability = local)
 *   changelog_log.c     the log itself: produce and wait, the order
 *                       check, reading a stretch, active or fenced
 *   changelog_undo.c    appends not yet in the store, undoing refusals
 *   changelog_record.c  the record format (pure)
 */
#ifndef EDGE_CHANGELOG_INT_H
#define EDGE_CHANGELOG_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "edge/changelog/changelog.h"
#include "log.h"
#include "tsa.h"

#define CHANGELOG_DELIVERY_KINDS 4

#define CHANGELOG_POLL_MS 100
#define CHANGELOG_IDLE_MAX 50 /* polls with nothing new before a read gives up */
#define REPORT_GRACE_MS 1000  /* past timeout_ms, for a report that never comes */
#define BEAT_MS_DEFAULT 500

/* One append's wait for its delivery report; done, rc and offset under
 * the changelog's pmu. */
typedef struct waiter {
	bool track; /* a store write follows: kept unwritten until it is reported */
	bool done;
	int rc; /* 0, ERR_TIMEOUT, ERR_KAFKA or ERR_FENCED */
	int64_t offset;
} waiter;

struct changelog {
	changelog_opts o;
	char *topic, *edge_id, *instance;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	tsa_mutex mu;     /* produce order */
	pthread_t beater; /* beat_loop: beats, and reports no appender waits for */
	bool beating;
	/* Serving the producer's callbacks (rd_kafka_poll): one thread at a
	 * time (in_poll), an appender waiting for its report by preference
	 * (changelog.c, await_report); nwait appenders wait, on pcv, for
	 * their report or their turn. */
	tsa_mutex pmu;
	pthread_cond_t pcv;
	bool in_poll;
	unsigned nwait;
	_Atomic bool stop;
	_Atomic uint64_t last_produce_ms; /* monotonic: when this instance last produced */

	/* The order check, on the thread serving the reports; set by a
	 * takeover. Taken before mu when both are held (changelog_refused),
	 * never after. */
	tsa_mutex vmu;
	bool active;      /* took over, not fenced */
	uint64_t epoch;   /* the epoch taken over with */
	int64_t next_off; /* the offset after this instance's last checked record */
	rd_kafka_t *scan; /* a consumer reading an unexpected stretch; made when needed */
	/* Appends the log acknowledged (and the order check passed) whose
	 * store write has not been reported yet (changelog_written). Groups
	 * and seals write on different threads, so a later record's write
	 * may land before an earlier one's: its position is held back to the
	 * earlier one's (changelog_append), and a copy of the store is at no
	 * position past the lowest of these (changelog_snapshot). */
	struct unwritten {
		int64_t offset;
		const store_batch *wb; /* NULL until changelog_append returns it */
		/* Refused after the log took it (changelog_refused): the undo
		 * generation its undoing joined at (undo_gen), and it holds
		 * positions back until a record carrying that undoing is
		 * written; 0: not refused. */
		uint64_t refused;
		/* It carries the undoing of every refusal up to this
		 * generation (0: none): once written, those no longer hold
		 * positions back. */
		uint64_t carries;
	} * unw;
	size_t nunw, capunw;
	/* A copy of an idle active may say its last checked record as its
	 * position; false for good once an append failed (it may have landed
	 * unacknowledged) or a store write after one did. */
	bool past_beats;
	_Atomic bool is_active, is_fenced, is_unchecked;
	/* The last report said the cluster is out of reach (a copy timed
	 * out, no broker, too few replicas): with durability = replicated,
	 * one append at a time is
	 * produced as a probe (probing) and the others are refused at once,
	 * unproduced, until a record (the probe, or a beat) is acknowledged
	 * again. Set and cleared by on_delivery; cleared by a takeover. */
	_Atomic bool failing, probing;
	/* Monotonic ms when the last record whose order check passed was
	 * produced (its report's latency back from the report): no takeover
	 * can land before it + takeover_ms (a standby waits that long after
	 * the last record it saw), so until then, less a beat, this
	 * instance is surely the writer (changelog_may_send). */
	_Atomic uint64_t checked_ms;
	_Atomic uint64_t gap; /* the store's EKEY_LOG_GAP, as last read or written */
	_Atomic uint64_t epoch_pub;
	_Atomic uint64_t writer_pub; /* changelog_writer */

	/* The follower (changelog_follow.c), which keeps the held records
	 * going once active. */
	pthread_t follower;
	bool following;
	_Atomic bool follow_stop;
	_Atomic bool follow_failed; /* the follower stopped on a record it could not apply */
	_Atomic bool needs_copy;    /* changelog_needs_copy */
	store *db;                  /* the store replayed into, and holding the held records */
	changelog_sink sink;

	/* Held records (durability = local): degraded and qnext under mu;
	 * held counts them (added under mu, taken by changelog_drain). */
	bool degraded;
	uint64_t qnext; /* the next 'Q' key's number */
	_Atomic uint64_t held;
	_Atomic uint64_t last_held_ms; /* monotonic: the last record held */
	_Atomic bool is_degraded;

	/* Under mu: the undoing of refused appends whose copy may yet land
	 * (a timeout): for each key they wrote, its value in the store (or
	 * its deletion), carried at the head of the next record, one carrier
	 * in flight at a time (a second one could land after a newer write
	 * of one of its keys), until a carrier lands (acknowledged, or held
	 * in order). undo gathers
	 * what is not carried yet (undo_pending: it holds some); undo_out is
	 * what the carrier in flight holds (NULL: none), given back to undo
	 * if it fails. */
	store_batch *undo, *undo_out;
	bool undo_pending;
	uint64_t undo_gen; /* refusals undone so far (the undoing's generation) */
	/* Under mu: held records (durability = local) that carry an
	 * undoing, oldest first: the record's 'Q' number and the generation
	 * it carries. Once drained and written, it releases the refusals it
	 * undid (changelog_held.c). */
	struct held_carrier {
		uint64_t q, gen;
	} * hcar;
	size_t nhcar, caphcar;

	metric *appends, *failures, *bytes, *latency;
	/* Delivery reports that failed, by the error the cluster gave
	 * (changelog.c's delivery_kinds), and one log line a second. */
	metric *delivery_errors[CHANGELOG_DELIVERY_KINDS];
	log_limit delivery_log;
	metric *g_active, *g_epoch, *takeovers, *takeovers_void, *replayed, *voided;
	/* The last takeover the follower won: monotonic ms from the log's
	 * last record before it to the writer's being ready (0: none yet),
	 * rendered in seconds at scrape time (changelog.c). */
	_Atomic uint64_t takeover_last_ms;
	metric *g_held, *g_degraded, *drained, *orphaned, *g_gap, *g_unwritten, *g_stopped;
};

/* The changelog's mutexes (mu, pmu, vmu) are taken and let go through
 * these, which clang's thread safety analysis follows (tsa.h); a
 * function below that needs one held says so. */
static inline void changelog_lock(tsa_mutex *m) TSA_ACQUIRE(*m) TSA_NO_ANALYSIS
{
	pthread_mutex_lock(m);
}

static inline void changelog_unlock(tsa_mutex *m) TSA_RELEASE(*m) TSA_NO_ANALYSIS
{
	pthread_mutex_unlock(m);
}

/* --- the log itself (changelog_log.c) ---------------------------------------- */

/* The producer's conf: its cluster, its timeouts, and the delivery
 * report's check (on_delivery, with the changelog as the conf's opaque,
 * which the caller sets). NULL with the reason in err. */
rd_kafka_conf_t *changelog_producer_conf(const changelog_opts *o, char *err, size_t errlen);
/* A consumer of the changelog's cluster (no group: partitions are
 * assigned). NULL with the reason in err. */
rd_kafka_t *changelog_consumer(const changelog_opts *o, char *err, size_t errlen);

/* Calls fn for each record of the edge's partition in [from, until),
 * read with rk; a record that fn refuses (nonzero) ends the read with
 * that value. 0, fn's value, ERR_KAFKA (with the reason in err) or
 * ERR_TIMEOUT (the read stalled). */
typedef int (*changelog_record_fn)(void *ctx, const rd_kafka_message_t *m);
int changelog_read(rd_kafka_t *rk, const changelog_opts *o, int64_t from, int64_t until,
                   changelog_record_fn fn, void *ctx, char *err, size_t errlen);

/* Produces rec with w (NULL: no one waits) as its opaque: 0, or
 * ERR_KAFKA (the producer refused it; logged). */
int changelog_produce(changelog *cl, const sbuf *rec, waiter *w);
/* Under pmu, which it lets go meanwhile: serves the producer's queued
 * callbacks for up to ms, unless another thread is serving them (then
 * false at once, having served none). */
bool changelog_serve(changelog *cl, int ms) TSA_REQUIRES(cl->pmu);
/* w's report (its record produced), or, past the monotonic deadline
 * until_ms, still w's report: its outcome, and its offset in *offset. */
int changelog_report_wait(changelog *cl, waiter *w, uint64_t until_ms, int64_t *offset);
/* Produces rec as this instance's and waits for its report: 0 with the
 * offset, or ERR_TIMEOUT/ERR_KAFKA/ERR_FENCED (the order check's). */
int changelog_produce_wait(changelog *cl, const sbuf *rec, int64_t *offset);
/* With durability = replicated, the last report said the cluster is out
 * of reach: appends go one at a time, as probes. */
bool changelog_failing(const changelog *cl);
/* The label of delivery error kind k (< CHANGELOG_DELIVERY_KINDS). */
const char *changelog_delivery_kind(size_t k);

/* A report's offset (RD_KAFKA_OFFSET_INVALID: in the log, where unknown)
 * checked against this instance's last: 0 when the record counts, else
 * the append's error (ERR_FENCED: a takeover came between, and this
 * instance steps down). Called by the delivery report. */
int changelog_order_check(changelog *cl, int64_t offset) TSA_REQUIRES(cl->vmu);

/* After a won takeover at offset at, with its epoch and writer time:
 * active, appends checked from at + 1. */
void changelog_set_active(changelog *cl, uint64_t epoch, uint64_t writer_ms, int64_t at);

/* An active that cannot write gives the log up: no more appends or
 * beats, and changelog_fenced is true (the edge exits). */
void changelog_step_down(changelog *cl);

/* --- held records (changelog_held.c) ----------------------------------------- */

/* At a takeover: the records db still holds for the log (held before a
 * restart) are counted, and the changelog is degraded until they are
 * appended. 0 or the store's error. */
int changelog_held_load(changelog *cl, store *db);

/* Under mu: rec held in wb (changelog_held.c), which is to be fsynced;
 * the changelog is degraded from now until changelog_drain has appended
 * it. carries: the undo generation rec carries (0: none). */
void changelog_hold(changelog *cl, store_batch *wb, const sbuf *rec, uint64_t carries)
    TSA_REQUIRES(cl->mu);

/* What the log holds and this store does not (changelog_undo.c). */
/* Under vmu: the acknowledged append at offset, whose store write follows. */
void changelog_unwritten_add(changelog *cl, int64_t offset) TSA_REQUIRES(cl->vmu);
/* The position a store write may say after the record at offset: the
 * one after it, held back to the lowest append not written yet; with
 * wb, wb is attached to offset's own entry, with the undo generation it
 * carries, for changelog_written. */
int64_t changelog_written_position(changelog *cl, const store_batch *wb, int64_t offset,
                                   uint64_t carries);
/* A record carrying the undoing of every refusal up to generation gen
 * is written at offset: those refused before it no longer hold
 * positions back. */
void changelog_undone(changelog *cl, uint64_t gen, int64_t offset);
/* wb's record was refused and may yet land: every key it wrote (a held
 * record's too) is undone by the next group's record. Its generation,
 * or 0 when it cannot be undone (no store). */
uint64_t changelog_undo_add(changelog *cl, const store_batch *wb);
/* The record of wb at the current epoch in rec, with the pending
 * undoing at its head when wb is a group's (group) and no carrier is
 * out; *carried: the generation it carries (then changelog_undo_end
 * once its outcome is known), else 0. */
void changelog_encode_with_undo(changelog *cl, const store_batch *wb, bool group, sbuf *rec,
                                uint64_t *carried);
/* A carrier's outcome: landed (acknowledged, or held in order), or not,
 * and then its undoing goes with the next record. */
void changelog_undo_end(changelog *cl, bool landed);

#endif
