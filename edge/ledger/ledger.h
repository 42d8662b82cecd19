/* ledger.h - the edge's durable state and its in-memory views.
 *
 * The ledger owns, in the edge's LevelDB:
 *   'M' counter 0 item 0 user -> membership [state u8][hlc u64]
 *   'G' gno                   -> a group record: the ops one group commit
 *                                staged, per partition [format u8][parts
 *                                u32] then [p u32][first opno u64][n u32]
 *                                [op]... each; deleted by the seal that
 *                                takes its last open op
 *   'P' partition opno        -> a run: one group's ops in one partition
 *                                [format u8][n u32][op]..., for a partition
 *                                that cannot seal yet, and in stores from
 *                                before group records
 *   'O' partition opno        -> one pending op (stores from before runs;
 *                                read at start, deleted at seal)
 *   'B' partition seq         -> a sealed batch (wire bytes, as produced)
 *   'D' partition seq         -> a byte per op of that batch: 1 when the op
 *                                moves this edge's overlay, 0 for a repeat
 *   'S' partition             -> last sealed sequence, and sealed_to: the
 *                                partition's ops numbered below it are
 *                                sealed [seq u64][sealed_to u64] (8 bytes,
 *                                sequence only, before group records)
 *   'A' partition             -> what central's snapshots said last:
 *                                [applied u64][offset u64][produced_ms u64]
 *   'C' counter 0 item        -> snapshot count [count u64][version u64]
 *   'K' partition             -> next snapshot-topic offset to read
 *   'N' partition             -> the highest version of any snapshot
 *                                message applied, whole or a part [u64]
 *   'R' partition             -> the replica's state (ledger_replica.c)
 *   'I', 'J'                  -> idempotency records (idem.h), written in
 *                                the same batch as the ops they answer
 * and, in memory, the open batches, the sealed-but-unapplied batch index,
 * the overlay of this edge's own ops not yet covered by a snapshot, a
 * bounded cache of snapshot counts, and a bounded cache of counts read
 * through from central for items no snapshot has brought yet.
 *
 * A write's records (membership + its op in a group record) reach LevelDB before the
 * caller answers: at once (ledger_write_ops), or staged with the other
 * writes of a loop turn and written with them in one batch
 * (ledger_stage_ops, ledger_commit: group commit). Sealed batches stay
 * until a snapshot shows them applied at central.
 *
 * Any thread may call any function. Writes, seals, sends and snapshots
 * take the ledger's writer lock, which may be held across store writes
 * and fsyncs; count reads (ledger_read) take only the view stripe of
 * their item's partition, which is never held across store I/O, and
 * ledger_member takes no lock: no read waits for a write (ledger_int.h).
 * The sink is called with the writer lock held and must not call back
 * into the ledger.
 */
#ifndef EDGE_LEDGER_H
#define EDGE_LEDGER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "edge/ledger/idem.h"
#include "item.h"
#include "store.h"
#include "wire.h"

struct metrics;
struct telemetry;

typedef struct ledger ledger;

/* Hands a sealed batch to Kafka. 0 when queued, ERR_AGAIN when the
 * producer is full (the ledger tries again on the next pump). */
typedef int (*ledger_send_fn)(void *ctx, uint32_t partition, uint64_t seq, const void *buf,
                              size_t len);

/* The log the ledger copies its own writes to before its store: the
 * changelog (edge/changelog, whose functions these are; the ledger
 * includes nothing of it). The store batches the ledger writes for
 * itself (a group commit's, a seal's, and the deletion of confirmed
 * batches beside a snapshot's count write) reach the store one way: the
 * copy begun and ended, then, only once the log took it, the store
 * write, then the log told of its outcome (ledger_int.h,
 * ledger_log_write). Called with the writer mutex let go, from the
 * commit thread, a worker or the upstream thread; ctx is
 * ledger_opts.log_ctx. A ledger opened without a log gets one that
 * takes every copy at once, vouches for every send and refuses
 * nothing. */
typedef struct ledger_log {
	/* Sends wb's copy, in the order called, and returns what end waits
	 * on. may_defer: the copy may be held on this machine's disk and
	 * appended later (a group's, whose ops are answered once stored;
	 * with the changelog's durability = local); a seal's may not (its
	 * batch is sent once stored, and no batch may reach central before
	 * the log holds its seal), nor may the deletion of confirmed
	 * batches (a hint). */
	void *(*begin)(void *ctx, store_batch *wb, bool may_defer);
	/* Waits for the copy begin sent, called once with the same wb: 0
	 * once the log holds it (it may add to wb: the log's position), or
	 * why not, and then the write is refused (a group's writes answer
	 * 503, a seal's ops stay open). */
	int (*end)(void *ctx, store_batch *wb, void *pending);
	/* The store write of wb, whose copy end took, is done: rc. */
	void (*written)(void *ctx, const store_batch *wb, int rc);
	/* A group's copy that the ledger refuses and that may be in the log
	 * (end failed, but for ERR_FENCED; or it took it and the group was
	 * staged on one that failed, or the group's store write failed:
	 * then in place of written): it must not count there. Called once
	 * every group before it is written. */
	void (*refused)(void *ctx, const store_batch *wb);
	/* True while a write staged now would be refused without being
	 * copied (the region's Kafka took no copy lately and a probe is
	 * out). Such a write is refused before it is staged, as the copy's
	 * error would refuse it, so that no write waits on the request loop
	 * behind a copy doomed to time out. */
	bool (*refusing)(void *ctx);
	/* False while sealed batches may not be sent (ledger_pump sends
	 * none; the next pump tries again): the log cannot vouch that this
	 * instance is still the writer. */
	bool (*may_send)(void *ctx);
} ledger_log;

typedef struct ledger_opts {
	const char *edge_id;
	const char *region;
	uint32_t partitions;
	uint32_t seal_ops;          /* seal a batch at this many ops */
	bool seal_sums;             /* sum counters' ops sealed as per-item sums (v2) */
	uint64_t seal_age_ms;       /* or when its first op is this old */
	uint64_t budget_bytes;      /* pending bytes past which writes are refused */
	uint64_t window_bytes;      /* unapplied bytes per partition let into Kafka */
	size_t cache_entries;       /* snapshot counts kept in memory */
	size_t rt_entries;          /* read-through counts kept in memory */
	uint64_t rt_ttl_ms;         /* how long a read-through count is used */
	uint64_t max_ahead_ms;      /* a client clock further ahead is ignored */
	bool seq_from_checkpoint;   /* a partition this store never sealed
	                               takes its batch sequence from central's
	                               checkpoint before it seals (central.ops
	                               set: the edge loads its replica) */
	size_t member_filter_bytes; /* Bloom filter of the pairs with a
	                               membership record, so a first like
	                               skips the store read; 0 = none */
	bool commit_thread;         /* group writes on a thread of their own */
	/* Groups in flight at once with commit_thread and a log: while
	 * one group's copy waits for its
	 * acknowledgement, the next is taken and its copy sent, each on a
	 * commit thread of its own; they are written and answered in the
	 * order taken, and a failed one fails those staged on it. 0 or 1:
	 * one at a time; at most COMMIT_DEPTH_MAX (2). */
	unsigned commit_depth;
	bool home_cover;         /* users at home here: keep the versions at
	                            which counts were 0 ('Z'), so a pair
	                            absent here can be a known no
	                            (ledger_member_home) */
	uint64_t member_keep_ms; /* store.member_keep_s: a home event older
	                            than this, for a pair the store lacks,
	                            is not kept (ledger_home_apply); 0 =
	                            all kept */
	/* Tests only. before_group_write: called before each group write,
	 * with the writer mutex let go, on whichever thread writes the group
	 * (the commit thread, or a writer committing at once). after_preread: called by a write
	 * (and a home stream's apply) between its reads made before the writer mutex and taking the
	 * mutex. after_stage: called
	 * by a write staged with a ticket, the mutex let go, before it returns (as when the commit
	 * thread takes and writes the group at once). */
	void (*before_group_write)(void *ctx);
	void (*after_preread)(void *ctx);
	void (*after_stage)(void *ctx);
	void *hook_ctx;
	ledger_send_fn send;
	void *send_ctx;
	/* The log the ledger copies its own writes to (ledger_log; edge/
	 * changelog's), and its ctx. NULL: none, and a log that takes
	 * every copy at once stands in. */
	const struct ledger_log *log;
	void *log_ctx;
	/* Open as a follower (a standby instance under edge/changelog): it
	 * loads and keeps the replica of counts and answers reads, while
	 * its own records (pending ops, sealed batches, sequences,
	 * memberships, idempotency records) come from the active
	 * instance's changelog through ledger_follow_write; it refuses
	 * writes (ERR_FENCED), seals and sends nothing, until
	 * ledger_promote. */
	bool follower;
	struct telemetry *tm; /* seals, refusals, hot items, commit times; NULL: none */
	/* Tests: called by ledger_member_sweep between its scan and its
	 * drops, with no lock held (a write racing the sweep). NULL: none. */
	void (*sweep_scanned)(void *ctx);
	void *sweep_ctx;
} ledger_opts;

/* A count as this edge shows it. */
typedef struct ledger_view {
	uint64_t count;   /* base + this edge's own ops not yet in it, >= 0 */
	uint64_t version; /* input offset at central the base reflects */
	uint64_t as_of;   /* central's wall clock (ms) when it made the base */
	bool known;       /* false: no snapshot or read-through brought one */
	uint64_t base;    /* central's count in it, before this edge's own ops */
} ledger_view;

typedef struct ledger_op {
	const char *counter, *item, *user;
	const char *home;    /* set counters: the user's home region; NULL or
	                        "" when the identity names none */
	bool sum;            /* a sum counter: adds n, keeps no membership */
	bool add;            /* set counters: add, or remove */
	uint32_t n;          /* sum counters: 1..COUNTER_SUM_MAX */
	int prior;           /* set counters: membership central reported,
	                        used when this edge has none: -1, 0 or 1 */
	uint64_t client_hlc; /* a clock the client sent back, or 0 */
} ledger_op;

/* A membership from the home stream: central applied it for a user at
 * home in this edge's region, made in another region (docs/events.md,
 * "Home streams"). Or, with counter NULL, a move: from since_ms on, user
 * lives in home, and every pair of the user in partition came before
 * it on the new home's stream. */
typedef struct ledger_home_ev {
	const char *counter, *item, *user;
	bool member;
	uint64_t hlc; /* the winning op's clock */
	const char *home;
	uint64_t since_ms;
	uint32_t partition;
} ledger_home_ev;

typedef struct ledger_answer {
	bool member;      /* the user's membership after the call */
	bool changed;     /* the op moved this edge's count */
	uint64_t hlc;     /* the op's clock */
	ledger_view view; /* the count this user should now see */
} ledger_answer;

/* Renders the answers of a write that carries an idempotency key into
 * the bytes stored with it (malloc'ed); called with the lock held, after
 * every answer is known and before anything is written. */
typedef char *(*ledger_render_fn)(void *ctx, const ledger_answer *answers, size_t n, size_t *len);

typedef struct ledger_idem {
	idem_req req;
	ledger_render_fn render;
	void *ctx;
} ledger_idem;

/* The stored answer of an earlier request with the same key. */
typedef struct ledger_replay {
	bool replayed;
	int status;
	char *body; /* malloc'ed */
	size_t len;
} ledger_replay;

/* The most stripes the view is cut in (ledger_int.h, struct view). */
#define LEDGER_VIEW_STRIPES 16

/* What sealed a batch: ledger_stats.sealed_by, and the reason label of
 * batches_sealed_total (ledger_seal_name). */
typedef enum ledger_seal_why {
	LEDGER_SEAL_OPS,   /* it reached batch.max_ops */
	LEDGER_SEAL_AGE,   /* its first op reached batch.max_age_ms */
	LEDGER_SEAL_DRAIN, /* sealed on demand (shutdown) */
	LEDGER_SEAL_CLOCK, /* the wall clock stepped back */
	LEDGER_NSEALS
} ledger_seal_why;

/* The reason's name in metrics: "ops", "age", "drain", "clock". */
const char *ledger_seal_name(ledger_seal_why why);

typedef struct ledger_stats {
	uint64_t ops_accepted;
	uint64_t ops_duplicate;
	uint64_t ops_replayed; /* answered from an idempotency record */
	uint64_t batches_sealed;
	uint64_t sealed_by[LEDGER_NSEALS]; /* batches_sealed by what sealed them */
	uint64_t batches_sent;             /* produce calls, resends included */
	uint64_t batches_resent;
	uint64_t batches_applied; /* confirmed by a snapshot and dropped */
	uint64_t snapshots_applied;
	uint64_t snapshots_stale;
	uint64_t pending_bytes;
	uint64_t pending_batches;
	uint64_t pending_ops;          /* in open batches */
	uint64_t readthrough_kept;     /* read-through counts kept for good */
	uint64_t members_dropped;      /* memberships retention dropped (ledger_member_sweep) */
	uint64_t member_sweeps;        /* its passes over every membership */
	uint64_t commits;              /* store writes of staged ops (groups) */
	uint64_t commits_failed;       /* of which failed: every op refused */
	uint64_t member_reads;         /* membership lookups in the store */
	uint64_t member_reads_skipped; /* the filter said: never recorded */
	uint64_t cache_hits;           /* snapshot counts found in memory */
	uint64_t cache_misses;         /* ... read from the store instead */
	uint64_t overlay_entries;      /* (counter, item) pairs with ops here unapplied */
	/* Ops staged with their membership and count read before the writer
	 * mutex (stage_fresh), and those read again under it because a
	 * group joined the overlay meanwhile (stage_reread). */
	uint64_t stage_fresh;
	uint64_t stage_reread;
	/* Time spent where one thread at a time can be, summed over threads
	 * (ns): holding the writer mutex, holding a view stripe's mutex
	 * (but not with the writer mutex: that time is the writer mutex's;
	 * view_lock_ns sums the stripes, view_stripe_ns[0..view_stripes)
	 * has each), and the commit threads' group writes with the
	 * building of their records (LevelDB takes one writer at a time;
	 * with pipelined copies two groups' copy waits overlap, so this
	 * one may pass wall time), the last also as the commit threads'
	 * CPU time (without the waits for a copy and an fsync). Only the
	 * writer mutex and
	 * the writes are shared by every thread: a view stripe only by the
	 * threads that read or write its partitions' counts. */
	uint64_t writer_lock_ns;
	uint64_t view_lock_ns;
	uint32_t view_stripes;
	uint64_t view_stripe_ns[LEDGER_VIEW_STRIPES];
	uint64_t commit_write_ns;
	uint64_t commit_write_cpu_ns;
	/* A seal's encoding and store write, made with the writer mutex
	 * let go but one seal at a time: serial too, as CPU time. */
	uint64_t seal_write_cpu_ns;
} ledger_stats;

/* The bytes each in-memory structure of the ledger holds on the heap
 * now: estimates from entry counts and sizes (memacct.h), kept by the
 * structures' owners as they change. */
typedef struct ledger_memory {
	uint64_t count_cache;   /* snapshot counts cached (cache.entries): the
	                           maps' slots and long keys, both generations */
	uint64_t readthrough;   /* counts read through from central
	                           (central.cache_entries): slots, keys, entries */
	uint64_t overlay;       /* this edge's ops central has not confirmed, one
	                           entry per count they move: slots, keys, entries */
	uint64_t member_filter; /* the membership filter's pages its keys wrote
	                           (store.member_filter_mb at most) */
	uint64_t outbox;        /* open batches (their ops and strings, runs,
	                           records) and the sealed-batch index */
} ledger_memory;

/* What the snapshots applied for one partition said last. */
typedef struct ledger_part_info {
	uint64_t as_of;   /* central's clock (ms) when it made the last one; 0: none yet */
	uint64_t version; /* the partition's input offset it reflects */
} ledger_part_info;

/* One partition as `edge inspect` shows it (ledger_inspect). */
typedef struct ledger_part_state {
	uint64_t open_ops;       /* ops in the open batch */
	uint64_t open_bytes;     /* their stored size */
	uint64_t sealed;         /* sealed batches no snapshot has confirmed */
	uint64_t sealed_bytes;   /* their wire size */
	uint64_t seq_lo, seq_hi; /* their lowest and highest seq; 0 when none */
	uint64_t unsent;         /* of them: waiting for the producer (or the window) */
	uint64_t inflight;       /* handed to Kafka, no delivery report yet */
	uint64_t delivered;      /* in Kafka, not applied by central yet */
	uint64_t last_seq;       /* the last seq sealed */
	uint64_t applied;        /* the highest seq central's snapshots confirmed */
	uint64_t version;        /* the last snapshot's input offset at central */
	uint64_t as_of;          /* central's clock (ms) when it made it; 0: none yet */
	bool in_window;          /* sealed_bytes within window_bytes: nothing held back */
} ledger_part_state;

/* The edge as a whole, filled with the partitions by ledger_inspect. */
typedef struct ledger_summary {
	const char *edge_id, *region; /* the ledger's: valid until ledger_free */
	uint32_t partitions;
	uint64_t budget_bytes; /* pending bytes past which writes are refused */
	uint64_t window_bytes; /* per partition, unapplied bytes let into Kafka */
	ledger_stats st;
} ledger_summary;

/* Group commit. A write staged with a ticket (ledger_stage_ops) is not
 * written at once: every write staged before the next ledger_commit goes
 * into the store in one write (one fsync with store.sync), and only then
 * may its answer be sent. The caller owns the ticket and keeps it in
 * place until it is resolved: LEDGER_DURABLE, or the negative ERR_* of
 * the failed write, in which case none of the group's ops was recorded.
 *
 * Without commit_thread, ledger_commit writes the group before it returns
 * and resolves its tickets. With it, ledger_commit only asks the ledger's
 * commit thread, which writes the group while writes go on staging into
 * the next one (they see the memberships and counts of the group being
 * written), then resolves the tickets and calls each distinct wake
 * (wake_ctx) of the group's tickets once, on its own thread. Either way
 * groups reach the store in the order they were staged, and state is
 * read with an acquire load (ledger_ticket_state). */
#define LEDGER_GROUP_OPS 1024 /* ops in one group, and in one call */

enum { LEDGER_UNSTAGED = 0, LEDGER_STAGED = 1, LEDGER_DURABLE = 2 };

typedef struct ledger_ticket {
	atomic_int state;           /* LEDGER_* or a negative ERR_* */
	struct ledger_ticket *next; /* the ledger's */
	void (*wake)(void *ctx);    /* commit thread: the group is resolved */
	void *wake_ctx;
} ledger_ticket;

static inline int ledger_ticket_state(const ledger_ticket *t)
{
	return atomic_load_explicit(&t->state, memory_order_acquire);
}

/* A write was staged with t (t may be NULL): its outcome is its group's,
 * whether the group is still open or, with the commit thread, already
 * written or failed by the time the staging call's caller looks. */
static inline bool ledger_ticket_staged(const ledger_ticket *t)
{
	return t && ledger_ticket_state(t) != LEDGER_UNSTAGED;
}

/* Loads the pending state from db (which the ledger does not own) and
 * rebuilds the overlay. NULL with the reason in err. */
ledger *ledger_open(store *db, const ledger_opts *o, char *err, size_t errlen);
void ledger_free(ledger *l);

/* A follower's store write of what the active's changelog holds (ctx:
 * the ledger; edge/changelog's sink): the membership filter learns the
 * batch's memberships, then the batch is written. Any one thread. */
int ledger_follow_write(void *ctx, store_batch *wb);
/* A follower becomes the writer (ctx: the ledger): the pending ops,
 * sealed batches and sequences the store holds now are loaded into the
 * open batches, the outbox and the overlay, as at a restart, and what is
 * sealed goes out. Reads go on meanwhile, each seeing the overlay grow.
 * 0 or the store's error (then it stays a follower). */
int ledger_promote(void *ctx);
/* Opened as a follower and not promoted yet. Any thread. */
bool ledger_following(const ledger *l);

/* Stops the commit threads (commit_thread) after the groups in flight,
 * whose tickets' wakes they call; a later ledger_commit writes at once.
 * For shutdown: after the threads that stage have stopped, before what a
 * ticket's wake uses is freed. ledger_free does it too. */
void ledger_stop_commits(ledger *l);

/* Records ops in one atomic store write: membership changes, pending
 * ops and (with idem) the idempotency record holding the rendered
 * answer. Ops of a set counter that repeat the state known here are
 * recorded and sent too (the state may be stale after the user acted at
 * another region) but answer changed=false and leave the count alone.
 * With idem, a live record for the same key answers from it instead
 * (replay->replayed, nothing recorded), and ERR_CONFLICT when that key
 * was used for a different request. An unlike of a pair never seen here
 * (and no prior) is recorded and sent but does not move the count:
 * changed=false, central settles it. A count this edge does not know
 * yet answers view.known=false. ERR_INVAL for an op
 * out of range,
 * ERR_FULL when the pending budget is spent, ERR_IO when the store
 * failed, and with a log (ledger_opts.log) its error, ERR_TIMEOUT or
 * ERR_KAFKA, when the copy was not acknowledged: nothing is recorded in
 * the store in those cases (the copy may yet reach the changelog: docs/
 * ARCHITECTURE.md, "The changelog"); ERR_TIMEOUT too, with no copy
 * tried, while the log is refusing copies. Ops staged by others
 * (ledger_stage_ops) are written in the same store write. */
int ledger_write_ops(ledger *l, const ledger_op *ops, size_t n, uint64_t wall_ms,
                     ledger_answer *answers, const ledger_idem *idem,
                     ledger_replay *replay) WARN_UNUSED;

/* As ledger_write_ops, but with t the ops are staged rather than
 * written: the answers (and replay) are filled in, and t->state is
 * LEDGER_STAGED until a ledger_commit writes them. Without t it is
 * ledger_write_ops, which commits the open group, this call's ops
 * included, before it returns. A replayed answer or an error stages
 * nothing (t->state stays LEDGER_UNSTAGED). At most LEDGER_GROUP_OPS ops. */
int ledger_stage_ops(ledger *l, const ledger_op *ops, size_t n, uint64_t wall_ms,
                     ledger_answer *answers, const ledger_idem *idem, ledger_replay *replay,
                     ledger_ticket *t) WARN_UNUSED;

/* Writes every staged op in one store write and resolves their tickets.
 * 0 (also when nothing was staged) or the write's error (ERR_IO, or the
 * changelog's ERR_TIMEOUT or ERR_KAFKA). With
 * commit_thread it asks the commit threads instead and returns 0 at once. */
int ledger_commit(ledger *l, uint64_t wall_ms);
/* Writes every staged op before it returns, in either mode (after the
 * groups the commit threads are writing, if any). 0 or the write's error. */
int ledger_commit_now(ledger *l, uint64_t wall_ms);
bool ledger_commits_async(const ledger *l);

/* One set-counter op, without an idempotency key. */
int ledger_write(ledger *l, const char *counter, const char *item, const char *user, bool add,
                 uint64_t wall_ms, ledger_answer *a) WARN_UNUSED;

/* The count of (counter, item) as this edge should show it. */
int ledger_read(ledger *l, const char *counter, const char *item, ledger_view *out) WARN_UNUSED;

/* One count of a batch read: counter and item with their lengths. */
typedef struct ledger_ref {
	const char *counter, *item;
	size_t cl, il;
} ledger_ref;
/* The counts of refs[0..n) into out[0..n), as n ledger_read calls would
 * answer them, but sorted by view stripe (in windows of 128 refs, whose
 * cache slots are all asked for first), each stripe's counts under one
 * hold of its lock while each is in memory (a
 * feed page's counts mostly are); the lock is let go for each count that
 * must be read from the store. Counts of different stripes may be of
 * different instants: one group's likes of two items can show on one
 * and not yet on the other. 0, ERR_INVAL for a name too long, or the
 * store's error (out[] then partly filled, in no particular order). */
int ledger_read_many(ledger *l, const ledger_ref *refs, size_t n, ledger_view *out) WARN_UNUSED;

/* Keeps a count read through from central: its value, the partition's
 * input offset and this edge's applied sequence there when central read
 * it, and central's clock. Used for rt_ttl_ms, and kept for good once
 * snapshots have caught up with it. */
void ledger_readthrough_put(ledger *l, const char *counter, const char *item, uint64_t count,
                            uint64_t version, uint64_t applied, uint64_t as_of);

/* Drops expired idempotency records, at most max; how many, or ERR_IO.
 * From where the last call stopped (idem.h): one thread only. */
int ledger_idem_sweep(ledger *l, uint64_t wall_ms, int max) WARN_UNUSED;

/* Per partition of the home stream: where it resumes (-1: unchanged)
 * and the version from which this store has every change of its users'
 * pairs there (LEDGER_HOME_NONE: none, as after a gap), written
 * together. */
#define LEDGER_HOME_NONE UINT64_MAX
typedef struct ledger_home_pos {
	int64_t next;
	uint64_t from;
} ledger_home_pos;

/* Puts evs[0..n), read from the home stream, each where it is newer
 * (hlc) than the pair's state here (a move: where it is later than the
 * one kept for its user and partition), with the stream's positions (pos[p]
 * for each partition p; next -1: unchanged), as one group commit: in
 * the changelog in
 * order with the writes, so a standby has them. Moves the clock past
 * each. An event older than store.member_keep_s before wall_ms is kept
 * only for a pair held here; an old like marks its item in any case
 * ('Y'). 0 with *taken the events that changed a pair; ERR_AGAIN when an
 * op not yet written holds a pair with an older clock (nothing staged:
 * call again once it is written); ERR_FENCED while following; ERR_INVAL
 * for an event out of bounds; or the group commit's error (nothing
 * written). Any thread; waits for the write. */
int ledger_home_apply(ledger *l, const ledger_home_ev *evs, size_t n, const ledger_home_pos *pos,
                      uint64_t wall_ms, size_t *taken) WARN_UNUSED;
/* Where partition p of the home stream resumes, and the version from
 * which this store has every change of its users' pairs there
 * (LEDGER_HOME_NONE: not known): 0, or ERR_NOTFOUND when none was
 * stored. */
int ledger_home_resume(ledger *l, uint32_t p, int64_t *next, uint64_t *from) WARN_UNUSED;
/* Where user lives as far as this store knows, for item's partition:
 * the last move the home stream (or central's home checkpoint) told of
 * there: 0 with its home (EDGE_ID_MAX + 1 bytes) and since_ms, or
 * ERR_NOTFOUND (no move of the user is known: most users, answered from
 * the membership filter without a store read). Any thread, no lock. */
int ledger_home_mark(ledger *l, const char *user, const char *item, char *home,
                     uint64_t *since_ms) WARN_UNUSED;
/* Partitions with a horizon (ledger_home_resume's from). Any thread. */
uint32_t ledger_home_ready(ledger *l);
/* A membership of a user at home in this edge's region: as
 * ledger_member, but a pair this store lacks is a known no (0) when the
 * store has every member of its item that such a user can have: the
 * partition's memberships loaded from central's checkpoint with the
 * stream followed since (horizon 0), or the home stream followed since a
 * version the item's count was 0 at, or is (ledger_item_covered); but
 * not for an item retention dropped memberships of ('Y'). -1 when not
 * known. */
int ledger_member_home(ledger *l, const char *counter, const char *item, const char *user,
                       int *state) WARN_UNUSED;
/* store.member_keep_s in ms (0: memberships are kept for ever). */
uint64_t ledger_member_keep_ms(const ledger *l);
/* Whether the store held no membership when it was opened, as an active
 * (not a follower): every record it holds then came later, from this
 * edge's ops, the home stream or central's home checkpoint, so a home
 * load into it may leave out pairs older than the window (central's
 * since_ms) without leaving a stale record behind. Any thread. */
bool ledger_members_fresh(const ledger *l);

/* Retention of memberships (store.member_keep_s): looks at up to
 * scan_max 'M' records from where the last call stopped ('W', kept with
 * the drops; the start again after the last), and drops those whose
 * op's clock is more than keep_ms before wall_ms, marking the items of
 * dropped likes ('Y'): from then on a pair of such an item that the
 * store lacks is not known (ledger_member_home: -1, read through) unless
 * the item's count at central is 0, never a "no". A dropped "not a
 * member" needs no mark: absent says the same. A record is kept while its pair has a
 * newer state in a group being written, and every record of a
 * partition while central has not confirmed one of its ops older than
 * the cut: such an op's membership is the only place its like shows
 * until then. The drops go through a group commit (and so the
 * changelog). Not while following (a standby's records are the
 * active's). Its caller's thread, one call at a time. 0 or the group
 * commit's or the store's error; out (may be NULL) says what it did. */
typedef struct ledger_sweep {
	uint64_t scanned; /* records looked at */
	uint64_t dropped; /* of which dropped */
	uint64_t held;    /* old enough, kept for an unconfirmed op of their partition */
	bool wrapped;     /* the pass reached the last record */
	bool full;        /* the slice stopped at its most drops: call again soon */
} ledger_sweep;
int ledger_member_sweep(ledger *l, uint64_t wall_ms, uint64_t keep_ms, size_t scan_max,
                        ledger_sweep *out) WARN_UNUSED;

/* ledger_member with the clock of the op that set it (0 when none). */
int ledger_member_at(ledger *l, const char *counter, const char *item, const char *user, int *state,
                     uint64_t *stamp) WARN_UNUSED;

/* Local membership: 1 present, 0 absent, -1 never seen here. */
int ledger_member(ledger *l, const char *counter, const char *item, const char *user,
                  int *state) WARN_UNUSED;

/* Seals open batches that are old enough; with force, every open batch. */
int ledger_seal_due(ledger *l, uint64_t wall_ms, bool force) WARN_UNUSED;

/* Hands unsent sealed batches to the sink, in sequence order per
 * partition, until it says ERR_AGAIN; those that must be read back from
 * the store (resends) are read with the writer mutex let go. */
void ledger_pump(ledger *l);

/* Delivery report for (partition, seq): offset >= 0 when Kafka has it,
 * or -1 when it failed (the batch is sent again). */
void ledger_delivered(ledger *l, uint32_t partition, uint64_t seq, int64_t offset);

/* Applies a snapshot read at (snapshot partition, msg_offset): counts,
 * this edge's applied sequence (dropping confirmed batches) and resends
 * when central passed a batch without applying it. */
int ledger_apply_snapshot(ledger *l, const wire_snapshot *s, int64_t msg_offset) WARN_UNUSED;

/* The replica of counts (ledger_replica.c; its load, ledger_checkpoint.c).
 * A partition's replica is complete once a whole checkpoint of central's
 * has been loaded over the snapshots tailed from before it: from then on
 * an item with no count here is 0, not unknown. */
enum { LEDGER_REPLICA_NONE = 0, LEDGER_REPLICA_LOADING = 1, LEDGER_REPLICA_COMPLETE = 2 };

typedef struct ledger_replica {
	int state;        /* LEDGER_REPLICA_* */
	uint64_t version; /* the lowest checkpoint version loaded (complete to it) */
	uint64_t loaded;  /* counts loaded by the current or last checkpoint */
	uint32_t gen;     /* which load: ledger_replica_apply checks it */
	bool resume;      /* a cut-off load goes on after (counter, item) */
	char counter[COUNTER_MAX + 1], item[ITEM_MAX + 1];
} ledger_replica;

int ledger_replica_get(ledger *l, uint32_t p, ledger_replica *out) WARN_UNUSED;
/* Starts (or starts again) loading partition p: not complete until a
 * whole checkpoint is loaded. With tail >= 0 the snapshot stream of p
 * resumes there (the caller re-reads it from that offset), in the same
 * store write. */
int ledger_replica_begin(ledger *l, uint32_t p, int64_t tail) WARN_UNUSED;
/* Loads one checkpoint message for the load gen of its partition (from
 * ledger_replica_get): its counts, each unless the count here is newer;
 * the last message (s->last) also takes its edge list as a snapshot's and
 * completes the partition. 0; ERR_AGAIN when that load is over (the
 * partition is complete, or started loading again since: the caller
 * drops what it is reading); ERR_CORRUPT, ERR_IO. */
int ledger_replica_apply(ledger *l, const wire_snapshot *s, uint32_t gen) WARN_UNUSED;
/* How many partitions are complete; *loaded (may be NULL) the counts
 * loaded by checkpoints. */
uint32_t ledger_replica_ready(ledger *l, uint64_t *loaded);

/* The highest version of any snapshot message of p applied (0: none);
 * it includes every message whose resume point (below) a caller read
 * before. */
uint64_t ledger_snapshot_version(ledger *l, uint32_t p);

/* Where to resume reading snapshot partition p; ERR_NOTFOUND if never. */
int ledger_snapshot_resume(ledger *l, uint32_t p, int64_t *offset) WARN_UNUSED;

/* Moves the snapshot resume point of p (its old one is out of range). */
int ledger_snapshot_reset(ledger *l, uint32_t p, int64_t offset) WARN_UNUSED;

/* The bytes each in-memory structure holds now: relaxed atomic loads
 * (one per view stripe and structure), no lock, nothing walked. Any
 * thread, also while the ledger is written. */
void ledger_get_memory(const ledger *l, ledger_memory *out);

/* Adds the ledger's scrape-time figures to reg (ledger_metrics.c: its
 * counters and gauges, the replica's progress, each partition's snapshot
 * age, version and resume offset), read from l at each render. */
void ledger_metrics_add(struct metrics *reg, ledger *l);
/* Names l's structures among tm's memory holders (count_cache,
 * readthrough_counts, overlay, member_filter, outbox). Start-up. */
void ledger_memory_holders(struct telemetry *tm, ledger *l);

/* True while pending bytes are under budget. */
bool ledger_accepting(ledger *l);
void ledger_get_stats(ledger *l, ledger_stats *out);
/* Fills out[0..max) with partitions 0.. ; returns how many. */
size_t ledger_get_parts(ledger *l, ledger_part_info *out, size_t max);
/* Every partition's state and the totals, read under one lock hold so
 * they agree: from memory only (no store read), O(partitions + sealed
 * batches). Returns sum->partitions entries (malloc'ed, the caller
 * frees). */
ledger_part_state *ledger_inspect(ledger *l, ledger_summary *sum);

#endif
