/* test_ledger_readers.c - count reads and /me never wait for a write.
 *
 * A store write hook (store_write_hook) holds a writer inside its store
 * write, after LevelDB applied the batch and before the ledger updates
 * its memory: the writer still holds the ledger's writer lock. Reads
 * made meanwhile must finish (they take only a view stripe, let go
 * across store reads), and must answer from a consistent state: the
 * memory before the write with the store before the write, never the new
 * store with the old overlay (which would count this edge's confirmed
 * likes twice). Also: the serial-section times the stats report move.
 *
 * Same fixture as test_ledger.c (ledger_util.h).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/ledger_util.h"
#include "tests/support/waits.h"

static struct {
	atomic_bool hold; /* the next store write waits for a release */
	sem_t entered;    /* posted when a write is held */
	sem_t release;
} H;

static void hook(void *ctx)
{
	(void)ctx;
	bool want = true;
	if (atomic_compare_exchange_strong(&H.hold, &want, false)) {
		sem_post(&H.entered);
		sem_wait(&H.release);
	}
}

static void setup(void)
{
	ledger_util_setup("test_ledger_readers");
	memset(&H, 0, sizeof H);
	sem_init(&H.entered, 0, 0);
	sem_init(&H.release, 0, 0);
	T.o.cache_entries = 2; /* small, so reads reach the store */
	store_write_hook(T.db, hook, NULL);
	open_ledger();
}

static void teardown(void)
{
	atomic_store(&H.hold, false);
	sem_post(&H.release);
	store_write_hook(T.db, NULL, NULL);
	ledger_util_teardown();
	sem_destroy(&H.entered);
	sem_destroy(&H.release);
}

TestSuite(ledger_readers, .init = setup, .fini = teardown, .timeout = 60);

/* A thread running one call, and whether it returned in time. */
typedef struct call {
	void (*fn)(struct call *);
	waits_call w;
	int rc;
	ledger_view v;
	int state;
	const char *item;
	const char *user; /* do_like's; NULL: u1 */
	ledger_answer ans;
	wire_snapshot *snap;
	uint32_t gen; /* do_replica_apply's load */
} call;

static void call_main(void *arg)
{
	call *c = arg;
	c->fn(c);
}

static void call_start(call *c, void (*fn)(call *))
{
	c->fn = fn;
	waits_call_start(&c->w, call_main, c);
}

/* Whether c returned within ms. */
static bool call_done_within(call *c, long ms)
{
	return waits_call_within(&c->w, ms);
}

static void call_join(call *c)
{
	waits_call_join(&c->w);
}

static void do_like(call *c)
{
	c->rc = ledger_write(T.l, "likes", c->item, c->user ? c->user : "u1", true, WALL, &c->ans);
}

static void do_read(call *c)
{
	c->rc = ledger_read(T.l, "likes", c->item, &c->v);
}

static void do_member(call *c)
{
	c->rc = ledger_member(T.l, "likes", c->item, "u1", &c->state);
}

static void do_apply(call *c)
{
	c->rc = ledger_apply_snapshot(T.l, c->snap, 0);
}

static void do_replica_apply(call *c)
{
	c->rc = ledger_replica_apply(T.l, c->snap, c->gen);
}

static void do_seal(call *c)
{
	c->rc = ledger_seal_due(T.l, WALL, true);
}

/* The seal tick, long after the open batch began: it is due. */
static void do_seal_aged(call *c)
{
	c->rc = ledger_seal_due(T.l, WALL + 3600 * 1000, false);
}

/* Reads other items until item's count is out of both cache generations
 * (cache_entries 2), so the next read of it goes to the store. */
static void evict(void)
{
	char other[32];
	for (int i = 0; i < 8; i++) {
		snprintf(other, sizeof other, "post:evict%d", i);
		(void)count_of(other);
	}
}

/* Runs reader while a writer (started by writer_fn) is held inside its
 * store write; the reader must finish first. */
static void read_during(call *writer, void (*writer_fn)(call *), call *reader,
                        void (*reader_fn)(call *))
{
	atomic_store(&H.hold, true);
	call_start(writer, writer_fn);
	cr_assert_eq(sem_wait(&H.entered), 0);
	call_start(reader, reader_fn);
	bool in_time = call_done_within(reader, 5000);
	cr_assert(!call_done_within(writer, 0), "the writer is held");
	sem_post(&H.release);
	call_join(writer);
	call_join(reader);
	cr_assert(in_time, "the read waited for the store write");
	cr_assert_eq(reader->rc, 0);
}

Test(ledger_readers, a_count_read_does_not_wait_for_a_group_write)
{
	evict();
	call w = {.item = ITEM}, r = {.item = "post:never-read"};
	read_during(&w, do_like, &r, do_read);
	cr_assert_eq(w.rc, 0);
	cr_assert_eq(r.v.count, 0);
	cr_assert_eq(count_of(ITEM), 1);
}

Test(ledger_readers, a_like_in_its_write_is_not_shown_until_written)
{
	call w = {.item = ITEM}, r = {.item = ITEM};
	read_during(&w, do_like, &r, do_read);
	cr_assert_eq(r.v.count, 0, "a like is shown once its write is durable");
	cr_assert_eq(count_of(ITEM), 1);
}

Test(ledger_readers, a_membership_read_does_not_wait_for_a_group_write)
{
	call w0 = {.item = ITEM};
	do_like(&w0);
	cr_assert_eq(w0.rc, 0);
	call w = {.item = "post:2"}, r = {.item = ITEM};
	read_during(&w, do_like, &r, do_member);
	cr_assert_eq(r.state, 1);
}

Test(ledger_readers, a_count_read_does_not_wait_for_a_seal)
{
	call w0 = {.item = ITEM};
	do_like(&w0);
	evict();
	call w = {0}, r = {.item = ITEM};
	read_during(&w, do_seal, &r, do_read);
	cr_assert_eq(w.rc, 0);
	cr_assert_eq(r.v.count, 1);
	cr_assert_eq(T.nsent, 1);
}

Test(ledger_readers, a_read_during_a_snapshot_write_counts_a_confirmed_like_once)
{
	/* u1's like is sealed and delivered: the overlay holds +1. */
	call w0 = {.item = ITEM};
	do_like(&w0);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(T.nsent, 1);
	ledger_delivered(T.l, T.p, T.sent[0].seq, 5);
	cr_assert_eq(count_of(ITEM), 1);
	evict();
	/* Central applied it: the snapshot brings count 1 and confirms the
	 * batch, which takes the like off the overlay. */
	wire_edge_seq e = {wire_cstr(EDGE, strlen(EDGE)), T.sent[0].seq, 0};
	wire_count cnt = {wire_cstr("likes", 5), wire_cstr(ITEM, strlen(ITEM)), 1};
	wire_snapshot s = wire_util_snap(T.p, 10, WALL, &e, 1, &cnt, 1);
	call w = {.snap = &s}, r = {.item = ITEM};
	read_during(&w, do_apply, &r, do_read);
	cr_assert_eq(w.rc, 0);
	/* Held after LevelDB holds the new count, before the overlay lost
	 * the like: the read must not add the two. */
	cr_assert_eq(r.v.count, 1, "counted %" PRIu64, r.v.count);
	cr_assert_eq(r.v.version, 0, "the version before the snapshot");
	ledger_view v;
	cr_assert_eq(ledger_read(T.l, "likes", ITEM, &v), 0);
	cr_assert_eq(v.count, 1);
	cr_assert_eq(v.version, 10);
	cr_assert_eq(stats_now().overlay_entries, 0);
}

/* u1's like of ITEM sealed and delivered, and the snapshot that
 * confirms it: count 1, its batch applied. */
static wire_edge_seq confirm_e;
static wire_count confirm_cnt;
static wire_snapshot confirm_s;

static wire_snapshot *liked_and_confirmed(void)
{
	call w0 = {.item = ITEM};
	do_like(&w0);
	cr_assert_eq(w0.rc, 0);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(T.nsent, 1);
	ledger_delivered(T.l, T.p, T.sent[0].seq, 5);
	confirm_e = (wire_edge_seq){wire_cstr(EDGE, strlen(EDGE)), T.sent[0].seq, 0};
	confirm_cnt = (wire_count){wire_cstr("likes", 5), wire_cstr(ITEM, strlen(ITEM)), 1};
	confirm_s = wire_util_snap(T.p, 10, WALL, &confirm_e, 1, &confirm_cnt, 1);
	return &confirm_s;
}

Test(ledger_readers, a_like_does_not_wait_for_a_snapshot_write)
{
	/* The snapshot's store write (with store.sync, its fsync) runs
	 * without the writer lock: a like of the same item stages and is
	 * written meanwhile, and counts the confirmed like once, before the
	 * snapshot lands and after. */
	call w = {.snap = liked_and_confirmed()}, l2 = {.item = ITEM, .user = "u2"};
	read_during(&w, do_apply, &l2, do_like);
	cr_assert_eq(w.rc, 0);
	cr_assert(l2.ans.changed);
	cr_assert_eq(l2.ans.view.count, 2, "u1's like (in the overlay) and u2's: %" PRIu64,
	             l2.ans.view.count);
	cr_assert_eq(count_of(ITEM), 2, "the snapshot's 1 and u2's like in the overlay");
	cr_assert_eq(stats_now().pending_batches, 0, "the confirmed batch is gone");
}

Test(ledger_readers, a_seal_during_a_snapshot_write_leaves_the_confirmed_batch_alone)
{
	wire_snapshot *s = liked_and_confirmed();
	/* A second like, committed, to be sealed while the snapshot that
	 * confirms the first batch is in its write. */
	call w1 = {.item = "post:2"};
	do_like(&w1);
	cr_assert_eq(w1.rc, 0);
	call w = {.snap = s}, sl = {0};
	read_during(&w, do_apply, &sl, do_seal_aged);
	cr_assert_eq(w.rc, 0);
	cr_assert_eq(sl.rc, 0);
	cr_assert_eq(T.nsent, 2, "the new batch went out, the confirmed one not again");
	cr_assert_gt(T.sent[1].seq, T.sent[0].seq);
	ledger_stats st = stats_now();
	cr_assert_eq(st.pending_batches, 1, "only the new batch is pending");
	cr_assert_eq(count_of(ITEM), 1);
	cr_assert_eq(count_of("post:2"), 1);
}

/* During a held snapshot write: the seal tick seals u2's like, central
 * is said to have applied it (a read-through count of 2), and ITEM is
 * read. */
static void do_seal_readthrough_read(call *c)
{
	c->rc = ledger_seal_due(T.l, WALL + 3600 * 1000, false);
	if (c->rc || T.nsent != 2)
		return;
	ledger_readthrough_put(T.l, "likes", ITEM, 2, 11, T.sent[1].seq, WALL);
	c->rc = ledger_read(T.l, "likes", ITEM, &c->v);
}

Test(ledger_readers, a_batch_sealed_during_a_snapshot_write_is_counted_once)
{
	/* A read that combines a read-through count with the sealed
	 * batches central applied, while a snapshot's write runs, reads the
	 * store as it was before that write; a batch sealed meanwhile is
	 * not there, and must still be taken off the overlay. */
	wire_snapshot *s = liked_and_confirmed();
	call w2 = {.item = ITEM, .user = "u2"};
	do_like(&w2);
	cr_assert_eq(w2.rc, 0);
	evict();
	call w = {.snap = s}, r = {0};
	read_during(&w, do_apply, &r, do_seal_readthrough_read);
	cr_assert_eq(w.rc, 0);
	cr_assert_eq(T.nsent, 2, "u2's batch was sealed during the write");
	cr_assert_eq(r.v.count, 2, "u1 and u2, each once: %" PRIu64, r.v.count);
	cr_assert_eq(count_of(ITEM), 2);
}

Test(ledger_readers, a_like_does_not_wait_for_a_checkpoint_message_write)
{
	/* The last message of a partition's checkpoint: written without the
	 * writer lock, like a snapshot. A like staged meanwhile goes
	 * through and the partition turns complete only once written. */
	uint32_t gen = ledger_util_replica_start(T.p);
	wire_edge_seq e = {wire_cstr(EDGE, strlen(EDGE)), 0, 0};
	wire_count cnt = {wire_cstr("likes", 5), wire_cstr(ITEM, strlen(ITEM)), 7};
	wire_snapshot s = wire_util_snap(T.p, 10, WALL, &e, 1, &cnt, 1);
	call w = {.snap = &s, .gen = gen}, l2 = {.item = "post:2"};
	read_during(&w, do_replica_apply, &l2, do_like);
	cr_assert_eq(w.rc, 0);
	cr_assert_eq(l2.rc, 0);
	ledger_replica r;
	cr_assert_eq(ledger_replica_get(T.l, T.p, &r), 0);
	cr_assert_eq(r.state, LEDGER_REPLICA_COMPLETE);
	cr_assert_eq(count_of(ITEM), 7);
	cr_assert_eq(count_of("post:2"), 1);
}

Test(ledger_readers, serial_sections_are_timed)
{
	ledger_stats s0 = stats_now();
	for (int i = 0; i < 50; i++) {
		char item[32];
		snprintf(item, sizeof item, "post:t%d", i);
		call w = {.item = item};
		do_like(&w);
		cr_assert_eq(w.rc, 0);
		(void)count_of(item);
	}
	ledger_stats s1 = stats_now();
	cr_assert_gt(s1.writer_lock_ns, s0.writer_lock_ns);
	cr_assert_gt(s1.view_lock_ns, s0.view_lock_ns);

	/* A commit takes view stripes only inside the writer mutex: that
	 * time is the writer's, not counted twice. */
	ledger_ticket t[20];
	for (int i = 0; i < 20; i++) {
		char item[32];
		snprintf(item, sizeof item, "post:n%d", i);
		ledger_op op = {
		    .counter = "likes", .item = item, .user = "u1", .add = true, .prior = -1};
		ledger_answer a;
		cr_assert_eq(ledger_stage_ops(T.l, &op, 1, WALL, &a, NULL, NULL, &t[i]), 0);
	}
	ledger_stats s2 = stats_now();
	cr_assert_eq(ledger_commit_now(T.l, WALL), 0);
	ledger_stats s3 = stats_now();
	cr_assert_eq(t[19].state, LEDGER_DURABLE);
	cr_assert_gt(s3.writer_lock_ns, s2.writer_lock_ns);
	cr_assert_eq(s3.view_lock_ns, s2.view_lock_ns);
}

/* ledger_read_many answers each count as ledger_read does, whether the
 * count is in memory (the last two read stay cached) or must come from
 * the store (the lock let go mid-batch); and it too reads the store
 * without waiting for a write. */
#define MANY 12

static void many_refs(ledger_ref *refs, char items[][32])
{
	for (int i = 0; i < MANY; i++) {
		/* Repeats and an item nobody liked, over two counters. */
		snprintf(items[i], 32, "post:m%d", i % 5 == 4 ? 99 : i % 4);
		const char *c = i % 3 == 2 ? "views" : "likes";
		refs[i] = (ledger_ref){c, items[i], strlen(c), strlen(items[i])};
	}
}

static void do_read_many(call *c)
{
	ledger_ref refs[MANY];
	char items[MANY][32];
	ledger_view out[MANY];
	many_refs(refs, items);
	c->rc = ledger_read_many(T.l, refs, MANY, out);
	c->v = out[MANY - 1];
}

Test(ledger_readers, a_batch_read_answers_each_count_as_a_single_read_does)
{
	for (int i = 0; i < 4; i++)
		for (int u = 0; u <= i; u++) {
			char item[32], user[16];
			snprintf(item, sizeof item, "post:m%d", i);
			snprintf(user, sizeof user, "u%d", u);
			ledger_answer a;
			cr_assert_eq(ledger_write(T.l, "likes", item, user, true, WALL, &a), 0);
		}
	/* post:m1's count from central: known, with a version. */
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	wire_count cnt = {wire_cstr("likes", 5), wire_cstr("post:m1", 7), 7};
	uint32_t p1 = partition_of("post:m1", 7, NPARTS);
	wire_snapshot s = wire_util_snap(p1, 10, WALL, NULL, 0, &cnt, 1);
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 0), 0);

	ledger_ref refs[MANY];
	char items[MANY][32];
	many_refs(refs, items);
	for (int round = 0; round < 2; round++) {
		evict();
		/* Round 1 starts with two of the batch's counts cached. */
		if (round)
			for (int i = 0; i < 2; i++)
				(void)count_of(items[i]);
		ledger_view many[MANY];
		cr_assert_eq(ledger_read_many(T.l, refs, MANY, many), 0);
		for (int i = 0; i < MANY; i++) {
			ledger_view one;
			cr_assert_eq(ledger_read(T.l, refs[i].counter, refs[i].item, &one), 0);
			cr_assert_eq(many[i].count, one.count, "%s %s: %" PRIu64 " vs %" PRIu64,
			             refs[i].counter, refs[i].item, many[i].count, one.count);
			cr_assert_eq(many[i].known, one.known, "%s %s", refs[i].counter,
			             refs[i].item);
			cr_assert_eq(many[i].version, one.version, "%s %s", refs[i].counter,
			             refs[i].item);
		}
		/* The cases the batch holds: a count central sent, and an
		 * item nobody liked in a partition not known to be complete. */
		cr_assert(many[1].known);
		cr_assert_eq(many[1].version, 10);
		cr_assert_geq(many[1].count, 7);
		cr_assert(!many[4].known);
		cr_assert_eq(many[4].count, 0);
	}
	char lng[ITEM_MAX + 2];
	memset(lng, 'a', sizeof lng - 1);
	lng[sizeof lng - 1] = 0;
	ledger_ref bad = {"likes", lng, 5, strlen(lng)};
	ledger_view v;
	cr_assert_eq(ledger_read_many(T.l, &bad, 1, &v), ERR_INVAL);
}

Test(ledger_readers, a_batch_read_does_not_wait_for_a_group_write)
{
	evict();
	call w = {.item = ITEM}, r = {0};
	read_during(&w, do_like, &r, do_read_many);
	cr_assert_eq(w.rc, 0);
	cr_assert_eq(r.v.count, 0, "post:m99 was never liked");
}
