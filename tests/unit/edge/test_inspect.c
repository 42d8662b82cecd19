/* test_inspect.c - GET /v1/admin/inspect and its table (edge/ops/inspect.h)
 * in process: api_handle over a real ledger and store, writes sealed
 * into batches, a delivery report and a snapshot, then the route's JSON
 * checked field by field; loopback only; and a ledger reopened over the
 * same store (what `edge inspect --offline` does) showing the same
 * pending batches. Each test has its own temp dir.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/api/api.h"
#include "tests/support/api_util.h"
#include "edge/ops/inspect.h"
#include "edge/ledger/ledger.h"
#include "clock.h"
#include "log.h"
#include "partition.h"
#include "store.h"
#include "tests/support/testdir.h"
#include "wire.h"

#define NPARTS 2

static struct {
	char dir[64];
	store *db;
	ledger *l;
	api a;
	http_response r;
	uint8_t ip[16];           /* the client's address */
	unsigned sent;            /* batches the sink took */
	const char *item[NPARTS]; /* an item of each partition */
} T;

static int sink(void *ctx, uint32_t p, uint64_t seq, const void *buf, size_t len)
{
	(void)ctx, (void)p, (void)seq, (void)buf, (void)len;
	T.sent++;
	return 0;
}

/* What a stopped edge's sink does: nothing leaves. */
static int sink_refuse(void *ctx, uint32_t p, uint64_t seq, const void *buf, size_t len)
{
	(void)ctx, (void)p, (void)seq, (void)buf, (void)len;
	return ERR_AGAIN;
}

static ledger *open_ledger(ledger_send_fn send, uint64_t window)
{
	ledger_opts o = api_util_ledger_opts(NPARTS);
	o.window_bytes = window;
	o.send = send;
	char err[256];
	ledger *l = ledger_open(T.db, &o, err, sizeof err);
	cr_assert_not_null(l, "%s", err);
	return l;
}

static void setup(void)
{
	static const char *cand[] = {"post:a", "post:b", "post:c", "post:d", "post:e", "post:f"};
	log_threshold = LOG_ERROR;
	memset(&T, 0, sizeof T);
	for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) {
		uint32_t p = partition_of(cand[i], strlen(cand[i]), NPARTS);
		if (!T.item[p])
			T.item[p] = cand[i];
	}
	cr_assert(T.item[0] && T.item[1], "an item for each partition");
	testdir_make(T.dir, sizeof T.dir, "test_inspect");
	T.db = testdir_open_store(T.dir);
	T.l = open_ledger(sink, 1u << 20);
	char err[256];
	cr_assert_eq(
	    api_util_init(&T.a, T.l, "post", "likes", "views", api_util_config(), err, sizeof err),
	    0, "%s", err);
	api_util_loopback(T.ip);
}

static void teardown(void)
{
	free(T.r.body);
	api_util_free(&T.a);
	ledger_free(T.l);
	store_close(T.db);
	testdir_remove(T.dir);
}

TestSuite(inspect, .init = setup, .fini = teardown, .timeout = 30);

/* Runs one request; the answer is in T.r (body NUL-terminated). */
static int req(const char *method, const char *path, const char *user)
{
	return api_util_call(&T.a, &T.r, T.ip, method, path, user, NULL, NULL, NULL);
}

/* Likes item (of partition p) by n new users. */
static void likes(uint32_t p, int n)
{
	static int next_user;
	char path[64], user[16];
	snprintf(path, sizeof path, "/v1/items/post/%s/likes", T.item[p] + 5);
	for (int i = 0; i < n; i++) {
		snprintf(user, sizeof user, "u%d", next_user++);
		cr_assert_eq(req("POST", path, user), 200, "%s", T.r.body ? T.r.body : "");
	}
}

static void seal_all(void)
{
	cr_assert_eq(ledger_seal_due(T.l, 1000, true), 0);
}

/* GET /v1/admin/inspect from loopback, parsed. */
static json_t *inspect(void)
{
	cr_assert_eq(req("GET", "/v1/admin/inspect", NULL), 200);
	json_error_t je;
	json_t *j = json_loads(T.r.body, 0, &je);
	cr_assert_not_null(j, "%s: %s", je.text, T.r.body);
	return j;
}

static long long num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	cr_assert(json_is_integer(v), "%s is not a number", k);
	return json_integer_value(v);
}

static json_t *part_of(json_t *j, uint32_t p)
{
	json_t *a = json_object_get(j, "partitions");
	cr_assert_eq(json_array_size(a), NPARTS);
	json_t *o = json_array_get(a, p);
	cr_assert_eq(num(o, "partition"), p);
	return o;
}

Test(inspect, route_shows_open_ops_sealed_batches_watermark_and_snapshot)
{
	uint32_t p = 0, q = 1;
	likes(p, 3);
	seal_all(); /* seq 1 */
	likes(p, 2);
	seal_all(); /* seq 2 */
	likes(q, 2);
	seal_all();  /* q: seq 1 */
	likes(p, 1); /* stays open */
	cr_assert_eq(T.sent, 3, "each sealed batch went to the sink");
	ledger_delivered(T.l, p, 1, 100);

	json_t *j = inspect();
	cr_assert_str_eq(json_string_value(json_object_get(j, "edge")), "e1");
	cr_assert_str_eq(json_string_value(json_object_get(j, "region")), "r1");
	json_t *o = part_of(j, p);
	cr_assert_eq(num(o, "sealed_batches"), 2);
	cr_assert_eq(num(o, "seq_lo"), 1);
	cr_assert_eq(num(o, "seq_hi"), 2);
	cr_assert_eq(num(o, "last_seq"), 2);
	cr_assert_eq(num(o, "delivered"), 1);
	cr_assert_eq(num(o, "in_flight"), 1);
	cr_assert_eq(num(o, "unsent"), 0);
	cr_assert_eq(num(o, "open_ops"), 1);
	cr_assert_gt(num(o, "open_bytes"), 0);
	cr_assert_gt(num(o, "sealed_bytes"), 0);
	cr_assert_eq(num(o, "applied_seq"), 0);
	cr_assert_eq(num(o, "snapshot_as_of"), 0);
	cr_assert(json_is_null(json_object_get(o, "snapshot_age_ms")), "no snapshot yet");
	cr_assert(json_is_true(json_object_get(o, "in_window")));
	long long sealed_p = num(o, "sealed_bytes"), open_p = num(o, "open_bytes");
	json_t *t = json_object_get(j, "totals");
	cr_assert_eq(num(t, "pending_batches"), 3);
	cr_assert_eq(num(t, "pending_ops"), 1);
	cr_assert_eq(num(t, "budget_limit_bytes"), 1 << 20);
	cr_assert_eq(num(t, "pending_bytes"),
	             sealed_p + open_p + num(part_of(j, q), "sealed_bytes"));
	cr_assert_eq(num(t, "budget_used_bytes"), num(t, "pending_bytes"));
	cr_assert_null(json_object_get(t, "kafka_in_flight"), "no uplink here");
	json_decref(j);

	/* Central confirms seq 1 of p with a snapshot at version 42. */
	wire_edge_seq es = {wire_cstr("e1", 2), 1, 0};
	uint64_t as_of = clock_wall_ms() - 3000;
	wire_snapshot s = {.source = wire_cstr("c", 1),
	                   .partition = p,
	                   .offset = 42,
	                   .produced_ms = as_of,
	                   .last = true,
	                   .nedges = 1,
	                   .edges = &es};
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 7), 0);
	j = inspect();
	o = part_of(j, p);
	cr_assert_eq(num(o, "sealed_batches"), 1, "seq 1 is confirmed and dropped");
	cr_assert_eq(num(o, "seq_lo"), 2);
	cr_assert_eq(num(o, "seq_hi"), 2);
	cr_assert_eq(num(o, "applied_seq"), 1);
	cr_assert_eq(num(o, "snapshot_version"), 42);
	cr_assert_eq(num(o, "snapshot_as_of"), (long long)as_of);
	cr_assert_geq(num(o, "snapshot_age_ms"), 3000);
	cr_assert_lt(num(o, "snapshot_age_ms"), 60000);
	cr_assert_eq(num(part_of(j, q), "snapshot_version"), 0, "q saw no snapshot");
	cr_assert_eq(num(json_object_get(j, "totals"), "pending_batches"), 2);

	/* The table: a row per partition, then the totals. */
	char *text = NULL;
	size_t tlen = 0;
	FILE *f = open_memstream(&text, &tlen);
	cr_assert_eq(inspect_print(T.r.body, false, f), 0);
	fclose(f);
	cr_assert(strstr(text, "edge e1  region r1  partitions 2  (live)"), "%s", text);
	cr_assert(strstr(text, " 2-2 "), "the sealed seqs of p: %s", text);
	cr_assert(strstr(text, "total: pending_ops=1 pending_batches=2 "), "%s", text);
	int lines = 0;
	for (const char *c = text; *c; c++)
		lines += *c == '\n';
	cr_assert_eq(lines, 2 + NPARTS + 1, "%s", text);
	free(text);
	json_decref(j);
}

Test(inspect, route_is_for_loopback_clients_only)
{
	cr_assert_eq(req("GET", "/v1/admin/inspect", NULL), 200);
	cr_assert_eq(req("POST", "/v1/admin/inspect", NULL), 405);
	T.ip[12] = 10; /* ::ffff:10.0.0.1 */
	T.ip[15] = 1;
	cr_assert_eq(req("GET", "/v1/admin/inspect", NULL), 404);
	cr_assert(strstr(T.r.body, "not_found"), "%s", T.r.body);
	memset(T.ip, 0, sizeof T.ip);
	T.ip[15] = 1; /* ::1 */
	cr_assert_eq(req("GET", "/v1/admin/inspect", NULL), 200);
	T.ip[0] = 0x20; /* 2000::1 */
	cr_assert_eq(req("GET", "/v1/admin/inspect", NULL), 404);
}

Test(inspect, a_reopened_ledger_shows_the_same_pending_batches)
{
	likes(0, 2);
	seal_all();
	likes(1, 3);
	seal_all();
	likes(1, 1);
	seal_all();
	likes(0, 1); /* open */
	json_t *live = inspect();

	/* As `edge inspect --offline` does: a ledger over the same store
	 * that sends nothing; a tiny window so every partition is over it. */
	ledger_free(T.l);
	T.l = T.a.lg = open_ledger(sink_refuse, 16);
	size_t len;
	char *body = inspect_json(T.l, NULL, clock_wall_ms(), &len);
	cr_assert_eq(strlen(body), len);
	json_t *off = json_loads(body, 0, NULL);
	cr_assert_not_null(off, "%s", body);
	for (uint32_t p = 0; p < NPARTS; p++) {
		json_t *a = part_of(live, p), *b = part_of(off, p);
		static const char *same[] = {"sealed_batches", "sealed_bytes", "seq_lo",
		                             "seq_hi",         "last_seq",     "open_ops",
		                             "open_bytes"};
		for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
			cr_assert_eq(num(a, same[i]), num(b, same[i]), "partition %u %s", p,
			             same[i]);
		cr_assert_eq(num(b, "unsent"), num(b, "sealed_batches"), "nothing sent offline");
		cr_assert(json_is_false(json_object_get(b, "in_window")));
	}
	cr_assert_eq(num(part_of(off, 1), "seq_hi"), 2);
	json_t *ta = json_object_get(live, "totals"), *tb = json_object_get(off, "totals");
	cr_assert_eq(num(ta, "pending_batches"), 3);
	cr_assert_eq(num(tb, "pending_batches"), 3);
	cr_assert_eq(num(tb, "pending_ops"), 1);
	cr_assert_eq(num(ta, "pending_bytes"), num(tb, "pending_bytes"));
	cr_assert_eq(num(tb, "partitions_over_window"), NPARTS);
	json_decref(live);
	json_decref(off);
	free(body);
}

Test(inspect, print_refuses_what_is_not_an_inspect_answer)
{
	FILE *f = fopen("/dev/null", "w");
	cr_assert_not_null(f);
	cr_assert_eq(inspect_print("{\"status\":\"ok\"}", false, f), ERR_CORRUPT);
	cr_assert_eq(inspect_print("not json", true, f), ERR_CORRUPT);
	fclose(f);
}
