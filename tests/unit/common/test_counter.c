/* test_counter.c - the counter registry: kinds, lookups, refusals. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "counter.h"

Test(counter, parses_both_kinds)
{
	counters c;
	char err[128];
	cr_assert_eq(counters_parse(&c, "likes,saves", "views, shares", err, sizeof err), 0);
	cr_assert_eq(c.n, 4);
	const counter_def *d = counters_find(&c, "saves", 5);
	cr_assert_not_null(d);
	cr_assert_eq(d->kind, COUNTER_SET);
	d = counters_find(&c, "shares", 6);
	cr_assert_not_null(d);
	cr_assert_eq(d->kind, COUNTER_SUM);
	cr_assert_null(counters_find(&c, "share", 5));
	cr_assert_null(counters_find(&c, "likesx", 6));
	cr_assert_str_eq(counter_kind_name(COUNTER_SUM), "sum");
	counters_free(&c);
	cr_assert_eq(c.n, 0);
}

Test(counter, empty_sum_list_is_fine)
{
	counters c;
	char err[128];
	cr_assert_eq(counters_parse(&c, "likes", "", err, sizeof err), 0);
	cr_assert_eq(c.n, 1);
	counters_free(&c);
	cr_assert_eq(counters_parse(&c, NULL, "views", err, sizeof err), 0);
	cr_assert_eq(c.defs[0].kind, COUNTER_SUM);
	counters_free(&c);
}

Test(counter, refuses_bad_lists)
{
	counters c;
	char err[128];
	cr_assert_eq(counters_parse(&c, "", "", err, sizeof err), ERR_CONFIG);
	cr_assert(strstr(err, "no counters"));
	cr_assert_eq(counters_parse(&c, "likes", "likes", err, sizeof err), ERR_CONFIG);
	cr_assert(strstr(err, "twice"), "%s", err);
	cr_assert_eq(counters_parse(&c, "Likes", "", err, sizeof err), ERR_CONFIG);
	cr_assert(strstr(err, "[a-z0-9_]"), "%s", err);
	cr_assert_eq(c.n, 0);
	char many[1024] = "";
	for (int i = 0; i <= COUNTERS_MAX; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "c%d,", i);
	cr_assert_eq(counters_parse(&c, many, "", err, sizeof err), ERR_CONFIG);
	cr_assert(strstr(err, "more than"), "%s", err);
}
