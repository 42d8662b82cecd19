/* itest_offsets.c - what Kafka's lag tools see, with the real binaries on
 * the embedded broker: after likes have flowed through, the offsets
 * committed under central's group (likes-central-c1, batch topic) and
 * each edge's group (likes-edge-edgeN, snapshot topic), read back with
 * the admin API by a client that never joins a group, are the positions
 * the daemons report on /metrics (central's input_next_offset, the
 * edge's snapshot_next_offset). And what is committed is never read
 * back: an offset an operator commits into central's group does not
 * move where central resumes.
 *
 * Central publishes no heartbeats here (heartbeat_every = 0) so the
 * positions stop moving once the likes are in; commits run every 200 ms.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>

#include "tests/support/kafka_util.h"
#include "tests/support/prom_util.h"
#include "tests/support/stack.h"

#define NPARTS 4
#define NEDGES 2
#define LIKES 24
#define WAIT_MS 30000

static void setup(void)
{
	S.central_extra = "heartbeat_every = 0\n[bus]\ncommit_interval_ms = 200\n";
	S.edge_extra = "[bus]\ncommit_interval_ms = 200\n";
	stack_up(NEDGES, NPARTS, 100);
}

TestSuite(offsets_itest, .init = setup, .fini = stack_down, .timeout = 180);

static char text[1 << 18];

/* One series of the /metrics on port, or -1 when absent. */
static double metric(int port, const char *series)
{
	if (proc_curl(text, sizeof text, "", port, "/metrics") != 200)
		return -1;
	double v;
	return prom_util_value(text, series, &v) ? v : -1;
}

/* A family's series summed on port's /metrics; -1 when unreachable. */
static double metric_sum(int port, const char *family)
{
	if (proc_curl(text, sizeof text, "", port, "/metrics") != 200)
		return -1;
	return prom_util_sum(text, family);
}

static const char *bootstraps(void)
{
	static char bs[512];
	char cmd[600];
	snprintf(cmd, sizeof cmd, "cat %s/bootstrap", S.dir);
	cr_assert_eq(proc_capture(bs, sizeof bs, "%s", cmd), 0);
	bs[strcspn(bs, "\n")] = 0;
	return bs;
}

/* The committed offsets of group on topic's partitions, through the admin
 * API (ListConsumerGroupOffsets) of a producer handle: a client that
 * cannot join anything. -1001 (RD_KAFKA_OFFSET_INVALID) where none. */
static void committed(rd_kafka_t *adm, const char *group, const char *topic, int64_t *out)
{
	rd_kafka_queue_t *q = rd_kafka_queue_new(adm);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPARTS);
	for (int p = 0; p < NPARTS; p++)
		rd_kafka_topic_partition_list_add(l, topic, p);
	rd_kafka_ListConsumerGroupOffsets_t *req = rd_kafka_ListConsumerGroupOffsets_new(group, l);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_ListConsumerGroupOffsets(adm, &req, 1, NULL, q);
	rd_kafka_ListConsumerGroupOffsets_destroy(req);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS);
	cr_assert_not_null(ev, "no answer listing %s's offsets", group);
	cr_assert_eq(rd_kafka_event_error(ev), 0, "%s: %s", group, rd_kafka_event_error_string(ev));
	size_t n;
	const rd_kafka_group_result_t **gr = rd_kafka_ListConsumerGroupOffsets_result_groups(
	    rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
	cr_assert_eq(n, 1);
	const rd_kafka_topic_partition_list_t *pl = rd_kafka_group_result_partitions(gr[0]);
	for (int p = 0; p < NPARTS; p++) {
		const rd_kafka_topic_partition_t *t =
		    pl ? rd_kafka_topic_partition_list_find(pl, topic, p) : NULL;
		out[p] = t && !t->err ? t->offset : RD_KAFKA_OFFSET_INVALID;
	}
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
}

/* Positions a daemon reports: series{partition="p"} on port's /metrics;
 * -1 where absent. Returns their sum over the partitions that have one. */
static double reported(int port, const char *series, int64_t *out)
{
	double sum = 0;
	for (int p = 0; p < NPARTS; p++) {
		char name[128];
		snprintf(name, sizeof name, "%s{partition=\"%d\"}", series, p);
		double v = metric(port, name);
		out[p] = (int64_t)v;
		if (v >= 0)
			sum += v;
	}
	return sum;
}

static bool same(const int64_t *a, const int64_t *b, char *why, size_t cap)
{
	for (int p = 0; p < NPARTS; p++) {
		/* a partition with no position reported has none committed */
		int64_t want = a[p] < 0 ? RD_KAFKA_OFFSET_INVALID : a[p];
		if (want != b[p]) {
			snprintf(why, cap, "partition %d: reported %lld, committed %lld", p,
			         (long long)a[p], (long long)b[p]);
			return false;
		}
	}
	return true;
}

/* Waits until group's committed offsets on topic equal the positions
 * port reports in series, which must have moved past min_sum. */
static void wait_committed_is_reported(rd_kafka_t *adm, const char *group, const char *topic,
                                       int port, const char *series, double min_sum)
{
	int64_t rep[NPARTS], com[NPARTS];
	char why[160] = "";
	uint64_t deadline = clock_mono_ms() + WAIT_MS;
	for (;;) {
		double sum = reported(port, series, rep);
		committed(adm, group, topic, com);
		if (sum > min_sum && same(rep, com, why, sizeof why))
			return;
		if (sum <= min_sum)
			snprintf(why, sizeof why, "%s summed %.0f, not past %.0f", series, sum,
			         min_sum);
		cr_assert(clock_mono_ms() < deadline, "group %s: %s", group, why);
		proc_sleep_ms(100);
	}
}

Test(offsets_itest, committed_offsets_are_the_positions_the_daemons_report)
{
	for (int i = 0; i < LIKES; i++) {
		char path[64], user[16];
		snprintf(path, sizeof path, "/v1/items/post/lag%d/likes", i);
		snprintf(user, sizeof user, "u%d", i);
		int code = proc_http("POST", S.edge_port[i % NEDGES], path, user, NULL, 0);
		cr_assert(code == 200 || code == 201, "like %d -> %d", i, code);
	}
	/* Every like is applied at central: the ops counter says so. */
	uint64_t deadline = clock_mono_ms() + WAIT_MS;
	while (metric_sum(S.ops_port, "likes_central_ops_applied_total") < LIKES) {
		cr_assert(clock_mono_ms() < deadline, "central never applied the likes");
		proc_sleep_ms(50);
	}

	rd_kafka_t *adm = kafka_util_new_producer(bootstraps());
	wait_committed_is_reported(adm, "likes-central-c1", "likes.batches", S.ops_port,
	                           "likes_central_input_next_offset", 0);
	for (int i = 0; i < NEDGES; i++) {
		char group[64];
		snprintf(group, sizeof group, "likes-edge-edge%d", i);
		wait_committed_is_reported(adm, group, "likes.snapshots", S.edge_port[i],
		                           "likes_edge_snapshot_next_offset", 0);
	}
	cr_assert_gt(metric(S.ops_port, "likes_central_kafka_offset_commits_total"), 0);
	cr_assert_eq(metric(S.ops_port, "likes_central_kafka_offset_commit_errors_total"), 0);
	cr_assert_gt(metric(S.edge_port[0], "likes_edge_kafka_offset_commits_total"), 0);

	/* Central stopped, an operator "resets" its group to the start; central
	 * still resumes from its store: nothing is read twice, and its
	 * commits put the group back where the store says. */
	int64_t before[NPARTS];
	reported(S.ops_port, "likes_central_input_next_offset", before);
	proc_stop(S.central_pid, SIGTERM);
	S.central_pid = 0;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPARTS);
	for (int p = 0; p < NPARTS; p++)
		rd_kafka_topic_partition_list_add(l, "likes.batches", p)->offset = 0;
	rd_kafka_AlterConsumerGroupOffsets_t *req =
	    rd_kafka_AlterConsumerGroupOffsets_new("likes-central-c1", l);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_queue_t *q = rd_kafka_queue_new(adm);
	rd_kafka_AlterConsumerGroupOffsets(adm, &req, 1, NULL, q);
	rd_kafka_AlterConsumerGroupOffsets_destroy(req);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, WAIT_MS);
	cr_assert(ev && !rd_kafka_event_error(ev), "reset: %s",
	          ev ? rd_kafka_event_error_string(ev) : "no answer");
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	int64_t reset[NPARTS];
	committed(adm, "likes-central-c1", "likes.batches", reset);
	for (int p = 0; p < NPARTS; p++)
		cr_assert_eq(reset[p], 0, "partition %d not reset", p);

	stack_start_central();
	int64_t after[NPARTS];
	reported(S.ops_port, "likes_central_input_next_offset", after);
	char why[160] = "";
	cr_assert(same(before, after, why, sizeof why), "central resumed elsewhere: %s", why);
	wait_committed_is_reported(adm, "likes-central-c1", "likes.batches", S.ops_port,
	                           "likes_central_input_next_offset", 0);
	cr_assert_eq(metric(S.ops_port, "likes_central_batches_duplicate_total"), 0,
	             "central read batches it had applied again");
	rd_kafka_destroy(adm);
}
