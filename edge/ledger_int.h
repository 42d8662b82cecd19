/* ledger_int.h - the ledger's private state, shared by ledger.c (writes,
 * batches, restarts) and ledger_view.c (counts, overlay, caches,
 * snapshots). Not for other modules. Every function here expects the
 * ledger's mutex held.
 */
#ifndef EDGE_LEDGER_INT_H
#define EDGE_LEDGER_INT_H

#include <pthread.h>

#include "bloom.h"
#include "hlc.h"
#include "item.h"
#include "ledger.h"
#include "smap.h"

#define KEY_MAX (1 + COUNTER_MAX + 1 + ITEM_MAX + 1 + USER_MAX)
#define COUNT_KNOWN (UINT64_C(1) << 63)

enum { SEALED_UNSENT, SEALED_INFLIGHT, SEALED_DELIVERED };

typedef struct pend_op {
	char *counter, *item, *user; /* one allocation, at counter */
	uint8_t kind;
	uint32_t n;
	uint64_t hlc;
	uint64_t opno;
	bool counts; /* moves the overlay (a repeat of the known state does not) */
} pend_op;

typedef struct open_batch {
	pend_op *ops;
	size_t len, cap;
	uint64_t first_ms;
	uint64_t bytes;
} open_batch;

typedef struct sealed {
	uint64_t seq;
	uint32_t len;
	uint8_t state;
	bool resend; /* sent before (or maybe, before a restart) */
	int64_t offset;
} sealed;

typedef struct part {
	open_batch open;
	uint64_t next_opno;
	uint64_t last_seq;
	sealed *sealed;
	size_t nsealed, capsealed;
	uint64_t applied;
	uint64_t snap_offset; /* the input offset of the last whole snapshot */
	uint64_t snap_ms;
	/* The highest input offset of any snapshot message applied, whole
	 * or a part ('N', stored with it). Central's primary and replicas
	 * both publish: a message below it is stale. */
	uint64_t snap_seen;
} part;

typedef struct overlay_entry {
	int64_t delta;
	uint64_t nops;
} overlay_entry;

/* A count read through from central, until snapshots cover it. */
typedef struct rt_entry {
	uint64_t count, version, applied, as_of;
	uint64_t fetched_mono;
} rt_entry;

/* The open group (ledger_write.c): ops staged by writes since the last
 * commit, written together by the next one. */
#define GROUP_SLOTS 4096 /* power of two, >= 2 x LEDGER_GROUP_OPS */
#define GROUP_IDEM 64    /* idempotency records in one group */

typedef struct group_op {
	pend_op op;
	uint32_t p;
	uint32_t bytes;        /* encoded size: pending bytes once committed */
	uint16_t mslot, cslot; /* its slots in member[] (set ops) and count[] */
} group_op;

/* An open-addressed index entry: at is 1 + the index of a staged op. */
typedef struct group_slot {
	uint64_t hash;
	uint32_t at;   /* member[]: the pair's latest op; count[]: the first
	                  op on the counter and item; 0 = empty */
	int64_t delta; /* count[]: what the staged ops add to the count */
} group_slot;

typedef struct group {
	store_batch *wb;
	group_op *ops; /* LEDGER_GROUP_OPS */
	size_t n;
	uint32_t *per_part; /* staged ops per partition */
	group_slot member[GROUP_SLOTS];
	group_slot count[GROUP_SLOTS];
	uint64_t idem[GROUP_IDEM]; /* hashes of staged idempotency keys */
	size_t nidem;
	ledger_ticket *tickets;
} group;

/* A sealed batch's ops summed per "counter 0 item" (ledger_view.c). */
#define LEDGER_DELTA_BATCHES 32

typedef struct delta_batch {
	bool used;
	uint32_t p;
	uint64_t seq;
	smap items; /* -> int64 delta */
} delta_batch;

struct ledger {
	pthread_mutex_t mu;
	store *db;
	char *edge_id, *region;
	ledger_opts o;
	part *parts;
	smap overlay;               /* counter 0 item -> overlay_entry* */
	smap cache_hot, cache_cold; /* counter 0 item -> count | COUNT_KNOWN, or 0 */
	smap rt_hot, rt_cold;       /* counter 0 item -> rt_entry* */
	hlc clock;
	store_batch *wb; /* sealing, snapshots: one write at a time */
	group g;
	bloom members; /* every 'M' key this store holds (and maybe others) */
	delta_batch deltas[LEDGER_DELTA_BATCHES]; /* a ring, for read-through counts */
	size_t next_delta;
	ledger_stats st;
};

/* A pending op's store record; buf holds 32 + KEY_MAX bytes. */
size_t ledger_op_encode(const pend_op *op, unsigned char *buf);
/* A pending op with its three strings in one allocation (at counter). */
pend_op ledger_op_make(const char *counter, const char *item, const char *user, size_t cl,
		       size_t il, size_t ul);
/* Seals partition p's open batch (why: a tm_seal, for the metrics):
 * one store write. */
int ledger_seal(ledger *l, uint32_t p, uint64_t wall_ms, int why);
/* Sets up and frees the open group (ledger_write.c). */
void ledger_group_init(ledger *l);
void ledger_group_free(ledger *l);
/* Fills the membership filter from the store's 'M' keys: 0 or ERR_IO. */
int ledger_members_load(ledger *l);
/* Writes the open group (nothing to do when it is empty): 0 or ERR_IO. */
int ledger_group_commit(ledger *l, uint64_t wall_ms);

/* "tag a 0 b [0 c]" into k (KEY_MAX + 1 bytes); returns its length. */
size_t ledger_key_join(char *k, char tag, const char *a, const char *b, const char *c);
/* "tag partition(u32) [seq(u64)]" into k; returns its length. */
size_t ledger_key_part(char *k, char tag, uint32_t p);
size_t ledger_key_part_seq(char *k, char tag, uint32_t p, uint64_t seq);
/* "counter 0 item": the overlay's and the caches' key. */
size_t ledger_pair_key(char *k, const char *counter, size_t cl, const char *item, size_t il);
uint32_t ledger_part_of(const ledger *l, const char *item);

int64_t ledger_op_delta(uint8_t kind, uint32_t n, bool counts);
void ledger_overlay_add(ledger *l, const char *counter, size_t cl, const char *item, size_t il,
			int64_t delta);
void ledger_overlay_remove(ledger *l, const char *counter, size_t cl, const char *item,
			   size_t il, int64_t delta);
/* The 'D' flags of (p, seq) (malloc'ed, nops bytes), or NULL. */
char *ledger_read_flags(ledger *l, uint32_t p, uint64_t seq, uint32_t nops);

/* Count, version and freshness of (counter, item) as this edge shows it. */
int ledger_view_locked(ledger *l, const char *counter, const char *item, ledger_view *out);
/* The same with plus (ops not in the overlay yet) added before the count
 * is clamped at 0. */
int ledger_view_plus_locked(ledger *l, const char *counter, const char *item, int64_t plus,
			    ledger_view *out);
void ledger_views_free(ledger *l);
/* Applies a pump to partition p (ledger.c). */
void ledger_pump_part(ledger *l, uint32_t p);

#endif
