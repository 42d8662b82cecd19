/* bus.h - Kafka clients configured the project's way.
 *
 * A config holds librdkafka properties in three sections: [kafka] for
 * those both clients take (bootstrap.servers, security, socket.*),
 * [kafka.producer] and [kafka.consumer] for each role's own. A client
 * gets its role's defaults, then [kafka], then its role's section, each
 * key to rd_kafka_conf_set() unchanged, its error reported; so the
 * producer never hears of fetch.wait.max.ms and librdkafka has nothing
 * to warn about (CONFWARN). bus_check_props refuses, at start-up, a
 * property in a section whose client would ignore it, as librdkafka's
 * own table of properties says (its C/P column).
 *
 * When bootstrap_file is set (the embedded mock cluster writes one), its
 * contents become bootstrap.servers, unless a section the client reads
 * names bootstrap.servers itself. librdkafka's own log lines go through
 * log.h (bus_log_line).
 */
#ifndef LIKES_BUS_H
#define LIKES_BUS_H

#include <librdkafka/rdkafka.h>

#include "config.h"

enum bus_role { BUS_PRODUCER, BUS_CONSUMER };

/* The sections of a config's librdkafka properties (borrowed lists). */
typedef struct bus_props {
	const cfg_kv *common;   /* [kafka]: both clients */
	const cfg_kv *producer; /* [kafka.producer] */
	const cfg_kv *consumer; /* [kafka.consumer] */
} bus_props;

/* Which clients read a property, from librdkafka's table of properties
 * (global and topic-level). BUS_SCOPE_UNKNOWN for a name it does not
 * list (then rd_kafka_conf_set says what is wrong). Any thread. */
enum bus_scope { BUS_SCOPE_UNKNOWN, BUS_SCOPE_BOTH, BUS_SCOPE_PRODUCER, BUS_SCOPE_CONSUMER };
enum bus_scope bus_property_scope(const char *name);

/* Refuses a property whose section's clients would ignore it: in
 * [kafka] one only a producer or only a consumer reads, in
 * [kafka.producer] a consumer's, in [kafka.consumer] a producer's. With
 * values, also sets every property on a scratch conf of its role, so a
 * name librdkafka does not know or a bad value is found without a
 * client (the -t check). 0, or ERR_CONFIG with "where: kafka.X: reason"
 * in err (where: the file and line, or -s). */
int bus_check_props(const bus_props *p, bool values, char *err, size_t errlen) WARN_UNUSED;

/* A conf with the role's defaults, then [kafka], then the role's
 * section. Consumers get group.id = group (they assign partitions
 * themselves; the group only names them to the cluster and its tools).
 * NULL with the reason in err. */
rd_kafka_conf_t *bus_conf_new(enum bus_role role, const bus_props *props,
                              const char *bootstrap_file, const char *group, char *err,
                              size_t errlen);

/* librdkafka's log callback (rd_kafka_conf_set_log_cb), which
 * bus_conf_new installs: each line becomes a log.h line with msg
 * "librdkafka", the level mapped from syslog's (0-3 error, 4 warn, 5-6
 * info, 7 debug) and the fields kafka_fac (CONFWARN, FAIL, ...),
 * kafka_client (rdkafka#producer-1) and detail (the text). Any thread. */
void bus_log_line(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* Creates the client from conf (taking ownership of it). */
rd_kafka_t *bus_client_new(enum bus_role role, rd_kafka_conf_t *conf, char *err, size_t errlen);

/* Partition count of topic, asking the cluster (timeout_ms). <0 on error. */
int bus_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms);

/* Reads a file's first line (the bootstrap list) into buf. */
int bus_read_bootstrap(const char *path, char *buf, size_t cap) WARN_UNUSED;

#endif
