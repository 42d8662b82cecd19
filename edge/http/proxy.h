/* proxy.h - which client a request comes from when proxies stand between
 * it and the edge: the trusted-proxy rule.
 *
 * Behind a CDN or a TLS terminator on the same host, every request's TCP
 * peer is the proxy, so rules that judge the client's address (the
 * loopback-only routes, the per-address request budget) would judge the
 * proxy. The operator names the proxies to believe (http.trusted_proxies:
 * addresses and CIDR ranges, empty by default) and the one header they
 * write (http.trusted_proxy_header: X-Forwarded-For, the default, or
 * Forwarded, RFC 7239 for=). From one of those, the client is read from
 * that header alone: the nearest address that is not itself a trusted
 * proxy. The other header is the client's own word, passed through by a
 * proxy that does not write it, and is never read.
 * From any other peer the headers are not believed, and a request that
 * carries them says it came through a proxy the edge does not trust: it
 * may not use the loopback-only routes even from 127.0.0.1.
 *
 * Addresses are PROXY_IP_LEN bytes, IPv4 as v4-mapped IPv6 (as HTTP_IP_LEN in http_msg.h).
 * Pure; any thread once the list is built.
 */
#ifndef EDGE_PROXY_H
#define EDGE_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/http/http_msg.h"

#define PROXY_IP_LEN 16
#define PROXY_NETS_MAX 64

typedef struct proxy_net {
	uint8_t addr[PROXY_IP_LEN];
	unsigned bits; /* prefix length over the 128 bits */
} proxy_net;

typedef struct proxy_list {
	proxy_net nets[PROXY_NETS_MAX];
	size_t n;
	bool forwarded; /* believe Forwarded; false: X-Forwarded-For */
} proxy_list;

/* Parses "10.0.0.0/8, 127.0.0.1, ::1, 2001:db8::/32" (empty: none).
 * ERR_CONFIG with the reason in err for an entry that is not an address
 * or range, or more than PROXY_NETS_MAX of them. */
int proxy_list_parse(const char *text, proxy_list *out, char *err, size_t errlen);
/* Which header the proxies write: "x-forwarded-for" or "forwarded" (any
 * case); ERR_CONFIG otherwise. proxy_list_parse resets it to the first. */
int proxy_list_header(proxy_list *l, const char *name, char *err, size_t errlen);
bool proxy_list_has(const proxy_list *l, const uint8_t ip[PROXY_IP_LEN]);
/* An address in text form ("192.0.2.1", "2001:db8::1", "[2001:db8::1]",
 * with or without ":port") into ip; false when it is none. */
bool proxy_parse_ip(const char *text, size_t n, uint8_t ip[PROXY_IP_LEN]);

typedef enum proxy_verdict {
	PROXY_DIRECT,    /* no forwarding header: the client is the peer */
	PROXY_FORWARDED, /* from a trusted proxy: the client is in the headers */
	PROXY_UNTRUSTED, /* forwarding headers from a peer not trusted: the
	                    client is the peer, and it claims to be a proxy */
	PROXY_BAD,       /* from a trusted proxy, without the header it writes,
	                    or one that names no client */
} proxy_verdict;

/* The client of a request whose TCP peer is peer (NULL: unknown) and
 * whose headers are h[0..nh), into client. l may be NULL (none
 * trusted). */
proxy_verdict proxy_client(const proxy_list *l, const uint8_t *peer, const http_header *h,
                           size_t nh, uint8_t client[PROXY_IP_LEN]);

#endif
