/* run_int.h - one drill's runner (run.c), shared with the watches it
 * keeps over the run (run_watch.c: latency per interval and the
 * daemons' process readings). Private to sim/drill/. Main thread.
 */
#ifndef SIM_DRILL_RUN_INT_H
#define SIM_DRILL_RUN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "clock.h"
#include "sim/drill/cluster.h"
#include "sim/drill/cpustat.h"
#include "sim/drill/drill.h"
#include "sim/drill/intervals.h"
#include "sim/drill/load.h"
#include "sim/drill/ready.h"
#include "sim/drill/report.h"
#include "sim/drill/run.h"
#include "sim/drill/soak.h"

#define TICK_MS 250
#define READY_POLL_MS 1000 /* every edge's /readyz; not-ready ones every tick */
#define WINDOWS_MAX 64
#define NODES_MAX (DRILL_REGIONS_MAX + DRILL_CENTRALS_MAX)
#define LOG_READ_MAX (64u << 20) /* of a daemon's log, for its config lines */

/* A fault in force, from the step that made it to the one that ends it;
 * or a heal waiting for the regions to catch up. */
typedef struct window {
	int key;
	double start;
	uint64_t truth; /* heals: the viral item's true count at the heal */
	char label[128];
} window;

/* A daemon's process readings (procs_every): those of its latest run,
 * which is what the verdict judges. */
typedef struct proc_series {
	soak_sample *s;
	size_t n, cap;
	pid_t pid;
	unsigned runs; /* processes seen */
} proc_series;

typedef struct runner {
	const run_opts *o;
	drill d;
	cluster c;
	load *l;
	report *r;
	uint64_t t0; /* mono ms when the load started */
	window open[WINDOWS_MAX];
	size_t nopen;
	/* heals waiting for every region to catch up with the truth */
	window heals[WINDOWS_MAX];
	size_t nheals;
	unsigned phase;
	char phase_names[LOAD_PHASES_MAX][128];
	bool failed_step;
	ready_watch rw;                      /* which edges are ready; their read-throughs */
	cpustat phase_cpu[READY_PHASES_MAX]; /* the machine's CPU at each ready phase's start */
	bool phase_cpu_ok[READY_PHASES_MAX];
	proc_series procs[NODES_MAX]; /* edges, then centrals */
	bool interrupted;             /* SIGINT or SIGTERM during the load */
	/* Latency intervals (latency_every): the series, when the current
	 * one started, and each edge's own request buckets then. */
	intervals iv;
	double iv_start_s;
	double iv_srv[DRILL_REGIONS_MAX][READY_ROUTES][READY_BUCKETS];
} runner;

static inline double run_now_s(const runner *rn)
{
	return (double)(clock_mono_ms() - rn->t0) / 1000.0;
}

/* Latency per interval (latency_every, run_watch.c): starts the first
 * interval, ends the current one at t_s, and puts the series into the
 * report held to the drill's expectations. */
void run_interval_begin(runner *rn);
void run_interval_end(runner *rn, double t_s);
void run_interval_figures(runner *rn);

/* Process readings (procs_every, run_watch.c): reads every running
 * daemon's RSS, descriptors and memory holders; judges each daemon's
 * series at the end (soak.h). */
void run_sample_procs(runner *rn);
void run_judge_procs(runner *rn);

#endif
