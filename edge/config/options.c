/* options.c - the edge's option table: every config key, its type,
 * default, bounds and help text (edge_config in edge.h). `edge --options`
 * renders it as docs/config.md; the config fuzzer loads files against it.
 * Immutable; any thread.
 */
#include <stddef.h>

#include "edge/config/edge.h"

#define OPT(sec, name, type, field, def, lo, hi, help)                                             \
	{                                                                                          \
		sec, name, type, offsetof(edge_config, field), def, lo, hi, false, help            \
	}

const cfg_opt edge_options[] = {
    OPT("edge", "id", CFG_STR, id, "edge-1", 0, 0, "edge id: unique per edge process"),
    OPT("edge", "region", CFG_STR, region, "local", 0, 0, "region this edge serves"),
    OPT("edge", "data_dir", CFG_STR, data_dir, "run/edge", 0, 0, "store directory"),
    OPT("edge", "log_level", CFG_STR, log_level, "info", 0, 0, "error, warn, info, debug"),
    OPT("log", "file", CFG_STR, log_file, "", 0, 0,
        "append log lines to this file (reopened on SIGHUP); empty = stderr"),
    OPT("edge", "drain_timeout_ms", CFG_INT, drain_timeout_ms, "10000", 100, 3600000,
        "SIGTERM: answer what was received, seal and hand batches to Kafka within this"),
    OPT("edge", "ready_snapshot_age_s", CFG_INT, ready_snapshot_age_s, "30", 1, 86400,
        "/readyz: not ready while a partition's newest snapshot is older than this"),
    OPT("clock", "skew_ms", CFG_INT, clock_skew_ms, "0", -86400000, 86400000,
        "drills only: the wall clock runs this far ahead (negative: behind)"),
    OPT("edge", "workers", CFG_INT, workers, "1", 1, 64,
        "HTTP event loops (threads) sharing the listeners, the store and Kafka"),
    OPT("edge", "types", CFG_STR, types, "post,reel,comment,story", 0, 0, "item types"),
    OPT("counters", "set", CFG_STR, set_counters, "likes,saves", 0, 0,
        "counters of distinct users"),
    OPT("counters", "sum", CFG_STR, sum_counters, "views,shares", 0, 0,
        "counters that add n per call"),
    OPT("http", "listen", CFG_STR, listen, "127.0.0.1:8081", 0, 0, "h2c address, empty = off"),
    OPT("http", "tls_listen", CFG_STR, tls_listen, "", 0, 0, "TLS (ALPN h2) address, empty = off"),
    OPT("http", "tls_cert", CFG_STR, tls_cert, "", 0, 0, "PEM certificate chain"),
    OPT("http", "tls_key", CFG_STR, tls_key, "", 0, 0, "PEM private key"),
    OPT("http", "max_body", CFG_INT, max_body, "65536", 0, 16777216, "request body cap, bytes"),
    OPT("http", "max_header_list", CFG_INT, max_header_list, "16384", 1024, 1048576,
        "header list cap, bytes"),
    OPT("http", "max_streams", CFG_INT, max_streams, "128", 1, 10000,
        "concurrent streams per connection"),
    OPT("http", "idle_timeout_ms", CFG_INT, idle_timeout_ms, "60000", 100, 3600000,
        "close a connection with no traffic for this long"),
    OPT("http", "request_timeout_ms", CFG_INT, request_timeout_ms, "10000", 100, 600000,
        "a request (or a TLS handshake, or the HTTP/2 preface) must be whole within this: "
        "else 408 (slowloris)"),
    OPT("http", "reset_burst", CFG_INT, reset_burst, "100", 1, 1000000,
        "HTTP/2 stream resets a client may send at once (rapid reset)"),
    OPT("http", "reset_rate", CFG_INT, reset_rate, "10", 1, 1000000,
        "and per second after that; over it: GOAWAY ENHANCE_YOUR_CALM, closed"),
    OPT("http", "max_conns_per_addr", CFG_INT, max_conns_per_addr, "256", 0, 1000000,
        "open connections from one client address; 0 = no cap"),
    OPT("http", "trusted_proxies", CFG_STR, trusted_proxies, "", 0, 0,
        "proxies (addresses, CIDR ranges, comma-separated) whose forwarding header "
        "(trusted_proxy_header) is believed: the loopback-only routes and the per-address "
        "request budget then judge the client it names (max_conns_per_addr still counts "
        "TCP peers); empty = none"),
    OPT("http", "trusted_proxy_header", CFG_STR, trusted_proxy_header, "x-forwarded-for", 0, 0,
        "the header the trusted proxies write: x-forwarded-for or forwarded (RFC 7239); "
        "only that one is read, the other is the client's own word"),
    OPT("demo", "dir", CFG_STR, demo_dir, "", 0, 0,
        "serve the demo page's files from this directory at /demo/ (the project's "
        "client/); empty = off"),
    OPT("limits", "user_writes_per_min", CFG_INT, user_writes_per_min, "100", 0, 100000000,
        "writes (ops) per user over a sliding minute, 429 past it; 0 = no limit"),
    OPT("limits", "addr_requests_per_s", CFG_INT, addr_requests_per_s, "1000", 0, 100000000,
        "requests without a valid identity per client address and second, 429 past it; "
        "0 = no limit"),
    OPT("limits", "addr_burst", CFG_INT, addr_burst, "2000", 0, 100000000,
        "of those, how many may come at once; 0 = twice the rate"),
    OPT("limits", "users", CFG_INT, limit_users, "262144", 512, 100000000,
        "users tracked for the write limit (32 bytes each)"),
    OPT("limits", "addrs", CFG_INT, limit_addrs, "65536", 512, 100000000,
        "client addresses tracked (32 bytes each)"),
    OPT("identity", "dev_header", CFG_BOOL, dev_identity, "false", 0, 0,
        "trust X-User-Id (local runs and sim only)"),
    OPT("identity", "dev_header_force", CFG_BOOL, dev_identity_force, "false", 0, 0,
        "allow dev_header on a non-loopback listener (sim's namespaces only)"),
    OPT("identity", "jwt_keys", CFG_STR, jwt_keys, "", 0, 0,
        "bearer token keys: comma list of kid:ALG:path, ALG HS256 (secret file), "
        "RS256 or ES256 (PEM public key); empty = no tokens"),
    OPT("identity", "issuer", CFG_STR, jwt_issuer, "", 0, 0,
        "tokens must carry this iss; empty = not checked"),
    OPT("identity", "audience", CFG_STR, jwt_audience, "", 0, 0,
        "tokens' aud must contain this; empty = not checked"),
    OPT("identity", "leeway_s", CFG_INT, jwt_leeway_s, "30", 0, 3600,
        "clock leeway for a token's exp and nbf, seconds"),
    OPT("batch", "max_ops", CFG_INT, batch_max_ops, "1000", 1, 100000,
        "seal a batch at this many ops"),
    OPT("batch", "sums", CFG_BOOL, batch_sums, "true", 0, 0,
        "a sealed batch carries one sum per sum counter, item and day (wire version 2) "
        "instead of an op per view; false while any central still reads only version 1"),
    OPT("batch", "max_age_ms", CFG_INT, batch_max_age_ms, "5000", 1, 3600000,
        "seal a batch when its first op is this old"),
    OPT("batch", "budget_mb", CFG_INT, budget_mb, "1024", 1, 1048576,
        "pending (unapplied) bytes past which writes get 503"),
    OPT("batch", "window_kb", CFG_INT, window_kb, "4096", 64, 1048576,
        "per partition, unapplied batch bytes this edge lets into Kafka at once"),
    OPT("cache", "entries", CFG_INT, cache_entries, "1000000", 2, 1000000000,
        "snapshot counts kept in memory: 85-171 bytes each (64-byte slots; a key "
        "of over 48 bytes adds its length), 128 MB at the default"),
    OPT("api", "max_items", CFG_INT, api_max_items, "100", 1, 1000, "items per GET /v1/counts"),
    OPT("api", "max_ops", CFG_INT, api_max_ops, "100", 1, 1000, "ops per POST /v1/ops"),
    OPT("api", "idempotency_retention_s", CFG_INT, idem_retention_s, "86400", 1, 2592000,
        "how long an Idempotency-Key answer is kept"),
    OPT("api", "max_age_s", CFG_INT, max_age_s, "2", 0, 3600, "count GETs: Cache-Control max-age"),
    OPT("api", "stale_while_revalidate_s", CFG_INT, stale_s, "10", 0, 86400,
        "count GETs: Cache-Control stale-while-revalidate"),
    OPT("api", "client_clock_ahead_ms", CFG_INT, max_ahead_ms, "60000", 0, 86400000,
        "a write whose client clock (hlc) is further ahead of ours is refused (409 clock_ahead)"),
    OPT("central", "ops", CFG_STR, central_ops, "127.0.0.1:9090", 0, 0,
        "central's ops API for read-through: host:port, or a shard map "
        "RANGES=ADDR[|ADDR...];... (docs/ops.md); empty = none (unknown counts: 503)"),
    {"central", "token", CFG_STR, offsetof(edge_config, central_token), "", 0, 0, true,
     "bearer token for central's ops API"},
    OPT("central", "timeout_ms", CFG_INT, central_timeout_ms, "300", 10, 60000,
        "read-through request timeout"),
    OPT("central", "count_ttl_ms", CFG_INT, readthrough_ttl_ms, "5000", 0, 3600000,
        "a read-through count is used this long unless snapshots catch up"),
    OPT("central", "member_ttl_ms", CFG_INT, member_ttl_ms, "10000", 0, 3600000,
        "a membership read through from central is used this long"),
    OPT("central", "cache_entries", CFG_INT, readthrough_entries, "100000", 2, 100000000,
        "read-through counts and memberships kept in memory (each)"),
    OPT("store", "cache_mb", CFG_INT, store_cache_mb, "64", 1, 65536, "LevelDB block cache"),
    OPT("store", "sync", CFG_BOOL, store_sync, "false", 0, 0, "fsync every write (power loss)"),
    OPT("store", "compaction_nice", CFG_INT, store_compaction_nice, "10", 0, 19,
        "nice value of LevelDB's compaction thread: on a busy core a compaction "
        "yields to the threads answering requests; 0 = the process's own. Used "
        "when compaction_idle is false or SCHED_IDLE is refused"),
    OPT("store", "compaction_idle", CFG_BOOL, store_compaction_idle, "true", 0, 0,
        "run LevelDB's compaction thread under SCHED_IDLE: it runs mostly on CPU "
        "time the other threads leave, and gives up its core to any thread that "
        "wakes"),
    OPT("store", "member_filter_mb", CFG_INT, member_filter_mb, "16", 0, 4096,
        "Bloom filter of recorded (user, item) pairs: a first like skips a store read; "
        "0 = none"),
    OPT("store", "member_keep_s", CFG_INT, member_keep_s, "2592000", 0, 315360000,
        "memberships whose last op is older are dropped, their items marked: hearts of "
        "those items' pairs the store lacks are then read through (30 days); 0 = keep all"),
    OPT("store", "group_commit", CFG_BOOL, group_commit, "true", 0, 0,
        "write the ops of one loop turn in one store write (one fsync)"),
    OPT("store", "commit_thread", CFG_STR, commit_thread, "auto", 0, 0,
        "group writes on a thread of their own, so the loops stage the next "
        "group during a write (its fsync, the changelog's acknowledgement) and "
        "no worker holds the ledger's lock across it: true, false, or auto "
        "(true with store.sync or the changelog, else false)"),
    OPT("topics", "partitions", CFG_INT, partitions, "16", 1, 4096,
        "partition count, fixed per deployment"),
    OPT("topics", "batches", CFG_STR, batch_topic, "likes.batches", 0, 0, "batch topic"),
    OPT("topics", "snapshots", CFG_STR, snapshot_topic, "likes.snapshots", 0, 0, "snapshot topic"),
    OPT("topics", "home_prefix", CFG_STR, home_prefix, "likes.home.", 0, 0,
        "the region's home stream is this followed by edge.region (docs/events.md)"),
    OPT("home", "follow", CFG_BOOL, home_follow, "false", 0, 0,
        "read the region's home stream: its users' likes made in other regions, from "
        "central, into this edge's store (central's feed.home_regions must name the region)"),
    OPT("bus", "deadletter_topic", CFG_STR, deadletter_topic, "likes.deadletter", 0, 0,
        "refused snapshots are copied here with their reason; empty = log only"),
    OPT("metrics", "hot_items", CFG_INT, hot_items, "100", 0, 10000,
        "items the hot-items sketch tracks (GET /v1/hot); 0 = off"),
    OPT("bus", "bootstrap_file", CFG_STR, bootstrap_file, "", 0, 0,
        "file holding bootstrap.servers (the embedded broker writes one)"),
    OPT("changelog", "brokers", CFG_STR, changelog_brokers, "", 0, 0,
        "bootstrap.servers of the region's Kafka, which holds a copy of every write "
        "before it is answered; empty with bootstrap_file empty = no changelog"),
    OPT("changelog", "bootstrap_file", CFG_STR, changelog_bootstrap_file, "", 0, 0,
        "file holding the region's bootstrap.servers (the embedded broker writes one)"),
    OPT("changelog", "topic", CFG_STR, changelog_topic, "likes.changelog", 0, 0,
        "the changelog topic"),
    OPT("changelog", "partition", CFG_INT, changelog_partition, "0", 0, 4095,
        "this edge's partition of the changelog topic: its own, no other edge's"),
    OPT("changelog", "timeout_ms", CFG_INT, changelog_timeout_ms, "1000", 100, 600000,
        "a write the region's Kafka has not acknowledged by then is refused (503)"),
    OPT("changelog", "instance", CFG_STR, changelog_instance, "", 0, 0,
        "this instance's name in its takeover records (its data center and host, say); "
        "empty = the host name and http.listen"),
    OPT("changelog", "beat_ms", CFG_INT, changelog_beat_ms, "500", 10, 60000,
        "the active instance appends a beat after this long with nothing else to append"),
    OPT("changelog", "takeover_ms", CFG_INT, changelog_takeover_ms, "2000", 50, 600000,
        "a standby instance takes over once the changelog has been silent this long, "
        "with the region's Kafka in reach (at least timeout_ms + 2 x beat_ms)"),
    OPT("changelog", "durability", CFG_STR, changelog_durability, "replicated", 0, 0,
        "replicated: a write the region's Kafka does not take is refused (503); local: it "
        "is kept on this machine's disk (fsync) and appended once the cluster is back, the "
        "edge marked degraded meanwhile"),
    OPT("changelog", "pipeline", CFG_INT, changelog_pipeline, "2", 1, 2,
        "group commits whose copies may be in flight at once: with 2, the next group's "
        "copy is sent while one waits for its acknowledgement, so a write waits for one "
        "round trip to the region's Kafka, not for the rest of another's first; 1 = one at "
        "a time (always so with durability = local)"),
    OPT("changelog", "seed_listen", CFG_STR, changelog_seed_listen, "", 0, 0,
        "host:port where this instance serves a copy of its store to a peer instance of "
        "the same edge that re-seeds (GET /v1/changelog/seed); empty = not served"),
    {"changelog", "seed_token", CFG_STR, offsetof(edge_config, changelog_seed_token), "", 0, 0,
     true,
     "bearer token the seed listener asks of peers, and sent to them; needed when "
     "seed_listen is not a loopback address"},
    OPT("changelog", "seed_from", CFG_STR, changelog_seed_from, "", 0, 0,
        "the other instances' seed_listen addresses (host:port, comma-separated): a store "
        "whose position lies before the changelog's start is replaced at start-up by the "
        "first fit copy among them; empty = never (such a store is unfit to take over)"),
    OPT("bus", "commit_interval_ms", CFG_INT, commit_interval_ms, "5000", 0, 3600000,
        "how often the stored snapshot positions are committed to the group likes-edge-ID "
        "for Kafka's lag tools (never read back); 0 = never"),
    {"kafka", NULL, CFG_PASSTHROUGH, offsetof(edge_config, kafka), NULL, 0, 0, false,
     "librdkafka properties both clients take (bootstrap.servers, security, socket.*), passed "
     "unchanged"},
    {"kafka.producer", NULL, CFG_PASSTHROUGH, offsetof(edge_config, kafka_producer), NULL, 0, 0,
     false, "librdkafka properties for the producer only (linger.ms, compression.type, ...)"},
    {"kafka.consumer", NULL, CFG_PASSTHROUGH, offsetof(edge_config, kafka_consumer), NULL, 0, 0,
     false, "librdkafka properties for the consumer only (fetch.wait.max.ms, ...)"},
};
const size_t edge_noptions = sizeof edge_options / sizeof edge_options[0];
