/* run_int.h - one drill's runner (run.c), shared with the watches it
 * keeps over the run (run_watch.c: latency per interval and the
 * daemons' process readings) and with what it does for regions that
 * run a standby (run_standby.c: which instance a step acts on, the
 * takeovers it times, the instances taken over from that must exit
 * fenced). Private to sim/drill/. Main thread.
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
#include "sim/drill/wakeprobe.h"

#define TICK_MS 250
#define READY_POLL_MS 1000 /* every edge's /readyz; not-ready ones every tick */
#define WINDOWS_MAX 64
#define NODES_MAX (DRILL_REGIONS_MAX * CLUSTER_INSTANCES_MAX + DRILL_CENTRALS_MAX)
#define TAKEOVERS_MAX 64
#define FENCE_WAIT_S 10.0        /* a resumed instance taken over from exits within this */
#define AIM_WRITES 5             /* write attempts sent to it as it resumes */
#define LOG_READ_MAX (64u << 20) /* of a daemon's log, for its config lines */

/* A fault in force, from the step that made it to the one that ends it;
 * or a heal waiting for the regions to catch up. */
typedef struct window {
	int key;
	int scope; /* where it may hold up a change on its way home (run_fault_scope) */
	double start;
	uint64_t truth; /* heals: the viral item's true count at the heal */
	char label[128];
} window;

/* A region's active instance lost by a step (killed, wiped, stopped),
 * until its other instance acknowledges a write. */
typedef struct takeover {
	unsigned region, lost; /* the instance lost */
	double at_s;
	uint64_t at_us; /* mono */
	char step[128];
	bool have_pending;
	double pending_ops, pending_batches; /* its gauges at the loss */
	uint64_t in_flight;                  /* writes at it then */
	bool done;
	double took_s; /* < 0: no takeover */
} takeover;

/* An instance resumed after another took over from it: it must refuse
 * every write and exit fenced (CLUSTER_EXIT_FENCED). */
typedef struct fence_watch {
	bool on;
	double resumed_s;
	bool healed; /* back by a heal of its regional link, not a resume */
	uint64_t not_active, not_replicated, failed, acked; /* its figures then */
} fence_watch;

#define RUN_INSTRUMENTS 2

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
	/* ms the schedule was held by the runner's own waits (a cluster
	 * back in sync after a broker's return, run_faults.c): the steps
	 * after such a wait, and the load's end, move by as much, so that
	 * they keep the intervals the drill gives them. */
	uint64_t held_ms;
	ready_watch rw;                      /* which edges are ready; their read-throughs */
	cpustat phase_cpu[READY_PHASES_MAX]; /* the machine's CPU at each ready phase's start */
	bool phase_cpu_ok[READY_PHASES_MAX];
	proc_series procs[NODES_MAX]; /* edges, then centrals */
	/* The instrument's own processes, read as the daemons are and
	 * reported, never judged: sim itself, then the main Kafka cluster. */
	proc_series instruments[RUN_INSTRUMENTS];
	bool interrupted; /* SIGINT or SIGTERM during the load */
	/* Latency intervals (latency_every): the series, when the current
	 * one started, and each edge's own request buckets then. */
	intervals iv;
	double iv_start_s;
	wakeprobe *wp; /* the machine's wake-up lateness, while intervals run */
	double iv_srv[DRILL_REGIONS_MAX][READY_ROUTES][READY_BUCKETS];
	/* Standbys (run_standby.c): the takeovers timed, the instances
	 * that must exit fenced, and per region the instance that
	 * acknowledged its writes over time. */
	takeover tk[TAKEOVERS_MAX];
	size_t ntk;
	fence_watch fence[DRILL_REGIONS_MAX][CLUSTER_INSTANCES_MAX];
	int acked_by[DRILL_REGIONS_MAX];
	char acked_text[DRILL_REGIONS_MAX][512];
	/* The instance of each region cut from its own Kafka by a step
	 * (inst + 1; 0: none), watched for its fenced exit once healed. */
	int regional_cut[DRILL_REGIONS_MAX];
	/* The node a cut between a region's nodes found leading (0: none). */
	int cut_leader[DRILL_REGIONS_MAX];
	/* Exits no step made (a fenced one, a crash), per region. */
	bool exit_seen[DRILL_REGIONS_MAX][CLUSTER_INSTANCES_MAX];
	/* Lost by a step while it was the region's active instance (run_lost),
	 * since it last started: only such an instance, back, must exit
	 * fenced; a standby paused and resumed goes on as one. */
	bool lost_active[DRILL_REGIONS_MAX][CLUSTER_INSTANCES_MAX];
	char exits_text[DRILL_REGIONS_MAX][512];
} runner;

static inline double run_now_s(const runner *rn)
{
	/* Before the load starts (the cluster coming up, the wait for
	 * every edge to be ready) the run's clock stands at 0. */
	return rn->t0 ? (double)(clock_mono_ms() - rn->t0) / 1000.0 : 0;
}

/* The seconds the schedule was held (runner.held_ms). */
static inline double run_held_s(const runner *rn)
{
	return (double)rn->held_ms / 1000.0;
}

/* Faults (run_faults.c). The fault window key of step s (its node and
 * kind), and its scope: where it may hold up a change on its way to its
 * user's home edge, a region (its edges, its own Kafka), RUN_SCOPE_ALL
 * (a central, central's Kafka, a central's path slowed) or
 * RUN_SCOPE_NONE (an edge's path slowed, a clock: what converge_ms
 * covers); a window opened under key, scope and label,
 * closed (with span, the keys key..key+span: a cluster's nodes) by the
 * step healed_by names. The load learns which scopes have a window in
 * force (load_set_stalled) as they open and close; run_stalls_tell
 * tells it again after the runner's own changes of rn->open. */
#define RUN_SCOPE_NONE (-2)
#define RUN_SCOPE_ALL (-1)
int run_fault_key(const drill_step *s);
int run_fault_scope(const drill_step *s);
void run_window_open(runner *rn, int key, int scope, const char *label);
void run_stalls_tell(runner *rn);
void run_window_close_span(runner *rn, int key, int span, const char *healed_by);
void run_window_close(runner *rn, int key, const char *healed_by);
/* The steps on a path of node n, on a region's changelog (trim), on
 * users' homes (move) and on a Kafka cluster: 0, or the step's error
 * (logged). */
int run_path_step(runner *rn, const drill_step *s, cluster_node *n);
int run_trim_step(runner *rn, const drill_step *s);
int run_move_step(runner *rn, const drill_step *s);
int run_broker_step(runner *rn, const drill_step *s);
/* A clock step (jump: on node n; reset: on every instance a jump of
 * the same name moved), and the final heal's reset of n's clock. */
int run_clock_step(runner *rn, const drill_step *s, cluster_node *n);
void run_clock_heal(cluster_node *n);
/* cut / heal between nodes of a region's cluster (kafkaR.A kafkaR.B):
 * "leader" in a cut is the node leading the region's changelog
 * partition when the step runs, in a heal the one the region's last cut
 * named so; "others" every node but the first. */
int run_brokers_step(runner *rn, const drill_step *s);
/* A Kafka process of the drill that exited on its own is a violation. */
void run_check_kafka(runner *rn);

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

/* The figures the report holds once the load has stopped: the load's
 * numbers (heart reads, central's applied batches), the machine's CPU
 * per rate phase, each edge's ready figures (run_figures.c). */
void run_figures(runner *rn);

/* Region i's instance inst is not ready from now on (gone: its process
 * is about to go; its read-throughs and gauges are read first). */
void run_edge_down(runner *rn, unsigned i, unsigned inst, bool gone);

/* Standbys (run_standby.c). The instance of region i that is active now:
 * the one whose /readyz says it is the writer, else the one that
 * acknowledged the region's last write while it still runs, else one
 * that runs; always 0 without standby. */
unsigned run_active(runner *rn, unsigned i);
/* The edge instance step s acts on (drill.h: the active one, the
 * standby, the one down for start, the one stopped for cont), with
 * *inst; NULL when there is none such. */
cluster_node *run_step_instance(runner *rn, const drill_step *s, unsigned *inst);
/* Step s is about to kill, wipe or stop instance inst of region i, the
 * active one: its gauges are read and the takeover is timed from now. */
void run_lost(runner *rn, unsigned i, unsigned inst, const drill_step *s);
/* The cluster's spawned hook (arg: the runner): an edge's new process
 * exists and may answer before it is ready, so the load's count of its
 * starts moves now, not once cluster_node_start returns: an answer the
 * process gives meanwhile is its new life's (sim/drill/check_answers.c
 * holds an answer only to what the same life acknowledged). */
void run_spawned(void *arg, const cluster_node *n);
/* Instance inst of region i was started again (a new process, which
 * no instance took over from; a start step calls it whether or not the
 * process got ready) or killed by a step (its fence watch, if any,
 * ends: it will not exit fenced). */
void run_instance_started(runner *rn, unsigned i, unsigned inst);
void run_instance_killed(runner *rn, unsigned i, unsigned inst);
/* Instance inst of region i was resumed (SIGCONT): when another
 * instance took over meanwhile, a few writes are aimed at it and it
 * must exit fenced. */
void run_resumed(runner *rn, unsigned i, unsigned inst);
/* Instance inst of region i was cut from its region's Kafka by a step;
 * healed, when another instance took over meanwhile it is watched as a
 * resumed one is (run_resumed): it must exit fenced. */
void run_regional_cut(runner *rn, unsigned i, unsigned inst);
void run_regional_healed(runner *rn, unsigned i);
/* Every tick: takeovers seen, fenced exits, exits no step made, who
 * acknowledges. */
void run_standby_tick(runner *rn);
/* At the end (after the drain): waits for the fence watches, then the
 * takeovers, acks per instance and every miss go to the report. */
void run_standby_figures(runner *rn);

#endif
