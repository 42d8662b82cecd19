/* test_faketime.c - a daemon's clock under libfaketime
 * (sim/drill/faketime.c): the offset file's text, the environment a
 * child gets, and, against the library itself (skipped where it is not
 * installed), that a child's CLOCK_REALTIME takes a rewrite of its file
 * while it runs, forwards and backwards, its CLOCK_MONOTONIC does not
 * move, and its timed waits last their time whatever the offset: on a
 * CLOCK_MONOTONIC condition variable, librdkafka's kind (C11's
 * cnd_timedwait) and common/ticker.c's (clock_nanosleep to a time on
 * CLOCK_MONOTONIC), the last two through sim's shim (sim/drill/waitfix.c). The child is
 * this binary again: a constructor answers as the probe when PROBE_ENV
 * is set.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <threads.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "sim/drill/faketime.h"
#include "sim/proc/child.h"
#include "tests/support/testdir.h"

#define PROBE_ENV "TEST_FAKETIME_PROBE"
#define PROBE_LINES 30 /* one each 100 ms or so */

/* A sanitizer's runtime must come first among a process's libraries;
 * a child with libfaketime and the shim preloaded ahead of it stops at
 * start. The live test runs in the plain build, the rest in both. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

/* How long a 50 ms timed wait took, in ms: on a CLOCK_MONOTONIC
 * condition variable (as the daemons make them), or with C11's
 * cnd_timedwait on a CLOCK_REALTIME deadline (as librdkafka waits). */
static long long cond_wait_ms(void)
{
	pthread_cond_t cv;
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	clock_cond_init(&cv);
	uint64_t t0 = clock_mono_ms();
	struct timespec d = clock_mono_deadline(50);
	pthread_mutex_lock(&mu);
	while (pthread_cond_timedwait(&cv, &mu, &d) == 0)
		;
	pthread_mutex_unlock(&mu);
	pthread_cond_destroy(&cv);
	return (long long)(clock_mono_ms() - t0);
}

static long long cnd_wait_ms(void)
{
	cnd_t cv;
	mtx_t mu;
	cnd_init(&cv);
	mtx_init(&mu, mtx_plain);
	uint64_t t0 = clock_mono_ms();
	struct timespec d;
	timespec_get(&d, TIME_UTC);
	d.tv_nsec += 50 * 1000000L;
	if (d.tv_nsec >= 1000000000L) {
		d.tv_sec++;
		d.tv_nsec -= 1000000000L;
	}
	mtx_lock(&mu);
	while (cnd_timedwait(&cv, &mu, &d) == thrd_success)
		;
	mtx_unlock(&mu);
	cnd_destroy(&cv);
	mtx_destroy(&mu);
	return (long long)(clock_mono_ms() - t0);
}

/* How long a sleep to an absolute time 50 ms ahead on CLOCK_MONOTONIC
 * took (common/ticker.c's), in ms. */
static long long abs_sleep_ms(void)
{
	uint64_t t0 = clock_mono_ms();
	struct timespec d = clock_mono_deadline(50);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &d, NULL) == EINTR)
		;
	return (long long)(clock_mono_ms() - t0);
}

/* The probe: per line, the real-time clock less the monotonic one
 * (constant unless the wall clock steps), the monotonic clock, in ms,
 * and how long each kind of 50 ms wait took. */
__attribute__((constructor)) static void probe(void)
{
	if (!getenv(PROBE_ENV))
		return;
	struct timespec r, m;
	for (int i = 0; i < PROBE_LINES; i++) {
		clock_gettime(CLOCK_REALTIME, &r);
		clock_gettime(CLOCK_MONOTONIC, &m);
		long long rm = (long long)r.tv_sec * 1000 + r.tv_nsec / 1000000;
		long long mm = (long long)m.tv_sec * 1000 + m.tv_nsec / 1000000;
		long long cw = cond_wait_ms(), nw = cnd_wait_ms(), sw = abs_sleep_ms();
		printf("%lld %lld %lld %lld %lld\n", rm - mm, mm, cw, nw, sw);
		fflush(stdout);
	}
	_exit(0);
}

static char tmpdir[64];

static void setup(void)
{
	testdir_make(tmpdir, sizeof tmpdir, "test_faketime");
}

static void teardown(void)
{
	testdir_remove(tmpdir);
}

TestSuite(faketime, .init = setup, .fini = teardown, .timeout = 30);

Test(faketime, offsets_are_written_in_seconds_without_a_unit_letter)
{
	static const struct {
		int64_t ms;
		const char *text;
	} cases[] = {
	    {0, "+0"},         {600000, "+600"}, {-600000, "-600"},
	    {-1500, "-1.500"}, {1, "+0.001"},    {-45250, "-45.250"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char out[32];
		faketime_text(cases[i].ms, out, sizeof out);
		cr_expect_str_eq(out, cases[i].text, "%lld", (long long)cases[i].ms);
	}
}

Test(faketime, the_file_holds_one_line_and_no_half_written_copy_stays)
{
	char file[128], err[256], buf[64] = "";
	snprintf(file, sizeof file, "%s/n.faketime", tmpdir);
	cr_assert_eq(faketime_write(file, -90000, err, sizeof err), 0, "%s", err);
	FILE *f = fopen(file, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(buf, sizeof buf, f));
	fclose(f);
	cr_assert_str_eq(buf, "-90\n");
	cr_assert_eq(testdir_count_entries(tmpdir), 1);
	snprintf(file, sizeof file, "%s/no/such/dir/n.faketime", tmpdir);
	cr_assert_eq(faketime_write(file, 0, err, sizeof err), ERR_IO);
	cr_assert_not_null(strstr(err, "no/such/dir"), "%s", err);
}

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	const char *found = NULL;
	for (size_t i = 0; env[i]; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=') {
			cr_assert_null(found, "%s twice", name);
			found = env[i] + n + 1;
		}
	return found;
}

Test(faketime, the_environment_replaces_the_parents_preload_and_keeps_the_rest)
{
	setenv("LD_PRELOAD", "/parent/lib.so", 1);
	setenv("FAKETIME", "+5d", 1);
	setenv("TEST_FAKETIME_KEPT", "yes", 1);
	char **env =
	    faketime_env("/lib/libfaketimeMT.so.1", "/b/sim-waitfix.so", "/run/n.faketime");
	cr_assert_str_eq(env_get(env, "LD_PRELOAD"), "/b/sim-waitfix.so /lib/libfaketimeMT.so.1");
	cr_assert_str_eq(env_get(env, "FAKETIME_TIMESTAMP_FILE"), "/run/n.faketime");
	cr_assert_str_eq(env_get(env, "FAKETIME_DONT_FAKE_MONOTONIC"), "1");
	cr_assert_str_eq(env_get(env, "FAKETIME_CACHE_DURATION"), "0");
	cr_assert_str_eq(env_get(env, "NO_FAKE_STAT"), "1");
	cr_assert_str_eq(env_get(env, "FAKETIME_FORCE_MONOTONIC_FIX"), "0");
	cr_assert_null(env_get(env, "FAKETIME"));
	cr_assert_str_eq(env_get(env, "TEST_FAKETIME_KEPT"), "yes");
	faketime_env_free(env);
	unsetenv("LD_PRELOAD");
	unsetenv("FAKETIME");
}

Test(faketime, a_running_childs_wall_clock_steps_and_its_monotonic_one_does_not)
{
	char lib[512], err[256], file[128], log[128], self[512], shim[600];
	/* A skipped test's .fini does not run: its dir goes first. */
#ifdef SANITIZED
	testdir_remove(tmpdir);
	cr_skip_test("a preloaded library ahead of the sanitizer's runtime stops the child");
#endif
	if (faketime_lib(lib, sizeof lib, err, sizeof err)) {
		testdir_remove(tmpdir);
		cr_skip_test("%s", err);
	}
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	cr_assert_gt(n, 0);
	self[n] = '\0';
	/* The shim of this build: BUILD/tests/test_faketime's BUILD. */
	snprintf(shim, sizeof shim, "%s", self);
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(shim, '/');
		cr_assert_not_null(slash);
		*slash = '\0';
	}
	strcat(shim, "/sim-waitfix.so");
	snprintf(file, sizeof file, "%s/probe.faketime", tmpdir);
	snprintf(log, sizeof log, "%s/probe.log", tmpdir);
	cr_assert_eq(faketime_write(file, 0, err, sizeof err), 0, "%s", err);
	cr_assert_eq(access(shim, R_OK), 0, "%s: make all builds it", shim);
	setenv(PROBE_ENV, "1", 1);
	char **env = faketime_env(lib, shim, file);
	unsetenv(PROBE_ENV);
	const char *argv[] = {self, NULL};
	pid_t pid = child_spawn_env(log, argv, env, NULL, NULL);
	faketime_env_free(env);
	cr_assert_gt(pid, 0);
	/* +600 s after 0.9 s, -600 s after 2.1 s: each lands within a second
	 * (the probe runs about 3 s). */
	usleep(900 * 1000);
	cr_assert_eq(faketime_write(file, 600000, err, sizeof err), 0, "%s", err);
	usleep(1200 * 1000);
	cr_assert_eq(faketime_write(file, -600000, err, sizeof err), 0, "%s", err);
	int st = child_wait(pid, 10000, NULL);
	faketime_litter(pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);

	FILE *f = fopen(log, "r");
	cr_assert_not_null(f);
	long long base = 0, last_mono = 0, rm, mm, cw, nw, sw;
	int lines = 0, ahead = 0, behind = 0;
	while (fscanf(f, "%lld %lld %lld %lld %lld", &rm, &mm, &cw, &nw, &sw) == 5) {
		/* The first returned at once under libfaketime's own "monotonic
		 * fix", the second with the clock behind (ahead, it lasted the
		 * offset longer) without sim's shim. */
		cr_assert(cw >= 45 && cw < 1000, "line %d: a 50 ms wait took %lld ms", lines, cw);
		cr_assert(nw >= 45 && nw < 1000, "line %d: a 50 ms cnd wait took %lld ms", lines,
		          nw);
		/* Without the shim it returned at once whatever the offset. */
		cr_assert(sw >= 45 && sw < 1000, "line %d: a 50 ms absolute sleep took %lld ms",
		          lines, sw);
		if (lines++ == 0)
			base = rm;
		cr_assert_geq(mm, last_mono, "the monotonic clock went back");
		if (last_mono)
			cr_assert_lt(mm - last_mono, 1000, "the monotonic clock jumped");
		last_mono = mm;
		long long off = rm - base;
		if (llabs(off - 600000) < 50)
			ahead++;
		else if (llabs(off + 600000) < 50)
			behind++;
		else
			cr_assert_lt(llabs(off), 50, "an offset of %lld ms", off);
	}
	fclose(f);
	cr_assert_eq(lines, PROBE_LINES);
	cr_assert_geq(ahead, 2, "the forward step never showed");
	cr_assert_geq(behind, 2, "the backward step never showed");
}
