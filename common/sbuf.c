/* sbuf.c - growable byte buffer (sbuf.h). */
#include "sbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void reserve(sbuf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void sbuf_add(sbuf *b, const void *data, size_t n)
{
	reserve(b, n);
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
	reserve(b, 64);
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort(); /* only a bad format string can do this */
	if ((size_t)n >= b->cap - b->len) {
		reserve(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void sbuf_addu64(sbuf *b, uint64_t v)
{
	char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	reserve(b, n);
	while (n)
		b->p[b->len++] = tmp[--n];
	b->p[b->len] = 0;
}

void sbuf_addkey(sbuf *b, const char *sep, const char *key)
{
	size_t sl = strlen(sep), kl = strlen(key);
	reserve(b, sl + kl + 3);
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
