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
/* The bytes (malloc'ed, NUL-terminated) and their length. */
char *sbuf_take(sbuf *b, size_t *len);

#endif
