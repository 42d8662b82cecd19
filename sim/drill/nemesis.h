/* nemesis.h - fault schedules drawn at random from a seed (issue 68):
 * the text of a drill file that `sim drill` runs as it runs any other,
 * and the fault coverage of any parsed drill.
 *
 * nemesis_draw turns a seed and knobs into a drill: settings, then
 * "at T STEP" lines over the drill's own step vocabulary (drill.h). The
 * run is cut into bursts; in each, one to max_overlap faults start, each
 * while the one before is still in force, and all of them (with what
 * they need to settle, below) end before the next burst, which starts
 * after a fault-free gap. The first 10 s and the last tail (at least
 * 15 s) hold no fault, so every fault is healed before the end and the
 * drill's end checks judge a healed system. Faults that would leave a
 * region with no instance to write to for long are kept apart: in a
 * burst, a region's instances, its own Kafka's brokers, its users, each
 * path and central's processes each take at most one fault.
 *
 * What a region needs to settle: a stop of its active instance, or a cut
 * of the active's way to its own Kafka (forward or both ways), makes the
 * standby take over; once resumed or healed the old active must exit
 * fenced (the runner checks it within 10 s), and 12 s after that a
 * "start edgeN" brings it back as the standby, so the region has two
 * instances again before its next fault. Until then nothing else in the
 * burst touches that region's instances, brokers, users or regional path.
 *
 * Broker ids are explicit, with the embedded cluster's leader rule
 * (drills.md, "A region's own Kafka"): the changelog's partition is led
 * by broker 1 first, and a leader set down hands it to the next broker
 * up (id % 3 + 1). nemesis_cover follows the same rule.
 *
 * A clock fault steps an instance's (active or standby) or a central's
 * wall clock 30 s to 10 minutes forwards or backwards and then back
 * (the clock step, drill.h: the daemons run under libfaketime). A
 * throttle holds a path (the same ones a delay takes) to 1-32 KB/s. A
 * broker pause stops a region's broker (SIGSTOP; the changelog's leader
 * or a follower, as a broker loss does) and resumes it: real Kafka only
 * (real_kafka), as the embedded cluster's brokers are threads. A central
 * broker fault on real Kafka sets down the node leading central's batch
 * partition 0 (with one node, central's whole cluster) and brings every
 * one back; on the embedded cluster one of its three brokers by id. These four kinds weigh 0 in the
 * default mix, so that every seed draws what it drew before they were added (the seeds and
 * schedules docs/drills.md records): --mix clock=W,throttle=W,... draws
 * them, and --mix all gives each of them the weight of a broker loss.
 *
 * Not drawn: packet loss (the relays carry TCP streams: a lost packet
 * is a retransmission, which a delay with jitter stands for), a reset
 * (one step, no window), and on real Kafka the restart and wipe of a
 * node.
 *
 * Pure and deterministic: the generator is its own splitmix64 over
 * integers (times in tenths of a second), so a seed draws the same
 * bytes on every machine. Any thread.
 */
#ifndef SIM_NEMESIS_H
#define SIM_NEMESIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sim/drill/drill.h"

/* The faults the nemesis draws, and coverage counts: each opens with a
 * step and is healed by another (in parentheses). */
typedef enum nemesis_kind {
	NEMESIS_KILL = 0,       /* kill edgeN (start edgeN): the active instance */
	NEMESIS_WIPE,           /* wipe edgeN (start edgeN) */
	NEMESIS_STOP,           /* stop edgeN (cont edgeN; with standby a start after the fence) */
	NEMESIS_KILL_STANDBY,   /* kill edgeN.standby (start edgeN) */
	NEMESIS_WIPE_STANDBY,   /* wipe edgeN.standby (start edgeN) */
	NEMESIS_STOP_STANDBY,   /* stop edgeN.standby (cont edgeN) */
	NEMESIS_CENTRAL_KILL,   /* kill centralJ (start centralJ) */
	NEMESIS_CENTRAL_STOP,   /* stop centralJ (cont centralJ) */
	NEMESIS_BROKER,         /* regional_broker_down edgeN ID (regional_broker_up) */
	NEMESIS_CUT,            /* cut NODE kafka|central|clients DIR (heal) */
	NEMESIS_CUT_REGIONAL,   /* cut edgeN[.standby] regional DIR (heal) */
	NEMESIS_DELAY,          /* delay NODE LINK MS JITTER (heal) */
	NEMESIS_DISK,           /* disk_full edgeN (disk_free) */
	NEMESIS_REGION,         /* region_down edgeN (region_up) */
	NEMESIS_CLOCK,          /* clock NODE jump +-Ns (clock NODE reset) */
	NEMESIS_THROTTLE,       /* throttle NODE LINK BYTES_PER_S (heal) */
	NEMESIS_BROKER_PAUSE,   /* regional_broker_pause edgeN ID (regional_broker_resume);
	                         * real Kafka only */
	NEMESIS_CENTRAL_BROKER, /* central's own Kafka: broker_down leader (broker_up all) on
	                         * real Kafka, broker_down ID (broker_up ID) embedded */
	NEMESIS_KINDS
} nemesis_kind;

#define NEMESIS_OVERLAP_MAX 4  /* faults at once in a burst, at most */
#define NEMESIS_RATE_MAX 30    /* faults a minute */
#define NEMESIS_WEIGHT_MAX 100 /* a kind's weight in the mix */
#define NEMESIS_DURATION_MIN_S 60
#define NEMESIS_DURATION_MAX_S 3600
#define NEMESIS_FREE_MIN_S 10.0      /* a fault-free window that counts */
#define NEMESIS_ME_SHARE "0.2"       /* the drill's me: heart reads, of all ops */
#define NEMESIS_GIVE_UP_SHARE "0.25" /* the drill's give_up (drills.md) */

typedef struct nemesis_opts {
	uint64_t seed;                  /* the schedule's, and the drill's load's */
	unsigned duration_s;            /* the run, NEMESIS_DURATION_MIN_S..MAX_S (default 180) */
	unsigned regions;               /* 1..DRILL_REGIONS_MAX (default 3) */
	unsigned centrals;              /* 1..DRILL_CENTRALS_MAX (default 1) */
	bool standby;                   /* two instances per region (default on) */
	bool regional_kafka;            /* a Kafka cluster per region (default on) */
	unsigned rate;                  /* about how many faults start a minute, 1..30 (4) */
	unsigned max_overlap;           /* faults in a burst at most, 1..NEMESIS_OVERLAP_MAX (3) */
	unsigned weight[NEMESIS_KINDS]; /* the mix: a kind's share of draws; 0: never */
	bool real_kafka;                /* the run's clusters are real Kafka: a broker's
	                                 * pause can be drawn */
	unsigned roam_pct;              /* the load's ops sent away from the user's home,
	                                 * percent, 0..100 (5, as a drill's default): a
	                                 * clock fault shows only in a pair acted on in
	                                 * two regions */
	unsigned undo_pct;              /* of the likes, the percent that unlike the
	                                 * user's newest like instead (the drill's
	                                 * `undo`), 0..100 (0): a like and its unlike
	                                 * close together, as a clock fault needs */
} nemesis_opts;

/* The defaults above, seed 0 and the default mix. */
void nemesis_opts_default(nemesis_opts *o);

/* ERR_CONFIG with a reason in err for knobs out of range, or a mix that
 * leaves no kind to draw. */
int nemesis_opts_check(const nemesis_opts *o, char *err, size_t errlen) WARN_UNUSED;

/* Sets weights from "KIND=W,KIND=W" (kinds by nemesis_kind_name; the
 * others keep theirs), or from "all": the default mix with every kind it
 * leaves out (weight 0) at the weight of a broker loss. ERR_CONFIG with a reason in err for an
 * unknown kind or a weight past NEMESIS_WEIGHT_MAX; o is then unchanged. */
int nemesis_parse_mix(nemesis_opts *o, const char *spec, char *err, size_t errlen) WARN_UNUSED;

/* The kind's word ("kill_standby"), in the mix and the coverage table;
 * "?" for a value that is not one. */
const char *nemesis_kind_name(nemesis_kind k);

/* Draws the schedule of o->seed: the drill file's text in *text
 * (malloc'ed, NUL-terminated; the caller frees it). The same knobs give
 * the same bytes. ERR_CONFIG (nemesis_opts_check's) with *text NULL. */
int nemesis_draw(const nemesis_opts *o, char **text, char *err, size_t errlen) WARN_UNUSED;

/* The fault coverage of a parsed drill, from its steps alone (the full
 * run's times): each fault is paired with the first later step that
 * heals it; a fault never healed counts in unhealed and runs to the
 * end. A takeover is a kill, wipe or stop of a region's active instance,
 * or a cut of its regional link forward or both ways, with standby 1; a
 * leader lost is a region's broker set down while it leads the
 * changelog (the rule above; "leader" and regional_down always are). */
typedef struct nemesis_coverage {
	unsigned count[NEMESIS_KINDS];
	unsigned faults;        /* all of them */
	unsigned one_way_cuts;  /* cuts forward or backward only */
	unsigned takeovers;     /* faults that lose a region's active instance */
	unsigned leader_losses; /* faults that lose a region's changelog leader */
	unsigned max_overlap;   /* faults in force at once, at most */
	unsigned unhealed;      /* faults still in force at the end */
	double duration_s;
	double fault_s;        /* time with at least one fault in force */
	double longest_free_s; /* the longest time with none */
	unsigned free_windows; /* fault-free stretches of NEMESIS_FREE_MIN_S or more */
	bool standby;          /* the drill's, as written */
	bool regional_kafka;
	bool counts;   /* overlap, a takeover, a leader lost (with regional_kafka), free time */
	char why[256]; /* what it lacks when it does not count */
} nemesis_coverage;

void nemesis_cover(const drill *d, nemesis_coverage *c);

/* A fault of a parsed drill as nemesis_cover pairs its steps: the step
 * that opens it, the one that heals it (-1: none), and the start after
 * the heal that brings back an instance fenced meanwhile (a start that
 * heals nothing, after the region's latest fault; -1: none). Indexes
 * into d->steps. */
typedef struct nemesis_fault {
	size_t open;
	long heal, settle;
} nemesis_fault;

/* Up to cap of d's faults into out, in the order they open; how many. */
size_t nemesis_faults(const drill *d, nemesis_fault *out, size_t cap);

/* Shrinking (nemesis_shrink.c): the i-th schedule smaller than text, a
 * drill file's text. Candidate 0 cuts the run after its last step (a
 * tail of a tenth, 15 s at least; 60 s at least), candidates 1..F drop
 * fault i (nemesis_faults' order: its opening, heal and settling start),
 * F+1..2F halve fault i - F's time in force (5 s at least; its settling
 * start as much earlier). 1: the candidate in *out (malloc'ed; the
 * caller frees it; a first comment line says what changed, as does
 * what); 0: the i-th change does not apply here (try the next); -1: no
 * i-th candidate; -2: text does not parse (the reason in what). */
int nemesis_shrink_candidate(const char *text, size_t i, char **out, char *what,
                             size_t whatlen) WARN_UNUSED;

/* The coverage as a table of lines into buf (cut to fit, NUL-terminated);
 * the last line says whether the seed counts, and why not. */
void nemesis_cover_format(const nemesis_coverage *c, char *buf, size_t len);

#endif
