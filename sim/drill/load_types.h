/* load_types.h - the simulated users' public types and limits (load.h
 * declares the calls): options, statistics, truth entries and the Zipf
 * table. Declares no function of a load file, so that the load's parts
 * (load_state.c, load_http.c, load_me.c) take their types from here,
 * not from the top of the load (load.h, load.c).
 */
#ifndef SIM_LOAD_TYPES_H
#define SIM_LOAD_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "item.h"

struct netns; /* netns.h */

#define LOAD_REGIONS_MAX 8
#define LOAD_INSTANCES_MAX 2
#define LOAD_CONNS_MAX 64u /* connections to each instance */
#define LOAD_PHASES_MAX 32
#define LOAD_READY_PHASES_MAX 8
#define LOAD_VIRAL "post:viral"
#define LOAD_SET_COUNTER "likes"
#define LOAD_SUM_COUNTER "views"

typedef struct load load;

typedef struct load_opts {
	unsigned regions; /* edges, 1..LOAD_REGIONS_MAX */
	const int *ports; /* region i's edge answers on 127.0.0.1:ports[i] */
	/* Region i's second instance on standby_ports[i]; NULL: one each. */
	const int *standby_ports;
	/* The namespace (netns.h) each instance's port is in, its clients'
	 * sockets made there; NULL, or a NULL entry: sim's own. Each must
	 * outlive the load. */
	const struct netns *const *ns, *const *standby_ns;
	unsigned users, items;
	double zipf_s; /* > 0; 1.0 is classic Zipf */
	double viral_share, unlike_share, sum_share, roam_share, read_share; /* 0..1 */
	/* Of the likes a user would make, the share that unlikes the user's
	 * newest like instead while it stands: a like and its unlike close
	 * together, each through its own region (roam_share), the causal
	 * order the edges' hybrid clocks carry across regions. 0..1. */
	double undo_share;
	double me_share;      /* heart reads (above), 0..1 */
	unsigned converge_ms; /* a pair older than this is held to the truth */
	/* After a fault, how much longer than converge_ms a change may take
	 * to reach its user's home (the feed's publisher rejoining its group,
	 * load_set_stalled); 0: none. */
	unsigned fault_settle_ms;
	bool homes;                  /* requests name the user's home region */
	double rate;                 /* ops per second to start with (0: idle) */
	unsigned timeout_ms;         /* per attempt; default 2000 */
	unsigned conns_per_instance; /* keep-alive connections to each instance, at most
	                              * LOAD_CONNS_MAX; default 8 */
	/* A like or unlike whose attempt got no answer (a timeout, a reset)
	 * is given up with this chance, 0..1, as a client that stops
	 * waiting: the op is indeterminate (load_indeterminate) and its user
	 * sends nothing more. 0: every write is retried until answered. */
	double give_up_share;
	bool trace; /* keep the trace (below) */
	uint64_t seed;
} load_opts;

/* started..refused count writes; reads are counted apart. */
typedef struct load_stats {
	uint64_t started;          /* write ops started */
	uint64_t attempts;         /* write requests sent, retries included */
	uint64_t retried;          /* attempts after the first */
	uint64_t acked;            /* ops answered 2xx */
	uint64_t replayed;         /* answers marked Idempotent-Replayed */
	uint64_t refused;          /* ops answered 4xx other than 429: never in the truth */
	uint64_t clock_refused;    /* of those, 409 clock_ahead: the user's last hlc was too far
	                            * ahead of the edge's clock to order after (not a fault) */
	uint64_t given_up;         /* ops given up after an attempt got no answer (give_up_share):
	                            * indeterminate, in none of the above but started */
	uint64_t skipped;          /* timer slots with no idle user or no region up */
	uint64_t reads;            /* reads started */
	uint64_t read_errors;      /* non-2xx answers, timeouts, connection errors */
	uint64_t read_unavailable; /* of which 503 (count_unavailable) */
	uint64_t in_flight;        /* writes and reads */
	uint64_t not_active;       /* attempts answered 503 not_active */
	uint64_t not_replicated;   /* attempts answered 503 not_replicated */
	uint64_t switches;         /* times a region moved to its other instance */
	uint64_t stale_acks;       /* acks by an instance taken over from (above) */
	/* Acks of a region's write by another instance than the region's
	 * last ack (not stale): each is a takeover as the clients see it. */
	uint64_t active_changes;
} load_stats;

typedef struct load_truth_entry {
	char counter[COUNTER_MAX + 1];
	char item[ITEM_MAX + 1];
	uint64_t count;  /* what the acknowledged ops make */
	uint64_t lo, hi; /* the count may be anywhere in [lo, hi]: count, less the
	                  * indeterminate unlikes of members, plus the indeterminate
	                  * likes of pairs that were out (lo == hi == count: none) */
} load_truth_entry;

/* A (user, item) pair of the set counter whose last acknowledged op
 * was a like. */
typedef struct load_member_entry {
	char item[ITEM_MAX + 1];
	char user[USER_MAX + 1];
} load_member_entry;

/* One region's ops: all of them, and those counted as ready (above). */
typedef struct load_region_stats {
	uint64_t acked;             /* writes answered 2xx */
	uint64_t reads;             /* reads started */
	uint64_t read_errors;       /* as load_stats.read_errors */
	uint64_t ready_acked;       /* of the acked, counted as ready */
	uint64_t ready_reads;       /* reads answered 2xx, counted as ready */
	uint64_t ready_read_errors; /* read errors counted as ready */
} load_region_stats;

/* The heart reads (above). */
typedef struct load_me_stats {
	uint64_t reads;      /* started */
	uint64_t errors;     /* non-2xx answers, timeouts, connection errors */
	uint64_t pairs;      /* pairs answered and held to the truth */
	uint64_t liked;      /* of those, pairs the truth has liked */
	uint64_t liked_away; /* of those, liked through another region than the user's home */
	uint64_t young;      /* pairs answered but changed too recently to hold */
	uint64_t unknown;    /* pairs the edge could not answer ("unknown") */
	uint64_t wrong;      /* pairs answered other than the truth: a bug */
	uint64_t home_reads; /* reads sent to the user's home region (a mover's: once the move is
	                        converge_ms old) */
	uint64_t tracked;    /* pairs whose last change is kept to judge young (now) */
} load_me_stats;

/* One instance's share of a region's writes. */
typedef struct load_instance_stats {
	uint64_t acked;          /* writes it answered 2xx */
	uint64_t not_active;     /* attempts it answered 503 not_active */
	uint64_t not_replicated; /* attempts it answered 503 not_replicated */
	uint64_t failed;         /* attempts that found no active instance there:
	                          * not_active, not_replicated, no connection, a
	                          * reset, no answer */
	uint64_t stale_acks;     /* acks after another took over from it */
	uint64_t in_flight;      /* writes whose latest attempt went to it, unanswered */
} load_instance_stats;

/* What the load judges while it runs (load_judge.c): read-your-writes
 * at home, and answers that show what no op sent could make. */
typedef struct load_judge_stats {
	uint64_t ryw_checked;      /* hearts read at home from the instance (same process) that
	                            * acknowledged the user's last op on the pair, while that
	                            * op was younger than converge_ms */
	uint64_t ryw_missed;       /* of those, answered other than that op: a violation */
	uint64_t phantom_hearts;   /* hearts shown liked where no like of the pair was ever sent */
	uint64_t counts_checked;   /* counts answered to count reads, held to what was sent */
	uint64_t phantom_counts;   /* of those, above what every op ever sent could make */
	uint64_t cross_overcounts; /* of those, above the distinct users a like was sent for,
	                            * within the pairs liked at the answering region and
	                            * elsewhere too (load_judge.c): allowed */
	uint64_t indeterminate;    /* likes and unlikes given up without an answer */
	uint64_t indet_ambiguous;  /* of those, ones that would change their pair */
} load_judge_stats;

/* An op given up without an answer (load_opts.give_up_share): what it
 * was, where it went, and, once central is asked (load_resolve), what
 * became of it. */
typedef struct load_indet {
	char item[ITEM_MAX + 1];
	char user[USER_MAX + 1];
	unsigned user_n, item_n; /* the load's own numbers for them */
	bool like;               /* a like; else an unlike */
	bool was_member;         /* the pair's truth when it was given up */
	unsigned region, inst;   /* its last attempt's */
	uint64_t at_ms;          /* when it was given up, ms since the load began */
	int resolved;            /* -1 not yet; else the pair's membership at central */
} load_indet;

/* The trace the end check holds the edges' count answers to (check.h,
 * check_answers), kept with load_opts.trace: every like and unlike sent,
 * how it ended, and every likes count a count read was answered, with
 * the version its edge named. */
typedef enum load_write_fate {
	LOAD_WRITE_OPEN,      /* never answered: given up, or still out at the end */
	LOAD_WRITE_ACKED,     /* 2xx that moved the edge's own count ("changed": true) */
	LOAD_WRITE_UNCHANGED, /* 2xx, "changed": false: the edge held that state already */
	LOAD_WRITE_REFUSED,   /* a final refusal (4xx, 409 clock_ahead) */
} load_write_fate;

typedef struct load_write_rec {
	uint32_t user, item;
	uint8_t region;
	bool like;
	uint8_t fate;     /* load_write_fate */
	uint8_t inst;     /* the instance that answered it, */
	uint8_t start;    /* ... and its start count then, mod 256 (load_instance_started) */
	uint64_t sent_us; /* its first attempt (mono us) */
	uint64_t end_us;  /* its final answer; 0 while open */
	uint64_t hlc;     /* the answer's; 0: none */
} load_write_rec;

typedef struct load_count_rec {
	uint32_t item;
	uint8_t region;
	uint8_t inst, start;     /* the instance that answered, and its start count then */
	uint64_t count, version; /* the item's likes and its freshness version */
	uint64_t sent_us;        /* the read's attempt (mono us) */
	uint64_t recv_us;        /* its answer */
} load_count_rec;

/* The load's own arrays (load_get_trace), valid until load_free. */
typedef struct load_trace {
	const load_write_rec *writes;
	size_t nwrites;
	const load_count_rec *counts;
	size_t ncounts;
	unsigned items, users;   /* item numbers 0..items (items: the viral one); users */
	bool complete;           /* false: a write was not kept (LOAD_TRACE_WRITES) */
	uint64_t counts_dropped; /* answers past LOAD_TRACE_COUNTS, not kept */
	uint64_t t0_us;          /* the run's time 0 (mono us), for messages; 0: unknown */
} load_trace;

/* At most this many of each are kept: 160 and 40 MB. */
#define LOAD_TRACE_WRITES (4u << 20)
#define LOAD_TRACE_COUNTS (1u << 20)

#define LOAD_ANOMALIES_KEPT 8
#define LOAD_ANOMALY_TEXT 256

typedef struct load_zipf {
	double *cdf;
	unsigned n;
} load_zipf;

#endif
