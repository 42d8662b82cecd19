/* serve.h - `sim kafka`: a real Kafka cluster (kafka.h) as a process of
 * its own, as drills and tests run every cluster, its faults taken on a
 * control socket (sim/proc/service.h). Commands, one per connection:
 *   kill ID|all, down ID|all       SIGKILL
 *   pause ID|all / resume ID|all   SIGSTOP / SIGCONT
 *   start ID|all, up ID|all        start nodes that are not running
 *   restart ID|all                 SIGTERM, then start
 *   wipe ID|all                    SIGKILL, log directory formatted anew, start
 *   leader TOPIC PARTITION         "ok ID": the partition's leader now
 *   pid ID                         "ok PID" (0: not running)
 *   controller                     "ok ID": the active controller now
 *   isr TOPIC PARTITION            "ok A,B,...": its in-sync replicas now
 *   in-sync MS [running]           "ok" once every partition has a leader
 *                                  and its full ISR (running: every
 *                                  replica on a node that runs, not
 *                                  paused, in it), within MS
 *   create NAME:PARTITIONS [rf=N] [as=NAME] [replicas=A,B,...] [KEY=VALUE ...]
 *                                  a topic more (sim_kafka_create): the
 *                                  deploy table's configs of NAME or of
 *                                  as, then the KEY=VALUE ones; replicas
 *                                  places every partition on those nodes,
 *                                  the first leading
 *   elections                      "ok N PATH": every leader change the
 *                                  metadata log holds, a line each in
 *                                  PATH (DIR/elections.txt): "AT_MS TOPIC
 *                                  PARTITION FROM TO", -1 for none
 * A command on "all" answers "ok N", the nodes it acted on (those it
 * fits: up all starts the nodes that are down). down and up are the
 * embedded cluster's words (sim/broker/broker.h), so that a drill step
 * means the same on either; rtt and errors are refused (delay a path
 * instead).
 *
 * The serving thread owns the cluster.
 */
#ifndef SIM_KAFKA_SERVE_H
#define SIM_KAFKA_SERVE_H

#include <stddef.h>

#include "err.h"
#include "sim/kafka/kafka.h"

/* Starts the cluster, serves until SIGINT or SIGTERM, stops it
 * (service_run). 0, or a negative ERR_*. */
int sim_kafka_serve(const sim_kafka_opts *o, const char *bootstrap_file, const char *pid_file,
                    const char *control_path) WARN_UNUSED;

/* One control command on k, whose files are under dir: the answer line
 * in ans (cap bytes). */
void sim_kafka_command(sim_kafka *k, const char *dir, char *line, char *ans, size_t cap);

#endif
