/* commit_int.h - struct commit, owned by ledger_commit.c (with ledger_stage.c,
 * which stages into its open group): the groups, the commit threads,
 * the group records, op numbers and the clock, and the only functions
 * other files call on it (the membership filter the groups' records go
 * into is struct members, members_int.h). Private to
 * edge/ledger/ (ledger_int.h includes it; the locks are its).
 */
#ifndef EDGE_LEDGER_COMMIT_INT_H
#define EDGE_LEDGER_COMMIT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "edge/ledger/records_int.h"
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
	uint64_t idem[GROUP_IDEM]; /* hashes of staged idempotency keys */
	size_t nidem;
	bool hot; /* its accepted ops are in the hot-items sketch already */
	/* In flight: a group before it failed, and this one, staged on it,
	 * fails with that error (0: not so). A doomed group is no longer
	 * looked up by stagers (its ops never count). */
	int doom;
	uint64_t seq;  /* its place in the order groups are taken */
	void *pending; /* its copy, begun (ledger_log.begin) and not ended */
	ledger_ticket *tickets;
	/* Memberships from the home stream, put before the ops' (a pair an
	 * op of this group holds is never put here: ledger_home_apply). */
	home_put *homes;
	size_t nhomes, homes_cap;
	bool marks; /* a move's mark ('T') is put in it (ledger_home_apply) */
} group;

/* Groups in flight at once at most: taken, and not yet finished. */
#define COMMIT_DEPTH_MAX 2

/* Records and group commit. Under mu, with three exceptions: the thread
 * that took a group builds and writes its store batch with mu let go
 * (nobody changes a group in flight; stagers only read its indexes,
 * under mu), the send turn (turn_mu), and finished is atomic (read with
 * no lock). */
struct commit {
	/* The open group (g: writes stage into it) and the groups taken
	 * and not finished (commit_taken), oldest first: fly[0..nfly). They
	 * take turns in grp[]. At most depth are in flight: 1, or more when
	 * the group's copy is pipelined (ledger_opts.commit_depth). */
	group grp[COMMIT_DEPTH_MAX + 1];
	group *g;
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
	bool async;                         /* commit threads run */
	bool asked;                         /* ledger_commit asked since the last take */
	bool stopping;                      /* the commit threads are to end */
	pthread_t thread[COMMIT_DEPTH_MAX]; /* one per group in flight */
	unsigned nthreads;
	pthread_cond_t work; /* commit threads: asked, or stopping */
	pthread_cond_t done; /* a group in flight written and resolved (the
	                        commit threads wait on it too, for room) */
};

/* Sets up and frees the groups (not the thread). */
void ledger_group_init(ledger *l);
void ledger_group_free(ledger *l);
/* Starts the commit threads (one per group in flight): 0 or ERR_IO. */
int ledger_committer_start(ledger *l);
/* ledger_stop_commits (ledger.h): staged writes stay staged. */
/* The home stream's horizons ('H') into l->home_from: start-up. */
int ledger_home_load(ledger *l);
/* A follower's write: the horizons its 'H' puts carry. */
void ledger_home_note(ledger *l, const store_batch *wb);
/* The groups stagers look up, newest first: the open one, then those
 * in flight that are not doomed. Fills gs (COMMIT_DEPTH_MAX + 1); how
 * many. mu held. */
size_t ledger_groups_live(const ledger *l, const group **gs);
/* The newest staged state of a pair (probe's names; member key mkey,
 * hashed mhash): in the live groups (ledger_groups_live), newest first,
 * an op of it (*op) before a home put (*hp). false when none holds
 * it. mu held. */
bool ledger_group_newest(const ledger *l, const pend_op *probe, uint64_t mhash, const char *mkey,
                         size_t mkn, const pend_op **op, const home_put **hp);
/* Writes the open group (when it is empty: waits for the groups in
 * flight), after the groups in flight, then seals the batches it
 * filled: 0 or its error. Lets the mutex go (waiting for room, sealing):
 * the caller checks again what it relies on. */
int ledger_group_commit(ledger *l, uint64_t wall_ms) TSA_REQUIRES(LEDGER_MU(l));
/* ledger_group_commit with a ticket of the caller's own in the open
 * group (a write that is no request's): 0 once the group is durable,
 * else its error. */
int ledger_group_commit_own(ledger *l, uint64_t wall_ms) TSA_REQUIRES(LEDGER_MU(l));
/* What another file stages into the open group, through the commit
 * (mutex held): a home put (ledger_home.c); a record put into the
 * group's store batch, with filter its key into the membership filter
 * first, as an 'M' goes; the clock moved past a stamp the group takes. */
void ledger_group_home(ledger *l, const home_put *h) TSA_REQUIRES(LEDGER_MU(l));
void ledger_group_put(ledger *l, const char *k, size_t kn, const void *v, size_t vn, bool filter)
    TSA_REQUIRES(LEDGER_MU(l));
void ledger_clock_observe(ledger *l, uint64_t stamp, uint64_t wall_ms) TSA_REQUIRES(LEDGER_MU(l));
/* Makes room in the open group for n ops and, with idem, a record of the
 * key whose ledger_idem_hash is ih: writes the open group first when it
 * is full or holds that key already, and waits for the group being
 * written while it holds the key, so that a retry sees its first try.
 * Lets the mutex go (as ledger_group_commit); returns with room. */
void ledger_group_room(ledger *l, size_t n, bool idem, uint64_t ih, uint64_t wall_ms)
    TSA_REQUIRES(LEDGER_MU(l));
/* True when a group that joined the overlay after finished was seen
 * (commit.finished) may have held the key hashed ih, so its record may
 * be in the store now: one of the last IDEM_RECENT groups held it, or
 * more have joined than those. */
bool ledger_idem_joined(const ledger *l, uint64_t seen, uint64_t ih);
/* Under the mutex: true when a group that joined the overlay after
 * finished was seen may have written the member key hashed mhash (XXH3
 * of ekey_member), so a read of it made before may be stale: a filter
 * of one of the last MEMBER_RECENT groups has its bit, or more have
 * joined than those. */
bool ledger_member_joined(ledger *l, uint64_t seen, uint64_t mhash) TSA_REQUIRES(LEDGER_MU(l));
/* The same for the home marks of moves: true when a group that joined
 * since seen put one, or more have joined than MEMBER_RECENT. */
bool ledger_marks_joined(ledger *l, uint64_t seen) TSA_REQUIRES(LEDGER_MU(l));
/* Under the mutex: the open group or a group in flight holds the
 * idempotency key hashed ih (a retry of a write not finished yet). */
bool ledger_idem_pending(const ledger *l, uint64_t ih);
/* The hash of (user, idempotency key) the groups keep. Pure. */
uint64_t ledger_idem_hash(const char *user, const char *key);
/* At start-up, for each op read back from the store: the clock goes on
 * after every op's hlc (pending or sealed), and op numbers after every
 * pending op's opno in partition p. */
void ledger_clock_seen(ledger *l, uint64_t stamp);
void ledger_opno_seen(ledger *l, uint32_t p, uint64_t opno);
/* At start-up, for each group record in the store: no new one takes its
 * number. */
void ledger_gno_seen(ledger *l, uint64_t gno);

#endif
