/* changelog_log.c - the log itself, below the append, the held records
 * and the follower (changelog_int.h): the clients' configuration, the
 * consumer and the read of a stretch of the log, producing a record and
 * waiting for its delivery report (the waiting thread serves the
 * producer's queue, one at a time), the order check every report passes
 * (an offset after the last checked one, or the records between read:
 * a takeover among them fences), this instance's becoming active and
 * stepping down, and the u64 store keys of the log's place.
 *
 * Owns the order check's state (vmu) and the serving of the producer's
 * queue (pmu); calls only changelog_record.c and changelog_undo.c.
 * Any thread.
 */
#include "edge/changelog/changelog_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "clock.h"
#include "log.h"

#define FOLLOW_FETCH_WAIT_MS "50"
#define RECONNECT_MAX_MS 1000 /* the longest pause between reconnects, whatever the beat */

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
	if (rc) {
		/* A record this binary cannot read lies between two of its own:
		 * a newer instance's, maybe a takeover in a form it does not
		 * know. Fenced, as by one: never two actives. */
		log_error("changelog: a record this instance cannot read lies between two of its "
		          "own; it steps down as if taken over",
		          "topic=%s partition=%d offset=%" PRId64 " err=\"%s\"", cl->topic,
		          (int)cl->o.partition, m->offset, err_str(rc));
		return ERR_FENCED;
	}
	if (changelog_takeover_counts(&h, m->offset) && h.epoch > cl->epoch) {
#ifdef LIKES_MUTANT_NO_FENCE
		return 0; /* the bug put back (make MUTANT=NO_FENCE): not fenced */
#endif
		log_error("changelog taken over by another instance: this one is fenced",
		          "topic=%s partition=%d offset=%" PRId64 " epoch=%" PRIu64 " mine=%" PRIu64
		          " by=%.*s",
		          cl->topic, (int)cl->o.partition, m->offset, h.epoch, cl->epoch,
		          (int)(h.instance_len < 128 ? h.instance_len : 128), h.instance);
		return ERR_FENCED;
	}
	/* This instance's own, an older epoch's (void), a takeover past its
	 * place (void), or a beat. */
	return 0;
}

/* Under vmu: the records in [next_off, offset) read and checked;
 * ERR_NOTFOUND when the log no longer holds the first of them (its
 * start passed them: retention, or a cap, faster than this instance's
 * appends came back). */
static int scan_gap(changelog *cl, int64_t offset) TSA_REQUIRES(cl->vmu)
{
	char err[256];
	if (!cl->scan && !(cl->scan = changelog_consumer(&cl->o, err, sizeof err))) {
		log_error("changelog order check: no consumer", "err=\"%s\"", err);
		return ERR_KAFKA;
	}
	int rc = changelog_read(cl->scan, &cl->o, cl->next_off, offset, scan_record, cl, err,
	                        sizeof err);
	int64_t lo = -1, hi = -1;
	/* A record gone is a read error (auto.offset.reset is "error"), not
	 * a stall: only then is the log's start asked (up to timeout_ms, on
	 * the thread serving the reports). */
	if (rc == ERR_KAFKA)
		(void)bus_watermarks(cl->scan, cl->o.topic, cl->o.partition, cl->o.timeout_ms, &lo,
		                     &hi);
	if (rc && rc != ERR_FENCED && lo > cl->next_off) {
		log_error("changelog order check: the log lost records this instance never checked",
		          "from=%" PRId64 " log_start=%" PRId64 " to=%" PRId64, cl->next_off, lo,
		          offset);
		return ERR_NOTFOUND;
	}
	if (rc && rc != ERR_FENCED)
		log_error("changelog order check: cannot read the records before this one",
		          "from=%" PRId64 " to=%" PRId64 " err=\"%s\"", cl->next_off, offset, err);
	return rc;
}

/* Under vmu: this instance is not the writer any more. */
static void not_writer(changelog *cl) TSA_REQUIRES(cl->vmu)
{
	cl->active = false;
	atomic_store(&cl->is_active, false);
	if (cl->g_active)
		metric_set(cl->g_active, 0);
}

/* Under vmu: the log lost records between this instance's last checked
 * one and its newest: whether one of them was another instance's
 * takeover can never be known, so nothing it appends counts again, and
 * the edge exits (changelog_unchecked). Its records in flight are in the
 * log under its epoch, and count unless such a takeover was among the
 * lost ones: their writes are refused as a timeout's are (503
 * not_replicated, the outcome unknown), not as a fenced instance's. */
static void lost_checks(changelog *cl) TSA_REQUIRES(cl->vmu)
{
	not_writer(cl);
	atomic_store(&cl->is_unchecked, true);
}

/* Under vmu: may the record at offset count? (changelog_int.h) */
int changelog_order_check(changelog *cl, int64_t offset) TSA_REQUIRES(cl->vmu)
{
	if (!cl->active) {
		if (atomic_load(&cl->is_fenced))
			return ERR_FENCED;
		return atomic_load(&cl->is_unchecked) ? ERR_TIMEOUT : 0; /* else a takeover's own */
	}
	if (offset < 0) {
		/* In the log, at an offset librdkafka does not know: a record
		 * whose request timed out, acknowledged by the one after it
		 * (the idempotent producer's implicit acknowledgement). What
		 * lies before it cannot be checked, so it is not known to
		 * count: refused like a timeout, and undone. The next record
		 * with an offset reads the stretch it is in (scan_gap). */
		log_warn("changelog record acknowledged without its offset; its write is refused",
		         "last_checked=%" PRId64, cl->next_off - 1);
		return ERR_TIMEOUT;
	}
	if (offset < cl->next_off) {
		log_error("changelog record before this instance's last one",
		          "offset=%" PRId64 " expected=%" PRId64, offset, cl->next_off);
		return ERR_KAFKA;
	}
	int rc = offset == cl->next_off ? 0 : scan_gap(cl, offset);
	if (rc == ERR_NOTFOUND) {
		lost_checks(cl);
		return ERR_TIMEOUT; /* refused, and undone, as below */
	}
	if (rc == ERR_FENCED) {
		not_writer(cl);
		atomic_store(&cl->is_fenced, true);
		return rc;
	}
	if (rc)
		return ERR_TIMEOUT; /* not known to count: the write is refused */
	cl->next_off = offset + 1;
	return 0;
}

void changelog_step_down(changelog *cl)
{
	changelog_lock(&cl->vmu);
	not_writer(cl);
	changelog_unlock(&cl->vmu);
	atomic_store(&cl->is_fenced, true);
}

void changelog_set_active(changelog *cl, uint64_t epoch, uint64_t writer_ms, int64_t at)
{
	changelog_lock(&cl->vmu);
	cl->active = true;
	cl->epoch = epoch;
	cl->next_off = at + 1;
	changelog_unlock(&cl->vmu);
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
bool changelog_failing(const changelog *cl)
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

const char *changelog_delivery_kind(size_t k)
{
	return delivery_kinds[k].label;
}

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
		changelog_lock(&cl->vmu);
		rc = changelog_order_check(cl, m->offset);
		if (rc == 0 && w && w->track && cl->active)
			changelog_unwritten_add(cl, m->offset);
		int64_t us = rd_kafka_message_latency(m); /* from its produce call; -1: unknown */
		if (rc == 0 && cl->active && us >= 0) {
			uint64_t now = clock_mono_ms(), back = (uint64_t)us / 1000 + 1;
			uint64_t at = now > back ? now - back : 0;
			if (at > atomic_load(&cl->checked_ms))
				atomic_store(&cl->checked_ms, at);
		}
		changelog_unlock(&cl->vmu);
	}
	if (!w)
		return;
	changelog_lock(&cl->pmu);
	w->rc = rc;
	w->offset = m->offset;
	w->done = true;
	if (cl->nwait)
		pthread_cond_broadcast(&cl->pcv);
	changelog_unlock(&cl->pmu);
}

rd_kafka_conf_t *changelog_producer_conf(const changelog_opts *o, char *err, size_t errlen)
{
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
	return conf;
}

/* Produces rec with w (NULL: no one waits) as its opaque. */
int changelog_produce(changelog *cl, const sbuf *rec, waiter *w)
{
	changelog_lock(&cl->mu);
	int r = rd_kafka_produce(cl->rkt, cl->o.partition, RD_KAFKA_MSG_F_COPY, rec->p, rec->len,
	                         cl->edge_id, strlen(cl->edge_id), w);
	rd_kafka_resp_err_t perr = r ? rd_kafka_last_error() : RD_KAFKA_RESP_ERR_NO_ERROR;
	if (!r)
		atomic_store(&cl->last_produce_ms, clock_mono_ms());
	changelog_unlock(&cl->mu);
	if (r) {
		log_error("changelog produce refused", "err=\"%s\"", rd_kafka_err2str(perr));
		return ERR_KAFKA;
	}
	return 0;
}

/* Serves the producer's queued callbacks for up to ms, unless another
 * thread is serving them (then returns false at once, having served
 * none). Under pmu, which it lets go while it polls. */
bool changelog_serve(changelog *cl, int ms)
{
	if (cl->in_poll)
		return false;
	cl->in_poll = true;
	changelog_unlock(&cl->pmu);
	rd_kafka_poll(cl->rk, ms);
	changelog_lock(&cl->pmu);
	cl->in_poll = false;
	if (cl->nwait)
		pthread_cond_broadcast(&cl->pcv); /* a waiter may serve now */
	return true;
}

/* Until w is reported or the monotonic deadline until_ms (0: none)
 * passes: serves the producer's queue while no other thread does, else
 * waits for that thread to. true when w is done. */
static bool await_report(changelog *cl, waiter *w, uint64_t until_ms)
{
	changelog_lock(&cl->pmu);
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
		if (!changelog_serve(cl, ms)) {
			struct timespec next = clock_mono_deadline((unsigned)ms);
			(void)pthread_cond_timedwait(&cl->pcv, &cl->pmu, &next);
		}
	}
	cl->nwait--;
	bool done = w->done;
	changelog_unlock(&cl->pmu);
	return done;
}

/* w's report (its record produced), or, past the deadline until_ms,
 * still w's report: its outcome, and its offset in *offset. */
int changelog_report_wait(changelog *cl, waiter *w, uint64_t until_ms, int64_t *offset)
{
	if (!await_report(cl, w, until_ms)) {
		/* The report may still come, to a waiter that is gone: cannot
		 * happen while librdkafka keeps message.timeout.ms, so say so
		 * loudly and do not let it touch the waiter's memory. */
		log_error("changelog report overdue; waiting for it", "timeout_ms=%d",
		          cl->o.timeout_ms);
		(void)await_report(cl, w, 0);
	}
	changelog_lock(&cl->pmu);
	int rc = w->rc;
	*offset = w->offset;
	changelog_unlock(&cl->pmu);
	return rc;
}

int changelog_produce_wait(changelog *cl, const sbuf *rec, int64_t *offset)
{
	waiter w = {.track = false, .done = false, .offset = -1};
	int rc = changelog_produce(cl, rec, &w);
	if (rc == 0)
		rc = changelog_report_wait(
		    cl, &w, clock_mono_ms() + (uint64_t)cl->o.timeout_ms + REPORT_GRACE_MS, offset);
	return rc;
}

/* --- reading the log ------------------------------------------------------- */

int changelog_read(rd_kafka_t *rk, const changelog_opts *o, int64_t from, int64_t until,
                   changelog_record_fn fn, void *ctx, char *err, size_t errlen)
{
	if (from >= until)
		return 0;
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, o->topic, o->partition)->offset = from;
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	if (e) {
		snprintf(err, errlen, "changelog: assign: %s", rd_kafka_err2str(e));
		return ERR_KAFKA;
	}
	int64_t at = from;
	int idle = 0, rc = 0;
	while (rc == 0 && at < until && idle < CHANGELOG_IDLE_MAX) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, CHANGELOG_POLL_MS);
		if (!m) {
			idle++;
			continue;
		}
		idle = 0;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err) {
			snprintf(err, errlen, "changelog: read at %" PRId64 ": %s", at,
			         rd_kafka_message_errstr(m));
			rc = ERR_KAFKA;
		} else if (m->offset >= at && m->offset < until) {
			rc = fn(ctx, m);
			at = m->offset + 1;
		}
		rd_kafka_message_destroy(m);
	}
	(void)rd_kafka_assign(rk, NULL);
	if (rc == 0 && at < until) {
		snprintf(err, errlen, "changelog: read stalled at %" PRId64 " of %" PRId64, at,
		         until);
		rc = ERR_TIMEOUT;
	}
	return rc;
}
