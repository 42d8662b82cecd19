/* test_bench_feed.c - `sim bench-feed` through its module API with small
 * numbers: every round runs both ways and makes the same events, records
 * dropped or kept, the temp stores are removed, bad options are refused.
 * No timing assertions.
 *
 * Each test gets its own temp dir (made in .init, removed in .fini) that
 * it passes as the benchmark's --dir.
 */
#include <criterion/criterion.h>

#include "tests/support/testdir.h"
#include "sim/bench/bench_feed.h"
#include "err.h"
#include "log.h"

static struct {
	char dir[64];
	bench_feed_opts o;
} T;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	testdir_make(T.dir, sizeof T.dir, "test_bench_feed");
	bench_feed_opts_default(&T.o);
	T.o.load.ops = 20000;
	T.o.load.items = 500;
	T.o.load.users = 2000;
	T.o.load.partitions = 4;
	T.o.load.ops_per_batch = 200;
	T.o.rounds = 2;
	T.o.dir = T.dir;
}

static void teardown(void)
{
	testdir_remove(T.dir);
}

TestSuite(bench_feed, .init = setup, .fini = teardown, .timeout = 120);

static void run_ok(bench_feed_result *r)
{
	char err[512] = "";
	int rc = bench_feed_run(&T.o, r, err, sizeof err);
	cr_assert_eq(rc, 0, "bench_feed_run: %s (%s)", err_str(rc), err);
}

Test(bench_feed, both_ways_every_round_with_the_same_events)
{
	bench_feed_result r;
	run_ok(&r);
	cr_expect_eq(r.rounds, 2);
	cr_expect_null(r.load.parts, "the messages are freed, the figures kept");
	cr_expect_eq(r.load.likes + r.load.unlikes + r.load.views, T.o.load.ops);
	for (uint32_t i = 0; i < r.rounds; i++) {
		cr_expect_eq(r.off[i].events, 0, "round %u: no events with the feed off", i + 1);
		cr_expect_gt(r.on[i].events, 0, "round %u: events with the feed on", i + 1);
		cr_expect_eq(r.on[i].events, r.on[0].events);
		cr_expect_eq(r.on[i].store_writes, r.load.batches, "one write per message");
		cr_expect_gt(r.off[i].s, 0);
		cr_expect_gt(r.on[i].s, 0);
	}
	/* Every effective like or unlike and every sum makes a change, so
	 * there are more events than sums, and no more than the set ops
	 * and sums plus a few milestones. */
	cr_expect_gt(r.on[0].events, r.load.sums);
	cr_expect_gt(r.off_ops_per_s, 0);
	cr_expect_gt(r.on_vs_off, 0);
	cr_expect_gt(r.counts_compared, 0, "the likes and views counts were compared");
	cr_expect_eq(testdir_count_entries(T.dir), 0, "the temp stores are removed");
}

Test(bench_feed, records_kept_make_the_same_events)
{
	bench_feed_result dropped, kept;
	T.o.rounds = 1;
	run_ok(&dropped);
	T.o.trim_every = 0;
	run_ok(&kept);
	cr_expect_eq(kept.on[0].events, dropped.on[0].events);
	cr_expect_eq(kept.counts_compared, dropped.counts_compared);
}

Test(bench_feed, bad_options_are_refused)
{
	bench_feed_result r;
	char err[256];
	T.o.rounds = 0;
	cr_expect_eq(bench_feed_run(&T.o, &r, err, sizeof err), ERR_INVAL);
	T.o.rounds = BENCH_FEED_ROUNDS_MAX + 1;
	cr_expect_eq(bench_feed_run(&T.o, &r, err, sizeof err), ERR_INVAL);
	T.o.rounds = 1;
	T.o.load.views_pct = 101;
	cr_expect_eq(bench_feed_run(&T.o, &r, err, sizeof err), ERR_INVAL);
	cr_expect_eq(testdir_count_entries(T.dir), 0);
}
