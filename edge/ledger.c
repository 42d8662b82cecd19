/* ledger.c - the edge's durable write path, batches and views (ledger.h).
 *
 * Owns the open batches, the sealed-batch index, the overlay and the
 * count cache; the store handle is borrowed. Every entry point takes the
 * ledger's mutex.
 */
#include "ledger.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hlc.h"
#include "item.h"
#include "log.h"
#include "partition.h"
#include "smap.h"
#include "xmem.h"

#define KEY_MAX (1 + COUNTER_MAX + 1 + ITEM_MAX + 1 + USER_MAX)
#define COUNT_KNOWN (UINT64_C(1) << 63)

enum { SEALED_UNSENT, SEALED_INFLIGHT, SEALED_DELIVERED };

typedef struct pend_op {
	char *counter, *item, *user; /* one allocation, at counter */
	uint8_t kind;
	uint32_t n;
	uint64_t hlc;
	uint64_t opno;
	bool counts; /* moves the overlay (a repeat of the known state does not) */
} pend_op;

typedef struct open_batch {
	pend_op *ops;
	size_t len, cap;
	uint64_t first_ms;
	uint64_t bytes;
} open_batch;

typedef struct sealed {
	uint64_t seq;
	uint32_t len;
	uint8_t state;
	bool resend; /* sent before (or maybe, before a restart) */
	int64_t offset;
} sealed;

typedef struct part {
	open_batch open;
	uint64_t next_opno;
	uint64_t last_seq;
	sealed *sealed;
	size_t nsealed, capsealed;
	uint64_t applied;
	uint64_t snap_offset;
	uint64_t snap_ms;
} part;

typedef struct overlay_entry {
	int64_t delta;
	uint64_t nops;
} overlay_entry;

struct ledger {
	pthread_mutex_t mu;
	store *db;
	char *edge_id, *region;
	ledger_opts o;
	part *parts;
	smap overlay;          /* counter 0 item -> overlay_entry* */
	smap cache_hot, cache_cold; /* counter 0 item -> count | COUNT_KNOWN, or 0 */
	hlc clock;
	store_batch *wb;
	ledger_stats st;
};

/* --- keys and encodings --------------------------------------------------- */

static size_t key_join(char *k, char tag, const char *a, const char *b, const char *c)
{
	size_t n = 0, l;
	k[n++] = tag;
	l = strlen(a);
	memcpy(k + n, a, l);
	n += l;
	k[n++] = 0;
	l = strlen(b);
	memcpy(k + n, b, l);
	n += l;
	if (c) {
		k[n++] = 0;
		l = strlen(c);
		memcpy(k + n, c, l);
		n += l;
	}
	return n;
}

static size_t key_part(char *k, char tag, uint32_t p)
{
	k[0] = tag;
	store_put_u32((unsigned char *)k + 1, p);
	return 5;
}

static size_t key_part_seq(char *k, char tag, uint32_t p, uint64_t seq)
{
	key_part(k, tag, p);
	store_put_u64((unsigned char *)k + 5, seq);
	return 13;
}

/* A pending op: [kind u8][n u32][hlc u64][counts u8]
 *               [clen u8][counter][ilen u8][item][ulen u8][user] */
static size_t op_encode(const pend_op *op, unsigned char *buf)
{
	size_t n = 0;
	buf[n++] = op->kind;
	store_put_u32(buf + n, op->n);
	n += 4;
	store_put_u64(buf + n, op->hlc);
	n += 8;
	buf[n++] = op->counts ? 1 : 0;
	const char *s[3] = {op->counter, op->item, op->user};
	for (int i = 0; i < 3; i++) {
		size_t l = strlen(s[i]);
		buf[n++] = (unsigned char)l;
		memcpy(buf + n, s[i], l);
		n += l;
	}
	return n;
}

static pend_op op_make(const char *counter, const char *item, const char *user, size_t cl,
		       size_t il, size_t ul)
{
	pend_op op = {0};
	op.counter = xmalloc(cl + il + ul + 3);
	memcpy(op.counter, counter, cl);
	op.counter[cl] = 0;
	op.item = op.counter + cl + 1;
	memcpy(op.item, item, il);
	op.item[il] = 0;
	op.user = op.item + il + 1;
	memcpy(op.user, user, ul);
	op.user[ul] = 0;
	return op;
}

static int op_decode(const unsigned char *buf, size_t len, pend_op *op)
{
	if (len < 15 || buf[13] > 1)
		return ERR_CORRUPT;
	size_t n = 14, l[3];
	const unsigned char *s[3];
	for (int i = 0; i < 3; i++) {
		if (n >= len)
			return ERR_CORRUPT;
		l[i] = buf[n++];
		if (n + l[i] > len || l[i] == 0)
			return ERR_CORRUPT;
		s[i] = buf + n;
		n += l[i];
	}
	if (n != len || (buf[0] != WIRE_ADD && buf[0] != WIRE_REMOVE))
		return ERR_CORRUPT;
	*op = op_make((const char *)s[0], (const char *)s[1], (const char *)s[2], l[0], l[1], l[2]);
	op->kind = buf[0];
	op->n = store_get_u32(buf + 1);
	op->hlc = store_get_u64(buf + 5);
	op->counts = buf[13] == 1;
	return 0;
}

static uint32_t part_of(const ledger *l, const char *item)
{
	return partition_of(item, strlen(item), l->o.partitions);
}

/* --- overlay and cache ---------------------------------------------------- */

/* "counter 0 item": the overlay's and the cache's key, and, after a 'C',
 * the store's snapshot-count key. The caller checks the lengths. */
static size_t pair_key(char *k, const char *counter, size_t cl, const char *item, size_t il)
{
	memcpy(k, counter, cl);
	k[cl] = 0;
	memcpy(k + cl + 1, item, il);
	return cl + 1 + il;
}

static void overlay_add(ledger *l, const char *counter, size_t cl, const char *item, size_t il,
			int64_t delta)
{
	char key[KEY_MAX];
	size_t kn = pair_key(key, counter, cl, item, il);
	bool created;
	smap_val *v = smap_put(&l->overlay, key, kn, &created);
	if (created)
		v->p = xcalloc(1, sizeof(overlay_entry));
	overlay_entry *e = v->p;
	e->delta += delta;
	e->nops++;
}

static void overlay_remove(ledger *l, const char *counter, size_t cl, const char *item, size_t il,
			   int64_t delta)
{
	char key[KEY_MAX];
	size_t kn = pair_key(key, counter, cl, item, il);
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

static int64_t op_delta(uint8_t kind, uint32_t n, bool counts)
{
	if (!counts)
		return 0;
	return kind == WIRE_ADD ? (int64_t)n : -(int64_t)n;
}

/* The 'D' record of (p, seq): which ops move the overlay. A missing or
 * short record (older store) counts every op. */
static char *read_flags(ledger *l, uint32_t p, uint64_t seq, uint32_t nops)
{
	char key[13];
	char *buf;
	size_t len;
	if (store_get(l->db, key, key_part_seq(key, 'D', p, seq), &buf, &len))
		return NULL;
	if (len != nops) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void cache_set(ledger *l, const char *key, size_t kn, uint64_t val)
{
	smap_val *v = smap_get(&l->cache_hot, key, kn);
	if (!v) {
		if (l->cache_hot.len >= l->o.cache_entries / 2 + 1) {
			/* Two generations: the cold one is dropped whole, so
			 * the cache never holds more than cache_entries. */
			smap_free(&l->cache_cold);
			l->cache_cold = l->cache_hot;
			smap_init(&l->cache_hot);
		}
		v = smap_put(&l->cache_hot, key, kn, NULL);
	}
	v->u = val;
}

/* The snapshot count of key ("counter 0 item"); *known false when the
 * edge has never received one. */
static int snapshot_count(ledger *l, const char *key, size_t kn, uint64_t *count, bool *known)
{
	smap_val *v = smap_get(&l->cache_hot, key, kn);
	if (!v) {
		v = smap_get(&l->cache_cold, key, kn);
		if (v)
			cache_set(l, key, kn, v->u);
	}
	uint64_t val;
	if (v) {
		val = v->u;
	} else {
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

static int count_locked(ledger *l, const char *counter, const char *item, uint64_t *count,
			uint64_t *version)
{
	char key[KEY_MAX];
	size_t kn = key_join(key, 'C', counter, item, NULL);
	uint64_t base;
	bool known;
	int rc = snapshot_count(l, key + 1, kn - 1, &base, &known);
	if (rc)
		return rc;
	int64_t delta = 0;
	smap_val *v = smap_get(&l->overlay, key + 1, kn - 1);
	if (v)
		delta = ((overlay_entry *)v->p)->delta;
	int64_t c = (int64_t)base + delta;
	*count = c < 0 ? 0 : (uint64_t)c;
	*version = l->parts[part_of(l, item)].snap_offset;
	return 0;
}

/* --- sealing and sending -------------------------------------------------- */

static void sealed_push(part *pt, uint64_t seq, uint32_t len)
{
	if (pt->nsealed == pt->capsealed) {
		pt->capsealed = pt->capsealed ? pt->capsealed * 2 : 16;
		pt->sealed = xrealloc(pt->sealed, pt->capsealed * sizeof *pt->sealed);
	}
	pt->sealed[pt->nsealed++] = (sealed){.seq = seq, .len = len, .state = SEALED_UNSENT,
					     .offset = -1};
}

static sealed *sealed_find(part *pt, uint64_t seq)
{
	size_t lo = 0, hi = pt->nsealed;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (pt->sealed[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pt->nsealed && pt->sealed[lo].seq == seq ? &pt->sealed[lo] : NULL;
}

static int send_one(ledger *l, uint32_t p, sealed *s, const void *buf, size_t len)
{
	int rc = l->o.send(l->o.send_ctx, p, s->seq, buf, len);
	if (rc == 0) {
		s->state = SEALED_INFLIGHT;
		if (s->resend)
			l->st.batches_resent++;
		l->st.batches_sent++;
	}
	return rc;
}

/* Sends the partition's unsent batches in sequence order. A batch goes
 * out the first time as soon as it is sealed; a resend only when it lies
 * within the first window_bytes of unapplied data. So when Kafka lost a
 * backlog larger than it keeps (central down for long), the resends drain
 * at central's pace instead of overflowing the broker again and again. */
static void pump_part(ledger *l, uint32_t p)
{
	part *pt = &l->parts[p];
	uint64_t window = 0;
	for (size_t i = 0; i < pt->nsealed; i++) {
		sealed *s = &pt->sealed[i];
		window += s->len;
		if (s->state != SEALED_UNSENT)
			continue;
		if (s->resend && i > 0 && window > l->o.window_bytes)
			return;
		char key[13];
		char *buf;
		size_t len;
		int rc = store_get(l->db, key, key_part_seq(key, 'B', p, s->seq), &buf, &len);
		if (rc) {
			log_error("sealed batch unreadable", "partition=%u seq=%" PRIu64 " err=\"%s\"",
				  p, s->seq, err_str(rc));
			return;
		}
		rc = send_one(l, p, s, buf, len);
		free(buf);
		if (rc)
			return;
	}
}

static void pend_free(open_batch *ob)
{
	for (size_t i = 0; i < ob->len; i++)
		free(ob->ops[i].counter);
	ob->len = 0;
	ob->bytes = 0;
}

static int seal(ledger *l, uint32_t p, uint64_t wall_ms)
{
	part *pt = &l->parts[p];
	open_batch *ob = &pt->open;
	if (!ob->len)
		return 0;
	wire_batch b = {
		.edge = wire_cstr(l->edge_id, strlen(l->edge_id)),
		.region = wire_cstr(l->region, strlen(l->region)),
		.partition = p,
		.seq = pt->last_seq + 1,
		.created_ms = wall_ms,
		.nops = (uint32_t)ob->len,
	};
	b.ops = xcalloc(ob->len, sizeof *b.ops);
	for (size_t i = 0; i < ob->len; i++) {
		pend_op *op = &ob->ops[i];
		b.ops[i] = (wire_op){wire_cstr(op->counter, strlen(op->counter)),
				     wire_cstr(op->item, strlen(op->item)),
				     wire_cstr(op->user, strlen(op->user)), op->kind, op->n, op->hlc};
	}
	char *buf;
	size_t len;
	int rc = wire_encode_batch(&b, &buf, &len);
	free(b.ops);
	if (rc) {
		log_error("batch encoding failed", "partition=%u err=\"%s\"", p, err_str(rc));
		return rc;
	}
	char key[13];
	unsigned char v[8];
	char *flags = xmalloc(ob->len);
	for (size_t i = 0; i < ob->len; i++)
		flags[i] = ob->ops[i].counts ? 1 : 0;
	store_batch_clear(l->wb);
	store_batch_put(l->wb, key, key_part_seq(key, 'B', p, b.seq), buf, len);
	store_batch_put(l->wb, key, key_part_seq(key, 'D', p, b.seq), flags, ob->len);
	free(flags);
	store_put_u64(v, b.seq);
	store_batch_put(l->wb, key, key_part(key, 'S', p), v, 8);
	for (size_t i = 0; i < ob->len; i++)
		store_batch_del(l->wb, key, key_part_seq(key, 'O', p, ob->ops[i].opno));
	rc = store_write(l->db, l->wb);
	if (rc) {
		free(buf);
		return rc;
	}
	pt->last_seq = b.seq;
	sealed_push(pt, b.seq, (uint32_t)len);
	l->st.pending_bytes = l->st.pending_bytes - ob->bytes + len;
	l->st.pending_ops -= ob->len;
	l->st.pending_batches++;
	l->st.batches_sealed++;
	pend_free(ob);
	free(buf);
	pump_part(l, p);
	return 0;
}

/* --- public --------------------------------------------------------------- */

static int load(ledger *l, char *err, size_t errlen)
{
	const char *k, *v;
	size_t kn, vn;
	char key[16];
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		part *pt = &l->parts[p];
		char *buf;
		size_t len;
		int rc = store_get(l->db, key, key_part(key, 'A', p), &buf, &len);
		if (rc == 0) {
			if (len == 24) {
				pt->applied = store_get_u64((unsigned char *)buf);
				pt->snap_offset = store_get_u64((unsigned char *)buf + 8);
				pt->snap_ms = store_get_u64((unsigned char *)buf + 16);
			}
			free(buf);
		} else if (rc != ERR_NOTFOUND) {
			snprintf(err, errlen, "reading applied state: %s", err_str(rc));
			return rc;
		}
		/* A sequence read wrong would reuse numbers central has
		 * applied already: refuse to start rather than guess. */
		rc = store_read_u64(l->db, key, key_part(key, 'S', p), &pt->last_seq);
		if (rc && rc != ERR_NOTFOUND) {
			snprintf(err, errlen, "reading sequences: %s", err_str(rc));
			return rc;
		}
	}
	store_iter *it = store_iter_new(l->db, "B", 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		if (kn != 13)
			continue;
		uint32_t p = store_get_u32((const unsigned char *)k + 1);
		uint64_t seq = store_get_u64((const unsigned char *)k + 5);
		if (p >= l->o.partitions || seq <= l->parts[p].applied)
			continue; /* confirmed; removed with the next snapshot */
		wire_batch b;
		if (wire_decode_batch(v, vn, &b)) {
			log_error("stored batch does not decode; it stays on disk",
				  "partition=%u seq=%" PRIu64, p, seq);
			continue;
		}
		char *flags = read_flags(l, p, seq, b.nops);
		for (uint32_t i = 0; i < b.nops; i++)
			overlay_add(l, b.ops[i].counter.p, b.ops[i].counter.n, b.ops[i].item.p,
				    b.ops[i].item.n,
				    op_delta(b.ops[i].kind, b.ops[i].n, !flags || flags[i]));
		free(flags);
		for (uint32_t i = 0; i < b.nops; i++)
			if (b.ops[i].hlc > l->clock.last)
				l->clock.last = b.ops[i].hlc;
		wire_batch_free(&b);
		sealed_push(&l->parts[p], seq, (uint32_t)vn);
		l->parts[p].sealed[l->parts[p].nsealed - 1].resend = true;
		l->st.pending_bytes += vn;
		l->st.pending_batches++;
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc) {
		snprintf(err, errlen, "reading sealed batches: %s", err_str(rc));
		return rc;
	}
	uint64_t now = clock_wall_ms();
	it = store_iter_new(l->db, "O", 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		if (kn != 13)
			continue;
		uint32_t p = store_get_u32((const unsigned char *)k + 1);
		pend_op op;
		if (p >= l->o.partitions || op_decode((const unsigned char *)v, vn, &op)) {
			log_error("pending op does not decode; it stays on disk", "%s", "");
			continue;
		}
		op.opno = store_get_u64((const unsigned char *)k + 5);
		part *pt = &l->parts[p];
		open_batch *ob = &pt->open;
		if (ob->len == ob->cap) {
			ob->cap = ob->cap ? ob->cap * 2 : 64;
			ob->ops = xrealloc(ob->ops, ob->cap * sizeof *ob->ops);
		}
		ob->ops[ob->len++] = op;
		ob->bytes += vn;
		if (!ob->first_ms)
			ob->first_ms = now;
		if (op.opno >= pt->next_opno)
			pt->next_opno = op.opno + 1;
		if (op.hlc > l->clock.last)
			l->clock.last = op.hlc;
		overlay_add(l, op.counter, strlen(op.counter), op.item, strlen(op.item),
			    op_delta(op.kind, op.n, op.counts));
		l->st.pending_bytes += vn;
		l->st.pending_ops++;
	}
	rc = store_iter_status(it);
	store_iter_free(it);
	if (rc) {
		snprintf(err, errlen, "reading pending ops: %s", err_str(rc));
		return rc;
	}
	return 0;
}

ledger *ledger_open(store *db, const ledger_opts *o, char *err, size_t errlen)
{
	if (!o->partitions || o->partitions > PARTITION_MAX || !o->seal_ops || !o->send ||
	    !o->window_bytes) {
		snprintf(err, errlen, "ledger options out of range");
		return NULL;
	}
	ledger *l = xcalloc(1, sizeof *l);
	pthread_mutex_init(&l->mu, NULL);
	l->db = db;
	l->o = *o;
	l->edge_id = xstrdup(o->edge_id);
	l->region = xstrdup(o->region);
	l->o.edge_id = l->edge_id;
	l->o.region = l->region;
	if (!l->o.cache_entries)
		l->o.cache_entries = 2;
	l->parts = xcalloc(o->partitions, sizeof *l->parts);
	smap_init(&l->overlay);
	smap_init(&l->cache_hot);
	smap_init(&l->cache_cold);
	hlc_init(&l->clock);
	l->wb = store_batch_new();
	if (load(l, err, errlen)) {
		ledger_free(l);
		return NULL;
	}
	log_info("ledger loaded",
		 "edge=%s pending_batches=%" PRIu64 " pending_ops=%" PRIu64
		 " pending_bytes=%" PRIu64,
		 l->edge_id, l->st.pending_batches, l->st.pending_ops, l->st.pending_bytes);
	return l;
}

void ledger_free(ledger *l)
{
	if (!l)
		return;
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		pend_free(&l->parts[p].open);
		free(l->parts[p].open.ops);
		free(l->parts[p].sealed);
	}
	free(l->parts);
	size_t pos = 0;
	const char *k;
	size_t kn;
	smap_val *v;
	while (smap_next(&l->overlay, &pos, &k, &kn, &v))
		free(v->p);
	smap_free(&l->overlay);
	smap_free(&l->cache_hot);
	smap_free(&l->cache_cold);
	store_batch_free(l->wb);
	pthread_mutex_destroy(&l->mu);
	free(l->edge_id);
	free(l->region);
	free(l);
}

static int member_locked(ledger *l, const char *mkey, size_t kn, int *state, uint64_t *stamp)
{
	char *buf;
	size_t len;
	int rc = store_get(l->db, mkey, kn, &buf, &len);
	*state = -1;
	*stamp = 0;
	if (rc == ERR_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (len == 9 && (buf[0] == 0 || buf[0] == 1)) {
		*state = buf[0];
		*stamp = store_get_u64((unsigned char *)buf + 1);
	}
	free(buf);
	return 0;
}

int ledger_write(ledger *l, const char *counter, const char *item, const char *user, bool add,
		 uint64_t wall_ms, ledger_answer *a)
{
	size_t cl = strlen(counter), il = strlen(item), ul = strlen(user);
	if (!cl || cl > COUNTER_MAX || !il || il > ITEM_MAX || !ul || ul > USER_MAX)
		return ERR_INVAL;
	char mkey[KEY_MAX];
	size_t mkn = key_join(mkey, 'M', counter, item, user);
	memset(a, 0, sizeof *a);
	pthread_mutex_lock(&l->mu);
	int state;
	uint64_t prev_hlc;
	int rc = member_locked(l, mkey, mkn, &state, &prev_hlc);
	if (rc)
		goto out;
	/* A repeat of the state known here is still sent, because that state
	 * may be stale: the user may have changed it at another region since.
	 * It does not move this edge's count, and answers changed=false.
	 * Central's last-writer-wins makes the extra op harmless. */
	bool repeat = state == (add ? 1 : 0);
	if (l->st.pending_bytes >= l->o.budget_bytes) {
		l->st.ops_refused_budget++;
		rc = ERR_FULL;
		goto out;
	}
	uint32_t p = part_of(l, item);
	part *pt = &l->parts[p];
	pend_op op = op_make(counter, item, user, cl, il, ul);
	op.kind = add ? WIRE_ADD : WIRE_REMOVE;
	op.n = 1;
	/* Per pair, a later op at this edge always carries a later clock, even
	 * if the wall clock stepped back since the previous one. */
	op.hlc = prev_hlc ? hlc_observe(&l->clock, prev_hlc, wall_ms) : hlc_now(&l->clock, wall_ms);
	op.opno = pt->next_opno;
	op.counts = !repeat;

	unsigned char opbuf[32 + KEY_MAX], mval[9];
	size_t opn = op_encode(&op, opbuf);
	mval[0] = add ? 1 : 0;
	store_put_u64(mval + 1, op.hlc);
	char okey[13];
	store_batch_clear(l->wb);
	store_batch_put(l->wb, mkey, mkn, mval, 9);
	store_batch_put(l->wb, okey, key_part_seq(okey, 'O', p, op.opno), opbuf, opn);
	rc = store_write(l->db, l->wb);
	if (rc) {
		free(op.counter);
		goto out;
	}
	pt->next_opno++;
	open_batch *ob = &pt->open;
	if (ob->len == ob->cap) {
		ob->cap = ob->cap ? ob->cap * 2 : 64;
		ob->ops = xrealloc(ob->ops, ob->cap * sizeof *ob->ops);
	}
	if (!ob->len)
		ob->first_ms = wall_ms;
	ob->ops[ob->len++] = op;
	ob->bytes += opn;
	l->st.pending_bytes += opn;
	l->st.pending_ops++;
	if (repeat)
		l->st.ops_duplicate++;
	else
		l->st.ops_accepted++;
	overlay_add(l, counter, cl, item, il, op_delta(op.kind, op.n, op.counts));
	a->member = add;
	a->changed = !repeat;
	a->hlc = op.hlc;
	if (ob->len >= l->o.seal_ops) {
		int src = seal(l, p, wall_ms);
		if (src)
			log_error("sealing failed; the ops stay pending", "partition=%u err=\"%s\"",
				  p, err_str(src));
	}
	rc = count_locked(l, counter, item, &a->count, &a->version);
out:
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int ledger_count(ledger *l, const char *counter, const char *item, uint64_t *count,
		 uint64_t *version)
{
	pthread_mutex_lock(&l->mu);
	int rc = count_locked(l, counter, item, count, version);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int ledger_member(ledger *l, const char *counter, const char *item, const char *user, int *state)
{
	char mkey[KEY_MAX];
	if (strlen(counter) > COUNTER_MAX || strlen(item) > ITEM_MAX || strlen(user) > USER_MAX)
		return ERR_INVAL;
	size_t mkn = key_join(mkey, 'M', counter, item, user);
	uint64_t stamp;
	pthread_mutex_lock(&l->mu);
	int rc = member_locked(l, mkey, mkn, state, &stamp);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

int ledger_seal_due(ledger *l, uint64_t wall_ms, bool force)
{
	int rc = 0;
	pthread_mutex_lock(&l->mu);
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		open_batch *ob = &l->parts[p].open;
		if (!ob->len)
			continue;
		if (force || wall_ms >= ob->first_ms + l->o.seal_age_ms ||
		    wall_ms + 60000 < ob->first_ms /* wall clock stepped back */) {
			int r = seal(l, p, wall_ms);
			if (r && !rc)
				rc = r;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void ledger_pump(ledger *l)
{
	pthread_mutex_lock(&l->mu);
	for (uint32_t p = 0; p < l->o.partitions; p++)
		pump_part(l, p);
	pthread_mutex_unlock(&l->mu);
}

void ledger_delivered(ledger *l, uint32_t partition, uint64_t seq, int64_t offset)
{
	if (partition >= l->o.partitions)
		return;
	pthread_mutex_lock(&l->mu);
	sealed *s = sealed_find(&l->parts[partition], seq);
	if (s && s->state == SEALED_INFLIGHT) {
		s->state = offset >= 0 ? SEALED_DELIVERED : SEALED_UNSENT;
		s->offset = offset;
	}
	pthread_mutex_unlock(&l->mu);
}

int ledger_snapshot_resume(ledger *l, uint32_t p, int64_t *offset)
{
	char key[8];
	uint64_t off;
	int rc = store_read_u64(l->db, key, key_part(key, 'K', p), &off);
	if (rc == 0)
		*offset = (int64_t)off;
	return rc;
}

int ledger_snapshot_reset(ledger *l, uint32_t p, int64_t offset)
{
	char key[8];
	unsigned char val[8];
	store_put_u64(val, (uint64_t)offset);
	pthread_mutex_lock(&l->mu);
	store_batch_clear(l->wb);
	store_batch_put(l->wb, key, key_part(key, 'K', p), val, 8);
	int rc = store_write(l->db, l->wb);
	pthread_mutex_unlock(&l->mu);
	return rc;
}

/* Drops confirmed batches [0, ndrop) of pt from memory and the overlay. */
static void drop_confirmed(ledger *l, uint32_t p, size_t ndrop, char **bufs, size_t *lens)
{
	part *pt = &l->parts[p];
	for (size_t i = 0; i < ndrop; i++) {
		wire_batch b;
		if (bufs[i] && wire_decode_batch(bufs[i], lens[i], &b) == 0) {
			char *flags = read_flags(l, p, pt->sealed[i].seq, b.nops);
			for (uint32_t j = 0; j < b.nops; j++)
				overlay_remove(l, b.ops[j].counter.p, b.ops[j].counter.n,
					       b.ops[j].item.p, b.ops[j].item.n,
					       op_delta(b.ops[j].kind, b.ops[j].n,
							!flags || flags[j]));
			free(flags);
			wire_batch_free(&b);
		}
		l->st.pending_bytes -= pt->sealed[i].len;
		l->st.pending_batches--;
		l->st.batches_applied++;
	}
	memmove(pt->sealed, pt->sealed + ndrop, (pt->nsealed - ndrop) * sizeof *pt->sealed);
	pt->nsealed -= ndrop;
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
	store_batch_put(l->wb, key, key_part(key, 'K', p), val, 8);
	if (s->offset < pt->snap_offset) {
		/* From a replica that is behind: what we have is newer. */
		l->st.snapshots_stale++;
		rc = store_write(l->db, l->wb);
		goto out;
	}
	for (uint32_t i = 0; i < s->ncounts; i++) {
		const wire_count *c = &s->counts[i];
		if (c->counter.n > COUNTER_MAX || c->item.n > ITEM_MAX)
			continue;
		key[0] = 'C';
		size_t kn = 1 + pair_key(key + 1, c->counter.p, c->counter.n, c->item.p, c->item.n);
		store_put_u64(val, c->count);
		store_put_u64(val + 8, s->offset);
		store_batch_put(l->wb, key, kn, val, 16);
	}
	uint64_t applied = pt->applied, held = 0;
	size_t ndrop = 0;
	char **bufs = NULL;
	size_t *lens = NULL;
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
		bufs = xcalloc(ndrop + 1, sizeof *bufs);
		lens = xcalloc(ndrop + 1, sizeof *lens);
		for (size_t i = 0; i < ndrop; i++) {
			size_t bk = key_part_seq(key, 'B', p, pt->sealed[i].seq);
			if (store_get(l->db, key, bk, &bufs[i], &lens[i]))
				bufs[i] = NULL;
			store_batch_del(l->wb, key, bk);
			key[0] = 'D';
			store_batch_del(l->wb, key, bk);
		}
		store_put_u64(val, applied);
		store_put_u64(val + 8, s->offset);
		store_put_u64(val + 16, s->produced_ms);
		store_batch_put(l->wb, key, key_part(key, 'A', p), val, 24);
	}
	rc = store_write(l->db, l->wb);
	if (rc)
		goto done;
	for (uint32_t i = 0; i < s->ncounts; i++) {
		const wire_count *c = &s->counts[i];
		if (c->counter.n > COUNTER_MAX || c->item.n > ITEM_MAX)
			continue;
		cache_set(l, key, pair_key(key, c->counter.p, c->counter.n, c->item.p, c->item.n),
			  c->count | COUNT_KNOWN);
	}
	l->st.snapshots_applied++;
	if (!s->last)
		goto done;
	drop_confirmed(l, p, ndrop, bufs, lens);
	pt->applied = applied;
	pt->snap_offset = s->offset;
	pt->snap_ms = s->produced_ms;
	/* Central read past a batch without applying it (dropped by the
	 * broker, or held behind a gap): send it again. */
	for (size_t i = 0; i < pt->nsealed; i++) {
		sealed *b = &pt->sealed[i];
		if (b->state != SEALED_DELIVERED)
			continue;
		if ((uint64_t)b->offset < s->offset || (held && b->seq < held)) {
			b->state = SEALED_UNSENT;
			b->resend = true;
			log_info("batch resent: central passed it without applying it",
				 "partition=%u seq=%" PRIu64 " offset=%" PRId64
				 " snapshot_offset=%" PRIu64 " applied=%" PRIu64,
				 p, b->seq, b->offset, s->offset, applied);
		}
	}
	pump_part(l, p);
done:
	if (bufs)
		for (size_t i = 0; i < ndrop; i++)
			free(bufs[i]);
	free(bufs);
	free(lens);
out:
	pthread_mutex_unlock(&l->mu);
	return rc;
}

bool ledger_accepting(ledger *l)
{
	pthread_mutex_lock(&l->mu);
	bool ok = l->st.pending_bytes < l->o.budget_bytes;
	pthread_mutex_unlock(&l->mu);
	return ok;
}

void ledger_get_stats(ledger *l, ledger_stats *out)
{
	pthread_mutex_lock(&l->mu);
	*out = l->st;
	pthread_mutex_unlock(&l->mu);
}
