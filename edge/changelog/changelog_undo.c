/* changelog_undo.c - what the log holds and this store does not
 * (changelog_int.h): the appends acknowledged whose store write has not
 * landed, or failed, or was refused, which hold back the position a
 * store write or a peer's copy may say; and the undoing of refused
 * records that may be in the log, carried at the head of the next
 * group's record and released once that record is written.
 *
 * Owns the unwritten list (under vmu) and the undoing (under mu) of
 * struct changelog; changelog.c appends, changelog_held.c drains.
 */
#include "edge/changelog/changelog_int.h"

#include <stdlib.h>

#include "log.h"
#include "xmem.h"

/* --- appends not written yet ------------------------------------------------ */

/* Under vmu: the gauge follows the list. */
static void unwritten_gauge(changelog *cl) TSA_REQUIRES(cl->vmu)
{
	if (cl->g_unwritten)
		metric_set(cl->g_unwritten, (int64_t)cl->nunw);
}

void changelog_unwritten_add(changelog *cl, int64_t offset)
{
	if (cl->nunw == cl->capunw) {
		cl->capunw = cl->capunw ? 2 * cl->capunw : 8;
		cl->unw = xrealloc(cl->unw, cl->capunw * sizeof *cl->unw);
	}
	cl->unw[cl->nunw++] = (struct unwritten){.offset = offset};
	unwritten_gauge(cl);
}

/* Under vmu: a record carrying the undoing of every refusal up to
 * generation gen is written at offset, so the refused records before
 * it no longer hold positions back: from any later position a replay
 * finds the store as it is (the refused record's keys as the undoing
 * wrote them back). */
static void unwritten_release(changelog *cl, uint64_t gen, int64_t offset) TSA_REQUIRES(cl->vmu)
{
	for (size_t i = 0; i < cl->nunw;) {
		const struct unwritten *u = &cl->unw[i];
		if (u->refused && u->refused <= gen && u->offset < offset)
			cl->unw[i] = cl->unw[--cl->nunw];
		else
			i++;
	}
}

/* Under vmu: wb's entry, or NULL. */
static struct unwritten *unwritten_find(changelog *cl, const store_batch *wb) TSA_REQUIRES(cl->vmu)
{
	for (size_t i = 0; i < cl->nunw; i++)
		if (cl->unw[i].wb == wb)
			return &cl->unw[i];
	return NULL;
}

void changelog_written(void *ctx, const store_batch *wb, int rc)
{
	changelog *cl = ctx;
	changelog_lock(&cl->vmu);
	struct unwritten *u = unwritten_find(cl, wb);
	if (u && rc == 0) {
		uint64_t carries = u->carries;
		int64_t offset = u->offset;
		*u = cl->unw[--cl->nunw];
		if (carries)
			unwritten_release(cl, carries, offset);
		unwritten_gauge(cl);
	} else if (u) {
		/* The log has it and this store does not: every later
		 * position stays before it, so a restart replays it. */
		u->wb = NULL;
		cl->past_beats = false;
	}
	changelog_unlock(&cl->vmu);
}

int64_t changelog_written_position(changelog *cl, const store_batch *wb, int64_t offset,
                                   uint64_t carries)
{
	/* No later than an earlier append not written yet: its write may
	 * land after this one, or never, if the process dies first, and a
	 * restart replays it, and everything after, from there. */
	int64_t at = offset + 1;
	changelog_lock(&cl->vmu);
	for (size_t i = 0; i < cl->nunw; i++) {
		struct unwritten *u = &cl->unw[i];
		if (wb && u->offset == offset) {
			u->wb = wb;
			u->carries = carries;
		} else if (u->offset < at) {
			at = u->offset;
		}
	}
	changelog_unlock(&cl->vmu);
	return at;
}

void changelog_undone(changelog *cl, uint64_t gen, int64_t offset)
{
	changelog_lock(&cl->vmu);
	unwritten_release(cl, gen, offset);
	unwritten_gauge(cl);
	changelog_unlock(&cl->vmu);
}

store_snap *changelog_snapshot(changelog *cl, store *db, int64_t *position)
{
	changelog_lock(&cl->vmu);
	store_snap *sn = store_snap_new(db);
	uint64_t stored = 0;
	int rc = store_snap_read_u64(sn, ekey_prefix(EKEY_LOG_POSITION), 1, &stored);
	int64_t at = rc == 0 ? (int64_t)stored : 0;
	if (cl->nunw) {
		for (size_t i = 0; i < cl->nunw; i++)
			if (cl->unw[i].offset < at)
				at = cl->unw[i].offset;
	} else if (cl->active && cl->past_beats && cl->next_off > at) {
		/* Every record of this instance before next_off is written,
		 * and the others there are its beats or void (past_beats: no
		 * append of it may have landed unacknowledged). */
		at = cl->next_off;
	}
	changelog_unlock(&cl->vmu);
	if (rc && rc != ERR_NOTFOUND) {
		store_snap_free(sn);
		return NULL;
	}
	*position = at;
	return sn;
}

/* --- undoing a refused record ---------------------------------------------- */

/* A key the refused record wrote: its value in the store now (what the
 * edge keeps, the refused write having never reached it), or its
 * deletion. Under mu. */
static void undo_key(changelog *cl, const char *k, size_t kn)
{
	if (ekey_is_alone(k, kn, EKEY_LOG_POSITION) || ekey_is_alone(k, kn, EKEY_LOG_EPOCH))
		return; /* the store's own position keys */
	char *v;
	size_t vn;
	int rc = store_get(cl->db, k, kn, &v, &vn);
	if (rc == 0) {
		store_batch_put(cl->undo, k, kn, v, vn);
		free(v);
	} else {
		store_batch_del(cl->undo, k, kn);
	}
	cl->undo_pending = true;
}

static void undo_del(void *ctx, const char *k, size_t kn)
{
	if (!ekey_is(k, kn, EKEY_LOG_HELD))
		undo_key(ctx, k, kn);
}

/* A put of the refused batch. A held record's ('Q', durability = local)
 * is this disk's own and never in the log, but the record it holds may
 * be (produced before it was held, and late), with the undoing of
 * earlier refusals it carried: every key of that record is undone, read
 * from the store now, as nothing has written them since. */
static void undo_put(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	if (!ekey_is(k, kn, EKEY_LOG_HELD)) {
		undo_key(ctx, k, kn);
		return;
	}
	store_batch *held = store_batch_new();
	changelog_head h;
	if (changelog_decode(v, vn, &h, held) == 0 && h.kind == CHANGELOG_DATA)
		store_batch_iterate(held, ctx, undo_put, undo_del);
	else
		log_error("changelog: a refused held record does not decode; its keys stay as the "
		          "log has them",
		          "bytes=%zu", vn);
	store_batch_free(held);
}

/* wb's record was refused and may yet land: its undoing goes with the
 * next records. Its generation (undo_gen), or 0 when it cannot be
 * undone. */
uint64_t changelog_undo_add(changelog *cl, const store_batch *wb)
{
	if (!cl->db)
		return 0; /* no store to read the kept values from (not taken over) */
	changelog_lock(&cl->mu);
	if (!cl->undo)
		cl->undo = store_batch_new();
	store_batch_iterate(wb, cl, undo_put, undo_del);
	uint64_t gen = ++cl->undo_gen;
	changelog_unlock(&cl->mu);
	return gen;
}

static void undo_copy_put(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	store_batch_put(ctx, k, kn, v, vn);
}

static void undo_copy_del(void *ctx, const char *k, size_t kn)
{
	store_batch_del(ctx, k, kn);
}

/* The record of wb at epoch, with the pending undoing at its head when wb
 * is a group's (group: only groups write the keys undone, and no group is
 * taken while one staged on a refused group is in flight, so nothing
 * newer of those keys can land between) and no other record in flight
 * carries one; the undoing then moves to undo_out, and what is refused
 * meanwhile gathers anew. Sets *carried to the generation it carries
 * (changelog_undo_end once its outcome is known), else to 0. */
void changelog_encode_with_undo(changelog *cl, const store_batch *wb, bool group, sbuf *rec,
                                uint64_t *carried)
{
	uint64_t epoch = atomic_load(&cl->epoch_pub);
	changelog_lock(&cl->mu);
	*carried = group && cl->undo_pending && !cl->undo_out ? cl->undo_gen : 0;
	if (*carried) {
		cl->undo_out = cl->undo;
		cl->undo = store_batch_new();
		cl->undo_pending = false;
		store_batch *both = store_batch_new();
		store_batch_iterate(cl->undo_out, both, undo_copy_put, undo_copy_del);
		store_batch_iterate(wb, both, undo_copy_put, undo_copy_del);
		changelog_encode(both, epoch, rec);
		store_batch_free(both);
	}
	changelog_unlock(&cl->mu);
	if (!*carried)
		changelog_encode(wb, epoch, rec);
}

/* A carrier's outcome: in the log (acknowledged, or held in order for
 * it), or not, and then the next record carries its undoing again, with
 * what was refused meanwhile on top (read later, it wins). */
void changelog_undo_end(changelog *cl, bool landed)
{
	changelog_lock(&cl->mu);
	store_batch *out = cl->undo_out;
	cl->undo_out = NULL;
	if (!landed) {
		store_batch_iterate(cl->undo, out, undo_copy_put, undo_copy_del);
		store_batch_free(cl->undo);
		cl->undo = out;
		cl->undo_pending = true;
	} else {
		store_batch_free(out);
	}
	changelog_unlock(&cl->mu);
}

void changelog_refused(void *ctx, const store_batch *wb)
{
	changelog *cl = ctx;
	/* The generation is taken and the entry marked under one hold of
	 * vmu: a carrier of this generation, encoded as soon as mu is let
	 * go, releases the entry only once its store write is reported
	 * (under vmu), so it always finds the entry marked. */
	changelog_lock(&cl->vmu);
	uint64_t gen = changelog_undo_add(cl, wb);
	struct unwritten *u = unwritten_find(cl, wb);
	if (u) {
		/* Acknowledged: it holds positions back (a restart replays it,
		 * then its undoing) until its undoing's carrier is written. */
		u->wb = NULL;
		u->refused = gen ? gen : UINT64_MAX;
		cl->past_beats = false;
	}
	changelog_unlock(&cl->vmu);
}
