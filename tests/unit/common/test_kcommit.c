/* test_kcommit.c - stored positions copied to a consumer group for
 * tooling (common/kcommit.c), against librdkafka's mock cluster made
 * in-process (so the tests can see the brokers' request error stacks).
 *
 * The positions are read back the way an operator's tool does: by a
 * client that names the group and never joins it (rd_kafka_committed),
 * and with the admin API (ListConsumerGroupOffsets).
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "clock.h"
#include "tests/support/kafka_util.h"
#include "kcommit.h"
#include "log.h"

#define NPARTS 4
#define TOPIC "likes.batches"
#define GROUP "likes-central-t1"
#define WAIT_MS 20000
#define JOIN_GROUP_API 11 /* the Kafka protocol's JoinGroup ApiKey */

static rd_kafka_t *mrk; /* the handle the mock cluster lives in */
static rd_kafka_mock_cluster_t *mc;
static rd_kafka_t *client; /* what the kcommit runs on: an assigned consumer */
static kcommit *kc;
static int64_t pos[NPARTS];

static int64_t position(void *ctx, uint32_t p)
{
	(void)ctx;
	return pos[p];
}

static void setup(void)
{
	log_set_level("error");
	mc = kafka_util_mock_new(3, TOPIC, NPARTS, &mrk);
	client = kafka_util_new_consumer(rd_kafka_mock_cluster_bootstraps(mc), GROUP);
	kafka_util_assign_from_start(client, TOPIC, 0);
}

static void teardown(void)
{
	kcommit_free(kc);
	kc = NULL;
	kafka_util_destroy_clients(NULL, &client);
	kafka_util_mock_free(&mc, &mrk);
}

TestSuite(kcommit, .init = setup, .fini = teardown, .timeout = 90);

/* What kcommit's clients are made from: the cluster and the group, as
 * a daemon makes its consumer's. The caller destroys it. */
static rd_kafka_conf_t *commit_conf(void)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];
	cr_assert_eq(rd_kafka_conf_set(conf, "bootstrap.servers",
	                               rd_kafka_mock_cluster_bootstraps(mc), err, sizeof err),
	             RD_KAFKA_CONF_OK, "%s", err);
	cr_assert_eq(rd_kafka_conf_set(conf, "group.id", GROUP, err, sizeof err), RD_KAFKA_CONF_OK,
	             "%s", err);
	return conf;
}

static kcommit *start(int64_t interval_ms, const uint8_t *owned)
{
	rd_kafka_conf_t *conf = commit_conf();
	kcommit_opts o = {.conf = conf,
	                  .group = GROUP,
	                  .topic = TOPIC,
	                  .partitions = NPARTS,
	                  .owned = owned,
	                  .interval_ms = interval_ms,
	                  .timeout_ms = 2000,
	                  .position = position};
	kcommit *k = kcommit_new(&o);
	rd_kafka_conf_destroy(conf);
	cr_assert_not_null(k);
	return k;
}

/* Polls (as a loop would, every 10 ms) until ok requests succeeded. */
static void poll_until_ok(uint64_t ok)
{
	kcommit_stats st;
	uint64_t end = clock_mono_ms() + WAIT_MS;
	do {
		kcommit_poll(kc, clock_mono_ms());
		kcommit_get_stats(kc, &st);
		if (st.ok >= ok)
			return;
		rd_kafka_poll(client, 10);
	} while (clock_mono_ms() < end);
	cr_assert_fail("%" PRIu64 " commits succeeded, wanted %" PRIu64 " (failed %" PRIu64 ")",
	               st.ok, ok, st.failed);
}

/* The group's committed offsets as a client outside the group reads them. */
static void read_committed(int64_t *out)
{
	rd_kafka_t *rd = kafka_util_new_consumer(rd_kafka_mock_cluster_bootstraps(mc), GROUP);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPARTS);
	for (int p = 0; p < NPARTS; p++)
		rd_kafka_topic_partition_list_add(l, TOPIC, p);
	rd_kafka_resp_err_t e = rd_kafka_committed(rd, l, WAIT_MS);
	cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "committed: %s", rd_kafka_err2str(e));
	for (int p = 0; p < NPARTS; p++)
		out[p] = rd_kafka_topic_partition_list_find(l, TOPIC, p)->offset;
	rd_kafka_topic_partition_list_destroy(l);
	kafka_util_destroy_clients(NULL, &rd);
}

Test(kcommit, interval_zero_means_off)
{
	kcommit_opts o = {.conf = NULL, /* not read when off */
	                  .group = GROUP,
	                  .topic = TOPIC,
	                  .partitions = NPARTS,
	                  .interval_ms = 0,
	                  .position = position};
	cr_assert_null(kcommit_new(&o));
	kcommit_poll(NULL, clock_mono_ms()); /* accepted, does nothing */
	kcommit_stats st;
	kcommit_get_stats(NULL, &st);
	cr_assert_eq(st.sent, 0);
}

Test(kcommit, known_owned_positions_are_committed_and_read_back_outside_the_group)
{
	/* Any JoinGroup request would take these errors off the brokers'
	 * stacks: a commit must never make anyone join the group. */
	for (int b = 1; b <= 3; b++)
		cr_assert_eq(rd_kafka_mock_broker_push_request_error_rtts(
		                 mc, b, JOIN_GROUP_API, 1, RD_KAFKA_RESP_ERR_NOT_COORDINATOR, 0),
		             0);
	uint8_t owned[NPARTS] = {1, 1, 1, 0};
	pos[0] = 7;
	pos[1] = 0;
	pos[2] = -1; /* not known yet: left out */
	pos[3] = 99; /* not owned: left out */
	kc = start(50, owned);
	poll_until_ok(1);
	int64_t got[NPARTS];
	read_committed(got);
	cr_assert_eq(got[0], 7);
	cr_assert_eq(got[1], 0);
	cr_assert_eq(got[2], RD_KAFKA_OFFSET_INVALID, "unknown position committed: %" PRId64,
	             got[2]);
	cr_assert_eq(got[3], RD_KAFKA_OFFSET_INVALID, "unowned partition committed: %" PRId64,
	             got[3]);

	/* Positions move; the next interval carries them. */
	pos[0] = 12;
	pos[2] = 3;
	kcommit_stats st;
	kcommit_get_stats(kc, &st);
	poll_until_ok(st.ok + 2);
	read_committed(got);
	cr_assert_eq(got[0], 12);
	cr_assert_eq(got[2], 3);

	/* The admin API reads the same (partitions named: the 2.0.2 mock
	 * answers an OffsetFetch for "all topics" with none). */
	rd_kafka_t *adm = kafka_util_new_producer(rd_kafka_mock_cluster_bootstraps(mc));
	rd_kafka_queue_t *q = rd_kafka_queue_new(adm);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, TOPIC, 0);
	rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(GROUP, l);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_ListConsumerGroupOffsets(adm, &req, 1, NULL, q);
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS);
	cr_assert_not_null(ev);
	cr_assert_eq(rd_kafka_event_error(ev), 0, "%s", rd_kafka_event_error_string(ev));
	size_t n;
	const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
	    rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
	cr_assert_eq(n, 1);
	const rd_kafka_topic_partition_list_t *pl = rd_kafka_group_result_partitions(gr[0]);
	cr_assert(pl && pl->cnt == 1);
	cr_assert_eq(pl->elems[0].offset, 12);
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(adm);

	for (int b = 1; b <= 3; b++) {
		size_t left = 0;
		cr_assert_eq(rd_kafka_mock_broker_error_stack_cnt(mc, b, JOIN_GROUP_API, &left), 0);
		cr_assert_eq(left, 1, "broker %d saw a JoinGroup request", b);
	}
}

/* A commit lands, every broker goes down, and kcommit is polled (as a
 * loop would, every 10 ms) until it counts a failure; the slowest poll
 * (ms) and the stats then. */
static uint64_t poll_until_failed_down(kcommit_stats *st)
{
	pos[0] = 5;
	kc = start(50, NULL);
	poll_until_ok(1);
	for (int b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_down(mc, b);
	uint64_t end = clock_mono_ms() + WAIT_MS, slowest = 0;
	do {
		uint64_t t0 = clock_mono_ms();
		kcommit_poll(kc, t0);
		if (clock_mono_ms() - t0 > slowest)
			slowest = clock_mono_ms() - t0;
		kcommit_get_stats(kc, st);
		rd_kafka_poll(client, 10);
	} while (st->failed == 0 && clock_mono_ms() < end);
	cr_assert_gt(st->failed, 0, "no failure counted with every broker down");
	return slowest;
}

Test(kcommit, unreachable_brokers_are_counted_never_waited_for)
{
	kcommit_stats st;
	uint64_t slowest = poll_until_failed_down(&st);
	cr_assert_lt(slowest, 100, "kcommit_poll blocked %" PRIu64 " ms", slowest);
	/* A request still waiting when the client goes does not hold it up. */
	pos[0] = 6;
	kcommit_poll(kc, clock_mono_ms() + 1000);
	uint64_t t0 = clock_mono_ms();
	kcommit_free(kc);
	kc = NULL;
	kafka_util_destroy_clients(NULL, &client);
	cr_assert_lt(clock_mono_ms() - t0, 3000, "closing waited %" PRIu64 " ms",
	             clock_mono_ms() - t0);
}

/* A request that timed out while every broker was down must not harm the
 * client when they come back: with librdkafka 2.0.2 the coordinator
 * lookup that outlives it ends in an assertion (enq_once refcnt). */
Test(kcommit, brokers_back_after_a_timed_out_request)
{
	kcommit_stats st;
	uint64_t slowest = poll_until_failed_down(&st);
	/* The poll that gave the request up handed its client to a thread. */
	cr_log_info("slowest kcommit_poll with every broker down: %" PRIu64 " ms", slowest);
	cr_assert_lt(slowest, 1000, "giving a request up took %" PRIu64 " ms", slowest);
	for (int b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_up(mc, b);
	pos[0] = 9;
	poll_until_ok(st.ok + 1);
	int64_t got[NPARTS];
	read_committed(got);
	cr_assert_eq(got[0], 9);
}

/* Freed with a request in flight, brokers up: over and over, nothing
 * breaks (the client's shutdown takes the request with it). */
Test(kcommit, freed_with_a_request_in_flight)
{
	pos[0] = 5;
	for (int i = 0; i < 40; i++) {
		kc = start(1, NULL);
		kcommit_poll(kc, clock_mono_ms());
		if (i % 2)
			rd_kafka_poll(client, 1);
		kcommit_free(kc);
		kc = NULL;
	}
	kc = start(1, NULL);
	poll_until_ok(1);
}
