/* apply_ops.c - what one message does to central's store (apply.h;
 * key layout in keys.h): each op and sum checked against its counter,
 * set ops merged last-writer-wins (merge.h) and sums added, every count
 * moved with its region and day buckets, the invalid ones counted and
 * logged at most once a second.
 *
 * Per message, every effect is first gathered in a working set (ktab.h):
 * the membership states the batch touched (S keys) and the numbers it
 * moved (C counts, R region and Y day buckets), each loaded on first
 * touch from the caches of stored values, else from the store, and the
 * home index's entries of the states it changed (U keys, written blind:
 * never read here). The working set then goes, sorted by key, into the
 * message's write batch (apply_ws_flush), so each key is written once
 * per message; once apply.c wrote it with the sequence and offset, the
 * caches learn the new values (apply_ws_commit). The applier's thread
 * only.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "central/apply/apply_int.h"
#include "clock.h"
#include "central/apply/day.h"
#include "item.h"
#include "central/apply/keys.h"
#include "log.h"
#include "central/apply/merge.h"
#include "memacct.h"
#include "partition.h"
#include "xmem.h"

#define INVALID_LOG_EVERY_MS 1000

/* ---- per-message working set and the caches of stored values ---------- */

void applier_set_cache(applier *a, size_t counts, size_t members)
{
	kcache_free(&a->counts);
	kcache_free(&a->members);
	kcache_init(&a->counts, counts);
	kcache_init(&a->members, members);
}

void applier_note_repair(applier *a, const void *key, size_t kn, uint64_t value)
{
	const char *k = key;
	kcache_del(&a->counts, key, kn, ktab_hash(key, kn));
	const char *counter, *item;
	size_t cn, in;
	if (!ckey_parse_count(k, kn, &counter, &cn, &item, &in))
		return;
	part *pt = &a->parts[partition_of(item, in, a->nparts)];
	smap_put(&pt->changed, k + 1, kn - 1, NULL)->u = value;
	apply_changes_account(a, pt);
	pt->dirty = true;
}

/* Marks on working-set entries (ktab_ent.mark). */
#define MARK_STORED 1 /* S: the state was in the store when loaded */
#define MARK_ABSENT 1 /* C: the store held no such key */

/* Fills the fresh working-set entry e of an S key: from the membership
 * cache, else the store; left zeroed (unset) when there is none. */
static int load_state(applier *a, ktab_ent *e)
{
	merge_state *s = (merge_state *)e->val;
	unsigned char val[MERGE_STATE_MAX];
	size_t vlen;
	int rc = 0;
	if (!kcache_get(&a->members, e->key, e->klen, e->hash, val, sizeof val, &vlen)) {
		rc = store_get_into(a->db, e->key, e->klen, val, sizeof val, &vlen);
		if (rc == ERR_NOTFOUND)
			return 0;
		if (rc && rc != ERR_CORRUPT)
			return rc;
	}
	if (rc || merge_state_decode(val, vlen, s)) {
		log_error("corrupt membership state in store; treating as unseen", "%s", "");
		memset(s, 0, sizeof *s);
		return 0;
	}
	e->mark = MARK_STORED;
	return 0;
}

/* The current state of an S key: from this message's working set, else
 * loaded (load_state). */
int apply_state_of(applier *a, const unsigned char *key, size_t kn, merge_state **st, bool *known)
{
	bool created;
	ktab_ent *e = ktab_add(&a->ws, key, kn, ktab_hash(key, kn), sizeof(merge_state), &created);
	merge_state *s = (merge_state *)e->val;
	*st = s;
	if (created) {
		int rc = load_state(a, e);
		if (rc)
			return rc;
	}
	*known = s->edge_len > 0;
	return 0;
}

/* A number (C, R or Y) as stored: the count cache, else the store.
 * *absent says the store has no such key (a key the cache holds is
 * always in the store: every key the applier touches is written, C keys
 * even at 0). */
static int stored_num(applier *a, const unsigned char *key, size_t kn, uint64_t h, uint64_t *v,
                      bool *absent)
{
	size_t vlen;
	*absent = false;
	if (kcache_get(&a->counts, key, kn, h, v, sizeof *v, &vlen))
		return 0;
	unsigned char buf[8];
	int rc = store_get_into(a->db, key, kn, buf, sizeof buf, &vlen);
	if (rc == 0 && vlen != 8) {
		log_error("stored number has the wrong size", "key_tag=%c size=%zu", key[0], vlen);
		rc = ERR_CORRUPT;
	}
	if (rc == 0) {
		*v = store_get_u64(buf);
	} else if (rc == ERR_NOTFOUND) {
		*v = 0;
		*absent = true;
	} else if (rc == ERR_CORRUPT) {
		*v = 0; /* logged; the number restarts at 0 */
	} else {
		return rc;
	}
	return 0;
}

/* Moves the number under key (C, R or Y) by delta in this message's
 * working set, loading it on first touch, unless known_absent says the
 * store has no such key. It never goes below 0 nor wraps: a move that
 * would is a bug elsewhere, logged at error level and clamped. The entry
 * goes to *ent when ent is not NULL. */
int apply_num_add(applier *a, const unsigned char *key, size_t kn, int64_t delta, bool known_absent,
                  ktab_ent **ent)
{
	uint64_t h = ktab_hash(key, kn);
	bool created;
	ktab_ent *e = ktab_add(&a->ws, key, kn, h, sizeof(uint64_t), &created);
	uint64_t *v = (uint64_t *)e->val;
	if (created && !known_absent) {
		bool absent;
		int rc = stored_num(a, key, kn, h, v, &absent);
		if (rc) {
			ktab_kill(e);
			return rc;
		}
		if (absent)
			e->mark = MARK_ABSENT;
	}
	if (ent)
		*ent = e;
	if (delta < 0 && *v < (uint64_t)-delta) {
		log_error("number would go below zero; its effects disagree",
		          "key_tag=%c value=%" PRIu64 " delta=%" PRId64, key[0], *v, delta);
		STAT_ADD(a, numbers_clamped, 1);
		*v = 0;
	} else if (delta > 0 && *v > UINT64_MAX - (uint64_t)delta) {
		log_error("number would overflow", "key_tag=%c", key[0]);
		STAT_ADD(a, numbers_clamped, 1);
		*v = UINT64_MAX;
	} else {
		*v = (uint64_t)((int64_t)*v + delta);
	}
	return 0;
}

/* Moves the count of (counter, item) (count_too; *count is then its
 * new value) and its region and day buckets.
 * A bucket is only ever written in the same store write as its count or
 * after it (a unit moving between buckets was counted before), and a
 * count key is never deleted: so when the store has no count key for the
 * item, it has none of its buckets either, and they are not read. */
static int bump(applier *a, const wire_op *op, const char *region, size_t rn, uint64_t hlc,
                int64_t delta, bool count_too, uint64_t *count)
{
	unsigned char key[CKEY_MAX];
	int rc = 0;
	bool none = false; /* the item has no count key in the store */
	if (count_too) {
		ktab_ent *c;
		rc = apply_num_add(
		    a, key, ckey_count(key, op->counter.p, op->counter.n, op->item.p, op->item.n),
		    delta, false, &c);
		if (rc == 0) {
			none = c->mark == MARK_ABSENT;
			*count = *(const uint64_t *)c->val;
		}
	}
	if (!rc)
		rc = apply_num_add(a, key,
		                   ckey_region(key, op->counter.p, op->counter.n, op->item.p,
		                               op->item.n, region, rn),
		                   delta, none, NULL);
	if (!rc)
		rc = apply_num_add(a, key,
		                   ckey_day(key, op->counter.p, op->counter.n, op->item.p,
		                            op->item.n, day_of_hlc(hlc)),
		                   delta, none, NULL);
	return rc;
}

/* The count of (counter, item) as the message has it so far. */
static int count_now(applier *a, const wire_op *op, uint64_t *count)
{
	unsigned char key[CKEY_MAX];
	ktab_ent *c;
	int rc = apply_num_add(
	    a, key, ckey_count(key, op->counter.p, op->counter.n, op->item.p, op->item.n), 0, false,
	    &c);
	if (rc == 0)
		*count = *(const uint64_t *)c->val;
	return rc;
}

/* ---- ops ----------------------------------------------------------------- */

/* NULL when op fits its counter (*def then names it), else the reason. */
static const char *op_invalid(const applier *a, const wire_op *op, const counter_def **def)
{
	*def = counters_find(a->ctr, op->counter.p, op->counter.n);
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
static const char *sum_invalid(const applier *a, const wire_sum *sm, const counter_def **def)
{
	*def = counters_find(a->ctr, sm->counter.p, sm->counter.n);
	if (!*def)
		return "unknown_counter";
	if (!item_valid(sm->item.p, sm->item.n))
		return "bad_item";
	if ((*def)->kind != COUNTER_SUM)
		return "sum_on_set";
	return NULL; /* n is 1..WIRE_MAX_SUM: the decoder checked */
}

/* Whether the 'V' entry under key (kn bytes) is there and homed, as the
 * message has it so far, else as stored. 0 or the store's error. */
static int entry_homed(applier *a, const unsigned char *key, size_t kn, bool *homed)
{
	bool member, unhomed = true;
	uint64_t clock;
	const ktab_ent *e = ktab_find(&a->ws, key, kn, ktab_hash(key, kn));
	if (e) {
		*homed = !(e->val[0] & CKEY_HOME_UNHOMED);
		return 0;
	}
	char v[CKEY_HOME_LEN];
	size_t vn;
	int rc = store_get_into(a->db, key, kn, v, sizeof v, &vn);
	if (rc && rc != ERR_NOTFOUND && rc != ERR_CORRUPT)
		return rc;
	*homed = !rc && ckey_parse_home_value_as(v, vn, &member, &unhomed, &clock) && !unhomed;
	return 0;
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
static int index_home(applier *a, const wire_batch *b, wire_str home, bool unhomed,
                      const wire_op *op, const merge_state *st)
{
	if (!item_edge_valid(home.p, home.n))
		return 0;
	unsigned char key[CKEY_MAX];
	size_t kn = ckey_home(key, home.p, home.n, b->partition, op->user.p, op->user.n,
	                      op->counter.p, op->counter.n, op->item.p, op->item.n);
	if (unhomed) {
		bool homed;
		int rc = entry_homed(a, key, kn, &homed);
		if (rc)
			return rc;
		unhomed = !homed;
	}
	bool created;
	ktab_ent *e = ktab_add(&a->ws, key, kn, ktab_hash(key, kn), CKEY_HOME_LEN, &created);
	ckey_home_value_as(e->val, st->present, unhomed, st->hlc);
	/* An unhomed entry is not the region's user's: no old like of it
	 * for the checkpoint until a move makes it one. */
	if (st->present && !unhomed)
		apply_home_day(a, home.p, home.n, b->partition, op, st->hlc);
	return 0;
}

void apply_home_day(applier *a, const char *home, size_t hn, uint32_t p, const wire_op *op,
                    uint64_t hlc)
{
	unsigned char key[CKEY_MAX];
	size_t kn = ckey_home_day(key, home, hn, p, op->counter.p, op->counter.n, op->item.p,
	                          op->item.n, day_of_hlc(hlc));
	bool created;
	size_t vn = 8 + op->user.n;
	ktab_ent *e = ktab_add(&a->ws, key, kn, ktab_hash(key, kn), vn, &created);
	/* The day's key may be in the message already, with another user:
	 * its value takes this one's length. */
	ktab_resize(&a->ws, e, vn);
	store_put_u64(e->val, hlc);
	memcpy(e->val + 8, op->user.p, op->user.n);
}

/* Applies a set op; *moved says whether its count changed (0 or 1). */
static int apply_set(applier *a, const wire_batch *b, const wire_op *op, uint64_t *moved)
{
	unsigned char key[CKEY_MAX];
	size_t kn = ckey_state(key, op->counter.p, op->counter.n, op->item.p, op->item.n,
	                       op->user.p, op->user.n);
	merge_state *st;
	bool known, changed;
	int rc = apply_state_of(a, key, kn, &st, &known);
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
	rc = apply_where(a, b->partition, op, where, &wn);
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
		rc = index_home(a, b, op->home, false, op, st);
	else if (a->nhomes)
		/* No home named (an identity without the claim), with home
		 * streams on: indexed under the region that took it, marked
		 * unhomed (the home checkpoint leaves it out: the user does
		 * not live there), with no home event, so that the user's
		 * first home, given by a move (central home-move), takes the
		 * pair there as any move does. Without it such a pair would
		 * be in no index, and the home edge would answer it "not
		 * liked". */
		rc = index_home(a, b, b->region, true, op, st);
	if (rc)
		return rc;
	/* The unit of a replaced present state leaves its buckets; a new
	 * present state puts one in its own. An add over an add moves it;
	 * the count itself moves only on a flip (delta). */
	uint64_t count = 0;
	if (was)
		rc = bump(a, op, old.region, old.region_len, old.hlc, -1, delta < 0, &count);
	if (!rc && st->present)
		rc = bump(a, op, st->region, st->region_len, st->hlc, 1, delta > 0, &count);
	if (!rc && delta)
		rc = apply_feed_change(a, op, true, st->present, 1, st->region, st->region_len,
		                       st->hlc, delta > 0 ? count - 1 : count + 1, count);
	if (!rc && op->home.n && a->nhomes) {
		/* Every change goes home, a clock's move too: the home edge
		 * keeps the pair as last-writer-wins as central does. */
		if (!delta)
			rc = count_now(a, op, &count);
		if (!rc)
			apply_feed_home(a, b, op, st, count);
	}
	return rc;
}

static void report_invalid(applier *a, const wire_batch *b, uint32_t nbad, uint32_t first,
                           const char *why)
{
	a->invalid_unlogged += nbad;
	uint64_t now = clock_mono_ms();
	if (a->invalid_logged_ms && now - a->invalid_logged_ms < INVALID_LOG_EVERY_MS)
		return;
	log_warn("invalid ops skipped; the rest of their batches applied",
	         "edge=%.*s partition=%u seq=%" PRIu64 " in_batch=%u first_index=%u reason=%s "
	         "since_last_line=%" PRIu64,
	         (int)b->edge.n, b->edge.p, b->partition, b->seq, nbad, first, why,
	         a->invalid_unlogged);
	a->invalid_logged_ms = now;
	a->invalid_unlogged = 0;
}

static int by_key(const void *x, const void *y)
{
	const ktab_ent *a = *(ktab_ent *const *)x, *b = *(ktab_ent *const *)y;
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int c = memcmp(a->key, b->key, n);
	if (c)
		return c;
	return a->klen < b->klen ? -1 : a->klen > b->klen;
}

/* Room for n entry pointers in a->order. */
static void order_room(applier *a, size_t n)
{
	if (n > a->order_cap) {
		a->order_cap = n * 2;
		a->order = xrealloc(a->order, a->order_cap * sizeof *a->order);
	}
}

/* Loads the membership states of the batch's valid set ops before any
 * op applies, in key order: neighbouring lookups then walk the same
 * parts of LevelDB's memtable and tables. Only the order of the reads
 * changes; the ops still apply in log order. defs[i] is op i's counter,
 * NULL for an invalid op. */
static int preload_states(applier *a, const wire_batch *b, const counter_def *const *defs)
{
	size_t n = 0;
	order_room(a, b->nops);
	for (uint32_t i = 0; i < b->nops; i++) {
		const wire_op *op = &b->ops[i];
		if (!defs[i] || defs[i]->kind != COUNTER_SET)
			continue;
		unsigned char key[CKEY_MAX];
		size_t kn = ckey_state(key, op->counter.p, op->counter.n, op->item.p, op->item.n,
		                       op->user.p, op->user.n);
		bool created;
		ktab_add(&a->ws, key, kn, ktab_hash(key, kn), sizeof(merge_state), &created);
		if (created)
			n++;
	}
	/* The states just added are the last n entries; adding may move
	 * the entries, so take their addresses only now. */
	size_t first = ktab_len(&a->ws) - n;
	for (size_t i = 0; i < n; i++)
		a->order[i] = ktab_at(&a->ws, first + i);
	if (n > 1) /* a NULL order when nothing was added */
		qsort(a->order, n, sizeof *a->order, by_key);
	for (size_t i = 0; i < n; i++) {
		int rc = load_state(a, a->order[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* Fills a->defs with each op's counter (NULL for an invalid op) and inv
 * with what was invalid. */
void apply_scan_ops(applier *a, const wire_batch *b, invalid *inv)
{
	*inv = (invalid){0, 0, NULL};
	if (b->nops > a->defs_cap) {
		a->defs_cap = b->nops;
		a->defs = xrealloc(a->defs, a->defs_cap * sizeof *a->defs);
	}
	for (uint32_t i = 0; i < b->nops; i++) {
		const char *bad = op_invalid(a, &b->ops[i], &a->defs[i]);
		if (bad) {
			a->defs[i] = NULL;
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
static int apply_sums(applier *a, const wire_batch *b, invalid *inv)
{
	for (uint32_t i = 0; i < b->nsums; i++) {
		const wire_sum *sm = &b->sums[i];
		const counter_def *def;
		const char *bad = sum_invalid(a, sm, &def);
		if (bad) {
			if (!inv->n++) {
				inv->first = b->nops + i;
				inv->why = bad;
			}
			if (a->obs && a->obs->invalid)
				a->obs->invalid(a->obs->ctx, bad);
			continue;
		}
		/* As an op of n for bump and the observers; a sum has no user. */
		wire_op op = {sm->counter,     sm->item, {"", 0},  WIRE_ADD,
		              (uint32_t)sm->n, sm->hlc,  {NULL, 0}};
		uint64_t count;
		int rc =
		    bump(a, &op, b->region.p, b->region.n, sm->hlc, (int64_t)sm->n, true, &count);
		if (!rc)
			rc = apply_feed_change(a, &op, false, true, sm->n, b->region.p, b->region.n,
			                       sm->hlc, count - sm->n, count);
		if (rc)
			return rc;
		STAT_ADD(a, ops_applied, 1);
		if (a->obs && a->obs->op)
			a->obs->op(a->obs->ctx, def, &op, sm->n);
	}
	return 0;
}

/* Applies the valid ops of b; inv (when not NULL) says which were not. */
int apply_ops(applier *a, const wire_batch *b, invalid *inv)
{
	invalid scanned;
	if (!inv)
		inv = &scanned;
	apply_scan_ops(a, b, inv);
	uint32_t nbad = inv->n, first_bad = inv->first;
	const char *why = inv->why;
	int rc = preload_states(a, b, a->defs);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < b->nops; i++) {
		const wire_op *op = &b->ops[i];
		const counter_def *def = a->defs[i];
		if (!def)
			continue;
		uint64_t moved = op->n, count;
		if (def->kind == COUNTER_SET) {
			rc = apply_set(a, b, op, &moved);
		} else {
			rc = bump(a, op, b->region.p, b->region.n, op->hlc, (int64_t)op->n, true,
			          &count);
			if (!rc)
				rc = apply_feed_change(a, op, false, true, op->n, b->region.p,
				                       b->region.n, op->hlc, count - op->n, count);
		}
		if (rc)
			return rc;
		STAT_ADD(a, ops_applied, 1);
		if (a->obs && a->obs->op)
			a->obs->op(a->obs->ctx, def, op, moved);
	}
	for (uint32_t i = 0; nbad && a->obs && a->obs->invalid && i < b->nops; i++) {
		const counter_def *d;
		if (!a->defs[i])
			a->obs->invalid(a->obs->ctx, op_invalid(a, &b->ops[i], &d));
	}
	rc = apply_sums(a, b, inv);
	if (rc)
		return rc;
	if (inv->n > nbad && !nbad) {
		first_bad = inv->first;
		why = inv->why;
	}
	nbad = inv->n;
	if (nbad) {
		STAT_ADD(a, ops_invalid, nbad);
		report_invalid(a, b, nbad, first_bad, why);
	}
	return 0;
}

/* Puts the working set into the write batch, in key order (LevelDB then
 * inserts neighbours one after another), and notes the changed counts. */
void apply_ws_flush(applier *a, part *pt)
{
	size_t n = ktab_len(&a->ws), live = 0;
	order_room(a, n);
	for (size_t i = 0; i < n; i++) {
		ktab_ent *e = ktab_at(&a->ws, i);
		if (!e->dead)
			a->order[live++] = e;
	}
	if (live > 1)
		qsort(a->order, live, sizeof *a->order, by_key);
	unsigned char buf[MERGE_STATE_MAX];
	for (size_t i = 0; i < live; i++) {
		const ktab_ent *e = a->order[i];
		const unsigned char *k = e->key;
		size_t kn = e->klen;
		if (k[0] == CKEY_STATE) {
			const merge_state *st = (const merge_state *)e->val;
			if (st->edge_len)
				store_batch_put(a->wb, k, kn, buf, merge_state_encode(st, buf));
			continue;
		}
		if (k[0] == CKEY_HOME) {
			store_batch_put(a->wb, k, kn, e->val, CKEY_HOME_LEN);
			continue;
		}
		if (k[0] == CKEY_HOME_DAY) {
			store_batch_put(a->wb, k, kn, e->val, e->vlen);
			continue;
		}
		uint64_t v = *(const uint64_t *)e->val;
		if (k[0] != CKEY_COUNT && v == 0) {
			store_batch_del(a->wb, k, kn); /* empty buckets are not kept */
			continue;
		}
		store_put_u64(buf, v);
		store_batch_put(a->wb, k, kn, buf, 8);
		if (k[0] == CKEY_COUNT) {
			smap_put(&pt->changed, k + 1, kn - 1, NULL)->u = v;
			pt->dirty = true;
		}
	}
	a->nflushed = live;
	apply_changes_account(a, pt);
}

/* The working set's bytes, kept between messages: its table, and the
 * arrays of a message's entries in key order and of its ops' counters. */
static void ws_account(applier *a)
{
	atomic_store_explicit(&a->ws_bytes,
	                      ktab_bytes(&a->ws) + memacct_chunk(a->order_cap * sizeof *a->order) +
	                          memacct_chunk(a->defs_cap * sizeof *a->defs),
	                      memory_order_relaxed);
}

/* After the message's write went through: the caches learn what the
 * store now holds, and the working set empties. */
void apply_ws_commit(applier *a)
{
	unsigned char buf[MERGE_STATE_MAX];
	for (size_t i = 0; i < a->nflushed; i++) {
		const ktab_ent *e = a->order[i];
		if (e->key[0] == CKEY_STATE) {
			/* A membership enters the cache the second time it is
			 * loaded: most are set once and never read again. */
			const merge_state *st = (const merge_state *)e->val;
			if (st->edge_len && e->mark == MARK_STORED)
				kcache_put(&a->members, e->key, e->klen, e->hash, buf,
				           merge_state_encode(st, buf));
		} else if (e->key[0] != CKEY_HOME &&
		           e->key[0] != CKEY_HOME_DAY) { /* V and G keys are never read here */
			kcache_put(&a->counts, e->key, e->klen, e->hash, e->val, sizeof(uint64_t));
		}
	}
	a->nflushed = 0;
	ktab_reset(&a->ws);
	ws_account(a);
}

/* The message failed: its effects are forgotten, the caches untouched
 * (they hold only what the store holds). */
void apply_ws_drop(applier *a)
{
	a->nflushed = 0;
	ktab_reset(&a->ws);
	ws_account(a);
}
