/* ledger_int.h - the ledger's private state, one struct per concept, and
 * what each concept offers the others. Not for other modules.
 *
 * struct ledger holds four concepts, each owned by one file, which alone
 * changes its fields; another file goes through the functions declared
 * in the concept's section below:
 *   struct commit  ledger_commit.c   records and group commit: staging into
 *                                    the open group, the commit thread, the
 *                                    group records ('G'), op numbers, the
 *                                    clock, the membership filter
 *   struct outbox  ledger_outbox.c   per partition: the open batch, sealing,
 *                                    the sealed batches and their sending
 *                                    (window, resend), confirmation, and
 *                                    what central's snapshots said last
 *   struct view    ledger_view.c     what count reads look at: the overlay,
 *                                    the count caches, read-through counts,
 *                                    the partitions' published views
 *   struct replica ledger_replica.c  per partition: the replica's load
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
 * outbox, struct replica, the store batch wb and the stats st:
 * everything writes, seals, sends, snapshots and checkpoint loads
 * change. It may be held across store I/O but for a snapshot's write, a
 * group's write on the commit thread and a seal's write (one at a time:
 * outbox.sealing). The view stripes' mutexes each guard one stripe of
 * struct view: what a count read of the stripe's partitions looks at.
 * None is ever held across store I/O, and a count read or /me takes no
 * other ledger lock, so no read waits for a write, a seal or a
 * snapshot's fsync, nor for a read of another stripe. Order: cmu before
 * mu before a stripe; no thread holds two stripes. A writer changes the
 * view only after its store write, under the stripe (with mu held); the
 * seal tick empties the stripes' kept read-throughs with cmu alone.
 * Functions declared here expect mu held unless they say otherwise; the
 * record encoders and ledger_pair_make are pure (any thread), and at
 * start-up, before ledger_open returns, nothing else runs and no lock
 * is needed.
 * Each struct's comment names its exceptions (the commit thread,
 * lock-free reads).
 */
#ifndef EDGE_LEDGER_INT_H
#define EDGE_LEDGER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "bloom.h"
#include "clock.h"
#include "hlc.h"
#include "imap.h"
#include "item.h"
#include "log.h"
#include "memacct.h"
#include "edge/ledger/keys.h"
#include "edge/ledger/ledger.h"
#include "partition.h"
#include "sbuf.h"
#include "smap.h"
#include "version.h"

#define KEY_MAX EKEY_MEMBER_MAX
#define COUNT_KNOWN (UINT64_C(1) << 63)

/* === Ops and their records (encoded in records.c) ======================== */

typedef struct pend_op {
	char *counter, *item, *user; /* one allocation, at counter */
	uint8_t kind;
	uint32_t n;
	uint64_t hlc;
	uint64_t opno;
	bool counts; /* moves the overlay (a repeat of the known state does not) */
	bool sum;    /* of a sum counter: sealed into a per-item sum, no user */
} pend_op;

/* The store records holding an open batch's ops: 'G' gno (a group
 * record: the ops one group commit wrote, in every partition it
 * touched), 'P' partition opno (a run: one group's ops in one
 * partition, for a partition waiting for its checkpoint, and in older
 * stores) or, from older stores, 'O' partition opno (one op). A record goes
 * in the write of the seal that seals its last op; until then a restart
 * reads back only its ops at or above their partition's sealed_to ('S'),
 * so a seal never rewrites a record other partitions still need. */
typedef struct pend_rec {
	char key[EKEY_PART_SEQ_LEN];
	uint8_t kn;
	uint32_t left; /* its ops not sealed yet */
} pend_rec;

/* A stretch of a partition's open batch whose ops are in one record
 * (one per record and partition). The record is freed by the seal that
 * takes its last open op. */
typedef struct op_run {
	pend_rec *rec;
	uint32_t n; /* ops in the stretch */
} op_run;

/* A pending op's encoding; buf holds OP_ENC_MAX bytes. */
#define OP_ENC_MAX (32 + KEY_MAX)
size_t ledger_op_encode(const pend_op *op, unsigned char *buf);
/* The size ledger_op_encode gives an op whose strings are cl, il and ul
 * bytes long. */
static inline size_t ledger_op_size(size_t cl, size_t il, size_t ul)
{
	return 14 + 3 + cl + il + ul;
}
/* A run record ('P'): [format u8 = RUN_FORMAT][nops u32][op encoding]... */
#define RUN_FORMAT 1
#define RUN_HEAD 5
/* Writes the head of a run of nops ops into buf. */
void ledger_run_head(unsigned char *buf, uint32_t nops);
/* A group record ('G'): [format u8 = GREC_FORMAT][parts u32], then per
 * partition the group touched: [partition u32][first opno u64][nops u32]
 * and those ops in opno order (ledger_op_encode). */
#define GREC_FORMAT 2
#define GREC_HEAD 5
#define GREC_PART_HEAD 16
#define GREC_MAX (GREC_HEAD + (size_t)LEDGER_GROUP_OPS * (GREC_PART_HEAD + OP_ENC_MAX))
/* One partition's part of a group record, decoded. */
typedef struct grec_part {
	uint32_t p;
	uint32_t n;
	pend_op *ops; /* n, numbered from the part's first opno */
} grec_part;
/* A pending op with its three strings in one allocation (at counter). */
pend_op ledger_op_make(const char *counter, const char *item, const char *user, size_t cl,
                       size_t il, size_t ul);
/* The heap bytes of that allocation (memacct_chunk). */
static inline size_t ledger_op_heap(const pend_op *op)
{
	return memacct_chunk((size_t)(op->user - op->counter) + strlen(op->user) + 1);
}
/* Decodes a record holding one op ('O'): 0 or ERR_CORRUPT. */
int ledger_op_decode(const unsigned char *buf, size_t len, pend_op *op);
/* The ops of a run record ('P'), first at opno: *ops (malloc'ed) and *n.
 * ERR_CORRUPT unless the record holds exactly its count of whole ops. */
int ledger_run_decode(const unsigned char *buf, size_t len, uint64_t opno, pend_op **ops,
                      uint32_t *n);
/* The parts of a group record: *parts (malloc'ed, each part's ops too)
 * and *nparts. ERR_CORRUPT unless the record holds exactly its parts
 * and ops, each part of a partition below partitions, none twice. */
int ledger_grec_decode(const unsigned char *buf, size_t len, uint32_t partitions, grec_part **parts,
                       uint32_t *nparts);
/* Frees decoded parts and the ops still in them (op.counter not NULL). */
void ledger_grec_free(grec_part *parts, uint32_t nparts);

/* What an op adds to the overlay. */
static inline int64_t ledger_op_delta(uint8_t kind, uint32_t n, bool counts)
{
	if (!counts)
		return 0;
	return kind == WIRE_ADD ? (int64_t)n : -(int64_t)n;
}

/* A (counter, item) as the view's maps key it ("counter 0 item"), with
 * its smap_hash and its item's partition: made once per op or read and
 * passed down, so no step hashes the item again. */
typedef struct pair_key {
	char key[EKEY_PAIR_MAX];
	size_t kn;
	uint32_t h; /* smap_hash(key, kn) */
	uint32_t p; /* partition_of(item) */
} pair_key;

static inline void ledger_pair_make(pair_key *k, const char *counter, size_t cl, const char *item,
                                    size_t il, uint32_t partitions)
{
	k->kn = ekey_pair(k->key, counter, cl, item, il);
	k->h = smap_hash(k->key, k->kn);
	k->p = partition_of(item, il, partitions);
}

/* === struct commit (ledger_commit.c) ==================================== */

/* The open group: ops staged by writes since the last commit, written
 * together by the next one. */
#define GROUP_SLOTS 4096 /* power of two, >= 2 x LEDGER_GROUP_OPS */
#define GROUP_IDEM 64    /* idempotency records in one group */

typedef struct group_op {
	pend_op op;
	uint32_t p;
	uint32_t bytes;        /* encoded size: pending bytes once committed */
	uint16_t mslot, cslot; /* its slots in member[] (set ops) and count[] */
	uint32_t next;         /* 1 + the index of the partition's next op, or 0 */
} group_op;

/* An open-addressed index entry: at is 1 + the index of a staged op. */
typedef struct group_slot {
	uint64_t hash; /* member[]: XXH3 of the member key; count[]: the
	                  pair key's smap_hash (pair_key) */
	uint32_t at;   /* member[]: the pair's latest op; count[]: the first
	                  op on the counter and item; 0 = empty */
	int64_t delta; /* count[]: what the staged ops add to the count */
} group_slot;

typedef struct group {
	store_batch *wb;
	group_op *ops; /* LEDGER_GROUP_OPS */
	size_t n;
	uint32_t *per_part;    /* staged ops per partition */
	uint32_t *head, *tail; /* 1 + the index of the partition's first and
	                          last staged op, or 0 */
	bool *apart;           /* per partition staged: it could not seal when its first
	                          op was staged, so its ops go in a run of their own */
	uint64_t gno;          /* its record's number, once it is being written */
	unsigned char *rec;    /* its record, being built (GREC_MAX bytes) */
	group_slot member[GROUP_SLOTS];
	group_slot count[GROUP_SLOTS];
	uint64_t idem[GROUP_IDEM]; /* hashes of staged idempotency keys */
	size_t nidem;
	bool hot; /* its accepted ops are in the hot-items sketch already */
	ledger_ticket *tickets;
} group;

/* Records and group commit. Under mu, with three exceptions: the commit
 * thread builds and writes gc's store batch with mu let go (nobody
 * changes gc meanwhile; stagers only read its indexes, under mu), the
 * membership filter and its read counters are read by ledger_member and
 * by stagers with no lock (the filter's bits and the counters are
 * atomic; it is added to by group_record, one at a time: on the commit
 * thread with mu let go, or inline under mu), and finished is atomic
 * (read with no lock). */
struct commit {
	/* The open group (g: writes stage into it) and, while the commit
	 * thread writes one outside the mutex, that one (gc, else NULL);
	 * they take turns in grp[]. */
	group grp[2];
	group *g, *gc;
	uint64_t *next_opno; /* per partition: the opno after the open batch's */
	uint64_t next_gno;   /* the next group record's number */
	hlc clock;
	bloom members; /* every 'M' key this store holds (and maybe others) */
	/* Groups whose ops have joined the overlay: moved with mu held,
	 * after the group's last stripe took its ops, read with no lock by
	 * a stager before it reads an op's membership and count
	 * (ledger_stage_ops), and again under mu: if it has not moved, what
	 * the stager read is still true but for the two groups, which it
	 * then looks up. */
	atomic_uint_fast64_t finished;
	atomic_uint_fast64_t member_reads, member_reads_skipped;
	bool async;    /* a commit thread runs */
	bool asked;    /* ledger_commit asked since the last swap */
	bool stopping; /* the commit thread is to end */
	pthread_t thread;
	pthread_cond_t work; /* commit thread: asked, or stopping */
	pthread_cond_t done; /* gc written and resolved */
};

/* Sets up and frees the groups (not the thread). */
void ledger_group_init(ledger *l);
void ledger_group_free(ledger *l);
/* Starts the commit thread: 0 or ERR_IO. */
int ledger_committer_start(ledger *l);
/* ledger_stop_commits (ledger.h): staged writes stay staged. */
/* Fills the membership filter from the store's 'M' keys: 0 or ERR_IO. */
int ledger_members_load(ledger *l);
/* Writes the open group (nothing to do when it is empty), after the one
 * the commit thread is writing, then seals the batches it filled: 0 or
 * ERR_IO. Lets the mutex go (waiting for the commit thread, sealing):
 * the caller checks again what it relies on. */
int ledger_group_commit(ledger *l, uint64_t wall_ms);
/* At start-up, for each op read back from the store: the clock goes on
 * after every op's hlc (pending or sealed), and op numbers after every
 * pending op's opno in partition p. */
void ledger_clock_seen(ledger *l, uint64_t stamp);
void ledger_opno_seen(ledger *l, uint32_t p, uint64_t opno);

/* === struct outbox (ledger_outbox.c) ==================================== */

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
void ledger_outbox_free(ledger *l);
/* Puts p's 'S' (last sealed sequence and sealed_to) into wb. */
#define SEALED_LEN 16
void ledger_sealed_put(store_batch *wb, uint32_t p, uint64_t seq, uint64_t sealed_to);
/* Reads each partition's sequences and central's last word ('A', 'N',
 * 'S') at start-up: 0 or ERR_*, the reason in err. */
int ledger_outbox_load_seqs(ledger *l, char *err, size_t errlen);
/* Reads the sealed batches central has not confirmed ('B'), their ops
 * into the overlay, each to be sent again: 0 or ERR_*. */
int ledger_outbox_load_sealed(ledger *l, char *err, size_t errlen);
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
int ledger_seal(ledger *l, uint32_t p, uint64_t wall_ms, ledger_seal_why why, uint64_t upto);
/* Seals p's open batch while it holds a batch's worth (after a group
 * filled it); a failure is logged, the ops stay open. Mutex held. */
void ledger_outbox_seal_full(ledger *l, uint32_t p, uint64_t wall_ms);
/* Seals the open batches that are old enough (with force, every one),
 * each in as many batches as it takes: 0 or the first seal's error. */
int ledger_outbox_seal_due(ledger *l, uint64_t wall_ms, bool force);
/* Hands p's unsent batches to the sink, within the send window. */
void ledger_pump_part(ledger *l, uint32_t p);
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
	sbuf keys; /* their pair keys, one after another */
} ledger_confirm;

/* Stages into wb what s's edge list confirms for partition p (the
 * applied sequence, deleting confirmed batches) and marks those batches
 * confirming (not sent while the write runs). Then, with no ledger lock
 * (the count writers' mutex still held, so nothing else deletes them),
 * before the write, ledger_confirm_read reads and decodes them. After
 * the write, ledger_confirm_view (p's stripe held too) drops them from
 * memory and the overlay and moves the partition's version, then
 * ledger_confirm_finish (mu only) resends what central passed over.
 * ledger_confirm_free always. */
void ledger_confirm_stage(ledger *l, store_batch *wb, uint32_t p, const wire_snapshot *s,
                          ledger_confirm *c);
void ledger_confirm_read(ledger *l, uint32_t p, ledger_confirm *c);
void ledger_confirm_view(ledger *l, uint32_t p, const wire_snapshot *s, ledger_confirm *c);
void ledger_confirm_finish(ledger *l, uint32_t p, const wire_snapshot *s, ledger_confirm *c);
void ledger_confirm_free(ledger_confirm *c);

/* === struct view (ledger_view.c) ======================================== */

typedef struct overlay_entry {
	int64_t delta;
	uint64_t nops;
} overlay_entry;

/* A count read through from central, until snapshots cover it. */
typedef struct rt_entry {
	uint64_t count, version, applied, as_of;
	uint64_t fetched_mono;
} rt_entry;

/* A store view taken just before a write that changes counts or sealed
 * batches; readers that looked while the write ran read through it, as
 * the in-memory state they combine it with is still the one before the
 * write. Freed by whoever drops the last reference (under the stripe of
 * its partition). */
typedef struct vsnap {
	store_snap *sn;
	unsigned refs;
} vsnap;

/* A partition as count reads see it: the writer's fields as of its last
 * finished store write, published by ledger_view_publish. */
typedef struct pview {
	uint64_t snap_offset, snap_ms, applied;
	bool complete; /* the replica is complete */
	/* Moves by one when a write that changes the partition's counts or
	 * deletes sealed batches (a snapshot, a checkpoint message) starts
	 * (odd) and again when the memory that goes with it is updated
	 * (even). A read that fetched from the store keeps what it fetched
	 * only if gen did not move meanwhile. Seals do not move it: a sealed
	 * batch is in memory before it is in the store, and a read that
	 * misses one in pre reads it from the store as it is. */
	uint64_t gen;
	vsnap *pre; /* gen odd: the store as it was before the write */
} pview;

/* A read-through count a reader found settled by the snapshots: cached at
 * once, written to the store by the next seal tick, or at close
 * (ledger_keep_flush). */
#define LEDGER_KEEP_MAX 64 /* per stripe, between two flushes; see keep_cap */
typedef struct keep_req {
	char key[EKEY_PAIR_MAX]; /* the pair key (ekey_pair) */
	size_t kn;
	uint64_t count, version;
} keep_req;

/* One stripe of the view: what count reads of its partitions' items look
 * at (partition p is in stripe p % n), under its own mutex. */
typedef struct vstripe {
	pthread_mutex_t mu;
	uint64_t since;             /* when the holder took mu (ns) */
	smap overlay;               /* counter 0 item -> overlay_entry* */
	imap cache_hot, cache_cold; /* counter 0 item -> count | COUNT_KNOWN, or 0 */
	imap_where cache_where;     /* cache_hot's slots, for prefetches without mu */
	smap rt_hot, rt_cold;       /* counter 0 item -> rt_entry* */
	keep_req keep[LEDGER_KEEP_MAX];
	size_t nkeep;
	/* The stripe's share of ledger_stats. */
	uint64_t cache_hits, cache_misses, readthrough_kept;
	uint64_t lock_ns; /* mu held (without the writer mutex) */
	/* The heap bytes of its count cache, read-through counts and overlay
	 * (ledger_memory), stored under mu after each change that may move
	 * them, read with no lock. */
	_Atomic uint64_t cache_bytes, rt_bytes, overlay_bytes;
	char pad[64]; /* no cache line shared with the next stripe's mutex */
} vstripe;

/* What a count read looks at, cut by partition into n stripes
 * (LEDGER_VIEW_STRIPES at most, and no more than the partitions, nor
 * than leave each stripe two entries of each cache), so that reads and
 * writers of different partitions never wait for each other. A
 * partition's part (its items' overlay, cached and read-through counts,
 * kept read-throughs, and its pview) is under its stripe's mutex, from
 * any thread; a reader lets it go while it reads the store. Writers (mu
 * held) change it only after their store write; the keep flush (cmu
 * held) only takes the kept read-throughs out. No thread holds two
 * stripes at once. A viral item's reads and likes all meet in one
 * stripe, so under that load one stripe is as busy as an unstriped view
 * would be. */
_Static_assert(LEDGER_VIEW_STRIPES <= 255 && LEDGER_GROUP_OPS <= 65536,
               "a group's ops are sorted by stripe into uint8_t and uint16_t");

struct view {
	vstripe *s;
	uint32_t n;
	size_t cache_cap, rt_cap; /* each stripe's share of the two caches */
	size_t keep_cap;          /* kept read-throughs per stripe: 64 in all, 16 each at least */
	pview *pv;                /* per partition, under its stripe */
};

void ledger_view_init(ledger *l);
void ledger_views_free(ledger *l);
/* Publishes partition p's writer fields to its view; p's stripe held. */
void ledger_view_publish(ledger *l, uint32_t p);
/* Before a store write that changes p's counts or sealed batches: readers
 * read the store as it is now until ledger_view_end. mu held, no stripe. */
void ledger_view_begin(ledger *l, uint32_t p);
/* After that write and the memory that goes with it; p's stripe held. */
void ledger_view_end(ledger *l, uint32_t p);
/* Writes the read-through counts readers found settled: their store
 * reads and write with cmu held, not mu, so no like waits for them. */
void ledger_keep_flush(ledger *l);
/* Count, version and freshness of k as this edge shows it, with plus
 * (ops not in the overlay yet) added before the count is clamped at 0;
 * *raw (if raw is not NULL) gets the count before the clamp. Takes k's
 * stripe (and lets it go while it reads the store). */
int ledger_view_count(ledger *l, const pair_key *k, int64_t plus, ledger_view *out, int64_t *raw);
/* The view's share of the stats, summed over the stripes (each taken in
 * turn; none may be held). */
void ledger_view_stats(ledger *l, ledger_stats *out);
/* The view's share of ledger_memory, summed over the stripes' atomics:
 * no lock. */
void ledger_view_memory(const ledger *l, ledger_memory *out);

/* The overlay of stripe vs (held; at start-up, nothing is). The
 * caller's partition picks vs, the one its item's reads look in.
 * ledger_overlay_add_h is ledger_overlay_add for a key whose smap_hash
 * h is known. */
void ledger_overlay_add(vstripe *vs, const char *counter, size_t cl, const char *item, size_t il,
                        int64_t delta);
void ledger_overlay_add_h(vstripe *vs, const char *key, size_t kn, uint32_t h, int64_t delta);
/* An op's delta taken off key's entry ("counter 0 item", smap_hash h). */
void ledger_overlay_remove_h(vstripe *vs, const char *key, size_t kn, uint32_t h, int64_t delta);
/* k ops of (counter, item) became one entry of a sealed batch (a sum): the
 * overlay now counts them as one, so that entry's removal drops them all. */
void ledger_overlay_merge(vstripe *vs, const char *counter, size_t cl, const char *item, size_t il,
                          uint64_t k);
/* The overlay delta of every entry of a sealed batch: fn(ctx, counter,
 * item, delta) per op (flags as the 'D' record, or NULL: all count) and
 * per sum. No lock needed. */
void ledger_batch_deltas(const wire_batch *b, const char *flags,
                         void (*fn)(void *ctx, wire_str counter, wire_str item, int64_t delta),
                         void *ctx);
/* The 'D' flags of (p, seq) (malloc'ed, nops bytes), or NULL. No lock. */
char *ledger_read_flags(ledger *l, uint32_t p, uint64_t seq, uint32_t nops);

/* The version stored with key's ("counter 0 item") count: 0, or
 * ERR_NOTFOUND (*version 0), or ERR_IO. A store read: no lock needed. */
int ledger_count_version(ledger *l, const char *key, size_t kn, uint64_t *version);
/* Puts s's counts into wb, each with s->offset as its version. With
 * check, a count whose stored version is newer is left alone, and so is
 * a count of an item outside s's partition, with a warning (the uplink
 * drops such entries from snapshots already; a checkpoint's, or a
 * central that counts partitions differently, would bring them: the
 * ledger keeps each partition's counts to its own stripe; the warning
 * comes at most once every 10 s). skip
 * gets s->ncounts flags: true for an entry not written. 0 or ERR_IO. */
int ledger_stage_counts(ledger *l, store_batch *wb, const wire_snapshot *s, bool check, bool *skip);
/* After the write (s's partition's stripe held): the written counts into
 * the cache; with only_cached only those it holds already (a checkpoint
 * does not flood it). */
void ledger_cache_counts(ledger *l, const wire_snapshot *s, const bool *skip, bool only_cached);

/* === struct replica (ledger_replica.c) ================================== */

typedef struct replica_part {
	/* LEDGER_REPLICA_*, the lowest and highest version of the checkpoint
	 * messages loaded, the counts loaded, and where a cut-off load
	 * resumes ("counter 0 item"). */
	int state;
	uint32_t gen; /* moves with every start of a load (not stored) */
	uint64_t ckpt_lo, ckpt_hi;
	uint64_t loaded;
	char after[KEY_MAX];
	size_t after_len;
} replica_part;

/* The replica's load, per partition. Under mu; whether a partition is
 * complete reaches readers through ledger_view_publish. */
struct replica {
	replica_part *parts;
};

void ledger_replica_init(ledger *l);
void ledger_replica_free(ledger *l);
/* Reads the partitions' replica records at start-up: 0 or ERR_*. */
int ledger_replica_load(ledger *l, char *err, size_t errlen);

/* === struct ledger ====================================================== */

struct ledger {
	pthread_mutex_t cmu;       /* the count writers' mutex: see the top */
	pthread_mutex_t mu;        /* the writer mutex */
	uint64_t mu_since;         /* when the holder took it (ns) */
	const ledger *mine_before; /* the holder's ledger_mine before mu */
	store *db;                 /* borrowed; LevelDB is thread-safe */
	char *edge_id, *region;
	ledger_opts o; /* set at open, read-only after */
	/* Under mu: the store batch of one-off writes (snapshot positions,
	 * replica records), one at a time, and the stats, but for the
	 * view's share (struct view) and the membership reads (struct
	 * commit). */
	store_batch *wb;
	/* Under cmu: the count writers' store batch (a snapshot's, a
	 * checkpoint message's, the kept read-through counts), written with
	 * mu let go. */
	store_batch *snap_wb;
	ledger_stats st;
	log_limit misparted; /* the warning of counts from other partitions */
	struct commit commit;
	struct outbox outbox;
	struct view view;
	struct replica replica;
};

static inline bool ledger_outbox_full(const ledger *l, uint32_t p)
{
	return l->outbox.parts[p].open.len >= l->o.seal_ops;
}

/* The count writers' mutex (see the top of this file). Not timed: it is
 * taken by the upstream thread (snapshots, the seal tick, a snapshot
 * position reset), the checkpoint loader, the drain's forced seal and
 * ledger_free, never by a request. */
static inline void ledger_lock_counts(ledger *l)
{
	pthread_mutex_lock(&l->cmu);
}

static inline void ledger_unlock_counts(ledger *l)
{
	pthread_mutex_unlock(&l->cmu);
}

/* The ledger whose writer mutex this thread holds, or NULL. */
extern _Thread_local const ledger *ledger_mine;

/* The writer mutex and the view stripes' mutexes, timed: the time each
 * is held goes to the stats (the serial fraction). Waiting on a
 * condition variable does not count as holding. A stripe's time counts
 * only where the writer mutex is not held too, so that the two sections
 * do not count the same time twice. */
static inline void ledger_lock(ledger *l)
{
	pthread_mutex_lock(&l->mu);
	l->mu_since = clock_mono_ns();
	l->mine_before = ledger_mine;
	ledger_mine = l;
}

static inline void ledger_unlock(ledger *l)
{
	ledger_mine = l->mine_before;
	l->st.writer_lock_ns += clock_mono_ns() - l->mu_since;
	pthread_mutex_unlock(&l->mu);
}

static inline void ledger_wait(ledger *l, pthread_cond_t *c)
{
	const ledger *before = l->mine_before;
	ledger_mine = before;
	l->st.writer_lock_ns += clock_mono_ns() - l->mu_since;
	pthread_cond_wait(c, &l->mu);
	l->mu_since = clock_mono_ns();
	l->mine_before = before;
	ledger_mine = l;
}

/* Partition p's view stripe. */
static inline vstripe *ledger_stripe(ledger *l, uint32_t p)
{
	return &l->view.s[p % l->view.n];
}

/* Takes stripe vs (the clock is read only where its time counts). */
static inline void ledger_vlock_stripe(ledger *l, vstripe *vs)
{
	pthread_mutex_lock(&vs->mu);
	if (ledger_mine != l)
		vs->since = clock_mono_ns();
}

/* Takes partition p's stripe, and returns it. */
static inline vstripe *ledger_vlock(ledger *l, uint32_t p)
{
	vstripe *vs = ledger_stripe(l, p);
	ledger_vlock_stripe(l, vs);
	return vs;
}

static inline void ledger_vunlock(ledger *l, vstripe *vs)
{
	if (ledger_mine != l)
		vs->lock_ns += clock_mono_ns() - vs->since;
	pthread_mutex_unlock(&vs->mu);
}

/* Stripe holds one after another (a batch read's): a hold whose mutex
 * is free is timed from the clock read that ended the one before (t),
 * so n uncontended holds read the clock n + 1 times instead of 2n; what
 * runs between two holds counts as held. A hold that must wait for its
 * mutex reads the clock once it has it, so no wait is counted, and no
 * time the writer lock's holder already counts is counted again. */
static inline void ledger_vlock_from(ledger *l, vstripe *vs, uint64_t t)
{
	bool waited = pthread_mutex_trylock(&vs->mu) != 0;
	if (waited)
		pthread_mutex_lock(&vs->mu);
	if (ledger_mine != l)
		vs->since = waited ? clock_mono_ns() : t;
}

/* ledger_vunlock for a hold taken by ledger_vlock_from: the clock it
 * read (0 when none), which times the next hold. */
static inline uint64_t ledger_vunlock_at(ledger *l, vstripe *vs)
{
	uint64_t now = 0;
	if (ledger_mine != l) {
		now = clock_mono_ns();
		vs->lock_ns += now - vs->since;
	}
	pthread_mutex_unlock(&vs->mu);
	return now;
}

#endif
