/* regional.h - a region's own Kafka in a drill (drill.h regional_kafka):
 * a `sim broker` process of its own, outside the edges, with
 * DRILL_REGIONAL_BROKERS brokers and the topic likes.changelog (one
 * partition, replicated on every broker, its leader moving off a broker
 * that goes down: sim broker --fail-over), taking broker faults on its
 * control socket (sim_broker_control).
 *
 * Its files are in the run dir: kafka-rN.bootstrap (the region's
 * instances read it as changelog.bootstrap_file), kafka-rN.ctl (the
 * control socket) and kafka-rN.log. It listens on 127.0.0.1 of sim's
 * network namespace; the edges reach it through their regional paths
 * (cluster.h).
 *
 * One thread drives a regional_kafka; the process is sim's child and
 * dies with sim (PR_SET_PDEATHSIG).
 */
#ifndef SIM_REGIONAL_H
#define SIM_REGIONAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "sim/broker/broker.h"

#define REGIONAL_TOPIC "likes.changelog"

typedef struct regional_kafka {
	int region;
	pid_t pid; /* 0 when not running */
	int ports[SIM_BROKER_BROKERS_MAX];
	int nbrokers;
	char bootstrap[512], control[512], log[512];
} regional_kafka;

/* Starts region's cluster from bindir/sim with its files in dir (its
 * thread under SCHED_IDLE when idle: sim broker --idle), and waits until
 * its bootstrap file is written. 0, or an ERR_* with the
 * reason in err (a process started is stopped again). */
int regional_kafka_start(regional_kafka *k, const char *bindir, const char *dir, int region,
                         bool idle, char *err, size_t errlen) WARN_UNUSED;

/* One control command (sim_broker_control: "down 2", "up all"). 0, or an
 * ERR_* with the reason in err. */
int regional_kafka_command(regional_kafka *k, const char *command, char *err,
                           size_t errlen) WARN_UNUSED;

/* SIGTERM, then SIGKILL after 5 s; reaps it. Not running is a no-op. */
void regional_kafka_stop(regional_kafka *k);

#endif
