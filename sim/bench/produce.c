/* produce.c - the feed benchmark's input into a batch topic (produce.h).
 * Owns the built input, the producer and its topic handle for one run. */
#include "sim/bench/produce.h"

#include <inttypes.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "bus.h"
#include "clock.h"

#define METADATA_TRIES 10 /* of 2 s each: the broker has just started */

void produce_opts_default(produce_opts *o)
{
	mixgen_opts_default(&o->load);
	o->bootstrap_file = NULL;
	o->topic = "likes.batches";
	o->timeout_ms = 120000;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	produce_result *r = opaque;
	if (m->err)
		r->failed++;
	else
		r->delivered++;
}

/* Queues every message, partitions in turns. 0 or ERR_KAFKA. */
static int send_all(rd_kafka_t *rk, const char *topic, const mixgen *m, char *err, size_t errlen)
{
	for (size_t i = 0; i < m->longest; i++)
		for (uint32_t p = 0; p < m->partitions; p++) {
			const benchgen_log *l = &m->parts[p];
			if (i >= l->n)
				continue;
			rd_kafka_resp_err_t e;
			while ((e = rd_kafka_producev(
			            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)p),
			            RD_KAFKA_V_VALUE(l->m[i].buf, l->m[i].len),
			            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
			       RD_KAFKA_RESP_ERR__QUEUE_FULL)
				rd_kafka_poll(rk, 10);
			if (e) {
				snprintf(err, errlen, "partition %u message %zu not queued: %s", p,
				         i, rd_kafka_err2str(e));
				return ERR_KAFKA;
			}
			rd_kafka_poll(rk, 0);
		}
	return 0;
}

/* The watermarks of every partition after the run, into r. */
static int check_marks(rd_kafka_t *rk, const char *topic, uint32_t partitions, produce_result *r,
                       char *err, size_t errlen)
{
	for (uint32_t p = 0; p < partitions; p++) {
		int64_t lo = -1, hi = -1;
		rd_kafka_resp_err_t e =
		    rd_kafka_query_watermark_offsets(rk, topic, (int32_t)p, &lo, &hi, 5000);
		if (e) {
			snprintf(err, errlen, "partition %u: watermarks unknown: %s", p,
			         rd_kafka_err2str(e));
			return ERR_KAFKA;
		}
		if (lo > r->low_max)
			r->low_max = lo;
		r->high_sum += hi;
	}
	if (r->low_max > 0) {
		snprintf(err, errlen,
		         "the cluster dropped messages (a low watermark of %" PRId64
		         "): the input is too large for it; use fewer --ops",
		         r->low_max);
		return ERR_KAFKA;
	}
	return 0;
}

static int produce_built(const produce_opts *o, produce_result *r, char *err, size_t errlen)
{
	bus_props bp = {0};
	rd_kafka_conf_t *conf =
	    bus_conf_new(BUS_PRODUCER, &bp, o->bootstrap_file, NULL, err, errlen);
	if (!conf)
		return ERR_KAFKA;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, r);
	rd_kafka_t *rk = bus_client_new(BUS_PRODUCER, conf, err, errlen);
	if (!rk)
		return ERR_KAFKA;
	int n = -1, rc = 0;
	for (int i = 0; i < METADATA_TRIES && n < 0; i++)
		n = bus_partition_count(rk, o->topic, 2000);
	if (n != (int)r->load.partitions) {
		snprintf(err, errlen, "topic %s has %d partitions (<0: unknown), the input %u",
		         o->topic, n, r->load.partitions);
		rc = ERR_KAFKA;
	}
	if (!rc) {
		r->start_ms = clock_wall_ms();
		rc = send_all(rk, o->topic, &r->load, err, errlen);
	}
	if (!rc) {
		rd_kafka_resp_err_t e = rd_kafka_flush(rk, o->timeout_ms);
		r->end_ms = clock_wall_ms();
		if (e || r->failed || r->delivered != r->load.batches) {
			snprintf(err, errlen,
			         "%" PRIu64 " of %" PRIu64 " messages delivered, %" PRIu64
			         " failed (%s)",
			         r->delivered, r->load.batches, r->failed, rd_kafka_err2str(e));
			rc = ERR_KAFKA;
		}
	}
	if (!rc)
		rc = check_marks(rk, o->topic, r->load.partitions, r, err, errlen);
	rd_kafka_destroy(rk);
	return rc;
}

int produce_run(const produce_opts *o, produce_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	if (!o->bootstrap_file || !o->bootstrap_file[0] || !o->topic || !o->topic[0] ||
	    o->timeout_ms < 1) {
		snprintf(err, errlen, "a bootstrap file, a topic and a timeout are needed");
		return ERR_INVAL;
	}
	int rc = mixgen_build(&o->load, &r->load, err, errlen);
	if (rc)
		return rc;
	rc = produce_built(o, r, err, errlen);
	benchgen_logs_free(r->load.parts, r->load.partitions);
	r->load.parts = NULL;
	return rc;
}

void produce_print(FILE *f, const produce_result *r)
{
	const mixgen *m = &r->load;
	fprintf(f,
	        "messages=%" PRIu64 "\nops=%" PRIu64 "\nlikes=%" PRIu64 "\nunlikes=%" PRIu64
	        "\nviews=%" PRIu64 "\nentries=%" PRIu64 "\nwire_bytes=%" PRIu64
	        "\nmax_partition_bytes=%" PRIu64 "\ndelivered=%" PRIu64 "\nfailed=%" PRIu64
	        "\nstart_ms=%" PRIu64 "\nend_ms=%" PRIu64 "\nlow_max=%" PRId64 "\nhigh_sum=%" PRId64
	        "\n",
	        m->batches, m->likes + m->unlikes + m->views, m->likes, m->unlikes, m->views,
	        m->entries, m->wire_bytes, m->max_part_bytes, r->delivered, r->failed, r->start_ms,
	        r->end_ms, r->low_max, r->high_sum);
}
