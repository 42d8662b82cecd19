/* ledger.c - the edge's ledger as a whole (ledger.h): opening it and
 * recovering its state from the store, closing it, and the entry points
 * that tie its concepts together: sealing what is due (the commit, the
 * view's kept counts, the outbox), applying a snapshot (the view's counts
 * and the outbox's confirmation in one store write), snapshot resume
 * points, stats and inspect.
 *
 * The concepts and their state are in ledger_group.c, ledger_outbox.c,
 * ledger_view.c and ledger_replica.c (each declared in its own header,
 * commit_int.h and the others, with the lock that guards it), and the
 * steps around the writer mutex in ledger_commit.c and ledger_seal.c; a
 * snapshot's store write is the count write of ledger_count.c. Every entry point here takes the
 * writer mutex, and a partition's view stripe where it reads or changes what readers see. The store
 * handle is borrowed.
 */
#include "edge/ledger/ledger_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "xmem.h"

/* --- recovery --------------------------------------------------------------- */

/* A pending op read back at start-up (the first of a stretch of record
 * ops when run.n is set) into its open batch and the overlay. */
static void load_op(ledger *l, uint32_t p, pend_op op, op_run run, uint64_t now)
{
	size_t cl = strlen(op.counter), il = strlen(op.item);
	size_t bytes = ledger_op_bytes(&op);
	ledger_opno_seen(&l->commit, p, op.opno);
	ledger_clock_seen(&l->commit, op.hlc);
	vstripe *vs = ledger_vstripe(&l->view, p);
	ledger_vlock_stripe(&l->view, vs); /* readers, at a promotion */
	ledger_overlay_add(vs, op.counter, cl, op.item, il,
	                   ledger_op_delta(op.kind, op.n, op.counts));
	ledger_vunlock(&l->view, vs);
	ledger_outbox_append(&l->outbox, p, &op, (uint32_t)bytes, run, now);
}

/* Where part's ops still open begin: those below their partition's
 * sealed_to are in a sealed batch already. */
static uint32_t open_from(const ledger *l, const grec_part *part)
{
	uint64_t to = ledger_outbox_sealed_to(&l->outbox, part->p);
	uint32_t i = 0;
	while (i < part->n && part->ops[i].opno < to)
		i++;
	return i;
}

/* One record's ops read back (its parts, decoded) into the open batches;
 * the ops they take become NULL in parts. A record with no open op left
 * (its seal would have deleted it: not written by this code) stays. */
static void load_record(ledger *l, const char *key, size_t kn, grec_part *parts, uint32_t nparts,
                        uint64_t now)
{
	uint32_t open = 0;
	for (uint32_t i = 0; i < nparts; i++)
		open += parts[i].n - open_from(l, &parts[i]);
	if (!open) {
		log_warn("pending record with every op sealed; it stays on disk", "tag=%c", key[0]);
		return;
	}
	pend_rec *rec = ledger_outbox_record(&l->outbox, key, kn, open);
	for (uint32_t i = 0; i < nparts; i++) {
		grec_part *part = &parts[i];
		uint32_t from = open_from(l, part);
		for (uint32_t j = from; j < part->n; j++) {
			op_run run = {0};
			if (j == from)
				run = (op_run){rec, part->n - from};
			load_op(l, part->p, part->ops[j], run, now);
			part->ops[j].counter = NULL;
		}
	}
}

/* Decodes a record of tag at k into its parts; 0 or ERR_CORRUPT. */
static int decode_record(const ledger *l, enum ekey_tag tag, const char *k, size_t kn,
                         const char *v, size_t vn, grec_part **parts, uint32_t *nparts)
{
	const unsigned char *b = (const unsigned char *)v;
	uint64_t gno;
	if (tag == EKEY_GROUP)
		return ekey_group_parse(k, kn, &gno)
		           ? ledger_grec_decode(b, vn, l->o.partitions, parts, nparts)
		           : ERR_CORRUPT;
	uint32_t p;
	uint64_t opno;
	if (!ekey_part_seq_parse(k, kn, &p, &opno) || p >= l->o.partitions)
		return ERR_CORRUPT;
	grec_part *one = xcalloc(1, sizeof *one);
	one->p = p;
	int rc;
	if (tag == EKEY_RUN) {
		rc = ledger_run_decode(b, vn, opno, &one->ops, &one->n);
	} else {
		one->ops = xcalloc(1, sizeof *one->ops);
		rc = ledger_op_decode(b, vn, one->ops);
		one->ops->opno = opno;
		one->n = rc ? 0 : 1;
	}
	if (rc) {
		ledger_grec_free(one, 1);
		return ERR_CORRUPT;
	}
	*parts = one;
	*nparts = 1;
	return 0;
}

/* Reads the pending records of one tag ('G' group records; 'O' an op
 * each and 'P' runs, of older stores and of partitions waiting for a
 * checkpoint) into the open batches. A record that does not decode stays
 * on disk, out of the batches. 0, ERR_CORRUPT (a group number no new one
 * can follow), or the store's error. */
static int load_pending(ledger *l, enum ekey_tag tag)
{
	const char *k, *v;
	size_t kn, vn;
	uint64_t now = clock_wall_ms();
	int rc = 0;
	store_iter *it = store_iter_new(l->db, ekey_prefix(tag), 1);
	while (rc == 0 && store_iter_next(it, &k, &kn, &v, &vn)) {
		uint64_t gno = 0;
		/* No new group record may take the number of one on disk,
		 * whether it decodes or not. */
		if (tag == EKEY_GROUP && ekey_group_parse(k, kn, &gno)) {
			if (gno == UINT64_MAX)
				rc = ERR_CORRUPT;
			else
				ledger_gno_seen(&l->commit, gno);
		}
		grec_part *parts;
		uint32_t nparts;
		if (rc || decode_record(l, tag, k, kn, v, vn, &parts, &nparts)) {
			uint32_t p = 0;
			uint64_t no = gno;
			/* A new run takes no key of one left on disk. */
			if (tag != EKEY_GROUP && ekey_part_seq_parse(k, kn, &p, &no) &&
			    p < l->o.partitions)
				ledger_opno_seen(&l->commit, p, no);
			log_error("pending ops do not decode; they stay on disk",
			          "tag=%c key_bytes=%zu partition=%u number=%" PRIu64, tag, kn, p,
			          no);
			continue;
		}
		load_record(l, k, kn, parts, nparts, now);
		ledger_grec_free(parts, nparts);
	}
	int src = store_iter_status(it);
	store_iter_free(it);
	return rc ? rc : src;
}

/* New ops are numbered above every sealed one, even when no record
 * holds one of a partition's ops any more: after the outbox read its
 * sequences ('S'). */
static void opnos_above_sealed(ledger *l)
{
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		uint64_t to = ledger_outbox_sealed_to(&l->outbox, p);
		if (to)
			ledger_opno_seen(&l->commit, p, to - 1);
	}
}

/* The writer's state: the sealed batches, then the open batches' ops. */
static int load_writer(ledger *l, char *err, size_t errlen)
{
	ledger_outbox_seqs_from_replica(&l->outbox, &l->replica);
	uint64_t clock;
	int rc = ledger_outbox_load_sealed(&l->outbox, &clock, err, errlen);
	ledger_clock_seen(&l->commit, clock);
	if (rc)
		return rc;
	/* Single ops ('O', from before runs), runs ('P': from before group
	 * records, or of a partition waiting for its checkpoint), then group
	 * records; then each open batch in opno order, which the tags alone
	 * do not give when a partition has waited for a checkpoint. */
	rc = load_pending(l, EKEY_OP);
	if (rc == 0)
		rc = load_pending(l, EKEY_RUN);
	if (rc == 0)
		rc = load_pending(l, EKEY_GROUP);
	if (rc == 0)
		ledger_outbox_order(&l->outbox);
	if (rc) {
		snprintf(err, errlen, "reading pending ops: %s", err_str(rc));
		return rc;
	}
	return 0;
}

/* Notes whether the store holds no membership, as an active
 * (ledger_members_fresh). The store's metadata ("M" name, store.h)
 * shares the tag, so the first key that parses as a membership
 * decides: a few reads. 0 or the store's error. */
static int members_check_fresh(ledger *l)
{
	store_iter *it = store_iter_new(l->db, ekey_prefix(EKEY_MEMBER), 1);
	const char *k, *v;
	size_t kn, vn;
	char counter[COUNTER_MAX + 1], item[ITEM_MAX + 1], user[USER_MAX + 1];
	bool any = false;
	while (!any && store_iter_next(it, &k, &kn, &v, &vn))
		any = ekey_member_parse(k, kn, counter, item, user);
	int rc = store_iter_status(it);
	store_iter_free(it);
	l->members_fresh = rc == 0 && !any && !atomic_load(&l->following);
	return rc;
}

ledger *ledger_open(store *db, const ledger_opts *o, char *err, size_t errlen)
{
	if (!o->partitions || o->partitions > PARTITION_MAX || !o->seal_ops || !o->send ||
	    !o->window_bytes) {
		snprintf(err, errlen, "ledger options out of range");
		return NULL;
	}
	ledger *l = xcalloc(1, sizeof *l);
	pthread_mutex_init(&l->cmu, NULL);
	pthread_mutex_init(&l->mu, NULL);
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
	if (!l->o.log) {
		/* No log: nothing to copy, and no copy to wait for beside the
		 * next group's, so one group in flight. */
		l->o.log = &ledger_log_none;
		l->o.commit_depth = 0;
	}
	l->wb = store_batch_new();
	l->snap_wb = store_batch_new();
	ledger_outbox_init(&l->outbox, &l->o, l->db, &l->view, l->edge_id, l->region,
	                   l->o.log != &ledger_log_none);
	ledger_sealer_init(&l->sealer);
	ledger_replica_init(&l->replica, l->o.partitions);
	ledger_view_init(&l->view, &l->o, l->db, &l->replica, l);
	ledger_group_init(&l->commit, &l->o, &l->view, &l->outbox, &l->members);
	ledger_committer_init(&l->committer);
	ledger_members_init(&l->members, l->o.member_filter_bytes);
	/* Each partition's sequences and central's last word, the replica,
	 * then (but for a follower, whose are the changelog's) the writer's
	 * state. */
	int rc = ledger_outbox_load_seqs(&l->outbox, err, errlen);
	opnos_above_sealed(l);
	if (rc == 0)
		rc = ledger_replica_load(&l->replica, l->db, err, errlen);
	if (rc == 0 && !o->follower)
		rc = load_writer(l, err, errlen);
	if (rc) {
		ledger_free(l);
		return NULL;
	}
	atomic_store(&l->following, o->follower);
	if (ledger_members_load(&l->members, l->db) || ledger_home_load(l) ||
	    members_check_fresh(l)) {
		snprintf(err, errlen, "cannot read the membership records");
		ledger_free(l);
		return NULL;
	}
	/* No reader yet: no lock needed. */
	for (uint32_t p = 0; p < l->o.partitions; p++)
		ledger_view_publish(&l->view, p, ledger_outbox_said(&l->outbox, p));
	const outbox_stats *f = ledger_outbox_figures(&l->outbox);
	log_info("ledger loaded",
	         "edge=%s follower=%s pending_batches=%" PRIu64 " pending_ops=%" PRIu64
	         " pending_bytes=%" PRIu64,
	         l->edge_id, o->follower ? "true" : "false", f->pending_batches, f->pending_ops,
	         f->pending_bytes);
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
	ledger_stop_commits(l);
	ledger_lock_counts(l);
	ledger_keep_flush(&l->view, l->snap_wb); /* what readers kept since the last seal tick */
	ledger_unlock_counts(l);
	ledger_outbox_free(&l->outbox);
	ledger_sealer_free(&l->sealer);
	ledger_group_free(&l->commit);
	ledger_committer_free(&l->committer);
	ledger_members_free(&l->members);
	ledger_replica_free(&l->replica);
	ledger_views_free(&l->view);
	free(l->home_from);
	store_batch_free(l->wb);
	store_batch_free(l->snap_wb);
	pthread_mutex_destroy(&l->cmu);
	pthread_mutex_destroy(&l->mu);
	free(l->edge_id);
	free(l->region);
	free(l);
}

/* --- following ------------------------------------------------------------- */

/* The log's apply (a follower's thread): what the active wrote. */
static int follow_write(void *arg, store_batch *wb)
{
	ledger *l = arg;
	ledger_members_note(&l->members, wb);
	int rc = store_write(l->db, wb);
	if (rc == 0)
		ledger_home_note(l, wb);
	return rc;
}

/* The follower becomes the writer (ledger_follow). */
static int become_writer(ledger *l)
{
	char err[256];
	uint64_t t0 = clock_mono_ms();
	ledger_lock_counts(l);
	ledger_lock(l);
	int rc = ledger_outbox_load_sealed_seqs(&l->outbox, err, sizeof err);
	opnos_above_sealed(l);
	if (rc == 0)
		rc = load_writer(l, err, sizeof err);
	if (rc == 0) {
		for (uint32_t p = 0; p < l->o.partitions; p++) {
			vstripe *vs = ledger_vstripe(&l->view, p);
			ledger_vlock_stripe(&l->view, vs);
			/* From now on every batch it seals goes through the
			 * overlay too. */
			ledger_view_holds_sealed(&l->view, p, UINT64_MAX);
			ledger_view_publish(&l->view, p, ledger_outbox_said(&l->outbox, p));
			ledger_vunlock(&l->view, vs);
		}
		atomic_store(&l->following, false);
	}
	ledger_unlock(l);
	ledger_unlock_counts(l);
	if (rc) {
		/* What it loaded stays: a second try would load it twice. */
		log_error("ledger: promotion failed; writes stay refused", "err=\"%s\"", err);
		return rc;
	}
	const outbox_stats *f = ledger_outbox_figures(&l->outbox);
	log_info("ledger promoted: this instance writes",
	         "edge=%s pending_batches=%" PRIu64 " pending_ops=%" PRIu64 " ms=%" PRIu64,
	         l->edge_id, f->pending_batches, f->pending_ops, clock_mono_ms() - t0);
	ledger_pump(l); /* the sealed batches go out, as at a restart */
	return 0;
}

/* The log's promote (its thread, once): the caller's hand-over, then
 * the writer. */
static int follow_promote(void *arg)
{
	ledger *l = arg;
	int rc = l->handover ? l->handover(l->handover_ctx) : 0;
	return rc ? rc : become_writer(l); /* the hand-over logs its own failure */
}

int ledger_follow(ledger *l, int (*handover)(void *ctx), void *ctx)
{
	if (!l->o.follower || !l->o.log->follow || l->follow_asked)
		return ERR_INVAL;
	l->follow_asked = true;
	l->handover = handover;
	l->handover_ctx = ctx;
	return l->o.log->follow(l->o.log_ctx, l->db, follow_write, follow_promote, l);
}

/* --- sealing ---------------------------------------------------------------- */

int ledger_seal_due(ledger *l, uint64_t wall_ms, bool force)
{
	if (ledger_following(l))
		return 0; /* nothing of its own to seal */
	int rc = 0;
	/* The kept read-through counts are count writes (cmu), written
	 * before the writer mutex is taken: their store reads and write
	 * hold up no like. While a snapshot or a checkpoint message is
	 * being written they wait for the next tick, cached meanwhile; the
	 * seal does not wait. A forced seal (a drain) writes them in any
	 * case. */
	if (force) {
		ledger_lock_counts(l);
		ledger_keep_flush(&l->view, l->snap_wb);
		ledger_unlock_counts(l); /* a seal writes no counts */
	} else if (ledger_trylock_counts(l)) {
		ledger_keep_flush(&l->view, l->snap_wb);
		ledger_unlock_counts(l);
	}
	ledger_lock(l);
	/* Sealing everything includes what is staged: write it first. */
	if (force)
		rc = ledger_group_commit(l, wall_ms);
	int src = ledger_seal_each_due(l, wall_ms, force);
	if (!rc)
		rc = src;
	ledger_unlock(l);
	return rc;
}

/* --- snapshots -------------------------------------------------------------- */

uint64_t ledger_snapshot_version(ledger *l, uint32_t p)
{
	/* cmu: a snapshot being applied holds it from its store write until
	 * its version is seen, so what a reader of the resume point saw
	 * applied is in what this returns. */
	ledger_lock_counts(l);
	ledger_lock(l);
	uint64_t v = ledger_snap_newest(&l->outbox, p);
	ledger_unlock(l);
	ledger_unlock_counts(l);
	return v;
}

int ledger_snapshot_resume(ledger *l, uint32_t p, int64_t *offset)
{
	char key[EKEY_PART_LEN];
	uint64_t off;
	int rc = store_read_u64(l->db, key, ekey_part(key, EKEY_SNAP_OFFSET, p), &off);
	if (rc == 0)
		*offset = (int64_t)off;
	return rc;
}

int ledger_snapshot_reset(ledger *l, uint32_t p, int64_t offset)
{
	char key[EKEY_PART_LEN];
	unsigned char val[8];
	store_put_u64(val, (uint64_t)offset);
	/* A snapshot position is the count writers' alone: written under
	 * their mutex, in their batch, with no writer mutex held. */
	ledger_lock_counts(l);
	store_batch_clear(l->snap_wb);
	store_batch_put(l->snap_wb, key, ekey_part(key, EKEY_SNAP_OFFSET, p), val, 8);
	int rc = store_write(l->db, l->snap_wb);
	ledger_unlock_counts(l);
	return rc;
}

/* Only the snapshot position: a stale message's counts are not written,
 * but the edge has read past it. */
static void position_write(ledger *l, count_write *w) TSA_REQUIRES(LEDGER_CMU(l))
    TSA_EXCLUDES(LEDGER_MU(l))
{
	w->rc = store_write(l->db, l->snap_wb);
}

/* Stages s's counts into snap_wb (checked against the versions stored
 * with them below what a checkpoint brought): cmu held, not the writer
 * mutex, as only cmu's holders write counts and load checkpoints. 0 or
 * ERR_IO. */
static int snapshot_counts(ledger *l, count_write *w) TSA_REQUIRES(LEDGER_CMU(l))
{
	const wire_snapshot *s = w->s;
	w->skip = xcalloc(s->ncounts + 1, sizeof *w->skip);
	return ledger_view_put_counts(&l->view, l->snap_wb, s,
	                              s->offset < ledger_replica_ckpt_hi(&l->replica, w->p),
	                              ledger_snap_before(&l->outbox, w->p, s->offset), w->skip);
}

/* Stages that s is the newest p has seen and, with its last part, what
 * it confirms of this edge's batches. Mutex held. */
static void snapshot_confirm_stage(ledger *l, count_write *w) TSA_REQUIRES(LEDGER_MU(l))
{
	const wire_snapshot *s = w->s;
	ledger_snap_seen_stage(&l->outbox, l->snap_wb, w->p, s->offset);
	/* Before its counts are shown: they hold ops this instance's
	 * overlay holds too, when another instance sealed and sent them. */
	if (!ledger_following(l))
		ledger_confirm_overtaken(&l->outbox, w->p, s);
	if (s->last) {
		w->confirm = s;
		ledger_confirm_stage(&l->outbox, l->snap_wb, w->p, s, &w->conf);
	}
}

/* The snapshot's staging under the writer mutex (a stale one's count
 * only), before its store write. */
static void snapshot_stage(ledger *l, count_write *w, bool stale) TSA_REQUIRES(LEDGER_CMU(l))
{
	ledger_lock(l);
	if (stale) {
		l->st.snapshots_stale++;
	} else if (w->rc == 0) {
		snapshot_confirm_stage(l, w);
		ledger_count_begin(l, w);
	}
	ledger_unlock(l);
}

/* After the snapshot's store write, under the writer mutex: what it
 * wrote shown, and its confirmation finished. */
static void snapshot_show(ledger *l, count_write *w) TSA_REQUIRES(LEDGER_CMU(l))
{
	const wire_snapshot *s = w->s;
	ledger_lock(l);
	ledger_count_show(l, w);
	if (w->rc == 0) {
		l->st.snapshots_applied++;
		ledger_snap_seen(&l->outbox, w->p, s->offset);
		if (s->last)
			w->pump = ledger_confirm_finish(&l->outbox, w->p, s, &w->conf);
	}
	ledger_unlock(l);
}

int ledger_apply_snapshot(ledger *l, const wire_snapshot *s, int64_t msg_offset)
{
	if (s->partition >= l->o.partitions)
		return ERR_CORRUPT;
	count_write w = {.p = s->partition, .s = s};
	char key[EKEY_PART_LEN];
	unsigned char val[8];
	store_put_u64(val, (uint64_t)msg_offset + 1);
	ledger_lock_counts(l);
	store_batch_clear(l->snap_wb);
	store_batch_put(l->snap_wb, key, ekey_part(key, EKEY_SNAP_OFFSET, w.p), val, 8);
	/* From an instance that is behind: what we have is newer. One at the
	 * same offset carries the same counts and applied sequences, and is
	 * applied again: that changes nothing. Decided, and the counts
	 * staged with their stored versions read, before the writer mutex. */
	bool stale = ledger_snap_stale(&l->outbox, w.p, s->offset);
	if (!stale)
		w.rc = snapshot_counts(l, &w);
	bool staged = !stale && w.rc == 0;
	snapshot_stage(l, &w, stale);
	if (stale) {
		position_write(l, &w);
	} else if (staged) {
		ledger_count_store(l, &w);
		snapshot_show(l, &w);
	}
	ledger_unlock_counts(l);
	return ledger_count_done(l, &w);
}

/* --- stats and inspect ------------------------------------------------------ */

int ledger_idem_sweep(ledger *l, uint64_t wall_ms, int max)
{
	if (ledger_following(l))
		return 0; /* the records are the active's, swept there */
	return idem_sweep(l->db, &l->idem_cursor, wall_ms, max);
}

bool ledger_accepting(ledger *l)
{
	ledger_lock(l);
	bool ok = ledger_outbox_figures(&l->outbox)->pending_bytes < l->o.budget_bytes;
	ledger_unlock(l);
	return ok;
}

/* The stats with the view's share and the membership reads; the writer
 * mutex held, no stripe. */
static void stats_fill(ledger *l, ledger_stats *out)
{
	*out = l->st;
	ledger_outbox_stats(&l->outbox, out);
	ledger_group_stats(&l->commit, out);
	ledger_view_stats(&l->view, out);
	ledger_members_stats(&l->members, out);
	out->ops_replayed = atomic_load_explicit(&l->replays, memory_order_relaxed);
}

void ledger_get_stats(ledger *l, ledger_stats *out)
{
	ledger_lock(l);
	stats_fill(l, out);
	ledger_unlock(l);
}

void ledger_get_memory(const ledger *l, ledger_memory *out)
{
	ledger_view_memory(&l->view, out);
	out->member_filter = ledger_members_bytes(&l->members);
	out->outbox = ledger_outbox_bytes(&l->outbox);
}

size_t ledger_get_parts(ledger *l, ledger_part_info *out, size_t max)
{
	size_t n = l->o.partitions < max ? l->o.partitions : max;
	ledger_lock(l);
	for (size_t p = 0; p < n; p++) {
		view_said said = ledger_outbox_said(&l->outbox, (uint32_t)p);
		out[p] = (ledger_part_info){said.snap_ms, said.snap_offset};
	}
	ledger_unlock(l);
	return n;
}

ledger_part_state *ledger_inspect(ledger *l, ledger_summary *sum)
{
	ledger_part_state *out = xcalloc(l->o.partitions, sizeof *out);
	ledger_lock(l);
	*sum = (ledger_summary){.edge_id = l->edge_id,
	                        .region = l->region,
	                        .partitions = l->o.partitions,
	                        .budget_bytes = l->o.budget_bytes,
	                        .window_bytes = l->o.window_bytes};
	stats_fill(l, &sum->st);
	for (uint32_t p = 0; p < l->o.partitions; p++)
		ledger_outbox_inspect(&l->outbox, p, &out[p]);
	ledger_unlock(l);
	return out;
}

int ledger_replica_get(ledger *l, uint32_t p, ledger_replica *out)
{
	if (p >= l->o.partitions)
		return ERR_INVAL;
	ledger_lock(l);
	ledger_replica_say(&l->replica, p, out);
	ledger_unlock(l);
	return 0;
}

uint32_t ledger_replica_ready(ledger *l, uint64_t *loaded)
{
	ledger_lock(l);
	uint32_t n = ledger_replica_count_ready(&l->replica, loaded);
	ledger_unlock(l);
	return n;
}

int ledger_read(ledger *l, const char *counter, const char *item, ledger_view *out)
{
	return ledger_view_read(&l->view, counter, item, out);
}

int ledger_read_many(ledger *l, const ledger_ref *refs, size_t n, ledger_view *out)
{
	return ledger_view_read_many(&l->view, refs, n, out);
}

void ledger_readthrough_put(ledger *l, const char *counter, const char *item, uint64_t count,
                            uint64_t version, uint64_t applied, uint64_t as_of)
{
	ledger_view_readthrough_put(&l->view, counter, item, count, version, applied, as_of);
}

bool ledger_overtaken(const ledger *l)
{
	return ledger_view_overtaken(&l->view);
}
