/* changelog_fixture.h - the fixture test_changelog.c,
 * test_changelog_undo.c, test_changelog_gap.c and test_changelog_takeover.c
 * share: each test's temp dir (made in .init,
 * removed in .fini) with an embedded cluster (librdkafka's mock, 3
 * brokers, topic TOPIC of 2 partitions), the metrics registry and
 * changelog options for edge-a on partition 1 (T.o, which a test may
 * change); stores under the temp dir, store batches of a sample's puts
 * and delete, a producer that took the log over, a write replicated
 * as the ledger does it, and a record appended as another instance would; quiet options, the
 * brokers up or down, and a drain until nothing is held.
 *
 * Static, included by one test file of a binary: each file declares its
 * own TestSuite with setup and teardown.
 */
#ifndef TESTS_UNIT_EDGE_CHANGELOG_FIXTURE_H
#define TESTS_UNIT_EDGE_CHANGELOG_FIXTURE_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "edge/changelog/changelog.h"
#include "log.h"
#include "clock.h"
#include "tests/support/kafka_util.h"
#include "tests/support/proc.h"
#include "tests/support/testdir.h"

/* The one-byte store key of a changelog tag (keys.h), as a C string. */
#define LOG_KEY(tag) ((const char[]){(char)(tag), 0})

#define TOPIC "likes.changelog"

/* Helpers not every file uses. */
#define CHANGELOG_FIXTURE static __attribute__((unused))

static struct {
	char dir[64];
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *mrk;
	changelog_opts o;
	metrics *reg;
} T;

static void setup(void)
{
	log_threshold = getenv("TEST_LOG") ? LOG_INFO : LOG_ERROR;
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
	    .timeout_ms = 1000, /* with the default beat and takeover, as the edge has */
	    .reg = T.reg,
	};
}

static void teardown(void)
{
	kafka_util_mock_free(&T.mc, &T.mrk);
	metrics_free(T.reg);
	testdir_remove(T.dir);
}

/* A store under T.dir/name. */
static store *open_named(const char *name)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", T.dir, name);
	return testdir_open_store(path);
}

/* One put of k = v, as a write the changelog does not see. */
CHANGELOG_FIXTURE void put_local(store *db, const char *k, const char *v)
{
	store_batch *wb = store_batch_new();
	store_batch_put(wb, k, strlen(k), v, strlen(v));
	cr_assert_eq(store_write(db, wb), 0);
	store_batch_free(wb);
}

CHANGELOG_FIXTURE void saw_key(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	(void)v;
	(void)vn;
	if (ekey_is_alone(k, kn, EKEY_LOG_POSITION))
		*(bool *)ctx = true;
}

CHANGELOG_FIXTURE void saw_del(void *ctx, const char *k, size_t kn)
{
	(void)ctx;
	(void)k;
	(void)kn;
}

/* wb holds the changelog's position key. */
CHANGELOG_FIXTURE bool has_position(const store_batch *wb)
{
	bool seen = false;
	store_batch_iterate(wb, &seen, saw_key, saw_del);
	return seen;
}

CHANGELOG_FIXTURE char *get(store *db, const char *k)
{
	char *v;
	size_t n;
	return store_get(db, k, strlen(k), &v, &n) == 0 ? v : NULL;
}

CHANGELOG_FIXTURE void expect(store *db, const char *k, const char *want)
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

/* wb of one put, k = v. */
CHANGELOG_FIXTURE store_batch *put1(const char *k, const char *v)
{
	store_batch *wb = store_batch_new();
	store_batch_put(wb, k, strlen(k), v, strlen(v));
	return wb;
}

/* wb of two puts and a delete. */
CHANGELOG_FIXTURE store_batch *sample(const char *a, const char *b, const char *gone)
{
	store_batch *wb = store_batch_new();
	store_batch_put(wb, "Mk1", 3, a, strlen(a));
	store_batch_put(wb, "Mk2", 3, b, strlen(b));
	store_batch_del(wb, gone, strlen(gone));
	return wb;
}

/* The producer of o, active on db (it took the log over). */
CHANGELOG_FIXTURE changelog *active_on(const changelog_opts *o, store *db)
{
	char err[256] = "";
	changelog *cl = changelog_new(o, err, sizeof err);
	cr_assert_not_null(cl, "%s", err);
	cr_assert_not(changelog_active(cl));
	cr_assert_eq(changelog_take(cl, db, NULL, err, sizeof err), 0, "%s", err);
	cr_assert(changelog_active(cl));
	return cl;
}

/* Writes wb to db as the ledger does with the changelog on: appended
 * first, then the store write with the position added. */
CHANGELOG_FIXTURE void replicated_write(changelog *cl, store *db, store_batch *wb)
{
	cr_assert_eq(changelog_append(cl, wb, false), 0);
	cr_assert(has_position(wb));
	cr_assert_eq(store_write(db, wb), 0);
	changelog_written(cl, wb, 0);
}

/* value (n bytes) appended to the changelog's partition under the edge's
 * key, as another instance would: its offset. */
CHANGELOG_FIXTURE int64_t foreign_record(const void *value, size_t n)
{
	rd_kafka_t *pr = kafka_util_new_producer(T.o.brokers);
	delivery d = {0};
	cr_assert_eq(rd_kafka_producev(pr, RD_KAFKA_V_TOPIC(TOPIC),
	                               RD_KAFKA_V_PARTITION(T.o.partition),
	                               RD_KAFKA_V_KEY(T.o.edge_id, strlen(T.o.edge_id)),
	                               RD_KAFKA_V_VALUE((void *)value, n),
	                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	                               RD_KAFKA_V_OPAQUE(&d), RD_KAFKA_V_END),
	             RD_KAFKA_RESP_ERR_NO_ERROR);
	cr_assert(kafka_util_wait_delivery(pr, &d, 10000) && !d.err);
	rd_kafka_destroy(pr);
	return d.offset;
}

/* A new store named name, the log restored into it with T.o (r: what
 * the restore says). */
CHANGELOG_FIXTURE store *restored_as(const char *name, changelog_restored *r)
{
	char err[256] = "";
	store *db = open_named(name);
	cr_assert_eq(changelog_restore(&T.o, db, r, err, sizeof err), 0, "%s", err);
	return db;
}

/* A store T.dir/name holding one replicated write of value v, made
 * through a changelog with options o (closed after). */
CHANGELOG_FIXTURE store *one_write(const changelog_opts *o, const char *name, const char *v)
{
	store *db = open_named(name);
	changelog *cl = active_on(o, db);
	store_batch *wb = sample(v, "b", "none");
	replicated_write(cl, db, wb);
	store_batch_free(wb);
	changelog_free(cl);
	return db;
}

/* T.o's producer, active on a new store (*db, named name), after one
 * write replicated and written: Mk1 = v, Mk2 = "b". */
CHANGELOG_FIXTURE changelog *active_after_a_write(const char *name, const char *v, store **db)
{
	*db = open_named(name);
	changelog *cl = active_on(&T.o, *db);
	store_batch *wb = sample(v, "b", "none");
	replicated_write(cl, *db, wb);
	store_batch_free(wb);
	return cl;
}

/* a and b appended with both in flight at once (a pipelined group
 * commit's two halves), both acknowledged with a position, then written
 * to db in order and reported. */
CHANGELOG_FIXTURE void two_in_flight_written(changelog *cl, store *db, store_batch *a,
                                             store_batch *b)
{
	changelog_pending *pa = changelog_append_begin(cl, a, true);
	changelog_pending *pb = changelog_append_begin(cl, b, true);
	cr_assert_eq(changelog_append_end(cl, a, pa), 0);
	cr_assert_eq(changelog_append_end(cl, b, pb), 0);
	cr_assert(has_position(a));
	cr_assert(has_position(b));
	cr_assert_eq(store_write(db, a), 0);
	changelog_written(cl, a, 0);
	cr_assert_eq(store_write(db, b), 0);
	changelog_written(cl, b, 0);
}

/* T.o for a test that counts offsets or times out: no beat between its
 * records, no takeover of its own, appends given up after 300 ms. */
CHANGELOG_FIXTURE void quiet(void)
{
	T.o.timeout_ms = 300;
	T.o.beat_ms = 60000;
	T.o.takeover_ms = 125000;
}

/* Every broker of the embedded cluster up, or down. */
CHANGELOG_FIXTURE void brokers(bool up)
{
	for (int b = 1; b <= 3; b++)
		cr_assert_eq(up ? rd_kafka_mock_broker_set_up(T.mc, b)
		                : rd_kafka_mock_broker_set_down(T.mc, b),
		             0);
}

/* Drains until nothing is held (the client reconnects to brokers back up
 * after a backoff: the first appends may time out), within 20 s. */
CHANGELOG_FIXTURE void drain_all(changelog *cl)
{
	uint64_t t0 = clock_mono_ms();
	while (changelog_drain(cl) != 0 || changelog_held(cl) != 0) {
		cr_assert_lt(clock_mono_ms() - t0, 20000, "still %lu held",
		             (unsigned long)changelog_held(cl));
		proc_sleep_ms(50);
	}
}

#endif
