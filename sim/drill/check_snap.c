/* check_snap.c - the end of a drill, the snapshots' part (check.h): every
 * count snapshot central published, held to a reference merge of the
 * batch topic up to the offset its version names.
 *
 * The merge is the sim's own, written from the rules central applies
 * (central/apply/apply.c, apply_ops.c, merge.c; central/central.c), none
 * of its code called, so that a rule central gets wrong shows here as a
 * count that differs. Each rule of central's that changes a count, and
 * what is done with it here:
 *
 *   mirrored  a message that is not a batch, hand-over or move (does not
 *             decode), and a batch whose header central refuses
 *             (partition not the one read from, edge or region not a
 *             valid name) or a hand-over with a bad one: nothing
 *             (quarantined there);
 *   mirrored  the fence: a hand-over moves its edge's fence in the
 *             partition to its writer time when later; a batch with a
 *             writer header before the fence is void (no seq moves); one
 *             after it moves it, and goes on;
 *   mirrored  sequencing: seq <= applied is a duplicate; seq > applied + 1
 *             is held (a second copy of a held seq replaces the first);
 *             seq == applied + 1 applies, then each held applied + 1 in
 *             turn;
 *   mirrored  invalid ops and sums skipped, the rest of the batch applied
 *             (unknown counter, bad item or user, a set op's n not 1, a
 *             remove or an n over COUNTER_SUM_MAX on a sum counter, a sum
 *             of a set counter);
 *   mirrored  last writer wins on (hlc, then edge id bytewise, a prefix
 *             first), the first op of a pair always taking it (an unlike
 *             too, leaving it absent); a set count is the pairs present;
 *             a sum adds n, held at 2^64 - 1 (central clamps there);
 *   mirrored  moves: no count changes (apply_move.c moves the home index
 *             only; its count keys are touched with a delta of 0);
 *   skipped   the input's epoch: central starts a new one when the
 *             stored offset is past what the broker holds (the log
 *             replaced) and jumps ahead within one when the broker
 *             dropped what it had not read; only epoch 0, and only
 *             partitions whose log starts at 0 and that never showed a
 *             later epoch, are judged (skip_epoch, skip_log_start);
 *   skipped   a repair (POST /v1/admin/repair, verify.c) writes recounts
 *             behind the applier: no drill asks for one, and a count it
 *             fixed would show here as wrong;
 *   skipped   a set count held at 0 (central's clamp when its store
 *             disagrees with itself): the reference's cannot go below 0,
 *             and check_logs reports central's line;
 *   skipped   central keeps one count per (counter, item) whatever
 *             partition its ops came in; the reference keeps each
 *             partition apart, so an op whose item hashes to another
 *             partition (which no edge sends) is counted
 *             (ops_misplaced) and reported by check_snapshots.
 *
 * Pure: check_snap_new .. check_snap_finish, one owner. The drill's
 * part, check_snapshots (check_snap_read.c), reads the topics.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "counter.h"
#include "item.h"
#include "log.h"
#include "partition.h"
#include "sim/drill/check.h"
#include "sim/drill/feedread.h"
#include "smap.h"
#include "version.h"
#include "xmem.h"

/* A (counter, item, user)'s state as the merge left it. */
typedef struct pair_state {
	uint64_t hlc;
	bool present;
	uint8_t edge_n;
	char edge[EDGE_ID_MAX];
} pair_state;

/* A held batch: the message, copied. */
typedef struct held_copy {
	size_t len;
	char msg[];
} held_copy;

/* One edge's sequencing in one partition. */
typedef struct edge_ref {
	uint64_t applied;
	uint64_t fence; /* the latest writer time named: earlier writers are void */
	smap held;      /* seq (8 bytes) -> held_copy* */
} edge_ref;

/* A snapshot waiting for its offset in the input. */
typedef struct snap_rec {
	char *msg;
	size_t len;
	uint64_t offset; /* its version's offset */
	uint64_t order;  /* arrival, for a stable sort */
} snap_rec;

/* A count asked at an offset (check_snap_ask). */
typedef struct ask_rec {
	uint64_t offset;
	uint64_t order;
	size_t cookie;
	size_t keylen;
	char *key; /* counter 0 item */
} ask_rec;

/* One partition's reference and its snapshots. */
typedef struct part_ref {
	smap edges;  /* edge id -> edge_ref* */
	smap pairs;  /* counter 0 item 0 user -> pair_state* */
	smap counts; /* counter 0 item -> count */
	snap_rec *snaps;
	size_t nsnaps, cap, next; /* next: the first not yet judged */
	ask_rec *asks;
	size_t nasks, capasks, nextask; /* as the snapshots' */
	uint64_t read_end;              /* the offset after the last input message */
	bool started;                   /* input came: snaps is sorted */
	bool log_cut;                   /* the log starts after offset 0 */
	bool later_epoch;               /* a snapshot of an epoch after 0 */
} part_ref;

struct check_snap {
	unsigned nparts;
	const counters *ctr;
	part_ref *parts;
	check_snap_wrong_fn wrong;
	void *ctx;
	check_snap_hooks hooks;
	uint64_t arrivals;
	uint64_t at; /* the offset of the message being merged */
	check_snap_figures f;
};

check_snap *check_snap_new(unsigned partitions, const counters *ctr, check_snap_wrong_fn wrong,
                           void *ctx)
{
	check_snap *cs = xcalloc(1, sizeof *cs);
	cs->nparts = partitions;
	cs->ctr = ctr;
	cs->wrong = wrong;
	cs->ctx = ctx;
	cs->parts = xcalloc(partitions ? partitions : 1, sizeof *cs->parts);
	for (unsigned p = 0; p < partitions; p++) {
		smap_init(&cs->parts[p].edges);
		smap_init(&cs->parts[p].pairs);
		smap_init(&cs->parts[p].counts);
	}
	return cs;
}

static void free_part(part_ref *pr)
{
	size_t pos = 0;
	const char *k;
	size_t kn;
	smap_val *v;
	while (smap_next(&pr->edges, &pos, &k, &kn, &v)) {
		edge_ref *er = v->p;
		smap_free_values(&er->held);
		free(er);
	}
	smap_free(&pr->edges);
	smap_free_values(&pr->pairs);
	smap_free(&pr->counts);
	for (size_t i = 0; i < pr->nsnaps; i++)
		free(pr->snaps[i].msg);
	free(pr->snaps);
	for (size_t i = 0; i < pr->nasks; i++)
		free(pr->asks[i].key);
	free(pr->asks);
}

void check_snap_free(check_snap *cs)
{
	if (!cs)
		return;
	for (unsigned p = 0; p < cs->nparts; p++)
		free_part(&cs->parts[p]);
	free(cs->parts);
	free(cs);
}

/* --- snapshots ------------------------------------------------------------------ */

static void skip(check_snap *cs, uint64_t *reason)
{
	(*reason)++;
	cs->f.snapshots_skipped++;
}

void check_snap_snapshot(check_snap *cs, unsigned partition, const void *msg, size_t len)
{
	wire_snapshot s;
	if (wire_decode_snapshot(msg, len, &s)) {
		skip(cs, &cs->f.skip_undecodable);
		return;
	}
	part_ref *pr = partition < cs->nparts ? &cs->parts[partition] : NULL;
	/* Central puts nothing but its snapshots of counts on the topic
	 * (central.c, publish_partition); members, marks or an index start
	 * are a home checkpoint's, which it serves over HTTP only. */
	if (s.nmembers || s.nmarks || s.index_from)
		skip(cs, &cs->f.skip_checkpoint);
	else if (!pr || s.partition != partition)
		skip(cs, &cs->f.skip_partition);
	else if (version_epoch(s.offset) != 0) {
		skip(cs, &cs->f.skip_epoch);
		pr->later_epoch = true;
	} else if (pr->started) {
		skip(cs, &cs->f.skip_late);
	} else {
		if (pr->nsnaps == pr->cap) {
			pr->cap = pr->cap ? 2 * pr->cap : 64;
			pr->snaps = xrealloc(pr->snaps, pr->cap * sizeof *pr->snaps);
		}
		pr->snaps[pr->nsnaps++] =
		    (snap_rec){xmemdup(msg, len), len, version_offset(s.offset), cs->arrivals++};
	}
	wire_snapshot_free(&s);
}

static int by_offset(const void *a, const void *b)
{
	const snap_rec *x = a, *y = b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int ask_by_offset(const void *a, const void *b)
{
	const ask_rec *x = a, *y = b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void start(part_ref *pr)
{
	if (pr->started)
		return;
	pr->started = true;
	if (pr->nsnaps > 1)
		qsort(pr->snaps, pr->nsnaps, sizeof *pr->snaps, by_offset);
	if (pr->nasks > 1)
		qsort(pr->asks, pr->nasks, sizeof *pr->asks, ask_by_offset);
}

/* The key counter 0 item (0 user), into key (room for all three);
 * its length. */
static size_t pair_key(char *key, wire_str counter, wire_str item, const wire_str *user)
{
	size_t n = 0;
	memcpy(key + n, counter.p, counter.n);
	n += counter.n;
	key[n++] = '\0';
	memcpy(key + n, item.p, item.n);
	n += item.n;
	if (user) {
		key[n++] = '\0';
		memcpy(key + n, user->p, user->n);
		n += user->n;
	}
	return n;
}

#define KEY_MAX (3 * WIRE_MAX_STR + 2)

static uint64_t count_of(const part_ref *pr, wire_str counter, wire_str item)
{
	char key[KEY_MAX];
	smap_val *v = smap_get(&pr->counts, key, pair_key(key, counter, item, NULL));
	return v ? v->u : 0;
}

/* Compares each count entry of the snapshot rec with the reference as
 * it stands (every message below rec's offset merged). */
static void judge(check_snap *cs, unsigned partition, const snap_rec *rec)
{
	part_ref *pr = &cs->parts[partition];
	if (pr->log_cut) {
		skip(cs, &cs->f.skip_log_start);
		return;
	}
	if (pr->later_epoch) {
		skip(cs, &cs->f.skip_epoch);
		return;
	}
	wire_snapshot s;
	if (wire_decode_snapshot(rec->msg, rec->len, &s)) { /* it decoded when it came */
		skip(cs, &cs->f.skip_undecodable);
		return;
	}
	cs->f.snapshots_checked++;
	for (uint32_t i = 0; i < s.ncounts; i++) {
		const wire_count *c = &s.counts[i];
		uint64_t want = count_of(pr, c->counter, c->item);
		cs->f.counts_checked++;
		if (c->count == want)
			continue;
		cs->f.counts_wrong++;
		if (cs->wrong) {
			check_snap_wrong w = {s.source, s.partition, s.offset, c->counter,
			                      c->item,  c->count,    want};
			cs->wrong(cs->ctx, &w);
		}
	}
	wire_snapshot_free(&s);
}

static void answer(check_snap *cs, const part_ref *pr, const ask_rec *a)
{
	if (pr->log_cut || pr->later_epoch) {
		if (cs->hooks.not_judged)
			cs->hooks.not_judged(cs->hooks.ctx, a->cookie);
		return;
	}
	smap_val *v = smap_get(&pr->counts, a->key, a->keylen);
	if (cs->hooks.count_at)
		cs->hooks.count_at(cs->hooks.ctx, a->cookie, v ? v->u : 0);
}

/* Judges partition's snapshots, and answers its asks, whose offset is
 * at most upto. */
static void judge_upto(check_snap *cs, unsigned partition, uint64_t upto)
{
	part_ref *pr = &cs->parts[partition];
	while (pr->next < pr->nsnaps && pr->snaps[pr->next].offset <= upto)
		judge(cs, partition, &pr->snaps[pr->next++]);
	while (pr->nextask < pr->nasks && pr->asks[pr->nextask].offset <= upto)
		answer(cs, pr, &pr->asks[pr->nextask++]);
}

/* --- the merge ------------------------------------------------------------------ */

static edge_ref *edge_of(part_ref *pr, wire_str edge)
{
	bool created;
	smap_val *v = smap_put(&pr->edges, edge.p, edge.n, &created);
	if (created) {
		edge_ref *er = xcalloc(1, sizeof *er);
		smap_init(&er->held);
		v->p = er;
	}
	return v->p;
}

/* Moves (counter, item)'s count by delta, held at 0 and at the top. */
static void count_add(part_ref *pr, wire_str counter, wire_str item, int64_t delta)
{
	char key[KEY_MAX];
	smap_val *v = smap_put(&pr->counts, key, pair_key(key, counter, item, NULL), NULL);
	if (delta < 0)
		v->u = v->u < (uint64_t)-delta ? 0 : v->u - (uint64_t)-delta;
	else
		v->u = v->u > UINT64_MAX - (uint64_t)delta ? UINT64_MAX : v->u + (uint64_t)delta;
}

/* Does (hlc, edge) come after the state's (hlc, edge id bytewise, a
 * prefix before the longer)? */
static bool later(uint64_t hlc, wire_str edge, const pair_state *st)
{
	if (hlc != st->hlc)
		return hlc > st->hlc;
	size_t n = edge.n < st->edge_n ? edge.n : st->edge_n;
	int c = memcmp(edge.p, st->edge, n);
	if (c)
		return c > 0;
	return edge.n > st->edge_n;
}

/* A set counter's op from edge: the pair takes it if it is later, and
 * the count follows the pair's presence. */
static void merge_set(check_snap *cs, part_ref *pr, wire_str edge, const wire_op *op)
{
	if (cs->hooks.merged)
		cs->hooks.merged(cs->hooks.ctx, op->counter, op->item, op->user, op->hlc, cs->at);
	char key[KEY_MAX];
	bool created;
	smap_val *v =
	    smap_put(&pr->pairs, key, pair_key(key, op->counter, op->item, &op->user), &created);
	if (created)
		v->p = xcalloc(1, sizeof(pair_state));
	else if (!later(op->hlc, edge, v->p))
		return;
	pair_state *st = v->p;
	bool was = !created && st->present;
	st->present = op->kind == WIRE_ADD;
	st->hlc = op->hlc;
	st->edge_n = (uint8_t)edge.n; /* a valid edge id: at most EDGE_ID_MAX */
	memcpy(st->edge, edge.p, edge.n);
	if (st->present != was)
		count_add(pr, op->counter, op->item, st->present ? 1 : -1);
}

/* Why central would skip the op (NULL: it applies), its counter's kind
 * in *kind. */
static const char *op_refused(const check_snap *cs, const wire_op *op, counter_kind *kind)
{
	const counter_def *def = counters_find(cs->ctr, op->counter.p, op->counter.n);
	if (!def)
		return "unknown counter";
	*kind = def->kind;
	if (!item_valid(op->item.p, op->item.n))
		return "bad item";
	if (!item_user_valid(op->user.p, op->user.n))
		return "bad user";
	if (def->kind == COUNTER_SET)
		return op->n == 1 ? NULL : "set n not 1";
	if (op->kind != WIRE_ADD)
		return "remove on a sum";
	return op->n >= 1 && op->n <= COUNTER_SUM_MAX ? NULL : "sum n out of range";
}

static const char *sum_refused(const check_snap *cs, const wire_sum *sm)
{
	const counter_def *def = counters_find(cs->ctr, sm->counter.p, sm->counter.n);
	if (!def)
		return "unknown counter";
	if (!item_valid(sm->item.p, sm->item.n))
		return "bad item";
	return def->kind == COUNTER_SUM ? NULL : "sum of a set counter";
}

static void note_place(check_snap *cs, wire_str item, uint32_t partition)
{
	if (partition_of(item.p, item.n, cs->nparts) != partition)
		cs->f.ops_misplaced++;
}

/* A batch's ops, then its sums, as one message's effects. */
static void merge_batch(check_snap *cs, part_ref *pr, const wire_batch *b)
{
	for (uint32_t i = 0; i < b->nops; i++) {
		const wire_op *op = &b->ops[i];
		counter_kind kind = COUNTER_SET;
		if (op_refused(cs, op, &kind)) {
			cs->f.ops_invalid++;
			continue;
		}
		note_place(cs, op->item, b->partition);
		if (kind == COUNTER_SET)
			merge_set(cs, pr, b->edge, op);
		else
			count_add(pr, op->counter, op->item, (int64_t)op->n);
	}
	for (uint32_t i = 0; i < b->nsums; i++) {
		const wire_sum *sm = &b->sums[i];
		if (sum_refused(cs, sm)) {
			cs->f.ops_invalid++;
			continue;
		}
		note_place(cs, sm->item, b->partition);
		count_add(pr, sm->counter, sm->item, (int64_t)sm->n); /* n <= WIRE_MAX_SUM */
	}
	cs->f.batches_applied++;
}

/* After er->applied moved: every held batch that follows, in turn. */
static void drain_held(check_snap *cs, part_ref *pr, edge_ref *er)
{
	for (;;) {
		uint64_t seq = er->applied + 1;
		smap_val *v = smap_get(&er->held, &seq, sizeof seq);
		if (!v)
			return;
		held_copy *h = v->p;
		wire_batch b;
		if (wire_decode_batch(h->msg, h->len, &b) == 0) { /* it did when held */
			merge_batch(cs, pr, &b);
			wire_batch_free(&b);
		} else {
			cs->f.refused++;
		}
		free(h);
		smap_del(&er->held, &seq, sizeof seq);
		er->applied = seq;
	}
}

static void hold(edge_ref *er, uint64_t seq, const void *msg, size_t len)
{
	bool created;
	smap_val *v = smap_put(&er->held, &seq, sizeof seq, &created);
	if (!created)
		free(v->p); /* central keeps the later copy */
	held_copy *h = xmalloc(sizeof *h + len);
	h->len = len;
	memcpy(h->msg, msg, len);
	v->p = h;
}

static void merge_handover(check_snap *cs, part_ref *pr, unsigned partition, const void *msg,
                           size_t len)
{
	wire_handover h;
	if (wire_decode_handover(msg, len, &h) || h.partition != partition ||
	    !item_edge_valid(h.edge.p, h.edge.n)) {
		cs->f.refused++;
		return;
	}
	cs->f.handovers++;
	edge_ref *er = edge_of(pr, h.edge);
	if (h.created_ms > er->fence)
		er->fence = h.created_ms;
}

/* One batch-topic message. */
static void merge_message(check_snap *cs, part_ref *pr, unsigned partition, const void *msg,
                          size_t len, uint64_t writer)
{
	cs->f.messages++;
	char type = wire_message_type(msg, len);
	if (type == 'h') {
		merge_handover(cs, pr, partition, msg, len);
		return;
	}
	if (type == 'm') {
		cs->f.moves++;
		return;
	}
	wire_batch b;
	if (wire_decode_batch(msg, len, &b)) {
		cs->f.refused++;
		return;
	}
	if (b.partition != partition || !item_edge_valid(b.edge.p, b.edge.n) ||
	    !item_edge_valid(b.region.p, b.region.n) || b.seq == 0) {
		cs->f.refused++;
		wire_batch_free(&b);
		return;
	}
	edge_ref *er = edge_of(pr, b.edge);
	if (writer && writer < er->fence) {
		cs->f.batches_fenced++;
	} else {
		if (writer > er->fence)
			er->fence = writer;
		if (b.seq <= er->applied) {
			cs->f.batches_duplicate++;
		} else if (b.seq > er->applied + 1) {
			cs->f.batches_held++;
			hold(er, b.seq, msg, len);
		} else {
			merge_batch(cs, pr, &b);
			er->applied = b.seq;
			drain_held(cs, pr, er);
		}
	}
	wire_batch_free(&b);
}

void check_snap_log_start(check_snap *cs, unsigned partition, int64_t first)
{
	if (partition < cs->nparts && first > 0)
		cs->parts[partition].log_cut = true;
}

void check_snap_input(check_snap *cs, unsigned partition, int64_t offset, const void *msg,
                      size_t len, uint64_t writer)
{
	if (partition >= cs->nparts || offset < 0)
		return;
	part_ref *pr = &cs->parts[partition];
	start(pr);
	if ((uint64_t)offset < pr->read_end)
		return; /* given twice: the partition's order is the caller's */
	/* A hole in the offsets (the log's start passed the reader while it
	 * read): the merge would lack what was in it. */
	if ((uint64_t)offset > pr->read_end)
		pr->log_cut = true;
	judge_upto(cs, partition, (uint64_t)offset);
	pr->read_end = (uint64_t)offset + 1;
	cs->at = (uint64_t)offset;
	if (!pr->log_cut)
		merge_message(cs, pr, partition, msg, len, writer);
}

void check_snap_finish(check_snap *cs, check_snap_figures *out)
{
	for (unsigned p = 0; p < cs->nparts; p++) {
		part_ref *pr = &cs->parts[p];
		start(pr);
		judge_upto(cs, p, pr->read_end);
		for (; pr->next < pr->nsnaps; pr->next++)
			skip(cs, pr->log_cut ? &cs->f.skip_log_start : &cs->f.skip_past_end);
		for (; pr->nextask < pr->nasks; pr->nextask++)
			if (cs->hooks.not_judged)
				cs->hooks.not_judged(cs->hooks.ctx, pr->asks[pr->nextask].cookie);
	}
	*out = cs->f;
}

void check_snap_set_hooks(check_snap *cs, const check_snap_hooks *h)
{
	cs->hooks = *h;
}

void check_snap_ask(check_snap *cs, unsigned partition, uint64_t offset, const char *counter,
                    const char *item, size_t cookie)
{
	part_ref *pr = partition < cs->nparts ? &cs->parts[partition] : NULL;
	size_t cn = strlen(counter), in = strlen(item);
	if (!pr || pr->started || cn > WIRE_MAX_STR || in > WIRE_MAX_STR) {
		if (cs->hooks.not_judged)
			cs->hooks.not_judged(cs->hooks.ctx, cookie);
		return;
	}
	if (pr->nasks == pr->capasks) {
		pr->capasks = pr->capasks ? 2 * pr->capasks : 256;
		pr->asks = xrealloc(pr->asks, pr->capasks * sizeof *pr->asks);
	}
	char key[KEY_MAX];
	size_t n = pair_key(key, wire_cstr(counter, cn), wire_cstr(item, in), NULL);
	pr->asks[pr->nasks++] = (ask_rec){offset, cs->arrivals++, cookie, n, xmemdup(key, n)};
}
