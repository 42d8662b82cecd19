/* central.h - the central reconciler: configuration and run loop.
 *
 * central_run() consumes every partition of the batch topic into the
 * applier and publishes per-partition snapshots on a timer, until
 * central_stop() is called (from a signal handler: it only sets a flag).
 * Input the applier refuses is produced, unchanged and with headers that
 * say why and where from, to the dead-letter topic.
 */
#ifndef CENTRAL_CENTRAL_H
#define CENTRAL_CENTRAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct central_config {
	char *id;
	char *data_dir;
	char *log_level;
	char *counters_set; /* [counters] set: comma-separated set counters */
	char *counters_sum; /* [counters] sum: comma-separated sum counters */
	int64_t partitions;
	char *batch_topic;
	char *snapshot_topic;
	char *deadletter_topic; /* poison input goes here; "" = log only */
	int64_t snapshot_interval_ms;
	int64_t heartbeat_every;  /* full snapshot of every partition each N ticks */
	int64_t snapshot_max_counts;
	int64_t store_cache_mb;
	int64_t cache_counts;  /* applier: stored counts kept in memory (entries) */
	int64_t cache_members; /* applier: stored memberships kept in memory (entries) */
	int64_t hot_items;     /* keys the hot-items sketch keeps (metrics, /v1/hot) */
	bool store_sync;
	char *ops_listen; /* host:port of the ops API, "" = off */
	char *ops_token;  /* bearer token of the ops API, "" = none (warned) */
	char *bootstrap_file;
	cfg_kv *kafka;
} central_config;

extern const cfg_opt central_options[];
extern const size_t central_noptions;

/* Runs until central_stop(). 0 on a clean stop, or a negative code. */
int central_run(const central_config *cfg);
void central_stop(void);

#endif
