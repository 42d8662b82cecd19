/* intervals.h - a long drill's latency cut into equal intervals, per
 * edge, and the rules that hold it flat (drill.h: latency_every and the
 * interval_* expectations; make soak).
 *
 * At each interval's end the runner hands over, for every edge, what
 * the edge's clients saw while it was ready (the load's ready window:
 * write acks and count reads, histograms in microseconds) and what the
 * edge itself measured (its request-duration buckets of writes and of
 * count reads over the interval, ready.h's per-bucket counts). The
 * series keeps each interval's histograms, so any run of intervals can
 * be merged and its quantiles read.
 *
 * The rules, per edge, over complete intervals only (the last one is
 * partial when the run is not a whole number of them):
 *  - every interval after the first INTERVALS_SKIP: the clients' write
 *    p99 and read p99 at most interval_p99_ms, the edge's own write and
 *    read p99 (the bound of its bucket) at most interval_edge_p99_ms;
 *  - drift: the clients' write p99 and read p99 over the last
 *    INTERVALS_WINDOW intervals, merged, at most (1 + interval_drift)
 *    times the same over the INTERVALS_WINDOW after the first
 *    INTERVALS_SKIP (the windows overlap in runs shorter than
 *    INTERVALS_SKIP + 2 * INTERVALS_WINDOW intervals);
 *  - fewer than INTERVALS_SKIP + 1 complete intervals cannot be judged,
 *    which is a failure when any interval rule is expected.
 * An interval in which an edge had no ready op of a kind holds nothing
 * for that kind. Latency rules bind the full run only (drill.h).
 *
 * Pure: no I/O. Not thread-safe: the runner's thread.
 */
#ifndef SIM_INTERVALS_H
#define SIM_INTERVALS_H

#include <stdbool.h>
#include <stddef.h>

#include "sim/drill/drill.h"
#include "sim/drill/hist.h"
#include "sim/drill/ready.h"
#include "sim/drill/report.h"

#define INTERVALS_SKIP 2   /* the first intervals, warm-up, held by no rule */
#define INTERVALS_WINDOW 5 /* intervals merged at each end for the drift rule */

/* One edge's interval. */
typedef struct interval_cell {
	hist w, r;                   /* the clients' ready write acks and count reads */
	double srv_w[READY_BUCKETS]; /* the edge's own, per bucket */
	double srv_r[READY_BUCKETS];
	bool have_srv; /* the edge's buckets were read at both ends */
} interval_cell;

typedef struct intervals {
	unsigned nedges;
	double every_s;
	size_t n, cap;        /* intervals recorded */
	double *t0_s, *t1_s;  /* each interval's span */
	interval_cell *cells; /* [interval * nedges + edge] */
	/* Per interval, the instrument's own lateness (us): the load's loop
	 * and the answers' wait for it (load_take_lag), and the machine's
	 * timer wake-ups and empty round trips between two threads
	 * (wakeprobe.h). A client figure holds the like of the last two (the
	 * edge's wake-ups) but not the load's hand-off, save a request queued
	 * behind another answer on its connection; no edge's does. */
	hist *lag, *hand, *wake, *echo;
} intervals;

void intervals_init(intervals *iv, unsigned nedges, double every_s);
void intervals_free(intervals *iv);

/* Starts a new interval [t0_s, t1_s] and returns its cells (nedges of
 * them, zeroed) for the caller to fill. */
interval_cell *intervals_add(intervals *iv, double t0_s, double t1_s);

/* The last interval's instrument figures (any NULL: not known). */
void intervals_set_instrument(intervals *iv, const hist *lag, const hist *hand, const hist *wake,
                              const hist *echo);

/* True when interval i spans a whole every_s (to within 1%). */
bool intervals_complete(const intervals *iv, size_t i);

/* Edge e's interval i as a report row: counts, the clients' p50, p99
 * and p99.9, the edge's own p99 bounds and the instrument's p99
 * lateness (< 0: unknown). */
void intervals_row(const intervals *iv, size_t i, unsigned e, const char *edge_name,
                   report_interval_row *out);

/* Holds the series to d's interval expectations (nothing in a short
 * run but the counts: there are none); each miss is a violation in r
 * naming the edge, the interval and the figure. Returns the misses. */
size_t intervals_check(const intervals *iv, const drill *d, bool short_run,
                       const char *const *edge_names, report *r);

#endif
