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
	/* As sim drill's: short_run, out_dir (default build/drills/NAME[-real]
	 * [-short]), bin_dir, run_root, keep, kafka; drill_path is set here. */
	run_opts run;
} nemesis_run_opts;

/* The command's exit status: run_drill's (0 when every check held), 0
 * after a dry run, 2 for a bad file or one that cannot be written. The
 * coverage (coverage.txt) and the drawn file land in the report dir. */
int nemesis_run(nemesis_run_opts *o);

#endif
