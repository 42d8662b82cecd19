/* mixgen.h - a like counter's mixed input, sealed as edges seal it, for
 * the change feed's benchmarks: `sim bench-feed` replays it into the
 * applier in-process, `sim produce-batches` into the batch topic for a
 * running central.
 *
 * opts.ops ops, one millisecond of hlc for every MIXGEN_OPS_PER_MS of
 * them, each drawn from a fixed seed (every build gives the same bytes):
 *
 *   views_pct %   a view (the sum counter "views") of a Zipf item;
 *   unlike_pct %  an unlike: the user of one of the last MIXGEN_RECENT
 *                 likes takes it back (a flip when that like was new,
 *                 nothing when it was a repeat or already taken back);
 *   the rest      a like of a Zipf item by a user drawn uniformly from
 *                 opts.users (a pair liked before changes nothing).
 *
 * Items are "post:<rank>", rank 0 the most popular (Zipf, s = 0.99), so
 * the top items cross the feed's milestones. A user always sends through
 * the same one of MIXGEN_EDGES edges (e0..e2, regions r0..r2); each
 * (edge, partition) seals a batch every opts.ops_per_batch ops, its views
 * added up per item as the edge adds them up (wire_batch_add_up),
 * sequences from 1; the rest are sealed at the end. Each partition's log
 * holds its batches in the order they were sealed, which is the order
 * Kafka would hand them to central.
 *
 * The caller owns the mixgen and frees it with mixgen_free. One thread.
 */
#ifndef SIM_MIXGEN_H
#define SIM_MIXGEN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sim/bench/benchgen.h"

#define MIXGEN_EDGES 3
#define MIXGEN_RECENT 4096 /* the likes an unlike may take back */
#define MIXGEN_OPS_PER_MS 1000
#define MIXGEN_OPS_MAX UINT64_C(100000000)
#define MIXGEN_ITEMS_MAX 10000000u
#define MIXGEN_USERS_MAX UINT64_C(1000000000)

typedef struct mixgen_opts {
	uint64_t ops;           /* 1..MIXGEN_OPS_MAX */
	uint32_t items;         /* 1..MIXGEN_ITEMS_MAX */
	uint64_t users;         /* 1..MIXGEN_USERS_MAX */
	uint32_t views_pct;     /* 0..100 */
	uint32_t unlike_pct;    /* 0..100 - views_pct */
	uint32_t ops_per_batch; /* 1..WIRE_MAX_OPS */
	uint32_t partitions;    /* 1..PARTITION_MAX */
} mixgen_opts;

/* 1,000,000 ops (30% views, 10% unlikes, 60% likes), 100,000 items,
 * 200,000 users, 1000 ops per batch, 16 partitions. */
void mixgen_opts_default(mixgen_opts *o);

typedef struct mixgen {
	uint32_t partitions;
	benchgen_log *parts; /* per partition, in order */
	size_t longest;      /* the longest partition log */
	uint64_t batches, wire_bytes;
	uint64_t max_part_bytes; /* the bytes of the largest partition's log */
	uint64_t likes, unlikes; /* set ops drawn (each a wire op) */
	uint64_t views;          /* views drawn */
	uint64_t sums;           /* the views' sum entries after adding up */
	uint64_t entries;        /* set ops plus sum entries: what the applier counts */
	uint64_t distinct_items; /* items with at least one op */
	uint64_t top_item_likes; /* likes drawn for post:0 */
} mixgen;

/* Builds every batch into *m (zeroed first). 0; ERR_INVAL for an option
 * out of bounds (err says which), ERR_INVAL too when a batch does not
 * encode. On failure *m holds nothing to free. */
int mixgen_build(const mixgen_opts *o, mixgen *m, char *err, size_t errlen) WARN_UNUSED;

void mixgen_free(mixgen *m);

#endif
