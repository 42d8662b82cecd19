/* itest_recover.c - the stack recovers when Kafka's offsets go backwards
 * or run out of range under stores that outlived them, with the real
 * binaries (stack.h: the embedded broker, central, two edges, 2
 * partitions).
 *
 * (a) Everything stops; a new, empty embedded broker starts (its offsets
 *     begin again at 0 while every store remembers higher ones); the
 *     daemons start again on their old stores, the edges before central
 *     or central before the edges. Central starts a new input epoch, the
 *     edges load their replicas again from its checkpoint, no process
 *     dies, and after more likes every count is exact at both edges with
 *     versions above any seen before.
 * (b) An edge stops while its snapshot partitions move past the offsets
 *     it holds (the embedded broker keeps only about 5 MiB a partition:
 *     large messages push the old ones out). Started again, it finds
 *     its resume offsets gone, loads its replica from the checkpoint,
 *     answers every count exactly, and reads none through central.
 */
#include <criterion/criterion.h>

#include "tests/support/kafka_util.h"
#include "tests/support/prom_util.h"
#include "tests/support/stack.h"

#define NPARTS 2
#define NITEMS 6
#define SNAPSHOTS "likes.snapshots"
#define JUNK_BYTES (900 * 1024)
#define JUNK_PER_PART 8 /* 7.2 MB, past the broker's ~5 MiB a partition */

static void setup(void)
{
	stack_up(2, NPARTS, 200);
}

TestSuite(recover, .init = setup, .fini = stack_down, .timeout = 240);

/* The likes count (and version, if asked) of post:id at edge e; -1
 * unless it answers 200 with a number. */
static long long edge_count(int e, const char *id, long long *version)
{
	char out[2048], path[128];
	snprintf(path, sizeof path, "/v1/items/post/%s/likes", id);
	if (proc_curl(out, sizeof out, "", S.edge_port[e], path) != 200)
		return -1;
	if (version)
		*version = proc_json_num(out, "version");
	return proc_json_num(out, "count");
}

static void like(int e, const char *id, const char *user)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/items/post/%s/likes", id);
	int code = proc_http("POST", S.edge_port[e], path, user, NULL, 0);
	cr_assert_eq(code, 200, "like of post:%s by %s at edge%d -> %d", id, user, e, code);
}

/* Waits until edge e answers want[i] for item ids[i], every i. */
static void wait_exact(int e, char ids[][16], const long long *want, int n, unsigned ms)
{
	uint64_t deadline = clock_mono_ms() + ms;
	for (int i = 0; i < n; i++) {
		long long got;
		while ((got = edge_count(e, ids[i], NULL)) != want[i]) {
			char log[32];
			snprintf(log, sizeof log, "edge%d.log", e);
			cr_assert_lt(clock_mono_ms(), deadline,
			             "edge%d: post:%s at %lld, want %lld; its log ends:\n%s", e,
			             ids[i], got, want[i], stack_tail(log));
			proc_sleep_ms(100);
		}
	}
}

static void wait_ready(int e, unsigned ms)
{
	uint64_t deadline = clock_mono_ms() + ms;
	char body[2048];
	int code;
	while ((code = proc_curl(body, sizeof body, "", S.edge_port[e], "/readyz")) != 200) {
		cr_assert_lt(clock_mono_ms(), deadline, "edge%d never ready again: %d %s", e, code,
		             body);
		proc_sleep_ms(100);
	}
}

/* No daemon's log holds a librdkafka assertion, and each still runs. */
static void assert_no_crash(void)
{
	const char *logs[] = {"central.log", "edge0.log", "edge1.log"};
	for (size_t i = 0; i < sizeof logs / sizeof logs[0]; i++)
		cr_expect_not(stack_file_has(logs[i], "Assertion"), "%s:\n%s", logs[i],
		              stack_tail(logs[i]));
	cr_assert(proc_alive(S.central_pid), "central died:\n%s", stack_tail("central.log"));
	for (int e = 0; e < S.nedges; e++)
		cr_assert(proc_alive(S.edge_pid[e]), "edge%d died", e);
}

/* Likes items r0.. at both edges (item i gets i % 3 + 1) into truth. */
static void first_likes(char ids[][16], long long *truth)
{
	const char *users[] = {"ann", "bob", "cy"};
	for (int i = 0; i < NITEMS; i++) {
		snprintf(ids[i], 16, "r%d", i);
		truth[i] = i % 3 + 1;
		for (int u = 0; u < truth[i]; u++)
			like((i + u) % 2, ids[i], users[u]);
	}
	for (int e = 0; e < S.nedges; e++)
		wait_exact(e, ids, truth, NITEMS, 30000);
}

/* (a), with the daemons started again in the given order. */
static void new_broker_old_stores(bool edges_first)
{
	char ids[NITEMS + 2][16];
	long long truth[NITEMS + 2], vmax = 0;
	first_likes(ids, truth);
	for (int e = 0; e < S.nedges; e++)
		for (int i = 0; i < NITEMS; i++) {
			long long v = -1;
			edge_count(e, ids[i], &v);
			if (v > vmax)
				vmax = v;
		}
	cr_assert_gt(vmax, 0, "counts answered with a version");

	/* Everything stops; the broker's log is gone with it. */
	for (int e = 0; e < S.nedges; e++) {
		char log[32];
		snprintf(log, sizeof log, "edge%d.log", e);
		int st = proc_stop(S.edge_pid[e], SIGTERM);
		cr_assert_eq(st, 0, "edge%d stops cleanly (wait status %d): %s", e, st,
		             stack_log_tail(log));
	}
	int st = proc_stop(S.central_pid, SIGTERM);
	cr_assert_eq(st, 0, "central stops cleanly (wait status %d): %s", st,
	             stack_log_tail("central.log"));
	proc_stop(S.broker_pid, SIGKILL);
	stack_start_broker();
	if (!edges_first)
		stack_start_central();
	for (int e = 0; e < S.nedges; e++)
		stack_start_edge(e);
	if (edges_first) {
		/* Writes go on without central: recorded, answered at once. */
		like(0, ids[0], "early");
		truth[0]++;
		stack_start_central();
	}

	/* More likes: new pairs on old items and new items, both edges. */
	like(1, ids[1], "dee");
	truth[1]++;
	like(0, ids[2], "dee");
	truth[2]++;
	for (int i = NITEMS; i < NITEMS + 2; i++) {
		snprintf(ids[i], sizeof ids[i], "n%d", i);
		truth[i] = 1;
		like(i % 2, ids[i], "eve");
	}
	for (int e = 0; e < S.nedges; e++) {
		wait_ready(e, 30000);
		wait_exact(e, ids, truth, NITEMS + 2, 30000);
	}
	cr_expect(stack_file_has("central.log", "input offsets went backwards"),
	          "central says it starts a new epoch:\n%s", stack_tail("central.log"));
	/* Counts that changed since carry versions of the new epoch. */
	int changed[] = {1, 2, NITEMS, NITEMS + 1};
	for (int e = 0; e < S.nedges; e++)
		for (size_t k = 0; k < sizeof changed / sizeof changed[0]; k++) {
			long long v = -1;
			edge_count(e, ids[changed[k]], &v);
			cr_expect_gt(v, vmax, "edge%d post:%s version %lld, before %lld", e,
			             ids[changed[k]], v, vmax);
		}
	assert_no_crash();
}

Test(recover, a_new_empty_broker_under_old_stores_edges_first)
{
	new_broker_old_stores(true);
}

Test(recover, a_new_empty_broker_under_old_stores_central_first)
{
	new_broker_old_stores(false);
}

/* The stack's bootstrap servers, from the broker's file. */
static void bootstraps(char *out, size_t cap)
{
	char path[512];
	snprintf(path, sizeof path, "%s/bootstrap", S.dir);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	cr_assert_not_null(fgets(out, (int)cap, f));
	fclose(f);
	out[strcspn(out, "\r\n")] = 0;
}

Test(recover, an_edge_away_past_the_snapshot_retention)
{
	char ids[NITEMS + 2][16];
	long long truth[NITEMS + 2];
	first_likes(ids, truth);
	int64_t held[NPARTS];
	char bs[512];
	bootstraps(bs, sizeof bs);
	rd_kafka_t *prod = kafka_util_new_producer(bs);
	for (int32_t p = 0; p < NPARTS; p++) {
		int64_t lo, hi;
		cr_assert_eq(rd_kafka_query_watermark_offsets(prod, SNAPSHOTS, p, &lo, &hi, 5000),
		             RD_KAFKA_RESP_ERR_NO_ERROR);
		held[p] = hi;
		cr_assert_eq(lo, 0, "nothing dropped yet");
	}
	cr_assert_eq(proc_stop(S.edge_pid[1], SIGTERM), 0);

	/* Large messages push the partitions' first offsets past everything
	 * edge1 read. (edge0 reads them too and refuses them: undecodable.) */
	char *junk = malloc(JUNK_BYTES + 1);
	cr_assert_not_null(junk);
	memset(junk, 'j', JUNK_BYTES);
	junk[JUNK_BYTES] = 0;
	for (int32_t p = 0; p < NPARTS; p++)
		for (int k = 0; k < JUNK_PER_PART; k++) {
			delivery d;
			kafka_util_produce(prod, SNAPSHOTS, p, junk, &d);
			cr_assert(kafka_util_wait_delivery(prod, &d, 20000),
			          "junk %d to partition %d", k, p);
			cr_assert_eq(d.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s",
			             rd_kafka_err2str(d.err));
		}
	free(junk);
	for (int32_t p = 0; p < NPARTS; p++) {
		int64_t lo, hi;
		cr_assert_eq(rd_kafka_query_watermark_offsets(prod, SNAPSHOTS, p, &lo, &hi, 5000),
		             RD_KAFKA_RESP_ERR_NO_ERROR);
		cr_assert_gt(lo, held[p],
		             "partition %d: the broker dropped what edge1 held "
		             "(low %lld, edge1 at %lld)",
		             p, (long long)lo, (long long)held[p]);
	}
	kafka_util_destroy_clients(&prod, NULL);

	/* Likes go on at edge0 while edge1 is away: new and old items. */
	like(0, ids[0], "dee");
	truth[0]++;
	for (int i = NITEMS; i < NITEMS + 2; i++) {
		snprintf(ids[i], sizeof ids[i], "n%d", i);
		truth[i] = 1;
		like(0, ids[i], "eve");
	}
	wait_exact(0, ids, truth, NITEMS + 2, 30000);

	stack_start_edge(1);
	wait_ready(1, 30000);
	wait_exact(1, ids, truth, NITEMS + 2, 30000);
	cr_expect(stack_file_has("edge1.log", "snapshot resume offset no longer in the topic"),
	          "edge1 says why it reloads:\n%s", stack_tail("edge1.log"));
	static char text[256 * 1024];
	cr_assert_eq(proc_curl(text, sizeof text, "", S.edge_port[1], "/metrics"), 200);
	cr_assert_eq(prom_util_get(text, "likes_edge_readthrough_counts_total"), 0,
	             "every count came from the reloaded replica");
	assert_no_crash();
}
