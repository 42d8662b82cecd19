/* ledger_view.c - how the edge shows counts (ledger.h): the overlay of
 * its own ops central has not confirmed, the snapshot-count cache,
 * read-through counts from central, each partition's published view,
 * and the snapshot counts a snapshot or checkpoint message writes.
 *
 * Owns struct view (ledger_int.h): under the view mutex only. A count
 * read takes nothing else and lets it go while it reads the store
 * (ledger_view_count); writers (the commit, a seal, a snapshot) call in
 * with the writer mutex held and change what readers see under the view
 * mutex, after their store write.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "edge/ledger/ledger_int.h"
#include "log.h"
#include "xmem.h"

void ledger_view_init(ledger *l)
{
	struct view *v = &l->view;
	smap_init(&v->overlay);
	smap_init(&v->cache_hot);
	smap_init(&v->cache_cold);
	smap_init(&v->rt_hot);
	smap_init(&v->rt_cold);
	v->pv = xcalloc(l->o.partitions, sizeof *v->pv);
}

/* --- overlay -------------------------------------------------------------- */

void ledger_overlay_add(ledger *l, const char *counter, size_t cl, const char *item, size_t il,
                        int64_t delta)
{
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	bool created;
	smap_val *v = smap_put(&l->view.overlay, key, kn, &created);
	if (created)
		v->p = xcalloc(1, sizeof(overlay_entry));
	overlay_entry *e = v->p;
	e->delta += delta;
	e->nops++;
}

void ledger_overlay_add_h(ledger *l, const char *key, size_t kn, uint32_t h, int64_t delta)
{
	smap_val *v = smap_get_h(&l->view.overlay, key, kn, h);
	if (!v) {
		bool created;
		v = smap_put(&l->view.overlay, key, kn, &created);
		v->p = xcalloc(1, sizeof(overlay_entry));
	}
	overlay_entry *e = v->p;
	e->delta += delta;
	e->nops++;
}

void ledger_overlay_remove(ledger *l, const char *counter, size_t cl, const char *item, size_t il,
                           int64_t delta)
{
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	smap_val *v = smap_get(&l->view.overlay, key, kn);
	if (!v)
		return;
	overlay_entry *e = v->p;
	e->delta -= delta;
	if (--e->nops == 0) {
		free(e);
		smap_del(&l->view.overlay, key, kn);
	}
}

void ledger_overlay_merge(ledger *l, const char *counter, size_t cl, const char *item, size_t il,
                          uint64_t k)
{
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	smap_val *v = smap_get(&l->view.overlay, key, kn);
	if (!v || k < 2)
		return;
	overlay_entry *e = v->p;
	/* The k ops are all in it (sealed from the open batch), so at least
	 * one op stays counted. */
	e->nops = e->nops > k - 1 ? e->nops - (k - 1) : 1;
}

void ledger_batch_deltas(const wire_batch *b, const char *flags,
                         void (*fn)(void *ctx, wire_str counter, wire_str item, int64_t delta),
                         void *ctx)
{
	for (uint32_t j = 0; j < b->nops; j++)
		fn(ctx, b->ops[j].counter, b->ops[j].item,
		   ledger_op_delta(b->ops[j].kind, b->ops[j].n, !flags || flags[j]));
	for (uint32_t j = 0; j < b->nsums; j++)
		fn(ctx, b->sums[j].counter, b->sums[j].item, (int64_t)b->sums[j].n);
}

/* A store read from the view (NULL: the live store). */
static int get_from(ledger *l, const vsnap *from, const void *key, size_t kn, char **buf,
                    size_t *len)
{
	return from ? store_snap_get(from->sn, key, kn, buf, len)
	            : store_get(l->db, key, kn, buf, len);
}

/* The 'D' flags of (p, seq) as from holds them (malloc'ed, nops bytes),
 * or NULL. */
static char *flags_from(ledger *l, const vsnap *from, uint32_t p, uint64_t seq, uint32_t nops)
{
	char key[13];
	char *buf;
	size_t len;
	if (get_from(l, from, key, ekey_part_seq(key, EKEY_FLAGS, p, seq), &buf, &len))
		return NULL;
	if (len != nops) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *ledger_read_flags(ledger *l, uint32_t p, uint64_t seq, uint32_t nops)
{
	return flags_from(l, NULL, p, seq, nops);
}

/* --- published views -------------------------------------------------------- */

static void vsnap_put(vsnap *v)
{
	if (v && --v->refs == 0) {
		store_snap_free(v->sn);
		free(v);
	}
}

void ledger_view_publish(ledger *l, uint32_t p)
{
	const outbox_part *pt = &l->outbox.parts[p];
	pview *pv = &l->view.pv[p];
	pv->snap_offset = pt->snap_offset;
	pv->snap_ms = pt->snap_ms;
	pv->applied = pt->applied;
	pv->complete = l->replica.parts[p].state == LEDGER_REPLICA_COMPLETE;
}

void ledger_view_begin(ledger *l, uint32_t p)
{
	vsnap *v = xmalloc(sizeof *v);
	v->sn = store_snap_new(l->db);
	v->refs = 1;
	ledger_vlock(l);
	pview *pv = &l->view.pv[p];
	pv->gen++;
	pv->pre = v;
	ledger_vunlock(l);
}

void ledger_view_end(ledger *l, uint32_t p)
{
	pview *pv = &l->view.pv[p];
	pv->gen++;
	vsnap_put(pv->pre);
	pv->pre = NULL;
}

/* --- caches --------------------------------------------------------------- */

/* Both caches keep two generations (smap_put_gen), so neither holds more
 * than its configured size. */
static void cache_set(ledger *l, const char *key, size_t kn, uint64_t val)
{
	smap_put_gen(&l->view.cache_hot, &l->view.cache_cold, l->o.cache_entries, key, kn, false,
	             NULL)
	    ->u = val;
}

static void rt_forget(ledger *l, const char *key, size_t kn)
{
	smap *gens[2] = {&l->view.rt_hot, &l->view.rt_cold};
	for (int i = 0; i < 2; i++) {
		smap_val *v = smap_get(gens[i], key, kn);
		if (v) {
			free(v->p);
			smap_del(gens[i], key, kn);
		}
	}
}

static rt_entry *rt_find(ledger *l, const char *key, size_t kn)
{
	smap_val *v = smap_get(&l->view.rt_hot, key, kn);
	if (!v)
		v = smap_get(&l->view.rt_cold, key, kn);
	return v ? v->p : NULL;
}

/* rt_find for a key whose smap_hash is known. */
static rt_entry *rt_find_h(ledger *l, const char *key, size_t kn, uint32_t h)
{
	smap_val *v = smap_get_h(&l->view.rt_hot, key, kn, h);
	if (!v)
		v = smap_get_h(&l->view.rt_cold, key, kn, h);
	return v ? v->p : NULL;
}

void ledger_views_free(ledger *l)
{
	smap_free_values(&l->view.overlay);
	smap_free(&l->view.cache_hot);
	smap_free(&l->view.cache_cold);
	smap_free_values(&l->view.rt_hot);
	smap_free_values(&l->view.rt_cold);
	if (l->view.pv)
		for (uint32_t p = 0; p < l->o.partitions; p++)
			vsnap_put(l->view.pv[p].pre);
	free(l->view.pv);
	l->view.pv = NULL;
}

/* --- reading ---------------------------------------------------------------- */

/* A store read a count read needs before it can answer. It runs with the
 * view mutex let go; what it read is used only if the partition's view
 * did not move meanwhile (the same gen), else it is read again. */
enum { FETCH_COUNT, FETCH_DELTA, FETCH_KINDS };

typedef struct fetch {
	int kind; /* the read asked for */
	uint32_t p;
	vsnap *from; /* a reference to the store before a write, or NULL */
	/* What was read, per kind, and the partition's gen it was read for
	 * (valid[kind]); a read stays usable for the rest of the view. */
	bool valid[FETCH_KINDS];
	uint64_t gen[FETCH_KINDS];
	uint64_t val;    /* FETCH_COUNT: count | COUNT_KNOWN, or 0 */
	uint64_t lo, hi; /* FETCH_DELTA: the sealed batches (lo, hi] */
	int64_t sum;     /* ... and what they add to the key */
} fetch;

/* Whether f holds a read of kind for partition p's current view. */
static bool fetched(const fetch *f, const pview *pv, int kind)
{
	return f->valid[kind] && f->gen[kind] == pv->gen;
}

/* Asks for a read of kind; the caller returns 1. */
static int need(fetch *f, uint32_t p, int kind)
{
	f->kind = kind;
	f->p = p;
	f->valid[kind] = false;
	return 1;
}

typedef struct key_sum {
	const char *key;
	size_t kn;
	int64_t sum;
} key_sum;

/* ledger_batch_deltas callback: the entries of one key, summed. */
static void sum_of_key(void *ctx, wire_str counter, wire_str item, int64_t delta)
{
	key_sum *ks = ctx;
	char k[KEY_MAX];
	if (counter.n > COUNTER_MAX || item.n > ITEM_MAX)
		return;
	size_t kn = ekey_pair(k, counter.p, counter.n, item.p, item.n);
	if (kn == ks->kn && memcmp(k, ks->key, kn) == 0)
		ks->sum += delta;
}

/* Runs f (no ledger lock held): key's stored count, or what this edge's
 * sealed batches (lo, hi] of f->p add to key's count. */
static int fetch_run(ledger *l, fetch *f, const char *key, size_t kn)
{
	char *buf;
	size_t len;
	if (f->kind == FETCH_COUNT) {
		char skey[EKEY_COUNT_MAX];
		int rc = get_from(l, f->from, skey, ekey_count(skey, key, kn), &buf, &len);
		if (rc && rc != ERR_NOTFOUND)
			return rc;
		f->val = 0;
		if (rc == 0) {
			if (len >= 8)
				f->val = store_get_u64((unsigned char *)buf) | COUNT_KNOWN;
			free(buf);
		}
		return 0;
	}
	key_sum ks = {key, kn, 0};
	for (uint64_t seq = f->lo + 1; seq <= f->hi; seq++) {
		char bkey[13];
		size_t bn = ekey_part_seq(bkey, EKEY_BATCH, f->p, seq);
		const vsnap *src = f->from;
		int rc = get_from(l, src, bkey, bn, &buf, &len);
		if (rc == ERR_NOTFOUND && src) {
			/* Sealed while the write f->from was taken for runs (a
			 * seal does not wait for a snapshot's or a checkpoint
			 * message's write): not in that view, but in the store
			 * and, like every sealed batch, already in the memory
			 * this read goes with. A sealed batch does not change
			 * while it exists, so either copy is the same. */
			src = NULL;
			rc = get_from(l, NULL, bkey, bn, &buf, &len);
		}
		if (rc)
			continue;
		wire_batch b;
		if (wire_decode_batch(buf, len, &b) == 0) {
			char *flags = flags_from(l, src, f->p, seq, b.nops);
			ledger_batch_deltas(&b, flags, sum_of_key, &ks);
			free(flags);
			wire_batch_free(&b);
		}
		free(buf);
	}
	f->sum = ks.sum;
	return 0;
}

/* The snapshot count of key ("counter 0 item", whose smap_hash is h):
 * 0 with *count and *known (false when the edge never received one), or
 * 1 when it must be read from the store first (f). */
static int snapshot_count(ledger *l, const char *key, size_t kn, uint32_t h, uint32_t p, fetch *f,
                          uint64_t *count, bool *known)
{
	smap_val *v = smap_get_h(&l->view.cache_hot, key, kn, h);
	uint64_t val;
	if (v) {
		val = v->u;
		l->view.cache_hits++;
	} else if ((v = smap_get_h(&l->view.cache_cold, key, kn, h))) {
		l->view.cache_hits++;
		/* Read before the promotion: making room in hot may drop cold,
		 * v's map, whole. */
		val = v->u;
		cache_set(l, key, kn, val);
	} else if (fetched(f, &l->view.pv[p], FETCH_COUNT)) {
		val = f->val;
		cache_set(l, key, kn, val);
	} else {
		l->view.cache_misses++;
		return need(f, p, FETCH_COUNT);
	}
	*known = (val & COUNT_KNOWN) != 0;
	*count = val & ~COUNT_KNOWN;
	return 0;
}

/* A read-through count whose version the partition's snapshots have
 * reached becomes a snapshot count: had the item changed since, a
 * snapshot would have brought it. Cached now; written to the store by
 * the next writer (a reader writes nothing). */
static void rt_keep(ledger *l, const char *key, size_t kn, const rt_entry *e, const pview *pv)
{
	if (l->view.nkeep < LEDGER_KEEP_MAX) {
		keep_req *k = &l->view.keep[l->view.nkeep++];
		memcpy(k->key, key, kn);
		k->kn = kn;
		k->count = e->count;
		k->version = pv->snap_offset;
	}
	cache_set(l, key, kn, e->count | COUNT_KNOWN);
	rt_forget(l, key, kn);
	l->view.readthrough_kept++;
}

void ledger_keep_flush(ledger *l)
{
	ledger_vlock(l);
	size_t n = l->view.nkeep;
	keep_req *ks = n ? xmalloc(n * sizeof *ks) : NULL;
	if (n)
		memcpy(ks, l->view.keep, n * sizeof *ks);
	l->view.nkeep = 0;
	ledger_vunlock(l);
	if (!n)
		return;
	store_batch_clear(l->wb);
	size_t puts = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t have;
		int rc = ledger_count_version(l, ks[i].key, ks[i].kn, &have);
		if (rc == 0 && have >= ks[i].version)
			continue; /* a snapshot since brought it, or a newer one */
		if (rc && rc != ERR_NOTFOUND)
			continue; /* cached still; read through again after eviction */
		char skey[EKEY_COUNT_MAX];
		unsigned char val[16];
		store_put_u64(val, ks[i].count);
		store_put_u64(val + 8, ks[i].version);
		store_batch_put(l->wb, skey, ekey_count(skey, ks[i].key, ks[i].kn), val, 16);
		puts++;
	}
	if (puts) {
		int rc = store_write(l->db, l->wb);
		if (rc)
			log_warn("read-through counts not kept; they stay cached",
			         "counts=%zu err=\"%s\"", puts, err_str(rc));
	}
	free(ks);
}

/* One try at the view of k under vmu: 0 with *out filled (and *raw, if
 * asked, the count before it is clamped at 0), 1 with f saying what to
 * read from the store first. k's hash serves every map it is looked up
 * in. */
static int view_try(ledger *l, const pair_key *k, int64_t plus, fetch *f, ledger_view *out,
                    int64_t *raw)
{
	const char *key = k->key;
	size_t kn = k->kn;
	uint32_t h = k->h, p = k->p;
	pview *pv = &l->view.pv[p];
	uint64_t base;
	bool known;
	if (snapshot_count(l, key, kn, h, p, f, &base, &known))
		return 1;
	int64_t delta = 0;
	smap_val *v = smap_get_h(&l->view.overlay, key, kn, h);
	if (v)
		delta = ((overlay_entry *)v->p)->delta;
	out->version = pv->snap_offset;
	out->as_of = pv->snap_ms;
	/* A complete replica holds every count central has: an item it has
	 * none for is 0 at the partition's version. */
	out->known = known || pv->complete;
	/* A read-through count is newer than the snapshots until they reach
	 * its version; then they take over. */
	rt_entry *e = rt_find_h(l, key, kn, h);
	if (e && pv->snap_offset >= e->version && pv->snap_offset > 0) {
		if (out->known) {
			rt_forget(l, key, kn);
		} else {
			rt_keep(l, key, kn, e, pv);
			return view_try(l, k, plus, f, out, raw);
		}
	} else if (e && clock_mono_ms() - e->fetched_mono <= l->o.rt_ttl_ms) {
		base = e->count;
		/* Central had applied this edge's batches up to e->applied:
		 * those the overlay still holds are in the count already. */
		if (e->applied > pv->applied) {
			if (!fetched(f, pv, FETCH_DELTA) || f->lo != pv->applied ||
			    f->hi != e->applied) {
				f->lo = pv->applied;
				f->hi = e->applied;
				return need(f, p, FETCH_DELTA);
			}
			delta -= f->sum;
		}
		out->version = e->version;
		out->as_of = e->as_of;
		out->known = true;
	}
	int64_t c = (int64_t)base + delta + plus;
	out->count = c < 0 ? 0 : (uint64_t)c;
	if (raw)
		*raw = c;
	return 0;
}

/* Tries under vmu, and between tries reads the store with vmu let go, so
 * no store read holds up another reader. */
int ledger_view_count(ledger *l, const pair_key *k, int64_t plus, ledger_view *out, int64_t *raw)
{
	fetch f = {0};
	int rc;
	ledger_vlock(l);
	while ((rc = view_try(l, k, plus, &f, out, raw)) == 1) {
		pview *pv = &l->view.pv[k->p];
		f.gen[f.kind] = pv->gen;
		/* A write is running (gen odd): the memory read with this is
		 * still the one before it, so read the store before it too. */
		f.from = pv->gen & 1 ? pv->pre : NULL;
		if (f.from)
			f.from->refs++;
		ledger_vunlock(l);
		rc = fetch_run(l, &f, k->key, k->kn);
		ledger_vlock(l);
		vsnap_put(f.from);
		f.from = NULL;
		if (rc)
			break;
		f.valid[f.kind] = true;
	}
	ledger_vunlock(l);
	return rc;
}

/* Counts of a batch looked up together (ledger_read_many). */
#define READ_AHEAD 8

int ledger_read_many(ledger *l, const ledger_ref *refs, size_t n, ledger_view *out)
{
	for (size_t i = 0; i < n; i++)
		if (refs[i].cl > COUNTER_MAX || refs[i].il > ITEM_MAX)
			return ERR_INVAL;
	pair_key k[READ_AHEAD];
	size_t i = 0;
	while (i < n) {
		int rc = 0;
		size_t j = 0;
		ledger_vlock(l);
		while (i < n && !rc) {
			/* A few counts at a time: their keys and hashes first, and
			 * their cache slots and keys asked for, so the lookups'
			 * cache misses overlap instead of coming one by one. */
			size_t m = n - i < READ_AHEAD ? n - i : READ_AHEAD;
			for (j = 0; j < m; j++) {
				const ledger_ref *r = &refs[i + j];
				ledger_pair_make(&k[j], r->counter, r->cl, r->item, r->il,
				                 l->o.partitions);
				smap_prefetch(&l->view.cache_hot, k[j].h);
			}
			for (j = 0; j < m; j++)
				smap_prefetch_key(&l->view.cache_hot, k[j].h);
			for (j = 0; j < m; j++) {
				fetch f = {0};
				rc = view_try(l, &k[j], 0, &f, &out[i], NULL);
				if (rc)
					break;
				i++;
			}
		}
		ledger_vunlock(l);
		if (i == n)
			break;
		/* This count (k[j]) needs the store: the one-count path reads it
		 * with the lock let go, then the rest go on under one hold again. */
		if ((rc = ledger_view_count(l, &k[j], 0, &out[i], NULL)) != 0)
			return rc;
		i++;
	}
	return 0;
}

int ledger_read(ledger *l, const char *counter, const char *item, ledger_view *out)
{
	size_t cl = strlen(counter), il = strlen(item);
	if (cl > COUNTER_MAX || il > ITEM_MAX)
		return ERR_INVAL;
	pair_key k;
	ledger_pair_make(&k, counter, cl, item, il, l->o.partitions);
	return ledger_view_count(l, &k, 0, out, NULL);
}

void ledger_readthrough_put(ledger *l, const char *counter, const char *item, uint64_t count,
                            uint64_t version, uint64_t applied, uint64_t as_of)
{
	size_t cl = strlen(counter), il = strlen(item);
	if (cl > COUNTER_MAX || il > ITEM_MAX)
		return;
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	ledger_vlock(l);
	rt_entry *e = rt_find(l, key, kn);
	if (!e || version >= e->version) {
		rt_forget(l, key, kn);
		smap_val *v = smap_put_gen(&l->view.rt_hot, &l->view.rt_cold, l->o.rt_entries, key,
		                           kn, true, NULL);
		e = xmalloc(sizeof *e);
		*e = (rt_entry){count, version, applied, as_of, clock_mono_ms()};
		v->p = e;
	}
	ledger_vunlock(l);
}

/* --- snapshots ----------------------------------------------------------- */

int ledger_count_version(ledger *l, const char *key, size_t kn, uint64_t *version)
{
	char skey[EKEY_COUNT_MAX];
	unsigned char val[16];
	size_t vn;
	size_t skn = ekey_count(skey, key, kn);
	int rc = store_get_into(l->db, skey, skn, val, sizeof val, &vn);
	if (rc == ERR_NOTFOUND) {
		*version = 0;
		return ERR_NOTFOUND;
	}
	if (rc)
		return rc;
	*version = vn == 16 ? store_get_u64(val + 8) : 0;
	return 0;
}

/* The cached count of key, if the cache holds one, becomes val. */
static void cache_refresh(ledger *l, const char *key, size_t kn, uint64_t val)
{
	smap_val *v = smap_get(&l->view.cache_hot, key, kn);
	if (!v)
		v = smap_get(&l->view.cache_cold, key, kn);
	if (v)
		v->u = val;
}

int ledger_stage_counts(ledger *l, store_batch *wb, const wire_snapshot *s, bool check, bool *skip)
{
	char key[KEY_MAX + 1];
	unsigned char val[16];
	for (uint32_t i = 0; i < s->ncounts; i++) {
		const wire_count *c = &s->counts[i];
		skip[i] = c->counter.n > COUNTER_MAX || c->item.n > ITEM_MAX;
		if (skip[i])
			continue;
		char pair[EKEY_PAIR_MAX];
		size_t pn = ekey_pair(pair, c->counter.p, c->counter.n, c->item.p, c->item.n);
		size_t kn = ekey_count(key, pair, pn);
		if (check) {
			/* A checkpoint read later than this message, or a later
			 * snapshot, already brought a newer count. */
			uint64_t have;
			int rc = ledger_count_version(l, key + 1, kn - 1, &have);
			if (rc && rc != ERR_NOTFOUND)
				return rc;
			if (rc == 0 && have > s->offset) {
				skip[i] = true;
				continue;
			}
		}
		store_put_u64(val, c->count);
		store_put_u64(val + 8, s->offset);
		store_batch_put(wb, key, kn, val, 16);
	}
	return 0;
}

void ledger_cache_counts(ledger *l, const wire_snapshot *s, const bool *skip, bool only_cached)
{
	char key[KEY_MAX];
	for (uint32_t i = 0; i < s->ncounts; i++) {
		const wire_count *c = &s->counts[i];
		if (skip[i])
			continue;
		size_t kn = ekey_pair(key, c->counter.p, c->counter.n, c->item.p, c->item.n);
		if (only_cached)
			cache_refresh(l, key, kn, c->count | COUNT_KNOWN);
		else
			cache_set(l, key, kn, c->count | COUNT_KNOWN);
	}
}
