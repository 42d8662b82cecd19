/* metrics.c - the Prometheus registry (metrics.h).
 *
 * Owns a list of families, each with its series in registration order,
 * and the render hooks. Values are atomics updated with relaxed order: a
 * scrape may see one counter a moment older than another, never a torn
 * value. Histogram sums are kept in nanounits (v * 1e9, rounded) in a
 * 64-bit atomic, so they need no lock either. Registration is start-up
 * only; updates and renders from any thread.
 */
#include "metrics.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "buildinfo.h"
#include "log.h"
#include "xmem.h"

const double metrics_latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                         0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
const size_t metrics_latency_nbounds = sizeof metrics_latency_bounds / sizeof(double);

struct metric {
	metric *next;              /* in its family */
	char *labels;              /* "" for none */
	_Atomic uint64_t v;        /* counter, gauge (as two's complement), count */
	_Atomic uint64_t sum;      /* histogram: sum in nanounits */
	_Atomic uint64_t *buckets; /* histogram: nbounds + 1, not cumulative */
	const double *bounds;
	size_t nbounds;
};

typedef struct family {
	struct family *next;
	char *name; /* without the prefix */
	char *help;
	metric_kind kind;
	double bounds[METRICS_MAX_BOUNDS];
	size_t nbounds;
	metric *first, **tail;
} family;

typedef struct hook {
	struct hook *next;
	metrics_hook fn;
	void *ctx;
	bool owned; /* ctx freed with the registry */
} hook;

struct metrics {
	char *prefix;
	family *families, **ftail;
	hook *hooks, **htail;
};

metrics *metrics_new(const char *prefix)
{
	metrics *m = xcalloc(1, sizeof *m);
	m->prefix = xstrdup(prefix ? prefix : "");
	m->ftail = &m->families;
	m->htail = &m->hooks;
	return m;
}

void metrics_free(metrics *m)
{
	if (!m)
		return;
	while (m->families) {
		family *f = m->families;
		m->families = f->next;
		while (f->first) {
			metric *x = f->first;
			f->first = x->next;
			free(x->labels);
			free((void *)x->buckets);
			free(x);
		}
		free(f->name);
		free(f->help);
		free(f);
	}
	while (m->hooks) {
		hook *h = m->hooks;
		m->hooks = h->next;
		if (h->owned)
			free(h->ctx);
		free(h);
	}
	free(m->prefix);
	free(m);
}

static family *family_of(metrics *m, const char *name, const char *help, metric_kind kind,
                         const double *bounds, size_t nbounds)
{
	for (family *f = m->families; f; f = f->next) {
		if (strcmp(f->name, name) != 0)
			continue;
		if (f->kind != kind || f->nbounds != nbounds ||
		    (nbounds && memcmp(f->bounds, bounds, nbounds * sizeof *bounds) != 0)) {
			/* A programming error: the table of series is wrong. */
			log_error("metric family registered twice differently", "name=%s", name);
			abort();
		}
		return f;
	}
	family *f = xcalloc(1, sizeof *f);
	f->name = xstrdup(name);
	f->help = xstrdup(help ? help : "");
	f->kind = kind;
	f->nbounds = nbounds;
	if (nbounds)
		memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
	f->tail = &f->first;
	*m->ftail = f;
	m->ftail = &f->next;
	return f;
}

static metric *series(metrics *m, const char *name, const char *help, metric_kind kind,
                      const char *labels, const double *bounds, size_t nbounds)
{
	if (nbounds > METRICS_MAX_BOUNDS) {
		log_error("too many histogram bounds", "name=%s n=%zu", name, nbounds);
		abort();
	}
	family *f = family_of(m, name, help, kind, bounds, nbounds);
	if (!labels)
		labels = "";
	for (metric *x = f->first; x; x = x->next)
		if (strcmp(x->labels, labels) == 0)
			return x;
	metric *x = xcalloc(1, sizeof *x);
	x->labels = xstrdup(labels);
	if (kind == METRIC_HISTOGRAM) {
		x->buckets = xcalloc(nbounds + 1, sizeof *x->buckets);
		x->bounds = f->bounds;
		x->nbounds = nbounds;
	}
	*f->tail = x;
	f->tail = &x->next;
	return x;
}

metric *metrics_counter(metrics *m, const char *name, const char *help, const char *labels)
{
	return series(m, name, help, METRIC_COUNTER, labels, NULL, 0);
}

metric *metrics_gauge(metrics *m, const char *name, const char *help, const char *labels)
{
	return series(m, name, help, METRIC_GAUGE, labels, NULL, 0);
}

metric *metrics_histogram(metrics *m, const char *name, const char *help, const char *labels,
                          const double *bounds, size_t nbounds)
{
	return series(m, name, help, METRIC_HISTOGRAM, labels, bounds, nbounds);
}

static void add_hook(metrics *m, metrics_hook fn, void *ctx, bool owned)
{
	hook *h = xcalloc(1, sizeof *h);
	h->fn = fn;
	h->ctx = ctx;
	h->owned = owned;
	*m->htail = h;
	m->htail = &h->next;
}

void metrics_add_hook(metrics *m, metrics_hook fn, void *ctx)
{
	add_hook(m, fn, ctx, false);
}

void metrics_add_hook_owned(metrics *m, metrics_hook fn, void *ctx)
{
	add_hook(m, fn, ctx, true);
}

struct object_hook {
	const metrics *m;
	metrics_object_hook fn;
	void *obj;
};

static void run_object_hook(void *ctx, sbuf *out)
{
	struct object_hook *h = ctx;
	h->fn(h->m, h->obj, out);
}

void metrics_add_object_hook(metrics *m, metrics_object_hook fn, void *obj)
{
	struct object_hook *h = xmalloc(sizeof *h);
	*h = (struct object_hook){m, fn, obj};
	add_hook(m, run_object_hook, h, true);
}

void metric_add(metric *c, uint64_t n)
{
	atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

void metric_set(metric *g, int64_t v)
{
	atomic_store_explicit(&g->v, (uint64_t)v, memory_order_relaxed);
}

void metric_gauge_add(metric *g, int64_t d)
{
	atomic_fetch_add_explicit(&g->v, (uint64_t)d, memory_order_relaxed);
}

void metric_observe(metric *h, double v)
{
	size_t i = 0;
	while (i < h->nbounds && v > h->bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->v, 1, memory_order_relaxed);
	double ns = v > 0 ? v * 1e9 + 0.5 : 0;
	atomic_fetch_add_explicit(&h->sum, ns < 1.8e19 ? (uint64_t)ns : UINT64_MAX / 2,
	                          memory_order_relaxed);
}

uint64_t metric_value(const metric *c)
{
	return atomic_load_explicit(&c->v, memory_order_relaxed);
}

uint64_t metric_count(const metric *h)
{
	return atomic_load_explicit(&h->v, memory_order_relaxed);
}

/* ---- rendering ------------------------------------------------------------ */

static const char *kind_name(metric_kind k)
{
	return k == METRIC_COUNTER ? "counter" : k == METRIC_GAUGE ? "gauge" : "histogram";
}

void metrics_family(const metrics *m, sbuf *out, const char *name, metric_kind kind,
                    const char *help)
{
	sbuf_addf(out, "# HELP %s%s %s\n# TYPE %s%s %s\n", m->prefix, name, help, m->prefix, name,
	          kind_name(kind));
}

/* A number as Prometheus reads it: integers exactly, others with %.9g. */
static void add_number(sbuf *out, double v)
{
	if (isnan(v))
		sbuf_adds(out, "NaN");
	else if (isinf(v))
		sbuf_adds(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9.0e15)
		sbuf_addf(out, "%.0f", v);
	else
		sbuf_addf(out, "%.9g", v);
}

void metrics_sample(const metrics *m, sbuf *out, const char *name, const char *labels, double v)
{
	if (labels && labels[0])
		sbuf_addf(out, "%s%s{%s} ", m->prefix, name, labels);
	else
		sbuf_addf(out, "%s%s ", m->prefix, name);
	add_number(out, v);
	sbuf_adds(out, "\n");
}

void metrics_single(const metrics *m, sbuf *out, const char *name, metric_kind kind,
                    const char *help, double v)
{
	metrics_family(m, out, name, kind, help);
	metrics_sample(m, out, name, NULL, v);
}

void metrics_singles(const metrics *m, sbuf *out, const metrics_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		metrics_single(m, out, rows[i].name, rows[i].kind, rows[i].help, rows[i].v);
}

static void render_histogram(const metrics *m, sbuf *out, const family *f, const metric *x)
{
	const char *sep = x->labels[0] ? "," : "";
	uint64_t cum = 0;
	for (size_t i = 0; i <= x->nbounds; i++) {
		cum += atomic_load_explicit(&x->buckets[i], memory_order_relaxed);
		sbuf_addf(out, "%s%s_bucket{%s%sle=\"", m->prefix, f->name, x->labels, sep);
		if (i < x->nbounds)
			add_number(out, x->bounds[i]);
		else
			sbuf_adds(out, "+Inf");
		sbuf_addf(out, "\"} %" PRIu64 "\n", cum);
	}
	double sum = (double)atomic_load_explicit(&x->sum, memory_order_relaxed) / 1e9;
	const char *lb = x->labels[0] ? "{" : "", *rb = x->labels[0] ? "}" : "";
	sbuf_addf(out, "%s%s_sum%s%s%s ", m->prefix, f->name, lb, x->labels, rb);
	add_number(out, sum);
	/* _count is the last bucket's total, so the two always agree. */
	sbuf_addf(out, "\n%s%s_count%s%s%s %" PRIu64 "\n", m->prefix, f->name, lb, x->labels, rb,
	          cum);
}

void metrics_render(metrics *m, sbuf *out)
{
	for (family *f = m->families; f; f = f->next) {
		metrics_family(m, out, f->name, f->kind, f->help);
		for (metric *x = f->first; x; x = x->next) {
			uint64_t v = atomic_load_explicit(&x->v, memory_order_relaxed);
			if (f->kind == METRIC_HISTOGRAM)
				render_histogram(m, out, f, x);
			else if (f->kind == METRIC_GAUGE)
				metrics_sample(m, out, f->name, x->labels, (double)(int64_t)v);
			else
				metrics_sample(m, out, f->name, x->labels, (double)v);
		}
	}
	for (hook *h = m->hooks; h; h = h->next)
		h->fn(h->ctx, out);
}

/* --- the process ------------------------------------------------------------ */

static double process_started; /* unix seconds; set once at start-up */

/* utime, stime (clock ticks), vsize (bytes) and rss (pages) of
 * /proc/self/stat; false when it cannot be read. */
static bool self_stat(double *cpu_s, double *vsize, double *rss_bytes)
{
	FILE *f = fopen("/proc/self/stat", "r");
	if (!f)
		return false;
	char buf[1024];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields start
	 * after the last ')'. Then state is field 3; utime 14, stime 15,
	 * vsize 23, rss 24. */
	char *p = strrchr(buf, ')');
	if (!p)
		return false;
	unsigned long long utime, stime, vs;
	long long rss;
	if (sscanf(p + 2,
	           "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
	           "%*d %*d %*u %llu %lld",
	           &utime, &stime, &vs, &rss) != 4)
		return false;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	if (tck <= 0 || page <= 0)
		return false;
	*cpu_s = (double)(utime + stime) / (double)tck;
	*vsize = (double)vs;
	*rss_bytes = (double)rss * (double)page;
	return true;
}

static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/* One unprefixed family with a single sample. */
static void raw_family(sbuf *out, const char *name, const char *type, const char *help, double v)
{
	sbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type, name);
	add_number(out, v);
	sbuf_adds(out, "\n");
}

static void render_process(void *ctx, sbuf *out)
{
	(void)ctx;
	sbuf_addf(out,
	          "# HELP likes_build_info The running build: version, commit and build date.\n"
	          "# TYPE likes_build_info gauge\n"
	          "likes_build_info{version=\"%s\",commit=\"%s\",date=\"%s\"} 1\n",
	          build_version, build_commit, build_date);
	double cpu, vsize, rss;
	if (self_stat(&cpu, &vsize, &rss)) {
		raw_family(out, "process_cpu_seconds_total", "counter",
		           "Total user and system CPU time spent in seconds.", cpu);
		raw_family(out, "process_resident_memory_bytes", "gauge",
		           "Resident memory size in bytes.", rss);
		raw_family(out, "process_virtual_memory_bytes", "gauge",
		           "Virtual memory size in bytes.", vsize);
	}
	long fds = open_fds();
	if (fds >= 0)
		raw_family(out, "process_open_fds", "gauge", "Number of open file descriptors.",
		           (double)fds);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		raw_family(out, "process_max_fds", "gauge",
		           "Maximum number of open file descriptors.", (double)rl.rlim_cur);
	raw_family(out, "process_start_time_seconds", "gauge",
	           "Start time of the process since unix epoch in seconds.", process_started);
}

void metrics_add_process(metrics *m)
{
	struct timespec ts;
	if (!process_started && clock_gettime(CLOCK_REALTIME, &ts) == 0)
		process_started = (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
	metrics_add_hook(m, render_process, NULL);
}
