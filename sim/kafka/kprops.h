/* kprops.h - the text of a real Kafka node's files: its server.properties
 * and the log4j2 configuration every node shares (kafka.h).
 *
 * server.properties is built in layers, each later line of a key
 * overriding an earlier one (java.util.Properties keeps the last):
 *   1. settings lean enough for a 2-core machine (threads, internal
 *      topics' partitions, the log cleaner's buffer, start-up delays);
 *   2. the deployment's broker settings, verbatim
 *      (configs/deploy/kafka-broker.properties);
 *   3. what a cluster of fewer than three nodes cannot hold (replication
 *      factors and min.insync.replicas brought down to the node count);
 *   4. the caller's extra properties;
 *   5. the node's identity: node.id, roles, the static quorum, its
 *      listeners on 127.0.0.1, log.dirs and metadata.log.dir, and with
 *      more than one node broker.rack zoneK (one node per data center).
 * The identity comes last so that nothing above can move a node.
 *
 * Pure: builds text, no I/O. Any thread.
 */
#ifndef SIM_KAFKA_KPROPS_H
#define SIM_KAFKA_KPROPS_H

#include "sbuf.h"
#include "sim/kafka/kafka.h"

typedef struct kprops_node {
	int id;                          /* 1..nodes */
	int nodes;                       /* in the quorum, 1..SIM_KAFKA_NODES_MAX */
	int port;                        /* its clients' listener */
	int cports[SIM_KAFKA_NODES_MAX]; /* every node's controller listener, node 1 first */
	const char *data, *meta;         /* log.dirs, metadata.log.dir */
	const char *const *extra;        /* "key=value", NULL-terminated, or NULL */
} kprops_node;

/* Appends n's server.properties to out; deploy is the deployment's broker
 * settings (the file's text, may be ""). */
void kprops_server(const kprops_node *n, const char *deploy, sbuf *out);

/* Appends the nodes' log4j2.properties to out: to standard output (the
 * node's out.log), warnings and errors, with the controller's and the
 * partitions' state changes (fencing, elections, ISR) at info level. */
void kprops_log4j(sbuf *out);

#endif
