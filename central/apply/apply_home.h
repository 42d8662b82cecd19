/* apply_home.h - the home index's upkeep ('V' and 'G' keys, keys.h)
 * when a store is opened by this code: the layout of an older store
 * moved, and the version from which the index holds every change noted
 * (apply_home.c). Under apply.c, which calls it from its load and hands
 * it each partition's version through a hook. The caller's thread.
 */
#ifndef CENTRAL_APPLY_HOME_H
#define CENTRAL_APPLY_HOME_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

/* Whether partition p has applied input, and its version (apply.h). */
typedef bool (*apply_home_version_fn)(void *ctx, uint32_t p, uint64_t *version);

/* Moves an old store's index ('U' keys) to the layout of 'V' keys, with
 * the 'G' key of each like's day, in runs of writes that a restart goes
 * on from. 0, or the store's error. */
int apply_home_relayout(store *db) WARN_UNUSED;
/* On the first open by this code of a store older than the index, notes
 * for each partition of nparts with applied input the version from
 * which the index holds every change; then marks the store as noted.
 * 0, or the store's error. */
int apply_home_note(store *db, uint32_t nparts, apply_home_version_fn version,
                    void *ctx) WARN_UNUSED;
/* applier_home_index_forget (apply.h). */
int apply_home_forget(store *db, uint32_t *forgot) WARN_UNUSED;

#endif
