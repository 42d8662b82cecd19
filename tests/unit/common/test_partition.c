/* test_partition.c - the item -> partition map: pinned values (the map is
 * part of the deployment contract), range and spread. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <string.h>

#include <stdbool.h>
#include <xxhash.h>

#include "partition.h"

static void setup(void) {}
static void teardown(void) {}

TestSuite(partition, .init = setup, .fini = teardown, .timeout = 20);

typedef struct pin_case {
	char item[32];
	uint32_t nparts;
	uint32_t want;
} pin_case;

/* Values computed once from XXH64 seed 0 (for example XXH64("post:1") =
 * 0x98bea2a9a88d8b89 and XXH64("") = 0xef46db3751d8e999, the published
 * empty-input value). If one of these changes, every deployed item moves:
 * do not update the table, fix the code. */
ParameterizedTestParameters(partition, pinned_values_never_change)
{
	static pin_case cases[] = {
	    {"post:1", 16, 9},         {"post:1", 64, 9},         {"post:1", 1000, 233},
	    {"post:1", 4096, 2953},    {"post:42", 16, 4},        {"post:42", 64, 20},
	    {"post:42", 1000, 132},    {"reel:abc", 1000, 97},    {"reel:abc", 4096, 521},
	    {"comment:x_y-z", 16, 11}, {"comment:x_y-z", 64, 59}, {"comment:x_y-z", 4096, 1019},
	    {"story:0", 64, 22},       {"story:0", 1000, 542},    {"post:ZZZZ", 16, 14},
	    {"post:ZZZZ", 4096, 3518}, {"", 1000, 921},           {"", 4096, 2457},
	};
	return cr_make_param_array(pin_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(pin_case *c, partition, pinned_values_never_change)
{
	uint32_t got = partition_of(c->item, strlen(c->item), c->nparts);
	cr_assert_eq(got, c->want, "item '%s' nparts %u: got %u want %u", c->item, c->nparts, got,
	             c->want);
}

Test(partition, only_the_given_length_is_hashed)
{
	const char *s = "post:1trailing";
	cr_assert_eq(partition_of(s, 6, 1000), 233);
}

Test(partition, single_partition_maps_everything_to_zero)
{
	cr_assert_eq(partition_of("post:1", 6, 1), 0);
	cr_assert_eq(partition_of("reel:abc", 8, 1), 0);
}

Test(partition, zero_partitions_returns_zero_without_crashing)
{
	cr_assert_eq(partition_of("post:1", 6, 0), 0);
	cr_assert_eq(partition_of("", 0, 0), 0);
}

Test(partition, results_stay_in_range_for_many_counts)
{
	char item[32];
	for (uint32_t np = 1; np <= PARTITION_MAX; np = np < 64 ? np + 1 : np * 2) {
		for (int i = 0; i < 500; i++) {
			int len = snprintf(item, sizeof item, "post:%d", i);
			uint32_t p = partition_of(item, (size_t)len, np);
			cr_assert_lt(p, np, "item %s nparts %u gave %u", item, np, p);
		}
	}
}

Test(partition, items_spread_evenly_over_16_partitions)
{
	enum { NPARTS = 16, ITEMS = 100000 };
	unsigned count[NPARTS] = {0};
	char item[32];
	for (int i = 0; i < ITEMS; i++) {
		int len = snprintf(item, sizeof item, "%s:%d", i % 2 ? "post" : "reel", i);
		count[partition_of(item, (size_t)len, NPARTS)]++;
	}
	double mean = (double)ITEMS / NPARTS;
	for (int p = 0; p < NPARTS; p++)
		cr_assert(count[p] >= mean * 0.9 && count[p] <= mean * 1.1,
		          "partition %d holds %u items, mean %.0f", p, count[p], mean);
}

/* docs/wire.md states the function with a table of vectors for other
 * producers and consumers to check against; the table must be true. */
Test(partition, the_vectors_in_wire_md_hold)
{
	FILE *f = fopen("docs/wire.md", "r");
	cr_assert_not_null(f, "docs/wire.md (tests run from the tree's top)");
	char line[512];
	bool in = false;
	int rows = 0;
	while (fgets(line, sizeof line, f)) {
		if (strstr(line, "<!-- partition-vectors -->")) {
			in = true;
			continue;
		}
		if (strstr(line, "<!-- /partition-vectors -->"))
			break;
		char item[64];
		unsigned long long h;
		unsigned p16, p64;
		if (!in ||
		    sscanf(line, "| `%63[^`]` | `%llx` | %u | %u |", item, &h, &p16, &p64) != 4)
			continue;
		size_t n = strlen(item);
		cr_expect_eq(XXH64(item, n, 0), h, "XXH64 of %s", item);
		cr_expect_eq(partition_of(item, n, 16), p16, "%s over 16", item);
		cr_expect_eq(partition_of(item, n, 64), p64, "%s over 64", item);
		rows++;
	}
	fclose(f);
	cr_assert_geq(rows, 6, "the vector table was not found or is short");
}
