/* ledger_outbox.c - the edge's batches on their way to central
 * (ledger.h): per partition, the open batch of written ops, sealing it
 * into a numbered batch, sending sealed batches within the send window,
 * delivery reports and resends. The confirmation central's snapshots
 * bring, and what they said last, are in ledger_confirm.c, on the same
 * struct.
 *
 * Owns struct outbox (outbox_int.h): the open batches and the records
 * holding their ops, the sealed-batch index and what central said last,
 * under the writer mutex; a seal encodes and writes its batch with it
 * let go, one seal at a time. A seal and a confirmation change the
 * overlay through the view's functions, under the partition's view
 * stripe, after their store write. The store handle is borrowed. The
 * bytes it holds are counted where they are allocated and freed
 * (outbox.mem), for ledger_get_memory.
 */
#include "edge/ledger/ledger_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "counter.h"
#include "failpoint.h"
#include "log.h"
#include "edge/telemetry/telemetry.h"
#include "xmem.h"

/* The outbox's heap bytes moved by d. */
static void mem_add(ledger *l, int64_t d)
{
	atomic_fetch_add_explicit(&l->outbox.mem, (uint64_t)d, memory_order_relaxed);
}

/* What an array of size-byte elements gains on the heap from cap was to
 * cap now. */
static int64_t grown(size_t was, size_t now, size_t size)
{
	return (int64_t)memacct_chunk(now * size) - (int64_t)memacct_chunk(was * size);
}

uint64_t ledger_outbox_bytes(const ledger *l)
{
	return atomic_load_explicit(&l->outbox.mem, memory_order_relaxed);
}

void ledger_outbox_init(ledger *l)
{
	l->outbox.parts = xcalloc(l->o.partitions, sizeof *l->outbox.parts);
	atomic_store_explicit(&l->outbox.mem,
	                      memacct_chunk(l->o.partitions * sizeof *l->outbox.parts),
	                      memory_order_relaxed);
	l->outbox.seal_wb = store_batch_new();
	pthread_cond_init(&l->outbox.seal_done, NULL);
}

/* Frees ob's ops, and each record once the last of its stretches is
 * gone (the stretches of a record add up to its open ops). */
static void pend_free(open_batch *ob)
{
	for (size_t i = 0; i < ob->len; i++)
		free(ob->ops[i].counter);
	ob->len = 0;
	ob->bytes = 0;
	for (size_t i = 0; i < ob->nruns; i++) {
		pend_rec *r = ob->runs[i].rec;
		r->left -= ob->runs[i].n;
		if (!r->left)
			free(r);
	}
	ob->nruns = 0;
}

void ledger_outbox_free(ledger *l)
{
	if (!l->outbox.parts)
		return;
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		outbox_part *pt = &l->outbox.parts[p];
		pend_free(&pt->open);
		free(pt->open.ops);
		free(pt->open.runs);
		free(pt->sealed);
	}
	free(l->outbox.parts);
	l->outbox.parts = NULL;
	store_batch_free(l->outbox.seal_wb);
	l->outbox.seal_wb = NULL;
	pthread_cond_destroy(&l->outbox.seal_done);
	atomic_store_explicit(&l->outbox.mem, 0, memory_order_relaxed);
}

/* --- the records of open ops ------------------------------------------------ */

pend_rec *ledger_outbox_record(ledger *l, const char *key, size_t kn, uint32_t n)
{
	pend_rec *r = xmalloc(sizeof *r);
	mem_add(l, (int64_t)memacct_chunk(sizeof *r));
	memcpy(r->key, key, kn);
	r->kn = (uint8_t)kn;
	r->left = n;
	return r;
}

/* --- the open batch --------------------------------------------------------- */

static void run_push(ledger *l, open_batch *ob, op_run r)
{
	if (ob->nruns == ob->capruns) {
		size_t was = ob->capruns;
		ob->capruns = ob->capruns ? ob->capruns * 2 : 16;
		ob->runs = xrealloc(ob->runs, ob->capruns * sizeof *ob->runs);
		mem_add(l, grown(was, ob->capruns, sizeof *ob->runs));
	}
	ob->runs[ob->nruns++] = r;
}

void ledger_outbox_append(ledger *l, uint32_t p, pend_op *op, uint32_t bytes, op_run run,
                          uint64_t wall_ms)
{
	open_batch *ob = &l->outbox.parts[p].open;
	if (run.n)
		run_push(l, ob, run);
	int64_t heap = (int64_t)ledger_op_heap(op);
	if (ob->len == ob->cap) {
		size_t was = ob->cap;
		ob->cap = ob->cap ? ob->cap * 2 : 64;
		ob->ops = xrealloc(ob->ops, ob->cap * sizeof *ob->ops);
		heap += grown(was, ob->cap, sizeof *ob->ops);
	}
	mem_add(l, heap);
	if (!ob->len)
		ob->first_ms = wall_ms;
	else if (ob->len == l->outbox.parts[p].sealing_n)
		l->outbox.parts[p].rest_first_ms = wall_ms; /* the first after a seal's */
	ob->ops[ob->len++] = *op;
	op->counter = NULL; /* the open batch owns the strings now */
	ob->bytes += bytes;
	l->st.pending_bytes += bytes;
	l->st.pending_ops++;
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

void ledger_outbox_order(ledger *l)
{
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		open_batch *ob = &l->outbox.parts[p].open;
		bool sorted = true;
		for (size_t i = 1; i < ob->len && sorted; i++)
			sorted = ob->ops[i - 1].opno < ob->ops[i].opno;
		if (sorted)
			continue;
		/* Each stretch is a record's ops in this partition, numbered
		 * without a gap, and no two overlap: sorting the stretches by
		 * their first op sorts the ops. */
		size_t *at = xmalloc(ob->nruns * sizeof *at),
		       *idx = xmalloc(ob->nruns * sizeof *idx);
		for (size_t r = 0, i = 0; r < ob->nruns; i += ob->runs[r++].n) {
			at[r] = i;
			idx[r] = r;
		}
		stretch_order so = {ob->ops, at};
		qsort_r(idx, ob->nruns, sizeof *idx, stretch_cmp, &so);
		pend_op *ops = xmalloc(ob->cap * sizeof *ops);
		op_run *runs = xmalloc(ob->capruns * sizeof *runs);
		size_t len = 0;
		for (size_t k = 0; k < ob->nruns; k++) {
			const op_run *r = &ob->runs[idx[k]];
			memcpy(ops + len, ob->ops + at[idx[k]], r->n * sizeof *ops);
			len += r->n;
			runs[k] = *r;
		}
		free(ob->ops);
		free(ob->runs);
		ob->ops = ops;
		ob->runs = runs;
		free(idx);
		free(at);
	}
}

/* --- the sealed batches ----------------------------------------------------- */

static void sealed_push(ledger *l, outbox_part *pt, uint64_t seq, uint32_t len, uint64_t first_ms)
{
	if (pt->nsealed == pt->capsealed) {
		size_t was = pt->capsealed;
		pt->capsealed = pt->capsealed ? pt->capsealed * 2 : 16;
		pt->sealed = xrealloc(pt->sealed, pt->capsealed * sizeof *pt->sealed);
		mem_add(l, grown(was, pt->capsealed, sizeof *pt->sealed));
	}
	pt->sealed[pt->nsealed++] = (sealed){
	    .seq = seq, .first_ms = first_ms, .len = len, .state = SEALED_UNSENT, .offset = -1};
}

uint64_t ledger_outbox_oldest_ms(const ledger *l, uint32_t p)
{
	const outbox_part *pt = &l->outbox.parts[p];
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
static int load_sealed_seq(ledger *l, uint32_t p, char *err, size_t errlen)
{
	outbox_part *pt = &l->outbox.parts[p];
	char key[EKEY_PART_LEN];
	char *buf;
	size_t len;
	/* A sequence read wrong would reuse numbers central has applied
	 * already: refuse to start rather than guess. */
	int rc = store_get(l->db, key, ekey_part(key, EKEY_SEALED, p), &buf, &len);
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
	pt->seq_known = rc == 0 || !l->o.seq_from_checkpoint;
	return 0;
}

int ledger_outbox_load_seqs(ledger *l, char *err, size_t errlen)
{
	char key[EKEY_PART_SEQ_LEN];
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		outbox_part *pt = &l->outbox.parts[p];
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
		rc = load_sealed_seq(l, p, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

int ledger_outbox_load_sealed_seqs(ledger *l, char *err, size_t errlen)
{
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		int rc = load_sealed_seq(l, p, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

void ledger_outbox_seqs_from_replica(ledger *l)
{
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		outbox_part *pt = &l->outbox.parts[p];
		if (pt->seq_known || !ledger_replica_complete(&l->replica, p))
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

int ledger_outbox_load_sealed(ledger *l, uint64_t *clock, char *err, size_t errlen)
{
	*clock = 0;
	const char *k, *v;
	size_t kn, vn;
	store_iter *it = store_iter_new(l->db, ekey_prefix(EKEY_BATCH), 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t p;
		uint64_t seq;
		if (!ekey_part_seq_parse(k, kn, &p, &seq))
			continue;
		if (p >= l->o.partitions || seq <= l->outbox.parts[p].applied)
			continue; /* confirmed; removed with the next snapshot */
		wire_batch b;
		if (wire_decode_batch(v, vn, &b)) {
			log_error("stored batch does not decode; it stays on disk",
			          "partition=%u seq=%" PRIu64, p, seq);
			continue;
		}
		char *flags = ledger_read_flags(&l->view, p, seq, b.nops);
		vstripe *vs = ledger_vstripe(&l->view, p);
		ledger_vlock_stripe(&l->view, vs); /* readers, at a promotion */
		ledger_batch_deltas(&b, flags, overlay_in, vs);
		ledger_view_holds_sealed(&l->view, p, seq);
		ledger_vunlock(&l->view, vs);
		free(flags);
		for (uint32_t i = 0; i < b.nops; i++)
			*clock = b.ops[i].hlc > *clock ? b.ops[i].hlc : *clock;
		for (uint32_t i = 0; i < b.nsums; i++)
			*clock = b.sums[i].hlc > *clock ? b.sums[i].hlc : *clock;
		wire_batch_free(&b);
		outbox_part *pt = &l->outbox.parts[p];
		sealed_push(l, pt, seq, (uint32_t)vn, 0);
		pt->sealed[pt->nsealed - 1].resend = true;
		l->st.pending_bytes += vn;
		l->st.pending_batches++;
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

/* A sealed batch's bytes at hand: just sealed, or read from the store
 * by ledger_pump. */
typedef struct batch_bytes {
	uint64_t seq; /* 0: none */
	const char *buf;
	size_t len;
} batch_bytes;

/* Sends p's unsent batches in sequence order. A batch goes out the first
 * time as soon as it is sealed; a resend only when it lies within the
 * first window_bytes of unapplied data. So when Kafka lost a backlog
 * larger than it keeps (central down for long), the resends drain at
 * central's pace instead of overflowing the broker again and again.
 * Sends from memory only: at a batch whose bytes are not in have, it
 * stops and returns its sequence (0: none wanted), for ledger_pump to
 * read with the mutex let go. Sends nothing while the changelog cannot
 * vouch that this instance is still the writer (may_send): it may have
 * been taken over from, and the pump that runs every second asks again. */
static uint64_t pump_part(ledger *l, uint32_t p, const batch_bytes *have)
{
	if (!l->o.log->may_send(l->o.log_ctx))
		return 0;
	outbox_part *pt = &l->outbox.parts[p];
	uint64_t window = 0;
	for (size_t i = 0; i < pt->nsealed; i++) {
		sealed *s = &pt->sealed[i];
		window += s->len;
		if (s->state != SEALED_UNSENT || i < pt->confirming)
			continue;
		if (s->resend && i > 0 && window > l->o.window_bytes)
			return 0;
		if (!have || have->seq != s->seq)
			return s->seq;
		if (send_one(l, p, s, have->buf, have->len))
			return 0;
		have = NULL;
	}
	return 0;
}

/* What ledger_pump reads outside the mutex: per partition, the batch its
 * pump stopped at, and the bytes read. */
typedef struct pump_read {
	uint32_t np;
	uint64_t *want; /* per partition: the sequence to read, or 0 */
	char **buf;
	size_t *len;
} pump_read;

static void pump_read_store(ledger *l, void *ctx)
{
	pump_read *r = ctx;
	for (uint32_t p = 0; p < r->np; p++) {
		if (!r->want[p])
			continue;
		char key[EKEY_PART_SEQ_LEN];
		int rc = store_get(l->db, key, ekey_part_seq(key, EKEY_BATCH, p, r->want[p]),
		                   &r->buf[p], &r->len[p]);
		if (rc == 0)
			continue;
		/* Confirmed meanwhile (deleted), it is no longer sent; any other
		 * failure waits for the next pump. */
		if (rc != ERR_NOTFOUND)
			log_error("sealed batch unreadable",
			          "partition=%u seq=%" PRIu64 " err=\"%s\"", p, r->want[p],
			          err_str(rc));
		r->buf[p] = NULL;
	}
}

/* The rounds of a pump: under the mutex each partition sends what it can
 * and names the next batch it must read; the reads run with the mutex let
 * go, and the next round sends what is still unsent. A partition whose
 * read failed sits out the rest of this pump, and there are at most as
 * many rounds as batches sealed when it began. */
void ledger_pump(ledger *l)
{
	if (ledger_following(l))
		return; /* nothing of its own to send */
	uint32_t np = l->o.partitions;
	pump_read r = {np, xcalloc(np, sizeof *r.want), xcalloc(np, sizeof *r.buf),
	               xcalloc(np, sizeof *r.len)};
	bool *out = xcalloc(np, sizeof *out);
	ledger_lock(l);
	/* At most a round per batch sealed now: delivery reports that put
	 * batches back to unsent meanwhile wait for the next pump. */
	size_t rounds = 1;
	for (uint32_t p = 0; p < np; p++)
		rounds += l->outbox.parts[p].nsealed;
	for (bool wanted = true; wanted && rounds--;) {
		wanted = false;
		for (uint32_t p = 0; p < np; p++) {
			uint64_t asked = r.want[p];
			batch_bytes have = {asked, r.buf[p], r.len[p]};
			bool got = asked && r.buf[p];
			uint64_t next = out[p] ? 0 : pump_part(l, p, got ? &have : NULL);
			if (next && next == asked && !got) { /* its read failed */
				out[p] = true;
				next = 0;
			}
			r.want[p] = next;
			free(r.buf[p]);
			r.buf[p] = NULL;
			wanted |= r.want[p] != 0;
		}
		if (wanted)
			ledger_outside(l, pump_read_store, &r);
	}
	ledger_unlock(l);
	free(out);
	free(r.want);
	free(r.buf);
	free(r.len);
}

uint64_t ledger_pump_memory(ledger *l, uint32_t p)
{
	return pump_part(l, p, NULL);
}

void ledger_delivered(ledger *l, uint32_t partition, uint64_t seq, int64_t offset)
{
	if (partition >= l->o.partitions)
		return;
	ledger_lock(l);
	sealed *s = sealed_find(&l->outbox.parts[partition], seq);
	if (s && s->state == SEALED_INFLIGHT) {
		s->state = offset >= 0 ? SEALED_DELIVERED : SEALED_UNSENT;
		s->offset = offset;
		if (offset >= 0)
			FAILPOINT("batch.delivered");
	}
	ledger_unlock(l);
}

/* --- sealing ---------------------------------------------------------------- */

/* Takes the first n ops of p's open batch off their records' counts,
 * staging into wb the deletion of each record left with none open (by <
 * 0: puts them back, after a failed write). */
static void seal_records(ledger *l, uint32_t p, size_t n, int by, store_batch *wb)
{
	const op_run *runs = l->outbox.parts[p].open.runs;
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
static void seal_runs(ledger *l, open_batch *ob, size_t n)
{
	size_t gone = 0;
	while (n && n >= ob->runs[gone].n) {
		n -= ob->runs[gone].n;
		if (!ob->runs[gone].rec->left) {
			free(ob->runs[gone].rec);
			mem_add(l, -(int64_t)memacct_chunk(sizeof(pend_rec)));
		}
		gone++;
	}
	if (n)
		ob->runs[gone].n -= (uint32_t)n;
	memmove(ob->runs, ob->runs + gone, (ob->nruns - gone) * sizeof *ob->runs);
	ob->nruns -= gone;
}

/* What a seal builds besides the wire batch: the 'D' flags of its ops and,
 * per sum, how many ops it adds up. */
typedef struct sealed_ops {
	char *flags;      /* b->nops */
	uint32_t *merged; /* b->nsums */
} sealed_ops;

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

/* A seal between its steps (ledger_seal): what it took from the open
 * batch under the mutex, and what its write made outside it. */
typedef struct seal_job {
	uint32_t p;
	ledger_seal_why why;
	size_t n;      /* ops taken: the first n of the open batch */
	bool took_all; /* n was all the open batch held */
	pend_op *ops;  /* copies; the open batch owns their strings until the
	                  write is known to have worked */
	uint64_t seq, sealed_to, wall_ms;
	uint64_t bytes; /* the ops' stored size */
	int64_t heap;   /* their strings' heap bytes */
	wire_batch b;
	sealed_ops so;
	char *buf; /* the encoded batch, len bytes */
	size_t len;
	uint64_t cpu_ns;
	int rc;
} seal_job;

/* Takes what p's open batch has to seal into j, after any seal under
 * way (one at a time, so that the record counts it takes off stand
 * until its write is known to have failed or not), and marks the
 * outbox sealing. false: nothing to seal. Mutex held (let go while it
 * waits). */
static bool seal_take(ledger *l, uint32_t p, ledger_seal_why why, uint64_t upto, uint64_t wall_ms,
                      seal_job *j) TSA_REQUIRES(LEDGER_MU(l))
{
	struct outbox *o = &l->outbox;
	while (o->sealing) {
		o->seal_waiters++;
		ledger_wait(l, &o->seal_done);
		o->seal_waiters--;
	}
	outbox_part *pt = &o->parts[p];
	open_batch *ob = &pt->open;
	if (!ob->len)
		return false;
	/* A full batch's seal that waited for another may find that one
	 * took the ops (two threads seal what their groups filled): a batch
	 * no longer full waits for more ops or its age. */
	if (why == LEDGER_SEAL_OPS && !ledger_outbox_full(l, p))
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
	size_t n = 0, most = ob->len < l->o.seal_ops ? ob->len : l->o.seal_ops;
	while (n < most && ob->ops[n].opno <= upto)
		n++;
	if (!n)
		return false;
	/* The first n ops stay where they are until the write is done, but
	 * the array may move as groups append to it: the seal works on
	 * copies, whose strings the open batch frees only after it. */
	*j = (seal_job){.p = p, .why = why, .n = n, .took_all = n == ob->len, .wall_ms = wall_ms};
	j->ops = xmalloc(n * sizeof *j->ops);
	memcpy(j->ops, ob->ops, n * sizeof *j->ops);
	j->seq = pt->last_seq + 1;
	j->sealed_to = j->ops[n - 1].opno + 1;
	pt->sealing_n = n;
	store_batch_clear(o->seal_wb);
	/* The records sealed whole go; the others stay for the partitions
	 * that still need them, and sealed_to keeps these ops out of them. */
	seal_records(l, p, n, 1, o->seal_wb);
	o->sealing = true;
	return true;
}

/* The seal's work outside the mutex (writes go on staging meanwhile, and
 * groups on joining the open batches): the ops' sizes, the wire batch
 * encoded into j->buf, and its store write with the records' deletions
 * (outbox.seal_wb, the sealing seal's alone). */
static void seal_run(ledger *l, void *ctx)
{
	seal_job *j = ctx;
	uint64_t c0 = clock_thread_cpu_ns();
	for (size_t i = 0; i < j->n; i++) {
		const pend_op *op = &j->ops[i];
		j->bytes += ledger_op_bytes(op);
		j->heap += (int64_t)ledger_op_heap(op);
	}
	j->b = (wire_batch){
	    .edge = wire_cstr(l->edge_id, strlen(l->edge_id)),
	    .region = wire_cstr(l->region, strlen(l->region)),
	    .partition = j->p,
	    .seq = j->seq,
	    .created_ms = j->wall_ms,
	};
	seal_build(j->ops, j->n, l->o.seal_sums, &j->b, &j->so);
	j->rc = wire_encode_batch(&j->b, &j->buf, &j->len);
	if (j->rc) {
		log_error("batch encoding failed", "partition=%u err=\"%s\"", j->p, err_str(j->rc));
	} else {
		store_batch *wb = l->outbox.seal_wb;
		char key[EKEY_PART_SEQ_LEN];
		store_batch_put(wb, key, ekey_part_seq(key, EKEY_BATCH, j->p, j->seq), j->buf,
		                j->len);
		store_batch_put(wb, key, ekey_part_seq(key, EKEY_FLAGS, j->p, j->seq), j->so.flags,
		                j->b.nops);
		ledger_sealed_put(wb, j->p, j->seq, j->sealed_to);
		FAILPOINT("seal.encoded");
		/* Replicated before it is written, and so before it is sent:
		 * no batch reaches central that the changelog does not hold. */
		j->rc = ledger_log_copy(l, wb, false);
		if (j->rc == 0) {
			FAILPOINT("seal.copied");
			j->rc = ledger_log_write(l, wb, wb, false);
		}
		if (j->rc == 0)
			FAILPOINT("seal.written");
	}
	j->cpu_ns = clock_thread_cpu_ns() - c0;
}

/* The seal's outcome into memory, under the mutex: on success the
 * sealed batch joins the sealed ones and goes out at once (from its
 * bytes, not read back), its ops leave the open batch, and each sum
 * stands for its ops in the overlay; on failure the records' counts
 * go back and the ops stay open. Either way the next seal may go. */
static void seal_settle(ledger *l, seal_job *j)
{
	struct outbox *o = &l->outbox;
	outbox_part *pt = &o->parts[j->p];
	open_batch *ob = &pt->open;
	l->st.seal_write_cpu_ns += j->cpu_ns;
	o->sealing = false;
	pt->sealing_n = 0;
	pthread_cond_broadcast(&o->seal_done);
	if (j->rc) {
		seal_records(l, j->p, j->n, -1, NULL);
		return;
	}
	vstripe *vs = ledger_vstripe(&l->view, j->p);
	ledger_vlock_stripe(&l->view, vs);
	for (uint32_t i = 0; i < j->b.nsums; i++)
		if (j->so.merged[i] > 1)
			ledger_overlay_merge(vs, j->b.sums[i].counter.p, j->b.sums[i].counter.n,
			                     j->b.sums[i].item.p, j->b.sums[i].item.n,
			                     j->so.merged[i]);
	ledger_view_sealed(&l->view, j->p, j->seq); /* before it can be sent */
	ledger_vunlock(&l->view, vs);
	seal_runs(l, ob, j->n);
	pt->last_seq = j->seq;
	pt->sealed_to = j->sealed_to;
	sealed_push(l, pt, j->seq, (uint32_t)j->len, hlc_ms(ob->ops[0].hlc));
	l->st.pending_bytes = l->st.pending_bytes - j->bytes + j->len;
	l->st.pending_ops -= j->n;
	l->st.pending_batches++;
	l->st.batches_sealed++;
	l->st.sealed_by[j->why]++;
	telemetry_batch_ops(l->o.tm, (uint32_t)j->n);
	memmove(ob->ops, ob->ops + j->n, (ob->len - j->n) * sizeof *ob->ops);
	ob->len -= j->n;
	ob->bytes -= j->bytes;
	/* Ops that came during the write start a new batch's age. */
	if (j->took_all && ob->len)
		ob->first_ms = pt->rest_first_ms;
	batch_bytes fresh = {j->seq, j->buf, j->len};
	(void)pump_part(l, j->p, &fresh); /* from its bytes, not read back */
}

/* What the seal made, freed outside the mutex: up to batch.max_ops frees.
 * After a written seal the copies hold the only pointers to the sealed
 * ops' strings; after a failed one the open batch still owns them. */
static void seal_release(ledger *l, void *ctx)
{
	seal_job *j = ctx;
	if (j->rc == 0) {
		for (size_t i = 0; i < j->n; i++)
			free(j->ops[i].counter);
		mem_add(l, -j->heap);
	}
	sealed_ops_free(&j->b, &j->so);
	free(j->ops);
	free(j->buf);
}

int ledger_seal(ledger *l, uint32_t p, uint64_t wall_ms, ledger_seal_why why, uint64_t upto)
{
	seal_job j;
	if (!seal_take(l, p, why, upto, wall_ms, &j))
		return 0;
	ledger_outside(l, seal_run, &j);
	seal_settle(l, &j);
	ledger_outside(l, seal_release, &j);
	return j.rc;
}

void ledger_outbox_seal_full(ledger *l, uint32_t p, uint64_t wall_ms)
{
	outbox_part *pt = &l->outbox.parts[p];
	while (ledger_outbox_full(l, p) && pt->seq_known) {
		int rc = ledger_seal(l, p, wall_ms, LEDGER_SEAL_OPS, UINT64_MAX);
		if (rc) {
			log_error("sealing failed; the ops stay pending", "partition=%u err=\"%s\"",
			          p, err_str(rc));
			return;
		}
	}
}

int ledger_outbox_seal_due(ledger *l, uint64_t wall_ms, bool force)
{
	int rc = 0;
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		outbox_part *pt = &l->outbox.parts[p];
		open_batch *ob = &pt->open;
		if (!ob->len)
			continue;
		/* The age is on the wall clock, as the ops' times are. A clock
		 * stepped back by more than an age seals at once; by less, the
		 * batch waits at most two ages. (Before, the bound was a minute:
		 * a step back of 30 s held a batch 30 s.) */
		ledger_seal_why why = force ? LEDGER_SEAL_DRAIN
		                      : wall_ms >= ob->first_ms + l->o.seal_age_ms ? LEDGER_SEAL_AGE
		                      : wall_ms + l->o.seal_age_ms < ob->first_ms
		                          ? LEDGER_SEAL_CLOCK
		                          : LEDGER_NSEALS;
		/* A backlog larger than one batch leaves in several: the ops
		 * open now, not those that come while a seal writes (with the
		 * mutex let go), which would keep this loop going. */
		uint64_t upto = ob->ops[ob->len - 1].opno;
		while (why != LEDGER_NSEALS && ob->len && pt->seq_known &&
		       ob->ops[0].opno <= upto) {
			int r = ledger_seal(l, p, wall_ms, why, upto);
			/* A copy the changelog refused (each waits its
			 * timeout): no other seal would fare better this
			 * tick, and the tick has snapshots to apply. */
			if (r == ERR_TIMEOUT || r == ERR_KAFKA)
				return r;
			if (r) {
				if (!rc)
					rc = r;
				break;
			}
		}
	}
	return rc;
}

/* --- inspect ---------------------------------------------------------------- */

void ledger_outbox_inspect(const ledger *l, uint32_t p, ledger_part_state *ps)
{
	const outbox_part *pt = &l->outbox.parts[p];
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
