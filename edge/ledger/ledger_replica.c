/* ledger_replica.c - the edge's complete replica of central's counts
 * (ledger.h): per partition, whether every count central has is here,
 * and the loading of central's checkpoints.
 *
 * A partition's replica is complete once a whole checkpoint of it has
 * been loaded: every count central held at the checkpoint's version, on
 * top of which the snapshot stream (tailed from a point before the
 * checkpoint was read) brings every later change. From then on an item
 * with no count here is 0 at the partition's version, a true answer.
 *
 * The state lives in the 'R' partition key, written in the same store
 * write as the counts it describes:
 *   [state u8][lowest version u64][highest version u64][loaded u64]
 *   [resume key: "counter 0 item", the last count loaded; may be empty]
 * A load cut off by a broken connection or a restart resumes after that
 * key, from a later read of central's store. Its messages then carry a
 * later version than the first ones: the partition counts as complete
 * only to the lowest, so the snapshots between the two are applied (each
 * count checked against the version stored with it) rather than skipped
 * as stale.
 *
 * Owns struct replica (replica_int.h: under the writer mutex). A load's
 * counts go through the view's functions, its last message's edge list
 * through the outbox's confirmation, as a snapshot's do; what readers
 * see (complete or not, the counts) is published after the store write,
 * under the partition's view stripe.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/ledger/ledger_int.h"
#include "log.h"
#include "xmem.h"

#define RHEAD 25 /* state + three u64 */

/* Puts rp, partition p's replica state, into wb as its 'R' record. */
static void replica_put(store_batch *wb, uint32_t p, const replica_part *rp)
{
	unsigned char val[RHEAD + KEY_MAX];
	char key[EKEY_PART_LEN];
	val[0] = (unsigned char)rp->state;
	store_put_u64(val + 1, rp->ckpt_lo);
	store_put_u64(val + 9, rp->ckpt_hi);
	store_put_u64(val + 17, rp->loaded);
	memcpy(val + RHEAD, rp->after, rp->after_len);
	store_batch_put(wb, key, ekey_part(key, EKEY_REPLICA, p), val, RHEAD + rp->after_len);
}

int ledger_replica_load(ledger *l, char *err, size_t errlen)
{
	char key[EKEY_PART_LEN];
	unsigned char val[RHEAD + KEY_MAX];
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		replica_part *rp = &l->replica.parts[p];
		size_t vn;
		int rc = store_get_into(l->db, key, ekey_part(key, EKEY_REPLICA, p), val,
		                        sizeof val, &vn);
		if (rc == ERR_NOTFOUND)
			continue;
		if (rc == 0 && (vn < RHEAD || val[0] < LEDGER_REPLICA_LOADING ||
		                val[0] > LEDGER_REPLICA_COMPLETE))
			rc = ERR_CORRUPT;
		if (rc) {
			snprintf(err, errlen, "reading the replica state of partition %u: %s", p,
			         err_str(rc));
			return rc;
		}
		rp->state = val[0];
		rp->ckpt_lo = store_get_u64(val + 1);
		rp->ckpt_hi = store_get_u64(val + 9);
		rp->loaded = store_get_u64(val + 17);
		rp->after_len = vn - RHEAD;
		memcpy(rp->after, val + RHEAD, rp->after_len);
	}
	return 0;
}

int ledger_replica_get(ledger *l, uint32_t p, ledger_replica *out)
{
	if (p >= l->o.partitions)
		return ERR_INVAL;
	memset(out, 0, sizeof *out);
	ledger_lock(l);
	const replica_part *rp = &l->replica.parts[p];
	out->state = rp->state;
	out->gen = rp->gen;
	out->version = rp->ckpt_lo;
	out->loaded = rp->loaded;
	if (rp->state == LEDGER_REPLICA_LOADING && rp->after_len) {
		const char *z = memchr(rp->after, 0, rp->after_len);
		size_t cl = z ? (size_t)(z - rp->after) : 0;
		size_t il = z ? rp->after_len - cl - 1 : 0;
		if (z && cl && cl <= COUNTER_MAX && il && il <= ITEM_MAX) {
			out->resume = true;
			memcpy(out->counter, rp->after, cl);
			memcpy(out->item, z + 1, il);
		}
	}
	ledger_unlock(l);
	return 0;
}

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
	replica_part next = l->replica.parts[p];
	ledger_unlock(l);
	next.state = LEDGER_REPLICA_LOADING;
	next.gen++;
	next.ckpt_lo = next.ckpt_hi = next.loaded = 0;
	next.after_len = 0;
	store_batch_clear(l->snap_wb);
	replica_put(l->snap_wb, p, &next);
	if (tail >= 0) {
		store_put_u64(val, (uint64_t)tail);
		store_batch_put(l->snap_wb, key, ekey_part(key, EKEY_SNAP_OFFSET, p), val, 8);
	}
	int rc = store_write(l->db, l->snap_wb);
	if (rc == 0) {
		ledger_lock(l);
		l->replica.parts[p] = next;
		vstripe *vs = ledger_stripe(l, p);
		ledger_vlock_stripe(l, vs);
		ledger_view_publish(l, p, ledger_outbox_said(l, p));
		ledger_vunlock(l, vs);
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
		ledger_confirm_stage(l, l->snap_wb, w->p, eff, &w->conf);
		*seq_new = ledger_seq_stage(l, l->snap_wb, w->p, w->conf.applied, seq);
	}
	replica_put(l->snap_wb, w->p, nrp);
}

/* After the write: the replica's new state takes the old one's place and,
 * with the last message, the partition may seal and resends what central
 * passed over. */
static void checkpoint_settle(ledger *l, count_write *w, const wire_snapshot *eff, bool seq_new,
                              uint64_t seq)
{
	replica_part *rp = &l->replica.parts[w->p];
	if (!w->s->last)
		return;
	if (seq_new)
		ledger_seq_known(l, w->p, seq);
	ledger_snap_seen(l, w->p, eff->offset);
	w->pump = ledger_confirm_finish(l, w->p, eff, &w->conf);
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
	replica_part *rp = &l->replica.parts[w.p];
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
		w.rc = ledger_view_put_counts(l, l->snap_wb, s, true,
		                              ledger_snap_before(l, w.p, s->offset), w.skip);
	}
	bool staged = w.rc == 0;
	ledger_lock(l);
	replica_part nrp = *rp;
	if (staged) {
		checkpoint_stage(l, &w, &nrp, &eff, &seq_new, &seq);
		ledger_count_begin(l, &w);
	}
	ledger_unlock(l);
	if (staged) {
		ledger_count_store(l, &w);
		ledger_lock(l);
		if (w.rc == 0)
			*rp = nrp; /* before the view shows whether it is complete */
		ledger_count_show(l, &w);
		if (w.rc == 0)
			checkpoint_settle(l, &w, &eff, seq_new, seq);
		ledger_unlock(l);
	}
	ledger_unlock_counts(l);
	return ledger_count_done(l, &w);
}

uint32_t ledger_replica_ready(ledger *l, uint64_t *loaded)
{
	uint32_t n = 0;
	uint64_t sum = 0;
	ledger_lock(l);
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		n += l->replica.parts[p].state == LEDGER_REPLICA_COMPLETE;
		sum += l->replica.parts[p].loaded;
	}
	ledger_unlock(l);
	if (loaded)
		*loaded = sum;
	return n;
}

void ledger_replica_init(ledger *l)
{
	l->replica.parts = xcalloc(l->o.partitions, sizeof *l->replica.parts);
}

void ledger_replica_free(ledger *l)
{
	free(l->replica.parts);
	l->replica.parts = NULL;
}

uint64_t ledger_replica_ckpt_hi(const ledger *l, uint32_t p)
{
	return l->replica.parts[p].ckpt_hi;
}

bool ledger_replica_complete(const ledger *l, uint32_t p)
{
	return l->replica.parts[p].state == LEDGER_REPLICA_COMPLETE;
}
