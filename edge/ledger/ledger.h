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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/ledger/ledger_types.h"
#include "store.h"
#include "wire.h"

/* The name of a seal's cause, as the metrics' label says it. */
const char *ledger_seal_name(ledger_seal_why why);

/* Loads the pending state from db (which the ledger does not own) and
 * rebuilds the overlay. NULL with the reason in err. */
ledger *ledger_open(store *db, const ledger_opts *o, char *err, size_t errlen);
void ledger_free(ledger *l);

/* A follower (ledger_opts.follower) follows its log (ledger_log's
 * follow): each record of the active's is written to the store as the
 * ledger writes (the membership filter learns its memberships first).
 * Once this instance takes the log over, on the log's thread, handover
 * (ctx; NULL: none) runs first, and if it returns 0 the follower becomes
 * the writer: the pending ops, sealed batches and sequences the store
 * holds then are loaded into the open batches, the outbox and the
 * overlay, as at a restart, and what is sealed goes out (reads go on
 * meanwhile, each seeing the overlay grow). A failed load is logged (a
 * failed hand-over is the hand-over's to log), and writes stay refused.
 * 0, or ERR_INVAL (not a follower, a log with no follower's side, or
 * called before) or the log's error. */
int ledger_follow(ledger *l, int (*handover)(void *ctx), void *ctx);
/* Opened as a follower and not promoted yet. Any thread. */
bool ledger_following(const ledger *l);
/* A writer with a log learnt from central (a snapshot, a read-through
 * count) that central applied batches of this edge it never sealed:
 * another instance took its log over and writes as this edge, while
 * this one could not hear of it (cut from its log). Its overlay holds
 * ops central has from the other instance too, so from then on every
 * count read and every write answers ERR_FENCED, before any count
 * counting them twice is shown; the caller exits as a fenced instance
 * does. Any thread. */
bool ledger_overtaken(const ledger *l);

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
 * included, before it returns. An answer replayed from the store or an
 * error stages nothing (t->state stays LEDGER_UNSTAGED). While commit
 * threads run, a call with t never waits for a group: a retry of a
 * write still in a group gets that write's answer (replay->replayed)
 * with t on its group (LEDGER_STAGED: answer it once t is durable; it
 * fails with the first try), and a write that finds every group a
 * commit thread may take full is refused, ERR_AGAIN. At most
 * LEDGER_GROUP_OPS ops. */
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

/* Puts evs[0..n), read from the home stream, each where it is newer
 * (hlc) than the pair's state here (a move: where it is later than the
 * one kept for its user and partition), with the stream's positions (pos[p]
 * for each partition p; next -1: unchanged), as one group commit: in
 * the changelog in
 * order with the writes, so a standby has them. Moves the clock past
 * each. An event older than store.member_keep_s before wall_ms is kept
 * only for a pair held here; an old like marks its item in any case
 * ('Y'). 0 with *taken the events that changed a pair; ERR_AGAIN when an
 * op not yet written holds a pair with an older clock, or when groups
 * written while it read kept changing what it read (nothing staged: call
 * again); ERR_FENCED while following; ERR_INVAL
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

/* The replica of counts (ledger_replica.c; its load, ledger_checkpoint.c):
 * ledger_replica in ledger_types.h. */
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
