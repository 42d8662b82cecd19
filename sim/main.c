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
 * Each command's options and body live in a file of commands (cmd.h:
 * cmd_kafka.c, cmd_drill.c, cmd_measure.c), its options read by the one
 * table parser (opt.c), which this file hands the usage text. Only the
 * dispatch and the usage text are here. Single-threaded until a
 * subcommand starts its own threads.
 */
#include <stdio.h>
#include <string.h>

#include "buildinfo.h"
#include "sim/bench/bench_feed.h"
#include "sim/bench/fill.h"
#include "sim/bench/pace.h"
#include "sim/broker/broker.h"
#include "sim/cmd.h"
#include "sim/drill/nemesis.h"
#include "sim/kafka/serve.h"
#include "sim/opt.h"

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
	        "  --start-ms N            for the nodes to be formatted, started and\n"
	        "                          listed and the topics made (default 90000)\n"
	        "  --prop KEY=VALUE        a broker property over the deploy's (repeatable)\n"
	        "  --topic-config KEY=VALUE  a config of every topic created (repeatable)\n"
	        "  --ports P:C,P:C,...     each node's client and controller port, node 1\n"
	        "                          first (default: picked free)\n"
	        "  --netns PATH,PATH,...   each node's network namespace (a file that\n"
	        "                          opens as one, /proc/PID/fd/FD), joined before\n"
	        "                          its JVM starts; the caller links the nodes\n"
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
	        "                          in docs/drills.md, \"The nemesis\"; \"all\":\n"
	        "                          the kinds the default leaves out too\n"
	        "  --roam PCT              the load's ops away from home, percent (5)\n"
	        "  --undo PCT              of its likes, the percent that unlike the\n"
	        "                          user's newest like instead (0)\n"
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
	        "  --shrink-report FILE    the failing run's report.json: a candidate must\n"
	        "                          fail with one of its violations' kinds (without:\n"
	        "                          the schedule is run as given first, try 0)\n"
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
	        "  --feed                  central stores the change feed's events with\n"
	        "                          each batch and drops them as its publisher\n"
	        "                          would (no Kafka: the publisher's own work is\n"
	        "                          not in it)\n"
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
	        "  --poll-ms N             between two polls of a like at B: the\n"
	        "                          resolution (default 2)\n"
	        "  --poll-frac N           or 1/N of the like's age, when longer\n"
	        "                          (0..1000, 0 = off; default 100)\n"
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
	opt_set_usage(usage);
	if (argc < 2)
		return opt_usage_error("no command", NULL);
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
	return opt_usage_error("unknown command", cmd);
}
