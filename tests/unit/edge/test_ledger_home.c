/* test_ledger_home.c - users at home in another region, and the home
 * stream: an op carries its user's home to the batch (through the group
 * record and a restart too) only when that home is another region; a
 * home event takes a pair only when it is newer than what the edge has,
 * moves the clock past itself, and its stream position is written with
 * it and survives a restart.
 *
 * Same fixture as test_ledger.c (ledger_util.h): the ledger's region is
 * "eu".
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlc.h"
#include "tests/support/ledger_util.h"
#include "tests/unit/edge/ledger_fixture.h"
#include "wire.h"

static void setup(void)
{
	ledger_util_setup("test_ledger_home");
	T.o.home_cover = true;
	open_ledger();
}

TestSuite(ledger_home, .init = setup, .fini = ledger_util_teardown, .timeout = 60);

static ledger_op like_from(const char *user, const char *home)
{
	return (ledger_op){
	    .counter = "likes", .item = ITEM, .user = user, .home = home, .add = true, .prior = -1};
}

static bool wire_is(wire_str w, const char *s)
{
	return w.n == strlen(s) && (w.n == 0 || memcmp(w.p, s, w.n) == 0);
}

Test(ledger_home, an_op_carries_its_users_home_when_it_has_one)
{
	ledger_op ops[4] = {like_from("u1", "us"), like_from("u2", "eu"), like_from("u3", NULL),
	                    like_from("u4", "")};
	ledger_answer a[4];
	cr_assert_eq(ledger_write_ops(T.l, ops, 4, WALL, a, NULL, NULL), 0);
	/* Read back from the group record at the restart, then sealed. */
	reopen();
	cr_assert_eq(ledger_seal_due(T.l, WALL + 5000, true), 0);
	cr_assert_eq(T.nsent, 1);
	wire_batch b;
	cr_assert_eq(wire_decode_batch(T.sent[0].buf, T.sent[0].len, &b), 0);
	cr_assert_eq(b.nops, 4);
	const char *want[4] = {"us", "eu", "", ""};
	for (uint32_t i = 0; i < 4; i++) {
		char user[8];
		snprintf(user, sizeof user, "u%u", i + 1);
		cr_assert(wire_is(b.ops[i].user, user));
		cr_assert(wire_is(b.ops[i].home, want[i]), "op %u", i);
	}
	wire_batch_free(&b);
}

/* Applies one event for (likes, ITEM, user) from partition T.p at offset. */
static size_t home_event(const char *user, bool member, uint64_t stamp, int64_t offset)
{
	ledger_home_ev e = {
	    .counter = "likes", .item = ITEM, .user = user, .member = member, .hlc = stamp};
	ledger_home_pos pos[NPARTS] = {{-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}};
	pos[T.p] = (ledger_home_pos){offset + 1, 0};
	size_t taken = 99;
	int rc = ledger_home_apply(T.l, &e, 1, pos, WALL, &taken);
	cr_assert_eq(rc, 0, "%s at offset %lld: %s", user, (long long)offset, err_str(rc));
	return taken;
}

static int64_t resume(void)
{
	int64_t next = -1;
	uint64_t from;
	cr_assert_eq(ledger_home_resume(T.l, T.p, &next, &from), 0);
	return next;
}

Test(ledger_home, a_home_event_takes_a_pair_only_when_newer_than_the_edges)
{
	int64_t none;
	uint64_t from;
	cr_assert_eq(ledger_home_resume(T.l, T.p, &none, &from), ERR_NOTFOUND);
	uint64_t t = hlc_make(WALL - 1000, 0);
	cr_assert_eq(home_event("u9", true, t, 0), 1, "a pair never seen here");
	cr_assert_eq(member_of("u9", ITEM), 1);
	cr_assert_eq(resume(), 1);
	cr_assert_eq(home_event("u9", false, t - 1, 1), 0, "older: the edge's state stays");
	cr_assert_eq(member_of("u9", ITEM), 1);
	cr_assert_eq(resume(), 2, "the position moves all the same");
	cr_assert_eq(home_event("u9", false, t + 1, 2), 1);
	cr_assert_eq(member_of("u9", ITEM), 0);
	/* The edge's own op: newer than the event only if it is later. */
	ledger_op op = like_from("u8", NULL);
	ledger_answer a;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	cr_assert_eq(home_event("u8", false, a.hlc - 1, 3), 0);
	cr_assert_eq(member_of("u8", ITEM), 1);
	cr_assert_eq(home_event("u8", false, a.hlc + 1, 4), 1);
	cr_assert_eq(member_of("u8", ITEM), 0);
	cr_assert_eq(count_of(ITEM), 1, "a home event moves no count: central's snapshot does");
	reopen();
	cr_assert_eq(resume(), 5);
	cr_assert_eq(member_of("u9", ITEM), 0);
}

Test(ledger_home, a_write_of_the_pair_between_the_events_read_and_its_staging_is_seen)
{
	/* The store is read before the writer mutex. A like staged (in the
	 * open group), then an older unlike from the stream: between its
	 * read (the store has no like yet) and the mutex, the group is
	 * written and leaves the groups. Read again, the event sees the
	 * newer like and leaves it. */
	bool once = true;
	reopen_with_commit_between(&once);
	ledger_op op = like_from("u6", NULL);
	ledger_answer a;
	ledger_ticket t;
	cr_assert_eq(ledger_stage_ops(T.l, &op, 1, WALL, &a, NULL, NULL, &t), 0);
	once = false;
	cr_assert_eq(home_event("u6", false, a.hlc - 1, 0), 0, "older than the like it missed");
	cr_assert(once, "the hook committed the like between the read and the mutex");
	cr_assert_eq(member_of("u6", ITEM), 1);
}

Test(ledger_home, an_op_after_a_home_event_is_later_than_it)
{
	/* An event stamped ahead of this edge's clock (another region's). */
	uint64_t ahead = hlc_make(WALL + 30000, 5);
	cr_assert_eq(home_event("u7", true, ahead, 0), 1);
	ledger_op op = {.counter = "likes", .item = ITEM, .user = "u7", .add = false, .prior = -1};
	ledger_answer a;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	cr_assert(a.changed, "the unlike of a like the event brought counts");
	cr_assert_gt(a.hlc, ahead, "so that central lets it win");
	cr_assert_eq(member_of("u7", ITEM), 0);
}

Test(ledger_home, events_of_one_call_keep_the_newest_per_pair)
{
	uint64_t t = hlc_make(WALL - 1000, 0);
	ledger_home_ev e[3] = {
	    {.counter = "likes", .item = ITEM, .user = "u5", .member = true, .hlc = t + 2},
	    {.counter = "likes", .item = ITEM, .user = "u5", .member = false, .hlc = t + 1},
	    {.counter = "saves", .item = ITEM, .user = "u5", .member = true, .hlc = t},
	};
	ledger_home_pos pos[NPARTS] = {{-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}};
	pos[T.p] = (ledger_home_pos){40, 0};
	size_t taken;
	cr_assert_eq(ledger_home_apply(T.l, e, 3, pos, WALL, &taken), 0);
	cr_assert_eq(taken, 2);
	cr_assert_eq(member_of("u5", ITEM), 1);
	int st;
	cr_assert_eq(ledger_member(T.l, "saves", ITEM, "u5", &st), 0);
	cr_assert_eq(st, 1);
	cr_assert_eq(resume(), 40);
	/* Out of bounds: refused whole. */
	char long_user[USER_MAX + 2];
	memset(long_user, 'x', sizeof long_user - 1);
	long_user[sizeof long_user - 1] = 0;
	e[0].user = long_user;
	cr_assert_eq(ledger_home_apply(T.l, e, 1, pos, WALL, &taken), ERR_INVAL);
}

/* --- a pair absent here: a known no, or not known ----------------------------- */

/* This edge has every change of its home users' pairs in item's
 * partition from version from (with no event). */
static void horizon(const char *item, uint64_t from)
{
	ledger_home_pos pos[NPARTS] = {{-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}};
	pos[partition_of(item, strlen(item), NPARTS)] = (ledger_home_pos){0, from};
	size_t taken;
	cr_assert_eq(ledger_home_apply(T.l, NULL, 0, pos, WALL, &taken), 0);
}

static int at_home(const char *user, const char *item)
{
	int st;
	cr_assert_eq(ledger_member_home(T.l, "likes", item, user, &st), 0);
	return st;
}

Test(ledger_home, an_absent_pair_is_a_known_no_where_the_items_count_was_0_since_the_horizon)
{
	const char *fresh = "post:fresh", *old = "post:old";
	ledger_util_complete_replicas();
	ledger_util_snapshot(old, 5, 3);    /* liked before the horizon */
	ledger_util_snapshot(fresh, 10, 0); /* none */
	cr_assert_eq(at_home("u1", fresh), -1, "no horizon yet");
	horizon(fresh, 10);
	horizon(old, 10);
	horizon("post:never", 10);
	cr_assert_eq(at_home("u1", fresh), 0);
	cr_assert_eq(at_home("u1", "post:never"), 0, "no count at all");
	cr_assert_eq(at_home("u1", old), -1, "its members may be older than the horizon");
	cr_assert_eq(member_of("u1", fresh), -1, "ledger_member itself does not know");
	/* Raised from 0 after the horizon: every member is newer. */
	ledger_util_snapshot(fresh, 20, 2);
	cr_assert_eq(at_home("u1", fresh), 0);
	ledger_util_snapshot(old, 20, 4);
	cr_assert_eq(at_home("u1", old), -1);
	/* Down to 0 and up again: covered from then on. */
	ledger_util_snapshot(old, 30, 0);
	ledger_util_snapshot(old, 40, 1);
	cr_assert_eq(at_home("u1", old), 0);
	/* A pair the store has answers as it is. */
	ledger_op op = like_from("u2", "eu");
	op.item = old;
	ledger_answer a;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	cr_assert_eq(at_home("u2", old), 1);
	/* The horizon survives a restart; a gap takes it away. */
	reopen();
	cr_assert_eq(at_home("u1", old), 0);
	horizon(old, LEDGER_HOME_NONE);
	cr_assert_eq(at_home("u1", old), -1);
}

Test(ledger_home, with_its_memberships_loaded_a_partition_answers_every_absent_pair)
{
	const char *old = "post:old";
	ledger_util_complete_replicas();
	ledger_util_snapshot(old, 5, 3); /* liked before any horizon, never 0 since */
	horizon(old, 10);
	cr_assert_eq(at_home("u1", old), -1);
	/* The load (bootstrap.c) puts central's memberships as events; the
	 * horizon 0 then says the store has them all. */
	cr_assert_eq(home_apply_one("u9", old, true, WALL - 1000), 1);
	horizon(old, 0);
	cr_assert_eq(at_home("u1", old), 0);
	cr_assert_eq(at_home("u9", old), 1);
	reopen();
	cr_assert_eq(at_home("u1", old), 0);
	cr_assert_eq(at_home("u9", old), 1);
}

/* ---- moves ------------------------------------------------------------------ */

static ledger_home_ev move_of(const char *user, const char *home, uint64_t since, uint32_t p)
{
	return (ledger_home_ev){.user = user, .home = home, .since_ms = since, .partition = p};
}

/* ledger_home_mark of (user, ITEM): its home ("" when none) and since. */
static const char *mark(const char *user, uint64_t *since)
{
	static char home[EDGE_ID_MAX + 1];
	int rc = ledger_home_mark(T.l, user, ITEM, home, since);
	if (rc == ERR_NOTFOUND)
		return "";
	cr_assert_eq(rc, 0, "%s", err_str(rc));
	return home;
}

Test(ledger_home, a_move_is_kept_per_partition_the_latest_wins_and_it_survives_a_restart)
{
	uint32_t p = partition_of(ITEM, strlen(ITEM), NPARTS);
	uint64_t since = 0;
	cr_assert_str_eq(mark("u1", &since), "", "no move known");
	ledger_home_ev evs[3] = {move_of("u1", "eu", 5000, p), move_of("u1", "us", 4000, p),
	                         move_of("u2", "eu", 7000, (p + 1) % NPARTS)};
	ledger_home_pos pos[NPARTS] = {{-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}};
	size_t taken;
	cr_assert_eq(ledger_home_apply(T.l, evs, 3, pos, WALL, &taken), 0);
	cr_assert_eq(taken, 0, "a move changes no pair");
	cr_assert_str_eq(mark("u1", &since), "eu", "the later of the two");
	cr_assert_eq(since, 5000);
	cr_assert_str_eq(mark("u2", &since), "", "u2's is of another partition");
	/* An older move later changes nothing; a newer one does. */
	ledger_home_ev older = move_of("u1", "jp", 4500, p);
	cr_assert_eq(ledger_home_apply(T.l, &older, 1, pos, WALL, &taken), 0);
	cr_assert_str_eq(mark("u1", &since), "eu");
	reopen();
	cr_assert_str_eq(mark("u1", &since), "eu", "read back, the filter loaded again");
	ledger_home_ev newer = move_of("u1", "jp", 9000, p);
	cr_assert_eq(ledger_home_apply(T.l, &newer, 1, pos, WALL, &taken), 0);
	cr_assert_str_eq(mark("u1", &since), "jp");
	cr_assert_eq(since, 9000);
	/* A move that is not one is refused whole. */
	ledger_home_ev bad[2] = {move_of("u3", "eu", 1, p), move_of("u3", "No Region", 2, p)};
	cr_assert_eq(ledger_home_apply(T.l, bad, 2, pos, WALL, &taken), ERR_INVAL);
	cr_assert_str_eq(mark("u3", &since), "");
	ledger_home_ev zero = move_of("u3", "eu", 0, p);
	cr_assert_eq(ledger_home_apply(T.l, &zero, 1, pos, WALL, &taken), ERR_INVAL);
}

Test(ledger_home, with_the_membership_filter_on_a_move_is_found_and_others_cost_no_read)
{
	/* The same ledger with a filter: a move staged goes into it, and a
	 * restart loads it from the store again. */
	ledger_free(T.l);
	T.o.member_filter_bytes = 1 << 16;
	open_ledger();
	uint32_t p = partition_of(ITEM, strlen(ITEM), NPARTS);
	ledger_home_ev e = move_of("u1", "eu", 5000, p);
	ledger_home_pos pos[NPARTS] = {{-1, 0}, {-1, 0}, {-1, 0}, {-1, 0}};
	size_t taken;
	cr_assert_eq(ledger_home_apply(T.l, &e, 1, pos, WALL, &taken), 0);
	uint64_t since = 0;
	cr_assert_str_eq(mark("u1", &since), "eu");
	cr_assert_str_eq(mark("u2", &since), "", "a user never moved: none");
	reopen();
	cr_assert_str_eq(mark("u1", &since), "eu", "in the filter loaded at the open");
	cr_assert_eq(since, 5000);
}
