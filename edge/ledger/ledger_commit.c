/* ledger_commit.c - records and group commit (ledger.h): a write's ops
 * staged into the open group, the group commit that makes them durable,
 * the commit thread, and the pending ops' records ('G' group records,
 * 'P' runs for a partition waiting for its checkpoint), built in the
 * formats records.c encodes.
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
 * memberships and count changes staged before them. Nothing a reader
 * sees (overlay, open batches, stats) changes until the group is
 * written: group_record puts each set op's membership record and one
 * group record (per partition, its chain's ops) into the group's store
 * batch, with the mutex let go on the commit thread, and the group is
 * written in one store write; ledger_group_commit or the commit thread
 * then adds every op to the overlay (the view, each stripe the group
 * touched taken once) and hands it to its open batch (the outbox), and
 * resolves the group's tickets. A failed write drops the whole group: no
 * op of it is recorded and every ticket carries the error; with the
 * commit thread, the group staged on top of it (whose writes looked it
 * up) is dropped too.
 *
 * Owns struct commit (ledger_int.h: under the writer mutex; the commit
 * thread writes its group with the mutex let go; ledger_member takes no
 * lock).
 */
#include "edge/ledger/ledger_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "clock.h"
#include "counter.h"
#include "failpoint.h"
#include "log.h"
#include "edge/ops/telemetry.h"
#include "xmem.h"

/* --- what recovery saw ------------------------------------------------------- */

void ledger_clock_seen(ledger *l, uint64_t stamp)
{
	if (stamp > l->commit.clock.last)
		l->commit.clock.last = stamp;
}

void ledger_opno_seen(ledger *l, uint32_t p, uint64_t opno)
{
	/* The last number is never given out (a corrupt key's): the next
	 * one would wrap to 0, below every sealed op. */
	if (opno == UINT64_MAX)
		return;
	if (opno >= l->commit.next_opno[p])
		l->commit.next_opno[p] = opno + 1;
}

/* --- the group and its indexes ---------------------------------------------- */

void ledger_group_init(ledger *l)
{
	struct commit *c = &l->commit;
	for (int i = 0; i < 2; i++) {
		group *g = &c->grp[i];
		g->wb = store_batch_new();
		g->ops = xcalloc(LEDGER_GROUP_OPS, sizeof *g->ops);
		g->per_part = xcalloc(l->o.partitions, sizeof *g->per_part);
		g->head = xcalloc(l->o.partitions, sizeof *g->head);
		g->tail = xcalloc(l->o.partitions, sizeof *g->tail);
		g->apart = xcalloc(l->o.partitions, sizeof *g->apart);
		g->rec = xmalloc(GREC_MAX);
	}
	c->g = &c->grp[0];
	c->gc = NULL;
	c->next_opno = xcalloc(l->o.partitions, sizeof *c->next_opno);
	hlc_init(&c->clock);
	bloom_init(&c->members, l->o.member_filter_bytes, 7);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->done, NULL);
}

/* Forgets what the group staged (the ops' strings are gone already). */
static void group_reset(group *g)
{
	for (size_t i = 0; i < g->n; i++) {
		group_op *go = &g->ops[i];
		g->per_part[go->p] = 0;
		g->head[go->p] = g->tail[go->p] = 0;
		g->apart[go->p] = false;
		g->member[go->mslot].at = 0;
		g->count[go->cslot].at = 0;
	}
	g->n = 0;
	g->nidem = 0;
	g->hot = false;
	g->tickets = NULL;
	store_batch_clear(g->wb);
}

void ledger_group_free(ledger *l)
{
	struct commit *c = &l->commit;
	for (int i = 0; i < 2; i++) {
		group *g = &c->grp[i];
		if (!g->ops)
			continue;
		for (size_t j = 0; j < g->n; j++)
			free(g->ops[j].op.counter);
		for (ledger_ticket *t = g->tickets; t; t = t->next)
			atomic_store_explicit(&t->state, ERR_CLOSED, memory_order_release);
		free(g->ops);
		free(g->per_part);
		free(g->head);
		free(g->tail);
		free(g->apart);
		free(g->rec);
		store_batch_free(g->wb);
		memset(g, 0, sizeof *g);
	}
	c->g = c->gc = NULL;
	free(c->next_opno);
	c->next_opno = NULL;
	bloom_free(&c->members);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->done);
}

/* A hash of "a 0 b" (a user and an idempotency key). */
static uint64_t hash2(const char *a, const char *b)
{
	char k[KEY_MAX + IDEM_KEY_MAX + 8];
	size_t al = strlen(a), bl = strlen(b);
	if (al + bl + 1 > sizeof k)
		return XXH3_64bits(a, al) ^ XXH3_64bits(b, bl);
	memcpy(k, a, al + 1);
	memcpy(k + al + 1, b, bl);
	return XXH3_64bits(k, al + 1 + bl);
}

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
	store_iter *it = store_iter_new(l->db, ekey_prefix(EKEY_MEMBER), 1);
	const char *k, *v;
	size_t kn, vn;
	while (store_iter_next(it, &k, &kn, &v, &vn))
		bloom_add(members, k, kn);
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc)
		return rc;
	log_info("membership filter loaded", "records=%" PRIu64 " filter_bytes=%zu ms=%" PRIu64,
	         members->added, bloom_bytes(members), clock_mono_ms() - t0);
	return 0;
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

int ledger_member(ledger *l, const char *counter, const char *item, const char *user, int *state)
{
	char mkey[KEY_MAX];
	if (strlen(counter) > COUNTER_MAX || strlen(item) > ITEM_MAX || strlen(user) > USER_MAX)
		return ERR_INVAL;
	size_t mkn = ekey_member(mkey, counter, item, user);
	uint64_t stamp;
	return member_read(l, mkey, mkn, state, &stamp);
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
	s->op = ledger_op_make(o->counter, o->item, o->user, cl, il, ul);
	s->op.kind = o->sum || o->add ? WIRE_ADD : WIRE_REMOVE;
	s->op.sum = o->sum;
	s->op.n = o->sum ? o->n : 1;
	s->bytes = (uint32_t)ledger_op_size(cl, il, ul);
	ledger_pair_make(&s->pk, o->counter, cl, o->item, il, l->o.partitions);
	if (s->set) {
		s->mkn = ekey_member(s->mkey, o->counter, o->item, o->user);
		s->mhash = XXH3_64bits(s->mkey, s->mkn);
	}
	return true;
}

/* The membership of the set op at i, after the ops before it in this call,
 * else in the group, else in the store (as preread found it, if fresh),
 * and the clock of the op that set it. */
static int state_before(ledger *l, const ledger_op *ops, staged *sg, size_t i, bool fresh,
                        int *state, uint64_t *stamp)
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
	 * the store's state. */
	group *gs2[2] = {l->commit.g, l->commit.gc};
	for (int k = 0; k < 2 && gs2[k]; k++) {
		group *g = gs2[k];
		const group_slot *gs =
		    &g->member[slot_find(g, g->member, sg[i].mhash, &sg[i].op, true)];
		if (gs->at) {
			const pend_op *o = &g->ops[gs->at - 1].op;
			*state = o->kind == WIRE_ADD;
			*stamp = o->hlc;
			return 0;
		}
	}
	int rc = 0;
	if (fresh && sg[i].mread) {
		*state = sg[i].mstate;
		*stamp = sg[i].mstamp;
	} else {
		rc = member_read(l, sg[i].mkey, sg[i].mkn, state, stamp);
	}
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
		g->apart[p] = !l->outbox.parts[p].seq_known;
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

/* --- commit ----------------------------------------------------------------- */

/* Puts each set op's membership ('M': add or remove, and its clock)
 * into g's store batch, in staging order so that a later op on a pair
 * wins, and into the membership filter: before the write, so that
 * "absent" stays true; should the write fail, the filter only holds a
 * few more absent keys, which cost a store read each later. Until the
 * write, stagers find these memberships in the group's index. */
static void group_members(ledger *l, group *g)
{
	char mkey[KEY_MAX];
	unsigned char buf[9];
	for (size_t i = 0; i < g->n; i++) {
		const pend_op *op = &g->ops[i].op;
		if (op->sum)
			continue;
		size_t mkn = ekey_member(mkey, op->counter, op->item, op->user);
		buf[0] = op->kind == WIRE_ADD ? 1 : 0;
		store_put_u64(buf + 1, op->hlc);
		store_batch_put(g->wb, mkey, mkn, buf, 9);
		bloom_add(&l->commit.members, mkey, mkn);
	}
}

/* Puts g's records into its store batch: the memberships
 * (group_members), and one group record holding, per partition it
 * touched, the partition's staged ops in opno order; but a partition
 * that cannot seal yet (g->apart, set at staging: it waits for a
 * checkpoint) gets a run record of its own, so that its wait does not
 * keep the other partitions' sealed ops on disk. One put per group, where
 * a record per partition cost a put per partition at the commit and a
 * delete per partition at the seals. g->gno is set; g is not changed
 * meanwhile, and one group_record runs at a time (the commit thread's
 * gc, or ledger_group_commit once gc is NULL), so the mutex need not be
 * held. */
static void group_record(ledger *l, group *g)
{
	group_members(l, g);
	unsigned char *buf = g->rec;
	size_t len = GREC_HEAD;
	uint32_t parts = 0;
	for (size_t i = 0; i < g->n; i++) {
		uint32_t p = g->ops[i].p;
		if (g->head[p] != i + 1 || g->apart[p])
			continue;
		store_put_u32(buf + len, p);
		store_put_u64(buf + len + 4, g->ops[i].op.opno);
		store_put_u32(buf + len + 12, g->per_part[p]);
		len += GREC_PART_HEAD;
		for (uint32_t at = g->head[p]; at; at = g->ops[at - 1].next)
			len += ledger_op_encode(&g->ops[at - 1].op, buf + len);
		parts++;
	}
	char key[EKEY_PART_SEQ_LEN];
	if (parts) {
		buf[0] = GREC_FORMAT;
		store_put_u32(buf + 1, parts);
		store_batch_put(g->wb, key, ekey_group(key, g->gno), buf, len);
	}
	/* The runs, each built after the group record (the put copies). */
	for (size_t i = 0; i < g->n; i++) {
		uint32_t p = g->ops[i].p;
		if (g->head[p] != i + 1 || !g->apart[p])
			continue;
		unsigned char *run = buf + len;
		size_t rn = RUN_HEAD;
		for (uint32_t at = g->head[p]; at; at = g->ops[at - 1].next)
			rn += ledger_op_encode(&g->ops[at - 1].op, run + rn);
		ledger_run_head(run, g->per_part[p]);
		store_batch_put(g->wb, key, ekey_part_seq(key, EKEY_RUN, p, g->ops[i].op.opno), run,
		                rn);
	}
}

/* Adds the written op at i of g to the overlay of its stripe vs (held,
 * with the writer mutex). */
static void overlay_op(vstripe *vs, const group *g, size_t i)
{
	const group_op *go = &g->ops[i];
	const pend_op *op = &go->op;
	char key[EKEY_PAIR_MAX];
	size_t kn = ekey_pair(key, op->counter, strlen(op->counter), op->item, strlen(op->item));
	ledger_overlay_add_h(vs, key, kn, (uint32_t)g->count[go->cslot].hash,
	                     ledger_op_delta(op->kind, op->n, op->counts));
}

/* Every written op of g into the overlay, each stripe taken once, in
 * turn: an item's ops are all in its stripe, so a reader sees all of
 * them or none. Then finished moves, with the writer mutex still held,
 * so a stager that read a count while the stripes took the ops finds it
 * moved and reads again (ledger_stage_ops). */
static void group_overlay(ledger *l, const group *g)
{
	/* The ops sorted by stripe in one pass (a counting sort), each
	 * stripe's in staging order. */
	uint32_t nst = l->view.n;
	uint16_t at[LEDGER_GROUP_OPS];
	uint8_t st[LEDGER_GROUP_OPS];
	size_t first[LEDGER_VIEW_STRIPES + 1] = {0}, fill[LEDGER_VIEW_STRIPES];
	for (size_t i = 0; i < g->n; i++) {
		st[i] = (uint8_t)(g->ops[i].p % nst);
		first[st[i] + 1]++;
	}
	for (uint32_t s = 0; s < nst; s++)
		first[s + 1] += first[s];
	memcpy(fill, first, nst * sizeof *fill);
	for (size_t i = 0; i < g->n; i++)
		at[fill[st[i]]++] = (uint16_t)i;
	for (uint32_t s = 0; s < nst; s++) {
		if (first[s] == first[s + 1])
			continue;
		vstripe *vs = &l->view.s[s];
		ledger_vlock_stripe(l, vs);
		for (size_t k = first[s]; k < first[s + 1]; k++)
			overlay_op(vs, g, at[k]);
		ledger_vunlock(l, vs);
	}
	atomic_fetch_add_explicit(&l->commit.finished, 1, memory_order_release);
}

/* Hands the written op at i of g, in the overlay already, to its open
 * batch (the outbox; when it is the partition's first, it starts a
 * stretch of the group record grec, or of its partition's run). The
 * writer mutex held. */
static void commit_op(ledger *l, group *g, size_t i, pend_rec *grec, uint64_t wall_ms)
{
	group_op *go = &g->ops[i];
	pend_op *op = &go->op;
	l->commit.next_opno[go->p] = op->opno + 1;
	if (op->counts)
		l->st.ops_accepted++;
	else
		l->st.ops_duplicate++;
	op_run run = {0};
	if (g->head[go->p] == i + 1) {
		pend_rec *rec = grec;
		if (g->apart[go->p]) {
			char key[EKEY_PART_SEQ_LEN];
			rec = ledger_outbox_record(
			    key, ekey_part_seq(key, EKEY_RUN, go->p, op->opno), g->per_part[go->p]);
		}
		run = (op_run){rec, g->per_part[go->p]};
	}
	ledger_outbox_append(l, go->p, op, go->bytes, run, wall_ms);
}

/* The hot-items sketch learns written g's accepted ops. It has a lock of
 * its own: the commit thread calls this with the writer mutex let go (g
 * does not change meanwhile), then sets g->hot so group_finish does not
 * again. */
static void group_hot(ledger *l, group *g)
{
	uint64_t now_ms = l->o.tm ? clock_mono_ms() : 0;
	for (size_t i = 0; i < g->n; i++) {
		const pend_op *op = &g->ops[i].op;
		if (op->counts)
			telemetry_accepted(l->o.tm, op->counter, strlen(op->counter), op->item,
			                   strlen(op->item), op->n, now_ms);
	}
	g->hot = true;
}

/* g's store write; the mutex need not be held (g's batch is the writer's
 * alone), and is not on the commit thread. Its wall time goes to
 * store_commit_duration_seconds (when it succeeds) and to *ns. */
static int group_write(ledger *l, group *g, uint64_t *ns)
{
	FAILPOINT("group.staged");
	uint64_t t0 = clock_mono_ns();
	int rc = store_write(l->db, g->wb);
	*ns = clock_mono_ns() - t0;
	if (rc == 0) {
		telemetry_group_written(l->o.tm, *ns);
		FAILPOINT("group.written");
	}
	return rc;
}

#define WAKE_MAX 64 /* distinct wakes called per group; more: each at once */

/* The distinct wakes of a group's tickets, to be called once each. */
typedef struct wake_list {
	struct {
		void (*fn)(void *);
		void *ctx;
	} w[WAKE_MAX];
	size_t n;
} wake_list;

static void wakes_call(const wake_list *wl)
{
	for (size_t i = 0; i < wl->n; i++)
		wl->w[i].fn(wl->w[i].ctx);
}

/* The partitions whose open batch a group filled: sealed once the group
 * is finished (a seal lets the mutex go, which group_finish may not). */
typedef struct full_list {
	uint32_t p[LEDGER_GROUP_OPS];
	size_t n;
} full_list;

static void seal_full(ledger *l, const full_list *fl, uint64_t wall_ms)
{
	for (size_t i = 0; i < fl->n; i++)
		ledger_outbox_seal_full(l, fl->p[i], wall_ms);
}

/* After g's write (rc): its ops into the overlay and the open batches,
 * its tickets resolved and their wakes put in *wl for the caller to call
 * (the commit thread calls them with the mutex let go, as a wake is a
 * system call), the partitions it filled a batch of put in *fl for the
 * caller to seal, g emptied. Mutex held. */
static void group_finish(ledger *l, group *g, int rc, uint64_t wall_ms, wake_list *wl,
                         full_list *fl)
{
	l->st.commits++;
	if (rc) {
		l->st.commits_failed++;
		telemetry_refused(l->o.tm, TM_REFUSED_STORE, g->n);
		for (size_t i = 0; i < g->n; i++)
			free(g->ops[i].op.counter);
	} else {
		if (!g->hot)
			group_hot(l, g);
		/* The group's ops join the overlay for readers; the open
		 * batches are the writer's alone (mu). */
		group_overlay(l, g);
		/* The group record holds the ops of every partition not apart. */
		uint32_t in_grec = 0;
		for (size_t i = 0; i < g->n; i++)
			in_grec += !g->apart[g->ops[i].p];
		char key[EKEY_GROUP_LEN];
		pend_rec *grec = NULL;
		if (in_grec)
			grec = ledger_outbox_record(key, ekey_group(key, g->gno), in_grec);
		for (size_t i = 0; i < g->n; i++)
			commit_op(l, g, i, grec, wall_ms);
	}
	wl->n = 0;
	for (ledger_ticket *t = g->tickets, *next; t; t = next) {
		/* Read before the release: from then on the ticket is the
		 * staging thread's again, and may be reused. */
		next = t->next;
		void (*fn)(void *) = t->wake;
		void *ctx = t->wake_ctx;
		atomic_store_explicit(&t->state, rc ? rc : LEDGER_DURABLE, memory_order_release);
		if (!l->commit.async || !fn)
			continue;
		size_t w = 0;
		while (w < wl->n && (wl->w[w].fn != fn || wl->w[w].ctx != ctx))
			w++;
		if (w < wl->n)
			continue;
		if (wl->n < WAKE_MAX) {
			wl->w[wl->n].fn = fn;
			wl->w[wl->n++].ctx = ctx;
		} else {
			fn(ctx);
		}
	}
	/* Partitions that filled a batch, each once; the reset below needs
	 * the ops' partitions. */
	fl->n = 0;
	for (size_t i = 0; i < g->n && !rc; i++) {
		uint32_t p = g->ops[i].p;
		if (g->head[p] == i + 1 && ledger_outbox_full(l, p))
			fl->p[fl->n++] = p;
	}
	group_reset(g);
}

int ledger_group_commit(ledger *l, uint64_t wall_ms)
{
	struct commit *c = &l->commit;
	/* Groups reach the store in the order they were staged. */
	while (c->gc)
		ledger_wait(l, &c->done);
	group *g = c->g;
	if (!g->n)
		return 0;
	g->gno = c->next_gno++;
	group_record(l, g);
	uint64_t ns;
	int rc = group_write(l, g, &ns);
	wake_list wl;
	full_list fl;
	group_finish(l, g, rc, wall_ms, &wl, &fl);
	/* Rare with the commit thread (a full group, a retry, a drain):
	 * these wakes go under the mutex. */
	wakes_call(&wl);
	seal_full(l, &fl, wall_ms);
	return rc;
}

/* The commit thread: takes the open group as gc when asked, writes it
 * outside the mutex while writes stage into the other one, then finishes
 * it under the mutex. */
static void *committer(void *arg)
{
	ledger *l = arg;
	struct commit *c = &l->commit;
	ledger_lock(l);
	for (;;) {
		while (!c->stopping && !(c->asked && c->g->n))
			ledger_wait(l, &c->work);
		if (c->stopping)
			break;
		c->asked = false;
		group *g = c->g;
		c->gc = g;
		c->g = g == &c->grp[0] ? &c->grp[1] : &c->grp[0];
		g->gno = c->next_gno++;
		ledger_unlock(l);
		/* Building the records and writing them: the commit thread's
		 * serial work (commit_write), the test hook in between not.
		 * The thread's CPU clock is a system call, so it is read
		 * around the hook only when there is one. */
		uint64_t t0 = clock_mono_ns(), c0 = clock_thread_cpu_ns();
		group_record(l, g);
		uint64_t t1 = clock_mono_ns(), hook_cpu = 0;
		if (l->o.before_group_write) {
			uint64_t h0 = clock_thread_cpu_ns();
			l->o.before_group_write(l->o.hook_ctx);
			hook_cpu = clock_thread_cpu_ns() - h0;
		}
		uint64_t write_ns;
		int rc = group_write(l, g, &write_ns);
		uint64_t c1 = clock_thread_cpu_ns();
		if (rc == 0)
			group_hot(l, g);
		ledger_lock(l);
		l->st.commit_write_ns += (t1 - t0) + write_ns;
		l->st.commit_write_cpu_ns += c1 - c0 - hook_cpu;
		if (rc)
			log_error("group write failed; its writes answer 503", "ops=%zu err=\"%s\"",
			          g->n, err_str(rc));
		wake_list wl, wl_open = {.n = 0};
		full_list fl, fl_open;
		uint64_t wall_ms = clock_wall_ms();
		group_finish(l, g, rc, wall_ms, &wl, &fl);
		/* The open group was staged on top of this one: its writes
		 * took their memberships and counts from it (a repeat of a
		 * like in it is no change, an unlike of it takes one off).
		 * Written without it, they would record a member no op counts,
		 * or take off a like never recorded: it fails too. */
		if (rc && c->g->n)
			group_finish(l, c->g, rc, wall_ms, &wl_open, &fl_open);
		c->gc = NULL;
		/* The wakes and the broadcast are system calls: made with the
		 * mutex let go, so no write waits for them. */
		ledger_unlock(l);
		wakes_call(&wl);
		wakes_call(&wl_open);
		pthread_cond_broadcast(&c->done);
		ledger_lock(l);
		/* After the answers: the batches this group filled. */
		seal_full(l, &fl, wall_ms);
	}
	ledger_unlock(l);
	return NULL;
}

int ledger_committer_start(ledger *l)
{
	if (!l->o.commit_thread)
		return 0;
	if (pthread_create(&l->commit.thread, NULL, committer, l) != 0)
		return ERR_IO;
	l->commit.async = true;
	return 0;
}

void ledger_stop_commits(ledger *l)
{
	struct commit *c = &l->commit;
	if (c->async) {
		ledger_lock(l);
		c->stopping = true;
		pthread_cond_signal(&c->work);
		ledger_unlock(l);
		pthread_join(c->thread, NULL);
		ledger_lock(l);
		c->async = false;
		ledger_unlock(l);
	}
}

int ledger_commit(ledger *l, uint64_t wall_ms)
{
	struct commit *c = &l->commit;
	ledger_lock(l);
	int rc = 0;
	bool ask = false;
	if (c->async && c->g->n)
		ask = c->asked = true;
	else if (!c->async)
		rc = ledger_group_commit(l, wall_ms);
	ledger_unlock(l);
	/* Signalled with the mutex let go (the thread checks what it waits
	 * for under the mutex, so no signal is lost). */
	if (ask)
		pthread_cond_signal(&c->work);
	return rc;
}

int ledger_commit_now(ledger *l, uint64_t wall_ms)
{
	ledger_lock(l);
	int rc = ledger_group_commit(l, wall_ms);
	ledger_unlock(l);
	return rc;
}

bool ledger_commits_async(const ledger *l)
{
	return l->commit.async;
}

/* --- entry points ----------------------------------------------------------- */

static uint64_t idem_hash(const idem_req *r)
{
	return hash2(r->user, r->key);
}

static bool idem_staged(const group *g, uint64_t h)
{
	for (size_t i = 0; i < g->nidem; i++)
		if (g->idem[i] == h)
			return true;
	return false;
}

static int replay_lookup(ledger *l, const ledger_idem *idem, uint64_t wall_ms, ledger_replay *r)
{
	int rc = idem_lookup(l->db, &idem->req, wall_ms, &r->status, &r->body, &r->len);
	if (rc == 0) {
		r->replayed = true;
		l->st.ops_replayed++;
	}
	return rc == ERR_INVAL ? ERR_CONFLICT : rc;
}

int ledger_stage_ops(ledger *l, const ledger_op *ops, size_t n, uint64_t wall_ms,
                     ledger_answer *answers, const ledger_idem *idem, ledger_replay *replay,
                     ledger_ticket *t)
{
	struct commit *c = &l->commit;
	if (replay)
		memset(replay, 0, sizeof *replay);
	if (t) {
		atomic_store_explicit(&t->state, LEDGER_UNSTAGED, memory_order_relaxed);
		t->next = NULL;
	}
	if (!n || n > LEDGER_GROUP_OPS || (idem && !replay))
		return ERR_INVAL;
	/* A single like (the common call) stages on the stack. */
	staged one[STAGE_ON_STACK];
	staged *sg = n <= STAGE_ON_STACK ? one : xmalloc(n * sizeof *sg);
	int rc = 0;
	char *rendered = NULL;
	size_t made = 0;
	for (; made < n; made++)
		if (!prepare(l, &ops[made], &sg[made]))
			break;
	for (size_t i = made; i < n; i++)
		sg[i].op.counter = NULL;
	if (made < n) {
		rc = ERR_INVAL;
		goto done;
	}
	memset(answers, 0, n * sizeof *answers);
	/* The store and view reads before the mutex, so that no other write
	 * waits for them; checked under it against commit.finished. */
	uint64_t seen = atomic_load_explicit(&c->finished, memory_order_acquire);
	for (size_t i = 0; i < n; i++)
		preread(l, &sg[i]);
	if (l->o.after_preread)
		l->o.after_preread(l->o.hook_ctx);
	ledger_lock(l);
	uint64_t ih = idem ? idem_hash(&idem->req) : 0;
	/* A full group, or one holding a record for this key (a retry faster
	 * than a loop turn), is written first: the retry must see it. The
	 * same for the group the commit thread is writing. */
	for (;;) {
		while (idem && c->gc && idem_staged(c->gc, ih))
			ledger_wait(l, &c->done);
		if (c->g->n + n <= LEDGER_GROUP_OPS &&
		    !(idem && (c->g->nidem == GROUP_IDEM || idem_staged(c->g, ih))))
			break;
		/* Its tickets carry the outcome. It lets the mutex go (a wait,
		 * a seal), so other writes may have staged meanwhile: check
		 * again. */
		(void)ledger_group_commit(l, wall_ms);
	}
	/* Only now: waiting for the commit thread may have swapped groups. */
	group *g = c->g;
	if (idem) {
		rc = replay_lookup(l, idem, wall_ms, replay);
		if (rc == ERR_CONFLICT)
			telemetry_refused(l->o.tm, TM_REFUSED_CONFLICT, n);
		else if (rc && rc != ERR_NOTFOUND)
			telemetry_refused(l->o.tm, TM_REFUSED_STORE, n);
		if (rc != ERR_NOTFOUND)
			goto out; /* replayed (0), a conflict, or the store failed */
		rc = 0;
	}
	if (l->st.pending_bytes >= l->o.budget_bytes) {
		l->st.ops_refused_budget += n;
		telemetry_refused(l->o.tm, TM_REFUSED_BUDGET, n);
		rc = ERR_FULL;
		goto out;
	}
	hlc saved = c->clock;
	bool fresh = atomic_load_explicit(&c->finished, memory_order_relaxed) == seen;
	for (size_t i = 0; i < n && !rc; i++)
		rc = stage(l, ops, sg, i, fresh, wall_ms, &answers[i]);
	if (rc) {
		if (rc == ERR_IO)
			telemetry_refused(l->o.tm, TM_REFUSED_STORE, n);
		c->clock = saved;
		goto out;
	}
	if (idem && idem->render) {
		size_t rlen = 0;
		rendered = idem->render(idem->ctx, answers, n, &rlen);
		idem_batch_put(g->wb, &idem->req, 200, rendered, rlen);
		g->idem[g->nidem++] = ih;
	}
	for (size_t i = 0; i < n; i++)
		group_add(l, &sg[i]);
	if (t) {
		atomic_store_explicit(&t->state, LEDGER_STAGED, memory_order_relaxed);
		t->next = g->tickets;
		g->tickets = t;
	} else {
		/* Written now, with a ticket of its own: should the group being
		 * written fail meanwhile, the commit thread fails this group too
		 * (it was staged on top of that one), and only the ticket
		 * says so. */
		ledger_ticket own = {.state = LEDGER_STAGED, .next = g->tickets};
		g->tickets = &own;
		(void)ledger_group_commit(l, wall_ms);
		int st = ledger_ticket_state(&own);
		rc = st == LEDGER_DURABLE ? 0 : st;
	}
out:
	ledger_unlock(l);
	if (l->o.after_stage && ledger_ticket_staged(t))
		l->o.after_stage(l->o.hook_ctx);
	free(rendered);
done:
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
