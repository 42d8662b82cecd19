/* broker.c - the embedded Kafka: librdkafka's mock cluster with our topics.
 *
 * A mock cluster must live inside an rd_kafka_t. We create a bare producer
 * handle that never produces (no bootstrap.servers) and hang the cluster on
 * it with rd_kafka_mock_cluster_new(), rather than setting
 * test.mock.num.brokers on a client: that way the cluster outlives no
 * client of ours, its broker count is ours to choose, and teardown order is
 * explicit (cluster first, then the handle). The cluster runs on its own
 * thread; every rd_kafka_mock_* call is a request to that thread, so the
 * fault hooks are safe from any thread.
 *
 * What the 2.0.2 mock does (checked by tests/unit/sim/test_broker.c or
 * by hand):
 * - a Metadata request for an unknown topic auto-creates it with 4
 *   partitions, so our topics are created before the bootstrap list is
 *   published: no client can see the address before the topics exist;
 * - idempotent producers work, but the mock checks producer id, epoch
 *   and sequence only for a transactional producer (rd_kafka_mock.c's
 *   pid check returns at once without a TransactionalId): a retried
 *   batch of a plain idempotent producer can be written twice;
 * - assign()-based consumers and consumer groups (subscribe, commit,
 *   committed) work; the first join of a group waits a fixed 3 s (the
 *   mock's built-in initial rebalance delay);
 * - set_down refuses connections but never moves leadership;
 * - destroying the cluster can take up to 1 s (its thread's poll interval);
 * - not the mock but the 2.0.2 client: a new producer's first message to a
 *   topic waits 1-2 s in about a third of runs (the topic is registered
 *   after the first, brokers-only metadata request and is picked up by
 *   the 1 s topic scan). Asking for the topic's metadata before the first
 *   produce avoids it.
 *
 * - every fetch that returns data looks for its offset by walking the
 *   partition's message sets from the oldest (rd_kafka_mock_msgset_find:
 *   "FIXME: Maintain an index"), so the cluster's thread spends more CPU
 *   per message, in longer bursts, as the log grows towards its cap: on
 *   a 2-core machine, a 10-minute drill at 800 ops/s saw its share of a
 *   core go from 2% to 6% and its bursts of over 0.5 ms from none to
 *   40 a second, and the daemons' threads waiting behind them. With
 *   `idle` the cluster runs under SCHED_IDLE, where a waking daemon
 *   thread takes the CPU from it at once.
 *
 * - the brokers leave Nagle's algorithm on (no TCP_NODELAY), where
 *   Kafka's own socket server turns it off: a response written while an
 *   earlier one is unacknowledged waits for the client's delayed ACK, up
 *   to 40 ms, and a producer with two requests in flight (the changelog's
 *   pipelined group copies) met that on every other append. Each
 *   broker's listening socket gets TCP_NODELAY once the cluster is up
 *   (sim_broker_nodelay), which the sockets it accepts inherit;
 *
 * - partition leaders are placed at random and never move on their own:
 *   with fail_over we place them (partition p on broker p % brokers + 1)
 *   and move them off a broker set down (rd_kafka_mock_partition_set_leader),
 *   keeping our own table of who leads what, since the mock has no call
 *   that says (the mock takes any broker as a leader; with up to three
 *   brokers every one holds a replica of every partition).
 *
 * A cluster that runs as a `sim broker` process of its own takes its
 * faults on a Unix socket (sim_broker_serve's control_path): one line
 * per connection, answered with one line, handled on the serving thread
 * between signals.
 *
 * Owns the handle, the cluster, a copy of the bootstrap list and of the
 * topics, and (fail_over) the leader table under mu.
 */
#include "sim/broker/broker.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "bus.h"
#include "clock.h"
#include "log.h"
#include "lowprio.h"
#include "sim/proc/service.h"
#include "tsa.h"
#include "xmem.h"

struct sim_broker {
	rd_kafka_t *rk; /* the handle the cluster lives in */
	rd_kafka_mock_cluster_t *mc;
	char *bootstraps;
	int brokers;
	bool fail_over;
	tsa_mutex mu; /* the fields below */
	bool down[SIM_BROKER_BROKERS_MAX + 1];
	sim_broker_topic *topics; /* fail_over: the topics and their leaders */
	size_t ntopics;
	int **leader; /* leader[t][p], a broker id */
};

static const sim_broker_topic default_topics[] = {
    {"likes.batches", 16},
    {"likes.snapshots", 16},
    {"likes.deadletter", 1},
    {"likes.changes", 16},
    {"likes.milestones", 16},
    /* make run's regions' home streams (configs/local/) */
    {"likes.home.mumbai", 16},
    {"likes.home.virginia", 16},
    {"likes.home.singapore", 16},
};

const sim_broker_topic *sim_broker_default_topics(size_t *n)
{
	*n = sizeof default_topics / sizeof default_topics[0];
	return default_topics;
}

static bool topic_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > SIM_BROKER_TOPIC_MAX)
		return false;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

int sim_broker_parse_topic(const char *spec, sim_broker_topic *t)
{
	const char *colon = spec ? strrchr(spec, ':') : NULL;
	if (!colon)
		return ERR_INVAL;
	size_t len = (size_t)(colon - spec);
	if (!topic_name_ok(spec, len))
		return ERR_INVAL;
	const char *num = colon + 1;
	if (*num < '0' || *num > '9')
		return ERR_INVAL;
	char *end;
	errno = 0;
	long n = strtol(num, &end, 10);
	if (errno || *end || n < 1 || n > SIM_BROKER_PARTITIONS_MAX)
		return ERR_INVAL;
	memcpy(t->name, spec, len);
	t->name[len] = '\0';
	t->partitions = (int)n;
	return 0;
}

/* The host handle's lines go through the daemons' own callback, less
 * one warning. Called on librdkafka's threads. */
static void forward_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	/* The host handle has no bootstrap.servers on purpose. */
	if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "bootstrap.servers"))
		return;
	bus_log_line(rk, level, fac, buf);
}

static int check_opts(const sim_broker_opts *o, const sim_broker_topic *topics, size_t ntopics,
                      char *err, size_t errlen)
{
	if (o->brokers < 0 || o->brokers > SIM_BROKER_BROKERS_MAX) {
		snprintf(err, errlen, "brokers must be 1..%d, not %d", SIM_BROKER_BROKERS_MAX,
		         o->brokers);
		return ERR_INVAL;
	}
	if (ntopics == 0 || ntopics > SIM_BROKER_TOPICS_MAX) {
		snprintf(err, errlen, "topics must number 1..%d, not %zu", SIM_BROKER_TOPICS_MAX,
		         ntopics);
		return ERR_INVAL;
	}
	for (size_t i = 0; i < ntopics; i++) {
		const sim_broker_topic *t = &topics[i];
		size_t len = strnlen(t->name, sizeof t->name);
		if (len == sizeof t->name || !topic_name_ok(t->name, len)) {
			snprintf(err, errlen, "bad topic name at index %zu", i);
			return ERR_INVAL;
		}
		if (t->partitions < 1 || t->partitions > SIM_BROKER_PARTITIONS_MAX) {
			snprintf(err, errlen, "topic %s: partitions must be 1..%d, not %d", t->name,
			         SIM_BROKER_PARTITIONS_MAX, t->partitions);
			return ERR_INVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(topics[j].name, t->name) == 0) {
				snprintf(err, errlen, "topic %s given twice", t->name);
				return ERR_INVAL;
			}
		}
	}
	return 0;
}

typedef struct make_cluster {
	rd_kafka_t *rk;
	int brokers;
	rd_kafka_mock_cluster_t *mc;
} make_cluster;

/* rd_kafka_mock_cluster_new starts the cluster's thread, which inherits
 * the policy of the thread this runs on. */
static void cluster_new(void *arg)
{
	make_cluster *m = arg;
	m->mc = rd_kafka_mock_cluster_new(m->rk, m->brokers);
}

/* fail_over: partition p of every topic led by broker p % brokers + 1,
 * and the table that remembers it. */
static int place_leaders(sim_broker *b, const sim_broker_topic *topics, size_t ntopics, char *err,
                         size_t errlen)
{
	b->topics = xcalloc(ntopics, sizeof *b->topics);
	b->leader = xcalloc(ntopics, sizeof *b->leader);
	b->ntopics = ntopics;
	for (size_t i = 0; i < ntopics; i++) {
		b->topics[i] = topics[i];
		b->leader[i] = xcalloc((size_t)topics[i].partitions, sizeof *b->leader[i]);
		for (int p = 0; p < topics[i].partitions; p++) {
			int id = p % b->brokers + 1;
			rd_kafka_resp_err_t e =
			    rd_kafka_mock_partition_set_leader(b->mc, topics[i].name, p, id);
			if (e) {
				snprintf(err, errlen, "topic %s [%d]: leader %d: %s",
				         topics[i].name, p, id, rd_kafka_err2str(e));
				return ERR_KAFKA;
			}
			b->leader[i][p] = id;
		}
	}
	return 0;
}

sim_broker *sim_broker_start(const sim_broker_opts *o, char *err, size_t errlen)
{
	char scratch[256];
	if (!err || errlen == 0) {
		err = scratch;
		errlen = sizeof scratch;
	}
	err[0] = '\0';

	const sim_broker_topic *topics = o->topics;
	size_t ntopics = o->ntopics;
	if (!topics)
		topics = sim_broker_default_topics(&ntopics);
	if (check_opts(o, topics, ntopics, err, errlen) < 0)
		return NULL;

	sim_broker *b = xcalloc(1, sizeof *b);
	b->brokers = o->brokers ? o->brokers : SIM_BROKER_DEFAULT_BROKERS;
	b->fail_over = o->fail_over;
	pthread_mutex_init(&b->mu, NULL);

	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, forward_log);
	if (rd_kafka_conf_set(conf, "client.id", "sim-broker", err, errlen) != RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (!b->rk) {
		rd_kafka_conf_destroy(conf);
		goto fail;
	}
	make_cluster m = {.rk = b->rk, .brokers = b->brokers};
	lowprio p = {.idle = o->idle, .nice = o->idle ? 19 : 0};
	if (lowprio_run(&p, cluster_new, &m)) {
		snprintf(err, errlen, "no thread to start the cluster from: %s", strerror(errno));
		goto fail;
	}
	if (p.idle_errno)
		log_warn("the cluster's thread could not take SCHED_IDLE; it runs at nice 19",
		         "error=\"%s\"", strerror(p.idle_errno));
	if (p.nice_errno)
		log_warn("the cluster's thread could not be niced", "error=\"%s\"",
		         strerror(p.nice_errno));
	b->mc = m.mc;
	if (!b->mc) {
		snprintf(err, errlen, "rd_kafka_mock_cluster_new failed for %d brokers",
		         b->brokers);
		goto fail;
	}
	b->bootstraps = xstrdup(rd_kafka_mock_cluster_bootstraps(b->mc));
	int nd = sim_broker_nodelay(b->bootstraps);
	if (nd != b->brokers)
		log_warn("TCP_NODELAY not set on every broker's listener", "set=%d brokers=%d", nd,
		         b->brokers);

	int rf = b->brokers < 3 ? b->brokers : 3;
	for (size_t i = 0; i < ntopics; i++) {
		rd_kafka_resp_err_t e =
		    rd_kafka_mock_topic_create(b->mc, topics[i].name, topics[i].partitions, rf);
		if (e) {
			snprintf(err, errlen, "create topic %s: %s", topics[i].name,
			         rd_kafka_err2str(e));
			goto fail;
		}
		log_info("topic created", "topic=%s partitions=%d replication=%d", topics[i].name,
		         topics[i].partitions, rf);
	}
	if (b->fail_over && place_leaders(b, topics, ntopics, err, errlen) < 0)
		goto fail;
	log_info("mock cluster started", "brokers=%d bootstraps=%s", b->brokers, b->bootstraps);
	return b;

fail:
	sim_broker_stop(b);
	return NULL;
}

/* fd is a listening TCP socket of this process on one of ports. */
static bool listens_on(int fd, const int *ports, int nports)
{
	int on = 0;
	socklen_t len = sizeof on;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on)
		return false;
	struct sockaddr_in sin;
	len = sizeof sin;
	if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0 || sin.sin_family != AF_INET)
		return false;
	for (int i = 0; i < nports; i++)
		if (ntohs(sin.sin_port) == ports[i])
			return true;
	return false;
}

int sim_broker_nodelay(const char *bootstraps)
{
	int ports[SIM_BROKER_BROKERS_MAX];
	int nports = sim_broker_ports(bootstraps, ports, SIM_BROKER_BROKERS_MAX);
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	int done = 0, one = 1;
	struct dirent *de;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dirfd(d) ||
		    !listens_on(fd, ports, nports))
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
			done++;
	}
	closedir(d);
	return done;
}

const char *sim_broker_bootstraps(sim_broker *b)
{
	return b->bootstraps;
}

int sim_broker_ports(const char *bootstraps, int *ports, int max)
{
	const char *s = bootstraps;
	int n = 0;
	while (s && *s && n < max) {
		const char *colon = strchr(s, ':');
		if (!colon)
			break;
		ports[n++] = atoi(colon + 1);
		s = strchr(colon, ',');
		if (s)
			s++;
	}
	return n;
}

int sim_broker_count(const sim_broker *b)
{
	return b->brokers;
}

void sim_broker_stop(sim_broker *b)
{
	if (!b)
		return;
	if (b->mc)
		rd_kafka_mock_cluster_destroy(b->mc);
	if (b->rk)
		rd_kafka_destroy(b->rk);
	free(b->bootstraps);
	for (size_t i = 0; i < b->ntopics; i++)
		free(b->leader[i]);
	free(b->leader);
	free(b->topics);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

static int check_broker_id(const sim_broker *b, int broker_id)
{
	if (broker_id == -1 || (broker_id >= 1 && broker_id <= b->brokers))
		return 0;
	return ERR_INVAL;
}

/* fail_over, under mu: every partition led by a broker that is down
 * moves to the next broker after it that is up, if any. */
static int move_leaders(sim_broker *b) TSA_REQUIRES(b->mu)
{
	for (size_t i = 0; i < b->ntopics; i++) {
		for (int p = 0; p < b->topics[i].partitions; p++) {
			int from = b->leader[i][p], to = -1;
			if (!b->down[from])
				continue;
			for (int k = 1; k < b->brokers && to < 0; k++) {
				int id = (from - 1 + k) % b->brokers + 1;
				if (!b->down[id])
					to = id;
			}
			if (to < 0)
				continue; /* none up: it waits for the first one */
			rd_kafka_resp_err_t e =
			    rd_kafka_mock_partition_set_leader(b->mc, b->topics[i].name, p, to);
			if (e) {
				log_warn("leader move refused",
				         "topic=%s partition=%d from=%d to=%d error=\"%s\"",
				         b->topics[i].name, p, from, to, rd_kafka_err2str(e));
				return ERR_KAFKA;
			}
			b->leader[i][p] = to;
			log_info("partition leader moved", "topic=%s partition=%d from=%d to=%d",
			         b->topics[i].name, p, from, to);
		}
	}
	return 0;
}

int sim_broker_set_down(sim_broker *b, int broker_id, bool down)
{
	if (check_broker_id(b, broker_id) < 0)
		return ERR_INVAL;
	rd_kafka_resp_err_t e = down ? rd_kafka_mock_broker_set_down(b->mc, broker_id)
	                             : rd_kafka_mock_broker_set_up(b->mc, broker_id);
	if (e) {
		log_warn("broker fault refused", "broker=%d down=%d error=\"%s\"", broker_id,
		         (int)down, rd_kafka_err2str(e));
		return ERR_KAFKA;
	}
	log_info("broker fault", "broker=%d down=%d", broker_id, (int)down);
	tsa_lock(&b->mu);
	for (int id = 1; id <= b->brokers; id++)
		if (broker_id == -1 || id == broker_id)
			b->down[id] = down;
	int rc = b->fail_over ? move_leaders(b) : 0;
	tsa_unlock(&b->mu);
	return rc;
}

int sim_broker_leader(sim_broker *b, const char *topic, int part)
{
	int id = -1;
	tsa_lock(&b->mu);
	for (size_t i = 0; i < b->ntopics; i++)
		if (strcmp(b->topics[i].name, topic) == 0 && part >= 0 &&
		    part < b->topics[i].partitions)
			id = b->leader[i][part];
	tsa_unlock(&b->mu);
	return id;
}

int sim_broker_set_rtt(sim_broker *b, int broker_id, int rtt_ms)
{
	if (check_broker_id(b, broker_id) < 0 || rtt_ms < 0)
		return ERR_INVAL;
	rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_rtt(b->mc, broker_id, rtt_ms);
	if (e) {
		log_warn("broker rtt refused", "broker=%d rtt_ms=%d error=\"%s\"", broker_id,
		         rtt_ms, rd_kafka_err2str(e));
		return ERR_KAFKA;
	}
	log_info("broker rtt", "broker=%d rtt_ms=%d", broker_id, rtt_ms);
	return 0;
}

/* The Kafka protocol's request type for Produce (ApiKey 0); librdkafka
 * names it only in a private header. */
#define PRODUCE_API_KEY 0

int sim_broker_push_errors(sim_broker *b, int count)
{
	if (count < 0 || count > SIM_BROKER_PUSH_ERRORS_MAX)
		return ERR_INVAL;
	if (count == 0)
		return 0;
	rd_kafka_resp_err_t *errs = xcalloc((size_t)count, sizeof *errs);
	for (int i = 0; i < count; i++)
		errs[i] = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS;
	rd_kafka_mock_push_request_errors_array(b->mc, PRODUCE_API_KEY, (size_t)count, errs);
	free(errs);
	log_info("broker produce errors pushed", "count=%d error=\"%s\"", count,
	         rd_kafka_err2str(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS));
	return 0;
}

/* --- the control socket ----------------------------------------------------- */

/* "ID" (1..brokers) or "all" (-1). */
static bool control_broker(const sim_broker *b, const char *s, int *id)
{
	if (strcmp(s, "all") == 0) {
		*id = -1;
		return true;
	}
	long v;
	if (!service_parse_long(s, 1, b->brokers, &v))
		return false;
	*id = (int)v;
	return true;
}

/* Carries out one command line; the answer ("ok" or "error ...") in ans
 * (service.h's command). */
static void control_run(void *ctx, char *line, char *ans, size_t cap)
{
	sim_broker *b = ctx;
	char *save = NULL, *w[4];
	int nw = 0;
	for (char *t = strtok_r(line, " \t\r\n", &save); t && nw < 4;
	     t = strtok_r(NULL, " \t\r\n", &save))
		w[nw++] = t;
	int id = 0, rc;
	bool names_broker = nw >= 2 && strcmp(w[0], "errors") != 0;
	if (names_broker && !control_broker(b, w[1], &id)) {
		snprintf(ans, cap, "error no broker '%s' (1..%d or all)", w[1], b->brokers);
		return;
	}
	if (nw == 2 && (strcmp(w[0], "down") == 0 || strcmp(w[0], "up") == 0)) {
		rc = sim_broker_set_down(b, id, w[0][0] == 'd');
	} else if (nw == 3 && strcmp(w[0], "rtt") == 0) {
		char *end;
		long ms = strtol(w[2], &end, 10);
		if (end == w[2] || *end || ms < 0 || ms > 600000) {
			snprintf(ans, cap, "error bad rtt '%s'", w[2]);
			return;
		}
		rc = sim_broker_set_rtt(b, id, (int)ms);
	} else if (nw == 2 && strcmp(w[0], "errors") == 0) {
		char *end;
		long n = strtol(w[1], &end, 10);
		if (end == w[1] || *end || n < 0 || n > SIM_BROKER_PUSH_ERRORS_MAX) {
			snprintf(ans, cap, "error bad count '%s'", w[1]);
			return;
		}
		rc = sim_broker_push_errors(b, (int)n);
	} else {
		snprintf(ans, cap,
		         "error unknown command (down ID|all, up ID|all, rtt ID|all MS, "
		         "errors N)");
		return;
	}
	if (rc)
		snprintf(ans, cap, "error %s", err_str(rc));
	else
		snprintf(ans, cap, "ok");
}

int sim_broker_control(const char *path, const char *command, unsigned timeout_ms, char *err,
                       size_t errlen)
{
	return service_ask(path, command, timeout_ms, NULL, 0, err, errlen);
}

int sim_broker_write_bootstraps(sim_broker *b, const char *path)
{
	size_t n = strlen(b->bootstraps) + 2;
	char *line = xmalloc(n);
	snprintf(line, n, "%s\n", b->bootstraps);
	int rc = service_write_file(path, line);
	free(line);
	if (rc < 0)
		return rc;
	log_info("bootstrap file written", "path=\"%s\"", path);
	return 0;
}

/* --- `sim broker` ------------------------------------------------------------- */

typedef struct serving {
	const sim_broker_opts *o;
	sim_broker *b;
} serving;

static const char *serve_start(void *ctx)
{
	serving *s = ctx;
	char err[512];
	s->b = sim_broker_start(s->o, err, sizeof err);
	if (!s->b) {
		log_error("cannot start mock cluster", "error=\"%s\"", err);
		return NULL;
	}
	return s->b->bootstraps;
}

static void serve_command(void *ctx, char *line, char *ans, size_t cap)
{
	control_run(((serving *)ctx)->b, line, ans, cap);
}

static void serve_stop(void *ctx)
{
	serving *s = ctx;
	sim_broker_stop(s->b);
	s->b = NULL;
	log_info("broker stopped", "%s", "");
}

int sim_broker_serve(const sim_broker_opts *o, const char *bootstrap_file, const char *pid_file,
                     const char *control_path)
{
	serving s = {.o = o};
	service_ops ops = {
	    .ctx = &s, .start = serve_start, .command = serve_command, .stop = serve_stop};
	return service_run(&ops, bootstrap_file, pid_file, control_path);
}
