/* feed_clients.c - the change feed publisher's Kafka clients (its
 * producer, made anew after a purge; the reader; the group's member) and
 * the group's rebalances, which name each partition's publisher
 * (feed_int.h, docs/events.md). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "central/feed/feed_int.h"
#include "clock.h"
#include "err.h"

/* ---- the group: who publishes -------------------------------------------- */

static bool in_list(const feed *f, const rd_kafka_topic_partition_list_t *l, uint32_t p)
{
	for (int i = 0; i < l->cnt; i++)
		if (l->elems[i].partition == (int32_t)p &&
		    !strcmp(l->elems[i].topic, f->o.topics[f->own_topic]))
			return true;
	return false;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	feed *f = opaque;
	bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
	bool take = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
	/* A revoke that is not a loss (the group rebalanced; this member
	 * stayed in it) hands the partition back: should the next
	 * assignment give it to this member again, nobody else had it in
	 * between, and publishing goes on where it was. */
	bool lost = !take && rd_kafka_assignment_lost(rk);
	uint64_t now = clock_mono_ms();
	for (int i = 0; i < parts->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &parts->elems[i];
		uint32_t p = (uint32_t)tp->partition;
		if (strcmp(tp->topic, f->o.topics[f->own_topic]) || p >= f->o.partitions ||
		    !f->parts[p].owned)
			continue;
		fpart *fp = &f->parts[p];
		if (take && fp->st == P_IDLE && fp->handed_back) {
			fp->st = fp->failed ? P_STALLED : P_LIVE;
			fp->handed_back = false;
			log_debug("feed partition given back to this instance", "partition=%u", p);
		} else if (take && fp->st == P_IDLE) {
			fp->st = P_WAIT;
			fp->wait_until = now + (uint64_t)f->o.timeout_ms + GRACE_EXTRA_MS;
			log_info("feed partition given to this instance", "partition=%u", p);
		} else if (!take && fp->st != P_IDLE) {
			/* Handed back only by the eager protocol's revoke-all
			 * (a cooperative revoke moves the partition away), and
			 * only from where publishing can go on. */
			fp->handed_back =
			    !coop && !lost && (fp->st == P_LIVE || fp->st == P_STALLED);
			fp->st = P_IDLE;
			if (!fp->handed_back)
				for (int t = 0; t < FEEDREC_TOPICS; t++)
					fp->sent[t].n = 0;
			log_info("feed partition taken from this instance", "partition=%u lost=%s",
			         p, lost ? "true" : "false");
		}
	}
	if (take && !coop)
		/* The eager assignment is the whole of it: a partition handed
		 * back and not given again went to someone else. */
		for (uint32_t p = 0; p < f->o.partitions; p++)
			if (f->parts[p].handed_back && !in_list(f, parts, p)) {
				f->parts[p].handed_back = false;
				for (int t = 0; t < FEEDREC_TOPICS; t++)
					f->parts[p].sent[t].n = 0;
			}
	rd_kafka_error_t *e = NULL;
	rd_kafka_resp_err_t ae = 0;
	if (take) {
		if (coop)
			e = rd_kafka_incremental_assign(rk, parts);
		else
			ae = rd_kafka_assign(rk, parts);
		/* The group only decides; nothing is read through it. */
		rd_kafka_pause_partitions(rk, parts);
	} else if (coop) {
		e = rd_kafka_incremental_unassign(rk, parts);
	} else {
		ae = rd_kafka_assign(rk, NULL);
	}
	if (e) {
		log_warn("feed group assignment failed", "err=\"%s\"", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	} else if (ae) {
		log_warn("feed group assignment failed", "err=\"%s\"", rd_kafka_err2str(ae));
	}
	metric_set(f->publishing, (int64_t)feed_publishing_count(f));
}

void feed_serve_group(feed *f)
{
	for (int i = 0; i < 16; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(f->group, 0);
		if (!m)
			return;
		uint64_t skipped;
		if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
		    log_every(&f->group_errors, 10000, &skipped))
			log_warn("feed group error", "group=%s err=\"%s\" skipped=%" PRIu64,
			         f->o.group, rd_kafka_message_errstr(m), skipped);
		rd_kafka_message_destroy(m);
	}
}

/* ---- the clients ------------------------------------------------------- */

static rd_kafka_t *client(feed *f, enum bus_role role, const char *group, bool decides,
                          const char *const *kv, size_t nkv, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf =
	    bus_conf_new(role, &f->o.props, f->o.bootstrap_file, group, err, errlen);
	if (!conf)
		return NULL;
	for (size_t i = 0; i + 1 < nkv; i += 2)
		if (bus_conf_set(conf, "feed", kv[i], kv[i + 1], err, errlen)) {
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	rd_kafka_conf_set_opaque(conf, f);
	if (role == BUS_PRODUCER)
		rd_kafka_conf_set_dr_msg_cb(conf, feed_on_delivery);
	else if (decides)
		rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	return bus_client_new(role, conf, err, errlen);
}

/* The reconnect cap of the producer, the reader and the group. */
static void backoff_text(const feed *f, char *out, size_t n)
{
	int64_t back = f->o.timeout_ms / 10;
	if (back < 100)
		back = 100;
	if (back > 1000)
		back = 1000;
	snprintf(out, n, "%" PRId64, back);
}

int feed_producer_start(feed *f, char *err, size_t errlen)
{
	char ms[24];
	snprintf(ms, sizeof ms, "%" PRId64, f->o.timeout_ms);
	/* A message that times out while later ones of its partition land
	 * is a gap (docs/events.md). Two ways to that are closed here:
	 *  - One request in flight per broker: a request that fails and is
	 *    sent again lands before the next, whatever the broker checks.
	 *    With five, a real broker refuses the later ones until the
	 *    earlier lands (the idempotent producer's sequences), but the
	 *    embedded one checks none and writes them first.
	 *  - Reconnects at least every tenth of timeout_ms (100 ms to 1 s):
	 *    librdkafka's own pause grows to 10 s while a broker is away,
	 *    so after an outage shorter than timeout_ms the oldest messages
	 *    could time out in the queue before the client came back, and
	 *    the younger ones then land (broker_outage lost a partition's
	 *    first 234 events so in CI).
	 * feed.c closes the rest: it sends nothing of a partition after a
	 * failure, and purges what is queued before this timeout can fail a
	 * message (purge_stale). */
	char backs[24];
	backoff_text(f, backs, sizeof backs);
	const char *pkv[] = {"message.timeout.ms",
	                     ms,
	                     "linger.ms",
	                     "5",
	                     "max.in.flight.requests.per.connection",
	                     "1",
	                     "reconnect.backoff.max.ms",
	                     backs};
	f->prod = client(f, BUS_PRODUCER, NULL, false, pkv, 8, err, errlen);
	if (!f->prod)
		return ERR_KAFKA;
	for (int t = 0; t < FEEDREC_TOPICS; t++)
		if (f->on[t] && !(f->rkt[t] = rd_kafka_topic_new(f->prod, f->o.topics[t], NULL))) {
			snprintf(err, errlen, "topic %s: %s", f->o.topics[t],
			         rd_kafka_err2str(rd_kafka_last_error()));
			return ERR_KAFKA;
		}
	return 0;
}

void feed_producer_stop(feed *f, int wait_ms)
{
	if (!f->prod)
		return;
	if (wait_ms > 0)
		rd_kafka_flush(f->prod, wait_ms);
	for (int t = 0; t < FEEDREC_TOPICS; t++)
		if (f->rkt[t]) {
			rd_kafka_topic_destroy(f->rkt[t]);
			f->rkt[t] = NULL;
		}
	rd_kafka_destroy(f->prod);
	f->prod = NULL;
}

int feed_clients_start(feed *f, char *err, size_t errlen)
{
	char ms[24], hb[24], name[320], backs[24];
	backoff_text(f, backs, sizeof backs);
	int rc = feed_producer_start(f, err, errlen);
	if (rc)
		return rc;
	/* The reader and the group come back as soon as the producer does:
	 * with librdkafka's 10 s pause, a takeover after an outage waited
	 * for their watermark queries and the group's rebalance. */
	const char *rkv[] = {
	    "enable.partition.eof", "true",         "auto.offset.reset",        "earliest",
	    "fetch.wait.max.ms",    READER_WAIT_MS, "reconnect.backoff.max.ms", backs};
	snprintf(name, sizeof name, "%s-reader-%s", f->o.group, f->o.id);
	f->reader = client(f, BUS_CONSUMER, name, false, rkv, 8, err, errlen);
	if (!f->reader)
		return ERR_KAFKA;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
	for (uint32_t p = 0; p < f->o.partitions; p++)
		for (int t = 0; t < FEEDREC_TOPICS; t++)
			if (f->parts[p].owned && f->on[t])
				rd_kafka_topic_partition_list_add(l, f->o.topics[t], (int32_t)p)
				    ->offset = RD_KAFKA_OFFSET_TAIL(TAIL_READ);
	rd_kafka_poll_set_consumer(f->reader); /* its errors come through the poll */
	rd_kafka_resp_err_t e = rd_kafka_assign(f->reader, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		snprintf(err, errlen, "feed reader: assign: %s", rd_kafka_err2str(e));
		return ERR_KAFKA;
	}
	snprintf(ms, sizeof ms, "%" PRId64, f->o.session_ms);
	snprintf(hb, sizeof hb, "%" PRId64, f->o.session_ms / 5 > 100 ? f->o.session_ms / 5 : 100);
	const char *gkv[] = {"session.timeout.ms", ms,       "heartbeat.interval.ms",    hb,
	                     "auto.offset.reset",  "latest", "reconnect.backoff.max.ms", backs};
	f->group = client(f, BUS_CONSUMER, f->o.group, true, gkv, 8, err, errlen);
	if (!f->group)
		return ERR_KAFKA;
	rd_kafka_poll_set_consumer(f->group);
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, f->o.topics[f->own_topic], RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(f->group, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		snprintf(err, errlen, "feed group %s: subscribe: %s", f->o.group,
		         rd_kafka_err2str(e));
		return ERR_KAFKA;
	}
	return 0;
}
