/* topics.h - the project's Kafka topics as deployed: configs/deploy/
 * topics.conf, read by `sim kafka` so that every real cluster a test,
 * drill or bench starts carries the topic settings operators are told to
 * create (docs/ops.md, "The topics").
 *
 * The file is a table, one topic a line, '#' starts a comment:
 *   CLUSTER TOPIC PARTITIONS REPLICATION [KEY=VALUE ...]
 * CLUSTER is central or regional; TOPIC a Kafka topic name, or a prefix
 * ending in '*' (likes.home.*: one topic per region); PARTITIONS the
 * deployed count (a drill may ask for another); REPLICATION the replication
 * factor on a cluster of three brokers or more; each KEY=VALUE a topic
 * config (min.insync.replicas=2, retention.ms=...).
 *
 * Pure: parsing and lookup, no I/O but reading the file. Any thread.
 */
#ifndef SIM_KAFKA_TOPICS_H
#define SIM_KAFKA_TOPICS_H

#include <stddef.h>

#include "err.h"

#define KTOPIC_NAME_MAX 249 /* Kafka's limit */
#define KTOPIC_CONFIGS_MAX 16
#define KTOPIC_CONFIG_MAX 128 /* one "key=value" */
#define KTOPICS_MAX 64

typedef struct ktopic_config {
	char key[KTOPIC_CONFIG_MAX];
	char value[KTOPIC_CONFIG_MAX];
} ktopic_config;

typedef struct ktopic {
	char cluster[16]; /* "central" or "regional" */
	char name[KTOPIC_NAME_MAX + 1];
	int partitions;
	int replication;
	ktopic_config configs[KTOPIC_CONFIGS_MAX];
	size_t nconfigs;
} ktopic;

typedef struct ktopics {
	ktopic t[KTOPICS_MAX];
	size_t n;
} ktopics;

/* Parses text (the file's contents; name for messages) into out.
 * ERR_CONFIG with "name:line: reason" in err for a malformed line. */
int ktopics_parse(const char *name, const char *text, ktopics *out, char *err,
                  size_t errlen) WARN_UNUSED;
/* Reads and parses the file at path (ERR_IO when it cannot be read). */
int ktopics_load(const char *path, ktopics *out, char *err, size_t errlen) WARN_UNUSED;

/* The entry for topic name: an exact name first, else the longest
 * prefix entry ("likes.home.*") it starts with; NULL when none. */
const ktopic *ktopics_find(const ktopics *ts, const char *name);

/* The value of config key in t, or NULL. */
const char *ktopic_config_get(const ktopic *t, const char *key);

#endif
