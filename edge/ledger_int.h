/* ledger_int.h - the ledger's private state, shared by ledger.c (writes,
 * batches, restarts) and ledger_view.c (counts, overlay, caches,
 * snapshots). Not for other modules. Every function here expects the
 * ledger's mutex held.
 */
#ifndef EDGE_LEDGER_INT_H
#define EDGE_LEDGER_INT_H

#include <pthread.h>

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
	uint64_t snap_offset;
	uint64_t snap_ms;
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
	store_batch *wb;
	ledger_stats st;
};

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
void ledger_views_free(ledger *l);
/* Applies a pump to partition p (ledger.c). */
void ledger_pump_part(ledger *l, uint32_t p);

#endif
