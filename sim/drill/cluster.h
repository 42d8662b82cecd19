/* cluster.h - one whole deployment on this machine for a drill: the mock
 * Kafka cluster (a `sim broker` process: kproc.h), central replicas and
 * edges as real processes, each in a network namespace of its own, and
 * the relay paths that are the only links between them.
 *
 * Paths, per node (a "link" in drill files):
 *   kafka    one path per broker, from the node's namespace to the broker
 *            (the brokers advertise 127.0.0.1:port, which inside the
 *            node's namespace is the relay)
 *   central  an edge's read-through path to central0's ops API; in a
 *            sharded drill (drill.h, shards) one path per central, the
 *            path to centralJ listening on CLUSTER_OPS_PORT + J inside
 *            the edge's namespace
 *   clients  sim's way in: the users' path to an edge's HTTP port, the
 *            checker's path to a central's ops API
 *   regional with regional_kafka (drill.h): one path per broker of the
 *            region's own Kafka (kproc.h), from the edge's namespace,
 *            as kafka is built for the embedded one
 *   peer     with standby: an instance's path to the other instance's
 *            seed listener (changelog.seed_from), for a store that lies
 *            before the changelog's start
 * Daemons listen on fixed ports inside their namespaces (edge 8080,
 * central 9090); sim reaches them through the clients paths' ports.
 *
 * An edge that a drill fills the disk of (disk_full) keeps its data dir
 * on a small tmpfs (CLUSTER_DISK_MB) mounted in a mount namespace of its
 * own, held by a helper process, so filling it touches nothing else on
 * the machine and the store survives the edge's restarts.
 *
 * A sharded drill's end checks add one more central (cluster_single_start),
 * owning every partition, with an id, a store and a consumer group of its
 * own, so it reads the whole input from the start; it is stopped with the
 * rest.
 *
 * With regional_kafka (drill.h), each region's changelog is on a Kafka
 * cluster of its own, another `sim broker` process (with kafka real a
 * `sim kafka` one) started before the edges (kproc.h), faulted through
 * its control socket (cluster_kafka_of). With regional_kafka_netns
 * (drill.h) and kafka real, each node of a region's cluster runs in a
 * namespace of its own behind relays (brokerns.h), made before the
 * cluster starts, and an edge's regional paths lead into those
 * namespaces.
 *
 * With standby (drill.h), each region runs a second instance of its edge,
 * "edgeN.standby", under the same edge id and changelog partition, with
 * a namespace, paths, store and port of its own (cluster_instance); both
 * start with the cluster, and whichever takes the changelog over is the
 * region's active instance.
 *
 * In a drill with a clock step (drill_moves_clocks) every edge and
 * central runs under libfaketime with a clock file of its own in the run
 * dir, NAME.faketime (cluster_node_clock, sim/drill/faketime.h); in any
 * other drill, none does.
 *
 * Without network namespaces (cluster_opts.isolated false) every daemon
 * runs in sim's namespace on ports of its own, there are no kafka,
 * central or regional paths, and path faults on them are refused.
 *
 * The run directory holds configs, stores and logs. One thread drives a
 * cluster; the relays run threads of their own.
 */
#ifndef SIM_CLUSTER_H
#define SIM_CLUSTER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sim/broker/broker.h"
#include "sim/drill/drill.h"
#include "err.h"
#include "hclient.h"
#include "sim/drill/brokerns.h"
#include "sim/drill/netns.h"
#include "sim/drill/kproc.h"
#include "sim/drill/relay.h"

#define CLUSTER_TOKEN "sim-admin-token"
/* The edges' changelog topic (with changelog: their default name). */
#define CLUSTER_CHANGELOG_TOPIC "likes.changelog"
/* Central's feed.session_ms in a drill: its default, which the drills'
 * configs keep. How long a central killed, paused or cut may hold its
 * feed partitions (its home streams among them) before another
 * publisher, or itself rejoined, takes them. */
#define CLUSTER_FEED_SESSION_MS 10000
#define CLUSTER_EDGE_PORT 8080
#define CLUSTER_OPS_PORT 9090
/* With standby: where an instance serves its store to its peer that
 * re-seeds, and (isolated) where the path to its peer's listens. */
#define CLUSTER_SEED_PORT 8090
#define CLUSTER_PEER_PORT 8091
#define CLUSTER_DISK_MB 32
/* Most paths of one link of a node. */
#define CLUSTER_PATHS_MAX SIM_BROKER_BROKERS_MAX
#define CLUSTER_SINGLE_NAME "central-all"
/* The largest answer body sim reads from a node. */
#define CLUSTER_BODY_MAX (4u << 20)
/* Instances of one region's edge, at most; and the exit status of one
 * another instance took the changelog over from (man likes-edge). */
#define CLUSTER_INSTANCES_MAX 2
#define CLUSTER_EXIT_FENCED 4
/* ... and of a standby whose store fell behind the changelog's start:
 * its service manager starts it again, and it copies its peer's store. */
#define CLUSTER_EXIT_RESEED 5

typedef struct cluster_node {
	drill_node_kind kind;
	int index;
	int inst;        /* edges: 0 for edgeN, 1 for edgeN.standby */
	char name[24];   /* "edge0", "edge0.standby", "central1" */
	char id[16];     /* the daemon's own id: "edge0" for both instances */
	char label[48];  /* "edge0 (r0-a)" with standby, else the name */
	netns *ns;       /* NULL when not isolated */
	pid_t pid;       /* 0 when not running */
	bool stopped;    /* SIGSTOP'ed */
	int exit_status; /* wait status of its last exit; -1: none seen */
	int port;        /* where sim reaches it: edge HTTP or central ops */
	relay_path *kafka[SIM_BROKER_BROKERS_MAX];
	int nkafka;
	relay_path *central[DRILL_CENTRALS_MAX]; /* edges: read-through paths */
	int ncentral;
	relay_path *clients;
	relay_path *regional[SIM_BROKER_BROKERS_MAX]; /* edges, regional_kafka */
	int nregional;
	relay_path *peer;  /* standby, isolated: to the other instance's seed port */
	int seed_port;     /* standby: its seed listener (CLUSTER_SEED_PORT when isolated) */
	pid_t disk_holder; /* holds the mount namespace with the tmpfs */
	int disk_ns;       /* its descriptor, -1 without one */
	char data[512];    /* the data dir */
	char cfg[512], log[512];
	char clock[512];    /* its libfaketime file; "" in a drill with no clock step */
	int64_t clock_ms;   /* where its file puts its wall clock from the host's */
	bool clock_standby; /* its clock was moved by a step naming edgeN.standby */
} cluster_node;

typedef struct cluster {
	const drill *d;
	char dir[256];
	bool isolated;
	kproc kafka;   /* the cluster every daemon uses */
	relay *relay;  /* the daemons' paths to Kafka and to central */
	relay *crelay; /* the clients' paths: a thread of their own, so that a
	                * client's request never waits behind delayed Kafka
	                * traffic in the other relay's loop */
	cluster_node edges[DRILL_REGIONS_MAX];
	cluster_node standbys[DRILL_REGIONS_MAX]; /* edgeN.standby, with standby */
	cluster_node centrals[DRILL_CENTRALS_MAX];
	kproc regional[DRILL_REGIONS_MAX]; /* with regional_kafka */
	/* regional_kafka_netns: each region's nodes in namespaces of their
	 * own, their paths on a relay thread of their own */
	brokerns bns[DRILL_REGIONS_MAX];
	relay *brelay;
	cluster_node single; /* sharded drills: every partition, at the end */
	bool single_made;    /* single has a config (and maybe a namespace) */
	char bindir[PATH_MAX];
	/* Called by cluster_node_start once the node's new process exists,
	 * before it is ready: whatever the process answers from then on is
	 * its new life's (the runner's start counts, sim/drill/load.h). NULL
	 * during cluster_start. */
	void (*spawned)(void *arg, const cluster_node *n);
	void *spawned_arg;
	char faketime[PATH_MAX];     /* libfaketime, in a drill with a clock step */
	char waitfix[PATH_MAX + 32]; /* and sim's shim before it (bindir/sim-waitfix.so) */
} cluster;

/* Makes the run dir under parent, starts the broker, relays and every
 * daemon, and waits until they answer /healthz. isolated: use network
 * namespaces. 0, or an ERR_* with the reason in err (everything started
 * is stopped again). */
int cluster_start(cluster *c, const drill *d, const char *bindir, const char *parent, bool isolated,
                  char *err, size_t errlen) WARN_UNUSED;
/* Stops every daemon (SIGTERM, then SIGKILL), the relay and the broker;
 * removes the run dir unless keep. */
void cluster_stop(cluster *c, bool keep);

cluster_node *cluster_node_of(cluster *c, drill_node_kind kind, int index);
/* Instances of each region's edge: 2 with standby, else 1. */
unsigned cluster_instances(const cluster *c);
/* Instance inst of region i's edge (0: edgeN, 1: edgeN.standby); NULL
 * past the regions or the instances. */
cluster_node *cluster_instance(cluster *c, unsigned i, unsigned inst);
/* Did the node's last run end with CLUSTER_EXIT_FENCED? */
bool cluster_node_fenced(const cluster_node *n);

/* Starts a node that is not running (same config, same store), tells
 * c->spawned, then waits for /healthz (a process that started counts
 * as a new life even if it never gets ready). */
int cluster_node_start(cluster *c, cluster_node *n, char *err, size_t errlen) WARN_UNUSED;
/* The node's last exit was a standby's for a copy of its peer's store
 * (CLUSTER_EXIT_RESEED). */
bool cluster_node_wants_copy(const cluster_node *n);
/* Sends sig to a running node; SIGKILL also reaps it. */
int cluster_node_signal(cluster_node *n, int sig) WARN_UNUSED;
/* An edge loses its store: SIGKILL (and reap) when it runs, then its
 * data dir is deleted (with a tmpfs of its own, everything in it), so
 * the next cluster_node_start starts an empty edge. 0, or ERR_IO with
 * the path and reason in err. */
int cluster_node_wipe(cluster_node *n, char *err, size_t errlen) WARN_UNUSED;

/* Steps n's wall clock to offset_ms from the host's (on top of its
 * skew): the daemon, run under libfaketime, reads it within a second
 * (sim/drill/faketime.h). Kept through its restarts. 0, or ERR_INVAL
 * when the drill has no clock step (the node runs without libfaketime),
 * or ERR_IO with why in err. */
int cluster_node_clock(cluster_node *n, int64_t offset_ms, char *err, size_t errlen) WARN_UNUSED;

/* The paths of one link of a node (up to CLUSTER_PATHS_MAX); 0 when the
 * link does not exist here (not isolated, or central of a central). */
int cluster_paths(cluster_node *n, drill_link link, relay_path **out);

/* The Kafka process of central's cluster (region -1, the cluster every
 * daemon uses) or of region i's own (regional_kafka); NULL when the
 * region has none. Its faults are kproc_command's. */
kproc *cluster_kafka_of(cluster *c, int region);

/* Region i's nodes in namespaces of their own (regional_kafka_netns);
 * NULL when they share sim's. */
brokerns *cluster_brokerns_of(cluster *c, int region);

/* The partition a step's "leader" names in that cluster: likes.batches
 * partition 0 in central's, the region's changelog partition in its own. */
void cluster_kafka_where(const cluster *c, int region, const char **topic, int32_t *partition);

/* Every fault of cluster k cleared: the embedded cluster's brokers up
 * and their rtt 0; a real cluster's paused nodes resumed and stopped ones
 * started, and every cut between its nodes healed. 0, or the first command's ERR_* with the reason
 * in err. */
int cluster_kafka_heal(cluster *c, kproc *k, char *err, size_t errlen) WARN_UNUSED;

/* Where region i's changelog is (changelog): the bootstrap list of the
 * cluster that holds it (its own with regional_kafka, else the main one)
 * and its partition of CLUSTER_CHANGELOG_TOPIC there (0, or i). The
 * list is the cluster's, valid while it runs. */
void cluster_changelog_at(const cluster *c, unsigned i, const char **bootstraps,
                          int32_t *partition);

/* Moves users[0..n) ("uN") home to region ("rN") since since_ms, as an
 * identity service would: one `central home-move --users-from` with
 * central0's config and a list of the users in the run dir, from sim's
 * own namespace (the brokers answer on the same ports there). Output
 * goes to the run dir's home-move.log. 0 when it succeeded, else ERR_IO
 * with why in err. Blocks until it exits. */
int cluster_home_move(cluster *c, const unsigned *users, size_t n, const char *region,
                      uint64_t since_ms, char *err, size_t errlen) WARN_UNUSED;

/* A running central that owns partition p, the shard's lowest index
 * first; NULL when none of them is running. */
cluster_node *cluster_owner(cluster *c, unsigned p);

/* Makes and starts c->single: one more central owning every partition,
 * under CLUSTER_SINGLE_NAME (its id, so its consumer group is new), with
 * an empty store; waits for /healthz. */
int cluster_single_start(cluster *c, char *err, size_t errlen) WARN_UNUSED;

/* Can this machine give a process a mount namespace with a tmpfs? */
bool cluster_disk_supported(void);
/* Fills the node's tmpfs to the last byte (full) or frees it again.
 * ERR_INVAL when the node has no tmpfs of its own. */
int cluster_disk(cluster_node *n, bool full) WARN_UNUSED;

/* Is the node's process still alive (reaps it if it died, keeping its
 * wait status in exit_status)? */
bool cluster_node_alive(cluster_node *n);

/* GET path from the node at its port on sim's loopback, with token as
 * the bearer when not NULL: the whole exchange within timeout_ms, the
 * body up to CLUSTER_BODY_MAX (hclient.h). 0 with the answer whatever
 * its status (the caller frees a->body); or hclient_do's ERR_*, logged
 * at debug level, with a zeroed. Any thread. */
int cluster_node_get(const cluster_node *n, const char *path, const char *token,
                     unsigned timeout_ms, hclient_answer *a) WARN_UNUSED;

#endif
