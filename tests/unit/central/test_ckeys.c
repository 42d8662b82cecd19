/* test_ckeys.c - central's key layout (central/apply/keys.h): the decoders give
 * back what the encoders put in and refuse keys of other kinds or cut
 * short; each prefix is its keys' first byte; held keys sort by seq.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "central/apply/keys.h"

Test(ckeys, the_item_of_each_keyed_kind_is_found_and_others_have_none)
{
	unsigned char k[CKEY_MAX];
	const char *item;
	size_t in;
	size_t n = ckey_state(k, "likes", 5, "post:9", 6, "u1", 2);
	cr_assert(ckey_item_of((const char *)k, n, &item, &in));
	cr_assert(in == 6 && memcmp(item, "post:9", 6) == 0);
	n = ckey_count(k, "likes", 5, "post:9", 6);
	cr_assert(ckey_item_of((const char *)k, n, &item, &in) && in == 6);
	n = ckey_region(k, "views", 5, "reel:1", 6, "mumbai", 6);
	cr_assert(ckey_item_of((const char *)k, n, &item, &in));
	cr_assert(in == 6 && memcmp(item, "reel:1", 6) == 0);
	n = ckey_day(k, "views", 5, "reel:1", 6, 20000);
	cr_assert(ckey_item_of((const char *)k, n, &item, &in) && in == 6);
	n = ckey_offset(k, 3);
	cr_assert_not(ckey_item_of((const char *)k, n, &item, &in));
	n = ckey_region(k, "views", 5, "", 0, "mumbai", 6);
	cr_assert_not(ckey_item_of((const char *)k, n, &item, &in), "an empty item");
	n = ckey_count(k, "views", 5, "reel:1", 6);
	cr_assert_not(ckey_item_of((const char *)k, 5, &item, &in), "cut before the item");
}

Test(ckeys, edge_keys_parse_back_only_as_their_own_kind)
{
	unsigned char k[CKEY_MAX];
	const char *e;
	size_t en;
	uint32_t p;
	uint64_t seq;
	size_t n = ckey_held(k, "edge-1", 6, 7, 42);
	cr_assert(ckey_parse_edge((const char *)k, n, CKEY_HELD, &e, &en, &p, &seq));
	cr_assert(en == 6 && memcmp(e, "edge-1", 6) == 0 && p == 7 && seq == 42);
	cr_assert_not(ckey_parse_edge((const char *)k, n, CKEY_APPLIED, &e, &en, &p, NULL));
	unsigned char k2[CKEY_MAX];
	cr_assert_eq(ckey_held(k2, "edge-1", 6, 7, 256), n);
	cr_assert_lt(memcmp(k, k2, n), 0, "held batches sort by seq");
	n = ckey_edge(k, CKEY_APPLIED, "e", 1, 9);
	cr_assert(ckey_parse_edge((const char *)k, n, CKEY_APPLIED, &e, &en, &p, NULL) && p == 9);
	cr_assert_not(ckey_parse_edge((const char *)k, n - 1, CKEY_APPLIED, &e, &en, &p, NULL));
}

Test(ckeys, partition_keys_pairs_and_prefixes)
{
	unsigned char k[CKEY_MAX];
	uint32_t p;
	size_t n = ckey_epoch(k, 12);
	cr_assert(ckey_parse_part((const char *)k, n, &p) && p == 12);
	n = ckey_offset(k, 13);
	cr_assert(ckey_parse_part((const char *)k, n, &p) && p == 13);
	cr_assert_eq(ckey_prefix(CKEY_OFFSET)[0], (char)k[0]);
	cr_assert_not(ckey_parse_part((const char *)k, n - 1, &p));
	const char *c, *item;
	size_t cn, in;
	cr_assert(ckey_split_pair("likes\0post:1", 12, &c, &cn, &item, &in));
	cr_assert(cn == 5 && in == 6);
	cr_assert_not(ckey_split_pair("likes", 5, &c, &cn, &item, &in));
	n = ckey_count(k, "likes", 5, "post:1", 6);
	cr_assert_eq(ckey_prefix(CKEY_COUNT)[0], (char)k[0]);
	cr_assert(ckey_parse_count((const char *)k, n, &c, &cn, &item, &in));
}
