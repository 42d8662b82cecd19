/* main.c - the `sim` binary: parses arguments and dispatches subcommands.
 *
 *   sim broker [options]   the embedded Kafka (sim/broker.c)
 *   sim help               usage
 *
 * Unknown subcommands and options print usage to stderr and exit 2.
 * Single-threaded until a subcommand starts its own threads.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "log.h"
#include "xmem.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: sim <command> [options]\n"
	        "\n"
	        "commands:\n"
	        "  broker   run librdkafka's mock Kafka cluster on 127.0.0.1 until\n"
	        "           SIGINT or SIGTERM\n"
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
	        "  --help                  print this text\n",
	        SIM_BROKER_BROKERS_MAX, SIM_BROKER_DEFAULT_BROKERS);
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
	log_set_component("sim/broker");
	rc = sim_broker_serve(&o, bootstrap_file, pid_file) < 0 ? 1 : 0;
out:
	free(topics);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return bad_usage("no command", NULL);
	const char *cmd = argv[1];
	if (strcmp(cmd, "broker") == 0)
		return cmd_broker(argc - 1, argv + 1);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	return bad_usage("unknown command", cmd);
}
