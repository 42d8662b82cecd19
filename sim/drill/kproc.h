/* kproc.h - a drill's Kafka cluster as a process of its own: the main
 * cluster every daemon uses, and with regional_kafka (drill.h) each
 * region's own cluster for its changelog. The process is `sim broker`
 * (the embedded cluster, librdkafka's mock) or, with real set, `sim
 * kafka` (real Apache Kafka nodes, sim/kafka/serve.h, each a JVM of its
 * own under it); both take faults on the same control socket.
 *
 * Its files are in the run dir under the name it is given: NAME.bootstrap
 * (the bootstrap list, which daemons read as a bootstrap_file),
 * NAME.ctl (the control socket that takes broker faults:
 * sim/proc/service.h) and NAME.log; a real cluster's nodes keep their
 * files under NAME/ (sim/kafka/kafka.h). It listens on 127.0.0.1 of
 * sim's network namespace (with kproc_opts.netns, a real cluster's
 * nodes each in a namespace of their own, reached through relays:
 * brokerns.h).
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
	int brokers; /* 1..SIM_BROKER_BROKERS_MAX; real: 1..SIM_KAFKA_NODES_MAX */
	const sim_broker_topic *topics;
	size_t ntopics; /* 1..SIM_BROKER_TOPICS_MAX */
	bool fail_over; /* sim broker --fail-over */
	bool idle;      /* sim broker --idle: its thread under SCHED_IDLE */
	bool real;      /* sim kafka: `brokers` real nodes (fail_over and idle
	                 * do not apply: a real cluster elects its leaders) */
	bool full_jit;  /* real: sim kafka --full-jit (the optimising JIT: a
	                 * third less of a core per append once warm) */
	/* real: sim kafka's --ports and --netns (each node's ports, and the
	 * namespace it runs in: brokerns.h); NULL ports: kproc_begin picks
	 * them in this process (host_free_ports), so clusters started at
	 * once never share one; NULL netns: sim's namespace. */
	const char *ports, *netns;
} kproc_opts;

typedef struct kproc {
	char name[KPROC_NAME_MAX];
	pid_t pid; /* 0 when not running */
	int ports[SIM_BROKER_BROKERS_MAX];
	int nbrokers;
	bool real;
	int want;                              /* brokers asked for */
	char bootstraps[KPROC_BOOTSTRAPS_MAX]; /* "127.0.0.1:p,127.0.0.1:q,..." */
	char bootstrap[512], control[512], log[512];
} kproc;

/* Starts bindir/sim broker (with o->real, bindir/sim kafka) with o's
 * brokers and topics, its files in dir
 * under name, and waits until its bootstrap file lists every broker.
 * 0, or an ERR_* with the reason in err (a process started is stopped
 * again). */
int kproc_start(kproc *k, const char *bindir, const char *dir, const char *name,
                const kproc_opts *o, char *err, size_t errlen) WARN_UNUSED;

/* kproc_start in two halves, so that several clusters start at once:
 * begin spawns the process, ready waits for its bootstrap list (and
 * stops the process when it fails). */
int kproc_begin(kproc *k, const char *bindir, const char *dir, const char *name,
                const kproc_opts *o, char *err, size_t errlen) WARN_UNUSED;
int kproc_ready(kproc *k, char *err, size_t errlen) WARN_UNUSED;

/* One control command ("down 2", "up all", "rtt 1 50", "errors 5":
 * sim_broker_control). 0, or an ERR_* with the reason in err. */
int kproc_command(kproc *k, const char *command, char *err, size_t errlen) WARN_UNUSED;

/* The same, for a command that answers something ("leader TOPIC
 * PARTITION" of a real cluster: sim/kafka/serve.h): what followed "ok"
 * goes to ans (anslen bytes). */
int kproc_ask(kproc *k, const char *command, char *ans, size_t anslen, char *err,
              size_t errlen) WARN_UNUSED;

/* Is it still running? When it has exited, reaps it, logs it, puts its
 * wait status in *status (may be NULL) and marks it not running; false
 * also for one never started or already stopped. */
bool kproc_alive(kproc *k, int *status);

/* SIGTERM, then SIGKILL after 5 s (a real cluster: 15 s, its nodes'
 * stop first); reaps it. Not running is a no-op. */
void kproc_stop(kproc *k);

#endif
