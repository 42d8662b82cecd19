/* merge.h - the last-writer-wins rule for set counters (pure).
 *
 * Central keeps one state per (counter, item, user): present or absent,
 * the (hlc, edge id) of the op that set it and the region that op came
 * from. An op wins when its (hlc, edge) is greater, compared as (hlc
 * numerically, then edge id bytewise); the region never takes part in
 * the order. A count is the number of present states, so it moves only
 * when a state flips and can never go below zero. Any thread.
 */
#ifndef CENTRAL_MERGE_H
#define CENTRAL_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "item.h"

/* The first byte of every encoded state. Layout 1 (no version byte, no
 * region) is refused: no store holding it was ever deployed. */
#define MERGE_STATE_VERSION 2
#define MERGE_REGION_MAX EDGE_ID_MAX
#define MERGE_STATE_MAX (1 + 1 + 8 + 1 + EDGE_ID_MAX + 1 + MERGE_REGION_MAX)

typedef struct merge_state {
	bool present;
	uint64_t hlc;
	uint8_t edge_len;
	uint8_t region_len;
	char edge[EDGE_ID_MAX];
	char region[MERGE_REGION_MAX];
} merge_state;

/* Compares (hlc, edge) pairs: <0, 0, >0. */
int merge_cmp(uint64_t hlc_a, const char *edge_a, size_t alen, uint64_t hlc_b, const char *edge_b,
              size_t blen);

/* Applies an op (add: present = true, remove: present = false) from edge
 * in region to *st, which is unset when known is false. Returns the count
 * delta: +1 when a state becomes present, -1 when it stops being present,
 * 0 otherwise (the op lost, or it restated the current membership).
 * *changed says whether *st was overwritten (hlc, edge and region all
 * come from the winning op). An edge id or region longer than the maximum
 * changes nothing. */
int merge_apply(merge_state *st, bool known, bool add, uint64_t hlc, const char *edge, size_t elen,
                const char *region, size_t rlen, bool *changed);

/* Store encoding, at most MERGE_STATE_MAX bytes:
 *   [version u8 = 2][present u8][hlc u64 BE][edge_len u8][edge]
 *   [region_len u8][region]
 * decode returns ERR_CORRUPT for any other version, a present byte other
 * than 0 or 1, a length over its maximum or bytes missing or left over. */
size_t merge_state_encode(const merge_state *st, unsigned char *buf);
int merge_state_decode(const void *buf, size_t len, merge_state *st) WARN_UNUSED;

#endif
