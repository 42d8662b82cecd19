/* test_apply_fence.c - central's fence of a taken-over edge instance
 * (apply.c, docs/wire.md "Hand-over"): a hand-over moves the edge's
 * fence in its partition to its writer time, and the edge's batches
 * stamped with an earlier writer are void there from then on, whatever
 * their sequence; the fence is per edge and partition, survives a
 * restart, moves with a later batch too, never goes back, holds across
 * a changelog that started its epochs again, and never touches an
 * unstamped batch.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "tests/unit/central/apply_fixture.h"

TestSuite(apply_fence, .init = setup, .fini = teardown, .timeout = 60);

#define P 1 /* ITEM's partition of 4 */

/* Applies m, stamped with its sender's writer time (0: none). */
static void apply_stamped(uint32_t p, int64_t offset, msg m, uint64_t writer)
{
	int rc = applier_apply(T.a, p, offset, m.buf, m.len, writer);
	free(m.buf);
	cr_assert_eq(rc, 0, "applier_apply: %s", err_str(rc));
}

/* The hand-over of edge "a"'s changelog at epoch, by a writer at ms. */
static msg handover(uint32_t p, uint64_t epoch, uint64_t ms)
{
	return wire_util_handover(p, "a", epoch, ms);
}

/* The applied sequence of edge in p, as a snapshot tells it. */
static uint64_t applied_seq(const char *edge, uint32_t p)
{
	wire_snapshot s;
	bool more;
	applier_snapshot(T.a, p, 100, &s, &more);
	const wire_edge_seq *e = snap_edge(&s, edge);
	uint64_t seq = e ? e->applied : 0;
	wire_snapshot_free(&s);
	return seq;
}

Test(apply_fence, a_handover_voids_the_earlier_writers_batches_after_it)
{
	apply_msg(P, 0, handover(P, 1, 1000));
	apply_stamped(P, 1, one_op("a", P, 1, "u1", true, 10), 1000);
	apply_msg(P, 2, handover(P, 2, 2000));
	cr_assert_eq(stats().handovers_applied, 2);

	/* The former instance's next batch, sent after the hand-over. */
	apply_stamped(P, 3, one_op("a", P, 2, "u2", true, 20), 1000);
	cr_assert_eq(count(), 1, "a fenced batch must not apply");
	cr_assert_eq(stats().batches_fenced, 1);
	cr_assert_eq(applied_seq("a", P), 1, "nor move the edge's sequence");
	int64_t off;
	cr_assert_eq(applier_resume_offset(T.a, P, &off), 0);
	cr_assert_eq(off, 4, "its offset is still consumed");

	/* The same batch from the new instance applies. */
	apply_stamped(P, 4, one_op("a", P, 2, "u2", true, 20), 2000);
	cr_assert_eq(count(), 2);
	cr_assert_eq(applied_seq("a", P), 2);
	/* A duplicate from the earlier writer is fenced, not a duplicate. */
	apply_stamped(P, 5, one_op("a", P, 1, "u1", true, 10), 1000);
	cr_assert_eq(stats().batches_fenced, 2);
	cr_assert_eq(stats().batches_duplicate, 0);
}

Test(apply_fence, the_fence_is_per_edge_and_partition_and_spares_unstamped_batches)
{
	apply_msg(P, 0, handover(P, 5, 5000));
	apply_stamped(P, 1, one_op("b", P, 1, "u1", true, 10), 1000);
	cr_assert_eq(count(), 1, "edge b has no fence");
	apply_stamped(2, 0, one_op("a", 2, 1, "u2", true, 20), 1000);
	cr_assert_eq(count(), 2, "edge a has no fence in partition 2");
	apply_msg(P, 2, one_op("a", P, 1, "u3", true, 30));
	cr_assert_eq(count(), 3, "an edge without a changelog stamps nothing");
	cr_assert_eq(stats().batches_fenced, 0);
}

Test(apply_fence, a_later_batch_moves_the_fence_when_its_handover_was_lost)
{
	apply_msg(P, 0, handover(P, 2, 2000));
	apply_stamped(P, 1, one_op("a", P, 1, "u1", true, 10), 3000);
	apply_stamped(P, 2, one_op("a", P, 2, "u2", true, 20), 2000);
	cr_assert_eq(count(), 1, "writer 2000's batch after writer 3000's is void");
	cr_assert_eq(stats().batches_fenced, 1);
	/* Writer 2000's hand-over again, late: the fence does not go back. */
	apply_msg(P, 3, handover(P, 2, 2000));
	apply_stamped(P, 4, one_op("a", P, 2, "u2", true, 20), 2000);
	cr_assert_eq(count(), 1);
	cr_assert_eq(stats().batches_fenced, 2);
	cr_assert_eq(stats().handovers_applied, 1);
}

Test(apply_fence, an_older_or_repeated_handover_changes_nothing_and_the_fence_survives_a_restart)
{
	apply_msg(P, 0, handover(P, 5, 5000));
	apply_msg(P, 1, handover(P, 5, 5000));
	apply_msg(P, 2, handover(P, 3, 3000)); /* delayed, from before epoch 5 */
	cr_assert_eq(stats().handovers_applied, 1);
	reopen();
	apply_stamped(P, 3, one_op("a", P, 1, "u1", true, 10), 3000);
	cr_assert_eq(count(), 0, "the stored fence holds after a restart");
	cr_assert_eq(stats().batches_fenced, 1);
	apply_stamped(P, 4, one_op("a", P, 1, "u1", true, 10), 5000);
	cr_assert_eq(count(), 1);
}

Test(apply_fence, a_handover_for_another_partition_is_refused)
{
	apply_msg(P, 0, handover(2, 5, 5000));
	cr_assert_eq(stats().batches_bad, 1);
	cr_assert_eq(stats().handovers_applied, 0);
	apply_stamped(P, 1, one_op("a", P, 1, "u1", true, 10), 1000);
	cr_assert_eq(count(), 1, "no fence was raised");
}

Test(apply_fence, a_changelog_that_started_its_epochs_again_is_ordered_by_writer_time)
{
	apply_msg(P, 0, handover(P, 5, 5000));
	apply_stamped(P, 1, one_op("a", P, 1, "u1", true, 10), 5000);
	/* The region's changelog was rebuilt: the next takeover is epoch 1,
	 * at a later writer time. */
	apply_msg(P, 2, handover(P, 1, 9000));
	cr_assert_eq(stats().handovers_applied, 2);
	apply_stamped(P, 3, one_op("a", P, 2, "u2", true, 20), 9000);
	cr_assert_eq(count(), 2, "the new log's writer is not fenced");
	/* A late batch and a late hand-over of the old log's epoch 5 are
	 * void and change nothing. */
	apply_stamped(P, 4, one_op("a", P, 3, "u3", true, 30), 5000);
	apply_msg(P, 5, handover(P, 5, 5000));
	apply_stamped(P, 6, one_op("a", P, 3, "u4", true, 40), 9000);
	cr_assert_eq(count(), 3, "the new log's writer still applies");
	cr_assert_eq(stats().batches_fenced, 1);
	cr_assert_eq(stats().handovers_applied, 2);
}
