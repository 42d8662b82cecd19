/* uplink.c - batches to Kafka, snapshots from Kafka (uplink.h).
 *
 * Owns the producer, the consumer and the batch topic handle. A batch's
 * (partition, seq) rides along as the message opaque so its delivery
 * report can update the ledger. Loop thread only.
 */
#include "uplink.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "clock.h"
#include "log.h"
#include "partition.h"
#include "wire.h"
#include "xmem.h"

#define SEQ_SHIFT 12 /* partitions fit in 12 bits (PARTITION_MAX) */

struct uplink {
	const edge_config *cfg;
	rd_kafka_t *producer;
	rd_kafka_topic_t *batches;
	rd_kafka_t *consumer;
	ledger *lg;
	uplink_stats st;
	uint64_t retry_at; /* mono ms to read snapshots again from the store's
			      offsets after one failed to apply; 0 = reading */
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	uplink *u = opaque;
	uintptr_t tag = (uintptr_t)m->_private;
	uint32_t p = (uint32_t)(tag & ((1u << SEQ_SHIFT) - 1));
	uint64_t seq = (uint64_t)(tag >> SEQ_SHIFT);
	if (m->err) {
		u->st.produce_errors++;
		log_warn("batch delivery failed; it will be sent again",
			 "partition=%u seq=%" PRIu64 " err=\"%s\"", p, seq, rd_kafka_err2str(m->err));
		ledger_delivered(u->lg, p, seq, -1);
		return;
	}
	u->st.produced++;
	ledger_delivered(u->lg, p, seq, m->offset);
}

uplink *uplink_new(const edge_config *cfg, char *err, size_t errlen)
{
	uplink *u = xcalloc(1, sizeof *u);
	u->cfg = cfg;
	rd_kafka_conf_t *conf =
	    bus_conf_new(BUS_PRODUCER, cfg->kafka, cfg->bootstrap_file, NULL, err, errlen);
	if (!conf)
		goto fail;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, u);
	u->producer = bus_client_new(BUS_PRODUCER, conf, err, errlen);
	if (!u->producer)
		goto fail;
	u->batches = rd_kafka_topic_new(u->producer, cfg->batch_topic, NULL);
	if (!u->batches) {
		snprintf(err, errlen, "topic %s: %s", cfg->batch_topic,
			 rd_kafka_err2str(rd_kafka_last_error()));
		goto fail;
	}
	return u;
fail:
	uplink_free(u);
	return NULL;
}

int uplink_send(void *ctx, uint32_t partition, uint64_t seq, const void *buf, size_t len)
{
	uplink *u = ctx;
	uintptr_t tag = ((uintptr_t)seq << SEQ_SHIFT) | partition;
	if (rd_kafka_produce(u->batches, (int32_t)partition, RD_KAFKA_MSG_F_COPY, (void *)buf, len,
			     NULL, 0, (void *)tag) == 0)
		return 0;
	rd_kafka_resp_err_t e = rd_kafka_last_error();
	if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
		log_warn("batch not queued", "partition=%u seq=%" PRIu64 " err=\"%s\"", partition,
			 seq, rd_kafka_err2str(e));
	return ERR_AGAIN;
}

/* Assigns every snapshot partition at the offset the ledger stored with
 * the last snapshot it applied (or the beginning). */
static int assign_all(uplink *u, char *err, size_t errlen)
{
	int np = (int)u->cfg->partitions;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
	for (int p = 0; p < np; p++) {
		int64_t off;
		if (ledger_snapshot_resume(u->lg, (uint32_t)p, &off))
			off = RD_KAFKA_OFFSET_BEGINNING;
		rd_kafka_topic_partition_list_add(l, u->cfg->snapshot_topic, p)->offset = off;
	}
	rd_kafka_resp_err_t e = rd_kafka_assign(u->consumer, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		snprintf(err, errlen, "assign %s: %s", u->cfg->snapshot_topic, rd_kafka_err2str(e));
		return ERR_KAFKA;
	}
	return 0;
}

int uplink_start(uplink *u, ledger *lg, char *err, size_t errlen)
{
	const edge_config *cfg = u->cfg;
	u->lg = lg;
	char group[256];
	snprintf(group, sizeof group, "likes-edge-%s", cfg->id);
	rd_kafka_conf_t *conf =
		bus_conf_new(BUS_CONSUMER, cfg->kafka, cfg->bootstrap_file, group, err, errlen);
	if (!conf)
		return ERR_CONFIG;
	u->consumer = bus_client_new(BUS_CONSUMER, conf, err, errlen);
	if (!u->consumer)
		return ERR_KAFKA;
	rd_kafka_poll_set_consumer(u->consumer);
	return assign_all(u, err, errlen);
}

/* Snapshots older than the broker keeps are gone: counts for items that
 * changed only then stay as they were here until they change again. */
static void recover_out_of_range(uplink *u, int32_t p)
{
	int64_t lo = 0, hi = 0;
	if (rd_kafka_query_watermark_offsets(u->consumer, u->cfg->snapshot_topic, p, &lo, &hi,
					     2000))
		return;
	u->st.offset_resets++;
	log_error("snapshot offset out of range: some snapshots were dropped before this edge "
		  "read them; resuming at the earliest kept",
		  "topic=%s partition=%d low=%" PRId64 " high=%" PRId64, u->cfg->snapshot_topic, p,
		  lo, hi);
	char err[256];
	if (ledger_snapshot_reset(u->lg, (uint32_t)p, lo) || assign_all(u, err, sizeof err))
		log_warn("snapshot reassignment failed; will retry", "partition=%d", p);
}

void uplink_poll(uplink *u, int max)
{
	rd_kafka_poll(u->producer, 0);
	if (!u->consumer)
		return;
	if (u->retry_at) {
		if (clock_mono_ms() < u->retry_at)
			return;
		/* Messages fetched past the failed one are dropped with the old
		 * assignment: snapshots apply in order or not at all. */
		char err[256];
		if (assign_all(u, err, sizeof err)) {
			log_warn("snapshot reassignment failed; will retry", "err=\"%s\"", err);
			u->retry_at = clock_mono_ms() + 1000;
			return;
		}
		u->retry_at = 0;
	}
	bool failed = false;
	for (int i = 0; i < max && !failed; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(u->consumer, 0);
		if (!m)
			break;
		if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
		    m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
			recover_out_of_range(u, m->partition);
		} else if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn("snapshot consumer", "partition=%d err=\"%s\"",
					 m->partition, rd_kafka_message_errstr(m));
		} else {
			wire_snapshot s;
			int rc = wire_decode_snapshot(m->payload, m->len, &s);
			if (rc) {
				u->st.snapshots_bad++;
				log_error("undecodable snapshot skipped",
					  "partition=%d offset=%" PRId64 " err=\"%s\"", m->partition,
					  m->offset, err_str(rc));
			} else {
				if (s.partition != (uint32_t)m->partition) {
					u->st.snapshots_bad++;
					log_error("snapshot for another partition skipped",
						  "partition=%d claims=%u", m->partition,
						  s.partition);
				} else if ((rc = ledger_apply_snapshot(u->lg, &s, m->offset))) {
					log_error("snapshot not applied; reading it again in a second",
						  "partition=%d offset=%" PRId64 " err=\"%s\"",
						  m->partition, m->offset, err_str(rc));
					u->st.snapshot_retries++;
					u->retry_at = clock_mono_ms() + 1000;
					failed = true;
				}
				wire_snapshot_free(&s);
			}
		}
		rd_kafka_message_destroy(m);
	}
}

void uplink_flush(uplink *u, int timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
	while (rd_kafka_outq_len(u->producer) > 0 && clock_mono_ms() < deadline)
		rd_kafka_poll(u->producer, 50);
}

void uplink_get_stats(const uplink *u, uplink_stats *out)
{
	*out = u->st;
}

void uplink_free(uplink *u)
{
	if (!u)
		return;
	if (u->consumer) {
		rd_kafka_consumer_close(u->consumer);
		rd_kafka_destroy(u->consumer);
	}
	if (u->batches)
		rd_kafka_topic_destroy(u->batches);
	if (u->producer)
		rd_kafka_destroy(u->producer);
	free(u);
}
