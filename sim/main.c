/* main.c - the `sim` binary: parses arguments and dispatches subcommands.
 *
 *   sim broker [options]   the embedded Kafka (sim/broker/broker.c)
 *   sim drill FILE [opts]  a partition drill against the real binaries
 *                          (sim/drill/run.c)
 *   sim bench-central      central's applier against a raw LevelDB loop
 *   sim bench-views        views added up per item against views as ops
 *                          (sim/bench/bench_views.c)
 *                          (sim/bench/bench_central.c)
 *   sim converge-probe     ack at one edge -> visible at another
 *                          (sim/drill/probe.c)
 *   sim fill               distinct items and users through an edge's
 *                          POST /v1/ops (sim/bench/fill.c)
 *   sim help               usage
 *
 * Unknown subcommands and options print usage to stderr and exit 2.
 * Single-threaded until a subcommand starts its own threads.
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/bench/bench_central.h"
#include "sim/bench/bench_views.h"
#include "sim/broker/broker.h"
#include "buildinfo.h"
#include "sim/bench/fill.h"
#include "log.h"
#include "partition.h"
#include "sim/drill/probe.h"
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
	        "  drill    run a drill file (sim/drills/NAME.drill) against build/edge\n"
	        "           and build/central; exit 0 when every check held\n"
	        "  bench-central\n"
	        "           apply generated likes with central's applier, then with a\n"
	        "           raw LevelDB read-modify-write loop; print both rates\n"
	        "  bench-views\n"
	        "           seal a views-heavy load with each view as an op and with\n"
	        "           views added up per item; wire bytes and apply time of each\n"
	        "  converge-probe\n"
	        "           like fresh items at one edge, poll another edge's counts,\n"
	        "           and print how long each like took to show there\n"
	        "  fill     like N distinct items by M distinct users through an edge's\n"
	        "           POST /v1/ops; key=value results on stdout; exit 1 when any\n"
	        "           request or op failed\n"
	        "  help     print this text\n"
	        "\n"
	        "sim broker options:\n"
	        "  --brokers N             brokers in the cluster, 1..%d (default %d)\n"
	        "  --topic NAME:PARTITIONS create a topic; repeatable; replaces the\n"
	        "                          defaults likes.batches:16, likes.snapshots:16,\n"
	        "                          likes.deadletter:1\n"
	        "  --bootstrap-file PATH   write the bootstrap list there (one line,\n"
	        "                          atomically) once ready; removed on exit\n"
	        "  --pid-file PATH         write the process id there; removed on exit\n"
	        "  --log-level LEVEL       error, warn, info (default) or debug\n"
	        "  --help                  print this text\n"
	        "\n"
	        "sim drill FILE options:\n"
	        "  --short                 the drill's short version\n"
	        "  --duration S            the full run lasts S seconds instead of the\n"
	        "                          drill's duration (steps keep their places)\n"
	        "  --out DIR               report dir (default build/drills/NAME[-short])\n"
	        "  --bin DIR               where edge and central are (default build)\n"
	        "  --run-root DIR          parent of the run dir (default /tmp)\n"
	        "  --keep                  keep the run dir (always kept on failure)\n"
	        "  --no-netns              run every daemon in sim's namespace, as on a\n"
	        "                          machine without namespaces (drills that cut\n"
	        "                          paths are skipped)\n"
	        "  --log-level LEVEL       error, warn, info (default) or debug\n"
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
	        "  --json                  one JSON object on stdout (table on stderr)\n"
	        "  --log-level LEVEL       error, warn, info (default) or debug\n"
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
	        "  --quiet                 no progress lines on stderr\n",
	        SIM_BROKER_BROKERS_MAX, SIM_BROKER_DEFAULT_BROKERS, FILL_OPS_MAX);
}

static int bad_usage(const char *what, const char *arg)
{
	if (what)
		fprintf(stderr, "sim: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
	usage(stderr);
	return 2;
}

static int cmd_broker(int argc, char **argv)
{
	enum { OPT_BROKERS = 256, OPT_TOPIC, OPT_BOOTSTRAP, OPT_PID, OPT_LOG, OPT_HELP };
	static const struct option longopts[] = {
	    {"brokers", required_argument, NULL, OPT_BROKERS},
	    {"topic", required_argument, NULL, OPT_TOPIC},
	    {"bootstrap-file", required_argument, NULL, OPT_BOOTSTRAP},
	    {"pid-file", required_argument, NULL, OPT_PID},
	    {"log-level", required_argument, NULL, OPT_LOG},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	sim_broker_opts o = {0};
	sim_broker_topic *topics = NULL;
	size_t ntopics = 0;
	const char *bootstrap_file = NULL, *pid_file = NULL;
	int rc = 0;

	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_BROKERS: {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || n < 1 || n > SIM_BROKER_BROKERS_MAX) {
				rc = bad_usage("bad --brokers", optarg);
				goto out;
			}
			o.brokers = (int)n;
			break;
		}
		case OPT_TOPIC:
			if (ntopics == SIM_BROKER_TOPICS_MAX) {
				rc = bad_usage("too many --topic options", NULL);
				goto out;
			}
			topics = xrealloc(topics, (ntopics + 1) * sizeof *topics);
			if (sim_broker_parse_topic(optarg, &topics[ntopics]) < 0) {
				rc = bad_usage("bad --topic (want NAME:PARTITIONS)", optarg);
				goto out;
			}
			ntopics++;
			break;
		case OPT_BOOTSTRAP: bootstrap_file = optarg; break;
		case OPT_PID: pid_file = optarg; break;
		case OPT_LOG:
			if (log_set_level(optarg) < 0) {
				rc = bad_usage("bad --log-level", optarg);
				goto out;
			}
			break;
		case OPT_HELP: usage(stdout); goto out;
		case ':': rc = bad_usage("option needs a value", argv[optind - 1]); goto out;
		default: rc = bad_usage("unknown option", argv[optind - 1]); goto out;
		}
	}
	if (optind < argc) {
		rc = bad_usage("unexpected argument", argv[optind]);
		goto out;
	}
	o.topics = topics;
	o.ntopics = ntopics;
	log_set_component("sim/broker/broker");
	rc = sim_broker_serve(&o, bootstrap_file, pid_file) < 0 ? 1 : 0;
out:
	free(topics);
	return rc;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

static int cmd_drill(int argc, char **argv)
{
	enum {
		OPT_SHORT = 256,
		OPT_OUT,
		OPT_BIN,
		OPT_ROOT,
		OPT_KEEP,
		OPT_NONS,
		OPT_LOG,
		OPT_HELP,
		OPT_DURATION
	};
	static const struct option longopts[] = {
	    {"short", no_argument, NULL, OPT_SHORT},
	    {"duration", required_argument, NULL, OPT_DURATION},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"bin", required_argument, NULL, OPT_BIN},
	    {"run-root", required_argument, NULL, OPT_ROOT},
	    {"keep", no_argument, NULL, OPT_KEEP},
	    {"no-netns", no_argument, NULL, OPT_NONS},
	    {"log-level", required_argument, NULL, OPT_LOG},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	run_opts o = {.bin_dir = "build", .run_root = "/tmp"};
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SHORT: o.short_run = true; break;
		case OPT_DURATION: {
			uint64_t secs;
			if (parse_u64(optarg, 1, 86400, &secs))
				return bad_usage("bad --duration (seconds, 1..86400)", optarg);
			o.duration_s = (double)secs;
			break;
		}
		case OPT_OUT: o.out_dir = optarg; break;
		case OPT_BIN: o.bin_dir = optarg; break;
		case OPT_ROOT: o.run_root = optarg; break;
		case OPT_KEEP: o.keep = true; break;
		case OPT_NONS: o.no_netns = true; break;
		case OPT_LOG:
			if (log_set_level(optarg) < 0)
				return bad_usage("bad --log-level", optarg);
			break;
		case OPT_HELP: usage(stdout); return 0;
		case ':': return bad_usage("option needs a value", argv[optind - 1]);
		default: return bad_usage("unknown option", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return bad_usage("sim drill takes one drill file", NULL);
	o.drill_path = argv[optind];
	char out[512];
	if (!o.out_dir) {
		const char *base = strrchr(o.drill_path, '/');
		base = base ? base + 1 : o.drill_path;
		size_t n = strcspn(base, ".");
		snprintf(out, sizeof out, "build/drills/%.*s%s", (int)n, base,
		         o.short_run ? "-short" : "");
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

/* A numeric option of a command: its getopt code, bounds, and where the
 * value goes (a 4- or 8-byte integer field), times scale (0 = 1). */
typedef struct num_opt {
	int code;
	uint64_t lo, hi;
	void *dst;
	size_t size;
	uint64_t scale;
	const char *what; /* the usage message for a bad value */
} num_opt;

#define NUM_OPT(code, lo, hi, field, scale, what)                                                  \
	{                                                                                          \
		(code), (lo), (hi), &(field), sizeof(field), (scale), (what)                       \
	}
_Static_assert(sizeof(int) == sizeof(uint32_t), "int options are stored as 32 bits");

/* The default case of a command's option switch: stores the numeric
 * option c and returns 0, or returns the exit status of a usage error
 * (a bad or missing value, an unknown option). */
static int num_or_bad(const num_opt *opts, size_t n, int c, char **argv)
{
	if (c == ':')
		return bad_usage("option needs a value", argv[optind - 1]);
	for (size_t i = 0; i < n; i++) {
		const num_opt *o = &opts[i];
		if (o->code != c)
			continue;
		uint64_t v;
		if (parse_u64(optarg, o->lo, o->hi, &v))
			return bad_usage(o->what, optarg);
		if (o->scale)
			v *= o->scale;
		if (o->size == sizeof(uint64_t))
			*(uint64_t *)o->dst = v;
		else
			*(uint32_t *)o->dst = (uint32_t)v; /* bounds keep it in range */
		return 0;
	}
	return bad_usage("unknown option", argv[optind - 1]);
}

static int cmd_bench_central(int argc, char **argv)
{
	enum {
		OPT_OPS = 256,
		OPT_ITEMS,
		OPT_USERS,
		OPT_OPB,
		OPT_PARTS,
		OPT_DIR,
		OPT_JSON,
		OPT_LOG,
		OPT_HELP
	};
	static const struct option longopts[] = {
	    {"ops", required_argument, NULL, OPT_OPS},
	    {"items", required_argument, NULL, OPT_ITEMS},
	    {"users", required_argument, NULL, OPT_USERS},
	    {"ops-per-batch", required_argument, NULL, OPT_OPB},
	    {"partitions", required_argument, NULL, OPT_PARTS},
	    {"dir", required_argument, NULL, OPT_DIR},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"log-level", required_argument, NULL, OPT_LOG},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	bench_central_opts o;
	bench_central_opts_default(&o);
	const num_opt num[] = {
	    NUM_OPT(OPT_OPS, 1, BENCH_CENTRAL_OPS_MAX, o.ops, 0, "bad --ops"),
	    NUM_OPT(OPT_ITEMS, 1, BENCH_CENTRAL_ITEMS_MAX, o.items, 0, "bad --items"),
	    NUM_OPT(OPT_USERS, 1, BENCH_CENTRAL_OPS_MAX, o.users, 0, "bad --users"),
	    NUM_OPT(OPT_OPB, 1, WIRE_MAX_OPS, o.ops_per_batch, 0, "bad --ops-per-batch"),
	    NUM_OPT(OPT_PARTS, 1, PARTITION_MAX, o.partitions, 0, "bad --partitions"),
	};
	bool json = false;
	opterr = 0;
	optind = 1;
	int c, rc;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DIR: o.dir = optarg; break;
		case OPT_JSON: json = true; break;
		case OPT_LOG:
			if (log_set_level(optarg) < 0)
				return bad_usage("bad --log-level", optarg);
			break;
		case OPT_HELP: usage(stdout); return 0;
		default:
			if ((rc = num_or_bad(num, sizeof num / sizeof num[0], c, argv)))
				return rc;
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument", argv[optind]);
	if (o.users > o.ops)
		return bad_usage("--users above --ops", NULL);
	log_set_component("sim/bench");
	bench_central_result r;
	char err[512];
	rc = bench_central_run(&o, &r, err, sizeof err);
	if (rc) {
		fprintf(stderr, "sim bench-central: %s\n", err);
		return 1;
	}
	bench_central_print_table(json ? stderr : stdout, &r);
	if (json)
		bench_central_print_json(stdout, &r);
	return 0;
}

static int cmd_bench_views(int argc, char **argv)
{
	enum {
		OPT_OPS = 256,
		OPT_VIEWS,
		OPT_VIRAL,
		OPT_ITEMS,
		OPT_OPB,
		OPT_PARTS,
		OPT_DIR,
		OPT_JSON,
		OPT_HELP
	};
	static const struct option longopts[] = {
	    {"ops", required_argument, NULL, OPT_OPS},
	    {"views-pct", required_argument, NULL, OPT_VIEWS},
	    {"viral-pct", required_argument, NULL, OPT_VIRAL},
	    {"items", required_argument, NULL, OPT_ITEMS},
	    {"ops-per-batch", required_argument, NULL, OPT_OPB},
	    {"partitions", required_argument, NULL, OPT_PARTS},
	    {"dir", required_argument, NULL, OPT_DIR},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	bench_views_opts o;
	bench_views_opts_default(&o);
	const num_opt num[] = {
	    NUM_OPT(OPT_OPS, 1, BENCH_VIEWS_OPS_MAX, o.ops, 0, "bad --ops"),
	    NUM_OPT(OPT_VIEWS, 0, 100, o.views_pct, 0, "bad --views-pct"),
	    NUM_OPT(OPT_VIRAL, 0, 100, o.viral_pct, 0, "bad --viral-pct"),
	    NUM_OPT(OPT_ITEMS, 1, BENCH_VIEWS_ITEMS_MAX, o.items, 0, "bad --items"),
	    NUM_OPT(OPT_OPB, 1, WIRE_MAX_OPS, o.ops_per_batch, 0, "bad --ops-per-batch"),
	    NUM_OPT(OPT_PARTS, 1, PARTITION_MAX, o.partitions, 0, "bad --partitions"),
	};
	bool json = false;
	opterr = 0;
	optind = 1;
	int c, rc;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DIR: o.dir = optarg; break;
		case OPT_JSON: json = true; break;
		case OPT_HELP: usage(stdout); return 0;
		default:
			if ((rc = num_or_bad(num, sizeof num / sizeof num[0], c, argv)))
				return rc;
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument", argv[optind]);
	log_set_component("sim/bench");
	bench_views_result r;
	char err[512];
	if (bench_views_run(&o, &r, err, sizeof err)) {
		fprintf(stderr, "sim bench-views: %s\n", err);
		return 1;
	}
	bench_views_print(json ? stderr : stdout, &o, &r, false);
	if (json)
		bench_views_print(stdout, &o, &r, true);
	return 0;
}

static int cmd_fill(int argc, char **argv)
{
	enum {
		OPT_PORT = 256,
		OPT_ITEMS,
		OPT_USERS,
		OPT_PER,
		OPT_CONNS,
		OPT_TIMEOUT,
		OPT_MAXS,
		OPT_MAXF,
		OPT_IPFX,
		OPT_UPFX,
		OPT_COUNTER,
		OPT_QUIET,
		OPT_HELP
	};
	static const struct option longopts[] = {
	    {"port", required_argument, NULL, OPT_PORT},
	    {"items", required_argument, NULL, OPT_ITEMS},
	    {"users", required_argument, NULL, OPT_USERS},
	    {"per-request", required_argument, NULL, OPT_PER},
	    {"conns", required_argument, NULL, OPT_CONNS},
	    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
	    {"max-seconds", required_argument, NULL, OPT_MAXS},
	    {"max-failures", required_argument, NULL, OPT_MAXF},
	    {"item-prefix", required_argument, NULL, OPT_IPFX},
	    {"user-prefix", required_argument, NULL, OPT_UPFX},
	    {"counter", required_argument, NULL, OPT_COUNTER},
	    {"quiet", no_argument, NULL, OPT_QUIET},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	fill_opts o;
	fill_opts_default(&o);
	o.max_failures = 100;
	o.progress = stderr;
	const num_opt num[] = {
	    NUM_OPT(OPT_PORT, 1, 65535, o.port, 0, "bad --port"),
	    NUM_OPT(OPT_ITEMS, 1, FILL_ITEMS_MAX, o.items, 0, "bad --items"),
	    NUM_OPT(OPT_USERS, 1, FILL_ITEMS_MAX, o.users, 0, "bad --users"),
	    NUM_OPT(OPT_PER, 1, FILL_OPS_MAX, o.per_request, 0, "bad --per-request"),
	    NUM_OPT(OPT_CONNS, 1, FILL_CONNS_MAX, o.conns, 0, "bad --conns"),
	    NUM_OPT(OPT_TIMEOUT, 1, 3600000, o.timeout_ms, 0, "bad --timeout-ms"),
	    NUM_OPT(OPT_MAXS, 1, 86400, o.max_ms, 1000, "bad --max-seconds"),
	    NUM_OPT(OPT_MAXF, 0, UINT64_MAX, o.max_failures, 0, "bad --max-failures"),
	};
	opterr = 0;
	optind = 1;
	int c, rc;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_IPFX: o.item_prefix = optarg; break;
		case OPT_UPFX: o.user_prefix = optarg; break;
		case OPT_COUNTER: o.counter = optarg; break;
		case OPT_QUIET: o.progress = NULL; break;
		case OPT_HELP: usage(stdout); return 0;
		default:
			if ((rc = num_or_bad(num, sizeof num / sizeof num[0], c, argv)))
				return rc;
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument", argv[optind]);
	if (!o.port)
		return bad_usage("sim fill needs --port", NULL);
	if (o.users > o.items)
		return bad_usage("--users above --items", NULL);
	log_set_component("sim/bench/fill");
	signal(SIGPIPE, SIG_IGN);
	fill_result r;
	char err[256];
	if (fill_run(&o, &r, err, sizeof err)) {
		fprintf(stderr, "sim fill: %s\n", err);
		return 1;
	}
	fill_print(stdout, &r);
	if (r.requests_failed || r.ops_failed || r.stopped_early) {
		fprintf(stderr,
		        "sim fill: %" PRIu64 " of %" PRIu64 " requests failed (%" PRIu64
		        " ops)%s\n",
		        r.requests_failed, r.requests, r.ops_failed,
		        r.stopped_early ? "; stopped before the end" : "");
		return 1;
	}
	return 0;
}

static int cmd_converge_probe(int argc, char **argv)
{
	enum {
		OPT_A = 256,
		OPT_B,
		OPT_DUR,
		OPT_INT,
		OPT_POLL,
		OPT_TMO,
		OPT_BATCH,
		OPT_PEND,
		OPT_PREFIX,
		OPT_JSON,
		OPT_LOG,
		OPT_HELP
	};
	static const struct option longopts[] = {
	    {"a", required_argument, NULL, OPT_A},
	    {"b", required_argument, NULL, OPT_B},
	    {"duration-ms", required_argument, NULL, OPT_DUR},
	    {"interval-ms", required_argument, NULL, OPT_INT},
	    {"poll-ms", required_argument, NULL, OPT_POLL},
	    {"timeout-ms", required_argument, NULL, OPT_TMO},
	    {"batch-items", required_argument, NULL, OPT_BATCH},
	    {"max-pending", required_argument, NULL, OPT_PEND},
	    {"prefix", required_argument, NULL, OPT_PREFIX},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"log-level", required_argument, NULL, OPT_LOG},
	    {"help", no_argument, NULL, OPT_HELP},
	    {NULL, 0, NULL, 0},
	};
	probe_opts o;
	probe_opts_default(&o);
	const num_opt num[] = {
	    NUM_OPT(OPT_A, 1, 65535, o.port_a, 0, "bad --a"),
	    NUM_OPT(OPT_B, 1, 65535, o.port_b, 0, "bad --b"),
	    NUM_OPT(OPT_DUR, 1, 86400000, o.duration_ms, 0, "bad --duration-ms"),
	    NUM_OPT(OPT_INT, 1, 60000, o.interval_ms, 0, "bad --interval-ms"),
	    NUM_OPT(OPT_POLL, 1, 1000, o.poll_ms, 0, "bad --poll-ms"),
	    NUM_OPT(OPT_TMO, 1, 3600000, o.timeout_ms, 0, "bad --timeout-ms"),
	    NUM_OPT(OPT_BATCH, 1, PROBE_BATCH_ITEMS_MAX, o.batch_items, 0, "bad --batch-items"),
	    NUM_OPT(OPT_PEND, 1, PROBE_PENDING_MAX, o.max_pending, 0, "bad --max-pending"),
	};
	char users[PROBE_PREFIX_MAX + 3];
	bool json = false;
	opterr = 0;
	optind = 1;
	(void)log_set_level("warn"); /* one line per failed like, none per success */
	int c, rc;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_PREFIX:
			if (strlen(optarg) > PROBE_PREFIX_MAX)
				return bad_usage("--prefix too long", optarg);
			o.id_prefix = optarg;
			snprintf(users, sizeof users, "u-%s", optarg);
			o.user_prefix = users;
			break;
		case OPT_JSON: json = true; break;
		case OPT_LOG:
			if (log_set_level(optarg) < 0)
				return bad_usage("bad --log-level", optarg);
			break;
		case OPT_HELP: usage(stdout); return 0;
		default:
			if ((rc = num_or_bad(num, sizeof num / sizeof num[0], c, argv)))
				return rc;
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument", argv[optind]);
	if (!o.port_a || !o.port_b)
		return bad_usage("sim converge-probe needs --a and --b", NULL);
	log_set_component("sim/drill/probe");
	signal(SIGPIPE, SIG_IGN);
	probe_result r;
	char err[256];
	if (probe_run(&o, &r, err, sizeof err)) {
		fprintf(stderr, "sim converge-probe: %s\n", err);
		return 1;
	}
	probe_print_table(json ? stderr : stdout, &r);
	if (json)
		probe_print_json(stdout, &r);
	if (!r.visible) {
		fprintf(stderr, "sim converge-probe: no like became visible at edge B\n");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return bad_usage("no command", NULL);
	if (build_help_version(argc, argv, 1, "sim", usage) == 0)
		return 0;
	const char *cmd = argv[1];
	if (strcmp(cmd, "broker") == 0)
		return cmd_broker(argc - 1, argv + 1);
	if (strcmp(cmd, "drill") == 0)
		return cmd_drill(argc - 1, argv + 1);
	if (strcmp(cmd, "bench-central") == 0)
		return cmd_bench_central(argc - 1, argv + 1);
	if (strcmp(cmd, "bench-views") == 0)
		return cmd_bench_views(argc - 1, argv + 1);
	if (strcmp(cmd, "converge-probe") == 0)
		return cmd_converge_probe(argc - 1, argv + 1);
	if (strcmp(cmd, "fill") == 0)
		return cmd_fill(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	return bad_usage("unknown command", cmd);
}
