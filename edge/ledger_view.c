/* ledger_view.c - how the edge shows counts (ledger.h): the overlay of
 * its own unreflected ops, the snapshot-count cache, read-through counts
 * from central, and applying central's snapshots. Every entry point takes
 * the ledger's mutex; the *_locked helpers expect it held.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "failpoint.h"
#include "ledger_int.h"
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

void ledger_overlay_remove(ledger *l, const char *counter, size_t cl, const char *item,
			   size_t il, int64_t delta)
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

/* ledger_batch_deltas callbacks: an entry's delta into a "counter 0
 * item" map, and an entry taken off the overlay. */
static void delta_into(void *ctx, wire_str counter, wire_str item, int64_t delta)
{
	char k[KEY_MAX];
	if (counter.n > COUNTER_MAX || item.n > ITEM_MAX)
		return;
	size_t kn = ekey_pair(k, counter.p, counter.n, item.p, item.n);
	smap_put(ctx, k, kn, NULL)->i += delta;
}

static void overlay_out(void *ctx, wire_str counter, wire_str item, int64_t delta)
{
	if (counter.n > COUNTER_MAX || item.n > ITEM_MAX)
		return;
	ledger_overlay_remove(ctx, counter.p, counter.n, item.p, item.n, delta);
}

char *ledger_read_flags(ledger *l, uint32_t p, uint64_t seq, uint32_t nops)
{
	char key[13];
	char *buf;
	size_t len;
	if (store_get(l->db, key, ekey_part_seq(key, EKEY_FLAGS, p, seq), &buf, &len))
		return NULL;
	if (len != nops) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* What this edge's sealed batches of p with lo < seq <= hi add to
 * (counter, item): the part of the overlay a read-through count taken
 * after central applied them already holds. */
/* The per-item deltas of sealed batch (p, seq): decoded once, then kept
 * (a sealed batch never changes) in a small ring until pushed out. */
static const smap *batch_deltas(ledger *l, uint32_t p, uint64_t seq)
{
	for (size_t i = 0; i < LEDGER_DELTA_BATCHES; i++) {
		delta_batch *d = &l->deltas[i];
		if (d->used && d->p == p && d->seq == seq)
			return &d->items;
	}
	char bkey[13];
	char *buf;
	size_t len;
	if (store_get(l->db, bkey, ekey_part_seq(bkey, EKEY_BATCH, p, seq), &buf, &len))
		return NULL;
	wire_batch b;
	if (wire_decode_batch(buf, len, &b)) {
		free(buf);
		return NULL;
	}
	delta_batch *d = &l->deltas[l->next_delta];
	l->next_delta = (l->next_delta + 1) % LEDGER_DELTA_BATCHES;
	smap_clear(&d->items);
	d->used = true;
	d->p = p;
	d->seq = seq;
	char *flags = ledger_read_flags(l, p, seq, b.nops);
	ledger_batch_deltas(&b, flags, delta_into, &d->items);
	free(flags);
	wire_batch_free(&b);
	free(buf);
	return &d->items;
}

/* What this edge's ops in its sealed batches (lo, hi] of partition p add
 * to key's count. */
static int64_t sealed_delta(ledger *l, uint32_t p, const char *key, size_t kn, uint64_t lo,
			    uint64_t hi)
{
	part *pt = &l->parts[p];
	int64_t sum = 0;
	for (size_t i = 0; i < pt->nsealed && pt->sealed[i].seq <= hi; i++) {
		if (pt->sealed[i].seq <= lo)
			continue;
		const smap *m = batch_deltas(l, p, pt->sealed[i].seq);
		const smap_val *v = m ? smap_get(m, key, kn) : NULL;
		if (v)
			sum += v->i;
	}
	return sum;
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
	for (size_t i = 0; i < LEDGER_DELTA_BATCHES; i++)
		smap_free(&l->deltas[i].items);
	smap_free_values(&l->overlay);
	smap_free(&l->cache_hot);
	smap_free(&l->cache_cold);
	smap_free_values(&l->rt_hot);
	smap_free_values(&l->rt_cold);
}

/* The snapshot count of key ("counter 0 item", whose smap_hash is h);
 * *known false when the edge has never received one. */
static int snapshot_count(ledger *l, const char *key, size_t kn, uint32_t h, uint64_t *count,
                          bool *known)
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
	} else {
		l->st.cache_misses++;
		char skey[EKEY_COUNT_MAX];
		size_t skn = ekey_count(skey, key, kn);
		char *buf;
		size_t blen;
		int rc = store_get(l->db, skey, skn, &buf, &blen);
		if (rc && rc != ERR_NOTFOUND)
			return rc;
		val = 0;
		if (rc == 0) {
			if (blen >= 8)
				val = store_get_u64((unsigned char *)buf) | COUNT_KNOWN;
			free(buf);
		}
		cache_set(l, key, kn, val);
	}
	*known = (val & COUNT_KNOWN) != 0;
	*count = val & ~COUNT_KNOWN;
	return 0;
}

/* A read-through count whose version the partition's snapshots have
 * reached becomes a snapshot count: had the item changed since, a
 * snapshot would have brought it. */
static int rt_keep(ledger *l, const char *key, size_t kn, const rt_entry *e, const part *pt)
{
	char skey[EKEY_COUNT_MAX];
	unsigned char val[16];
	size_t skn = ekey_count(skey, key, kn);
	store_put_u64(val, e->count);
	store_put_u64(val + 8, pt->snap_offset);
	store_batch_clear(l->wb);
	store_batch_put(l->wb, skey, skn, val, 16);
	int rc = store_write(l->db, l->wb);
	if (rc)
		return rc;
	cache_set(l, key, kn, e->count | COUNT_KNOWN);
	rt_forget(l, key, kn);
	l->st.readthrough_kept++;
	return 0;
}

/* ledger_view_locked with the lengths known. The pair's key is hashed
 * once for the five maps it is looked up in. */
static int view_locked(ledger *l, const char *counter, size_t cl, const char *item, size_t il,
                       int64_t plus, ledger_view *out)
{
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	uint32_t h = smap_hash(key, kn);
	uint32_t p = partition_of(item, il, l->o.partitions);
	part *pt = &l->parts[p];
	uint64_t base;
	bool known;
	int rc = snapshot_count(l, key, kn, h, &base, &known);
	if (rc)
		return rc;
	int64_t delta = 0;
	smap_val *v = smap_get_h(&l->overlay, key, kn, h);
	if (v)
		delta = ((overlay_entry *)v->p)->delta;
	out->version = pt->snap_offset;
	out->as_of = pt->snap_ms;
	/* A complete replica holds every count central has: an item it has
	 * none for is 0 at the partition's version. */
	out->known = known || pt->rstate == LEDGER_REPLICA_COMPLETE;
	/* A read-through count is newer than the snapshots until they reach
	 * its version; then they take over. */
	rt_entry *e = rt_find_h(l, key, kn, h);
	if (e && pt->snap_offset >= e->version && pt->snap_offset > 0) {
		if (out->known) {
			rt_forget(l, key, kn);
		} else {
			rc = rt_keep(l, key, kn, e, pt);
			if (rc)
				return rc;
			return view_locked(l, counter, cl, item, il, plus, out);
		}
	} else if (e && clock_mono_ms() - e->fetched_mono <= l->o.rt_ttl_ms) {
		base = e->count;
		if (e->applied > pt->applied)
			delta -= sealed_delta(l, p, key, kn, pt->applied, e->applied);
		out->version = e->version;
		out->as_of = e->as_of;
		out->known = true;
	}
	int64_t c = (int64_t)base + delta + plus;
	out->count = c < 0 ? 0 : (uint64_t)c;
	return 0;
}

int ledger_view_locked(ledger *l, const char *counter, const char *item, ledger_view *out)
{
	return view_locked(l, counter, strlen(counter), item, strlen(item), 0, out);
}

int ledger_view_plus_locked(ledger *l, const char *counter, const char *item, int64_t plus,
			    ledger_view *out)
{
	return view_locked(l, counter, strlen(counter), item, strlen(item), plus, out);
}

int ledger_read(ledger *l, const char *counter, const char *item, ledger_view *out)
{
	size_t cl = strlen(counter), il = strlen(item);
	if (cl > COUNTER_MAX || il > ITEM_MAX)
		return ERR_INVAL;
	pthread_mutex_lock(&l->mu);
	int rc = view_locked(l, counter, cl, item, il, 0, out);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void ledger_readthrough_put(ledger *l, const char *counter, const char *item, uint64_t count,
			    uint64_t version, uint64_t applied, uint64_t as_of)
{
	size_t cl = strlen(counter), il = strlen(item);
	if (cl > COUNTER_MAX || il > ITEM_MAX)
		return;
	char key[KEY_MAX];
	size_t kn = ekey_pair(key, counter, cl, item, il);
	pthread_mutex_lock(&l->mu);
	rt_entry *e = rt_find(l, key, kn);
	if (!e || version >= e->version) {
		rt_forget(l, key, kn);
		smap_val *v = smap_put_gen(&l->rt_hot, &l->rt_cold, l->o.rt_entries, key, kn, true, NULL);
		e = xmalloc(sizeof *e);
		*e = (rt_entry){count, version, applied, as_of, clock_mono_ms()};
		v->p = e;
	}
	pthread_mutex_unlock(&l->mu);
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
		memmove(pt->sealed, pt->sealed + ndrop,
			(pt->nsealed - ndrop) * sizeof *pt->sealed);
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
		if (e->edge.n == strlen(l->edge_id) && memcmp(e->edge.p, l->edge_id, e->edge.n) == 0) {
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

void ledger_confirm_finish(ledger *l, uint32_t p, const wire_snapshot *s, ledger_confirm *c)
{
	part *pt = &l->parts[p];
	bool again = s->offset == pt->snap_offset && pt->snap_offset > 0;
	/* Versions carry central's input epoch: in a new one the offsets
	 * below are of another log, and every batch not applied yet may be
	 * lost with the old one. */
	bool new_epoch = pt->snap_offset > 0 &&
			 version_epoch(s->offset) > version_epoch(pt->snap_offset);
	drop_confirmed(l, p, c->ndrop, c->drop);
	pt->applied = c->applied;
	if (s->offset >= pt->snap_offset) {
		pt->snap_offset = s->offset;
		pt->snap_ms = s->produced_ms;
	}
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
	pthread_mutex_lock(&l->mu);
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
	rc = store_write(l->db, l->wb);
	if (rc)
		goto out;
	if (conf.ndrop)
		FAILPOINT("confirm.written"); /* applied batches deleted, memory not yet */
	ledger_cache_counts(l, s, skip, false);
	l->st.snapshots_applied++;
	if (s->offset > pt->snap_seen)
		pt->snap_seen = s->offset;
	if (s->last)
		ledger_confirm_finish(l, p, s, &conf);
out:
	ledger_confirm_free(&conf);
	free(skip);
	pthread_mutex_unlock(&l->mu);
	return rc;
}
