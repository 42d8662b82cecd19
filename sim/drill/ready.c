/* ready.c - edges' readiness, their read-throughs once ready, and the
 * drill's expectations on the ready figures (ready.h).
 *
 * Owns nothing on the heap past a call. The runner's thread only.
 */
#include "sim/drill/ready.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"

#define READYZ_TIMEOUT_MS 300
#define METRICS_TIMEOUT_MS 500

void ready_init(ready_watch *w, unsigned nedges)
{
	memset(w, 0, sizeof *w);
	w->nedges = nedges > DRILL_REGIONS_MAX ? DRILL_REGIONS_MAX : nedges;
	w->ninst = 1;
	for (unsigned k = 0; k < sizeof w->e / sizeof w->e[0]; k++) {
		w->e[k].scraped_s = -1;
		w->e[k].writer = -1;
	}
}

void ready_set_instances(ready_watch *w, unsigned ninst)
{
	w->ninst = ninst < 1 ? 1 : ninst > READY_INSTANCES_MAX ? READY_INSTANCES_MAX : ninst;
}

bool ready_region(const ready_watch *w, unsigned i)
{
	for (unsigned k = 0; i < w->nedges && k < w->ninst; k++)
		if (w->e[READY_SLOT(i, k)].ready)
			return true;
	return false;
}

bool ready_series(const char *body, const char *series, double *out)
{
	size_t n = strlen(series);
	for (const char *line = body; line && *line;) {
		const char *end = strchr(line, '\n');
		if (strncmp(line, series, n) == 0 && line[n] == ' ') {
			char *stop;
			double x = strtod(line + n + 1, &stop);
			if (stop != line + n + 1 && isfinite(x)) {
				*out = x;
				return true;
			}
		}
		line = end ? end + 1 : NULL;
	}
	return false;
}

bool ready_metric(const char *body, const char *name, double *out)
{
	size_t nl = strlen(name);
	double sum = 0;
	bool found = false;
	for (const char *line = body; line && *line;) {
		const char *end = strchr(line, '\n');
		/* "name value" or "name{labels} value"; comments start with '#'. */
		if (strncmp(line, name, nl) == 0 && (line[nl] == ' ' || line[nl] == '{')) {
			const char *v = line + nl;
			if (*v == '{') {
				v = strchr(v, '}');
				if (!v || (end && v > end))
					v = NULL;
				else
					v++;
			}
			char *stop;
			double x = v ? strtod(v, &stop) : NAN;
			if (v && stop != v && isfinite(x)) {
				sum += x;
				found = true;
			}
		}
		line = end ? end + 1 : NULL;
	}
	if (found)
		*out = sum;
	return found;
}

/* The edge's bucket bounds in seconds (edge/telemetry/telemetry.c), +Inf last. */
static const double bucket_le[READY_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,  0.005,
                                                0.01,   0.025,   0.05,   0.1,   0.25,    0.5,
                                                1,      2.5,     5,      10,    INFINITY};

static const char *const route_name[READY_ROUTES] = {"write", "counts"};

bool ready_srv_parse(const char *body, ready_route route, double b[READY_BUCKETS])
{
	char prefix[128];
	int pn = snprintf(prefix, sizeof prefix, READY_METRIC_DURATION "{route=\"%s\",le=\"",
	                  route_name[route]);
	bool seen[READY_BUCKETS] = {false};
	for (const char *line = body; line && *line;) {
		const char *end = strchr(line, '\n');
		if (strncmp(line, prefix, (size_t)pn) == 0) {
			const char *v = line + pn;
			double le = strncmp(v, "+Inf\"", 5) == 0 ? INFINITY : strtod(v, NULL);
			const char *close = strstr(v, "} ");
			for (int k = 0; close && (!end || close < end) && k < READY_BUCKETS; k++) {
				bool same = isinf(le)
				                ? isinf(bucket_le[k])
				                : fabs(le - bucket_le[k]) <= 1e-9 * bucket_le[k];
				if (same) {
					b[k] = strtod(close + 2, NULL);
					seen[k] = true;
					break;
				}
			}
		}
		line = end ? end + 1 : NULL;
	}
	for (int k = 0; k < READY_BUCKETS; k++)
		if (!seen[k])
			return false;
	return true;
}

static void srv_add(ready_srv *to, const ready_srv *a, const ready_srv *minus)
{
	for (int r = 0; r < READY_ROUTES; r++)
		for (int k = 0; k < READY_BUCKETS; k++) {
			double d = a->b[r][k] - (minus ? minus->b[r][k] : 0);
			to->b[r][k] += d > 0 ? d : 0;
		}
}

/* Server-side buckets once ready, every incarnation so far. */
static ready_srv srv_total(const ready_edge *e)
{
	ready_srv t = e->srv_done;
	if (e->inc_ready && e->have_srv_base)
		srv_add(&t, &e->srv_last, &e->srv_base);
	return t;
}

/* Ends the incarnation followed: what it read through once ready is
 * kept. */
static void fold(ready_edge *e)
{
	e->srv_done = srv_total(e);
	e->have_srv_base = false;
	if (e->inc_ready && e->have_base && e->rt_last > e->rt_base)
		e->rt_done += e->rt_last - e->rt_base;
	if (e->inc_ready && e->have_me_base && e->me_last > e->me_base)
		e->me_done += e->me_last - e->me_base;
	e->have_me_base = false;
	e->me_base = e->me_last = 0;
	e->inc_ready = false;
	e->have_base = false;
	e->rt_base = e->rt_last = 0;
	e->ready = false;
}

static ready_spell *last_spell(ready_edge *e)
{
	return e->nspells ? &e->spells[e->nspells - 1] : NULL;
}

void ready_observe(ready_edge *e, double t_s, pid_t pid, int readyz_status, const char *metrics)
{
	if (pid != e->pid) {
		fold(e);
		e->pid = pid;
		if (pid && e->nspells < READY_SPELLS_MAX)
			e->spells[e->nspells++] = (ready_spell){t_s, -1};
		else if (pid)
			e->spells_dropped++;
	}
	e->last_status = pid ? readyz_status : 0;
	if (!pid) {
		e->ready = false;
		return;
	}
	bool srv = false;
	ready_srv now_srv;
	if (metrics) {
		srv = ready_srv_parse(metrics, READY_ROUTE_WRITE, now_srv.b[READY_ROUTE_WRITE]) &&
		      ready_srv_parse(metrics, READY_ROUTE_COUNTS, now_srv.b[READY_ROUTE_COUNTS]);
		e->scraped_s = t_s;
		e->have_pending =
		    ready_metric(metrics, READY_METRIC_PENDING_OPS, &e->pending_ops) &&
		    ready_metric(metrics, READY_METRIC_PENDING_BATCHES, &e->pending_batches);
	}
	const char *name = NULL;
	double v = 0;
	if (metrics && ready_metric(metrics, READY_METRIC_COUNTS, &v))
		name = READY_METRIC_COUNTS;
	else if (metrics && ready_metric(metrics, READY_METRIC_REQUESTS, &v))
		name = READY_METRIC_REQUESTS;
	if (name) {
		/* The same process went backwards or changed metric: a fresh
		 * base, keeping what was counted so far. */
		if (e->have_base && (v < e->rt_last || strcmp(name, e->rt_metric) != 0)) {
			if (e->rt_last > e->rt_base)
				e->rt_done += e->rt_last - e->rt_base;
			e->rt_base = v;
		}
		e->rt_metric = name;
		e->rt_last = v;
	}
	double mv;
	if (metrics && ready_series(metrics, READY_METRIC_HOME_MEMBERS, &mv)) {
		if (e->have_me_base && mv < e->me_last) {
			if (e->me_last > e->me_base)
				e->me_done += e->me_last - e->me_base;
			e->me_base = mv;
		}
		e->have_me = true;
		e->me_last = mv;
	}
	bool now = readyz_status == 200;
	if (now && !e->inc_ready) {
		e->inc_ready = true;
		ready_spell *s = last_spell(e);
		if (s && s->ready_s < 0 && !e->spells_dropped)
			s->ready_s = t_s;
	}
	if (e->inc_ready && !e->have_me_base && e->have_me) {
		e->have_me_base = true;
		e->me_base = e->me_last;
	}
	if (e->inc_ready && !e->have_base && name) {
		e->have_base = true;
		e->rt_base = v;
	}
	if (srv) {
		e->srv_last = now_srv;
		if (e->inc_ready && !e->have_srv_base) {
			e->have_srv_base = true;
			e->srv_base = now_srv;
		}
	}
	e->ready = now;
}

void ready_down(ready_edge *e, bool gone)
{
	e->ready = false;
	if (gone) {
		fold(e);
		e->pid = 0;
		e->writer = -1;
	}
}

double ready_readthroughs(const ready_edge *e)
{
	if (!e->rt_metric)
		return -1;
	double now =
	    e->inc_ready && e->have_base && e->rt_last > e->rt_base ? e->rt_last - e->rt_base : 0;
	return e->rt_done + now;
}

double ready_me_readthroughs(const ready_edge *e)
{
	if (!e->have_me)
		return -1;
	double now = e->inc_ready && e->have_me_base && e->me_last > e->me_base
	                 ? e->me_last - e->me_base
	                 : 0;
	return e->me_done + now;
}

unsigned ready_phase(ready_watch *w, const char *name)
{
	if (w->nphases == READY_PHASES_MAX) {
		log_warn("more rate phases than the ready figures keep: the last one goes on",
		         "max=%d name=\"%s\"", READY_PHASES_MAX, name);
		return READY_PHASES_MAX - 1;
	}
	unsigned p = w->nphases++;
	snprintf(w->phase_name[p], sizeof w->phase_name[p], "%s", name);
	for (unsigned k = 0; k < w->ninst; k++)
		for (unsigned i = 0; i < w->nedges; i++) {
			ready_edge *e = &w->e[READY_SLOT(i, k)];
			double rt = ready_readthroughs(e), me = ready_me_readthroughs(e);
			e->at_phase[p] = rt < 0 ? 0 : rt;
			e->me_at_phase[p] = me < 0 ? 0 : me;
			e->srv_at_phase[p] = srv_total(e);
		}
	return p;
}

/* Cumulative buckets into per-bucket counts. */
static void srv_counts(const double *cum, double out[READY_BUCKETS])
{
	double prev = 0;
	for (int k = 0; k < READY_BUCKETS; k++) {
		double c = cum[k] - prev;
		out[k] = c > 0 ? c : 0;
		prev = cum[k] > prev ? cum[k] : prev;
	}
}

void ready_phase_srv(const ready_watch *w, unsigned i, unsigned p, ready_route route,
                     double out[READY_BUCKETS])
{
	memset(out, 0, sizeof(double) * READY_BUCKETS);
	if (i >= w->nedges || p >= w->nphases)
		return;
	ready_srv d = {0};
	for (unsigned k = 0; k < w->ninst; k++) {
		const ready_edge *e = &w->e[READY_SLOT(i, k)];
		ready_srv end = p + 1 < w->nphases ? e->srv_at_phase[p + 1] : srv_total(e);
		srv_add(&d, &end, &e->srv_at_phase[p]);
	}
	srv_counts(d.b[route], out);
}

void ready_run_srv(const ready_edge *e, ready_route route, double out[READY_BUCKETS])
{
	ready_srv t = srv_total(e);
	srv_counts(t.b[route], out);
}

bool ready_region_srv(const ready_watch *w, unsigned i, ready_route route,
                      double out[READY_BUCKETS])
{
	memset(out, 0, sizeof(double) * READY_BUCKETS);
	if (i >= w->nedges)
		return false;
	ready_srv t = {0};
	bool known = false;
	for (unsigned k = 0; k < w->ninst; k++) {
		const ready_edge *e = &w->e[READY_SLOT(i, k)];
		ready_srv one = srv_total(e);
		srv_add(&t, &one, NULL);
		known |= e->have_srv_base;
	}
	srv_counts(t.b[route], out);
	return known;
}

double ready_srv_quantile_ms(const double counts[READY_BUCKETS], double q)
{
	double total = 0;
	for (int k = 0; k < READY_BUCKETS; k++)
		total += counts[k];
	if (total <= 0)
		return -1;
	double acc = 0;
	for (int k = 0; k < READY_BUCKETS; k++) {
		acc += counts[k];
		if (acc >= q * total)
			return bucket_le[k] * 1000;
	}
	return INFINITY;
}

/* Edge i's read-throughs of one kind (counts, or home users'
 * memberships) in phase p, every instance; < 0 when none showed it. */
static double phase_sum(const ready_watch *w, unsigned i, unsigned p, bool me)
{
	if (i >= w->nedges || p >= w->nphases)
		return -1;
	double sum = -1;
	for (unsigned k = 0; k < w->ninst; k++) {
		const ready_edge *e = &w->e[READY_SLOT(i, k)];
		double now = me ? ready_me_readthroughs(e) : ready_readthroughs(e);
		const double *at = me ? e->me_at_phase : e->at_phase;
		if (now < 0)
			continue;
		double end = p + 1 < w->nphases ? at[p + 1] : now;
		sum = (sum < 0 ? 0 : sum) + end - at[p];
	}
	return sum;
}

/* The same over the whole run. */
static double region_sum(const ready_watch *w, unsigned i, bool me)
{
	double sum = -1;
	for (unsigned k = 0; i < w->nedges && k < w->ninst; k++) {
		const ready_edge *e = &w->e[READY_SLOT(i, k)];
		double v = me ? ready_me_readthroughs(e) : ready_readthroughs(e);
		if (v >= 0)
			sum = (sum < 0 ? 0 : sum) + v;
	}
	return sum;
}

double ready_phase_readthroughs(const ready_watch *w, unsigned i, unsigned p)
{
	return phase_sum(w, i, p, false);
}

double ready_phase_me_readthroughs(const ready_watch *w, unsigned i, unsigned p)
{
	return phase_sum(w, i, p, true);
}

double ready_region_readthroughs(const ready_watch *w, unsigned i)
{
	return region_sum(w, i, false);
}

double ready_region_me_readthroughs(const ready_watch *w, unsigned i)
{
	return region_sum(w, i, true);
}

/* checks.writer.ok of a /readyz body: 1, 0, or -1 when it says neither. */
static int writer_of(const hclient_answer *a)
{
	if (!a->body || !a->len)
		return -1;
	json_t *root = json_loadb(a->body, a->len, 0, NULL);
	json_t *ok =
	    json_object_get(json_object_get(json_object_get(root, "checks"), "writer"), "ok");
	int v = json_is_boolean(ok) ? json_is_true(ok) : -1;
	json_decref(root);
	return v;
}

bool ready_poll_instance(ready_watch *w, cluster *c, unsigned i, unsigned inst, double t_s,
                         bool scrape)
{
	if (i >= w->nedges || inst >= w->ninst)
		return false;
	cluster_node *n = cluster_instance(c, i, inst);
	ready_edge *e = &w->e[READY_SLOT(i, inst)];
	if (!n)
		return false;
	if (n->stopped) { /* frozen: it would not answer; the same process goes on */
		ready_down(e, false);
		return false;
	}
	if (!cluster_node_alive(n)) {
		ready_observe(e, t_s, 0, 0, NULL);
		e->writer = -1;
		return false;
	}
	hclient_answer ra, ma;
	int status = cluster_node_get(n, "/readyz", NULL, READYZ_TIMEOUT_MS, &ra) ? 0 : ra.status;
	e->writer = status ? writer_of(&ra) : -1;
	free(ra.body);
	char *metrics = NULL;
	/* A new incarnation's first scrape waits for it to be ready; until a
	 * ready one has its base, every poll scrapes. */
	bool fresh = n->pid != e->pid;
	scrape = scrape || (status == 200 && (fresh || !e->inc_ready || !e->have_base)) ||
	         (!fresh && t_s - e->scraped_s >= READY_SCRAPE_S);
	if (status && scrape) {
		if (cluster_node_get(n, "/metrics", NULL, METRICS_TIMEOUT_MS, &ma) == 0 &&
		    ma.status == 200)
			metrics = ma.body;
		else
			free(ma.body);
	}
	bool was = e->ready;
	ready_observe(e, t_s, n->pid, status, metrics);
	free(metrics);
	if (e->ready != was)
		log_info(e->ready ? "edge ready" : "edge not ready", "node=%s t=%.2f readyz=%d",
		         n->name, t_s, status);
	return e->ready;
}

bool ready_poll_edge(ready_watch *w, cluster *c, unsigned i, double t_s, bool scrape)
{
	bool any = false;
	for (unsigned k = 0; k < w->ninst; k++)
		any |= ready_poll_instance(w, c, i, k, t_s, scrape);
	return any;
}

void ready_poll(ready_watch *w, cluster *c, load *l, double t_s)
{
	for (unsigned i = 0; i < w->nedges; i++) {
		bool ready = ready_poll_edge(w, c, i, t_s, true);
		if (l)
			load_set_region_ready(l, i, ready);
	}
}

void ready_spells_text(const ready_edge *e, char *buf, size_t cap)
{
	size_t k = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < e->nspells && k < cap; i++) {
		const ready_spell *s = &e->spells[i];
		int m;
		if (s->ready_s < 0)
			m = snprintf(buf + k, cap - k, "%srunning at %.1fs, never ready",
			             i ? "; " : "", s->up_s);
		else
			m = snprintf(buf + k, cap - k,
			             "%srunning at %.1fs, ready at %.1fs (%.1f s)", i ? "; " : "",
			             s->up_s, s->ready_s, s->ready_s - s->up_s);
		if (m < 0)
			break;
		k += (size_t)m;
	}
	if (e->spells_dropped && k < cap)
		snprintf(buf + k, cap - k, "; %zu more starts", e->spells_dropped);
	if (!e->nspells)
		snprintf(buf, cap, "never seen running");
}

/* --- expectations ------------------------------------------------------------ */

/* The row's figure for key, false when the row has none to hold. */
static bool row_value(const report_ready_row *q, drill_expect_key key, double *v)
{
	switch (key) {
	case DRILL_EXPECT_READY_WRITE_P99: *v = q->w_p99_ms; return q->writes > 0;
	case DRILL_EXPECT_READY_WRITE_P999: *v = q->w_p999_ms; return q->writes > 0;
	case DRILL_EXPECT_READY_READ_P99: *v = q->r_p99_ms; return q->reads > 0;
	case DRILL_EXPECT_READY_ME_P99: *v = q->m_p99_ms; return q->hearts > 0;
	case DRILL_EXPECT_READY_ME_READTHROUGHS:
		*v = q->me_readthroughs;
		return q->me_readthroughs >= 0;
	case DRILL_EXPECT_READY_READ_ERRORS: *v = (double)q->read_errors; return true;
	case DRILL_EXPECT_READY_READTHROUGHS: *v = q->readthroughs; return q->readthroughs >= 0;
	default: return false;
	}
}

static const char *what_of(drill_expect_key key)
{
	switch (key) {
	case DRILL_EXPECT_READY_WRITE_P99: return "ready write p99 (ms)";
	case DRILL_EXPECT_READY_WRITE_P999: return "ready write p99.9 (ms)";
	case DRILL_EXPECT_READY_READ_P99: return "ready count-read p99 (ms)";
	case DRILL_EXPECT_READY_ME_P99: return "ready heart-read p99 (ms)";
	case DRILL_EXPECT_READY_ME_READTHROUGHS:
		return "home users' membership read-throughs once ready";
	case DRILL_EXPECT_READY_READ_ERRORS: return "read errors while ready";
	case DRILL_EXPECT_READY_READTHROUGHS: return "count read-throughs once ready";
	default: return "figure";
	}
}

/* Is key one of the latency intervals' (sim/drill/intervals.h holds
 * them)? */
static bool is_interval(drill_expect_key key)
{
	return key == DRILL_EXPECT_INTERVAL_P99 || key == DRILL_EXPECT_INTERVAL_EDGE_P99 ||
	       key == DRILL_EXPECT_INTERVAL_DRIFT;
}

/* Is key a latency, held in the full run only? */
static bool is_latency(drill_expect_key key)
{
	return key == DRILL_EXPECT_READY_WRITE_P99 || key == DRILL_EXPECT_READY_WRITE_P999 ||
	       key == DRILL_EXPECT_READY_READ_P99 || key == DRILL_EXPECT_READY_ME_P99 ||
	       is_interval(key);
}

size_t ready_check(const drill *d, bool short_run, const report_ready_row *rows,
                   const bool *whole_run, size_t nrows, uint64_t read_errors, report *r)
{
	size_t miss = 0;
	bool any_ready = false, skipped = false;
	for (size_t x = 0; x < d->nexpects; x++) {
		const drill_expect *ex = &d->expects[x];
		const char *key = drill_expect_name(ex->key);
		if (short_run && is_latency(ex->key)) {
			skipped = true;
			continue;
		}
		if (is_interval(ex->key) || ex->key == DRILL_EXPECT_TAKEOVER_MAX ||
		    ex->key == DRILL_EXPECT_ACTIVE_CHANGES ||
		    ex->key == DRILL_EXPECT_NOT_REPLICATED)
			continue; /* held by the intervals and the takeovers */
		if (ex->key == DRILL_EXPECT_READ_ERRORS) {
			if ((double)read_errors > ex->max) {
				report_violation(r,
				                 "%" PRIu64 " reads failed over the run, more than "
				                 "%g (expect %s %g)",
				                 read_errors, ex->max, key, ex->max);
				miss++;
			}
			continue;
		}
		any_ready = true;
		for (size_t i = 0; i < nrows; i++) {
			const report_ready_row *q = &rows[i];
			double v;
			if (!row_value(q, ex->key, &v)) {
				/* A figure missing over the whole run is a miss: an
				 * expectation nothing was measured against holds
				 * nothing. (Never ready at all is said below.) */
				bool never = !q->writes && !q->reads;
				if (whole_run[i] && !never) {
					if (ex->key == DRILL_EXPECT_READY_READTHROUGHS)
						report_violation(r,
						                 "%s: its /metrics has "
						                 "neither " READY_METRIC_COUNTS
						                 " nor " READY_METRIC_REQUESTS
						                 ": no read-throughs to "
						                 "hold to expect %s %g",
						                 q->edge, key, ex->max);
					else
						report_violation(
						    r, "%s: no %s to hold to expect %s %g", q->edge,
						    what_of(ex->key), key, ex->max);
					miss++;
				}
				continue;
			}
			if (v > ex->max) {
				report_violation(r, "%s, %s: %s %g is above %g (expect %s %g)",
				                 q->edge, q->phase, what_of(ex->key), v, ex->max,
				                 key, ex->max);
				miss++;
			}
		}
	}
	if (skipped)
		report_text(r, "latency_expectations",
		            "held in the full run only (the table shows this run's figures)");
	if (any_ready) {
		for (size_t i = 0; i < nrows; i++) {
			if (whole_run[i] && !rows[i].writes && !rows[i].reads) {
				report_violation(
				    r,
				    "%s was never ready with clients (its /readyz never "
				    "answered 200 while ops went to it): no ready "
				    "figures to hold to the drill's expectations",
				    rows[i].edge);
				miss++;
			}
		}
	}
	return miss;
}
