/* apply.c - central's batch applier (see apply.h; key layout in keys.h),
 * the top of this folder's layers: its life cycle and the applied
 * sequences loaded at start, sequencing (duplicates skipped, batches
 * held after a gap, held batches applied when it fills), the one store
 * write per message with its offset, quarantine to the dead-letter hook,
 * offsets, epochs and versions, snapshots of the changed counts, and the
 * reads and stats.
 *
 * What a batch's ops do is apply_ops.c's, a move's apply_move.c's: they
 * gather the effects in the working set (apply_ws.c), which flush puts
 * into the message's write batch, and the caches learn the new values
 * once that write succeeded (apply_ws_commit). None of the layers calls
 * back up here. One owner thread; the stats and per-partition gauges
 * are atomics so the ops API thread may read them.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/apply/apply.h"
#include "central/apply/apply_feed.h"
#include "central/apply/apply_home.h"
#include "central/apply/apply_move.h"
#include "central/apply/apply_ops.h"
#include "central/apply/apply_thin.h"
#include "central/apply/apply_ws.h"
#include "central/apply/feedrec.h"
#include "central/apply/keys.h"
#include "clock.h"
#include "item.h"
#include "log.h"
#include "partition.h"
#include "smap.h"
#include "xmem.h"

typedef struct edge_seq {
	uint64_t applied;
	uint64_t held_min; /* 0 = nothing held */
	uint64_t held_count;
	uint64_t fence_ms; /* the CKEY_FENCE key's writer time: batches of an earlier
	                      writer are void */
} edge_seq;

typedef struct part {
	_Atomic int64_t next_offset; /* -1 until known */
	uint32_t epoch;              /* the CKEY_EPOCH key; 0 when absent */
	_Atomic uint64_t held;       /* sum of held_count over edges */
	smap edges;                  /* edge id -> edge_seq* */
	smap changed;                /* counter 0 item -> count, since last snapshot */
	smap emitted;                /* what the last snapshot referenced */
	uint64_t changes_bytes;      /* their smap_bytes, as last counted */
	bool dirty;
} part;

/* What apply.c counts; each layer under it counts its own (apply_ws.h,
 * apply_feed.h, apply_move.h, apply_ops.h, apply_thin.h). */
typedef struct stats {
	_Atomic uint64_t batches_applied, batches_duplicate, batches_held, batches_bad;
	_Atomic uint64_t batches_deadlettered, deadletter_failed;
	_Atomic uint64_t store_writes;
	_Atomic uint64_t feed_events; /* change feed events stored */
	_Atomic uint64_t handovers_applied, batches_fenced;
} stats;

#define STAT_ADD(a, f, n) atomic_fetch_add_explicit(&(a)->st.f, (n), memory_order_relaxed)
#define STAT_GET(a, f) atomic_load_explicit(&(a)->st.f, memory_order_relaxed)
#define LOAD(v) atomic_load_explicit(&(v), memory_order_relaxed)

/* The layers under apply.c, each with the state it owns: the working
 * set and caches at the bottom, the feed's events on it, the moves on
 * both, the ops on all three; the day keys' sweep beside them. */
struct applier {
	store *db;
	uint32_t nparts;
	part *parts;
	store_batch *wb; /* the message's write */
	apply_ws ws;
	apply_feed feed;
	apply_moved moved;
	apply_ops ops;
	day_thin thin;
	stats st;
	/* applier_get_memory's snapshot_changes, stored by the applier's
	 * thread (changes_account). */
	_Atomic uint64_t changes_bytes;
	applier_dead_letter_fn dead_letter;
	void *dead_letter_ctx;
	const applier_obs *obs; /* NULL: no instruments */
};

static edge_seq *edge_of(part *pt, const char *edge, size_t elen)
{
	bool created;
	smap_val *v = smap_put(&pt->edges, edge, elen, &created);
	if (created)
		v->p = xcalloc(1, sizeof(edge_seq));
	return v->p;
}

static void held_add(part *pt, edge_seq *es, int64_t n)
{
	es->held_count = (uint64_t)((int64_t)es->held_count + n);
	atomic_fetch_add_explicit(&pt->held, (uint64_t)n, memory_order_relaxed);
}

/* After pt's changed or emitted map changed: the snapshot changes'
 * bytes follow. O(1). */
static void changes_account(applier *a, part *pt)
{
	uint64_t now = smap_bytes(&pt->changed) + smap_bytes(&pt->emitted);
	/* The applier's thread is the only writer: a load and a store. */
	uint64_t all = atomic_load_explicit(&a->changes_bytes, memory_order_relaxed);
	atomic_store_explicit(&a->changes_bytes, all - pt->changes_bytes + now,
	                      memory_order_relaxed);
	pt->changes_bytes = now;
}

/* Puts the message's working set into its write, the counts it changed
 * into pt's next snapshot. */
static void flush(applier *a, part *pt)
{
	if (apply_ws_flush(&a->ws, a->wb, &pt->changed))
		pt->dirty = true;
	changes_account(a, pt);
}

/* An 'E' value of partition p: 0, or ERR_CORRUPT (logged). */
static int epoch_decode(uint32_t p, const void *v, size_t vn, uint32_t *epoch)
{
	if (vn != CKEY_EPOCH_LEN) {
		log_error("stored epoch has the wrong size", "partition=%u size=%zu", p, vn);
		return ERR_CORRUPT;
	}
	*epoch = store_get_u32(v);
	return 0;
}

/* For apply_home_note: whether p has applied input, and its version. */
static bool version_of(void *ctx, uint32_t p, uint64_t *version)
{
	const applier *a = ctx;
	if (atomic_load(&a->parts[p].next_offset) < 0)
		return false;
	*version = applier_version(a, p);
	return true;
}

/* Each stored 'A' key into its edge_seq's applied, or 'F' key into its
 * fence_ms (tag; the epoch after it is for /v1/stats only). */
static int load_edge_u64(applier *a, enum ckey_tag tag)
{
	const char *k, *v;
	size_t kn, vn;
	size_t want = tag == CKEY_FENCE ? CKEY_FENCE_LEN : 8;
	store_iter *it = store_iter_new(a->db, ckey_prefix(tag), 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *e;
		size_t en;
		uint32_t p;
		if (!ckey_parse_edge(k, kn, tag, &e, &en, &p, NULL) || vn != want || p >= a->nparts)
			continue;
		edge_seq *es = edge_of(&a->parts[p], e, en);
		*(tag == CKEY_FENCE ? &es->fence_ms : &es->applied) =
		    store_get_u64((const unsigned char *)v);
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	return rc;
}

static int load(applier *a)
{
	const char *k, *v;
	size_t kn, vn;
	int rc = load_edge_u64(a, CKEY_APPLIED);
	if (!rc)
		rc = load_edge_u64(a, CKEY_FENCE);
	if (rc)
		return rc;
	store_iter *it = store_iter_new(a->db, ckey_prefix(CKEY_HELD), 1);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *e;
		size_t en;
		uint32_t p;
		uint64_t seq;
		if (!ckey_parse_edge(k, kn, CKEY_HELD, &e, &en, &p, &seq) || p >= a->nparts)
			continue;
		edge_seq *es = edge_of(&a->parts[p], e, en);
		held_add(&a->parts[p], es, 1);
		if (!es->held_min || seq < es->held_min)
			es->held_min = seq;
	}
	rc = store_iter_status(it);
	store_iter_free(it);
	if (rc)
		return rc;
	for (uint32_t p = 0; p < a->nparts; p++) {
		unsigned char key[8];
		uint64_t off;
		rc = store_read_u64(a->db, key, ckey_offset(key, p), &off);
		if (rc == 0)
			atomic_store(&a->parts[p].next_offset, (int64_t)off);
		else if (rc != ERR_NOTFOUND)
			return rc;
		unsigned char val[CKEY_EPOCH_LEN];
		size_t vlen;
		rc = store_get_into(a->db, key, ckey_epoch(key, p), val, sizeof val, &vlen);
		if (rc == 0)
			rc = epoch_decode(p, val, vlen, &a->parts[p].epoch);
		if (rc && rc != ERR_NOTFOUND)
			return rc;
	}
	rc = apply_home_relayout(a->db);
	if (!rc)
		rc = apply_home_note(a->db, a->nparts, version_of, a);
	if (rc)
		return rc;
	rc = feed_records_close(a->db, a->nparts);
	if (rc)
		return rc;
	/* The users a move named: only their ops read a 'W' key. */
	return apply_moved_load(&a->moved, a->db);
}

applier *applier_new(store *db, uint32_t nparts, const counters *c, char *err, size_t errlen)
{
	applier *a = xcalloc(1, sizeof *a);
	a->db = db;
	a->nparts = nparts;
	a->parts = xcalloc(nparts, sizeof *a->parts);
	for (uint32_t p = 0; p < nparts; p++) {
		atomic_init(&a->parts[p].next_offset, -1);
		atomic_init(&a->parts[p].held, 0);
		smap_init(&a->parts[p].edges);
		smap_init(&a->parts[p].changed);
		smap_init(&a->parts[p].emitted);
	}
	a->wb = store_batch_new();
	apply_ws_init(&a->ws, db, APPLIER_CACHE_COUNTS_DEFAULT, APPLIER_CACHE_MEMBERS_DEFAULT);
	apply_feed_init(&a->feed);
	apply_ops_init(&a->ops, c, &a->ws, &a->feed, &a->moved);
	a->thin.db = db;
	int rc = load(a);
	if (rc) {
		snprintf(err, errlen, "loading applied sequences: %s", err_str(rc));
		applier_free(a);
		return NULL;
	}
	return a;
}

void applier_free(applier *a)
{
	if (!a)
		return;
	for (uint32_t p = 0; p < a->nparts; p++) {
		smap_free_values(&a->parts[p].edges);
		smap_free(&a->parts[p].changed);
		smap_free(&a->parts[p].emitted);
	}
	free(a->parts);
	store_batch_free(a->wb);
	apply_ops_free(&a->ops);
	apply_ws_free(&a->ws);
	apply_feed_free(&a->feed);
	apply_moved_free(&a->moved);
	free(a);
}

void applier_set_dead_letter(applier *a, applier_dead_letter_fn fn, void *ctx)
{
	a->dead_letter = fn;
	a->dead_letter_ctx = ctx;
}

void applier_set_obs(applier *a, const applier_obs *obs)
{
	a->obs = obs;
	a->ops.obs = obs;
}

int applier_home_index_forget(store *db, uint32_t *forgot)
{
	return apply_home_forget(db, forgot);
}

void applier_set_cache(applier *a, size_t counts, size_t members)
{
	apply_ws_set_cache(&a->ws, counts, members);
}

void applier_note_repair(applier *a, const void *key, size_t kn, uint64_t value)
{
	const char *k = key;
	apply_ws_forget(&a->ws, key, kn);
	const char *counter, *item;
	size_t cn, in;
	if (!ckey_parse_count(k, kn, &counter, &cn, &item, &in))
		return;
	part *pt = &a->parts[partition_of(item, in, a->nparts)];
	smap_put(&pt->changed, k + 1, kn - 1, NULL)->u = value;
	changes_account(a, pt);
	pt->dirty = true;
}

void applier_set_feed(applier *a, bool changes, bool milestones, const uint64_t *thresholds,
                      size_t n)
{
	apply_feed_set(&a->feed, changes, milestones, thresholds, n);
}

void applier_set_homes(applier *a, const char *const *regions, size_t n)
{
	apply_feed_set_homes(&a->feed, regions, n);
}

uint32_t applier_feed_made(const applier *a)
{
	return a->feed.made;
}

int applier_feed_trim(applier *a, uint32_t p, uint64_t from, uint64_t upto)
{
	return feed_records_drop(a->db, p, from, upto);
}

int applier_thin_step(applier *a, uint64_t now_ms)
{
	return apply_thin_step(&a->thin, now_ms);
}

int applier_thin_round(applier *a, uint64_t now_ms)
{
	return apply_thin_round(&a->thin, now_ms);
}

void applier_dead_letter_failed(applier *a)
{
	STAT_ADD(a, deadletter_failed, 1);
}

/* Counts a refused message and hands it to the dead-letter hook, with
 * the reason formatted from fmt. */
static void quarantine(applier *a, uint32_t p, int64_t offset, const void *msg, size_t len,
                       const char *fmt, ...)
{
	char reason[APPLIER_REASON_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	STAT_ADD(a, batches_deadlettered, 1);
	if (a->dead_letter)
		a->dead_letter(a->dead_letter_ctx, p, offset, msg, len, reason);
}

int applier_resume_offset(applier *a, uint32_t p, int64_t *offset)
{
	if (p >= a->nparts)
		return ERR_NOTFOUND;
	int64_t off = atomic_load(&a->parts[p].next_offset);
	if (off < 0)
		return ERR_NOTFOUND;
	*offset = off;
	return 0;
}

/* ---- sequencing ---------------------------------------------------------- */

static int next_held(applier *a, const wire_str *edge, uint32_t p, edge_seq *es)
{
	unsigned char pre[1 + EDGE_ID_MAX + 5];
	size_t pn = ckey_edge(pre, CKEY_HELD, edge->p, edge->n, p);
	unsigned char from[sizeof pre + 8];
	memcpy(from, pre, pn);
	store_put_u64(from + pn, es->applied + 1);
	store_iter *it = store_iter_from(a->db, pre, pn, from, pn + 8);
	const char *k, *v;
	size_t kn, vn;
	es->held_min = 0;
	if (store_iter_next(it, &k, &kn, &v, &vn) && kn == pn + 8)
		es->held_min = store_get_u64((const unsigned char *)k + pn);
	int rc = store_iter_status(it);
	store_iter_free(it);
	return rc;
}

/* Stores a batch that arrived after a gap. */
static int hold(applier *a, part *pt, edge_seq *es, const wire_batch *b, const void *msg,
                size_t len, int64_t offset)
{
	unsigned char hkey[CKEY_MAX];
	size_t hkn = ckey_held(hkey, b->edge.p, b->edge.n, b->partition, b->seq);
	char *old;
	size_t oldn;
	int rc = store_get(a->db, hkey, hkn, &old, &oldn);
	if (rc == 0) {
		free(old);
	} else if (rc != ERR_NOTFOUND) {
		return rc;
	} else {
		held_add(pt, es, 1);
		/* Checked now, while the message's offset is known; its
		 * valid ops apply when the gap fills. */
		invalid inv;
		apply_ops_scan(&a->ops, b, &inv);
		if (inv.n)
			quarantine(a, b->partition, offset, msg, len,
			           "invalid_ops count=%u first_index=%u first_reason=%s", inv.n,
			           inv.first, inv.why);
	}
	store_batch_put(a->wb, hkey, hkn, msg, len);
	STAT_ADD(a, batches_held, 1);
	if (!es->held_min || b->seq < es->held_min)
		es->held_min = b->seq;
	pt->dirty = true;
	log_warn("batch held after a gap",
	         "edge=%.*s partition=%u seq=%" PRIu64 " applied=%" PRIu64, (int)b->edge.n,
	         b->edge.p, b->partition, b->seq, es->applied);
	return 0;
}

/* Applies b (seq = applied + 1), then every held batch that follows. */
static int apply_in_order(applier *a, part *pt, edge_seq *es, const wire_batch *b,
                          const unsigned char *skey, size_t sn, invalid *inv)
{
	uint32_t p = b->partition;
	int rc = apply_ops_run(&a->ops, b, inv);
	uint64_t applied = b->seq;
	uint64_t held_used = 0;
	while (rc == 0 && es->held_count > held_used) {
		unsigned char hkey[CKEY_MAX];
		size_t hkn = ckey_held(hkey, b->edge.p, b->edge.n, p, applied + 1);
		char *hv;
		size_t hn;
		rc = store_get(a->db, hkey, hkn, &hv, &hn);
		if (rc == ERR_NOTFOUND) {
			rc = 0;
			break;
		}
		if (rc)
			break;
		wire_batch hb;
		int drc = wire_decode_batch(hv, hn, &hb);
		if (drc == 0) {
			rc = apply_ops_run(&a->ops, &hb, NULL);
			wire_batch_free(&hb);
		} else {
			STAT_ADD(a, batches_bad, 1);
			log_error("held batch no longer decodes; skipped",
			          "partition=%u seq=%" PRIu64, p, applied + 1);
			quarantine(a, p, -1, hv, hn, "held_undecodable seq=%" PRIu64 " err=\"%s\"",
			           applied + 1, err_str(drc));
		}
		free(hv);
		store_batch_del(a->wb, hkey, hkn);
		applied++;
		held_used++;
	}
	if (rc) {
		apply_ws_drop(&a->ws);
		return rc;
	}
	STAT_ADD(a, batches_applied, 1 + held_used);
	es->applied = applied;
	held_add(pt, es, -(int64_t)held_used);
	if (held_used)
		log_info("gap filled; held batches applied",
		         "edge=%.*s partition=%u applied=%" PRIu64, (int)b->edge.n, b->edge.p, p,
		         applied);
	unsigned char aval[8];
	store_put_u64(aval, applied);
	store_batch_put(a->wb, skey, sn, aval, 8);
	flush(a, pt);
	pt->dirty = true;
	if (es->held_count)
		return next_held(a, &b->edge, p, es);
	es->held_min = 0;
	return 0;
}

const char *applier_batch_fault(const wire_batch *b, uint32_t p)
{
	if (b->partition != p)
		return "partition_mismatch";
	if (!item_edge_valid(b->edge.p, b->edge.n))
		return "bad_edge";
	if (!item_edge_valid(b->region.p, b->region.n))
		return "bad_region";
	if (b->seq == 0)
		return "seq_0";
	return NULL;
}

/* ---- fences ------------------------------------------------------------- */

/* A fence set by the message being applied: es->fence_ms becomes ms
 * once its store write succeeded. */
typedef struct fence_raise {
	edge_seq *es;
	uint64_t ms;
} fence_raise;

/* Puts edge's fence in p (a writer time, and the epoch of the hand-over
 * that set it, 0 for a batch) into the message's write batch. */
static void fence_put(applier *a, edge_seq *es, const wire_str *edge, uint32_t p, uint64_t ms,
                      uint64_t epoch, fence_raise *fr)
{
	unsigned char fkey[1 + EDGE_ID_MAX + 5], fval[CKEY_FENCE_LEN];
	size_t fn = ckey_edge(fkey, CKEY_FENCE, edge->p, edge->n, p);
	store_put_u64(fval, ms);
	store_put_u64(fval + 8, epoch);
	store_batch_put(a->wb, fkey, fn, fval, sizeof fval);
	*fr = (fence_raise){es, ms};
}

/* A hand-over (docs/wire.md, "Hand-over"): the edge's fence in p moves
 * to its writer time (created_ms) when that is later; an older or
 * repeated one changes nothing. A malformed one is quarantined. */
static void apply_handover(applier *a, part *pt, uint32_t p, int64_t offset, const void *msg,
                           size_t len, fence_raise *fr)
{
	wire_handover h;
	int rc = wire_decode_handover(msg, len, &h);
	const char *fault = rc                                     ? "undecodable"
	                    : h.partition != p                     ? "partition_mismatch"
	                    : !item_edge_valid(h.edge.p, h.edge.n) ? "bad_edge"
	                                                           : NULL;
	if (fault) {
		STAT_ADD(a, batches_bad, 1);
		log_error("hand-over with a bad header skipped",
		          "partition=%u offset=%" PRId64 " fault=%s", p, offset, fault);
		quarantine(a, p, offset, msg, len, "bad_handover %s", fault);
		return;
	}
	edge_seq *es = edge_of(pt, h.edge.p, h.edge.n);
	if (h.created_ms <= es->fence_ms)
		return;
	fence_put(a, es, &h.edge, p, h.created_ms, h.epoch, fr);
	STAT_ADD(a, handovers_applied, 1);
	pt->dirty = true;
	log_info("hand-over: the edge's batches of earlier writers are void in this partition",
	         "edge=%.*s partition=%u epoch=%" PRIu64 " writer_ms=%" PRIu64 " was=%" PRIu64,
	         (int)h.edge.n, h.edge.p, p, h.epoch, h.created_ms, es->fence_ms);
}

/* A batch its edge's fence voids: its writer time is before the fence,
 * so the sender was taken over before the batch came (its successor
 * sends the same batches under its own writer time). */
static bool fenced(applier *a, const edge_seq *es, const wire_batch *b, int64_t offset,
                   uint64_t writer)
{
	if (!writer || writer >= es->fence_ms)
		return false;
	STAT_ADD(a, batches_fenced, 1);
	log_warn("batch from a taken-over instance skipped",
	         "edge=%.*s partition=%u seq=%" PRIu64 " offset=%" PRId64 " writer_ms=%" PRIu64
	         " fence_ms=%" PRIu64,
	         (int)b->edge.n, b->edge.p, b->partition, b->seq, offset, writer, es->fence_ms);
	return true;
}

/* One message's effects and their store write (applier_apply). */
static int apply_message(applier *a, uint32_t p, int64_t offset, const void *msg, size_t len,
                         uint64_t writer)
{
	if (p >= a->nparts)
		return ERR_INVAL;
	part *pt = &a->parts[p];
	store_batch_clear(a->wb);
	apply_ws_drop(&a->ws); /* left over when the last message failed before its write */
	apply_feed_begin(&a->feed, pt->epoch, p, offset);
	unsigned char okey[8], oval[8];
	store_put_u64(oval, (uint64_t)offset + 1);
	store_batch_put(a->wb, okey, ckey_offset(okey, p), oval, 8);

	int rc;
	fence_raise fr = {NULL, 0};
	char type = wire_message_type(msg, len);
	if (type == 'h') {
		apply_handover(a, pt, p, offset, msg, len, &fr);
		goto write;
	}
	if (type == 'm') {
		const char *fault;
		rc = apply_move(&a->moved, &a->ws, &a->feed, a->wb, p, offset, msg, len, &fault);
		if (rc) {
			apply_ws_drop(&a->ws);
			a->feed.made = 0;
			return rc;
		}
		if (fault)
			quarantine(a, p, offset, msg, len, "bad_move %s", fault);
		else
			flush(a, pt);
		goto write;
	}
	wire_batch b;
	rc = wire_decode_batch(msg, len, &b);
	if (rc) {
		STAT_ADD(a, batches_bad, 1);
		log_error("undecodable batch skipped", "partition=%u offset=%" PRId64 " err=\"%s\"",
		          p, offset, err_str(rc));
		quarantine(a, p, offset, msg, len, "undecodable err=\"%s\"", err_str(rc));
		goto write;
	}
	const char *fault = applier_batch_fault(&b, p);
	if (fault) {
		STAT_ADD(a, batches_bad, 1);
		log_error("batch with bad header skipped",
		          "partition=%u offset=%" PRId64 " batch_partition=%u seq=%" PRIu64
		          " fault=%s",
		          p, offset, b.partition, b.seq, fault);
		quarantine(a, p, offset, msg, len, "bad_header %s batch_partition=%u seq=%" PRIu64,
		           fault, b.partition, b.seq);
		wire_batch_free(&b);
		goto write;
	}
	edge_seq *es = edge_of(pt, b.edge.p, b.edge.n);
	unsigned char skey[1 + EDGE_ID_MAX + 5 + 8];
	size_t sn = ckey_edge(skey, CKEY_APPLIED, b.edge.p, b.edge.n, p);
	invalid inv = {0, 0, NULL};
	if (fenced(a, es, &b, offset, writer))
		goto done;
	if (writer > es->fence_ms) /* its hand-over never came: the batch says as much */
		fence_put(a, es, &b.edge, p, writer, 0, &fr);
	if (b.seq <= es->applied)
		STAT_ADD(a, batches_duplicate, 1);
	else if (b.seq > es->applied + 1)
		rc = hold(a, pt, es, &b, msg, len, offset);
	else
		rc = apply_in_order(a, pt, es, &b, skey, sn, &inv);
done:
	wire_batch_free(&b);
	if (rc) {
		apply_ws_drop(&a->ws);
		a->feed.made = 0;
		return rc;
	}
	if (inv.n)
		quarantine(a, p, offset, msg, len,
		           "invalid_ops count=%u first_index=%u first_reason=%s", inv.n, inv.first,
		           inv.why);
write:;
	apply_feed_put(&a->feed, a->wb, p, version_make(pt->epoch, (uint64_t)offset));
	uint64_t t0 = clock_mono_ns();
	rc = store_write(a->db, a->wb);
	if (a->obs && a->obs->store_write)
		a->obs->store_write(a->obs->ctx, clock_mono_ns() - t0);
	if (rc) {
		apply_ws_drop(&a->ws);
		a->feed.made = 0;
		return rc;
	}
	apply_ws_commit(&a->ws);
	if (fr.es)
		fr.es->fence_ms = fr.ms;
	STAT_ADD(a, feed_events, a->feed.made);
	STAT_ADD(a, store_writes, 1);
	atomic_store(&pt->next_offset, offset + 1);
	return 0;
}

int applier_apply(applier *a, uint32_t p, int64_t offset, const void *msg, size_t len,
                  uint64_t writer)
{
	const applier_obs *obs = a->obs;
	if (obs && obs->begin)
		obs->begin(obs->ctx);
	uint64_t t0 = clock_mono_ns();
	int rc = apply_message(a, p, offset, msg, len, writer);
	if (obs && obs->end)
		obs->end(obs->ctx, clock_mono_ns() - t0);
	return rc;
}

int applier_reset_offset(applier *a, uint32_t p, int64_t offset, bool new_epoch)
{
	if (p >= a->nparts || offset < 0)
		return ERR_INVAL;
	part *pt = &a->parts[p];
	if (new_epoch && pt->epoch >= VERSION_EPOCH_MAX)
		return ERR_FULL;
	uint32_t epoch = pt->epoch + (new_epoch ? 1 : 0);
	unsigned char okey[8], oval[8], ekey[8], eval[CKEY_EPOCH_LEN];
	store_put_u64(oval, (uint64_t)offset);
	store_batch_clear(a->wb);
	store_batch_put(a->wb, okey, ckey_offset(okey, p), oval, 8);
	if (new_epoch) {
		store_put_u32(eval, epoch);
		store_batch_put(a->wb, ekey, ckey_epoch(ekey, p), eval, sizeof eval);
	}
	int rc = store_write(a->db, a->wb);
	if (rc == 0) {
		atomic_store(&pt->next_offset, offset);
		pt->epoch = epoch;
		pt->dirty = true;
	}
	return rc;
}

uint32_t applier_epoch(const applier *a, uint32_t p)
{
	return p < a->nparts ? a->parts[p].epoch : 0;
}

uint64_t applier_version(const applier *a, uint32_t p)
{
	if (p >= a->nparts)
		return 0;
	int64_t off = atomic_load(&a->parts[p].next_offset);
	return version_make(a->parts[p].epoch, off < 0 ? 0 : (uint64_t)off);
}

int applier_view_version(store_snap *sn, uint32_t p, uint64_t *version)
{
	unsigned char key[8];
	uint64_t off = 0;
	uint32_t epoch = 0;
	int rc = store_snap_read_u64(sn, key, ckey_offset(key, p), &off);
	if (rc && rc != ERR_NOTFOUND)
		return rc;
	char *v;
	size_t vn;
	rc = store_snap_get(sn, key, ckey_epoch(key, p), &v, &vn);
	if (rc == 0) {
		rc = epoch_decode(p, v, vn, &epoch);
		free(v);
	}
	if (rc && rc != ERR_NOTFOUND)
		return rc;
	*version = version_make(epoch, off);
	return 0;
}

/* ---- snapshots ----------------------------------------------------------- */

void applier_snapshot_failed(applier *a, uint32_t p)
{
	part *pt = &a->parts[p];
	size_t pos = 0;
	const char *k;
	size_t kn;
	smap_val *v;
	while (smap_next(&pt->emitted, &pos, &k, &kn, &v)) {
		bool created;
		smap_val *c = smap_put(&pt->changed, k, kn, &created);
		if (created)
			c->u = v->u; /* a newer count, if any, stays */
	}
	smap_clear(&pt->emitted);
	changes_account(a, pt);
	pt->dirty = true;
}

bool applier_dirty(const applier *a, uint32_t p)
{
	return p < a->nparts && a->parts[p].dirty;
}

void applier_snapshot(applier *a, uint32_t p, size_t max_counts, wire_snapshot *s, bool *more)
{
	part *pt = &a->parts[p];
	memset(s, 0, sizeof *s);
	s->partition = p;
	s->offset = applier_version(a, p);
	smap_clear(&pt->emitted);

	size_t n = pt->changed.len < max_counts ? pt->changed.len : max_counts;
	s->counts = xcalloc(n ? n : 1, sizeof *s->counts);
	size_t pos = 0, i = 0;
	const char *k;
	size_t kn;
	smap_val *v;
	while (i < n && smap_next(&pt->changed, &pos, &k, &kn, &v)) {
		smap_val *e = smap_put(&pt->emitted, k, kn, NULL);
		e->u = v->u;
		i++;
	}
	/* Remove what was emitted from changed, then point the snapshot at
	 * the emitted map's own copies of the keys. */
	pos = 0;
	i = 0;
	while (smap_next(&pt->emitted, &pos, &k, &kn, &v)) {
		smap_del(&pt->changed, k, kn);
		const char *counter, *item;
		size_t cn, in;
		if (!ckey_split_pair(k, kn, &counter, &cn, &item, &in))
			abort(); /* only pairs of valid names are ever put in changed */
		s->counts[i].counter = wire_cstr(counter, cn);
		s->counts[i].item = wire_cstr(item, in);
		s->counts[i].count = v->u;
		i++;
	}
	s->ncounts = (uint32_t)i;

	s->edges = xcalloc(pt->edges.len ? pt->edges.len : 1, sizeof *s->edges);
	pos = 0;
	i = 0;
	while (smap_next(&pt->edges, &pos, &k, &kn, &v)) {
		edge_seq *es = v->p;
		s->edges[i].edge = wire_cstr(k, kn);
		s->edges[i].applied = es->applied;
		s->edges[i].held = es->held_min;
		i++;
	}
	s->nedges = (uint32_t)i;
	changes_account(a, pt);
	*more = pt->changed.len > 0;
	s->last = !*more;
	pt->dirty = *more;
}

int applier_mark_changed(applier *a, const char *counter, size_t cn, const char *item, size_t in)
{
	unsigned char key[CKEY_MAX];
	if (cn == 0 || in == 0 || cn > COUNTER_MAX || in > ITEM_MAX)
		return ERR_INVAL;
	size_t kn = ckey_count(key, counter, cn, item, in);
	uint64_t count = 0;
	int rc = store_read_u64(a->db, key, kn, &count);
	if (rc == ERR_NOTFOUND || rc == ERR_CORRUPT)
		count = 0;
	else if (rc)
		return rc;
	part *pt = &a->parts[partition_of(item, in, a->nparts)];
	bool created;
	smap_val *v = smap_put(&pt->changed, (const char *)key + 1, kn - 1, &created);
	if (created)
		v->u = count; /* a count changed since is newer: it stays */
	changes_account(a, pt);
	pt->dirty = true;
	return 0;
}

/* ---- reads --------------------------------------------------------------- */

int applier_count(applier *a, const char *counter, const char *item, uint64_t *count)
{
	unsigned char key[CKEY_MAX];
	size_t cn = strlen(counter), in = strlen(item);
	if (cn > COUNTER_MAX || in > ITEM_MAX)
		return ERR_INVAL;
	int rc = store_read_u64(a->db, key, ckey_count(key, counter, cn, item, in), count);
	if (rc == ERR_NOTFOUND || rc == ERR_CORRUPT) {
		*count = 0;
		return 0;
	}
	return rc;
}

void applier_get_stats(const applier *a, applier_stats *out)
{
	out->batches_applied = STAT_GET(a, batches_applied);
	out->batches_duplicate = STAT_GET(a, batches_duplicate);
	out->batches_held = STAT_GET(a, batches_held);
	out->batches_bad = STAT_GET(a, batches_bad);
	out->batches_deadlettered = STAT_GET(a, batches_deadlettered);
	out->deadletter_failed = STAT_GET(a, deadletter_failed);
	out->ops_applied = LOAD(a->ops.ops_applied);
	out->ops_invalid = LOAD(a->ops.ops_invalid);
	out->store_writes = STAT_GET(a, store_writes);
	out->numbers_clamped = LOAD(a->ws.clamped);
	out->feed_events = STAT_GET(a, feed_events);
	out->home_unrouted = LOAD(a->feed.unrouted);
	out->moves_applied = LOAD(a->moved.applied);
	out->moves_stale = LOAD(a->moved.stale);
	out->moves_bad = LOAD(a->moved.bad);
	out->moved_pairs = LOAD(a->moved.pairs);
	out->handovers_applied = STAT_GET(a, handovers_applied);
	out->batches_fenced = STAT_GET(a, batches_fenced);
	out->days_thinned = LOAD(a->thin.thinned);
	out->thin_rounds = LOAD(a->thin.rounds);
	out->count_cache_hits = LOAD(a->ws.counts.hits);
	out->count_cache_misses = LOAD(a->ws.counts.misses);
	out->member_cache_hits = LOAD(a->ws.members.hits);
	out->member_cache_misses = LOAD(a->ws.members.misses);
}

void applier_get_memory(const applier *a, applier_memory *out)
{
	out->count_cache = kcache_bytes(&a->ws.counts);
	out->member_cache = kcache_bytes(&a->ws.members);
	out->working_set = LOAD(a->ws.bytes) + LOAD(a->ops.defs_bytes);
	out->snapshot_changes = atomic_load_explicit(&a->changes_bytes, memory_order_relaxed);
	out->moved_users = LOAD(a->moved.bytes);
}

int64_t applier_input_offset(const applier *a, uint32_t p)
{
	if (p >= a->nparts)
		return -1;
	return atomic_load_explicit(&a->parts[p].next_offset, memory_order_relaxed);
}

uint64_t applier_held_batches(const applier *a, uint32_t p)
{
	if (p >= a->nparts)
		return 0;
	return atomic_load_explicit(&a->parts[p].held, memory_order_relaxed);
}
