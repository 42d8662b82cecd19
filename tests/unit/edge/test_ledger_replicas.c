/* test_ledger_replicas.c - snapshots of one partition from two central
 * instances (a shard's primary and its replica) reaching one edge in any
 * interleaving: the newest input offset wins, an older one is ignored
 * even when it comes later, an equal one changes nothing.
 *
 * The fixture is ledger_util.h's (real LevelDB in a temp dir, recorded
 * sends instead of Kafka); snapshots go straight to ledger_apply_snapshot
 * as the uplink would hand them over.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/ledger_util.h"
#include "wire.h"

#define PRIMARY "central-a"
#define REPLICA "central-a2"

static void setup(void)
{
	ledger_util_setup("test_ledger_replicas");
	open_ledger();
}

TestSuite(ledger_replicas, .init = setup, .fini = ledger_util_teardown, .timeout = 60);

static int64_t msg_offset; /* the snapshot topic's next message */

/* One snapshot message of T.p from source: this edge's applied and held
 * sequences (last part only) and the count of likes on ITEM. */
static void snapshot(const char *source, uint64_t version, bool last, uint64_t applied,
                     uint64_t held, uint64_t likes)
{
	wire_edge_seq e = {wire_cstr(EDGE, strlen(EDGE)), applied, held};
	wire_count c = {wire_cstr("likes", 5), wire_cstr(ITEM, strlen(ITEM)), likes};
	wire_snapshot s = {.source = wire_cstr(source, strlen(source)),
	                   .partition = T.p,
	                   .offset = version,
	                   .produced_ms = WALL,
	                   .last = last,
	                   .nedges = last ? 1 : 0,
	                   .edges = &e,
	                   .ncounts = 1,
	                   .counts = &c};
	int rc = ledger_apply_snapshot(T.l, &s, msg_offset++);
	cr_assert_eq(rc, 0, "ledger_apply_snapshot: %s", err_str(rc));
}

/* A like by user, sealed alone into the next batch, delivered at offset. */
static void like_sealed(const char *user, uint64_t seq, int64_t offset)
{
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, user, true, WALL, &a), 0);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	ledger_delivered(T.l, T.p, seq, offset);
}

static ledger_view view(void)
{
	ledger_view v;
	cr_assert_eq(ledger_read(T.l, "likes", ITEM, &v), 0);
	return v;
}

Test(ledger_replicas, newest_offset_wins_whatever_instance_sends_it)
{
	msg_offset = 0;
	like_sealed("u1", 1, 5);
	like_sealed("u2", 2, 9);
	like_sealed("u3", 3, 11);
	cr_assert_eq(T.nsent, 3);
	cr_assert_eq(view().count, 3, "the overlay alone: nothing from central yet");

	/* Primary at 10: seq 1 and 2 applied (7 likes from elsewhere). */
	snapshot(PRIMARY, 10, true, 2, 0, 9);
	ledger_stats s = stats_now();
	cr_assert_eq(s.batches_applied, 2);
	cr_assert_eq(s.pending_batches, 1);
	cr_assert_eq(view().count, 10, "9 at central + seq 3 still in the overlay");
	cr_assert_eq(view().version, 10);

	/* Replica behind, at 8: ignored, nothing moves back. */
	snapshot(REPLICA, 8, true, 1, 0, 8);
	s = stats_now();
	cr_assert_eq(s.snapshots_stale, 1);
	cr_assert_eq(s.batches_applied, 2);
	cr_assert_eq(s.pending_batches, 1);
	cr_assert_eq(view().count, 10);
	cr_assert_eq(view().version, 10);

	/* Replica ahead, at 12: applied, seq 3 confirmed. */
	snapshot(REPLICA, 12, true, 3, 0, 11);
	s = stats_now();
	cr_assert_eq(s.batches_applied, 3);
	cr_assert_eq(s.pending_batches, 0);
	cr_assert_eq(s.pending_bytes, 0);
	cr_assert_eq(view().count, 11);
	cr_assert_eq(view().version, 12);

	/* Primary at 11, later than the replica's 12 but older: ignored. */
	snapshot(PRIMARY, 11, true, 2, 0, 10);
	s = stats_now();
	cr_assert_eq(s.snapshots_stale, 2);
	cr_assert_eq(s.snapshots_applied, 2);
	cr_assert_eq(s.batches_applied, 3);
	cr_assert_eq(view().count, 11, "no count goes backwards");
	cr_assert_eq(view().version, 12);
	cr_assert_eq(T.nsent, 3, "nothing was resent");

	int64_t resume;
	cr_assert_eq(ledger_snapshot_resume(T.l, T.p, &resume), 0);
	cr_assert_eq(resume, 4, "every message read, stale ones too, is behind the resume point");
}

Test(ledger_replicas, equal_offsets_from_primary_and_replica_change_nothing)
{
	msg_offset = 0;
	like_sealed("u1", 1, 5);
	like_sealed("u2", 2, 12);
	like_sealed("u3", 3, 13);
	/* Seq 1 applied; central holds seq 3 behind a gap at seq 2: resend 2. */
	snapshot(PRIMARY, 10, true, 1, 3, 4);
	cr_assert_eq(T.nsent, 4);
	cr_assert_eq(T.sent[3].seq, 2);
	ledger_delivered(T.l, T.p, 2, 14);
	ledger_stats s = stats_now();
	cr_assert_eq(s.batches_applied, 1);
	cr_assert_eq(s.batches_resent, 1);
	cr_assert_eq(view().count, 6, "4 at central + seq 2 and 3 in the overlay");

	/* The replica reports the same offset: same counts, same sequences. */
	snapshot(REPLICA, 10, true, 1, 3, 4);
	s = stats_now();
	cr_assert_eq(s.batches_applied, 1, "seq 1 is not confirmed twice");
	cr_assert_eq(s.pending_batches, 2);
	cr_assert_eq(s.batches_resent, 1, "the held batch is not resent a second time");
	cr_assert_eq(T.nsent, 4);
	cr_assert_eq(view().count, 6);
	cr_assert_eq(view().version, 10);
}

Test(ledger_replicas, parts_of_an_older_split_snapshot_are_ignored_mid_way)
{
	msg_offset = 0;
	snapshot(PRIMARY, 5, true, 0, 0, 2);
	/* The primary's snapshot at 10 comes in two parts; between them the
	 * replica's older one at 8 starts. */
	snapshot(PRIMARY, 10, false, 0, 0, 7);
	snapshot(REPLICA, 8, false, 0, 0, 5);
	cr_assert_eq(view().count, 7, "the part at 8 is older than the part at 10 applied");
	snapshot(PRIMARY, 10, true, 0, 0, 7);
	snapshot(REPLICA, 8, true, 0, 0, 5);
	cr_assert_eq(stats_now().snapshots_stale, 2);
	cr_assert_eq(view().count, 7);
	cr_assert_eq(view().version, 10);
}

Test(ledger_replicas, a_part_applied_before_a_restart_still_outdates_older_snapshots)
{
	msg_offset = 0;
	snapshot(PRIMARY, 5, true, 0, 0, 2);
	snapshot(PRIMARY, 10, false, 0, 0, 7);
	cr_assert_eq(view().count, 7);
	/* The edge restarts before the last part at 10 arrives. */
	reopen();
	cr_assert_eq(view().count, 7, "the part's counts are in the store");
	snapshot(REPLICA, 8, false, 0, 0, 5);
	snapshot(REPLICA, 8, true, 0, 0, 5);
	cr_assert_eq(stats_now().snapshots_stale, 2,
	             "the part at 10 is remembered across the restart");
	cr_assert_eq(view().count, 7, "no count goes backwards");
	snapshot(PRIMARY, 10, true, 0, 0, 7);
	cr_assert_eq(view().count, 7);
	cr_assert_eq(view().version, 10);
}
