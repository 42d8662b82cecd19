/* ledger_outbox.c - the edge's batches on their way to central
 * (ledger.h): per partition, the open batch of written ops, the steps of
 * sealing it into a numbered batch, sending sealed batches within the
 * send window, delivery reports. The confirmation central's snapshots
 * bring, and what they said last, are in ledger_confirm.c, on the same
 * struct; ledger_seal.c, a layer up, runs a seal's steps and the pump
 * around the writer mutex.
 *
 * Owns struct outbox (outbox_int.h): the open batches and the records
 * holding their ops, the sealed-batch index and what central said last,
 * under the writer mutex; a seal's encoding runs with it let go. A seal
 * and a confirmation change the overlay through the view's functions,
 * under the partition's view stripe, after their store write. The store
 * handle is borrowed. The bytes it holds are counted where they are
 * allocated and freed (outbox.mem), for ledger_get_memory.
 */
#include "edge/ledger/outbox_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "counter.h"
#include "failpoint.h"
#include "hlc.h"
#include "log.h"
#include "edge/telemetry/telemetry.h"
#include "xmem.h"

/* The outbox's heap bytes moved by d. */
static void mem_add(struct outbox *ob, int64_t d)
{
	atomic_fetch_add_explicit(&ob->mem, (uint64_t)d, memory_order_relaxed);
}

/* What an array of size-byte elements gains on the heap from cap was to
 * cap now. */
static int64_t grown(size_t was, size_t now, size_t size)
{
	return (int64_t)memacct_chunk(now * size) - (int64_t)memacct_chunk(was * size);
}

uint64_t ledger_outbox_bytes(const struct outbox *ob)
{
	return atomic_load_explicit(&ob->mem, memory_order_relaxed);
}

void ledger_outbox_init(struct outbox *ob, const ledger_opts *o, store *db, struct view *v,
                        const char *edge_id, const char *region, bool logged)
{
	*ob = (struct outbox){.o = o,
	                      .db = db,
	                      .view = v,
	                      .edge_id = edge_id,
	                      .region = region,
	                      .logged = logged,
	                      .parts = xcalloc(o->partitions, sizeof *ob->parts)};
	atomic_store_explicit(&ob->mem, memacct_chunk(o->partitions * sizeof *ob->parts),
	                      memory_order_relaxed);
}

void ledger_outbox_stats(const struct outbox *ob, ledger_stats *out)
{
	const outbox_stats *st = &ob->st;
	out->batches_sealed = st->batches_sealed;
	memcpy(out->sealed_by, st->sealed_by, sizeof out->sealed_by);
	out->batches_sent = st->batches_sent;
	out->batches_resent = st->batches_resent;
	out->batches_applied = st->batches_applied;
	out->pending_bytes = st->pending_bytes;
	out->pending_batches = st->pending_batches;
	out->pending_ops = st->pending_ops;
	out->seal_write_cpu_ns = st->seal_write_cpu_ns;
}

/* Frees ob's ops, and each record once the last of its stretches is
 * gone (the stretches of a record add up to its open ops). */
static void pend_free(open_batch *opb)
{
	for (size_t i = 0; i < opb->len; i++)
		free(opb->ops[i].counter);
	opb->len = 0;
	opb->bytes = 0;
	for (size_t i = 0; i < opb->nruns; i++) {
		pend_rec *r = opb->runs[i].rec;
		r->left -= opb->runs[i].n;
		if (!r->left)
			free(r);
	}
	opb->nruns = 0;
}

void ledger_outbox_free(struct outbox *ob)
{
	if (!ob->parts)
		return;
	for (uint32_t p = 0; p < ob->o->partitions; p++) {
		outbox_part *pt = &ob->parts[p];
		pend_free(&pt->open);
		free(pt->open.ops);
		free(pt->open.runs);
		free(pt->sealed);
	}
	free(ob->parts);
	ob->parts = NULL;
	atomic_store_explicit(&ob->mem, 0, memory_order_relaxed);
}

/* --- the records of open ops ------------------------------------------------ */

pend_rec *ledger_outbox_record(struct outbox *ob, const char *key, size_t kn, uint32_t n)
{
	pend_rec *r = xmalloc(sizeof *r);
	mem_add(ob, (int64_t)memacct_chunk(sizeof *r));
	memcpy(r->key, key, kn);
	r->kn = (uint8_t)kn;
	r->left = n;
	return r;
}

/* --- the open batch --------------------------------------------------------- */

static void run_push(struct outbox *ob, open_batch *opb, op_run r)
{
	if (opb->nruns == opb->capruns) {
		size_t was = opb->capruns;
		opb->capruns = opb->capruns ? opb->capruns * 2 : 16;
		opb->runs = xrealloc(opb->runs, opb->capruns * sizeof *opb->runs);
		mem_add(ob, grown(was, opb->capruns, sizeof *opb->runs));
	}
	opb->runs[opb->nruns++] = r;
}

void ledger_outbox_append(struct outbox *ob, uint32_t p, pend_op *op, uint32_t bytes, op_run run,
                          uint64_t wall_ms)
{
	open_batch *opb = &ob->parts[p].open;
	if (run.n)
		run_push(ob, opb, run);
	int64_t heap = (int64_t)ledger_op_heap(op);
	if (opb->len == opb->cap) {
		size_t was = opb->cap;
		opb->cap = opb->cap ? opb->cap * 2 : 64;
		opb->ops = xrealloc(opb->ops, opb->cap * sizeof *opb->ops);
		heap += grown(was, opb->cap, sizeof *opb->ops);
	}
	mem_add(ob, heap);
	if (!opb->len)
		opb->first_ms = wall_ms;
	else if (opb->len == ob->parts[p].sealing_n)
		ob->parts[p].rest_first_ms = wall_ms; /* the first after a seal's */
	opb->ops[opb->len++] = *op;
	op->counter = NULL; /* the open batch owns the strings now */
	opb->bytes += bytes;
	ob->st.pending_bytes += bytes;
	ob->st.pending_ops++;
}

/* The stretches of an open batch being put in order: where each starts. */
typedef struct stretch_order {
	const pend_op *ops;
	const size_t *at;
} stretch_order;

/* Orders stretch indices by the opno of their first op (qsort_r). */
static int stretch_cmp(const void *x, const void *y, void *ctx)
{
	const stretch_order *so = ctx;
	uint64_t a = so->ops[so->at[*(const size_t *)x]].opno;
	uint64_t b = so->ops[so->at[*(const size_t *)y]].opno;
	return a < b ? -1 : a > b;
}

void ledger_outbox_order(struct outbox *ob)
{
	for (uint32_t p = 0; p < ob->o->partitions; p++) {
		open_batch *opb = &ob->parts[p].open;
		bool sorted = true;
		for (size_t i = 1; i < opb->len && sorted; i++)
			sorted = opb->ops[i - 1].opno < opb->ops[i].opno;
		if (sorted)
			continue;
		/* Each stretch is a record's ops in this partition, numbered
		 * without a gap, and no two overlap: sorting the stretches by
		 * their first op sorts the ops. */
		size_t *at = xmalloc(opb->nruns * sizeof *at),
		       *idx = xmalloc(opb->nruns * sizeof *idx);
		for (size_t r = 0, i = 0; r < opb->nruns; i += opb->runs[r++].n) {
			at[r] = i;
			idx[r] = r;
		}
		stretch_order so = {opb->ops, at};
		qsort_r(idx, opb->nruns, sizeof *idx, stretch_cmp, &so);
		pend_op *ops = xmalloc(opb->cap * sizeof *ops);
		op_run *runs = xmalloc(opb->capruns * sizeof *runs);
		size_t len = 0;
		for (size_t k = 0; k < opb->nruns; k++) {
			const op_run *r = &opb->runs[idx[k]];
			memcpy(ops + len, opb->ops + at[idx[k]], r->n * sizeof *ops);
			len += r->n;
			runs[k] = *r;
		}
		free(opb->ops);
		free(opb->runs);
		opb->ops = ops;
		opb->runs = runs;
		free(idx);
		free(at);
	}
}

/* --- the sealed batches ----------------------------------------------------- */

static void sealed_push(struct outbox *ob, outbox_part *pt, uint64_t seq, uint32_t len,
                        uint64_t first_ms)
{
	if (pt->nsealed == pt->capsealed) {
		size_t was = pt->capsealed;
		pt->capsealed = pt->capsealed ? pt->capsealed * 2 : 16;
		pt->sealed = xrealloc(pt->sealed, pt->capsealed * sizeof *pt->sealed);
		mem_add(ob, grown(was, pt->capsealed, sizeof *pt->sealed));
	}
	pt->sealed[pt->nsealed++] = (sealed){
	    .seq = seq, .first_ms = first_ms, .len = len, .state = SEALED_UNSENT, .offset = -1};
}

uint64_t ledger_outbox_oldest_ms(const struct outbox *ob, uint32_t p)
{
	const outbox_part *pt = &ob->parts[p];
	/* An op's clock is never below the wall clock when it was staged,
	 * and grows with its number: the first open op is the oldest. */
	uint64_t oldest = pt->open.len ? hlc_ms(pt->open.ops[0].hlc) : UINT64_MAX;
	/* Sealed in sequence order, each from the open batch's oldest ops. */
	if (pt->nsealed && pt->sealed[0].first_ms < oldest)
		oldest = pt->sealed[0].first_ms;
	return oldest;
}

static sealed *sealed_find(outbox_part *pt, uint64_t seq)
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

/* --- loading ---------------------------------------------------------------- */

void ledger_sealed_put(store_batch *wb, uint32_t p, uint64_t seq, uint64_t sealed_to)
{
	char key[EKEY_PART_LEN];
	unsigned char v[SEALED_LEN];
	store_put_u64(v, seq);
	store_put_u64(v + 8, sealed_to);
	store_batch_put(wb, key, ekey_part(key, EKEY_SEALED, p), v, sizeof v);
}

/* Partition p's last sealed sequence and sealed_to ('S'). */
static int load_sealed_seq(struct outbox *ob, uint32_t p, char *err, size_t errlen)
{
	outbox_part *pt = &ob->parts[p];
	char key[EKEY_PART_LEN];
	char *buf;
	size_t len;
	/* A sequence read wrong would reuse numbers central has applied
	 * already: refuse to start rather than guess. */
	int rc = store_get(ob->db, key, ekey_part(key, EKEY_SEALED, p), &buf, &len);
	if (rc == 0) {
		/* 8 bytes: a store from before group records. */
		if (len == 8 || len == SEALED_LEN) {
			pt->last_seq = store_get_u64((unsigned char *)buf);
			if (len == SEALED_LEN)
				pt->sealed_to = store_get_u64((unsigned char *)buf + 8);
		} else {
			rc = ERR_CORRUPT;
		}
		free(buf);
	}
	if (rc && rc != ERR_NOTFOUND) {
		snprintf(err, errlen, "reading sequences: %s", err_str(rc));
		return rc;
	}
	pt->seq_known = rc == 0 || !ob->o->seq_from_checkpoint;
	return 0;
}

int ledger_outbox_load_seqs(struct outbox *ob, char *err, size_t errlen)
{
	char key[EKEY_PART_SEQ_LEN];
	for (uint32_t p = 0; p < ob->o->partitions; p++) {
		outbox_part *pt = &ob->parts[p];
		char *buf;
		size_t len;
		int rc = store_get(ob->db, key, ekey_part(key, EKEY_APPLIED, p), &buf, &len);
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
		rc = store_read_u64(ob->db, key, ekey_part(key, EKEY_SNAP_SEEN, p), &seen);
		if (rc && rc != ERR_NOTFOUND) {
			snprintf(err, errlen, "reading snapshot offsets: %s", err_str(rc));
			return rc;
		}
		if (seen > pt->snap_seen)
			pt->snap_seen = seen;
		rc = load_sealed_seq(ob, p, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int ledger_outbox_load_sealed_seqs(struct outbox *ob, char *err, size_t errlen)
{
	for (uint32_t p = 0; p < ob->o->partitions; p++) {
		int rc = load_sealed_seq(ob, p, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

void ledger_outbox_seqs_from_replica(struct outbox *ob, const struct replica *r)
{
	for (uint32_t p = 0; p < ob->o->partitions; p++) {
		outbox_part *pt = &ob->parts[p];
		if (pt->seq_known || !ledger_replica_complete(r, p))
			continue;
		pt->last_seq = pt->applied > pt->last_seq ? pt->applied : pt->last_seq;
		pt->seq_known = true;
		log_info("batch sequence taken from central's last word",
		         "partition=%u seq=%" PRIu64, p, pt->last_seq);
	}
}

/* ledger_batch_deltas callback at load: a sealed entry into the overlay
 * (ctx: its partition's stripe). */
static void overlay_in(void *ctx, wire_str counter, wire_str item, int64_t delta)
{
	ledger_overlay_add(ctx, counter.p, counter.n, item.p, item.n, delta);
}

int ledger_outbox_load_sealed(struct outbox *ob, uint64_t *clock, char *err, size_t errlen)
{
	*clock = 0;
	const char *k, *v;
	size_t kn, vn;
	store_iter *it = store_iter_new(ob->db, ekey_prefix(EKEY_BATCH), 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t p;
		uint64_t seq;
		if (!ekey_part_seq_parse(k, kn, &p, &seq))
			continue;
		if (p >= ob->o->partitions || seq <= ob->parts[p].applied)
			continue; /* confirmed; removed with the next snapshot */
		wire_batch b;
		if (wire_decode_batch(v, vn, &b)) {
			log_error("stored batch does not decode; it stays on disk",
			          "partition=%u seq=%" PRIu64, p, seq);
			continue;
		}
		char *flags = ledger_read_flags(ob->view, p, seq, b.nops);
		vstripe *vs = ledger_vstripe(ob->view, p);
		ledger_vlock_stripe(ob->view, vs); /* readers, at a promotion */
		ledger_batch_deltas(&b, flags, overlay_in, vs);
		ledger_view_holds_sealed(ob->view, p, seq);
		ledger_vunlock(ob->view, vs);
		free(flags);
		for (uint32_t i = 0; i < b.nops; i++)
			*clock = b.ops[i].hlc > *clock ? b.ops[i].hlc : *clock;
		for (uint32_t i = 0; i < b.nsums; i++)
			*clock = b.sums[i].hlc > *clock ? b.sums[i].hlc : *clock;
		wire_batch_free(&b);
		outbox_part *pt = &ob->parts[p];
		sealed_push(ob, pt, seq, (uint32_t)vn, 0);
		pt->sealed[pt->nsealed - 1].resend = true;
		ob->st.pending_bytes += vn;
		ob->st.pending_batches++;
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc) {
		snprintf(err, errlen, "reading sealed batches: %s", err_str(rc));
		return rc;
	}
	return 0;
}

/* --- sending ---------------------------------------------------------------- */

static int send_one(struct outbox *ob, uint32_t p, sealed *s, const void *buf, size_t len)
{
	int rc = ob->o->send(ob->o->send_ctx, p, s->seq, buf, len);
	if (rc == 0) {
		FAILPOINT("batch.queued");
		s->state = SEALED_INFLIGHT;
		if (s->resend)
			ob->st.batches_resent++;
		ob->st.batches_sent++;
	}
	return rc;
}

/* A batch goes out the first time as soon as it is sealed; a resend
 * only when it lies within the first window_bytes of unapplied data. So
 * when Kafka lost a backlog larger than it keeps (central down for
 * long), the resends drain at central's pace instead of overflowing the
 * broker again and again. Sends nothing while the changelog cannot
 * vouch that this instance is still the writer (may_send): it may have
 * been taken over from, and the pump that runs every second asks
 * again. */
uint64_t ledger_outbox_send(struct outbox *ob, uint32_t p, const batch_bytes *have)
{
	if (!ob->o->log->may_send(ob->o->log_ctx))
		return 0;
	outbox_part *pt = &ob->parts[p];
	uint64_t window = 0;
	for (size_t i = 0; i < pt->nsealed; i++) {
		sealed *s = &pt->sealed[i];
		window += s->len;
		if (s->state != SEALED_UNSENT || i < pt->confirming)
			continue;
		if (s->resend && i > 0 && window > ob->o->window_bytes)
			return 0;
		if (!have || have->seq != s->seq)
			return s->seq;
		if (send_one(ob, p, s, have->buf, have->len))
			return 0;
		have = NULL;
	}
	return 0;
}

size_t ledger_outbox_nsealed(const struct outbox *ob)
{
	size_t n = 0;
	for (uint32_t p = 0; p < ob->o->partitions; p++)
		n += ob->parts[p].nsealed;
	return n;
}

void ledger_outbox_delivered(struct outbox *ob, uint32_t p, uint64_t seq, int64_t offset)
{
	sealed *s = sealed_find(&ob->parts[p], seq);
	if (s && s->state == SEALED_INFLIGHT) {
		s->state = offset >= 0 ? SEALED_DELIVERED : SEALED_UNSENT;
		s->offset = offset;
		if (offset >= 0)
			FAILPOINT("batch.delivered");
	}
}

/* --- sealing ---------------------------------------------------------------- */

/* Takes the first n ops of p's open batch off their records' counts,
 * staging into wb the deletion of each record left with none open (by <
 * 0: puts them back, after a failed write). */
static void seal_records(struct outbox *ob, uint32_t p, size_t n, int by, store_batch *wb)
{
	const op_run *runs = ob->parts[p].open.runs;
	for (size_t i = 0, left = n; left; i++) {
		uint32_t take = runs[i].n < left ? runs[i].n : (uint32_t)left;
		pend_rec *r = runs[i].rec;
		left -= take;
		if (by < 0) {
			r->left += take;
			continue;
		}
		r->left -= take;
		if (!r->left)
			store_batch_del(wb, r->key, r->kn);
	}
}

/* After the seal's write: the first n ops' stretches leave the run list,
 * and the records the seal deleted are freed. */
static void seal_runs(struct outbox *ob, open_batch *opb, size_t n)
{
	size_t gone = 0;
	while (n && n >= opb->runs[gone].n) {
		n -= opb->runs[gone].n;
		if (!opb->runs[gone].rec->left) {
			free(opb->runs[gone].rec);
			mem_add(ob, -(int64_t)memacct_chunk(sizeof(pend_rec)));
		}
		gone++;
	}
	if (n)
		opb->runs[gone].n -= (uint32_t)n;
	memmove(opb->runs, opb->runs + gone, (opb->nruns - gone) * sizeof *opb->runs);
	opb->nruns -= gone;
}

/* Fills b from ops[0..n): a set counter's op as it is, a sum
 * counter's ops added up per item and day (wire_batch_add_up), unless
 * sums is false: then every op as it is (version 1, for centrals that
 * read nothing newer). Pointers into the ops' strings: b lives no longer
 * than them. */
static void seal_build(const pend_op *ops, size_t n, bool sums, wire_batch *b, sealed_ops *so)
{
	wire_op *in = xcalloc(n ? n : 1, sizeof *in);
	bool *is_sum = xcalloc(n ? n : 1, sizeof *is_sum);
	for (size_t i = 0; i < n; i++) {
		const pend_op *op = &ops[i];
		in[i] = (wire_op){wire_cstr(op->counter, strlen(op->counter)),
		                  wire_cstr(op->item, strlen(op->item)),
		                  wire_cstr(op->user, strlen(op->user)),
		                  op->kind,
		                  op->n,
		                  op->hlc,
		                  op->home ? wire_cstr(op->home, strlen(op->home)) : (wire_str){0}};
		is_sum[i] = sums && op->sum;
	}
	uint32_t *from;
	wire_batch_add_up(in, is_sum, n, b, &from, &so->merged);
	so->flags = xmalloc(b->nops ? b->nops : 1);
	for (uint32_t j = 0; j < b->nops; j++)
		so->flags[j] = ops[from[j]].counts ? 1 : 0;
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

bool ledger_outbox_take(struct outbox *ob, uint32_t p, ledger_seal_why why, uint64_t upto,
                        uint64_t wall_ms, store_batch *wb, seal_job *j)
{
	outbox_part *pt = &ob->parts[p];
	open_batch *opb = &pt->open;
	if (!opb->len)
		return false;
	/* A full batch's seal that waited for another may find that one
	 * took the ops (two threads seal what their groups filled): a batch
	 * no longer full waits for more ops or its age. */
	if (why == LEDGER_SEAL_OPS && !ledger_outbox_full(ob, p))
		return false;
	/* A store that never sealed this partition may belong to an edge
	 * rebuilt under its old id: central has applied its old batches,
	 * and a sequence from 1 would be dropped as a repeat. The ops wait
	 * in the open batch (durable, within the budget) until the
	 * checkpoint says where central's sequence is. */
	if (!pt->seq_known)
		return false;
	/* At most seal_ops ops (a backlog held above leaves in batches of
	 * the usual size), and none numbered above upto; the rest stay
	 * open. */
	size_t n = 0, most = opb->len < ob->o->seal_ops ? opb->len : ob->o->seal_ops;
	while (n < most && opb->ops[n].opno <= upto)
		n++;
	if (!n)
		return false;
	/* The first n ops stay where they are until the write is done, but
	 * the array may move as groups append to it: the seal works on
	 * copies, whose strings the open batch frees only after it. */
	*j = (seal_job){.p = p, .why = why, .n = n, .took_all = n == opb->len, .wall_ms = wall_ms};
	j->ops = xmalloc(n * sizeof *j->ops);
	memcpy(j->ops, opb->ops, n * sizeof *j->ops);
	j->seq = pt->last_seq + 1;
	j->sealed_to = j->ops[n - 1].opno + 1;
	pt->sealing_n = n;
	/* The records sealed whole go; the others stay for the partitions
	 * that still need them, and sealed_to keeps these ops out of them. */
	seal_records(ob, p, n, 1, wb);
	return true;
}

void ledger_outbox_encode(const struct outbox *ob, seal_job *j, store_batch *wb)
{
	for (size_t i = 0; i < j->n; i++) {
		const pend_op *op = &j->ops[i];
		j->bytes += ledger_op_bytes(op);
		j->heap += (int64_t)ledger_op_heap(op);
	}
	j->b = (wire_batch){
	    .edge = wire_cstr(ob->edge_id, strlen(ob->edge_id)),
	    .region = wire_cstr(ob->region, strlen(ob->region)),
	    .partition = j->p,
	    .seq = j->seq,
	    .created_ms = j->wall_ms,
	};
	seal_build(j->ops, j->n, ob->o->seal_sums, &j->b, &j->so);
	j->rc = wire_encode_batch(&j->b, &j->buf, &j->len);
	if (j->rc) {
		log_error("batch encoding failed", "partition=%u err=\"%s\"", j->p, err_str(j->rc));
		return;
	}
	char key[EKEY_PART_SEQ_LEN];
	store_batch_put(wb, key, ekey_part_seq(key, EKEY_BATCH, j->p, j->seq), j->buf, j->len);
	store_batch_put(wb, key, ekey_part_seq(key, EKEY_FLAGS, j->p, j->seq), j->so.flags,
	                j->b.nops);
	ledger_sealed_put(wb, j->p, j->seq, j->sealed_to);
}

void ledger_outbox_settle(struct outbox *ob, seal_job *j)
{
	outbox_part *pt = &ob->parts[j->p];
	open_batch *opb = &pt->open;
	ob->st.seal_write_cpu_ns += j->cpu_ns;
	pt->sealing_n = 0;
	if (j->rc) {
		seal_records(ob, j->p, j->n, -1, NULL);
		return;
	}
	vstripe *vs = ledger_vstripe(ob->view, j->p);
	ledger_vlock_stripe(ob->view, vs);
	for (uint32_t i = 0; i < j->b.nsums; i++)
		if (j->so.merged[i] > 1)
			ledger_overlay_merge(vs, j->b.sums[i].counter.p, j->b.sums[i].counter.n,
			                     j->b.sums[i].item.p, j->b.sums[i].item.n,
			                     j->so.merged[i]);
	ledger_view_sealed(ob->view, j->p, j->seq); /* before it can be sent */
	ledger_vunlock(ob->view, vs);
	seal_runs(ob, opb, j->n);
	pt->last_seq = j->seq;
	pt->sealed_to = j->sealed_to;
	sealed_push(ob, pt, j->seq, (uint32_t)j->len, hlc_ms(opb->ops[0].hlc));
	ob->st.pending_bytes = ob->st.pending_bytes - j->bytes + j->len;
	ob->st.pending_ops -= j->n;
	ob->st.pending_batches++;
	ob->st.batches_sealed++;
	ob->st.sealed_by[j->why]++;
	telemetry_batch_ops(ob->o->tm, (uint32_t)j->n);
	memmove(opb->ops, opb->ops + j->n, (opb->len - j->n) * sizeof *opb->ops);
	opb->len -= j->n;
	opb->bytes -= j->bytes;
	/* Ops that came during the write start a new batch's age. */
	if (j->took_all && opb->len)
		opb->first_ms = pt->rest_first_ms;
	batch_bytes fresh = {j->seq, j->buf, j->len};
	(void)ledger_outbox_send(ob, j->p, &fresh); /* from its bytes, not read back */
}

/* Up to batch.max_ops frees. After a written seal the copies hold the
 * only pointers to the sealed ops' strings; after a failed one the open
 * batch still owns them. */
void ledger_outbox_release(struct outbox *ob, seal_job *j)
{
	if (j->rc == 0) {
		for (size_t i = 0; i < j->n; i++)
			free(j->ops[i].counter);
		mem_add(ob, -j->heap);
	}
	sealed_ops_free(&j->b, &j->so);
	free(j->ops);
	free(j->buf);
}

/* The age is on the wall clock, as the ops' times are. A clock stepped
 * back by more than an age seals at once; by less, the batch waits at
 * most two ages. (Before, the bound was a minute: a step back of 30 s
 * held a batch 30 s.) */
bool ledger_outbox_due(const struct outbox *ob, uint32_t p, uint64_t wall_ms, bool force,
                       ledger_seal_why *why, uint64_t *upto)
{
	const open_batch *opb = &ob->parts[p].open;
	if (!opb->len)
		return false;
	uint64_t age = ob->o->seal_age_ms;
	*why = force                            ? LEDGER_SEAL_DRAIN
	       : wall_ms >= opb->first_ms + age ? LEDGER_SEAL_AGE
	       : wall_ms + age < opb->first_ms  ? LEDGER_SEAL_CLOCK
	                                        : LEDGER_NSEALS;
	*upto = opb->ops[opb->len - 1].opno;
	return *why != LEDGER_NSEALS;
}

uint64_t ledger_outbox_first_open(const struct outbox *ob, uint32_t p)
{
	const outbox_part *pt = &ob->parts[p];
	return pt->open.len && pt->seq_known ? pt->open.ops[0].opno : UINT64_MAX;
}

/* --- inspect ---------------------------------------------------------------- */

void ledger_outbox_inspect(const struct outbox *ob, uint32_t p, ledger_part_state *ps)
{
	const outbox_part *pt = &ob->parts[p];
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
	ps->in_window = ps->sealed_bytes <= ob->o->window_bytes;
}
