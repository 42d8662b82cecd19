/* test_shards.c - central.ops shard maps (edge/upstream/shards.h): one address,
 * ranges, lists and alternatives, and every way a map is refused. Pure.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "edge/upstream/shards.h"

/* --- the map ---------------------------------------------------------------- */

static shard_map M;
static char err[256];

static void map_init(void)
{
	memset(&M, 0, sizeof M);
	err[0] = 0;
}

static void map_fini(void)
{
	shards_free(&M);
}

TestSuite(shards, .init = map_init, .fini = map_fini, .timeout = 10);

Test(shards, one_address_serves_every_partition)
{
	cr_assert_eq(shards_parse(&M, "127.0.0.1:9090", 16, err, sizeof err), 0, "%s", err);
	cr_assert_eq(M.nshards, 1);
	cr_assert_eq(M.shards[0].naddrs, 1);
	cr_assert_str_eq(M.shards[0].addrs[0], "127.0.0.1:9090");
	for (uint32_t p = 0; p < 16; p++)
		cr_assert_eq(shards_of(&M, p), 0);
}

Test(shards, map_with_ranges_lists_and_alternatives)
{
	const char *spec =
	    "0-3,8-11=10.0.0.10:9090|10.0.0.11:9090;4-7,12=[::1]:9091;13-15=10.0.0.12:1;";
	cr_assert_eq(shards_parse(&M, spec, 16, err, sizeof err), 0, "%s", err);
	cr_assert_eq(M.nshards, 3);
	cr_assert_eq(M.shards[0].naddrs, 2);
	cr_assert_str_eq(M.shards[0].addrs[0], "10.0.0.10:9090", "the primary first");
	cr_assert_str_eq(M.shards[0].addrs[1], "10.0.0.11:9090");
	cr_assert_str_eq(M.shards[1].addrs[0], "[::1]:9091");
	static const size_t want[16] = {0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 2, 2, 2};
	for (uint32_t p = 0; p < 16; p++)
		cr_assert_eq(shards_of(&M, p), want[p], "partition %u", p);
}

typedef struct bad_map {
	const char *spec;
	const char *why; /* a phrase the reason must contain */
} bad_map;

static const bad_map bad[] = {
    {"", "empty"},
    {"0-7=127.0.0.1:1", "partition 8 is in no entry"},
    {"0-7=127.0.0.1:1;7-15=127.0.0.1:2", "partition 7 is in two entries"},
    {"0-16=127.0.0.1:1", "partition 16 is out of range"},
    {"0-7=127.0.0.1:1;8-15=central:9090", "address \"central:9090\""},
    {"0-7=127.0.0.1:1;8-15=127.0.0.1:0", "address"},
    {"0-7=127.0.0.1:1;8-15=127.0.0.1:1|", "address \"\""},
    {"7-0=127.0.0.1:1", "lo <= hi"},
    {"0-x=127.0.0.1:1", "not a partition or range"},
    {"=127.0.0.1:1", "no partitions"},
    {"0-7=127.0.0.1:1;;8-15=127.0.0.1:2", "not RANGES=ADDR"},
    {"0-7=127.0.0.1:1;8-15", "not RANGES=ADDR"},
    {"127.0.0.1:1|127.0.0.1:2", "need a shard map"},
    {"0-15=1.0.0.1:1|1.0.0.2:1|1.0.0.3:1|1.0.0.4:1|1.0.0.5:1|1.0.0.6:1|1.0.0.7:1|"
     "1.0.0.8:1|1.0.0.9:1",
     "more than 8 addresses"},
};

Test(shards, bad_maps_are_refused_with_the_reason)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const bad_map *b = &bad[i];
		err[0] = 0;
		cr_assert_eq(shards_parse(&M, b->spec, 16, err, sizeof err), ERR_CONFIG, "%s",
		             b->spec);
		cr_assert(strstr(err, b->why), "\"%s\": reason \"%s\" lacks \"%s\"", b->spec, err,
		          b->why);
		cr_assert_eq(M.nshards, 0);
		cr_assert_null(M.of_part);
	}
}
