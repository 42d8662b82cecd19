/* run_figures.c - the figures a drill reports at its end (run_int.h
 * run_figures): the load's numbers, heart reads, central's applied
 * batches, the machine's CPU per rate phase and each edge's ready
 * figures. Main thread, once the load has stopped.
 */
#include "sim/drill/run_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/drill/cluster.h"
#include "sim/drill/cpustat.h"
#include "sim/drill/drill.h"
#include "sim/drill/hist.h"
#include "sim/drill/load.h"
#include "log.h"
#include "sim/drill/ready.h"
#include "sim/drill/report.h"
#include "xmem.h"

/* likes_central_batches_applied_total of a central; -1 without one. */
static double applied_of(const cluster_node *n)
{
	hclient_answer a;
	double v = -1;
	if (cluster_node_get(n, "/metrics", NULL, 2000, &a) == 0 && a.status == 200) {
		const char *key = "\nlikes_central_batches_applied_total ";
		const char *p = strstr(a.body, key);
		if (p)
			v = strtod(p + strlen(key), NULL);
	}
	free(a.body);
	return v;
}

/* The heart reads' figures; a wrong heart is a violation. */
static void me_numbers(runner *rn)
{
	if (!(rn->d.me > 0))
		return;
	load_me_stats m;
	load_get_me_stats(rn->l, &m);
	report_number(rn->r, "me_reads", (double)m.reads);
	report_number(rn->r, "me_errors", (double)m.errors);
	report_number(rn->r, "me_home_reads", (double)m.home_reads);
	report_number(rn->r, "me_pairs", (double)m.pairs);
	report_number(rn->r, "me_pairs_liked", (double)m.liked);
	report_number(rn->r, "me_pairs_liked_away", (double)m.liked_away);
	report_number(rn->r, "me_pairs_young", (double)m.young);
	report_number(rn->r, "me_pairs_unknown", (double)m.unknown);
	report_number(rn->r, "me_wrong", (double)m.wrong);
	if (m.wrong)
		report_violation(rn->r,
		                 "%" PRIu64 " hearts of %" PRIu64
		                 " said other than the truth (me_wrong; the log names them)",
		                 m.wrong, m.pairs);
	if (!m.pairs)
		report_violation(rn->r, "no heart read was held to the truth (me_pairs 0)");
}

/* What the load judged while it ran (load_judge.c): read-your-writes at
 * home, and answers no op sent could make. Each miss is a violation,
 * the first few named. */
static void judge_numbers(runner *rn)
{
	load_judge_stats j;
	char seen[LOAD_ANOMALIES_KEPT][LOAD_ANOMALY_TEXT];
	size_t nseen = LOAD_ANOMALIES_KEPT;
	load_get_judge(rn->l, &j, seen, &nseen);
	report_number(rn->r, "ryw_checked", (double)j.ryw_checked);
	report_number(rn->r, "ryw_missed", (double)j.ryw_missed);
	report_number(rn->r, "phantom_hearts", (double)j.phantom_hearts);
	report_number(rn->r, "counts_checked", (double)j.counts_checked);
	report_number(rn->r, "phantom_counts", (double)j.phantom_counts);
	report_number(rn->r, "cross_region_overcounts", (double)j.cross_overcounts);
	report_number(rn->r, "given_up", (double)j.indeterminate);
	report_number(rn->r, "given_up_ambiguous", (double)j.indet_ambiguous);
	uint64_t bad = j.ryw_missed + j.phantom_hearts + j.phantom_counts;
	if (!bad)
		return;
	report_violation(rn->r,
	                 "%" PRIu64 " answers during the run showed other than the user's own "
	                 "acknowledged write at home or what no op sent could make "
	                 "(ryw_missed %" PRIu64 ", phantom_hearts %" PRIu64
	                 ", phantom_counts %" PRIu64 ")",
	                 bad, j.ryw_missed, j.phantom_hearts, j.phantom_counts);
	for (size_t i = 0; i < nseen; i++)
		report_violation(rn->r, "%s", seen[i]);
}

static void numbers(runner *rn)
{
	load_stats st;
	load_get_stats(rn->l, &st);
	report_number(rn->r, "ops_started", (double)st.started);
	report_number(rn->r, "ops_acked", (double)st.acked);
	report_number(rn->r, "attempts", (double)st.attempts);
	report_number(rn->r, "retried", (double)st.retried);
	report_number(rn->r, "replayed", (double)st.replayed);
	report_number(rn->r, "refused", (double)st.refused);
	report_number(rn->r, "clock_refused", (double)st.clock_refused);
	report_number(rn->r, "reads", (double)st.reads);
	report_number(rn->r, "read_errors", (double)st.read_errors);
	/* A 409 clock_ahead is the edge keeping order under skew (a drill's
	 * skew past api.client_clock_ahead_ms), not a fault; any other 4xx
	 * is the load's or the edge's. */
	if (st.refused > st.clock_refused)
		report_violation(rn->r, "%" PRIu64 " ops were refused with a 4xx",
		                 st.refused - st.clock_refused);
	me_numbers(rn);
	judge_numbers(rn);
	/* Kafka messages per op: batches applied over acked ops, as central0
	 * counts them; with shards, per shard the most any of its centrals
	 * counts (one restarted counts only since), summed. */
	double applied = 0;
	bool any = false;
	for (unsigned s = 0; s < drill_shard_count(&rn->d); s++) {
		double most = -1;
		unsigned step = drill_shard_count(&rn->d);
		unsigned last = rn->d.shards ? rn->d.centrals : 1;
		for (unsigned j = s; j < last; j += step) {
			double v = applied_of(&rn->c.centrals[j]);
			if (v > most)
				most = v;
		}
		if (most >= 0) {
			applied += most;
			any = true;
		}
	}
	if (any && st.acked)
		report_number(rn->r, "kafka_messages_per_op", applied / (double)st.acked);
	for (unsigned p = 0; p <= rn->phase; p++) {
		for (int kind = REPORT_WRITES; kind <= REPORT_HEARTS; kind++) {
			hist h;
			if (kind == REPORT_HEARTS)
				load_get_me_hist(rn->l, -1, p, &h);
			else
				load_get_hist(rn->l, p, kind == REPORT_READS, &h);
			if (!h.n)
				continue;
			report_latency(rn->r, rn->phase_names[p], kind, h.n,
			               (double)hist_quantile(&h, 0.5) / 1000.0,
			               (double)hist_quantile(&h, 0.99) / 1000.0,
			               (double)hist_quantile(&h, 0.999) / 1000.0);
		}
	}
}

/* One ready row of edge i: rate phase p, or the whole run (p < 0). */
static void ready_row(runner *rn, unsigned i, int p, report_ready_row *q)
{
	memset(q, 0, sizeof *q);
	snprintf(q->edge, sizeof q->edge, "%s", rn->c.edges[i].name);
	snprintf(q->phase, sizeof q->phase, "%s", p < 0 ? "whole run" : rn->rw.phase_name[p]);
	hist w, r;
	hist_init(&w);
	hist_init(&r);
	for (unsigned k = 0; k < LOAD_READY_PHASES_MAX; k++) {
		if (p >= 0 && k != (unsigned)p)
			continue;
		hist h;
		load_get_ready_hist(rn->l, i, k, false, &h);
		hist_merge(&w, &h);
		load_get_ready_hist(rn->l, i, k, true, &h);
		hist_merge(&r, &h);
	}
	hist m;
	hist_init(&m);
	for (unsigned k = 0; k < LOAD_READY_PHASES_MAX; k++) {
		if (p >= 0 && k != (unsigned)p)
			continue;
		hist h;
		load_get_me_hist(rn->l, (int)i, k, &h);
		hist_merge(&m, &h);
	}
	q->hearts = m.n;
	q->me_readthroughs = p < 0 ? ready_region_me_readthroughs(&rn->rw, i)
	                           : ready_phase_me_readthroughs(&rn->rw, i, (unsigned)p);
	q->m_p50_ms = (double)hist_quantile(&m, 0.5) / 1000.0;
	q->m_p99_ms = (double)hist_quantile(&m, 0.99) / 1000.0;
	load_region_stats st;
	load_get_region_stats(rn->l, i, p, &st);
	q->writes = w.n;
	q->w_p50_ms = (double)hist_quantile(&w, 0.5) / 1000.0;
	q->w_p99_ms = (double)hist_quantile(&w, 0.99) / 1000.0;
	q->w_p999_ms = (double)hist_quantile(&w, 0.999) / 1000.0;
	q->reads = r.n;
	q->r_p50_ms = (double)hist_quantile(&r, 0.5) / 1000.0;
	q->r_p99_ms = (double)hist_quantile(&r, 0.99) / 1000.0;
	q->read_errors = st.ready_read_errors;
	q->readthroughs = p < 0 ? ready_region_readthroughs(&rn->rw, i)
	                        : ready_phase_readthroughs(&rn->rw, i, (unsigned)p);
	double wc[READY_BUCKETS], rc[READY_BUCKETS];
	if (p < 0) {
		(void)ready_region_srv(&rn->rw, i, READY_ROUTE_WRITE, wc);
		(void)ready_region_srv(&rn->rw, i, READY_ROUTE_COUNTS, rc);
	} else {
		ready_phase_srv(&rn->rw, i, (unsigned)p, READY_ROUTE_WRITE, wc);
		ready_phase_srv(&rn->rw, i, (unsigned)p, READY_ROUTE_COUNTS, rc);
	}
	q->w_srv_p99_ms = ready_srv_quantile_ms(wc, 0.99);
	q->r_srv_p99_ms = ready_srv_quantile_ms(rc, 0.99);
}

/* How much of the machine's CPU the hypervisor took in each ready phase,
 * beside how much was busy: latencies measured while a large share is
 * stolen say as much about the host as about the code. */
static void cpu_figures(runner *rn)
{
	cpustat end;
	bool end_ok = cpustat_read(&end);
	for (unsigned p = 0; p < rn->rw.nphases; p++) {
		const cpustat *b = p + 1 < rn->rw.nphases ? &rn->phase_cpu[p + 1] : &end;
		bool b_ok = p + 1 < rn->rw.nphases ? rn->phase_cpu_ok[p + 1] : end_ok;
		double steal, busy;
		char key[32], text[160];
		snprintf(key, sizeof key, "cpu_phase_%u", p);
		if (rn->phase_cpu_ok[p] && b_ok &&
		    cpustat_shares(&rn->phase_cpu[p], b, &steal, &busy))
			snprintf(text, sizeof text,
			         "%s: %.0f%% of the CPU stolen by the host, %.0f%% busy",
			         rn->rw.phase_name[p], steal * 100, busy * 100);
		else
			snprintf(text, sizeof text, "%s: not known (no /proc/stat)",
			         rn->rw.phase_name[p]);
		report_text(rn->r, key, text);
	}
}

/* Each edge's figures while ready, per rate phase and over the run,
 * held to the drill's expectations. */
static void ready_figures(runner *rn)
{
	const drill *d = &rn->d;
	size_t max = (size_t)d->regions * (READY_PHASES_MAX + 1), n = 0;
	report_ready_row *rows = xcalloc(max, sizeof *rows);
	bool *whole = xcalloc(max, sizeof *whole);
	const char *metric = NULL;
	for (unsigned i = 0; i < d->regions; i++) {
		for (unsigned p = 0; p < rn->rw.nphases; p++)
			ready_row(rn, i, (int)p, &rows[n++]);
		ready_row(rn, i, -1, &rows[n]);
		whole[n++] = true;
		for (unsigned k = 0; k < rn->rw.ninst; k++) {
			const ready_edge *e = &rn->rw.e[READY_SLOT(i, k)];
			char key[48], text[512];
			snprintf(key, sizeof key, "ready_%s", cluster_instance(&rn->c, i, k)->name);
			ready_spells_text(e, text, sizeof text);
			report_text(rn->r, key, text);
			if (e->rt_metric && (!metric || strcmp(metric, READY_METRIC_COUNTS) == 0))
				metric = e->rt_metric;
		}
	}
	for (size_t k = 0; k < n; k++)
		report_ready(rn->r, &rows[k]);
	if (metric && strcmp(metric, READY_METRIC_REQUESTS) == 0)
		report_text(rn->r, "readthrough_metric",
		            READY_METRIC_REQUESTS
		            " (no " READY_METRIC_COUNTS
		            " on the edge: every request to central, memberships too)");
	else if (metric)
		report_text(rn->r, "readthrough_metric", metric);
	load_stats st;
	load_get_stats(rn->l, &st);
	ready_check(d, rn->o->short_run, rows, whole, n, st.read_errors, rn->r);
	free(rows);
	free(whole);
}

void run_figures(runner *rn)
{
	numbers(rn);
	cpu_figures(rn);
	ready_figures(rn);
}
