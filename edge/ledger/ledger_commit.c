/* ledger_commit.c - group commit (ledger.h): the group commit that makes
 * a group's staged ops durable, the commit thread, and the pending ops'
 * records ('G' group records, 'P' runs for a partition waiting for its
 * checkpoint), built in the formats records.c encodes. The ops come into
 * the group from ledger_stage.c.
 *
 * Nothing a reader sees (overlay, open batches, stats) changes until the
 * group is written: the group is taken into flight (commit_taken: the one
 * way a group is written, by a commit thread or a caller of
 * ledger_group_commit), group_record puts each set op's membership record
 * and one group record (per partition, its chain's ops) into the group's
 * store batch, its copy goes to the changelog and it is written in one
 * store write, all with the mutex let go while writes stage into the next
 * group (and, with a pipelined copy, the next group's copy goes out
 * while this one's is acknowledged; groups are written in order); then every op
 * joins the overlay (the view, each stripe the group touched taken once)
 * and its open batch (the outbox), and the group's tickets are resolved.
 * A failed write drops the whole group: no op of it is recorded and every
 * ticket carries the error, and the groups staged on top of it (whose
 * writes looked it up: the open one, and those in flight after it) are
 * dropped too.
 *
 * Owns struct commit (commit_int.h: under the writer mutex; a group in
 * flight is built and sent with the mutex let go, one at a time in the
 * send turn), which ledger_stage.c stages
 * into.
 */
#include "edge/ledger/ledger_int.h"

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
	for (int i = 0; i < COMMIT_DEPTH_MAX + 1; i++) {
		group *g = &c->grp[i];
		g->wb = store_batch_new();
		g->ops = xcalloc(LEDGER_GROUP_OPS, sizeof *g->ops);
		g->per_part = xcalloc(l->o.partitions, sizeof *g->per_part);
		g->head = xcalloc(l->o.partitions, sizeof *g->head);
		g->tail = xcalloc(l->o.partitions, sizeof *g->tail);
		g->apart = xcalloc(l->o.partitions, sizeof *g->apart);
		g->rec = xmalloc(GREC_MAX);
		g->gno = GROUP_UNNUMBERED;
	}
	c->g = &c->grp[0];
	c->nfly = 0;
	c->depth = 1;
	if (l->o.commit_thread && l->o.commit_depth > 1)
		c->depth =
		    l->o.commit_depth < COMMIT_DEPTH_MAX ? l->o.commit_depth : COMMIT_DEPTH_MAX;
	pthread_mutex_init(&c->turn_mu, NULL);
	pthread_cond_init(&c->turn_cv, NULL);
	c->next_opno = xcalloc(l->o.partitions, sizeof *c->next_opno);
	hlc_init(&c->clock);
	pthread_cond_init(&c->work, NULL);
	pthread_cond_init(&c->done, NULL);
}

/* Nothing to write: no op, no home put, and nobody waits on it (a home
 * position alone has its caller's ticket). */
static bool group_empty(const group *g)
{
	return !g->n && !g->nhomes && !g->tickets;
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
	g->nhomes = 0;
	g->marks = false;
	g->hot = false;
	g->tickets = NULL;
	g->gno = GROUP_UNNUMBERED;
	store_batch_clear(g->wb);
}

void ledger_group_free(ledger *l)
{
	struct commit *c = &l->commit;
	for (int i = 0; i < COMMIT_DEPTH_MAX + 1; i++) {
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
		free(g->homes);
		store_batch_free(g->wb);
		memset(g, 0, sizeof *g);
	}
	c->g = NULL;
	c->nfly = 0;
	free(c->next_opno);
	c->next_opno = NULL;
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->turn_mu);
	pthread_cond_destroy(&c->turn_cv);
}

size_t ledger_groups_live(const ledger *l, const group **gs)
{
	const struct commit *c = &l->commit;
	size_t n = 0;
	gs[n++] = c->g;
	for (size_t i = c->nfly; i-- > 0;)
		if (!c->fly[i]->doom)
			gs[n++] = c->fly[i];
	return n;
}

/* commit_int.h */
void ledger_group_home(ledger *l, const home_put *h)
{
	group *g = l->commit.g;
	if (g->nhomes == g->homes_cap) {
		g->homes_cap = g->homes_cap ? 2 * g->homes_cap : 16;
		g->homes = xrealloc(g->homes, g->homes_cap * sizeof *g->homes);
	}
	g->homes[g->nhomes++] = *h;
}

/* commit_int.h */
void ledger_group_put(ledger *l, const char *k, size_t kn, const void *v, size_t vn, bool filter)
{
	if (filter)
		ledger_members_add(&l->members, k, kn);
	store_batch_put(l->commit.g->wb, k, kn, v, vn);
}

/* commit_int.h */
void ledger_clock_observe(ledger *l, uint64_t stamp, uint64_t wall_ms)
{
	(void)hlc_observe(&l->commit.clock, stamp, wall_ms);
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
	for (size_t i = 0; i < g->nhomes; i++) {
		const home_put *h = &g->homes[i];
		if (h->state == HOME_DROP) {
			store_batch_del(g->wb, h->mkey, h->mkn);
			continue;
		}
		buf[0] = h->state;
		store_put_u64(buf + 1, h->hlc);
		store_batch_put(g->wb, h->mkey, h->mkn, buf, 9);
		ledger_members_add(&l->members, h->mkey, h->mkn);
	}
	for (size_t i = 0; i < g->n; i++) {
		const pend_op *op = &g->ops[i].op;
		if (op->sum)
			continue;
		size_t mkn = ekey_member(mkey, op->counter, op->item, op->user);
		buf[0] = op->kind == WIRE_ADD ? 1 : 0;
		store_put_u64(buf + 1, op->hlc);
		store_batch_put(g->wb, mkey, mkn, buf, 9);
		ledger_members_add(&l->members, mkey, mkn);
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
	uint32_t nst = ledger_view_nstripes(&l->view);
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
		vstripe *vs = ledger_view_stripe_at(&l->view, s);
		ledger_vlock_stripe(&l->view, vs);
		for (size_t k = first[s]; k < first[s + 1]; k++)
			overlay_op(vs, g, at[k]);
		ledger_vunlock(&l->view, vs);
	}
	uint64_t f = atomic_fetch_add_explicit(&l->commit.finished, 1, memory_order_release) + 1;
	struct commit *c = &l->commit;
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

bool ledger_marks_joined(ledger *l, uint64_t seen)
{
	return joined_since(&l->commit, seen, true, 0);
}

bool ledger_member_joined(ledger *l, uint64_t seen, uint64_t mhash)
{
	return joined_since(&l->commit, seen, false, mhash);
}

bool ledger_idem_joined(const ledger *l, uint64_t seen, uint64_t ih)
{
	const struct commit *c = &l->commit;
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
			rec = ledger_outbox_record(&l->outbox, key,
			                           ekey_part_seq(key, EKEY_RUN, go->p, op->opno),
			                           g->per_part[go->p]);
		}
		run = (op_run){rec, g->per_part[go->p]};
	}
	ledger_outbox_append(&l->outbox, go->p, op, go->bytes, run, wall_ms);
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

/* Sends g's copy to the log: holding the send turn, so copies go in the
 * order groups were taken. */
static void group_send(ledger *l, group *g)
{
	FAILPOINT("group.staged");
	g->pending = l->o.log->begin(l->o.log_ctx, g->wb, true);
}

/* The outcome of g's copy: its acknowledgement waited for (the half
 * group_send began). The mutex not held. */
static int group_copied(ledger *l, group *g)
{
	void *p = g->pending;
	g->pending = NULL;
	return l->o.log->end(l->o.log_ctx, g->wb, p);
}

/* g's store write, its copy acknowledged; the mutex need not be held (g's
 * batch is the writer's alone), and is not held by a commit thread. */
static int group_store(ledger *l, group *g)
{
	int rc = ledger_log_write(l, g->wb, g->wb, true);
	if (rc == 0)
		FAILPOINT("group.written");
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

static void seal_full(ledger *l, const full_list *fl, uint64_t wall_ms) TSA_REQUIRES(LEDGER_MU(l))
{
	for (size_t i = 0; i < fl->n; i++)
		ledger_seal_full(l, fl->p[i], wall_ms);
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
		/* Its number and its ops' numbers go to the next group: a
		 * record of it that reached the changelog after all (an append
		 * that timed out) is then overwritten there. Only a group that
		 * was numbered for this write gives its number back: the open
		 * group failed with the one written before it has none. */
		if (g->gno != GROUP_UNNUMBERED && l->commit.next_gno == g->gno + 1)
			l->commit.next_gno = g->gno;
		telemetry_refused(l->o.tm,
		                  rc == ERR_FENCED                       ? TM_REFUSED_NOT_ACTIVE
		                  : rc == ERR_TIMEOUT || rc == ERR_KAFKA ? TM_REFUSED_REPLICATION
		                                                         : TM_REFUSED_STORE,
		                  g->n);
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
			grec =
			    ledger_outbox_record(&l->outbox, key, ekey_group(key, g->gno), in_grec);
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
		if (g->head[p] == i + 1 && ledger_outbox_full(&l->outbox, p))
			fl->p[fl->n++] = p;
	}
	group_reset(g);
}

/* A slot of grp[] neither open nor in flight (there is one while
 * fewer than depth groups are in flight). */
static group *group_idle(struct commit *c)
{
	for (size_t i = 0; i < COMMIT_DEPTH_MAX + 1; i++) {
		group *g = &c->grp[i];
		bool busy = g == c->g;
		for (size_t k = 0; k < c->nfly && !busy; k++)
			busy = c->fly[k] == g;
		if (!busy)
			return g;
	}
	abort(); /* more in flight than depth: a broken invariant */
}

/* The open group may be taken now: fewer than depth in flight, and none
 * doomed (those staged on a failed group finish before anything staged
 * since is sent, so that their undoing in the copy reads a store that
 * no later group has written). mu held. */
static bool can_take(const struct commit *c)
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
static void turn_wait(struct commit *c, const group *g)
{
	turn_lock(c);
	while (c->sent != g->seq)
		pthread_cond_wait(&c->turn_cv, &c->turn_mu);
	turn_unlock(c);
}

static void turn_pass(struct commit *c)
{
	turn_lock(c);
	c->sent++;
	turn_unlock(c);
	pthread_cond_broadcast(&c->turn_cv);
}

/* A group taken into flight, through the phases of its write
 * (commit_taken): what each phase hands the next. */
typedef struct commit_run {
	group *g;
	int copied;        /* its copy's outcome */
	int rc;            /* its outcome: its own, or the one it was staged on */
	uint64_t t0, c0;   /* monotonic and thread CPU ns at the serial work's start */
	uint64_t t1;       /* the records built */
	uint64_t hook_cpu; /* CPU spent in the test hook, not the commit's */
	uint64_t write_ns; /* the copy and the store write */
	uint64_t wall_ms;  /* the clock the finish records */
	wake_list wl, wl_open;
	full_list fl, fl_open;
} commit_run;

/* Phase 1, mu held: the open group taken into flight, a new one open. */
static void group_take(ledger *l, commit_run *r) TSA_REQUIRES(LEDGER_MU(l))
{
	struct commit *c = &l->commit;
	group *g = c->g;
	c->fly[c->nfly++] = g;
	c->g = group_idle(c);
	g->gno = c->next_gno++;
	g->doom = 0;
	g->seq = c->taken++;
	r->g = g;
}

/* Phase 2, mu let go: in its send turn, its records built and its copy
 * sent, then the copy's acknowledgement waited for. Building the records
 * and writing them is the serial work (commit_write); the test hook and
 * the wait for earlier groups are not. The thread's CPU clock is a
 * system call, so it is read around the hook only when there is one. */
static void group_copy(ledger *l, commit_run *r) TSA_EXCLUDES(LEDGER_MU(l))
{
	struct commit *c = &l->commit;
	group *g = r->g;
	turn_wait(c, g);
	r->t0 = clock_mono_ns();
	r->c0 = clock_thread_cpu_ns();
	group_record(l, g);
	r->t1 = clock_mono_ns();
	r->hook_cpu = 0;
	if (l->o.before_group_write) {
		uint64_t h0 = clock_thread_cpu_ns();
		l->o.before_group_write(l->o.hook_ctx);
		r->hook_cpu = clock_thread_cpu_ns() - h0;
	}
	uint64_t w0 = clock_mono_ns();
	group_send(l, g);
	turn_pass(c);
	r->copied = group_copied(l, g);
	r->write_ns = clock_mono_ns() - w0;
}

/* Phase 3, takes mu and lets it go: the groups taken before it
 * finished, its outcome so far (doomed by a failed one, or its copy's). */
static void group_turn(ledger *l, commit_run *r) TSA_EXCLUDES(LEDGER_MU(l))
{
	struct commit *c = &l->commit;
	ledger_lock(l);
	while (c->fly[0] != r->g)
		ledger_wait(l, &c->done);
	r->rc = r->g->doom ? r->g->doom : r->copied;
	ledger_unlock(l);
}

/* Phase 4, mu let go: written to the store, its copy taken; or, refused,
 * its copy undone in the log. */
static void group_write(ledger *l, commit_run *r) TSA_EXCLUDES(LEDGER_MU(l))
{
	group *g = r->g;
	if (r->rc == 0) {
		FAILPOINT("group.copied");
		uint64_t s0 = clock_mono_ns();
		r->rc = group_store(l, g);
		r->write_ns += clock_mono_ns() - s0;
		if (r->rc == 0) {
			telemetry_group_written(l->o.tm, r->write_ns);
			group_hot(l, g);
		}
	} else if (r->copied != ERR_FENCED) {
		/* Its copy is in the log, or may land: undone there, now that
		 * every group before it is written. */
		l->o.log->refused(l->o.log_ctx, g->wb);
	}
}

/* Phase 5, takes mu and lets it go: finished (its tickets resolved, the
 * batches it filled noted), out of flight; a group that failed by itself
 * fails those staged on it: the open group now, the later ones in
 * flight as they finish (doom). */
static void group_settle(ledger *l, commit_run *r) TSA_EXCLUDES(LEDGER_MU(l))
{
	struct commit *c = &l->commit;
	group *g = r->g;
	uint64_t c1 = clock_thread_cpu_ns();
	ledger_lock(l);
	l->st.commit_write_ns += (r->t1 - r->t0) + r->write_ns;
	l->st.commit_write_cpu_ns += c1 - r->c0 - r->hook_cpu;
	bool own = r->rc && !g->doom; /* failed itself, not by the group it was staged on */
	if (own)
		log_error("group write failed; its writes answer 503", "ops=%zu err=\"%s\"", g->n,
		          err_str(r->rc));
	r->wl_open.n = 0;
	if (!r->wall_ms)
		r->wall_ms = clock_wall_ms();
	group_finish(l, g, r->rc, r->wall_ms, &r->wl, &r->fl);
	if (own) {
		/* The open group and the later ones in flight were staged on
		 * top of this one: their writes took their memberships and
		 * counts from it (a repeat of a like in it is no change, an
		 * unlike of it takes one off). Written without it, they would
		 * record a member no op counts, or take off a like never
		 * recorded: they fail too. Stagers no longer see the doomed
		 * ones, so what stages from now on rests on the store alone. */
		if (!group_empty(c->g))
			group_finish(l, c->g, r->rc, r->wall_ms, &r->wl_open, &r->fl_open);
		for (size_t i = 1; i < c->nfly; i++)
			c->fly[i]->doom = r->rc;
	}
	memmove(c->fly, c->fly + 1, (c->nfly - 1) * sizeof *c->fly);
	c->nfly--;
	ledger_unlock(l);
}

/* Phases 2 to 5 and the answers (the wakes and the broadcast, system
 * calls), run by ledger_outside with mu let go: writes stage into a new
 * open group meanwhile, and with depth > 1 the next group may be taken
 * while this one's copy is out. Phases 3 and 5 take mu themselves. */
static void group_fly(ledger *l, void *arg) TSA_EXCLUDES(LEDGER_MU(l))
{
	commit_run *r = arg;
	group_copy(l, r);
	group_turn(l, r);
	group_write(l, r);
	group_settle(l, r);
	wakes_call(&r->wl);
	wakes_call(&r->wl_open);
	pthread_cond_broadcast(&l->commit.done);
}

/* Takes the open group into flight (phase 1, under mu), writes it with
 * mu let go (group_fly, through ledger_outside: the ledger's one way of
 * letting the writer mutex go and taking it back, beside a wait), and,
 * mu held again, seals the batches the group filled. The one way a group
 * is written, by a commit thread or by a caller of ledger_group_commit.
 * can_take and the open group not empty on entry; mu held on entry and
 * on return. wall_ms: the clock the finish records (0: read it after the
 * write). */
static int commit_taken(ledger *l, uint64_t wall_ms) TSA_REQUIRES(LEDGER_MU(l))
{
	commit_run r; /* each phase sets what it hands on: no clearing per group */
	r.wall_ms = wall_ms;
	group_take(l, &r);
	ledger_outside(l, group_fly, &r);
	/* After the answers: the batches this group filled. */
	seal_full(l, &r.fl, r.wall_ms);
	return r.rc;
}

int ledger_group_commit(ledger *l, uint64_t wall_ms)
{
	struct commit *c = &l->commit;
	/* Groups reach the store in the order they were staged, after the
	 * ones in flight; with nothing open, the ones in flight are waited
	 * for. */
	while (group_empty(c->g) ? c->nfly > 0 : !can_take(c))
		ledger_wait(l, &c->done);
	if (group_empty(c->g))
		return 0;
	return commit_taken(l, wall_ms);
}

void ledger_gno_seen(ledger *l, uint64_t gno)
{
	if (gno >= l->commit.next_gno)
		l->commit.next_gno = gno + 1;
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

/* A group in flight holds the idempotency key hashed h. */
static bool idem_in_flight(const struct commit *c, uint64_t h)
{
	for (size_t i = 0; i < c->nfly; i++)
		if (idem_staged(c->fly[i], h))
			return true;
	return false;
}

bool ledger_idem_pending(const ledger *l, uint64_t ih)
{
	return idem_in_flight(&l->commit, ih) || idem_staged(l->commit.g, ih);
}

void ledger_group_room(ledger *l, size_t n, bool idem, uint64_t ih, uint64_t wall_ms)
{
	struct commit *c = &l->commit;
	for (;;) {
		while (idem && idem_in_flight(c, ih))
			ledger_wait(l, &c->done);
		if (c->g->n + n <= LEDGER_GROUP_OPS &&
		    !(idem && (c->g->nidem == GROUP_IDEM || idem_staged(c->g, ih))))
			return;
		/* Its tickets carry the outcome. It lets the mutex go (a wait,
		 * a seal), so other writes may have staged meanwhile: look
		 * again. */
		(void)ledger_group_commit(l, wall_ms);
	}
}

/* A commit thread: takes the open group when asked and there is room
 * (commit_taken), while writes stage into the next one; with depth > 1,
 * one thread per group in flight, so the next group's copy goes out
 * while this one's waits for its acknowledgement. */
static void *committer(void *arg)
{
	ledger *l = arg;
	struct commit *c = &l->commit;
	ledger_lock(l);
	for (;;) {
		while (!c->stopping && !(c->asked && c->g->n && can_take(c)))
			ledger_wait(l, can_take(c) ? &c->work : &c->done);
		if (c->stopping)
			break;
		c->asked = false;
		(void)commit_taken(l, 0); /* its tickets carry the outcome; 0: the clock after */
	}
	ledger_unlock(l);
	return NULL;
}

int ledger_committer_start(ledger *l)
{
	struct commit *c = &l->commit;
	if (!l->o.commit_thread)
		return 0;
	for (unsigned i = 0; i < c->depth; i++) {
		if (pthread_create(&c->thread[i], NULL, committer, l) != 0) {
			c->async = c->nthreads > 0; /* ledger_stop_commits joins those started */
			return ERR_IO;
		}
		/* For top -H and perf. */
		(void)pthread_setname_np(c->thread[i], i ? "edge-commit2" : "edge-commit");
		c->nthreads++;
	}
	c->async = true;
	return 0;
}

void ledger_stop_commits(ledger *l)
{
	struct commit *c = &l->commit;
	if (c->async) {
		ledger_lock(l);
		c->stopping = true;
		ledger_unlock(l);
		pthread_cond_broadcast(&c->work);
		pthread_cond_broadcast(&c->done);
		for (unsigned i = 0; i < c->nthreads; i++)
			pthread_join(c->thread[i], NULL);
		ledger_lock(l);
		c->async = false;
		c->nthreads = 0;
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

int ledger_group_commit_own(ledger *l, uint64_t wall_ms)
{
	ledger_ticket own = {.state = LEDGER_STAGED, .next = l->commit.g->tickets};
	l->commit.g->tickets = &own;
	(void)ledger_group_commit(l, wall_ms);
	int st = ledger_ticket_state(&own);
	return st == LEDGER_DURABLE ? 0 : st;
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
