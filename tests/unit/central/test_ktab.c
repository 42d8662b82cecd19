/* test_ktab.c - central's key tables: a ktab finds what was added,
 * survives growth and resets, and keeps values in place; a kcache keeps
 * at most its bound, evicts the least recently used generation, promotes
 * what is read, replaces values of another size, is off at 0, and both
 * say the bytes they hold.
 *
 * Pure in-memory module: no temp dir is needed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "central/apply/ktab.h"

static ktab T;
static kcache C;

static void setup(void)
{
	ktab_init(&T);
}

static void teardown(void)
{
	ktab_free(&T);
	kcache_free(&C);
	memset(&C, 0, sizeof C);
}

TestSuite(ktab, .init = setup, .fini = teardown, .timeout = 30);

static size_t key_of(char *buf, size_t cap, unsigned i)
{
	return (size_t)snprintf(buf, cap, "key-%u", i);
}

static ktab_ent *add_u64(unsigned i, uint64_t v, bool *created)
{
	char k[32];
	size_t kn = key_of(k, sizeof k, i);
	ktab_ent *e = ktab_add(&T, k, kn, ktab_hash(k, kn), sizeof v, created);
	if (*created)
		memcpy(e->val, &v, sizeof v);
	return e;
}

static ktab_ent *find(unsigned i)
{
	char k[32];
	size_t kn = key_of(k, sizeof k, i);
	return ktab_find(&T, k, kn, ktab_hash(k, kn));
}

Test(ktab, added_keys_are_found_after_growth_and_only_they)
{
	bool created;
	for (unsigned i = 0; i < 5000; i++) {
		add_u64(i, i * 7u, &created);
		cr_assert(created);
	}
	cr_assert_eq(ktab_len(&T), 5000);
	for (unsigned i = 0; i < 5000; i++) {
		ktab_ent *e = find(i);
		cr_assert_not_null(e, "key %u lost", i);
		uint64_t v;
		memcpy(&v, e->val, sizeof v);
		cr_assert_eq(v, i * 7u);
	}
	cr_assert_null(find(5000));
	add_u64(17, 0, &created);
	cr_assert_not(created, "a second add finds the first entry");
	cr_assert_eq(ktab_len(&T), 5000);
}

Test(ktab, value_pointers_stay_put_while_the_table_grows)
{
	bool created;
	unsigned char *v0 = add_u64(0, 42, &created)->val;
	for (unsigned i = 1; i < 20000; i++)
		add_u64(i, i, &created);
	cr_assert_eq(find(0)->val, v0);
	uint64_t v;
	memcpy(&v, v0, sizeof v);
	cr_assert_eq(v, 42);
}

Test(ktab, reset_forgets_every_key_and_the_table_is_reusable)
{
	bool created;
	for (unsigned i = 0; i < 3000; i++)
		add_u64(i, i, &created);
	ktab_reset(&T);
	cr_assert_eq(ktab_len(&T), 0);
	for (unsigned i = 0; i < 3000; i++)
		cr_assert_null(find(i), "key %u survived a reset", i);
	add_u64(5, 55, &created);
	cr_assert(created);
	cr_assert_eq(ktab_len(&T), 1);
	cr_assert_not_null(find(5));
}

Test(ktab, killed_entries_are_not_found)
{
	bool created;
	ktab_ent *e = add_u64(3, 3, &created);
	ktab_kill(e);
	cr_assert_null(find(3));
	add_u64(3, 9, &created);
	cr_assert(created, "a killed key can be added again");
}

Test(ktab, resize_keeps_the_bytes_and_grows_the_area)
{
	bool created;
	ktab_ent *e = ktab_add(&T, "k", 1, ktab_hash("k", 1), 4, &created);
	memcpy(e->val, "abcd", 4);
	ktab_resize(&T, e, 100);
	cr_assert_eq(e->vlen, 100);
	cr_assert_geq(e->vcap, 100);
	cr_assert_eq(memcmp(e->val, "abcd", 4), 0);
	memset(e->val, 'x', 100); /* must be writable: ASan checks */
	ktab_resize(&T, e, 2);
	cr_assert_eq(e->vlen, 2);
}

/* ---- kcache -------------------------------------------------------------- */

static void cput(unsigned i, uint64_t v)
{
	char k[32];
	size_t kn = key_of(k, sizeof k, i);
	kcache_put(&C, k, kn, ktab_hash(k, kn), &v, sizeof v);
}

static bool cget(unsigned i, uint64_t *v)
{
	char k[32];
	size_t kn = key_of(k, sizeof k, i);
	size_t vlen = 0;
	bool hit = kcache_get(&C, k, kn, ktab_hash(k, kn), v, sizeof *v, &vlen);
	if (hit)
		cr_assert_eq(vlen, sizeof *v);
	return hit;
}

Test(ktab, cache_returns_the_last_value_put)
{
	kcache_init(&C, 100);
	uint64_t v = 0;
	cr_assert_not(cget(1, &v));
	cput(1, 10);
	cput(1, 11);
	cr_assert(cget(1, &v));
	cr_assert_eq(v, 11);
}

Test(ktab, cache_never_holds_more_than_its_bound)
{
	kcache_init(&C, 64);
	for (unsigned i = 0; i < 10000; i++) {
		cput(i, i);
		cr_assert_leq(kcache_len(&C), 64, "after %u puts", i);
	}
	uint64_t v;
	cr_assert(cget(9999, &v), "the newest key is kept");
	cr_assert_eq(v, 9999);
	cr_assert_not(cget(0, &v), "the oldest key was evicted");
	cr_assert_gt(C.evicted, 0);
}

Test(ktab, a_key_read_again_survives_eviction_of_its_generation)
{
	kcache_init(&C, 8); /* generations of 4 */
	cput(0, 100);
	for (unsigned i = 1; i < 40; i++) {
		uint64_t v;
		/* Reading key 0 between puts keeps it in the hot generation. */
		cr_assert(cget(0, &v), "key 0 evicted after %u puts", i);
		cr_assert_eq(v, 100);
		cput(i, i);
	}
	uint64_t v;
	cr_assert_not(cget(1, &v), "an untouched old key is gone");
}

Test(ktab, a_value_of_another_size_replaces_the_old_one)
{
	kcache_init(&C, 16);
	char big[200];
	memset(big, 'b', sizeof big);
	kcache_put(&C, "k", 1, ktab_hash("k", 1), "ab", 2);
	kcache_put(&C, "k", 1, ktab_hash("k", 1), big, sizeof big);
	char out[KCACHE_VALUE_MAX];
	size_t vlen = 0;
	cr_assert(kcache_get(&C, "k", 1, ktab_hash("k", 1), out, sizeof out, &vlen));
	cr_assert_eq(vlen, sizeof big);
	cr_assert_eq(memcmp(out, big, sizeof big), 0);
	kcache_put(&C, "k", 1, ktab_hash("k", 1), "z", 1);
	cr_assert(kcache_get(&C, "k", 1, ktab_hash("k", 1), out, sizeof out, &vlen));
	cr_assert_eq(vlen, 1);
	cr_assert_eq(out[0], 'z');
}

Test(ktab, a_value_too_long_to_cache_drops_the_key)
{
	kcache_init(&C, 16);
	char huge[KCACHE_VALUE_MAX + 1];
	memset(huge, 'h', sizeof huge);
	kcache_put(&C, "k", 1, ktab_hash("k", 1), "old", 3);
	kcache_put(&C, "k", 1, ktab_hash("k", 1), huge, sizeof huge);
	char out[KCACHE_VALUE_MAX + 8];
	size_t vlen;
	cr_assert_not(kcache_get(&C, "k", 1, ktab_hash("k", 1), out, sizeof out, &vlen),
	              "the stale value must not be served");
}

Test(ktab, a_cache_of_zero_entries_is_off)
{
	kcache_init(&C, 0);
	cput(1, 1);
	uint64_t v;
	cr_assert_not(cget(1, &v));
	cr_assert_eq(kcache_len(&C), 0);
}

Test(ktab, clear_drops_everything)
{
	kcache_init(&C, 100);
	for (unsigned i = 0; i < 90; i++)
		cput(i, i);
	kcache_clear(&C);
	uint64_t v;
	for (unsigned i = 0; i < 90; i++)
		cr_assert_not(cget(i, &v));
}

Test(ktab, a_table_holds_its_slots_entries_and_blocks_and_keeps_some_across_resets)
{
	cr_assert_eq(ktab_bytes(&T), 0, "an empty table holds nothing");
	bool created;
	add_u64(0, 0, &created);
	size_t one = ktab_bytes(&T);
	cr_assert_gt(one, 64 * 1024, "a first arena block");
	enum { N = 300000 };
	for (unsigned i = 1; i < N; i++)
		add_u64(i, i, &created);
	size_t full = ktab_bytes(&T);
	/* Per key: 2 to 4 slots of 8 bytes, an entry of 40 (1 to 2 for
	 * one), and in the arena a key of 16 bytes and a value of 8. */
	cr_assert_geq(full, N * (16 + 40 + 24), "%zu", full);
	cr_assert_leq(full, N * (32 + 80 + 24) + 64 * 1024, "%zu", full);
	ktab_reset(&T);
	size_t kept = ktab_bytes(&T);
	cr_assert_lt(kept, full, "blocks past the bound are freed");
	cr_assert_geq(kept, 64 * (64 * 1024), "the bound's blocks stay for the next message");
}

Test(ktab, cache_bytes_grow_with_entries_and_stay_near_the_bound)
{
	kcache_init(&C, 10000);
	cr_assert_eq(kcache_bytes(&C), 0, "an empty cache holds nothing");
	cput(0, 0);
	uint64_t one = kcache_bytes(&C);
	cr_assert_gt(one, 0);
	cr_assert_eq(one, ktab_bytes(&C.gen[0]) + ktab_bytes(&C.gen[1]));
	for (unsigned i = 1; i < 4000; i++)
		cput(i, i);
	uint64_t some = kcache_bytes(&C);
	cr_assert_gt(some, one, "grows with the entries");
	uint64_t most = 0;
	for (unsigned i = 4000; i < 200000; i++) {
		cput(i, i);
		uint64_t b = kcache_bytes(&C);
		most = b > most ? b : most;
	}
	/* Two generations of 5000 entries: their slots, entries and a few
	 * arena blocks each. */
	cr_assert_leq(most, 2 * (8192 * 8 + 8192 * sizeof(ktab_ent) + 4 * 64 * 1024),
	              "%lu bytes at most", (unsigned long)most);
	cr_assert_eq(kcache_bytes(&C), ktab_bytes(&C.gen[0]) + ktab_bytes(&C.gen[1]));
	kcache_clear(&C);
	cr_assert_eq(kcache_bytes(&C), ktab_bytes(&C.gen[0]) + ktab_bytes(&C.gen[1]),
	             "a clear keeps some memory, and says so");
}
