/* test_changelog.c - the changelog: a record says exactly the store
 * batch's changes and nothing that does not decode passes; appends
 * against an embedded cluster (librdkafka's mock) are acknowledged and
 * store their position; a store rebuilt from the log, empty or part way,
 * holds what the written one held, from its own edge's partition only,
 * and refuses another edge's records; an append the cluster does not
 * acknowledge fails and adds no position. (A log that starts after the
 * store's position, `missing`, needs a trimmed log, which the mock
 * cluster cannot make.)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "edge/changelog/changelog.h"
#include "log.h"
#include "tests/support/kafka_util.h"
#include "tests/support/testdir.h"

#define TOPIC "likes.changelog"

static struct {
	char dir[64];
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *mrk;
	changelog_opts o;
	metrics *reg;
} T;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	memset(&T, 0, sizeof T);
	testdir_make(T.dir, sizeof T.dir, "test_changelog");
	T.mc = kafka_util_mock_new(3, TOPIC, 2, &T.mrk);
	cr_assert_not_null(T.mc);
	T.reg = metrics_new("likes_edge_");
	T.o = (changelog_opts){
	    .brokers = rd_kafka_mock_cluster_bootstraps(T.mc),
	    .topic = TOPIC,
	    .partition = 1,
	    .edge_id = "edge-a",
	    .timeout_ms = 2000,
	    .reg = T.reg,
	};
}

static void teardown(void)
{
	kafka_util_mock_free(&T.mc, &T.mrk);
	metrics_free(T.reg);
	testdir_remove(T.dir);
}

TestSuite(changelog, .init = setup, .fini = teardown, .timeout = 60);

/* A store under T.dir/name. */
static store *open_named(const char *name)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", T.dir, name);
	return testdir_open_store(path);
}

/* One put of k = v, as a write the changelog does not see. */
static void put_local(store *db, const char *k, const char *v)
{
	store_batch *wb = store_batch_new();
	store_batch_put(wb, k, strlen(k), v, strlen(v));
	cr_assert_eq(store_write(db, wb), 0);
	store_batch_free(wb);
}

static uint64_t counter(const char *name)
{
	return metric_value(metrics_counter(T.reg, name, "", NULL));
}

static void saw_key(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	(void)v;
	(void)vn;
	if (kn == 1 && k[0] == CHANGELOG_KEY[0])
		*(bool *)ctx = true;
}

static void saw_del(void *ctx, const char *k, size_t kn)
{
	(void)ctx;
	(void)k;
	(void)kn;
}

/* wb holds the changelog's position key. */
static bool has_position(const store_batch *wb)
{
	bool seen = false;
	store_batch_iterate(wb, &seen, saw_key, saw_del);
	return seen;
}

static char *get(store *db, const char *k)
{
	char *v;
	size_t n;
	return store_get(db, k, strlen(k), &v, &n) == 0 ? v : NULL;
}

static void expect(store *db, const char *k, const char *want)
{
	char *v = get(db, k);
	if (!want) {
		cr_assert_null(v, "%s should be gone, holds %s", k, v);
		return;
	}
	cr_assert_not_null(v, "%s missing", k);
	cr_assert_str_eq(v, want, "%s", k);
	free(v);
}

/* wb of two puts and a delete. */
static store_batch *sample(const char *a, const char *b, const char *gone)
{
	store_batch *wb = store_batch_new();
	store_batch_put(wb, "Mk1", 3, a, strlen(a));
	store_batch_put(wb, "Mk2", 3, b, strlen(b));
	store_batch_del(wb, gone, strlen(gone));
	return wb;
}

Test(changelog, a_record_decodes_to_the_same_changes_and_a_bad_one_is_refused)
{
	store_batch *wb = sample("one", "", "Gold");
	cr_assert_not(has_position(wb));
	sbuf rec;
	sbuf_init(&rec);
	changelog_encode(wb, &rec);
	store *db = open_named("a");
	store_batch_put(wb, "Gold", 4, "x", 1); /* only the record is written below */
	cr_assert_eq(store_write(db, wb), 0);
	store_batch *back = store_batch_new();
	cr_assert_eq(changelog_decode(rec.p, rec.len, back), 0);
	cr_assert_eq(store_write(db, back), 0);
	expect(db, "Mk1", "one");
	expect(db, "Mk2", "");
	expect(db, "Gold", NULL);
	/* Every cut short, a byte more, another version: refused. */
	for (size_t n = 0; n < rec.len; n++) {
		store_batch_clear(back);
		cr_assert_eq(changelog_decode(rec.p, n, back), ERR_CORRUPT, "cut at %zu", n);
	}
	char *more = malloc(rec.len + 1);
	memcpy(more, rec.p, rec.len);
	more[rec.len] = 0;
	cr_assert_eq(changelog_decode(more, rec.len + 1, back), ERR_CORRUPT);
	more[0] = CHANGELOG_FORMAT + 1;
	cr_assert_eq(changelog_decode(more, rec.len, back), ERR_VERSION);
	free(more);
	sbuf_free(&rec);
	store_batch_free(back);
	store_batch_free(wb);
	store_close(db);
}

/* Writes wb to db as the ledger does with the changelog on: appended
 * first, then the store write with the position added. */
static void replicated_write(changelog *cl, store *db, store_batch *wb)
{
	cr_assert_eq(changelog_append(cl, wb), 0);
	cr_assert(has_position(wb));
	cr_assert_eq(store_write(db, wb), 0);
}

/* A store T.dir/name holding one replicated write of value v, made
 * through a changelog with options o (closed after). */
static store *one_write(const changelog_opts *o, const char *name, const char *v)
{
	char err[256] = "";
	changelog *cl = changelog_new(o, err, sizeof err);
	cr_assert_not_null(cl, "%s", err);
	store *db = open_named(name);
	store_batch *wb = sample(v, "b", "none");
	replicated_write(cl, db, wb);
	store_batch_free(wb);
	changelog_free(cl);
	return db;
}

Test(changelog, a_wiped_store_gets_back_every_replicated_write)
{
	char err[256] = "";
	changelog *cl = changelog_new(&T.o, err, sizeof err);
	cr_assert_not_null(cl, "%s", err);
	store *db = open_named("active");
	char v[16];
	for (int i = 0; i < 20; i++) {
		snprintf(v, sizeof v, "v%d", i);
		store_batch *wb = sample(v, "b", i % 2 ? "Gx" : "none");
		replicated_write(cl, db, wb);
		store_batch_free(wb);
	}
	/* A local-only write (what central says) is not in the log. */
	put_local(db, "Ccount", "7");
	cr_assert_eq(counter("changelog_appends_total"), 20);
	store_close(db);
	changelog_free(cl);

	/* The machine is lost: a new, empty store. */
	store *fresh = open_named("fresh");
	changelog_restored r;
	cr_assert_eq(changelog_restore(&T.o, fresh, &r, err, sizeof err), 0, "%s", err);
	cr_assert_eq(r.records, 20);
	cr_assert_eq(r.from, 0);
	cr_assert_eq(r.to, 20);
	cr_assert_eq(r.missing, 0);
	expect(fresh, "Mk1", "v19");
	expect(fresh, "Mk2", "b");
	/* Again: nothing more to do. */
	cr_assert_eq(changelog_restore(&T.o, fresh, &r, err, sizeof err), 0, "%s", err);
	cr_assert_eq(r.records, 0);
	store_close(fresh);
}

Test(changelog, a_kept_store_applies_only_what_it_lacks)
{
	char err[256] = "";
	changelog *cl = changelog_new(&T.o, err, sizeof err);
	cr_assert_not_null(cl, "%s", err);
	store *db = open_named("kept");
	store_batch *wb = sample("first", "b", "none");
	replicated_write(cl, db, wb);
	store_batch_free(wb);
	/* Acknowledged by the cluster, lost before its local write (the
	 * edge stopped in between): the log has it, the store does not. */
	wb = sample("second", "b2", "none");
	cr_assert_eq(changelog_append(cl, wb), 0);
	store_batch_free(wb);
	changelog_free(cl);
	put_local(db, "Mk1", "local");
	changelog_restored r;
	cr_assert_eq(changelog_restore(&T.o, db, &r, err, sizeof err), 0, "%s", err);
	cr_assert_eq(r.records, 1, "only the record after the store's position");
	cr_assert_eq(r.from, 1);
	expect(db, "Mk1", "second");
	expect(db, "Mk2", "b2");
	store_close(db);
}

Test(changelog, each_edge_restores_its_own_partition)
{
	char err[256] = "";
	store_close(one_write(&T.o, "one", "mine"));
	changelog_opts other = T.o;
	other.partition = 0;
	store *fresh = open_named("other");
	changelog_restored r;
	cr_assert_eq(changelog_restore(&other, fresh, &r, err, sizeof err), 0, "%s", err);
	cr_assert_eq(r.records, 0);
	expect(fresh, "Mk1", NULL);
	store_close(fresh);
}

Test(changelog, an_append_the_cluster_does_not_take_fails)
{
	char err[256] = "";
	T.o.timeout_ms = 300;
	changelog *cl = changelog_new(&T.o, err, sizeof err);
	cr_assert_not_null(cl, "%s", err);
	store *db = open_named("down");
	store_batch *wb = sample("ok", "b", "none");
	replicated_write(cl, db, wb);
	store_batch_free(wb);
	for (int b = 1; b <= 3; b++)
		cr_assert_eq(rd_kafka_mock_broker_set_down(T.mc, b), 0);
	wb = sample("lost", "b", "none");
	int rc = changelog_append(cl, wb);
	cr_assert(rc == ERR_TIMEOUT || rc == ERR_KAFKA, "rc %d", rc);
	cr_assert_not(has_position(wb), "no position added to a failed append");
	store_batch_free(wb);
	cr_assert_eq(counter("changelog_append_failures_total"), 1);
	for (int b = 1; b <= 3; b++)
		cr_assert_eq(rd_kafka_mock_broker_set_up(T.mc, b), 0);
	changelog_free(cl);
	store_close(db);
}

Test(changelog, a_record_of_another_edge_stops_the_restore)
{
	char err[256] = "";
	changelog_opts other = T.o;
	other.edge_id = "edge-b"; /* given the same partition by mistake */
	store_close(one_write(&other, "b", "theirs"));
	store *fresh = open_named("mine");
	changelog_restored r;
	cr_assert_eq(changelog_restore(&T.o, fresh, &r, err, sizeof err), ERR_CONFLICT);
	cr_assert_not_null(strstr(err, "edge-b"), "%s", err);
	expect(fresh, "Mk1", NULL);
	store_close(fresh);
}
