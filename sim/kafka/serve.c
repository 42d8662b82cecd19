/* serve.c - `sim kafka`: a real Kafka cluster (kafka.h) served as a
 * process of its own until SIGINT or SIGTERM, its faults taken on a
 * control socket (sim/proc/service.h), as `sim broker` serves the
 * embedded one. The serving thread owns the cluster.
 */
#include "sim/kafka/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sim/proc/service.h"
#include "xmem.h"

#define LEADER_MS 30000
#define CREATE_WORDS_MAX 12
#define ELECTIONS_MAX 4096

typedef struct serving {
	const sim_kafka_opts *o;
	sim_kafka *k;
} serving;

static const char *serve_start(void *ctx)
{
	serving *s = ctx;
	char err[512];
	s->k = sim_kafka_start(s->o, err, sizeof err);
	if (!s->k) {
		if (!service_interrupted())
			log_error("cannot start the Kafka cluster", "error=\"%s\"", err);
		return NULL;
	}
	return sim_kafka_bootstraps(s->k);
}

static void serve_tick(void *ctx)
{
	serving *s = ctx;
	sim_kafka_reap(s->k);
}

static void serve_stop(void *ctx)
{
	serving *s = ctx;
	sim_kafka_stop(s->k);
	s->k = NULL;
	log_info("kafka cluster stopped", "%s", "");
}

static const struct {
	const char *word;
	sim_kafka_fault fault;
} faults[] = {
    {"kill", SIM_KAFKA_KILL},       {"down", SIM_KAFKA_KILL},   {"pause", SIM_KAFKA_PAUSE},
    {"resume", SIM_KAFKA_RESUME},   {"start", SIM_KAFKA_START}, {"up", SIM_KAFKA_START},
    {"restart", SIM_KAFKA_RESTART}, {"wipe", SIM_KAFKA_WIPE},
};

/* FAULT ID|all: "all" skips the nodes the fault does not fit (up all
 * starts those that are down). */
static void run_fault(sim_kafka *k, sim_kafka_fault f, const char *who, char *ans, size_t cap)
{
	int n = sim_kafka_nodes(k);
	long id;
	char err[256] = "";
	if (strcmp(who, "all") == 0) {
		int done = 0, rc = 0;
		for (int i = 1; i <= n; i++) {
			bool running = sim_kafka_pid(k, i) > 0;
			if ((f == SIM_KAFKA_START && running) ||
			    ((f == SIM_KAFKA_KILL || f == SIM_KAFKA_PAUSE ||
			      f == SIM_KAFKA_RESUME) &&
			     !running))
				continue;
			int r = sim_kafka_fault_node(k, i, f, err, sizeof err);
			if (r == 0)
				done++;
			else if (r != ERR_INVAL && !rc)
				rc = r;
		}
		if (rc)
			snprintf(ans, cap, "error %s", err);
		else
			snprintf(ans, cap, "ok %d", done);
		return;
	}
	if (!service_parse_long(who, 1, n, &id)) {
		snprintf(ans, cap, "error no node '%s' (1..%d or all)", who, n);
		return;
	}
	if (sim_kafka_fault_node(k, (int)id, f, err, sizeof err))
		snprintf(ans, cap, "error %s", err);
	else
		snprintf(ans, cap, "ok");
}

/* create NAME:PARTITIONS [rf=N] [as=NAME] [replicas=A,B,..] [KEY=VALUE ...] */
static void run_create(sim_kafka *k, char **w, int nw, char *ans, size_t cap)
{
	sim_kafka_topic t = {0};
	const char *extra[CREATE_WORDS_MAX];
	size_t ne = 0;
	char *colon = strrchr(w[1], ':');
	long v;
	if (!colon || !service_parse_long(colon + 1, 1, 100000, &v) ||
	    (size_t)(colon - w[1]) > KTOPIC_NAME_MAX || colon == w[1]) {
		snprintf(ans, cap,
		         "error want create NAME:PARTITIONS [rf=N] [as=NAME] [KEY=VALUE ...]");
		return;
	}
	snprintf(t.name, sizeof t.name, "%.*s", (int)(colon - w[1]), w[1]);
	t.partitions = (int)v;
	for (int i = 2; i < nw; i++) {
		if (strncmp(w[i], "rf=", 3) == 0) {
			if (!service_parse_long(w[i] + 3, 1, SIM_KAFKA_NODES_MAX, &v)) {
				snprintf(ans, cap, "error bad %s", w[i]);
				return;
			}
			t.replication = (int)v;
		} else if (strncmp(w[i], "as=", 3) == 0) {
			snprintf(t.as, sizeof t.as, "%s", w[i] + 3);
		} else if (strncmp(w[i], "replicas=", 9) == 0) {
			char *save = NULL;
			for (char *r = strtok_r(w[i] + 9, ",", &save); r;
			     r = strtok_r(NULL, ",", &save)) {
				if (t.nreplicas == SIM_KAFKA_NODES_MAX ||
				    !service_parse_long(r, 1, sim_kafka_nodes(k), &v)) {
					snprintf(ans, cap, "error bad replicas list");
					return;
				}
				t.replicas[t.nreplicas++] = (int)v;
			}
		} else {
			extra[ne++] = w[i];
		}
	}
	extra[ne] = NULL;
	char err[256];
	if (sim_kafka_create(k, &t, 1, extra, 30000, err, sizeof err))
		snprintf(ans, cap, "error %s", err);
	else
		snprintf(ans, cap, "ok");
}

/* elections: every leader change so far (sim_kafka_elections) into
 * DIR/elections.txt, a line each, "AT_MS TOPIC PARTITION FROM TO" (-1: no
 * leader); answers "ok N PATH". */
static void run_elections(sim_kafka *k, const char *dir, char *ans, size_t cap)
{
	kelection *e = xmalloc(ELECTIONS_MAX * sizeof *e);
	char err[256], path[1024];
	long n = sim_kafka_elections(k, e, ELECTIONS_MAX, err, sizeof err);
	if (n < 0) {
		snprintf(ans, cap, "error %s", err);
		free(e);
		return;
	}
	snprintf(path, sizeof path, "%s/elections.txt", dir);
	FILE *f = fopen(path, "w");
	for (long i = 0; f && i < n && i < ELECTIONS_MAX; i++)
		fprintf(f, "%lld %s %d %d %d\n", (long long)e[i].at_ms, e[i].topic, e[i].partition,
		        e[i].from, e[i].to);
	bool ok = f && !ferror(f);
	if (f && fclose(f) != 0)
		ok = false;
	if (!ok)
		snprintf(ans, cap, "error cannot write %s", path);
	else if (n > ELECTIONS_MAX)
		snprintf(ans, cap, "error %ld leader changes, more than %d", n, ELECTIONS_MAX);
	else
		snprintf(ans, cap, "ok %ld %s", n, path);
	free(e);
}

void sim_kafka_command(sim_kafka *k, const char *dir, char *line, char *ans, size_t cap)
{
	char *save = NULL, *w[CREATE_WORDS_MAX];
	int nw = 0;
	for (char *t = strtok_r(line, " \t\r\n", &save); t && nw < CREATE_WORDS_MAX;
	     t = strtok_r(NULL, " \t\r\n", &save))
		w[nw++] = t;
	if (nw == 2) {
		for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
			if (strcmp(w[0], faults[i].word) == 0) {
				run_fault(k, faults[i].fault, w[1], ans, cap);
				return;
			}
	}
	long v;
	if (nw == 3 && strcmp(w[0], "leader") == 0 && service_parse_long(w[2], 0, 100000, &v)) {
		int leader = sim_kafka_leader(k, w[1], (int)v, LEADER_MS);
		if (leader < 0)
			snprintf(ans, cap, "error no leader known for %s-%ld", w[1], v);
		else
			snprintf(ans, cap, "ok %d", leader);
		return;
	}
	if (nw == 3 && strcmp(w[0], "isr") == 0 && service_parse_long(w[2], 0, 100000, &v)) {
		int isr[SIM_KAFKA_NODES_MAX];
		int n = sim_kafka_isr(k, w[1], (int)v, isr, SIM_KAFKA_NODES_MAX);
		if (n < 0) {
			snprintf(ans, cap, "error no metadata for %s-%ld", w[1], v);
			return;
		}
		size_t len = (size_t)snprintf(ans, cap, "ok");
		for (int i = 0; i < n && len < cap; i++)
			len +=
			    (size_t)snprintf(ans + len, cap - len, "%s%d", i ? "," : " ", isr[i]);
		return;
	}
	if (nw == 1 && strcmp(w[0], "controller") == 0) {
		int c = sim_kafka_controller(k);
		if (c < 0)
			snprintf(ans, cap, "error no node knows the active controller");
		else
			snprintf(ans, cap, "ok %d", c);
		return;
	}
	if (nw == 2 && strcmp(w[0], "pid") == 0 &&
	    service_parse_long(w[1], 1, sim_kafka_nodes(k), &v)) {
		snprintf(ans, cap, "ok %ld", (long)sim_kafka_pid(k, (int)v));
		return;
	}
	if (nw == 1 && strcmp(w[0], "elections") == 0) {
		run_elections(k, dir, ans, cap);
		return;
	}
	if ((nw == 2 || (nw == 3 && strcmp(w[2], "running") == 0)) &&
	    strcmp(w[0], "in-sync") == 0 && service_parse_long(w[1], 0, 600000, &v)) {
		char err[256];
		if (sim_kafka_wait_isr(k, (unsigned)v, nw == 3, err, sizeof err))
			snprintf(ans, cap, "error %s", err);
		else
			snprintf(ans, cap, "ok");
		return;
	}
	if (nw >= 2 && strcmp(w[0], "create") == 0) {
		run_create(k, w, nw, ans, cap);
		return;
	}
	if (nw >= 1 && (strcmp(w[0], "rtt") == 0 || strcmp(w[0], "errors") == 0)) {
		snprintf(ans, cap,
		         "error %s is the embedded cluster's; on real Kafka delay the paths "
		         "(relays) instead",
		         w[0]);
		return;
	}
	snprintf(ans, cap,
	         "error unknown command (kill|down, pause, resume, start|up, restart, wipe "
	         "ID|all; leader TOPIC PARTITION; pid ID; in-sync MS [running]; elections)");
}

static void serve_command(void *ctx, char *line, char *ans, size_t cap)
{
	serving *s = ctx;
	sim_kafka_command(s->k, s->o->dir, line, ans, cap);
}

int sim_kafka_serve(const sim_kafka_opts *o, const char *bootstrap_file, const char *pid_file,
                    const char *control_path)
{
	serving s = {.o = o};
	service_ops ops = {.ctx = &s,
	                   .start = serve_start,
	                   .command = serve_command,
	                   .tick = serve_tick,
	                   .stop = serve_stop};
	return service_run(&ops, bootstrap_file, pid_file, control_path);
}
