/* mpr.c - strict, bounded msgpack reader used by the wire decoders.
 *
 * Owns nothing: it only moves a cursor over the caller's buffer and never
 * reads a byte before checking that it is there. Any thread.
 */
#include "mpr_int.h"

/* Takes n bytes from the cursor; NULL if fewer than n are left. */
static const uint8_t *take(mpr *r, size_t n)
{
	const uint8_t *at = r->p;

	if (n > r->left)
		return NULL;
	r->p += n;
	r->left -= n;
	return at;
}

/* Reads an n-byte (1, 2, 4 or 8) big-endian unsigned number. */
static int take_be(mpr *r, size_t n, uint64_t *v)
{
	const uint8_t *b = take(r, n);
	uint64_t x = 0;

	if (!b)
		return ERR_CORRUPT;
	for (size_t i = 0; i < n; i++)
		x = (x << 8) | b[i];
	*v = x;
	return 0;
}

static int take_byte(mpr *r, uint8_t *c)
{
	const uint8_t *b = take(r, 1);

	if (!b)
		return ERR_CORRUPT;
	*c = *b;
	return 0;
}

int mpr_read_uint(mpr *r, uint64_t max, uint64_t *v)
{
	uint8_t c;
	uint64_t x;
	int rc;

	if ((rc = take_byte(r, &c)))
		return rc;
	if (c <= 0x7f) {
		x = c;
	} else if (c >= 0xcc && c <= 0xcf) {
		/* uint8, uint16, uint32, uint64 */
		if ((rc = take_be(r, (size_t)1 << (c - 0xcc), &x)))
			return rc;
	} else if (c >= 0xd0 && c <= 0xd3) {
		/* int8..int64: allowed for a non-negative value; the sign
		 * bit of the widest byte says whether it is negative. */
		size_t n = (size_t)1 << (c - 0xd0);

		if ((rc = take_be(r, n, &x)))
			return rc;
		if (x >> (n * 8 - 1))
			return ERR_CORRUPT;
	} else {
		/* negative fixint, nil, bool, float, str, ... */
		return ERR_CORRUPT;
	}
	if (x > max)
		return ERR_CORRUPT;
	*v = x;
	return 0;
}

int mpr_read_str(mpr *r, uint32_t max, wire_str *s)
{
	uint8_t c;
	uint64_t n;
	const uint8_t *body;
	int rc;

	if ((rc = take_byte(r, &c)))
		return rc;
	if (c >= 0xa0 && c <= 0xbf)
		n = c & 0x1f;
	else if (c >= 0xd9 && c <= 0xdb)
		rc = take_be(r, (size_t)1 << (c - 0xd9), &n);
	else
		return ERR_CORRUPT;
	if (rc)
		return rc;
	if (n > max)
		return ERR_TOOBIG;
	if (!(body = take(r, (size_t)n)))
		return ERR_CORRUPT;
	s->p = (const char *)body;
	s->n = (uint32_t)n;
	return 0;
}

int mpr_read_bool(mpr *r, bool *v)
{
	uint8_t c;
	int rc;

	if ((rc = take_byte(r, &c)))
		return rc;
	if (c != 0xc2 && c != 0xc3)
		return ERR_CORRUPT;
	*v = c == 0xc3;
	return 0;
}

/* Shared by arrays and maps: fix is the fixed-size family's tag (0x90 or
 * 0x80), wide the 16-bit form's tag (0xdc or 0xde; the 32-bit one is
 * next to it). */
static int read_header(mpr *r, uint8_t fix, uint8_t wide, uint32_t *n)
{
	uint8_t c;
	uint64_t x;
	int rc;

	if ((rc = take_byte(r, &c)))
		return rc;
	if ((c & 0xf0) == fix) {
		*n = c & 0x0f;
		return 0;
	}
	if (c == wide)
		rc = take_be(r, 2, &x);
	else if (c == wide + 1)
		rc = take_be(r, 4, &x);
	else
		return ERR_CORRUPT;
	if (rc)
		return rc;
	*n = (uint32_t)x;
	return 0;
}

int mpr_read_array(mpr *r, uint32_t *n)
{
	return read_header(r, 0x90, 0xdc, n);
}

int mpr_read_map(mpr *r, uint32_t *n)
{
	return read_header(r, 0x80, 0xde, n);
}

/* Skips a length-prefixed body whose length is an lenbytes-wide number,
 * after first skipping `extra` bytes of its own (the ext type byte). */
static int skip_sized(mpr *r, size_t lenbytes, size_t extra)
{
	uint64_t n;
	int rc;

	if ((rc = take_be(r, lenbytes, &n)))
		return rc;
	if (!take(r, extra))
		return ERR_CORRUPT;
	if (n > r->left)
		return ERR_CORRUPT;
	take(r, (size_t)n);
	return 0;
}

/* Each element of a container takes at least one byte, so a count over
 * the bytes left is corrupt and the loops below are bounded by len. */
static int skip_at(mpr *r, int depth)
{
	uint8_t c;
	uint32_t n;
	int rc;

	if (depth > MPR_MAX_DEPTH)
		return ERR_CORRUPT;
	if (!r->left)
		return ERR_CORRUPT;
	c = r->p[0];

	if ((c & 0xf0) == 0x90 || c == 0xdc || c == 0xdd) {
		if ((rc = mpr_read_array(r, &n)))
			return rc;
		if (n > r->left)
			return ERR_CORRUPT;
		for (uint32_t i = 0; i < n; i++)
			if ((rc = skip_at(r, depth + 1)))
				return rc;
		return 0;
	}
	if ((c & 0xf0) == 0x80 || c == 0xde || c == 0xdf) {
		if ((rc = mpr_read_map(r, &n)))
			return rc;
		if (n > r->left / 2)
			return ERR_CORRUPT;
		for (uint32_t i = 0; i < n; i++) {
			if ((rc = skip_at(r, depth + 1)))
				return rc;
			if ((rc = skip_at(r, depth + 1)))
				return rc;
		}
		return 0;
	}

	take(r, 1);
	if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
		return 0; /* fixints, nil, booleans */
	if (c >= 0xa0 && c <= 0xbf)
		return take(r, c & 0x1f) ? 0 : ERR_CORRUPT; /* fixstr */

	switch (c) {
	case 0xcc:
	case 0xd0: return take(r, 1) ? 0 : ERR_CORRUPT;
	case 0xcd:
	case 0xd1: return take(r, 2) ? 0 : ERR_CORRUPT;
	case 0xce:
	case 0xd2:
	case 0xca: return take(r, 4) ? 0 : ERR_CORRUPT;
	case 0xcf:
	case 0xd3:
	case 0xcb: return take(r, 8) ? 0 : ERR_CORRUPT;
	case 0xd9:
	case 0xc4: return skip_sized(r, 1, 0); /* str8, bin8 */
	case 0xda:
	case 0xc5: return skip_sized(r, 2, 0);
	case 0xdb:
	case 0xc6: return skip_sized(r, 4, 0);
	case 0xc7: return skip_sized(r, 1, 1); /* ext8/16/32: length, type, data */
	case 0xc8: return skip_sized(r, 2, 1);
	case 0xc9: return skip_sized(r, 4, 1);
	case 0xd4: return take(r, 2) ? 0 : ERR_CORRUPT; /* fixext: type + 1..16 */
	case 0xd5: return take(r, 3) ? 0 : ERR_CORRUPT;
	case 0xd6: return take(r, 5) ? 0 : ERR_CORRUPT;
	case 0xd7: return take(r, 9) ? 0 : ERR_CORRUPT;
	case 0xd8: return take(r, 17) ? 0 : ERR_CORRUPT;
	default: return ERR_CORRUPT; /* 0xc1 is never used */
	}
}

int mpr_skip(mpr *r)
{
	return skip_at(r, 1);
}
