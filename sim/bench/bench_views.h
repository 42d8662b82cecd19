/* bench_views.h - `sim bench-views`: what adding up views per item costs
 * and saves, on the wire and in central's applier, in one run.
 *
 * The run builds, in memory and untimed, the batches one edge would seal
 * for opts.ops ops, views_pct percent of them views (a sum counter) and
 * the rest likes of distinct users; viral_pct percent of the views go to
 * one reel ("reel:0"), the others uniformly over opts.items items. Each
 * partition's ops are sealed every ops_per_batch ops twice, from the same
 * ops: once with every op as an op (wire version 1, as before sums) and
 * once with the views added up per item and day (version 2,
 * wire_batch_add_up, as the edge seals them). Then two timed runs, each
 * applying one set of batches with applier_apply into a fresh store under
 * a temp dir in opts.dir (removed at the end), partitions interleaved in
 * Kafka order. Afterwards the two stores must hold the same likes and
 * views counts and the views must add up to the views sent, else the run
 * fails. Single-threaded (LevelDB's compaction thread runs beside it).
 */
#ifndef SIM_BENCH_VIEWS_H
#define SIM_BENCH_VIEWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_VIEWS_OPS_MAX UINT64_C(100000000)
#define BENCH_VIEWS_ITEMS_MAX 10000000u

typedef struct bench_views_opts {
	uint64_t ops;           /* 1..BENCH_VIEWS_OPS_MAX */
	uint32_t views_pct;     /* 0..100 */
	uint32_t viral_pct;     /* 0..100 of the views on reel:0 */
	uint32_t items;         /* 1..BENCH_VIEWS_ITEMS_MAX */
	uint32_t partitions;    /* 1..PARTITION_MAX */
	uint32_t ops_per_batch; /* 1..WIRE_MAX_OPS */
	const char *dir;        /* parent of the run's temp dir */
} bench_views_opts;

/* 1,000,000 ops, 90% views, half of them on one reel, 100,000 items,
 * 16 partitions, 1000 ops per batch, /tmp. */
void bench_views_opts_default(bench_views_opts *o);

typedef struct bench_views_mode {
	uint64_t messages, wire_bytes;
	uint64_t entries; /* ops plus sums in the batches */
	double apply_s, apply_cpu_s;
	uint64_t store_writes;
} bench_views_mode;

typedef struct bench_views_result {
	uint64_t ops, views, likes;
	bench_views_mode per_op, summed;
	uint64_t counts_compared; /* count keys found equal in both stores */
} bench_views_result;

/* 0, ERR_INVAL for an option out of bounds, ERR_IO when a directory or
 * store failed, ERR_CORRUPT when the runs disagree with each other or
 * with the input (err says how). */
int bench_views_run(const bench_views_opts *o, bench_views_result *r, char *err, size_t errlen);
void bench_views_print(FILE *f, const bench_views_opts *o, const bench_views_result *r, bool json);

#endif
