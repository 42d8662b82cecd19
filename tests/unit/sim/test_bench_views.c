/* test_bench_views.c - `sim bench-views` through its module API with
 * small numbers: both sets of batches end in the same counts and the
 * views add up to those sent; adding up leaves fewer entries and bytes
 * the more views fall on one reel, and none fewer when there are no
 * views; the temp stores are removed; bad options are refused. No timing
 * assertions.
 */
#include <criterion/criterion.h>

#include "tests/support/testdir.h"
#include "sim/bench/bench_views.h"
#include "err.h"
#include "log.h"

static struct {
	char dir[64];
	bench_views_opts o;
} T;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	testdir_make(T.dir, sizeof T.dir, "test_bench_views");
	bench_views_opts_default(&T.o);
	T.o.ops = 20000;
	T.o.items = 500;
	T.o.partitions = 4;
	T.o.ops_per_batch = 200;
	T.o.dir = T.dir;
}

static void teardown(void)
{
	testdir_remove(T.dir);
}

TestSuite(bench_views, .init = setup, .fini = teardown, .timeout = 60);

static bench_views_result run(void)
{
	bench_views_result r;
	char err[512] = "";
	cr_assert_eq(bench_views_run(&T.o, &r, err, sizeof err), 0, "%s", err);
	return r;
}

Test(bench_views, both_ways_end_in_the_same_counts_and_sums_shrink_the_wire)
{
	bench_views_result r = run();
	cr_assert_eq(r.views + r.likes, 20000);
	cr_assert_gt(r.views, 16000);
	cr_assert_gt(r.counts_compared, 0);
	cr_assert_eq(r.per_op.entries, 20000);
	cr_assert_eq(r.per_op.messages, r.summed.messages, "the same seals, two encodings");
	cr_assert_lt(r.summed.entries, r.per_op.entries / 2, "half the views are on one reel");
	cr_assert_lt(r.summed.wire_bytes, r.per_op.wire_bytes);
	cr_assert_eq(testdir_count_entries(T.dir), 0, "the temp stores are removed");

	T.o.viral_pct = 100;
	bench_views_result v = run();
	cr_assert_lt(v.summed.entries, r.summed.entries, "more on one reel, fewer sums");
}

Test(bench_views, without_views_nothing_is_added_up)
{
	T.o.views_pct = 0;
	bench_views_result r = run();
	cr_assert_eq(r.views, 0);
	cr_assert_eq(r.summed.entries, r.per_op.entries);
	cr_assert_eq(r.summed.wire_bytes, r.per_op.wire_bytes, "version 1 both ways");
}

Test(bench_views, options_out_of_bounds_are_refused)
{
	bench_views_result r;
	char err[128];
	T.o.views_pct = 101;
	cr_assert_eq(bench_views_run(&T.o, &r, err, sizeof err), ERR_INVAL);
	T.o.views_pct = 90;
	T.o.ops_per_batch = 0;
	cr_assert_eq(bench_views_run(&T.o, &r, err, sizeof err), ERR_INVAL);
}
