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

#include <stdbool.h>
#include <stdint.h>

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

/* rd_kafka_conf_set of k = v. 0, or ERR_CONFIG with "who: k: why" in
 * err. */
int bus_conf_set(rd_kafka_conf_t *conf, const char *who, const char *k, const char *v, char *err,
                 size_t errlen) WARN_UNUSED;

/* Creates the client from conf (taking ownership of it). */
rd_kafka_t *bus_client_new(enum bus_role role, rd_kafka_conf_t *conf, char *err, size_t errlen);

/* Partition count of topic, asking the cluster (timeout_ms). <0 on error. */
int bus_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms);

/* A partition's in-sync replicas and replicas as its metadata names
 * them, asked with a timeout. 0, or ERR_KAFKA (no answer, no such topic
 * or partition). Any thread. */
int bus_partition_isr(rd_kafka_t *rk, const char *topic, int32_t partition, int timeout_ms,
                      int *isr, int *replicas) WARN_UNUSED;

/* Asks for a topic's configs (DescribeConfigs) without waiting: the
 * answer comes on q as one event within timeout_ms (an error event if
 * none came; the embedded cluster, which names no controller, never
 * answers), for bus_config_int. 0 or ERR_KAFKA. Any thread. */
int bus_config_ask(rd_kafka_t *rk, const char *topic, int timeout_ms,
                   rd_kafka_queue_t *q) WARN_UNUSED;

/* The value of config name in bus_config_ask's answer ev, as an
 * integer: min.insync.replicas, say. 0; ERR_NOTFOUND when the answer
 * does not name it, or names it as no integer; ERR_KAFKA when ev is an
 * error. */
int bus_config_int(rd_kafka_event_t *ev, const char *name, int64_t *out) WARN_UNUSED;

/* The first and next offsets (low and high watermarks) of a partition,
 * asked of its leader, waiting at most timeout_ms, also when the leader
 * is down. librdkafka's own rd_kafka_query_watermark_offsets does not
 * keep its timeout before 2.3.0 (librdkafka #4460): with the partition's
 * broker down it waits until the broker is back, which held an edge's
 * stop and would hold central's run loop. Built on
 * rd_kafka_offsets_for_times (timestamps -2 and -1), which keeps it.
 * An answer that the leadership is moving (not the leader, no leader,
 * a broken connection) is asked again within the same timeout: a real
 * cluster gives it for a moment after a broker restart or a topic's
 * creation, and it is no reason to fail a start. An unknown topic is
 * returned at once.
 * RD_KAFKA_RESP_ERR_NO_ERROR or the last error. Any thread. */
rd_kafka_resp_err_t bus_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition,
                                   int timeout_ms, int64_t *lo, int64_t *hi);

/* Reads a file's first line (the bootstrap list) into buf. */
int bus_read_bootstrap(const char *path, char *buf, size_t cap) WARN_UNUSED;

/* A dead-letter producer: a message this daemon read and refuses goes,
 * unchanged, to the dead-letter topic with headers that say why and
 * where it came from (reason, source_topic, source_partition,
 * source_offset, dlq_by), so an operator can read it there with any
 * Kafka client. The same rules at every daemon that refuses input:
 * a full producer queue is polled BUS_DLQ_FULL_POLL_MS at a time, at
 * most BUS_DLQ_FULL_TRIES times, before the letter is given up; each
 * outcome is logged once here, with the source's partition and offset.
 * The caller counts (its own metrics). Caller-owned storage: init/free. */
#define BUS_DLQ_FULL_POLL_MS 50
#define BUS_DLQ_FULL_TRIES 10

typedef struct bus_dlq {
	rd_kafka_t *producer;    /* borrowed; polled while its queue is full */
	rd_kafka_topic_t *topic; /* owned; NULL: no topic, letters are only logged */
	const char *topic_name;  /* borrowed, as are the three below */
	const char *source;      /* the topic refused messages were read from */
	const char *by;          /* this daemon's id, header dlq_by */
	const char *what;        /* names a message in log lines: "input", "snapshot" */
	void *mark;              /* the opaque of every letter's delivery report */
} bus_dlq;

/* Sets d up to produce to topic through producer; topic "" or NULL
 * configures none (letters are logged only). mark tells the letters'
 * delivery reports from the producer's other messages (bus_dlq_report).
 * 0, or ERR_KAFKA with the reason in err. Start-up. */
int bus_dlq_init(bus_dlq *d, rd_kafka_t *producer, const char *topic, const char *source,
                 const char *by, const char *what, void *mark, char *err,
                 size_t errlen) WARN_UNUSED;

/* Frees the topic handle; d may be zeroed or already freed. */
void bus_dlq_free(bus_dlq *d);

/* Queues msg (copied) as a letter for partition and offset of the
 * source topic. 0 when it was queued, or when no topic is configured
 * (then the log line is the only record); ERR_KAFKA when librdkafka
 * refused it or its queue stayed full (logged; the caller counts a
 * failed letter). The producer's polling thread. */
int bus_dlq_send(const bus_dlq *d, int32_t partition, int64_t offset, const void *msg, size_t len,
                 const char *reason) WARN_UNUSED;

/* In the producer's delivery report callback: whether m is one of d's
 * letters (its opaque is d->mark). A letter that failed is logged here
 * and *failed set, for the caller to count. */
bool bus_dlq_report(const bus_dlq *d, const rd_kafka_message_t *m, bool *failed);

/* A batch message's writer time: its WIRE_WRITER_HEADER (wire.h), a
 * decimal number from 1, or 0 when it has none or the value is not
 * such a number (docs/wire.md, "Hand-over"). Any thread. */
uint64_t bus_batch_writer(rd_kafka_message_t *m);

#endif
