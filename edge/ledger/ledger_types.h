/* ledger_types.h - the ledger's public types and limits: what a caller
 * passes to and gets from the calls ledger.h declares, and what the
 * ledger's own files share with its callers. Declares no function of a
 * ledger file (the tickets' two inline reads aside), so that the
 * ledger's lower layers take their types from here, not from the top
 * of the ledger (ledger.h, ledger.c).
 */
#ifndef EDGE_LEDGER_TYPES_H
#define EDGE_LEDGER_TYPES_H

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
	/* A follower's side (ledger_opts.follower, ledger_follow): reads
	 * the active's records into db on a thread of the log's, each
	 * handed to apply (arg) as the store batch to write, until this
	 * instance takes the log over; then calls promote (arg) once, on
	 * that thread. 0, or why it cannot start. NULL in a log that has no
	 * follower (the no-op log). */
	int (*follow)(void *ctx, store *db, int (*apply)(void *arg, store_batch *wb),
	              int (*promote)(void *arg), void *arg);
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
	 * instance's changelog through its log's follow (ledger_follow); it
	 * refuses writes (ERR_FENCED), seals and sends nothing, until the
	 * log says this instance took over. */
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

/* One count of a batch read: counter and item with their lengths. */
typedef struct ledger_ref {
	const char *counter, *item;
	size_t cl, il;
} ledger_ref;

/* Per partition of the home stream: where it resumes (-1: unchanged)
 * and the version from which this store has every change of its users'
 * pairs there (LEDGER_HOME_NONE: none, as after a gap), written
 * together. */
#define LEDGER_HOME_NONE UINT64_MAX
typedef struct ledger_home_pos {
	int64_t next;
	uint64_t from;
} ledger_home_pos;

/* A pass of the membership retention (ledger_member_sweep). */
typedef struct ledger_sweep {
	uint64_t scanned; /* records looked at */
	uint64_t dropped; /* of which dropped */
	uint64_t held;    /* old enough, kept for an unconfirmed op of their partition */
	bool wrapped;     /* the pass reached the last record */
	bool full;        /* the slice stopped at its most drops: call again soon */
} ledger_sweep;

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

#endif
