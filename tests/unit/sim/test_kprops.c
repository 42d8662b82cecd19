/* test_kprops.c - a real Kafka node's server.properties (sim/kafka/
 * kprops.c): the layers in order, so the node's identity and a small
 * cluster's limits override what comes before; the quorum and rack of a
 * three-node cluster; the log4j configuration. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "sim/kafka/kprops.h"

TestSuite(kprops, .timeout = 10);

/* The value of the last line that sets key in text (as java.util.
 * Properties keeps it), into out; false when no line does. */
static bool last_value(const char *text, const char *key, char *out, size_t cap)
{
	bool found = false;
	size_t kl = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, kl) == 0 && l[kl] == '=') {
			size_t n = strcspn(l + kl + 1, "\n");
			snprintf(out, cap, "%.*s", (int)n, l + kl + 1);
			found = true;
		}
	}
	return found;
}

static void want(const char *text, const char *key, const char *value)
{
	char got[512];
	cr_assert(last_value(text, key, got, sizeof got), "no %s in:\n%s", key, text);
	cr_assert_str_eq(got, value, "%s", key);
}

Test(kprops, a_node_of_three_has_its_quorum_rack_and_the_deployed_settings)
{
	const char *extra[] = {"log.retention.check.interval.ms=1000", "node.id=9", NULL};
	kprops_node n = {.id = 2,
	                 .nodes = 3,
	                 .port = 9092,
	                 .cports = {9101, 9102, 9103},
	                 .data = "/d/data",
	                 .meta = "/d/meta",
	                 .extra = extra};
	sbuf b;
	sbuf_init(&b);
	kprops_server(&n, "broker.session.timeout.ms=1500\nmin.insync.replicas=2\n", &b);
	want(b.p, "node.id", "2"); /* the identity wins over the caller's */
	want(b.p, "process.roles", "broker,controller");
	want(b.p, "controller.quorum.voters", "1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103");
	want(b.p, "listeners", "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9102");
	want(b.p, "advertised.listeners", "PLAINTEXT://127.0.0.1:9092");
	want(b.p, "log.dirs", "/d/data");
	want(b.p, "metadata.log.dir", "/d/meta");
	want(b.p, "broker.rack", "zone2");
	want(b.p, "broker.session.timeout.ms", "1500");
	want(b.p, "min.insync.replicas", "2");
	want(b.p, "default.replication.factor", "3");
	want(b.p, "log.retention.check.interval.ms", "1000");
	want(b.p, "num.network.threads", "2");
	sbuf_free(&b);
}

Test(kprops, a_single_node_brings_replication_down_to_one_and_has_no_rack)
{
	kprops_node n = {.id = 1,
	                 .nodes = 1,
	                 .port = 9092,
	                 .cports = {9093},
	                 .data = "/d/data",
	                 .meta = "/d/meta"};
	sbuf b;
	sbuf_init(&b);
	kprops_server(&n, "default.replication.factor=3\nmin.insync.replicas=2", &b);
	want(b.p, "default.replication.factor", "1");
	want(b.p, "min.insync.replicas", "1");
	want(b.p, "offsets.topic.replication.factor", "1");
	want(b.p, "transaction.state.log.min.isr", "1");
	want(b.p, "controller.quorum.voters", "1@127.0.0.1:9093");
	char got[64];
	cr_assert_not(last_value(b.p, "broker.rack", got, sizeof got));
	sbuf_free(&b);
}

Test(kprops, the_log_configuration_keeps_fencing_and_elections)
{
	sbuf b;
	sbuf_init(&b);
	kprops_log4j(&b);
	want(b.p, "rootLogger.level", "WARN");
	want(b.p, "logger.controller.name", "org.apache.kafka.controller");
	want(b.p, "logger.controller.level", "INFO");
	sbuf_free(&b);
}
