/* intervals.c - a long drill's latency per interval, and its rules
 * (intervals.h). */
#include "sim/drill/intervals.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

void intervals_init(intervals *iv, unsigned nedges, double every_s)
{
	memset(iv, 0, sizeof *iv);
	iv->nedges = nedges;
	iv->every_s = every_s;
}

void intervals_free(intervals *iv)
{
	free(iv->t0_s);
	free(iv->t1_s);
	free(iv->cells);
	free(iv->lag);
	free(iv->hand);
	free(iv->wake);
	free(iv->echo);
	memset(iv, 0, sizeof *iv);
}

interval_cell *intervals_add(intervals *iv, double t0_s, double t1_s)
{
	if (iv->n == iv->cap) {
		iv->cap = iv->cap ? iv->cap * 2 : 32;
		iv->t0_s = xrealloc(iv->t0_s, iv->cap * sizeof *iv->t0_s);
		iv->t1_s = xrealloc(iv->t1_s, iv->cap * sizeof *iv->t1_s);
		iv->cells = xrealloc(iv->cells, iv->cap * iv->nedges * sizeof *iv->cells);
		iv->lag = xrealloc(iv->lag, iv->cap * sizeof *iv->lag);
		iv->hand = xrealloc(iv->hand, iv->cap * sizeof *iv->hand);
		iv->wake = xrealloc(iv->wake, iv->cap * sizeof *iv->wake);
		iv->echo = xrealloc(iv->echo, iv->cap * sizeof *iv->echo);
	}
	size_t i = iv->n++;
	iv->t0_s[i] = t0_s;
	iv->t1_s[i] = t1_s;
	hist_init(&iv->lag[i]);
	hist_init(&iv->hand[i]);
	hist_init(&iv->wake[i]);
	hist_init(&iv->echo[i]);
	interval_cell *c = &iv->cells[i * iv->nedges];
	memset(c, 0, iv->nedges * sizeof *c);
	for (unsigned e = 0; e < iv->nedges; e++) {
		hist_init(&c[e].w);
		hist_init(&c[e].r);
	}
	return c;
}

void intervals_set_instrument(intervals *iv, const hist *lag, const hist *hand, const hist *wake,
                              const hist *echo)
{
	if (!iv->n)
		return;
	if (lag)
		iv->lag[iv->n - 1] = *lag;
	if (hand)
		iv->hand[iv->n - 1] = *hand;
	if (wake)
		iv->wake[iv->n - 1] = *wake;
	if (echo)
		iv->echo[iv->n - 1] = *echo;
}

bool intervals_complete(const intervals *iv, size_t i)
{
	return i < iv->n && iv->t1_s[i] - iv->t0_s[i] >= iv->every_s * 0.99;
}

static const interval_cell *cell(const intervals *iv, size_t i, unsigned e)
{
	return &iv->cells[i * iv->nedges + e];
}

static double q_ms(const hist *h, double q)
{
	return (double)hist_quantile(h, q) / 1000.0;
}

void intervals_row(const intervals *iv, size_t i, unsigned e, const char *edge_name,
                   report_interval_row *out)
{
	memset(out, 0, sizeof *out);
	const interval_cell *c = cell(iv, i, e);
	snprintf(out->edge, sizeof out->edge, "%s", edge_name);
	out->index = (unsigned)i;
	out->t0_s = iv->t0_s[i];
	out->t1_s = iv->t1_s[i];
	out->complete = intervals_complete(iv, i);
	out->writes = c->w.n;
	out->w_p50_ms = q_ms(&c->w, 0.5);
	out->w_p99_ms = q_ms(&c->w, 0.99);
	out->w_p999_ms = q_ms(&c->w, 0.999);
	out->reads = c->r.n;
	out->r_p50_ms = q_ms(&c->r, 0.5);
	out->r_p99_ms = q_ms(&c->r, 0.99);
	out->w_srv_p99_ms = c->have_srv ? ready_srv_quantile_ms(c->srv_w, 0.99) : -1;
	out->r_srv_p99_ms = c->have_srv ? ready_srv_quantile_ms(c->srv_r, 0.99) : -1;
	out->lag_p99_ms = iv->lag[i].n ? q_ms(&iv->lag[i], 0.99) : -1;
	out->hand_p99_ms = iv->hand[i].n ? q_ms(&iv->hand[i], 0.99) : -1;
	out->wake_p99_ms = iv->wake[i].n ? q_ms(&iv->wake[i], 0.99) : -1;
	out->echo_p99_ms = iv->echo[i].n ? q_ms(&iv->echo[i], 0.99) : -1;
}

/* The complete intervals, in order, into idx (at most iv->n). */
static size_t complete_list(const intervals *iv, size_t *idx)
{
	size_t k = 0;
	for (size_t i = 0; i < iv->n; i++)
		if (intervals_complete(iv, i))
			idx[k++] = i;
	return k;
}

/* Edge e's clients over the complete intervals idx[from..to), merged. */
static void merged(const intervals *iv, const size_t *idx, size_t from, size_t to, unsigned e,
                   hist *w, hist *r)
{
	hist_init(w);
	hist_init(r);
	for (size_t k = from; k < to; k++) {
		hist_merge(w, &cell(iv, idx[k], e)->w);
		hist_merge(r, &cell(iv, idx[k], e)->r);
	}
}

/* "interval 7 (360-420 s)" */
static void span_text(const intervals *iv, size_t i, char *buf, size_t cap)
{
	snprintf(buf, cap, "interval %zu (%.0f-%.0f s)", i + 1, iv->t0_s[i], iv->t1_s[i]);
}

static size_t check_drift(const intervals *iv, const size_t *idx, size_t nc, double max,
                          const char *const *names, report *r)
{
	size_t misses = 0;
	size_t f0 = INTERVALS_SKIP, f1 = f0 + INTERVALS_WINDOW < nc ? f0 + INTERVALS_WINDOW : nc;
	size_t l0 = nc > INTERVALS_WINDOW ? nc - INTERVALS_WINDOW : 0;
	if (l0 < f0)
		l0 = f0;
	for (unsigned e = 0; e < iv->nedges; e++) {
		hist fw, fr, lw, lr;
		merged(iv, idx, f0, f1, e, &fw, &fr);
		merged(iv, idx, l0, nc, e, &lw, &lr);
		const struct {
			const char *what;
			const hist *first, *last;
		} kinds[] = {{"write", &fw, &lw}, {"read", &fr, &lr}};
		for (size_t k = 0; k < 2; k++) {
			if (!kinds[k].first->n || !kinds[k].last->n)
				continue;
			double a = q_ms(kinds[k].first, 0.99), b = q_ms(kinds[k].last, 0.99);
			if (b > a * (1 + max)) {
				report_violation(
				    r,
				    "%s: the clients' %s p99 over intervals %zu-%zu is %.2f "
				    "ms, %.0f%% above the %.2f ms of intervals %zu-%zu (at "
				    "most %.0f%% expected)",
				    names[e], kinds[k].what, idx[l0] + 1, idx[nc - 1] + 1, b,
				    (b / a - 1) * 100, a, idx[f0] + 1, idx[f1 - 1] + 1, max * 100);
				misses++;
			}
		}
	}
	return misses;
}

size_t intervals_check(const intervals *iv, const drill *d, bool short_run,
                       const char *const *edge_names, report *r)
{
	const drill_expect *p99 = drill_expect_of(d, DRILL_EXPECT_INTERVAL_P99);
	const drill_expect *srv = drill_expect_of(d, DRILL_EXPECT_INTERVAL_EDGE_P99);
	const drill_expect *drift = drill_expect_of(d, DRILL_EXPECT_INTERVAL_DRIFT);
	if (short_run || (!p99 && !srv && !drift))
		return 0;
	size_t *idx = xmalloc((iv->n ? iv->n : 1) * sizeof *idx);
	size_t nc = complete_list(iv, idx), misses = 0;
	if (nc < INTERVALS_SKIP + 1) {
		report_violation(r,
		                 "only %zu complete latency intervals (%d needed): too short to "
		                 "judge",
		                 nc, INTERVALS_SKIP + 1);
		free(idx);
		return 1;
	}
	for (size_t k = INTERVALS_SKIP; k < nc; k++) {
		size_t i = idx[k];
		char span[64];
		span_text(iv, i, span, sizeof span);
		for (unsigned e = 0; e < iv->nedges; e++) {
			report_interval_row row;
			intervals_row(iv, i, e, edge_names[e], &row);
			const struct {
				const drill_expect *x;
				const char *what;
				uint64_t n;
				double v;
			} figs[] = {
			    {p99, "the clients' write p99", row.writes, row.w_p99_ms},
			    {p99, "the clients' read p99", row.reads, row.r_p99_ms},
			    /* no bucket counts: -1, skipped */
			    {srv, "the edge's own write p99", 1, row.w_srv_p99_ms},
			    {srv, "the edge's own read p99", 1, row.r_srv_p99_ms},
			};
			for (size_t f = 0; f < sizeof figs / sizeof figs[0]; f++) {
				if (!figs[f].x || !figs[f].n || figs[f].v < 0 ||
				    figs[f].v <= figs[f].x->max)
					continue;
				report_violation(
				    r, "%s: %s in %s is %s%.2f ms (at most %g ms expected)",
				    edge_names[e], figs[f].what, span,
				    figs[f].x == srv ? "<= " : "", figs[f].v, figs[f].x->max);
				misses++;
			}
		}
	}
	if (drift)
		misses += check_drift(iv, idx, nc, drift->max, edge_names, r);
	free(idx);
	return misses;
}
