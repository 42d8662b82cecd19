/* merge.c - last-writer-wins on (hlc, edge id) for set counters. */
#include "merge.h"

#include <string.h>

#include "store.h"

int merge_cmp(uint64_t hlc_a, const char *edge_a, size_t alen, uint64_t hlc_b,
	      const char *edge_b, size_t blen)
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

int merge_apply(merge_state *st, bool known, bool add, uint64_t hlc, const char *edge,
		size_t elen, bool *changed)
{
	*changed = false;
	if (elen > EDGE_ID_MAX)
		return 0;
	if (known && merge_cmp(hlc, edge, elen, st->hlc, st->edge, st->edge_len) <= 0)
		return 0;
	bool was = known && st->present;
	st->present = add;
	st->hlc = hlc;
	st->edge_len = (uint8_t)elen;
	memcpy(st->edge, edge, elen);
	*changed = true;
	return (int)add - (int)was;
}

size_t merge_state_encode(const merge_state *st, unsigned char *buf)
{
	buf[0] = st->present ? 1 : 0;
	store_put_u64(buf + 1, st->hlc);
	buf[9] = st->edge_len;
	memcpy(buf + 10, st->edge, st->edge_len);
	return 10u + st->edge_len;
}

int merge_state_decode(const void *buf, size_t len, merge_state *st)
{
	const unsigned char *p = buf;
	if (len < 10 || p[0] > 1 || p[9] > EDGE_ID_MAX || len != 10u + p[9])
		return ERR_CORRUPT;
	st->present = p[0] == 1;
	st->hlc = store_get_u64(p + 1);
	st->edge_len = p[9];
	memcpy(st->edge, p + 10, st->edge_len);
	return 0;
}
