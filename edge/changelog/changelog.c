/* changelog.c - the edge's writes appended to the region's Kafka before
 * they count, each checked against the log's order (changelog.h).
 *
 * An append encodes the store batch, produces it under the mutex (so the
 * log holds appends in the order callers took it) with a waiter of its
 * own as the message's opaque, and waits for the delivery report. The
 * waiting appender serves the producer's queue itself (rd_kafka_poll),
 * one thread at a time; another appender waits for it to, or for its
 * turn. on_delivery checks each report before it marks the waiter done:
 * the record's offset must follow the last checked one of this instance
 * (next_off), or every record between the two is read (scan) and must
 * hold no takeover of a higher epoch. The first one found fences the
 * instance for good. librdkafka gives a message up after timeout_ms
 * (message.timeout.ms), so every append ends with a report; the wait's
 * own deadline, a second later, only guards against one that never
 * comes. The changelog's own thread serves, every slice, the reports no
 * appender waits for (a beat's), and appends a beat when the active has
 * produced nothing for beat_ms, so followers can tell a live active from
 * a silent log.
 *
 * Owns: the producer, its beat thread, the order check's state (vmu),
 * its metrics; the appends not yet in the store and the undoing of
 * refused ones are changelog_undo.c's. A waiter lives on its appender's stack and is touched by
 * whichever thread serves its report until it is marked done.
 */
#include "edge/changelog/changelog_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "clock.h"
#include "log.h"
#include "xmem.h"

#define BEAT_MS_DEFAULT 500
#define TAKEOVER_MS_DEFAULT 2000
#define FOLLOW_FETCH_WAIT_MS "50"
#define RECONNECT_MAX_MS 1000 /* the longest pause between reconnects, whatever the beat */

/* One append's wait for its delivery report; done, rc and offset under
 * the changelog's pmu. */
typedef struct waiter {
	bool track; /* a store write follows: kept unwritten until it is reported */
	bool done;
	int rc; /* 0, ERR_TIMEOUT, ERR_KAFKA or ERR_FENCED */
	int64_t offset;
} waiter;

void changelog_put_u64(store_batch *wb, enum ekey_tag tag, uint64_t v)
{
	unsigned char b[8];
	store_put_u64(b, v);
	store_batch_put(wb, ekey_prefix(tag), 1, b, 8);
}

int changelog_read_u64(store *db, enum ekey_tag tag, uint64_t *v)
{
	int rc = store_read_u64(db, ekey_prefix(tag), 1, v);
	if (rc == ERR_NOTFOUND) {
		*v = 0;
		return 0;
	}
	return rc;
}

/* --- the client's configuration --------------------------------------------- */

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
	return bus_conf_set(conf, "changelog", k, v, err, errlen);
}

/* A conf of role for the changelog's cluster: bus.h's defaults for the
 * role, then its own bootstrap list (not [kafka]'s: another cluster).
 *
 * Reconnects are tried at least every beat_ms. librdkafka's default lets
 * the pause between tries grow to 10 s while the cluster is out of reach;
 * when it comes back, a follower that happened to reconnect first would
 * find the log silent for takeover_ms and take over from an active that
 * is alive and merely still waiting to reconnect (and holding writes on
 * its disk, with durability = local, that the takeover makes void). With
 * the cap the active's first beat lands within about 1.5 beats (the pause
 * has up to +50% jitter) of the cluster's return, well inside
 * takeover_ms >= timeout_ms + 2 beats. Nor longer than RECONNECT_MAX_MS:
 * writes held on this disk wait for the first reconnect after an outage,
 * and a long beat (60 s) once let that pause grow past 20 s.
 *
 * Nagle's algorithm is off on the broker connections: with group copies
 * pipelined (changelog.pipeline), and with a seal's or a beat's record
 * beside a group's, the next ProduceRequest is written while the one
 * before is unacknowledged on the wire, and Nagle would hold it back
 * until the broker's delayed ACK, up to 40 ms later. */
static rd_kafka_conf_t *conf_new(enum bus_role role, const changelog_opts *o, char *err,
                                 size_t errlen)
{
	bus_props none = {NULL, NULL, NULL};
	const char *file = o->brokers && o->brokers[0] ? NULL : o->bootstrap_file;
	rd_kafka_conf_t *conf =
	    bus_conf_new(role, &none, file, "likes-edge-changelog", err, errlen);
	if (!conf)
		return NULL;
	int beat = o->beat_ms > 0 ? o->beat_ms : BEAT_MS_DEFAULT;
	int cap = beat < RECONNECT_MAX_MS ? beat : RECONNECT_MAX_MS;
	char first[16], most[16];
	snprintf(first, sizeof first, "%d", cap < 100 ? cap : 100);
	snprintf(most, sizeof most, "%d", cap);
	if ((o->brokers && o->brokers[0] &&
	     conf_set(conf, "bootstrap.servers", o->brokers, err, errlen)) ||
	    conf_set(conf, "reconnect.backoff.ms", first, err, errlen) ||
	    conf_set(conf, "reconnect.backoff.max.ms", most, err, errlen) ||
	    conf_set(conf, "socket.nagle.disable", "true", err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

rd_kafka_t *changelog_consumer(const changelog_opts *o, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = conf_new(BUS_CONSUMER, o, err, errlen);
	if (!conf)
		return NULL;
	/* A broker answers a connection's requests in order, so a question
	 * about the log's end waits behind a fetch that waits for data: keep
	 * that wait short (the mock cluster waits all of it even when data
	 * comes; a real one answers as soon as there is some). */
	if (conf_set(conf, "fetch.wait.max.ms", FOLLOW_FETCH_WAIT_MS, err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return bus_client_new(BUS_CONSUMER, conf, err, errlen);
}

/* --- the order check -------------------------------------------------------- */

/* changelog_read's callback for a scan: a takeover above epoch fences. */
static int scan_record(void *ctx, const rd_kafka_message_t *m)
{
	const changelog *cl = ctx;
	changelog_head h;
	store_batch *none = store_batch_new();
	int rc = changelog_decode(m->payload, m->len, &h, none);
	store_batch_free(none);
	if (rc == 0 && h.kind == CHANGELOG_TAKEOVER && h.epoch > cl->epoch) {
		log_error("changelog taken over by another instance: this one is fenced",
		          "topic=%s partition=%d offset=%" PRId64 " epoch=%" PRIu64 " mine=%" PRIu64
		          " by=%.*s",
		          cl->topic, (int)cl->o.partition, m->offset, h.epoch, cl->epoch,
		          (int)(h.instance_len < 128 ? h.instance_len : 128), h.instance);
		return ERR_FENCED;
	}
	return 0; /* this instance's own, an older epoch's (void), or a beat */
}

/* Under vmu: the records in [next_off, offset) read and checked. */
static int scan_gap(changelog *cl, int64_t offset)
{
	char err[256];
	if (!cl->scan && !(cl->scan = changelog_consumer(&cl->o, err, sizeof err))) {
		log_error("changelog order check: no consumer", "err=\"%s\"", err);
		return ERR_KAFKA;
	}
	int rc = changelog_read(cl->scan, &cl->o, cl->next_off, offset, scan_record, cl, err,
	                        sizeof err);
	if (rc && rc != ERR_FENCED)
		log_error("changelog order check: cannot read the records before this one",
		          "from=%" PRId64 " to=%" PRId64 " err=\"%s\"", cl->next_off, offset, err);
	return rc;
}

/* Under vmu: may the record at offset count? 0, or the append's error. */
static int order_check(changelog *cl, int64_t offset)
{
	if (!cl->active)
		return atomic_load(&cl->is_fenced) ? ERR_FENCED : 0; /* a takeover's own */
	if (offset < cl->next_off) {
		log_error("changelog record before this instance's last one",
		          "offset=%" PRId64 " expected=%" PRId64, offset, cl->next_off);
		return ERR_KAFKA;
	}
	int rc = offset == cl->next_off ? 0 : scan_gap(cl, offset);
	if (rc == ERR_FENCED) {
		cl->active = false;
		atomic_store(&cl->is_active, false);
		atomic_store(&cl->is_fenced, true);
		if (cl->g_active)
			metric_set(cl->g_active, 0);
		return rc;
	}
	if (rc)
		return ERR_TIMEOUT; /* not known to count: the write is refused */
	cl->next_off = offset + 1;
	return 0;
}

void changelog_step_down(changelog *cl)
{
	pthread_mutex_lock(&cl->vmu);
	cl->active = false;
	pthread_mutex_unlock(&cl->vmu);
	atomic_store(&cl->is_active, false);
	atomic_store(&cl->is_fenced, true);
	if (cl->g_active)
		metric_set(cl->g_active, 0);
}

void changelog_set_active(changelog *cl, uint64_t epoch, uint64_t writer_ms, int64_t at)
{
	pthread_mutex_lock(&cl->vmu);
	cl->active = true;
	cl->epoch = epoch;
	cl->next_off = at + 1;
	pthread_mutex_unlock(&cl->vmu);
	atomic_store(&cl->epoch_pub, epoch);
	atomic_store(&cl->writer_pub, writer_ms);
	atomic_store(&cl->failing, false); /* its takeover record got through */
	atomic_store(&cl->checked_ms, clock_mono_ms());
	atomic_store(&cl->is_active, true);
	if (cl->g_active) {
		metric_set(cl->g_active, 1);
		metric_set(cl->g_epoch, (int64_t)epoch);
	}
}

/* --- appending -------------------------------------------------------------- */

/* A report's error says the cluster is out of reach (or too few of its
 * replicas are), not that this one record was refused (too large,
 * say): only then are the appends after it refused unproduced while a
 * probe is out. librdkafka retries such errors until message.timeout.ms,
 * so a report mostly says "timed out". */
static bool unreachable(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR__TRANSPORT:
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
	case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
	case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
	case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
	case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION: return true;
	default: return false;
	}
}

/* With durability = replicated, the last report said the cluster is out
 * of reach: appends go one at a time, as probes (changelog_int.h). */
static bool failing(const changelog *cl)
{
	return cl->o.durability == CHANGELOG_REPLICATED && atomic_load(&cl->failing);
}

/* The delivery errors counted apart: what an operator must tell from a
 * slow cluster (min.insync.replicas not met, before or after the leader
 * appended: docs/ops.md). */
static const struct {
	rd_kafka_resp_err_t err;
	const char *label;
} delivery_kinds[] = {
    {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, "not_enough_replicas"},
    {RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, "not_enough_replicas_after_append"},
    {RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, "timed_out"},
    {RD_KAFKA_RESP_ERR_NO_ERROR, "other"}, /* any other: last */
};
_Static_assert(sizeof delivery_kinds / sizeof delivery_kinds[0] == CHANGELOG_DELIVERY_KINDS,
               "a counter per kind");

/* A failed delivery: counted by kind and logged once a second, with
 * the error's name (the write it carried is refused). */
static void delivery_failed(changelog *cl, const rd_kafka_message_t *m)
{
	size_t k = 0;
	while (k + 1 < sizeof delivery_kinds / sizeof delivery_kinds[0] &&
	       delivery_kinds[k].err != m->err)
		k++;
	if (cl->delivery_errors[k])
		metric_add(cl->delivery_errors[k], 1);
	uint64_t skipped;
	if (log_every(&cl->delivery_log, 1000, &skipped))
		log_warn("changelog append not acknowledged",
		         "err=%s partition=%d similar_since_last=%" PRIu64,
		         rd_kafka_err2name(m->err), (int)cl->o.partition, skipped);
}

/* The thread serving the queue (rd_kafka_poll): each delivery report
 * checked, then to its waiter (none for a beat). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	changelog *cl = opaque;
	waiter *w = m->_private;
	int rc;
	atomic_store(&cl->failing, unreachable(m->err));
	if (m->err) {
		rc = m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ? ERR_TIMEOUT : ERR_KAFKA;
		delivery_failed(cl, m);
	} else {
		pthread_mutex_lock(&cl->vmu);
		rc = order_check(cl, m->offset);
		if (rc == 0 && w && w->track && cl->active)
			changelog_unwritten_add(cl, m->offset);
		int64_t us = rd_kafka_message_latency(m); /* from its produce call; -1: unknown */
		if (rc == 0 && cl->active && us >= 0) {
			uint64_t now = clock_mono_ms(), back = (uint64_t)us / 1000 + 1;
			uint64_t at = now > back ? now - back : 0;
			if (at > atomic_load(&cl->checked_ms))
				atomic_store(&cl->checked_ms, at);
		}
		pthread_mutex_unlock(&cl->vmu);
	}
	if (!w)
		return;
	pthread_mutex_lock(&cl->pmu);
	w->rc = rc;
	w->offset = m->offset;
	w->done = true;
	if (cl->nwait)
		pthread_cond_broadcast(&cl->pcv);
	pthread_mutex_unlock(&cl->pmu);
}

/* Produces rec with w (NULL: no one waits) as its opaque. */
static int produce(changelog *cl, const sbuf *rec, waiter *w)
{
	pthread_mutex_lock(&cl->mu);
	int r = rd_kafka_produce(cl->rkt, cl->o.partition, RD_KAFKA_MSG_F_COPY, rec->p, rec->len,
	                         cl->edge_id, strlen(cl->edge_id), w);
	rd_kafka_resp_err_t perr = r ? rd_kafka_last_error() : RD_KAFKA_RESP_ERR_NO_ERROR;
	if (!r)
		atomic_store(&cl->last_produce_ms, clock_mono_ms());
	pthread_mutex_unlock(&cl->mu);
	if (r) {
		log_error("changelog produce refused", "err=\"%s\"", rd_kafka_err2str(perr));
		return ERR_KAFKA;
	}
	return 0;
}

/* The active's beat, from the beat thread, when it has produced
 * nothing for beat_ms. */
static void beat(changelog *cl)
{
	uint64_t now = clock_mono_ms();
	if (!atomic_load(&cl->is_active) ||
	    now - atomic_load(&cl->last_produce_ms) < (uint64_t)cl->o.beat_ms)
		return;
	sbuf rec;
	sbuf_init(&rec);
	changelog_encode_beat(atomic_load(&cl->epoch_pub), &rec);
	(void)produce(cl, &rec, NULL); /* a lost beat: the next one, or a takeover */
	sbuf_free(&rec);
}

/* Serves the producer's queued callbacks for up to ms, unless another
 * thread is serving them (then returns false at once, having served
 * none). Under pmu, which it lets go while it polls. */
static bool serve(changelog *cl, int ms)
{
	if (cl->in_poll)
		return false;
	cl->in_poll = true;
	pthread_mutex_unlock(&cl->pmu);
	rd_kafka_poll(cl->rk, ms);
	pthread_mutex_lock(&cl->pmu);
	cl->in_poll = false;
	if (cl->nwait)
		pthread_cond_broadcast(&cl->pcv); /* a waiter may serve now */
	return true;
}

/* Every slice, until changelog_free: the reports no appender waits for
 * (a beat's, or one that came before its appender began to wait),
 * without waiting, then a beat when one is due. It never waits in the producer's queue: an appender
 * waiting there is woken by the report itself, not through this thread
 * (a thread hop, two context switches, on every append). */
static void *beat_loop(void *arg)
{
	changelog *cl = arg;
	int slice = cl->o.beat_ms / 4 > 0 ? cl->o.beat_ms / 4 : 1;
	if (slice > CHANGELOG_POLL_MS)
		slice = CHANGELOG_POLL_MS;
	struct timespec nap = {.tv_sec = slice / 1000, .tv_nsec = (long)(slice % 1000) * 1000000};
	while (!atomic_load_explicit(&cl->stop, memory_order_relaxed)) {
		pthread_mutex_lock(&cl->pmu);
		(void)serve(cl, 0);
		pthread_mutex_unlock(&cl->pmu);
		beat(cl);
		nanosleep(&nap, NULL);
	}
	return NULL;
}

/* Until w is reported or the monotonic deadline until_ms (0: none)
 * passes: serves the producer's queue while no other thread does, else
 * waits for that thread to. true when w is done. */
static bool await_report(changelog *cl, waiter *w, uint64_t until_ms)
{
	pthread_mutex_lock(&cl->pmu);
	cl->nwait++;
	while (!w->done) {
		int ms = CHANGELOG_POLL_MS;
		if (until_ms) {
			uint64_t now = clock_mono_ms();
			if (now >= until_ms)
				break;
			if (until_ms - now < (uint64_t)ms)
				ms = (int)(until_ms - now);
		}
		if (!serve(cl, ms)) {
			struct timespec next = clock_mono_deadline((unsigned)ms);
			(void)pthread_cond_timedwait(&cl->pcv, &cl->pmu, &next);
		}
	}
	cl->nwait--;
	bool done = w->done;
	pthread_mutex_unlock(&cl->pmu);
	return done;
}

/* w's report (its record produced), or, past the deadline until_ms,
 * still w's report: its outcome, and its offset in *offset. */
static int report_wait(changelog *cl, waiter *w, uint64_t until_ms, int64_t *offset)
{
	if (!await_report(cl, w, until_ms)) {
		/* The report may still come, to a waiter that is gone: cannot
		 * happen while librdkafka keeps message.timeout.ms, so say so
		 * loudly and do not let it touch the waiter's memory. */
		log_error("changelog report overdue; waiting for it", "timeout_ms=%d",
		          cl->o.timeout_ms);
		(void)await_report(cl, w, 0);
	}
	pthread_mutex_lock(&cl->pmu);
	int rc = w->rc;
	*offset = w->offset;
	pthread_mutex_unlock(&cl->pmu);
	return rc;
}

int changelog_produce_wait(changelog *cl, const sbuf *rec, int64_t *offset)
{
	waiter w = {.track = false, .done = false, .offset = -1};
	int rc = produce(cl, rec, &w);
	if (rc == 0)
		rc = report_wait(
		    cl, &w, clock_mono_ms() + (uint64_t)cl->o.timeout_ms + REPORT_GRACE_MS, offset);
	return rc;
}

/* An append begun (changelog_append_begin) and not ended: its record,
 * its waiter (the delivery report's opaque, so it stays put until the
 * report), and, when begin settled it already (not active, held, not
 * produced), its outcome. */
struct changelog_pending {
	waiter w;
	sbuf rec;
	uint64_t carried; /* it carries the undoing up to this generation */
	bool local;       /* durability = local and may_defer */
	bool settled;     /* rc is final: no report to wait for */
	bool unsent;      /* settled because the producer refused it, or unproduced (failing) */
	bool probe;       /* produced while failing: the one probe (probing) */
	int rc;
	uint64_t t0;       /* monotonic ns: before the produce */
	uint64_t until_ms; /* monotonic: the report's deadline */
};

void *changelog_append_begin(void *ctx, store_batch *wb, bool may_defer)
{
	changelog *cl = ctx;
	changelog_pending *p = xcalloc(1, sizeof *p);
	p->w = (waiter){.track = true, .done = false, .offset = -1};
	sbuf_init(&p->rec);
	if (!atomic_load(&cl->is_active)) {
		p->settled = true;
		p->rc = ERR_FENCED;
		return p;
	}
	if (failing(cl)) {
		/* The region's Kafka took no copy lately: one append probes
		 * it, and the others are refused now rather than after
		 * timeout_ms each. Writes then fail fast (the ledger refuses
		 * them before staging: changelog_refusing), and
		 * the request loop does not wait behind copies doomed to
		 * time out. */
		p->probe = !atomic_exchange(&cl->probing, true);
		if (!p->probe) {
			p->settled = p->unsent = true;
			p->rc = ERR_TIMEOUT;
			return p;
		}
	}
	changelog_encode_with_undo(cl, wb, may_defer, &p->rec, &p->carried);
	p->local = cl->o.durability == CHANGELOG_LOCAL && may_defer;
	if (atomic_load(&cl->is_degraded)) {
		/* Records are held: this one goes after them, or not at all. */
		int rc = ERR_TIMEOUT;
		pthread_mutex_lock(&cl->mu);
		if (cl->degraded && p->local) {
			changelog_hold(cl, wb, &p->rec, p->carried);
			rc = 0;
		}
		bool still = cl->degraded;
		pthread_mutex_unlock(&cl->mu);
		if (still) {
			if (p->carried)
				changelog_undo_end(cl, rc == 0);
			p->carried = 0;
			p->settled = true;
			p->rc = rc;
			p->local = false; /* held already, or refused: nothing more to hold */
			return p;
		}
	}
	p->t0 = clock_mono_ns();
	p->rc = produce(cl, &p->rec, &p->w);
	p->until_ms = clock_mono_ms() + (uint64_t)cl->o.timeout_ms + REPORT_GRACE_MS;
	p->settled = p->unsent = p->rc != 0;
	return p;
}

int changelog_append_end(void *ctx, store_batch *wb, void *pending)
{
	changelog *cl = ctx;
	changelog_pending *p = pending;
	int64_t offset = -1;
	bool produced = !p->settled;
	int rc = produced ? report_wait(cl, &p->w, p->until_ms, &offset) : p->rc;
	if (p->probe)
		atomic_store(&cl->probing, false); /* its report set failing, or not */
	if (p->local && (rc == ERR_TIMEOUT || rc == ERR_KAFKA)) {
		/* Held, in order, with the undoing it carried: what may land
		 * late is written again after it. */
		pthread_mutex_lock(&cl->mu);
		changelog_hold(cl, wb, &p->rec, p->carried);
		pthread_mutex_unlock(&cl->mu);
		if (p->carried)
			changelog_undo_end(cl, true);
		if (cl->failures)
			metric_add(cl->failures, 1);
		sbuf_free(&p->rec);
		free(p);
		return 0;
	}
	if (!produced) {
		/* Settled at begin: not active, held, or refused by the
		 * producer (nothing reached the log). */
		if (p->unsent && cl->failures)
			metric_add(cl->failures, 1);
		if (p->carried)
			changelog_undo_end(cl, false);
		sbuf_free(&p->rec);
		free(p);
		return rc;
	}
	if (p->carried)
		changelog_undo_end(cl, rc == 0);
	if (rc && rc != ERR_FENCED) {
		/* The record may be in the log all the same, past next_off one
		 * day: a copy's position no longer passes the store's own. */
		pthread_mutex_lock(&cl->vmu);
		cl->past_beats = false;
		pthread_mutex_unlock(&cl->vmu);
	}
	if (rc == 0) {
		changelog_put_u64(wb, EKEY_LOG_POSITION,
		                  (uint64_t)changelog_written_position(cl, wb, offset, p->carried));
		if (cl->appends) {
			metric_add(cl->appends, 1);
			metric_add(cl->bytes, p->rec.len);
			metric_observe(cl->latency, (double)(clock_mono_ns() - p->t0) / 1e9);
		}
	} else {
		if (rc != ERR_FENCED)
			log_error("changelog append failed", "err=\"%s\"", err_str(rc));
		if (cl->failures)
			metric_add(cl->failures, 1);
	}
	sbuf_free(&p->rec);
	free(p);
	return rc;
}

int changelog_append(changelog *cl, store_batch *wb, bool may_defer)
{
	int rc = changelog_append_end(cl, wb, changelog_append_begin(cl, wb, may_defer));
	/* A group refused here whose copy may land yet is undone. A seal's
	 * copy is not: it is tried again under the same sequence, over the
	 * same keys, and a late copy holds what a later retry rewrites. */
	if (rc && rc != ERR_FENCED && may_defer)
		(void)changelog_undo_add(cl, wb);
	return rc;
}

bool changelog_may_send(void *ctx)
{
	const changelog *cl = ctx;
	if (!atomic_load(&cl->is_active))
		return false;
	uint64_t lease = (uint64_t)(cl->o.takeover_ms - cl->o.beat_ms);
	return clock_mono_ms() < atomic_load(&cl->checked_ms) + lease;
}

bool changelog_refusing(void *ctx)
{
	changelog *cl = ctx;
	return atomic_load(&cl->is_active) && failing(cl) && atomic_load(&cl->probing);
}

bool changelog_active(const changelog *cl)
{
	return atomic_load(&cl->is_active);
}

bool changelog_fenced(const changelog *cl)
{
	return atomic_load(&cl->is_fenced);
}

uint64_t changelog_epoch(const changelog *cl)
{
	return atomic_load(&cl->epoch_pub);
}

uint64_t changelog_writer(const changelog *cl)
{
	return atomic_load(&cl->writer_pub);
}

uint64_t changelog_gap(const changelog *cl)
{
	return atomic_load(&cl->gap);
}

bool changelog_needs_copy(const changelog *cl)
{
	return atomic_load(&cl->needs_copy);
}

/* --- life ------------------------------------------------------------------- */

static void metrics_make(changelog *cl, metrics *reg)
{
	char edge[96]; /* the edge, which its instances share: alerts sum by it */
	snprintf(edge, sizeof edge, "edge=\"%s\"", cl->edge_id);
	cl->appends =
	    metrics_counter(reg, "changelog_appends_total",
	                    "Store writes appended to the changelog and acknowledged.", NULL);
	cl->failures = metrics_counter(
	    reg, "changelog_append_failures_total",
	    "Appends the changelog's cluster did not acknowledge, or that a takeover voided (the "
	    "write was refused).",
	    NULL);
	for (size_t k = 0; k < sizeof delivery_kinds / sizeof delivery_kinds[0]; k++) {
		char labels[64];
		snprintf(labels, sizeof labels, "error=\"%s\"", delivery_kinds[k].label);
		cl->delivery_errors[k] = metrics_counter(
		    reg, "changelog_delivery_errors_total",
		    "Appends the changelog's cluster answered with an error, by the error: "
		    "not_enough_replicas (fewer in sync than min.insync.replicas; nothing "
		    "appended), "
		    "not_enough_replicas_after_append (the leader appended, then lost its ISR), "
		    "timed_out (no answer within timeout_ms; the record may be in the log), other.",
		    labels);
	}
	cl->bytes = metrics_counter(reg, "changelog_bytes_total",
	                            "Bytes of acknowledged changelog records.", NULL);
	static const double bounds[] = {0.00025, 0.0005, 0.001, 0.0025, 0.005,
	                                0.01,    0.025,  0.05,  0.1,    1};
	cl->latency = metrics_histogram(
	    reg, "changelog_append_duration_seconds",
	    "From an append's produce call to the cluster's acknowledgement, checked.", NULL,
	    bounds, sizeof bounds / sizeof bounds[0]);
	cl->g_active = metrics_gauge(reg, "changelog_active",
	                             "1 while this instance is the edge's active one (it took over "
	                             "the changelog and was not fenced), else 0.",
	                             edge);
	cl->g_epoch = metrics_gauge(reg, "changelog_epoch",
	                            "The epoch this instance took the changelog over with.", NULL);
	cl->takeovers =
	    metrics_counter(reg, "changelog_takeovers_total", "Takeovers this instance won.", NULL);
	cl->replayed = metrics_counter(
	    reg, "changelog_replayed_records_total",
	    "Changelog records this instance applied to its store as a follower or at a restore.",
	    NULL);
	cl->voided = metrics_counter(
	    reg, "changelog_voided_records_total",
	    "Changelog records skipped at replay: written under an epoch taken over from.", NULL);
	cl->g_held = metrics_gauge(
	    reg, "changelog_held_records",
	    "Writes held on this machine's disk for the changelog (durability = local, the "
	    "region's Kafka out of reach): answered, and on one machine only until appended.",
	    NULL);
	cl->g_degraded = metrics_gauge(
	    reg, "changelog_degraded",
	    "1 while writes are held on this machine's disk for the changelog, else 0.", NULL);
	cl->drained =
	    metrics_counter(reg, "changelog_drained_records_total",
	                    "Held writes appended to the changelog once it was back.", NULL);
	cl->orphaned = metrics_counter(
	    reg, "changelog_orphaned_records_total",
	    "Held writes another instance's takeover voided before they were appended: "
	    "answered, kept in this store, and not in the region's log.",
	    NULL);
	cl->g_gap = metrics_gauge(
	    reg, "changelog_gap_records",
	    "Records the changelog lost before this instance's store read them (retention, "
	    "truncation): above 0, this instance never takes over; rebuild its store.",
	    NULL);
	cl->g_stopped = metrics_gauge(
	    reg, "changelog_follow_stopped",
	    "1 once this standby stopped following the changelog at a record it could not apply "
	    "(its log says which): it never takes over; fix the cause and rebuild its store.",
	    NULL);
	cl->g_unwritten = metrics_gauge(
	    reg, "changelog_unwritten_appends",
	    "Appends the changelog acknowledged whose store write has not landed yet: each holds "
	    "back the position the store and its copies say. Above 0 for long: a store write "
	    "failed after its append, and a restart replays the log from there.",
	    NULL);
}

/* Scrape time: the last takeover's duration, which the follower keeps in
 * milliseconds, as the seconds Prometheus's base unit asks for (a gauge
 * of metrics.h holds an integer: whole seconds would round a takeover of
 * 1.9 s down to 1). */
static void render(const metrics *m, void *obj, sbuf *out)
{
	const changelog *cl = obj;
	metrics_single(m, out, "changelog_takeover_seconds", METRIC_GAUGE,
	               "The last takeover this instance won as a standby, in seconds: from the "
	               "log's last record before it to the writer's being ready (0 before the "
	               "first).",
	               (double)atomic_load(&cl->takeover_last_ms) / 1000.0);
}

int changelog_timing_check(const changelog_opts *o, char *err, size_t errlen)
{
	int64_t beat = o->beat_ms > 0 ? o->beat_ms : BEAT_MS_DEFAULT;
	int64_t takeover = o->takeover_ms > 0 ? o->takeover_ms : TAKEOVER_MS_DEFAULT;
	if (takeover >= (int64_t)o->timeout_ms + 2 * beat)
		return 0;
	snprintf(err, errlen,
	         "takeover_ms (%" PRId64 ") must be at least timeout_ms (%d) + 2 x beat_ms "
	         "(%" PRId64 "): a live active would be taken over from",
	         takeover, o->timeout_ms, beat);
	return ERR_CONFIG;
}

changelog *changelog_new(const changelog_opts *o, char *err, size_t errlen)
{
	if (changelog_timing_check(o, err, errlen))
		return NULL;
	char ms[32];
	snprintf(ms, sizeof ms, "%d", o->timeout_ms);
	rd_kafka_conf_t *conf = conf_new(BUS_PRODUCER, o, err, errlen);
	if (!conf)
		return NULL;
	/* Each append waits for its report: nothing to gain by lingering. A
	 * request in flight counts against the deadline too: a cluster that
	 * takes a record and answers late makes a timeout, not a wait. */
	if (conf_set(conf, "linger.ms", "0", err, errlen) ||
	    conf_set(conf, "message.timeout.ms", ms, err, errlen) ||
	    conf_set(conf, "request.timeout.ms", ms, err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	changelog *cl = xcalloc(1, sizeof *cl);
	cl->past_beats = true;
	rd_kafka_conf_set_opaque(conf, cl);
	cl->o = *o;
	cl->topic = xstrdup(o->topic);
	cl->edge_id = xstrdup(o->edge_id);
	cl->instance = xstrdup(o->instance ? o->instance : "");
	cl->o.topic = cl->topic;
	cl->o.edge_id = cl->edge_id;
	cl->o.instance = cl->instance;
	if (cl->o.beat_ms <= 0)
		cl->o.beat_ms = BEAT_MS_DEFAULT;
	if (cl->o.takeover_ms <= 0)
		cl->o.takeover_ms = TAKEOVER_MS_DEFAULT;
	/* The bootstrap list stays readable for the consumers made later. */
	if (o->brokers)
		cl->o.brokers = xstrdup(o->brokers);
	if (o->bootstrap_file)
		cl->o.bootstrap_file = xstrdup(o->bootstrap_file);
	pthread_mutex_init(&cl->mu, NULL);
	pthread_mutex_init(&cl->vmu, NULL);
	pthread_mutex_init(&cl->pmu, NULL);
	clock_cond_init(&cl->pcv);
	cl->next_off = -1;
	if (o->reg)
		metrics_make(cl, o->reg);
	if (cl->g_active)
		metric_set(cl->g_active, 0);
	cl->rk = bus_client_new(BUS_PRODUCER, conf, err, errlen);
	if (!cl->rk) {
		changelog_free(cl);
		return NULL;
	}
	cl->rkt = rd_kafka_topic_new(cl->rk, cl->topic, NULL);
	if (!cl->rkt) {
		snprintf(err, errlen, "changelog: topic %s: %s", cl->topic,
		         rd_kafka_err2str(rd_kafka_last_error()));
		changelog_free(cl);
		return NULL;
	}
	if (pthread_create(&cl->beater, NULL, beat_loop, cl)) {
		snprintf(err, errlen, "changelog: cannot start its thread");
		changelog_free(cl);
		return NULL;
	}
	cl->beating = true;
	/* Last, once nothing can fail: from here the registry renders cl,
	 * until changelog_free (changelog_opts.reg). */
	if (o->reg)
		metrics_add_object_hook(o->reg, render, cl);
	return cl;
}

bool changelog_follow_failed(const changelog *cl)
{
	return atomic_load(&cl->follow_failed);
}

void changelog_stop_follow(changelog *cl)
{
	if (!cl || !cl->following)
		return;
	atomic_store(&cl->follow_stop, true);
	pthread_join(cl->follower, NULL);
	cl->following = false;
}

void changelog_free(changelog *cl)
{
	if (!cl)
		return;
	changelog_stop_follow(cl);
	if (cl->beating) {
		atomic_store(&cl->stop, true);
		pthread_join(cl->beater, NULL);
	}
	if (cl->rk) {
		/* What is still in flight reports here, on this thread: the
		 * flush polls the producer without taking in_poll, which is
		 * safe as no appender waits any more (the owner frees the
		 * changelog only after its ledger and follower stopped). */
		rd_kafka_resp_err_t e = rd_kafka_flush(cl->rk, cl->o.timeout_ms);
		if (e)
			log_warn("changelog flush incomplete", "err=\"%s\"", rd_kafka_err2str(e));
	}
	if (cl->rkt)
		rd_kafka_topic_destroy(cl->rkt);
	if (cl->rk)
		rd_kafka_destroy(cl->rk);
	if (cl->scan)
		rd_kafka_destroy(cl->scan);
	store_batch_free(cl->undo);
	store_batch_free(cl->undo_out);
	free(cl->hcar);
	pthread_mutex_destroy(&cl->mu);
	pthread_mutex_destroy(&cl->vmu);
	pthread_mutex_destroy(&cl->pmu);
	pthread_cond_destroy(&cl->pcv);
	free(cl->unw);
	free((char *)cl->o.brokers);
	free((char *)cl->o.bootstrap_file);
	free(cl->topic);
	free(cl->edge_id);
	free(cl->instance);
	free(cl);
}
