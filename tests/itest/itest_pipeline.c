/* itest_pipeline.c - the whole pipeline with real processes: the
 * embedded broker (build/sim broker), central and two edges on loopback.
 * Each test starts its own stack in a fresh temp dir and stops it, by
 * PID, in .fini. Truth is what was acknowledged; every check waits for
 * convergence with a deadline.
 */
#include <criterion/criterion.h>
#include <pthread.h>

#include "tests/support/stack.h"

#define NPARTS 2

static void setup(void)
{
	stack_up(2, NPARTS, 200);
}

TestSuite(pipeline, .init = setup, .fini = stack_down, .timeout = 240);

/* --- truth ---------------------------------------------------------------- */

#define NITEMS 12
#define NUSERS 8

static const char *users[NUSERS] = {"user0", "user1", "user2",  "user3",
                                    "user4", "user5", "roamer", "roamer2"};
static bool truth[NITEMS][NUSERS];
static unsigned long acked;

/* Sends one like or unlike and retries until it is answered: an op whose
 * answer was lost (edge killed, 503) is retried until it gets one.
 * Returns the final status; safe off the test's main thread. */
static int act_try(int edge, bool add, int item, int u)
{
	char path[128], body[512];
	snprintf(path, sizeof path, "/v1/items/post/i%d/likes", item);
	int code;
	uint64_t deadline = clock_mono_ms() + 60000;
	while ((code = proc_http(add ? "POST" : "DELETE", S.edge_port[edge], path, users[u], body,
	                         sizeof body)) < 0 ||
	       code == 503) {
		if (clock_mono_ms() > deadline)
			return -1;
		proc_sleep_ms(50);
	}
	if (code == 200) {
		truth[item][u] = add;
		acked++;
	}
	return code;
}

static void act(int edge, bool add, int item, int u)
{
	int code = act_try(edge, add, item, u);
	cr_assert_eq(code, 200, "%s item i%d by %s at edge%d -> %d", add ? "POST" : "DELETE", item,
	             users[u], edge, code);
}

static long long central_count(int item)
{
	char out[1024];
	if (proc_capture(out, sizeof out,
	                 "curl -s -m 5 'http://127.0.0.1:%d/v1/items/post/i%d/likes'", S.ops_port,
	                 item))
		return -1;
	return proc_json_num(out, "count");
}

static long long edge_count(int edge, int item)
{
	char path[128], body[512];
	snprintf(path, sizeof path, "/v1/items/post/i%d/likes", item);
	if (proc_http("GET", S.edge_port[edge], path, NULL, body, sizeof body) != 200)
		return -1;
	return proc_json_num(body, "count");
}

static int expected(int item)
{
	int n = 0;
	for (int u = 0; u < NUSERS; u++)
		n += truth[item][u];
	return n;
}

/* Waits until central and both edges show the truth for every item. */
static void assert_converged(unsigned timeout_ms)
{
	uint64_t start = clock_mono_ms(), deadline = start + timeout_ms;
	for (;;) {
		int bad = -1;
		long long c = 0, e0 = 0, e1 = 0;
		for (int i = 0; i < NITEMS && bad < 0; i++) {
			c = central_count(i);
			e0 = edge_count(0, i);
			e1 = edge_count(1, i);
			if (c != expected(i) || e0 != expected(i) || e1 != expected(i))
				bad = i;
		}
		if (bad < 0)
			break;
		if (clock_mono_ms() > deadline)
			cr_assert_fail("item i%d: truth %d, central %lld, edge0 %lld, edge1 %lld",
			               bad, expected(bad), c, e0, e1);
		proc_sleep_ms(200);
	}
	cr_log_info("%lu ops acknowledged; converged %llu ms after the last one", acked,
	            (unsigned long long)(clock_mono_ms() - start));
}

static void like_table(void)
{
	for (int i = 0; i < NITEMS; i++)
		for (int u = 0; u < 6; u++)
			if ((i + u) % 3 != 0)
				act((i + u) % 2, true, i, u);
}

Test(pipeline, likes_and_unlikes_from_both_edges_converge_to_the_truth)
{
	like_table();
	act(0, true, 1, 1); /* a repeat: a no-op that still answers 200 */
	act(1, true, 1, 1);
	/* Like at one edge, unlike at the other: unliked everywhere. */
	act(0, true, 0, 6);
	act(1, false, 0, 6);
	/* The other way round, then liked again at the first edge. */
	act(1, true, 3, 7);
	act(0, false, 3, 7);
	act(1, true, 3, 7);
	/* Everybody unlikes i5, each at the edge they did not like it at. */
	for (int u = 0; u < 6; u++)
		if (truth[5][u])
			act(1 - (5 + u) % 2, false, 5, u);
	cr_assert_eq(expected(5), 0);
	assert_converged(30000);
}

static int flow_failure;

static void *flow(void *arg)
{
	int edge = *(int *)arg;
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < NITEMS; i++)
			for (int u = 0; u < 6; u++) {
				int code = act_try(edge, (i + u + round) % 2 == 0, i, u);
				if (code != 200 && !flow_failure)
					flow_failure = code;
			}
	return NULL;
}

Test(pipeline, edge_killed_while_likes_flow_loses_and_doubles_nothing)
{
	like_table();
	int edge = 0;
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, flow, &edge), 0);
	proc_sleep_ms(1500);
	cr_log_info("killing edge0 (SIGKILL) after %lu acknowledged ops", acked);
	proc_stop(S.edge_pid[0], SIGKILL);
	proc_sleep_ms(300);
	stack_start_edge(0);
	pthread_join(t, NULL);
	cr_assert_eq(flow_failure, 0, "an op during the kill ended with %d", flow_failure);
	assert_converged(30000);
}

/* --- central down while the broker drops the oldest batches --------------- */

#define BULK_ITEMS 8000
#define BULK_USERS 12

/* Likes BULK_ITEMS items as one long-named user per h2load run, so the
 * batch topic fills past the mock broker's ~5 MiB per partition. */
static void bulk_likes(int edge, int u)
{
	char uris[512], empty[512], out[8192];
	snprintf(uris, sizeof uris, "%s/uris%d", S.dir, edge);
	snprintf(empty, sizeof empty, "%s/body", S.dir);
	struct stat st;
	if (stat(uris, &st) != 0) {
		FILE *f = fopen(uris, "w");
		cr_assert(f);
		for (int i = 0; i < BULK_ITEMS; i++)
			fprintf(f, "http://127.0.0.1:%d/v1/items/post/bulk%d/likes\n",
			        S.edge_port[edge], i);
		fclose(f);
		f = fopen(empty, "w"); /* h2load cannot post an empty file */
		cr_assert(f);
		fputs("{}", f);
		fclose(f);
	}
	int rc =
	    proc_capture(out, sizeof out,
	                 "h2load -n %d -c 1 -m 32 -i '%s' -d '%s' -H 'X-User-Id: bulk-user-%02d-"
	                 "%0100d' 2>&1",
	                 BULK_ITEMS, uris, empty, u, u);
	cr_assert_eq(rc, 0, "h2load failed: %s", out);
	char want[64];
	snprintf(want, sizeof want, "%d 2xx", BULK_ITEMS);
	cr_assert(strstr(out, want), "not every bulk like was acknowledged: %s", out);
	acked += BULK_ITEMS;
}

static long long central_total(void)
{
	char out[1024];
	if (proc_capture(out, sizeof out, "curl -s -m 10 'http://127.0.0.1:%d/v1/totals/likes'",
	                 S.ops_port))
		return -1;
	return proc_json_num(out, "sum");
}

Test(pipeline, central_down_while_broker_drops_batches_then_recovers_exactly)
{
	like_table();
	assert_converged(30000);
	int status = proc_stop(S.central_pid, SIGTERM);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "central did not stop cleanly");
	uint64_t t0 = clock_mono_ms();
	for (int u = 0; u < BULK_USERS; u++)
		bulk_likes(u % 2, u);
	cr_log_info("%d bulk likes acknowledged in %llu ms while central was down",
	            BULK_ITEMS * BULK_USERS, (unsigned long long)(clock_mono_ms() - t0));
	/* Let the edges seal and produce everything before central returns. */
	proc_sleep_ms(2000);
	stack_start_central();
	long long want = (long long)BULK_ITEMS * BULK_USERS;
	for (int i = 0; i < NITEMS; i++)
		want += expected(i);
	uint64_t start = clock_mono_ms(), deadline = start + 180000;
	long long got;
	while ((got = central_total()) != want) {
		cr_assert(clock_mono_ms() < deadline, "central total %lld, truth %lld", got, want);
		cr_assert(proc_alive(S.central_pid), "central died; its log ends:\n%s",
		          stack_tail("central.log"));
		proc_sleep_ms(500);
	}
	cr_log_info("central total %lld reached the truth %llu ms after restart", got,
	            (unsigned long long)(clock_mono_ms() - start));
	cr_assert(stack_file_has("central.log", "input offset out of range"),
	          "the broker was expected to drop batches while central was down");
	assert_converged(30000);
	for (int i = 0; i < BULK_ITEMS; i += BULK_ITEMS / 16) {
		char path[128], body[512];
		snprintf(path, sizeof path, "/v1/items/post/bulk%d/likes", i);
		for (int e = 0; e < 2; e++) {
			uint64_t d = clock_mono_ms() + 30000;
			long long c = -1;
			while (proc_http("GET", S.edge_port[e], path, NULL, body, sizeof body) !=
			           200 ||
			       (c = proc_json_num(body, "count")) != BULK_USERS) {
				cr_assert(clock_mono_ms() < d,
				          "edge%d shows %lld for bulk%d, truth %d", e, c, i,
				          BULK_USERS);
				proc_sleep_ms(200);
			}
		}
	}
}
