/* stack.h - a whole local deployment for integration tests: the embedded
 * broker (build/sim broker), central and N edges, real processes on
 * loopback in one temp dir. With real set, the stack uses the test
 * binary's real Kafka cluster (realk.h) instead of a broker of its own:
 * its topics carry the test's prefix (stack_topic), created with the
 * deploy table's configs (replication 3, min.insync.replicas 2). Each process is started by PID and
 * stopped by PID; stack_down kills whatever is still running and removes the dir (kept when
 * KEEP_ITEST_DIR is set). Before that it holds every line the processes wrote to the dir's *.log
 * files to the strict logfmt reader of logfmt.h: a line that a log shipper could not parse fails
 * the test.
 *
 * Extra config text goes in central_extra (keys of [central]) and
 * edge_extra (whole sections) before stack_up; the edges read through
 * to central's ops API. With changelog set, the broker holds the topic
 * likes.changelog and edge i copies its writes to partition i of it
 * (changelog_keys: more [changelog] keys); stack_write_twin then writes
 * a second instance of an edge (same id and partition, its own port and
 * data dir), which follows the first and takes over from it. stack_spawn_central starts further
 * centrals (shards, replicas) from configs the test writes with stack_write.
 *
 * Header-only, included by one test file per binary: the stack is that
 * file's fixture, S, whose fields the tests read and set by name, and
 * the Criterion report hook below belongs in the test binary once. The
 * plain code it calls (proc.h, logfmt.h, testdir.h) is compiled once in
 * the test support library.
 */
#ifndef TESTS_SUPPORT_STACK_H
#define TESTS_SUPPORT_STACK_H

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "tests/support/logfmt.h"
#include "tests/support/proc.h"
#include "tests/support/prom_util.h"
#include "tests/support/realk.h"
#include "tests/support/testdir.h"

#define STACK_UTIL static __attribute__((unused))

#define STACK_EDGES 3

typedef struct stack {
	char dir[256];
	int nparts, nedges;
	pid_t broker_pid, central_pid, edge_pid[STACK_EDGES];
	int edge_port[STACK_EDGES], ops_port;
	const char *central_extra;  /* appended to central.ini */
	const char *edge_extra;     /* appended to every edge's ini */
	const char *edge_limits;    /* the [limits] keys of every edge; NULL:
	                               no per-user or per-address limit */
	const char *edge_batch;     /* the [batch] keys of every edge; NULL:
	                               1000 ops or 200 ms, 1 MiB window */
	bool changelog;             /* each edge copies its writes to likes.changelog */
	const char *changelog_keys; /* more [changelog] keys of every edge */
	/* With changelog: every instance serves its store to peers that
	 * re-seed (seed_listen on seed_port[i]) and names the instances of
	 * its edge written before it as its seed_from. */
	bool seed;
	int seed_port[STACK_EDGES];
	int inst_of[STACK_EDGES]; /* the edge whose instance slot i is */
	const char *topics[4];    /* more NAME:PARTITIONS for the broker */
	/* On the suite's real Kafka cluster (realk.h), with topics of this
	 * test's own (tp: their prefix) */
	bool real;
	char tp[32];
	/* real: the changelog topic's settings over the deploy table's
	 * ("rf=2 min.insync.replicas=2", "retention.ms=4000 ..."), and its
	 * partitions (0: STACK_EDGES) */
	const char *changelog_topic_opts;
	const char
	    *snapshot_topic_opts; /* real Kafka: more words for the snapshot topic's create */
	int changelog_parts;
	int restarts; /* daemons stack_supervise started again (each test its own process) */
} stack;

static stack S;

STACK_UTIL void stack_write(const char *name, const char *fmt, ...)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", S.dir, name);
	FILE *f = fopen(path, "w");
	cr_assert(f, "cannot write %s", path);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

/* The end of a daemon's log, for an assertion message. */
STACK_UTIL const char *stack_log_tail(const char *name)
{
	static char tail[1600];
	char path[512];
	snprintf(path, sizeof path, "%s/%s", S.dir, name);
	tail[0] = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return "(no log)";
	if (fseek(f, -(long)(sizeof tail - 1), SEEK_END) != 0)
		rewind(f);
	size_t n = fread(tail, 1, sizeof tail - 1, f);
	tail[n] = 0;
	fclose(f);
	return tail;
}

STACK_UTIL void stack_start_central(void)
{
	char cfg[512], log[512];
	snprintf(cfg, sizeof cfg, "%s/central.ini", S.dir);
	snprintf(log, sizeof log, "%s/central.log", S.dir);
	char *argv[] = {"build/central", "-c", cfg, NULL};
	S.central_pid = proc_spawn(log, argv);
	cr_assert(S.central_pid > 0);
	/* Central serves its ops API once resnap is done, which may ask a
	 * partition without a leader again for up to 30 s (central.c). */
	uint64_t deadline = clock_mono_ms() + 45000;
	char out[256];
	while (proc_capture(out, sizeof out,
	                    "curl -s -m 2 -o /dev/null -w '%%{http_code}' "
	                    "http://127.0.0.1:%d/healthz",
	                    S.ops_port) != 0 ||
	       strcmp(out, "200") != 0) {
		cr_assert(clock_mono_ms() < deadline,
		          "central never answered /healthz; its log ends:\n%s",
		          stack_log_tail("central.log"));
		cr_assert(proc_alive(S.central_pid),
		          "central exited at start-up; its log ends:\n%s",
		          stack_log_tail("central.log"));
		proc_sleep_ms(50);
	}
}

/* Starts one more central (a shard or a replica) from the config file
 * name in the stack's dir, logging to log_name there, and waits for its
 * ops API on ops_port. The caller stops it (proc_stop). */
STACK_UTIL pid_t stack_spawn_central(const char *name, const char *log_name, int ops_port)
{
	char cfg[512], log[512];
	snprintf(cfg, sizeof cfg, "%s/%s", S.dir, name);
	snprintf(log, sizeof log, "%s/%s", S.dir, log_name);
	char *argv[] = {"build/central", "-c", cfg, NULL};
	pid_t pid = proc_spawn(log, argv);
	cr_assert(pid > 0);
	uint64_t deadline = clock_mono_ms() + 20000;
	char out[256];
	while (proc_capture(out, sizeof out,
	                    "curl -s -m 2 -o /dev/null -w '%%{http_code}' "
	                    "http://127.0.0.1:%d/healthz",
	                    ops_port) != 0 ||
	       strcmp(out, "200") != 0) {
		cr_assert(clock_mono_ms() < deadline, "%s never answered /healthz", name);
		cr_assert(proc_alive(pid), "%s exited at start-up; its log ends:\n%s", name,
		          stack_log_tail(log_name));
		proc_sleep_ms(50);
	}
	return pid;
}

STACK_UTIL void stack_start_edge(int i)
{
	char cfg[512], log[512];
	snprintf(cfg, sizeof cfg, "%s/edge%d.ini", S.dir, i);
	snprintf(log, sizeof log, "%s/edge%d.log", S.dir, i);
	char *argv[] = {"build/edge", "-c", cfg, NULL};
	S.edge_pid[i] = proc_spawn(log, argv);
	cr_assert(S.edge_pid[i] > 0);
	uint64_t deadline = clock_mono_ms() + 20000;
	while (proc_http("GET", S.edge_port[i], "/healthz", NULL, NULL, 0) != 200) {
		cr_assert(clock_mono_ms() < deadline, "edge %d never became healthy", i);
		if (!proc_alive(S.edge_pid[i])) {
			char name[32];
			snprintf(name, sizeof name, "edge%d.log", i);
			cr_assert_fail("edge %d exited at start-up; its log ends:\n%s", i,
			               stack_log_tail(name));
		}
		proc_sleep_ms(50);
	}
}

/* A topic's name in this stack: base, with the test's prefix on real
 * Kafka (one of four static buffers, used in turn). */
STACK_UTIL const char *stack_topic(const char *base)
{
	static char names[4][300];
	static int next;
	char *out = names[next++ % 4];
	snprintf(out, sizeof names[0], "%s%s", S.tp, base);
	return out;
}

/* The bootstrap file every daemon of the stack reads (a static buffer). */
STACK_UTIL const char *stack_bootstrap_file(void)
{
	static char path[512];
	if (S.real)
		snprintf(path, sizeof path, "%s", realk_bootstrap_file());
	else
		snprintf(path, sizeof path, "%s/bootstrap", S.dir);
	return path;
}

/* The config sections every daemon of the stack shares (a static buffer;
 * central: with central's own topics, the change feed's). A real broker
 * answers a waiting fetch when data comes, so there the consumers wait
 * up to 500 ms; the embedded one only when the wait runs out, so 10 ms. */
STACK_UTIL const char *stack_common_of(bool central)
{
	static char common[1024];
	char feed[512] = "";
	if (central)
		snprintf(feed, sizeof feed, "changes = %s\nmilestones = %s\n",
		         stack_topic("likes.changes"), stack_topic("likes.milestones"));
	snprintf(common, sizeof common,
	         "[bus]\nbootstrap_file = %s\ndeadletter_topic = %s\n"
	         "[topics]\npartitions = %d\nbatches = %s\nsnapshots = %s\nhome_prefix = %s\n%s"
	         "[kafka.consumer]\nfetch.wait.max.ms = %d\n[kafka.producer]\n"
	         "compression.type = none\n",
	         stack_bootstrap_file(), stack_topic("likes.deadletter"), S.nparts,
	         stack_topic("likes.batches"), stack_topic("likes.snapshots"),
	         stack_topic("likes.home."), feed, S.real ? 500 : 10);
	return common;
}

/* An edge's shared sections. */
STACK_UTIL const char *stack_common(void)
{
	return stack_common_of(false);
}

/* A central's shared sections. */
STACK_UTIL const char *stack_central_common(void)
{
	return stack_common_of(true);
}

/* Writes the config of the instance in slot i (edgeI.ini, data dir edgeI,
 * S.edge_port[i]) of edge `of`, with central_ops as its central.ops (one
 * address, or a shard map). */
STACK_UTIL void stack_write_instance(int i, int of, const char *central_ops)
{
	char name[32], changelog[1024] = "", seed[256] = "";
	snprintf(name, sizeof name, "edge%d.ini", i);
	S.inst_of[i] = of;
	if (S.changelog && S.seed) {
		if (!S.seed_port[i])
			S.seed_port[i] = proc_free_port();
		int n = snprintf(seed, sizeof seed,
		                 "seed_listen = 127.0.0.1:%d\nseed_from = ", S.seed_port[i]);
		for (int j = 0; j < STACK_EDGES; j++)
			if (j != i && S.seed_port[j] && S.inst_of[j] == of)
				n += snprintf(seed + n, sizeof seed - (size_t)n, "127.0.0.1:%d,",
				              S.seed_port[j]);
		snprintf(seed + n, sizeof seed - (size_t)n, "\n");
	}
	if (S.changelog)
		snprintf(changelog, sizeof changelog,
		         "[changelog]\nbootstrap_file = %s\ntopic = %s\npartition = %d\n"
		         "instance = slot%d\n%s%s",
		         stack_bootstrap_file(), stack_topic("likes.changelog"), of, i, seed,
		         S.changelog_keys ? S.changelog_keys : "");
	stack_write(
	    name,
	    "[edge]\nid = edge%d\nregion = r%d\ndata_dir = %s/edge%d\n"
	    "[http]\nlisten = 127.0.0.1:%d\nmax_conns_per_addr = 0\n"
	    "[identity]\ndev_header = true\n"
	    "[limits]\n%s"
	    "[batch]\n%s"
	    "[central]\nops = %s\n%s%s%s",
	    of, of, S.dir, i, S.edge_port[i],
	    S.edge_limits ? S.edge_limits : "user_writes_per_min = 0\naddr_requests_per_s = 0\n",
	    S.edge_batch ? S.edge_batch : "max_ops = 1000\nmax_age_ms = 200\nwindow_kb = 1024\n",
	    central_ops, stack_common(), changelog, S.edge_extra ? S.edge_extra : "");
}

/* Writes edge i's config (edgeI.ini) for S.edge_port[i]. */
STACK_UTIL void stack_write_edge(int i, const char *central_ops)
{
	stack_write_instance(i, i, central_ops);
}

/* Slot i becomes a second instance of edge `of` (a standby while edge
 * of's instance is active): its config is written for a free port, and
 * stack_down stops it. Start it with stack_start_edge(i). */
STACK_UTIL void stack_write_twin(int i, int of)
{
	cr_assert_lt(i, STACK_EDGES);
	cr_assert(S.changelog, "a twin needs the changelog");
	S.edge_port[i] = proc_free_port();
	if (i >= S.nedges)
		S.nedges = i + 1;
	char ops[64];
	snprintf(ops, sizeof ops, "127.0.0.1:%d", S.ops_port);
	stack_write_instance(i, of, ops);
}

/* On real Kafka: the test's topics, created on the suite's cluster. */
STACK_UTIL void stack_create_topics(void)
{
	const char *base[] = {"likes.batches",    "likes.snapshots", "likes.changes",
	                      "likes.milestones", "likes.home.r0",   "likes.home.r1"};
	for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
		bool snap = strcmp(base[i], "likes.snapshots") == 0 && S.snapshot_topic_opts;
		realk_ctl("create %s:%d as=%s %s", stack_topic(base[i]), S.nparts, base[i],
		          snap ? S.snapshot_topic_opts : "");
	}
	realk_ctl("create %s:1", stack_topic("likes.deadletter"));
	if (S.changelog)
		realk_ctl("create %s:%d as=likes.changelog %s", stack_topic("likes.changelog"),
		          S.changelog_parts ? S.changelog_parts : STACK_EDGES,
		          S.changelog_topic_opts ? S.changelog_topic_opts : "");
	for (size_t i = 0; i < sizeof S.topics / sizeof *S.topics && S.topics[i]; i++)
		realk_ctl("create %s%s", S.tp, S.topics[i]);
	realk_ctl("in-sync 60000");
}

/* Starts an embedded broker with the stack's topics, empty, and waits
 * for it to write S.dir/bootstrap (removed first: a broker started again
 * listens on new ports, which the daemons read at their start). On real
 * Kafka, creates the test's topics instead. */
STACK_UTIL void stack_start_broker(void)
{
	if (S.real) {
		stack_create_topics();
		return;
	}
	char bs[512], log[512], t1[64], t2[64], t3[64], t4[64], t5[64], h0[64], h1[64];
	snprintf(bs, sizeof bs, "%s/bootstrap", S.dir);
	snprintf(log, sizeof log, "%s/broker.log", S.dir);
	snprintf(t1, sizeof t1, "likes.batches:%d", S.nparts);
	snprintf(t2, sizeof t2, "likes.snapshots:%d", S.nparts);
	snprintf(t3, sizeof t3, "likes.changelog:%d", STACK_EDGES);
	snprintf(t4, sizeof t4, "likes.changes:%d", S.nparts);
	snprintf(t5, sizeof t5, "likes.milestones:%d", S.nparts);
	/* The home streams of the first two edges' regions (r0, r1). */
	snprintf(h0, sizeof h0, "likes.home.r0:%d", S.nparts);
	snprintf(h1, sizeof h1, "likes.home.r1:%d", S.nparts);
	cr_assert(unlink(bs) == 0 || errno == ENOENT, "cannot remove %s", bs);
	char *argv[32] = {"build/sim",        "broker",
	                  "--bootstrap-file", bs,
	                  "--topic",          t1,
	                  "--topic",          t2,
	                  "--topic",          "likes.deadletter:1",
	                  "--topic",          t4,
	                  "--topic",          t5,
	                  "--topic",          h0,
	                  "--topic",          h1}; /* the rest NULL */
	size_t at = 0;
	while (argv[at])
		at++; /* the first NULL */
	cr_assert(at + 2 + 2 * (sizeof S.topics / sizeof *S.topics) < sizeof argv / sizeof *argv);
	if (S.changelog) {
		argv[at++] = "--topic";
		argv[at++] = t3;
	}
	for (size_t i = 0; i < sizeof S.topics / sizeof *S.topics && S.topics[i]; i++) {
		argv[at++] = "--topic";
		argv[at++] = (char *)S.topics[i];
	}
	S.broker_pid = proc_spawn(log, argv);
	cr_assert(S.broker_pid > 0);
	uint64_t deadline = clock_mono_ms() + 20000;
	struct stat st;
	while (stat(bs, &st) != 0 || st.st_size == 0) {
		cr_assert(clock_mono_ms() < deadline, "the embedded broker never wrote %s", bs);
		proc_sleep_ms(20);
	}
}

/* Writes the configs and starts broker, central and the edges. */
STACK_UTIL void stack_up(int nedges, int nparts, int snapshot_ms)
{
	cr_assert_leq(nedges, STACK_EDGES);
	S.nedges = nedges;
	S.nparts = nparts;
	testdir_make(S.dir, sizeof S.dir, "likes-itest");
	if (S.real)
		snprintf(S.tp, sizeof S.tp, "%s", realk_prefix());
	/* The broker first: its listeners take ports of their own, so the
	 * free ports picked below cannot be taken by it before the daemons
	 * bind them. */
	stack_start_broker();
	S.ops_port = proc_free_port();
	for (int i = 0; i < nedges; i++)
		S.edge_port[i] = proc_free_port();
	stack_write("central.ini",
	            "[central]\nid = c1\ndata_dir = %s/central\nsnapshot_interval_ms = %d\n"
	            "ops_listen = 127.0.0.1:%d\n%s%s",
	            S.dir, snapshot_ms, S.ops_port, S.central_extra ? S.central_extra : "",
	            stack_central_common());
	char ops[64];
	snprintf(ops, sizeof ops, "127.0.0.1:%d", S.ops_port);
	for (int i = 0; i < nedges; i++)
		stack_write_edge(i, ops);
	stack_start_central();
	for (int i = 0; i < nedges; i++)
		stack_start_edge(i);
}

/* Every *.log in the stack's dir (the broker's, centrals' and edges'
 * stderr, all written by log.h) must hold strict logfmt lines only; a
 * raw line (librdkafka's "%4|...|CONFWARN|..." once was one) or a value
 * that breaks its quotes fails the test, naming file, line and reason.
 * Nor may any hold a librdkafka configuration warning (kafka_fac=CONFWARN:
 * a property given to a client that ignores it, say): each client gets
 * only its role's properties (bus.h). */
STACK_UTIL void stack_check_logs(void)
{
	DIR *d = S.dir[0] ? opendir(S.dir) : NULL;
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".log") != 0)
			continue;
		char path[512], report[4096];
		snprintf(path, sizeof path, "%s/%s", S.dir, e->d_name);
		long bad = logfmt_check_file(path, false, report, sizeof report);
		cr_expect_eq(bad, 0, "%ld lines of %s are not strict logfmt:\n%s", bad, e->d_name,
		             report);
		cr_expect_neq(proc_capture(report, sizeof report,
		                           "grep -m 3 'kafka_fac=CONFWARN' '%s'", path),
		              0, "%s has librdkafka configuration warnings:\n%s", e->d_name,
		              report);
	}
	closedir(d);
}

/* Criterion 2.4 prints an assertion that fails in a .fini, such as the
 * log check of stack_down, but counts the test as passed and exits 0.
 * This hook runs in the runner process after each teardown: a test that
 * passed its body and then failed an assertion makes the run exit 1. */
static size_t stack_teardown_failures;

static void stack_exit_failed(void)
{
	if (stack_teardown_failures == 0)
		return;
	fprintf(stderr, "%zu test(s) failed in their teardown (see the assertions above)\n",
	        stack_teardown_failures);
	_exit(1);
}

ReportHook(POST_FINI)(struct criterion_test_stats *st)
{
	if (st->failed_asserts > 0 && st->test_status == CR_STATUS_PASSED &&
	    stack_teardown_failures++ == 0)
		atexit(stack_exit_failed);
}

STACK_UTIL void stack_down(void)
{
	for (int i = 0; i < S.nedges; i++)
		proc_stop(S.edge_pid[i], SIGKILL);
	proc_stop(S.central_pid, SIGKILL);
	proc_stop(S.broker_pid, SIGKILL);
	if (S.real)
		realk_heal();
	stack_check_logs();
	if (!getenv("KEEP_ITEST_DIR"))
		testdir_remove(S.dir);
}

/* The last lines of the named file in the stack's dir (for a failure
 * message); a static buffer. */
STACK_UTIL const char *stack_tail(const char *name)
{
	static char out[4096];
	if (proc_capture(out, sizeof out, "tail -n 15 '%s/%s' | cut -c1-240", S.dir, name))
		snprintf(out, sizeof out, "(no %s)", name);
	return out;
}

/* One POST /v1/ops of per views (counter views) on the items
 * "reel:<req>x<k>", k < per, to the edge on port (h2c), as user viewer:
 * the HTTP status (-1 when nothing answered), the body in out. */
STACK_UTIL int stack_views(int port, int req, int per, char *out, size_t cap)
{
	char body[2048], opts[2200];
	size_t n = (size_t)snprintf(body, sizeof body, "{\"ops\":[");
	for (int k = 0; k < per && n < sizeof body; k++)
		n += (size_t)snprintf(
		    body + n, sizeof body - n,
		    "%s{\"op\":\"add\",\"item\":\"reel:%dx%d\",\"counter\":\"views\"}",
		    k ? "," : "", req, k);
	snprintf(body + n, sizeof body - n, "]}");
	snprintf(opts, sizeof opts,
	         "--http2-prior-knowledge -X POST -H 'X-User-Id: viewer' -H 'Content-Type: "
	         "application/json' -d '%s'",
	         body);
	return proc_curl(out, cap, opts, port, "/v1/ops");
}

/* The views count of reel:<req>x<k> on port: an edge's (h2c) or
 * central's ops API; -1 when it does not answer 200. */
STACK_UTIL long long stack_views_count(int port, bool edge, int req, int k)
{
	char out[2048], path[96];
	snprintf(path, sizeof path, "/v1/items/reel/%dx%d/views", req, k);
	if (proc_curl(out, sizeof out, edge ? "--http2-prior-knowledge" : "", port, path) != 200)
		return -1;
	return proc_json_num(out, "count");
}

/* The likes count of post:ID on port, an edge's or central's ops API,
 * asked with curl's opts (a token, or ""); -1 unless it answers 200. */
STACK_UTIL long long stack_likes_count(int port, const char *opts, const char *id)
{
	char out[2048], path[128];
	snprintf(path, sizeof path, "/v1/items/post/%s/likes", id);
	if (proc_curl(out, sizeof out, opts, port, path) != 200)
		return -1;
	return proc_json_num(out, "count");
}

/* Waits (30 s) until port answers want for post:ID's likes. */
STACK_UTIL void stack_wait_likes(int port, const char *opts, const char *id, long long want)
{
	uint64_t deadline = clock_mono_ms() + 30000;
	long long got;
	while ((got = stack_likes_count(port, opts, id)) != want) {
		cr_assert_lt(clock_mono_ms(), deadline, "post:%s stayed at %lld at :%d, want %lld",
		             id, got, port, want);
		proc_sleep_ms(50);
	}
}

/* Central's value of series, as its /metrics answers it (prom_util_get:
 * the sum of a family's samples that match). */
STACK_UTIL double stack_central_metric(const char *series)
{
	char out[1 << 16];
	cr_assert_eq(proc_curl(out, sizeof out, "", S.ops_port, "/metrics"), 200);
	return prom_util_get(out, series);
}

/* The sum of every sample of one family of central's (labelled or not);
 * -1 when it has none. */
STACK_UTIL double stack_central_sum(const char *family)
{
	char out[1 << 16];
	cr_assert_eq(proc_curl(out, sizeof out, "", S.ops_port, "/metrics"), 200);
	return prom_util_sum(out, family);
}

/* Waits up to 10 s for central's series to reach want (what: what it
 * would mean, for the failure). */
STACK_UTIL void stack_wait_central_metric(const char *series, double want, const char *what)
{
	uint64_t deadline = clock_mono_ms() + 10000;
	while (stack_central_metric(series) < want) {
		cr_assert_lt(clock_mono_ms(), deadline, "%s", what);
		proc_sleep_ms(50);
	}
}

/* Waits until slot's instance takes writes (its /readyz: the writer
 * check passes); the milliseconds it took. */
STACK_UTIL uint64_t stack_wait_writer(int slot, unsigned ms)
{
	uint64_t t0 = clock_mono_ms();
	char out[2048];
	for (;;) {
		int code = proc_curl(out, sizeof out, "--http2-prior-knowledge", S.edge_port[slot],
		                     "/readyz");
		if (code == 200)
			return clock_mono_ms() - t0;
		char log[32];
		snprintf(log, sizeof log, "edge%d.log", slot);
		cr_assert_lt(clock_mono_ms() - t0, ms,
		             "slot %d never took writes (/readyz %d: %s); its log:\n%s", slot, code,
		             out, stack_tail(log));
		proc_sleep_ms(50);
	}
}

/* Waits until slot's instance follows the log fit to take over (its
 * /readyz says "standby: following"). */
STACK_UTIL void stack_wait_fit(int slot, unsigned ms)
{
	char out[4096], log[32];
	snprintf(log, sizeof log, "edge%d.log", slot);
	uint64_t t0 = clock_mono_ms();
	for (;;) {
		(void)proc_curl(out, sizeof out, "--http2-prior-knowledge", S.edge_port[slot],
		                "/readyz");
		if (strstr(out, "standby: following"))
			return;
		cr_assert_lt(clock_mono_ms() - t0, ms,
		             "slot %d never followed the log fit (/readyz: %s); its log:\n%s", slot,
		             out, stack_tail(log));
		proc_sleep_ms(100);
	}
}

/* Waits up to ms for slot's instance to exit by itself, reaps it, and
 * holds its exit status to want (4: fenced, 5: behind the log, for a
 * copy); what: what the exit means, for the failure. */
STACK_UTIL void stack_wait_exit(int slot, unsigned ms, int want, const char *what)
{
	char log[32];
	snprintf(log, sizeof log, "edge%d.log", slot);
	int status = 0;
	uint64_t t0 = clock_mono_ms();
	while (waitpid(S.edge_pid[slot], &status, WNOHANG) == 0) {
		cr_assert_lt(clock_mono_ms() - t0, ms, "%s: slot %d did not exit; its log:\n%s",
		             what, slot, stack_tail(log));
		proc_sleep_ms(20);
	}
	S.edge_pid[slot] = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == want,
	          "%s: slot %d exits with status %d (wait status %d); its log:\n%s", what, slot,
	          want, status, stack_tail(log));
}

/* Did pid exit with status 3, the daemons' exit on a fatal Kafka error
 * (common/bus.c: an idempotent producer that can no longer keep
 * order)? Reaped if so; any other exit is left for its test to reap. */
STACK_UTIL bool stack_exited_fatal(pid_t pid)
{
	siginfo_t si = {0};
	if (pid <= 0 || waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
	    si.si_pid != pid || si.si_code != CLD_EXITED || si.si_status != 3)
		return false;
	cr_assert_eq(waitpid(pid, NULL, 0), pid);
	return true;
}

/* What the supervisor does in a deployment (systemd's Restart=, docs/
 * ops.md): starts again an edge or central that exited on a fatal Kafka
 * error, which is how both hand a broken producer over to a restart
 * that resumes from what they keep. Each start waits for the daemon to
 * answer (up to 20 s for an edge, 45 s for central). More than
 * STACK_RESTARTS_MAX in one test fails it: a rare exit is librdkafka's,
 * a frequent one would be ours. The number started again now. */
#define STACK_RESTARTS_MAX 3
STACK_UTIL int stack_supervise(void)
{
	int n = 0;
	for (int i = 0; i < S.nedges; i++)
		if (stack_exited_fatal(S.edge_pid[i])) {
			cr_log_warn("edge slot %d exited on a fatal Kafka error; started again", i);
			S.edge_pid[i] = 0;
			stack_start_edge(i);
			n++;
		}
	if (stack_exited_fatal(S.central_pid)) {
		cr_log_warn("central exited on a fatal Kafka error; started again");
		S.central_pid = 0;
		stack_start_central();
		n++;
	}
	S.restarts += n;
	cr_assert_leq(S.restarts, STACK_RESTARTS_MAX,
	              "daemons exited on fatal Kafka errors %d times in one test", S.restarts);
	return n;
}

/* Does the named file in the stack's dir contain needle? */
/* The lines of one of the stack's files that hold needle (at most 30,
 * cut to 300 characters), for a failure's message. */
STACK_UTIL const char *stack_grep(const char *name, const char *needle)
{
	static char out[12288];
	if (proc_capture(out, sizeof out, "grep -- '%s' '%s/%s' | head -n 30 | cut -c1-300", needle,
	                 S.dir, name))
		snprintf(out, sizeof out, "(no line of %s holds %s)", name, needle);
	return out;
}

STACK_UTIL bool stack_file_has(const char *name, const char *needle)
{
	char out[64];
	return proc_capture(out, sizeof out, "grep -c '%s' '%s/%s'", needle, S.dir, name) == 0;
}

/* The lines of the run dir's file name that hold needle (0 also when the
 * file is not there). */
STACK_UTIL int stack_file_count(const char *name, const char *needle)
{
	char out[64] = "";
	(void)proc_capture(out, sizeof out, "grep -c '%s' '%s/%s'", needle, S.dir, name);
	return atoi(out);
}

#endif
