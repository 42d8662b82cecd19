/* bloom.h - a fixed-size Bloom filter over byte-string keys.
 *
 * "Certainly absent" or "maybe present": a key added is always reported
 * maybe present; a key never added is reported maybe present with a
 * false-positive rate that grows with the keys added (about 1% at 10 bits
 * per key with the default 7 probes). Its memory is set at init and never
 * grows; it is at least one 64-byte block. A filter of size 0 is off and
 * says "maybe" to everything.
 *
 * Threads: one adder at a time (its owner, or under the owner's lock);
 * bloom_maybe may run on any thread meanwhile, as the bits are set and read
 * atomically. A key's bits are visible to a reader that learned of the key
 * through anything ordered after bloom_add (a store write, a mutex).
 */
#ifndef LIKES_BLOOM_H
#define LIKES_BLOOM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bloom {
	uint64_t *words; /* NULL: off */
	uint64_t mask;   /* bits - 1; bits is a power of two */
	unsigned probes;
	uint64_t added;
	/* Of the adds, those that set a bit not set before: about the
	 * distinct keys, each a write to its block. Atomic: read by
	 * bloom_resident_bytes on any thread. */
	_Atomic uint64_t fresh;
} bloom;

/* bytes is rounded down to a power of two (at least 64), 0 = off. */
void bloom_init(bloom *b, size_t bytes, unsigned probes);
void bloom_free(bloom *b);
void bloom_add(bloom *b, const void *key, size_t n);
/* False only when key was never added. */
bool bloom_maybe(const bloom *b, const void *key, size_t n);

/* A key's hash, for a caller that starts loading the key's block
 * (bloom_prefetch) well before it asks (bloom_maybe_h), so that the cache
 * miss overlaps its other work. bloom_maybe_h(b, bloom_key_hash(k, n)) is
 * bloom_maybe(b, k, n). */
typedef struct bloom_hash {
	uint64_t lo, hi;
} bloom_hash;
bloom_hash bloom_key_hash(const void *key, size_t n);
void bloom_prefetch(const bloom *b, bloom_hash h);
bool bloom_maybe_h(const bloom *b, bloom_hash h);
/* Bytes of memory it holds. */
size_t bloom_bytes(const bloom *b);
/* Of those, the bytes its keys have made resident: its words are
 * calloc'ed, so a page stays the kernel's zero page until a key's block
 * in it is first written (memacct_touched over the fresh adds). At most
 * bloom_bytes; 0 for a filter nothing was added to. Any thread, while
 * an adder adds. */
uint64_t bloom_resident_bytes(const bloom *b);

#endif
