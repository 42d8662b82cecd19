/* cmd_drill.c - `sim drill` (a drill file run against the real binaries,
 * sim/drill/run.c) and `sim nemesis` (a fault schedule drawn from a seed,
 * then run the same way, sim/drill/nemesis_run.c). The two share the
 * options of a run (RUN_OPTIONS) and their parse (run_parse). Main
 * thread; the run starts its own.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "sim/cmd.h"
#include "sim/drill/nemesis_run.h"
#include "sim/drill/run.h"
#include "sim/opt.h"

/* Where a run's binaries and run folder are when no option says. */
static const run_opts run_defaults = {.bin_dir = "build", .run_root = "/tmp"};

/* The options sim drill and sim nemesis share, into the run_opts r, and
 * --kafka's word into kafka, which run_parse reads once all are in. The
 * report folder is each command's own (drill's --out, nemesis's --dir):
 * nemesis's --out names the file it draws. */
#define RUN_OPTIONS(r, kafka)                                                                      \
	OPT_FLAG("short", (r).short_run), OPT_STR("bin", (r).bin_dir),                             \
	    OPT_STR("run-root", (r).run_root), OPT_FLAG("keep", (r).keep),                         \
	    OPT_STR("kafka", (kafka)), OPT_LOG, OPT_HELP

/* Parses a run command's options opts[0..n), which hold RUN_OPTIONS(*r,
 * *kafka), then --kafka's word into r. -1 to go on (optind at the
 * command's other arguments), else the exit status, as opt_parse. */
static int run_parse(int argc, char **argv, const opt_spec *opts, size_t n, run_opts *r,
                     const char *const *kafka)
{
	int rc = opt_parse(argc, argv, opts, n, true);
	if (rc >= 0 || !*kafka)
		return rc;
	if (strcmp(*kafka, "real") == 0)
		r->kafka = RUN_KAFKA_REAL;
	else if (strcmp(*kafka, "embedded") == 0)
		r->kafka = RUN_KAFKA_EMBEDDED;
	else
		return opt_usage_error("bad --kafka (embedded or real)", *kafka);
	return -1;
}

int cmd_drill(int argc, char **argv)
{
	run_opts o = run_defaults;
	const char *kafka = NULL;
	uint64_t secs = 0;
	const opt_spec opts[] = {
	    {.name = "duration",
	     .kind = OPTK_NUM,
	     .dst = &secs,
	     .size = sizeof secs,
	     .lo = 1,
	     .hi = 86400,
	     .bad = "bad --duration (seconds, 1..86400)"},
	    OPT_STR("out", o.out_dir),
	    OPT_FLAG("no-netns", o.no_netns),
	    RUN_OPTIONS(o, kafka),
	};
	int rc = run_parse(argc, argv, opts, OPT_COUNT(opts), &o, &kafka);
	if (rc >= 0)
		return rc;
	if (secs)
		o.duration_s = (double)secs;
	if (optind + 1 != argc)
		return opt_usage_error("sim drill takes one drill file", NULL);
	o.drill_path = argv[optind];
	char out[512];
	if (!o.out_dir) {
		const char *base = strrchr(o.drill_path, '/');
		base = base ? base + 1 : o.drill_path;
		size_t n = strcspn(base, ".");
		snprintf(out, sizeof out, "build/drills/%.*s%s%s", (int)n, base,
		         o.kafka == RUN_KAFKA_REAL ? "-real" : "", o.short_run ? "-short" : "");
		o.out_dir = out;
		if (mkdir("build", 0755) && errno != EEXIST)
			return opt_usage_error("cannot make build/", NULL);
		if (mkdir("build/drills", 0755) && errno != EEXIST)
			return opt_usage_error("cannot make build/drills/", NULL);
	}
	log_set_component("sim/drill/drill");
	signal(SIGPIPE, SIG_IGN);
	return run_drill(&o);
}

/* --minutes M: a decimal number of minutes into whole seconds. */
static int nemesis_minutes(void *dst, const char *arg)
{
	char *end;
	errno = 0;
	double m = strtod(arg, &end);
	double lo = NEMESIS_DURATION_MIN_S / 60.0, hi = NEMESIS_DURATION_MAX_S / 60.0;
	if (*arg < '0' || *arg > '9' || *end || errno || !(m >= lo && m <= hi))
		return opt_usage_error("bad --minutes (1..60)", arg);
	*(unsigned *)dst = (unsigned)(m * 60 + 0.5);
	return 0;
}

static int nemesis_mix(void *dst, const char *arg)
{
	char err[256];
	if (nemesis_parse_mix(dst, arg, err, sizeof err))
		return opt_usage_error(err, NULL);
	return 0;
}

int cmd_nemesis(int argc, char **argv)
{
	nemesis_run_opts o = {.run = run_defaults};
	nemesis_opts *k = &o.knobs;
	nemesis_opts_default(k);
	const char *kafka = NULL;
	unsigned secs = 0, standby = 1, regional = 1;
	const opt_spec opts[] = {
	    OPT_CALL("minutes", nemesis_minutes, &secs),
	    OPT_NUM("regions", 1, DRILL_REGIONS_MAX, k->regions, 0),
	    OPT_NUM("centrals", 1, DRILL_CENTRALS_MAX, k->centrals, 0),
	    OPT_NUM("standby", 0, 1, standby, 0),
	    OPT_NUM("regional-kafka", 0, 1, regional, 0),
	    OPT_NUM("rate", 1, NEMESIS_RATE_MAX, k->rate, 0),
	    OPT_NUM("max-overlap", 1, NEMESIS_OVERLAP_MAX, k->max_overlap, 0),
	    OPT_CALL("mix", nemesis_mix, k),
	    OPT_NUM("roam", 0, 100, k->roam_pct, 0),
	    OPT_NUM("undo", 0, 100, k->undo_pct, 0),
	    OPT_STR("out", o.file),
	    OPT_FLAG("dry-run", o.dry_run),
	    OPT_STR("replay", o.replay),
	    OPT_STR("shrink", o.shrink),
	    OPT_FLAG("shrink-failing", o.shrink_failing),
	    OPT_NUM("shrink-runs", 1, 20, o.shrink_runs, 0),
	    OPT_NUM("shrink-budget", 60, 86400, o.shrink_budget_s, 0),
	    OPT_STR("shrink-report", o.shrink_report),
	    OPT_STR("dir", o.run.out_dir),
	    RUN_OPTIONS(o.run, kafka),
	};
	int rc = run_parse(argc, argv, opts, OPT_COUNT(opts), &o.run, &kafka);
	if (rc >= 0)
		return rc;
	k->standby = standby;
	k->regional_kafka = regional;
	k->real_kafka = o.run.kafka == RUN_KAFKA_REAL;
	k->duration_s = secs ? secs : o.run.short_run ? 90 : 180;
	if (o.shrink && (optind != argc || o.file || o.replay))
		return opt_usage_error("sim nemesis --shrink FILE takes no SEED, --out or --replay",
		                       NULL);
	if (o.shrink) {
		log_set_component("sim/drill/nemesis");
		return nemesis_shrink(&o, o.shrink);
	}
	if (o.replay && (optind != argc || o.file))
		return opt_usage_error("sim nemesis --replay FILE takes no SEED and no --out",
		                       NULL);
	if (!o.replay &&
	    (optind + 1 != argc || opt_parse_u64(argv[optind], 0, UINT64_MAX, &k->seed)))
		return opt_usage_error("sim nemesis takes one SEED (a whole number)", NULL);
	log_set_component("sim/drill/nemesis");
	signal(SIGPIPE, SIG_IGN);
	return nemesis_run(&o);
}
