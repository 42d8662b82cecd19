/* load_judge.c - what the load judges while it runs (issue 68's checker,
 * during the run), and the writes it gives up on:
 *
 *   - read-your-writes at home: a heart read at a user's home edge,
 *     answered by the very process that acknowledged the user's last
 *     like or unlike of the pair there, shows that op, however young it
 *     is. What the product promises is only that (docs/api.md, /v1/me: a
 *     home user's pairs are answered from the edge's store): another
 *     instance (a takeover), a restarted one, an answer away from home or
 *     an op made away are held to the truth only once converge_ms old
 *     with a stretch that long since free of faults on its way home
 *     (load_me.c);
 *   - no answer shows what no op sent could make: a heart liked whose
 *     pair never had a like sent, a count above the likes of distinct
 *     users ever sent for the item (or the views ever sent), plus, at a
 *     region, the pairs whose like was sent both there and elsewhere
 *     (or there before its store started again: a wiped edge forgets).
 *     That second term is the contract's own (docs/api.md, "Counts"):
 *     an edge answers its snapshot plus its own ops not yet in it, and a
 *     like of a pair it does not know (an away user's) is one of its
 *     own ops even when central already counts the pair from another
 *     region, until central applies it (as a repeat) and a snapshot
 *     covers it. Answers above the distinct users but within that bound
 *     are counted apart (cross_region_overcounts), not judged;
 *   - a like or unlike whose attempt got no answer may be given up
 *     (give_up_share): it is indeterminate, kept with what it may change
 *     (the truth's ranges, load_truth) until central is asked what
 *     became of it (load_resolve), and its user sends nothing more, so
 *     no later op of theirs is ordered against it.
 *
 * Owns l->judge. The sent maps are the loop thread's; the figures, the
 * anomalies kept and the indeterminate ops are under l->mu. Calls only
 * load_state.c below it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "log.h"
#include "sim/drill/load_int.h"
#include "xmem.h"

/* A change record (l->changed) is the ack's mono us in its low bits and
 * a tag above them: where it was acknowledged, and whether at home. */
#define REC_US_BITS 51
#define REC_EPOCH_SHIFT REC_US_BITS /* 8 bits: the instance's starts */
#define REC_INST_SHIFT 59           /* 1 bit */
#define REC_REGION_SHIFT 60         /* 3 bits */
#define REC_HOME_BIT (UINT64_C(1) << 63)

_Static_assert(LOAD_REGIONS_MAX <= 8 && LOAD_INSTANCES_MAX <= 2,
               "a change record's tag holds the region and the instance");

struct load_judge {
	smap sent;            /* (user, item) -> per region, a like sent there (pair_byte) */
	uint64_t *most_likes; /* per item: distinct users a like was sent for (loop thread) */
	uint32_t *cross[LOAD_REGIONS_MAX]; /* per region and item: pairs liked there and
	                                    * elsewhere (loop thread) */
	uint64_t *most_views;              /* per item: every view sent, summed (loop thread) */
	/* Under mu. */
	load_judge_stats st;
	char anomaly[LOAD_ANOMALIES_KEPT][LOAD_ANOMALY_TEXT];
	unsigned nanomaly;
	uint32_t *up, *down; /* per item: indeterminate likes of pairs out, unlikes of pairs in */
	load_indet *indet;
	size_t nindet, capindet;
	uint64_t t0_ms;
};

void load_judge_init(load *l)
{
	load_judge *j = xcalloc(1, sizeof *j);
	smap_init(&j->sent);
	size_t n = (size_t)l->o.items + 1;
	j->most_likes = xcalloc(n, sizeof *j->most_likes);
	j->most_views = xcalloc(n, sizeof *j->most_views);
	for (unsigned r = 0; r < LOAD_REGIONS_MAX; r++)
		j->cross[r] = xcalloc(n, sizeof *j->cross[r]);
	j->up = xcalloc(n, sizeof *j->up);
	j->down = xcalloc(n, sizeof *j->down);
	j->t0_ms = clock_mono_ms();
	l->judge = j;
}

void load_judge_free(load *l)
{
	load_judge *j = l->judge;
	if (!j)
		return;
	smap_free(&j->sent);
	free(j->most_likes);
	free(j->most_views);
	for (unsigned r = 0; r < LOAD_REGIONS_MAX; r++)
		free(j->cross[r]);
	free(j->up);
	free(j->down);
	free(j->indet);
	free(j);
	l->judge = NULL;
}

uint64_t load_judge_rec_us(uint64_t rec)
{
	return rec & ((UINT64_C(1) << REC_US_BITS) - 1);
}

unsigned load_judge_rec_region(uint64_t rec)
{
	return (unsigned)(rec >> REC_REGION_SHIFT) & 7u;
}

/* Under mu: keeps an anomaly's text for the report (the first few). */
static void keep(load_judge *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void keep(load_judge *j, const char *fmt, ...)
{
	if (j->nanomaly >= LOAD_ANOMALIES_KEPT)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->anomaly[j->nanomaly++], LOAD_ANOMALY_TEXT, fmt, ap);
	va_end(ap);
}

/* A pair's sent value holds a byte per region: 0 when no like of the
 * pair was ever sent there, else PAIR_LIKED | the region's store life
 * (life_of) when the last one was. */
#define PAIR_LIKED 0x80u
#define PAIR_LIFE 0x3fu

static unsigned pair_byte(uint64_t v, unsigned r)
{
	return (unsigned)(v >> (8 * r)) & 0xffu;
}

/* Region r's store life, as far as the load can tell: its instances'
 * starts added up (a wipe, or a start that reloads, may forget pairs;
 * a takeover's standby holds what the changelog held). */
static unsigned life_of(load *l, unsigned r)
{
	tsa_lock(&l->mu);
	unsigned n = 0;
	for (unsigned i = 0; i < LOAD_INSTANCES_MAX; i++)
		n += l->starts[r][i];
	tsa_unlock(&l->mu);
	return n & PAIR_LIFE;
}

/* A like of the pair whose sent value was is sent at region r: the
 * regions whose count may now show the pair twice (docs/drills.md, *The
 * checks during the run*). r, when the pair had a like sent before and
 * r's present store has not seen one (so r counts its own on top of a
 * snapshot that may hold the other); and every other region whose
 * present store counted a like of the pair, when r joins them. Returns
 * r's store life. */
static unsigned cross_note(load *l, load_judge *j, unsigned item, uint64_t was, unsigned r)
{
	unsigned life = life_of(l, r);
	unsigned here = pair_byte(was, r);
	bool known_here = here && (here & PAIR_LIFE) == life;
	if (known_here)
		return life;
	if (was)
		j->cross[r][item]++;
	for (unsigned s = 0; s < LOAD_REGIONS_MAX; s++) {
		unsigned b = pair_byte(was, s);
		if (s != r && b && (b & PAIR_LIFE) == life_of(l, s))
			j->cross[s][item]++;
	}
	return life;
}

void load_judge_sent(load *l, const op *o)
{
	load_judge *j = l->judge;
	if (o->kind == OP_VIEW) {
		j->most_views[o->item] += o->n;
	} else if (o->kind == OP_LIKE) {
		uint64_t key = (uint64_t)o->user << 32 | o->item;
		bool created = false;
		smap_val *v = smap_put(&j->sent, &key, sizeof key, &created);
		uint64_t was = created ? 0 : v->u;
		unsigned life = cross_note(l, j, o->item, was, o->region);
		unsigned shift = 8 * o->region;
		v->u = (was & ~(UINT64_C(0xff) << shift)) | (uint64_t)(PAIR_LIKED | life) << shift;
		j->most_likes[o->item] += created;
	}
}

uint64_t load_judge_ack_tag(const load *l, const op *o)
{
	/* The starts wrap at 256, as promised() compares them. */
	uint64_t tag = ((uint64_t)l->starts[o->region][o->inst] & 0xffu) << REC_EPOCH_SHIFT |
	               (uint64_t)o->inst << REC_INST_SHIFT |
	               (uint64_t)o->region << REC_REGION_SHIFT;
	if (o->region == o->home && o->home_settled)
		tag |= REC_HOME_BIT;
	return tag;
}

/* Does the product promise that o (a heart read) shows the op rec
 * records? Only at home, from the process that acknowledged it there. */
static bool promised(const load *l, const op *o, uint64_t rec)
{
	if (!(rec & REC_HOME_BIT) || o->region != o->home || !o->home_settled)
		return false;
	unsigned region = load_judge_rec_region(rec);
	unsigned inst = (unsigned)(rec >> REC_INST_SHIFT) & 1u;
	unsigned epoch = (unsigned)(rec >> REC_EPOCH_SHIFT) & 0xffu;
	return region == o->region && inst == o->inst && epoch == (l->starts[region][inst] & 0xffu);
}

bool load_judge_heart(load *l, const op *o, unsigned item, int said, bool truth,
                      const smap_val *rec, bool young)
{
	load_judge *j = l->judge;
	uint64_t key = (uint64_t)o->user << 32 | item;
	char id[24];
	load_item_id(l, item, id, sizeof id);
	if (said == 1 && !smap_get(&j->sent, &key, sizeof key)) {
		j->st.phantom_hearts++;
		log_error("load: a heart shows a like never sent",
		          "user=u%u item=post:%s region=%u", o->user, id, o->region);
		keep(j, "phantom heart: u%u post:%s liked at edge%u instance %u, no like ever sent",
		     o->user, id, o->region, o->inst);
	}
	if (!young || said < 0 || !rec || !promised(l, o, rec->u))
		return false;
	j->st.ryw_checked++;
	if (said == (int)truth)
		return true;
	j->st.ryw_missed++;
	uint64_t ack_us = load_judge_rec_us(rec->u);
	uint64_t t0_us = j->t0_ms * 1000;
	log_error("load: a home read missed the user's own acknowledged write",
	          "user=u%u item=post:%s op=%s region=%u instance=%u ack_ms=%" PRIu64
	          " read_ms=%" PRIu64,
	          o->user, id, truth ? "like" : "unlike", o->region, o->inst,
	          (ack_us - t0_us) / 1000, (o->first_us - t0_us) / 1000);
	keep(j,
	     "read-your-writes: u%u's %s of post:%s acknowledged by edge%u instance %u at "
	     "%.3f s; its /v1/me there sent at %.3f s said %s",
	     o->user, truth ? "like" : "unlike", id, o->region, o->inst,
	     (double)(ack_us - t0_us) / 1e6, (double)(o->first_us - t0_us) / 1e6,
	     said ? "liked" : "not liked");
	return true;
}

/* The load's item number of "post:ID", or -1. */
static long item_of(const load *l, const char *name)
{
	if (strncmp(name, "post:", 5) != 0)
		return -1;
	name += 5;
	if (strcmp(name, "viral") == 0)
		return (long)l->o.items;
	if (name[0] != 'i')
		return -1;
	char *end;
	unsigned long v = strtoul(name + 1, &end, 10);
	return *end || v >= l->o.items ? -1 : (long)v;
}

/* The version the answer's freshness names for item name; false when
 * it names none. */
static bool fresh_version(json_t *root, const char *name, uint64_t *version)
{
	json_t *v =
	    json_object_get(json_object_get(json_object_get(root, "freshness"), name), "version");
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*version = (uint64_t)json_integer_value(v);
	return true;
}

void load_judge_counts(load *l, const op *o, const hanswer *a, uint64_t now)
{
	load_judge *j = l->judge;
	json_t *root = json_loadb(a->body, a->body_len, 0, NULL);
	json_t *counts = json_object_get(root, "counts");
	const char *name;
	json_t *v;
	unsigned checked = 0, bad = 0, cross = 0;
	char first[160] = "";
	load_count_rec recs[READ_ITEMS_MAX];
	size_t nrecs = 0;
	json_object_foreach(counts, name, v)
	{
		long it = item_of(l, name);
		if (it < 0)
			continue;
		json_t *likes = json_object_get(v, LOAD_SET_COUNTER);
		json_t *views = json_object_get(v, LOAD_SUM_COUNTER);
		uint64_t version;
		if (json_is_integer(likes) && json_integer_value(likes) >= 0 &&
		    nrecs < READ_ITEMS_MAX && fresh_version(root, name, &version))
			recs[nrecs++] = (load_count_rec){
			    .item = (uint32_t)it,
			    .count = (uint64_t)json_integer_value(likes),
			    .version = version,
			};
		for (int k = 0; k < 2; k++) {
			json_t *c = k ? views : likes;
			if (!json_is_integer(c))
				continue;
			uint64_t most = k ? j->most_views[it] : j->most_likes[it];
			uint64_t also = k ? 0 : j->cross[o->region][it];
			json_int_t got = json_integer_value(c);
			checked++;
			if (got <= (json_int_t)most)
				continue;
			if (got <= (json_int_t)(most + also)) {
				cross++;
				continue;
			}
			if (!bad++)
				snprintf(first, sizeof first,
				         "%s %s %" PRId64 " > %" PRIu64 " ever sent (+%" PRIu64
				         " liked here and elsewhere)",
				         name, k ? LOAD_SUM_COUNTER : LOAD_SET_COUNTER,
				         (int64_t)got, most, also);
		}
	}
	json_decref(root);
	load_trace_counts(l, o, recs, nrecs, now);
	tsa_lock(&l->mu);
	j->st.counts_checked += checked;
	j->st.phantom_counts += bad;
	j->st.cross_overcounts += cross;
	if (bad)
		keep(j, "phantom count at edge%u instance %u: %s", o->region, o->inst, first);
	tsa_unlock(&l->mu);
	if (bad)
		log_error("load: a count above what was ever sent",
		          "region=%u instance=%u what=\"%s\"", o->region, o->inst, first);
}

bool load_judge_give_up(op *o)
{
	load *l = o->l;
	load_judge *j = l->judge;
	if (!(l->o.give_up_share > 0) || (o->kind != OP_LIKE && o->kind != OP_UNLIKE) ||
	    load_rnd01(l) >= l->o.give_up_share)
		return false;
	o->given_up = true;
	uint64_t key = (uint64_t)o->user << 32 | o->item;
	tsa_lock(&l->mu);
	bool member = smap_get(&l->members, &key, sizeof key) != NULL;
	if (j->nindet == j->capindet) {
		j->capindet = j->capindet ? 2 * j->capindet : 64;
		j->indet = xrealloc(j->indet, j->capindet * sizeof *j->indet);
	}
	load_indet *e = &j->indet[j->nindet++];
	memset(e, 0, sizeof *e);
	char id[24];
	load_item_id(l, o->item, id, sizeof id);
	snprintf(e->item, sizeof e->item, "post:%s", id);
	snprintf(e->user, sizeof e->user, "u%u", o->user);
	e->user_n = o->user;
	e->item_n = o->item;
	e->like = o->kind == OP_LIKE;
	e->was_member = member;
	e->region = o->region;
	e->inst = o->inst;
	e->at_ms = clock_mono_ms() - j->t0_ms;
	e->resolved = -1;
	bool changes = e->like != member;
	if (changes) {
		if (e->like)
			j->up[o->item]++;
		else
			j->down[o->item]++;
		j->st.indet_ambiguous++;
	}
	j->st.indeterminate++;
	l->st.given_up++;
	l->touched[o->item] |= TOUCH_SET;
	tsa_unlock(&l->mu);
	log_info("load: an op given up without an answer",
	         "user=u%u key=u%u-%" PRIu64 " op=%s item=post:%s region=%u instance=%u", o->user,
	         o->user, o->seq, load_kind_name(o->kind), id, o->region, o->inst);
	return true;
}

void load_judge_range(const load *l, unsigned item, uint64_t count, uint64_t *lo, uint64_t *hi)
{
	const load_judge *j = l->judge;
	*lo = count >= j->down[item] ? count - j->down[item] : 0;
	*hi = count + j->up[item];
}

size_t load_indeterminate(load *l, load_indet **out)
{
	load_judge *j = l->judge;
	tsa_lock(&l->mu);
	size_t n = j->nindet;
	*out = n ? xmalloc(n * sizeof **out) : NULL;
	if (n)
		memcpy(*out, j->indet, n * sizeof **out);
	tsa_unlock(&l->mu);
	return n;
}

void load_resolve(load *l, size_t i, bool member)
{
	load_judge *j = l->judge;
	tsa_lock(&l->mu);
	if (i < j->nindet && j->indet[i].resolved < 0) {
		load_indet *e = &j->indet[i];
		e->resolved = member;
		unsigned item = e->item_n;
		if (e->like != e->was_member) { /* it could change the pair: no longer open */
			if (e->like)
				j->up[item]--;
			else
				j->down[item]--;
		}
		uint64_t key = (uint64_t)e->user_n << 32 | item;
		bool in = smap_get(&l->members, &key, sizeof key) != NULL;
		if (member && !in) {
			smap_put(&l->members, &key, sizeof key, NULL)->u = 1;
			l->set_count[item]++;
		} else if (!member && in) {
			smap_del(&l->members, &key, sizeof key);
			l->set_count[item]--;
		}
	}
	tsa_unlock(&l->mu);
}

void load_get_judge(load *l, load_judge_stats *out, char (*anomalies)[LOAD_ANOMALY_TEXT],
                    size_t *nanomalies)
{
	load_judge *j = l->judge;
	tsa_lock(&l->mu);
	*out = j->st;
	size_t n = j->nanomaly < *nanomalies ? j->nanomaly : *nanomalies;
	for (size_t i = 0; anomalies && i < n; i++)
		memcpy(anomalies[i], j->anomaly[i], LOAD_ANOMALY_TEXT);
	*nanomalies = anomalies ? n : 0;
	tsa_unlock(&l->mu);
}
