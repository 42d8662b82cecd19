/* report.c - a drill run's record and its summary.txt; report.json is
 * report_json.c's, the picture report_svg.c's.
 *
 * Owns copies of every string it is given. Strings are cleaned on the way
 * in: bytes that are not valid UTF-8 become '?', control characters
 * become spaces, so every renderer can trust them. Lists are capped
 * (REPORT_*_MAX below); past a cap, entries are dropped and counted, and a
 * violation is always counted even when its text is dropped.
 *
 * Not thread-safe: one owner (the runner's thread).
 */
#include "sim/drill/report.h"
#include "sim/drill/report_svg.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmem.h"

#define REPORT_LABEL_MAX 256     /* bytes kept of any label or key */
#define REPORT_VIOLATION_MAX 512 /* bytes kept of one violation */
#define REPORT_VIOLATIONS_KEPT 1000
#define REPORT_ROWS_MAX 1024 /* faults, latency, convergence, numbers, texts */
#define REPORT_SAMPLES_MAX 1000000
#define REPORT_INTERVALS_MAX (8 * 3600) /* edges x intervals */

/* Grows an array of n elements of size bytes so one more fits. */
static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	return xrealloc(p, *cap * size);
}

/* Length of the valid UTF-8 sequence at s (at most max bytes), 0 if the
 * bytes there are not one. */
static size_t utf8_len(const unsigned char *s, size_t max)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n > max)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* A copy of s of at most max bytes, valid UTF-8 without control
 * characters. NULL becomes "". */
static char *clean(const char *s, size_t max)
{
	if (!s)
		s = "";
	size_t len = strnlen(s, max);
	char *out = xmalloc(len + 1);
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0;
	while (i < len) {
		size_t n = utf8_len(u + i, len - i);
		if (n == 0) {
			out[o++] = '?';
			i++;
		} else if (n == 1) {
			out[o++] = (u[i] < 0x20 || u[i] == 0x7F) ? ' ' : (char)u[i];
			i++;
		} else {
			memcpy(out + o, u + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	return out;
}

report *report_new(const char *drill, bool short_run, unsigned regions)
{
	report *r = xcalloc(1, sizeof *r);
	r->drill = clean(drill, REPORT_LABEL_MAX);
	r->short_run = short_run;
	r->regions = regions > REPORT_SERIES_MAX ? REPORT_SERIES_MAX : regions;
	r->iv_limit_ms = r->iv_srv_limit_ms = -1;
	return r;
}

void report_free(report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfaults; i++)
		free(r->faults[i].label);
	for (size_t i = 0; i < r->nlat; i++)
		free(r->lat[i].phase);
	for (size_t i = 0; i < r->nconv; i++)
		free(r->conv[i].after);
	for (size_t i = 0; i < r->nnums; i++)
		free(r->nums[i].key);
	for (size_t i = 0; i < r->ntexts; i++) {
		free(r->texts[i].key);
		free(r->texts[i].value);
	}
	for (size_t i = 0; i < r->nviol_kept; i++)
		free(r->viol[i]);
	free(r->faults);
	free(r->lat);
	free(r->conv);
	free(r->ready);
	free(r->iv);
	free(r->tk);
	free(r->nums);
	free(r->texts);
	free(r->viol);
	free(r->samples);
	free(r->procs);
	free(r->load_sched);
	for (unsigned i = 0; i < r->nproc_nodes; i++)
		free(r->proc_nodes[i].name);
	free(r->feed.state);
	for (size_t i = 0; i < r->feed.nexamples; i++)
		free(r->feed.examples[i]);
	free(r->drill);
	free(r);
}

/* Counts a dropped entry; warns on the first of each run. */
static bool full(report *r, size_t n, size_t max, const char *what)
{
	if (n < max)
		return false;
	if (r->dropped++ == 0)
		log_warn("report list full", "list=%s max=%zu", what, max);
	return true;
}

void report_fault(report *r, double start_s, double end_s, const char *label)
{
	if (full(r, r->nfaults, REPORT_ROWS_MAX, "faults"))
		return;
	r->faults = grow(r->faults, &r->capfaults, r->nfaults, sizeof *r->faults);
	report_fault_row *f = &r->faults[r->nfaults++];
	f->start_s = start_s;
	f->end_s = end_s;
	f->label = clean(label, REPORT_LABEL_MAX);
}

void report_sample(report *r, double t_s, uint64_t truth, const int64_t *answered,
                   unsigned nregions, double p99_ms)
{
	if (full(r, r->nsamples, REPORT_SAMPLES_MAX, "samples"))
		return;
	r->samples = grow(r->samples, &r->capsamples, r->nsamples, sizeof *r->samples);
	report_sample_row *s = &r->samples[r->nsamples++];
	s->t_s = t_s;
	s->truth = truth;
	for (unsigned i = 0; i < REPORT_SERIES_MAX; i++)
		s->answered[i] = (answered && i < nregions && answered[i] >= 0) ? answered[i] : -1;
	s->p99_ms = p99_ms;
}

const char *report_kind_name(int kind)
{
	return kind == REPORT_READS ? "read" : kind == REPORT_HEARTS ? "me" : "write";
}

void report_latency(report *r, const char *phase, int kind, uint64_t n, double p50_ms,
                    double p99_ms, double p999_ms)
{
	if (full(r, r->nlat, REPORT_ROWS_MAX, "latency"))
		return;
	r->lat = grow(r->lat, &r->caplat, r->nlat, sizeof *r->lat);
	report_latency_row *l = &r->lat[r->nlat++];
	l->phase = clean(phase, REPORT_LABEL_MAX);
	l->kind = kind;
	l->n = n;
	l->p50_ms = p50_ms;
	l->p99_ms = p99_ms;
	l->p999_ms = p999_ms;
}

/* Cleans s into a field of cap bytes (clean never makes text longer;
 * a character cut at the end becomes '?'). */
static void clean_into(char *dst, size_t cap, const char *s)
{
	char *c = clean(s, strnlen(s, cap - 1));
	snprintf(dst, cap, "%s", c);
	free(c);
}

void report_ready(report *r, const report_ready_row *row)
{
	if (full(r, r->nready, REPORT_ROWS_MAX, "ready"))
		return;
	r->ready = grow(r->ready, &r->capready, r->nready, sizeof *r->ready);
	report_ready_row *q = &r->ready[r->nready++];
	*q = *row;
	clean_into(q->edge, sizeof q->edge, row->edge);
	clean_into(q->phase, sizeof q->phase, row->phase);
}

void report_interval(report *r, const report_interval_row *row)
{
	if (full(r, r->niv, REPORT_INTERVALS_MAX, "intervals"))
		return;
	r->iv = grow(r->iv, &r->capiv, r->niv, sizeof *r->iv);
	report_interval_row *q = &r->iv[r->niv++];
	*q = *row;
	clean_into(q->edge, sizeof q->edge, row->edge);
}

void report_takeover(report *r, const report_takeover_row *row)
{
	if (full(r, r->ntk, REPORT_ROWS_MAX, "takeovers"))
		return;
	r->tk = grow(r->tk, &r->captk, r->ntk, sizeof *r->tk);
	report_takeover_row *q = &r->tk[r->ntk++];
	*q = *row;
	clean_into(q->region, sizeof q->region, row->region);
	clean_into(q->lost, sizeof q->lost, row->lost);
	clean_into(q->by, sizeof q->by, row->by);
	clean_into(q->step, sizeof q->step, row->step);
}

void report_interval_limits(report *r, double limit_ms, double srv_limit_ms)
{
	r->iv_limit_ms = limit_ms;
	r->iv_srv_limit_ms = srv_limit_ms;
}

void report_convergence(report *r, const char *after, double seconds, bool converged)
{
	if (full(r, r->nconv, REPORT_ROWS_MAX, "convergence"))
		return;
	r->conv = grow(r->conv, &r->capconv, r->nconv, sizeof *r->conv);
	report_convergence_row *c = &r->conv[r->nconv++];
	c->after = clean(after, REPORT_LABEL_MAX);
	c->seconds = seconds;
	c->converged = converged;
}

void report_violation(report *r, const char *fmt, ...)
{
	r->nviol++;
	if (r->nviol_kept >= REPORT_VIOLATIONS_KEPT)
		return;
	char buf[REPORT_VIOLATION_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	r->viol = grow(r->viol, &r->capviol, r->nviol_kept, sizeof *r->viol);
	r->viol[r->nviol_kept++] = clean(buf, sizeof buf);
}

void report_number(report *r, const char *key, double value)
{
	for (size_t i = 0; i < r->nnums; i++)
		if (strcmp(r->nums[i].key, key ? key : "") == 0) {
			r->nums[i].value = value;
			return;
		}
	if (full(r, r->nnums, REPORT_ROWS_MAX, "numbers"))
		return;
	r->nums = grow(r->nums, &r->capnums, r->nnums, sizeof *r->nums);
	r->nums[r->nnums].key = clean(key, REPORT_LABEL_MAX);
	r->nums[r->nnums++].value = value;
}

void report_text(report *r, const char *key, const char *value)
{
	for (size_t i = 0; i < r->ntexts; i++)
		if (strcmp(r->texts[i].key, key ? key : "") == 0) {
			free(r->texts[i].value);
			r->texts[i].value = clean(value, REPORT_VIOLATION_MAX);
			return;
		}
	if (full(r, r->ntexts, REPORT_ROWS_MAX, "texts"))
		return;
	r->texts = grow(r->texts, &r->captexts, r->ntexts, sizeof *r->texts);
	r->texts[r->ntexts].key = clean(key, REPORT_LABEL_MAX);
	r->texts[r->ntexts++].value = clean(value, REPORT_VIOLATION_MAX);
}

/* The index of node among the sampled daemons, added when new; -1 when
 * there is no room. */
static int proc_node(report *r, const char *node)
{
	char *name = clean(node, REPORT_LABEL_MAX);
	for (unsigned i = 0; i < r->nproc_nodes; i++)
		if (strcmp(r->proc_nodes[i].name, name) == 0) {
			free(name);
			return (int)i;
		}
	if (full(r, r->nproc_nodes, REPORT_NODES_MAX, "process nodes")) {
		free(name);
		return -1;
	}
	r->proc_nodes[r->nproc_nodes].name = name;
	return (int)r->nproc_nodes++;
}

void report_proc(report *r, const char *node, int pid, const soak_sample *s)
{
	int k = proc_node(r, node);
	if (k < 0 || full(r, r->nprocs, REPORT_SAMPLES_MAX, "process samples"))
		return;
	r->procs = grow(r->procs, &r->capprocs, r->nprocs, sizeof *r->procs);
	r->procs[r->nprocs++] = (report_proc_row){.node = (unsigned)k, .pid = pid, .s = *s};
}

void report_load_sched(report *r, double t_s, double cpu_s, double wait_s, double slices)
{
	if (full(r, r->nload_sched, REPORT_SAMPLES_MAX, "load thread samples"))
		return;
	r->load_sched =
	    grow(r->load_sched, &r->capload_sched, r->nload_sched, sizeof *r->load_sched);
	r->load_sched[r->nload_sched++] = (report_sched_row){t_s, cpu_s, wait_s, slices};
}

void report_proc_verdict(report *r, const char *node, const soak_verdict *v, const soak_bound *b)
{
	int k = proc_node(r, node);
	if (k < 0)
		return;
	report_proc_node *n = &r->proc_nodes[k];
	n->judged = true;
	n->v = *v;
	n->bound = *b;
}

void report_proc_instrument(report *r, const char *node, const soak_verdict *v)
{
	int k = proc_node(r, node);
	if (k < 0)
		return;
	r->proc_nodes[k].instrument = true;
	r->proc_nodes[k].v = *v;
}

void report_proc_rules(report *r, double warmup_s, double every_s)
{
	r->proc_warmup_s = warmup_s;
	r->proc_every_s = every_s;
}

void report_feed(report *r, const char *state, const feedcheck_figures *f,
                 const char *const *examples, size_t nexamples)
{
	report_feed_rec *fr = &r->feed;
	free(fr->state);
	for (size_t i = 0; i < fr->nexamples; i++)
		free(fr->examples[i]);
	memset(fr, 0, sizeof *fr);
	fr->set = true;
	fr->state = clean(state, REPORT_LABEL_MAX);
	if (f) {
		fr->checked = true;
		fr->f = *f;
	}
	for (size_t i = 0; i < nexamples && i < FEEDCHECK_EXAMPLES_MAX; i++)
		fr->examples[fr->nexamples++] = clean(examples[i], REPORT_VIOLATION_MAX);
}

size_t report_violations(const report *r)
{
	return r->nviol;
}

bool report_passed(const report *r)
{
	if (r->nviol)
		return false;
	for (size_t i = 0; i < r->nconv; i++)
		if (!r->conv[i].converged)
			return false;
	return true;
}

/* ---- summary.txt ---- */

/* A number as people read it: integers without a fraction. */
static void fmt_value(char *buf, size_t cap, double v)
{
	if (!isfinite(v))
		snprintf(buf, cap, "-");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(buf, cap, "%.0f", v);
	else
		snprintf(buf, cap, "%.6g", v);
}

static void fmt_ms(char *buf, size_t cap, double v)
{
	if (!isfinite(v) || v < 0)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.2f", v);
}

/* A bucket bound: "<=5", ">10000" past the last one, "-" unknown. */
static void fmt_bound(char *buf, size_t cap, double v)
{
	if (isinf(v))
		snprintf(buf, cap, ">10000");
	else if (v < 0)
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "<=%g", v);
}

/* One edge's client latency as the ready and interval tables print it:
 * write p50, p99, p99.9 and read p50, p99 ("-" where there were none)
 * and the edge's own write and read p99 bounds. */
typedef struct rw_cells {
	char w50[32], w99[32], w999[32], r50[32], r99[32], w_srv[32], r_srv[32];
} rw_cells;

static void fmt_rw(rw_cells *c, uint64_t writes, double w50, double w99, double w999,
                   uint64_t reads, double r50, double r99, double w_srv, double r_srv)
{
	fmt_ms(c->w50, sizeof c->w50, writes ? w50 : -1);
	fmt_ms(c->w99, sizeof c->w99, writes ? w99 : -1);
	fmt_ms(c->w999, sizeof c->w999, writes ? w999 : -1);
	fmt_ms(c->r50, sizeof c->r50, reads ? r50 : -1);
	fmt_ms(c->r99, sizeof c->r99, reads ? r99 : -1);
	fmt_bound(c->w_srv, sizeof c->w_srv, w_srv);
	fmt_bound(c->r_srv, sizeof c->r_srv, r_srv);
}

/* The sampled daemons: RSS at the start, the end and its peak; the
 * anonymous part at the start, settled, at the end and its trend; the
 * descriptors; the bound and the verdict. */
static void procs_summary(const report *r, FILE *f)
{
	fprintf(
	    f,
	    "\nprocesses (MB; RSS: all of it, anon: its anonymous part, which is judged;\n"
	    "  settled and end: medians of the first and last fifth after a warm-up of %.0f s;\n"
	    "  trend: the least-squares rise after it; fds without the store's files;\n"
	    "  a reading every %.0f s)\n",
	    r->proc_warmup_s, r->proc_every_s);
	fprintf(f, "  %-9s %6s %6s %6s %6s | %6s %6s %6s %6s | %5s %5s %5s %5s  %s\n", "node",
	        "rss0", "rssN", "peak", "bound", "anon0", "settle", "anonN", "trend", "fds0", "fds",
	        "fdsN", "store", "verdict");
	for (unsigned i = 0; i < r->nproc_nodes; i++) {
		const report_proc_node *n = &r->proc_nodes[i];
		const soak_verdict *v = &n->v;
		if (n->instrument) {
			fprintf(
			    f,
			    "  %-9s %6.1f %6.1f %6.1f %6s | %6.1f %6.1f %6.1f %+6.1f | %5.0f %5.0f "
			    "%5.0f %5s  the instrument: not judged\n",
			    n->name, v->rss_start, v->rss_end, v->rss_peak, "-", v->anon_start,
			    v->anon_settled, v->anon_end, v->anon_trend, v->fds_start,
			    v->fds_settled, v->fds_end, "-");
			continue;
		}
		if (!n->judged) {
			fprintf(f, "  %-9s (not judged)\n", n->name);
			continue;
		}
		fprintf(
		    f,
		    "  %-9s %6.1f %6.1f %6.1f %6.1f | %6.1f %6.1f %6.1f %+6.1f | %5.0f %5.0f %5.0f "
		    "%5.0f  %s\n",
		    n->name, v->rss_start, v->rss_end, v->rss_peak, n->bound.total_mb,
		    v->anon_start, v->anon_settled, v->anon_end, v->anon_trend, v->fds_start,
		    v->fds_settled, v->fds_end, v->store_fds_max,
		    v->why[0] ? v->why : "flat, under the bound");
	}
	for (unsigned i = 0; i < r->nproc_nodes; i++) {
		const report_proc_node *n = &r->proc_nodes[i];
		if (!n->judged)
			continue;
		char text[1024];
		soak_bound_text(&n->bound, text, sizeof text);
		fprintf(f, "  bound of %s: %s\n", n->name, text);
	}
	bool any = false;
	for (unsigned i = 0; i < r->nproc_nodes; i++)
		any |= r->proc_nodes[i].judged && r->proc_nodes[i].v.nheld;
	if (!any)
		return;
	fprintf(f, "  what holds the anonymous memory, by each daemon's own count (MB, settled ->"
	           " end):\n");
	for (unsigned i = 0; i < r->nproc_nodes; i++) {
		const report_proc_node *n = &r->proc_nodes[i];
		const soak_verdict *v = &n->v;
		if (!n->judged || !v->nheld)
			continue;
		fprintf(f, "    %-9s", n->name);
		for (size_t k = 0; k < v->nheld; k++)
			fprintf(f, "%s %s %.1f -> %.1f", k ? "," : "", v->held_settled[k].name,
			        v->held_settled[k].mb, v->held_end[k].mb);
		if (v->have_unheld)
			fprintf(f, "; none of these %.1f -> %.1f", v->unheld_settled,
			        v->unheld_end);
		fputc('\n', f);
	}
}

/* CPU share (percent of one core) and mean run-queue wait per time
 * slice (us) of rows between from_s and to_s: the first and the last
 * reading inside. false with fewer than two. */
static bool sched_window(const report_sched_row *rows, size_t n, double from_s, double to_s,
                         double *cpu_pct, double *wait_us)
{
	const report_sched_row *a = NULL, *b = NULL;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].t_s < from_s || rows[i].t_s > to_s)
			continue;
		if (!a)
			a = &rows[i];
		b = &rows[i];
	}
	if (!a || b == a || b->t_s <= a->t_s || b->cpu_s < a->cpu_s)
		return false;
	*cpu_pct = 100 * (b->cpu_s - a->cpu_s) / (b->t_s - a->t_s);
	double sl = b->slices - a->slices;
	*wait_us = sl > 0 ? 1e6 * (b->wait_s - a->wait_s) / sl : 0;
	return true;
}

/* One line of the scheduling table: settled and end windows as the
 * memory's (the first and last fifth after the warm-up). */
static void sched_line(const report *r, FILE *f, const char *name, const report_sched_row *rows,
                       size_t n)
{
	if (n < 2)
		return;
	double end = rows[n - 1].t_s, span = end - r->proc_warmup_s;
	double c0, w0, c1, w1;
	if (span <= 0 ||
	    !sched_window(rows, n, r->proc_warmup_s, r->proc_warmup_s + span / 5, &c0, &w0) ||
	    !sched_window(rows, n, end - span / 5, end, &c1, &w1))
		return;
	fprintf(f, "  %-9s %6.1f %6.1f | %6.0f %6.0f\n", name, c0, c1, w0, w1);
}

/* Where the CPU went and how long woken threads waited for one, per
 * daemon and for the load's own thread: a tail that grows while these
 * stay flat is not the daemons' work growing. */
static void sched_summary(const report *r, FILE *f)
{
	fprintf(f, "\nscheduling (cpu: percent of one core, all threads; wait: mean time a "
	           "thread\n  waited on a run queue per time slice it ran, us; settled -> end, "
	           "as above;\n  from /proc/PID/task/*/schedstat)\n");
	fprintf(f, "  %-9s %6s %6s | %6s %6s\n", "node", "cpu0", "cpuN", "wait0", "waitN");
	report_sched_row *rows = xcalloc(r->nprocs ? r->nprocs : 1, sizeof *rows);
	for (unsigned k = 0; k < r->nproc_nodes; k++) {
		size_t n = 0;
		int pid = 0;
		for (size_t i = 0; i < r->nprocs; i++) {
			const report_proc_row *p = &r->procs[i];
			if (p->node != k || p->s.slices <= 0)
				continue;
			if (p->pid != pid) /* a new process: its own figures from 0 */
				n = 0;
			pid = p->pid;
			rows[n++] =
			    (report_sched_row){p->s.t_s, p->s.cpu_s, p->s.wait_s, p->s.slices};
		}
		sched_line(r, f, r->proc_nodes[k].name, rows, n);
	}
	free(rows);
	sched_line(r, f, "sim-load", r->load_sched, r->nload_sched);
}

/* Each edge's latency per interval, an edge after another. */
/* The ready edges' heart reads, when the drill had any. */
static void hearts_summary(const report *r, FILE *f)
{
	bool any = false;
	for (size_t i = 0; i < r->nready; i++)
		any |= r->ready[i].hearts > 0;
	if (!any)
		return;
	fprintf(
	    f, "\nready edges' heart reads (ms; GET /v1/me of a feed page, users at home there)\n");
	fprintf(f, "  %-7s %-24s %8s %7s %7s %9s\n", "edge", "phase", "me", "p50", "p99",
	        "rd-thru");
	for (size_t i = 0; i < r->nready; i++) {
		const report_ready_row *q = &r->ready[i];
		char a[32], b[32], rt[64];
		fmt_ms(a, sizeof a, q->hearts ? q->m_p50_ms : -1);
		fmt_ms(b, sizeof b, q->hearts ? q->m_p99_ms : -1);
		if (q->me_readthroughs < 0)
			snprintf(rt, sizeof rt, "-");
		else
			fmt_value(rt, sizeof rt, q->me_readthroughs);
		fprintf(f, "  %-7s %-24s %8" PRIu64 " %7s %7s %9s\n", q->edge, q->phase, q->hearts,
		        a, b, rt);
	}
}

static void intervals_summary(const report *r, FILE *f)
{
	fprintf(f, "\nlatency per interval (ms; each edge's clients while it was ready;\n"
	           "  edge w/r p99: the edge's own p99 for writes / count reads, at most;\n"
	           "  load, wake p99: how late the load's loop and a bare sleeping thread\n"
	           "  ran; hand p99: how long an answer lay in its socket before the load\n"
	           "  took it up (the clients' latencies end at the socket: this is the\n"
	           "  instrument's, held only by requests queued behind that answer);\n"
	           "  echo p99: an empty round trip between\n"
	           "  two threads of sim, the machine's floor under any request;\n"
	           "  * an interval shorter than the others, held by no rule)\n");
	fprintf(f, "  %-7s %4s %-13s %8s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s %7s\n", "edge",
	        "#", "span", "writes", "p50", "p99", "p99.9", "reads", "p50", "p99", "edge w",
	        "edge r", "load", "hand", "wake", "echo");
	for (size_t i = 0; i < r->niv; i++) {
		const report_interval_row *q = &r->iv[i];
		rw_cells rw;
		fmt_rw(&rw, q->writes, q->w_p50_ms, q->w_p99_ms, q->w_p999_ms, q->reads,
		       q->r_p50_ms, q->r_p99_ms, q->w_srv_p99_ms, q->r_srv_p99_ms);
		char span[32], lg[32], hd[32], wk[32], ec[32];
		fmt_ms(lg, sizeof lg, q->lag_p99_ms);
		fmt_ms(hd, sizeof hd, q->hand_p99_ms);
		fmt_ms(wk, sizeof wk, q->wake_p99_ms);
		fmt_ms(ec, sizeof ec, q->echo_p99_ms);
		snprintf(span, sizeof span, "%.0f-%.0fs%s", q->t0_s, q->t1_s,
		         q->complete ? "" : "*");
		fprintf(f,
		        "  %-7s %4u %-13s %8" PRIu64 " %7s %7s %7s %7" PRIu64
		        " %7s %7s %7s %7s %7s %7s %7s %7s\n",
		        q->edge, q->index + 1, span, q->writes, rw.w50, rw.w99, rw.w999, q->reads,
		        rw.r50, rw.r99, rw.w_srv, rw.r_srv, lg, hd, wk, ec);
	}
}

/* Each loss of a region's active instance and its takeover. */
static void takeovers_summary(const report *r, FILE *f)
{
	fprintf(f, "\ntakeovers (from the step to the first write the region's other instance\n"
	           "  acknowledged; pending: the lost instance's writes in flight from its\n"
	           "  clients, ops in open batches, sealed batches not confirmed by central)\n");
	fprintf(f, "  %8s  %-24s %-22s %-22s %9s %9s %7s %7s\n", "at", "step", "lost",
	        "taken over by", "seconds", "in flight", "ops", "batches");
	for (size_t i = 0; i < r->ntk; i++) {
		const report_takeover_row *q = &r->tk[i];
		char secs[32], ops[32], batches[32];
		if (q->seconds < 0)
			snprintf(secs, sizeof secs, "none");
		else
			snprintf(secs, sizeof secs, "%.2f", q->seconds);
		if (q->pending_ops < 0)
			snprintf(ops, sizeof ops, "-");
		else
			fmt_value(ops, sizeof ops, q->pending_ops);
		if (q->pending_batches < 0)
			snprintf(batches, sizeof batches, "-");
		else
			fmt_value(batches, sizeof batches, q->pending_batches);
		fprintf(f, "  %7.1fs  %-24s %-22s %-22s %9s %9" PRIu64 " %7s %7s\n", q->at_s,
		        q->step, q->lost, q->by[0] ? q->by : "-", secs, q->in_flight, ops, batches);
	}
}

void report_write_summary(const report *r, FILE *f)
{
	char a[64], b[64], c[64];
	bool pass = report_passed(r);
	size_t unconverged = 0;
	for (size_t i = 0; i < r->nconv; i++)
		unconverged += !r->conv[i].converged;

	fprintf(f, "drill    %s%s\n", r->drill, r->short_run ? " (short run)" : "");
	fprintf(f, "result   %s", pass ? "PASS" : "FAIL");
	if (r->nviol)
		fprintf(f, ", %zu violation%s", r->nviol, r->nviol == 1 ? "" : "s");
	if (unconverged)
		fprintf(f, ", %zu convergence%s not reached", unconverged,
		        unconverged == 1 ? "" : "s");
	fprintf(f, "\nsamples  %zu\n", r->nsamples);

	if (r->nnums || r->ntexts) {
		fprintf(f, "\nnumbers\n");
		for (size_t i = 0; i < r->nnums; i++) {
			fmt_value(a, sizeof a, r->nums[i].value);
			fprintf(f, "  %-28s %s\n", r->nums[i].key, a);
		}
		for (size_t i = 0; i < r->ntexts; i++)
			fprintf(f, "  %-28s %s\n", r->texts[i].key, r->texts[i].value);
	}

	fprintf(f, "\nlatency (ms)\n");
	if (r->nlat == 0)
		fprintf(f, "  (none recorded)\n");
	else
		fprintf(f, "  %-24s %-5s %10s %9s %9s %9s\n", "phase", "kind", "n", "p50", "p99",
		        "p99.9");
	for (size_t i = 0; i < r->nlat; i++) {
		const report_latency_row *l = &r->lat[i];
		fmt_ms(a, sizeof a, l->p50_ms);
		fmt_ms(b, sizeof b, l->p99_ms);
		fmt_ms(c, sizeof c, l->p999_ms);
		fprintf(f, "  %-24s %-5s %10" PRIu64 " %9s %9s %9s\n", l->phase,
		        report_kind_name(l->kind), l->n, a, b, c);
	}

	if (r->nready) {
		fprintf(f,
		        "\nready edges (ms; each edge's clients while its /readyz answered 200;\n"
		        "  edge w/r p99: the edge's own p99 for writes / count reads, at most)\n");
		fprintf(f, "  %-7s %-24s %8s %7s %7s %7s %7s %7s %7s %7s %9s %7s %7s\n", "edge",
		        "phase", "writes", "p50", "p99", "p99.9", "reads", "p50", "p99", "rd err",
		        "rd-thru", "edge w", "edge r");
	}
	for (size_t i = 0; i < r->nready; i++) {
		const report_ready_row *q = &r->ready[i];
		rw_cells rw;
		fmt_rw(&rw, q->writes, q->w_p50_ms, q->w_p99_ms, q->w_p999_ms, q->reads,
		       q->r_p50_ms, q->r_p99_ms, q->w_srv_p99_ms, q->r_srv_p99_ms);
		char rt[64];
		if (q->readthroughs < 0)
			snprintf(rt, sizeof rt, "-");
		else
			fmt_value(rt, sizeof rt, q->readthroughs);
		fprintf(f,
		        "  %-7s %-24s %8" PRIu64 " %7s %7s %7s %7" PRIu64 " %7s %7s %7" PRIu64
		        " %9s %7s %7s\n",
		        q->edge, q->phase, q->writes, rw.w50, rw.w99, rw.w999, q->reads, rw.r50,
		        rw.r99, q->read_errors, rt, rw.w_srv, rw.r_srv);
	}

	hearts_summary(r, f);

	if (r->niv)
		intervals_summary(r, f);

	if (r->ntk)
		takeovers_summary(r, f);

	if (r->nproc_nodes) {
		procs_summary(r, f);
		sched_summary(r, f);
	}

	report_feed_summary(r, f);

	fprintf(f, "\nfaults\n");
	if (r->nfaults == 0)
		fprintf(f, "  (none)\n");
	for (size_t i = 0; i < r->nfaults; i++) {
		const report_fault_row *ft = &r->faults[i];
		if (ft->end_s < 0)
			fprintf(f, "  %8.1fs - end        %s\n", ft->start_s, ft->label);
		else
			fprintf(f, "  %8.1fs - %8.1fs  %s\n", ft->start_s, ft->end_s, ft->label);
	}

	fprintf(f, "\nconvergence\n");
	if (r->nconv == 0)
		fprintf(f, "  (none measured)\n");
	for (size_t i = 0; i < r->nconv; i++) {
		const report_convergence_row *cv = &r->conv[i];
		if (cv->converged)
			fprintf(f, "  after %-32s converged in %.2fs\n", cv->after, cv->seconds);
		else
			fprintf(f, "  after %-32s NOT converged after %.2fs\n", cv->after,
			        cv->seconds);
	}

	fprintf(f, "\nviolations (%zu)\n", r->nviol);
	if (r->nviol == 0)
		fprintf(f, "  (none)\n");
	for (size_t i = 0; i < r->nviol_kept; i++)
		fprintf(f, "  %s\n", r->viol[i]);
	if (r->nviol > r->nviol_kept)
		fprintf(f, "  ... and %zu more not kept\n", r->nviol - r->nviol_kept);
	if (r->dropped)
		fprintf(f, "\n(%" PRIu64 " entries dropped past the report's caps)\n", r->dropped);
}
