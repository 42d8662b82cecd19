/* apply.c - central's batch applier (see apply.h; key layout in keys.h).
 *
 * Per message, every effect is first gathered in a working set (ktab.h):
 * the membership states the batch touched (S keys) and the numbers it
 * moved (C counts, R region and Y day buckets), each loaded on first
 * touch from the caches of stored values, else from the store. The
 * working set then goes, sorted by key, into one LevelDB write with the
 * sequence and offset, so each key is written once per message; once
 * that write succeeded the caches learn the new values. One owner
 * thread; the stats and per-partition gauges are atomics so the ops API
 * thread may read them.
 */
#include "apply.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "day.h"
#include "item.h"
#include "keys.h"
#include "ktab.h"
#include "log.h"
#include "merge.h"
#include "partition.h"
#include "xmem.h"

#define INVALID_LOG_EVERY_MS 1000

typedef struct edge_seq {
	uint64_t applied;
	uint64_t held_min; /* 0 = nothing held */
	uint64_t held_count;
} edge_seq;

typedef struct part {
	_Atomic int64_t next_offset; /* -1 until known */
	uint32_t epoch;              /* the CKEY_EPOCH key; 0 when absent */
	_Atomic uint64_t held;       /* sum of held_count over edges */
	smap edges;                  /* edge id -> edge_seq* */
	smap changed;                /* counter 0 item -> count, since last snapshot */
	smap emitted;                /* what the last snapshot referenced */
	bool dirty;
} part;

typedef struct stats {
	_Atomic uint64_t batches_applied, batches_duplicate, batches_held, batches_bad;
	_Atomic uint64_t batches_deadlettered, deadletter_failed;
	_Atomic uint64_t ops_applied, ops_invalid, store_writes;
	_Atomic uint64_t numbers_clamped;
} stats;

#define STAT_ADD(a, f, n) atomic_fetch_add_explicit(&(a)->st.f, (n), memory_order_relaxed)
#define STAT_GET(a, f) atomic_load_explicit(&(a)->st.f, memory_order_relaxed)

struct applier {
	store *db;
	uint32_t nparts;
	part *parts;
	const counters *ctr;
	store_batch *wb;
	ktab ws;          /* per message: S key -> merge_state, C/R/Y key -> u64 */
	kcache members;   /* S key -> its stored encoding */
	kcache counts;    /* C, R or Y key -> its stored value (absent = 0) */
	ktab_ent **order; /* preload and flush: working-set entries in key order */
	size_t order_cap, nflushed;
	const counter_def **defs; /* per op of the batch: its counter, NULL = invalid */
	size_t defs_cap;
	stats st;
	applier_dead_letter_fn dead_letter;
	void *dead_letter_ctx;
	const applier_obs *obs; /* NULL: no instruments */
	/* invalid-op log limiter */
	uint64_t invalid_logged_ms;
	uint64_t invalid_unlogged; /* ops since the last line */
};

static edge_seq *edge_of(part *pt, const char *edge, size_t elen)
{
	bool created;
	smap_val *v = smap_put(&pt->edges, edge, elen, &created);
	if (created)
		v->p = xcalloc(1, sizeof(edge_seq));
	return v->p;
}

static void held_add(part *pt, edge_seq *es, int64_t n)
{
	es->held_count = (uint64_t)((int64_t)es->held_count + n);
	atomic_fetch_add_explicit(&pt->held, (uint64_t)n, memory_order_relaxed);
}

/* An 'E' value of partition p: 0, or ERR_CORRUPT (logged). */
static int epoch_decode(uint32_t p, const void *v, size_t vn, uint32_t *epoch)
{
	if (vn != CKEY_EPOCH_LEN) {
		log_error("stored epoch has the wrong size", "partition=%u size=%zu", p, vn);
		return ERR_CORRUPT;
	}
	*epoch = store_get_u32(v);
	return 0;
}

static int load(applier *a)
{
	const char *k, *v;
	size_t kn, vn;
	store_iter *it = store_iter_new(a->db, ckey_prefix(CKEY_APPLIED), 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *e;
		size_t en;
		uint32_t p;
		if (!ckey_parse_edge(k, kn, CKEY_APPLIED, &e, &en, &p, NULL) || vn != 8 ||
		    p >= a->nparts)
			continue;
		edge_of(&a->parts[p], e, en)->applied = store_get_u64((const unsigned char *)v);
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc)
		return rc;
	it = store_iter_new(a->db, ckey_prefix(CKEY_HELD), 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *e;
		size_t en;
		uint32_t p;
		uint64_t seq;
		if (!ckey_parse_edge(k, kn, CKEY_HELD, &e, &en, &p, &seq) || p >= a->nparts)
			continue;
		edge_seq *es = edge_of(&a->parts[p], e, en);
		held_add(&a->parts[p], es, 1);
		if (!es->held_min || seq < es->held_min)
			es->held_min = seq;
	}
	rc = store_iter_status(it);
	store_iter_free(it);
	if (rc)
		return rc;
	for (uint32_t p = 0; p < a->nparts; p++) {
		unsigned char key[8];
		uint64_t off;
		rc = store_read_u64(a->db, key, ckey_offset(key, p), &off);
		if (rc == 0)
			atomic_store(&a->parts[p].next_offset, (int64_t)off);
		else if (rc != ERR_NOTFOUND)
			return rc;
		unsigned char val[CKEY_EPOCH_LEN];
		size_t vlen;
		rc = store_get_into(a->db, key, ckey_epoch(key, p), val, sizeof val, &vlen);
		if (rc == 0)
			rc = epoch_decode(p, val, vlen, &a->parts[p].epoch);
		if (rc && rc != ERR_NOTFOUND)
			return rc;
	}
	return 0;
}

applier *applier_new(store *db, uint32_t nparts, const counters *c, char *err, size_t errlen)
{
	applier *a = xcalloc(1, sizeof *a);
	a->db = db;
	a->nparts = nparts;
	a->ctr = c;
	a->parts = xcalloc(nparts, sizeof *a->parts);
	for (uint32_t p = 0; p < nparts; p++) {
		atomic_init(&a->parts[p].next_offset, -1);
		atomic_init(&a->parts[p].held, 0);
		smap_init(&a->parts[p].edges);
		smap_init(&a->parts[p].changed);
		smap_init(&a->parts[p].emitted);
	}
	a->wb = store_batch_new();
	ktab_init(&a->ws);
	kcache_init(&a->members, APPLIER_CACHE_MEMBERS_DEFAULT);
	kcache_init(&a->counts, APPLIER_CACHE_COUNTS_DEFAULT);
	int rc = load(a);
	if (rc) {
		snprintf(err, errlen, "loading applied sequences: %s", err_str(rc));
		applier_free(a);
		return NULL;
	}
	return a;
}

void applier_free(applier *a)
{
	if (!a)
		return;
	for (uint32_t p = 0; p < a->nparts; p++) {
		smap_free_values(&a->parts[p].edges);
		smap_free(&a->parts[p].changed);
		smap_free(&a->parts[p].emitted);
	}
	free(a->parts);
	store_batch_free(a->wb);
	ktab_free(&a->ws);
	kcache_free(&a->members);
	kcache_free(&a->counts);
	free(a->order);
	free(a->defs);
	free(a);
}

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
	pt->dirty = true;
}

void applier_set_dead_letter(applier *a, applier_dead_letter_fn fn, void *ctx)
{
	a->dead_letter = fn;
	a->dead_letter_ctx = ctx;
}

void applier_set_obs(applier *a, const applier_obs *obs)
{
	a->obs = obs;
}

void applier_dead_letter_failed(applier *a)
{
	STAT_ADD(a, deadletter_failed, 1);
}

/* Counts a refused message and hands it to the dead-letter hook, with
 * the reason formatted from fmt. */
__attribute__((format(printf, 6, 7))) static void quarantine(applier *a, uint32_t p, int64_t offset,
                                                             const void *msg, size_t len,
                                                             const char *fmt, ...)
{
	char reason[APPLIER_REASON_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	STAT_ADD(a, batches_deadlettered, 1);
	if (a->dead_letter)
		a->dead_letter(a->dead_letter_ctx, p, offset, msg, len, reason);
}

int applier_resume_offset(applier *a, uint32_t p, int64_t *offset)
{
	if (p >= a->nparts)
		return ERR_NOTFOUND;
	int64_t off = atomic_load(&a->parts[p].next_offset);
	if (off < 0)
		return ERR_NOTFOUND;
	*offset = off;
	return 0;
}

/* ---- per-message working set and the caches of stored values ---------- */

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
static int state_of(applier *a, const unsigned char *key, size_t kn, merge_state **st, bool *known)
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
static int num_add(applier *a, const unsigned char *key, size_t kn, int64_t delta,
                   bool known_absent, ktab_ent **ent)
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

/* Moves the count of (counter, item) and its region and day buckets.
 * A bucket is only ever written in the same store write as its count or
 * after it (a unit moving between buckets was counted before), and a
 * count key is never deleted: so when the store has no count key for the
 * item, it has none of its buckets either, and they are not read. */
static int bump(applier *a, const wire_op *op, const char *region, size_t rn, uint64_t hlc,
                int64_t delta, bool count_too)
{
	unsigned char key[CKEY_MAX];
	int rc = 0;
	bool none = false; /* the item has no count key in the store */
	if (count_too) {
		ktab_ent *c;
		rc = num_add(a, key,
		             ckey_count(key, op->counter.p, op->counter.n, op->item.p, op->item.n),
		             delta, false, &c);
		none = rc == 0 && c->mark == MARK_ABSENT;
	}
	if (!rc)
		rc = num_add(a, key,
		             ckey_region(key, op->counter.p, op->counter.n, op->item.p, op->item.n,
		                         region, rn),
		             delta, none, NULL);
	if (!rc)
		rc = num_add(a, key,
		             ckey_day(key, op->counter.p, op->counter.n, op->item.p, op->item.n,
		                      day_of_hlc(hlc)),
		             delta, none, NULL);
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

/* Applies a set op; *moved says whether its count changed (0 or 1). */
static int apply_set(applier *a, const wire_batch *b, const wire_op *op, uint64_t *moved)
{
	unsigned char key[CKEY_MAX];
	size_t kn = ckey_state(key, op->counter.p, op->counter.n, op->item.p, op->item.n,
	                       op->user.p, op->user.n);
	merge_state *st;
	bool known, changed;
	int rc = state_of(a, key, kn, &st, &known);
	if (rc)
		return rc;
	merge_state old = *st;
	bool was = known && st->present;
	int delta = merge_apply(st, known, op->kind == WIRE_ADD, op->hlc, b->edge.p, b->edge.n,
	                        b->region.p, b->region.n, &changed);
	*moved = delta != 0;
	if (!changed)
		return 0;
	/* The unit of a replaced present state leaves its buckets; a new
	 * present state puts one in its own. An add over an add moves it;
	 * the count itself moves only on a flip (delta). */
	if (was)
		rc = bump(a, op, old.region, old.region_len, old.hlc, -1, delta < 0);
	if (!rc && st->present)
		rc = bump(a, op, st->region, st->region_len, st->hlc, 1, delta > 0);
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

/* The invalid ops of a batch: how many, the first one's index and why. */
typedef struct invalid {
	uint32_t n, first;
	const char *why;
} invalid;

/* Fills a->defs with each op's counter (NULL for an invalid op) and inv
 * with what was invalid. */
static void scan_ops(applier *a, const wire_batch *b, invalid *inv)
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
		wire_op op = {sm->counter, sm->item, {"", 0}, WIRE_ADD, (uint32_t)sm->n, sm->hlc};
		int rc = bump(a, &op, b->region.p, b->region.n, sm->hlc, (int64_t)sm->n, true);
		if (rc)
			return rc;
		STAT_ADD(a, ops_applied, 1);
		if (a->obs && a->obs->op)
			a->obs->op(a->obs->ctx, def, &op, sm->n);
	}
	return 0;
}

/* Applies the valid ops of b; inv (when not NULL) says which were not. */
static int apply_ops(applier *a, const wire_batch *b, invalid *inv)
{
	invalid scanned;
	if (!inv)
		inv = &scanned;
	scan_ops(a, b, inv);
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
		uint64_t moved = op->n;
		rc = def->kind == COUNTER_SET
		         ? apply_set(a, b, op, &moved)
		         : bump(a, op, b->region.p, b->region.n, op->hlc, (int64_t)op->n, true);
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
static void flush_cache(applier *a, part *pt)
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
}

/* After the message's write went through: the caches learn what the
 * store now holds, and the working set empties. */
static void commit_cache(applier *a)
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
		} else {
			kcache_put(&a->counts, e->key, e->klen, e->hash, e->val, sizeof(uint64_t));
		}
	}
	a->nflushed = 0;
	ktab_reset(&a->ws);
}

/* The message failed: its effects are forgotten, the caches untouched
 * (they hold only what the store holds). */
static void drop_cache(applier *a)
{
	a->nflushed = 0;
	ktab_reset(&a->ws);
}

/* ---- sequencing ---------------------------------------------------------- */

static int next_held(applier *a, const wire_str *edge, uint32_t p, edge_seq *es)
{
	unsigned char pre[1 + EDGE_ID_MAX + 5];
	size_t pn = ckey_edge(pre, CKEY_HELD, edge->p, edge->n, p);
	unsigned char from[sizeof pre + 8];
	memcpy(from, pre, pn);
	store_put_u64(from + pn, es->applied + 1);
	store_iter *it = store_iter_from(a->db, pre, pn, from, pn + 8);
	const char *k, *v;
	size_t kn, vn;
	es->held_min = 0;
	if (store_iter_next(it, &k, &kn, &v, &vn) && kn == pn + 8)
		es->held_min = store_get_u64((const unsigned char *)k + pn);
	int rc = store_iter_status(it);
	store_iter_free(it);
	return rc;
}

/* Stores a batch that arrived after a gap. */
static int hold(applier *a, part *pt, edge_seq *es, const wire_batch *b, const void *msg,
                size_t len, int64_t offset)
{
	unsigned char hkey[CKEY_MAX];
	size_t hkn = ckey_held(hkey, b->edge.p, b->edge.n, b->partition, b->seq);
	char *old;
	size_t oldn;
	int rc = store_get(a->db, hkey, hkn, &old, &oldn);
	if (rc == 0) {
		free(old);
	} else if (rc != ERR_NOTFOUND) {
		return rc;
	} else {
		held_add(pt, es, 1);
		/* Checked now, while the message's offset is known; its
		 * valid ops apply when the gap fills. */
		invalid inv;
		scan_ops(a, b, &inv);
		if (inv.n)
			quarantine(a, b->partition, offset, msg, len,
			           "invalid_ops count=%u first_index=%u first_reason=%s", inv.n,
			           inv.first, inv.why);
	}
	store_batch_put(a->wb, hkey, hkn, msg, len);
	STAT_ADD(a, batches_held, 1);
	if (!es->held_min || b->seq < es->held_min)
		es->held_min = b->seq;
	pt->dirty = true;
	log_warn("batch held after a gap",
	         "edge=%.*s partition=%u seq=%" PRIu64 " applied=%" PRIu64, (int)b->edge.n,
	         b->edge.p, b->partition, b->seq, es->applied);
	return 0;
}

/* Applies b (seq = applied + 1), then every held batch that follows. */
static int apply_in_order(applier *a, part *pt, edge_seq *es, const wire_batch *b,
                          const unsigned char *skey, size_t sn, invalid *inv)
{
	uint32_t p = b->partition;
	int rc = apply_ops(a, b, inv);
	uint64_t applied = b->seq;
	uint64_t held_used = 0;
	while (rc == 0 && es->held_count > held_used) {
		unsigned char hkey[CKEY_MAX];
		size_t hkn = ckey_held(hkey, b->edge.p, b->edge.n, p, applied + 1);
		char *hv;
		size_t hn;
		rc = store_get(a->db, hkey, hkn, &hv, &hn);
		if (rc == ERR_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc)
			break;
		wire_batch hb;
		int drc = wire_decode_batch(hv, hn, &hb);
		if (drc == 0) {
			rc = apply_ops(a, &hb, NULL);
			wire_batch_free(&hb);
		} else {
			STAT_ADD(a, batches_bad, 1);
			log_error("held batch no longer decodes; skipped",
			          "partition=%u seq=%" PRIu64, p, applied + 1);
			quarantine(a, p, -1, hv, hn, "held_undecodable seq=%" PRIu64 " err=\"%s\"",
			           applied + 1, err_str(drc));
		}
		free(hv);
		store_batch_del(a->wb, hkey, hkn);
		applied++;
		held_used++;
	}
	if (rc) {
		drop_cache(a);
		return rc;
	}
	STAT_ADD(a, batches_applied, 1 + held_used);
	es->applied = applied;
	held_add(pt, es, -(int64_t)held_used);
	if (held_used)
		log_info("gap filled; held batches applied",
		         "edge=%.*s partition=%u applied=%" PRIu64, (int)b->edge.n, b->edge.p, p,
		         applied);
	unsigned char aval[8];
	store_put_u64(aval, applied);
	store_batch_put(a->wb, skey, sn, aval, 8);
	flush_cache(a, pt);
	pt->dirty = true;
	if (es->held_count)
		return next_held(a, &b->edge, p, es);
	es->held_min = 0;
	return 0;
}

/* The first thing wrong with a batch header refused at partition p. */
static const char *header_fault(const wire_batch *b, uint32_t p)
{
	if (b->partition != p)
		return "partition_mismatch";
	if (!item_edge_valid(b->edge.p, b->edge.n))
		return "bad_edge";
	if (!item_edge_valid(b->region.p, b->region.n))
		return "bad_region";
	return "seq_0";
}

int applier_apply(applier *a, uint32_t p, int64_t offset, const void *msg, size_t len)
{
	if (p >= a->nparts)
		return ERR_INVAL;
	part *pt = &a->parts[p];
	store_batch_clear(a->wb);
	drop_cache(a); /* left over when the last message failed before its write */
	unsigned char okey[8], oval[8];
	store_put_u64(oval, (uint64_t)offset + 1);
	store_batch_put(a->wb, okey, ckey_offset(okey, p), oval, 8);

	wire_batch b;
	int rc = wire_decode_batch(msg, len, &b);
	if (rc) {
		STAT_ADD(a, batches_bad, 1);
		log_error("undecodable batch skipped", "partition=%u offset=%" PRId64 " err=\"%s\"",
		          p, offset, err_str(rc));
		quarantine(a, p, offset, msg, len, "undecodable err=\"%s\"", err_str(rc));
		goto write;
	}
	if (b.partition != p || !item_edge_valid(b.edge.p, b.edge.n) ||
	    !item_edge_valid(b.region.p, b.region.n) || b.seq == 0) {
		STAT_ADD(a, batches_bad, 1);
		log_error("batch with bad header skipped",
		          "partition=%u offset=%" PRId64 " batch_partition=%u seq=%" PRIu64
		          " edge_ok=%d region_ok=%d",
		          p, offset, b.partition, b.seq, item_edge_valid(b.edge.p, b.edge.n),
		          item_edge_valid(b.region.p, b.region.n));
		quarantine(a, p, offset, msg, len, "bad_header %s batch_partition=%u seq=%" PRIu64,
		           header_fault(&b, p), b.partition, b.seq);
		wire_batch_free(&b);
		goto write;
	}
	edge_seq *es = edge_of(pt, b.edge.p, b.edge.n);
	unsigned char skey[1 + EDGE_ID_MAX + 5 + 8];
	size_t sn = ckey_edge(skey, CKEY_APPLIED, b.edge.p, b.edge.n, p);
	invalid inv = {0, 0, NULL};
	if (b.seq <= es->applied)
		STAT_ADD(a, batches_duplicate, 1);
	else if (b.seq > es->applied + 1)
		rc = hold(a, pt, es, &b, msg, len, offset);
	else
		rc = apply_in_order(a, pt, es, &b, skey, sn, &inv);
	wire_batch_free(&b);
	if (rc) {
		drop_cache(a);
		return rc;
	}
	if (inv.n)
		quarantine(a, p, offset, msg, len,
		           "invalid_ops count=%u first_index=%u first_reason=%s", inv.n, inv.first,
		           inv.why);
write:;
	uint64_t t0 = clock_mono_ns();
	rc = store_write(a->db, a->wb);
	if (a->obs && a->obs->store_write)
		a->obs->store_write(a->obs->ctx, clock_mono_ns() - t0);
	if (rc) {
		drop_cache(a);
		return rc;
	}
	commit_cache(a);
	STAT_ADD(a, store_writes, 1);
	atomic_store(&pt->next_offset, offset + 1);
	return 0;
}

int applier_reset_offset(applier *a, uint32_t p, int64_t offset, bool new_epoch)
{
	if (p >= a->nparts || offset < 0)
		return ERR_INVAL;
	part *pt = &a->parts[p];
	if (new_epoch && pt->epoch >= VERSION_EPOCH_MAX)
		return ERR_FULL;
	uint32_t epoch = pt->epoch + (new_epoch ? 1 : 0);
	unsigned char okey[8], oval[8], ekey[8], eval[CKEY_EPOCH_LEN];
	store_put_u64(oval, (uint64_t)offset);
	store_batch_clear(a->wb);
	store_batch_put(a->wb, okey, ckey_offset(okey, p), oval, 8);
	if (new_epoch) {
		store_put_u32(eval, epoch);
		store_batch_put(a->wb, ekey, ckey_epoch(ekey, p), eval, sizeof eval);
	}
	int rc = store_write(a->db, a->wb);
	if (rc == 0) {
		atomic_store(&pt->next_offset, offset);
		pt->epoch = epoch;
		pt->dirty = true;
	}
	return rc;
}

uint32_t applier_epoch(const applier *a, uint32_t p)
{
	return p < a->nparts ? a->parts[p].epoch : 0;
}

uint64_t applier_version(const applier *a, uint32_t p)
{
	if (p >= a->nparts)
		return 0;
	int64_t off = atomic_load(&a->parts[p].next_offset);
	return version_make(a->parts[p].epoch, off < 0 ? 0 : (uint64_t)off);
}

int applier_view_version(store_snap *sn, uint32_t p, uint64_t *version)
{
	unsigned char key[8];
	uint64_t off = 0;
	uint32_t epoch = 0;
	int rc = store_snap_read_u64(sn, key, ckey_offset(key, p), &off);
	if (rc && rc != ERR_NOTFOUND)
		return rc;
	char *v;
	size_t vn;
	rc = store_snap_get(sn, key, ckey_epoch(key, p), &v, &vn);
	if (rc == 0) {
		rc = epoch_decode(p, v, vn, &epoch);
		free(v);
	}
	if (rc && rc != ERR_NOTFOUND)
		return rc;
	*version = version_make(epoch, off);
	return 0;
}

/* ---- snapshots ----------------------------------------------------------- */

void applier_snapshot_failed(applier *a, uint32_t p)
{
	part *pt = &a->parts[p];
	size_t pos = 0;
	const char *k;
	size_t kn;
	smap_val *v;
	while (smap_next(&pt->emitted, &pos, &k, &kn, &v)) {
		bool created;
		smap_val *c = smap_put(&pt->changed, k, kn, &created);
		if (created)
			c->u = v->u; /* a newer count, if any, stays */
	}
	smap_clear(&pt->emitted);
	pt->dirty = true;
}

bool applier_dirty(const applier *a, uint32_t p)
{
	return p < a->nparts && a->parts[p].dirty;
}

void applier_snapshot(applier *a, uint32_t p, size_t max_counts, wire_snapshot *s, bool *more)
{
	part *pt = &a->parts[p];
	memset(s, 0, sizeof *s);
	s->partition = p;
	s->offset = applier_version(a, p);
	smap_clear(&pt->emitted);

	size_t n = pt->changed.len < max_counts ? pt->changed.len : max_counts;
	s->counts = xcalloc(n ? n : 1, sizeof *s->counts);
	size_t pos = 0, i = 0;
	const char *k;
	size_t kn;
	smap_val *v;
	while (i < n && smap_next(&pt->changed, &pos, &k, &kn, &v)) {
		smap_val *e = smap_put(&pt->emitted, k, kn, NULL);
		e->u = v->u;
		i++;
	}
	/* Remove what was emitted from changed, then point the snapshot at
	 * the emitted map's own copies of the keys. */
	pos = 0;
	i = 0;
	while (smap_next(&pt->emitted, &pos, &k, &kn, &v)) {
		smap_del(&pt->changed, k, kn);
		const char *counter, *item;
		size_t cn, in;
		if (!ckey_split_pair(k, kn, &counter, &cn, &item, &in))
			abort(); /* only pairs of valid names are ever put in changed */
		s->counts[i].counter = wire_cstr(counter, cn);
		s->counts[i].item = wire_cstr(item, in);
		s->counts[i].count = v->u;
		i++;
	}
	s->ncounts = (uint32_t)i;

	s->edges = xcalloc(pt->edges.len ? pt->edges.len : 1, sizeof *s->edges);
	pos = 0;
	i = 0;
	while (smap_next(&pt->edges, &pos, &k, &kn, &v)) {
		edge_seq *es = v->p;
		s->edges[i].edge = wire_cstr(k, kn);
		s->edges[i].applied = es->applied;
		s->edges[i].held = es->held_min;
		i++;
	}
	s->nedges = (uint32_t)i;
	*more = pt->changed.len > 0;
	s->last = !*more;
	pt->dirty = *more;
}

/* ---- reads --------------------------------------------------------------- */

int applier_count(applier *a, const char *counter, const char *item, uint64_t *count)
{
	unsigned char key[CKEY_MAX];
	size_t cn = strlen(counter), in = strlen(item);
	if (cn > COUNTER_MAX || in > ITEM_MAX)
		return ERR_INVAL;
	int rc = store_read_u64(a->db, key, ckey_count(key, counter, cn, item, in), count);
	if (rc == ERR_NOTFOUND || rc == ERR_CORRUPT) {
		*count = 0;
		return 0;
	}
	return rc;
}

void applier_get_stats(const applier *a, applier_stats *out)
{
	out->batches_applied = STAT_GET(a, batches_applied);
	out->batches_duplicate = STAT_GET(a, batches_duplicate);
	out->batches_held = STAT_GET(a, batches_held);
	out->batches_bad = STAT_GET(a, batches_bad);
	out->batches_deadlettered = STAT_GET(a, batches_deadlettered);
	out->deadletter_failed = STAT_GET(a, deadletter_failed);
	out->ops_applied = STAT_GET(a, ops_applied);
	out->ops_invalid = STAT_GET(a, ops_invalid);
	out->store_writes = STAT_GET(a, store_writes);
	out->numbers_clamped = STAT_GET(a, numbers_clamped);
	out->count_cache_hits = atomic_load_explicit(&a->counts.hits, memory_order_relaxed);
	out->count_cache_misses = atomic_load_explicit(&a->counts.misses, memory_order_relaxed);
	out->member_cache_hits = atomic_load_explicit(&a->members.hits, memory_order_relaxed);
	out->member_cache_misses = atomic_load_explicit(&a->members.misses, memory_order_relaxed);
}

int64_t applier_input_offset(const applier *a, uint32_t p)
{
	if (p >= a->nparts)
		return -1;
	return atomic_load_explicit(&a->parts[p].next_offset, memory_order_relaxed);
}

uint64_t applier_held_batches(const applier *a, uint32_t p)
{
	if (p >= a->nparts)
		return 0;
	return atomic_load_explicit(&a->parts[p].held, memory_order_relaxed);
}
