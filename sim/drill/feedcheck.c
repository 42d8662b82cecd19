/* feedcheck.c - the change feed's replay check (feedcheck.h). Owns its
 * maps: ids per topic, pairs and (counter, item)s replayed, the truth's
 * pairs, milestones expected and seen. One owner.
 */
#include "sim/drill/feedcheck.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition.h"
#include "smap.h"
#include "xmem.h"

/* A map key of up to three strings and a number, NUL-separated. */
#define KEY_MAX (3 * (FEEDEV_STR_MAX + 1) + 24)
#define EXAMPLE_MAX 320
#define EXAMPLES_PER_KIND 4 /* so that one kind of fault does not hide the others */

/* Kinds of fault, for the examples' share. */
enum kind { K_TOPIC, K_NOOP, K_COUNT, K_STATE, K_PAIR, K_MILESTONE, K_COUNT_OF_KINDS };

/* A (counter, item): what the replay made of it and what the truth says. */
typedef struct citem {
	enum feedev_type kind; /* of its first change event; 0: none yet */
	uint64_t members;      /* set counter: pairs in */
	uint64_t sum;          /* sum counter */
	uint64_t high;         /* the highest count of its change events so far */
	bool has_truth;
	uint64_t truth;
} citem;

/* A (counter, item, threshold). */
typedef struct mstone {
	bool expected;
	size_t at;          /* its threshold's place in thresholds[] */
	feedev_id crossing; /* the change whose count reached the threshold first */
	uint64_t seen;      /* milestone events */
	feedev_id first;    /* the first of them */
} mstone;

struct feedcheck {
	unsigned partitions;
	uint64_t thresholds[FEEDCHECK_THRESHOLDS_MAX];
	size_t nthresholds;
	smap ids[2];        /* packed id -> 1, per topic */
	feedev_id *last[2]; /* per topic x partition: the highest id so far */
	bool *have_last[2];
	smap pairs;       /* "counter\0item\0user" -> 1 in, 0 out */
	smap truth_pairs; /* the same keys, present when in */
	smap items;       /* "counter\0item" -> citem */
	smap stones;      /* "counter\0item\0threshold" -> mstone */
	feedcheck_figures f;
	char *examples[FEEDCHECK_EXAMPLES_MAX];
	size_t nexamples;
	unsigned per_kind[K_COUNT_OF_KINDS];
};

static const char *const topic_name[2] = {"changes", "milestones"};

feedcheck *feedcheck_new(unsigned partitions, const uint64_t *thresholds, size_t nthresholds)
{
	feedcheck *fc = xcalloc(1, sizeof *fc);
	fc->partitions = partitions ? partitions : 1;
	for (size_t i = 0; i < nthresholds && fc->nthresholds < FEEDCHECK_THRESHOLDS_MAX; i++)
		if (thresholds[i] > 0)
			fc->thresholds[fc->nthresholds++] = thresholds[i];
	memcpy(fc->f.thresholds, fc->thresholds, sizeof fc->thresholds);
	fc->f.nthresholds = fc->nthresholds;
	for (int t = 0; t < 2; t++) {
		smap_init(&fc->ids[t]);
		fc->last[t] = xcalloc(fc->partitions, sizeof *fc->last[t]);
		fc->have_last[t] = xcalloc(fc->partitions, sizeof *fc->have_last[t]);
	}
	smap_init(&fc->pairs);
	smap_init(&fc->truth_pairs);
	smap_init(&fc->items);
	smap_init(&fc->stones);
	return fc;
}

void feedcheck_free(feedcheck *fc)
{
	if (!fc)
		return;
	for (int t = 0; t < 2; t++) {
		smap_free(&fc->ids[t]);
		free(fc->last[t]);
		free(fc->have_last[t]);
	}
	smap_free(&fc->pairs);
	smap_free(&fc->truth_pairs);
	smap_free_values(&fc->items);
	smap_free_values(&fc->stones);
	for (size_t i = 0; i < fc->nexamples; i++)
		free(fc->examples[i]);
	free(fc);
}

static void example(feedcheck *fc, enum kind k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void example(feedcheck *fc, enum kind k, const char *fmt, ...)
{
	if (fc->nexamples == FEEDCHECK_EXAMPLES_MAX || fc->per_kind[k] == EXAMPLES_PER_KIND)
		return;
	fc->per_kind[k]++;
	char buf[EXAMPLE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fc->examples[fc->nexamples++] = xstrdup(buf);
}

/* --- keys -------------------------------------------------------------------- */

/* "a\0b" or "a\0b\0c" (c NULL: two parts) into out; its length. */
static size_t key_of(char out[KEY_MAX], const char *a, size_t an, const char *b, size_t bn,
                     const char *c, size_t cn)
{
	size_t k = 0;
	memcpy(out, a, an);
	k += an;
	out[k++] = '\0';
	memcpy(out + k, b, bn);
	k += bn;
	if (c) {
		out[k++] = '\0';
		memcpy(out + k, c, cn);
		k += cn;
	}
	return k;
}

/* A key as text, its NULs as spaces. */
static void key_text(const char *key, size_t klen, char *out, size_t cap)
{
	size_t n = klen < cap - 1 ? klen : cap - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = key[i] ? key[i] : ' ';
	out[n] = '\0';
}

static size_t stone_key(char out[KEY_MAX], const char *counter, size_t cn, const char *item,
                        size_t in, uint64_t threshold)
{
	char t[24];
	int tn = snprintf(t, sizeof t, "%" PRIu64, threshold);
	return key_of(out, counter, cn, item, in, t, (size_t)tn);
}

static void *value_of(smap *m, const char *key, size_t klen, size_t size)
{
	bool created = false;
	smap_val *v = smap_put(m, key, klen, &created);
	if (created)
		v->p = xcalloc(1, size);
	return v->p;
}

static citem *item_of(feedcheck *fc, const char *counter, size_t cn, const char *item, size_t in)
{
	char k[KEY_MAX];
	size_t kn = key_of(k, counter, cn, item, in, NULL, 0);
	return value_of(&fc->items, k, kn, sizeof(citem));
}

/* --- events ------------------------------------------------------------------- */

static bool same_origin(const feedev_id *a, const feedev_id *b)
{
	return a->epoch == b->epoch && a->partition == b->partition && a->offset == b->offset;
}

/* A change in the replay: flips or adds, checks the count, marks the
 * thresholds its count reaches first. */
static void replay(feedcheck *fc, const feedev *e, const char *id)
{
	citem *ci = item_of(fc, e->counter, e->counter_n, e->item, e->item_n);
	if (!ci->kind)
		ci->kind = e->type;
	if (ci->kind != e->type) {
		fc->f.count_mismatch++;
		example(fc, K_COUNT, "changes %s: %.*s %.*s has both set and sum events", id,
		        (int)e->counter_n, e->counter, (int)e->item_n, e->item);
	}
	uint64_t now;
	if (e->type == FEEDEV_SET) {
		char k[KEY_MAX];
		size_t kn =
		    key_of(k, e->counter, e->counter_n, e->item, e->item_n, e->user, e->user_n);
		bool created = false;
		smap_val *v = smap_put(&fc->pairs, k, kn, &created);
		if ((v->u != 0) == e->member) {
			fc->f.noop++;
			example(fc, K_NOOP,
			        "changes %s: %.*s %.*s %.*s member %s leaves its pair's state "
			        "unchanged",
			        id, (int)e->counter_n, e->counter, (int)e->item_n, e->item,
			        (int)e->user_n, e->user, e->member ? "true" : "false");
		} else {
			v->u = e->member;
			if (e->member)
				ci->members++;
			else
				ci->members--;
		}
		now = ci->members;
	} else {
		ci->sum += e->n;
		now = ci->sum;
	}
	if (e->count != now) {
		fc->f.count_mismatch++;
		example(fc, K_COUNT,
		        "changes %s: %.*s %.*s count %" PRIu64 ", the replay has %" PRIu64, id,
		        (int)e->counter_n, e->counter, (int)e->item_n, e->item, e->count, now);
	}
	if (e->count <= ci->high)
		return;
	for (size_t i = 0; i < fc->nthresholds; i++) {
		uint64_t t = fc->thresholds[i];
		if (t <= ci->high || t > e->count)
			continue;
		char k[KEY_MAX];
		size_t kn = stone_key(k, e->counter, e->counter_n, e->item, e->item_n, t);
		mstone *m = value_of(&fc->stones, k, kn, sizeof(mstone));
		m->expected = true;
		m->at = i;
		m->crossing = e->id;
	}
	ci->high = e->count;
}

static void milestone(feedcheck *fc, const feedev *e)
{
	char k[KEY_MAX];
	size_t kn = stone_key(k, e->counter, e->counter_n, e->item, e->item_n, e->threshold);
	mstone *m = value_of(&fc->stones, k, kn, sizeof(mstone));
	if (!m->seen)
		m->first = e->id;
	m->seen++;
	fc->f.ms_seen++;
}

void feedcheck_add(feedcheck *fc, enum feedcheck_topic t, unsigned partition, const void *key,
                   size_t keylen, const feedev *e)
{
	feedcheck_topic_figures *tf = t == FEEDCHECK_CHANGES ? &fc->f.changes : &fc->f.milestones;
	const char *tn = topic_name[t];
	char id[FEEDEV_ID_MAX];
	feedev_id_format(&e->id, id);
	tf->events++;
	if (partition >= fc->partitions) {
		tf->misplaced++;
		example(fc, K_TOPIC, "%s %s: read from partition %u of a topic of %u", tn, id,
		        partition, fc->partitions);
		return;
	}
	uint32_t packed[5] = {e->id.epoch, e->id.partition, (uint32_t)(e->id.offset >> 32),
	                      (uint32_t)e->id.offset, e->id.index};
	bool created = false;
	smap_val *v = smap_put(&fc->ids[t], packed, sizeof packed, &created);
	if (!created) {
		tf->duplicates++;
		example(fc, K_TOPIC, "%s %s: a repeat (partition %u)", tn, id, partition);
		return;
	}
	v->u = 1;
	feedev_id *last = &fc->last[t][partition];
	if (fc->have_last[t][partition] && feedev_id_cmp(&e->id, last) <= 0) {
		char prev[FEEDEV_ID_MAX];
		feedev_id_format(last, prev);
		tf->out_of_order++;
		example(fc, K_TOPIC, "%s %s: after %s in partition %u", tn, id, prev, partition);
	} else {
		*last = e->id;
		fc->have_last[t][partition] = true;
	}
	uint32_t home = partition_of(e->item, e->item_n, fc->partitions);
	bool key_ok = !key || (keylen == e->item_n && memcmp(key, e->item, keylen) == 0);
	if (e->id.partition != partition || home != partition || !key_ok) {
		tf->misplaced++;
		example(fc, K_TOPIC, "%s %s: item %.*s (partition %u) read from partition %u%s", tn,
		        id, (int)e->item_n, e->item, home, partition,
		        key_ok ? "" : " under another key");
	}
	bool change = e->type == FEEDEV_SET || e->type == FEEDEV_SUM;
	if (change != (t == FEEDCHECK_CHANGES)) {
		tf->misplaced++;
		example(fc, K_TOPIC, "%s %s: an event of the other topic's type", tn, id);
		return;
	}
	if (change)
		replay(fc, e, id);
	else
		milestone(fc, e);
}

void feedcheck_undecodable(feedcheck *fc, enum feedcheck_topic t, unsigned partition,
                           int64_t offset, int rc)
{
	feedcheck_topic_figures *tf = t == FEEDCHECK_CHANGES ? &fc->f.changes : &fc->f.milestones;
	tf->events++;
	tf->undecodable++;
	example(fc, K_TOPIC, "%s partition %u offset %" PRId64 ": not an event (%s)", topic_name[t],
	        partition, offset, err_str(rc));
}

void feedcheck_lost(feedcheck *fc, enum feedcheck_topic t, unsigned partition, int64_t first)
{
	feedcheck_topic_figures *tf = t == FEEDCHECK_CHANGES ? &fc->f.changes : &fc->f.milestones;
	tf->lost += first > 0 ? (uint64_t)first : 0;
	example(fc, K_TOPIC,
	        "%s partition %u starts at offset %" PRId64 ": the messages before are gone",
	        topic_name[t], partition, first);
}

/* --- the truth ------------------------------------------------------------------- */

void feedcheck_truth_count(feedcheck *fc, const char *counter, const char *item, uint64_t count)
{
	citem *ci = item_of(fc, counter, strlen(counter), item, strlen(item));
	ci->has_truth = true;
	ci->truth = count;
}

void feedcheck_truth_member(feedcheck *fc, const char *counter, const char *item, const char *user)
{
	char k[KEY_MAX];
	size_t kn = key_of(k, counter, strlen(counter), item, strlen(item), user, strlen(user));
	bool created;
	smap_put(&fc->truth_pairs, k, kn, &created)->u = 1;
}

/* --- the end ---------------------------------------------------------------------- */

static void compare_pairs(feedcheck *fc)
{
	size_t pos = 0, klen;
	const char *k;
	smap_val *v;
	char text[KEY_MAX];
	while (smap_next(&fc->pairs, &pos, &k, &klen, &v)) {
		if (!v->u)
			continue;
		fc->f.pairs_in++;
		if (smap_get(&fc->truth_pairs, k, klen))
			continue;
		fc->f.pair_mismatch++;
		key_text(k, klen, text, sizeof text);
		example(fc, K_PAIR, "pair %s: in after the replay, out in the truth", text);
	}
	pos = 0;
	while (smap_next(&fc->truth_pairs, &pos, &k, &klen, &v)) {
		smap_val *r = smap_get(&fc->pairs, k, klen);
		if (r && r->u)
			continue;
		fc->f.pair_mismatch++;
		key_text(k, klen, text, sizeof text);
		example(fc, K_PAIR, "pair %s: in in the truth, %s", text,
		        r ? "out after the replay" : "no event of it");
	}
}

static void compare_counts(feedcheck *fc)
{
	size_t pos = 0, klen;
	const char *k;
	smap_val *v;
	char text[KEY_MAX];
	while (smap_next(&fc->items, &pos, &k, &klen, &v)) {
		const citem *ci = v->p;
		fc->f.counts++;
		uint64_t replayed = ci->kind == FEEDEV_SUM ? ci->sum : ci->members;
		uint64_t truth = ci->has_truth ? ci->truth : 0;
		if (replayed == truth)
			continue;
		fc->f.state_mismatch++;
		key_text(k, klen, text, sizeof text);
		example(fc, K_STATE,
		        "count %s: %" PRIu64 " after the replay, %" PRIu64 " in the truth%s", text,
		        replayed, truth, ci->has_truth ? "" : " (no op acknowledged)");
	}
}

static void compare_stones(feedcheck *fc)
{
	size_t pos = 0, klen;
	const char *k;
	smap_val *v;
	char text[KEY_MAX], a[FEEDEV_ID_MAX], b[FEEDEV_ID_MAX];
	while (smap_next(&fc->stones, &pos, &k, &klen, &v)) {
		const mstone *m = v->p;
		key_text(k, klen, text, sizeof text);
		if (!m->expected) {
			fc->f.ms_extra += m->seen;
			feedev_id_format(&m->first, a);
			example(fc, K_MILESTONE,
			        "milestone %s: %" PRIu64 " seen (first %s), none reached", text,
			        m->seen, a);
			continue;
		}
		fc->f.ms_expected++;
		fc->f.reached[m->at]++;
		feedev_id_format(&m->crossing, b);
		if (!m->seen) {
			fc->f.ms_missing++;
			example(fc, K_MILESTONE, "milestone %s: missing (reached by change %s)",
			        text, b);
			continue;
		}
		feedev_id_format(&m->first, a);
		if (m->seen > 1) {
			fc->f.ms_extra += m->seen - 1;
			example(fc, K_MILESTONE, "milestone %s: %" PRIu64 " events (first %s)",
			        text, m->seen, a);
		}
		if (!same_origin(&m->first, &m->crossing)) {
			fc->f.ms_wrong_origin++;
			example(fc, K_MILESTONE, "milestone %s: %s, but change %s reached it", text,
			        a, b);
		}
	}
}

void feedcheck_finish(feedcheck *fc, feedcheck_figures *out)
{
	compare_counts(fc);
	compare_pairs(fc);
	compare_stones(fc);
	*out = fc->f;
}

static uint64_t topic_violations(const feedcheck_topic_figures *t)
{
	return t->undecodable + t->lost + t->duplicates + t->out_of_order + t->misplaced;
}

uint64_t feedcheck_violations(const feedcheck_figures *f)
{
	return topic_violations(&f->changes) + topic_violations(&f->milestones) + f->noop +
	       f->count_mismatch + f->pair_mismatch + f->state_mismatch + f->ms_missing +
	       f->ms_extra + f->ms_wrong_origin;
}

size_t feedcheck_examples(const feedcheck *fc, const char *const **out)
{
	*out = (const char *const *)fc->examples;
	return fc->nexamples;
}
