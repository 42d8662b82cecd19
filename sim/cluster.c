/* cluster.c - a deployment on one machine for a drill (cluster.h). */
#include "cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "httpget.h"
#include "log.h"

#define READY_MS 30000

/* --- small helpers -------------------------------------------------------- */

/* A port free on 127.0.0.1 of sim's namespace right now. */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &l) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int write_text(const char *path, const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* --- configs ---------------------------------------------------------------- */

static int write_edge_cfg(cluster *c, cluster_node *n, char *err, size_t errlen)
{
	const drill *d = c->d;
	char text[2048];
	snprintf(text, sizeof text,
		 "; written by sim for drill %s\n"
		 "[edge]\nid = %s\nregion = r%d\ndata_dir = %s/%s\nlog_level = info\n"
		 "[http]\nlisten = 127.0.0.1:%d\n"
		 "[identity]\ndev_header = true\n"
		 "[batch]\nmax_age_ms = %u\n"
		 "[central]\nops = 127.0.0.1:%d\ntoken = %s\n"
		 "[clock]\nskew_ms = %lld\n"
		 "[topics]\npartitions = %u\n"
		 "[bus]\nbootstrap_file = %s/kafka.bootstrap\n"
		 "[kafka]\nfetch.wait.max.ms = 10\n",
		 d->name, n->name, n->index, c->dir, n->name,
		 c->isolated ? CLUSTER_EDGE_PORT : n->port, d->batch_age_ms,
		 c->isolated ? CLUSTER_OPS_PORT : c->centrals[0].port, CLUSTER_TOKEN,
		 (long long)d->skew_ms[n->index], d->partitions, c->dir);
	return write_text(n->cfg, text, err, errlen);
}

static int write_central_cfg(cluster *c, cluster_node *n, char *err, size_t errlen)
{
	const drill *d = c->d;
	char text[2048];
	snprintf(text, sizeof text,
		 "; written by sim for drill %s\n"
		 "[central]\nid = %s\ndata_dir = %s/%s\nlog_level = info\n"
		 "snapshot_interval_ms = %u\nops_listen = 127.0.0.1:%d\nops_token = %s\n"
		 "[topics]\npartitions = %u\n"
		 "[bus]\nbootstrap_file = %s/kafka.bootstrap\n"
		 "[kafka]\nfetch.wait.max.ms = 10\n",
		 d->name, n->name, c->dir, n->name, d->snapshot_ms,
		 c->isolated ? CLUSTER_OPS_PORT : n->port, CLUSTER_TOKEN, d->partitions, c->dir);
	return write_text(n->cfg, text, err, errlen);
}

/* --- processes -------------------------------------------------------------- */

static pid_t spawn(const cluster *c, const cluster_node *n)
{
	char bin[512];
	snprintf(bin, sizeof bin, "%s/%s", c->bindir, n->kind == DRILL_EDGE ? "edge" : "central");
	int logfd = open(n->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		/* Only async-signal-safe calls until exec: sim has threads. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (n->ns && netns_enter(n->ns))
			_exit(126);
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		execl(bin, bin, "-c", n->cfg, (char *)NULL);
		_exit(127);
	}
	close(logfd);
	return pid;
}

bool cluster_node_alive(cluster_node *n)
{
	if (n->pid <= 0)
		return false;
	int st;
	pid_t r = waitpid(n->pid, &st, WNOHANG);
	if (r == n->pid) {
		log_warn("node exited", "node=%s status=%d", n->name, st);
		n->pid = 0;
		return false;
	}
	return true;
}

static int wait_ready(cluster_node *n, char *err, size_t errlen)
{
	uint64_t end = clock_mono_ms() + READY_MS;
	while (clock_mono_ms() < end) {
		if (!cluster_node_alive(n)) {
			snprintf(err, errlen, "%s exited at start-up; see %s", n->name, n->log);
			return ERR_IO;
		}
		int status = 0;
		char *body = NULL;
		size_t len;
		if (httpget(n->port, "/healthz", NULL, 500, &status, &body, &len) == 0 &&
		    status == 200) {
			free(body);
			return 0;
		}
		free(body);
		usleep(50 * 1000);
	}
	snprintf(err, errlen, "%s did not answer /healthz within %d s; see %s", n->name,
		 READY_MS / 1000, n->log);
	return ERR_TIMEOUT;
}

int cluster_node_start(cluster *c, cluster_node *n, char *err, size_t errlen)
{
	if (n->pid > 0) {
		snprintf(err, errlen, "%s is running already", n->name);
		return ERR_INVAL;
	}
	n->pid = spawn(c, n);
	n->stopped = false;
	if (n->pid < 0) {
		n->pid = 0;
		snprintf(err, errlen, "cannot start %s: %s", n->name, strerror(errno));
		return ERR_IO;
	}
	log_info("node started", "node=%s pid=%d", n->name, (int)n->pid);
	return wait_ready(n, err, errlen);
}

int cluster_node_signal(cluster_node *n, int sig)
{
	if (n->pid <= 0)
		return ERR_INVAL;
	if (kill(n->pid, sig))
		return ERR_IO;
	if (sig == SIGSTOP)
		n->stopped = true;
	else if (sig == SIGCONT)
		n->stopped = false;
	if (sig == SIGKILL) {
		waitpid(n->pid, NULL, 0);
		n->pid = 0;
		n->stopped = false;
	}
	log_info("node signalled", "node=%s signal=%d", n->name, sig);
	return 0;
}

static void node_stop(cluster_node *n)
{
	if (n->pid <= 0)
		return;
	if (n->stopped)
		kill(n->pid, SIGCONT);
	kill(n->pid, SIGTERM);
	uint64_t end = clock_mono_ms() + 10000;
	while (waitpid(n->pid, NULL, WNOHANG) == 0) {
		if (clock_mono_ms() > end) {
			kill(n->pid, SIGKILL);
			waitpid(n->pid, NULL, 0);
			break;
		}
		usleep(20 * 1000);
	}
	n->pid = 0;
}

/* --- set-up ------------------------------------------------------------------ */

cluster_node *cluster_node_of(cluster *c, drill_node_kind kind, int index)
{
	if (kind == DRILL_EDGE && index >= 0 && (unsigned)index < c->d->regions)
		return &c->edges[index];
	if (kind == DRILL_CENTRAL && index >= 0 && (unsigned)index < c->d->centrals)
		return &c->centrals[index];
	return NULL;
}

int cluster_paths(cluster_node *n, drill_link link, relay_path **out)
{
	switch (link) {
	case DRILL_LINK_KAFKA:
		for (int i = 0; i < n->nkafka; i++)
			out[i] = n->kafka[i];
		return n->nkafka;
	case DRILL_LINK_CENTRAL:
		out[0] = n->central;
		return n->central ? 1 : 0;
	case DRILL_LINK_CLIENTS:
		out[0] = n->clients;
		return n->clients ? 1 : 0;
	}
	return 0;
}

/* The broker ports, from "127.0.0.1:p,127.0.0.1:q,...". */
static int parse_bootstraps(cluster *c, char *err, size_t errlen)
{
	const char *s = sim_broker_bootstraps(c->broker);
	c->nbrokers = 0;
	while (s && *s && c->nbrokers < SIM_BROKER_BROKERS_MAX) {
		const char *colon = strchr(s, ':');
		if (!colon)
			break;
		c->broker_ports[c->nbrokers++] = atoi(colon + 1);
		s = strchr(colon, ',');
		if (s)
			s++;
	}
	if (!c->nbrokers) {
		snprintf(err, errlen, "no broker ports in the bootstrap list");
		return ERR_KAFKA;
	}
	return 0;
}

/* Namespace and paths of a node (isolated), or a port of its own. */
static int node_network(cluster *c, cluster_node *n, char *err, size_t errlen)
{
	if (!c->isolated) {
		n->port = free_port();
		if (n->port < 0) {
			snprintf(err, errlen, "no free port for %s", n->name);
			return ERR_IO;
		}
		return 0;
	}
	n->ns = netns_new(err, errlen);
	if (!n->ns)
		return ERR_IO;
	char name[RELAY_NAME_MAX];
	for (int i = 0; i < c->nbrokers; i++) {
		snprintf(name, sizeof name, "%s-kafka-b%d", n->name, i + 1);
		n->kafka[i] = relay_add(c->relay, name, n->ns, c->broker_ports[i], NULL,
					c->broker_ports[i], NULL, err, errlen);
		if (!n->kafka[i])
			return ERR_IO;
		n->nkafka++;
	}
	snprintf(name, sizeof name, "%s-clients", n->name);
	int inner = n->kind == DRILL_EDGE ? CLUSTER_EDGE_PORT : CLUSTER_OPS_PORT;
	n->clients = relay_add(c->relay, name, NULL, 0, n->ns, inner, &n->port, err, errlen);
	return n->clients ? 0 : ERR_IO;
}

static void node_init(const char *dir, cluster_node *n, drill_node_kind kind, int index)
{
	char name[sizeof n->name];
	snprintf(name, sizeof name, "%s%d", kind == DRILL_EDGE ? "edge" : "central", index);
	n->kind = kind;
	n->index = index;
	memcpy(n->name, name, sizeof name);
	snprintf(n->cfg, sizeof n->cfg, "%s/%s.ini", dir, name);
	snprintf(n->log, sizeof n->log, "%s/%s.log", dir, name);
}

int cluster_start(cluster *c, const drill *d, const char *bindir, const char *parent,
		  bool isolated, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->d = d;
	c->isolated = isolated;
	snprintf(c->bindir, sizeof c->bindir, "%s", bindir);
	snprintf(c->dir, sizeof c->dir, "%s/sim-%s-XXXXXX", parent, d->name);
	if (!mkdtemp(c->dir)) {
		snprintf(err, errlen, "cannot make a run dir under %s: %s", parent, strerror(errno));
		return ERR_IO;
	}
	char dir[sizeof c->dir];
	memcpy(dir, c->dir, sizeof dir);
	sim_broker_topic topics[3] = {{"likes.batches", (int)d->partitions},
				      {"likes.snapshots", (int)d->partitions},
				      {"likes.deadletter", 1}};
	sim_broker_opts bo = {.brokers = 3, .topics = topics, .ntopics = 3};
	int rc;
	c->broker = sim_broker_start(&bo, err, errlen);
	if (!c->broker) {
		rc = ERR_KAFKA;
		goto fail;
	}
	char path[512];
	snprintf(path, sizeof path, "%s/kafka.bootstrap", c->dir);
	if ((rc = parse_bootstraps(c, err, errlen)) ||
	    (rc = sim_broker_write_bootstraps(c->broker, path))) {
		if (!err[0])
			snprintf(err, errlen, "cannot write %s", path);
		goto fail;
	}
	if (isolated && !(c->relay = relay_new(err, errlen))) {
		rc = ERR_IO;
		goto fail;
	}
	for (unsigned j = 0; j < d->centrals; j++) {
		node_init(dir, &c->centrals[j], DRILL_CENTRAL, (int)j);
		if ((rc = node_network(c, &c->centrals[j], err, errlen)) ||
		    (rc = write_central_cfg(c, &c->centrals[j], err, errlen)))
			goto fail;
	}
	for (unsigned i = 0; i < d->regions; i++) {
		cluster_node *n = &c->edges[i];
		node_init(dir, n, DRILL_EDGE, (int)i);
		if ((rc = node_network(c, n, err, errlen)))
			goto fail;
		if (isolated) {
			char name[RELAY_NAME_MAX];
			snprintf(name, sizeof name, "%s-central", n->name);
			n->central = relay_add(c->relay, name, n->ns, CLUSTER_OPS_PORT,
					       c->centrals[0].ns, CLUSTER_OPS_PORT, NULL, err, errlen);
			if (!n->central) {
				rc = ERR_IO;
				goto fail;
			}
		}
		if ((rc = write_edge_cfg(c, n, err, errlen)))
			goto fail;
	}
	for (unsigned j = 0; j < d->centrals; j++)
		if ((rc = cluster_node_start(c, &c->centrals[j], err, errlen)))
			goto fail;
	for (unsigned i = 0; i < d->regions; i++)
		if ((rc = cluster_node_start(c, &c->edges[i], err, errlen)))
			goto fail;
	log_info("cluster up", "dir=%s edges=%u centrals=%u isolated=%d", c->dir, d->regions,
		 d->centrals, isolated);
	return 0;
fail:
	cluster_stop(c, true);
	return rc;
}

void cluster_stop(cluster *c, bool keep)
{
	if (!c->d)
		return;
	for (unsigned i = 0; i < c->d->regions; i++)
		node_stop(&c->edges[i]);
	for (unsigned j = 0; j < c->d->centrals; j++)
		node_stop(&c->centrals[j]);
	relay_free(c->relay);
	c->relay = NULL;
	for (unsigned i = 0; i < c->d->regions; i++) {
		netns_free(c->edges[i].ns);
		c->edges[i].ns = NULL;
	}
	for (unsigned j = 0; j < c->d->centrals; j++) {
		netns_free(c->centrals[j].ns);
		c->centrals[j].ns = NULL;
	}
	sim_broker_stop(c->broker);
	c->broker = NULL;
	if (!keep && c->dir[0])
		nftw(c->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	else if (c->dir[0])
		log_info("run dir kept", "dir=%s", c->dir);
	c->d = NULL;
}
