/* query.c - URL query strings (query.h). */
#include "query.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "xmem.h"

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the value src[0, n) into out; returns the bytes written, a
 * NUL after them. */
static size_t decode(const char *src, size_t n, char *out)
{
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		char c = src[i];
		int hi, lo;
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < n && (hi = hex_digit(src[i + 1])) >= 0 &&
		           (lo = hex_digit(src[i + 2])) >= 0) {
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (!c)
			break;
		out[j++] = c;
	}
	out[j] = 0;
	return j;
}

int query_parse(query *q, const char *qs)
{
	q->n = 0;
	q->buf = q->stack;
	if (!qs)
		return 0;
	/* Names and values never grow when decoded: the query's length plus
	 * a NUL for each name and value holds them. */
	size_t len = strlen(qs);
	if (len + 2 > sizeof q->stack)
		q->buf = xmalloc(len + 2);
	char *out = q->buf;
	const char *p = qs;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		if (!eq || eq == p)
			return ERR_INVAL;
		if (q->n == QUERY_PARAMS_MAX)
			return ERR_TOOBIG;
		size_t kn = (size_t)(eq - p);
		query_param *qp = &q->p[q->n++];
		memcpy(out, p, kn);
		out[kn] = 0;
		qp->name = out;
		out += kn + 1;
		qp->value = out;
		out += decode(eq + 1, n - kn - 1, out) + 1;
		p += n + (amp ? 1 : 0);
	}
	return 0;
}

int query_parse_target(query *q, const char *target)
{
	const char *qs = strchr(target, '?');
	return query_parse(q, qs ? qs + 1 : NULL);
}

void query_free(query *q)
{
	if (q->buf && q->buf != q->stack)
		free(q->buf);
	q->buf = NULL;
	q->n = 0;
}

const char *query_get(const query *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcasecmp(q->p[i].name, name) == 0)
			return q->p[i].value;
	return NULL;
}

const char *query_check(const query *q, const char *const *allowed)
{
	for (size_t i = 0; i < q->n; i++) {
		const char *const *a = allowed;
		while (*a && strcasecmp(q->p[i].name, *a) != 0)
			a++;
		if (!*a)
			return "unknown query parameter";
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(q->p[i].name, q->p[j].name) == 0)
				return "a query parameter is repeated";
	}
	return NULL;
}
