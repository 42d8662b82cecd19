/* test_apply.c - central's batch applier over a real LevelDB store:
 * order per (edge, partition), duplicates, gaps and held batches, LWW
 * across edges, malformed input, restarts and snapshots.
 *
 * Each test gets its own temp dir (made in .init, removed in .fini) with
 * a store and an applier for 4 partitions counting "likes".
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testdir.h"
#include "../central/apply.h"
#include "err.h"
#include "log.h"
#include "store.h"
#include "wire.h"

#define NPARTS 4
#define ITEM "post:1"

static const char *const counters[] = {"likes", NULL};

static struct {
	char dir[64];
	store *db;
	applier *a;
} T;

static applier *new_applier(void)
{
	char err[256];
	applier *a = applier_new(T.db, NPARTS, counters, err, sizeof err);
	cr_assert_not_null(a, "applier_new: %s", err);
	return a;
}

static void setup(void)
{
	log_threshold = LOG_ERROR;
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
	testdir_remove(T.dir);
}

TestSuite(apply, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------- */

typedef struct msg {
	char *buf;
	size_t len;
} msg;

static wire_op like_op(const char *user, bool add, uint64_t hlc)
{
	return (wire_op){wire_cstr("likes", 5), wire_cstr(ITEM, strlen(ITEM)),
			 wire_cstr(user, strlen(user)), add ? WIRE_ADD : WIRE_REMOVE, 1, hlc};
}

/* A batch from edge for partition p with the given ops. */
static msg make_batch(const char *edge, uint32_t p, uint64_t seq, const wire_op *ops, size_t nops)
{
	wire_batch b = {wire_cstr(edge, strlen(edge)), wire_cstr("eu", 2), p, seq, 1000,
			(uint32_t)nops, (wire_op *)ops};
	msg m;
	cr_assert_eq(wire_encode_batch(&b, &m.buf, &m.len), 0);
	return m;
}

/* A batch with one like (or unlike) of ITEM by user. */
static msg one_op(const char *edge, uint32_t p, uint64_t seq, const char *user, bool add,
		  uint64_t hlc)
{
	wire_op op = like_op(user, add, hlc);
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
	const applier_stats *st = applier_get_stats(T.a);
	cr_assert_eq(st->batches_applied, 3);
	cr_assert_eq(st->ops_applied, 3);
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
	const applier_stats *st = applier_get_stats(T.a);
	cr_assert_eq(st->batches_duplicate, 2);
	cr_assert_eq(st->batches_applied, 1);
	int64_t off;
	cr_assert_eq(applier_resume_offset(T.a, 0, &off), 0);
	cr_assert_eq(off, 3, "a duplicate still moves the offset");
}

Test(apply, batch_after_a_gap_is_held_until_the_gap_fills)
{
	apply_msg(1, 0, one_op("a", 1, 1, "u1", true, 10));
	apply_msg(1, 1, one_op("a", 1, 3, "u3", true, 30));
	cr_assert_eq(count(), 1, "a held batch must not apply");
	cr_assert_eq(applier_get_stats(T.a)->batches_held, 1);

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
	ops[0].counter = wire_cstr("views", 5);
	apply_msg(0, 0, make_batch("a", 0, 1, ops, 2));
	cr_assert_eq(count(), 1);
	cr_assert_eq(applier_get_stats(T.a)->ops_bad, 1);
}

/* ---- malformed input ----------------------------------------------------- */

Test(apply, malformed_message_is_skipped_but_its_offset_is_stored)
{
	static const char junk[] = "\xc1 this is not msgpack";
	cr_assert_eq(applier_apply(T.a, 2, 41, junk, sizeof junk - 1), 0);
	int64_t off = -1;
	cr_assert_eq(applier_resume_offset(T.a, 2, &off), 0);
	cr_assert_eq(off, 42);
	cr_assert_eq(applier_get_stats(T.a)->batches_bad, 1);
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
	cr_assert_eq(applier_get_stats(T.a)->batches_bad, 1);
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
	cr_assert_eq(applier_get_stats(T.a)->batches_duplicate, 1);

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
	cr_assert_eq(applier_reset_offset(T.a, 0, 100), 0);
	int64_t off;
	cr_assert_eq(applier_resume_offset(T.a, 0, &off), 0);
	cr_assert_eq(off, 100);
	reopen();
	cr_assert_eq(applier_resume_offset(T.a, 0, &off), 0);
	cr_assert_eq(off, 100);
	cr_assert_eq(applier_reset_offset(T.a, NPARTS, 1), ERR_INVAL);
}
