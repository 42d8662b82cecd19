/* test_ledger_retain.c - retention of memberships (ledger_member_sweep,
 * store.member_keep_s): a record older than the window is dropped and
 * its item marked, so that a pair of the item the store lacks is no
 * longer a known "no" at home but not known (read through); a newer
 * record stays; a partition whose unconfirmed ops are older than the cut
 * keeps its records; a pass goes a slice at a time and starts again; the
 * marks and drops survive a restart. A group written between the scan
 * and the drops makes the sweep read again what it wrote, before the
 * writer mutex and never under it, and nothing else.
 *
 * Same fixture as test_ledger.c (ledger_util.h): partitions NPARTS,
 * region "eu", home_cover on.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "edge/ledger/ledger_int.h"
#include "hlc.h"
#include "partition.h"
#include "tests/support/ledger_util.h"
#include "tests/unit/edge/ledger_fixture.h"
#include "wire.h"

#define DAY_MS UINT64_C(86400000)

static void setup(void)
{
	ledger_util_setup("test_ledger_retain");
	T.o.home_cover = true;
	open_ledger();
}

TestSuite(ledger_retain, .init = setup, .fini = ledger_util_teardown, .timeout = 60);

static uint32_t part_of(const char *item)
{
	return partition_of(item, strlen(item), NPARTS);
}

/* Every partition's replica loaded from an empty checkpoint, and its
 * home horizon 0: an absent pair is a known "no" everywhere. */
static void complete_at_home(void)
{
	ledger_util_complete_replicas();
	ledger_home_pos pos[NPARTS];
	for (uint32_t p = 0; p < NPARTS; p++)
		pos[p] = (ledger_home_pos){0, 0};
	size_t taken;
	cr_assert_eq(ledger_home_apply(T.l, NULL, 0, pos, WALL, &taken), 0);
}

/* A membership from the home stream, stamped at ms. */
static void home_like(const char *user, const char *item, uint64_t ms)
{
	cr_assert_eq(home_apply_one(user, item, true, ms), 1);
}

static int at_home(const char *user, const char *item)
{
	int st;
	cr_assert_eq(ledger_member_home(T.l, "likes", item, user, &st), 0);
	return st;
}

static ledger_sweep sweep(uint64_t wall_ms, uint64_t keep_ms, size_t scan_max)
{
	ledger_sweep sw;
	int rc = ledger_member_sweep(T.l, wall_ms, keep_ms, scan_max, &sw);
	cr_assert_eq(rc, 0, "ledger_member_sweep: %s", err_str(rc));
	return sw;
}

Test(ledger_retain, an_old_membership_is_dropped_and_its_items_absent_pairs_become_unknown)
{
	const char *old = "post:old", *other = "post:other";
	complete_at_home();
	home_like("u1", old, WALL - 10 * DAY_MS);
	home_like("u2", old, WALL - 1000);
	home_like("u1", other, WALL - 1000);
	ledger_util_snapshot(old, 5, 2);
	ledger_util_snapshot(other, 5, 1);
	cr_assert_eq(at_home("u3", old), 0, "a known no before the retention");
	cr_assert_eq(at_home("u1", old), 1);

	ledger_sweep sw = sweep(WALL, 7 * DAY_MS, 1000);
	cr_assert_eq(sw.scanned, 3);
	cr_assert_eq(sw.dropped, 1);
	cr_assert(sw.wrapped);
	cr_assert_eq(member_of("u1", old), -1, "the old record is gone");
	cr_assert_eq(at_home("u1", old), -1, "its pair is not known: read through, never a no");
	cr_assert_eq(at_home("u3", old), -1, "nor any pair of its item the store lacks");
	cr_assert_eq(at_home("u2", old), 1, "a newer record of the item stays");
	cr_assert_eq(at_home("u1", other), 1);
	cr_assert_eq(at_home("u3", other), 0, "an item with nothing dropped is as before");
	ledger_stats st = stats_now();
	cr_assert_eq(st.members_dropped, 1);
	cr_assert_eq(st.member_sweeps, 1);

	/* The mark and the drop are in the store. */
	reopen();
	cr_assert_eq(at_home("u1", old), -1);
	cr_assert_eq(at_home("u3", old), -1);
	cr_assert_eq(at_home("u2", old), 1);
	cr_assert_eq(at_home("u3", other), 0);
	/* A later like of the pair is known again. */
	home_like("u1", old, WALL);
	cr_assert_eq(at_home("u1", old), 1);
	cr_assert_eq(sweep(WALL, 7 * DAY_MS, 1000).dropped, 0);
	/* With central's count at 0 nobody is a member: a known no again. */
	ledger_util_snapshot(old, 9, 0);
	cr_assert_eq(at_home("u3", old), 0);
}

Test(ledger_retain, a_dropped_no_needs_no_mark)
{
	const char *item = "post:unliked";
	complete_at_home();
	home_apply_one("u1", item, false, WALL - 10 * DAY_MS);
	home_like("u2", item, WALL - 1000);
	ledger_util_snapshot(item, 5, 1);
	cr_assert_eq(member_of("u1", item), 0);
	cr_assert_eq(sweep(WALL, 7 * DAY_MS, 1000).dropped, 1);
	cr_assert_eq(member_of("u1", item), -1);
	cr_assert_eq(at_home("u1", item), 0, "absent says no, as the record did");
	cr_assert_eq(at_home("u3", item), 0);
}

/* Store reads made while this thread held the writer mutex, and all. */
static atomic_uint reads_all, reads_under_mu;

static void on_read(void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&reads_all, 1);
	if (ledger_mine)
		atomic_fetch_add(&reads_under_mu, 1);
}

/* The sweep's race: a newer like of the pair it read lands between its
 * scan and its drops (sweep_scanned). */
static void like_again(void *ctx)
{
	(void)ctx;
	ledger_op op = {
	    .counter = "likes", .item = "post:raced", .user = "u1", .add = true, .prior = -1};
	ledger_answer a;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
}

/* u1's like of item, ten days old, swept with a week's window while
 * race runs between the sweep's scan and its drops. */
static ledger_sweep sweep_raced(const char *item, void (*race)(void *))
{
	complete_at_home();
	home_like("u1", item, WALL - 10 * DAY_MS);
	ledger_util_snapshot(item, 5, 1);
	ledger_free(T.l);
	T.l = NULL;
	T.o.sweep_scanned = race;
	open_ledger();
	atomic_store(&reads_all, 0);
	atomic_store(&reads_under_mu, 0);
	store_read_hook(T.db, on_read, NULL);
	ledger_sweep sw = sweep(WALL, 7 * DAY_MS, 1000);
	store_read_hook(T.db, NULL, NULL);
	cr_assert_eq(atomic_load(&reads_under_mu), 0, "%u of %u store reads held the writer mutex",
	             atomic_load(&reads_under_mu), atomic_load(&reads_all));
	return sw;
}

Test(ledger_retain, a_newer_state_written_during_the_sweep_is_kept)
{
	const char *item = "post:raced";
	ledger_sweep sw = sweep_raced(item, like_again);
	cr_assert_gt(atomic_load(&reads_all), 0, "the pair was read again");
	cr_assert_eq(sw.dropped, 0, "the record read by the scan is not the store's any more");
	int st;
	uint64_t stamp;
	cr_assert_eq(ledger_member_at(T.l, "likes", item, "u1", &st, &stamp), 0);
	cr_assert_eq(st, 1);
	cr_assert_geq(hlc_ms(stamp), WALL, "the newer record stays");
	cr_assert_eq(at_home("u3", item), 0, "and nothing marked the item");
}

/* A like of another pair written between the scan and the drops. */
static void like_elsewhere(void *ctx)
{
	(void)ctx;
	ledger_op op = {
	    .counter = "likes", .item = "post:elsewhere", .user = "u9", .add = true, .prior = -1};
	ledger_answer a;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
}

Test(ledger_retain, a_group_of_other_pairs_during_the_sweep_changes_nothing)
{
	const char *item = "post:calm";
	ledger_sweep sw = sweep_raced(item, like_elsewhere);
	cr_assert_eq(sw.dropped, 1, "the record read by the scan still holds");
	cr_assert_eq(member_of("u1", item), -1);
}

/* The other race: an unlike of the pair is staged in the open group,
 * not yet written, between the sweep's scan and its drops. */
static ledger_ticket staged_ticket;

static void unlike_staged(void *ctx)
{
	(void)ctx;
	ledger_op op = {
	    .counter = "likes", .item = "post:staged", .user = "u1", .add = false, .prior = -1};
	ledger_answer a;
	staged_ticket = (ledger_ticket){0};
	cr_assert_eq(ledger_stage_ops(T.l, &op, 1, WALL, &a, NULL, NULL, &staged_ticket), 0);
	cr_assert_eq(ledger_ticket_state(&staged_ticket), LEDGER_STAGED);
}

Test(ledger_retain, a_state_staged_in_the_open_group_is_not_dropped_under_it)
{
	const char *item = "post:staged";
	ledger_sweep sw = sweep_raced(item, unlike_staged);
	cr_assert_eq(sw.dropped, 0, "the open group holds a newer state of the pair");
	cr_assert_eq(ledger_commit_now(T.l, WALL), 0);
	cr_assert_eq(ledger_ticket_state(&staged_ticket), LEDGER_DURABLE);
	int st;
	uint64_t stamp;
	cr_assert_eq(ledger_member_at(T.l, "likes", item, "u1", &st, &stamp), 0);
	cr_assert_eq(st, 0, "the staged unlike is what the store holds");
	cr_assert_geq(hlc_ms(stamp), WALL);
	cr_assert_eq(at_home("u3", item), 0, "and nothing marked the item");
}

/* A home event for a pair the store lacks, older than the window, is
 * not kept (the sweep would drop it): a like's item is marked instead.
 * And after a drop, a replayed older event does not bring back a state
 * older than the one dropped. */
static void home_unlike(const char *user, const char *item, uint64_t ms)
{
	cr_assert_eq(home_apply_one(user, item, false, ms), 1,
	             "an old event is consumed, kept or not");
}

Test(ledger_retain, a_home_event_older_than_the_window_is_not_kept)
{
	const char *old_item = "post:old", *fresh_item = "post:fresh";
	ledger_free(T.l);
	T.l = NULL;
	T.o.member_keep_ms = 7 * DAY_MS;
	open_ledger();
	complete_at_home();
	ledger_util_snapshot(old_item, 5, 1);
	ledger_util_snapshot(fresh_item, 5, 1);
	home_like("u1", old_item, WALL - 10 * DAY_MS);
	home_like("u1", fresh_item, WALL - DAY_MS);
	int st;
	uint64_t stamp;
	cr_assert_eq(ledger_member_at(T.l, "likes", old_item, "u1", &st, &stamp), 0);
	cr_assert_lt(st, 0, "older than the window: not stored");
	cr_assert_lt(at_home("u1", old_item), 0, "its item is marked: read through");
	cr_assert_lt(at_home("u2", old_item), 0);
	cr_assert_eq(at_home("u1", fresh_item), 1, "inside the window: stored");
	cr_assert_eq(at_home("u2", fresh_item), 0, "and the item's absent pairs are a no");
	home_unlike("u3", fresh_item, WALL - 10 * DAY_MS);
	cr_assert_eq(at_home("u2", fresh_item), 0, "an old unlike marks nothing");
	/* An old like of a pair held here with a newer state is not kept,
	 * but it marks its item all the same: central's checkpoint sends one
	 * old like per item and leaves the item's others out. */
	cr_assert_eq(home_apply_one("u1", fresh_item, true, WALL - 10 * DAY_MS), 0,
	             "older than the record held");
	cr_assert_eq(at_home("u1", fresh_item), 1);
	cr_assert_lt(at_home("u2", fresh_item), 0, "the item is marked: read through");
	cr_assert_eq(ledger_member_at(T.l, "likes", fresh_item, "u3", &st, &stamp), 0);
	cr_assert_lt(st, 0, "nor is it stored");
}

Test(ledger_retain, a_replayed_older_event_does_not_take_a_dropped_pair)
{
	const char *item = "post:replayed";
	complete_at_home();
	ledger_util_snapshot(item, 5, 1);
	home_like("u1", item, WALL - 10 * DAY_MS); /* kept: no window yet */
	ledger_free(T.l);
	T.l = NULL;
	T.o.member_keep_ms = 7 * DAY_MS;
	open_ledger();
	ledger_sweep sw = sweep(WALL, 7 * DAY_MS, 1000);
	cr_assert_eq(sw.dropped, 1);
	cr_assert_lt(at_home("u1", item), 0, "dropped: read through");
	/* The stream read again from an older place: u1's earlier unlike. */
	home_unlike("u1", item, WALL - 20 * DAY_MS);
	cr_assert_lt(at_home("u1", item), 0, "still read through, never the older no");
}

Test(ledger_retain, a_store_is_fresh_only_when_opened_without_memberships_as_an_active)
{
	/* A home load into a fresh store may leave old pairs out (central's
	 * since_ms): nothing it holds can be older than what the load
	 * brings. */
	cr_assert(ledger_members_fresh(T.l), "opened empty");
	/* The store's metadata shares the tag: it is not a membership. */
	char err[256];
	cr_assert_eq(store_meta_ensure(T.db, "partitions", "4", err, sizeof err), 0, "%s", err);
	reopen();
	cr_assert(ledger_members_fresh(T.l), "opened with metadata only");
	home_like("u1", ITEM, WALL - DAY_MS);
	cr_assert(ledger_members_fresh(T.l), "what the open found");
	reopen();
	cr_assert_not(ledger_members_fresh(T.l), "opened with a membership");
}

Test(ledger_retain, a_follower_is_never_fresh)
{
	ledger_free(T.l);
	T.l = NULL;
	T.o.follower = true;
	open_ledger();
	cr_assert_not(ledger_members_fresh(T.l), "its records are another instance's");
}

Test(ledger_retain, the_pass_goes_on_where_it_was_after_a_restart)
{
	complete_at_home();
	char user[16];
	for (int i = 0; i < 12; i++) {
		snprintf(user, sizeof user, "u%02d", i);
		home_like(user, ITEM, WALL - 30 * DAY_MS);
	}
	ledger_sweep sw = sweep(WALL, DAY_MS, 5);
	cr_assert_eq(sw.scanned, 5);
	cr_assert_eq(sw.dropped, 5);
	reopen();
	sw = sweep(WALL, DAY_MS, 100);
	cr_assert_eq(sw.scanned, 7, "not from the first record again");
	cr_assert_eq(sw.dropped, 7);
	cr_assert(sw.wrapped);
}

/* A sweep at now with a week's window keeps u1's like of ITEM: its
 * partition holds it for an op central has not confirmed. */
static void still_held(uint64_t now)
{
	ledger_sweep sw = sweep(now, 7 * DAY_MS, 1000);
	cr_assert_eq(sw.dropped, 0);
	cr_assert_eq(sw.held, 1);
	cr_assert_eq(member_of("u1", ITEM), 1);
}

Test(ledger_retain, a_partitions_records_stay_while_an_older_op_of_it_is_unconfirmed)
{
	/* This edge's own like, made 10 days ago and never confirmed (its
	 * batch waits: central was out of reach). Until central has it,
	 * its record is the only place the like shows. */
	T.p = part_of(ITEM);
	/* The real clock: an op read back at a start is appended then. */
	uint64_t now = clock_wall_ms();
	ledger_op op = {.counter = "likes", .item = ITEM, .user = "u1", .add = true, .prior = -1};
	ledger_answer a;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, now - 10 * DAY_MS, &a, NULL, NULL), 0);
	still_held(now);
	/* Read back into the open batch at a restart: held by its clock. */
	reopen();
	still_held(now);

	/* Sealed and sent, still unconfirmed: held. */
	cr_assert_eq(ledger_seal_due(T.l, now, true), 0);
	cr_assert_eq(T.nsent, 1);
	ledger_delivered(T.l, T.p, T.sent[0].seq, 7);
	still_held(now);

	/* Read back at a restart, still unconfirmed: held. */
	reopen();
	still_held(now);

	/* Confirmed by central's snapshot: dropped at the next pass. */
	wire_edge_seq e = {wire_cstr(EDGE, strlen(EDGE)), T.sent[0].seq, 0};
	wire_snapshot s = wire_util_snap(T.p, 8, WALL, &e, 1, NULL, 0);
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 0), 0);
	ledger_sweep sw = sweep(now, 7 * DAY_MS, 1000);
	cr_assert_eq(sw.held, 0);
	cr_assert_eq(sw.dropped, 1);
	cr_assert_eq(member_of("u1", ITEM), -1);
}

Test(ledger_retain, a_pass_goes_a_slice_at_a_time_and_starts_again_after_the_last)
{
	complete_at_home();
	char user[16];
	for (int i = 0; i < 25; i++) {
		snprintf(user, sizeof user, "u%02d", i);
		home_like(user, ITEM, i % 2 ? WALL - 30 * DAY_MS : WALL - 1000);
	}
	uint64_t scanned = 0, dropped = 0;
	int calls = 0;
	ledger_sweep sw;
	do {
		sw = sweep(WALL, DAY_MS, 4);
		scanned += sw.scanned;
		dropped += sw.dropped;
		calls++;
		cr_assert_leq(sw.scanned, 4);
	} while (!sw.wrapped && calls < 100);
	cr_assert(sw.wrapped);
	cr_assert_eq(scanned, 25);
	cr_assert_eq(dropped, 12);
	cr_assert_eq(calls, 7, "six full slices and the end: %d", calls);
	for (int i = 0; i < 25; i++) {
		snprintf(user, sizeof user, "u%02d", i);
		cr_assert_eq(member_of(user, ITEM), i % 2 ? -1 : 1, "%s", user);
	}
	/* The next pass starts from the first record again. */
	sw = sweep(WALL, DAY_MS, 100);
	cr_assert_eq(sw.scanned, 13);
	cr_assert_eq(sw.dropped, 0);
	cr_assert(sw.wrapped);
	cr_assert_eq(stats_now().member_sweeps, 2);
}

Test(ledger_retain, off_and_a_follower_drop_nothing)
{
	home_like("u1", ITEM, WALL - 30 * DAY_MS);
	ledger_sweep sw = sweep(WALL, 0, 1000);
	cr_assert_eq(sw.scanned, 0);
	cr_assert_eq(member_of("u1", ITEM), 1);
	/* A standby's records are the active's: it drops nothing itself. */
	ledger_free(T.l);
	T.l = NULL;
	T.o.follower = true;
	open_ledger();
	sw = sweep(WALL, DAY_MS, 1000);
	cr_assert_eq(sw.scanned, 0);
	cr_assert_eq(member_of("u1", ITEM), 1);
}
