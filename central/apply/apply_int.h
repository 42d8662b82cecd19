/* apply_int.h - the applier's private state, shared by apply.c
 * (lifecycle, sequencing, quarantine, offsets and versions, snapshots,
 * reads), apply_ops.c (a message's effects: op checks, merges and
 * sums, the working set and the caches of stored values), apply_feed.c
 * (the feed's events), apply_move.c (moves of users' homes) and
 * apply_thin.c (the sweep of the home index's day keys). Not for
 * other modules.
 *
 * One owner thread, as for the applier itself (apply.h): nothing here
 * takes a lock. The stats and the per-partition next_offset and held are
 * atomics so that other threads may read them.
 */
#ifndef CENTRAL_APPLY_INT_H
#define CENTRAL_APPLY_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bloom.h"
#include "central/apply/apply.h"
#include "central/apply/feedrec.h"
#include "central/apply/keys.h"
#include "central/apply/ktab.h"
#include "central/apply/merge.h"
#include "feedev.h"
#include "sbuf.h"
#include "smap.h"
#include "wire.h"

typedef struct edge_seq {
	uint64_t applied;
	uint64_t held_min; /* 0 = nothing held */
	uint64_t held_count;
	uint64_t fence_ms; /* the CKEY_FENCE key's writer time: batches of an earlier
	                      writer are void */
} edge_seq;

typedef struct part {
	_Atomic int64_t next_offset; /* -1 until known */
	uint32_t epoch;              /* the CKEY_EPOCH key; 0 when absent */
	_Atomic uint64_t held;       /* sum of held_count over edges */
	smap edges;                  /* edge id -> edge_seq* */
	smap changed;                /* counter 0 item -> count, since last snapshot */
	smap emitted;                /* what the last snapshot referenced */
	uint64_t changes_bytes;      /* their smap_bytes, as last counted */
	bool dirty;
} part;

typedef struct stats {
	_Atomic uint64_t batches_applied, batches_duplicate, batches_held, batches_bad;
	_Atomic uint64_t batches_deadlettered, deadletter_failed;
	_Atomic uint64_t ops_applied, ops_invalid, store_writes;
	_Atomic uint64_t numbers_clamped;
	_Atomic uint64_t feed_events; /* change feed events stored */
	_Atomic uint64_t home_unrouted;
	_Atomic uint64_t moves_applied, moves_stale, moves_bad, moved_pairs;
	_Atomic uint64_t handovers_applied, batches_fenced;
	_Atomic uint64_t days_thinned, thin_rounds;
} stats;

/* The sweep of the home index's day keys (apply_thin.c): whether a
 * round is under way and where it resumes (at_n 0: the first 'G' key),
 * the item group (a 'G' key without its day) whose first key it kept
 * last, when the next round is due (mono ms; 0 until the first call),
 * and the round's figures for its log line. */
typedef struct day_thin {
	bool on;
	unsigned char at[CKEY_MAX + 1];
	size_t at_n;
	unsigned char group[CKEY_MAX];
	size_t group_n;
	uint64_t next_ms, round_start_ms, step_ms; /* step_ms: the last step's */
	uint64_t round_read, round_deleted, round_steps, round_max_us;
} day_thin;

#define STAT_ADD(a, f, n) atomic_fetch_add_explicit(&(a)->st.f, (n), memory_order_relaxed)
#define STAT_GET(a, f) atomic_load_explicit(&(a)->st.f, memory_order_relaxed)

struct applier {
	store *db;
	uint32_t nparts;
	part *parts;
	const counters *ctr;
	store_batch *wb;
	ktab ws;          /* per message: S key -> merge_state, C/R/Y/L key -> u64,
	                     V key -> its 9-byte value, G key -> hlc and user */
	kcache members;   /* S key -> its stored encoding */
	kcache counts;    /* C, R or Y key -> its stored value (absent = 0) */
	ktab_ent **order; /* preload and flush: working-set entries in key order */
	size_t order_cap, nflushed;
	const counter_def **defs; /* per op of the batch: its counter, NULL = invalid */
	size_t defs_cap;
	stats st;
	/* applier_get_memory's working_set and snapshot_changes, stored by
	 * the applier's thread (apply_ws_account, apply_changes_account). */
	_Atomic uint64_t ws_bytes, changes_bytes, moved_bytes; /* moved_bytes: a->moved's */
	applier_dead_letter_fn dead_letter;
	void *dead_letter_ctx;
	const applier_obs *obs; /* NULL: no instruments */
	/* The change feed (docs/events.md): what is on, the thresholds
	 * (ascending), and the message being applied: its events' id
	 * (index = the next one's) and its 'X' record (feedrec.h). */
	bool feed_changes, feed_milestones;
	/* The regions whose users' changes made elsewhere go to their home
	 * stream (topic FEEDREC_HOMES + i). */
	char *homes[FEEDREC_HOMES_MAX];
	size_t nhomes;
	/* Users a move message named ('W' keys), loaded at open, in a Bloom
	 * filter (apply_move.c): only their ops, and a false positive's,
	 * read a 'W' key. moved_cap users fit it at 10 bits each;
	 * moved_users is about how many it holds. */
	bloom moved;
	uint64_t moved_cap, moved_users;
	uint64_t *thresholds;
	size_t nthresholds;
	feedev_id feed_id;                   /* index unused: see feed_index */
	uint32_t feed_index[FEEDREC_TOPICS]; /* the next index, per topic */
	sbuf feed_rec;
	uint32_t feed_made; /* events the last applied message stored */
	day_thin thin;
	/* invalid-op log limiter */
	uint64_t invalid_logged_ms;
	uint64_t invalid_unlogged; /* ops since the last line */
};

/* The invalid ops of a batch: how many, the first one's index and why. */
typedef struct invalid {
	uint32_t n, first;
	const char *why;
} invalid;

/* Moves the number under key (C, R, Y or L) by delta in the message's
 * working set, loading it on first touch unless known_absent; the entry
 * goes to *ent (valid until the working set's next add). 0, or the
 * store's error. */
int apply_num_add(applier *a, const unsigned char *key, size_t kn, int64_t delta, bool known_absent,
                  ktab_ent **ent);
/* The feed's events of one change (apply_feed.c): a set flip (is_set;
 * member the pair's new state) or a sum of n, made by an op of region
 * and clock hlc, which moved the count from before to after. Nothing
 * when the feed is off. 0, or the store's error (a milestone level). */
/* A set op's change of st, made in b's region by a user whose home
 * (op->home) is another: an event on that region's home stream, or
 * home_unrouted when central has none for it. */
void apply_feed_home(applier *a, const wire_batch *b, const wire_op *op, const merge_state *st,
                     uint64_t count);
/* The move m on every home stream (a "home" event, keyed by its user):
 * the new home's edges learn that the user's pairs of the partition are
 * all on their stream before it, the others' that the user lives
 * elsewhere now. */
void apply_feed_moved(applier *a, const wire_move *m);
/* The event of st (op's pair, count after) on the home stream of region
 * home; false when central sends to no such region. */
bool apply_feed_home_to(applier *a, const char *home, size_t hn, const wire_op *op,
                        const merge_state *st, uint64_t count);
int apply_feed_change(applier *a, const wire_op *op, bool is_set, bool member, uint64_t n,
                      const char *region, size_t rn, uint64_t hlc, uint64_t before, uint64_t after);

/* The current state of an S key in the message's working set, loaded on
 * first touch; *known says whether the pair has one (a state st->edge_len
 * of 0 is none). 0, or the store's error. */
int apply_state_of(applier *a, const unsigned char *key, size_t kn, merge_state **st, bool *known);
/* Notes in the working set a like of op's pair (clock hlc) by a user of
 * region home in partition p: the 'G' key of its day (keys.h). */
void apply_home_day(applier *a, const char *home, size_t hn, uint32_t p, const wire_op *op,
                    uint64_t hlc);
/* Applies the move message msg at partition p's offset (apply_move.c):
 * the user's memberships there go to the new home's index and stream,
 * and its 'W' key says where the user lives. A message that is not a
 * valid move is quarantined. 0, or the store's error. */
int apply_move(applier *a, part *pt, uint32_t p, int64_t offset, const void *msg, size_t len);
/* The set of moved users (apply_move.c): built from the store's 'W'
 * keys at open (0 or the store's error); a user added as a move applies
 * (the filter made again, twice the size, from the store when it is
 * full: 0 or the store's error); whether a user may have moved. */
int apply_moved_load(applier *a);
int apply_moved_add(applier *a, const char *user, size_t un);
bool apply_moved_maybe(const applier *a, const char *user, size_t un);
/* The home region op's user lives in, when a move says (the 'W' key of
 * partition p): copied to home (EDGE_ID_MAX bytes), its length in *hn;
 * *hn 0 when none did (then op->home stands). 0 or the store's error. */
int apply_where(applier *a, uint32_t p, const wire_op *op, char *home, size_t *hn);
/* Quarantines msg (apply.c): the dead-letter topic, with why. */
void apply_quarantine(applier *a, uint32_t p, int64_t offset, const void *msg, size_t len,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Fills a->defs with each op's counter (NULL for an invalid op) and inv
 * with what was invalid. */
void apply_scan_ops(applier *a, const wire_batch *b, invalid *inv);
/* Applies the valid ops of b into the working set; inv (when not NULL)
 * says which were not. 0, or the store's error while loading. */
int apply_ops(applier *a, const wire_batch *b, invalid *inv);
/* Puts the working set into a->wb, in key order, and notes the changed
 * counts in pt. */
void apply_ws_flush(applier *a, part *pt);
/* After the message's write went through: the caches learn what the
 * store now holds, and the working set empties. */
void apply_ws_commit(applier *a);
/* The message failed: its effects are forgotten, the caches untouched. */
void apply_ws_drop(applier *a);
/* After pt's changed or emitted map changed: the snapshot changes' bytes
 * follow. O(1). */
void apply_changes_account(applier *a, part *pt);

#endif
