/* memtrim.c - the allocator's free memory back to the kernel (memtrim.h).
 * Owns nothing. Any thread.
 */
#include "memtrim.h"

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

size_t memtrim_free_bytes(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
	struct mallinfo2 mi = mallinfo2();
	return mi.fordblks;
#else
	return 0;
#endif
}
