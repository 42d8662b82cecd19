/* tail.c - `central tail changes|milestones` (tail.h): a consumer that
 * prints the change feed's messages as JSON lines.
 *
 * One librdkafka consumer from central's config (bus.h), its partitions
 * assigned here at the beginning or the end of each, never subscribed:
 * the group id it must carry (librdkafka's consumer API wants one) is
 * joined by nobody and committed to by nothing. A value is checked with
 * feedev_decode and printed as it came, or named on stderr and skipped.
 * With --exit it stops once every partition has reached its end
 * (enable.partition.eof, as kcat -e). Owns the client and the signal
 * flag; main thread only.
 */
#include "central/tail.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "buildinfo.h"
#include "bus.h"
#include "central/central.h"
#include "central/cmdargs.h"
#include "feedev.h"
#include "log.h"
#include "opcmd.h"
#include "xmem.h"

#define TAIL_OK OPCMD_OK
#define TAIL_SKIPPED 1 /* some values were not events */
#define TAIL_USAGE OPCMD_USAGE
#define TAIL_UNREACHABLE OPCMD_UNREACHABLE

#define TAIL_GROUP "likes-central-tail" /* never joined, never committed */
#define TAIL_METADATA_MS 10000          /* to learn the topic's partitions */
#define TAIL_POLL_MS 200                /* how soon a signal is noticed */

typedef struct tail {
	central_config cfg;
	bool cfg_loaded;
	const char *which; /* "changes" or "milestones" */
	const char *topic; /* borrowed from cfg */
	bool from_beginning, exit_at_end;
	int32_t partition; /* -1: every partition */
	uint64_t count;    /* stop after this many messages; 0: no limit */
	const cfg_opt *opts;
	size_t nopts;
} tail;

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: central tail changes|milestones -c FILE [--from-beginning]\n"
	             "                    [--partition P] [--exit] [--count N]\n"
	             "  prints each message of topics.changes or topics.milestones as one JSON\n"
	             "  line, unchanged; commits nothing\n"
	             "  --from-beginning  every event still in the topic (default: from now on)\n"
	             "  --partition P     only partition P\n"
	             "  --exit            stop at the end of every partition\n"
	             "  --count N         stop after N messages\n"
	             "  (-s section.key=value overrides the config, as for the daemon)\n"
	             "exit: 0 ok, 1 some values were not events (named on stderr), 2 usage or\n"
	             "      config error, 3 Kafka or the topic cannot be read\n");
}

/* A decimal number in [lo, hi] into *out; false when s is not one. */
static bool parse_num(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* Parses argv (argv[1] is "tail") and loads the config; false after
 * saying why on stderr. */
static bool parse_args(tail *t, int argc, char **argv)
{
	static const char *const valued[] = {"--partition", "--count", NULL};
	cfg_cmdline cl = {0};
	t->partition = -1;
	int i = 1, more;
	while ((more = cmdargs_next(&cl, argc, argv, &i, valued)) > 0) {
		const char *a = argv[i];
		long long v;
		if (strcmp(a, "--partition") == 0) {
			if (!parse_num(argv[++i], 0, INT32_MAX, &v)) {
				fprintf(stderr, "central: --partition is a partition number\n");
				return false;
			}
			t->partition = (int32_t)v;
		} else if (strcmp(a, "--count") == 0) {
			if (!parse_num(argv[++i], 1, INT64_MAX, &v)) {
				fprintf(stderr, "central: --count is a number above 0\n");
				return false;
			}
			t->count = (uint64_t)v;
		} else if (strcmp(a, "--from-beginning") == 0) {
			t->from_beginning = true;
		} else if (strcmp(a, "--exit") == 0) {
			t->exit_at_end = true;
		} else if (a[0] != '-' && !t->which &&
		           (strcmp(a, "changes") == 0 || strcmp(a, "milestones") == 0)) {
			t->which = a;
		} else {
			fprintf(stderr, "central: unexpected argument '%s'\n", a);
			return false;
		}
	}
	if (more < 0)
		return false;
	if (!t->which || !cl.file) {
		fprintf(stderr, "central: %s\n",
		        !t->which ? "tail needs changes or milestones" : "-c FILE is needed");
		return false;
	}
	if (!opcmd_load_config("central", t->opts, t->nopts, &t->cfg, &cl))
		return false;
	t->cfg_loaded = true;
	bool changes = strcmp(t->which, "changes") == 0;
	t->topic = changes ? t->cfg.changes_topic : t->cfg.milestones_topic;
	return true;
}

/* The consumer, its partitions assigned, the topic's partition count in
 * *nparts; NULL after saying why on stderr, *rc the exit code. */
static rd_kafka_t *consumer_new(const tail *t, int32_t *nparts, int *rc)
{
	char err[512];
	bus_props props = central_bus_props(&t->cfg);
	*rc = TAIL_USAGE;
	rd_kafka_conf_t *conf =
	    bus_conf_new(BUS_CONSUMER, &props, t->cfg.bootstrap_file, TAIL_GROUP, err, sizeof err);
	if (!conf) {
		fprintf(stderr, "central: %s\n", err);
		return NULL;
	}
	if (t->exit_at_end && rd_kafka_conf_set(conf, "enable.partition.eof", "true", err,
	                                        sizeof err) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "central: enable.partition.eof: %s\n", err);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_t *rk = bus_client_new(BUS_CONSUMER, conf, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "central: cannot make a Kafka consumer: %s\n", err);
		return NULL;
	}
	rd_kafka_poll_set_consumer(rk);

	*rc = TAIL_UNREACHABLE;
	int n = bus_partition_count(rk, t->topic, TAIL_METADATA_MS);
	if (n <= 0) {
		fprintf(stderr, "central: cannot learn the partitions of topic %s (topics.%s)\n",
		        t->topic, t->which);
		goto fail;
	}
	if (t->partition >= n) {
		fprintf(stderr, "central: topic %s has partitions 0 to %d, not %" PRId32 "\n",
		        t->topic, n - 1, t->partition);
		*rc = TAIL_USAGE;
		goto fail;
	}
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
	int64_t start = t->from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
	for (int32_t p = 0; p < n; p++)
		if (t->partition < 0 || p == t->partition)
			rd_kafka_topic_partition_list_add(parts, t->topic, p)->offset = start;
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (e) {
		fprintf(stderr, "central: cannot assign topic %s: %s\n", t->topic,
		        rd_kafka_err2str(e));
		goto fail;
	}
	*nparts = n;
	*rc = TAIL_OK;
	return rk;
fail:
	rd_kafka_destroy(rk);
	return NULL;
}

/* One message with a value: printed as one line, or named on stderr.
 * Returns whether it was printed. */
static bool print_value(const tail *t, const rd_kafka_message_t *m)
{
	feedev_decoded d;
	int rc;
	const char *why = NULL;
	if (!m->payload)
		why = "no value";
	else if ((rc = feedev_decode(m->payload, m->len, &d)) != 0)
		why = err_str(rc);
	else if (memchr(m->payload, '\n', m->len) || memchr(m->payload, '\r', m->len))
		why = "holds a line break"; /* JSON allows one between tokens;
		                               central never writes one */
	if (why) {
		fprintf(stderr,
		        "central: %s partition %" PRId32 " offset %" PRId64
		        ": not an event (%s); skipped\n",
		        t->topic, m->partition, m->offset, why);
		return false;
	}
	fwrite(m->payload, 1, m->len, stdout);
	putchar('\n');
	return true;
}

/* Consumer errors that leave a partition unread for good: the topic or
 * the partition is gone or forbidden, or the position fell out of range
 * (bus.h's consumers reset to nothing). librdkafka retries the others
 * itself; they are only reported. */
static bool error_ends(rd_kafka_resp_err_t e)
{
	return e == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
	       e == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
	       e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	       e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC || e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
	       e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED || e == RD_KAFKA_RESP_ERR__FATAL;
}

/* Polls until a signal, --count, or with --exit the end of every
 * assigned partition (of nparts). The exit code. */
static int consume(const tail *t, rd_kafka_t *rk, int32_t nparts)
{
	int32_t nassigned = t->partition >= 0 ? 1 : nparts;
	/* at_end[p]: partition p reached its end and nothing came after. */
	bool *at_end = xcalloc((size_t)nparts, sizeof *at_end);
	int32_t nat_end = 0;
	uint64_t seen = 0, skipped = 0;
	int rc = TAIL_OK;
	while (!stopping && (!t->exit_at_end || nat_end < nassigned) &&
	       (!t->count || seen < t->count)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 0);
		if (!m) {
			/* Nothing waiting: what was printed goes out now, so a
			 * pipe into jq sees each event as it comes. */
			if (fflush(stdout) != 0)
				break;
			m = rd_kafka_consumer_poll(rk, TAIL_POLL_MS);
			if (!m)
				continue;
		}
		int32_t p = m->partition;
		bool ours = p >= 0 && p < nparts;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (ours && !at_end[p]) {
				at_end[p] = true;
				nat_end++;
			}
		} else if (m->err) {
			bool ends = error_ends(m->err);
			fprintf(stderr, "central: reading %s partition %" PRId32 ": %s%s\n",
			        t->topic, p, rd_kafka_message_errstr(m), ends ? "" : " (retried)");
			if (ends) {
				rc = TAIL_UNREACHABLE;
				rd_kafka_message_destroy(m);
				break;
			}
		} else {
			if (ours && at_end[p]) {
				at_end[p] = false;
				nat_end--;
			}
			seen++;
			if (!print_value(t, m))
				skipped++;
		}
		rd_kafka_message_destroy(m);
	}
	free(at_end);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "central: writing stdout failed: %s\n", strerror(errno));
		return TAIL_UNREACHABLE;
	}
	if (skipped)
		fprintf(stderr, "central: %" PRIu64 " of %" PRIu64 " messages were not events\n",
		        skipped, seen);
	return rc ? rc : skipped ? TAIL_SKIPPED : TAIL_OK;
}

int tail_main(int argc, char **argv, const cfg_opt *opts, size_t nopts)
{
	tail t;
	memset(&t, 0, sizeof t);
	t.opts = opts;
	t.nopts = nopts;
	if (build_help_version(argc, argv, 2, "central tail", usage) == 0)
		return TAIL_OK;
	if (!parse_args(&t, argc, argv)) {
		usage(stderr);
		if (t.cfg_loaded)
			cfg_free(t.opts, t.nopts, &t.cfg);
		return TAIL_USAGE;
	}
	if (!t.topic[0]) {
		fprintf(stderr,
		        "central: the feed's %s are off in this config (topics.%s is empty)\n",
		        t.which, t.which);
		cfg_free(t.opts, t.nopts, &t.cfg);
		return TAIL_USAGE;
	}
	/* stderr is for the values refused; the clients' own lines from warn
	 * up (debug when central.log_level says so). */
	log_set_component("central-tail");
	if (log_set_level(t.cfg.log_level) || log_threshold == LOG_INFO)
		log_threshold = LOG_WARN;

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	int rc;
	int32_t nparts = 0;
	rd_kafka_t *rk = consumer_new(&t, &nparts, &rc);
	if (rk) {
		rc = consume(&t, rk, nparts);
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	}
	cfg_free(t.opts, t.nopts, &t.cfg);
	return rc;
}
