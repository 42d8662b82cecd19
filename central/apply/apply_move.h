/* apply_move.h - users' moves to another home region (apply_move.c says
 * what a move message does): the set of users a move named, where each
 * lives, and the move messages themselves. It sits on the working set
 * and the feed's events (apply_ws.h, apply_feed.h).
 *
 * The applier's thread only, but for the counters and bytes (atomics
 * any thread may read).
 */
#ifndef CENTRAL_APPLY_MOVE_H
#define CENTRAL_APPLY_MOVE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bloom.h"
#include "central/apply/apply_feed.h"
#include "central/apply/apply_ws.h"
#include "err.h"
#include "store.h"
#include "wire.h"

typedef struct apply_moved {
	store *db;
	/* Users a move named ('W' keys), in a Bloom filter: only their ops,
	 * and a false positive's, read a 'W' key. cap users fit it at 8
	 * bits each; users is about how many it holds. */
	bloom set;
	uint64_t cap, users;
	_Atomic uint64_t bytes;                      /* the filter's */
	_Atomic uint64_t applied, stale, bad, pairs; /* applier_stats' moves_* */
} apply_moved;

/* Builds the set from the store's 'W' keys. 0 or the store's error. */
int apply_moved_load(apply_moved *m, store *db) WARN_UNUSED;
void apply_moved_free(apply_moved *m);

/* The home region op's user lives in, when a move says (the 'W' key of
 * partition p): copied to home (EDGE_ID_MAX bytes), its length in *hn;
 * *hn 0 when none did (then op->home stands). 0 or the store's error. */
int apply_where(apply_moved *m, uint32_t p, const wire_op *op, char *home, size_t *hn);

/* Applies the move message msg at partition p's offset: the user's
 * memberships there go to the new home's index (into w) and stream (f),
 * and its 'W' key (into wb) says where the user lives. The caller
 * flushes w into wb. A message that is not a valid move is counted and
 * logged, and *fault names what is wrong (the caller quarantines it);
 * else *fault is NULL. 0, or the store's error. */
int apply_move(apply_moved *m, apply_ws *w, apply_feed *f, store_batch *wb, uint32_t p,
               int64_t offset, const void *msg, size_t len, const char **fault);

#endif
