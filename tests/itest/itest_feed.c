/* itest_feed.c - central's change feed (docs/events.md) with real
 * processes: the embedded broker, central (one, or two of one shard) and
 * an edge. Each test acts through the edge, then reads likes.changes and
 * likes.milestones from their start and holds them to what was
 * acknowledged: every event flips its pair (or adds its sum), carries
 * the count after it, appears once, in id order per partition; the
 * memberships and sums rebuilt from the events alone are the truth; each
 * threshold reached is announced once.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "bus.h"
#include "feedev.h"
#include "tests/support/kafka_util.h"
#include "tests/support/stack.h"

#define NPARTS 2
#define NITEMS 6
#define NUSERS 6
#define FEED_KEYS "[feed]\nmilestones = 2,3,5\ntimeout_ms = 1000\nsession_ms = 3000\n"

static bool liked[NITEMS][NUSERS];
static long long views[NITEMS];

static void setup(void)
{
	memset(liked, 0, sizeof liked);
	memset(views, 0, sizeof views);
	S.central_extra = FEED_KEYS;
	stack_up(1, NPARTS, 200);
}

TestSuite(feed, .init = setup, .fini = stack_down, .timeout = 240);

/* A like (add) or unlike of item i by user u, or n views, retried until
 * the edge answers it. */
static void act(bool add, int i, int u)
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
	liked[i][u] = add;
}

static void view(int i, int n)
{
	char cmd[512], out[256];
	snprintf(cmd, sizeof cmd,
	         "curl -s -m 5 -o /dev/null -w '%%{http_code}' -X POST -H 'X-User-Id: v' "
	         "-d '{\"n\": %d}' http://127.0.0.1:%d/v1/items/post/f%d/views",
	         n, S.edge_port[0], i);
	cr_assert_eq(proc_capture(out, sizeof out, "%s", cmd), 0);
	cr_assert_str_eq(out, "200", "%s", cmd);
	views[i] += n;
}

/* ---- reading the topics -------------------------------------------------- */

typedef struct got {
	feedev_decoded *ev;
	size_t n, cap;
} got;

/* Every message of topic, all partitions, from the start until none came
 * for quiet_ms; in partition order, each partition in offset order. */
static void read_topic(const char *topic, got *g)
{
	char path[512], bs[512];
	snprintf(path, sizeof path, "%s/bootstrap", S.dir);
	cr_assert_eq(bus_read_bootstrap(path, bs, sizeof bs), 0);
	g->n = 0;
	for (int32_t p = 0; p < NPARTS; p++) {
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

static int item_of(const feedev_decoded *d)
{
	int i = -1;
	cr_assert_eq(sscanf(d->item, "post:f%d", &i), 1, "item %s", d->item);
	cr_assert(i >= 0 && i < NITEMS);
	return i;
}

/* A gauge of central's /metrics at port; -1 when it does not answer. */
static long long gauge(int port, const char *name)
{
	char out[65536];
	if (proc_capture(out, sizeof out, "curl -s -m 2 http://127.0.0.1:%d/metrics | grep '^%s '",
	                 port, name))
		return -1;
	return atoll(out + strlen(name) + 1);
}

static long long publishing(int port)
{
	return gauge(port, "likes_central_feed_publishing_partitions");
}

/* Waits until central at port has nothing left to publish (every event
 * it stored is read back from the topics: with no more writes, both
 * topics are complete), then holds both topics to the truth.
 * thresholds: feed.milestones. */
static void check_feed(int port)
{
	uint64_t until = clock_mono_ms() + 60000;
	long long pending;
	while ((pending = gauge(port, "likes_central_feed_pending_events")) != 0) {
		cr_assert_lt(clock_mono_ms(), until, "central still holds %lld events", pending);
		proc_sleep_ms(200);
	}
	static const long long thresholds[] = {2, 3, 5};
	got ch = {0}, ms = {0};
	uint64_t deadline = clock_mono_ms() + 60000;
	for (;;) {
		read_topic("likes.changes", &ch);
		bool state[NITEMS][NUSERS] = {{false}};
		long long sums[NITEMS] = {0}, likes[NITEMS] = {0}, high[NITEMS] = {0};
		for (size_t k = 0; k < ch.n; k++) {
			const feedev *e = &ch.ev[k].ev;
			int i = item_of(&ch.ev[k]);
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
		bool same =
		    !memcmp(state, liked, sizeof state) && !memcmp(sums, views, sizeof sums);
		if (same) {
			read_topic("likes.milestones", &ms);
			size_t want = 0;
			for (int i = 0; i < NITEMS; i++)
				for (size_t t = 0; t < sizeof thresholds / sizeof *thresholds;
				     t++) {
					bool expect = high[i] >= thresholds[t], seen = false;
					want += expect;
					for (size_t k = 0; k < ms.n; k++) {
						const feedev *e = &ms.ev[k].ev;
						if (strcmp(ms.ev[k].counter, "likes") ||
						    item_of(&ms.ev[k]) != i ||
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

/* ---- tests --------------------------------------------------------------- */

Test(feed, publishes_each_applied_change_once)
{
	for (int u = 0; u < 3; u++)
		act(true, 0, u); /* f0 reaches 2 and 3 */
	act(true, 0, 0);         /* already liked: no change */
	act(false, 0, 1);        /* 2 */
	act(true, 0, 1);         /* 3 again: no second milestone */
	act(true, 1, 4);
	act(false, 1, 4);
	view(2, 3);
	view(2, 4); /* 7: past 5 with the second, one milestone for 5 */
	check_feed(S.ops_port);
}

/* Toggles pairs through the edge until told to stop. */
static atomic_bool acting;

static void *actor(void *arg)
{
	(void)arg;
	for (unsigned k = 0; atomic_load(&acting); k++) {
		int i = (int)(k * 7 % NITEMS), u = (int)(k * 5 / 3 % NUSERS);
		act(!liked[i][u], i, u);
		proc_sleep_ms(20);
	}
	return NULL;
}

/* Killed while events flow, some published and not yet read back (so
 * still stored): the next start must resume from the topics' tail. */
Test(feed, a_killed_central_publishes_nothing_twice)
{
	pthread_t t;
	atomic_store(&acting, true);
	cr_assert_eq(pthread_create(&t, NULL, actor, NULL), 0);
	for (int round = 0; round < 4; round++) {
		proc_sleep_ms(2500 + 300 * (unsigned)round);
		proc_stop(S.central_pid, SIGKILL);
		stack_start_central();
	}
	proc_sleep_ms(2500);
	atomic_store(&acting, false);
	pthread_join(t, NULL);
	check_feed(S.ops_port);
}

static void write_twin(const char *name, const char *id, int port)
{
	stack_write(name,
	            "[central]\nid = %s\ndata_dir = %s/%s\nsnapshot_interval_ms = 200\n"
	            "ops_listen = 127.0.0.1:%d\n" FEED_KEYS "%s",
	            id, S.dir, id, port, stack_central_common());
}

Test(feed, the_other_instance_of_a_shard_takes_over)
{
	int port2 = proc_free_port();
	write_twin("central2.ini", "c2", port2);
	pid_t c2 = stack_spawn_central("central2.ini", "central2.log", port2);
	for (int i = 0; i < NITEMS; i++)
		act(true, i, 0);
	/* One instance publishes each partition. */
	uint64_t deadline = clock_mono_ms() + 20000;
	long long a, b;
	while ((a = publishing(S.ops_port)) + (b = publishing(port2)) != NPARTS) {
		cr_assert_lt(clock_mono_ms(), deadline, "publishing partitions: %lld + %lld", a, b);
		proc_sleep_ms(200);
	}
	/* Kill one that publishes; the other takes its partitions. */
	bool first = a > 0;
	proc_stop(first ? S.central_pid : c2, SIGKILL);
	for (int i = 0; i < NITEMS; i++)
		act(true, i, 1);
	deadline = clock_mono_ms() + 30000;
	int left = first ? port2 : S.ops_port;
	while (publishing(left) != NPARTS) {
		cr_assert_lt(clock_mono_ms(), deadline, "the survivor never took every partition");
		proc_sleep_ms(200);
	}
	for (int i = 0; i < NITEMS; i++)
		act(true, i, 2);
	check_feed(left);
	if (first) {
		S.central_pid = 0;
		proc_stop(c2, SIGTERM);
	}
}
