/* test_verify.c - the recount of set counters (central/apply/verify.c) over a
 * store filled by the real applier: a clean store has no mismatch; each
 * kind of damage (a wrong count, a wrong region or day bucket, a count
 * for an item with no member, a missing bucket) is found exactly; repair
 * fixes them, tells the applier (its cache and next snapshot), and never
 * undoes a like applied between the scan and the repair. Also the run
 * loop's job queue (runq) and the ops API's admin, export and stats
 * routes, asked with the operator commands' HTTP client (hclient).
 *
 * Each test gets its own temp dir with a store, an applier for 4
 * partitions (set counters likes, saves; sum counters views, shares).
 */
#include <criterion/criterion.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/apply_util.h"
#include "tests/support/testdir.h"
#include "tests/support/wire_util.h"
#include "central/apply/apply.h"
#include "central/apply/day.h"
#include "central/apply/keys.h"
#include "central/ops/opsapi.h"
#include "central/runq.h"
#include "central/apply/verify.h"
#include "clock.h"
#include "counter.h"
#include "err.h"
#include "hclient.h"
#include "hlc.h"
#include "log.h"
#include "partition.h"
#include "store.h"
#include "wire.h"
#include "xmem.h"

#define NPARTS 4
#define TOKEN "verify-token"
#define DAY0 20000u /* 2024-10-04 */

static struct {
	char dir[64];
	store *db;
	counters ctr;
	applier *a;
	uint64_t seq[2][NPARTS];
	int64_t offset[NPARTS];
	ops_api *api;
} T;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	T.a = apply_util_open("test_verify", "likes,saves", "views,shares", NPARTS, T.dir,
	                      sizeof T.dir, &T.ctr, &T.db);
}

static void teardown(void)
{
	ops_api_stop(T.api);
	T.api = NULL;
	apply_util_close(T.a, T.db, &T.ctr, T.dir);
	memset(&T, 0, sizeof T);
}

TestSuite(verify, .init = setup, .fini = teardown, .timeout = 60);

/* ---- filling the store through the applier ------------------------------- */

static const char *const edges[2] = {"e1", "e2"};
static const char *const regions[2] = {"eu", "us"};

static uint64_t hlc_on(uint32_t d)
{
	return hlc_make((uint64_t)d * DAY_MS + 1000, 0);
}

static wire_op op(const char *counter, const char *item, const char *user, bool add, uint32_t n,
                  uint64_t ts)
{
	return wire_util_op(counter, item, user, add ? WIRE_ADD : WIRE_REMOVE, n, ts);
}

/* One op as the next batch of edge e. */
static void send_op(int e, wire_op o)
{
	uint32_t p = partition_of(o.item.p, o.item.n, NPARTS);
	wire_util_msg m = wire_util_batch(edges[e], regions[e], p, ++T.seq[e][p], &o, 1, NULL, 0);
	int rc = applier_apply(T.a, p, T.offset[p]++, m.buf, m.len, 0);
	free(m.buf);
	cr_assert_eq(rc, 0, "applier_apply: %s", err_str(rc));
}

static void like(int e, const char *item, const char *user, uint32_t day)
{
	send_op(e, op("likes", item, user, true, 1, hlc_on(day)));
}

static wire_op with_home(wire_op o, const char *home)
{
	o.home = wire_cstr(home, strlen(home));
	return o;
}

/* post:1 likes: u1 (eu, DAY0), u2 (eu, DAY0+1), u3 (us, DAY0); u4 liked
 * then unliked (u4's home is "ap": its changes are in the home index,
 * which the recount leaves alone). post:2 likes: u1 (us, DAY0). reel:9
 * saves: u1 (eu). views on post:1: 5 (a sum: not recounted). */
static void fill(void)
{
	like(0, "post:1", "u1", DAY0);
	like(0, "post:1", "u2", DAY0 + 1);
	like(1, "post:1", "u3", DAY0);
	send_op(0, with_home(op("likes", "post:1", "u4", true, 1, hlc_on(DAY0)), "ap"));
	send_op(0, with_home(op("likes", "post:1", "u4", false, 1, hlc_on(DAY0) + 5), "ap"));
	like(1, "post:2", "u1", DAY0);
	send_op(0, op("saves", "reel:9", "u1", true, 1, hlc_on(DAY0)));
	send_op(0, op("views", "post:1", "u1", true, 5, hlc_on(DAY0)));
}

/* ---- raw store access ---------------------------------------------------- */

static void put_u64(const unsigned char *key, size_t kn, uint64_t v)
{
	store_batch *b = store_batch_new();
	unsigned char val[8];
	store_put_u64(val, v);
	store_batch_put(b, key, kn, val, 8);
	cr_assert_eq(store_write(T.db, b), 0);
	store_batch_free(b);
}

static void del_key(const unsigned char *key, size_t kn)
{
	store_batch *b = store_batch_new();
	store_batch_del(b, key, kn);
	cr_assert_eq(store_write(T.db, b), 0);
	store_batch_free(b);
}

static bool read_num(const unsigned char *key, size_t kn, uint64_t *v)
{
	int rc = store_read_u64(T.db, key, kn, v);
	cr_assert(rc == 0 || rc == ERR_NOTFOUND, "read: %s", err_str(rc));
	return rc == 0;
}

static size_t count_key(unsigned char *k, const char *item)
{
	return ckey_count(k, "likes", 5, item, strlen(item));
}

static size_t region_key(unsigned char *k, const char *item, const char *region)
{
	return ckey_region(k, "likes", 5, item, strlen(item), region, strlen(region));
}

static size_t day_key(unsigned char *k, const char *item, uint32_t day)
{
	return ckey_day(k, "likes", 5, item, strlen(item), day);
}

/* The five kinds of damage the tests put in. */
static void damage(void)
{
	unsigned char k[CKEY_MAX];
	put_u64(k, count_key(k, "post:1"), 50);       /* count 3 -> 50 */
	put_u64(k, region_key(k, "post:1", "eu"), 7); /* eu 2 -> 7 */
	put_u64(k, day_key(k, "post:2", DAY0), 4);    /* DAY0 1 -> 4 */
	put_u64(k, count_key(k, "post:77"), 9);       /* no member at all */
	del_key(k, region_key(k, "post:1", "us"));    /* us 1 -> absent */
}

static verify_totals scan(verify_report *r)
{
	store_snap *sn = store_snap_new(T.db);
	int rc = verify_scan(sn, &T.ctr, verify_report_add, r, &r->t);
	store_snap_free(sn);
	cr_assert_eq(rc, 0, "verify_scan: %s", err_str(rc));
	return r->t;
}

static const verify_mismatch *find(const verify_report *r, const char *item, const char *what)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->m[i].item, item) == 0 && strcmp(r->m[i].what, what) == 0)
			return &r->m[i];
	return NULL;
}

static void expect(const verify_report *r, const char *item, const char *what, uint64_t stored,
                   bool present, uint64_t expected)
{
	const verify_mismatch *m = find(r, item, what);
	cr_assert_not_null(m, "no mismatch for %s %s", item, what);
	cr_expect_str_eq(m->counter, "likes");
	cr_expect_eq(m->stored, stored, "%s %s stored %" PRIu64, item, what, m->stored);
	cr_expect_eq(m->stored_present, present, "%s %s present", item, what);
	cr_expect_eq(m->expected, expected, "%s %s expected %" PRIu64, item, what, m->expected);
}

static uint64_t likes_of(const char *item)
{
	uint64_t c = 12345;
	cr_assert_eq(applier_count(T.a, "likes", item, &c), 0);
	return c;
}

/* ---- the recount --------------------------------------------------------- */

Test(verify, a_store_built_by_the_applier_has_no_mismatch)
{
	fill();
	verify_report r;
	verify_report_init(&r, 16, 16);
	verify_totals t = scan(&r);
	cr_expect_eq(t.mismatches, 0, "first: %s %s", r.n ? r.m[0].item : "",
	             r.n ? r.m[0].what : "");
	cr_expect_eq(t.items, 3);       /* post:1, post:2 likes; reel:9 saves */
	cr_expect_eq(t.memberships, 6); /* u1..u4 on post:1, u1 on post:2, reel:9 */
	cr_expect_eq(t.present, 5);
	cr_expect_eq(t.sum_counters, 2);
	cr_expect_eq(t.bad_keys, 0);
	cr_expect_eq(t.bad_states, 0);
	store_iter *it = store_iter_new(T.db, ckey_prefix(CKEY_HOME), 1);
	const char *k, *v;
	size_t kn, vn;
	cr_expect(store_iter_next(it, &k, &kn, &v, &vn), "u4's entry is in the store");
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	verify_report_free(&r);
}

Test(verify, each_damage_is_found_and_nothing_else)
{
	fill();
	damage();
	verify_report r;
	verify_report_init(&r, 16, 16);
	verify_totals t = scan(&r);
	cr_assert_eq(t.mismatches, 5, "mismatches %" PRIu64, t.mismatches);
	cr_expect_eq(t.items_mismatched, 3);
	expect(&r, "post:1", "count", 50, true, 3);
	expect(&r, "post:1", "region=eu", 7, true, 2);
	expect(&r, "post:1", "region=us", 0, false, 1);
	char d[DAY_TEXT_MAX], what[64];
	day_format(DAY0, d);
	snprintf(what, sizeof what, "day=%s", d);
	expect(&r, "post:2", what, 4, true, 1);
	expect(&r, "post:77", "count", 9, true, 0);
	/* The targets name each damaged item once, in key order. */
	cr_assert_eq(r.ntargets, 3);
	cr_expect_str_eq(r.targets[0].item, "post:1");
	cr_expect_str_eq(r.targets[1].item, "post:2");
	cr_expect_str_eq(r.targets[2].item, "post:77");
	verify_report_free(&r);
}

Test(verify, one_item_is_checked_alone)
{
	fill();
	damage();
	verify_report r;
	verify_report_init(&r, 16, 16);
	store_snap *sn = store_snap_new(T.db);
	/* post:1 shares the 'C' prefix of no other item here, post:7 that of
	 * post:77: neither may see the other's keys. */
	cr_assert_eq(verify_item(sn, "likes", "post:7", verify_report_add, &r, &r.t), 0);
	cr_expect_eq(r.t.mismatches, 0);
	cr_assert_eq(verify_item(sn, "likes", "post:2", verify_report_add, &r, &r.t), 0);
	store_snap_free(sn);
	cr_expect_eq(r.t.mismatches, 1);
	cr_expect_str_eq(r.m[0].item, "post:2");
	verify_report_free(&r);
}

/* ---- repair -------------------------------------------------------------- */

static verify_totals repair_all(const verify_report *found, verify_report *fixed)
{
	int rc = verify_repair(T.db, &T.ctr, T.a, found->targets, found->ntargets,
	                       verify_report_add, fixed, &fixed->t);
	cr_assert_eq(rc, 0, "verify_repair: %s", err_str(rc));
	return fixed->t;
}

Test(verify, repair_fixes_every_damage_and_the_store_verifies_again)
{
	fill();
	damage();
	verify_report found, fixed, again;
	verify_report_init(&found, 16, 16);
	verify_report_init(&fixed, 16, 0);
	verify_report_init(&again, 16, 16);
	scan(&found);
	verify_totals t = repair_all(&found, &fixed);
	cr_expect_eq(t.repaired, 5);
	cr_expect_eq(scan(&again).mismatches, 0);
	unsigned char k[CKEY_MAX];
	uint64_t v;
	cr_expect_eq(likes_of("post:1"), 3);
	cr_assert(read_num(k, region_key(k, "post:1", "eu"), &v));
	cr_expect_eq(v, 2);
	cr_assert(read_num(k, region_key(k, "post:1", "us"), &v));
	cr_expect_eq(v, 1);
	cr_assert(read_num(k, day_key(k, "post:2", DAY0), &v));
	cr_expect_eq(v, 1);
	/* A count is kept at 0, as the applier keeps it after an unlike. */
	cr_assert(read_num(k, count_key(k, "post:77"), &v));
	cr_expect_eq(v, 0);
	verify_report_free(&found);
	verify_report_free(&fixed);
	verify_report_free(&again);
}

Test(verify, a_bucket_that_should_be_empty_is_deleted)
{
	fill();
	unsigned char k[CKEY_MAX];
	put_u64(k, region_key(k, "post:2", "mars"), 3);
	verify_report found, fixed;
	verify_report_init(&found, 16, 16);
	verify_report_init(&fixed, 16, 0);
	cr_assert_eq(scan(&found).mismatches, 1);
	repair_all(&found, &fixed);
	uint64_t v;
	cr_expect_not(read_num(k, region_key(k, "post:2", "mars"), &v));
	verify_report_free(&found);
	verify_report_free(&fixed);
}

Test(verify, a_like_applied_between_scan_and_repair_is_not_undone)
{
	/* No cache: the applier moves the damaged stored values themselves. */
	applier_set_cache(T.a, 0, 0);
	fill();
	damage();
	verify_report found, fixed, again;
	verify_report_init(&found, 16, 16);
	verify_report_init(&fixed, 16, 0);
	verify_report_init(&again, 16, 16);
	scan(&found); /* saw post:1 at 50 for 3 members */
	cr_assert_eq(find(&found, "post:1", "count")->expected, 3);
	like(0, "post:1", "u9", DAY0 + 1); /* 50 -> 51, 4 members */
	like(1, "post:2", "u9", DAY0);
	repair_all(&found, &fixed);
	cr_expect_eq(likes_of("post:1"), 4, "post:1 has %" PRIu64, likes_of("post:1"));
	cr_expect_eq(likes_of("post:2"), 2, "post:2 has %" PRIu64, likes_of("post:2"));
	const verify_mismatch *m = find(&fixed, "post:1", "count");
	cr_assert_not_null(m);
	cr_expect_eq(m->stored, 51);
	cr_expect_eq(m->expected, 4, "the repair recounts as of the repair");
	cr_expect_eq(scan(&again).mismatches, 0);
	verify_report_free(&found);
	verify_report_free(&fixed);
	verify_report_free(&again);
}

Test(verify, repair_makes_the_applier_forget_a_cached_count)
{
	fill();
	unsigned char k[CKEY_MAX];
	/* A wrong count that the applier itself has taken in: drop its cache,
	 * damage the store, and let a like load the wrong value (50 + 1). */
	applier_set_cache(T.a, 1000, 1000);
	put_u64(k, count_key(k, "post:1"), 50);
	like(0, "post:1", "u5", DAY0);
	cr_assert_eq(likes_of("post:1"), 51);
	verify_report found, fixed;
	verify_report_init(&found, 16, 16);
	verify_report_init(&fixed, 16, 0);
	scan(&found);
	repair_all(&found, &fixed);
	cr_assert_eq(likes_of("post:1"), 4);
	/* Had the cache kept 51, this like would write 52. */
	like(0, "post:1", "u6", DAY0);
	cr_expect_eq(likes_of("post:1"), 5, "count %" PRIu64, likes_of("post:1"));
	verify_report_free(&found);
	verify_report_free(&fixed);
}

Test(verify, the_next_snapshot_carries_a_repaired_count)
{
	fill();
	uint32_t p = partition_of("post:1", 6, NPARTS);
	wire_snapshot s;
	bool more;
	applier_snapshot(T.a, p, 1000, &s, &more); /* empties what is pending */
	wire_snapshot_free(&s);
	unsigned char k[CKEY_MAX];
	put_u64(k, count_key(k, "post:1"), 50);
	verify_report found, fixed;
	verify_report_init(&found, 16, 16);
	verify_report_init(&fixed, 16, 0);
	scan(&found);
	repair_all(&found, &fixed);
	cr_assert(applier_dirty(T.a, p));
	applier_snapshot(T.a, p, 1000, &s, &more);
	bool seen = false;
	for (uint32_t i = 0; i < s.ncounts; i++)
		if (s.counts[i].item.n == 6 && memcmp(s.counts[i].item.p, "post:1", 6) == 0) {
			seen = true;
			cr_expect_eq(s.counts[i].count, 3);
		}
	wire_snapshot_free(&s);
	cr_expect(seen, "the repaired count is not in the snapshot");
	verify_report_free(&found);
	verify_report_free(&fixed);
}

Test(verify, sum_counters_and_other_counters_are_never_repaired)
{
	fill();
	verify_target t[2];
	memset(t, 0, sizeof t);
	snprintf(t[0].counter, sizeof t[0].counter, "views");
	snprintf(t[0].item, sizeof t[0].item, "post:1");
	snprintf(t[1].counter, sizeof t[1].counter, "nope");
	snprintf(t[1].item, sizeof t[1].item, "post:1");
	verify_totals tot = {0};
	cr_assert_eq(verify_repair(T.db, &T.ctr, T.a, t, 2, NULL, NULL, &tot), 0);
	cr_expect_eq(tot.repaired, 0);
	uint64_t views = 0;
	cr_assert_eq(applier_count(T.a, "views", "post:1", &views), 0);
	cr_expect_eq(views, 5);
}

/* ---- the run loop's job queue -------------------------------------------- */

typedef struct qjob {
	runq *q;
	int ran;
	int rc;
} qjob;

static void bump_job(void *arg)
{
	((qjob *)arg)->ran++;
}

static void *poster(void *arg)
{
	qjob *j = arg;
	j->rc = runq_call(j->q, bump_job, j, 5000);
	return NULL;
}

Test(verify, a_posted_job_runs_when_the_loop_drains)
{
	qjob j = {.q = runq_new()};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, poster, &j), 0);
	uint64_t deadline = clock_mono_ms() + 5000;
	while (!__atomic_load_n(&j.ran, __ATOMIC_SEQ_CST)) {
		cr_assert_lt(clock_mono_ms(), deadline, "the job never ran");
		runq_drain(j.q);
		usleep(1000);
	}
	pthread_join(th, NULL);
	cr_expect_eq(j.rc, 0);
	cr_expect_eq(j.ran, 1);
	runq_free(j.q);
}

Test(verify, a_job_not_taken_in_time_never_runs)
{
	qjob j = {.q = runq_new()};
	cr_expect_eq(runq_call(j.q, bump_job, &j, 50), ERR_TIMEOUT);
	runq_drain(j.q);
	cr_expect_eq(j.ran, 0);
	runq_close(j.q);
	cr_expect_eq(runq_call(j.q, bump_job, &j, 50), ERR_CLOSED);
	runq_free(j.q);
}

/* ---- the ops API routes -------------------------------------------------- */

/* The ops API's repair hook in a test: this test's thread plays the run
 * loop, so the repair runs right away. */
static int repair_now(void *ctx, const verify_target *t, size_t n, verify_report *r, int timeout_ms)
{
	(void)ctx;
	(void)timeout_ms;
	return verify_repair(T.db, &T.ctr, T.a, t, n, verify_report_add, r, &r->t);
}

static void start_api(const char *token)
{
	cr_assert_eq(evthread_use_pthreads(), 0);
	ops_api_opts o = {.listen = "127.0.0.1:0",
	                  .token = token,
	                  .db = T.db,
	                  .ctr = &T.ctr,
	                  .partitions = NPARTS,
	                  .ap = T.a,
	                  .repair = repair_now,
	                  .data_dir = T.dir};
	char err[256];
	T.api = ops_api_start(&o, err, sizeof err);
	cr_assert_not_null(T.api, "ops_api_start: %s", err);
}

typedef struct resp {
	int status;
	char *body;
	json_t *json;
} resp;

/* One request to the ops API with the project's own client (hclient). */
static resp ask(const char *method, const char *path, bool with_token)
{
	hclient_req rq = {.host = "127.0.0.1",
	                  .port = ops_api_port(T.api),
	                  .method = method,
	                  .path = path,
	                  .token = with_token ? TOKEN : NULL,
	                  .timeout_ms = 10000,
	                  .max_body = 1 << 24};
	hclient_answer a;
	char err[256];
	cr_assert_eq(hclient_do(&rq, &a, err, sizeof err), 0, "%s %s: %s", method, path, err);
	resp r = {.status = a.status, .body = a.body};
	r.json = json_loads(r.body, 0, NULL);
	return r;
}

static void resp_free(resp *r)
{
	free(r->body);
	if (r->json)
		json_decref(r->json);
}

static uint64_t jnum(json_t *o, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(o, k));
}

/* The filled store, damaged, behind the ops API with its token. */
static void serve_damaged(void)
{
	fill();
	damage();
	start_api(TOKEN);
}

Test(verify, the_ops_api_verifies_repairs_and_then_reads_right)
{
	serve_damaged();
	resp r = ask("GET", "/v1/admin/verify?limit=2", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_eq(jnum(r.json, "mismatches"), 5);
	cr_expect_eq(json_array_size(json_object_get(r.json, "list")), 2);
	cr_expect(json_is_true(json_object_get(r.json, "truncated")));
	resp_free(&r);

	r = ask("POST", "/v1/admin/repair", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_eq(jnum(r.json, "repaired"), 5, "%s", r.body);
	cr_expect_eq(json_array_size(json_object_get(r.json, "fixes")), 5);
	resp_free(&r);

	r = ask("GET", "/v1/admin/verify", true);
	cr_expect_eq(jnum(r.json, "mismatches"), 0, "%s", r.body);
	cr_expect(json_is_true(json_object_get(r.json, "ok")));
	resp_free(&r);

	r = ask("GET", "/v1/items/post/1/likes?by=region", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	cr_expect_eq(jnum(r.json, "count"), 3, "%s", r.body);
	json_t *by = json_object_get(r.json, "by_region");
	cr_expect_eq(jnum(by, "eu"), 2, "%s", r.body);
	cr_expect_eq(jnum(by, "us"), 1, "%s", r.body);
	resp_free(&r);
}

Test(verify, repair_needs_post_and_the_token_always)
{
	serve_damaged();
	resp r = ask("POST", "/v1/admin/repair", false);
	cr_expect_eq(r.status, 401, "%s", r.body);
	resp_free(&r);
	r = ask("GET", "/v1/admin/repair", true);
	cr_expect_eq(r.status, 405, "%s", r.body);
	resp_free(&r);
	r = ask("POST", "/v1/admin/verify", true);
	cr_expect_eq(r.status, 405, "%s", r.body);
	resp_free(&r);
	r = ask("GET", "/v1/admin/verify", false);
	cr_expect_eq(r.status, 401, "%s", r.body);
	resp_free(&r);
	/* Nothing was repaired by any of those. */
	cr_expect_eq(likes_of("post:1"), 50);
}

Test(verify, repair_is_refused_when_no_token_is_set)
{
	fill();
	damage();
	start_api("");
	resp r = ask("POST", "/v1/admin/repair", false);
	cr_expect_eq(r.status, 403, "%s", r.body);
	resp_free(&r);
	r = ask("GET", "/v1/admin/verify", false);
	cr_expect_eq(r.status, 200, "read-only verify is open on a tokenless loopback API");
	resp_free(&r);
	cr_expect_eq(likes_of("post:1"), 50);
}

Test(verify, export_streams_every_count)
{
	fill();
	/* Enough counts for several chunks of the stream. */
	for (int i = 0; i < 3000; i++) {
		char item[32];
		snprintf(item, sizeof item, "story:%d", i);
		like(i % 2, item, "u1", DAY0);
	}
	start_api(TOKEN);
	resp r = ask("GET", "/v1/export?format=csv", true);
	cr_assert_eq(r.status, 200);
	cr_expect(strncmp(r.body, "counter,item,count\n", 19) == 0);
	cr_expect_not_null(strstr(r.body, "\nlikes,post:1,3\n"));
	cr_expect_not_null(strstr(r.body, "\nviews,post:1,5\n"));
	cr_expect_not_null(strstr(r.body, "\nlikes,story:2999,1\n"));
	resp_free(&r);

	r = ask("GET", "/v1/export?format=json&counter=saves", true);
	cr_assert_eq(r.status, 200);
	cr_expect_str_eq(r.body, "{\"counter\":\"saves\",\"item\":\"reel:9\",\"count\":1}\n");
	resp_free(&r);
}

Test(verify, stats_show_each_partition)
{
	fill();
	start_api(TOKEN);
	resp r = ask("GET", "/v1/stats", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *parts = json_object_get(r.json, "partitions");
	cr_assert_eq(json_array_size(parts), NPARTS);
	uint64_t sum = 0;
	for (size_t i = 0; i < NPARTS; i++)
		sum += jnum(json_array_get(parts, i), "next_offset");
	cr_expect_eq(sum, 8 - 0, "one message per op of fill: %" PRIu64, sum);
	cr_expect_gt(json_array_size(json_object_get(r.json, "applied")), 0);
	cr_expect_eq(json_array_size(json_object_get(r.json, "fences")), 0, "no edge took over");
	resp_free(&r);
}

Test(verify, stats_show_each_edges_fence)
{
	fill();
	wire_util_msg m = wire_util_handover(1, "e1", 3, 5000);
	cr_assert_eq(applier_apply(T.a, 1, T.offset[1]++, m.buf, m.len, 0), 0);
	free(m.buf);
	start_api(TOKEN);
	resp r = ask("GET", "/v1/stats", true);
	cr_assert_eq(r.status, 200, "%s", r.body);
	json_t *fences = json_object_get(r.json, "fences");
	cr_assert_eq(json_array_size(fences), 1, "%s", r.body);
	json_t *f = json_array_get(fences, 0);
	cr_expect_str_eq(json_string_value(json_object_get(f, "edge")), "e1");
	cr_expect_eq(jnum(f, "partition"), 1);
	cr_expect_eq(jnum(f, "writer_ms"), 5000);
	cr_expect_eq(jnum(f, "epoch"), 3);
	cr_expect_eq(jnum(r.json, "batches_fenced"), 0);
	resp_free(&r);
}
