/* kprops.c - a real Kafka node's files as text (kprops.h). Pure. */
#include "sim/kafka/kprops.h"

/* Layer 1: lean settings (Kafka's own test harness runs brokers like
 * this). */
static const char *const lean[] = {
    "num.network.threads=2",
    "num.io.threads=2",
    "background.threads=2",
    "num.replica.fetchers=1",
    "num.recovery.threads.per.data.dir=1",
    "log.cleaner.threads=1",
    /* It defaults to 128 MiB, taken from a heap of a few hundred. */
    "log.cleaner.dedupe.buffer.size=4194304",
    "offsets.topic.num.partitions=4",
    "transaction.state.log.num.partitions=4",
    "group.initial.rebalance.delay.ms=0",
    "log.initial.task.delay.ms=100",
    /* The active controller appends a no-op record this often when
     * nothing else happens, and every node fetches and applies it: at
     * Kafka's 500 ms that is a sixth of an idle cluster's CPU. */
    "metadata.max.idle.interval.ms=2000",
    NULL,
};

void kprops_server(const kprops_node *n, const char *deploy, sbuf *out)
{
	sbuf_adds(out, "# Written by sim kafka (sim/kafka/kprops.h): lean settings, then\n"
	               "# configs/deploy/kafka-broker.properties, then what this cluster's\n"
	               "# size needs, then the caller's, then the node's identity.\n\n");
	for (size_t i = 0; lean[i]; i++)
		sbuf_addf(out, "%s\n", lean[i]);
	sbuf_adds(out, "\n# --- configs/deploy/kafka-broker.properties\n");
	sbuf_adds(out, deploy);
	if (*deploy && deploy[strlen(deploy) - 1] != '\n')
		sbuf_adds(out, "\n");
	int rf = n->nodes < 3 ? n->nodes : 3, isr = n->nodes < 2 ? n->nodes : 2;
	sbuf_addf(out,
	          "\n# --- this cluster's size: %d node%s\n"
	          "default.replication.factor=%d\n"
	          "min.insync.replicas=%d\n"
	          "offsets.topic.replication.factor=%d\n"
	          "transaction.state.log.replication.factor=%d\n"
	          "transaction.state.log.min.isr=%d\n",
	          n->nodes, n->nodes == 1 ? "" : "s", rf, isr, rf, rf, isr);
	if (n->extra && n->extra[0]) {
		sbuf_adds(out, "\n# --- the caller's\n");
		for (size_t i = 0; n->extra[i]; i++)
			sbuf_addf(out, "%s\n", n->extra[i]);
	}
	sbuf_addf(out,
	          "\n# --- node %d\n"
	          "node.id=%d\n"
	          "process.roles=broker,controller\n"
	          "controller.quorum.voters=",
	          n->id, n->id);
	for (int i = 0; i < n->nodes; i++)
		sbuf_addf(out, "%s%d@127.0.0.1:%d", i ? "," : "", i + 1, n->cports[i]);
	sbuf_addf(out,
	          "\nlisteners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d\n"
	          "advertised.listeners=PLAINTEXT://127.0.0.1:%d\n"
	          "controller.listener.names=CONTROLLER\n"
	          "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
	          "inter.broker.listener.name=PLAINTEXT\n"
	          "log.dirs=%s\n"
	          "metadata.log.dir=%s\n",
	          n->port, n->cports[n->id - 1], n->port, n->data, n->meta);
	if (n->nodes > 1)
		sbuf_addf(out, "broker.rack=zone%d\n", n->id);
}

void kprops_log4j(sbuf *out)
{
	sbuf_adds(out, "# Written by sim kafka (sim/kafka/kprops.h).\n"
	               "status=warn\n"
	               "appender.out.type=Console\n"
	               "appender.out.name=out\n"
	               "appender.out.layout.type=PatternLayout\n"
	               "appender.out.layout.pattern=[%d] %p %m (%c)%n\n"
	               "rootLogger.level=WARN\n"
	               "rootLogger.appenderRef.out.ref=out\n"
	               /* Start and stop, fencing, elections, ISR changes. */
	               "logger.server.name=kafka.server.KafkaRaftServer\n"
	               "logger.server.level=INFO\n"
	               "logger.controller.name=org.apache.kafka.controller\n"
	               "logger.controller.level=INFO\n"
	               "logger.partition.name=kafka.cluster.Partition\n"
	               "logger.partition.level=INFO\n");
}
