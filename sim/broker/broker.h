/* broker.h - the embedded Kafka for one machine: librdkafka's mock cluster.
 *
 * A sim_broker is a mock cluster of N brokers listening on 127.0.0.1 with
 * the project's topics created up front. Clients reach it through the
 * bootstrap list (sim_broker_bootstraps), exactly as they would reach a
 * real cluster. Nothing survives sim_broker_stop: the log lives in memory
 * and each partition keeps only ~5 MiB / 100,000 message sets.
 *
 * sim_broker_serve() is the `sim broker` subcommand: start, publish the
 * bootstrap list in a file, take broker faults on a control socket if
 * asked to, wait for SIGINT/SIGTERM, clean up. The rest is the API the
 * tests use in-process, and the client of the control socket
 * (sim_broker_control) that drills use on every cluster, each a process
 * of its own (sim/drill/kproc.h).
 *
 * Threads: start/stop from one thread; the fault hooks may be called from
 * any thread while the broker runs (the mock cluster serialises them onto
 * its own thread). The caller owns the sim_broker until sim_broker_stop.
 */
#ifndef SIM_BROKER_H
#define SIM_BROKER_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define SIM_BROKER_TOPIC_MAX 249       /* Kafka's limit on a topic name */
#define SIM_BROKER_PARTITIONS_MAX 1024 /* ours: the mock keeps every log in memory */
#define SIM_BROKER_BROKERS_MAX 16
#define SIM_BROKER_TOPICS_MAX 64
#define SIM_BROKER_DEFAULT_BROKERS 3

typedef struct sim_broker sim_broker;

typedef struct sim_broker_topic {
	char name[SIM_BROKER_TOPIC_MAX + 1];
	int partitions;
} sim_broker_topic;

typedef struct sim_broker_opts {
	int brokers; /* 1..SIM_BROKER_BROKERS_MAX; 0 means 3 */
	/* The cluster's thread takes only CPU that no other thread wants
	 * (SCHED_IDLE, else nice 19; lowprio.h), as brokers on machines of
	 * their own would: the daemons under test never wait for it. */
	bool idle;
	const sim_broker_topic *topics; /* NULL: the project's default topics */
	size_t ntopics;                 /* 1..SIM_BROKER_TOPICS_MAX when topics is set */
	/* Leadership moves as a real cluster's controller moves it: at start
	 * partition p of every topic is led by broker p % brokers + 1, and a
	 * broker set down hands each partition it leads to the next broker
	 * that is up (sim_broker_set_down). Off: the mock's own random
	 * leaders, which never move. */
	bool fail_over;
} sim_broker_opts;

/* Parses "NAME:PARTITIONS" (a Kafka topic name, 1..SIM_BROKER_PARTITIONS_MAX
 * partitions) into t. ERR_INVAL with nothing written when it is not one. */
int sim_broker_parse_topic(const char *spec, sim_broker_topic *t) WARN_UNUSED;

/* The default topics (likes.batches:16, likes.snapshots:16,
 * likes.deadletter:1, likes.changes:16, likes.milestones:16); *n
 * receives their count. Static storage. */
const sim_broker_topic *sim_broker_default_topics(size_t *n);

/* Starts the cluster and creates the topics with replication factor
 * min(3, brokers). The listeners accept connections when this returns.
 * NULL with the reason in err (may be NULL) on bad options or when
 * librdkafka refuses. */
sim_broker *sim_broker_start(const sim_broker_opts *o, char *err, size_t errlen);

/* "127.0.0.1:port,127.0.0.1:port,..."; owned by b, valid until stop. */
const char *sim_broker_bootstraps(sim_broker *b);

/* The ports of a bootstrap list "127.0.0.1:p,127.0.0.1:q,..." in order
 * (broker 1 first), at most max of them; their number, 0 for none. */
int sim_broker_ports(const char *bootstraps, int *ports, int max);
/* Sets TCP_NODELAY on this process's listening sockets at the ports of
 * bootstraps (a mock cluster's, in this process), as a Kafka broker sets
 * it on its connections: on Linux the sockets they accept inherit it.
 * How many it set. */
int sim_broker_nodelay(const char *bootstraps);

/* Number of brokers; their ids are 1..count. */
int sim_broker_count(const sim_broker *b);

/* Destroys the cluster; clients connected to it see their connections
 * fail. NULL is a no-op. */
void sim_broker_stop(sim_broker *b);

/* Fault hooks. broker_id is 1..count, or -1 for every broker.
 * set_down(true) drops the broker's connections and refuses new ones.
 * Without fail_over it does NOT move partition leadership, so a
 * partition led by a down broker is unavailable until set_down(false);
 * with fail_over each partition it led moves to the next broker up
 * (none when every broker is down: those wait for one to come up, and
 * the first one up takes them). Leaders stay where they are when a
 * broker comes back.
 * set_rtt delays every response of the broker by rtt_ms (0 clears it).
 * ERR_INVAL for an unknown broker or a negative rtt, ERR_KAFKA when the
 * mock cluster refuses. */
int sim_broker_set_down(sim_broker *b, int broker_id, bool down) WARN_UNUSED;
int sim_broker_set_rtt(sim_broker *b, int broker_id, int rtt_ms) WARN_UNUSED;

/* Makes the next count Produce requests (to any broker, for any
 * partition) fail with NOT_ENOUGH_REPLICAS, which a producer retries:
 * nothing is written for a failed request. count 0 does nothing; ERR_INVAL
 * for a negative count or one above SIM_BROKER_PUSH_ERRORS_MAX. Errors
 * pushed earlier and not yet spent stay ahead of these. */
#define SIM_BROKER_PUSH_ERRORS_MAX 100000
int sim_broker_push_errors(sim_broker *b, int count) WARN_UNUSED;

/* Writes the bootstrap list as one line to path, atomically: a temporary
 * file in the same directory, fsync, rename. Readers never see a partial
 * file. ERR_IO on failure (logged). */
int sim_broker_write_bootstraps(sim_broker *b, const char *path) WARN_UNUSED;

/* The leader of partition part of topic, as fail_over placed or moved
 * it; -1 without fail_over or for a partition the cluster lacks. */
int sim_broker_leader(sim_broker *b, const char *topic, int part);

/* The control socket's commands, one line each, one per connection
 * (sim/proc/service.h):
 *   down ID|all     sim_broker_set_down(.., true)
 *   up ID|all       sim_broker_set_down(.., false)
 *   rtt ID|all MS   sim_broker_set_rtt
 *   errors N        sim_broker_push_errors
 * The answer is one line, "ok" or "error REASON". */
/* Sends one command to the control socket at path (a Unix stream
 * socket) and waits up to timeout_ms for its answer. 0 when it says ok;
 * ERR_IO when the socket cannot be reached or answers nothing, ERR_KAFKA
 * when the broker refused (its reason in err). Any thread. */
int sim_broker_control(const char *path, const char *command, unsigned timeout_ms, char *err,
                       size_t errlen) WARN_UNUSED;

/* The `sim broker` subcommand. Blocks SIGINT and SIGTERM (before any
 * thread starts, so every librdkafka thread inherits the mask), starts
 * the broker, writes bootstrap_file and pid_file (either may be NULL),
 * listens on control_path when it is not NULL (the commands above),
 * then waits on a signalfd. On the signal it removes the files and the
 * socket, stops the broker and returns 0. Returns a negative ERR_* if
 * start-up fails. */
int sim_broker_serve(const sim_broker_opts *o, const char *bootstrap_file, const char *pid_file,
                     const char *control_path) WARN_UNUSED;

#endif
