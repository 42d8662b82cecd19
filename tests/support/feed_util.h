/* feed_util.h - the change feed held to the truth, for integration
 * tests (docs/events.md): the ops a test makes through the stack's edge
 * (feed_act, feed_view: likes, unlikes and views of NITEMS items by
 * NUSERS users; feed_actor, a thread of them), remembered as the truth,
 * and feed_check, which reads both topics of
 * the feed from their start (the stack's own names: stack_topic) and
 * holds them to it: every event flips its pair (or adds its sum),
 * carries the count after it, appears once, in id order per partition;
 * the memberships and sums rebuilt from the events alone are the truth;
 * each threshold of FEED_KEYS reached is announced once.
 *
 * Header-only beside stack.h, included by one test file per binary
 * (itest_feed on the embedded broker, itest_realkafka on real Kafka).
 */
#ifndef TESTS_SUPPORT_FEED_UTIL_H
#define TESTS_SUPPORT_FEED_UTIL_H

#include <pthread.h>
#include <stdatomic.h>

#include "bus.h"
#include "feedev.h"
#include "tests/support/kafka_util.h"
#include "tests/support/stack.h"

#define NITEMS 6
#define NUSERS 6
#define FEED_KEYS "[feed]\nmilestones = 2,3,5\ntimeout_ms = 1000\nsession_ms = 3000\n"

/* The truth: who likes which item, and each item's views. */
static bool feed_liked[NITEMS][NUSERS];
static long long feed_views[NITEMS];

/* A fresh truth (a test's start). */
STACK_UTIL void feed_reset(void)
{
	memset(feed_liked, 0, sizeof feed_liked);
	memset(feed_views, 0, sizeof feed_views);
}

/* A like (add) or unlike of item i by user u, or n views, retried until
 * the edge answers it. */
STACK_UTIL void feed_act(bool add, int i, int u)
{
	char path[128], body[512], user[16];
	snprintf(path, sizeof path, "/v1/items/post/f%d/likes", i);
	snprintf(user, sizeof user, "u%d", u);
	int code;
	uint64_t deadline = clock_mono_ms() + 30000;
	while ((code = proc_http(add ? "POST" : "DELETE", S.edge_port[0], path, user, body,
	                         sizeof body)) != 200) {
		cr_assert_lt(clock_mono_ms(), deadline, "%s %s by %s: %d", add ? "POST" : "DELETE",
		             path, user, code);
		proc_sleep_ms(50);
	}
	feed_liked[i][u] = add;
}

STACK_UTIL void feed_view(int i, int n)
{
	char cmd[512], out[256];
	snprintf(cmd, sizeof cmd,
	         "curl -s -m 5 -o /dev/null -w '%%{http_code}' -X POST -H 'X-User-Id: v' "
	         "-d '{\"n\": %d}' http://127.0.0.1:%d/v1/items/post/f%d/views",
	         n, S.edge_port[0], i);
	cr_assert_eq(proc_capture(out, sizeof out, "%s", cmd), 0);
	cr_assert_str_eq(out, "200", "%s", cmd);
	feed_views[i] += n;
}

/* ---- reading the topics -------------------------------------------------- */

typedef struct feed_got {
	feedev_decoded *ev;
	size_t n, cap;
} feed_got;

/* Every message of topic, all partitions, from the start until none came
 * for quiet_ms; in partition order, each partition in offset order. */
STACK_UTIL void feed_read_topic(const char *topic, feed_got *g)
{
	char bs[1024];
	cr_assert_eq(bus_read_bootstrap(stack_bootstrap_file(), bs, sizeof bs), 0);
	g->n = 0;
	for (int32_t p = 0; p < S.nparts; p++) {
		rd_kafka_t *c = kafka_util_new_consumer(bs, "itest-feed-reader");
		kafka_util_assign_from_start(c, topic, p);
		rd_kafka_message_t *m;
		while ((m = kafka_util_next_message(c, 1500))) {
			if (g->n == g->cap) {
				g->cap = g->cap ? g->cap * 2 : 64;
				g->ev = realloc(g->ev, g->cap * sizeof *g->ev);
				cr_assert(g->ev);
			}
			int rc = feedev_decode(m->payload, m->len, &g->ev[g->n]);
			cr_assert_eq(rc, 0, "%s[%d]@%lld does not decode: %.*s", topic, p,
			             (long long)m->offset, (int)m->len, (char *)m->payload);
			cr_assert_eq(g->ev[g->n].ev.id.partition, (uint32_t)p, "%s[%d]: %s", topic,
			             p, g->ev[g->n].id_text);
			if (g->n && g->ev[g->n - 1].ev.id.partition == (uint32_t)p)
				cr_assert_gt(
				    feedev_id_cmp(&g->ev[g->n].ev.id, &g->ev[g->n - 1].ev.id), 0,
				    "%s[%d]: id %s after %s (a repeat, or out of order)", topic, p,
				    g->ev[g->n].id_text, g->ev[g->n - 1].id_text);
			g->n++;
			rd_kafka_message_destroy(m);
		}
		rd_kafka_t *none = NULL;
		kafka_util_destroy_clients(&none, &c);
	}
}

STACK_UTIL int feed_item_of(const feedev_decoded *d)
{
	int i = -1;
	cr_assert_eq(sscanf(d->item, "post:f%d", &i), 1, "item %s", d->item);
	cr_assert(i >= 0 && i < NITEMS);
	return i;
}

/* A gauge of central's /metrics at port; -1 when it does not answer. */
STACK_UTIL long long feed_gauge(int port, const char *name)
{
	char out[65536];
	if (proc_capture(out, sizeof out, "curl -s -m 2 http://127.0.0.1:%d/metrics | grep '^%s '",
	                 port, name))
		return -1;
	return atoll(out + strlen(name) + 1);
}

STACK_UTIL long long feed_publishing(int port)
{
	return feed_gauge(port, "likes_central_feed_publishing_partitions");
}

/* Waits until central at port has nothing left to publish (every event
 * it stored is read back from the topics: with no more writes, both
 * topics are complete), then holds both topics to the truth.
 * thresholds: feed.milestones. */
STACK_UTIL void feed_check(int port)
{
	uint64_t until = clock_mono_ms() + 60000;
	long long pending;
	while ((pending = feed_gauge(port, "likes_central_feed_pending_events")) != 0) {
		cr_assert_lt(clock_mono_ms(), until, "central still holds %lld events", pending);
		proc_sleep_ms(200);
	}
	static const long long thresholds[] = {2, 3, 5};
	feed_got ch = {0}, ms = {0};
	uint64_t deadline = clock_mono_ms() + 60000;
	for (;;) {
		feed_read_topic(stack_topic("likes.changes"), &ch);
		bool state[NITEMS][NUSERS] = {{false}};
		long long sums[NITEMS] = {0}, likes[NITEMS] = {0}, high[NITEMS] = {0};
		for (size_t k = 0; k < ch.n; k++) {
			const feedev *e = &ch.ev[k].ev;
			int i = feed_item_of(&ch.ev[k]);
			if (e->type == FEEDEV_SUM) {
				cr_assert_str_eq(ch.ev[k].counter, "views");
				sums[i] += (long long)e->n;
				cr_assert_eq((long long)e->count, sums[i],
				             "%s: count %llu, replayed %lld", ch.ev[k].id_text,
				             (unsigned long long)e->count, sums[i]);
				continue;
			}
			cr_assert_eq(e->type, FEEDEV_SET);
			int u = -1;
			cr_assert_eq(sscanf(ch.ev[k].user, "u%d", &u), 1);
			cr_assert_neq(state[i][u], e->member, "%s leaves %s/%s unchanged",
			              ch.ev[k].id_text, ch.ev[k].item, ch.ev[k].user);
			state[i][u] = e->member;
			likes[i] += e->member ? 1 : -1;
			cr_assert_eq((long long)e->count, likes[i], "%s: count %llu, replayed %lld",
			             ch.ev[k].id_text, (unsigned long long)e->count, likes[i]);
			if (likes[i] > high[i])
				high[i] = likes[i];
		}
		bool same = !memcmp(state, feed_liked, sizeof state) &&
		            !memcmp(sums, feed_views, sizeof sums);
		if (same) {
			feed_read_topic(stack_topic("likes.milestones"), &ms);
			size_t want = 0;
			for (int i = 0; i < NITEMS; i++)
				for (size_t t = 0; t < sizeof thresholds / sizeof *thresholds;
				     t++) {
					bool expect = high[i] >= thresholds[t], seen = false;
					want += expect;
					for (size_t k = 0; k < ms.n; k++) {
						const feedev *e = &ms.ev[k].ev;
						if (strcmp(ms.ev[k].counter, "likes") ||
						    feed_item_of(&ms.ev[k]) != i ||
						    (long long)e->threshold != thresholds[t])
							continue;
						cr_assert_not(seen, "f%d: threshold %lld twice", i,
						              thresholds[t]);
						seen = true;
						cr_assert_eq((long long)e->count, thresholds[t]);
					}
					cr_assert_eq(seen, expect, "f%d: threshold %lld %s", i,
					             thresholds[t],
					             expect ? "never announced"
					                    : "announced, never reached");
				}
			size_t like_ms = 0;
			for (size_t k = 0; k < ms.n; k++)
				like_ms += !strcmp(ms.ev[k].counter, "likes");
			cr_assert_eq(like_ms, want, "milestones of likes: %zu, expected %zu",
			             like_ms, want);
			break;
		}
		cr_assert_lt(clock_mono_ms(), deadline,
		             "the changes topic never rebuilt the truth (%zu events)", ch.n);
		proc_sleep_ms(300);
	}
	free(ch.ev);
	free(ms.ev);
}

/* Toggles pairs through the edge until told to stop. */
static atomic_bool feed_acting;

STACK_UTIL void *feed_actor(void *arg)
{
	(void)arg;
	for (unsigned k = 0; atomic_load(&feed_acting); k++) {
		int i = (int)(k * 7 % NITEMS), u = (int)(k * 5 / 3 % NUSERS);
		feed_act(!feed_liked[i][u], i, u);
		proc_sleep_ms(20);
	}
	return NULL;
}

#endif
