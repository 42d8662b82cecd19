/* kafka.c - real Kafka nodes on this machine (kafka.h): their files,
 * their JVMs, the topics, the faults. Owns the nodes' processes and an
 * admin client (a producer handle that never produces) used for
 * metadata and topic creation; what the running cluster says of its
 * ISRs, leaders and controller is kmeta.c's. One thread.
 */
#include "sim/kafka/kafka.h"
#include "sim/kafka/kafka_int.h"
#include "sim/kafka/kprops.h"
#include "sim/proc/child.h"
#include "sim/proc/host.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bus.h"
#include "clock.h"
#include "log.h"
#include "xmem.h"

#define START_MS_DEFAULT 90000
#define FORMAT_MS 180000 /* three JVMs at once on a busy two-core machine took over 60 s */
#define STOP_GRACE_MS 3000
#define RESTART_GRACE_MS 10000
#define FORMAT_HEAP "-Xmx128m"

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* A Kafka Uuid as its tools print one: 16 random bytes, URL-safe base64
 * without padding (22 characters), not starting with '-' (Kafka's own
 * random ids avoid that, as a command line would take it for an
 * option). */
static int cluster_id(char *out, size_t cap)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	if (cap < 23)
		return ERR_INVAL;
	for (;;) {
		unsigned char r[18] = {0};
		if (getrandom(r, 16, 0) != 16)
			return ERR_IO;
		size_t k = 0;
		for (size_t i = 0; i < 18 && k < 22; i += 3) {
			unsigned v = (unsigned)r[i] << 16 | (unsigned)r[i + 1] << 8 | r[i + 2];
			for (int s = 18; s >= 0 && k < 22; s -= 6)
				out[k++] = b64[(v >> s) & 63];
		}
		out[22] = '\0';
		if (out[0] != '-')
			return 0;
	}
}

/* The java binary: JAVA_HOME's, else the first on PATH. */
static int find_java(const char *given, char *out, size_t cap)
{
	if (given) {
		snprintf(out, cap, "%s", given);
		return access(out, X_OK) == 0 ? 0 : ERR_NOTFOUND;
	}
	const char *home = getenv("JAVA_HOME");
	if (home && *home) {
		snprintf(out, cap, "%s/bin/java", home);
		if (access(out, X_OK) == 0)
			return 0;
	}
	const char *path = getenv("PATH");
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin:/bin");
	char *save = NULL;
	for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(out, cap, "%s/java", d);
		if (access(out, X_OK) == 0)
			return 0;
	}
	return ERR_NOTFOUND;
}

int sim_kafka_find_files(char *jars, char *deploy, size_t cap, char *err, size_t errlen)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		snprintf(err, errlen, "cannot read /proc/self/exe: %s", strerror(errno));
		return ERR_IO;
	}
	exe[n] = '\0';
	/* ROOT/build/sim -> ROOT */
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(exe, '/');
		if (!slash || slash == exe) {
			snprintf(err, errlen, "no tree above %s", exe);
			return ERR_NOTFOUND;
		}
		*slash = '\0';
	}
	const char *ej = getenv("LIKES_KAFKA_JARS"), *ed = getenv("LIKES_DEPLOY_DIR");
	if (ej && *ej)
		snprintf(jars, cap, "%s", ej);
	else
		snprintf(jars, cap, "%s/build/kafka/libs", exe);
	if (ed && *ed)
		snprintf(deploy, cap, "%s", ed);
	else
		snprintf(deploy, cap, "%s/configs/deploy", exe);
	char probe[PATH_MAX + 32];
	snprintf(probe, sizeof probe, "%s/.complete", jars);
	if (access(probe, R_OK) != 0) {
		snprintf(err, errlen,
		         "no Kafka jars in %s (`make deps` fetches them with Maven, "
		         "sim/kafka/pom.xml)",
		         jars);
		return ERR_NOTFOUND;
	}
	snprintf(probe, sizeof probe, "%s/topics.conf", deploy);
	if (access(probe, R_OK) != 0) {
		snprintf(err, errlen, "no %s", probe);
		return ERR_NOTFOUND;
	}
	return 0;
}

/* --- processes -------------------------------------------------------------- */

/* Node i's two ports differ from each other and from those of the
 * nodes before it. */
static bool ports_apart(const sim_kafka *k, int i)
{
	const knode *nd = &k->nodes[i];
	bool ok = nd->port > 0 && nd->cport > 0 && nd->port != nd->cport;
	for (int j = 0; j < i && ok; j++)
		ok = k->nodes[j].port != nd->port && k->nodes[j].port != nd->cport &&
		     k->nodes[j].cport != nd->port && k->nodes[j].cport != nd->cport;
	return ok;
}

/* The caller's ports, when it gave them: all different and in range. */
static int given_ports(sim_kafka *k, const sim_kafka_opts *o, char *err, size_t errlen)
{
	for (int i = 0; i < k->n; i++) {
		knode *nd = &k->nodes[i];
		nd->id = i + 1;
		nd->port = o->ports[i];
		nd->cport = o->cports[i];
		if (!ports_apart(k, i) || nd->port > 65535 || nd->cport > 65535) {
			snprintf(err, errlen,
			         "node %d's ports %d and %d: out of range or given twice", nd->id,
			         nd->port, nd->cport);
			return ERR_INVAL;
		}
	}
	return 0;
}

int sim_kafka_pick_ports(int n, int *ports, int *cports, char *err, size_t errlen)
{
	int all[2 * SIM_KAFKA_NODES_MAX];
	if (n < 1 || n > SIM_KAFKA_NODES_MAX || host_free_ports(all, 2 * n)) {
		snprintf(err, errlen, "no %d distinct free ports", 2 * n);
		return ERR_IO;
	}
	for (int i = 0; i < n; i++) {
		ports[i] = all[2 * i];
		cports[i] = all[2 * i + 1];
	}
	return 0;
}

void sim_kafka_ports_arg(int n, const int *ports, const int *cports, char *out, size_t outlen)
{
	size_t at = 0;
	if (outlen)
		out[0] = 0;
	for (int i = 0; i < n && at < outlen; i++)
		at += (size_t)snprintf(out + at, outlen - at, "%s%d:%d", i ? "," : "", ports[i],
		                       cports[i]);
}

/* Every node's two ports, when none were given (a drill picks them
 * itself and gives them: sim/drill/kproc.c). */
static int pick_ports(sim_kafka *k, char *err, size_t errlen)
{
	int ports[SIM_KAFKA_NODES_MAX], cports[SIM_KAFKA_NODES_MAX];
	int rc = sim_kafka_pick_ports(k->n, ports, cports, err, errlen);
	if (rc)
		return rc;
	for (int i = 0; i < k->n; i++) {
		k->nodes[i].id = i + 1;
		k->nodes[i].port = ports[i];
		k->nodes[i].cport = cports[i];
	}
	return 0;
}

/* In a node's child, before the exec: into the node's namespace, when
 * it has one (async-signal-safe calls only). */
static int enter_netns(const void *ctx)
{
	const char *path = ctx;
	if (!path || !path[0])
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 126;
	int rc = setns(fd, CLONE_NEWNET);
	close(fd);
	return rc < 0 ? 126 : 0;
}

pid_t kafka_spawn_java(const sim_kafka *k, const char *heap, const char *log,
                       const char *const *args, const char *netns_path)
{
	char heap_min[32];
	snprintf(heap_min, sizeof heap_min, "-Xms%s", heap + 4);
	char l4j[PATH_MAX + 32];
	snprintf(l4j, sizeof l4j, "-Dlog4j2.configurationFile=%s", k->log4j);
	/* The JVM unpacks native libraries (lz4-java's) into java.io.tmpdir
	 * and deletes them only on a clean exit: a killed node would leave
	 * one in /tmp each time. Under the cluster's own dir they go with it. */
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "-Djava.io.tmpdir=%s", k->tmp);
	const char *argv[32];
	size_t n = 0;
	argv[n++] = k->java;
	argv[n++] = heap;
	argv[n++] = heap_min;
	/* Lean for a small machine: one GC thread; the quick JIT only, whose
	 * start-up and idle cost is a fraction of the optimising one's (a
	 * 3-node cluster at rest: 10% of a core against 13%, 8% with the
	 * metadata idle interval of kprops.c; a drill's twelve nodes start in
	 * half the time) unless full_jit; no
	 * perf-data file in /tmp; and out at once on an OOM. */
	argv[n++] = "-XX:+UseSerialGC";
	argv[n++] = k->full_jit ? "-XX:CICompilerCount=2" : "-XX:TieredStopAtLevel=1";
	argv[n++] = "-XX:-UsePerfData";
	argv[n++] = "-XX:+ExitOnOutOfMemoryError";
	argv[n++] = "-Djava.awt.headless=true";
	argv[n++] = l4j;
	argv[n++] = tmp;
	/* LIKES_KAFKA_JVM_OPTS: more JVM options, space-separated (a
	 * profiler's agent, another GC). */
	char extra[1024];
	const char *env = getenv("LIKES_KAFKA_JVM_OPTS");
	snprintf(extra, sizeof extra, "%s", env ? env : "");
	char *save = NULL;
	for (char *t = strtok_r(extra, " ", &save); t && n < 20; t = strtok_r(NULL, " ", &save))
		argv[n++] = t;
	argv[n++] = "-cp";
	argv[n++] = k->classpath;
	for (size_t i = 0; args[i] && n < sizeof argv / sizeof argv[0] - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return child_spawn(log, argv, netns_path ? enter_netns : NULL, netns_path);
}

/* Formats node storage (all of it, or with ignore_formatted only what
 * is empty), as kafka-storage.sh format does. Started, not waited for:
 * its pid, or -1. */
static pid_t format_start(const sim_kafka *k, const knode *nd, bool ignore_formatted)
{
	const char *args[] = {"kafka.tools.StorageTool",
	                      "format",
	                      "-t",
	                      k->cluster_id,
	                      "-c",
	                      nd->props,
	                      ignore_formatted ? "--ignore-formatted" : NULL,
	                      NULL};
	return kafka_spawn_java(k, FORMAT_HEAP, nd->log, args, NULL);
}

static int format_wait(const sim_kafka *k, pid_t pid, const knode *nd, char *err, size_t errlen)
{
	int st = pid > 0 ? child_wait(pid, FORMAT_MS, k->interrupted) : -1;
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(err, errlen, "formatting node %d's storage failed (status %d; see %s)",
		         nd->id, st, nd->log);
		return ERR_IO;
	}
	return 0;
}

static int node_spawn(sim_kafka *k, knode *nd, char *err, size_t errlen)
{
	char heap[32];
	snprintf(heap, sizeof heap, "-Xmx%dm", k->heap_mb);
	const char *args[] = {"kafka.Kafka", nd->props, NULL};
	struct stat st;
	nd->log_mark = stat(nd->log, &st) == 0 ? st.st_size : 0;
	nd->up = false;
	nd->pid = kafka_spawn_java(k, heap, nd->log, args, nd->netns[0] ? nd->netns : NULL);
	nd->paused = false;
	if (nd->pid < 0) {
		nd->pid = 0;
		snprintf(err, errlen, "cannot start node %d: %s", nd->id, strerror(errno));
		return ERR_IO;
	}
	log_info("kafka node started", "node=%d pid=%d port=%d netns=%s", nd->id, (int)nd->pid,
	         nd->port, nd->netns[0] ? nd->netns : "own");
	return 0;
}

static void node_kill(knode *nd)
{
	if (nd->pid <= 0)
		return;
	kill(nd->pid, SIGKILL);
	while (waitpid(nd->pid, NULL, 0) < 0 && errno == EINTR)
		;
	log_info("kafka node killed", "node=%d pid=%d", nd->id, (int)nd->pid);
	nd->pid = 0;
	nd->paused = false;
}

/* SIGTERM (a paused node resumed first), SIGKILL after grace_ms. */
static void node_term(knode *nd, unsigned grace_ms)
{
	if (nd->pid <= 0)
		return;
	if (nd->paused)
		kill(nd->pid, SIGCONT);
	child_end(nd->pid, grace_ms);
	nd->pid = 0;
	nd->paused = false;
}

/* --- files ------------------------------------------------------------------ */

static int write_text(const char *path, const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ERR_IO;
	}
	return 0;
}

static int node_files(sim_kafka *k, knode *nd, const sim_kafka_opts *o, const char *deploy_props,
                      char *err, size_t errlen)
{
	snprintf(nd->dir, sizeof nd->dir, "%s/node%d", k->dir, nd->id);
	snprintf(nd->props, sizeof nd->props, "%s/server.properties", nd->dir);
	snprintf(nd->data, sizeof nd->data, "%s/data", nd->dir);
	snprintf(nd->meta, sizeof nd->meta, "%s/meta", nd->dir);
	snprintf(nd->log, sizeof nd->log, "%s/out.log", nd->dir);
	if (mkdir_p(nd->dir) < 0) {
		snprintf(err, errlen, "%s: %s", nd->dir, strerror(errno));
		return ERR_IO;
	}
	kprops_node node = {.id = nd->id,
	                    .nodes = k->n,
	                    .port = nd->port,
	                    .data = nd->data,
	                    .meta = nd->meta,
	                    .extra = o->props};
	for (int i = 0; i < k->n; i++)
		node.cports[i] = k->nodes[i].cport;
	sbuf text;
	sbuf_init(&text);
	kprops_server(&node, deploy_props, &text);
	int rc = write_text(nd->props, (text.p ? text.p : ""), err, errlen);
	sbuf_free(&text);
	return rc;
}

/* --- the admin client ---------------------------------------------------------- */

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	/* Nodes starting and stopping refuse connections all the time;
	 * that is what we asked for. */
	log_debug("kafka admin client", "level=%d fac=%s detail=\"%s\"", level, fac ? fac : "",
	          buf ? buf : "");
}

static rd_kafka_t *admin_new(const sim_kafka *k, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char e[256];
	if (rd_kafka_conf_set(conf, "bootstrap.servers", k->bootstraps, e, sizeof e) ||
	    rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", "500", e, sizeof e) ||
	    rd_kafka_conf_set(conf, "topic.metadata.refresh.interval.ms", "1000", e, sizeof e)) {
		snprintf(err, errlen, "admin client: %s", e);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_log_cb(conf, quiet_log);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, e, sizeof e);
	if (!rk) {
		snprintf(err, errlen, "admin client: %s", e);
		return NULL;
	}
	return rk;
}

/* Brokers the cluster lists now, asked within ms; -1 when none answered. */
static int brokers_listed(rd_kafka_t *rk, unsigned ms)
{
	const struct rd_kafka_metadata *md = NULL;
	if (rd_kafka_metadata(rk, 0, NULL, &md, (int)ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	int n = md->broker_cnt;
	rd_kafka_metadata_destroy(md);
	return n;
}

static int wait_brokers(sim_kafka *k, uint64_t end, char *err, size_t errlen)
{
	int seen = -1;
	while (clock_mono_ms() < end) {
		if (k->interrupted && k->interrupted()) {
			snprintf(err, errlen, "interrupted while the nodes started");
			return ERR_AGAIN;
		}
		for (int i = 0; i < k->n; i++) {
			knode *nd = &k->nodes[i];
			int st;
			if (nd->pid > 0 && waitpid(nd->pid, &st, WNOHANG) == nd->pid) {
				nd->pid = 0;
				snprintf(err, errlen,
				         "node %d exited at start-up (status %d; see %s)", nd->id,
				         st, nd->log);
				return ERR_IO;
			}
		}
		seen = brokers_listed(k->admin, META_MS);
		if (seen == k->n)
			return 0;
		usleep(100 * 1000);
	}
	snprintf(err, errlen, "the cluster lists %d of %d brokers; see %s/node*/out.log", seen,
	         k->n, k->dir);
	return ERR_TIMEOUT;
}

/* One partition's leader answers its log's ends before end (mono ms);
 * the topic unknown to this client yet is asked again too. */
static rd_kafka_resp_err_t leader_answers(sim_kafka *k, const char *topic, int p, uint64_t end)
{
	for (;;) {
		uint64_t now = clock_mono_ms();
		int left = now < end ? (int)(end - now) : 1;
		int64_t lo, hi;
		rd_kafka_resp_err_t e = bus_watermarks(k->admin, topic, p, left, &lo, &hi);
		bool unknown = e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
		               e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
		               e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
		if (!unknown || clock_mono_ms() >= end)
			return e;
		usleep(50 * 1000);
	}
}

/* Waits until every partition of ts[0..n) answers its log's ends from
 * its leader: CreateTopics returns once the controller has the topic,
 * and a leader that has not loaded its partition yet answers "not
 * leader" for a moment, which failed an edge's start in the bench that
 * came right after (its changelog allows timeout_ms, 1 s, for it). */
static int leaders_answer(sim_kafka *k, const sim_kafka_topic *ts, size_t n, unsigned timeout_ms,
                          char *err, size_t errlen)
{
	uint64_t end = clock_mono_ms() + timeout_ms;
	for (size_t i = 0; i < n; i++)
		for (int p = 0; p < ts[i].partitions; p++) {
			rd_kafka_resp_err_t e = leader_answers(k, ts[i].name, p, end);
			if (e) {
				snprintf(err, errlen,
				         "topic %s[%d]: its leader did not answer within %u ms: %s",
				         ts[i].name, p, timeout_ms, rd_kafka_err2str(e));
				return ERR_TIMEOUT;
			}
		}
	return 0;
}

/* Creates ts[0..n), partition p's replicas on nodes p % N + 1 and the
 * next ones, so that its first leader is known; each with the deploy
 * table's configs (of its own name, or of t->as), then extra's. */
int sim_kafka_create(sim_kafka *k, const sim_kafka_topic *ts, size_t n, const char *const *extra,
                     unsigned timeout_ms, char *err, size_t errlen)
{
	if (n == 0)
		return 0;
	uint64_t t0 = clock_mono_ms();
	rd_kafka_NewTopic_t **nts = xcalloc(n, sizeof *nts);
	int rc = 0;
	char e[256];
	for (size_t i = 0; i < n && !rc; i++) {
		const sim_kafka_topic *t = &ts[i];
		const ktopic *dt = ktopics_find(k->deploy, t->as[0] ? t->as : t->name);
		int rf = t->nreplicas > 0     ? t->nreplicas
		         : t->replication > 0 ? t->replication
		         : dt                 ? dt->replication
		                              : 3;
		if (rf > k->n)
			rf = k->n;
		if (t->partitions < 1) {
			snprintf(err, errlen, "topic %s: %d partitions", t->name, t->partitions);
			rc = ERR_INVAL;
			break;
		}
		nts[i] = rd_kafka_NewTopic_new(t->name, t->partitions, -1, e, sizeof e);
		if (!nts[i]) {
			snprintf(err, errlen, "topic %s: %s", t->name, e);
			rc = ERR_KAFKA;
			break;
		}
		for (int p = 0; p < t->partitions && !rc; p++) {
			int32_t reps[SIM_KAFKA_NODES_MAX];
			for (int r = 0; r < rf; r++)
				reps[r] = t->nreplicas ? t->replicas[r] : (p + r) % k->n + 1;
			if (rd_kafka_NewTopic_set_replica_assignment(nts[i], p, reps, (size_t)rf, e,
			                                             sizeof e)) {
				snprintf(err, errlen, "topic %s: %s", t->name, e);
				rc = ERR_KAFKA;
			}
		}
		for (size_t c = 0; dt && c < dt->nconfigs && !rc; c++) {
			const char *val = dt->configs[c].value;
			char capped[16];
			/* A cluster smaller than the deploy's: at most rf in sync. */
			if (strcmp(dt->configs[c].key, "min.insync.replicas") == 0 &&
			    atoi(val) > rf) {
				snprintf(capped, sizeof capped, "%d", rf);
				val = capped;
			}
			if (rd_kafka_NewTopic_set_config(nts[i], dt->configs[c].key, val)) {
				snprintf(err, errlen, "topic %s: config %s", t->name,
				         dt->configs[c].key);
				rc = ERR_KAFKA;
			}
		}
		for (size_t c = 0; extra && extra[c] && !rc; c++) {
			const char *eq = strchr(extra[c], '=');
			char key[KTOPIC_CONFIG_MAX];
			if (!eq || eq == extra[c] || (size_t)(eq - extra[c]) >= sizeof key) {
				snprintf(err, errlen, "bad topic config '%s'", extra[c]);
				rc = ERR_INVAL;
				break;
			}
			snprintf(key, sizeof key, "%.*s", (int)(eq - extra[c]), extra[c]);
			if (rd_kafka_NewTopic_set_config(nts[i], key, eq + 1)) {
				snprintf(err, errlen, "topic %s: config %s", t->name, key);
				rc = ERR_KAFKA;
			}
		}
	}
	rd_kafka_queue_t *q = rd_kafka_queue_new(k->admin);
	if (!rc) {
		rd_kafka_AdminOptions_t *ao =
		    rd_kafka_AdminOptions_new(k->admin, RD_KAFKA_ADMIN_OP_CREATETOPICS);
		int ms = timeout_ms ? (int)timeout_ms : 30000;
		rd_kafka_AdminOptions_set_request_timeout(ao, ms, e, sizeof e);
		rd_kafka_AdminOptions_set_operation_timeout(ao, ms, e, sizeof e);
		rd_kafka_CreateTopics(k->admin, nts, n, ao, q);
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, ms + 5000);
		const rd_kafka_CreateTopics_result_t *res =
		    ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
		if (!res) {
			snprintf(err, errlen, "no answer to CreateTopics within %d ms", ms);
			rc = ERR_TIMEOUT;
		} else if (rd_kafka_event_error(ev)) {
			snprintf(err, errlen, "CreateTopics: %s", rd_kafka_event_error_string(ev));
			rc = ERR_KAFKA;
		} else {
			size_t cnt;
			const rd_kafka_topic_result_t **tr =
			    rd_kafka_CreateTopics_result_topics(res, &cnt);
			for (size_t i = 0; i < cnt && !rc; i++) {
				if (rd_kafka_topic_result_error(tr[i])) {
					snprintf(err, errlen, "topic %s: %s",
					         rd_kafka_topic_result_name(tr[i]),
					         rd_kafka_topic_result_error_string(tr[i]));
					rc = ERR_KAFKA;
				}
			}
		}
		if (ev)
			rd_kafka_event_destroy(ev);
		rd_kafka_AdminOptions_destroy(ao);
	}
	rd_kafka_queue_destroy(q);
	for (size_t i = 0; i < n; i++)
		if (nts[i])
			rd_kafka_NewTopic_destroy(nts[i]);
	free(nts);
	if (!rc) {
		/* What is left of the caller's timeout, a second at least. */
		uint64_t budget = timeout_ms ? timeout_ms : 30000, spent = clock_mono_ms() - t0;
		rc = leaders_answer(k, ts, n,
		                    spent + 1000 < budget ? (unsigned)(budget - spent) : 1000, err,
		                    errlen);
	}
	if (rc)
		return rc;
	/* Kept, for sim_kafka_wait_isr. */
	k->topics = xrealloc(k->topics, (k->ntopics + n) * sizeof *k->topics);
	memcpy(k->topics + k->ntopics, ts, n * sizeof *ts);
	k->ntopics += n;
	for (size_t i = 0; i < n; i++)
		log_info("kafka topic created", "topic=%s partitions=%d", ts[i].name,
		         ts[i].partitions);
	return 0;
}

/* --- the cluster ------------------------------------------------------------------ */

static int read_file(const char *path, sbuf *out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ERR_IO;
	}
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		sbuf_add(out, buf, n);
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		snprintf(err, errlen, "%s: read error", path);
		return ERR_IO;
	}
	return 0;
}

sim_kafka *sim_kafka_start(const sim_kafka_opts *o, char *err, size_t errlen)
{
	if (o->nodes < 1 || o->nodes > SIM_KAFKA_NODES_MAX || !o->dir || !o->jars || !o->deploy ||
	    o->ntopics > SIM_KAFKA_TOPICS_MAX || strlen(o->dir) > PATH_MAX - 200) {
		snprintf(err, errlen, "bad Kafka cluster: %d nodes (1..%d), %zu topics", o->nodes,
		         SIM_KAFKA_NODES_MAX, o->ntopics);
		return NULL;
	}
	uint64_t end = clock_mono_ms() + (o->start_ms ? o->start_ms : START_MS_DEFAULT);
	sim_kafka *k = xcalloc(1, sizeof *k);
	k->n = o->nodes;
	k->heap_mb = o->heap_mb > 0 ? o->heap_mb : SIM_KAFKA_HEAP_MB;
	k->full_jit = o->full_jit;
	k->interrupted = o->interrupted;
	snprintf(k->dir, sizeof k->dir, "%s", o->dir);
	snprintf(k->classpath, sizeof k->classpath, "%s/*", o->jars);
	sbuf deploy_props;
	sbuf_init(&deploy_props);
	k->deploy = xcalloc(1, sizeof *k->deploy);
	char path[PATH_MAX];
	int rc = 0;
	if (find_java(o->java, k->java, sizeof k->java)) {
		snprintf(err, errlen, "no java (JAVA_HOME, PATH); `make deps` installs one");
		rc = ERR_NOTFOUND;
		goto fail;
	}
	snprintf(path, sizeof path, "%s/kafka-broker.properties", o->deploy);
	if ((rc = read_file(path, &deploy_props, err, errlen)))
		goto fail;
	snprintf(path, sizeof path, "%s/topics.conf", o->deploy);
	if ((rc = ktopics_load(path, k->deploy, err, errlen)))
		goto fail;
	if (mkdir_p(k->dir) < 0) {
		snprintf(err, errlen, "%s: %s", k->dir, strerror(errno));
		rc = ERR_IO;
		goto fail;
	}
	if ((rc = cluster_id(k->cluster_id, sizeof k->cluster_id))) {
		snprintf(err, errlen, "no random bytes for the cluster id");
		goto fail;
	}
	snprintf(k->tmp, sizeof k->tmp, "%s/tmp", k->dir);
	if (mkdir_p(k->tmp) < 0) {
		snprintf(err, errlen, "%s: %s", k->tmp, strerror(errno));
		rc = ERR_IO;
		goto fail;
	}
	snprintf(k->log4j, sizeof k->log4j, "%s/log4j2.properties", k->dir);
	{
		sbuf l;
		sbuf_init(&l);
		kprops_log4j(&l);
		rc = write_text(k->log4j, (l.p ? l.p : ""), err, errlen);
		sbuf_free(&l);
		if (rc)
			goto fail;
	}
	if ((rc = o->ports[0] ? given_ports(k, o, err, errlen) : pick_ports(k, err, errlen)))
		goto fail;
	for (int i = 0; o->netns[0] && i < k->n; i++) {
		if (!o->netns[i] || strlen(o->netns[i]) >= sizeof k->nodes[i].netns) {
			snprintf(err, errlen, "node %d has no network namespace of its own", i + 1);
			rc = ERR_INVAL;
			goto fail;
		}
		snprintf(k->nodes[i].netns, sizeof k->nodes[i].netns, "%s", o->netns[i]);
	}
	size_t bl = 0;
	for (int i = 0; i < k->n; i++) {
		knode *nd = &k->nodes[i];
		bl += (size_t)snprintf(k->bootstraps + bl, sizeof k->bootstraps - bl,
		                       "%s127.0.0.1:%d", i ? "," : "", nd->port);
	}
	for (int i = 0; i < k->n; i++)
		if ((rc = node_files(k, &k->nodes[i], o, (deploy_props.p ? deploy_props.p : ""),
		                     err, errlen)))
			goto fail;
	/* The formats run side by side: each is a JVM start of a second. */
	pid_t fmt[SIM_KAFKA_NODES_MAX];
	for (int i = 0; i < k->n; i++)
		fmt[i] = format_start(k, &k->nodes[i], false);
	for (int i = 0; i < k->n; i++) {
		int frc = format_wait(k, fmt[i], &k->nodes[i], err, errlen);
		if (frc && !rc)
			rc = frc;
	}
	if (rc)
		goto fail;
	for (int i = 0; i < k->n; i++)
		if ((rc = node_spawn(k, &k->nodes[i], err, errlen)))
			goto fail;
	if (!(k->admin = admin_new(k, err, errlen))) {
		rc = ERR_KAFKA;
		goto fail;
	}
	if ((rc = wait_brokers(k, end, err, errlen)))
		goto fail;
	uint64_t now = clock_mono_ms();
	if ((rc = sim_kafka_create(k, o->topics, o->ntopics, o->topic_configs,
	                           end > now ? (unsigned)(end - now) : 1000, err, errlen)))
		goto fail;
	now = clock_mono_ms();
	if ((rc = sim_kafka_wait_isr(k, end > now ? (unsigned)(end - now) : 1000, false, err,
	                             errlen)))
		goto fail;
	log_info("kafka cluster up", "nodes=%d bootstraps=%s topics=%zu dir=%s", k->n,
	         k->bootstraps, k->ntopics, k->dir);
	sbuf_free(&deploy_props);
	return k;
fail:
	if (rc == ERR_AGAIN)
		log_info("kafka cluster start given up", "why=\"%s\" dir=%s", err, k->dir);
	else
		log_error("kafka cluster did not start", "err=\"%s\" dir=%s", err, k->dir);
	sbuf_free(&deploy_props);
	sim_kafka_stop(k);
	return NULL;
}

void sim_kafka_stop(sim_kafka *k)
{
	if (!k)
		return;
	if (k->admin)
		rd_kafka_destroy(k->admin);
	/* All at once: each stop waits on the others' controllers. */
	for (int i = 0; i < k->n; i++) {
		knode *nd = &k->nodes[i];
		if (nd->pid <= 0)
			continue;
		if (nd->paused)
			kill(nd->pid, SIGCONT);
		kill(nd->pid, SIGTERM);
	}
	for (int i = 0; i < k->n; i++)
		node_term(&k->nodes[i], STOP_GRACE_MS);
	free(k->topics);
	free(k->deploy);
	free(k);
}

const char *sim_kafka_bootstraps(const sim_kafka *k)
{
	return k->bootstraps;
}

int sim_kafka_nodes(const sim_kafka *k)
{
	return k->n;
}

pid_t sim_kafka_pid(const sim_kafka *k, int id)
{
	return id >= 1 && id <= k->n ? k->nodes[id - 1].pid : 0;
}

void sim_kafka_reap(sim_kafka *k)
{
	for (int i = 0; i < k->n; i++) {
		knode *nd = &k->nodes[i];
		int st;
		if (nd->pid > 0 && waitpid(nd->pid, &st, WNOHANG) == nd->pid) {
			log_error("kafka node exited on its own", "node=%d pid=%d status=%d log=%s",
			          nd->id, (int)nd->pid, st, nd->log);
			nd->pid = 0;
			nd->paused = false;
		}
	}
}

/* Spawns the node's JVM and returns: it joins the cluster some seconds
 * later (sim_kafka_wait_isr waits for that). A step of a drill must not
 * hold the drill's timeline for a JVM's start-up. */
static int node_start(sim_kafka *k, knode *nd, char *err, size_t errlen)
{
	return node_spawn(k, nd, err, errlen);
}

int sim_kafka_fault_node(sim_kafka *k, int id, sim_kafka_fault f, char *err, size_t errlen)
{
	if (id < 1 || id > k->n) {
		snprintf(err, errlen, "no node %d (1..%d)", id, k->n);
		return ERR_INVAL;
	}
	knode *nd = &k->nodes[id - 1];
	sim_kafka_reap(k);
	bool running = nd->pid > 0;
	switch (f) {
	case SIM_KAFKA_KILL:
		if (!running) {
			snprintf(err, errlen, "node %d is not running", id);
			return ERR_INVAL;
		}
		node_kill(nd);
		return 0;
	case SIM_KAFKA_PAUSE:
	case SIM_KAFKA_RESUME: {
		bool pause = f == SIM_KAFKA_PAUSE;
		if (!running || nd->paused == pause) {
			snprintf(err, errlen, "node %d is %s", id,
			         !running ? "not running"
			         : pause  ? "paused already"
			                  : "not paused");
			return ERR_INVAL;
		}
		if (kill(nd->pid, pause ? SIGSTOP : SIGCONT) < 0) {
			snprintf(err, errlen, "node %d: %s", id, strerror(errno));
			return ERR_IO;
		}
		nd->paused = pause;
		log_info(pause ? "kafka node paused" : "kafka node resumed", "node=%d pid=%d", id,
		         (int)nd->pid);
		return 0;
	}
	case SIM_KAFKA_START:
		if (running) {
			snprintf(err, errlen, "node %d is running", id);
			return ERR_INVAL;
		}
		return node_start(k, nd, err, errlen);
	case SIM_KAFKA_RESTART:
		node_term(nd, RESTART_GRACE_MS);
		return node_start(k, nd, err, errlen);
	case SIM_KAFKA_WIPE: {
		node_kill(nd);
		if (host_rm_tree(nd->data) < 0) {
			snprintf(err, errlen, "deleting %s: %s", nd->data, strerror(errno));
			return ERR_IO;
		}
		log_info("kafka node wiped", "node=%d data=%s", id, nd->data);
		int rc = format_wait(k, format_start(k, nd, true), nd, err, errlen);
		return rc ? rc : node_start(k, nd, err, errlen);
	}
	}
	snprintf(err, errlen, "unknown fault %d", (int)f);
	return ERR_INVAL;
}
