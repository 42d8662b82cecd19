/* run.c - runs one drill (run.h). Main thread. */
#include "sim/drill/run.h"
#include "sim/drill/run_int.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim/drill/check.h"
#include "clock.h"
#include "sim/drill/cpustat.h"
#include "sim/drill/cluster.h"
#include "sim/drill/drill.h"
#include "sim/drill/hist.h"
#include "sim/drill/intervals.h"
#include "sim/drill/load.h"
#include "log.h"
#include "sim/drill/ready.h"
#include "sim/drill/report.h"
#include "sim/drill/soak.h"
#include "sim/drill/trim.h"
#include "xmem.h"

_Static_assert(DRILL_CLIENT_CONNS_MAX <= LOAD_CONNS_MAX, "client_conns fits the load");

/* --- readiness --------------------------------------------------------------- */

/* Polls the edges (all, or only the regions where no instance answers
 * ready: loading) and tells the load. An instance that did not answer
 * at all is asked once a second only, as each try may wait out the
 * timeout. */
static void poll_ready(runner *rn, bool all)
{
	for (unsigned i = 0; i < rn->d.regions; i++) {
		bool any = ready_region(&rn->rw, i);
		for (unsigned k = 0; k < rn->rw.ninst; k++) {
			const ready_edge *e = &rn->rw.e[READY_SLOT(i, k)];
			if (!all && (any || e->last_status == 0))
				continue;
			(void)ready_poll_instance(&rn->rw, &rn->c, i, k, run_now_s(rn), false);
		}
		load_set_region_ready(rn->l, i, ready_region(&rn->rw, i));
	}
}

void run_edge_down(runner *rn, unsigned i, unsigned inst, bool gone)
{
	if (gone)
		(void)ready_poll_instance(&rn->rw, &rn->c, i, inst, run_now_s(rn), true);
	ready_down(&rn->rw.e[READY_SLOT(i, inst)], gone);
	load_set_region_ready(rn->l, i, ready_region(&rn->rw, i));
}

/* What a wipe of instance n may lose: ops it acknowledged that central
 * has not confirmed applying yet (its gauges, as run_edge_down just
 * read them). */
static void wipe_note(runner *rn, const cluster_node *n)
{
	const ready_edge *e = &rn->rw.e[READY_SLOT((unsigned)n->index, (unsigned)n->inst)];
	char key[64], text[256];
	snprintf(key, sizeof key, "wipe_at_%.1fs", run_now_s(rn));
	if (!e->have_pending)
		snprintf(text, sizeof text, "%s: its pending ops were not known (no metrics)",
		         n->label);
	else if (e->pending_ops > 0 || e->pending_batches > 0)
		snprintf(text, sizeof text,
		         "%s: %.0f ops in open batches and %.0f sealed batches central had not "
		         "confirmed applying (lost with the store unless Kafka had them already)",
		         n->label, e->pending_ops, e->pending_batches);
	else
		snprintf(text, sizeof text, "%s: nothing pending, central had every op", n->label);
	report_text(rn->r, key, text);
	log_info("wiping an edge", "node=%s pending=\"%s\"", n->name, text);
}

/* With heart reads, the load waits (30 s at most) until every edge is
 * ready, as a CDN sends no user to an edge that is not: a fresh edge
 * knows its home users' pairs only for posts liked after it began to
 * read its home stream (docs/events.md, "Home streams"), so likes taken
 * before would be read through for as long as their posts stay liked.
 * With standbys too: until one instance of a region has taken the
 * changelog over (takeover_ms after the start), both refuse every
 * write, and a load started before would measure the start-up. */
static void wait_all_ready(runner *rn)
{
	uint64_t now = clock_mono_ms(), until = now + 30000, next_all = now;
	for (;;) {
		/* Every instance once a second, as the timeline does: one that
		 * never answered yet is skipped by the quicker polls, and at
		 * the start none has (this wait once always ran its 30 s). */
		bool every = clock_mono_ms() >= next_all;
		if (every)
			next_all = clock_mono_ms() + READY_POLL_MS;
		poll_ready(rn, every);
		bool all = true;
		for (unsigned i = 0; i < rn->d.regions; i++)
			all &= ready_region(&rn->rw, i);
		if (all || clock_mono_ms() >= until)
			break;
		struct timespec nap = {0, 50 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
}

/* A new rate phase of the ready figures. */
static void rate_phase(runner *rn, double rate, bool load_too)
{
	ready_poll(&rn->rw, &rn->c, load_too ? rn->l : NULL, run_now_s(rn));
	char name[READY_PHASE_NAME_MAX + 1];
	if (rate < 0)
		snprintf(name, sizeof name, "after the load");
	else
		snprintf(name, sizeof name, "%.0f ops/s from %.1fs", rate, run_now_s(rn));
	unsigned p = ready_phase(&rn->rw, name);
	rn->phase_cpu_ok[p] = cpustat_read(&rn->phase_cpu[p]);
	if (load_too)
		load_set_ready_phase(rn->l, p);
}

static int run_step(runner *rn, const drill_step *s)
{
	log_info("drill step", "t=%.1f step=\"%s\"", run_now_s(rn), s->text);
	if (rn->phase + 1 < LOAD_PHASES_MAX) {
		rn->phase++;
		snprintf(rn->phase_names[rn->phase], sizeof rn->phase_names[0], "%s", s->text);
		load_set_phase(rn->l, rn->phase);
	}
	bool edge = s->node == DRILL_EDGE;
	unsigned i = (unsigned)s->index, inst = 0;
	cluster_node *n = NULL;
	if (edge)
		n = run_step_instance(rn, s, &inst);
	else if (s->node)
		n = cluster_node_of(&rn->c, s->node, s->index);
	if (s->node && !n) {
		log_error("drill step has no instance to act on", "step=\"%s\"", s->text);
		return ERR_INVAL;
	}
	char err[256] = "";
	int rc = 0;
	/* A cut of the active instance's way out to its region's Kafka
	 * (forward, or both ways) loses the writer as surely as a kill. */
	bool cut_off = s->action == DRILL_CUT && s->link == DRILL_LINK_REGIONAL && (s->dir & 1);
	bool loses = s->action == DRILL_KILL || s->action == DRILL_WIPE ||
	             s->action == DRILL_STOP || cut_off;
	if (edge && loses && rn->d.standby && !s->standby && n->pid > 0 && !n->stopped) {
		run_lost(rn, i, inst, s);
		if (cut_off)
			run_regional_cut(rn, i, inst);
	}
	if (edge && (s->action == DRILL_KILL || s->action == DRILL_WIPE)) {
		run_edge_down(rn, i, inst, true);
		run_instance_killed(rn, i, inst);
	} else if (edge && (s->action == DRILL_STOP ||
	                    (s->action == DRILL_CUT && s->link == DRILL_LINK_CLIENTS))) {
		run_edge_down(rn, i, inst, false);
	}
	switch (s->action) {
	case DRILL_CUT:
	case DRILL_HEAL:
	case DRILL_DELAY:
	case DRILL_THROTTLE:
	case DRILL_RESET: return run_path_step(rn, s, n);
	case DRILL_KILL:
		rc = cluster_node_signal(n, SIGKILL);
		run_window_open(rn, run_fault_key(s), run_fault_scope(s), s->text);
		break;
	case DRILL_STOP:
		rc = cluster_node_signal(n, SIGSTOP);
		run_window_open(rn, run_fault_key(s), run_fault_scope(s), s->text);
		break;
	case DRILL_WIPE:
		wipe_note(rn, n);
		rc = cluster_node_wipe(n, err, sizeof err);
		run_window_open(rn, run_fault_key(s), run_fault_scope(s), s->text);
		break;
	case DRILL_START:
		rc = cluster_node_start(&rn->c, n, err, sizeof err);
		run_window_close(rn, run_fault_key(s), s->text);
		if (edge) { /* its incarnation starts now, not at the next poll */
			run_instance_started(rn, i, inst);
			load_set_region_ready(
			    rn->l, i, ready_poll_edge(&rn->rw, &rn->c, i, run_now_s(rn), false));
		}
		break;
	case DRILL_CONT:
		rc = cluster_node_signal(n, SIGCONT);
		run_window_close(rn, run_fault_key(s), s->text);
		if (edge && !rc)
			run_resumed(rn, i, inst);
		break;
	case DRILL_BROKER_DOWN:
	case DRILL_BROKER_UP:
	case DRILL_BROKER_RTT:
	case DRILL_BROKER_ERRORS:
	case DRILL_BROKER_PAUSE:
	case DRILL_BROKER_RESUME:
	case DRILL_BROKER_RESTART:
	case DRILL_BROKER_WIPE:
	case DRILL_REGIONAL_BROKER_DOWN:
	case DRILL_REGIONAL_BROKER_UP:
	case DRILL_REGIONAL_BROKER_PAUSE:
	case DRILL_REGIONAL_BROKER_RESUME:
	case DRILL_REGIONAL_BROKER_RESTART:
	case DRILL_REGIONAL_BROKER_WIPE:
	case DRILL_REGIONAL_DOWN:
	case DRILL_REGIONAL_UP: return run_broker_step(rn, s);
	case DRILL_BROKERS_CUT:
	case DRILL_BROKERS_HEAL: return run_brokers_step(rn, s);
	case DRILL_TRIM: return run_trim_step(rn, s);
	case DRILL_CLOCK_JUMP:
	case DRILL_CLOCK_RESET: return run_clock_step(rn, s, n);
	case DRILL_MOVE: return run_move_step(rn, s);
	case DRILL_REGION_DOWN:
		load_set_region_up(rn->l, (unsigned)s->index, false);
		run_window_open(rn, run_fault_key(s), run_fault_scope(s), s->text);
		break;
	case DRILL_REGION_UP:
		load_set_region_up(rn->l, (unsigned)s->index, true);
		run_window_close(rn, run_fault_key(s), s->text);
		break;
	case DRILL_LOAD_RATE: {
		double rate = drill_step_rate(&rn->d, s, rn->o->short_run);
		rate_phase(rn, rate, true);
		load_set_rate(rn->l, rate);
		break;
	}
	case DRILL_VIRAL: load_set_viral_share(rn->l, s->x); break;
	case DRILL_DISK_FULL:
		rc = cluster_disk(n, true);
		run_window_open(rn, run_fault_key(s), run_fault_scope(s), s->text);
		break;
	case DRILL_DISK_FREE:
		/* Every instance's disk: the one filled may no longer be active. */
		for (unsigned k = 0; rc == 0 && k < cluster_instances(&rn->c); k++)
			rc = cluster_disk(cluster_instance(&rn->c, i, k), false);
		run_window_close(rn, run_fault_key(s), s->text);
		break;
	}
	if (rc)
		log_error("drill step failed", "step=\"%s\" err=\"%s\" detail=\"%s\"", s->text,
		          err_str(rc), err);
	return rc;
}

/* Is instance n (not running) started again for the final checks? Not
 * when it exited fenced while another instance of its region runs: the
 * active one took over from it, and only a step starts it again. */
static bool restart_instance(runner *rn, const cluster_node *n)
{
	if (!rn->d.standby || !cluster_node_fenced(n))
		return true;
	cluster_node *o = cluster_instance(&rn->c, (unsigned)n->index,
	                                   (unsigned)(n->inst + 1) % CLUSTER_INSTANCES_MAX);
	return !cluster_node_alive(o);
}

/* Ends every fault: the state the final checks start from. */
static void heal_all(runner *rn)
{
	cluster *c = &rn->c;
	cluster_node *nodes[NODES_MAX];
	size_t nn = 0;
	for (unsigned i = 0; i < rn->d.regions; i++)
		for (unsigned k = 0; k < cluster_instances(c); k++)
			nodes[nn++] = cluster_instance(c, i, k);
	for (unsigned j = 0; j < rn->d.centrals; j++)
		nodes[nn++] = &c->centrals[j];
	for (size_t i = 0; i < nn; i++) {
		cluster_node *n = nodes[i];
		relay_path *p[CLUSTER_PATHS_MAX];
		for (int link = DRILL_LINK_KAFKA; link <= DRILL_LINK_LAST; link++) {
			int np = cluster_paths(n, (drill_link)link, p);
			for (int k = 0; k < np; k++)
				relay_heal(p[k]);
		}
		char err[256];
		if (n->disk_ns >= 0 && cluster_disk(n, false))
			log_error("cannot free a node's disk", "node=%s", n->name);
		run_clock_heal(n);
		bool edge = n->kind == DRILL_EDGE;
		if (n->stopped) {
			if (cluster_node_signal(n, SIGCONT))
				log_error("cannot resume a node", "node=%s", n->name);
			else if (edge)
				run_resumed(rn, (unsigned)n->index, (unsigned)n->inst);
		}
		if (cluster_node_alive(n) || (edge && !restart_instance(rn, n)))
			continue;
		if (cluster_node_start(c, n, err, sizeof err))
			log_error("cannot restart a node for the final checks",
			          "node=%s err=\"%s\"", n->name, err);
		else if (edge)
			run_instance_started(rn, (unsigned)n->index, (unsigned)n->inst);
	}
	char herr[256];
	if (cluster_kafka_heal(c, cluster_kafka_of(c, -1), herr, sizeof herr))
		log_error("cannot heal central's Kafka", "err=\"%s\"", herr);
	for (unsigned i = 0; rn->d.regional_kafka && i < rn->d.regions; i++) {
		if (cluster_kafka_heal(c, cluster_kafka_of(c, (int)i), herr, sizeof herr))
			log_error("cannot heal a region's Kafka", "region=%u err=\"%s\"", i, herr);
		run_regional_healed(rn, i);
	}
	for (unsigned i = 0; i < rn->d.regions; i++)
		load_set_region_up(rn->l, i, true);
	while (rn->nopen) {
		window *w = &rn->open[0];
		report_fault(rn->r, w->start, run_now_s(rn), w->label);
		rn->open[0] = rn->open[--rn->nopen];
	}
	run_stalls_tell(rn);
}

/* --- samples ---------------------------------------------------------------- */

/* One point of the picture; and, for each heal, the time until every
 * region answers at least the viral item's true count as it stood at the
 * heal (less 2, for unlikes): what was acknowledged before the heal is
 * visible everywhere. */
static void sample(runner *rn)
{
	uint64_t truth = load_truth_of(rn->l, LOAD_SET_COUNTER, LOAD_VIRAL);
	int64_t seen[DRILL_REGIONS_MAX];
	int64_t lowest = INT64_MAX;
	for (unsigned i = 0; i < rn->d.regions; i++) {
		/* The instance the region's users go to (edgeN without standby). */
		const cluster_node *n = cluster_instance(&rn->c, i, load_route(rn->l, i));
		seen[i] = check_edge_count(n, LOAD_SET_COUNTER, LOAD_VIRAL, 200);
		if (seen[i] < lowest)
			lowest = seen[i];
	}
	hist h;
	load_take_window(rn->l, &h);
	report_sample(rn->r, run_now_s(rn), truth, seen, rn->d.regions,
	              (double)hist_quantile(&h, 0.99) / 1000.0);
	for (size_t i = 0; i < rn->nheals;) {
		window *w = &rn->heals[i];
		if (lowest >= 0 && lowest + 2 >= (int64_t)w->truth) {
			report_convergence(rn->r, w->label, run_now_s(rn) - w->start, true);
			*w = rn->heals[--rn->nheals];
		} else {
			i++;
		}
	}
}

/* --- the run ------------------------------------------------------------------ */

static bool needs_paths(const drill *d)
{
	for (size_t i = 0; i < d->nsteps; i++)
		if (drill_action_on_path(d->steps[i].action))
			return true;
	return false;
}

static bool needs_disk(const drill *d)
{
	for (size_t i = 0; i < d->nsteps; i++)
		if (d->steps[i].action == DRILL_DISK_FULL || d->steps[i].action == DRILL_DISK_FREE)
			return true;
	return false;
}

/* Descriptors sim keeps for everything but the load's sockets: the
 * relays' listeners, the nodes' pipes, the reports' files. */
#define RUN_FDS_SPARE 256

/* 0 when the load's sockets fit under sim's open-file limit beside
 * RUN_FDS_SPARE: one per connection, and with the clients' relay two
 * more (its ends). Else ERR_CONFIG with the reason in err, before
 * anything starts. */
static int load_fds_fit(const drill *d, bool isolated, char *err, size_t errlen)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	uint64_t fds = drill_load_fds(d, isolated);
	if (fds + RUN_FDS_SPARE <= (uint64_t)rl.rlim_cur)
		return 0;
	snprintf(err, errlen,
	         "client_conns %u: the load needs about %" PRIu64
	         " descriptors in sim, over the open-file limit of %" PRIu64
	         " less %d for the rest (ulimit -n)",
	         d->client_conns, fds, (uint64_t)rl.rlim_cur, RUN_FDS_SPARE);
	return ERR_CONFIG;
}

static int start_load(runner *rn, char *err, size_t errlen)
{
	const drill *d = &rn->d;
	int ports[DRILL_REGIONS_MAX], sports[DRILL_REGIONS_MAX];
	const netns *ns[DRILL_REGIONS_MAX] = {0}, *sns[DRILL_REGIONS_MAX] = {0};
	for (unsigned i = 0; i < d->regions; i++) {
		ports[i] = rn->c.edges[i].port;
		sports[i] = rn->c.standbys[i].port;
		/* Without the clients' relay: straight to the edge's port
		 * inside its namespace (where it has one). */
		if (!d->client_relay && rn->c.edges[i].ns) {
			ns[i] = rn->c.edges[i].ns;
			ports[i] = CLUSTER_EDGE_PORT;
		}
		if (!d->client_relay && d->standby && rn->c.standbys[i].ns) {
			sns[i] = rn->c.standbys[i].ns;
			sports[i] = CLUSTER_EDGE_PORT;
		}
	}
	double rate = rn->o->short_run ? d->short_rate : d->rate;
	/* Idle until every edge's readiness is known, so the first ops
	 * already count as ready where they are. */
	load_opts lo = {.regions = d->regions,
	                .ports = ports,
	                .standby_ports = d->standby ? sports : NULL,
	                .ns = ns,
	                .standby_ns = d->standby ? sns : NULL,
	                .users = d->users,
	                .items = d->items,
	                .zipf_s = d->zipf,
	                .viral_share = d->viral,
	                .unlike_share = d->unlike,
	                .sum_share = d->sum,
	                .roam_share = d->roam,
	                .undo_share = d->undo,
	                .read_share = d->reads,
	                .me_share = d->me,
	                /* A pair's heart is held to the truth once its op
	                 * can have reached the user's home edge: sealed,
	                 * applied, in a snapshot, and published on the home
	                 * stream, whose publisher waits central's
	                 * feed.timeout_ms (5 s) and a half second when it takes
	                 * a partition (central's start, a failover:
	                 * docs/events.md). */
	                .converge_ms = 3 * (d->batch_age_ms + d->snapshot_ms) + 3000 + 5500,
	                /* After a fault the home stream's publisher may first
	                 * rejoin its group (a central paused past its session:
	                 * nemesis seed 2, hearts 15-18 s old after the heal). */
	                .fault_settle_ms = CLUSTER_FEED_SESSION_MS,
	                .homes = d->me > 0,
	                .rate = 0,
	                .timeout_ms = 2000,
	                .conns_per_instance = d->client_conns,
	                .give_up_share = d->give_up,
	                /* The edges' answers are held to the snapshots at
	                 * the end (check_snapshots). */
	                .trace = d->snapshot_check != 0,
	                .seed = d->seed};
	rn->l = load_new(&lo, err, errlen);
	if (!rn->l)
		return ERR_INVAL;
	if (d->me > 0 || d->standby)
		wait_all_ready(rn);
	rn->t0 = clock_mono_ms();
	rate_phase(rn, rate, true);
	load_set_rate(rn->l, rate);
	return 0;
}

/* SIGINT or SIGTERM is pending: the run should end early. Every thread
 * of sim blocks both (run_drill), so this is the only place they land. */
static bool stop_asked(void)
{
	sigset_t pending;
	return sigpending(&pending) == 0 &&
	       (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1);
}

/* Runs the steps on schedule while the load goes on. */
static void timeline(runner *rn)
{
	double duration = drill_duration(&rn->d, rn->o->short_run);
	size_t next = 0;
	uint64_t next_sample = clock_mono_ms();
	uint64_t next_poll = next_sample + READY_POLL_MS;
	uint64_t next_procs = next_sample;
	double every = rn->d.latency_every_s;
	if (every > 0)
		run_interval_begin(rn);
	while (run_now_s(rn) < duration + run_held_s(rn)) {
		if (stop_asked()) {
			rn->interrupted = true;
			return;
		}
		if (rn->d.procs_every_s && clock_mono_ms() >= next_procs) {
			run_sample_procs(rn);
			next_procs += (uint64_t)rn->d.procs_every_s * 1000;
		}
		if (every > 0 && run_now_s(rn) >= rn->iv_start_s + every)
			run_interval_end(rn, rn->iv_start_s + every);
		while (next < rn->d.nsteps &&
		       drill_step_time(&rn->d, &rn->d.steps[next], rn->o->short_run) +
		               run_held_s(rn) <=
		           run_now_s(rn)) {
			if (run_step(rn, &rn->d.steps[next]))
				rn->failed_step = true;
			next++;
		}
		if (clock_mono_ms() >= next_sample) {
			sample(rn);
			run_check_kafka(rn);
			run_standby_tick(rn);
			bool all = clock_mono_ms() >= next_poll;
			poll_ready(rn, all);
			if (all)
				next_poll += READY_POLL_MS;
			next_sample += TICK_MS;
		}
		usleep(20 * 1000);
	}
	if (rn->d.procs_every_s)
		run_sample_procs(rn); /* the end of the load */
	if (every > 0 && !rn->interrupted && duration + run_held_s(rn) - rn->iv_start_s > 0.5)
		run_interval_end(rn, duration + run_held_s(rn)); /* a shorter last one */
	report_number(rn->r, "steps_held_s", run_held_s(rn));
	wakeprobe_stop(rn->wp);
	rn->wp = NULL;
}

/* Logs how long one of the end's checks took (the suite's time budget
 * is spent mostly in drills; this says where) and restarts the clock. */
static void check_took(const char *what, uint64_t *t)
{
	uint64_t now = clock_mono_ms();
	log_info("end check done", "check=%s s=%.2f", what, (double)(now - *t) / 1000.0);
	*t = now;
}

static int finish(runner *rn)
{
	const drill *d = &rn->d;
	load_set_rate(rn->l, 0);
	/* Read-throughs from here on are the final checks' (ops still in
	 * flight stay in the last rate phase). */
	rate_phase(rn, -1, false);
	heal_all(rn);
	if (rn->phase + 1 < LOAD_PHASES_MAX) {
		rn->phase++;
		snprintf(rn->phase_names[rn->phase], sizeof rn->phase_names[0], "after the load");
		load_set_phase(rn->l, rn->phase);
	}
	double end = run_now_s(rn);
	uint64_t t = clock_mono_ms();
	bool drained = load_drain(rn->l, d->converge_s * 1000) == 0;
	if (!drained)
		report_violation(rn->r, "ops still unanswered %u s after the load ended",
		                 d->converge_s);
	report_number(rn->r, "drain_s", run_now_s(rn) - end);
	check_took("drain", &t);
	run_standby_figures(rn);
	check_took("standby figures", &t);
	load_truth_entry *truth = NULL;
	size_t n = load_truth(rn->l, &truth);
	report_number(rn->r, "truth_entries", (double)n);
	double secs = 0;
	bool ok = check_converge(&rn->c, truth, n, d->converge_s, rn->r, &secs);
	report_convergence(rn->r, "end of load (every count, everywhere)", run_now_s(rn) - end, ok);
	check_took("convergence", &t);
	/* Ops given up without an answer: central says what became of each,
	 * and the checks below judge the truth resolved with it. */
	check_indeterminate(&rn->c, rn->l, d->converge_s, rn->r);
	check_took("indeterminate", &t);
	free(truth);
	n = load_truth(rn->l, &truth);
	check_digests(&rn->c, d->converge_s, rn->r);
	check_took("digests", &t);
	check_single(&rn->c, truth, n, d->converge_s, rn->r);
	check_took("single", &t);
	load_member_entry *members = NULL;
	size_t nmembers = load_members(rn->l, &members);
	check_feed(&rn->c, truth, n, members, nmembers, rn->r);
	check_took("feed", &t);
	free(members);
	check_handovers(&rn->c, rn->r);
	check_took("handovers", &t);
	/* The trace is the load's while an op is out: not read then. */
	load_trace trace;
	load_get_trace(rn->l, &trace);
	trace.t0_us = rn->t0 * 1000;
	if (!drained)
		report_text(rn->r, "edge_answers_check", "not checked: ops still out");
	check_snapshots(&rn->c, d->snapshot_check && drained ? &trace : NULL, rn->r);
	check_took("snapshots", &t);
	check_logs(&rn->c, rn->r);
	uint64_t mono = clock_mono_ms();
	check_kafka_elections(&rn->c, clock_wall_ms() - (mono - (rn->t0 ? rn->t0 : mono)), rn->r);
	check_took("logs and elections", &t);
	free(truth);
	if (rn->d.procs_every_s)
		run_judge_procs(rn);
	/* steps_failed: the violations that say only that (one at most), so
	 * that a reader of report.json (the shrinker, nemesis_run.c) can
	 * tell them from the checks' own without reading their text. */
	report_number(rn->r, "steps_failed", rn->failed_step ? 1 : 0);
	if (rn->failed_step)
		report_violation(rn->r, "a drill step could not be carried out (see the log)");
	ready_poll(&rn->rw, &rn->c, NULL, run_now_s(rn)); /* the end of the read-throughs */
	run_figures(rn);
	if (rn->d.latency_every_s)
		run_interval_figures(rn);
	return report_passed(rn->r) ? 0 : 1;
}

static int write_report(runner *rn)
{
	if (mkdir(rn->o->out_dir, 0755) && errno != EEXIST) {
		log_error("cannot make the report dir", "dir=%s err=\"%s\"", rn->o->out_dir,
		          strerror(errno));
		return ERR_IO;
	}
	int rc = report_write(rn->r, rn->o->out_dir);
	char path[512];
	snprintf(path, sizeof path, "%s/summary.txt", rn->o->out_dir);
	FILE *f = fopen(path, "r");
	if (f) {
		char buf[4096];
		size_t k;
		while ((k = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, k, stdout);
		fclose(f);
	}
	return rc;
}

/* What each Kafka cluster of the run is, in the report: embedded or
 * real, its nodes, and (real) the replication its topics got. */
static void report_kafka(runner *rn)
{
	for (int i = -1; i < (int)rn->d.regions; i++) {
		kproc *k = cluster_kafka_of(&rn->c, i);
		if (!k)
			continue;
		char key[64], text[256 + KPROC_BOOTSTRAPS_MAX];
		snprintf(key, sizeof key, "kafka_%s", k->name);
		if (k->real)
			snprintf(
			    text, sizeof text,
			    "real Apache Kafka, %d node%s (KRaft, broker and controller each), "
			    "replication factor %d, min.insync.replicas %d, %s",
			    k->nbrokers, k->nbrokers == 1 ? "" : "s",
			    k->nbrokers < 3 ? k->nbrokers : 3, k->nbrokers < 2 ? k->nbrokers : 2,
			    k->bootstraps);
		else
			snprintf(text, sizeof text,
			         "embedded (librdkafka's mock cluster), %d brokers, %s",
			         k->nbrokers, k->bootstraps);
		report_text(rn->r, key, text);
	}
}

int run_drill(const run_opts *o)
{
	static runner rn;
	memset(&rn, 0, sizeof rn);
	rn.o = o;
	char err[512] = "";
	if (drill_parse_file(o->drill_path, &rn.d, err, sizeof err)) {
		fprintf(stderr, "sim: %s\n", err);
		return 2;
	}
	if (o->kafka != RUN_KAFKA_DRILL &&
	    drill_set_kafka(&rn.d, o->kafka == RUN_KAFKA_REAL, err, sizeof err)) {
		fprintf(stderr, "sim: %s\n", err);
		drill_free(&rn.d);
		return 2;
	}
	drill_shape(&rn.d, o->short_run);
	if (o->duration_s > 0) {
		if (o->short_run) {
			fprintf(stderr, "sim: --duration is for the full run, not --short\n");
			drill_free(&rn.d);
			return 2;
		}
		drill_set_duration(&rn.d, o->duration_s);
	}
	rn.r = report_new(rn.d.name, o->short_run, rn.d.regions);
	intervals_init(&rn.iv, rn.d.regions, rn.d.latency_every_s);
	ready_init(&rn.rw, rn.d.regions);
	ready_set_instances(&rn.rw, rn.d.standby ? 2 : 1);
	snprintf(rn.phase_names[0], sizeof rn.phase_names[0], "before any fault");
	bool isolated = !o->no_netns && rn.d.netns && netns_supported();
	int status;
	if (!isolated && needs_paths(&rn.d)) {
		fprintf(stderr,
		        "sim: drill %s cuts network paths, which needs network namespaces; this "
		        "machine does not allow them, so the drill is SKIPPED\n",
		        rn.d.name);
		report_text(rn.r, "skipped", "needs network namespaces, which this machine lacks");
		status = write_report(&rn) ? 1 : 0;
		goto out;
	}
	if (needs_disk(&rn.d) && !cluster_disk_supported()) {
		fprintf(stderr,
		        "sim: drill %s fills an edge's disk, which needs a mount namespace with a "
		        "tmpfs; this machine does not allow them, so the drill is SKIPPED\n",
		        rn.d.name);
		report_text(rn.r, "skipped", "needs mount namespaces, which this machine lacks");
		status = write_report(&rn) ? 1 : 0;
		goto out;
	}
	if (!isolated && rn.d.netns)
		log_warn("no network namespaces: daemons share sim's loopback", "%s", "");
	if (!rn.d.netns)
		report_text(rn.r, "paths", "netns 0: every daemon on sim's loopback, no relays");
	else if (!rn.d.client_relay && isolated)
		report_text(rn.r, "paths",
		            "client_relay 0: the load's clients connect inside each edge's "
		            "namespace, with no relay");
	char shape[128];
	snprintf(shape, sizeof shape, "%s, %s",
	         rn.d.standby ? "active and standby edges" : "one edge",
	         !rn.d.changelog       ? "no changelog"
	         : rn.d.regional_kafka ? "changelog on the region's own Kafka"
	                               : "changelog on the main Kafka");
	report_text(rn.r, "region shape", shape);
	if (load_fds_fit(&rn.d, isolated, err, sizeof err)) {
		fprintf(stderr, "sim: %s\n", err);
		status = 2;
		goto out;
	}
	/* Ctrl-C or SIGTERM ends the load early and still stops everything:
	 * blocked here, so every thread started from now on blocks them too
	 * (the daemons unblock them before exec), and the timeline looks for
	 * them between ticks. */
	sigset_t stops, old;
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stops, &old);
	if (cluster_start(&rn.c, &rn.d, o->bin_dir, o->run_root, isolated, err, sizeof err)) {
		fprintf(stderr, "sim: the cluster did not start: %s\n", err);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		status = 3;
		goto out;
	}
	report_kafka(&rn);
	if (start_load(&rn, err, sizeof err)) {
		fprintf(stderr, "sim: the load did not start: %s\n", err);
		cluster_stop(&rn.c, true);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		status = 3;
		goto out;
	}
	rn.c.spawned = run_spawned;
	rn.c.spawned_arg = &rn;
	timeline(&rn);
	if (rn.interrupted) {
		fprintf(stderr, "sim: interrupted; stopping the drill\n");
		report_violation(rn.r, "interrupted at %.1f s, before the end of the load",
		                 run_now_s(&rn));
		load_set_rate(rn.l, 0);
		if (rn.d.procs_every_s)
			run_judge_procs(&rn);
		if (rn.d.latency_every_s)
			run_interval_figures(&rn); /* the intervals that ended */
		status = 130;
		(void)write_report(&rn);
	} else {
		status = finish(&rn);
		if (write_report(&rn))
			status = 1;
	}
	rn.c.spawned = NULL; /* its load is gone */
	load_free(rn.l);
	rn.l = NULL;
	cluster_stop(&rn.c, o->keep || (status != 0 && !rn.interrupted));
	/* A stop asked for meanwhile is taken here, not on unblocking. */
	const struct timespec zero = {0, 0};
	while (sigtimedwait(&stops, NULL, &zero) > 0)
		status = 130;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
	for (size_t k = 0; k < NODES_MAX; k++)
		free(rn.procs[k].s);
	for (size_t k = 0; k < RUN_INSTRUMENTS; k++)
		free(rn.instruments[k].s);
	wakeprobe_stop(rn.wp);
	intervals_free(&rn.iv);
	report_free(rn.r);
	drill_free(&rn.d);
	return status;
}
