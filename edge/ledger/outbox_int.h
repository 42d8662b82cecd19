/* outbox_int.h - struct outbox, owned by ledger_outbox.c: per partition the
 * open batch, sealing, the sealed batches and their sending (window,
 * resends), confirmation by central's snapshots and what they said
 * last, and the only functions other files call on it. Private to
 * edge/ledger/ (ledger_int.h includes it; the locks are its).
 */
#ifndef EDGE_LEDGER_OUTBOX_INT_H
#define EDGE_LEDGER_OUTBOX_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "edge/ledger/records_int.h"
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

/* The outbox: per partition, the open batch, the sealed batches not yet
 * confirmed and their sending state. Under mu only; a seal and a
 * confirmation change the overlay (the view's) through the view's
 * functions, under the partition's stripe. */
struct outbox {
	outbox_part *parts;
	/* A seal's store write runs with the mutex let go (ledger_seal);
	 * one at a time: sealing is set meanwhile, and seal_done is
	 * broadcast when it ends. seal_wb is its store batch. */
	bool sealing;
	unsigned seal_waiters; /* threads waiting for it (tests watch this) */
	pthread_cond_t seal_done;
	store_batch *seal_wb;
	/* The heap bytes of the parts array, the open batches (ops arrays,
	 * the ops' strings, runs), the records and the sealed-batch index,
	 * moved where they are allocated and freed (ledger_outbox_bytes);
	 * atomic, as records are made on the commit thread too. */
	_Atomic uint64_t mem;
};

void ledger_outbox_init(ledger *l);
/* The clock (ms) of the oldest op of p that central has not confirmed
 * (0 when not known), or UINT64_MAX when none waits. */
uint64_t ledger_outbox_oldest_ms(const ledger *l, uint32_t p);
void ledger_outbox_free(ledger *l);
/* Puts p's 'S' (last sealed sequence and sealed_to) into wb. */
#define SEALED_LEN 16
void ledger_sealed_put(store_batch *wb, uint32_t p, uint64_t seq, uint64_t sealed_to);
/* Reads each partition's sequences and central's last word ('A', 'N',
 * 'S') at start-up: 0 or ERR_*, the reason in err. The caller numbers
 * new ops above each partition's ledger_outbox_sealed_to, even on an
 * error. */
int ledger_outbox_load_seqs(ledger *l, char *err, size_t errlen);
/* The 'S' part of ledger_outbox_load_seqs again (a promotion: the
 * follower's store got them from the changelog). */
int ledger_outbox_load_sealed_seqs(ledger *l, char *err, size_t errlen);
/* A partition with no sealed sequence stored whose replica is complete
 * takes central's last word (its applied sequence): nothing of it was
 * sealed under this edge's id since. */
void ledger_outbox_seqs_from_replica(ledger *l);
/* Reads the sealed batches central has not confirmed ('B'), their ops
 * into the overlay (each batch's, and the view told it holds them up to
 * that batch, under one hold of its stripe), each to be sent again: 0
 * or ERR_*. clock gets the
 * newest stamp of their ops (0: none), which the caller gives the
 * commit's clock (ledger_clock_seen), even on an error. */
int ledger_outbox_load_sealed(ledger *l, uint64_t *clock, char *err, size_t errlen);
/* A store record holding n open ops (key, kn bytes), for the op_runs of
 * its ops. Any thread (it only allocates and counts the bytes). */
pend_rec *ledger_outbox_record(ledger *l, const char *key, size_t kn, uint32_t n);
/* Appends op of encoded size bytes to p's open batch, which takes its
 * strings (op->counter becomes NULL); run.n > 0 when a stretch of ops
 * of one record starts with it. At start-up and after a group's store
 * write. */
void ledger_outbox_append(ledger *l, uint32_t p, pend_op *op, uint32_t bytes, op_run run,
                          uint64_t wall_ms);
/* At start-up, after every record is read: puts each partition's open
 * batch in opno order (records are read tag by tag, and a partition
 * that waited for its checkpoint has newer ops in 'P' runs than in 'G'
 * records). */
void ledger_outbox_order(ledger *l);
/* p's open batch holds a batch's worth of ops. */
static inline bool ledger_outbox_full(const ledger *l, uint32_t p);
/* Seals partition p's open batch, its ops numbered up to upto (why: what
 * sealed it, counted in sealed_by):
 * one store write, made with the mutex let go (the caller's state may
 * change meanwhile, as across ledger_wait). Mutex held. */
int ledger_seal(ledger *l, uint32_t p, uint64_t wall_ms, ledger_seal_why why, uint64_t upto)
    TSA_REQUIRES(LEDGER_MU(l));
/* Seals p's open batch while it holds a batch's worth (after a group
 * filled it); a failure is logged, the ops stay open. Mutex held. */
void ledger_outbox_seal_full(ledger *l, uint32_t p, uint64_t wall_ms) TSA_REQUIRES(LEDGER_MU(l));
/* Seals the open batches that are old enough (with force, every one),
 * each in as many batches as it takes: 0 or the first seal's error. */
int ledger_outbox_seal_due(ledger *l, uint64_t wall_ms, bool force) TSA_REQUIRES(LEDGER_MU(l));
/* Hands p's unsent batches to the sink as far as memory has their bytes
 * (ledger_pump reads the others): 0, or the sequence of the first batch
 * that must be read back from the store. Mutex held. */
uint64_t ledger_pump_memory(ledger *l, uint32_t p);
/* Partition p as ledger_inspect shows it, from memory. */
void ledger_outbox_inspect(const ledger *l, uint32_t p, ledger_part_state *ps);
/* The outbox's heap bytes (struct outbox's mem). No lock; any thread. */
uint64_t ledger_outbox_bytes(const ledger *l);

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
void ledger_confirm_stage(ledger *l, store_batch *wb, uint32_t p, const wire_snapshot *s,
                          ledger_confirm *c);
void ledger_confirm_read(ledger *l, uint32_t p, ledger_confirm *c);
void ledger_confirm_view(ledger *l, uint32_t p, const wire_snapshot *s, ledger_confirm *c);
bool ledger_confirm_finish(ledger *l, uint32_t p, const wire_snapshot *s, ledger_confirm *c);
void ledger_confirm_free(ledger_confirm *c);
/* What central's snapshots said last of p and the last sequence sealed
 * here (view_said), for ledger_view_publish. */
view_said ledger_outbox_said(const ledger *l, uint32_t p);
/* When s (a part of a snapshot or checkpoint of p) says central applied
 * batches of this edge that this instance never sealed (a writer with a
 * log sends a batch only once sealed, so another instance writes as
 * this edge): the view refuses counts from now on
 * (ledger_view_overtake), said once in the log. Before s's counts are
 * shown. */
void ledger_confirm_overtaken(ledger *l, uint32_t p, const wire_snapshot *s);
/* Every op of p below this opno is in a sealed batch. */
uint64_t ledger_outbox_sealed_to(const ledger *l, uint32_t p);
/* After a failed write: the batches ledger_confirm_stage marked are not
 * deleted, and may be sent again. */
void ledger_confirm_abort(ledger *l, uint32_t p);

/* A snapshot message at offset is older than one p has applied (whole,
 * or a part of a split one): central's primary and replicas both
 * publish, and one that is behind must not step counts back. cmu or mu
 * held: what it reads changes only with both held. */
bool ledger_snap_stale(const ledger *l, uint32_t p, uint64_t offset);
/* Stages into wb, when offset is the newest p has seen, that it is
 * ('N': kept across a restart, so that a part applied before it is not
 * followed by an older message from a lagging replica); after the
 * write, ledger_snap_seen records it in memory. */
void ledger_snap_seen_stage(const ledger *l, store_batch *wb, uint32_t p, uint64_t offset);
void ledger_snap_seen(ledger *l, uint32_t p, uint64_t offset);
/* The partition's version before the snapshot of version offset began
 * to apply: 0 when not known. cmu held. */
uint64_t ledger_snap_before(const ledger *l, uint32_t p, uint64_t offset);
/* While p's batch sequence is not known (a store that never sealed it):
 * stages into wb the sequence to go on from, the higher of the last
 * sealed and what central applied of this edge id (an edge rebuilt on
 * an empty store keeps its sequence), into *seq, and returns true;
 * after the write ledger_seq_known makes it p's, and p may seal. */
bool ledger_seq_stage(const ledger *l, store_batch *wb, uint32_t p, uint64_t applied,
                      uint64_t *seq);
void ledger_seq_known(ledger *l, uint32_t p, uint64_t seq);
/* p may seal: its batch sequence is known. */
static inline bool ledger_outbox_can_seal(const ledger *l, uint32_t p);

#endif
