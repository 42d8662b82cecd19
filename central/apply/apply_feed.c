/* apply_feed.c - the change feed's events as the applier makes them
 * (apply_feed.h; docs/events.md), appended to the message's 'X' record
 * (feedrec.h), which apply.c writes with the message's effects.
 */
#include "central/apply/apply_feed.h"

#include <stdlib.h>
#include <string.h>

#include "central/apply/keys.h"
#include "clock.h"
#include "xmem.h"

static int by_value(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

void apply_feed_init(apply_feed *f)
{
	*f = (apply_feed){0};
	sbuf_init(&f->rec);
}

void apply_feed_free(apply_feed *f)
{
	sbuf_free(&f->rec);
	free(f->thresholds);
	apply_feed_set_homes(f, NULL, 0);
}

void apply_feed_set(apply_feed *f, bool changes, bool milestones, const uint64_t *thresholds,
                    size_t n)
{
	free(f->thresholds);
	f->thresholds = NULL;
	f->nthresholds = 0;
	f->changes = changes;
	f->milestones = milestones && n > 0;
	if (!f->milestones)
		return;
	f->thresholds = xmalloc(n * sizeof *f->thresholds);
	memcpy(f->thresholds, thresholds, n * sizeof *f->thresholds);
	qsort(f->thresholds, n, sizeof *f->thresholds, by_value);
	f->nthresholds = n;
}

void apply_feed_set_homes(apply_feed *f, const char *const *regions, size_t n)
{
	for (size_t i = 0; i < f->nhomes; i++)
		free(f->homes[i]);
	f->nhomes = 0;
	for (size_t i = 0; i < n && i < FEEDREC_HOMES_MAX; i++)
		f->homes[f->nhomes++] = xstrdup(regions[i]);
}

void apply_feed_begin(apply_feed *f, uint32_t epoch, uint32_t p, int64_t offset)
{
	f->made = 0;
	f->rec.len = 0;
	if (f->changes || f->milestones || f->nhomes) {
		f->id = (feedev_id){epoch, p, (uint64_t)offset, 0};
		memset(f->index, 0, sizeof f->index);
		feedrec_begin(&f->rec, clock_wall_ms());
	}
}

void apply_feed_put(apply_feed *f, store_batch *wb, uint32_t p, uint64_t version)
{
	if (!f->made)
		return;
	unsigned char xkey[CKEY_FEED_LEN];
	store_batch_put(wb, xkey, ckey_feed(xkey, p, version), f->rec.p, f->rec.len);
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
	return store_iter_end_write(db, it, wb, 0);
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
static void put_event(apply_feed *f, int topic, feedev *e)
{
	if (!f->rec.len)
		abort(); /* apply_feed_begin comes before any op applies */
	e->id = f->id;
	e->id.index = f->index[topic]++;
	/* Keyed by item, as the topics are; a move has none: by its user. */
	bool home = e->type == FEEDEV_HOME;
	size_t at = feedrec_open(&f->rec, topic, e->id.index, home ? e->user : e->item,
	                         home ? e->user_n : e->item_n);
	feedrec_event_put(e, &f->rec);
	feedrec_close(&f->rec, at);
	f->made++;
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

void apply_feed_home_to(apply_feed *f, const char *home, size_t hn, const wire_op *op,
                        const merge_state *st, uint64_t count)
{
	for (size_t i = 0; i < f->nhomes; i++) {
		if (strlen(f->homes[i]) != hn || memcmp(f->homes[i], home, hn) != 0)
			continue;
		feedev e = op_event(op, FEEDEV_SET, st->region, st->region_len, st->hlc, count);
		e.member = st->present;
		put_event(f, FEEDREC_HOMES + (int)i, &e);
		return;
	}
	atomic_fetch_add_explicit(&f->unrouted, 1, memory_order_relaxed);
}

void apply_feed_moved(apply_feed *f, const wire_move *m)
{
	for (size_t i = 0; i < f->nhomes; i++) {
		feedev e = {.type = FEEDEV_HOME,
		            .counter = "",
		            .item = "",
		            .user = m->user.p,
		            .user_n = m->user.n,
		            .region = m->home.p,
		            .region_n = m->home.n,
		            .n = m->since_ms};
		put_event(f, FEEDREC_HOMES + (int)i, &e);
	}
}

void apply_feed_home(apply_feed *f, const wire_batch *b, const wire_op *op, const merge_state *st,
                     uint64_t count)
{
	if (op->home.n == b->region.n && memcmp(op->home.p, b->region.p, b->region.n) == 0)
		return; /* at home where it was made: that edge has it */
	apply_feed_home_to(f, op->home.p, op->home.n, op, st, count);
}

int apply_feed_change(apply_feed *f, apply_ws *w, const wire_op *op, bool is_set, bool member,
                      uint64_t n, const char *region, size_t rn, uint64_t hlc, uint64_t before,
                      uint64_t after)
{
	if (!f->changes && !f->milestones)
		return 0;
	feedev e = op_event(op, is_set ? FEEDEV_SET : FEEDEV_SUM, region, rn, hlc, after);
	e.member = member;
	e.n = n;
	if (f->changes)
		put_event(f, FEEDREC_CHANGES, &e);
	if (!f->milestones || after <= before)
		return 0;
	for (size_t i = 0; i < f->nthresholds; i++) {
		uint64_t t = f->thresholds[i];
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
		int rc = apply_ws_num_add(w, key, kn, 0, false, &lv);
		if (rc)
			return rc;
		uint64_t *level = (uint64_t *)lv->val;
		if (*level >= t)
			continue;
		*level = t;
		feedev m = e;
		m.type = FEEDEV_MILESTONE;
		m.threshold = t;
		put_event(f, FEEDREC_MILESTONES, &m);
	}
	return 0;
}
