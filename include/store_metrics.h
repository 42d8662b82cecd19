/* store_metrics.h - a LevelDB store's figures as Prometheus families,
 * under the names both daemons share (docs/ops.md, *Metrics*), so that
 * the same thing has the same name at the edge and at central.
 *
 * store_metrics_add registers a render hook (metrics.h) that reads, at
 * every scrape, LevelDB's properties of db:
 *   store_approximate_bytes        gauge    LevelDB's estimate of the key range's bytes
 *   store_memory_bytes             gauge    memtables and block cache
 *   store_level_files{level}       gauge    table files per level, 0..6
 *   store_compaction_read_bytes_total, store_compaction_written_bytes_total
 *                                  counter  bytes compactions read and wrote
 *   store_torn_log_refused_total   counter  writes refused while a torn log waits to roll
 *   store_log_rolls_total          counter  torn logs rolled (store.h, store_write)
 * A figure LevelDB does not give is left out. Start-up only, like other
 * registrations; db must outlive the registry.
 */
#ifndef LIKES_STORE_METRICS_H
#define LIKES_STORE_METRICS_H

#include <stdbool.h>

#include "metrics.h"
#include "store.h"

#define STORE_METRICS_LEVELS 7 /* LevelDB's levels: 0..6 */

void store_metrics_add(metrics *m, store *db);

/* LevelDB's memory in use (memtables and block cache: the property
 * leveldb.approximate-memory-usage), what store_memory_bytes shows, for
 * the daemons' memory_bytes{holder="store"}; false when LevelDB does not
 * say. A property read: LevelDB takes its mutex for a moment. */
bool store_metrics_memory(store *db, double *bytes);
/* The same as a daemon's memory holder: ctx is the store; false when
 * LevelDB does not say. */
bool store_metrics_holds(void *ctx, uint64_t *out);

/* Sums the Read(MB) and Write(MB) columns of a "leveldb.stats" text into
 * bytes; false when the text is not laid out as expected. Pure. */
bool store_metrics_compaction_bytes(const char *stats, double *read, double *written);

#endif
