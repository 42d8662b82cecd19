/* kproc.c - a drill's Kafka cluster as a `sim broker` or `sim kafka`
 * process (kproc.h). Owns the process. One thread.
 */
#include "sim/drill/kproc.h"
#include "sim/kafka/kafka.h"
#include "sim/proc/child.h"
#include "sim/proc/service.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* Generous: with --idle the cluster's thread, which creates the topics
 * and carries out every fault, runs only on a CPU nothing else wants,
 * and a drill keeps both of this machine's busy. */
#define START_MS 30000
/* A real cluster: formats, JVM starts, topics created and in sync.
 * sim kafka is given all but the last REAL_START_SLACK_MS of it for its
 * own start (its default, 90 s, gave up first: a drill's five JVMs on a
 * two-core machine that others shared took 70 s before they answered,
 * 2026-11-29). */
#define REAL_START_MS 150000
#define REAL_START_SLACK_MS 10000
/* A real node's restart or wipe waits for its JVM (sim/kafka/kafka.c). */
#define CONTROL_MS 90000
/* The program, broker --brokers N or kafka --nodes N, --topic SPEC per
 * topic, --bootstrap-file F, --control C; the mock's --fail-over and
 * --idle, or a real cluster's --dir D, --start-ms MS, --full-jit, --ports
 * P and --netns N; and the NULL. */
#define ARGV_MAX (2 + 2 + 2 * SIM_BROKER_TOPICS_MAX + 2 + 2 + 9 + 1)

static pid_t spawn(const char *bin, const kproc *k, const kproc_opts *o, const char *dir)
{
	char brokers[16], spec[SIM_BROKER_TOPICS_MAX][SIM_BROKER_TOPIC_MAX + 16];
	char nodes_dir[PATH_MAX], start_ms[16];
	const char *argv[ARGV_MAX];
	size_t n = 0;
	snprintf(brokers, sizeof brokers, "%d", o->brokers);
	argv[n++] = bin;
	argv[n++] = o->real ? "kafka" : "broker";
	argv[n++] = o->real ? "--nodes" : "--brokers";
	argv[n++] = brokers;
	if (o->real) {
		snprintf(nodes_dir, sizeof nodes_dir, "%s/%s", dir, k->name);
		argv[n++] = "--dir";
		argv[n++] = nodes_dir;
		snprintf(start_ms, sizeof start_ms, "%d", REAL_START_MS - REAL_START_SLACK_MS);
		argv[n++] = "--start-ms";
		argv[n++] = start_ms;
		if (o->full_jit)
			argv[n++] = "--full-jit";
		if (o->ports) {
			argv[n++] = "--ports";
			argv[n++] = o->ports;
		}
		if (o->netns) {
			argv[n++] = "--netns";
			argv[n++] = o->netns;
		}
	}
	for (size_t i = 0; i < o->ntopics; i++) {
		snprintf(spec[i], sizeof spec[i], "%s:%d", o->topics[i].name,
		         o->topics[i].partitions);
		argv[n++] = "--topic";
		argv[n++] = spec[i];
	}
	if (o->fail_over && !o->real)
		argv[n++] = "--fail-over";
	if (o->idle && !o->real)
		argv[n++] = "--idle";
	argv[n++] = "--bootstrap-file";
	argv[n++] = k->bootstrap;
	argv[n++] = "--control";
	argv[n++] = k->control;
	assert(n < ARGV_MAX);
	argv[n] = NULL;
	return child_spawn(k->log, argv, NULL, NULL);
}

/* The bootstrap list once the file holds it, within ms. */
static int wait_bootstrap(kproc *k, int brokers, unsigned ms, char *err, size_t errlen)
{
	uint64_t end = clock_mono_ms() + ms;
	while (clock_mono_ms() < end) {
		int st;
		if (waitpid(k->pid, &st, WNOHANG) == k->pid) {
			k->pid = 0;
			snprintf(err, errlen, "%s exited at start-up; see %s", k->name, k->log);
			return ERR_IO;
		}
		FILE *f = fopen(k->bootstrap, "r");
		if (f) {
			bool got = fgets(k->bootstraps, sizeof k->bootstraps, f) != NULL;
			fclose(f);
			if (got) {
				k->bootstraps[strcspn(k->bootstraps, "\r\n")] = '\0';
				k->nbrokers = sim_broker_ports(k->bootstraps, k->ports,
				                               SIM_BROKER_BROKERS_MAX);
				if (k->nbrokers == brokers)
					return 0;
				snprintf(err, errlen, "%s lists %d brokers of %d: %s", k->name,
				         k->nbrokers, brokers, k->bootstraps);
				return ERR_KAFKA;
			}
		}
		usleep(20 * 1000);
	}
	snprintf(err, errlen, "%s wrote no bootstrap file within %u s; see %s", k->name, ms / 1000,
	         k->log);
	return ERR_TIMEOUT;
}

int kproc_begin(kproc *k, const char *bindir, const char *dir, const char *name,
                const kproc_opts *o, char *err, size_t errlen)
{
	memset(k, 0, sizeof *k);
	if (strlen(name) >= sizeof k->name || o->brokers < 1 ||
	    o->brokers > (o->real ? SIM_KAFKA_NODES_MAX : SIM_BROKER_BROKERS_MAX) ||
	    o->ntopics < 1 || o->ntopics > SIM_BROKER_TOPICS_MAX) {
		snprintf(err, errlen, "bad Kafka process '%s': %d brokers, %zu topics", name,
		         o->brokers, o->ntopics);
		return ERR_INVAL;
	}
	snprintf(k->name, sizeof k->name, "%s", name);
	snprintf(k->bootstrap, sizeof k->bootstrap, "%s/%s.bootstrap", dir, name);
	snprintf(k->control, sizeof k->control, "%s/%s.ctl", dir, name);
	snprintf(k->log, sizeof k->log, "%s/%s.log", dir, name);
	struct sockaddr_un sun;
	if (strlen(k->control) >= sizeof sun.sun_path) {
		snprintf(err, errlen,
		         "the control socket's path is too long for a socket (%zu "
		         "bytes, at most %zu): %s",
		         strlen(k->control), sizeof sun.sun_path - 1, k->control);
		return ERR_INVAL;
	}
	char bin[PATH_MAX + 8];
	snprintf(bin, sizeof bin, "%s/sim", bindir);
	k->real = o->real;
	/* A real cluster's ports picked here, not by sim kafka: the drill's
	 * clusters start at once, each sim kafka a process of its own whose
	 * picks only it remembers, and a port two of them (or one and this
	 * process, for a daemon) both found free went to whichever JVM bound
	 * it first; the other exited at start-up (nemesis seed 17, 2026-12-01:
	 * "Address already in use" on a controller port). */
	kproc_opts with = *o;
	char ports[SIM_KAFKA_NODES_MAX * 16];
	if (o->real && !o->ports) {
		int cp[SIM_KAFKA_NODES_MAX], p[SIM_KAFKA_NODES_MAX];
		char why[128];
		if (sim_kafka_pick_ports(o->brokers, p, cp, why, sizeof why)) {
			snprintf(err, errlen, "%s: %s", name, why);
			return ERR_IO;
		}
		sim_kafka_ports_arg(o->brokers, p, cp, ports, sizeof ports);
		with.ports = ports;
		log_info("real Kafka cluster's ports picked", "name=%s ports=%s", name, ports);
	}
	k->pid = spawn(bin, k, &with, dir);
	if (k->pid < 0) {
		k->pid = 0;
		snprintf(err, errlen, "cannot start %s: %s", name, strerror(errno));
		return ERR_IO;
	}
	k->want = o->brokers;
	return 0;
}

int kproc_ready(kproc *k, char *err, size_t errlen)
{
	int rc = wait_bootstrap(k, k->want, k->real ? REAL_START_MS : START_MS, err, errlen);
	if (rc) {
		kproc_stop(k);
		return rc;
	}
	log_info("kafka process started", "name=%s pid=%d brokers=%d real=%d", k->name, (int)k->pid,
	         k->nbrokers, k->real);
	return 0;
}

int kproc_start(kproc *k, const char *bindir, const char *dir, const char *name,
                const kproc_opts *o, char *err, size_t errlen)
{
	int rc = kproc_begin(k, bindir, dir, name, o, err, errlen);
	return rc ? rc : kproc_ready(k, err, errlen);
}

int kproc_ask(kproc *k, const char *command, char *ans, size_t anslen, char *err, size_t errlen)
{
	if (k->pid <= 0) {
		snprintf(err, errlen, "%s is not running", k->name[0] ? k->name : "Kafka");
		return ERR_INVAL;
	}
	uint64_t t0 = clock_mono_ms();
	int rc = service_ask(k->control, command, CONTROL_MS, ans, anslen, err, errlen);
	if (rc)
		log_error("kafka command failed", "name=%s command=\"%s\" err=\"%s\"", k->name,
		          command, err);
	else
		log_info("kafka command", "name=%s command=\"%s\" answer=\"%s\" ms=%" PRIu64,
		         k->name, command, ans ? ans : "", clock_mono_ms() - t0);
	return rc;
}

int kproc_command(kproc *k, const char *command, char *err, size_t errlen)
{
	return kproc_ask(k, command, NULL, 0, err, errlen);
}

bool kproc_alive(kproc *k, int *status)
{
	if (k->pid <= 0)
		return false;
	int st = 0;
	if (waitpid(k->pid, &st, WNOHANG) != k->pid)
		return true;
	k->pid = 0;
	if (status)
		*status = st;
	log_error("kafka process exited", "name=%s status=%d log=%s", k->name, st, k->log);
	return false;
}

void kproc_stop(kproc *k)
{
	if (k->pid <= 0)
		return;
	/* A real cluster stops its nodes first (3 s at most, sim_kafka_stop). */
	child_end(k->pid, k->real ? 15000 : 5000);
	k->pid = 0;
}
