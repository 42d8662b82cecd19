/* changelog_held.c - durability = local (changelog.h): writes the log
 * does not take are held on this machine's disk, fsynced, in order ('Q'
 * records), the changelog degraded meanwhile; changelog_drain appends
 * them, under this instance's epoch, once the log takes writes again,
 * and then appends go to the log again. At a takeover the records held
 * before a restart are counted first (changelog_held_load).
 *
 * Owns nothing of its own: the held count and the degraded mark are the
 * changelog's (changelog_int.h), under its mutex.
 */
#include "edge/changelog/changelog_int.h"

#include <inttypes.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "xmem.h"

static void held_gauges(changelog *cl)
{
	if (!cl->g_held)
		return;
	metric_set(cl->g_held, (int64_t)atomic_load(&cl->held));
	metric_set(cl->g_degraded, atomic_load(&cl->is_degraded) ? 1 : 0);
}

/* Under mu: held record q carries the undoing up to generation gen. */
static void carrier_add(changelog *cl, uint64_t q, uint64_t gen) TSA_REQUIRES(cl->mu)
{
	if (cl->nhcar == cl->caphcar) {
		cl->caphcar = cl->caphcar ? 2 * cl->caphcar : 4;
		cl->hcar = xrealloc(cl->hcar, cl->caphcar * sizeof *cl->hcar);
	}
	cl->hcar[cl->nhcar++] = (struct held_carrier){q, gen};
}

/* The generation held record q carries (0: none), its entry and any
 * older one dropped (an older one's record never reached the store: its
 * write failed, and it was refused and undone afresh). */
static uint64_t carrier_take(changelog *cl, uint64_t q)
{
	changelog_lock(&cl->mu);
	uint64_t gen = 0;
	size_t n = 0;
	while (n < cl->nhcar && cl->hcar[n].q <= q) {
		if (cl->hcar[n].q == q)
			gen = cl->hcar[n].gen;
		n++;
	}
	if (n) {
		memmove(cl->hcar, cl->hcar + n, (cl->nhcar - n) * sizeof *cl->hcar);
		cl->nhcar -= n;
	}
	changelog_unlock(&cl->mu);
	return gen;
}

void changelog_hold(changelog *cl, store_batch *wb, const sbuf *rec, uint64_t carries)
{
	char k[EKEY_HELD_LEN];
	if (carries)
		carrier_add(cl, cl->qnext, carries);
	store_batch_put(wb, k, ekey_held(k, cl->qnext++), rec->p, rec->len);
	store_batch_sync(wb);
	if (!cl->degraded)
		log_warn("changelog out of reach: writes held on this machine's disk until it "
		         "takes them (durability = local)",
		         "topic=%s partition=%d", cl->topic, (int)cl->o.partition);
	cl->degraded = true;
	atomic_store(&cl->is_degraded, true);
	atomic_fetch_add(&cl->held, 1);
	atomic_store(&cl->last_held_ms, clock_mono_ms());
	held_gauges(cl);
}

int changelog_held_load(changelog *cl, store *db)
{
	uint64_t n = 0, last = 0;
	const char *k, *v;
	size_t kn, vn;
	store_iter *it = store_iter_new(db, ekey_prefix(EKEY_LOG_HELD), 1);
	while (store_iter_next(it, &k, &kn, &v, &vn))
		if (kn == 9) {
			n++;
			last = store_get_u64((const unsigned char *)k + 1);
		}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc)
		return rc;
	changelog_lock(&cl->mu);
	cl->db = db;
	cl->qnext = n ? last + 1 : 0;
	cl->nhcar = 0; /* numbers from before are given out again */
	cl->degraded = n > 0;
	changelog_unlock(&cl->mu);
	atomic_store(&cl->held, n);
	atomic_store(&cl->is_degraded, n > 0);
	held_gauges(cl);
	if (n)
		log_warn("changelog: records held on this disk from before; appending them first",
		         "held=%" PRIu64, n);
	return 0;
}

/* One held record (key k) appended and dropped from the store, with the
 * position after it, in one fsynced write: a drop lost in a crash would
 * append it again after newer records. */
static int drain_one(changelog *cl, const char *k, size_t kn, const char *v, size_t vn)
{
	/* Appended under this instance's epoch, not the one it was held
	 * under: held before a restart and a new takeover, under the old
	 * epoch it would be void after that takeover. */
	store_batch *changes = store_batch_new();
	changelog_head h;
	int rc = changelog_decode(v, vn, &h, changes);
	if (rc || h.kind != CHANGELOG_DATA) {
		log_error("changelog: a held record does not decode; it stays on disk",
		          "err=\"%s\"", err_str(rc ? rc : ERR_CORRUPT));
		store_batch_free(changes);
		return rc ? rc : ERR_CORRUPT;
	}
	sbuf rec;
	sbuf_init(&rec);
	changelog_encode(changes, atomic_load(&cl->epoch_pub), &rec);
	store_batch_free(changes);
	int64_t offset = -1;
	rc = changelog_produce_wait(cl, &rec, &offset);
	sbuf_free(&rec);
	if (rc)
		return rc;
	/* An undoing it carried is in the log now, and was in this store
	 * since the record was held (it wrote back what the store had): the
	 * refusals it undid hold no position back, this one's included. */
	uint64_t gen = kn == 9 ? carrier_take(cl, store_get_u64((const unsigned char *)k + 1)) : 0;
	if (gen)
		changelog_undone(cl, gen, offset);
	store_batch *wb = store_batch_new();
	store_batch_del(wb, k, kn);
	changelog_put_u64(wb, EKEY_LOG_POSITION,
	                  (uint64_t)changelog_written_position(cl, NULL, offset, 0));
	store_batch_sync(wb);
	rc = store_write(cl->db, wb);
	store_batch_free(wb);
	if (rc == 0) {
		atomic_fetch_sub(&cl->held, 1);
		if (cl->drained)
			metric_add(cl->drained, 1);
	}
	return rc;
}

/* No record held any more: appends go to the log again. One held by an
 * append whose store write then failed never lands; once none is found
 * and the last was held longer ago than any write takes, it is given up. */
static void drain_end(changelog *cl, bool found_none)
{
	changelog_lock(&cl->mu);
	uint64_t left = atomic_load(&cl->held);
	uint64_t quiet = clock_mono_ms() - atomic_load(&cl->last_held_ms);
	if (found_none && left && quiet > (uint64_t)cl->o.timeout_ms + REPORT_GRACE_MS) {
		atomic_store(&cl->held, 0);
		left = 0;
	}
	if (!left && cl->degraded) {
		cl->degraded = false;
		atomic_store(&cl->is_degraded, false);
		log_info("changelog caught up: writes go to it again", "topic=%s partition=%d",
		         cl->topic, (int)cl->o.partition);
	}
	changelog_unlock(&cl->mu);
	held_gauges(cl);
}

int changelog_drain(changelog *cl)
{
	if (!atomic_load(&cl->is_degraded) || !cl->db)
		return 0;
	const char *k, *v;
	size_t kn, vn;
	int rc = 0;
	bool none = true;
	store_iter *it = store_iter_new(cl->db, ekey_prefix(EKEY_LOG_HELD), 1);
	while (rc == 0 && store_iter_next(it, &k, &kn, &v, &vn)) {
		none = false;
		rc = drain_one(cl, k, kn, v, vn);
	}
	int src = store_iter_status(it);
	store_iter_free(it);
	if (rc == ERR_FENCED) {
		uint64_t lost = atomic_load(&cl->held);
		log_error("changelog: another instance took over while writes were held here; "
		          "they are void there",
		          "held=%" PRIu64, lost);
		if (cl->orphaned)
			metric_add(cl->orphaned, lost);
		return rc;
	}
	if (rc == 0 && src == 0)
		drain_end(cl, none);
	return rc ? rc : src;
}

bool changelog_degraded(const changelog *cl)
{
	return atomic_load(&cl->is_degraded);
}

uint64_t changelog_held(const changelog *cl)
{
	return atomic_load(&cl->held);
}
