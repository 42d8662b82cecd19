/* test_ledger.c - the edge ledger over a real LevelDB store: answers to
 * writes, sealing by count and by age, confirmation and resends driven by
 * snapshots, restarts and the pending budget.
 *
 * The Kafka producer is replaced by a recording send function that keeps
 * (partition, seq, bytes) of every call and can play a full queue. Wall
 * times are chosen by the tests. Each test has its own temp dir, made in
 * .init and removed in .fini.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edge/telemetry/telemetry.h"
#include "tests/support/ledger_util.h"
#include "tests/support/wire_util.h"
#include "wire.h"

static void setup(void)
{
	ledger_util_setup("test_ledger");
}

TestSuite(ledger, .init = setup, .fini = ledger_util_teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------- */

static ledger_answer write_op(const char *user, bool add, uint64_t wall)
{
	ledger_answer a;
	int rc = ledger_write(T.l, "likes", ITEM, user, add, wall, &a);
	cr_assert_eq(rc, 0, "ledger_write: %s", err_str(rc));
	return a;
}

static uint64_t count(void)
{
	ledger_view v = {.count = 12345};
	cr_assert_eq(ledger_read(T.l, "likes", ITEM, &v), 0);
	return v.count;
}

/* Decodes sent[i]; the caller frees it with wire_batch_free. */
static void decode_sent(size_t i, wire_batch *b)
{
	cr_assert_lt(i, T.nsent);
	cr_assert_eq(wire_decode_batch(T.sent[i].buf, T.sent[i].len, b), 0);
	cr_assert_eq(b->partition, T.sent[i].partition);
	cr_assert_eq(b->seq, T.sent[i].seq);
}

/* A one-message snapshot of T.p from central. */
static void apply_snapshot(uint64_t applied, uint64_t held, uint64_t offset, bool with_count,
                           uint64_t cnt, int64_t msg_offset)
{
	wire_edge_seq e = {wire_cstr(EDGE, strlen(EDGE)), applied, held};
	wire_count c = {wire_cstr("likes", 5), wire_cstr(ITEM, strlen(ITEM)), cnt};
	wire_snapshot s = wire_util_snap(T.p, offset, WALL, &e, 1, &c, with_count ? 1 : 0);
	int rc = ledger_apply_snapshot(T.l, &s, msg_offset);
	cr_assert_eq(rc, 0, "ledger_apply_snapshot: %s", err_str(rc));
}

/* ---- writes -------------------------------------------------------------- */

Test(ledger, write_answers_membership_change_and_count)
{
	open_ledger();
	ledger_answer a = write_op("u1", true, WALL);
	cr_assert(a.member);
	cr_assert(a.changed);
	cr_assert_eq(a.view.count, 1);
	cr_assert_neq(a.hlc, 0);

	a = write_op("u2", true, WALL + 1);
	cr_assert_eq(a.view.count, 2);

	ledger_answer b = write_op("u1", false, WALL + 2);
	cr_assert_not(b.member);
	cr_assert(b.changed);
	cr_assert_eq(b.view.count, 1);

	int state;
	cr_assert_eq(ledger_member(T.l, "likes", ITEM, "u1", &state), 0);
	cr_assert_eq(state, 0);
	cr_assert_eq(ledger_member(T.l, "likes", ITEM, "u2", &state), 0);
	cr_assert_eq(state, 1);
	cr_assert_eq(ledger_member(T.l, "likes", ITEM, "u3", &state), 0);
	cr_assert_eq(state, -1);
}

Test(ledger, later_op_on_a_pair_has_a_later_clock_even_if_wall_steps_back)
{
	open_ledger();
	ledger_answer a = write_op("u1", true, WALL);
	ledger_answer b = write_op("u1", false, WALL - 5000);
	cr_assert_gt(b.hlc, a.hlc);
}

Test(ledger, repeat_answers_unchanged_but_is_still_sent)
{
	open_ledger();
	write_op("u1", true, WALL);
	ledger_answer a = write_op("u1", true, WALL + 1);
	cr_assert(a.member);
	cr_assert_not(a.changed);
	cr_assert_eq(a.view.count, 1, "a repeat does not move the count");
	cr_assert_eq(stats_now().ops_duplicate, 1);
	cr_assert_eq(stats_now().pending_ops, 2);

	cr_assert_eq(ledger_seal_due(T.l, WALL + 2, true), 0);
	cr_assert_eq(T.nsent, 1);
	wire_batch b;
	decode_sent(0, &b);
	cr_assert_eq(b.nops, 2, "the repeat goes in the batch");
	cr_assert_eq(b.ops[1].kind, WIRE_ADD);
	cr_assert_gt(b.ops[1].hlc, b.ops[0].hlc);
	wire_batch_free(&b);
	cr_assert_eq(count(), 1, "sealing does not move the count either");
}

Test(ledger, invalid_arguments_are_refused)
{
	open_ledger();
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "", ITEM, "u1", true, WALL, &a), ERR_INVAL);
	cr_assert_eq(ledger_write(T.l, "likes", "", "u1", true, WALL, &a), ERR_INVAL);
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "", true, WALL, &a), ERR_INVAL);
}

/* ---- sealing ------------------------------------------------------------- */

Test(ledger, third_write_seals_and_sends_batch_one)
{
	T.o.seal_ops = 3;
	open_ledger();
	ledger_answer w[3];
	w[0] = write_op("u1", true, WALL);
	w[1] = write_op("u2", true, WALL + 1);
	cr_assert_eq(T.nsent, 0);
	w[2] = write_op("u1", false, WALL + 2);
	cr_assert_eq(T.nsent, 1);
	cr_assert_eq(T.sent[0].partition, T.p);
	cr_assert_eq(T.sent[0].seq, 1);

	wire_batch b;
	decode_sent(0, &b);
	cr_assert(wire_util_str_is(b.edge, EDGE));
	cr_assert(wire_util_str_is(b.region, "eu"));
	cr_assert_eq(b.nops, 3);
	const char *users[3] = {"u1", "u2", "u1"};
	const uint8_t kinds[3] = {WIRE_ADD, WIRE_ADD, WIRE_REMOVE};
	for (uint32_t i = 0; i < 3; i++) {
		cr_assert(wire_util_str_is(b.ops[i].counter, "likes"));
		cr_assert(wire_util_str_is(b.ops[i].item, ITEM));
		cr_assert(wire_util_str_is(b.ops[i].user, users[i]), "op %u", i);
		cr_assert_eq(b.ops[i].kind, kinds[i], "op %u", i);
		cr_assert_eq(b.ops[i].n, 1);
		cr_assert_eq(b.ops[i].hlc, w[i].hlc, "op %u", i);
	}
	wire_batch_free(&b);
	ledger_stats s = stats_now();
	cr_assert_eq(s.batches_sealed, 1);
	cr_assert_eq(s.sealed_by[LEDGER_SEAL_OPS], 1, "sealed for its ops");
	cr_assert_eq(s.sealed_by[LEDGER_SEAL_AGE], 0);
	cr_assert_eq(s.pending_ops, 0);
	cr_assert_eq(s.pending_batches, 1);
	cr_assert_eq(count(), 1, "sealed ops still count until confirmed");

	/* The next batch of the partition is seq 2. */
	write_op("u3", true, WALL + 3);
	write_op("u4", true, WALL + 4);
	write_op("u5", true, WALL + 5);
	cr_assert_eq(T.nsent, 2);
	cr_assert_eq(T.sent[1].seq, 2);
}

/* seal_age_ms is 1000 here (open_ledger). */
Test(ledger, a_wall_clock_stepped_back_holds_a_batch_no_more_than_two_ages)
{
	open_ledger();
	/* 30 s back: past an age, so the open batch goes at once. Under the
	 * old bound of a minute it waited until the clock came back. */
	write_op("u1", true, WALL);
	cr_assert_eq(ledger_seal_due(T.l, WALL - 30000, false), 0);
	cr_assert_eq(T.nsent, 1);
	ledger_stats s = stats_now();
	cr_assert_eq(s.sealed_by[LEDGER_SEAL_CLOCK], 1);
	/* A step back of less than an age: due once the clock is an age
	 * past the first op, two ages from it at most. */
	write_op("u2", true, WALL + 100000);
	cr_assert_eq(ledger_seal_due(T.l, WALL + 100000 - 900, false), 0);
	cr_assert_eq(T.nsent, 1, "900 ms back, under an age: not yet");
	cr_assert_eq(ledger_seal_due(T.l, WALL + 100000 + 999, false), 0);
	cr_assert_eq(T.nsent, 1);
	cr_assert_eq(ledger_seal_due(T.l, WALL + 100000 + 1000, false), 0);
	cr_assert_eq(T.nsent, 2);
	s = stats_now();
	cr_assert_eq(s.sealed_by[LEDGER_SEAL_AGE], 1);
	cr_assert_eq(s.sealed_by[LEDGER_SEAL_CLOCK], 1);
}

Test(ledger, batch_seals_when_its_first_op_is_old_enough)
{
	open_ledger();
	write_op("u1", true, WALL);
	write_op("u2", true, WALL + 500);
	cr_assert_eq(ledger_seal_due(T.l, WALL + 999, false), 0);
	cr_assert_eq(T.nsent, 0, "not yet seal_age_ms after the first op");
	cr_assert_eq(ledger_seal_due(T.l, WALL + 1000, false), 0);
	cr_assert_eq(T.nsent, 1);
	wire_batch b;
	decode_sent(0, &b);
	cr_assert_eq(b.nops, 2);
	cr_assert_eq(b.created_ms, WALL + 1000);
	wire_batch_free(&b);
	/* Nothing open: sealing again sends nothing. */
	cr_assert_eq(ledger_seal_due(T.l, WALL + 5000, true), 0);
	cr_assert_eq(T.nsent, 1);
	/* A forced seal (the drain) is counted apart. */
	write_op("u3", true, WALL + 5000);
	cr_assert_eq(ledger_seal_due(T.l, WALL + 5001, true), 0);
	ledger_stats s = stats_now();
	cr_assert_eq(s.sealed_by[LEDGER_SEAL_AGE], 1);
	cr_assert_eq(s.sealed_by[LEDGER_SEAL_DRAIN], 1);
	cr_assert_eq(s.sealed_by[LEDGER_SEAL_OPS], 0);
	cr_assert_str_eq(ledger_seal_name(LEDGER_SEAL_DRAIN), "drain");
}

Test(ledger, full_producer_queue_is_retried_on_pump)
{
	open_ledger();
	write_op("u1", true, WALL);
	T.answer = ERR_AGAIN;
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(T.nsent, 0);
	cr_assert_eq(stats_now().batches_sent, 0);
	T.answer = 0;
	ledger_pump(T.l);
	cr_assert_eq(T.nsent, 1);
	cr_assert_eq(T.sent[0].seq, 1);
	ledger_pump(T.l);
	cr_assert_eq(T.nsent, 1, "an in-flight batch is not sent twice");
}

/* ---- snapshots ----------------------------------------------------------- */

Test(ledger, batch_stays_until_a_snapshot_confirms_it)
{
	open_ledger();
	write_op("u1", true, WALL);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	ledger_delivered(T.l, T.p, 1, 10);
	cr_assert_eq(count(), 1);

	/* A snapshot that has not reached the batch yet. */
	apply_snapshot(0, 0, 5, true, 0, 0);
	cr_assert_eq(stats_now().pending_batches, 1);
	cr_assert_eq(count(), 1, "snapshot 0 + overlay 1");
	cr_assert_eq(T.nsent, 1, "offset 5 is below the delivered 10: no resend");

	/* Central applied it: the count comes from the snapshot alone. */
	apply_snapshot(1, 0, 11, true, 1, 1);
	ledger_stats s = stats_now();
	cr_assert_eq(s.pending_batches, 0);
	cr_assert_eq(s.batches_applied, 1);
	cr_assert_eq(s.pending_bytes, 0);
	ledger_view v;
	cr_assert_eq(ledger_read(T.l, "likes", ITEM, &v), 0);
	cr_assert_eq(v.count, 1, "no double counting once applied");
	cr_assert_eq(v.version, 11, "the version is the snapshot offset");
	cr_assert(v.known);
	cr_assert_eq(T.nsent, 1);

	int64_t resume;
	cr_assert_eq(ledger_snapshot_resume(T.l, T.p, &resume), 0);
	cr_assert_eq(resume, 2);
}

/* A repeated like added nothing to the overlay, so confirming its batch
 * must take nothing out: the 'D' flags say which ops moved the overlay,
 * and they must still be readable when the batch is dropped. */
Test(ledger, a_confirmed_repeat_leaves_the_overlay_of_later_ops_alone)
{
	open_ledger();
	write_op("u1", true, WALL);
	write_op("u1", true, WALL); /* a repeat: counts nothing */
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	ledger_delivered(T.l, T.p, 1, 10);
	write_op("u2", true, WALL); /* pending in the open batch */
	cr_assert_eq(count(), 2);

	/* Central applied batch 1: u1 alone is in, so 1. */
	apply_snapshot(1, 0, 11, true, 1, 0);
	cr_assert_eq(stats_now().batches_applied, 1);
	cr_assert_eq(count(), 2, "1 from central + u2 still pending here");
}

Test(ledger, snapshot_past_a_delivered_batch_without_it_resends_it)
{
	open_ledger();
	write_op("u1", true, WALL);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(T.nsent, 1);
	ledger_delivered(T.l, T.p, 1, 10);

	apply_snapshot(0, 0, 11, true, 0, 0);
	cr_assert_eq(T.nsent, 2, "central read offset 10 without applying seq 1");
	cr_assert_eq(T.sent[1].seq, 1);
	cr_assert_eq(T.sent[1].partition, T.p);
	cr_assert_eq(T.sent[1].len, T.sent[0].len);
	cr_assert(memcmp(T.sent[1].buf, T.sent[0].buf, T.sent[0].len) == 0,
	          "the resend carries the same bytes");
	cr_assert_eq(stats_now().batches_resent, 1);
	cr_assert_eq(count(), 1, "still counted by the overlay");
}

Test(ledger, failed_delivery_is_sent_again)
{
	open_ledger();
	write_op("u1", true, WALL);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	ledger_delivered(T.l, T.p, 1, -1);
	ledger_pump(T.l);
	cr_assert_eq(T.nsent, 2);
	cr_assert_eq(T.sent[1].seq, 1);
}

Test(ledger, stale_snapshot_is_ignored)
{
	open_ledger();
	write_op("u1", true, WALL);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	ledger_delivered(T.l, T.p, 1, 10);
	apply_snapshot(1, 0, 20, true, 1, 0);
	apply_snapshot(0, 0, 15, true, 7, 1);
	cr_assert_eq(stats_now().snapshots_stale, 1);
	cr_assert_eq(count(), 1);
}

/* ---- restarts ------------------------------------------------------------ */

Test(ledger, reopen_rebuilds_pending_ops_overlay_and_resends_in_order)
{
	T.o.seal_ops = 2;
	open_ledger();
	write_op("u1", true, WALL);
	write_op("u2", true, WALL + 1); /* seals seq 1 */
	write_op("u3", true, WALL + 2);
	write_op("u4", true, WALL + 3); /* seals seq 2 */
	write_op("u5", true, WALL + 4);
	write_op("u6", true, WALL + 5);                      /* seals seq 3 */
	ledger_answer last = write_op("u7", true, WALL + 6); /* stays open */
	cr_assert_eq(T.nsent, 3);
	ledger_delivered(T.l, T.p, 1, 0);
	ledger_delivered(T.l, T.p, 2, 1);
	ledger_delivered(T.l, T.p, 3, 2);
	apply_snapshot(1, 0, 1, true, 2, 0);
	cr_assert_eq(count(), 7);

	/* Reopened, the edge pumps at once (open_ledger does as it does):
	 * the unconfirmed batches go out again, read back from the store. */
	size_t before = T.nsent;
	reopen();
	ledger_stats s = stats_now();
	cr_assert_eq(s.pending_batches, 2, "seq 2 and 3 are unconfirmed");
	cr_assert_eq(s.pending_ops, 1);
	cr_assert_eq(count(), 7, "snapshot 2 + overlay 5");
	int state;
	cr_assert_eq(ledger_member(T.l, "likes", ITEM, "u7", &state), 0);
	cr_assert_eq(state, 1);

	cr_assert_eq(T.nsent, before + 2);
	ledger_pump(T.l);
	cr_assert_eq(T.nsent, before + 2, "in flight: not sent twice");
	cr_assert_eq(T.sent[before].seq, 2);
	cr_assert_eq(T.sent[before + 1].seq, 3);
	cr_assert_eq(T.sent[before].len, T.sent[1].len);
	cr_assert(memcmp(T.sent[before].buf, T.sent[1].buf, T.sent[1].len) == 0);

	/* The open op is sealed as seq 4, and a later op on a pair gets a
	 * later clock than any op before the restart. */
	ledger_answer again = write_op("u7", false, WALL);
	cr_assert_gt(again.hlc, last.hlc);
	cr_assert_eq(T.nsent, before + 3);
	cr_assert_eq(T.sent[before + 2].seq, 4);
	wire_batch b;
	decode_sent(before + 2, &b);
	cr_assert_eq(b.nops, 2);
	cr_assert(wire_util_str_is(b.ops[0].user, "u7"));
	cr_assert_eq(b.ops[0].hlc, last.hlc);
	wire_batch_free(&b);
	cr_assert_eq(count(), 6);
}

Test(ledger, confirmed_batches_are_not_resent_after_reopen)
{
	open_ledger();
	write_op("u1", true, WALL);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	ledger_delivered(T.l, T.p, 1, 0);
	apply_snapshot(1, 0, 1, true, 1, 0);
	reopen();
	ledger_pump(T.l);
	cr_assert_eq(T.nsent, 1);
	cr_assert_eq(stats_now().pending_batches, 0);
	cr_assert_eq(count(), 1);
	int64_t resume;
	cr_assert_eq(ledger_snapshot_resume(T.l, T.p, &resume), 0);
	cr_assert_eq(resume, 1);
}

/* ---- budget -------------------------------------------------------------- */

Test(ledger, spent_budget_refuses_new_writes)
{
	T.o.budget_bytes = 1;
	T.o.tm = telemetry_new(0);
	open_ledger();
	cr_assert(ledger_accepting(T.l));
	write_op("u1", true, WALL);
	cr_assert_not(ledger_accepting(T.l));
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u2", true, WALL + 1, &a), ERR_FULL);
	cr_assert_eq(telemetry_refused_ops(T.o.tm, TM_REFUSED_BUDGET), 1,
	             "counted once, in the registry");
	int state;
	cr_assert_eq(ledger_member(T.l, "likes", ITEM, "u2", &state), 0);
	cr_assert_eq(state, -1, "nothing is recorded for a refused write");
	cr_assert_eq(count(), 1);
	cr_assert_eq(stats_now().pending_ops, 1);
	ledger_free(T.l); /* before the registry it counts into */
	T.l = NULL;
	telemetry_free(T.o.tm);
}

Test(ledger, zero_budget_refuses_the_first_write)
{
	T.o.budget_bytes = 0;
	open_ledger();
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, "u1", true, WALL, &a), ERR_FULL);
	cr_assert_eq(count(), 0);
}
