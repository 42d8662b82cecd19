/* commit_int.h - struct commit, owned by ledger_group.c: the open group
 * and the groups in flight, the send turn, the group records, op numbers
 * and the clock, and the only functions other files call on it (the
 * membership filter the groups' records go into is struct members,
 * members_int.h). Private to edge/ledger/ (ledger_int.h includes it; the
 * send turn's lock is its).
 *
 * The groups sit on the outbox, the view and the members: struct commit
 * is given them at init, and its functions take struct commit, never
 * struct ledger. Taking a group into flight, its copy to the log and its
 * store write, the commit threads and every wait on the writer mutex
 * are ledger_commit.c's (ledger_int.h), one layer up; a write's staging
 * (ledger_stage.c) and the home stream (ledger_home.c) stage through the
 * functions below. Under the writer mutex, but where a function says
 * otherwise.
 */
#ifndef EDGE_LEDGER_COMMIT_INT_H
#define EDGE_LEDGER_COMMIT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "edge/ledger/idem.h"
#include "edge/ledger/members_int.h"
#include "edge/ledger/outbox_int.h"
#include "edge/ledger/records_int.h"
#include "edge/ledger/view_int.h"
#include "hlc.h"
#include "store.h"

/* The open group: ops staged by writes since the last commit, written
 * together by the next one. */
#define GROUP_SLOTS 4096 /* power of two, >= 2 x LEDGER_GROUP_OPS */
#define GROUP_IDEM 64    /* idempotency records in one group */
#define GROUP_UNNUMBERED UINT64_MAX
#define IDEM_RECENT 8     /* groups whose idempotency keys are kept after they join */
#define MEMBER_RECENT 16  /* groups whose member keys are kept, in a filter, after they join */
#define MEMBER_BITS 4096u /* that filter's bits: a power of two */

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

/* A membership from the home stream (ledger_home_apply), staged into a
 * group: it has no op, only its 'M' put; or, with state HOME_DROP, the
 * delete of a record the retention drops (ledger_member_sweep), whose
 * pair is then not known here. */
#define HOME_DROP 2
typedef struct home_put {
	char mkey[KEY_MAX];
	size_t mkn;
	uint64_t mhash;
	uint8_t state; /* 0, 1, or HOME_DROP */
	uint64_t hlc;  /* the put's clock; a drop's: the record's */
} home_put;

typedef struct group {
	store_batch *wb;
	group_op *ops; /* LEDGER_GROUP_OPS */
	size_t n;
	uint32_t *per_part;    /* staged ops per partition */
	uint32_t *head, *tail; /* 1 + the index of the partition's first and
	                          last staged op, or 0 */
	bool *apart;           /* per partition staged: it could not seal when its first
	                          op was staged, so its ops go in a run of their own */
	uint64_t gno;          /* its record's number once it is being written, else
	                          GROUP_UNNUMBERED */
	unsigned char *rec;    /* its record, being built (GREC_MAX bytes) */
	group_slot member[GROUP_SLOTS];
	group_slot count[GROUP_SLOTS];
	/* Its idempotency records: each key's hash, its request's
	 * fingerprint and its answer (the rendering, owned), so that a retry
	 * made while the group is not written yet answers as its first try
	 * (ledger_group_follow). */
	uint64_t idem[GROUP_IDEM];
	uint64_t idem_fp[GROUP_IDEM];
	char *idem_answer[GROUP_IDEM];
	size_t idem_len[GROUP_IDEM];
	size_t nidem;
	bool hot; /* its accepted ops are in the hot-items sketch already */
	/* In flight: a group before it failed, and this one, staged on it,
	 * fails with that error (0: not so). A doomed group is no longer
	 * looked up by stagers (its ops never count). */
	int doom;
	uint64_t seq; /* its place in the order groups are taken */
	uint64_t gen; /* how many times it was emptied (resolved) */
	ledger_ticket *tickets;
	/* Memberships from the home stream, put before the ops' (a pair an
	 * op of this group holds is never put here: ledger_home_apply). */
	home_put *homes;
	size_t nhomes, homes_cap;
	bool marks; /* a move's mark ('T') is put in it (ledger_home_apply) */
} group;

/* Groups in flight at once at most: taken, and not yet finished. */
#define COMMIT_DEPTH_MAX 2
/* Groups closed at most: full, staged on, and waiting for a commit
 * thread to take them (ledger_group_close). Past that, a write with a
 * ticket is refused rather than waited for. */
#define GROUP_CLOSED_MAX 4
#define GROUPS_MAX (COMMIT_DEPTH_MAX + GROUP_CLOSED_MAX + 1)

/* The groups' share of ledger_stats (the fields of the same names),
 * under the writer mutex; ledger_group_stats copies them out. */
typedef struct commit_stats {
	uint64_t ops_accepted, ops_duplicate;
	uint64_t commits, commits_failed;
	uint64_t commit_write_ns, commit_write_cpu_ns;
} commit_stats;

/* The groups. Under mu, with two exceptions: the thread that took a
 * group builds its records with mu let go (nobody changes a group in
 * flight; stagers only read its indexes, under mu), the send turn
 * (turn_mu), and finished is atomic (read with no lock). */
struct commit {
	const ledger_opts *o; /* the ledger's, read-only */
	struct view *view;
	struct outbox *outbox;
	struct members *members;
	/* The open group (g: writes stage into it), the groups closed
	 * and not taken yet (ledger_group_close), oldest first:
	 * closed[0..nclosed), and the groups taken and not finished
	 * (ledger_group_take), oldest first: fly[0..nfly). They take
	 * turns in grp[]. Staging order is fly, then closed, then the
	 * open one, and groups are taken in that order. At most depth
	 * are in flight: 1, or more when the group's copy is pipelined
	 * (ledger_opts.commit_depth). */
	group grp[GROUPS_MAX];
	group *g;
	group *closed[GROUP_CLOSED_MAX];
	size_t nclosed;
	group *fly[COMMIT_DEPTH_MAX];
	size_t nfly;
	unsigned depth;
	uint64_t taken; /* groups taken so far: the next one's seq */
	/* The send turn: each taken group builds its records and begins its
	 * copy in the order it was taken (sent: how many have), so the copy
	 * holds groups in staging order. Its holder takes no ledger lock. */
	tsa_mutex turn_mu;
	pthread_cond_t turn_cv;
	uint64_t sent;
	uint64_t *next_opno; /* per partition: the opno after the open batch's */
	uint64_t next_gno;   /* the next group record's number */
	hlc clock;
	/* Groups whose ops have joined the overlay: moved with mu held,
	 * after the group's last stripe took its ops, read with no lock by
	 * a stager before it reads an op's membership and count
	 * (ledger_stage_ops), and again under mu: if it has not moved, what
	 * the stager read is still true but for the live groups, which it
	 * then looks up. */
	atomic_uint_fast64_t finished;
	/* The idempotency keys (ledger_idem_hash) of the last IDEM_RECENT
	 * groups that joined, each under the value finished took then, in
	 * a ring (under mu): a stager whose key was not in the store when
	 * it read it looks again only if a group that joined since held it
	 * (ledger_idem_joined). */
	struct {
		uint64_t finished;
		size_t n;
		uint64_t h[GROUP_IDEM];
	} idem_recent[IDEM_RECENT];
	/* The member keys (XXH3 of ekey_member) the last MEMBER_RECENT
	 * groups that joined wrote, their set ops' and home puts', a bit
	 * each in a filter, under the value finished took then (under mu):
	 * a membership read before the mutex still holds under it unless a
	 * group that joined since may have written its key
	 * (ledger_member_joined). */
	struct {
		uint64_t finished;
		bool marks; /* it put a move's mark */
		uint64_t bits[MEMBER_BITS / 64];
	} member_recent[MEMBER_RECENT];
	commit_stats st;
};

/* Sets up the groups, given what they read and change below them (o:
 * the partitions, the commit depth, the telemetry), and frees them: the
 * tickets of groups never written end ERR_CLOSED. */
void ledger_group_init(struct commit *c, const ledger_opts *o, struct view *v, struct outbox *ob,
                       struct members *m);
void ledger_group_free(struct commit *c);
/* The groups' share of the stats into out. */
void ledger_group_stats(const struct commit *c, ledger_stats *out);

/* --- recovery: at start-up, for each op and group record read back --------- */

/* The clock goes on after every op's hlc (pending or sealed), op numbers
 * after every pending op's opno in partition p, and no new group record
 * takes a number read back. */
void ledger_clock_seen(struct commit *c, uint64_t stamp);
void ledger_opno_seen(struct commit *c, uint32_t p, uint64_t opno);
void ledger_gno_seen(struct commit *c, uint64_t gno);

/* --- staging into the open group (mu held) ---------------------------------- */

/* Groups that joined the overlay so far (commit.finished): read with no
 * lock before the reads a stager makes, and again under mu. */
static inline uint64_t ledger_groups_finished(const struct commit *c)
{
	return atomic_load_explicit(&c->finished, memory_order_acquire);
}
/* The newest staged state of a pair (probe's names; member key mkey,
 * hashed mhash): in the live groups (the open one, the closed ones,
 * then those in flight that are not doomed), newest first, an op of it (*op) before
 * a home put (*hp). false when none holds it. */
bool ledger_group_newest(const struct commit *c, const pend_op *probe, uint64_t mhash,
                         const char *mkey, size_t mkn, const pend_op **op, const home_put **hp);
/* What the live groups' ops add to the count of probe's counter and item
 * (its pair key hashed h). */
int64_t ledger_groups_delta(const struct commit *c, uint64_t h, const pend_op *probe);
/* The op number a new op of partition p takes after the live groups'. */
uint64_t ledger_groups_next_opno(const struct commit *c, uint32_t p);
/* The stamp of a new op: after seen (a client's or a pair's clock; 0:
 * none) and every stamp given. The clock as a whole is saved and put
 * back by a staging that fails half way. */
uint64_t ledger_clock_stamp(struct commit *c, uint64_t seen, uint64_t wall_ms);
static inline hlc ledger_clock_get(const struct commit *c)
{
	return c->clock;
}
static inline void ledger_clock_put(struct commit *c, hlc saved)
{
	c->clock = saved;
}
/* The clock moved past a stamp the group takes (a home put's). */
void ledger_clock_observe(struct commit *c, uint64_t stamp, uint64_t wall_ms);
/* Moves a staged op into the open group's indexes, which take its
 * strings (op->counter becomes NULL): its partition's chain, its count
 * (its pair key hashed pair_h) and, for a set op, its membership (member
 * key hashed mhash). Its store records are put at the commit
 * (ledger_group_record), outside the mutex. */
void ledger_group_add(struct commit *c, pend_op *op, uint32_t p, uint32_t bytes, uint64_t pair_h,
                      bool set, uint64_t mhash);
/* A write's idempotency record (its answer, len bytes, malloc'ed: the
 * group keeps it for a retry to follow and frees it; its key hashed
 * ih), put in the open group. */
void ledger_group_idem(struct commit *c, const idem_req *req, char *answer, size_t len,
                       uint64_t ih);
/* t waits on the open group's outcome. */
void ledger_group_ticket(struct commit *c, ledger_ticket *t);
/* What another file stages into the open group: a home put
 * (ledger_home.c); a record put into the group's store batch, with
 * filter its key into the membership filter first, as an 'M' goes; a
 * move's mark put in it (stagers of the home stream look again). */
void ledger_group_home(struct commit *c, const home_put *h);
void ledger_group_put(struct commit *c, const char *k, size_t kn, const void *v, size_t vn,
                      bool filter);
void ledger_group_marks(struct commit *c);
/* The open group: nothing to write (no op, no home put, no ticket); its
 * ops; room in it for n ops and, with idem, a record of the key hashed
 * ih (not full of records, not holding that key). */
bool ledger_group_empty(const struct commit *c);
size_t ledger_group_nops(const struct commit *c);
bool ledger_group_fits(const struct commit *c, size_t n, bool idem, uint64_t ih);
/* The groups a call is to see resolved: each with its gen then. */
typedef struct group_marks {
	const group *g[GROUPS_MAX];
	uint64_t gen[GROUPS_MAX];
	size_t n;
} group_marks;
/* Marks every group in flight or closed now, and the open one unless
 * it is empty. */
void ledger_groups_mark(const struct commit *c, group_marks *m);
/* Of the groups marked: all resolved since (MARKS_RESOLVED), one still
 * to be taken (MARKS_WAITING: closed, or open; the next group taken is
 * one of them), or the rest in flight (MARKS_FLYING). */
enum { MARKS_RESOLVED, MARKS_WAITING, MARKS_FLYING };
int ledger_groups_marked(const struct commit *c, const group_marks *m);
/* Closes the open group (not empty) and opens a new one, so that a
 * write with a ticket stages without waiting for a group to be taken:
 * the closed group is taken before the new one. false, nothing done,
 * when GROUP_CLOSED_MAX are closed already. */
bool ledger_group_close(struct commit *c);
/* Groups closed and not taken yet. */
static inline size_t ledger_groups_closed(const struct commit *c)
{
	return c->nclosed;
}
/* A retry of a write not written yet: the group (open, closed or in
 * flight) holding the idempotency key hashed ih. With the same
 * fingerprint fp, t waits on that group (LEDGER_STAGED) and *answer
 * (malloc'ed, *len bytes) is the first try's answer: 0. ERR_CONFLICT
 * when that key was staged for another request; ERR_NOTFOUND when no
 * group holds it. */
int ledger_group_follow(struct commit *c, uint64_t ih, uint64_t fp, ledger_ticket *t, char **answer,
                        size_t *len);
/* True when a group that joined the overlay after finished was seen
 * (commit.finished) may have held the key hashed ih, so its record may
 * be in the store now: one of the last IDEM_RECENT groups held it, or
 * more have joined than those. */
bool ledger_idem_joined(const struct commit *c, uint64_t seen, uint64_t ih);
/* True when a group that joined the overlay after finished was seen
 * may have written the member key hashed mhash (XXH3 of ekey_member),
 * so a read of it made before may be stale: a filter of one of the last
 * MEMBER_RECENT groups has its bit, or more have joined than those. */
bool ledger_member_joined(const struct commit *c, uint64_t seen, uint64_t mhash);
/* The same for the home marks of moves: true when a group that joined
 * since seen put one, or more have joined than MEMBER_RECENT. */
bool ledger_marks_joined(const struct commit *c, uint64_t seen);
/* The open group, a closed one or a group in flight holds the
 * idempotency key hashed ih (a retry of a write not finished yet); a
 * group closed or in flight does. */
bool ledger_idem_pending(const struct commit *c, uint64_t ih);
bool ledger_idem_in_flight(const struct commit *c, uint64_t ih);
/* The hash of (user, idempotency key) the groups keep. Pure. */
uint64_t ledger_idem_hash(const char *user, const char *key);

/* --- a group's flight (ledger_commit.c runs the phases) --------------------- */

#define WAKE_MAX 64 /* distinct wakes called per group; more: each at once */

/* The distinct wakes of a group's tickets, to be called once each. */
typedef struct wake_list {
	struct {
		void (*fn)(void *);
		void *ctx;
	} w[WAKE_MAX];
	size_t n;
} wake_list;

/* Calls each wake of wl (system calls: with the mutex let go). */
void ledger_wakes_call(const wake_list *wl);

/* The partitions whose open batch a group filled: sealed once the group
 * is finished (a seal lets the mutex go, which a finish may not). */
typedef struct full_list {
	uint32_t p[LEDGER_GROUP_OPS];
	size_t n;
} full_list;

/* What a group's finish hands back: the wakes to call and the batches to
 * seal, its own and (when it failed by itself) those of the closed
 * groups and the open one, which failed with it. */
typedef struct group_answers {
	wake_list wl, wl_open;
	full_list fl, fl_open;
} group_answers;

/* How a group's write went besides its outcome: its serial work's time
 * and CPU time (records built, copy, store write), and the clock its
 * finish records. */
typedef struct group_end {
	uint64_t write_ns, write_cpu_ns, wall_ms;
} group_end;

/* A group may be taken now: fewer than depth in flight, and none
 * doomed (those staged on a failed group finish before anything staged
 * since is sent, so that their undoing in the copy reads a store that
 * no later group has written). */
bool ledger_group_can_take(const struct commit *c);
/* Groups in flight now, and at most. */
static inline size_t ledger_groups_flying(const struct commit *c)
{
	return c->nfly;
}
static inline unsigned ledger_groups_depth(const struct commit *c)
{
	return c->depth;
}
/* Takes the oldest closed group into flight or, with none closed, the
 * open one (and opens a new one): numbered, last in the send turn's
 * order; the group taken. ledger_group_can_take holds. */
group *ledger_group_take(struct commit *c);
/* Puts g's records into its store batch: its memberships, one group
 * record holding, per partition it touched, the partition's staged ops
 * in opno order, and a run of its own for a partition that cannot seal
 * yet. g does not change meanwhile and one runs at a time (in the send
 * turn), so the mutex need not be held. */
void ledger_group_record(struct commit *c, group *g);
/* The send turn: returns once every group taken before g has sent its
 * copy; ledger_turn_pass hands it on. No ledger lock. */
void ledger_turn_wait(struct commit *c, const group *g);
void ledger_turn_pass(struct commit *c);
/* g is the oldest group in flight; the error of the group it was staged
 * on, once that failed (0: none); its store batch. */
bool ledger_group_first(const struct commit *c, const group *g);
int ledger_group_doom(const group *g);
store_batch *ledger_group_batch(const group *g);
/* The hot-items sketch learns written g's accepted ops (its own lock:
 * with the mutex let go, g not changing meanwhile); the finish does not
 * again. */
void ledger_group_hot(struct commit *c, group *g);
/* After the oldest group in flight g was written (rc 0) or not: its ops
 * into the overlay and the open batches, its tickets resolved (async:
 * commit threads run, so the wakes go into out for the caller to call),
 * the batches it filled into out, g out of flight; a group that failed
 * by itself fails those staged on it: the closed groups and the open
 * one now, the later ones in flight as they finish. */
void ledger_group_settle(struct commit *c, group *g, int rc, const group_end *e, bool async,
                         group_answers *out);

#endif
