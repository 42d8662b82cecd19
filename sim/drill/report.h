/* report.h - what a drill run writes: summary.txt (for people),
 * report.json (for machines) and viral.svg (the viral item's true count
 * against each region's answered count over time, fault windows shaded,
 * ack p99 latency underneath), all in one directory. A drill that samples
 * its daemons' processes (procs_every) adds procs.csv (every reading),
 * procs.svg (RSS and open descriptors over time, the warm-up shaded) and
 * each daemon's verdict in the other two (sim/drill/soak.h). A drill that
 * cuts its run into latency intervals (latency_every) adds a table of
 * them and latency.svg (each edge's p99 per interval: its clients'
 * writes and reads, and its own; sim/drill/intervals.h).
 *
 * The runner feeds it as the drill goes; report_write renders. Not
 * thread-safe: one owner.
 */
#ifndef SIM_REPORT_H
#define SIM_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sim/drill/feedcheck.h"
#include "sim/drill/soak.h"

#define REPORT_SERIES_MAX 8 /* regions in the picture */
/* Processes sampled: every daemon a drill can run (20: 8 regions' two
 * instances and 4 centrals) and the instrument's two (sim, kafka). */
#define REPORT_NODES_MAX 24

typedef struct report report;

report *report_new(const char *drill, bool short_run, unsigned regions);
void report_free(report *r);

/* A fault window [start_s, end_s] with a label (end < 0: open until the
 * end of the run). */
void report_fault(report *r, double start_s, double end_s, const char *label);
/* One sample of the picture: the viral item's true count, each region's
 * answer (-1: no answer), and the ack p99 (ms) over the last interval. */
void report_sample(report *r, double t_s, uint64_t truth, const int64_t *answered,
                   unsigned nregions, double p99_ms);
/* What a latency row times. */
enum report_kind { REPORT_WRITES, REPORT_READS, REPORT_HEARTS };

/* A latency row: phase label, what it times (enum report_kind),
 * quantiles in ms. */
void report_latency(report *r, const char *phase, int kind, uint64_t n, double p50_ms,
                    double p99_ms, double p999_ms);
/* A latency row's kind as a word: write, read, me. */
const char *report_kind_name(int kind);
/* One edge's figures while it was ready (its /readyz answered 200), for
 * its clients, over one rate phase or the whole run. */
typedef struct report_ready_row {
	char edge[16];   /* "edge2" */
	char phase[64];  /* "300 ops/s from 0.0s", "whole run" */
	uint64_t writes; /* acks */
	double w_p50_ms, w_p99_ms, w_p999_ms;
	uint64_t reads; /* answered count reads */
	double r_p50_ms, r_p99_ms;
	uint64_t read_errors;
	double readthroughs; /* count read-throughs to central; < 0: unknown */
	uint64_t hearts;     /* answered heart reads (GET /v1/me) of users at home */
	double m_p50_ms, m_p99_ms;
	double me_readthroughs; /* home users' memberships read through; < 0: unknown */
	/* The edge's own p99 for writes and count reads: the upper bound of
	 * its histogram bucket (INFINITY: past the last; < 0: unknown). */
	double w_srv_p99_ms, r_srv_p99_ms;
} report_ready_row;

/* Adds a row (copied; strings cleaned) to the "ready edges" table. */
void report_ready(report *r, const report_ready_row *row);

/* One edge's latency over one interval of a drill cut into intervals
 * (sim/drill/intervals.h). */
typedef struct report_interval_row {
	char edge[16];
	unsigned index; /* 0-based */
	double t0_s, t1_s;
	bool complete; /* spans a whole interval (the last may not) */
	uint64_t writes, reads;
	double w_p50_ms, w_p99_ms, w_p999_ms;
	double r_p50_ms, r_p99_ms;
	/* The edge's own p99, as report_ready_row has them. */
	double w_srv_p99_ms, r_srv_p99_ms;
	/* The instrument's p99s, the same for every edge's row of the
	 * interval (intervals.h; < 0: unknown): the load's loop lag, the
	 * answers' wait in their sockets for it, the machine's timer wake-up
	 * lateness and its empty round trip. */
	double lag_p99_ms, hand_p99_ms, wake_p99_ms, echo_p99_ms;
} report_interval_row;

/* Adds a row (copied; strings cleaned) to the intervals table and its
 * picture; limit_ms and srv_limit_ms (< 0: none) are drawn there. */
void report_interval(report *r, const report_interval_row *row);
void report_interval_limits(report *r, double limit_ms, double srv_limit_ms);
/* A region's active instance lost (killed, wiped, stopped) with a
 * standby (drill.h standby): how long until the other instance
 * acknowledged a write, and what the lost one held. */
typedef struct report_takeover_row {
	char region[16]; /* "edge1" */
	char lost[48];   /* "edge1 (r1-a)" */
	char by[48];     /* the instance that took over; "" when none did */
	char step[128];  /* the step as written */
	double at_s;
	double seconds;     /* from the step to that first ack; < 0: none */
	uint64_t in_flight; /* writes whose latest attempt was at the lost one */
	/* Its gauges at the loss: ops in open batches, sealed batches central
	 * had not confirmed; < 0: not known. */
	double pending_ops, pending_batches;
} report_takeover_row;

/* Adds a row (copied; strings cleaned) to the "takeovers" table. */
void report_takeover(report *r, const report_takeover_row *row);
/* Time from a heal (or the end of the load) to every count agreeing. */
void report_convergence(report *r, const char *after, double seconds, bool converged);
/* A failed check: item, counter, where, expected, seen. */
void report_violation(report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Any other number for report.json and the summary ("ops_acked", ...). */
void report_number(report *r, const char *key, double value);
void report_text(report *r, const char *key, const char *value);

/* One reading of a process (a daemon's, or the instrument's: sim,
 * kafka); the first REPORT_NODES_MAX node
 * names are kept, readings of others are dropped (and counted). */
void report_proc(report *r, const char *node, int pid, const soak_sample *s);
/* The load's own thread's scheduling figures at t_s, read with the
 * daemons', for the same summary (the instrument's share). */
void report_load_sched(report *r, double t_s, double cpu_s, double wait_s, double slices);
/* The verdict on a node's readings and the bound it was held to. */
void report_proc_verdict(report *r, const char *node, const soak_verdict *v, const soak_bound *b);
/* The levels of one of the instrument's own processes (sim, its Kafka),
 * reported beside the daemons' verdicts and never judged. */
void report_proc_instrument(report *r, const char *node, const soak_verdict *v);
/* The warm-up the verdicts leave out, and the interval between readings. */
void report_proc_rules(report *r, double warmup_s, double every_s);

/* The change feed's replay check (sim/drill/feedcheck.h): state says
 * what was done ("checked", "off (feed 0)", or why it could not run), f
 * its figures (NULL: none), examples the first faults it found. Copied;
 * a second call replaces the first. The violations themselves go
 * through report_violation. */
void report_feed(report *r, const char *state, const feedcheck_figures *f,
                 const char *const *examples, size_t nexamples);

size_t report_violations(const report *r);
/* True when there is no violation and every convergence converged. */
bool report_passed(const report *r);
/* Writes the files into dir (which exists). 0 or ERR_IO. */
int report_write(report *r, const char *dir) WARN_UNUSED;

#endif
