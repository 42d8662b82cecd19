/* feedread.c - a topic read back from its start (feedread.h): any
 * topic through a sink, a feed topic into a feedcheck. Owns its consumer
 * for the call's length. Runner thread.
 */
#include "sim/drill/feedread.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <librdkafka/rdkafka.h>

#include "bus.h"
#include "clock.h"
#include "log.h"
#include "xmem.h"

#define META_TIMEOUT_MS 5000
#define POLL_MS 100

static rd_kafka_t *consumer(const char *bootstraps, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = bus_conf_new(BUS_CONSUMER, NULL, NULL, FEEDREAD_GROUP, err, errlen);
	if (!conf)
		return NULL;
	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, errlen) !=
	        RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, errlen) != RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_t *rk = bus_client_new(BUS_CONSUMER, conf, err, errlen);
	if (rk)
		rd_kafka_poll_set_consumer(rk);
	return rk;
}

/* Consumes the assigned partitions until each reached hi[p]. */
static int drain(rd_kafka_t *rk, const char *topic, const feedread_sink *sink, const int64_t *hi,
                 int64_t *next, int nparts, unsigned timeout_ms, char *err, size_t errlen)
{
	int left = 0;
	for (int p = 0; p < nparts; p++)
		left += next[p] < hi[p];
	uint64_t end = clock_mono_ms() + timeout_ms;
	while (left > 0 && clock_mono_ms() < end) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, POLL_MS);
		if (!m)
			continue;
		int p = m->partition;
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn("feed read: consumer error",
				         "topic=%s partition=%d err=\"%s\"", topic, p,
				         rd_kafka_message_errstr(m));
		} else if (p >= 0 && p < nparts && m->offset >= next[p] && m->offset < hi[p]) {
			sink->message(sink->ctx, m);
			next[p] = m->offset + 1;
			left -= next[p] >= hi[p];
		}
		rd_kafka_message_destroy(m);
	}
	if (!left)
		return 0;
	int k = snprintf(err, errlen, "%s: read to the high watermark not done in %u ms:", topic,
	                 timeout_ms);
	for (int p = 0; p < nparts && k >= 0 && (size_t)k < errlen; p++)
		if (next[p] < hi[p])
			k += snprintf(err + k, errlen - (size_t)k,
			              " p%d at %" PRId64 " of %" PRId64, p, next[p], hi[p]);
	return ERR_TIMEOUT;
}

int feedread_each(const char *bootstraps, const char *topic, const feedread_sink *sink,
                  unsigned timeout_ms, int *partitions, char *err, size_t errlen)
{
	*partitions = 0;
	rd_kafka_t *rk = consumer(bootstraps, err, errlen);
	if (!rk)
		return ERR_KAFKA;
	int rc = ERR_KAFKA;
	int64_t *hi = NULL, *next = NULL;
	rd_kafka_topic_partition_list_t *list = NULL;
	int n = bus_partition_count(rk, topic, META_TIMEOUT_MS);
	if (n <= 0) {
		snprintf(err, errlen, "%s: no partition count from the cluster", topic);
		goto out;
	}
	*partitions = n;
	hi = xcalloc((size_t)n, sizeof *hi);
	next = xcalloc((size_t)n, sizeof *next);
	list = rd_kafka_topic_partition_list_new(n);
	for (int p = 0; p < n; p++) {
		int64_t lo = 0;
		rd_kafka_resp_err_t e =
		    rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p], META_TIMEOUT_MS);
		if (e) {
			snprintf(err, errlen, "%s partition %d: watermarks: %s", topic, p,
			         rd_kafka_err2str(e));
			goto out;
		}
		if (lo > 0 && sink->lost)
			sink->lost(sink->ctx, (unsigned)p, lo);
		next[p] = lo;
		rd_kafka_topic_partition_list_add(list, topic, p)->offset = lo;
	}
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, list);
	if (e) {
		snprintf(err, errlen, "%s: assign: %s", topic, rd_kafka_err2str(e));
		goto out;
	}
	rc = drain(rk, topic, sink, hi, next, n, timeout_ms, err, errlen);
	(void)rd_kafka_assign(rk, NULL);
out:
	if (list)
		rd_kafka_topic_partition_list_destroy(list);
	free(hi);
	free(next);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

/* A feed topic's sink: each message decoded into the feedcheck, or
 * counted as undecodable. */
typedef struct feed_sink {
	feedcheck *fc;
	enum feedcheck_topic t;
} feed_sink;

static void feed_message(void *ctx, rd_kafka_message_t *m)
{
	feed_sink *f = ctx;
	feedev_decoded d;
	int rc = feedev_decode(m->payload, m->len, &d);
	if (rc)
		feedcheck_undecodable(f->fc, f->t, (unsigned)m->partition, m->offset, rc);
	else
		feedcheck_add(f->fc, f->t, (unsigned)m->partition, m->key, m->key_len, &d.ev);
}

static void feed_lost(void *ctx, unsigned p, int64_t lo)
{
	feed_sink *f = ctx;
	feedcheck_lost(f->fc, f->t, p, lo);
}

int feedread_topic(const char *bootstraps, const char *topic, enum feedcheck_topic t, feedcheck *fc,
                   unsigned timeout_ms, int *partitions, char *err, size_t errlen)
{
	feed_sink f = {fc, t};
	feedread_sink sink = {feed_message, feed_lost, &f};
	return feedread_each(bootstraps, topic, &sink, timeout_ms, partitions, err, errlen);
}
