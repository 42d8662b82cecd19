/* mpr_int.h - a strict, bounded msgpack reader (private to the wire module).
 *
 * A reader is a cursor over a caller's buffer. Each mpr_read_* call
 * consumes exactly one msgpack value of the asked-for family, or fails
 * with ERR_CORRUPT (wrong type, truncated, malformed) or ERR_TOOBIG (a
 * string over its limit) and leaves the cursor unspecified. Nothing here
 * allocates; strings returned point into the buffer. Pure and
 * thread-safe: a reader belongs to the thread that made it.
 */
#ifndef COMMON_MPR_INT_H
#define COMMON_MPR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "wire.h"

/* Deepest nesting mpr_skip follows before calling the input corrupt. */
#define MPR_MAX_DEPTH 8

typedef struct mpr {
	const uint8_t *p; /* next unread byte */
	size_t left;      /* bytes from p to the end of the buffer */
} mpr;

static inline void mpr_init(mpr *r, const void *buf, size_t len)
{
	r->p = buf;
	r->left = len;
}

/* Any integer format (positive/negative fixint, uint8..64, int8..64)
 * whose value is >= 0 and <= max. A negative value, a value over max, or
 * a non-integer is ERR_CORRUPT. */
int mpr_read_uint(mpr *r, uint64_t max, uint64_t *v) WARN_UNUSED;
/* A str value (fixstr, str8/16/32) of at most max bytes: longer is
 * ERR_TOOBIG. bin and every other family are ERR_CORRUPT. */
int mpr_read_str(mpr *r, uint32_t max, wire_str *s) WARN_UNUSED;
/* true or false. */
int mpr_read_bool(mpr *r, bool *v) WARN_UNUSED;
/* Array header (fixarray, array16/32): the element count only. */
int mpr_read_array(mpr *r, uint32_t *n) WARN_UNUSED;
/* Map header (fixmap, map16/32): the number of key/value pairs only. */
int mpr_read_map(mpr *r, uint32_t *n) WARN_UNUSED;
/* Skips one value of any type, nested at most MPR_MAX_DEPTH deep
 * counting this one as depth 1. Work is bounded by the bytes left. */
int mpr_skip(mpr *r) WARN_UNUSED;

#endif
