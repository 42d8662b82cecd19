/* apply_ops.c - what one batch's ops and sums do (apply_ops.h; key
 * layout in keys.h): each checked against its counter, set ops merged
 * last-writer-wins (merge.h) and sums added, every count moved with its
 * region and day buckets, the home index's entries of the states that
 * changed, the feed's events, the invalid ones counted and logged at
 * most once a second.
 *
 * Every effect goes into the message's working set (apply_ws.h), which
 * apply.c then puts into the message's write batch. The applier's
 * thread only.
 */
#include "central/apply/apply_ops.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "central/apply/day.h"
#include "central/apply/keys.h"
#include "central/apply/merge.h"
#include "clock.h"
#include "item.h"
#include "log.h"
#include "memacct.h"
#include "xmem.h"

#define INVALID_LOG_EVERY_MS 1000

#define BUMP(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)

void apply_ops_init(apply_ops *o, const counters *ctr, apply_ws *ws, apply_feed *feed,
                    apply_moved *moved)
{
	*o = (apply_ops){.ctr = ctr, .ws = ws, .feed = feed, .moved = moved};
}

void apply_ops_free(apply_ops *o)
{
	free(o->defs);
}

/* ---- counts and their buckets -------------------------------------------- */

/* Moves the count of (counter, item) (count_too; *count is then its
 * new value) and its region and day buckets.
 * A bucket is only ever written in the same store write as its count or
 * after it (a unit moving between buckets was counted before), and a
 * count key is never deleted: so when the store has no count key for the
 * item, it has none of its buckets either, and they are not read. */
static int bump(apply_ops *o, const wire_op *op, const char *region, size_t rn, uint64_t hlc,
                int64_t delta, bool count_too, uint64_t *count)
{
	unsigned char key[CKEY_MAX];
	int rc = 0;
	bool none = false; /* the item has no count key in the store */
	if (count_too) {
		ktab_ent *c;
		rc = apply_ws_num_add(
		    o->ws, key,
		    ckey_count(key, op->counter.p, op->counter.n, op->item.p, op->item.n), delta,
		    false, &c);
		if (rc == 0) {
			none = c->mark == APPLY_WS_ABSENT;
			*count = *(const uint64_t *)c->val;
		}
	}
	if (!rc)
		rc = apply_ws_num_add(o->ws, key,
		                      ckey_region(key, op->counter.p, op->counter.n, op->item.p,
		                                  op->item.n, region, rn),
		                      delta, none, NULL);
	if (!rc)
		rc = apply_ws_num_add(o->ws, key,
		                      ckey_day(key, op->counter.p, op->counter.n, op->item.p,
		                               op->item.n, day_of_hlc(hlc)),
		                      delta, none, NULL);
	return rc;
}

/* The count of (counter, item) as the message has it so far. */
static int count_now(apply_ops *o, const wire_op *op, uint64_t *count)
{
	unsigned char key[CKEY_MAX];
	ktab_ent *c;
	int rc = apply_ws_num_add(
	    o->ws, key, ckey_count(key, op->counter.p, op->counter.n, op->item.p, op->item.n), 0,
	    false, &c);
	if (rc == 0)
		*count = *(const uint64_t *)c->val;
	return rc;
}

/* ---- ops ----------------------------------------------------------------- */

/* NULL when op fits its counter (*def then names it), else the reason. */
static const char *op_invalid(const apply_ops *o, const wire_op *op, const counter_def **def)
{
	*def = counters_find(o->ctr, op->counter.p, op->counter.n);
	if (!*def)
		return "unknown_counter";
	if (!item_valid(op->item.p, op->item.n))
		return "bad_item";
	if (!item_user_valid(op->user.p, op->user.n))
		return "bad_user";
	if ((*def)->kind == COUNTER_SET)
		return op->n == 1 ? NULL : "set_n_not_1";
	if (op->kind != WIRE_ADD)
		return "remove_on_sum";
	return op->n >= 1 && op->n <= COUNTER_SUM_MAX ? NULL : "sum_n_out_of_range";
}

/* NULL when sum fits a sum counter (*def then names it), else the reason. */
static const char *sum_invalid(const apply_ops *o, const wire_sum *sm, const counter_def **def)
{
	*def = counters_find(o->ctr, sm->counter.p, sm->counter.n);
	if (!*def)
		return "unknown_counter";
	if (!item_valid(sm->item.p, sm->item.n))
		return "bad_item";
	if ((*def)->kind != COUNTER_SUM)
		return "sum_on_set";
	return NULL; /* n is 1..WIRE_MAX_SUM: the decoder checked */
}

/* Notes in the working set the 'V' key of a state op changed under
 * region home: that region's index of its users' memberships, which a
 * new edge there loads (opsckpt.c). It goes into the same store write
 * as the state. home is the op's user's (the edge puts it on every set
 * op of a user whose identity names one, at home too), or for an op
 * without one (unhomed) the region that took it (apply_set): then an
 * entry there that a homed op wrote stays homed (the pair is that
 * region's user's, who acted with a token without the claim), else the
 * entry is marked unhomed. A home that is not a region name cannot be
 * keyed (the edge checks the claim, so only a foreign producer sends
 * one): the op applies, unindexed. 0 or the store's error. */
static int index_home(apply_ops *o, const wire_batch *b, wire_str home, bool unhomed,
                      const wire_op *op, const merge_state *st)
{
	if (!item_edge_valid(home.p, home.n))
		return 0;
	unsigned char key[CKEY_MAX];
	size_t kn = ckey_home(key, home.p, home.n, b->partition, op->user.p, op->user.n,
	                      op->counter.p, op->counter.n, op->item.p, op->item.n);
	if (unhomed) {
		bool homed;
		int rc = apply_ws_homed(o->ws, key, kn, &homed);
		if (rc)
			return rc;
		unhomed = !homed;
	}
	apply_ws_home(o->ws, key, kn, st->present, unhomed, st->hlc);
	/* An unhomed entry is not the region's user's: no old like of it
	 * for the checkpoint until a move makes it one. */
	if (st->present && !unhomed)
		apply_ws_home_day(o->ws, home.p, home.n, b->partition, op, st->hlc);
	return 0;
}

/* Applies a set op; *moved says whether its count changed (0 or 1). */
static int apply_set(apply_ops *o, const wire_batch *b, const wire_op *op, uint64_t *moved)
{
	unsigned char key[CKEY_MAX];
	size_t kn = ckey_state(key, op->counter.p, op->counter.n, op->item.p, op->item.n,
	                       op->user.p, op->user.n);
	merge_state *st;
	bool known, changed;
	int rc = apply_ws_state_of(o->ws, key, kn, &st, &known);
	if (rc)
		return rc;
	merge_state old = *st;
	bool was = known && st->present;
	int delta = merge_apply(st, known, op->kind == WIRE_ADD, op->hlc, b->edge.p, b->edge.n,
	                        b->region.p, b->region.n, &changed);
	*moved = delta != 0;
	if (!changed)
		return 0;
	wire_op at_home;
	char where[EDGE_ID_MAX];
	size_t wn;
	rc = apply_where(o->moved, b->partition, op, where, &wn);
	if (rc)
		return rc;
	if (wn) {
		/* The user moved: the home a move named stands, whatever the
		 * op's token said (one issued before the move, or one without
		 * the claim). */
		at_home = *op;
		at_home.home = wire_cstr(where, wn);
		op = &at_home;
	}
	if (op->home.n)
		rc = index_home(o, b, op->home, false, op, st);
	else if (o->feed->nhomes)
		/* No home named (an identity without the claim), with home
		 * streams on: indexed under the region that took it, marked
		 * unhomed (the home checkpoint leaves it out: the user does
		 * not live there), with no home event, so that the user's
		 * first home, given by a move (central home-move), takes the
		 * pair there as any move does. Without it such a pair would
		 * be in no index, and the home edge would answer it "not
		 * liked". */
		rc = index_home(o, b, b->region, true, op, st);
	if (rc)
		return rc;
	/* The unit of a replaced present state leaves its buckets; a new
	 * present state puts one in its own. An add over an add moves it;
	 * the count itself moves only on a flip (delta). */
	uint64_t count = 0;
	if (was)
		rc = bump(o, op, old.region, old.region_len, old.hlc, -1, delta < 0, &count);
	if (!rc && st->present)
		rc = bump(o, op, st->region, st->region_len, st->hlc, 1, delta > 0, &count);
	if (!rc && delta)
		rc = apply_feed_change(o->feed, o->ws, op, true, st->present, 1, st->region,
		                       st->region_len, st->hlc, delta > 0 ? count - 1 : count + 1,
		                       count);
	if (!rc && op->home.n && o->feed->nhomes) {
		/* Every change goes home, a clock's move too: the home edge
		 * keeps the pair as last-writer-wins as central does. */
		if (!delta)
			rc = count_now(o, op, &count);
		if (!rc)
			apply_feed_home(o->feed, b, op, st, count);
	}
	return rc;
}

static void report_invalid(apply_ops *o, const wire_batch *b, uint32_t nbad, uint32_t first,
                           const char *why)
{
	o->invalid_unlogged += nbad;
	uint64_t now = clock_mono_ms();
	if (o->invalid_logged_ms && now - o->invalid_logged_ms < INVALID_LOG_EVERY_MS)
		return;
	log_warn("invalid ops skipped; the rest of their batches applied",
	         "edge=%.*s partition=%u seq=%" PRIu64 " in_batch=%u first_index=%u reason=%s "
	         "since_last_line=%" PRIu64,
	         (int)b->edge.n, b->edge.p, b->partition, b->seq, nbad, first, why,
	         o->invalid_unlogged);
	o->invalid_logged_ms = now;
	o->invalid_unlogged = 0;
}

/* Fills o->defs with each op's counter (NULL for an invalid op) and inv
 * with what was invalid. */
void apply_ops_scan(apply_ops *o, const wire_batch *b, invalid *inv)
{
	*inv = (invalid){0, 0, NULL};
	if (b->nops > o->defs_cap) {
		o->defs_cap = b->nops;
		o->defs = xrealloc(o->defs, o->defs_cap * sizeof *o->defs);
		atomic_store_explicit(&o->defs_bytes, memacct_chunk(o->defs_cap * sizeof *o->defs),
		                      memory_order_relaxed);
	}
	for (uint32_t i = 0; i < b->nops; i++) {
		const char *bad = op_invalid(o, &b->ops[i], &o->defs[i]);
		if (bad) {
			o->defs[i] = NULL;
			if (!inv->n++) {
				inv->first = i;
				inv->why = bad;
			}
		}
	}
}

/* Applies b's sums: each moves its count and its region and day buckets
 * by n at once. Invalid ones are skipped and noted in inv, numbered after
 * the ops. */
static int apply_sums(apply_ops *o, const wire_batch *b, invalid *inv)
{
	for (uint32_t i = 0; i < b->nsums; i++) {
		const wire_sum *sm = &b->sums[i];
		const counter_def *def;
		const char *bad = sum_invalid(o, sm, &def);
		if (bad) {
			if (!inv->n++) {
				inv->first = b->nops + i;
				inv->why = bad;
			}
			if (o->obs && o->obs->invalid)
				o->obs->invalid(o->obs->ctx, bad);
			continue;
		}
		/* As an op of n for bump and the observers; a sum has no user. */
		wire_op op = {sm->counter,     sm->item, {"", 0},  WIRE_ADD,
		              (uint32_t)sm->n, sm->hlc,  {NULL, 0}};
		uint64_t count;
		int rc =
		    bump(o, &op, b->region.p, b->region.n, sm->hlc, (int64_t)sm->n, true, &count);
		if (!rc)
			rc = apply_feed_change(o->feed, o->ws, &op, false, true, sm->n, b->region.p,
			                       b->region.n, sm->hlc, count - sm->n, count);
		if (rc)
			return rc;
		BUMP(o->ops_applied, 1);
		if (o->obs && o->obs->op)
			o->obs->op(o->obs->ctx, def, &op, sm->n);
	}
	return 0;
}

/* Applies the valid ops of b; inv (when not NULL) says which were not. */
int apply_ops_run(apply_ops *o, const wire_batch *b, invalid *inv)
{
	invalid scanned;
	if (!inv)
		inv = &scanned;
	apply_ops_scan(o, b, inv);
	uint32_t nbad = inv->n, first_bad = inv->first;
	const char *why = inv->why;
	int rc = apply_ws_preload(o->ws, b, o->defs);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < b->nops; i++) {
		const wire_op *op = &b->ops[i];
		const counter_def *def = o->defs[i];
		if (!def)
			continue;
		uint64_t moved = op->n, count;
		if (def->kind == COUNTER_SET) {
			rc = apply_set(o, b, op, &moved);
		} else {
			rc = bump(o, op, b->region.p, b->region.n, op->hlc, (int64_t)op->n, true,
			          &count);
			if (!rc)
				rc = apply_feed_change(o->feed, o->ws, op, false, true, op->n,
				                       b->region.p, b->region.n, op->hlc,
				                       count - op->n, count);
		}
		if (rc)
			return rc;
		BUMP(o->ops_applied, 1);
		if (o->obs && o->obs->op)
			o->obs->op(o->obs->ctx, def, op, moved);
	}
	for (uint32_t i = 0; nbad && o->obs && o->obs->invalid && i < b->nops; i++) {
		const counter_def *d;
		if (!o->defs[i])
			o->obs->invalid(o->obs->ctx, op_invalid(o, &b->ops[i], &d));
	}
	rc = apply_sums(o, b, inv);
	if (rc)
		return rc;
	if (inv->n > nbad && !nbad) {
		first_bad = inv->first;
		why = inv->why;
	}
	nbad = inv->n;
	if (nbad) {
		BUMP(o->ops_invalid, nbad);
		report_invalid(o, b, nbad, first_bad, why);
	}
	return 0;
}
