/* smap.h - an open-addressing hash map from byte-string keys to a 64-bit
 * value or a pointer.
 *
 * The map copies keys; it does not own what a pointer value points to.
 * Iteration order is unspecified. Not thread-safe: one owner.
 */
#ifndef LIKES_SMAP_H
#define LIKES_SMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef union smap_val {
	uint64_t u;
	int64_t i;
	void *p;
} smap_val;

typedef struct smap_slot {
	char *key; /* NULL = empty; SMAP_TOMB = deleted */
	uint32_t klen;
	uint32_t hash;
	smap_val val;
} smap_slot;

typedef struct smap {
	smap_slot *slots;
	size_t cap;       /* power of two */
	size_t len;       /* live entries */
	size_t used;      /* live + tombstones */
	size_t key_bytes; /* the live keys' chunks (memacct_chunk) */
} smap;

void smap_init(smap *m);
void smap_free(smap *m);
/* free()s every pointer value, then frees the map. */
void smap_free_values(smap *m);
/* A cache of two generations holding at most cap entries: the slot for
 * key in hot (*created says whether it is new; then its value is zero).
 * When hot is full, cold is dropped whole (its pointer values free()d
 * first when free_values) and hot becomes cold.
 *
 * The same rule stands twice more, over other tables: imap_put_gen (the
 * count cache: its key inline in a one-cache-line slot, so a lookup is
 * one miss) and kcache (central/apply/ktab.h: values copied into an
 * arena that never moves, and a cold hit copied back to hot). Each is a
 * dozen lines over its own table; one policy for all three would put an
 * interface of callbacks on the count cache's lookup, the edge's
 * hottest path, to save those lines. test_smap, test_imap and test_ktab
 * hold the rule for each. */
smap_val *smap_put_gen(smap *hot, smap *cold, size_t cap, const void *key, size_t klen,
                       bool free_values, bool *created);
/* smap_put_gen with hash = smap_hash(key, klen). */
smap_val *smap_put_gen_h(smap *hot, smap *cold, size_t cap, const void *key, size_t klen,
                         uint32_t hash, bool free_values, bool *created);
void smap_clear(smap *m);
/* The value slot for key, or NULL when absent. */
smap_val *smap_get(const smap *m, const void *key, size_t klen);
/* The hash the maps use for key. To look one key up in several maps,
 * hash it once and use smap_get_h. */
uint32_t smap_hash(const void *key, size_t klen);
/* smap_get with hash = smap_hash(key, klen). */
smap_val *smap_get_h(const smap *m, const void *key, size_t klen, uint32_t hash);
/* A hint for a caller about to look up several keys: start loading the
 * slot where hash's probe begins, so that the lookups that follow
 * overlap their cache misses. No effect on results. */
static inline void smap_prefetch(const smap *m, uint32_t hash)
{
	if (m->cap)
		__builtin_prefetch(&m->slots[hash & (m->cap - 1)]);
}
/* The value slot for key, inserted zeroed when absent (*created says so). */
smap_val *smap_put(smap *m, const void *key, size_t klen, bool *created);
/* smap_put with hash = smap_hash(key, klen). */
smap_val *smap_put_h(smap *m, const void *key, size_t klen, uint32_t hash, bool *created);
bool smap_del(smap *m, const void *key, size_t klen);
/* smap_del with hash = smap_hash(key, klen). */
bool smap_del_h(smap *m, const void *key, size_t klen, uint32_t hash);
/* Iterates: start with *pos = 0; returns false at the end. */
bool smap_next(const smap *m, size_t *pos, const char **key, size_t *klen, smap_val **val);
/* Bytes the map holds on the heap: its slots and its keys' copies
 * (memacct.h's estimate), not what pointer values point to. O(1): the
 * map keeps the sum as keys come and go. */
size_t smap_bytes(const smap *m);

#endif
