/* test_ckeys.c - central's key layout (central/apply/keys.h): the decoders give
 * back what the encoders put in and refuse keys of other kinds or cut
 * short; each prefix is its keys' first byte; held keys sort by seq; a
 * home key sits under its region's and partition's prefix, and the
 * longest fits CKEY_MAX.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "central/apply/keys.h"
#include "item.h"

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

Test(ckeys, home_keys_parse_back_and_sort_under_their_region_and_partition)
{
	unsigned char k[CKEY_MAX], pre[CKEY_MAX];
	const char *r, *c, *item, *user;
	size_t rn, cn, in, un;
	uint32_t p;
	/* Partition 256: big-endian 0 0 1 0, zeros that must not end a name. */
	size_t n = ckey_home(k, "ap-south", 8, 256, "u1", 2, "likes", 5, "post:9", 6);
	cr_assert_eq(n, 1 + 8 + 1 + 4 + 2 + 1 + 5 + 1 + 6);
	cr_assert(
	    ckey_parse_home((const char *)k, n, &r, &rn, &p, &user, &un, &c, &cn, &item, &in));
	cr_assert(rn == 8 && memcmp(r, "ap-south", 8) == 0 && p == 256);
	cr_assert(cn == 5 && memcmp(c, "likes", 5) == 0);
	cr_assert(in == 6 && memcmp(item, "post:9", 6) == 0);
	cr_assert(un == 2 && memcmp(user, "u1", 2) == 0);
	size_t pn = ckey_home_prefix(pre, "ap-south", 8, 256);
	cr_assert_eq(pn, 1 + 8 + 1 + 4);
	cr_assert_eq(memcmp(k, pre, pn), 0, "the key starts with its partition's prefix");
	cr_assert_eq(ckey_prefix(CKEY_HOME)[0], (char)k[0]);
	/* Another region that starts the same has another prefix. */
	unsigned char other[CKEY_MAX];
	size_t on = ckey_home(other, "ap", 2, 256, "u1", 2, "likes", 5, "post:9", 6);
	size_t apn = ckey_home_prefix(pre, "ap", 2, 256);
	cr_assert_eq(memcmp(other, pre, apn), 0);
	cr_assert_neq(memcmp(k, pre, apn), 0, "ap-south is not under ap");
	cr_assert(
	    ckey_parse_home((const char *)other, on, &r, &rn, &p, &user, &un, &c, &cn, &item, &in));
	cr_assert(rn == 2 && p == 256 && un == 2);
	/* Cut short, an empty item, or another kind: refused. */
	cr_assert_not(
	    ckey_parse_home((const char *)k, n - 7, &r, &rn, &p, &user, &un, &c, &cn, &item, &in));
	cr_assert_not(
	    ckey_parse_home((const char *)k, n - 6, &r, &rn, &p, &user, &un, &c, &cn, &item, &in));
	n = ckey_state(k, "likes", 5, "post:9", 6, "u1", 2);
	cr_assert_not(
	    ckey_parse_home((const char *)k, n, &r, &rn, &p, &user, &un, &c, &cn, &item, &in));
	const char *it2;
	size_t in2;
	n = ckey_home(k, "ap", 2, 3, "u1", 2, "likes", 5, "post:9", 6);
	cr_assert_not(ckey_item_of((const char *)k, n, &it2, &in2), "no item right after the tag");
}

Test(ckeys, a_users_home_keys_share_a_prefix_no_other_user_has)
{
	unsigned char k[CKEY_MAX], pre[CKEY_MAX];
	size_t pn = ckey_home_user_prefix(pre, "ap", 2, 7, "u1", 2);
	cr_assert_eq(pn, 1 + 2 + 1 + 4 + 2 + 1);
	size_t n = ckey_home(k, "ap", 2, 7, "u1", 2, "likes", 5, "post:9", 6);
	cr_assert_eq(memcmp(k, pre, pn), 0, "u1's key is under u1's prefix");
	n = ckey_home(k, "ap", 2, 7, "u10", 3, "likes", 5, "post:9", 6);
	cr_assert_neq(memcmp(k, pre, pn), 0, "u10 is not under u1");
	n = ckey_home(k, "ap", 2, 8, "u1", 2, "likes", 5, "post:9", 6);
	cr_assert_neq(memcmp(k, pre, pn), 0, "another partition is not");
	(void)n;
}

Test(ckeys, first_layout_keys_parse_by_their_own_order)
{
	/* 'U' region 0 p counter 0 item 0 user, as a store from before wrote. */
	unsigned char k[CKEY_MAX];
	size_t n = 0;
	k[n++] = CKEY_HOME_V1;
	memcpy(k + n, "ap\0\0\0\0\5likes\0post:9\0u1", 22);
	n += 22;
	const char *r, *name[3];
	size_t rn, len[3];
	uint32_t p;
	cr_assert(ckey_parse_home_parts((const char *)k, n, CKEY_HOME_V1, &r, &rn, &p, name, len));
	cr_assert(rn == 2 && p == 5);
	cr_assert(len[0] == 5 && memcmp(name[0], "likes", 5) == 0);
	cr_assert(len[1] == 6 && memcmp(name[1], "post:9", 6) == 0);
	cr_assert(len[2] == 2 && memcmp(name[2], "u1", 2) == 0);
	cr_assert_not(ckey_parse_home_parts((const char *)k, n, CKEY_HOME, &r, &rn, &p, name, len),
	              "a 'U' key is not a 'V' key");
}

Test(ckeys, a_longest_home_key_fits)
{
	char region[EDGE_ID_MAX], counter[COUNTER_MAX], item[ITEM_MAX], user[USER_MAX];
	memset(region, 'r', sizeof region);
	memset(counter, 'c', sizeof counter);
	memset(item, 'i', sizeof item);
	memset(user, 'u', sizeof user);
	unsigned char k[CKEY_MAX];
	size_t n = ckey_home(k, region, sizeof region, UINT32_MAX, user, sizeof user, counter,
	                     sizeof counter, item, sizeof item);
	cr_assert_leq(n, CKEY_MAX);
}

Test(ckeys, home_values_hold_member_and_clock)
{
	unsigned char v[CKEY_HOME_LEN];
	bool member;
	uint64_t hlc;
	ckey_home_value(v, true, 0x0102030405060708ull);
	cr_assert_eq(v[0], 1);
	cr_assert(ckey_parse_home_value((const char *)v, sizeof v, &member, &hlc));
	cr_assert(member && hlc == 0x0102030405060708ull);
	ckey_home_value(v, false, 7);
	cr_assert(ckey_parse_home_value((const char *)v, sizeof v, &member, &hlc));
	cr_assert(!member && hlc == 7);
	/* An unhomed entry: the flag beside the member bit. */
	bool unhomed = false;
	ckey_home_value_as(v, true, true, 9);
	cr_assert_eq(v[0], 3);
	cr_assert(ckey_parse_home_value_as((const char *)v, sizeof v, &member, &unhomed, &hlc));
	cr_assert(member && unhomed && hlc == 9);
	ckey_home_value_as(v, false, true, 9);
	cr_assert(ckey_parse_home_value_as((const char *)v, sizeof v, &member, &unhomed, &hlc));
	cr_assert(!member && unhomed);
	cr_assert(ckey_parse_home_value((const char *)v, sizeof v, &member, &hlc), "either kind");
	ckey_home_value(v, true, 9);
	cr_assert(ckey_parse_home_value_as((const char *)v, sizeof v, &member, &unhomed, &hlc));
	cr_assert(member && !unhomed);
	v[0] = 4;
	cr_assert_not(ckey_parse_home_value((const char *)v, sizeof v, &member, &hlc));
	v[0] = 0;
	cr_assert_not(ckey_parse_home_value((const char *)v, 8, &member, &hlc));
}
