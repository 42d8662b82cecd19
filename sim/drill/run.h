/* run.h - `sim drill`: runs one drill file against the real binaries.
 *
 * Starts the cluster (cluster.h), drives the load (load.h), applies the
 * drill's steps on schedule, samples the viral item at every region,
 * then heals everything, waits for every op to be answered and for the
 * counts to converge, checks them against the truth (check.h) and writes
 * the report (report.h). Exit status: 0 when every check held, 1 when
 * one did not, 2 for a bad drill or command line, 3 when the cluster did
 * not start, 130 when SIGINT or SIGTERM ended the load early (the report
 * is written, every daemon stopped and the run dir removed). A drill that needs network namespaces
 * on a machine without them is skipped (said loudly) with status 0 and "skipped" in its summary.
 * Main thread only.
 */
#ifndef SIM_RUN_H
#define SIM_RUN_H

#include <stdbool.h>

typedef struct run_opts {
	const char *drill_path;
	bool short_run;
	const char *out_dir;  /* report directory (made if missing) */
	const char *bin_dir;  /* where edge and central are */
	const char *run_root; /* parent of the run dir */
	bool keep;            /* keep the run dir (kept anyway on failure) */
	bool no_netns;        /* run as if namespaces were not allowed */
	double duration_s;    /* > 0: the full run lasts this long instead */
	int kafka;            /* RUN_KAFKA_*: the drill's own, or forced */
} run_opts;

#define RUN_KAFKA_DRILL 0    /* as the drill file says (kafka) */
#define RUN_KAFKA_EMBEDDED 1 /* sim drill --kafka embedded */
#define RUN_KAFKA_REAL 2     /* sim drill --kafka real */

int run_drill(const run_opts *o);

#endif
