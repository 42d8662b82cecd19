/* itest_broker.c - the real `sim broker` binary as a child process.
 *
 * Runs build/sim (or $SIM_BIN) from the repository root, waits for its
 * bootstrap file, talks Kafka to it, stops it with a signal and checks
 * that it exits 0 and removes its files. Also the exit codes of the
 * argument parser. fini kills and reaps the child whatever happened.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "tests/support/kafka_util.h"
#include "tests/support/testdir.h"

#define WAIT_MS 20000

static char tmpdir[64];
static pid_t child = -1;
static rd_kafka_t *prod;
static rd_kafka_t *cons;

static void setup(void)
{
	testdir_make(tmpdir, sizeof tmpdir, "itest_broker");
}

static void teardown(void)
{
	kafka_util_destroy_clients(&prod, &cons);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
	testdir_remove(tmpdir);
}

TestSuite(itest_broker, .init = setup, .fini = teardown, .timeout = 90);

static const char *sim_bin(void)
{
	const char *p = getenv("SIM_BIN");
	if (!p)
		p = "build/sim";
	cr_assert_eq(access(p, X_OK), 0, "%s missing: run `make all` from the repository root", p);
	return p;
}

static void path_in(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tmpdir, name);
}

/* Starts sim with argv (NULL-terminated, argv[0] ignored); its stderr goes
 * to errfile when that is not NULL. */
static pid_t spawn(char **argv, const char *errfile)
{
	const char *bin = sim_bin();
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork");
	if (pid == 0) {
		if (errfile) {
			int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0 || dup2(fd, 2) < 0)
				_exit(126);
			close(fd);
		}
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 1);
		argv[0] = (char *)bin;
		execv(bin, argv);
		_exit(127);
	}
	return pid;
}

/* Waits for pid to exit within timeout_ms; true and *status if it did. */
static bool wait_exit(pid_t pid, uint64_t timeout_ms, int *status)
{
	uint64_t end = clock_mono_ms() + timeout_ms;
	do {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return true;
		cr_assert_geq(r, 0, "waitpid");
		usleep(10 * 1000);
	} while (clock_mono_ms() < end);
	return false;
}

static int run_to_exit(char **argv, const char *errfile)
{
	child = spawn(argv, errfile);
	int status;
	cr_assert(wait_exit(child, WAIT_MS, &status), "sim did not exit");
	child = -1;
	cr_assert(WIFEXITED(status), "sim died: status 0x%x", status);
	return WEXITSTATUS(status);
}

/* Reads path's first line once the file exists (deadline), without the
 * newline. The file is written by rename, so it is whole when seen. */
static void wait_line(const char *path, char *buf, size_t cap)
{
	uint64_t end = clock_mono_ms() + WAIT_MS;
	for (;;) {
		FILE *f = fopen(path, "r");
		if (f) {
			bool ok = fgets(buf, (int)cap, f) != NULL;
			fclose(f);
			cr_assert(ok, "%s is empty", path);
			cr_assert_not_null(strchr(buf, '\n'), "%s: no whole line", path);
			*strchr(buf, '\n') = '\0';
			return;
		}
		int status;
		cr_assert_eq(waitpid(child, &status, WNOHANG), 0, "sim exited early: 0x%x", status);
		cr_assert_lt(clock_mono_ms(), end, "no %s within %d ms", path, WAIT_MS);
		usleep(10 * 1000);
	}
}

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* Clients go first so that they do not log the broker's departure. */
static void stop_and_expect_clean_exit(int sig, const char *bs, const char *pidf)
{
	kafka_util_destroy_clients(&prod, &cons);
	cr_assert_eq(kill(child, sig), 0);
	int status;
	cr_assert(wait_exit(child, WAIT_MS, &status), "sim ignored signal %d", sig);
	child = -1;
	cr_assert(WIFEXITED(status), "sim died: status 0x%x", status);
	cr_assert_eq(WEXITSTATUS(status), 0);
	cr_assert_not(file_exists(bs), "bootstrap file left behind");
	if (pidf)
		cr_assert_not(file_exists(pidf), "pid file left behind");
}

Test(itest_broker, serves_kafka_then_exits_zero_on_sigterm)
{
	char bs[128], pidf[128], line[1024];
	path_in(bs, sizeof bs, "bs");
	path_in(pidf, sizeof pidf, "pid");
	char *argv[] = {NULL, "broker", "--bootstrap-file", bs, "--pid-file", pidf, NULL};
	child = spawn(argv, NULL);

	wait_line(bs, line, sizeof line);
	cr_assert(strncmp(line, "127.0.0.1:", 10) == 0, "bootstraps: %s", line);
	char pidline[32];
	wait_line(pidf, pidline, sizeof pidline);
	cr_assert_eq(atol(pidline), (long)child);

	prod = kafka_util_new_producer(line);
	delivery d;
	static const char payload[] = "one like through the binary";
	kafka_util_produce(prod, "likes.batches", 3, payload, &d);
	cr_assert(kafka_util_wait_delivery(prod, &d, WAIT_MS), "not delivered");
	cr_assert_eq(d.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(d.err));
	cr_assert_eq(d.offset, 0);

	cons = kafka_util_new_consumer(line, "itest-broker");
	kafka_util_assign_from_start(cons, "likes.batches", 3);
	rd_kafka_message_t *m = kafka_util_next_message(cons, WAIT_MS);
	cr_assert_not_null(m, "nothing consumed");
	cr_assert_eq(m->len, sizeof payload - 1);
	cr_assert_eq(memcmp(m->payload, payload, m->len), 0);
	rd_kafka_message_destroy(m);

	stop_and_expect_clean_exit(SIGTERM, bs, pidf);
}

Test(itest_broker, sigint_also_stops_it_cleanly)
{
	char bs[128], line[1024];
	path_in(bs, sizeof bs, "bs");
	char *argv[] = {NULL, "broker", "--bootstrap-file", bs, NULL};
	child = spawn(argv, NULL);
	wait_line(bs, line, sizeof line);
	stop_and_expect_clean_exit(SIGINT, bs, NULL);
}

Test(itest_broker, brokers_and_topic_options_shape_the_cluster)
{
	char bs[128], line[1024];
	path_in(bs, sizeof bs, "bs");
	char *argv[] = {NULL,      "broker",    "--brokers",        "1", "--topic", "drill.x:2",
	                "--topic", "drill.y:5", "--bootstrap-file", bs,  NULL};
	child = spawn(argv, NULL);
	wait_line(bs, line, sizeof line);
	cr_assert_null(strchr(line, ','), "one broker, one address: %s", line);

	prod = kafka_util_new_producer(line);
	const struct rd_kafka_metadata *md;
	cr_assert_eq(rd_kafka_metadata(prod, 1, NULL, &md, WAIT_MS), RD_KAFKA_RESP_ERR_NO_ERROR);
	cr_expect_eq(md->broker_cnt, 1);
	int seen = 0;
	for (int i = 0; i < md->topic_cnt; i++) {
		const rd_kafka_metadata_topic_t *t = &md->topics[i];
		if (strcmp(t->topic, "drill.x") == 0) {
			cr_expect_eq(t->partition_cnt, 2);
			seen++;
		} else if (strcmp(t->topic, "drill.y") == 0) {
			cr_expect_eq(t->partition_cnt, 5);
			seen++;
		} else {
			cr_expect_fail("unexpected topic %s", t->topic);
		}
	}
	rd_kafka_metadata_destroy(md);
	cr_assert_eq(seen, 2);
	stop_and_expect_clean_exit(SIGTERM, bs, NULL);
}

Test(itest_broker, unwritable_bootstrap_file_fails_start)
{
	char bs[160];
	path_in(bs, sizeof bs, "no-such-dir/bs");
	char *argv[] = {NULL, "broker", "--bootstrap-file", bs, NULL};
	cr_assert_eq(run_to_exit(argv, NULL), 1);
}

static void expect_usage_error(char **argv)
{
	char errfile[128];
	path_in(errfile, sizeof errfile, "stderr");
	cr_assert_eq(run_to_exit(argv, errfile), 2, "argv[1]=%s", argv[1]);
	FILE *f = fopen(errfile, "r");
	cr_assert_not_null(f);
	char buf[4096] = "";
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	cr_assert_not_null(strstr(buf, "usage: sim"), "stderr: %s", buf);
}

Test(itest_broker, usage_errors_exit_2_with_usage_on_stderr)
{
	char *none[] = {NULL, NULL};
	expect_usage_error(none);
	char *unknown_cmd[] = {NULL, "fly", NULL};
	expect_usage_error(unknown_cmd);
	char *unknown_opt[] = {NULL, "broker", "--colour", NULL};
	expect_usage_error(unknown_opt);
	char *missing_value[] = {NULL, "broker", "--topic", NULL};
	expect_usage_error(missing_value);
	char *bad_brokers[] = {NULL, "broker", "--brokers", "0", NULL};
	expect_usage_error(bad_brokers);
	char *bad_topic[] = {NULL, "broker", "--topic", "likes", NULL};
	expect_usage_error(bad_topic);
	char *stray[] = {NULL, "broker", "extra", NULL};
	expect_usage_error(stray);
}

Test(itest_broker, help_exits_0)
{
	char *help[] = {NULL, "help", NULL};
	cr_assert_eq(run_to_exit(help, NULL), 0);
	char *broker_help[] = {NULL, "broker", "--help", NULL};
	cr_assert_eq(run_to_exit(broker_help, NULL), 0);
}
