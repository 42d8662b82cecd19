/* memacct.h - estimates of the heap memory a structure holds, for the
 * memory_bytes{holder} gauges of both daemons (docs/ops.md, *Metrics*).
 *
 * A module that owns a structure keeps its bytes as it changes them (a
 * relaxed atomic, or fields the exporter reads as atomics) and counts
 * them with these, so that a scrape reads a number and walks nothing.
 * Estimates, not measurements: they follow glibc's malloc on 64-bit Linux
 * and the kernel's lazy zero pages, and stay within a chunk or a page of
 * the truth per allocation.
 *
 * Pure functions: any thread.
 */
#ifndef LIKES_MEMACCT_H
#define LIKES_MEMACCT_H

#include <stddef.h>
#include <stdint.h>

#define MEMACCT_PAGE 4096

/* The heap bytes malloc(n) takes: n and an 8-byte header rounded up to
 * 16, at least 32 (glibc's chunks); 0 for n = 0 (a caller's empty array,
 * never allocated). */
static inline size_t memacct_chunk(size_t n)
{
	if (!n)
		return 0;
	size_t c = (n + 8 + 15) & ~(size_t)15;
	return c < 32 ? 32 : c;
}

/* The bytes of a zeroed table of `bytes` (calloc: its pages stay the
 * kernel's shared zero page until written) that `writes` writes at
 * places a hash picks have made resident: each page is written with
 * probability 1 - (1 - 1/pages)^writes. At most bytes; 0 when writes is
 * 0. A writer counts one write per place it fills for the first time (a
 * set, a block), not per update. */
uint64_t memacct_touched(uint64_t bytes, uint64_t writes);

#endif
