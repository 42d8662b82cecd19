/* ledger_confirm.c - what central's snapshots say of this edge's batches
 * (outbox_int.h): per partition, the applied sequence they confirm, the
 * confirmed batches dropped from the store, memory and the overlay, the
 * batches central read past without applying sent again, and what the
 * snapshots said last (the partition's version, the newest seen, the
 * batch sequence to go on from after a rebuild).
 *
 * Works on struct outbox, which ledger_outbox.c keeps (the open and
 * sealed batches, their sending): this file changes only its confirmation
 * fields (applied, the snapshot positions, confirming, the sequence a
 * checkpoint sets) and drops confirmed batches from its sealed index.
 * Under the writer mutex but where a function says otherwise (the read
 * of the confirmed batches runs with only the count writers' mutex).
 */
#include "edge/ledger/outbox_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "version.h"
#include "xmem.h"

/* Confirmed entries taken off the overlay a few at a time, their
 * slots asked for first, so their cache misses overlap. */
#define OUT_AHEAD 8

/* Drops confirmed batches [0, ndrop) of p from memory and the overlay
 * (c->out: each op takes out what it put in, nothing for a repeat). */
static void drop_confirmed(struct outbox *ob, uint32_t p, const ledger_confirm *c)
{
	outbox_part *pt = &ob->parts[p];
	vstripe *vs = ledger_vstripe(ob->view, p);
	for (size_t i = 0; i < c->nout; i += OUT_AHEAD) {
		size_t m = c->nout - i < OUT_AHEAD ? c->nout - i : OUT_AHEAD;
		for (size_t j = 0; j < m; j++)
			smap_prefetch(&vs->overlay, c->out[i + j].h);
		for (size_t j = 0; j < m; j++) {
			const ledger_out *o = &c->out[i + j];
			ledger_overlay_remove_h(vs, c->keys.p + o->at, o->kn, o->h, o->delta);
		}
	}
	for (size_t i = 0; i < c->ndrop; i++) {
		ob->st.pending_bytes -= pt->sealed[i].len;
		ob->st.pending_batches--;
		ob->st.batches_applied++;
	}
	if (c->ndrop) {
		memmove(pt->sealed, pt->sealed + c->ndrop,
		        (pt->nsealed - c->ndrop) * sizeof *pt->sealed);
		pt->nsealed -= c->ndrop;
	}
}

/* What s says central applied of this edge's batches of its partition
 * (0 when it names this edge not), and the lowest it holds after a gap. */
static void edge_word(const struct outbox *ob, const wire_snapshot *s, uint64_t *applied,
                      uint64_t *held)
{
	*applied = *held = 0;
	for (uint32_t i = 0; i < s->nedges; i++) {
		const wire_edge_seq *e = &s->edges[i];
		if (e->edge.n == strlen(ob->edge_id) &&
		    memcmp(e->edge.p, ob->edge_id, e->edge.n) == 0) {
			if (e->applied > *applied)
				*applied = e->applied;
			*held = e->held;
		}
	}
}

void ledger_confirm_stage(struct outbox *ob, store_batch *wb, uint32_t p, const wire_snapshot *s,
                          ledger_confirm *c)
{
	outbox_part *pt = &ob->parts[p];
	char key[EKEY_PART_SEQ_LEN];
	unsigned char val[24];
	uint64_t said;
	edge_word(ob, s, &said, &c->held);
	c->applied = said > pt->applied ? said : pt->applied;
	c->ndrop = 0;
	while (c->ndrop < pt->nsealed && pt->sealed[c->ndrop].seq <= c->applied)
		c->ndrop++;
	c->drop = xcalloc(c->ndrop + 1, sizeof *c->drop);
	/* With a changelog the deletions go there too, so that a store
	 * rebuilt from it holds only the batches central had not applied. */
	if (c->ndrop)
		c->rep = store_batch_new();
	for (size_t i = 0; i < c->ndrop; i++) {
		c->drop[i] = pt->sealed[i].seq;
		store_batch *to[2] = {wb, c->rep};
		for (int k = 0; k < 2 && to[k]; k++) {
			store_batch_del(to[k], key, ekey_part_seq(key, EKEY_BATCH, p, c->drop[i]));
			store_batch_del(to[k], key, ekey_part_seq(key, EKEY_FLAGS, p, c->drop[i]));
		}
	}
	pt->confirming = c->ndrop;
	uint64_t version = s->offset > pt->snap_offset ? s->offset : pt->snap_offset;
	uint64_t produced = s->offset >= pt->snap_offset ? s->produced_ms : pt->snap_ms;
	store_put_u64(val, c->applied);
	store_put_u64(val + 8, version);
	store_put_u64(val + 16, produced);
	store_batch_put(wb, key, ekey_part(key, EKEY_APPLIED, p), val, 24);
}

/* ledger_batch_deltas callback: one entry of a confirmed batch into
 * ctx's (a ledger_confirm's) out, its pair key made and hashed now,
 * outside the locks. */
static void out_entry(void *ctx, wire_str counter, wire_str item, int64_t delta)
{
	ledger_confirm *c = ctx;
	if (counter.n > COUNTER_MAX || item.n > ITEM_MAX)
		return;
	char key[EKEY_PAIR_MAX];
	size_t kn = ekey_pair(key, counter.p, counter.n, item.p, item.n);
	c->out[c->nout++] = (ledger_out){c->keys.len, (uint32_t)kn, smap_hash(key, kn), delta};
	sbuf_put(&c->keys, key, kn);
}

void ledger_confirm_read(const struct outbox *ob, uint32_t p, ledger_confirm *c)
{
	char key[EKEY_PART_SEQ_LEN];
	size_t cap = 0;
	for (size_t i = 0; i < c->ndrop; i++) {
		uint64_t seq = c->drop[i];
		char *batch;
		size_t len;
		int rc =
		    store_get(ob->db, key, ekey_part_seq(key, EKEY_BATCH, p, seq), &batch, &len);
		/* Either way its ops stay in the overlay, counted twice beside
		 * the snapshot's count, until a restart rebuilds the overlay. */
		if (rc) {
			log_error("confirmed batch unreadable; its ops stay in the counts shown",
			          "partition=%u seq=%" PRIu64 " err=\"%s\"", p, seq, err_str(rc));
			continue;
		}
		wire_batch b;
		if (wire_decode_batch(batch, len, &b) != 0) {
			log_error(
			    "confirmed batch does not decode; its ops stay in the counts shown",
			    "partition=%u seq=%" PRIu64, p, seq);
			free(batch);
			continue;
		}
		size_t need = c->nout + b.nops + b.nsums;
		if (need > cap) {
			cap = need > 2 * cap ? need : 2 * cap; /* a few reallocs, not one a batch */
			c->out = xrealloc(c->out, cap * sizeof *c->out);
		}
		/* The 'D' flags: which ops moved the overlay (all, without). */
		char *flags = ledger_read_flags(ob->view, p, seq, b.nops);
		ledger_batch_deltas(&b, flags, out_entry, c);
		free(flags);
		wire_batch_free(&b);
		free(batch);
	}
}

void ledger_confirm_view(struct outbox *ob, uint32_t p, const wire_snapshot *s, ledger_confirm *c)
{
	outbox_part *pt = &ob->parts[p];
	c->again = s->offset == pt->snap_offset && pt->snap_offset > 0;
	/* Versions carry central's input epoch: in a new one the offsets
	 * below are of another log, and every batch not applied yet may be
	 * lost with the old one. */
	c->new_epoch =
	    pt->snap_offset > 0 && version_epoch(s->offset) > version_epoch(pt->snap_offset);
	drop_confirmed(ob, p, c);
	pt->confirming = 0;
	pt->applied = c->applied;
	if (s->offset >= pt->snap_offset) {
		pt->snap_offset = s->offset;
		pt->snap_ms = s->produced_ms;
	}
}

view_said ledger_outbox_said(const struct outbox *ob, uint32_t p)
{
	const outbox_part *pt = &ob->parts[p];
	bool checks = pt->seq_known && ob->logged;
	return (view_said){.snap_offset = pt->snap_offset,
	                   .snap_ms = pt->snap_ms,
	                   .applied = pt->applied,
	                   .sealed = checks ? pt->last_seq : UINT64_MAX};
}

void ledger_confirm_overtaken(struct outbox *ob, uint32_t p, const wire_snapshot *s)
{
	const outbox_part *pt = &ob->parts[p];
	if (!pt->seq_known || !ob->logged)
		return;
	uint64_t applied, held;
	edge_word(ob, s, &applied, &held);
	if (applied > pt->last_seq && ledger_view_overtake(ob->view))
		log_error("central applied batches of this edge that this instance never sealed: "
		          "another instance writes as this edge (or this store and its log are "
		          "older than central's word of it); its counts are refused from now on",
		          "partition=%u sealed=%" PRIu64 " central_applied=%" PRIu64
		          " offset=%" PRIu64,
		          p, pt->last_seq, applied, s->offset);
}

uint64_t ledger_outbox_sealed_to(const struct outbox *ob, uint32_t p)
{
	return ob->parts[p].sealed_to;
}

void ledger_confirm_abort(struct outbox *ob, uint32_t p)
{
	ob->parts[p].confirming = 0; /* not deleted: they may be sent again */
}

bool ledger_snap_stale(const struct outbox *ob, uint32_t p, uint64_t offset)
{
	const outbox_part *pt = &ob->parts[p];
	uint64_t newest = pt->snap_offset > pt->snap_seen ? pt->snap_offset : pt->snap_seen;
	return offset < newest;
}

void ledger_snap_seen_stage(const struct outbox *ob, store_batch *wb, uint32_t p, uint64_t offset)
{
	if (offset <= ob->parts[p].snap_seen)
		return;
	char key[EKEY_PART_LEN];
	unsigned char val[8];
	store_put_u64(val, offset);
	store_batch_put(wb, key, ekey_part(key, EKEY_SNAP_SEEN, p), val, 8);
}

void ledger_snap_seen(struct outbox *ob, uint32_t p, uint64_t offset)
{
	outbox_part *pt = &ob->parts[p];
	if (offset > pt->snap_seen) {
		pt->snap_before = pt->snap_seen;
		pt->snap_seen = offset;
	}
}

uint64_t ledger_snap_newest(const struct outbox *ob, uint32_t p)
{
	return ob->parts[p].snap_seen;
}

uint64_t ledger_snap_before(const struct outbox *ob, uint32_t p, uint64_t offset)
{
	const outbox_part *pt = &ob->parts[p];
	return offset > pt->snap_seen ? pt->snap_seen : pt->snap_before;
}

bool ledger_seq_stage(const struct outbox *ob, store_batch *wb, uint32_t p, uint64_t applied,
                      uint64_t *seq)
{
	const outbox_part *pt = &ob->parts[p];
	if (pt->seq_known)
		return false;
	*seq = applied > pt->last_seq ? applied : pt->last_seq;
	/* Written even when 0: a restart must know it is known. */
	ledger_sealed_put(wb, p, *seq, pt->sealed_to);
	return true;
}

void ledger_seq_known(struct outbox *ob, uint32_t p, uint64_t seq)
{
	outbox_part *pt = &ob->parts[p];
	pt->last_seq = seq;
	pt->seq_known = true;
}

bool ledger_confirm_finish(struct outbox *ob, uint32_t p, const wire_snapshot *s, ledger_confirm *c)
{
	outbox_part *pt = &ob->parts[p];
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
	return ledger_outbox_send(ob, p, NULL) != 0;
}

void ledger_confirm_free(ledger_confirm *c)
{
	free(c->out);
	c->out = NULL;
	c->nout = 0;
	sbuf_free(&c->keys);
	free(c->drop);
	c->drop = NULL;
	store_batch_free(c->rep);
	c->rep = NULL;
}
