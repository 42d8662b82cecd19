/* ledger_int.h - struct ledger: the ledger's private state, its locks,
 * and the count write that snapshots and checkpoint messages share. Not
 * for other modules.
 *
 * struct ledger holds seven concepts, each owned by its files, which alone
 * changes its fields; another file goes through the functions declared
 * in the concept's own header (records_int.h holds the ops and records
 * they all pass around):
 *   struct commit   commit_int.h, ledger_group.c: the groups: the open
 *                   group writes stage into (ledger_stage.c and
 *                   ledger_home.c, through its functions), the groups
 *                   in flight, the group records ('G'), op numbers,
 *                   the clock; its functions take struct commit (given
 *                   the options, the view, the outbox and the members
 *                   at init), not struct ledger
 *   struct committer below, ledger_commit.c: the commit threads; a
 *                   group's flight around the writer mutex
 *   struct members  members_int.h, ledger_members.c: the membership
 *                   filter and the membership reads it spares (no lock)
 *   struct outbox   outbox_int.h, ledger_outbox.c, ledger_confirm.c: per
 *                   partition the open batch, a seal's steps, the sealed
 *                   batches and their sending (window, resend),
 *                   confirmation, and what central's snapshots said
 *                   last; its functions take struct outbox (given the
 *                   options, the store, the view and the edge's
 *                   identity at init), not struct ledger
 *   struct sealer   below, ledger_seal.c: the one seal under way; runs
 *                   a seal's steps and the pump around the writer mutex
 *   struct view     view_int.h, ledger_view.c: what count reads look at:
 *                   the overlay, the count caches, read-through counts,
 *                   the partitions' published views; its functions
 *                   take struct view (given the options, the store and
 *                   the replica at init), not struct ledger
 *   struct replica  replica_int.h, ledger_replica.c: per partition, the
 *                   replica's load; its functions take struct replica
 * and what they share: the store, the options, the writer's store batch,
 * the two mutexes and the writer's stats. ledger.c opens, recovers and
 * closes the ledger and holds the entry points that tie concepts together
 * (applying a snapshot, sealing what is due, stats, inspect). A staged op
 * calls into the view once for its count (twice when a group committed
 * between its read and the writer mutex) and, at the commit, into the
 * view once (the overlay) and the outbox once (its open batch), its pair
 * key's hash passed down (pair_key).
 *
 * Three kinds of mutex. The count writers' mutex (cmu) is held by
 * whatever writes counts or the snapshot positions: a snapshot's
 * application, a checkpoint message, the seal tick's kept read-through
 * counts. It keeps them one at a time, so that a snapshot can do its
 * store write (and its fsync) with only cmu held: likes, seals and sends
 * go on meanwhile. The writer mutex (mu) guards struct commit, struct
 * committer, struct outbox, struct sealer, struct replica, the store batch wb and the stats st:
 * everything writes, seals, sends, snapshots and checkpoint loads
 * change. No store read is made under it: a write reads its stored
 * memberships and idempotency record before it (and again before it,
 * with the mutex let go, when a group joined meanwhile: stage_reread,
 * STAGE_REREAD in ledger_stage.c), the home stream its events' pairs
 * and marks and the sweep its candidates the same way, reading again
 * only what a group that joined since may have written
 * (ledger_member_joined; ledger_home.c: an event batch overtaken
 * HOME_REREADS times gives up with ERR_AGAIN, the sweep leaves a
 * candidate to its next pass), a snapshot or
 * checkpoint message reads its counts' stored versions with cmu alone,
 * and the pump reads the batches it sends again with it let go. Its
 * holder lets it go for store writes too: a snapshot's or checkpoint
 * message's in a phase of its own between two locked ones (ledger.c's
 * ledger_apply_snapshot, ledger_replica_apply: ledger_count_store), a
 * seal's (one at a time: sealer.sealing) through ledger_outside, and a
 * group's (and with a changelog its copy's acknowledgement) in
 * commit_taken's phases, whichever thread writes it (the
 * commit thread, or without one the loop that commits, or the writer
 * whose ops did not fit the open group, or a drain). So no store write
 * is made under it either: a snapshot position reset and the start of a
 * replica load write under cmu alone, as a snapshot does. The view stripes' mutexes each
 * guard one stripe of struct view: what a count read of the stripe's partitions looks at. None is
 * ever held across store I/O, and a count read or /me takes no other ledger lock, so no read waits
 * for a write, a seal or a snapshot's fsync, nor for a read of another stripe. Order: cmu before mu
 * before a stripe; no thread holds two stripes. A writer changes the view only after its store
 * write, under the stripe (with mu held); the seal tick empties the stripes' kept read-throughs
 * with cmu alone. Functions declared in these headers expect mu held unless they say otherwise; the
 * record encoders and ledger_pair_make are pure (any thread), and at
 * start-up, before ledger_open returns, nothing else runs and no lock
 * is needed.
 * Each struct's comment names its exceptions (the commit thread,
 * lock-free reads).
 *
 * clang checks every mutex of the ledger (make thread-safety-check,
 * include/tsa.h): the lock functions below (and ledger_group.c's send
 * turn's) say what they take and let go, so a function that takes one
 * lets it go in the same body; a function that needs the writer or the
 * count writers' mutex held says so in its declaration
 * (TSA_REQUIRES(LEDGER_MU(l))), one that must run with it let go
 * TSA_EXCLUDES.
 */
#ifndef EDGE_LEDGER_INT_H
#define EDGE_LEDGER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "clock.h"
#include "edge/ledger/commit_int.h"
#include "edge/ledger/idem.h"
#include "edge/ledger/ledger.h"
#include "edge/ledger/members_int.h"
#include "edge/ledger/outbox_int.h"
#include "edge/ledger/records_int.h"
#include "edge/ledger/replica_int.h"
#include "edge/ledger/view_int.h"
#include "log.h"

/* === count writes (ledger_count.c) ====================================== */

/* A write of counts: a snapshot message's, or a checkpoint message's
 * (ledger_replica_apply). Its holder holds cmu throughout, which keeps
 * every other writer of counts, positions and replica states out, and
 * stages under mu into snap_wb: the counts (skip: ledger_view_put_counts'),
 * its own records, and, with confirm (the message whose edge list
 * confirms this edge's batches of p), ledger_confirm_stage into conf.
 * The holder's phases, each its own function (one lock scope each):
 * under mu the staging, ending with ledger_count_begin; mu let go,
 * ledger_count_store writes it (and copies the confirmed batches'
 * deletion to the log); under mu again ledger_count_show puts what it
 * wrote before readers (the count cache, only the counts it holds
 * already with only_cached, the confirmation, the partition's view), or
 * gives the confirming batches back when it failed (rc); then, with
 * both mutexes let go, ledger_count_done always. */
typedef struct count_write {
	uint32_t p;
	const wire_snapshot *s;
	const wire_snapshot *confirm; /* NULL: it confirms nothing */
	bool only_cached;
	bool *skip;
	ledger_confirm conf;
	bool pump; /* resends to read: ledger_pump once the mutexes are let go */
	int rc;
} count_write;

void ledger_count_begin(ledger *l, count_write *w) TSA_REQUIRES(LEDGER_CMU(l), LEDGER_MU(l));
void ledger_count_store(ledger *l, count_write *w) TSA_REQUIRES(LEDGER_CMU(l))
    TSA_EXCLUDES(LEDGER_MU(l));
void ledger_count_show(ledger *l, count_write *w) TSA_REQUIRES(LEDGER_CMU(l), LEDGER_MU(l));
/* The end of a count write, both mutexes let go: pumps what the
 * confirmation left to resend, frees w's parts; w->rc. */
int ledger_count_done(ledger *l, count_write *w) TSA_EXCLUDES(LEDGER_CMU(l), LEDGER_MU(l));

/* === the log (ledger_log.c) ============================================== */

/* The log of a ledger opened without one (ledger_opts.log NULL). */
extern const ledger_log ledger_log_none;

/* wb's copy sent to the log and waited for: 0 once the log holds it.
 * For a seal's batch and the confirmed batches' deletion, made in one
 * call; a group's copy is begun and ended apart (commit_taken), so that
 * two may be in flight. mu not held. */
int ledger_log_copy(ledger *l, store_batch *wb, bool may_defer);
/* The one way a store batch the ledger writes for itself reaches the
 * store, once the log took its copy: wb written, then the log told how
 * it went (copy: the batch the log holds, wb itself but for the
 * confirmed batches' deletion, a hint beside a count write): written,
 * or, for a group's (may_defer) whose write failed, refused, so that it
 * is undone there. The store's result. mu not held. */
int ledger_log_write(ledger *l, store_batch *wb, const store_batch *copy, bool may_defer);

/* === group commit (ledger_commit.c) ====================================== */

/* The commit threads and what they and the writers wait on. Under mu. */
struct committer {
	bool async;                         /* commit threads run */
	bool asked;                         /* ledger_commit asked since the last take */
	bool stopping;                      /* the commit threads are to end */
	pthread_t thread[COMMIT_DEPTH_MAX]; /* one per group in flight */
	unsigned nthreads;
	unsigned callers;    /* threads in ledger_group_commit, its groups marked
	                        (tests watch this) */
	pthread_cond_t work; /* commit threads: asked, or stopping */
	pthread_cond_t done; /* a group in flight written and resolved (the
	                        commit threads wait on it too, for room) */
};

/* Sets up and frees the conditions (not the threads). */
void ledger_committer_init(struct committer *k);
void ledger_committer_free(struct committer *k);
/* Starts the commit threads (one per group in flight): 0 or ERR_IO.
 * ledger_stop_commits (ledger.h) ends them: staged writes stay staged. */
int ledger_committer_start(ledger *l);
/* Writes the closed groups and the open one there are on entry, after
 * the groups in flight, and seals the batches they filled (a commit
 * thread may take some of them meanwhile); returns once each of those
 * groups, and each one in flight on entry, is resolved: 0 or the first
 * error of a group it wrote itself. Lets the mutex go (waiting for room, sealing):
 * the caller checks again what it relies on. */
int ledger_group_commit(ledger *l, uint64_t wall_ms) TSA_REQUIRES(LEDGER_MU(l));
/* ledger_group_commit with a ticket of the caller's own in the open
 * group (a write that is no request's): 0 once the group is durable,
 * else its error. */
int ledger_group_commit_own(ledger *l, uint64_t wall_ms) TSA_REQUIRES(LEDGER_MU(l));
/* Makes room in the open group for n ops and, with idem, a record of the
 * key whose ledger_idem_hash is ih: writes the open group first when it
 * is full or holds that key already, and waits for the group being
 * written while it holds the key, so that a retry sees its first try.
 * Lets the mutex go (as ledger_group_commit); returns with room. */
void ledger_group_room(ledger *l, size_t n, bool idem, uint64_t ih, uint64_t wall_ms)
    TSA_REQUIRES(LEDGER_MU(l));
/* The same for a write with a ticket while commit threads run, without
 * waiting: a full open group is closed, for a commit thread to take,
 * and a new one opened. 0 with room; ERR_AGAIN, nothing done, when
 * GROUP_CLOSED_MAX groups are closed already. Never lets the mutex
 * go. The idempotency key (ih) is in no group (ledger_group_follow
 * answers a retry first). */
int ledger_group_room_now(ledger *l, size_t n, bool idem, uint64_t ih) TSA_REQUIRES(LEDGER_MU(l));

/* === the home stream (ledger_home.c) ====================================== */

/* The home stream's horizons ('H') into l->home_from: start-up. */
int ledger_home_load(ledger *l);
/* A follower's write: the horizons its 'H' puts carry. */
void ledger_home_note(ledger *l, const store_batch *wb);

/* === sealing and sending (ledger_seal.c) ================================= */

/* The seal under way: its store write runs with the writer mutex let go
 * (ledger_seal), one at a time: sealing is set meanwhile, and done is
 * broadcast when it ends. wb is its store batch. Under mu. */
struct sealer {
	bool sealing;
	unsigned waiters; /* threads waiting for it (tests watch this) */
	pthread_cond_t done;
	store_batch *wb;
};

void ledger_sealer_init(struct sealer *s);
void ledger_sealer_free(struct sealer *s);
/* Seals partition p's open batch, its ops numbered up to upto (why: what
 * sealed it, counted in sealed_by):
 * one store write, made with the mutex let go (the caller's state may
 * change meanwhile, as across ledger_wait). Mutex held. */
int ledger_seal(ledger *l, uint32_t p, uint64_t wall_ms, ledger_seal_why why, uint64_t upto)
    TSA_REQUIRES(LEDGER_MU(l));
/* Seals p's open batch while it holds a batch's worth (after a group
 * filled it); a failure is logged, the ops stay open. Mutex held. */
void ledger_seal_full(ledger *l, uint32_t p, uint64_t wall_ms) TSA_REQUIRES(LEDGER_MU(l));
/* Seals the open batches that are old enough (with force, every one),
 * each in as many batches as it takes: 0 or the first seal's error. */
int ledger_seal_each_due(ledger *l, uint64_t wall_ms, bool force) TSA_REQUIRES(LEDGER_MU(l));

/* === struct ledger ====================================================== */

struct ledger {
	tsa_mutex cmu;             /* the count writers' mutex: see the top */
	tsa_mutex mu;              /* the writer mutex */
	uint64_t mu_since;         /* when the holder took it (ns) */
	const ledger *mine_before; /* the holder's ledger_mine before mu */
	store *db;                 /* borrowed; LevelDB is thread-safe */
	char *edge_id, *region;
	ledger_opts o; /* set at open, read-only after */
	/* Under mu: the store batch of one-off writes (snapshot positions,
	 * replica records), one at a time, and the stats, but for the
	 * view's share (struct view), the membership reads (struct
	 * members) and the replays. */
	store_batch *wb;
	/* Under cmu: the count writers' store batch (a snapshot's, a
	 * checkpoint message's, the kept read-through counts), written with
	 * mu let go. */
	store_batch *snap_wb;
	ledger_stats st;
	struct commit commit;
	struct committer committer;
	struct members members;
	atomic_uint_fast64_t replays; /* writes answered from a record (ledger_stage.c; no lock) */
	struct outbox outbox;
	struct sealer sealer;
	struct view view;
	struct replica replica;
	/* A follower's (ledger_opts.follower) until the log says it took
	 * over (ledger_follow): set under cmu and mu, read by any thread. */
	_Atomic bool following;
	/* ledger_follow's hand-over, run on the log's thread before the
	 * follower becomes the writer. */
	int (*handover)(void *ctx);
	void *handover_ctx;
	bool follow_asked;  /* ledger_follow was called (once only) */
	bool members_fresh; /* no membership at open, as an active (ledger_members_fresh) */
	/* Per partition: the version from which this store has every change
	 * of its home users' pairs ('H'; 0: none). Written with mu held
	 * (ledger_home_apply) or by the follower's writes, read by any. */
	_Atomic uint64_t *home_from;
	/* ledger_member_sweep's place: the successor of the last 'M' key it
	 * looked at (fromn 0: the start), read from 'W' by its first call.
	 * Its caller's thread only. */
	struct {
		char from[KEY_MAX + 1];
		size_t fromn;
		bool loaded;
	} sweep;
	/* ledger_idem_sweep's place (idem.h). Its caller's thread only. */
	idem_sweeper idem_cursor;
};

/* The count writers' mutex (see the top of this file). Not timed: it is
 * taken by the upstream thread (snapshots, the seal tick, a snapshot
 * position reset), the checkpoint loader, the drain's forced seal and
 * ledger_free, never by a request. */
static inline void ledger_lock_counts(ledger *l) TSA_ACQUIRE(LEDGER_CMU(l)) TSA_NO_ANALYSIS
{
	pthread_mutex_lock(&l->cmu);
}

/* Takes it if it is free: true when it did. */
static inline bool ledger_trylock_counts(ledger *l)
    TSA_TRY_ACQUIRE(true, LEDGER_CMU(l)) TSA_NO_ANALYSIS
{
	return pthread_mutex_trylock(&l->cmu) == 0;
}

static inline void ledger_unlock_counts(ledger *l) TSA_RELEASE(LEDGER_CMU(l)) TSA_NO_ANALYSIS
{
	pthread_mutex_unlock(&l->cmu);
}

/* The writer mutex and the view stripes' mutexes, timed: the time each
 * is held goes to the stats (the serial fraction). Waiting on a
 * condition variable does not count as holding. A stripe's time counts
 * only where the writer mutex is not held too, so that the two sections
 * do not count the same time twice. */
static inline void ledger_lock(ledger *l) TSA_ACQUIRE(LEDGER_MU(l)) TSA_NO_ANALYSIS
{
	pthread_mutex_lock(&l->mu);
	l->mu_since = clock_mono_ns();
	l->mine_before = ledger_mine;
	ledger_mine = l;
}

static inline void ledger_unlock(ledger *l) TSA_RELEASE(LEDGER_MU(l)) TSA_NO_ANALYSIS
{
	ledger_mine = l->mine_before;
	l->st.writer_lock_ns += clock_mono_ns() - l->mu_since;
	pthread_mutex_unlock(&l->mu);
}

static inline void ledger_wait(ledger *l, pthread_cond_t *c) TSA_REQUIRES(LEDGER_MU(l))
{
	const ledger *before = l->mine_before;
	ledger_mine = before;
	l->st.writer_lock_ns += clock_mono_ns() - l->mu_since;
	pthread_cond_wait(c, &l->mu);
	l->mu_since = clock_mono_ns();
	l->mine_before = before;
	ledger_mine = l;
}

/* Runs fn(l, ctx) with the writer mutex let go, and takes it back: the
 * one way a function holding mu does store I/O or frees outside it (a
 * seal's write, a snapshot's). As across ledger_wait, what the caller
 * read under mu may have changed when it returns; fn may take no ledger
 * lock but the view stripes. */
static inline void ledger_outside(ledger *l, void (*fn)(ledger *, void *), void *ctx)
    TSA_REQUIRES(LEDGER_MU(l))
{
	ledger_unlock(l);
	fn(l, ctx);
	ledger_lock(l);
}

#endif
