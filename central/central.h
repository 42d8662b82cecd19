/* central.h - the central reconciler: configuration and run loop.
 *
 * central_run() consumes the partitions it owns (central.partitions) of
 * the batch topic into the
 * applier and publishes per-partition snapshots on a timer, until
 * central_stop() is called (from a signal handler: it only sets a flag):
 * the message being applied is finished (its effects and next offset in
 * one store write, so nothing else needs committing), changed counts are
 * published once more and the producer flushed, then it returns.
 * central_reload() (SIGHUP, also just a flag) reopens log.file at the
 * loop's next turn. systemd: READY=1 once assigned and the ops API is
 * up, STOPPING=1 at the stop, WATCHDOG=1 from the loop (sdnotify.h).
 * Input the applier refuses is produced, unchanged and with headers that
 * say why and where from, to the dead-letter topic. The ops API's
 * /readyz reads the loop's checks (store, Kafka, lag; once a second)
 * through the readiness hook central_run hands it.
 */
#ifndef CENTRAL_CENTRAL_H
#define CENTRAL_CENTRAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "config.h"

typedef struct central_config {
	char *id;
	char *data_dir;
	char *log_level;
	char *counters_set; /* [counters] set: comma-separated set counters */
	char *counters_sum; /* [counters] sum: comma-separated sum counters */
	int64_t partitions;
	char *owned_partitions; /* central.partitions: "all" or a list (shard.h) */
	char *batch_topic;
	char *snapshot_topic;
	char *deadletter_topic; /* poison input goes here; "" = log only */
	char *changes_topic;    /* the change feed (docs/events.md); "" = off */
	char *milestones_topic; /* "" = off */
	char *feed_milestones;  /* thresholds, comma-separated */
	char *home_prefix;      /* a region's home stream: this, then its name */
	char *home_regions;     /* regions with a home stream, comma-separated; "" = off */
	int64_t feed_timeout_ms;
	int64_t feed_session_ms;
	int64_t snapshot_interval_ms;
	int64_t heartbeat_every; /* full snapshot of every partition each N ticks */
	int64_t snapshot_max_counts;
	int64_t store_cache_mb;
	int64_t cache_counts;  /* applier: stored counts kept in memory (entries) */
	int64_t cache_members; /* applier: stored memberships kept in memory (entries) */
	int64_t hot_items;     /* keys the hot-items sketch keeps (metrics, /v1/hot) */
	bool store_sync;
	char *ops_listen; /* host:port of the ops API, "" = off */
	char *ops_token;  /* bearer token of the ops API, "" = none (warned) */
	char *bootstrap_file;
	int64_t commit_interval_ms; /* stored positions to the group, for tools; 0 = off */
	cfg_kv *kafka;              /* [kafka]: both clients (bus.h) */
	cfg_kv *kafka_producer;     /* [kafka.producer] */
	cfg_kv *kafka_consumer;     /* [kafka.consumer] */
	char *log_file;             /* "" = stderr; reopened on SIGHUP */
	int64_t ready_max_lag;      /* /readyz: input messages behind, summed */
	int64_t ready_kafka_age_s;  /* /readyz: Kafka silent this long = unreachable */
} central_config;

/* The config's librdkafka sections, as bus.h takes them. */
static inline bus_props central_bus_props(const central_config *cfg)
{
	return (bus_props){cfg->kafka, cfg->kafka_producer, cfg->kafka_consumer};
}

extern const cfg_opt central_options[];
extern const size_t central_noptions;

/* The config checks central_run makes before it opens the store or
 * reaches Kafka (counters, central.partitions, the ops API's address and
 * token): 0, or ERR_CONFIG or ERR_INVAL with the reason in err. */
int central_config_check(const central_config *cfg, char *err, size_t errlen) WARN_UNUSED;
/* Runs until central_stop(). 0 on a clean stop, or a negative code. */
int central_run(const central_config *cfg);
void central_stop(void);
void central_reload(void);

#endif
