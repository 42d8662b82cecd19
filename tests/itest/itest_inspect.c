/* itest_inspect.c - `edge inspect` with real processes: the embedded
 * broker, central and one edge on loopback (stack.h). Live, the command
 * shows the batches that pile up while central is stopped and none once
 * central has applied them; --offline is refused (exit 3) while the edge
 * holds its store and, once the edge stopped, shows what the live
 * command said last. Each test starts its own stack and stops it by PID.
 */
#include <criterion/criterion.h>
#include <jansson.h>

#include "tests/support/stack.h"

#define NPARTS 2

static void setup(void)
{
	stack_up(1, NPARTS, 200);
}

TestSuite(inspect, .init = setup, .fini = stack_down, .timeout = 180);

static char out[65536];

/* Runs build/edge inspect on edge 0's config with args; stdout in out
 * (stderr too with both). Returns the exit code. */
static int run(const char *args, bool both)
{
	return proc_capture(out, sizeof out, "build/edge inspect -c '%s/edge0.ini' %s %s", S.dir,
	                    args, both ? "2>&1" : "2>/dev/null");
}

/* The live or offline JSON, parsed; NULL when the command failed. */
static json_t *inspect(bool offline)
{
	if (run(offline ? "--json --offline" : "--json", false) != 0)
		return NULL;
	json_t *j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "not JSON: %s", out);
	return j;
}

static long long total(json_t *j, const char *k)
{
	json_t *v = json_object_get(json_object_get(j, "totals"), k);
	cr_assert(json_is_integer(v), "totals.%s", k);
	return json_integer_value(v);
}

static long long pnum(json_t *j, int p, const char *k)
{
	json_t *v = json_object_get(json_array_get(json_object_get(j, "partitions"), p), k);
	cr_assert(json_is_integer(v), "partitions[%d].%s", p, k);
	return json_integer_value(v);
}

static void like(int item, const char *user)
{
	char path[64];
	snprintf(path, sizeof path, "/v1/items/post/n%d/likes", item);
	int code = proc_http("POST", S.edge_port[0], path, user, NULL, 0);
	cr_assert_eq(code, 200, "like of post:n%d by %s -> %d", item, user, code);
}

/* Waits until the live answer has want pending batches (-1: any above
 * 0) and no open op; returns it. */
static json_t *wait_pending(long long want, unsigned ms)
{
	uint64_t deadline = clock_mono_ms() + ms;
	for (;;) {
		json_t *j = inspect(false);
		cr_assert_not_null(j, "edge inspect failed live");
		long long n = total(j, "pending_batches");
		if (total(j, "pending_ops") == 0 && (want < 0 ? n > 0 : n == want))
			return j;
		cr_assert(clock_mono_ms() < deadline,
		          "pending_batches=%lld pending_ops=%lld, want %lld", n,
		          total(j, "pending_ops"), want);
		json_decref(j);
		proc_sleep_ms(100);
	}
}

/* Central stopped, ops written and sealed: the live answer's batches. */
static json_t *backlog(void)
{
	like(0, "warm");
	json_decref(wait_pending(0, 20000));
	cr_assert_eq(proc_stop(S.central_pid, SIGTERM), 0);
	S.central_pid = 0;
	char user[16];
	for (int i = 0; i < 12; i++) {
		snprintf(user, sizeof user, "u%d", i);
		like(i % 5, user);
	}
	return wait_pending(-1, 10000);
}

Test(inspect, live_shows_the_backlog_while_central_is_stopped_and_none_after)
{
	json_t *j = backlog();
	cr_assert_str_eq(json_string_value(json_object_get(j, "edge")), "edge0");
	long long sealed = 0;
	for (int p = 0; p < NPARTS; p++) {
		sealed += pnum(j, p, "sealed_batches");
		if (pnum(j, p, "sealed_batches"))
			cr_assert_gt(pnum(j, p, "seq_hi"), pnum(j, p, "applied_seq"));
	}
	cr_assert_eq(sealed, total(j, "pending_batches"));
	cr_assert_geq(total(j, "kafka_in_flight"), 0, "live answers carry the producer queue");
	json_decref(j);

	/* The table. */
	cr_assert_eq(run("", false), 0);
	cr_assert(strstr(out, "edge edge0  region r0  partitions 2  (live)"), "%s", out);
	cr_assert(strstr(out, "total: pending_ops=0 pending_batches="), "%s", out);

	/* The edge holds the store: --offline says so. */
	cr_assert_eq(run("--offline", true), 3, "%s", out);
	cr_assert(strstr(out, "the store is locked: is the edge running? use it without --offline"),
	          "%s", out);

	stack_start_central();
	j = wait_pending(0, 30000);
	for (int p = 0; p < NPARTS; p++) {
		cr_assert_eq(pnum(j, p, "sealed_batches"), 0);
		cr_assert_eq(pnum(j, p, "applied_seq"), pnum(j, p, "last_seq"),
		             "central confirmed every batch of partition %d", p);
		cr_assert_gt(pnum(j, p, "snapshot_version"), 0);
	}
	json_decref(j);
}

Test(inspect, offline_after_the_stop_agrees_with_the_last_live_answer)
{
	json_t *live = backlog();
	cr_assert_eq(proc_stop(S.edge_pid[0], SIGTERM), 0, "a clean stop");
	S.edge_pid[0] = 0;
	json_t *off = inspect(true);
	cr_assert_not_null(off, "edge inspect --offline failed");
	cr_assert_eq(total(off, "pending_batches"), total(live, "pending_batches"));
	cr_assert_eq(total(off, "pending_bytes"), total(live, "pending_bytes"));
	cr_assert_eq(total(off, "pending_ops"), 0);
	cr_assert_null(json_object_get(json_object_get(off, "totals"), "kafka_in_flight"));
	static const char *same[] = {"sealed_batches", "sealed_bytes", "seq_lo",          "seq_hi",
	                             "last_seq",       "applied_seq",  "snapshot_version"};
	for (int p = 0; p < NPARTS; p++)
		for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
			cr_assert_eq(pnum(off, p, same[i]), pnum(live, p, same[i]),
			             "partition %d %s", p, same[i]);
	json_decref(live);
	json_decref(off);
	cr_assert_eq(run("--offline", false), 0);
	cr_assert(strstr(out, "(offline, from the store)"), "%s", out);
}

Test(inspect, usage_and_unreachable_exit_codes)
{
	cr_assert_eq(proc_capture(out, sizeof out, "build/edge inspect 2>&1"), 2, "%s", out);
	cr_assert(strstr(out, "usage: edge inspect"), "%s", out);
	cr_assert_eq(run("--bogus", true), 2, "%s", out);
	cr_assert_eq(run("-s edge.nope=1", true), 2, "%s", out);
	/* Nothing listens on the port: the edge cannot be reached. */
	char args[64];
	snprintf(args, sizeof args, "-s http.listen=127.0.0.1:%d", proc_free_port());
	cr_assert_eq(run(args, true), 3, "%s", out);
	cr_assert(strstr(out, "cannot reach the edge"), "%s", out);
}
