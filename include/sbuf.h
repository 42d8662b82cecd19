/* sbuf.h - a growable byte buffer for building answers (JSON, text).
 *
 * Appends never fail (allocation failure aborts, as xmalloc does); the
 * buffer is always NUL-terminated. sbuf_take hands the bytes to the
 * caller and leaves the buffer empty. Not thread-safe: one owner.
 */
#ifndef LIKES_SBUF_H
#define LIKES_SBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct sbuf {
	char *p;
	size_t len, cap;
} sbuf;

void sbuf_init(sbuf *b);
void sbuf_free(sbuf *b);
void sbuf_add(sbuf *b, const void *data, size_t n);
void sbuf_adds(sbuf *b, const char *s);
void sbuf_addf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A number in decimal, without printf (answers build many of these). */
void sbuf_addu64(sbuf *b, uint64_t v);
/* JSON: sep (may be "") then "key": */
void sbuf_addkey(sbuf *b, const char *sep, const char *key);
/* JSON: s (n bytes) as a string, quoted, with '"', '\\' and control
 * bytes escaped (bytes from 0x80 copied as they are). */
void sbuf_addjstr(sbuf *b, const char *s, size_t n);
/* The error body every route of both daemons answers with:
 * {"error":{"code":"<code>","message":"<message>"<extra>}}, where extra,
 * when not NULL, is more JSON members with their leading comma. */
void sbuf_adderror(sbuf *b, const char *code, const char *message, const char *extra);
/* The bytes (malloc'ed, NUL-terminated) and their length. */
char *sbuf_take(sbuf *b, size_t *len);

/* --- appends for hot answers ---------------------------------------------
 * The same appends as above, inlined: after sbuf_reserve(b, n) for an
 * answer's bounded size, the next n bytes of puts do not reallocate and
 * cost a compare and a copy each. They still grow the buffer if the bound
 * was short, so a wrong bound is slow, never an overflow. */

#define SBUF_U64_MAX 20 /* decimal digits of UINT64_MAX */

/* Room for extra more bytes and the NUL without reallocating. */
void sbuf_reserve(sbuf *b, size_t extra);
/* v in decimal at out (SBUF_U64_MAX bytes of room, no NUL written);
 * returns the number of digits. */
size_t sbuf_fmt_u64(char *out, uint64_t v);

static inline void sbuf_put(sbuf *b, const void *data, size_t n)
{
	if (b->len + n >= b->cap)
		sbuf_reserve(b, n);
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = 0;
}

/* A string literal: its length is known at compile time. */
#define sbuf_putl(b, lit) sbuf_put((b), (lit), sizeof(lit) - 1)

static inline void sbuf_put_u64(sbuf *b, uint64_t v)
{
	if (b->len + SBUF_U64_MAX >= b->cap)
		sbuf_reserve(b, SBUF_U64_MAX);
	b->len += sbuf_fmt_u64(b->p + b->len, v);
	b->p[b->len] = 0;
}

#endif
