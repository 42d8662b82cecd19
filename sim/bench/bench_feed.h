/* bench_feed.h - `sim bench-feed`: central's applier with the change feed
 * on against off, in-process, on the same input, in one run.
 *
 * The run builds a mixed input (mixgen.h: likes, unlikes, views; Zipf
 * items) once, untimed, then replays it into central's applier
 * (applier_apply, partitions interleaved in Kafka order, as
 * bench-central does) opts.rounds times each way, each on a fresh store
 * under a temp dir in opts.dir (removed at the end):
 *
 *   off  applier_set_feed never called: no events, no 'X' records
 *        (but each partition's empty end key);
 *   on   applier_set_feed(changes, milestones, 10 .. 1000000): every
 *        message's events written in its store write, and after every
 *        trim_every rounds each partition's records dropped through
 *        applier_feed_trim, as central's publisher drops them once the
 *        topics hold them (0: records kept).
 *
 * Rounds alternate the order (off then on, then on then off, ...), so
 * neither side always runs on a machine the other has just warmed or
 * loaded. Only the replay is timed (the trims in it). After each round
 * the two stores must hold the same likes and views counts
 * (bench_central_compare), the on run must have made events and the off
 * run none, else the run fails.
 *
 * What this leaves out of the feed's cost is the publisher: reading the
 * records back, producing them to Kafka, reading the topics back. The
 * daemon benchmark (`sim/bench/bench.sh feed`) measures all of it.
 *
 * Single-threaded: the caller's thread does all the work (LevelDB's
 * compaction thread runs beside it).
 */
#ifndef SIM_BENCH_FEED_H
#define SIM_BENCH_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "sim/bench/mixgen.h"

#define BENCH_FEED_ROUNDS_MAX 16

typedef struct bench_feed_opts {
	mixgen_opts load;
	uint32_t rounds;     /* 1..BENCH_FEED_ROUNDS_MAX: runs each way */
	uint32_t trim_every; /* rounds of messages between trims; 0 = never */
	const char *dir;     /* parent of the run's temp dir */
} bench_feed_opts;

/* mixgen's defaults (1M ops), 3 rounds, a trim every round, /tmp. */
void bench_feed_opts_default(bench_feed_opts *o);

typedef struct bench_feed_side {
	double s, cpu_s; /* the replay's wall time and the thread's CPU time */
	uint64_t events; /* feed events the applier stored */
	uint64_t store_writes;
} bench_feed_side;

typedef struct bench_feed_result {
	mixgen load; /* the input's figures; parts freed (NULL) */
	uint32_t rounds;
	bench_feed_side off[BENCH_FEED_ROUNDS_MAX], on[BENCH_FEED_ROUNDS_MAX];
	double off_ops_per_s, on_ops_per_s; /* the medians, ops drawn over wall s */
	double on_vs_off;                   /* on_ops_per_s / off_ops_per_s */
	double on_vs_off_cpu;               /* median CPU s off / median CPU s on */
	uint64_t counts_compared;           /* count keys found equal, last round */
} bench_feed_result;

/* 0; ERR_INVAL for an option out of bounds; ERR_IO when a directory or
 * store failed; ERR_CORRUPT when the stores disagree or the events are
 * not as the switch says (err says how). On failure *r holds what was
 * measured so far. */
int bench_feed_run(const bench_feed_opts *o, bench_feed_result *r, char *err,
                   size_t errlen) WARN_UNUSED;

/* A few lines for people, or (json) one JSON object on one line:
 * off_ops_per_s, on_ops_per_s, central_apply_feed_on_vs_off and more. */
void bench_feed_print(FILE *f, const bench_feed_opts *o, const bench_feed_result *r, bool json);

#endif
