/* test_apply_cache.c - the applier's caches of stored counts and
 * memberships (apply.h): a failed store write leaves them as the store
 * is, so what follows applies on the stored values; and a randomized run
 * (likes, unlikes, sums, invalid ops, re-deliveries and gaps from three
 * edges over several items) ends with byte-identical stores whether the
 * caches are off, tiny (evicting all the time) or at their defaults.
 *
 * Each test gets its own temp dir (made in .init, removed in .fini) with
 * up to three stores and appliers for 2 partitions.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/testdir.h"
#include "tests/support/wire_util.h"
#include "central/apply/apply.h"
#include "central/apply/day.h"
#include "central/apply/keys.h"
#include "counter.h"
#include "err.h"
#include "hlc.h"
#include "log.h"
#include "store.h"
#include "wire.h"

#define NPARTS 2
#define NRUNS 3
#define DAY0 20000u

static struct {
	char dir[64];
	counters ctr;
	store *db[NRUNS];
	applier *a[NRUNS];
} T;

static void open_run(int i, size_t counts, size_t members)
{
	char path[128], err[256];
	snprintf(path, sizeof path, "%s/s%d", T.dir, i);
	T.db[i] = testdir_open_store(path);
	T.a[i] = applier_new(T.db[i], NPARTS, &T.ctr, err, sizeof err);
	cr_assert_not_null(T.a[i], "applier_new: %s", err);
	applier_set_cache(T.a[i], counts, members);
}

static void setup(void)
{
	log_threshold = LOG_ERROR - 1; /* quiet: the injected failures log errors */
	char err[256];
	cr_assert_eq(counters_parse(&T.ctr, "likes", "views", err, sizeof err), 0, "%s", err);
	testdir_make(T.dir, sizeof T.dir, "test_apply_cache");
}

static void teardown(void)
{
	for (int i = 0; i < NRUNS; i++) {
		applier_free(T.a[i]);
		T.a[i] = NULL;
		if (T.db[i])
			store_close(T.db[i]);
		T.db[i] = NULL;
	}
	counters_free(&T.ctr);
	testdir_remove(T.dir);
}

TestSuite(apply_cache, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------- */

static uint64_t hlc_on(uint32_t d, uint64_t ms)
{
	return hlc_make((uint64_t)d * DAY_MS + ms, 0);
}

static wire_op op_of(const char *counter, const char *item, const char *user, bool add, uint32_t n,
                     uint64_t ts)
{
	return wire_util_op(counter, item, user, add ? WIRE_ADD : WIRE_REMOVE, n, ts);
}

/* Applies one batch to run i; returns applier_apply's result. */
static int apply_to(int i, const char *edge, const char *region, uint32_t p, uint64_t seq,
                    int64_t offset, const wire_op *ops, size_t nops)
{
	wire_util_msg m = wire_util_batch(edge, region, p, seq, ops, nops, NULL, 0);
	int rc = applier_apply(T.a[i], p, offset, m.buf, m.len, 0);
	free(m.buf);
	return rc;
}

static uint64_t stored_num(int i, const unsigned char *k, size_t kn)
{
	uint64_t v = 0;
	int rc = store_read_u64(T.db[i], k, kn, &v);
	cr_assert(rc == 0 || rc == ERR_NOTFOUND, "read: %s", err_str(rc));
	return rc ? 0 : v;
}

static uint64_t count_of(int i, const char *counter, const char *item)
{
	unsigned char k[CKEY_MAX];
	return stored_num(i, k, ckey_count(k, counter, strlen(counter), item, strlen(item)));
}

static uint64_t region_of(int i, const char *counter, const char *item, const char *region)
{
	unsigned char k[CKEY_MAX];
	return stored_num(
	    i, k,
	    ckey_region(k, counter, strlen(counter), item, strlen(item), region, strlen(region)));
}

/* Sums the R or Y buckets of (counter, item) in run i. */
static uint64_t bucket_sum(int i, char tag, const char *counter, const char *item)
{
	unsigned char pre[CKEY_MAX];
	size_t pn = ckey_breakdown_prefix(pre, tag, counter, strlen(counter), item, strlen(item));
	store_iter *it = store_iter_new(T.db[i], pre, pn);
	const char *k, *v;
	size_t kn, vn;
	uint64_t sum = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		cr_assert_eq(vn, 8);
		sum += store_get_u64((const unsigned char *)v);
	}
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	return sum;
}

static void assert_breakdowns(int i, const char *counter, const char *item)
{
	uint64_t c = count_of(i, counter, item);
	cr_assert_eq(bucket_sum(i, 'R', counter, item), c, "%s %s: regions", counter, item);
	cr_assert_eq(bucket_sum(i, 'Y', counter, item), c, "%s %s: days", counter, item);
}

/* Every key and value of run i's store equals run j's. */
static void assert_same_store(int i, int j)
{
	store_iter *a = store_iter_new(T.db[i], "", 0);
	store_iter *b = store_iter_new(T.db[j], "", 0);
	const char *ka, *va, *kb, *vb;
	size_t kan, van, kbn, vbn;
	size_t n = 0;
	for (;;) {
		bool ha = store_iter_next(a, &ka, &kan, &va, &van);
		bool hb = store_iter_next(b, &kb, &kbn, &vb, &vbn);
		cr_assert_eq(ha, hb, "run %d and run %d hold different numbers of keys (%zu)", i, j,
		             n);
		if (!ha)
			break;
		cr_assert(kan == kbn && memcmp(ka, kb, kan) == 0,
		          "run %d and run %d differ at key %zu (tag %c / %c)", i, j, n, ka[0],
		          kb[0]);
		cr_assert(van == vbn && memcmp(va, vb, van) == 0,
		          "run %d and run %d differ in the value of key %zu (tag %c)", i, j, n,
		          ka[0]);
		n++;
	}
	cr_assert_eq(store_iter_status(a), 0);
	cr_assert_eq(store_iter_status(b), 0);
	store_iter_free(a);
	store_iter_free(b);
	cr_assert_gt(n, 0);
}

/* ---- failed writes ------------------------------------------------------- */

Test(apply_cache, failed_write_leaves_the_cached_counts_as_stored)
{
	open_run(0, APPLIER_CACHE_COUNTS_DEFAULT, APPLIER_CACHE_MEMBERS_DEFAULT);
	wire_op first = op_of("likes", "post:1", "u1", true, 1, hlc_on(DAY0, 1));
	cr_assert_eq(apply_to(0, "a", "eu", 0, 1, 0, &first, 1), 0);
	/* The count of post:1 is now cached at 1. A write that fails must
	 * not leave the cache at 3. */
	wire_op lost[2] = {op_of("likes", "post:1", "u2", true, 1, hlc_on(DAY0, 2)),
	                   op_of("likes", "post:1", "u3", true, 1, hlc_on(DAY0, 3))};
	store_fail_writes(T.db[0], 1);
	cr_assert_eq(apply_to(0, "b", "us", 0, 1, 1, lost, 2), ERR_IO);
	wire_op next = op_of("likes", "post:1", "u4", true, 1, hlc_on(DAY0, 4));
	cr_assert_eq(apply_to(0, "c", "eu", 0, 1, 2, &next, 1), 0);
	cr_assert_eq(count_of(0, "likes", "post:1"), 2);
	cr_assert_eq(region_of(0, "likes", "post:1", "eu"), 2);
	cr_assert_eq(region_of(0, "likes", "post:1", "us"), 0);
	assert_breakdowns(0, "likes", "post:1");
}

Test(apply_cache, failed_write_does_not_cache_the_lost_membership)
{
	open_run(0, APPLIER_CACHE_COUNTS_DEFAULT, APPLIER_CACHE_MEMBERS_DEFAULT);
	wire_op like = op_of("likes", "post:1", "u1", true, 1, hlc_on(DAY0, 10));
	cr_assert_eq(apply_to(0, "a", "eu", 0, 1, 0, &like, 1), 0);
	/* Read back once more: the membership enters the cache. */
	wire_op relike = op_of("likes", "post:1", "u1", true, 1, hlc_on(DAY0, 20));
	cr_assert_eq(apply_to(0, "a", "eu", 0, 2, 1, &relike, 1), 0);
	/* An unlike at 100 whose write fails must not be remembered ... */
	wire_op unlike = op_of("likes", "post:1", "u1", false, 1, hlc_on(DAY0, 100));
	store_fail_writes(T.db[0], 1);
	cr_assert_eq(apply_to(0, "b", "us", 0, 1, 2, &unlike, 1), ERR_IO);
	/* ... or this like at 50 would lose against it. */
	wire_op later = op_of("likes", "post:1", "u1", true, 1, hlc_on(DAY0, 50));
	cr_assert_eq(apply_to(0, "c", "ap", 0, 1, 3, &later, 1), 0);
	cr_assert_eq(count_of(0, "likes", "post:1"), 1);
	cr_assert_eq(region_of(0, "likes", "post:1", "ap"), 1, "the like at 50 won");
	assert_breakdowns(0, "likes", "post:1");
}

Test(apply_cache, a_failed_write_then_the_same_work_matches_a_run_without_failures)
{
	open_run(0, APPLIER_CACHE_COUNTS_DEFAULT, APPLIER_CACHE_MEMBERS_DEFAULT);
	open_run(1, 0, 0);
	for (int run = 0; run < 2; run++) {
		wire_op ops[3] = {op_of("likes", "post:1", "u1", true, 1, hlc_on(DAY0, 1)),
		                  op_of("views", "post:1", "u1", true, 7, hlc_on(DAY0, 1)),
		                  op_of("likes", "post:2", "u1", true, 1, hlc_on(DAY0, 1))};
		cr_assert_eq(apply_to(run, "a", "eu", 0, 1, 0, ops, 3), 0);
		ops[0].kind = WIRE_REMOVE;
		ops[0].hlc = hlc_on(DAY0, 5);
		if (run == 0) {
			/* The failed edge ("b") never comes back; edge "c" sends
			 * the same ops afterwards. */
			store_fail_writes(T.db[0], 1);
			cr_assert_eq(apply_to(0, "b", "us", 0, 1, 1, ops, 3), ERR_IO);
		}
		cr_assert_eq(apply_to(run, "c", "us", 0, 1, 2, ops, 3), 0);
	}
	/* Run 0 stored nothing from edge "b": its store equals run 1's. */
	assert_same_store(0, 1);
}

/* ---- randomized equality ------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

Test(apply_cache, caches_off_tiny_and_default_end_with_identical_stores)
{
	enum { NEDGES = 3, NITEMS = 6, NUSERS = 10, NBATCHES = 400, MAXOPS = 12 };
	static const char *edges[NEDGES] = {"m1", "v1", "s1"};
	static const char *regions[NEDGES] = {"mumbai", "virginia", "singapore"};
	static const char *counter_names[3] = {"likes", "views", "nosuch"};
	open_run(0, 0, 0);
	open_run(1, 4, 2);
	open_run(2, APPLIER_CACHE_COUNTS_DEFAULT, APPLIER_CACHE_MEMBERS_DEFAULT);
	char items[NITEMS][16], users[NUSERS][8];
	for (int i = 0; i < NITEMS; i++)
		snprintf(items[i], sizeof items[i], "post:%d", i);
	for (int u = 0; u < NUSERS; u++)
		snprintf(users[u], sizeof users[u], "u%d", u);
	uint64_t rng = 0x2545f4914f6cdd1du;
	uint64_t seq[NEDGES][NPARTS] = {{0}};
	int64_t offset[NPARTS] = {0};
	for (int n = 0; n < NBATCHES; n++) {
		int e = (int)(rng_next(&rng) % NEDGES);
		uint32_t p = (uint32_t)(rng_next(&rng) % NPARTS);
		size_t nops = 1 + rng_next(&rng) % MAXOPS;
		wire_op ops[MAXOPS];
		for (size_t i = 0; i < nops; i++) {
			uint64_t r = rng_next(&rng);
			/* mostly likes, some views, a few for an unknown counter */
			const char *ctr = counter_names[r % 10 < 6 ? 0 : r % 10 < 9 ? 1 : 2];
			bool add = strcmp(ctr, "likes") != 0 || rng_next(&rng) % 3 != 0;
			uint32_t amount =
			    strcmp(ctr, "views") == 0 ? 1 + (uint32_t)(r >> 32) % 5 : 1;
			ops[i] = op_of(
			    ctr, items[rng_next(&rng) % NITEMS], users[rng_next(&rng) % NUSERS],
			    add, amount,
			    hlc_on(DAY0 + (uint32_t)(rng_next(&rng) % 4), rng_next(&rng) % 1000));
		}
		/* 1 in 10 re-delivers the last batch, 1 in 10 skips ahead (held
		 * until the gap fills), the rest come in order. */
		uint64_t kind = rng_next(&rng) % 10, s;
		if (kind == 0 && seq[e][p] > 0) {
			s = seq[e][p];
		} else if (kind == 1) {
			s = seq[e][p] + 2;
		} else {
			s = ++seq[e][p];
		}
		if (kind == 1) {
			/* Send the held one, then the one that fills the gap. */
			for (int r = 0; r < NRUNS; r++)
				cr_assert_eq(
				    apply_to(r, edges[e], regions[e], p, s, offset[p], ops, nops),
				    0);
			offset[p]++;
			s = ++seq[e][p];
			seq[e][p]++;
		}
		for (int r = 0; r < NRUNS; r++)
			cr_assert_eq(apply_to(r, edges[e], regions[e], p, s, offset[p], ops, nops),
			             0, "run %d batch %d", r, n);
		offset[p]++;
	}
	applier_stats st[NRUNS];
	for (int r = 0; r < NRUNS; r++)
		applier_get_stats(T.a[r], &st[r]);
	cr_assert_gt(st[0].batches_held, 0, "the input must hold gaps");
	cr_assert_gt(st[0].batches_duplicate, 0, "the input must hold re-deliveries");
	cr_assert_gt(st[0].ops_invalid, 0, "the input must hold invalid ops");
	for (int r = 1; r < NRUNS; r++) {
		cr_assert_eq(st[r].ops_applied, st[0].ops_applied);
		cr_assert_eq(st[r].batches_applied, st[0].batches_applied);
		assert_same_store(0, r);
	}
	for (int i = 0; i < NITEMS; i++) {
		assert_breakdowns(2, "likes", items[i]);
		assert_breakdowns(2, "views", items[i]);
	}
}
