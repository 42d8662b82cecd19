/* itest_startup.c - what the real daemons refuse at start-up: the
 * development identity mode on an address others can reach, central's
 * ops API without a token off loopback, and config files with unknown
 * keys or bad values (named by file:line). Each case runs build/edge or
 * build/central on a config written to the test's temp dir and expects
 * it to exit non-zero at once with the reason in its log; no broker is
 * needed, since nothing gets that far.
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "proc.h"
#include "testdir.h"

static struct {
	char dir[256];
	char cfg[300];
	char log[300];
	pid_t pid;
} T;

static void setup(void)
{
	memset(&T, 0, sizeof T);
	testdir_make(T.dir, sizeof T.dir, "itest_startup");
	snprintf(T.cfg, sizeof T.cfg, "%s/daemon.ini", T.dir);
	snprintf(T.log, sizeof T.log, "%s/daemon.log", T.dir);
}

static void teardown(void)
{
	if (T.pid > 0)
		proc_stop(T.pid, SIGKILL);
	testdir_remove(T.dir);
}

TestSuite(startup, .init = setup, .fini = teardown, .timeout = 60);

static void write_cfg(const char *text)
{
	FILE *f = fopen(T.cfg, "w");
	cr_assert_not_null(f);
	cr_assert_geq(fputs(text, f), 0);
	cr_assert_eq(fclose(f), 0);
}

/* Runs bin on T.cfg; its exit status once it exits (within 10 s), with
 * its log in out. -1 if it is still running then (and T.pid is set). */
static int run(const char *bin, char *out, size_t cap)
{
	char *argv[] = {(char *)bin, "-c", T.cfg, NULL};
	T.pid = proc_spawn(T.log, argv);
	cr_assert_gt(T.pid, 0);
	int status = 0, rc = -1;
	uint64_t end = proc_now_ms() + 10000;
	while (proc_now_ms() < end) {
		pid_t w = waitpid(T.pid, &status, WNOHANG);
		if (w == T.pid) {
			T.pid = 0;
			rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			break;
		}
		proc_sleep_ms(10);
	}
	FILE *f = fopen(T.log, "r");
	size_t n = f ? fread(out, 1, cap - 1, f) : 0;
	out[n] = 0;
	if (f)
		fclose(f);
	return rc;
}

/* The log of a refused start-up holds every needle. */
static void refused(const char *bin, const char *needle1, const char *needle2)
{
	char out[8192];
	int rc = run(bin, out, sizeof out);
	cr_assert_neq(rc, -1, "%s did not exit: %s", bin, out);
	cr_assert_neq(rc, 0, "%s started: %s", bin, out);
	cr_assert(strstr(out, needle1), "no \"%s\" in: %s", needle1, out);
	if (needle2)
		cr_assert(strstr(out, needle2), "no \"%s\" in: %s", needle2, out);
}

static void edge_cfg(const char *listen, const char *extra)
{
	char text[2048];
	snprintf(text, sizeof text,
		 "[edge]\nid = e1\nregion = r1\ndata_dir = %s/edge\n"
		 "[http]\nlisten = %s\n[identity]\ndev_header = true\n%s",
		 T.dir, listen, extra);
	write_cfg(text);
}

Test(startup, the_edge_refuses_dev_identity_on_an_open_address)
{
	char listen[32];
	snprintf(listen, sizeof listen, "0.0.0.0:%d", proc_free_port());
	edge_cfg(listen, "");
	refused("build/edge", "identity.dev_header = true on the non-loopback address",
		"dev_header_force");
}

Test(startup, the_edge_with_dev_identity_forced_starts_and_says_so_loudly)
{
	char listen[32];
	snprintf(listen, sizeof listen, "0.0.0.0:%d", proc_free_port());
	edge_cfg(listen, "[identity]\ndev_header_force = true\n[central]\nops =\n");
	char out[16384] = "";
	int rc = run("build/edge", out, sizeof out);
	cr_assert_eq(rc, -1, "the forced edge exited (%d): %s", rc, out);
	cr_assert(strstr(out, "DEVELOPMENT IDENTITY MODE FORCED"), "%s", out);
	cr_assert(strstr(out, "level=warn"), "%s", out);
}

Test(startup, an_unknown_key_stops_the_edge_naming_file_and_line)
{
	edge_cfg("127.0.0.1:0", "[limits]\nuser_writes_per_minute = 5\n");
	char where[320];
	snprintf(where, sizeof where, "%s:10:", T.cfg);
	refused("build/edge", where, "user_writes_per_minute");
}

Test(startup, a_bad_value_stops_the_edge_naming_file_and_line)
{
	edge_cfg("127.0.0.1:0", "[http]\nmax_streams = -5\n");
	char where[320];
	snprintf(where, sizeof where, "%s:10:", T.cfg);
	refused("build/edge", where, "max_streams");
}

Test(startup, central_refuses_an_ops_api_without_token_off_loopback)
{
	char text[2048];
	snprintf(text, sizeof text,
		 "[central]\nid = c1\ndata_dir = %s/central\nops_listen = 0.0.0.0:%d\n", T.dir,
		 proc_free_port());
	write_cfg(text);
	refused("build/central", "central.ops_token is empty", "not a loopback address");
}
