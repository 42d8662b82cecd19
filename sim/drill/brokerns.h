/* brokerns.h - a real Kafka cluster's nodes, each in a network namespace
 * of its own, linked by sim's relays, so that a drill can cut one broker
 * from the others (drill.h: cut kafkaR.A kafkaR.B).
 *
 * Every node listens on its own 127.0.0.1, on a client and a controller
 * port that sim picks before the cluster starts and hands to `sim kafka`
 * (--ports), with a path to each namespace (--netns) that the node's JVM
 * joins before its exec (sim/kafka/kafka.h). The relays make the
 * addresses the nodes advertise, 127.0.0.1:PORT, mean the same node in
 * every namespace:
 *   home      in sim's namespace, node K's client port to node K (sim
 *             kafka's admin client, the checkers, trim);
 *   peer      in node J's namespace, node K's client port and its
 *             controller port to node K, for every K other than J
 *             (replication fetches, the quorum, broker heartbeats).
 * A daemon's path to a node (cluster.c) goes straight to the node's
 * namespace.
 *
 * A cut from J to K holds what J sends K: the bytes J writes on its own
 * paths to K (forward) and the answers J gives on K's paths to J
 * (backward); both ways holds the four. Held, not dropped: relay.h.
 *
 * The paths live as long as the relay they were added to; the
 * namespaces until brokerns_free, which comes after the cluster's
 * process has stopped and the relay is freed. One thread (the drill's).
 */
#ifndef SIM_DRILL_BROKERNS_H
#define SIM_DRILL_BROKERNS_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "sim/drill/netns.h"
#include "sim/drill/relay.h"
#include "sim/kafka/kafka.h"

/* sim kafka's --netns list: a path of up to 32 bytes per node. */
#define BROKERNS_ARG_MAX (SIM_KAFKA_NODES_MAX * 40)

typedef struct brokerns {
	int n; /* nodes; 0: not made */
	netns *ns[SIM_KAFKA_NODES_MAX];
	int ports[SIM_KAFKA_NODES_MAX], cports[SIM_KAFKA_NODES_MAX];
	relay_path *home[SIM_KAFKA_NODES_MAX];
	/* peer[J][K][0]: in node J+1's namespace to node K+1's client port;
	 * [1]: to its controller port. NULL on the diagonal. */
	relay_path *peer[SIM_KAFKA_NODES_MAX][SIM_KAFKA_NODES_MAX][2];
	char netns_arg[BROKERNS_ARG_MAX];         /* "--netns" for sim kafka */
	char ports_arg[SIM_KAFKA_NODES_MAX * 16]; /* "--ports" */
} brokerns;

/* Makes n namespaces, picks 2n ports free in sim's namespace and all
 * different, and adds the home and peer paths to r under names that
 * start with name ("kafka-r0-n2-to-n3"). 0, or ERR_IO with why in err;
 * a failure leaves what was made for brokerns_free. */
int brokerns_make(brokerns *b, int n, relay *r, const char *name, char *err,
                  size_t errlen) WARN_UNUSED;

/* Node id's namespace (1..n); NULL when b is not made or id is out of
 * range. */
const netns *brokerns_of(const brokerns *b, int id);

/* Holds what node from sends node to (dir RELAY_FORWARD), what to sends
 * from (RELAY_BACKWARD), or both; heal undoes every fault between the
 * two, both ways. ERR_INVAL for ids out of range or equal. */
int brokerns_cut(brokerns *b, int from, int to, relay_dir dir) WARN_UNUSED;
int brokerns_heal(brokerns *b, int x, int y) WARN_UNUSED;

/* Frees the namespaces (the relay's paths go with the relay). A b not
 * made is a no-op. */
void brokerns_free(brokerns *b);

#endif
