/* bus.h - Kafka clients configured the project's way.
 *
 * Every key of a config's [kafka] section goes to rd_kafka_conf_set()
 * unchanged, its error reported. When bootstrap_file is set (the embedded
 * mock cluster writes one), its contents become bootstrap.servers, unless
 * the [kafka] section names bootstrap.servers itself. librdkafka's own
 * log lines go through log.h (bus_log_line).
 */
#ifndef LIKES_BUS_H
#define LIKES_BUS_H

#include <librdkafka/rdkafka.h>

#include "config.h"

enum bus_role { BUS_PRODUCER, BUS_CONSUMER };

/* A conf with the role's defaults, then the passthrough properties.
 * Consumers get group.id = group (they assign partitions themselves; the
 * group only names them to the cluster). NULL with the reason in err. */
rd_kafka_conf_t *bus_conf_new(enum bus_role role, const cfg_kv *props,
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
