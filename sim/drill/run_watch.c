/* run_watch.c - what a drill's runner watches over the run (run_int.h):
 * each edge's latency per interval (latency_every), and every daemon's
 * process readings (procs_every) with their verdict at the end. Main
 * thread.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "sim/drill/run_int.h"
#include "xmem.h"

/* --- latency intervals ------------------------------------------------------- */

/* The wake-up probe's period: 200 wake-ups a second, enough for a p99
 * per minute, few enough not to be a load of their own. */
#define WAKE_PERIOD_US 5000

/* Each edge's own request buckets so far (a fresh scrape), per route;
 * with standbys, both instances' together. */
static void srv_now(runner *rn, unsigned i, double out[READY_ROUTES][READY_BUCKETS], bool *ok)
{
	*ok = false;
	bool any = false;
	for (unsigned k = 0; k < cluster_instances(&rn->c); k++) {
		const cluster_node *n = cluster_instance(&rn->c, i, k);
		any |= n->pid > 0 && !n->stopped;
	}
	if (!any)
		return;
	load_set_region_ready(rn->l, i, ready_poll_edge(&rn->rw, &rn->c, i, run_now_s(rn), true));
	for (int k = 0; k < READY_ROUTES; k++)
		*ok = ready_region_srv(&rn->rw, i, (ready_route)k, out[k]);
}

/* Starts the first interval: what came before is not in it. An edge
 * not ready yet has no buckets so far: it starts from none, as
 * ready_run_srv counts from its first ready sample. */
void run_interval_begin(runner *rn)
{
	rn->iv_start_s = run_now_s(rn);
	hist h; /* what the loop's ticks did before the first interval: dropped */
	load_take_lag(rn->l, &h, NULL);
	if (!rn->wp)
		rn->wp = wakeprobe_start(WAKE_PERIOD_US);
	for (unsigned i = 0; i < rn->d.regions; i++) {
		hist w, r;
		load_take_ready_window(rn->l, i, &w, &r);
		bool ok;
		srv_now(rn, i, rn->iv_srv[i], &ok);
		if (!ok)
			memset(rn->iv_srv[i], 0, sizeof rn->iv_srv[i]);
	}
}

/* Ends the current interval at t_s: each edge's clients' window and its
 * own buckets since the start go into the series. */
void run_interval_end(runner *rn, double t_s)
{
	interval_cell *c = intervals_add(&rn->iv, rn->iv_start_s, t_s);
	hist lag, hand, wake, echo;
	load_take_lag(rn->l, &lag, &hand);
	if (rn->wp)
		wakeprobe_take(rn->wp, &wake, &echo);
	intervals_set_instrument(&rn->iv, &lag, &hand, rn->wp ? &wake : NULL,
	                         rn->wp ? &echo : NULL);
	for (unsigned i = 0; i < rn->d.regions; i++) {
		load_take_ready_window(rn->l, i, &c[i].w, &c[i].r);
		double now[READY_ROUTES][READY_BUCKETS];
		bool ok;
		srv_now(rn, i, now, &ok);
		if (ok) {
			c[i].have_srv = true;
			for (int k = 0; k < READY_BUCKETS; k++) {
				/* A restarted edge counts afresh: never negative. */
				c[i].srv_w[k] = fmax(0, now[READY_ROUTE_WRITE][k] -
				                            rn->iv_srv[i][READY_ROUTE_WRITE][k]);
				c[i].srv_r[k] = fmax(0, now[READY_ROUTE_COUNTS][k] -
				                            rn->iv_srv[i][READY_ROUTE_COUNTS][k]);
			}
		}
		if (ok)
			memcpy(rn->iv_srv[i], now, sizeof now);
	}
	rn->iv_start_s = t_s;
}

/* The series into the report, held to the drill's expectations. */
void run_interval_figures(runner *rn)
{
	const char *names[DRILL_REGIONS_MAX];
	for (unsigned i = 0; i < rn->d.regions; i++)
		names[i] = rn->c.edges[i].name;
	for (unsigned i = 0; i < rn->d.regions; i++)
		for (size_t k = 0; k < rn->iv.n; k++) {
			report_interval_row row;
			intervals_row(&rn->iv, k, i, names[i], &row);
			report_interval(rn->r, &row);
		}
	const drill_expect *p99 = drill_expect_of(&rn->d, DRILL_EXPECT_INTERVAL_P99);
	const drill_expect *srv = drill_expect_of(&rn->d, DRILL_EXPECT_INTERVAL_EDGE_P99);
	report_interval_limits(rn->r, p99 ? p99->max : -1, srv ? srv->max : -1);
	(void)intervals_check(&rn->iv, &rn->d, rn->o->short_run, names, rn->r);
}

/* --- process readings ---------------------------------------------------------- */

/* The sampled daemons: every edge instance (edgeN, then with standby
 * edgeN.standby), then the centrals. */
static size_t nodes_sampled(runner *rn)
{
	return (size_t)rn->d.regions * cluster_instances(&rn->c) + rn->d.centrals;
}

static cluster_node *node_at(runner *rn, size_t k)
{
	size_t edges = (size_t)rn->d.regions * cluster_instances(&rn->c);
	if (k < edges)
		return cluster_instance(&rn->c, (unsigned)(k % rn->d.regions),
		                        (unsigned)(k / rn->d.regions));
	return &rn->c.centrals[k - edges];
}

/* Appends a scrape of node n at t_s to the report dir's
 * scrapes/NAME.prom (a "# t_s=" line, then the body as served), for what
 * a long run's figures did over its minutes (LevelDB's levels and
 * compaction beside the latency). Best effort: a file that cannot be
 * written is logged once. */
static void keep_scrape(const runner *rn, const cluster_node *n, double t_s, const char *body)
{
	static bool said;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/scrapes", rn->o->out_dir);
	if ((mkdir(rn->o->out_dir, 0755) && errno != EEXIST) ||
	    (mkdir(path, 0755) && errno != EEXIST))
		goto fail;
	snprintf(path, sizeof path, "%s/scrapes/%s.prom", rn->o->out_dir, n->name);
	FILE *f = fopen(path, "a");
	if (!f)
		goto fail;
	bool ok = fprintf(f, "# t_s=%.1f\n%s", t_s, body) > 0;
	if (fclose(f) || !ok)
		goto fail;
	return;
fail:
	if (!said)
		log_warn("scrape not kept", "path=%s err=\"%s\"", path, strerror(errno));
	said = true;
}

/* What node n says holds its memory, from its /metrics, into s (none
 * when it does not answer); the scrape is kept too. */
static void read_held(const runner *rn, const cluster_node *n, soak_sample *s)
{
	hclient_answer a;
	s->nheld = 0;
	if (cluster_node_get(n, "/metrics", NULL, 2000, &a) == 0 && a.status == 200 && a.body) {
		s->nheld = soak_parse_held(
		    a.body, n->kind == DRILL_EDGE ? SOAK_HELD_EDGE : SOAK_HELD_CENTRAL, s->held,
		    SOAK_HELD_MAX);
		keep_scrape(rn, n, s->t_s, a.body);
	}
	free(a.body);
}

static const char *const instrument_name[RUN_INSTRUMENTS] = {"sim", "kafka"};
_Static_assert(NODES_MAX + RUN_INSTRUMENTS <= REPORT_NODES_MAX, "every process has a row");

static pid_t instrument_pid(const runner *rn, size_t i)
{
	return i == 0 ? getpid() : rn->c.kafka.pid;
}

/* Adds a reading of pid to its series; a new process starts it again. */
static void series_add(proc_series *ps, pid_t pid, const soak_sample *s)
{
	if (ps->pid != pid) { /* a new run: judge this one */
		ps->pid = pid;
		ps->n = 0;
		ps->runs++;
	}
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 64;
		ps->s = xrealloc(ps->s, ps->cap * sizeof *ps->s);
	}
	ps->s[ps->n++] = *s;
}

/* Reads every running daemon's RSS and descriptors (soak.h), and what
 * it says holds its memory; then the instrument's own processes. */
void run_sample_procs(runner *rn)
{
	for (size_t k = 0; k < nodes_sampled(rn); k++) {
		cluster_node *n = node_at(rn, k);
		soak_sample s;
		if (n->pid <= 0 || n->stopped || !soak_read(n->pid, n->data, run_now_s(rn), &s))
			continue;
		read_held(rn, n, &s);
		series_add(&rn->procs[k], n->pid, &s);
		report_proc(rn->r, n->name, (int)n->pid, &s);
	}
	for (size_t i = 0; i < RUN_INSTRUMENTS; i++) {
		pid_t pid = instrument_pid(rn, i);
		soak_sample s;
		if (pid <= 0 || !soak_read(pid, "", run_now_s(rn), &s))
			continue;
		s.nheld = 0;
		series_add(&rn->instruments[i], pid, &s);
		report_proc(rn->r, instrument_name[i], (int)pid, &s);
	}
	/* The load's own thread: the instrument's share of the machine. */
	pid_t tid = load_thread_id(rn->l);
	double cpu, wait, slices;
	if (tid > 0 && soak_read_sched(getpid(), tid, &cpu, &wait, &slices))
		report_load_sched(rn->r, run_now_s(rn), cpu, wait, slices);
}

/* nftw has no argument of its own: the bytes of the dir being summed
 * (the runner's thread only). */
static double du_bytes;

static int du_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F)
		du_bytes += (double)st->st_size;
	return 0;
}

static double dir_mb(const char *dir)
{
	du_bytes = 0;
	if (nftw(dir, du_one, 16, FTW_PHYS))
		return 0;
	return du_bytes / 1048576.0;
}

/* Judges each daemon's readings: flat after the warm-up, under the bound
 * its configuration gives (soak.h). */
void run_judge_procs(runner *rn)
{
	/* The load ran longer by the schedule's holds. */
	double duration = drill_duration(&rn->d, rn->o->short_run) + run_held_s(rn);
	soak_rules rules;
	soak_rules_default(duration, &rules);
	report_proc_rules(rn->r, rules.warmup_s, rn->d.procs_every_s);
	for (size_t k = 0; k < nodes_sampled(rn); k++) {
		cluster_node *n = node_at(rn, k);
		proc_series *ps = &rn->procs[k];
		char *log_text = soak_read_file(n->log, LOG_READ_MAX);
		soak_bound b;
		if (n->kind == DRILL_EDGE)
			soak_bound_edge(log_text ? log_text : "", dir_mb(n->data), &b);
		else
			soak_bound_central(log_text ? log_text : "", dir_mb(n->data), &b);
		free(log_text);
		soak_verdict v;
		bool ok = soak_judge(ps->s, ps->n, &rules, &b, &v);
		report_proc_verdict(rn->r, n->name, &v, &b);
		if (!ok)
			report_violation(rn->r, "%s: %s", n->name, v.why);
		if (ps->runs > 1) {
			char key[48], text[160];
			snprintf(key, sizeof key, "procs_%s", n->name);
			snprintf(text, sizeof text,
			         "%u processes ran; only the last one's readings "
			         "(%zu) were judged",
			         ps->runs, ps->n);
			report_text(rn->r, key, text);
		}
	}
	/* The instrument's levels by the same rules, with no bound: shown
	 * beside the daemons', so a harness that grows is seen, not judged. */
	soak_bound none = {.total_mb = HUGE_VAL};
	for (size_t i = 0; i < RUN_INSTRUMENTS; i++) {
		const proc_series *ps = &rn->instruments[i];
		soak_verdict v;
		if (!ps->n)
			continue;
		(void)soak_judge(ps->s, ps->n, &rules, &none, &v);
		report_proc_instrument(rn->r, instrument_name[i], &v);
	}
}
