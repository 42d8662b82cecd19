/* test_apply.c - central's batch applier over a real LevelDB store:
 * order per (edge, partition), duplicates, gaps and held batches, LWW
 * across edges, sum counters and their exactly-once delivery, invalid ops
 * skipped among valid ones, per-region and per-day aggregates, malformed
 * input, restarts and snapshots, and the versions snapshots carry
 * (epoch and offset: a reset to an earlier offset starts a new epoch).
 *
 * Each test gets its own temp dir (made in .init, removed in .fini) with
 * a store and an applier for 4 partitions with set counters likes, saves
 * and sum counters views, shares.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/testdir.h"
#include "central/apply.h"
#include "central/day.h"
#include "central/keys.h"
#include "central/merge.h"
#include "counter.h"
#include "err.h"
#include "hlc.h"
#include "log.h"
#include "store.h"
#include "version.h"
#include "wire.h"

#define NPARTS 4
#define ITEM "post:1"

static struct {
	char dir[64];
	store *db;
	counters ctr;
	applier *a;
} T;

static applier *new_applier(void)
{
	char err[256];
	applier *a = applier_new(T.db, NPARTS, &T.ctr, err, sizeof err);
	cr_assert_not_null(a, "applier_new: %s", err);
	return a;
}

static void setup(void)
{
	log_threshold = LOG_ERROR;
	char err[256];
	cr_assert_eq(counters_parse(&T.ctr, "likes,saves", "views,shares", err, sizeof err), 0,
	             "%s", err);
	testdir_make(T.dir, sizeof T.dir, "test_apply");
	T.db = testdir_open_store(T.dir);
	T.a = new_applier();
}

static void teardown(void)
{
	applier_free(T.a);
	T.a = NULL;
	if (T.db)
		store_close(T.db);
	T.db = NULL;
	counters_free(&T.ctr);
	testdir_remove(T.dir);
}

TestSuite(apply, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------- */

typedef struct msg {
	char *buf;
	size_t len;
} msg;

static wire_op like_op(const char *user, bool add, uint64_t ts)
{
	return (wire_op){wire_cstr("likes", 5),
	                 wire_cstr(ITEM, strlen(ITEM)),
	                 wire_cstr(user, strlen(user)),
	                 add ? WIRE_ADD : WIRE_REMOVE,
	                 1,
	                 ts};
}

/* A batch from edge in region for partition p with the given ops. */
static msg make_batch_in(const char *edge, const char *region, uint32_t p, uint64_t seq,
                         const wire_op *ops, size_t nops)
{
	wire_batch b = {wire_cstr(edge, strlen(edge)),
	                wire_cstr(region, strlen(region)),
	                p,
	                seq,
	                1000,
	                (uint32_t)nops,
	                (wire_op *)ops,
	                0,
	                NULL};
	msg m;
	cr_assert_eq(wire_encode_batch(&b, &m.buf, &m.len), 0);
	return m;
}

static msg make_batch(const char *edge, uint32_t p, uint64_t seq, const wire_op *ops, size_t nops)
{
	return make_batch_in(edge, "eu", p, seq, ops, nops);
}

static applier_stats stats(void)
{
	applier_stats st;
	applier_get_stats(T.a, &st);
	return st;
}

/* A batch with one like (or unlike) of ITEM by user. */
static msg one_op(const char *edge, uint32_t p, uint64_t seq, const char *user, bool add,
                  uint64_t ts)
{
	wire_op op = like_op(user, add, ts);
	return make_batch(edge, p, seq, &op, 1);
}

static void apply_msg(uint32_t p, int64_t offset, msg m)
{
	int rc = applier_apply(T.a, p, offset, m.buf, m.len);
	free(m.buf);
	cr_assert_eq(rc, 0, "applier_apply: %s", err_str(rc));
}

static uint64_t count(void)
{
	uint64_t c = 12345;
	cr_assert_eq(applier_count(T.a, "likes", ITEM, &c), 0);
	return c;
}

static const wire_edge_seq *snap_edge(const wire_snapshot *s, const char *edge)
{
	for (uint32_t i = 0; i < s->nedges; i++)
		if (s->edges[i].edge.n == strlen(edge) &&
		    memcmp(s->edges[i].edge.p, edge, s->edges[i].edge.n) == 0)
			return &s->edges[i];
	return NULL;
}

static const wire_count *snap_count(const wire_snapshot *s, const char *item)
{
	for (uint32_t i = 0; i < s->ncounts; i++)
		if (s->counts[i].item.n == strlen(item) &&
		    memcmp(s->counts[i].item.p, item, s->counts[i].item.n) == 0 &&
		    s->counts[i].counter.n == 5 && memcmp(s->counts[i].counter.p, "likes", 5) == 0)
			return &s->counts[i];
	return NULL;
}

static void reopen(void)
{
	applier_free(T.a);
	store_close(T.db);
	T.db = testdir_open_store(T.dir);
	T.a = new_applier();
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

/* ---- merge across edges -------------------------------------------------- */

Test(apply, like_then_later_unlike_elsewhere_ends_at_zero_in_both_orders)
{
	/* Order 1 on partition 0, order 2 on partition 1: the store's state
	 * is per (counter, item, user), so use two users. */
	wire_op like1 = like_op("u1", true, 100), unlike1 = like_op("u1", false, 200);
	apply_msg(0, 0, make_batch("a", 0, 1, &like1, 1));
	apply_msg(0, 1, make_batch("b", 0, 1, &unlike1, 1));
	cr_assert_eq(count(), 0, "like then unlike");

	wire_op like2 = like_op("u2", true, 100), unlike2 = like_op("u2", false, 200);
	apply_msg(1, 0, make_batch("b", 1, 1, &unlike2, 1));
	cr_assert_eq(count(), 0);
	apply_msg(1, 1, make_batch("a", 1, 1, &like2, 1));
	cr_assert_eq(count(), 0, "unlike then the older like");
}

Test(apply, two_edges_liking_for_one_user_count_once)
{
	apply_msg(0, 0, one_op("a", 0, 1, "u1", true, 100));
	apply_msg(0, 1, one_op("b", 0, 1, "u1", true, 101));
	apply_msg(0, 2, one_op("c", 0, 1, "u1", true, 99));
	cr_assert_eq(count(), 1);
}

Test(apply, unknown_counter_op_is_refused_and_others_apply)
{
	wire_op ops[2] = {like_op("u1", true, 10), like_op("u2", true, 11)};
	ops[0].counter = wire_cstr("hugs", 4);
	apply_msg(0, 0, make_batch("a", 0, 1, ops, 2));
	cr_assert_eq(count(), 1);
	cr_assert_eq(stats().ops_invalid, 1);
}

/* ---- malformed input ----------------------------------------------------- */

Test(apply, malformed_message_is_skipped_but_its_offset_is_stored)
{
	static const char junk[] = "\xc1 this is not msgpack";
	cr_assert_eq(applier_apply(T.a, 2, 41, junk, sizeof junk - 1), 0);
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

/* ---- sum counters and invalid ops ---------------------------------------- */

#define DAY0 20000u /* 2024-10-04 */

/* An hlc in UTC day d, ms milliseconds into it. */
static uint64_t hlc_on(uint32_t d, uint64_t ms)
{
	return hlc_make((uint64_t)d * DAY_MS + ms, 0);
}

static wire_op sum_op(const char *counter, const char *user, uint32_t n, uint64_t ts)
{
	return (wire_op){wire_cstr(counter, strlen(counter)),
	                 wire_cstr(ITEM, strlen(ITEM)),
	                 wire_cstr(user, strlen(user)),
	                 WIRE_ADD,
	                 n,
	                 ts};
}

static uint64_t count_of(const char *counter)
{
	uint64_t c = 12345;
	cr_assert_eq(applier_count(T.a, counter, ITEM, &c), 0);
	return c;
}

/* A region or day bucket of ITEM straight from the store; 0 when absent. */
static uint64_t stored(const unsigned char *key, size_t kn)
{
	uint64_t v = 0;
	int rc = store_read_u64(T.db, key, kn, &v);
	cr_assert(rc == 0 || rc == ERR_NOTFOUND, "store_read_u64: %s", err_str(rc));
	return rc == 0 ? v : 0;
}

static uint64_t by_region(const char *counter, const char *region)
{
	unsigned char k[CKEY_MAX];
	return stored(k, ckey_region(k, counter, strlen(counter), ITEM, strlen(ITEM), region,
	                             strlen(region)));
}

static uint64_t by_day(const char *counter, uint32_t d)
{
	unsigned char k[CKEY_MAX];
	return stored(k, ckey_day(k, counter, strlen(counter), ITEM, strlen(ITEM), d));
}

/* Sums every 'R' or 'Y' bucket of (counter, ITEM); also checks that no
 * bucket of 0 is kept. */
static uint64_t bucket_sum(char tag, const char *counter)
{
	unsigned char pre[CKEY_MAX];
	size_t pn = ckey_breakdown_prefix(pre, tag, counter, strlen(counter), ITEM, strlen(ITEM));
	store_iter *it = store_iter_new(T.db, pre, pn);
	const char *k, *v;
	size_t kn, vn;
	uint64_t sum = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		cr_assert_eq(vn, 8);
		uint64_t x = store_get_u64((const unsigned char *)v);
		cr_assert_gt(x, 0, "an empty %c bucket was kept", tag);
		sum += x;
	}
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	return sum;
}

static void assert_breakdowns_sum_to_count(const char *counter)
{
	uint64_t c = count_of(counter);
	cr_assert_eq(bucket_sum('R', counter), c, "%s: regions do not sum to the count", counter);
	cr_assert_eq(bucket_sum('Y', counter), c, "%s: days do not sum to the count", counter);
}

Test(apply, sum_ops_add_n_to_the_count_and_its_buckets)
{
	wire_op ops[3] = {sum_op("views", "u1", 5, hlc_on(DAY0, 1)),
	                  sum_op("views", "u1", 3, hlc_on(DAY0 + 1, 1)),
	                  sum_op("shares", "u2", 1000, hlc_on(DAY0, 2))};
	apply_msg(0, 0, make_batch_in("m1", "mumbai", 0, 1, ops, 3));
	wire_op more = sum_op("views", "u9", 2, hlc_on(DAY0 + 1, 5));
	apply_msg(0, 1, make_batch_in("v1", "virginia", 0, 1, &more, 1));

	cr_assert_eq(count_of("views"), 10);
	cr_assert_eq(count_of("shares"), 1000);
	cr_assert_eq(count(), 0, "sums do not touch set counters");
	cr_assert_eq(by_region("views", "mumbai"), 8);
	cr_assert_eq(by_region("views", "virginia"), 2);
	cr_assert_eq(by_day("views", DAY0), 5);
	cr_assert_eq(by_day("views", DAY0 + 1), 5);
	assert_breakdowns_sum_to_count("views");
	assert_breakdowns_sum_to_count("shares");
	cr_assert_eq(stats().ops_applied, 4);
}

/* A version-2 batch: ops plus sums, with the given invalid sums too. */
static msg make_sums_batch(const char *edge, const char *region, uint32_t p, uint64_t seq,
                           const wire_op *ops, size_t nops, const wire_sum *sums, size_t nsums)
{
	wire_batch b = {wire_cstr(edge, strlen(edge)),
	                wire_cstr(region, strlen(region)),
	                p,
	                seq,
	                1000,
	                (uint32_t)nops,
	                (wire_op *)ops,
	                (uint32_t)nsums,
	                (wire_sum *)sums};
	msg m;
	cr_assert_eq(wire_encode_batch(&b, &m.buf, &m.len), 0);
	return m;
}

static wire_sum item_sum(const char *counter, uint64_t n, uint64_t ts)
{
	return (wire_sum){wire_cstr(counter, strlen(counter)), wire_cstr(ITEM, strlen(ITEM)), n,
	                  ts};
}

Test(apply, sums_move_the_count_and_its_buckets_as_their_ops_would)
{
	wire_op like = like_op("u1", true, hlc_on(DAY0, 1));
	wire_sum sums[3] = {item_sum("views", 5000, hlc_on(DAY0, 9)),
	                    item_sum("views", 3, hlc_on(DAY0 + 1, 1)),
	                    item_sum("shares", 2, hlc_on(DAY0, 3))};
	apply_msg(0, 0, make_sums_batch("m1", "mumbai", 0, 1, &like, 1, sums, 3));
	/* The same views as ops, from another region, for comparison. */
	wire_op ops[2] = {sum_op("views", "u7", 4, hlc_on(DAY0, 2)),
	                  sum_op("views", "u8", 1, hlc_on(DAY0 + 1, 2))};
	apply_msg(0, 1, make_batch_in("v1", "virginia", 0, 1, ops, 2));
	cr_assert_eq(count(), 1, "the like in the same batch applies");
	cr_assert_eq(count_of("views"), 5008);
	cr_assert_eq(count_of("shares"), 2);
	cr_assert_eq(by_region("views", "mumbai"), 5003);
	cr_assert_eq(by_region("views", "virginia"), 5);
	cr_assert_eq(by_day("views", DAY0), 5004);
	cr_assert_eq(by_day("views", DAY0 + 1), 4);
	assert_breakdowns_sum_to_count("views");
	assert_breakdowns_sum_to_count("shares");
	/* A redelivery of the sums batch changes nothing. */
	apply_msg(0, 2, make_sums_batch("m1", "mumbai", 0, 1, &like, 1, sums, 3));
	cr_assert_eq(count_of("views"), 5008);
}

Test(apply, invalid_sums_are_skipped_and_the_rest_applies)
{
	wire_sum sums[4] = {item_sum("likes", 2, hlc_on(DAY0, 1)), /* a set counter */
	                    item_sum("nope", 2, hlc_on(DAY0, 1)),
	                    {wire_cstr("views", 5), wire_cstr("bad item", 8), 2, hlc_on(DAY0, 1)},
	                    item_sum("views", 6, hlc_on(DAY0, 1))};
	apply_msg(0, 0, make_sums_batch("m1", "mumbai", 0, 1, NULL, 0, sums, 4));
	cr_assert_eq(count_of("views"), 6);
	cr_assert_eq(count(), 0, "a sum never moves a set counter");
	applier_stats st = stats();
	cr_assert_eq(st.ops_invalid, 3);
	cr_assert_eq(st.ops_applied, 1);
	cr_assert_eq(st.batches_applied, 1);
}

Test(apply, redelivered_sum_batch_does_not_count_twice)
{
	wire_op ops[2] = {sum_op("views", "u1", 7, hlc_on(DAY0, 1)),
	                  sum_op("views", "u2", 1, hlc_on(DAY0, 2))};
	msg m = make_batch_in("m1", "mumbai", 2, 1, ops, 2);
	cr_assert_eq(applier_apply(T.a, 2, 0, m.buf, m.len), 0);
	cr_assert_eq(count_of("views"), 8);
	/* Kafka delivers the very same bytes again (a producer retry). */
	cr_assert_eq(applier_apply(T.a, 2, 1, m.buf, m.len), 0);
	cr_assert_eq(count_of("views"), 8, "a redelivered sum batch counted again");
	reopen();
	cr_assert_eq(applier_apply(T.a, 2, 2, m.buf, m.len), 0);
	free(m.buf);
	cr_assert_eq(count_of("views"), 8, "a redelivery after a restart counted again");
	cr_assert_eq(stats().batches_duplicate, 1);
	cr_assert_eq(by_region("views", "mumbai"), 8);
	assert_breakdowns_sum_to_count("views");
}

Test(apply, sum_batch_after_a_gap_applies_once_when_the_gap_fills)
{
	wire_op one = sum_op("views", "u1", 1, hlc_on(DAY0, 1));
	wire_op hundred = sum_op("views", "u3", 100, hlc_on(DAY0, 3));
	wire_op ten = sum_op("views", "u2", 10, hlc_on(DAY0, 2));
	apply_msg(1, 0, make_batch_in("m1", "mumbai", 1, 1, &one, 1));
	apply_msg(1, 1, make_batch_in("m1", "mumbai", 1, 3, &hundred, 1));
	cr_assert_eq(count_of("views"), 1, "a held sum batch must not apply");
	/* The held batch arrives again before the gap fills. */
	apply_msg(1, 2, make_batch_in("m1", "mumbai", 1, 3, &hundred, 1));
	cr_assert_eq(count_of("views"), 1);
	cr_assert_eq(applier_held_batches(T.a, 1), 1, "held once, however often delivered");
	apply_msg(1, 3, make_batch_in("m1", "mumbai", 1, 2, &ten, 1));
	cr_assert_eq(count_of("views"), 111);
	cr_assert_eq(applier_held_batches(T.a, 1), 0);
	apply_msg(1, 4, make_batch_in("m1", "mumbai", 1, 3, &hundred, 1));
	apply_msg(1, 5, make_batch_in("m1", "mumbai", 1, 2, &ten, 1));
	cr_assert_eq(count_of("views"), 111, "late copies of applied batches change nothing");
	assert_breakdowns_sum_to_count("views");
}

Test(apply, invalid_ops_are_skipped_while_their_neighbours_apply)
{
	wire_op ops[7] = {
	    like_op("u1", true, 10),                    /* valid */
	    sum_op("views", "u1", 4, hlc_on(DAY0, 1)),  /* valid */
	    sum_op("views", "u2", 1, hlc_on(DAY0, 2)),  /* remove on a sum: invalid */
	    like_op("u2", true, 11),                    /* n = 2 on a set: invalid */
	    like_op("u3", true, 12),                    /* unknown counter: invalid */
	    like_op("u4", true, 13),                    /* bad item: invalid */
	    sum_op("shares", "u5", 2, hlc_on(DAY0, 3)), /* valid */
	};
	ops[2].kind = WIRE_REMOVE;
	ops[3].n = 2;
	ops[4].counter = wire_cstr("hugs", 4);
	ops[5].item = wire_cstr("no-colon", 8);
	apply_msg(0, 0, make_batch("a", 0, 1, ops, 7));
	cr_assert_eq(count(), 1);
	cr_assert_eq(count_of("views"), 4);
	cr_assert_eq(count_of("shares"), 2);
	applier_stats st = stats();
	cr_assert_eq(st.ops_invalid, 4);
	cr_assert_eq(st.ops_applied, 3);
	cr_assert_eq(st.batches_applied, 1, "the batch itself applied");
	wire_snapshot s;
	bool more;
	applier_snapshot(T.a, 0, 100, &s, &more);
	cr_assert_eq(snap_edge(&s, "a")->applied, 1, "the sequence moved past the batch");
	wire_snapshot_free(&s);
	assert_breakdowns_sum_to_count("likes");
	assert_breakdowns_sum_to_count("views");
}

/* ---- aggregates of set counters ------------------------------------------ */

Test(apply, like_unlike_and_relike_from_another_region_move_the_buckets)
{
	wire_op like = like_op("u1", true, hlc_on(DAY0, 100));
	apply_msg(0, 0, make_batch_in("m1", "mumbai", 0, 1, &like, 1));
	cr_assert_eq(count(), 1);
	cr_assert_eq(by_region("likes", "mumbai"), 1);
	cr_assert_eq(by_day("likes", DAY0), 1);
	assert_breakdowns_sum_to_count("likes");

	wire_op unlike = like_op("u1", false, hlc_on(DAY0 + 1, 100));
	apply_msg(0, 1, make_batch_in("v1", "virginia", 0, 1, &unlike, 1));
	cr_assert_eq(count(), 0);
	cr_assert_eq(by_region("likes", "mumbai"), 0, "the unlike takes the unit away");
	cr_assert_eq(by_region("likes", "virginia"), 0, "an unlike adds nothing anywhere");
	cr_assert_eq(by_day("likes", DAY0), 0);
	cr_assert_eq(by_day("likes", DAY0 + 1), 0);
	assert_breakdowns_sum_to_count("likes");

	wire_op relike = like_op("u1", true, hlc_on(DAY0 + 2, 100));
	apply_msg(0, 2, make_batch_in("v1", "virginia", 0, 2, &relike, 1));
	cr_assert_eq(count(), 1);
	cr_assert_eq(by_region("likes", "virginia"), 1);
	cr_assert_eq(by_region("likes", "mumbai"), 0);
	cr_assert_eq(by_day("likes", DAY0 + 2), 1);
	assert_breakdowns_sum_to_count("likes");
}

Test(apply, like_over_like_moves_the_unit_to_the_newer_buckets)
{
	wire_op a = like_op("u1", true, hlc_on(DAY0, 5));
	wire_op b = like_op("u1", true, hlc_on(DAY0 + 3, 5));
	apply_msg(0, 0, make_batch_in("m1", "mumbai", 0, 1, &a, 1));
	apply_msg(0, 1, make_batch_in("s1", "singapore", 0, 1, &b, 1));
	cr_assert_eq(count(), 1);
	cr_assert_eq(by_region("likes", "mumbai"), 0);
	cr_assert_eq(by_region("likes", "singapore"), 1);
	cr_assert_eq(by_day("likes", DAY0), 0);
	cr_assert_eq(by_day("likes", DAY0 + 3), 1);
	assert_breakdowns_sum_to_count("likes");
}

Test(apply, out_of_order_ops_leave_the_buckets_of_the_winner)
{
	/* u1: the newer unlike arrives first; the older like must not count. */
	wire_op unlike = like_op("u1", false, hlc_on(DAY0 + 1, 0));
	wire_op like = like_op("u1", true, hlc_on(DAY0, 0));
	apply_msg(0, 0, make_batch_in("v1", "virginia", 0, 1, &unlike, 1));
	apply_msg(0, 1, make_batch_in("m1", "mumbai", 0, 1, &like, 1));
	cr_assert_eq(count(), 0);
	cr_assert_eq(bucket_sum('R', "likes"), 0);
	cr_assert_eq(bucket_sum('Y', "likes"), 0);

	/* u2: the newer like from singapore first, the older from mumbai
	 * after: the unit stays in singapore's buckets. */
	wire_op newer = like_op("u2", true, hlc_on(DAY0 + 2, 0));
	wire_op older = like_op("u2", true, hlc_on(DAY0, 0));
	apply_msg(0, 2, make_batch_in("s1", "singapore", 0, 1, &newer, 1));
	apply_msg(0, 3, make_batch_in("m1", "mumbai", 0, 2, &older, 1));
	cr_assert_eq(count(), 1);
	cr_assert_eq(by_region("likes", "singapore"), 1);
	cr_assert_eq(by_region("likes", "mumbai"), 0);
	cr_assert_eq(by_day("likes", DAY0 + 2), 1);
	assert_breakdowns_sum_to_count("likes");
}

Test(apply, ops_on_one_member_within_one_batch_net_out)
{
	wire_op ops[4] = {
	    like_op("u1", true, hlc_on(DAY0, 1)), like_op("u1", false, hlc_on(DAY0, 2)),
	    like_op("u1", true, hlc_on(DAY0 + 1, 3)), like_op("u2", true, hlc_on(DAY0, 4))};
	apply_msg(0, 0, make_batch_in("m1", "mumbai", 0, 1, ops, 4));
	cr_assert_eq(count(), 2);
	cr_assert_eq(by_region("likes", "mumbai"), 2);
	cr_assert_eq(by_day("likes", DAY0), 1);
	cr_assert_eq(by_day("likes", DAY0 + 1), 1);
	assert_breakdowns_sum_to_count("likes");
}

/* A small deterministic generator, so a failure replays. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

Test(apply, random_ops_from_three_regions_keep_every_breakdown_equal_to_the_count)
{
	enum { NUSERS = 12, NBATCHES = 60, OPS_PER = 5, NEDGES = 3 };
	static const char *edges[NEDGES] = {"m1", "v1", "s1"};
	static const char *regions[NEDGES] = {"mumbai", "virginia", "singapore"};
	/* The expected winner per user, computed independently. */
	struct {
		bool seen, add;
		uint64_t hlc;
		int edge;
	} win[NUSERS] = {{0}};
	char users[NUSERS][8];
	for (int u = 0; u < NUSERS; u++)
		snprintf(users[u], sizeof users[u], "u%d", u);
	uint64_t seq[NEDGES] = {0}, rng = 0x9e3779b97f4a7c15u;
	int64_t offset = 0;
	for (int b = 0; b < NBATCHES; b++) {
		int e = (int)(rng_next(&rng) % NEDGES);
		wire_op ops[OPS_PER];
		for (int i = 0; i < OPS_PER; i++) {
			int u = (int)(rng_next(&rng) % NUSERS);
			bool add = rng_next(&rng) % 3 != 0;
			/* hlcs spread over 10 days, in no order across batches */
			uint64_t h =
			    hlc_on(DAY0 + (uint32_t)(rng_next(&rng) % 10), rng_next(&rng) % 1000);
			ops[i] = like_op(users[u], add, h);
			bool wins = !win[u].seen || h > win[u].hlc ||
			            (h == win[u].hlc && strcmp(edges[e], edges[win[u].edge]) > 0);
			if (wins) {
				win[u].seen = true;
				win[u].add = add;
				win[u].hlc = h;
				win[u].edge = e;
			}
		}
		apply_msg(0, offset++,
		          make_batch_in(edges[e], regions[e], 0, ++seq[e], ops, OPS_PER));
		assert_breakdowns_sum_to_count("likes");
	}
	uint64_t want = 0, want_region[NEDGES] = {0};
	for (int u = 0; u < NUSERS; u++)
		if (win[u].seen && win[u].add) {
			want++;
			want_region[win[u].edge]++;
		}
	cr_assert_eq(count(), want);
	for (int e = 0; e < NEDGES; e++)
		cr_assert_eq(by_region("likes", regions[e]), want_region[e], "region %s",
		             regions[e]);
	for (uint32_t d = 0; d < 10; d++) {
		uint64_t wd = 0;
		for (int u = 0; u < NUSERS; u++)
			if (win[u].seen && win[u].add && day_of_hlc(win[u].hlc) == DAY0 + d)
				wd++;
		cr_assert_eq(by_day("likes", DAY0 + d), wd, "day %u", DAY0 + d);
	}
}

Test(apply, membership_state_records_the_winning_region)
{
	wire_op like = like_op("u1", true, hlc_on(DAY0, 1));
	apply_msg(0, 0, make_batch_in("m1", "mumbai", 0, 1, &like, 1));
	unsigned char k[CKEY_MAX];
	size_t kn = ckey_state(k, "likes", 5, ITEM, strlen(ITEM), "u1", 2);
	char *v;
	size_t vn;
	cr_assert_eq(store_get(T.db, k, kn, &v, &vn), 0);
	merge_state st;
	cr_assert_eq(merge_state_decode(v, vn, &st), 0);
	free(v);
	cr_assert(st.present);
	cr_assert_eq(st.region_len, 6);
	cr_assert(memcmp(st.region, "mumbai", 6) == 0);
	cr_assert_eq(st.edge_len, 2);
	cr_assert(memcmp(st.edge, "m1", 2) == 0);
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
