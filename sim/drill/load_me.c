/* load_me.c - the load's heart reads (load.h): a feed page's GET /v1/me
 * for one user, each answer held to the truth of the pairs it names.
 * The loop thread starts and answers them; the truth and the figures
 * are under l->mu, as in load.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "clock.h"
#include "log.h"
#include "sim/drill/load_int.h"
#include "xmem.h"

#define WRONG_LOGGED 20 /* wrong hearts logged one by one, then counted */

/* The user's recent likes for a page of n: up to a quarter of it, those
 * made away from home first, up to half of what is taken. */
static unsigned pick_liked(load *l, unsigned user, unsigned n, unsigned *page)
{
	uint32_t kept[LIKED_KEEP];
	tsa_lock(&l->mu);
	unsigned have = l->liked_at[user] < LIKED_KEEP ? l->liked_at[user] : LIKED_KEEP;
	memcpy(kept, &l->liked[(size_t)user * LIKED_KEEP], sizeof kept);
	tsa_unlock(&l->mu);
	unsigned want = n / 4, took = 0;
	for (int away = 1; away >= 0; away--) {
		unsigned limit = away ? (want + 1) / 2 : want;
		for (unsigned i = 0; i < have && took < limit; i++) {
			if (((kept[i] & AWAY_BIT) != 0) != (away == 1))
				continue;
			uint32_t item = kept[i] & ~AWAY_BIT;
			bool dup = false;
			for (unsigned j = 0; j < took; j++)
				dup |= (page[j] & ~AWAY_BIT) == item;
			if (!dup)
				page[took++] = kept[i];
		}
	}
	return took;
}

/* Of a few idle users, the one with the most likes kept: a feed page
 * shows the user's likes only if the user has some (a quarter of the
 * page is the aim). -1: none idle. */
static int pick_user(load *l)
{
	int best = -1;
	for (int i = 0; i < 32; i++) {
		int u = load_pick_idle_user(l);
		if (u >= 0 && (best < 0 || l->liked_at[u] > l->liked_at[best]))
			best = u;
	}
	return best;
}

void load_me_start(load *l, double viral, const bool *up)
{
	int user = pick_user(l);
	if (user < 0)
		return;
	uint64_t since;
	unsigned home = load_home_of(l, (unsigned)user, &since);
	int region = (int)home;
	if (!up[home] || (l->o.roam_share > 0 && load_rnd01(l) < l->o.roam_share))
		region = load_pick_up_region(l, up, (int)home);
	if (region < 0 || !up[region])
		return;
	op *o = load_op_new(l, OP_ME, (unsigned)region);
	if (!o)
		return;
	o->user = (unsigned)user;
	o->home = home;
	o->home_since = since;
	/* A move takes a while to reach the new home's edge, which reads the
	 * user's pairs through until then (as an away user's): the ready
	 * figures hold a mover's reads there as home reads only once the
	 * move is as old as the convergence bound, as the truth holds pairs. */
	o->home_settled = !since || clock_wall_ms() >= since + l->o.converge_ms;
	unsigned n = ME_ITEMS_MIN + load_rnd_below(l, ME_ITEMS_MAX - ME_ITEMS_MIN + 1);
	o->page = xcalloc(n, sizeof *o->page);
	o->npage = pick_liked(l, o->user, n, o->page);
	/* A user with few likes reads a shorter page, so a quarter of it is
	 * still theirs where it can be. */
	if (4 * o->npage < n)
		n = 4 * o->npage > ME_ITEMS_MIN ? 4 * o->npage : ME_ITEMS_MIN;
	/* The rest: posts as the feed would show them (Zipf), mostly never
	 * touched by this user. */
	for (unsigned tries = 0; o->npage < n && tries < 4 * n; tries++) {
		unsigned it = load_pick_item(l, viral);
		bool dup = false;
		for (unsigned j = 0; j < o->npage; j++)
			dup |= (o->page[j] & ~AWAY_BIT) == it;
		if (!dup)
			o->page[o->npage++] = it;
	}
	int len = snprintf(o->path, sizeof o->path, "/v1/me?counters=" LOAD_SET_COUNTER "&items=");
	for (unsigned i = 0; i < o->npage && len > 0 && (size_t)len < sizeof o->path; i++) {
		char id[24];
		load_item_id(l, o->page[i] & ~AWAY_BIT, id, sizeof id);
		len += snprintf(o->path + len, sizeof o->path - (size_t)len, "%spost:%s",
		                i ? "," : "", id);
	}
	if (len <= 0 || (size_t)len >= sizeof o->path) {
		log_error("load: a heart read's path does not fit", "items=%u", o->npage);
		load_op_free(o);
		return;
	}
	o->first_us = clock_mono_us();
	if (!load_op_claim(l, o)) {
		load_op_free(o);
		return;
	}
	l->busy[user] = 1;
	l->idle--;
	load_send_attempt(o);
}

/* The answer's heart for item: 1, 0, or -1 when it is listed unknown, or
 * -2 when the answer says nothing of it. */
static int heart_of(json_t *me, json_t *unknown, const char *item)
{
	json_t *h = json_object_get(json_object_get(me, item), LOAD_SET_COUNTER);
	if (json_is_boolean(h))
		return json_is_true(h) ? 1 : 0;
	char pair[64];
	snprintf(pair, sizeof pair, "%s/" LOAD_SET_COUNTER, item);
	size_t i;
	json_t *v;
	json_array_foreach(unknown, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), pair) == 0)
			return -1;
	}
	return -2;
}

/* Is o a page of a user away from home: at another region than their
 * home, or at home there only since a move not yet settled? */
static bool away_read(const op *o)
{
	return o->region != o->home || !o->home_settled;
}

void load_me_answer(op *o, const hanswer *a, uint64_t now)
{
	load *l = o->l;
	uint64_t lat = now - o->first_us;
	json_t *root = json_loadb(a->body, a->body_len, 0, NULL);
	json_t *me = json_object_get(root, "me"), *unknown = json_object_get(root, "unknown");
	uint64_t converge = (uint64_t)l->o.converge_ms * 1000;
	uint64_t settle = converge + (uint64_t)l->o.fault_settle_ms * 1000;
	unsigned wrong_logged = 0;
	tsa_lock(&l->mu);
	load_me_stats *s = &l->mst;
	for (unsigned i = 0; i < o->npage; i++) {
		unsigned item = o->page[i] & ~AWAY_BIT;
		char id[24], name[32];
		load_item_id(l, item, id, sizeof id);
		snprintf(name, sizeof name, "post:%s", id);
		int said = json_is_object(me) ? heart_of(me, unknown, name) : -2;
		if (said == -1) {
			s->unknown++;
			continue;
		}
		uint64_t key = (uint64_t)o->user << 32 | item;
		smap_val *ch = smap_get(&l->changed, &key, sizeof key);
		if (!ch)
			ch = smap_get(&l->changed_old, &key, sizeof key);
		uint64_t ch_us = ch ? load_judge_rec_us(ch->u) : 0;
		/* Young: not yet converge_ms old, or, with a fault on its way
		 * home in force (load_set_stalled: everywhere, or in the region
		 * that took the op, the user's home or the read's) since it was
		 * made or within the settling time before it (the way home
		 * still recovering: an op made 4 s after central's heal was late
		 * too), no stretch free of one since of converge_ms and that
		 * settling time. A pair whose change has rotated out is older
		 * than a span: it is young only if such a fault (everywhere, at
		 * the user's home or the read's region) came within that
		 * stretch of the read. */
		uint64_t extra = settle - converge;
		unsigned mask = 1u << o->home | 1u << o->region;
		bool young =
		    ch ? ch_us + converge > o->first_us ||
		             !load_calm_within(l, mask | 1u << load_judge_rec_region(ch->u),
		                               ch_us > extra ? ch_us - extra : 0, o->first_us,
		                               settle)
		       : o->first_us > settle &&
		             !load_calm_within(l, mask, o->first_us - settle, o->first_us, settle);
		/* A user away from home is answered with central's record of the
		 * pair, asked as the page comes (docs/api.md): with central, or
		 * the read's region's way to it, faulted while the page was
		 * read or within the settling time before (central catching
		 * up), the edge may answer from its own older record. Nemesis
		 * seeds 7 and 9 on real Kafka: one such heart each, read while
		 * central was paused. */
		if (!young && away_read(o)) {
			uint64_t from = o->first_us > settle ? o->first_us - settle : 0;
			young = !load_calm_within(l, 1u << o->region, from, now, now - from);
		}
		bool truth = smap_get(&l->members, &key, sizeof key) != NULL;
		if (load_judge_heart(l, o, item, said, truth, ch, young))
			continue; /* the user's own write, read where it was acknowledged */
		if (said >= 0 && young) {
			s->young++;
			continue;
		}
		s->pairs++;
		if (truth) {
			s->liked++;
			s->liked_away += (o->page[i] & AWAY_BIT) != 0;
		}
		if (said == (int)truth)
			continue;
		s->wrong++;
		if (s->wrong <= WRONG_LOGGED && wrong_logged++ < 4)
			log_error("load: a wrong heart",
			          "user=u%u item=%s truth=%s said=%s region=%u instance=%u home=%u "
			          "age_ms=%" PRIu64 " changed_at_region=%d",
			          o->user, name, truth ? "liked" : "not_liked",
			          said < 0 ? "nothing"
			          : said   ? "liked"
			                   : "not_liked",
			          o->region, o->inst, o->home,
			          ch ? (o->first_us - ch_us) / 1000 : (uint64_t)0,
			          ch ? (int)load_judge_rec_region(ch->u) : -1);
	}
	bool at_home = o->region == o->home && o->home_settled;
	s->home_reads += at_home;
	hist_add(&l->me[l->phase], lat);
	/* The ready figures are the home users': away from home, a pair the
	 * edge lacks is read through by design. */
	int slot = at_home ? load_ready_slot(l, o) : -1;
	if (slot >= 0)
		hist_add(&l->rme[slot], lat);
	tsa_unlock(&l->mu);
	if (!root)
		log_warn("load: a heart read's answer is not JSON", "user=u%u", o->user);
	json_decref(root);
	load_op_finish(o);
}

void load_get_me_stats(load *l, load_me_stats *out)
{
	tsa_lock(&l->mu);
	*out = l->mst;
	out->tracked = l->changed.len + l->changed_old.len;
	tsa_unlock(&l->mu);
}

void load_get_me_hist(load *l, int region, unsigned phase, hist *out)
{
	hist_init(out);
	if (region >= (int)l->o.regions ||
	    phase >= (region >= 0 ? LOAD_READY_PHASES_MAX : LOAD_PHASES_MAX))
		return;
	tsa_lock(&l->mu);
	*out = region >= 0 ? l->rme[(size_t)region * LOAD_READY_PHASES_MAX + phase] : l->me[phase];
	tsa_unlock(&l->mu);
}
