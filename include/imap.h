/* imap.h - an open-addressing hash map from short byte strings to a 64-bit
 * value, for a large cache looked up at random: the count cache.
 *
 * A slot is one cache line and holds its key when the key has at most
 * IMAP_INLINE bytes, so a lookup costs one cache miss where smap's costs
 * two (its slot, then its key's own allocation); a longer key is kept
 * apart and costs the second miss again. The caller hashes (smap_hash),
 * so one hash serves several maps. There is no deletion: entries leave
 * with their generation (imap_put_gen, the two-generation rule of
 * smap_put_gen kept on this table: smap.h says why it is not shared) or
 * with the map.
 *
 * Threads: one owner, or its owner's lock. Other threads may start
 * loading a key's slot before they take that lock: the owner publishes
 * where the slots are (imap_where) after any put, and imap_prefetch_at
 * reads that word alone, atomically. Such a prefetch of slots freed
 * meanwhile loads nothing useful and does no harm: a prefetch never
 * faults, and nothing is read from what it loads.
 */
#ifndef LIKES_IMAP_H
#define LIKES_IMAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_INLINE 48     /* key bytes held in the slot */
#define IMAP_KEY_MAX 65535 /* longer keys are refused (abort): a caller's bug */

typedef struct imap_slot {
	uint64_t val;
	uint32_t hash;
	uint16_t klen;
	uint16_t used; /* 0: empty */
	union {
		char in[IMAP_INLINE]; /* klen <= IMAP_INLINE */
		char *out;            /* a longer key, allocated */
	} k;
} imap_slot;

_Static_assert(sizeof(imap_slot) == 64, "an imap slot is one cache line");

typedef struct imap {
	imap_slot *slots; /* 64-byte aligned */
	size_t cap;       /* 0 or a power of two */
	size_t len;
	size_t out_bytes; /* the longer keys' chunks (memacct_chunk) */
} imap;

/* Where a map's slots are: their address with log2 of their count in
 * the low six bits (the slots are 64-byte aligned), or 0. */
typedef _Atomic uintptr_t imap_where;

void imap_init(imap *m);
void imap_free(imap *m);
/* The value of key, whose smap_hash is hash, or NULL when absent. */
uint64_t *imap_get(const imap *m, const void *key, size_t klen, uint32_t hash);
/* The value of key, added (as 0, *created true) when absent. */
uint64_t *imap_put(imap *m, const void *key, size_t klen, uint32_t hash, bool *created);
/* A cache of two generations holding about cap entries (cap + 2 at
 * most): the value of key in hot, added as 0 when absent. When hot is
 * full, cold is dropped whole and hot becomes cold. cold is not looked
 * in: a caller that wants a cold entry kept reads it first and puts it
 * back. */
uint64_t *imap_put_gen(imap *hot, imap *cold, size_t cap, const void *key, size_t klen,
                       uint32_t hash);
/* Bytes the map holds on the heap: its slots and its long keys'
 * copies (memacct.h's estimate). O(1): the map keeps the sum. */
size_t imap_bytes(const imap *m);

/* Starts loading the slot where hash's probe begins, for a lookup that
 * follows soon (its owner's thread). */
static inline void imap_prefetch(const imap *m, uint32_t hash)
{
	if (m->cap)
		__builtin_prefetch(&m->slots[hash & (m->cap - 1)]);
}

/* Stores where m's slots are now into *w (the owner, after a put). */
static inline void imap_publish(const imap *m, imap_where *w)
{
	uintptr_t v = 0;
	if (m->cap)
		v = (uintptr_t)m->slots | (uintptr_t)__builtin_ctzll(m->cap);
	atomic_store_explicit(w, v, memory_order_relaxed);
}

/* imap_prefetch from any thread, through what the owner published. */
static inline void imap_prefetch_at(const imap_where *w, uint32_t hash)
{
	uintptr_t v = atomic_load_explicit(w, memory_order_relaxed);
	if (!v)
		return;
	uintptr_t base = v & ~(uintptr_t)63, mask = ((uintptr_t)1 << (v & 63)) - 1;
	__builtin_prefetch((const void *)(base + (hash & mask) * sizeof(imap_slot)));
}

#endif
