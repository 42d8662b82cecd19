/* bloom.c - a fixed-size Bloom filter (bloom.h). Probe i of a key is
 * h1 + i * h2 (mod bits), from the two halves of the key's XXH3-128: the
 * double-hashing scheme, as good as independent hashes for this use. */
#include "bloom.h"

#include <stdlib.h>
#include <xxhash.h>

#include "xmem.h"

void bloom_init(bloom *b, size_t bytes, unsigned probes)
{
	b->words = NULL;
	b->mask = 0;
	b->probes = probes ? probes : 7;
	b->added = 0;
	if (!bytes)
		return;
	size_t p = 8;
	while (p * 2 <= bytes && p * 2 > p)
		p *= 2;
	b->words = xcalloc(p / 8, sizeof *b->words);
	b->mask = (uint64_t)p * 8 - 1;
}

void bloom_free(bloom *b)
{
	free(b->words);
	b->words = NULL;
}

void bloom_add(bloom *b, const void *key, size_t n)
{
	if (!b->words)
		return;
	XXH128_hash_t h = XXH3_128bits(key, n);
	uint64_t x = h.low64, step = h.high64 | 1;
	for (unsigned i = 0; i < b->probes; i++, x += step) {
		uint64_t bit = x & b->mask;
		b->words[bit >> 6] |= UINT64_C(1) << (bit & 63);
	}
	b->added++;
}

bool bloom_maybe(const bloom *b, const void *key, size_t n)
{
	if (!b->words)
		return true;
	XXH128_hash_t h = XXH3_128bits(key, n);
	uint64_t x = h.low64, step = h.high64 | 1;
	for (unsigned i = 0; i < b->probes; i++, x += step) {
		uint64_t bit = x & b->mask;
		if (!(b->words[bit >> 6] & (UINT64_C(1) << (bit & 63))))
			return false;
	}
	return true;
}

size_t bloom_bytes(const bloom *b)
{
	return b->words ? (size_t)(b->mask + 1) / 8 : 0;
}
