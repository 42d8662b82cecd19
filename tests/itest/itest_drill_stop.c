/* itest_drill_stop.c - a drill stopped by Ctrl-C (SIGINT), with the real
 * binaries: sim stops every daemon and exits 130, and its report says it
 * was interrupted and still holds the latency intervals that ended
 * before the stop (docs/drills.md).
 */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "clock.h"
#include "tests/support/proc.h"
#include "tests/support/testdir.h"

static char dir[512];

static void cleanup(void)
{
	testdir_remove(dir);
}

TestSuite(drill_stop, .fini = cleanup, .timeout = 120);

/* The whole of path into out; false when it cannot be read. */
static bool slurp(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = 0;
	fclose(f);
	return true;
}

Test(drill_stop, an_interrupted_drill_reports_the_intervals_that_ended)
{
	testdir_make(dir, sizeof dir, "drill-stop");
	char drill[600], out[600], log[600], summary[700];
	snprintf(drill, sizeof drill, "%s/stop.drill", dir);
	snprintf(out, sizeof out, "%s/out", dir);
	snprintf(log, sizeof log, "%s/sim.log", dir);
	snprintf(summary, sizeof summary, "%s/summary.txt", out);
	FILE *f = fopen(drill, "w");
	cr_assert_not_null(f);
	/* A full run, one edge (changelog 0): the shape's standby and
	 * region's Kafka would only slow the start this test waits for. */
	fputs("name stop\nregions 1\ncentrals 1\nduration 120\nrate 50\nnetns 0\nfeed 0\n"
	      "latency_every 1\nchangelog 0\n",
	      f);
	cr_assert_eq(fclose(f), 0);
	char *argv[] = {"build/sim", "drill", "--out", out, drill, NULL};
	pid_t pid = proc_spawn(log, argv);
	cr_assert_gt(pid, 0);
	/* A few one-second intervals of load, then Ctrl-C. */
	char text[1 << 16];
	uint64_t deadline = clock_mono_ms() + 60000;
	while (!slurp(log, text, sizeof text) || !strstr(text, "edge ready")) {
		cr_assert(proc_alive(pid), "sim ended early: %s", text);
		cr_assert_lt(clock_mono_ms(), deadline, "no edge got ready: %s", text);
		proc_sleep_ms(100);
	}
	proc_sleep_ms(4500);
	int st = proc_stop(pid, SIGINT);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "wait status %d", st);
	cr_assert(slurp(summary, text, sizeof text), "no %s", summary);
	cr_assert_not_null(strstr(text, "interrupted at"), "%s", text);
	cr_assert_not_null(strstr(text, "latency per interval"), "%s", text);
	cr_assert_not_null(strstr(text, "edge0      3 "), "a third interval ended: %s", text);
}
