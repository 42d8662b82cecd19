/* check_answers.c - the end of a drill, the edges' answers (check.h,
 * check_ans_*): every likes count an edge answered during the run, held
 * to central's count at the version it named plus its region's own ops
 * central had not applied there.
 *
 * The reference count at the answer's offset comes from check_snap's
 * merge (check_snap_ask); so does the offset below which each op of a
 * (user, item, hlc) was merged (the merged hook). The load's trace gives
 * each like and unlike sent: the region, when its first attempt left,
 * how it ended and the hlc its answer gave. One owner, the runner.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition.h"
#include "sim/drill/check.h"
#include "smap.h"
#include "version.h"
#include "xmem.h"

#define NAME_MAX_ 48
#define KEY_CAP (2 * NAME_MAX_ + 2 + 8)

enum { ANS_WAITING, ANS_COUNTED, ANS_SKIPPED };

/* A user's pending ops of the item, for the answer being judged. */
typedef struct pair_acc {
	uint32_t id;  /* the answer (+ 1) it holds the ops of */
	int32_t sure; /* the signs of its sure ops, added */
	bool like;    /* a like among them */
	bool unlike;  /* an unlike among them */
	bool unsure;  /* an op the answering process may not have counted */
} pair_acc;

/* A list of writes by (item, region, first sent): their indexes, and for
 * the merged ones each one's merge offset and the greatest of it so far
 * in its (item, region). */
typedef struct wlist {
	size_t *at;
	uint64_t *off, *most;
	size_t n;
} wlist;

struct check_ans {
	const load_trace *t;
	uint64_t *ref;     /* per answer: the reference count, once counted */
	uint8_t *state;    /* per answer: ANS_* */
	uint64_t *off;     /* per answer: its version's offset */
	smap merged;       /* user 0 item 0 hlc (8 bytes) -> the offset first merged at */
	wlist done;        /* acked writes the merge took: pending until their offset */
	wlist other;       /* the rest ("changed": false left out): open, refused, never merged */
	pair_acc *acc;     /* per user */
	uint32_t *touched; /* the users acc holds the current answer's ops of */
	check_ans_wrong_fn wrong;
	void *ctx;
	check_ans_figures f;
};

static size_t op_key(char *key, const char *user, size_t un, const char *item, size_t in,
                     uint64_t hlc)
{
	size_t n = 0;
	memcpy(key + n, user, un);
	n += un;
	key[n++] = '\0';
	memcpy(key + n, item, in);
	n += in;
	key[n++] = '\0';
	memcpy(key + n, &hlc, sizeof hlc);
	return n + sizeof hlc;
}

static void on_count(void *ctx, size_t cookie, uint64_t count)
{
	check_ans *ca = ctx;
	ca->ref[cookie] = count;
	ca->state[cookie] = ANS_COUNTED;
}

static void on_not_judged(void *ctx, size_t cookie)
{
	check_ans *ca = ctx;
	ca->state[cookie] = ANS_SKIPPED;
}

static void on_merged(void *ctx, wire_str counter, wire_str item, wire_str user, uint64_t hlc,
                      uint64_t offset)
{
	check_ans *ca = ctx;
	if (counter.n != strlen(LOAD_SET_COUNTER) ||
	    memcmp(counter.p, LOAD_SET_COUNTER, counter.n) || user.n > NAME_MAX_ ||
	    item.n > NAME_MAX_)
		return;
	char key[KEY_CAP];
	bool created;
	smap_val *v =
	    smap_put(&ca->merged, key, op_key(key, user.p, user.n, item.p, item.n, hlc), &created);
	if (created) {
		v->u = offset;
		ca->f.ops_merged++;
	}
}

check_ans *check_ans_new(const load_trace *t, unsigned partitions, check_snap *cs,
                         check_ans_wrong_fn wrong, void *ctx)
{
	check_ans *ca = xcalloc(1, sizeof *ca);
	ca->t = t;
	ca->wrong = wrong;
	ca->ctx = ctx;
	smap_init(&ca->merged);
	size_t n = t->ncounts ? t->ncounts : 1;
	ca->ref = xcalloc(n, sizeof *ca->ref);
	ca->state = xcalloc(n, sizeof *ca->state);
	ca->off = xcalloc(n, sizeof *ca->off);
	ca->f.answers = t->ncounts;
	check_snap_set_hooks(cs, &(check_snap_hooks){on_count, on_not_judged, on_merged, ca});
	for (size_t i = 0; i < t->ncounts; i++) {
		const load_count_rec *c = &t->counts[i];
		if (version_epoch(c->version) != 0 || !partitions) {
			ca->state[i] = ANS_SKIPPED;
			continue;
		}
		char name[NAME_MAX_];
		load_item_name(t->items, c->item, name, sizeof name);
		ca->off[i] = version_offset(c->version);
		check_snap_ask(cs, partition_of(name, strlen(name), partitions), ca->off[i],
		               LOAD_SET_COUNTER, name, i);
	}
	return ca;
}

void check_ans_free(check_ans *ca)
{
	if (!ca)
		return;
	free(ca->ref);
	free(ca->state);
	free(ca->off);
	free(ca->done.at);
	free(ca->done.off);
	free(ca->done.most);
	free(ca->other.at);
	free(ca->acc);
	free(ca->touched);
	smap_free(&ca->merged);
	free(ca);
}

static int by_place(const void *a, const void *b, void *arg)
{
	const load_trace *t = arg;
	const load_write_rec *x = &t->writes[*(const size_t *)a];
	const load_write_rec *y = &t->writes[*(const size_t *)b];
	if (x->item != y->item)
		return x->item < y->item ? -1 : 1;
	if (x->region != y->region)
		return x->region < y->region ? -1 : 1;
	return x->sent_us < y->sent_us ? -1 : x->sent_us > y->sent_us;
}

/* The first index in wl of a write of (item, region) sent at or after
 * us (0: the first of them), or wl->n. */
static size_t first_of(const load_trace *t, const wlist *wl, uint32_t item, uint8_t region,
                       uint64_t us)
{
	size_t lo = 0, hi = wl->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const load_write_rec *w = &t->writes[wl->at[mid]];
		if (w->item < item || (w->item == item && w->region < region) ||
		    (w->item == item && w->region == region && w->sent_us < us))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The offset write w's (user, item, hlc) was first merged at; max when
 * never (or w has no hlc). */
static uint64_t merged_at(const check_ans *ca, const load_write_rec *w)
{
	if (w->fate != LOAD_WRITE_ACKED || !w->hlc)
		return UINT64_MAX;
	char user[24], item[NAME_MAX_], key[KEY_CAP];
	snprintf(user, sizeof user, "u%" PRIu32, w->user);
	load_item_name(ca->t->items, w->item, item, sizeof item);
	smap_val *v =
	    smap_get(&ca->merged, key, op_key(key, user, strlen(user), item, strlen(item), w->hlc));
	return v ? v->u : UINT64_MAX;
}

/* Did the process that answered c count w for sure: acked by it (the
 * same instance, not started again since) with a change and a clock,
 * before c's read was sent? */
static bool sure(const load_write_rec *w, const load_count_rec *c)
{
	return w->fate == LOAD_WRITE_ACKED && w->hlc && w->end_us <= c->sent_us &&
	       w->inst == c->inst && w->start == c->start;
}

/* Write w, pending for answer c (number id): into its pair's account. */
static void account(check_ans *ca, const load_write_rec *w, const load_count_rec *c, uint32_t id,
                    size_t *ntouched)
{
	if (w->user >= ca->t->users)
		return;
	pair_acc *a = &ca->acc[w->user];
	if (a->id != id) {
		*a = (pair_acc){.id = id};
		ca->touched[(*ntouched)++] = w->user;
	}
	a->like |= w->like;
	a->unlike |= !w->like;
	if (sure(w, c))
		a->sure += w->like ? 1 : -1;
	else
		a->unsure = true;
}

static void judge(check_ans *ca, size_t i)
{
	const load_trace *t = ca->t;
	const load_count_rec *c = &t->counts[i];
	uint32_t id = (uint32_t)i + 1;
	size_t ntouched = 0;
	/* The merged writes of (item, region) sent before the answer came,
	 * newest first, while an older one may still be merged at or past
	 * the answer's offset: pending are those that are. */
	const wlist *d = &ca->done;
	size_t g0 = first_of(t, d, c->item, c->region, 0);
	for (size_t k = first_of(t, d, c->item, c->region, c->recv_us); k-- > g0;) {
		if (d->most[k] < ca->off[i])
			break;
		if (d->off[k] >= ca->off[i])
			account(ca, &t->writes[d->at[k]], c, id, &ntouched);
	}
	/* The others: a refusal is pending until it came, the rest for good. */
	const wlist *o = &ca->other;
	for (size_t k = first_of(t, o, c->item, c->region, 0); k < o->n; k++) {
		const load_write_rec *w = &t->writes[o->at[k]];
		if (w->item != c->item || w->region != c->region || w->sent_us >= c->recv_us)
			break;
		if (w->fate != LOAD_WRITE_REFUSED || w->end_us > c->sent_us)
			account(ca, w, c, id, &ntouched);
	}
	/* A pair whose every pending op the answering process counted moves
	 * the count by their sum (they alternate: -1, 0 or 1); one with an
	 * op it may not have counted, by up to one either way its ops go. */
	int64_t moved = 0, likes = 0, unlikes = 0;
	for (size_t k = 0; k < ntouched; k++) {
		const pair_acc *a = &ca->acc[ca->touched[k]];
		if (!a->unsure) {
			moved += a->sure > 1 ? 1 : a->sure < -1 ? -1 : a->sure;
		} else {
			likes += a->like;
			unlikes += a->unlike;
		}
	}
	uint64_t ref = ca->ref[i];
	int64_t lo = (int64_t)ref + moved - unlikes, hi = (int64_t)ref + moved + likes;
	ca->f.checked++;
	if (!likes && !unlikes)
		ca->f.exact++;
	if ((int64_t)c->count >= (lo < 0 ? 0 : lo) && (int64_t)c->count <= (hi < 0 ? 0 : hi))
		return;
	ca->f.wrong++;
	if (ca->wrong) {
		char name[NAME_MAX_];
		load_item_name(t->items, c->item, name, sizeof name);
		uint64_t sent = c->sent_us > t->t0_us ? c->sent_us - t->t0_us : 0;
		double sent_s = (double)sent / 1e6;
		check_ans_wrong w = {name,
		                     c->region,
		                     c->count,
		                     ref,
		                     c->version,
		                     moved,
		                     (uint64_t)likes,
		                     (uint64_t)unlikes,
		                     c->inst,
		                     c->start,
		                     sent_s,
		                     (double)(c->recv_us - c->sent_us) / 1e3};
		ca->wrong(ca->ctx, &w);
	}
}

/* The two lists: each write but those that answered "changed": false,
 * sorted, and the merged ones' offsets and running greatest. */
static void lists_make(check_ans *ca)
{
	const load_trace *t = ca->t;
	size_t cap = t->nwrites ? t->nwrites : 1;
	ca->done.at = xcalloc(cap, sizeof *ca->done.at);
	ca->other.at = xcalloc(cap, sizeof *ca->other.at);
	uint64_t *woff = xcalloc(cap, sizeof *woff); /* each write's, looked up once */
	for (size_t k = 0; k < t->nwrites; k++) {
		const load_write_rec *w = &t->writes[k];
		if (w->fate == LOAD_WRITE_UNCHANGED)
			continue;
		woff[k] = merged_at(ca, w);
		if (woff[k] != UINT64_MAX)
			ca->done.at[ca->done.n++] = k;
		else
			ca->other.at[ca->other.n++] = k;
	}
	qsort_r(ca->done.at, ca->done.n, sizeof *ca->done.at, by_place, (void *)t);
	qsort_r(ca->other.at, ca->other.n, sizeof *ca->other.at, by_place, (void *)t);
	wlist *d = &ca->done;
	d->off = xcalloc(d->n ? d->n : 1, sizeof *d->off);
	d->most = xcalloc(d->n ? d->n : 1, sizeof *d->most);
	for (size_t k = 0; k < d->n; k++) {
		const load_write_rec *w = &t->writes[d->at[k]];
		d->off[k] = woff[d->at[k]];
		const load_write_rec *p = k ? &t->writes[d->at[k - 1]] : NULL;
		bool first = !p || p->item != w->item || p->region != w->region;
		d->most[k] = first || d->off[k] > d->most[k - 1] ? d->off[k] : d->most[k - 1];
	}
	free(woff);
}

void check_ans_finish(check_ans *ca, check_ans_figures *out)
{
	const load_trace *t = ca->t;
	lists_make(ca);
	ca->acc = xcalloc((size_t)t->users + 1, sizeof *ca->acc);
	ca->touched = xcalloc((size_t)t->users + 1, sizeof *ca->touched);
	for (size_t i = 0; i < t->ncounts; i++) {
		if (ca->state[i] == ANS_COUNTED)
			judge(ca, i);
		else
			ca->f.skipped++;
	}
	*out = ca->f;
}
