/* test_changelog_takeover.c - instances and epochs: only an instance
 * that took over appends; one taken over from is fenced and its later
 * records void; a takeover names a writer time after every one before
 * it, and a follower's its place, counting only there (one that lands
 * after records its writer was not shown fences no one); a record the
 * active cannot read between its own fences it; a follower tails the
 * log, takes over a silent one and not a live one, and stores the
 * position its beats moved; the first instance of a new log takes it
 * over. The rest of the changelog is test_changelog.c's; the fixture
 * (changelog_fixture.h) is shared.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "clock.h"
#include "edge/changelog/changelog.h"
#include "edge/changelog/changelog_int.h"
#include "log.h"
#include "sbuf.h"
#include "tests/support/kafka_util.h"
#include "tests/support/proc.h"
#include "tests/support/testdir.h"
#include "tests/unit/edge/changelog_fixture.h"

TestSuite(changelog_takeover, .init = setup, .fini = teardown, .timeout = 60);

/* --- instances and epochs ------------------------------------------------------- */

Test(changelog_takeover, only_an_instance_that_took_over_appends)
{
	char err[256] = "";
	changelog *cl = changelog_new(&T.o, err, sizeof err);
	cr_assert_not_null(cl, "%s", err);
	store_batch *wb = sample("x", "b", "none");
	cr_assert_eq(changelog_append(cl, wb, false), ERR_FENCED);
	cr_assert_not(has_position(wb));
	/* Nor in the two halves a pipelined group commit uses. */
	changelog_pending *p = changelog_append_begin(cl, wb, true);
	cr_assert_eq(changelog_append_end(cl, wb, p), ERR_FENCED);
	cr_assert_not(has_position(wb));
	store_batch_free(wb);
	cr_assert_eq(changelog_epoch(cl), 0);
	changelog_free(cl);
}

Test(changelog_takeover, a_takeover_fences_the_former_active_and_voids_its_later_records)
{
	changelog_opts oa = T.o, ob = T.o;
	oa.instance = "dc1";
	ob.instance = "dc2";
	/* No beat: a's own record below is what finds the takeover. */
	oa.beat_ms = ob.beat_ms = 60000;
	oa.takeover_ms = ob.takeover_ms = 125000;
	store *da = open_named("a"), *dbb = open_named("b");
	changelog *a = active_on(&oa, da);
	cr_assert_eq(changelog_epoch(a), 1);
	store_batch *wb = sample("before", "b", "none");
	replicated_write(a, da, wb);
	store_batch_free(wb);

	/* b takes over (a is paused, say): it gets a's write first. */
	changelog *b = active_on(&ob, dbb);
	cr_assert_eq(changelog_epoch(b), 2);
	expect(dbb, "Mk1", "before");

	/* a comes back: its record lands after the takeover, is found
	 * there, and a is fenced for good. */
	wb = sample("zombie", "z", "none");
	cr_assert_eq(changelog_append(a, wb, false), ERR_FENCED);
	cr_assert_not(has_position(wb));
	store_batch_free(wb);
	cr_assert(changelog_fenced(a));
	cr_assert_not(changelog_active(a));
	wb = sample("again", "z", "none");
	cr_assert_eq(changelog_append(a, wb, false), ERR_FENCED);
	store_batch_free(wb);

	wb = sample("after", "b3", "none");
	replicated_write(b, dbb, wb);
	store_batch_free(wb);

	/* A store rebuilt from the log: a's write before the takeover and
	 * b's after it; a's record after the takeover is void. */
	changelog_restored r;
	store *fresh = restored_as("fresh", &r);
	cr_assert_eq(r.voided, 1, "a's record after the takeover, voided %lu",
	             (unsigned long)r.voided);
	expect(fresh, "Mk1", "after");
	expect(fresh, "Mk2", "b3");
	char *e = get(fresh, LOG_KEY(EKEY_LOG_EPOCH));
	cr_assert_not_null(e);
	free(e);
	changelog_free(a);
	changelog_free(b);
	store_close(da);
	store_close(dbb);
	store_close(fresh);
}

/* A takeover record of epoch by instance, naming place expect, appended
 * as another instance would: its offset. */
static int64_t foreign_takeover(uint64_t epoch, const char *instance, int64_t expect)
{
	sbuf rec;
	sbuf_init(&rec);
	changelog_encode_takeover(epoch, instance, clock_wall_ms(), expect, &rec);
	int64_t at = foreign_record(rec.p, rec.len);
	sbuf_free(&rec);
	return at;
}

/* A newer instance's record, in a form this binary cannot decode, between
 * two of the active's own: it may be a takeover, so the active steps
 * down as if it were one (an upgrade's window never holds two actives). */
Test(changelog_takeover, a_record_the_active_cannot_read_between_its_own_fences_it)
{
	changelog_opts oa = T.o;
	oa.beat_ms = 60000;
	oa.takeover_ms = 125000;
	store *da = open_named("a");
	changelog *a = active_on(&oa, da);
	store_batch *wb = sample("before", "b", "none");
	replicated_write(a, da, wb);
	store_batch_free(wb);
	static const unsigned char newer[] = {9, 2, 0, 0, 0, 0, 0, 0, 0, 7};
	(void)foreign_record(newer, sizeof newer);
	wb = sample("after", "b2", "none");
	cr_assert_eq(changelog_append(a, wb, false), ERR_FENCED);
	store_batch_free(wb);
	cr_assert(changelog_fenced(a));
	changelog_free(a);
	store_close(da);
}

/* A standby reading a deposed leader (cut from its followers, still
 * answering clients with the log as it was) finds the log silent while
 * the active writes on at the new leader; its takeover, naming the place
 * after the last record it was shown, lands after the active's newer
 * records. It is void for every reader: the active goes on, unfenced,
 * and a store rebuilt from the log keeps the active's epoch and writes.
 * The same takeover at its place fences the active. */
Test(changelog_takeover, a_takeover_landed_past_its_place_fences_no_one_and_one_at_it_does)
{
	changelog_opts oa = T.o;
	oa.instance = "dc1";
	oa.beat_ms = 60000; /* no beat: the offsets below are exact */
	oa.takeover_ms = 125000;
	store *da = open_named("a");
	changelog *a = active_on(&oa, da);
	cr_assert_eq(changelog_epoch(a), 1);
	store_batch *wb = sample("before", "b", "none");
	replicated_write(a, da, wb); /* a's takeover at 0, this at 1 */
	store_batch_free(wb);

	/* Shown the log up to a's takeover only, the standby names 1. */
	int64_t at = foreign_takeover(2, "dc2", 1);
	cr_assert_eq(at, 2);
	wb = sample("after", "b2", "none");
	replicated_write(a, da, wb); /* the order check reads the takeover */
	store_batch_free(wb);
	cr_assert_not(changelog_fenced(a));
	cr_assert(changelog_active(a));
	cr_assert_eq(changelog_epoch(a), 1);

	changelog_restored r;
	store *fresh = restored_as("fresh", &r);
	cr_assert_eq(r.voided, 1, "the misplaced takeover, voided %lu", (unsigned long)r.voided);
	expect(fresh, "Mk1", "after");
	expect(fresh, "Mk2", "b2");
	uint64_t e = 0;
	cr_assert_eq(store_read_u64(fresh, LOG_KEY(EKEY_LOG_EPOCH), 1, &e), 0);
	cr_assert_eq(e, 1, "the void takeover raised no epoch");
	store_close(fresh);

	/* At its place (the log's end: a's write at 3), it counts. */
	at = foreign_takeover(2, "dc2", 4);
	cr_assert_eq(at, 4);
	wb = sample("zombie", "z", "none");
	cr_assert_eq(changelog_append(a, wb, false), ERR_FENCED);
	store_batch_free(wb);
	cr_assert(changelog_fenced(a));
	fresh = restored_as("fresh2", &r);
	cr_assert_eq(store_read_u64(fresh, LOG_KEY(EKEY_LOG_EPOCH), 1, &e), 0);
	cr_assert_eq(e, 2);
	expect(fresh, "Mk1", "after");
	store_close(fresh);
	changelog_free(a);
	store_close(da);
}

Test(changelog_takeover,
     a_takeover_names_a_writer_time_after_every_one_before_it_whatever_the_clock)
{
	changelog_opts oa = T.o, ob = T.o, oc = T.o;
	oa.instance = "dc1";
	ob.instance = "dc2";
	oc.instance = "dc3";
	oa.beat_ms = ob.beat_ms = oc.beat_ms = 60000;
	oa.takeover_ms = ob.takeover_ms = oc.takeover_ms = 125000;
	/* a's store names a writer time an hour ahead of this clock (a
	 * predecessor whose clock ran ahead): a takes over just after it. */
	uint64_t ahead = clock_wall_ms() + 3600 * 1000;
	store *da = open_named("a"), *dbb = open_named("b");
	char v[8];
	store_put_u64((unsigned char *)v, ahead);
	store_batch *wb = store_batch_new();
	store_batch_put(wb, LOG_KEY(EKEY_LOG_WRITER), 1, v, 8);
	cr_assert_eq(store_write(da, wb), 0);
	store_batch_free(wb);
	changelog *a = active_on(&oa, da);
	cr_assert_eq(changelog_writer(a), ahead + 1);
	uint64_t w = 0;
	cr_assert_eq(store_read_u64(da, LOG_KEY(EKEY_LOG_WRITER), 1, &w), 0);
	cr_assert_eq(w, ahead + 1, "its own takeover record read back");

	/* b's store knows nothing of it: b learns it from a's takeover
	 * record in the log, and still comes after a. */
	changelog *b = active_on(&ob, dbb);
	cr_assert_eq(changelog_epoch(b), 2);
	cr_assert_eq(changelog_writer(b), ahead + 2);

	/* A store rebuilt from the log holds b's writer time. */
	changelog_restored r;
	store *fresh = restored_as("fresh", &r);
	cr_assert_eq(store_read_u64(fresh, LOG_KEY(EKEY_LOG_WRITER), 1, &w), 0);
	cr_assert_eq(w, ahead + 2);
	changelog_free(a);
	changelog_free(b);

	/* The log starts again (the cluster rebuilt empty): its epochs start
	 * at 1 again, and the writer time the store kept still puts c, on
	 * that store, after b. */
	kafka_util_mock_free(&T.mc, &T.mrk);
	T.mc = kafka_util_mock_new(3, TOPIC, 2, &T.mrk);
	cr_assert_not_null(T.mc);
	oc.brokers = T.o.brokers = rd_kafka_mock_cluster_bootstraps(T.mc);
	char err[256] = "";
	cr_assert_eq(changelog_restore(&oc, fresh, &r, err, sizeof err), 0, "%s", err);
	cr_assert_gt(r.behind, 0);
	changelog *c = active_on(&oc, fresh);
	cr_assert_eq(changelog_epoch(c), 1);
	cr_assert_eq(changelog_writer(c), ahead + 3);
	changelog_free(c);
	store_close(fresh);
	store_close(da);
	store_close(dbb);
}

Test(changelog_takeover, a_takeover_from_before_writer_times_names_none_and_the_next_uses_its_clock)
{
	/* Version 2's takeover as it was written before writer times: the
	 * head, then the instance, and nothing after it. */
	sbuf rec;
	sbuf_init(&rec);
	changelog_encode_takeover(1, "old", 1, -1, &rec);
	rd_kafka_t *pr = kafka_util_new_producer(rd_kafka_mock_cluster_bootstraps(T.mc));
	delivery d = {0};
	cr_assert_eq(rd_kafka_producev(pr, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(1),
	                               RD_KAFKA_V_KEY("edge-a", 6),
	                               RD_KAFKA_V_VALUE(rec.p, rec.len - 8),
	                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	                               RD_KAFKA_V_OPAQUE(&d), RD_KAFKA_V_END),
	             RD_KAFKA_RESP_ERR_NO_ERROR);
	cr_assert(kafka_util_wait_delivery(pr, &d, 10000) && !d.err);
	rd_kafka_destroy(pr);
	sbuf_free(&rec);

	changelog_restored r;
	store *fresh = restored_as("fresh", &r);
	uint64_t w = 0, e = 0;
	cr_assert_eq(store_read_u64(fresh, LOG_KEY(EKEY_LOG_EPOCH), 1, &e), 0);
	cr_assert_eq(e, 1, "the old takeover counts");
	cr_assert_eq(store_read_u64(fresh, LOG_KEY(EKEY_LOG_WRITER), 1, &w), ERR_NOTFOUND,
	             "and names no writer time");
	uint64_t before = clock_wall_ms();
	changelog *b = active_on(&T.o, fresh);
	uint64_t after = clock_wall_ms();
	cr_assert_eq(changelog_epoch(b), 2);
	cr_assert(changelog_writer(b) >= before && changelog_writer(b) <= after,
	          "the clock's: %llu not in [%llu, %llu]", (unsigned long long)changelog_writer(b),
	          (unsigned long long)before, (unsigned long long)after);
	cr_assert_eq(store_read_u64(fresh, LOG_KEY(EKEY_LOG_WRITER), 1, &w), 0);
	cr_assert_eq(w, changelog_writer(b));
	changelog_free(b);
	store_close(fresh);
}

static int write_db(void *ctx, store_batch *wb)
{
	return store_write(ctx, wb);
}

static _Atomic int promoted;

static int note_promote(void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&promoted, 1);
	return 0;
}

/* Waits up to ms for db's k to read want. */
static bool soon(store *db, const char *k, const char *want, int ms)
{
	for (uint64_t until = clock_mono_ms() + (uint64_t)ms; clock_mono_ms() < until;) {
		char *v = get(db, k);
		bool same = v && strcmp(v, want) == 0;
		free(v);
		if (same)
			return true;
		proc_sleep_ms(10);
	}
	return false;
}

Test(changelog_takeover, a_takeover_shorter_than_an_append_and_two_beats_is_refused)
{
	char err[256] = "";
	changelog_opts o = T.o;
	o.timeout_ms = 2000;
	o.beat_ms = 100;
	o.takeover_ms = 2199;
	cr_assert_eq(changelog_timing_check(&o, err, sizeof err), ERR_CONFIG);
	cr_assert_null(changelog_new(&o, err, sizeof err));
	cr_assert(strstr(err, "takeover_ms (2199)"), "%s", err);
	o.takeover_ms = 2200;
	cr_assert_eq(changelog_timing_check(&o, err, sizeof err), 0);
	o.beat_ms = 0; /* the default beat, 500 ms */
	cr_assert_eq(changelog_timing_check(&o, err, sizeof err), ERR_CONFIG);
}

Test(changelog_takeover, a_follower_tails_a_live_active_and_takes_over_a_silent_log)
{
	char err[256] = "";
	atomic_store(&promoted, 0);
	changelog_opts oa = T.o, ob = T.o;
	oa.timeout_ms = ob.timeout_ms = 400;
	oa.beat_ms = ob.beat_ms = 100;
	oa.takeover_ms = ob.takeover_ms = 800;
	oa.instance = "dc1";
	ob.instance = "dc2";
	store *da = open_named("a"), *dbb = open_named("b");
	changelog *a = active_on(&oa, da);
	store_batch *wb = sample("one", "b", "none");
	replicated_write(a, da, wb);
	store_batch_free(wb);

	changelog *b = changelog_new(&ob, err, sizeof err);
	cr_assert_not_null(b, "%s", err);
	changelog_sink sink = {write_db, note_promote, dbb};
	cr_assert_eq(changelog_follow(b, dbb, &sink), 0);
	cr_assert(soon(dbb, "Mk1", "one", 5000), "the follower applies what is there");
	wb = sample("two", "b", "none");
	replicated_write(a, da, wb);
	store_batch_free(wb);
	cr_assert(soon(dbb, "Mk1", "two", 5000), "and what comes");

	/* a stays alive (it beats): no takeover, for two takeover_ms. */
	proc_sleep_ms(1600);
	cr_assert_eq(atomic_load(&promoted), 0);
	cr_assert_not(changelog_active(b));
	/* Its beats moved the follower's stored position past the last
	 * record that wrote anything (the writer's own position). */
	uint64_t pa = 0, pb = 0;
	cr_assert_eq(store_read_u64(da, LOG_KEY(EKEY_LOG_POSITION), 1, &pa), 0);
	cr_assert_eq(store_read_u64(dbb, LOG_KEY(EKEY_LOG_POSITION), 1, &pb), 0);
	cr_assert_gt(pb, pa, "the follower stores a position past the beats (%llu, %llu)",
	             (unsigned long long)pb, (unsigned long long)pa);

	/* a is gone: the log falls silent, b takes over. */
	uint64_t t0 = clock_mono_ms();
	changelog_free(a);
	while (!atomic_load(&promoted) && clock_mono_ms() - t0 < 10000)
		proc_sleep_ms(10);
	cr_assert_eq(atomic_load(&promoted), 1, "took over within 10 s");
	cr_assert(changelog_active(b));
	cr_assert_eq(changelog_epoch(b), 2);
	wb = sample("three", "b", "none");
	replicated_write(b, dbb, wb);
	store_batch_free(wb);
	expect(dbb, "Mk1", "three");
	changelog_free(b);
	store_close(da);
	store_close(dbb);
}

/* A follower that meets a record it cannot apply (another edge's, given
 * the same partition by mistake) stops, says so, and never takes over. */
Test(changelog_takeover, a_follower_stopped_by_a_record_it_cannot_apply_says_so)
{
	char err[256] = "";
	changelog_opts o = T.o;
	o.timeout_ms = 400;
	o.takeover_ms = 600;
	o.beat_ms = 100;
	store *mine = open_named("mine");
	changelog *b = changelog_new(&o, err, sizeof err);
	cr_assert_not_null(b, "%s", err);
	changelog_sink sink = {write_db, note_promote, mine};
	atomic_store(&promoted, 0);
	/* Another edge takes the partition over first and writes. */
	changelog_opts other = T.o;
	other.edge_id = "edge-b";
	store_close(one_write(&other, "b", "theirs"));
	cr_assert_eq(changelog_follow(b, mine, &sink), 0);
	uint64_t deadline = clock_mono_ms() + 5000;
	while (!changelog_follow_failed(b))
		cr_assert_lt(clock_mono_ms(), deadline, "the follower never stopped");
	proc_sleep_ms(1500); /* past takeover_ms, with the log silent */
	cr_assert_eq(atomic_load(&promoted), 0);
	cr_assert_not(changelog_active(b));
	cr_assert_eq(metric_value(metrics_gauge(T.reg, "changelog_follow_stopped", "", NULL)), 1,
	             "the alert's gauge says so");
	expect(mine, "Mk1", NULL);
	changelog_free(b);
	store_close(mine);
}

Test(changelog_takeover, the_first_instance_of_a_new_log_takes_it_over)
{
	char err[256] = "";
	atomic_store(&promoted, 0);
	T.o.timeout_ms = 400;
	T.o.beat_ms = 100;
	T.o.takeover_ms = 600;
	store *db = open_named("first");
	changelog *cl = changelog_new(&T.o, err, sizeof err);
	cr_assert_not_null(cl, "%s", err);
	changelog_sink sink = {write_db, note_promote, db};
	cr_assert_eq(changelog_follow(cl, db, &sink), 0);
	uint64_t t0 = clock_mono_ms();
	while (!atomic_load(&promoted) && clock_mono_ms() - t0 < 10000)
		proc_sleep_ms(10);
	cr_assert_eq(atomic_load(&promoted), 1, "took over an empty log within 10 s");
	cr_assert_eq(changelog_epoch(cl), 1);
	changelog_free(cl);
	store_close(db);
}

Test(changelog_takeover, a_store_ahead_of_a_recreated_log_starts_again_at_its_end)
{
	char err[256] = "";
	store *db = one_write(&T.o, "ahead", "old");
	/* The cluster is rebuilt empty: a new mock cluster. */
	kafka_util_mock_free(&T.mc, &T.mrk);
	T.mc = kafka_util_mock_new(3, TOPIC, 2, &T.mrk);
	cr_assert_not_null(T.mc);
	T.o.brokers = rd_kafka_mock_cluster_bootstraps(T.mc);
	changelog_restored r;
	cr_assert_eq(changelog_restore(&T.o, db, &r, err, sizeof err), 0, "%s", err);
	cr_assert_gt(r.behind, 0);
	expect(db, "Mk1", "old"); /* kept */
	/* The first instance takes the new log over at epoch 1, and its
	 * records count (an epoch kept from the old log would void them). */
	changelog *cl = active_on(&T.o, db);
	cr_assert_eq(changelog_epoch(cl), 1);
	store_batch *wb = sample("new", "b", "none");
	replicated_write(cl, db, wb);
	store_batch_free(wb);
	changelog_free(cl);
	store *fresh = open_named("fresh");
	cr_assert_eq(changelog_restore(&T.o, fresh, &r, err, sizeof err), 0, "%s", err);
	cr_assert_eq(r.voided, 0);
	expect(fresh, "Mk1", "new");
	store_close(fresh);
	store_close(db);
}
