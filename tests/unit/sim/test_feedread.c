/* test_feedread.c - a feed topic read back from the embedded Kafka (the
 * mock cluster, as drills run it): every partition from its start to
 * the high watermark, in order, decoded into the checker, and a message
 * that is not an event counted as such.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "feedev.h"
#include "log.h"
#include "partition.h"
#include "sim/drill/feedread.h"
#include "tests/support/kafka_util.h"

#define TOPIC "likes.changes"
#define PARTS 3

static struct {
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *mrk, *prod;
	feedcheck *fc;
} T;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	memset(&T, 0, sizeof T);
	T.mc = kafka_util_mock_new(1, TOPIC, PARTS, &T.mrk);
	T.prod = kafka_util_new_producer(rd_kafka_mock_cluster_bootstraps(T.mc));
	T.fc = feedcheck_new(PARTS, NULL, 0);
}

static void teardown(void)
{
	feedcheck_free(T.fc);
	if (T.prod)
		rd_kafka_destroy(T.prod);
	kafka_util_mock_free(&T.mc, &T.mrk);
}

TestSuite(feedread, .init = setup, .fini = teardown, .timeout = 30);

/* Produces value under key to partition p and waits for its delivery. */
static void put(int32_t p, const char *key, const char *value, size_t len)
{
	delivery d = {0};
	rd_kafka_resp_err_t e = rd_kafka_producev(
	    T.prod, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(p),
	    RD_KAFKA_V_KEY((void *)key, strlen(key)), RD_KAFKA_V_VALUE((void *)value, len),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&d), RD_KAFKA_V_END);
	cr_assert_eq(e, 0, "producev: %s", rd_kafka_err2str(e));
	cr_assert(kafka_util_wait_delivery(T.prod, &d, 10000));
	cr_assert_eq(d.err, 0);
}

/* A sum of 1 to item at offset off, as central would publish it. */
static void view(const char *item, uint64_t off, uint64_t count)
{
	uint32_t p = partition_of(item, strlen(item), PARTS);
	feedev e = {
	    .id = {0, p, off, 0}, .type = FEEDEV_SUM, .n = 1, .count = count, .hlc = 1 << 20};
	e.counter = "views";
	e.counter_n = 5;
	e.item = item;
	e.item_n = strlen(item);
	e.region = "r0";
	e.region_n = 2;
	sbuf b;
	sbuf_init(&b);
	feedev_encode(&e, &b);
	put((int32_t)p, item, b.p, b.len);
	sbuf_free(&b);
}

Test(feedread, reads_every_partition_to_its_end_in_order)
{
	const char *items[] = {"post:1", "post:2", "post:3", "post:4", "post:5"};
	for (uint64_t round = 0; round < 3; round++)
		for (size_t i = 0; i < 5; i++)
			view(items[i], 10 * round + i, round + 1);
	for (size_t i = 0; i < 5; i++)
		feedcheck_truth_count(T.fc, "views", items[i], 3);
	char err[256] = "";
	int parts = 0;
	int rc = feedread_topic(rd_kafka_mock_cluster_bootstraps(T.mc), TOPIC, FEEDCHECK_CHANGES,
	                        T.fc, 10000, &parts, err, sizeof err);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(parts, PARTS);
	feedcheck_figures f;
	feedcheck_finish(T.fc, &f);
	cr_assert_eq(f.changes.events, 15);
	cr_assert_eq(feedcheck_violations(&f), 0);
}

Test(feedread, a_message_that_is_no_event_is_counted_and_the_rest_read)
{
	view("post:1", 1, 1);
	uint32_t p = partition_of("post:1", 6, PARTS);
	put((int32_t)p, "post:1", "{\"v\":1", 6);
	view("post:1", 2, 2);
	feedcheck_truth_count(T.fc, "views", "post:1", 2);
	char err[256] = "";
	int parts = 0;
	cr_assert_eq(feedread_topic(rd_kafka_mock_cluster_bootstraps(T.mc), TOPIC,
	                            FEEDCHECK_CHANGES, T.fc, 10000, &parts, err, sizeof err),
	             0, "%s", err);
	feedcheck_figures f;
	feedcheck_finish(T.fc, &f);
	cr_assert_eq(f.changes.events, 3);
	cr_assert_eq(f.changes.undecodable, 1);
	cr_assert_eq(feedcheck_violations(&f), 1);
}

Test(feedread, an_empty_topic_reads_as_nothing)
{
	char err[256] = "";
	int parts = 0;
	cr_assert_eq(feedread_topic(rd_kafka_mock_cluster_bootstraps(T.mc), TOPIC,
	                            FEEDCHECK_CHANGES, T.fc, 5000, &parts, err, sizeof err),
	             0, "%s", err);
	feedcheck_figures f;
	feedcheck_finish(T.fc, &f);
	cr_assert_eq(f.changes.events, 0);
}
