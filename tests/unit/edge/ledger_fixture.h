/* ledger_fixture.h - what the ledger's unit tests repeat on top of
 * ledger_util.h: one op of a random run, the wait for a ticket's end, a
 * home event with every
 * partition's position unknown, and a commit that overtakes a write
 * between its reads and its taking of the writer mutex.
 *
 * Static, included after tests/support/ledger_util.h by the test files
 * that need it: the state it works on, T, is the test file's own.
 */
#ifndef TESTS_UNIT_EDGE_LEDGER_FIXTURE_H
#define TESTS_UNIT_EDGE_LEDGER_FIXTURE_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "tests/support/ledger_util.h"
#include "edge/ledger/ledger.h"
#include "hlc.h"

#define LEDGER_FIXTURE static __attribute__((unused))

/* The size of a random op's user and item names. */
#define LEDGER_RUN_NAME 16

/* --- the random runs ------------------------------------------------------ */

/* A like or unlike (two in three are likes) of one of items items by
 * one of users users, drawn from state in that order; user and item
 * hold LEDGER_RUN_NAME bytes and keep the op's names. */
LEDGER_FIXTURE ledger_op random_like(uint64_t *state, char *user, char *item, unsigned users,
                                     unsigned items)
{
	snprintf(user, LEDGER_RUN_NAME, "u%u", (unsigned)(ledger_util_rnd(state) % users));
	snprintf(item, LEDGER_RUN_NAME, "post:%u", (unsigned)(ledger_util_rnd(state) % items));
	return like_op(user, item, ledger_util_rnd(state) % 3 != 0);
}

/* --- tickets ---------------------------------------------------------------- */

/* Waits (5 s at most) until t is resolved; its state. */
LEDGER_FIXTURE int ticket_resolved(const ledger_ticket *t)
{
	for (int i = 0; i < 5000; i++) {
		int st = ledger_ticket_state(t);
		if (st != LEDGER_STAGED)
			return st;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	cr_assert_fail("a ticket never resolved");
	return 0;
}

/* --- the home stream -------------------------------------------------------- */

/* One likes event of user on item from the home stream, stamped at ms,
 * applied with every partition's position unknown (no offset stored).
 * Returns how many events the ledger took: 0 or 1. */
LEDGER_FIXTURE size_t home_apply_one(const char *user, const char *item, bool add, uint64_t ms)
{
	ledger_home_ev e = {"likes", item, user, add, hlc_make(ms, 0), NULL, 0, 0};
	ledger_home_pos pos[NPARTS] = {{-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}};
	size_t taken;
	cr_assert_eq(ledger_home_apply(T.l, &e, 1, pos, WALL, &taken), 0);
	return taken;
}

/* --- a commit between a write's reads and its writer mutex --------------- */

/* The after_preread hook: commits the open group once, between a write's
 * reads before the writer mutex and its taking of the mutex, so that
 * what it read no longer stands. ctx is the test's flag: false arms the
 * hook, which sets it once it has committed. */
LEDGER_FIXTURE void commit_between(void *ctx)
{
	bool *once = ctx;
	if (*once)
		return;
	*once = true;
	cr_assert_eq(ledger_commit_now(T.l, WALL), 0);
}

/* T.l again with commit_between as its hook on once, which the caller
 * sets true (the hook disarmed) and keeps for the ledger's life. */
LEDGER_FIXTURE void reopen_with_commit_between(bool *once)
{
	ledger_free(T.l);
	T.o.after_preread = commit_between;
	T.o.hook_ctx = once;
	open_ledger();
}

/* The first try of op (with idem) staged at WALL under ticket t, then its
 * retry written at WALL + 1 with the hook armed: the first try's group
 * commits after the retry's reads and before it takes the writer mutex. */
LEDGER_FIXTURE void retry_overtaken(bool *once, const ledger_op *op, const ledger_idem *idem,
                                    ledger_ticket *t, ledger_answer *a, ledger_replay *r)
{
	cr_assert_eq(ledger_stage_ops(T.l, op, 1, WALL, a, idem, r, t), 0);
	*once = false;
	cr_assert_eq(ledger_write_ops(T.l, op, 1, WALL + 1, a, idem, r), 0);
	cr_assert(*once, "the hook ran");
}

#endif
