/* test_bus_dlq.c - the dead-letter producer both daemons share
 * (common/bus.c, bus_dlq_*): a refused message reaches the topic
 * unchanged with the headers that say why and where it came from; with
 * no topic configured the log line is the only record; a queue that stays
 * full gives the letter up after a bounded wait; delivery reports are
 * told apart from the producer's other messages. Against librdkafka's
 * mock cluster.
 */
#include <criterion/criterion.h>

#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "bus.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "tests/support/kafka_util.h"

#define TOPIC "likes.deadletter"

static rd_kafka_t *mrk; /* the mock cluster's handle */
static rd_kafka_mock_cluster_t *mc;
static rd_kafka_t *prod, *cons;
static bus_dlq q;

static void setup(void)
{
	log_set_level("error");
	mc = kafka_util_mock_new(1, TOPIC, 1, &mrk);
	prod = kafka_util_new_producer(rd_kafka_mock_cluster_bootstraps(mc));
}

static void teardown(void)
{
	bus_dlq_free(&q);
	kafka_util_destroy_clients(&prod, &cons);
	kafka_util_mock_free(&mc, &mrk);
}

TestSuite(bus_dlq, .init = setup, .fini = teardown, .timeout = 60);

/* The value of header name of m, as a string ("" when absent). */
static const char *header(const rd_kafka_message_t *m, const char *name)
{
	static char buf[128];
	rd_kafka_headers_t *hdrs;
	const void *v;
	size_t len;
	buf[0] = 0;
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    rd_kafka_header_get_last(hdrs, name, &v, &len) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    len < sizeof buf) {
		memcpy(buf, v, len);
		buf[len] = 0;
	}
	return buf;
}

Test(bus_dlq, a_letter_arrives_unchanged_with_why_and_where_from)
{
	delivery d = {0}; /* the letters' mark: kafka_util's delivery report fills it */
	char err[256];
	cr_assert_eq(bus_dlq_init(&q, prod, TOPIC, "likes.batches", "central-1", "input", &d, err,
	                          sizeof err),
	             0, "%s", err);
	static const char poison[] = "\x93\x01\xff not a batch";
	cr_assert_eq(bus_dlq_send(&q, 7, 42, poison, sizeof poison, "bad header"), 0);
	cr_assert(kafka_util_wait_delivery(prod, &d, 10000), "the letter was not delivered");
	cr_assert_eq(d.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(d.err));

	cons = kafka_util_new_consumer(rd_kafka_mock_cluster_bootstraps(mc), "test-bus-dlq");
	kafka_util_assign_from_start(cons, TOPIC, 0);
	rd_kafka_message_t *m = kafka_util_next_message(cons, 10000);
	cr_assert_not_null(m, "nothing on the dead-letter topic");
	cr_assert_eq(m->len, sizeof poison);
	cr_assert_eq(memcmp(m->payload, poison, sizeof poison), 0, "the bytes are unchanged");
	cr_assert_str_eq(header(m, "reason"), "bad header");
	cr_assert_str_eq(header(m, "source_topic"), "likes.batches");
	cr_assert_str_eq(header(m, "source_partition"), "7");
	cr_assert_str_eq(header(m, "source_offset"), "42");
	cr_assert_str_eq(header(m, "dlq_by"), "central-1");
	rd_kafka_message_destroy(m);
}

Test(bus_dlq, without_a_topic_the_log_line_is_the_only_record)
{
	char err[256];
	cr_assert_eq(bus_dlq_init(&q, prod, "", "likes.snapshots", "edge-1", "snapshot", NULL, err,
	                          sizeof err),
	             0, "%s", err);
	cr_assert_null(q.topic);
	cr_assert_eq(bus_dlq_send(&q, 0, 1, "x", 1, "undecodable"), 0, "not a failed letter");
	cr_assert_eq(rd_kafka_outq_len(prod), 0, "nothing was produced");
}

Test(bus_dlq, a_queue_that_stays_full_gives_the_letter_up_after_a_bounded_wait)
{
	/* A producer that reaches no broker and queues one message at most. */
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	kafka_util_set(conf, "bootstrap.servers", "127.0.0.1:1");
	kafka_util_set(conf, "queue.buffering.max.messages", "1");
	kafka_util_set(conf, "log_level", "0");
	rd_kafka_t *stuck = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	cr_assert_not_null(stuck, "%s", err);
	cr_assert_eq(bus_dlq_init(&q, stuck, TOPIC, "likes.batches", "central-1", "input", NULL,
	                          err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(bus_dlq_send(&q, 0, 1, "first", 5, "bad"), 0, "the first one is queued");
	uint64_t t0 = clock_mono_ms();
	cr_assert_eq(bus_dlq_send(&q, 0, 2, "second", 6, "bad"), ERR_KAFKA);
	uint64_t waited = clock_mono_ms() - t0;
	cr_assert_geq(waited, (uint64_t)BUS_DLQ_FULL_POLL_MS * BUS_DLQ_FULL_TRIES / 2,
	              "it polled the queue before giving up (%llu ms)", (unsigned long long)waited);
	cr_assert_lt(waited, 5000, "the wait is bounded (%llu ms)", (unsigned long long)waited);
	bus_dlq_free(&q);
	rd_kafka_purge(stuck, RD_KAFKA_PURGE_F_QUEUE);
	rd_kafka_destroy(stuck);
}

Test(bus_dlq, delivery_reports_are_told_apart_by_the_mark)
{
	static char mark, other;
	char err[256];
	cr_assert_eq(bus_dlq_init(&q, prod, TOPIC, "likes.batches", "central-1", "input", &mark,
	                          err, sizeof err),
	             0, "%s", err);
	rd_kafka_message_t m = {._private = &mark};
	bool failed = true;
	cr_assert(bus_dlq_report(&q, &m, &failed));
	cr_assert_not(failed, "a delivered letter");
	m.err = RD_KAFKA_RESP_ERR__MSG_TIMED_OUT;
	cr_assert(bus_dlq_report(&q, &m, &failed));
	cr_assert(failed, "a letter that was not delivered");
	m._private = &other;
	cr_assert_not(bus_dlq_report(&q, &m, &failed), "another message of the producer");
	cr_assert_not(failed);
}
