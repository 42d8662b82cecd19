/* merge.c - last-writer-wins on (hlc, edge id) for set counters, and the
 * store encoding of a membership state (merge.h). Pure, any thread. */
#include "central/apply/merge.h"

#include <string.h>

#include "store.h"

int merge_cmp(uint64_t hlc_a, const char *edge_a, size_t alen, uint64_t hlc_b, const char *edge_b,
              size_t blen)
{
	if (hlc_a != hlc_b)
		return hlc_a < hlc_b ? -1 : 1;
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(edge_a, edge_b, n);
	if (c)
		return c < 0 ? -1 : 1;
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return 0;
}

int merge_apply(merge_state *st, bool known, bool add, uint64_t hlc, const char *edge, size_t elen,
                const char *region, size_t rlen, bool *changed)
{
	*changed = false;
	if (elen > EDGE_ID_MAX || rlen > MERGE_REGION_MAX)
		return 0;
	if (known && merge_cmp(hlc, edge, elen, st->hlc, st->edge, st->edge_len) <= 0)
		return 0;
	bool was = known && st->present;
	st->present = add;
	st->hlc = hlc;
	st->edge_len = (uint8_t)elen;
	memcpy(st->edge, edge, elen);
	st->region_len = (uint8_t)rlen;
	memcpy(st->region, region, rlen);
	*changed = true;
	return (int)add - (int)was;
}

size_t merge_state_encode(const merge_state *st, unsigned char *buf)
{
	size_t n = 0;
	buf[n++] = MERGE_STATE_VERSION;
	buf[n++] = st->present ? 1 : 0;
	store_put_u64(buf + n, st->hlc);
	n += 8;
	buf[n++] = st->edge_len;
	memcpy(buf + n, st->edge, st->edge_len);
	n += st->edge_len;
	buf[n++] = st->region_len;
	memcpy(buf + n, st->region, st->region_len);
	n += st->region_len;
	return n;
}

int merge_state_decode(const void *buf, size_t len, merge_state *st)
{
	const unsigned char *p = buf;
	/* version, present, hlc, edge_len: 11 bytes before the edge id. */
	if (len < 11 || p[0] != MERGE_STATE_VERSION || p[1] > 1 || p[10] > EDGE_ID_MAX)
		return ERR_CORRUPT;
	size_t at = 11u + p[10];
	if (len < at + 1 || p[at] > MERGE_REGION_MAX || len != at + 1 + p[at])
		return ERR_CORRUPT;
	st->present = p[1] == 1;
	st->hlc = store_get_u64(p + 2);
	st->edge_len = p[10];
	memcpy(st->edge, p + 11, st->edge_len);
	st->region_len = p[at];
	memcpy(st->region, p + at + 1, st->region_len);
	return 0;
}
