/* ledger_group.c - the groups of group commit (commit_int.h): the open
 * group writes stage into and its indexes, the groups in flight and the
 * order they were taken in (the send turn), the pending ops' records
 * each group writes ('G' group records, 'P' runs for a partition waiting
 * for its checkpoint, in the formats records.c encodes), op numbers and
 * the clock, and a written group's finish: its ops into the overlay (the
 * view) and their open batches (the outbox), its tickets resolved.
 *
 * Owns struct commit, given at init what it reads and changes below it
 * (the options, the view, the outbox, the membership filter): its
 * functions take struct commit, never struct ledger. Under the writer
 * mutex, but where a function says otherwise (a group in flight builds
 * its records with the mutex let go, in the send turn). Taking a group
 * into flight, its copy and its write, and every wait on the writer
 * mutex are ledger_commit.c's, a layer up; a write's staging
 * (ledger_stage.c) and the home stream (ledger_home.c) come in through
 * the functions here.
 */
#include "edge/ledger/commit_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "clock.h"
#include "failpoint.h"
#include "log.h"
#include "edge/telemetry/telemetry.h"
#include "xmem.h"

/* --- what recovery saw ------------------------------------------------------- */

void ledger_clock_seen(struct commit *c, uint64_t stamp)
{
	if (stamp > c->clock.last)
		c->clock.last = stamp;
}

void ledger_opno_seen(struct commit *c, uint32_t p, uint64_t opno)
{
	/* The last number is never given out (a corrupt key's): the next
	 * one would wrap to 0, below every sealed op. */
	if (opno == UINT64_MAX)
		return;
	if (opno >= c->next_opno[p])
		c->next_opno[p] = opno + 1;
}

void ledger_gno_seen(struct commit *c, uint64_t gno)
{
	if (gno >= c->next_gno)
		c->next_gno = gno + 1;
}

/* --- the group and its indexes ---------------------------------------------- */

void ledger_group_init(struct commit *c, const ledger_opts *o, struct view *v, struct outbox *ob,
                       struct members *m)
{
	c->o = o;
	c->view = v;
	c->outbox = ob;
	c->members = m;
	for (int i = 0; i < GROUPS_MAX; i++) {
		group *g = &c->grp[i];
		g->wb = store_batch_new();
		g->ops = xcalloc(LEDGER_GROUP_OPS, sizeof *g->ops);
		g->per_part = xcalloc(o->partitions, sizeof *g->per_part);
		g->head = xcalloc(o->partitions, sizeof *g->head);
		g->tail = xcalloc(o->partitions, sizeof *g->tail);
		g->apart = xcalloc(o->partitions, sizeof *g->apart);
		g->rec = xmalloc(GREC_MAX);
		g->gno = GROUP_UNNUMBERED;
	}
	c->g = &c->grp[0];
	c->nclosed = 0;
	c->nfly = 0;
	c->depth = 1;
	if (o->commit_thread && o->commit_depth > 1)
		c->depth = o->commit_depth < COMMIT_DEPTH_MAX ? o->commit_depth : COMMIT_DEPTH_MAX;
	pthread_mutex_init(&c->turn_mu, NULL);
	pthread_cond_init(&c->turn_cv, NULL);
	c->next_opno = xcalloc(o->partitions, sizeof *c->next_opno);
	hlc_init(&c->clock);
}

/* Nothing to write: no op, no home put, and nobody waits on it (a home
 * position alone has its caller's ticket). */
static bool group_empty(const group *g)
{
	return !g->n && !g->nhomes && !g->tickets;
}

bool ledger_group_empty(const struct commit *c)
{
	return group_empty(c->g);
}

size_t ledger_group_nops(const struct commit *c)
{
	return c->g->n;
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
	for (size_t i = 0; i < g->nidem; i++)
		free(g->idem_answer[i]);
	g->nidem = 0;
	g->nhomes = 0;
	g->marks = false;
	g->hot = false;
	g->tickets = NULL;
	g->gno = GROUP_UNNUMBERED;
	g->gen++;
	store_batch_clear(g->wb);
}

void ledger_group_free(struct commit *c)
{
	for (int i = 0; i < GROUPS_MAX; i++) {
		group *g = &c->grp[i];
		if (!g->ops)
			continue;
		for (size_t j = 0; j < g->n; j++)
			free(g->ops[j].op.counter);
		for (size_t j = 0; j < g->nidem; j++)
			free(g->idem_answer[j]);
		for (ledger_ticket *t = g->tickets; t; t = t->next)
			atomic_store_explicit(&t->state, ERR_CLOSED, memory_order_release);
		free(g->ops);
		free(g->per_part);
		free(g->head);
		free(g->tail);
		free(g->apart);
		free(g->rec);
		free(g->homes);
		store_batch_free(g->wb);
		memset(g, 0, sizeof *g);
	}
	c->g = NULL;
	c->nclosed = 0;
	c->nfly = 0;
	free(c->next_opno);
	c->next_opno = NULL;
	pthread_mutex_destroy(&c->turn_mu);
	pthread_cond_destroy(&c->turn_cv);
}

void ledger_group_stats(const struct commit *c, ledger_stats *out)
{
	out->ops_accepted = c->st.ops_accepted;
	out->ops_duplicate = c->st.ops_duplicate;
	out->commits = c->st.commits;
	out->commits_failed = c->st.commits_failed;
	out->commit_write_ns = c->st.commit_write_ns;
	out->commit_write_cpu_ns = c->st.commit_write_cpu_ns;
}

/* The groups stagers look up, newest first: the open one, the closed
 * ones, then those in flight that are not doomed. Fills gs
 * (GROUPS_MAX); how many. */
static size_t groups_live(const struct commit *c, const group **gs)
{
	size_t n = 0;
	gs[n++] = c->g;
	for (size_t i = c->nclosed; i-- > 0;)
		gs[n++] = c->closed[i];
	for (size_t i = c->nfly; i-- > 0;)
		if (!c->fly[i]->doom)
			gs[n++] = c->fly[i];
	return n;
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

/* The group's home_put of mkey (the last one put), or NULL. */
static const home_put *home_find(const group *g, const char *mkey, size_t mkn, uint64_t mhash)
{
	for (size_t i = g->nhomes; i-- > 0;) {
		const home_put *h = &g->homes[i];
		if (h->mhash == mhash && h->mkn == mkn && memcmp(h->mkey, mkey, mkn) == 0)
			return h;
	}
	return NULL;
}

bool ledger_group_newest(const struct commit *c, const pend_op *probe, uint64_t mhash,
                         const char *mkey, size_t mkn, const pend_op **op, const home_put **hp)
{
	const group *live[GROUPS_MAX];
	size_t ng = groups_live(c, live);
	for (size_t k = 0; k < ng; k++) {
		const group *g = live[k];
		const group_slot *gs = &g->member[slot_find(g, g->member, mhash, probe, true)];
		*op = gs->at ? &g->ops[gs->at - 1].op : NULL;
		*hp = *op ? NULL : home_find(g, mkey, mkn, mhash);
		if (*op || *hp)
			return true;
	}
	return false;
}

int64_t ledger_groups_delta(const struct commit *c, uint64_t h, const pend_op *probe)
{
	const group *live[GROUPS_MAX];
	size_t ng = groups_live(c, live);
	int64_t plus = 0;
	for (size_t k = 0; k < ng; k++) {
		const group *g = live[k];
		const group_slot *gs = &g->count[slot_find(g, g->count, h, probe, false)];
		if (gs->at)
			plus += gs->delta;
	}
	return plus;
}

uint64_t ledger_groups_next_opno(const struct commit *c, uint32_t p)
{
	const group *live[GROUPS_MAX];
	size_t ng = groups_live(c, live);
	uint64_t opno = c->next_opno[p];
	for (size_t k = 0; k < ng; k++)
		opno += live[k]->per_part[p];
	return opno;
}

void ledger_group_add(struct commit *c, pend_op *op, uint32_t p, uint32_t bytes, uint64_t pair_h,
                      bool set, uint64_t mhash)
{
	group *g = c->g;
	uint32_t at = (uint32_t)g->n + 1;
	group_op *go = &g->ops[g->n++];
	go->op = *op;
	go->p = p;
	go->bytes = bytes;
	go->next = 0;
	if (g->tail[p]) {
		g->ops[g->tail[p] - 1].next = at;
	} else {
		g->head[p] = at;
		g->apart[p] = !ledger_outbox_can_seal(c->outbox, p);
	}
	g->tail[p] = at;
	op->counter = NULL; /* the group owns the strings now */
	g->per_part[p]++;
	size_t cs = slot_find(g, g->count, pair_h, &go->op, false);
	if (!g->count[cs].at)
		g->count[cs] = (group_slot){.hash = pair_h, .at = at, .delta = 0};
	g->count[cs].delta += ledger_op_delta(go->op.kind, go->op.n, go->op.counts);
	go->cslot = (uint16_t)cs;
	/* A sum op has no pair and takes no member slot; clearing slot 0 at
	 * the reset is harmless, as every slot is cleared then. */
	go->mslot = 0;
	if (set) {
		size_t ms = slot_find(g, g->member, mhash, &go->op, true);
		g->member[ms] = (group_slot){.hash = mhash, .at = at};
		go->mslot = (uint16_t)ms;
	}
}

void ledger_group_idem(struct commit *c, const idem_req *req, char *answer, size_t len, uint64_t ih)
{
	group *g = c->g;
	idem_batch_put(g->wb, req, 200, answer, len);
	g->idem[g->nidem] = ih;
	g->idem_fp[g->nidem] = req->fingerprint;
	g->idem_answer[g->nidem] = answer;
	g->idem_len[g->nidem++] = len;
}

void ledger_group_ticket(struct commit *c, ledger_ticket *t)
{
	t->next = c->g->tickets;
	c->g->tickets = t;
}

void ledger_group_marks(struct commit *c)
{
	c->g->marks = true;
}

void ledger_group_home(struct commit *c, const home_put *h)
{
	group *g = c->g;
	if (g->nhomes == g->homes_cap) {
		g->homes_cap = g->homes_cap ? 2 * g->homes_cap : 16;
		g->homes = xrealloc(g->homes, g->homes_cap * sizeof *g->homes);
	}
	g->homes[g->nhomes++] = *h;
}

void ledger_group_put(struct commit *c, const char *k, size_t kn, const void *v, size_t vn,
                      bool filter)
{
	if (filter)
		ledger_members_add(c->members, k, kn);
	store_batch_put(c->g->wb, k, kn, v, vn);
}

void ledger_clock_observe(struct commit *c, uint64_t stamp, uint64_t wall_ms)
{
	(void)hlc_observe(&c->clock, stamp, wall_ms);
}

uint64_t ledger_clock_stamp(struct commit *c, uint64_t seen, uint64_t wall_ms)
{
	return seen ? hlc_observe(&c->clock, seen, wall_ms) : hlc_now(&c->clock, wall_ms);
}

/* --- commit ----------------------------------------------------------------- */

/* Puts each set op's membership ('M': add or remove, and its clock)
 * into g's store batch, in staging order so that a later op on a pair
 * wins, and into the membership filter: before the write, so that
 * "absent" stays true; should the write fail, the filter only holds a
 * few more absent keys, which cost a store read each later. Until the
 * write, stagers find these memberships in the group's index. */
static void group_members(struct commit *c, group *g)
{
	char mkey[KEY_MAX];
	unsigned char buf[9];
	for (size_t i = 0; i < g->nhomes; i++) {
		const home_put *h = &g->homes[i];
		if (h->state == HOME_DROP) {
			store_batch_del(g->wb, h->mkey, h->mkn);
			continue;
		}
		buf[0] = h->state;
		store_put_u64(buf + 1, h->hlc);
		store_batch_put(g->wb, h->mkey, h->mkn, buf, 9);
		ledger_members_add(c->members, h->mkey, h->mkn);
	}
	for (size_t i = 0; i < g->n; i++) {
		const pend_op *op = &g->ops[i].op;
		if (op->sum)
			continue;
		size_t mkn = ekey_member(mkey, op->counter, op->item, op->user);
		buf[0] = op->kind == WIRE_ADD ? 1 : 0;
		store_put_u64(buf + 1, op->hlc);
		store_batch_put(g->wb, mkey, mkn, buf, 9);
		ledger_members_add(c->members, mkey, mkn);
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
 * meanwhile, and one group_record runs at a time (in the send turn, by
 * whichever thread took the group), so the mutex need not be held. */
void ledger_group_record(struct commit *c, group *g)
{
	group_members(c, g);
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
static void group_overlay(struct commit *c, const group *g)
{
	/* The ops sorted by stripe in one pass (a counting sort), each
	 * stripe's in staging order. */
	uint32_t nst = ledger_view_nstripes(c->view);
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
		vstripe *vs = ledger_view_stripe_at(c->view, s);
		ledger_vlock_stripe(c->view, vs);
		for (size_t k = first[s]; k < first[s + 1]; k++)
			overlay_op(vs, g, at[k]);
		ledger_vunlock(c->view, vs);
	}
	uint64_t f = atomic_fetch_add_explicit(&c->finished, 1, memory_order_release) + 1;
	size_t r = f % IDEM_RECENT;
	c->idem_recent[r].finished = f;
	c->idem_recent[r].n = g->nidem;
	memcpy(c->idem_recent[r].h, g->idem, g->nidem * sizeof *g->idem);
	size_t m = f % MEMBER_RECENT;
	uint64_t *bits = c->member_recent[m].bits;
	memset(bits, 0, sizeof c->member_recent[m].bits);
	for (size_t i = 0; i < g->n; i++) {
		if (g->ops[i].op.sum)
			continue;
		uint64_t h = g->member[g->ops[i].mslot].hash & (MEMBER_BITS - 1);
		bits[h / 64] |= UINT64_C(1) << (h % 64);
	}
	for (size_t i = 0; i < g->nhomes; i++) {
		uint64_t h = g->homes[i].mhash & (MEMBER_BITS - 1);
		bits[h / 64] |= UINT64_C(1) << (h % 64);
	}
	c->member_recent[m].marks = g->marks;
	c->member_recent[m].finished = f;
}

/* Did a group that joined since seen write the member key hashed mhash
 * (marks: put a move's mark), as far as the filters tell? */
static bool joined_since(const struct commit *c, uint64_t seen, bool marks, uint64_t mhash)
{
	uint64_t now = atomic_load_explicit(&c->finished, memory_order_relaxed);
	if (now - seen > MEMBER_RECENT)
		return true;
	uint64_t h = mhash & (MEMBER_BITS - 1);
	for (uint64_t f = seen + 1; f <= now; f++) {
		size_t m = f % MEMBER_RECENT;
		if (c->member_recent[m].finished != f)
			return true;
		if (marks ? c->member_recent[m].marks
		          : (c->member_recent[m].bits[h / 64] & UINT64_C(1) << (h % 64)) != 0)
			return true;
	}
	return false;
}

bool ledger_marks_joined(const struct commit *c, uint64_t seen)
{
	return joined_since(c, seen, true, 0);
}

bool ledger_member_joined(const struct commit *c, uint64_t seen, uint64_t mhash)
{
	return joined_since(c, seen, false, mhash);
}

bool ledger_idem_joined(const struct commit *c, uint64_t seen, uint64_t ih)
{
	uint64_t now = atomic_load_explicit(&c->finished, memory_order_relaxed);
	if (now - seen > IDEM_RECENT)
		return true;
	for (uint64_t f = seen + 1; f <= now; f++) {
		size_t r = f % IDEM_RECENT;
		if (c->idem_recent[r].finished != f)
			return true;
		for (size_t i = 0; i < c->idem_recent[r].n; i++)
			if (c->idem_recent[r].h[i] == ih)
				return true;
	}
	return false;
}

/* Hands the written op at i of g, in the overlay already, to its open
 * batch (the outbox; when it is the partition's first, it starts a
 * stretch of the group record grec, or of its partition's run). The
 * writer mutex held. */
static void commit_op(struct commit *c, group *g, size_t i, pend_rec *grec, uint64_t wall_ms)
{
	group_op *go = &g->ops[i];
	pend_op *op = &go->op;
	c->next_opno[go->p] = op->opno + 1;
	if (op->counts)
		c->st.ops_accepted++;
	else
		c->st.ops_duplicate++;
	op_run run = {0};
	if (g->head[go->p] == i + 1) {
		pend_rec *rec = grec;
		if (g->apart[go->p]) {
			char key[EKEY_PART_SEQ_LEN];
			rec = ledger_outbox_record(c->outbox, key,
			                           ekey_part_seq(key, EKEY_RUN, go->p, op->opno),
			                           g->per_part[go->p]);
		}
		run = (op_run){rec, g->per_part[go->p]};
	}
	ledger_outbox_append(c->outbox, go->p, op, go->bytes, run, wall_ms);
}

/* The hot-items sketch learns written g's accepted ops. It has a lock of
 * its own: the commit thread calls this with the writer mutex let go (g
 * does not change meanwhile), then sets g->hot so group_finish does not
 * again. */
void ledger_group_hot(struct commit *c, group *g)
{
	uint64_t now_ms = c->o->tm ? clock_mono_ms() : 0;
	for (size_t i = 0; i < g->n; i++) {
		const pend_op *op = &g->ops[i].op;
		if (op->counts)
			telemetry_accepted(c->o->tm, op->counter, strlen(op->counter), op->item,
			                   strlen(op->item), op->n, now_ms);
	}
	g->hot = true;
}

void ledger_wakes_call(const wake_list *wl)
{
	for (size_t i = 0; i < wl->n; i++)
		wl->w[i].fn(wl->w[i].ctx);
}

/* After g's write (rc): its ops into the overlay and the open batches,
 * its tickets resolved and, with commit threads (async), their wakes
 * added to *wl for the caller to call (the commit thread calls them
 * with the mutex let go, as a wake is a system call), the partitions it
 * filled a batch of added to *fl for the caller to seal, g emptied.
 * Mutex held. */
static void group_finish(struct commit *c, group *g, int rc, uint64_t wall_ms, bool async,
                         wake_list *wl, full_list *fl)
{
	c->st.commits++;
	if (rc) {
		c->st.commits_failed++;
		/* Its number and its ops' numbers go to the next group: a
		 * record of it that reached the changelog after all (an append
		 * that timed out) is then overwritten there. Only a group that
		 * was numbered for this write gives its number back: the open
		 * group failed with the one written before it has none. */
		if (g->gno != GROUP_UNNUMBERED && c->next_gno == g->gno + 1)
			c->next_gno = g->gno;
		telemetry_refused(c->o->tm,
		                  rc == ERR_FENCED                       ? TM_REFUSED_NOT_ACTIVE
		                  : rc == ERR_TIMEOUT || rc == ERR_KAFKA ? TM_REFUSED_REPLICATION
		                                                         : TM_REFUSED_STORE,
		                  g->n);
		for (size_t i = 0; i < g->n; i++)
			free(g->ops[i].op.counter);
	} else {
		if (!g->hot)
			ledger_group_hot(c, g);
		/* The group's ops join the overlay for readers; the open
		 * batches are the writer's alone (mu). */
		group_overlay(c, g);
		/* The group record holds the ops of every partition not apart. */
		uint32_t in_grec = 0;
		for (size_t i = 0; i < g->n; i++)
			in_grec += !g->apart[g->ops[i].p];
		char key[EKEY_GROUP_LEN];
		pend_rec *grec = NULL;
		if (in_grec)
			grec =
			    ledger_outbox_record(c->outbox, key, ekey_group(key, g->gno), in_grec);
		for (size_t i = 0; i < g->n; i++)
			commit_op(c, g, i, grec, wall_ms);
	}
	for (ledger_ticket *t = g->tickets, *next; t; t = next) {
		/* Read before the release: from then on the ticket is the
		 * staging thread's again, and may be reused. */
		next = t->next;
		void (*fn)(void *) = t->wake;
		void *ctx = t->wake_ctx;
		atomic_store_explicit(&t->state, rc ? rc : LEDGER_DURABLE, memory_order_release);
		if (!async || !fn)
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
	for (size_t i = 0; i < g->n && !rc; i++) {
		uint32_t p = g->ops[i].p;
		if (g->head[p] == i + 1 && ledger_outbox_full(c->outbox, p))
			fl->p[fl->n++] = p;
	}
	group_reset(g);
}

/* A slot of grp[] neither open, closed nor in flight (there is one
 * while fewer than depth groups are in flight and fewer than
 * GROUP_CLOSED_MAX closed). */
static group *group_idle(struct commit *c)
{
	for (size_t i = 0; i < GROUPS_MAX; i++) {
		group *g = &c->grp[i];
		bool busy = g == c->g;
		for (size_t k = 0; k < c->nclosed && !busy; k++)
			busy = c->closed[k] == g;
		for (size_t k = 0; k < c->nfly && !busy; k++)
			busy = c->fly[k] == g;
		if (!busy)
			return g;
	}
	abort(); /* more in flight than depth, or closed than the most: a broken invariant */
}

void ledger_groups_mark(const struct commit *c, group_marks *m)
{
	m->n = 0;
	for (size_t i = 0; i < c->nfly; i++)
		m->g[m->n++] = c->fly[i];
	for (size_t i = 0; i < c->nclosed; i++)
		m->g[m->n++] = c->closed[i];
	if (!group_empty(c->g))
		m->g[m->n++] = c->g;
	for (size_t i = 0; i < m->n; i++)
		m->gen[i] = m->g[i]->gen;
}

int ledger_groups_marked(const struct commit *c, const group_marks *m)
{
	int left = MARKS_RESOLVED;
	for (size_t i = 0; i < m->n; i++) {
		const group *g = m->g[i];
		if (g->gen != m->gen[i])
			continue; /* resolved, and maybe open again as another group */
		if (g == c->g)
			return MARKS_WAITING;
		for (size_t k = 0; k < c->nclosed; k++)
			if (c->closed[k] == g)
				return MARKS_WAITING;
		left = MARKS_FLYING;
	}
	return left;
}

bool ledger_group_close(struct commit *c)
{
	if (c->nclosed == GROUP_CLOSED_MAX)
		return false;
	c->closed[c->nclosed++] = c->g;
	c->g = group_idle(c);
	return true;
}

/* A group may be taken now: fewer than depth in flight, and none
 * doomed (those staged on a failed group finish before anything staged
 * since is sent, so that their undoing in the copy reads a store that
 * no later group has written). mu held. */
bool ledger_group_can_take(const struct commit *c)
{
	return c->nfly < c->depth && !(c->nfly && c->fly[c->nfly - 1]->doom);
}

/* The send turn's mutex, as clang's thread safety analysis sees it. */
static void turn_lock(struct commit *c) TSA_ACQUIRE(c->turn_mu) TSA_NO_ANALYSIS
{
	pthread_mutex_lock(&c->turn_mu);
}

static void turn_unlock(struct commit *c) TSA_RELEASE(c->turn_mu) TSA_NO_ANALYSIS
{
	pthread_mutex_unlock(&c->turn_mu);
}

/* The send turn: returns once every group taken before g has sent its
 * copy; turn_pass hands it on. */
void ledger_turn_wait(struct commit *c, const group *g)
{
	turn_lock(c);
	while (c->sent != g->seq)
		pthread_cond_wait(&c->turn_cv, &c->turn_mu);
	turn_unlock(c);
}

void ledger_turn_pass(struct commit *c)
{
	turn_lock(c);
	c->sent++;
	turn_unlock(c);
	pthread_cond_broadcast(&c->turn_cv);
}

group *ledger_group_take(struct commit *c)
{
	group *g = c->nclosed ? c->closed[0] : c->g;
	c->fly[c->nfly++] = g;
	if (c->nclosed) {
		memmove(c->closed, c->closed + 1, (c->nclosed - 1) * sizeof *c->closed);
		c->nclosed--;
	} else {
		c->g = group_idle(c);
	}
	g->gno = c->next_gno++;
	g->doom = 0;
	g->seq = c->taken++;
	return g;
}

bool ledger_group_first(const struct commit *c, const group *g)
{
	return c->fly[0] == g;
}

int ledger_group_doom(const group *g)
{
	return g->doom;
}

store_batch *ledger_group_batch(const group *g)
{
	return g->wb;
}

void ledger_group_settle(struct commit *c, group *g, int rc, const group_end *e, bool async,
                         group_answers *out)
{
	c->st.commit_write_ns += e->write_ns;
	c->st.commit_write_cpu_ns += e->write_cpu_ns;
	bool own = rc && !g->doom; /* failed itself, not by the group it was staged on */
	if (own)
		log_error("group write failed; its writes answer 503", "ops=%zu err=\"%s\"", g->n,
		          err_str(rc));
	out->wl.n = out->fl.n = 0;
	out->wl_open.n = out->fl_open.n = 0;
	group_finish(c, g, rc, e->wall_ms, async, &out->wl, &out->fl);
	if (own) {
		/* The closed groups, the open one and the later ones in
		 * flight were staged on top of this one: their writes took
		 * their memberships and counts from it (a repeat of a like in
		 * it is no change, an unlike of it takes one off). Written
		 * without it, they would record a member no op counts, or
		 * take off a like never recorded: they fail too. Stagers no
		 * longer see the doomed ones, so what stages from now on
		 * rests on the store alone. */
		for (size_t i = 0; i < c->nclosed; i++)
			group_finish(c, c->closed[i], rc, e->wall_ms, async, &out->wl_open,
			             &out->fl_open);
		c->nclosed = 0;
		if (!group_empty(c->g))
			group_finish(c, c->g, rc, e->wall_ms, async, &out->wl_open, &out->fl_open);
		for (size_t i = 1; i < c->nfly; i++)
			c->fly[i]->doom = rc;
	}
	memmove(c->fly, c->fly + 1, (c->nfly - 1) * sizeof *c->fly);
	c->nfly--;
}

uint64_t ledger_idem_hash(const char *user, const char *key)
{
	char k[KEY_MAX + IDEM_KEY_MAX + 8];
	size_t ul = strlen(user), kl = strlen(key);
	if (ul + kl + 1 > sizeof k)
		return XXH3_64bits(user, ul) ^ XXH3_64bits(key, kl);
	memcpy(k, user, ul + 1);
	memcpy(k + ul + 1, key, kl);
	return XXH3_64bits(k, ul + 1 + kl);
}

static bool idem_staged(const group *g, uint64_t h)
{
	for (size_t i = 0; i < g->nidem; i++)
		if (g->idem[i] == h)
			return true;
	return false;
}

/* A group closed or in flight holds the idempotency key hashed h: the
 * group, or NULL. */
static group *idem_taken(const struct commit *c, uint64_t h)
{
	for (size_t i = 0; i < c->nclosed; i++)
		if (idem_staged(c->closed[i], h))
			return c->closed[i];
	for (size_t i = 0; i < c->nfly; i++)
		if (idem_staged(c->fly[i], h))
			return c->fly[i];
	return NULL;
}

bool ledger_idem_pending(const struct commit *c, uint64_t ih)
{
	return idem_taken(c, ih) || idem_staged(c->g, ih);
}

bool ledger_idem_in_flight(const struct commit *c, uint64_t ih)
{
	return idem_taken(c, ih) != NULL;
}

int ledger_group_follow(struct commit *c, uint64_t ih, uint64_t fp, ledger_ticket *t, char **answer,
                        size_t *len)
{
	group *g = idem_staged(c->g, ih) ? c->g : idem_taken(c, ih);
	if (!g)
		return ERR_NOTFOUND;
	size_t i = 0;
	while (g->idem[i] != ih)
		i++;
	if (g->idem_fp[i] != fp)
		return ERR_CONFLICT;
	*answer = xmalloc(g->idem_len[i] ? g->idem_len[i] : 1);
	if (g->idem_len[i])
		memcpy(*answer, g->idem_answer[i], g->idem_len[i]);
	*len = g->idem_len[i];
	/* On the group, doomed or not: its outcome is the first try's. */
	atomic_store_explicit(&t->state, LEDGER_STAGED, memory_order_relaxed);
	t->next = g->tickets;
	g->tickets = t;
	return 0;
}

bool ledger_group_fits(const struct commit *c, size_t n, bool idem, uint64_t ih)
{
	return c->g->n + n <= LEDGER_GROUP_OPS &&
	       !(idem && (c->g->nidem == GROUP_IDEM || idem_staged(c->g, ih)));
}
