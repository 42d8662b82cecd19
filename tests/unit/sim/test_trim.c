/* test_trim.c - a changelog partition made to lose its start
 * (sim/drill/trim.c): its record is one the edge's own decoder reads as
 * a void data record (epoch 0, one put of ~trim), and against the
 * embedded Kafka (librdkafka's mock cluster, as drills run it) a trim
 * drops every record of its partition written before it and touches no
 * other partition; a bound reached first is a timeout, and opts without
 * a cluster are refused.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "edge/changelog/changelog.h"
#include "log.h"
#include "sim/drill/trim.h"
#include "store.h"
#include "tests/support/kafka_util.h"

#define TOPIC "likes.changelog"

static struct {
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *mrk, *prod;
} T;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	memset(&T, 0, sizeof T);
	T.mc = kafka_util_mock_new(1, TOPIC, 2, &T.mrk);
	T.prod = kafka_util_new_producer(rd_kafka_mock_cluster_bootstraps(T.mc));
}

static void teardown(void)
{
	if (T.prod)
		rd_kafka_destroy(T.prod);
	kafka_util_mock_free(&T.mc, &T.mrk);
}

TestSuite(trim, .init = setup, .fini = teardown, .timeout = 60);

/* n small records to partition p, each delivered before the next. */
static void fill(int32_t p, int n)
{
	for (int i = 0; i < n; i++) {
		delivery d = {0};
		kafka_util_produce(T.prod, TOPIC, p, "an edge's record", &d);
		cr_assert(kafka_util_wait_delivery(T.prod, &d, 10000));
		cr_assert_eq(d.err, 0, "%s", rd_kafka_err2str(d.err));
	}
}

static void watermarks(int32_t p, int64_t *lo, int64_t *hi)
{
	rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(T.prod, TOPIC, p, lo, hi, 5000);
	cr_assert_eq(e, 0, "%s", rd_kafka_err2str(e));
}

static trim_opts opts(int32_t p)
{
	return (trim_opts){.bootstraps = rd_kafka_mock_cluster_bootstraps(T.mc),
	                   .topic = TOPIC,
	                   .partition = p,
	                   .edge_id = "edge1"};
}

typedef struct put_seen {
	int n;
	char key[16];
	size_t vn;
	bool zeros;
} put_seen;

static void on_put(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	put_seen *p = ctx;
	p->n++;
	snprintf(p->key, sizeof p->key, "%.*s", (int)kn, k);
	p->vn = vn;
	p->zeros = true;
	for (size_t i = 0; i < vn; i++)
		p->zeros &= v[i] == 0;
}

static void on_del(void *ctx, const char *k, size_t kn)
{
	(void)k;
	(void)kn;
	((put_seen *)ctx)->n += 1000;
}

Test(trim, the_record_is_a_void_data_record_the_edge_decodes)
{
	sbuf rec;
	sbuf_init(&rec);
	trim_record(&rec);
	changelog_head h;
	store_batch *wb = store_batch_new();
	cr_assert_eq(changelog_decode(rec.p, rec.len, &h, wb), 0);
	cr_assert_eq(h.kind, CHANGELOG_DATA);
	cr_assert_eq(h.epoch, 0, "void once any instance took the log over");
	put_seen p = {0};
	store_batch_iterate(wb, &p, on_put, on_del);
	cr_assert_eq(p.n, 1, "one put, no delete");
	cr_assert_str_eq(p.key, TRIM_KEY);
	cr_assert_eq(p.vn, TRIM_VALUE_BYTES);
	cr_assert(p.zeros);
	store_batch_free(wb);
	sbuf_free(&rec);
}

Test(trim, every_record_of_the_partition_before_it_is_gone_and_no_other_partition_is_touched)
{
	fill(1, 5);
	fill(0, 3);
	trim_opts o = opts(1);
	trim_result r;
	char err[256] = "";
	cr_assert_eq(trim_partition(&o, &r, err, sizeof err), 0, "%s", err);
	cr_assert_eq(r.lo0, 0);
	cr_assert_eq(r.hi0, 5);
	cr_assert_geq(r.lo, 5, "low watermark %lld", (long long)r.lo);
	cr_assert_eq(r.hi, 5 + (int64_t)r.records);
	/* The mock keeps about 5 MiB a partition: some 20 records of 256 KiB. */
	cr_assert(r.records >= 15 && r.records <= 30, "%u records", r.records);
	int64_t lo, hi;
	watermarks(1, &lo, &hi);
	cr_assert_eq(lo, r.lo);
	cr_assert_eq(hi, r.hi);
	watermarks(0, &lo, &hi);
	cr_assert(lo == 0 && hi == 3, "partition 0 at %lld..%lld", (long long)lo, (long long)hi);

	/* What stays of the trim is keyed as the edge's own records are. */
	rd_kafka_t *cons = kafka_util_new_consumer(rd_kafka_mock_cluster_bootstraps(T.mc), "t");
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, TOPIC, 1)->offset = r.hi - 1;
	cr_assert_eq(rd_kafka_assign(cons, l), 0);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_message_t *m = kafka_util_next_message(cons, 10000);
	cr_assert_not_null(m);
	cr_assert_eq(m->offset, r.hi - 1);
	cr_assert_eq(m->key_len, 5);
	cr_assert_eq(memcmp(m->key, "edge1", 5), 0);
	cr_assert_gt(m->len, TRIM_VALUE_BYTES);
	rd_kafka_message_destroy(m);
	rd_kafka_t *none = NULL;
	kafka_util_destroy_clients(&none, &cons);
}

Test(trim, a_bound_reached_before_the_start_is_gone_is_a_timeout)
{
	fill(1, 2);
	trim_opts o = opts(1);
	o.records_max = 2;
	trim_result r;
	char err[256] = "";
	cr_assert_eq(trim_partition(&o, &r, err, sizeof err), ERR_TIMEOUT, "%s", err);
	cr_assert_eq(r.records, 2);
	cr_assert_eq(r.lo, 0, "the log kept its start");
	cr_assert_eq(r.hi, 4);
	cr_assert_not_null(strstr(err, "still before 2"), "%s", err);
}

Test(trim, opts_without_a_cluster_topic_or_key_are_refused)
{
	trim_result r;
	char err[256] = "";
	trim_opts o = opts(1);
	o.bootstraps = "";
	cr_assert_eq(trim_partition(&o, &r, err, sizeof err), ERR_INVAL);
	o = opts(1);
	o.edge_id = NULL;
	cr_assert_eq(trim_partition(&o, &r, err, sizeof err), ERR_INVAL);
	cr_assert_eq(r.records, 0);
}
