/* main.c - central: arguments, configuration, signals; then central_run.
 *
 *   central -c FILE [-s section.key=value]...
 *   central verify|stats|get|export|backup|prune|tail|home-move -c FILE ...   operator commands
 * (cli.h)
 *
 * SIGTERM/SIGINT: central_stop (the loop finishes the message it is
 * applying and stops). SIGHUP: central_reload (reopens log.file).
 */
#include <event2/thread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buildinfo.h"
#include "central/central.h"
#include "central/cli.h"
#include "log.h"

#define OPT(sec, name, type, field, def, lo, hi, help)                                             \
	{                                                                                          \
		sec, name, type, offsetof(central_config, field), def, lo, hi, false, help         \
	}
#define SECRET(sec, name, field, help)                                                             \
	{                                                                                          \
		sec, name, CFG_STR, offsetof(central_config, field), "", 0, 0, true, help          \
	}

const cfg_opt central_options[] = {
    OPT("central", "id", CFG_STR, id, "central-1", 0, 0, "instance id, named in snapshots"),
    OPT("central", "data_dir", CFG_STR, data_dir, "run/central", 0, 0, "store directory"),
    OPT("central", "partitions", CFG_STR, owned_partitions, "all", 0, 0,
        "partitions this instance owns: all, or numbers and ranges such as 0-3,8-11"),
    OPT("central", "log_level", CFG_STR, log_level, "info", 0, 0, "error, warn, info, debug"),
    OPT("log", "file", CFG_STR, log_file, "", 0, 0,
        "append log lines to this file (reopened on SIGHUP); empty = stderr"),
    OPT("central", "ready_max_lag", CFG_INT, ready_max_lag, "100000", 0, INT64_MAX,
        "/readyz: not ready while more input messages than this wait, summed"),
    OPT("central", "ready_kafka_age_s", CFG_INT, ready_kafka_age_s, "30", 1, 86400,
        "/readyz: not ready after this long without a fetch or a delivered snapshot"),
    OPT("central", "snapshot_interval_ms", CFG_INT, snapshot_interval_ms, "1000", 10, 600000,
        "how often changed counts are published"),
    OPT("central", "heartbeat_every", CFG_INT, heartbeat_every, "5", 0, 1000000,
        "every N snapshot ticks, publish every partition even if unchanged (0 = never)"),
    OPT("central", "snapshot_max_counts", CFG_INT, snapshot_max_counts, "10000", 1, 100000,
        "counts per snapshot message; more are split"),
    OPT("central", "cache_counts", CFG_INT, cache_counts, "500000", 0, 100000000,
        "stored counts and their region/day buckets kept in memory, about 100 B each; 0 = off"),
    OPT("central", "cache_members", CFG_INT, cache_members, "100000", 0, 100000000,
        "memberships read back at least once, kept in memory, about 100 B each; 0 = off"),
    OPT("central", "hot_items", CFG_INT, hot_items, "100", 1, 100000,
        "fastest-moving counts tracked over the last minute (GET /v1/hot, central stats)"),
    OPT("central", "ops_listen", CFG_STR, ops_listen, "127.0.0.1:9090", 0, 0,
        "ops API address, empty = off"),
    SECRET("central", "ops_token", ops_token,
           "bearer token the ops API requires; empty = no auth, allowed only on a loopback "
           "ops_listen (warned at start)"),
    OPT("counters", "set", CFG_STR, counters_set, "likes,saves", 0, 0,
        "set counters (distinct users per item), comma-separated"),
    OPT("counters", "sum", CFG_STR, counters_sum, "views,shares", 0, 0,
        "sum counters (add n per op), comma-separated"),
    OPT("store", "cache_mb", CFG_INT, store_cache_mb, "64", 1, 65536, "LevelDB block cache"),
    OPT("store", "sync", CFG_BOOL, store_sync, "false", 0, 0, "fsync every store write"),
    OPT("topics", "partitions", CFG_INT, partitions, "16", 1, 4096,
        "partition count, fixed per deployment"),
    OPT("topics", "batches", CFG_STR, batch_topic, "likes.batches", 0, 0, "input topic"),
    OPT("topics", "snapshots", CFG_STR, snapshot_topic, "likes.snapshots", 0, 0, "output topic"),
    OPT("topics", "changes", CFG_STR, changes_topic, "likes.changes", 0, 0,
        "the change feed: every membership flip and sum central applied (docs/events.md); "
        "empty = off"),
    OPT("topics", "milestones", CFG_STR, milestones_topic, "likes.milestones", 0, 0,
        "the change feed: a count reaching a threshold of feed.milestones for the first time; "
        "empty = off"),
    OPT("topics", "home_prefix", CFG_STR, home_prefix, "likes.home.", 0, 0,
        "a region's home stream is this followed by the region's name (docs/events.md, "
        "\"Home streams\")"),
    OPT("feed", "home_regions", CFG_STR, home_regions, "", 0, 0,
        "the regions whose users' membership changes made in another region go to their "
        "home stream, comma-separated; empty = none"),
    OPT("feed", "milestones", CFG_STR, feed_milestones, "10,100,1000,10000,100000,1000000", 0, 0,
        "the counts announced on the milestones topic, comma-separated"),
    OPT("feed", "timeout_ms", CFG_INT, feed_timeout_ms, "5000", 100, 600000,
        "a change feed chunk not acknowledged by then less a second (less half, below 2 s) "
        "fails; its partition starts again from the topics' tail, and a new publisher "
        "waits this long first"),
    OPT("feed", "session_ms", CFG_INT, feed_session_ms, "10000", 1000, 600000,
        "the feed group's session: how soon another instance of the shard takes over "
        "publishing from one gone silent (more than timeout_ms)"),
    OPT("bus", "deadletter_topic", CFG_STR, deadletter_topic, "likes.deadletter", 0, 0,
        "refused input is copied here with its reason; empty = log only"),
    OPT("bus", "bootstrap_file", CFG_STR, bootstrap_file, "", 0, 0,
        "file holding bootstrap.servers (the embedded broker writes one)"),
    OPT("bus", "commit_interval_ms", CFG_INT, commit_interval_ms, "5000", 0, 3600000,
        "how often the stored input positions are committed to the group likes-central-ID "
        "for Kafka's lag tools (never read back); 0 = never"),
    {"kafka", NULL, CFG_PASSTHROUGH, offsetof(central_config, kafka), NULL, 0, 0, false,
     "librdkafka properties both clients take (bootstrap.servers, security, socket.*), passed "
     "unchanged"},
    {"kafka.producer", NULL, CFG_PASSTHROUGH, offsetof(central_config, kafka_producer), NULL, 0, 0,
     false, "librdkafka properties for the producer only (linger.ms, compression.type, ...)"},
    {"kafka.consumer", NULL, CFG_PASSTHROUGH, offsetof(central_config, kafka_consumer), NULL, 0, 0,
     false, "librdkafka properties for the consumer only (fetch.wait.max.ms, ...)"},
};
const size_t central_noptions = sizeof central_options / sizeof central_options[0];

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		central_reload();
	else
		central_stop();
}

static void usage(FILE *out)
{
	fprintf(out, "usage: central -c CONFIG [-s section.key=value]... [-t]\n"
	             "       central --options   (every option as Markdown, as in docs/config.md)\n"
	             "       central verify|stats|get|export|backup|prune -c CONFIG ... (central "
	             "verify -h)\n"
	             "       central tail changes|milestones -c CONFIG ... (central tail -h)\n"
	             "       central home-move -c CONFIG USER REGION [--since MS]\n"
	             "       central --help | --version\n");
}

int main(int argc, char **argv)
{
	if (argc > 1 && cli_is_command(argv[1]))
		return cli_main(argc, argv, central_options, central_noptions);
	if (build_help_version(argc, argv, 1, "central", usage) == 0)
		return 0;
	if (argc == 2 && strcmp(argv[1], "--options") == 0) {
		cfg_write_markdown(central_options, central_noptions, stdout);
		return 0;
	}
	central_config cfg;
	char err[512] = "";
	int rc =
	    cfg_load_args(central_options, central_noptions, &cfg, argc, argv, err, sizeof err);
	if (rc == CFG_ARGS_CHECK) {
		rc = central_config_check(&cfg, err, sizeof err);
		if (rc)
			fprintf(stderr, "central: %s\n", err);
		else
			printf("central: config OK\n");
		cfg_free(central_options, central_noptions, &cfg);
		return rc ? 2 : 0;
	}
	if (rc) {
		if (rc < 0)
			fprintf(stderr, "central: %s\n", err);
		usage(rc < 0 ? stderr : stdout);
		return rc < 0 ? 2 : 0;
	}
	log_set_component("central");
	if (log_set_level(cfg.log_level)) {
		fprintf(stderr, "central: central.log_level: unknown level '%s'\n", cfg.log_level);
		return 2;
	}
	if (log_set_file(cfg.log_file, err, sizeof err)) {
		fprintf(stderr, "central: log.file: %s\n", err);
		cfg_free(central_options, central_noptions, &cfg);
		return 2;
	}
	evthread_use_pthreads();
	cfg_log(central_options, central_noptions, &cfg);

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* A write past a file size limit (LimitFSIZE=) fails with EFBIG, as
	 * one to a full disk does, and is handled as one, not a kill. */
	signal(SIGXFSZ, SIG_IGN);

	rc = central_run(&cfg);
	cfg_free(central_options, central_noptions, &cfg);
	return rc ? 1 : 0;
}
