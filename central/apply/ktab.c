/* ktab.c - arena-backed key tables and the two-generation cache over them
 * (ktab.h). Open addressing with linear probing over entry numbers; keys
 * and values are carved from fixed-size blocks that are kept across
 * resets. One owner thread.
 */
#include "central/apply/ktab.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "memacct.h"
#include "xmem.h"

#define BLOCK_SIZE (64u * 1024)
#define KEEP_BLOCKS 64 /* arena blocks a reset keeps: 4 MiB */
#define MIN_SLOTS 64

uint64_t ktab_hash(const void *key, size_t klen)
{
	return XXH3_64bits(key, klen);
}

void ktab_init(ktab *t)
{
	memset(t, 0, sizeof *t);
}

void ktab_free(ktab *t)
{
	for (size_t i = 0; i < t->nblocks; i++)
		free(t->blocks[i]);
	free(t->blocks);
	free(t->slots);
	free(t->ent);
	memset(t, 0, sizeof *t);
}

void ktab_reset(ktab *t)
{
	if (t->n)
		memset(t->slots, 0, t->nslots * sizeof *t->slots);
	t->n = 0;
	while (t->nblocks > KEEP_BLOCKS)
		free(t->blocks[--t->nblocks]);
	t->cur = 0;
	t->used = 0;
}

size_t ktab_bytes(const ktab *t)
{
	return memacct_chunk(t->nslots * sizeof *t->slots) +
	       memacct_chunk(t->ecap * sizeof *t->ent) +
	       memacct_chunk(t->nblocks * sizeof *t->blocks) +
	       t->nblocks * memacct_chunk(BLOCK_SIZE);
}

/* n bytes, 8-aligned, from the arena; n must be at most BLOCK_SIZE. */
static unsigned char *carve(ktab *t, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (t->nblocks && t->used + n <= BLOCK_SIZE) {
		unsigned char *p = t->blocks[t->cur] + t->used;
		t->used += n;
		return p;
	}
	if (t->nblocks && t->cur + 1 < t->nblocks) {
		t->cur++;
	} else {
		t->blocks = xrealloc(t->blocks, (t->nblocks + 1) * sizeof *t->blocks);
		t->blocks[t->nblocks] = xmalloc(BLOCK_SIZE);
		t->cur = t->nblocks++;
	}
	t->used = n;
	return t->blocks[t->cur];
}

/* A slot holds the entry number + 1 in its low half and the top half of
 * the key's hash in its high half, so most mismatches are rejected
 * without touching the entry. */
#define SLOT_TAG(h) ((h)&UINT64_C(0xffffffff00000000))

ktab_ent *ktab_find(const ktab *t, const void *key, size_t klen, uint64_t h)
{
	if (!t->n)
		return NULL;
	size_t mask = t->nslots - 1;
	uint64_t tag = SLOT_TAG(h);
	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		uint64_t s = t->slots[i];
		if (!s)
			return NULL;
		if (SLOT_TAG(s) != tag)
			continue;
		ktab_ent *e = &t->ent[(uint32_t)s - 1];
		if (e->hash == h && e->klen == klen && !e->dead && memcmp(e->key, key, klen) == 0)
			return e;
	}
}

static void place(ktab *t, size_t idx)
{
	size_t mask = t->nslots - 1;
	uint64_t h = t->ent[idx].hash;
	size_t i = (size_t)h & mask;
	while (t->slots[i])
		i = (i + 1) & mask;
	t->slots[i] = SLOT_TAG(h) | (uint64_t)(idx + 1);
}

static void grow_slots(ktab *t)
{
	size_t n = t->nslots ? t->nslots * 2 : MIN_SLOTS;
	free(t->slots);
	t->slots = xcalloc(n, sizeof *t->slots);
	t->nslots = n;
	for (size_t i = 0; i < t->n; i++)
		place(t, i);
}

ktab_ent *ktab_add(ktab *t, const void *key, size_t klen, uint64_t h, size_t vlen, bool *created)
{
	ktab_ent *e = ktab_find(t, key, klen, h);
	if (e) {
		if (created)
			*created = false;
		return e;
	}
	/* At most half full: probes stay short. */
	if ((t->n + 1) * 2 > t->nslots)
		grow_slots(t);
	if (t->n == t->ecap) {
		t->ecap = t->ecap ? t->ecap * 2 : MIN_SLOTS;
		t->ent = xrealloc(t->ent, t->ecap * sizeof *t->ent);
	}
	e = &t->ent[t->n];
	e->key = carve(t, klen ? klen : 1);
	memcpy(e->key, key, klen);
	e->val = carve(t, vlen ? vlen : 1);
	memset(e->val, 0, vlen);
	e->hash = h;
	e->klen = (uint32_t)klen;
	e->vlen = (uint32_t)vlen;
	e->vcap = (uint32_t)((vlen + 7) & ~(size_t)7);
	e->dead = false;
	e->mark = 0;
	place(t, t->n);
	t->n++;
	if (created)
		*created = true;
	return e;
}

void ktab_resize(ktab *t, ktab_ent *e, size_t vlen)
{
	if (vlen > e->vcap) {
		unsigned char *v = carve(t, vlen);
		memcpy(v, e->val, e->vlen);
		e->val = v;
		e->vcap = (uint32_t)((vlen + 7) & ~(size_t)7);
	}
	e->vlen = (uint32_t)vlen;
}

/* ---- the two-generation cache ------------------------------------------- */

/* One more: the owner is the only writer, so no locked add is needed. */
static inline void count_one(_Atomic uint64_t *x)
{
	atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

/* Publishes what both generations hold now. */
static void account(kcache *c)
{
	atomic_store_explicit(&c->bytes, ktab_bytes(&c->gen[0]) + ktab_bytes(&c->gen[1]),
	                      memory_order_relaxed);
}

uint64_t kcache_bytes(const kcache *c)
{
	return atomic_load_explicit(&c->bytes, memory_order_relaxed);
}

void kcache_init(kcache *c, size_t cap)
{
	memset(c, 0, sizeof *c);
	ktab_init(&c->gen[0]);
	ktab_init(&c->gen[1]);
	c->cap = cap;
}

void kcache_free(kcache *c)
{
	ktab_free(&c->gen[0]);
	ktab_free(&c->gen[1]);
	account(c);
}

void kcache_clear(kcache *c)
{
	ktab_reset(&c->gen[0]);
	ktab_reset(&c->gen[1]);
	account(c);
}

/* The hot generation, with room for one more entry. */
static ktab *hot_with_room(kcache *c)
{
	ktab *hot = &c->gen[c->hot];
	size_t per_gen = c->cap / 2 ? c->cap / 2 : 1;
	if (hot->n < per_gen)
		return hot;
	ktab *cold = &c->gen[!c->hot];
	c->evicted += cold->n;
	ktab_reset(cold);
	c->hot = !c->hot;
	return cold;
}

static void put_hot(kcache *c, const void *key, size_t klen, uint64_t h, const void *val,
                    size_t vlen)
{
	ktab_ent *e = ktab_find(&c->gen[c->hot], key, klen, h);
	if (!e)
		e = ktab_add(hot_with_room(c), key, klen, h, vlen, NULL);
	ktab_resize(&c->gen[c->hot], e, vlen);
	memcpy(e->val, val, vlen);
	account(c);
}

bool kcache_get(kcache *c, const void *key, size_t klen, uint64_t h, void *out, size_t cap,
                size_t *vlen)
{
	if (!c->cap) {
		count_one(&c->misses);
		return false;
	}
	ktab_ent *e = ktab_find(&c->gen[c->hot], key, klen, h);
	bool cold = false;
	if (!e) {
		e = ktab_find(&c->gen[!c->hot], key, klen, h);
		cold = true;
	}
	if (!e || e->vlen > cap) {
		count_one(&c->misses);
		return false;
	}
	memcpy(out, e->val, e->vlen);
	*vlen = e->vlen;
	count_one(&c->hits);
	if (cold) {
		/* Copy it up from out: emptying cold may free what e points to. */
		ktab_kill(e);
		put_hot(c, key, klen, h, out, *vlen);
	}
	return true;
}

void kcache_del(kcache *c, const void *key, size_t klen, uint64_t h)
{
	for (int g = 0; g < 2; g++) {
		ktab_ent *e = ktab_find(&c->gen[g], key, klen, h);
		if (e)
			ktab_kill(e);
	}
}

void kcache_put(kcache *c, const void *key, size_t klen, uint64_t h, const void *val, size_t vlen)
{
	if (!c->cap)
		return;
	if (vlen > KCACHE_VALUE_MAX) {
		kcache_del(c, key, klen, h);
		return;
	}
	put_hot(c, key, klen, h, val, vlen);
}
