/* test_feedcheck.c - the change feed's replay check on synthetic events:
 * a feed that holds passes with the right figures, and each kind of
 * fault a central could make (a repeat, ids going back, a flip that
 * flips nothing, a wrong count, a replay that ends off the truth, a
 * milestone missing, extra or made by the wrong message, an event in
 * the wrong place) is counted as its own kind and named in the examples.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "partition.h"
#include "sim/drill/feedcheck.h"

#define PARTS 4

static const uint64_t thresholds[] = {2, 3, 5};

static struct {
	feedcheck *fc;
	feedcheck_figures f;
} T;

static void setup(void)
{
	memset(&T, 0, sizeof T);
	T.fc = feedcheck_new(PARTS, thresholds, sizeof thresholds / sizeof thresholds[0]);
}

static void teardown(void)
{
	feedcheck_free(T.fc);
}

TestSuite(feedcheck, .init = setup, .fini = teardown, .timeout = 10);

static unsigned part_of(const char *item)
{
	return partition_of(item, strlen(item), PARTS);
}

static feedev base(enum feedev_type type, const char *counter, const char *item, uint64_t offset,
                   uint32_t index, uint64_t count)
{
	feedev e = {.id = {0, part_of(item), offset, index}, .type = type, .count = count};
	e.counter = counter;
	e.counter_n = strlen(counter);
	e.item = item;
	e.item_n = strlen(item);
	e.region = "r0";
	e.region_n = 2;
	e.hlc = (uint64_t)1 << 40;
	return e;
}

/* A change or milestone fed where it belongs, under its item's key. */
static void like(const char *item, const char *user, bool member, uint64_t count, uint64_t offset,
                 uint32_t index)
{
	feedev e = base(FEEDEV_SET, "likes", item, offset, index, count);
	e.user = user;
	e.user_n = strlen(user);
	e.member = member;
	feedcheck_add(T.fc, FEEDCHECK_CHANGES, e.id.partition, item, strlen(item), &e);
}

static void view(const char *item, uint64_t n, uint64_t count, uint64_t offset, uint32_t index)
{
	feedev e = base(FEEDEV_SUM, "views", item, offset, index, count);
	e.n = n;
	feedcheck_add(T.fc, FEEDCHECK_CHANGES, e.id.partition, item, strlen(item), &e);
}

static void stone(const char *counter, const char *item, uint64_t threshold, uint64_t count,
                  uint64_t offset, uint32_t index)
{
	feedev e = base(FEEDEV_MILESTONE, counter, item, offset, index, count);
	e.threshold = threshold;
	feedcheck_add(T.fc, FEEDCHECK_MILESTONES, e.id.partition, item, strlen(item), &e);
}

static void finish(void)
{
	feedcheck_finish(T.fc, &T.f);
}

/* Is there an example containing s? */
static bool named(const char *s)
{
	const char *const *ex;
	size_t n = feedcheck_examples(T.fc, &ex);
	for (size_t i = 0; i < n; i++)
		if (strstr(ex[i], s))
			return true;
	return false;
}

/* post:a liked by u1, u2, u3 (milestones 2 and 3), u2 unlikes; post:b
 * viewed 2 then 4 (milestones 2, 3 and 5 from one event); the truth
 * agrees. */
static void clean_feed(void)
{
	like("post:a", "u1", true, 1, 10, 0);
	like("post:a", "u2", true, 2, 11, 0);
	like("post:a", "u3", true, 3, 12, 0);
	like("post:a", "u2", false, 2, 13, 0);
	view("post:b", 2, 2, 20, 0);
	view("post:b", 4, 6, 21, 0);
	stone("likes", "post:a", 2, 2, 11, 1);
	stone("likes", "post:a", 3, 3, 12, 1);
	stone("views", "post:b", 2, 2, 20, 1);
	stone("views", "post:b", 3, 6, 21, 1);
	stone("views", "post:b", 5, 6, 21, 2);
	feedcheck_truth_count(T.fc, "likes", "post:a", 2);
	feedcheck_truth_count(T.fc, "views", "post:b", 6);
	feedcheck_truth_member(T.fc, "likes", "post:a", "u1");
	feedcheck_truth_member(T.fc, "likes", "post:a", "u3");
}

Test(feedcheck, a_feed_that_holds_passes_with_its_figures)
{
	clean_feed();
	finish();
	cr_assert_eq(feedcheck_violations(&T.f), 0);
	cr_assert_eq(T.f.changes.events, 6);
	cr_assert_eq(T.f.milestones.events, 5);
	cr_assert_eq(T.f.pairs_in, 2);
	cr_assert_eq(T.f.counts, 2);
	cr_assert_eq(T.f.ms_expected, 5);
	cr_assert_eq(T.f.ms_seen, 5);
	cr_assert_eq(T.f.nthresholds, 3);
	cr_assert_eq(T.f.thresholds[2], 5);
	cr_assert_eq(T.f.reached[0], 2, "likes and views of their items reached 2");
	cr_assert_eq(T.f.reached[1], 2);
	cr_assert_eq(T.f.reached[2], 1, "only the views reached 5");
	const char *const *ex;
	cr_assert_eq(feedcheck_examples(T.fc, &ex), 0);
}

Test(feedcheck, the_topics_may_come_in_either_order)
{
	stone("views", "post:b", 2, 2, 20, 1);
	view("post:b", 2, 2, 20, 0);
	feedcheck_truth_count(T.fc, "views", "post:b", 2);
	finish();
	cr_assert_eq(feedcheck_violations(&T.f), 0);
	cr_assert_eq(T.f.ms_expected, 1);
}

Test(feedcheck, a_repeated_id_is_a_duplicate_and_is_not_replayed)
{
	clean_feed();
	like("post:a", "u2", false, 2, 13, 0); /* the same event again */
	stone("likes", "post:a", 3, 3, 12, 1);
	finish();
	cr_assert_eq(T.f.changes.duplicates, 1);
	cr_assert_eq(T.f.milestones.duplicates, 1);
	cr_assert_eq(T.f.noop, 0, "a repeat is not replayed");
	cr_assert_eq(T.f.ms_extra, 0);
	cr_assert_eq(feedcheck_violations(&T.f), 2);
	cr_assert(named("0-"), "the example names the id");
}

Test(feedcheck, an_id_not_above_the_partitions_highest_is_out_of_order)
{
	like("post:a", "u1", true, 1, 10, 1);
	like("post:a", "u2", true, 2, 10, 0); /* a lower index of the same offset */
	like("post:a", "u3", true, 3, 9, 5);  /* below the highest, above the last */
	like("post:a", "u4", true, 4, 11, 0);
	finish();
	cr_assert_eq(T.f.changes.out_of_order, 2);
	cr_assert(named("after 0-"));
}

Test(feedcheck, a_set_that_leaves_its_pair_as_it_was_is_a_noop)
{
	like("post:a", "u1", true, 1, 10, 0);
	like("post:a", "u1", true, 1, 11, 0);  /* already in */
	like("post:a", "u2", false, 1, 12, 0); /* never in */
	feedcheck_truth_count(T.fc, "likes", "post:a", 1);
	feedcheck_truth_member(T.fc, "likes", "post:a", "u1");
	finish();
	cr_assert_eq(T.f.noop, 2);
	cr_assert_eq(T.f.count_mismatch, 0, "their counts are the replay's");
	cr_assert_eq(T.f.state_mismatch + T.f.pair_mismatch, 0);
	cr_assert(named("leaves its pair's state unchanged"));
}

Test(feedcheck, a_count_other_than_the_replays_is_a_mismatch)
{
	like("post:a", "u1", true, 1, 10, 0);
	like("post:a", "u2", true, 3, 11, 0); /* 2 */
	view("post:b", 3, 3, 20, 0);
	view("post:b", 1, 5, 21, 0); /* 4 */
	finish();
	cr_assert_eq(T.f.count_mismatch, 2);
	cr_assert(named("count 3, the replay has 2"));
	cr_assert(named("count 5, the replay has 4"));
}

Test(feedcheck, a_counter_with_both_kinds_of_change_is_a_mismatch)
{
	like("post:a", "u1", true, 1, 10, 0);
	feedev e = base(FEEDEV_SUM, "likes", "post:a", 11, 0, 1);
	e.n = 1;
	feedcheck_add(T.fc, FEEDCHECK_CHANGES, e.id.partition, NULL, 0, &e);
	finish();
	cr_assert_geq(T.f.count_mismatch, 1);
	cr_assert(named("both set and sum"));
}

Test(feedcheck, a_replay_that_ends_off_the_truth_is_counted_per_pair_and_count)
{
	clean_feed();
	feedcheck_truth_member(T.fc, "likes", "post:a", "u9"); /* acked, no event */
	feedcheck_truth_count(T.fc, "views", "post:c", 4);     /* acked, no event */
	like("post:d", "u1", true, 1, 30, 0);                  /* no op acked */
	finish();
	cr_assert_eq(T.f.pair_mismatch, 2, "u9 missing, post:d u1 extra");
	cr_assert_eq(T.f.state_mismatch, 2, "post:c (4, none replayed), post:d (1, none acked)");
	cr_assert(named("no event of it"));
	cr_assert(named("no op acknowledged"));
}

Test(feedcheck, a_reached_threshold_without_its_milestone_is_missing)
{
	like("post:a", "u1", true, 1, 10, 0);
	like("post:a", "u2", true, 2, 11, 0);
	feedcheck_truth_count(T.fc, "likes", "post:a", 2);
	feedcheck_truth_member(T.fc, "likes", "post:a", "u1");
	feedcheck_truth_member(T.fc, "likes", "post:a", "u2");
	finish();
	cr_assert_eq(T.f.ms_expected, 1);
	cr_assert_eq(T.f.ms_missing, 1);
	cr_assert_eq(feedcheck_violations(&T.f), 1);
	cr_assert(named("missing (reached by change 0-"));
}

Test(feedcheck, milestones_not_reached_or_repeated_are_extra)
{
	like("post:a", "u1", true, 1, 10, 0);
	like("post:a", "u2", true, 2, 11, 0);
	stone("likes", "post:a", 2, 2, 11, 1);
	stone("likes", "post:a", 2, 2, 12, 0); /* again, under another id */
	stone("likes", "post:a", 3, 2, 11, 2); /* not reached */
	stone("likes", "post:a", 4, 2, 11, 3); /* not a threshold at all */
	finish();
	cr_assert_eq(T.f.ms_seen, 4);
	cr_assert_eq(T.f.ms_expected, 1);
	cr_assert_eq(T.f.ms_missing, 0);
	cr_assert_eq(T.f.ms_extra, 3);
	cr_assert(named("none reached"));
}

Test(feedcheck, a_threshold_is_reached_once_by_the_running_highest_count)
{
	like("post:a", "u1", true, 1, 10, 0);
	like("post:a", "u2", true, 2, 11, 0);
	stone("likes", "post:a", 2, 2, 11, 1);
	like("post:a", "u2", false, 1, 12, 0);
	like("post:a", "u3", true, 2, 13, 0); /* back to 2: no new milestone */
	feedcheck_truth_count(T.fc, "likes", "post:a", 2);
	feedcheck_truth_member(T.fc, "likes", "post:a", "u1");
	feedcheck_truth_member(T.fc, "likes", "post:a", "u3");
	finish();
	cr_assert_eq(feedcheck_violations(&T.f), 0);
	cr_assert_eq(T.f.ms_expected, 1);
}

Test(feedcheck, a_milestone_made_by_another_message_has_the_wrong_origin)
{
	view("post:b", 2, 2, 20, 0);
	view("post:b", 1, 3, 21, 0);
	stone("views", "post:b", 2, 2, 21, 0); /* made by offset 21, reached at 20 */
	stone("views", "post:b", 3, 3, 21, 1); /* made by the offset that reached it */
	feedcheck_truth_count(T.fc, "views", "post:b", 3);
	finish();
	cr_assert_eq(T.f.ms_wrong_origin, 1);
	cr_assert_eq(T.f.ms_missing + T.f.ms_extra, 0);
	cr_assert(named("but change 0-"));
}

Test(feedcheck, events_in_the_wrong_place_are_misplaced)
{
	unsigned p = part_of("post:a");
	feedev e = base(FEEDEV_SET, "likes", "post:a", 10, 0, 1);
	e.user = "u1";
	e.user_n = 2;
	e.member = true;
	feedcheck_add(T.fc, FEEDCHECK_CHANGES, (p + 1) % PARTS, NULL, 0, &e); /* partition */
	e.id.offset = 11;
	feedcheck_add(T.fc, FEEDCHECK_CHANGES, p, "post:z", 6, &e); /* key */
	e.id.offset = 12;
	feedcheck_add(T.fc, FEEDCHECK_MILESTONES, p, NULL, 0, &e); /* topic */
	e.id.offset = 13;
	feedcheck_add(T.fc, FEEDCHECK_CHANGES, PARTS, NULL, 0, &e); /* no such partition */
	finish();
	cr_assert_eq(T.f.changes.misplaced, 3);
	cr_assert_eq(T.f.milestones.misplaced, 1);
	cr_assert(named("under another key"));
	cr_assert(named("the other topic's type"));
}

Test(feedcheck, undecodable_and_lost_messages_are_violations)
{
	feedcheck_undecodable(T.fc, FEEDCHECK_CHANGES, 1, 7, ERR_CORRUPT);
	feedcheck_lost(T.fc, FEEDCHECK_MILESTONES, 2, 5);
	finish();
	cr_assert_eq(T.f.changes.undecodable, 1);
	cr_assert_eq(T.f.changes.events, 1);
	cr_assert_eq(T.f.milestones.lost, 5);
	cr_assert_eq(feedcheck_violations(&T.f), 6);
	cr_assert(named("offset 7"));
}

Test(feedcheck, examples_are_capped_per_kind_and_in_all_and_counts_are_not)
{
	for (unsigned i = 0; i < FEEDCHECK_EXAMPLES_MAX + 5; i++)
		like("post:a", "u1", true, 1, 10 + i, 0);
	for (unsigned i = 0; i < 2 * FEEDCHECK_EXAMPLES_MAX; i++) {
		char item[16];
		snprintf(item, sizeof item, "post:n%u", i);
		feedcheck_truth_count(T.fc, "views", item, 1);
	}
	finish();
	cr_assert_eq(T.f.noop, FEEDCHECK_EXAMPLES_MAX + 4);
	cr_assert_eq(T.f.state_mismatch, 2 * FEEDCHECK_EXAMPLES_MAX + 1);
	const char *const *ex;
	size_t n = feedcheck_examples(T.fc, &ex);
	cr_assert_leq(n, FEEDCHECK_EXAMPLES_MAX);
	size_t noops = 0, counts = 0;
	for (size_t i = 0; i < n; i++) {
		noops += strstr(ex[i], "unchanged") != NULL;
		counts += strncmp(ex[i], "count ", 6) == 0;
	}
	cr_assert_gt(noops, 0);
	cr_assert_gt(counts, 0, "the no-ops leave room for the other kind");
}
