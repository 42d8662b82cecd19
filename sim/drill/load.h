/* load.h - simulated users driving the real edges over HTTP/1.1, and the
 * ground truth of what they were acknowledged.
 *
 * Items are "post:i0".."post:i<items-1>", drawn by Zipf(zipf_s), and
 * "post:viral", which takes viral_share of all ops. A write is on the set
 * counter (likes) or, with sum_share, on the sum counter (views, n 1..5).
 * On likes, a user who is in unlikes with unlike_share, else likes (a
 * repeat); a user who is out likes. Users are "u0".."u<users-1>"; user
 * N's home region is N % regions (an op goes elsewhere when home is
 * down), and each user has at most one op in flight; with roam_share an
 * op goes to another region that is up. Every write carries an Idempotency-Key and the hlc of the
 * user's last answer ({"hlc": t}), so a later tap orders after an earlier
 * one at any region.
 *
 * An attempt that times out, fails to connect or gets 429/5xx is retried
 * with backoff at the same edge with the same key until it gets an
 * answer: an op whose answer was lost is retried until it gets one, and
 * the replay tells the user the op's first answer (and hlc). Truth moves
 * only on a 2xx: set -> the op's membership, sum -> += n. Another status
 * is a refusal: counted, never in the truth. Reads (read_share of ops)
 * are GET /v1/counts of 1..20 items; their latency is kept apart.
 *
 * Heart reads (me_share of ops): GET /v1/me of a feed page of 20-50
 * posts for one user, mostly posts the user never touched, and as many
 * of the user's recent likes as it has up to a quarter of the page (half
 * of those made through another region, when it has any). Each answer
 * is held to the truth for every pair whose last acknowledged op is at
 * least converge_ms older than the read: a heart that says otherwise is
 * wrong (load_me_stats.wrong). With homes, every request names the
 * user's home region (X-User-Home: "r" and the home's index), so the
 * edges keep their home users' pairs (docs/events.md, "Home streams").
 *
 * Ready figures: the runner says when a region's edge is ready
 * (load_set_region_ready). An op sent to a region whose edge was ready
 * when it started, and still is (without a not-ready spell in between)
 * when it ends, also counts in that region's ready histograms and read
 * errors, under the ready phase of its end (load_set_ready_phase; the
 * runner starts one at each load_rate step).
 *
 * Ops start on a timer at `rate` per second (open loop, skipping users
 * with an op in flight). New ops never start at a region that is down
 * (load_set_region_up); ops in flight there keep retrying.
 *
 * Standbys (load_opts.standby_ports): a region then has two instances of
 * its edge, one active, and its requests go where a CDN would send them:
 * every attempt, writes and reads alike, to the instance the region last
 * found active (load_route). An attempt that gets 503 with error code
 * not_active (a standby) or not_replicated (an active instance that
 * cannot reach its changelog's cluster, which its standby may still
 * reach and take over), a refused or reset connection, or no answer in
 * time moves the region to its other instance; the write is then retried there
 * with the same key (at once the first time, then with the backoff), so
 * each op keeps counting once. Each instance's acks are followed: an
 * instance that another one has acknowledged writes after (it was taken
 * over from) must acknowledge no write sent to it after that (stale_acks
 * counts those, a bug in the edge), until the runner says it started
 * again (load_instance_started). load_watch_takeover times the first ack
 * by the other instance after the active one is lost.
 *
 * The load runs on its own thread and event loop; every function here
 * may be called from any thread.
 */
#ifndef SIM_LOAD_H
#define SIM_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "sim/drill/hist.h"
#include "sim/drill/load_types.h"

load *load_new(const load_opts *o, char *err, size_t errlen);
/* Stops the thread; ops still in flight are abandoned. NULL is a no-op. */
void load_free(load *l);

void load_set_rate(load *l, double ops_per_s);
void load_set_viral_share(load *l, double share);
void load_set_region_up(load *l, unsigned region, bool up);
/* Latencies from now on are kept under phase p (0..LOAD_PHASES_MAX-1). */
void load_set_phase(load *l, unsigned phase);
/* Whether a fault that may hold up a change on its way to its user's
 * home edge is in force from now on (the runner's windows: a node
 * killed, paused, wiped or cut, a broker down, a region down; not a
 * delay) in region (its edges, its own Kafka) or everywhere (region -1:
 * a central, central's Kafka). A change with such a fault in force since
 * it was made, in its region, its user's home region or everywhere, is
 * held to the truth at home only once converge_ms plus fault_settle_ms
 * without one have passed (central paused for 15 s held hearts 13-18 s
 * old: nemesis seed 2, five minutes). A delay, however long it lasts,
 * is converge_ms's to cover. */
void load_set_stalled(load *l, int region, bool stalled);

/* Stops starting ops (for good: reads too) and waits until none is in
 * flight. 0, or ERR_TIMEOUT after timeout_ms (each stuck op is logged
 * with its user, item, region, key and attempts). */
int load_drain(load *l, unsigned timeout_ms) WARN_UNUSED;

/* The true count of (counter, item) now: what the acknowledged ops say. */
uint64_t load_truth_of(load *l, const char *counter, const char *item);

/* Every (counter, item) any acknowledged or given-up op touched, with
 * its true count and the range the given-up ones leave open (malloc'ed
 * array in *out). */
size_t load_truth(load *l, load_truth_entry **out);

/* Every pair that is in, by the acknowledged ops (malloc'ed array in
 * *out; NULL when none). */
size_t load_members(load *l, load_member_entry **out);

void load_get_stats(load *l, load_stats *out);

/* What the load judged while it ran (load_judge.c): the figures into
 * *out, and up to *nanomalies of the first anomalies' texts into
 * anomalies (NULL: none copied), *nanomalies set to how many were. */
void load_get_judge(load *l, load_judge_stats *out, char (*anomalies)[LOAD_ANOMALY_TEXT],
                    size_t *nanomalies);
/* The ops given up without an answer (give_up_share; malloc'ed array in
 * *out, NULL when none), in the order they were given up. */
size_t load_indeterminate(load *l, load_indet **out);
/* The i-th of them resolved: its pair is a member at central (or not).
 * The truth (load_truth, load_members) takes that from now on, and the
 * pair's count range closes. Once each; after load_drain. */
void load_resolve(load *l, size_t i, bool member);

/* The trace (load_opts.trace; empty without), after load_drain. */
void load_get_trace(load *l, load_trace *out);
/* The name of the load's item number (post:iN; items is the viral one,
 * post:viral) into buf. */
void load_item_name(unsigned items, unsigned item, char *buf, size_t cap);

void load_get_me_stats(load *l, load_me_stats *out);
/* Heart read latencies of phase p, or (region >= 0) region's ready ones
 * of ready phase p, of users at home there, copied into *out. */
void load_get_me_hist(load *l, int region, unsigned phase, hist *out);
/* Users who move home (a drill's move step): up to n users who do not
 * live in region now, the lowest ids first, into users; how many. */
size_t load_pick_movers(load *l, unsigned region, size_t n, unsigned *users);
/* users[0..n) live in region from now on, since the move of since_ms
 * (1..2^53-1): every op started after this names that home and
 * X-User-Home-Since, as a token issued after the move would. An op
 * already started keeps the home it started with (an older token). */
void load_move_home(load *l, const unsigned *users, size_t n, unsigned region, uint64_t since_ms);
/* Region r's edge is ready (true) or not from now on; false also ends
 * the readiness of every op in flight there. */
void load_set_region_ready(load *l, unsigned region, bool ready);
/* Ready figures from now on are kept under ready phase p
 * (0..LOAD_READY_PHASES_MAX-1). */
void load_set_ready_phase(load *l, unsigned p);
/* Region r's counts over the run, or (phase >= 0) its ready counts of
 * that ready phase only (the all-ops fields are then 0). */
void load_get_region_stats(load *l, unsigned region, int phase, load_region_stats *out);
/* Region r's ready ack (reads false) or read latencies of ready phase
 * p, copied into *out. */
void load_get_ready_hist(load *l, unsigned region, unsigned phase, bool reads, hist *out);
/* Ack latencies (writes, retries included) or read latencies of phase p,
 * copied into *out. */
void load_get_hist(load *l, unsigned phase, bool reads, hist *out);
/* Ack latencies of every phase since the last call (for a per-second
 * series), copied into *out and cleared. */
void load_take_window(load *l, hist *out);
/* How late the load's loop ran its ticks (us) since the last call,
 * copied into *lag and cleared: a late tick is a loop that was busy or
 * not scheduled. And into *hand (NULL: cleared only) how long each
 * answer lay in its socket before this loop took it up: the clients'
 * latencies end at the socket (hconn.h), so this wait is the
 * instrument's, in none of them but those of requests queued behind
 * the answer on its connection (written once it is taken up). */
void load_take_lag(load *l, hist *lag, hist *hand);
/* Region r's ready ack (w) and count-read (rd) latencies since the last
 * call (for latency intervals), copied out and cleared. */
void load_take_ready_window(load *l, unsigned region, hist *w, hist *rd);

/* Standbys (above). The instance region r's requests go to now; the
 * instance of its last ack (-1: none yet). */
unsigned load_route(load *l, unsigned region);
int load_last_acked(load *l, unsigned region);
/* The loop thread's id (for its CPU and scheduling figures in /proc),
 * or 0 before it runs. Any thread. */
pid_t load_thread_id(load *l);
/* Instance inst of region r was started again: a new process, which
 * no other instance has taken over from, and which need not show what
 * its last one acknowledged until it converged (read-your-writes is
 * held per process). Call it with or without standbys. */
void load_instance_started(load *l, unsigned region, unsigned inst);
/* The next n write attempts of region r go to instance inst whatever
 * the route says (a client that still had it cached): then on as
 * before. */
void load_aim(load *l, unsigned region, unsigned inst, unsigned n);
/* Region r lost its active instance lost now: load_takeover_us then
 * gives when another instance first acknowledged a write (mono us; 0:
 * not yet). One watch per region; a new one replaces it. */
void load_watch_takeover(load *l, unsigned region, unsigned lost);
uint64_t load_takeover_us(load *l, unsigned region);

void load_get_instance_stats(load *l, unsigned region, unsigned inst, load_instance_stats *out);

/* Zipf(s) over n ranks (rank 0 the most popular): a precomputed CDF
 * sampled by binary search. The load's item picker, exposed for tests.
 * load_zipf_pick maps u in [0,1) to a rank 0..n-1. */

void load_zipf_init(load_zipf *z, unsigned n, double s);
unsigned load_zipf_pick(const load_zipf *z, double u);
void load_zipf_free(load_zipf *z);

#endif
