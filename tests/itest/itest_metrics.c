/* itest_metrics.c - the edge's /metrics with real processes: the embedded
 * broker, central and one edge on loopback (stack.h). Checks that the
 * exposition parses, that every memory holder has a size, that the
 * pending gauges follow a Kafka outage and that the snapshot age and
 * pending batches follow a central outage; and that promtool check
 * metrics accepts every daemon of the deployed shape, after traffic:
 * the active edge and its standby (changelog, seeding, TLS, the home
 * stream) and central with its change feed.
 *
 * The Kafka outage freezes the broker process (SIGSTOP, then SIGCONT):
 * the embedded broker keeps its topics only in memory, so killing and
 * restarting it would come back empty on new ports, which is a lost
 * cluster rather than an unreachable one. A frozen broker accepts no
 * request and answers none, as a broker cut off by the network does.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <sys/wait.h>

#include "tests/support/prom_util.h"
#include "tests/support/stack.h"

#define NPARTS 2
#define METRICS_CAP (512 * 1024)

static char *text; /* the last /metrics answer */

static void setup(void)
{
	text = malloc(METRICS_CAP);
	cr_assert_not_null(text);
	stack_up(1, NPARTS, 200);
}

static void teardown(void)
{
	/* A frozen broker would not die of SIGKILL until continued. */
	if (S.broker_pid > 0)
		kill(S.broker_pid, SIGCONT);
	stack_down();
	free(text);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 180);

/* Scrapes the edge's /metrics into text; false when it did not answer. */
static bool scrape(void)
{
	return proc_curl(text, METRICS_CAP, "", S.edge_port[0], "/metrics") == 200;
}

/* The value of series in a fresh scrape (-1: absent or no answer). */
static double metric(const char *series)
{
	return scrape() ? prom_util_get(text, series) : -1;
}

static void like(int item, const char *user)
{
	char path[64];
	snprintf(path, sizeof path, "/v1/items/post/m%d/likes", item);
	int code = proc_http("POST", S.edge_port[0], path, user, NULL, 0);
	cr_assert_eq(code, 200, "like of post:m%d by %s -> %d", item, user, code);
}

/* Waits until series satisfies want(value) or the deadline passes. */
static double wait_for(const char *series, bool (*want)(double), unsigned ms)
{
	uint64_t deadline = clock_mono_ms() + ms;
	double v;
	while (!want(v = metric(series)) && clock_mono_ms() < deadline)
		proc_sleep_ms(100);
	return v;
}

static bool is_zero(double v)
{
	return v == 0;
}

static bool positive(double v)
{
	return v > 0;
}

/* True once the edge's /readyz answers 200: its replica is complete. */
static bool wait_ready(unsigned ms)
{
	uint64_t deadline = clock_mono_ms() + ms;
	char body[1024];
	while (proc_curl(body, sizeof body, "", S.edge_port[0], "/readyz") != 200) {
		if (clock_mono_ms() >= deadline)
			return false;
		proc_sleep_ms(100);
	}
	return true;
}

Test(metrics, exposition_parses_and_every_family_is_described)
{
	like(1, "a");
	like(2, "b");
	cr_assert(wait_ready(20000), "the edge's replica completes");
	char body[512];
	cr_assert_eq(
	    proc_http("GET", S.edge_port[0], "/v1/items/post/m1/likes", NULL, body, sizeof body),
	    200);
	cr_assert_eq(
	    proc_http("GET", S.edge_port[0], "/v1/items/post/m77/likes", NULL, body, sizeof body),
	    200, "a count the replica proves 0, answered at the edge");
	/* Delivered and applied: the produce and snapshot series moved. */
	cr_assert_gt(wait_for("likes_edge_batches_applied_total", positive, 20000), 0);
	cr_assert_eq(wait_for("likes_edge_pending_batches", is_zero, 20000), 0);
	cr_assert(scrape());
	char why[256];
	cr_assert(prom_util_check(text, why, sizeof why), "%s", why);
	cr_assert_eq(
	    prom_util_get(text, "likes_edge_requests_total{route=\"write\",status=\"200\"}"), 2,
	    "writes answered after the group commit are counted");
	cr_assert_eq(
	    prom_util_get(text, "likes_edge_request_duration_seconds_count{route=\"write\"}"), 2);
	cr_assert_eq(
	    prom_util_get(text, "likes_edge_requests_total{route=\"count\",status=\"200\"}"), 2,
	    "a deferred answer is counted once");
	/* Once the replica is complete no count read leaves the edge; the
	 * read-through families are still exported, at zero. */
	cr_assert_eq(prom_util_get(text, "likes_edge_readthrough_counts_total"), 0);
	cr_assert_geq(prom_util_get(text, "likes_edge_readthrough_requests_total"), 0);
	cr_assert_geq(prom_util_get(text, "likes_edge_readthrough_duration_seconds_count"), 0);
	cr_assert_geq(prom_util_get(text, "likes_edge_kafka_delivered_total"), 1);
	cr_assert_geq(prom_util_get(text, "likes_edge_kafka_produce_duration_seconds_count"), 1);
	cr_assert_geq(prom_util_get(text, "likes_edge_snapshots_received_total"), 1);
	/* The uplink's own counters (uplink_metrics_add): nothing refused here. */
	cr_assert_geq(prom_util_get(text, "likes_edge_kafka_produce_errors_total"), 0);
	cr_assert_eq(prom_util_get(text, "likes_edge_snapshots_bad_total"), 0);
	cr_assert_eq(prom_util_get(text, "likes_edge_snapshots_deadlettered_total"), 0);
	cr_assert_eq(prom_util_get(text, "likes_edge_deadletter_failed_total"), 0);
	cr_assert_geq(prom_util_get(text, "likes_edge_batches_sealed_total{reason=\"age\"}"), 1);
	cr_assert_geq(prom_util_get(text, "likes_edge_batch_ops_count"), 1);
	/* Every group commit that was written is timed, and only those. */
	double commits = prom_util_get(text, "likes_edge_store_commits_total");
	cr_assert_geq(commits, 1);
	cr_assert_eq(prom_util_get(text, "likes_edge_store_commit_duration_seconds_count"),
	             commits - prom_util_get(text, "likes_edge_store_commits_failed_total"));
	cr_assert_geq(prom_util_get(text, "likes_edge_store_approximate_bytes"), 0);
	cr_assert_eq(prom_util_get(text, "likes_edge_kafka_inflight_messages"), 0);
	/* /readyz answered 200, and the gauges say so, check by check. The
	 * readiness tick runs once a second: wait for it. */
	cr_assert_eq(wait_for("likes_edge_ready", positive, 5000), 1);
	cr_assert(scrape());
	const char *checks[] = {"store", "kafka", "snapshots", "replica"};
	for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		char name[96];
		snprintf(name, sizeof name, "likes_edge_ready_check{check=\"%s\"}", checks[i]);
		cr_assert_eq(prom_util_get(text, name), 1, "%s", name);
	}
	cr_assert_eq(prom_util_get(text, "likes_edge_pending_budget_bytes"), 1024.0 * 1024 * 1024,
	             "batch.budget_mb's default, in bytes");
	cr_assert_eq(proc_http("GET", S.edge_port[0], "/v1/hot?limit=5", NULL, body, sizeof body),
	             200);
	cr_assert(strstr(body, "\"counter\":\"likes\""), "%s", body);
}

Test(metrics, memory_bytes_names_every_holder_with_a_finite_size)
{
	like(1, "a");
	cr_assert(wait_ready(20000), "the edge's replica completes");
	cr_assert(scrape());
	char why[256];
	cr_assert(prom_util_check(text, why, sizeof why), "%s", why);
	static const char *const holders[] = {"count_cache",
	                                      "readthrough_counts",
	                                      "readthrough_members",
	                                      "overlay",
	                                      "member_filter",
	                                      "outbox",
	                                      "token_cache",
	                                      "guard",
	                                      "store",
	                                      "heap_free"};
	double sum = 0;
	for (size_t i = 0; i < sizeof holders / sizeof *holders; i++) {
		char series[96];
		snprintf(series, sizeof series, "likes_edge_memory_bytes{holder=\"%s\"}",
		         holders[i]);
		double v;
		cr_assert(prom_util_value(text, series, &v), "%s missing", series);
		cr_assert(isfinite(v) && v >= 0, "%s is %f", series, v);
		sum += v;
	}
	/* A like wrote its pair into the filter; LevelDB holds a memtable. */
	cr_assert_gt(prom_util_get(text, "likes_edge_memory_bytes{holder=\"member_filter\"}"), 0);
	cr_assert_gt(prom_util_get(text, "likes_edge_memory_bytes{holder=\"store\"}"), 0);
	/* A count kept as it moved that went below 0 would wrap to 2^64. */
	cr_assert_lt(sum, prom_util_get(text, "process_virtual_memory_bytes"),
	             "the holders hold no more than the process maps (%.0f bytes)", sum);
}

Test(metrics, pending_gauges_grow_while_kafka_is_unreachable_and_drain_after)
{
	like(1, "warm");
	cr_assert_gt(wait_for("likes_edge_batches_applied_total", positive, 20000), 0);
	cr_assert_eq(wait_for("likes_edge_pending_batches", is_zero, 20000), 0);
	cr_assert_eq(kill(S.broker_pid, SIGSTOP), 0);
	char user[16];
	for (int i = 0; i < 20; i++) {
		snprintf(user, sizeof user, "u%d", i);
		like(i % 3, user);
	}
	double bytes0 = metric("likes_edge_pending_bytes");
	cr_assert_gt(bytes0, 0, "writes go on while Kafka is away");
	/* Sealed by age, handed to the producer, never acknowledged. */
	cr_assert_gt(wait_for("likes_edge_pending_batches", positive, 5000), 0);
	cr_assert_gt(wait_for("likes_edge_kafka_inflight_messages", positive, 5000), 0);
	for (int i = 20; i < 30; i++) {
		snprintf(user, sizeof user, "u%d", i);
		like(i % 3, user);
	}
	cr_assert_gt(metric("likes_edge_pending_bytes"), bytes0, "the backlog grows");
	proc_sleep_ms(500); /* the frozen broker stays frozen a moment more */
	cr_assert_gt(metric("likes_edge_pending_batches"), 0);
	cr_assert_eq(kill(S.broker_pid, SIGCONT), 0);
	cr_assert_eq(wait_for("likes_edge_pending_batches", is_zero, 60000), 0,
	             "central applied the backlog; edge log:\n%s", stack_log_tail("edge0.log"));
	cr_assert_eq(metric("likes_edge_pending_bytes"), 0);
	cr_assert_eq(prom_util_get(text, "likes_edge_pending_ops"), 0);
	cr_assert_eq(prom_util_get(text, "likes_edge_ops_accepted_total"), 31);
}

Test(metrics, snapshot_age_grows_while_central_is_down_and_recovers)
{
	char age[64];
	snprintf(age, sizeof age, "likes_edge_snapshot_age_seconds{partition=\"%d\"}", 0);
	like(1, "warm");
	cr_assert_gt(wait_for("likes_edge_batches_applied_total", positive, 20000), 0);
	cr_assert_eq(wait_for("likes_edge_pending_batches", is_zero, 20000), 0);
	cr_assert_geq(wait_for(age, positive, 5000), 0);
	cr_assert_lt(metric(age), 2, "snapshots arrive every 200 ms");
	proc_stop(S.central_pid, SIGTERM);
	S.central_pid = -1;
	like(2, "x");
	like(3, "y");
	cr_assert_gt(wait_for("likes_edge_pending_batches", positive, 5000), 0,
	             "sealed and sent, not applied");
	double a1 = metric(age);
	proc_sleep_ms(1500);
	double a2 = metric(age);
	cr_assert_gt(a2, a1 + 1, "the age keeps growing: %f then %f", a1, a2);
	cr_assert_gt(prom_util_get(text, "likes_edge_pending_batches"), 0);
	stack_start_central();
	cr_assert_eq(wait_for("likes_edge_pending_batches", is_zero, 30000), 0);
	uint64_t deadline = clock_mono_ms() + 10000;
	while (metric(age) >= 2 && clock_mono_ms() < deadline)
		proc_sleep_ms(100);
	cr_assert_lt(metric(age), 2, "fresh snapshots again");
}

/* --- the deployed shape ----------------------------------------------------- */

/* promtool runs on the daemons as operators run them (configs/deploy/):
 * the edge with its changelog, a standby instance following it and both
 * serving their store to a peer that re-seeds, a TLS listener beside the
 * loopback one, the region's home stream followed; central with its
 * change feed and that home stream. Each module registers its families
 * only when it is on, so a lighter stack would leave them unchecked. */

#define ACTIVE 0
#define STANDBY 1

static char certdir[256], active_extra[1024], standby_extra[1024];

/* [home] and a TLS listener on a port of its own (the instances share a
 * host here), on the throwaway certificate in certdir. */
static void deployed_extra(char *out, size_t cap)
{
	snprintf(
	    out, cap,
	    "[home]\nfollow = true\n"
	    "[http]\ntls_listen = 127.0.0.1:%d\ntls_cert = %s/cert.pem\ntls_key = %s/key.pem\n",
	    proc_free_port(), certdir, certdir);
}

static void deployed_setup(void)
{
	text = malloc(METRICS_CAP);
	cr_assert_not_null(text);
	testdir_make(certdir, sizeof certdir, "likes-itest-cert");
	testdir_make_cert(certdir);
	S.changelog = true;
	S.seed = true;
	S.central_extra = "[feed]\nhome_regions = r0\n";
	deployed_extra(active_extra, sizeof active_extra);
	S.edge_extra = active_extra;
	stack_up(1, NPARTS, 200);
	stack_wait_writer(ACTIVE, 20000);
	deployed_extra(standby_extra, sizeof standby_extra);
	S.edge_extra = standby_extra;
	stack_write_twin(STANDBY, ACTIVE);
	stack_start_edge(STANDBY);
	stack_wait_fit(STANDBY, 20000);
}

static void deployed_teardown(void)
{
	stack_down();
	testdir_remove(certdir);
	free(text);
}

TestSuite(deployed, .init = deployed_setup, .fini = deployed_teardown, .timeout = 180);

/* Prometheus's own checker on one scrape of what's /metrics (on port):
 * anything it says fails the test with its own words, and the test goes
 * on to the next daemon, so one run names every complaint. Stops the
 * test when promtool cannot run (make deps installs it). */
static void promtool_check(const char *what, int port)
{
	cr_assert_eq(proc_curl(text, METRICS_CAP, "", port, "/metrics"), 200);
	char path[] = "/tmp/likes-metrics-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	/* The answer's body as it is (no -i): promtool must see the text
	 * itself, never an empty string. */
	const char *body = text;
	cr_assert_not_null(strstr(body, "# TYPE "), "%s's /metrics has no family", what);
	size_t n = strlen(body);
	cr_assert_eq(write(fd, body, n), (ssize_t)n);
	close(fd);
	char cmd[256], out[8192];
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t got = fread(out, 1, sizeof out - 1, p);
	out[got] = '\0';
	int rc = pclose(p);
	unlink(path);
	cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) != 127, "promtool did not run:\n%s", out);
	cr_expect(rc == 0 && got == 0, "promtool check metrics on %s's /metrics (exit %d):\n%s",
	          what, WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out);
}

/* Scrapes port until every family has at least one sample (per-partition
 * gauges wait for their first snapshot or watermark); fails at the
 * deadline naming the family still empty. */
static void wait_every_family_has_samples(const char *what, int port, unsigned ms)
{
	uint64_t deadline = clock_mono_ms() + ms;
	char empty[128];
	for (;;) {
		cr_assert_eq(proc_curl(text, METRICS_CAP, "", port, "/metrics"), 200);
		if (!prom_util_empty_family(text, empty, sizeof empty))
			return;
		cr_assert(clock_mono_ms() < deadline, "%s: family %s has no sample:\n%s", what,
		          empty, text);
		proc_sleep_ms(100);
	}
}

Test(deployed, every_daemon_passes_promtool_and_exports_the_process_and_build)
{
	/* Traffic through the whole pipeline, so that every family has a
	 * sample: promtool then checks every name any daemon can show. */
	like(1, "u-prom");
	like(2, "u-prom");
	cr_assert_eq(
	    proc_http("DELETE", S.edge_port[ACTIVE], "/v1/items/post/m2/likes", "u-prom", NULL, 0),
	    200);
	char out[4096];
	cr_assert_eq(stack_views(S.edge_port[ACTIVE], 1, 3, out, sizeof out), 200, "%s", out);
	cr_assert_gt(wait_for("likes_edge_batches_applied_total", positive, 20000), 0);
	cr_assert_gt(wait_for("likes_edge_changelog_appends_total", positive, 5000), 0);
	const struct {
		const char *what;
		int port;
	} daemons[] = {{"the active edge", S.edge_port[ACTIVE]},
	               {"the standby edge", S.edge_port[STANDBY]},
	               {"central", S.ops_port}};
	const size_t nd = sizeof daemons / sizeof daemons[0];
	for (size_t i = 0; i < nd; i++)
		wait_every_family_has_samples(daemons[i].what, daemons[i].port, 20000);
	/* text: central's scrape, the last one waited for. */
	cr_assert_gt(prom_util_sum(text, "likes_central_ops_applied_total"), 0, "%s", text);
	cr_assert_gt(metric("likes_edge_tls_cert_expiry_timestamp_seconds"), 0,
	             "the TLS listener's families are in the scrape");
	/* The standby follows: it applied the active's records and is not
	 * active itself. */
	cr_assert_eq(proc_curl(text, METRICS_CAP, "", S.edge_port[STANDBY], "/metrics"), 200);
	cr_assert_gt(prom_util_get(text, "likes_edge_changelog_replayed_records_total"), 0, "%s",
	             text);
	cr_assert_eq(prom_util_get(text, "likes_edge_changelog_active{edge=\"edge0\"}"), 0);
	for (size_t i = 0; i < nd; i++)
		promtool_check(daemons[i].what, daemons[i].port);
	for (size_t i = 0; i < nd; i++) {
		cr_assert_eq(proc_curl(text, METRICS_CAP, "", daemons[i].port, "/metrics"), 200);
		const char *want[] = {"process_cpu_seconds_total", "process_resident_memory_bytes",
		                      "process_open_fds", "process_max_fds",
		                      "process_start_time_seconds"};
		/* CPU may still read 0 ticks in a process this young. */
		cr_expect_geq(prom_util_get(text, want[0]), 0, "%s of %s", want[0],
		              daemons[i].what);
		for (size_t k = 1; k < sizeof want / sizeof want[0]; k++)
			cr_expect_gt(prom_util_get(text, want[k]), 0, "%s of %s", want[k],
			             daemons[i].what);
		cr_expect_not_null(strstr(text, "\nlikes_build_info{version=\""), "%s",
		                   daemons[i].what);
	}
}
