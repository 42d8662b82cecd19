/* kafka_util.h - Kafka clients for tests that talk to the embedded broker
 * directly: an idempotent producer whose deliveries land in a `delivery`,
 * an assigning consumer, and waits with deadlines. Compiled once into the
 * test support library (tests/support/kafka_util.c). Failures to set up
 * a client are Criterion assertions, so these are for a test's thread.
 */
#ifndef TESTS_SUPPORT_KAFKA_UTIL_H
#define TESTS_SUPPORT_KAFKA_UTIL_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdint.h>

/* One produced message's outcome, filled by kafka_util_on_delivery. */
typedef struct delivery {
	bool done;
	rd_kafka_resp_err_t err;
	int64_t offset;
} delivery;

/* rd_kafka_conf_set that asserts it took k=v. */
void kafka_util_set(rd_kafka_conf_t *conf, const char *k, const char *v);

/* The delivery report callback of kafka_util_new_producer: fills the
 * `delivery` passed as the message's opaque. */
void kafka_util_on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* An idempotent producer (acks=all, linger.ms=0) reporting through
 * kafka_util_on_delivery. The caller destroys it. */
rd_kafka_t *kafka_util_new_producer(const char *bootstraps);

/* A consumer in group, without auto-commit, from the earliest offset,
 * polled through rd_kafka_consumer_poll. The caller closes and destroys
 * it. */
rd_kafka_t *kafka_util_new_consumer(const char *bootstraps, const char *group);

/* Queues payload for (topic, part); d says when it is delivered. */
void kafka_util_produce(rd_kafka_t *rk, const char *topic, int32_t part, const char *payload,
                        delivery *d);

/* Polls rk until d is delivered or timeout_ms passes; true if delivered. */
bool kafka_util_wait_delivery(rd_kafka_t *rk, delivery *d, uint64_t timeout_ms);

/* Assigns (topic, part) to rk from its first offset. */
void kafka_util_assign_from_start(rd_kafka_t *rk, const char *topic, int32_t part);

/* Next real message within timeout_ms, or NULL. Caller destroys it. */
rd_kafka_message_t *kafka_util_next_message(rd_kafka_t *rk, uint64_t timeout_ms);

/* An embedded cluster (librdkafka's mock) of nbrokers brokers, with
 * topic created (partitions, replication 1) unless topic is NULL; the
 * handle it runs on goes to *mrk. Undo with kafka_util_mock_free. */
rd_kafka_mock_cluster_t *kafka_util_mock_new(int nbrokers, const char *topic, int partitions,
                                             rd_kafka_t **mrk);

/* Destroys the cluster and its handle and clears both; either may be
 * NULL. */
void kafka_util_mock_free(rd_kafka_mock_cluster_t **mc, rd_kafka_t **mrk);

/* Closes and destroys both clients and clears them. Either pointer, or
 * the client it points at, may be NULL. */
void kafka_util_destroy_clients(rd_kafka_t **prod, rd_kafka_t **cons);

#endif
