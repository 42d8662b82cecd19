/* itest_proxy.c - the trusted-proxy rule on the real edge (stack.h: one
 * edge, 127.0.0.1 trusted as a proxy, a small per-address budget for
 * requests without identity). Loopback-only routes judge the client the
 * trusted proxy's headers name, and so does the per-address budget. The
 * untrusted case (the same headers from a peer not trusted) is in
 * itest_h1conform.c, whose edge trusts no proxy.
 */
#include <criterion/criterion.h>

#include "tests/support/stack.h"

static void setup(void)
{
	S.edge_extra = "[http]\ntrusted_proxies = 127.0.0.1, 10.0.0.0/8\n";
	S.edge_limits = "user_writes_per_min = 0\naddr_requests_per_s = 1\naddr_burst = 10\n";
	stack_up(1, 2, 200);
}

TestSuite(proxy, .init = setup, .fini = stack_down, .timeout = 120);

/* GET path with one extra header line (NULL: none); the status. */
static int get(const char *path, const char *header)
{
	static char out[256 * 1024]; /* /metrics is long */
	char opts[256];
	snprintf(opts, sizeof opts, "%s%s%s", header ? "-H '" : "", header ? header : "",
	         header ? "'" : "");
	return proc_curl(out, sizeof out, opts, S.edge_port[0], path);
}

Test(proxy, loopback_routes_judge_the_client_behind_a_trusted_proxy)
{
	cr_assert_eq(get("/metrics", NULL), 200, "the peer itself is loopback");
	cr_assert_eq(get("/metrics", "X-Forwarded-For: 127.0.0.1"), 200,
	             "a loopback client through a trusted proxy");
	cr_assert_eq(get("/metrics", "X-Forwarded-For: 203.0.113.9"), 404,
	             "an outside client through a trusted proxy on the same host");
	cr_assert_eq(get("/metrics", "X-Forwarded-For: 203.0.113.9, 10.1.2.3"), 404,
	             "past a chain of trusted proxies");
	cr_assert_eq(get("/metrics", "X-Forwarded-For: unknown"), 404, "a client not named");
	cr_assert_eq(get("/v1/admin/inspect", "X-Forwarded-For: 198.51.100.1"), 404);
	cr_assert_eq(get("/v1/hot", "X-Forwarded-For: [::1]:1234"), 200);
	/* The proxies write X-Forwarded-For (the default): a Forwarded the
	 * client wrote itself and the proxy passed on is not believed. */
	cr_assert_eq(get("/metrics", "Forwarded: for=127.0.0.1"), 404,
	             "a header the proxy does not write names no client");
	static char out[4096];
	cr_assert_eq(proc_curl(out, sizeof out,
	                       "-H 'Forwarded: for=127.0.0.1' -H 'X-Forwarded-For: 203.0.113.9'",
	                       S.edge_port[0], "/metrics"),
	             404, "a client naming itself loopback in Forwarded");
}

Test(proxy, the_per_address_budget_counts_each_client_behind_the_proxy)
{
	/* Count reads carry no identity: each spends the client's budget. */
	int last = 0, n = 0;
	while (n < 40 &&
	       (last = get("/v1/items/post/1/likes", "X-Forwarded-For: 203.0.113.1")) != 429)
		n++;
	cr_assert_eq(last, 429, "client 203.0.113.1 spends its budget");
	cr_assert_geq(n, 10, "not before its burst");
	cr_assert_eq(get("/v1/items/post/1/likes", "X-Forwarded-For: 203.0.113.2"), 200,
	             "another client behind the same proxy has its own");
}
