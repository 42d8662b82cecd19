/* itest_deadletter.c - poison messages end in the dead-letter topic,
 * with real processes: the embedded broker (build/sim broker), central
 * and two edges on loopback (tests/support/stack.h). The test writes poison
 * straight onto the batch and snapshot topics, then checks that the
 * good messages after it still take effect and that the dead-letter
 * topic holds exactly the poison, unchanged, with its headers. Each
 * test starts its own stack and stops it, by PID, in .fini.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "clock.h"
#include "hlc.h"
#include "tests/support/kafka_util.h"
#include "partition.h"
#include "tests/support/stack.h"
#include "wire.h"

#define NPARTS 2
#define MAX_DL 16

static void setup(void)
{
	stack_up(2, NPARTS, 200);
}

TestSuite(deadletter, .init = setup, .fini = stack_down, .timeout = 180);

/* --- helpers ---------------------------------------------------------------- */

static rd_kafka_t *producer(void)
{
	char path[512], bs[512];
	snprintf(path, sizeof path, "%s/bootstrap", S.dir);
	cr_assert_eq(bus_read_bootstrap(path, bs, sizeof bs), 0);
	return kafka_util_new_producer(bs);
}

static rd_kafka_t *consumer(void)
{
	char path[512], bs[512];
	snprintf(path, sizeof path, "%s/bootstrap", S.dir);
	cr_assert_eq(bus_read_bootstrap(path, bs, sizeof bs), 0);
	return kafka_util_new_consumer(bs, "itest-deadletter");
}

/* Produces len bytes to (topic, part) and waits for the offset. */
static int64_t put(rd_kafka_t *rk, const char *topic, int32_t part, const void *buf, size_t len)
{
	delivery d = {0};
	rd_kafka_resp_err_t e = rd_kafka_producev(
	    rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
	    RD_KAFKA_V_VALUE((void *)buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_OPAQUE(&d), RD_KAFKA_V_END);
	cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "producev: %s", rd_kafka_err2str(e));
	cr_assert(kafka_util_wait_delivery(rk, &d, 20000), "no delivery report for %s", topic);
	cr_assert_eq(d.err, RD_KAFKA_RESP_ERR_NO_ERROR, "%s: %s", topic, rd_kafka_err2str(d.err));
	return d.offset;
}

/* The first n items "post:<prefix>N" of partition p. */
static void items_of(const char *prefix, uint32_t p, char out[][32], int n)
{
	int found = 0;
	for (int i = 0; found < n && i < 100000; i++) {
		char s[32];
		snprintf(s, sizeof s, "post:%s%d", prefix, i);
		if (partition_of(s, strlen(s), NPARTS) == p)
			snprintf(out[found++], 32, "%s", s);
	}
	cr_assert_eq(found, n);
}

static wire_op like(const char *item, const char *user)
{
	return (wire_op){wire_cstr("likes", 5),
	                 wire_cstr(item, strlen(item)),
	                 wire_cstr(user, strlen(user)),
	                 WIRE_ADD,
	                 1,
	                 hlc_make(clock_wall_ms(), 0),
	                 {NULL, 0}};
}

static int64_t put_batch(rd_kafka_t *rk, uint32_t p, uint64_t seq, const wire_op *ops, size_t n)
{
	wire_batch b = {wire_cstr("itest", 5), wire_cstr("rx", 2), p, seq, clock_wall_ms(),
	                (uint32_t)n,           (wire_op *)ops,     0, NULL};
	char *buf;
	size_t len;
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), 0);
	int64_t off = put(rk, "likes.batches", (int32_t)p, buf, len);
	free(buf);
	return off;
}

/* A count from central's ops API ("item" is "post:id"), -1 on error. */
static long long central_count(const char *item)
{
	char out[1024];
	if (proc_capture(out, sizeof out,
	                 "curl -s -m 5 'http://127.0.0.1:%d/v1/items/post/%s/likes'", S.ops_port,
	                 item + 5))
		return -1;
	return proc_json_num(out, "count");
}

static long long edge_count(int edge, const char *item)
{
	char path[128], body[512];
	snprintf(path, sizeof path, "/v1/items/post/%s/likes", item + 5);
	if (proc_http("GET", S.edge_port[edge], path, NULL, body, sizeof body) != 200)
		return -1;
	return proc_json_num(body, "count");
}

typedef struct dl_msg {
	char *value;
	size_t len;
	char reason[256], source_topic[64], by[64];
	long long partition, offset;
} dl_msg;

static void header(rd_kafka_headers_t *h, const char *name, char *out, size_t cap)
{
	const void *v;
	size_t n;
	out[0] = 0;
	if (!h || rd_kafka_header_get_last(h, name, &v, &n) || n >= cap)
		return;
	memcpy(out, v, n);
	out[n] = 0;
}

/* Reads the dead-letter topic until `want` messages from `by` arrived
 * (deadline 30 s), then 2 s more to catch any extra; *n gets how many. */
static void read_dead_letters(const char *by, int want, dl_msg *out, int *n)
{
	rd_kafka_t *rk = consumer();
	kafka_util_assign_from_start(rk, "likes.deadletter", 0);
	*n = 0;
	uint64_t deadline = clock_mono_ms() + 30000, extra = 0;
	while (clock_mono_ms() < deadline && (!extra || clock_mono_ms() < extra)) {
		rd_kafka_message_t *m = kafka_util_next_message(rk, 200);
		if (!m)
			continue;
		rd_kafka_headers_t *h = NULL;
		if (rd_kafka_message_headers(m, &h))
			h = NULL;
		dl_msg d = {0};
		char num[32];
		header(h, "dlq_by", d.by, sizeof d.by);
		if (strcmp(d.by, by) == 0) {
			cr_assert_lt(*n, MAX_DL);
			header(h, "reason", d.reason, sizeof d.reason);
			header(h, "source_topic", d.source_topic, sizeof d.source_topic);
			header(h, "source_partition", num, sizeof num);
			d.partition = num[0] ? atoll(num) : -99;
			header(h, "source_offset", num, sizeof num);
			d.offset = num[0] ? atoll(num) : -99;
			d.len = m->len;
			d.value = malloc(m->len + 1);
			cr_assert_not_null(d.value);
			memcpy(d.value, m->payload, m->len);
			out[(*n)++] = d;
			if (*n == want)
				extra = clock_mono_ms() + 2000;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_t *none = NULL;
	kafka_util_destroy_clients(&none, &rk);
}

static void free_dead_letters(dl_msg *d, int n)
{
	for (int i = 0; i < n; i++)
		free(d[i].value);
}

static void assert_dead_letter(const dl_msg *d, const char *topic, int32_t p, int64_t offset,
                               const void *bytes, size_t len, const char *reason_prefix)
{
	cr_assert_str_eq(d->source_topic, topic);
	cr_assert_eq(d->partition, p);
	cr_assert_eq(d->offset, offset, "source_offset %lld, wanted %lld", d->offset,
	             (long long)offset);
	cr_assert_eq(d->len, len, "the message goes to the dead-letter topic unchanged");
	cr_assert(memcmp(d->value, bytes, len) == 0, "the dead letter's bytes differ");
	cr_assert(strncmp(d->reason, reason_prefix, strlen(reason_prefix)) == 0,
	          "reason \"%s\", wanted \"%s...\"", d->reason, reason_prefix);
}

static void wait_count(const char *what, long long (*get)(const char *), const char *item,
                       long long want)
{
	uint64_t deadline = clock_mono_ms() + 30000;
	long long got;
	while ((got = get(item)) != want) {
		cr_assert(clock_mono_ms() < deadline, "%s %s: count %lld, wanted %lld", what, item,
		          got, want);
		proc_sleep_ms(100);
	}
}

static long long edge0_count(const char *item)
{
	return edge_count(0, item);
}

static long long edge1_count(const char *item)
{
	return edge_count(1, item);
}

/* --- tests ------------------------------------------------------------------ */

Test(deadletter, poison_batch_is_quarantined_and_the_partition_goes_on)
{
	char it[1][32];
	items_of("dl", 1, it, 1);
	rd_kafka_t *rk = producer();

	static const char poison[] = "\xc1\x00poison: not a batch at all";
	int64_t off_poison = put(rk, "likes.batches", 1, poison, sizeof poison - 1);
	wire_op ok = like(it[0], "u1");
	put_batch(rk, 1, 1, &ok, 1);
	/* Then one with an invalid op beside a valid one. */
	wire_op mixed[2] = {like(it[0], "u2"), like("post:not valid", "u3")};
	wire_batch mb = {
	    wire_cstr("itest", 5), wire_cstr("rx", 2), 1, 2, clock_wall_ms(), 2, mixed, 0, NULL};
	char *mbuf;
	size_t mlen;
	cr_assert_eq(wire_encode_batch(&mb, &mbuf, &mlen), 0);
	int64_t off_mixed = put(rk, "likes.batches", 1, mbuf, mlen);

	wait_count("central", central_count, it[0], 2);
	cr_assert(proc_alive(S.central_pid), "central survived the poison");

	dl_msg d[MAX_DL];
	int n;
	read_dead_letters("c1", 2, d, &n);
	cr_assert_eq(n, 2, "exactly the two refused messages, got %d", n);
	assert_dead_letter(&d[0], "likes.batches", 1, off_poison, poison, sizeof poison - 1,
	                   "undecodable ");
	assert_dead_letter(&d[1], "likes.batches", 1, off_mixed, mbuf, mlen,
	                   "invalid_ops count=1 first_index=1 first_reason=bad_item");
	free_dead_letters(d, n);
	free(mbuf);

	static char out[1 << 17];
	cr_assert_eq(
	    proc_capture(out, sizeof out, "curl -s -m 5 http://127.0.0.1:%d/metrics", S.ops_port),
	    0);
	cr_assert(strstr(out, "likes_central_batches_deadlettered_total 2\n"), "metrics:\n%s", out);
	cr_assert(strstr(out, "likes_central_deadletter_failed_total 0\n"));
	rd_kafka_t *none = NULL;
	kafka_util_destroy_clients(&rk, &none);
}

Test(deadletter, bad_snapshots_are_quarantined_by_each_edge_which_keeps_serving)
{
	char it[2][32];
	items_of("snap", 0, it, 2);
	rd_kafka_t *rk = producer();

	static const char poison[] = "\x93garbage snapshot";
	int64_t off_poison = put(rk, "likes.snapshots", 0, poison, sizeof poison - 1);
	/* A decodable snapshot whose second count would corrupt an edge's
	 * ledger; its offset is far past central's, so central's own later
	 * snapshots are stale to the edges and cannot hide the result. */
	wire_count counts[2] = {
	    {wire_cstr("likes", 5), wire_cstr(it[0], strlen(it[0])), 7},
	    {wire_cstr("likes", 5), wire_cstr(it[1], strlen(it[1])), (uint64_t)1 << 63},
	};
	wire_snapshot s = {.source = wire_cstr("itest", 5),
	                   .partition = 0,
	                   .offset = (uint64_t)1 << 40,
	                   .produced_ms = clock_wall_ms(),
	                   .last = true,
	                   .ncounts = 2,
	                   .counts = counts};
	char *sbuf;
	size_t slen;
	cr_assert_eq(wire_encode_snapshot(&s, &sbuf, &slen), 0);
	int64_t off_bad = put(rk, "likes.snapshots", 0, sbuf, slen);

	/* Central never saw it[0]: a read-through would say 0, so 7 is the
	 * good entry of the snapshot after the poison, applied. */
	wait_count("edge0", edge0_count, it[0], 7);
	wait_count("edge1", edge1_count, it[0], 7);
	cr_assert(proc_alive(S.edge_pid[0]) && proc_alive(S.edge_pid[1]));
	char body[512];
	cr_assert_eq(proc_http("POST", S.edge_port[0], "/v1/items/post/after/likes", "u9", body,
	                       sizeof body),
	             200, "the edge still takes writes: %s", body);

	const char *edges[2] = {"edge0", "edge1"};
	for (int e = 0; e < 2; e++) {
		dl_msg d[MAX_DL];
		int n;
		read_dead_letters(edges[e], 2, d, &n);
		cr_assert_eq(n, 2, "%s: exactly the two refused snapshots, got %d", edges[e], n);
		assert_dead_letter(&d[0], "likes.snapshots", 0, off_poison, poison,
		                   sizeof poison - 1, "undecodable ");
		assert_dead_letter(
		    &d[1], "likes.snapshots", 0, off_bad, sbuf, slen,
		    "bad_counts count=1 first_index=1 first_reason=count_out_of_range");
		free_dead_letters(d, n);
	}
	free(sbuf);
	rd_kafka_t *none = NULL;
	kafka_util_destroy_clients(&rk, &none);
}
