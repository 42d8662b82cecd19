/* test_reseek.c - restarting one input partition after an out-of-range
 * offset (common/reseek.c), against the embedded broker (sim/broker/broker.c,
 * librdkafka's mock cluster) with a consumer set up as central's is:
 * manual assignment, auto.offset.reset=error. Every partition out of
 * range at once (a broker restarted empty) is recovered one partition
 * at a time, with the events' echoes and repeated events harmless, and
 * no other partition restarted; a partition missing from the assignment
 * is just assigned; and the bookkeeping of re-seeks under way.
 *
 * Each test runs in its own process (Criterion) with its own broker.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "tests/support/kafka_util.h"
#include "log.h"
#include "reseek.h"
#include "sim/broker/broker.h"

#define WAIT_MS 20000
#define TOPIC "in"
#define NPARTS 8
#define PER_PART 3

static sim_broker *b;
static rd_kafka_t *prod, *cons;

static void setup(void)
{
	log_set_level("warn");
}

static void teardown(void)
{
	kafka_util_destroy_clients(&prod, &cons);
	sim_broker_stop(b);
	b = NULL;
}

TestSuite(reseek, .init = setup, .fini = teardown, .timeout = 90);

/* ---- bookkeeping ---------------------------------------------------------- */

Test(reseek, an_event_is_wanted_unless_it_echoes_a_fetch_before_the_reseek)
{
	reseek r;
	reseek_init(&r, 4);
	cr_assert(reseek_wanted(&r, 2, 100), "nothing under way");
	cr_assert_not(reseek_pending(&r, 2));
	r.to[2] = 0; /* as reseek_partition leaves it */
	cr_assert(reseek_pending(&r, 2));
	cr_assert_not(reseek_wanted(&r, 2, 100), "the fetch at 100 before the re-seek");
	cr_assert(reseek_wanted(&r, 2, 0), "the restarted fetch at 0 failed too");
	cr_assert(reseek_wanted(&r, 1, 100), "other partitions are not concerned");
	reseek_note_fetch(&r, 1, 5);
	cr_assert(reseek_pending(&r, 2));
	r.to[2] = 10;
	reseek_note_fetch(&r, 2, 9);
	cr_assert(reseek_pending(&r, 2), "a message below the new offset says nothing");
	reseek_note_fetch(&r, 2, 10);
	cr_assert_not(reseek_pending(&r, 2));
	cr_assert(reseek_wanted(&r, 2, 100));
	cr_assert(reseek_wanted(&r, 99, 1), "a partition out of range is not filtered");
	reseek_free(&r);
}

/* ---- against the broker -------------------------------------------------- */

static void start_broker(void)
{
	static const sim_broker_topic topics[] = {{TOPIC, NPARTS}};
	sim_broker_opts o = {.brokers = 1, .topics = topics, .ntopics = 1};
	char err[256];
	b = sim_broker_start(&o, err, sizeof err);
	cr_assert_not_null(b, "broker: %s", err);
	prod = kafka_util_new_producer(sim_broker_bootstraps(b));
	delivery d[NPARTS][PER_PART];
	for (int32_t p = 0; p < NPARTS; p++)
		for (int i = 0; i < PER_PART; i++)
			kafka_util_produce(prod, TOPIC, p, "m", &d[p][i]);
	for (int32_t p = 0; p < NPARTS; p++)
		for (int i = 0; i < PER_PART; i++) {
			cr_assert(kafka_util_wait_delivery(prod, &d[p][i], WAIT_MS));
			cr_assert_eq(d[p][i].err, RD_KAFKA_RESP_ERR_NO_ERROR);
		}
}

/* A consumer as central's: no commits, out-of-range is an error event. */
static rd_kafka_t *central_like_consumer(void)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	kafka_util_set(conf, "bootstrap.servers", sim_broker_bootstraps(b));
	kafka_util_set(conf, "group.id", "test-reseek");
	kafka_util_set(conf, "enable.auto.commit", "false");
	kafka_util_set(conf, "enable.auto.offset.store", "false");
	kafka_util_set(conf, "auto.offset.reset", "error");
	kafka_util_set(conf, "fetch.wait.max.ms", "10");
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	cr_assert_not_null(rk, "consumer: %s", err);
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

/* Assigns partitions [0, n) at offset. */
static void assign_at(rd_kafka_t *rk, int32_t n, int64_t offset)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
	for (int32_t p = 0; p < n; p++)
		rd_kafka_topic_partition_list_add(l, TOPIC, p)->offset = offset;
	cr_assert_eq(rd_kafka_assign(rk, l), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(l);
}

/* What a test needs of a consumed message or event: copied, so the
 * message is destroyed before any assertion (librdkafka's destroy waits
 * for every message still held). */
typedef struct polled {
	rd_kafka_resp_err_t err;
	uint32_t p;
	int64_t offset;
	char errstr[256];
} polled;

/* The next message or event within 50 ms; false when none came. */
static bool poll_one(polled *out)
{
	rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 50);
	if (!m)
		return false;
	out->err = m->err;
	out->p = (uint32_t)m->partition;
	out->offset = m->offset;
	snprintf(out->errstr, sizeof out->errstr, "%s", m->err ? rd_kafka_message_errstr(m) : "");
	rd_kafka_message_destroy(m);
	return true;
}

static bool out_of_range(const polled *m)
{
	return m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
	       m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE;
}

Test(reseek, every_partition_out_of_range_at_once_recovers_one_by_one)
{
	start_broker();
	cons = central_like_consumer();
	/* Stored offsets above what the broker has: it "restarted empty". */
	assign_at(cons, NPARTS, 1000);
	reseek r;
	reseek_init(&r, NPARTS);
	int events[NPARTS] = {0}, reseeks[NPARTS] = {0}, echoes = 0;
	int64_t next[NPARTS] = {0};
	int done = 0;
	uint64_t end = clock_mono_ms() + WAIT_MS;
	polled m;
	while (done < NPARTS && clock_mono_ms() < end) {
		if (!poll_one(&m))
			continue;
		uint32_t p = m.p;
		cr_assert_lt(p, NPARTS);
		if (out_of_range(&m)) {
			events[p]++;
			cr_assert_eq(m.offset, 1000,
			             "the event names the offset it could not read");
			/* Each event handled twice over: the second is an echo. */
			for (int twice = 0; twice < 2; twice++) {
				if (!reseek_wanted(&r, p, m.offset)) {
					echoes++;
					continue;
				}
				char err[256];
				int rc = reseek_partition(&r, cons, TOPIC, p, 0, err, sizeof err);
				cr_assert_eq(rc, 0, "%s", err);
				reseeks[p]++;
			}
		} else {
			cr_assert_eq(m.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", m.errstr);
			cr_assert_eq(m.offset, next[p], "partition %u restarted at 0, in order", p);
			reseek_note_fetch(&r, p, m.offset);
			cr_assert_not(reseek_pending(&r, p));
			if (++next[p] == PER_PART)
				done++;
		}
	}
	cr_assert_eq(done, NPARTS, "every partition consumed again from 0");
	for (int p = 0; p < NPARTS; p++) {
		cr_assert_eq(events[p], 1, "partition %d: %d events", p, events[p]);
		cr_assert_eq(reseeks[p], 1, "partition %d: restarted once", p);
	}
	cr_assert_eq(echoes, NPARTS);
	/* The assignment still holds every partition, once. */
	rd_kafka_topic_partition_list_t *now = NULL;
	cr_assert_eq(rd_kafka_assignment(cons, &now), RD_KAFKA_RESP_ERR_NO_ERROR);
	cr_assert_eq(now->cnt, NPARTS);
	rd_kafka_topic_partition_list_destroy(now);
	reseek_free(&r);
}

Test(reseek, a_restart_that_is_out_of_range_again_is_restarted_again)
{
	start_broker();
	cons = central_like_consumer();
	assign_at(cons, 2, 1000);
	reseek r;
	reseek_init(&r, NPARTS);
	int64_t wants[2] = {500, 1}; /* partition 0: out of range again, then 1 */
	int step[2] = {0, 0};
	bool got[2] = {false, false};
	uint64_t end = clock_mono_ms() + WAIT_MS;
	polled m;
	while (!(got[0] && got[1]) && clock_mono_ms() < end) {
		if (!poll_one(&m))
			continue;
		uint32_t p = m.p;
		cr_assert_lt(p, 2);
		if (out_of_range(&m)) {
			cr_assert(reseek_wanted(&r, p, m.offset), "offset %" PRId64, m.offset);
			cr_assert_not(got[p]);
			int64_t to = p == 0 && step[0] == 0 ? wants[0] : wants[1];
			step[p]++;
			char err[256];
			cr_assert_eq(reseek_partition(&r, cons, TOPIC, p, to, err, sizeof err), 0,
			             "%s", err);
		} else {
			cr_assert_eq(m.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", m.errstr);
			if (!got[p])
				cr_assert_eq(m.offset, 1,
				             "partition %u restarted at 1, not %" PRId64, p,
				             m.offset);
			reseek_note_fetch(&r, p, m.offset);
			got[p] = true;
		}
	}
	cr_assert(got[0] && got[1]);
	cr_assert_eq(step[0], 2, "partition 0 went out of range twice");
	cr_assert_eq(step[1], 1);
	reseek_free(&r);
}

Test(reseek, a_partition_missing_from_the_assignment_is_assigned)
{
	start_broker();
	cons = central_like_consumer();
	assign_at(cons, 1, 0); /* only partition 0 */
	reseek r;
	reseek_init(&r, NPARTS);
	char err[256];
	cr_assert_eq(reseek_partition(&r, cons, TOPIC, 5, 2, err, sizeof err), 0, "%s", err);
	cr_assert(reseek_pending(&r, 5));
	bool seen5 = false;
	int seen0 = 0;
	uint64_t end = clock_mono_ms() + WAIT_MS;
	polled m;
	while ((!seen5 || seen0 < PER_PART) && clock_mono_ms() < end) {
		if (!poll_one(&m))
			continue;
		cr_assert_eq(m.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", m.errstr);
		if (m.p == 5) {
			cr_assert_eq(m.offset, 2);
			reseek_note_fetch(&r, 5, m.offset);
			seen5 = true;
		} else {
			cr_assert_eq(m.p, 0);
			cr_assert_eq(m.offset, seen0, "partition 0 read once, in order");
			seen0++;
		}
	}
	cr_assert(seen5);
	cr_assert_eq(seen0, PER_PART, "partition 0 was left alone");
	cr_assert_not(reseek_pending(&r, 5));
	cr_assert_neq(reseek_partition(&r, cons, TOPIC, NPARTS, 0, err, sizeof err), 0);
	reseek_free(&r);
}

Test(reseek, offsets_went_backwards_when_the_stored_one_is_not_below_the_log)
{
	cr_assert(reseek_went_backwards(500, 0, 0), "the broker restarted empty");
	cr_assert(reseek_went_backwards(500, 0, 120), "restarted, refilled a little");
	cr_assert(reseek_went_backwards(50, 0, 120), "restarted, refilled past the stored one");
	cr_assert(reseek_went_backwards(0, 0, 0), "the log moved under offset 0");
	cr_assert_not(reseek_went_backwards(10, 40, 120), "retention dropped 10..39");
	cr_assert_not(reseek_went_backwards(-1, 40, 120), "nothing stored");
}
