/* apply_ws.c - one message's working set and the caches of stored
 * values (apply_ws.h): loading on first touch, the numbers' moves held
 * within bounds, the home index's entries, and the write in key order.
 * The applier's thread only.
 */
#include "central/apply/apply_ws.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "central/apply/day.h"
#include "central/apply/keys.h"
#include "log.h"
#include "memacct.h"
#include "xmem.h"

#define STORED 1 /* ktab_ent.mark of an S key: the state was in the store when loaded */

void apply_ws_init(apply_ws *w, store *db, size_t counts, size_t members)
{
	*w = (apply_ws){.db = db};
	ktab_init(&w->tab);
	kcache_init(&w->counts, counts);
	kcache_init(&w->members, members);
}

void apply_ws_free(apply_ws *w)
{
	ktab_free(&w->tab);
	kcache_free(&w->members);
	kcache_free(&w->counts);
	free(w->order);
}

void apply_ws_set_cache(apply_ws *w, size_t counts, size_t members)
{
	kcache_free(&w->counts);
	kcache_free(&w->members);
	kcache_init(&w->counts, counts);
	kcache_init(&w->members, members);
}

void apply_ws_forget(apply_ws *w, const void *key, size_t kn)
{
	kcache_del(&w->counts, key, kn, ktab_hash(key, kn));
}

/* Fills the fresh working-set entry e of an S key: from the membership
 * cache, else the store; left zeroed (unset) when there is none. */
static int load_state(apply_ws *w, ktab_ent *e)
{
	merge_state *s = (merge_state *)e->val;
	unsigned char val[MERGE_STATE_MAX];
	size_t vlen;
	int rc = 0;
	if (!kcache_get(&w->members, e->key, e->klen, e->hash, val, sizeof val, &vlen)) {
		rc = store_get_into(w->db, e->key, e->klen, val, sizeof val, &vlen);
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
	e->mark = STORED;
	return 0;
}

/* The current state of an S key: from this message's working set, else
 * loaded (load_state). */
int apply_ws_state_of(apply_ws *w, const unsigned char *key, size_t kn, merge_state **st,
                      bool *known)
{
	bool created;
	ktab_ent *e = ktab_add(&w->tab, key, kn, ktab_hash(key, kn), sizeof(merge_state), &created);
	merge_state *s = (merge_state *)e->val;
	*st = s;
	if (created) {
		int rc = load_state(w, e);
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
static int stored_num(apply_ws *w, const unsigned char *key, size_t kn, uint64_t h, uint64_t *v,
                      bool *absent)
{
	size_t vlen;
	*absent = false;
	if (kcache_get(&w->counts, key, kn, h, v, sizeof *v, &vlen))
		return 0;
	unsigned char buf[8];
	int rc = store_get_into(w->db, key, kn, buf, sizeof buf, &vlen);
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
int apply_ws_num_add(apply_ws *w, const unsigned char *key, size_t kn, int64_t delta,
                     bool known_absent, ktab_ent **ent)
{
	uint64_t h = ktab_hash(key, kn);
	bool created;
	ktab_ent *e = ktab_add(&w->tab, key, kn, h, sizeof(uint64_t), &created);
	uint64_t *v = (uint64_t *)e->val;
	if (created && !known_absent) {
		bool absent;
		int rc = stored_num(w, key, kn, h, v, &absent);
		if (rc) {
			ktab_kill(e);
			return rc;
		}
		if (absent)
			e->mark = APPLY_WS_ABSENT;
	}
	if (ent)
		*ent = e;
	if (delta < 0 && *v < (uint64_t)-delta) {
		log_error("number would go below zero; its effects disagree",
		          "key_tag=%c value=%" PRIu64 " delta=%" PRId64, key[0], *v, delta);
		atomic_fetch_add_explicit(&w->clamped, 1, memory_order_relaxed);
		*v = 0;
	} else if (delta > 0 && *v > UINT64_MAX - (uint64_t)delta) {
		log_error("number would overflow", "key_tag=%c", key[0]);
		atomic_fetch_add_explicit(&w->clamped, 1, memory_order_relaxed);
		*v = UINT64_MAX;
	} else {
		*v = (uint64_t)((int64_t)*v + delta);
	}
	return 0;
}

/* Whether the 'V' entry under key (kn bytes) is there and homed, as the
 * message has it so far, else as stored. 0 or the store's error. */
int apply_ws_homed(apply_ws *w, const unsigned char *key, size_t kn, bool *homed)
{
	bool member, unhomed = true;
	uint64_t clock;
	const ktab_ent *e = ktab_find(&w->tab, key, kn, ktab_hash(key, kn));
	if (e) {
		*homed = !(e->val[0] & CKEY_HOME_UNHOMED);
		return 0;
	}
	char v[CKEY_HOME_LEN];
	size_t vn;
	int rc = store_get_into(w->db, key, kn, v, sizeof v, &vn);
	if (rc && rc != ERR_NOTFOUND && rc != ERR_CORRUPT)
		return rc;
	*homed = !rc && ckey_parse_home_value_as(v, vn, &member, &unhomed, &clock) && !unhomed;
	return 0;
}

void apply_ws_home_day(apply_ws *w, const char *home, size_t hn, uint32_t p, const wire_op *op,
                       uint64_t hlc)
{
	unsigned char key[CKEY_MAX];
	size_t kn = ckey_home_day(key, home, hn, p, op->counter.p, op->counter.n, op->item.p,
	                          op->item.n, day_of_hlc(hlc));
	bool created;
	size_t vn = 8 + op->user.n;
	ktab_ent *e = ktab_add(&w->tab, key, kn, ktab_hash(key, kn), vn, &created);
	/* The day's key may be in the message already, with another user:
	 * its value takes this one's length. */
	ktab_resize(&w->tab, e, vn);
	store_put_u64(e->val, hlc);
	memcpy(e->val + 8, op->user.p, op->user.n);
}

void apply_ws_home(apply_ws *w, const unsigned char *key, size_t kn, bool member, bool unhomed,
                   uint64_t clock)
{
	bool created;
	ktab_ent *e = ktab_add(&w->tab, key, kn, ktab_hash(key, kn), CKEY_HOME_LEN, &created);
	ckey_home_value_as(e->val, member, unhomed, clock);
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

/* Room for n entry pointers in w->order. */
static void order_room(apply_ws *w, size_t n)
{
	if (n > w->order_cap) {
		w->order_cap = n * 2;
		w->order = xrealloc(w->order, w->order_cap * sizeof *w->order);
	}
}

/* Loads the membership states of the batch's valid set ops before any
 * op applies, in key order: neighbouring lookups then walk the same
 * parts of LevelDB's memtable and tables. Only the order of the reads
 * changes; the ops still apply in log order. defs[i] is op i's counter,
 * NULL for an invalid op. */
int apply_ws_preload(apply_ws *w, const wire_batch *b, const counter_def *const *defs)
{
	size_t n = 0;
	order_room(w, b->nops);
	for (uint32_t i = 0; i < b->nops; i++) {
		const wire_op *op = &b->ops[i];
		if (!defs[i] || defs[i]->kind != COUNTER_SET)
			continue;
		unsigned char key[CKEY_MAX];
		size_t kn = ckey_state(key, op->counter.p, op->counter.n, op->item.p, op->item.n,
		                       op->user.p, op->user.n);
		bool created;
		ktab_add(&w->tab, key, kn, ktab_hash(key, kn), sizeof(merge_state), &created);
		if (created)
			n++;
	}
	/* The states just added are the last n entries; adding may move
	 * the entries, so take their addresses only now. */
	size_t first = ktab_len(&w->tab) - n;
	for (size_t i = 0; i < n; i++)
		w->order[i] = ktab_at(&w->tab, first + i);
	if (n > 1) /* a NULL order when nothing was added */
		qsort(w->order, n, sizeof *w->order, by_key);
	for (size_t i = 0; i < n; i++) {
		int rc = load_state(w, w->order[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* In key order: LevelDB then inserts neighbours one after another. */
bool apply_ws_flush(apply_ws *w, store_batch *wb, smap *changed)
{
	size_t n = ktab_len(&w->tab), live = 0;
	order_room(w, n);
	for (size_t i = 0; i < n; i++) {
		ktab_ent *e = ktab_at(&w->tab, i);
		if (!e->dead)
			w->order[live++] = e;
	}
	if (live > 1)
		qsort(w->order, live, sizeof *w->order, by_key);
	unsigned char buf[MERGE_STATE_MAX];
	bool any = false;
	for (size_t i = 0; i < live; i++) {
		const ktab_ent *e = w->order[i];
		const unsigned char *k = e->key;
		size_t kn = e->klen;
		if (k[0] == CKEY_STATE) {
			const merge_state *st = (const merge_state *)e->val;
			if (st->edge_len)
				store_batch_put(wb, k, kn, buf, merge_state_encode(st, buf));
			continue;
		}
		if (k[0] == CKEY_HOME) {
			store_batch_put(wb, k, kn, e->val, CKEY_HOME_LEN);
			continue;
		}
		if (k[0] == CKEY_HOME_DAY) {
			store_batch_put(wb, k, kn, e->val, e->vlen);
			continue;
		}
		uint64_t v = *(const uint64_t *)e->val;
		if (k[0] != CKEY_COUNT && v == 0) {
			store_batch_del(wb, k, kn); /* empty buckets are not kept */
			continue;
		}
		store_put_u64(buf, v);
		store_batch_put(wb, k, kn, buf, 8);
		if (k[0] == CKEY_COUNT) {
			smap_put(changed, k + 1, kn - 1, NULL)->u = v;
			any = true;
		}
	}
	w->nflushed = live;
	return any;
}

/* The working set's bytes, kept between messages: its table and the
 * array of a message's entries in key order. */
static void ws_account(apply_ws *w)
{
	atomic_store_explicit(&w->bytes,
	                      ktab_bytes(&w->tab) + memacct_chunk(w->order_cap * sizeof *w->order),
	                      memory_order_relaxed);
}

/* After the message's write went through: the caches learn what the
 * store now holds, and the working set empties. */
void apply_ws_commit(apply_ws *w)
{
	unsigned char buf[MERGE_STATE_MAX];
	for (size_t i = 0; i < w->nflushed; i++) {
		const ktab_ent *e = w->order[i];
		if (e->key[0] == CKEY_STATE) {
			/* A membership enters the cache the second time it is
			 * loaded: most are set once and never read again. */
			const merge_state *st = (const merge_state *)e->val;
			if (st->edge_len && e->mark == STORED)
				kcache_put(&w->members, e->key, e->klen, e->hash, buf,
				           merge_state_encode(st, buf));
		} else if (e->key[0] != CKEY_HOME &&
		           e->key[0] != CKEY_HOME_DAY) { /* V and G keys are never read here */
			kcache_put(&w->counts, e->key, e->klen, e->hash, e->val, sizeof(uint64_t));
		}
	}
	w->nflushed = 0;
	ktab_reset(&w->tab);
	ws_account(w);
}

/* The message failed: its effects are forgotten, the caches untouched
 * (they hold only what the store holds). */
void apply_ws_drop(apply_ws *w)
{
	w->nflushed = 0;
	ktab_reset(&w->tab);
	ws_account(w);
}
