/* feedtx.c - the change feed's way of publishing (an idempotent
 * producer, each chunk awaited, consumers on read_uncommitted) against
 * Kafka's transactions (each chunk one transaction, consumers on
 * read_committed), on a real cluster (make bench-feedtx, docs/events.md
 * "Exactly once").
 *
 * One run is one way. Every tick of chunk_ms the producer thread sends
 * one chunk of rate * chunk_ms / 1000 feed-sized messages (size bytes)
 * spread over the topic's partitions, and waits for it: plain, until
 * every delivery report came (rd_kafka_flush: one chunk in flight, as
 * central's publisher keeps); tx, begin_transaction, the messages,
 * commit_transaction. With rate 0 the next chunk goes at once (the
 * peak). A consumer thread reads every partition from its end with the
 * way's isolation level and stamps each message on arrival: the time
 * from its produce call to a reader seeing it is what a consumer of the
 * feed waits. It reports the chunks' and the visibility's p50/p99, the
 * events per second, the offsets the log took per event (a transaction
 * marker takes one) and the CPU time of this process (producer and
 * reader, librdkafka's threads with them) per event.
 *
 * With tx the run ends by starting a second producer with the same
 * transactional.id: the first one's next transaction must fail fenced
 * (the zombie a transaction stops, which the feed's timing-based
 * hand-over cannot).
 *
 * It uses librdkafka only, no project code: what it measures is Kafka's.
 *
 *   feedtx BOOTSTRAP TOPIC plain|tx SECONDS RATE CHUNK_MS SIZE
 */
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLES_MAX 4000000 /* visibility samples kept (one per message) */
#define CHUNKS_MAX 1000000
#define PARTS_MAX 64
#define WAIT_MS 30000 /* a chunk's, a commit's, metadata's wait */

typedef struct run {
	const char *bootstrap, *topic;
	bool tx;
	unsigned seconds, rate, chunk_ms, size;
	int32_t parts;
	atomic_bool producing, reading;
	atomic_uint_fast64_t read; /* messages the reader saw */
	uint64_t *vis;             /* ns from produce to seen, per message */
	uint64_t *chunk;           /* ns from a chunk's first produce to its end */
	size_t nchunk;
	uint64_t sent, failed;
	uint64_t cpu_ns; /* the whole process's: librdkafka's threads do the work */
	int64_t start[PARTS_MAX], end[PARTS_MAX];
} run;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t process_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
	                      .tv_nsec = (long)(ns % 1000000000u)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
		;
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "feedtx: %s: %s\n", what, why);
	exit(1);
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK)
		die(k, err);
}

static rd_kafka_t *client(rd_kafka_type_t type, rd_kafka_conf_t *c)
{
	char err[256];
	rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof err);
	if (!rk)
		die("rd_kafka_new", err);
	return rk;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	run *r = opaque;
	if (m->err)
		r->failed++;
}

static rd_kafka_t *producer(run *r, const char *txid)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	set(c, "bootstrap.servers", r->bootstrap);
	set(c, "enable.idempotence", "true");
	set(c, "acks", "all");
	set(c, "linger.ms", "0");
	set(c, "socket.nagle.disable", "true");
	if (txid)
		set(c, "transactional.id", txid);
	rd_kafka_conf_set_opaque(c, r);
	rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
	rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, c);
	if (txid) {
		rd_kafka_error_t *e = rd_kafka_init_transactions(rk, WAIT_MS);
		if (e)
			die("init_transactions", rd_kafka_error_string(e));
	}
	return rk;
}

static void watermarks(run *r, rd_kafka_t *rk, int64_t *out)
{
	for (int32_t p = 0; p < r->parts; p++) {
		int64_t lo, hi;
		rd_kafka_resp_err_t e =
		    rd_kafka_query_watermark_offsets(rk, r->topic, p, &lo, &hi, WAIT_MS);
		if (e)
			die("watermarks", rd_kafka_err2str(e));
		out[p] = hi;
	}
}

static int32_t partitions(run *r, rd_kafka_t *rk)
{
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, r->topic, NULL);
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, WAIT_MS);
	rd_kafka_topic_destroy(t);
	if (e)
		die("metadata", rd_kafka_err2str(e));
	int32_t n = md->topic_cnt == 1 ? md->topics[0].partition_cnt : 0;
	rd_kafka_metadata_destroy(md);
	if (n < 1 || n > PARTS_MAX)
		die("metadata", "the topic has no partitions, or too many");
	return n;
}

static void *reader(void *arg)
{
	run *r = arg;
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	set(c, "bootstrap.servers", r->bootstrap);
	set(c, "group.id", "feedtx");
	set(c, "enable.auto.commit", "false");
	set(c, "isolation.level", r->tx ? "read_committed" : "read_uncommitted");
	/* The broker's side is what is measured, not a long poll's wait. */
	set(c, "fetch.wait.max.ms", "10");
	rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, c);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(r->parts);
	for (int32_t p = 0; p < r->parts; p++)
		rd_kafka_topic_partition_list_add(l, r->topic, p)->offset = r->start[p];
	if (rd_kafka_assign(rk, l))
		die("assign", "refused");
	rd_kafka_topic_partition_list_destroy(l);
	atomic_store(&r->reading, true);
	uint64_t idle_since = 0;
	for (;;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		uint64_t now = mono_ns();
		if (!m) {
			/* Done once the producer is and nothing came for 2 s. */
			if (!atomic_load(&r->producing)) {
				if (!idle_since)
					idle_since = now;
				else if (now - idle_since > 2000000000u)
					break;
			}
			continue;
		}
		idle_since = 0;
		if (!m->err && m->len >= sizeof(uint64_t)) {
			uint64_t t;
			memcpy(&t, m->payload, sizeof t);
			uint64_t n = atomic_fetch_add(&r->read, 1);
			if (n < SAMPLES_MAX)
				r->vis[n] = now - t;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return NULL;
}

/* One chunk of n messages; false when the transaction failed. */
static bool chunk(run *r, rd_kafka_t *rk, unsigned n, char *buf, int32_t *next_part)
{
	rd_kafka_error_t *e;
	if (r->tx && (e = rd_kafka_begin_transaction(rk)) != NULL) {
		fprintf(stderr, "feedtx: begin_transaction: %s\n", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		return false;
	}
	for (unsigned i = 0; i < n; i++) {
		uint64_t t = mono_ns();
		memcpy(buf, &t, sizeof t);
		rd_kafka_resp_err_t pe;
		while ((pe = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(r->topic),
		                               RD_KAFKA_V_PARTITION(*next_part),
		                               RD_KAFKA_V_VALUE(buf, r->size),
		                               RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                               RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(rk, 10);
		if (pe) {
			fprintf(stderr, "feedtx: produce: %s\n", rd_kafka_err2str(pe));
			return false;
		}
		*next_part = (*next_part + 1) % r->parts;
	}
	if (!r->tx) {
		if (rd_kafka_flush(rk, WAIT_MS))
			die("flush", "a chunk was not acknowledged in time");
		r->sent += n;
		return true;
	}
	e = rd_kafka_commit_transaction(rk, WAIT_MS);
	if (!e) {
		r->sent += n;
		return true;
	}
	fprintf(stderr, "feedtx: commit_transaction: %s (fatal %d)\n", rd_kafka_error_string(e),
	        rd_kafka_error_is_fatal(e));
	rd_kafka_error_destroy(e);
	return false;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct_ms(uint64_t *v, size_t n, double q)
{
	if (!n)
		return -1;
	size_t i = (size_t)(q * (double)(n - 1));
	return (double)v[i] / 1e6;
}

/* The first producer's next transaction, once a second one with the
 * same id has started: fenced, or not. */
static void fencing(run *r, rd_kafka_t *rk, char *buf)
{
	rd_kafka_t *zombie_killer = producer(r, "feedtx");
	int32_t part = 0;
	bool ok = chunk(r, rk, 1, buf, &part);
	printf("fenced=%s\n", ok ? "no" : "yes");
	rd_kafka_destroy(zombie_killer);
}

int main(int argc, char **argv)
{
	if (argc != 8) {
		fprintf(stderr,
		        "usage: feedtx BOOTSTRAP TOPIC plain|tx SECONDS RATE CHUNK_MS SIZE\n");
		return 2;
	}
	static run r;
	r.bootstrap = argv[1];
	r.topic = argv[2];
	r.tx = strcmp(argv[3], "tx") == 0;
	if (!r.tx && strcmp(argv[3], "plain") != 0)
		die("mode", "plain or tx");
	r.seconds = (unsigned)strtoul(argv[4], NULL, 10);
	r.rate = (unsigned)strtoul(argv[5], NULL, 10);
	r.chunk_ms = (unsigned)strtoul(argv[6], NULL, 10);
	r.size = (unsigned)strtoul(argv[7], NULL, 10);
	if (!r.seconds || !r.chunk_ms || r.size < sizeof(uint64_t) || r.size > 65536)
		die("arguments", "SECONDS and CHUNK_MS above 0, SIZE 8..65536");
	r.vis = calloc(SAMPLES_MAX, sizeof *r.vis);
	r.chunk = calloc(CHUNKS_MAX, sizeof *r.chunk);
	char *buf = calloc(1, r.size);
	if (!r.vis || !r.chunk || !buf)
		die("calloc", "out of memory");
	memset(buf + sizeof(uint64_t), 'e', r.size - sizeof(uint64_t));

	rd_kafka_t *rk = producer(&r, r.tx ? "feedtx" : NULL);
	r.parts = partitions(&r, rk);
	watermarks(&r, rk, r.start);
	atomic_store(&r.producing, true);
	pthread_t t;
	if (pthread_create(&t, NULL, reader, &r))
		die("pthread_create", "failed");
	while (!atomic_load(&r.reading))
		sleep_until(mono_ns() + 1000000);
	sleep_until(mono_ns() + 1000000000u); /* the reader's first fetch */

	/* At a rate: the chunk's share of it each tick; at the peak: 1000. */
	unsigned per = r.rate ? (r.rate * r.chunk_ms + 999) / 1000 : 1000;
	uint64_t cpu0 = process_cpu_ns(), t0 = mono_ns();
	uint64_t end = t0 + (uint64_t)r.seconds * 1000000000u, due = t0;
	int32_t part = 0;
	while (mono_ns() < end && r.nchunk < CHUNKS_MAX) {
		if (r.rate) {
			sleep_until(due);
			due += (uint64_t)r.chunk_ms * 1000000u;
		}
		uint64_t c0 = mono_ns();
		if (!chunk(&r, rk, per, buf, &part))
			die("chunk", "the transaction failed");
		r.chunk[r.nchunk++] = mono_ns() - c0;
	}
	double secs = (double)(mono_ns() - t0) / 1e9;
	atomic_store(&r.producing, false);
	pthread_join(t, NULL);
	r.cpu_ns = process_cpu_ns() - cpu0;
	watermarks(&r, rk, r.end);
	uint64_t failed = r.failed; /* the fenced transaction's message fails on purpose */
	if (r.tx)
		fencing(&r, rk, buf);
	rd_kafka_destroy(rk);

	int64_t offsets = 0;
	for (int32_t p = 0; p < r.parts; p++)
		offsets += r.end[p] - r.start[p];
	size_t nvis = atomic_load(&r.read);
	if (nvis > SAMPLES_MAX)
		nvis = SAMPLES_MAX;
	qsort(r.vis, nvis, sizeof *r.vis, cmp_u64);
	qsort(r.chunk, r.nchunk, sizeof *r.chunk, cmp_u64);
	printf("mode=%s\nseconds=%.2f\npartitions=%d\nchunk_messages=%u\n", argv[3], secs, r.parts,
	       per);
	printf("sent=%" PRIu64 "\nfailed=%" PRIu64 "\nread=%" PRIu64 "\n", r.sent, failed,
	       (uint64_t)atomic_load(&r.read));
	printf("events_per_s=%.0f\n", (double)r.sent / secs);
	printf("offsets_per_event=%.4f\n", r.sent ? (double)offsets / (double)r.sent : 0);
	printf("chunk_p50_ms=%.2f\nchunk_p99_ms=%.2f\n", pct_ms(r.chunk, r.nchunk, 0.50),
	       pct_ms(r.chunk, r.nchunk, 0.99));
	printf("visible_p50_ms=%.2f\nvisible_p99_ms=%.2f\n", pct_ms(r.vis, nvis, 0.50),
	       pct_ms(r.vis, nvis, 0.99));
	printf("client_cpu_us_per_event=%.1f\n",
	       r.sent ? (double)r.cpu_ns / 1e3 / (double)r.sent : 0);
	free(r.vis);
	free(r.chunk);
	free(buf);
	return failed || atomic_load(&r.read) < r.sent;
}
