/* view_int.h - struct view, owned by ledger_view.c: what count reads look at,
 * cut in stripes by partition (the overlay of unconfirmed ops, the
 * count caches, read-through counts, the partitions' published views),
 * and the only functions other files call on it. Private to
 * edge/ledger/ (ledger_int.h includes it; the locks are its).
 *
 * The view sits on the records and the replica alone: it is given at
 * init what it reads (the options, the store, the replica, and which
 * ledger's writer mutex means "the writer holds it" for its lock
 * timing), and its functions take struct view, never struct ledger.
 * What a higher layer knows (the outbox's word of central's snapshots,
 * the count writers' store batch) is handed in by the caller.
 */
#ifndef EDGE_LEDGER_VIEW_INT_H
#define EDGE_LEDGER_VIEW_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "edge/ledger/records_int.h"
#include "edge/ledger/replica_int.h"
#include "imap.h"
#include "log.h"
#include "smap.h"
#include "store.h"
#include "wire.h"

#define COUNT_KNOWN (UINT64_C(1) << 63)

typedef struct overlay_entry {
	int64_t delta;
	uint64_t nops;
} overlay_entry;

/* A count read through from central, until snapshots cover it. */
typedef struct rt_entry {
	uint64_t count, version, applied, as_of;
	uint64_t fetched_mono;
} rt_entry;

/* A store view taken just before a write that changes counts or sealed
 * batches; readers that looked while the write ran read through it, as
 * the in-memory state they combine it with is still the one before the
 * write. Freed by whoever drops the last reference (under the stripe of
 * its partition). */
typedef struct vsnap {
	store_snap *sn;
	unsigned refs;
} vsnap;

/* What central's snapshots said last of a partition, as the outbox's
 * confirmation keeps it (ledger_outbox_said): the input offset and the
 * production time of the last whole snapshot, and this edge's applied
 * sequence. Handed to the view, which does not read the outbox. */
typedef struct view_said {
	uint64_t snap_offset, snap_ms, applied;
	uint64_t sealed; /* pview.sealed's */
} view_said;

/* A partition as count reads see it: the writer's fields as of its last
 * finished store write, published by ledger_view_publish. */
typedef struct pview {
	uint64_t snap_offset, snap_ms, applied;
	bool complete; /* the replica is complete */
	/* Moves by one when a write that changes the partition's counts or
	 * deletes sealed batches (a snapshot, a checkpoint message) starts
	 * (odd) and again when the memory that goes with it is updated
	 * (even). A read that fetched from the store keeps what it fetched
	 * only if gen did not move meanwhile. Seals do not move it: a sealed
	 * batch is in memory before it is in the store, and a read that
	 * misses one in pre reads it from the store as it is. */
	uint64_t gen;
	vsnap *pre; /* gen odd: the store as it was before the write */
	/* The overlay holds this partition's sealed batches up to this
	 * sequence, so a read-through count takes off those of them central
	 * has applied: all of them for a writer (UINT64_MAX from the start),
	 * none for a follower (0: its store holds the active's batches, its
	 * overlay none), and at a promotion each batch as its load puts it
	 * in (ledger_view_holds_sealed). */
	uint64_t overlay_to;
	/* The last sequence this instance sealed of the partition, for a
	 * ledger that writes with a log (UINT64_MAX: not known, or no log).
	 * A writer sends a batch only once it is sealed here, so central
	 * cannot have applied more of this edge's batches than this: a
	 * read-through count that says it did was made with batches another
	 * instance sealed (this one was taken over), and it holds ops this
	 * overlay holds too. Raised by each seal (ledger_view_sealed). */
	uint64_t sealed;
} pview;

/* A read-through count a reader found settled by the snapshots: cached at
 * once, written to the store by the next seal tick, or at close
 * (ledger_keep_flush). */
#define LEDGER_KEEP_MAX 64 /* per stripe, between two flushes; see keep_cap */
typedef struct keep_req {
	char key[EKEY_PAIR_MAX]; /* the pair key (ekey_pair) */
	size_t kn;
	uint64_t count, version;
} keep_req;

/* One stripe of the view: what count reads of its partitions' items look
 * at (partition p is in stripe p % n), under its own mutex. */
typedef struct vstripe {
	tsa_mutex mu;
	uint64_t since;             /* when the holder took mu (ns) */
	smap overlay;               /* counter 0 item -> overlay_entry* */
	imap cache_hot, cache_cold; /* counter 0 item -> count | COUNT_KNOWN, or 0 */
	imap_where cache_where;     /* cache_hot's slots, for prefetches without mu */
	smap rt_hot, rt_cold;       /* counter 0 item -> rt_entry* */
	keep_req keep[LEDGER_KEEP_MAX];
	size_t nkeep;
	/* The stripe's share of ledger_stats. */
	uint64_t cache_hits, cache_misses, readthrough_kept;
	uint64_t lock_ns; /* mu held (without the writer mutex) */
	/* The heap bytes of its count cache, read-through counts and overlay
	 * (ledger_memory), stored under mu after each change that may move
	 * them, read with no lock. */
	_Atomic uint64_t cache_bytes, rt_bytes, overlay_bytes;
	char pad[64]; /* no cache line shared with the next stripe's mutex */
} vstripe;

/* What a count read looks at, cut by partition into n stripes
 * (LEDGER_VIEW_STRIPES at most, and no more than the partitions, nor
 * than leave each stripe two entries of each cache), so that reads and
 * writers of different partitions never wait for each other. A
 * partition's part (its items' overlay, cached and read-through counts,
 * kept read-throughs, and its pview) is under its stripe's mutex, from
 * any thread; a reader lets it go while it reads the store. Writers (mu
 * held) change it only after their store write; the keep flush (cmu
 * held) only takes the kept read-throughs out. No thread holds two
 * stripes at once. A viral item's reads and likes all meet in one
 * stripe, so under that load one stripe is as busy as an unstriped view
 * would be. */
_Static_assert(LEDGER_VIEW_STRIPES <= 255 && LEDGER_GROUP_OPS <= 65536,
               "a group's ops are sorted by stripe into uint8_t and uint16_t");

struct view {
	/* Another instance writes as this edge (ledger_view_overtake): every
	 * count read and every write's count is refused (ERR_FENCED) from
	 * then on, as this overlay holds ops central has from that instance
	 * too. Set once, never cleared; read under a stripe. */
	_Atomic bool overtaken;
	const ledger_opts *o;      /* the ledger's, read-only */
	store *db;                 /* borrowed */
	const struct replica *rep; /* whether a partition is complete (mu or cmu held) */
	const void *writer;  /* its ledger: ledger_mine's value while its writer mutex is held */
	log_limit misparted; /* the warning of counts from other partitions (cmu held) */
	vstripe *s;
	uint32_t n;
	size_t cache_cap, rt_cap; /* each stripe's share of the two caches */
	size_t keep_cap;          /* kept read-throughs per stripe: 64 in all, 16 each at least */
	pview *pv;                /* per partition, under its stripe */
};

/* Sets v up for the ledger writer whose options, store and replica
 * these are. */
void ledger_view_init(struct view *v, const ledger_opts *o, store *db, const struct replica *rep,
                      const void *writer);
void ledger_views_free(struct view *v);
/* The ledger whose writer mutex this thread holds, or NULL: ledger_lock
 * (ledger_int.h) sets it, ledger_base.c defines it; the stripes' lock
 * timing below compares it with struct view's writer. */
extern _Thread_local const ledger *ledger_mine;

/* Partition p's stripe, and stripe i of v's n. */
static inline vstripe *ledger_vstripe(struct view *v, uint32_t p)
{
	return &v->s[p % v->n];
}

static inline uint32_t ledger_view_nstripes(const struct view *v)
{
	return v->n;
}

static inline vstripe *ledger_view_stripe_at(struct view *v, uint32_t i)
{
	return &v->s[i];
}

/* Takes stripe vs (the clock is read only where its time counts: a
 * stripe's time counts only where the writer mutex is not held too, so
 * that the two sections do not count the same time twice). */
static inline void ledger_vlock_stripe(const struct view *v, vstripe *vs)
    TSA_ACQUIRE(vs->mu) TSA_NO_ANALYSIS
{
	pthread_mutex_lock(&vs->mu);
	if ((const void *)ledger_mine != v->writer)
		vs->since = clock_mono_ns();
}

static inline void ledger_vunlock(const struct view *v, vstripe *vs)
    TSA_RELEASE(vs->mu) TSA_NO_ANALYSIS
{
	if ((const void *)ledger_mine != v->writer)
		vs->lock_ns += clock_mono_ns() - vs->since;
	pthread_mutex_unlock(&vs->mu);
}

/* Stripe holds one after another (a batch read's): a hold whose mutex
 * is free is timed from the clock read that ended the one before (t),
 * so n uncontended holds read the clock n + 1 times instead of 2n; what
 * runs between two holds counts as held. A hold that must wait for its
 * mutex reads the clock once it has it, so no wait is counted, and no
 * time the writer lock's holder already counts is counted again. */
static inline void ledger_vlock_from(const struct view *v, vstripe *vs, uint64_t t)
    TSA_ACQUIRE(vs->mu) TSA_NO_ANALYSIS
{
	bool waited = pthread_mutex_trylock(&vs->mu) != 0;
	if (waited)
		pthread_mutex_lock(&vs->mu);
	if ((const void *)ledger_mine != v->writer)
		vs->since = waited ? clock_mono_ns() : t;
}

/* ledger_vunlock for a hold taken by ledger_vlock_from: the clock it
 * read (0 when none), which times the next hold. */
static inline uint64_t ledger_vunlock_at(const struct view *v, vstripe *vs)
    TSA_RELEASE(vs->mu) TSA_NO_ANALYSIS
{
	uint64_t now = 0;
	if ((const void *)ledger_mine != v->writer) {
		now = clock_mono_ns();
		vs->lock_ns += now - vs->since;
	}
	pthread_mutex_unlock(&vs->mu);
	return now;
}

/* ledger_read, ledger_read_many and ledger_readthrough_put (ledger.h),
 * on the view: ledger.c's are these. */
int ledger_view_read(struct view *v, const char *counter, const char *item, ledger_view *out);
int ledger_view_read_many(struct view *v, const ledger_ref *refs, size_t n, ledger_view *out);
void ledger_view_readthrough_put(struct view *v, const char *counter, const char *item,
                                 uint64_t count, uint64_t version, uint64_t applied,
                                 uint64_t as_of);

/* p's overlay holds its sealed batches up to seq at least
 * (pview.overlay_to, which only grows; UINT64_MAX: all it will seal):
 * at a promotion, each batch's deltas and this under one hold of p's
 * stripe. p's stripe held. */
void ledger_view_holds_sealed(struct view *v, uint32_t p, uint64_t seq);
/* p's sealed batches now go up to seq (pview.sealed); p's stripe held. */
void ledger_view_sealed(struct view *v, uint32_t p, uint64_t seq);
/* Another instance writes as this edge: count reads refuse from now on
 * (struct view's overtaken). Any thread; true the first time. */
bool ledger_view_overtake(struct view *v);
bool ledger_view_overtaken(const struct view *v);
/* Publishes partition p's writer fields to its view (said: the outbox's,
 * ledger_outbox_said; the replica's it reads); p's stripe held. */
void ledger_view_publish(struct view *v, uint32_t p, view_said said);
/* Before a store write that changes p's counts or sealed batches: readers
 * read the store as it is now until ledger_view_end. mu held, no stripe. */
void ledger_view_begin(struct view *v, uint32_t p);
/* After that write and the memory that goes with it; p's stripe held. */
void ledger_view_end(struct view *v, uint32_t p);
/* Writes the read-through counts readers found settled: their store
 * reads and write (in wb, the count writers' batch) with cmu held, not
 * mu, so no like waits for them. */
void ledger_keep_flush(struct view *v, store_batch *wb);
/* Count, version and freshness of k as this edge shows it, with plus
 * (ops not in the overlay yet) added before the count is clamped at 0;
 * *raw (if raw is not NULL) gets the count before the clamp. Takes k's
 * stripe (and lets it go while it reads the store). */
int ledger_view_count(struct view *v, const pair_key *k, int64_t plus, ledger_view *out,
                      int64_t *raw);
/* The view's share of the stats, summed over the stripes (each taken in
 * turn; none may be held). */
void ledger_view_stats(struct view *v, ledger_stats *out);
/* The view's share of ledger_memory, summed over the stripes' atomics:
 * no lock. */
void ledger_view_memory(const struct view *v, ledger_memory *out);

/* The overlay of stripe vs (held; at start-up, nothing is). The
 * caller's partition picks vs, the one its item's reads look in.
 * ledger_overlay_add_h is ledger_overlay_add for a key whose smap_hash
 * h is known. */
void ledger_overlay_add(vstripe *vs, const char *counter, size_t cl, const char *item, size_t il,
                        int64_t delta);
void ledger_overlay_add_h(vstripe *vs, const char *key, size_t kn, uint32_t h, int64_t delta);
/* An op's delta taken off key's entry ("counter 0 item", smap_hash h). */
void ledger_overlay_remove_h(vstripe *vs, const char *key, size_t kn, uint32_t h, int64_t delta);
/* k ops of (counter, item) became one entry of a sealed batch (a sum): the
 * overlay now counts them as one, so that entry's removal drops them all. */
void ledger_overlay_merge(vstripe *vs, const char *counter, size_t cl, const char *item, size_t il,
                          uint64_t k);
/* The overlay delta of every entry of a sealed batch: fn(ctx, counter,
 * item, delta) per op (flags as the 'D' record, or NULL: all count) and
 * per sum. No lock needed. */
void ledger_batch_deltas(const wire_batch *b, const char *flags,
                         void (*fn)(void *ctx, wire_str counter, wire_str item, int64_t delta),
                         void *ctx);
/* The 'D' flags of (p, seq) (malloc'ed, nops bytes), or NULL. No lock. */
char *ledger_read_flags(struct view *v, uint32_t p, uint64_t seq, uint32_t nops);

/* The version stored with key's ("counter 0 item") count: 0, or
 * ERR_NOTFOUND (*version 0), or ERR_IO. A store read: no lock needed. */
int ledger_count_version(struct view *v, const char *key, size_t kn, uint64_t *version);
/* Whether every member of (counter, item) that a user at home here has
 * is in this store: its count (as this edge shows it) is 0, or was 0 at
 * a version at or above from ('Z'), the version since which this edge
 * has every change of its users' pairs (LEDGER_HOME_NONE: no such
 * version). Store reads: no lock needed. */
bool ledger_item_covered(struct view *v, const char *counter, const char *item, uint64_t from);
/* The same with the count itself (*count 0 when there is none). */
int ledger_count_stored(struct view *v, const char *key, size_t kn, uint64_t *count,
                        uint64_t *version);
/* Puts s's counts into wb, each with s->offset as its version. With
 * check, a count whose stored version is newer is left alone, and so is
 * a count of an item outside s's partition, with a warning (the uplink
 * drops such entries from snapshots already; a checkpoint's, or a
 * central that counts partitions differently, would bring them: the
 * ledger keeps each partition's counts to its own stripe; the warning
 * comes at most once every 10 s). skip
 * gets s->ncounts flags: true for an entry not written. before: the
 * partition's version before s began to apply (ledger_snap_before), for
 * the zero marks of home_cover. 0 or ERR_IO.
 * cmu held; the writer mutex not needed (only cmu's holders write counts),
 * and not held: the stored versions are store reads (its callers'
 * declarations say so to clang: ledger_int.h). */
int ledger_view_put_counts(struct view *v, store_batch *wb, const wire_snapshot *s, bool check,
                           uint64_t before, bool *skip);
/* After the write (s's partition's stripe held): the written counts into
 * the cache; with only_cached only those it holds already (a checkpoint
 * does not flood it). */
void ledger_cache_counts(struct view *v, const wire_snapshot *s, const bool *skip,
                         bool only_cached);

#endif
