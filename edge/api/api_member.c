/* api_member.c - membership lookups for the edge's API (api_int.h):
 * whether a user is in a set counter's members of an item, from this
 * edge's store or, for what the store cannot say, from what central said
 * recently (a two-generation cache of central's answers, bounded by
 * api_config.member_entries, each kept member_ttl_ms); and the
 * home-region policy of the hearts: a user at home here is answered from
 * this store, one away from home (or at home but moved here from
 * elsewhere only lately) from the newer of this store's and central's
 * record. A lookup the first step cannot answer is added to its needs,
 * which api_central.c asks central and answers into this cache.
 *
 * Owns the cache (its entries and heap bytes); reads the ledger, which
 * locks for itself. Loop thread, but for api_member_bytes (any).
 */
#include "edge/api/api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "memacct.h"
#include "xmem.h"

/* --- what central said --------------------------------------------------------- */

typedef struct member_entry {
	int8_t state; /* 1 member, 0 not (or never seen at central) */
	uint64_t hlc; /* the winning op's clock (0: not said) */
	uint64_t fetched_mono;
} member_entry;

static size_t member_key(char *k, const char *counter, const char *item, const char *user)
{
	size_t cl = strlen(counter), il = strlen(item), ul = strlen(user);
	memcpy(k, counter, cl + 1);
	memcpy(k + cl + 1, item, il + 1);
	memcpy(k + cl + 1 + il + 1, user, ul);
	return cl + il + ul + 2;
}

void api_member_put(api *a, const char *counter, const char *item, const char *user, int state,
                    uint64_t hlc)
{
	char k[COUNTER_MAX + ITEM_MAX + USER_MAX + 3];
	size_t kn = member_key(k, counter, item, user);
	bool created;
	smap_val *v = smap_put_gen(&a->member_hot, &a->member_cold, a->cfg.member_entries, k, kn,
	                           true, &created);
	if (created)
		v->p = xmalloc(sizeof(member_entry));
	member_entry *e = v->p;
	e->state = (int8_t)state;
	e->hlc = hlc;
	e->fetched_mono = clock_mono_ms();
	if (created) /* a new entry, maybe a generation dropped */
		atomic_store_explicit(&a->member_bytes,
		                      smap_bytes(&a->member_hot) + smap_bytes(&a->member_cold) +
		                          (a->member_hot.len + a->member_cold.len) *
		                              memacct_chunk(sizeof(member_entry)),
		                      memory_order_relaxed);
}

uint64_t api_member_bytes(const api *a)
{
	return atomic_load_explicit(&a->member_bytes, memory_order_relaxed);
}

int api_member_cached_at(api *a, const char *counter, const char *item, const char *user,
                         uint64_t max_age_ms, uint64_t *hlc)
{
	char k[COUNTER_MAX + ITEM_MAX + USER_MAX + 3];
	size_t kn = member_key(k, counter, item, user);
	smap_val *v = smap_get(&a->member_hot, k, kn);
	if (!v)
		v = smap_get(&a->member_cold, k, kn);
	*hlc = 0;
	if (!v)
		return -1;
	member_entry *e = v->p;
	if (clock_mono_ms() - e->fetched_mono > max_age_ms)
		return -1;
	*hlc = e->hlc;
	return e->state;
}

int api_member_cached(api *a, const char *counter, const char *item, const char *user)
{
	uint64_t hlc;
	return api_member_cached_at(a, counter, item, user, a->cfg.member_ttl_ms, &hlc);
}

/* --- the lookup ---------------------------------------------------------------- */

/* Adds (counter, item, user) to what n asks of central, once; false
 * when n is full. */
static bool need_member_add(api *a, need *n, const char *counter, const char *item,
                            const char *user, bool at_home)
{
	for (size_t i = 0; i < n->nmembers; i++)
		if (!strcmp(n->members[i].counter, counter) && !strcmp(n->members[i].item, item) &&
		    !strcmp(n->members[i].user, user))
			return true;
	if (n->nmembers >= NEED_MAX)
		return false;
	if (a->tm)
		metric_add(a->tm->rt_members[at_home ? 0 : 1], 1);
	need_member *m = &n->members[n->nmembers++];
	snprintf(m->counter, sizeof m->counter, "%s", counter);
	snprintf(m->item, sizeof m->item, "%s", item);
	snprintf(m->user, sizeof m->user, "%s", user);
	return true;
}

/* A membership of a user away from home (the identity names another
 * region): this edge hears of its changes only when they are made here,
 * so central is asked for every pair (once per page: lookups of a loop
 * turn go together) and the newer of its answer and this store's wins by
 * the ops' clocks. The first step uses an answer for AWAY_FRESH_MS; the
 * continuation, every answer the first step could use or that came
 * since, however long the wait. (With AWAY_FRESH_MS there too, a pair
 * the first step took from an answer nearly a second old, or one whose
 * answer came in an earlier request to central than the page's last,
 * had no answer at the continuation; it fell back to this store's own
 * record and said "liked" of a like undone in another region long
 * before, in geo_hearts runs on a saturated machine.) */
#define AWAY_FRESH_MS 1000
static int member_away(api *a, api_ctx *x, const char *counter, const char *item, const char *user,
                       int *state, const char **source)
{
	int local;
	uint64_t local_hlc, central_hlc;
	int rc = ledger_member_at(a->lg, counter, item, user, &local, &local_hlc);
	if (rc)
		return rc;
	uint64_t fresh = AWAY_FRESH_MS;
	if (!x->n)
		fresh += clock_mono_ms() - x->begun_ms;
	int said = api_member_cached_at(a, counter, item, user, fresh, &central_hlc);
	if (said >= 0) {
		bool mine = local >= 0 && local_hlc > central_hlc;
		*state = mine ? local : said;
		*source = mine ? "local" : "central";
		return 0;
	}
	if (x->n && need_member_add(a, x->n, counter, item, user, false)) {
		*state = -1; /* asked: the answer comes in the next step */
		*source = "central";
		return 0;
	}
	/* Central out of reach or not asked: what this store knows. */
	if (!x->n && a->central)
		a->st.away_local++;
	*state = local;
	*source = "local";
	return 0;
}

/* Whether a user whose identity names this region as home lives here as
 * far as this store knows, for item's partition: with no move of theirs
 * known here, unless the identity says they moved (home_since) and the
 * home stream has not brought that move yet; else when the last move
 * known is at least as late as the identity's, and to here (a token from
 * before a move away says otherwise). Until then their pairs are asked
 * of central, as an away user's are. 0 with *here, or the store's error
 * (the request's, as any other read's). */
static int lives_here(api *a, const api_ctx *x, const char *item, bool *here)
{
	char home[EDGE_ID_MAX + 1];
	uint64_t since;
	int rc = ledger_home_mark(a->lg, x->who.user, item, home, &since);
	if (rc == ERR_NOTFOUND) {
		*here = x->who.home_since == 0;
		return 0;
	}
	*here = rc == 0 && since >= x->who.home_since && strcmp(home, x->who.home) == 0;
	return rc;
}

int api_membership(api *a, api_ctx *x, const char *counter, const char *item, const char *user,
                   int *state, const char **source)
{
	if (x->who.home[0] && a->cfg.region && strcmp(x->who.home, a->cfg.region) != 0)
		return member_away(a, x, counter, item, user, state, source);
	if (x->who.home[0] && a->cfg.home_region && !strcmp(x->who.home, a->cfg.home_region)) {
		bool here;
		int rc = lives_here(a, x, item, &here);
		if (rc)
			return rc;
		if (!here)
			return member_away(a, x, counter, item, user, state, source);
	}
	need *n = x->n;
	bool at_home = a->cfg.home_region && !strcmp(x->who.home, a->cfg.home_region);
	int rc = at_home ? ledger_member_home(a->lg, counter, item, user, state)
	                 : ledger_member(a->lg, counter, item, user, state);
	if (rc)
		return rc;
	*source = "local";
	if (*state >= 0)
		return 0;
	*state = api_member_cached(a, counter, item, user);
	*source = "central";
	if (*state >= 0 || !n)
		return 0;
	(void)need_member_add(a, n, counter, item, user, at_home);
	return 0;
}

void api_member_init(api *a)
{
	smap_init(&a->member_hot);
	smap_init(&a->member_cold);
	atomic_store_explicit(&a->member_bytes, 0, memory_order_relaxed);
	if (a->cfg.member_entries < 2)
		a->cfg.member_entries = 2;
}

void api_member_free(api *a)
{
	smap_free_values(&a->member_hot);
	smap_free_values(&a->member_cold);
}
