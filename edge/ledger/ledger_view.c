/* ledger_view.c - how the edge shows counts (ledger.h): the overlay of
 * its own ops central has not confirmed, the snapshot-count cache,
 * read-through counts from central, each partition's published view,
 * and the snapshot counts a snapshot or checkpoint message writes.
 *
 * Owns struct view (view_int.h): each stripe under its own mutex. A
 * count read takes its item's stripe and nothing else, and lets it go
 * while it reads the store (ledger_view_count); writers (the commit, a
 * seal, a snapshot) call in with the writer mutex held and change what
 * readers see under the stripes, after their store write.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "edge/ledger/view_int.h"
#include "err.h"
#include "log.h"
#include "xmem.h"

void ledger_view_init(struct view *v, const ledger_opts *o, store *db, const struct replica *rep,
                      const void *writer)
{
	v->o = o;
	v->db = db;
	v->rep = rep;
	v->writer = writer;
	/* Each stripe keeps its share of both caches, two entries at least
	 * (smap_put_gen), so that together they hold what the options say
	 * (smap_put_gen's generations may hold two over a stripe's share). */
	size_t n = LEDGER_VIEW_STRIPES;
	if (n > v->o->partitions)
		n = v->o->partitions;
	if (n > v->o->cache_entries / 2)
		n = v->o->cache_entries / 2;
	if (n > v->o->rt_entries / 2)
		n = v->o->rt_entries / 2;
	v->n = n ? (uint32_t)n : 1;
	v->cache_cap = v->o->cache_entries / v->n;
	v->rt_cap = v->o->rt_entries / v->n;
	/* The seal tick flushes them (a store read each, with cmu held):
	 * their sum is kept near the one view's 64, so that a tick stays
	 * short and a snapshot waits little for cmu. */
	v->keep_cap = LEDGER_KEEP_MAX / v->n < 16 ? 16 : LEDGER_KEEP_MAX / v->n;
	v->s = xcalloc(v->n, sizeof *v->s);
	for (uint32_t i = 0; i < v->n; i++) {
		vstripe *vs = &v->s[i];
		pthread_mutex_init(&vs->mu, NULL);
		smap_init(&vs->overlay);
		imap_init(&vs->cache_hot);
		imap_init(&vs->cache_cold);
		smap_init(&vs->rt_hot);
		smap_init(&vs->rt_cold);
	}
	v->pv = xcalloc(v->o->partitions, sizeof *v->pv);
	for (uint32_t p = 0; p < v->o->partitions; p++)
		v->pv[p].overlay_to = v->o->follower ? 0 : UINT64_MAX;
}

void ledger_view_holds_sealed(struct view *v, uint32_t p, uint64_t seq)
{
	pview *pv = &v->pv[p];
	if (seq > pv->overlay_to) /* a writer's holds all from the start */
		pv->overlay_to = seq;
}

/* --- bytes held --------------------------------------------------------------- */

/* Each is called with vs held (or at start-up) after a change that may
 * move what the structure holds: an entry made or dropped, a generation
 * dropped. O(1): the maps keep their own sums. */
static void overlay_account(vstripe *vs)
{
	atomic_store_explicit(&vs->overlay_bytes,
	                      smap_bytes(&vs->overlay) +
	                          vs->overlay.len * memacct_chunk(sizeof(overlay_entry)),
	                      memory_order_relaxed);
}

static void cache_account(vstripe *vs)
{
	atomic_store_explicit(&vs->cache_bytes,
	                      imap_bytes(&vs->cache_hot) + imap_bytes(&vs->cache_cold),
	                      memory_order_relaxed);
}

static void rt_account(vstripe *vs)
{
	size_t n = vs->rt_hot.len + vs->rt_cold.len;
	atomic_store_explicit(&vs->rt_bytes,
	                      smap_bytes(&vs->rt_hot) + smap_bytes(&vs->rt_cold) +
	                          n * memacct_chunk(sizeof(rt_entry)),
	                      memory_order_relaxed);
}

void ledger_view_memory(const struct view *v, ledger_memory *out)
{
	out->count_cache = out->readthrough = out->overlay = 0;
	for (uint32_t i = 0; i < v->n; i++) {
		const vstripe *vs = &v->s[i];
		out->count_cache += atomic_load_explicit(&vs->cache_bytes, memory_order_relaxed);
		out->readthrough += atomic_load_explicit(&vs->rt_bytes, memory_order_relaxed);
		out->overlay += atomic_load_explicit(&vs->overlay_bytes, memory_order_relaxed);
	}
}

/* --- overlay -------------------------------------------------------------- */

void ledger_overlay_add(vstripe *vs, const char *counter, size_t cl, const char *item, size_t il,
                        int64_t delta)
{
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	bool created;
	smap_val *v = smap_put(&vs->overlay, key, kn, &created);
	if (created) {
		v->p = xcalloc(1, sizeof(overlay_entry));
		overlay_account(vs);
	}
	overlay_entry *e = v->p;
	e->delta += delta;
	e->nops++;
}

void ledger_overlay_add_h(vstripe *vs, const char *key, size_t kn, uint32_t h, int64_t delta)
{
	smap_val *v = smap_get_h(&vs->overlay, key, kn, h);
	if (!v) {
		bool created;
		v = smap_put_h(&vs->overlay, key, kn, h, &created);
		v->p = xcalloc(1, sizeof(overlay_entry));
		overlay_account(vs);
	}
	overlay_entry *e = v->p;
	e->delta += delta;
	e->nops++;
}

void ledger_overlay_remove_h(vstripe *vs, const char *key, size_t kn, uint32_t h, int64_t delta)
{
	smap_val *v = smap_get_h(&vs->overlay, key, kn, h);
	if (!v)
		return;
	overlay_entry *e = v->p;
	e->delta -= delta;
	if (--e->nops == 0) {
		free(e);
		smap_del_h(&vs->overlay, key, kn, h);
		overlay_account(vs);
	}
}

void ledger_overlay_merge(vstripe *vs, const char *counter, size_t cl, const char *item, size_t il,
                          uint64_t k)
{
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	smap_val *v = smap_get(&vs->overlay, key, kn);
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
static int get_from(struct view *v, const vsnap *from, const void *key, size_t kn, char **buf,
                    size_t *len)
{
	return from ? store_snap_get(from->sn, key, kn, buf, len)
	            : store_get(v->db, key, kn, buf, len);
}

/* The 'D' flags of (p, seq) as from holds them (malloc'ed, nops bytes),
 * or NULL. */
static char *flags_from(struct view *v, const vsnap *from, uint32_t p, uint64_t seq, uint32_t nops)
{
	char key[EKEY_PART_SEQ_LEN];
	char *buf;
	size_t len;
	if (get_from(v, from, key, ekey_part_seq(key, EKEY_FLAGS, p, seq), &buf, &len))
		return NULL;
	if (len != nops) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *ledger_read_flags(struct view *v, uint32_t p, uint64_t seq, uint32_t nops)
{
	return flags_from(v, NULL, p, seq, nops);
}

/* --- published views -------------------------------------------------------- */

static void vsnap_put(vsnap *v)
{
	if (v && --v->refs == 0) {
		store_snap_free(v->sn);
		free(v);
	}
}

void ledger_view_publish(struct view *v, uint32_t p, view_said said)
{
	pview *pv = &v->pv[p];
	pv->snap_offset = said.snap_offset;
	pv->snap_ms = said.snap_ms;
	pv->applied = said.applied;
	pv->sealed = said.sealed;
	pv->complete = ledger_replica_complete(v->rep, p);
}

void ledger_view_sealed(struct view *v, uint32_t p, uint64_t seq)
{
	pview *pv = &v->pv[p];
	if (pv->sealed != UINT64_MAX && seq > pv->sealed)
		pv->sealed = seq;
}

bool ledger_view_overtake(struct view *v)
{
	return !atomic_exchange(&v->overtaken, true);
}

bool ledger_view_overtaken(const struct view *v)
{
	return atomic_load_explicit(&v->overtaken, memory_order_relaxed);
}

void ledger_view_begin(struct view *v, uint32_t p)
{
	vsnap *pre = xmalloc(sizeof *pre);
	pre->sn = store_snap_new(v->db);
	pre->refs = 1;
	vstripe *vs = ledger_vstripe(v, p);
	ledger_vlock_stripe(v, vs);
	pview *pv = &v->pv[p];
	pv->gen++;
	pv->pre = pre;
	ledger_vunlock(v, vs);
}

void ledger_view_end(struct view *v, uint32_t p)
{
	pview *pv = &v->pv[p];
	pv->gen++;
	vsnap_put(pv->pre);
	pv->pre = NULL;
}

/* --- caches --------------------------------------------------------------- */

/* Both caches keep two generations (imap_put_gen, smap_put_gen), so
 * neither holds more than its configured size. */
static void cache_set(struct view *v, vstripe *vs, const char *key, size_t kn, uint32_t h,
                      uint64_t val)
{
	*imap_put_gen(&vs->cache_hot, &vs->cache_cold, v->cache_cap, key, kn, h) = val;
	imap_publish(&vs->cache_hot, &vs->cache_where);
	cache_account(vs);
}

static void rt_forget(vstripe *vs, const char *key, size_t kn)
{
	smap *gens[2] = {&vs->rt_hot, &vs->rt_cold};
	for (int i = 0; i < 2; i++) {
		smap_val *v = smap_get(gens[i], key, kn);
		if (v) {
			free(v->p);
			smap_del(gens[i], key, kn);
			rt_account(vs);
		}
	}
}

static rt_entry *rt_find(vstripe *vs, const char *key, size_t kn)
{
	smap_val *v = smap_get(&vs->rt_hot, key, kn);
	if (!v)
		v = smap_get(&vs->rt_cold, key, kn);
	return v ? v->p : NULL;
}

/* rt_find for a key whose smap_hash is known. */
static rt_entry *rt_find_h(vstripe *vs, const char *key, size_t kn, uint32_t h)
{
	smap_val *v = smap_get_h(&vs->rt_hot, key, kn, h);
	if (!v)
		v = smap_get_h(&vs->rt_cold, key, kn, h);
	return v ? v->p : NULL;
}

void ledger_views_free(struct view *v)
{
	for (uint32_t i = 0; v->s && i < v->n; i++) {
		vstripe *vs = &v->s[i];
		smap_free_values(&vs->overlay);
		imap_free(&vs->cache_hot);
		imap_free(&vs->cache_cold);
		smap_free_values(&vs->rt_hot);
		smap_free_values(&vs->rt_cold);
		pthread_mutex_destroy(&vs->mu);
	}
	free(v->s);
	v->s = NULL;
	if (v->pv)
		for (uint32_t p = 0; p < v->o->partitions; p++)
			vsnap_put(v->pv[p].pre);
	free(v->pv);
	v->pv = NULL;
}

void ledger_view_stats(struct view *v, ledger_stats *out)
{
	out->cache_hits = out->cache_misses = out->readthrough_kept = 0;
	out->view_lock_ns = 0;
	out->overlay_entries = 0;
	out->view_stripes = v->n;
	memset(out->view_stripe_ns, 0, sizeof out->view_stripe_ns);
	for (uint32_t i = 0; i < v->n; i++) {
		vstripe *vs = &v->s[i];
		ledger_vlock_stripe(v, vs);
		out->cache_hits += vs->cache_hits;
		out->cache_misses += vs->cache_misses;
		out->readthrough_kept += vs->readthrough_kept;
		out->overlay_entries += vs->overlay.len;
		uint64_t ns = vs->lock_ns;
		ledger_vunlock(v, vs);
		out->view_stripe_ns[i] = ns;
		out->view_lock_ns += ns;
	}
}

/* --- reading ---------------------------------------------------------------- */

/* A store read a count read needs before it can answer. It runs with the
 * stripe let go; what it read is used only if the partition's view
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
static int fetch_run(struct view *v, fetch *f, const char *key, size_t kn)
{
	char *buf;
	size_t len;
	if (f->kind == FETCH_COUNT) {
		char skey[EKEY_COUNT_MAX];
		int rc = get_from(v, f->from, skey, ekey_count(skey, key, kn), &buf, &len);
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
		char bkey[EKEY_PART_SEQ_LEN];
		size_t bn = ekey_part_seq(bkey, EKEY_BATCH, f->p, seq);
		const vsnap *src = f->from;
		int rc = get_from(v, src, bkey, bn, &buf, &len);
		if (rc == ERR_NOTFOUND && src) {
			/* Sealed while the write f->from was taken for runs (a
			 * seal does not wait for a snapshot's or a checkpoint
			 * message's write): not in that view, but in the store
			 * and, like every sealed batch, already in the memory
			 * this read goes with. A sealed batch does not change
			 * while it exists, so either copy is the same. */
			src = NULL;
			rc = get_from(v, NULL, bkey, bn, &buf, &len);
		}
		if (rc)
			continue;
		wire_batch b;
		if (wire_decode_batch(buf, len, &b) == 0) {
			char *flags = flags_from(v, src, f->p, seq, b.nops);
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
static int snapshot_count(struct view *v, vstripe *vs, const char *key, size_t kn, uint32_t h,
                          uint32_t p, fetch *f, uint64_t *count, bool *known)
{
	uint64_t *slot = imap_get(&vs->cache_hot, key, kn, h);
	uint64_t val;
	if (slot) {
		val = *slot;
		vs->cache_hits++;
	} else if ((slot = imap_get(&vs->cache_cold, key, kn, h))) {
		vs->cache_hits++;
		/* Read before the promotion: making room in hot may drop cold,
		 * slot's map, whole. */
		val = *slot;
		cache_set(v, vs, key, kn, h, val);
	} else if (fetched(f, &v->pv[p], FETCH_COUNT)) {
		val = f->val;
		cache_set(v, vs, key, kn, h, val);
	} else {
		vs->cache_misses++;
		return need(f, p, FETCH_COUNT);
	}
	*known = (val & COUNT_KNOWN) != 0;
	*count = val & ~COUNT_KNOWN;
	return 0;
}

/* A read-through count whose version the partition's snapshots have
 * reached becomes a snapshot count: had the item changed since, a
 * snapshot would have brought it. Cached now; written to the store by
 * the next seal tick (a reader writes nothing). */
static void rt_keep(struct view *v, vstripe *vs, const char *key, size_t kn, const rt_entry *e,
                    const pview *pv)
{
	if (vs->nkeep < v->keep_cap) {
		keep_req *k = &vs->keep[vs->nkeep++];
		memcpy(k->key, key, kn);
		k->kn = kn;
		k->count = e->count;
		k->version = pv->snap_offset;
	}
	cache_set(v, vs, key, kn, smap_hash(key, kn), e->count | COUNT_KNOWN);
	rt_forget(vs, key, kn);
	vs->readthrough_kept++;
}

void ledger_keep_flush(struct view *v, store_batch *wb)
{
	if (!v->pv) /* a ledger whose open failed before its view */
		return;
	/* Taken from each stripe in turn (a keep is a hint that saves a
	 * later read-through, and needs no instant common to the stripes),
	 * checked with the stripe let go, and written in one store write.
	 * Counts are written under cmu alone, which is held. */
	keep_req *ks = NULL;
	size_t puts = 0;
	store_batch_clear(wb);
	for (uint32_t s = 0; s < v->n; s++) {
		vstripe *vs = &v->s[s];
		ledger_vlock_stripe(v, vs);
		size_t n = vs->nkeep;
		if (n) {
			if (!ks)
				ks = xmalloc(LEDGER_KEEP_MAX * sizeof *ks);
			memcpy(ks, vs->keep, n * sizeof *ks);
			vs->nkeep = 0;
		}
		ledger_vunlock(v, vs);
		for (size_t i = 0; i < n; i++) {
			uint64_t have;
			int rc = ledger_count_version(v, ks[i].key, ks[i].kn, &have);
			if (rc == 0 && have >= ks[i].version)
				continue; /* a snapshot since brought it, or a newer one */
			if (rc && rc != ERR_NOTFOUND)
				continue; /* cached still; read through again after eviction */
			char skey[EKEY_COUNT_MAX];
			unsigned char val[16];
			store_put_u64(val, ks[i].count);
			store_put_u64(val + 8, ks[i].version);
			store_batch_put(wb, skey, ekey_count(skey, ks[i].key, ks[i].kn), val, 16);
			puts++;
		}
	}
	free(ks);
	if (puts) {
		int rc = store_write(v->db, wb);
		if (rc)
			log_warn("read-through counts not kept; they stay cached",
			         "counts=%zu err=\"%s\"", puts, err_str(rc));
	}
}

/* One try at the view of k under its stripe vs: 0 with *out filled (and
 * *raw, if asked, the count before it is clamped at 0), 1 with f saying
 * what to read from the store first, ERR_FENCED when another instance
 * writes as this edge (struct view's overtaken). k's hash serves every map it is looked up
 * in. */
static int view_try(struct view *v, vstripe *vs, const pair_key *k, int64_t plus, fetch *f,
                    ledger_view *out, int64_t *raw)
{
	const char *key = k->key;
	size_t kn = k->kn;
	uint32_t h = k->h, p = k->p;
	pview *pv = &v->pv[p];
	uint64_t base;
	bool known;
	/* Under the stripe: a snapshot that found this edge taken over set
	 * it before its counts were shown here. */
	if (ledger_view_overtaken(v))
		return ERR_FENCED;
	/* The overlay's slot is asked for before the cache is looked up, so
	 * that their two cache misses overlap. */
	if (vs->overlay.len)
		smap_prefetch(&vs->overlay, h);
	if (snapshot_count(v, vs, key, kn, h, p, f, &base, &known))
		return 1;
	int64_t delta = 0;
	smap_val *ov = smap_get_h(&vs->overlay, key, kn, h);
	if (ov)
		delta = ((overlay_entry *)ov->p)->delta;
	out->version = pv->snap_offset;
	out->as_of = pv->snap_ms;
	/* A complete replica holds every count central has: an item it has
	 * none for is 0 at the partition's version. */
	out->known = known || pv->complete;
	/* A read-through count is newer than the snapshots until they reach
	 * its version; then they take over. */
	rt_entry *e = rt_find_h(vs, key, kn, h);
	if (e && pv->snap_offset >= e->version && pv->snap_offset > 0) {
		if (out->known) {
			rt_forget(vs, key, kn);
		} else {
			rt_keep(v, vs, key, kn, e, pv);
			return view_try(v, vs, k, plus, f, out, raw);
		}
	} else if (e && clock_mono_ms() - e->fetched_mono <= v->o->rt_ttl_ms) {
		if (pv->overlay_to == UINT64_MAX && e->applied > pv->sealed) {
			/* A writer's: central applied batches of this edge it
			 * never sealed. */
			if (ledger_view_overtake(v))
				log_error(
				    "central applied batches of this edge that this instance never "
				    "sealed: another instance writes as this edge; its counts are "
				    "refused from now on",
				    "partition=%u sealed=%" PRIu64 " central_applied=%" PRIu64, p,
				    pv->sealed, e->applied);
			return ERR_FENCED;
		}
		base = e->count;
		/* Central had applied this edge's batches up to e->applied:
		 * those the overlay holds too are in the count already, and
		 * come off. The overlay holds none of a follower's (its store
		 * holds the active's batches, its overlay nothing until a
		 * promotion loads them, batch by batch): taking them off there
		 * undid an unlike's -1 and answered one too many. */
		uint64_t hi = e->applied < pv->overlay_to ? e->applied : pv->overlay_to;
		if (hi > pv->applied) {
			if (!fetched(f, pv, FETCH_DELTA) || f->lo != pv->applied || f->hi != hi) {
				f->lo = pv->applied;
				f->hi = hi;
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
	out->base = base;
	if (raw)
		*raw = c;
	return 0;
}

/* Tries under k's stripe, and between tries reads the store with it let
 * go, so no store read holds up another reader. */
int ledger_view_count(struct view *v, const pair_key *k, int64_t plus, ledger_view *out,
                      int64_t *raw)
{
	fetch f = {0};
	int rc;
	vstripe *vs = ledger_vstripe(v, k->p);
	ledger_vlock_stripe(v, vs);
	while ((rc = view_try(v, vs, k, plus, &f, out, raw)) == 1) {
		pview *pv = &v->pv[k->p];
		f.gen[f.kind] = pv->gen;
		/* A write is running (gen odd): the memory read with this is
		 * still the one before it, so read the store before it too. */
		f.from = pv->gen & 1 ? pv->pre : NULL;
		if (f.from)
			f.from->refs++;
		ledger_vunlock(v, vs);
		rc = fetch_run(v, &f, k->key, k->kn);
		ledger_vlock_stripe(v, vs);
		vsnap_put(f.from);
		f.from = NULL;
		if (rc)
			break;
		f.valid[f.kind] = true;
	}
	ledger_vunlock(v, vs);
	return rc;
}

/* Counts of a batch sorted by stripe at a time (ledger_read_many). */
#define READ_WINDOW 128

/* The counts at[0..m) of k, all of stripe vs, into out: under one hold
 * of vs while each is in memory, with the lock let go for each that must
 * be read from the store. *t times the holds (ledger_vlock_from). 0 or
 * the store's error. */
static int read_stripe(struct view *v, vstripe *vs, const pair_key *k, const uint16_t *at, size_t m,
                       ledger_view *out, uint64_t *t)
{
	size_t i = 0;
	while (i < m) {
		int rc = 0;
		ledger_vlock_from(v, vs, *t);
		for (; i < m; i++) {
			fetch f = {0};
			if ((rc = view_try(v, vs, &k[at[i]], 0, &f, &out[at[i]], NULL)) != 0)
				break;
		}
		*t = ledger_vunlock_at(v, vs);
		if (i == m)
			break;
		/* This count needs the store: the one-count path reads it with
		 * the lock let go, then the rest go on under one hold again. */
		if ((rc = ledger_view_count(v, &k[at[i]], 0, &out[at[i]], NULL)) != 0)
			return rc;
		*t = clock_mono_ns();
		i++;
	}
	return 0;
}

int ledger_view_read_many(struct view *v, const ledger_ref *refs, size_t n, ledger_view *out)
{
	for (size_t i = 0; i < n; i++)
		if (refs[i].cl > COUNTER_MAX || refs[i].il > ITEM_MAX)
			return ERR_INVAL;
	uint32_t nst = v->n;
	for (size_t base = 0; base < n; base += READ_WINDOW) {
		size_t m = n - base < READ_WINDOW ? n - base : READ_WINDOW;
		const ledger_ref *r = refs + base;
		pair_key k[READ_WINDOW];
		uint16_t at[READ_WINDOW];
		size_t first[LEDGER_VIEW_STRIPES + 1] = {0};
		/* Every count's cache slot is asked for first, whatever its
		 * stripe and before any stripe is taken, so that the window's
		 * cache misses overlap; then the window is sorted by stripe (a
		 * counting sort), so that each stripe is taken once. */
		for (size_t i = 0; i < m; i++) {
			ledger_pair_make(&k[i], r[i].counter, r[i].cl, r[i].item, r[i].il,
			                 v->o->partitions);
			imap_prefetch_at(&v->s[k[i].p % nst].cache_where, k[i].h);
			first[k[i].p % nst + 1]++;
		}
		for (uint32_t s = 0; s < nst; s++)
			first[s + 1] += first[s];
		size_t fill[LEDGER_VIEW_STRIPES];
		memcpy(fill, first, nst * sizeof *fill);
		for (size_t i = 0; i < m; i++)
			at[fill[k[i].p % nst]++] = (uint16_t)i;
		uint64_t t = clock_mono_ns();
		for (uint32_t s = 0; s < nst; s++) {
			size_t c = first[s + 1] - first[s];
			if (!c)
				continue;
			int rc = read_stripe(v, &v->s[s], k, at + first[s], c, out + base, &t);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int ledger_view_read(struct view *v, const char *counter, const char *item, ledger_view *out)
{
	size_t cl = strlen(counter), il = strlen(item);
	if (cl > COUNTER_MAX || il > ITEM_MAX)
		return ERR_INVAL;
	pair_key k;
	ledger_pair_make(&k, counter, cl, item, il, v->o->partitions);
	return ledger_view_count(v, &k, 0, out, NULL);
}

void ledger_view_readthrough_put(struct view *v, const char *counter, const char *item,
                                 uint64_t count, uint64_t version, uint64_t applied, uint64_t as_of)
{
	size_t cl = strlen(counter), il = strlen(item);
	if (cl > COUNTER_MAX || il > ITEM_MAX)
		return;
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	vstripe *vs = ledger_vstripe(v, partition_of(item, il, v->o->partitions));
	ledger_vlock_stripe(v, vs);
	rt_entry *e = rt_find(vs, key, kn);
	if (!e || version >= e->version) {
		rt_forget(vs, key, kn);
		smap_val *sv =
		    smap_put_gen(&vs->rt_hot, &vs->rt_cold, v->rt_cap, key, kn, true, NULL);
		e = xmalloc(sizeof *e);
		*e = (rt_entry){count, version, applied, as_of, clock_mono_ms()};
		sv->p = e;
		rt_account(vs);
	}
	ledger_vunlock(v, vs);
}

/* --- snapshots ----------------------------------------------------------- */

int ledger_count_stored(struct view *v, const char *key, size_t kn, uint64_t *count,
                        uint64_t *version)
{
	char skey[EKEY_COUNT_MAX];
	unsigned char val[16];
	size_t vn;
	size_t skn = ekey_count(skey, key, kn);
	*count = *version = 0;
	int rc = store_get_into(v->db, skey, skn, val, sizeof val, &vn);
	if (rc)
		return rc;
	if (vn >= 8)
		*count = store_get_u64(val);
	*version = vn == 16 ? store_get_u64(val + 8) : 0;
	return 0;
}

int ledger_count_version(struct view *v, const char *key, size_t kn, uint64_t *version)
{
	uint64_t count;
	return ledger_count_stored(v, key, kn, &count, version);
}

/* --- when counts were 0 ('Z'), for home users' memberships --------------------- */

/* With home_cover: a version at which pair's count was 0, into wb: s's
 * own when it says 0; when it raises the count from 0 (or from none in a
 * complete replica), the latest version this edge knows it was 0 at (the
 * partition's before s, the checkpoint's, the stored count's). A
 * checkpoint's counts above 0 say nothing of when they were 0. cmu held. */
static int zero_stage(struct view *v, store_batch *wb, const char *pair, size_t pn, uint64_t count,
                      const wire_snapshot *s, bool check, uint64_t before)
{
	char zkey[EKEY_COUNT_MAX];
	unsigned char val[8];
	uint64_t at = s->offset;
	if (count) {
		if (check || !ledger_replica_complete(v->rep, s->partition))
			return 0;
		uint64_t have, ver;
		int rc = ledger_count_stored(v, pair, pn, &have, &ver);
		if (rc && rc != ERR_NOTFOUND)
			return rc;
		if (have)
			return 0;
		at = before;
		uint64_t ckpt = ledger_replica_ckpt_hi(v->rep, s->partition);
		at = at > ckpt ? at : ckpt;
		at = at > ver ? at : ver;
	}
	store_put_u64(val, at);
	store_batch_put(wb, zkey, ekey_zero(zkey, pair, pn), val, sizeof val);
	return 0;
}

bool ledger_item_covered(struct view *v, const char *counter, const char *item, uint64_t from)
{
	ledger_view seen;
	if (from == LEDGER_HOME_NONE || ledger_view_read(v, counter, item, &seen) || !seen.known)
		return false;
	/* Central's count (this edge's own ops not yet in it have their
	 * memberships here): 0, no member at central. */
	if (seen.base == 0)
		return true;
	char pair[EKEY_PAIR_MAX], zkey[EKEY_COUNT_MAX];
	size_t pn = ekey_pair(pair, counter, strlen(counter), item, strlen(item));
	uint64_t zero;
	return store_read_u64(v->db, zkey, ekey_zero(zkey, pair, pn), &zero) == 0 && zero >= from;
}

/* The cached count of key (whose smap_hash is h), if the cache holds
 * one, becomes val. */
static void cache_refresh(vstripe *vs, const char *key, size_t kn, uint32_t h, uint64_t val)
{
	uint64_t *v = imap_get(&vs->cache_hot, key, kn, h);
	if (!v)
		v = imap_get(&vs->cache_cold, key, kn, h);
	if (v)
		*v = val;
}

int ledger_view_put_counts(struct view *v, store_batch *wb, const wire_snapshot *s, bool check,
                           uint64_t before, bool *skip)
{
	char key[KEY_MAX + 1];
	unsigned char val[16];
	uint32_t elsewhere = 0;
	for (uint32_t i = 0; i < s->ncounts; i++) {
		const wire_count *c = &s->counts[i];
		skip[i] = c->counter.n > COUNTER_MAX || c->item.n > ITEM_MAX;
		if (!skip[i] &&
		    partition_of(c->item.p, c->item.n, v->o->partitions) != s->partition) {
			skip[i] = true;
			elsewhere++;
		}
		if (skip[i])
			continue;
		char pair[EKEY_PAIR_MAX];
		size_t pn = ekey_pair(pair, c->counter.p, c->counter.n, c->item.p, c->item.n);
		size_t kn = ekey_count(key, pair, pn);
		if (check) {
			/* A checkpoint read later than this message, or a later
			 * snapshot, already brought a newer count. */
			uint64_t have;
			int rc = ledger_count_version(v, key + 1, kn - 1, &have);
			if (rc && rc != ERR_NOTFOUND)
				return rc;
			if (rc == 0 && have > s->offset) {
				skip[i] = true;
				continue;
			}
		}
		if (v->o->home_cover) {
			int rc = zero_stage(v, wb, key + 1, kn - 1, c->count, s, check, before);
			if (rc)
				return rc;
		}
		store_put_u64(val, c->count);
		store_put_u64(val + 8, s->offset);
		store_batch_put(wb, key, kn, val, 16);
	}
	/* Every message of a misconfigured central says it again: a line
	 * every 10 s is enough. */
	uint64_t skipped;
	if (elsewhere && log_every(&v->misparted, 10000, &skipped))
		log_warn("counts of other partitions' items left out: does central have as many "
		         "partitions as this edge?",
		         "partition=%u counts=%u partitions=%u similar_since_last=%" PRIu64,
		         s->partition, elsewhere, v->o->partitions, skipped);
	return 0;
}

/* Counts of a snapshot cached a few at a time (ledger_cache_counts). */
#define CACHE_AHEAD 8

void ledger_cache_counts(struct view *v, const wire_snapshot *s, const bool *skip, bool only_cached)
{
	vstripe *vs = ledger_vstripe(v, s->partition);
	/* A snapshot brings thousands of counts, applied with the writer
	 * mutex held: a few at a time, their keys and hashes first and
	 * their slots asked for, so the cache misses overlap. */
	char key[CACHE_AHEAD][KEY_MAX];
	size_t kn[CACHE_AHEAD];
	uint32_t h[CACHE_AHEAD], at[CACHE_AHEAD];
	uint32_t i = 0;
	while (i < s->ncounts) {
		size_t m = 0;
		for (; i < s->ncounts && m < CACHE_AHEAD; i++) {
			if (skip[i])
				continue;
			const wire_count *c = &s->counts[i];
			kn[m] = ekey_pair(key[m], c->counter.p, c->counter.n, c->item.p, c->item.n);
			h[m] = smap_hash(key[m], kn[m]);
			imap_prefetch(&vs->cache_hot, h[m]);
			at[m++] = i;
		}
		for (size_t j = 0; j < m; j++) {
			uint64_t val = s->counts[at[j]].count | COUNT_KNOWN;
			if (only_cached)
				cache_refresh(vs, key[j], kn[j], h[j], val);
			else
				cache_set(v, vs, key[j], kn[j], h[j], val);
		}
	}
}
