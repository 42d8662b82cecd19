/* metrics.h - Prometheus metrics: counters, gauges and histograms in a
 * registry that renders the text exposition format (version 0.0.4).
 *
 * A daemon makes one registry at start-up and registers every series it
 * will have: a family name (with the registry's prefix, e.g.
 * "likes_edge_"), its help text, and for a labelled series the label text
 * as it appears between the braces ("route=\"count\",status=\"200\"").
 * Label values come from sets fixed at start-up (routes, reasons, the
 * configured counters, partitions), never from requests or data: each
 * value is a series Prometheus keeps for good.
 * Registration hands back a metric that the hot path updates with one
 * relaxed atomic operation (a histogram: two, plus one per observation's
 * bucket), from any thread, without a lock. Series of one family must be
 * registered with the same kind, help and (for histograms) bounds.
 *
 * Values that are cheaper to read when scraped than to keep up to date
 * (queue lengths, ages, per-partition figures) come from render hooks:
 * functions called at render time that append their own families with
 * metrics_family() and metrics_sample().
 *
 * Registration and hooks: start-up only, one thread. metric_* and
 * metrics_render: any thread, concurrently. The registry owns its metrics;
 * metrics_free once nothing uses them.
 */
#ifndef LIKES_METRICS_H
#define LIKES_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

#define METRICS_MAX_BOUNDS 24

typedef struct metrics metrics;
typedef struct metric metric;

typedef enum metric_kind {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
} metric_kind;

/* Appends families to out at render time (any thread may render). */
typedef void (*metrics_hook)(void *ctx, sbuf *out);

/* prefix is prepended to every family name ("likes_edge_"). */
metrics *metrics_new(const char *prefix);
void metrics_free(metrics *m);

/* A series of family name with labels (NULL or "" for none). The same
 * (name, labels) twice gives the same metric. */
metric *metrics_counter(metrics *m, const char *name, const char *help, const char *labels);
metric *metrics_gauge(metrics *m, const char *name, const char *help, const char *labels);
/* bounds: nbounds upper bounds in ascending order (at most
 * METRICS_MAX_BOUNDS); +Inf is implied. */
metric *metrics_histogram(metrics *m, const char *name, const char *help, const char *labels,
                          const double *bounds, size_t nbounds);
/* Called at every render, in registration order, after the series. */
void metrics_add_hook(metrics *m, metrics_hook fn, void *ctx);
/* The same, and ctx (from malloc) becomes the registry's: metrics_free
 * frees it. */
void metrics_add_hook_owned(metrics *m, metrics_hook fn, void *ctx);
/* A hook over one object of its owner's: fn(m, obj, out) at every
 * render. How a module adds its own scrape-time families to the registry
 * it is handed, without a context struct of its own. */
typedef void (*metrics_object_hook)(const metrics *m, void *obj, sbuf *out);
void metrics_add_object_hook(metrics *m, metrics_object_hook fn, void *obj);

void metric_add(metric *c, uint64_t n);      /* counter */
void metric_set(metric *g, int64_t v);       /* gauge */
void metric_gauge_add(metric *g, int64_t d); /* gauge, may be negative */
void metric_observe(metric *h, double v);    /* histogram */
uint64_t metric_value(const metric *c);      /* counter or gauge (as set) */
uint64_t metric_count(const metric *h);      /* histogram: observations */

/* The whole exposition: every family once, HELP and TYPE first, then its
 * series; histograms as _bucket{le=...}, _sum and _count. Every series
 * registered is rendered, at 0 if it never moved: a labelled counter that
 * first appears at its first event hides that event from increase() and
 * rate(), so each family registers its whole label set at start-up. */
void metrics_render(metrics *m, sbuf *out);

/* For hooks: the HELP and TYPE lines of a family (prefix included by the
 * caller's registry), then samples. labels NULL or "" for none. */
void metrics_family(const metrics *m, sbuf *out, const char *name, metric_kind kind,
                    const char *help);
void metrics_sample(const metrics *m, sbuf *out, const char *name, const char *labels, double v);
/* For hooks: a family of one sample without labels (family, then sample). */
void metrics_single(const metrics *m, sbuf *out, const char *name, metric_kind kind,
                    const char *help, double v);
/* One row of metrics_singles: a family of one unlabelled sample. */
typedef struct metrics_row {
	const char *name, *help;
	metric_kind kind;
	double v;
} metrics_row;
/* For hooks: metrics_single for each of rows[0..n). */
void metrics_singles(const metrics *m, sbuf *out, const metrics_row *rows, size_t n);

/* Adds, at every render, the families every daemon exports whatever its
 * prefix: likes_build_info{version,commit,date} 1 (buildinfo.h) and the
 * Prometheus client conventions for a process, read from /proc/self:
 * process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds and
 * process_start_time_seconds (the wall clock when this was called, at
 * start-up: the units hide /proc/stat). A figure that cannot be read is
 * left out. Start-up only, like the other registrations. */
void metrics_add_process(metrics *m);

/* Bounds for request latencies in seconds: 100 us .. 10 s. */
extern const double metrics_latency_bounds[];
extern const size_t metrics_latency_nbounds;

#endif
