/* test_uplink_fence.c - the fence of a taken-over edge instance across
 * Kafka, in one process: two uplinks of one edge id on the embedded
 * broker play a former active (epoch 1) and the instance that took its
 * changelog over (epoch 2, a later writer time, given as a takeover
 * record would give it); their messages are
 * read back from the batch topic and applied by central's applier with
 * each message's writer header, as central does. The former active's batch sent after the
 * hand-over is void; the new active's copy of it counts once. An uplink
 * refuses a writer time not after the one it handed over before.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/apply_util.h"
#include "tests/support/kafka_util.h"
#include "tests/support/wire_util.h"
#include "bus.h"
#include "clock.h"
#include "edge/config/edge.h"
#include "edge/upstream/uplink.h"
#include "err.h"
#include "log.h"

#define TOPIC "likes.batches"
#define NPARTS 4
#define P 1 /* post:1's partition of 4 */

static struct {
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *mrk, *cons;
	edge_config cfg;
	uplink *old, *now;
	char dir[64];
	store *db;
	counters ctr;
	applier *a;
} T;

static void set(const char *assignment)
{
	char err[256];
	cr_assert_eq(cfg_set(edge_options, edge_noptions, &T.cfg, assignment, err, sizeof err), 0,
	             "%s: %s", assignment, err);
}

static void setup(void)
{
	log_threshold = LOG_ERROR;
	T.mc = kafka_util_mock_new(1, TOPIC, NPARTS, &T.mrk);
	cfg_defaults(edge_options, edge_noptions, &T.cfg);
	char bs[300];
	snprintf(bs, sizeof bs, "kafka.bootstrap.servers=%s",
	         rd_kafka_mock_cluster_bootstraps(T.mc));
	set(bs);
	set("edge.id=edge1");
	set("topics.partitions=4");
	set("bus.deadletter_topic=");
	T.a = apply_util_open("test_uplink_fence", "likes", "views", NPARTS, T.dir, sizeof T.dir,
	                      &T.ctr, &T.db);
}

static void teardown(void)
{
	kafka_util_destroy_clients(NULL, &T.cons);
	uplink_free(T.old);
	uplink_free(T.now);
	T.old = T.now = NULL;
	apply_util_close(T.a, T.db, &T.ctr, T.dir);
	T.a = NULL;
	T.db = NULL;
	cfg_free(edge_options, edge_noptions, &T.cfg);
	kafka_util_mock_free(&T.mc, &T.mrk);
}

TestSuite(uplink_fence, .init = setup, .fini = teardown, .timeout = 60);

/* An uplink that took over at epoch with writer time writer. */
static uplink *instance(uint64_t epoch, uint64_t writer)
{
	char err[256];
	uplink *u = uplink_new(&T.cfg, NULL, err, sizeof err);
	cr_assert_not_null(u, "uplink_new: %s", err);
	cr_assert_eq(uplink_handover(u, epoch, writer, err, sizeof err), 0, "uplink_handover: %s",
	             err);
	return u;
}

/* u sends batch seq of edge1 in P: one like of post:1 by user. */
static void send_like(uplink *u, uint64_t seq, const char *user)
{
	wire_op op = wire_util_op("likes", "post:1", user, WIRE_ADD, 1, seq * 10);
	wire_util_msg m = wire_util_batch("edge1", "eu", P, seq, &op, 1, NULL, 0);
	cr_assert_eq(uplink_send(u, P, seq, m.buf, m.len), 0);
	free(m.buf);
}

/* The next message of P, applied as central applies it: its type; its
 * writer header in *writer and, for a hand-over, its created_ms in
 * *made. */
static char next_applied(uint64_t *writer, uint64_t *made)
{
	rd_kafka_message_t *m = kafka_util_next_message(T.cons, 10000);
	cr_assert_not_null(m, "a message in partition %d", P);
	*writer = bus_batch_writer(m);
	char t = wire_message_type(m->payload, m->len);
	wire_handover h;
	*made = t == 'h' && wire_decode_handover(m->payload, m->len, &h) == 0 ? h.created_ms : 0;
	cr_assert_eq(applier_apply(T.a, P, m->offset, m->payload, m->len, *writer), 0);
	rd_kafka_message_destroy(m);
	return t;
}

static uint64_t likes(void)
{
	uint64_t c = 0;
	cr_assert_eq(applier_count(T.a, "likes", "post:1", &c), 0);
	return c;
}

Test(uplink_fence, a_batch_sent_after_the_handover_by_the_former_active_is_void)
{
	T.cons = kafka_util_new_consumer(rd_kafka_mock_cluster_bootstraps(T.mc), "test-fence");
	kafka_util_assign_from_start(T.cons, TOPIC, P);
	uint64_t w, made, old_writer, new_writer;

	uint64_t w0 = clock_wall_ms();
	T.old = instance(1, w0);
	send_like(T.old, 1, "u1");
	cr_assert_eq(next_applied(&w, &made), 'h');
	cr_assert_eq(made, w0, "the hand-over names the takeover's writer time");
	cr_assert_eq(w, made, "a hand-over is stamped with its own writer time");
	old_writer = made;
	cr_assert_eq(next_applied(&w, &made), 'b');
	cr_assert_eq(w, old_writer, "each batch carries its sender's writer time");
	cr_assert_eq(likes(), 1);

	T.now = instance(2, w0 + 1);
	cr_assert_eq(next_applied(&w, &made), 'h');
	new_writer = made;
	cr_assert_eq(new_writer, w0 + 1);
	/* The former active resumes with a batch still to send; the new one
	 * sends the same batch. */
	send_like(T.old, 2, "u2");
	cr_assert_eq(next_applied(&w, &made), 'b');
	cr_assert_eq(w, old_writer);
	cr_assert_eq(likes(), 1, "the former active's batch after the hand-over counts nothing");
	send_like(T.now, 2, "u2");
	cr_assert_eq(next_applied(&w, &made), 'b');
	cr_assert_eq(w, new_writer);
	cr_assert_eq(likes(), 2, "the new active's copy counts");

	applier_stats st;
	applier_get_stats(T.a, &st);
	cr_assert_eq(st.handovers_applied, 2);
	cr_assert_eq(st.batches_fenced, 1);
	cr_assert_eq(st.batches_applied, 2);
}

Test(uplink_fence, an_edge_without_a_changelog_stamps_nothing)
{
	T.cons = kafka_util_new_consumer(rd_kafka_mock_cluster_bootstraps(T.mc), "test-fence");
	kafka_util_assign_from_start(T.cons, TOPIC, P);
	char err[256];
	T.old = uplink_new(&T.cfg, NULL, err, sizeof err);
	cr_assert_not_null(T.old, "uplink_new: %s", err);
	send_like(T.old, 1, "u1");
	uint64_t w = 99, made;
	cr_assert_eq(next_applied(&w, &made), 'b', "no hand-over without a takeover");
	cr_assert_eq(w, 0);
	cr_assert_eq(likes(), 1);
}

Test(uplink_fence, a_writer_time_not_after_the_last_one_handed_over_is_refused)
{
	char err[256];
	T.old = uplink_new(&T.cfg, NULL, err, sizeof err);
	cr_assert_not_null(T.old, "uplink_new: %s", err);
	cr_assert_eq(uplink_handover(T.old, 1, 0, err, sizeof err), ERR_INVAL, "no writer time");
	cr_assert_eq(uplink_handover(T.old, 1, 5000, err, sizeof err), 0, "%s", err);
	/* The hand-over names the takeover record's time as it is: never a
	 * time the log does not hold, which the next instance could not
	 * come after. */
	cr_assert_eq(uplink_handover(T.old, 2, 5000, err, sizeof err), ERR_INVAL);
	cr_assert_eq(uplink_handover(T.old, 2, 4000, err, sizeof err), ERR_INVAL);
	cr_assert(strstr(err, "not after 5000"), "%s", err);
}
