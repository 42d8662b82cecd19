/* test_changelog_undo.c - what the log holds and the store does not
 * (edge/changelog/changelog_undo.c): a refused group record is undone
 * in the log by the next group's record; appends in two halves keep
 * their order, and one acknowledged and then refused holds positions
 * back until a record carrying its undoing is written, and only such a
 * record releases it; with durability = local, a refused held carrier
 * is undone afresh and a drained one releases. The fixture
 * (changelog_fixture.h) is test_changelog.c's.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "edge/changelog/changelog.h"
#include "edge/changelog/changelog_int.h"
#include "tests/unit/edge/changelog_fixture.h"

TestSuite(changelog_undo, .init = setup, .fini = teardown, .timeout = 60);

/* --- a refused write whose copy lands late ------------------------------------ */

Test(changelog_undo, a_refused_write_is_undone_in_the_log_by_the_next_record)
{
	char err[256] = "";
	quiet();
	store *db;
	changelog *cl = active_after_a_write("undo", "kept", &db);
	store_batch *wb;
	/* Refused: its copy is not acknowledged. A copy can still land after
	 * such a failure (a cluster that took it and answered too late);
	 * the mock cluster cannot make that case, so the store rebuilt below
	 * starts with the refused write's keys, as if it had. */
	brokers(false);
	wb = store_batch_new();
	store_batch_put(wb, "Mk1", 3, "refused", 7);
	store_batch_put(wb, "Mk9", 3, "refused", 7);
	int rc = changelog_append(cl, wb, true); /* a group's */
	cr_assert(rc == ERR_TIMEOUT || rc == ERR_KAFKA, "rc %d", rc);
	store_batch_free(wb);
	brokers(true);
	/* The next record carries the undoing: Mk1 as the store keeps it,
	 * Mk9 deleted (the store has none). */
	wb = store_batch_new();
	uint64_t t0 = clock_mono_ms();
	do {
		cr_assert_lt(clock_mono_ms() - t0, 20000, "the cluster never took a write again");
		store_batch_clear(wb);
		store_batch_put(wb, "Mk3", 3, "next", 4);
	} while (changelog_append(cl, wb, true) != 0);
	cr_assert_eq(store_write(db, wb), 0);
	store_batch_free(wb);
	changelog_free(cl);
	store *fresh = open_named("fresh");
	put_local(fresh, "Mk1", "refused");
	put_local(fresh, "Mk9", "refused");
	changelog_restored r;
	cr_assert_eq(changelog_restore(&T.o, fresh, &r, err, sizeof err), 0, "%s", err);
	expect(fresh, "Mk1", "kept");
	expect(fresh, "Mk9", NULL);
	expect(fresh, "Mk3", "next");
	store_close(fresh);
	store_close(db);
}

/* --- appends in two halves (a pipelined group commit's) ----------------------- */

/* The position a copy of db taken now says (changelog_snapshot). */
static int64_t copy_position(changelog *cl, store *db)
{
	int64_t at = -1;
	store_snap *sn = changelog_snapshot(cl, db, &at);
	cr_assert_not_null(sn);
	store_snap_free(sn);
	return at;
}

/* The position db's last write stored. */
static uint64_t stored_position(store *db)
{
	uint64_t at = 0;
	cr_assert_eq(store_read_u64(db, LOG_KEY(EKEY_LOG_POSITION), 1, &at), 0);
	return at;
}

Test(changelog_undo, appends_in_flight_together_keep_their_order_and_a_refused_one_is_undone)
{
	quiet();
	store *db = open_named("pipe");
	changelog *cl = active_on(&T.o, db);
	/* Two in flight at once, written in order. */
	store_batch *a = store_batch_new(), *b = store_batch_new();
	store_batch_put(a, "Mk8", 3, "a", 1);
	store_batch_put(b, "Mk8", 3, "b", 1);
	two_in_flight_written(cl, db, a, b);
	store_batch_free(a);
	store_batch_free(b);
	/* Two more: the second acknowledged, then refused by its caller
	 * (staged on a group that failed) with no store write. */
	a = store_batch_new();
	b = store_batch_new();
	store_batch_put(a, "Mk1", 3, "a", 1);
	store_batch_put(a, "Mk5", 3, "a", 1);
	store_batch_put(b, "Mk1", 3, "b", 1);
	store_batch_put(b, "Mk6", 3, "b", 1);
	changelog_pending *pa = changelog_append_begin(cl, a, true);
	changelog_pending *pb = changelog_append_begin(cl, b, true);
	cr_assert_eq(changelog_append_end(cl, a, pa), 0);
	cr_assert_eq(changelog_append_end(cl, b, pb), 0);
	cr_assert_eq(store_write(db, a), 0);
	changelog_written(cl, a, 0);
	changelog_refused(cl, b);
	/* A copy of the store now is at no position past b's record: a
	 * restart replays it, and then its undoing. */
	int64_t at = copy_position(cl, db);
	uint64_t a_pos = stored_position(db);
	cr_assert_leq(at, (int64_t)a_pos, "a copy's position %" PRId64 " passes %" PRIu64, at,
	              a_pos);
	store_batch_free(a);
	store_batch_free(b);
	/* The next group's record carries the undoing: Mk1 as the store has
	 * it (a's), Mk6 deleted. */
	store_batch *c = store_batch_new();
	store_batch_put(c, "Mk3", 3, "next", 4);
	cr_assert_eq(changelog_append(cl, c, true), 0);
	cr_assert_eq(store_write(db, c), 0);
	changelog_written(cl, c, 0);
	store_batch_free(c);
	/* With the undoing written, b's record holds nothing back: a replay
	 * from past it finds the store as it is. The next write's position
	 * is its own, past b's and c's records. */
	store_batch *d = store_batch_new();
	store_batch_put(d, "Mk4", 3, "d", 1);
	replicated_write(cl, db, d);
	store_batch_free(d);
	uint64_t d_pos = stored_position(db);
	cr_assert_gt(d_pos, a_pos + 1,
	             "positions still held at b's record (%" PRIu64 " <= %" PRIu64 ")", d_pos,
	             a_pos + 1);
	cr_assert_eq(copy_position(cl, db), (int64_t)d_pos);
	cr_assert_eq(cl->nunw, 0, "an undone record is still counted unwritten");
	changelog_free(cl);
	changelog_restored r;
	store *fresh = restored_as("fresh", &r);
	expect(fresh, "Mk8", "b");
	expect(fresh, "Mk1", "a");
	expect(fresh, "Mk5", "a");
	expect(fresh, "Mk6", NULL);
	expect(fresh, "Mk3", "next");
	expect(fresh, "Mk4", "d");
	store_close(fresh);
	store_close(db);
}

/* --- which writes release a refused record ------------------------------------ */

/* wb appended in two halves (may_defer: a group's) and acknowledged. */
static void acked(changelog *cl, store_batch *wb, bool group)
{
	cr_assert_eq(changelog_append_end(cl, wb, changelog_append_begin(cl, wb, group)), 0);
}

/* wb's store write, reported. */
static void stored(changelog *cl, store *db, store_batch *wb)
{
	cr_assert_eq(store_write(db, wb), 0);
	changelog_written(cl, wb, 0);
}

/* An active on store *db (T.dir/name) holding Mk1 = "kept", written
 * from *base, then a group *x putting Mk1 and Mk2 = "x", acknowledged
 * and refused, as when its store write fails: one refusal held. */
static changelog *one_refused(const char *name, store **db, store_batch **base, store_batch **x)
{
	*db = open_named(name);
	changelog *cl = active_on(&T.o, *db);
	*base = put1("Mk1", "kept");
	replicated_write(cl, *db, *base);
	*x = store_batch_new();
	store_batch_put(*x, "Mk1", 3, "x", 1);
	store_batch_put(*x, "Mk2", 3, "x", 1);
	acked(cl, *x, true);
	changelog_refused(cl, *x);
	cr_assert_eq(cl->nunw, 1);
	return cl;
}

/* Frees the n batches and cl, and restores a fresh store from the log. */
static store *freed_and_restored(changelog *cl, store_batch **wbs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_batch_free(wbs[i]);
	changelog_free(cl);
	changelog_restored r;
	store *fresh = restored_as("fresh", &r);
	return fresh;
}

/* Both stores (rebuilt from the log, and the active's) hold want[i]
 * under keys[i] (NULL: none); both closed. */
static void both_hold_and_close(store *fresh, store *db, const char **keys, const char **want,
                                size_t n)
{
	for (size_t i = 0; i < n; i++) {
		expect(fresh, keys[i], want[i]);
		expect(db, keys[i], want[i]);
	}
	store_close(fresh);
	store_close(db);
}

Test(changelog_undo, a_refused_record_is_released_only_by_the_write_of_a_record_that_undid_it)
{
	quiet();
	T.o.timeout_ms = 1000; /* every append here is acknowledged */
	store *db;
	store_batch *base, *x;
	changelog *cl = one_refused("release", &db, &base, &x);
	/* A record that carries no undoing (a seal's) releases nothing. */
	store_batch *s = put1("Ms", "seal");
	acked(cl, s, false);
	stored(cl, db, s);
	cr_assert_eq(cl->nunw, 1, "a write that undid nothing released x");
	/* b (a seal's copy, so no carrier; the ledger refuses only groups',
	 * but any refusal will do here) goes out before c, which carries
	 * x's undoing; b is refused after c was sent: c's undoing is older
	 * than b's refusal and releases x alone. */
	store_batch *b = put1("Mb", "b"), *c = put1("Mc", "c");
	changelog_pending *pb = changelog_append_begin(cl, b, false);
	changelog_pending *pc = changelog_append_begin(cl, c, true);
	cr_assert_eq(changelog_append_end(cl, b, pb), 0);
	cr_assert_eq(changelog_append_end(cl, c, pc), 0);
	changelog_refused(cl, b);
	stored(cl, db, c);
	cr_assert_eq(cl->nunw, 1, "c released b, whose refusal it did not carry");
	/* e carries b's undoing, is acknowledged, and its own store write
	 * fails: refused, it releases nothing and holds positions too. */
	store_batch *e = put1("Me", "e");
	acked(cl, e, true);
	changelog_refused(cl, e);
	cr_assert_eq(cl->nunw, 2);
	/* f carries e's undoing, and e's carried b's: written, both go. */
	store_batch *f = put1("Mf", "f");
	acked(cl, f, true);
	stored(cl, db, f);
	cr_assert_eq(cl->nunw, 0);
	cr_assert_eq(copy_position(cl, db), (int64_t)stored_position(db));
	/* The log, replayed, ends where the store is. */
	store_batch *all[] = {base, x, s, b, c, e, f};
	store *fresh = freed_and_restored(cl, all, sizeof all / sizeof *all);
	const char *keys[] = {"Mk1", "Mk2", "Ms", "Mb", "Mc", "Me", "Mf"};
	const char *want[] = {"kept", NULL, "seal", NULL, "c", NULL, "f"};
	both_hold_and_close(fresh, db, keys, want, sizeof keys / sizeof *keys);
}

/* With durability = local. */
Test(changelog_undo, a_held_carrier_refused_is_undone_afresh_and_a_drained_one_releases)
{
	quiet();
	T.o.durability = CHANGELOG_LOCAL;
	store *db;
	store_batch *base, *b;
	/* b: acknowledged, then its store write fails: refused. */
	changelog *cl = one_refused("heldundo", &db, &base, &b);
	brokers(false);
	/* c carries b's undoing; the log is out of reach, so c's record is
	 * held on the disk with it, and then c's store write fails too:
	 * refused, its held record's keys, b's undoing among them, are
	 * undone afresh. */
	store_batch *c = put1("Mk3", "c");
	cr_assert_eq(changelog_append(cl, c, true), 0, "held, not refused");
	cr_assert_not(has_position(c));
	changelog_refused(cl, c);
	/* d carries that undoing, held too, and is written. */
	store_batch *d = put1("Mk4", "d");
	cr_assert_eq(changelog_append(cl, d, true), 0);
	cr_assert_eq(store_write(db, d), 0);
	cr_assert_eq(cl->nunw, 1, "b's record holds positions back");
	brokers(true);
	drain_all(cl);
	cr_assert_eq(cl->nunw, 0, "d's record, drained and written, did not release b");
	store_batch *all[] = {base, b, c, d};
	store *fresh = freed_and_restored(cl, all, sizeof all / sizeof *all);
	const char *keys[] = {"Mk1", "Mk2", "Mk3", "Mk4"};
	const char *want[] = {"kept", NULL, NULL, "d"};
	both_hold_and_close(fresh, db, keys, want, sizeof keys / sizeof *keys);
}

Test(changelog_undo, an_undoing_refused_while_its_carrier_is_out_goes_with_the_next_carrier)
{
	quiet();
	T.o.timeout_ms = 1000;
	store *db;
	store_batch *base, *x;
	changelog *cl = one_refused("meanwhile", &db, &base, &x);
	/* c carries x's undoing; y, sent after it, is acknowledged and
	 * refused before c's outcome is known. */
	store_batch *c = put1("Mc", "c");
	store_batch *y = store_batch_new();
	store_batch_put(y, "Mk1", 3, "y", 1);
	store_batch_put(y, "My", 2, "y", 1);
	changelog_pending *pc = changelog_append_begin(cl, c, true);
	changelog_pending *py = changelog_append_begin(cl, y, true);
	cr_assert_eq(changelog_append_end(cl, y, py), 0);
	changelog_refused(cl, y);
	cr_assert_eq(changelog_append_end(cl, c, pc), 0);
	stored(cl, db, c);
	cr_assert_eq(cl->nunw, 1, "c released y, whose refusal came after it was sent");
	/* c's landing cleared only what it carried: the next group carries
	 * y's undoing. */
	store_batch *d = put1("Md", "d");
	acked(cl, d, true);
	stored(cl, db, d);
	cr_assert_eq(cl->nunw, 0, "y's undoing was dropped with c's");
	store_batch *all[] = {base, x, c, y, d};
	store *fresh = freed_and_restored(cl, all, sizeof all / sizeof *all);
	expect(fresh, "Mk1", "kept");
	expect(fresh, "My", NULL);
	expect(fresh, "Mc", "c");
	expect(fresh, "Md", "d");
	store_close(fresh);
	store_close(db);
}

/* With durability = local. */
Test(changelog_undo, a_drained_record_that_undid_nothing_keeps_positions_behind_a_refusal)
{
	quiet();
	T.o.durability = CHANGELOG_LOCAL;
	store *db = open_named("drainpos");
	changelog *cl = active_on(&T.o, db);
	/* b acknowledged; then the log goes out of reach and c is held,
	 * carrying nothing; then b is refused (its store write failed). */
	store_batch *b = put1("Mk1", "b");
	acked(cl, b, true);
	brokers(false);
	store_batch *c = put1("Mk2", "c");
	cr_assert_eq(changelog_append(cl, c, true), 0, "held, not refused");
	cr_assert_eq(store_write(db, c), 0);
	changelog_refused(cl, b);
	brokers(true);
	drain_all(cl);
	/* c is in the log after b, but b's undoing is not yet: a restart
	 * from the position c's drain stored must replay b. */
	cr_assert_eq(cl->nunw, 1);
	cr_assert_leq(stored_position(db), (uint64_t)cl->unw[0].offset,
	              "the drain's position passed the refused record");
	/* The next group carries b's undoing, and releases it. */
	store_batch *d = put1("Mk3", "d");
	acked(cl, d, true);
	stored(cl, db, d);
	cr_assert_eq(cl->nunw, 0);
	cr_assert_eq(copy_position(cl, db), (int64_t)stored_position(db));
	store_batch *all[] = {b, c, d};
	store *fresh = freed_and_restored(cl, all, sizeof all / sizeof *all);
	const char *keys[] = {"Mk1", "Mk2", "Mk3"};
	const char *want[] = {NULL, "c", "d"};
	both_hold_and_close(fresh, db, keys, want, sizeof keys / sizeof *keys);
}
