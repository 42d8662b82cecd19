/* test_load_judge.c - what the load judges while it runs
 * (sim/drill/load_judge.c) against the fake edge (tests/support/
 * load_fake.h): a home read of the user's own young write is held to it
 * and a miss is counted and named; a count above every op ever sent is
 * a phantom, unless it is within the pairs liked at the answering region
 * and at another too (each edge counts its own like of such a pair until
 * central has it); the writes given up without an
 * answer leave the truth a range, and once each is resolved as the edge
 * applied it, the truth is the edge's state exactly. And the trace the
 * end check holds the edges' answers to keeps every like and unlike with
 * how it ended, and every likes count with the version it was named at.
 */
#include "tests/support/load_fake.h"

TestSuite(load_judge, .init = setup, .fini = teardown, .timeout = 30);

static load_judge_stats judged(char (*seen)[LOAD_ANOMALY_TEXT], size_t *nseen)
{
	load_judge_stats j;
	size_t none = 0;
	load_get_judge(L, &j, seen, seen ? nseen : &none);
	return j;
}

static bool ryw_checked_at_least(void *arg)
{
	return judged(NULL, NULL).ryw_checked >= *(uint64_t *)arg;
}

static bool ryw_missed_some(void *arg)
{
	(void)arg;
	return judged(NULL, NULL).ryw_missed > 0;
}

Test(load_judge, a_home_read_of_the_users_own_young_write_is_held_to_it)
{
	load_opts o = base_opts();
	o.sum_share = 0;
	o.read_share = 0;
	o.me_share = 0.3;
	o.converge_ms = 60000; /* every change young: only read-your-writes holds it */
	o.homes = true;
	start(&o);
	uint64_t want = 300;
	cr_assert(wait_for(ryw_checked_at_least, &want, 10000), "checked %llu",
	          (unsigned long long)judged(NULL, NULL).ryw_checked);
	load_judge_stats j = judged(NULL, NULL);
	cr_assert_eq(j.ryw_missed, 0, "the fake answers what it applied");
	cr_assert_eq(j.phantom_hearts, 0);
	load_me_stats m;
	load_get_me_stats(L, &m);
	cr_assert_gt(m.young, 0, "reads away from home are not held while young");
	/* A first pair answered wrong (a user's recent like): a miss, named. */
	atomic_store(&F.lie, true);
	cr_assert(wait_for(ryw_missed_some, NULL, 10000));
	char seen[LOAD_ANOMALIES_KEPT][LOAD_ANOMALY_TEXT];
	size_t nseen = LOAD_ANOMALIES_KEPT;
	j = judged(seen, &nseen);
	cr_assert_geq(nseen, 1);
	bool named = false;
	for (size_t i = 0; i < nseen; i++)
		named |= strstr(seen[i], "read-your-writes: u") != NULL &&
		         strstr(seen[i], "acknowledged by edge") != NULL;
	cr_assert(named, "%s", seen[0]);
	cr_assert_eq(load_drain(L, 5000), 0);
}

/* A load that reads counts (30% of its ops) until acked writes are in:
 * the judge's figures once it has drained. */
static load_judge_stats counts_read(load_opts o, unsigned acked)
{
	o.read_share = 0.3;
	start(&o);
	wait_acked(acked, 10000);
	cr_assert_eq(load_drain(L, 5000), 0);
	load_judge_stats j = judged(NULL, NULL);
	cr_assert_gt(j.counts_checked, 100);
	return j;
}

Test(load_judge, counts_within_what_was_sent_are_no_phantom)
{
	load_judge_stats j = counts_read(base_opts(), 1500);
	cr_assert_eq(j.phantom_counts, 0);
}

static bool phantom_counted(void *arg)
{
	(void)arg;
	return judged(NULL, NULL).phantom_counts > 0;
}

/* Counts answered far above every like sent (and, with cross, above
 * the pairs liked in both regions too) are caught and named. */
static void phantom_caught(bool cross)
{
	atomic_store(&F.cross, cross);
	atomic_store(&F.inflate, 100000);
	load_opts o = base_opts();
	o.read_share = 0.3;
	start(&o);
	cr_assert(wait_for(phantom_counted, NULL, 10000));
	char seen[LOAD_ANOMALIES_KEPT][LOAD_ANOMALY_TEXT];
	size_t nseen = LOAD_ANOMALIES_KEPT;
	judged(seen, &nseen);
	cr_assert_geq(nseen, 1);
	cr_assert_not_null(strstr(seen[0], "phantom count at edge"), "%s", seen[0]);
	cr_assert_eq(load_drain(L, 5000), 0);
}

Test(load_judge, a_count_above_every_like_ever_sent_is_a_phantom)
{
	phantom_caught(false);
}

Test(load_judge, a_pair_liked_in_two_regions_may_show_twice_but_no_more)
{
	atomic_store(&F.cross, true);
	load_opts o = base_opts();
	o.unlike_share = 0.1;
	o.roam_share = 0.5;
	load_judge_stats j = counts_read(o, 2000);
	cr_assert_gt(j.cross_overcounts, 0, "no count above the distinct users was read");
	cr_assert_eq(j.phantom_counts, 0, "%llu", (unsigned long long)j.phantom_counts);
}

Test(load_judge, past_the_pairs_liked_in_two_regions_a_count_is_a_phantom_again)
{
	phantom_caught(true);
}

static bool given_up_some(void *arg)
{
	return stats().given_up >= *(uint64_t *)arg;
}

Test(load_judge, given_up_writes_leave_a_range_and_resolve_into_the_edges_state)
{
	atomic_store(&F.drop_every, 4); /* applied, then the answer lost */
	load_opts o = base_opts();
	o.users = 2000;
	o.sum_share = 0;
	o.give_up_share = 1; /* every like or unlike that lost its answer */
	start(&o);
	uint64_t want = 30;
	cr_assert(wait_for(given_up_some, &want, 10000));
	cr_assert_eq(load_drain(L, 5000), 0);
	load_indet *e = NULL;
	size_t n = load_indeterminate(L, &e);
	cr_assert_eq(n, stats().given_up);
	cr_assert_eq(stats().retried, 0, "a given-up op is not retried");
	/* The truth leaves each changing op's count open. */
	load_truth_entry *t = NULL;
	size_t nt = load_truth(L, &t);
	size_t open = 0;
	for (size_t i = 0; i < nt; i++) {
		cr_assert_leq(t[i].lo, t[i].count);
		cr_assert_geq(t[i].hi, t[i].count);
		open += t[i].lo < t[i].hi;
	}
	cr_assert_gt(open, 0);
	free(t);
	/* Resolved as the fake says: the one whose answer it lost applied;
	 * others on the connection it shut, never (so both kinds occur). */
	size_t counted = 0;
	for (size_t i = 0; i < n; i++) {
		char key[256];
		snprintf(key, sizeof key, "%s %s", e[i].user, e[i].item);
		pthread_mutex_lock(&F.mu);
		bool in = smap_get(&F.members, key, strlen(key)) != NULL;
		pthread_mutex_unlock(&F.mu);
		counted += in == e[i].like;
		load_resolve(L, i, in);
		load_resolve(L, i, !in); /* once each: a second call changes nothing */
	}
	free(e);
	cr_assert_gt(counted, 0);
	nt = load_truth(L, &t);
	for (size_t i = 0; i < nt; i++)
		cr_assert(t[i].lo == t[i].count && t[i].hi == t[i].count, "%s still open",
		          t[i].item);
	free(t);
	assert_truth_is_the_fakes();
}

Test(load_judge, the_trace_keeps_every_write_and_every_likes_count_with_its_version)
{
	atomic_store(&F.version, 77);
	load_opts o = base_opts();
	o.trace = true;
	o.read_share = 0.3;
	start(&o);
	wait_acked(1000, 10000);
	cr_assert_eq(load_drain(L, 5000), 0);
	load_trace t;
	load_get_trace(L, &t);
	cr_assert(t.complete);
	cr_assert_eq(t.counts_dropped, 0);
	cr_assert_gt(t.ncounts, 100);
	cr_assert_eq(t.items, o.items);
	load_stats st = stats();
	size_t answered = 0;
	for (size_t i = 0; i < t.nwrites; i++) {
		const load_write_rec *w = &t.writes[i];
		cr_assert_lt(w->region, o.regions);
		cr_assert_leq(w->item, o.items);
		if (w->fate == LOAD_WRITE_ACKED || w->fate == LOAD_WRITE_UNCHANGED) {
			answered++;
			cr_assert_gt(w->hlc, 0, "an ack's hlc is kept");
			cr_assert_geq(w->end_us, w->sent_us);
		} else {
			cr_assert_eq(w->fate, LOAD_WRITE_REFUSED,
			             "nothing is left open after a drain");
		}
	}
	/* Every like and unlike acked is there; views are not. */
	cr_assert_gt(answered, 0);
	cr_assert_lt(answered, st.acked, "views are not traced");
	for (size_t i = 0; i < t.ncounts; i++) {
		const load_count_rec *c = &t.counts[i];
		cr_assert_eq(c->version, 77);
		cr_assert_lt(c->region, o.regions);
		cr_assert_geq(c->recv_us, c->sent_us);
	}
}

Test(load_judge, no_trace_is_kept_unless_asked)
{
	load_opts o = base_opts();
	o.read_share = 0.3;
	start(&o);
	wait_acked(300, 10000);
	cr_assert_eq(load_drain(L, 5000), 0);
	load_trace t;
	load_get_trace(L, &t);
	cr_assert_eq(t.nwrites, 0);
	cr_assert_eq(t.ncounts, 0);
}
