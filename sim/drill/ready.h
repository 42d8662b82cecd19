/* ready.h - which edges are ready, what they did once ready, and the
 * drill's expectations on it.
 *
 * An edge is ready when its GET /readyz answers 200. The runner asks
 * each running edge once a second through its clients path (ready_poll)
 * and reads its /metrics now and then (ready_poll_edge says when); it
 * says at once when it kills, wipes or stops an edge or cuts its clients
 * (ready_down), so that no op in flight across such a fault counts as
 * "ready" (the load keeps the ready latencies: load_set_region_ready).
 *
 * Each run of an edge's process (an incarnation, told apart by its pid)
 * counts its count read-throughs from its first ready sample: the
 * counter READY_METRIC_COUNTS then is the base, the last value seen
 * minus the base is what it made once ready. An edge without that
 * counter is read through READY_METRIC_REQUESTS instead (every request
 * to central's ops API, memberships and breakdowns too: an upper bound
 * on the count read-throughs; the load asks for neither). The figure is
 * cumulative over incarnations, and is sampled at each rate phase's
 * start (ready_phase) so each phase gets its share.
 *
 * With standby (drill.h) a region runs two instances of its edge: each
 * is followed as an edge of its own (its incarnations, read-throughs and
 * latency buckets), the region is ready while either is, and its figures
 * are the sum of both. /readyz also says which instance is the writer
 * (checks.writer: the active instance; a standby answers 503 with it not
 * ok), kept per instance.
 *
 * ready_observe, ready_metric and ready_check are pure; ready_poll does
 * the HTTP. Not thread-safe: the runner's thread.
 */
#ifndef SIM_READY_H
#define SIM_READY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sim/drill/cluster.h"
#include "sim/drill/drill.h"
#include "sim/drill/load.h"
#include "sim/drill/report.h"

#define READY_METRIC_COUNTS "likes_edge_readthrough_counts_total"
#define READY_METRIC_REQUESTS "likes_edge_readthrough_requests_total"
/* Memberships of users at home there that an edge asked of central. */
#define READY_METRIC_HOME_MEMBERS "likes_edge_readthrough_members_total{user=\"home\"}"
#define READY_METRIC_PENDING_OPS "likes_edge_pending_ops"
#define READY_METRIC_PENDING_BATCHES "likes_edge_pending_batches"
#define READY_PHASES_MAX LOAD_READY_PHASES_MAX
#define READY_SPELLS_MAX 8 /* incarnations remembered per edge, for the report */
#define READY_PHASE_NAME_MAX 63
#define READY_SCRAPE_S 10.0 /* the longest between two scrapes of a running edge */
/* The edge's own request latency (from a request read to its answer
 * queued), per route: what the edge spent, without the client's network
 * and scheduling. */
#define READY_METRIC_DURATION "likes_edge_request_duration_seconds_bucket"
#define READY_BUCKETS 17 /* the edge's latency buckets, +Inf last */

/* The routes whose server-side latency the ready figures keep. */
typedef enum ready_route { READY_ROUTE_WRITE, READY_ROUTE_COUNTS, READY_ROUTES } ready_route;

/* Cumulative bucket counts of each route, as the edge exports them. */
typedef struct ready_srv {
	double b[READY_ROUTES][READY_BUCKETS];
} ready_srv;

/* One incarnation: when sim first saw it and when it was first ready
 * (< 0: not yet). */
typedef struct ready_spell {
	double up_s, ready_s;
} ready_spell;

typedef struct ready_edge {
	bool ready; /* as of the last poll or ready_down */
	int writer; /* /readyz's checks.writer.ok: 1 the writer, 0 not (a standby), -1 unknown */
	int last_status;                     /* of the last /readyz asked; 0: no answer */
	pid_t pid;                           /* the incarnation followed; 0: none */
	bool inc_ready;                      /* it has been ready */
	bool have_base;                      /* rt_base is set */
	double rt_base;                      /* the counter at its first ready sample */
	double rt_last;                      /* the counter at the latest sample */
	double rt_done;                      /* of earlier incarnations, once they were ready */
	const char *rt_metric;               /* READY_METRIC_*, NULL: no sample had either */
	double scraped_s;                    /* when /metrics was last read; < 0: never */
	double at_phase[READY_PHASES_MAX];   /* ready_readthroughs at each phase's start */
	bool have_pending;                   /* the latest sample had these gauges: */
	double pending_ops, pending_batches; /* written, not yet applied at central */
	ready_spell spells[READY_SPELLS_MAX];
	size_t nspells, spells_dropped;
	/* Server-side latency once ready, kept as the read-throughs are: the
	 * base at the first ready sample of an incarnation, the latest
	 * sample, earlier incarnations' share, and the total at each phase's
	 * start. */
	bool have_srv_base;
	ready_srv srv_base, srv_last, srv_done;
	ready_srv srv_at_phase[READY_PHASES_MAX];
	/* Home users' memberships read through once ready, kept as the count
	 * read-throughs are (one series: no fallback). */
	bool have_me, have_me_base;
	double me_base, me_last, me_done;
	double me_at_phase[READY_PHASES_MAX];
} ready_edge;

#define READY_INSTANCES_MAX CLUSTER_INSTANCES_MAX

/* Instance inst of edge i is e[READY_SLOT(i, inst)]: e[i] is edgeN. */
#define READY_SLOT(i, inst) ((inst)*DRILL_REGIONS_MAX + (i))

typedef struct ready_watch {
	unsigned nedges;
	unsigned ninst; /* instances per edge: 1, 2 with standby */
	ready_edge e[DRILL_REGIONS_MAX * READY_INSTANCES_MAX];
	unsigned nphases; /* 0 before ready_phase */
	char phase_name[READY_PHASES_MAX][READY_PHASE_NAME_MAX + 1];
} ready_watch;

/* One instance per edge; ready_set_instances(w, 2) for standbys. */
void ready_init(ready_watch *w, unsigned nedges);
void ready_set_instances(ready_watch *w, unsigned ninst);
/* Is any instance of edge i ready? */
bool ready_region(const ready_watch *w, unsigned i);

/* The value of one series ("name" or "name{labels}", exactly as the
 * edge writes it) in a Prometheus text body; false when absent. */
bool ready_series(const char *body, const char *series, double *out);
/* The sum of the samples of metric name (unlabeled or with labels) in
 * a Prometheus text body; false when there is none. */
bool ready_metric(const char *body, const char *name, double *out);

/* One poll of an edge at t_s: pid (0: not running), the status of its
 * /readyz (0: no answer) and its /metrics body (NULL: not read this
 * time; the last values stand). A new pid starts a new incarnation (the
 * last one's read-throughs are kept). */
void ready_observe(ready_edge *e, double t_s, pid_t pid, int readyz_status, const char *metrics);
/* The edge is not ready from now on; gone: its process is gone too
 * (killed, wiped), so its incarnation ends here. */
void ready_down(ready_edge *e, bool gone);
/* Count read-throughs made once ready, every incarnation; < 0 when the
 * edge never showed either metric. */
double ready_readthroughs(const ready_edge *e);

/* Starts rate phase "name" now: each edge's read-throughs so far mark
 * its start. Past READY_PHASES_MAX the last phase goes on (name is
 * dropped). Returns the phase index. */
unsigned ready_phase(ready_watch *w, const char *name);
/* Read-throughs of edge i (every instance) in phase p (the last: up to
 * now); over the whole run; both < 0 when no instance showed either
 * metric. */
double ready_phase_readthroughs(const ready_watch *w, unsigned i, unsigned p);
double ready_region_readthroughs(const ready_watch *w, unsigned i);
/* The same for home users' memberships (READY_METRIC_HOME_MEMBERS). */
double ready_me_readthroughs(const ready_edge *e);
double ready_phase_me_readthroughs(const ready_watch *w, unsigned i, unsigned p);
double ready_region_me_readthroughs(const ready_watch *w, unsigned i);

/* The cumulative buckets of route in a /metrics body into b; false
 * unless every bucket is there. */
bool ready_srv_parse(const char *body, ready_route route, double b[READY_BUCKETS]);
/* Server-side buckets of route at edge i (every instance) in phase p
 * (the last: up to now), as counts per bucket (not cumulative) into
 * out. */
void ready_phase_srv(const ready_watch *w, unsigned i, unsigned p, ready_route route,
                     double out[READY_BUCKETS]);
/* The same over the whole run, of one instance; of every instance of
 * edge i, true when one of them has server-side buckets since it was
 * first ready. */
void ready_run_srv(const ready_edge *e, ready_route route, double out[READY_BUCKETS]);
bool ready_region_srv(const ready_watch *w, unsigned i, ready_route route,
                      double out[READY_BUCKETS]);
/* The upper bound, in ms, of the bucket holding quantile q of counts
 * (per bucket, as ready_phase_srv gives them): INFINITY past the last
 * finite bound, -1 when there are none. */
double ready_srv_quantile_ms(const double counts[READY_BUCKETS], double q);

/* Polls instance inst of edge i of c at t_s (skipped, as not running,
 * when it is stopped or not running) and returns whether it is ready.
 * Its /metrics is scraped too when scrape, when this run of it has just
 * become ready (the base of its read-throughs), and at least every
 * READY_SCRAPE_S: /readyz alone is cheap for the edge and for the
 * runner's timing. */
bool ready_poll_instance(ready_watch *w, cluster *c, unsigned i, unsigned inst, double t_s,
                         bool scrape);
/* Every instance of edge i; whether any is ready. */
bool ready_poll_edge(ready_watch *w, cluster *c, unsigned i, double t_s, bool scrape);
/* Every edge, scraping each; ready flags go to the load (l may be NULL). */
void ready_poll(ready_watch *w, cluster *c, load *l, double t_s);

/* "running at 0.0s, ready at 1.2s (1.2 s); running at 31.4s, ready at
 * 32.5s (1.1 s)" for the report: each incarnation, from the first poll
 * that found it running. */
void ready_spells_text(const ready_edge *e, char *buf, size_t cap);

/* Holds rows (every edge's phases and "whole run" rows, whole_run true
 * on those) and the run's read errors to d's expectations; each miss is
 * a violation in r. Latency expectations are held in the full run only:
 * a short run is a test in `make test`, where timing targets have no
 * place (the machine running it may be shared), so there they are only
 * reported. Returns the number of misses. */
size_t ready_check(const drill *d, bool short_run, const report_ready_row *rows,
                   const bool *whole_run, size_t nrows, uint64_t read_errors, report *r);

#endif
