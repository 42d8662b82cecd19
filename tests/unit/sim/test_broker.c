/* test_broker.c - the embedded Kafka (sim/broker/broker.c) in-process.
 *
 * Starts a sim_broker per test and talks to it through its bootstrap list
 * with ordinary librdkafka clients: idempotent produce, assign-based
 * consume, metadata, consumer groups, and the fault hooks. Also the
 * option parser and the atomic bootstrap file. Each test runs in its own
 * process (Criterion) with its own temp dir; fini releases everything.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "tests/support/kafka_util.h"
#include "tests/support/testdir.h"
#include "log.h"
#include "sim/broker/broker.h"

#define WAIT_MS 20000 /* upper bound on any wait for the cluster */

static char tmpdir[64];
static sim_broker *b;
static rd_kafka_t *prod;
static rd_kafka_t *cons;
static rd_kafka_t *plain; /* a producer without retries or idempotence */

static void setup(void)
{
	testdir_make(tmpdir, sizeof tmpdir, "test_broker");
	log_set_level("warn");
}

static void teardown(void)
{
	kafka_util_destroy_clients(&prod, &cons);
	if (plain)
		rd_kafka_destroy(plain);
	plain = NULL;
	sim_broker_stop(b);
	b = NULL;
	testdir_remove(tmpdir);
}

TestSuite(broker, .init = setup, .fini = teardown, .timeout = 90);

static sim_broker *start_default(void)
{
	char err[256];
	sim_broker_opts o = {0};
	sim_broker *sb = sim_broker_start(&o, err, sizeof err);
	cr_assert_not_null(sb, "start: %s", err);
	return sb;
}

static const rd_kafka_metadata_topic_t *topic_metadata(rd_kafka_t *rk, const char *topic,
                                                       const struct rd_kafka_metadata **md)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	cr_assert_not_null(rkt);
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, md, WAIT_MS);
	rd_kafka_topic_destroy(rkt);
	cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "metadata: %s", rd_kafka_err2str(e));
	cr_assert_eq((*md)->topic_cnt, 1);
	const rd_kafka_metadata_topic_t *t = &(*md)->topics[0];
	cr_assert_str_eq(t->topic, topic);
	cr_assert_eq(t->err, RD_KAFKA_RESP_ERR_NO_ERROR, "topic %s: %s", topic,
	             rd_kafka_err2str(t->err));
	return t;
}

static int32_t leader_of(rd_kafka_t *rk, const char *topic, int32_t part)
{
	const struct rd_kafka_metadata *md;
	const rd_kafka_metadata_topic_t *t = topic_metadata(rk, topic, &md);
	int32_t leader = -1;
	for (int i = 0; i < t->partition_cnt; i++)
		if (t->partitions[i].id == part)
			leader = t->partitions[i].leader;
	rd_kafka_metadata_destroy(md);
	cr_assert_gt(leader, 0, "no leader for %s [%d]", topic, part);
	return leader;
}

/* --- options ------------------------------------------------------------ */

Test(broker, topic_spec_parses_name_and_partitions)
{
	sim_broker_topic t;
	cr_assert_eq(sim_broker_parse_topic("likes.batches:16", &t), 0);
	cr_assert_str_eq(t.name, "likes.batches");
	cr_assert_eq(t.partitions, 16);
	cr_assert_eq(sim_broker_parse_topic("a_b-C.9:1", &t), 0);
	cr_assert_str_eq(t.name, "a_b-C.9");
	cr_assert_eq(t.partitions, 1);
}

Test(broker, malformed_topic_specs_are_rejected)
{
	static const char *const bad[] = {
	    "likes",      "likes:",
	    ":4",         "likes:0",
	    "likes:-1",   "likes:4x",
	    "lik es:4",   "a/b:4",
	    "likes: 4",   "likes:+4",
	    ".:4",        "..:4",
	    "likes:1025", "likes:99999999999999999999",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		sim_broker_topic t = {.name = "untouched", .partitions = 7};
		cr_expect_eq(sim_broker_parse_topic(bad[i], &t), ERR_INVAL, "accepted \"%s\"",
		             bad[i]);
		cr_expect_str_eq(t.name, "untouched", "wrote on \"%s\"", bad[i]);
		cr_expect_eq(t.partitions, 7);
	}
	char longname[SIM_BROKER_TOPIC_MAX + 8];
	memset(longname, 'x', SIM_BROKER_TOPIC_MAX + 1);
	snprintf(longname + SIM_BROKER_TOPIC_MAX + 1, 7, ":1");
	sim_broker_topic t;
	cr_expect_eq(sim_broker_parse_topic(longname, &t), ERR_INVAL);
}

Test(broker, bad_options_fail_start_with_a_reason)
{
	char err[256];
	sim_broker_opts o = {.brokers = SIM_BROKER_BROKERS_MAX + 1};
	cr_assert_null(sim_broker_start(&o, err, sizeof err));
	cr_assert(strstr(err, "brokers"), "err: %s", err);

	sim_broker_topic dup[2] = {{"t", 2}, {"t", 3}};
	sim_broker_opts o2 = {.topics = dup, .ntopics = 2};
	cr_assert_null(sim_broker_start(&o2, err, sizeof err));
	cr_assert(strstr(err, "twice"), "err: %s", err);

	sim_broker_topic zero = {"t", 0};
	sim_broker_opts o3 = {.topics = &zero, .ntopics = 1};
	cr_assert_null(sim_broker_start(&o3, NULL, 0));
}

/* --- the cluster --------------------------------------------------------- */

Test(broker, idempotent_produce_then_assigned_consume_keeps_order)
{
	static const char *const payloads[] = {"like-1", "like-2", "like-3", "like-4", "like-5"};
	enum { N = sizeof payloads / sizeof payloads[0] };
	uint64_t t0 = clock_mono_ms();
	b = start_default();
	prod = kafka_util_new_producer(sim_broker_bootstraps(b));

	delivery d[N];
	for (int i = 0; i < N; i++)
		kafka_util_produce(prod, "likes.batches", 3, payloads[i], &d[i]);
	for (int i = 0; i < N; i++) {
		cr_assert(kafka_util_wait_delivery(prod, &d[i], WAIT_MS),
		          "message %d not delivered", i);
		cr_assert_eq(d[i].err, RD_KAFKA_RESP_ERR_NO_ERROR, "message %d: %s", i,
		             rd_kafka_err2str(d[i].err));
		cr_assert_eq(d[i].offset, i, "message %d at offset %" PRId64, i, d[i].offset);
		if (i == 0)
			fprintf(stderr, "measure: start to first acked produce %" PRIu64 " ms\n",
			        clock_mono_ms() - t0);
	}

	cons = kafka_util_new_consumer(sim_broker_bootstraps(b), "test-broker-assign");
	kafka_util_assign_from_start(cons, "likes.batches", 3);
	for (int i = 0; i < N; i++) {
		rd_kafka_message_t *m = kafka_util_next_message(cons, WAIT_MS);
		cr_assert_not_null(m, "message %d not consumed", i);
		cr_assert_eq(m->partition, 3);
		cr_assert_eq(m->offset, i);
		cr_assert_eq(m->len, strlen(payloads[i]));
		cr_assert_eq(memcmp(m->payload, payloads[i], m->len), 0, "message %d payload", i);
		rd_kafka_message_destroy(m);
	}
}

Test(broker, default_topics_have_their_partition_counts_and_replicas)
{
	b = start_default();
	prod = kafka_util_new_producer(sim_broker_bootstraps(b));
	size_t n;
	const sim_broker_topic *def = sim_broker_default_topics(&n);
	cr_assert_eq(n, 8);
	static const struct {
		const char *name;
		int parts;
	} want[] = {{"likes.batches", 16},       {"likes.snapshots", 16},
	            {"likes.deadletter", 1},     {"likes.changes", 16},
	            {"likes.milestones", 16},    {"likes.home.mumbai", 16},
	            {"likes.home.virginia", 16}, {"likes.home.singapore", 16}};
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(def[i].name, want[i].name);
		const struct rd_kafka_metadata *md;
		const rd_kafka_metadata_topic_t *t = topic_metadata(prod, want[i].name, &md);
		cr_expect_eq(t->partition_cnt, want[i].parts, "%s has %d partitions", want[i].name,
		             t->partition_cnt);
		for (int p = 0; p < t->partition_cnt; p++)
			cr_expect_eq(t->partitions[p].replica_cnt, 3);
		rd_kafka_metadata_destroy(md);
	}
}

Test(broker, given_topics_replace_defaults_and_replication_follows_brokers)
{
	sim_broker_topic topics[1];
	cr_assert_eq(sim_broker_parse_topic("drill.t:5", &topics[0]), 0);
	sim_broker_opts o = {.brokers = 2, .topics = topics, .ntopics = 1};
	char err[256];
	b = sim_broker_start(&o, err, sizeof err);
	cr_assert_not_null(b, "start: %s", err);
	cr_assert_eq(sim_broker_count(b), 2);
	cr_assert_eq(strchr(strchr(sim_broker_bootstraps(b), ',') + 1, ','), NULL,
	             "two brokers, two addresses: %s", sim_broker_bootstraps(b));
	prod = kafka_util_new_producer(sim_broker_bootstraps(b));

	const struct rd_kafka_metadata *md;
	const rd_kafka_metadata_topic_t *t = topic_metadata(prod, "drill.t", &md);
	cr_expect_eq(t->partition_cnt, 5);
	for (int p = 0; p < t->partition_cnt; p++)
		cr_expect_eq(t->partitions[p].replica_cnt, 2);
	rd_kafka_metadata_destroy(md);

	/* The defaults were not created; asking for one without auto-creation
	 * finds nothing. */
	const struct rd_kafka_metadata *all;
	cr_assert_eq(rd_kafka_metadata(prod, 1, NULL, &all, WAIT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
	for (int i = 0; i < all->topic_cnt; i++)
		cr_expect_str_neq(all->topics[i].topic, "likes.batches");
	rd_kafka_metadata_destroy(all);
}

Test(broker, produce_resumes_after_leader_goes_down_and_up)
{
	b = start_default();
	prod = kafka_util_new_producer(sim_broker_bootstraps(b));
	delivery d0, d1;
	kafka_util_produce(prod, "likes.batches", 3, "before", &d0);
	cr_assert(kafka_util_wait_delivery(prod, &d0, WAIT_MS));
	cr_assert_eq(d0.err, RD_KAFKA_RESP_ERR_NO_ERROR);

	int32_t leader = leader_of(prod, "likes.batches", 3);
	cr_assert_eq(sim_broker_set_down(b, leader, true), 0);
	kafka_util_produce(prod, "likes.batches", 3, "during", &d1);
	/* Leadership does not move, so nothing can be acked while it is down. */
	cr_assert_not(kafka_util_wait_delivery(prod, &d1, 1000), "acked by a down broker: %s",
	              rd_kafka_err2str(d1.err));

	cr_assert_eq(sim_broker_set_down(b, leader, false), 0);
	uint64_t t0 = clock_mono_ms();
	cr_assert(kafka_util_wait_delivery(prod, &d1, WAIT_MS),
	          "not delivered after the broker came up");
	cr_assert_eq(d1.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(d1.err));
	cr_assert_eq(d1.offset, 1, "exactly once: offset %" PRId64, d1.offset);
	fprintf(stderr, "measure: broker up to produce acked %" PRIu64 " ms\n",
	        clock_mono_ms() - t0);

	int64_t lo, hi;
	cr_assert_eq(rd_kafka_query_watermark_offsets(prod, "likes.batches", 3, &lo, &hi, WAIT_MS),
	             RD_KAFKA_RESP_ERR_NO_ERROR);
	cr_assert_eq(hi, 2, "two messages in the log, not %" PRId64, hi);
}

Test(broker, rtt_delays_every_ack)
{
	b = start_default();
	prod = kafka_util_new_producer(sim_broker_bootstraps(b));
	delivery d0, d1;
	kafka_util_produce(prod, "likes.batches", 0, "warm", &d0);
	cr_assert(kafka_util_wait_delivery(prod, &d0, WAIT_MS));

	cr_assert_eq(sim_broker_set_rtt(b, -1, 400), 0);
	uint64_t t0 = clock_mono_ms();
	kafka_util_produce(prod, "likes.batches", 0, "slow", &d1);
	cr_assert(kafka_util_wait_delivery(prod, &d1, WAIT_MS));
	cr_assert_eq(d1.err, RD_KAFKA_RESP_ERR_NO_ERROR);
	uint64_t took = clock_mono_ms() - t0;
	cr_assert_geq(took, 390, "ack after %" PRIu64 " ms with rtt 400", took);
	cr_assert_eq(sim_broker_set_rtt(b, -1, 0), 0);
}

Test(broker, fault_hooks_reject_unknown_brokers)
{
	b = start_default();
	cr_assert_eq(sim_broker_set_down(b, 0, true), ERR_INVAL);
	cr_assert_eq(sim_broker_set_down(b, 4, true), ERR_INVAL);
	cr_assert_eq(sim_broker_set_rtt(b, 99, 10), ERR_INVAL);
	cr_assert_eq(sim_broker_set_rtt(b, 1, -5), ERR_INVAL);
	cr_assert_eq(sim_broker_set_down(b, -1, false), 0);
	cr_assert_eq(sim_broker_set_rtt(b, 3, 0), 0);
}

Test(broker, consumer_group_joins_and_commits)
{
	b = start_default();
	prod = kafka_util_new_producer(sim_broker_bootstraps(b));
	delivery d;
	kafka_util_produce(prod, "likes.deadletter", 0, "quarantined", &d);
	cr_assert(kafka_util_wait_delivery(prod, &d, WAIT_MS));
	cr_assert_eq(d.err, RD_KAFKA_RESP_ERR_NO_ERROR);

	uint64_t t0 = clock_mono_ms();
	cons = kafka_util_new_consumer(sim_broker_bootstraps(b), "test-broker-group");
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, "likes.deadletter", RD_KAFKA_PARTITION_UA);
	cr_assert_eq(rd_kafka_subscribe(cons, sub), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(sub);

	rd_kafka_message_t *m = kafka_util_next_message(cons, WAIT_MS);
	cr_assert_not_null(m, "nothing consumed through the group");
	fprintf(stderr, "measure: subscribe to first message (group join) %" PRIu64 " ms\n",
	        clock_mono_ms() - t0);
	cr_assert_eq(m->len, strlen("quarantined"));
	cr_assert_eq(rd_kafka_commit_message(cons, m, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_message_destroy(m);
	rd_kafka_consumer_close(cons);
	rd_kafka_destroy(cons);
	cons = NULL;

	/* A new member of the group sees the committed position. */
	cons = kafka_util_new_consumer(sim_broker_bootstraps(b), "test-broker-group");
	rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(c, "likes.deadletter", 0);
	cr_assert_eq(rd_kafka_committed(cons, c, WAIT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
	cr_expect_eq(c->elems[0].offset, 1, "committed %" PRId64, c->elems[0].offset);
	rd_kafka_topic_partition_list_destroy(c);
}

Test(broker, bootstrap_file_holds_one_line_and_no_temp_files)
{
	b = start_default();
	char path[128];
	snprintf(path, sizeof path, "%s/bs", tmpdir);
	cr_assert_eq(sim_broker_write_bootstraps(b, path), 0);
	/* Written twice: the second rename replaces the first file. */
	cr_assert_eq(sim_broker_write_bootstraps(b, path), 0);

	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	char buf[1024] = "";
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char want[1024];
	snprintf(want, sizeof want, "%s\n", sim_broker_bootstraps(b));
	cr_assert_str_eq(buf, want);
	cr_assert(strncmp(buf, "127.0.0.1:", 10) == 0, "%s", buf);

	cr_assert_eq(testdir_count_entries(tmpdir), 1, "temp files left behind");

	char bad[160];
	snprintf(bad, sizeof bad, "%s/missing-dir/bs", tmpdir);
	cr_assert_eq(sim_broker_write_bootstraps(b, bad), ERR_IO);
}

/* --- fail-over and the control socket -------------------------------------- */

Test(broker, fail_over_places_leaders_and_moves_them_off_a_broker_set_down)
{
	char err[256];
	sim_broker_topic t = {"likes.changelog", 4};
	sim_broker_opts o = {.topics = &t, .ntopics = 1, .fail_over = true};
	b = sim_broker_start(&o, err, sizeof err);
	cr_assert_not_null(b, "start: %s", err);
	prod = kafka_util_new_producer(sim_broker_bootstraps(b));
	for (int p = 0; p < 4; p++) {
		cr_assert_eq(sim_broker_leader(b, "likes.changelog", p), p % 3 + 1, "partition %d",
		             p);
		cr_assert_eq(leader_of(prod, "likes.changelog", p), p % 3 + 1, "partition %d", p);
	}
	cr_assert_eq(sim_broker_leader(b, "likes.changelog", 4), -1);
	cr_assert_eq(sim_broker_leader(b, "nope", 0), -1);

	delivery d0, d1;
	kafka_util_produce(prod, "likes.changelog", 0, "before", &d0);
	cr_assert(kafka_util_wait_delivery(prod, &d0, WAIT_MS));
	cr_assert_eq(d0.err, RD_KAFKA_RESP_ERR_NO_ERROR);

	cr_assert_eq(sim_broker_set_down(b, 1, true), 0);
	/* Partitions 0 and 3 were broker 1's: the next broker up leads them. */
	cr_assert_eq(sim_broker_leader(b, "likes.changelog", 0), 2);
	cr_assert_eq(sim_broker_leader(b, "likes.changelog", 3), 2);
	cr_assert_eq(sim_broker_leader(b, "likes.changelog", 1), 2);
	cr_assert_eq(sim_broker_leader(b, "likes.changelog", 2), 3);
	uint64_t t0 = clock_mono_ms();
	kafka_util_produce(prod, "likes.changelog", 0, "during", &d1);
	cr_assert(kafka_util_wait_delivery(prod, &d1, WAIT_MS),
	          "not delivered with its first leader down");
	cr_assert_eq(d1.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(d1.err));
	cr_assert_eq(d1.offset, 1, "exactly once: offset %" PRId64, d1.offset);
	fprintf(stderr, "measure: produce acked %" PRIu64 " ms after its leader went down\n",
	        clock_mono_ms() - t0);

	/* Every broker down: nothing to move to; the first one up takes them. */
	cr_assert_eq(sim_broker_set_down(b, -1, true), 0);
	cr_assert_eq(sim_broker_leader(b, "likes.changelog", 0), 2);
	cr_assert_eq(sim_broker_set_down(b, 3, false), 0);
	for (int p = 0; p < 4; p++)
		cr_assert_eq(sim_broker_leader(b, "likes.changelog", p), 3, "partition %d", p);
	cr_assert_eq(sim_broker_set_down(b, -1, false), 0);
	cr_assert_eq(sim_broker_leader(b, "likes.changelog", 0), 3, "leaders stay on an up");
}

Test(broker, without_fail_over_no_leader_is_tracked)
{
	b = start_default();
	cr_assert_eq(sim_broker_leader(b, "likes.batches", 0), -1);
}

Test(broker, bootstrap_ports_come_in_broker_order)
{
	int ports[4];
	cr_assert_eq(sim_broker_ports("127.0.0.1:1,127.0.0.1:22,127.0.0.1:333", ports, 4), 3);
	cr_assert_eq(ports[0], 1);
	cr_assert_eq(ports[1], 22);
	cr_assert_eq(ports[2], 333);
	cr_assert_eq(sim_broker_ports("127.0.0.1:1,127.0.0.1:2", ports, 1), 1);
	cr_assert_eq(sim_broker_ports("", ports, 4), 0);
	cr_assert_eq(sim_broker_ports(NULL, ports, 4), 0);
}

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static rd_kafka_t *new_plain_producer(const char *bootstraps)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	kafka_util_set(conf, "bootstrap.servers", bootstraps);
	kafka_util_set(conf, "acks", "all");
	kafka_util_set(conf, "linger.ms", "0");
	kafka_util_set(conf, "message.send.max.retries", "0");
	rd_kafka_conf_set_dr_msg_cb(conf, kafka_util_on_delivery);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	cr_assert_not_null(rk, "producer: %s", err);
	return rk;
}

/* Produces one message with the plain producer and waits for its report:
 * it must say want. The delivery, for its offset. */
static delivery plain_produce(const char *topic, int part, const char *payload,
                              rd_kafka_resp_err_t want)
{
	delivery d;
	kafka_util_produce(plain, topic, part, payload, &d);
	cr_assert(kafka_util_wait_delivery(plain, &d, WAIT_MS), "no delivery report for %s",
	          payload);
	cr_assert_eq(d.err, want, "%s: got %s, not %s", payload, rd_kafka_err2str(d.err),
	             rd_kafka_err2str(want));
	return d;
}

Test(broker, a_served_cluster_takes_faults_on_its_control_socket)
{
	char bs[128], ctl[128];
	snprintf(bs, sizeof bs, "%s/bs", tmpdir);
	snprintf(ctl, sizeof ctl, "%s/ctl", tmpdir);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Gone with the test, should an assertion end it first. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sim_broker_topic t = {"likes.changelog", 1};
		sim_broker_opts o = {.topics = &t, .ntopics = 1, .fail_over = true};
		_exit(sim_broker_serve(&o, bs, NULL, ctl) ? 1 : 0);
	}
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (!file_exists(bs) && clock_mono_ms() < end)
		usleep(20 * 1000);
	cr_assert(file_exists(bs), "no bootstrap file");
	cr_assert(file_exists(ctl), "no control socket once ready");
	char line[1024] = "";
	FILE *f = fopen(bs, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(line, sizeof line, f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	prod = kafka_util_new_producer(line);
	cr_assert_eq(leader_of(prod, "likes.changelog", 0), 1);

	char err[256];
	cr_assert_eq(sim_broker_control(ctl, "down 1", 5000, err, sizeof err), 0, "%s", err);
	delivery d;
	kafka_util_produce(prod, "likes.changelog", 0, "during", &d);
	cr_assert(kafka_util_wait_delivery(prod, &d, WAIT_MS), "not delivered with broker 1 down");
	cr_assert_eq(d.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(d.err));
	cr_assert_eq(leader_of(prod, "likes.changelog", 0), 2);
	cr_assert_eq(sim_broker_control(ctl, "up 1", 5000, err, sizeof err), 0, "%s", err);
	cr_assert_eq(sim_broker_control(ctl, "rtt all 0", 5000, err, sizeof err), 0, "%s", err);
	cr_assert_eq(sim_broker_control(ctl, "down all", 5000, err, sizeof err), 0, "%s", err);
	cr_assert_eq(sim_broker_control(ctl, "up all", 5000, err, sizeof err), 0, "%s", err);

	cr_assert_eq(sim_broker_control(ctl, "down 4", 5000, err, sizeof err), ERR_KAFKA);
	cr_assert(strstr(err, "no broker '4'"), "%s", err);
	cr_assert_eq(sim_broker_control(ctl, "explode", 5000, err, sizeof err), ERR_KAFKA);
	cr_assert(strstr(err, "unknown command"), "%s", err);
	cr_assert_eq(sim_broker_control(ctl, "rtt 1 -5", 5000, err, sizeof err), ERR_KAFKA);
	cr_assert_eq(sim_broker_control(ctl, "", 5000, err, sizeof err), ERR_INVAL);
	cr_assert_eq(sim_broker_control(ctl, "errors -1", 5000, err, sizeof err), ERR_KAFKA);
	cr_assert(strstr(err, "bad count"), "%s", err);
	cr_assert_eq(sim_broker_control(ctl, "errors 2x", 5000, err, sizeof err), ERR_KAFKA);

	/* errors N: the next produce request is refused, the one after
	 * it written. A count above the broker ids is not taken for one. */
	cr_assert_eq(sim_broker_control(ctl, "errors 1", 5000, err, sizeof err), 0, "%s", err);
	plain = new_plain_producer(line);
	plain_produce("likes.changelog", 0, "refused", RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
	plain_produce("likes.changelog", 0, "accepted", RD_KAFKA_RESP_ERR_NO_ERROR);
	cr_assert_eq(sim_broker_control(ctl, "errors 7", 5000, err, sizeof err), 0, "%s", err);
	cr_assert_eq(sim_broker_control(ctl, "errors 0", 5000, err, sizeof err), 0, "%s", err);

	cr_assert_eq(kill(pid, SIGTERM), 0);
	int st = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "wait status %d", st);
	cr_assert_not(file_exists(bs), "bootstrap file left behind");
	cr_assert_not(file_exists(ctl), "control socket left behind");
	char missing[160];
	snprintf(missing, sizeof missing, "%s/none", tmpdir);
	cr_assert_eq(sim_broker_control(missing, "up 1", 1000, err, sizeof err), ERR_IO);
}

/* --- pushed request errors ------------------------------------------------ */

Test(broker, pushed_error_fails_the_next_produce_and_writes_nothing)
{
	b = start_default();
	plain = new_plain_producer(sim_broker_bootstraps(b));
	cr_assert_eq(sim_broker_push_errors(b, 1), 0);

	plain_produce("likes.batches", 2, "refused", RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);

	/* One error was pushed, so the next request goes through, and the
	 * refused one left nothing in the log. */
	delivery d1 = plain_produce("likes.batches", 2, "accepted", RD_KAFKA_RESP_ERR_NO_ERROR);
	cr_assert_eq(d1.offset, 0, "offset %" PRId64, d1.offset);
}

Test(broker, idempotent_producer_retries_through_pushed_errors_once)
{
	b = start_default();
	prod = kafka_util_new_producer(sim_broker_bootstraps(b));
	cr_assert_eq(sim_broker_push_errors(b, 3), 0);

	delivery d;
	kafka_util_produce(prod, "likes.batches", 5, "persistent", &d);
	cr_assert(kafka_util_wait_delivery(prod, &d, WAIT_MS), "not delivered after the errors");
	cr_assert_eq(d.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(d.err));
	cr_assert_eq(d.offset, 0, "offset %" PRId64, d.offset);

	int64_t lo, hi;
	cr_assert_eq(rd_kafka_query_watermark_offsets(prod, "likes.batches", 5, &lo, &hi, WAIT_MS),
	             RD_KAFKA_RESP_ERR_NO_ERROR);
	cr_assert_eq(hi, 1, "one message in the log, not %" PRId64, hi);
}

Test(broker, push_errors_rejects_bad_counts)
{
	b = start_default();
	cr_assert_eq(sim_broker_push_errors(b, -1), ERR_INVAL);
	cr_assert_eq(sim_broker_push_errors(b, SIM_BROKER_PUSH_ERRORS_MAX + 1), ERR_INVAL);
	cr_assert_eq(sim_broker_push_errors(b, 0), 0);
}

/* The policy of this process's thread named name (-1: none such). */
static int policy_of_thread(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	cr_assert_not_null(d);
	int policy = -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[320], comm[32] = "";
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof comm, f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
		if (strcmp(comm, name) == 0)
			policy = sched_getscheduler(atoi(e->d_name));
	}
	closedir(d);
	return policy;
}

Test(broker, an_idle_cluster_runs_its_thread_under_sched_idle_and_still_serves)
{
	char err[256];
	sim_broker_opts o = {.idle = true};
	b = sim_broker_start(&o, err, sizeof err);
	cr_assert_not_null(b, "start: %s", err);
	cr_expect_eq(policy_of_thread("rdk:mock"), SCHED_IDLE);
	cr_expect_eq(sched_getscheduler(0), SCHED_OTHER, "the caller keeps its policy");
	/* Idle or not, it is a cluster: a produced message is consumed. */
	prod = kafka_util_new_producer(sim_broker_bootstraps(b));
	delivery d;
	kafka_util_produce(prod, "likes.batches", 0, "like", &d);
	cr_assert(kafka_util_wait_delivery(prod, &d, WAIT_MS));
	cr_assert_eq(d.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(d.err));
	cons = kafka_util_new_consumer(sim_broker_bootstraps(b), "test-broker-idle");
	kafka_util_assign_from_start(cons, "likes.batches", 0);
	rd_kafka_message_t *m = kafka_util_next_message(cons, WAIT_MS);
	cr_assert_not_null(m, "nothing consumed from the idle cluster");
	rd_kafka_message_destroy(m);
}

Test(broker, a_cluster_not_asked_to_be_idle_runs_at_the_normal_policy)
{
	b = start_default();
	cr_expect_eq(policy_of_thread("rdk:mock"), SCHED_OTHER);
}

/* The cluster's sockets as Kafka's own: Nagle off on every connection a
 * broker accepts, so a response never waits for the client's delayed
 * ACK behind an earlier one. */
Test(broker, every_connection_a_broker_accepts_has_nagle_off)
{
	b = start_default();
	int ports[8];
	int n = sim_broker_ports(sim_broker_bootstraps(b), ports, 8);
	cr_assert_gt(n, 0);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(c, 0);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ports[0])};
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(c, (struct sockaddr *)&to, sizeof to), 0);
	struct sockaddr_in mine;
	socklen_t len = sizeof mine;
	cr_assert_eq(getsockname(c, (struct sockaddr *)&mine, &len), 0);
	/* The broker's end: this process's socket at the broker's port whose
	 * peer is our client's port. */
	int found = -1;
	for (int tries = 0; tries < 200 && found < 0; tries++) {
		DIR *d = opendir("/proc/self/fd");
		cr_assert_not_null(d);
		struct dirent *de;
		while ((de = readdir(d)) && found < 0) {
			int fd = atoi(de->d_name);
			struct sockaddr_in here, peer;
			socklen_t hl = sizeof here, pl = sizeof peer;
			if (fd == c || getsockname(fd, (struct sockaddr *)&here, &hl) ||
			    here.sin_family != AF_INET || ntohs(here.sin_port) != ports[0] ||
			    getpeername(fd, (struct sockaddr *)&peer, &pl) ||
			    peer.sin_port != mine.sin_port)
				continue;
			found = fd;
		}
		closedir(d);
		if (found < 0)
			usleep(10000);
	}
	cr_assert_geq(found, 0, "the broker never accepted the connection");
	int on = 0;
	len = sizeof on;
	cr_assert_eq(getsockopt(found, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
	cr_assert(on, "the accepted socket keeps Nagle's algorithm on");
	close(c);
}
