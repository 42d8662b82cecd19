/* test_ledger_replica.c - the edge's complete replica of counts
 * (edge/ledger/ledger_replica.c): an item with no count is 0 only once its
 * partition is complete; checkpoint messages and snapshots meet by the
 * version stored with each count, whichever comes first; a load cut off
 * and resumed is complete to its lowest version; a load started again
 * refuses the old one's messages; the state survives a restart; writes
 * while loading answer an unknown count, and an unlike of a pair never
 * seen here does not move the count.
 *
 * Fixture: ledger_util.h (real LevelDB in a temp dir, recorded sends).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/ledger_util.h"
#include "version.h"
#include "wire.h"

static void setup(void)
{
	ledger_util_setup("test_ledger_replica");
	open_ledger();
}

TestSuite(ledger_replica, .init = setup, .fini = ledger_util_teardown, .timeout = 60);

/* An item of partition p other than ITEM: "post:N" for the first N that
 * hashes there. */
static const char *item_in(uint32_t p, int skip)
{
	static char buf[8][32];
	static int next;
	char *b = buf[next++ % 8];
	for (int n = 100;; n++) {
		snprintf(b, 32, "post:%d", n);
		if (partition_of(b, strlen(b), NPARTS) == p && skip-- == 0)
			return b;
	}
}

static ledger_view view(const char *item)
{
	ledger_view v;
	cr_assert_eq(ledger_read(T.l, "likes", item, &v), 0);
	return v;
}

static ledger_replica replica(uint32_t p)
{
	ledger_replica r;
	cr_assert_eq(ledger_replica_get(T.l, p, &r), 0);
	return r;
}

/* One message for partition p at version: counts of likes for items[i]
 * = counts[i]; last ones carry this edge's applied sequence. */
static wire_snapshot msg(uint32_t p, uint64_t version, bool last, uint64_t applied,
                         const char **items, const uint64_t *counts, size_t n, wire_count *buf,
                         wire_edge_seq *e)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (wire_count){wire_cstr("likes", 5), wire_cstr(items[i], strlen(items[i])),
		                      counts[i]};
	*e = (wire_edge_seq){wire_cstr(EDGE, strlen(EDGE)), applied, 0};
	return (wire_snapshot){.source = wire_cstr("central-a", 9),
	                       .partition = p,
	                       .offset = version,
	                       .produced_ms = WALL,
	                       .last = last,
	                       .nedges = last ? 1 : 0,
	                       .edges = e,
	                       .ncounts = (uint32_t)n,
	                       .counts = buf};
}

static void ckpt(uint32_t p, uint32_t gen, uint64_t version, bool last, uint64_t applied,
                 const char **items, const uint64_t *counts, size_t n)
{
	wire_count buf[8];
	wire_edge_seq e;
	wire_snapshot s = msg(p, version, last, applied, items, counts, n, buf, &e);
	int rc = ledger_replica_apply(T.l, &s, gen);
	cr_assert_eq(rc, 0, "ledger_replica_apply: %s", err_str(rc));
}

static void snap(uint32_t p, uint64_t version, uint64_t applied, const char **items,
                 const uint64_t *counts, size_t n)
{
	static int64_t off;
	wire_count buf[8];
	wire_edge_seq e;
	wire_snapshot s = msg(p, version, true, applied, items, counts, n, buf, &e);
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, off++), 0);
}

Test(ledger_replica, an_absent_item_is_zero_only_once_its_partition_is_complete)
{
	const char *a = ITEM, *b = item_in(T.p, 0);
	cr_assert_eq(replica(T.p).state, LEDGER_REPLICA_NONE);
	cr_assert_not(view(b).known, "never loaded: unknown, not 0");
	cr_assert_eq(ledger_replica_begin(T.l, T.p, 5), 0);
	int64_t tail;
	cr_assert_eq(ledger_snapshot_resume(T.l, T.p, &tail), 0);
	cr_assert_eq(tail, 5, "the snapshot stream is tailed from where begin said");
	ledger_replica r = replica(T.p);
	cr_assert_eq(r.state, LEDGER_REPLICA_LOADING);
	uint64_t c = 7;
	ckpt(T.p, r.gen, 40, false, 0, &a, &c, 1);
	cr_assert(view(a).known, "a loaded count is known");
	cr_assert_eq(view(a).count, 7);
	cr_assert_not(view(b).known, "still loading: an absent item is not 0 yet");
	ckpt(T.p, r.gen, 40, true, 0, NULL, NULL, 0);
	cr_assert_eq(replica(T.p).state, LEDGER_REPLICA_COMPLETE);
	ledger_view v = view(b);
	cr_assert(v.known, "complete: an absent item is known");
	cr_assert_eq(v.count, 0);
	cr_assert_eq(v.version, 40, "at the checkpoint's version");
	/* Another partition is not complete because this one is. */
	cr_assert_not(view(item_in((T.p + 1) % NPARTS, 0)).known);
	cr_assert_eq(ledger_replica_ready(T.l, NULL), 1);
}

Test(ledger_replica, newer_snapshot_counts_survive_an_older_checkpoint_and_back)
{
	const char *a = ITEM, *b = item_in(T.p, 0);
	cr_assert_eq(ledger_replica_begin(T.l, T.p, 0), 0);
	uint32_t gen = replica(T.p).gen;
	/* The tail runs ahead of the checkpoint: a snapshot at 50 first. */
	uint64_t c = 9;
	snap(T.p, 50, 0, &a, &c, 1);
	const char *both[2] = {a, b};
	uint64_t old[2] = {4, 3};
	ckpt(T.p, gen, 40, false, 0, both, old, 2);
	cr_assert_eq(view(a).count, 9, "the checkpoint's older count does not win");
	cr_assert_eq(view(b).count, 3);
	ckpt(T.p, gen, 40, true, 0, NULL, NULL, 0);
	cr_assert_eq(view(a).count, 9);
	/* An older snapshot after a newer checkpoint part changes nothing. */
	cr_assert_eq(ledger_replica_begin(T.l, T.p, 0), 0);
	gen = replica(T.p).gen;
	uint64_t newer[2] = {11, 6};
	ckpt(T.p, gen, 80, false, 0, both, newer, 2);
	uint64_t stale = 1;
	snap(T.p, 60, 0, &b, &stale, 1);
	cr_assert_eq(view(b).count, 6, "a snapshot older than the loaded count is ignored");
}

Test(ledger_replica, a_resumed_load_is_complete_to_its_lowest_version)
{
	const char *a = ITEM, *b = item_in(T.p, 0);
	cr_assert_eq(ledger_replica_begin(T.l, T.p, 0), 0);
	uint32_t gen = replica(T.p).gen;
	uint64_t c = 2;
	ckpt(T.p, gen, 100, false, 0, &a, &c, 1);
	/* Cut off, then a restart: the load goes on where it stopped. */
	reopen();
	ledger_replica r = replica(T.p);
	cr_assert_eq(r.state, LEDGER_REPLICA_LOADING);
	cr_assert(r.resume);
	cr_assert_str_eq(r.counter, "likes");
	cr_assert_str_eq(r.item, a);
	cr_assert_eq(r.loaded, 1);
	uint64_t d = 5;
	ckpt(T.p, r.gen, 130, false, 0, &b, &d, 1);
	ckpt(T.p, r.gen, 130, true, 0, NULL, NULL, 0);
	r = replica(T.p);
	cr_assert_eq(r.state, LEDGER_REPLICA_COMPLETE);
	cr_assert_eq(r.version, 100);
	cr_assert_eq(view(b).version, 100, "complete to the lowest version loaded");
	/* A snapshot between the two versions still applies: a's count at
	 * 100 may have changed before 130. */
	uint64_t a2 = 3;
	snap(T.p, 120, 0, &a, &a2, 1);
	cr_assert_eq(view(a).count, 3);
	/* ... but not over b, loaded at 130. */
	uint64_t b2 = 1;
	snap(T.p, 125, 0, &b, &b2, 1);
	cr_assert_eq(view(b).count, 5);
	reopen();
	cr_assert_eq(replica(T.p).state, LEDGER_REPLICA_COMPLETE, "kept across a restart");
	cr_assert(view(item_in(T.p, 1)).known);
}

Test(ledger_replica, a_load_started_again_refuses_the_old_loads_messages)
{
	cr_assert_eq(ledger_replica_begin(T.l, T.p, 0), 0);
	uint32_t gen = replica(T.p).gen;
	cr_assert_eq(ledger_replica_begin(T.l, T.p, 9), 0);
	wire_count buf[1];
	wire_edge_seq e;
	wire_snapshot s = msg(T.p, 40, true, 0, NULL, NULL, 0, buf, &e);
	cr_assert_eq(ledger_replica_apply(T.l, &s, gen), ERR_AGAIN);
	cr_assert_eq(replica(T.p).state, LEDGER_REPLICA_LOADING);
	cr_assert_eq(ledger_replica_apply(T.l, &s, replica(T.p).gen), 0);
	cr_assert_eq(replica(T.p).state, LEDGER_REPLICA_COMPLETE);
	cr_assert_eq(ledger_replica_apply(T.l, &s, replica(T.p).gen), ERR_AGAIN,
	             "a complete partition takes no more checkpoint messages");
}

Test(ledger_replica, the_checkpoints_edge_list_confirms_this_edges_batches_once)
{
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u1", true, WALL, &a), 0);
	cr_assert_not(a.view.known, "loading nothing yet: the count is unknown");
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	ledger_delivered(T.l, T.p, 1, 3);
	cr_assert_eq(ledger_replica_begin(T.l, T.p, 0), 0);
	uint32_t gen = replica(T.p).gen;
	/* Central applied the batch: its count holds the like. */
	const char *it = ITEM;
	uint64_t c = 1;
	ckpt(T.p, gen, 10, false, 1, &it, &c, 1);
	ckpt(T.p, gen, 10, true, 1, NULL, NULL, 0);
	cr_assert_eq(view(ITEM).count, 1, "not 2: the batch is confirmed, off the overlay");
	ledger_stats s;
	ledger_get_stats(T.l, &s);
	cr_assert_eq(s.pending_batches, 0);
}

Test(ledger_replica, versions_of_a_new_epoch_are_newer)
{
	const char *it = ITEM;
	uint64_t c = 8, d = 2;
	snap(T.p, version_make(0, 900), 0, &it, &c, 1);
	snap(T.p, version_make(1, 3), 0, &it, &d, 1);
	cr_assert_eq(view(ITEM).count, 2, "offset 3 of epoch 1 is after offset 900 of epoch 0");
	cr_assert_eq(view(ITEM).version, version_make(1, 3));
}

Test(ledger_replica, an_unlike_of_a_pair_never_seen_here_does_not_move_the_count)
{
	const char *it = ITEM;
	uint64_t c = 5;
	cr_assert_eq(ledger_replica_begin(T.l, T.p, 0), 0);
	ckpt(T.p, replica(T.p).gen, 10, true, 0, &it, &c, 1);
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "stranger", false, WALL, &a), 0);
	cr_assert_not(a.changed);
	cr_assert_not(a.member);
	cr_assert_eq(a.view.count, 5, "no drop that central has not confirmed");
	cr_assert_eq(view(ITEM).count, 5);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(T.nsent, 1, "the unlike is still sent: central settles it");
	/* Central settles it: the user had liked elsewhere. */
	uint64_t settled = 4;
	snap(T.p, 20, 1, &it, &settled, 1);
	cr_assert_eq(view(ITEM).count, 4);
	/* Now known here: a like counts again. */
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "stranger", true, WALL, &a), 0);
	cr_assert(a.changed);
	cr_assert_eq(a.view.count, 5);
}

Test(ledger_replica, a_rebuilt_edge_seals_after_the_sequence_central_applied)
{
	/* The same edge id on an empty store, as after a rebuild: central
	 * applied its batches up to 50 of this partition. */
	ledger_free(T.l);
	T.o.seq_from_checkpoint = true;
	T.o.seal_ops = 2;
	open_ledger();
	ledger_answer a;
	for (int i = 0; i < 5; i++) {
		char user[8];
		snprintf(user, sizeof user, "u%d", i);
		cr_assert_eq(ledger_write(T.l, "likes", ITEM, user, true, WALL, &a), 0);
	}
	cr_assert_eq(ledger_seal_due(T.l, WALL + 60000, true), 0);
	cr_assert_eq(T.nsent, 0, "no batch before the sequence is known");
	cr_assert_eq(ledger_replica_begin(T.l, T.p, 0), 0);
	const char *it = ITEM;
	uint64_t c = 0;
	ckpt(T.p, replica(T.p).gen, 10, true, 50, &it, &c, 0);
	cr_assert_eq(ledger_seal_due(T.l, WALL + 60000, false), 0);
	cr_assert_eq(T.nsent, 3, "five ops held, sealed two at a time: %zu", T.nsent);
	for (size_t i = 0; i < T.nsent; i++)
		cr_assert_eq(T.sent[i].seq, 51 + i, "after central's 50");
	cr_assert_eq(view(ITEM).count, 5);
	/* Kept: a restart seals after 53. */
	reopen();
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u9", true, WALL, &a), 0);
	cr_assert_eq(ledger_seal_due(T.l, WALL + 60000, true), 0);
	cr_assert_eq(T.sent[T.nsent - 1].seq, 54);
}

Test(ledger_replica, a_sequence_learnt_from_a_checkpoint_survives_a_restart)
{
	ledger_free(T.l);
	T.o.seq_from_checkpoint = true;
	open_ledger();
	cr_assert_eq(ledger_replica_begin(T.l, T.p, 0), 0);
	ckpt(T.p, replica(T.p).gen, 10, true, 0, NULL, NULL, 0);
	/* Central never saw this edge: 0, and known. A restart keeps it. */
	reopen();
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u1", true, WALL, &a), 0);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(T.nsent, 1);
	cr_assert_eq(T.sent[0].seq, 1);
}
