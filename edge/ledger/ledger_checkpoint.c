/* ledger_checkpoint.c - loading central's checkpoints into the replica
 * (ledger.h: ledger_replica_begin, ledger_replica_apply; the replica's
 * state and its 'R' record are ledger_replica.c's). A load's counts go
 * through the view's functions and the count write (ledger_count.c),
 * its last message's edge list through the outbox's confirmation, as a
 * snapshot's do; what readers see (complete or not, the counts) is
 * published after the store write, under the partition's view stripe.
 * The bootstrap thread's (one load at a time, under the count writers'
 * mutex).
 */
#include "edge/ledger/ledger_int.h"

#include <inttypes.h>
#include <stdlib.h>

#include "log.h"
#include "xmem.h"

int ledger_replica_begin(ledger *l, uint32_t p, int64_t tail)
{
	if (p >= l->o.partitions)
		return ERR_INVAL;
	char key[EKEY_PART_LEN];
	unsigned char val[8];
	/* The count writers' mutex keeps every other replica writer out
	 * throughout; the writer mutex is held only to read the state and to
	 * put the new one in its place after the write, as a checkpoint
	 * message does. */
	ledger_lock_counts(l);
	ledger_lock(l);
	replica_part next = *ledger_replica_part(&l->replica, p);
	ledger_unlock(l);
	next.state = LEDGER_REPLICA_LOADING;
	next.gen++;
	next.ckpt_lo = next.ckpt_hi = next.loaded = 0;
	next.after_len = 0;
	store_batch_clear(l->snap_wb);
	ledger_replica_put(l->snap_wb, p, &next);
	if (tail >= 0) {
		store_put_u64(val, (uint64_t)tail);
		store_batch_put(l->snap_wb, key, ekey_part(key, EKEY_SNAP_OFFSET, p), val, 8);
	}
	int rc = store_write(l->db, l->snap_wb);
	if (rc == 0) {
		ledger_lock(l);
		ledger_replica_set(&l->replica, p, &next);
		vstripe *vs = ledger_vstripe(&l->view, p);
		ledger_vlock_stripe(&l->view, vs);
		ledger_view_publish(&l->view, p, ledger_outbox_said(&l->outbox, p));
		ledger_vunlock(&l->view, vs);
		ledger_unlock(l);
	}
	ledger_unlock_counts(l);
	return rc;
}

/* Stages into snap_wb, after checkpoint message s's counts, the
 * replica's new state in nrp and, with the last message, what it
 * confirms of this edge's batches (as of eff: complete to the lowest
 * version loaded) and the batch sequence to go on from, into *seq, when
 * p has none. Mutex held. */
static void checkpoint_stage(ledger *l, count_write *w, replica_part *nrp, wire_snapshot *eff,
                             bool *seq_new, uint64_t *seq)
{
	const wire_snapshot *s = w->s;
	if (!nrp->ckpt_lo || s->offset < nrp->ckpt_lo)
		nrp->ckpt_lo = s->offset;
	if (s->offset > nrp->ckpt_hi)
		nrp->ckpt_hi = s->offset;
	nrp->loaded += s->ncounts;
	if (s->ncounts) {
		const wire_count *c = &s->counts[s->ncounts - 1];
		if (c->counter.n <= COUNTER_MAX && c->item.n <= ITEM_MAX)
			nrp->after_len =
			    ekey_pair(nrp->after, c->counter.p, c->counter.n, c->item.p, c->item.n);
	}
	/* The partition is complete to the lowest version loaded: the
	 * snapshots above it still apply (checked per count). */
	*eff = *s;
	eff->offset = nrp->ckpt_lo;
	if (s->last) {
		nrp->state = LEDGER_REPLICA_COMPLETE;
		nrp->after_len = 0;
		w->confirm = eff;
		ledger_confirm_stage(&l->outbox, l->snap_wb, w->p, eff, &w->conf);
		/* A follower's sequences are the active's, from the
		 * changelog: one of its own could land after a newer one
		 * there. */
		*seq_new = !ledger_following(l) &&
		           ledger_seq_stage(&l->outbox, l->snap_wb, w->p, w->conf.applied, seq);
	}
	ledger_replica_put(l->snap_wb, w->p, nrp);
}

/* After the write: the replica's new state takes the old one's place and,
 * with the last message, the partition may seal and resends what central
 * passed over. */
static void checkpoint_settle(ledger *l, count_write *w, const wire_snapshot *eff, bool seq_new,
                              uint64_t seq)
{
	const replica_part *rp = ledger_replica_part(&l->replica, w->p);
	if (!w->s->last)
		return;
	if (seq_new) {
		ledger_seq_known(&l->outbox, w->p, seq);
		/* The view's word of the last sealed sequence, now known. */
		vstripe *vs = ledger_vstripe(&l->view, w->p);
		ledger_vlock_stripe(&l->view, vs);
		ledger_view_publish(&l->view, w->p, ledger_outbox_said(&l->outbox, w->p));
		ledger_vunlock(&l->view, vs);
	}
	ledger_snap_seen(&l->outbox, w->p, eff->offset);
	w->pump = ledger_confirm_finish(&l->outbox, w->p, eff, &w->conf);
	log_info("replica complete",
	         "partition=%u version=%" PRIu64 " to_version=%" PRIu64 " counts=%" PRIu64, w->p,
	         rp->ckpt_lo, rp->ckpt_hi, rp->loaded);
}

int ledger_replica_apply(ledger *l, const wire_snapshot *s, uint32_t gen)
{
	if (s->partition >= l->o.partitions)
		return ERR_CORRUPT;
	/* As with a snapshot (ledger.c): staged under the writer mutex,
	 * written without it, memory changed after the write. The replica's
	 * new state is built in nrp and takes rp's place only then. */
	count_write w = {.p = s->partition, .s = s, .only_cached = true};
	const replica_part *rp = ledger_replica_part(&l->replica, w.p);
	wire_snapshot eff;
	bool seq_new = false;
	uint64_t seq = 0;
	ledger_lock_counts(l);
	store_batch_clear(l->snap_wb);
	/* The replica's state and the counts' stored versions change only
	 * under cmu, which is held: checked and read before the writer
	 * mutex. */
	if (rp->state != LEDGER_REPLICA_LOADING || rp->gen != gen) {
		w.rc = ERR_AGAIN;
	} else {
		w.skip = xcalloc(s->ncounts + 1, sizeof *w.skip);
		w.rc =
		    ledger_view_put_counts(&l->view, l->snap_wb, s, true,
		                           ledger_snap_before(&l->outbox, w.p, s->offset), w.skip);
	}
	bool staged = w.rc == 0;
	ledger_lock(l);
	replica_part nrp = *rp;
	if (staged) {
		/* Before its counts are shown, as a snapshot's (ledger.c). */
		if (!ledger_following(l))
			ledger_confirm_overtaken(&l->outbox, w.p, s);
		checkpoint_stage(l, &w, &nrp, &eff, &seq_new, &seq);
		ledger_count_begin(l, &w);
	}
	ledger_unlock(l);
	if (staged) {
		ledger_count_store(l, &w);
		ledger_lock(l);
		if (w.rc == 0)
			ledger_replica_set(&l->replica, w.p, &nrp); /* before the view shows it */
		ledger_count_show(l, &w);
		if (w.rc == 0)
			checkpoint_settle(l, &w, &eff, seq_new, seq);
		ledger_unlock(l);
	}
	ledger_unlock_counts(l);
	return ledger_count_done(l, &w);
}
