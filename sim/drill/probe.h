/* probe.h - `sim converge-probe`: how long a like acknowledged by one edge
 * takes to show in the count answers of another edge.
 *
 * Every interval_ms for duration_ms the probe takes a fresh item, reads
 * its count at edge B (the baseline: GET /v1/items/{type}/{id}/{counter}),
 * then likes it at edge A as a fresh user (POST, X-User-Id) and notes when
 * A's answer arrived: the ack. It asks B for the counts of the likes not
 * yet seen there (GET /v1/counts?items=...&counters=..., batch_items
 * items per request): each like at once, then again every poll_ms, or
 * every 1/poll_frac of its age once that is longer (so a like waiting
 * seconds is asked about every few tens of ms: a backlog of likes does
 * not turn into a flood of polls that takes CPU from what it measures).
 * A like is visible when B's count is above its baseline; the time of
 * the first answer that shows it, minus the ack, is one sample. A like
 * still not visible timeout_ms after its ack is counted as timed out,
 * not as a sample.
 *
 * Resolution: a sample is late by at most one poll interval or
 * 1/poll_frac of itself, whichever is more, plus one GET; never early.
 * Both edges must trust X-User-Id (identity.dev_header), and each
 * request goes over one kept-alive HTTP/1.1 connection per edge.
 *
 * Single-threaded: the caller's thread does all the work with blocking
 * sockets and deadlines.
 */
#ifndef SIM_PROBE_H
#define SIM_PROBE_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define PROBE_PREFIX_MAX 40       /* id and user prefixes, bytes */
#define PROBE_PENDING_MAX 10000   /* likes waiting to show at once */
#define PROBE_BATCH_ITEMS_MAX 100 /* the edge's default api.max_items */
#define PROBE_BODY_MAX (1u << 20) /* an answer body above this is an error */

typedef struct probe_opts {
	int port_a, port_b;       /* loopback ports: likes go to A, reads to B */
	const char *type;         /* item type, "post" */
	const char *counter;      /* a set counter, "likes" */
	const char *id_prefix;    /* items are type:<id_prefix><n>, [A-Za-z0-9_-] */
	const char *user_prefix;  /* users are <user_prefix><n> */
	uint32_t duration_ms;     /* how long new likes are sent, 1..86400000 */
	uint32_t interval_ms;     /* between two likes, 1..60000 */
	uint32_t poll_ms;         /* between two polls of a like at B, 1..1000 */
	uint32_t poll_frac;       /* or its age / poll_frac when longer; 0..1000, 0 = off */
	uint32_t timeout_ms;      /* per like, 1..3600000 */
	uint32_t batch_items;     /* items per batch GET, 1..PROBE_BATCH_ITEMS_MAX */
	uint32_t max_pending;     /* 1..PROBE_PENDING_MAX; a like is skipped above */
	uint32_t http_timeout_ms; /* per request, 1..600000 */
} probe_opts;

/* post, likes, ids "cvg<pid>-", users "cvgu<pid>-", 10 s, a like every
 * 20 ms, a poll every 2 ms or 1% of the like's age, 30 s timeout, 100 items per GET, 1000
 * pending, 2 s per request. Ports are left 0. */
void probe_opts_default(probe_opts *o);

typedef struct probe_result {
	uint64_t likes;     /* acknowledged by A as new likes */
	uint64_t visible;   /* of those, seen at B: the samples */
	uint64_t timed_out; /* of those, not seen at B in timeout_ms */
	uint64_t errors;    /* baseline or like failed or refused: no sample */
	uint64_t skipped;   /* not sent: max_pending likes were waiting */
	uint64_t polls;     /* batch GETs sent to B */
	uint64_t poll_errors;
	uint32_t poll_ms, poll_frac;
	/* Of the samples, ms; 0 when there are none. */
	double min_ms, p50_ms, p90_ms, p99_ms, max_ms, mean_ms;
} probe_result;

/* Runs the probe, filling *r. 0 when the run went to its end, whatever
 * the edges answered (failures are counted in *r); ERR_INVAL for an option
 * out of bounds (err says which). */
int probe_run(const probe_opts *o, probe_result *r, char *err, size_t errlen) WARN_UNUSED;

/* The q-quantile (0 < q <= 1) of n ascending values by nearest rank: the
 * smallest value with at least q * n values at or below it; 0 for n = 0. */
double probe_quantile(const double *sorted, size_t n, double q);
/* Sorts v[0..n) ascending (for probe_quantile). */
void probe_sort(double *v, size_t n);

/* A few lines for people. */
void probe_print_table(FILE *f, const probe_result *r);
/* One JSON object on one line: every field of *r, the ms figures as
 * convergence_*_ms (null when there are no samples). */
void probe_print_json(FILE *f, const probe_result *r);

#endif
