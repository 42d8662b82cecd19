/* kcommit.c - stored positions copied to the consumer's group (kcommit.h).
 *
 * Owns its client (made from a copy of the consumer's conf when a
 * request is to be sent, destroyed with a request past its deadline),
 * the client's result queue, the copies of the names and of the owned
 * set. The counters are atomics so the metrics thread can read them;
 * everything else is the owner's thread's.
 */
#include "kcommit.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "clock.h"
#include "log.h"
#include "xmem.h"

/* While commits keep failing, one warning a minute. */
#define KCOMMIT_WARN_EVERY_MS 60000
/* The deadline librdkafka is given: the longest it takes, so that its
 * own never passes before kcommit's (kcommit.h says why). */
#define KCOMMIT_RDKAFKA_TIMEOUT_MS (3600 * 1000)
/* kcommit_free waits this long for a request in flight, then this long
 * for its client's destroy. */
#define KCOMMIT_FREE_ANSWER_MS 1000
#define KCOMMIT_FREE_CLOSE_MS 5000

struct kcommit {
	rd_kafka_conf_t *conf; /* what each client is made from */
	rd_kafka_t *rk;        /* NULL until a request needs it */
	rd_kafka_queue_t *q;   /* results of our requests, on rk */
	char *group, *topic;
	uint32_t partitions;
	uint8_t *owned; /* NULL: all */
	uint64_t interval_ms;
	int timeout_ms;
	kcommit_position_fn position;
	void *ctx;
	bool inflight;
	uint64_t deadline_ms; /* mono ms the request in flight is abandoned at */
	uint64_t next_ms;     /* mono ms of the next send */
	bool failing;         /* the last request failed */
	uint64_t warned_ms;   /* mono ms of the last warning */
	_Atomic uint64_t sent, ok, failed;
};

kcommit *kcommit_new(const kcommit_opts *o)
{
	if (o->interval_ms <= 0)
		return NULL;
	kcommit *kc = xcalloc(1, sizeof *kc);
	kc->conf = rd_kafka_conf_dup(o->conf);
	kc->group = xstrdup(o->group);
	kc->topic = xstrdup(o->topic);
	kc->partitions = o->partitions;
	if (o->owned) {
		kc->owned = xmalloc(o->partitions ? o->partitions : 1);
		memcpy(kc->owned, o->owned, o->partitions);
	}
	kc->interval_ms = (uint64_t)o->interval_ms;
	kc->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	kc->position = o->position;
	kc->ctx = o->ctx;
	return kc;
}

/* One failure: counted; logged at warn when it starts a run of failures
 * or a minute after the last warning, else at debug. */
static void note_failure(kcommit *kc, uint64_t now, const char *what, const char *err)
{
	atomic_fetch_add_explicit(&kc->failed, 1, memory_order_relaxed);
	if (!kc->failing || now - kc->warned_ms >= KCOMMIT_WARN_EVERY_MS) {
		log_warn("offset commit for tooling failed; consuming goes on, positions stay in "
		         "the store",
		         "group=%s topic=%s what=%s err=\"%s\"", kc->group, kc->topic, what, err);
		kc->warned_ms = now;
	} else {
		log_debug("offset commit for tooling failed",
		          "group=%s topic=%s what=%s err=\"%s\"", kc->group, kc->topic, what, err);
	}
	kc->failing = true;
}

/* A finished request: true when every partition was taken. */
static bool read_result(kcommit *kc, rd_kafka_event_t *ev, uint64_t now)
{
	if (rd_kafka_event_error(ev)) {
		note_failure(kc, now, "request", rd_kafka_event_error_string(ev));
		return false;
	}
	const rd_kafka_AlterConsumerGroupOffsets_result_t *res =
	    rd_kafka_event_AlterConsumerGroupOffsets_result(ev);
	size_t n = 0;
	const rd_kafka_group_result_t **gr =
	    res ? rd_kafka_AlterConsumerGroupOffsets_result_groups(res, &n) : NULL;
	if (n != 1) {
		note_failure(kc, now, "request", "no result for the group");
		return false;
	}
	const rd_kafka_error_t *ge = rd_kafka_group_result_error(gr[0]);
	if (ge) {
		note_failure(kc, now, "group", rd_kafka_error_string(ge));
		return false;
	}
	const rd_kafka_topic_partition_list_t *l = rd_kafka_group_result_partitions(gr[0]);
	for (int i = 0; l && i < l->cnt; i++) {
		if (l->elems[i].err) {
			char what[32];
			snprintf(what, sizeof what, "partition=%d", (int)l->elems[i].partition);
			note_failure(kc, now, what, rd_kafka_err2str(l->elems[i].err));
			return false;
		}
	}
	return true;
}

typedef struct reap_job {
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
} reap_job;

static void *reap(void *arg)
{
	reap_job *j = arg;
	rd_kafka_queue_destroy(j->q);
	rd_kafka_destroy(j->rk);
	free(j);
	return NULL;
}

/* Destroys the client on a thread of its own (kcommit.h: librdkafka
 * 2.0.2's destroy can wait for ever on a request in flight): not waited
 * for with wait_ms 0, else for up to wait_ms, then left to finish or
 * not. Either way the loop is never held longer. */
static void client_close(kcommit *kc, int wait_ms)
{
	if (!kc->rk)
		return;
	reap_job *j = xmalloc(sizeof *j);
	*j = (reap_job){kc->rk, kc->q};
	kc->rk = NULL;
	kc->q = NULL;
	pthread_t t;
	if (pthread_create(&t, NULL, reap, j) != 0) {
		log_warn("no thread to close kcommit's client; closing it here", "group=%s",
		         kc->group);
		reap(j);
		return;
	}
	if (wait_ms <= 0) {
		pthread_detach(t);
		return;
	}
	if (clock_join_ms(t, (unsigned)wait_ms) != 0) {
		log_warn("kcommit's client did not close in time; left to librdkafka",
		         "group=%s waited_ms=%d", kc->group, wait_ms);
		pthread_detach(t);
	}
}

static bool client_open(kcommit *kc, uint64_t now)
{
	if (kc->rk)
		return true;
	char err[256];
	kc->rk = bus_client_new(BUS_CONSUMER, rd_kafka_conf_dup(kc->conf), err, sizeof err);
	if (!kc->rk) {
		note_failure(kc, now, "client", err);
		return false;
	}
	kc->q = rd_kafka_queue_new(kc->rk);
	return true;
}

/* Reads the results that came (waiting up to wait_ms for the first), and
 * gives up a request past its deadline. */
static void collect(kcommit *kc, uint64_t now, int wait_ms)
{
	if (!kc->rk)
		return;
	rd_kafka_poll(kc->rk, 0); /* the client's own callbacks (errors) */
	rd_kafka_event_t *ev;
	while ((ev = rd_kafka_queue_poll(kc->q, wait_ms))) {
		wait_ms = 0;
		if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT) {
			kc->inflight = false;
			if (read_result(kc, ev, now)) {
				atomic_fetch_add_explicit(&kc->ok, 1, memory_order_relaxed);
				if (kc->failing)
					log_info("offset commits for tooling work again",
					         "group=%s topic=%s", kc->group, kc->topic);
				kc->failing = false;
			}
		}
		rd_kafka_event_destroy(ev);
	}
	if (kc->inflight && now >= kc->deadline_ms) {
		/* Past its deadline: the request goes with the client. */
		kc->inflight = false;
		note_failure(kc, now, "request", "timed out");
		client_close(kc, 0);
	}
}

static void send_positions(kcommit *kc, uint64_t now)
{
	if (!client_open(kc, now))
		return;
	rd_kafka_topic_partition_list_t *l =
	    rd_kafka_topic_partition_list_new((int)(kc->partitions ? kc->partitions : 1));
	for (uint32_t p = 0; p < kc->partitions; p++) {
		if (kc->owned && !kc->owned[p])
			continue;
		int64_t next = kc->position(kc->ctx, p);
		if (next >= 0)
			rd_kafka_topic_partition_list_add(l, kc->topic, (int32_t)p)->offset = next;
	}
	if (l->cnt == 0) {
		rd_kafka_topic_partition_list_destroy(l);
		return;
	}
	rd_kafka_AlterConsumerGroupOffsets_t *req =
	    rd_kafka_AlterConsumerGroupOffsets_new(kc->group, l);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_AdminOptions_t *opt =
	    rd_kafka_AdminOptions_new(kc->rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS);
	char err[256];
	if (!opt || rd_kafka_AdminOptions_set_request_timeout(opt, KCOMMIT_RDKAFKA_TIMEOUT_MS, err,
	                                                      sizeof err)) {
		note_failure(kc, now, "options", opt ? err : "no admin options");
		if (opt)
			rd_kafka_AdminOptions_destroy(opt);
		rd_kafka_AlterConsumerGroupOffsets_destroy(req);
		return;
	}
	rd_kafka_AlterConsumerGroupOffsets(kc->rk, &req, 1, opt, kc->q);
	rd_kafka_AdminOptions_destroy(opt);
	rd_kafka_AlterConsumerGroupOffsets_destroy(req);
	kc->inflight = true;
	kc->deadline_ms = now + (uint64_t)kc->timeout_ms;
	atomic_fetch_add_explicit(&kc->sent, 1, memory_order_relaxed);
}

void kcommit_poll(kcommit *kc, uint64_t now_ms)
{
	if (!kc)
		return;
	collect(kc, now_ms, 0);
	if (kc->inflight || now_ms < kc->next_ms)
		return;
	kc->next_ms = now_ms + kc->interval_ms;
	send_positions(kc, now_ms);
}

void kcommit_get_stats(const kcommit *kc, kcommit_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!kc)
		return;
	out->sent = atomic_load_explicit(&kc->sent, memory_order_relaxed);
	out->ok = atomic_load_explicit(&kc->ok, memory_order_relaxed);
	out->failed = atomic_load_explicit(&kc->failed, memory_order_relaxed);
}

void kcommit_free(kcommit *kc)
{
	if (!kc)
		return;
	/* A request in flight is given a moment to end first: a client
	 * destroyed with one may never finish its destroy. */
	uint64_t end = clock_mono_ms() + KCOMMIT_FREE_ANSWER_MS;
	while (kc->inflight && clock_mono_ms() < end)
		collect(kc, clock_mono_ms(), 50);
	client_close(kc, KCOMMIT_FREE_CLOSE_MS);
	rd_kafka_conf_destroy(kc->conf);
	free(kc->group);
	free(kc->topic);
	free(kc->owned);
	free(kc);
}
