/* test_feed.c - central's change-feed publisher (central/feed/feed.c,
 * docs/events.md "Exactly once") against librdkafka's mock cluster, in
 * this process: the test stores 'X' records as the applier does, turns
 * the feed, drops what it says is published (the trim hook, as
 * applier_feed_trim), and at the end reads the changes topic whole. After
 * a publish that fails for good (a Produce refused with a permanent
 * error) or a broker outage past half of feed.timeout_ms, with records
 * stored meanwhile, the topic must hold every stored event once, in id
 * order: the publisher stops each partition whose messages failed and
 * starts it again from the topic's tail, never sending past them.
 *
 * Two brokers, partition p led by broker p + 1, the group's coordinator
 * on broker 1. A failure purges every queued message (feed.c's
 * on_delivery), and librdkafka reports the purged ones a moment later,
 * once the purge is done: so the other partition, whose chunk sat in the
 * queue (its broker down, or its chunk younger and not timed out yet),
 * is where a publisher that sends its next chunk once the last report is
 * in leaves a gap, every time (feed.c before 02191d3 did).
 *
 * Each test runs in its own process (Criterion) with its own cluster and
 * store; every wait has a bound and fails the test when it runs out.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "tests/support/kafka_util.h"
#include "tests/support/testdir.h"
#include "central/apply/apply.h"
#include "central/apply/apply_feed.h"
#include "central/apply/feedrec.h"
#include "central/apply/keys.h"
#include "central/apply/shard.h"
#include "central/feed/feed.h"
#include "clock.h"
#include "config.h"
#include "feedev.h"
#include "log.h"
#include "metrics.h"
#include "sbuf.h"
#include "store.h"
#include "version.h"

#define TOPIC "likes.changes"
#define GROUP "likes-feed-test"
#define NPARTS 2 /* and as many brokers */
#define EPOCH 3
#define TIMEOUT_MS 1000 /* feed.timeout_ms */
#define SESSION_MS 6000 /* feed.session_ms: more than timeout_ms and the outage */
#define OUTAGE_MS (3 * TIMEOUT_MS / 2)
#define PUBLISH_MS 30000  /* the bound on the feed publishing what is stored */
#define READ_MS 10000     /* the bound on reading the topic back */
#define PRODUCE_API_KEY 0 /* the Kafka protocol's Produce request */

static struct {
	char dir[64];
	char bootstrap[128];
	store *db;
	shard_set own;
	metrics *reg;
	rd_kafka_t *mrk;
	rd_kafka_mock_cluster_t *mc;
	feed *f;
	uint64_t next_offset[NPARTS]; /* the input offset of the next record */
	uint64_t stored[NPARTS];      /* events stored */
} T;

/* The events the record of input offset o holds: 1 to 3, so that a
 * record's events may straddle two chunks or a failure. */
static uint32_t events_at(uint64_t o)
{
	return 1 + (uint32_t)(o % 3);
}

/* ---- the hooks the applier gives central's feed ----------------------------- */

/* The trim hook, as central's: the records go from the test's store. */
static int trim(void *ctx, uint32_t p, uint64_t from, uint64_t upto)
{
	(void)ctx;
	return feed_records_drop(T.db, p, from, upto);
}

static uint32_t epoch_of(void *ctx, uint32_t p)
{
	(void)ctx;
	(void)p;
	return EPOCH;
}

/* ---- set-up ------------------------------------------------------------------ */

static void setup(void)
{
	log_threshold = getenv("TEST_LOG") ? LOG_INFO : LOG_ERROR;
	testdir_make(T.dir, sizeof T.dir, "test_feed");
	char path[128];
	snprintf(path, sizeof path, "%s/db", T.dir);
	T.db = testdir_open_store(path);
	/* Each partition's end key, as the applier writes it on the store. */
	cr_assert_eq(feed_records_close(T.db, NPARTS), 0);
	shard_set_all(&T.own, NPARTS);
	T.reg = metrics_new("likes_central_");
	T.mc = kafka_util_mock_new(NPARTS, TOPIC, NPARTS, &T.mrk);
	for (int32_t p = 0; p < NPARTS; p++)
		cr_assert_eq(rd_kafka_mock_partition_set_leader(T.mc, TOPIC, p, p + 1), 0);
	cr_assert_eq(rd_kafka_mock_coordinator_set(T.mc, "group", GROUP, 1), 0);
	/* bus_conf_new reads the bootstrap list from the file's first line. */
	snprintf(T.bootstrap, sizeof T.bootstrap, "%s/bootstrap", T.dir);
	FILE *bf = fopen(T.bootstrap, "w");
	cr_assert_not_null(bf);
	fprintf(bf, "%s\n", rd_kafka_mock_cluster_bootstraps(T.mc));
	cr_assert_eq(fclose(bf), 0);
}

static void teardown(void)
{
	for (int b = 1; T.mc && b <= NPARTS; b++)
		(void)rd_kafka_mock_broker_set_up(T.mc, b); /* a test that failed mid-outage */
	feed_free(T.f);
	T.f = NULL;
	kafka_util_mock_free(&T.mc, &T.mrk);
	if (T.db)
		store_close(T.db);
	T.db = NULL;
	shard_set_free(&T.own);
	metrics_free(T.reg);
	T.reg = NULL;
	testdir_remove(T.dir);
}

TestSuite(feed, .init = setup, .fini = teardown, .timeout = 90);

static void start_feed(void)
{
	feed_opts o = {.topics = {TOPIC, ""},
	               .group = GROUP,
	               .id = "test",
	               .partitions = NPARTS,
	               .own = &T.own,
	               .db = T.db,
	               .trim = trim,
	               .epoch = epoch_of,
	               .timeout_ms = TIMEOUT_MS,
	               .session_ms = SESSION_MS,
	               .bootstrap_file = T.bootstrap,
	               .reg = T.reg};
	/* librdkafka's own lines (to it a refused connection is an error)
	 * only with TEST_LOG set, as the feed's. */
	static cfg_kv quiet = {"log_level", "2", "test", NULL};
	if (!getenv("TEST_LOG"))
		o.props.common = &quiet;
	char err[256];
	T.f = feed_new(&o, err, sizeof err);
	cr_assert_not_null(T.f, "feed_new: %s", err);
}

/* The feed's figures, by the names it registered (metrics.h: the same
 * name and labels give the same series). */
static uint64_t figure(const char *name, const char *labels)
{
	metric *m = !strcmp(name, "feed_pending_events")
	                ? metrics_gauge(T.reg, name, NULL, labels)
	                : metrics_counter(T.reg, name, NULL, labels);
	return metric_value(m);
}

/* ---- the store ---------------------------------------------------------------- */

/* Stores n records of partition p, as the applier does (one per input
 * message, its events' ids from the message's version), and tells the
 * feed. */
static void store_records(uint32_t p, int n)
{
	store_batch *wb = store_batch_new();
	sbuf rec, ev;
	sbuf_init(&rec);
	sbuf_init(&ev);
	uint32_t made = 0;
	for (int r = 0; r < n; r++) {
		uint64_t o = T.next_offset[p]++;
		rec.len = 0;
		feedrec_begin(&rec, clock_wall_ms());
		for (uint32_t i = 0; i < events_at(o); i++) {
			char item[32], user[32];
			int in = snprintf(item, sizeof item, "post:%" PRIu64, o);
			int un = snprintf(user, sizeof user, "u%u", i);
			feedev e = {.id = {EPOCH, p, o, i},
			            .type = FEEDEV_SET,
			            .counter = "likes",
			            .counter_n = 5,
			            .item = item,
			            .item_n = (size_t)in,
			            .user = user,
			            .user_n = (size_t)un,
			            .region = "eu",
			            .region_n = 2,
			            .member = true,
			            .hlc = (uint64_t)1 << 20,
			            .count = i + 1};
			size_t at = feedrec_open(&rec, FEEDREC_CHANGES, i, item, (size_t)in);
			if ((o + i) % 4) {
				feedrec_event_put(&e, &rec); /* as the applier stores it */
			} else {
				/* A record stored before the compact form: sent as it is. */
				ev.len = 0;
				feedev_encode(&e, &ev);
				sbuf_add(&rec, ev.p, ev.len);
			}
			feedrec_close(&rec, at);
			made++;
		}
		unsigned char k[CKEY_FEED_LEN];
		store_batch_put(wb, k, ckey_feed(k, p, version_make(EPOCH, o)), rec.p, rec.len);
	}
	cr_assert_eq(store_write(T.db, wb), 0);
	store_batch_free(wb);
	sbuf_free(&rec);
	sbuf_free(&ev);
	T.stored[p] += made;
	feed_noted(T.f, p, made);
}

/* Records of partition p the feed has not dropped yet. */
static int records_left(uint32_t p)
{
	unsigned char pre[5];
	ckey_feed_prefix(pre, p);
	store_iter *it = store_iter_new(T.db, pre, sizeof pre);
	const char *k, *v;
	size_t kn, vn;
	int n = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t kp;
		uint64_t version;
		if (!ckey_parse_feed(k, kn, &kp, &version) || version != CKEY_FEED_END)
			n++;
	}
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	return n;
}

/* ---- turning the feed ------------------------------------------------------- */

static void turn(void)
{
	cr_assert_eq(feed_turn(T.f, clock_mono_ms()), 0, "feed_turn: the trim failed");
	struct timespec nap = {0, 1000 * 1000};
	nanosleep(&nap, NULL);
}

static void turn_for(uint64_t ms)
{
	uint64_t end = clock_mono_ms() + ms;
	while (clock_mono_ms() < end)
		turn();
}

/* Turns until the feed holds nothing: every record dropped (its events
 * read back from the topic, or below what the topic holds) and the
 * pending figure at 0. Fails the test after PUBLISH_MS. */
static void publish_all(const char *when)
{
	uint64_t start = clock_mono_ms();
	for (;;) {
		turn();
		bool left = false;
		for (uint32_t p = 0; p < NPARTS && !left; p++)
			left = records_left(p) > 0;
		if (!left && figure("feed_pending_events", NULL) == 0)
			break;
		cr_assert_lt(clock_mono_ms() - start, PUBLISH_MS,
		             "%s: the feed still holds records after %d ms (records left: p0 %d, "
		             "p1 %d; pending %" PRIu64 ", publish errors %" PRIu64 ")",
		             when, PUBLISH_MS, records_left(0), records_left(1),
		             figure("feed_pending_events", NULL),
		             figure("feed_publish_errors_total", "topic=\"changes\""));
	}
	/* Should anything land late (a repeat), it shows in the topic. */
	turn_for(300);
}

/* ---- the topic ----------------------------------------------------------------- */

typedef struct ids {
	feedev_id *v;
	size_t n, cap;
} ids;

static void ids_push(ids *l, feedev_id id)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		cr_assert_not_null(l->v);
	}
	l->v[l->n++] = id;
}

/* Partition p of the topic, from its first message to its end, as ids. */
static void read_topic(uint32_t p, ids *out)
{
	rd_kafka_t *rk =
	    kafka_util_new_consumer(rd_kafka_mock_cluster_bootstraps(T.mc), "test-feed-check");
	int64_t lo = 0, hi = 0;
	rd_kafka_resp_err_t e =
	    rd_kafka_query_watermark_offsets(rk, TOPIC, (int32_t)p, &lo, &hi, READ_MS);
	cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "watermarks: %s", rd_kafka_err2str(e));
	cr_assert_eq(lo, 0, "the mock keeps every message");
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, TOPIC, (int32_t)p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	cr_assert_eq(rd_kafka_assign(rk, l), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(l);
	int64_t next = 0;
	uint64_t start = clock_mono_ms();
	while (next < hi) {
		cr_assert_lt(clock_mono_ms() - start, READ_MS,
		             "partition %u read to offset %" PRId64 " of %" PRId64 " only", p, next,
		             hi);
		rd_kafka_message_t *m = kafka_util_next_message(rk, 100);
		if (!m)
			continue;
		feedev_decoded d;
		int rc = feedev_decode(m->payload, m->len, &d);
		int64_t offset = m->offset;
		int32_t part = m->partition;
		rd_kafka_message_destroy(m);
		cr_assert_eq(part, (int32_t)p);
		cr_assert_eq(offset, next, "offsets in order");
		cr_assert_eq(rc, 0, "partition %u offset %" PRId64 ": not an event", p, offset);
		/* Whichever form it was stored in, the same event goes out. */
		char item[32], user[32];
		snprintf(item, sizeof item, "post:%" PRIu64, d.ev.id.offset);
		snprintf(user, sizeof user, "u%u", d.ev.id.index);
		cr_assert_str_eq(d.item, item);
		cr_assert_str_eq(d.user, user);
		cr_assert_str_eq(d.counter, "likes");
		cr_assert_str_eq(d.region, "eu");
		cr_assert(d.ev.type == FEEDEV_SET && d.ev.member);
		cr_assert_eq(d.ev.count, d.ev.id.index + 1);
		cr_assert_eq(d.ev.hlc, (uint64_t)1 << 20);
		ids_push(out, d.ev.id);
		next = offset + 1;
	}
	kafka_util_destroy_clients(NULL, &rk);
}

/* The topic's partitions hold every stored event, once, in id order. */
static void assert_each_event_once(void)
{
	for (uint32_t p = 0; p < NPARTS; p++) {
		ids got = {0};
		read_topic(p, &got);
		size_t at = 0;
		for (uint64_t o = 0; o < T.next_offset[p]; o++)
			for (uint32_t i = 0; i < events_at(o); i++, at++) {
				feedev_id want = {EPOCH, p, o, i};
				char w[FEEDEV_ID_MAX], g[FEEDEV_ID_MAX] = "(none)";
				feedev_id_format(&want, w);
				if (at < got.n)
					feedev_id_format(&got.v[at], g);
				cr_assert(
				    at < got.n && !feedev_id_cmp(&got.v[at], &want),
				    "partition %u, message %zu: want event %s, the topic has %s "
				    "(%zu messages for %" PRIu64
				    " events stored; feed_gaps_total %" PRIu64 ")",
				    p, at, w, g, got.n, T.stored[p],
				    figure("feed_gaps_total", NULL));
			}
		cr_assert_eq(got.n, at, "partition %u: %zu messages for %zu events: repeats", p,
		             got.n, at);
		cr_assert_eq(at, T.stored[p]);
		free(got.v);
	}
	cr_assert_eq(figure("feed_gaps_total", NULL), 0);
	cr_assert_eq(figure("feed_foreign_total", NULL), 0);
}

/* Starts the feed with records stored and waits until the topic has
 * them: the group's first join (3 s at the mock) and timeout_ms + 0.5 s. */
static void publish_first_records(void)
{
	start_feed();
	for (uint32_t p = 0; p < NPARTS; p++)
		store_records(p, 20);
	publish_all("first records");
	cr_assert_eq(figure("feed_publish_errors_total", "topic=\"changes\""), 0);
	cr_assert_eq(figure("feed_published_total", "topic=\"changes\""),
	             T.stored[0] + T.stored[1]);
}

/* ---- the tests ----------------------------------------------------------------- */

Test(feed, a_failed_message_leaves_no_gap)
{
	publish_first_records();
	/* Partition 1's broker goes: its next chunk waits in the queue. */
	cr_assert_eq(rd_kafka_mock_broker_set_down(T.mc, 2), RD_KAFKA_RESP_ERR_NO_ERROR);
	/* Partition 0's next Produce request fails for good.
	 * MSG_SIZE_TOO_LARGE is permanent for librdkafka's idempotent
	 * producer (no retry; it bumps its epoch and numbers on) and not
	 * fatal, unlike OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID:
	 * a fatal error would end this process (bus.c's on_error). */
	rd_kafka_mock_broker_push_request_error_rtts(T.mc, 1, PRODUCE_API_KEY, 1,
	                                             RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, 0);
	/* A chunk of each partition, and the next records behind them. */
	uint64_t before = T.stored[0] + T.stored[1];
	for (uint32_t p = 0; p < NPARTS; p++)
		store_records(p, 5);
	uint64_t chunks = T.stored[0] + T.stored[1] - before;
	turn();
	for (uint32_t p = 0; p < NPARTS; p++)
		store_records(p, 5);
	/* Partition 0's chunk fails; its purge fails partition 1's. */
	uint64_t start = clock_mono_ms();
	while (figure("feed_publish_errors_total", "topic=\"changes\"") < chunks) {
		turn();
		cr_assert_lt(clock_mono_ms() - start, 5000,
		             "%" PRIu64 " of the %" PRIu64 " messages queued failed",
		             figure("feed_publish_errors_total", "topic=\"changes\""), chunks);
	}
	/* Partition 1's next chunk, were it sent now, would wait for its
	 * broker and land past the failed one. */
	turn_for(300);
	cr_assert_eq(rd_kafka_mock_broker_set_up(T.mc, 2), RD_KAFKA_RESP_ERR_NO_ERROR);
	for (int r = 0; r < 5; r++) {
		for (uint32_t p = 0; p < NPARTS; p++)
			store_records(p, 3);
		turn_for(50);
	}
	publish_all("after the failure");
	assert_each_event_once();
}

Test(feed, an_outage_past_half_the_timeout_leaves_no_gap)
{
	publish_first_records();
	/* Every broker goes, with a chunk of partition 0 queued, then one of
	 * partition 1 a little younger. */
	for (int b = 1; b <= NPARTS; b++)
		cr_assert_eq(rd_kafka_mock_broker_set_down(T.mc, b), RD_KAFKA_RESP_ERR_NO_ERROR);
	uint64_t up_at = clock_mono_ms() + OUTAGE_MS;
	store_records(0, 10);
	turn_for(300);
	store_records(1, 10);
	turn();
	/* Records keep coming while the brokers are away, past timeout_ms:
	 * long enough for librdkafka to time partition 0's chunk out, and
	 * short enough for a chunk queued after that to land. */
	while (clock_mono_ms() < up_at) {
		for (uint32_t p = 0; p < NPARTS; p++)
			store_records(p, 1);
		turn_for(100);
	}
	for (int b = 1; b <= NPARTS; b++)
		cr_assert_eq(rd_kafka_mock_broker_set_up(T.mc, b), RD_KAFKA_RESP_ERR_NO_ERROR);
	for (int r = 0; r < 5; r++) {
		for (uint32_t p = 0; p < NPARTS; p++)
			store_records(p, 3);
		turn_for(50);
	}
	publish_all("after the outage");
	cr_assert_gt(figure("feed_publish_errors_total", "topic=\"changes\""), 0,
	             "the outage failed no message");
	assert_each_event_once();
}

/* A gap made on purpose: partition 0's chunk fails for good and, once
 * the publisher has let go of what it sent, a later id lands in the
 * topic (another writer's). The catch-up finds it above the failed
 * message it never read back: one gap, counted once. */
Test(feed, a_gap_is_counted_when_the_partition_starts_again)
{
	publish_first_records();
	rd_kafka_mock_broker_push_request_error_rtts(T.mc, 1, PRODUCE_API_KEY, 1,
	                                             RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, 0);
	uint64_t before = T.stored[0];
	store_records(0, 5);
	uint64_t chunk = T.stored[0] - before;
	uint64_t start = clock_mono_ms();
	while (figure("feed_publish_errors_total", "topic=\"changes\"") < chunk) {
		turn();
		cr_assert_lt(clock_mono_ms() - start, 5000, "the chunk never failed");
	}
	turn_for(300); /* stalled, its last report in: waiting out timeout_ms */
	feedev e = {.id = {EPOCH, 0, 1000000, 0},
	            .type = FEEDEV_SET,
	            .counter = "likes",
	            .counter_n = 5,
	            .item = "post:late",
	            .item_n = 9,
	            .user = "u0",
	            .user_n = 2,
	            .region = "eu",
	            .region_n = 2,
	            .member = true,
	            .hlc = (uint64_t)1 << 20,
	            .count = 1};
	sbuf json;
	sbuf_init(&json);
	feedev_encode(&e, &json);
	rd_kafka_t *other = kafka_util_new_producer(rd_kafka_mock_cluster_bootstraps(T.mc));
	delivery d = {0};
	kafka_util_produce(other, TOPIC, 0, json.p, &d);
	cr_assert(kafka_util_wait_delivery(other, &d, 5000), "the later id never landed");
	kafka_util_destroy_clients(&other, NULL);
	sbuf_free(&json);
	start = clock_mono_ms();
	while (figure("feed_gaps_total", NULL) == 0) {
		turn();
		cr_assert_lt(clock_mono_ms() - start, PUBLISH_MS, "the gap was never counted");
	}
	turn_for(1000);
	cr_assert_eq(figure("feed_gaps_total", NULL), 1, "one failed message, one gap");
}
