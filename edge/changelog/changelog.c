/* changelog.c - the edge's writes appended to the region's Kafka before
 * they count (changelog.h): the append in two halves, the active's
 * beats, the changelog's making, metrics and freeing.
 *
 * An append encodes the store batch (with the undoing of refused ones at
 * its head: changelog_undo.c), holds it on the disk while records are
 * held (changelog_held.c), or produces it with a waiter of its own as
 * the message's opaque and, at its end, waits for the delivery report
 * and its order check (changelog_log.c), adding the position after it
 * to the batch. The changelog's own thread serves, every slice, the
 * reports no appender waits for (a beat's), and appends a beat when the
 * active has produced nothing for beat_ms, so followers can tell a live
 * active from a silent log.
 *
 * Owns: the producer, its beat thread, its metrics; the order check's
 * state is changelog_log.c's, the appends not yet in the store and the
 * undoing of refused ones changelog_undo.c's. A waiter lives in its
 * pending append and is touched by whichever thread serves its report
 * until it is marked done.
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

#define TAKEOVER_MS_DEFAULT 2000

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
	(void)changelog_produce(cl, &rec, NULL); /* a lost beat: the next one, or a takeover */
	sbuf_free(&rec);
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
		changelog_lock(&cl->pmu);
		(void)changelog_serve(cl, 0);
		changelog_unlock(&cl->pmu);
		beat(cl);
		nanosleep(&nap, NULL);
	}
	return NULL;
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
	if (changelog_failing(cl)) {
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
		changelog_lock(&cl->mu);
		if (cl->degraded && p->local) {
			changelog_hold(cl, wb, &p->rec, p->carried);
			rc = 0;
		}
		bool still = cl->degraded;
		changelog_unlock(&cl->mu);
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
	p->rc = changelog_produce(cl, &p->rec, &p->w);
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
	int rc = produced ? changelog_report_wait(cl, &p->w, p->until_ms, &offset) : p->rc;
#ifdef LIKES_MUTANT_EARLY_ACK
	/* The bug put back (make MUTANT=EARLY_ACK): a copy the log did not
	 * take answers as taken. */
	if (rc == ERR_TIMEOUT || rc == ERR_KAFKA)
		rc = 0;
#endif
	if (p->probe)
		atomic_store(&cl->probing, false); /* its report set failing, or not */
	if (p->local && (rc == ERR_TIMEOUT || rc == ERR_KAFKA) && atomic_load(&cl->is_active)) {
		/* Held, in order, with the undoing it carried: what may land
		 * late is written again after it. */
		changelog_lock(&cl->mu);
		changelog_hold(cl, wb, &p->rec, p->carried);
		changelog_unlock(&cl->mu);
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
		changelog_lock(&cl->vmu);
		cl->past_beats = false;
		changelog_unlock(&cl->vmu);
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
	return atomic_load(&cl->is_active) && changelog_failing(cl) && atomic_load(&cl->probing);
}

bool changelog_active(const changelog *cl)
{
	return atomic_load(&cl->is_active);
}

bool changelog_fenced(const changelog *cl)
{
	return atomic_load(&cl->is_fenced);
}

bool changelog_unchecked(const changelog *cl)
{
	return atomic_load(&cl->is_unchecked);
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
	/* An active that lost its checks: decided when asked, as a write
	 * held meanwhile (durability = local) keeps the store. */
	return atomic_load(&cl->needs_copy) ||
	       (atomic_load(&cl->is_unchecked) && cl->o.reseed && atomic_load(&cl->held) == 0);
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
	for (size_t k = 0; k < CHANGELOG_DELIVERY_KINDS; k++) {
		char labels[64];
		snprintf(labels, sizeof labels, "error=\"%s\"", changelog_delivery_kind(k));
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
	cl->takeovers_void = metrics_counter(
	    reg, "changelog_takeovers_void_total",
	    "Takeovers this instance appended that landed elsewhere than their place: records it "
	    "had not been shown came first, so the log was not silent, and they count nowhere.",
	    NULL);
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
	               "log's last record before it (or the cluster's coming back in reach, or "
	               "taking writes again, if later) to the writer's being ready (0 before the "
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
	rd_kafka_conf_t *conf = changelog_producer_conf(o, err, errlen);
	if (!conf)
		return NULL;
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
