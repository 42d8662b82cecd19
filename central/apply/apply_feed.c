/* apply_feed.c - the change feed's events as the applier makes them
 * (docs/events.md): one per change that moved a count, and one per
 * threshold a count reaches for the first time, appended to the message's
 * 'X' record (feedrec.h), which apply.c writes with the message's
 * effects. The applier's thread only; feed_records_drop and
 * feed_records_close take any store, on its caller's thread.
 */
#include <stdlib.h>
#include <string.h>

#include "central/apply/apply_int.h"
#include "central/apply/feedrec.h"
#include "central/apply/keys.h"
#include "xmem.h"

static int by_value(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

void applier_set_feed(applier *a, bool changes, bool milestones, const uint64_t *thresholds,
                      size_t n)
{
	free(a->thresholds);
	a->thresholds = NULL;
	a->nthresholds = 0;
	a->feed_changes = changes;
	a->feed_milestones = milestones && n > 0;
	if (!a->feed_milestones)
		return;
	a->thresholds = xmalloc(n * sizeof *a->thresholds);
	memcpy(a->thresholds, thresholds, n * sizeof *a->thresholds);
	qsort(a->thresholds, n, sizeof *a->thresholds, by_value);
	a->nthresholds = n;
}

void applier_set_homes(applier *a, const char *const *regions, size_t n)
{
	for (size_t i = 0; i < a->nhomes; i++)
		free(a->homes[i]);
	a->nhomes = 0;
	for (size_t i = 0; i < n && i < FEEDREC_HOMES_MAX; i++)
		a->homes[a->nhomes++] = xstrdup(regions[i]);
}

uint32_t applier_feed_made(const applier *a)
{
	return a->feed_made;
}

int applier_feed_trim(applier *a, uint32_t p, uint64_t from, uint64_t upto)
{
	return feed_records_drop(a->db, p, from, upto);
}

int feed_records_drop(store *db, uint32_t p, uint64_t from, uint64_t upto)
{
	unsigned char pre[5], start[CKEY_FEED_LEN];
	ckey_feed_prefix(pre, p);
	ckey_feed(start, p, from);
	store_batch *wb = store_batch_new();
	store_iter *it = store_iter_from(db, pre, sizeof pre, start, sizeof start);
	const char *k, *v;
	size_t kn, vn;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t kp;
		uint64_t version;
		if (ckey_parse_feed(k, kn, &kp, &version) &&
		    (version > upto || version == CKEY_FEED_END))
			break;
		store_batch_del(wb, k, kn);
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (!rc)
		rc = store_write(db, wb);
	store_batch_free(wb);
	return rc;
}

int feed_records_close(store *db, uint32_t nparts)
{
	/* Put blindly: an end key is always empty, so writing it again
	 * changes nothing. */
	store_batch *wb = store_batch_new();
	for (uint32_t p = 0; p < nparts; p++) {
		unsigned char k[CKEY_FEED_LEN];
		ckey_feed(k, p, CKEY_FEED_END);
		store_batch_put(wb, k, sizeof k, "", 0);
	}
	int rc = store_write(db, wb);
	store_batch_free(wb);
	return rc;
}

/* Appends e to the message's record under the next index. */
static void put_event(applier *a, int topic, feedev *e)
{
	if (!a->feed_rec.len)
		abort(); /* apply.c begins the record before any op applies */
	e->id = a->feed_id;
	e->id.index = a->feed_index[topic]++;
	/* Keyed by item, as the topics are; a move has none: by its user. */
	bool home = e->type == FEEDEV_HOME;
	size_t at = feedrec_open(&a->feed_rec, topic, e->id.index, home ? e->user : e->item,
	                         home ? e->user_n : e->item_n);
	feedrec_event_put(e, &a->feed_rec);
	feedrec_close(&a->feed_rec, at);
	a->feed_made++;
}

/* The event of a change op made: its names, and the winning op's
 * region and clock, with the count after it. */
static feedev op_event(const wire_op *op, enum feedev_type type, const char *region, size_t rn,
                       uint64_t hlc, uint64_t count)
{
	return (feedev){.type = type,
	                .counter = op->counter.p,
	                .counter_n = op->counter.n,
	                .item = op->item.p,
	                .item_n = op->item.n,
	                .user = op->user.p,
	                .user_n = op->user.n,
	                .region = region,
	                .region_n = rn,
	                .hlc = hlc,
	                .count = count};
}

bool apply_feed_home_to(applier *a, const char *home, size_t hn, const wire_op *op,
                        const merge_state *st, uint64_t count)
{
	for (size_t i = 0; i < a->nhomes; i++) {
		if (strlen(a->homes[i]) != hn || memcmp(a->homes[i], home, hn) != 0)
			continue;
		feedev e = op_event(op, FEEDEV_SET, st->region, st->region_len, st->hlc, count);
		e.member = st->present;
		put_event(a, FEEDREC_HOMES + (int)i, &e);
		return true;
	}
	return false;
}

void apply_feed_moved(applier *a, const wire_move *m)
{
	for (size_t i = 0; i < a->nhomes; i++) {
		feedev e = {.type = FEEDEV_HOME,
		            .counter = "",
		            .item = "",
		            .user = m->user.p,
		            .user_n = m->user.n,
		            .region = m->home.p,
		            .region_n = m->home.n,
		            .n = m->since_ms};
		put_event(a, FEEDREC_HOMES + (int)i, &e);
	}
}

void apply_feed_home(applier *a, const wire_batch *b, const wire_op *op, const merge_state *st,
                     uint64_t count)
{
	if (op->home.n == b->region.n && memcmp(op->home.p, b->region.p, b->region.n) == 0)
		return; /* at home where it was made: that edge has it */
	if (!apply_feed_home_to(a, op->home.p, op->home.n, op, st, count))
		STAT_ADD(a, home_unrouted, 1);
}

int apply_feed_change(applier *a, const wire_op *op, bool is_set, bool member, uint64_t n,
                      const char *region, size_t rn, uint64_t hlc, uint64_t before, uint64_t after)
{
	if (!a->feed_changes && !a->feed_milestones)
		return 0;
	feedev e = op_event(op, is_set ? FEEDEV_SET : FEEDEV_SUM, region, rn, hlc, after);
	e.member = member;
	e.n = n;
	if (a->feed_changes)
		put_event(a, FEEDREC_CHANGES, &e);
	if (!a->feed_milestones || after <= before)
		return 0;
	for (size_t i = 0; i < a->nthresholds; i++) {
		uint64_t t = a->thresholds[i];
		if (t <= before)
			continue;
		if (t > after)
			break;
		/* Crossed upward: announced unless a higher or equal one was
		 * (the level never comes down, so a dip and a return are
		 * silent). */
		unsigned char key[CKEY_MAX];
		size_t kn = ckey_level(key, op->counter.p, op->counter.n, op->item.p, op->item.n);
		ktab_ent *lv;
		int rc = apply_num_add(a, key, kn, 0, false, &lv);
		if (rc)
			return rc;
		uint64_t *level = (uint64_t *)lv->val;
		if (*level >= t)
			continue;
		*level = t;
		feedev m = e;
		m.type = FEEDEV_MILESTONE;
		m.threshold = t;
		put_event(a, FEEDREC_MILESTONES, &m);
	}
	return 0;
}
