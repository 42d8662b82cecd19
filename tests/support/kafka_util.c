/* kafka_util.c - Kafka clients for tests that talk to the embedded broker
 * directly (kafka_util.h). */
#include "tests/support/kafka_util.h"

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <string.h>

#include "clock.h"
#include "sim/broker/broker.h"

void kafka_util_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[256];
	cr_assert_eq(rd_kafka_conf_set(conf, k, v, err, sizeof err), RD_KAFKA_CONF_OK, "%s=%s: %s",
	             k, v, err);
}

void kafka_util_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	delivery *d = m->_private;
	d->err = m->err;
	d->offset = m->offset;
	d->done = true;
}

rd_kafka_t *kafka_util_new_producer(const char *bootstraps)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	kafka_util_set(conf, "bootstrap.servers", bootstraps);
	kafka_util_set(conf, "enable.idempotence", "true");
	kafka_util_set(conf, "acks", "all");
	kafka_util_set(conf, "linger.ms", "0");
	kafka_util_set(conf, "message.timeout.ms", "60000");
	kafka_util_set(conf, "reconnect.backoff.max.ms", "500");
	rd_kafka_conf_set_dr_msg_cb(conf, kafka_util_on_delivery);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	cr_assert_not_null(rk, "producer: %s", err);
	return rk;
}

rd_kafka_t *kafka_util_new_consumer(const char *bootstraps, const char *group)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	kafka_util_set(conf, "bootstrap.servers", bootstraps);
	kafka_util_set(conf, "group.id", group);
	kafka_util_set(conf, "enable.auto.commit", "false");
	kafka_util_set(conf, "auto.offset.reset", "earliest");
	kafka_util_set(conf, "fetch.wait.max.ms", "10");
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	cr_assert_not_null(rk, "consumer: %s", err);
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

void kafka_util_produce(rd_kafka_t *rk, const char *topic, int32_t part, const char *payload,
                        delivery *d)
{
	memset(d, 0, sizeof *d);
	rd_kafka_resp_err_t e = rd_kafka_producev(
	    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
	    RD_KAFKA_V_VALUE((void *)payload, strlen(payload)),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
	cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "producev: %s", rd_kafka_err2str(e));
}

bool kafka_util_wait_delivery(rd_kafka_t *rk, delivery *d, uint64_t timeout_ms)
{
	uint64_t end = clock_mono_ms() + timeout_ms;
	while (!d->done && clock_mono_ms() < end)
		rd_kafka_poll(rk, 10);
	return d->done;
}

void kafka_util_assign_from_start(rd_kafka_t *rk, const char *topic, int32_t part)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, part)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "assign: %s", rd_kafka_err2str(e));
}

rd_kafka_message_t *kafka_util_next_message(rd_kafka_t *rk, uint64_t timeout_ms)
{
	uint64_t end = clock_mono_ms() + timeout_ms;
	while (clock_mono_ms() < end) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 50);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			continue;
		}
		cr_assert_eq(m->err, RD_KAFKA_RESP_ERR_NO_ERROR, "consume: %s",
		             rd_kafka_message_errstr(m));
		return m;
	}
	return NULL;
}

void kafka_util_destroy_clients(rd_kafka_t **prod, rd_kafka_t **cons)
{
	if (cons && *cons) {
		rd_kafka_consumer_close(*cons);
		rd_kafka_destroy(*cons);
		*cons = NULL;
	}
	if (prod && *prod) {
		rd_kafka_destroy(*prod);
		*prod = NULL;
	}
}

rd_kafka_mock_cluster_t *kafka_util_mock_new(int nbrokers, const char *topic, int partitions,
                                             rd_kafka_t **mrk)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	kafka_util_set(conf, "log_level", "0");
	*mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	cr_assert_not_null(*mrk, "mock cluster's handle: %s", err);
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(*mrk, nbrokers);
	cr_assert_not_null(mc, "mock cluster of %d brokers", nbrokers);
	/* As sim's clusters: Nagle off, as a Kafka broker has it. */
	cr_assert_eq(sim_broker_nodelay(rd_kafka_mock_cluster_bootstraps(mc)), nbrokers);
	if (topic)
		cr_assert_eq(rd_kafka_mock_topic_create(mc, topic, partitions, 1), 0, "topic %s",
		             topic);
	return mc;
}

void kafka_util_mock_free(rd_kafka_mock_cluster_t **mc, rd_kafka_t **mrk)
{
	if (*mc)
		rd_kafka_mock_cluster_destroy(*mc);
	*mc = NULL;
	if (*mrk)
		rd_kafka_destroy(*mrk);
	*mrk = NULL;
}
