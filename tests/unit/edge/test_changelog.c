/* test_changelog.c - the changelog: a record says exactly the store
 * batch's changes (or its mark) and nothing that does not decode passes;
 * appends against an embedded cluster (librdkafka's mock) are
 * acknowledged and store their position, and appenders on several
 * threads each learn their own record's offset; a store rebuilt from the log,
 * empty or part way, holds what the written one held, from its own
 * edge's partition only, and refuses another edge's records; an append
 * the cluster does not acknowledge fails and adds no position; with
 * durability = local, writes are held and appended in order when the log
 * is back. Instances, takeovers and followers are
 * test_changelog_takeover.c's; records the log lost, and a peer's copy,
 * test_changelog_gap.c's; refused records and their undoing
 * test_changelog_undo.c's; the fixture (changelog_fixture.h) is shared.
 */
#include <criterion/criterion.h>
#include <pthread.h>
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

TestSuite(changelog, .init = setup, .fini = teardown, .timeout = 60);

static uint64_t counter(const char *name)
{
	return metric_value(metrics_counter(T.reg, name, "", NULL));
}

Test(changelog, a_record_decodes_to_the_same_changes_and_a_bad_one_is_refused)
{
	store_batch *wb = sample("one", "", "Gold");
	cr_assert_not(has_position(wb));
	sbuf rec;
	sbuf_init(&rec);
	changelog_encode(wb, 7, &rec);
	store *db = open_named("a");
	store_batch_put(wb, "Gold", 4, "x", 1); /* only the record is written below */
	cr_assert_eq(store_write(db, wb), 0);
	store_batch *back = store_batch_new();
	changelog_head h;
	cr_assert_eq(changelog_decode(rec.p, rec.len, &h, back), 0);
	cr_assert_eq(h.kind, CHANGELOG_DATA);
	cr_assert_eq(h.epoch, 7);
	cr_assert_eq(store_write(db, back), 0);
	expect(db, "Mk1", "one");
	expect(db, "Mk2", "");
	expect(db, "Gold", NULL);
	/* Every cut short, a byte more, another version: refused. */
	for (size_t n = 0; n < rec.len; n++) {
		store_batch_clear(back);
		cr_assert_eq(changelog_decode(rec.p, n, &h, back), ERR_CORRUPT, "cut at %zu", n);
	}
	char *more = malloc(rec.len + 1);
	memcpy(more, rec.p, rec.len);
	more[rec.len] = 0;
	cr_assert_eq(changelog_decode(more, rec.len + 1, &h, back), ERR_CORRUPT);
	more[0] = CHANGELOG_FORMAT + 1;
	cr_assert_eq(changelog_decode(more, rec.len, &h, back), ERR_VERSION);
	more[0] = CHANGELOG_FORMAT;
	more[1] = 9; /* no such kind */
	cr_assert_eq(changelog_decode(more, rec.len, &h, back), ERR_CORRUPT);
	free(more);
	sbuf_free(&rec);
	store_batch_free(back);
	store_batch_free(wb);
	store_close(db);
}

Test(changelog, marks_and_records_from_before_epochs_decode)
{
	sbuf rec;
	sbuf_init(&rec);
	changelog_encode_takeover(3, "dc2/host7", 1764300000123ULL, -1, &rec);
	changelog_head h;
	store_batch *none = store_batch_new();
	cr_assert_eq(changelog_decode(rec.p, rec.len, &h, none), 0);
	cr_assert_eq(h.kind, CHANGELOG_TAKEOVER);
	cr_assert_eq(h.epoch, 3);
	cr_assert_eq(h.instance_len, 9);
	cr_assert_eq(memcmp(h.instance, "dc2/host7", 9), 0);
	cr_assert_eq(h.writer_ms, 1764300000123ULL);
	cr_assert_eq(h.expect_at, -1, "names no place: counts wherever it lands");
	cr_assert(changelog_takeover_counts(&h, 0) && changelog_takeover_counts(&h, 99));
	/* A takeover from before writer times ends after its instance: it
	 * names none. Every other cut, and a byte more, is refused. */
	size_t old = rec.len - 8;
	cr_assert_eq(changelog_decode(rec.p, old, &h, none), 0);
	cr_assert_eq(h.kind, CHANGELOG_TAKEOVER);
	cr_assert_eq(h.instance_len, 9);
	cr_assert_eq(h.writer_ms, 0);
	for (size_t n = 0; n < rec.len; n++)
		if (n != old)
			cr_assert_eq(changelog_decode(rec.p, n, &h, none), ERR_CORRUPT,
			             "cut at %zu", n);
	sbuf_add(&rec, "x", 1);
	cr_assert_eq(changelog_decode(rec.p, rec.len, &h, none), ERR_CORRUPT);
	sbuf_free(&rec);
	/* A follower's takeover names its place after the writer time; the
	 * form without one still decodes, and so does nothing between. */
	sbuf_init(&rec);
	changelog_encode_takeover(4, "dc3", 1764300000124ULL, 41, &rec);
	cr_assert_eq(changelog_decode(rec.p, rec.len, &h, none), 0);
	cr_assert_eq(h.kind, CHANGELOG_TAKEOVER);
	cr_assert_eq(h.writer_ms, 1764300000124ULL);
	cr_assert_eq(h.expect_at, 41);
	cr_assert(changelog_takeover_counts(&h, 41), "at its place");
	cr_assert_not(changelog_takeover_counts(&h, 42), "past it");
	cr_assert_not(changelog_takeover_counts(&h, 40), "before it (the log cut back)");
	cr_assert_eq(changelog_decode(rec.p, rec.len - 8, &h, none), 0);
	cr_assert_eq(h.expect_at, -1);
	for (size_t n = rec.len - 7; n < rec.len; n++)
		cr_assert_eq(changelog_decode(rec.p, n, &h, none), ERR_CORRUPT, "cut at %zu", n);
	sbuf_add(&rec, "x", 1);
	cr_assert_eq(changelog_decode(rec.p, rec.len, &h, none), ERR_CORRUPT);
	sbuf_free(&rec);
	changelog_head beat = {.kind = CHANGELOG_BEAT, .expect_at = -1};
	cr_assert_not(changelog_takeover_counts(&beat, 0), "a beat is no takeover");
	sbuf_init(&rec);
	changelog_encode_takeover(3, "dc2/host7", 0, -1, &rec);
	cr_assert_eq(changelog_decode(rec.p, rec.len, &h, none), ERR_CORRUPT,
	             "a writer time field of 0 is none a takeover writes");
	sbuf_free(&rec);
	sbuf_init(&rec);
	changelog_encode_beat(3, &rec);
	cr_assert_eq(changelog_decode(rec.p, rec.len, &h, none), 0);
	cr_assert_eq(h.kind, CHANGELOG_BEAT);
	sbuf_add(&rec, "x", 1);
	cr_assert_eq(changelog_decode(rec.p, rec.len, &h, none), ERR_CORRUPT);
	sbuf_free(&rec);
	/* Version 1: [1][changes u32][op 1][klen]["k"][vlen]["v"], epoch 0. */
	static const unsigned char v1[] = {1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 'k', 0, 0, 0, 1, 'v'};
	cr_assert_eq(changelog_decode(v1, sizeof v1, &h, none), 0);
	cr_assert_eq(h.kind, CHANGELOG_DATA);
	cr_assert_eq(h.epoch, 0);
	store_batch_free(none);
}

Test(changelog, a_wiped_store_gets_back_every_replicated_write)
{
	char err[256] = "";
	store *db = open_named("active");
	changelog *cl = active_on(&T.o, db);
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
	changelog_restored r;
	store *fresh = restored_as("fresh", &r);
	cr_assert_eq(r.records, 21, "the takeover and the 20 writes");
	cr_assert_eq(r.from, 0);
	cr_assert(r.to >= 21, "to %ld", (long)r.to); /* and the beats, if any came */
	cr_assert_eq(r.missing, 0);
	expect(fresh, "Mk1", "v19");
	expect(fresh, "Mk2", "b");
	/* Again: nothing more to do. */
	cr_assert_eq(changelog_restore(&T.o, fresh, &r, err, sizeof err), 0, "%s", err);
	cr_assert_eq(r.records, 0);
	store_close(fresh);
}

enum { WRITERS = 4, EACH = 25 };

/* One of appends_from_several_threads' writers: EACH records of its own
 * key (Mt<id> = v<i>), each offset its report gave kept; failures
 * counted (no assertion off the test's thread). */
typedef struct writer {
	changelog *cl;
	int id;
	int64_t at[EACH];
	int failed;
} writer;

static void *write_many(void *arg)
{
	writer *w = arg;
	char k[8], v[16];
	snprintf(k, sizeof k, "Mt%d", w->id);
	for (int i = 0; i < EACH; i++) {
		snprintf(v, sizeof v, "v%d", i);
		store_batch *wb = store_batch_new();
		store_batch_put(wb, k, strlen(k), v, strlen(v));
		sbuf rec;
		sbuf_init(&rec);
		changelog_encode(wb, changelog_epoch(w->cl), &rec);
		w->at[i] = -1;
		if (changelog_produce_wait(w->cl, &rec, &w->at[i]) || w->at[i] < 0)
			w->failed++;
		sbuf_free(&rec);
		store_batch_free(wb);
	}
	return NULL;
}

/* The one key a decoded record's batch puts, and its value. */
typedef struct one_put {
	char k[16], v[16];
	int n;
} one_put;

static void put_seen(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	one_put *o = ctx;
	if (o->n++ == 0 && kn < sizeof o->k && vn < sizeof o->v) {
		memcpy(o->k, k, kn);
		o->k[kn] = 0;
		memcpy(o->v, v, vn);
		o->v[vn] = 0;
	}
}

static void del_seen(void *ctx, const char *k, size_t kn)
{
	(void)k;
	(void)kn;
	((one_put *)ctx)->n++;
}

/* Appenders serve the producer's reports themselves, one at a time: with
 * several waiting at once, each gets its own report, so the offset each
 * is told holds exactly the record it appended. */
Test(changelog, appends_from_several_threads_each_get_their_own_report)
{
	store *db = open_named("active");
	changelog *cl = active_on(&T.o, db);
	writer w[WRITERS];
	pthread_t th[WRITERS];
	for (int t = 0; t < WRITERS; t++) {
		w[t] = (writer){.cl = cl, .id = t};
		cr_assert_eq(pthread_create(&th[t], NULL, write_many, &w[t]), 0);
	}
	for (int t = 0; t < WRITERS; t++) {
		pthread_join(th[t], NULL);
		cr_assert_eq(w[t].failed, 0, "writer %d: %d appends failed", t, w[t].failed);
		for (int i = 1; i < EACH; i++)
			cr_assert_gt(w[t].at[i], w[t].at[i - 1], "writer %d's offsets go back", t);
	}
	changelog_free(cl);
	store_close(db);

	/* Every offset a writer was told holds that writer's record. */
	rd_kafka_t *rk = kafka_util_new_consumer(T.o.brokers, "test-readback");
	cr_assert_not_null(rk);
	kafka_util_assign_from_start(rk, TOPIC, T.o.partition);
	int matched = 0, data = 0;
	rd_kafka_message_t *m;
	while (data < WRITERS * EACH && (m = kafka_util_next_message(rk, 5000))) {
		changelog_head h;
		store_batch *wb = store_batch_new();
		cr_assert_eq(changelog_decode(m->payload, m->len, &h, wb), 0);
		if (h.kind == CHANGELOG_DATA) {
			data++;
			one_put o = {.n = 0};
			store_batch_iterate(wb, &o, put_seen, del_seen);
			cr_assert_eq(o.n, 1);
			int t = o.k[2] - '0', i = atoi(o.v + 1);
			cr_assert(t >= 0 && t < WRITERS && i >= 0 && i < EACH, "%s = %s", o.k, o.v);
			cr_assert_eq(w[t].at[i], m->offset,
			             "%s = %s is at %ld, its writer was told %ld", o.k, o.v,
			             (long)m->offset, (long)w[t].at[i]);
			matched++;
		}
		store_batch_free(wb);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	cr_assert_eq(matched, WRITERS * EACH);
}

Test(changelog, a_kept_store_applies_only_what_it_lacks)
{
	char err[256] = "";
	T.o.beat_ms = 60000; /* no beat between the records: offsets below are exact */
	T.o.takeover_ms = 125000;
	store *db;
	changelog *cl = active_after_a_write("kept", "first", &db);
	store_batch *wb;
	/* Acknowledged by the cluster, lost before its local write (the
	 * edge stopped in between): the log has it, the store does not. */
	wb = sample("second", "b2", "none");
	cr_assert_eq(changelog_append(cl, wb, false), 0);
	store_batch_free(wb);
	changelog_free(cl);
	put_local(db, "Mk1", "local");
	changelog_restored r;
	cr_assert_eq(changelog_restore(&T.o, db, &r, err, sizeof err), 0, "%s", err);
	cr_assert_eq(r.records, 1, "only the record after the store's position");
	cr_assert_eq(r.from, 2, "after the takeover and the first write");
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
	T.o.timeout_ms = 300;
	store *db;
	changelog *cl = active_after_a_write("down", "ok", &db);
	store_batch *wb;
	for (int b = 1; b <= 3; b++)
		cr_assert_eq(rd_kafka_mock_broker_set_down(T.mc, b), 0);
	wb = sample("lost", "b", "none");
	int rc = changelog_append(cl, wb, false);
	cr_assert(rc == ERR_TIMEOUT || rc == ERR_KAFKA, "rc %d", rc);
	cr_assert_not(has_position(wb), "no position added to a failed append");
	store_batch_free(wb);
	cr_assert_eq(counter("changelog_append_failures_total"), 1);
	for (int b = 1; b <= 3; b++)
		cr_assert_eq(rd_kafka_mock_broker_set_up(T.mc, b), 0);
	changelog_free(cl);
	store_close(db);
}

/* After a failed copy, one append at a time probes the cluster and the
 * others are refused at once: a write does not wait out timeout_ms for a
 * copy the cluster will not take, nor make the request loop wait for
 * it. Beats are off here, so the probe alone opens the way again. */
Test(changelog, once_a_copy_failed_one_append_probes_and_the_others_are_refused_at_once)
{
	quiet(); /* timeout 300 ms, no beat */
	store *db;
	changelog *cl = active_after_a_write("probe", "ok", &db);
	store_batch *wb;
	brokers(false);
	wb = sample("first", "b", "none");
	uint64_t t0 = clock_mono_ms();
	int rc = changelog_append(cl, wb, true);
	cr_assert(rc == ERR_TIMEOUT || rc == ERR_KAFKA, "rc %d", rc);
	cr_assert_geq(clock_mono_ms() - t0, 250, "the first failure waits for its deadline");
	store_batch_free(wb);
	/* The probe is produced and waits; another append meanwhile is
	 * refused without waiting. */
	store_batch *probe = sample("probe", "b", "none");
	changelog_pending *pp = changelog_append_begin(cl, probe, true);
	wb = sample("fast", "b", "none");
	t0 = clock_mono_ms();
	cr_assert_eq(changelog_append(cl, wb, true), ERR_TIMEOUT);
	cr_assert_lt(clock_mono_ms() - t0, 100, "refused at once while the probe is out");
	cr_assert_not(has_position(wb));
	store_batch_free(wb);
	rc = changelog_append_end(cl, probe, pp);
	cr_assert(rc == ERR_TIMEOUT || rc == ERR_KAFKA, "rc %d", rc);
	store_batch_free(probe);
	cr_assert_eq(counter("changelog_append_failures_total"), 3);
	brokers(true);
	/* Probes go on until one lands; then every append is produced. */
	t0 = clock_mono_ms();
	for (;;) {
		wb = sample("back", "b", "none");
		rc = changelog_append(cl, wb, true);
		if (rc == 0)
			cr_assert_eq(store_write(db, wb), 0);
		store_batch_free(wb);
		if (rc == 0)
			break;
		cr_assert_lt(clock_mono_ms() - t0, 20000, "no probe landed in 20 s");
		proc_sleep_ms(10);
	}
	store_batch *a = sample("a", "b", "none"), *b = sample("b", "b", "none");
	two_in_flight_written(cl, db, a, b);
	store_batch_free(a);
	store_batch_free(b);
	changelog_free(cl);
	store_close(db);
}

/* An active may send batches to central only while a record of its own
 * passed the order check less than takeover_ms - beat_ms ago: cut off
 * from the log (or paused) for longer, a standby may have taken over.
 * Beats renew it once the cluster is back. */
Test(changelog, an_active_sends_batches_only_while_its_last_checked_record_is_recent)
{
	T.o.timeout_ms = 300;
	T.o.beat_ms = 100;
	T.o.takeover_ms = 600; /* the lease: 500 ms after the last checked record */
	store *db;
	changelog *cl = active_after_a_write("lease", "v", &db);
	cr_assert(changelog_may_send(cl), "active, a record just checked");
	proc_sleep_ms(800);
	cr_assert(changelog_may_send(cl), "beats renew it while the cluster answers");
	brokers(false);
	uint64_t t0 = clock_mono_ms();
	while (changelog_may_send(cl))
		cr_assert_lt(clock_mono_ms() - t0, 600, "still sending %lu ms into the outage",
		             (unsigned long)(clock_mono_ms() - t0));
	cr_log_info("stopped sending %lu ms into the outage",
	            (unsigned long)(clock_mono_ms() - t0));
	brokers(true);
	t0 = clock_mono_ms();
	while (!changelog_may_send(cl))
		cr_assert_lt(clock_mono_ms() - t0, 20000, "never sending again after the outage");
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

/* --- durability = local ------------------------------------------------------ */

Test(changelog, with_local_durability_writes_are_held_in_order_and_appended_when_the_log_is_back)
{
	quiet();
	T.o.durability = CHANGELOG_LOCAL;
	store *db;
	changelog *cl = active_after_a_write("local", "v0", &db);
	store_batch *wb;
	brokers(false);
	/* The log is out of reach: each group's copy is held on the disk,
	 * the first after a failed append, the next at once. */
	char v[16];
	for (int i = 1; i <= 3; i++) {
		snprintf(v, sizeof v, "v%d", i);
		wb = sample(v, "b", "none");
		cr_assert_eq(changelog_append(cl, wb, true), 0, "held, not refused");
		cr_assert_not(has_position(wb), "a held record has no position yet");
		cr_assert_eq(store_write(db, wb), 0);
		store_batch_free(wb);
	}
	/* The same through the two halves a pipelined group commit uses. */
	wb = sample("v3b", "b", "none");
	changelog_pending *p = changelog_append_begin(cl, wb, true);
	cr_assert_eq(changelog_append_end(cl, wb, p), 0, "held, not refused");
	cr_assert_not(has_position(wb));
	cr_assert_eq(store_write(db, wb), 0);
	store_batch_free(wb);
	cr_assert(changelog_degraded(cl));
	cr_assert_eq(changelog_held(cl), 4);
	/* A seal's copy may not wait: refused while records are held. */
	wb = sample("seal", "b", "none");
	cr_assert_eq(changelog_append(cl, wb, false), ERR_TIMEOUT);
	p = changelog_append_begin(cl, wb, false);
	cr_assert_eq(changelog_append_end(cl, wb, p), ERR_TIMEOUT);
	store_batch_free(wb);
	cr_assert_neq(changelog_drain(cl), 0, "the log is still out of reach");
	cr_assert_eq(changelog_held(cl), 4);
	brokers(true);
	drain_all(cl);
	cr_assert_not(changelog_degraded(cl));
	wb = sample("v4", "b4", "none");
	replicated_write(cl, db, wb); /* to the log again, after the held ones */
	store_batch_free(wb);
	changelog_free(cl);
	/* A store rebuilt from the log has every write, the last one last. */
	changelog_restored r;
	store *fresh = restored_as("fresh", &r);
	expect(fresh, "Mk1", "v4");
	expect(fresh, "Mk2", "b4");
	store_close(fresh);
	store_close(db);
}

/* A standby that reaches the cluster when it comes back waits takeover_ms
 * for a record before it takes over; the active must get one in first,
 * however long the cluster was gone. librdkafka's own pause between
 * reconnects grows to 10 s while no broker answers, which once let a
 * standby take over from a live active (and void the writes it held). An
 * append, like a beat, lands only once the producer has reconnected. */
Test(changelog, an_active_appends_again_soon_after_a_long_outage)
{
	store *db = open_named("outage");
	changelog *cl = active_on(&T.o, db); /* the default beat and takeover */
	brokers(false);
	proc_sleep_ms(9000); /* the pause between tries would reach about 6 s */
	brokers(true);
	uint64_t up = clock_mono_ms(), took;
	for (;;) {
		store_batch *wb = sample("after", "b", "none");
		int rc = changelog_append(cl, wb, false);
		store_batch_free(wb);
		took = clock_mono_ms() - up;
		if (rc == 0)
			break;
		cr_assert(rc == ERR_TIMEOUT || rc == ERR_KAFKA, "rc %d", rc);
		cr_assert_lt(took, 20000, "no append taken in 20 s");
	}
	cr_log_info("the first append landed %lu ms after the cluster's return",
	            (unsigned long)took);
	cr_assert_lt(took, 2000,
	             "the first append landed %lu ms after the cluster's return, past the "
	             "2000 ms a standby waits",
	             (unsigned long)took);
	changelog_free(cl);
	store_close(db);
}

Test(changelog, records_held_before_a_restart_go_first_at_the_next_takeover)
{
	quiet();
	T.o.durability = CHANGELOG_LOCAL;
	store *db = open_named("restart");
	changelog *cl = active_on(&T.o, db);
	brokers(false);
	store_batch *wb = store_batch_new();
	store_batch_put(wb, "Mk7", 3, "held", 4);
	cr_assert_eq(changelog_append(cl, wb, true), 0);
	cr_assert_eq(store_write(db, wb), 0);
	store_batch_free(wb);
	changelog_free(cl); /* stopped while the record is held */
	brokers(true);
	cl = active_on(&T.o, db); /* the same store, after a restart */
	cr_assert(changelog_degraded(cl));
	cr_assert_eq(changelog_held(cl), 1);
	wb = sample("new", "n", "none");
	cr_assert_eq(changelog_append(cl, wb, true), 0, "held behind the old one");
	cr_assert_eq(store_write(db, wb), 0);
	store_batch_free(wb);
	drain_all(cl);
	changelog_free(cl);
	changelog_restored r;
	store *fresh = restored_as("fresh", &r);
	expect(fresh, "Mk1", "new");
	expect(fresh, "Mk2", "n");
	/* Held under the first epoch, appended under the second: not void. */
	expect(fresh, "Mk7", "held");
	cr_assert_eq(r.voided, 0);
	store_close(fresh);
	store_close(db);
}

/* A follower's sink for a store of its own, counting its promotions. */
typedef struct twin {
	store *db;
	_Atomic int promoted;
} twin;

static int twin_apply(void *ctx, store_batch *wb)
{
	return store_write(((twin *)ctx)->db, wb);
}

static int twin_promote(void *ctx)
{
	atomic_fetch_add(&((twin *)ctx)->promoted, 1);
	return 0;
}

Test(changelog, two_instances_started_together_end_with_one_active_and_none_fenced)
{
	char err[256] = "";
	/* Timings the edge would accept (changelog_timing_check): a live
	 * active's beats queue behind a stuck append, so shorter ones let a
	 * stall of the machine look like a silent log. */
	T.o.timeout_ms = 400;
	T.o.beat_ms = 50;
	T.o.takeover_ms = 1000;
	for (int trial = 0; trial < 6; trial++) {
		char na[16], nb[16];
		snprintf(na, sizeof na, "a%d", trial);
		snprintf(nb, sizeof nb, "b%d", trial);
		twin ta = {open_named(na), 0}, tb = {open_named(nb), 0};
		changelog *a = changelog_new(&T.o, err, sizeof err);
		changelog *b = changelog_new(&T.o, err, sizeof err);
		cr_assert(a && b, "%s", err);
		changelog_sink ka = {twin_apply, twin_promote, &ta};
		changelog_sink kb = {twin_apply, twin_promote, &tb};
		cr_assert_eq(changelog_follow(a, ta.db, &ka), 0);
		cr_assert_eq(changelog_follow(b, tb.db, &kb), 0);
		uint64_t t0 = clock_mono_ms();
		while (!atomic_load(&ta.promoted) && !atomic_load(&tb.promoted) &&
		       clock_mono_ms() - t0 < 10000)
			proc_sleep_ms(10);
		proc_sleep_ms(2000); /* two takeover_ms more: a late second takeover shows */
		int n = atomic_load(&ta.promoted) + atomic_load(&tb.promoted);
		cr_assert_eq(n, 1, "trial %d: %d takeovers", trial, n);
		cr_assert_not(changelog_fenced(a) || changelog_fenced(b), "trial %d", trial);
		cr_assert(changelog_active(a) != changelog_active(b));
		changelog_free(a);
		changelog_free(b);
		store_close(ta.db);
		store_close(tb.db);
		/* A new empty log for the next trial. */
		kafka_util_mock_free(&T.mc, &T.mrk);
		T.mc = kafka_util_mock_new(3, TOPIC, 2, &T.mrk);
		cr_assert_not_null(T.mc);
		T.o.brokers = rd_kafka_mock_cluster_bootstraps(T.mc);
	}
}
