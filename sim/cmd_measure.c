/* cmd_measure.c - sim's measuring commands: bench-central, bench-views,
 * bench-feed (sim/bench/bench_*.c), produce-batches (sim/bench/produce.c),
 * fill (sim/bench/fill.c), pace (sim/bench/pace.c) and converge-probe
 * (sim/drill/probe.c). Each is a job: its options' table, what makes them
 * go together, its run, how its results print (--json: the table on
 * stderr, one JSON object on stdout) and its verdict, which job_main
 * parses, runs, prints and turns into the exit status. Main thread.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "partition.h"
#include "sim/bench/bench_central.h"
#include "sim/bench/bench_feed.h"
#include "sim/bench/bench_views.h"
#include "sim/bench/fill.h"
#include "sim/bench/pace.h"
#include "sim/bench/produce.h"
#include "sim/cmd.h"
#include "sim/drill/probe.h"
#include "sim/opt.h"
#include "wire.h"

/* A measuring command: what makes its options go together, what runs,
 * how its results print, and what in them makes the exit status 1. Each
 * command keeps its options and results in a struct of its own, ctx,
 * which the functions are handed. */
typedef struct job {
	const char *name;      /* in its error lines: "sim NAME: ..." */
	const char *component; /* the log component it runs under; NULL: none */
	bool sockets;          /* it talks to servers: EPIPE, not SIGPIPE */
	bool json;             /* --json: the table on stderr, JSON on stdout */
	bool print_failed;     /* the results print also when the run failed */
	void *ctx;
	/* 0, or an error with a message in err. */
	int (*run)(void *ctx, char *err, size_t errlen);
	/* The results as a table, or with json as one JSON object. */
	void (*print)(const void *ctx, FILE *f, bool json);
	/* NULL, or 0 when the results hold; else a message in why. */
	int (*verdict)(const void *ctx, char *why, size_t whylen);
	/* NULL, or once the options are in: NULL when they go together,
	 * else the usage error's message. */
	const char *(*check)(void *ctx);
} job;

/* Parses the command's options with opts[0..n) (which may point into j
 * and its ctx), checks them, runs j and prints its results; the
 * command's exit status. */
static int job_main(int argc, char **argv, const job *j, const opt_spec *opts, size_t n)
{
	int rc = opt_parse(argc, argv, opts, n, false);
	if (rc >= 0)
		return rc;
	const char *bad = j->check ? j->check(j->ctx) : NULL;
	if (bad)
		return opt_usage_error(bad, NULL);
	if (j->component)
		log_set_component(j->component);
	if (j->sockets)
		signal(SIGPIPE, SIG_IGN);
	char err[512];
	rc = j->run(j->ctx, err, sizeof err);
	if (rc == 0 || j->print_failed) {
		j->print(j->ctx, j->json ? stderr : stdout, false);
		if (j->json)
			j->print(j->ctx, stdout, true);
	}
	if (rc == 0 && j->verdict)
		rc = j->verdict(j->ctx, err, sizeof err);
	if (rc) {
		fprintf(stderr, "sim %s: %s\n", j->name, err);
		return 1;
	}
	return 0;
}

typedef struct central_job {
	bench_central_opts o;
	bench_central_result r;
} central_job;

static int central_run(void *ctx, char *err, size_t errlen)
{
	central_job *c = ctx;
	return bench_central_run(&c->o, &c->r, err, errlen);
}

static void central_print(const void *ctx, FILE *f, bool json)
{
	const central_job *c = ctx;
	if (json)
		bench_central_print_json(f, &c->r);
	else
		bench_central_print_table(f, &c->r);
}

/* Distinct users cycle over the likes: no more of them than likes. */
static const char *central_check(void *ctx)
{
	const central_job *c = ctx;
	return c->o.users > c->o.ops ? "--users above --ops" : NULL;
}

int cmd_bench_central(int argc, char **argv)
{
	central_job c;
	bench_central_opts_default(&c.o);
	job j = {.name = "bench-central",
	         .component = "sim/bench",
	         .ctx = &c,
	         .run = central_run,
	         .print = central_print,
	         .check = central_check};
	const opt_spec opts[] = {
	    OPT_NUM("ops", 1, BENCH_CENTRAL_OPS_MAX, c.o.ops, 0),
	    OPT_NUM("items", 1, BENCH_CENTRAL_ITEMS_MAX, c.o.items, 0),
	    OPT_NUM("users", 1, BENCH_CENTRAL_OPS_MAX, c.o.users, 0),
	    OPT_NUM("ops-per-batch", 1, WIRE_MAX_OPS, c.o.ops_per_batch, 0),
	    OPT_NUM("partitions", 1, PARTITION_MAX, c.o.partitions, 0),
	    OPT_STR("dir", c.o.dir),
	    OPT_FLAG("homes", c.o.homes),
	    OPT_FLAG("feed", c.o.feed),
	    OPT_FLAG("json", j.json),
	    OPT_LOG,
	    OPT_HELP,
	};
	return job_main(argc, argv, &j, opts, OPT_COUNT(opts));
}

typedef struct views_job {
	bench_views_opts o;
	bench_views_result r;
} views_job;

static int views_run(void *ctx, char *err, size_t errlen)
{
	views_job *v = ctx;
	return bench_views_run(&v->o, &v->r, err, errlen);
}

static void views_print(const void *ctx, FILE *f, bool json)
{
	const views_job *v = ctx;
	bench_views_print(f, &v->o, &v->r, json);
}

int cmd_bench_views(int argc, char **argv)
{
	views_job v;
	bench_views_opts_default(&v.o);
	job j = {.name = "bench-views",
	         .component = "sim/bench",
	         .ctx = &v,
	         .run = views_run,
	         .print = views_print};
	const opt_spec opts[] = {
	    OPT_NUM("ops", 1, BENCH_VIEWS_OPS_MAX, v.o.ops, 0),
	    OPT_NUM("views-pct", 0, 100, v.o.views_pct, 0),
	    OPT_NUM("viral-pct", 0, 100, v.o.viral_pct, 0),
	    OPT_NUM("items", 1, BENCH_VIEWS_ITEMS_MAX, v.o.items, 0),
	    OPT_NUM("ops-per-batch", 1, WIRE_MAX_OPS, v.o.ops_per_batch, 0),
	    OPT_NUM("partitions", 1, PARTITION_MAX, v.o.partitions, 0),
	    OPT_STR("dir", v.o.dir),
	    OPT_FLAG("json", j.json),
	    OPT_HELP,
	};
	return job_main(argc, argv, &j, opts, OPT_COUNT(opts));
}

/* The options of the feed benchmarks' load (mixgen.h), into l. */
#define MIXGEN_OPTIONS(l)                                                                          \
	OPT_NUM("ops", 1, MIXGEN_OPS_MAX, (l).ops, 0),                                             \
	    OPT_NUM("items", 1, MIXGEN_ITEMS_MAX, (l).items, 0),                                   \
	    OPT_NUM("users", 1, MIXGEN_USERS_MAX, (l).users, 0),                                   \
	    OPT_NUM("views-pct", 0, 100, (l).views_pct, 0),                                        \
	    OPT_NUM("unlike-pct", 0, 100, (l).unlike_pct, 0),                                      \
	    OPT_NUM("ops-per-batch", 1, WIRE_MAX_OPS, (l).ops_per_batch, 0),                       \
	    OPT_NUM("partitions", 1, PARTITION_MAX, (l).partitions, 0)

typedef struct feed_job {
	bench_feed_opts o;
	bench_feed_result r;
} feed_job;

static int feed_run(void *ctx, char *err, size_t errlen)
{
	feed_job *b = ctx;
	return bench_feed_run(&b->o, &b->r, err, errlen);
}

static void feed_print(const void *ctx, FILE *f, bool json)
{
	const feed_job *b = ctx;
	bench_feed_print(f, &b->o, &b->r, json);
}

int cmd_bench_feed(int argc, char **argv)
{
	feed_job b;
	bench_feed_opts_default(&b.o);
	job j = {.name = "bench-feed",
	         .component = "sim/bench",
	         .ctx = &b,
	         .run = feed_run,
	         .print = feed_print};
	const opt_spec opts[] = {
	    MIXGEN_OPTIONS(b.o.load),
	    OPT_NUM("rounds", 1, BENCH_FEED_ROUNDS_MAX, b.o.rounds, 0),
	    OPT_NUM("trim-every", 0, 1000000, b.o.trim_every, 0),
	    OPT_STR("dir", b.o.dir),
	    OPT_FLAG("json", j.json),
	    OPT_LOG,
	    OPT_HELP,
	};
	return job_main(argc, argv, &j, opts, OPT_COUNT(opts));
}

typedef struct produce_job {
	produce_opts o;
	produce_result r;
} produce_job;

static int produce_job_run(void *ctx, char *err, size_t errlen)
{
	produce_job *p = ctx;
	return produce_run(&p->o, &p->r, err, errlen);
}

/* What was delivered, also when not all of it was. */
static void produce_job_print(const void *ctx, FILE *f, bool json)
{
	(void)json;
	produce_print(f, &((const produce_job *)ctx)->r);
}

/* A cluster to produce into. */
static const char *produce_check(void *ctx)
{
	const produce_job *p = ctx;
	return p->o.bootstrap_file ? NULL : "--bootstrap-file is required";
}

int cmd_produce_batches(int argc, char **argv)
{
	produce_job p;
	produce_opts_default(&p.o);
	job j = {.name = "produce-batches",
	         .component = "sim/produce",
	         .print_failed = true,
	         .ctx = &p,
	         .run = produce_job_run,
	         .print = produce_job_print,
	         .check = produce_check};
	const opt_spec opts[] = {
	    MIXGEN_OPTIONS(p.o.load),
	    OPT_STR("bootstrap-file", p.o.bootstrap_file),
	    OPT_STR("topic", p.o.topic),
	    OPT_NUM("timeout-ms", 1, 3600000, p.o.timeout_ms, 0),
	    OPT_LOG,
	    OPT_HELP,
	};
	return job_main(argc, argv, &j, opts, OPT_COUNT(opts));
}

typedef struct fill_job {
	fill_opts o;
	fill_result r;
	bool quiet; /* --quiet: no progress lines */
} fill_job;

static int fill_job_run(void *ctx, char *err, size_t errlen)
{
	fill_job *l = ctx;
	return fill_run(&l->o, &l->r, err, errlen);
}

static void fill_job_print(const void *ctx, FILE *f, bool json)
{
	(void)json;
	fill_print(f, &((const fill_job *)ctx)->r);
}

/* Every request and op went through, and all were sent. */
static int fill_verdict(const void *ctx, char *why, size_t whylen)
{
	const fill_result *r = &((const fill_job *)ctx)->r;
	if (!r->requests_failed && !r->ops_failed && !r->stopped_early)
		return 0;
	snprintf(why, whylen, "%" PRIu64 " of %" PRIu64 " requests failed (%" PRIu64 " ops)%s",
	         r->requests_failed, r->requests, r->ops_failed,
	         r->stopped_early ? "; stopped before the end" : "");
	return 1;
}

/* --quiet applied; an edge to fill, and no more users than items. */
static const char *fill_check(void *ctx)
{
	fill_job *l = ctx;
	if (l->quiet)
		l->o.progress = NULL;
	if (!l->o.port)
		return "sim fill needs --port";
	return l->o.users > l->o.items ? "--users above --items" : NULL;
}

int cmd_fill(int argc, char **argv)
{
	fill_job l = {.quiet = false};
	fill_opts_default(&l.o);
	l.o.max_failures = 100;
	l.o.progress = stderr;
	job j = {.name = "fill",
	         .component = "sim/bench/fill",
	         .sockets = true,
	         .ctx = &l,
	         .run = fill_job_run,
	         .print = fill_job_print,
	         .verdict = fill_verdict,
	         .check = fill_check};
	const opt_spec opts[] = {
	    OPT_NUM("port", 1, 65535, l.o.port, 0),
	    OPT_NUM("items", 1, FILL_ITEMS_MAX, l.o.items, 0),
	    OPT_NUM("users", 1, FILL_ITEMS_MAX, l.o.users, 0),
	    OPT_NUM("per-request", 1, FILL_OPS_MAX, l.o.per_request, 0),
	    OPT_NUM("conns", 1, FILL_CONNS_MAX, l.o.conns, 0),
	    OPT_NUM("timeout-ms", 1, 3600000, l.o.timeout_ms, 0),
	    OPT_NUM("max-seconds", 1, 86400, l.o.max_ms, 1000),
	    OPT_NUM("max-failures", 0, UINT64_MAX, l.o.max_failures, 0),
	    OPT_STR("item-prefix", l.o.item_prefix),
	    OPT_STR("user-prefix", l.o.user_prefix),
	    OPT_STR("counter", l.o.counter),
	    OPT_STR("home", l.o.home),
	    OPT_FLAG("quiet", l.quiet),
	    OPT_HELP,
	};
	return job_main(argc, argv, &j, opts, OPT_COUNT(opts));
}

typedef struct pace_job {
	pace_opts o;
	pace_result r;
} pace_job;

static int pace_job_run(void *ctx, char *err, size_t errlen)
{
	pace_job *p = ctx;
	return pace_run(&p->o, &p->r, err, errlen);
}

static void pace_job_print(const void *ctx, FILE *f, bool json)
{
	(void)json;
	pace_print(f, &((const pace_job *)ctx)->r);
}

/* Every request was answered, and 2xx. */
static int pace_verdict(const void *ctx, char *why, size_t whylen)
{
	const pace_result *r = &((const pace_job *)ctx)->r;
	if (!r->failed && !r->non_2xx)
		return 0;
	snprintf(why, whylen, "%" PRIu64 " failed, %" PRIu64 " not 2xx of %" PRIu64, r->failed,
	         r->non_2xx, r->sent);
	return 1;
}

/* A server and the paths to ask it. */
static const char *pace_check(void *ctx)
{
	const pace_job *p = ctx;
	return p->o.port && p->o.uris ? NULL : "sim pace needs --port and --uris";
}

int cmd_pace(int argc, char **argv)
{
	pace_job p;
	pace_opts_default(&p.o);
	job j = {.name = "pace",
	         .sockets = true,
	         .ctx = &p,
	         .run = pace_job_run,
	         .print = pace_job_print,
	         .verdict = pace_verdict,
	         .check = pace_check};
	const opt_spec opts[] = {
	    OPT_NUM("port", 1, 65535, p.o.port, 0),
	    OPT_STR("uris", p.o.uris),
	    OPT_NUM("rate", 1, 100000000, p.o.rate, 0),
	    OPT_NUM("requests", 1, PACE_REQUESTS_MAX, p.o.requests, 0),
	    OPT_NUM("conns", 1, PACE_CONNS_MAX, p.o.conns, 0),
	    OPT_NUM("depth", 1, 1000, p.o.depth, 0),
	    OPT_FLAG("poisson", p.o.poisson),
	    OPT_STR("user", p.o.user),
	    OPT_STR("body", p.o.body),
	    OPT_STR("log", p.o.log),
	    OPT_NUM("timeout-ms", 1, 3600000, p.o.timeout_ms, 0),
	    OPT_HELP,
	};
	return job_main(argc, argv, &j, opts, OPT_COUNT(opts));
}

/* --prefix S: items S<n>, users u-S<n> (dst: the probe's options; the
 * user prefix they point to lives in a static buffer). */
static int probe_prefix(void *dst, const char *arg)
{
	static char users[PROBE_PREFIX_MAX + 3];
	probe_opts *o = dst;
	if (strlen(arg) > PROBE_PREFIX_MAX)
		return opt_usage_error("--prefix too long", arg);
	o->id_prefix = arg;
	snprintf(users, sizeof users, "u-%s", arg);
	o->user_prefix = users;
	return 0;
}

typedef struct probe_job {
	probe_opts o;
	probe_result r;
} probe_job;

static int probe_job_run(void *ctx, char *err, size_t errlen)
{
	probe_job *p = ctx;
	return probe_run(&p->o, &p->r, err, errlen);
}

static void probe_job_print(const void *ctx, FILE *f, bool json)
{
	const probe_job *p = ctx;
	if (json)
		probe_print_json(f, &p->r);
	else
		probe_print_table(f, &p->r);
}

/* At least one like showed at edge B. */
static int probe_verdict(const void *ctx, char *why, size_t whylen)
{
	if (((const probe_job *)ctx)->r.visible)
		return 0;
	snprintf(why, whylen, "no like became visible at edge B");
	return 1;
}

/* The two edges. */
static const char *probe_check(void *ctx)
{
	const probe_job *p = ctx;
	return p->o.port_a && p->o.port_b ? NULL : "sim converge-probe needs --a and --b";
}

int cmd_converge_probe(int argc, char **argv)
{
	probe_job p;
	probe_opts_default(&p.o);
	job j = {.name = "converge-probe",
	         .component = "sim/drill/probe",
	         .sockets = true,
	         .ctx = &p,
	         .run = probe_job_run,
	         .print = probe_job_print,
	         .verdict = probe_verdict,
	         .check = probe_check};
	const opt_spec opts[] = {
	    OPT_NUM("a", 1, 65535, p.o.port_a, 0),
	    OPT_NUM("b", 1, 65535, p.o.port_b, 0),
	    OPT_NUM("duration-ms", 1, 86400000, p.o.duration_ms, 0),
	    OPT_NUM("interval-ms", 1, 60000, p.o.interval_ms, 0),
	    OPT_NUM("poll-ms", 1, 1000, p.o.poll_ms, 0),
	    OPT_NUM("poll-frac", 0, 1000, p.o.poll_frac, 0),
	    OPT_NUM("timeout-ms", 1, 3600000, p.o.timeout_ms, 0),
	    OPT_NUM("batch-items", 1, PROBE_BATCH_ITEMS_MAX, p.o.batch_items, 0),
	    OPT_NUM("max-pending", 1, PROBE_PENDING_MAX, p.o.max_pending, 0),
	    OPT_CALL("prefix", probe_prefix, &p.o),
	    OPT_FLAG("json", j.json),
	    OPT_LOG,
	    OPT_HELP,
	};
	(void)log_set_level("warn"); /* one line per failed like, none per success */
	return job_main(argc, argv, &j, opts, OPT_COUNT(opts));
}
