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
	size_t cap;   /* power of two */
	size_t len;   /* live entries */
	size_t used;  /* live + tombstones */
} smap;

void smap_init(smap *m);
void smap_free(smap *m);
void smap_clear(smap *m);
/* The value slot for key, or NULL when absent. */
smap_val *smap_get(const smap *m, const void *key, size_t klen);
/* The value slot for key, inserted zeroed when absent (*created says so). */
smap_val *smap_put(smap *m, const void *key, size_t klen, bool *created);
bool smap_del(smap *m, const void *key, size_t klen);
/* Iterates: start with *pos = 0; returns false at the end. */
bool smap_next(const smap *m, size_t *pos, const char **key, size_t *klen, smap_val **val);

#endif
