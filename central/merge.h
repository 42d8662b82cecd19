/* merge.h - the last-writer-wins rule for set counters (pure).
 *
 * Central keeps one state per (counter, item, user): present or absent,
 * and the (hlc, edge id) of the op that set it. An op wins when its
 * (hlc, edge) is greater, compared as (hlc numerically, then edge id
 * bytewise). A count is the number of present states, so it moves only
 * when a state flips and can never go below zero. Any thread.
 */
#ifndef CENTRAL_MERGE_H
#define CENTRAL_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "item.h"

#define MERGE_STATE_MAX (1 + 8 + 1 + EDGE_ID_MAX)

typedef struct merge_state {
	bool present;
	uint64_t hlc;
	uint8_t edge_len;
	char edge[EDGE_ID_MAX];
} merge_state;

/* Compares (hlc, edge) pairs: <0, 0, >0. */
int merge_cmp(uint64_t hlc_a, const char *edge_a, size_t alen, uint64_t hlc_b,
	      const char *edge_b, size_t blen);

/* Applies an op (add: present = true, remove: present = false) to *st,
 * which is unset when known is false. Returns the count delta: +1 when a
 * state becomes present, -1 when it stops being present, 0 otherwise
 * (the op lost, or it restated the current membership). *changed says
 * whether *st was overwritten. */
int merge_apply(merge_state *st, bool known, bool add, uint64_t hlc, const char *edge,
		size_t elen, bool *changed);

/* Store encoding: [present u8][hlc u64 BE][edge_len u8][edge]. */
size_t merge_state_encode(const merge_state *st, unsigned char *buf);
int merge_state_decode(const void *buf, size_t len, merge_state *st) WARN_UNUSED;

#endif
