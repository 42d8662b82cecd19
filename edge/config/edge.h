/* edge.h - the edge daemon's configuration, as every module is handed
 * it (read-only after start-up); options.c is its table of keys.
 */
#ifndef EDGE_EDGE_H
#define EDGE_EDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "config.h"

typedef struct edge_config {
	char *id;
	char *region;
	char *data_dir;
	char *log_level;
	char *types;        /* comma-separated item types */
	char *set_counters; /* comma-separated */
	char *sum_counters; /* comma-separated */
	char *listen;
	char *tls_listen;
	char *tls_cert;
	char *tls_key;
	int64_t max_body;
	int64_t max_header_list;
	int64_t max_streams;
	int64_t idle_timeout_ms;
	int64_t request_timeout_ms;
	int64_t reset_burst;
	int64_t reset_rate;
	int64_t max_conns_per_addr;
	int64_t user_writes_per_min;
	int64_t addr_requests_per_s;
	int64_t addr_burst;
	int64_t limit_users;
	int64_t limit_addrs;
	bool dev_identity;       /* trust the X-User-Id header: local runs only */
	bool dev_identity_force; /* ... even on a non-loopback listener */
	char *jwt_keys;          /* kid:ALG:path,... (bearer.h); empty = no tokens */
	char *jwt_issuer;        /* required iss, empty = not checked */
	char *jwt_audience;      /* required aud, empty = not checked */
	int64_t jwt_leeway_s;    /* clock leeway for exp and nbf */
	int64_t batch_max_ops;   /* batch.max_ops: the ledger seals at this many */
	bool batch_sums;
	int64_t batch_max_age_ms;
	int64_t budget_mb;
	int64_t window_kb;
	int64_t cache_entries;
	int64_t api_max_items;
	int64_t api_max_ops; /* api.max_ops: ops per POST /v1/ops */
	int64_t idem_retention_s;
	int64_t max_age_s;
	int64_t stale_s;
	int64_t max_ahead_ms;
	char *central_ops;
	char *central_token;
	int64_t central_timeout_ms;
	int64_t readthrough_ttl_ms;
	int64_t member_ttl_ms;
	int64_t readthrough_entries;
	int64_t store_cache_mb;
	int64_t store_compaction_nice;
	bool store_compaction_idle;
	int64_t member_filter_mb;
	int64_t member_keep_s; /* retention of memberships; 0 = all kept */
	bool store_sync;
	bool group_commit;
	char *commit_thread; /* "auto", "true" or "false" */
	int64_t workers;
	int64_t partitions;
	int64_t clock_skew_ms; /* drills only: run this edge's clock ahead/behind */
	int64_t hot_items;     /* keys the hot-items sketch keeps; 0 = off */
	char *batch_topic;
	char *snapshot_topic;
	char *home_prefix;      /* the region's home stream: this, then edge.region */
	bool home_follow;       /* read it (docs/events.md, "Home streams") */
	char *deadletter_topic; /* refused snapshots go here; "" = log only */
	char *bootstrap_file;
	/* [changelog]: the region's Kafka, which holds a copy of every write
	 * before it is answered (edge/changelog); off unless brokers or
	 * bootstrap_file is set. */
	char *changelog_brokers;
	char *changelog_bootstrap_file;
	char *changelog_topic;
	int64_t changelog_partition;
	int64_t changelog_timeout_ms;
	char *changelog_instance;
	int64_t changelog_beat_ms;
	int64_t changelog_takeover_ms;
	char *changelog_durability;
	int64_t changelog_pipeline;  /* group copies in flight at once (ledger commit_depth) */
	char *changelog_seed_listen; /* serves this store to a peer that re-seeds */
	char *changelog_seed_token;
	char *changelog_seed_from;    /* the peers a store before the log's start copies */
	int64_t commit_interval_ms;   /* stored positions to the group, for tools; 0 = off */
	cfg_kv *kafka;                /* [kafka]: both clients (bus.h) */
	cfg_kv *kafka_producer;       /* [kafka.producer] */
	cfg_kv *kafka_consumer;       /* [kafka.consumer] */
	char *log_file;               /* "" = stderr; reopened on SIGHUP */
	int64_t drain_timeout_ms;     /* SIGTERM: answer, seal and hand over within this */
	int64_t ready_snapshot_age_s; /* /readyz: snapshots older than this: not ready */
	char *trusted_proxies;        /* http.trusted_proxies (proxy.h) */
	char *trusted_proxy_header;   /* the header they write (proxy.h) */
	char *demo_dir;               /* the demo page's files (client/); "" = off */
} edge_config;

/* The config's librdkafka sections, as bus.h takes them. */
static inline bus_props edge_bus_props(const edge_config *cfg)
{
	return (bus_props){cfg->kafka, cfg->kafka_producer, cfg->kafka_consumer};
}

extern const cfg_opt edge_options[];
extern const size_t edge_noptions;

#endif
