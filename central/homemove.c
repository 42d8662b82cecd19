/* homemove.c - `central home-move` (homemove.h): one move message per
 * partition of the batch topic, through a producer made from central's
 * config (bus.h: the producer's defaults and [kafka.producer]). Owns
 * the producer; main thread only.
 */
#include "central/homemove.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "bus.h"
#include "central/central.h"
#include "clock.h"
#include "opcmd.h"
#include "wire.h"

#define MOVE_OK OPCMD_OK
#define MOVE_USAGE OPCMD_USAGE
#define MOVE_UNREACHABLE OPCMD_UNREACHABLE
#define MOVE_METADATA_MS 10000 /* to learn the topic's partitions */
#define MOVE_FLUSH_MS 30000    /* for the brokers to acknowledge them all */

/* Whether region is one of list's comma-separated names. */
static bool region_listed(const char *list, const char *region)
{
	size_t rn = strlen(region);
	for (const char *at = list; at && *at;) {
		const char *end = strchr(at, ',');
		size_t n = end ? (size_t)(end - at) : strlen(at);
		while (n && at[0] == ' ') {
			at++;
			n--;
		}
		while (n && at[n - 1] == ' ')
			n--;
		if (n == rn && memcmp(at, region, n) == 0)
			return true;
		at = end ? end + 1 : NULL;
	}
	return false;
}

/* Delivery reports, served by rd_kafka_poll and rd_kafka_flush on this
 * thread: one run per process (the counts are never reset). */
static long delivered, failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (!m->err) {
		delivered++;
		return;
	}
	if (++failed <= 10)
		fprintf(stderr, "central: the move of %.*s to partition %" PRId32 ": %s\n",
		        (int)m->key_len, m->key ? (const char *)m->key : "", m->partition,
		        rd_kafka_err2str(m->err));
}

int homemove_run(const central_config *cfg, const char *const *users, size_t nusers,
                 const char *home, uint64_t since_ms)
{
	char err[512];
	bus_props props = central_bus_props(cfg);
	rd_kafka_conf_t *conf =
	    bus_conf_new(BUS_PRODUCER, &props, cfg->bootstrap_file, NULL, err, sizeof err);
	if (!conf) {
		fprintf(stderr, "central: %s\n", err);
		return MOVE_USAGE;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	/* A move not delivered in time fails (the producer's default waits
	 * for ever), so that a run always ends and says so. */
	char limit[16];
	snprintf(limit, sizeof limit, "%d", MOVE_FLUSH_MS);
	if (rd_kafka_conf_set(conf, "message.timeout.ms", limit, err, sizeof err) !=
	    RD_KAFKA_CONF_OK) {
		fprintf(stderr, "central: %s\n", err);
		rd_kafka_conf_destroy(conf);
		return MOVE_USAGE;
	}
	rd_kafka_t *rk = bus_client_new(BUS_PRODUCER, conf, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "central: cannot make a Kafka producer: %s\n", err);
		return MOVE_USAGE;
	}
	int rc = MOVE_UNREACHABLE;
	const char *topic = cfg->batch_topic;
	int n = bus_partition_count(rk, topic, MOVE_METADATA_MS);
	if (n <= 0) {
		fprintf(stderr,
		        "central: cannot learn the partitions of topic %s (topics.batches)\n",
		        topic);
		goto out;
	}
	if (n != cfg->partitions) {
		fprintf(stderr,
		        "central: topic %s has %d partitions, the config says topics.partitions = "
		        "%" PRId64 "\n",
		        topic, n, cfg->partitions);
		rc = MOVE_USAGE;
		goto out;
	}
	if (!region_listed(cfg->home_regions, home))
		fprintf(stderr,
		        "central: warning: %s is not in feed.home_regions: no home stream goes "
		        "there, so its edges will not hear of the move\n",
		        home);
	/* Every user's move to every partition; each message waits in the
	 * producer's queue, which a full queue makes this wait for (its
	 * messages are delivered or fail within message.timeout.ms). A
	 * failed delivery stops the run: it is to be run again. */
	long want = (long)nusers * n, produced = 0;
	bool stop = false;
	for (size_t u = 0; u < nusers && !stop && !failed; u++) {
		const char *user = users[u];
		for (int32_t p = 0; p < n && !stop && !failed; p++) {
			wire_move m = {.partition = (uint32_t)p,
			               .user = wire_cstr(user, strlen(user)),
			               .home = wire_cstr(home, strlen(home)),
			               .since_ms = since_ms,
			               .created_ms = clock_wall_ms()};
			char *buf;
			size_t len;
			if (wire_encode_move(&m, &buf, &len)) {
				fprintf(stderr, "central: cannot encode the move of %s\n", user);
				rc = MOVE_USAGE;
				goto out;
			}
			rd_kafka_resp_err_t e;
			while ((e = rd_kafka_producev(
			            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
			            RD_KAFKA_V_KEY(user, strlen(user)), RD_KAFKA_V_VALUE(buf, len),
			            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END)) ==
			           RD_KAFKA_RESP_ERR__QUEUE_FULL &&
			       !failed)
				rd_kafka_poll(rk, 100);
			if (e) {
				free(buf);
				if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
					fprintf(stderr,
					        "central: partition %" PRId32 " of %s: %s\n", p,
					        topic, rd_kafka_err2str(e));
				stop = true;
				break;
			}
			produced++;
		}
	}
	rd_kafka_resp_err_t fe = rd_kafka_flush(rk, MOVE_FLUSH_MS);
	if (produced == want && !fe && delivered == want) {
		if (nusers == 1)
			printf("moved: user=%s home=%s since_ms=%" PRIu64
			       " partitions=%d topic=%s\n",
			       users[0], home, since_ms, n, topic);
		else
			printf("moved: users=%zu home=%s since_ms=%" PRIu64
			       " partitions=%d topic=%s\n",
			       nusers, home, since_ms, n, topic);
		rc = MOVE_OK;
	} else {
		fprintf(stderr,
		        "central: the brokers acknowledged %ld of %ld moves (%ld failed%s%s); "
		        "run it again with --since %" PRIu64 "\n",
		        delivered, want, failed, fe ? "; " : "", fe ? rd_kafka_err2str(fe) : "",
		        since_ms);
	}
out:
	rd_kafka_destroy(rk);
	return rc;
}
