/* cmetrics.h - central's metrics: one Prometheus registry (metrics.h,
 * prefix "likes_central_") holding every series central exposes, and the
 * hot-items sketch (topk.h) of the counts that move fastest.
 *
 * Three kinds of source feed it:
 *   - the applier, through its instruments (applier_obs, set by
 *     cmetrics_feed): each message's apply time, ops applied per
 *     counter, invalid ops per reason, store write times, and every op
 *     that moved a count goes to the hot-items sketch;
 *   - the run loop: snapshots queued and delivered, the lag after a
 *     watermark refresh;
 *   - render hooks, read at scrape time from atomics and LevelDB: the
 *     applier's stats, per-partition offsets, lag and snapshot age, the
 *     caches, the store (its LevelDB figures through store_metrics.h,
 *     under the names the edge uses too), and memory_bytes{holder}: the
 *     bytes the applier's caches and tables, LevelDB and the allocator's
 *     free list hold, from figures their owners keep.
 *
 * docs/ops.md lists the families. Making and feeding: the run loop's
 * thread (cmetrics_snapshot_delivered: the producer's delivery callback,
 * which runs there too). Rendering and the hot list: any thread.
 */
#ifndef CENTRAL_CMETRICS_H
#define CENTRAL_CMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "central/apply/apply.h"
#include "counter.h"
#include "metrics.h"
#include "central/ops/opsrun.h"
#include "sbuf.h"
#include "store.h"
#include "topk.h"

#define CMETRICS_HOT_DEFAULT 100     /* central.hot_items */
#define CMETRICS_HOT_WINDOW_MS 60000 /* the sketch's window */

typedef struct cmetrics cmetrics;

typedef struct cmetrics_opts {
	const counters *ctr; /* outlives the metrics */
	uint32_t partitions;
	const applier *ap;             /* stats and offsets; may be NULL */
	const ops_run_stats *run;      /* may be NULL */
	store *db;                     /* LevelDB figures; may be NULL */
	const char *data_dir;          /* the store's files, for their size; may be NULL */
	size_t hot_k;                  /* keys the sketch keeps; 0 = CMETRICS_HOT_DEFAULT */
	uint64_t hot_window_ms;        /* 0 = CMETRICS_HOT_WINDOW_MS */
	const struct shard_set *owned; /* per-partition series for these only; NULL = all */
} cmetrics_opts;

/* Everything the opts point to must outlive the metrics. */
cmetrics *cmetrics_new(const cmetrics_opts *o);
/* The registry, for a module that adds its own figures (central/feed). */
metrics *cmetrics_registry(cmetrics *cm);
void cmetrics_free(cmetrics *cm);

/* Start-up: makes ap (the one in the opts) feed the instruments. */
void cmetrics_feed(cmetrics *cm, applier *ap);

/* Run loop: a snapshot message of ncounts counts was queued for p. */
void cmetrics_snapshot_queued(cmetrics *cm, uint32_t p, size_t ncounts);
/* Delivery report of a snapshot message to partition p: ok or not, and
 * its latency from the produce call in microseconds (-1 unknown). */
void cmetrics_snapshot_delivered(cmetrics *cm, int32_t p, bool ok, int64_t latency_us);

/* Run loop, after the high watermarks (ops_run_stats.input_high) were
 * refreshed: each partition's lag now goes into consumer_lag_max. */
void cmetrics_note_lag(cmetrics *cm);

/* Bytes in the files of the store under data_dir (store_open_dir's
 * layout); 0 when it cannot be read. Any thread. */
uint64_t cmetrics_store_bytes(const char *data_dir);

/* Any thread: the whole exposition. */
void cmetrics_render(cmetrics *cm, sbuf *out);

/* Any thread: the hottest count keys, up to max, fastest first. */
size_t cmetrics_hot(cmetrics *cm, topk_entry *out, size_t max);
/* What /readyz found (the run loop, each readiness check): ready and
 * ready_check{check="store|kafka|lag"}. */
void cmetrics_readiness(cmetrics *cm, bool store_ok, bool kafka, bool lag);
/* The sketch's size (k) and window. */
size_t cmetrics_hot_k(const cmetrics *cm);
uint64_t cmetrics_hot_window_ms(const cmetrics *cm);

#endif
