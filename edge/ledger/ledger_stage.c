/* ledger_stage.c - a write's ops staged into the open group (ledger.h):
 * the entry points ledger_stage_ops, ledger_write_ops and ledger_write,
 * and the stored memberships they read (the membership filter and the
 * 'M' records). ledger_commit.c makes the group durable.
 *
 * A write stages its ops in one pass. Before the writer mutex, each op
 * is checked and made (its strings, its member key and hash, its pair
 * key, hash and partition: pair_key), and its stored membership and its
 * count as the view shows it are read (preread); under it, the op's
 * membership is looked up in this call and the groups, else taken from
 * that read, it gets its clock and op number, and its count is that read
 * plus what the groups staged. Should a group have joined the overlay
 * since the read (commit.finished moved), both are read again under the
 * mutex. Then the op joins the group: the op into its partition's chain,
 * and two small indexes let later writes of the same group see the
 * memberships and count changes staged before them.
 *
 * Works on struct commit (commit_int.h), which ledger_commit.c owns, under
 * the writer mutex; the reads before it, and ledger_member, take no lock.
 */
#include "edge/ledger/ledger_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "clock.h"
#include "counter.h"
#include "log.h"
#include "edge/telemetry/telemetry.h"
#include "xmem.h"

/* The slot of (counter, item[, user]) in an index: its own, or the empty
 * one where it goes. The group never holds more than half the slots. */
static size_t slot_find(const group *g, const group_slot *idx, uint64_t h, const pend_op *op,
                        bool pair)
{
	for (size_t s = h & (GROUP_SLOTS - 1);; s = (s + 1) & (GROUP_SLOTS - 1)) {
		const group_slot *gs = &idx[s];
		if (!gs->at)
			return s;
		const pend_op *o = &g->ops[gs->at - 1].op;
		if (gs->hash == h && strcmp(o->counter, op->counter) == 0 &&
		    strcmp(o->item, op->item) == 0 && (!pair || strcmp(o->user, op->user) == 0))
			return s;
	}
}

/* --- memberships ------------------------------------------------------------ */

int ledger_members_load(ledger *l)
{
	bloom *members = &l->commit.members;
	if (!bloom_bytes(members))
		return 0;
	uint64_t t0 = clock_mono_ms();
	/* The memberships, and the items retention dropped some of. */
	enum ekey_tag tags[2] = {EKEY_MEMBER, EKEY_AGED};
	for (int i = 0; i < 2; i++) {
		store_iter *it = store_iter_new(l->db, ekey_prefix(tags[i]), 1);
		const char *k, *v;
		size_t kn, vn;
		while (store_iter_next(it, &k, &kn, &v, &vn))
			bloom_add(members, k, kn);
		int rc = store_iter_status(it);
		store_iter_free(it);
		if (rc)
			return rc;
	}
	log_info("membership filter loaded", "records=%" PRIu64 " filter_bytes=%zu ms=%" PRIu64,
	         members->added, bloom_bytes(members), clock_mono_ms() - t0);
	return 0;
}

static void member_put_seen(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	(void)v;
	(void)vn;
	ledger *l = ctx;
	if (ekey_is(k, kn, EKEY_MEMBER) || ekey_is(k, kn, EKEY_AGED))
		bloom_add(&l->commit.members, k, kn);
}

static void member_del_seen(void *ctx, const char *k, size_t kn)
{
	(void)ctx;
	(void)k;
	(void)kn; /* a filter forgets nothing: a deleted one costs a read */
}

void ledger_members_note(ledger *l, const store_batch *wb)
{
	if (bloom_bytes(&l->commit.members))
		store_batch_iterate(wb, l, member_put_seen, member_del_seen);
}

/* The stored membership of mkey, whose filter hash is bh: no lock needed
 * (the filter and the store may be read by any thread). */
static int member_read_h(ledger *l, const char *mkey, size_t kn, bloom_hash bh, int *state,
                         uint64_t *stamp)
{
	struct commit *c = &l->commit;
	*state = -1;
	*stamp = 0;
	if (!bloom_maybe_h(&c->members, bh)) {
		atomic_fetch_add_explicit(&c->member_reads_skipped, 1, memory_order_relaxed);
		return 0;
	}
	atomic_fetch_add_explicit(&c->member_reads, 1, memory_order_relaxed);
	char *buf;
	size_t len;
	int rc = store_get(l->db, mkey, kn, &buf, &len);
	if (rc == ERR_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (len == 9 && (buf[0] == 0 || buf[0] == 1)) {
		*state = buf[0];
		*stamp = store_get_u64((unsigned char *)buf + 1);
	}
	free(buf);
	return 0;
}

static int member_read(ledger *l, const char *mkey, size_t kn, int *state, uint64_t *stamp)
{
	return member_read_h(l, mkey, kn, bloom_key_hash(mkey, kn), state, stamp);
}

int ledger_member_at(ledger *l, const char *counter, const char *item, const char *user, int *state,
                     uint64_t *stamp)
{
	char mkey[KEY_MAX];
	if (strlen(counter) > COUNTER_MAX || strlen(item) > ITEM_MAX || strlen(user) > USER_MAX)
		return ERR_INVAL;
	size_t mkn = ekey_member(mkey, counter, item, user);
	return member_read(l, mkey, mkn, state, stamp);
}

int ledger_member(ledger *l, const char *counter, const char *item, const char *user, int *state)
{
	uint64_t stamp;
	return ledger_member_at(l, counter, item, user, state, &stamp);
}

/* --- staging ---------------------------------------------------------------- */

#define STAGE_ON_STACK 4 /* ops of one call staged without an allocation */

/* An op of this call, made before the writer mutex (prepare), read
 * before it too (preread), and staged under it. */
typedef struct staged {
	pend_op op;
	pair_key pk;    /* its count's key, hash and partition */
	uint32_t bytes; /* its encoded size */
	bool set;
	uint64_t mhash; /* of the member key */
	char mkey[KEY_MAX];
	size_t mkn;
	/* What preread found, each valid only while commit.finished stays
	 * at the value read before: the stored membership (set ops) and its
	 * clock, and the count as the view showed it, unclamped. */
	bool mread, vread;
	int mstate;
	uint64_t mstamp;
	int64_t raw;
	ledger_view base;
} staged;

/* Checks o and makes s from it: everything about the op that needs no
 * ledger state, each hash computed once. false when o is out of range. */
static bool prepare(const ledger *l, const ledger_op *o, staged *s)
{
	size_t cl = strlen(o->counter), il = strlen(o->item), ul = strlen(o->user);
	if (!cl || cl > COUNTER_MAX || !il || il > ITEM_MAX || !ul || ul > USER_MAX)
		return false;
	if (o->sum && (o->n < 1 || o->n > COUNTER_SUM_MAX))
		return false;
	s->set = !o->sum;
	/* A set op of a user with a home carries it, this region included:
	 * central keeps each home's memberships for its edges' checkpoint,
	 * and sends those made elsewhere to the home's stream. */
	size_t hl = s->set && o->home ? strlen(o->home) : 0;
	if (hl > EDGE_ID_MAX)
		hl = 0;
	s->op = ledger_op_make(o->counter, o->item, o->user, o->home, cl, il, ul, hl);
	s->op.kind = o->sum || o->add ? WIRE_ADD : WIRE_REMOVE;
	s->op.sum = o->sum;
	s->op.n = o->sum ? o->n : 1;
	s->bytes = (uint32_t)ledger_op_size(cl, il, ul, hl);
	ledger_pair_make(&s->pk, o->counter, cl, o->item, il, l->o.partitions);
	if (s->set) {
		s->mkn = ekey_member(s->mkey, o->counter, o->item, o->user);
		s->mhash = XXH3_64bits(s->mkey, s->mkn);
	}
	return true;
}

/* The newest staged state of a pair (probe's names; member key mkey,
 * hashed mhash): in the open group, else in the one being written, an op
 * of it (*op) before a home put (*hp). false when neither group holds
 * it. mu held. */
static bool group_newest(const ledger *l, const pend_op *probe, uint64_t mhash, const char *mkey,
                         size_t mkn, const pend_op **op, const home_put **hp)
{
	const group *gs2[2] = {l->commit.g, l->commit.gc};
	for (int k = 0; k < 2 && gs2[k]; k++) {
		const group *g = gs2[k];
		const group_slot *gs = &g->member[slot_find(g, g->member, mhash, probe, true)];
		*op = gs->at ? &g->ops[gs->at - 1].op : NULL;
		*hp = *op ? NULL : ledger_home_find(g, mkey, mkn, mhash);
		if (*op || *hp)
			return true;
	}
	return false;
}

/* A staged home put's membership as a read of the store would give it:
 * a drop's is not known. */
static void home_put_state(const home_put *h, int *state, uint64_t *stamp)
{
	*state = h->state == HOME_DROP ? -1 : h->state;
	*stamp = h->state == HOME_DROP ? 0 : h->hlc;
}

/* The membership of the set op at i, after the ops before it in this call,
 * else in the group, else in the store (as preread found it, if fresh),
 * and the clock of the op that set it; -1 when not known here. */
static int newest_state(ledger *l, staged *sg, size_t i, bool fresh, int *state, uint64_t *stamp)
{
	for (size_t j = i; j-- > 0;) {
		if (sg[j].set && sg[j].mkn == sg[i].mkn &&
		    memcmp(sg[j].mkey, sg[i].mkey, sg[i].mkn) == 0) {
			*state = sg[j].op.kind == WIRE_ADD;
			*stamp = sg[j].op.hlc;
			return 0;
		}
	}
	/* The open group, then the one being written: both are newer than
	 * the store's state. In each, an op is newer than a home put. */
	const pend_op *o;
	const home_put *h;
	if (group_newest(l, &sg[i].op, sg[i].mhash, sg[i].mkey, sg[i].mkn, &o, &h)) {
		if (o) {
			*state = o->kind == WIRE_ADD;
			*stamp = o->hlc;
		} else {
			home_put_state(h, state, stamp);
		}
		return 0;
	}
	if (fresh && sg[i].mread) {
		*state = sg[i].mstate;
		*stamp = sg[i].mstamp;
		return 0;
	}
	return member_read(l, sg[i].mkey, sg[i].mkn, state, stamp);
}

/* newest_state, where a pair not known here (never recorded, or
 * dropped by retention) takes what central said of it (the op's prior),
 * if anything. */
static int state_before(ledger *l, const ledger_op *ops, staged *sg, size_t i, bool fresh,
                        int *state, uint64_t *stamp)
{
	int rc = newest_state(l, sg, i, fresh, state, stamp);
	if (rc == 0 && *state < 0 && ops[i].prior >= 0)
		*state = ops[i].prior ? 1 : 0;
	return rc;
}

/* What the ops staged before sg[i] on its counter and item add to its
 * count, sg[i] included: in the two groups and in this call, which are
 * written with it or not at all. */
static int64_t staged_plus(const ledger *l, const staged *sg, size_t i)
{
	const staged *s = &sg[i];
	group *gs2[2] = {l->commit.g, l->commit.gc};
	int64_t plus = 0;
	for (int k = 0; k < 2 && gs2[k]; k++) {
		const group *g = gs2[k];
		const group_slot *gs = &g->count[slot_find(g, g->count, s->pk.h, &s->op, false)];
		if (gs->at)
			plus += gs->delta;
	}
	for (size_t j = 0; j <= i; j++)
		if (sg[j].pk.h == s->pk.h && sg[j].pk.kn == s->pk.kn &&
		    memcmp(sg[j].pk.key, s->pk.key, s->pk.kn) == 0)
			plus += ledger_op_delta(sg[j].op.kind, sg[j].op.n, sg[j].op.counts);
	return plus;
}

/* Reads what sg[i] needs from the store and the view before the writer
 * mutex: its stored membership and its count. A read that fails is
 * done again under the mutex. */
static void preread(ledger *l, staged *s)
{
	/* The membership filter's block is asked for first and read last:
	 * its cache miss overlaps the count's lookups. */
	bloom_hash bh = {0, 0};
	if (s->set) {
		bh = bloom_key_hash(s->mkey, s->mkn);
		bloom_prefetch(&l->commit.members, bh);
	}
	s->vread = ledger_view_count(l, &s->pk, 0, &s->base, &s->raw) == 0;
	s->mread = s->set && member_read_h(l, s->mkey, s->mkn, bh, &s->mstate, &s->mstamp) == 0;
}

/* Stages sg[i] (made by prepare) as far as its answer: its membership
 * before it, its clock, its op number and the count the user sees.
 * Nothing goes into the group yet. fresh: no group has joined the
 * overlay since preread, so what it read stands, with the two groups'
 * ops and this call's added. */
static int stage(ledger *l, const ledger_op *ops, staged *sg, size_t i, bool fresh,
                 uint64_t wall_ms, ledger_answer *a)
{
	const ledger_op *o = &ops[i];
	staged *s = &sg[i];
	struct commit *c = &l->commit;
	uint32_t p = s->pk.p;
	uint64_t seen = 0;
	bool repeat = false, unsettled = false;
	if (fresh && (!s->set || s->mread) && s->vread)
		l->st.stage_fresh++;
	else
		l->st.stage_reread++;
	if (s->set) {
		int state;
		int rc = state_before(l, ops, sg, i, fresh, &state, &seen);
		if (rc)
			return rc;
		repeat = state == (o->add ? 1 : 0);
		/* An unlike of a pair never seen here: the user may never have
		 * been in, so it must not take one off. Central settles it. */
		unsettled = state < 0 && !o->add;
	}
	/* A client's clock counts only when it is not too far ahead of ours;
	 * per pair, a later op here always gets a later clock. */
	if (o->client_hlc > seen && hlc_ms(o->client_hlc) <= wall_ms + l->o.max_ahead_ms)
		seen = o->client_hlc;
	s->op.hlc = seen ? hlc_observe(&c->clock, seen, wall_ms) : hlc_now(&c->clock, wall_ms);
	s->op.counts = !repeat && !unsettled;
	uint64_t opno = c->next_opno[p] + c->g->per_part[p] + (c->gc ? c->gc->per_part[p] : 0);
	for (size_t j = 0; j < i; j++)
		if (sg[j].pk.p == p)
			opno++;
	s->op.opno = opno;
	int64_t plus = staged_plus(l, sg, i);
	if (fresh && s->vread) {
		int64_t sum = s->raw + plus;
		a->view = s->base;
		a->view.count = sum < 0 ? 0 : (uint64_t)sum;
	} else {
		int rc = ledger_view_count(l, &s->pk, plus, &a->view, NULL);
		if (rc)
			return rc;
	}
	a->member = s->set && o->add;
	a->changed = s->op.counts;
	a->hlc = s->op.hlc;
	return 0;
}

/* Moves the staged op s into the group: its indexes. Its store records
 * (the membership 'M' of a set op, the op itself in the group record)
 * are put at the commit (group_record), outside the mutex. */
static void group_add(ledger *l, staged *s)
{
	group *g = l->commit.g;
	uint32_t p = s->pk.p;
	uint32_t at = (uint32_t)g->n + 1;
	group_op *go = &g->ops[g->n++];
	go->op = s->op;
	go->p = p;
	go->bytes = s->bytes;
	go->next = 0;
	if (g->tail[p]) {
		g->ops[g->tail[p] - 1].next = at;
	} else {
		g->head[p] = at;
		g->apart[p] = !ledger_outbox_can_seal(l, p);
	}
	g->tail[p] = at;
	s->op.counter = NULL; /* the group owns the strings now */
	g->per_part[p]++;
	size_t cs = slot_find(g, g->count, s->pk.h, &go->op, false);
	if (!g->count[cs].at)
		g->count[cs] = (group_slot){.hash = s->pk.h, .at = at, .delta = 0};
	g->count[cs].delta += ledger_op_delta(go->op.kind, go->op.n, go->op.counts);
	go->cslot = (uint16_t)cs;
	/* A sum op has no pair and takes no member slot; clearing slot 0 at
	 * the reset is harmless, as every slot is cleared then. */
	go->mslot = 0;
	if (s->set) {
		size_t ms = slot_find(g, g->member, s->mhash, &go->op, true);
		g->member[ms] = (group_slot){.hash = s->mhash, .at = at};
		go->mslot = (uint16_t)ms;
	}
}

/* --- the home stream -------------------------------------------------------- */

const home_put *ledger_home_find(const group *g, const char *mkey, size_t mkn, uint64_t mhash)
{
	for (size_t i = g->nhomes; i-- > 0;) {
		const home_put *h = &g->homes[i];
		if (h->mhash == mhash && h->mkn == mkn && memcmp(h->mkey, mkey, mkn) == 0)
			return h;
	}
	return NULL;
}

/* The pair's newest state before ev: in a group (an op, or a home put),
 * else the store. ERR_AGAIN when an op of a group holds it with an older
 * clock: that op's 'M' is not written yet and would overwrite ev's. */
static int home_state(ledger *l, const ledger_home_ev *e, const home_put *h, int *state,
                      uint64_t *stamp)
{
	pend_op probe = {
	    .counter = (char *)e->counter, .item = (char *)e->item, .user = (char *)e->user};
	const pend_op *o;
	const home_put *prev;
	if (!group_newest(l, &probe, h->mhash, h->mkey, h->mkn, &o, &prev))
		return member_read(l, h->mkey, h->mkn, state, stamp);
	if (o && o->hlc < h->hlc)
		return ERR_AGAIN;
	/* A drop about to be written keeps its record's clock: an older
	 * event must not take the pair. */
	*state = o ? o->kind == WIRE_ADD : prev->state == HOME_DROP ? 0 : prev->state;
	*stamp = o ? o->hlc : prev->hlc;
	return 0;
}

static void home_add(group *g, const home_put *h)
{
	if (g->nhomes == g->homes_cap) {
		g->homes_cap = g->homes_cap ? 2 * g->homes_cap : 16;
		g->homes = xrealloc(g->homes, g->homes_cap * sizeof *g->homes);
	}
	g->homes[g->nhomes++] = *h;
}

/* 'H': next offset u64, then from u64 (older values: the offset alone). */
static void home_pos_put(store_batch *wb, uint32_t p, const ledger_home_pos *pos)
{
	char key[EKEY_PART_LEN];
	unsigned char v[16];
	store_put_u64(v, (uint64_t)pos->next);
	store_put_u64(v + 8, pos->from);
	store_batch_put(wb, key, ekey_part(key, EKEY_HOME_NEXT, p), v, sizeof v);
}

static bool home_pos_parse(const char *v, size_t vn, ledger_home_pos *pos)
{
	if (vn != 8 && vn != 16)
		return false;
	pos->next = (int64_t)store_get_u64((const unsigned char *)v);
	pos->from = vn == 16 ? store_get_u64((const unsigned char *)v + 8) : LEDGER_HOME_NONE;
	return true;
}

int ledger_home_load(ledger *l)
{
	l->home_from = xcalloc(l->o.partitions, sizeof *l->home_from);
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		int64_t next;
		uint64_t from;
		int rc = ledger_home_resume(l, p, &next, &from);
		if (rc && rc != ERR_NOTFOUND)
			return rc;
		atomic_store(&l->home_from[p], rc ? LEDGER_HOME_NONE : from);
	}
	return 0;
}

static void home_seen(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	ledger *l = ctx;
	uint32_t p;
	ledger_home_pos pos;
	if (ekey_is(k, kn, EKEY_HOME_NEXT) && kn == EKEY_PART_LEN &&
	    (p = store_get_u32((const unsigned char *)k + 1)) < l->o.partitions &&
	    home_pos_parse(v, vn, &pos))
		atomic_store(&l->home_from[p], pos.from);
}

static void home_gone(void *ctx, const char *k, size_t kn)
{
	(void)ctx;
	(void)k;
	(void)kn;
}

void ledger_home_note(ledger *l, const store_batch *wb)
{
	store_batch_iterate(wb, l, home_seen, home_gone);
}

uint32_t ledger_home_ready(ledger *l)
{
	uint32_t n = 0;
	for (uint32_t p = 0; p < l->o.partitions; p++)
		n += atomic_load(&l->home_from[p]) != LEDGER_HOME_NONE;
	return n;
}

/* Retention dropped memberships of (counter, item) here ('Y'). */
static int item_aged(ledger *l, const char *counter, const char *item, bool *aged)
{
	char pair[EKEY_PAIR_MAX], key[EKEY_COUNT_MAX];
	size_t pn = ekey_pair(pair, counter, strlen(counter), item, strlen(item));
	size_t kn = ekey_aged(key, pair, pn);
	/* The membership filter holds the marks too: most items have none,
	 * and their check costs no store read. */
	if (!bloom_maybe(&l->commit.members, key, kn)) {
		*aged = false;
		return 0;
	}
	char v[8];
	size_t vn;
	int rc = store_get_into(l->db, key, kn, v, sizeof v, &vn);
	*aged = rc == 0;
	return rc == ERR_NOTFOUND ? 0 : rc;
}

uint64_t ledger_member_keep_ms(const ledger *l)
{
	return l->o.member_keep_ms;
}

/* Whether a record stamped with clock stamp is past the retention's cut
 * at wall_ms. */
static bool past_keep(const ledger *l, uint64_t stamp, uint64_t wall_ms)
{
	uint64_t keep = l->o.member_keep_ms;
	return keep && wall_ms > keep && hlc_ms(stamp) < wall_ms - keep;
}

bool ledger_members_fresh(const ledger *l)
{
	return l->members_fresh;
}

int ledger_member_home(ledger *l, const char *counter, const char *item, const char *user,
                       int *state)
{
	int rc = ledger_member(l, counter, item, user, state);
	if (rc || *state >= 0)
		return rc;
	uint32_t p = partition_of(item, strlen(item), l->o.partitions);
	uint64_t from = atomic_load(&l->home_from[p]);
	/* 0: every change there, central's checkpoint of the region's
	 * memberships included, is in this store; unless retention dropped
	 * some of the item's since. */
	if (from != 0 && !ledger_item_covered(l, counter, item, from))
		return 0;
	bool aged;
	rc = item_aged(l, counter, item, &aged);
	if (rc == 0 && !aged) {
		*state = 0;
	} else if (rc == 0) {
		/* Likes of it were dropped; none is a member when central's
		 * count is 0 (this edge's unconfirmed ops keep their records). */
		ledger_view v;
		if (ledger_read(l, counter, item, &v) == 0 && v.known && v.base == 0)
			*state = 0;
	}
	return rc;
}

/* Marks (counter, item) as an item whose memberships retention has let
 * go ('Y', stamped wall_ms) in the open group, and in the membership
 * filter before the group's write, as an 'M' goes. The writer mutex is
 * held. */
static void mark_aged(ledger *l, const char *pair, size_t pn, uint64_t wall_ms)
{
	char ykey[EKEY_COUNT_MAX];
	unsigned char ms[8];
	store_put_u64(ms, wall_ms);
	size_t yn = ekey_aged(ykey, pair, pn);
	bloom_add(&l->commit.members, ykey, yn);
	store_batch_put(l->commit.g->wb, ykey, yn, ms, sizeof ms);
}

/* A home event older than the retention's cut: a like marks its item
 * (once per item in a row), whether or not the event is kept, since it
 * says the item has likes this store may not hold (central's home
 * checkpoint with since_ms sends one such like per item and leaves the
 * others out). Such an event for a pair the store lacks is not kept
 * (ledger_home_apply): the sweep would drop it, and a replay of an older
 * event after a drop must not bring back a state older than the one
 * dropped; the mark has its absent pairs read through, not answered
 * "no" (ledger_member_home). */
static void mark_old_like(ledger *l, const ledger_home_ev *e, uint64_t wall_ms, char *last,
                          size_t *lastn)
{
	char pair[EKEY_PAIR_MAX];
	size_t pn = ekey_pair(pair, e->counter, strlen(e->counter), e->item, strlen(e->item));
	if (pn != *lastn || memcmp(pair, last, pn) != 0) {
		mark_aged(l, pair, pn, wall_ms);
		memcpy(last, pair, pn);
		*lastn = pn;
	}
}

int ledger_home_apply(ledger *l, const ledger_home_ev *evs, size_t n, const ledger_home_pos *pos,
                      uint64_t wall_ms, size_t *taken)
{
	*taken = 0;
	if (ledger_following(l))
		return ERR_FENCED;
	home_put *hp = n ? xcalloc(n, sizeof *hp) : NULL;
	for (size_t i = 0; i < n; i++) {
		const ledger_home_ev *e = &evs[i];
		if (strlen(e->counter) > COUNTER_MAX || strlen(e->item) > ITEM_MAX ||
		    strlen(e->user) > USER_MAX || !e->counter[0] || !e->item[0] || !e->user[0]) {
			free(hp);
			return ERR_INVAL;
		}
		hp[i].mkn = ekey_member(hp[i].mkey, e->counter, e->item, e->user);
		hp[i].mhash = XXH3_64bits(hp[i].mkey, hp[i].mkn);
		hp[i].state = e->member ? 1 : 0;
		hp[i].hlc = e->hlc;
	}
	ledger_lock(l);
	struct commit *c = &l->commit;
	int rc = 0;
	/* Nothing is staged unless all can be: a pair an unwritten op holds
	 * with an older clock makes the caller come back. */
	bool *take = n ? xcalloc(n, sizeof *take) : NULL;
	bool *absent = n ? xcalloc(n, sizeof *absent) : NULL;
	for (size_t i = 0; i < n && !rc; i++) {
		int state = -1;
		uint64_t stamp = 0;
		rc = home_state(l, &evs[i], &hp[i], &state, &stamp);
		/* Last writer wins, as at central: a newer state here (this
		 * edge's own op, or the stream's later event) stays. */
		take[i] = rc == 0 && (state < 0 || stamp < hp[i].hlc);
		absent[i] = state < 0;
		for (size_t j = 0; j < i && take[i]; j++)
			if (take[j] && hp[j].mhash == hp[i].mhash && hp[j].hlc >= hp[i].hlc)
				take[i] = false;
	}
	if (rc == 0) {
		char last[EKEY_PAIR_MAX];
		size_t lastn = 0;
		for (size_t i = 0; i < n; i++) {
			bool old = past_keep(l, evs[i].hlc, wall_ms);
			if (old && evs[i].member)
				mark_old_like(l, &evs[i], wall_ms, last, &lastn);
			if (!take[i])
				continue;
			if (!absent[i] || !old) {
				home_add(c->g, &hp[i]);
				(void)hlc_observe(&c->clock, hp[i].hlc, wall_ms);
			}
			(*taken)++;
		}
		for (uint32_t p = 0; p < l->o.partitions; p++)
			if (pos[p].next >= 0)
				home_pos_put(c->g->wb, p, &pos[p]);
		ledger_ticket own = {.state = LEDGER_STAGED, .next = c->g->tickets};
		c->g->tickets = &own;
		(void)ledger_group_commit(l, wall_ms);
		int st = ledger_ticket_state(&own);
		rc = st == LEDGER_DURABLE ? 0 : st;
		for (uint32_t p = 0; rc == 0 && p < l->o.partitions; p++)
			if (pos[p].next >= 0)
				atomic_store(&l->home_from[p], pos[p].from);
	}
	ledger_unlock(l);
	free(absent);
	free(take);
	free(hp);
	return rc;
}

int ledger_home_resume(ledger *l, uint32_t p, int64_t *next, uint64_t *from)
{
	char key[EKEY_PART_LEN], v[16];
	size_t vn;
	ledger_home_pos pos;
	*next = -1;
	*from = LEDGER_HOME_NONE;
	int rc = store_get_into(l->db, key, ekey_part(key, EKEY_HOME_NEXT, p), v, sizeof v, &vn);
	if (rc)
		return rc;
	if (!home_pos_parse(v, vn, &pos))
		return ERR_CORRUPT;
	*next = pos.next;
	*from = pos.from;
	return 0;
}

/* --- retention ------------------------------------------------------------- */

#define SWEEP_DROP_MAX 256 /* drops staged under one hold of the writer mutex */
/* An op's record is stamped when it is staged, its batch's age starts
 * when its group is written: a partition is held while an unconfirmed
 * op came within this of the cut. */
#define SWEEP_MARGIN_MS 60000

/* A record old enough to drop, as the scan read it. */
typedef struct drop_cand {
	char mkey[KEY_MAX];
	size_t mkn;
	int state;
	uint64_t stamp;
} drop_cand;

/* Reads up to scan_max 'M' records from the sweep's place into cands
 * (those stamped before cut_ms, at most SWEEP_DROP_MAX) and moves the
 * place past them; back to the start after the last record. */
static int sweep_scan(ledger *l, uint64_t cut_ms, size_t scan_max, drop_cand *cands, size_t *nc,
                      ledger_sweep *out)
{
	store_iter *it = store_iter_from(l->db, ekey_prefix(EKEY_MEMBER), 1,
	                                 l->sweep.fromn ? l->sweep.from : NULL, l->sweep.fromn);
	const char *k, *v;
	size_t kn, vn;
	bool ended = false;
	*nc = 0;
	while (out->scanned < scan_max && *nc < SWEEP_DROP_MAX) {
		if (!store_iter_next(it, &k, &kn, &v, &vn) || kn > KEY_MAX) {
			ended = true; /* no 'M' key is longer (ekey_member) */
			break;
		}
		out->scanned++;
		/* The next call starts at its successor: it and a 0 byte. */
		memcpy(l->sweep.from, k, kn);
		l->sweep.from[kn] = 0;
		l->sweep.fromn = kn + 1;
		if (vn != 9 || (v[0] != 0 && v[0] != 1))
			continue;
		uint64_t stamp = store_get_u64((const unsigned char *)v + 1);
		if (hlc_ms(stamp) >= cut_ms)
			continue;
		drop_cand *d = &cands[(*nc)++];
		memcpy(d->mkey, k, kn);
		d->mkn = kn;
		d->state = v[0];
		d->stamp = stamp;
	}
	out->full = *nc == SWEEP_DROP_MAX;
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (!rc && ended) {
		l->sweep.fromn = 0;
		out->wrapped = true;
	}
	return rc;
}

/* Stages the drop of each candidate that still holds (mu held): its
 * partition has no unconfirmed op older than the cut, no group holds
 * its pair, and the store still has it as read (read again when a
 * group joined since seen). Marks each item once. */
static int sweep_stage(ledger *l, uint64_t cut_ms, uint64_t wall_ms, const drop_cand *cands,
                       size_t nc, uint64_t seen, ledger_sweep *out)
{
	struct commit *c = &l->commit;
	bool fresh = atomic_load_explicit(&c->finished, memory_order_relaxed) == seen;
	char counter[COUNTER_MAX + 1], item[ITEM_MAX + 1], user[USER_MAX + 1];
	char pair[EKEY_PAIR_MAX], last[EKEY_PAIR_MAX];
	size_t lastn = 0;
	for (size_t i = 0; i < nc; i++) {
		const drop_cand *d = &cands[i];
		if (!ekey_member_parse(d->mkey, d->mkn, counter, item, user))
			continue;
		uint32_t p = partition_of(item, strlen(item), l->o.partitions);
		if (ledger_outbox_oldest_ms(l, p) < cut_ms + SWEEP_MARGIN_MS) {
			out->held++;
			continue;
		}
		pend_op probe = {.counter = counter, .item = item, .user = user};
		uint64_t mhash = XXH3_64bits(d->mkey, d->mkn);
		const pend_op *o;
		const home_put *hp;
		if (group_newest(l, &probe, mhash, d->mkey, d->mkn, &o, &hp))
			continue; /* a newer state is staged: not the store's to drop */
		if (!fresh) {
			int state;
			uint64_t stamp;
			int rc = member_read(l, d->mkey, d->mkn, &state, &stamp);
			if (rc)
				return rc;
			if (state != d->state || stamp != d->stamp)
				continue;
		}
		home_put h = {.mkn = d->mkn, .mhash = mhash, .state = HOME_DROP, .hlc = d->stamp};
		memcpy(h.mkey, d->mkey, d->mkn);
		home_add(c->g, &h);
		out->dropped++;
		if (d->state != 1)
			continue; /* a dropped "no": absent says the same */
		size_t pn = ekey_pair(pair, counter, strlen(counter), item, strlen(item));
		if (pn != lastn || memcmp(pair, last, pn) != 0) {
			mark_aged(l, pair, pn, wall_ms);
			memcpy(last, pair, pn);
			lastn = pn;
		}
	}
	/* Where the pass goes on, with the drops: a restart resumes there. */
	if (out->dropped)
		store_batch_put(c->g->wb, ekey_prefix(EKEY_SWEEP), 1, l->sweep.from,
		                l->sweep.fromn);
	return 0;
}

int ledger_member_sweep(ledger *l, uint64_t wall_ms, uint64_t keep_ms, size_t scan_max,
                        ledger_sweep *out)
{
	ledger_sweep own;
	if (!out)
		out = &own;
	memset(out, 0, sizeof *out);
	if (ledger_following(l) || keep_ms == 0 || wall_ms <= keep_ms)
		return 0;
	uint64_t cut_ms = wall_ms - keep_ms;
	if (!l->sweep.loaded) {
		int rc = store_get_into(l->db, ekey_prefix(EKEY_SWEEP), 1, l->sweep.from,
		                        sizeof l->sweep.from, &l->sweep.fromn);
		if (rc && rc != ERR_NOTFOUND)
			return rc;
		if (rc || l->sweep.fromn > KEY_MAX + 1)
			l->sweep.fromn = 0;
		l->sweep.loaded = true;
	}
	uint64_t seen = atomic_load_explicit(&l->commit.finished, memory_order_relaxed);
	drop_cand *cands = xmalloc(SWEEP_DROP_MAX * sizeof *cands);
	size_t nc;
	int rc = sweep_scan(l, cut_ms, scan_max, cands, &nc, out);
	if (rc || (nc == 0 && !out->wrapped)) {
		free(cands);
		return rc;
	}
	if (l->o.sweep_scanned)
		l->o.sweep_scanned(l->o.sweep_ctx);
	ledger_lock(l);
	if (out->wrapped)
		l->st.member_sweeps++;
	if (nc && !ledger_following(l))
		rc = sweep_stage(l, cut_ms, wall_ms, cands, nc, seen, out);
	if (rc == 0 && out->dropped) {
		ledger_ticket t = {.state = LEDGER_STAGED, .next = l->commit.g->tickets};
		l->commit.g->tickets = &t;
		(void)ledger_group_commit(l, wall_ms);
		int st = ledger_ticket_state(&t);
		rc = st == LEDGER_DURABLE ? 0 : st;
		if (rc == 0)
			l->st.members_dropped += out->dropped;
	}
	ledger_unlock(l);
	free(cands);
	return rc;
}

/* --- entry points ----------------------------------------------------------- */

/* Looks the write's idempotency key up in the store: no lock needed. A
 * replay's count is atomic, as this runs before the writer mutex. */
static int replay_lookup(ledger *l, const ledger_idem *idem, uint64_t wall_ms, ledger_replay *r)
{
	int rc = idem_lookup(l->db, &idem->req, wall_ms, &r->status, &r->body, &r->len);
	if (rc == 0) {
		r->replayed = true;
		atomic_fetch_add_explicit(&l->commit.replays, 1, memory_order_relaxed);
	}
	return rc == ERR_INVAL ? ERR_CONFLICT : rc;
}

/* A replay's outcome as the caller sees it: 0 (replayed), ERR_CONFLICT or
 * the store's error, each refused but the first; ERR_NOTFOUND: a new
 * write. */
static int replay_outcome(ledger *l, int rc, size_t n)
{
	if (rc == ERR_CONFLICT)
		telemetry_refused(l->o.tm, TM_REFUSED_CONFLICT, n);
	else if (rc && rc != ERR_NOTFOUND)
		telemetry_refused(l->o.tm, TM_REFUSED_STORE, n);
	return rc;
}

/* A write of the ops in sg: the part under the writer mutex. Room in the
 * open group (and none of its key in the groups), the key's record read
 * again if a group holding records finished since the pre-read (seen),
 * the budget, then the ops staged (answers), the key's record rendered
 * into the group (*rendered: the caller frees it), and the write left to
 * the commit thread (t) or committed now. */
static int stage_locked(ledger *l, const ledger_op *ops, staged *sg, size_t n, uint64_t wall_ms,
                        ledger_answer *answers, const ledger_idem *idem, ledger_replay *replay,
                        ledger_ticket *t, uint64_t seen, char **rendered)
{
	struct commit *c = &l->commit;
	uint64_t ih = idem ? ledger_idem_hash(idem->req.user, idem->req.key) : 0;
	/* A retry must see its first try: neither group may hold its key. */
	ledger_group_room(l, n, idem != NULL, ih, wall_ms);
	group *g = c->g;
	/* Rare: a retry that raced its first try's group to the store. */
	if (idem && ledger_idem_joined(l, seen, ih)) {
		int rc = replay_outcome(l, replay_lookup(l, idem, wall_ms, replay), n);
		if (rc != ERR_NOTFOUND)
			return rc;
	}
	if (l->st.pending_bytes >= l->o.budget_bytes) {
		telemetry_refused(l->o.tm, TM_REFUSED_BUDGET, n);
		return ERR_FULL;
	}
	hlc saved = c->clock;
	bool fresh = atomic_load_explicit(&c->finished, memory_order_relaxed) == seen;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = stage(l, ops, sg, i, fresh, wall_ms, &answers[i]);
	if (rc) {
		if (rc == ERR_IO)
			telemetry_refused(l->o.tm, TM_REFUSED_STORE, n);
		c->clock = saved;
		return rc;
	}
	if (idem && idem->render) {
		size_t rlen = 0;
		*rendered = idem->render(idem->ctx, answers, n, &rlen);
		idem_batch_put(g->wb, &idem->req, 200, *rendered, rlen);
		g->idem[g->nidem++] = ih;
	}
	for (size_t i = 0; i < n; i++)
		group_add(l, &sg[i]);
	if (t) {
		atomic_store_explicit(&t->state, LEDGER_STAGED, memory_order_relaxed);
		t->next = g->tickets;
		g->tickets = t;
		return 0;
	}
	/* Written now, with a ticket of its own: should the group being
	 * written fail meanwhile, the commit thread fails this group too (it
	 * was staged on top of that one), and only the ticket says so. */
	ledger_ticket own = {.state = LEDGER_STAGED, .next = g->tickets};
	g->tickets = &own;
	(void)ledger_group_commit(l, wall_ms);
	int st = ledger_ticket_state(&own);
	return st == LEDGER_DURABLE ? 0 : st;
}

int ledger_stage_ops(ledger *l, const ledger_op *ops, size_t n, uint64_t wall_ms,
                     ledger_answer *answers, const ledger_idem *idem, ledger_replay *replay,
                     ledger_ticket *t)
{
	if (replay)
		memset(replay, 0, sizeof *replay);
	if (t) {
		atomic_store_explicit(&t->state, LEDGER_UNSTAGED, memory_order_relaxed);
		t->next = NULL;
	}
	if (!n || n > LEDGER_GROUP_OPS || (idem && !replay))
		return ERR_INVAL;
	if (ledger_following(l)) {
		telemetry_refused(l->o.tm, TM_REFUSED_NOT_ACTIVE, n);
		return ERR_FENCED; /* the region's active instance takes writes */
	}
	/* A single like (the common call) stages on the stack. */
	staged one[STAGE_ON_STACK];
	staged *sg = n <= STAGE_ON_STACK ? one : xmalloc(n * sizeof *sg);
	size_t made = 0;
	for (; made < n; made++)
		if (!prepare(l, &ops[made], &sg[made]))
			break;
	for (size_t i = made; i < n; i++)
		sg[i].op.counter = NULL;
	int rc = made < n ? ERR_INVAL : 0;
	bool answered = rc != 0;
	/* The store and view reads before the mutex, so that no other write
	 * waits for them; checked under it against commit.finished. A key's
	 * record is in the store once the group that staged it is written:
	 * found, the answer is that write's, with no lock at all. */
	uint64_t seen = atomic_load_explicit(&l->commit.finished, memory_order_acquire);
	if (!answered && idem) {
		int r = replay_outcome(l, replay_lookup(l, idem, wall_ms, replay), n);
		answered = r != ERR_NOTFOUND; /* replayed (0), a conflict, or the store failed */
		if (answered)
			rc = r;
	}
	if (!answered) {
		memset(answers, 0, n * sizeof *answers);
		for (size_t i = 0; i < n; i++)
			preread(l, &sg[i]);
		if (l->o.after_preread)
			l->o.after_preread(l->o.hook_ctx);
		char *rendered = NULL;
		ledger_lock(l);
		rc =
		    stage_locked(l, ops, sg, n, wall_ms, answers, idem, replay, t, seen, &rendered);
		ledger_unlock(l);
		if (l->o.after_stage && ledger_ticket_staged(t))
			l->o.after_stage(l->o.hook_ctx);
		free(rendered);
	}
	for (size_t i = 0; i < n; i++)
		free(sg[i].op.counter);
	if (sg != one)
		free(sg);
	return rc;
}

int ledger_write_ops(ledger *l, const ledger_op *ops, size_t n, uint64_t wall_ms,
                     ledger_answer *answers, const ledger_idem *idem, ledger_replay *replay)
{
	return ledger_stage_ops(l, ops, n, wall_ms, answers, idem, replay, NULL);
}

int ledger_write(ledger *l, const char *counter, const char *item, const char *user, bool add,
                 uint64_t wall_ms, ledger_answer *a)
{
	ledger_op op = {.counter = counter, .item = item, .user = user, .add = add, .prior = -1};
	return ledger_write_ops(l, &op, 1, wall_ms, a, NULL, NULL);
}
