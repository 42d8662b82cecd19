/* ktab.h - byte-string key tables for the applier: a per-message working
 * set (ktab) and a bounded cache of stored values (kcache).
 *
 * A ktab maps keys to value areas of a size fixed when the key is added.
 * Keys and values live in arena blocks that never move, so a value
 * pointer stays valid until the next ktab_reset; resetting keeps the
 * memory (up to a bound) for the next message, so a table in steady use
 * allocates nothing per key. Entries are numbered in insertion order.
 *
 * A kcache holds at most `cap` entries in two ktab generations: lookups
 * try the hot one, then the cold one (a cold hit is copied to hot); when
 * hot fills up (cap / 2 entries) the cold generation is emptied and the
 * generations swap. Values are copied in and out, up to KCACHE_VALUE_MAX
 * bytes each. A cap of 0 turns the cache off: every get misses. (The
 * edge's caches keep the same rule on smap and imap; smap.h says why each
 * table keeps its own dozen lines of it.)
 *
 * Not thread-safe: one owner thread each (a cache's hit and miss counts
 * and its bytes may be read from any thread).
 */
#ifndef CENTRAL_KTAB_H
#define CENTRAL_KTAB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KCACHE_VALUE_MAX 256

typedef struct ktab_ent {
	unsigned char *key;
	unsigned char *val;
	uint64_t hash;
	uint32_t klen;
	uint32_t vlen; /* bytes in use */
	uint32_t vcap; /* bytes the value area holds */
	bool dead;     /* removed: never found again */
	uint8_t mark;  /* the owner's to use; 0 when added */
} ktab_ent;

typedef struct ktab {
	uint64_t *slots; /* 0 = empty, else hash tag | entry index + 1 */
	size_t nslots;   /* power of two, or 0 */
	ktab_ent *ent;
	size_t n, ecap;
	unsigned char **blocks; /* arena: blocks[0..nblocks), filling blocks[cur] */
	size_t nblocks, cur, used;
} ktab;

uint64_t ktab_hash(const void *key, size_t klen);

void ktab_init(ktab *t);
void ktab_free(ktab *t);
/* Empties t, keeping some of its memory for reuse. */
void ktab_reset(ktab *t);
static inline size_t ktab_len(const ktab *t)
{
	return t->n;
}
/* Entry pointers stay valid until the next ktab_add or ktab_reset (the
 * entries may move); value and key pointers until the next reset. */
/* The entry of key (h = ktab_hash(key)), or NULL. */
ktab_ent *ktab_find(const ktab *t, const void *key, size_t klen, uint64_t h);
/* The entry of key, added with a zeroed value of vlen bytes when absent
 * (*created then says so; vlen is ignored for an existing entry). The
 * value is 8-byte aligned. */
ktab_ent *ktab_add(ktab *t, const void *key, size_t klen, uint64_t h, size_t vlen, bool *created);
/* Makes e's value area hold at least vlen bytes (moving it, contents
 * kept up to the old size, when it has to grow) and sets its size. */
void ktab_resize(ktab *t, ktab_ent *e, size_t vlen);
/* Removes e: it is never found again (its entry number stays taken). */
static inline void ktab_kill(ktab_ent *e)
{
	e->dead = true;
}
/* Entry i in insertion order, i < ktab_len(t). */
static inline ktab_ent *ktab_at(const ktab *t, size_t i)
{
	return &t->ent[i];
}
/* Bytes t holds on the heap: its slots, entries and arena blocks (kept
 * across resets, up to a bound). O(1). The owner's thread. */
size_t ktab_bytes(const ktab *t);

typedef struct kcache {
	ktab gen[2];
	int hot;    /* index of the hot generation */
	size_t cap; /* entries in both generations together; 0 = off */
	/* Written by the owner only; atomics so that another thread may
	 * read them (metrics). bytes: both generations' ktab_bytes, stored
	 * after each change that may move them. */
	_Atomic uint64_t hits, misses;
	_Atomic uint64_t bytes;
	uint64_t evicted;
} kcache;

void kcache_init(kcache *c, size_t cap);
void kcache_free(kcache *c);
/* Drops every entry. */
void kcache_clear(kcache *c);
/* Copies key's value (at most cap bytes) into out: true with its size in
 * *vlen, false when absent (or its value is larger than cap). */
bool kcache_get(kcache *c, const void *key, size_t klen, uint64_t h, void *out, size_t cap,
                size_t *vlen);
/* Stores a copy of value (at most KCACHE_VALUE_MAX bytes; longer ones
 * drop the key instead) under key, replacing what was there. */
void kcache_put(kcache *c, const void *key, size_t klen, uint64_t h, const void *val, size_t vlen);
/* Forgets key in both generations (a no-op when absent). */
void kcache_del(kcache *c, const void *key, size_t klen, uint64_t h);
/* The heap bytes both generations hold (slots, entries, arena blocks):
 * about 2 x cap / 2 entries' worth at the cap. One relaxed load: any
 * thread. */
uint64_t kcache_bytes(const kcache *c);
/* Entries held now, both generations (a key may count twice for a
 * moment: once promoted, once in cold). */
static inline size_t kcache_len(const kcache *c)
{
	return c->gen[0].n + c->gen[1].n;
}

#endif
