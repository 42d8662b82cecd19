/* apply_ops.h - what one batch's ops and sums do (apply_ops.c): each
 * checked against its counter, set ops merged last-writer-wins, sums
 * added, counts moved with their region and day buckets, the home index
 * and the feed's events noted, all into the working set. It sits on the
 * working set, the feed's events and the moves (apply_ws.h,
 * apply_feed.h, apply_move.h), which it is handed at init.
 *
 * The applier's thread only, but for the counters (atomics any thread
 * may read).
 */
#ifndef CENTRAL_APPLY_OPS_H
#define CENTRAL_APPLY_OPS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "central/apply/apply_feed.h"
#include "central/apply/apply_move.h"
#include "central/apply/apply_obs.h"
#include "central/apply/apply_ws.h"
#include "counter.h"
#include "wire.h"

/* The invalid ops of a batch: how many, the first one's index and why. */
typedef struct invalid {
	uint32_t n, first;
	const char *why;
} invalid;

typedef struct apply_ops {
	const counters *ctr;
	apply_ws *ws;
	apply_feed *feed;
	apply_moved *moved;
	const applier_obs *obs;   /* NULL: no instruments */
	const counter_def **defs; /* per op of the batch: its counter, NULL = invalid */
	size_t defs_cap;
	_Atomic uint64_t defs_bytes;               /* the defs array's, for working_set */
	_Atomic uint64_t ops_applied, ops_invalid; /* applier_stats' */
	uint64_t invalid_logged_ms;                /* invalid-op log limiter */
	uint64_t invalid_unlogged;                 /* ops since the last line */
} apply_ops;

/* Everything given outlives o. */
void apply_ops_init(apply_ops *o, const counters *ctr, apply_ws *ws, apply_feed *feed,
                    apply_moved *moved);
void apply_ops_free(apply_ops *o);
/* Fills o->defs with each op's counter (NULL for an invalid op) and inv
 * with what was invalid. */
void apply_ops_scan(apply_ops *o, const wire_batch *b, invalid *inv);
/* Applies the valid ops of b into the working set; inv (when not NULL)
 * says which were not. 0, or the store's error while loading. */
int apply_ops_run(apply_ops *o, const wire_batch *b, invalid *inv);

#endif
