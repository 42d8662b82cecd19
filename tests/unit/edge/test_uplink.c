/* test_uplink.c - the edge's checks on a decoded snapshot before the
 * ledger applies it (uplink_check_snapshot): a snapshot of another
 * partition is refused whole; count entries that would corrupt the
 * ledger (bad counter or item, an item of another partition, a count
 * past INT64_MAX) are removed and named, the rest kept in order.
 * Pure function: no broker, no store, no temp dir needed.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "edge/upstream/uplink.h"
#include "err.h"
#include "partition.h"

#define NPARTS 4

TestSuite(uplink, .timeout = 10);

/* Items "post:kN" of partition p, into out[0..n). */
static void items_of(uint32_t p, char out[][32], int n)
{
	int found = 0;
	for (int i = 0; found < n && i < 100000; i++) {
		char s[32];
		snprintf(s, sizeof s, "post:k%d", i);
		if (partition_of(s, strlen(s), NPARTS) == p)
			snprintf(out[found++], 32, "%s", s);
	}
	cr_assert_eq(found, n);
}

static wire_count cnt(const char *counter, const char *item, uint64_t n)
{
	return (wire_count){wire_cstr(counter, strlen(counter)), wire_cstr(item, strlen(item)), n};
}

static wire_snapshot snap(uint32_t p, wire_count *counts, uint32_t n)
{
	wire_snapshot s = {0};
	s.partition = p;
	s.offset = 10;
	s.last = true;
	s.counts = counts;
	s.ncounts = n;
	return s;
}

Test(uplink, good_snapshot_passes_untouched)
{
	char it[2][32];
	items_of(1, it, 2);
	wire_count c[2] = {cnt("likes", it[0], 5), cnt("views", it[1], (uint64_t)INT64_MAX)};
	wire_snapshot s = snap(1, c, 2);
	uint32_t dropped = 99;
	char why[192];
	cr_assert_eq(uplink_check_snapshot(&s, 1, NPARTS, &dropped, why, sizeof why), 0);
	cr_assert_eq(dropped, 0);
	cr_assert_eq(s.ncounts, 2);
	cr_assert_str_empty(why);
}

Test(uplink, snapshot_of_another_partition_is_refused_whole)
{
	char it[1][32];
	items_of(2, it, 1);
	wire_count c[1] = {cnt("likes", it[0], 1)};
	wire_snapshot s = snap(2, c, 1);
	uint32_t dropped;
	char why[192];
	cr_assert_eq(uplink_check_snapshot(&s, 3, NPARTS, &dropped, why, sizeof why), ERR_CORRUPT);
	cr_assert_str_eq(why, "partition_mismatch claims=2");
	s.partition = NPARTS;
	cr_assert_eq(uplink_check_snapshot(&s, NPARTS, NPARTS, &dropped, why, sizeof why),
	             ERR_CORRUPT, "a partition past the configured count is refused too");
}

Test(uplink, bad_count_entries_are_removed_and_the_first_is_named)
{
	char mine[3][32], other[1][32];
	items_of(0, mine, 3);
	items_of(1, other, 1);
	wire_count c[7] = {
	    cnt("likes", mine[0], 1),
	    cnt("Likes!", mine[0], 1),                      /* bad counter */
	    cnt("likes", "post:has space", 1),              /* bad item */
	    cnt("likes", other[0], 1),                      /* another partition */
	    cnt("likes", mine[1], (uint64_t)INT64_MAX + 1), /* would read as negative */
	    cnt("saves", mine[2], 7),
	    cnt("likes", "nocolon", 1), /* bad item */
	};
	wire_snapshot s = snap(0, c, 7);
	uint32_t dropped;
	char why[192];
	cr_assert_eq(uplink_check_snapshot(&s, 0, NPARTS, &dropped, why, sizeof why), 0);
	cr_assert_eq(dropped, 5);
	cr_assert_eq(s.ncounts, 2);
	cr_assert_str_eq(why, "bad_counts count=5 first_index=1 first_reason=bad_counter");
	cr_assert(s.counts[0].item.n == strlen(mine[0]) &&
	          memcmp(s.counts[0].item.p, mine[0], s.counts[0].item.n) == 0);
	cr_assert_eq(s.counts[1].count, 7, "the good entries keep their order");
}

Test(uplink, each_fault_has_its_own_reason)
{
	char mine[1][32], other[1][32];
	items_of(3, mine, 1);
	items_of(0, other, 1);
	struct {
		wire_count c;
		const char *reason;
	} cases[] = {
	    {cnt("likes", other[0], 1), "first_reason=item_of_another_partition"},
	    {cnt("likes", mine[0], UINT64_MAX), "first_reason=count_out_of_range"},
	    {cnt("likes", "post:", 1), "first_reason=bad_item"},
	    {cnt("a-b", mine[0], 1), "first_reason=bad_counter"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		wire_count c[1] = {cases[i].c};
		wire_snapshot s = snap(3, c, 1);
		uint32_t dropped;
		char why[192];
		cr_assert_eq(uplink_check_snapshot(&s, 3, NPARTS, &dropped, why, sizeof why), 0);
		cr_assert_eq(dropped, 1, "case %zu", i);
		cr_assert_eq(s.ncounts, 0);
		cr_assert(strstr(why, cases[i].reason), "case %zu: %s", i, why);
	}
}
