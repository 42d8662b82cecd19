/* ledger_write.c - the edge's write path (ledger.h): ops staged into the
 * open group, and the group commit that makes them durable.
 *
 * A write stages its ops: their membership records go into the group's
 * store batch, the ops join their partition's chain, and two small
 * indexes let later writes of the same group see the memberships and
 * count changes staged before them. Nothing a reader sees (overlay, open
 * batches, stats) changes until the group is written: ledger_group_commit
 * adds one run record per partition (its chain's ops), writes it all in
 * one store write, then makes every op part of its open batch and of the
 * overlay, and
 * resolves the group's tickets. A failed write drops the whole group: no
 * op of it is recorded and every ticket carries the error.
 *
 * Owns the group (struct ledger's g). Every entry point but ledger_member
 * takes the writer mutex, and the view mutex to put written ops into the
 * overlay; the static helpers expect the writer mutex held.
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

/* --- the group's indexes ---------------------------------------------------- */

void ledger_group_init(ledger *l)
{
	for (int i = 0; i < 2; i++) {
		group *g = &l->grp[i];
		g->wb = store_batch_new();
		g->ops = xcalloc(LEDGER_GROUP_OPS, sizeof *g->ops);
		g->per_part = xcalloc(l->o.partitions, sizeof *g->per_part);
		g->head = xcalloc(l->o.partitions, sizeof *g->head);
		g->tail = xcalloc(l->o.partitions, sizeof *g->tail);
		g->run = xmalloc(RUN_MAX);
	}
	l->g = &l->grp[0];
	l->gc = NULL;
	pthread_cond_init(&l->work, NULL);
	pthread_cond_init(&l->done, NULL);
}

/* Forgets what the group staged (the ops' strings are gone already). */
static void group_reset(group *g)
{
	for (size_t i = 0; i < g->n; i++) {
		group_op *go = &g->ops[i];
		g->per_part[go->p] = 0;
		g->head[go->p] = g->tail[go->p] = 0;
		g->member[go->mslot].at = 0;
		g->count[go->cslot].at = 0;
	}
	g->n = 0;
	g->nidem = 0;
	g->tickets = NULL;
	store_batch_clear(g->wb);
}

void ledger_group_free(ledger *l)
{
	for (int i = 0; i < 2; i++) {
		group *g = &l->grp[i];
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
		free(g->run);
		store_batch_free(g->wb);
		memset(g, 0, sizeof *g);
	}
	l->g = l->gc = NULL;
	pthread_cond_destroy(&l->work);
	pthread_cond_destroy(&l->done);
}

/* A hash of "a 0 b" (counter and item, or user and idempotency key). */
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

/* --- staging ---------------------------------------------------------------- */

int ledger_members_load(ledger *l)
{
	if (!bloom_bytes(&l->members))
		return 0;
	uint64_t t0 = clock_mono_ms();
	store_iter *it = store_iter_new(l->db, ekey_prefix(EKEY_MEMBER), 1);
	const char *k, *v;
	size_t kn, vn;
	while (store_iter_next(it, &k, &kn, &v, &vn))
		bloom_add(&l->members, k, kn);
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc)
		return rc;
	log_info("membership filter loaded", "records=%" PRIu64 " filter_bytes=%zu ms=%" PRIu64,
	         l->members.added, bloom_bytes(&l->members), clock_mono_ms() - t0);
	return 0;
}

/* The stored membership of mkey: no lock needed (the filter and the
 * store may be read by any thread). */
static int member_read(ledger *l, const char *mkey, size_t kn, int *state, uint64_t *stamp)
{
	*state = -1;
	*stamp = 0;
	if (!bloom_maybe(&l->members, mkey, kn)) {
		atomic_fetch_add_explicit(&l->member_reads_skipped, 1, memory_order_relaxed);
		return 0;
	}
	atomic_fetch_add_explicit(&l->member_reads, 1, memory_order_relaxed);
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

#define STAGE_ON_STACK 4 /* ops of one call staged without an allocation */

/* An op of this call, ready to be staged. */
typedef struct staged {
	pend_op op;
	uint32_t p;
	bool set;
	uint64_t mhash, chash; /* of the pair, of counter and item */
	char mkey[KEY_MAX];
	size_t mkn;
} staged;

static bool op_fits(const ledger_op *o)
{
	size_t cl = strlen(o->counter), il = strlen(o->item), ul = strlen(o->user);
	if (!cl || cl > COUNTER_MAX || !il || il > ITEM_MAX || !ul || ul > USER_MAX)
		return false;
	return !o->sum || (o->n >= 1 && o->n <= COUNTER_SUM_MAX);
}

/* The membership of the set op at i, after the ops before it in this call,
 * else in the group, else in the store, and the clock of the op that set
 * it. */
static int state_before(ledger *l, const ledger_op *ops, staged *sg, size_t i, int *state,
                        uint64_t *stamp)
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
	group *gs2[2] = {l->g, l->gc};
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
	int rc = member_read(l, sg[i].mkey, sg[i].mkn, state, stamp);
	if (rc == 0 && *state < 0 && ops[i].prior >= 0)
		*state = ops[i].prior ? 1 : 0;
	return rc;
}

/* Fills sg[i] and its answer; nothing is staged yet. */
static int stage(ledger *l, const ledger_op *ops, staged *sg, size_t i, uint64_t wall_ms,
                 ledger_answer *a)
{
	const ledger_op *o = &ops[i];
	size_t cl = strlen(o->counter), il = strlen(o->item), ul = strlen(o->user);
	staged *s = &sg[i];
	group *g = l->g, *gc = l->gc;
	s->set = !o->sum;
	s->p = ledger_part_of(l, o->item);
	s->op = ledger_op_make(o->counter, o->item, o->user, cl, il, ul);
	s->op.kind = o->sum || o->add ? WIRE_ADD : WIRE_REMOVE;
	s->op.sum = o->sum;
	s->op.n = o->sum ? o->n : 1;
	s->chash = hash2(o->counter, o->item);
	uint64_t seen = 0;
	bool repeat = false, unsettled = false;
	if (s->set) {
		s->mkn = ekey_member(s->mkey, o->counter, o->item, o->user);
		s->mhash = XXH3_64bits(s->mkey, s->mkn);
		int state;
		int rc = state_before(l, ops, sg, i, &state, &seen);
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
	s->op.hlc = seen ? hlc_observe(&l->clock, seen, wall_ms) : hlc_now(&l->clock, wall_ms);
	s->op.counts = !repeat && !unsettled;
	uint64_t opno =
	    l->parts[s->p].next_opno + g->per_part[s->p] + (gc ? gc->per_part[s->p] : 0);
	for (size_t j = 0; j < i; j++)
		if (sg[j].p == s->p)
			opno++;
	s->op.opno = opno;

	/* The count this user sees: with the ops staged before this one in
	 * the group and in this call, which are written with it or not at all. */
	int64_t plus = 0;
	const group_slot *gs = &g->count[slot_find(g, g->count, s->chash, &s->op, false)];
	if (gs->at)
		plus += gs->delta;
	if (gc) {
		gs = &gc->count[slot_find(gc, gc->count, s->chash, &s->op, false)];
		if (gs->at)
			plus += gs->delta;
	}
	for (size_t j = 0; j <= i; j++)
		if (strcmp(sg[j].op.counter, s->op.counter) == 0 &&
		    strcmp(sg[j].op.item, s->op.item) == 0)
			plus += ledger_op_delta(sg[j].op.kind, sg[j].op.n, sg[j].op.counts);
	int rc = ledger_view_plus(l, o->counter, o->item, plus, &a->view);
	if (rc)
		return rc;
	a->member = s->set && o->add;
	a->changed = s->op.counts;
	a->hlc = s->op.hlc;
	return 0;
}

/* Moves the staged op s into the group: its store records and indexes. */
static void group_add(ledger *l, staged *s)
{
	group *g = l->g;
	unsigned char buf[OP_ENC_MAX];
	if (s->set) {
		buf[0] = s->op.kind == WIRE_ADD ? 1 : 0;
		store_put_u64(buf + 1, s->op.hlc);
		store_batch_put(g->wb, s->mkey, s->mkn, buf, 9);
		/* Before the write: should it fail, the filter only holds one
		 * more key that is absent, which costs a store read later. */
		bloom_add(&l->members, s->mkey, s->mkn);
	}
	/* The pending op itself is written with its partition's run at the
	 * commit (group_runs); here it only joins the partition's chain. */
	size_t n = ledger_op_encode(&s->op, buf);
	uint32_t at = (uint32_t)g->n + 1;
	group_op *go = &g->ops[g->n++];
	go->op = s->op;
	go->p = s->p;
	go->bytes = (uint32_t)n;
	go->next = 0;
	if (g->tail[s->p])
		g->ops[g->tail[s->p] - 1].next = at;
	else
		g->head[s->p] = at;
	g->tail[s->p] = at;
	s->op.counter = NULL; /* the group owns the strings now */
	g->per_part[s->p]++;
	size_t cs = slot_find(g, g->count, s->chash, &go->op, false);
	if (!g->count[cs].at)
		g->count[cs] = (group_slot){.hash = s->chash, .at = at, .delta = 0};
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

/* Puts one run record per partition g touched into its store batch: the
 * partition's staged ops, in opno order, under the first's opno. One put
 * per partition and group, where a record per op cost a put at the commit
 * and a delete at the seal. */
static void group_runs(group *g)
{
	for (size_t i = 0; i < g->n; i++) {
		uint32_t p = g->ops[i].p;
		if (g->head[p] != i + 1)
			continue;
		size_t len = RUN_HEAD;
		for (uint32_t at = g->head[p]; at; at = g->ops[at - 1].next)
			len += ledger_op_encode(&g->ops[at - 1].op, g->run + len);
		ledger_run_head(g->run, g->per_part[p]);
		char key[13];
		store_batch_put(g->wb, key, ekey_part_seq(key, EKEY_RUN, p, g->ops[i].op.opno),
		                g->run, len);
	}
}

/* Makes a written op part of its open batch and of the overlay. */
static void commit_op(ledger *l, group_op *go, uint64_t wall_ms)
{
	part *pt = &l->parts[go->p];
	open_batch *ob = &pt->open;
	if (ob->len == ob->cap) {
		ob->cap = ob->cap ? ob->cap * 2 : 64;
		ob->ops = xrealloc(ob->ops, ob->cap * sizeof *ob->ops);
	}
	if (!ob->len)
		ob->first_ms = wall_ms;
	pend_op *op = &ob->ops[ob->len++];
	*op = go->op;
	go->op.counter = NULL;
	pt->next_opno = op->opno + 1;
	ob->bytes += go->bytes;
	l->st.pending_bytes += go->bytes;
	l->st.pending_ops++;
	size_t cl = strlen(op->counter), il = strlen(op->item);
	if (op->counts) {
		l->st.ops_accepted++;
		telemetry_accepted(l->o.tm, op->counter, cl, op->item, il, op->n);
	} else {
		l->st.ops_duplicate++;
	}
	ledger_overlay_add(l, op->counter, cl, op->item, il,
	                   ledger_op_delta(op->kind, op->n, op->counts));
}

/* g's store write; the mutex need not be held (g's batch is the writer's
 * alone), and is not on the commit thread. */
static int group_write(ledger *l, group *g)
{
	FAILPOINT("group.staged");
	int rc = store_write(l->db, g->wb);
	if (rc == 0)
		FAILPOINT("group.written");
	return rc;
}

#define WAKE_MAX 64 /* distinct wakes called per group; more: each at once */

/* After g's write (rc): its ops into the open batches and the overlay,
 * its tickets resolved and their wakes called once each, full batches
 * sealed, g emptied. Mutex held. */
static void group_finish(ledger *l, group *g, int rc, uint64_t wall_ms)
{
	l->st.commits++;
	if (rc) {
		l->st.commits_failed++;
		telemetry_refused(l->o.tm, TM_REFUSED_STORE, g->n);
		for (size_t i = 0; i < g->n; i++)
			free(g->ops[i].op.counter);
	} else {
		/* Every op of the group joins the overlay at once for a reader. */
		ledger_vlock(l);
		for (size_t i = 0; i < g->n; i++) {
			group_op *go = &g->ops[i];
			if (g->head[go->p] == i + 1)
				ledger_run_push(
				    &l->parts[go->p].open,
				    (op_run){go->op.opno, g->per_part[go->p], EKEY_RUN});
			commit_op(l, go, wall_ms);
		}
		ledger_vunlock(l);
	}
	struct {
		void (*fn)(void *);
		void *ctx;
	} wakes[WAKE_MAX];
	size_t nwakes = 0;
	for (ledger_ticket *t = g->tickets, *next; t; t = next) {
		/* Read before the release: from then on the ticket is the
		 * staging thread's again, and may be reused. */
		next = t->next;
		void (*fn)(void *) = t->wake;
		void *ctx = t->wake_ctx;
		atomic_store_explicit(&t->state, rc ? rc : LEDGER_DURABLE, memory_order_release);
		if (!l->async || !fn)
			continue;
		size_t w = 0;
		while (w < nwakes && (wakes[w].fn != fn || wakes[w].ctx != ctx))
			w++;
		if (w < nwakes)
			continue;
		if (nwakes < WAKE_MAX) {
			wakes[nwakes].fn = fn;
			wakes[nwakes++].ctx = ctx;
		} else {
			fn(ctx);
		}
	}
	for (size_t w = 0; w < nwakes; w++)
		wakes[w].fn(wakes[w].ctx);
	/* Partitions that filled a batch seal now; the reset below needs the
	 * ops' partitions, so seal first. */
	for (size_t i = 0; i < g->n && !rc; i++) {
		uint32_t p = g->ops[i].p;
		if (l->parts[p].open.len < l->o.seal_ops)
			continue;
		int src = ledger_seal(l, p, wall_ms, TM_SEAL_OPS);
		if (src)
			log_error("sealing failed; the ops stay pending", "partition=%u err=\"%s\"",
			          p, err_str(src));
	}
	group_reset(g);
}

int ledger_group_commit(ledger *l, uint64_t wall_ms)
{
	/* Groups reach the store in the order they were staged. */
	while (l->gc)
		ledger_wait(l, &l->done);
	group *g = l->g;
	if (!g->n)
		return 0;
	group_runs(g);
	int rc = group_write(l, g);
	group_finish(l, g, rc, wall_ms);
	return rc;
}

/* The commit thread: takes the open group as gc when asked, writes it
 * outside the mutex while writes stage into the other one, then finishes
 * it under the mutex. */
static void *committer(void *arg)
{
	ledger *l = arg;
	ledger_lock(l);
	for (;;) {
		while (!l->stopping && !(l->commit_asked && l->g->n))
			ledger_wait(l, &l->work);
		if (l->stopping)
			break;
		l->commit_asked = false;
		group *g = l->g;
		l->gc = g;
		l->g = g == &l->grp[0] ? &l->grp[1] : &l->grp[0];
		group_runs(g);
		ledger_unlock(l);
		if (l->o.before_group_write)
			l->o.before_group_write(l->o.hook_ctx);
		uint64_t t0 = clock_mono_ns();
		int rc = group_write(l, g);
		uint64_t t1 = clock_mono_ns();
		ledger_lock(l);
		l->st.commit_write_ns += t1 - t0;
		if (rc)
			log_error("group write failed; its writes answer 503", "ops=%zu err=\"%s\"",
			          g->n, err_str(rc));
		group_finish(l, g, rc, clock_wall_ms());
		l->gc = NULL;
		pthread_cond_broadcast(&l->done);
	}
	ledger_unlock(l);
	return NULL;
}

int ledger_committer_start(ledger *l)
{
	if (!l->o.commit_thread)
		return 0;
	if (pthread_create(&l->committer, NULL, committer, l) != 0)
		return ERR_IO;
	l->async = true;
	return 0;
}

void ledger_committer_stop(ledger *l)
{
	if (l->async) {
		ledger_lock(l);
		l->stopping = true;
		pthread_cond_signal(&l->work);
		ledger_unlock(l);
		pthread_join(l->committer, NULL);
		l->async = false;
	}
}

int ledger_commit(ledger *l, uint64_t wall_ms)
{
	ledger_lock(l);
	int rc = 0;
	if (l->async) {
		if (l->g->n) {
			l->commit_asked = true;
			pthread_cond_signal(&l->work);
		}
	} else {
		rc = ledger_group_commit(l, wall_ms);
	}
	ledger_unlock(l);
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
	return l->async;
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
	if (replay)
		memset(replay, 0, sizeof *replay);
	if (t) {
		atomic_store_explicit(&t->state, LEDGER_UNSTAGED, memory_order_relaxed);
		t->next = NULL;
	}
	if (!n || n > LEDGER_GROUP_OPS || (idem && !replay))
		return ERR_INVAL;
	for (size_t i = 0; i < n; i++)
		if (!op_fits(&ops[i]))
			return ERR_INVAL;
	memset(answers, 0, n * sizeof *answers);
	ledger_lock(l);
	int rc = 0;
	/* A single like (the common call) stages on the stack. */
	staged one[STAGE_ON_STACK];
	staged *sg = n <= STAGE_ON_STACK ? one : xmalloc(n * sizeof *sg);
	for (size_t i = 0; i < n; i++)
		sg[i].op.counter = NULL;
	char *rendered = NULL;
	uint64_t ih = idem ? idem_hash(&idem->req) : 0;
	/* A full group, or one holding a record for this key (a retry faster
	 * than a loop turn), is written first: the retry must see it. The
	 * same for the group the commit thread is writing. */
	while (idem && l->gc && idem_staged(l->gc, ih))
		ledger_wait(l, &l->done);
	if (l->g->n + n > LEDGER_GROUP_OPS ||
	    (idem && (l->g->nidem == GROUP_IDEM || idem_staged(l->g, ih))))
		(void)ledger_group_commit(l, wall_ms); /* its tickets carry the outcome */
	/* Only now: waiting for the commit thread may have swapped groups. */
	group *g = l->g;
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
	hlc saved = l->clock;
	for (size_t i = 0; i < n && !rc; i++)
		rc = stage(l, ops, sg, i, wall_ms, &answers[i]);
	if (rc) {
		if (rc == ERR_IO)
			telemetry_refused(l->o.tm, TM_REFUSED_STORE, n);
		l->clock = saved;
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
		rc = ledger_group_commit(l, wall_ms);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(sg[i].op.counter);
	if (sg != one)
		free(sg);
	free(rendered);
	ledger_unlock(l);
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

int ledger_idem_sweep(ledger *l, uint64_t wall_ms, int max)
{
	return idem_sweep(l->db, wall_ms, max);
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
