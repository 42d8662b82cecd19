/* proxy.c - the trusted-proxy rule (proxy.h). */
#include "edge/http/proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"

/* A port after an address: 1-5 digits, or an obfuscated one as RFC 7239
 * section 6.3 allows ("_" then letters, digits, '.', '_', '-'). */
static bool port_ok(const char *p)
{
	size_t n = strlen(p);
	if (n == 0)
		return false;
	if (p[0] == '_')
		return strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                     "0123456789._-") == n - 1;
	return n <= 5 && strspn(p, "0123456789") == n;
}

/* proxy_parse_ip, and whether the text was an IPv4 address (a v4-mapped
 * or NAT64 address written in IPv6 form is IPv6). */
static bool parse_ip(const char *text, size_t n, uint8_t ip[PROXY_IP_LEN], bool *v4)
{
	char buf[64];
	*v4 = false;
	while (n && (*text == ' ' || *text == '\t'))
		text++, n--;
	while (n && (text[n - 1] == ' ' || text[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof buf)
		return false;
	memcpy(buf, text, n);
	buf[n] = '\0';
	char *s = buf;
	if (s[0] == '[') { /* [v6] or [v6]:port */
		char *close = strchr(s, ']');
		if (!close || (close[1] && (close[1] != ':' || !port_ok(close + 2))))
			return false;
		*close = '\0';
		return inet_pton(AF_INET6, s + 1, ip) == 1;
	}
	if (inet_pton(AF_INET6, s, ip) == 1)
		return true;
	char *colon = strchr(s, ':');
	if (colon) { /* v4:port */
		if (!port_ok(colon + 1))
			return false;
		*colon = '\0';
	}
	uint8_t a[4];
	if (inet_pton(AF_INET, s, a) != 1)
		return false;
	memset(ip, 0, 10);
	ip[10] = ip[11] = 0xff;
	memcpy(ip + 12, a, 4);
	*v4 = true;
	return true;
}

bool proxy_parse_ip(const char *text, size_t n, uint8_t ip[PROXY_IP_LEN])
{
	bool v4;
	return parse_ip(text, n, ip, &v4);
}

int proxy_list_parse(const char *text, proxy_list *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	const char *p = text ? text : "";
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *slash = memchr(p, '/', n);
		size_t an = slash ? (size_t)(slash - p) : n;
		proxy_net net = {.bits = 128};
		bool blank = strspn(p, " \t") >= n;
		if (!blank) {
			bool v4;
			if (!parse_ip(p, an, net.addr, &v4) || memchr(p, '[', an) ||
			    (memchr(p, ':', an) && v4)) {
				snprintf(err, errlen,
				         "http.trusted_proxies: '%.*s' is not an address", (int)n,
				         p);
				return ERR_CONFIG;
			}
			if (slash) {
				char *end;
				long bits = strtol(slash + 1, &end, 10);
				while (*end == ' ' || *end == '\t')
					end++;
				long max = v4 ? 32 : 128;
				if (end == slash + 1 || (size_t)(end - p) != n || bits < 0 ||
				    bits > max) {
					snprintf(
					    err, errlen,
					    "http.trusted_proxies: '%.*s' has a bad prefix length",
					    (int)n, p);
					return ERR_CONFIG;
				}
				net.bits = (unsigned)bits + (v4 ? 96 : 0);
			}
			if (out->n == PROXY_NETS_MAX) {
				snprintf(err, errlen, "http.trusted_proxies: more than %d entries",
				         PROXY_NETS_MAX);
				return ERR_CONFIG;
			}
			out->nets[out->n++] = net;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static bool in_net(const proxy_net *net, const uint8_t ip[PROXY_IP_LEN])
{
	unsigned whole = net->bits / 8, rest = net->bits % 8;
	if (memcmp(net->addr, ip, whole) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net->addr[whole] & mask) == (ip[whole] & mask);
}

bool proxy_list_has(const proxy_list *l, const uint8_t ip[PROXY_IP_LEN])
{
	for (size_t i = 0; l && i < l->n; i++)
		if (in_net(&l->nets[i], ip))
			return true;
	return false;
}

/* The address of a Forwarded element's for= parameter ('for' any case,
 * value a token or quoted string). false: the element has none, or an
 * obfuscated or unknown one ("unknown", "_hidden"): no address. */
static bool forwarded_for(const char *e, size_t n, uint8_t ip[PROXY_IP_LEN], bool *present)
{
	*present = false;
	size_t i = 0;
	while (i < n) {
		size_t pn = i;
		bool quoted = false;
		while (pn < n && (quoted || e[pn] != ';')) {
			if (quoted && e[pn] == '\\')
				pn++;
			else if (e[pn] == '"')
				quoted = !quoted;
			pn++;
		}
		if (pn > n)
			pn = n;
		const char *kv = e + i;
		size_t kn = pn - i;
		while (kn && (*kv == ' ' || *kv == '\t'))
			kv++, kn--;
		while (kn && (kv[kn - 1] == ' ' || kv[kn - 1] == '\t'))
			kn--;
		if (kn > 4 && strncasecmp(kv, "for=", 4) == 0) {
			*present = true;
			const char *v = kv + 4;
			size_t vn = kn - 4;
			if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"')
				v++, vn -= 2;
			if (memchr(v, '\\', vn) || memchr(v, '"', vn))
				return false; /* no address needs either */
			return proxy_parse_ip(v, vn, ip);
		}
		i = pn + 1;
	}
	return false;
}

/* One hop of the forwarding headers: its address, or none (an entry
 * that names no address: "unknown", an obfuscated node, garbage). */
typedef struct hop {
	uint8_t ip[PROXY_IP_LEN];
	bool valid;
} hop;

#define HOPS_MAX 16 /* the nearest ones are kept */

/* The hops of the Forwarded (or X-Forwarded-For) fields, in order,
 * nearest last. Returns the count. */
static size_t hops(const http_header *h, size_t nh, bool forwarded, hop *out)
{
	size_t n = 0;
	const char *want = forwarded ? "forwarded" : "x-forwarded-for";
	size_t wl = strlen(want);
	for (size_t k = 0; k < nh; k++) {
		if (h[k].namelen != wl || strncasecmp(h[k].name, want, wl) != 0)
			continue;
		const char *v = h[k].value;
		size_t vn = h[k].valuelen, i = 0;
		while (i <= vn) {
			size_t e = i;
			bool quoted = false;
			while (e < vn && (quoted || v[e] != ',')) {
				/* Only Forwarded has quoted strings (RFC 7239);
				 * X-Forwarded-For is a plain list. */
				if (forwarded && quoted && v[e] == '\\')
					e++;
				else if (forwarded && v[e] == '"')
					quoted = !quoted;
				e++;
			}
			if (e > vn)
				e = vn;
			hop x;
			bool present = true;
			x.valid = forwarded ? forwarded_for(v + i, e - i, x.ip, &present)
			                    : proxy_parse_ip(v + i, e - i, x.ip);
			if (x.valid || present) {
				if (n == HOPS_MAX) {
					memmove(out, out + 1, (HOPS_MAX - 1) * sizeof *out);
					n--;
				}
				out[n++] = x;
			}
			i = e + 1;
		}
	}
	return n;
}

static bool has_header(const http_header *h, size_t nh, const char *name)
{
	size_t nl = strlen(name);
	for (size_t k = 0; k < nh; k++)
		if (h[k].namelen == nl && strncasecmp(h[k].name, name, nl) == 0)
			return true;
	return false;
}

int proxy_list_header(proxy_list *l, const char *name, char *err, size_t errlen)
{
	if (strcasecmp(name, "x-forwarded-for") == 0)
		l->forwarded = false;
	else if (strcasecmp(name, "forwarded") == 0)
		l->forwarded = true;
	else {
		snprintf(err, errlen,
		         "http.trusted_proxy_header: '%s' is neither x-forwarded-for nor forwarded",
		         name);
		return ERR_CONFIG;
	}
	return 0;
}

proxy_verdict proxy_client(const proxy_list *l, const uint8_t *peer, const http_header *h,
                           size_t nh, uint8_t client[PROXY_IP_LEN])
{
	bool fwd = has_header(h, nh, "forwarded"), xff = has_header(h, nh, "x-forwarded-for");
	if (peer)
		memcpy(client, peer, PROXY_IP_LEN);
	else
		memset(client, 0, PROXY_IP_LEN);
	if (!fwd && !xff)
		return PROXY_DIRECT;
	if (!peer || !proxy_list_has(l, peer))
		return PROXY_UNTRUSTED;
	/* Only the header the proxies are known to write: a proxy that adds
	 * X-Forwarded-For passes a client's own Forwarded through untouched,
	 * and believing that would let the client name itself. */
	if (!(l->forwarded ? fwd : xff))
		return PROXY_BAD;
	hop list[HOPS_MAX];
	size_t n = hops(h, nh, l->forwarded, list);
	/* From the nearest hop outwards, past the proxies we trust: what a
	 * client wrote further out is its own word and is not read. */
	size_t i = n;
	while (i > 1 && list[i - 1].valid && proxy_list_has(l, list[i - 1].ip))
		i--;
	if (i == 0 || !list[i - 1].valid)
		return PROXY_BAD;
	memcpy(client, list[i - 1].ip, PROXY_IP_LEN);
	return PROXY_FORWARDED;
}
