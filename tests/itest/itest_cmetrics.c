/* itest_cmetrics.c - central's /metrics with the real binaries and the
 * embedded broker: a backlog made while central is stopped shows as lag,
 * which falls to 0 once central has caught up; the exposition parses,
 * every holder of memory_bytes with a size; `central stats` and /v1/hot
 * name the item that moved most.
 *
 * Why it is deterministic: central asks the broker for each partition's
 * high watermark at start-up, before it consumes anything, and keeps the
 * largest lag it has seen in consumer_lag_max. The batches are produced
 * (and their delivery confirmed) while central is down, so at that
 * start-up the lag is exactly their number, however fast central then
 * catches up. No scrape has to land in a window of time.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>

#include "clock.h"
#include "hlc.h"
#include "tests/support/kafka_util.h"
#include "partition.h"
#include "tests/support/prom_util.h"
#include "tests/support/stack.h"
#include "wire.h"

#define NPARTS 2
#define BACKLOG 25

static void setup(void)
{
	stack_up(1, NPARTS, 200);
}

TestSuite(cmetrics_itest, .init = setup, .fini = stack_down, .timeout = 120);

static char metrics_text[1 << 18];

static const char *scrape(void)
{
	int code = proc_curl(metrics_text, sizeof metrics_text, "", S.ops_port, "/metrics");
	cr_assert_eq(code, 200, "/metrics -> %d", code);
	return metrics_text;
}

/* The value of one series, or -1 when absent. */
static double sample(const char *series)
{
	double v;
	return prom_util_value(scrape(), series, &v) ? v : -1;
}

/* An item of partition 0. */
static void item_of_p0(char *out, size_t cap, int from)
{
	for (int i = from;; i++) {
		snprintf(out, cap, "post:m%d", i);
		if (partition_of(out, strlen(out), NPARTS) == 0)
			return;
	}
}

Test(cmetrics_itest, backlog_shows_as_lag_then_drains_to_zero)
{
	char p0[32], p0b[32];
	item_of_p0(p0, sizeof p0, 0);
	item_of_p0(p0b, sizeof p0b, (int)strtol(p0 + 6, NULL, 10) + 1);
	double before = sample("likes_central_input_next_offset{partition=\"0\"}");
	cr_assert_geq(before, 0);

	proc_stop(S.central_pid, SIGTERM);
	S.central_pid = 0;

	char bs[512], bootstrap[512];
	snprintf(bs, sizeof bs, "cat %s/bootstrap", S.dir);
	cr_assert_eq(proc_capture(bootstrap, sizeof bootstrap, "%s", bs), 0);
	bootstrap[strcspn(bootstrap, "\n")] = 0;
	rd_kafka_t *rk = kafka_util_new_producer(bootstrap);
	delivery d[BACKLOG];
	for (int i = 0; i < BACKLOG; i++) {
		/* p0 liked by every batch's user, p0b by a few: p0 is hottest. */
		char user[16];
		snprintf(user, sizeof user, "u%d", i);
		const char *item = i % 5 == 0 ? p0b : p0;
		wire_op op = {wire_cstr("likes", 5),
		              wire_cstr(item, strlen(item)),
		              wire_cstr(user, strlen(user)),
		              WIRE_ADD,
		              1,
		              hlc_make(1700000000000ull + (uint64_t)i, 0),
		              {NULL, 0}};
		wire_batch b = {wire_cstr("mx", 2),
		                wire_cstr("rx", 2),
		                0,
		                (uint64_t)i + 1,
		                1000,
		                1,
		                &op,
		                0,
		                NULL};
		char *buf;
		size_t len;
		cr_assert_eq(wire_encode_batch(&b, &buf, &len), 0);
		memset(&d[i], 0, sizeof d[i]);
		rd_kafka_resp_err_t e = rd_kafka_producev(
		    rk, RD_KAFKA_V_TOPIC("likes.batches"), RD_KAFKA_V_PARTITION(0),
		    RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_OPAQUE(&d[i]), RD_KAFKA_V_END);
		cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(e));
		free(buf);
	}
	for (int i = 0; i < BACKLOG; i++)
		cr_assert(kafka_util_wait_delivery(rk, &d[i], 20000), "batch %d not delivered", i);
	rd_kafka_t *none = NULL;
	kafka_util_destroy_clients(&rk, &none);

	stack_start_central();
	/* Measured at start-up, before the first message was applied. */
	cr_assert_eq(sample("likes_central_consumer_lag_max{partition=\"0\"}"), BACKLOG, "%s",
	             metrics_text);

	uint64_t deadline = clock_mono_ms() + 30000;
	while (sample("likes_central_consumer_lag{partition=\"0\"}") != 0 ||
	       sample("likes_central_input_next_offset{partition=\"0\"}") < before + BACKLOG) {
		cr_assert(clock_mono_ms() < deadline, "central never caught up:\n%s", metrics_text);
		proc_sleep_ms(50);
	}
	const char *m = scrape();
	char why[256];
	cr_assert(prom_util_check(m, why, sizeof why), "%s", why);
	double v;
	/* Every holder of central's heap has a size; the backlog went
	 * through the caches. */
	static const char *const holders[] = {"count_cache",      "member_cache", "working_set",
	                                      "snapshot_changes", "store",        "heap_free"};
	for (size_t i = 0; i < sizeof holders / sizeof holders[0]; i++) {
		char series[96];
		snprintf(series, sizeof series, "likes_central_memory_bytes{holder=\"%s\"}",
		         holders[i]);
		cr_assert(prom_util_value(m, series, &v), "%s missing:\n%s", series, m);
		cr_assert(isfinite(v) && v >= 0, "%s is %f", series, v);
	}
	cr_assert(prom_util_value(m, "likes_central_memory_bytes{holder=\"count_cache\"}", &v) &&
	          v > 0);
	cr_assert(prom_util_value(m, "likes_central_memory_bytes{holder=\"store\"}", &v) && v > 0);
	cr_assert(prom_util_value(m, "likes_central_apply_duration_seconds_count", &v) &&
	          v >= BACKLOG);
	cr_assert_geq(prom_util_sum(m, "likes_central_ops_applied_total"), BACKLOG);
	cr_assert(prom_util_value(m, "likes_central_consumer_lag_max{partition=\"0\"}", &v) &&
	          v == BACKLOG);
	cr_assert(prom_util_value(m, "likes_central_input_high_watermark{partition=\"0\"}", &v) &&
	          v == before + BACKLOG);
	/* The hot items are on /v1/hot (and central stats, below), never as
	 * label values of /metrics. */
	cr_assert_null(strstr(m, p0), "%s", m);
	char hot[4096];
	cr_assert_eq(proc_curl(hot, sizeof hot, "", S.ops_port, "/v1/hot?limit=2"), 200);
	cr_assert_not_null(strstr(hot, p0), "%s", hot);

	/* Snapshots flow: their delivery is timed and their age kept. */
	deadline = clock_mono_ms() + 20000;
	while (sample("likes_central_kafka_produce_duration_seconds_count") < 1 ||
	       sample("likes_central_snapshot_age_seconds{partition=\"0\"}") < 0) {
		cr_assert(clock_mono_ms() < deadline, "no snapshot delivered:\n%s", metrics_text);
		proc_sleep_ms(50);
	}

	/* Caught up and fetching: /readyz and its gauges say ready. */
	deadline = clock_mono_ms() + 5000;
	while (sample("likes_central_ready") != 1) {
		cr_assert(clock_mono_ms() < deadline, "central never ready:\n%s", metrics_text);
		proc_sleep_ms(100);
	}
	cr_assert_eq(sample("likes_central_ready_check{check=\"store\"}"), 1);
	cr_assert_eq(sample("likes_central_ready_check{check=\"kafka\"}"), 1);
	cr_assert_eq(sample("likes_central_ready_check{check=\"lag\"}"), 1);
	char rz[512];
	cr_assert_eq(proc_curl(rz, sizeof rz, "", S.ops_port, "/readyz"), 200, "%s", rz);

	char out[8192];
	cr_assert_eq(proc_capture(out, sizeof out, "build/central stats -c %s/central.ini", S.dir),
	             0, "%s", out);
	char *h = strstr(out, "hot items");
	cr_assert_not_null(h, "%s", out);
	cr_assert_not_null(strstr(h, p0), "%s", out);
	cr_assert(strstr(h, p0) < strstr(h, p0b), "the most liked first:\n%s", out);
}
