/* kproc.h - a drill's Kafka cluster as a `sim broker` process of its own:
 * the main cluster every daemon uses, and with regional_kafka (drill.h)
 * each region's own cluster for its changelog.
 *
 * Its files are in the run dir under the name it is given: NAME.bootstrap
 * (the bootstrap list, which daemons read as a bootstrap_file),
 * NAME.ctl (the control socket that takes broker faults:
 * sim_broker_control) and NAME.log. It listens on 127.0.0.1 of sim's
 * network namespace.
 *
 * The main cluster and the regions' run the same way, so a fault step
 * reaches either through its control socket, and the soak's readings
 * of sim's memory and CPU hold the load alone, not the brokers' logs.
 *
 * One thread drives a kproc; the process is sim's child and dies with
 * sim (PR_SET_PDEATHSIG).
 */
#ifndef SIM_DRILL_KPROC_H
#define SIM_DRILL_KPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"
#include "sim/broker/broker.h"

#define KPROC_NAME_MAX 32
#define KPROC_BOOTSTRAPS_MAX 1024

typedef struct kproc_opts {
	int brokers; /* 1..SIM_BROKER_BROKERS_MAX */
	const sim_broker_topic *topics;
	size_t ntopics; /* 1..SIM_BROKER_TOPICS_MAX */
	bool fail_over; /* sim broker --fail-over */
	bool idle;      /* sim broker --idle: its thread under SCHED_IDLE */
} kproc_opts;

typedef struct kproc {
	char name[KPROC_NAME_MAX];
	pid_t pid; /* 0 when not running */
	int ports[SIM_BROKER_BROKERS_MAX];
	int nbrokers;
	char bootstraps[KPROC_BOOTSTRAPS_MAX]; /* "127.0.0.1:p,127.0.0.1:q,..." */
	char bootstrap[512], control[512], log[512];
} kproc;

/* Starts bindir/sim broker with o's brokers and topics, its files in dir
 * under name, and waits until its bootstrap file lists every broker.
 * 0, or an ERR_* with the reason in err (a process started is stopped
 * again). */
int kproc_start(kproc *k, const char *bindir, const char *dir, const char *name,
                const kproc_opts *o, char *err, size_t errlen) WARN_UNUSED;

/* One control command ("down 2", "up all", "rtt 1 50", "errors 5":
 * sim_broker_control). 0, or an ERR_* with the reason in err. */
int kproc_command(kproc *k, const char *command, char *err, size_t errlen) WARN_UNUSED;

/* Is it still running? When it has exited, reaps it, logs it, puts its
 * wait status in *status (may be NULL) and marks it not running; false
 * also for one never started or already stopped. */
bool kproc_alive(kproc *k, int *status);

/* SIGTERM, then SIGKILL after 5 s; reaps it. Not running is a no-op. */
void kproc_stop(kproc *k);

#endif
