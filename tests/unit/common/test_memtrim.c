/* test_memtrim.c - the allocator's free memory goes back to the kernel
 * (common/memtrim.c): holes left in the heap between live allocations,
 * as a flushed LevelDB memtable leaves them, are released; the last
 * reading of the free bytes is kept for exporters. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memtrim.h"
#include "tests/support/threadstat.h"

#define HOLES 2000
#define HOLE_BYTES (16 * 1024)

Test(memtrim, holes_between_live_allocations_go_back_to_the_kernel, .timeout = 20)
{
	static char *big[HOLES], *small[HOLES];
	/* 32 MB in 16 KB blocks, each followed by a small block that stays:
	 * once the big ones are freed the heap is full of holes that no
	 * trim at its top can reach. */
	for (int i = 0; i < HOLES; i++) {
		big[i] = malloc(HOLE_BYTES);
		small[i] = malloc(64);
		cr_assert(big[i] && small[i]);
		memset(big[i], 0x5a, HOLE_BYTES);
		memset(small[i], 0xa5, 64);
	}
	for (int i = 0; i < HOLES; i++)
		free(big[i]);
	double before = self_anon_kb();
#if defined(__SANITIZE_ADDRESS__)
	/* Under AddressSanitizer malloc is ASan's own allocator: glibc's
	 * arenas hold none of these blocks, so there is nothing to give back
	 * or measure; the calls must still be safe. The normal build runs
	 * the measurement below. */
	(void)before;
	(void)memtrim_free_bytes();
	(void)memtrim_release();
#elif defined(__GLIBC__)
	cr_assert_geq(memtrim_free_bytes(), (size_t)HOLES * HOLE_BYTES * 9 / 10,
	              "the freed blocks are still the allocator's (%zu bytes free)",
	              memtrim_free_bytes());
	cr_assert(memtrim_release());
	double after = self_anon_kb();
	cr_assert_gt(before - after, HOLES * (HOLE_BYTES / 1024) / 2,
	             "RssAnon %.0f kB before, %.0f kB after", before, after);
#else
	(void)before;
	cr_assert_not(memtrim_release(), "nothing to do off glibc");
#endif
	for (int i = 0; i < HOLES; i++)
		free(small[i]);
}

Test(memtrim, the_last_reading_is_kept_until_the_next)
{
	cr_assert_eq(memtrim_last_free_bytes(), 0, "nothing read yet");
	size_t n = memtrim_free_bytes();
	cr_assert_eq(memtrim_last_free_bytes(), n);
	/* Freed blocks change the heap, not the reading. */
	void *p[64];
	for (int i = 0; i < 64; i++)
		p[i] = malloc(4096);
	for (int i = 0; i < 64; i += 2)
		free(p[i]);
	cr_assert_eq(memtrim_last_free_bytes(), n, "read again only when asked");
	size_t m = memtrim_free_bytes();
	cr_assert_eq(memtrim_last_free_bytes(), m);
	for (int i = 1; i < 64; i += 2)
		free(p[i]);
}
