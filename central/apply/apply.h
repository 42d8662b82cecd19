/* apply.h - central's batch applier: strict per-(edge, partition) order,
 * LWW merge for set counters, sums for sum counters, per-region and
 * per-day aggregates, one atomic LevelDB write per Kafka message.
 *
 * For every consumed message the applier writes, in one LevelDB batch:
 * the membership states the ops changed, the counts derived from them,
 * the region and day buckets of those counts, the (edge, partition)
 * applied sequence and the partition's next input offset. A batch whose
 * sequence is already applied changes nothing but the offset; one after a
 * gap is stored as held and applied, with every held batch after it, when
 * the gap fills. So a crash at any point resumes from the stored offset
 * with nothing applied twice: sum counters are exactly once too.
 *
 * An op that does not fit its counter (an unknown counter, a bad item or
 * user, n != 1 on a set counter, a remove or n outside 1..COUNTER_SUM_MAX
 * on a sum counter) is skipped and counted in ops_invalid; the rest of
 * its batch applies. Invalid ops are logged at most once a second, as a
 * summary (how many, the first one's index and reason).
 *
 * Quarantine: a message refused in whole (it does not decode, or its
 * header is bad) or in part (it carries invalid ops: the valid ones
 * still apply, as above) is handed to the dead-letter hook, with a
 * reason, before the message's store write; the offset moves past it
 * either way, so a poison message never stalls its partition. A batch
 * held after a gap is checked for invalid ops when it is first held (not
 * again when it later applies); one that no longer decodes when its turn
 * comes is quarantined then, with offset -1 (the held copy does not keep
 * its offset). A duplicate (already applied) is never quarantined. A
 * store failure after the hook ran means the message is read again after
 * the restart and quarantined again: the dead-letter topic gets every
 * poison message at least once, not exactly once.
 *
 * Aggregates: a count is split by the region and UTC day (of the op's
 * hlc) of the op that put each unit there: for a set counter the winning
 * add of each present member, for a sum counter each add. Each
 * breakdown's buckets sum to the count.
 *
 * Versions: what a snapshot says it covers is the partition's version
 * (version.h): its epoch (an 'E' key, 0 when absent) over its next input
 * offset. The epoch goes up when the input offsets went backwards
 * (applier_reset_offset with new_epoch), so versions only grow.
 * applier_version (the applier's memory) and applier_view_version (a
 * store read view) compute it the same way, for the snapshots and for
 * the ops API's answers.
 *
 * One thread owns an applier. applier_get_stats, applier_get_memory,
 * applier_input_offset and applier_held_batches may be called from any
 * thread; applier_view_version only reads the view it is given, from
 * any thread.
 */
#ifndef CENTRAL_APPLY_H
#define CENTRAL_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "central/apply/apply_obs.h"
#include "counter.h"
#include "err.h"
#include "smap.h"
#include "store.h"
#include "version.h"
#include "wire.h"

typedef struct applier applier;

typedef struct applier_stats {
	uint64_t batches_applied;      /* applied in order, held ones included */
	uint64_t batches_duplicate;    /* seq already applied: skipped */
	uint64_t batches_held;         /* stored after a gap (a re-delivery counts again) */
	uint64_t batches_bad;          /* undecodable or bad header: skipped */
	uint64_t batches_deadlettered; /* handed to the dead-letter hook (whole or in part bad) */
	uint64_t deadletter_failed;    /* of those, not queued or not delivered (hook says) */
	uint64_t ops_applied;          /* valid ops merged or summed (a losing LWW op too) */
	uint64_t ops_invalid;          /* ops skipped as invalid */
	uint64_t store_writes;
	uint64_t numbers_clamped;   /* a count or bucket held at 0 or the top: a bug */
	uint64_t feed_events;       /* change feed events stored with their changes */
	uint64_t home_unrouted;     /* changes of users at home in a region with no
	                               home stream here: sent nowhere */
	uint64_t moves_applied;     /* move messages that moved a user (per partition) */
	uint64_t moves_stale;       /* move messages no later than the user's last: nothing */
	uint64_t moves_bad;         /* move messages refused (quarantined) */
	uint64_t moved_pairs;       /* memberships a move took to a new home's index */
	uint64_t handovers_applied; /* hand-overs that moved an edge's fence */
	uint64_t batches_fenced;    /* batches of a writer before their edge's fence: void */
	uint64_t days_thinned;      /* home index day keys the sweep deleted */
	uint64_t thin_rounds;       /* the sweep's rounds done */
	uint64_t count_cache_hits, count_cache_misses;   /* stored counts and buckets */
	uint64_t member_cache_hits, member_cache_misses; /* stored memberships */
} applier_stats;

/* c names the counters and their kinds; it must outlive the applier.
 * NULL on a store failure while loading, with the reason in err. The
 * caches start at the default bounds below. */
applier *applier_new(store *db, uint32_t nparts, const counters *c, char *err, size_t errlen);
void applier_free(applier *a);

/* The applier keeps, between messages, a bounded cache of stored counts
 * (C, R and Y keys) and one of stored memberships (S keys, admitted the
 * second time one is loaded: most are written once and never read
 * again), about 100 bytes an entry with short names, so hot items are
 * not read back from LevelDB for every message. They only ever hold what the
 * store holds: they learn a message's values after its write succeeded,
 * and a failed write leaves them as they were. The applier must be the
 * store's only writer of those keys. */
#define APPLIER_CACHE_COUNTS_DEFAULT 500000
#define APPLIER_CACHE_MEMBERS_DEFAULT 100000
/* Bounds the caches to these many entries each (0 = off), emptying them. */
void applier_set_cache(applier *a, size_t counts, size_t members);

/* The applier's thread, between two messages: a repair (verify.c)
 * wrote value under key (a C, R or Y key; a bucket of 0 was deleted)
 * behind the applier's back. The count cache forgets the key, and a
 * repaired count goes in the next snapshot of its item's partition. */
void applier_note_repair(applier *a, const void *key, size_t kn, uint64_t value);

/* The dead-letter hook: msg (len bytes, the message exactly as consumed,
 * valid only during the call) at (partition, offset) was refused in whole
 * or in part, for reason: a short text that starts with one word naming
 * the kind, then key=value details:
 *   undecodable err="..."
 *   bad_header partition_mismatch|bad_edge|bad_region|seq_0 batch_partition=N seq=S
 *   invalid_ops count=N first_index=I first_reason=unknown_counter|bad_item|...
 *   held_undecodable seq=N err="..."   (offset is -1)
 * Called on the applier's thread, from applier_apply; it must not call
 * back into the applier, except applier_dead_letter_failed. */
typedef void (*applier_dead_letter_fn)(void *ctx, uint32_t partition, int64_t offset,
                                       const void *msg, size_t len, const char *reason);
#define APPLIER_REASON_MAX 192

/* Sets (or, with fn NULL, clears) the dead-letter hook. Without one,
 * refused messages are still counted in batches_deadlettered and logged. */
void applier_set_dead_letter(applier *a, applier_dead_letter_fn fn, void *ctx);
/* Any thread: counts a quarantined message that did not reach its
 * dead-letter topic (not queued, or its delivery failed). */
void applier_dead_letter_failed(applier *a);

/* Sets (obs NULL: clears) the instruments; obs must outlive the applier
 * or the next call. */
void applier_set_obs(applier *a, const applier_obs *obs);

/* The change feed (docs/events.md): changes (flips and sums) and
 * milestones (thresholds: ascending, copied) made in the same store
 * write as each message's effects, as one 'X' record (feedrec.h). Off
 * until called. Start-up, before the first applier_apply. */
void applier_set_feed(applier *a, bool changes, bool milestones, const uint64_t *thresholds,
                      size_t n);
/* The home streams (docs/events.md, "Home streams"): a set op that
 * changes a membership and names its user's home, a region other than
 * its batch's, makes an event on the home stream of that region, if it
 * is one of regions[0..n) (n <= FEEDREC_HOMES_MAX), under the topic
 * FEEDREC_HOMES + its index; other homes count in home_unrouted. n = 0:
 * off. Copies the names. */
void applier_set_homes(applier *a, const char *const *regions, size_t n);
/* Events the last applier_apply stored (0 when the feed is off). */
uint32_t applier_feed_made(const applier *a);
/* Deletes partition p's feed records of versions from..upto (their
 * events are in the topics: central/feed/ says so). 0, or ERR_IO. */
int applier_feed_trim(applier *a, uint32_t p, uint64_t from, uint64_t upto) WARN_UNUSED;
/* feed_records_drop and feed_records_close (apply_feed.h) do the same
 * on any store holding 'X' records. */

/* The home index's day keys ('G'): only an item's oldest one in a
 * region's partition is ever read (the home checkpoint's old likes), so
 * a sweep deletes the others (apply_thin.c). applier_thin_step runs one
 * step (at most 1,024 keys or 2 ms) when a round is due (the first 5
 * minutes after its first call, then an hour after the last round's
 * end) and the last step is 20 ms old, else nothing; call it between
 * messages with the monotonic clock. applier_thin_round runs the round
 * under way, or a new one, to its end now. 0, or the store's error (the
 * step's deletions not written). The applier's thread. */
int applier_thin_step(applier *a, uint64_t now_ms) WARN_UNUSED;
int applier_thin_round(applier *a, uint64_t now_ms) WARN_UNUSED;

/* The offset to resume partition p from; ERR_NOTFOUND when none stored. */
int applier_resume_offset(applier *a, uint32_t p, int64_t *offset) WARN_UNUSED;

/* The first thing wrong with a batch's header read at partition p (a
 * fault word of its quarantine reason: partition_mismatch, bad_edge,
 * bad_region, seq_0), or NULL when it may be applied there: the one
 * check of a header. Pure, any thread. */
const char *applier_batch_fault(const wire_batch *b, uint32_t p);

/* Applies the message at (p, offset). writer is the batch's sender's
 * writer time (its WIRE_WRITER_HEADER), 0 when it has none: a batch
 * whose writer is before the fence its edge's hand-overs and batches
 * set in p is void (counted, logged, skipped); an unstamped one is never
 * fenced. Malformed messages are logged, counted, quarantined and
 * skipped (their offset is still stored). 0, or ERR_IO when the store
 * failed (nothing was applied; the caller must not go on). */
int applier_apply(applier *a, uint32_t p, int64_t offset, const void *msg, size_t len,
                  uint64_t writer) WARN_UNUSED;

/* Records that the partition's input was reset to offset (out of range):
 * the stored resume offset moves there and, with new_epoch (the input's
 * offsets went backwards: a broker restarted empty, a topic recreated),
 * the partition's epoch goes up by one in the same store write, so the
 * versions after it are above every version before it. 0; ERR_INVAL
 * for a partition out of range; ERR_FULL when the epoch is already
 * VERSION_EPOCH_MAX (nothing written); ERR_IO (nothing changed). */
int applier_reset_offset(applier *a, uint32_t p, int64_t offset, bool new_epoch) WARN_UNUSED;
/* Partition p's epoch (0 until the first new_epoch reset; 0 for a p out
 * of range). The applier's thread. */
uint32_t applier_epoch(const applier *a, uint32_t p);
/* Partition p's version: version_make(epoch, next input offset), the
 * offset 0 while none is known. What applier_snapshot puts in `n`. The
 * applier's thread. */
uint64_t applier_version(const applier *a, uint32_t p);
/* Forgets, in db (central stopped), from which version each partition's
 * home index holds every change (keys.h, 'M' "home_index_from"), so the
 * next applier_new on it notes the versions of then, as for a store
 * older than the index. For after every edge sends its users' homes:
 * ops from edges that sent none were not indexed (docs/events.md,
 * "Upgrades"). 0 with *forgot the partitions whose start was noted, or
 * ERR_IO. */
int applier_home_index_forget(store *db, uint32_t *forgot) WARN_UNUSED;
/* The same version read from a store view: its 'E' and 'O' keys (0 when
 * absent). 0, ERR_CORRUPT (a value of the wrong size, logged) or ERR_IO.
 * Any thread. */
int applier_view_version(store_snap *sn, uint32_t p, uint64_t *version) WARN_UNUSED;

/* Fills a snapshot of partition p: counts changed since the last call
 * (at most max_counts; the rest stay for the next), every edge's applied
 * and held sequence, and the version (applier_version) in s->offset.
 * *more says counts remain.
 * The snapshot's strings point into the applier until the next apply or
 * snapshot call; free the arrays with wire_snapshot_free. */
void applier_snapshot(applier *a, uint32_t p, size_t max_counts, wire_snapshot *s, bool *more);
/* Puts the counts of the last snapshot of p back for the next one (its
 * message could not be handed to Kafka). */
void applier_snapshot_failed(applier *a, uint32_t p);
/* Puts (counter, item)'s stored count in its partition's next snapshot,
 * as if it had just changed: for counts a snapshot may have carried and
 * never delivered before a restart (central/resnap.h). A count changed
 * since stays as it is. 0, ERR_INVAL for names out of bounds, or ERR_IO.
 * The applier's thread. */
int applier_mark_changed(applier *a, const char *counter, size_t cn, const char *item,
                         size_t in) WARN_UNUSED;
/* True when p changed since its last snapshot. */
bool applier_dirty(const applier *a, uint32_t p);

/* The stored count of (counter, item); 0 when never counted. */
int applier_count(applier *a, const char *counter, const char *item, uint64_t *count) WARN_UNUSED;

/* Any thread: a copy of the counters so far. */
void applier_get_stats(const applier *a, applier_stats *out);

/* The heap bytes the applier's in-memory structures hold now: estimates
 * from their entries and sizes (memacct.h), kept by the applier's thread
 * as they change. */
typedef struct applier_memory {
	uint64_t count_cache;      /* stored counts and buckets (central.cache_counts) */
	uint64_t member_cache;     /* stored memberships (central.cache_members) */
	uint64_t working_set;      /* one message's effects: the table kept between
	                              messages, sized by the largest one */
	uint64_t snapshot_changes; /* counts changed since each partition's last
	                              snapshot: grows while snapshots cannot go */
	uint64_t moved_users;      /* the users a move named: one entry each, for
	                              good (apply_move.c) */
} applier_memory;
/* Any thread: relaxed atomic loads, no lock, nothing walked. */
void applier_get_memory(const applier *a, applier_memory *out);
/* Any thread: partition p's next input offset, -1 when none is stored. */
int64_t applier_input_offset(const applier *a, uint32_t p);
/* Any thread: batches of partition p held behind a gap right now. */
uint64_t applier_held_batches(const applier *a, uint32_t p);

#endif
