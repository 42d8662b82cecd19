/* ledger_home.c - the memberships of the users at home in this edge's
 * region (ledger.h): the home stream's events and central's home
 * checkpoint put into the open group (ledger_home_apply) with the
 * stream's positions and horizons, the hearts answered from the store
 * (ledger_member_home, the 'Y' marks of items whose likes were dropped),
 * and the retention that drops memberships older than
 * store.member_keep_s (ledger_member_sweep).
 *
 * Stages into the open group under the writer mutex through the
 * commit's functions (ledger_group_home, ledger_group_put,
 * ledger_group_commit_own: it writes no field of struct commit), and
 * reads the stored memberships through the membership filter
 * (ledger_members.c's ledger_member_read, before the mutex) and the
 * groups (ledger_group_newest, under it);
 * the hearts take no lock.
 */
#include "edge/ledger/ledger_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "clock.h"
#include "log.h"
#include "xmem.h"

/* --- the home stream -------------------------------------------------------- */

/* What the store held for an event, read before the writer mutex: a
 * membership's state and clock, or a move mark's since (stamp). */
typedef struct home_read {
	int rc; /* 0, ERR_NOTFOUND (a mark), or the store's error */
	int state;
	uint64_t stamp;
} home_read;

/* The pair's newest state before ev: in a group (an op, or a home put),
 * else the store as rd read it. ERR_AGAIN when an op of a group holds it
 * with an older clock: that op's 'M' is not written yet and would
 * overwrite ev's. */
static int home_state(ledger *l, const ledger_home_ev *e, const home_put *h, const home_read *rd,
                      int *state, uint64_t *stamp) TSA_REQUIRES(LEDGER_MU(l))
{
	pend_op probe = {
	    .counter = (char *)e->counter, .item = (char *)e->item, .user = (char *)e->user};
	const pend_op *o;
	const home_put *prev;
	if (!ledger_group_newest(&l->commit, &probe, h->mhash, h->mkey, h->mkn, &o, &prev)) {
		*state = rd->state;
		*stamp = rd->stamp;
		return rd->rc;
	}
	if (o && o->hlc < h->hlc)
		return ERR_AGAIN;
	/* A drop about to be written keeps its record's clock: an older
	 * event must not take the pair. */
	*state = o ? o->kind == WIRE_ADD : prev->state == HOME_DROP ? 0 : prev->state;
	*stamp = o ? o->hlc : prev->hlc;
	return 0;
}

/* 'H': next offset u64, then from u64 (older values: the offset alone). */
static void home_pos_put(ledger *l, uint32_t p, const ledger_home_pos *pos)
    TSA_REQUIRES(LEDGER_MU(l))
{
	char key[EKEY_PART_LEN];
	unsigned char v[16];
	store_put_u64(v, (uint64_t)pos->next);
	store_put_u64(v + 8, pos->from);
	ledger_group_put(&l->commit, key, ekey_part(key, EKEY_HOME_NEXT, p), v, sizeof v, false);
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
	if (!ledger_members_maybe(&l->members, key, kn)) {
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
	if (from != 0 && !ledger_item_covered(&l->view, counter, item, from))
		return 0;
	bool aged;
	rc = item_aged(l, counter, item, &aged);
	if (rc == 0 && !aged) {
		*state = 0;
	} else if (rc == 0) {
		/* Likes of it were dropped; none is a member when central's
		 * count is 0 (this edge's unconfirmed ops keep their records). */
		ledger_view v;
		if (ledger_view_read(&l->view, counter, item, &v) == 0 && v.known && v.base == 0)
			*state = 0;
	}
	return rc;
}

/* Marks (counter, item) as an item whose memberships retention has let
 * go ('Y', stamped wall_ms) in the open group, and in the membership
 * filter before the group's write, as an 'M' goes. The writer mutex is
 * held. */
static void mark_aged(ledger *l, const char *pair, size_t pn, uint64_t wall_ms)
    TSA_REQUIRES(LEDGER_MU(l))
{
	char ykey[EKEY_COUNT_MAX];
	unsigned char ms[8];
	store_put_u64(ms, wall_ms);
	size_t yn = ekey_aged(ykey, pair, pn);
	ledger_group_put(&l->commit, ykey, yn, ms, sizeof ms, true);
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
                          size_t *lastn) TSA_REQUIRES(LEDGER_MU(l))
{
	char pair[EKEY_PAIR_MAX];
	size_t pn = ekey_pair(pair, e->counter, strlen(e->counter), e->item, strlen(e->item));
	if (pn != *lastn || memcmp(pair, last, pn) != 0) {
		mark_aged(l, pair, pn, wall_ms);
		memcpy(last, pair, pn);
		*lastn = pn;
	}
}

/* --- moves ----------------------------------------------------------------- */

#define MARK_VALUE_MAX (8 + EDGE_ID_MAX) /* since u64, then the home */

/* The mark under key: 0 with its home and since, ERR_NOTFOUND, or the
 * store's error (a value that does not parse is none). */
static int mark_read(ledger *l, const char *key, size_t kn, char *home, uint64_t *since)
{
	char v[MARK_VALUE_MAX];
	size_t vn;
	int rc = store_get_into(l->db, key, kn, v, sizeof v, &vn);
	if (rc == ERR_CORRUPT || (rc == 0 && (vn <= 8 || !item_edge_valid(v + 8, vn - 8))))
		return ERR_NOTFOUND;
	if (rc)
		return rc;
	*since = store_get_u64((const unsigned char *)v);
	memcpy(home, v + 8, vn - 8);
	home[vn - 8] = 0;
	return 0;
}

int ledger_home_mark(ledger *l, const char *user, const char *item, char *home, uint64_t *since_ms)
{
	size_t un = strlen(user);
	if (un > USER_MAX)
		return ERR_NOTFOUND;
	char key[EKEY_HOME_MARK_MAX];
	size_t kn =
	    ekey_home_mark(key, user, un, partition_of(item, strlen(item), l->o.partitions));
	if (!ledger_members_maybe(&l->members, key, kn))
		return ERR_NOTFOUND;
	return mark_read(l, key, kn, home, since_ms);
}

/* A move's event, e (its counter NULL): a move, valid. */
static bool mark_ok(const ledger *l, const ledger_home_ev *e)
{
	return e->user && e->home && e->since_ms && item_user_valid(e->user, strlen(e->user)) &&
	       item_edge_valid(e->home, strlen(e->home)) && e->partition < l->o.partitions;
}

/* The store's mark for move e's user and partition, into rd. */
static void mark_preread(ledger *l, const ledger_home_ev *e, home_read *rd)
{
	char key[EKEY_HOME_MARK_MAX], home[EDGE_ID_MAX + 1];
	size_t kn = ekey_home_mark(key, e->user, strlen(e->user), e->partition);
	rd->rc = mark_read(l, key, kn, home, &rd->stamp);
}

/* Whether move evs[i] is later than the one the store keeps for its
 * user and partition (as rd read it), and than any of evs[0..i) there:
 * *take. 0 or the store's error. */
static int mark_newer(const ledger_home_ev *evs, size_t i, const home_read *rd, bool *take)
{
	const ledger_home_ev *e = &evs[i];
	*take = false;
	for (size_t j = 0; j < i; j++)
		if (!evs[j].counter && evs[j].partition == e->partition &&
		    evs[j].since_ms >= e->since_ms && !strcmp(evs[j].user, e->user))
			return 0;
	if (rd->rc && rd->rc != ERR_NOTFOUND)
		return rd->rc;
	*take = rd->rc == ERR_NOTFOUND || rd->stamp < e->since_ms;
	return 0;
}

/* Reads for evs what the store holds (home_read), with no lock: the
 * writer mutex is taken after, and no store read is made under it. With
 * again, only the events it flags. Each read's seen[i] is what
 * commit.finished was before it. */
static void home_preread(ledger *l, const ledger_home_ev *evs, const home_put *hp, size_t n,
                         const bool *again, home_read *rd, uint64_t *seen)
{
	uint64_t f = ledger_groups_finished(&l->commit);
	for (size_t i = 0; i < n; i++) {
		if (again && !again[i])
			continue;
		seen[i] = f;
		if (!evs[i].counter)
			mark_preread(l, &evs[i], &rd[i]);
		else
			rd[i].rc = ledger_member_read(&l->members, l->db, hp[i].mkey, hp[i].mkn,
			                              &rd[i].state, &rd[i].stamp);
	}
}

/* How often ledger_home_apply reads again what groups written between
 * its reads and the mutex may have changed; past that it gives up with
 * ERR_AGAIN, nothing done, and its caller comes back. Only the pairs a
 * group wrote are read again (ledger_member_joined), so a busy writer
 * does not hold the home stream back, and no store read is made under
 * the mutex. */
#define HOME_REREADS 8

/* Under the mutex: flags in again each event whose read may no longer
 * stand (its pair written by a group that joined since; for a move, a
 * mark put by one); true when any is. */
static bool home_stale(ledger *l, const ledger_home_ev *evs, const home_put *hp, size_t n,
                       const uint64_t *seen, bool *again) TSA_REQUIRES(LEDGER_MU(l))
{
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		again[i] = evs[i].counter ? ledger_member_joined(&l->commit, seen[i], hp[i].mhash)
		                          : ledger_marks_joined(&l->commit, seen[i]);
		any |= again[i];
	}
	return any;
}

/* Stages move e in the open group, and in the membership filter. The
 * writer mutex is held. */
static void stage_mark(ledger *l, const ledger_home_ev *e) TSA_REQUIRES(LEDGER_MU(l))
{
	char key[EKEY_HOME_MARK_MAX], v[MARK_VALUE_MAX];
	size_t kn = ekey_home_mark(key, e->user, strlen(e->user), e->partition);
	size_t hn = strlen(e->home);
	store_put_u64((unsigned char *)v, e->since_ms);
	memcpy(v + 8, e->home, hn);
	ledger_group_put(&l->commit, key, kn, v, 8 + hn, true);
	ledger_group_marks(&l->commit);
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
		if (!e->counter) {
			if (!mark_ok(l, e)) {
				free(hp);
				return ERR_INVAL;
			}
			continue;
		}
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
	/* The store read before the mutex; what a group written meanwhile
	 * may have changed read again, before it too (the groups still live
	 * are looked up under the mutex). */
	home_read *rd = n ? xcalloc(n, sizeof *rd) : NULL;
	uint64_t *seen = n ? xcalloc(n, sizeof *seen) : NULL;
	bool *again = n ? xcalloc(n, sizeof *again) : NULL;
	home_preread(l, evs, hp, n, NULL, rd, seen);
	for (int tries = 0;; tries++) {
		if (l->o.after_preread)
			l->o.after_preread(l->o.hook_ctx);
		ledger_lock(l);
		if (!home_stale(l, evs, hp, n, seen, again))
			break;
		ledger_unlock(l);
		if (tries == HOME_REREADS) {
			free(again);
			free(seen);
			free(rd);
			free(hp);
			return ERR_AGAIN;
		}
		home_preread(l, evs, hp, n, again, rd, seen);
	}
	free(again);
	free(seen);
	int rc = 0;
	/* Nothing is staged unless all can be: a pair an unwritten op holds
	 * with an older clock makes the caller come back. */
	bool *take = n ? xcalloc(n, sizeof *take) : NULL;
	bool *absent = n ? xcalloc(n, sizeof *absent) : NULL;
	for (size_t i = 0; i < n && !rc; i++) {
		int state = -1;
		uint64_t stamp = 0;
		if (!evs[i].counter) {
			rc = mark_newer(evs, i, &rd[i], &take[i]);
			continue;
		}
		rc = home_state(l, &evs[i], &hp[i], &rd[i], &state, &stamp);
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
			if (!evs[i].counter) {
				if (take[i])
					stage_mark(l, &evs[i]);
				continue;
			}
			bool old = past_keep(l, evs[i].hlc, wall_ms);
			if (old && evs[i].member)
				mark_old_like(l, &evs[i], wall_ms, last, &lastn);
			if (!take[i])
				continue;
			if (!absent[i] || !old) {
				ledger_group_home(&l->commit, &hp[i]);
				ledger_clock_observe(&l->commit, hp[i].hlc, wall_ms);
			}
			(*taken)++;
		}
		for (uint32_t p = 0; p < l->o.partitions; p++)
			if (pos[p].next >= 0)
				home_pos_put(l, p, &pos[p]);
		rc = ledger_group_commit_own(l, wall_ms);
		for (uint32_t p = 0; rc == 0 && p < l->o.partitions; p++)
			if (pos[p].next >= 0)
				atomic_store(&l->home_from[p], pos[p].from);
	}
	ledger_unlock(l);
	free(absent);
	free(take);
	free(rd);
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
	uint64_t mhash; /* XXH3 of mkey */
	int state;
	uint64_t stamp;
	uint64_t seen; /* commit.finished before it was read */
	bool again;    /* to be read again: a group since may have written it */
	bool gone;     /* read again, no longer the record read first */
} drop_cand;

/* How often a sweep reads again, before the writer mutex, the candidates
 * groups written since their read may have changed; past that those it
 * still could not vouch for are left for the next pass. */
#define SWEEP_REREADS 8

/* Reads up to scan_max 'M' records from the sweep's place into cands
 * (those stamped before cut_ms, at most SWEEP_DROP_MAX, each read after
 * commit.finished was seen) and moves the place past them; back to the
 * start after the last record. */
static int sweep_scan(ledger *l, uint64_t cut_ms, size_t scan_max, uint64_t seen, drop_cand *cands,
                      size_t *nc, ledger_sweep *out)
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
		d->mhash = XXH3_64bits(k, kn);
		d->state = v[0];
		d->stamp = stamp;
		d->seen = seen;
		d->again = d->gone = false;
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

/* Under the mutex: flags each candidate a group that joined since its
 * read may have written (again); true when any is. */
static bool sweep_stale(ledger *l, drop_cand *cands, size_t nc) TSA_REQUIRES(LEDGER_MU(l))
{
	bool any = false;
	for (size_t i = 0; i < nc; i++) {
		drop_cand *d = &cands[i];
		d->again = !d->gone && ledger_member_joined(&l->commit, d->seen, d->mhash);
		any |= d->again;
	}
	return any;
}

/* Reads again, with no lock, each candidate flagged again: one the store
 * no longer holds as the scan read it is gone. */
static int sweep_reread(ledger *l, drop_cand *cands, size_t nc)
{
	uint64_t f = ledger_groups_finished(&l->commit);
	for (size_t i = 0; i < nc; i++) {
		drop_cand *d = &cands[i];
		if (!d->again)
			continue;
		int state;
		uint64_t stamp;
		int rc = ledger_member_read(&l->members, l->db, d->mkey, d->mkn, &state, &stamp);
		if (rc && rc != ERR_NOTFOUND)
			return rc;
		d->seen = f;
		d->gone = rc == ERR_NOTFOUND || state != d->state || stamp != d->stamp;
	}
	return 0;
}

/* Stages the drop of each candidate that still holds (mu held): its
 * partition has no unconfirmed op older than the cut, no group holds
 * its pair, and the store holds it as read (sweep_stale and
 * sweep_reread: not gone, not to be read again). Marks each item once. */
static int sweep_stage(ledger *l, uint64_t cut_ms, uint64_t wall_ms, const drop_cand *cands,
                       size_t nc, ledger_sweep *out) TSA_REQUIRES(LEDGER_MU(l))
{
	char counter[COUNTER_MAX + 1], item[ITEM_MAX + 1], user[USER_MAX + 1];
	char pair[EKEY_PAIR_MAX], last[EKEY_PAIR_MAX];
	size_t lastn = 0;
	for (size_t i = 0; i < nc; i++) {
		const drop_cand *d = &cands[i];
		if (d->gone || d->again || !ekey_member_parse(d->mkey, d->mkn, counter, item, user))
			continue;
		uint32_t p = partition_of(item, strlen(item), l->o.partitions);
		if (ledger_outbox_oldest_ms(&l->outbox, p) < cut_ms + SWEEP_MARGIN_MS) {
			out->held++;
			continue;
		}
		pend_op probe = {.counter = counter, .item = item, .user = user};
		uint64_t mhash = d->mhash;
		const pend_op *o;
		const home_put *hp;
		if (ledger_group_newest(&l->commit, &probe, mhash, d->mkey, d->mkn, &o, &hp))
			continue; /* a newer state is staged: not the store's to drop */
		home_put h = {.mkn = d->mkn, .mhash = mhash, .state = HOME_DROP, .hlc = d->stamp};
		memcpy(h.mkey, d->mkey, d->mkn);
		ledger_group_home(&l->commit, &h);
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
		ledger_group_put(&l->commit, ekey_prefix(EKEY_SWEEP), 1, l->sweep.from,
		                 l->sweep.fromn, false);
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
	uint64_t seen = ledger_groups_finished(&l->commit);
	drop_cand *cands = xmalloc(SWEEP_DROP_MAX * sizeof *cands);
	size_t nc;
	int rc = sweep_scan(l, cut_ms, scan_max, seen, cands, &nc, out);
	if (rc || (nc == 0 && !out->wrapped)) {
		free(cands);
		return rc;
	}
	if (l->o.sweep_scanned)
		l->o.sweep_scanned(l->o.sweep_ctx);
	/* What groups written since the scan may have changed is read again
	 * before the mutex, never under it. */
	for (int tries = 0;; tries++) {
		ledger_lock(l);
		if (!nc || ledger_following(l) || !sweep_stale(l, cands, nc) ||
		    tries == SWEEP_REREADS)
			break;
		ledger_unlock(l);
		rc = sweep_reread(l, cands, nc);
		if (rc) {
			free(cands);
			return rc;
		}
	}
	if (out->wrapped)
		l->st.member_sweeps++;
	if (nc && !ledger_following(l))
		rc = sweep_stage(l, cut_ms, wall_ms, cands, nc, out);
	if (rc == 0 && out->dropped) {
		rc = ledger_group_commit_own(l, wall_ms);
		if (rc == 0)
			l->st.members_dropped += out->dropped;
	}
	ledger_unlock(l);
	free(cands);
	return rc;
}
