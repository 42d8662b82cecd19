/* test_apply.c - central's batch applier over a real LevelDB store:
 * order per (edge, partition), duplicates, gaps and held batches,
 * malformed input and bad headers, restarts and snapshots, the versions
 * snapshots carry (epoch and offset: a reset to an earlier offset starts
 * a new epoch), the gauges of offsets and held batches, and the bytes
 * its caches and tables hold. What the ops do (merges, sums, invalid
 * ops, aggregates) is test_apply_ops.c's.
 *
 * Each test gets its own temp dir (made in .init, removed in .fini) with
 * a store and an applier for 4 partitions with set counters likes, saves
 * and sum counters views, shares (apply_fixture.h).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/testdir.h"
#include "tests/unit/central/apply_fixture.h"
#include "central/apply/apply.h"
#include "central/apply/keys.h"
#include "counter.h"
#include "err.h"
#include "memacct.h"
#include "partition.h"
#include "store.h"
#include "version.h"
#include "wire.h"

TestSuite(apply, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------- */

static const wire_count *snap_count(const wire_snapshot *s, const char *item)
{
	for (uint32_t i = 0; i < s->ncounts; i++)
		if (s->counts[i].item.n == strlen(item) &&
		    memcmp(s->counts[i].item.p, item, s->counts[i].item.n) == 0 &&
		    s->counts[i].counter.n == 5 && memcmp(s->counts[i].counter.p, "likes", 5) == 0)
			return &s->counts[i];
	return NULL;
}

/* ---- order --------------------------------------------------------------- */

Test(apply, in_order_batches_apply_and_count)
{
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 10));
	cr_assert_eq(count(), 1);
	apply_msg(0, 1, one_op("a", 0, 2, "u2", true, 11));
	cr_assert_eq(count(), 2);
	apply_msg(0, 2, one_op("a", 0, 3, "u1", false, 12));
	cr_assert_eq(count(), 1);
	applier_stats st = stats();
	cr_assert_eq(st.batches_applied, 3);
	cr_assert_eq(st.ops_applied, 3);
	int64_t off;
	cr_assert_eq(applier_resume_offset(T.a, 0, &off), 0);
	cr_assert_eq(off, 3);
}

Test(apply, many_ops_in_one_batch_apply_together)
{
	wire_op ops[3] = {like_op("u1", true, 10), like_op("u2", true, 11),
	                  like_op("u1", false, 12)};
	apply_msg(2, 0, make_batch("a", 2, 1, ops, 3));
	cr_assert_eq(count(), 1);
}

Test(apply, duplicate_batch_changes_nothing)
{
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 10));
	/* The same seq again, even with other content, is a duplicate. */
	apply_msg(0, 1, one_op("a", 0, 1, "u2", true, 11));
	apply_msg(0, 2, one_op("a", 0, 1, "u1", true, 10));
	cr_assert_eq(count(), 1);
	applier_stats st = stats();
	cr_assert_eq(st.batches_duplicate, 2);
	cr_assert_eq(st.batches_applied, 1);
	int64_t off;
	cr_assert_eq(applier_resume_offset(T.a, 0, &off), 0);
	cr_assert_eq(off, 3, "a duplicate still moves the offset");
}

Test(apply, batch_after_a_gap_is_held_until_the_gap_fills)
{
	apply_msg(1, 0, one_op("a", 1, 1, "u1", true, 10));
	apply_msg(1, 1, one_op("a", 1, 3, "u3", true, 30));
	cr_assert_eq(count(), 1, "a held batch must not apply");
	cr_assert_eq(stats().batches_held, 1);

	wire_snapshot s;
	bool more;
	applier_snapshot(T.a, 1, 100, &s, &more);
	const wire_edge_seq *e = snap_edge(&s, "a");
	cr_assert_not_null(e);
	cr_assert_eq(e->applied, 1);
	cr_assert_eq(e->held, 3);
	wire_snapshot_free(&s);

	apply_msg(1, 2, one_op("a", 1, 2, "u2", true, 20));
	cr_assert_eq(count(), 3, "seq 2 and the held seq 3 both apply");
	applier_snapshot(T.a, 1, 100, &s, &more);
	e = snap_edge(&s, "a");
	cr_assert_not_null(e);
	cr_assert_eq(e->applied, 3);
	cr_assert_eq(e->held, 0);
	wire_snapshot_free(&s);

	/* The held batch was consumed: seq 3 again is now a duplicate. */
	apply_msg(1, 3, one_op("a", 1, 3, "u9", true, 40));
	cr_assert_eq(count(), 3);
}

Test(apply, gap_fill_stops_at_the_next_gap)
{
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 10));
	apply_msg(0, 1, one_op("a", 0, 3, "u3", true, 30));
	apply_msg(0, 2, one_op("a", 0, 5, "u5", true, 50));
	apply_msg(0, 3, one_op("a", 0, 2, "u2", true, 20));
	cr_assert_eq(count(), 3, "1, 2, 3 applied; 5 still held behind 4");

	wire_snapshot s;
	bool more;
	applier_snapshot(T.a, 0, 100, &s, &more);
	const wire_edge_seq *e = snap_edge(&s, "a");
	cr_assert_not_null(e);
	cr_assert_eq(e->applied, 3);
	cr_assert_eq(e->held, 5);
	wire_snapshot_free(&s);

	apply_msg(0, 4, one_op("a", 0, 4, "u4", true, 40));
	cr_assert_eq(count(), 5);
}

/* ---- malformed input ----------------------------------------------------- */

Test(apply, malformed_message_is_skipped_but_its_offset_is_stored)
{
	static const char junk[] = "\xc1 this is not msgpack";
	cr_assert_eq(applier_apply(T.a, 2, 41, junk, sizeof junk - 1, 0), 0);
	int64_t off = -1;
	cr_assert_eq(applier_resume_offset(T.a, 2, &off), 0);
	cr_assert_eq(off, 42);
	cr_assert_eq(stats().batches_bad, 1);
	cr_assert_eq(count(), 0);

	reopen();
	off = -1;
	cr_assert_eq(applier_resume_offset(T.a, 2, &off), 0);
	cr_assert_eq(off, 42, "the skipped offset is durable");
}

Test(apply, batch_for_another_partition_is_skipped)
{
	apply_msg(0, 7, one_op("a", 3, 1, "u1", true, 10));
	cr_assert_eq(count(), 0);
	cr_assert_eq(stats().batches_bad, 1);
	int64_t off;
	cr_assert_eq(applier_resume_offset(T.a, 0, &off), 0);
	cr_assert_eq(off, 8);
}

Test(apply, resume_offset_is_notfound_before_any_message)
{
	int64_t off;
	cr_assert_eq(applier_resume_offset(T.a, 0, &off), ERR_NOTFOUND);
	cr_assert_eq(applier_resume_offset(T.a, NPARTS, &off), ERR_NOTFOUND);
}

/* ---- restarts ------------------------------------------------------------ */

Test(apply, state_survives_reopening)
{
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 10));
	apply_msg(0, 1, one_op("a", 0, 3, "u3", true, 30));
	cr_assert_eq(count(), 1);

	reopen();
	cr_assert_eq(count(), 1);
	int64_t off;
	cr_assert_eq(applier_resume_offset(T.a, 0, &off), 0);
	cr_assert_eq(off, 2);

	wire_snapshot s;
	bool more;
	applier_snapshot(T.a, 0, 100, &s, &more);
	const wire_edge_seq *e = snap_edge(&s, "a");
	cr_assert_not_null(e, "the edge's sequences are loaded");
	cr_assert_eq(e->applied, 1);
	cr_assert_eq(e->held, 3);
	wire_snapshot_free(&s);

	apply_msg(0, 2, one_op("a", 0, 1, "u9", true, 40));
	cr_assert_eq(count(), 1, "seq 1 again is a duplicate after reopening");
	cr_assert_eq(stats().batches_duplicate, 1);

	apply_msg(0, 3, one_op("a", 0, 2, "u2", true, 20));
	cr_assert_eq(count(), 3, "seq 2 fills the gap held before the reopen");

	reopen();
	applier_snapshot(T.a, 0, 100, &s, &more);
	e = snap_edge(&s, "a");
	cr_assert_not_null(e);
	cr_assert_eq(e->applied, 3);
	cr_assert_eq(e->held, 0);
	wire_snapshot_free(&s);
	apply_msg(0, 4, one_op("a", 0, 3, "u8", true, 50));
	cr_assert_eq(count(), 3, "the held batch is gone from the store once applied");
}

Test(apply, membership_survives_reopening)
{
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 100));
	reopen();
	/* An older unlike loses to the stored like; a newer one wins. */
	apply_msg(0, 1, one_op("b", 0, 1, "u1", false, 50));
	cr_assert_eq(count(), 1);
	apply_msg(0, 2, one_op("b", 0, 2, "u1", false, 150));
	cr_assert_eq(count(), 0);
}

/* ---- snapshots ----------------------------------------------------------- */

Test(apply, snapshot_returns_changed_counts_once)
{
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 10));
	apply_msg(0, 1, one_op("b", 0, 1, "u2", true, 11));
	cr_assert(applier_dirty(T.a, 0));
	cr_assert_not(applier_dirty(T.a, 1));

	wire_snapshot s;
	bool more = true;
	applier_snapshot(T.a, 0, 100, &s, &more);
	cr_assert_not(more);
	cr_assert(s.last);
	cr_assert_eq(s.partition, 0);
	cr_assert_eq(s.offset, 2);
	cr_assert_eq(s.ncounts, 1);
	const wire_count *c = snap_count(&s, ITEM);
	cr_assert_not_null(c);
	cr_assert_eq(c->count, 2);
	cr_assert_eq(s.nedges, 2);
	cr_assert_eq(snap_edge(&s, "a")->applied, 1);
	cr_assert_eq(snap_edge(&s, "b")->applied, 1);
	wire_snapshot_free(&s);
	cr_assert_not(applier_dirty(T.a, 0));

	applier_snapshot(T.a, 0, 100, &s, &more);
	cr_assert_eq(s.ncounts, 0, "nothing changed since the last snapshot");
	cr_assert_eq(s.nedges, 2, "edges are in every snapshot");
	cr_assert_eq(s.offset, 2);
	wire_snapshot_free(&s);
}

Test(apply, snapshot_splits_counts_over_max_counts)
{
	char items[3][16];
	wire_op ops[3];
	for (int i = 0; i < 3; i++) {
		snprintf(items[i], sizeof items[i], "post:%d", 10 + i);
		ops[i] = like_op("u1", true, (uint64_t)(10 + i));
		ops[i].item = wire_cstr(items[i], strlen(items[i]));
	}
	apply_msg(0, 0, make_batch("a", 0, 1, ops, 3));

	wire_snapshot s;
	bool more;
	int seen[3] = {0};
	int rounds = 0;
	do {
		applier_snapshot(T.a, 0, 2, &s, &more);
		cr_assert_leq(s.ncounts, 2);
		cr_assert_eq(s.last, !more);
		for (uint32_t i = 0; i < s.ncounts; i++)
			for (int j = 0; j < 3; j++)
				if (s.counts[i].item.n == strlen(items[j]) &&
				    memcmp(s.counts[i].item.p, items[j], s.counts[i].item.n) == 0)
					seen[j]++;
		wire_snapshot_free(&s);
		cr_assert_lt(++rounds, 4);
	} while (more);
	cr_assert_eq(rounds, 2);
	for (int j = 0; j < 3; j++)
		cr_assert_eq(seen[j], 1, "item %d emitted once", j);
}

Test(apply, failed_snapshot_puts_counts_back)
{
	apply_msg(3, 0, one_op("a", 3, 1, "u1", true, 10));
	wire_snapshot s;
	bool more;
	applier_snapshot(T.a, 3, 100, &s, &more);
	cr_assert_eq(s.ncounts, 1);
	wire_snapshot_free(&s);

	applier_snapshot_failed(T.a, 3);
	cr_assert(applier_dirty(T.a, 3));
	applier_snapshot(T.a, 3, 100, &s, &more);
	cr_assert_eq(s.ncounts, 1, "the count comes back after a failure");
	cr_assert_eq(snap_count(&s, ITEM)->count, 1);
	wire_snapshot_free(&s);

	/* A newer count wins over the failed one. */
	applier_snapshot(T.a, 3, 100, &s, &more);
	wire_snapshot_free(&s);
	apply_msg(3, 1, one_op("a", 3, 2, "u2", true, 11));
	applier_snapshot(T.a, 3, 100, &s, &more);
	wire_snapshot_free(&s);
	apply_msg(3, 2, one_op("a", 3, 3, "u3", true, 12));
	applier_snapshot_failed(T.a, 3);
	applier_snapshot(T.a, 3, 100, &s, &more);
	cr_assert_eq(s.ncounts, 1);
	cr_assert_eq(snap_count(&s, ITEM)->count, 3);
	wire_snapshot_free(&s);
}

Test(apply, reset_offset_moves_the_resume_point)
{
	apply_msg(0, 5, one_op("a", 0, 1, "u1", true, 10));
	cr_assert_eq(applier_reset_offset(T.a, 0, 100, false), 0);
	int64_t off;
	cr_assert_eq(applier_resume_offset(T.a, 0, &off), 0);
	cr_assert_eq(off, 100);
	reopen();
	cr_assert_eq(applier_resume_offset(T.a, 0, &off), 0);
	cr_assert_eq(off, 100);
	cr_assert_eq(applier_reset_offset(T.a, NPARTS, 1, false), ERR_INVAL);
	cr_assert_eq(applier_reset_offset(T.a, 0, -1, true), ERR_INVAL);
}

/* ---- versions and epochs ------------------------------------------------- */

/* The n of the next snapshot of p. */
static uint64_t snapshot_n(uint32_t p)
{
	wire_snapshot s;
	bool more;
	applier_snapshot(T.a, p, 100, &s, &more);
	uint64_t n = s.offset;
	wire_snapshot_free(&s);
	return n;
}

/* The version of p read from a store view, as the ops API reads it. */
static uint64_t view_version(uint32_t p)
{
	store_snap *sn = store_snap_new(T.db);
	uint64_t v = 12345;
	cr_assert_eq(applier_view_version(sn, p, &v), 0);
	store_snap_free(sn);
	return v;
}

Test(apply, epoch_0_versions_are_the_offsets)
{
	cr_assert_eq(applier_epoch(T.a, 1), 0);
	cr_assert_eq(applier_version(T.a, 1), 0, "nothing consumed yet");
	cr_assert_eq(view_version(1), 0);
	apply_msg(1, 41, one_op("a", 1, 1, "u1", true, 10));
	cr_assert_eq(applier_version(T.a, 1), 42);
	cr_assert_eq(view_version(1), 42);
	cr_assert_eq(snapshot_n(1), 42);
}

Test(apply, offsets_going_backwards_start_a_new_epoch_and_versions_still_grow)
{
	uint64_t seen = 0;
	for (int64_t off = 0; off < 50; off++) {
		apply_msg(2, off, one_op("a", 2, (uint64_t)off + 1, "u1", off % 2 == 0, 10 + off));
		uint64_t n = snapshot_n(2);
		cr_assert_gt(n, seen);
		seen = n;
	}
	cr_assert_eq(seen, 50);
	/* The broker restarted empty: its offsets begin again at 0. */
	cr_assert_eq(applier_reset_offset(T.a, 2, 0, true), 0);
	cr_assert_eq(applier_epoch(T.a, 2), 1);
	uint64_t n = snapshot_n(2);
	cr_assert_gt(n, seen, "the reset's own snapshot: %" PRIu64 " after %" PRIu64, n, seen);
	cr_assert_eq(n, version_make(1, 0));
	cr_assert_eq(view_version(2), n, "the view reads the same version");
	seen = n;
	for (int64_t off = 0; off < 10; off++) {
		apply_msg(2, off, one_op("b", 2, (uint64_t)off + 1, "u2", true, 100 + off));
		n = snapshot_n(2);
		cr_assert_gt(n, seen);
		cr_assert_gt(n, (uint64_t)50, "above every version of the old epoch");
		seen = n;
	}
	cr_assert_eq(version_epoch(seen), 1);
	cr_assert_eq(version_offset(seen), 10);
	cr_assert_eq(applier_version(T.a, 2), seen);
	cr_assert_eq(view_version(2), seen);
	cr_assert_eq(view_version(3), 0, "other partitions keep epoch 0");

	/* The epoch is stored with the offset: it survives a restart. */
	reopen();
	cr_assert_eq(applier_epoch(T.a, 2), 1);
	cr_assert_eq(applier_version(T.a, 2), seen);
	cr_assert_eq(snapshot_n(2), seen);
}

Test(apply, offsets_lost_to_retention_keep_the_epoch)
{
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 10));
	cr_assert_eq(applier_reset_offset(T.a, 0, 0, true), 0); /* epoch 1 */
	apply_msg(0, 3, one_op("a", 0, 2, "u2", true, 11));
	uint64_t before = snapshot_n(0);
	cr_assert_eq(before, version_make(1, 4));
	/* Retention dropped offsets 4..99 before central read them. */
	cr_assert_eq(applier_reset_offset(T.a, 0, 100, false), 0);
	cr_assert_eq(applier_epoch(T.a, 0), 1);
	uint64_t after = snapshot_n(0);
	cr_assert_eq(after, version_make(1, 100));
	cr_assert_gt(after, before);
	reopen();
	cr_assert_eq(view_version(0), after);
}

Test(apply, a_failed_reset_changes_neither_offset_nor_epoch)
{
	apply_msg(0, 7, one_op("a", 0, 1, "u1", true, 10));
	store_fail_writes(T.db, 1);
	cr_assert_eq(applier_reset_offset(T.a, 0, 0, true), ERR_IO);
	cr_assert_eq(applier_epoch(T.a, 0), 0);
	cr_assert_eq(applier_version(T.a, 0), 8);
	cr_assert_eq(view_version(0), 8);
}

Test(apply, epochs_stop_at_their_maximum)
{
	unsigned char k[8], v[CKEY_EPOCH_LEN];
	store_batch *b = store_batch_new();
	store_put_u32(v, VERSION_EPOCH_MAX);
	store_batch_put(b, k, ckey_epoch(k, 1), v, sizeof v);
	cr_assert_eq(store_write(T.db, b), 0);
	store_batch_free(b);
	reopen();
	cr_assert_eq(applier_epoch(T.a, 1), VERSION_EPOCH_MAX);
	cr_assert_eq(applier_reset_offset(T.a, 1, 0, true), ERR_FULL);
	cr_assert_eq(applier_epoch(T.a, 1), VERSION_EPOCH_MAX);
	cr_assert_eq(applier_reset_offset(T.a, 1, 5, false), 0, "retention still moves on");
	cr_assert_eq(view_version(1), version_make(VERSION_EPOCH_MAX, 5));
}

Test(apply, a_stored_epoch_of_the_wrong_size_is_refused_at_start)
{
	unsigned char k[8];
	store_batch *b = store_batch_new();
	store_batch_put(b, k, ckey_epoch(k, 0), "xyz", 3);
	cr_assert_eq(store_write(T.db, b), 0);
	store_batch_free(b);
	applier_free(T.a);
	char err[256];
	T.a = applier_new(T.db, NPARTS, &T.ctr, err, sizeof err);
	cr_assert_null(T.a);
	store_snap *sn = store_snap_new(T.db);
	uint64_t ver;
	cr_assert_eq(applier_view_version(sn, 0, &ver), ERR_CORRUPT);
	store_snap_free(sn);
}

/* ---- header checks ------------------------------------------------------- */

Test(apply, batch_with_a_bad_region_is_skipped)
{
	wire_op op = like_op("u1", true, 10);
	apply_msg(0, 0, make_batch_in("a", "Bad Region", 0, 1, &op, 1));
	cr_assert_eq(count(), 0);
	cr_assert_eq(stats().batches_bad, 1);
	apply_msg(0, 1, make_batch_in("a", "", 0, 1, &op, 1));
	cr_assert_eq(stats().batches_bad, 2, "an empty region is refused too");
	cr_assert_eq(count(), 0);
}

Test(apply, metrics_gauges_follow_offsets_and_held_batches)
{
	cr_assert_eq(applier_input_offset(T.a, 3), -1);
	apply_msg(3, 41, one_op("a", 3, 2, "u1", true, 10));
	cr_assert_eq(applier_input_offset(T.a, 3), 42);
	cr_assert_eq(applier_held_batches(T.a, 3), 1);
	reopen();
	cr_assert_eq(applier_held_batches(T.a, 3), 1, "held batches are counted on load");
	cr_assert_eq(applier_input_offset(T.a, 3), 42);
	apply_msg(3, 42, one_op("a", 3, 1, "u2", true, 11));
	cr_assert_eq(applier_held_batches(T.a, 3), 0);
	cr_assert_eq(count(), 2);
	cr_assert_eq(applier_input_offset(T.a, NPARTS), -1);
}

/* ---- memory -------------------------------------------------------------- */

static applier_memory memory(void)
{
	applier_memory m;
	applier_get_memory(T.a, &m);
	return m;
}

/* One batch of edge "a" on partition 0, number seq, liking n items from
 * first on (item "post:mI" by user u). */
static void like_items(uint64_t seq, int first, int n, const char *user, bool add)
{
	wire_op ops[100];
	char items[100][24];
	cr_assert_leq(n, 100);
	for (int i = 0; i < n; i++) {
		snprintf(items[i], sizeof items[i], "post:m%d", first + i);
		ops[i] = wire_util_op("likes", items[i], user, add ? WIRE_ADD : WIRE_REMOVE, 1,
		                      10 + seq);
	}
	apply_msg(0, (int64_t)seq - 1, make_batch("a", 0, seq, ops, (size_t)n));
}

Test(apply, an_idle_applier_holds_nothing_in_its_caches_and_tables)
{
	applier_memory m = memory();
	cr_assert_eq(m.count_cache, 0);
	cr_assert_eq(m.member_cache, 0);
	cr_assert_eq(m.working_set, 0);
	cr_assert_eq(m.snapshot_changes, 0);
}

Test(apply, the_caches_grow_with_the_items_applied_and_stay_near_their_bounds)
{
	applier_set_cache(T.a, 1000, 1000);
	like_items(1, 0, 10, "u", true);
	applier_memory ten = memory();
	cr_assert_gt(ten.count_cache, 0, "the counts and buckets just written");
	cr_assert_eq(ten.member_cache, 0, "a membership is cached the second time it is read");
	cr_assert_gt(ten.working_set, 0, "the working set keeps its table for the next message");
	like_items(2, 0, 10, "u", false);
	cr_assert_gt(memory().member_cache, 0, "read again: now cached");
	uint64_t seq = 3, most = 0;
	for (int first = 10; first < 20000; first += 100) {
		like_items(seq++, first, 100, "u", true);
		applier_memory m = memory();
		most = m.count_cache > most ? m.count_cache : most;
	}
	/* A count, a region and a day bucket an item: 1000 entries in two
	 * generations of 500, each at most 1024 slots, 1024 entries and
	 * two arena blocks. */
	cr_assert_leq(most, 2 * (1024 * 8 + 1024 * 48 + 2 * 65552), "%lu", (unsigned long)most);
	cr_assert_gt(memory().count_cache, ten.count_cache);
}

Test(apply, snapshot_changes_grow_with_the_counts_changed_and_go_with_their_snapshots)
{
	like_items(1, 0, 100, "u", true);
	uint64_t hundred = memory().snapshot_changes;
	cr_assert_gt(hundred, 100 * 16, "a key of each count changed");
	like_items(2, 0, 100, "v", true);
	cr_assert_eq(memory().snapshot_changes, hundred, "the same counts again: no more keys");
	wire_snapshot s;
	bool more;
	applier_snapshot(T.a, 0, 1000, &s, &more);
	wire_snapshot_free(&s);
	uint64_t sent = memory().snapshot_changes;
	cr_assert_geq(sent, hundred, "the last snapshot's keys are kept until the next");
	applier_snapshot(T.a, 0, 1000, &s, &more);
	wire_snapshot_free(&s);
	cr_assert_leq(memory().snapshot_changes, sent - 100 * memacct_chunk(16),
	              "the keys go, the maps' slots stay: %lu of %lu bytes",
	              (unsigned long)memory().snapshot_changes, (unsigned long)sent);
}

/* ---- marked again after a restart (central/resnap.h) --------------------- */

Test(apply, a_count_marked_changed_goes_in_the_next_snapshot_with_its_stored_value)
{
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 10));
	apply_msg(0, 1, one_op("a", 0, 2, "u2", true, 11));
	wire_snapshot s;
	bool more;
	uint32_t p = partition_of(ITEM, strlen(ITEM), 4);
	applier_snapshot(T.a, p, 100, &s, &more);
	wire_snapshot_free(&s);
	cr_assert_not(applier_dirty(T.a, p), "everything went in that snapshot");
	/* As after a restart whose last snapshots never reached Kafka. */
	cr_assert_eq(applier_mark_changed(T.a, "likes", 5, ITEM, strlen(ITEM)), 0);
	cr_assert(applier_dirty(T.a, p));
	applier_snapshot(T.a, p, 100, &s, &more);
	const wire_count *c = snap_count(&s, ITEM);
	cr_assert_not_null(c, "the marked count is in the snapshot");
	cr_assert_eq(c->count, 2, "with the count the store holds");
	wire_snapshot_free(&s);
	/* An item never counted goes out as 0; bad names are refused. */
	cr_assert_eq(applier_mark_changed(T.a, "likes", 5, "post:none", 9), 0);
	cr_assert_eq(applier_mark_changed(T.a, "likes", 5, "", 0), ERR_INVAL);
	cr_assert_eq(applier_mark_changed(T.a, "", 0, ITEM, strlen(ITEM)), ERR_INVAL);
}
