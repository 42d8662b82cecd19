/* imap.c - open addressing with linear probing, keys in the slots (imap.h).
 * No deletion, so no tombstones: an empty slot ends every probe. */
#include "imap.h"

#include <stdlib.h>
#include <string.h>

#include "memacct.h"
#include "xmem.h"

void imap_init(imap *m)
{
	memset(m, 0, sizeof *m);
}

static const char *slot_key(const imap_slot *s)
{
	return s->klen <= IMAP_INLINE ? s->k.in : s->k.out;
}

void imap_free(imap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].used && m->slots[i].klen > IMAP_INLINE)
			free(m->slots[i].k.out);
	free(m->slots);
	imap_init(m);
}

static imap_slot *slots_new(size_t cap)
{
	void *p;
	if (posix_memalign(&p, 64, cap * sizeof(imap_slot)))
		xmem_oom(cap * sizeof(imap_slot));
	memset(p, 0, cap * sizeof(imap_slot));
	return p;
}

static imap_slot *find(const imap *m, const void *key, size_t klen, uint32_t h)
{
	if (!m->len)
		return NULL;
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		imap_slot *s = &m->slots[i];
		if (!s->used)
			return NULL;
		if (s->hash == h && s->klen == klen && memcmp(slot_key(s), key, klen) == 0)
			return s;
	}
}

uint64_t *imap_get(const imap *m, const void *key, size_t klen, uint32_t hash)
{
	imap_slot *s = find(m, key, klen, hash);
	return s ? &s->val : NULL;
}

/* The empty slot where a key of hash h goes. */
static imap_slot *free_slot(const imap *m, uint32_t h)
{
	size_t mask = m->cap - 1, i = h & mask;
	while (m->slots[i].used)
		i = (i + 1) & mask;
	return &m->slots[i];
}

static void grow(imap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	imap old = *m;
	m->slots = slots_new(ncap);
	m->cap = ncap;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].used)
			*free_slot(m, old.slots[i].hash) = old.slots[i];
	free(old.slots);
}

uint64_t *imap_put(imap *m, const void *key, size_t klen, uint32_t hash, bool *created)
{
	imap_slot *s = find(m, key, klen, hash);
	if (s) {
		if (created)
			*created = false;
		return &s->val;
	}
	if (klen > IMAP_KEY_MAX)
		abort();
	if ((m->len + 1) * 4 > m->cap * 3)
		grow(m);
	s = free_slot(m, hash);
	s->used = 1;
	s->hash = hash;
	s->klen = (uint16_t)klen;
	s->val = 0;
	if (klen <= IMAP_INLINE)
		memcpy(s->k.in, key, klen);
	else {
		s->k.out = xmemdup(key, klen);
		m->out_bytes += memacct_chunk(klen);
	}
	m->len++;
	if (created)
		*created = true;
	return &s->val;
}

uint64_t *imap_put_gen(imap *hot, imap *cold, size_t cap, const void *key, size_t klen,
                       uint32_t hash)
{
	uint64_t *v = imap_get(hot, key, klen, hash);
	if (v)
		return v;
	if (hot->len >= cap / 2 + 1) {
		imap_free(cold);
		*cold = *hot;
		imap_init(hot);
	}
	return imap_put(hot, key, klen, hash, NULL);
}

size_t imap_bytes(const imap *m)
{
	return m->cap * sizeof(imap_slot) + m->out_bytes;
}
