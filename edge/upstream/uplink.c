/* uplink.c - batches to Kafka, snapshots from Kafka (uplink.h).
 *
 * Owns the producer, the consumer and the batch and dead-letter topic
 * handles. A batch's (partition, seq) rides along as the message opaque
 * so its delivery report can update the ledger (a hand-over's seq is 0:
 * batches' start at 1); dead letters carry a NULL opaque, and their
 * topic tells them from a hand-over to partition 0. The snapshot
 * offsets the store holds are copied, for Kafka's lag tools only, to the
 * group likes-edge-<id> every bus.commit_interval_ms (kcommit.h); the
 * consumer always resumes from the store.
 *
 * Threads: one thread polls (the edge's upstream thread; the drain's last
 * flush is the main thread's, once that one stopped). Any thread may call
 * the getters (the counters and readiness facts are atomics), the
 * queue lengths, uplink_check_snapshot (pure), uplink_commit_stats and
 * uplink_send: the ledger's send hook, called by whichever thread seals
 * a batch under the ledger's writer mutex (the upstream thread's seal
 * tick, or a worker or the commit thread whose group filled a batch); it
 * only calls rd_kafka_producev, which is thread-safe.
 */
#include "edge/upstream/uplink.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "clock.h"
#include "item.h"
#include "kcommit.h"
#include "log.h"
#include "partition.h"
#include "version.h"
#include "wire.h"
#include "xmem.h"

#define SEQ_SHIFT 12 /* partitions fit in 12 bits (PARTITION_MAX) */
#define REASON_MAX 192
#define HANDOVER_QUEUE_MS 5000 /* a full producer queue: how long a hand-over waits */

struct uplink {
	const edge_config *cfg;
	rd_kafka_t *producer;
	rd_kafka_topic_t *batches;
	bus_dlq dlq; /* refused snapshots go here (bus.h); mark NULL */
	rd_kafka_t *consumer;
	kcommit *commits; /* stored positions to the group, for tools; NULL = off */
	ledger *lg;
	telemetry *tm; /* may be NULL */
	/* Written by the polling thread, read by any (the getters). */
	struct {
		_Atomic uint64_t produced, produce_errors, snapshots_received, snapshots_bad,
		    snapshots_deadlettered, deadletter_failed, offset_resets, snapshot_retries;
	} st;                         /* uplink_stats's counters, and the only count of each: the
	                               * registry renders them (uplink_metrics_add) */
	_Atomic uint64_t kafka_ok_ms; /* readiness: mono ms of the last delivery or snapshot */
	_Atomic uint64_t *snap_seen;  /* per partition: mono ms its last snapshot was read */
	uint64_t retry_at;            /* mono ms to read snapshots again from the store's
	                                 offsets after one failed to apply; 0 = reading */
	int64_t *next;                /* per partition: the offset the next snapshot
	                                 message must have; -1 = not known yet */
	int64_t *epoch;               /* per partition: the newest version epoch seen
	                                 (version.h); -1 = none yet */
	_Atomic uint64_t writer_ms;   /* the writer time batches are stamped with
	                                 (uplink_handover); 0 = none */
};

static void count_failed_letter(uplink *u)
{
	u->st.deadletter_failed++;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	uplink *u = opaque;
	bool failed;
	/* A hand-over to partition 0 has the dead letters' NULL opaque: the
	 * topic tells them apart. */
	if (strcmp(rd_kafka_topic_name(m->rkt), u->cfg->batch_topic) != 0 &&
	    bus_dlq_report(&u->dlq, m, &failed)) {
		if (failed)
			count_failed_letter(u);
		return;
	}
	uintptr_t tag = (uintptr_t)m->_private;
	uint32_t p = (uint32_t)(tag & ((1u << SEQ_SHIFT) - 1));
	uint64_t seq = (uint64_t)(tag >> SEQ_SHIFT);
	if (seq == 0) { /* a hand-over */
		if (m->err) {
			u->st.produce_errors++;
			log_error(
			    "hand-over not delivered: central fences this edge's former "
			    "instances in the partition only from this instance's first batch "
			    "there",
			    "partition=%u err=\"%s\"", p, rd_kafka_err2str(m->err));
		} else {
			atomic_store(&u->kafka_ok_ms, clock_mono_ms());
		}
		return;
	}
	int64_t us = rd_kafka_message_latency(m); /* since the produce call */
	if (u->tm && us >= 0)
		metric_observe(u->tm->produce_latency, (double)us / 1e6);
	if (m->err) {
		u->st.produce_errors++;
		log_warn("batch delivery failed; it will be sent again",
		         "partition=%u seq=%" PRIu64 " err=\"%s\"", p, seq,
		         rd_kafka_err2str(m->err));
		ledger_delivered(u->lg, p, seq, -1);
		return;
	}
	u->st.produced++;
	atomic_store(&u->kafka_ok_ms, clock_mono_ms());
	ledger_delivered(u->lg, p, seq, m->offset);
}

uplink *uplink_new(const edge_config *cfg, telemetry *tm, char *err, size_t errlen)
{
	uplink *u = xcalloc(1, sizeof *u);
	u->cfg = cfg;
	u->tm = tm;
	u->snap_seen = xcalloc((size_t)cfg->partitions, sizeof *u->snap_seen);
	u->next = xcalloc((size_t)cfg->partitions, sizeof *u->next);
	u->epoch = xcalloc((size_t)cfg->partitions, sizeof *u->epoch);
	bus_props bp = edge_bus_props(cfg);
	rd_kafka_conf_t *conf =
	    bus_conf_new(BUS_PRODUCER, &bp, cfg->bootstrap_file, NULL, err, errlen);
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
	if (bus_dlq_init(&u->dlq, u->producer, cfg->deadletter_topic, cfg->snapshot_topic, cfg->id,
	                 "snapshot", NULL, err, errlen))
		goto fail;
	return u;
fail:
	uplink_free(u);
	return NULL;
}

/* Queues buf to the batch topic's partition, tagged for its delivery
 * report (seq 0: a hand-over) and stamped with the writer time when
 * there is one. */
static rd_kafka_resp_err_t produce(uplink *u, uint32_t partition, uint64_t seq, const void *buf,
                                   size_t len)
{
	uint64_t writer = atomic_load(&u->writer_ms);
	char wv[24];
	rd_kafka_vu_t vu[6] = {
	    {.vtype = RD_KAFKA_VTYPE_RKT, .u.rkt = u->batches},
	    {.vtype = RD_KAFKA_VTYPE_PARTITION, .u.i32 = (int32_t)partition},
	    {.vtype = RD_KAFKA_VTYPE_MSGFLAGS, .u.i = RD_KAFKA_MSG_F_COPY},
	    {.vtype = RD_KAFKA_VTYPE_VALUE, .u.mem = {(void *)buf, len}},
	    {.vtype = RD_KAFKA_VTYPE_OPAQUE,
	     .u.ptr = (void *)(((uintptr_t)seq << SEQ_SHIFT) | partition)},
	};
	size_t n = 5;
	if (writer) {
		snprintf(wv, sizeof wv, "%" PRIu64, writer);
		vu[n++] = (rd_kafka_vu_t){.vtype = RD_KAFKA_VTYPE_HEADER,
		                          .u.header = {WIRE_WRITER_HEADER, wv, -1}};
	}
	rd_kafka_error_t *e = rd_kafka_produceva(u->producer, vu, n);
	if (!e)
		return RD_KAFKA_RESP_ERR_NO_ERROR;
	rd_kafka_resp_err_t code = rd_kafka_error_code(e);
	rd_kafka_error_destroy(e);
	return code;
}

int uplink_send(void *ctx, uint32_t partition, uint64_t seq, const void *buf, size_t len)
{
	uplink *u = ctx;
	rd_kafka_resp_err_t e = produce(u, partition, seq, buf, len);
	if (!e)
		return 0;
	if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
		log_warn("batch not queued", "partition=%u seq=%" PRIu64 " err=\"%s\"", partition,
		         seq, rd_kafka_err2str(e));
	return ERR_AGAIN;
}

int uplink_handover(uplink *u, uint64_t epoch, uint64_t writer, char *err, size_t errlen)
{
	/* The takeover record's, unchanged (the next instance reads it
	 * there); the same in every partition's hand-over and every batch
	 * from now on. A process takes over once: an earlier one is a bug. */
	uint64_t was = atomic_load(&u->writer_ms);
	if (writer == 0 || writer <= was) {
		snprintf(err, errlen,
		         "hand-over of epoch %" PRIu64 ": writer time %" PRIu64
		         " is not after %" PRIu64,
		         epoch, writer, was);
		return ERR_INVAL;
	}
	atomic_store(&u->writer_ms, writer);
	uint64_t deadline = clock_mono_ms() + HANDOVER_QUEUE_MS;
	for (uint32_t p = 0; p < (uint32_t)u->cfg->partitions; p++) {
		wire_handover h = {p, wire_cstr(u->cfg->id, strlen(u->cfg->id)), epoch, writer};
		char *buf;
		size_t len;
		if (wire_encode_handover(&h, &buf, &len)) {
			snprintf(err, errlen, "hand-over of epoch %" PRIu64 ": cannot encode",
			         epoch);
			return ERR_INVAL;
		}
		rd_kafka_resp_err_t e;
		while ((e = produce(u, p, 0, buf, len)) == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
		       clock_mono_ms() < deadline) {
			struct timespec nap = {0, 10 * 1000 * 1000};
			nanosleep(&nap, NULL); /* the upstream thread serves the queue */
		}
		free(buf);
		if (e) {
			snprintf(err, errlen, "hand-over of epoch %" PRIu64 " to partition %u: %s",
			         epoch, p, rd_kafka_err2str(e));
			return ERR_KAFKA;
		}
	}
	log_info("hand-over queued to every partition of the batch topic",
	         "edge=%s epoch=%" PRIu64 " writer_ms=%" PRIu64 " partitions=%" PRId64, u->cfg->id,
	         epoch, writer, u->cfg->partitions);
	return 0;
}

/* Assigns every snapshot partition at the offset the ledger stored with
 * the last snapshot it applied. */
static int assign_all(uplink *u, char *err, size_t errlen)
{
	int np = (int)u->cfg->partitions;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
	for (int p = 0; p < np; p++) {
		int64_t off;
		if (ledger_snapshot_resume(u->lg, (uint32_t)p, &off))
			off = RD_KAFKA_OFFSET_BEGINNING;
		u->next[p] = off >= 0 ? off : -1;
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

/* At start: a partition whose replica was never loaded starts loading,
 * its snapshots tailed from the end of the topic as it is now (the
 * checkpoint asked for after this covers everything before); one whose
 * resume offset the broker no longer has (below its low watermark, or
 * above its end: it started again empty) is loaded again the same way.
 * When the broker cannot say where the end is, a new partition is read
 * from the beginning (every older snapshot is skipped or checked per
 * count) and a stored resume offset is trusted until the stream jumps. */
static int begin_replicas(uplink *u, char *err, size_t errlen)
{
	bool asking = true;
	for (uint32_t p = 0; p < (uint32_t)u->cfg->partitions; p++) {
		ledger_replica r;
		int rc = ledger_replica_get(u->lg, p, &r);
		if (rc)
			return rc;
		int64_t stored, lo = 0, hi = 0;
		bool have = ledger_snapshot_resume(u->lg, p, &stored) == 0;
		bool known =
		    asking && bus_watermarks(u->consumer, u->cfg->snapshot_topic, (int32_t)p, 2000,
		                             &lo, &hi) == RD_KAFKA_RESP_ERR_NO_ERROR;
		asking = known; /* one timeout is enough to know Kafka is away */
		int64_t tail;
		if (r.state == LEDGER_REPLICA_NONE) {
			tail = have ? stored : known ? hi : 0;
		} else if (have && known && (stored < lo || stored > hi)) {
			u->st.offset_resets++;
			log_error("snapshot resume offset no longer in the topic: loading the "
			          "replica again",
			          "topic=%s partition=%u offset=%" PRId64 " low=%" PRId64
			          " high=%" PRId64,
			          u->cfg->snapshot_topic, p, stored, lo, hi);
			tail = hi;
		} else {
			continue;
		}
		rc = ledger_replica_begin(u->lg, p, tail);
		if (rc) {
			snprintf(err, errlen, "partition %u: recording the replica's start: %s", p,
			         err_str(rc));
			return rc;
		}
		u->epoch[p] = -1; /* loading from scratch: any epoch is news to none */
	}
	return 0;
}

/* The next snapshot offset the store holds the effects of (kcommit). */
static int64_t stored_position(void *ctx, uint32_t p)
{
	int64_t off;
	return ledger_snapshot_resume(((uplink *)ctx)->lg, p, &off) == 0 ? off : -1;
}

int uplink_start(uplink *u, ledger *lg, char *err, size_t errlen)
{
	const edge_config *cfg = u->cfg;
	u->lg = lg;
	char group[256];
	snprintf(group, sizeof group, "likes-edge-%s", cfg->id);
	bus_props bp = edge_bus_props(cfg);
	rd_kafka_conf_t *conf =
	    bus_conf_new(BUS_CONSUMER, &bp, cfg->bootstrap_file, group, err, errlen);
	if (!conf)
		return ERR_CONFIG;
	/* An offset out of range (retention passed it, the broker restarted
	 * empty, the topic was recreated) resumes at the end; the jump it
	 * makes is seen on the next message and the partition's replica is
	 * loaded again (uplink_poll). */
	char cerr[256];
	if (rd_kafka_conf_set(conf, "auto.offset.reset", "latest", cerr, sizeof cerr) !=
	    RD_KAFKA_CONF_OK) {
		snprintf(err, errlen, "auto.offset.reset: %s", cerr);
		rd_kafka_conf_destroy(conf);
		return ERR_CONFIG;
	}
	u->consumer = bus_client_new(BUS_CONSUMER, conf, err, errlen);
	if (!u->consumer)
		return ERR_KAFKA;
	rd_kafka_poll_set_consumer(u->consumer);
	ledger_part_info *pi = xcalloc((size_t)cfg->partitions, sizeof *pi);
	size_t np = ledger_get_parts(lg, pi, (size_t)cfg->partitions);
	for (size_t p = 0; p < np; p++)
		u->epoch[p] = pi[p].version ? (int64_t)version_epoch(pi[p].version) : -1;
	free(pi);
	int rc = u->cfg->central_ops[0] ? begin_replicas(u, err, errlen) : 0;
	if (!rc)
		rc = assign_all(u, err, errlen);
	if (rc)
		return rc;
	/* kcommit's own conf, made as the consumer's: a running client's
	 * conf is not one to copy. */
	rd_kafka_conf_t *kconf =
	    bus_conf_new(BUS_CONSUMER, &bp, cfg->bootstrap_file, group, err, errlen);
	if (!kconf)
		return ERR_CONFIG;
	kcommit_opts o = {.conf = kconf,
	                  .group = group,
	                  .topic = cfg->snapshot_topic,
	                  .partitions = (uint32_t)cfg->partitions,
	                  .interval_ms = cfg->commit_interval_ms,
	                  .timeout_ms = 10000,
	                  .position = stored_position,
	                  .ctx = u};
	u->commits = kcommit_new(&o);
	rd_kafka_conf_destroy(kconf);
	return 0;
}

/* The snapshot stream of p jumped from where it was to offset: snapshots
 * were lost to it (older than the broker keeps, or a broker or topic that
 * started again empty). Counts can no longer be trusted to be complete:
 * the replica is loaded again, tailing from here. */
static void stream_jumped(uplink *u, int32_t p, int64_t expected, int64_t offset, const char *why)
{
	u->st.offset_resets++;
	bool reload = u->cfg->central_ops[0] != 0;
	log_error("snapshot stream jumped: snapshots may have been lost before this edge read "
	          "them",
	          "topic=%s partition=%d why=%s expected_offset=%" PRId64 " offset=%" PRId64
	          " replica=%s",
	          u->cfg->snapshot_topic, p, why, expected, offset, reload ? "reloading" : "kept");
	/* The stream is taken as it is from here: its epoch is not news. */
	u->epoch[p] = -1;
	if (!reload)
		return;
	int rc = ledger_replica_begin(u->lg, (uint32_t)p, offset);
	if (rc)
		log_error("could not record the replica's new start; the next jump retries",
		          "partition=%d err=\"%s\"", p, err_str(rc));
}

/* Counts a refused snapshot and copies it, unchanged, to the dead-letter
 * topic (bus_dlq_send). */
static void dead_letter(uplink *u, const rd_kafka_message_t *m, const char *reason)
{
	u->st.snapshots_deadlettered++;
	if (bus_dlq_send(&u->dlq, m->partition, m->offset, m->payload, m->len, reason))
		count_failed_letter(u);
}

/* What is wrong with one count entry of a snapshot of partition p. */
static const char *count_fault(const wire_count *c, uint32_t p, uint32_t partitions)
{
	if (!item_counter_valid(c->counter.p, c->counter.n))
		return "bad_counter";
	if (!item_valid(c->item.p, c->item.n))
		return "bad_item";
	if (partition_of(c->item.p, c->item.n, partitions) != p)
		return "item_of_another_partition";
	if (c->count > (uint64_t)INT64_MAX)
		return "count_out_of_range";
	return NULL;
}

int uplink_check_snapshot(wire_snapshot *s, uint32_t msg_partition, uint32_t partitions,
                          uint32_t *dropped, char *why, size_t whylen)
{
	*dropped = 0;
	if (why && whylen)
		why[0] = 0;
	if (s->partition != msg_partition || s->partition >= partitions) {
		snprintf(why, whylen, "partition_mismatch claims=%u", s->partition);
		return ERR_CORRUPT;
	}
	uint32_t kept = 0, first = 0;
	const char *fault = NULL;
	for (uint32_t i = 0; i < s->ncounts; i++) {
		const char *f = count_fault(&s->counts[i], s->partition, partitions);
		if (!f) {
			s->counts[kept++] = s->counts[i];
			continue;
		}
		if (!fault) {
			fault = f;
			first = i;
		}
	}
	*dropped = s->ncounts - kept;
	s->ncounts = kept;
	if (fault)
		snprintf(why, whylen, "bad_counts count=%u first_index=%u first_reason=%s",
		         *dropped, first, fault);
	return 0;
}

/* Skips a snapshot refused in whole: its resume offset moves past it, so
 * neither a restart nor a re-read after a failed apply quarantines it
 * again (a failed write here only means it may be). */
static void refuse(uplink *u, const rd_kafka_message_t *m, const char *reason)
{
	u->st.snapshots_bad++;
	log_error("snapshot refused", "partition=%d offset=%" PRId64 " reason=\"%s\"", m->partition,
	          m->offset, reason);
	dead_letter(u, m, reason);
	int rc = ledger_snapshot_reset(u->lg, (uint32_t)m->partition, m->offset + 1);
	if (rc)
		log_warn("could not store the offset past a refused snapshot",
		         "partition=%d offset=%" PRId64 " err=\"%s\"", m->partition, m->offset,
		         err_str(rc));
}

/* Checks and applies one snapshot message; false when the store could
 * not take it (the caller reads it again later). */
static bool take_snapshot(uplink *u, const rd_kafka_message_t *m)
{
	char why[REASON_MAX];
	wire_snapshot s;
	int rc = wire_decode_snapshot(m->payload, m->len, &s);
	if (rc) {
		snprintf(why, sizeof why, "undecodable err=\"%s\"", err_str(rc));
		refuse(u, m, why);
		return true;
	}
	uint32_t dropped;
	if (uplink_check_snapshot(&s, (uint32_t)m->partition, (uint32_t)u->cfg->partitions,
	                          &dropped, why, sizeof why)) {
		refuse(u, m, why);
		wire_snapshot_free(&s);
		return true;
	}
	/* Central's input started a new epoch (its offsets went back): this
	 * edge cannot tell whether it read every snapshot since, so it loads
	 * the replica again, tailing from here. */
	int64_t ep = (int64_t)version_epoch(s.offset);
	if (u->epoch[m->partition] >= 0 && ep > u->epoch[m->partition])
		stream_jumped(u, m->partition, u->next[m->partition], m->offset, "new_epoch");
	if (ep > u->epoch[m->partition])
		u->epoch[m->partition] = ep;
	rc = ledger_apply_snapshot(u->lg, &s, m->offset);
	wire_snapshot_free(&s);
	if (rc) {
		log_error("snapshot not applied; reading it again in a second",
		          "partition=%d offset=%" PRId64 " err=\"%s\"", m->partition, m->offset,
		          err_str(rc));
		u->st.snapshot_retries++;
		u->retry_at = clock_mono_ms() + 1000;
		return false;
	}
	if (dropped) {
		log_error("snapshot applied without its bad count entries",
		          "partition=%d offset=%" PRId64 " reason=\"%s\"", m->partition, m->offset,
		          why);
		dead_letter(u, m, why);
	}
	return true;
}

void uplink_poll(uplink *u, int max)
{
	rd_kafka_poll(u->producer, 0);
	if (!u->consumer)
		return;
	kcommit_poll(u->commits, clock_mono_ms());
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
		if (m->err) {
			/* An offset reset is handled when the next message
			 * shows where the stream resumed. */
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				log_warn("snapshot consumer", "partition=%d err=\"%s\"",
				         m->partition, rd_kafka_message_errstr(m));
		} else if (m->partition >= 0 && m->partition < u->cfg->partitions) {
			int32_t p = m->partition;
			u->st.snapshots_received++;
			uint64_t now = clock_mono_ms();
			atomic_store(&u->kafka_ok_ms, now);
			atomic_store(&u->snap_seen[p], now);
			if (u->next[p] >= 0 && m->offset != u->next[p])
				stream_jumped(u, p, u->next[p], m->offset, "offset");
			failed = !take_snapshot(u, m);
			if (!failed)
				u->next[p] = m->offset + 1;
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

size_t uplink_queued(const uplink *u)
{
	int n = rd_kafka_outq_len(u->producer);
	return n > 0 ? (size_t)n : 0;
}

void uplink_commit_stats(const uplink *u, kcommit_stats *out)
{
	kcommit_get_stats(u ? u->commits : NULL, out);
}

void uplink_get_stats(const uplink *u, uplink_stats *out)
{
	*out = (uplink_stats){
	    .produced = atomic_load(&u->st.produced),
	    .produce_errors = atomic_load(&u->st.produce_errors),
	    .snapshots_received = atomic_load(&u->st.snapshots_received),
	    .snapshots_bad = atomic_load(&u->st.snapshots_bad),
	    .snapshots_deadlettered = atomic_load(&u->st.snapshots_deadlettered),
	    .deadletter_failed = atomic_load(&u->st.deadletter_failed),
	    .offset_resets = atomic_load(&u->st.offset_resets),
	    .snapshot_retries = atomic_load(&u->st.snapshot_retries),
	};
}

uint64_t uplink_outq_len(uplink *u)
{
	int n = u->producer ? rd_kafka_outq_len(u->producer) : 0;
	return n > 0 ? (uint64_t)n : 0;
}

void uplink_get_health(const uplink *u, uplink_health *out)
{
	out->kafka_ok_ms = atomic_load(&u->kafka_ok_ms);
	out->snapshot_ms = UINT64_MAX;
	out->stale_partition = 0;
	for (uint32_t p = 0; p < (uint32_t)u->cfg->partitions; p++) {
		uint64_t seen = atomic_load(&u->snap_seen[p]);
		if (seen < out->snapshot_ms) {
			out->snapshot_ms = seen;
			out->stale_partition = p;
		}
	}
	if (out->snapshot_ms == UINT64_MAX)
		out->snapshot_ms = 0;
}

void uplink_free(uplink *u)
{
	if (!u)
		return;
	free(u->next);
	free(u->epoch);
	kcommit_free(u->commits);
	if (u->consumer) {
		rd_kafka_consumer_close(u->consumer);
		rd_kafka_destroy(u->consumer);
	}
	if (u->batches)
		rd_kafka_topic_destroy(u->batches);
	bus_dlq_free(&u->dlq);
	if (u->producer)
		rd_kafka_destroy(u->producer);
	free((void *)u->snap_seen);
	free(u);
}

static void render(const metrics *m, void *obj, sbuf *out)
{
	uplink *u = obj;
	uplink_stats st;
	uplink_get_stats(u, &st);
	const metrics_row c[] = {
	    {"kafka_delivered_total", "Batch messages Kafka acknowledged.", METRIC_COUNTER,
	     st.produced},
	    {"kafka_produce_errors_total",
	     "Batch messages whose delivery failed (they are sent again).", METRIC_COUNTER,
	     st.produce_errors},
	    {"snapshots_received_total", "Snapshot messages read from Kafka.", METRIC_COUNTER,
	     st.snapshots_received},
	    {"snapshots_bad_total", "Snapshots refused whole.", METRIC_COUNTER, st.snapshots_bad},
	    {"snapshots_deadlettered_total",
	     "Snapshots refused in whole or in part and copied to the dead-letter topic.",
	     METRIC_COUNTER, st.snapshots_deadlettered},
	    {"deadletter_failed_total", "Dead letters that could not be produced.", METRIC_COUNTER,
	     st.deadletter_failed},
	};
	metrics_singles(m, out, c, sizeof c / sizeof *c);
	metrics_single(m, out, "kafka_inflight_messages", METRIC_GAUGE,
	               "Messages in the producer's queue, not yet acknowledged by Kafka.",
	               (double)uplink_outq_len(u));
	kcommit_stats ks;
	uplink_commit_stats(u, &ks);
	metrics_single(m, out, "kafka_offset_commits_total", METRIC_COUNTER,
	               "Requests committing the stored snapshot positions to the group "
	               "likes-edge-ID (for Kafka's lag tools).",
	               (double)ks.sent);
	metrics_single(m, out, "kafka_offset_commit_errors_total", METRIC_COUNTER,
	               "Of those, refused in whole or in part, or timed out (positions stay in "
	               "the store).",
	               (double)ks.failed);
}

void uplink_metrics_add(metrics *reg, uplink *u)
{
	metrics_add_object_hook(reg, render, u);
}
