/* verify.c - recount of set counters from their memberships, and repair
 * (see verify.h; key layout in keys.h).
 *
 * Four cursors walk the 'S', 'C', 'R' and 'Y' keys of one counter
 * together. Each key names its item right after "tag counter 0", and in
 * all four key kinds items sort the same way (bytewise, a shorter item
 * before a longer one it starts), so the smallest item under any cursor
 * is the next one to check: every cursor standing on it gives up its
 * keys to an accumulator, which holds that one item's count and buckets
 * and is compared, reported and emptied before the next. The thread
 * that calls owns everything here.
 */
#include "central/apply/verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/apply/day.h"
#include "item.h"
#include "log.h"
#include "central/apply/merge.h"
#include "smap.h"
#include "xmem.h"

/* The longest bucket name: a region (an 'R' suffix), or anything a
 * malformed suffix holds, cut there (such keys are skipped). */
#define NAME_MAX_LEN EDGE_ID_MAX

typedef struct bucket {
	char kind; /* 'R' or 'Y' */
	unsigned char name[NAME_MAX_LEN];
	size_t nn;
	uint64_t expected, stored;
	bool present, bad;
} bucket;

/* One (counter, item) being checked. */
typedef struct acc {
	const char *counter;
	size_t cn;
	char item[ITEM_MAX + 1];
	size_t in;
	uint64_t exp_c, got_c;
	bool c_present, c_bad;
	bucket *b;
	size_t nb, cap;
	smap idx; /* kind + name -> index in b */
} acc;

typedef struct cursor {
	char tag;
	store_iter *it;
	size_t base; /* where the item starts in a key */
	const char *k, *v;
	size_t kn, vn;
	bool live;
	const char *item; /* into k */
	size_t in;
} cursor;

static void cur_next(cursor *c)
{
	c->live = store_iter_next(c->it, &c->k, &c->kn, &c->v, &c->vn);
	if (!c->live)
		return;
	c->item = c->k + c->base;
	size_t rest = c->kn - c->base;
	const char *z = c->tag == CKEY_COUNT ? NULL : memchr(c->item, 0, rest);
	c->in = z ? (size_t)(z - c->item) : rest;
}

/* The suffix of the cursor's key after "item 0" (S: user, R: region,
 * Y: day); false when the key has no 0 after the item. */
static bool cur_suffix(const cursor *c, const char **s, size_t *n)
{
	size_t at = c->base + c->in;
	if (at >= c->kn || c->k[at] != 0)
		return false;
	*s = c->k + at + 1;
	*n = c->kn - at - 1;
	return true;
}

static int item_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int r = memcmp(a, b, an < bn ? an : bn);
	if (r)
		return r;
	return an < bn ? -1 : an > bn;
}

static void acc_init(acc *a)
{
	memset(a, 0, sizeof *a);
	smap_init(&a->idx);
}

static void acc_free(acc *a)
{
	free(a->b);
	smap_free(&a->idx);
}

static void acc_reset(acc *a, const char *counter, const char *item, size_t in)
{
	a->counter = counter;
	a->cn = strlen(counter);
	memcpy(a->item, item, in);
	a->item[in] = 0;
	a->in = in;
	a->exp_c = a->got_c = 0;
	a->c_present = a->c_bad = false;
	a->nb = 0;
	smap_clear(&a->idx);
}

static bucket *acc_bucket(acc *a, char kind, const void *name, size_t nn)
{
	unsigned char key[1 + NAME_MAX_LEN];
	key[0] = (unsigned char)kind;
	memcpy(key + 1, name, nn);
	bool created;
	smap_val *v = smap_put(&a->idx, key, 1 + nn, &created);
	if (!created)
		return &a->b[v->u];
	if (a->nb == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->b = xrealloc(a->b, a->cap * sizeof *a->b);
	}
	bucket *b = &a->b[a->nb];
	memset(b, 0, sizeof *b);
	b->kind = kind;
	memcpy(b->name, name, nn);
	b->nn = nn;
	v->u = a->nb++;
	return b;
}

/* The value of a number key: 8 bytes, else bad. */
static void num_value(const char *v, size_t vn, uint64_t *out, bool *bad)
{
	*bad = vn != 8;
	*out = *bad ? 0 : store_get_u64((const unsigned char *)v);
}

static void feed_state(acc *a, const cursor *c, verify_totals *t)
{
	const char *user;
	size_t un;
	merge_state st;
	t->memberships++;
	if (!cur_suffix(c, &user, &un) || !item_user_valid(user, un)) {
		t->bad_keys++;
		return;
	}
	if (merge_state_decode(c->v, c->vn, &st) || !item_edge_valid(st.region, st.region_len)) {
		t->bad_states++;
		log_warn("membership state does not decode; not counted", "counter=%s item=%s",
		         a->counter, a->item);
		return;
	}
	if (!st.present)
		return;
	t->present++;
	a->exp_c++;
	acc_bucket(a, CKEY_REGION, st.region, st.region_len)->expected++;
	unsigned char day[4];
	store_put_u32(day, day_of_hlc(st.hlc));
	acc_bucket(a, CKEY_DAY, day, 4)->expected++;
}

static void feed_bucket(acc *a, const cursor *c, verify_totals *t)
{
	const char *s;
	size_t n;
	if (!cur_suffix(c, &s, &n) || n > NAME_MAX_LEN ||
	    (c->tag == CKEY_REGION ? !item_edge_valid(s, n) : n != 4)) {
		t->bad_keys++;
		log_warn("malformed bucket key skipped", "counter=%s item=%s tag=%c", a->counter,
		         a->item, c->tag);
		return;
	}
	bucket *b = acc_bucket(a, c->tag, s, n);
	b->present = true;
	num_value(c->v, c->vn, &b->stored, &b->bad);
}

static void feed(acc *a, const cursor *c, verify_totals *t)
{
	switch (c->tag) {
	case CKEY_STATE: feed_state(a, c, t); break;
	case CKEY_COUNT:
		a->c_present = true;
		num_value(c->v, c->vn, &a->got_c, &a->c_bad);
		break;
	default: feed_bucket(a, c, t); break;
	}
}

static void describe(verify_mismatch *m, const bucket *b)
{
	if (!b) {
		snprintf(m->what, sizeof m->what, "count");
	} else if (b->kind == CKEY_REGION) {
		snprintf(m->what, sizeof m->what, "region=%.*s", (int)b->nn, (const char *)b->name);
	} else {
		char d[DAY_TEXT_MAX];
		day_format(store_get_u32(b->name), d);
		snprintf(m->what, sizeof m->what, "day=%s", d);
	}
}

/* Compares what the item holds with its recount; reports each
 * difference. */
static void acc_finish(acc *a, verify_fn fn, void *ctx, verify_totals *t)
{
	verify_mismatch m;
	bool any = false;
	t->items++;
	for (size_t i = 0; i <= a->nb; i++) {
		const bucket *b = i < a->nb ? &a->b[i] : NULL; /* NULL: the count */
		uint64_t stored = b ? b->stored : a->got_c;
		uint64_t expected = b ? b->expected : a->exp_c;
		bool bad = b ? b->bad : a->c_bad;
		if (!bad && stored == expected)
			continue;
		memset(&m, 0, sizeof m);
		memcpy(m.counter, a->counter, a->cn + 1);
		memcpy(m.item, a->item, a->in + 1);
		m.kind = b ? b->kind : CKEY_COUNT;
		if (!b) {
			m.kn = ckey_count(m.key, a->counter, a->cn, a->item, a->in);
		} else {
			m.kn = ckey_breakdown_prefix(m.key, b->kind, a->counter, a->cn, a->item,
			                             a->in);
			memcpy(m.key + m.kn, b->name, b->nn);
			m.kn += b->nn;
		}
		describe(&m, b);
		m.stored_present = b ? b->present : a->c_present;
		m.stored_bad = bad;
		m.stored = stored;
		m.expected = expected;
		t->mismatches++;
		any = true;
		if (fn)
			fn(ctx, &m);
	}
	if (any)
		t->items_mismatched++;
}

/* Walks one set counter; with only set, just that item. */
static int walk(store_snap *sn, const char *counter, const char *only, verify_fn fn, void *ctx,
                verify_totals *t)
{
	static const char tags[4] = {CKEY_STATE, CKEY_COUNT, CKEY_REGION, CKEY_DAY};
	size_t cn = strlen(counter), on = only ? strlen(only) : 0;
	cursor cur[4];
	int rc = 0;
	for (int i = 0; i < 4; i++) {
		unsigned char pre[CKEY_MAX];
		size_t pn;
		if (!only)
			pn = ckey_join(pre, tags[i], counter, cn, "", 0, NULL, 0, 0);
		else if (tags[i] == CKEY_COUNT)
			pn = ckey_count(pre, counter, cn, only, on);
		else
			pn = ckey_breakdown_prefix(pre, tags[i], counter, cn, only, on);
		cur[i] = (cursor){.tag = tags[i], .base = 1 + cn + 1};
		cur[i].it = store_snap_iter_from(sn, pre, pn, NULL, 0);
		cur_next(&cur[i]);
	}
	acc a;
	acc_init(&a);
	for (;;) {
		const cursor *lo = NULL;
		for (int i = 0; i < 4; i++)
			if (cur[i].live &&
			    (!lo || item_cmp(cur[i].item, cur[i].in, lo->item, lo->in) < 0))
				lo = &cur[i];
		if (!lo)
			break;
		size_t in = lo->in;
		bool ok = in <= ITEM_MAX && item_valid(lo->item, in);
		/* A copy: lo's key changes when lo moves on. */
		char buf[ITEM_MAX + 1];
		char *item = in <= ITEM_MAX ? buf : xmalloc(in + 1);
		memcpy(item, lo->item, in);
		item[in] = 0;
		if (only && (!ok || in != on || memcmp(item, only, on) != 0)) {
			if (item != buf)
				free(item);
			break; /* past the item: a longer one under the 'C' prefix */
		}
		if (ok)
			acc_reset(&a, counter, item, in);
		else
			log_warn("keys with a malformed item skipped", "counter=%s", counter);
		for (int i = 0; i < 4; i++) {
			cursor *c = &cur[i];
			while (c->live && item_cmp(c->item, c->in, item, in) == 0) {
				if (ok)
					feed(&a, c, t);
				else
					t->bad_keys++;
				cur_next(c);
			}
		}
		if (item != buf)
			free(item);
		if (ok)
			acc_finish(&a, fn, ctx, t);
	}
	for (int i = 0; i < 4; i++) {
		int irc = store_iter_status(cur[i].it);
		if (!rc)
			rc = irc;
		store_iter_free(cur[i].it);
	}
	acc_free(&a);
	return rc;
}

int verify_scan(store_snap *sn, const counters *ctr, verify_fn fn, void *ctx, verify_totals *t)
{
	memset(t, 0, sizeof *t);
	for (size_t i = 0; i < ctr->n; i++) {
		if (ctr->defs[i].kind != COUNTER_SET) {
			t->sum_counters++;
			continue;
		}
		int rc = walk(sn, ctr->defs[i].name, NULL, fn, ctx, t);
		if (rc)
			return rc;
	}
	return 0;
}

int verify_item(store_snap *sn, const char *counter, const char *item, verify_fn fn, void *ctx,
                verify_totals *t)
{
	if (!item_counter_valid(counter, strlen(counter)) || !item_valid(item, strlen(item)))
		return ERR_INVAL;
	return walk(sn, counter, item, fn, ctx, t);
}

/* ---- repair -------------------------------------------------------------- */

typedef struct found {
	verify_mismatch *m;
	size_t n, cap;
} found;

static void collect(void *ctx, const verify_mismatch *m)
{
	found *f = ctx;
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->m = xrealloc(f->m, f->cap * sizeof *f->m);
	}
	f->m[f->n++] = *m;
}

/* Repairs one item: its mismatches as the store holds them now, fixed in
 * one write. */
static int repair_one(store *db, store_batch *wb, applier *a, const verify_target *tg, verify_fn fn,
                      void *ctx, verify_totals *t)
{
	found f = {0};
	store_snap *sn = store_snap_new(db);
	verify_totals seen = {0};
	int rc = walk(sn, tg->counter, tg->item, collect, &f, &seen);
	store_snap_free(sn);
	t->items += seen.items;
	t->memberships += seen.memberships;
	t->present += seen.present;
	t->mismatches += seen.mismatches;
	t->items_mismatched += seen.items_mismatched;
	t->bad_states += seen.bad_states;
	t->bad_keys += seen.bad_keys;
	if (rc || !f.n) {
		free(f.m);
		return rc;
	}
	store_batch_clear(wb);
	for (size_t i = 0; i < f.n; i++) {
		const verify_mismatch *m = &f.m[i];
		if (m->kind != CKEY_COUNT && m->expected == 0) {
			store_batch_del(wb, m->key, m->kn);
		} else {
			unsigned char v[8];
			store_put_u64(v, m->expected);
			store_batch_put(wb, m->key, m->kn, v, 8);
		}
	}
	rc = store_write(db, wb);
	if (rc) {
		log_error("repair write failed; nothing of this item changed",
		          "counter=%s item=%s err=\"%s\"", tg->counter, tg->item, err_str(rc));
		free(f.m);
		return rc;
	}
	for (size_t i = 0; i < f.n; i++) {
		const verify_mismatch *m = &f.m[i];
		log_info("repaired",
		         "counter=%s item=%s key=%c what=%s old=%" PRIu64
		         " old_state=%s new=%" PRIu64,
		         m->counter, m->item, m->kind, m->what, m->stored,
		         m->stored_bad ? "bad" : (m->stored_present ? "present" : "absent"),
		         m->expected);
		if (a)
			applier_note_repair(a, m->key, m->kn, m->expected);
		t->repaired++;
		if (fn)
			fn(ctx, m);
	}
	free(f.m);
	return 0;
}

int verify_repair(store *db, const counters *ctr, applier *a, const verify_target *targets,
                  size_t n, verify_fn fn, void *ctx, verify_totals *t)
{
	store_batch *wb = store_batch_new();
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const verify_target *tg = &targets[i];
		const counter_def *d = counters_find(ctr, tg->counter, strlen(tg->counter));
		if (!d || d->kind != COUNTER_SET || !item_valid(tg->item, strlen(tg->item))) {
			log_warn("repair skipped: not an item of a set counter", "counter=%s",
			         tg->counter);
			continue;
		}
		rc = repair_one(db, wb, a, tg, fn, ctx, t);
	}
	store_batch_free(wb);
	return rc;
}

/* ---- report -------------------------------------------------------------- */

void verify_report_init(verify_report *r, size_t cap, size_t cap_targets)
{
	memset(r, 0, sizeof *r);
	r->cap = cap;
	r->m = xcalloc(cap ? cap : 1, sizeof *r->m);
	r->cap_targets = cap_targets;
	r->targets = xcalloc(cap_targets ? cap_targets : 1, sizeof *r->targets);
}

void verify_report_free(verify_report *r)
{
	free(r->m);
	free(r->targets);
	r->m = NULL;
	r->targets = NULL;
}

void verify_report_add(void *ctx, const verify_mismatch *m)
{
	verify_report *r = ctx;
	r->seen++;
	if (r->n < r->cap)
		r->m[r->n++] = *m;
	/* Mismatches come item by item, so a new item differs from the last. */
	if (r->ntargets) {
		const verify_target *last = &r->targets[r->ntargets - 1];
		if (strcmp(last->counter, m->counter) == 0 && strcmp(last->item, m->item) == 0)
			return;
	}
	if (r->ntargets == r->cap_targets) {
		r->targets_truncated = true;
		return;
	}
	verify_target *tg = &r->targets[r->ntargets++];
	memcpy(tg->counter, m->counter, sizeof tg->counter);
	memcpy(tg->item, m->item, sizeof tg->item);
}
