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
#include "ledger_int.h"
#include "log.h"
#include "partition.h"
#include "xmem.h"

size_t ledger_pair_key(char *k, const char *counter, size_t cl, const char *item, size_t il)
{
	memcpy(k, counter, cl);
	k[cl] = 0;
	memcpy(k + cl + 1, item, il);
	return cl + 1 + il;
}

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
	size_t kn = ledger_pair_key(key, counter, cl, item, il);
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
	size_t kn = ledger_pair_key(key, counter, cl, item, il);
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

char *ledger_read_flags(ledger *l, uint32_t p, uint64_t seq, uint32_t nops)
{
	char key[13];
	char *buf;
	size_t len;
	if (store_get(l->db, key, ledger_key_part_seq(key, 'D', p, seq), &buf, &len))
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
	if (store_get(l->db, bkey, ledger_key_part_seq(bkey, 'B', p, seq), &buf, &len))
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
	for (uint32_t j = 0; j < b.nops; j++) {
		const wire_op *op = &b.ops[j];
		char ok[KEY_MAX];
		if (op->counter.n > COUNTER_MAX || op->item.n > ITEM_MAX)
			continue;
		size_t okn = ledger_pair_key(ok, op->counter.p, op->counter.n, op->item.p, op->item.n);
		smap_put(&d->items, ok, okn, NULL)->i +=
		    ledger_op_delta(op->kind, op->n, !flags || flags[j]);
	}
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
		char skey[KEY_MAX + 1];
		skey[0] = 'C';
		memcpy(skey + 1, key, kn);
		char *buf;
		size_t blen;
		int rc = store_get(l->db, skey, kn + 1, &buf, &blen);
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
	char skey[KEY_MAX + 1];
	unsigned char val[16];
	skey[0] = 'C';
	memcpy(skey + 1, key, kn);
	store_put_u64(val, e->count);
	store_put_u64(val + 8, pt->snap_offset);
	store_batch_clear(l->wb);
	store_batch_put(l->wb, skey, kn + 1, val, 16);
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
	size_t kn = ledger_pair_key(key, counter, cl, item, il);
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
	out->known = known;
	/* A read-through count is newer than the snapshots until they reach
	 * its version; then they take over. */
	rt_entry *e = rt_find_h(l, key, kn, h);
	if (e && pt->snap_offset >= e->version && pt->snap_offset > 0) {
		if (known) {
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
	size_t kn = ledger_pair_key(key, counter, cl, item, il);
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

/* A confirmed batch as read before its keys are deleted: its wire bytes
 * and its 'D' flags (which ops moved the overlay). NULL when unreadable. */
typedef struct dropped {
	char *batch, *flags;
	size_t len, nflags;
} dropped;

/* Drops confirmed batches [0, ndrop) of pt from memory and the overlay:
 * each op takes out what it put in (nothing for a repeat). */
static void drop_confirmed(ledger *l, uint32_t p, size_t ndrop, const dropped *d)
{
	part *pt = &l->parts[p];
	for (size_t i = 0; i < ndrop; i++) {
		wire_batch b;
		if (d[i].batch && wire_decode_batch(d[i].batch, d[i].len, &b) == 0) {
			const char *flags = d[i].nflags == b.nops ? d[i].flags : NULL;
			for (uint32_t j = 0; j < b.nops; j++)
				ledger_overlay_remove(l, b.ops[j].counter.p, b.ops[j].counter.n,
						      b.ops[j].item.p, b.ops[j].item.n,
						      ledger_op_delta(b.ops[j].kind, b.ops[j].n,
								      !flags || flags[j]));
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

int ledger_apply_snapshot(ledger *l, const wire_snapshot *s, int64_t msg_offset)
{
	if (s->partition >= l->o.partitions)
		return ERR_CORRUPT;
	uint32_t p = s->partition;
	pthread_mutex_lock(&l->mu);
	part *pt = &l->parts[p];
	int rc = 0;
	char key[KEY_MAX + 1];
	unsigned char val[24];
	store_batch_clear(l->wb);
	store_put_u64(val, (uint64_t)msg_offset + 1);
	store_batch_put(l->wb, key, ledger_key_part(key, 'K', p), val, 8);
	/* A shard's primary and replicas each publish every partition's
	 * snapshots, with the same deterministic state at the same input
	 * offset. Per partition the newest wins: a message older than any
	 * applied (whole, or a part of a split one) is stale, even if it
	 * comes later from another instance; one at the same offset carries
	 * the same counts and applied sequences, so applying it again
	 * changes nothing (applied only grows, dropped batches are gone). */
	uint64_t newest = pt->snap_offset > pt->snap_seen ? pt->snap_offset : pt->snap_seen;
	bool again = s->offset == pt->snap_offset && pt->snap_offset > 0;
	if (s->offset < newest) {
		/* From an instance that is behind: what we have is newer. */
		l->st.snapshots_stale++;
		rc = store_write(l->db, l->wb);
		goto out;
	}
	for (uint32_t i = 0; i < s->ncounts; i++) {
		const wire_count *c = &s->counts[i];
		if (c->counter.n > COUNTER_MAX || c->item.n > ITEM_MAX)
			continue;
		key[0] = 'C';
		size_t kn = 1 + ledger_pair_key(key + 1, c->counter.p, c->counter.n, c->item.p, c->item.n);
		store_put_u64(val, c->count);
		store_put_u64(val + 8, s->offset);
		store_batch_put(l->wb, key, kn, val, 16);
	}
	if (s->offset > pt->snap_seen) {
		/* Kept across a restart: without it a part applied before
		 * the restart could be followed by an older snapshot from a
		 * lagging replica, and counts would step back. */
		store_put_u64(val, s->offset);
		store_batch_put(l->wb, key, ledger_key_part(key, 'N', p), val, 8);
	}
	uint64_t applied = pt->applied, held = 0;
	size_t ndrop = 0;
	dropped *drop = NULL;
	if (s->last) {
		for (uint32_t i = 0; i < s->nedges; i++) {
			const wire_edge_seq *e = &s->edges[i];
			if (e->edge.n == strlen(l->edge_id) &&
			    memcmp(e->edge.p, l->edge_id, e->edge.n) == 0) {
				if (e->applied > applied)
					applied = e->applied;
				held = e->held;
			}
		}
		while (ndrop < pt->nsealed && pt->sealed[ndrop].seq <= applied)
			ndrop++;
		/* Read now: the same write deletes them. */
		drop = xcalloc(ndrop + 1, sizeof *drop);
		for (size_t i = 0; i < ndrop; i++) {
			size_t bk = ledger_key_part_seq(key, 'B', p, pt->sealed[i].seq);
			if (store_get(l->db, key, bk, &drop[i].batch, &drop[i].len))
				drop[i].batch = NULL;
			store_batch_del(l->wb, key, bk);
			key[0] = 'D';
			if (store_get(l->db, key, bk, &drop[i].flags, &drop[i].nflags))
				drop[i].flags = NULL;
			store_batch_del(l->wb, key, bk);
		}
		store_put_u64(val, applied);
		store_put_u64(val + 8, s->offset);
		store_put_u64(val + 16, s->produced_ms);
		store_batch_put(l->wb, key, ledger_key_part(key, 'A', p), val, 24);
	}
	rc = store_write(l->db, l->wb);
	if (rc)
		goto done;
	for (uint32_t i = 0; i < s->ncounts; i++) {
		const wire_count *c = &s->counts[i];
		if (c->counter.n > COUNTER_MAX || c->item.n > ITEM_MAX)
			continue;
		cache_set(l, key, ledger_pair_key(key, c->counter.p, c->counter.n, c->item.p, c->item.n),
			  c->count | COUNT_KNOWN);
	}
	l->st.snapshots_applied++;
	if (s->offset > pt->snap_seen)
		pt->snap_seen = s->offset;
	if (!s->last)
		goto done;
	drop_confirmed(l, p, ndrop, drop);
	pt->applied = applied;
	pt->snap_offset = s->offset;
	pt->snap_ms = s->produced_ms;
	/* Central read past a batch without applying it (dropped by the
	 * broker, or held behind a gap): send it again. */
	for (size_t i = 0; i < pt->nsealed; i++) {
		sealed *b = &pt->sealed[i];
		if (b->state != SEALED_DELIVERED)
			continue;
		/* Held behind a gap: resent once per snapshot offset, not
		 * again when another instance reports the same offset (no
		 * new input read there, so the resend is still unread). */
		if ((uint64_t)b->offset < s->offset || (held && b->seq < held && !again)) {
			b->state = SEALED_UNSENT;
			b->resend = true;
			log_info("batch resent: central passed it without applying it",
				 "partition=%u seq=%" PRIu64 " offset=%" PRId64
				 " snapshot_offset=%" PRIu64 " applied=%" PRIu64,
				 p, b->seq, b->offset, s->offset, applied);
		}
	}
	ledger_pump_part(l, p);
done:
	if (drop)
		for (size_t i = 0; i < ndrop; i++) {
			free(drop[i].batch);
			free(drop[i].flags);
		}
	free(drop);
out:
	pthread_mutex_unlock(&l->mu);
	return rc;
}
