/* itest_crash.c - an edge killed at each step of a group commit, a seal,
 * a send and a confirmation loses no acknowledged op and applies none
 * twice, with the real binaries (stack.h: the embedded broker, central,
 * one edge, 4 partitions), once with the loop writing its groups and once
 * with store.sync on, where the commit thread writes them.
 *
 * The edge starts with LIKES_FAILPOINT naming one step (failpoint.h); it
 * takes /v1/ops requests of 8 views each, every view on an item of its
 * own, until the step's pass kills it with SIGKILL. Batches seal at 3 ops,
 * so seals end inside the group records the commits wrote, which other
 * partitions still hold open ops of. The edge starts again
 * without the failpoint. At once, and again once central's snapshots
 * confirmed every batch, the edge itself shows every view it
 * acknowledged once (not twice: its overlay beside a count that already
 * holds the view). It takes one more request. Then,
 * at central: every view the edge acknowledged counts exactly once (views
 * are a sum counter, so an op applied twice would show as 2), and the
 * request that was cut off counts wholly or not at all (its ops share one
 * store write).
 *
 * And an edge whose store can no longer write a byte (its file size
 * limit set to 0 from outside, with prlimit: LevelDB's log append fails,
 * then the flush of the roll that follows, and LevelDB refuses every
 * write until it is opened again) refuses views, drains and exits 1; its
 * restart holds every view it acknowledged, once.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "tests/support/prom_util.h"
#include "tests/support/stack.h"

#define NPARTS 4
#define PER_REQ 8
#define MAX_REQS 40

TestSuite(crash, .fini = stack_down, .timeout = 120);

/* One /v1/ops request of PER_REQ views, on items "reel:<req>x<k>"; the
 * status, or -1 when nothing answered. */
static int views(int req)
{
	char out[8192];
	int code = stack_views(S.edge_port[0], req, PER_REQ, out, sizeof out);
	if (code == 200)
		cr_assert(strstr(out, "\"status\":503") == NULL, "a view refused: %s", out);
	return code;
}

/* Central's views count of reel:<req>x<k>, or -1. */
static long long central_views(int req, int k)
{
	return stack_views_count(S.ops_port, false, req, k);
}

/* The edge's views count of reel:<req>x<k>, or -1. */
static long long edge_views(int req, int k)
{
	return stack_views_count(S.edge_port[0], true, req, k);
}

/* The edge shows every view of requests [0, n) once: none lost, none
 * counted twice (its own overlay beside a count that holds it too). */
static void edge_counts_once(int n, const char *when)
{
	for (int r = 0; r < n; r++)
		for (int k = 0; k < PER_REQ; k++) {
			long long c = edge_views(r, k);
			cr_assert_eq(c, 1, "%s: the edge shows reel:%dx%d at %lld; edge log:\n%s",
			             when, r, k, c, stack_tail("edge0.log"));
		}
}

/* Waits until the edge holds no batch central has not confirmed: its
 * snapshots have taken every acknowledged view out of its overlay, so
 * the counts it shows come from central's counts alone. */
static void wait_confirmed(unsigned ms)
{
	static char text[1 << 18];
	uint64_t deadline = clock_mono_ms() + ms;
	double left = -1;
	while (clock_mono_ms() < deadline) {
		if (proc_curl(text, sizeof text, "", S.edge_port[0], "/metrics") == 200 &&
		    prom_util_value(text, "likes_edge_pending_batches", &left) && left == 0)
			return;
		proc_sleep_ms(100);
	}
	cr_assert_fail("the edge still holds %.0f unconfirmed batches; edge log:\n%s", left,
	               stack_tail("edge0.log"));
}

/* Waits until central shows every view of request req counted want
 * times (want < 0: the same number, 0 or 1, for all of them); returns
 * that number. */
static long long wait_counted(int req, long long want, unsigned ms)
{
	uint64_t deadline = clock_mono_ms() + ms;
	for (;;) {
		long long first = central_views(req, 0);
		bool same = first == 0 || first == 1;
		bool done = want >= 0 ? first == want : same;
		for (int k = 1; k < PER_REQ && done; k++) {
			long long c = central_views(req, k);
			done = want >= 0 ? c == want : c == first;
		}
		if (done)
			return first;
		cr_assert_lt(
		    clock_mono_ms(), deadline,
		    "request %d: central shows reel:%dx0 at %lld, want %lld; edge log:\n%s", req,
		    req, first, want, stack_tail("edge0.log"));
		proc_sleep_ms(100);
	}
}

/* Both with store.commit_thread = auto, the default. durable: store.sync
 * on, so the writes go through the commit thread, as the shipped deploy
 * configs run; else store.sync off, so each group is written by the loop
 * that asks, the other way a group is written. The edge's log says
 * which way auto chose. */
static void crash_at(const char *point, bool durable)
{
	S.edge_batch = "max_ops = 3\nmax_age_ms = 100\nwindow_kb = 1024\n";
	S.edge_extra = durable ? "[store]\nsync = true\n" : "";
	cr_assert_eq(setenv("LIKES_FAILPOINT", point, 1), 0);
	stack_up(1, NPARTS, 100);
	cr_assert_eq(unsetenv("LIKES_FAILPOINT"), 0);
	cr_assert(
	    stack_file_has("edge0.log", durable ? "commit_thread=true" : "commit_thread=false"));

	int acked = 0, code = 0;
	while (acked < MAX_REQS && (code = views(acked)) == 200) {
		acked++;
		proc_sleep_ms(20); /* let seals, sends and snapshots happen between */
	}
	cr_assert_lt(acked, MAX_REQS, "%s never fired; edge log:\n%s", point,
	             stack_tail("edge0.log"));
	int status = 0;
	cr_assert_eq(waitpid(S.edge_pid[0], &status, 0), S.edge_pid[0]);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	          "the edge ended otherwise (status %d); its log:\n%s", status,
	          stack_tail("edge0.log"));
	cr_assert(stack_file_has("edge0.log", "failpoint reached"));
	S.edge_pid[0] = 0;

	stack_start_edge(0);
	edge_counts_once(acked, "after the restart");
	int cut = acked; /* the request the crash cut off */
	cr_assert_eq(views(cut + 1), 200, "the edge takes views again");
	for (int r = 0; r < acked; r++)
		wait_counted(r, 1, 30000);
	wait_counted(cut + 1, 1, 30000);
	long long c = wait_counted(cut, -1, 30000);
	wait_confirmed(30000);
	edge_counts_once(acked, "once its snapshots confirmed them");
	cr_log_info("%s: %d requests acknowledged, the cut one counted %lld times", point, acked,
	            c);
}

static const char *const points[] = {
    "group.staged:3", "group.written:3",   "seal.encoded:4",    "seal.written:4",
    "batch.queued:4", "batch.delivered:4", "confirm.written:2",
};

/* One test per point and mode, so a failure names both. */
#define POINT_TESTS(mode, durable)                                                                 \
	Test(crash, mode##_before_a_group_is_written)                                              \
	{                                                                                          \
		crash_at(points[0], durable);                                                      \
	}                                                                                          \
	Test(crash, mode##_after_a_group_is_written_before_its_answers)                            \
	{                                                                                          \
		crash_at(points[1], durable);                                                      \
	}                                                                                          \
	Test(crash, mode##_before_a_seal_is_written)                                               \
	{                                                                                          \
		crash_at(points[2], durable);                                                      \
	}                                                                                          \
	Test(crash, mode##_after_a_seal_is_written_before_it_is_sent)                              \
	{                                                                                          \
		crash_at(points[3], durable);                                                      \
	}                                                                                          \
	Test(crash, mode##_after_a_batch_is_queued_to_kafka)                                       \
	{                                                                                          \
		crash_at(points[4], durable);                                                      \
	}                                                                                          \
	Test(crash, mode##_after_kafka_took_a_batch)                                               \
	{                                                                                          \
		crash_at(points[5], durable);                                                      \
	}                                                                                          \
	Test(crash, mode##_after_a_snapshot_deleted_applied_batches)                               \
	{                                                                                          \
		crash_at(points[6], durable);                                                      \
	}

POINT_TESTS(loop, false)
POINT_TESTS(thread, true)

Test(crash, a_store_that_must_be_opened_again_exits_1_and_loses_nothing)
{
	S.edge_batch = "max_ops = 3\nmax_age_ms = 100\nwindow_kb = 1024\n";
	stack_up(1, NPARTS, 100);
	int acked = 0;
	for (; acked < 10; acked++)
		cr_assert_eq(views(acked), 200);
	struct rlimit none;
	cr_assert_eq(prlimit(S.edge_pid[0], RLIMIT_FSIZE, NULL, &none), 0);
	none.rlim_cur = 0;
	cr_assert_eq(prlimit(S.edge_pid[0], RLIMIT_FSIZE, &none, NULL), 0);
	/* Views until the edge is gone: each refused (its ops answer 503),
	 * none acknowledged. */
	int status = 0, refused = 0;
	uint64_t deadline = clock_mono_ms() + 30000;
	while (waitpid(S.edge_pid[0], &status, WNOHANG) == 0) {
		char out[8192];
		int code = stack_views(S.edge_port[0], acked + refused, PER_REQ, out, sizeof out);
		cr_assert(code != 200 || strstr(out, "\"status\":200") == NULL,
		          "a view acknowledged by a store that cannot write: %s", out);
		refused++;
		cr_assert_lt(clock_mono_ms(), deadline, "the edge did not exit; its log:\n%s",
		             stack_tail("edge0.log"));
		proc_sleep_ms(200);
	}
	S.edge_pid[0] = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	          "the edge ended otherwise (status %d); its log:\n%s", status,
	          stack_tail("edge0.log"));
	stack_start_edge(0);
	edge_counts_once(acked, "after the restart");
	cr_assert_eq(views(acked + refused), 200, "the edge takes views again");
	for (int r = 0; r < acked; r++)
		wait_counted(r, 1, 30000);
	cr_log_info("%d requests acknowledged, %d refused before the exit", acked, refused);
}
