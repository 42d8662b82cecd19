/* itest_feed.c - central's change feed (docs/events.md) with real
 * processes: the embedded broker, central (one, or two of one shard) and
 * an edge. Each test acts through the edge, then reads likes.changes and
 * likes.milestones from their start and holds them to what was
 * acknowledged: every event flips its pair (or adds its sum), carries
 * the count after it, appears once, in id order per partition; the
 * memberships and sums rebuilt from the events alone are the truth; each
 * threshold reached is announced once (tests/support/feed_util.h).
 */
#include <criterion/criterion.h>
#include <signal.h>

#include "tests/support/feed_util.h"
#include "tests/support/stack.h"

#define NPARTS 2

static void setup(void)
{
	feed_reset();
	S.central_extra = FEED_KEYS;
	stack_up(1, NPARTS, 200);
}

TestSuite(feed, .init = setup, .fini = stack_down, .timeout = 240);

/* ---- tests --------------------------------------------------------------- */

Test(feed, publishes_each_applied_change_once)
{
	for (int u = 0; u < 3; u++)
		feed_act(true, 0, u); /* f0 reaches 2 and 3 */
	feed_act(true, 0, 0);         /* already liked: no change */
	feed_act(false, 0, 1);        /* 2 */
	feed_act(true, 0, 1);         /* 3 again: no second milestone */
	feed_act(true, 1, 4);
	feed_act(false, 1, 4);
	feed_view(2, 3);
	feed_view(2, 4); /* 7: past 5 with the second, one milestone for 5 */
	feed_check(S.ops_port);
}

/* Killed while events flow, some published and not yet read back (so
 * still stored): the next start must resume from the topics' tail. */
Test(feed, a_killed_central_publishes_nothing_twice)
{
	pthread_t t;
	atomic_store(&feed_acting, true);
	cr_assert_eq(pthread_create(&t, NULL, feed_actor, NULL), 0);
	for (int round = 0; round < 4; round++) {
		proc_sleep_ms(2500 + 300 * (unsigned)round);
		proc_stop(S.central_pid, SIGKILL);
		stack_start_central();
	}
	proc_sleep_ms(2500);
	atomic_store(&feed_acting, false);
	pthread_join(t, NULL);
	feed_check(S.ops_port);
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
		feed_act(true, i, 0);
	/* One instance publishes each partition. */
	uint64_t deadline = clock_mono_ms() + 20000;
	long long a, b;
	while ((a = feed_publishing(S.ops_port)) + (b = feed_publishing(port2)) != NPARTS) {
		cr_assert_lt(clock_mono_ms(), deadline, "publishing partitions: %lld + %lld", a, b);
		proc_sleep_ms(200);
	}
	/* Kill one that publishes; the other takes its partitions. */
	bool first = a > 0;
	proc_stop(first ? S.central_pid : c2, SIGKILL);
	for (int i = 0; i < NITEMS; i++)
		feed_act(true, i, 1);
	deadline = clock_mono_ms() + 30000;
	int left = first ? port2 : S.ops_port;
	while (feed_publishing(left) != NPARTS) {
		cr_assert_lt(clock_mono_ms(), deadline, "the survivor never took every partition");
		proc_sleep_ms(200);
	}
	for (int i = 0; i < NITEMS; i++)
		feed_act(true, i, 2);
	feed_check(left);
	if (first) {
		S.central_pid = 0;
		proc_stop(c2, SIGTERM);
	}
}
