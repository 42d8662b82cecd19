/* load_int.h - what load.c and load_http.c share: the load's and an
 * op's state. Private to sim/drill/load*.c; see load.c for the threading rules.
 */
#ifndef SIM_LOAD_INT_H
#define SIM_LOAD_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "sim/drill/hconn.h"
#include "sim/drill/load.h"
#include "smap.h"
#include "tsa.h"

#define TICK_US 2000
#define USERS_MAX 10000000u
#define ITEMS_MAX 1000000u
#define CONNS_MAX LOAD_CONNS_MAX
#define READ_ITEMS_MAX 20
#define ME_ITEMS_MIN 20
#define ME_ITEMS_MAX 50
#define LIKED_KEEP 16        /* a user's recent likes kept for heart reads */
#define AWAY_BIT 0x80000000u /* a liked entry made through another region */
#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 1000
#define ANSWER_MAX (64u << 10)
#define HEADERS_MAX (16u << 10)
#define PATH_CAP 1024 /* a heart read's 50 items */
#define REQUEST_MAX (PATH_CAP + 512)

typedef enum op_kind { OP_LIKE, OP_UNLIKE, OP_VIEW, OP_READ, OP_ME } op_kind;

typedef struct op op;
typedef struct load_judge load_judge;
struct op {
	op *prev, *next; /* the in-flight list, under mu */
	load *l;
	op_kind kind;
	unsigned user, item, n, region; /* item == items: viral */
	unsigned home;                  /* the user's home region as the op started */
	uint64_t home_since;            /* ... and the wall ms of their move there (0: none) */
	bool home_settled;              /* no move, or one converge_ms old as the op started */
	unsigned inst;                  /* the instance of its latest attempt (under mu) */
	uint64_t sent_us;               /* when its latest attempt was sent */
	bool fast_used;                 /* its one retry without backoff */
	bool given_up;        /* indeterminate (load_judge_give_up): its user stays busy */
	uint64_t seq;         /* the user's op number: the key */
	unsigned attempts;    /* under mu */
	uint64_t ready_epoch; /* the region's, when ready at the start; 0 */
	unsigned backoff_ms;
	uint64_t first_us;
	hreq *req;           /* the attempt in flight; NULL while backing off */
	int conn;            /* its connection (l->conns), -1 while none */
	struct event *timer; /* attempt timeout, or backoff */
	char path[PATH_CAP];
	uint32_t trace; /* a like's or unlike's record in the trace + 1 (load_trace.c); 0: none */
	unsigned *page; /* OP_ME: the items asked, npage of them */
	unsigned npage;
	char body[80];
	size_t body_len;
};

struct load {
	load_opts o;
	unsigned ninst; /* instances per region: 2 with standby ports */
	int ports[LOAD_REGIONS_MAX][LOAD_INSTANCES_MAX];
	const struct netns *ns[LOAD_REGIONS_MAX][LOAD_INSTANCES_MAX];
	struct event_base *base;
	hconn **conns;      /* regions x ninst x conns_per_instance */
	unsigned *inflight; /* per connection: requests sent or queued
	                       on it and not answered (load thread) */
	unsigned rr[LOAD_REGIONS_MAX][LOAD_INSTANCES_MAX][4]; /* per pool (load_conn_pick) */
	struct event *tick;
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	atomic_int tid; /* the loop thread's id once it runs (load_thread_id) */

	/* The loop thread's own. */
	uint64_t rng;
	load_zipf zipf;
	uint8_t *busy; /* per user: an op in flight */
	unsigned idle;
	uint64_t *opseq, *last_hlc; /* per user */
	/* Per user, once they moved home (load_move_home): the wall ms of
	 * the move << 8 | the new home; 0 while at home in user % regions.
	 * Written under mu by the runner, read by this thread. */
	_Atomic uint64_t *moved;
	smap members; /* (user, item) -> 1 when in; changed under mu */
	/* Heart reads and undo_share (neither: liked NULL): per (user, item) of the set
	 * counter the mono us of its last acknowledged op, in two
	 * generations (changed the newer, begun at changed_us; load_me_note
	 * rotates them), since only a change younger than converge_ms (and
	 * the settling time after a fault) matters and a run makes a new
	 * pair with nearly every op (kept
	 * whole, they grew sim by 60 MB in a 15-minute soak); per user its last LIKED_KEEP likes
	 * (item, top bit: through another region), the next slot in liked_at. Under mu, like
	 * members. */
	smap changed, changed_old;
	uint64_t changed_us;
	uint32_t *liked;
	uint8_t *liked_at;
	uint64_t last_tick_us;
	uint64_t tick_due_us; /* when the next tick is due, as libevent plans it */
	double credit;

	tsa_mutex mu;
	pthread_cond_t drained; /* in_flight fell to 0 */
	double rate, viral_share;
	bool up[LOAD_REGIONS_MAX];
	unsigned phase;
	bool draining;
	uint64_t *set_count, *sum_count; /* per item, viral last */
	uint8_t *touched;                /* per item: TOUCH_SET | TOUCH_SUM */
	load_stats st;
	hist *wr, *rd, *me; /* per phase */
	load_me_stats mst;
	/* The stretches with a fault in force (load_set_stalled), by start,
	 * each in one region or everywhere (-1); those of one region are
	 * disjoint, and the one in force has end 0. stall_open[region + 1]:
	 * the index + 1 of that region's one in force, 0: none. */
	struct {
		uint64_t start_us, end_us;
		int region;
	} * stalls;
	size_t nstalls, stalls_cap;
	size_t stall_open[LOAD_REGIONS_MAX + 1];
	/* load_me_answer, set by load_new: load_http.c hands heart reads'
	 * answers up through it, calling nothing above it by name. */
	void (*me_answer)(op *o, const hanswer *a, uint64_t now);
	hist *rme; /* heart reads, [region * LOAD_READY_PHASES_MAX + phase] */
	hist window;
	hist lag;  /* the ticks' lateness since load_take_lag (us): this thread's loop */
	hist hand; /* answers' wait in their socket before this loop took them (us) */
	/* Ready figures: per region, its edge ready now and the count of its
	 * ready spells (an op's ready_epoch); per region x ready phase, the
	 * histograms and counts of ops that stayed within one spell. */
	bool ready[LOAD_REGIONS_MAX];
	uint64_t ready_epoch[LOAD_REGIONS_MAX];
	unsigned ready_phase;
	hist *rwr, *rrd; /* [region * LOAD_READY_PHASES_MAX + phase] */
	hist iwr[LOAD_REGIONS_MAX], ird[LOAD_REGIONS_MAX]; /* ready, since load_take_ready_window */
	load_region_stats *rst;                            /* the same index: the ready_* fields */
	load_region_stats reg[LOAD_REGIONS_MAX];           /* the all-ops fields */
	op *ops;
	/* Standbys (load.h): per region, the instance its requests go to,
	 * the aimed attempts left, the instance of its last ack, the
	 * takeover watch; per instance, when the load learned of its last
	 * fresh ack since it started (0: none yet), when another first
	 * acked after it and which one (taken_us 0: none), its figures. */
	unsigned route[LOAD_REGIONS_MAX];
	unsigned aim_left[LOAD_REGIONS_MAX], aim_inst[LOAD_REGIONS_MAX];
	int last_ack[LOAD_REGIONS_MAX];
	uint64_t watch_us[LOAD_REGIONS_MAX], watch_first_us[LOAD_REGIONS_MAX];
	unsigned watch_lost[LOAD_REGIONS_MAX];
	uint64_t ack_us[LOAD_REGIONS_MAX][LOAD_INSTANCES_MAX];
	uint64_t taken_us[LOAD_REGIONS_MAX][LOAD_INSTANCES_MAX];
	uint8_t taken_by[LOAD_REGIONS_MAX][LOAD_INSTANCES_MAX];
	load_instance_stats ist[LOAD_REGIONS_MAX][LOAD_INSTANCES_MAX];
	/* Per instance, its starts (load_instance_started), mod 256: an ack's
	 * process, for read-your-writes. Under mu. */
	uint8_t starts[LOAD_REGIONS_MAX][LOAD_INSTANCES_MAX];
	load_judge *judge; /* load_judge.c's own */
	/* The trace (load_opts.trace; load_trace.c), under mu: writes and
	 * count answers; cut when a write found no room. */
	load_write_rec *tw;
	size_t ntw, captw;
	load_count_rec *tc;
	size_t ntc, captc;
	bool trace_cut;
	uint64_t tc_dropped;
};

enum { TOUCH_SET = 1, TOUCH_SUM = 2 };

/* User's home region now, and in *since the wall ms of the move that
 * took them there (0: never moved). */
static inline unsigned load_home_of(load *l, unsigned user, uint64_t *since)
{
	uint64_t m = atomic_load_explicit(&l->moved[user], memory_order_relaxed);
	*since = m >> 8;
	return m ? (unsigned)(m & 0xff) : user % l->o.regions;
}

/* A write (like, unlike, view): one of a user's ops that moves the truth. */
static inline bool load_is_write(const op *o)
{
	return o->kind == OP_LIKE || o->kind == OP_UNLIKE || o->kind == OP_VIEW;
}

/* load.c */
uint64_t load_rnd(load *l);
unsigned load_pick_item(load *l, double viral);
/* A random region that is up, other than avoid (when there is one); -1
 * when none is. */
int load_pick_up_region(load *l, const bool *up, int avoid);
/* A user with no op in flight, or -1. */
int load_pick_idle_user(load *l);
/* Puts o on the in-flight list unless the load drains; false then. */
bool load_op_claim(load *l, op *o);
double load_rnd01(load *l); /* [0, 1) */
unsigned load_rnd_below(load *l, unsigned n);
/* "viral" or "i<k>": the item's id within type post. */
void load_item_id(const load *l, unsigned item, char *buf, size_t cap);
const char *load_kind_name(op_kind k);

/* Under mu: is o still within the ready spell it started in? Its
 * region x ready phase slot then, else -1. */
int load_ready_slot(const load *l, const op *o) TSA_REQUIRES(l->mu);

/* load_me.c: heart reads. Starts one (the loop thread). */
void load_me_start(load *l, double viral, const bool *up);
/* A 2xx answer to o (an OP_ME): held to the truth, then o finished
 * (load_http.c calls it through l->me_answer). */
void load_me_answer(op *o, const hanswer *a, uint64_t now);
/* load_state.c, under mu: a set op of user on item acked through
 * region, for the heart reads' truth; tag (load_judge_ack_tag) is kept
 * with the ack's time in the pair's change record. */
void load_me_note(load *l, unsigned user, unsigned item, bool away, bool like, uint64_t tag)
    TSA_REQUIRES(l->mu);

/* The connection (0..conns_per_instance-1) of region o->region's
 * instance inst for o's next attempt, round robin within o's pool. A
 * read waits on no write's HTTP/1.1 connection, nor a heart read on
 * another's: writes may wait a second for a lost broker, those of users
 * away from home wait for central, and many users share the load's few
 * connections, so the pools are apart (writes; count reads; with heart
 * reads, hearts at home; away). */
unsigned load_conn_pick(load *l, const op *o, unsigned inst, unsigned base);

/* load_judge.c: what the load judges while it runs (its file's head
 * says what is promised). Its state is l->judge, made and freed with
 * the load. */
void load_judge_init(load *l);
void load_judge_free(load *l);
/* A write o just claimed (loop thread): the most it can make. */
void load_judge_sent(load *l, const op *o);
/* Under mu: what an ack of o leaves in its pair's change record above
 * the time: the instance and its start, and whether at home. */
uint64_t load_judge_ack_tag(const load *l, const op *o) TSA_REQUIRES(l->mu);
/* The mono us of a change record (its tag taken off). */
uint64_t load_judge_rec_us(uint64_t rec);
/* Whether [from_us, to_us] (clock_mono_us) had no fault on the way home
 * (load_set_stalled) in force in a region of mask (bit r: region r) or
 * everywhere, or holds span_us with none. Under mu. load_state.c. */
bool load_calm_within(const load *l, unsigned mask, uint64_t from_us, uint64_t to_us,
                      uint64_t span_us) TSA_REQUIRES(l->mu);
/* The region whose edge acknowledged the op a change record records. */
unsigned load_judge_rec_region(uint64_t rec);
/* Under mu: one pair of a heart answer to o: said 1 liked, 0 not, < 0
 * unknown or absent; truth the pair's; rec its change record (NULL:
 * none), young when it may not be home yet (load_me.c: within
 * converge_ms of o's start, or a fault on its way since). True when
 * it was judged here as read-your-writes at home (the caller then
 * counts it neither young nor wrong). Phantom hearts are judged too. */
bool load_judge_heart(load *l, const op *o, unsigned item, int said, bool truth,
                      const smap_val *rec, bool young) TSA_REQUIRES(l->mu);
/* A count read's 2xx answer at now: every count held to what was ever
 * sent, and the likes counts traced. */
void load_judge_counts(load *l, const op *o, const hanswer *a, uint64_t now);
/* An attempt of write o got no answer: true when o is given up (then
 * the caller finishes it, its user busy for good). */
bool load_judge_give_up(op *o);
/* Under mu: the range item's set count may be in, from count. */
void load_judge_range(const load *l, unsigned item, uint64_t count, uint64_t *lo, uint64_t *hi)
    TSA_REQUIRES(l->mu);

/* load_trace.c: the trace, with load_opts.trace (no-ops without). Each
 * takes mu. */
/* Write o (a like or unlike) is sent for the first time. */
void load_trace_sent(load *l, op *o) TSA_EXCLUDES(l->mu);
/* Write o ended: answered at at_us (fate, the answer's hlc), or given up. */
void load_trace_end(load *l, const op *o, load_write_fate fate, uint64_t hlc, uint64_t at_us)
    TSA_EXCLUDES(l->mu);
/* A count read o's likes counts (n of them, item, count and version
 * set), answered at recv_us. */
void load_trace_counts(load *l, const op *o, load_count_rec *recs, size_t n, uint64_t recv_us)
    TSA_EXCLUDES(l->mu);
void load_trace_free(load *l);

/* load_http.c: the loop thread only. */
/* A new op with its timer, or NULL. */
op *load_op_new(load *l, op_kind kind, unsigned region);
void load_op_free(op *o);
/* Takes o off the in-flight list, frees its user and o. */
void load_op_finish(op *o);
/* Sends o's request (again). o may be gone when this returns. */
void load_send_attempt(op *o);

#endif
