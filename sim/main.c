/* main.c - the `sim` binary: parses arguments and dispatches subcommands.
 *
 *   sim broker [options]   the embedded Kafka (sim/broker/broker.c)
 *   sim kafka [options]    real Apache Kafka nodes (sim/kafka/serve.c)
 *   sim drill FILE [opts]  a partition drill against the real binaries
 *                          (sim/drill/run.c)
 *   sim nemesis SEED       a fault schedule drawn from a seed, run as a
 *                          drill (sim/drill/nemesis_run.c)
 *   sim bench-central      central's applier against a raw LevelDB loop
 *                          (sim/bench/bench_central.c)
 *   sim bench-views        views added up per item against views as ops
 *                          (sim/bench/bench_views.c)
 *   sim bench-feed         central's applier with the change feed on
 *                          against off (sim/bench/bench_feed.c)
 *   sim produce-batches    the feed benchmark's input into a batch topic
 *                          (sim/bench/produce.c)
 *   sim converge-probe     ack at one edge -> visible at another
 *                          (sim/drill/probe.c)
 *   sim fill               distinct items and users through an edge's
 *                          POST /v1/ops (sim/bench/fill.c)
 *   sim pace               an open-loop HTTP/2 load at a steady rate, each
 *                          request timed from when it was due
 *                          (sim/bench/pace.c)
 *   sim help               usage
 *
 * Unknown subcommands and options print usage to stderr and exit 2.
 * Single-threaded until a subcommand starts its own threads.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/bench/bench_central.h"
#include "sim/bench/bench_feed.h"
#include "sim/bench/bench_views.h"
#include "sim/broker/broker.h"
#include "buildinfo.h"
#include "sim/bench/fill.h"
#include "sim/bench/pace.h"
#include "sim/bench/produce.h"
#include "log.h"
#include "partition.h"
#include "sim/drill/nemesis_run.h"
#include "sim/drill/probe.h"
#include "sim/kafka/serve.h"
#include "sim/proc/service.h"
#include "sim/drill/run.h"
#include "wire.h"
#include "xmem.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sim <command> [options]\n"
	        "\n"
	        "commands:\n"
	        "  broker   run librdkafka's mock Kafka cluster on 127.0.0.1 until\n"
	        "           SIGINT or SIGTERM\n"
	        "  kafka    run a real Apache Kafka cluster (KRaft nodes, the jars of\n"
	        "           make deps) on 127.0.0.1 until SIGINT or SIGTERM\n"
	        "  drill    run a drill file (sim/drills/NAME.drill) against build/edge\n"
	        "           and build/central; exit 0 when every check held\n"
	        "  nemesis  draw a fault schedule from a seed (overlapping faults, all\n"
	        "           healed before the end), print it with its fault coverage,\n"
	        "           and run it as sim drill runs a drill file\n"
	        "  bench-central\n"
	        "           apply generated likes with central's applier, then with a\n"
	        "           raw LevelDB read-modify-write loop; print both rates\n"
	        "  bench-views\n"
	        "           seal a views-heavy load with each view as an op and with\n"
	        "           views added up per item; wire bytes and apply time of each\n"
	        "  bench-feed\n"
	        "           apply a mixed load (likes, unlikes, views) with central's\n"
	        "           applier, the change feed off and on in turns; both rates\n"
	        "  produce-batches\n"
	        "           build the same mixed load and produce it into a cluster's\n"
	        "           batch topic; key=value results on stdout\n"
	        "  converge-probe\n"
	        "           like fresh items at one edge, poll another edge's counts,\n"
	        "           and print how long each like took to show there\n"
	        "  fill     like N distinct items by M distinct users through an edge's\n"
	        "           POST /v1/ops; key=value results on stdout; exit 1 when any\n"
	        "           request or op failed\n"
	        "  pace     send HTTP/2 requests on a schedule (an even or a Poisson\n"
	        "           rate), time each from when it was due; key=value results on\n"
	        "           stdout; exit 1 when any request failed or was not 2xx\n"
	        "  help     print this text\n"
	        "\n"
	        "sim broker options:\n"
	        "  --brokers N             brokers in the cluster, 1..%d (default %d)\n"
	        "  --topic NAME:PARTITIONS create a topic; repeatable; replaces the\n"
	        "                          defaults likes.batches:16, likes.snapshots:16,\n"
	        "                          likes.deadletter:1, likes.changes:16,\n"
	        "                          likes.milestones:16, and make run's home\n"
	        "                          streams likes.home.{mumbai,virginia,singapore}:16\n"
	        "  --bootstrap-file PATH   write the bootstrap list there (one line,\n"
	        "                          atomically) once ready; removed on exit\n"
	        "  --pid-file PATH         write the process id there; removed on exit\n"
	        "  --control PATH          take broker faults on a Unix socket there, one\n"
	        "                          line per connection: down ID|all, up ID|all,\n"
	        "                          rtt ID|all MS, errors N (the next N produce\n"
	        "                          requests refused); answered ok or error REASON\n"
	        "  --fail-over             place partition leaders (p on broker\n"
	        "                          p %% N + 1) and move them off a broker set down\n"
	        "  --idle                  run the cluster's thread under SCHED_IDLE\n"
	        "  --log-level LEVEL       error, warn, info (default) or debug\n"
	        "  --help                  print this text\n"
	        "\n"
	        "sim kafka options:\n"
	        "  --nodes N               KRaft nodes, each broker and controller, 1..%d\n"
	        "                          (default 1); more than one: broker.rack zoneK\n"
	        "  --dir DIR               the nodes' files (required; made if missing)\n"
	        "  --topic NAME:PARTITIONS create a topic (repeatable), its replication\n"
	        "                          and configs from configs/deploy/topics.conf\n"
	        "  --heap-mb N             each node's heap (default %d)\n"
	        "  --full-jit              the JVM's optimising compiler too (benchmarks);\n"
	        "                          without it the quick one only, lean at start\n"
	        "  --prop KEY=VALUE        a broker property over the deploy's (repeatable)\n"
	        "  --topic-config KEY=VALUE  a config of every topic created (repeatable)\n"
	        "  --bootstrap-file, --pid-file, --control PATH  as sim broker's; the\n"
	        "                          control socket takes kill|down, pause, resume,\n"
	        "                          start|up, restart, wipe ID|all; leader TOPIC\n"
	        "                          PARTITION; pid ID; in-sync MS [running]\n"
	        "  --log-level LEVEL       error, warn, info (default) or debug\n"
	        "\n"
	        "sim drill FILE options:\n"
	        "  --short                 the drill's short version\n"
	        "  --duration S            the full run lasts S seconds instead of the\n"
	        "                          drill's duration (steps keep their places)\n"
	        "  --out DIR               report dir (default build/drills/NAME[-short])\n"
	        "  --bin DIR               where edge and central are (default build)\n"
	        "  --run-root DIR          parent of the run dir (default /tmp)\n"
	        "  --keep                  keep the run dir (always kept on failure)\n"
	        "  --kafka embedded|real   every Kafka cluster of the run embedded (sim\n"
	        "                          broker) or real (sim kafka), whatever the drill\n"
	        "                          says; a real run's report goes to\n"
	        "                          build/drills/NAME-real[-short]\n"
	        "  --no-netns              run every daemon in sim's namespace, as on a\n"
	        "                          machine without namespaces (drills that cut\n"
	        "                          paths are skipped)\n"
	        "  --log-level LEVEL       error, warn, info (default) or debug\n"
	        "\n"
	        "sim nemesis SEED options (and sim drill's --out DIR as --dir DIR,\n"
	        "--short, --bin, --run-root, --keep, --kafka, --log-level):\n"
	        "  --minutes M             the run's length (default 3; 1.5 with --short)\n"
	        "  --regions N             (default 3)   --centrals N   (default 1)\n"
	        "  --standby 0|1           two instances per region (default 1)\n"
	        "  --regional-kafka 0|1    a Kafka cluster per region (default 1)\n"
	        "  --rate N                about N faults start a minute (default 4)\n"
	        "  --max-overlap N         faults at once at most, 1..%d (default 3)\n"
	        "  --mix KIND=W,...        weights of the fault kinds (0: never); kinds\n"
	        "                          in docs/drills.md, \"The nemesis\"\n"
	        "  --out FILE              write the drawn drill file there (default\n"
	        "                          REPORT_DIR/nemesis-SEED.drill)\n"
	        "  --dry-run               draw, write and print; run nothing\n"
	        "  --replay FILE           run a saved schedule instead (no SEED): the\n"
	        "                          same steps and seeded ops, not the same timing\n"
	        "  --shrink FILE           shrink a failing schedule (no SEED): drop and\n"
	        "                          shorten its faults, keep what still fails\n"
	        "  --shrink-failing        shrink the drawn or replayed schedule if it fails\n"
	        "  --shrink-runs K         a candidate still fails if 1 of K runs does (2)\n"
	        "  --shrink-budget S       start no run S seconds after the first (1800)\n"
	        "\n"
	        "sim bench-views options:\n"
	        "  --ops N                 ops (default 1000000)\n"
	        "  --views-pct N           share of the ops that are views (default 90)\n"
	        "  --viral-pct N           share of the views on one reel (default 50)\n"
	        "  --items N               items (default 100000)\n"
	        "  --ops-per-batch N       ops per sealed batch (default 1000)\n"
	        "  --partitions N          Kafka partitions (default 16)\n"
	        "  --dir PATH              parent of the temp stores (default /tmp)\n"
	        "  --json                  one JSON object on stdout (table on stderr)\n"
	        "\n"
	        "sim bench-central options:\n"
	        "  --ops N                 likes (default 1000000)\n"
	        "  --items N               items, Zipf-popular (default 100000)\n"
	        "  --users N               distinct users, cycled (default: one per like)\n"
	        "  --ops-per-batch N       likes per wire batch (default 1000)\n"
	        "  --partitions N          Kafka partitions (default 16)\n"
	        "  --dir PATH              parent of the temp stores (default /tmp)\n"
	        "  --homes                 every like names its user's home region, so\n"
	        "                          central also writes its home index\n"
	        "  --json                  one JSON object on stdout (table on stderr)\n"
	        "  --log-level LEVEL       error, warn, info (default) or debug\n"
	        "\n"
	        "sim bench-feed and sim produce-batches options (the load):\n"
	        "  --ops N                 ops in all (default 1000000)\n"
	        "  --items N               items, Zipf-popular (default 100000)\n"
	        "  --users N               users liking and viewing (default 200000)\n"
	        "  --views-pct N           share of the ops that are views (default 30)\n"
	        "  --unlike-pct N          share that take back a recent like (default 10)\n"
	        "  --ops-per-batch N       ops per edge batch (default 1000)\n"
	        "  --partitions N          Kafka partitions (default 16)\n"
	        "  --log-level LEVEL       error, warn, info (default) or debug\n"
	        "\n"
	        "sim bench-feed options (and the load's):\n"
	        "  --rounds N              runs each way, the order flipped each round,\n"
	        "                          1..%d (default 3)\n"
	        "  --trim-every N          rounds of messages between drops of the feed's\n"
	        "                          records, as the publisher drops them; 0 keeps\n"
	        "                          them (default 1)\n"
	        "  --dir PATH              parent of the temp stores (default /tmp)\n"
	        "  --json                  one JSON object on stdout (table on stderr)\n"
	        "\n"
	        "sim produce-batches options (and the load's):\n"
	        "  --bootstrap-file PATH   the cluster's bootstrap list (required)\n"
	        "  --topic NAME            the batch topic (default likes.batches)\n"
	        "  --timeout-ms N          for every message to be delivered\n"
	        "                          (default 120000)\n"
	        "\n"
	        "sim converge-probe options (both edges must trust X-User-Id):\n"
	        "  --a PORT                edge that takes the likes (127.0.0.1)\n"
	        "  --b PORT                edge whose counts are polled (127.0.0.1)\n"
	        "  --duration-ms N         how long likes are sent (default 10000)\n"
	        "  --interval-ms N         between two likes (default 20)\n"
	        "  --poll-ms N             between two polls of B: the resolution\n"
	        "                          (default 2)\n"
	        "  --timeout-ms N          a like not visible by then is lost\n"
	        "                          (default 30000)\n"
	        "  --batch-items N         items per batch GET, 1..100 (default 100)\n"
	        "  --max-pending N         likes waiting to show at once (default 1000)\n"
	        "  --prefix S              item ids are S<n>, users u-S<n>\n"
	        "                          (default cvg<pid>-)\n"
	        "  --json                  one JSON object on stdout (table on stderr)\n"
	        "  --log-level LEVEL       error, warn (default), info or debug\n"
	        "\n"
	        "sim fill options:\n"
	        "  --port N                the edge's HTTP port on 127.0.0.1 (required)\n"
	        "  --items N               distinct items, each liked once (default 1000000)\n"
	        "  --users N               distinct users, cycled (default 100000)\n"
	        "  --per-request N         ops per request, 1..%d (default items/users)\n"
	        "  --conns N               connections, one request in flight each (8)\n"
	        "  --timeout-ms N          per request (default 10000)\n"
	        "  --max-seconds N         stop sending after N seconds (default: none)\n"
	        "  --max-failures N        stop sending after N failed requests (100)\n"
	        "  --item-prefix S         item i is S<i> (default post:m)\n"
	        "  --user-prefix S         user u is S<u> (default mu)\n"
	        "  --counter NAME          a set counter (default likes)\n"
	        "  --home REGION           every user's home region (X-User-Home; default none)\n"
	        "  --quiet                 no progress lines on stderr\n"
	        "\n"
	        "sim pace options:\n"
	        "  --port N                the server's h2c port on 127.0.0.1 (required)\n"
	        "  --uris FILE             paths (or http URLs), one per line; each\n"
	        "                          connection walks them from the top (required)\n"
	        "  --rate N                requests per second in all (default 1000)\n"
	        "  --requests N            requests due in all (default 10000)\n"
	        "  --conns N               connections, 1..%d (default 4)\n"
	        "  --depth N               streams open per connection at most\n"
	        "                          (default 16)\n"
	        "  --poisson               exponential gaps between due times\n"
	        "  --user S                connection k sends X-User-Id: S<k>\n"
	        "  --body FILE             POST this (at most 64 KB); default GET\n"
	        "  --log FILE              per request: due time (us since the epoch),\n"
	        "                          status (-1: none), latency (us), tab-separated\n"
	        "  --timeout-ms N          wait for answers this long after the last due\n"
	        "                          time (default 10000)\n",
	        SIM_BROKER_BROKERS_MAX, SIM_BROKER_DEFAULT_BROKERS, SIM_KAFKA_NODES_MAX,
	        SIM_KAFKA_HEAP_MB, NEMESIS_OVERLAP_MAX, BENCH_FEED_ROUNDS_MAX, FILL_OPS_MAX,
	        PACE_CONNS_MAX);
}

static int bad_usage(const char *what, const char *arg)
{
	if (what)
		fprintf(stderr, "sim: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	usage(stderr);
	return 2;
}

/* --- options --------------------------------------------------------------- */

/* What an option does with its value. */
typedef enum {
	OPTK_NUM,  /* a whole number in [lo, hi], times scale, into a 4- or 8-byte field */
	OPTK_STR,  /* the value itself, into a const char * field */
	OPTK_FLAG, /* no value; sets a bool field */
	OPTK_CALL, /* the value handed to call(dst, value) */
	OPTK_LOG,  /* --log-level LEVEL */
	OPTK_HELP  /* --help: usage on stdout, exit 0 */
} opt_kind;

/* One option of a command: its long name, kind and where it goes. A
 * command's options are one table of these, which parse_opts reads. */
typedef struct sim_opt {
	const char *name;
	opt_kind kind;
	void *dst;
	size_t size;     /* OPTK_NUM: the field's size */
	uint64_t lo, hi; /* OPTK_NUM: bounds */
	uint64_t scale;  /* OPTK_NUM: 0 = 1 */
	const char *bad; /* OPTK_NUM: the usage message for a bad value */
	/* OPTK_CALL: 0, or the exit status of a usage error it reported */
	int (*call)(void *dst, const char *arg);
} sim_opt;

_Static_assert(sizeof(int) == sizeof(uint32_t), "int options are stored as 32 bits");

#define OPT_NUM(n, l, h, field, sc)                                                                \
	{                                                                                          \
		.name = (n), .kind = OPTK_NUM, .dst = &(field), .size = sizeof(field), .lo = (l),  \
		.hi = (h), .scale = (sc), .bad = "bad --" n                                        \
	}
#define OPT_STR(n, field)                                                                          \
	{                                                                                          \
		.name = (n), .kind = OPTK_STR, .dst = &(field)                                     \
	}
#define OPT_FLAG(n, field)                                                                         \
	{                                                                                          \
		.name = (n), .kind = OPTK_FLAG, .dst = &(field)                                    \
	}
#define OPT_CALL(n, fn, ctx)                                                                       \
	{                                                                                          \
		.name = (n), .kind = OPTK_CALL, .dst = (ctx), .call = (fn)                         \
	}
#define OPT_LOG                                                                                    \
	{                                                                                          \
		.name = "log-level", .kind = OPTK_LOG                                              \
	}
#define OPT_HELP                                                                                   \
	{                                                                                          \
		.name = "help", .kind = OPTK_HELP                                                  \
	}
#define NOPTS(t) (sizeof(t) / sizeof((t)[0]))
#define OPTS_MAX 24

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* Stores o's value v (checked against its kind); 0, or the exit status
 * of a usage error. */
static int opt_store(const sim_opt *o, const char *v)
{
	switch (o->kind) {
	case OPTK_NUM: {
		uint64_t n;
		if (parse_u64(v, o->lo, o->hi, &n))
			return bad_usage(o->bad, v);
		if (o->scale)
			n *= o->scale;
		if (o->size == sizeof(uint64_t))
			*(uint64_t *)o->dst = n;
		else
			*(uint32_t *)o->dst = (uint32_t)n; /* bounds keep it in range */
		return 0;
	}
	case OPTK_STR: *(const char **)o->dst = v; return 0;
	case OPTK_FLAG: *(bool *)o->dst = true; return 0;
	case OPTK_CALL: return o->call(o->dst, v);
	case OPTK_LOG: return log_set_level(v) < 0 ? bad_usage("bad --log-level", v) : 0;
	case OPTK_HELP: break;
	}
	return 0;
}

/* Parses a command's options (argv[0] is the command) with the table
 * opts[0..n). -1 when every option was good and the command goes on
 * (with args, optind indexes its other arguments; without, any is an
 * error); otherwise the command's exit status: 0 after --help, 2 after
 * a usage error (reported). */
static int parse_opts(int argc, char **argv, const sim_opt *opts, size_t n, bool args)
{
	struct option longopts[OPTS_MAX + 1];
	if (n > OPTS_MAX)
		abort(); /* a table larger than this file allows for */
	for (size_t i = 0; i < n; i++) {
		bool takes = opts[i].kind != OPTK_FLAG && opts[i].kind != OPTK_HELP;
		longopts[i] = (struct option){opts[i].name, takes ? required_argument : no_argument,
		                              NULL, 256 + (int)i};
	}
	longopts[n] = (struct option){NULL, 0, NULL, 0};
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (c == ':')
			return bad_usage("option needs a value", argv[optind - 1]);
		if (c < 256 || c >= 256 + (int)n)
			return bad_usage("unknown option", argv[optind - 1]);
		const sim_opt *o = &opts[c - 256];
		if (o->kind == OPTK_HELP) {
			usage(stdout);
			return 0;
		}
		int rc = opt_store(o, optarg);
		if (rc)
			return rc;
	}
	if (!args && optind < argc)
		return bad_usage("unexpected argument", argv[optind]);
	return -1;
}

/* --- commands -------------------------------------------------------------- */

typedef struct broker_topics {
	sim_broker_topic *v;
	size_t n;
} broker_topics;

static int add_topic(void *dst, const char *arg)
{
	broker_topics *t = dst;
	if (t->n == SIM_BROKER_TOPICS_MAX)
		return bad_usage("too many --topic options", NULL);
	t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
	if (sim_broker_parse_topic(arg, &t->v[t->n]) < 0)
		return bad_usage("bad --topic (want NAME:PARTITIONS)", arg);
	t->n++;
	return 0;
}

/* --brokers N, read with strtol as it always was. */
static int parse_brokers(void *dst, const char *arg)
{
	char *end;
	long n = strtol(arg, &end, 10);
	if (*arg == '\0' || *end || n < 1 || n > SIM_BROKER_BROKERS_MAX)
		return bad_usage("bad --brokers", arg);
	*(int *)dst = (int)n;
	return 0;
}

static int cmd_broker(int argc, char **argv)
{
	sim_broker_opts o = {0};
	broker_topics topics = {0};
	const char *bootstrap_file = NULL, *pid_file = NULL, *control = NULL;
	const sim_opt opts[] = {
	    OPT_CALL("brokers", parse_brokers, &o.brokers),
	    OPT_CALL("topic", add_topic, &topics),
	    OPT_STR("bootstrap-file", bootstrap_file),
	    OPT_STR("pid-file", pid_file),
	    OPT_STR("control", control),
	    OPT_FLAG("fail-over", o.fail_over),
	    OPT_FLAG("idle", o.idle),
	    OPT_LOG,
	    OPT_HELP,
	};
	int rc = parse_opts(argc, argv, opts, NOPTS(opts), false);
	if (rc < 0) {
		o.topics = topics.v;
		o.ntopics = topics.n;
		log_set_component("sim/broker/broker");
		rc = sim_broker_serve(&o, bootstrap_file, pid_file, control) < 0 ? 1 : 0;
	}
	free(topics.v);
	return rc;
}

typedef struct strs {
	const char **v;
	size_t n;
} strs;

/* A repeatable KEY=VALUE option into a NULL-terminated list. */
static int add_kv(void *dst, const char *arg)
{
	strs *l = dst;
	if (!strchr(arg, '=') || arg[0] == '=' || l->n == 64)
		return bad_usage("bad KEY=VALUE (or too many)", arg);
	l->v = xrealloc(l->v, (l->n + 2) * sizeof *l->v);
	l->v[l->n++] = arg;
	l->v[l->n] = NULL;
	return 0;
}

typedef struct kafka_topics {
	sim_kafka_topic *v;
	size_t n;
} kafka_topics;

static int add_kafka_topic(void *dst, const char *arg)
{
	kafka_topics *t = dst;
	sim_broker_topic bt;
	if (t->n == SIM_KAFKA_TOPICS_MAX)
		return bad_usage("too many --topic options", NULL);
	if (sim_broker_parse_topic(arg, &bt) < 0)
		return bad_usage("bad --topic (want NAME:PARTITIONS)", arg);
	t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
	memset(&t->v[t->n], 0, sizeof t->v[t->n]);
	snprintf(t->v[t->n].name, sizeof t->v[t->n].name, "%s", bt.name);
	t->v[t->n].partitions = bt.partitions;
	t->n++;
	return 0;
}

static int cmd_kafka(int argc, char **argv)
{
	sim_kafka_opts o = {.nodes = 1};
	kafka_topics topics = {0};
	strs props = {0}, tconfs = {0};
	const char *bootstrap_file = NULL, *pid_file = NULL, *control = NULL;
	const sim_opt opts[] = {
	    OPT_NUM("nodes", 1, SIM_KAFKA_NODES_MAX, o.nodes, 0),
	    OPT_STR("dir", o.dir),
	    OPT_CALL("topic", add_kafka_topic, &topics),
	    OPT_NUM("heap-mb", 64, 16384, o.heap_mb, 0),
	    OPT_FLAG("full-jit", o.full_jit),
	    OPT_CALL("prop", add_kv, &props),
	    OPT_CALL("topic-config", add_kv, &tconfs),
	    OPT_STR("bootstrap-file", bootstrap_file),
	    OPT_STR("pid-file", pid_file),
	    OPT_STR("control", control),
	    OPT_LOG,
	    OPT_HELP,
	};
	int rc = parse_opts(argc, argv, opts, NOPTS(opts), false);
	if (rc < 0 && !o.dir)
		rc = bad_usage("sim kafka needs --dir", NULL);
	char jars[PATH_MAX], deploy[PATH_MAX], err[512];
	if (rc < 0 && sim_kafka_find_files(jars, deploy, sizeof jars, err, sizeof err)) {
		fprintf(stderr, "sim kafka: %s\n", err);
		rc = 1;
	}
	if (rc < 0) {
		o.jars = jars;
		o.deploy = deploy;
		o.topics = topics.v;
		o.ntopics = topics.n;
		o.props = props.v;
		o.topic_configs = tconfs.v;
		o.interrupted = service_interrupted;
		log_set_component("sim/kafka");
		rc = sim_kafka_serve(&o, bootstrap_file, pid_file, control) < 0 ? 1 : 0;
	}
	free(topics.v);
	free(props.v);
	free(tconfs.v);
	return rc;
}

/* --kafka WORD into a run's kafka; 0, or a usage error's status. */
static int set_kafka(run_opts *o, const char *kafka)
{
	if (kafka && strcmp(kafka, "real") == 0)
		o->kafka = RUN_KAFKA_REAL;
	else if (kafka && strcmp(kafka, "embedded") == 0)
		o->kafka = RUN_KAFKA_EMBEDDED;
	else if (kafka)
		return bad_usage("bad --kafka (embedded or real)", kafka);
	return 0;
}

static int cmd_drill(int argc, char **argv)
{
	run_opts o = {.bin_dir = "build", .run_root = "/tmp"};
	const char *kafka = NULL;
	uint64_t secs = 0;
	const sim_opt opts[] = {
	    OPT_FLAG("short", o.short_run),
	    {.name = "duration",
	     .kind = OPTK_NUM,
	     .dst = &secs,
	     .size = sizeof secs,
	     .lo = 1,
	     .hi = 86400,
	     .bad = "bad --duration (seconds, 1..86400)"},
	    OPT_STR("out", o.out_dir),
	    OPT_STR("bin", o.bin_dir),
	    OPT_STR("run-root", o.run_root),
	    OPT_FLAG("keep", o.keep),
	    OPT_FLAG("no-netns", o.no_netns),
	    OPT_STR("kafka", kafka),
	    OPT_LOG,
	    OPT_HELP,
	};
	int rc = parse_opts(argc, argv, opts, NOPTS(opts), true);
	if (rc >= 0)
		return rc;
	if ((rc = set_kafka(&o, kafka)))
		return rc;
	if (secs)
		o.duration_s = (double)secs;
	if (optind + 1 != argc)
		return bad_usage("sim drill takes one drill file", NULL);
	o.drill_path = argv[optind];
	char out[512];
	if (!o.out_dir) {
		const char *base = strrchr(o.drill_path, '/');
		base = base ? base + 1 : o.drill_path;
		size_t n = strcspn(base, ".");
		snprintf(out, sizeof out, "build/drills/%.*s%s%s", (int)n, base,
		         o.kafka == RUN_KAFKA_REAL ? "-real" : "", o.short_run ? "-short" : "");
		o.out_dir = out;
		if (mkdir("build", 0755) && errno != EEXIST)
			return bad_usage("cannot make build/", NULL);
		if (mkdir("build/drills", 0755) && errno != EEXIST)
			return bad_usage("cannot make build/drills/", NULL);
	}
	log_set_component("sim/drill/drill");
	signal(SIGPIPE, SIG_IGN);
	return run_drill(&o);
}

/* --minutes M: a decimal number of minutes into whole seconds. */
static int nemesis_minutes(void *dst, const char *arg)
{
	char *end;
	errno = 0;
	double m = strtod(arg, &end);
	double lo = NEMESIS_DURATION_MIN_S / 60.0, hi = NEMESIS_DURATION_MAX_S / 60.0;
	if (*arg < '0' || *arg > '9' || *end || errno || !(m >= lo && m <= hi))
		return bad_usage("bad --minutes (1..60)", arg);
	*(unsigned *)dst = (unsigned)(m * 60 + 0.5);
	return 0;
}

static int nemesis_mix(void *dst, const char *arg)
{
	char err[256];
	if (nemesis_parse_mix(dst, arg, err, sizeof err))
		return bad_usage(err, NULL);
	return 0;
}

static int cmd_nemesis(int argc, char **argv)
{
	nemesis_run_opts o = {.run = {.bin_dir = "build", .run_root = "/tmp"}};
	nemesis_opts *k = &o.knobs;
	nemesis_opts_default(k);
	const char *kafka = NULL;
	unsigned secs = 0, standby = 1, regional = 1;
	const sim_opt opts[] = {
	    OPT_CALL("minutes", nemesis_minutes, &secs),
	    OPT_NUM("regions", 1, DRILL_REGIONS_MAX, k->regions, 0),
	    OPT_NUM("centrals", 1, DRILL_CENTRALS_MAX, k->centrals, 0),
	    OPT_NUM("standby", 0, 1, standby, 0),
	    OPT_NUM("regional-kafka", 0, 1, regional, 0),
	    OPT_NUM("rate", 1, NEMESIS_RATE_MAX, k->rate, 0),
	    OPT_NUM("max-overlap", 1, NEMESIS_OVERLAP_MAX, k->max_overlap, 0),
	    OPT_CALL("mix", nemesis_mix, k),
	    OPT_STR("out", o.file),
	    OPT_FLAG("dry-run", o.dry_run),
	    OPT_STR("replay", o.replay),
	    OPT_STR("shrink", o.shrink),
	    OPT_FLAG("shrink-failing", o.shrink_failing),
	    OPT_NUM("shrink-runs", 1, 20, o.shrink_runs, 0),
	    OPT_NUM("shrink-budget", 60, 86400, o.shrink_budget_s, 0),
	    OPT_FLAG("short", o.run.short_run),
	    OPT_STR("dir", o.run.out_dir),
	    OPT_STR("bin", o.run.bin_dir),
	    OPT_STR("run-root", o.run.run_root),
	    OPT_FLAG("keep", o.run.keep),
	    OPT_STR("kafka", kafka),
	    OPT_LOG,
	    OPT_HELP,
	};
	int rc = parse_opts(argc, argv, opts, NOPTS(opts), true);
	if (rc >= 0 || (rc = set_kafka(&o.run, kafka)))
		return rc;
	k->standby = standby;
	k->regional_kafka = regional;
	k->duration_s = secs ? secs : o.run.short_run ? 90 : 180;
	if (o.shrink && (optind != argc || o.file || o.replay))
		return bad_usage("sim nemesis --shrink FILE takes no SEED, --out or --replay",
		                 NULL);
	if (o.shrink) {
		log_set_component("sim/drill/nemesis");
		return nemesis_shrink(&o, o.shrink);
	}
	if (o.replay && (optind != argc || o.file))
		return bad_usage("sim nemesis --replay FILE takes no SEED and no --out", NULL);
	if (!o.replay && (optind + 1 != argc || parse_u64(argv[optind], 0, UINT64_MAX, &k->seed)))
		return bad_usage("sim nemesis takes one SEED (a whole number)", NULL);
	log_set_component("sim/drill/nemesis");
	signal(SIGPIPE, SIG_IGN);
	return nemesis_run(&o);
}

/* A whole decimal number in [lo, hi]. */
static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return ERR_INVAL;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return ERR_INVAL;
	*out = n;
	return 0;
}

/* --- measuring commands ----------------------------------------------------- */

/* A measuring command once its options are good: what runs, how its
 * results print, and what in them makes the exit status 1. Each command
 * keeps its options and results in a struct of its own, ctx, which the
 * three functions are handed. */
typedef struct sim_job {
	const char *name;      /* in its error lines: "sim NAME: ..." */
	const char *component; /* the log component it runs under; NULL: none */
	bool sockets;          /* it talks to servers: EPIPE, not SIGPIPE */
	bool json;             /* --json: the table on stderr, JSON on stdout */
	bool print_failed;     /* the results print also when the run failed */
	void *ctx;
	/* 0, or an error with a message in err. */
	int (*run)(void *ctx, char *err, size_t errlen);
	/* The results as a table, or with json as one JSON object. */
	void (*print)(const void *ctx, FILE *f, bool json);
	/* NULL, or 0 when the results hold; else a message in why. */
	int (*verdict)(const void *ctx, char *why, size_t whylen);
} sim_job;

/* Runs j and prints its results; the command's exit status. */
static int job_main(const sim_job *j)
{
	if (j->component)
		log_set_component(j->component);
	if (j->sockets)
		signal(SIGPIPE, SIG_IGN);
	char err[512];
	int rc = j->run(j->ctx, err, sizeof err);
	if (rc == 0 || j->print_failed) {
		j->print(j->ctx, j->json ? stderr : stdout, false);
		if (j->json)
			j->print(j->ctx, stdout, true);
	}
	if (rc == 0 && j->verdict)
		rc = j->verdict(j->ctx, err, sizeof err);
	if (rc) {
		fprintf(stderr, "sim %s: %s\n", j->name, err);
		return 1;
	}
	return 0;
}

typedef struct central_job {
	bench_central_opts o;
	bench_central_result r;
} central_job;

static int central_run(void *ctx, char *err, size_t errlen)
{
	central_job *c = ctx;
	return bench_central_run(&c->o, &c->r, err, errlen);
}

static void central_print(const void *ctx, FILE *f, bool json)
{
	const central_job *c = ctx;
	if (json)
		bench_central_print_json(f, &c->r);
	else
		bench_central_print_table(f, &c->r);
}

static int cmd_bench_central(int argc, char **argv)
{
	central_job c;
	bench_central_opts_default(&c.o);
	sim_job j = {.name = "bench-central",
	             .component = "sim/bench",
	             .ctx = &c,
	             .run = central_run,
	             .print = central_print};
	const sim_opt opts[] = {
	    OPT_NUM("ops", 1, BENCH_CENTRAL_OPS_MAX, c.o.ops, 0),
	    OPT_NUM("items", 1, BENCH_CENTRAL_ITEMS_MAX, c.o.items, 0),
	    OPT_NUM("users", 1, BENCH_CENTRAL_OPS_MAX, c.o.users, 0),
	    OPT_NUM("ops-per-batch", 1, WIRE_MAX_OPS, c.o.ops_per_batch, 0),
	    OPT_NUM("partitions", 1, PARTITION_MAX, c.o.partitions, 0),
	    OPT_STR("dir", c.o.dir),
	    OPT_FLAG("homes", c.o.homes),
	    OPT_FLAG("json", j.json),
	    OPT_LOG,
	    OPT_HELP,
	};
	int rc = parse_opts(argc, argv, opts, NOPTS(opts), false);
	if (rc >= 0)
		return rc;
	if (c.o.users > c.o.ops)
		return bad_usage("--users above --ops", NULL);
	return job_main(&j);
}

typedef struct views_job {
	bench_views_opts o;
	bench_views_result r;
} views_job;

static int views_run(void *ctx, char *err, size_t errlen)
{
	views_job *v = ctx;
	return bench_views_run(&v->o, &v->r, err, errlen);
}

static void views_print(const void *ctx, FILE *f, bool json)
{
	const views_job *v = ctx;
	bench_views_print(f, &v->o, &v->r, json);
}

static int cmd_bench_views(int argc, char **argv)
{
	views_job v;
	bench_views_opts_default(&v.o);
	sim_job j = {.name = "bench-views",
	             .component = "sim/bench",
	             .ctx = &v,
	             .run = views_run,
	             .print = views_print};
	const sim_opt opts[] = {
	    OPT_NUM("ops", 1, BENCH_VIEWS_OPS_MAX, v.o.ops, 0),
	    OPT_NUM("views-pct", 0, 100, v.o.views_pct, 0),
	    OPT_NUM("viral-pct", 0, 100, v.o.viral_pct, 0),
	    OPT_NUM("items", 1, BENCH_VIEWS_ITEMS_MAX, v.o.items, 0),
	    OPT_NUM("ops-per-batch", 1, WIRE_MAX_OPS, v.o.ops_per_batch, 0),
	    OPT_NUM("partitions", 1, PARTITION_MAX, v.o.partitions, 0),
	    OPT_STR("dir", v.o.dir),
	    OPT_FLAG("json", j.json),
	    OPT_HELP,
	};
	int rc = parse_opts(argc, argv, opts, NOPTS(opts), false);
	return rc >= 0 ? rc : job_main(&j);
}

/* The options of the feed benchmarks' load (mixgen.h), into l. */
#define MIXGEN_OPTIONS(l)                                                                          \
	OPT_NUM("ops", 1, MIXGEN_OPS_MAX, (l).ops, 0),                                             \
	    OPT_NUM("items", 1, MIXGEN_ITEMS_MAX, (l).items, 0),                                   \
	    OPT_NUM("users", 1, MIXGEN_USERS_MAX, (l).users, 0),                                   \
	    OPT_NUM("views-pct", 0, 100, (l).views_pct, 0),                                        \
	    OPT_NUM("unlike-pct", 0, 100, (l).unlike_pct, 0),                                      \
	    OPT_NUM("ops-per-batch", 1, WIRE_MAX_OPS, (l).ops_per_batch, 0),                       \
	    OPT_NUM("partitions", 1, PARTITION_MAX, (l).partitions, 0)

typedef struct feed_job {
	bench_feed_opts o;
	bench_feed_result r;
} feed_job;

static int feed_run(void *ctx, char *err, size_t errlen)
{
	feed_job *b = ctx;
	return bench_feed_run(&b->o, &b->r, err, errlen);
}

static void feed_print(const void *ctx, FILE *f, bool json)
{
	const feed_job *b = ctx;
	bench_feed_print(f, &b->o, &b->r, json);
}

static int cmd_bench_feed(int argc, char **argv)
{
	feed_job b;
	bench_feed_opts_default(&b.o);
	sim_job j = {.name = "bench-feed",
	             .component = "sim/bench",
	             .ctx = &b,
	             .run = feed_run,
	             .print = feed_print};
	const sim_opt opts[] = {
	    MIXGEN_OPTIONS(b.o.load),
	    OPT_NUM("rounds", 1, BENCH_FEED_ROUNDS_MAX, b.o.rounds, 0),
	    OPT_NUM("trim-every", 0, 1000000, b.o.trim_every, 0),
	    OPT_STR("dir", b.o.dir),
	    OPT_FLAG("json", j.json),
	    OPT_LOG,
	    OPT_HELP,
	};
	int rc = parse_opts(argc, argv, opts, NOPTS(opts), false);
	return rc >= 0 ? rc : job_main(&j);
}

typedef struct produce_job {
	produce_opts o;
	produce_result r;
} produce_job;

static int produce_job_run(void *ctx, char *err, size_t errlen)
{
	produce_job *p = ctx;
	return produce_run(&p->o, &p->r, err, errlen);
}

/* What was delivered, also when not all of it was. */
static void produce_job_print(const void *ctx, FILE *f, bool json)
{
	(void)json;
	produce_print(f, &((const produce_job *)ctx)->r);
}

static int cmd_produce_batches(int argc, char **argv)
{
	produce_job p;
	produce_opts_default(&p.o);
	sim_job j = {.name = "produce-batches",
	             .component = "sim/produce",
	             .print_failed = true,
	             .ctx = &p,
	             .run = produce_job_run,
	             .print = produce_job_print};
	const sim_opt opts[] = {
	    MIXGEN_OPTIONS(p.o.load),
	    OPT_STR("bootstrap-file", p.o.bootstrap_file),
	    OPT_STR("topic", p.o.topic),
	    OPT_NUM("timeout-ms", 1, 3600000, p.o.timeout_ms, 0),
	    OPT_LOG,
	    OPT_HELP,
	};
	int rc = parse_opts(argc, argv, opts, NOPTS(opts), false);
	if (rc >= 0)
		return rc;
	if (!p.o.bootstrap_file)
		return bad_usage("--bootstrap-file is required", NULL);
	return job_main(&j);
}

typedef struct fill_job {
	fill_opts o;
	fill_result r;
} fill_job;

static int fill_job_run(void *ctx, char *err, size_t errlen)
{
	fill_job *l = ctx;
	return fill_run(&l->o, &l->r, err, errlen);
}

static void fill_job_print(const void *ctx, FILE *f, bool json)
{
	(void)json;
	fill_print(f, &((const fill_job *)ctx)->r);
}

/* Every request and op went through, and all were sent. */
static int fill_verdict(const void *ctx, char *why, size_t whylen)
{
	const fill_result *r = &((const fill_job *)ctx)->r;
	if (!r->requests_failed && !r->ops_failed && !r->stopped_early)
		return 0;
	snprintf(why, whylen, "%" PRIu64 " of %" PRIu64 " requests failed (%" PRIu64 " ops)%s",
	         r->requests_failed, r->requests, r->ops_failed,
	         r->stopped_early ? "; stopped before the end" : "");
	return 1;
}

static int cmd_fill(int argc, char **argv)
{
	fill_job l;
	fill_opts_default(&l.o);
	l.o.max_failures = 100;
	l.o.progress = stderr;
	sim_job j = {.name = "fill",
	             .component = "sim/bench/fill",
	             .sockets = true,
	             .ctx = &l,
	             .run = fill_job_run,
	             .print = fill_job_print,
	             .verdict = fill_verdict};
	bool quiet = false;
	const sim_opt opts[] = {
	    OPT_NUM("port", 1, 65535, l.o.port, 0),
	    OPT_NUM("items", 1, FILL_ITEMS_MAX, l.o.items, 0),
	    OPT_NUM("users", 1, FILL_ITEMS_MAX, l.o.users, 0),
	    OPT_NUM("per-request", 1, FILL_OPS_MAX, l.o.per_request, 0),
	    OPT_NUM("conns", 1, FILL_CONNS_MAX, l.o.conns, 0),
	    OPT_NUM("timeout-ms", 1, 3600000, l.o.timeout_ms, 0),
	    OPT_NUM("max-seconds", 1, 86400, l.o.max_ms, 1000),
	    OPT_NUM("max-failures", 0, UINT64_MAX, l.o.max_failures, 0),
	    OPT_STR("item-prefix", l.o.item_prefix),
	    OPT_STR("user-prefix", l.o.user_prefix),
	    OPT_STR("counter", l.o.counter),
	    OPT_STR("home", l.o.home),
	    OPT_FLAG("quiet", quiet),
	    OPT_HELP,
	};
	int rc = parse_opts(argc, argv, opts, NOPTS(opts), false);
	if (rc >= 0)
		return rc;
	if (quiet)
		l.o.progress = NULL;
	if (!l.o.port)
		return bad_usage("sim fill needs --port", NULL);
	if (l.o.users > l.o.items)
		return bad_usage("--users above --items", NULL);
	return job_main(&j);
}

typedef struct pace_job {
	pace_opts o;
	pace_result r;
} pace_job;

static int pace_job_run(void *ctx, char *err, size_t errlen)
{
	pace_job *p = ctx;
	return pace_run(&p->o, &p->r, err, errlen);
}

static void pace_job_print(const void *ctx, FILE *f, bool json)
{
	(void)json;
	pace_print(f, &((const pace_job *)ctx)->r);
}

/* Every request was answered, and 2xx. */
static int pace_verdict(const void *ctx, char *why, size_t whylen)
{
	const pace_result *r = &((const pace_job *)ctx)->r;
	if (!r->failed && !r->non_2xx)
		return 0;
	snprintf(why, whylen, "%" PRIu64 " failed, %" PRIu64 " not 2xx of %" PRIu64, r->failed,
	         r->non_2xx, r->sent);
	return 1;
}

static int cmd_pace(int argc, char **argv)
{
	pace_job p;
	pace_opts_default(&p.o);
	sim_job j = {.name = "pace",
	             .sockets = true,
	             .ctx = &p,
	             .run = pace_job_run,
	             .print = pace_job_print,
	             .verdict = pace_verdict};
	const sim_opt opts[] = {
	    OPT_NUM("port", 1, 65535, p.o.port, 0),
	    OPT_STR("uris", p.o.uris),
	    OPT_NUM("rate", 1, 100000000, p.o.rate, 0),
	    OPT_NUM("requests", 1, PACE_REQUESTS_MAX, p.o.requests, 0),
	    OPT_NUM("conns", 1, PACE_CONNS_MAX, p.o.conns, 0),
	    OPT_NUM("depth", 1, 1000, p.o.depth, 0),
	    OPT_FLAG("poisson", p.o.poisson),
	    OPT_STR("user", p.o.user),
	    OPT_STR("body", p.o.body),
	    OPT_STR("log", p.o.log),
	    OPT_NUM("timeout-ms", 1, 3600000, p.o.timeout_ms, 0),
	    OPT_HELP,
	};
	int rc = parse_opts(argc, argv, opts, NOPTS(opts), false);
	if (rc >= 0)
		return rc;
	if (!p.o.port || !p.o.uris)
		return bad_usage("sim pace needs --port and --uris", NULL);
	return job_main(&j);
}

/* --prefix S: items S<n>, users u-S<n> (dst: the probe's options; the
 * user prefix they point to lives in a static buffer). */
static int probe_prefix(void *dst, const char *arg)
{
	static char users[PROBE_PREFIX_MAX + 3];
	probe_opts *o = dst;
	if (strlen(arg) > PROBE_PREFIX_MAX)
		return bad_usage("--prefix too long", arg);
	o->id_prefix = arg;
	snprintf(users, sizeof users, "u-%s", arg);
	o->user_prefix = users;
	return 0;
}

typedef struct probe_job {
	probe_opts o;
	probe_result r;
} probe_job;

static int probe_job_run(void *ctx, char *err, size_t errlen)
{
	probe_job *p = ctx;
	return probe_run(&p->o, &p->r, err, errlen);
}

static void probe_job_print(const void *ctx, FILE *f, bool json)
{
	const probe_job *p = ctx;
	if (json)
		probe_print_json(f, &p->r);
	else
		probe_print_table(f, &p->r);
}

/* At least one like showed at edge B. */
static int probe_verdict(const void *ctx, char *why, size_t whylen)
{
	if (((const probe_job *)ctx)->r.visible)
		return 0;
	snprintf(why, whylen, "no like became visible at edge B");
	return 1;
}

static int cmd_converge_probe(int argc, char **argv)
{
	probe_job p;
	probe_opts_default(&p.o);
	sim_job j = {.name = "converge-probe",
	             .component = "sim/drill/probe",
	             .sockets = true,
	             .ctx = &p,
	             .run = probe_job_run,
	             .print = probe_job_print,
	             .verdict = probe_verdict};
	const sim_opt opts[] = {
	    OPT_NUM("a", 1, 65535, p.o.port_a, 0),
	    OPT_NUM("b", 1, 65535, p.o.port_b, 0),
	    OPT_NUM("duration-ms", 1, 86400000, p.o.duration_ms, 0),
	    OPT_NUM("interval-ms", 1, 60000, p.o.interval_ms, 0),
	    OPT_NUM("poll-ms", 1, 1000, p.o.poll_ms, 0),
	    OPT_NUM("timeout-ms", 1, 3600000, p.o.timeout_ms, 0),
	    OPT_NUM("batch-items", 1, PROBE_BATCH_ITEMS_MAX, p.o.batch_items, 0),
	    OPT_NUM("max-pending", 1, PROBE_PENDING_MAX, p.o.max_pending, 0),
	    OPT_CALL("prefix", probe_prefix, &p.o),
	    OPT_FLAG("json", j.json),
	    OPT_LOG,
	    OPT_HELP,
	};
	(void)log_set_level("warn"); /* one line per failed like, none per success */
	int rc = parse_opts(argc, argv, opts, NOPTS(opts), false);
	if (rc >= 0)
		return rc;
	if (!p.o.port_a || !p.o.port_b)
		return bad_usage("sim converge-probe needs --a and --b", NULL);
	return job_main(&j);
}

/* --- dispatch --------------------------------------------------------------- */

/* Every command: its name after `sim`, and its main (argv[0] the name). */
static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} commands[] = {
    {"broker", cmd_broker},
    {"kafka", cmd_kafka},
    {"drill", cmd_drill},
    {"nemesis", cmd_nemesis},
    {"bench-central", cmd_bench_central},
    {"bench-views", cmd_bench_views},
    {"bench-feed", cmd_bench_feed},
    {"produce-batches", cmd_produce_batches},
    {"converge-probe", cmd_converge_probe},
    {"fill", cmd_fill},
    {"pace", cmd_pace},
};

int main(int argc, char **argv)
{
	if (argc < 2)
		return bad_usage("no command", NULL);
	if (build_help_version(argc, argv, 1, "sim", usage) == 0)
		return 0;
	const char *cmd = argv[1];
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(cmd, commands[i].name) == 0)
			return commands[i].main(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	return bad_usage("unknown command", cmd);
}
