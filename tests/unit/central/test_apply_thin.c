/* test_apply_thin.c - the sweep of the home index's day keys
 * (central/apply/apply_thin.c): every 'G' key of an item after its
 * oldest in a region's partition goes, the oldest never; a round in
 * many steps, with keys written between them; names that do not parse;
 * a failed store write; the rounds' schedule.
 */
#include "tests/unit/central/apply_fixture.h"

#include "central/apply/day.h"
#include "hlc.h"

TestSuite(apply_thin, .init = setup, .fini = teardown, .timeout = 60);

#define DAY0 20000u /* 2024-10-04 */
#define MIN_MS (60 * 1000)

static uint64_t hlc_on(uint32_t d, uint64_t ms)
{
	return hlc_make((uint64_t)d * DAY_MS + ms, 0);
}

/* A like of item by user on day d, by a user at home in home. */
static wire_op like_on(const char *item, const char *user, uint32_t d, const char *home)
{
	wire_op op = wire_util_op("likes", item, user, WIRE_ADD, 1, hlc_on(d, 1000));
	op.home = wire_cstr(home, strlen(home));
	return op;
}

static size_t day_keys(void)
{
	return testdir_count_keys(T.db, ckey_prefix(CKEY_HOME_DAY), 1);
}

/* Whether the 'G' key of (home, p, likes, item, d) is in the store. */
static bool has_day(const char *home, uint32_t p, const char *item, uint32_t d)
{
	unsigned char k[CKEY_MAX];
	size_t kn = ckey_home_day(k, home, strlen(home), p, "likes", 5, item, strlen(item), d);
	char *v;
	size_t vn;
	int rc = store_get(T.db, k, kn, &v, &vn);
	if (rc == 0)
		free(v);
	cr_assert(rc == 0 || rc == ERR_NOTFOUND);
	return rc == 0;
}

/* Writes the 'G' key of (home, p, likes, item, d) straight to the store,
 * as the applier would. */
static void put_day(store_batch *wb, const char *home, uint32_t p, const char *item, uint32_t d)
{
	unsigned char k[CKEY_MAX], v[8 + 2];
	size_t kn = ckey_home_day(k, home, strlen(home), p, "likes", 5, item, strlen(item), d);
	store_put_u64(v, hlc_on(d, 1));
	memcpy(v + 8, "u1", 2);
	store_batch_put(wb, k, kn, v, sizeof v);
}

Test(apply_thin, only_the_oldest_day_key_of_each_item_in_a_region_partition_stays)
{
	wire_op p0[] = {
	    like_on("post:a", "u1", DAY0 + 2, "ap"), like_on("post:a", "u2", DAY0, "ap"),
	    like_on("post:a", "u3", DAY0 + 1, "ap"), like_on("post:b", "u4", DAY0 + 3, "ap"),
	    like_on("post:b", "u5", DAY0 + 1, "ap"), like_on("post:a", "u6", DAY0 + 2, "eu"),
	};
	apply_msg(0, 0, make_batch("e1", 0, 1, p0, sizeof p0 / sizeof p0[0]));
	wire_op p1[] = {like_on("post:a", "u7", DAY0 + 2, "ap"),
	                like_on("post:a", "u8", DAY0 + 1, "ap")};
	apply_msg(1, 0, make_batch("e1", 1, 1, p1, 2));
	cr_assert_eq(day_keys(), 8);
	cr_assert_eq(applier_thin_round(T.a, 1), 0);
	cr_assert_eq(day_keys(), 4);
	cr_assert(has_day("ap", 0, "post:a", DAY0));
	cr_assert(has_day("ap", 0, "post:b", DAY0 + 1));
	cr_assert(has_day("eu", 0, "post:a", DAY0 + 2), "another region's keys are its own");
	cr_assert(has_day("ap", 1, "post:a", DAY0 + 1), "another partition's too");
	cr_assert_not(has_day("ap", 0, "post:a", DAY0 + 1));
	cr_assert_not(has_day("ap", 0, "post:b", DAY0 + 3));
	cr_assert_eq(stats().days_thinned, 4);
	cr_assert_eq(stats().thin_rounds, 1);
	/* The counts and memberships are not the sweep's. */
	uint64_t c = 0;
	cr_assert_eq(applier_count(T.a, "likes", "post:a", &c), 0);
	cr_assert_eq(c, 6);
	/* After a restart, a later like writes its day again; the next
	 * round takes it, and an older one becomes the item's first. */
	reopen();
	wire_op later[] = {like_on("post:a", "u9", DAY0 + 5, "ap"),
	                   like_on("post:b", "u9", DAY0 - 1, "ap")};
	apply_msg(0, 1, make_batch("e1", 0, 2, later, 2));
	cr_assert_eq(day_keys(), 6);
	cr_assert_eq(applier_thin_round(T.a, 2), 0);
	cr_assert_eq(day_keys(), 4);
	cr_assert(has_day("ap", 0, "post:a", DAY0));
	cr_assert(has_day("ap", 0, "post:b", DAY0 - 1));
	cr_assert_not(has_day("ap", 0, "post:b", DAY0 + 1));
	cr_assert_eq(stats().thin_rounds, 1, "the new applier's first round");
}

Test(apply_thin, a_round_waits_for_its_time_and_goes_in_steps)
{
	/* 3 items x 2,000 days: more keys than one step reads. */
	store_batch *wb = store_batch_new();
	const char *items[3] = {"post:x", "post:y", "post:z"};
	for (int i = 0; i < 3; i++)
		for (uint32_t d = 0; d < 2000; d++)
			put_day(wb, "ap", 2, items[i], DAY0 + d);
	cr_assert_eq(store_write(T.db, wb), 0);
	store_batch_free(wb);
	cr_assert_eq(day_keys(), 6000);
	uint64_t t0 = 1000000;
	cr_assert_eq(applier_thin_step(T.a, t0), 0);
	cr_assert_eq(day_keys(), 6000, "the first round waits");
	cr_assert_eq(applier_thin_step(T.a, t0 + 4 * MIN_MS), 0);
	cr_assert_eq(day_keys(), 6000);
	int steps = 0;
	uint64_t now = t0 + 5 * MIN_MS;
	while (stats().thin_rounds == 0) {
		cr_assert_lt(steps, 1000);
		cr_assert_eq(applier_thin_step(T.a, now), 0);
		steps++;
		if (steps == 1) {
			size_t after_one = day_keys();
			cr_assert_gt(after_one, 3, "one step does not do it all");
			/* The next step waits 20 ms. */
			cr_assert_eq(applier_thin_step(T.a, now + 19), 0);
			cr_assert_eq(day_keys(), after_one);
			/* Written between two steps: behind the cursor (an older
			 * day of x) and ahead of it (a new day of z). */
			wb = store_batch_new();
			put_day(wb, "ap", 2, "post:x", DAY0 - 7);
			put_day(wb, "ap", 2, "post:z", DAY0 + 3000);
			cr_assert_eq(store_write(T.db, wb), 0);
			store_batch_free(wb);
		}
		now += 20;
	}
	cr_assert_geq(steps, 2);
	/* z's new day was judged after its oldest; x's older day was behind
	 * the cursor and waits for the next round, beside x's first. */
	cr_assert(has_day("ap", 2, "post:x", DAY0 - 7));
	cr_assert(has_day("ap", 2, "post:x", DAY0));
	cr_assert(has_day("ap", 2, "post:y", DAY0));
	cr_assert(has_day("ap", 2, "post:z", DAY0));
	cr_assert_not(has_day("ap", 2, "post:z", DAY0 + 3000));
	cr_assert_eq(day_keys(), 4);
	/* The next round is an hour after this one's end. */
	cr_assert_eq(applier_thin_step(T.a, now + 59 * MIN_MS), 0);
	cr_assert_eq(day_keys(), 4);
	cr_assert_eq(applier_thin_step(T.a, now + 60 * MIN_MS), 0);
	cr_assert_eq(stats().thin_rounds, 2);
	cr_assert_eq(day_keys(), 3);
	cr_assert(has_day("ap", 2, "post:x", DAY0 - 7));
}

Test(apply_thin, keys_whose_names_do_not_parse_are_left_alone)
{
	store_batch *wb = store_batch_new();
	/* Two 'G' keys too short to be one of ours (no day, no names). */
	store_batch_put(wb, "Gbad", 4, "v", 1);
	store_batch_put(wb, "Gbad\0\0\0\1", 8, "v", 1);
	put_day(wb, "ap", 0, "post:a", DAY0);
	put_day(wb, "ap", 0, "post:a", DAY0 + 1);
	cr_assert_eq(store_write(T.db, wb), 0);
	store_batch_free(wb);
	cr_assert_eq(applier_thin_round(T.a, 1), 0);
	cr_assert_eq(day_keys(), 3);
	char *v;
	size_t vn;
	cr_assert_eq(store_get(T.db, "Gbad", 4, &v, &vn), 0);
	free(v);
	cr_assert_eq(store_get(T.db, "Gbad\0\0\0\1", 8, &v, &vn), 0);
	free(v);
	cr_assert(has_day("ap", 0, "post:a", DAY0));
}

Test(apply_thin, a_failed_write_deletes_nothing_and_the_retry_keeps_each_first_key)
{
	/* One item: the failed step noted it as the group whose first key
	 * it kept, and the retry reads that first key again. */
	store_batch *wb = store_batch_new();
	for (uint32_t d = 0; d < 10; d++)
		put_day(wb, "ap", 0, "post:a", DAY0 + d);
	cr_assert_eq(store_write(T.db, wb), 0);
	store_batch_free(wb);
	store_fail_writes(T.db, 1);
	cr_assert_eq(applier_thin_round(T.a, 1), ERR_IO);
	cr_assert_eq(day_keys(), 10);
	cr_assert_eq(stats().days_thinned, 0);
	cr_assert_eq(applier_thin_round(T.a, 2), 0);
	cr_assert_eq(day_keys(), 1);
	cr_assert(has_day("ap", 0, "post:a", DAY0), "the first key stays");
	cr_assert_eq(stats().days_thinned, 9);
}
