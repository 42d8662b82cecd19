/* test_load.c - the simulated users against a fake edge
 * (tests/support/load_fake.h): the truth against the fake's state,
 * retries, refusals, drains, Zipf and the viral share, ready spells,
 * and a region's two instances.
 */
#include <inttypes.h>

#include "tests/support/load_fake.h"

TestSuite(load, .init = setup, .fini = teardown, .timeout = 30);

/* --- tests ------------------------------------------------------------------------ */

/* Likes only, of 5,000 items evenly liked, so that a user rarely meets a
 * pair twice by chance; undo as given. */
static void start_likes(double undo)
{
	load_opts o = base_opts();
	o.items = 5000;
	o.viral_share = 0;
	o.unlike_share = 0;
	o.sum_share = 0;
	o.me_share = 0;
	o.undo_share = undo;
	start(&o);
}

/* undo_share: of the likes, that share unlikes the user's newest like
 * instead while it stands. With no other unlikes, every unlike that
 * lands is of the user's newest like; with none asked, none comes; it
 * needs no heart reads. */
Test(load, undo_unlikes_the_users_newest_like_while_it_stands)
{
	start_likes(0.4);
	wait_acked(1500, 15000);
	cr_assert_eq(load_drain(L, 3000), 0);
	int un = atomic_load(&F.unliked), newest = atomic_load(&F.unliked_newest);
	/* About 0.4 of the likes of users whose newest like stands (most of
	 * them, with 5,000 items): well over 200 of 1,500. */
	cr_assert_gt(un, 200, "unlikes %d of %d ops", un, atomic_load(&F.applied));
	cr_assert_eq(newest, un, "each unlike is of the user's newest like");
	assert_no_anomalies();
	cr_assert_gt(assert_truth_is_the_fakes(), 10);
}

Test(load, no_undo_no_unlike_of_a_pair_never_picked_twice)
{
	start_likes(0);
	wait_acked(500, 10000);
	cr_assert_eq(load_drain(L, 3000), 0);
	cr_assert_eq(atomic_load(&F.unliked), 0);
}

Test(load, clean_run_truth_matches_and_stats_add_up)
{
	load_opts o = base_opts();
	start(&o);
	wait_acked(300, 5000);
	load_set_phase(L, 3);
	uint64_t more = stats().acked + 200;
	wait_acked(more, 5000);
	cr_assert_eq(load_drain(L, 3000), 0);
	load_stats s = stats();
	cr_assert_eq(s.in_flight, 0);
	cr_assert_eq(s.acked, s.started, "every op acked");
	cr_assert_eq(s.attempts, s.started, "no retries without faults");
	cr_assert_eq(s.retried, 0);
	cr_assert_eq(s.refused, 0);
	cr_assert_eq(s.replayed, 0);
	cr_assert_eq(s.read_errors, 0);
	cr_assert_gt(s.reads, 0);
	cr_assert_eq((int)s.acked, atomic_load(&F.applied));
	assert_no_anomalies();
	cr_assert_gt(assert_truth_is_the_fakes(), 10);

	hist h0, h3, r0, r3, mid, w, w2;
	load_get_hist(L, 0, false, &h0);
	load_get_hist(L, 3, false, &h3);
	load_get_hist(L, 1, false, &mid);
	load_get_hist(L, 0, true, &r0);
	load_get_hist(L, 3, true, &r3);
	cr_assert_gt(h0.n, 0);
	cr_assert_gt(h3.n, 0);
	cr_assert_eq(mid.n, 0, "phase 1 was never set");
	cr_assert_eq(h0.n + h3.n, s.acked, "every ack in one phase");
	cr_assert_eq(r0.n + r3.n, s.reads);
	cr_assert_gt(hist_quantile(&h0, 0.5), 0);
	load_take_window(L, &w);
	cr_assert_eq(w.n, s.acked, "nothing took the window yet");
	load_take_window(L, &w2);
	cr_assert_eq(w2.n, 0, "taking the window clears it");
	/* Each tick's lateness: a tick every 2 ms while the load ran, the
	 * worst of them no later than the run itself. */
	hist lag, lag2;
	load_take_lag(L, &lag, NULL);
	cr_assert_gt(lag.n, 20, "%" PRIu64 " ticks", lag.n);
	cr_assert_lt(lag.max_us, 5000000);
	load_take_lag(L, &lag2, NULL);
	cr_assert_lt(lag2.n, lag.n, "taking the lag clears it");

	/* A drained load starts nothing more, whatever the rate. */
	load_set_rate(L, 5000);
	struct timespec ts = {0, 50000000};
	nanosleep(&ts, NULL); /* nothing to wait for: that is the point */
	cr_assert_eq(stats().started, s.started);
}

Test(load, lost_answers_are_retried_with_their_key_and_truth_stays_exact)
{
	atomic_store(&F.drop_every, 5);
	load_opts o = base_opts();
	o.rate = 1500;
	start(&o);
	wait_acked(200, 8000);
	/* The truth may be read while the load runs. */
	load_truth_entry *e = NULL;
	size_t n = load_truth(L, &e);
	free(e);
	cr_assert_gt(n, 0);
	wait_acked(1000, 10000);
	cr_assert_eq(load_drain(L, 5000), 0);
	load_stats s = stats();
	cr_assert_gt(atomic_load(&F.dropped), 100);
	cr_assert_gt(s.retried, 100, "lost answers are retried");
	cr_assert_gt(s.replayed, 50, "and answered by replays");
	cr_assert_eq(s.refused, 0);
	cr_assert_eq(s.acked, s.started);
	cr_assert_eq((int)s.acked, atomic_load(&F.applied), "each op applied exactly once");
	assert_no_anomalies();
	assert_truth_is_the_fakes();
}

static bool outage_seen(void *arg)
{
	(void)arg;
	return stats().retried >= 20 && stats().read_errors >= 3;
}

Test(load, overload_and_unavailable_answers_are_retried_until_they_clear)
{
	atomic_store(&F.fail_status, 429);
	load_opts o = base_opts();
	o.read_share = 0.2;
	o.rate = 600;
	uint64_t t_start = clock_mono_ms();
	start(&o);
	cr_assert(wait_for(outage_seen, NULL, 5000));
	atomic_store(&F.fail_status, 503);
	uint64_t more = stats().retried + 40;
	cr_assert(wait_for(retried_at_least, &more, 5000));
	atomic_store(&F.fail_status, 0);
	uint64_t want = stats().started + 200;
	wait_acked(want, 8000);
	cr_assert_eq(load_drain(L, 5000), 0);
	load_stats s = stats();
	cr_assert_eq(s.refused, 0, "429 and 5xx are not refusals");
	cr_assert_eq(s.acked, s.started);
	cr_assert_gt(s.read_errors, 0);
	cr_assert_gt(s.read_unavailable, 0, "503 reads are counted apart");
	cr_assert_lt(s.read_unavailable, s.read_errors, "429 reads are errors, not unavailable");
	assert_no_anomalies();
	assert_truth_is_the_fakes();

	/* An op started in the outage was acked after it: its latency runs
	 * from its first attempt. */
	hist h;
	load_get_hist(L, 0, false, &h);
	cr_assert_geq(h.max_us, 100000, "max latency %llu us", (unsigned long long)h.max_us);
	cr_assert_leq(h.max_us, (clock_mono_ms() - t_start) * 1000);
}

static bool region1_busy(void *arg)
{
	return atomic_load(&F.hits[1]) > *(int *)arg + 20;
}

Test(load, no_op_starts_at_a_region_that_is_down)
{
	load_opts o = base_opts();
	o.roam_share = 0; /* every op at home while both are up */
	o.read_share = 0.2;
	o.rate = 800;
	start(&o);
	wait_acked(150, 5000);
	cr_assert_eq(atomic_load(&F.away[0]), 0, "no roaming: region 0 saw only its users");
	cr_assert_gt(atomic_load(&F.hits[1]), 0);

	load_set_region_up(L, 1, false);
	/* Let ops started before the switch finish (the fake answers at once). */
	uint64_t later = stats().started + 100;
	wait_started(later, 5000);
	int h1 = atomic_load(&F.hits[1]), r1 = atomic_load(&F.reads[1]);
	int a0 = atomic_load(&F.away[0]);
	later = stats().started + 300;
	wait_started(later, 5000);
	cr_assert_eq(atomic_load(&F.hits[1]), h1, "a write started at the region that is down");
	cr_assert_eq(atomic_load(&F.reads[1]), r1, "a read went to the region that is down");
	cr_assert_gt(atomic_load(&F.away[0]), a0 + 50, "region 1's users moved to region 0");

	load_set_region_up(L, 1, true);
	cr_assert(wait_for(region1_busy, &h1, 5000), "ops start at region 1 again");
	cr_assert_eq(load_drain(L, 3000), 0);
	assert_truth_is_the_fakes();
}

Test(load, refusals_are_counted_and_never_in_the_truth)
{
	atomic_store(&F.refuse, true);
	load_opts o = base_opts();
	o.read_share = 0;
	start(&o);
	wait_started(100, 5000);
	cr_assert_eq(load_drain(L, 3000), 0);
	load_stats s = stats();
	cr_assert_eq(s.refused, s.started);
	cr_assert_eq(s.acked, 0);
	cr_assert_eq(s.retried, 0, "a 400 is not retried");
	load_truth_entry *e = NULL;
	cr_assert_eq(load_truth(L, &e), 0);
	cr_assert_null(e);
	cr_assert_eq(load_truth_of(L, "likes", "post:viral"), 0);
	hist h;
	load_get_hist(L, 0, false, &h);
	cr_assert_eq(h.n, 0, "refusals are not ack latencies");
}

Test(load, drain_times_out_on_an_edge_that_never_answers)
{
	/* A listening socket nobody accepts from. */
	int port;
	int fd = fakesrv_loopback(true, &port);

	load_opts o = base_opts();
	o.regions = 1;
	o.ports = &port;
	o.read_share = 0;
	o.rate = 200;
	o.timeout_ms = 100;
	o.conns_per_instance = 2;
	start(&o);
	uint64_t two = 2;
	cr_assert(wait_for(retried_at_least, &two, 5000), "attempts time out and are retried");
	uint64_t t0 = clock_mono_ms();
	cr_assert_eq(load_drain(L, 300), ERR_TIMEOUT);
	uint64_t took = clock_mono_ms() - t0;
	cr_assert_geq(took, 290);
	cr_assert_lt(took, 2000);
	load_stats s = stats();
	cr_assert_gt(s.in_flight, 0);
	cr_assert_eq(s.acked, 0);
	/* load_free (in .fini) abandons the stuck ops; the sanitizer build
	 * checks nothing leaks. */
	load_free(L);
	L = NULL;
	close(fd);
}

Test(load, zipf_favours_low_ranks)
{
	load_zipf z;
	load_zipf_init(&z, 1000, 1.1);
	double h = 0;
	for (int k = 1; k <= 1000; k++)
		h += pow(k, -1.1);
	enum { N = 200000 };
	static unsigned cnt[1000];
	memset(cnt, 0, sizeof cnt);
	for (int i = 0; i < N; i++) { /* evenly spread u: counts follow the CDF exactly */
		unsigned k = load_zipf_pick(&z, (i + 0.5) / N);
		cr_assert_lt(k, 1000);
		cnt[k]++;
	}
	cr_assert(fabs(cnt[0] / (double)N - 1 / h) < 0.01 / h, "rank 0: %u", cnt[0]);
	cr_assert(fabs(cnt[1] / (double)cnt[0] - pow(2, -1.1)) < 0.02, "rank 1/rank 0");
	cr_assert_gt(cnt[0], 100 * (cnt[999] + 1), "rank 0 %u, rank 999 %u", cnt[0], cnt[999]);
	cr_assert_eq(load_zipf_pick(&z, 0.0), 0);
	cr_assert_eq(load_zipf_pick(&z, 0.9999999999), 999);
	load_zipf_free(&z);

	load_zipf one;
	load_zipf_init(&one, 1, 2.0);
	cr_assert_eq(load_zipf_pick(&one, 0.0), 0);
	cr_assert_eq(load_zipf_pick(&one, 0.99), 0);
	load_zipf_free(&one);
}

Test(load, viral_share_zipf_and_rate_reach_the_edge)
{
	load_opts o = base_opts();
	/* 1000 users at 2500 ops/s: each user's next op is due 400 ms after
	 * the last, well past the fake edge's answer even under ASan with
	 * other suites running (300 users, 120 ms apart, once left most
	 * users busy there and failed the idle check). */
	o.users = 1000;
	o.items = 1000;
	o.viral_share = 0.5;
	o.read_share = 0;
	o.roam_share = 0;
	o.rate = 2500;
	uint64_t t0 = clock_mono_ms();
	start(&o);
	wait_started(2500, 8000);
	double secs = (double)(clock_mono_ms() - t0) / 1000;
	load_stats s0 = stats();
	cr_assert_eq(load_drain(L, 3000), 0);
	load_stats s = stats();
	double rate = (double)s0.started / secs;
	/* Open loop: never above the rate; below it only when this machine
	 * stalls the loop (it then skips busy users rather than queueing). */
	cr_assert(rate <= 2500 * 1.1 && rate >= 2500 * 0.5, "observed %.0f ops/s", rate);
	cr_assert_lt(s.skipped, s.started / 2, "users were idle: skipped %llu of %llu",
	             (unsigned long long)s.skipped, (unsigned long long)s.started);

	double total = atomic_load(&F.applied);
	double viral = (double)fake_count(&F.item_ops, "post:viral");
	cr_assert(fabs(viral / total - 0.5) < 0.04, "viral share %.3f", viral / total);
	uint64_t first = fake_count(&F.item_ops, "post:i0");
	uint64_t last = fake_count(&F.item_ops, "post:i999");
	cr_assert_gt(first, 100, "rank 0 got %llu", (unsigned long long)first);
	cr_assert_lt(last, 6, "rank 999 got %llu", (unsigned long long)last);
	assert_truth_is_the_fakes();
}

Test(load, viral_share_can_change_while_running)
{
	load_opts o = base_opts();
	o.viral_share = 0;
	o.read_share = 0;
	start(&o);
	wait_acked(200, 5000);
	cr_assert_eq(fake_count(&F.item_ops, "post:viral"), 0);
	load_set_viral_share(L, 1.0);
	uint64_t before = stats().started;
	uint64_t later = before + 200;
	wait_started(later, 5000);
	cr_assert_eq(load_drain(L, 3000), 0);
	cr_assert_geq(fake_count(&F.item_ops, "post:viral"), 150);
}

static load_region_stats region_stats(unsigned r, int phase)
{
	load_region_stats s;
	load_get_region_stats(L, r, phase, &s);
	return s;
}

Test(load, only_ops_within_a_ready_spell_count_as_ready)
{
	load_opts o = base_opts();
	o.rate = 0; /* region 0's edge is ready before the first op */
	o.read_share = 0.3;
	start(&o);
	load_set_region_ready(L, 0, true);
	load_set_ready_phase(L, 0);
	load_set_rate(L, 1000);
	wait_acked(300, 5000);

	/* Region 1 becomes ready, in a new phase. */
	load_set_ready_phase(L, 1);
	load_set_region_ready(L, 1, true);
	uint64_t more = stats().acked + 300;
	wait_acked(more, 5000);

	/* Region 0 is not ready any more: nothing more counts there. */
	load_set_region_ready(L, 0, false);
	load_region_stats r0 = region_stats(0, -1);
	more = stats().acked + 300;
	wait_acked(more, 5000);
	cr_assert_eq(load_drain(L, 3000), 0);
	load_region_stats a0 = region_stats(0, -1), a1 = region_stats(1, -1);
	cr_assert_eq(a0.ready_acked, r0.ready_acked, "acks at region 0 counted after not ready");
	cr_assert_eq(a0.ready_reads, r0.ready_reads);
	cr_assert_gt(a0.acked, a0.ready_acked);

	load_stats s = stats();
	cr_assert_eq(a0.acked + a1.acked, s.acked, "every ack at one region");
	cr_assert_eq(a0.reads + a1.reads, s.reads);
	cr_assert_eq(a0.read_errors + a1.read_errors, s.read_errors);
	cr_assert_leq(a0.ready_read_errors, a0.read_errors);
	cr_assert_gt(a1.ready_acked, 0);
	cr_assert_lt(a1.ready_acked, a1.acked, "region 1's first ops were not ready");

	hist h;
	load_get_ready_hist(L, 1, 0, false, &h);
	cr_assert_eq(h.n, 0, "region 1 was not ready in phase 0");
	cr_assert_eq(region_stats(1, 0).ready_acked, 0);
	load_get_ready_hist(L, 0, 0, false, &h);
	cr_assert_gt(h.n, 100, "region 0 was ready from the start");
	cr_assert_eq(h.n, region_stats(0, 0).ready_acked);
	cr_assert_gt(hist_quantile(&h, 0.99), 0);
	load_get_ready_hist(L, 0, 0, true, &h);
	cr_assert_gt(h.n, 0);
	cr_assert_eq(h.n, region_stats(0, 0).ready_reads);
	uint64_t sum = 0;
	for (unsigned p = 0; p < LOAD_READY_PHASES_MAX; p++) {
		load_get_ready_hist(L, 1, p, false, &h);
		sum += h.n;
		cr_assert_eq(h.n, region_stats(1, (int)p).ready_acked, "phase %u", p);
	}
	cr_assert_eq(sum, a1.ready_acked);
	load_get_ready_hist(L, 2, 0, false, &h);
	cr_assert_eq(h.n, 0, "no such region");
	/* The latency intervals' window: every ready op since the last take,
	 * whatever its phase; taken once, then empty. */
	hist w, rd;
	load_take_ready_window(L, 0, &w, &rd);
	cr_assert_eq(w.n, a0.ready_acked);
	cr_assert_eq(rd.n, a0.ready_reads);
	load_take_ready_window(L, 1, &w, &rd);
	cr_assert_eq(w.n, a1.ready_acked);
	load_take_ready_window(L, 0, &w, &rd);
	cr_assert_eq(w.n, 0);
	cr_assert_eq(rd.n, 0);
	load_get_ready_hist(L, 0, LOAD_READY_PHASES_MAX, false, &h);
	cr_assert_eq(h.n, 0, "no such phase");
}

/* --- standbys ----------------------------------------------------------------------- */

static bool taken_over(void *arg)
{
	return load_takeover_us(L, *(unsigned *)arg) != 0;
}

static bool acked_by(void *arg)
{
	const int *want = arg; /* region, instance */
	return load_last_acked(L, (unsigned)want[0]) == want[1];
}

static bool stale_seen(void *arg)
{
	(void)arg;
	return stats().stale_acks > 0;
}

static load_instance_stats inst_stats(unsigned r, unsigned k)
{
	load_instance_stats s;
	load_get_instance_stats(L, r, k, &s);
	return s;
}

/* A load at rate ops/s on regions of two instances each, the first
 * active, once acked ops are acknowledged. */
static void start_paired(double rate, uint64_t acked)
{
	load_opts o = base_opts();
	o.standby_ports = F.sport;
	o.rate = rate;
	start(&o);
	wait_acked(acked, 5000);
}

Test(load, a_region_follows_its_active_instance_and_keeps_each_op_once)
{
	start_paired(800, 200);
	cr_assert_eq(load_route(L, 1), 0);
	cr_assert_eq(load_last_acked(L, 1), 0);
	cr_assert_eq(atomic_load(&F.inst_writes[1][1]), 0, "nothing at a standby");

	/* Neither instance takes writes (a takeover under way): region 1's
	 * writes go back and forth, and wait. */
	atomic_store(&F.active[1], 2);
	uint64_t more = stats().retried + 100;
	cr_assert(wait_for(retried_at_least, &more, 5000));
	int before = atomic_load(&F.inst_writes[1][1]);
	load_watch_takeover(L, 1, 0);
	uint64_t lost_us = clock_mono_us();
	atomic_store(&F.active[1], 1);
	unsigned region = 1;
	cr_assert(wait_for(taken_over, &region, 5000), "the standby's first ack is seen");
	cr_assert_geq(load_takeover_us(L, 1), lost_us);
	more = stats().acked + 300;
	wait_acked(more, 5000);
	cr_assert_eq(load_drain(L, 5000), 0);

	load_stats s = stats();
	cr_assert_eq(s.acked, s.started, "every op acked once it found the active instance");
	cr_assert_eq(s.refused, 0, "not_active is not a refusal");
	cr_assert_gt(s.not_active, 0);
	cr_assert_gt(s.switches, 0);
	cr_assert_eq(s.stale_acks, 0);
	cr_assert_eq((int)s.acked, atomic_load(&F.applied), "each op applied exactly once");
	cr_assert_gt(atomic_load(&F.inst_writes[1][1]), before);
	cr_assert_eq(load_route(L, 1), 1);
	cr_assert_eq(load_last_acked(L, 1), 1);
	cr_assert_eq(load_route(L, 0), 0, "region 0 never moved");
	cr_assert_eq(atomic_load(&F.inst_writes[0][1]), 0);
	load_instance_stats a = inst_stats(1, 0), b = inst_stats(1, 1);
	cr_assert_gt(a.acked, 0);
	cr_assert_gt(b.acked, 0);
	cr_assert_gt(a.not_active + b.not_active, 0);
	cr_assert_eq(a.in_flight + b.in_flight, 0, "drained");
	cr_assert_eq(inst_stats(0, 1).acked, 0);
	assert_no_anomalies();
	assert_truth_is_the_fakes();
}

Test(load, a_not_replicated_answer_moves_the_region_to_its_other_instance)
{
	start_paired(800, 200);
	cr_assert_eq(load_route(L, 1), 0);

	/* Region 1's active is cut from its log and refuses writes
	 * not_replicated; then its standby takes over. */
	atomic_store(&F.cut[1], 1);
	uint64_t more = stats().retried + 50;
	cr_assert(wait_for(retried_at_least, &more, 5000));
	atomic_store(&F.active[1], 1);
	int want[2] = {1, 1};
	cr_assert(wait_for(acked_by, want, 5000), "the standby acknowledges");
	more = stats().acked + 300;
	wait_acked(more, 5000);
	cr_assert_eq(load_drain(L, 5000), 0);

	load_stats s = stats();
	cr_assert_eq(s.acked, s.started, "every op acked once it found the active instance");
	cr_assert_eq(s.refused, 0, "not_replicated is not a refusal");
	cr_assert_gt(s.not_replicated, 0);
	cr_assert_gt(inst_stats(1, 0).not_replicated, 0);
	cr_assert_eq(inst_stats(1, 1).not_replicated, 0);
	cr_assert_gt(s.switches, 0);
	cr_assert_eq(s.stale_acks, 0);
	cr_assert_eq(load_route(L, 1), 1);
	cr_assert_eq((int)s.acked, atomic_load(&F.applied), "each op applied exactly once");
	assert_no_anomalies();
	assert_truth_is_the_fakes();
}

Test(load, an_instance_taken_over_from_acks_nothing_sent_to_it_after)
{
	start_paired(600, 100);
	atomic_store(&F.active[1], 1);
	int want[2] = {1, 1};
	cr_assert(wait_for(acked_by, want, 5000));
	cr_assert_eq(stats().stale_acks, 0, "a takeover is no stale ack");

	/* The old active still takes writes (a zombie) and a client still
	 * sends it some: each ack of those is stale. */
	atomic_store(&F.active[1], -1);
	load_aim(L, 1, 0, 5);
	cr_assert(wait_for(stale_seen, NULL, 5000));
	cr_assert_gt(inst_stats(1, 0).stale_acks, 0);
	cr_assert_eq(inst_stats(1, 1).stale_acks, 0);

	/* Started again, it is a new instance: it may take over, and its
	 * acks are not stale. */
	load_instance_started(L, 1, 0);
	atomic_store(&F.active[1], 0);
	uint64_t stale = stats().stale_acks;
	want[1] = 0;
	cr_assert(wait_for(acked_by, want, 5000));
	uint64_t more = stats().acked + 200;
	wait_acked(more, 5000);
	cr_assert_eq(load_drain(L, 5000), 0);
	cr_assert_eq(stats().stale_acks, stale);
	cr_assert_eq(load_route(L, 1), 0);
	assert_truth_is_the_fakes();
}

Test(load, a_region_goes_back_to_an_instance_its_standby_took_over_from)
{
	/* A-B-A with no restart: B takes the region over, then A takes it
	 * back (B answers not_active from then on). A's acks after that are
	 * a takeover of its own, not stale ones. */
	start_paired(600, 100);
	atomic_store(&F.active[1], 1);
	int want[2] = {1, 1};
	cr_assert(wait_for(acked_by, want, 5000));
	uint64_t more = stats().acked + 100;
	wait_acked(more, 5000);
	atomic_store(&F.active[1], 0);
	want[1] = 0;
	cr_assert(wait_for(acked_by, want, 5000));
	more = stats().acked + 200;
	wait_acked(more, 5000);
	load_stats s = stats();
	cr_assert_eq(s.stale_acks, 0, "a region may go back to an instance");
	cr_assert_geq(s.active_changes, 2);
	cr_assert_gt(inst_stats(1, 1).not_active, 0);
	cr_assert_eq(load_route(L, 1), 0);

	/* Then B acks again while A still does (a zombie): stale. */
	atomic_store(&F.active[1], -1);
	load_aim(L, 1, 1, 5);
	cr_assert(wait_for(stale_seen, NULL, 5000));
	cr_assert_gt(inst_stats(1, 1).stale_acks, 0);
	cr_assert_eq(inst_stats(1, 0).stale_acks, 0);
	cr_assert_eq(load_drain(L, 5000), 0);
	assert_truth_is_the_fakes();
}

Test(load, an_answer_read_after_a_takeover_takes_the_new_instance_over_from_no_one)
{
	/* The old active's answers to writes it took reach the load 300 ms
	 * late (its refusals do not), and some clients go to the new active
	 * at once: writes the old one took before the takeover are answered
	 * after the new one's first acks. They are no sign that it holds the region
	 * again. */
	start_paired(600, 100);
	atomic_store(&F.late_ms[1][0], 300);
	usleep(300 * 1000); /* writes in flight at the old active, answered late */
	atomic_store(&F.active[1], 1);
	load_aim(L, 1, 1, 50); /* clients that learned of the takeover at once */
	int want[2] = {1, 1};
	cr_assert(wait_for(acked_by, want, 5000));
	uint64_t more = stats().acked + 300;
	wait_acked(more, 5000);
	cr_assert_eq(load_drain(L, 5000), 0);

	load_stats s = stats();
	cr_assert_eq(s.stale_acks, 0);
	cr_assert_eq(s.active_changes, 1, "the late answers changed no active");
	cr_assert_eq(load_last_acked(L, 1), 1);
	cr_assert_gt(inst_stats(1, 1).acked, 100);
	assert_no_anomalies();
	assert_truth_is_the_fakes();
}

Test(load, bad_options_are_refused)
{
	char err[128];
	load_opts o = base_opts();
	o.regions = 0;
	cr_assert_null(load_new(&o, err, sizeof err));
	cr_assert_not_null(strstr(err, "regions"), "%s", err);
	o = base_opts();
	o.zipf_s = 0;
	cr_assert_null(load_new(&o, err, sizeof err));
	o = base_opts();
	o.unlike_share = 1.5;
	cr_assert_null(load_new(&o, err, sizeof err));
	o = base_opts();
	o.users = 0;
	cr_assert_null(load_new(&o, err, sizeof err));
	o = base_opts();
	o.ports = NULL;
	cr_assert_null(load_new(&o, err, sizeof err));
	int bad_ports[2] = {F.port[0], 0};
	o = base_opts();
	o.ports = bad_ports;
	cr_assert_null(load_new(&o, err, sizeof err));
	o = base_opts();
	o.standby_ports = bad_ports;
	cr_assert_null(load_new(&o, err, sizeof err));
	cr_assert_not_null(strstr(err, "port"), "%s", err);
	load_free(NULL);
}
