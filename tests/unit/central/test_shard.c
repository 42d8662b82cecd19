/* test_shard.c - central sharded by partition (central/apply/shard.h and the
 * ops API's answers for it): central.partitions parsing, the partition
 * of each key kind, per-partition digests (equal for two appliers fed
 * the same input, whatever the interleaving of partitions; different
 * after one count changes), 421 not_owner for items of partitions not
 * owned, the online backup route (its copy has the source's digests and
 * offsets) and the offline prune (removes exactly the keys not owned).
 *
 * Each test gets its own temp dir; stores are filled through real
 * appliers with encoded batches; HTTP through hclient.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/support/testdir.h"
#include "tests/support/wire_util.h"
#include "central/apply/apply.h"
#include "central/apply/keys.h"
#include "central/ops/opsapi.h"
#include "central/apply/shard.h"
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
#define TOKEN "shard-token"
#define NMSG 40

typedef struct msg {
	uint32_t p;
	int64_t offset;
	char *buf;
	size_t len;
} msg;

static struct {
	char dir[64];
	counters ctr;
	msg log[NMSG];
	size_t nlog;
} T;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	cr_assert_eq(evthread_use_pthreads(), 0);
	char err[256];
	cr_assert_eq(counters_parse(&T.ctr, "likes", "views", err, sizeof err), 0, "%s", err);
	testdir_make(T.dir, sizeof T.dir, "test_shard");
}

static void teardown(void)
{
	for (size_t i = 0; i < T.nlog; i++)
		free(T.log[i].buf);
	counters_free(&T.ctr);
	testdir_remove(T.dir);
}

TestSuite(shard, .init = setup, .fini = teardown, .timeout = 60);

/* ---- partition lists ----------------------------------------------------- */

/* Arrays, not pointers: Criterion runs each case in a process of its
 * own, where pointers into the parent's image need not hold. */
typedef struct parse_case {
	char spec[32];
	char want[32]; /* canonical form, or "": refused */
	char why[32];  /* a word the refusal names */
} parse_case;

ParameterizedTestParameters(shard, partition_lists_parse_or_are_refused)
{
	static parse_case cases[] = {
	    {"all", "0-15", ""},
	    {" all ", "0-15", ""},
	    {"0-7", "0-7", ""},
	    {"0-3,8-11", "0-3,8-11", ""},
	    {"5", "5", ""},
	    {"3, 1 ,2", "1-3", ""},
	    {"0 - 2,15", "0-2,15", ""},
	    {"", "", "empty"},
	    {"   ", "", "empty"},
	    {"16", "", "out of range"},
	    {"0-16", "", "out of range"},
	    {"0-3,3", "", "twice"},
	    {"0-3,2-5", "", "twice"},
	    {"4-2", "", "backwards"},
	    {"1,", "", "not a number"},
	    {",1", "", "not a number"},
	    {"a", "", "not a number"},
	    {"-1", "", "not a number"},
	    {"1-", "", "needs an end"},
	    {"1;2", "", "unexpected"},
	    {"allx", "", "not a number"},
	    {"99999999999", "", "not a number"},
	};
	return cr_make_param_array(parse_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(parse_case *c, shard, partition_lists_parse_or_are_refused)
{
	shard_set s;
	char err[256] = "", text[256];
	int rc = shard_set_parse(&s, c->spec, 16, err, sizeof err);
	if (c->want[0]) {
		cr_assert_eq(rc, 0, "'%s': %s", c->spec, err);
		shard_set_format(&s, text, sizeof text);
		cr_expect_str_eq(text, c->want, "'%s'", c->spec);
		shard_set_free(&s);
	} else {
		cr_assert_eq(rc, ERR_CONFIG, "'%s' was accepted", c->spec);
		cr_expect_not_null(strstr(err, c->why), "'%s': %s", c->spec, err);
		cr_expect_null(s.own);
	}
}

Test(shard, a_set_owns_what_it_lists_and_null_owns_all)
{
	shard_set s;
	char err[256];
	cr_assert_eq(shard_set_parse(&s, "1,3", NPARTS, err, sizeof err), 0, "%s", err);
	cr_expect_eq(s.count, 2);
	cr_expect(!shard_owns(&s, 0) && shard_owns(&s, 1) && !shard_owns(&s, 2) &&
	          shard_owns(&s, 3) && !shard_owns(&s, 4));
	cr_expect(shard_owns(NULL, 2));
	shard_set_free(&s);
}

Test(shard, every_key_kind_maps_to_its_partition)
{
	const char *item = "post:77";
	uint32_t want = partition_of(item, strlen(item), NPARTS), p = 99;
	unsigned char k[CKEY_MAX];
	size_t kn = ckey_state(k, "likes", 5, item, strlen(item), "u1", 2);
	cr_assert_eq(shard_key_partition((char *)k, kn, NPARTS, &p), 0);
	cr_expect_eq(p, want);
	kn = ckey_count(k, "likes", 5, item, strlen(item));
	cr_assert_eq(shard_key_partition((char *)k, kn, NPARTS, &p), 0);
	cr_expect_eq(p, want);
	kn = ckey_region(k, "likes", 5, item, strlen(item), "mumbai", 6);
	cr_assert_eq(shard_key_partition((char *)k, kn, NPARTS, &p), 0);
	cr_expect_eq(p, want);
	kn = ckey_day(k, "likes", 5, item, strlen(item), 0); /* a day of zero bytes */
	cr_assert_eq(shard_key_partition((char *)k, kn, NPARTS, &p), 0);
	cr_expect_eq(p, want);
	kn = ckey_edge(k, 'A', "m1", 2, 3);
	cr_assert_eq(shard_key_partition((char *)k, kn, NPARTS, &p), 0);
	cr_expect_eq(p, 3);
	kn = ckey_offset(k, 2);
	cr_assert_eq(shard_key_partition((char *)k, kn, NPARTS, &p), 0);
	cr_expect_eq(p, 2);
	kn = ckey_epoch(k, 1);
	cr_assert_eq(shard_key_partition((char *)k, kn, NPARTS, &p), 0);
	cr_expect_eq(p, 1);
	/* A home index entry goes with the partition it names (the batch's). */
	kn = ckey_home(k, "ap", 2, (want + 1) % NPARTS, "u1", 2, "likes", 5, item, strlen(item));
	cr_assert_eq(shard_key_partition((char *)k, kn, NPARTS, &p), 0);
	cr_expect_eq(p, (want + 1) % NPARTS);
	cr_expect_eq(shard_key_partition("Mpartitions", 11, NPARTS, &p), ERR_NOTFOUND);
	cr_expect_eq(shard_key_partition("Cnozero", 7, NPARTS, &p), ERR_NOTFOUND);
}

/* ---- filling stores ------------------------------------------------------ */

/* Builds NMSG batches over every partition into T.log: two edges, items
 * post:0..9, likes and views; each (edge, partition) in sequence. Users
 * u0 and u1 have their home in "ap", so the stores hold 'V' keys too. */
static void make_log(void)
{
	uint64_t seq[2][NPARTS] = {{0}};
	int64_t offset[NPARTS] = {0};
	const char *edges[2] = {"m1", "v1"}, *regions[2] = {"mumbai", "virginia"};
	for (size_t i = 0; i < NMSG; i++) {
		char item[16], user[16];
		snprintf(item, sizeof item, "post:%zu", (i * 7) % 10);
		snprintf(user, sizeof user, "u%zu", i % 6);
		int e = (int)(i % 2);
		uint32_t p = partition_of(item, strlen(item), NPARTS);
		wire_op ops[2] = {wire_util_op("likes", item, user,
		                               i % 5 == 4 ? WIRE_REMOVE : WIRE_ADD, 1,
		                               hlc_make(1700000000000ull + i * 1000, 0)),
		                  wire_util_op("views", item, user, WIRE_ADD, (uint32_t)(i % 3 + 1),
		                               hlc_make(1700000000000ull + i * 1000, 1))};
		if (i % 6 < 2)
			ops[0].home = wire_cstr("ap", 2);
		wire_util_msg w =
		    wire_util_batch(edges[e], regions[e], p, ++seq[e][p], ops, 2, NULL, 0);
		msg *m = &T.log[T.nlog++];
		m->buf = w.buf;
		m->len = w.len;
		m->p = p;
		m->offset = offset[p]++;
	}
}

typedef struct replica {
	char dir[128];
	store *db;
	applier *a;
} replica;

static void replica_open(replica *r, const char *name)
{
	char err[256];
	snprintf(r->dir, sizeof r->dir, "%s/%s", T.dir, name);
	r->db = testdir_open_store(r->dir);
	r->a = applier_new(r->db, NPARTS, &T.ctr, err, sizeof err);
	cr_assert_not_null(r->a, "%s", err);
}

static void replica_close(replica *r)
{
	applier_free(r->a);
	store_close(r->db);
}

static void apply_msg(replica *r, const msg *m)
{
	int rc = applier_apply(r->a, m->p, m->offset, m->buf, m->len, 0);
	cr_assert_eq(rc, 0, "applier_apply: %s", err_str(rc));
}

/* A replica named name with the whole log applied. */
static void replica_replayed(replica *r, const char *name)
{
	replica_open(r, name);
	for (size_t i = 0; i < T.nlog; i++)
		apply_msg(r, &T.log[i]);
}

static void digests(store *db, shard_digest *d)
{
	store_snap *sn = store_snap_new(db);
	cr_assert_eq(shard_digest_all(sn, NPARTS, d), 0);
	store_snap_free(sn);
}

/* ---- digests ------------------------------------------------------------- */

Test(shard, two_appliers_fed_the_same_input_have_the_same_partition_digests)
{
	make_log();
	replica a, b;
	replica_replayed(&a, "a");
	replica_open(&b, "b");
	/* b takes the partitions one after the other rather than
	 * interleaved: each partition still sees its own log in order. */
	for (uint32_t p = 0; p < NPARTS; p++)
		for (size_t i = 0; i < T.nlog; i++)
			if (T.log[i].p == p)
				apply_msg(&b, &T.log[i]);
	shard_digest da[NPARTS], db_[NPARTS];
	digests(a.db, da);
	digests(b.db, db_);
	for (uint32_t p = 0; p < NPARTS; p++) {
		cr_expect_gt(da[p].keys, 0, "partition %u has state", p);
		cr_expect_eq(da[p].digest, db_[p].digest, "partition %u", p);
		cr_expect_eq(da[p].keys, db_[p].keys, "partition %u", p);
		cr_expect_eq(da[p].offset, db_[p].offset, "partition %u", p);
	}

	/* One count changed behind the appliers' back: only its partition's
	 * digest moves. */
	const char *item = "post:7";
	uint32_t hit = partition_of(item, strlen(item), NPARTS);
	unsigned char k[CKEY_MAX], v[8];
	size_t kn = ckey_count(k, "likes", 5, item, strlen(item));
	uint64_t was = 0;
	cr_assert_eq(store_read_u64(b.db, k, kn, &was), 0);
	store_put_u64(v, was + 1);
	store_batch *wb = store_batch_new();
	store_batch_put(wb, k, kn, v, 8);
	cr_assert_eq(store_write(b.db, wb), 0);
	store_batch_free(wb);
	digests(b.db, db_);
	for (uint32_t p = 0; p < NPARTS; p++)
		if (p == hit)
			cr_expect_neq(da[p].digest, db_[p].digest, "the changed partition %u", p);
		else
			cr_expect_eq(da[p].digest, db_[p].digest, "untouched partition %u", p);
	replica_close(&a);
	replica_close(&b);
}

Test(shard, a_new_epoch_leaves_the_digests_alone)
{
	make_log();
	replica a, b;
	replica_replayed(&a, "a");
	replica_replayed(&b, "b");
	/* b's input went backwards and came back to the same offset. */
	int64_t off;
	cr_assert_eq(applier_resume_offset(b.a, 1, &off), 0);
	cr_assert_eq(applier_reset_offset(b.a, 1, off, true), 0);
	shard_digest da[NPARTS], db_[NPARTS];
	digests(a.db, da);
	digests(b.db, db_);
	for (uint32_t p = 0; p < NPARTS; p++) {
		cr_expect_eq(da[p].digest, db_[p].digest, "partition %u: the epoch is not state",
		             p);
		cr_expect_eq(da[p].keys, db_[p].keys);
	}
	replica_close(&a);
	replica_close(&b);
}

Test(shard, a_partition_behind_has_another_digest_and_offset)
{
	make_log();
	replica a, b;
	replica_replayed(&a, "a");
	replica_open(&b, "b");
	for (size_t i = 0; i + 1 < T.nlog; i++)
		apply_msg(&b, &T.log[i]);
	uint32_t last = T.log[T.nlog - 1].p;
	shard_digest da[NPARTS], db_[NPARTS];
	digests(a.db, da);
	digests(b.db, db_);
	cr_expect_neq(da[last].digest, db_[last].digest);
	cr_expect_eq(da[last].offset, db_[last].offset + 1);
	replica_close(&a);
	replica_close(&b);
}

/* ---- the ops API --------------------------------------------------------- */

static hclient_answer call(int port, const char *method, const char *path, const char *token)
{
	hclient_req r = {.host = "127.0.0.1",
	                 .port = port,
	                 .method = method,
	                 .path = path,
	                 .token = token,
	                 .timeout_ms = 10000,
	                 .max_body = 1 << 20};
	hclient_answer a;
	char err[256];
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), 0, "%s %s: %s", method, path, err);
	return a;
}

static json_t *call_json(int port, const char *method, const char *path, int want)
{
	hclient_answer a = call(port, method, path, TOKEN);
	cr_assert_eq(a.status, want, "%s %s -> %d %s", method, path, a.status, a.body);
	json_t *j = json_loads(a.body, 0, NULL);
	cr_assert_not_null(j, "not JSON: %s", a.body);
	free(a.body);
	return j;
}

/* An item (post:N) of partition p. */
static void item_in(uint32_t p, char *out, size_t cap)
{
	for (int n = 0;; n++) {
		snprintf(out, cap, "post:%d", n);
		if (partition_of(out, strlen(out), NPARTS) == p)
			return;
	}
}

static ops_api *start_api(replica *r, const shard_set *own)
{
	ops_api_opts o = {.listen = "127.0.0.1:0",
	                  .token = TOKEN,
	                  .db = r->db,
	                  .ctr = &T.ctr,
	                  .partitions = NPARTS,
	                  .ap = r->a,
	                  .owned = own,
	                  .instance_id = "c-test"};
	char err[256];
	ops_api *api = ops_api_start(&o, err, sizeof err);
	cr_assert_not_null(api, "%s", err);
	return api;
}

Test(shard, an_item_of_a_partition_not_owned_gets_421_naming_it)
{
	make_log();
	replica r;
	replica_replayed(&r, "a");
	shard_set own;
	char err[256];
	cr_assert_eq(shard_set_parse(&own, "0-1", NPARTS, err, sizeof err), 0);
	ops_api *api = start_api(&r, &own);
	int port = ops_api_port(api);
	char mine[16], theirs[16], path[256];
	item_in(1, mine, sizeof mine);
	item_in(2, theirs, sizeof theirs);

	snprintf(path, sizeof path, "/v1/items/post/%s/likes", strchr(theirs, ':') + 1);
	json_t *j = call_json(port, "GET", path, 421);
	json_t *e = json_object_get(j, "error");
	cr_expect_str_eq(json_string_value(json_object_get(e, "code")), "not_owner");
	cr_expect_eq(json_integer_value(json_object_get(e, "partition")), 2);
	cr_expect_not_null(strstr(json_string_value(json_object_get(e, "message")), "partition 2"));
	json_decref(j);
	snprintf(path, sizeof path, "/v1/items/post/%s/likes/users/u1", strchr(theirs, ':') + 1);
	json_decref(call_json(port, "GET", path, 421));
	snprintf(path, sizeof path, "/v1/items/post/%s/likes", strchr(mine, ':') + 1);
	json_decref(call_json(port, "GET", path, 200));

	/* /v1/counts: the owned answered, the other listed. */
	snprintf(path, sizeof path, "/v1/counts?items=%s,%s", mine, theirs);
	j = call_json(port, "GET", path, 200);
	json_t *items = json_object_get(j, "items");
	cr_expect_not_null(json_object_get(items, mine));
	cr_expect_null(json_object_get(items, theirs));
	json_t *no = json_object_get(j, "not_owned");
	cr_assert_eq(json_array_size(no), 1, "%s", json_dumps(j, 0));
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(no, 0), "item")), theirs);
	cr_expect_eq(json_integer_value(json_object_get(json_array_get(no, 0), "partition")), 2);
	json_decref(j);
	snprintf(path, sizeof path, "/v1/counts?items=%s", theirs);
	json_decref(call_json(port, "GET", path, 421));

	/* Digests and stats cover the owned partitions only. */
	j = call_json(port, "GET", "/v1/digest", 200);
	json_t *parts = json_object_get(j, "partitions");
	cr_assert_eq(json_array_size(parts), 2);
	cr_expect_eq(json_integer_value(json_object_get(json_array_get(parts, 1), "partition")), 1);
	cr_expect_not_null(json_object_get(j, "digest"), "the whole-store digest stays");
	cr_expect_eq(json_array_size(json_object_get(j, "offsets")), NPARTS);
	json_decref(j);
	json_decref(call_json(port, "GET", "/v1/digest?partition=3", 421));
	json_decref(call_json(port, "GET", "/v1/digest?partition=9", 400));
	j = call_json(port, "GET", "/v1/digest?partition=1", 200);
	cr_expect_eq(json_array_size(json_object_get(j, "partitions")), 1);
	json_decref(j);
	j = call_json(port, "GET", "/v1/stats", 200);
	cr_expect_eq(json_array_size(json_object_get(j, "partitions")), 2);
	json_decref(j);
	ops_api_stop(api);
	shard_set_free(&own);
	replica_close(&r);
}

Test(shard, a_backup_has_the_digests_and_offsets_of_its_source)
{
	make_log();
	replica r;
	replica_replayed(&r, "a");
	ops_api *api = start_api(&r, NULL);
	int port = ops_api_port(api);
	char path[512], bdir[256];
	snprintf(bdir, sizeof bdir, "%s/backup1", T.dir);
	cr_assert_eq(bdir[0], '/', "testdir is absolute");

	snprintf(path, sizeof path, "/v1/admin/backup?dir=%s", bdir);
	hclient_answer a = call(port, "POST", path, NULL);
	cr_expect_eq(a.status, 401, "the token is always needed");
	free(a.body);
	a = call(port, "GET", path, TOKEN);
	cr_expect_eq(a.status, 405);
	free(a.body);
	json_decref(call_json(port, "POST", "/v1/admin/backup?dir=relative/x", 400));

	json_t *j = call_json(port, "POST", path, 200);
	/* Applied after the copy: not in the backup. */
	shard_digest at[NPARTS];
	digests(r.db, at);
	cr_expect_str_eq(json_string_value(json_object_get(j, "dir")), bdir);
	json_t *offs = json_object_get(j, "offsets");
	cr_assert_eq(json_array_size(offs), NPARTS);
	for (uint32_t p = 0; p < NPARTS; p++)
		cr_expect_eq((uint64_t)json_integer_value(
		                 json_object_get(json_array_get(offs, p), "offset")),
		             at[p].offset);
	json_decref(j);
	json_decref(call_json(port, "POST", path, 409)); /* the dir exists now */

	char spath[300];
	snprintf(spath, sizeof spath, "%s/store", bdir);
	store *bk = testdir_open_store(spath);
	shard_digest got[NPARTS];
	digests(bk, got);
	for (uint32_t p = 0; p < NPARTS; p++) {
		cr_expect_eq(got[p].digest, at[p].digest, "partition %u", p);
		cr_expect_eq(got[p].offset, at[p].offset, "partition %u", p);
		cr_expect_eq(got[p].keys, at[p].keys, "partition %u", p);
	}
	char *v = NULL;
	size_t vn = 0;
	cr_assert_eq(
	    store_get(bk, "M" SHARD_META_BACKUP_OF, strlen("M" SHARD_META_BACKUP_OF), &v, &vn), 0);
	cr_expect(vn == 6 && memcmp(v, "c-test", 6) == 0);
	free(v);
	store_close(bk);
	ops_api_stop(api);
	replica_close(&r);
}

/* ---- prune and the recorded set ------------------------------------------ */

Test(shard, prune_removes_exactly_the_keys_not_owned)
{
	make_log();
	replica r;
	replica_replayed(&r, "a");
	shard_set own;
	char err[256];
	cr_assert_eq(shard_set_parse(&own, "0,2", NPARTS, err, sizeof err), 0);
	cr_assert_eq(shard_note_owned(r.db, &own, err, sizeof err), 0, "%s", err);
	shard_digest before[NPARTS], after[NPARTS];
	digests(r.db, before);
	/* Count what should stay and what should go. */
	uint64_t keep = 0, drop = 0;
	store_iter *it = store_iter_new(r.db, "", 0);
	const char *k, *v;
	size_t kn, vn;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t p;
		if (shard_key_partition(k, kn, NPARTS, &p) == 0 && !shard_owns(&own, p))
			drop++;
		else
			keep++;
	}
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	cr_assert_gt(drop, 0);
	applier_free(r.a); /* central is stopped for a prune */
	r.a = NULL;

	shard_prune_counts n;
	cr_assert_eq(shard_prune(r.db, &own, &n), 0);
	cr_expect_eq(n.deleted, drop);
	cr_expect_gt(n.by_tag[CKEY_HOME - 'A'], 0, "the home index's keys go with the rest");
	cr_expect_eq(n.scanned, keep + drop);
	uint64_t left = 0;
	it = store_iter_new(r.db, "", 0);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t p;
		left++;
		if (shard_key_partition(k, kn, NPARTS, &p) == 0)
			cr_expect(shard_owns(&own, p), "a key of partition %u stayed", p);
	}
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	cr_expect_eq(left, keep);
	digests(r.db, after);
	for (uint32_t p = 0; p < NPARTS; p++) {
		if (shard_owns(&own, p)) {
			cr_expect_eq(after[p].digest, before[p].digest, "kept partition %u", p);
			cr_expect_eq(after[p].offset, before[p].offset);
		} else {
			cr_expect_eq(after[p].keys, 0, "dropped partition %u", p);
			cr_expect_eq(after[p].offset, 0);
		}
	}
	/* The recorded set stays (metadata is not a partition's). */
	char *val = NULL;
	size_t vl = 0;
	cr_assert_eq(store_get(r.db, "M" SHARD_META_OWNED, strlen("M" SHARD_META_OWNED), &val, &vl),
	             0);
	cr_expect(vl == 3 && memcmp(val, "0,2", 3) == 0);
	free(val);
	shard_set_free(&own);
	store_close(r.db);
}

Test(shard, the_owned_set_is_recorded_and_a_change_rewrites_it)
{
	char dir[128], err[256];
	snprintf(dir, sizeof dir, "%s/m", T.dir);
	store *db = testdir_open_store(dir);
	shard_set a, b;
	cr_assert_eq(shard_set_parse(&a, "0-1", NPARTS, err, sizeof err), 0);
	cr_assert_eq(shard_set_parse(&b, "1-3", NPARTS, err, sizeof err), 0);
	const char *key = "M" SHARD_META_OWNED;
	char *v = NULL;
	size_t vn = 0;
	cr_assert_eq(shard_note_owned(db, &a, err, sizeof err), 0);
	cr_assert_eq(store_get(db, key, strlen(key), &v, &vn), 0);
	cr_expect(vn == 3 && memcmp(v, "0-1", 3) == 0);
	free(v);
	cr_assert_eq(shard_note_owned(db, &b, err, sizeof err), 0);
	cr_assert_eq(store_get(db, key, strlen(key), &v, &vn), 0);
	cr_expect(vn == 3 && memcmp(v, "1-3", 3) == 0);
	free(v);
	shard_set_free(&a);
	shard_set_free(&b);
	store_close(db);
}
