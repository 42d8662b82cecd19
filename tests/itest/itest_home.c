/* itest_home.c - the home streams (docs/events.md, "Home streams") with
 * real processes: the embedded broker, central sending the changes of
 * users at home in r0 and r1 made elsewhere to likes.home.r0 and
 * likes.home.r1, and two edges (regions r0 and r1) following their own.
 * A user at home in r1 who likes and unlikes through r0 is known at r1
 * from its own store ("source":"local"), each time; a user at home where
 * they act makes nothing on any stream; an edge started again resumes
 * where it was and applies nothing twice; an edge wiped and started
 * again on an empty disk loads its users' memberships from central's
 * checkpoint and answers their pages from its store again; after central
 * was upgraded from a store without the home index, such an edge reads
 * the older pairs through instead of answering them "not liked"; an edge
 * that stalled while the broker dropped home events it had not read
 * finds the gap, stays ready, reads its users' pairs through and loads
 * them again. A like made in two regions shows twice at the second for
 * as long as central lacks it there, and once everywhere after. A user
 * who moves (central home-move) finds every pair of
 * theirs at the new home's edge, from its store, and a like through a
 * token from before the move goes there too.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "tests/support/kafka_util.h"
#include "tests/support/prom_util.h"
#include "tests/support/stack.h"
#include "tests/support/testdir.h"
#include "central/apply/keys.h"
#include "store.h"

#define NPARTS 2

/* Waits (30 s) until edge e says ready: its replica is complete and its
 * users' memberships are loaded (docs/api.md, /readyz). */
static void ready(int e)
{
	char out[8192];
	uint64_t deadline = clock_mono_ms() + 30000;
	while (proc_curl(out, sizeof out, "", S.edge_port[e], "/readyz") != 200) {
		cr_assert_lt(clock_mono_ms(), deadline, "edge %d never became ready: %s", e, out);
		proc_sleep_ms(50);
	}
}

/* Central sending r0's and r1's home streams, two edges following
 * theirs with edge_extra, both ready: what the edges load at their start
 * is in, so every event the tests count comes from the stream. */
static void home_stack(const char *edge_extra)
{
	S.central_extra = "[feed]\nhome_regions = r0,r1\ntimeout_ms = 1000\nsession_ms = 3000\n";
	S.edge_extra = edge_extra;
	stack_up(2, NPARTS, 200);
	ready(0);
	ready(1);
}

static void setup(void)
{
	home_stack("[home]\nfollow = true\n");
}

TestSuite(home, .init = setup, .fini = stack_down, .timeout = 240);

/* user (at home in home) likes or unlikes post:ID at edge e: 200. */
static void act(int e, const char *method, const char *id, const char *user, const char *home)
{
	char opts[256], out[4096], path[128];
	snprintf(opts, sizeof opts, "-X %s -H 'X-User-Id: %s' -H 'X-User-Home: %s'", method, user,
	         home);
	snprintf(path, sizeof path, "/v1/items/post/%s/likes", id);
	uint64_t deadline = clock_mono_ms() + 30000;
	int code;
	while ((code = proc_curl(out, sizeof out, opts, S.edge_port[e], path)) != 200) {
		cr_assert_lt(clock_mono_ms(), deadline, "%s %s at edge%d: %d %s", method, path, e,
		             code, out);
		proc_sleep_ms(50);
	}
}

/* Edge e's /me of post:ID for user with the identity headers ids,
 * waited for (10 s) until it says member (true or false) from source
 * ("local": its own store, or "central"). */
static void known_as(int e, const char *id, const char *ids, bool member, const char *source)
{
	char out[4096], path[128], want[128];
	snprintf(path, sizeof path, "/v1/items/post/%s/likes/me", id);
	snprintf(want, sizeof want, "\"member\":%s,\"source\":\"%s\"", member ? "true" : "false",
	         source);
	uint64_t deadline = clock_mono_ms() + 10000;
	for (;;) {
		int code = proc_curl(out, sizeof out, ids, S.edge_port[e], path);
		if (code == 200 && strstr(out, want))
			return;
		cr_assert_lt(clock_mono_ms(), deadline, "edge%d never said %s: %d %s", e, want,
		             code, out);
		proc_sleep_ms(50);
	}
}

/* Edge e's /me of post:ID for user, waited for (10 s) until it says
 * member (true or false) from its own store. */
static void known_here(int e, const char *id, const char *user, const char *home, bool member)
{
	char ids[256];
	snprintf(ids, sizeof ids, "-H 'X-User-Id: %s' -H 'X-User-Home: %s'", user, home);
	known_as(e, id, ids, member, "local");
}

static double metric(int e, const char *series)
{
	char out[1 << 16];
	cr_assert_eq(proc_curl(out, sizeof out, "", S.edge_port[e], "/metrics"), 200);
	return prom_util_get(out, series);
}

static double home_events(int e, const char *result)
{
	char series[128];
	snprintf(series, sizeof series, "likes_edge_home_events_total{result=\"%s\"}", result);
	return metric(e, series);
}

/* GET path at edge e as user (at home in home): 200. */
static void get_as(int e, const char *user, const char *home, const char *path, char *out,
                   size_t cap)
{
	char opts[256];
	snprintf(opts, sizeof opts, "-H 'X-User-Id: %s' -H 'X-User-Home: %s'", user, home);
	cr_assert_eq(proc_curl(out, cap, opts, S.edge_port[e], path), 200, "%s: %s", path, out);
}

/* GET /v1/me at edge e for user (at home in home) of items. */
static void me(int e, const char *user, const char *home, const char *items, char *out, size_t cap)
{
	char path[1024];
	snprintf(path, sizeof path, "/v1/me?items=%s&counters=likes", items);
	get_as(e, user, home, path, out, cap);
}

Test(home, a_roaming_users_likes_are_known_at_home_from_its_own_store)
{
	act(0, "POST", "h1", "roamer", "r1");
	known_here(1, "h1", "roamer", "r1", true);
	act(0, "DELETE", "h1", "roamer", "r1");
	known_here(1, "h1", "roamer", "r1", false);
	cr_assert_eq(home_events(1, "applied"), 2);
	/* At home where they act: nothing on any stream. */
	act(0, "POST", "h2", "local", "r0");
	act(1, "POST", "h3", "other", "r1");
	act(0, "POST", "h4", "roamer", "r1"); /* a marker: it comes after both */
	known_here(1, "h4", "roamer", "r1", true);
	cr_assert_eq(home_events(0, "applied"), 0);
	cr_assert_eq(home_events(1, "applied"), 3);
	/* Started again: it resumes after what it applied. */
	proc_stop(S.edge_pid[1], SIGTERM);
	stack_start_edge(1);
	act(0, "POST", "h5", "roamer", "r1");
	known_here(1, "h5", "roamer", "r1", true);
	cr_assert_eq(home_events(1, "applied"), 1);
	cr_assert_eq(home_events(1, "older"), 0, "nothing read twice");
}

Test(home, a_like_made_in_two_regions_shows_twice_only_until_central_has_both)
{
	act(0, "POST", "d1", "twice", "r0");
	stack_wait_likes(S.edge_port[1], "", "d1", 1); /* from central's snapshot */
	/* At r1 the pair is one never seen there (its user is at home in
	 * r0): the like counts at once (docs/api.md, "Writes"), on top of a
	 * snapshot that holds the same pair from r0. This is the drills'
	 * cross_region_overcounts (docs/drills.md). */
	char out[4096];
	cr_assert_eq(proc_curl(out, sizeof out,
	                       "-X POST -H 'X-User-Id: twice' -H 'X-User-Home: r0'", S.edge_port[1],
	                       "/v1/items/post/d1/likes"),
	             200, "%s", out);
	cr_assert(strstr(out, "\"changed\":true"), "%s", out);
	cr_assert_eq(proc_json_num(out, "count"), 2, "%s", out);
	/* Central applies it as a repeat; once a snapshot covers r1's batch
	 * the overlay lets it go. */
	stack_wait_likes(S.edge_port[1], "", "d1", 1);
	stack_wait_likes(S.edge_port[0], "", "d1", 1);
	cr_assert_eq(stack_likes_count(S.ops_port, "", "d1"), 1, "central counts the pair once");
}

Test(home, a_feed_page_of_a_user_at_home_is_answered_without_central)
{
	/* The edge has a horizon for each partition soon after it starts:
	 * then an untouched post is a known no. */
	char items[1024] = "", out[8192], id[16];
	for (int i = 0; i < 20; i++) {
		snprintf(items + strlen(items), sizeof items - strlen(items), "%spost:p%d",
		         i ? "," : "", i);
		snprintf(id, sizeof id, "p%d", i);
		known_here(1, id, "hana", "r1", false);
	}
	/* The home user likes two posts here and one through r0; someone
	 * else likes another. Each of the 20 is answered from the edge's
	 * own store, "not liked" as surely as "liked" (a pair asked of
	 * central would say "source":"central"). */
	act(1, "POST", "p3", "hana", "r1");
	act(1, "POST", "p7", "hana", "r1");
	act(0, "POST", "p11", "hana", "r1");
	act(0, "POST", "p12", "other", "r0");
	for (int i = 0; i < 20; i++) {
		snprintf(id, sizeof id, "p%d", i);
		known_here(1, id, "hana", "r1", i == 3 || i == 7 || i == 11);
	}
	/* A page for a user this edge never answered (no membership kept
	 * from central either) asks central nothing. */
	double before = metric(1, "likes_edge_readthrough_requests_total");
	me(1, "hiro", "r1", items, out, sizeof out);
	cr_assert_eq(metric(1, "likes_edge_readthrough_requests_total"), before, "%s", out);
	cr_assert_null(strstr(out, "unknown"), "%s", out);
	cr_assert_null(strstr(out, "true"), "hiro likes nothing: %s", out);
	/* Someone at home elsewhere: what this edge lacks is read through. */
	before = metric(1, "likes_edge_readthrough_requests_total");
	me(1, "visitor", "r0", items, out, sizeof out);
	cr_assert_gt(metric(1, "likes_edge_readthrough_requests_total"), before);
}

/* Waits (20 s) until central's state of (post:ID, user) is member. */
static void central_has(const char *id, const char *user, bool member)
{
	char out[4096], path[128], want[64];
	snprintf(path, sizeof path, "/v1/items/post/%s/likes/users/%s", id, user);
	snprintf(want, sizeof want, "\"member\":%s", member ? "true" : "false");
	uint64_t deadline = clock_mono_ms() + 20000;
	while (proc_curl(out, sizeof out, "", S.ops_port, path) != 200 ||
	       !strstr(out, "\"known\":true") || !strstr(out, want)) {
		cr_assert_lt(clock_mono_ms(), deadline, "central never had %s: %s", path, out);
		proc_sleep_ms(50);
	}
}

/* me() at edge e, and the read-through requests to central it made. */
static double page_reads(int e, const char *user, const char *home, const char *items, char *out,
                         size_t cap)
{
	double before = metric(e, "likes_edge_readthrough_requests_total");
	me(e, user, home, items, out, cap);
	return metric(e, "likes_edge_readthrough_requests_total") - before;
}

/* Edge e's machine lost: killed, its disk gone, started again empty. */
static void wipe_edge(int e)
{
	proc_stop(S.edge_pid[e], SIGKILL);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf %s/edge%d", S.dir, e);
	cr_assert_eq(system(cmd), 0);
}

Test(home, a_wiped_edge_loads_its_users_memberships_before_it_is_ready)
{
	/* hana (at home in r1) likes w1 at home and w2 through r0, likes
	 * and unlikes w3 at home; someone else likes w4. */
	act(1, "POST", "w1", "hana", "r1");
	act(0, "POST", "w2", "hana", "r1");
	act(1, "POST", "w3", "hana", "r1");
	act(1, "DELETE", "w3", "hana", "r1");
	act(0, "POST", "w4", "other", "r0");
	central_has("w1", "hana", true);
	central_has("w2", "hana", true);
	central_has("w3", "hana", false);
	central_has("w4", "other", true);
	/* A like at home that central has not applied when the disk goes:
	 * it is in the batch topic (the edge sealed and sent it while
	 * central was stopped), on no home stream, and the load must wait
	 * for central to have it. */
	cr_assert_eq(kill(S.central_pid, SIGSTOP), 0);
	act(1, "POST", "w6", "hana", "r1");
	proc_sleep_ms(1500); /* sealed (batch.max_age_ms 200) and produced */
	/* The data center burns: edge 1 comes back on an empty disk. */
	wipe_edge(1);
	cr_assert_eq(kill(S.central_pid, SIGCONT), 0);
	stack_start_edge(1);
	ready(1);
	char out[8192];
	/* Ready: every pair of hana's page is answered from its store, the
	 * likes made before the wipe (at home and away) included. */
	cr_assert_eq(page_reads(1, "hana", "r1", "post:w1,post:w2,post:w3,post:w4,post:w5,post:w6",
	                        out, sizeof out),
	             0, "%s", out);
	cr_assert(strstr(out, "\"post:w1\":{\"likes\":true}"), "%s", out);
	cr_assert(strstr(out, "\"post:w2\":{\"likes\":true}"), "%s", out);
	cr_assert(strstr(out, "\"post:w3\":{\"likes\":false}"), "%s", out);
	cr_assert(strstr(out, "\"post:w4\":{\"likes\":false}"), "%s", out);
	cr_assert(strstr(out, "\"post:w5\":{\"likes\":false}"), "%s", out);
	cr_assert(strstr(out, "\"post:w6\":{\"likes\":true}"), "%s", out);
	known_here(1, "w2", "hana", "r1", true);
	cr_assert(stack_file_has("edge1.log", "memberships loaded from central"));
}

/* central home-move with args after -c (the stack's config): its exit
 * status, its output in out. */
static int home_move(char *out, size_t cap, const char *args)
{
	return proc_capture(out, cap, "build/central home-move -c %s/central.ini %s 2>&1", S.dir,
	                    args);
}

/* home-move --users-from - REGION with the output of the shell command
 * feed as its list; its exit status, its output in out. */
static int home_move_stdin(char *out, size_t cap, const char *feed, const char *region)
{
	return proc_capture(out, cap,
	                    "%s | build/central home-move -c %s/central.ini --users-from - %s 2>&1",
	                    feed, S.dir, region);
}

/* A file of user ids, as text says. */
static void write_list(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

Test(home, a_user_who_moves_takes_their_memberships_to_the_new_home)
{
	/* mika lives in r0: likes m1 and m2 there and m3 through r1, and
	 * likes then unlikes m4 there. None of it is on r1's stream. */
	act(0, "POST", "m1", "mika", "r0");
	act(0, "POST", "m2", "mika", "r0");
	act(1, "POST", "m3", "mika", "r0");
	act(0, "POST", "m4", "mika", "r0");
	act(0, "DELETE", "m4", "mika", "r0");
	central_has("m1", "mika", true);
	central_has("m3", "mika", true);
	central_has("m4", "mika", false);
	double applied = home_events(1, "applied");

	/* mika moves to r1. Her new token says so (home_since) before r1's
	 * edge has her pairs: it asks central for them meanwhile, as for a
	 * user away, never answering "not liked" from a store without them. */
	uint64_t since = clock_wall_ms();
	char moved[256], args[700], out[4096];
	snprintf(moved, sizeof moved,
	         "-H 'X-User-Id: mika' -H 'X-User-Home: r1' -H 'X-User-Home-Since: %" PRIu64 "'",
	         since);
	known_as(1, "m1", moved, true, "central");
	known_as(1, "m5", moved, false, "central");
	snprintf(args, sizeof args, "mika r1 --since %" PRIu64, since);
	cr_assert_eq(home_move(out, sizeof out, args), 0, "%s", out);
	cr_assert(strstr(out, "moved: user=mika home=r1"), "%s", out);
	/* r1's edge holds every pair of hers now, from its own store. */
	known_as(1, "m1", moved, true, "local");
	known_as(1, "m2", moved, true, "local");
	known_as(1, "m3", moved, true, "local");
	known_as(1, "m4", moved, false, "local");
	known_here(1, "m1", "mika", "r1", true);
	/* r0's edge heard of the move too: a token from before it, naming
	 * r0, gets her pairs from central, not from a store that no longer
	 * hears of her likes made elsewhere. */
	known_as(0, "m1", "-H 'X-User-Id: mika' -H 'X-User-Home: r0'", true, "central");
	cr_assert_geq(home_events(1, "applied") - applied, 3, "m1, m2 and m4 came on the stream");
	cr_assert_eq(stack_central_metric("likes_central_home_moves_applied_total"), NPARTS);
	char page[8192];
	cr_assert_eq(page_reads(1, "mika", "r1", "post:m1,post:m2,post:m3,post:m4,post:m5", page,
	                        sizeof page),
	             0, "%s", page);
	cr_assert(strstr(page, "\"post:m2\":{\"likes\":true}"), "%s", page);
	cr_assert(strstr(page, "\"post:m5\":{\"likes\":false}"), "%s", page);

	/* A token from before the move still says r0: her like through r0
	 * is hers at r1 all the same. */
	act(0, "POST", "m6", "mika", "r0");
	known_as(1, "m6", moved, true, "local");

	/* r1's edge lost with its disk: the new one loads her pairs, and
	 * where she lives, from central's checkpoint (the stream is read
	 * from its end), and answers her from its store once ready. */
	wipe_edge(1);
	stack_start_edge(1);
	ready(1);
	known_as(1, "m2", moved, true, "local");
	known_as(1, "m4", moved, false, "local");

	/* An older move changes nothing. */
	cr_assert_eq(home_move(out, sizeof out, "mika r1 --since 1"), 0, "%s", out);
	stack_wait_central_metric("likes_central_home_moves_stale_total", NPARTS,
	                          "the older move was not seen");
	cr_assert_eq(stack_central_metric("likes_central_home_moves_applied_total"), NPARTS);
	/* A user id or region central would refuse is refused here. */
	cr_assert_eq(home_move(out, sizeof out, "mika 'No Region'"), 2, "%s", out);
	cr_assert_eq(home_move(out, sizeof out, "mika"), 2, "%s", out);
	/* A since far ahead would block every later move: refused. */
	cr_assert_eq(home_move(out, sizeof out, "mika r0 --since 99999999999999"), 2, "%s", out);
	cr_assert_eq(home_move(out, sizeof out, "mika r0 --since +5"), 2, "%s", out);

	/* Several users in one run, from a list: kai and lea (a blank line
	 * and a CR ending between them), then from standard input. */
	char list[600];
	snprintf(list, sizeof list, "%s/movers", S.dir);
	write_list(list, "kai\r\n\nlea\n");
	snprintf(args, sizeof args, "--users-from %s r1", list);
	cr_assert_eq(home_move(out, sizeof out, args), 0, "%s", out);
	cr_assert(strstr(out, "moved: users=2 home=r1"), "%s", out);
	stack_wait_central_metric("likes_central_home_moves_applied_total", 3 * NPARTS,
	                          "kai's and lea's moves were not applied");
	/* A line longer than any user id is refused as it is read. */
	cr_assert_eq(home_move_stdin(out, sizeof out, "head -c 100000 /dev/zero", "r0"), 2, "%s",
	             out);
	cr_assert(strstr(out, "longer than a user id"), "%s", out);
	cr_assert_eq(home_move_stdin(out, sizeof out, "printf 'ola\\n'", "r0"), 0, "%s", out);
	cr_assert(strstr(out, "moved: user=ola home=r0"), "%s", out);
	stack_wait_central_metric("likes_central_home_moves_applied_total", 4 * NPARTS,
	                          "ola's move was not applied");
	/* A bad line is refused, with its number; so are a user beside the
	 * list and an empty list. */
	write_list(list, "kai\nNot A User\n");
	cr_assert_eq(home_move(out, sizeof out, args), 2, "%s", out);
	cr_assert(strstr(out, ":2: not a user id"), "%s", out);
	proc_sleep_ms(500);
	cr_assert_eq(stack_central_metric("likes_central_home_moves_applied_total"), 4 * NPARTS,
	             "nothing of the refused list was sent (kai, lea, ola, mika)");
	snprintf(args, sizeof args, "--users-from %s kai r1", list);
	cr_assert_eq(home_move(out, sizeof out, args), 2, "%s", out);
	write_list(list, "");
	snprintf(args, sizeof args, "--users-from %s r1", list);
	cr_assert_eq(home_move(out, sizeof out, args), 2, "%s", out);
	cr_assert(strstr(out, "no user"), "%s", out);
}

/* Central's store made as one from before the home index: no 'U' key,
 * no mark that the store writes them. Central is stopped. */
static void central_store_as_older(void)
{
	char path[600];
	snprintf(path, sizeof path, "%s/central/store", S.dir);
	store *db = testdir_open_store(path);
	store_batch *wb = store_batch_new();
	const char *k, *v;
	size_t kn, vn, gone = 0;
	store_iter *it = store_iter_new(db, ckey_prefix(CKEY_HOME), 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		store_batch_del(wb, k, kn);
		gone++;
	}
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	cr_assert_gt(gone, 0, "the likes were indexed");
	const char *meta = "M" CKEY_HOME_INDEX_META;
	store_batch_del(wb, meta, strlen(meta));
	cr_assert_eq(store_write(db, wb), 0);
	store_batch_free(wb);
	store_close(db);
}

Test(home, after_an_upgrade_of_central_a_wiped_edge_reads_older_pairs_through)
{
	act(1, "POST", "u1", "hana", "r1");
	act(0, "POST", "u2", "hana", "r1");
	central_has("u1", "hana", true);
	central_has("u2", "hana", true);
	/* Central is upgraded from a store without the index: it notes
	 * where each partition's index starts as it starts. */
	proc_stop(S.central_pid, SIGTERM);
	S.central_pid = 0;
	central_store_as_older();
	stack_start_central();
	central_has("u1", "hana", true);
	/* The data center burns; the new edge 1 loads a checkpoint that
	 * says where central's index starts, and is ready. */
	wipe_edge(1);
	stack_start_edge(1);
	ready(1);
	cr_assert(stack_file_has("edge1.log", "whose index starts late"));
	/* hana's likes from before the upgrade are in no index: read
	 * through, and liked (from horizon 0 they would be "not liked"). */
	char out[8192];
	cr_assert_gt(page_reads(1, "hana", "r1", "post:u1,post:u2", out, sizeof out), 0, "%s", out);
	cr_assert(strstr(out, "\"post:u1\":{\"likes\":true}"), "%s", out);
	cr_assert(strstr(out, "\"post:u2\":{\"likes\":true}"), "%s", out);
	/* A like after the upgrade is indexed and known here. */
	act(0, "POST", "u3", "hana", "r1");
	known_here(1, "u3", "hana", "r1", true);
}

/* Fills every partition of topic past what the embedded broker keeps of
 * one (5 MiB): the messages there before are dropped. */
static void overrun(const char *topic)
{
	enum { PER = 24, LEN = 256 << 10 };
	char path[512], bs[512];
	snprintf(path, sizeof path, "%s/bootstrap", S.dir);
	cr_assert_eq(bus_read_bootstrap(path, bs, sizeof bs), 0);
	rd_kafka_t *rk = kafka_util_new_producer(bs);
	char *junk = calloc(1, LEN);
	cr_assert_not_null(junk);
	static delivery d[NPARTS][PER];
	memset(d, 0, sizeof d);
	for (int p = 0; p < NPARTS; p++)
		for (int i = 0; i < PER; i++) {
			rd_kafka_resp_err_t e = rd_kafka_producev(
			    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
			    RD_KAFKA_V_VALUE(junk, LEN), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			    RD_KAFKA_V_OPAQUE(&d[p][i]), RD_KAFKA_V_END);
			cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(e));
		}
	for (int p = 0; p < NPARTS; p++)
		for (int i = 0; i < PER; i++) {
			cr_assert(kafka_util_wait_delivery(rk, &d[p][i], 30000));
			cr_assert_eq(d[p][i].err, 0, "%s", rd_kafka_err2str(d[p][i].err));
		}
	free(junk);
	rd_kafka_destroy(rk);
}

Test(home, a_gap_in_the_stream_is_loaded_again_while_the_edge_stays_ready)
{
	act(0, "POST", "g1", "hana", "r1");
	known_here(1, "g1", "hana", "r1", true);
	/* Edge 1 stalls while hana likes g2 through r0 and the stream runs
	 * on past all the broker keeps: g2's event is gone before edge 1
	 * read it. */
	cr_assert_eq(kill(S.edge_pid[1], SIGSTOP), 0);
	act(0, "POST", "g2", "hana", "r1");
	central_has("g2", "hana", true);
	proc_sleep_ms(500); /* published to likes.home.r1 */
	overrun("likes.home.r1");
	cr_assert_eq(kill(S.edge_pid[1], SIGCONT), 0);
	/* Until its next fetch it cannot know (as for any event still on
	 * its way); then it finds the gap and loads the partitions again,
	 * and meanwhile it stays ready and g2 is read through, never "not
	 * liked". */
	uint64_t deadline = clock_mono_ms() + 20000;
	while (metric(1, "likes_edge_home_stream_gaps_total") == 0) {
		cr_assert_lt(clock_mono_ms(), deadline, "the gap was never seen");
		proc_sleep_ms(5);
	}
	char opts[256], out[8192];
	snprintf(opts, sizeof opts, "-H 'X-User-Id: hana' -H 'X-User-Home: r1'");
	for (;;) {
		cr_assert_eq(proc_curl(out, sizeof out, "", S.edge_port[1], "/readyz"), 200, "%s",
		             out);
		cr_assert_eq(
		    proc_curl(out, sizeof out, opts, S.edge_port[1], "/v1/items/post/g2/likes/me"),
		    200, "%s", out);
		cr_assert(strstr(out, "\"member\":true"), "g2 is liked: %s", out);
		if (strstr(out, "\"source\":\"local\""))
			break;
		cr_assert_lt(clock_mono_ms(), deadline, "never loaded again: %s", out);
		proc_sleep_ms(20);
	}
	cr_assert(stack_file_has("edge1.log", "offsets gone before this edge read them"));
	/* The stream goes on from its end. */
	act(0, "POST", "g3", "hana", "r1");
	known_here(1, "g3", "hana", "r1", true);
}

/* --- retention (store.member_keep_s) ------------------------------------------ */

static void setup_retain(void)
{
	home_stack("[home]\nfollow = true\n[store]\nmember_keep_s = 1\n");
}

TestSuite(home_retain, .init = setup_retain, .fini = stack_down, .timeout = 240);

/* Edge e's .../me of post:ID for user, once (no wait). */
static void me_one(int e, const char *id, const char *user, const char *home, char *out, size_t cap)
{
	char path[128];
	snprintf(path, sizeof path, "/v1/items/post/%s/likes/me", id);
	get_as(e, user, home, path, out, cap);
}

Test(home_retain, past_the_window_an_items_pairs_are_read_through_not_answered_no)
{
	/* lee's "no" is known here before anything is dropped; then kim
	 * likes r1 at home. */
	known_here(1, "r1", "lee", "r1", false);
	act(1, "POST", "r1", "kim", "r1");
	known_here(1, "r1", "kim", "r1", true);
	central_has("r1", "kim", true);
	/* Once the like is a second old and central has confirmed it, the
	 * retention drops it and marks the item. */
	uint64_t deadline = clock_mono_ms() + 30000;
	while (metric(1, "likes_edge_members_dropped_total") < 1) {
		cr_assert_lt(clock_mono_ms(), deadline, "the membership was never dropped");
		proc_sleep_ms(100);
	}
	cr_assert_geq(metric(1, "likes_edge_member_sweeps_total"), 1);
	/* The item's pairs now come from central: kim's like as liked, and
	 * lee's pair not known here any more (read through, never "no"
	 * from a store that dropped some of the item's likes). */
	char out[4096];
	me_one(1, "r1", "kim", "r1", out, sizeof out);
	cr_assert(strstr(out, "\"member\":true,\"source\":\"central\""), "%s", out);
	me_one(1, "r1", "lee", "r1", out, sizeof out);
	cr_assert(strstr(out, "\"member\":false,\"source\":\"central\""), "%s", out);
	cr_assert_gt(page_reads(1, "ann", "r1", "post:r1", out, sizeof out), 0, "%s", out);
	cr_assert(strstr(out, "\"post:r1\":{\"likes\":false}"), "%s", out);
	/* An item with nothing dropped is answered from the store, and a
	 * page of untouched posts asks central nothing. */
	cr_assert_eq(page_reads(1, "ann", "r1", "post:r9,post:r10", out, sizeof out), 0, "%s", out);
	/* Started again: the mark holds. */
	proc_stop(S.edge_pid[1], SIGTERM);
	stack_start_edge(1);
	ready(1);
	me_one(1, "r1", "lee", "r1", out, sizeof out);
	cr_assert(strstr(out, "\"source\":\"central\""), "%s", out);
}

Test(home_retain, a_wiped_edge_loads_only_the_window_and_marks_the_items_of_older_likes)
{
	/* joe (through r0) and kim (at home) like x1; both are at home in
	 * r1. */
	act(0, "POST", "x1", "joe", "r1");
	act(1, "POST", "x1", "kim", "r1");
	central_has("x1", "joe", true);
	central_has("x1", "kim", true);
	proc_sleep_ms(1500); /* both past the 1 s window */
	wipe_edge(1);
	stack_start_edge(1);
	ready(1);
	/* Central sends every pair from the start of the cut's day (both,
	 * here: the window is 1 s) and one like of each item liked before
	 * that day (none); the edge kept neither pair, older than its
	 * window, and marked the item: its pairs are read through, never a
	 * "no" from a store without them. */
	cr_assert(
	    stack_file_has("central.log", "home=\"r1\" counts=0 members=2 old_left_out=0") ||
	        /* across midnight UTC: the pairs were the day before's */
	        stack_file_has("central.log", "home=\"r1\" counts=0 members=1 old_left_out=2"),
	    "%s", stack_log_tail("central.log"));
	char out[4096];
	me_one(1, "x1", "kim", "r1", out, sizeof out);
	cr_assert(strstr(out, "\"member\":true,\"source\":\"central\""), "%s", out);
	me_one(1, "x1", "lee", "r1", out, sizeof out);
	cr_assert(strstr(out, "\"member\":false,\"source\":\"central\""), "%s", out);
}
