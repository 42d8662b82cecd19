/* outbox_int.h - struct outbox, owned by ledger_outbox.c (the open and
 * sealed batches, their sending) and ledger_confirm.c (what central's
 * snapshots confirm and said last): per partition the open batch, the
 * steps of a seal, the sealed batches and their sending (window,
 * resends), and the only functions other files call on it. Private to
 * edge/ledger/ (ledger_int.h includes it).
 *
 * The outbox sits on the view and the records: it is given at init what
 * it reads (the options, the store, the view, the edge's identity), and
 * its functions take struct outbox, never struct ledger. Whatever lets
 * the writer mutex go (a seal's write, the pump's store reads) or waits
 * on it is ledger_seal.c's, one layer up, which calls the steps here
 * between its lock scopes; what a higher layer knows (whether this
 * instance follows another) is handed in by the caller. The writer
 * mutex guards it, but where a function says otherwise.
 */
#ifndef EDGE_LEDGER_OUTBOX_INT_H
#define EDGE_LEDGER_OUTBOX_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "edge/ledger/ledger_types.h"
#include "edge/ledger/records_int.h"
#include "edge/ledger/replica_int.h"
#include "edge/ledger/view_int.h"
#include "sbuf.h"
#include "store.h"
#include "wire.h"

enum { SEALED_UNSENT, SEALED_INFLIGHT, SEALED_DELIVERED };

typedef struct open_batch {
	pend_op *ops;
	size_t len, cap;
	uint64_t first_ms;
	uint64_t bytes; /* the ops' encoded size (ledger_op_encode) */
	op_run *runs;
	size_t nruns, capruns;
} open_batch;

typedef struct sealed {
	uint64_t seq;
	uint64_t first_ms; /* its first op's clock (ms); 0 = not known (read back at a start) */
	uint32_t len;
	uint8_t state;
	bool resend; /* sent before (or maybe, before a restart) */
	int64_t offset;
} sealed;

typedef struct outbox_part {
	open_batch open;
	uint64_t last_seq;
	uint64_t sealed_to; /* every op below this opno is sealed ('S') */
	/* While a seal writes: how many of the open batch's ops it takes,
	 * and when the first op after them came (their batch's age). */
	size_t sealing_n;
	uint64_t rest_first_ms;
	bool seq_known; /* last_seq is this edge's at central too (an 'S' key,
	                   or a complete checkpoint): batches may be sealed */
	sealed *sealed;
	size_t nsealed, capsealed;
	/* What central's snapshots said last ('A'): this edge's applied
	 * sequence, and the input offset and clock of the last whole
	 * snapshot (the partition's version, published to the view). */
	uint64_t applied;
	uint64_t snap_offset;
	uint64_t snap_ms;
	/* The highest input offset of any snapshot message applied, whole
	 * or a part ('N', stored with it). Central's primary and replicas
	 * both publish: a message below it is stale. */
	uint64_t snap_seen;
	/* snap_seen before the snapshot of version snap_seen came: the
	 * parts of one share their version. 0 after a restart. */
	uint64_t snap_before;
	/* While a snapshot's write deletes the first `confirming` sealed
	 * batches (confirmed applied) outside mu: they are not sent. */
	size_t confirming;
} outbox_part;

/* The outbox's share of ledger_stats (the fields of the same names),
 * under the writer mutex; ledger_outbox_stats copies them out. */
typedef struct outbox_stats {
	uint64_t batches_sealed;
	uint64_t sealed_by[LEDGER_NSEALS];
	uint64_t batches_sent, batches_resent, batches_applied;
	uint64_t pending_bytes, pending_batches, pending_ops;
	uint64_t seal_write_cpu_ns;
} outbox_stats;

/* The outbox: per partition, the open batch, the sealed batches not yet
 * confirmed and their sending state. Under the writer mutex only; a
 * seal and a confirmation change the overlay (the view's) through the
 * view's functions, under the partition's stripe. */
struct outbox {
	const ledger_opts *o; /* the ledger's, read-only */
	store *db;            /* borrowed */
	struct view *view;
	const char *edge_id, *region; /* the ledger's */
	bool logged;                  /* a changelog holds what is sealed (o->log not the no-op) */
	outbox_part *parts;
	outbox_stats st;
	/* The heap bytes of the parts array, the open batches (ops arrays,
	 * the ops' strings, runs), the records and the sealed-batch index,
	 * moved where they are allocated and freed (ledger_outbox_bytes);
	 * atomic, as records are made on the commit thread too. */
	_Atomic uint64_t mem;
};

void ledger_outbox_init(struct outbox *ob, const ledger_opts *o, store *db, struct view *v,
                        const char *edge_id, const char *region, bool logged);
void ledger_outbox_free(struct outbox *ob);
/* The clock (ms) of the oldest op of p that central has not confirmed
 * (0 when not known), or UINT64_MAX when none waits. */
uint64_t ledger_outbox_oldest_ms(const struct outbox *ob, uint32_t p);
/* Puts p's 'S' (last sealed sequence and sealed_to) into wb. */
#define SEALED_LEN 16
void ledger_sealed_put(store_batch *wb, uint32_t p, uint64_t seq, uint64_t sealed_to);
/* Reads each partition's sequences and central's last word ('A', 'N',
 * 'S') at start-up: 0 or ERR_*, the reason in err. The caller numbers
 * new ops above each partition's ledger_outbox_sealed_to, even on an
 * error. */
int ledger_outbox_load_seqs(struct outbox *ob, char *err, size_t errlen);
/* The 'S' part of ledger_outbox_load_seqs again (a promotion: the
 * follower's store got them from the changelog). */
int ledger_outbox_load_sealed_seqs(struct outbox *ob, char *err, size_t errlen);
/* A partition with no sealed sequence stored whose replica r is
 * complete takes central's last word (its applied sequence): nothing of
 * it was sealed under this edge's id since. */
void ledger_outbox_seqs_from_replica(struct outbox *ob, const struct replica *r);
/* Reads the sealed batches central has not confirmed ('B'), their ops
 * into the overlay (each batch's, and the view told it holds them up to
 * that batch, under one hold of its stripe), each to be sent again: 0
 * or ERR_*. clock gets the newest stamp of their ops (0: none), which
 * the caller gives the commit's clock (ledger_clock_seen), even on an
 * error. */
int ledger_outbox_load_sealed(struct outbox *ob, uint64_t *clock, char *err, size_t errlen);
/* A store record holding n open ops (key, kn bytes), for the op_runs of
 * its ops. Any thread (it only allocates and counts the bytes). */
pend_rec *ledger_outbox_record(struct outbox *ob, const char *key, size_t kn, uint32_t n);
/* Appends op of encoded size bytes to p's open batch, which takes its
 * strings (op->counter becomes NULL); run.n > 0 when a stretch of ops
 * of one record starts with it. At start-up and after a group's store
 * write. */
void ledger_outbox_append(struct outbox *ob, uint32_t p, pend_op *op, uint32_t bytes, op_run run,
                          uint64_t wall_ms);
/* At start-up, after every record is read: puts each partition's open
 * batch in opno order (records are read tag by tag, and a partition
 * that waited for its checkpoint has newer ops in 'P' runs than in 'G'
 * records). */
void ledger_outbox_order(struct outbox *ob);
/* p's open batch holds a batch's worth of ops. */
static inline bool ledger_outbox_full(const struct outbox *ob, uint32_t p)
{
	return ob->parts[p].open.len >= ob->o->seal_ops;
}
/* p may seal: its batch sequence is known. */
static inline bool ledger_outbox_can_seal(const struct outbox *ob, uint32_t p)
{
	return ob->parts[p].seq_known;
}
/* The outbox's own figures, to read in place (the pending bytes are
 * every op's and batch's central has not confirmed); ledger_outbox_stats
 * copies them into a ledger_stats. */
static inline const outbox_stats *ledger_outbox_figures(const struct outbox *ob)
{
	return &ob->st;
}
/* The outbox's share of the stats into out. */
void ledger_outbox_stats(const struct outbox *ob, ledger_stats *out);
/* The outbox's heap bytes (struct outbox's mem). No lock; any thread. */
uint64_t ledger_outbox_bytes(const struct outbox *ob);

/* --- a seal's steps (ledger_seal.c runs them, one seal at a time) --------- */

/* What a seal builds besides the wire batch: the 'D' flags of its ops and,
 * per sum, how many ops it adds up. */
typedef struct sealed_ops {
	char *flags;      /* b->nops */
	uint32_t *merged; /* b->nsums */
} sealed_ops;

/* A seal between its steps: what it took from the open batch under the
 * mutex, and what its encoding and write made outside it. */
typedef struct seal_job {
	uint32_t p;
	ledger_seal_why why;
	size_t n;      /* ops taken: the first n of the open batch */
	bool took_all; /* n was all the open batch held */
	pend_op *ops;  /* copies; the open batch owns their strings until the
	                  write is known to have worked */
	uint64_t seq, sealed_to, wall_ms;
	uint64_t bytes; /* the ops' stored size */
	int64_t heap;   /* their strings' heap bytes */
	wire_batch b;
	sealed_ops so;
	char *buf; /* the encoded batch, len bytes */
	size_t len;
	uint64_t cpu_ns;
	int rc;
} seal_job;

/* Takes what p's open batch has to seal (why: what seals it; none of the
 * ops numbered above upto) into j, staging into wb the deletion of the
 * records it empties: false when there is nothing to seal. No seal may
 * be under way. */
bool ledger_outbox_take(struct outbox *ob, uint32_t p, ledger_seal_why why, uint64_t upto,
                        uint64_t wall_ms, store_batch *wb, seal_job *j);
/* Encodes j's batch and stages it into wb with its flags and p's 'S';
 * j->rc. With the mutex let go: it reads only j and what init gave. */
void ledger_outbox_encode(const struct outbox *ob, seal_job *j, store_batch *wb);
/* j's outcome into memory (j->rc: its write's): on success the sealed
 * batch joins the sealed ones and goes out at once (from its bytes,
 * not read back), its ops leave the open batch, and each sum stands
 * for its ops in the overlay; on failure the records' counts go back
 * and the ops stay open. */
void ledger_outbox_settle(struct outbox *ob, seal_job *j);
/* Frees what j holds: after a written seal, the sealed ops' strings.
 * With the mutex let go. */
void ledger_outbox_release(struct outbox *ob, seal_job *j);

/* Whether p's open batch is due to be sealed at wall_ms (force: every
 * open batch is, a drain's), why, and the last op open now, upto: a
 * backlog leaves in several seals of the ops open now, not of those
 * that come while one writes. */
bool ledger_outbox_due(const struct outbox *ob, uint32_t p, uint64_t wall_ms, bool force,
                       ledger_seal_why *why, uint64_t *upto);
/* The opno of p's first open op: UINT64_MAX when none, or while p may
 * not seal. */
uint64_t ledger_outbox_first_open(const struct outbox *ob, uint32_t p);

/* --- sending ---------------------------------------------------------------- */

/* A sealed batch's bytes at hand: just sealed, or read from the store
 * by ledger_pump. */
typedef struct batch_bytes {
	uint64_t seq; /* 0: none */
	const char *buf;
	size_t len;
} batch_bytes;

/* Sends p's unsent batches in sequence order, from memory only: at a
 * batch whose bytes are not in have (NULL: none), it stops and returns
 * its sequence, for the caller to read from the store with the mutex
 * let go; 0 when it wants none. */
uint64_t ledger_outbox_send(struct outbox *ob, uint32_t p, const batch_bytes *have);
/* How many batches are sealed, over every partition. */
size_t ledger_outbox_nsealed(const struct outbox *ob);
/* The delivery report of p's batch seq: at offset, or lost (offset <
 * 0, to be sent again). */
void ledger_outbox_delivered(struct outbox *ob, uint32_t p, uint64_t seq, int64_t offset);

/* Partition p as ledger_inspect shows it, from memory. */
void ledger_outbox_inspect(const struct outbox *ob, uint32_t p, ledger_part_state *ps);

/* What one entry of a confirmed batch takes off the overlay: its pair
 * key ("counter 0 item", kn bytes at keys.p + at of its ledger_confirm),
 * that key's smap_hash, and its delta. */
typedef struct ledger_out {
	size_t at;
	uint32_t kn, h;
	int64_t delta;
} ledger_out;

/* What a whole snapshot (or a checkpoint's last message) says of this
 * edge's batches of one partition, between staging and finishing. */
typedef struct ledger_confirm {
	uint64_t applied, held;
	bool again, new_epoch; /* set by ledger_confirm_view */
	size_t ndrop;
	uint64_t *drop;  /* the confirmed batches' sequences */
	ledger_out *out; /* every entry of them, as read before their deletion */
	size_t nout;
	sbuf keys;        /* their pair keys, one after another */
	store_batch *rep; /* with a changelog: their deletion, to copy there */
} ledger_confirm;

/* Stages into wb what s's edge list confirms for partition p (the
 * applied sequence, deleting confirmed batches) and marks those batches
 * confirming (not sent while the write runs). Then, with no ledger lock
 * (the count writers' mutex still held, so nothing else deletes them),
 * before the write, ledger_confirm_read reads and decodes them. After
 * the write, ledger_confirm_view (p's stripe held too) drops them from
 * memory and the overlay and moves the partition's version, then
 * ledger_confirm_finish (mu only) resends what central passed over,
 * true when some of it is to be read from the store: the caller calls
 * ledger_pump once it has let the mutexes go.
 * ledger_confirm_free always. */
void ledger_confirm_stage(struct outbox *ob, store_batch *wb, uint32_t p, const wire_snapshot *s,
                          ledger_confirm *c);
void ledger_confirm_read(const struct outbox *ob, uint32_t p, ledger_confirm *c);
void ledger_confirm_view(struct outbox *ob, uint32_t p, const wire_snapshot *s, ledger_confirm *c);
bool ledger_confirm_finish(struct outbox *ob, uint32_t p, const wire_snapshot *s,
                           ledger_confirm *c);
void ledger_confirm_free(ledger_confirm *c);
/* What central's snapshots said last of p and the last sequence sealed
 * here (view_said), for ledger_view_publish. */
view_said ledger_outbox_said(const struct outbox *ob, uint32_t p);
/* When s (a part of a snapshot or checkpoint of p) says central applied
 * batches of this edge that this instance never sealed (a writer with a
 * log sends a batch only once sealed, so another instance writes as
 * this edge): the view refuses counts from now on
 * (ledger_view_overtake), said once in the log. Before s's counts are
 * shown; not for a follower (its batches are the active's). */
void ledger_confirm_overtaken(struct outbox *ob, uint32_t p, const wire_snapshot *s);
/* Every op of p below this opno is in a sealed batch. */
uint64_t ledger_outbox_sealed_to(const struct outbox *ob, uint32_t p);
/* After a failed write: the batches ledger_confirm_stage marked are not
 * deleted, and may be sent again. */
void ledger_confirm_abort(struct outbox *ob, uint32_t p);

/* A snapshot message at offset is older than one p has applied (whole,
 * or a part of a split one): central's primary and replicas both
 * publish, and one that is behind must not step counts back. cmu or mu
 * held: what it reads changes only with both held. */
bool ledger_snap_stale(const struct outbox *ob, uint32_t p, uint64_t offset);
/* Stages into wb, when offset is the newest p has seen, that it is
 * ('N': kept across a restart, so that a part applied before it is not
 * followed by an older message from a lagging replica); after the
 * write, ledger_snap_seen records it in memory. */
void ledger_snap_seen_stage(const struct outbox *ob, store_batch *wb, uint32_t p, uint64_t offset);
void ledger_snap_seen(struct outbox *ob, uint32_t p, uint64_t offset);
/* The newest snapshot message offset p has applied (whole or a part). */
uint64_t ledger_snap_newest(const struct outbox *ob, uint32_t p);
/* The partition's version before the snapshot of version offset began
 * to apply: 0 when not known. cmu held. */
uint64_t ledger_snap_before(const struct outbox *ob, uint32_t p, uint64_t offset);
/* While p's batch sequence is not known (a store that never sealed it):
 * stages into wb the sequence to go on from, the higher of the last
 * sealed and what central applied of this edge id (an edge rebuilt on
 * an empty store keeps its sequence), into *seq, and returns true;
 * after the write ledger_seq_known makes it p's, and p may seal. */
bool ledger_seq_stage(const struct outbox *ob, store_batch *wb, uint32_t p, uint64_t applied,
                      uint64_t *seq);
void ledger_seq_known(struct outbox *ob, uint32_t p, uint64_t seq);

#endif
