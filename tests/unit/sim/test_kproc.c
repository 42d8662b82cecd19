/* test_kproc.c - a drill's Kafka cluster as a process (sim/drill/kproc.c),
 * against a fake `sim`: a shell script in the test's temp dir that writes
 * the arguments it was given and the bootstrap list it is told to write
 * (or not), then waits. What is held here is kproc's own part: the
 * command line, the wait for the bootstrap list, a process that dies at
 * start-up or later, and the stop. The real `sim broker` and its control
 * socket are test_broker's, and every drill's.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "sim/drill/kproc.h"
#include "sim/kafka/kafka.h"
#include "tests/support/testdir.h"

static char tmpdir[64];
static kproc k;

static void setup(void)
{
	testdir_make(tmpdir, sizeof tmpdir, "test_kproc");
	log_set_level("error");
	memset(&k, 0, sizeof k);
}

static void teardown(void)
{
	kproc_stop(&k);
	testdir_remove(tmpdir);
}

TestSuite(kproc, .init = setup, .fini = teardown, .timeout = 30);

/* Writes tmpdir/sim: it records its arguments in tmpdir/args, writes
 * `list` as the bootstrap list (none when NULL), then runs `then`. */
static void fake_sim(const char *list, const char *then)
{
	char path[128], text[1024];
	snprintf(path, sizeof path, "%s/sim", tmpdir);
	snprintf(text, sizeof text,
	         "#!/bin/sh\n"
	         "printf '%%s\\n' \"$@\" > '%s/args'\n"
	         "bf=\n"
	         "while [ $# -gt 0 ]; do\n"
	         "  [ \"$1\" = --bootstrap-file ] && bf=$2\n"
	         "  shift\n"
	         "done\n"
	         "%s%s%s"
	         "%s\n",
	         tmpdir, list ? "printf '%s\\n' '" : "", list ? list : "",
	         list ? "' > \"$bf\"\n" : "", then);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_geq(fputs(text, f), 0);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, 0755), 0);
}

static const sim_broker_topic topics[] = {{"likes.batches", 4}, {"likes.snapshots", 2}};

static kproc_opts three(void)
{
	return (kproc_opts){.brokers = 3, .topics = topics, .ntopics = 2};
}

static char *slurp_args(void)
{
	char path[128];
	snprintf(path, sizeof path, "%s/args", tmpdir);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "the fake never ran");
	static char buf[2048];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

Test(kproc, starts_with_its_topics_and_reads_the_bootstrap_list)
{
	fake_sim("127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003", "exec sleep 60");
	kproc_opts o = three();
	o.fail_over = true;
	o.idle = true;
	char err[256] = "";
	cr_assert_eq(kproc_start(&k, tmpdir, tmpdir, "kafka", &o, err, sizeof err), 0, "%s", err);
	cr_assert_gt(k.pid, 0);
	cr_assert_eq(k.nbrokers, 3);
	cr_assert_eq(k.ports[0], 9001);
	cr_assert_eq(k.ports[2], 9003);
	cr_assert_str_eq(k.bootstraps, "127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003");
	char want[128];
	snprintf(want, sizeof want, "%s/kafka.bootstrap", tmpdir);
	cr_assert_str_eq(k.bootstrap, want);
	const char *args = slurp_args();
	cr_assert_not_null(strstr(args, "broker\n--brokers\n3\n"), "%s", args);
	cr_assert_not_null(strstr(args, "--topic\nlikes.batches:4\n--topic\nlikes.snapshots:2\n"),
	                   "%s", args);
	cr_assert_not_null(strstr(args, "--fail-over\n"), "%s", args);
	cr_assert_not_null(strstr(args, "--idle\n"), "%s", args);
	snprintf(want, sizeof want, "--control\n%s/kafka.ctl\n", tmpdir);
	cr_assert_not_null(strstr(args, want), "%s", args);
	cr_assert(kproc_alive(&k, NULL));
	pid_t pid = k.pid;
	kproc_stop(&k);
	cr_assert_eq(k.pid, 0);
	cr_assert_eq(kill(pid, 0), -1, "stopped and reaped");
	cr_assert_not(kproc_alive(&k, NULL), "a stopped one is not running");
}

/* The ports listed after --ports in args, exactly "P:C,P:C,...", into
 * ports (client, controller, client, ...); their count. */
static int ports_arg(const char *args, int *ports, int max)
{
	const char *at = strstr(args, "--ports\n");
	cr_assert_not_null(at, "no --ports in %s", args);
	at += strlen("--ports\n");
	int n = 0;
	for (;;) {
		char *end;
		long v = strtol(at, &end, 10);
		cr_assert_neq(end, at, "bad --ports in %s", args);
		cr_assert_lt(n, max);
		ports[n++] = (int)v;
		if (*end == '\n' && n % 2 == 0)
			return n;
		cr_assert_eq(*end, n % 2 ? ':' : ',', "bad --ports in %s", args);
		at = end + 1;
	}
}

/* A drill starts its clusters at once; each sim kafka picking its own
 * ports, two picked the same one (nemesis seed 17 on real Kafka). kproc
 * picks them all in the drill's one process. */
Test(kproc, a_real_cluster_gets_distinct_ports_picked_here)
{
	fake_sim("127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", "exec sleep 60");
	kproc_opts o = three();
	o.real = true;
	char err[256] = "";
	cr_assert_eq(kproc_start(&k, tmpdir, tmpdir, "kafka", &o, err, sizeof err), 0, "%s", err);
	const char *args = slurp_args();
	cr_assert_not_null(strstr(args, "kafka\n--nodes\n3\n"), "%s", args);
	int first[8];
	cr_assert_eq(ports_arg(args, first, 8), 6, "%s", args);
	kproc_stop(&k);
	/* A second cluster of the same drill: none of the first one's. */
	cr_assert_eq(kproc_start(&k, tmpdir, tmpdir, "kafka-r0", &o, err, sizeof err), 0, "%s",
	             err);
	int second[8];
	cr_assert_eq(ports_arg(slurp_args(), second, 8), 6);
	for (int i = 0; i < 6; i++) {
		cr_assert_gt(first[i], 0);
		cr_assert_lt(first[i], 65536);
		for (int j = 0; j < 6; j++) {
			cr_assert(i == j || first[i] != first[j], "port %d twice", first[i]);
			cr_assert_neq(first[i], second[j], "port %d in both clusters", first[i]);
		}
	}
}

Test(kproc, a_real_cluster_of_more_nodes_than_sim_kafka_runs_is_refused)
{
	fake_sim("127.0.0.1:1", "exec sleep 60");
	kproc_opts o = three();
	o.brokers = SIM_KAFKA_NODES_MAX + 1;
	o.real = true;
	char err[256] = "";
	cr_assert_eq(kproc_start(&k, tmpdir, tmpdir, "kafka", &o, err, sizeof err), ERR_INVAL);
	cr_assert_eq(k.pid, 0, "nothing started");
}

Test(kproc, a_real_clusters_given_ports_are_passed_on)
{
	fake_sim("127.0.0.1:1", "exec sleep 60");
	kproc_opts o = three();
	o.brokers = 1;
	o.real = true;
	o.ports = "12001:12002";
	char err[256] = "";
	cr_assert_eq(kproc_start(&k, tmpdir, tmpdir, "kafka", &o, err, sizeof err), 0, "%s", err);
	const char *args = slurp_args();
	cr_assert_not_null(strstr(args, "--ports\n12001:12002\n"), "%s", args);
}

Test(kproc, a_process_that_dies_later_is_seen_once)
{
	fake_sim("127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", "exec sleep 60");
	kproc_opts o = three();
	char err[256] = "";
	cr_assert_eq(kproc_start(&k, tmpdir, tmpdir, "kafka-r1", &o, err, sizeof err), 0, "%s",
	             err);
	cr_assert_eq(kill(k.pid, SIGKILL), 0);
	int st = 0;
	for (int i = 0; i < 500 && kproc_alive(&k, &st); i++)
		usleep(10 * 1000);
	cr_assert_eq(k.pid, 0, "seen exited and reaped");
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "wait status %d", st);
	cr_assert_not(kproc_alive(&k, &st));
	char err2[256] = "";
	cr_assert_eq(kproc_command(&k, "up all", err2, sizeof err2), ERR_INVAL);
	cr_assert_not_null(strstr(err2, "kafka-r1 is not running"), "%s", err2);
}

Test(kproc, one_that_exits_at_start_up_is_an_error_that_names_its_log)
{
	fake_sim(NULL, "exit 3");
	kproc_opts o = three();
	char err[256] = "";
	cr_assert_eq(kproc_start(&k, tmpdir, tmpdir, "kafka", &o, err, sizeof err), ERR_IO);
	cr_assert_not_null(strstr(err, "exited at start-up"), "%s", err);
	cr_assert_not_null(strstr(err, "kafka.log"), "%s", err);
	cr_assert_eq(k.pid, 0);
}

Test(kproc, fewer_brokers_than_asked_for_is_an_error_and_the_process_is_stopped)
{
	fake_sim("127.0.0.1:1,127.0.0.1:2", "exec sleep 60");
	kproc_opts o = three();
	char err[256] = "";
	cr_assert_eq(kproc_start(&k, tmpdir, tmpdir, "kafka", &o, err, sizeof err), ERR_KAFKA);
	cr_assert_not_null(strstr(err, "lists 2 brokers of 3"), "%s", err);
	cr_assert_eq(k.pid, 0, "stopped again");
}

Test(kproc, bad_options_and_a_control_path_too_long_start_nothing)
{
	fake_sim("127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", "exec sleep 60");
	char err[256] = "";
	kproc_opts o = three();
	o.brokers = 0;
	cr_assert_eq(kproc_start(&k, tmpdir, tmpdir, "kafka", &o, err, sizeof err), ERR_INVAL);
	o = three();
	o.ntopics = 0;
	cr_assert_eq(kproc_start(&k, tmpdir, tmpdir, "kafka", &o, err, sizeof err), ERR_INVAL);
	o = three();
	char deep[200];
	memset(deep, 'd', sizeof deep - 1);
	deep[sizeof deep - 1] = '\0';
	cr_assert_eq(kproc_start(&k, tmpdir, tmpdir, deep, &o, err, sizeof err), ERR_INVAL,
	             "a 200-byte name");
	char dir[256];
	snprintf(dir, sizeof dir, "%s/%0100d", tmpdir, 0);
	cr_assert_eq(kproc_start(&k, tmpdir, dir, "kafka", &o, err, sizeof err), ERR_INVAL);
	cr_assert_not_null(strstr(err, "too long for a socket"), "%s", err);
	cr_assert_eq(k.pid, 0);
	char args[128];
	snprintf(args, sizeof args, "%s/args", tmpdir);
	cr_assert_neq(access(args, F_OK), 0, "nothing was started");
}
