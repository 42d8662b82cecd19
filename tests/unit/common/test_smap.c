/* test_smap.c - the byte-string hash map: put/get/del, growth, tombstone
 * reuse, clearing, iteration and the bytes it holds.
 *
 * Pure: no files are written, so no test needs a temp directory.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "memacct.h"
#include "smap.h"
#include "xmem.h"

static smap M;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	smap_init(&M);
}

static void teardown(void)
{
	smap_free(&M);
}

TestSuite(smap, .init = setup, .fini = teardown, .timeout = 30);

static size_t key_of(char *buf, size_t cap, size_t i)
{
	return (size_t)snprintf(buf, cap, "key-%zu", i);
}

Test(smap, put_get_del)
{
	bool created = false;
	cr_assert_null(smap_get(&M, "a", 1), "an empty map has nothing");
	smap_val *v = smap_put(&M, "a", 1, &created);
	cr_assert(created);
	cr_assert_eq(v->u, 0, "new values start zeroed");
	v->u = 7;
	v = smap_put(&M, "a", 1, &created);
	cr_assert_not(created);
	cr_assert_eq(v->u, 7);
	cr_assert_eq(smap_get(&M, "a", 1)->u, 7);
	cr_assert_eq(M.len, 1);

	cr_assert(smap_del(&M, "a", 1));
	cr_assert_null(smap_get(&M, "a", 1));
	cr_assert_not(smap_del(&M, "a", 1), "deleting twice finds nothing");
	cr_assert_eq(M.len, 0);
}

Test(smap, keys_are_bytes_not_strings)
{
	smap_put(&M, "ab\0c", 4, NULL)->u = 1;
	smap_put(&M, "ab\0d", 4, NULL)->u = 2;
	smap_put(&M, "ab", 2, NULL)->u = 3;
	smap_put(&M, "", 0, NULL)->u = 4;
	cr_assert_eq(smap_get(&M, "ab\0c", 4)->u, 1);
	cr_assert_eq(smap_get(&M, "ab\0d", 4)->u, 2);
	cr_assert_eq(smap_get(&M, "ab", 2)->u, 3);
	cr_assert_eq(smap_get(&M, "", 0)->u, 4);
	cr_assert_null(smap_get(&M, "ab\0", 3));
	cr_assert_eq(M.len, 4);
}

Test(smap, keys_are_copied)
{
	char key[8] = "mutable";
	smap_put(&M, key, 7, NULL)->u = 5;
	memset(key, 'x', 7);
	cr_assert_eq(smap_get(&M, "mutable", 7)->u, 5);
	cr_assert_null(smap_get(&M, key, 7));
}

Test(smap, grows_past_many_entries)
{
	enum { N = 20000 };
	char k[32];
	for (size_t i = 0; i < N; i++) {
		bool created;
		smap_put(&M, k, key_of(k, sizeof k, i), &created)->u = i * 3;
		cr_assert(created, "key %zu", i);
	}
	cr_assert_eq(M.len, N);
	cr_assert_leq(M.used * 4, M.cap * 3, "load factor stays under 3/4");
	cr_assert_eq(M.cap & (M.cap - 1), 0, "cap is a power of two");
	for (size_t i = 0; i < N; i++) {
		smap_val *v = smap_get(&M, k, key_of(k, sizeof k, i));
		cr_assert_not_null(v, "key %zu lost after growth", i);
		cr_assert_eq(v->u, i * 3);
	}
	cr_assert_null(smap_get(&M, "key-20000", 9));
}

Test(smap, tombstones_are_reused_and_do_not_grow_the_map)
{
	char k[32];
	/* Fill, then churn: delete and insert other keys many times over.
	 * Live entries stay at 8, so the table must stay small. */
	for (size_t i = 0; i < 8; i++)
		smap_put(&M, k, key_of(k, sizeof k, i), NULL)->u = i;
	size_t cap = M.cap;
	for (size_t i = 8; i < 5000; i++) {
		cr_assert(smap_del(&M, k, key_of(k, sizeof k, i - 8)));
		smap_put(&M, k, key_of(k, sizeof k, i), NULL)->u = i;
		cr_assert_eq(M.len, 8);
		cr_assert_leq(M.used * 4, M.cap * 3);
	}
	cr_assert_leq(M.cap, cap * 2, "churn must not grow the table without bound");
	for (size_t i = 4992; i < 5000; i++)
		cr_assert_eq(smap_get(&M, k, key_of(k, sizeof k, i))->u, i);
	for (size_t i = 0; i < 4992; i++)
		cr_assert_null(smap_get(&M, k, key_of(k, sizeof k, i)), "deleted key %zu", i);
}

Test(smap, reinserting_a_deleted_key_takes_a_slot_again)
{
	smap_put(&M, "x", 1, NULL)->u = 1;
	size_t used = M.used;
	cr_assert(smap_del(&M, "x", 1));
	bool created;
	smap_val *v = smap_put(&M, "x", 1, &created);
	cr_assert(created);
	cr_assert_eq(v->u, 0, "the old value does not come back");
	cr_assert_eq(M.used, used, "the tombstone is reused");
	cr_assert_eq(M.len, 1);
}

Test(smap, lookups_probe_past_tombstones)
{
	char k[32];
	for (size_t i = 0; i < 10; i++)
		smap_put(&M, k, key_of(k, sizeof k, i), NULL)->u = i + 100;
	for (size_t i = 0; i < 10; i += 2)
		cr_assert(smap_del(&M, k, key_of(k, sizeof k, i)));
	for (size_t i = 1; i < 10; i += 2)
		cr_assert_eq(smap_get(&M, k, key_of(k, sizeof k, i))->u, i + 100);
	/* Putting an existing key after a tombstone in its chain finds the
	 * existing entry instead of adding a second one. */
	for (size_t i = 1; i < 10; i += 2) {
		bool created;
		smap_put(&M, k, key_of(k, sizeof k, i), &created);
		cr_assert_not(created, "key %zu duplicated", i);
	}
	cr_assert_eq(M.len, 5);
}

Test(smap, iteration_visits_each_live_key_once)
{
	enum { N = 1000 };
	char k[32];
	for (size_t i = 0; i < N; i++)
		smap_put(&M, k, key_of(k, sizeof k, i), NULL)->u = i;
	for (size_t i = 0; i < N; i += 3)
		smap_del(&M, k, key_of(k, sizeof k, i));
	int *seen = xcalloc(N, sizeof *seen);
	size_t pos = 0, n = 0;
	const char *key;
	size_t kn;
	smap_val *v;
	while (smap_next(&M, &pos, &key, &kn, &v)) {
		cr_assert_lt(v->u, N);
		char want[32];
		size_t wn = key_of(want, sizeof want, v->u);
		cr_assert_eq(kn, wn);
		cr_assert(memcmp(key, want, kn) == 0, "value and key disagree");
		cr_assert_neq(v->u % 3, 0, "a deleted key was visited");
		seen[v->u]++;
		n++;
	}
	cr_assert_eq(n, M.len);
	for (size_t i = 0; i < N; i++)
		cr_assert_eq(seen[i], i % 3 ? 1 : 0, "key %zu", i);
	free(seen);
}

Test(smap, iteration_of_an_empty_map_ends_at_once)
{
	size_t pos = 0;
	const char *key;
	size_t kn;
	smap_val *v;
	cr_assert_not(smap_next(&M, &pos, &key, &kn, &v));
	smap_put(&M, "a", 1, NULL);
	smap_del(&M, "a", 1);
	pos = 0;
	cr_assert_not(smap_next(&M, &pos, &key, &kn, &v));
}

Test(smap, clear_empties_and_the_map_stays_usable)
{
	char k[32];
	for (size_t i = 0; i < 100; i++)
		smap_put(&M, k, key_of(k, sizeof k, i), NULL)->u = i;
	smap_del(&M, "key-5", 5);
	smap_clear(&M);
	cr_assert_eq(M.len, 0);
	cr_assert_eq(M.used, 0);
	cr_assert_null(smap_get(&M, "key-1", 5));
	smap_put(&M, "key-1", 5, NULL)->u = 9;
	cr_assert_eq(smap_get(&M, "key-1", 5)->u, 9);
	cr_assert_eq(M.len, 1);
}

Test(smap, pointer_values_are_kept_not_owned)
{
	int x = 3;
	smap_put(&M, "p", 1, NULL)->p = &x;
	cr_assert_eq(smap_get(&M, "p", 1)->p, &x);
	smap_del(&M, "p", 1); /* must not free &x: ASan would catch it */
	cr_assert_eq(x, 3);
}

Test(smap, a_hash_taken_once_finds_the_key_in_every_map)
{
	smap other;
	smap_init(&other);
	smap_put(&M, "pair\0key", 8, NULL)->u = 1;
	smap_put(&other, "pair\0key", 8, NULL)->u = 2;
	uint32_t h = smap_hash("pair\0key", 8);
	cr_assert_eq(smap_get_h(&M, "pair\0key", 8, h)->u, 1);
	cr_assert_eq(smap_get_h(&other, "pair\0key", 8, h)->u, 2);
	cr_assert_null(smap_get_h(&M, "pair\0kez", 8, smap_hash("pair\0kez", 8)));
	cr_assert(smap_del(&other, "pair\0key", 8));
	cr_assert_null(smap_get_h(&other, "pair\0key", 8, h), "a map emptied by deletes");
	cr_assert_null(smap_get(&other, "pair\0key", 8));
	smap_put(&other, "pair\0key", 8, NULL)->u = 3;
	cr_assert_eq(smap_get_h(&other, "pair\0key", 8, h)->u, 3);
	smap_free(&other);
}

Test(smap, puts_with_a_hash_taken_once_are_the_puts_without)
{
	/* smap_put_h and smap_put_gen_h store what smap_put and
	 * smap_put_gen would, so each finds what the other put. */
	char k[32];
	for (size_t i = 0; i < 500; i++) {
		size_t n = key_of(k, sizeof k, i);
		bool created;
		smap_put_h(&M, k, n, smap_hash(k, n), &created)->u = i + 1;
		cr_assert(created);
	}
	for (size_t i = 0; i < 500; i++) {
		size_t n = key_of(k, sizeof k, i);
		cr_assert_eq(smap_get(&M, k, n)->u, i + 1);
		bool created;
		cr_assert_eq(smap_put(&M, k, n, &created)->u, i + 1);
		cr_assert_not(created);
	}
	/* Two generations of at most 10 entries: the newest stay, hot or
	 * cold, and a key found in hot is not created again. */
	smap hot, cold;
	smap_init(&hot);
	smap_init(&cold);
	for (size_t i = 0; i < 40; i++) {
		size_t n = key_of(k, sizeof k, i);
		smap_put_gen_h(&hot, &cold, 10, k, n, smap_hash(k, n), false, NULL)->u = i;
	}
	cr_assert_leq(hot.len + cold.len, 12);
	size_t n = key_of(k, sizeof k, 39);
	bool created;
	cr_assert_eq(smap_put_gen_h(&hot, &cold, 10, k, n, smap_hash(k, n), false, &created)->u,
	             39);
	cr_assert_not(created);
	cr_assert_eq(smap_put_gen(&hot, &cold, 10, k, n, false, &created)->u, 39);
	cr_assert_not(created);
	smap_free(&hot);
	smap_free(&cold);
}

Test(smap, deletes_with_a_hash_taken_once_are_the_deletes_without)
{
	/* smap_del_h removes what smap_del would: every other key stays,
	 * a second delete and a key never put say false, and keys past
	 * the tombstones it leaves are still found. */
	char k[32];
	for (size_t i = 0; i < 300; i++) {
		size_t n = key_of(k, sizeof k, i);
		smap_put(&M, k, n, NULL)->u = i + 1;
	}
	for (size_t i = 0; i < 300; i += 3) {
		size_t n = key_of(k, sizeof k, i);
		cr_assert(smap_del_h(&M, k, n, smap_hash(k, n)), "key %zu", i);
		cr_assert_not(smap_del_h(&M, k, n, smap_hash(k, n)), "key %zu twice", i);
	}
	cr_assert_eq(M.len, 200);
	for (size_t i = 0; i < 300; i++) {
		size_t n = key_of(k, sizeof k, i);
		smap_val *v = smap_get(&M, k, n);
		if (i % 3 == 0) {
			cr_assert_null(v, "key %zu deleted", i);
		} else {
			cr_assert_not_null(v, "key %zu", i);
			cr_assert_eq(v->u, i + 1);
		}
	}
	size_t n = key_of(k, sizeof k, 1000);
	cr_assert_not(smap_del_h(&M, k, n, smap_hash(k, n)), "never put");
	/* And smap_del finds what a hashed put left, and the reverse. */
	n = key_of(k, sizeof k, 1);
	cr_assert(smap_del(&M, k, n));
	smap_put_h(&M, k, n, smap_hash(k, n), NULL)->u = 7;
	cr_assert(smap_del_h(&M, k, n, smap_hash(k, n)));
	cr_assert_null(smap_get(&M, k, n));
}

Test(smap, prefetch_hints_are_safe_on_any_slot_and_change_nothing)
{
	smap m;
	smap_init(&m);
	/* No slots yet, then a live key, then the same slot as a tombstone. */
	smap_prefetch(&m, smap_hash("a", 1));
	smap_put(&m, "a", 1, NULL)->u = 7;
	for (uint32_t h = 0; h < 64; h++)
		smap_prefetch(&m, h);
	cr_assert_eq(smap_get(&m, "a", 1)->u, 7);
	cr_assert(smap_del(&m, "a", 1));
	smap_prefetch(&m, smap_hash("a", 1));
	cr_assert_null(smap_get(&m, "a", 1));
	cr_assert_eq(m.len, 0);
	smap_free(&m);
}

Test(smap, bytes_follow_the_keys_and_the_slots_as_they_come_and_go)
{
	cr_assert_eq(smap_bytes(&M), 0, "an empty map holds nothing");
	char k[32];
	size_t keys = 0;
	for (size_t i = 0; i < 1000; i++) {
		size_t n = key_of(k, sizeof k, i);
		smap_put(&M, k, n, NULL);
		keys += memacct_chunk(n);
	}
	cr_assert_eq(smap_bytes(&M), memacct_chunk(M.cap * sizeof(smap_slot)) + keys);
	size_t full = smap_bytes(&M);
	for (size_t i = 0; i < 500; i++)
		smap_del(&M, k, key_of(k, sizeof k, i));
	cr_assert_lt(smap_bytes(&M), full, "deleted keys are freed");
	cr_assert_geq(smap_bytes(&M), memacct_chunk(M.cap * sizeof(smap_slot)),
	              "the slots stay until the map is freed");
	smap_clear(&M);
	cr_assert_eq(smap_bytes(&M), memacct_chunk(M.cap * sizeof(smap_slot)));
}

Test(smap, two_generations_at_their_cap_hold_about_the_bytes_of_the_cap)
{
	smap cold;
	smap_init(&cold);
	enum { CAP = 1000 };
	char k[32];
	size_t at_cap = 0;
	for (size_t i = 0; i < 20 * CAP; i++) {
		size_t n = key_of(k, sizeof k, i);
		smap_put_gen(&M, &cold, CAP, k, n, false, NULL);
		size_t b = smap_bytes(&M) + smap_bytes(&cold);
		if (i == 2 * CAP)
			at_cap = b;
		/* Each generation: cap / 2 + 1 keys in at most 2048 slots. */
		cr_assert_leq(b, 2 * (memacct_chunk(2048 * sizeof(smap_slot)) + (CAP / 2 + 1) * 32),
		              "put %zu: %zu bytes", i, b);
	}
	cr_assert_gt(at_cap, CAP * 32, "a full cache holds its keys");
	smap_free(&cold);
}
