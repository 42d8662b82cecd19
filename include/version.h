/* version.h - the version of a partition's counts: the epoch of central's
 * input log and the next input offset, in one number that only grows.
 *
 * A snapshot, a checkpoint and a read-through answer each say how far
 * into a partition's input (the batch topic) the counts they carry go.
 * A Kafka offset alone can go backwards: an embedded broker restarted
 * empty, a topic recreated. Central then starts a new epoch of the
 * partition (it stores the epoch with the offset), so that versions keep
 * growing and an edge can always tell the newer of two counts by
 * comparing numbers.
 *
 *   version = epoch << VERSION_OFFSET_BITS | offset
 *
 * 13 bits of epoch over 40 bits of offset keep every version below 2^53,
 * so JavaScript clients compare them exactly. Pure; any thread.
 */
#ifndef LIKES_VERSION_H
#define LIKES_VERSION_H

#include <stdint.h>

#define VERSION_OFFSET_BITS 40
#define VERSION_OFFSET_MAX ((UINT64_C(1) << VERSION_OFFSET_BITS) - 1)
#define VERSION_EPOCH_MAX ((UINT32_C(1) << 13) - 1)

static inline uint64_t version_make(uint32_t epoch, uint64_t offset)
{
	return ((uint64_t)epoch << VERSION_OFFSET_BITS) | (offset & VERSION_OFFSET_MAX);
}

static inline uint32_t version_epoch(uint64_t v)
{
	return (uint32_t)(v >> VERSION_OFFSET_BITS);
}

static inline uint64_t version_offset(uint64_t v)
{
	return v & VERSION_OFFSET_MAX;
}

#endif
