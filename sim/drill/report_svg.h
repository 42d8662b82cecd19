/* report_svg.h - private to report.c, report_svg.c, report_feed.c,
 * report_json.c and report_files.c:
 * the record a report keeps, the SVG renderer that reads it, and the
 * change feed's section. Not for the runner: report.h is the interface.
 * Not thread-safe: the report's one owner.
 */
#ifndef SIM_REPORT_SVG_H
#define SIM_REPORT_SVG_H

#include <stdio.h>

#include <jansson.h>

#include "sim/drill/report.h"

typedef struct report_sample_row {
	double t_s;
	uint64_t truth;
	int64_t answered[REPORT_SERIES_MAX]; /* -1: no answer */
	double p99_ms;
} report_sample_row;

typedef struct report_fault_row {
	double start_s, end_s; /* end < 0: open */
	char *label;
} report_fault_row;

typedef struct report_latency_row {
	char *phase;
	int kind; /* enum report_kind */
	uint64_t n;
	double p50_ms, p99_ms, p999_ms;
} report_latency_row;

typedef struct report_convergence_row {
	char *after;
	double seconds;
	bool converged;
} report_convergence_row;

typedef struct report_number_row {
	char *key;
	double value;
} report_number_row;

typedef struct report_text_row {
	char *key, *value;
} report_text_row;

/* One reading of a daemon's process. */
typedef struct report_proc_row {
	unsigned node; /* index into the report's proc_nodes */
	int pid;
	soak_sample s;
} report_proc_row;

/* Scheduling figures of a thread or process so far (soak_sample's). */
typedef struct report_sched_row {
	double t_s, cpu_s, wait_s, slices;
} report_sched_row;

/* A daemon whose process is sampled, and its verdict once judged. */
typedef struct report_proc_node {
	char *name;
	bool judged;     /* v and bound are set */
	bool instrument; /* sim's own or its Kafka's: v is set, nothing judged */
	soak_verdict v;
	soak_bound bound;
} report_proc_node;

/* The change feed's replay check (report_feed). */
typedef struct report_feed_rec {
	bool set;     /* report_feed was called */
	bool checked; /* f holds figures */
	char *state;
	feedcheck_figures f;
	char *examples[FEEDCHECK_EXAMPLES_MAX];
	size_t nexamples;
} report_feed_rec;

/* Every string here is owned by the report and is valid UTF-8 without
 * control characters. */
struct report {
	char *drill;
	bool short_run;
	unsigned regions; /* series in the picture, <= REPORT_SERIES_MAX */
	report_sample_row *samples;
	size_t nsamples, capsamples;
	report_fault_row *faults;
	size_t nfaults, capfaults;
	report_latency_row *lat;
	size_t nlat, caplat;
	report_convergence_row *conv;
	size_t nconv, capconv;
	report_ready_row *ready;
	size_t nready, capready;
	report_interval_row *iv;
	size_t niv, capiv;
	report_takeover_row *tk;
	size_t ntk, captk;
	double iv_limit_ms, iv_srv_limit_ms; /* < 0: none */
	report_number_row *nums;
	size_t nnums, capnums;
	report_text_row *texts;
	size_t ntexts, captexts;
	char **viol; /* the first REPORT_VIOLATIONS_KEPT texts */
	size_t nviol_kept, capviol;
	size_t nviol;     /* every violation reported */
	uint64_t dropped; /* entries past a list's cap */
	report_proc_row *procs;
	size_t nprocs, capprocs;
	report_proc_node proc_nodes[REPORT_NODES_MAX];
	unsigned nproc_nodes;
	double proc_warmup_s, proc_every_s;
	report_sched_row *load_sched; /* the load's thread, sampled with them */
	size_t nload_sched, capload_sched;
	report_feed_rec feed;
};

/* Writes viral.svg's content to f; errors show in ferror(f). */
void report_svg_render(const report *r, FILE *f);
/* Writes procs.svg's content to f: each sampled daemon's RSS on top,
 * its open descriptors below, the warm-up shaded. */
void report_svg_render_procs(const report *r, FILE *f);
/* Writes latency.svg's content to f: each edge's clients' write and read
 * p99 per interval on top, the edge's own below (its bucket bounds), the
 * limits the drill holds dashed. */
void report_svg_render_intervals(const report *r, FILE *f);

/* report.c: summary.txt's text, to f. */
void report_write_summary(const report *r, FILE *f);

/* report_json.c: writes report.json to path. 0, or ERR_IO (logged). */
int report_write_json(const report *r, const char *path);

/* report_feed.c: the change feed's section of summary.txt (nothing
 * when report_feed was not called), and of report.json (NULL then). */
void report_feed_summary(const report *r, FILE *f);
json_t *report_feed_json(const report *r);

#endif
