/* itest_shard.c - central sharded by partition, with the real binaries:
 * the embedded broker, two centrals owning partitions 0-1 and 2-3 of 4,
 * and two edges. Likes flow through; each central applies and answers
 * only for its partitions (421 for the others), and the union of their
 * counts equals the likes sent. A third central on the first one's
 * data_dir is refused with a clear reason, and so is a bad partition
 * list. Then a live `central backup` of a shard, and a central started
 * on the backup (a replica with its own ops port) catches up from Kafka
 * to the same per-partition digests as the original. Last, two shards one
 * of which has a replica: the replica's digests equal its primary's, the
 * primary is killed mid-run, and every edge still converges on the truth
 * from the replica's snapshots, the live instances counting every like.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <sys/wait.h>

#include "partition.h"
#include "tests/support/stack.h"

#define NPARTS 4
#define TOKEN "itest-shard-token"
#define NITEMS 12

/* The ops ports of the other instances the tests start: shard B (2-3)
 * and a second instance of shard A (0-1: a replica, or one restored
 * from a backup). */
static int port_b, port_a2;

/* The stack's central is shard A's primary. The edges' shard map names
 * every instance a test may start, as a deployment's would: an edge
 * with an empty store learns its batch sequence of each partition from
 * that partition's owner (its checkpoint) before it sends any. */
static void setup(void)
{
	S.central_extra = "ops_token = " TOKEN "\npartitions = 0-1\n";
	S.edge_extra = "[central]\ntoken = " TOKEN "\n";
	stack_up(0, NPARTS, 200);
	port_b = proc_free_port();
	port_a2 = proc_free_port();
	char ops[128];
	snprintf(ops, sizeof ops, "0-1=127.0.0.1:%d|127.0.0.1:%d;2-3=127.0.0.1:%d", S.ops_port,
	         port_a2, port_b);
	S.nedges = 2;
	for (int i = 0; i < S.nedges; i++) {
		S.edge_port[i] = proc_free_port();
		stack_write_edge(i, ops);
		stack_start_edge(i);
	}
}

TestSuite(shard, .init = setup, .fini = stack_down, .timeout = 240);

/* Writes NAME: a central with id, data dir, owned partitions and port. */
static void write_central(const char *name, const char *id, const char *data_dir, const char *parts,
                          int port)
{
	stack_write(
	    name,
	    "[central]\nid = %s\ndata_dir = %s\nsnapshot_interval_ms = 200\n"
	    "ops_listen = 127.0.0.1:%d\nops_token = " TOKEN "\npartitions = %s\n"
	    "[bus]\nbootstrap_file = %s/bootstrap\n[topics]\npartitions = %d\n"
	    "[kafka.consumer]\nfetch.wait.max.ms = 10\n[kafka.producer]\ncompression.type = none\n",
	    id, data_dir, port, parts, S.dir, NPARTS);
}

static void like(int edge, const char *id, const char *user)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/items/post/%s/likes", id);
	uint64_t deadline = clock_mono_ms() + 30000;
	int code;
	while ((code = proc_http("POST", S.edge_port[edge], path, user, NULL, 0)) != 200) {
		cr_assert_lt(clock_mono_ms(), deadline, "like %s by %s -> %d", id, user, code);
		proc_sleep_ms(50);
	}
}

/* GET path at a central's ops API: the status, the body in out. */
static int ops_get(int port, const char *path, char *out, size_t cap)
{
	return proc_curl(out, cap, "-H 'Authorization: Bearer " TOKEN "'", port, path);
}

/* Waits (30 s) until port (central's ops API, with the token) answers
 * want for post:id's likes. */
static void wait_count(int port, const char *id, long long want)
{
	stack_wait_likes(port, "-H 'Authorization: Bearer " TOKEN "'", id, want);
}

static uint32_t part_of(const char *id)
{
	char item[320];
	snprintf(item, sizeof item, "post:%s", id);
	return partition_of(item, strlen(item), NPARTS);
}

/* The "partitions" member of GET path as compact JSON (malloc'ed). */
static char *partitions_json(int port, const char *path)
{
	static char out[65536];
	cr_assert_eq(ops_get(port, path, out, sizeof out), 200, "%s: %s", path, out);
	json_t *j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "%s: %s", path, out);
	char *s = json_dumps(json_object_get(j, "partitions"), JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

Test(shard, two_shards_split_the_partitions_and_together_count_everything)
{
	int port2 = port_b;
	char dir2[512];
	snprintf(dir2, sizeof dir2, "%s/central2", S.dir);
	write_central("central2.ini", "c2", dir2, "2-3", port2);
	pid_t c2 = stack_spawn_central("central2.ini", "central2.log", port2);

	long long truth[NITEMS], total = 0;
	bool seen[NPARTS] = {false};
	const char *users[3] = {"ann", "bob", "cy"};
	for (int i = 0; i < NITEMS; i++) {
		char id[16];
		snprintf(id, sizeof id, "s%d", i);
		truth[i] = i % 3 + 1;
		total += truth[i];
		seen[part_of(id)] = true;
		for (int u = 0; u < truth[i]; u++)
			like((i + u) % 2, id, users[u]);
	}
	cr_assert(seen[0] || seen[1], "some items on the first shard");
	cr_assert(seen[2] || seen[3], "some items on the second shard");
	for (int i = 0; i < NITEMS; i++) {
		char id[16], out[2048], path[128];
		snprintf(id, sizeof id, "s%d", i);
		bool first = part_of(id) < 2;
		wait_count(first ? S.ops_port : port2, id, truth[i]);
		snprintf(path, sizeof path, "/v1/items/post/%s/likes", id);
		int code = ops_get(first ? port2 : S.ops_port, path, out, sizeof out);
		cr_expect_eq(code, 421, "the other shard answers post:%s with %d %s", id, code,
		             out);
		cr_expect_not_null(strstr(out, "not_owner"), "%s", out);
	}
	/* The union of the shards' counts is the truth. */
	char out[65536];
	cr_assert_eq(ops_get(S.ops_port, "/v1/totals/likes", out, sizeof out), 200);
	long long sum1 = proc_json_num(out, "sum");
	cr_assert_eq(ops_get(port2, "/v1/totals/likes", out, sizeof out), 200);
	long long sum2 = proc_json_num(out, "sum");
	cr_expect_eq(sum1 + sum2, total, "%lld + %lld", sum1, sum2);

	/* Each applies, tracks and reports only its own partitions. */
	char *p1 = partitions_json(S.ops_port, "/v1/stats");
	char *p2 = partitions_json(port2, "/v1/stats");
	cr_expect(strstr(p1, "\"partition\":0,") && strstr(p1, "\"partition\":1,") &&
	              !strstr(p1, "\"partition\":2,") && !strstr(p1, "\"partition\":3,"),
	          "%s", p1);
	cr_expect(strstr(p2, "\"partition\":2,") && strstr(p2, "\"partition\":3,") &&
	              !strstr(p2, "\"partition\":0,") && !strstr(p2, "\"partition\":1,"),
	          "%s", p2);
	free(p1);
	free(p2);
	cr_assert_eq(ops_get(S.ops_port, "/v1/stats", out, sizeof out), 200);
	json_t *j = json_loads(out, 0, NULL);
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(j, "applied"), i, a)
	{
		cr_expect_lt(json_integer_value(json_object_get(a, "partition")), 2, "%s", out);
	}
	json_decref(j);

	/* A third central on the first one's store is refused, loudly. */
	int port3 = proc_free_port();
	char dir1[512], log[512];
	snprintf(dir1, sizeof dir1, "%s/central", S.dir);
	write_central("central3.ini", "c3", dir1, "0-1", port3);
	snprintf(log, sizeof log, "%s/central3.log", S.dir);
	char cfg[512];
	snprintf(cfg, sizeof cfg, "%s/central3.ini", S.dir);
	char *argv[] = {"build/central", "-c", cfg, NULL};
	pid_t c3 = proc_spawn(log, argv);
	uint64_t deadline = clock_mono_ms() + 30000;
	int status = 0;
	while (waitpid(c3, &status, WNOHANG) == 0) {
		cr_assert_lt(clock_mono_ms(), deadline,
		             "a second central on one store kept running");
		proc_sleep_ms(50);
	}
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	cr_expect(stack_file_has("central3.log", "is in use by another process (another central "
	                                         "on the same data_dir?)"),
	          "%s", stack_tail("central3.log"));
	cr_expect(proc_alive(S.central_pid), "the first central runs on");

	/* A partition list out of range stops start-up with the reason. */
	char dir4[512];
	snprintf(dir4, sizeof dir4, "%s/central4", S.dir);
	write_central("central4.ini", "c4", dir4, "0-9", proc_free_port());
	cr_expect_neq(proc_capture(out, sizeof out, "build/central -c %s/central4.ini 2>&1", S.dir),
	              0);
	cr_expect_not_null(strstr(out, "out of range"), "%s", out);
	proc_stop(c2, SIGTERM);
}

Test(shard, a_central_started_on_a_live_backup_catches_up_to_the_same_digests)
{
	/* Items of the first shard's partitions only. */
	char ids[8][16];
	int n = 0;
	for (int i = 0; n < 8; i++) {
		snprintf(ids[n], sizeof ids[n], "b%d", i);
		if (part_of(ids[n]) < 2)
			n++;
	}
	for (int i = 0; i < 4; i++) {
		like(0, ids[i], "ann");
		like(1, ids[i], "bob");
	}
	for (int i = 0; i < 4; i++)
		wait_count(S.ops_port, ids[i], 2);

	char bk[512], out[8192];
	snprintf(bk, sizeof bk, "%s/backup", S.dir);
	int rc = proc_capture(out, sizeof out,
	                      "build/central backup -c %s/central.ini --to %s 2>&1", S.dir, bk);
	cr_assert_eq(rc, 0, "%s", out);
	cr_expect_not_null(strstr(out, "backup dir="), "%s", out);
	cr_expect_not_null(strstr(out, "offset partition=1 "), "%s", out);
	/* The same dir again: refused, exit 3 (the ops API says 409). */
	cr_expect_eq(proc_capture(out, sizeof out,
	                          "build/central backup -c %s/central.ini --to %s 2>&1", S.dir, bk),
	             3, "%s", out);
	cr_expect_eq(proc_capture(out, sizeof out,
	                          "build/central backup -c %s/central.ini --to rel/dir 2>&1",
	                          S.dir),
	             2, "%s", out);

	/* More likes after the backup: the restored shard reads them from Kafka. */
	for (int i = 2; i < 8; i++)
		like(i % 2, ids[i], "cy");
	for (int i = 2; i < 8; i++)
		wait_count(S.ops_port, ids[i], i < 4 ? 3 : 1);

	int rport = port_a2;
	write_central("replica.ini", "c1-restored", bk, "0-1", rport);
	pid_t r = stack_spawn_central("replica.ini", "replica.log", rport);
	for (int i = 0; i < 8; i++)
		wait_count(rport, ids[i], i < 2 ? 2 : i < 4 ? 3 : 1);
	uint64_t deadline = clock_mono_ms() + 30000;
	char *want = partitions_json(S.ops_port, "/v1/digest");
	char *got = NULL;
	for (;;) {
		free(got);
		got = partitions_json(rport, "/v1/digest");
		if (strcmp(want, got) == 0)
			break;
		cr_assert_lt(clock_mono_ms(), deadline, "digests differ:\n%s\n%s", want, got);
		proc_sleep_ms(100);
	}
	cr_expect_not_null(strstr(want, "\"partition\":1"), "%s", want);
	free(want);
	free(got);
	proc_stop(r, SIGTERM);
}

/* The likes count of post:id as edge e answers it; -1 unless 200. */
static long long edge_count(int e, const char *id)
{
	char out[2048], path[320];
	snprintf(path, sizeof path, "/v1/items/post/%s/likes", id);
	if (proc_curl(out, sizeof out, "", S.edge_port[e], path) != 200)
		return -1;
	return proc_json_num(out, "count");
}

Test(shard, the_replica_takes_over_when_the_primary_shard_dies)
{
	/* Shard A (0-1): the stack's central and a replica; shard B (2-3). */
	int bport = port_b, rport = port_a2;
	char bdir[512], rdir[512];
	snprintf(bdir, sizeof bdir, "%s/central-b", S.dir);
	snprintf(rdir, sizeof rdir, "%s/central-a2", S.dir);
	write_central("central-b.ini", "cb", bdir, "2-3", bport);
	write_central("central-a2.ini", "ca2", rdir, "0-1", rport);
	pid_t b = stack_spawn_central("central-b.ini", "central-b.log", bport);
	pid_t r = stack_spawn_central("central-a2.ini", "central-a2.log", rport);

	enum { N = 16 };
	long long truth[N] = {0};
	const char *users[4] = {"ann", "bob", "cy", "dee"};
	char ids[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(ids[i], sizeof ids[i], "f%d", i);
		for (int u = 0; u < i % 3 + 1; u++, truth[i]++)
			like((i + u) % 2, ids[i], users[u]);
	}
	/* Both instances of shard A reach the same per-partition state. */
	for (int i = 0; i < N; i++)
		if (part_of(ids[i]) < 2)
			wait_count(rport, ids[i], truth[i]);
	uint64_t deadline = clock_mono_ms() + 30000;
	char *a = NULL, *a2 = NULL;
	for (;;) {
		free(a);
		free(a2);
		a = partitions_json(S.ops_port, "/v1/digest");
		a2 = partitions_json(rport, "/v1/digest");
		if (strcmp(a, a2) == 0)
			break;
		cr_assert_lt(clock_mono_ms(), deadline, "replica digests differ:\n%s\n%s", a, a2);
		proc_sleep_ms(100);
	}
	cr_expect_not_null(strstr(a, "\"partition\":0"), "%s", a);
	free(a);
	free(a2);

	/* The primary dies; likes go on, on every partition. */
	proc_stop(S.central_pid, SIGKILL);
	S.central_pid = 0;
	for (int i = 0; i < N; i++) {
		like(i % 2, ids[i], "eve");
		truth[i]++;
	}
	/* Every edge converges on the truth from the replica's and shard B's
	 * snapshots (no read-through needed: both edges saw every item). */
	deadline = clock_mono_ms() + 60000;
	for (int e = 0; e < 2; e++)
		for (int i = 0; i < N; i++) {
			long long got;
			while ((got = edge_count(e, ids[i])) != truth[i]) {
				cr_assert_lt(clock_mono_ms(), deadline,
				             "edge %d: post:%s at %lld, truth %lld (partition %u)",
				             e, ids[i], got, truth[i], part_of(ids[i]));
				proc_sleep_ms(100);
			}
		}
	/* And the live instances together count every like. */
	long long total = 0;
	for (int i = 0; i < N; i++)
		total += truth[i];
	char out[8192];
	cr_assert_eq(ops_get(rport, "/v1/totals/likes", out, sizeof out), 200);
	long long s1 = proc_json_num(out, "sum");
	cr_assert_eq(ops_get(bport, "/v1/totals/likes", out, sizeof out), 200);
	long long s2 = proc_json_num(out, "sum");
	cr_expect_eq(s1 + s2, total, "%lld + %lld", s1, s2);
	proc_stop(r, SIGTERM);
	proc_stop(b, SIGTERM);
}
