/* benchgen.h - the input sim's applier benchmarks (bench-central,
 * bench-views, bench-feed) build and replay: a table of item names with
 * their partitions, a Zipf-like popularity to draw items from, and per
 * partition the log of sealed wire messages in order, applied to
 * central's applier round by round. The caller owns
 * every table and log; one thread at a time.
 */
#ifndef SIM_BENCHGEN_H
#define SIM_BENCHGEN_H

#include <stddef.h>
#include <stdint.h>

#include "central/apply/apply.h"
#include "wire.h"

#define BENCHGEN_ITEM_STRIDE 16 /* a 4-letter type, ':', up to 10 digits, NUL */

/* Items "<type>:<i>" for i below n, and the partition of each. */
typedef struct benchgen_items {
	char *names; /* n * BENCHGEN_ITEM_STRIDE */
	uint8_t *len;
	uint32_t *part;
} benchgen_items;

/* type is at most 4 characters, so each name fits its stride. */
void benchgen_items_init(benchgen_items *it, const char *type, uint32_t n, uint32_t partitions);
void benchgen_items_free(benchgen_items *it);

/* Item i's name, a view into the table. */
static inline wire_str benchgen_item(const benchgen_items *it, uint32_t i)
{
	return wire_cstr(it->names + (size_t)i * BENCHGEN_ITEM_STRIDE, it->len[i]);
}

/* A Zipf-like popularity over n items: rank i (from 0) has weight
 * 1 / (i + 1)^s. Draws are a binary search of the cumulative weights. */
typedef struct benchgen_zipf {
	double *cdf; /* cumulative weights, the last one 1 */
	uint32_t n;
} benchgen_zipf;

/* n >= 1. */
void benchgen_zipf_init(benchgen_zipf *z, uint32_t n, double s);
void benchgen_zipf_free(benchgen_zipf *z);
/* An item in 0..n-1, drawn with the next value of the sequence *rng
 * seeds (bench_splitmix). */
uint32_t benchgen_zipf_draw(const benchgen_zipf *z, uint64_t *rng);

/* The edges the generators seal batches for: edge e is "e<e>" in region
 * "r<e>", e below BENCHGEN_EDGES. */
#define BENCHGEN_EDGES 3

/* Region "r<e>" (e < BENCHGEN_EDGES), a view of a constant. */
wire_str benchgen_region(unsigned e);

/* Edge e's batch of partition p with sequence seq, sealed at created_ms:
 * its header, no ops yet (e < BENCHGEN_EDGES). */
wire_batch benchgen_batch(unsigned e, uint32_t p, uint64_t seq, uint64_t created_ms);

#define BENCHGEN_USER_STRIDE 24 /* "u" and up to 20 digits, NUL */

/* User u as "u<u>", written into buf (BENCHGEN_USER_STRIDE bytes): a
 * view of buf. */
wire_str benchgen_user(char *buf, uint64_t u);

/* One sealed message (malloc'ed by the wire encoder). */
typedef struct benchgen_msg {
	char *buf;
	size_t len;
} benchgen_msg;

/* One partition's sealed messages, in order; a zeroed log is empty. */
typedef struct benchgen_log {
	benchgen_msg *m;
	size_t n, cap;
} benchgen_log;

/* Appends m to l, which takes it; raises *longest to l's length. */
void benchgen_log_push(benchgen_log *l, benchgen_msg m, size_t *longest);

/* Frees the messages and arrays of logs[0..partitions), then logs
 * itself (xcalloc'ed by the caller). NULL is a no-op. */
void benchgen_logs_free(benchgen_log *logs, uint32_t partitions);

/* Applies message i of every partition's log (at offset i) before
 * message i + 1 of any, longest rounds in all; in *wall_s and *cpu_s the
 * time and the calling thread's CPU time that took. 0, or the first
 * failure's code (the rest not applied). */
int benchgen_apply(applier *a, const benchgen_log *logs, uint32_t partitions, size_t longest,
                   double *wall_s, double *cpu_s);

/* After round i of benchgen_apply_rounds (message i of every partition
 * that has one applied): 0 to go on, or an error that stops the replay.
 * Its time counts in the replay's. */
typedef int (*benchgen_round_fn)(void *ctx, applier *a, size_t round);

/* benchgen_apply, with fn (when not NULL) called after every round. */
int benchgen_apply_rounds(applier *a, const benchgen_log *logs, uint32_t partitions, size_t longest,
                          benchgen_round_fn fn, void *ctx, double *wall_s, double *cpu_s);

/* The change feed as the benchmarks run it in-process (there is no
 * publisher): the applier storing every message's events in its 'X'
 * record (feed.milestones' default thresholds), and after every `every`
 * rounds of a replay each partition's records up to that round dropped,
 * as the publisher drops what it has read back from the topics. */
typedef struct benchgen_feed {
	const benchgen_log *logs;
	uint32_t partitions;
	uint32_t every; /* 0: records never dropped */
	uint64_t *from; /* per partition: the first version not yet dropped */
} benchgen_feed;

/* Turns a's feed on for a replay of logs[0..partitions); f is then the
 * ctx of benchgen_feed_round. Start-up, before a's first message. */
void benchgen_feed_on(benchgen_feed *f, applier *a, const benchgen_log *logs, uint32_t partitions,
                      uint32_t every);
/* A benchgen_round_fn: the drop after round `round` (ctx: the
 * benchgen_feed). */
int benchgen_feed_round(void *ctx, applier *a, size_t round);
void benchgen_feed_free(benchgen_feed *f);

#endif
