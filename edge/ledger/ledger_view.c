/* ledger_view.c - how the edge shows counts (ledger.h): the overlay of
 * its own unreflected ops, the snapshot-count cache, read-through counts
 * from central, and applying central's snapshots.
 *
 * A count read takes only the view mutex and lets it go while it reads
 * the store (view_read); applying a snapshot takes the writer mutex, and
 * the view mutex only to publish what its store write changed
 * (ledger_int.h has the rules).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "failpoint.h"
#include "edge/ledger/ledger_int.h"
#include "log.h"
#include "partition.h"
#include "version.h"
#include "xmem.h"

/* --- overlay -------------------------------------------------------------- */

int64_t ledger_op_delta(uint8_t kind, uint32_t n, bool counts)
{
	if (!counts)
		return 0;
	return kind == WIRE_ADD ? (int64_t)n : -(int64_t)n;
}

void ledger_overlay_add(ledger *l, const char *counter, size_t cl, const char *item, size_t il,
                        int64_t delta)
{
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	bool created;
	smap_val *v = smap_put(&l->overlay, key, kn, &created);
	if (created)
		v->p = xcalloc(1, sizeof(overlay_entry));
	overlay_entry *e = v->p;
	e->delta += delta;
	e->nops++;
}

void ledger_overlay_remove(ledger *l, const char *counter, size_t cl, const char *item, size_t il,
                           int64_t delta)
{
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	smap_val *v = smap_get(&l->overlay, key, kn);
	if (!v)
		return;
	overlay_entry *e = v->p;
	e->delta -= delta;
	if (--e->nops == 0) {
		free(e);
		smap_del(&l->overlay, key, kn);
	}
}

void ledger_overlay_merge(ledger *l, const char *counter, size_t cl, const char *item, size_t il,
                          uint64_t k)
{
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	smap_val *v = smap_get(&l->overlay, key, kn);
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

/* ledger_batch_deltas callback: an entry taken off the overlay. */
static void overlay_out(void *ctx, wire_str counter, wire_str item, int64_t delta)
{
	if (counter.n > COUNTER_MAX || item.n > ITEM_MAX)
		return;
	ledger_overlay_remove(ctx, counter.p, counter.n, item.p, item.n, delta);
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
	const part *pt = &l->parts[p];
	pview *pv = &l->pv[p];
	pv->snap_offset = pt->snap_offset;
	pv->snap_ms = pt->snap_ms;
	pv->applied = pt->applied;
	pv->complete = pt->rstate == LEDGER_REPLICA_COMPLETE;
}

void ledger_view_begin(ledger *l, uint32_t p)
{
	vsnap *v = xmalloc(sizeof *v);
	v->sn = store_snap_new(l->db);
	v->refs = 1;
	ledger_vlock(l);
	pview *pv = &l->pv[p];
	pv->gen++;
	pv->pre = v;
	ledger_vunlock(l);
}

void ledger_view_end(ledger *l, uint32_t p)
{
	pview *pv = &l->pv[p];
	pv->gen++;
	vsnap_put(pv->pre);
	pv->pre = NULL;
}

/* --- caches --------------------------------------------------------------- */

/* Both caches keep two generations (smap_put_gen), so neither holds more
 * than its configured size. */
static void cache_set(ledger *l, const char *key, size_t kn, uint64_t val)
{
	smap_put_gen(&l->cache_hot, &l->cache_cold, l->o.cache_entries, key, kn, false, NULL)->u =
	    val;
}

static void rt_forget(ledger *l, const char *key, size_t kn)
{
	smap *gens[2] = {&l->rt_hot, &l->rt_cold};
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
	smap_val *v = smap_get(&l->rt_hot, key, kn);
	if (!v)
		v = smap_get(&l->rt_cold, key, kn);
	return v ? v->p : NULL;
}

/* rt_find for a key whose smap_hash is known. */
static rt_entry *rt_find_h(ledger *l, const char *key, size_t kn, uint32_t h)
{
	smap_val *v = smap_get_h(&l->rt_hot, key, kn, h);
	if (!v)
		v = smap_get_h(&l->rt_cold, key, kn, h);
	return v ? v->p : NULL;
}

void ledger_views_free(ledger *l)
{
	smap_free_values(&l->overlay);
	smap_free(&l->cache_hot);
	smap_free(&l->cache_cold);
	smap_free_values(&l->rt_hot);
	smap_free_values(&l->rt_cold);
	if (l->pv)
		for (uint32_t p = 0; p < l->o.partitions; p++)
			vsnap_put(l->pv[p].pre);
	free(l->pv);
	l->pv = NULL;
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
		if (get_from(l, f->from, bkey, ekey_part_seq(bkey, EKEY_BATCH, f->p, seq), &buf,
		             &len))
			continue;
		wire_batch b;
		if (wire_decode_batch(buf, len, &b) == 0) {
			char *flags = flags_from(l, f->from, f->p, seq, b.nops);
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
	smap_val *v = smap_get_h(&l->cache_hot, key, kn, h);
	uint64_t val;
	if (v) {
		val = v->u;
		l->st.cache_hits++;
	} else if ((v = smap_get_h(&l->cache_cold, key, kn, h))) {
		l->st.cache_hits++;
		/* Read before the promotion: making room in hot may drop cold,
		 * v's map, whole. */
		val = v->u;
		cache_set(l, key, kn, val);
	} else if (fetched(f, &l->pv[p], FETCH_COUNT)) {
		val = f->val;
		cache_set(l, key, kn, val);
	} else {
		l->st.cache_misses++;
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
	if (l->nkeep < LEDGER_KEEP_MAX) {
		keep_req *k = &l->keep[l->nkeep++];
		memcpy(k->key, key, kn);
		k->kn = kn;
		k->count = e->count;
		k->version = pv->snap_offset;
	}
	cache_set(l, key, kn, e->count | COUNT_KNOWN);
	rt_forget(l, key, kn);
	l->st.readthrough_kept++;
}

void ledger_keep_flush(ledger *l)
{
	ledger_vlock(l);
	size_t n = l->nkeep;
	keep_req *ks = n ? xmalloc(n * sizeof *ks) : NULL;
	if (n)
		memcpy(ks, l->keep, n * sizeof *ks);
	l->nkeep = 0;
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

/* One try at the view of (counter, item) under vmu: 0 with *out filled,
 * 1 with f saying what to read from the store first. h is the pair key's
 * smap_hash, computed once for every map it is looked up in. */
static int view_try(ledger *l, const char *key, size_t kn, uint32_t h, uint32_t p, int64_t plus,
                    fetch *f, ledger_view *out)
{
	pview *pv = &l->pv[p];
	uint64_t base;
	bool known;
	if (snapshot_count(l, key, kn, h, p, f, &base, &known))
		return 1;
	int64_t delta = 0;
	smap_val *v = smap_get_h(&l->overlay, key, kn, h);
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
			return view_try(l, key, kn, h, p, plus, f, out);
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
	return 0;
}

/* The view of (counter, item): tries under vmu, and between tries reads
 * the store with vmu let go, so no store read holds up another reader. */
static int view_read(ledger *l, const char *counter, size_t cl, const char *item, size_t il,
                     int64_t plus, ledger_view *out)
{
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	uint32_t h = smap_hash(key, kn), p = partition_of(item, il, l->o.partitions);
	fetch f = {0};
	int rc;
	ledger_vlock(l);
	while ((rc = view_try(l, key, kn, h, p, plus, &f, out)) == 1) {
		pview *pv = &l->pv[p];
		f.gen[f.kind] = pv->gen;
		/* A write is running (gen odd): the memory read with this is
		 * still the one before it, so read the store before it too. */
		f.from = pv->gen & 1 ? pv->pre : NULL;
		if (f.from)
			f.from->refs++;
		ledger_vunlock(l);
		rc = fetch_run(l, &f, key, kn);
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

int ledger_view_plus(ledger *l, const char *counter, const char *item, int64_t plus,
                     ledger_view *out)
{
	return view_read(l, counter, strlen(counter), item, strlen(item), plus, out);
}

/* Counts of a batch looked up together (ledger_read_many). */
#define READ_AHEAD 8

int ledger_read_many(ledger *l, const ledger_ref *refs, size_t n, ledger_view *out)
{
	for (size_t i = 0; i < n; i++)
		if (refs[i].cl > COUNTER_MAX || refs[i].il > ITEM_MAX)
			return ERR_INVAL;
	size_t i = 0;
	while (i < n) {
		int rc = 0;
		ledger_vlock(l);
		while (i < n && !rc) {
			/* A few counts at a time: their keys and hashes first, and
			 * their cache slots and keys asked for, so the lookups'
			 * cache misses overlap instead of coming one by one. */
			struct {
				char key[KEY_MAX];
				size_t kn;
				uint32_t h, p;
			} k[READ_AHEAD];
			size_t m = n - i < READ_AHEAD ? n - i : READ_AHEAD;
			for (size_t j = 0; j < m; j++) {
				const ledger_ref *r = &refs[i + j];
				k[j].kn = ekey_pair(k[j].key, r->counter, r->cl, r->item, r->il);
				k[j].h = smap_hash(k[j].key, k[j].kn);
				k[j].p = partition_of(r->item, r->il, l->o.partitions);
				smap_prefetch(&l->cache_hot, k[j].h);
			}
			for (size_t j = 0; j < m; j++)
				smap_prefetch_key(&l->cache_hot, k[j].h);
			for (size_t j = 0; j < m; j++) {
				fetch f = {0};
				rc = view_try(l, k[j].key, k[j].kn, k[j].h, k[j].p, 0, &f, &out[i]);
				if (rc)
					break;
				i++;
			}
		}
		ledger_vunlock(l);
		if (i == n)
			break;
		/* This count needs the store: the one-count path reads it with
		 * the lock let go, then the rest go on under one hold again. */
		const ledger_ref *r = &refs[i];
		if ((rc = view_read(l, r->counter, r->cl, r->item, r->il, 0, &out[i])) != 0)
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
	return view_read(l, counter, cl, item, il, 0, out);
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
		smap_val *v =
		    smap_put_gen(&l->rt_hot, &l->rt_cold, l->o.rt_entries, key, kn, true, NULL);
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
	smap_val *v = smap_get(&l->cache_hot, key, kn);
	if (!v)
		v = smap_get(&l->cache_cold, key, kn);
	if (v)
		v->u = val;
}

int ledger_stage_counts(ledger *l, const wire_snapshot *s, bool check, bool *skip)
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
		store_batch_put(l->wb, key, kn, val, 16);
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

/* Drops confirmed batches [0, ndrop) of pt from memory and the overlay:
 * each op takes out what it put in (nothing for a repeat). */
static void drop_confirmed(ledger *l, uint32_t p, size_t ndrop, const ledger_dropped *d)
{
	part *pt = &l->parts[p];
	for (size_t i = 0; i < ndrop; i++) {
		wire_batch b;
		if (d[i].batch && wire_decode_batch(d[i].batch, d[i].len, &b) == 0) {
			const char *flags = d[i].nflags == b.nops ? d[i].flags : NULL;
			ledger_batch_deltas(&b, flags, overlay_out, l);
			wire_batch_free(&b);
		}
		l->st.pending_bytes -= pt->sealed[i].len;
		l->st.pending_batches--;
		l->st.batches_applied++;
	}
	if (ndrop) {
		memmove(pt->sealed, pt->sealed + ndrop, (pt->nsealed - ndrop) * sizeof *pt->sealed);
		pt->nsealed -= ndrop;
	}
}

void ledger_confirm_stage(ledger *l, uint32_t p, const wire_snapshot *s, ledger_confirm *c)
{
	part *pt = &l->parts[p];
	char key[16];
	unsigned char val[24];
	c->applied = pt->applied;
	c->held = 0;
	for (uint32_t i = 0; i < s->nedges; i++) {
		const wire_edge_seq *e = &s->edges[i];
		if (e->edge.n == strlen(l->edge_id) &&
		    memcmp(e->edge.p, l->edge_id, e->edge.n) == 0) {
			if (e->applied > c->applied)
				c->applied = e->applied;
			c->held = e->held;
		}
	}
	c->ndrop = 0;
	while (c->ndrop < pt->nsealed && pt->sealed[c->ndrop].seq <= c->applied)
		c->ndrop++;
	/* Read now: the same write deletes them. */
	c->drop = xcalloc(c->ndrop + 1, sizeof *c->drop);
	for (size_t i = 0; i < c->ndrop; i++) {
		size_t bk = ekey_part_seq(key, EKEY_BATCH, p, pt->sealed[i].seq);
		if (store_get(l->db, key, bk, &c->drop[i].batch, &c->drop[i].len))
			c->drop[i].batch = NULL;
		store_batch_del(l->wb, key, bk);
		bk = ekey_part_seq(key, EKEY_FLAGS, p, pt->sealed[i].seq);
		if (store_get(l->db, key, bk, &c->drop[i].flags, &c->drop[i].nflags))
			c->drop[i].flags = NULL;
		store_batch_del(l->wb, key, bk);
	}
	uint64_t version = s->offset > pt->snap_offset ? s->offset : pt->snap_offset;
	uint64_t produced = s->offset >= pt->snap_offset ? s->produced_ms : pt->snap_ms;
	store_put_u64(val, c->applied);
	store_put_u64(val + 8, version);
	store_put_u64(val + 16, produced);
	store_batch_put(l->wb, key, ekey_part(key, EKEY_APPLIED, p), val, 24);
}

void ledger_confirm_view(ledger *l, uint32_t p, const wire_snapshot *s, ledger_confirm *c)
{
	part *pt = &l->parts[p];
	c->again = s->offset == pt->snap_offset && pt->snap_offset > 0;
	/* Versions carry central's input epoch: in a new one the offsets
	 * below are of another log, and every batch not applied yet may be
	 * lost with the old one. */
	c->new_epoch =
	    pt->snap_offset > 0 && version_epoch(s->offset) > version_epoch(pt->snap_offset);
	drop_confirmed(l, p, c->ndrop, c->drop);
	pt->applied = c->applied;
	if (s->offset >= pt->snap_offset) {
		pt->snap_offset = s->offset;
		pt->snap_ms = s->produced_ms;
	}
}

void ledger_confirm_finish(ledger *l, uint32_t p, const wire_snapshot *s, ledger_confirm *c)
{
	part *pt = &l->parts[p];
	bool again = c->again, new_epoch = c->new_epoch;
	/* Central read past a batch without applying it (dropped by the
	 * broker, or held behind a gap): send it again. */
	for (size_t i = 0; i < pt->nsealed; i++) {
		sealed *b = &pt->sealed[i];
		if (b->state != SEALED_DELIVERED)
			continue;
		/* Held behind a gap: resent once per snapshot offset, not
		 * again when another instance reports the same offset (no
		 * new input read there, so the resend is still unread). */
		if (new_epoch || (uint64_t)b->offset < version_offset(s->offset) ||
		    (c->held && b->seq < c->held && !again)) {
			b->state = SEALED_UNSENT;
			b->resend = true;
			log_info("batch resent: central passed it without applying it",
			         "partition=%u seq=%" PRIu64 " offset=%" PRId64
			         " snapshot_version=%" PRIu64 " applied=%" PRIu64,
			         p, b->seq, b->offset, s->offset, c->applied);
		}
	}
	ledger_pump_part(l, p);
}

void ledger_confirm_free(ledger_confirm *c)
{
	if (!c->drop)
		return;
	for (size_t i = 0; i < c->ndrop; i++) {
		free(c->drop[i].batch);
		free(c->drop[i].flags);
	}
	free(c->drop);
	c->drop = NULL;
}

int ledger_apply_snapshot(ledger *l, const wire_snapshot *s, int64_t msg_offset)
{
	if (s->partition >= l->o.partitions)
		return ERR_CORRUPT;
	uint32_t p = s->partition;
	ledger_lock(l);
	part *pt = &l->parts[p];
	int rc = 0;
	char key[16];
	unsigned char val[8];
	ledger_confirm conf = {0};
	bool *skip = NULL;
	store_batch_clear(l->wb);
	store_put_u64(val, (uint64_t)msg_offset + 1);
	store_batch_put(l->wb, key, ekey_part(key, EKEY_SNAP_OFFSET, p), val, 8);
	/* A shard's primary and replicas each publish every partition's
	 * snapshots, with the same deterministic state at the same input
	 * offset. Per partition the newest wins: a message older than any
	 * applied (whole, or a part of a split one) is stale, even if it
	 * comes later from another instance; one at the same offset carries
	 * the same counts and applied sequences, so applying it again
	 * changes nothing (applied only grows, dropped batches are gone). */
	uint64_t newest = pt->snap_offset > pt->snap_seen ? pt->snap_offset : pt->snap_seen;
	if (s->offset < newest) {
		/* From an instance that is behind: what we have is newer. */
		l->st.snapshots_stale++;
		rc = store_write(l->db, l->wb);
		goto out;
	}
	/* Below what a checkpoint brought, each count is checked against
	 * the version stored with it. */
	skip = xcalloc(s->ncounts + 1, sizeof *skip);
	rc = ledger_stage_counts(l, s, s->offset < pt->ckpt_hi, skip);
	if (rc)
		goto out;
	if (s->offset > pt->snap_seen) {
		/* Kept across a restart: without it a part applied before
		 * the restart could be followed by an older snapshot from a
		 * lagging replica, and counts would step back. */
		store_put_u64(val, s->offset);
		store_batch_put(l->wb, key, ekey_part(key, EKEY_SNAP_SEEN, p), val, 8);
	}
	if (s->last)
		ledger_confirm_stage(l, p, s, &conf);
	/* Readers go on meanwhile, from the store as it was (ledger_int.h). */
	ledger_view_begin(l, p);
	rc = store_write(l->db, l->wb);
	if (rc == 0 && conf.ndrop)
		FAILPOINT("confirm.written"); /* applied batches deleted, memory not yet */
	/* The new counts, the overlay without the confirmed batches and the
	 * new version, all at once for a reader. */
	ledger_vlock(l);
	if (rc == 0) {
		ledger_cache_counts(l, s, skip, false);
		if (s->last)
			ledger_confirm_view(l, p, s, &conf);
		ledger_view_publish(l, p);
	}
	ledger_view_end(l, p);
	ledger_vunlock(l);
	if (rc)
		goto out;
	l->st.snapshots_applied++;
	if (s->offset > pt->snap_seen)
		pt->snap_seen = s->offset;
	if (s->last)
		ledger_confirm_finish(l, p, s, &conf);
out:
	ledger_confirm_free(&conf);
	free(skip);
	ledger_unlock(l);
	return rc;
}
