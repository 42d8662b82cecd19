/* test_proxy.c - the trusted-proxy rule: the list's syntax, and which
 * client a request comes from with and without trusted proxies. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "edge/http/proxy.h"

static void ip(const char *text, uint8_t out[PROXY_IP_LEN])
{
	cr_assert(proxy_parse_ip(text, strlen(text), out), "%s", text);
}

static bool same(const uint8_t *a, const char *text)
{
	uint8_t b[PROXY_IP_LEN];
	ip(text, b);
	return memcmp(a, b, PROXY_IP_LEN) == 0;
}

Test(proxy, addresses_in_every_form_headers_use)
{
	uint8_t a[PROXY_IP_LEN];
	ip("192.0.2.1", a);
	cr_assert(same(a, "::ffff:192.0.2.1"), "IPv4 is v4-mapped");
	ip(" 192.0.2.1:8080 ", a);
	cr_assert(same(a, "192.0.2.1"));
	ip("[2001:db8::1]:443", a);
	cr_assert(same(a, "2001:db8::1"));
	ip("[2001:db8::1]:_gazonk", a);
	cr_assert(same(a, "2001:db8::1"), "an obfuscated port (RFC 7239 6.3)");
	ip("::ffff:192.0.2.1", a);
	const char *bad[] = {"",
	                     "unknown",
	                     "_hidden",
	                     "192.0.2",
	                     "192.0.2.1:x",
	                     "[::1",
	                     "1.2.3.4/8",
	                     "192.0.2.1:",
	                     "[::1]:",
	                     "[::1]:x",
	                     "[::1]:123456",
	                     "[::1]x",
	                     "1.2.3.4:80:80"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_expect_not(proxy_parse_ip(bad[i], strlen(bad[i]), a), "%s", bad[i]);
}

Test(proxy, lists_parse_and_match_ranges)
{
	proxy_list l;
	char err[256];
	cr_assert_eq(proxy_list_parse("10.0.0.0/8, 127.0.0.1 ,2001:db8::/32", &l, err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(l.n, 3);
	uint8_t a[PROXY_IP_LEN];
	ip("10.200.3.4", a);
	cr_assert(proxy_list_has(&l, a));
	ip("11.0.0.1", a);
	cr_assert_not(proxy_list_has(&l, a));
	ip("127.0.0.1", a);
	cr_assert(proxy_list_has(&l, a));
	ip("127.0.0.2", a);
	cr_assert_not(proxy_list_has(&l, a), "a plain address is a /32");
	ip("2001:db8:ffff::9", a);
	cr_assert(proxy_list_has(&l, a));
	cr_assert_eq(proxy_list_parse("", &l, err, sizeof err), 0);
	cr_assert_eq(l.n, 0);
	/* IPv6 forms with a dotted tail are IPv6: their prefix counts 128. */
	cr_assert_eq(proxy_list_parse("64:ff9b::/96, ::ffff:10.0.0.0/104", &l, err, sizeof err), 0,
	             "%s", err);
	ip("64:ff9b::1.2.3.4", a);
	cr_assert(proxy_list_has(&l, a), "NAT64");
	ip("10.9.9.9", a);
	cr_assert(proxy_list_has(&l, a), "v4-mapped");
	ip("11.9.9.9", a);
	cr_assert_not(proxy_list_has(&l, a));
	const char *bad[] = {"10.0.0.0/33", "::/129", "10.0.0.0/",   "nope",
	                     "10.0.0.0/8x", "[::1]",  "10.0.0.1:80", "64:ff9b::1.2.3.4/129"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_expect_neq(proxy_list_parse(bad[i], &l, err, sizeof err), 0, "%s", bad[i]);
		cr_expect_not_null(strstr(err, "trusted_proxies"), "%s", err);
	}
}

static http_header hdr(const char *name, const char *value)
{
	return (http_header){name, strlen(name), value, strlen(value)};
}

Test(proxy, the_client_behind_trusted_proxies)
{
	proxy_list l;
	char err[256];
	cr_assert_eq(proxy_list_parse("127.0.0.1, 10.0.0.0/8", &l, err, sizeof err), 0);
	uint8_t peer[PROXY_IP_LEN], client[PROXY_IP_LEN];
	ip("127.0.0.1", peer);

	/* No headers: the peer. */
	cr_assert_eq(proxy_client(&l, peer, NULL, 0, client), PROXY_DIRECT);
	cr_assert(same(client, "127.0.0.1"));

	/* The nearest address not trusted; what the client wrote further
	 * out is not read. */
	http_header h[] = {hdr("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.1.1")};
	cr_assert_eq(proxy_client(&l, peer, h, 1, client), PROXY_FORWARDED);
	cr_assert(same(client, "203.0.113.9"));

	/* Several fields are one list, in order. */
	http_header two[] = {hdr("X-Forwarded-For", "garbage"),
	                     hdr("x-forwarded-for", "198.51.100.7")};
	cr_assert_eq(proxy_client(&l, peer, two, 2, client), PROXY_FORWARDED);
	cr_assert(same(client, "198.51.100.7"));

	/* Only X-Forwarded-For is read by default: a client's own Forwarded,
	 * passed through by a proxy that appends X-Forwarded-For, is not. */
	http_header spoof[] = {hdr("forwarded", "for=127.0.0.1"),
	                       hdr("x-forwarded-for", "203.0.113.9")};
	cr_assert_eq(proxy_client(&l, peer, spoof, 2, client), PROXY_FORWARDED);
	cr_assert(same(client, "203.0.113.9"));
	http_header only_fwd[] = {hdr("forwarded", "for=127.0.0.1")};
	cr_assert_eq(proxy_client(&l, peer, only_fwd, 1, client), PROXY_BAD,
	             "without the header the proxy writes, no client is named");

	/* A list of proxies that write Forwarded reads Forwarded alone;
	 * quoted IPv6 with a port, a quoted comma, space after a quote. */
	cr_assert_eq(proxy_list_header(&l, "Forwarded", err, sizeof err), 0);
	http_header f[] = {
	    hdr("x-forwarded-for", "127.0.0.1"),
	    hdr("forwarded", "for=192.0.2.60;proto=https, For=\"[2001:db8::17]:4711\" ")};
	cr_assert_eq(proxy_client(&l, peer, f, 2, client), PROXY_FORWARDED);
	cr_assert(same(client, "2001:db8::17"));
	http_header qc[] = {hdr("forwarded", "for=192.0.2.61;by=\"a,b\";host=x, for=10.0.0.9")};
	cr_assert_eq(proxy_client(&l, peer, qc, 1, client), PROXY_FORWARDED);
	cr_assert(same(client, "192.0.2.61"), "a comma inside quotes splits nothing");
	http_header esc[] = {hdr("forwarded", "for=\"1.2.3.4\\\"\"")};
	cr_assert_eq(proxy_client(&l, peer, esc, 1, client), PROXY_BAD, "an escape is no address");
	http_header xff_only[] = {hdr("x-forwarded-for", "127.0.0.1")};
	cr_assert_eq(proxy_client(&l, peer, xff_only, 1, client), PROXY_BAD);
	cr_assert_eq(proxy_list_header(&l, "x-forwarded-for", err, sizeof err), 0);
	cr_assert_neq(proxy_list_header(&l, "x-real-ip", err, sizeof err), 0);
	cr_assert_not_null(strstr(err, "trusted_proxy_header"), "%s", err);

	/* X-Forwarded-For has no quoting: a quote does not join entries. */
	http_header xq[] = {hdr("x-forwarded-for", "\"6.6.6.6, 203.0.113.5")};
	cr_assert_eq(proxy_client(&l, peer, xq, 1, client), PROXY_FORWARDED);
	cr_assert(same(client, "203.0.113.5"));

	/* A loopback client through the trusted proxy is loopback. */
	http_header lo[] = {hdr("x-forwarded-for", "127.0.0.1")};
	cr_assert_eq(proxy_client(&l, peer, lo, 1, client), PROXY_FORWARDED);
	cr_assert(same(client, "127.0.0.1"));

	/* Headers that name no client at the hop that matters. */
	http_header unk[] = {hdr("x-forwarded-for", "unknown")};
	cr_assert_eq(proxy_client(&l, peer, unk, 1, client), PROXY_BAD);
	http_header junk[] = {hdr("x-forwarded-for", "203.0.113.9, nonsense")};
	cr_assert_eq(proxy_client(&l, peer, junk, 1, client), PROXY_BAD);
}

Test(proxy, headers_from_a_peer_not_trusted_are_not_believed)
{
	uint8_t peer[PROXY_IP_LEN], client[PROXY_IP_LEN];
	ip("127.0.0.1", peer);
	http_header h[] = {hdr("x-forwarded-for", "127.0.0.1")};
	/* No list at all, and a list without the peer. */
	cr_assert_eq(proxy_client(NULL, peer, h, 1, client), PROXY_UNTRUSTED);
	cr_assert(same(client, "127.0.0.1"), "the client is the peer");
	proxy_list l;
	char err[256];
	cr_assert_eq(proxy_list_parse("10.0.0.1", &l, err, sizeof err), 0);
	cr_assert_eq(proxy_client(&l, peer, h, 1, client), PROXY_UNTRUSTED);
	cr_assert_eq(proxy_client(&l, NULL, h, 1, client), PROXY_UNTRUSTED, "an unknown peer");
}
