/* test_bloom.c - the Bloom filter: never a false negative, a false-positive
 * rate near the theory at 10 bits per key, a fixed size, off at 0, and
 * the bytes its keys have made resident. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "bloom.h"
#include "memacct.h"

TestSuite(bloom, .timeout = 30);

static size_t key(char *k, const char *tag, unsigned i)
{
	return (size_t)snprintf(k, 32, "%s%u", tag, i);
}

Test(bloom, every_added_key_is_maybe_and_false_positives_stay_near_one_percent)
{
	enum { N = 100000 };
	bloom b;
	bloom_init(&b, N * 10 / 8 * 2, 7); /* rounded down: 10..20 bits per key */
	char k[32];
	for (unsigned i = 0; i < N; i++)
		bloom_add(&b, k, key(k, "in", i));
	for (unsigned i = 0; i < N; i++)
		cr_assert(bloom_maybe(&b, k, key(k, "in", i)), "key %u lost", i);
	unsigned fp = 0;
	for (unsigned i = 0; i < N; i++)
		fp += bloom_maybe(&b, k, key(k, "out", i));
	/* 131072 bytes = 10.5 bits per key: theory says 0.9%. */
	cr_assert_eq(bloom_bytes(&b), 131072);
	cr_assert_lt(fp, N / 50, "%u false positives in %u", fp, N);
	cr_assert_gt(fp, 0, "a filter this full must show some false positives");
	bloom_free(&b);
}

Test(bloom, a_filter_of_size_zero_is_off_and_says_maybe)
{
	bloom b;
	bloom_init(&b, 0, 7);
	cr_assert(bloom_maybe(&b, "x", 1));
	bloom_add(&b, "x", 1);
	cr_assert_eq(bloom_bytes(&b), 0);
	bloom_free(&b);
}

Test(bloom, an_empty_filter_says_absent)
{
	bloom b;
	bloom_init(&b, 1024, 7);
	char k[32];
	for (unsigned i = 0; i < 1000; i++)
		cr_assert_not(bloom_maybe(&b, k, key(k, "k", i)));
	bloom_free(&b);
}

Test(bloom, a_key_checked_by_its_hash_answers_as_the_key_does)
{
	enum { N = 20000 };
	bloom b, off;
	bloom_init(&b, N / 4, 7); /* 4096 bytes, 3.3 bits a key: many false positives */
	bloom_init(&off, 0, 7);
	char k[32];
	for (unsigned i = 0; i < N; i += 2)
		bloom_add(&b, k, key(k, "k", i));
	unsigned maybe = 0;
	for (unsigned i = 0; i < N; i++) {
		size_t n = key(k, "k", i);
		bloom_hash h = bloom_key_hash(k, n);
		bloom_prefetch(&b, h);
		bloom_prefetch(&off, h); /* no block: must not touch memory */
		cr_assert_eq(bloom_maybe_h(&b, h), bloom_maybe(&b, k, n), "key %u", i);
		cr_assert(bloom_maybe_h(&off, h));
		maybe += bloom_maybe_h(&b, h);
	}
	/* Both answers happen, so the comparison above tested both. */
	cr_assert_gt(maybe, N / 2);
	cr_assert_lt(maybe, N);
	bloom_free(&b);
	bloom_free(&off);
}

Test(bloom, resident_bytes_grow_with_distinct_keys_up_to_the_size)
{
	enum { BYTES = 16 << 20, PAGES = BYTES / MEMACCT_PAGE };
	bloom b;
	bloom_init(&b, BYTES, 7);
	cr_assert_eq(bloom_resident_bytes(&b), 0, "calloc'ed, nothing written");
	char k[32];
	for (unsigned i = 0; i < 100; i++)
		bloom_add(&b, k, key(k, "k", i));
	uint64_t hundred = bloom_resident_bytes(&b);
	cr_assert_gt(hundred, 90 * MEMACCT_PAGE, "about a page a key while pages are many");
	cr_assert_leq(hundred, 100 * MEMACCT_PAGE);
	for (unsigned r = 0; r < 5; r++)
		for (unsigned i = 0; i < 100; i++)
			bloom_add(&b, k, key(k, "k", i));
	cr_assert_eq(bloom_resident_bytes(&b), hundred, "a key added again writes nothing new");
	for (unsigned i = 100; i < 30 * PAGES; i++)
		bloom_add(&b, k, key(k, "k", i));
	cr_assert_geq(bloom_resident_bytes(&b), (uint64_t)BYTES * 99 / 100,
	              "every page holds a key by now");
	cr_assert_leq(bloom_resident_bytes(&b), BYTES, "never past its size");
	bloom_free(&b);
	bloom off;
	bloom_init(&off, 0, 7);
	bloom_add(&off, "x", 1);
	cr_assert_eq(bloom_resident_bytes(&off), 0, "a filter that is off holds nothing");
}
