/* test_apply_move.c - a user's move to another home region in central's
 * applier (apply_move.c): the user's index entries of the partition go
 * to the new home with the pairs' states, the 'W' key says where the
 * user lives, later ops with the old home in their token are indexed
 * under the new one (after a restart too), a repeated or older move does
 * nothing, a newer one moves again, and a bad move is quarantined. The
 * events a move sends are test_apply_feed.c's.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/central/apply_fixture.h"
#include "central/apply/keys.h"
#include "xmem.h"

TestSuite(apply_move, .init = setup, .fini = teardown, .timeout = 60);

static wire_op like_of(const char *item, const char *user, bool add, uint64_t ts, const char *home)
{
	wire_op op = wire_util_op("likes", item, user, add ? WIRE_ADD : WIRE_REMOVE, 1, ts);
	if (home)
		op.home = wire_cstr(home, strlen(home));
	return op;
}

static msg move_msg(uint32_t p, const char *user, const char *home, uint64_t since)
{
	return wire_util_move(p, user, home, since);
}

static bool entry(const char *region, uint32_t p, const char *user, const char *item, bool *member,
                  uint64_t *clk)
{
	return home_entry_of(region, p, user, item, member, clk);
}

/* 'W' (p, user): its home as a string ("" when none) and since. */
static const char *where(uint32_t p, const char *user, uint64_t *since)
{
	static char home[EDGE_ID_MAX + 1];
	unsigned char k[5 + USER_MAX];
	char *v;
	size_t vn;
	int rc = store_get(T.db, k, ckey_where(k, p, user, strlen(user)), &v, &vn);
	home[0] = 0;
	if (rc == ERR_NOTFOUND)
		return home;
	cr_assert_eq(rc, 0);
	cr_assert_gt(vn, 8);
	*since = store_get_u64((unsigned char *)v);
	snprintf(home, sizeof home, "%.*s", (int)(vn - 8), v + 8);
	free(v);
	return home;
}

/* u1 (home "ap") likes post:1 and post:2 and unlikes post:3 in partition
 * 1, through edge a of region eu; u2 (home "ap") likes post:1. */
static void seed(void)
{
	wire_op ops[] = {
	    like_of("post:1", "u1", true, 100, "ap"), like_of("post:2", "u1", true, 101, "ap"),
	    like_of("post:3", "u1", true, 102, "ap"), like_of("post:3", "u1", false, 103, "ap"),
	    like_of("post:1", "u2", true, 104, "ap")};
	apply_msg(1, 0, make_batch("a", 1, 1, ops, 5));
}

Test(apply_move, a_move_takes_the_users_entries_of_the_partition_to_the_new_home)
{
	seed();
	applier_memory mem;
	applier_get_memory(T.a, &mem);
	cr_assert_eq(mem.moved_users, 0);
	apply_msg(1, 1, move_msg(1, "u1", "us", 5000));
	applier_get_memory(T.a, &mem);
	cr_assert_gt(mem.moved_users, 0, "the moved user's entry is counted");
	bool member;
	uint64_t clk, since = 0;
	cr_assert(entry("us", 1, "u1", "post:1", &member, &clk) && member && clk == 100);
	cr_assert(entry("us", 1, "u1", "post:2", &member, &clk) && member && clk == 101);
	cr_assert(entry("us", 1, "u1", "post:3", &member, &clk) && !member && clk == 103,
	          "an unlike moves too");
	cr_assert_not(entry("ap", 1, "u1", "post:1", &member, &clk), "gone from the old home");
	cr_assert_not(entry("ap", 1, "u1", "post:3", &member, &clk));
	cr_assert(entry("ap", 1, "u2", "post:1", &member, &clk), "another user stays");
	cr_assert_str_eq(where(1, "u1", &since), "us");
	cr_assert_eq(since, 5000);
	cr_assert_str_eq(where(0, "u1", &since), "", "each partition moves on its own message");
	cr_assert_eq(stats().moves_applied, 1);
	cr_assert_eq(stats().moved_pairs, 3);
	cr_assert_eq(count(), 2, "counts do not move");
}

Test(apply_move, later_ops_with_the_old_home_are_indexed_under_the_new_after_a_restart_too)
{
	seed();
	apply_msg(1, 1, move_msg(1, "u1", "us", 5000));
	/* A token issued before the move still says "ap". */
	apply_msg(1, 2,
	          make_batch("a", 1, 2, (wire_op[]){like_of("post:4", "u1", true, 200, "ap")}, 1));
	bool member;
	uint64_t clk;
	cr_assert(entry("us", 1, "u1", "post:4", &member, &clk) && member);
	cr_assert_not(entry("ap", 1, "u1", "post:4", &member, &clk));
	reopen();
	apply_msg(1, 3,
	          make_batch("a", 1, 3, (wire_op[]){like_of("post:5", "u1", true, 201, "ap")}, 1));
	cr_assert(entry("us", 1, "u1", "post:5", &member, &clk) && member, "W keys are read back");
	cr_assert_not(entry("ap", 1, "u1", "post:5", &member, &clk));
	/* Another user's ops are as their token says. */
	apply_msg(1, 4,
	          make_batch("a", 1, 4, (wire_op[]){like_of("post:5", "u2", true, 202, "ap")}, 1));
	cr_assert(entry("ap", 1, "u2", "post:5", &member, &clk));
	/* In a partition the move has not reached yet, the token stands:
	 * that partition's move takes the entry along when it comes. */
	apply_msg(2, 0,
	          make_batch("a", 2, 1, (wire_op[]){like_of("post:6", "u1", true, 203, "ap")}, 1));
	cr_assert(entry("ap", 2, "u1", "post:6", &member, &clk));
	apply_msg(2, 1, move_msg(2, "u1", "us", 5000));
	cr_assert(entry("us", 2, "u1", "post:6", &member, &clk) && member && clk == 203);
	cr_assert_not(entry("ap", 2, "u1", "post:6", &member, &clk));
}

Test(apply_move, a_repeated_or_older_move_does_nothing_and_a_newer_one_moves_again)
{
	seed();
	apply_msg(1, 1, move_msg(1, "u1", "us", 5000));
	apply_msg(1, 2, move_msg(1, "u1", "us", 5000));
	apply_msg(1, 3, move_msg(1, "u1", "ap", 4000));
	uint64_t since = 0, clk;
	bool member;
	cr_assert_str_eq(where(1, "u1", &since), "us");
	cr_assert_eq(stats().moves_stale, 2);
	cr_assert(entry("us", 1, "u1", "post:1", &member, &clk));
	/* Back to "ap", later: every entry goes back, ops since "us" too. */
	apply_msg(1, 4,
	          make_batch("a", 1, 2, (wire_op[]){like_of("post:4", "u1", true, 200, "us")}, 1));
	apply_msg(1, 5, move_msg(1, "u1", "ap", 6000));
	cr_assert_str_eq(where(1, "u1", &since), "ap");
	cr_assert_eq(since, 6000);
	cr_assert(entry("ap", 1, "u1", "post:1", &member, &clk) && member);
	cr_assert(entry("ap", 1, "u1", "post:4", &member, &clk) && member);
	cr_assert_not(entry("us", 1, "u1", "post:4", &member, &clk));
	cr_assert_eq(stats().moves_applied, 2);
}

Test(apply_move, a_move_to_a_home_that_already_holds_some_pairs_takes_the_newest_state)
{
	/* u1 liked post:1 while living in "us" (indexed there), then, at
	 * home in "ap", unliked it: "us" holds a stale like, "ap" the
	 * unlike. Moving to "us" leaves the unlike there. */
	apply_msg(1, 0,
	          make_batch("a", 1, 1, (wire_op[]){like_of("post:1", "u1", true, 100, "us")}, 1));
	apply_msg(1, 1,
	          make_batch("a", 1, 2, (wire_op[]){like_of("post:1", "u1", false, 150, "ap")}, 1));
	apply_msg(1, 2, move_msg(1, "u1", "us", 5000));
	bool member = true;
	uint64_t clk = 0;
	cr_assert(entry("us", 1, "u1", "post:1", &member, &clk));
	cr_assert_not(member);
	cr_assert_eq(clk, 150);
	cr_assert_not(entry("ap", 1, "u1", "post:1", &member, &clk));
}

Test(apply_move, a_bad_move_is_quarantined_and_the_partition_goes_on)
{
	seed();
	apply_msg(1, 1, move_msg(2, "u1", "us", 5000)); /* produced to another partition */
	apply_msg(1, 2, move_msg(1, "u1", "Not A Region", 5000));
	uint64_t since;
	cr_assert_str_eq(where(1, "u1", &since), "");
	cr_assert_eq(stats().moves_bad, 2);
	cr_assert_eq(stats().batches_deadlettered, 2);
	int64_t next;
	cr_assert_eq(applier_resume_offset(T.a, 1, &next), 0);
	cr_assert_eq(next, 3, "both offsets are consumed");
}

Test(apply_move, regions_whose_names_start_alike_are_each_found_and_the_new_home_kept)
{
	/* u1's entries under "eu", "eu-west" (which starts as "eu" does) and
	 * "ap": a move to "eu" takes the other two along; one to "us", all. */
	apply_msg(1, 0,
	          make_batch("a", 1, 1,
	                     (wire_op[]){like_of("post:1", "u1", true, 100, "eu"),
	                                 like_of("post:2", "u1", true, 101, "eu-west"),
	                                 like_of("post:3", "u1", true, 102, "ap")},
	                     3));
	apply_msg(1, 1, move_msg(1, "u1", "eu", 5000));
	bool member;
	uint64_t clk;
	for (int i = 1; i <= 3; i++) {
		char item[16];
		snprintf(item, sizeof item, "post:%d", i);
		cr_assert(entry("eu", 1, "u1", item, &member, &clk) && member, "%s", item);
	}
	cr_assert_not(entry("eu-west", 1, "u1", "post:2", &member, &clk));
	cr_assert_not(entry("ap", 1, "u1", "post:3", &member, &clk));
	cr_assert_eq(stats().moved_pairs, 2, "the new home's own entry stays");
	apply_msg(1, 2, move_msg(1, "u1", "us", 6000));
	cr_assert(entry("us", 1, "u1", "post:2", &member, &clk) && member);
	cr_assert_not(entry("eu", 1, "u1", "post:1", &member, &clk));
	cr_assert_eq(stats().moved_pairs, 5);
}

/* ---- a user's first home ------------------------------------------------- */

/* Whether the entry of (region, p, user, item) is there and unhomed. */
static bool unhomed_entry(const char *region, uint32_t p, const char *user, const char *item,
                          bool *member)
{
	unsigned char k[CKEY_MAX];
	size_t kn = ckey_home(k, region, strlen(region), p, user, strlen(user), "likes", 5, item,
	                      strlen(item));
	char *v;
	size_t vn;
	if (store_get(T.db, k, kn, &v, &vn) == ERR_NOTFOUND)
		return false;
	bool unhomed = false;
	uint64_t clk;
	cr_assert(ckey_parse_home_value_as(v, vn, member, &unhomed, &clk));
	free(v);
	return unhomed;
}

static size_t day_keys(void)
{
	return testdir_count_keys(T.db, ckey_prefix(CKEY_HOME_DAY), 1);
}

Test(apply_move, a_users_first_home_takes_the_pairs_they_made_without_one)
{
	const char *homes[2] = {"ap", "us"};
	applier_set_homes(T.a, homes, 2);
	/* u9 has no home yet: a like through eu, one through ap, a like and
	 * its unlike through us. Each is indexed under the region that took
	 * it, unhomed, with no day key (it is no region's user's yet). */
	apply_msg(1, 0,
	          make_batch_in("e", "eu", 1, 1,
	                        (wire_op[]){like_of("post:1", "u9", true, 100, NULL)}, 1));
	apply_msg(1, 1,
	          make_batch_in("a", "ap", 1, 1,
	                        (wire_op[]){like_of("post:2", "u9", true, 101, NULL)}, 1));
	apply_msg(1, 2,
	          make_batch_in("u", "us", 1, 1,
	                        (wire_op[]){like_of("post:3", "u9", true, 102, NULL),
	                                    like_of("post:3", "u9", false, 103, NULL)},
	                        2));
	bool member = false;
	uint64_t clk = 0;
	cr_assert(unhomed_entry("eu", 1, "u9", "post:1", &member) && member);
	cr_assert(unhomed_entry("ap", 1, "u9", "post:2", &member) && member);
	cr_assert(unhomed_entry("us", 1, "u9", "post:3", &member) && !member);
	cr_assert_eq(day_keys(), 0);
	/* The identity service gives u9 the home ap: a move, as any. Every
	 * pair is ap's now, ap's own one included, homed. */
	apply_msg(1, 3, move_msg(1, "u9", "ap", 5000));
	for (int i = 1; i <= 3; i++) {
		char item[16];
		snprintf(item, sizeof item, "post:%d", i);
		cr_assert(entry("ap", 1, "u9", item, &member, &clk), "%s", item);
		cr_assert_not(unhomed_entry("ap", 1, "u9", item, &member), "%s homed", item);
		cr_assert_eq(member, i != 3, "%s", item);
	}
	cr_assert_not(entry("eu", 1, "u9", "post:1", &member, &clk));
	cr_assert_not(entry("us", 1, "u9", "post:3", &member, &clk));
	cr_assert_eq(stats().moved_pairs, 3);
	cr_assert_eq(day_keys(), 2, "the two likes' days, now ap's users'");
	/* A later op with a token still without the claim goes home too. */
	apply_msg(1, 4,
	          make_batch_in("e", "eu", 1, 2,
	                        (wire_op[]){like_of("post:4", "u9", true, 200, NULL)}, 1));
	cr_assert(entry("ap", 1, "u9", "post:4", &member, &clk) && member);
	cr_assert_not(unhomed_entry("ap", 1, "u9", "post:4", &member));
	cr_assert_not(entry("eu", 1, "u9", "post:4", &member, &clk));
}

Test(apply_move, without_home_streams_an_op_without_a_home_is_not_indexed)
{
	apply_msg(1, 0,
	          make_batch_in("e", "eu", 1, 1,
	                        (wire_op[]){like_of("post:1", "u9", true, 100, NULL)}, 1));
	bool member;
	uint64_t clk;
	cr_assert_not(entry("eu", 1, "u9", "post:1", &member, &clk));
	cr_assert_eq(testdir_count_keys(T.db, ckey_prefix(CKEY_HOME), 1), 0);
}

Test(apply_move, an_op_without_a_home_keeps_a_homed_entry_homed)
{
	const char *homes[1] = {"ap"};
	applier_set_homes(T.a, homes, 1);
	/* u1 lives in ap by the claim (no move): a homed entry there. A like
	 * and then an unlike through ap with tokens without the claim (an
	 * edge not yet upgraded) keep it ap's user's, with the new state,
	 * in the store and within one message. */
	apply_msg(1, 0,
	          make_batch_in("a", "ap", 1, 1,
	                        (wire_op[]){like_of("post:1", "u1", true, 100, "ap")}, 1));
	apply_msg(1, 1,
	          make_batch_in("a", "ap", 1, 2,
	                        (wire_op[]){like_of("post:1", "u1", false, 200, NULL)}, 1));
	bool member = true;
	uint64_t clk = 0;
	cr_assert(entry("ap", 1, "u1", "post:1", &member, &clk));
	cr_assert_not(unhomed_entry("ap", 1, "u1", "post:1", &member), "still ap's user's");
	cr_assert_not(member);
	cr_assert_eq(clk, 200);
	apply_msg(1, 2,
	          make_batch_in("a", "ap", 1, 3,
	                        (wire_op[]){like_of("post:2", "u1", true, 300, "ap"),
	                                    like_of("post:2", "u1", false, 310, NULL),
	                                    like_of("post:2", "u1", true, 320, NULL)},
	                        3));
	cr_assert(entry("ap", 1, "u1", "post:2", &member, &clk) && member && clk == 320);
	cr_assert_not(unhomed_entry("ap", 1, "u1", "post:2", &member));
	/* Through another region, the claimless op is that region's, unhomed. */
	apply_msg(1, 3,
	          make_batch_in("e", "eu", 1, 1,
	                        (wire_op[]){like_of("post:3", "u1", true, 400, NULL)}, 1));
	cr_assert(unhomed_entry("eu", 1, "u1", "post:3", &member) && member);
}

Test(apply_move, more_moved_users_than_the_first_filter_holds_are_all_still_known)
{
	/* 70,000 users move (the first filter has room for 65,536): the
	 * filter is built again, larger, and every one of them is still
	 * known: a later op of theirs with a token from before their move
	 * is indexed under the new home. The same after a restart. */
	enum { MOVERS = 70000 };
	applier_memory mem;
	for (int i = 0; i < MOVERS; i++) {
		char u[16];
		snprintf(u, sizeof u, "m%05d", i);
		apply_msg(0, i, move_msg(0, u, "us", 5000));
		if (i == 0) {
			applier_get_memory(T.a, &mem);
			cr_assert_gt(mem.moved_users, 0);
		}
	}
	size_t first_filter_bytes = mem.moved_users;
	applier_get_memory(T.a, &mem);
	cr_assert_gt(mem.moved_users, first_filter_bytes, "a larger filter");
	cr_assert_lt(mem.moved_users, (size_t)MOVERS * 4, "a few bytes a user");
	const int probe[] = {0, 1, 33333, 65535, 65536, 65537, MOVERS - 1};
	int64_t off = MOVERS;
	uint64_t seq = 0; /* edge a's batches in partition 0 */
	for (int round = 0; round < 2; round++) {
		for (size_t j = 0; j < sizeof probe / sizeof probe[0]; j++) {
			char u[16], item[24];
			snprintf(u, sizeof u, "m%05d", probe[j]);
			snprintf(item, sizeof item, "post:r%dp%zu", round, j);
			off++;
			seq++;
			apply_msg(0, off,
			          make_batch("a", 0, seq,
			                     (wire_op[]){like_of(item, u, true, 6000, "ap")}, 1));
			bool member;
			uint64_t clk;
			cr_assert(entry("us", 0, u, item, &member, &clk) && member, "%s", u);
			cr_assert_not(entry("ap", 0, u, item, &member, &clk), "%s", u);
		}
		reopen();
	}
}
