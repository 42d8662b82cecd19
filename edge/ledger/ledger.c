/* ledger.c - the edge's batches (ledger.h): loading the pending state,
 * sealing, sending, delivery reports, snapshot resume points.
 *
 * Owns the open batches and the sealed-batch index; the store handle is
 * borrowed. Writes are staged and committed in ledger_write.c, counts and
 * snapshots live in ledger_view.c. Every entry point takes the writer
 * mutex (ledger_int.h); a seal takes the view mutex too, only to update
 * the overlay after its store write.
 */
#include "edge/ledger/ledger_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "counter.h"
#include "failpoint.h"
#include "hlc.h"
#include "item.h"
#include "log.h"
#include "partition.h"
#include "smap.h"
#include "edge/ops/telemetry.h"
#include "xmem.h"

/* --- keys and encodings --------------------------------------------------- */

/* A pending op: [kind u8][n u32][hlc u64][flags u8]
 *               [clen u8][counter][ilen u8][item][ulen u8][user]
 * flags: bit 0 counts (moves the overlay), bit 1 sum (a sum counter's op;
 * ops written before sums were sealed apart carry 0 there). */
size_t ledger_op_encode(const pend_op *op, unsigned char *buf)
{
	size_t n = 0;
	buf[n++] = op->kind;
	store_put_u32(buf + n, op->n);
	n += 4;
	store_put_u64(buf + n, op->hlc);
	n += 8;
	buf[n++] = (uint8_t)((op->counts ? 1 : 0) | (op->sum ? 2 : 0));
	const char *s[3] = {op->counter, op->item, op->user};
	for (int i = 0; i < 3; i++) {
		size_t l = strlen(s[i]);
		buf[n++] = (unsigned char)l;
		memcpy(buf + n, s[i], l);
		n += l;
	}
	return n;
}

pend_op ledger_op_make(const char *counter, const char *item, const char *user, size_t cl,
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

/* Decodes the op at the start of buf (len bytes); *used gets its length. */
static int op_decode_next(const unsigned char *buf, size_t len, pend_op *op, size_t *used)
{
	if (len < 15 || buf[13] > 3)
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
	if (buf[0] != WIRE_ADD && buf[0] != WIRE_REMOVE)
		return ERR_CORRUPT;
	*used = n;
	*op = ledger_op_make((const char *)s[0], (const char *)s[1], (const char *)s[2], l[0], l[1],
	                     l[2]);
	op->kind = buf[0];
	op->n = store_get_u32(buf + 1);
	op->hlc = store_get_u64(buf + 5);
	op->counts = (buf[13] & 1) != 0;
	op->sum = (buf[13] & 2) != 0;
	return 0;
}

/* A record holding exactly one op ('O'). */
static int op_decode(const unsigned char *buf, size_t len, pend_op *op)
{
	size_t used;
	int rc = op_decode_next(buf, len, op, &used);
	if (rc == 0 && used != len) {
		free(op->counter);
		return ERR_CORRUPT;
	}
	return rc;
}

void ledger_run_head(unsigned char *buf, uint32_t nops)
{
	buf[0] = RUN_FORMAT;
	store_put_u32(buf + 1, nops);
}

void ledger_run_push(open_batch *ob, op_run r)
{
	if (ob->nruns == ob->capruns) {
		ob->capruns = ob->capruns ? ob->capruns * 2 : 16;
		ob->runs = xrealloc(ob->runs, ob->capruns * sizeof *ob->runs);
	}
	ob->runs[ob->nruns++] = r;
}

/* The ops of a run record ('P'), first at opno: *ops (malloc'ed) and *n.
 * ERR_CORRUPT unless the record holds exactly its count of whole ops. */
static int run_decode(const unsigned char *buf, size_t len, uint64_t opno, pend_op **ops,
                      uint32_t *n)
{
	*ops = NULL;
	*n = 0;
	if (len < RUN_HEAD || buf[0] != RUN_FORMAT)
		return ERR_CORRUPT;
	uint32_t want = store_get_u32(buf + 1);
	if (want == 0 || want > LEDGER_GROUP_OPS)
		return ERR_CORRUPT;
	pend_op *v = xcalloc(want, sizeof *v);
	size_t at = RUN_HEAD;
	uint32_t i = 0;
	for (; i < want; i++) {
		size_t used;
		if (op_decode_next(buf + at, len - at, &v[i], &used))
			break;
		v[i].opno = opno + i;
		at += used;
	}
	if (i < want || at != len) {
		for (uint32_t j = 0; j < i; j++)
			free(v[j].counter);
		free(v);
		return ERR_CORRUPT;
	}
	*ops = v;
	*n = want;
	return 0;
}

uint32_t ledger_part_of(const ledger *l, const char *item)
{
	return partition_of(item, strlen(item), l->o.partitions);
}

/* --- sealing and sending -------------------------------------------------- */

static void sealed_push(part *pt, uint64_t seq, uint32_t len)
{
	if (pt->nsealed == pt->capsealed) {
		pt->capsealed = pt->capsealed ? pt->capsealed * 2 : 16;
		pt->sealed = xrealloc(pt->sealed, pt->capsealed * sizeof *pt->sealed);
	}
	pt->sealed[pt->nsealed++] =
	    (sealed){.seq = seq, .len = len, .state = SEALED_UNSENT, .offset = -1};
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
		FAILPOINT("batch.queued");
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
void ledger_pump_part(ledger *l, uint32_t p)
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
		int rc =
		    store_get(l->db, key, ekey_part_seq(key, EKEY_BATCH, p, s->seq), &buf, &len);
		if (rc) {
			log_error("sealed batch unreadable",
			          "partition=%u seq=%" PRIu64 " err=\"%s\"", p, s->seq,
			          err_str(rc));
			return;
		}
		rc = send_one(l, p, s, buf, len);
		free(buf);
		if (rc)
			return;
	}
}

/* Stages into l->wb the deletion of the run records holding the first n
 * ops of p's open batch. A run only partly sealed is replaced by a run of
 * its ops left open, put under the first of them; *rest describes it
 * (n 0 when every run ends inside the seal). Returns how many runs are
 * gone whole; the open batch's run list changes only after the write. */
static size_t seal_runs(ledger *l, uint32_t p, size_t n, op_run *rest)
{
	open_batch *ob = &l->parts[p].open;
	char key[13];
	size_t left = n, gone = 0;
	*rest = (op_run){0};
	for (; gone < ob->nruns && left; gone++) {
		op_run *r = &ob->runs[gone];
		store_batch_del(l->wb, key, ekey_part_seq(key, (enum ekey_tag)r->tag, p, r->opno));
		if (r->n <= left) {
			left -= r->n;
			continue;
		}
		/* Ops n .. n + kept - 1 of the open batch are this run's tail. */
		uint32_t kept = r->n - (uint32_t)left;
		unsigned char *rec = l->g->run;
		size_t len = RUN_HEAD;
		for (uint32_t i = 0; i < kept; i++)
			len += ledger_op_encode(&ob->ops[n + i], rec + len);
		ledger_run_head(rec, kept);
		*rest = (op_run){ob->ops[n].opno, kept, EKEY_RUN};
		store_batch_put(l->wb, key, ekey_part_seq(key, EKEY_RUN, p, rest->opno), rec, len);
		gone++;
		break;
	}
	return gone;
}

static void pend_free(open_batch *ob)
{
	for (size_t i = 0; i < ob->len; i++)
		free(ob->ops[i].counter);
	ob->len = 0;
	ob->bytes = 0;
}

/* What a seal builds besides the wire batch: the 'D' flags of its ops and,
 * per sum, how many ops it adds up. */
typedef struct sealed_ops {
	char *flags;      /* b->nops */
	uint32_t *merged; /* b->nsums */
} sealed_ops;

/* Fills b from the first n ops of ob: a set counter's op as it is, a sum
 * counter's ops added up per item and day (wire_batch_add_up), unless
 * sums is false: then every op as it is (version 1, for centrals that
 * read nothing newer). Pointers into the ops' strings: b lives no longer
 * than them. */
static void seal_build(const open_batch *ob, size_t n, bool sums, wire_batch *b, sealed_ops *so)
{
	wire_op *in = xcalloc(n ? n : 1, sizeof *in);
	bool *is_sum = xcalloc(n ? n : 1, sizeof *is_sum);
	for (size_t i = 0; i < n; i++) {
		const pend_op *op = &ob->ops[i];
		in[i] = (wire_op){wire_cstr(op->counter, strlen(op->counter)),
		                  wire_cstr(op->item, strlen(op->item)),
		                  wire_cstr(op->user, strlen(op->user)),
		                  op->kind,
		                  op->n,
		                  op->hlc};
		is_sum[i] = sums && op->sum;
	}
	uint32_t *from;
	wire_batch_add_up(in, is_sum, n, b, &from, &so->merged);
	so->flags = xmalloc(b->nops ? b->nops : 1);
	for (uint32_t j = 0; j < b->nops; j++)
		so->flags[j] = ob->ops[from[j]].counts ? 1 : 0;
	free(from);
	free(is_sum);
	free(in);
}

/* Frees what seal_build allocated; b's other fields stay. */
static void sealed_ops_free(wire_batch *b, sealed_ops *so)
{
	free(b->ops);
	free(b->sums);
	b->ops = NULL;
	b->sums = NULL;
	free(so->flags);
	free(so->merged);
}

int ledger_seal(ledger *l, uint32_t p, uint64_t wall_ms, int why)
{
	part *pt = &l->parts[p];
	open_batch *ob = &pt->open;
	if (!ob->len)
		return 0;
	/* A store that never sealed this partition may belong to an edge
	 * rebuilt under its old id: central has applied its old batches,
	 * and a sequence from 1 would be dropped as a repeat. The ops wait
	 * in the open batch (durable, within the budget) until the
	 * checkpoint says where central's sequence is. */
	if (!pt->seq_known)
		return 0;
	/* At most seal_ops ops (a backlog held above leaves in batches of
	 * the usual size); the rest stay open. */
	size_t n = ob->len < l->o.seal_ops ? ob->len : l->o.seal_ops;
	wire_batch b = {
	    .edge = wire_cstr(l->edge_id, strlen(l->edge_id)),
	    .region = wire_cstr(l->region, strlen(l->region)),
	    .partition = p,
	    .seq = pt->last_seq + 1,
	    .created_ms = wall_ms,
	};
	sealed_ops so;
	seal_build(ob, n, l->o.seal_sums, &b, &so);
	char *buf;
	size_t len;
	int rc = wire_encode_batch(&b, &buf, &len);
	if (rc) {
		log_error("batch encoding failed", "partition=%u err=\"%s\"", p, err_str(rc));
		sealed_ops_free(&b, &so);
		return rc;
	}
	char key[13];
	unsigned char v[8];
	uint64_t bytes = 0; /* the sealed ops' stored size */
	unsigned char enc[OP_ENC_MAX];
	for (size_t i = 0; i < n && n != ob->len; i++)
		bytes += ledger_op_encode(&ob->ops[i], enc);
	if (n == ob->len)
		bytes = ob->bytes;
	store_batch_clear(l->wb);
	op_run rest;
	size_t gone = seal_runs(l, p, n, &rest);
	store_batch_put(l->wb, key, ekey_part_seq(key, EKEY_BATCH, p, b.seq), buf, len);
	store_batch_put(l->wb, key, ekey_part_seq(key, EKEY_FLAGS, p, b.seq), so.flags, b.nops);
	store_put_u64(v, b.seq);
	store_batch_put(l->wb, key, ekey_part(key, EKEY_SEALED, p), v, 8);
	FAILPOINT("seal.encoded");
	rc = store_write(l->db, l->wb);
	if (rc) {
		free(buf);
		sealed_ops_free(&b, &so);
		return rc;
	}
	FAILPOINT("seal.written");
	/* Each sum stands for its ops in the overlay from now on. */
	ledger_vlock(l);
	for (uint32_t i = 0; i < b.nsums; i++)
		if (so.merged[i] > 1)
			ledger_overlay_merge(l, b.sums[i].counter.p, b.sums[i].counter.n,
			                     b.sums[i].item.p, b.sums[i].item.n, so.merged[i]);
	ledger_vunlock(l);
	sealed_ops_free(&b, &so);
	if (rest.n)
		ob->runs[--gone] = rest; /* the partly sealed run's slot */
	memmove(ob->runs, ob->runs + gone, (ob->nruns - gone) * sizeof *ob->runs);
	ob->nruns -= gone;
	pt->last_seq = b.seq;
	sealed_push(pt, b.seq, (uint32_t)len);
	l->st.pending_bytes = l->st.pending_bytes - bytes + len;
	l->st.pending_ops -= n;
	l->st.pending_batches++;
	l->st.batches_sealed++;
	telemetry_sealed(l->o.tm, (tm_seal)why, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		free(ob->ops[i].counter);
	memmove(ob->ops, ob->ops + n, (ob->len - n) * sizeof *ob->ops);
	ob->len -= n;
	ob->bytes -= bytes;
	free(buf);
	ledger_pump_part(l, p);
	return 0;
}

/* --- public --------------------------------------------------------------- */

/* ledger_batch_deltas callback at load: a sealed entry into the overlay. */
static void overlay_in(void *ctx, wire_str counter, wire_str item, int64_t delta)
{
	ledger_overlay_add(ctx, counter.p, counter.n, item.p, item.n, delta);
}

/* Appends op (decoded from a pending record) to its open batch. */
static void load_op(ledger *l, uint32_t p, pend_op op, uint64_t now)
{
	part *pt = &l->parts[p];
	open_batch *ob = &pt->open;
	if (ob->len == ob->cap) {
		ob->cap = ob->cap ? ob->cap * 2 : 64;
		ob->ops = xrealloc(ob->ops, ob->cap * sizeof *ob->ops);
	}
	ob->ops[ob->len++] = op;
	unsigned char enc[OP_ENC_MAX];
	size_t bytes = ledger_op_encode(&op, enc);
	ob->bytes += bytes;
	if (!ob->first_ms)
		ob->first_ms = now;
	if (op.opno >= pt->next_opno)
		pt->next_opno = op.opno + 1;
	if (op.hlc > l->clock.last)
		l->clock.last = op.hlc;
	ledger_overlay_add(l, op.counter, strlen(op.counter), op.item, strlen(op.item),
	                   ledger_op_delta(op.kind, op.n, op.counts));
	l->st.pending_bytes += bytes;
	l->st.pending_ops++;
}

/* Reads the pending records of one tag ('O': an op each, 'P': runs) into
 * the open batches. A record that does not decode stays on disk, out of
 * the batch and of its run list alike. 0 or the store's error. */
static int load_pending(ledger *l, enum ekey_tag tag)
{
	const char *k, *v;
	size_t kn, vn;
	uint64_t now = clock_wall_ms();
	store_iter *it = store_iter_new(l->db, ekey_prefix(tag), 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t p;
		uint64_t opno;
		if (!ekey_part_seq_parse(k, kn, &p, &opno))
			continue;
		pend_op one, *ops = &one;
		uint32_t n = 1;
		int rc = ERR_CORRUPT;
		if (p < l->o.partitions)
			rc = tag == EKEY_OP
			         ? op_decode((const unsigned char *)v, vn, &one)
			         : run_decode((const unsigned char *)v, vn, opno, &ops, &n);
		if (rc) {
			log_error("pending ops do not decode; they stay on disk",
			          "tag=%c partition=%u opno=%" PRIu64, tag, p, opno);
			continue;
		}
		if (tag == EKEY_OP)
			one.opno = opno;
		for (uint32_t i = 0; i < n; i++)
			load_op(l, p, ops[i], now);
		ledger_run_push(&l->parts[p].open, (op_run){opno, n, (char)tag});
		if (ops != &one)
			free(ops);
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	return rc;
}

static int load(ledger *l, char *err, size_t errlen)
{
	const char *k, *v;
	size_t kn, vn;
	char key[16];
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		part *pt = &l->parts[p];
		char *buf;
		size_t len;
		int rc = store_get(l->db, key, ekey_part(key, EKEY_APPLIED, p), &buf, &len);
		if (rc == 0) {
			if (len == 24) {
				pt->applied = store_get_u64((unsigned char *)buf);
				pt->snap_offset = store_get_u64((unsigned char *)buf + 8);
				pt->snap_ms = store_get_u64((unsigned char *)buf + 16);
				pt->snap_seen = pt->snap_offset;
			}
			free(buf);
		} else if (rc != ERR_NOTFOUND) {
			snprintf(err, errlen, "reading applied state: %s", err_str(rc));
			return rc;
		}
		uint64_t seen = 0;
		rc = store_read_u64(l->db, key, ekey_part(key, EKEY_SNAP_SEEN, p), &seen);
		if (rc && rc != ERR_NOTFOUND) {
			snprintf(err, errlen, "reading snapshot offsets: %s", err_str(rc));
			return rc;
		}
		if (seen > pt->snap_seen)
			pt->snap_seen = seen;
		/* A sequence read wrong would reuse numbers central has
		 * applied already: refuse to start rather than guess. */
		rc = store_read_u64(l->db, key, ekey_part(key, EKEY_SEALED, p), &pt->last_seq);
		if (rc && rc != ERR_NOTFOUND) {
			snprintf(err, errlen, "reading sequences: %s", err_str(rc));
			return rc;
		}
		pt->seq_known = rc == 0 || !l->o.seq_from_checkpoint;
	}
	int rrc = ledger_replica_load(l, err, errlen);
	if (rrc)
		return rrc;
	store_iter *it = store_iter_new(l->db, ekey_prefix(EKEY_BATCH), 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t p;
		uint64_t seq;
		if (!ekey_part_seq_parse(k, kn, &p, &seq))
			continue;
		if (p >= l->o.partitions || seq <= l->parts[p].applied)
			continue; /* confirmed; removed with the next snapshot */
		wire_batch b;
		if (wire_decode_batch(v, vn, &b)) {
			log_error("stored batch does not decode; it stays on disk",
			          "partition=%u seq=%" PRIu64, p, seq);
			continue;
		}
		char *flags = ledger_read_flags(l, p, seq, b.nops);
		ledger_batch_deltas(&b, flags, overlay_in, l);
		free(flags);
		for (uint32_t i = 0; i < b.nops; i++)
			if (b.ops[i].hlc > l->clock.last)
				l->clock.last = b.ops[i].hlc;
		for (uint32_t i = 0; i < b.nsums; i++)
			if (b.sums[i].hlc > l->clock.last)
				l->clock.last = b.sums[i].hlc;
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
	/* Single-op records ('O', from before runs) hold lower opnos than
	 * any run, so they are read first. */
	rc = load_pending(l, EKEY_OP);
	if (rc == 0)
		rc = load_pending(l, EKEY_RUN);
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
	pthread_mutex_init(&l->vmu, NULL);
	l->db = db;
	l->o = *o;
	l->edge_id = xstrdup(o->edge_id);
	l->region = xstrdup(o->region);
	l->o.edge_id = l->edge_id;
	l->o.region = l->region;
	if (!l->o.cache_entries)
		l->o.cache_entries = 2;
	if (!l->o.rt_entries)
		l->o.rt_entries = 2;
	l->parts = xcalloc(o->partitions, sizeof *l->parts);
	l->pv = xcalloc(o->partitions, sizeof *l->pv);
	smap_init(&l->overlay);
	smap_init(&l->cache_hot);
	smap_init(&l->cache_cold);
	smap_init(&l->rt_hot);
	smap_init(&l->rt_cold);
	hlc_init(&l->clock);
	l->wb = store_batch_new();
	ledger_group_init(l);
	bloom_init(&l->members, o->member_filter_bytes, 7);
	if (load(l, err, errlen)) {
		ledger_free(l);
		return NULL;
	}
	if (ledger_members_load(l)) {
		snprintf(err, errlen, "cannot read the membership records");
		ledger_free(l);
		return NULL;
	}
	for (uint32_t p = 0; p < l->o.partitions; p++)
		ledger_view_publish(l, p); /* no reader yet: no lock needed */
	log_info("ledger loaded",
	         "edge=%s pending_batches=%" PRIu64 " pending_ops=%" PRIu64
	         " pending_bytes=%" PRIu64,
	         l->edge_id, l->st.pending_batches, l->st.pending_ops, l->st.pending_bytes);
	if (ledger_committer_start(l)) {
		snprintf(err, errlen, "cannot start the commit thread");
		ledger_free(l);
		return NULL;
	}
	return l;
}

void ledger_free(ledger *l)
{
	if (!l)
		return;
	ledger_committer_stop(l);
	if (l->pv) {
		ledger_lock(l);
		ledger_keep_flush(l); /* what readers kept since the last seal tick */
		ledger_unlock(l);
	}
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		pend_free(&l->parts[p].open);
		free(l->parts[p].open.ops);
		free(l->parts[p].open.runs);
		free(l->parts[p].sealed);
	}
	ledger_group_free(l);
	bloom_free(&l->members);
	free(l->parts);
	ledger_views_free(l);
	store_batch_free(l->wb);
	pthread_mutex_destroy(&l->mu);
	pthread_mutex_destroy(&l->vmu);
	free(l->edge_id);
	free(l->region);
	free(l);
}

int ledger_seal_due(ledger *l, uint64_t wall_ms, bool force)
{
	int rc = 0;
	ledger_lock(l);
	/* Sealing everything includes what is staged: write it first. */
	if (force)
		rc = ledger_group_commit(l, wall_ms);
	ledger_keep_flush(l);
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		open_batch *ob = &l->parts[p].open;
		if (!ob->len)
			continue;
		tm_seal why = force                                        ? TM_SEAL_DRAIN
		              : wall_ms >= ob->first_ms + l->o.seal_age_ms ? TM_SEAL_AGE
		              : wall_ms + 60000 < ob->first_ms /* wall clock stepped back */
		                  ? TM_SEAL_CLOCK
		                  : TM_NSEALS;
		/* A backlog larger than one batch leaves in several. */
		while (why != TM_NSEALS && ob->len && l->parts[p].seq_known) {
			int r = ledger_seal(l, p, wall_ms, why);
			if (r) {
				if (!rc)
					rc = r;
				break;
			}
		}
	}
	ledger_unlock(l);
	return rc;
}

void ledger_pump(ledger *l)
{
	ledger_lock(l);
	for (uint32_t p = 0; p < l->o.partitions; p++)
		ledger_pump_part(l, p);
	ledger_unlock(l);
}

void ledger_delivered(ledger *l, uint32_t partition, uint64_t seq, int64_t offset)
{
	if (partition >= l->o.partitions)
		return;
	ledger_lock(l);
	sealed *s = sealed_find(&l->parts[partition], seq);
	if (s && s->state == SEALED_INFLIGHT) {
		s->state = offset >= 0 ? SEALED_DELIVERED : SEALED_UNSENT;
		s->offset = offset;
		if (offset >= 0)
			FAILPOINT("batch.delivered");
	}
	ledger_unlock(l);
}

int ledger_snapshot_resume(ledger *l, uint32_t p, int64_t *offset)
{
	char key[8];
	uint64_t off;
	int rc = store_read_u64(l->db, key, ekey_part(key, EKEY_SNAP_OFFSET, p), &off);
	if (rc == 0)
		*offset = (int64_t)off;
	return rc;
}

int ledger_snapshot_reset(ledger *l, uint32_t p, int64_t offset)
{
	char key[8];
	unsigned char val[8];
	store_put_u64(val, (uint64_t)offset);
	ledger_lock(l);
	store_batch_clear(l->wb);
	store_batch_put(l->wb, key, ekey_part(key, EKEY_SNAP_OFFSET, p), val, 8);
	int rc = store_write(l->db, l->wb);
	ledger_unlock(l);
	return rc;
}

bool ledger_accepting(ledger *l)
{
	ledger_lock(l);
	bool ok = l->st.pending_bytes < l->o.budget_bytes;
	ledger_unlock(l);
	return ok;
}

void ledger_get_stats(ledger *l, ledger_stats *out)
{
	ledger_lock(l);
	ledger_vlock(l);
	*out = l->st;
	out->overlay_entries = l->overlay.len;
	ledger_vunlock(l);
	ledger_unlock(l);
	out->member_reads = atomic_load_explicit(&l->member_reads, memory_order_relaxed);
	out->member_reads_skipped =
	    atomic_load_explicit(&l->member_reads_skipped, memory_order_relaxed);
}

size_t ledger_get_parts(ledger *l, ledger_part_info *out, size_t max)
{
	size_t n = l->o.partitions < max ? l->o.partitions : max;
	ledger_lock(l);
	for (size_t p = 0; p < n; p++)
		out[p] = (ledger_part_info){l->parts[p].snap_ms, l->parts[p].snap_offset};
	ledger_unlock(l);
	return n;
}

ledger_part_state *ledger_inspect(ledger *l, ledger_summary *sum)
{
	ledger_part_state *out = xcalloc(l->o.partitions, sizeof *out);
	ledger_lock(l);
	ledger_vlock(l);
	*sum = (ledger_summary){.edge_id = l->edge_id,
	                        .region = l->region,
	                        .partitions = l->o.partitions,
	                        .budget_bytes = l->o.budget_bytes,
	                        .window_bytes = l->o.window_bytes,
	                        .st = l->st};
	ledger_vunlock(l);
	sum->st.member_reads = atomic_load_explicit(&l->member_reads, memory_order_relaxed);
	sum->st.member_reads_skipped =
	    atomic_load_explicit(&l->member_reads_skipped, memory_order_relaxed);
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		const part *pt = &l->parts[p];
		ledger_part_state *ps = &out[p];
		ps->open_ops = pt->open.len;
		ps->open_bytes = pt->open.bytes;
		ps->sealed = pt->nsealed;
		if (pt->nsealed) {
			ps->seq_lo = pt->sealed[0].seq;
			ps->seq_hi = pt->sealed[pt->nsealed - 1].seq;
		}
		for (size_t i = 0; i < pt->nsealed; i++) {
			const sealed *s = &pt->sealed[i];
			ps->sealed_bytes += s->len;
			ps->unsent += s->state == SEALED_UNSENT;
			ps->inflight += s->state == SEALED_INFLIGHT;
			ps->delivered += s->state == SEALED_DELIVERED;
		}
		ps->last_seq = pt->last_seq;
		ps->applied = pt->applied;
		ps->version = pt->snap_offset;
		ps->as_of = pt->snap_ms;
		ps->in_window = ps->sealed_bytes <= l->o.window_bytes;
	}
	ledger_unlock(l);
	return out;
}
