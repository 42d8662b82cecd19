/* kafka.h - a real Apache Kafka cluster on this machine: N KRaft nodes,
 * each one JVM that is both broker and controller (process.roles=
 * broker,controller, a static quorum of all N), started from the jars
 * `make deps` fetched from Maven Central (sim/kafka/pom.xml pins the
 * version) on the machine's JDK.
 *
 * Every node listens on 127.0.0.1, on two ports (clients, controller)
 * picked free at the start unless the caller gives them, kept across its
 * restarts. By default that is the caller's network namespace; a caller
 * that wants to cut one node from the others names a namespace per node
 * (sim_kafka_opts.netns: a file that opens as one, /proc/PID/fd/FD or a
 * bind mount), which each node's JVM joins before its exec. In such a
 * namespace the other nodes' ports, and in the caller's every node's
 * client port, must be reached through something the caller puts there
 * (sim's relays, sim/drill/brokerns.h): sim kafka makes no links. Its
 * files are under DIR/nodeK: server.properties, the
 * log directory (data/), the metadata log kept apart (meta/, so that a
 * wipe of the data keeps the node's place in the quorum) and its output
 * (out.log). Settings are lean for a 2-core machine (a bounded heap, two
 * network and I/O threads, serial GC, the quick JIT unless full_jit,
 * small internal topics, kprops.h) on top of
 * the broker settings a deployment ships (configs/deploy/
 * kafka-broker.properties); with more than one node each gets broker.rack
 * zoneK, as one broker per data center.
 *
 * Topics come from the caller, with the configs the deploy table gives
 * (configs/deploy/topics.conf, topics.h), created through librdkafka's
 * admin API with an explicit assignment: partition p is led at first by
 * node p % N + 1, as the embedded cluster's fail_over places it, with
 * replicas on the next nodes in turn. The start returns once every
 * partition has a leader and a full ISR.
 *
 * The faults act on one node's process, for real: kill (SIGKILL; what it
 * had not flushed survives in the page cache, as after a process crash),
 * pause and resume (SIGSTOP, SIGCONT), restart (SIGTERM, a clean stop,
 * then start), start (of a node killed), wipe (SIGKILL, its log
 * directory deleted and formatted again, as a new disk would be, then
 * started: it copies every partition back from the others).
 *
 * Every JVM is a child of the process that called sim_kafka_start, made
 * to die with it (PR_SET_PDEATHSIG), and stopped by its pid.
 *
 * One thread drives a sim_kafka; nothing in it is shared with others.
 */
#ifndef SIM_KAFKA_KAFKA_H
#define SIM_KAFKA_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "sim/kafka/elections.h"
#include "sim/kafka/topics.h"

#define SIM_KAFKA_NODES_MAX 5
#define SIM_KAFKA_TOPICS_MAX 64 /* created at the start; sim_kafka_create adds any number */
/* Default heap per node, MiB: Kafka's own test harness runs brokers in
 * 256-512 MiB. */
#define SIM_KAFKA_HEAP_MB 320

typedef struct sim_kafka sim_kafka;

/* One topic to create: its name and partitions; replication and configs
 * come from the deploy table's entry of its name, or of `as` (a test's
 * t7.likes.changelog as likes.changelog); a topic the table lacks gets
 * no configs and a replication factor of 3. replication, when not 0,
 * is the test's own. Either is brought down to the cluster's nodes. */
typedef struct sim_kafka_topic {
	char name[KTOPIC_NAME_MAX + 1];
	int partitions;
	int replication;
	char as[KTOPIC_NAME_MAX + 1];
	/* Every partition's replicas, the first its leader, when nreplicas
	 * is not 0 (a test's placement); else the rotation above. */
	int replicas[SIM_KAFKA_NODES_MAX];
	int nreplicas;
} sim_kafka_topic;

typedef struct sim_kafka_opts {
	int nodes;          /* 1..SIM_KAFKA_NODES_MAX */
	const char *dir;    /* made if missing; each node's files under it */
	const char *jars;   /* the folder of Kafka's jars (make deps) */
	const char *java;   /* the java binary; NULL: "java" on PATH */
	const char *deploy; /* configs/deploy: kafka-broker.properties, topics.conf */
	int heap_mb;        /* 0: SIM_KAFKA_HEAP_MB */
	/* The JVM's optimising compiler too (a benchmark's steady rate);
	 * off, the quick one only (lean: start-up and idle CPU). */
	bool full_jit;
	const sim_kafka_topic *topics;
	size_t ntopics; /* 0..SIM_KAFKA_TOPICS_MAX */
	/* Extra "key=value" broker properties, after the deploy's (a test's
	 * log.retention.check.interval.ms, say); NULL-terminated or NULL. */
	const char *const *props;
	/* Extra "key=value" topic configs for every topic created, over the
	 * deploy table's (retention.ms=..., say); NULL-terminated or NULL. */
	const char *const *topic_configs;
	/* Each node's client and controller ports (node 1 first), all
	 * different; ports[0] 0: every one picked free at the start. */
	int ports[SIM_KAFKA_NODES_MAX], cports[SIM_KAFKA_NODES_MAX];
	/* Each node's network namespace, a path that opens as one (node 1
	 * first); netns[0] NULL: every node in the caller's. */
	const char *netns[SIM_KAFKA_NODES_MAX];
	unsigned start_ms; /* 0: 90 s for the whole start */
	/* Asked now and then while the start and sim_kafka_wait_isr wait:
	 * true gives up (ERR_AGAIN), so a Ctrl-C need not wait for the
	 * JVMs (sim kafka's service_interrupted); NULL: never. */
	bool (*interrupted)(void);
} sim_kafka_opts;

/* n nodes' client and controller ports (ports[i], cports[i] for node
 * i + 1), free now and all different (host_free_ports: the kernel may
 * hand one out twice in a row, and clusters started at once must not
 * share one). ERR_IO with the reason in err. */
int sim_kafka_pick_ports(int n, int *ports, int *cports, char *err, size_t errlen);
/* Those ports as sim kafka's --ports takes them, "P:C,P:C,...", in out. */
void sim_kafka_ports_arg(int n, const int *ports, const int *cports, char *out, size_t outlen);

/* Formats the nodes' storage, starts them, waits until the cluster lists
 * every broker, and creates the topics. NULL with the reason in err
 * (every node started is stopped again, its output kept in its dir). */
sim_kafka *sim_kafka_start(const sim_kafka_opts *o, char *err, size_t errlen);

/* Stops every node (SIGTERM to all at once, SIGKILL to those still
 * there 3 s later) and frees k. NULL is a
 * no-op. The files stay. */
void sim_kafka_stop(sim_kafka *k);

/* "127.0.0.1:p1,127.0.0.1:p2,..." (node 1 first); owned by k. */
const char *sim_kafka_bootstraps(const sim_kafka *k);
int sim_kafka_nodes(const sim_kafka *k);
/* Node id's pid (0 when not running). */
pid_t sim_kafka_pid(const sim_kafka *k, int id);

typedef enum sim_kafka_fault {
	SIM_KAFKA_KILL = 1, /* SIGKILL, reaped */
	SIM_KAFKA_PAUSE,    /* SIGSTOP */
	SIM_KAFKA_RESUME,   /* SIGCONT */
	SIM_KAFKA_START,    /* start a node that is not running */
	SIM_KAFKA_RESTART,  /* SIGTERM (SIGKILL after 10 s), then start; a node
	                     * that is not running is started */
	SIM_KAFKA_WIPE,     /* SIGKILL, its log directory formatted anew, start */
} sim_kafka_fault;

/* Applies f to node id (1..N). A start (START, RESTART, WIPE) returns
 * once the node's JVM is spawned (a restart's clean stop, and a wipe's
 * format, are waited for); whether the cluster has it back in its ISRs
 * is sim_kafka_wait_isr's. ERR_INVAL for a bad
 * id or a fault that does not fit the node's state (resume of a node not
 * paused, start of one running), ERR_IO when a process or file step
 * failed (err says which). */
int sim_kafka_fault_node(sim_kafka *k, int id, sim_kafka_fault f, char *err,
                         size_t errlen) WARN_UNUSED;

/* Creates topics on the running cluster (as sim_kafka_start creates
 * o->topics), with extra "key=value" configs (NULL-terminated, or NULL)
 * over the deploy table's; waits up to timeout_ms for the answer, not
 * for the ISRs. 0, or ERR_KAFKA / ERR_TIMEOUT / ERR_INVAL with the topic
 * and reason in err. */
int sim_kafka_create(sim_kafka *k, const sim_kafka_topic *ts, size_t n, const char *const *extra,
                     unsigned timeout_ms, char *err, size_t errlen) WARN_UNUSED;

/* The current leader of (topic, partition) by the cluster's metadata,
 * a node that is running (one just lost is named until it is fenced:
 * this waits, up to timeout_ms, for one that runs): its node id, or -1
 * (none within timeout_ms). */
int sim_kafka_leader(sim_kafka *k, const char *topic, int partition, unsigned timeout_ms);

/* The in-sync replicas of (topic, partition) by the metadata now: how
 * many (their ids in isr, at most max), or -1 when unknown. */
int sim_kafka_isr(sim_kafka *k, const char *topic, int partition, int *isr, int max);

/* The node that is the active controller (the quorum's leader) by the
 * running nodes' own record of it (their quorum-state files, the newest
 * epoch's), or -1 when none knows one. */
int sim_kafka_controller(const sim_kafka *k);

/* The leader changes the cluster's metadata log holds (elections.h),
 * from the first topic made to now: read with Kafka's DumpLogSegments
 * (kafka-tools) from the metadata log of the node that holds the most of
 * it, its text kept in DIR/elections.dump. How many there were (the first
 * cap in out), or a negative ERR_ with err. Runs a JVM for about a
 * second; a node down or paused does not stop it (its files are read). */
long sim_kafka_elections(sim_kafka *k, kelection *out, size_t cap, char *err,
                         size_t errlen) WARN_UNUSED;

/* Waits up to timeout_ms until every partition of the created topics
 * has a leader and its full replica set in sync (running_only: every
 * replica on a node that runs, not paused, in sync; those on nodes down
 * may be out). 0, or ERR_TIMEOUT with the first partition short of it
 * in err. */
int sim_kafka_wait_isr(sim_kafka *k, unsigned timeout_ms, bool running_only, char *err,
                       size_t errlen) WARN_UNUSED;

/* Looks after the nodes between commands: reaps one that exited on its
 * own and logs it (a node sim_kafka did not stop). */
void sim_kafka_reap(sim_kafka *k);

/* Fills in where a process finds things by default: the jars under
 * ROOT/build/kafka/libs and the deploy files under ROOT/configs/deploy,
 * ROOT being the parent of the folder of the running binary (build/sim),
 * unless LIKES_KAFKA_JARS or LIKES_DEPLOY_DIR say otherwise. jars and
 * deploy receive paths of at most cap bytes. 0, or ERR_NOTFOUND with
 * what is missing (and `make deps` as the remedy) in err. */
int sim_kafka_find_files(char *jars, char *deploy, size_t cap, char *err,
                         size_t errlen) WARN_UNUSED;

#endif
