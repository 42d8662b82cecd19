/* test_hot.c - the /v1/hot limit and answer both daemons give (hot.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "hot.h"

Test(hot, the_limit_defaults_and_stays_within_the_sketch)
{
	size_t l = 99;
	cr_assert(hot_limit(NULL, 100, &l) && l == HOT_LIMIT_DEFAULT);
	cr_assert(hot_limit(NULL, 3, &l) && l == 3, "never more than the sketch keeps");
	cr_assert(hot_limit(NULL, 0, &l) && l == 0, "the sketch is off");
	cr_assert(hot_limit("100", 100, &l) && l == 100);
	const char *bad[] = {"0", "101", "", "x", "1x", "-1", " 1", "1000000000"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_not(hot_limit(bad[i], 100, &l), "'%s' taken", bad[i]);
	cr_assert_not(hot_limit("1", 0, &l));
}

Test(hot, the_answer_splits_keys_and_gives_rates_per_second)
{
	topk_entry e[3];
	memset(e, 0, sizeof e);
	strcpy(e[0].key, "likes post:1");
	e[0].rate = 600; /* over a minute: 10 a second */
	e[0].count = 700;
	e[0].error = 2;
	strcpy(e[1].key, "nospace"); /* not a key the daemons make: left out */
	strcpy(e[2].key, "views reel:9");
	e[2].rate = 6;
	sbuf b;
	sbuf_init(&b);
	hot_render(&b, e, 3, 60000, 100);
	cr_assert_str_eq(b.p, "{\"window_ms\":60000,\"k\":100,\"items\":["
	                      "{\"item\":\"post:1\",\"counter\":\"likes\",\"rate\":10.000,"
	                      "\"count\":700,\"error\":2},"
	                      "{\"item\":\"reel:9\",\"counter\":\"views\",\"rate\":0.100,"
	                      "\"count\":0,\"error\":0}]}");
	sbuf_free(&b);
	sbuf_init(&b);
	hot_render(&b, e, 0, 60000, 0);
	cr_assert_str_eq(b.p, "{\"window_ms\":60000,\"k\":0,\"items\":[]}");
	sbuf_free(&b);
}
