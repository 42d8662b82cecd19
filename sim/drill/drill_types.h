/* drill_types.h - a parsed drill (drill.h has the grammar and the
 * calls): its limits, steps, expectations and settings. Declares no
 * function of a drill file, so that the parser's parts (drill_steps.c,
 * drill_query.c) take their types from here, not from the top of the
 * parser (drill.h, drill.c).
 */
#ifndef SIM_DRILL_TYPES_H
#define SIM_DRILL_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRILL_NAME_MAX 64
#define DRILL_REGIONS_MAX 8
#define DRILL_CENTRALS_MAX 4
#define DRILL_STEPS_MAX 256
#define DRILL_MOVE_USERS_MAX 1000 /* users one move step moves */
#define DRILL_EXPECTS_MAX 14      /* at least the number of drill_expect_key values */
#define DRILL_MILESTONES_MAX 16
/* The load's keep-alive HTTP/1.1 connections to each edge instance, one
 * request on the wire each (client_conns; at most the load's
 * LOAD_CONNS_MAX, which run.c asserts). */
#define DRILL_CLIENT_CONNS 8
#define DRILL_CLIENT_CONNS_MAX 64
/* Central's feed.milestones in a drill unless it says: low enough that
 * a short run's counts reach some of them (its viral item's likes pass
 * 100, the most popular other items 10 and 50). */
#define DRILL_MILESTONES_DEFAULT 10, 50, 100, 500, 1000

typedef enum drill_node_kind { DRILL_EDGE = 1, DRILL_CENTRAL = 2 } drill_node_kind;
typedef enum drill_link {
	DRILL_LINK_KAFKA = 1,
	DRILL_LINK_CENTRAL,
	DRILL_LINK_CLIENTS,
	DRILL_LINK_REGIONAL,
} drill_link;
#define DRILL_LINK_LAST DRILL_LINK_REGIONAL
/* Brokers of a region's own Kafka (regional_kafka). */
#define DRILL_REGIONAL_BROKERS 3

typedef enum drill_action {
	DRILL_CUT = 1,
	DRILL_HEAL,
	DRILL_DELAY,
	DRILL_THROTTLE,
	DRILL_RESET,
	DRILL_KILL,
	DRILL_START,
	DRILL_STOP,
	DRILL_CONT,
	DRILL_BROKER_DOWN,
	DRILL_BROKER_UP,
	DRILL_BROKER_RTT,
	DRILL_BROKER_ERRORS,
	DRILL_REGION_DOWN,
	DRILL_REGION_UP,
	DRILL_LOAD_RATE,
	DRILL_VIRAL,
	DRILL_DISK_FULL,
	DRILL_DISK_FREE,
	DRILL_WIPE,
	DRILL_REGIONAL_BROKER_DOWN,
	DRILL_REGIONAL_BROKER_UP,
	DRILL_REGIONAL_DOWN,
	DRILL_REGIONAL_UP,
	DRILL_TRIM,
	DRILL_MOVE,
	DRILL_BROKER_PAUSE,
	DRILL_BROKER_RESUME,
	DRILL_BROKER_RESTART,
	DRILL_BROKER_WIPE,
	DRILL_REGIONAL_BROKER_PAUSE,
	DRILL_REGIONAL_BROKER_RESUME,
	DRILL_REGIONAL_BROKER_RESTART,
	DRILL_REGIONAL_BROKER_WIPE,
	DRILL_CLOCK_JUMP,
	DRILL_CLOCK_RESET,
	DRILL_BROKERS_CUT,  /* cut kafkaR.A kafkaR.B: between a region's nodes */
	DRILL_BROKERS_HEAL, /* heal kafkaR.A kafkaR.B */
} drill_action;

/* How far a clock step may move a node's wall clock from the host's. */
#define DRILL_CLOCK_JUMP_MAX_MS (10 * 60 * 1000)

/* A broker step's target besides an id (drill_step.index for central's
 * cluster, drill_step.a for a region's). */
#define DRILL_BROKER_ALL (-1)
#define DRILL_BROKER_LEADER (-2)
/* kafkaR.others in a cut between a region's nodes: every node but the
 * first one named. */
#define DRILL_BROKER_OTHERS (-3)

/* What an "expect KEY MAX" line holds to MAX (see the grammar above). */
typedef enum drill_expect_key {
	DRILL_EXPECT_READY_WRITE_P99 = 1,
	DRILL_EXPECT_READY_WRITE_P999,
	DRILL_EXPECT_READY_READ_P99,
	DRILL_EXPECT_READY_READ_ERRORS,
	DRILL_EXPECT_READY_READTHROUGHS,
	DRILL_EXPECT_READ_ERRORS,
	DRILL_EXPECT_INTERVAL_P99,
	DRILL_EXPECT_INTERVAL_EDGE_P99,
	DRILL_EXPECT_INTERVAL_DRIFT,
	DRILL_EXPECT_TAKEOVER_MAX,
	DRILL_EXPECT_READY_ME_P99,
	DRILL_EXPECT_READY_ME_READTHROUGHS,
	DRILL_EXPECT_ACTIVE_CHANGES,
	DRILL_EXPECT_NOT_REPLICATED,
} drill_expect_key;

typedef struct drill_expect {
	drill_expect_key key;
	double max; /* ms for the latencies, s for the takeover, a count otherwise */
	int line;
} drill_expect;

typedef struct drill_step {
	double at_s; /* in the full run */
	drill_action action;
	drill_node_kind node; /* 0 when the action takes no node */
	int index;            /* edgeN / centralN; broker id (-1: all) */
	                      /* (regional_broker_*: edgeN, its broker id in a) */
	bool standby;         /* edgeN.standby: the region's standby instance */
	                      /* (brokers_*: region in index, nodes in a and b) */
	drill_link link;      /* for path actions */
	int dir;              /* 1 forward, 2 backward, 3 both (relay_dir) */
	int64_t a, b;         /* ms, jitter, bytes/s, count, rtt ... */
	double x;             /* ops/s, share */
	int line;             /* in the file, for messages */
	char text[128];       /* the statement as written, for reports */
} drill_step;

typedef struct drill {
	char name[DRILL_NAME_MAX + 1];
	unsigned regions, centrals, partitions, users, items;
	unsigned shards; /* 0: not sharded (every central owns everything) */
	double zipf, viral, unlike, sum, roam, undo, reads, me;
	double give_up; /* a like or unlike with no answer is given up with this chance */
	double duration_s, short_duration_s;
	double rate, short_rate;
	unsigned snapshot_ms, batch_age_ms, converge_s;
	unsigned procs_every_s;   /* 0: no process samples */
	unsigned store_cache_mb;  /* 0: the daemons' default */
	unsigned latency_every_s; /* 0: no latency intervals */
	unsigned broker_idle;     /* 1: the mock cluster's thread under SCHED_IDLE */
	unsigned netns;           /* 1: each daemon in a namespace behind relays */
	unsigned client_relay;    /* 1: the load reaches the edges through a relay */
	unsigned shape_auto;      /* DRILL_AUTO_* bits: settings the drill left to the run */
	unsigned changelog;       /* 1: edges copy their writes to the changelog topic */
	unsigned standby;         /* 1: two instances per region (needs changelog) */
	unsigned takeover_ms;     /* the edges' changelog.takeover_ms; 0: theirs */
	unsigned regional_kafka;  /* 1: a Kafka cluster per region for its changelog */
	unsigned kafka_real;      /* 1: every cluster is real Kafka (sim kafka) */
	unsigned kafka_nodes;     /* central's cluster's nodes when real */
	unsigned kafka_full_jit;  /* 1: real nodes with the JVM's optimising compiler */
	unsigned client_conns;    /* the load's connections to each edge instance */
	unsigned regional_nodes[DRILL_REGIONS_MAX]; /* each region's, when real */
	/* 1: each node of a region's real cluster in a namespace of its own
	 * (sim/drill/brokerns.h); set by a cut between nodes too */
	unsigned regional_kafka_netns;
	bool durability_local;   /* the edges' changelog.durability = local */
	unsigned feed;           /* 1: central publishes the change feed, replayed at the end */
	unsigned fetch_wait_ms;  /* every daemon's consumer fetch.wait.max.ms */
	unsigned snapshot_check; /* 1: snapshots held to a merge of the batch topic at the end */
	uint64_t milestones[DRILL_MILESTONES_MAX]; /* central's feed.milestones, ascending */
	size_t nmilestones;
	/* [0][N]: instance rN-a's (the edge's, without a standby); [1][N]:
	 * rN-b's (edgeN.standby's at the start) */
	int64_t skew_ms[2][DRILL_REGIONS_MAX];
	uint64_t seed;
	drill_step *steps; /* sorted by at_s, then by line */
	size_t nsteps;
	drill_expect expects[DRILL_EXPECTS_MAX]; /* in file order */
	size_t nexpects;
} drill;

/* The deployment settings a drill may leave unset: drill_shape then
 * turns them on for a full run. */
#define DRILL_AUTO_CHANGELOG 1u
#define DRILL_AUTO_STANDBY 2u
#define DRILL_AUTO_REGIONAL 4u
#define DRILL_AUTO_FETCH_WAIT 8u
/* fetch_wait_ms on real Kafka unless the drill says: a real broker
 * answers a waiting fetch as soon as data arrives (the embedded one
 * only when the wait runs out), so a longer wait costs no latency and
 * spares the JVMs a hundred empty fetches a second per consumer. */
#define DRILL_REAL_FETCH_WAIT_MS 500

#endif
