/* itest_lifecycle.c - the daemons' lifecycle with real processes on the
 * embedded broker: the edge's SIGTERM drain while writes flow over
 * several HTTP/2 connections (nothing acknowledged is lost, exit 0),
 * /readyz of edge and central as the broker freezes and thaws and as
 * central stops (exit 0) and comes back, SIGHUP reloading the JWT keys
 * (a bad file keeps the old ones) and reopening log.file, and the
 * scheduling policy of the edge's threads (LevelDB's compaction thread
 * alone under SCHED_IDLE). Each test starts its own stack in a fresh temp
 * dir and stops it by PID.
 */
#include <criterion/criterion.h>
#include <jwt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>

#include "tests/support/stack.h"
#include "tests/support/threadstat.h"

#define NPARTS 2

static char keydir[256]; /* files the edge is pointed at before stack_up */

static void teardown(void)
{
	stack_down();
	testdir_remove(keydir);
	keydir[0] = 0;
}

TestSuite(lifecycle, .fini = teardown, .timeout = 240);

/* Waits until cond (an expression) holds, up to ms; fails with what. */
#define WAIT_FOR(cond, ms, ...)                                                                    \
	do {                                                                                       \
		uint64_t wait_end_ = clock_mono_ms() + (ms);                                       \
		while (!(cond)) {                                                                  \
			cr_assert_lt(clock_mono_ms(), wait_end_, __VA_ARGS__);                     \
			proc_sleep_ms(50);                                                         \
		}                                                                                  \
	} while (0)

static long long central_likes(void)
{
	char out[512];
	if (proc_capture(out, sizeof out, "curl -s -m 5 'http://127.0.0.1:%d/v1/totals/likes'",
	                 S.ops_port))
		return -1;
	return proc_json_num(out, "sum");
}

/* --- (a) SIGTERM while writes flow ---------------------------------------- */

#define WRITERS 4

static atomic_bool writers_stop;
static atomic_ulong sent, acked;

/* Likes of fresh items, one HTTP/2 connection each (curl 7.88 cannot
 * reuse a prior-knowledge connection), so the SIGTERM meets requests in
 * flight on several connections; every 2xx counts as acknowledged. */
static void *writer(void *arg)
{
	long t = (long)arg;
	char user[32], path[96];
	snprintf(user, sizeof user, "writer%ld", t);
	for (long k = 0; !atomic_load(&writers_stop); k++) {
		snprintf(path, sizeof path, "/v1/items/post/w%ldk%ld/likes", t, k);
		atomic_fetch_add(&sent, 1);
		int code = proc_http("POST", S.edge_port[0], path, user, NULL, 0);
		if (code >= 200 && code < 300)
			atomic_fetch_add(&acked, 1);
	}
	return NULL;
}

Test(lifecycle, sigterm_drains_and_loses_no_acknowledged_like)
{
	S.edge_extra = "[edge]\ndrain_timeout_ms = 8000\n";
	stack_up(1, NPARTS, 200);
	pthread_t w[WRITERS];
	for (long i = 0; i < WRITERS; i++)
		cr_assert_eq(pthread_create(&w[i], NULL, writer, (void *)i), 0);
	WAIT_FOR(atomic_load(&acked) >= 200, 60000, "writes never flowed");

	/* Mid-stream: the writers' current transfers meet the drain. */
	kill(S.edge_pid[0], SIGTERM);
	atomic_store(&writers_stop, true);
	for (int i = 0; i < WRITERS; i++)
		pthread_join(w[i], NULL);
	int status = proc_stop(S.edge_pid[0], 0); /* only reaps */
	S.edge_pid[0] = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	          "the edge did not exit 0 (status %d); its log ends:\n%s", status,
	          stack_log_tail("edge0.log"));
	cr_assert(stack_file_has("edge0.log", "msg=\"draining\" connections="),
	          "no draining line:\n%s", stack_log_tail("edge0.log"));
	cr_assert(stack_file_has("edge0.log", "msg=\"drained\" sent="), "no drained line:\n%s",
	          stack_log_tail("edge0.log"));

	/* What the edge kept goes out after a restart; central counts each
	 * acknowledged like, and never more than were sent. */
	unsigned long a = atomic_load(&acked), s = atomic_load(&sent);
	stack_start_edge(0);
	WAIT_FOR(central_likes() >= (long long)a, 60000,
	         "central counts %lld likes, %lu were acknowledged", central_likes(), a);
	proc_sleep_ms(500);
	long long got = central_likes();
	cr_assert_leq(got, (long long)s, "central counts %lld likes, only %lu were sent", got, s);
	cr_log_info("acked=%lu sent=%lu counted=%lld", a, s, got);
}

/* --- (b) readiness --------------------------------------------------------- */

static int ready_code(int port, char *body, size_t cap)
{
	return proc_curl(body, cap, "", port, "/readyz");
}

Test(lifecycle, readyz_follows_the_broker_and_central)
{
	S.edge_extra = "[edge]\nready_snapshot_age_s = 2\n";
	S.central_extra = "ready_kafka_age_s = 2\n";
	stack_up(1, NPARTS, 200);
	char body[1024];
	WAIT_FOR(ready_code(S.edge_port[0], body, sizeof body) == 200, 30000,
	         "the edge never became ready: %s", body);
	cr_assert(strstr(body, "\"ready\":true"), "%s", body);
	WAIT_FOR(ready_code(S.ops_port, body, sizeof body) == 200, 30000,
	         "central never became ready: %s", body);

	/* A frozen broker: no snapshots reach the edge, nothing reaches
	 * central. Liveness stays. */
	kill(S.broker_pid, SIGSTOP);
	WAIT_FOR(ready_code(S.edge_port[0], body, sizeof body) == 503, 30000,
	         "the edge stayed ready with the broker frozen: %s", body);
	cr_assert(strstr(body, "\"ready\":false"), "%s", body);
	cr_assert(strstr(body, "\"snapshots\":{\"ok\":false,\"reason\":\"partition"), "%s", body);
	WAIT_FOR(ready_code(S.ops_port, body, sizeof body) == 503, 30000,
	         "central stayed ready with the broker frozen: %s", body);
	cr_assert(strstr(body, "\"kafka\":{\"ok\":false"), "%s", body);
	cr_assert_eq(proc_http("GET", S.edge_port[0], "/healthz", NULL, NULL, 0), 200);
	kill(S.broker_pid, SIGCONT);
	WAIT_FOR(ready_code(S.edge_port[0], body, sizeof body) == 200, 60000,
	         "the edge never became ready again: %s", body);
	WAIT_FOR(ready_code(S.ops_port, body, sizeof body) == 200, 60000,
	         "central never became ready again: %s", body);

	/* Central stopped: it exits 0, and the edge's snapshots go stale. */
	int status = proc_stop(S.central_pid, SIGTERM);
	S.central_pid = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "central exited with %d:\n%s",
	          status, stack_log_tail("central.log"));
	WAIT_FOR(ready_code(S.edge_port[0], body, sizeof body) == 503, 30000,
	         "the edge stayed ready without central: %s", body);
	cr_assert(strstr(body, "\"snapshots\":{\"ok\":false"), "%s", body);
	stack_start_central();
	WAIT_FOR(ready_code(S.edge_port[0], body, sizeof body) == 200, 30000,
	         "the edge never became ready after central came back: %s", body);
}

/* --- (c) SIGHUP reloads the JWT keys ---------------------------------------- */

static void write_key(const char *name, const char *secret)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", keydir, name);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(secret, f);
	fclose(f);
}

static char *token(const char *kid, const char *secret)
{
	jwt_t *j;
	cr_assert_eq(jwt_new(&j), 0);
	cr_assert_eq(jwt_add_grant(j, "sub", "alice"), 0);
	cr_assert_eq(jwt_add_grant_int(j, "exp", (long)time(NULL) + 600), 0);
	cr_assert_eq(jwt_add_header(j, "kid", kid), 0);
	cr_assert_eq(
	    jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)), 0);
	char *s = jwt_encode_str(j);
	cr_assert_not_null(s);
	jwt_free(j);
	return s;
}

/* A like with a bearer token: the status. */
static int like_with(const char *tok, int n)
{
	char opts[2048], out[2048], path[64];
	snprintf(opts, sizeof opts, "--http2-prior-knowledge -X POST -H 'Authorization: Bearer %s'",
	         tok);
	snprintf(path, sizeof path, "/v1/items/post/jwt%d/likes", n);
	return proc_curl(out, sizeof out, opts, S.edge_port[0], path);
}

static void hup_and_wait(const char *line, int nth)
{
	kill(S.edge_pid[0], SIGHUP);
	char out[64];
	WAIT_FOR(proc_capture(out, sizeof out, "grep -c '%s' '%s/edge0.log'", line, S.dir) == 0 &&
	             atoi(out) >= nth,
	         10000, "no %s line after SIGHUP:\n%s", line, stack_log_tail("edge0.log"));
}

static const char SECRET_A1[] = "first-secret-of-key-a-0123456789abcdef";
static const char SECRET_A2[] = "second-secret-of-key-a-0123456789abcdef";
static const char SECRET_B[] = "the-secret-of-key-b-0123456789abcdef";

Test(lifecycle, sighup_reloads_jwt_keys_and_keeps_them_when_a_file_is_bad)
{
	testdir_make(keydir, sizeof keydir, "likes-itest-keys");
	write_key("a", SECRET_A1);
	write_key("b", SECRET_B);
	static char extra[1024];
	snprintf(extra, sizeof extra, "[identity]\njwt_keys = a:HS256:%s/a,b:HS256:%s/b\n", keydir,
	         keydir);
	S.edge_extra = extra;
	stack_up(1, NPARTS, 200);
	char *old_a = token("a", SECRET_A1), *new_a = token("a", SECRET_A2),
	     *b = token("b", SECRET_B);
	cr_assert_eq(like_with(old_a, 1), 200);
	cr_assert_eq(like_with(new_a, 2), 401, "not a key yet");

	write_key("a", SECRET_A2); /* rotate key a */
	hup_and_wait("msg=\"jwt keys reloaded\"", 1);
	cr_assert_eq(like_with(new_a, 3), 200, "the new key is accepted");
	cr_assert_eq(like_with(old_a, 4), 401, "the removed key is refused");
	cr_assert_eq(like_with(b, 5), 200);

	write_key("b", "short"); /* too short an HS256 secret: refused */
	hup_and_wait("msg=\"jwt key reload failed; the old keys stay in use\"", 1);
	cr_assert_eq(like_with(new_a, 6), 200, "the old set stays");
	cr_assert_eq(like_with(b, 7), 200, "the old set stays");
	free(old_a);
	free(new_a);
	free(b);
}

/* --- (d) SIGHUP reopens log.file -------------------------------------------- */

Test(lifecycle, sighup_reopens_the_log_file_after_rotation)
{
	testdir_make(keydir, sizeof keydir, "likes-itest-logs");
	static char extra[512];
	snprintf(extra, sizeof extra, "[log]\nfile = %s/edge.log\n", keydir);
	S.edge_extra = extra;
	S.central_extra = NULL;
	stack_up(1, NPARTS, 200);
	char path[512], rotated[512], out[64];
	snprintf(path, sizeof path, "%s/edge.log", keydir);
	snprintf(rotated, sizeof rotated, "%s/edge.log.1", keydir);
	cr_assert_eq(proc_capture(out, sizeof out, "grep -c 'msg=\"edge started\"' '%s'", path), 0,
	             "the edge does not log to log.file");
	cr_assert_eq(rename(path, rotated), 0);
	kill(S.edge_pid[0], SIGHUP);
	WAIT_FOR(proc_capture(out, sizeof out, "grep -c 'msg=\"log reopened\"' '%s'", path) == 0,
	         10000, "the reopened file got no line");
	/* The next lines go to the new file only. */
	kill(S.edge_pid[0], SIGHUP);
	WAIT_FOR(proc_capture(out, sizeof out, "grep -c 'msg=\"log reopened\"' '%s'", path) == 0 &&
	             atoi(out) == 2,
	         10000, "the second reopen line is not in the new file");
	cr_assert_neq(proc_capture(out, sizeof out, "grep -c 'msg=\"log reopened\"' '%s'", rotated),
	              0, "the rotated file got a line after the reopen");
	cr_assert_eq(proc_capture(out, sizeof out, "grep -c 'msg=\"edge started\"' '%s'", rotated),
	             0, "the rotated file lost its earlier lines");
}

/* --- (e) thread policies --------------------------------------------------- */

/* store.compaction_idle (the default): LevelDB's compaction thread, and
 * no other, runs under SCHED_IDLE; false leaves every thread at the
 * default policy, that one at compaction_nice (10) above the others. */
Test(lifecycle, only_the_compaction_thread_runs_idle)
{
	int own = getpriority(PRIO_PROCESS, 0), policy = sched_getscheduler(0);
	if (policy != SCHED_OTHER || own + 10 > 19)
		cr_skip_test("the suite runs under policy %d at nice %d", policy, own);
	stack_up(1, NPARTS, 200);
	pid_t pid = S.edge_pid[0];
	cr_assert_eq(threads_with(pid, STAT_POLICY, SCHED_IDLE, 1), 1);
	char self[32];
	snprintf(self, sizeof self, "%d", (int)pid);
	cr_assert_eq(thread_stat(pid, self, STAT_POLICY), SCHED_OTHER, "the main loop's policy");
	cr_assert_gt(threads_with_now(pid, STAT_POLICY, SCHED_OTHER), 3);

	proc_stop(S.edge_pid[0], SIGTERM);
	S.edge_pid[0] = 0;
	S.edge_extra = "[store]\ncompaction_idle = false\n";
	char ops[64];
	snprintf(ops, sizeof ops, "127.0.0.1:%d", S.ops_port);
	stack_write_edge(0, ops);
	stack_start_edge(0);
	pid = S.edge_pid[0];
	cr_assert_eq(threads_with_now(pid, STAT_POLICY, SCHED_IDLE), 0);
	cr_assert_eq(threads_with(pid, STAT_NICE, own + 10, 1), 1, "one thread at compaction_nice");
}
