/* realk.h - one real Kafka cluster (`build/sim kafka`, sim/kafka/kafka.h)
 * for a whole integration test binary: three KRaft nodes, started once by
 * the runner process before the first test (realk_suite_start, from a
 * Criterion PRE_ALL hook) and stopped by PID after the last
 * (realk_suite_stop, POST_ALL). The tests, each a child process of the
 * runner, find it through the environment the runner set
 * (LIKES_ITEST_KAFKA: the cluster's dir, holding its bootstrap file and
 * control socket), create topics of their own (a prefix per test, so
 * that no test reads another's records) and fault its nodes through the
 * control socket (sim/kafka/serve.h). A test that faults a node heals
 * the cluster in its teardown (realk_heal), so the next one starts with
 * every node up and every ISR full.
 *
 * The cluster's brokers check retention every second, so a test may
 * watch a topic with a small retention lose its start.
 *
 * Compiled once into the test support library; a test's thread (the
 * answers are static buffers).
 */
#ifndef TESTS_SUPPORT_REALK_H
#define TESTS_SUPPORT_REALK_H

#include <stdbool.h>
#include <stddef.h>

#define REALK_NODES 3

/* Starts the cluster (runner process). On failure the tests find no
 * cluster and fail, saying why (realk_ready). */
void realk_suite_start(void);
/* Stops it (runner process); removes its dir unless KEEP_ITEST_DIR. */
void realk_suite_stop(void);

/* In a test: asserts the suite's cluster is up; its dir. */
const char *realk_dir(void);
/* The bootstrap file's path (a static buffer). */
const char *realk_bootstrap_file(void);
/* The bootstrap list "127.0.0.1:p,..." (a static buffer). */
const char *realk_bootstraps(void);

/* One control command (sim/kafka/serve.h); asserts it answered ok, and
 * returns what followed "ok" (a static buffer). */
const char *realk_ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, returning 0 or the refusal, with it in err. */
int realk_try(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The leader of (topic, partition) now. */
int realk_leader(const char *topic, int partition);

/* A bare client of the cluster (a producer that never produces), for
 * metadata and watermarks; the caller destroys it. */
struct rd_kafka_s;
struct rd_kafka_s *realk_client(void);

/* Every node resumed and started, every ISR full (within 90 s). */
void realk_heal(void);

/* A prefix for this test's topics: "tPID." (a static buffer). */
const char *realk_prefix(void);

#endif
