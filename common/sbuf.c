/* sbuf.c - growable byte buffer (sbuf.h). */
#include "sbuf.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkcache.h"
#include "xmem.h"

void sbuf_init(sbuf *b)
{
	b->p = NULL;
	b->len = b->cap = 0;
}

void sbuf_free(sbuf *b)
{
	free(b->p);
	sbuf_init(b);
}

void sbuf_reserve(sbuf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	if (!b->p) {
		/* A buffer an earlier answer on this thread was done with. */
		size_t have;
		char *p = blk_take_buf(extra + 1, &have);
		if (p) {
			b->p = p;
			b->cap = have;
			return;
		}
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void sbuf_add(sbuf *b, const void *data, size_t n)
{
	sbuf_reserve(b, n);
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
}

void sbuf_adds(sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_addf(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	sbuf_reserve(b, 64);
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort(); /* only a bad format string can do this */
	if ((size_t)n >= b->cap - b->len) {
		sbuf_reserve(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

size_t sbuf_fmt_u64(char *out, uint64_t v)
{
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
	                               "25262728293031323334353637383940414243444546474849"
	                               "50515253545556575859606162636465666768697071727374"
	                               "75767778798081828384858687888990919293949596979899";
	static const uint64_t pow10[20] = {1u,
	                                   10u,
	                                   100u,
	                                   1000u,
	                                   10000u,
	                                   100000u,
	                                   1000000u,
	                                   10000000u,
	                                   100000000u,
	                                   1000000000u,
	                                   10000000000u,
	                                   100000000000u,
	                                   1000000000000u,
	                                   10000000000000u,
	                                   100000000000000u,
	                                   1000000000000000u,
	                                   10000000000000000u,
	                                   100000000000000000u,
	                                   1000000000000000000u,
	                                   10000000000000000000u};
	if (v < 10) {
		out[0] = (char)('0' + v);
		return 1;
	}
	/* The digit count first (log10 from the bit length: 1233 / 4096 is
	 * just under log10(2)), then two digits a step from a table, written
	 * from the last one back straight into out. */
	unsigned t = (unsigned)(64 - __builtin_clzll(v)) * 1233u >> 12;
	size_t n = t + (v >= pow10[t]);
	char *p = out + n;
	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;
		v /= 100;
		*--p = pairs[d + 1];
		*--p = pairs[d];
	}
	if (v >= 10) {
		*--p = pairs[v * 2 + 1];
		*--p = pairs[v * 2];
	} else {
		*--p = (char)('0' + v);
	}
	return n;
}

void sbuf_addu64(sbuf *b, uint64_t v)
{
	sbuf_put_u64(b, v);
}

/* Whether byte c goes into a JSON string as it is. */
static bool json_plain(unsigned char c)
{
	return c >= 0x20 && c != 0x7f && c != '"' && c != '\\';
}

void sbuf_addjstr(sbuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	sbuf_reserve(b, n + 2);
	b->p[b->len++] = '"';
	size_t i = 0;
	while (i < n) {
		/* A run of bytes that need no escape goes in one copy. */
		size_t run = i;
		while (run < n && json_plain((unsigned char)s[run]))
			run++;
		if (run > i)
			sbuf_put(b, s + i, run - i);
		if (run == n)
			break;
		unsigned char c = (unsigned char)s[run];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			sbuf_put(b, e, 2);
		} else {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			sbuf_put(b, e, 6);
		}
		i = run + 1;
	}
	sbuf_put(b, "\"", 1);
}

void sbuf_adderror(sbuf *b, const char *code, const char *message, const char *extra)
{
	sbuf_adds(b, "{\"error\":{\"code\":");
	sbuf_addjstr(b, code, strlen(code));
	sbuf_adds(b, ",\"message\":");
	sbuf_addjstr(b, message, strlen(message));
	if (extra)
		sbuf_adds(b, extra);
	sbuf_adds(b, "}}");
}

void sbuf_addkey(sbuf *b, const char *sep, const char *key)
{
	size_t sl = strlen(sep), kl = strlen(key);
	sbuf_reserve(b, sl + kl + 3);
	memcpy(b->p + b->len, sep, sl);
	b->len += sl;
	b->p[b->len++] = '"';
	memcpy(b->p + b->len, key, kl);
	b->len += kl;
	b->p[b->len++] = '"';
	b->p[b->len++] = ':';
	b->p[b->len] = 0;
}

char *sbuf_take(sbuf *b, size_t *len)
{
	if (!b->p)
		sbuf_add(b, "", 0);
	char *p = b->p;
	if (len)
		*len = b->len;
	sbuf_init(b);
	return p;
}
