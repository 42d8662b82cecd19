/* feed_clients.c - the change feed publisher's Kafka clients (its
 * producer, made anew after a purge; the reader; the group's member),
 * and the group's rebalances taken as feed.c's hook says what they
 * change (feed_clients.h, docs/events.md). */
#include "central/feed/feed_clients.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "xmem.h"

void feed_clients_init(feed_clients *c, const feed_clients_opts *o)
{
	*c = (feed_clients){.o = *o, .own_topic = -1};
	for (int t = FEEDREC_TOPICS - 1; t >= 0; t--)
		if ((c->on[t] = o->topics[t] && o->topics[t][0]))
			c->own_topic = t;
}

int feed_clients_topic_of(const feed_clients *c, const rd_kafka_topic_t *rkt)
{
	const char *name = rd_kafka_topic_name(rkt);
	for (int t = 0; t < FEEDREC_TOPICS; t++)
		if (c->on[t] && !strcmp(name, c->o.topics[t]))
			return t;
	return -1;
}

/* ---- the group: who publishes -------------------------------------------- */

/* Tells the hook which partitions of the group's topic the group gave
 * or took, then takes the change: the group only decides, nothing is
 * read through it. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	feed_clients *c = opaque;
	feed_group_change ch = {.take = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS,
	                        .coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE")};
	/* A revoke that is not a loss (the group rebalanced; this member
	 * stayed in it) is told apart: the publisher may then go on. */
	ch.lost = !ch.take && rd_kafka_assignment_lost(rk);
	uint32_t *ps = xmalloc((parts->cnt ? (size_t)parts->cnt : 1) * sizeof *ps);
	for (int i = 0; i < parts->cnt; i++) {
		const rd_kafka_topic_partition_t *tp = &parts->elems[i];
		if (!strcmp(tp->topic, c->o.topics[c->own_topic]) && tp->partition >= 0 &&
		    (uint32_t)tp->partition < c->o.partitions)
			ps[ch.n++] = (uint32_t)tp->partition;
	}
	ch.parts = ps;
	c->o.changed(c->o.ctx, &ch);
	free(ps);
	rd_kafka_error_t *e = NULL;
	rd_kafka_resp_err_t ae = 0;
	if (ch.take) {
		if (ch.coop)
			e = rd_kafka_incremental_assign(rk, parts);
		else
			ae = rd_kafka_assign(rk, parts);
		rd_kafka_pause_partitions(rk, parts);
	} else if (ch.coop) {
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
}

void feed_clients_serve(feed_clients *c)
{
	for (int i = 0; i < 16; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c->group, 0);
		if (!m)
			return;
		uint64_t skipped;
		if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
		    log_every(&c->group_errors, 10000, &skipped))
			log_warn("feed group error", "group=%s err=\"%s\" skipped=%" PRIu64,
			         c->o.group, rd_kafka_message_errstr(m), skipped);
		rd_kafka_message_destroy(m);
	}
}

/* ---- the clients ------------------------------------------------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk; /* c->prod */
	feed_clients *c = opaque;
	c->o.delivered(c->o.ctx, m);
}

static rd_kafka_t *client(feed_clients *c, enum bus_role role, const char *group, bool decides,
                          const char *const *kv, size_t nkv, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf =
	    bus_conf_new(role, c->o.props, c->o.bootstrap_file, group, err, errlen);
	if (!conf)
		return NULL;
	for (size_t i = 0; i + 1 < nkv; i += 2)
		if (bus_conf_set(conf, "feed", kv[i], kv[i + 1], err, errlen)) {
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	rd_kafka_conf_set_opaque(conf, c);
	if (role == BUS_PRODUCER)
		rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	else if (decides)
		rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	return bus_client_new(role, conf, err, errlen);
}

/* The reconnect cap of the producer, the reader and the group. */
static void backoff_text(const feed_clients *c, char *out, size_t n)
{
	int64_t back = c->o.timeout_ms / 10;
	if (back < 100)
		back = 100;
	if (back > 1000)
		back = 1000;
	snprintf(out, n, "%" PRId64, back);
}

int feed_producer_start(feed_clients *c, char *err, size_t errlen)
{
	char ms[24];
	snprintf(ms, sizeof ms, "%" PRId64, c->o.timeout_ms);
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
	backoff_text(c, backs, sizeof backs);
	const char *pkv[] = {"message.timeout.ms",
	                     ms,
	                     "linger.ms",
	                     "5",
	                     "max.in.flight.requests.per.connection",
	                     "1",
	                     "reconnect.backoff.max.ms",
	                     backs};
	c->prod = client(c, BUS_PRODUCER, NULL, false, pkv, 8, err, errlen);
	if (!c->prod)
		return ERR_KAFKA;
	for (int t = 0; t < FEEDREC_TOPICS; t++)
		if (c->on[t] && !(c->rkt[t] = rd_kafka_topic_new(c->prod, c->o.topics[t], NULL))) {
			snprintf(err, errlen, "topic %s: %s", c->o.topics[t],
			         rd_kafka_err2str(rd_kafka_last_error()));
			return ERR_KAFKA;
		}
	return 0;
}

void feed_producer_stop(feed_clients *c, int wait_ms)
{
	if (!c->prod)
		return;
	if (wait_ms > 0)
		rd_kafka_flush(c->prod, wait_ms);
	for (int t = 0; t < FEEDREC_TOPICS; t++)
		if (c->rkt[t]) {
			rd_kafka_topic_destroy(c->rkt[t]);
			c->rkt[t] = NULL;
		}
	rd_kafka_destroy(c->prod);
	c->prod = NULL;
}

int feed_clients_start(feed_clients *c, char *err, size_t errlen)
{
	char ms[24], hb[24], name[320], backs[24];
	backoff_text(c, backs, sizeof backs);
	int rc = feed_producer_start(c, err, errlen);
	if (rc)
		return rc;
	/* The reader and the group come back as soon as the producer does:
	 * with librdkafka's 10 s pause, a takeover after an outage waited
	 * for their watermark queries and the group's rebalance. */
	const char *rkv[] = {"enable.partition.eof",     "true",
	                     "auto.offset.reset",        "earliest",
	                     "fetch.wait.max.ms",        FEED_READER_WAIT_MS,
	                     "reconnect.backoff.max.ms", backs};
	snprintf(name, sizeof name, "%s-reader-%s", c->o.group, c->o.id);
	c->reader = client(c, BUS_CONSUMER, name, false, rkv, 8, err, errlen);
	if (!c->reader)
		return ERR_KAFKA;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
	for (uint32_t p = 0; p < c->o.partitions; p++)
		for (int t = 0; t < FEEDREC_TOPICS; t++)
			if (shard_owns(c->o.own, p) && c->on[t])
				rd_kafka_topic_partition_list_add(l, c->o.topics[t], (int32_t)p)
				    ->offset = RD_KAFKA_OFFSET_TAIL(FEED_TAIL_READ);
	rd_kafka_poll_set_consumer(c->reader); /* its errors come through the poll */
	rd_kafka_resp_err_t e = rd_kafka_assign(c->reader, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		snprintf(err, errlen, "feed reader: assign: %s", rd_kafka_err2str(e));
		return ERR_KAFKA;
	}
	snprintf(ms, sizeof ms, "%" PRId64, c->o.session_ms);
	snprintf(hb, sizeof hb, "%" PRId64, c->o.session_ms / 5 > 100 ? c->o.session_ms / 5 : 100);
	const char *gkv[] = {"session.timeout.ms", ms,       "heartbeat.interval.ms",    hb,
	                     "auto.offset.reset",  "latest", "reconnect.backoff.max.ms", backs};
	c->group = client(c, BUS_CONSUMER, c->o.group, true, gkv, 8, err, errlen);
	if (!c->group)
		return ERR_KAFKA;
	rd_kafka_poll_set_consumer(c->group);
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, c->o.topics[c->own_topic], RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(c->group, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		snprintf(err, errlen, "feed group %s: subscribe: %s", c->o.group,
		         rd_kafka_err2str(e));
		return ERR_KAFKA;
	}
	return 0;
}

void feed_clients_free(feed_clients *c, int wait_ms)
{
	feed_producer_stop(c, wait_ms);
	if (c->group) {
		rd_kafka_consumer_close(c->group);
		rd_kafka_destroy(c->group);
		c->group = NULL;
	}
	if (c->reader) {
		rd_kafka_consumer_close(c->reader);
		rd_kafka_destroy(c->reader);
		c->reader = NULL;
	}
}
