/* itest_takeover.c - two instances of one edge on the region's changelog
 * (the embedded broker's likes.changelog), with the real binaries: the
 * active one killed at each step of a group commit, a seal, a send and a
 * confirmation (as itest_crash kills a lone edge), its standby takes over
 * from the log alone (it never reads the active's disk), and no
 * acknowledged op is lost or applied twice at central; and an active
 * paused past the takeover, then resumed, acknowledges nothing more and
 * exits fenced; and a standby away (killed, or paused) while the log
 * lost its start copies the active's store when it comes back (a paused
 * one exits with status 5 first, for its restart to copy), then takes
 * over with nothing lost.
 *
 * The kill points hold the rules the changelog rests on: an op answered
 * before its copy was in the log would be missing at the standby (an
 * acknowledged view counted 0), and a batch sent to central before its
 * seal was in the log would be sealed again, differently, under the same
 * sequence by the standby (a view counted 0 or 2).
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bus.h"
#include "sim/drill/trim.h"
#include "tests/support/prom_util.h"
#include "tests/support/stack.h"

#define NPARTS 4
#define PER_REQ 6
#define MAX_REQS 40
#define ACTIVE 0 /* slot of the instance that takes over first */
#define STANDBY 1

TestSuite(takeover, .fini = stack_down, .timeout = 150);

/* One /v1/ops request of PER_REQ views on items "reel:<req>x<k>" to
 * slot's instance; the status, or -1 when nothing answered. */
static int views(int slot, int req)
{
	char out[8192];
	int code = stack_views(S.edge_port[slot], req, PER_REQ, out, sizeof out);
	if (code == 200 && strstr(out, "\"status\":503"))
		return 503; /* refused op by op (a standby refuses them all) */
	return code;
}

/* Central's views count of reel:<req>x<k>, or -1. */
static long long central_views(int req, int k)
{
	return stack_views_count(S.ops_port, false, req, k);
}

/* slot's count of reel:<req>x<k>, or -1. */
static long long edge_views(int slot, int req, int k)
{
	return stack_views_count(S.edge_port[slot], true, req, k);
}

/* Waits until central shows every view of request req counted want
 * times (want < 0: the same number, 0 or 1, for all); returns it. */
static long long wait_counted(int req, long long want, unsigned ms)
{
	uint64_t deadline = clock_mono_ms() + ms;
	for (;;) {
		long long first = central_views(req, 0);
		bool done = want >= 0 ? first == want : first == 0 || first == 1;
		for (int k = 1; k < PER_REQ && done; k++) {
			long long c = central_views(req, k);
			done = want >= 0 ? c == want : c == first;
		}
		if (done)
			return first;
		cr_assert_lt(clock_mono_ms(), deadline,
		             "request %d: central shows reel:%dx0 at %lld, want %lld; standby "
		             "log:\n%s",
		             req, req, first, want, stack_tail("edge1.log"));
		proc_sleep_ms(100);
	}
}

/* The stack: central, the edge's first instance (slot 0, active once it
 * takes the empty log over) and its second (slot 1, standby); threaded:
 * with the group commits on the commit threads (the shipped default with
 * a changelog: two copies may be in flight), not on the loop. */
static void pair_up_as(bool threaded)
{
	S.changelog = true;
	S.changelog_keys = "beat_ms = 100\ntakeover_ms = 500\ntimeout_ms = 300\n";
	S.edge_batch = "max_ops = 3\nmax_age_ms = 100\nwindow_kb = 1024\n";
	S.edge_extra = threaded ? "" : "[store]\ncommit_thread = false\n";
	stack_up(1, NPARTS, 100);
	stack_wait_writer(ACTIVE, 20000);
	stack_write_twin(STANDBY, 0);
}

static void pair_up(void)
{
	pair_up_as(false);
}

/* The active killed at point (a failpoint spec): every op it answered
 * counts once at central, and the standby, taking over, shows each once.
 * threaded: pair_up_as's. */
static void kill_at(const char *point, bool threaded)
{
	cr_assert_eq(setenv("LIKES_FAILPOINT", point, 1), 0);
	pair_up_as(threaded);
	cr_assert_eq(unsetenv("LIKES_FAILPOINT"), 0);
	/* The standby starts without the failpoint (stack_start_edge runs
	 * the binary with this process's environment). */
	stack_start_edge(STANDBY);
	cr_assert_eq(views(STANDBY, 1000), 503, "a standby takes no write");

	int acked = 0, code = 0;
	while (acked < MAX_REQS && (code = views(ACTIVE, acked)) == 200) {
		acked++;
		proc_sleep_ms(20); /* seals, sends and snapshots in between */
	}
	cr_assert_lt(acked, MAX_REQS, "%s never fired; active log:\n%s", point,
	             stack_tail("edge0.log"));
	int status = 0;
	cr_assert_eq(waitpid(S.edge_pid[ACTIVE], &status, 0), S.edge_pid[ACTIVE]);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	          "the active ended otherwise (status %d); its log:\n%s", status,
	          stack_tail("edge0.log"));
	S.edge_pid[ACTIVE] = 0;

	uint64_t ms = stack_wait_writer(STANDBY, 20000);
	/* Its /metrics says the takeover in seconds, to the millisecond: it
	 * waited takeover_ms (500) of silence first, which whole seconds
	 * would show as 0. */
	static char text[512 * 1024];
	cr_assert_eq(proc_curl(text, sizeof text, "", S.edge_port[STANDBY], "/metrics"), 200);
	double took = prom_util_get(text, "likes_edge_changelog_takeover_seconds");
	cr_assert(took >= 0.5 && took < 20, "likes_edge_changelog_takeover_seconds %f", took);
	int cut = acked; /* the request the kill cut off */
	cr_assert_eq(views(STANDBY, cut + 1), 200, "the standby takes writes once active");
	for (int r = 0; r < acked; r++)
		wait_counted(r, 1, 30000);
	wait_counted(cut + 1, 1, 30000);
	long long c = wait_counted(cut, -1, 30000);
	for (int r = 0; r < acked; r++)
		for (int k = 0; k < PER_REQ; k++)
			cr_assert_eq(edge_views(STANDBY, r, k), 1,
			             "the new active shows reel:%dx%d", r, k);
	cr_log_info("%s: %d requests acknowledged, the cut one counted %lld times, the "
	            "standby took writes %llu ms after the kill was seen (its takeover: %.3f s "
	            "from the last record)",
	            point, acked, c, (unsigned long long)ms, took);
}

Test(takeover, before_a_group_is_copied)
{
	kill_at("group.staged:3", false);
}

Test(takeover, after_a_group_is_copied_before_it_is_written)
{
	kill_at("group.copied:3", false);
}

Test(takeover, after_a_group_is_written_before_its_answers)
{
	kill_at("group.written:3", false);
}

Test(takeover, on_the_commit_threads_before_a_group_is_copied)
{
	kill_at("group.staged:3", true);
}

Test(takeover, on_the_commit_threads_after_a_group_is_copied_before_it_is_written)
{
	kill_at("group.copied:3", true);
}

Test(takeover, on_the_commit_threads_after_a_group_is_written_before_its_answers)
{
	kill_at("group.written:3", true);
}

Test(takeover, on_the_commit_threads_after_a_seal_is_copied_before_it_is_written)
{
	kill_at("seal.copied:4", true);
}

Test(takeover, before_a_seal_is_copied)
{
	kill_at("seal.encoded:4", false);
}

Test(takeover, after_a_seal_is_copied_before_it_is_written)
{
	kill_at("seal.copied:4", false);
}

Test(takeover, after_a_seal_is_written_before_it_is_sent)
{
	kill_at("seal.written:4", false);
}

Test(takeover, after_a_batch_is_queued_to_kafka)
{
	kill_at("batch.queued:4", false);
}

Test(takeover, after_kafka_took_a_batch)
{
	kill_at("batch.delivered:4", false);
}

Test(takeover, after_a_snapshot_deleted_applied_batches)
{
	kill_at("confirm.written:2", false);
}

Test(takeover, a_paused_active_is_fenced_and_acknowledges_nothing_after)
{
	pair_up();
	stack_start_edge(STANDBY);
	int acked = 0;
	for (; acked < 5; acked++)
		cr_assert_eq(views(ACTIVE, acked), 200);
	cr_assert_eq(kill(S.edge_pid[ACTIVE], SIGSTOP), 0);
	stack_wait_writer(STANDBY, 20000);
	for (int r = 100; r < 105; r++)
		cr_assert_eq(views(STANDBY, r), 200);
	cr_assert_eq(kill(S.edge_pid[ACTIVE], SIGCONT), 0);
	/* Resumed: whatever it is asked, it answers no write. */
	int refused = 0;
	for (int r = 200; r < 205; r++) {
		int code = views(ACTIVE, r);
		cr_assert(code != 200, "the former active acknowledged request %d", r);
		refused++;
	}
	stack_wait_exit(ACTIVE, 10000, 4, "the fenced instance");
	cr_assert(stack_file_has("edge0.log", "fenced"));
	for (int r = 0; r < acked; r++)
		wait_counted(r, 1, 30000);
	for (int r = 100; r < 105; r++)
		wait_counted(r, 1, 30000);
	/* Each takeover told central on every partition before its first
	 * batch: the first instance's, then the standby's. */
	stack_wait_central_metric("likes_central_handovers_applied_total", 2 * NPARTS,
	                          "central did not apply both takeovers' hand-overs");
	cr_assert_eq(stack_central_metric("likes_central_handovers_applied_total"), 2 * NPARTS);
	/* The refused ones never count: give central a few snapshots. */
	proc_sleep_ms(1500);
	for (int r = 200; r < 200 + refused; r++)
		for (int k = 0; k < PER_REQ; k++) {
			long long c = central_views(r, k);
			cr_assert(c == 0 || c == -1, "refused reel:%dx%d counts %lld at central", r,
			          k, c);
		}
}

/* The edge's changelog partition loses every record written before now,
 * as the drill step `trim` makes it (sim/drill/trim.h: void records
 * until the embedded broker's cap drops the log's start, spaced so that
 * a running active reads each one). */
static void trim_changelog(int part)
{
	char path[512], bs[512], edge[16], err[256];
	snprintf(path, sizeof path, "%s/bootstrap", S.dir);
	cr_assert_eq(bus_read_bootstrap(path, bs, sizeof bs), 0);
	snprintf(edge, sizeof edge, "edge%d", part);
	trim_opts o = {
	    .bootstraps = bs, .topic = "likes.changelog", .partition = part, .edge_id = edge};
	trim_result r;
	cr_assert_eq(trim_partition(&o, &r, err, sizeof err), 0, "%s; active log:\n%s", err,
	             stack_tail("edge0.log"));
}

/* The standby away (killed, or paused and then resumed) while the log
 * lost its start: back, it copies the active's store (seed.h), follows
 * the log from the copy's position and is fit to take over; the takeover
 * loses nothing and counts nothing twice. Without the copy it would stay
 * "standby, unfit" and never take writes. */
static void away_while_the_log_lost_its_start(bool paused)
{
	S.seed = true;
	pair_up();
	stack_start_edge(STANDBY);
	int r = 0;
	for (; r < 4; r++)
		cr_assert_eq(views(ACTIVE, r), 200);
	wait_counted(r - 1, 1, 30000);
	pid_t pid = S.edge_pid[STANDBY];
	if (paused) {
		cr_assert_eq(kill(pid, SIGSTOP), 0);
	} else {
		cr_assert_eq(kill(pid, SIGKILL), 0);
		cr_assert_eq(waitpid(pid, NULL, 0), pid);
		S.edge_pid[STANDBY] = 0;
	}
	/* Ops the standby never read, then the log's start moved past them. */
	for (; r < 8; r++)
		cr_assert_eq(views(ACTIVE, r), 200);
	trim_changelog(0);
	if (paused) {
		/* Resumed, its follower finds the gap, and it exits for a copy. */
		cr_assert_eq(kill(pid, SIGCONT), 0);
		stack_wait_exit(STANDBY, 20000, 5, "a standby behind the log");
	}
	stack_start_edge(STANDBY);
	stack_wait_fit(STANDBY, 30000);
	cr_assert(stack_file_has("edge1.log", "store copied from a peer"), "%s",
	          stack_tail("edge1.log"));
	cr_assert(stack_file_has("edge0.log", "seed: copy sent"));
	for (int end = r + 2; r < end; r++)
		cr_assert_eq(views(ACTIVE, r), 200);
	proc_sleep_ms(300); /* the standby reads them */
	cr_assert_eq(kill(S.edge_pid[ACTIVE], SIGKILL), 0);
	cr_assert_eq(waitpid(S.edge_pid[ACTIVE], NULL, 0), S.edge_pid[ACTIVE]);
	S.edge_pid[ACTIVE] = 0;
	stack_wait_writer(STANDBY, 20000);
	cr_assert_eq(views(STANDBY, r), 200, "the standby takes writes once active");
	r++;
	for (int q = 0; q < r; q++)
		wait_counted(q, 1, 30000);
	for (int q = 0; q < r; q++)
		for (int k = 0; k < PER_REQ; k++)
			cr_assert_eq(edge_views(STANDBY, q, k), 1,
			             "the new active shows reel:%dx%d", q, k);
}

Test(takeover, a_standby_back_after_the_log_lost_its_start_copies_a_peer_and_takes_over)
{
	away_while_the_log_lost_its_start(false);
}

/* The active held (SIGSTOP) while the log lost its start, with no
 * standby to take over: back, it cannot read the records between its last
 * checked one and its next beat, so whether one of them was another
 * instance's takeover is unknowable. It acknowledges nothing from then on
 * and exits for a copy (status 5) instead of refusing every write while
 * its beats keep the log alive; with no fit peer, its restart stays an
 * unfit standby: nothing it could not order is ever answered. */
Test(takeover, an_active_whose_unchecked_records_the_log_lost_exits_for_a_copy)
{
	S.seed = true;
	/* The standby's seed port known before the active's config is
	 * written, so that the active names it in seed_from too. */
	S.seed_port[STANDBY] = proc_free_port();
	pair_up();
	stack_start_edge(STANDBY);
	int r = 0;
	for (; r < 4; r++)
		cr_assert_eq(views(ACTIVE, r), 200);
	wait_counted(r - 1, 1, 30000);
	pid_t sb = S.edge_pid[STANDBY];
	cr_assert_eq(kill(sb, SIGKILL), 0);
	cr_assert_eq(waitpid(sb, NULL, 0), sb);
	S.edge_pid[STANDBY] = 0;
	/* Twice: the first drops the records up to the active's last
	 * checked one, the second its own records past it too. */
	cr_assert_eq(kill(S.edge_pid[ACTIVE], SIGSTOP), 0);
	trim_changelog(0);
	trim_changelog(0);
	cr_assert_eq(kill(S.edge_pid[ACTIVE], SIGCONT), 0);
	for (int q = 100; q < 103; q++) {
		char out[8192];
		int code = stack_views(S.edge_port[ACTIVE], q, PER_REQ, out, sizeof out);
		cr_assert(code != 200 || !strstr(out, "\"status\":200"),
		          "request %d acknowledged after the log lost its checks: %d %s", q, code,
		          out);
	}
	stack_wait_exit(ACTIVE, 20000, 5, "an active that lost its checks");
	cr_assert(stack_file_has("edge0.log", "the log lost records this instance never checked"));
	stack_start_edge(ACTIVE);
	char out[2048];
	uint64_t t0 = clock_mono_ms();
	for (;;) {
		(void)proc_curl(out, sizeof out, "--http2-prior-knowledge", S.edge_port[ACTIVE],
		                "/readyz");
		if (strstr(out, "standby, unfit"))
			break;
		cr_assert_lt(clock_mono_ms() - t0, 20000, "restarted: /readyz %s; its log:\n%s",
		             out, stack_tail("edge0.log"));
		proc_sleep_ms(100);
	}
	cr_assert(stack_file_has("edge0.log", "this store follows on, unfit to take over"));
	cr_assert(views(ACTIVE, 200) != 200, "an unfit standby answers no write");
}

Test(takeover, a_standby_that_falls_behind_while_running_exits_and_copies_a_peer)
{
	away_while_the_log_lost_its_start(true);
}
