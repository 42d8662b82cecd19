/* kafka_int.h - struct sim_kafka and its nodes, shared by kafka.c (which
 * owns them: files, JVMs, topics, faults), kmeta.c (which asks the
 * running cluster about its ISRs, leaders and controller) and metalog.c
 * (which reads its metadata log with a JVM of kafka.c's). Private to
 * sim/kafka/.
 */
#ifndef SIM_KAFKA_KAFKA_INT_H
#define SIM_KAFKA_KAFKA_INT_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#include "sim/kafka/kafka.h"
#include "sim/kafka/topics.h"

#define META_MS 2000 /* one metadata request's wait */

typedef struct knode {
	int id;
	pid_t pid; /* 0 when not running */
	bool paused;
	int port, cport;      /* clients, controller */
	char netns[PATH_MAX]; /* the namespace its JVM joins; "": the caller's */
	char dir[PATH_MAX - 128];
	char props[PATH_MAX], data[PATH_MAX], meta[PATH_MAX], log[PATH_MAX];
	/* Where log ended when the JVM was last spawned (the log goes on
	 * across starts), and whether the server said it started since. */
	off_t log_mark;
	bool up;
} knode;

struct sim_kafka {
	int n;
	knode nodes[SIM_KAFKA_NODES_MAX];
	char dir[PATH_MAX - 256];
	char classpath[PATH_MAX];
	char java[PATH_MAX];
	char log4j[PATH_MAX];
	char tmp[PATH_MAX]; /* the JVMs' java.io.tmpdir */
	char cluster_id[32];
	int heap_mb;
	bool full_jit;
	bool (*interrupted)(void);
	char bootstraps[SIM_KAFKA_NODES_MAX * 24];
	sim_kafka_topic *topics; /* created so far */
	size_t ntopics;
	ktopics *deploy; /* configs/deploy/topics.conf */
	rd_kafka_t *admin;
};

/* Starts java from the cluster's jars with args (a main class and its
 * arguments, after the JVM options; NULL-terminated), heap an -Xmx
 * option, output appended to log, inside the namespace at netns_path
 * when not NULL. Its pid, or -1 with errno. kafka.c. */
pid_t kafka_spawn_java(const sim_kafka *k, const char *heap, const char *log,
                       const char *const *args, const char *netns_path);

/* Has node nd's server said it started since its JVM was last spawned
 * (its log: "Kafka Server started")? A node started again stays in its
 * partitions' ISRs, and listed, for a while before the new process even
 * runs: until then an ISR entry says nothing of it. kmeta.c. */
bool sim_kafka_node_up(knode *nd);

#endif
