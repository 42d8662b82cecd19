/* test_changelog_gap.c - the changelog's records the log lost: a store
 * the log lost records of (the embedded cluster drops a partition's
 * oldest past about 5 MiB) never takes over, unless a peer's copy
 * replaces it (changelog_opts.reseed); a store's position, and a copy's
 * (changelog_snapshot), never passes an acknowledged write not yet
 * stored; a record whose offset the client does not know (an implicit
 * acknowledgement) is not known to count; an active whose own unchecked
 * records the log lost refuses them, and every write after, as a
 * timeout's (outcome unknown), holding none. The fixture is
 * changelog_fixture.h, shared with test_changelog.c.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "edge/changelog/changelog_int.h"
#include "sbuf.h"
#include "tests/support/proc.h"
#include "tests/unit/edge/changelog_fixture.h"

TestSuite(changelog_gap, .init = setup, .fini = teardown, .timeout = 60);

/* --- records the log lost ---------------------------------------------------- */

/* 100 KB of random letters (seed): the client's compression saves little. */
static char *random_value(unsigned seed)
{
	char *big = malloc(100000);
	cr_assert_not_null(big);
	srand(seed);
	for (int i = 0; i < 99999; i++)
		big[i] = (char)('a' + rand() % 26);
	big[99999] = 0;
	return big;
}

/* Replicated writes of 100 KB each past what the embedded cluster keeps
 * of a partition (about 5 MiB): it drops the oldest records, as
 * retention would. */
static void overrun(changelog *cl, store *db, unsigned seed)
{
	char *big = random_value(seed);
	for (int i = 0; i < 80; i++) {
		store_batch *wb = sample(big, "b", "none");
		replicated_write(cl, db, wb);
		store_batch_free(wb);
	}
	free(big);
}

Test(changelog_gap, a_store_that_missed_records_the_log_lost_never_takes_over)
{
	char err[256] = "";
	T.o.beat_ms = 60000;
	T.o.takeover_ms = 125000;
	store *db = open_named("writer");
	changelog *cl = active_on(&T.o, db);
	overrun(cl, db, 7);
	changelog_free(cl);
	changelog_restored r;
	store *fresh = restored_as("fresh", &r);
	cr_assert_gt(r.missing, 0, "the log starts past offset 0");
	cl = changelog_new(&T.o, err, sizeof err);
	cr_assert_not_null(cl, "%s", err);
	cr_assert_eq(changelog_take(cl, fresh, NULL, err, sizeof err), ERR_CORRUPT, "%s", err);
	cr_assert_not(changelog_active(cl));
	cr_assert_eq(changelog_gap(cl), (uint64_t)r.missing);
	/* The writer's own store lacks nothing: it may take over again. */
	changelog *again = changelog_new(&T.o, err, sizeof err);
	cr_assert_not_null(again, "%s", err);
	cr_assert_eq(changelog_take(again, db, NULL, err, sizeof err), 0, "%s", err);
	changelog_free(again);
	changelog_free(cl);
	store_close(fresh);
	store_close(db);
}

/* changelog_opts.reseed for the test: the writer's store copied key by
 * key into db (as seed.h's copy does, the gap key left out), or a refusal
 * when ctx is NULL. */
static int copy_writer(void *ctx, store *db, int64_t log_start, char *err, size_t errlen)
{
	(void)log_start;
	if (!ctx) {
		snprintf(err, errlen, "no peer answers");
		return ERR_IO;
	}
	store_batch *wb = store_batch_new();
	store_iter *it = store_iter_new(db, "", 0);
	const char *k, *v;
	size_t kn, vn;
	while (store_iter_next(it, &k, &kn, &v, &vn))
		store_batch_del(wb, k, kn);
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	it = store_iter_new(ctx, "", 0);
	while (store_iter_next(it, &k, &kn, &v, &vn))
		if (!ekey_is_alone(k, kn, EKEY_LOG_GAP))
			store_batch_put(wb, k, kn, v, vn);
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	int rc = store_write(db, wb);
	store_batch_free(wb);
	return rc;
}

Test(changelog_gap, a_store_before_the_logs_start_takes_a_peers_copy_and_may_take_over)
{
	char err[256] = "";
	T.o.beat_ms = 60000;
	T.o.takeover_ms = 125000;
	store *db = open_named("writer");
	changelog *cl = active_on(&T.o, db);
	store_batch *wb = sample("first", "b", "none");
	replicated_write(cl, db, wb);
	store_batch_free(wb);
	overrun(cl, db, 11);
	changelog_free(cl);
	/* No peer answers: the store follows on, unfit, as before. */
	store *fresh = open_named("fresh");
	put_local(fresh, "Kold", "stale");
	T.o.reseed = copy_writer;
	T.o.reseed_ctx = NULL;
	changelog_restored r;
	cr_assert_eq(changelog_restore(&T.o, fresh, &r, err, sizeof err), 0, "%s", err);
	cr_assert_not(r.seeded);
	cr_assert_gt(r.missing, 0);
	/* The writer answers: its copy replaces the store, which then lacks
	 * nothing (its gap went with the rest) and may take over. */
	T.o.reseed_ctx = db;
	cr_assert_eq(changelog_restore(&T.o, fresh, &r, err, sizeof err), 0, "%s", err);
	cr_assert(r.seeded);
	cr_assert_eq(r.missing, 0);
	expect(fresh, "Kold", NULL);
	expect(fresh, "Mk2", "b");
	cl = changelog_new(&T.o, err, sizeof err);
	cr_assert_not_null(cl, "%s", err);
	cr_assert_eq(changelog_take(cl, fresh, NULL, err, sizeof err), 0, "%s", err);
	cr_assert_eq(changelog_gap(cl), 0);
	changelog_free(cl);
	store_close(fresh);
	store_close(db);
}

/* Records of this instance's epoch, 100 KB each, appended by another
 * producer until the embedded cluster drops the oldest: the active's
 * last checked record and the stretch after it go, as a trim or
 * retention faster than its appends would take them. */
static void overrun_behind(uint64_t epoch, unsigned seed)
{
	char *big = random_value(seed);
	for (int i = 0; i < 80; i++) {
		store_batch *wb = sample(big, "b", "none");
		sbuf rec;
		sbuf_init(&rec);
		changelog_encode(wb, epoch, &rec);
		(void)foreign_record(rec.p, rec.len);
		sbuf_free(&rec);
		store_batch_free(wb);
	}
	free(big);
}

/* Two appends in flight when the log loses the stretch before them:
 * the first one's check finds the loss, the second comes back after it.
 * Whether a takeover was among the lost records cannot be known, so
 * neither is known to count (503 not_replicated, not a success, and not
 * not_active either: they are in the log under this epoch), and nothing
 * is held on the disk for later, even with durability = local. */
static void lose_the_checks_with_two_in_flight(bool reseed)
{
	T.o.beat_ms = 60000;
	T.o.takeover_ms = 125000;
	T.o.durability = CHANGELOG_LOCAL;
	if (reseed)
		T.o.reseed = copy_writer;
	store *db = open_named("writer");
	changelog *cl = active_on(&T.o, db);
	store_batch *wb = sample("checked", "b", "none");
	replicated_write(cl, db, wb);
	store_batch_free(wb);
	overrun_behind(changelog_epoch(cl), 5);
	store_batch *w1 = sample("one", "b", "none"), *w2 = sample("two", "b", "none");
	changelog_pending *p1 = changelog_append_begin(cl, w1, true);
	changelog_pending *p2 = changelog_append_begin(cl, w2, true);
	cr_assert_eq(changelog_append_end(cl, w1, p1), ERR_TIMEOUT, "the check that finds it");
	cr_assert_eq(changelog_append_end(cl, w2, p2), ERR_TIMEOUT, "in flight past it");
	cr_assert_not(has_position(w1));
	cr_assert_not(has_position(w2));
	store_batch_free(w1);
	store_batch_free(w2);
	cr_assert(changelog_unchecked(cl));
	cr_assert_not(changelog_active(cl));
	cr_assert_not(changelog_fenced(cl), "no takeover was read");
	cr_assert_eq(changelog_held(cl), 0, "nothing held once not the writer");
	/* Every later write is refused, and none is held either. */
	wb = sample("later", "b", "none");
	cr_assert_neq(changelog_append(cl, wb, true), 0);
	store_batch_free(wb);
	cr_assert_eq(changelog_held(cl), 0);
	cr_assert_not(changelog_degraded(cl));
	/* A peer's copy can mend the store only where one is configured. */
	cr_assert_eq(changelog_needs_copy(cl), reseed);
	changelog_free(cl);
	store_close(db);
}

Test(changelog_gap, an_active_whose_unchecked_records_the_log_lost_answers_them_unknown)
{
	lose_the_checks_with_two_in_flight(false);
}

Test(changelog_gap, an_active_that_lost_its_checks_needs_a_copy_where_a_peer_can_give_one)
{
	lose_the_checks_with_two_in_flight(true);
}

/* Groups and seals write on different threads: a seal acknowledged
 * after a group may reach the store first. Its position is held back to
 * the group's record, so a store that stops there (a crash, or a copy
 * of it) replays the group; a copy's position is held back the same way
 * (changelog_snapshot); with nothing in flight an active's copy is at
 * its last record, past its beats. */
/* likes_edge_changelog_unwritten_appends, as the changelog set it. */
static int64_t unwritten(void)
{
	return (int64_t)metric_value(metrics_gauge(T.reg, "changelog_unwritten_appends", "", NULL));
}

Test(changelog_gap, a_position_never_passes_an_acknowledged_write_not_yet_stored)
{
	char err[256] = "";
	T.o.beat_ms = 100;
	T.o.takeover_ms = 1000;
	T.o.timeout_ms = 400;
	store *db = open_named("writer");
	changelog *cl = active_on(&T.o, db);
	store_batch *g = put1("Kg", "group"), *s = put1("Ks", "seal");
	cr_assert_eq(changelog_append(cl, g, true), 0); /* acknowledged, not written yet */
	cr_assert_eq(unwritten(), 1, "the group's append, on the gauge");
	replicated_write(cl, db, s); /* later, and written first */
	cr_assert_eq(unwritten(), 1, "the seal's came and went");
	uint64_t stored = 0;
	cr_assert_eq(store_read_u64(db, LOG_KEY(EKEY_LOG_POSITION), 1, &stored), 0);
	int64_t at = -1;
	store_snap *sn = changelog_snapshot(cl, db, &at);
	cr_assert_not_null(sn);
	store_snap_free(sn);
	cr_assert_eq(at, (int64_t)stored, "the copy at the store's held-back position");
	/* The store as it is now, restored: the group comes from the log. */
	store *crash = open_named("crash");
	cr_assert_eq(copy_writer(db, crash, 0, err, sizeof err), 0);
	changelog_restored r;
	cr_assert_eq(changelog_restore(&T.o, crash, &r, err, sizeof err), 0, "%s", err);
	expect(crash, "Kg", "group");
	expect(crash, "Ks", "seal");
	store_close(crash);
	/* The group's write lands: nothing in flight, and beats since. */
	cr_assert_eq(store_write(db, g), 0);
	changelog_written(cl, g, 0);
	cr_assert_eq(unwritten(), 0);
	uint64_t after = 0;
	cr_assert_eq(store_read_u64(db, LOG_KEY(EKEY_LOG_POSITION), 1, &after), 0);
	cr_assert_eq(after, stored + 1, "the group's own position, one before the seal's end");
	proc_sleep_ms(500);
	sn = changelog_snapshot(cl, db, &at);
	cr_assert_not_null(sn);
	store_snap_free(sn);
	cr_assert_gt(at, (int64_t)after + 1, "past the seal and the beats since (%lld)",
	             (long long)at);
	store_batch_free(g);
	store_batch_free(s);
	changelog_free(cl);
	store_close(db);
}

/* --- a record acknowledged without its offset ------------------------------ */

Test(changelog_gap, a_record_acknowledged_without_its_offset_is_refused_and_checked_later)
{
	/* librdkafka's idempotent producer acknowledges a record whose
	 * request timed out once a later one is acknowledged, with no
	 * offset: seen on a real cluster with a follower paused. Nothing
	 * says what came before it in the log, so its write is refused, and
	 * the check stays where it was for the next record to read from. */
	store *db;
	changelog *cl = active_after_a_write("writer", "a", &db);
	changelog_lock(&cl->vmu);
	int64_t before = cl->next_off;
	cr_assert_eq(changelog_order_check(cl, -1001 /* RD_KAFKA_OFFSET_INVALID */), ERR_TIMEOUT);
	cr_assert_eq(cl->next_off, before, "the check did not move");
	changelog_unlock(&cl->vmu);
	cr_assert(changelog_active(cl), "still the writer");
	cr_assert_not(changelog_fenced(cl));
	/* The next write reads whatever lies between (here: nothing but
	 * beats) and counts. */
	store_batch *wb = sample("c", "d", "none");
	replicated_write(cl, db, wb);
	store_batch_free(wb);
	expect(db, "Mk1", "c");
	changelog_free(cl);
	store_close(db);
}
