/* itest_verify.c - central's operator commands against the real
 * binaries: the embedded broker, central (with an ops token) and one
 * edge. Likes flow through; central is stopped (SIGTERM) and a count is
 * damaged in its store; restarted, `central verify` finds the damage,
 * `central verify --repair` fixes it while central runs and logs it, and
 * the ops API reads the right count again. Also get, export, stats, the
 * offline path and its lock error, and the exit codes; home-index-reset
 * only with central stopped.
 */
#include <criterion/criterion.h>

#include "tests/support/stack.h"
#include "store.h"
#include "central/apply/keys.h"

#define NPARTS 2
#define TOKEN "itest-verify-token"

static void setup(void)
{
	S.central_extra = "ops_token = " TOKEN "\n";
	S.edge_extra = "[central]\ntoken = " TOKEN "\n";
	stack_up(1, NPARTS, 200);
}

TestSuite(verify_cli, .init = setup, .fini = stack_down, .timeout = 240);

static void like(const char *id, const char *user)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/items/post/%s/likes", id);
	uint64_t deadline = clock_mono_ms() + 30000;
	int code;
	while ((code = proc_http("POST", S.edge_port[0], path, user, NULL, 0)) != 200) {
		cr_assert_lt(clock_mono_ms(), deadline, "like %s by %s -> %d", id, user, code);
		proc_sleep_ms(50);
	}
}

/* The count at central's ops API, -1 when it does not answer. */
static long long central_count(const char *id)
{
	char out[1024];
	if (proc_capture(out, sizeof out,
	                 "curl -s -m 5 -H 'Authorization: Bearer " TOKEN "' "
	                 "'http://127.0.0.1:%d/v1/items/post/%s/likes'",
	                 S.ops_port, id))
		return -1;
	const char *p = strstr(out, "\"count\":");
	return p ? atoll(p + 8) : -1;
}

static void wait_count(const char *id, long long want)
{
	uint64_t deadline = clock_mono_ms() + 30000;
	long long got;
	while ((got = central_count(id)) != want) {
		cr_assert_lt(clock_mono_ms(), deadline, "post:%s stayed at %lld, want %lld", id,
		             got, want);
		proc_sleep_ms(50);
	}
}

/* Runs build/central CMD -c central.ini ARGS; stdout and stderr in out. */
static int cli(char *out, size_t cap, const char *cmd, const char *args)
{
	return proc_capture(out, cap, "build/central %s -c %s/central.ini %s 2>&1", cmd, S.dir,
	                    args);
}

static void put_count(store *db, const char *item, uint64_t v)
{
	unsigned char k[CKEY_MAX], val[8];
	size_t kn = ckey_count(k, "likes", 5, item, strlen(item));
	store_put_u64(val, v);
	store_batch *b = store_batch_new();
	store_batch_put(b, k, kn, val, 8);
	cr_assert_eq(store_write(db, b), 0);
	store_batch_free(b);
}

Test(verify_cli, a_damaged_count_is_found_and_repaired_while_central_runs)
{
	static char out[65536];
	const char *users[5] = {"ann", "bob", "cy", "dee", "eve"};
	for (int i = 0; i < 5; i++)
		like("v1", users[i]);
	like("v2", "ann");
	like("v2", "bob");
	wait_count("v1", 5);
	wait_count("v2", 2);
	cr_assert_eq(cli(out, sizeof out, "verify", ""), 0, "%s", out);
	cr_expect_not_null(strstr(out, "mismatches=0"), "%s", out);

	/* Stop central, damage the count of post:v1 behind its back. */
	proc_stop(S.central_pid, SIGTERM);
	S.central_pid = 0;
	char path[512];
	snprintf(path, sizeof path, "%s/central/store", S.dir);
	store *db = testdir_open_store(path);
	put_count(db, "post:v1", 42);
	/* While the test holds the store, the offline path says it is locked. */
	cr_expect_eq(cli(out, sizeof out, "verify", "--offline"), 3, "%s", out);
	cr_expect_not_null(strstr(out, "locked"), "%s", out);
	store_close(db);
	cr_expect_eq(cli(out, sizeof out, "verify", "--offline"), 1, "%s", out);
	cr_expect_not_null(strstr(out, "item=post:v1 what=count stored=42 expected=5"), "%s", out);
	/* Central is down: the live path cannot reach it. */
	cr_expect_eq(cli(out, sizeof out, "stats", ""), 3, "%s", out);

	stack_start_central();
	cr_assert_eq(central_count("v1"), 42);
	cr_assert_eq(cli(out, sizeof out, "verify", ""), 1, "%s", out);
	cr_expect_not_null(strstr(out, "MISMATCH counter=likes item=post:v1 what=count stored=42 "
	                               "expected=5"),
	                   "%s", out);
	cr_expect_not_null(strstr(out, "mismatches=1 "), "%s", out);

	/* A like while central runs, then the repair: both count. */
	like("v1", "fay");
	wait_count("v1", 43);
	cr_assert_eq(cli(out, sizeof out, "verify", "--repair"), 0, "%s", out);
	cr_expect_not_null(strstr(out, "REPAIRED counter=likes item=post:v1 what=count stored=43 "
	                               "expected=6"),
	                   "%s", out);
	cr_expect_not_null(strstr(out, "repair: repaired=1"), "%s", out);
	cr_expect(stack_file_has("central.log", "msg=\"repaired\" counter=likes item=post:v1"),
	          "central did not log the fix:\n%s", stack_log_tail("central.log"));
	cr_assert_eq(cli(out, sizeof out, "verify", ""), 0, "%s", out);
	cr_expect_eq(central_count("v1"), 6);

	/* The applier goes on from the repaired count, not the old one. */
	like("v1", "gus");
	wait_count("v1", 7);
	cr_expect_eq(cli(out, sizeof out, "verify", ""), 0, "%s", out);
}

Test(verify_cli, get_export_and_stats_answer_from_the_running_central)
{
	static char out[65536];
	like("v1", "ann");
	like("v1", "bob");
	like("v2", "ann");
	wait_count("v1", 2);
	wait_count("v2", 1);

	cr_assert_eq(cli(out, sizeof out, "get", "post:v1 likes"), 0, "%s", out);
	cr_expect_str_eq(out, "post:v1 likes 2\n");
	cr_assert_eq(cli(out, sizeof out, "get", "post:v2"), 0, "%s", out);
	cr_expect_not_null(strstr(out, "post:v2 likes 1\n"), "%s", out);
	cr_expect_not_null(strstr(out, "post:v2 saves 0\n"), "%s", out);

	cr_assert_eq(cli(out, sizeof out, "export", "--format csv"), 0, "%s", out);
	cr_expect(strncmp(out, "counter,item,count\n", 19) == 0, "%s", out);
	cr_expect_not_null(strstr(out, "\nlikes,post:v1,2\n"), "%s", out);
	cr_expect_not_null(strstr(out, "\nlikes,post:v2,1\n"), "%s", out);
	cr_assert_eq(cli(out, sizeof out, "export", "--format json"), 0, "%s", out);
	cr_expect_not_null(
	    strstr(out, "{\"counter\":\"likes\",\"item\":\"post:v1\",\"count\":2}\n"), "%s", out);

	/* Offsets show up per partition once the watermarks are seen. */
	uint64_t deadline = clock_mono_ms() + 20000;
	for (;;) {
		cr_assert_eq(cli(out, sizeof out, "stats", ""), 0, "%s", out);
		if (!strstr(out, " unknown"))
			break;
		cr_assert_lt(clock_mono_ms(), deadline, "watermarks never known:\n%s", out);
		proc_sleep_ms(100);
	}
	cr_expect_not_null(strstr(out, "partition  next_offset high_watermark"), "%s", out);
	for (int p = 0; p < NPARTS; p++) {
		char row[32];
		snprintf(row, sizeof row, "\n%-9d ", p);
		cr_expect_not_null(strstr(out, row), "no row for partition %d:\n%s", p, out);
	}
	cr_expect_not_null(strstr(out, "applied edge=edge0 partition="), "%s", out);
}

/* central home-index-reset: only with central stopped; a store made with
 * the index has noted no start, and central runs on after it. */
Test(verify_cli, home_index_reset_runs_only_with_central_stopped)
{
	char out[4096];
	like("h1", "ann");
	wait_count("h1", 1);
	cr_expect_eq(cli(out, sizeof out, "home-index-reset", ""), 2, "%s", out);
	cr_expect_not_null(strstr(out, "needs central stopped"), "%s", out);
	cr_expect_eq(cli(out, sizeof out, "home-index-reset", "--offline"), 3, "%s", out);
	cr_expect_not_null(strstr(out, "locked"), "%s", out);
	proc_stop(S.central_pid, SIGTERM);
	S.central_pid = 0;
	cr_assert_eq(cli(out, sizeof out, "home-index-reset", "--offline"), 0, "%s", out);
	cr_expect_not_null(strstr(out, "forgot the start of 0 partitions"), "%s", out);
	stack_start_central();
	like("h1", "bob");
	wait_count("h1", 2);
}

Test(verify_cli, usage_and_config_errors_exit_2)
{
	char out[4096];
	cr_expect_eq(proc_capture(out, sizeof out, "build/central verify 2>&1"), 2, "%s", out);
	cr_expect_eq(
	    proc_capture(out, sizeof out, "build/central get -c %s/central.ini 2>&1", S.dir), 2,
	    "%s", out);
	cr_expect_eq(cli(out, sizeof out, "get", "not-an-item"), 2, "%s", out);
	cr_expect_eq(cli(out, sizeof out, "export", "--format xml"), 2, "%s", out);
	/* A wrong token is a config error too. */
	cr_expect_eq(cli(out, sizeof out, "verify", "-s central.ops_token=wrong"), 2, "%s", out);
	/* Repair needs the token even from loopback. */
	cr_expect_eq(proc_capture(out, sizeof out,
	                          "curl -s -o /dev/null -w '%%{http_code}' -X POST "
	                          "http://127.0.0.1:%d/v1/admin/repair",
	                          S.ops_port),
	             0);
	cr_expect_str_eq(out, "401");
}
