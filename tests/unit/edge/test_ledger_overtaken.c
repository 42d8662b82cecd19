/* test_ledger_overtaken.c - a writer with a log that another instance
 * took over without its hearing of it (cut from its log): central's word
 * that it applied batches of this edge this instance never sealed (a
 * snapshot's or a checkpoint's edge list, or a read-through count's
 * applied sequence) makes every count read and write refuse (ERR_FENCED)
 * before a count holding the other instance's batch and this overlay's
 * copy of its ops is shown (nemesis seed 13 on real Kafka: the cut active answered
 * post:i220 likes 3 when 2 had ever been sent). A writer's own batches,
 * and a ledger with no log (a store restored from a backup), never
 * trip it.
 *
 * Same fixture as test_ledger.c (ledger_util.h); the log is a fake whose
 * copies land at once.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "err.h"
#include "tests/support/ledger_util.h"

static void setup(void)
{
	ledger_util_setup("test_ledger_overtaken");
	T.o.log = &ledger_util_quiet_log;
	T.o.rt_ttl_ms = 60000;
	open_ledger();
}

TestSuite(ledger_overtaken, .init = setup, .fini = ledger_util_teardown, .timeout = 30);

static int like(const char *user)
{
	ledger_answer a;
	return ledger_write(T.l, "likes", ITEM, user, true, WALL, &a);
}

/* Central's snapshot of ITEM's partition at version: it applied this
 * edge's batches up to applied, and ITEM has count likes. */
static int snapshot(uint64_t version, uint64_t applied, uint64_t count)
{
	wire_edge_seq e = {wire_cstr(EDGE, strlen(EDGE)), applied, 0};
	wire_count c = {wire_cstr("likes", 5), wire_cstr(ITEM, strlen(ITEM)), count};
	wire_snapshot s = wire_util_snap(T.p, version, WALL, &e, 1, &c, 1);
	return ledger_apply_snapshot(T.l, &s, (int64_t)version);
}

static int read_item(ledger_view *v)
{
	return ledger_read(T.l, "likes", ITEM, v);
}

Test(ledger_overtaken, a_snapshot_of_batches_never_sealed_here_refuses_every_count)
{
	cr_assert_eq(like("u1"), 0);
	cr_assert_eq(count_of(ITEM), 1, "u1's like, open here");
	/* Another instance took the log over, sealed u1's like as batch 1
	 * and central applied it: its snapshot holds u1's like. */
	cr_assert_eq(snapshot(10, 1, 1), 0);
	ledger_view v;
	cr_assert_eq(read_item(&v), ERR_FENCED,
	             "not 2: the snapshot's count and this overlay both hold u1's like");
	cr_assert(ledger_overtaken(T.l));
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u2", true, WALL, &a), ERR_FENCED,
	             "a write's count is refused too");
	ledger_ref r = {"likes", ITEM, 5, strlen(ITEM)};
	cr_assert_eq(ledger_read_many(T.l, &r, 1, &v), ERR_FENCED);
}

Test(ledger_overtaken, a_read_through_count_of_batches_never_sealed_here_refuses)
{
	cr_assert_eq(like("u1"), 0);
	ledger_readthrough_put(T.l, "likes", ITEM, 1, 11, 1, WALL);
	ledger_view v;
	cr_assert_eq(read_item(&v), ERR_FENCED, "central's count holds the other instance's batch");
	cr_assert(ledger_overtaken(T.l));
}

Test(ledger_overtaken, a_checkpoint_of_batches_never_sealed_here_refuses)
{
	/* A replica load started on a running writer (its snapshot stream
	 * jumped): the checkpoint's counts hold the other instance's batch. */
	cr_assert_eq(like("u1"), 0);
	uint32_t gen = ledger_util_replica_start(T.p);
	wire_edge_seq e = {wire_cstr(EDGE, strlen(EDGE)), 1, 0};
	wire_count c = {wire_cstr("likes", 5), wire_cstr(ITEM, strlen(ITEM)), 1};
	wire_snapshot s = wire_util_snap(T.p, 10, WALL, &e, 1, &c, 1);
	cr_assert_eq(ledger_replica_apply(T.l, &s, gen), 0);
	ledger_view v;
	cr_assert_eq(read_item(&v), ERR_FENCED, "not 2: the checkpoint's count and the overlay's");
	cr_assert(ledger_overtaken(T.l));
}

Test(ledger_overtaken, this_writers_own_batches_confirmed_are_counted_once)
{
	cr_assert_eq(like("u1"), 0);
	cr_assert_eq(ledger_seal_due(T.l, WALL + 2, true), 0);
	cr_assert_eq(T.nsent, 1, "batch 1 sealed and sent");
	ledger_readthrough_put(T.l, "likes", ITEM, 1, 11, 1, WALL);
	cr_assert_eq(count_of(ITEM), 1, "central's count, batch 1 in it, taken off the overlay");
	cr_assert_eq(snapshot(12, 1, 1), 0);
	cr_assert_eq(count_of(ITEM), 1);
	cr_assert_not(ledger_overtaken(T.l));
	cr_assert_eq(like("u2"), 0);
	cr_assert_eq(count_of(ITEM), 2);
}

Test(ledger_overtaken, a_ledger_with_no_log_is_never_overtaken)
{
	/* A single instance whose store came back from a backup may be
	 * behind central's word: nothing else writes as it. */
	ledger_free(T.l);
	T.o.log = NULL;
	open_ledger();
	cr_assert_eq(like("u1"), 0);
	cr_assert_eq(snapshot(10, 3, 5), 0);
	ledger_view v;
	cr_assert_eq(read_item(&v), 0);
	cr_assert_not(ledger_overtaken(T.l));
}
