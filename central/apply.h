/* apply.h - central's batch applier: strict per-(edge, partition) order,
 * LWW merge, one atomic LevelDB write per Kafka message.
 *
 * For every consumed message the applier writes, in one LevelDB batch:
 * the membership states the ops changed, the counts derived from them,
 * the (edge, partition) applied sequence and the partition's next input
 * offset. A batch whose sequence is already applied changes nothing but
 * the offset; one after a gap is stored as held and applied, with every
 * held batch after it, when the gap fills. So a crash at any point
 * resumes from the stored offset with nothing applied twice.
 *
 * The applier also remembers, per partition, the counts that changed
 * since the last snapshot. One thread owns an applier.
 */
#ifndef CENTRAL_APPLY_H
#define CENTRAL_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "smap.h"
#include "store.h"
#include "wire.h"

typedef struct applier applier;

typedef struct applier_stats {
	uint64_t batches_applied;
	uint64_t batches_duplicate;
	uint64_t batches_held;
	uint64_t batches_bad;
	uint64_t ops_applied;
	uint64_t ops_bad;
	uint64_t store_writes;
} applier_stats;

/* Counter names central accepts (set counters); NULL-terminated. */
applier *applier_new(store *db, uint32_t nparts, const char *const *counters, char *err,
		     size_t errlen);
void applier_free(applier *a);

/* The offset to resume partition p from; ERR_NOTFOUND when none stored. */
int applier_resume_offset(applier *a, uint32_t p, int64_t *offset) WARN_UNUSED;

/* Applies the message at (p, offset). Malformed messages are logged,
 * counted and skipped (their offset is still stored). 0, or ERR_IO when
 * the store failed (nothing was applied; the caller must not go on). */
int applier_apply(applier *a, uint32_t p, int64_t offset, const void *msg, size_t len) WARN_UNUSED;

/* Records that the partition's input was reset to offset (out of range):
 * the stored resume offset moves there. */
int applier_reset_offset(applier *a, uint32_t p, int64_t offset) WARN_UNUSED;

/* Fills a snapshot of partition p: counts changed since the last call
 * (at most max_counts; the rest stay for the next), every edge's applied
 * and held sequence, and the input offset. *more says counts remain.
 * The snapshot's strings point into the applier until the next apply or
 * snapshot call; free the arrays with wire_snapshot_free. */
void applier_snapshot(applier *a, uint32_t p, size_t max_counts, wire_snapshot *s, bool *more);
/* Puts the counts of the last snapshot of p back for the next one (its
 * message could not be handed to Kafka). */
void applier_snapshot_failed(applier *a, uint32_t p);
/* True when p changed since its last snapshot. */
bool applier_dirty(const applier *a, uint32_t p);

/* The stored count of (counter, item); 0 when never counted. */
int applier_count(applier *a, const char *counter, const char *item, uint64_t *count) WARN_UNUSED;

const applier_stats *applier_get_stats(const applier *a);

#endif
