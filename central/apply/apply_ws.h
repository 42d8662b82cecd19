/* apply_ws.h - one message's working set, and the caches of the values
 * the store holds that it loads from: the bottom layer of the applier
 * (apply.h).
 *
 * Every effect of a message is gathered here first: the membership
 * states it touched (S keys), the numbers it moved (C counts, R region
 * and Y day buckets, L milestone levels), and the home index's entries
 * (V keys) and day keys (G keys) it wrote, each number and state loaded
 * on first touch from the caches, else from the store. apply_ws_flush
 * then puts them into the message's write batch in key order, so each
 * key is written once per message; once that write succeeded the caches
 * learn the new values (apply_ws_commit), and after a failure they stay
 * as they were (apply_ws_drop). The caches only ever hold what the
 * store holds.
 *
 * The applier's thread only, but for bytes, clamped and the caches'
 * hits and misses (atomics any thread may read).
 */
#ifndef CENTRAL_APPLY_WS_H
#define CENTRAL_APPLY_WS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "central/apply/ktab.h"
#include "central/apply/merge.h"
#include "counter.h"
#include "smap.h"
#include "store.h"
#include "wire.h"

/* ktab_ent.mark of a number (C key) the store held no key for. */
#define APPLY_WS_ABSENT 1

typedef struct apply_ws {
	store *db;
	ktab tab;         /* S key -> merge_state, C/R/Y/L key -> u64,
	                     V key -> its 9-byte value, G key -> hlc and user */
	kcache members;   /* S key -> its stored encoding */
	kcache counts;    /* C, R or Y key -> its stored value (absent = 0) */
	ktab_ent **order; /* preload and flush: entries in key order */
	size_t order_cap, nflushed;
	_Atomic uint64_t bytes;   /* the table and the order's array, kept between messages */
	_Atomic uint64_t clamped; /* numbers held at 0 or the top (a bug elsewhere) */
} apply_ws;

/* The caches start at counts and members entries (0 = off). */
void apply_ws_init(apply_ws *w, store *db, size_t counts, size_t members);
void apply_ws_free(apply_ws *w);
/* Bounds the caches to these many entries each (0 = off), emptying them. */
void apply_ws_set_cache(apply_ws *w, size_t counts, size_t members);
/* The count cache forgets key (written behind the applier's back). */
void apply_ws_forget(apply_ws *w, const void *key, size_t kn);

/* The current state of an S key in the working set, loaded on first
 * touch; *known says whether the pair has one (a state st->edge_len of
 * 0 is none). 0, or the store's error. */
int apply_ws_state_of(apply_ws *w, const unsigned char *key, size_t kn, merge_state **st,
                      bool *known);
/* Moves the number under key (C, R, Y or L) by delta, loading it on
 * first touch unless known_absent says the store has none. It never goes
 * below 0 nor wraps: a move that would is logged at error level, counted
 * in clamped and held there. The entry goes to *ent when ent is not NULL
 * (valid until the next add). 0, or the store's error. */
int apply_ws_num_add(apply_ws *w, const unsigned char *key, size_t kn, int64_t delta,
                     bool known_absent, ktab_ent **ent);
/* Notes a like of op's pair (clock hlc) by a user of region home in
 * partition p: the 'G' key of its day (keys.h). */
void apply_ws_home_day(apply_ws *w, const char *home, size_t hn, uint32_t p, const wire_op *op,
                       uint64_t hlc);
/* Puts the 'V' entry under key: member or not, homed or not, at clock. */
void apply_ws_home(apply_ws *w, const unsigned char *key, size_t kn, bool member, bool unhomed,
                   uint64_t clock);
/* Whether the 'V' entry under key is there and homed, as the message has
 * it so far, else as stored. 0 or the store's error. */
int apply_ws_homed(apply_ws *w, const unsigned char *key, size_t kn, bool *homed);
/* Loads the states of b's valid set ops (defs[i] op i's counter, NULL
 * for an invalid op) in key order, before any applies: neighbouring
 * lookups then walk the same parts of LevelDB. 0, or the store's error. */
int apply_ws_preload(apply_ws *w, const wire_batch *b, const counter_def *const *defs);

/* Puts the working set into wb, in key order, and each count it holds
 * into changed (counter 0 item -> count); true when there was one. */
bool apply_ws_flush(apply_ws *w, store_batch *wb, smap *changed);
/* After the message's write went through: the caches learn what the
 * store now holds, and the working set empties. */
void apply_ws_commit(apply_ws *w);
/* The message failed: its effects are forgotten, the caches untouched. */
void apply_ws_drop(apply_ws *w);

#endif
