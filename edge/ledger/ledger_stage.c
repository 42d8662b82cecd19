/* ledger_stage.c - a write's ops staged into the open group (ledger.h):
 * the entry points ledger_stage_ops, ledger_write_ops and ledger_write,
 * and the membership lookups (ledger_member, ledger_member_at) they
 * make through ledger_members.c. ledger_commit.c makes the group
 * durable.
 *
 * A write stages its ops in one pass. Before the writer mutex, each op
 * is checked and made (its strings, its member key and hash, its pair
 * key, hash and partition: pair_key), and its stored membership and its
 * count as the view shows it are read (preread); under it, the op's
 * membership is looked up in this call and the groups, else taken from
 * that read, it gets its clock and op number, and its count is that read
 * plus what the groups staged. Should a group have joined the overlay
 * since the read (commit.finished moved), both are read again with the
 * mutex let go, and the op staged under it anew. Then the op joins the group: the op into its
 * partition's chain, and two small indexes let later writes of the same group see the memberships
 * and count changes staged before them.
 *
 * Stages through struct commit's functions (commit_int.h, ledger_group.c:
 * it writes no field of it), under the writer mutex; the reads before
 * it, and ledger_member, take no lock.
 * The memberships of users at home here (the home stream, hearts at
 * home, retention) are ledger_home.c's.
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

/* --- memberships ------------------------------------------------------------ */

int ledger_member_at(ledger *l, const char *counter, const char *item, const char *user, int *state,
                     uint64_t *stamp)
{
	char mkey[KEY_MAX];
	if (strlen(counter) > COUNTER_MAX || strlen(item) > ITEM_MAX || strlen(user) > USER_MAX)
		return ERR_INVAL;
	size_t mkn = ekey_member(mkey, counter, item, user);
	return ledger_member_read(&l->members, l->db, mkey, mkn, state, stamp);
}

int ledger_member(ledger *l, const char *counter, const char *item, const char *user, int *state)
{
	uint64_t stamp;
	return ledger_member_at(l, counter, item, user, state, &stamp);
}

/* --- staging ---------------------------------------------------------------- */

#define STAGE_ON_STACK 4 /* ops of one call staged without an allocation */
/* stage_locked's answer when a read the write needs is stale or failed:
 * let the mutex go, read again, stage again (never an error code). */
#define STAGE_REREAD 1

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
	int mrc; /* the membership read's result */
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

/* A staged home put's membership as a read of the store would give it:
 * a drop's is not known. */
static void home_put_state(const home_put *h, int *state, uint64_t *stamp)
{
	*state = h->state == HOME_DROP ? -1 : h->state;
	*stamp = h->state == HOME_DROP ? 0 : h->hlc;
}

/* The membership of the set op at i, after the ops before it in this call,
 * else in the group, else in the store as preread found it, and the clock
 * of the op that set it; -1 when not known here. The store is never read
 * here, under the writer mutex: when a group joined the overlay since the
 * read (not fresh), or the read failed, STAGE_REREAD (the write reads
 * again before the mutex); a read that failed again (retried), its
 * error. */
static int newest_state(ledger *l, staged *sg, size_t i, bool fresh, bool retried, int *state,
                        uint64_t *stamp) TSA_REQUIRES(LEDGER_MU(l))
{
	for (size_t j = i; j-- > 0;) {
		if (sg[j].set && sg[j].mkn == sg[i].mkn &&
		    memcmp(sg[j].mkey, sg[i].mkey, sg[i].mkn) == 0) {
			*state = sg[j].op.kind == WIRE_ADD;
			*stamp = sg[j].op.hlc;
			return 0;
		}
	}
	/* The open group, then those in flight, newest first: all are newer
	 * than the store's state. In each, an op is newer than a home put. */
	const pend_op *o;
	const home_put *h;
	if (ledger_group_newest(&l->commit, &sg[i].op, sg[i].mhash, sg[i].mkey, sg[i].mkn, &o,
	                        &h)) {
		if (o) {
			*state = o->kind == WIRE_ADD;
			*stamp = o->hlc;
		} else {
			home_put_state(h, state, stamp);
		}
		return 0;
	}
	if (!sg[i].mread && retried)
		return sg[i].mrc;
	if (fresh && sg[i].mread) {
		*state = sg[i].mstate;
		*stamp = sg[i].mstamp;
		return 0;
	}
	return STAGE_REREAD;
}

/* newest_state, where a pair not known here (never recorded, or
 * dropped by retention) takes what central said of it (the op's prior),
 * if anything. */
static int state_before(ledger *l, const ledger_op *ops, staged *sg, size_t i, bool fresh,
                        bool retried, int *state, uint64_t *stamp) TSA_REQUIRES(LEDGER_MU(l))
{
	int rc = newest_state(l, sg, i, fresh, retried, state, stamp);
	if (rc == 0 && *state < 0 && ops[i].prior >= 0)
		*state = ops[i].prior ? 1 : 0;
	return rc;
}

/* What the ops staged before sg[i] on its counter and item add to its
 * count, sg[i] included: in the live groups and in this call, which are
 * written with it or not at all. */
static int64_t staged_plus(const ledger *l, const staged *sg, size_t i)
{
	const staged *s = &sg[i];
	int64_t plus = ledger_groups_delta(&l->commit, s->pk.h, &s->op);
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
		bh = ledger_members_prefetch(&l->members, s->mkey, s->mkn);
	}
	s->vread = ledger_view_count(&l->view, &s->pk, 0, &s->base, &s->raw) == 0;
	s->mrc = s->set ? ledger_member_read_h(&l->members, l->db, s->mkey, s->mkn, bh, &s->mstate,
	                                       &s->mstamp)
	                : 0;
	s->mread = s->set && s->mrc == 0;
}

/* Stages sg[i] (made by prepare) as far as its answer: its membership
 * before it, its clock, its op number and the count the user sees.
 * Nothing goes into the group yet. fresh: no group has joined the
 * overlay since preread, so what it read stands, with the live groups'
 * ops and this call's added. retried: preread ran again, as a group
 * joined since the first (or a read failed): the op counts as read
 * again. */
static int stage(ledger *l, const ledger_op *ops, staged *sg, size_t i, bool fresh, bool retried,
                 uint64_t wall_ms, ledger_answer *a) TSA_REQUIRES(LEDGER_MU(l))
{
	const ledger_op *o = &ops[i];
	staged *s = &sg[i];
	struct commit *c = &l->commit;
	uint32_t p = s->pk.p;
	uint64_t seen = 0;
	bool repeat = false, unsettled = false;
	if (!retried && fresh && (!s->set || s->mread) && s->vread)
		l->st.stage_fresh++;
	else
		l->st.stage_reread++;
	if (s->set) {
		int state = -1; /* set by state_before when it returns 0 */
		int rc = state_before(l, ops, sg, i, fresh, retried, &state, &seen);
		if (rc)
			return rc;
		repeat = state == (o->add ? 1 : 0);
		/* An unlike of a pair never seen here: the user may never have
		 * been in, so it must not take one off. Central settles it. */
		unsettled = state < 0 && !o->add;
	}
	/* A client's clock is the clock of an op it saw answered: this one
	 * must come after it. Further ahead of ours than max_ahead_ms, it
	 * would pull this edge's clock that far (a forged clock could pull
	 * it anywhere), and ignored, the write would be ordered before the
	 * op it follows, so an unlike could lose to its like for good: the
	 * write is refused instead (this edge's clock is behind, or the
	 * client's is bad). The bound is from this edge's hybrid clock where
	 * that is ahead of its wall clock (it has seen ops from a clock
	 * ahead: a standby behind that took over): following the client
	 * moves it no further than the bound. Per pair, a later op here
	 * always gets a later clock. */
	uint64_t last = ledger_clock_get(c).last;
	uint64_t ours = hlc_ms(last) > wall_ms ? hlc_ms(last) : wall_ms;
#ifndef LIKES_MUTANT_CLIENT_CLOCK /* the bug put back: the client's clock ignored */
	if (o->client_hlc && hlc_ms(o->client_hlc) > ours + l->o.max_ahead_ms)
		return ERR_CLOCK;
	if (o->client_hlc > seen)
		seen = o->client_hlc;
#else
	(void)ours;
#endif
	s->op.hlc = ledger_clock_stamp(c, seen, wall_ms);
	s->op.counts = !repeat && !unsettled;
	uint64_t opno = ledger_groups_next_opno(c, p);
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
		int rc = ledger_view_count(&l->view, &s->pk, plus, &a->view, NULL);
		if (rc)
			return rc;
	}
	a->member = s->set && o->add;
	a->changed = s->op.counts;
	a->hlc = s->op.hlc;
	return 0;
}

/* --- entry points ----------------------------------------------------------- */

/* Looks the write's idempotency key up in the store: no lock needed. A
 * replay's count is atomic, as this runs before the writer mutex. */
static int replay_lookup(ledger *l, const ledger_idem *idem, uint64_t wall_ms, ledger_replay *r)
{
	int rc = idem_lookup(l->db, &idem->req, wall_ms, &r->status, &r->body, &r->len);
	if (rc == 0) {
		r->replayed = true;
		atomic_fetch_add_explicit(&l->replays, 1, memory_order_relaxed);
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
 * open group (and none of its key in the groups), the budget, then the
 * ops staged (answers), the key's record rendered into the group
 * (which keeps the rendering), and the write left to the commit
 * thread (t) or committed now. A write with a ticket while commit
 * threads run (an event loop's) never waits here: a retry of a write
 * still in a group follows that write (*replay: its answer, t on its
 * group), a full open group is closed for a commit thread to take, and
 * with every group full the write is refused, ERR_AGAIN. Without, a
 * retry waits for its first try and a full group is written on this
 * thread (ledger_group_room). STAGE_REREAD, with nothing staged, when
 * a read made before the mutex no longer stands (a group holding the
 * key's record, or changing a membership the write needs, finished
 * since seen) or failed: the caller reads again with the mutex let go. */
static int stage_locked(ledger *l, const ledger_op *ops, staged *sg, size_t n, uint64_t wall_ms,
                        ledger_answer *answers, const ledger_idem *idem, ledger_replay *replay,
                        ledger_ticket *t, uint64_t seen, bool retried) TSA_REQUIRES(LEDGER_MU(l))
{
	struct commit *c = &l->commit;
	uint64_t ih = idem ? ledger_idem_hash(idem->req.user, idem->req.key) : 0;
	bool now = t && l->committer.async; /* a loop's write: it never waits */
	if (now && idem) {
		/* A retry of a write still in a group answers as that write,
		 * once its group is written: never staged twice, never waited
		 * for on this thread. */
		int rc = ledger_group_follow(c, ih, idem->req.fingerprint, t, &replay->body,
		                             &replay->len);
		if (rc != ERR_NOTFOUND) {
			if (rc == 0) {
				replay->replayed = true;
				replay->status = 200;
				atomic_fetch_add_explicit(&l->replays, 1, memory_order_relaxed);
			} else {
				telemetry_refused(l->o.tm, TM_REFUSED_CONFLICT, n);
			}
			return rc;
		}
	}
	if (l->o.log->refusing(l->o.log_ctx) && !(idem && ledger_idem_pending(c, ih))) {
		/* Its copy would be refused: so is the write, now, rather
		 * than after the room below (a wait on this thread). Not a
		 * retry of a write still in a group (the probe's, say): it
		 * waits for that write's outcome and answers with it, as a
		 * refusal could tell its client "not recorded" of a write
		 * the probe then records. */
		telemetry_refused(l->o.tm, TM_REFUSED_REPLICATION, n);
		return ERR_TIMEOUT;
	}
	if (!now) {
		/* A retry must see its first try: no group may hold its key. */
		ledger_group_room(l, n, idem != NULL, ih, wall_ms);
	} else if (ledger_group_room_now(l, n, idem != NULL, ih)) {
		/* Every group a commit thread may take is full: refused
		 * rather than waited for, so that the loop goes on reading. */
		telemetry_refused(l->o.tm, TM_REFUSED_QUEUE, n);
		return ERR_AGAIN;
	}
	/* Rare: a retry that raced its first try's group to the store. Its
	 * record is read again before the mutex. */
	if (idem && ledger_idem_joined(c, seen, ih))
		return STAGE_REREAD;
	if (ledger_outbox_figures(&l->outbox)->pending_bytes >= l->o.budget_bytes) {
		telemetry_refused(l->o.tm, TM_REFUSED_BUDGET, n);
		return ERR_FULL;
	}
	hlc saved = ledger_clock_get(c);
	uint64_t fresh_before = l->st.stage_fresh, reread_before = l->st.stage_reread;
	bool fresh = ledger_groups_finished(c) == seen;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++)
		rc = stage(l, ops, sg, i, fresh, retried, wall_ms, &answers[i]);
	if (rc) {
		if (rc == ERR_IO)
			telemetry_refused(l->o.tm, TM_REFUSED_STORE, n);
		else if (rc == ERR_CLOCK)
			telemetry_refused(l->o.tm, TM_REFUSED_CLOCK, n);
		if (rc == STAGE_REREAD) {
			/* Counted once, when staged. */
			l->st.stage_fresh = fresh_before;
			l->st.stage_reread = reread_before;
		}
		ledger_clock_put(c, saved);
		return rc;
	}
	if (idem && idem->render) {
		size_t rlen = 0;
		char *answer = idem->render(idem->ctx, answers, n, &rlen);
		ledger_group_idem(c, &idem->req, answer, rlen, ih);
	}
	for (size_t i = 0; i < n; i++)
		ledger_group_add(c, &sg[i].op, sg[i].pk.p, sg[i].bytes, sg[i].pk.h, sg[i].set,
		                 sg[i].mhash);
	if (t) {
		atomic_store_explicit(&t->state, LEDGER_STAGED, memory_order_relaxed);
		ledger_group_ticket(c, t);
		return 0;
	}
	/* Written now, with a ticket of its own: should the group being
	 * written fail meanwhile, the commit thread fails this group too (it
	 * was staged on top of that one), and only the ticket says so. */
	ledger_ticket own = {.state = LEDGER_STAGED};
	ledger_group_ticket(c, &own);
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
	bool answered = rc != 0, retried = false;
	while (!answered) {
		/* The store and view reads before the mutex, so that no other
		 * write waits for them; checked under it against
		 * commit.finished, and made again (retried) when a group
		 * finished in between changed what they found: no store read
		 * is made under the mutex. A key's record is in the store once
		 * the group that staged it is written: found, the answer is
		 * that write's, with no lock at all. */
		uint64_t seen = ledger_groups_finished(&l->commit);
		if (idem) {
			int r = replay_outcome(l, replay_lookup(l, idem, wall_ms, replay), n);
			answered =
			    r != ERR_NOTFOUND; /* replayed (0), a conflict, or the store failed */
			if (answered) {
				rc = r;
				break;
			}
		}
		memset(answers, 0, n * sizeof *answers);
		for (size_t i = 0; i < n; i++)
			preread(l, &sg[i]);
		if (l->o.after_preread)
			l->o.after_preread(l->o.hook_ctx);
		ledger_lock(l);
		rc = stage_locked(l, ops, sg, n, wall_ms, answers, idem, replay, t, seen, retried);
		ledger_unlock(l);
		answered = rc != STAGE_REREAD;
		retried = true;
	}
	if (l->o.after_stage && ledger_ticket_staged(t))
		l->o.after_stage(l->o.hook_ctx);
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
