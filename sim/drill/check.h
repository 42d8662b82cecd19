/* check.h - the end of a drill: after every fault is healed and every op
 * answered, does every count agree with the ground truth everywhere?
 *
 * Central's authoritative counts (each replica) and every edge's answers
 * are compared with the truth for every (counter, item) an acknowledged
 * op touched, polling until they all agree or a deadline passes; what
 * still disagrees then is a violation naming the item, the counter, where,
 * the expected and the seen value; a central is asked only for the items
 * of its shard. Central replicas of one shard must also reach the same
 * state digest at the same input offsets, and no central may have logged
 * a number about to go below zero. A sharded drill also checks that one
 * central owning everything, fed the same input, ends where the shards
 * together do. And the change feed central publishes must replay to
 * the truth (check_feed, in check_feed.c), and every snapshot it
 * published must hold the counts a reference merge of the batch topic
 * gives at its version (check_snapshots, in check_snap.c). Runner
 * thread only.
 */
#ifndef SIM_CHECK_H
#define SIM_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/drill/cluster.h"
#include "sim/drill/load.h"
#include "sim/drill/report.h"
#include "wire.h"

/* Polls until everything agrees with truth or timeout_s; *seconds is how
 * long that took. True when it converged (violations go to r if not). */
bool check_converge(cluster *c, const load_truth_entry *truth, size_t n, unsigned timeout_s,
                    report *r, double *seconds);
/* check_converge's work: how many counts (node x entry) still disagree
 * at the end. An entry whose count ops given up leave open (lo < hi)
 * passes at any value in its range that every node asked in the same
 * round gives alike. */
size_t check_counts_off(cluster *c, const load_truth_entry *truth, size_t n, unsigned timeout_s,
                        report *r, double *seconds);
/* The ops the load gave up without an answer (load_indeterminate),
 * after check_converge: each pair's membership asked of central (the
 * owner of its item's partition), the load's truth resolved with it
 * (load_resolve), and the items' counts held to it at central and every
 * edge, exactly. Figures to r: indeterminate, indeterminate_counted
 * (the pair ended as the op would make it), indeterminate_not_counted,
 * indeterminate_disagreeing (pairs central could not say, and counts
 * off the resolved truth); any disagreement is a violation. True when
 * it held (and with none given up). */
bool check_indeterminate(cluster *c, load *l, unsigned timeout_s, report *r);
/* True when the replicas of each shard (every central when not sharded)
 * reach one digest in time; with shards each owned partition's digest
 * and offset must agree too. */
bool check_digests(cluster *c, unsigned timeout_s, report *r);
/* Sharded drills (true at once otherwise): starts the single-instance
 * central (cluster_single_start), waits until its every partition's
 * input offset is the owning shard's, and compares each partition's
 * digest with the shard's, and a few items' counts (from truth, n
 * entries) side by side. Both sides go to r as texts; any difference is
 * a violation. */
bool check_single(cluster *c, const load_truth_entry *truth, size_t n, unsigned timeout_s,
                  report *r);
/* The change feed (drill feed 1; with feed 0 the report says off and
 * this is true): waits until every running central's (the single
 * instance's too, which check_single started: a publisher in a group of
 * its own, which must have nothing left to send after the read)
 * likes_central_feed_pending_events is 0, for 30 s, and feed.session_ms
 * (10 s) more when the drill faulted a central or a broker (a partition
 * whose publisher died waits that long for another); then reads
 * likes.changes and likes.milestones from their start and replays them
 * against the truth: truth (n entries) for the counts, members for the
 * set counter's memberships. The figures go to r (report_feed), each
 * kind of fault as a violation. True when the feed held. */
bool check_feed(cluster *c, const load_truth_entry *truth, size_t n,
                const load_member_entry *members, size_t nmembers, report *r);
/* Every central applied none of the batches that an edge's instance
 * sent after another instance took its changelog over: likes.batches is
 * read back from its start, each edge's fence in each partition followed
 * as central follows it (hand-overs, and the writer header of batches),
 * and the batches stamped with a writer time before their fence are
 * counted per shard; each central's likes_central_batches_fenced_total
 * must equal its shard's count (fewer: a late batch applied; more: a
 * current writer's batch voided), after up to 15 s for it to catch up.
 * And each takeover's hand-overs must name a writer time after the
 * fence its predecessors set (a later epoch not after it: its batches
 * are all void). Figures to r (handovers_in_log, handovers_behind,
 * late_batches, late_batches_applied); nothing to judge in a drill
 * without a changelog; the centrals' counts are not judged in one that
 * faulted a central or a broker (a counter may start again). True when
 * it held. */
bool check_handovers(cluster *c, report *r);

/* --- snapshots against a reference merge (check_snap.c) ----------------------
 *
 * Every count snapshot central published on likes.snapshots must carry,
 * for each count entry, the count a merge of likes.batches gives after
 * every message of the snapshot's partition below the offset its version
 * names. The merge is the sim's own, written from the rules central
 * applies (central/apply/, read, not called): per batch-topic partition,
 * in offset order; a batch whose header central refuses, or that does
 * not decode, does nothing; an edge's batch stamped with a writer time
 * before its fence (the latest writer time its hand-overs and batches
 * named there) is void; else its seq applies once in order (a seq at or
 * below the edge's applied one is a duplicate; one past a gap is held
 * until the gap fills, then applied with every held one that follows);
 * a set counter's pair takes the op with the greater (hlc, edge id
 * bytewise), its count the pairs present; a sum counter adds n; an op
 * its counter refuses is skipped (unknown counter, bad item or user, a
 * set op's n not 1, a remove on a sum); moves change no count. Only
 * snapshots of the first input epoch (0) are judged, in a partition whose
 * log still starts at offset 0 and whose input never moved to a later
 * epoch; the rest are counted as skipped, by reason.
 *
 * The pure part (check_snap_new .. check_snap_finish) takes the messages
 * without Kafka: every snapshot first, then each partition's input in
 * offset order. check_snapshots reads both topics and reports. */

typedef struct check_snap check_snap;
struct counters; /* counter.h: the counters central knows, and their kinds */

/* A count a snapshot carried that the reference does not give; its
 * strings live during the callback only. */
typedef struct check_snap_wrong {
	wire_str source; /* the central that published it */
	uint32_t partition;
	uint64_t version; /* its n: epoch << 40 | next offset */
	wire_str counter, item;
	uint64_t seen; /* the snapshot's count */
	uint64_t want; /* the reference's */
} check_snap_wrong;

typedef void (*check_snap_wrong_fn)(void *ctx, const check_snap_wrong *w);

typedef struct check_snap_figures {
	uint64_t snapshots_checked; /* snapshot messages judged */
	uint64_t counts_checked;    /* their count entries */
	uint64_t counts_wrong;      /* of those, not the reference's count */
	uint64_t snapshots_skipped; /* the sum of the reasons below */
	uint64_t skip_undecodable;  /* not a snapshot (wire_decode_snapshot refused it) */
	uint64_t skip_checkpoint;   /* a home checkpoint's members or marks: not counts */
	uint64_t skip_partition;    /* its partition is not the one it was read from */
	uint64_t skip_epoch;        /* a later epoch, or its partition's input moved to one */
	uint64_t skip_log_start;    /* the batch partition's log no longer starts at 0 */
	uint64_t skip_past_end;     /* names an offset past the batch topic as read */
	uint64_t skip_late;         /* given after its partition's input began */
	/* The reference merge's input. */
	uint64_t messages;        /* batch-topic messages merged */
	uint64_t batches_applied; /* in order, held ones included */
	uint64_t batches_duplicate;
	uint64_t batches_held;   /* held after a gap (a repeat counts again) */
	uint64_t batches_fenced; /* void: a writer before its edge's fence */
	uint64_t refused;        /* undecodable, or a header central refuses */
	uint64_t handovers;      /* valid hand-overs */
	uint64_t moves;          /* move messages: no count changes */
	uint64_t ops_invalid;    /* ops and sums their counter refuses */
	uint64_t ops_misplaced;  /* ops and sums whose item hashes to another partition */
} check_snap_figures;

/* A checker of `partitions` partitions with central's counters (ctr
 * outlives it); wrong (may be NULL) is called for each wrong count, in
 * the order found. Free with check_snap_free. */
check_snap *check_snap_new(unsigned partitions, const struct counters *ctr,
                           check_snap_wrong_fn wrong, void *ctx);
void check_snap_free(check_snap *cs);
/* A message of the snapshot topic's partition `partition` (copied). Every
 * snapshot before the first check_snap_input of its partition. */
void check_snap_snapshot(check_snap *cs, unsigned partition, const void *msg, size_t len);
/* The batch partition's log starts at first, not 0. Before its input. */
void check_snap_log_start(check_snap *cs, unsigned partition, int64_t first);
/* The batch-topic message at (partition, offset), in offset order;
 * writer is its writer header's time (bus_batch_writer), 0 for none.
 * The partition's snapshots naming offsets up to this one are judged
 * first. */
void check_snap_input(check_snap *cs, unsigned partition, int64_t offset, const void *msg,
                      size_t len, uint64_t writer);
/* Judges the snapshots left (those past what the input held are
 * skipped) and fills out. Once, at the end. */
void check_snap_finish(check_snap *cs, check_snap_figures *out);

/* What else the merge tells as it goes (check_answers.c holds the
 * edges' answers with it). Each may be NULL. */
typedef struct check_snap_hooks {
	/* The reference count of an asked (counter, item) once every
	 * message below the asked offset is merged (check_snap_ask). */
	void (*count_at)(void *ctx, size_t cookie, uint64_t count);
	/* An asked offset never reached, or in a partition the merge cannot
	 * judge (its log cut, a later epoch): no count for it. */
	void (*not_judged)(void *ctx, size_t cookie);
	/* A set counter's op merged, whether it won its pair or not, while
	 * the message at offset was merged (a held batch: the message that
	 * filled its gap). */
	void (*merged)(void *ctx, wire_str counter, wire_str item, wire_str user, uint64_t hlc,
	               uint64_t offset);
	void *ctx;
} check_snap_hooks;

void check_snap_set_hooks(check_snap *cs, const check_snap_hooks *h);
/* Asks for (counter, item)'s reference count in partition with every
 * message below offset merged: count_at(cookie) is called then, or
 * not_judged(cookie). Before the first check_snap_input of partition. */
void check_snap_ask(check_snap *cs, unsigned partition, uint64_t offset, const char *counter,
                    const char *item, size_t cookie);

/* --- the edges' answers against the snapshot they name (check_answers.c) ------
 *
 * An edge answers a count as central's count at the version it names
 * (freshness), plus its region's own ops central had not applied there
 * (docs/api.md). So every likes count in the load's trace
 * (load_get_trace) is held to ref, the reference merge's count
 * (check_snap) with every message of the item's partition below the
 * version's offset merged, moved by the answering region's own pending
 * ops. An op is pending for an answer when it was sent to that region
 * (its first attempt before the answer came), was not refused before the
 * read was sent, did not answer "changed": false (the edge's count did
 * not move), and no op of its (user, item, hlc) was merged below the
 * offset (given-up and unanswered ops, with no hlc, stay pending for
 * good). It is sure when the process that answered the read acked it
 * with a change before the read was sent (the same instance, not started
 * again since): that process counts it. A pair whose pending ops are all
 * sure moves the count by their sum (-1, 0 or 1: they alternate); a pair
 * with any other may move it by 1 up if it has a like pending, by 1 down
 * if an unlike. The answer must lie in that range, never below 0.
 * Answers of a later input epoch, or of a partition the merge cannot
 * judge, are skipped. Pure but for the merge it is attached to. */
typedef struct check_ans check_ans;

typedef struct check_ans_figures {
	uint64_t answers;    /* in the trace */
	uint64_t checked;    /* held to their range */
	uint64_t exact;      /* of those, with no pair that is not sure: one count allowed */
	uint64_t wrong;      /* outside the range */
	uint64_t skipped;    /* a later epoch, or a partition the merge cannot judge */
	uint64_t ops_merged; /* likes ops the merge applied (their hlc known) */
} check_ans_figures;

/* An answer outside its range; its strings live during the callback. */
typedef struct check_ans_wrong {
	const char *item;
	unsigned region;
	uint64_t count, ref, version;
	int64_t sure;                            /* the sure pairs' move */
	uint64_t likes_pending, unlikes_pending; /* the other pairs' room, up and down */
	unsigned inst, start;                    /* the instance that answered, its start count */
	double sent_s, took_ms; /* the read's send, in the run's seconds, and its wait */
} check_ans_wrong;

typedef void (*check_ans_wrong_fn)(void *ctx, const check_ans_wrong *w);

/* Asks cs (of partitions partitions; not yet given input) for every
 * answer of t and hooks the merge; t must outlive the check. */
check_ans *check_ans_new(const load_trace *t, unsigned partitions, check_snap *cs,
                         check_ans_wrong_fn wrong, void *ctx);
/* After check_snap_finish: judges every answer, figures into out. */
void check_ans_finish(check_ans *ca, check_ans_figures *out);
void check_ans_free(check_ans *ca);

/* With the drill's snapshot_check (on by default): reads likes.snapshots
 * and then likes.batches (every partition, from its first offset; in
 * that order, so every snapshot's offset is within the batches read)
 * and judges every snapshot as above. Figures to r: snapshots_checked,
 * snapshot_counts_checked, snapshot_counts_wrong, snapshots_skipped,
 * and texts with the reasons and the merge's input; each wrong count
 * is a violation naming the snapshot (source, partition, version), the
 * item, the counter, its count and the reference's. With trace (NULL:
 * none), the edges' answers too (check_ans, above): figures
 * edge_answers_checked, edge_answers_exact, edge_answers_wrong,
 * edge_answers_skipped; each wrong one a violation. True when it held. */
bool check_snapshots(cluster *c, const load_trace *trace, report *r);

/* The value of an unlabelled sample (or the sum of a labelled family's)
 * in a Prometheus text answer; -1 when the answer has none. */
double check_metric_in(const char *body, const char *name);
/* Did a step of d stop, cut or slow a central, or take a broker down? */
bool check_faulted_central(const drill *d);
/* True when no central log has a "would go below zero" line. */
bool check_logs(cluster *c, report *r);
/* The leader elections the real Kafka nodes' logs call unclean
 * (kafka_unclean_elections in the numbers, each partition named): with
 * eligible leader replicas (Kafka 4), a partition whose last in-sync
 * replica shut down uncleanly may get a leader from outside the ISR
 * even with unclean.leader.election.enable=false. Not a violation by
 * itself: the end checks say whether an acknowledged op was lost.
 * And every leader change the real clusters' metadata logs hold, clean
 * or not (sim kafka's elections: Kafka 4 logs a clean one only at
 * TRACE): kafka_leader_changes, kafka_changelog_leader_changes (the
 * regions' changelog: on their own clusters with regional_kafka, else
 * on central's), kafka_leaderless_changes, the first few named with
 * their time from t0_wall_ms (the run's start on the wall clock; the
 * run's clock, which steps held for a cluster's sync move too) in
 * kafka_leader_changes_at; when a cluster cannot say, none of them but
 * kafka_leader_changes_unread. Figures, not checks. */
void check_kafka_elections(cluster *c, uint64_t t0_wall_ms, report *r);
/* One count as an edge answers it (GET .../{counter}); -1 when it does
 * not answer 200 within timeout_ms. */
long long check_edge_count(const cluster_node *edge, const char *counter, const char *item,
                           unsigned timeout_ms);

#endif
