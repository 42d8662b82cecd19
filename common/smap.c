/* smap.c - open addressing with linear probing and tombstones; keys are
 * copied and hashed with XXH3. One owner thread. */
#include "smap.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "memacct.h"
#include "xmem.h"

static char tomb;
#define SMAP_TOMB (&tomb)

void smap_init(smap *m)
{
	memset(m, 0, sizeof *m);
}

void smap_clear(smap *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].key && m->slots[i].key != SMAP_TOMB)
			free(m->slots[i].key);
		m->slots[i].key = NULL;
	}
	m->len = m->used = 0;
	m->key_bytes = 0;
}

void smap_free(smap *m)
{
	smap_clear(m);
	free(m->slots);
	memset(m, 0, sizeof *m);
}

void smap_free_values(smap *m)
{
	size_t pos = 0;
	const char *k;
	size_t kn;
	smap_val *v;
	while (smap_next(m, &pos, &k, &kn, &v))
		free(v->p);
	smap_free(m);
}

smap_val *smap_put_gen(smap *hot, smap *cold, size_t cap, const void *key, size_t klen,
                       bool free_values, bool *created)
{
	return smap_put_gen_h(hot, cold, cap, key, klen, smap_hash(key, klen), free_values,
	                      created);
}

smap_val *smap_put_gen_h(smap *hot, smap *cold, size_t cap, const void *key, size_t klen,
                         uint32_t hash, bool free_values, bool *created)
{
	smap_val *v = smap_get_h(hot, key, klen, hash);
	if (v) {
		if (created)
			*created = false;
		return v;
	}
	if (hot->len >= cap / 2 + 1) {
		if (free_values)
			smap_free_values(cold);
		else
			smap_free(cold);
		*cold = *hot;
		smap_init(hot);
	}
	return smap_put_h(hot, key, klen, hash, created);
}

uint32_t smap_hash(const void *key, size_t klen)
{
	return (uint32_t)XXH3_64bits(key, klen);
}

static smap_slot *find(const smap *m, const void *key, size_t klen, uint32_t h)
{
	if (!m->cap)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		smap_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != SMAP_TOMB && s->hash == h && s->klen == klen &&
		    memcmp(s->key, key, klen) == 0)
			return s;
	}
}

static void grow(smap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	if (m->len * 2 < m->cap)
		ncap = m->cap; /* mostly tombstones: rehash in place size */
	smap_slot *old = m->slots;
	size_t ocap = m->cap;
	m->slots = xcalloc(ncap, sizeof *m->slots);
	m->cap = ncap;
	m->used = m->len;
	for (size_t i = 0; i < ocap; i++) {
		smap_slot *s = &old[i];
		if (!s->key || s->key == SMAP_TOMB)
			continue;
		size_t j = s->hash & (ncap - 1);
		while (m->slots[j].key)
			j = (j + 1) & (ncap - 1);
		m->slots[j] = *s;
	}
	free(old);
}

smap_val *smap_get(const smap *m, const void *key, size_t klen)
{
	if (!m->len)
		return NULL; /* an empty map needs no hash */
	smap_slot *s = find(m, key, klen, smap_hash(key, klen));
	return s ? &s->val : NULL;
}

smap_val *smap_get_h(const smap *m, const void *key, size_t klen, uint32_t hash)
{
	if (!m->len)
		return NULL;
	smap_slot *s = find(m, key, klen, hash);
	return s ? &s->val : NULL;
}

smap_val *smap_put(smap *m, const void *key, size_t klen, bool *created)
{
	return smap_put_h(m, key, klen, smap_hash(key, klen), created);
}

smap_val *smap_put_h(smap *m, const void *key, size_t klen, uint32_t h, bool *created)
{
	smap_slot *s = find(m, key, klen, h);
	if (s) {
		if (created)
			*created = false;
		return &s->val;
	}
	if ((m->used + 1) * 4 > m->cap * 3)
		grow(m);
	size_t mask = m->cap - 1;
	size_t i = h & mask;
	while (m->slots[i].key && m->slots[i].key != SMAP_TOMB)
		i = (i + 1) & mask;
	s = &m->slots[i];
	if (!s->key)
		m->used++;
	s->key = xmemdup(key, klen ? klen : 1);
	m->key_bytes += memacct_chunk(klen ? klen : 1);
	s->klen = (uint32_t)klen;
	s->hash = h;
	s->val.u = 0;
	m->len++;
	if (created)
		*created = true;
	return &s->val;
}

bool smap_del(smap *m, const void *key, size_t klen)
{
	return smap_del_h(m, key, klen, smap_hash(key, klen));
}

bool smap_del_h(smap *m, const void *key, size_t klen, uint32_t hash)
{
	smap_slot *s = find(m, key, klen, hash);
	if (!s)
		return false;
	free(s->key);
	m->key_bytes -= memacct_chunk(s->klen ? s->klen : 1);
	s->key = SMAP_TOMB;
	m->len--;
	return true;
}

size_t smap_bytes(const smap *m)
{
	return memacct_chunk(m->cap * sizeof *m->slots) + m->key_bytes;
}

bool smap_next(const smap *m, size_t *pos, const char **key, size_t *klen, smap_val **val)
{
	while (*pos < m->cap) {
		smap_slot *s = &m->slots[(*pos)++];
		if (s->key && s->key != SMAP_TOMB) {
			*key = s->key;
			*klen = s->klen;
			*val = &s->val;
			return true;
		}
	}
	return false;
}
