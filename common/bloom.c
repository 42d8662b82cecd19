/* bloom.c - a fixed-size Bloom filter (bloom.h), blocked: one half of the
 * key's XXH3-128 picks a 64-byte block (one cache line), and all probes
 * fall in it, probe i at bit h + i * step of the block's 512 from the
 * other half (double hashing). One cache miss per lookup instead of one
 * per probe, for a slightly higher false-positive rate. */
#include "bloom.h"

#include <stdlib.h>
#include <xxhash.h>

#include "memacct.h"
#include "xmem.h"

void bloom_init(bloom *b, size_t bytes, unsigned probes)
{
	b->words = NULL;
	b->mask = 0;
	b->probes = probes ? probes : 7;
	b->added = 0;
	atomic_store_explicit(&b->fresh, 0, memory_order_relaxed);
	if (!bytes)
		return;
	size_t p = 8;
	while (p * 2 <= bytes && p * 2 > p)
		p *= 2;
	if (p < 64)
		p = 64; /* one block */
	b->words = xcalloc(p / 8, sizeof *b->words);
	b->mask = (uint64_t)p * 8 - 1;
}

void bloom_free(bloom *b)
{
	free(b->words);
	b->words = NULL;
}

/* The block (8 words) of a key and its probe sequence in the block. */
static uint64_t *block_of(const bloom *b, bloom_hash h)
{
	uint64_t nblocks = (b->mask + 1) / 512;
	return b->words + (h.lo & (nblocks - 1)) * 8;
}

bloom_hash bloom_key_hash(const void *key, size_t n)
{
	XXH128_hash_t h = XXH3_128bits(key, n);
	return (bloom_hash){h.low64, h.high64};
}

void bloom_prefetch(const bloom *b, bloom_hash h)
{
	if (b->words)
		__builtin_prefetch(block_of(b, h));
}

void bloom_add(bloom *b, const void *key, size_t n)
{
	if (!b->words)
		return;
	bloom_hash h = bloom_key_hash(key, n);
	uint64_t *blk = block_of(b, h);
	uint32_t x = (uint32_t)h.hi, step = (uint32_t)(h.hi >> 32) | 1;
	/* Atomic bits: bloom_maybe may run on another thread meanwhile. */
	bool set = false;
	for (unsigned i = 0; i < b->probes; i++, x += step) {
		uint64_t bit = UINT64_C(1) << (x & 63);
		set |= !(__atomic_fetch_or(&blk[(x >> 6) & 7], bit, __ATOMIC_RELAXED) & bit);
	}
	b->added++;
	/* One adder at a time: no locked add needed. */
	if (set)
		atomic_store_explicit(&b->fresh,
		                      atomic_load_explicit(&b->fresh, memory_order_relaxed) + 1,
		                      memory_order_relaxed);
}

bool bloom_maybe(const bloom *b, const void *key, size_t n)
{
	return !b->words || bloom_maybe_h(b, bloom_key_hash(key, n));
}

bool bloom_maybe_h(const bloom *b, bloom_hash h)
{
	if (!b->words)
		return true;
	const uint64_t *blk = block_of(b, h);
	uint32_t x = (uint32_t)h.hi, step = (uint32_t)(h.hi >> 32) | 1;
	for (unsigned i = 0; i < b->probes; i++, x += step)
		if (!(__atomic_load_n(&blk[(x >> 6) & 7], __ATOMIC_RELAXED) &
		      (UINT64_C(1) << (x & 63))))
			return false;
	return true;
}

size_t bloom_bytes(const bloom *b)
{
	return b->words ? (size_t)(b->mask + 1) / 8 : 0;
}

uint64_t bloom_resident_bytes(const bloom *b)
{
	return memacct_touched(bloom_bytes(b),
	                       atomic_load_explicit(&b->fresh, memory_order_relaxed));
}
