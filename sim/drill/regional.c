/* regional.c - a region's own Kafka as a `sim broker` process (regional.h).
 * Owns the process. One thread.
 */
#include "sim/drill/regional.h"
#include "sim/drill/child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "sim/drill/drill.h"

#define START_MS 10000
#define CONTROL_MS 5000

static pid_t spawn(const char *bin, const regional_kafka *k, bool idle)
{
	char brokers[16], topic[64];
	snprintf(brokers, sizeof brokers, "%d", DRILL_REGIONAL_BROKERS);
	snprintf(topic, sizeof topic, "%s:1", REGIONAL_TOPIC);
	int logfd = open(k->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		/* Only async-signal-safe calls until exec: sim has threads. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execl(bin, bin, "broker", "--brokers", brokers, "--topic", topic, "--fail-over",
		      "--bootstrap-file", k->bootstrap, "--control", k->control,
		      idle ? "--idle" : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	close(logfd);
	return pid;
}

/* The bootstrap list once the file holds it, within START_MS. */
static int wait_bootstrap(regional_kafka *k, char *err, size_t errlen)
{
	uint64_t end = clock_mono_ms() + START_MS;
	while (clock_mono_ms() < end) {
		int st;
		if (waitpid(k->pid, &st, WNOHANG) == k->pid) {
			k->pid = 0;
			snprintf(err, errlen, "region %d's Kafka exited at start-up; see %s",
			         k->region, k->log);
			return ERR_IO;
		}
		FILE *f = fopen(k->bootstrap, "r");
		if (f) {
			char line[1024] = "";
			bool got = fgets(line, sizeof line, f) != NULL;
			fclose(f);
			if (got) {
				k->nbrokers =
				    sim_broker_ports(line, k->ports, SIM_BROKER_BROKERS_MAX);
				if (k->nbrokers == DRILL_REGIONAL_BROKERS)
					return 0;
				snprintf(err, errlen, "region %d's Kafka lists %d brokers: %s",
				         k->region, k->nbrokers, line);
				return ERR_KAFKA;
			}
		}
		usleep(20 * 1000);
	}
	snprintf(err, errlen, "region %d's Kafka wrote no bootstrap file within %d s; see %s",
	         k->region, START_MS / 1000, k->log);
	return ERR_TIMEOUT;
}

int regional_kafka_start(regional_kafka *k, const char *bindir, const char *dir, int region,
                         bool idle, char *err, size_t errlen)
{
	memset(k, 0, sizeof *k);
	k->region = region;
	snprintf(k->bootstrap, sizeof k->bootstrap, "%s/kafka-r%d.bootstrap", dir, region);
	snprintf(k->control, sizeof k->control, "%s/kafka-r%d.ctl", dir, region);
	snprintf(k->log, sizeof k->log, "%s/kafka-r%d.log", dir, region);
	char bin[PATH_MAX + 8];
	snprintf(bin, sizeof bin, "%s/sim", bindir);
	k->pid = spawn(bin, k, idle);
	if (k->pid < 0) {
		k->pid = 0;
		snprintf(err, errlen, "cannot start region %d's Kafka: %s", region,
		         strerror(errno));
		return ERR_IO;
	}
	int rc = wait_bootstrap(k, err, errlen);
	if (rc) {
		regional_kafka_stop(k);
		return rc;
	}
	log_info("regional kafka started", "region=%d pid=%d brokers=%d", region, (int)k->pid,
	         k->nbrokers);
	return 0;
}

int regional_kafka_command(regional_kafka *k, const char *command, char *err, size_t errlen)
{
	if (k->pid <= 0) {
		snprintf(err, errlen, "region %d's Kafka is not running", k->region);
		return ERR_INVAL;
	}
	int rc = sim_broker_control(k->control, command, CONTROL_MS, err, errlen);
	if (rc)
		log_error("regional kafka command failed", "region=%d command=\"%s\" err=\"%s\"",
		          k->region, command, err);
	else
		log_info("regional kafka command", "region=%d command=\"%s\"", k->region, command);
	return rc;
}

void regional_kafka_stop(regional_kafka *k)
{
	if (k->pid <= 0)
		return;
	child_end(k->pid, 5000);
	k->pid = 0;
}
