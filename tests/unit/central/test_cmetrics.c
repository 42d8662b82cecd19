/* test_cmetrics.c - central's metrics (cmetrics.h) served by a real ops
 * API over a real store and applier: the exposition parses and keeps
 * every name /metrics always had, the apply and store histograms and the
 * per-counter op counters move with applied batches, lag and its maximum
 * follow the watermarks, the hot list (/v1/hot, never /metrics) puts the
 * most liked item first, and memory_bytes names each holder. Also the
 * store's LevelDB property wrappers.
 *
 * Each test gets its own temp dir, store, applier for 2 partitions, and
 * the ops API on 127.0.0.1 at a port the kernel picks (no token).
 */
#include <criterion/criterion.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/ops/cmetrics.h"
#include "central/apply/keys.h"
#include "central/ops/opsapi.h"
#include "counter.h"
#include "err.h"
#include "hlc.h"
#include "log.h"
#include "partition.h"
#include "tests/support/proc.h"
#include "tests/support/prom_util.h"
#include "store.h"
#include "tests/support/apply_util.h"
#include "tests/support/testdir.h"
#include "tests/support/wire_util.h"
#include "wire.h"

#define NPARTS 2

static struct {
	char dir[64];
	store *db;
	counters ctr;
	applier *a;
	ops_run_stats run;
	_Atomic int64_t high[NPARTS];
	cmetrics *cm;
	ops_api *api;
	int port;
	uint64_t seq[NPARTS];
	int64_t offset[NPARTS];
	uint64_t ts;
} T;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	cr_assert_eq(evthread_use_pthreads(), 0);
	memset(&T, 0, sizeof T);
	char err[256];
	T.a = apply_util_open("test_cmetrics", "likes,saves", "views", NPARTS, T.dir, sizeof T.dir,
	                      &T.ctr, &T.db);
	for (int p = 0; p < NPARTS; p++)
		atomic_init(&T.high[p], -1);
	T.run.input_high = T.high;
	cmetrics_opts mo = {
	    .ctr = &T.ctr, .partitions = NPARTS, .ap = T.a, .run = &T.run, .db = T.db, .hot_k = 20};
	T.cm = cmetrics_new(&mo);
	cmetrics_feed(T.cm, T.a);
	ops_api_opts o = {.listen = "127.0.0.1:0",
	                  .token = "",
	                  .db = T.db,
	                  .ctr = &T.ctr,
	                  .partitions = NPARTS,
	                  .ap = T.a,
	                  .run = &T.run,
	                  .metrics = T.cm};
	T.api = ops_api_start(&o, err, sizeof err);
	cr_assert_not_null(T.api, "ops_api_start: %s", err);
	T.port = ops_api_port(T.api);
	T.ts = hlc_make(1700000000000ull, 0);
}

static void teardown(void)
{
	ops_api_stop(T.api);
	cmetrics_free(T.cm);
	apply_util_close(T.a, T.db, &T.ctr, T.dir);
}

TestSuite(cmetrics, .init = setup, .fini = teardown, .timeout = 60);

static wire_op op(const char *counter, const char *item, const char *user, int kind, uint32_t n)
{
	return wire_util_op(counter, item, user, (uint8_t)kind, n, T.ts++);
}

/* Applies ops (all of one partition) as the next batch of edge "e1",
 * through applier_apply, timed by the observer cmetrics_feed set. */
static void send_ops(const wire_op *ops, size_t n)
{
	uint32_t p = partition_of(ops[0].item.p, ops[0].item.n, NPARTS);
	wire_util_msg m = wire_util_batch("e1", "r1", p, ++T.seq[p], ops, n, NULL, 0);
	int rc = applier_apply(T.a, p, T.offset[p]++, m.buf, m.len, 0);
	cr_assert_eq(rc, 0, "apply: %s", err_str(rc));
	free(m.buf);
}

/* n likes of item by distinct users u0..u(n-1). */
static void like(const char *item, int n)
{
	for (int i = 0; i < n; i++) {
		char user[16];
		snprintf(user, sizeof user, "u%d", i);
		wire_op o = op("likes", item, user, WIRE_ADD, 1);
		send_ops(&o, 1);
	}
}

static char *scrape(const char *path)
{
	static char out[1 << 18];
	int code = proc_curl(out, sizeof out, "", T.port, path);
	cr_assert_eq(code, 200, "%s -> %d %s", path, code, out);
	return out;
}

static double value(const char *text, const char *series)
{
	double v = -1;
	cr_assert(prom_util_value(text, series, &v), "no sample %s in:\n%s", series, text);
	return v;
}

Test(cmetrics, exposition_parses_and_keeps_every_existing_name)
{
	like("post:1", 2);
	wire_op bad = op("hugs", "post:1", "u1", WIRE_ADD, 1);
	send_ops(&bad, 1);
	const char *m = scrape("/metrics");
	char why[256];
	cr_assert(prom_util_check(m, why, sizeof why), "%s\n%s", why, m);
	static const char *const names[] = {"batches_applied_total",
	                                    "batches_duplicate_total",
	                                    "batches_held_total",
	                                    "batches_bad_total",
	                                    "batches_deadlettered_total",
	                                    "deadletter_failed_total",
	                                    "ops_applied_total",
	                                    "ops_invalid_total",
	                                    "store_writes_total",
	                                    "snapshots_sent_total",
	                                    "kafka_produce_errors_total",
	                                    "input_offset_resets_total",
	                                    "input_next_offset",
	                                    "held_batches",
	                                    "consumer_lag",
	                                    "consumer_lag_max",
	                                    "apply_duration_seconds",
	                                    "store_write_duration_seconds",
	                                    "kafka_produce_duration_seconds",
	                                    "kafka_delivered_total",
	                                    "snapshot_counts_total",
	                                    "snapshot_age_seconds",
	                                    "cache_hits_total",
	                                    "cache_misses_total",
	                                    "store_level_files",
	                                    "store_approximate_bytes",
	                                    "store_memory_bytes",
	                                    "store_compaction_read_bytes_total",
	                                    "store_compaction_written_bytes_total",
	                                    "store_torn_log_refused_total",
	                                    "store_log_rolls_total"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char want[128];
		snprintf(want, sizeof want, "\n# TYPE likes_central_%s ", names[i]);
		cr_assert_not_null(strstr(m, want), "no family %s", names[i]);
	}
	cr_assert_eq(value(m, "likes_central_batches_applied_total"), 3);
	/* Split families have no unlabelled twin: sum() is the total. */
	cr_assert_eq(prom_util_sum(m, "likes_central_ops_applied_total"), 2);
	cr_assert_eq(prom_util_sum(m, "likes_central_ops_invalid_total"), 1);
	cr_assert_eq(value(m, "likes_central_ops_invalid_total{reason=\"unknown_counter\"}"), 1);
	/* The names issue 18 replaced (docs/ops.md, *Renamed metrics*). */
	static const char *const gone[] = {"_by_counter_",
	                                   "_by_reason_",
	                                   "apply_seconds",
	                                   "store_write_seconds",
	                                   "snapshot_publish_seconds",
	                                   "snapshot_delivered_total",
	                                   "snapshot_errors_total",
	                                   "snapshot_messages_total"};
	for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
		cr_assert_null(strstr(m, gone[i]), "%s is still there", gone[i]);
	cr_assert_eq(value(m, "likes_central_store_writes_total"), 3);
}

Test(cmetrics, apply_histograms_and_op_counters_move_with_applied_batches)
{
	const char *m = scrape("/metrics");
	cr_assert_eq(value(m, "likes_central_apply_duration_seconds_count"), 0);
	/* Contract changed on purpose (issue 18): every configured counter's
	 * series is there at 0 before its first op, for increase(). */
	cr_assert_eq(value(m, "likes_central_ops_applied_total{counter=\"likes\","
	                      "kind=\"set\",op=\"add\"}"),
	             0, "no op yet, the series at 0");
	cr_assert_eq(value(m, "likes_central_ops_applied_total{counter=\"views\","
	                      "kind=\"sum\",op=\"add\"}"),
	             0);
	cr_assert_eq(value(m, "likes_central_ops_invalid_total{reason=\"unknown_counter\"}"), 0);
	like("post:1", 3);
	wire_op un = op("likes", "post:1", "u0", WIRE_REMOVE, 1);
	send_ops(&un, 1);
	wire_op v = op("views", "reel:2", "u0", WIRE_ADD, 7);
	send_ops(&v, 1);
	m = scrape("/metrics");
	cr_assert_eq(value(m, "likes_central_apply_duration_seconds_count"), 5);
	cr_assert_eq(value(m, "likes_central_store_write_duration_seconds_count"), 5);
	cr_assert_eq(value(m, "likes_central_apply_duration_seconds_bucket{le=\"+Inf\"}"), 5);
	cr_assert_eq(value(m, "likes_central_ops_applied_total{counter=\"likes\","
	                      "kind=\"set\",op=\"add\"}"),
	             3);
	cr_assert_eq(value(m, "likes_central_ops_applied_total{counter=\"likes\","
	                      "kind=\"set\",op=\"remove\"}"),
	             1);
	cr_assert_eq(value(m, "likes_central_ops_applied_total{counter=\"views\","
	                      "kind=\"sum\",op=\"add\"}"),
	             1);
	uint32_t p = partition_of("post:1", 6, NPARTS);
	char s[96];
	snprintf(s, sizeof s, "likes_central_input_next_offset{partition=\"%u\"}", p);
	cr_assert_eq(value(m, s), (double)T.offset[p]);
	/* Counts were read from the store once, then from the cache. */
	cr_assert_gt(value(m, "likes_central_cache_hits_total{cache=\"counts\"}"), 0);
	cr_assert_gt(value(m, "likes_central_cache_misses_total{cache=\"counts\"}"), 0);
}

Test(cmetrics, a_count_an_op_would_take_below_zero_is_counted_as_clamped)
{
	const char *m = scrape("/metrics");
	cr_assert_eq(value(m, "likes_central_numbers_clamped_total"), 0);
	applier_set_cache(T.a, 0, 0); /* the store's word, not a cached one */
	like("post:5", 1);
	/* The stored count disagrees with the membership: 0 for one like. */
	unsigned char k[256], zero[8];
	size_t kn = ckey_count(k, "likes", 5, "post:5", 6);
	store_put_u64(zero, 0);
	store_batch *b = store_batch_new();
	store_batch_put(b, k, kn, zero, sizeof zero);
	cr_assert_eq(store_write(T.db, b), 0);
	store_batch_free(b);
	wire_op un = op("likes", "post:5", "u0", WIRE_REMOVE, 1);
	send_ops(&un, 1); /* logs "number would go below zero" */
	m = scrape("/metrics");
	cr_assert_eq(value(m, "likes_central_numbers_clamped_total"), 1, "%s", m);
}

Test(cmetrics, lag_is_watermark_less_next_offset_and_its_maximum_sticks)
{
	const char *m = scrape("/metrics");
	cr_assert_null(strstr(m, "likes_central_consumer_lag{"), "unknown watermark: no lag");
	uint32_t p = partition_of("post:1", 6, NPARTS);
	atomic_store(&T.high[p], 4);
	cmetrics_note_lag(T.cm); /* as at start-up: nothing applied yet */
	like("post:1", 3);
	m = scrape("/metrics");
	char lag[96], max[96];
	snprintf(lag, sizeof lag, "likes_central_consumer_lag{partition=\"%u\"}", p);
	snprintf(max, sizeof max, "likes_central_consumer_lag_max{partition=\"%u\"}", p);
	cr_assert_eq(value(m, lag), 1);
	cr_assert_eq(value(m, max), 4);
	like("post:2", 1);
	cmetrics_note_lag(T.cm);
	m = scrape("/metrics");
	uint32_t q = partition_of("post:2", 6, NPARTS);
	if (q == p)
		cr_assert_eq(value(m, lag), 0, "caught up");
	cr_assert_eq(value(m, max), 4, "the maximum stays");
}

Test(cmetrics, hot_list_puts_the_most_liked_item_first)
{
	like("post:7", 5);
	like("reel:3", 2);
	like("post:9", 1);
	/* A repeat like changes no count: it does not make post:9 hotter. */
	wire_op again = op("likes", "post:9", "u0", WIRE_ADD, 1);
	send_ops(&again, 1);
	json_t *j = json_loads(scrape("/v1/hot?limit=3"), 0, NULL);
	cr_assert_not_null(j);
	cr_assert_eq(json_integer_value(json_object_get(j, "window_ms")), CMETRICS_HOT_WINDOW_MS);
	json_t *items = json_object_get(j, "items");
	cr_assert_eq(json_array_size(items), 3);
	static const char *const order[] = {"post:7", "reel:3", "post:9"};
	static const int counts[] = {5, 2, 1};
	for (size_t i = 0; i < 3; i++) {
		json_t *h = json_array_get(items, i);
		cr_assert_str_eq(json_string_value(json_object_get(h, "item")), order[i]);
		cr_assert_str_eq(json_string_value(json_object_get(h, "counter")), "likes");
		cr_assert_eq(json_integer_value(json_object_get(h, "count")), counts[i]);
		cr_assert_eq(json_integer_value(json_object_get(h, "error")), 0);
		cr_assert_gt(json_number_value(json_object_get(h, "rate")), 0);
	}
	json_decref(j);
	/* Item ids are not label values: /metrics has no hot items (issue 18). */
	const char *m = scrape("/metrics");
	cr_assert_null(strstr(m, "post:7"), "%s", m);
	cr_assert_null(strstr(m, "hot_item"), "%s", m);
}

Test(cmetrics, hot_limit_is_checked)
{
	like("post:1", 1);
	like("post:2", 1);
	char out[4096];
	static const char *const bad[] = {"/v1/hot?limit=0", "/v1/hot?limit=21", "/v1/hot?limit=x",
	                                  "/v1/hot?limit=", "/v1/hot?top=3"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(proc_curl(out, sizeof out, "", T.port, bad[i]), 400, "%s", bad[i]);
	json_t *j = json_loads(scrape("/v1/hot?limit=1"), 0, NULL);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 1);
	json_decref(j);
	j = json_loads(scrape("/v1/hot"), 0, NULL);
	cr_assert_eq(json_array_size(json_object_get(j, "items")), 2);
	json_decref(j);
}

Test(cmetrics, snapshot_delivery_feeds_latency_counts_and_age)
{
	cmetrics_snapshot_queued(T.cm, 1, 12);
	cmetrics_snapshot_delivered(T.cm, 1, true, 2500);
	cmetrics_snapshot_delivered(T.cm, 0, false, 100);
	const char *m = scrape("/metrics");
	cr_assert_eq(value(m, "likes_central_snapshot_counts_total"), 12);
	cr_assert_eq(value(m, "likes_central_kafka_delivered_total"), 1);
	cr_assert_eq(value(m, "likes_central_kafka_produce_duration_seconds_count"), 1);
	cr_assert_eq(value(m, "likes_central_kafka_produce_duration_seconds_bucket{le=\"0.0025\"}"),
	             1);
	cr_assert_eq(value(m, "likes_central_kafka_produce_duration_seconds_bucket{le=\"0.001\"}"),
	             0);
	cr_assert_lt(value(m, "likes_central_snapshot_age_seconds{partition=\"1\"}"), 30);
	cr_assert_null(strstr(m, "snapshot_age_seconds{partition=\"0\"}"), "never delivered");
}

Test(cmetrics, store_property_and_approximate_size)
{
	char v[64];
	cr_assert_eq(store_property(T.db, "leveldb.num-files-at-level0", v, sizeof v), 0);
	char *end;
	strtol(v, &end, 10);
	cr_assert(v[0] && !*end, "'%s' is not a number", v);
	cr_assert_eq(store_property(T.db, "leveldb.no-such-thing", v, sizeof v), ERR_NOTFOUND);
	cr_assert_str_eq(v, "");
	cr_assert_eq(store_property(T.db, "leveldb.stats", v, 8), 0, "cut to fit");
	cr_assert_eq(strlen(v), 7);
	uint64_t bytes = 1;
	cr_assert_eq(store_approximate_size(T.db, &bytes), 0);
	cr_assert_lt(bytes, 1u << 30);
}

Test(cmetrics, memory_bytes_names_every_holder_and_follows_the_applier)
{
	static const char *const holders[] = {"count_cache",      "member_cache", "working_set",
	                                      "snapshot_changes", "store",        "heap_free"};
	const char *m = scrape("/metrics");
	char why[256];
	cr_assert(prom_util_check(m, why, sizeof why), "%s\n%s", why, m);
	char series[96];
	for (size_t i = 0; i < sizeof holders / sizeof holders[0]; i++) {
		snprintf(series, sizeof series, "likes_central_memory_bytes{holder=\"%s\"}",
		         holders[i]);
		cr_assert_geq(value(m, series), 0, "%s", series);
	}
	cr_assert_eq(value(m, "likes_central_memory_bytes{holder=\"count_cache\"}"), 0,
	             "nothing applied yet");
	like("post:1", 3);
	m = scrape("/metrics");
	applier_memory am;
	applier_get_memory(T.a, &am);
	cr_assert_gt(am.count_cache, 0);
	cr_assert_eq(value(m, "likes_central_memory_bytes{holder=\"count_cache\"}"),
	             (double)am.count_cache, "the applier's own figure");
	cr_assert_eq(value(m, "likes_central_memory_bytes{holder=\"working_set\"}"),
	             (double)am.working_set);
	cr_assert_gt(value(m, "likes_central_memory_bytes{holder=\"snapshot_changes\"}"), 0,
	             "a count changed since the last snapshot");
	cr_assert_gt(value(m, "likes_central_memory_bytes{holder=\"store\"}"), 0);
}
