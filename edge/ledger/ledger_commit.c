/* ledger_commit.c - group commit (ledger.h): a group taken into flight
 * and made durable, the commit threads, and the waits for room and for
 * the groups in flight. The groups themselves (staging into the open
 * one, the records each writes, its finish) are ledger_group.c's, one
 * layer down.
 *
 * Nothing a reader sees (overlay, open batches, stats) changes until the
 * group is written: the group is taken into flight (commit_taken: the one
 * way a group is written, by a commit thread or a caller of
 * ledger_group_commit), its records are built into its store batch, its
 * copy goes to the changelog and it is written in one store write, all
 * with the mutex let go while writes stage into the next group (and,
 * with a pipelined copy, the next group's copy goes out while this
 * one's is acknowledged; groups are written in order); then every op
 * joins the overlay and its open batch, and the group's tickets are
 * resolved (ledger_group_settle). A failed write drops the whole group:
 * no op of it is recorded and every ticket carries the error, and the
 * groups staged on top of it (whose writes looked it up: the closed
 * ones, the open one, and those in flight after it) are dropped too.
 *
 * Owns struct committer (ledger_int.h): the commit threads and the
 * conditions they and the writers wait on, under the writer mutex.
 */
#include "edge/ledger/ledger_int.h"

#include <pthread.h>

#include "clock.h"
#include "failpoint.h"
#include "log.h"
#include "edge/telemetry/telemetry.h"

void ledger_committer_init(struct committer *k)
{
	pthread_cond_init(&k->work, NULL);
	pthread_cond_init(&k->done, NULL);
}

void ledger_committer_free(struct committer *k)
{
	pthread_cond_destroy(&k->work);
	pthread_cond_destroy(&k->done);
}

/* --- a group's flight --------------------------------------------------------- */

/* Seals the batches the group filled (lets the mutex go). */
static void seal_full(ledger *l, const full_list *fl, uint64_t wall_ms) TSA_REQUIRES(LEDGER_MU(l))
{
	for (size_t i = 0; i < fl->n; i++)
		ledger_seal_full(l, fl->p[i], wall_ms);
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
	group_answers out;
} commit_run;

/* Phase 2, mu let go: in its send turn, its records built and its copy
 * sent, then the copy's acknowledgement waited for. Building the records
 * and writing them is the serial work (commit_write); the test hook and
 * the wait for earlier groups are not. The thread's CPU clock is a
 * system call, so it is read around the hook only when there is one. */
static void group_copy(ledger *l, commit_run *r) TSA_EXCLUDES(LEDGER_MU(l))
{
	struct commit *c = &l->commit;
	group *g = r->g;
	store_batch *wb = ledger_group_batch(g);
	ledger_turn_wait(c, g);
	r->t0 = clock_mono_ns();
	r->c0 = clock_thread_cpu_ns();
	ledger_group_record(c, g);
	r->t1 = clock_mono_ns();
	r->hook_cpu = 0;
	if (l->o.before_group_write) {
		uint64_t h0 = clock_thread_cpu_ns();
		l->o.before_group_write(l->o.hook_ctx);
		r->hook_cpu = clock_thread_cpu_ns() - h0;
	}
	uint64_t w0 = clock_mono_ns();
	/* Sent holding the send turn, so copies go in the order groups were
	 * taken; its acknowledgement waited for after. */
	FAILPOINT("group.staged");
	void *pending = l->o.log->begin(l->o.log_ctx, wb, true);
	ledger_turn_pass(c);
	r->copied = l->o.log->end(l->o.log_ctx, wb, pending);
	r->write_ns = clock_mono_ns() - w0;
}

/* Phase 3, takes mu and lets it go: the groups taken before it
 * finished, its outcome so far (doomed by a failed one, or its copy's). */
static void group_turn(ledger *l, commit_run *r) TSA_EXCLUDES(LEDGER_MU(l))
{
	ledger_lock(l);
	while (!ledger_group_first(&l->commit, r->g))
		ledger_wait(l, &l->committer.done);
	int doom = ledger_group_doom(r->g);
	r->rc = doom ? doom : r->copied;
	ledger_unlock(l);
}

/* Phase 4, mu let go: written to the store, its copy taken (the group's
 * batch is the writer's alone); or, refused, its copy undone in the
 * log. */
static void group_write(ledger *l, commit_run *r) TSA_EXCLUDES(LEDGER_MU(l))
{
	store_batch *wb = ledger_group_batch(r->g);
	if (r->rc == 0) {
		FAILPOINT("group.copied");
		uint64_t s0 = clock_mono_ns();
		r->rc = ledger_log_write(l, wb, wb, true);
		if (r->rc == 0)
			FAILPOINT("group.written");
		r->write_ns += clock_mono_ns() - s0;
		if (r->rc == 0) {
			telemetry_group_written(l->o.tm, r->write_ns);
			ledger_group_hot(&l->commit, r->g);
		}
	} else if (r->copied != ERR_FENCED) {
		/* Its copy is in the log, or may land: undone there, now that
		 * every group before it is written. */
		l->o.log->refused(l->o.log_ctx, wb);
	}
}

/* Phase 5, takes mu and lets it go: finished (ledger_group_settle: its
 * tickets resolved, the batches it filled noted, out of flight, those
 * staged on it failed with it). */
static void group_settle(ledger *l, commit_run *r) TSA_EXCLUDES(LEDGER_MU(l))
{
	uint64_t c1 = clock_thread_cpu_ns();
	ledger_lock(l);
	if (!r->wall_ms)
		r->wall_ms = clock_wall_ms(); /* once the mutex is held, as the finish runs */
	group_end e = {(r->t1 - r->t0) + r->write_ns, c1 - r->c0 - r->hook_cpu, r->wall_ms};
	ledger_group_settle(&l->commit, r->g, r->rc, &e, l->committer.async, &r->out);
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
	ledger_wakes_call(&r->out.wl);
	ledger_wakes_call(&r->out.wl_open);
	pthread_cond_broadcast(&l->committer.done);
}

/* Takes the oldest closed group, or else the open one, into flight
 * (phase 1, under mu), writes it with
 * mu let go (group_fly, through ledger_outside: the ledger's one way of
 * letting the writer mutex go and taking it back, beside a wait), and,
 * mu held again, seals the batches the group filled. The one way a group
 * is written, by a commit thread or by a caller of ledger_group_commit.
 * ledger_group_can_take and a closed group, or an open one not empty, on entry; mu held on entry
 * and on return. wall_ms: the clock the finish records (0: read it after the write). */
static int commit_taken(ledger *l, uint64_t wall_ms) TSA_REQUIRES(LEDGER_MU(l))
{
	commit_run r; /* each phase sets what it hands on: no clearing per group */
	r.wall_ms = wall_ms;
	r.g = ledger_group_take(&l->commit);
	ledger_outside(l, group_fly, &r);
	/* After the answers: the batches this group filled. */
	seal_full(l, &r.out.fl, r.wall_ms);
	return r.rc;
}

int ledger_group_commit(ledger *l, uint64_t wall_ms)
{
	struct commit *c = &l->commit;
	/* The groups there are now, and only those: while loops keep
	 * closing groups, writing the ones staged after this call would
	 * never end. Groups are taken oldest first, so the next one taken
	 * is always one of them while one waits. */
	group_marks m;
	ledger_groups_mark(c, &m);
	l->committer.callers++;
	int rc = 0;
	for (;;) {
		int left = ledger_groups_marked(c, &m);
		if (left == MARKS_RESOLVED) {
			l->committer.callers--;
			return rc;
		}
		if (left == MARKS_WAITING && ledger_group_can_take(c)) {
			int r = commit_taken(l, wall_ms);
			if (r && !rc)
				rc = r;
		} else {
			/* Those in flight (ours, or the ones before ours). */
			ledger_wait(l, &l->committer.done);
		}
	}
}

void ledger_group_room(ledger *l, size_t n, bool idem, uint64_t ih, uint64_t wall_ms)
{
	struct commit *c = &l->commit;
	for (;;) {
		if (idem && ledger_idem_in_flight(c, ih)) {
			/* Its first try is taken or closed: waited for. A closed
			 * group is written here, as no commit thread may be left
			 * to take it (ledger_stop_commits). */
			if (ledger_groups_closed(c))
				(void)ledger_group_commit(l, wall_ms);
			else
				ledger_wait(l, &l->committer.done);
			continue;
		}
		if (ledger_group_fits(c, n, idem, ih))
			return;
		/* Its tickets carry the outcome. It lets the mutex go (a wait,
		 * a seal), so other writes may have staged meanwhile: look
		 * again. */
		(void)ledger_group_commit(l, wall_ms);
	}
}

int ledger_group_room_now(ledger *l, size_t n, bool idem, uint64_t ih)
{
	struct commit *c = &l->commit;
	if (ledger_group_fits(c, n, idem, ih))
		return 0;
	if (!ledger_group_close(c))
		return ERR_AGAIN;
	/* Signalled under the mutex: a commit thread waiting for work
	 * checks for a closed group once it has it. */
	pthread_cond_signal(&l->committer.work);
	return 0;
}

/* --- the commit threads ----------------------------------------------------- */

/* A commit thread: takes a closed group, or the open one when asked,
 * when there is room (commit_taken), while writes stage into the next
 * one; with depth > 1,
 * one thread per group in flight, so the next group's copy goes out
 * while this one's waits for its acknowledgement. */
static void *committer(void *arg)
{
	ledger *l = arg;
	struct committer *k = &l->committer;
	struct commit *c = &l->commit;
	ledger_lock(l);
	for (;;) {
		while (!k->stopping &&
		       !((ledger_groups_closed(c) || (k->asked && ledger_group_nops(c))) &&
		         ledger_group_can_take(c)))
			ledger_wait(l, ledger_group_can_take(c) ? &k->work : &k->done);
		if (k->stopping)
			break;
		if (!ledger_groups_closed(c))
			k->asked = false; /* the open group is the one taken */
		(void)commit_taken(l, 0); /* its tickets carry the outcome; 0: the clock after */
	}
	ledger_unlock(l);
	return NULL;
}

int ledger_committer_start(ledger *l)
{
	struct committer *k = &l->committer;
	if (!l->o.commit_thread)
		return 0;
	for (unsigned i = 0; i < ledger_groups_depth(&l->commit); i++) {
		if (pthread_create(&k->thread[i], NULL, committer, l) != 0) {
			k->async = k->nthreads > 0; /* ledger_stop_commits joins those started */
			return ERR_IO;
		}
		/* For top -H and perf. */
		(void)pthread_setname_np(k->thread[i], i ? "edge-commit2" : "edge-commit");
		k->nthreads++;
	}
	k->async = true;
	return 0;
}

void ledger_stop_commits(ledger *l)
{
	struct committer *k = &l->committer;
	if (k->async) {
		ledger_lock(l);
		k->stopping = true;
		ledger_unlock(l);
		pthread_cond_broadcast(&k->work);
		pthread_cond_broadcast(&k->done);
		for (unsigned i = 0; i < k->nthreads; i++)
			pthread_join(k->thread[i], NULL);
		ledger_lock(l);
		k->async = false;
		k->nthreads = 0;
		ledger_unlock(l);
	}
}

int ledger_commit(ledger *l, uint64_t wall_ms)
{
	struct committer *k = &l->committer;
	ledger_lock(l);
	int rc = 0;
	bool ask = false;
	if (k->async && ledger_group_nops(&l->commit))
		ask = k->asked = true;
	else if (!k->async)
		rc = ledger_group_commit(l, wall_ms);
	ledger_unlock(l);
	/* Signalled with the mutex let go (the thread checks what it waits
	 * for under the mutex, so no signal is lost). */
	if (ask)
		pthread_cond_signal(&k->work);
	return rc;
}

int ledger_group_commit_own(ledger *l, uint64_t wall_ms)
{
	ledger_ticket own = {.state = LEDGER_STAGED};
	ledger_group_ticket(&l->commit, &own);
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
	return l->committer.async;
}
