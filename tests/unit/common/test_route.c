/* test_route.c - the route table lookup both daemons dispatch with
 * (common/route.c): exact rows against prefix rows, the query left out,
 * table order, methods and their Allow header.
 */
#include <criterion/criterion.h>

#include "route.h"

static const char *const some_params[] = {"limit", NULL};

static const route table[] = {
    {"/healthz", "GET", ROUTE_PUBLIC, NULL, 0, 1, NULL},
    {"/v1/ops", "POST", ROUTE_PUBLIC, NULL, 0, 2, NULL},
    {"/v1/hot", "GET", ROUTE_LOOPBACK, some_params, 1, 3, NULL},
    {"/v1/totals/", "GET", ROUTE_TOKEN, NULL, 0, 4, NULL},
    {"/v1/items/", NULL, ROUTE_PUBLIC, NULL, 0, 6, NULL},
    {"/v1/", "GET", ROUTE_PUBLIC, NULL, 0, 5, NULL},
};
#define N (sizeof table / sizeof *table)

static int metric_of(const char *path)
{
	const route *r = route_find(table, N, path);
	return r ? r->metric : 0;
}

Test(route, an_exact_row_matches_its_path_alone_with_or_without_a_query)
{
	cr_assert_eq(metric_of("/healthz"), 1);
	cr_assert_eq(metric_of("/healthz?verbose=1"), 1);
	cr_assert_eq(metric_of("/healthzz"), 0);
	cr_assert_eq(metric_of("/health"), 0);
	cr_assert_eq(metric_of("/healthz/"), 0);
	cr_assert_eq(metric_of(""), 0);
}

Test(route, a_prefix_row_needs_something_after_the_prefix)
{
	cr_assert_eq(metric_of("/v1/totals/likes"), 4);
	cr_assert_eq(metric_of("/v1/totals/likes?x=1"), 4);
	cr_assert_eq(metric_of("/v1/totals"), 5, "without the slash, not that prefix: /v1/'s");
	cr_assert_eq(metric_of("/v1"), 0);
	cr_assert_eq(metric_of("/v1/totals/"), 5, "nothing after it: the next row's");
	cr_assert_eq(metric_of("/v1/totals/?q"), 5, "the query is not part of the path");
}

Test(route, the_first_row_in_table_order_wins)
{
	cr_assert_eq(metric_of("/v1/ops"), 2, "the exact row comes before the /v1/ prefix");
	cr_assert_eq(metric_of("/v1/anything"), 5);
}

Test(route, methods_and_allow)
{
	const route *get = route_find(table, N, "/healthz");
	const route *post = route_find(table, N, "/v1/ops");
	cr_assert(route_method_ok(get, "GET"));
	cr_assert_not(route_method_ok(get, "POST"));
	cr_assert_not(route_method_ok(get, "HEAD"), "HEAD is the daemon's to route as GET");
	cr_assert(route_method_ok(post, "POST"));
	cr_assert_str_eq(route_allow(get), "GET, HEAD");
	cr_assert_str_eq(route_allow(post), "POST");
	const route *any = route_find(table, N, "/v1/items/post/1/likes");
	cr_assert(route_method_ok(any, "DELETE"),
	          "a row without a method leaves it to its handler");
}

Test(route, rest_is_what_follows_a_prefix)
{
	const route *r = route_find(table, N, "/v1/totals/likes");
	cr_assert_str_eq(route_rest(r, "/v1/totals/likes"), "likes");
	cr_assert_str_eq(route_rest(route_find(table, N, "/healthz"), "/healthz"), "");
}
