/* trim.c - a changelog partition made to lose its start (trim.h). Owns
 * its producer and the record for the call's length. Runner thread.
 */
#include "sim/drill/trim.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "bus.h"
#include "clock.h"

/* The changelog's record, version 2 (edge/changelog/changelog.h). */
#define RECORD_VERSION 2
#define RECORD_DATA 1
#define RECORD_PUT 1
#define MARKS_TIMEOUT_MS 5000 /* one watermark query */

/* One record's delivery report, filled by on_delivery. It lives as
 * long as the producer, so a report that comes late (after the wait
 * gave up, from rd_kafka_destroy) still lands in it. */
typedef struct delivery {
	bool done;
	rd_kafka_resp_err_t err;
} delivery;

typedef struct trimmer {
	const trim_opts *o;
	rd_kafka_t *rk;
	delivery d; /* the record in flight's */
} trimmer;

static void put_u32(sbuf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};
	sbuf_add(b, x, sizeof x);
}

void trim_record(sbuf *out)
{
	unsigned char head[10] = {RECORD_VERSION, RECORD_DATA}; /* epoch 0: void */
	sbuf_add(out, head, sizeof head);
	put_u32(out, 1); /* changes */
	unsigned char op = RECORD_PUT;
	sbuf_add(out, &op, 1);
	put_u32(out, (uint32_t)strlen(TRIM_KEY));
	sbuf_adds(out, TRIM_KEY);
	put_u32(out, TRIM_VALUE_BYTES);
	sbuf_reserve(out, TRIM_VALUE_BYTES);
	memset(out->p + out->len, 0, TRIM_VALUE_BYTES);
	out->len += TRIM_VALUE_BYTES;
	out->p[out->len] = '\0';
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	delivery *d = m->_private;
	if (d) {
		d->err = m->err;
		d->done = true;
	}
}

/* A producer of whole, uncompressed records, one report each within
 * TRIM_DELIVERY_MS. Not idempotent: a fatal error of an idempotent
 * producer ends the process (bus.h), and one record at a time has no
 * order to keep. */
static rd_kafka_t *producer(const char *bootstraps, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = bus_conf_new(BUS_PRODUCER, NULL, NULL, NULL, err, errlen);
	if (!conf)
		return NULL;
	char ms[16];
	snprintf(ms, sizeof ms, "%u", TRIM_DELIVERY_MS);
	if (bus_conf_set(conf, "trim", "bootstrap.servers", bootstraps, err, errlen) ||
	    bus_conf_set(conf, "trim", "enable.idempotence", "false", err, errlen) ||
	    bus_conf_set(conf, "trim", "compression.type", "none", err, errlen) ||
	    bus_conf_set(conf, "trim", "linger.ms", "0", err, errlen) ||
	    bus_conf_set(conf, "trim", "message.timeout.ms", ms, err, errlen)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	return bus_client_new(BUS_PRODUCER, conf, err, errlen);
}

/* Produces rec and waits for its delivery report. 0 or ERR_KAFKA. */
static int produce_one(trimmer *t, const sbuf *rec, char *err, size_t errlen)
{
	const trim_opts *o = t->o;
	t->d = (delivery){false, RD_KAFKA_RESP_ERR_NO_ERROR};
	rd_kafka_resp_err_t e = rd_kafka_producev(
	    t->rk, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_PARTITION(o->partition),
	    RD_KAFKA_V_KEY((void *)o->edge_id, strlen(o->edge_id)),
	    RD_KAFKA_V_VALUE(rec->p, rec->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_OPAQUE(&t->d), RD_KAFKA_V_END);
	if (e) {
		snprintf(err, errlen, "%s partition %d: record not queued: %s", o->topic,
		         (int)o->partition, rd_kafka_err2str(e));
		return ERR_KAFKA;
	}
	/* librdkafka reports every message by message.timeout.ms; the
	 * second more only guards against a report that never comes. */
	uint64_t until = clock_mono_ms() + TRIM_DELIVERY_MS + 1000;
	while (!t->d.done && clock_mono_ms() < until)
		rd_kafka_poll(t->rk, 10);
	if (!t->d.done) {
		snprintf(err, errlen, "%s partition %d: no delivery report in %u ms", o->topic,
		         (int)o->partition, TRIM_DELIVERY_MS + 1000);
		return ERR_KAFKA;
	}
	if (t->d.err) {
		snprintf(err, errlen, "%s partition %d: record not delivered: %s", o->topic,
		         (int)o->partition, rd_kafka_err2str(t->d.err));
		return ERR_KAFKA;
	}
	return 0;
}

/* The partition's watermarks into *lo, *hi. 0 or ERR_KAFKA. */
static int marks(trimmer *t, int64_t *lo, int64_t *hi, char *err, size_t errlen)
{
	const trim_opts *o = t->o;
	rd_kafka_resp_err_t e =
	    bus_watermarks(t->rk, o->topic, o->partition, MARKS_TIMEOUT_MS, lo, hi);
	if (!e)
		return 0;
	snprintf(err, errlen, "%s partition %d: watermarks: %s", o->topic, (int)o->partition,
	         rd_kafka_err2str(e));
	return ERR_KAFKA;
}

static void pause_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Records until the start is gone or a bound is reached. */
static int fill(trimmer *t, trim_result *r, uint64_t t0, char *err, size_t errlen)
{
	const trim_opts *o = t->o;
	unsigned most = o->records_max ? o->records_max : TRIM_RECORDS_MAX;
	unsigned ms = o->time_max_ms ? o->time_max_ms : TRIM_TIME_MAX_MS;
	sbuf rec;
	sbuf_init(&rec);
	trim_record(&rec);
	int rc = 0;
	while (r->lo < r->hi0) {
		if (r->records >= most || clock_mono_ms() - t0 >= ms) {
			snprintf(err, errlen,
			         "%s partition %d: low watermark %" PRId64 " still before %" PRId64
			         " (the high watermark at the start) after %u records in %" PRIu64
			         " ms",
			         o->topic, (int)o->partition, r->lo, r->hi0, r->records,
			         clock_mono_ms() - t0);
			rc = ERR_TIMEOUT;
			break;
		}
		if (r->records)
			pause_ms(o->pause_ms ? o->pause_ms : TRIM_PAUSE_MS);
		if ((rc = produce_one(t, &rec, err, errlen)))
			break;
		r->records++;
		if ((rc = marks(t, &r->lo, &r->hi, err, errlen)))
			break;
	}
	sbuf_free(&rec);
	return rc;
}

int trim_partition(const trim_opts *o, trim_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	if (!o->bootstraps || !o->bootstraps[0] || !o->topic || !o->topic[0] || !o->edge_id ||
	    !o->edge_id[0]) {
		snprintf(err, errlen, "a trim needs a cluster, a topic and an edge id");
		return ERR_INVAL;
	}
	uint64_t t0 = clock_mono_ms();
	trimmer t = {.o = o, .rk = producer(o->bootstraps, err, errlen)};
	if (!t.rk)
		return ERR_KAFKA;
	int rc = marks(&t, &r->lo0, &r->hi0, err, errlen);
	if (!rc) {
		r->lo = r->lo0;
		r->hi = r->hi0;
		rc = fill(&t, r, t0, err, errlen);
	}
	rd_kafka_destroy(t.rk);
	r->ms = clock_mono_ms() - t0;
	return rc;
}
