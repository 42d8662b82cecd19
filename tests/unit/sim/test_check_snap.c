/* test_check_snap.c - the snapshots' reference merge (check.h,
 * check_snap_*) on synthetic batch-topic logs and snapshots, made with
 * include/wire.h's encoders, without Kafka: snapshots that hold the
 * merge pass; a count one off is caught and named; a repeated batch, a
 * batch after a gap, an older writer after a hand-over, an unlike that
 * loses on its clock and two ops of one clock are merged as central
 * merges them; invalid ops are skipped; and what cannot be judged is
 * skipped with its reason. And the edges' answers (check_ans_*): a count
 * is the merge at the version it names plus the answering region's own
 * ops not merged there, no more and no less, and holds every write the
 * answering process itself acked before the read.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counter.h"
#include "partition.h"
#include "sim/drill/check.h"
#include "version.h"
#include "xmem.h"

#define PARTS 4
#define LOG_MAX 64
#define WRONG_MAX 8
#define TRACE_MAX 16
#define ITEMS 10 /* the load's items: post:i0 .. post:i9, post:viral */
#define USERS 10

/* A message of the batch topic, or a snapshot, waiting for run(). */
typedef struct msg {
	unsigned p;
	char *buf;
	size_t len;
	uint64_t writer;
} msg;

/* A wrong count as the callback saw it, its strings copied. */
typedef struct seen_wrong {
	char source[32], counter[32], item[64];
	uint32_t partition;
	uint64_t version, seen, want;
} seen_wrong;

static struct {
	counters ctr;
	msg log[LOG_MAX], snaps[LOG_MAX];
	size_t nlog, nsnaps;
	int64_t next[PARTS]; /* each partition's next offset */
	int64_t first[PARTS];
	seen_wrong wrong[WRONG_MAX];
	size_t nwrong;
	check_snap_figures f;
	/* The edges' answers: a trace, when it has any, and the verdicts. */
	load_write_rec writes[TRACE_MAX];
	load_count_rec counts[TRACE_MAX];
	load_trace trace;
	check_ans_figures af;
	check_ans_wrong awrong[WRONG_MAX];
	char aitem[WRONG_MAX][32];
	size_t nawrong;
} T;

static void setup(void)
{
	memset(&T, 0, sizeof T);
	char why[128];
	cr_assert_eq(counters_parse(&T.ctr, "likes,saves", "views,shares", why, sizeof why), 0,
	             "%s", why);
}

static void teardown(void)
{
	for (size_t i = 0; i < T.nlog; i++)
		free(T.log[i].buf);
	for (size_t i = 0; i < T.nsnaps; i++)
		free(T.snaps[i].buf);
	counters_free(&T.ctr);
}

TestSuite(check_snap, .init = setup, .fini = teardown, .timeout = 10);

static unsigned part_of(const char *item)
{
	return partition_of(item, strlen(item), PARTS);
}

static wire_str ws(const char *s)
{
	return wire_cstr(s, strlen(s));
}

static wire_op like(const char *item, const char *user, bool add, uint64_t hlc)
{
	return (wire_op){ws("likes"), ws(item), ws(user), add ? WIRE_ADD : WIRE_REMOVE,
	                 1,           hlc,      {NULL, 0}};
}

static wire_op view(const char *item, uint32_t n)
{
	return (wire_op){ws("views"), ws(item), ws("u9"), WIRE_ADD, n, 1, {NULL, 0}};
}

/* Appends a message to partition p's log; its offset. */
static int64_t put(unsigned p, char *buf, size_t len, uint64_t writer)
{
	cr_assert_lt(T.nlog, LOG_MAX);
	T.log[T.nlog++] = (msg){p, buf, len, writer};
	return T.next[p]++;
}

/* A batch of edge's in partition p; its offset. */
static int64_t batch_in(unsigned p, const char *edge, uint64_t seq, uint64_t writer,
                        const wire_op *ops, uint32_t nops, const wire_sum *sums, uint32_t nsums)
{
	wire_batch b = {.edge = ws(edge),
	                .region = ws("r0"),
	                .partition = p,
	                .seq = seq,
	                .created_ms = 1,
	                .nops = nops,
	                .ops = (wire_op *)ops,
	                .nsums = nsums,
	                .sums = (wire_sum *)sums};
	char *buf;
	size_t len;
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), 0);
	return put(p, buf, len, writer);
}

/* A batch of one op, in its item's partition; its offset. */
static int64_t batch1(const char *edge, uint64_t seq, uint64_t writer, wire_op op)
{
	return batch_in(part_of(op.item.p), edge, seq, writer, &op, 1, NULL, 0);
}

static int64_t handover(unsigned p, const char *edge, uint64_t writer_ms)
{
	wire_handover h = {p, ws(edge), 1, writer_ms};
	char *buf;
	size_t len;
	cr_assert_eq(wire_encode_handover(&h, &buf, &len), 0);
	return put(p, buf, len, 0);
}

/* A snapshot of central0's of partition p at version, with up to two
 * counts (counter NULL: none). */
static void snap_v(unsigned p, uint64_t version, const char *counter, const char *item,
                   uint64_t count, const char *counter2, const char *item2, uint64_t count2)
{
	wire_count c[2];
	uint32_t n = 0;
	if (counter)
		c[n++] = (wire_count){ws(counter), ws(item), count};
	if (counter2)
		c[n++] = (wire_count){ws(counter2), ws(item2), count2};
	wire_snapshot s = {.source = ws("central0"),
	                   .partition = p,
	                   .offset = version,
	                   .produced_ms = 1,
	                   .last = true,
	                   .ncounts = n,
	                   .counts = c};
	char *buf;
	size_t len;
	cr_assert_eq(wire_encode_snapshot(&s, &buf, &len), 0);
	cr_assert_lt(T.nsnaps, LOG_MAX);
	T.snaps[T.nsnaps++] = (msg){p, buf, len, 0};
}

/* A snapshot of item's partition after the message at offset, with one
 * count of item. */
static void snap(int64_t after, const char *counter, const char *item, uint64_t count)
{
	snap_v(part_of(item), version_make(0, (uint64_t)after + 1), counter, item, count, NULL,
	       NULL, 0);
}

static void on_wrong(void *ctx, const check_snap_wrong *w)
{
	(void)ctx;
	cr_assert_lt(T.nwrong, WRONG_MAX);
	seen_wrong *s = &T.wrong[T.nwrong++];
	snprintf(s->source, sizeof s->source, "%.*s", (int)w->source.n, w->source.p);
	snprintf(s->counter, sizeof s->counter, "%.*s", (int)w->counter.n, w->counter.p);
	snprintf(s->item, sizeof s->item, "%.*s", (int)w->item.n, w->item.p);
	s->partition = w->partition;
	s->version = w->version;
	s->seen = w->seen;
	s->want = w->want;
}

static void on_answer_wrong(void *ctx, const check_ans_wrong *w)
{
	(void)ctx;
	cr_assert_lt(T.nawrong, WRONG_MAX);
	snprintf(T.aitem[T.nawrong], sizeof T.aitem[0], "%s", w->item);
	T.awrong[T.nawrong] = *w;
	T.awrong[T.nawrong].item = T.aitem[T.nawrong];
	T.nawrong++;
}

/* Every snapshot, then the log as a partition hands it, then the end;
 * the answers of the trace too, when it has any. */
static void run(void)
{
	check_snap *cs = check_snap_new(PARTS, &T.ctr, on_wrong, NULL);
	check_ans *ca = NULL;
	if (T.trace.ncounts) {
		T.trace.writes = T.writes;
		T.trace.counts = T.counts;
		T.trace.items = ITEMS;
		T.trace.users = USERS;
		T.trace.complete = true;
		ca = check_ans_new(&T.trace, PARTS, cs, on_answer_wrong, NULL);
	}
	for (size_t i = 0; i < T.nsnaps; i++)
		check_snap_snapshot(cs, T.snaps[i].p, T.snaps[i].buf, T.snaps[i].len);
	for (unsigned p = 0; p < PARTS; p++)
		if (T.first[p])
			check_snap_log_start(cs, p, T.first[p]);
	int64_t off[PARTS] = {0};
	for (size_t i = 0; i < T.nlog; i++) {
		unsigned p = T.log[i].p;
		check_snap_input(cs, p, T.first[p] + off[p]++, T.log[i].buf, T.log[i].len,
		                 T.log[i].writer);
	}
	check_snap_finish(cs, &T.f);
	if (ca) {
		check_ans_finish(ca, &T.af);
		check_ans_free(ca);
	}
	check_snap_free(cs);
}

static void assert_held(uint64_t snapshots, uint64_t counts)
{
	cr_assert_eq(T.f.counts_wrong, 0, "%zu wrong, the first %s %s %lu want %lu", T.nwrong,
	             T.nwrong ? T.wrong[0].item : "", T.nwrong ? T.wrong[0].counter : "",
	             T.nwrong ? (unsigned long)T.wrong[0].seen : 0,
	             T.nwrong ? (unsigned long)T.wrong[0].want : 0);
	cr_assert_eq(T.f.snapshots_checked, snapshots);
	cr_assert_eq(T.f.counts_checked, counts);
	cr_assert_eq(T.f.snapshots_skipped, 0);
}

Test(check_snap, snapshots_that_hold_the_merge_pass)
{
	const char *item = "post:1";
	unsigned p = part_of(item);
	/* A heartbeat before anything was read: no count. */
	snap_v(p, version_make(0, 0), NULL, NULL, 0, NULL, NULL, 0);
	wire_op ops[] = {like(item, "u1", true, 100), like(item, "u2", true, 101)};
	wire_sum sums[] = {{ws("views"), ws(item), 250, 102}};
	int64_t o1 = batch_in(p, "edge-a", 1, 0, ops, 2, sums, 1);
	snap_v(p, version_make(0, (uint64_t)o1 + 1), "likes", item, 2, "views", item, 250);
	int64_t o2 = batch1("edge-a", 2, 0, like(item, "u1", false, 200));
	int64_t o3 = batch1("edge-a", 3, 0, view(item, 5));
	snap_v(p, version_make(0, (uint64_t)o3 + 1), "likes", item, 1, "views", item, 255);
	(void)o2;
	run();
	assert_held(3, 4);
	cr_assert_eq(T.f.batches_applied, 3);
	cr_assert_eq(T.f.messages, 3);
	cr_assert_eq(T.f.ops_misplaced, 0);
}

Test(check_snap, a_count_one_off_is_caught_and_named)
{
	const char *item = "post:42";
	int64_t o = batch1("edge-a", 1, 0, like(item, "u1", true, 10));
	batch1("edge-a", 2, 0, like(item, "u2", true, 11));
	snap(o, "likes", item, 2); /* central would say 1 */
	run();
	cr_assert_eq(T.f.snapshots_checked, 1);
	cr_assert_eq(T.f.counts_checked, 1);
	cr_assert_eq(T.f.counts_wrong, 1);
	cr_assert_eq(T.nwrong, 1);
	const seen_wrong *w = &T.wrong[0];
	cr_assert_str_eq(w->source, "central0");
	cr_assert_eq(w->partition, part_of(item));
	cr_assert_eq(w->version, version_make(0, (uint64_t)o + 1));
	cr_assert_str_eq(w->counter, "likes");
	cr_assert_str_eq(w->item, item);
	cr_assert_eq(w->seen, 2);
	cr_assert_eq(w->want, 1);
}

Test(check_snap, a_repeated_batch_counts_once)
{
	const char *item = "reel:abc";
	batch1("edge-a", 1, 0, like(item, "u1", true, 10));
	batch1("edge-a", 2, 0, view(item, 7));
	/* The same seqs again, one of them with other ops: central goes
	 * by the seq alone. */
	batch1("edge-a", 2, 0, view(item, 7));
	int64_t o = batch1("edge-a", 1, 0, like(item, "u2", true, 11));
	unsigned p = part_of(item);
	snap_v(p, version_make(0, (uint64_t)o + 1), "likes", item, 1, "views", item, 7);
	run();
	assert_held(1, 2);
	cr_assert_eq(T.f.batches_duplicate, 2);
	cr_assert_eq(T.f.batches_applied, 2);
}

Test(check_snap, a_batch_after_a_gap_waits_for_it_and_then_applies)
{
	const char *item = "comment:x_y-z";
	batch1("edge-a", 1, 0, like(item, "u1", true, 10));
	int64_t held = batch1("edge-a", 3, 0, like(item, "u3", true, 30));
	snap(held, "likes", item, 1); /* seq 3 waits for seq 2 */
	int64_t filled = batch1("edge-a", 2, 0, like(item, "u2", true, 20));
	snap(filled, "likes", item, 3);                     /* seq 2, then the held seq 3 */
	batch1("edge-a", 3, 0, like(item, "u4", true, 40)); /* applied by now */
	int64_t end = batch1("edge-a", 4, 0, like(item, "u1", false, 50));
	snap(end, "likes", item, 2);
	run();
	assert_held(3, 3);
	cr_assert_eq(T.f.batches_held, 1);
	cr_assert_eq(T.f.batches_applied, 4);
	cr_assert_eq(T.f.batches_duplicate, 1);
}

Test(check_snap, an_older_writer_after_a_hand_over_is_void)
{
	const char *item = "story:0";
	unsigned p = part_of(item);
	batch1("edge-a", 1, 100, like(item, "u1", true, 10));
	handover(p, "edge-a", 200);
	/* The taken-over instance's seq 2: void, its seq not applied. */
	int64_t late = batch1("edge-a", 2, 100, like(item, "u2", true, 20));
	snap(late, "likes", item, 1);
	/* The new writer sends the same seq under its own time. */
	int64_t mine = batch1("edge-a", 2, 200, like(item, "u2", true, 20));
	snap(mine, "likes", item, 2);
	/* A later writer's batch moves the fence itself (its hand-over
	 * lost); an unstamped one is never fenced. */
	batch1("edge-a", 3, 300, like(item, "u3", true, 30));
	int64_t old = batch1("edge-a", 4, 200, like(item, "u4", true, 40));
	int64_t bare = batch1("edge-a", 4, 0, like(item, "u5", true, 50));
	snap(old, "likes", item, 3);
	snap(bare, "likes", item, 4);
	run();
	assert_held(4, 4);
	cr_assert_eq(T.f.batches_fenced, 2);
	cr_assert_eq(T.f.handovers, 1);
	cr_assert_eq(T.f.batches_applied, 4);
}

Test(check_snap, an_unlike_that_loses_on_its_clock_changes_nothing)
{
	const char *item = "post:ZZZZ";
	int64_t o1 = batch1("edge-a", 1, 0, like(item, "u1", true, 500));
	/* Later in the log, earlier on the clock, from another edge. */
	int64_t o2 = batch1("edge-b", 1, 0, like(item, "u1", false, 400));
	int64_t o3 = batch1("edge-b", 2, 0, like(item, "u1", false, 600));
	/* An unlike first: the pair starts absent, and a like older than
	 * it loses too. */
	batch1("edge-b", 3, 0, like(item, "u2", false, 700));
	int64_t o5 = batch1("edge-a", 2, 0, like(item, "u2", true, 650));
	snap(o1, "likes", item, 1);
	snap(o2, "likes", item, 1);
	snap(o3, "likes", item, 0);
	snap(o5, "likes", item, 0);
	run();
	assert_held(4, 4);
}

Test(check_snap, one_clock_goes_to_the_greater_edge_id_bytewise)
{
	const char *item = "post:1";
	int64_t o1 = batch1("edge-b", 1, 0, like(item, "u1", true, 7));
	int64_t o2 = batch1("edge-a", 1, 0, like(item, "u1", false, 7)); /* a < b: loses */
	int64_t o3 = batch1("edge-a", 2, 0, like(item, "u2", true, 9));
	/* A prefix comes first: edge-a1 after edge-a. */
	int64_t o4 = batch1("edge-a1", 1, 0, like(item, "u2", false, 9));
	int64_t o5 = batch1("edge-a", 3, 0, like(item, "u2", true, 9)); /* edge-a again: loses */
	snap(o1, "likes", item, 1);
	snap(o2, "likes", item, 1);
	snap(o3, "likes", item, 2);
	snap(o4, "likes", item, 1);
	snap(o5, "likes", item, 1);
	run();
	assert_held(5, 5);
}

Test(check_snap, ops_their_counter_refuses_are_skipped_and_the_rest_applies)
{
	const char *item = "post:42";
	unsigned p = part_of(item);
	wire_op ops[] = {
	    like(item, "u1", true, 10),
	    {ws("nopes"), ws(item), ws("u2"), WIRE_ADD, 1, 11, {NULL, 0}},    /* unknown counter */
	    {ws("likes"), ws(item), ws("u3"), WIRE_ADD, 2, 12, {NULL, 0}},    /* a set op of 2 */
	    {ws("views"), ws(item), ws("u4"), WIRE_REMOVE, 1, 13, {NULL, 0}}, /* remove on a sum */
	    {ws("likes"), ws("post"), ws("u5"), WIRE_ADD, 1, 14, {NULL, 0}},  /* bad item */
	    view(item, 4),
	};
	wire_sum sums[] = {{ws("likes"), ws(item), 3, 15}}; /* a sum of a set counter */
	int64_t o = batch_in(p, "edge-a", 1, 0, ops, 6, sums, 1);
	snap_v(p, version_make(0, (uint64_t)o + 1), "likes", item, 1, "views", item, 4);
	run();
	assert_held(1, 2);
	cr_assert_eq(T.f.ops_invalid, 5);
}

Test(check_snap, a_refused_header_or_message_does_nothing)
{
	const char *item = "post:42";
	unsigned p = part_of(item);
	wire_op op = like(item, "u1", true, 10);
	/* Claims another partition than the one it is in. */
	batch_in(p, "edge-a", 1, 0, &op, 1, NULL, 0);
	T.log[T.nlog - 1].p = (p + 1) % PARTS;
	T.next[p]--;
	T.next[(p + 1) % PARTS]++;
	int64_t bad_region;
	{
		wire_batch b = {.edge = ws("edge-a"),
		                .region = ws("R!"),
		                .partition = p,
		                .seq = 1,
		                .created_ms = 1,
		                .nops = 1,
		                .ops = &op};
		char *buf;
		size_t len;
		cr_assert_eq(wire_encode_batch(&b, &buf, &len), 0);
		bad_region = put(p, buf, len, 0);
	}
	int64_t junk = put(p, xstrdup("not a message"), 13, 0);
	snap(bad_region, "likes", item, 0);
	snap(junk, "likes", item, 0);
	run();
	cr_assert_eq(T.f.refused, 3);
	cr_assert_eq(T.f.batches_applied, 0);
	cr_assert_eq(T.f.counts_wrong, 0);
	cr_assert_eq(T.f.counts_checked, 2);
}

Test(check_snap, what_cannot_be_judged_is_skipped_with_its_reason)
{
	/* Partition of post:1: one snapshot of a later epoch makes its
	 * epoch-0 ones unjudgeable too (the log was replaced). */
	const char *a = "post:1", *b = "post:42";
	unsigned pa = part_of(a), pb = part_of(b);
	cr_assert_neq(pa, pb);
	int64_t oa = batch1("edge-a", 1, 0, like(a, "u1", true, 10));
	snap(oa, "likes", a, 1);
	snap_v(pa, version_make(1, 0), "likes", a, 1, NULL, NULL, 0);
	/* post:42's log starts at offset 5: what came before is gone. */
	T.first[pb] = 5;
	int64_t ob = batch1("edge-a", 1, 0, like(b, "u1", true, 10));
	snap_v(pb, version_make(0, (uint64_t)(T.first[pb] + ob) + 1), "likes", b, 1, NULL, NULL, 0);
	/* Past the end of what was read, in a partition with no input. */
	unsigned pc = part_of("story:0");
	cr_assert_neq(pc, pa);
	cr_assert_neq(pc, pb);
	snap_v(pc, version_make(0, 3), "likes", "story:0", 1, NULL, NULL, 0);
	/* Not a snapshot; one read from another partition than it says. */
	T.snaps[T.nsnaps++] = (msg){pc, xstrdup("junk"), 4, 0};
	snap_v(pc, version_make(0, 0), NULL, NULL, 0, NULL, NULL, 0);
	T.snaps[T.nsnaps - 1].p = (pc + 1) % PARTS;
	run();
	cr_assert_eq(T.f.snapshots_checked, 0);
	cr_assert_eq(T.f.counts_checked, 0);
	cr_assert_eq(T.f.skip_epoch, 2);
	cr_assert_eq(T.f.skip_log_start, 1);
	cr_assert_eq(T.f.skip_past_end, 1);
	cr_assert_eq(T.f.skip_undecodable, 1);
	cr_assert_eq(T.f.skip_partition, 1);
	cr_assert_eq(T.f.snapshots_skipped, 6);
}

Test(check_snap, an_op_in_another_partition_than_its_item_is_counted)
{
	const char *item = "post:1";
	unsigned other = (part_of(item) + 1) % PARTS;
	wire_op op = like(item, "u1", true, 10);
	batch_in(other, "edge-a", 1, 0, &op, 1, NULL, 0);
	run();
	cr_assert_eq(T.f.ops_misplaced, 1);
	cr_assert_eq(T.f.batches_applied, 1);
}

/* --- the edges' answers ----------------------------------------------------------- */

/* The load's names of its item and user numbers. */
static const char *item_n(unsigned item)
{
	static char names[ITEMS + 1][16];
	load_item_name(ITEMS, item, names[item], sizeof names[item]);
	return names[item];
}

static const char *user_n(unsigned user)
{
	static char names[USERS][8];
	snprintf(names[user], sizeof names[user], "u%u", user);
	return names[user];
}

/* A like or unlike the load sent to region at sent (us), ended at end
 * with fate and hlc. */
static void sent(unsigned user, unsigned item, unsigned region, bool like_it, load_write_fate fate,
                 uint64_t at, uint64_t end, uint64_t hlc)
{
	cr_assert_lt(T.trace.nwrites, TRACE_MAX);
	T.writes[T.trace.nwrites++] = (load_write_rec){
	    .user = user,
	    .item = item,
	    .region = (uint8_t)region,
	    .like = like_it,
	    .fate = (uint8_t)fate,
	    .sent_us = at,
	    .end_us = end,
	    .hlc = hlc,
	};
}

/* An answer of region's instance inst in its start-th life: item's
 * likes count at version, read sent at at (us) and answered 10 us later. */
static void answered_by(unsigned item, unsigned region, unsigned inst, unsigned start,
                        uint64_t count, uint64_t version, uint64_t at)
{
	cr_assert_lt(T.trace.ncounts, TRACE_MAX);
	T.counts[T.trace.ncounts++] = (load_count_rec){
	    .item = item,
	    .region = (uint8_t)region,
	    .inst = (uint8_t)inst,
	    .start = (uint8_t)start,
	    .count = count,
	    .version = version,
	    .sent_us = at,
	    .recv_us = at + 10,
	};
}

/* The same by the region's instance 1, which acked none of the writes
 * below (they are instance 0's): none of them is sure to be counted. */
static void answered(unsigned item, unsigned region, uint64_t count, uint64_t version, uint64_t at)
{
	answered_by(item, region, 1, 0, count, version, at);
}

/* An ack of user's like (or unlike) of item by region 0's instance 0,
 * as the batch of edge-a seq carries it at hlc; its offset. */
static int64_t acked(unsigned user, unsigned item, bool like_it, uint64_t at, uint64_t seq,
                     uint64_t hlc)
{
	sent(user, item, 0, like_it, LOAD_WRITE_ACKED, at, at + 5, hlc);
	return batch1("edge-a", seq, 0, like(item_n(item), user_n(user), like_it, hlc));
}

static uint64_t after(int64_t offset)
{
	return version_make(0, (uint64_t)offset + 1);
}

Test(check_snap, an_answer_that_is_the_merge_plus_its_own_pending_ops_passes)
{
	int64_t o1 = acked(1, 3, true, 100, 1, 10);
	int64_t o2 = acked(2, 3, true, 200, 2, 11);
	/* Before either was merged: each is pending, 0 to 2 allowed. */
	answered(3, 0, 2, version_make(0, 0), 300);
	answered(3, 0, 0, version_make(0, 0), 300);
	/* After the first: 1, plus the second's pending 1. */
	answered(3, 0, 2, after(o1), 300);
	/* After both: exactly 2. */
	answered(3, 0, 2, after(o2), 300);
	run();
	cr_assert_eq(T.af.answers, 4);
	cr_assert_eq(T.af.checked, 4);
	cr_assert_eq(T.af.wrong, 0, "%s %lu ref %lu", T.nawrong ? T.aitem[0] : "",
	             T.nawrong ? (unsigned long)T.awrong[0].count : 0,
	             T.nawrong ? (unsigned long)T.awrong[0].ref : 0);
	cr_assert_eq(T.af.exact, 1);
	cr_assert_eq(T.af.ops_merged, 2);
}

Test(check_snap, an_own_op_counted_again_after_its_snapshot_is_caught)
{
	T.trace.t0_us = 100;
	int64_t o1 = acked(1, 3, true, 100, 1, 10);
	/* The merge at o1 holds the like; an edge that adds it again over
	 * that version counts it twice. */
	answered(3, 0, 2, after(o1), 300);
	run();
	cr_assert_eq(T.af.checked, 1);
	cr_assert_eq(T.af.wrong, 1);
	cr_assert_eq(T.nawrong, 1);
	cr_assert_str_eq(T.awrong[0].item, "post:i3");
	cr_assert_eq(T.awrong[0].region, 0);
	cr_assert_eq(T.awrong[0].count, 2);
	cr_assert_eq(T.awrong[0].ref, 1);
	cr_assert_eq(T.awrong[0].likes_pending, 0);
	/* Which process answered, in which life, when (the run's 0 at
	 * 100 us), and how long it took. */
	cr_assert_eq(T.awrong[0].inst, 1);
	cr_assert_eq(T.awrong[0].start, 0);
	cr_assert_float_eq(T.awrong[0].sent_s, 200e-6, 1e-9);
	cr_assert_float_eq(T.awrong[0].took_ms, 0.010, 1e-9);
}

Test(check_snap, an_answer_below_the_snapshot_it_names_is_caught)
{
	acked(1, 3, true, 100, 1, 10);
	int64_t o2 = acked(2, 3, true, 200, 2, 11);
	answered(3, 1, 1, after(o2), 300); /* region 1 has nothing pending */
	run();
	cr_assert_eq(T.af.wrong, 1);
	cr_assert_eq(T.awrong[0].ref, 2);
}

Test(check_snap, another_regions_pending_ops_allow_nothing)
{
	int64_t o1 = acked(1, 3, true, 100, 1, 10);
	/* Region 1's like of user 2, not merged: region 0 may not count it. */
	sent(2, 3, 1, true, LOAD_WRITE_ACKED, 150, 160, 12);
	answered(3, 1, 2, after(o1), 300); /* region 1 may */
	answered(3, 0, 2, after(o1), 300);
	run();
	cr_assert_eq(T.af.checked, 2);
	cr_assert_eq(T.af.wrong, 1);
	cr_assert_eq(T.awrong[0].region, 0);
}

Test(check_snap, a_given_up_like_stays_pending_and_an_unchanged_one_never_is)
{
	int64_t o1 = acked(1, 3, true, 100, 1, 10);
	sent(2, 3, 0, true, LOAD_WRITE_OPEN, 150, 0, 0);
	sent(3, 3, 0, true, LOAD_WRITE_UNCHANGED, 160, 170, 13);
	/* 1 + the given-up like: 2 passes; 3 would need the unchanged one. */
	answered(3, 0, 2, after(o1), 300);
	answered(3, 0, 3, after(o1), 300);
	run();
	cr_assert_eq(T.af.checked, 2);
	cr_assert_eq(T.af.wrong, 1);
	cr_assert_eq(T.awrong[0].count, 3);
	cr_assert_eq(T.awrong[0].likes_pending, 1);
}

Test(check_snap, a_refused_like_is_pending_only_until_its_refusal)
{
	int64_t o1 = acked(1, 3, true, 100, 1, 10);
	sent(2, 3, 0, true, LOAD_WRITE_REFUSED, 150, 250, 0);
	answered(3, 0, 2, after(o1), 200); /* sent before the refusal: may count it */
	answered(3, 0, 2, after(o1), 300); /* after it: may not */
	/* An op sent after the read was answered is not pending for it. */
	sent(4, 3, 0, true, LOAD_WRITE_OPEN, 400, 0, 0);
	answered(3, 0, 2, after(o1), 380);
	run();
	cr_assert_eq(T.af.checked, 3);
	cr_assert_eq(T.af.wrong, 2);
}

Test(check_snap, a_pending_unlike_may_take_one_and_never_below_zero)
{
	int64_t o1 = acked(1, 3, true, 100, 1, 10);
	int64_t o2 = acked(1, 3, false, 200, 2, 20);
	answered(3, 0, 0, after(o1), 300); /* the unlike pending: 1 - 1 */
	answered(3, 0, 0, after(o2), 300); /* merged: 0 */
	answered(3, 0, 1, after(o2), 300); /* 0, nothing pending: 1 is wrong */
	run();
	cr_assert_eq(T.af.checked, 3);
	cr_assert_eq(T.af.wrong, 1);
	cr_assert_eq(T.awrong[0].ref, 0);
}

Test(check_snap, answers_the_merge_cannot_judge_are_skipped)
{
	int64_t o1 = acked(1, 3, true, 100, 1, 10);
	answered(3, 0, 7, version_make(1, 1), 300); /* a later epoch */
	answered(3, 0, 7, after(o1 + 5), 300);      /* past the log as read */
	unsigned other = 0;                         /* an item of another partition than item 3's */
	while (other < ITEMS && part_of(item_n(other)) == part_of(item_n(3)))
		other++;
	cr_assert_lt(other, ITEMS);
	T.first[part_of(item_n(other))] = 3; /* its partition's log starts past 0 */
	answered(other, 0, 7, version_make(0, 4), 300);
	run();
	cr_assert_eq(T.af.answers, 3);
	cr_assert_eq(T.af.checked, 0);
	cr_assert_eq(T.af.skipped, 3);
	cr_assert_eq(T.af.wrong, 0);
}

Test(check_snap, a_write_the_answering_process_acked_must_be_in_its_count)
{
	int64_t o1 = acked(1, 3, true, 100, 1, 10);
	acked(2, 3, true, 200, 2, 11);              /* acked at 205 */
	answered_by(3, 0, 0, 0, 2, after(o1), 300); /* 1 + its own sure like: right */
	answered_by(3, 0, 0, 0, 1, after(o1), 300); /* its own ack missing: wrong */
	answered_by(3, 0, 0, 1, 1, after(o1), 300); /* started again since: may miss it */
	answered_by(3, 0, 0, 0, 1, after(o1), 203); /* sent before the ack came: may too */
	run();
	cr_assert_eq(T.af.checked, 4);
	cr_assert_eq(T.af.wrong, 1);
	cr_assert_eq(T.awrong[0].count, 1);
	cr_assert_eq(T.awrong[0].sure, 1);
	cr_assert_eq(T.awrong[0].likes_pending, 0);
}

Test(check_snap, a_sure_like_and_unlike_of_one_pair_cancel)
{
	int64_t o1 = acked(1, 3, true, 100, 1, 10);
	acked(2, 3, true, 200, 2, 11);
	acked(2, 3, false, 220, 3, 12);
	answered_by(3, 0, 0, 0, 1, after(o1), 300); /* user 2's pair: +1 - 1 */
	answered_by(3, 0, 0, 0, 2, after(o1), 300);
	run();
	cr_assert_eq(T.af.checked, 2);
	cr_assert_eq(T.af.exact, 2);
	cr_assert_eq(T.af.wrong, 1);
	cr_assert_eq(T.awrong[0].count, 2);
}

Test(check_snap, an_older_write_merged_after_a_newer_one_is_still_pending)
{
	/* u1's like is sent first but its batch lands after u2's. */
	sent(1, 3, 0, true, LOAD_WRITE_ACKED, 100, 105, 10);
	sent(2, 3, 0, true, LOAD_WRITE_ACKED, 200, 205, 11);
	int64_t o2 = batch1("edge-b", 1, 0, like(item_n(3), user_n(2), true, 11));
	int64_t o1 = batch1("edge-a", 1, 0, like(item_n(3), user_n(1), true, 10));
	answered(3, 0, 2, after(o2), 300); /* u2's merged, u1's pending: 1 + 1 */
	answered(3, 0, 1, after(o2), 300); /* u1's may not be counted yet (another instance) */
	answered(3, 0, 3, after(o2), 300); /* more than both: wrong */
	answered(3, 0, 2, after(o1), 300); /* both merged: 2 */
	run();
	cr_assert_eq(T.af.checked, 4);
	cr_assert_eq(T.af.wrong, 1);
	cr_assert_eq(T.awrong[0].count, 3);
	cr_assert_eq(T.awrong[0].likes_pending, 1);
}
