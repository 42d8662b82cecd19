/* test_query.c - the one query-string parser (common/query.c): the rules
 * libevent's evhttp_parse_query_str and evhttp_find_header follow, checked
 * against libevent itself on the same inputs, plus the allowed-names
 * check and the limits.
 */
#include <criterion/criterion.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>

#include "err.h"
#include "query.h"

Test(query, values_are_decoded_names_are_not)
{
	query q;
	cr_assert_eq(query_parse(&q, "items=post%3A1%2Cpost:2&by=a+b&x%41=%zz%4"), 0);
	cr_assert_eq(q.n, 3);
	cr_assert_str_eq(query_get(&q, "items"), "post:1,post:2");
	cr_assert_str_eq(query_get(&q, "by"), "a b");
	cr_assert_str_eq(q.p[2].name, "x%41");
	cr_assert_str_eq(q.p[2].value, "%zz%4", "a bad escape is kept as it is");
	query_free(&q);
}

Test(query, names_match_without_case_and_the_first_counts)
{
	query q;
	cr_assert_eq(query_parse(&q, "Items=a&items=b&LIMIT=3"), 0);
	cr_assert_str_eq(query_get(&q, "items"), "a");
	cr_assert_str_eq(query_get(&q, "limit"), "3");
	cr_assert_null(query_get(&q, "counters"));
	query_free(&q);
}

Test(query, a_decoded_nul_ends_the_value)
{
	query q;
	cr_assert_eq(query_parse(&q, "a=x%00y&b="), 0);
	cr_assert_str_eq(query_get(&q, "a"), "x");
	cr_assert_str_eq(query_get(&q, "b"), "");
	query_free(&q);
}

Test(query, empty_queries_parse_to_nothing)
{
	const char *empty[] = {NULL, ""};
	for (size_t i = 0; i < 2; i++) {
		query q;
		cr_assert_eq(query_parse(&q, empty[i]), 0);
		cr_assert_eq(q.n, 0);
		query_free(&q);
	}
	query q;
	cr_assert_eq(query_parse_target(&q, "/v1/hot"), 0);
	cr_assert_eq(q.n, 0);
	query_free(&q);
	cr_assert_eq(query_parse_target(&q, "/v1/hot?limit=5&"), 0);
	cr_assert_str_eq(query_get(&q, "limit"), "5");
	query_free(&q);
}

/* The same verdict and the same values as libevent on each input. */
Test(query, agrees_with_libevent)
{
	const char *cases[] = {
	    "a=1",   "a=1&",  "&a=1",    "a=1&&b=2", "a",       "=1",      "a=",        "a==b",
	    "a=1&b", "a+b=c", "a=%41%4", "a=%g1",    "a=1&a=2", "A=1&a=2", "a=%2B+%2b", "k=v=w&x=y",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct evkeyvalq kv;
		TAILQ_INIT(&kv);
		int theirs = evhttp_parse_query_str(cases[i], &kv);
		query q;
		int ours = query_parse(&q, cases[i]);
		cr_assert_eq(ours != 0, theirs != 0, "%s: ours %d, libevent %d", cases[i], ours,
		             theirs);
		if (!theirs) {
			size_t n = 0;
			for (struct evkeyval *e = TAILQ_FIRST(&kv); e;
			     e = TAILQ_NEXT(e, next), n++) {
				cr_assert_str_eq(q.p[n].name, e->key, "%s", cases[i]);
				cr_assert_str_eq(q.p[n].value, e->value, "%s", cases[i]);
				const char *found = evhttp_find_header(&kv, e->key);
				cr_assert_str_eq(query_get(&q, e->key), found, "%s", cases[i]);
			}
			cr_assert_eq(q.n, n, "%s", cases[i]);
		}
		evhttp_clear_headers(&kv);
		query_free(&q);
	}
}

Test(query, check_takes_only_allowed_names_once)
{
	static const char *const allowed[] = {"items", "counters", NULL};
	query q;
	cr_assert_eq(query_parse(&q, "items=a&counters=likes"), 0);
	cr_assert_null(query_check(&q, allowed));
	query_free(&q);
	cr_assert_eq(query_parse(&q, "items=a&edge=x"), 0);
	cr_assert_str_eq(query_check(&q, allowed), "unknown query parameter");
	query_free(&q);
	cr_assert_eq(query_parse(&q, "items=a&ITEMS=b"), 0);
	cr_assert_str_eq(query_check(&q, allowed), "a query parameter is repeated");
	query_free(&q);
}

Test(query, long_queries_and_many_parameters)
{
	/* Longer than the stack buffer: decoded into an allocation. */
	static char big[3 * QUERY_STACK];
	memcpy(big, "items=", 6);
	memset(big + 6, 'x', sizeof big - 7);
	query q;
	cr_assert_eq(query_parse(&q, big), 0);
	cr_assert_eq(strlen(query_get(&q, "items")), sizeof big - 7);
	query_free(&q);
	/* One parameter more than the limit is refused, not cut off. */
	char many[QUERY_PARAMS_MAX * 8 + 16];
	size_t at = 0;
	for (int i = 0; i <= QUERY_PARAMS_MAX; i++)
		at += (size_t)snprintf(many + at, sizeof many - at, "%sp%d=1", i ? "&" : "", i);
	cr_assert_eq(query_parse(&q, many), ERR_TOOBIG);
	query_free(&q);
	many[strlen(many) - strlen("&p32=1")] = 0;
	cr_assert_eq(query_parse(&q, many), 0);
	cr_assert_eq(q.n, QUERY_PARAMS_MAX);
	query_free(&q);
}
