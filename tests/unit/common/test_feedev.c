/* test_feedev.c - the change feed's events: docs/events.md's test
 * vectors byte for byte, decoding back, ids and their order, refusals. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "feedev.h"
#include "hlc.h"

#define HLC1 ((UINT64_C(1760928959236) << 16) + 1)
#define HLC2 ((UINT64_C(1760928959236) << 16) + 2)

/* The three vectors of docs/events.md. */
static const char *const vec_like =
    "{\"v\":1,\"id\":\"0-3-17-0\",\"type\":\"set\",\"counter\":\"likes\",\"item\":\"post:42\","
    "\"user\":\"u7\",\"member\":true,\"count\":10,\"region\":\"eu-west\","
    "\"hlc\":\"115404240272490497\",\"ms\":1760928959236}";
static const char *const vec_milestone =
    "{\"v\":1,\"id\":\"0-3-17-0\",\"type\":\"milestone\",\"counter\":\"likes\","
    "\"item\":\"post:42\",\"threshold\":10,\"count\":10,\"region\":\"eu-west\","
    "\"hlc\":\"115404240272490497\",\"ms\":1760928959236}";
static const char *const vec_sum =
    "{\"v\":1,\"id\":\"2-0-9001-4\",\"type\":\"sum\",\"counter\":\"views\",\"item\":\"reel:9\","
    "\"n\":25,\"count\":1025,\"region\":\"us-east\",\"hlc\":\"115404240272490498\","
    "\"ms\":1760928959236}";

#define S(x) x, sizeof x - 1

static char *encode(const feedev *e)
{
	sbuf b;
	sbuf_init(&b);
	feedev_encode(e, &b);
	size_t n;
	return sbuf_take(&b, &n);
}

static feedev like(void)
{
	feedev e = {
	    .id = {0, 3, 17, 0}, .type = FEEDEV_SET, .member = true, .count = 10, .hlc = HLC1};
	e.counter = "likes", e.counter_n = 5;
	e.item = "post:42", e.item_n = 7;
	e.user = "u7", e.user_n = 2;
	e.region = "eu-west", e.region_n = 7;
	return e;
}

Test(event, the_documented_vectors_encode_byte_for_byte)
{
	feedev e = like();
	char *s = encode(&e);
	cr_assert_str_eq(s, vec_like);
	free(s);

	e.type = FEEDEV_MILESTONE;
	e.threshold = 10;
	s = encode(&e);
	cr_assert_str_eq(s, vec_milestone);
	free(s);

	feedev m = {.id = {2, 0, 9001, 4}, .type = FEEDEV_SUM, .n = 25, .count = 1025, .hlc = HLC2};
	m.counter = "views", m.counter_n = 5;
	m.item = "reel:9", m.item_n = 6;
	m.region = "us-east", m.region_n = 7;
	s = encode(&m);
	cr_assert_str_eq(s, vec_sum);
	free(s);
}

Test(event, vectors_decode_to_their_fields)
{
	feedev_decoded d;
	cr_assert_eq(feedev_decode(vec_like, strlen(vec_like), &d), 0);
	cr_assert_eq(d.ev.type, FEEDEV_SET);
	cr_assert_str_eq(d.item, "post:42");
	cr_assert_str_eq(d.user, "u7");
	cr_assert(d.ev.member);
	cr_assert_eq(d.ev.count, 10);
	cr_assert_eq(d.ev.hlc, HLC1);
	cr_assert_eq(d.ev.id.offset, 17);
	cr_assert_eq(d.ev.id.partition, 3);

	cr_assert_eq(feedev_decode(vec_sum, strlen(vec_sum), &d), 0);
	cr_assert_eq(d.ev.type, FEEDEV_SUM);
	cr_assert_eq(d.ev.n, 25);
	cr_assert_eq(d.ev.id.epoch, 2);
	cr_assert_eq(d.ev.id.index, 4);

	cr_assert_eq(feedev_decode(vec_milestone, strlen(vec_milestone), &d), 0);
	cr_assert_eq(d.ev.type, FEEDEV_MILESTONE);
	cr_assert_eq(d.ev.threshold, 10);
}

Test(event, strings_are_escaped_and_read_back)
{
	feedev e = like();
	e.user = "a\"b\\c", e.user_n = 5;
	char *s = encode(&e);
	feedev_decoded d;
	cr_assert_eq(feedev_decode(s, strlen(s), &d), 0, "%s", s);
	cr_assert_str_eq(d.user, "a\"b\\c");
	free(s);
}

Test(event, ids_format_parse_and_order)
{
	feedev_id a = {1, 7, 42, 3}, b;
	char t[FEEDEV_ID_MAX];
	size_t n = feedev_id_format(&a, t);
	cr_assert_str_eq(t, "1-7-42-3");
	cr_assert_eq(feedev_id_parse(t, n, &b), 0);
	cr_assert_eq(feedev_id_cmp(&a, &b), 0);
	cr_assert_eq(b.partition, 7);

	feedev_id later_index = {1, 7, 42, 4}, later_offset = {1, 7, 43, 0},
	          later_epoch = {2, 7, 0, 0};
	cr_assert_lt(feedev_id_cmp(&a, &later_index), 0);
	cr_assert_lt(feedev_id_cmp(&later_index, &later_offset), 0);
	cr_assert_lt(feedev_id_cmp(&later_offset, &later_epoch), 0);
	cr_assert_gt(feedev_id_cmp(&later_epoch, &a), 0);

	const char *bad[] = {"",        "1-2-3",   "1-2-3-4-5",        "01-2-3-4",
	                     "1--3-4",  "a-2-3-4", "4294967296-0-0-0", "1-2-3-4 ",
	                     "-1-2-3-4"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_assert_eq(feedev_id_parse(bad[i], strlen(bad[i]), &b), ERR_CORRUPT, "%s",
		             bad[i]);
	cr_assert_eq(feedev_id_parse(S("0-0-0-0"), &b), 0);

	/* The longest id: every field at its most (the offset at 2^64 - 1,
	 * though a Kafka offset stops at 2^63 - 1) fits its buffer. */
	feedev_id most = {UINT32_MAX, UINT32_MAX, UINT64_MAX, UINT32_MAX};
	n = feedev_id_format(&most, t);
	cr_assert_str_eq(t, "4294967295-4294967295-18446744073709551615-4294967295");
	cr_assert_eq(n, strlen(t));
	cr_assert_eq(feedev_id_parse(t, n, &b), ERR_CORRUPT, "the offset is past INT64_MAX");

	cr_assert_eq(feedev_id_find(vec_sum, strlen(vec_sum), &b), 0);
	cr_assert_eq(b.epoch, 2);
	cr_assert_eq(b.offset, 9001);
	cr_assert_eq(feedev_id_find(S("{\"v\":1}"), &b), ERR_CORRUPT);
	cr_assert_eq(feedev_id_find(S("{\"v\":1,\"id\":\"1-2"), &b), ERR_CORRUPT);
}

Test(event, what_the_contract_refuses)
{
	feedev_decoded d;
	const char *bad[] = {
	    "not json",
	    "[]",
	    /* no id */
	    "{\"v\":1,\"type\":\"sum\",\"counter\":\"views\",\"item\":\"a:1\",\"n\":1,\"count\":1,"
	    "\"region\":\"r\",\"hlc\":\"65536\",\"ms\":1}",
	    /* unknown type */
	    "{\"v\":1,\"id\":\"0-0-0-0\",\"type\":\"bump\",\"counter\":\"views\",\"item\":\"a:1\","
	    "\"n\":1,\"count\":1,\"region\":\"r\",\"hlc\":\"65536\",\"ms\":1}",
	    /* a sum with a user */
	    "{\"v\":1,\"id\":\"0-0-0-0\",\"type\":\"sum\",\"counter\":\"views\",\"item\":\"a:1\","
	    "\"user\":\"u\",\"n\":1,\"count\":1,\"region\":\"r\",\"hlc\":\"65536\",\"ms\":1}",
	    /* ms not the clock's */
	    "{\"v\":1,\"id\":\"0-0-0-0\",\"type\":\"sum\",\"counter\":\"views\",\"item\":\"a:1\","
	    "\"n\":1,\"count\":1,\"region\":\"r\",\"hlc\":\"65536\",\"ms\":2}",
	    /* n 0 */
	    "{\"v\":1,\"id\":\"0-0-0-0\",\"type\":\"sum\",\"counter\":\"views\",\"item\":\"a:1\","
	    "\"n\":0,\"count\":1,\"region\":\"r\",\"hlc\":\"65536\",\"ms\":1}",
	    /* member not a boolean */
	    "{\"v\":1,\"id\":\"0-0-0-0\",\"type\":\"set\",\"counter\":\"likes\",\"item\":\"a:1\","
	    "\"user\":\"u\",\"member\":1,\"count\":1,\"region\":\"r\",\"hlc\":\"65536\",\"ms\":1}",
	    /* a negative count */
	    "{\"v\":1,\"id\":\"0-0-0-0\",\"type\":\"sum\",\"counter\":\"views\",\"item\":\"a:1\","
	    "\"n\":1,\"count\":-1,\"region\":\"r\",\"hlc\":\"65536\",\"ms\":1}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		cr_assert_eq(feedev_decode(bad[i], strlen(bad[i]), &d), ERR_CORRUPT, "%s", bad[i]);
	const char *v2 = "{\"v\":2,\"id\":\"0-0-0-0\"}";
	cr_assert_eq(feedev_decode(v2, strlen(v2), &d), ERR_VERSION);
	/* An unknown member is skipped. */
	const char *extra =
	    "{\"v\":1,\"id\":\"0-0-0-0\",\"type\":\"sum\",\"counter\":\"views\",\"item\":\"a:1\","
	    "\"n\":1,\"count\":1,\"region\":\"r\",\"hlc\":\"65536\",\"ms\":1,\"later\":[1]}";
	cr_assert_eq(feedev_decode(extra, strlen(extra), &d), 0);
}

/* A home stream's move: user, new home, the move's wall ms (docs/events.md,
 * "Home streams"). */
static const char *const vec_home = "{\"v\":1,\"id\":\"0-3-18-2\",\"type\":\"home\",\"user\":"
                                    "\"u7\",\"region\":\"ap\",\"since_ms\":1760928959000}";

Test(event, a_move_encodes_as_documented_and_decodes_back)
{
	feedev e = {.id = {0, 3, 18, 2}, .type = FEEDEV_HOME, .n = UINT64_C(1760928959000)};
	e.user = "u7", e.user_n = 2;
	e.region = "ap", e.region_n = 2;
	char *s = encode(&e);
	cr_assert_str_eq(s, vec_home);
	feedev_decoded d;
	cr_assert_eq(feedev_decode(s, strlen(s), &d), 0);
	cr_assert_eq(d.ev.type, FEEDEV_HOME);
	cr_assert_str_eq(d.user, "u7");
	cr_assert_str_eq(d.region, "ap");
	cr_assert_eq(d.ev.n, UINT64_C(1760928959000));
	cr_assert_eq(d.ev.item_n, 0);
	cr_assert_eq(d.ev.counter_n, 0);
	free(s);
}

Test(event, a_move_without_its_members_or_with_another_types_is_refused)
{
	static const char *const bad[] = {
	    "{\"v\":1,\"id\":\"0-3-18-2\",\"type\":\"home\",\"region\":\"ap\",\"since_ms\":5}",
	    "{\"v\":1,\"id\":\"0-3-18-2\",\"type\":\"home\",\"user\":\"u7\",\"since_ms\":5}",
	    "{\"v\":1,\"id\":\"0-3-18-2\",\"type\":\"home\",\"user\":\"u7\",\"region\":\"ap\"}",
	    "{\"v\":1,\"id\":\"0-3-18-2\",\"type\":\"home\",\"user\":\"u7\",\"region\":\"ap\","
	    "\"since_ms\":0}",
	    "{\"v\":1,\"id\":\"0-3-18-2\",\"type\":\"home\",\"user\":\"u7\",\"region\":\"ap\","
	    "\"since_ms\":5,\"item\":\"post:1\"}",
	    "{\"v\":1,\"id\":\"0-3-18-2\",\"type\":\"home\",\"user\":\"u7\",\"region\":\"ap\","
	    "\"since_ms\":5,\"count\":1}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		feedev_decoded d;
		cr_assert_eq(feedev_decode(bad[i], strlen(bad[i]), &d), ERR_CORRUPT, "%s", bad[i]);
	}
}
