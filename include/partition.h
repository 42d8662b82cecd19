/* partition.h - the item -> Kafka partition map shared by edge and central.
 *
 * XXH64 (seed 0) of the item's text "type:id", modulo the partition count.
 * The function is part of the deployment's contract: changing it moves
 * every item, so it never changes for a given partition count.
 */
#ifndef LIKES_PARTITION_H
#define LIKES_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#define PARTITION_MAX 4096

/* The partition of the len bytes at item, in [0, nparts). nparts == 0 has
 * no answer: it returns 0 rather than dividing by zero. Pure, any thread. */
uint32_t partition_of(const char *item, size_t len, uint32_t nparts);

#endif
