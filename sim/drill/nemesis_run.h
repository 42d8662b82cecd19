/* nemesis_run.h - `sim nemesis`: draws a seed's fault schedule
 * (nemesis.h), writes it as a drill file, prints it with its fault
 * coverage, and runs it through the drill runner (run.h) exactly as
 * `sim drill FILE` would; or, with replay, runs a saved schedule.
 * Main thread only.
 */
#ifndef SIM_NEMESIS_RUN_H
#define SIM_NEMESIS_RUN_H

#include <stdbool.h>

#include "sim/drill/nemesis.h"
#include "sim/drill/run.h"

typedef struct nemesis_run_opts {
	nemesis_opts knobs; /* what to draw (not with replay) */
	const char *replay; /* a saved drill file to run instead of drawing one */
	const char *file;   /* where the drawn file goes (default: the report dir's
	                     * nemesis-SEED.drill) */
	bool dry_run;       /* write and print, run nothing */
	/* Shrinking: a failing schedule to shrink (shrink), or the drawn or
	 * replayed one once its run failed (shrink_failing). A candidate
	 * (nemesis_shrink_candidate) is kept when it fails in at least 1 of
	 * shrink_runs runs (default 2), each run a `sim drill` of its own;
	 * no run starts past shrink_budget_s (default 1800) from the first. */
	const char *shrink;
	bool shrink_failing;
	unsigned shrink_runs, shrink_budget_s;
	/* The failing run's report.json, whose failure kinds
	 * (nemesis_report_kinds) a candidate must share; NULL: the shrinker
	 * runs the schedule as given first (up to shrink_runs times) and takes
	 * them from its first failing run. */
	const char *shrink_report;
	/* As sim drill's: short_run, out_dir (default build/drills/NAME[-real]
	 * [-short]), bin_dir, run_root, keep, kafka; drill_path is set here. */
	run_opts run;
} nemesis_run_opts;

/* The command's exit status: run_drill's (0 when every check held), 0
 * after a dry run, 2 for a bad file or one that cannot be written. The
 * coverage (coverage.txt) and the drawn file land in the report dir. */
int nemesis_run(nemesis_run_opts *o);

/* Shrinks the failing schedule in file (above): every try's file and
 * report dir under the report dir's shrink/ (run.out_dir, default
 * build/drills/NAME[-short]-shrink), each kept candidate written over
 * smallest.drill there, one line printed per try. A candidate is kept
 * when it fails the same way: its report shares a failure kind with the
 * failing run's (shrink_report, or try 0, the file run as given). 0 once
 * done (the smallest failing schedule found, which may be file's own), 1
 * when the file as given passed every run (nothing to shrink), 2 when
 * file cannot be read or parsed. */
int nemesis_shrink(nemesis_run_opts *o, const char *file);

/* Did the drill whose report.json is at path fail by its checks: not
 * passed, and a violation besides a step it could not carry out (the
 * report's steps_failed)? false when the report cannot be read. What the
 * shrinker counts as a failing try. */
bool nemesis_report_failed(const char *path);

#define NEMESIS_KINDS_MAX 32
#define NEMESIS_KIND_BYTES 112

/* The kinds of failure the report.json at path names: each violation's
 * text with its numbers written N and its items ITEM ("ITEM likes at
 * centralN: expected N, seen N"), cut to NEMESIS_KIND_BYTES - 1, each
 * once, the step one (a step not carried out) left out; at most max
 * into kinds, their count returned. 0 for a report that cannot be read. */
size_t nemesis_report_kinds(const char *path, char (*kinds)[NEMESIS_KIND_BYTES], size_t max);

#endif
