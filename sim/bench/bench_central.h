/* bench_central.h - `sim bench-central`: central's applier against a raw
 * LevelDB read-modify-write loop, on the same likes, in one run.
 *
 * The run first builds, in memory and untimed, the wire batches three
 * edges would send for opts.ops likes: items drawn from a Zipf-like
 * distribution over opts.items, users numbered in order (or cycling over
 * opts.users), grouped per (edge, partition) into batches of
 * opts.ops_per_batch with sequences from 1. Then two timed runs, each on
 * a fresh store under a temp dir in opts.dir (removed at the end):
 *
 *   central  applier_apply for every batch, partitions interleaved
 *            round-robin in Kafka order; one store write per batch (with
 *            opts.feed, the change feed's events in it too, each
 *            partition's dropped again after every round).
 *   raw      per like: get the membership key, and when absent get the
 *            count, add one and write both (one store write per like),
 *            with central's key layout (central/apply/keys.h).
 *
 * Both stores are opened with the same options, bench_central_store_opts
 * (store_opts_default: a 64 MiB block cache, a 10-bit bloom filter, a
 * 16 MiB write buffer, no fsync, which are also central's defaults), and
 * the table names them, so the comparison is like for like.
 *
 * After each run the 'C' counts of "likes" are summed and must equal the
 * number of distinct (item, user) pairs; after both, every 'C' key of the
 * two stores must hold the same count (bench_central_compare), else the
 * run fails: a rate measured on a wrong result means nothing.
 *
 * Single-threaded: the caller's thread does all the work (LevelDB's own
 * compaction thread runs beside it).
 */
#ifndef SIM_BENCH_CENTRAL_H
#define SIM_BENCH_CENTRAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "store.h"

#define BENCH_CENTRAL_OPS_MAX UINT64_C(1000000000)
#define BENCH_CENTRAL_ITEMS_MAX 10000000u
#define BENCH_CENTRAL_EDGES 3

typedef struct bench_central_opts {
	uint64_t ops;           /* likes to apply, 1..BENCH_CENTRAL_OPS_MAX */
	uint32_t items;         /* distinct items, 1..BENCH_CENTRAL_ITEMS_MAX */
	uint64_t users;         /* distinct users, 1..ops; 0 = one per like */
	uint32_t ops_per_batch; /* 1..WIRE_MAX_OPS */
	uint32_t partitions;    /* 1..PARTITION_MAX */
	const char *dir;        /* parent of the run's temp dir */
	bool homes;             /* every like names its user's home region, so
	                         * central writes its home index ('V', 'G') */
	bool feed;              /* the change feed's records stored with each
	                         * batch's effects, and dropped every batch as
	                         * a publisher would (benchgen_feed): central as
	                         * deployed, but for the publisher's own work */
} bench_central_opts;

/* 1,000,000 likes, 100,000 items, one user per like, 1000 ops per batch,
 * 16 partitions, /tmp, no homes, the feed off. */
void bench_central_opts_default(bench_central_opts *o);

typedef struct bench_central_result {
	uint64_t ops;
	bool homes;                      /* the likes named homes */
	bool feed;                       /* central stored the feed's records */
	uint64_t feed_events;            /* the events it stored */
	uint64_t distinct_pairs;         /* distinct (item, user) among the likes */
	uint64_t batches;                /* wire batches built (= Kafka messages) */
	uint64_t wire_bytes;             /* their total size */
	double central_s, raw_s;         /* wall time of each timed loop */
	double central_cpu_s, raw_cpu_s; /* CPU time of the loop's thread (not LevelDB's) */
	double central_ops_per_s, raw_ops_per_s;
	uint64_t central_store_writes, raw_store_writes;
	uint64_t central_total, raw_total; /* sum of the 'C' counts after each run */
	uint64_t counts_compared;          /* 'C' keys found equal in both stores */
	store_opts store;                  /* what both stores were opened with */
} bench_central_result;

/* The options both runs open their stores with. */
void bench_central_store_opts(store_opts *so);

/* Builds the batches and runs both loops, filling *r. 0; ERR_INVAL for an
 * option out of bounds; ERR_IO when a directory or store failed;
 * ERR_CORRUPT when a run's counts do not add up to the distinct pairs
 * (central's stats disagreeing with the input counts as that too). On
 * failure err says why and *r holds what was measured so far. */
int bench_central_run(const bench_central_opts *o, bench_central_result *r, char *err,
                      size_t errlen) WARN_UNUSED;

/* The sum of every 'C' count of counter in db: 0, ERR_IO, or
 * ERR_CORRUPT for a count that is not 8 bytes. */
int bench_central_total(store *db, const char *counter, uint64_t *total) WARN_UNUSED;

/* Walks the 'C' keys of counter in stores a and b side by side: 0 with
 * the number of keys in *n when both hold the same keys with the same
 * counts; ERR_CORRUPT (err names the first difference) when they do not;
 * ERR_IO when a walk failed. */
int bench_central_compare(store *a, store *b, const char *counter, uint64_t *n, char *err,
                          size_t errlen) WARN_UNUSED;

/* A few lines for people: both rates, their ratio, the store writes and
 * the store options. */
void bench_central_print_table(FILE *f, const bench_central_result *r);
/* One JSON object on one line: ops, central_ops_per_s, raw_ops_per_s,
 * central_vs_raw_leveldb, central_store_writes, store_writes_per_1m_likes
 * and a few more fields. */
void bench_central_print_json(FILE *f, const bench_central_result *r);

#endif
