/* test_ledger_stripes.c - the view cut in stripes by partition: a count
 * read takes its item's stripe and no other lock, so a read waits for
 * nothing that happens in another stripe; a batch read answers as single
 * reads would, across stripes and windows; the stripes' count follows the
 * options; each stripe's lock time is its own, and not counted inside
 * the writer lock; a snapshot's counts are cached, each in its stripe,
 * and a count of an item outside the snapshot's partition stays out of
 * the store and every cache; a confirmation takes each op of its
 * batches off the overlay once; and readers on several threads beside
 * a writer see counts that only grow and end right.
 *
 * Same fixture as test_ledger.c (ledger_util.h), with 16 partitions;
 * ledger_int.h to hold a stripe's mutex from the test.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/ledger_util.h"
#include "tests/support/logfmt.h"
#include "tests/support/waits.h"
#include "edge/ledger/ledger_int.h"
#include "log.h"
#include "wire.h"

#define PARTS 16

static void setup(void)
{
	ledger_util_setup("test_ledger_stripes");
	T.o.partitions = PARTS;
	T.o.cache_entries = 1000;
	T.o.rt_entries = 1000;
	T.p = partition_of(ITEM, strlen(ITEM), PARTS);
	open_ledger();
}

TestSuite(ledger_stripes, .init = setup, .fini = ledger_util_teardown, .timeout = 60);

/* An item (written into buf) whose partition is p, or whose stripe is
 * not that of p when other is set. */
static const char *item_in(char *buf, size_t cap, uint32_t p, bool other)
{
	uint32_t n = T.l->view.n;
	for (int i = 0;; i++) {
		snprintf(buf, cap, "post:s%d", i);
		uint32_t q = partition_of(buf, strlen(buf), PARTS);
		if (other ? q % n != p % n : q == p)
			return buf;
	}
}

static void like(const char *item, const char *user)
{
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", item, user, true, WALL, &a), 0);
}

static void reopen_with(uint32_t partitions, size_t cache, size_t rt)
{
	ledger_free(T.l);
	T.l = NULL;
	T.o.partitions = partitions;
	T.o.cache_entries = cache;
	T.o.rt_entries = rt;
	open_ledger();
}

Test(ledger_stripes, the_stripes_follow_the_partitions_and_the_caches)
{
	cr_assert_eq(stats_now().view_stripes, LEDGER_VIEW_STRIPES);
	/* No more stripes than partitions. */
	store_close(T.db);
	testdir_remove(T.dir);
	testdir_make(T.dir, sizeof T.dir, "test_ledger_stripes");
	T.db = testdir_open_store(T.dir);
	reopen_with(4, 1000, 1000);
	cr_assert_eq(stats_now().view_stripes, 4);
	/* Each stripe keeps two entries of each cache at least, so that
	 * together they hold no more than the options allow. */
	reopen_with(4, 6, 1000);
	cr_assert_eq(stats_now().view_stripes, 3);
	cr_assert_eq(T.l->view.cache_cap, 2);
	reopen_with(4, 1000, 3);
	cr_assert_eq(stats_now().view_stripes, 1);
	cr_assert_eq(T.l->view.rt_cap, 3);
}

/* A thread making one read, and whether it is done. */
typedef struct reader {
	const char *item;
	const char *item2; /* set: ledger_read_many of item and item2 */
	ledger_view v;
	int rc;
	waits_call w;
} reader;

static void read_main(void *arg)
{
	reader *r = arg;
	if (r->item2) {
		ledger_ref refs[2] = {{"likes", r->item, 5, strlen(r->item)},
		                      {"likes", r->item2, 5, strlen(r->item2)}};
		ledger_view out[2];
		r->rc = ledger_read_many(T.l, refs, 2, out);
		r->v = out[0];
	} else {
		r->rc = ledger_read(T.l, "likes", r->item, &r->v);
	}
}

/* Runs ro and rs while ITEM's stripe is held: ro, which reads only
 * other stripes, must finish; rs, which reads ITEM's stripe too, must
 * not, until the stripe is let go. Both are joined. */
static void read_beside_a_held_stripe(reader *ro, reader *rs)
{
	vstripe *held = ledger_vstripe(&T.l->view, T.p);
	ledger_vlock_stripe(&T.l->view, held);
	waits_call_start(&ro->w, read_main, ro);
	waits_call_start(&rs->w, read_main, rs);
	bool other_done = waits_call_within(&ro->w, 5000);
	bool same_done = waits_call_within(&rs->w, 200);
	ledger_vunlock(&T.l->view, held);
	waits_call_join(&ro->w);
	cr_assert(waits_call_within(&rs->w, 5000));
	waits_call_join(&rs->w);
	cr_assert(other_done, "a read of other stripes waited for a held one");
	cr_assert_not(same_done, "a read of the held stripe did not wait for it");
	cr_assert_eq(ro->rc, 0);
	cr_assert_eq(rs->rc, 0);
}

Test(ledger_stripes, a_read_waits_only_for_its_own_stripe)
{
	char other[32], same[32];
	item_in(other, sizeof other, T.p, true);
	item_in(same, sizeof same, T.p, false);
	like(other, "u1");
	like(same, "u1");
	(void)count_of(other); /* cached: the read needs no store */
	reader ro = {.item = other}, rs = {.item = same};
	read_beside_a_held_stripe(&ro, &rs);
	cr_assert_eq(ro.v.count, 1);
	cr_assert_eq(rs.v.count, 1);
}

Test(ledger_stripes, a_batch_read_waits_only_for_the_stripes_of_its_items)
{
	char other[32], other2[32];
	item_in(other, sizeof other, T.p, true);
	snprintf(other2, sizeof other2, "%s", other);
	other2[strlen(other2) - 1] ^= 1; /* some other item; its stripe checked below */
	while (partition_of(other2, strlen(other2), PARTS) % T.l->view.n == T.p % T.l->view.n)
		other2[5]++;
	like(other, "u1");
	like(ITEM, "u1");
	reader ro = {.item = other, .item2 = other2}, rs = {.item = other, .item2 = ITEM};
	read_beside_a_held_stripe(&ro, &rs);
	cr_assert_eq(ro.v.count, 1);
}

/* Snapshot counts for the items of partition p among items[0..n): count
 * 100 + i each, as of offset. */
static void snapshot_of(uint32_t p, char (*items)[16], size_t n, uint64_t offset)
{
	wire_count cnt[64];
	uint32_t nc = 0;
	for (size_t i = 0; i < n && nc < 64; i++)
		if (partition_of(items[i], strlen(items[i]), PARTS) == p)
			cnt[nc++] = (wire_count){wire_cstr("likes", 5),
			                         wire_cstr(items[i], strlen(items[i])), 100 + i};
	wire_snapshot s = wire_util_snap(p, offset, WALL, NULL, 0, cnt, nc);
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 0), 0);
}

Test(ledger_stripes, a_batch_read_answers_as_single_reads_across_stripes_and_windows)
{
	/* 300 refs (more than one window of 256) over 40 items in every
	 * partition, two counters, some liked, some with snapshot counts,
	 * some with neither; two entries of each cache per stripe, so many
	 * reads go to the store mid-batch. */
	reopen_with(PARTS, 2 * LEDGER_VIEW_STRIPES, 1000);
	cr_assert_eq(stats_now().view_stripes, LEDGER_VIEW_STRIPES);
	enum { ITEMS = 40, REFS = 300 };
	char items[ITEMS][16];
	for (int i = 0; i < ITEMS; i++)
		snprintf(items[i], sizeof items[i], "post:b%d", i);
	for (uint32_t p = 0; p < PARTS; p++)
		snapshot_of(p, items, ITEMS / 2, 7);
	for (int i = 0; i < ITEMS; i += 3)
		like(items[i], "u1");
	for (int i = 0; i < ITEMS; i += 5)
		like(items[i], "u2");
	ledger_ref refs[REFS];
	for (int i = 0; i < REFS; i++) {
		const char *c = i % 7 == 3 ? "views" : "likes";
		const char *it = items[(i * 13) % ITEMS];
		refs[i] = (ledger_ref){c, it, strlen(c), strlen(it)};
	}
	ledger_view many[REFS];
	cr_assert_eq(ledger_read_many(T.l, refs, REFS, many), 0);
	for (int i = 0; i < REFS; i++) {
		ledger_view one;
		cr_assert_eq(ledger_read(T.l, refs[i].counter, refs[i].item, &one), 0);
		cr_assert_eq(many[i].count, one.count, "ref %d (%s %s): %" PRIu64 " vs %" PRIu64, i,
		             refs[i].counter, refs[i].item, many[i].count, one.count);
		cr_assert_eq(many[i].version, one.version, "ref %d", i);
		cr_assert_eq(many[i].known, one.known, "ref %d", i);
	}
	/* And what the counts should be. */
	for (int i = 0; i < ITEMS; i++) {
		uint64_t want =
		    (i < ITEMS / 2 ? 100 + (uint64_t)i : 0) + (i % 3 == 0) + (i % 5 == 0);
		cr_assert_eq(count_of(items[i]), want, "%s", items[i]);
	}
	cr_assert_gt(stats_now().cache_misses, 0, "some reads went to the store");
}

Test(ledger_stripes, each_stripe_is_timed_alone_and_not_under_the_writer_lock)
{
	char other[32];
	item_in(other, sizeof other, T.p, true);
	uint32_t so = partition_of(other, strlen(other), PARTS) % T.l->view.n;
	uint32_t sp = T.p % T.l->view.n;
	ledger_stats s0 = stats_now();
	for (int i = 0; i < 200; i++)
		(void)count_of(ITEM);
	ledger_stats s1 = stats_now();
	cr_assert_gt(s1.view_stripe_ns[sp], s0.view_stripe_ns[sp]);
	cr_assert_eq(s1.view_stripe_ns[so], s0.view_stripe_ns[so], "another stripe's time moved");
	/* A group's commit takes the stripes of its ops inside the writer
	 * lock: that time is the writer lock's, and no stripe's moves. */
	ledger_ticket t;
	ledger_op op = {.counter = "likes", .item = ITEM, .user = "u9", .add = true, .prior = -1};
	ledger_answer a;
	cr_assert_eq(ledger_stage_ops(T.l, &op, 1, WALL, &a, NULL, NULL, &t), 0);
	ledger_stats s2 = stats_now();
	cr_assert_eq(ledger_commit_now(T.l, WALL), 0);
	ledger_stats s3 = stats_now();
	cr_assert_eq(ledger_ticket_state(&t), LEDGER_DURABLE);
	cr_assert_eq(s3.commits, s2.commits + 1, "the group was committed in between");
	for (uint32_t i = 0; i < s3.view_stripes; i++)
		cr_assert_eq(s3.view_stripe_ns[i], s2.view_stripe_ns[i], "stripe %u", i);
}

Test(ledger_stripes, a_batch_read_times_the_stripes_it_holds_and_no_other)
{
	char other[32], third[32];
	item_in(other, sizeof other, T.p, true);
	uint32_t sp = T.p % T.l->view.n;
	uint32_t so = partition_of(other, strlen(other), PARTS) % T.l->view.n;
	/* An item of neither stripe. */
	for (int i = 0;; i++) {
		snprintf(third, sizeof third, "post:z%d", i);
		uint32_t st = partition_of(third, strlen(third), PARTS) % T.l->view.n;
		if (st != sp && st != so)
			break;
	}
	uint32_t st = partition_of(third, strlen(third), PARTS) % T.l->view.n;
	like(ITEM, "u1");
	like(other, "u2");
	(void)count_of(ITEM);
	(void)count_of(other);
	ledger_ref refs[2] = {{"likes", ITEM, 5, strlen(ITEM)}, {"likes", other, 5, strlen(other)}};
	ledger_view out[2];
	ledger_stats s0 = stats_now();
	for (int i = 0; i < 200; i++)
		cr_assert_eq(ledger_read_many(T.l, refs, 2, out), 0);
	ledger_stats s1 = stats_now();
	cr_assert_eq(out[0].count, 1);
	cr_assert_eq(out[1].count, 1);
	cr_assert_gt(s1.view_stripe_ns[sp], s0.view_stripe_ns[sp]);
	cr_assert_gt(s1.view_stripe_ns[so], s0.view_stripe_ns[so]);
	cr_assert_eq(s1.view_stripe_ns[st], s0.view_stripe_ns[st], "a stripe not read was timed");
}

Test(ledger_stripes, a_snapshot_count_outside_its_partition_is_not_kept)
{
	char other[32];
	item_in(other, sizeof other, T.p, true);
	uint32_t po = partition_of(other, strlen(other), PARTS);
	wire_count cnt[2] = {{wire_cstr("likes", 5), wire_cstr(ITEM, strlen(ITEM)), 5},
	                     {wire_cstr("likes", 5), wire_cstr(other, strlen(other)), 9}};
	wire_snapshot s = wire_util_snap(T.p, 3, WALL, NULL, 0, cnt, 2);
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 0), 0);
	cr_assert_eq(count_of(ITEM), 5);
	ledger_view v;
	cr_assert_eq(ledger_read(T.l, "likes", other, &v), 0);
	cr_assert_eq(v.count, 0, "partition %u's count came with partition %u's snapshot", po, T.p);
	cr_assert_not(v.known);
	/* Not in the store either: a restart (cold caches) reads the same. */
	reopen();
	cr_assert_eq(count_of(ITEM), 5);
	cr_assert_eq(count_of(other), 0);
}

/* Read-through counts kept in two stripes: one seal tick writes both,
 * each at the version its partition's snapshots reached. */
Test(ledger_stripes, a_seal_tick_keeps_the_read_through_counts_of_every_stripe)
{
	T.o.rt_ttl_ms = 60000;
	T.o.max_ahead_ms = 60000;
	reopen_with(PARTS, 1000, 1000);
	char other[32];
	item_in(other, sizeof other, T.p, true);
	const char *items[2] = {ITEM, other};
	uint32_t parts[2] = {T.p, partition_of(other, strlen(other), PARTS)};
	uint64_t counts[2] = {5, 6}, versions[2] = {30, 40};
	for (int i = 0; i < 2; i++) {
		ledger_readthrough_put(T.l, "likes", items[i], counts[i], versions[i], 0, WALL);
		wire_snapshot s = wire_util_snap(parts[i], versions[i] + 1, WALL, NULL, 0, NULL, 0);
		cr_assert_eq(ledger_apply_snapshot(T.l, &s, 0), 0);
		cr_assert_eq(count_of(items[i]), counts[i], "%s", items[i]);
	}
	cr_assert_eq(ledger_vstripe(&T.l->view, parts[0])->nkeep, 1);
	cr_assert_eq(ledger_vstripe(&T.l->view, parts[1])->nkeep, 1);
	cr_assert_neq(ledger_vstripe(&T.l->view, parts[0]), ledger_vstripe(&T.l->view, parts[1]));
	cr_assert_eq(ledger_seal_due(T.l, WALL, false), 0);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(ledger_vstripe(&T.l->view, parts[i])->nkeep, 0, "%s", items[i]);
		pair_key k;
		ledger_pair_make(&k, "likes", 5, items[i], strlen(items[i]), PARTS);
		uint64_t version;
		cr_assert_eq(ledger_count_version(&T.l->view, k.key, k.kn, &version), 0, "%s",
		             items[i]);
		cr_assert_eq(version, versions[i] + 1, "%s", items[i]);
	}
	/* From the store after a restart (cold caches). */
	reopen_with(PARTS, 1000, 1000);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(count_of(items[i]), counts[i], "%s", items[i]);
}

/* A central with other partitions sends such counts in every message: one
 * warning says so, not one per message. */
Test(ledger_stripes, counts_of_other_partitions_are_warned_about_once_a_while)
{
	logfmt_capture cap;
	logfmt_capture_start(&cap, LOG_WARN); /* the ledger's tests run at LOG_ERROR */
	char other[32];
	item_in(other, sizeof other, T.p, true);
	wire_count cnt[2] = {{wire_cstr("likes", 5), wire_cstr(ITEM, strlen(ITEM)), 5},
	                     {wire_cstr("likes", 5), wire_cstr(other, strlen(other)), 9}};
	int rcs[3];
	for (uint64_t off = 3; off < 6; off++) {
		wire_snapshot s = wire_util_snap(T.p, off, WALL, NULL, 0, cnt, 2);
		rcs[off - 3] = ledger_apply_snapshot(T.l, &s, 0);
	}
	int warned = logfmt_capture_end(
	    &cap, "counts of other partitions' items left out: does central have as many "
	          "partitions as this edge?");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(rcs[i], 0, "message %d", i);
	cr_assert_eq(warned, 1, "three messages, one warning: %d", warned);
	cr_assert_eq(count_of(ITEM), 5);
}

/* A confirmed batch whose stored bytes do not decode cannot be taken off
 * the overlay: it says so once, and its likes stay in the counts shown
 * (counted beside the snapshot's) until a restart rebuilds the overlay. */
Test(ledger_stripes, a_confirmed_batch_that_does_not_decode_is_logged)
{
	like(ITEM, "u1");
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(T.nsent, 1);
	uint64_t seq = T.sent[0].seq;
	ledger_delivered(T.l, T.p, seq, 5);
	char key[16];
	store_batch *wb = store_batch_new();
	store_batch_put(wb, key, ekey_part_seq(key, EKEY_BATCH, T.p, seq), "not a batch", 11);
	cr_assert_eq(store_write(T.db, wb), 0);
	store_batch_free(wb);
	wire_count cnt = {wire_cstr("likes", 5), wire_cstr(ITEM, strlen(ITEM)), 1};
	wire_edge_seq e = {wire_cstr(EDGE, strlen(EDGE)), seq, 0};
	wire_snapshot s = wire_util_snap(T.p, 10, WALL, &e, 1, &cnt, 1);
	logfmt_capture cap;
	logfmt_capture_start(&cap, LOG_ERROR);
	int rc = ledger_apply_snapshot(T.l, &s, 0);
	int logged = logfmt_capture_end(
	    &cap, "confirmed batch does not decode; its ops stay in the counts shown");
	cr_assert_eq(rc, 0);
	cr_assert_eq(logged, 1, "error lines: %d", logged);
	cr_assert_eq(count_of(ITEM), 2, "the snapshot's like and the overlay's, both");
	/* The snapshot's write deleted the batch: a restart counts it once. */
	reopen();
	cr_assert_eq(count_of(ITEM), 1);
}

Test(ledger_stripes, a_snapshot_of_many_counts_caches_each_one_and_no_other)
{
	/* 45 counts in one message, a few at a time into the cache, with
	 * counts of other partitions' items between them (not kept); then
	 * every one of its items reads from memory, with its own count. */
	enum { N = 45 };
	reopen_with(PARTS, 200 * LEDGER_VIEW_STRIPES, 1000); /* room for all, promoted too */
	char items[N][32];
	wire_count cnt[N];
	for (int i = 0; i < N; i++) {
		item_in(items[i], sizeof items[i], T.p, i % 7 == 3);
		if (i % 7 != 3) /* item_in gives the first match: make each distinct */
			for (int j = 0;
			     partition_of(items[i], strlen(items[i]), PARTS) != T.p || j == 0; j++)
				snprintf(items[i], sizeof items[i], "post:m%d-%d", i, j);
		cnt[i] = (wire_count){wire_cstr("likes", 5), wire_cstr(items[i], strlen(items[i])),
		                      (uint64_t)(1000 + i)};
	}
	wire_snapshot s = wire_util_snap(T.p, 3, WALL, NULL, 0, cnt, N);
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 0), 0);
	uint64_t misses = stats_now().cache_misses;
	for (int i = 0; i < N; i++) {
		if (i % 7 == 3)
			continue;
		cr_assert_eq(count_of(items[i]), 1000 + (uint64_t)i, "%s", items[i]);
	}
	cr_assert_eq(stats_now().cache_misses, misses, "a count of the snapshot was not cached");
	for (int i = 3; i < N; i += 7)
		cr_assert_eq(count_of(items[i]), 0, "%s of another partition", items[i]);
}

Test(ledger_stripes, a_confirmation_of_full_batches_takes_each_op_off_the_overlay_once)
{
	/* 250 likes of 30 items of one partition: two full batches sealed
	 * and delivered (batch.max_ops 100), 50 likes open. A snapshot
	 * confirms both batches with their counts: each of their 200 ops
	 * leaves the overlay (read and hashed before the write, taken off
	 * a few at a time after it), the 50 open ones stay. */
	enum { ITEMS = 30, LIKES = 250, SEALED = 200 };
	char items[ITEMS][32];
	int n = 0;
	for (int i = 0; n < ITEMS; i++) {
		snprintf(items[n], sizeof items[n], "post:c%d", i);
		if (partition_of(items[n], strlen(items[n]), PARTS) == T.p)
			n++;
	}
	uint64_t want[ITEMS] = {0}, snap[ITEMS] = {0};
	for (int k = 0; k < LIKES; k++) {
		char user[16];
		snprintf(user, sizeof user, "u%d", k);
		like(items[k % ITEMS], user);
		want[k % ITEMS]++;
		if (k < SEALED)
			snap[k % ITEMS]++;
	}
	cr_assert_eq(T.nsent, 2, "%zu batches sealed", T.nsent);
	ledger_delivered(T.l, T.p, T.sent[0].seq, 5);
	ledger_delivered(T.l, T.p, T.sent[1].seq, 6);
	wire_count cnt[ITEMS];
	for (int i = 0; i < ITEMS; i++)
		cnt[i] = (wire_count){wire_cstr("likes", 5), wire_cstr(items[i], strlen(items[i])),
		                      snap[i]};
	wire_edge_seq e = {wire_cstr(EDGE, strlen(EDGE)), T.sent[1].seq, 0};
	wire_snapshot s = wire_util_snap(T.p, 10, WALL, &e, 1, cnt, ITEMS);
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 0), 0);
	for (int i = 0; i < ITEMS; i++)
		cr_assert_eq(count_of(items[i]), want[i], "%s: %" PRIu64 " of %" PRIu64, items[i],
		             count_of(items[i]), want[i]);
	ledger_stats st = stats_now();
	cr_assert_eq(st.pending_batches, 0);
	cr_assert_eq(st.pending_ops, LIKES - SEALED);
	/* The open likes' items only: 250 - 200 = 50 likes, over all 30. */
	cr_assert_eq(st.overlay_entries, ITEMS);
	/* Sealed and confirmed too, the rest leaves the overlay whole. */
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(T.nsent, 3);
	ledger_delivered(T.l, T.p, T.sent[2].seq, 7);
	for (int i = 0; i < ITEMS; i++)
		cnt[i].count = want[i];
	e.applied = T.sent[2].seq;
	s.offset = 11;
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 1), 0);
	cr_assert_eq(stats_now().overlay_entries, 0);
	for (int i = 0; i < ITEMS; i++)
		cr_assert_eq(count_of(items[i]), want[i], "%s", items[i]);
}

/* Readers on several threads, each reading every item over and over,
 * while the test's thread likes them: a count never goes down, and in
 * the end every count is the likes it got. */
enum { RUN_ITEMS = 48, RUN_USERS = 20, RUN_READERS = 3 };

static atomic_bool run_stop;
static sem_t run_started;       /* posted by each reader after its first pass */
static atomic_bool run_writing; /* the test's thread is liking */

typedef struct run_reader {
	pthread_t th;
	int rc;
	uint64_t backwards;
	atomic_uint_fast64_t during; /* reads made while the writer wrote */
} run_reader;

static void *run_read_main(void *arg)
{
	run_reader *r = arg;
	uint64_t last[RUN_ITEMS] = {0};
	char item[16];
	bool posted = false;
	while (!atomic_load(&run_stop) && !r->rc) {
		for (int i = 0; i < RUN_ITEMS && !r->rc; i++) {
			snprintf(item, sizeof item, "post:r%d", i);
			ledger_view v;
			r->rc = ledger_read(T.l, "likes", item, &v);
			if (v.count < last[i])
				r->backwards++;
			last[i] = v.count;
			if (atomic_load(&run_writing))
				atomic_fetch_add(&r->during, 1);
		}
		if (!posted) {
			sem_post(&run_started);
			posted = true;
		}
	}
	if (!posted)
		sem_post(&run_started);
	return NULL;
}

Test(ledger_stripes, readers_beside_a_writer_see_counts_only_grow)
{
	reopen_with(PARTS, 1000, 1000);
	atomic_store(&run_stop, false);
	run_reader rs[RUN_READERS] = {0};
	cr_assert_eq(sem_init(&run_started, 0, 0), 0);
	for (int i = 0; i < RUN_READERS; i++)
		cr_assert_eq(pthread_create(&rs[i].th, NULL, run_read_main, &rs[i]), 0);
	/* The likes start once every reader is reading (on a busy machine a
	 * reader could otherwise first run after the last like). */
	int started = 0;
	while (started < RUN_READERS && waits_sem(&run_started, 10000))
		started++;
	if (started < RUN_READERS) {
		/* Stopped and joined before the test fails: the teardown frees
		 * the ledger they read. */
		atomic_store(&run_stop, true);
		for (int i = 0; i < RUN_READERS; i++)
			pthread_join(rs[i].th, NULL);
		cr_assert_fail("%d of %d readers never read", RUN_READERS - started, RUN_READERS);
	}
	char item[16], user[16];
	atomic_store(&run_writing, true);
	for (int u = 0; u < RUN_USERS; u++)
		for (int i = 0; i < RUN_ITEMS; i++) {
			snprintf(item, sizeof item, "post:r%d", i);
			snprintf(user, sizeof user, "u%d", u);
			like(item, user);
		}
	/* Writes go on (repeats: no count moves) until every reader has
	 * read while they did, for 10 s at most: a reader held up by the
	 * writes never gets there. */
	bool all_read = false;
	for (int n = 0; !all_read && n < 10000; n++) {
		like("post:r0", "u0");
		usleep(1000);
		all_read = true;
		for (int i = 0; i < RUN_READERS; i++)
			all_read &= atomic_load(&rs[i].during) > 0;
	}
	atomic_store(&run_writing, false);
	atomic_store(&run_stop, true);
	for (int i = 0; i < RUN_READERS; i++) {
		pthread_join(rs[i].th, NULL);
		cr_assert_eq(rs[i].rc, 0);
		cr_assert_eq(rs[i].backwards, 0, "reader %d saw a count go down", i);
		cr_assert_gt(atomic_load(&rs[i].during), 0,
		             "reader %d never read beside the writes", i);
	}
	sem_destroy(&run_started);
	for (int i = 0; i < RUN_ITEMS; i++) {
		snprintf(item, sizeof item, "post:r%d", i);
		cr_assert_eq(count_of(item), RUN_USERS, "%s", item);
	}
}
