/* cluster.c - a deployment on one machine for a drill (cluster.h). */
#include "sim/drill/cluster.h"
#include "sim/proc/child.h"
#include "sim/drill/cluster_int.h"
#include "sim/drill/faketime.h"
#include "sim/proc/host.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define READY_MS 30000

_Static_assert(DRILL_CENTRALS_MAX <= CLUSTER_PATHS_MAX, "an edge's central paths fit");

/* --- small helpers -------------------------------------------------------- */

/* --- processes -------------------------------------------------------------- */

/* In a daemon's child: its network and mount namespaces, if it has
 * them (async-signal-safe). */
static int enter_node(const void *ctx)
{
	const cluster_node *n = ctx;
	if (n->ns && netns_enter(n->ns))
		return 126;
	if (n->disk_ns >= 0 && setns(n->disk_ns, CLONE_NEWNS))
		return 125;
	if (n->clock[0]) /* a killed process's, that had this pid */
		faketime_litter(getpid());
	return 0;
}

static pid_t spawn(const cluster *c, const cluster_node *n)
{
	char bin[PATH_MAX + 16];
	snprintf(bin, sizeof bin, "%s/%s", c->bindir, n->kind == DRILL_EDGE ? "edge" : "central");
	const char *argv[] = {bin, "-c", n->cfg, NULL};
	if (!n->clock[0])
		return child_spawn(n->log, argv, enter_node, n);
	char **env = faketime_env(c->faketime, c->waitfix, n->clock);
	pid_t pid = child_spawn_env(n->log, argv, env, enter_node, n);
	int saved = errno;
	faketime_env_free(env);
	errno = saved;
	return pid;
}

/* n's process has exited and is reaped. */
static void reaped(cluster_node *n)
{
	if (n->clock[0])
		faketime_litter(n->pid);
	n->pid = 0;
	n->stopped = false;
}

int cluster_node_clock(cluster_node *n, int64_t offset_ms, char *err, size_t errlen)
{
	if (!n->clock[0]) {
		snprintf(err, errlen, "%s runs without libfaketime", n->name);
		return ERR_INVAL;
	}
	int rc = faketime_write(n->clock, offset_ms, err, errlen);
	if (rc)
		return rc;
	n->clock_ms = offset_ms;
	log_info("node clock set", "node=%s offset_ms=%" PRId64, n->name, offset_ms);
	return 0;
}

/* In a drill with a clock step: n's clock file, at the host's clock. */
static int clock_setup(cluster *c, cluster_node *n, char *err, size_t errlen)
{
	if (!c->faketime[0])
		return 0;
	char path[sizeof n->clock];
	snprintf(path, sizeof path, "%s/%s.faketime", c->dir, n->name);
	memcpy(n->clock, path, sizeof path);
	return faketime_write(n->clock, 0, err, errlen);
}

int cluster_home_move(cluster *c, const unsigned *users, size_t n, const char *region,
                      uint64_t since_ms, char *err, size_t errlen)
{
	char log_path[600], list[600], since[24];
	snprintf(log_path, sizeof log_path, "%s/home-move.log", c->dir);
	snprintf(list, sizeof list, "%s/home-move-%" PRIu64 ".users", c->dir, since_ms);
	snprintf(since, sizeof since, "%" PRIu64, since_ms);
	FILE *f = fopen(list, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", list, strerror(errno));
		return ERR_IO;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "u%u\n", users[i]);
	if (fclose(f)) {
		snprintf(err, errlen, "%s: %s", list, strerror(errno));
		return ERR_IO;
	}
	char bin[PATH_MAX + 16];
	snprintf(bin, sizeof bin, "%s/central", c->bindir);
	const char *argv[] = {
	    bin,       "home-move", "-c", c->centrals[0].cfg, "--users-from", list, region,
	    "--since", since,       NULL};
	pid_t pid = child_spawn(log_path, argv, NULL, NULL);
	if (pid < 0) {
		snprintf(err, errlen, "cannot start %s: %s", bin, strerror(errno));
		return ERR_IO;
	}
	/* Waited for by its pid: a wait for any child would reap a daemon's
	 * exit that cluster_node_alive looks for. */
	int st = 0;
	pid_t r = -1;
	if (pid > 0)
		while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
			;
	if (r != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(err, errlen, "central home-move of %zu users failed (status %d; see %s)",
		         n, r == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1, log_path);
		return ERR_IO;
	}
	return 0;
}

bool cluster_node_alive(cluster_node *n)
{
	if (n->pid <= 0)
		return false;
	int st;
	pid_t r = waitpid(n->pid, &st, WNOHANG);
	if (r == n->pid) {
		if (WIFEXITED(st) && WEXITSTATUS(st) == CLUSTER_EXIT_FENCED &&
		    n->kind == DRILL_EDGE)
			log_info("node exited fenced", "node=%s status=%d", n->name, st);
		else
			log_warn("node exited", "node=%s status=%d", n->name, st);
		n->exit_status = st;
		reaped(n);
		return false;
	}
	return true;
}

bool cluster_node_wants_copy(const cluster_node *n)
{
	return n->kind == DRILL_EDGE && n->exit_status >= 0 && WIFEXITED(n->exit_status) &&
	       WEXITSTATUS(n->exit_status) == CLUSTER_EXIT_RESEED;
}

bool cluster_node_fenced(const cluster_node *n)
{
	return n->exit_status >= 0 && WIFEXITED(n->exit_status) &&
	       WEXITSTATUS(n->exit_status) == CLUSTER_EXIT_FENCED;
}

static int wait_ready(cluster_node *n, char *err, size_t errlen)
{
	uint64_t end = clock_mono_ms() + READY_MS;
	while (clock_mono_ms() < end) {
		if (!cluster_node_alive(n)) {
			snprintf(err, errlen, "%s exited at start-up; see %s", n->name, n->log);
			return ERR_IO;
		}
		hclient_answer a;
		if (cluster_node_get(n, "/healthz", NULL, 500, &a) == 0 && a.status == 200) {
			free(a.body);
			return 0;
		}
		free(a.body);
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
	if (c->spawned) /* it may answer before /healthz does */
		c->spawned(c->spawned_arg, n);
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
		int st = 0;
		if (waitpid(n->pid, &st, 0) == n->pid)
			n->exit_status = st;
		reaped(n);
	}
	log_info("node signalled", "node=%s signal=%d", n->name, sig);
	return 0;
}

/* nftw callbacks take no argument of their own: what wipe_one needs
 * and the first failure, for the message (the runner's thread only). */
static struct {
	bool keep_root; /* the data dir is a mount point: empty it */
	int err;
	char path[PATH_MAX];
} wipe;

static int wipe_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0 && wipe.keep_root)
		return 0;
	if (remove(path) && !wipe.err) {
		wipe.err = errno;
		snprintf(wipe.path, sizeof wipe.path, "%s", path);
	}
	return 0;
}

int cluster_node_wipe(cluster_node *n, char *err, size_t errlen)
{
	if (n->pid > 0 && cluster_node_signal(n, SIGKILL)) {
		snprintf(err, errlen, "cannot kill %s: %s", n->name, strerror(errno));
		return ERR_IO;
	}
	/* A tmpfs of its own is mounted in the holder's mount namespace
	 * only: reach it through the holder's root, and keep the mount point. */
	char dir[PATH_MAX];
	if (n->disk_holder > 0)
		snprintf(dir, sizeof dir, "/proc/%d/root%s", (int)n->disk_holder, n->data);
	else
		snprintf(dir, sizeof dir, "%s", n->data);
	wipe.keep_root = n->disk_holder > 0;
	wipe.err = 0;
	wipe.path[0] = '\0';
	if (nftw(dir, wipe_one, 16, FTW_DEPTH | FTW_PHYS) && errno != ENOENT && !wipe.err) {
		wipe.err = errno;
		snprintf(wipe.path, sizeof wipe.path, "%s", dir);
	}
	if (wipe.err) {
		snprintf(err, errlen, "cannot delete %s: %s", wipe.path, strerror(wipe.err));
		return ERR_IO;
	}
	log_info("node wiped", "node=%s dir=%s", n->name, n->data);
	return 0;
}

static void node_stop(cluster_node *n)
{
	if (n->pid <= 0)
		return;
	if (n->stopped)
		kill(n->pid, SIGCONT);
	child_end(n->pid, 10000);
	reaped(n);
}

/* --- a disk of its own --------------------------------------------------------- */

/* A process that makes a mount namespace with a tmpfs on dir and keeps it
 * alive until it is killed (or sim dies). Returns its pid, or -1. */
static pid_t disk_holder(const char *dir)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* Async-signal-safe calls only: sim has threads. */
		child_prepare(parent);
		char opts[32] = "size=";
		int n = CLUSTER_DISK_MB, i = 5;
		char digits[8];
		int nd = 0;
		do
			digits[nd++] = (char)('0' + n % 10);
		while ((n /= 10) && nd < 7);
		while (nd)
			opts[i++] = digits[--nd];
		opts[i++] = 'm';
		opts[i] = 0;
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts))
			_exit(1);
		if (write(p[1], "k", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	char ok = 0;
	ssize_t got = pid > 0 ? read(p[0], &ok, 1) : -1;
	close(p[0]);
	if (got != 1) {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return -1;
	}
	return pid;
}

static int disk_setup(cluster_node *n, char *err, size_t errlen)
{
	if (mkdir(n->data, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "cannot make %s: %s", n->data, strerror(errno));
		return ERR_IO;
	}
	n->disk_holder = disk_holder(n->data);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)n->disk_holder);
	if (n->disk_holder <= 0 || (n->disk_ns = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "cannot give %s a tmpfs of its own (needs mount namespaces)",
		         n->name);
		return ERR_IO;
	}
	log_info("disk of its own", "node=%s dir=%s size_mb=%d", n->name, n->data, CLUSTER_DISK_MB);
	return 0;
}

/* Ends n's disk of its own, if it has one: the helper holding the tmpfs
 * (and with it the tmpfs) is gone. */
static void disk_release(cluster_node *n)
{
	if (n->disk_ns >= 0)
		close(n->disk_ns);
	n->disk_ns = -1;
	if (n->disk_holder > 0) {
		kill(n->disk_holder, SIGKILL);
		waitpid(n->disk_holder, NULL, 0);
		n->disk_holder = 0;
	}
}

int cluster_disk(cluster_node *n, bool full)
{
	if (n->disk_ns < 0)
		return ERR_INVAL;
	char filler[600];
	snprintf(filler, sizeof filler, "%s/disk-filler", n->data);
	static char zeros[1 << 16];
	pid_t pid = fork();
	if (pid == 0) {
		if (setns(n->disk_ns, CLONE_NEWNS))
			_exit(1);
		if (!full)
			_exit(unlink(filler) && errno != ENOENT ? 1 : 0);
		int fd = open(filler, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0)
			_exit(1);
		/* Large writes, then ever smaller ones: to the last byte. */
		for (size_t chunk = sizeof zeros; chunk; chunk /= 2)
			while (write(fd, zeros, chunk) == (ssize_t)chunk)
				;
		close(fd);
		_exit(0);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return ERR_IO;
	log_info(full ? "disk filled" : "disk freed", "node=%s", n->name);
	return 0;
}

bool cluster_disk_supported(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(unshare(CLONE_NEWNS) == 0 &&
		              mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
		              mount("tmpfs", "/mnt", "tmpfs", 0, "size=1m") == 0
		          ? 0
		          : 1);
	int st = 0;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool disk_wanted(const drill *d, int edge)
{
	for (size_t i = 0; i < d->nsteps; i++)
		if ((d->steps[i].action == DRILL_DISK_FULL ||
		     d->steps[i].action == DRILL_DISK_FREE) &&
		    d->steps[i].index == edge)
			return true;
	return false;
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

unsigned cluster_instances(const cluster *c)
{
	return c->d && c->d->standby ? 2 : 1;
}

cluster_node *cluster_instance(cluster *c, unsigned i, unsigned inst)
{
	if (!c->d || i >= c->d->regions || inst >= cluster_instances(c))
		return NULL;
	return inst ? &c->standbys[i] : &c->edges[i];
}

int cluster_paths(cluster_node *n, drill_link link, relay_path **out)
{
	switch (link) {
	case DRILL_LINK_KAFKA:
		for (int i = 0; i < n->nkafka; i++)
			out[i] = n->kafka[i];
		return n->nkafka;
	case DRILL_LINK_CENTRAL:
		for (int i = 0; i < n->ncentral; i++)
			out[i] = n->central[i];
		return n->ncentral;
	case DRILL_LINK_CLIENTS: out[0] = n->clients; return n->clients ? 1 : 0;
	case DRILL_LINK_REGIONAL:
		for (int i = 0; i < n->nregional; i++)
			out[i] = n->regional[i];
		return n->nregional;
	}
	return 0;
}

void cluster_changelog_at(const cluster *c, unsigned i, const char **bootstraps, int32_t *partition)
{
	/* As changelog_text gives it to the region's instances. */
	if (c->d->regional_kafka) {
		*bootstraps = c->regional[i].bootstraps;
		*partition = 0;
	} else {
		*bootstraps = c->kafka.bootstraps;
		*partition = (int32_t)i;
	}
}

kproc *cluster_kafka_of(cluster *c, int region)
{
	if (region < 0)
		return &c->kafka;
	if (!c->d->regional_kafka || (unsigned)region >= c->d->regions)
		return NULL;
	return &c->regional[region];
}

void cluster_kafka_where(const cluster *c, int region, const char **topic, int32_t *partition)
{
	if (region < 0) {
		*topic = "likes.batches";
		*partition = 0;
		return;
	}
	const char *bootstraps;
	*topic = CLUSTER_CHANGELOG_TOPIC;
	cluster_changelog_at(c, (unsigned)region, &bootstraps, partition);
}

int cluster_kafka_heal(cluster *c, kproc *k, char *err, size_t errlen)
{
	if (!k->real) {
		int rc = kproc_command(k, "up all", err, errlen);
		return rc ? rc : kproc_command(k, "rtt all 0", err, errlen);
	}
	int rc = kproc_command(k, "resume all", err, errlen);
	if (!rc)
		rc = kproc_command(k, "up all", err, errlen);
	for (int i = 0; i < DRILL_REGIONS_MAX; i++) {
		brokerns *b = k == &c->regional[i] ? cluster_brokerns_of(c, i) : NULL;
		for (int x = 1; b && x <= b->n; x++)
			for (int y = x + 1; y <= b->n; y++)
				if (brokerns_heal(b, x, y))
					log_error("cannot heal between Kafka nodes", "x=%d y=%d", x,
					          y);
	}
	return rc;
}

/* Each real node of the regions' clusters in a namespace of its own. */
static bool brokerns_wanted(const cluster *c)
{
	return c->isolated && c->d->kafka_real && c->d->regional_kafka &&
	       c->d->regional_kafka_netns;
}

brokerns *cluster_brokerns_of(cluster *c, int region)
{
	return region >= 0 && region < DRILL_REGIONS_MAX && c->bns[region].n ? &c->bns[region]
	                                                                     : NULL;
}

/* Region i's own Kafka: DRILL_REGIONAL_BROKERS brokers and its
 * changelog topic (one partition, replicated on every broker, its leader
 * moving off a broker that goes down), at the daemons' priority whatever
 * broker_idle says: every write waits for its acknowledgement, and under
 * SCHED_IDLE on a busy machine that wait was the CPU's (regional_delay
 * at 300 ops/s: write p99 250-280 ms idle, 21-23 ms not). */
static int regional_start(cluster *c, unsigned i, char *err, size_t errlen)
{
	sim_broker_topic t = {CLUSTER_CHANGELOG_TOPIC, 1};
	kproc_opts ko = {.brokers = c->d->kafka_real ? (int)c->d->regional_nodes[i]
	                                             : DRILL_REGIONAL_BROKERS,
	                 .topics = &t,
	                 .ntopics = 1,
	                 .fail_over = true,
	                 .real = c->d->kafka_real != 0,
	                 .full_jit = c->d->kafka_full_jit != 0};
	char name[KPROC_NAME_MAX];
	snprintf(name, sizeof name, "kafka-r%u", i);
	if (brokerns_wanted(c)) {
		brokerns *b = &c->bns[i];
		int rc = brokerns_make(b, ko.brokers, c->brelay, name, err, errlen);
		if (rc)
			return rc;
		ko.ports = b->ports_arg;
		ko.netns = b->netns_arg;
	}
	return kproc_begin(&c->regional[i], c->bindir, c->dir, name, &ko, err, errlen);
}

/* An edge's paths to its region's own Kafka: one per broker, on the
 * broker's own port inside the edge's namespace. */
static int regional_paths(cluster *c, cluster_node *n, char *err, size_t errlen)
{
	const kproc *k = &c->regional[n->index];
	for (int i = 0; i < k->nbrokers; i++) {
		char name[RELAY_NAME_MAX];
		snprintf(name, sizeof name, "%s-regional-b%d", n->name, i + 1);
		/* Into the node's own namespace when it has one. */
		n->regional[i] = relay_add(c->relay, name, n->ns, k->ports[i],
		                           brokerns_of(&c->bns[n->index], i + 1), k->ports[i], NULL,
		                           err, errlen);
		if (!n->regional[i])
			return ERR_IO;
		n->nregional++;
	}
	return 0;
}

/* Namespace and paths of a node (isolated), or a port of its own. */
static int node_network(cluster *c, cluster_node *n, char *err, size_t errlen)
{
	if (!c->isolated) {
		n->port = host_free_port();
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
	for (int i = 0; i < c->kafka.nbrokers; i++) {
		snprintf(name, sizeof name, "%s-kafka-b%d", n->name, i + 1);
		n->kafka[i] = relay_add(c->relay, name, n->ns, c->kafka.ports[i], NULL,
		                        c->kafka.ports[i], NULL, err, errlen);
		if (!n->kafka[i])
			return ERR_IO;
		n->nkafka++;
	}
	snprintf(name, sizeof name, "%s-clients", n->name);
	int inner = n->kind == DRILL_EDGE ? CLUSTER_EDGE_PORT : CLUSTER_OPS_PORT;
	n->clients = relay_add(c->crelay, name, NULL, 0, n->ns, inner, &n->port, err, errlen);
	return n->clients ? 0 : ERR_IO;
}

/* An edge's read-through paths: to central0, or with shards one to each
 * central J, on CLUSTER_OPS_PORT + J inside the edge's namespace. */
static int central_paths(cluster *c, cluster_node *n, char *err, size_t errlen)
{
	unsigned paths = c->d->shards ? c->d->centrals : 1;
	for (unsigned j = 0; j < paths; j++) {
		char name[RELAY_NAME_MAX];
		if (c->d->shards)
			snprintf(name, sizeof name, "%s-central%u", n->name, j);
		else
			snprintf(name, sizeof name, "%s-central", n->name);
		n->central[j] = relay_add(c->relay, name, n->ns, CLUSTER_OPS_PORT + (int)j,
		                          c->centrals[j].ns, CLUSTER_OPS_PORT, NULL, err, errlen);
		if (!n->central[j])
			return ERR_IO;
		n->ncentral++;
	}
	return 0;
}

/* Region i's two instances: each a seed listener, and (isolated) a path
 * from each to the other's, CLUSTER_PEER_PORT in its own namespace. */
static int peer_paths(cluster *c, unsigned i, char *err, size_t errlen)
{
	for (int k = 0; k < 2; k++) {
		cluster_node *n = cluster_instance(c, i, (unsigned)k);
		if (!c->isolated) {
			n->seed_port = host_free_port();
			if (n->seed_port < 0) {
				snprintf(err, errlen, "no free port for %s's seed listener",
				         n->name);
				return ERR_IO;
			}
			continue;
		}
		n->seed_port = CLUSTER_SEED_PORT;
		const cluster_node *o = cluster_instance(c, i, (unsigned)(1 - k));
		char name[RELAY_NAME_MAX];
		snprintf(name, sizeof name, "%s-peer", n->name);
		n->peer = relay_add(c->relay, name, n->ns, CLUSTER_PEER_PORT, o->ns,
		                    CLUSTER_SEED_PORT, NULL, err, errlen);
		if (!n->peer)
			return ERR_IO;
	}
	return 0;
}

/* Names the node kindN (an edge's second instance kindN.standby)
 * unless given a name of its own; its id is kindN or that name. */
static void node_init(const char *dir, cluster_node *n, drill_node_kind kind, int index, int inst,
                      const char *own_name)
{
	char name[sizeof n->name];
	if (own_name)
		snprintf(n->id, sizeof n->id, "%s", own_name);
	else
		snprintf(n->id, sizeof n->id, "%s%d", kind == DRILL_EDGE ? "edge" : "central",
		         index);
	snprintf(name, sizeof name, "%s%s", n->id, inst ? ".standby" : "");
	n->kind = kind;
	n->index = index;
	n->inst = inst;
	memcpy(n->name, name, sizeof name);
	snprintf(n->label, sizeof n->label, "%s", name);
	n->disk_ns = -1;
	n->exit_status = -1;
	snprintf(n->data, sizeof n->data, "%s/%s", dir, name);
	snprintf(n->cfg, sizeof n->cfg, "%s/%s.ini", dir, name);
	snprintf(n->log, sizeof n->log, "%s/%s.log", dir, name);
}

int cluster_start(cluster *c, const drill *d, const char *bindir, const char *parent, bool isolated,
                  char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < DRILL_REGIONS_MAX; i++)
		c->edges[i].disk_ns = c->standbys[i].disk_ns = -1;
	for (size_t j = 0; j < DRILL_CENTRALS_MAX; j++)
		c->centrals[j].disk_ns = -1;
	c->single.disk_ns = -1;
	c->d = d;
	c->isolated = isolated;
	/* Absolute: a process that enters a mount namespace starts at its root. */
	if (!realpath(bindir, c->bindir)) {
		snprintf(err, errlen, "no binaries dir %s: %s", bindir, strerror(errno));
		return ERR_INVAL;
	}
	if (drill_moves_clocks(d)) {
		if (faketime_lib(c->faketime, sizeof c->faketime, err, errlen))
			return ERR_NOTFOUND;
		snprintf(c->waitfix, sizeof c->waitfix, "%s/sim-waitfix.so", c->bindir);
		if (access(c->waitfix, R_OK)) {
			snprintf(err, errlen, "a clock step needs %s (make all builds it)",
			         c->waitfix);
			return ERR_NOTFOUND;
		}
	}
	snprintf(c->dir, sizeof c->dir, "%s/sim-%s-XXXXXX", parent, d->name);
	if (!mkdtemp(c->dir)) {
		snprintf(err, errlen, "cannot make a run dir under %s: %s", parent,
		         strerror(errno));
		return ERR_IO;
	}
	char dir[sizeof c->dir];
	memcpy(dir, c->dir, sizeof dir);
	sim_broker_topic topics[6 + DRILL_REGIONS_MAX] = {
	    {"likes.batches", (int)d->partitions},
	    {"likes.snapshots", (int)d->partitions},
	    {"likes.deadletter", 1},
	    {"likes.changes", (int)d->partitions},
	    {"likes.milestones", (int)d->partitions},
	    {CLUSTER_CHANGELOG_TOPIC, (int)d->regions}};
	size_t ntopics = d->changelog ? 6 : 5;
	for (unsigned i = 0; d->me > 0 && i < d->regions; i++) {
		sim_broker_topic *t = &topics[ntopics++];
		snprintf(t->name, sizeof t->name, "likes.home.r%u", i);
		t->partitions = (int)d->partitions;
	}
	/* Its thread under SCHED_IDLE when the drill says broker_idle: no
	 * daemon waits for the embedded Kafka on the path of a request. */
	kproc_opts ko = {.brokers = d->kafka_real ? (int)d->kafka_nodes : 3,
	                 .topics = topics,
	                 .ntopics = ntopics,
	                 .idle = d->broker_idle != 0,
	                 .real = d->kafka_real != 0,
	                 .full_jit = d->kafka_full_jit != 0};
	/* Every cluster starts at once (a real one is a few JVMs' start-up),
	 * then each is waited for. */
	int rc = kproc_begin(&c->kafka, c->bindir, dir, "kafka", &ko, err, errlen);
	/* The nodes' relays run before the nodes do: the quorum forms
	 * through them. */
	if (!rc && brokerns_wanted(c) && !(c->brelay = relay_new("sim-brokers", err, errlen)))
		rc = ERR_IO;
	for (unsigned i = 0; !rc && d->regional_kafka && i < d->regions; i++)
		rc = regional_start(c, i, err, errlen);
	if (!rc)
		rc = kproc_ready(&c->kafka, err, errlen);
	for (unsigned i = 0; !rc && d->regional_kafka && i < d->regions; i++)
		rc = kproc_ready(&c->regional[i], err, errlen);
	if (rc)
		goto fail;
	if (isolated && (!(c->relay = relay_new("sim-relay", err, errlen)) ||
	                 !(c->crelay = relay_new("sim-clients", err, errlen)))) {
		rc = ERR_IO;
		goto fail;
	}
	for (unsigned j = 0; j < d->centrals; j++) {
		char parts[32], *owned = NULL;
		if (d->shards) {
			cluster_shard_text(d, drill_shard_of_central(d, j), parts, sizeof parts);
			owned = parts;
		}
		node_init(dir, &c->centrals[j], DRILL_CENTRAL, (int)j, 0, NULL);
		if ((rc = clock_setup(c, &c->centrals[j], err, errlen)) ||
		    (rc = node_network(c, &c->centrals[j], err, errlen)) ||
		    (rc = cluster_write_central_cfg(c, &c->centrals[j], owned, err, errlen)))
			goto fail;
	}
	for (unsigned i = 0; i < d->regions; i++) {
		for (unsigned k = 0; k < cluster_instances(c); k++) {
			cluster_node *n = cluster_instance(c, i, k);
			node_init(dir, n, DRILL_EDGE, (int)i, (int)k, NULL);
			if (d->standby) {
				char inst[16];
				cluster_instance_name(n, inst, sizeof inst);
				snprintf(n->label, sizeof n->label, "%s (%s)", n->name, inst);
			}
			if ((rc = clock_setup(c, n, err, errlen)) ||
			    (rc = node_network(c, n, err, errlen)) ||
			    (isolated && (rc = central_paths(c, n, err, errlen))) ||
			    (isolated && d->regional_kafka &&
			     (rc = regional_paths(c, n, err, errlen))))
				goto fail;
		}
		if (d->standby && (rc = peer_paths(c, i, err, errlen)))
			goto fail;
		for (unsigned k = 0; k < cluster_instances(c); k++) {
			cluster_node *n = cluster_instance(c, i, k);
			if ((rc = cluster_write_edge_cfg(c, n, err, errlen)))
				goto fail;
			if (disk_wanted(d, (int)i) && (rc = disk_setup(n, err, errlen)))
				goto fail;
		}
	}
	for (unsigned j = 0; j < d->centrals; j++)
		if ((rc = cluster_node_start(c, &c->centrals[j], err, errlen)))
			goto fail;
	for (unsigned i = 0; i < d->regions; i++)
		for (unsigned k = 0; k < cluster_instances(c); k++)
			if ((rc = cluster_node_start(c, cluster_instance(c, i, k), err, errlen)))
				goto fail;
	log_info("cluster up", "dir=%s edges=%u instances=%u centrals=%u isolated=%d", c->dir,
	         d->regions, cluster_instances(c), d->centrals, isolated);
	return 0;
fail:
	cluster_stop(c, true);
	return rc;
}

cluster_node *cluster_owner(cluster *c, unsigned p)
{
	const drill *d = c->d;
	unsigned n = drill_shard_count(d);
	for (unsigned j = drill_shard_of_partition(d, p); j < d->centrals; j += n)
		if (cluster_node_alive(&c->centrals[j]))
			return &c->centrals[j];
	return NULL;
}

int cluster_single_start(cluster *c, char *err, size_t errlen)
{
	cluster_node *n = &c->single;
	if (c->single_made) {
		snprintf(err, errlen, "%s was made already", n->name);
		return ERR_INVAL;
	}
	c->single_made = true;
	char dir[sizeof c->dir];
	memcpy(dir, c->dir, sizeof dir);
	node_init(dir, n, DRILL_CENTRAL, (int)c->d->centrals, 0, CLUSTER_SINGLE_NAME);
	int rc;
	if ((rc = node_network(c, n, err, errlen)) ||
	    (rc = cluster_write_central_cfg(c, n, "all", err, errlen)))
		return rc;
	return cluster_node_start(c, n, err, errlen);
}

void cluster_stop(cluster *c, bool keep)
{
	if (!c->d)
		return;
	for (unsigned i = 0; i < c->d->regions; i++)
		for (unsigned k = 0; k < cluster_instances(c); k++)
			node_stop(cluster_instance(c, i, k));
	for (unsigned j = 0; j < c->d->centrals; j++)
		node_stop(&c->centrals[j]);
	if (c->single_made)
		node_stop(&c->single);
	for (unsigned i = 0; i < c->d->regions; i++)
		kproc_stop(&c->regional[i]);
	relay_free(c->relay);
	c->relay = NULL;
	relay_free(c->crelay);
	c->crelay = NULL;
	relay_free(c->brelay);
	c->brelay = NULL;
	for (unsigned i = 0; i < DRILL_REGIONS_MAX; i++)
		brokerns_free(&c->bns[i]);
	for (unsigned i = 0; i < c->d->regions; i++) {
		for (unsigned k = 0; k < CLUSTER_INSTANCES_MAX; k++) {
			cluster_node *n = k ? &c->standbys[i] : &c->edges[i];
			netns_free(n->ns);
			n->ns = NULL;
			disk_release(n);
		}
	}
	for (unsigned j = 0; j < c->d->centrals; j++) {
		netns_free(c->centrals[j].ns);
		c->centrals[j].ns = NULL;
	}
	netns_free(c->single.ns);
	c->single.ns = NULL;
	c->single_made = false;
	kproc_stop(&c->kafka);
	if (!keep && c->dir[0])
		(void)host_rm_tree(c->dir);
	else if (c->dir[0])
		log_info("run dir kept", "dir=%s", c->dir);
	c->d = NULL;
}

int cluster_node_get(const cluster_node *n, const char *path, const char *token,
                     unsigned timeout_ms, hclient_answer *a)
{
	hclient_req r = {.host = "127.0.0.1",
	                 .port = n->port,
	                 .method = "GET",
	                 .path = path,
	                 .token = token,
	                 .timeout_ms = timeout_ms,
	                 .total_ms = timeout_ms,
	                 .max_body = CLUSTER_BODY_MAX};
	char err[256];
	int rc = hclient_do(&r, a, err, sizeof err);
	if (rc)
		log_debug("node request failed", "node=%s port=%d path=%s err=%s reason=\"%s\"",
		          n->name, n->port, path, err_str(rc), err);
	return rc;
}
