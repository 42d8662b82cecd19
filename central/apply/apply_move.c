/* apply_move.c - a user's move to another home region (docs/wire.md,
 * "Move"; docs/events.md, "Home streams"). A move message names the
 * user, the new home and the wall time of the move, and is produced to
 * every partition of the batch topic, so each partition moves the
 * user's memberships of its own items, in the order of its input:
 *
 *   - every 'V' entry of the user in the partition, under any region but
 *     the new home (and there, every unhomed one: pairs made before the
 *     user had a home), goes to the new home's index, with the pair's state
 *     as central holds it ('S'), and its set event goes to the new
 *     home's stream, so the edges there hold the user's pairs as if the
 *     user had always lived there (an unlike too: it undoes a stale like
 *     an edge there may hold from a visit);
 *   - the 'W' key of (partition, user) says where the user lives from
 *     then on, and the user joins the applier's set of moved users:
 *     every later op of theirs is indexed and routed under that home,
 *     whatever home its token says (a token issued before the move), so
 *     nothing goes back to the old index;
 *   - every home stream gets a "home" event after those pairs, keyed by
 *     the user: the new home's edges know from it that they have every
 *     pair of the user in the partition, the other regions' edges that
 *     the user lives elsewhere now (a token from before the move);
 *   - a move no later than the one the 'W' key holds changes nothing, so
 *     a repeat or a stale move is harmless.
 *
 * The effects go into the message's working set and store write, as a
 * batch's do. The applier's thread only.
 */
#include "central/apply/apply_move.h"

#include <inttypes.h>
#include <string.h>

#include "central/apply/keys.h"
#include "item.h"
#include "log.h"

#define BUMP(c, n) atomic_fetch_add_explicit(&(c), (n), memory_order_relaxed)

/* The 'W' key of (p, user): its since and home (*hn bytes); *hn 0 when
 * there is none, or its value does not parse (logged: it is then as if
 * the user had not moved). 0 or the store's error. */
static int where_read(apply_moved *mv, uint32_t p, const char *user, size_t un, uint64_t *since,
                      char *home, size_t *hn)
{
	unsigned char key[5 + USER_MAX];
	char val[CKEY_WHERE_MAX];
	size_t vn;
	*hn = 0;
	int rc = store_get_into(mv->db, key, ckey_where(key, p, user, un), val, sizeof val, &vn);
	if (rc == ERR_NOTFOUND)
		return 0;
	if (rc == ERR_CORRUPT) {
		log_error("a user's home record is too long; taken as none",
		          "partition=%u user=%.*s", p, (int)un, user);
		return 0;
	}
	if (rc)
		return rc;
	const char *h;
	size_t n;
	if (!ckey_parse_where_value(val, vn, since, &h, &n) || !item_edge_valid(h, n)) {
		log_error("a user's home record does not parse; taken as none",
		          "partition=%u user=%.*s size=%zu", p, (int)un, user, vn);
		return 0;
	}
	memcpy(home, h, n);
	*hn = n;
	return 0;
}

/* ---- the set of moved users ------------------------------------------------ */

#define MOVED_CAP_MIN 65536 /* users the first filter has room for (64 KiB) */

/* A filter with room for cap users (a power of two): a byte each, so 8
 * bits a user when full (about 2% false positives at 7 probes), and
 * every user of the store's 'W' keys in it.
 * *users: the most 'W' keys one partition has (each moved user has one
 * per partition applied here), so about the users. */
static int moved_build(apply_moved *mv, uint64_t cap, bloom *b, uint64_t *users)
{
	bloom_init(b, cap < 64 ? 64 : (size_t)cap, 7);
	store_iter *it = store_iter_new(mv->db, ckey_prefix(CKEY_WHERE), 1);
	const char *k, *v;
	size_t kn, vn;
	uint64_t in_part = 0, most = 0;
	uint32_t last_p = UINT32_MAX;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *user;
		size_t un;
		uint32_t p;
		if (!ckey_parse_where(k, kn, &p, &user, &un))
			continue;
		bloom_add(b, user, un);
		in_part = p == last_p ? in_part + 1 : 1;
		last_p = p;
		if (in_part > most)
			most = in_part;
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	*users = most;
	return rc;
}

static void moved_account(apply_moved *mv)
{
	atomic_store_explicit(&mv->bytes, bloom_bytes(&mv->set), memory_order_relaxed);
}

int apply_moved_load(apply_moved *mv, store *db)
{
	*mv = (apply_moved){.db = db};
	uint64_t users = 0, cap = MOVED_CAP_MIN;
	bloom probe;
	/* A first pass counts them (in a filter of the least size), the
	 * second fills one with room for as many again. No move yet: no
	 * filter until the first. */
	int rc = moved_build(mv, 0, &probe, &users);
	bloom_free(&probe);
	if (rc || !users)
		return rc;
	while (cap < 2 * users)
		cap <<= 1;
	rc = moved_build(mv, cap, &mv->set, &users);
	mv->cap = cap;
	mv->users = users;
	moved_account(mv);
	return rc;
}

static int moved_add(apply_moved *mv, const char *user, size_t un)
{
	if (mv->users && bloom_maybe(&mv->set, user, un))
		return 0; /* known here (another partition's move), or a false positive */
	if (mv->users + 1 > mv->cap) {
		/* None yet, or full: twice the room, from the store (this
		 * move's 'W' key is not written yet: added below). */
		uint64_t cap = mv->cap ? mv->cap * 2 : MOVED_CAP_MIN;
		bloom bigger;
		uint64_t users;
		int rc = moved_build(mv, cap, &bigger, &users);
		if (rc) {
			bloom_free(&bigger);
			return rc;
		}
		bloom_free(&mv->set);
		mv->set = bigger;
		mv->cap = cap;
		mv->users = users;
		log_info("moved users' filter built, with room for twice as many",
		         "users=%" PRIu64 " capacity=%" PRIu64 " bytes=%zu", users, mv->cap,
		         bloom_bytes(&mv->set));
	}
	bloom_add(&mv->set, user, un);
	mv->users++;
	moved_account(mv);
	return 0;
}

static bool moved_maybe(const apply_moved *mv, const char *user, size_t un)
{
	return mv->users && bloom_maybe(&mv->set, user, un);
}

int apply_where(apply_moved *mv, uint32_t p, const wire_op *op, char *home, size_t *hn)
{
	*hn = 0;
	if (!moved_maybe(mv, op->user.p, op->user.n))
		return 0;
	uint64_t since;
	return where_read(mv, p, op->user.p, op->user.n, &since, home, hn);
}

/* One 'V' entry of the user under another region, or an unhomed one
 * under the new home itself (key k, value v): its key leaves (the same
 * key comes back, homed, for the latter), the new home's takes the
 * pair's state, and the state goes to the new home's stream. */
static int move_pair(apply_moved *mv, apply_ws *w, apply_feed *f, store_batch *wb,
                     const wire_move *m, bool at_new_home, const char *k, size_t kn, const char *v,
                     size_t vn)
{
	const char *r, *user, *counter, *item;
	size_t rn, un, cn, in;
	uint32_t p;
	bool member, unhomed;
	uint64_t clock;
	if (!ckey_parse_home(k, kn, &r, &rn, &p, &user, &un, &counter, &cn, &item, &in) ||
	    !item_user_valid(user, un) || !item_counter_valid(counter, cn) ||
	    !item_valid(item, in) || !ckey_parse_home_value_as(v, vn, &member, &unhomed, &clock)) {
		log_error("home index entry does not parse; left where it is", "key_len=%zu", kn);
		return 0;
	}
	if (at_new_home && !unhomed)
		return 0; /* already the home's */
	store_batch_del(wb, k, kn);
	unsigned char key[CKEY_MAX];
	size_t n = ckey_state(key, counter, cn, item, in, user, un);
	merge_state *cur;
	bool known;
	int rc = apply_ws_state_of(w, key, n, &cur, &known);
	if (rc)
		return rc;
	merge_state st = *cur; /* the working set may move it */
	if (known) {
		member = st.present;
		clock = st.hlc;
	}
	n = ckey_home(key, m->home.p, m->home.n, p, user, un, counter, cn, item, in);
	apply_ws_home(w, key, n, member, false, clock);
	BUMP(mv->pairs, 1);
	wire_op op = {.counter = wire_cstr(counter, cn),
	              .item = wire_cstr(item, in),
	              .user = wire_cstr(user, un)};
	if (member)
		apply_ws_home_day(w, m->home.p, m->home.n, p, &op, clock);
	if (!known || !f->nhomes)
		return 0;
	ktab_ent *c;
	rc = apply_ws_num_add(w, key, ckey_count(key, counter, cn, item, in), 0, false, &c);
	if (rc)
		return rc;
	apply_feed_home_to(f, m->home.p, m->home.n, &op, &st, *(const uint64_t *)c->val);
	return 0;
}

/* Moves the user's entries in p under region (rn bytes) to the new home;
 * under the new home itself, its unhomed ones only. */
static int move_region(apply_moved *mv, apply_ws *w, apply_feed *f, store_batch *wb, uint32_t p,
                       const wire_move *m, const char *region, size_t rn)
{
	bool at_new_home = rn == m->home.n && memcmp(region, m->home.p, rn) == 0;
	unsigned char pre[CKEY_MAX];
	size_t pn = ckey_home_user_prefix(pre, region, rn, p, m->user.p, m->user.n);
	store_iter *it = store_iter_new(mv->db, pre, pn);
	const char *k, *v;
	size_t kn, vn;
	int rc = 0;
	while (!rc && store_iter_next(it, &k, &kn, &v, &vn))
		rc = move_pair(mv, w, f, wb, m, at_new_home, k, kn, v, vn);
	if (!rc)
		rc = store_iter_status(it);
	store_iter_free(it);
	return rc;
}

/* Every region of the index, one seek per region: the
 * first 'V' key at or after `from` names the next region, and its keys
 * all sort before 'V' region 1 (a region name holds no byte below '-'). */
static int move_pairs(apply_moved *mv, apply_ws *w, apply_feed *f, store_batch *wb, uint32_t p,
                      const wire_move *m)
{
	unsigned char from[CKEY_MAX + 1];
	size_t fn = 1;
	from[0] = CKEY_HOME;
	for (;;) {
		store_iter *it = store_iter_from(mv->db, ckey_prefix(CKEY_HOME), 1, from, fn);
		const char *k, *v;
		size_t kn, vn;
		bool any = store_iter_next(it, &k, &kn, &v, &vn);
		char region[EDGE_ID_MAX];
		size_t rn = 0;
		const char *z = any ? memchr(k + 1, 0, kn - 1) : NULL;
		if (z && z > k + 1 && (size_t)(z - k - 1) <= sizeof region) {
			rn = (size_t)(z - k - 1);
			memcpy(region, k + 1, rn);
		} else if (any && kn < sizeof from) { /* not one of ours: step past it */
			memcpy(from, k, kn);
			from[kn] = 0;
			fn = kn + 1;
		} else if (any) { /* longer than any of ours: no stepping past it */
			log_error("home index key too long; the move stops at it", "key_len=%zu",
			          kn);
			store_iter_free(it);
			return 0;
		}
		int rc = store_iter_status(it);
		store_iter_free(it);
		if (rc || !any)
			return rc;
		if (!rn)
			continue;
		rc = move_region(mv, w, f, wb, p, m, region, rn);
		if (rc)
			return rc;
		memcpy(from + 1, region, rn);
		from[1 + rn] = 1;
		fn = rn + 2;
	}
}

int apply_move(apply_moved *mv, apply_ws *w, apply_feed *f, store_batch *wb, uint32_t p,
               int64_t offset, const void *msg, size_t len, const char **fault)
{
	wire_move m;
	int rc = wire_decode_move(msg, len, &m);
	*fault = rc                                     ? "undecodable"
	         : m.partition != p                     ? "partition_mismatch"
	         : !item_user_valid(m.user.p, m.user.n) ? "bad_user"
	         : !item_edge_valid(m.home.p, m.home.n) ? "bad_home"
	                                                : NULL;
	if (*fault) {
		BUMP(mv->bad, 1);
		log_error("move message skipped", "partition=%u offset=%" PRId64 " fault=%s", p,
		          offset, *fault);
		return 0;
	}
	uint64_t since;
	char home[EDGE_ID_MAX];
	size_t hn;
	rc = where_read(mv, p, m.user.p, m.user.n, &since, home, &hn);
	if (rc)
		return rc;
	if (hn && since >= m.since_ms) {
		BUMP(mv->stale, 1);
		if (since == m.since_ms && (hn != m.home.n || memcmp(home, m.home.p, hn) != 0))
			log_warn("move ignored: the user's last move has the same since and "
			         "another region; a correction needs a later --since",
			         "partition=%u user=%.*s home=%.*s moved_to=%.*s since_ms=%" PRIu64,
			         p, (int)m.user.n, m.user.p, (int)m.home.n, m.home.p, (int)hn, home,
			         since);
		return 0;
	}
	uint64_t pairs = atomic_load_explicit(&mv->pairs, memory_order_relaxed);
	rc = move_pairs(mv, w, f, wb, p, &m);
	if (rc)
		return rc;
	apply_feed_moved(f, &m);
	unsigned char key[5 + USER_MAX], val[CKEY_WHERE_MAX];
	store_batch_put(wb, key, ckey_where(key, p, m.user.p, m.user.n), val,
	                ckey_where_value(val, m.since_ms, m.home.p, m.home.n));
	rc = moved_add(mv, m.user.p, m.user.n);
	if (rc)
		return rc;
	BUMP(mv->applied, 1);
	log_debug("user moved home; their memberships here follow",
	          "partition=%u user=%.*s home=%.*s since_ms=%" PRIu64 " pairs=%" PRIu64, p,
	          (int)m.user.n, m.user.p, (int)m.home.n, m.home.p, m.since_ms,
	          atomic_load_explicit(&mv->pairs, memory_order_relaxed) - pairs);
	return 0;
}

void apply_moved_free(apply_moved *mv)
{
	bloom_free(&mv->set);
}
