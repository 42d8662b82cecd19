/* test_imap.c - the map with keys in its slots: put and get, keys held in
 * the slot and kept apart, colliding hashes, growth, the two-generation
 * bound, the bytes it holds, and the published slots a prefetch goes by.
 *
 * Pure: no files are written, so no test needs a temp directory.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "imap.h"
#include "memacct.h"
#include "smap.h"

static imap M;

static void setup(void)
{
	imap_init(&M);
}

static void teardown(void)
{
	imap_free(&M);
}

TestSuite(imap, .init = setup, .fini = teardown, .timeout = 30);

static size_t key_of(char *buf, size_t cap, size_t i)
{
	return (size_t)snprintf(buf, cap, "likes%cpost:%zu", 0, i);
}

static uint64_t *put(imap *m, const char *k, size_t n, bool *created)
{
	return imap_put(m, k, n, smap_hash(k, n), created);
}

static uint64_t *get(const imap *m, const char *k, size_t n)
{
	return imap_get(m, k, n, smap_hash(k, n));
}

Test(imap, a_value_put_is_got_back_and_a_second_put_finds_it)
{
	bool created = false;
	cr_assert_null(get(&M, "a", 1), "an empty map has nothing");
	uint64_t *v = put(&M, "a", 1, &created);
	cr_assert(created);
	cr_assert_eq(*v, 0, "a new value starts at 0");
	*v = 7;
	v = put(&M, "a", 1, &created);
	cr_assert_not(created);
	cr_assert_eq(*v, 7);
	cr_assert_eq(*get(&M, "a", 1), 7);
	cr_assert_null(get(&M, "b", 1));
	cr_assert_null(get(&M, "a", 0), "a key's prefix is another key");
	cr_assert_eq(M.len, 1);
}

Test(imap, keys_past_the_slot_are_kept_apart_and_compared_whole)
{
	/* IMAP_INLINE bytes fit the slot; one more goes apart. The keys
	 * differ only in their last byte. */
	char a[IMAP_INLINE + 40], b[IMAP_INLINE + 40];
	for (size_t n = IMAP_INLINE - 1; n <= IMAP_INLINE + 33; n++) {
		memset(a, 'x', n);
		memcpy(b, a, n);
		b[n - 1] = 'y';
		*put(&M, a, n, NULL) = n;
		*put(&M, b, n, NULL) = n + 1000;
	}
	for (size_t n = IMAP_INLINE - 1; n <= IMAP_INLINE + 33; n++) {
		memset(a, 'x', n);
		memcpy(b, a, n);
		b[n - 1] = 'y';
		cr_assert_eq(*get(&M, a, n), n, "key of %zu bytes", n);
		cr_assert_eq(*get(&M, b, n), n + 1000, "key of %zu bytes", n);
	}
	cr_assert_gt(imap_bytes(&M), M.cap * sizeof(imap_slot), "long keys are counted");
}

Test(imap, long_keys_of_one_hash_are_compared_to_their_last_byte)
{
	/* One hash for all, and keys alike for their first 60 bytes: only
	 * a comparison past the slot's 48 bytes tells them apart. A longer
	 * key goes in before its own prefix. */
	char k[80];
	memset(k, 'k', sizeof k);
	for (int i = 0; i < 10; i++) {
		k[60] = (char)('0' + i);
		*imap_put(&M, k, 70, 9, NULL) = (uint64_t)i + 1;
	}
	*imap_put(&M, k, 61, 9, NULL) = 100;
	for (int i = 0; i < 10; i++) {
		k[60] = (char)('0' + i);
		uint64_t *v = imap_get(&M, k, 70, 9);
		cr_assert_not_null(v, "key %d", i);
		cr_assert_eq(*v, (uint64_t)i + 1, "key %d", i);
	}
	k[60] = '9';
	cr_assert_eq(*imap_get(&M, k, 61, 9), 100, "a prefix is a key of its own");
	cr_assert_null(imap_get(&M, k, 62, 9));
	cr_assert_eq(M.len, 11);
}

Test(imap, keys_of_one_hash_are_told_apart_by_their_bytes)
{
	/* The hash is the caller's: give every key the same one. */
	char k[64];
	for (size_t i = 0; i < 100; i++) {
		size_t n = key_of(k, sizeof k, i);
		*imap_put(&M, k, n, 42, NULL) = i + 1;
	}
	for (size_t i = 0; i < 100; i++) {
		size_t n = key_of(k, sizeof k, i);
		uint64_t *v = imap_get(&M, k, n, 42);
		cr_assert_not_null(v, "key %zu", i);
		cr_assert_eq(*v, i + 1);
	}
	size_t n = key_of(k, sizeof k, 100);
	cr_assert_null(imap_get(&M, k, n, 42));
}

Test(imap, growth_keeps_every_entry_and_the_table_at_most_three_quarters_full)
{
	enum { N = 100000 };
	char k[64];
	for (size_t i = 0; i < N; i++) {
		size_t n = key_of(k, sizeof k, i);
		*put(&M, k, n, NULL) = i * 3;
		cr_assert_leq(M.len * 4, M.cap * 3);
	}
	cr_assert_eq(M.len, N);
	cr_assert_eq((uintptr_t)M.slots % 64, 0, "slots are cache-line aligned");
	for (size_t i = 0; i < N; i++) {
		size_t n = key_of(k, sizeof k, i);
		cr_assert_eq(*get(&M, k, n), i * 3, "key %zu", i);
	}
}

Test(imap, two_generations_hold_at_most_their_cap_and_drop_the_oldest)
{
	imap cold;
	imap_init(&cold);
	enum { CAP = 100 };
	char k[64];
	for (size_t i = 0; i < 1000; i++) {
		size_t n = key_of(k, sizeof k, i);
		*imap_put_gen(&M, &cold, CAP, k, n, smap_hash(k, n)) = i;
		cr_assert_leq(M.len + cold.len, CAP + 2);
	}
	/* The newest are in hot or cold; the first are gone. */
	size_t n = key_of(k, sizeof k, 999);
	cr_assert_eq(*get(&M, k, n), 999);
	n = key_of(k, sizeof k, 0);
	cr_assert_null(get(&M, k, n));
	cr_assert_null(get(&cold, k, n));
	size_t found = 0;
	for (size_t i = 1000 - CAP / 2; i < 1000; i++) {
		n = key_of(k, sizeof k, i);
		found += get(&M, k, n) || get(&cold, k, n);
	}
	cr_assert_eq(found, CAP / 2, "the last cap/2 puts are all kept");
	imap_free(&cold);
}

Test(imap, the_published_word_names_the_slots_and_their_count)
{
	imap_where w = 0;
	imap_publish(&M, &w);
	cr_assert_eq(w, 0, "an empty map publishes nothing");
	imap_prefetch_at(&w, 7); /* nothing to load: no effect */
	char k[64];
	for (size_t i = 0; i < 1000; i++) {
		size_t n = key_of(k, sizeof k, i);
		put(&M, k, n, NULL);
	}
	imap_publish(&M, &w);
	uintptr_t v = w;
	cr_assert_eq(v & ~(uintptr_t)63, (uintptr_t)M.slots);
	cr_assert_eq((size_t)1 << (v & 63), M.cap);
	imap_prefetch_at(&w, 12345);
	imap_prefetch(&M, 12345);
}

Test(imap, bytes_are_the_slots_and_the_long_keys_and_stay_bounded_by_the_cap)
{
	cr_assert_eq(imap_bytes(&M), 0, "an empty map holds nothing");
	char k[IMAP_INLINE + 40];
	memset(k, 'x', sizeof k);
	put(&M, k, IMAP_INLINE, NULL);
	cr_assert_eq(imap_bytes(&M), M.cap * sizeof(imap_slot), "a short key is in its slot");
	put(&M, k, IMAP_INLINE + 1, NULL);
	cr_assert_eq(imap_bytes(&M), M.cap * sizeof(imap_slot) + memacct_chunk(IMAP_INLINE + 1));
	imap_free(&M);
	cr_assert_eq(imap_bytes(&M), 0);

	imap cold;
	imap_init(&cold);
	enum { CAP = 1000 };
	size_t before_cap = 0;
	for (size_t i = 0; i < 20 * CAP; i++) {
		size_t n = key_of(k, sizeof k, i);
		imap_put_gen(&M, &cold, CAP, k, n, smap_hash(k, n));
		size_t b = imap_bytes(&M) + imap_bytes(&cold);
		if (i == CAP / 4)
			before_cap = b;
		/* Each generation: cap / 2 + 1 keys in at most 1024 slots. */
		cr_assert_leq(b, 2 * 1024 * sizeof(imap_slot), "put %zu: %zu bytes", i, b);
	}
	cr_assert_lt(before_cap, imap_bytes(&M) + imap_bytes(&cold), "grows with the entries");
	imap_free(&cold);
}
