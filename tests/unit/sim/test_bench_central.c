/* test_bench_central.c - `sim bench-central` through its module API with
 * small numbers: both runs count exactly the distinct (item, user) pairs,
 * central writes once per batch and the raw loop once per new pair, the
 * temp stores are removed, bad options are refused, the count summer
 * reads only the counter it is asked for, and the store comparison finds
 * a count that differs or is missing. No timing assertions.
 *
 * Each test gets its own temp dir (made in .init, removed in .fini) that
 * it passes as the benchmark's --dir.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/testdir.h"
#include "central/apply/keys.h"
#include "sim/bench/bench_central.h"
#include "err.h"
#include "log.h"
#include "store.h"
#include "wire.h"

static struct {
	char dir[64];
	bench_central_opts o;
} T;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	testdir_make(T.dir, sizeof T.dir, "test_bench_central");
	bench_central_opts_default(&T.o);
	T.o.ops = 20000;
	T.o.items = 1000;
	T.o.dir = T.dir;
}

static void teardown(void)
{
	testdir_remove(T.dir);
}

TestSuite(bench_central, .init = setup, .fini = teardown, .timeout = 120);

static void run_ok(bench_central_result *r)
{
	char err[512] = "";
	int rc = bench_central_run(&T.o, r, err, sizeof err);
	cr_assert_eq(rc, 0, "bench_central_run: %s (%s)", err_str(rc), err);
}

Test(bench_central, both_runs_count_every_like_of_distinct_users)
{
	bench_central_result r;
	run_ok(&r);
	cr_expect_eq(r.ops, 20000);
	cr_expect_eq(r.distinct_pairs, 20000, "one user per like: every pair distinct");
	cr_expect_eq(r.central_total, r.distinct_pairs);
	cr_expect_eq(r.raw_total, r.distinct_pairs);
	cr_expect_eq(r.central_store_writes, r.batches, "central writes once per batch");
	cr_expect_eq(r.raw_store_writes, r.distinct_pairs, "raw writes once per new pair");
	cr_expect_gt(r.counts_compared, 0, "the per-item counts of both stores were compared");
	cr_expect_leq(r.counts_compared, T.o.items);
	store_opts def;
	store_opts_default(&def);
	cr_expect_eq(r.store.bloom_bits, def.bloom_bits, "both runs use central's store options");
	cr_expect_eq(r.store.cache_bytes, def.cache_bytes);
	cr_expect_eq(r.store.write_buffer, def.write_buffer);
	/* 3 edges x 16 partitions: at least one batch per slot that got a like. */
	cr_expect_geq(r.batches, 20000 / T.o.ops_per_batch);
	cr_expect_leq(r.batches, 3 * 16 + 20000 / T.o.ops_per_batch);
	cr_expect_gt(r.wire_bytes, 0);
	cr_expect_gt(r.central_ops_per_s, 0);
	cr_expect_gt(r.raw_ops_per_s, 0);
	cr_expect_gt(r.central_s, 0);
	cr_expect_gt(r.raw_s, 0);
}

/* With homes the likes carry more bytes on the wire (the home), central
 * indexes them, and the counts still agree with the raw loop's. */
Test(bench_central, likes_that_name_homes_count_the_same)
{
	bench_central_result plain, homes;
	run_ok(&plain);
	T.o.homes = true;
	run_ok(&homes);
	cr_expect(!plain.homes);
	cr_expect(homes.homes);
	cr_expect_eq(homes.distinct_pairs, plain.distinct_pairs, "the same likes");
	cr_expect_eq(homes.central_total, homes.distinct_pairs);
	cr_expect_eq(homes.raw_total, homes.distinct_pairs);
	cr_expect_gt(homes.counts_compared, 0);
	cr_expect_gt(homes.wire_bytes, plain.wire_bytes, "every op names its home");
}

/* With the feed on central stores an event per count change with each
 * batch and drops it again; the counts are the same. */
Test(bench_central, the_feed_on_stores_events_and_counts_the_same)
{
	bench_central_result off, on;
	run_ok(&off);
	T.o.feed = true;
	run_ok(&on);
	cr_expect(!off.feed);
	cr_expect_eq(off.feed_events, 0);
	cr_expect(on.feed);
	cr_expect_geq(on.feed_events, on.distinct_pairs,
	              "every new pair changes a count (milestones come on top)");
	cr_expect_eq(on.central_total, on.distinct_pairs);
	cr_expect_gt(on.counts_compared, 0);
	cr_expect_eq(on.counts_compared, off.counts_compared);
}

Test(bench_central, repeated_pairs_are_counted_once)
{
	T.o.items = 50;
	T.o.users = 500;
	T.o.ops_per_batch = 100;
	bench_central_result r;
	run_ok(&r);
	/* 500 users on 50 items allow 25,000 pairs at most; 20,000 Zipf draws
	 * repeat many of them. */
	cr_assert_lt(r.distinct_pairs, 20000, "the input must hold repeats for this test");
	cr_expect_gt(r.distinct_pairs, 0);
	cr_expect_eq(r.central_total, r.distinct_pairs);
	cr_expect_eq(r.raw_total, r.distinct_pairs);
	cr_expect_eq(r.raw_store_writes, r.distinct_pairs);
	cr_expect_eq(r.central_store_writes, r.batches);
	cr_expect_geq(r.batches, 20000 / 100);
}

Test(bench_central, one_op_batches_and_one_partition_still_add_up)
{
	T.o.ops = 2000;
	T.o.ops_per_batch = 1;
	T.o.partitions = 1;
	bench_central_result r;
	run_ok(&r);
	cr_expect_eq(r.batches, 2000);
	cr_expect_eq(r.central_store_writes, 2000);
	cr_expect_eq(r.central_total, 2000);
	cr_expect_eq(r.raw_total, 2000);
}

Test(bench_central, the_same_options_build_the_same_likes)
{
	T.o.users = 3000;
	bench_central_result a, b;
	run_ok(&a);
	run_ok(&b);
	cr_expect_eq(a.distinct_pairs, b.distinct_pairs);
	cr_expect_eq(a.batches, b.batches);
	cr_expect_eq(a.wire_bytes, b.wire_bytes);
}

Test(bench_central, temp_stores_are_removed_after_the_run)
{
	bench_central_result r;
	T.o.ops = 1000;
	run_ok(&r);
	cr_expect_eq(testdir_count_entries(T.dir), 0, "the run left files in its --dir");
}

Test(bench_central, options_out_of_bounds_are_refused)
{
	bench_central_result r;
	char err[256];
	bench_central_opts bad = T.o;
	bad.ops = 0;
	cr_expect_eq(bench_central_run(&bad, &r, err, sizeof err), ERR_INVAL);
	bad = T.o;
	bad.ops_per_batch = WIRE_MAX_OPS + 1;
	cr_expect_eq(bench_central_run(&bad, &r, err, sizeof err), ERR_INVAL);
	bad = T.o;
	bad.users = bad.ops + 1;
	cr_expect_eq(bench_central_run(&bad, &r, err, sizeof err), ERR_INVAL);
	bad = T.o;
	bad.partitions = 0;
	cr_expect_eq(bench_central_run(&bad, &r, err, sizeof err), ERR_INVAL);
	bad = T.o;
	bad.items = 0;
	cr_expect_eq(bench_central_run(&bad, &r, err, sizeof err), ERR_INVAL);
	cr_expect_eq(testdir_count_entries(T.dir), 0, "a refused run must not touch --dir");
}

Test(bench_central, a_missing_dir_is_an_io_error)
{
	bench_central_result r;
	char err[256] = "";
	char missing[128];
	snprintf(missing, sizeof missing, "%s/no/such/dir", T.dir);
	T.o.dir = missing;
	cr_expect_eq(bench_central_run(&T.o, &r, err, sizeof err), ERR_IO);
	cr_expect(strstr(err, "mkdtemp") != NULL, "err: %s", err);
}

static void put_count(store *db, const char *counter, const char *item, uint64_t v)
{
	unsigned char k[CKEY_MAX], val[8];
	size_t kn = ckey_count(k, counter, strlen(counter), item, strlen(item));
	store_put_u64(val, v);
	store_batch *b = store_batch_new();
	store_batch_put(b, k, kn, val, 8);
	cr_assert_eq(store_write(db, b), 0);
	store_batch_free(b);
}

Test(bench_central, total_sums_only_the_named_counter)
{
	char path[128];
	snprintf(path, sizeof path, "%s/store", T.dir);
	store *db = testdir_open_store(path);
	put_count(db, "likes", "post:1", 3);
	put_count(db, "likes", "post:2", 4);
	put_count(db, "likesx", "post:1", 100); /* shares the prefix "likes" */
	put_count(db, "views", "post:1", 1000);
	uint64_t total = 0;
	cr_expect_eq(bench_central_total(db, "likes", &total), 0);
	cr_expect_eq(total, 7);
	cr_expect_eq(bench_central_total(db, "saves", &total), 0);
	cr_expect_eq(total, 0);
	store_close(db);
}

static store *open_named(const char *name)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", T.dir, name);
	return testdir_open_store(path);
}

Test(bench_central, compare_accepts_equal_counts)
{
	store *a = open_named("a"), *b = open_named("b");
	put_count(a, "likes", "post:1", 3);
	put_count(a, "likes", "post:2", 4);
	put_count(b, "likes", "post:2", 4);
	put_count(b, "likes", "post:1", 3);
	put_count(b, "views", "post:1", 9); /* another counter: not compared */
	uint64_t n = 0;
	char err[256] = "";
	cr_expect_eq(bench_central_compare(a, b, "likes", &n, err, sizeof err), 0, "%s", err);
	cr_expect_eq(n, 2);
	store_close(a);
	store_close(b);
}

Test(bench_central, compare_finds_a_different_count)
{
	store *a = open_named("a"), *b = open_named("b");
	put_count(a, "likes", "post:1", 3);
	put_count(a, "likes", "post:2", 4);
	put_count(b, "likes", "post:1", 3);
	put_count(b, "likes", "post:2", 5);
	uint64_t n = 0;
	char err[256] = "";
	cr_expect_eq(bench_central_compare(a, b, "likes", &n, err, sizeof err), ERR_CORRUPT);
	cr_expect(strstr(err, "post:2") != NULL, "err names the item: %s", err);
	store_close(a);
	store_close(b);
}

Test(bench_central, compare_finds_a_missing_count)
{
	store *a = open_named("a"), *b = open_named("b");
	put_count(a, "likes", "post:1", 3);
	put_count(a, "likes", "post:2", 4);
	put_count(b, "likes", "post:1", 3);
	uint64_t n = 0;
	char err[256] = "";
	cr_expect_eq(bench_central_compare(a, b, "likes", &n, err, sizeof err), ERR_CORRUPT);
	cr_expect_eq(bench_central_compare(b, a, "likes", &n, err, sizeof err), ERR_CORRUPT);
	cr_expect(strstr(err, "post:2") != NULL, "err names the item: %s", err);
	store_close(a);
	store_close(b);
}
