/* apply.c - central's batch applier (see apply.h).
 *
 * Store keys (all binary, big-endian numbers):
 *   'S' counter 0 item 0 user    -> merge state
 *   'C' counter 0 item           -> count u64
 *   'A' edge 0 partition u32     -> applied sequence u64
 *   'H' edge 0 partition seq u64 -> held batch (wire bytes)
 *   'O' partition u32            -> next input offset u64
 * One owner thread.
 */
#include "apply.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "log.h"
#include "merge.h"
#include "xmem.h"

#define KEY_MAX (1 + COUNTER_MAX + 1 + ITEM_MAX + 1 + USER_MAX + 16)

typedef struct edge_seq {
	uint64_t applied;
	uint64_t held_min; /* 0 = nothing held */
	uint64_t held_count;
} edge_seq;

typedef struct part {
	int64_t next_offset; /* -1 until known */
	smap edges;          /* edge id -> edge_seq* */
	smap changed;        /* counter 0 item -> count, since last snapshot */
	smap emitted;        /* what the last snapshot referenced */
	bool dirty;
} part;

struct applier {
	store *db;
	uint32_t nparts;
	part *parts;
	char **counters;
	store_batch *wb;
	smap states; /* per apply: S key -> merge_state* */
	smap counts; /* per apply: C key -> count */
	applier_stats stats;
};

static size_t key_seq(unsigned char *k, char tag, const char *edge, size_t elen, uint32_t p)
{
	k[0] = (unsigned char)tag;
	memcpy(k + 1, edge, elen);
	k[1 + elen] = 0;
	store_put_u32(k + 2 + elen, p);
	return 6 + elen;
}

static size_t key_offset(unsigned char *k, uint32_t p)
{
	k[0] = 'O';
	store_put_u32(k + 1, p);
	return 5;
}

static size_t key_join(unsigned char *k, char tag, const wire_str *a, const wire_str *b,
		       const wire_str *c)
{
	size_t n = 0;
	k[n++] = (unsigned char)tag;
	memcpy(k + n, a->p, a->n);
	n += a->n;
	k[n++] = 0;
	memcpy(k + n, b->p, b->n);
	n += b->n;
	if (c) {
		k[n++] = 0;
		memcpy(k + n, c->p, c->n);
		n += c->n;
	}
	return n;
}

static edge_seq *edge_of(part *pt, const char *edge, size_t elen)
{
	bool created;
	smap_val *v = smap_put(&pt->edges, edge, elen, &created);
	if (created)
		v->p = xcalloc(1, sizeof(edge_seq));
	return v->p;
}

static int load(applier *a)
{
	const char *k, *v;
	size_t kn, vn;
	store_iter *it = store_iter_new(a->db, "A", 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *z = memchr(k + 1, 0, kn - 1);
		if (!z || (size_t)(k + kn - z) != 5 || vn != 8)
			continue;
		uint32_t p = store_get_u32((const unsigned char *)z + 1);
		if (p >= a->nparts)
			continue;
		edge_of(&a->parts[p], k + 1, (size_t)(z - k - 1))->applied =
			store_get_u64((const unsigned char *)v);
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc)
		return rc;
	it = store_iter_new(a->db, "H", 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *z = memchr(k + 1, 0, kn - 1);
		if (!z || (size_t)(k + kn - z) != 13)
			continue;
		uint32_t p = store_get_u32((const unsigned char *)z + 1);
		if (p >= a->nparts)
			continue;
		uint64_t seq = store_get_u64((const unsigned char *)z + 5);
		edge_seq *es = edge_of(&a->parts[p], k + 1, (size_t)(z - k - 1));
		es->held_count++;
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
		rc = store_read_u64(a->db, key, key_offset(key, p), &off);
		if (rc == 0)
			a->parts[p].next_offset = (int64_t)off;
		else if (rc != ERR_NOTFOUND)
			return rc;
	}
	return 0;
}

applier *applier_new(store *db, uint32_t nparts, const char *const *counters, char *err,
		     size_t errlen)
{
	applier *a = xcalloc(1, sizeof *a);
	a->db = db;
	a->nparts = nparts;
	a->parts = xcalloc(nparts, sizeof *a->parts);
	for (uint32_t p = 0; p < nparts; p++) {
		a->parts[p].next_offset = -1;
		smap_init(&a->parts[p].edges);
		smap_init(&a->parts[p].changed);
		smap_init(&a->parts[p].emitted);
	}
	size_t n = 0;
	while (counters[n])
		n++;
	a->counters = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		a->counters[i] = xstrdup(counters[i]);
	a->wb = store_batch_new();
	smap_init(&a->states);
	smap_init(&a->counts);
	int rc = load(a);
	if (rc) {
		snprintf(err, errlen, "loading applied sequences: %s", err_str(rc));
		applier_free(a);
		return NULL;
	}
	return a;
}

static void free_ptr_values(smap *m)
{
	size_t pos = 0;
	const char *k;
	size_t kn;
	smap_val *v;
	while (smap_next(m, &pos, &k, &kn, &v))
		free(v->p);
	smap_free(m);
}

void applier_free(applier *a)
{
	if (!a)
		return;
	for (uint32_t p = 0; p < a->nparts; p++) {
		free_ptr_values(&a->parts[p].edges);
		smap_free(&a->parts[p].changed);
		smap_free(&a->parts[p].emitted);
	}
	free(a->parts);
	for (char **c = a->counters; *c; c++)
		free(*c);
	free(a->counters);
	store_batch_free(a->wb);
	free_ptr_values(&a->states);
	smap_free(&a->counts);
	free(a);
}

int applier_resume_offset(applier *a, uint32_t p, int64_t *offset)
{
	if (p >= a->nparts || a->parts[p].next_offset < 0)
		return ERR_NOTFOUND;
	*offset = a->parts[p].next_offset;
	return 0;
}

static bool counter_known(const applier *a, const wire_str *c)
{
	for (char **n = a->counters; *n; n++)
		if (strlen(*n) == c->n && memcmp(*n, c->p, c->n) == 0)
			return true;
	return false;
}

/* The current state of an S key: from this apply's cache, else the store. */
static int state_of(applier *a, const unsigned char *key, size_t kn, merge_state **st, bool *known)
{
	bool created;
	smap_val *v = smap_put(&a->states, key, kn, &created);
	if (!created) {
		*st = v->p;
		*known = ((merge_state *)v->p)->edge_len > 0;
		return 0;
	}
	merge_state *s = xcalloc(1, sizeof *s);
	v->p = s;
	*st = s;
	*known = false;
	char *val;
	size_t vlen;
	int rc = store_get(a->db, key, kn, &val, &vlen);
	if (rc == ERR_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	rc = merge_state_decode(val, vlen, s);
	free(val);
	if (rc) {
		log_error("corrupt membership state in store; treating as unseen", "%s", "");
		memset(s, 0, sizeof *s);
		return 0;
	}
	*known = true;
	return 0;
}

static int count_of(applier *a, const unsigned char *key, size_t kn, uint64_t **count)
{
	bool created;
	smap_val *v = smap_put(&a->counts, key, kn, &created);
	*count = &v->u;
	if (!created)
		return 0;
	int rc = store_read_u64(a->db, key, kn, &v->u);
	if (rc == ERR_NOTFOUND || rc == ERR_CORRUPT) {
		v->u = 0; /* logged by store_read_u64; the count restarts at 0 */
		return 0;
	}
	return rc;
}

static int apply_ops(applier *a, const wire_batch *b)
{
	unsigned char key[KEY_MAX];
	for (uint32_t i = 0; i < b->nops; i++) {
		const wire_op *op = &b->ops[i];
		if (!counter_known(a, &op->counter) || !item_valid(op->item.p, op->item.n) ||
		    !item_user_valid(op->user.p, op->user.n) || op->n != 1) {
			a->stats.ops_bad++;
			log_warn("op refused", "edge=%.*s partition=%u seq=%" PRIu64 " index=%u",
				 (int)b->edge.n, b->edge.p, b->partition, b->seq, i);
			continue;
		}
		size_t kn = key_join(key, 'S', &op->counter, &op->item, &op->user);
		merge_state *st;
		bool known, changed;
		int rc = state_of(a, key, kn, &st, &known);
		if (rc)
			return rc;
		int delta = merge_apply(st, known, op->kind == WIRE_ADD, op->hlc, b->edge.p,
					b->edge.n, &changed);
		a->stats.ops_applied++;
		if (!changed)
			continue;
		if (delta) {
			uint64_t *count;
			kn = key_join(key, 'C', &op->counter, &op->item, NULL);
			rc = count_of(a, key, kn, &count);
			if (rc)
				return rc;
			if (delta < 0 && *count == 0)
				log_error("count would go negative; state and count disagree",
					  "item=%.*s", (int)op->item.n, op->item.p);
			else
				*count = (uint64_t)((int64_t)*count + delta);
		}
	}
	return 0;
}

static void flush_cache(applier *a, part *pt)
{
	size_t pos = 0;
	const char *k;
	size_t kn;
	smap_val *v;
	unsigned char buf[MERGE_STATE_MAX];
	while (smap_next(&a->states, &pos, &k, &kn, &v)) {
		merge_state *st = v->p;
		if (st->edge_len)
			store_batch_put(a->wb, k, kn, buf, merge_state_encode(st, buf));
		free(st);
	}
	smap_clear(&a->states);
	pos = 0;
	while (smap_next(&a->counts, &pos, &k, &kn, &v)) {
		unsigned char c[8];
		store_put_u64(c, v->u);
		store_batch_put(a->wb, k, kn, c, 8);
		smap_put(&pt->changed, k + 1, kn - 1, NULL)->u = v->u;
		pt->dirty = true;
	}
	smap_clear(&a->counts);
}

static void drop_cache(applier *a)
{
	size_t pos = 0;
	const char *k;
	size_t kn;
	smap_val *v;
	while (smap_next(&a->states, &pos, &k, &kn, &v))
		free(v->p);
	smap_clear(&a->states);
	smap_clear(&a->counts);
}

static int next_held(applier *a, const wire_str *edge, uint32_t p, edge_seq *es)
{
	unsigned char pre[1 + EDGE_ID_MAX + 5];
	size_t pn = key_seq(pre, 'H', edge->p, edge->n, p);
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

int applier_apply(applier *a, uint32_t p, int64_t offset, const void *msg, size_t len)
{
	if (p >= a->nparts)
		return ERR_INVAL;
	part *pt = &a->parts[p];
	store_batch_clear(a->wb);
	unsigned char okey[8], oval[8];
	store_put_u64(oval, (uint64_t)offset + 1);
	store_batch_put(a->wb, okey, key_offset(okey, p), oval, 8);

	wire_batch b;
	int rc = wire_decode_batch(msg, len, &b);
	if (rc) {
		a->stats.batches_bad++;
		log_error("undecodable batch skipped", "partition=%u offset=%" PRId64 " err=\"%s\"",
			  p, offset, err_str(rc));
		goto write;
	}
	if (b.partition != p || !item_edge_valid(b.edge.p, b.edge.n) || b.seq == 0) {
		a->stats.batches_bad++;
		log_error("batch with bad header skipped",
			  "partition=%u offset=%" PRId64 " batch_partition=%u seq=%" PRIu64, p,
			  offset, b.partition, b.seq);
		wire_batch_free(&b);
		goto write;
	}
	edge_seq *es = edge_of(pt, b.edge.p, b.edge.n);
	unsigned char skey[1 + EDGE_ID_MAX + 5 + 8];
	size_t sn = key_seq(skey, 'A', b.edge.p, b.edge.n, p);
	if (b.seq <= es->applied) {
		a->stats.batches_duplicate++;
	} else if (b.seq > es->applied + 1) {
		skey[0] = 'H';
		store_put_u64(skey + sn, b.seq);
		char *old;
		size_t oldn;
		rc = store_get(a->db, skey, sn + 8, &old, &oldn);
		if (rc == 0)
			free(old);
		else if (rc != ERR_NOTFOUND) {
			wire_batch_free(&b);
			return rc;
		} else
			es->held_count++;
		store_batch_put(a->wb, skey, sn + 8, msg, len);
		a->stats.batches_held++;
		if (!es->held_min || b.seq < es->held_min)
			es->held_min = b.seq;
		pt->dirty = true;
		log_warn("batch held after a gap",
			 "edge=%.*s partition=%u seq=%" PRIu64 " applied=%" PRIu64, (int)b.edge.n,
			 b.edge.p, p, b.seq, es->applied);
	} else {
		rc = apply_ops(a, &b);
		uint64_t applied = b.seq;
		uint64_t held_used = 0;
		while (rc == 0 && es->held_count > held_used) {
			unsigned char hkey[sizeof skey];
			memcpy(hkey, skey, sn);
			hkey[0] = 'H';
			store_put_u64(hkey + sn, applied + 1);
			char *hv;
			size_t hn;
			rc = store_get(a->db, hkey, sn + 8, &hv, &hn);
			if (rc == ERR_NOTFOUND) {
				rc = 0;
				break;
			}
			if (rc)
				break;
			wire_batch hb;
			if (wire_decode_batch(hv, hn, &hb) == 0) {
				rc = apply_ops(a, &hb);
				wire_batch_free(&hb);
			} else {
				a->stats.batches_bad++;
				log_error("held batch no longer decodes; skipped",
					  "partition=%u seq=%" PRIu64, p, applied + 1);
			}
			free(hv);
			store_batch_del(a->wb, hkey, sn + 8);
			applied++;
			held_used++;
			a->stats.batches_applied++;
		}
		if (rc) {
			drop_cache(a);
			wire_batch_free(&b);
			return rc;
		}
		a->stats.batches_applied++;
		es->applied = applied;
		es->held_count -= held_used;
		if (held_used)
			log_info("gap filled; held batches applied",
				 "edge=%.*s partition=%u applied=%" PRIu64, (int)b.edge.n,
				 b.edge.p, p, applied);
		unsigned char aval[8];
		store_put_u64(aval, applied);
		store_batch_put(a->wb, skey, sn, aval, 8);
		flush_cache(a, pt);
		pt->dirty = true;
		if (es->held_count) {
			rc = next_held(a, &b.edge, p, es);
			if (rc) {
				wire_batch_free(&b);
				return rc;
			}
		} else {
			es->held_min = 0;
		}
	}
	wire_batch_free(&b);
write:
	rc = store_write(a->db, a->wb);
	if (rc)
		return rc;
	a->stats.store_writes++;
	pt->next_offset = offset + 1;
	return 0;
}

int applier_reset_offset(applier *a, uint32_t p, int64_t offset)
{
	if (p >= a->nparts)
		return ERR_INVAL;
	unsigned char okey[8], oval[8];
	store_put_u64(oval, (uint64_t)offset);
	store_batch_clear(a->wb);
	store_batch_put(a->wb, okey, key_offset(okey, p), oval, 8);
	int rc = store_write(a->db, a->wb);
	if (rc == 0) {
		a->parts[p].next_offset = offset;
		a->parts[p].dirty = true;
	}
	return rc;
}

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
	s->offset = pt->next_offset < 0 ? 0 : (uint64_t)pt->next_offset;
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
		const char *z = memchr(k, 0, kn);
		s->counts[i].counter = wire_cstr(k, (size_t)(z - k));
		s->counts[i].item = wire_cstr(z + 1, kn - (size_t)(z - k) - 1);
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

int applier_count(applier *a, const char *counter, const char *item, uint64_t *count)
{
	unsigned char key[KEY_MAX];
	wire_str c = wire_cstr(counter, strlen(counter)), it = wire_cstr(item, strlen(item));
	if (c.n > COUNTER_MAX || it.n > ITEM_MAX)
		return ERR_INVAL;
	size_t kn = key_join(key, 'C', &c, &it, NULL);
	int rc = store_read_u64(a->db, key, kn, count);
	if (rc == ERR_NOTFOUND || rc == ERR_CORRUPT) {
		*count = 0;
		return 0;
	}
	return rc;
}

const applier_stats *applier_get_stats(const applier *a)
{
	return &a->stats;
}
