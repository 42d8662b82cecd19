/* test_memacct.c - the estimates behind the memory gauges: a malloc's
 * chunk as glibc lays it out, and the pages of a zeroed table that
 * writes at random places make resident, checked against the process's
 * own RssAnon. */
#include <criterion/criterion.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "memacct.h"
#include "tests/support/threadstat.h"

TestSuite(memacct, .timeout = 30);

Test(memacct, a_chunk_is_the_size_and_its_header_rounded_to_sixteen)
{
	cr_assert_eq(memacct_chunk(0), 0, "nothing allocated");
	cr_assert_eq(memacct_chunk(1), 32, "the smallest chunk");
	cr_assert_eq(memacct_chunk(24), 32);
	cr_assert_eq(memacct_chunk(25), 48);
	cr_assert_eq(memacct_chunk(40), 48);
	cr_assert_eq(memacct_chunk(1000), 1008);
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
	/* What glibc says it handed out: the chunk less its header. */
	for (size_t n = 1; n < 600; n += 7) {
		void *p = malloc(n);
		cr_assert_not_null(p);
		cr_assert_eq(malloc_usable_size(p), memacct_chunk(n) - 8, "malloc(%zu)", n);
		free(p);
	}
#endif
}

Test(memacct, an_untouched_table_holds_nothing_and_a_written_one_at_most_its_size)
{
	cr_assert_eq(memacct_touched(16 << 20, 0), 0, "calloc'ed and never written");
	cr_assert_eq(memacct_touched(0, 100), 0);
	cr_assert_eq(memacct_touched(100, 1), 100, "a table within one page");
	cr_assert_eq(memacct_touched(MEMACCT_PAGE * 1000, 1), MEMACCT_PAGE, "one write, one page");
	uint64_t t = 64 << 20, prev = 0;
	for (uint64_t w = 1; w < 1000000; w *= 3) {
		uint64_t b = memacct_touched(t, w);
		cr_assert_geq(b, prev, "more writes never touch less");
		cr_assert_leq(b, w * MEMACCT_PAGE, "a write touches one page at most");
		cr_assert_leq(b, t);
		prev = b;
	}
	cr_assert_geq(memacct_touched(t, 1000000), t * 99 / 100, "writes 60 times the pages");
}

Test(memacct, the_touched_estimate_follows_rss_of_a_zeroed_table)
{
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's allocator and shadow memory are not glibc's. */
	cr_skip_test("the normal build measures");
#else
	enum { BYTES = 32 << 20, WRITES = 4000 };
	double before = self_anon_kb();
	unsigned char *t = calloc(BYTES, 1);
	cr_assert_not_null(t);
	cr_assert_lt(self_anon_kb() - before, 1024, "calloc leaves the pages untouched");
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < WRITES; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift: places a hash would pick */
		t[x % BYTES] = 1;
	}
	double got = (self_anon_kb() - before) * 1024;
	double want = (double)memacct_touched(BYTES, WRITES);
	cr_assert(got > want * 0.9 && got < want * 1.1, "RssAnon grew %.0f bytes, estimate %.0f",
	          got, want);
	free(t);
#endif
}
