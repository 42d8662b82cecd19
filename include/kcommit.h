/* kcommit.h - consumed positions committed to Kafka, for tooling only.
 *
 * Central and the edges resume from offsets kept in LevelDB with the
 * effects they stand for; Kafka never decides where they read. So that
 * Kafka's own tools (kafka-consumer-groups.sh, kafka_exporter, Burrow)
 * still see each consumer's lag, a kcommit copies those stored positions
 * into the consumer's group every interval, through the admin API
 * (AlterConsumerGroupOffsets, an OffsetCommit with no member and no
 * generation) on a client of its own. It never touches the consumer:
 * nothing it does can move where a consumer resumes or make it join a
 * group, and a request still waiting when it is freed does not hold the
 * free up (rd_kafka_commit's would, up to session.timeout.ms, while no
 * coordinator answers).
 *
 * Why its own client: in librdkafka 2.0.2 an admin request whose
 * deadline passes while it still waits for the group's coordinator
 * leaves the coordinator lookup behind, and when the coordinator comes
 * back that lookup fails an assertion (enq_once refcnt) and aborts the
 * process: every edge died so after a 20 s outage of all brokers. So the
 * deadline librdkafka sees is the longest it takes (1 h); kcommit keeps
 * timeout_ms itself, and a request past it is abandoned by destroying
 * the client with it (librdkafka's shutdown path ends the lookup
 * cleanly). The next request makes a new client. A 2.0.2 client
 * destroyed while a coordinator request is in flight can also wait for
 * ever in rd_kafka_destroy (a broker reference the request holds; 1 in
 * about 400 such destroys in test_kcommit), so a client is destroyed on
 * a thread of its own, never waited for on the loop; kcommit_free first
 * gives a request in flight a second to end, then waits up to 5 s for
 * the destroy and leaves it if it has not finished.
 *
 * At most one request is in flight; each has a deadline. Its result is
 * read by kcommit_poll without waiting. A failure is counted and logged
 * (the first of a run at warn, then once a minute, and the recovery at
 * info) and never stops anything. Every known position is sent each
 * interval, changed or not, as Kafka's auto-commit does: tools that judge
 * a consumer by its commit times (Burrow) see it alive, and the broker
 * never expires the offsets of a partition that is quiet.
 *
 * Thread: kcommit_new, kcommit_poll and kcommit_free on one thread (the
 * consumer's loop); kcommit_get_stats from any thread.
 */
#ifndef LIKES_KCOMMIT_H
#define LIKES_KCOMMIT_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

typedef struct kcommit kcommit;

/* Partition p's next offset whose effects are durable in the store (every
 * message below it is applied and stored), or -1 when not known yet (such
 * a partition is left out). Called on the kcommit's thread. */
typedef int64_t (*kcommit_position_fn)(void *ctx, uint32_t p);

typedef struct kcommit_opts {
	/* a consumer's settings, made as the consumer's were (bootstrap,
	 * security, group.id) and not given to any client (a running
	 * client's rd_kafka_conf() is not one to copy): copied, the clients
	 * kcommit makes are built from the copy */
	const rd_kafka_conf_t *conf;
	const char *group;    /* the consumer's group id (copied) */
	const char *topic;    /* the consumed topic (copied) */
	uint32_t partitions;  /* partitions 0 .. partitions-1 */
	const uint8_t *owned; /* NULL: all; else owned[p] != 0 for those committed (copied) */
	int64_t interval_ms;  /* how often; 0 = never (kcommit_new returns NULL) */
	int timeout_ms;       /* one request's deadline, kept by kcommit */
	kcommit_position_fn position;
	void *ctx;
} kcommit_opts;

typedef struct kcommit_stats {
	uint64_t sent;   /* requests sent */
	uint64_t ok;     /* requests the broker took whole */
	uint64_t failed; /* requests or partitions refused, or timed out */
} kcommit_stats;

/* NULL when interval_ms is 0 (every other function accepts NULL). */
kcommit *kcommit_new(const kcommit_opts *o);
/* Reads a finished request's result, then sends the positions when the
 * interval has passed and none is in flight. Call it on every loop turn
 * (now_ms: clock_mono_ms()). It waits for nothing on the network; only a
 * request past its deadline costs a client's destroy (measured in
 * test_kcommit, on the mock cluster with every broker down). */
void kcommit_poll(kcommit *kc, uint64_t now_ms);
void kcommit_get_stats(const kcommit *kc, kcommit_stats *out);
/* Waits up to 1 s for a request in flight, then destroys the client
 * (waiting up to 5 s: above). */
void kcommit_free(kcommit *kc);

#endif
