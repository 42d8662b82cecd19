/* itest_tail.c - `central tail` (central/tail.c) against the embedded
 * broker (build/sim broker): events made with feedev_encode and one value
 * that is no event are produced to likes.changes, and the real binary,
 * with a config that names the broker through bus.bootstrap_file, prints
 * the events unchanged, one per line, names the bad value on stderr with
 * its partition and offset, and says so in its exit status. Also
 * --partition, reading only what comes after the start (--count), the
 * milestones topic, a feed turned off, and SIGINT/SIGTERM. Each test has
 * its own broker and temp dir; fini kills whatever still runs.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bus.h"
#include "feedev.h"
#include "sbuf.h"
#include "tests/support/kafka_util.h"
#include "tests/support/stack.h"

#define NPARTS 4
#define WAIT_MS 20000
#define HLC ((uint64_t)1760928959236 << 16 | 1)

static rd_kafka_t *prod;
static pid_t tail_pid = -1;

static void setup(void)
{
	S.nparts = NPARTS;
	S.nedges = 0;
	testdir_make(S.dir, sizeof S.dir, "itest_tail");
	stack_start_broker();
	stack_write("central.ini", "[central]\nid = c1\ndata_dir = %s/central\n%s", S.dir,
	            stack_central_common());
	char path[512], bs[1024];
	snprintf(path, sizeof path, "%s/bootstrap", S.dir);
	cr_assert_eq(bus_read_bootstrap(path, bs, sizeof bs), 0);
	prod = kafka_util_new_producer(bs);
}

static void teardown(void)
{
	if (tail_pid > 0) {
		proc_stop(tail_pid, SIGKILL);
		tail_pid = -1;
	}
	kafka_util_destroy_clients(&prod, NULL);
	stack_down();
}

TestSuite(tail_itest, .init = setup, .fini = teardown, .timeout = 120);

/* One event of partition part made by batch-topic offset off, encoded as
 * central would publish it (malloc'ed). */
static char *make_event(enum feedev_type type, uint32_t part, uint64_t off, uint32_t idx,
                        const char *item, uint64_t count)
{
	feedev e = {.id = {0, part, off, idx}, .type = type, .hlc = HLC, .count = count};
	e.counter = type == FEEDEV_SUM ? "views" : "likes", e.counter_n = strlen(e.counter);
	e.item = item, e.item_n = strlen(item);
	e.region = "eu-west", e.region_n = 7;
	if (type == FEEDEV_SET)
		e.user = "u7", e.user_n = 2, e.member = count > 0;
	else if (type == FEEDEV_SUM)
		e.n = count;
	else
		e.threshold = count;
	sbuf b;
	sbuf_init(&b);
	feedev_encode(&e, &b);
	return sbuf_take(&b, NULL);
}

/* Produces value to (topic, part) and waits for its delivery; its offset. */
static int64_t produce(const char *topic, int32_t part, const char *value)
{
	delivery d;
	kafka_util_produce(prod, topic, part, value, &d);
	cr_assert(kafka_util_wait_delivery(prod, &d, WAIT_MS), "not delivered");
	cr_assert_eq(d.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(d.err));
	return d.offset;
}

/* What produce_feed put in likes.changes: three events in partition 0,
 * in order, one in partition 2, and in partition 1 a value with an
 * unknown type, which feedev_decode refuses. */
#define NGOOD 4
static char *good[NGOOD];
static const int good_part[NGOOD] = {0, 0, 0, 2};
static const char bad_value[] =
    "{\"v\":1,\"id\":\"0-1-4-0\",\"type\":\"like\",\"counter\":\"likes\",\"item\":\"post:3\"}";

static void produce_feed(void)
{
	good[0] = make_event(FEEDEV_SET, 0, 10, 0, "post:1", 1);
	good[1] = make_event(FEEDEV_SUM, 0, 11, 0, "reel:2", 5);
	good[2] = make_event(FEEDEV_SET, 0, 12, 0, "post:1", 0);
	good[3] = make_event(FEEDEV_SET, 2, 3, 0, "post:7", 9);
	for (int i = 0; i < NGOOD; i++)
		produce("likes.changes", good_part[i], good[i]);
	cr_assert_eq(produce("likes.changes", 1, bad_value), 0);
}

static void free_feed(void)
{
	for (int i = 0; i < NGOOD; i++) {
		free(good[i]);
		good[i] = NULL;
	}
}

/* Runs build/central tail ARGS -c central.ini; stdout in out, stderr in
 * the file tail.err of the stack's dir. The exit status. */
static int run_tail(char *out, size_t cap, const char *args)
{
	return proc_capture(out, cap, "build/central tail %s -c %s/central.ini 2>%s/tail.err", args,
	                    S.dir, S.dir);
}

/* The stack dir's file name, whole (a static buffer). */
static const char *slurp(const char *name)
{
	static char buf[8192];
	char path[512];
	snprintf(path, sizeof path, "%s/%s", S.dir, name);
	buf[0] = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return buf;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* The line of out equal to want, counted from 0; -1 when there is none. */
static int line_of(const char *out, const char *want)
{
	size_t n = strlen(want);
	int i = 0;
	for (const char *l = out; *l; i++) {
		const char *nl = strchr(l, '\n');
		cr_assert_not_null(nl, "the output does not end its last line: %s", out);
		if ((size_t)(nl - l) == n && memcmp(l, want, n) == 0)
			return i;
		l = nl + 1;
	}
	return -1;
}

static int count_lines(const char *out)
{
	int n = 0;
	for (const char *c = out; *c; c++)
		n += *c == '\n';
	return n;
}

Test(tail_itest, prints_every_event_unchanged_and_names_the_value_that_is_not_one)
{
	produce_feed();
	static char out[1 << 16];
	int rc = run_tail(out, sizeof out, "changes --from-beginning --exit");
	const char *err = slurp("tail.err");
	cr_expect_eq(rc, 1, "exit %d, stderr:\n%s", rc, err);
	cr_expect_eq(count_lines(out), NGOOD, "stdout:\n%s", out);
	int at[NGOOD];
	for (int i = 0; i < NGOOD; i++) {
		at[i] = line_of(out, good[i]);
		cr_expect_geq(at[i], 0, "missing: %s\nstdout:\n%s", good[i], out);
	}
	cr_expect(at[0] < at[1] && at[1] < at[2], "partition 0 out of order:\n%s", out);
	cr_expect_not_null(strstr(err, "likes.changes partition 1 offset 0: not an event"), "%s",
	                   err);
	cr_expect_null(strstr(out, "\"like\""), "the bad value was printed:\n%s", out);
	free_feed();
}

Test(tail_itest, partition_reads_that_partition_alone)
{
	produce_feed();
	static char out[1 << 16];
	char want[4096];
	snprintf(want, sizeof want, "%s\n%s\n%s\n", good[0], good[1], good[2]);
	int rc = run_tail(out, sizeof out, "changes --from-beginning --exit --partition 0");
	cr_expect_eq(rc, 0, "exit %d, stderr:\n%s", rc, slurp("tail.err"));
	cr_expect_str_eq(out, want);

	rc = run_tail(out, sizeof out, "changes --from-beginning --exit --partition 1");
	cr_expect_eq(rc, 1, "exit %d", rc);
	cr_expect_str_empty(out);
	cr_expect_not_null(strstr(slurp("tail.err"), "partition 1 offset 0"), "%s",
	                   slurp("tail.err"));

	rc = run_tail(out, sizeof out, "changes --from-beginning --exit --partition 3");
	cr_expect_eq(rc, 0, "an empty partition: exit %d, %s", rc, slurp("tail.err"));
	cr_expect_str_empty(out);

	rc = run_tail(out, sizeof out, "changes --exit --partition 4");
	cr_expect_eq(rc, 2, "a partition the topic does not have: exit %d", rc);
	cr_expect_not_null(strstr(slurp("tail.err"), "partitions 0 to 3"), "%s", slurp("tail.err"));
	free_feed();
}

Test(tail_itest, milestones_topic_and_a_feed_turned_off)
{
	char *m = make_event(FEEDEV_MILESTONE, 2, 40, 1, "post:9", 10);
	produce("likes.milestones", 2, m);
	static char out[1 << 16];
	char want[1024];
	snprintf(want, sizeof want, "%s\n", m);
	int rc = run_tail(out, sizeof out, "milestones --from-beginning --exit");
	cr_expect_eq(rc, 0, "exit %d, stderr:\n%s", rc, slurp("tail.err"));
	cr_expect_str_eq(out, want);
	free(m);

	rc = run_tail(out, sizeof out, "changes --exit -s topics.changes=");
	cr_expect_eq(rc, 2, "exit %d", rc);
	cr_expect_not_null(strstr(slurp("tail.err"), "topics.changes is empty"), "%s",
	                   slurp("tail.err"));
}

/* Starts build/central tail with args (NULL-terminated, after "tail"),
 * stdout to tail.out and stderr to tail.err in the stack's dir. */
static pid_t spawn_tail(char *const args[])
{
	char cfg[512], outp[512], errp[512];
	snprintf(cfg, sizeof cfg, "%s/central.ini", S.dir);
	snprintf(outp, sizeof outp, "%s/tail.out", S.dir);
	snprintf(errp, sizeof errp, "%s/tail.err", S.dir);
	char *argv[16] = {"build/central", "tail", "-c", cfg};
	int n = 4;
	for (int i = 0; args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork");
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* The exit status of pid once it ends, within ms; -1 if it did not. */
static int exit_within(pid_t pid, uint64_t ms)
{
	uint64_t end = clock_mono_ms() + ms;
	do {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		cr_assert_geq(r, 0, "waitpid");
		if (r == pid) {
			tail_pid = -1;
			cr_assert(WIFEXITED(st), "central tail died: status 0x%x", st);
			return WEXITSTATUS(st);
		}
		proc_sleep_ms(20);
	} while (clock_mono_ms() < end);
	return -1;
}

Test(tail_itest, without_from_beginning_it_prints_only_what_comes_after_its_start)
{
	produce_feed();
	char *const args[] = {"changes", "--count", "1", NULL};
	tail_pid = spawn_tail(args);
	/* Where it starts is the end of each partition when its assignment
	 * takes effect, which it does not announce: new events go in until
	 * one has reached it. */
	char *fresh[64] = {0};
	int nfresh = 0, rc = -1;
	while (rc < 0) {
		cr_assert_lt(nfresh, 64, "central tail printed none of %d new events: %s", nfresh,
		             slurp("tail.err"));
		fresh[nfresh] = make_event(FEEDEV_SUM, 3, 100 + (uint64_t)nfresh, 0, "reel:5",
		                           (uint64_t)nfresh + 1);
		produce("likes.changes", 3, fresh[nfresh++]);
		rc = exit_within(tail_pid, 300);
	}
	cr_expect_eq(rc, 0, "exit %d, stderr:\n%s", rc, slurp("tail.err"));
	const char *out = slurp("tail.out");
	cr_expect_eq(count_lines(out), 1, "%s", out);
	bool is_fresh = false;
	for (int i = 0; i < nfresh; i++) {
		is_fresh = is_fresh || line_of(out, fresh[i]) == 0;
		free(fresh[i]);
	}
	cr_expect(is_fresh, "printed an event from before its start: %s", out);
	free_feed();
}

/* Whether pid has a handler for sig (/proc/PID/status, SigCgt). */
static bool catches(pid_t pid, int sig)
{
	char out[64];
	if (proc_capture(out, sizeof out, "awk '/^SigCgt:/ { print $2 }' /proc/%d/status",
	                 (int)pid) != 0)
		return false;
	unsigned long long mask = strtoull(out, NULL, 16);
	return mask >> (sig - 1) & 1;
}

static void stops_cleanly_on(int sig)
{
	char *const args[] = {"changes", "--from-beginning", NULL};
	tail_pid = spawn_tail(args);
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (!catches(tail_pid, sig)) {
		cr_assert(proc_alive(tail_pid), "central tail exited: %s", slurp("tail.err"));
		cr_assert_lt(clock_mono_ms(), end, "central tail never handled signal %d", sig);
		proc_sleep_ms(20);
	}
	cr_assert_eq(kill(tail_pid, sig), 0);
	int rc = exit_within(tail_pid, WAIT_MS);
	cr_expect_eq(rc, 0, "signal %d: exit %d, stderr:\n%s", sig, rc, slurp("tail.err"));
}

Test(tail_itest, sigint_and_sigterm_stop_it_with_status_0)
{
	stops_cleanly_on(SIGINT);
	stops_cleanly_on(SIGTERM);
}
