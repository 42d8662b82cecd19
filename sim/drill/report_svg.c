/* report_svg.c - viral.svg: the viral item's true count against each
 * region's answered count over time, fault windows shaded, ack p99
 * underneath, written as plain SVG (no plotting tool); procs.svg and
 * latency.svg the same way.
 *
 * Layout: a title, the count plot on top, the latency plot below it on
 * the same time axis, a legend on the right. Every series is drawn as one
 * <polyline> per unbroken run of samples: a region's -1 (no answer) or a
 * missing p99 breaks its line; a run of one sample also gets a dot, since
 * a one-point line draws nothing. Labels are XML-escaped.
 *
 * Owns nothing. Reads a report; called by report_write on its owner's
 * thread.
 */
#include "sim/drill/report_svg.h"

#include <math.h>
#include <string.h>

#define SVG_W 900
#define SVG_H 640
#define PLOT_L 80.0 /* plot area, both plots */
#define PLOT_R 735.0
#define TOP_Y0 60.0 /* count plot */
#define TOP_Y1 380.0
#define BOT_Y0 430.0 /* latency plot */
#define BOT_Y1 570.0
#define LEGEND_X 750.0
#define FAULT_LABEL_ROWS 4
#define LABEL_CHAR_W 5.6 /* about, at font-size 10 */

static const char *const palette[REPORT_SERIES_MAX] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
};

/* A linear map from data [lo, hi] to pixels [p0, p1]. */
typedef struct axis {
	double lo, hi, p0, p1;
} axis;

static double map(const axis *a, double v)
{
	double x = a->p0 + (v - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0);
	/* Keep every coordinate finite and near the picture. */
	if (!isfinite(x))
		return a->p0;
	double mn = a->p0 < a->p1 ? a->p0 : a->p1, mx = a->p0 < a->p1 ? a->p1 : a->p0;
	return x < mn ? mn : x > mx ? mx : x;
}

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* 1, 2 or 5 times a power of ten, giving about target steps over span. */
static double nice_step(double span, int target)
{
	if (!(span > 0) || !isfinite(span))
		return 1;
	double raw = span / target;
	double mag = pow(10, floor(log10(raw)));
	double m = raw / mag;
	double k = m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
	return k * mag;
}

/* A tick label: short, with K/M/G/T/P/E past ten thousand. */
static void fmt_tick(char *buf, size_t cap, double v)
{
	static const char suffix[] = "KMGTPE";
	double a = fabs(v);
	if (a < 1e4) {
		snprintf(buf, cap, "%.4g", v);
		return;
	}
	int i = -1;
	while (a >= 1e3 && i < 5) {
		a /= 1e3;
		v /= 1e3;
		i++;
	}
	snprintf(buf, cap, "%.4g%c", v, suffix[i]);
}

/* Ticks and grid lines of a value axis over plot rows y0..y1. */
static void y_ticks(FILE *f, const axis *ay, double step)
{
	for (int i = 0; i <= 20; i++) {
		double v = ay->lo + i * step;
		if (v > ay->hi * (1 + 1e-9))
			break;
		double y = map(ay, v);
		char lbl[32];
		fmt_tick(lbl, sizeof lbl, v);
		fprintf(
		    f,
		    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>\n"
		    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n"
		    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%s</text>\n",
		    PLOT_L, y, PLOT_R, y, PLOT_L - 5, y, PLOT_L, y, PLOT_L - 8, y + 4, lbl);
	}
}

static void x_ticks(FILE *f, const axis *ax, double step, double y0, double y1, bool labels)
{
	double first = ceil(ax->lo / step) * step;
	for (int i = 0; i <= 40; i++) {
		double v = first + i * step;
		if (v > ax->hi + step * 1e-9)
			break;
		double x = map(ax, v);
		fprintf(
		    f,
		    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>\n"
		    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
		    x, y0, x, y1, x, y1, x, y1 + 5);
		if (labels) {
			char lbl[32];
			fmt_tick(lbl, sizeof lbl, v);
			fprintf(f,
			        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
			        "text-anchor=\"middle\">%s</text>\n",
			        x, y1 + 18, lbl);
		}
	}
}

static void frame(FILE *f, double y0, double y1)
{
	fprintf(f,
	        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
	        "stroke=\"#333\"/>\n",
	        PLOT_L, y0, PLOT_R - PLOT_L, y1 - y0);
}

/* The frame of a two-panel chart over time: time ticks under both
 * panels (labelled under the bottom one), each panel's y ticks (top:
 * ty in steps of tstep; bottom: by, bstep), the frames, the axis
 * titles, and "no samples" when there are none. */
static void two_panels(FILE *f, const axis *ax, const axis *ty, double tstep, const axis *by,
                       double bstep, const char *top_title, const char *bottom_title, bool empty)
{
	x_ticks(f, ax, nice_step(ax->hi - ax->lo, 10), TOP_Y0, TOP_Y1, false);
	x_ticks(f, ax, nice_step(ax->hi - ax->lo, 10), BOT_Y0, BOT_Y1, true);
	y_ticks(f, ty, tstep);
	y_ticks(f, by, bstep);
	frame(f, TOP_Y0, TOP_Y1);
	frame(f, BOT_Y0, BOT_Y1);
	fprintf(f,
	        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">"
	        "time since the load started (s)</text>\n",
	        (PLOT_L + PLOT_R) / 2, BOT_Y1 + 40);
	fprintf(f,
	        "<text x=\"20\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
	        "transform=\"rotate(-90 20 %.1f)\">%s</text>\n",
	        (TOP_Y0 + TOP_Y1) / 2, (TOP_Y0 + TOP_Y1) / 2, top_title);
	fprintf(f,
	        "<text x=\"20\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
	        "transform=\"rotate(-90 20 %.1f)\">%s</text>\n",
	        (BOT_Y0 + BOT_Y1) / 2, (BOT_Y0 + BOT_Y1) / 2, bottom_title);
	if (empty)
		fprintf(f,
		        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" fill=\"#777\" "
		        "text-anchor=\"middle\">no samples</text>\n",
		        (PLOT_L + PLOT_R) / 2, (TOP_Y0 + TOP_Y1) / 2);
}

/* The picture's opening: the svg element, a white ground, the title
 * (the drill's name, then what: title and heading) and, when sub is
 * not NULL, a line under the heading. */
static void svg_open(FILE *f, const report *r, const char *what, const char *sub)
{
	fprintf(f,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	        "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
	        "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<title>",
	        SVG_W, SVG_H, SVG_W, SVG_H);
	put_escaped(f, r->drill);
	fputs("</title>\n<text x=\"450\" y=\"28\" font-size=\"16\" font-weight=\"bold\" "
	      "text-anchor=\"middle\">",
	      f);
	put_escaped(f, r->drill);
	fprintf(f, "%s</text>\n", what);
	if (sub)
		fprintf(f,
		        "<text x=\"450\" y=\"46\" font-size=\"11\" text-anchor=\"middle\" "
		        "fill=\"#555\">%s</text>\n",
		        sub);
}

/* The value of series k at sample i (k -1: truth, 0..: a region, -2: p99);
 * false when the sample has none. */
static bool value_at(const report_sample_row *s, int k, double *v)
{
	if (k == -1) {
		*v = (double)s->truth;
		return true;
	}
	if (k == -2) {
		*v = s->p99_ms;
		return isfinite(s->p99_ms) && s->p99_ms >= 0;
	}
	*v = (double)s->answered[k];
	return s->answered[k] >= 0;
}

/* One series: a polyline per unbroken run, a dot for a lone sample. */
static void series(FILE *f, const report *r, int k, const axis *ax, const axis *ay, const char *cls,
                   const char *color, double width)
{
	size_t i = 0;
	while (i < r->nsamples) {
		double v;
		if (!value_at(&r->samples[i], k, &v)) {
			i++;
			continue;
		}
		size_t start = i;
		fprintf(f,
		        "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" "
		        "stroke-linejoin=\"round\" points=\"",
		        cls, color, width);
		for (; i < r->nsamples && value_at(&r->samples[i], k, &v); i++)
			fprintf(f, "%s%.1f,%.1f", i == start ? "" : " ", map(ax, r->samples[i].t_s),
			        map(ay, v));
		fputs("\"/>\n", f);
		if (i - start == 1) {
			value_at(&r->samples[start], k, &v);
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"/>\n",
			        map(ax, r->samples[start].t_s), map(ay, v), width + 1.5, color);
		}
	}
}

static void legend_row(FILE *f, int row, const char *color, double width, const char *label)
{
	double y = TOP_Y0 + 10 + row * 18;
	fprintf(f,
	        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
	        "stroke-width=\"%.1f\"/>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\">",
	        LEGEND_X, y, LEGEND_X + 22, y, color, width, LEGEND_X + 28, y + 4);
	put_escaped(f, label);
	fputs("</text>\n", f);
}

/* The time span shown: every sample and every fault window. */
static void time_span(const report *r, double *lo, double *hi)
{
	double a = 0, b = 0;
	bool any = false;
	for (size_t i = 0; i < r->nsamples; i++) {
		double t = r->samples[i].t_s;
		if (!isfinite(t))
			continue;
		a = any ? fmin(a, t) : fmin(0, t);
		b = any ? fmax(b, t) : t;
		any = true;
	}
	for (size_t i = 0; i < r->nfaults; i++) {
		double s = r->faults[i].start_s, e = r->faults[i].end_s;
		if (isfinite(s)) {
			a = fmin(a, s);
			b = fmax(b, s);
		}
		if (isfinite(e) && e >= 0)
			b = fmax(b, e);
	}
	if (!(b - a > 1e-9))
		b = a + 1;
	*lo = a;
	*hi = b;
}

static void faults(FILE *f, const report *r, const axis *ax)
{
	for (size_t i = 0; i < r->nfaults; i++) {
		const report_fault_row *ft = &r->faults[i];
		if (!isfinite(ft->start_s))
			continue;
		double x0 = map(ax, ft->start_s);
		double x1 = (ft->end_s < 0 || !isfinite(ft->end_s)) ? PLOT_R : map(ax, ft->end_s);
		if (x1 < x0)
			x1 = x0;
		double w = x1 - x0 < 1 ? 1 : x1 - x0;
		fprintf(
		    f,
		    "<rect class=\"fault\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		    "fill=\"#f4a261\" fill-opacity=\"0.25\"/>\n"
		    "<rect class=\"fault\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		    "fill=\"#f4a261\" fill-opacity=\"0.25\"/>\n",
		    x0, TOP_Y0, w, TOP_Y1 - TOP_Y0, x0, BOT_Y0, w, BOT_Y1 - BOT_Y0);
		/* A label that would run past the plot ends at its right edge. */
		bool right = x0 + 3 + LABEL_CHAR_W * (double)strlen(ft->label) > PLOT_R;
		fprintf(f,
		        "<text class=\"fault-label\" x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
		        "fill=\"#8a4b14\"%s>",
		        right ? PLOT_R - 3 : x0 + 3,
		        TOP_Y0 + 12 + (double)(i % FAULT_LABEL_ROWS) * 12,
		        right ? " text-anchor=\"end\"" : "");
		put_escaped(f, ft->label);
		fputs("</text>\n", f);
	}
}

void report_svg_render(const report *r, FILE *f)
{
	axis ax;
	time_span(r, &ax.lo, &ax.hi);
	ax.p0 = PLOT_L;
	ax.p1 = PLOT_R;

	double cmax = 0, lmax = 0;
	for (size_t i = 0; i < r->nsamples; i++) {
		double v;
		for (int k = -2; k < (int)r->regions; k++) {
			if (!value_at(&r->samples[i], k, &v))
				continue;
			if (k == -2)
				lmax = fmax(lmax, v);
			else
				cmax = fmax(cmax, v);
		}
	}
	double cstep = nice_step(cmax > 0 ? cmax : 1, 5);
	double lstep = nice_step(lmax > 0 ? lmax : 1, 3);
	axis ay = {0, fmax(cstep, ceil((cmax > 0 ? cmax : 1) / cstep) * cstep), TOP_Y1, TOP_Y0};
	axis ly = {0, fmax(lstep, ceil((lmax > 0 ? lmax : 1) / lstep) * lstep), BOT_Y1, BOT_Y0};

	svg_open(f, r,
	         r->short_run ? " (short run): viral item, true count and each region's answer"
	                      : ": viral item, true count and each region's answer",
	         NULL);

	faults(f, r, &ax);

	two_panels(f, &ax, &ay, cstep, &ly, lstep, "count", "ack p99 (ms)", r->nsamples == 0);
	/* The truth first: the thin lines stay visible on top of it. */
	series(f, r, -1, &ax, &ay, "truth", "#000", 3.5);
	for (unsigned k = 0; k < r->regions; k++) {
		char cls[32];
		snprintf(cls, sizeof cls, "edge%u", k);
		series(f, r, (int)k, &ax, &ay, cls, palette[k], 1.5);
	}
	series(f, r, -2, &ax, &ly, "p99", "#555", 1.5);

	legend_row(f, 0, "#000", 3.5, "true count");
	for (unsigned k = 0; k < r->regions; k++) {
		char lbl[32];
		snprintf(lbl, sizeof lbl, "edge%u answer", k);
		legend_row(f, (int)k + 1, palette[k], 1.5, lbl);
	}
	legend_row(f, (int)r->regions + 2, "#f4a261", 10, "fault window");
	fputs("</svg>\n", f);
}

/* ---- procs.svg ---- */

/* What a series of process readings shows. */
typedef enum proc_field { PROC_RSS, PROC_ANON, PROC_FDS, PROC_UNHELD } proc_field;

/* NAN when the reading has no such figure (no holders named). */
static double proc_value(const soak_sample *s, proc_field what)
{
	switch (what) {
	case PROC_RSS: return s->rss_mb;
	case PROC_ANON: return s->anon_mb;
	case PROC_FDS: return s->fds - s->store_fds;
	case PROC_UNHELD: return soak_unheld_mb(s);
	}
	return NAN;
}

/* Series k (a node) of the process readings: all of RSS (dashed, thin),
 * its anonymous part (MB) or the descriptors without the store's files;
 * a polyline per run of readings of one pid (a restart breaks the line). */
static void proc_series(FILE *f, const report *r, unsigned k, proc_field what, const axis *ax,
                        const axis *ay)
{
	static const char *const cls[] = {"rss", "anon", "fds", "unheld"};
	const char *color = palette[k % REPORT_SERIES_MAX];
	const char *dash = what == PROC_RSS ? " stroke-dasharray=\"5 3\" stroke-opacity=\"0.7\""
	                   : what == PROC_UNHELD ? " stroke-dasharray=\"1 2\""
	                                         : "";
	int pid = 0;
	bool open = false;
	for (size_t i = 0; i < r->nprocs; i++) {
		const report_proc_row *p = &r->procs[i];
		if (p->node != k)
			continue;
		double v = proc_value(&p->s, what);
		if (open && (p->pid != pid || !isfinite(v))) {
			fputs("\"/>\n", f);
			open = false;
		}
		if (!isfinite(v))
			continue;
		if (!open) {
			fprintf(f,
			        "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" "
			        "stroke-width=\"%s\"%s "
			        "stroke-linejoin=\"round\" points=\"",
			        cls[what], color, what == PROC_RSS ? "1" : "1.5", dash);
			open = true;
			pid = p->pid;
		} else {
			fputc(' ', f);
		}
		fprintf(f, "%.1f,%.1f", map(ax, p->s.t_s), map(ay, v));
	}
	if (open)
		fputs("\"/>\n", f);
}

void report_svg_render_procs(const report *r, FILE *f)
{
	axis ax = {0, 1, PLOT_L, PLOT_R};
	double rmax = 0, fmax_ = 0;
	for (size_t i = 0; i < r->nprocs; i++) {
		const soak_sample *s = &r->procs[i].s;
		if (isfinite(s->t_s))
			ax.hi = fmax(ax.hi, s->t_s);
		rmax = fmax(rmax, s->rss_mb);
		/* sim's own descriptors (relays, the load's connections) would
		 * flatten the daemons' lines: the instrument has no fds line. */
		if (!r->proc_nodes[r->procs[i].node].instrument)
			fmax_ = fmax(fmax_, s->fds - s->store_fds);
	}
	double rstep = nice_step(rmax > 0 ? rmax : 1, 5);
	double fstep = nice_step(fmax_ > 0 ? fmax_ : 1, 3);
	axis ay = {0, fmax(rstep, ceil((rmax > 0 ? rmax : 1) / rstep) * rstep), TOP_Y1, TOP_Y0};
	axis fy = {0, fmax(fstep, ceil((fmax_ > 0 ? fmax_ : 1) / fstep) * fstep), BOT_Y1, BOT_Y0};

	svg_open(f, r, ": each daemon's RSS and open descriptors, and the instrument's RSS",
	         "solid: anonymous RSS; dotted: its part no cache of the daemon's accounts for "
	         "(judged, when named); dashed: all of RSS; sim and kafka: the instrument's "
	         "own, not judged");

	/* The warm-up, which the verdicts leave out. */
	double w = map(&ax, r->proc_warmup_s) - PLOT_L;
	if (w > 0)
		fprintf(
		    f,
		    "<rect class=\"warmup\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		    "fill=\"#999\" fill-opacity=\"0.15\"/>\n"
		    "<rect class=\"warmup\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		    "fill=\"#999\" fill-opacity=\"0.15\"/>\n"
		    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#555\">warm-up</text>\n",
		    PLOT_L, TOP_Y0, w, TOP_Y1 - TOP_Y0, PLOT_L, BOT_Y0, w, BOT_Y1 - BOT_Y0,
		    PLOT_L + 3, TOP_Y0 + 12);

	two_panels(f, &ax, &ay, rstep, &fy, fstep, "RSS (MB)", "open fds (not the store's)",
	           r->nprocs == 0);
	for (unsigned k = 0; k < r->nproc_nodes; k++) {
		proc_series(f, r, k, PROC_RSS, &ax, &ay);
		proc_series(f, r, k, PROC_ANON, &ax, &ay);
		if (!r->proc_nodes[k].instrument) {
			proc_series(f, r, k, PROC_UNHELD, &ax, &ay);
			proc_series(f, r, k, PROC_FDS, &ax, &fy);
		}
		legend_row(f, (int)k, palette[k % REPORT_SERIES_MAX], 1.5, r->proc_nodes[k].name);
	}
	int row = (int)r->nproc_nodes + 1;
	legend_row(f, row++, "#333", 1.5, "anonymous RSS");
	legend_row(f, row++, "#333", 1, "all of RSS (dashed)");
	legend_row(f, row++, "#333", 1, "anonymous, no cache's (dotted)");
	fputs("</svg>\n", f);
}

/* ---- latency.svg ---- */

/* What a series of interval rows shows. */
typedef enum iv_field { IV_WRITE, IV_READ, IV_SRV_WRITE, IV_SRV_READ } iv_field;

static bool iv_value(const report_interval_row *q, iv_field what, double *v)
{
	switch (what) {
	case IV_WRITE: *v = q->w_p99_ms; return q->writes > 0;
	case IV_READ: *v = q->r_p99_ms; return q->reads > 0;
	case IV_SRV_WRITE: *v = q->w_srv_p99_ms; break;
	case IV_SRV_READ: *v = q->r_srv_p99_ms; break;
	}
	return *v >= 0 && isfinite(*v);
}

/* Edge name's series: a point at each interval's end, a line through
 * the intervals that have one (reads dashed). */
static void iv_series(FILE *f, const report *r, const char *name, const char *color, iv_field what,
                      const axis *ax, const axis *ay)
{
	static const char *const cls[] = {"write", "read", "edge-write", "edge-read"};
	const char *dash =
	    what == IV_READ || what == IV_SRV_READ ? " stroke-dasharray=\"5 3\"" : "";
	bool open = false;
	for (size_t i = 0; i < r->niv; i++) {
		const report_interval_row *q = &r->iv[i];
		double v;
		if (strcmp(q->edge, name) != 0)
			continue;
		if (!iv_value(q, what, &v)) {
			if (open)
				fputs("\"/>\n", f);
			open = false;
			continue;
		}
		if (!open)
			fprintf(f,
			        "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" "
			        "stroke-width=\"1.5\"%s stroke-linejoin=\"round\" points=\"",
			        cls[what], color, dash);
		else
			fputc(' ', f);
		open = true;
		fprintf(f, "%.1f,%.1f", map(ax, q->t1_s), map(ay, v));
	}
	if (open)
		fputs("\"/>\n", f);
}

/* A limit the drill holds, as a dashed red line across a panel. */
static void iv_limit(FILE *f, const axis *ay, double v, const char *label)
{
	if (!(v >= 0) || v > ay->hi)
		return;
	double y = map(ay, v);
	fprintf(f,
	        "<line class=\"limit\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
	        "stroke=\"#d62728\" stroke-dasharray=\"2 3\"/>\n"
	        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"#d62728\" "
	        "text-anchor=\"end\">",
	        PLOT_L, y, PLOT_R, y, PLOT_R - 3, y - 3);
	put_escaped(f, label);
	fputs("</text>\n", f);
}

/* The top of a latency axis: past every value and the limit. */
static axis iv_axis(const report *r, bool srv, double limit, double p0, double p1)
{
	double hi = limit > 0 ? limit * 1.25 : 0;
	for (size_t i = 0; i < r->niv; i++) {
		double v;
		for (int k = 0; k < 2; k++)
			if (iv_value(&r->iv[i], (iv_field)(srv ? IV_SRV_WRITE + k : IV_WRITE + k),
			             &v))
				hi = fmax(hi, v);
	}
	double step = nice_step(hi > 0 ? hi : 1, 5);
	return (axis){0, fmax(step, ceil((hi > 0 ? hi : 1) / step) * step), p0, p1};
}

void report_svg_render_intervals(const report *r, FILE *f)
{
	axis ax = {0, 1, PLOT_L, PLOT_R};
	for (size_t i = 0; i < r->niv; i++)
		if (isfinite(r->iv[i].t1_s))
			ax.hi = fmax(ax.hi, r->iv[i].t1_s);
	axis ty = iv_axis(r, false, r->iv_limit_ms, TOP_Y1, TOP_Y0);
	axis by = iv_axis(r, true, r->iv_srv_limit_ms, BOT_Y1, BOT_Y0);

	svg_open(f, r, ": p99 latency per interval, each edge",
	         "top: its clients (solid: writes, dashed: count reads); bottom: the edge's own "
	         "(bucket bounds)");
	two_panels(f, &ax, &ty, nice_step(ty.hi, 5), &by, nice_step(by.hi, 5), "clients' p99 (ms)",
	           "edge's own p99 (ms)", r->niv == 0);
	char lbl[64];
	snprintf(lbl, sizeof lbl, "limit %g ms", r->iv_limit_ms);
	iv_limit(f, &ty, r->iv_limit_ms, lbl);
	snprintf(lbl, sizeof lbl, "limit %g ms", r->iv_srv_limit_ms);
	iv_limit(f, &by, r->iv_srv_limit_ms, lbl);
	/* The edges in the order their rows first came. */
	const char *names[REPORT_SERIES_MAX];
	unsigned n = 0;
	for (size_t i = 0; i < r->niv && n < REPORT_SERIES_MAX; i++) {
		bool seen = false;
		for (unsigned k = 0; k < n; k++)
			seen |= strcmp(names[k], r->iv[i].edge) == 0;
		if (!seen)
			names[n++] = r->iv[i].edge;
	}
	for (unsigned k = 0; k < n; k++) {
		const char *color = palette[k];
		iv_series(f, r, names[k], color, IV_WRITE, &ax, &ty);
		iv_series(f, r, names[k], color, IV_READ, &ax, &ty);
		iv_series(f, r, names[k], color, IV_SRV_WRITE, &ax, &by);
		iv_series(f, r, names[k], color, IV_SRV_READ, &ax, &by);
		legend_row(f, (int)k, color, 1.5, names[k]);
	}
	legend_row(f, (int)n + 1, "#333", 1.5, "writes");
	fprintf(f,
	        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\" "
	        "stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
	        "font-size=\"12\">count reads</text>\n",
	        LEGEND_X, TOP_Y0 + 10 + (n + 2) * 18, LEGEND_X + 22, TOP_Y0 + 10 + (n + 2) * 18,
	        LEGEND_X + 28, TOP_Y0 + 14 + (n + 2) * 18);
	fputs("</svg>\n", f);
}
