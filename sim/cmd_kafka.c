/* cmd_kafka.c - `sim broker` (librdkafka's mock cluster in this process,
 * sim/broker/broker.c) and `sim kafka` (real Apache Kafka nodes,
 * sim/kafka/serve.c): their options, the repeatable ones gathered into
 * lists this file owns and frees, then the cluster served until SIGINT
 * or SIGTERM. Main thread.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sim/broker/broker.h"
#include "sim/cmd.h"
#include "sim/kafka/serve.h"
#include "sim/opt.h"
#include "sim/proc/service.h"
#include "xmem.h"

typedef struct broker_topics {
	sim_broker_topic *v;
	size_t n;
} broker_topics;

static int add_topic(void *dst, const char *arg)
{
	broker_topics *t = dst;
	if (t->n == SIM_BROKER_TOPICS_MAX)
		return opt_usage_error("too many --topic options", NULL);
	t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
	if (sim_broker_parse_topic(arg, &t->v[t->n]) < 0)
		return opt_usage_error("bad --topic (want NAME:PARTITIONS)", arg);
	t->n++;
	return 0;
}

/* --brokers N, read with strtol as it always was. */
static int parse_brokers(void *dst, const char *arg)
{
	char *end;
	long n = strtol(arg, &end, 10);
	if (*arg == '\0' || *end || n < 1 || n > SIM_BROKER_BROKERS_MAX)
		return opt_usage_error("bad --brokers", arg);
	*(int *)dst = (int)n;
	return 0;
}

int cmd_broker(int argc, char **argv)
{
	sim_broker_opts o = {0};
	broker_topics topics = {0};
	const char *bootstrap_file = NULL, *pid_file = NULL, *control = NULL;
	const opt_spec opts[] = {
	    OPT_CALL("brokers", parse_brokers, &o.brokers),
	    OPT_CALL("topic", add_topic, &topics),
	    OPT_STR("bootstrap-file", bootstrap_file),
	    OPT_STR("pid-file", pid_file),
	    OPT_STR("control", control),
	    OPT_FLAG("fail-over", o.fail_over),
	    OPT_FLAG("idle", o.idle),
	    OPT_LOG,
	    OPT_HELP,
	};
	int rc = opt_parse(argc, argv, opts, OPT_COUNT(opts), false);
	if (rc < 0) {
		o.topics = topics.v;
		o.ntopics = topics.n;
		log_set_component("sim/broker/broker");
		rc = sim_broker_serve(&o, bootstrap_file, pid_file, control) < 0 ? 1 : 0;
	}
	free(topics.v);
	return rc;
}

typedef struct strs {
	const char **v;
	size_t n;
} strs;

/* A repeatable KEY=VALUE option into a NULL-terminated list. */
static int add_kv(void *dst, const char *arg)
{
	strs *l = dst;
	if (!strchr(arg, '=') || arg[0] == '=' || l->n == 64)
		return opt_usage_error("bad KEY=VALUE (or too many)", arg);
	l->v = xrealloc(l->v, (l->n + 2) * sizeof *l->v);
	l->v[l->n++] = arg;
	l->v[l->n] = NULL;
	return 0;
}

_Static_assert(SIM_KAFKA_TOPICS_MAX >= SIM_BROKER_TOPICS_MAX, "sim kafka takes every --topic");

/* sim kafka's --topic list, read as sim broker reads it (add_topic): the
 * names and partitions, the rest left to the deploy table. NULL when t
 * is empty; the caller frees it. */
static sim_kafka_topic *kafka_topics(const broker_topics *t)
{
	sim_kafka_topic *v = t->n ? xcalloc(t->n, sizeof *v) : NULL;
	for (size_t i = 0; i < t->n; i++) {
		snprintf(v[i].name, sizeof v[i].name, "%s", t->v[i].name);
		v[i].partitions = t->v[i].partitions;
	}
	return v;
}

int cmd_kafka(int argc, char **argv)
{
	sim_kafka_opts o = {.nodes = 1};
	broker_topics topics = {0};
	sim_kafka_topic *kafka_list = NULL;
	strs props = {0}, tconfs = {0};
	const char *bootstrap_file = NULL, *pid_file = NULL, *control = NULL;
	const opt_spec opts[] = {
	    OPT_NUM("nodes", 1, SIM_KAFKA_NODES_MAX, o.nodes, 0),
	    OPT_STR("dir", o.dir),
	    OPT_CALL("topic", add_topic, &topics),
	    OPT_NUM("heap-mb", 64, 16384, o.heap_mb, 0),
	    OPT_FLAG("full-jit", o.full_jit),
	    OPT_NUM("start-ms", 1000, 3600000, o.start_ms, 0),
	    OPT_CALL("prop", add_kv, &props),
	    OPT_CALL("topic-config", add_kv, &tconfs),
	    OPT_STR("bootstrap-file", bootstrap_file),
	    OPT_STR("pid-file", pid_file),
	    OPT_STR("control", control),
	    OPT_LOG,
	    OPT_HELP,
	};
	int rc = opt_parse(argc, argv, opts, OPT_COUNT(opts), false);
	if (rc < 0 && !o.dir)
		rc = opt_usage_error("sim kafka needs --dir", NULL);
	char jars[PATH_MAX], deploy[PATH_MAX], err[512];
	if (rc < 0 && sim_kafka_find_files(jars, deploy, sizeof jars, err, sizeof err)) {
		fprintf(stderr, "sim kafka: %s\n", err);
		rc = 1;
	}
	if (rc < 0) {
		o.jars = jars;
		o.deploy = deploy;
		o.topics = kafka_list = kafka_topics(&topics);
		o.ntopics = topics.n;
		o.props = props.v;
		o.topic_configs = tconfs.v;
		o.interrupted = service_interrupted;
		log_set_component("sim/kafka");
		rc = sim_kafka_serve(&o, bootstrap_file, pid_file, control) < 0 ? 1 : 0;
	}
	free(topics.v);
	free(kafka_list);
	free(props.v);
	free(tconfs.v);
	return rc;
}
