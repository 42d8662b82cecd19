/* partition.c - item -> partition: XXH64 with seed 0, modulo the count.
 *
 * Pure, owns nothing, any thread. The function is part of the deployment
 * contract (edge and central must agree), so it must never change.
 */
#include "partition.h"

#include <xxhash.h>

uint32_t partition_of(const char *item, size_t len, uint32_t nparts)
{
	/* No partitions: nothing sensible to return, so partition 0 rather
	 * than a division by zero. Callers validate the count at start-up. */
	if (nparts == 0)
		return 0;
	return (uint32_t)(XXH64(item, len, 0) % nparts);
}
