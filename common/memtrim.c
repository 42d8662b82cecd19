/* memtrim.c - the allocator's free memory back to the kernel (memtrim.h).
 * Owns the last free-bytes reading (an atomic). Any thread.
 */
#include "memtrim.h"

#include <stdatomic.h>
#include <stdlib.h> /* defines __GLIBC__ on glibc, which the tests below need */

#if defined(__GLIBC__)
#include <malloc.h>
#endif

bool memtrim_release(void)
{
#if defined(__GLIBC__)
	return malloc_trim(0) != 0;
#else
	return false;
#endif
}

static _Atomic size_t last_free;

size_t memtrim_free_bytes(void)
{
	size_t n = 0;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 mi = mallinfo2();
	n = mi.fordblks;
#endif
	atomic_store_explicit(&last_free, n, memory_order_relaxed);
	return n;
}

size_t memtrim_last_free_bytes(void)
{
	return atomic_load_explicit(&last_free, memory_order_relaxed);
}
