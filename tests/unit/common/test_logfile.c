/* test_logfile.c - log.file: lines appended to a file, and log_reopen
 * after the file was renamed (logrotate), also while threads log. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "tests/support/testdir.h"

static char dir[256];

static void setup(void)
{
	testdir_make(dir, sizeof dir, "likes-logfile");
}

static void teardown(void)
{
	testdir_remove(dir);
}

TestSuite(logfile, .init = setup, .fini = teardown, .timeout = 30);

/* The whole file into buf (NUL-terminated); its length. */
static size_t slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, cap - 1, f);
	buf[n] = 0;
	fclose(f);
	return n;
}

Test(logfile, reopen_after_rename_sends_later_lines_to_the_new_file)
{
	char path[512], old[512], err[256], buf[8192];
	snprintf(path, sizeof path, "%s/edge.log", dir);
	snprintf(old, sizeof old, "%s/edge.log.1", dir);
	cr_assert_eq(log_set_file(path, err, sizeof err), 0, "%s", err);
	log_info("first line", "n=%d", 1);
	cr_assert_eq(rename(path, old), 0);
	log_info("second line", "n=%d", 2); /* still the renamed file */
	cr_assert_eq(log_reopen(err, sizeof err), 0, "%s", err);
	log_info("third line", "n=%d", 3);

	slurp(old, buf, sizeof buf);
	cr_assert(strstr(buf, "msg=\"first line\" n=1\n"), "%s", buf);
	cr_assert(strstr(buf, "msg=\"second line\" n=2\n"), "%s", buf);
	cr_assert_null(strstr(buf, "third line"), "%s", buf);
	slurp(path, buf, sizeof buf);
	cr_assert(strstr(buf, "msg=\"third line\" n=3\n"), "%s", buf);
	cr_assert_null(strstr(buf, "first line"), "%s", buf);
}

Test(logfile, set_file_appends_to_what_is_there)
{
	char path[512], err[256], buf[4096];
	snprintf(path, sizeof path, "%s/a.log", dir);
	FILE *f = fopen(path, "w");
	fputs("earlier\n", f);
	fclose(f);
	cr_assert_eq(log_set_file(path, err, sizeof err), 0, "%s", err);
	log_warn("appended", "%s", "");
	slurp(path, buf, sizeof buf);
	cr_assert_eq(strncmp(buf, "earlier\n", 8), 0, "%s", buf);
	cr_assert(strstr(buf, "level=warn"), "%s", buf);
}

Test(logfile, unopenable_file_is_an_error_and_reopen_on_stderr_is_a_noop)
{
	char path[512], err[256] = "";
	cr_assert_eq(log_reopen(err, sizeof err), 0);
	snprintf(path, sizeof path, "%s/no/such/dir/x.log", dir);
	cr_assert_eq(log_set_file(path, err, sizeof err), ERR_IO);
	cr_assert(strstr(err, "cannot open log file"), "%s", err);
	cr_assert_eq(log_set_file("", err, sizeof err), 0);
}

Test(logfile, reopen_fails_cleanly_and_lines_keep_going_to_the_old_file)
{
	char path[700], sub[300], err[256] = "", buf[4096];
	snprintf(sub, sizeof sub, "%s/sub", dir);
	cr_assert_eq(mkdir(sub, 0700), 0);
	snprintf(path, sizeof path, "%s/x.log", sub);
	cr_assert_eq(log_set_file(path, err, sizeof err), 0, "%s", err);
	char moved[300];
	snprintf(moved, sizeof moved, "%s/moved", dir);
	cr_assert_eq(rename(sub, moved), 0); /* the directory is gone */
	cr_assert_eq(log_reopen(err, sizeof err), ERR_IO);
	log_info("after a failed reopen", "%s", "");
	snprintf(path, sizeof path, "%s/x.log", moved);
	slurp(path, buf, sizeof buf);
	cr_assert(strstr(buf, "after a failed reopen"), "%s", buf);
}

static atomic_bool stop_writers;

static void *writer(void *arg)
{
	long id = (long)arg;
	for (int i = 0; !atomic_load(&stop_writers); i++)
		log_info("busy", "writer=%ld i=%d pad=%s", id, i,
		         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	return NULL;
}

/* Every line in every rotated file is whole: one write(2) per line, and
 * the swap never splits or loses one into a closed descriptor. */
static void check_lines(const char *path, size_t *lines)
{
	static char buf[1 << 23];
	size_t n = slurp(path, buf, sizeof buf);
	cr_assert_lt(n, sizeof buf - 1, "file too big for the test buffer");
	for (char *p = buf; *p;) {
		char *nl = strchr(p, '\n');
		cr_assert_not_null(nl, "a line without its end in %s", path);
		cr_assert_eq(strncmp(p, "ts=", 3), 0, "a torn line in %s: %.80s", path, p);
		cr_assert(nl[-1] == 'x', "a torn line in %s: %.*s", path, (int)(nl - p), p);
		(*lines)++;
		p = nl + 1;
	}
}

Test(logfile, reopen_while_threads_log_keeps_every_line_whole)
{
	char path[512], err[256];
	snprintf(path, sizeof path, "%s/busy.log", dir);
	cr_assert_eq(log_set_file(path, err, sizeof err), 0, "%s", err);
	pthread_t t[4];
	for (long i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, writer, (void *)i), 0);
	for (int r = 0; r < 5; r++) {
		usleep(20000);
		char to[512];
		snprintf(to, sizeof to, "%s/busy.log.%d", dir, r);
		cr_assert_eq(rename(path, to), 0);
		cr_assert_eq(log_reopen(err, sizeof err), 0, "%s", err);
	}
	usleep(20000);
	atomic_store(&stop_writers, true);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	size_t lines = 0;
	for (int r = 0; r < 5; r++) {
		char to[512];
		snprintf(to, sizeof to, "%s/busy.log.%d", dir, r);
		size_t before = lines;
		check_lines(to, &lines);
		cr_assert_gt(lines, before, "rotation %d got no lines", r);
	}
	check_lines(path, &lines);
}
