/* changelog.c - the edge's writes appended to the region's Kafka before
 * they count, and replayed into a store (changelog.h).
 *
 * An append encodes the store batch, produces it under the mutex (so the
 * log holds appends in the order callers took it) with a waiter of its
 * own as the message's opaque, and waits on the waiter's condition until
 * the delivery report, which the changelog's own thread, polling the
 * producer, hands to on_delivery. librdkafka itself gives a message up after timeout_ms
 * (message.timeout.ms), so every append ends with a report; the wait's
 * own deadline, a second later, only guards against one that never comes.
 *
 * Owns: the producer, its polling thread, its metrics. A waiter lives on
 * its appender's stack and is touched by the polling thread until it is
 * marked done.
 */
#include "edge/changelog/changelog.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "bus.h"
#include "clock.h"
#include "log.h"
#include "xmem.h"

#define OP_PUT 1
#define OP_DEL 2
#define REPORT_GRACE_MS 1000 /* past timeout_ms, for a report that never comes */
#define RESTORE_POLL_MS 200
#define RESTORE_IDLE_MAX 50 /* polls with nothing new before restore gives up */

struct changelog {
	changelog_opts o;
	char *topic, *edge_id;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	pthread_mutex_t mu; /* produce order */
	pthread_t poller;
	bool polling;
	_Atomic bool stop;
	metric *appends, *failures, *bytes, *latency;
};

/* One append's wait for its delivery report. */
typedef struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	rd_kafka_resp_err_t err;
	int64_t offset;
} waiter;

/* --- the record ------------------------------------------------------------- */

static void put_u32(sbuf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};
	sbuf_add(b, x, 4);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct encoder {
	sbuf *out;
	uint32_t n;
} encoder;

static void enc_put(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	encoder *e = ctx;
	unsigned char op = OP_PUT;
	sbuf_add(e->out, &op, 1);
	put_u32(e->out, (uint32_t)kn);
	sbuf_add(e->out, k, kn);
	put_u32(e->out, (uint32_t)vn);
	sbuf_add(e->out, v, vn);
	e->n++;
}

static void enc_del(void *ctx, const char *k, size_t kn)
{
	encoder *e = ctx;
	unsigned char op = OP_DEL;
	sbuf_add(e->out, &op, 1);
	put_u32(e->out, (uint32_t)kn);
	sbuf_add(e->out, k, kn);
	e->n++;
}

void changelog_encode(const store_batch *wb, sbuf *out)
{
	size_t head = out->len;
	unsigned char v = CHANGELOG_FORMAT;
	sbuf_add(out, &v, 1);
	put_u32(out, 0); /* the count, once known */
	encoder e = {out, 0};
	store_batch_iterate(wb, &e, enc_put, enc_del);
	unsigned char *n = (unsigned char *)out->p + head + 1;
	n[0] = (unsigned char)(e.n >> 24);
	n[1] = (unsigned char)(e.n >> 16);
	n[2] = (unsigned char)(e.n >> 8);
	n[3] = (unsigned char)e.n;
}

/* A length-prefixed field at *at of buf (len bytes): its bytes and
 * length, *at moved past it; false when it runs past the end. */
static bool field(const unsigned char *buf, size_t len, size_t *at, const unsigned char **p,
                  size_t *n)
{
	if (len - *at < 4)
		return false;
	*n = get_u32(buf + *at);
	*at += 4;
	if (len - *at < *n)
		return false;
	*p = buf + *at;
	*at += *n;
	return true;
}

int changelog_decode(const void *data, size_t len, store_batch *wb)
{
	const unsigned char *buf = data;
	if (len < 5)
		return ERR_CORRUPT;
	if (buf[0] != CHANGELOG_FORMAT)
		return ERR_VERSION;
	uint32_t n = get_u32(buf + 1);
	size_t at = 5;
	for (uint32_t i = 0; i < n; i++) {
		if (at >= len)
			return ERR_CORRUPT;
		unsigned char op = buf[at++];
		const unsigned char *k, *v;
		size_t kn, vn;
		if ((op != OP_PUT && op != OP_DEL) || !field(buf, len, &at, &k, &kn) || !kn)
			return ERR_CORRUPT;
		if (op == OP_DEL) {
			store_batch_del(wb, k, kn);
			continue;
		}
		if (!field(buf, len, &at, &v, &vn))
			return ERR_CORRUPT;
		store_batch_put(wb, k, kn, v, vn);
	}
	return at == len ? 0 : ERR_CORRUPT;
}

/* The store position: the offset of the next record to apply. */
static void position_put(store_batch *wb, int64_t next)
{
	unsigned char v[8];
	store_put_u64(v, (uint64_t)next);
	store_batch_put(wb, CHANGELOG_KEY, 1, v, 8);
}

/* --- the client's configuration --------------------------------------------- */

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *err, size_t errlen)
{
	char why[256];
	if (rd_kafka_conf_set(conf, k, v, why, sizeof why) == RD_KAFKA_CONF_OK)
		return 0;
	snprintf(err, errlen, "changelog: %s: %s", k, why);
	return ERR_CONFIG;
}

/* A conf of role for the changelog's cluster: bus.h's defaults for the
 * role, then its own bootstrap list (not [kafka]'s: another cluster). */
static rd_kafka_conf_t *conf_new(enum bus_role role, const changelog_opts *o, char *err,
                                 size_t errlen)
{
	bus_props none = {NULL, NULL, NULL};
	const char *file = o->brokers && o->brokers[0] ? NULL : o->bootstrap_file;
	rd_kafka_conf_t *conf =
	    bus_conf_new(role, &none, file, "likes-edge-changelog", err, errlen);
	if (!conf)
		return NULL;
	if (o->brokers && o->brokers[0] &&
	    conf_set(conf, "bootstrap.servers", o->brokers, err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

/* --- appending -------------------------------------------------------------- */

/* The polling thread (rd_kafka_poll): each delivery report to its waiter. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	waiter *w = m->_private;
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->err = m->err;
	w->offset = m->offset;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Serves the producer's callbacks until changelog_free; a poll returns
 * as soon as a report is queued, so it adds no wait of its own. */
static void *poll_loop(void *arg)
{
	changelog *cl = arg;
	while (!atomic_load_explicit(&cl->stop, memory_order_relaxed))
		rd_kafka_poll(cl->rk, 100);
	return NULL;
}

changelog *changelog_new(const changelog_opts *o, char *err, size_t errlen)
{
	char ms[32];
	snprintf(ms, sizeof ms, "%d", o->timeout_ms);
	rd_kafka_conf_t *conf = conf_new(BUS_PRODUCER, o, err, errlen);
	if (!conf)
		return NULL;
	/* Each append waits for its report: nothing to gain by lingering. */
	if (conf_set(conf, "linger.ms", "0", err, errlen) ||
	    conf_set(conf, "message.timeout.ms", ms, err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	changelog *cl = xcalloc(1, sizeof *cl);
	cl->o = *o;
	cl->topic = xstrdup(o->topic);
	cl->edge_id = xstrdup(o->edge_id);
	cl->o.topic = cl->topic;
	cl->o.edge_id = cl->edge_id;
	cl->o.brokers = cl->o.bootstrap_file = NULL;
	pthread_mutex_init(&cl->mu, NULL);
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
	if (pthread_create(&cl->poller, NULL, poll_loop, cl)) {
		snprintf(err, errlen, "changelog: cannot start its thread");
		changelog_free(cl);
		return NULL;
	}
	cl->polling = true;
	if (o->reg) {
		cl->appends = metrics_counter(
		    o->reg, "changelog_appends_total",
		    "Store writes appended to the changelog and acknowledged.", NULL);
		cl->failures = metrics_counter(
		    o->reg, "changelog_append_failures_total",
		    "Appends the changelog's cluster did not acknowledge (the write was refused).",
		    NULL);
		cl->bytes = metrics_counter(o->reg, "changelog_bytes_total",
		                            "Bytes of acknowledged changelog records.", NULL);
		static const double bounds[] = {0.00025, 0.0005, 0.001, 0.0025, 0.005,
		                                0.01,    0.025,  0.05,  0.1,    1};
		cl->latency = metrics_histogram(
		    o->reg, "changelog_append_duration_seconds",
		    "From an append's produce call to the cluster's acknowledgement.", NULL, bounds,
		    sizeof bounds / sizeof bounds[0]);
	}
	return cl;
}

void changelog_free(changelog *cl)
{
	if (!cl)
		return;
	if (cl->polling) {
		atomic_store(&cl->stop, true);
		pthread_join(cl->poller, NULL);
	}
	if (cl->rk) {
		rd_kafka_resp_err_t e = rd_kafka_flush(cl->rk, cl->o.timeout_ms);
		if (e)
			log_warn("changelog flush incomplete", "err=\"%s\"", rd_kafka_err2str(e));
	}
	if (cl->rkt)
		rd_kafka_topic_destroy(cl->rkt);
	if (cl->rk)
		rd_kafka_destroy(cl->rk);
	pthread_mutex_destroy(&cl->mu);
	free(cl->topic);
	free(cl->edge_id);
	free(cl);
}

int changelog_append(changelog *cl, store_batch *wb)
{
	sbuf rec;
	sbuf_init(&rec);
	changelog_encode(wb, &rec);
	waiter w = {.done = false, .offset = -1};
	pthread_mutex_init(&w.mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);
	uint64_t t0 = clock_mono_ns();
	pthread_mutex_lock(&cl->mu);
	int r = rd_kafka_produce(cl->rkt, cl->o.partition, RD_KAFKA_MSG_F_COPY, rec.p, rec.len,
	                         cl->edge_id, strlen(cl->edge_id), &w);
	rd_kafka_resp_err_t perr = r ? rd_kafka_last_error() : RD_KAFKA_RESP_ERR_NO_ERROR;
	pthread_mutex_unlock(&cl->mu);
	int rc = 0;
	if (r) {
		log_error("changelog produce refused", "err=\"%s\"", rd_kafka_err2str(perr));
		rc = ERR_KAFKA;
	} else {
		struct timespec until =
		    clock_mono_deadline((unsigned)cl->o.timeout_ms + REPORT_GRACE_MS);
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			if (pthread_cond_timedwait(&w.cv, &w.mu, &until) == ETIMEDOUT)
				break;
		bool done = w.done;
		pthread_mutex_unlock(&w.mu);
		if (!done) {
			/* The report may still come, to a waiter that is gone:
			 * cannot happen while librdkafka keeps message.timeout.ms,
			 * so say so loudly and do not let it touch the stack. */
			log_error("changelog report overdue; waiting for it", "timeout_ms=%d",
			          cl->o.timeout_ms);
			pthread_mutex_lock(&w.mu);
			while (!w.done)
				pthread_cond_wait(&w.cv, &w.mu);
			pthread_mutex_unlock(&w.mu);
		}
		if (w.err) {
			rc = w.err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ? ERR_TIMEOUT : ERR_KAFKA;
			log_error("changelog append failed", "err=\"%s\"", rd_kafka_err2str(w.err));
		}
	}
	if (rc == 0)
		position_put(wb, w.offset + 1);
	if (cl->appends && rc == 0) {
		metric_add(cl->appends, 1);
		metric_add(cl->bytes, rec.len);
		metric_observe(cl->latency, (double)(clock_mono_ns() - t0) / 1e9);
	} else if (cl->failures && rc) {
		metric_add(cl->failures, 1);
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	sbuf_free(&rec);
	return rc;
}

int changelog_replicate(void *ctx, store_batch *wb)
{
	return changelog_append(ctx, wb);
}

/* --- restoring -------------------------------------------------------------- */

/* Where db says to go on from: the stored position, or 0 (an empty or
 * never replicated store). */
static int position_get(store *db, int64_t *next)
{
	uint64_t v;
	int rc = store_read_u64(db, CHANGELOG_KEY, 1, &v);
	if (rc == ERR_NOTFOUND) {
		*next = 0;
		return 0;
	}
	if (rc == 0)
		*next = (int64_t)v;
	return rc;
}

/* One record into db with the position after it, in one write; a record
 * another edge wrote (a partition named twice) is refused. */
static int apply_record(store *db, const char *edge_id, const rd_kafka_message_t *m,
                        store_batch *wb)
{
	size_t idn = strlen(edge_id);
	if (m->key_len != idn || memcmp(m->key, edge_id, idn) != 0)
		return ERR_CONFLICT;
	store_batch_clear(wb);
	int rc = changelog_decode(m->payload, m->len, wb);
	if (rc)
		return rc;
	position_put(wb, m->offset + 1);
	return store_write(db, wb);
}

int changelog_restore(const changelog_opts *o, store *db, changelog_restored *out, char *err,
                      size_t errlen)
{
	memset(out, 0, sizeof *out);
	int64_t next;
	int rc = position_get(db, &next);
	if (rc) {
		snprintf(err, errlen, "changelog: the store's position is unreadable: %s",
		         err_str(rc));
		return rc;
	}
	rd_kafka_conf_t *conf = conf_new(BUS_CONSUMER, o, err, errlen);
	if (!conf)
		return ERR_CONFIG;
	rd_kafka_t *rk = bus_client_new(BUS_CONSUMER, conf, err, errlen);
	if (!rk)
		return ERR_KAFKA;
	int64_t lo = 0, hi = 0;
	rd_kafka_resp_err_t e =
	    rd_kafka_query_watermark_offsets(rk, o->topic, o->partition, &lo, &hi, o->timeout_ms);
	if (e) {
		snprintf(err, errlen, "changelog: %s[%d]: the log's ends: %s", o->topic,
		         (int)o->partition, rd_kafka_err2str(e));
		rd_kafka_destroy(rk);
		return ERR_KAFKA;
	}
	if (next < lo) {
		out->missing = lo - next;
		log_error("changelog starts after this store's position: records are gone",
		          "topic=%s partition=%d position=%" PRId64 " log_start=%" PRId64, o->topic,
		          (int)o->partition, next, lo);
		next = lo;
	}
	out->from = out->to = next;
	if (next >= hi) {
		rd_kafka_destroy(rk);
		return 0;
	}
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, o->topic, o->partition)->offset = next;
	e = rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	if (e) {
		snprintf(err, errlen, "changelog: assign: %s", rd_kafka_err2str(e));
		rd_kafka_destroy(rk);
		return ERR_KAFKA;
	}
	store_batch *wb = store_batch_new();
	int idle = 0;
	while (rc == 0 && out->to < hi && idle < RESTORE_IDLE_MAX) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, RESTORE_POLL_MS);
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
			snprintf(err, errlen, "changelog: read at %" PRId64 ": %s", out->to,
			         rd_kafka_message_errstr(m));
			rc = ERR_KAFKA;
		} else if (m->offset >= out->to) {
			rc = apply_record(db, o->edge_id, m, wb);
			if (rc == ERR_CONFLICT)
				snprintf(
				    err, errlen,
				    "changelog: the record at %" PRId64 " of %s[%d] is another "
				    "edge's (key %.*s), not %s's: is changelog.partition its own?",
				    m->offset, o->topic, (int)o->partition,
				    (int)(m->key_len < 64 ? m->key_len : 64), (const char *)m->key,
				    o->edge_id);
			else if (rc)
				snprintf(err, errlen, "changelog: record at %" PRId64 ": %s",
				         m->offset, err_str(rc));
			else {
				out->records++;
				out->to = m->offset + 1;
			}
		}
		rd_kafka_message_destroy(m);
	}
	if (rc == 0 && out->to < hi) {
		snprintf(err, errlen, "changelog: read stalled at %" PRId64 " of %" PRId64, out->to,
		         hi);
		rc = ERR_TIMEOUT;
	}
	store_batch_free(wb);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}
