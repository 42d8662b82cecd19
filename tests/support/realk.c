/* realk.c - the suite's real Kafka cluster (realk.h). */
#include "tests/support/realk.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bus.h"
#include "clock.h"
#include "sim/proc/service.h"
#include "tests/support/proc.h"
#include "tests/support/testdir.h"

#define ENV_DIR "LIKES_ITEST_KAFKA"
#define START_MS 180000
#define CTL_MS 120000

static char suite_dir[256];
static pid_t suite_pid;

void realk_suite_start(void)
{
	testdir_make(suite_dir, sizeof suite_dir, "likes-realk");
	char bs[512], ctl[512], log[512], nodes[512];
	snprintf(bs, sizeof bs, "%s/bootstrap", suite_dir);
	snprintf(ctl, sizeof ctl, "%s/ctl", suite_dir);
	snprintf(log, sizeof log, "%s/sim-kafka.log", suite_dir);
	snprintf(nodes, sizeof nodes, "%s/nodes", suite_dir);
	char n[8];
	snprintf(n, sizeof n, "%d", REALK_NODES);
	/* Retention looked at every second, and a deleted segment gone at
	 * once: a test's small retention acts within seconds. */
	char *argv[] = {"build/sim",
	                "kafka",
	                "--nodes",
	                n,
	                "--dir",
	                nodes,
	                "--bootstrap-file",
	                bs,
	                "--control",
	                ctl,
	                "--prop",
	                "log.retention.check.interval.ms=1000",
	                "--prop",
	                "log.segment.delete.delay.ms=0",
	                NULL};
	suite_pid = proc_spawn(log, argv);
	uint64_t deadline = clock_mono_ms() + START_MS;
	struct stat st;
	while (suite_pid > 0 && (stat(bs, &st) != 0 || st.st_size == 0)) {
		if (clock_mono_ms() > deadline || !proc_alive(suite_pid)) {
			fprintf(stderr, "realk: the suite's Kafka cluster did not start; see %s\n",
			        log);
			proc_stop(suite_pid, SIGKILL);
			suite_pid = 0;
			return;
		}
		proc_sleep_ms(100);
	}
	setenv(ENV_DIR, suite_dir, 1);
}

void realk_suite_stop(void)
{
	if (suite_pid > 0)
		proc_stop(suite_pid, SIGTERM);
	suite_pid = 0;
	if (suite_dir[0] && !getenv("KEEP_ITEST_DIR"))
		testdir_remove(suite_dir);
}

const char *realk_dir(void)
{
	const char *d = getenv(ENV_DIR);
	cr_assert(d && *d, "no real Kafka cluster: the suite's did not start (see the runner's "
	                   "output)");
	return d;
}

const char *realk_bootstrap_file(void)
{
	static char path[512];
	snprintf(path, sizeof path, "%s/bootstrap", realk_dir());
	return path;
}

const char *realk_bootstraps(void)
{
	static char bs[1024];
	cr_assert_eq(bus_read_bootstrap(realk_bootstrap_file(), bs, sizeof bs), 0);
	return bs;
}

static int ask(char *ans, size_t anslen, char *err, size_t errlen, const char *fmt, va_list ap)
{
	char cmd[SERVICE_LINE_MAX], ctl[512];
	int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
	cr_assert(n > 0 && (size_t)n < sizeof cmd, "a control command longer than a line: %s", cmd);
	snprintf(ctl, sizeof ctl, "%s/ctl", realk_dir());
	return service_ask(ctl, cmd, CTL_MS, ans, anslen, err, errlen);
}

const char *realk_ctl(const char *fmt, ...)
{
	static char ans[SERVICE_ANSWER_MAX];
	char err[SERVICE_ANSWER_MAX];
	va_list ap;
	va_start(ap, fmt);
	int rc = ask(ans, sizeof ans, err, sizeof err, fmt, ap);
	va_end(ap);
	cr_assert_eq(rc, 0, "the cluster refused a command: %s", err);
	return ans;
}

int realk_try(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = ask(NULL, 0, err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

int realk_leader(const char *topic, int partition)
{
	return atoi(realk_ctl("leader %s %d", topic, partition));
}

rd_kafka_t *realk_client(void)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	cr_assert_eq(
	    rd_kafka_conf_set(conf, "bootstrap.servers", realk_bootstraps(), err, sizeof err),
	    RD_KAFKA_CONF_OK, "%s", err);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	cr_assert_not_null(rk, "%s", err);
	return rk;
}

void realk_heal(void)
{
	if (!getenv(ENV_DIR))
		return;
	realk_ctl("resume all");
	realk_ctl("up all");
	realk_ctl("in-sync 90000");
}

const char *realk_prefix(void)
{
	static char p[32];
	snprintf(p, sizeof p, "t%ld.", (long)getpid());
	return p;
}
