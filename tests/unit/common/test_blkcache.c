/* test_blkcache.c - the per-thread block and buffer caches (blkcache.h):
 * blocks keep their contents through realloc across classes, freed
 * blocks and kept buffers are handed out again on the same thread, and
 * the caches stay within their bounds. Under AddressSanitizer nothing is
 * kept, and the reuse cases check only that the calls are safe. */
#include <criterion/criterion.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blkcache.h"
#include "sbuf.h"

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7);
}

static bool same(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed + i * 7))
			return false;
	return true;
}

Test(blkcache, blocks_of_every_size_hold_their_bytes_and_are_aligned)
{
	size_t sizes[] = {0, 1, 15, 48, 49, 100, 500, 1000, 2000, BLK_MAX, BLK_MAX + 1, 100000};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		unsigned char *p = blk_alloc(sizes[i]);
		cr_assert_not_null(p);
		cr_assert_eq((uintptr_t)p % 16, 0, "block of %zu bytes at %p", sizes[i], (void *)p);
		fill(p, sizes[i], (unsigned)i);
		cr_assert(same(p, sizes[i], (unsigned)i));
		blk_free(p);
	}
	blk_free(NULL);
}

Test(blkcache, realloc_keeps_the_contents_across_classes)
{
	/* Up within a class, to the next ones, to malloc's sizes, and down. */
	size_t steps[] = {10, 40, 200, 3000, BLK_MAX, 9000, 70000, 5000, 100, 1};
	unsigned char *p = blk_realloc(NULL, 5);
	cr_assert_not_null(p);
	fill(p, 5, 3);
	size_t have = 5;
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		p = blk_realloc(p, steps[i]);
		cr_assert_not_null(p);
		size_t kept = have < steps[i] ? have : steps[i];
		cr_assert(same(p, kept, 3), "contents lost at %zu bytes", steps[i]);
		fill(p, steps[i], 3);
		have = steps[i];
	}
	blk_free(p);
}

Test(blkcache, calloc_zeroes_even_a_reused_block_and_refuses_overflow)
{
	unsigned char *p = blk_alloc(300);
	memset(p, 0xab, 300);
	blk_free(p);
	unsigned char *q = blk_calloc(30, 10);
	cr_assert_not_null(q);
	for (size_t i = 0; i < 300; i++)
		cr_assert_eq(q[i], 0);
	blk_free(q);
	cr_assert_null(blk_calloc(SIZE_MAX / 2, 3));
}

Test(blkcache, the_never_failing_forms_hold_and_keep_their_contents)
{
	char *p = blk_xalloc(10);
	memcpy(p, "0123456789", 10);
	p = blk_xrealloc(p, 5000); /* past the largest class: malloc'ed */
	cr_assert_eq(memcmp(p, "0123456789", 10), 0);
	blk_free(p);
}

Test(blkcache, a_freed_block_is_handed_out_again_and_the_cache_is_bounded)
{
	void *p = blk_alloc(700);
	blk_free(p);
	void *q = blk_alloc(600); /* the same class (1,024 with the header) */
	if (blk_caching())
		cr_assert_eq(q, p, "the freed block is reused");
	blk_free(q);

	/* 100 bytes: the class of 128 with the header. */
	enum { KEEP = BLK_KEEP_BYTES / 128, MANY = KEEP + 20 };
	static void *many[MANY];
	for (size_t i = 0; i < MANY; i++)
		many[i] = blk_alloc(100);
	size_t before = blk_cached();
	for (size_t i = 0; i < MANY; i++)
		blk_free(many[i]);
	if (blk_caching())
		cr_assert_eq(blk_cached(), before + KEEP, "at most BLK_KEEP_BYTES of one class");
	else
		cr_assert_eq(blk_cached(), 0);
	/* Large blocks are never kept. */
	size_t n = blk_cached();
	blk_free(blk_alloc(BLK_MAX + 1));
	cr_assert_eq(blk_cached(), n);
}

Test(blkcache, kept_buffers_are_taken_by_size_and_bounded)
{
	char *small = malloc(100), *big = malloc(5000);
	size_t big_cap = malloc_usable_size(big);
	blk_keep_buf(small);
	blk_keep_buf(big);
	size_t cap = 0;
	char *p = blk_take_buf(4000, &cap);
	if (!blk_caching()) {
		cr_assert_null(p);
		cr_assert_eq(blk_cached(), 0);
		return;
	}
	cr_assert_eq(p, big, "the buffer large enough");
	cr_assert_eq(cap, big_cap);
	cr_assert_null(blk_take_buf(200000, &cap), "none that large");
	free(p);

	/* A full cache of small buffers makes room for a larger one. */
	for (int i = 0; i < BLK_KEEP_BUFS + 4; i++)
		blk_keep_buf(malloc(64));
	size_t n = blk_cached();
	char *large = malloc(8000);
	blk_keep_buf(large);
	cr_assert_eq(blk_cached(), n, "it replaced a small one");
	cr_assert_eq(blk_take_buf(7000, &cap), large);
	free(large);
	/* One over the size bound is freed, not kept. */
	n = blk_cached();
	blk_keep_buf(malloc(BLK_BUF_MAX + 1));
	cr_assert_eq(blk_cached(), n);
	while ((p = blk_take_buf(1, &cap)))
		free(p);
}

Test(blkcache, an_sbuf_starts_from_a_kept_buffer)
{
	char *mine = malloc(2000);
	blk_keep_buf(mine);
	sbuf b;
	sbuf_init(&b);
	sbuf_adds(&b, "hello");
	if (blk_caching())
		cr_assert_eq(b.p, mine, "the first room comes from the kept buffer");
	cr_assert_str_eq(b.p, "hello");
	size_t len;
	char *out = sbuf_take(&b, &len);
	cr_assert_eq(len, 5);
	free(out); /* plain malloc memory, whoever kept it */
}

static void *other_thread(void *arg)
{
	(void)arg;
	/* Fills this thread's cache; the thread's exit frees it (LSan, in
	 * the sanitizer build, reports it otherwise). */
	for (int i = 0; i < 10; i++)
		blk_free(blk_alloc(200));
	blk_keep_buf(malloc(1000));
	size_t *n = malloc(sizeof *n);
	*n = blk_cached();
	return n;
}

Test(blkcache, every_thread_has_its_own_cache)
{
	size_t mine = blk_cached();
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, other_thread, NULL), 0);
	size_t *theirs;
	cr_assert_eq(pthread_join(t, (void **)&theirs), 0);
	if (blk_caching())
		cr_assert_geq(*theirs, 2, "that thread kept its own");
	cr_assert_eq(blk_cached(), mine, "nothing joined this thread's cache");
	free(theirs);
}
