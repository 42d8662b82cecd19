/* test_drill_settings.c - the drill file parser's settings, one by one
 * (sim/drill/drill.c, drill_query.c): process readings, latency
 * intervals, the broker's priority and fetch wait, namespaces, the
 * changelog and the region shape a full or a short run settles on
 * (drill_shape), standbys and a region's own Kafka with their steps, the
 * changelog's trim step, the block cache, the change feed, the
 * snapshot check and heart reads. test_drill.c has the grammar, the bad
 * inputs, the steps and the shipped drills. */
#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sim/drill/drill.h"

TestSuite(drill_settings, .timeout = 20);

Test(drill_settings, procs_every_turns_process_readings_on)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.procs_every_s, 0, "off unless asked for");
	drill_free(&d);
	cr_assert_eq(drill_parse("t", "duration 60\nprocs_every 30\n", &d, err, sizeof err), 0,
	             "%s", err);
	cr_assert_eq(d.procs_every_s, 30);
	drill_free(&d);
	cr_assert_neq(drill_parse("t", "duration 60\nprocs_every 0\n", &d, err, sizeof err), 0);
	cr_assert_neq(
	    drill_parse("t", "duration 60\nprocs_every 30\nprocs_every 20\n", &d, err, sizeof err),
	    0);
	cr_assert_not_null(strstr(err, "twice"), "%s", err);
}

Test(drill_settings, a_new_duration_keeps_each_step_at_its_place_in_the_run)
{
	drill d;
	char err[256];
	const char *text = "duration 90 short 18\nat 45 kill edge0\nat 90 start edge0\n";
	cr_assert_eq(drill_parse("t", text, &d, err, sizeof err), 0, "%s", err);
	drill_set_duration(&d, 1800);
	cr_assert_float_eq(drill_duration(&d, false), 1800, 1e-9);
	cr_assert_float_eq(drill_step_time(&d, &d.steps[0], false), 900, 1e-9);
	cr_assert_float_eq(drill_step_time(&d, &d.steps[1], false), 1800, 1e-9);
	/* The short run is unchanged. */
	cr_assert_float_eq(drill_duration(&d, true), 18, 1e-9);
	cr_assert_float_eq(drill_step_time(&d, &d.steps[0], true), 9, 1e-9);
	drill_free(&d);
}

Test(drill_settings, the_soak_drill_parses_and_samples_its_daemons)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse_file("sim/soak.drill", &d, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(d.name, "soak");
	cr_assert_eq(d.nsteps, 0, "a soak breaks nothing");
	cr_assert_gt(d.procs_every_s, 0);
	cr_assert_float_eq(d.duration_s, 1800, 1e-9);
	/* The working set and load of the long-run issue, held per minute. */
	cr_assert_eq(d.items, 200000);
	cr_assert_eq(d.users, 50000);
	cr_assert_float_eq(d.rate, 800, 1e-9);
	cr_assert_eq(d.store_cache_mb, 0, "the daemons' default caches");
	cr_assert_eq(d.latency_every_s, 60);
	const drill_expect *x = drill_expect_of(&d, DRILL_EXPECT_INTERVAL_P99);
	cr_assert(x && x->max == 2);
	x = drill_expect_of(&d, DRILL_EXPECT_INTERVAL_EDGE_P99);
	cr_assert(x && x->max == 1);
	x = drill_expect_of(&d, DRILL_EXPECT_INTERVAL_DRIFT);
	cr_assert(x && x->max == 0.25);
	/* In the deployed shape, on real Kafka: a changelog, a standby and a
	 * cluster of its own per region, region 0's of three nodes; the feed
	 * on (issue 66). */
	cr_assert_eq(d.kafka_real, 1);
	cr_assert_eq(d.changelog, 1);
	cr_assert_eq(d.standby, 1);
	cr_assert_eq(d.regional_kafka, 1);
	cr_assert_eq(d.feed, 1);
	cr_assert_eq(d.regional_nodes[0], 3);
	drill_shape(&d, false);
	cr_assert_eq(d.fetch_wait_ms, DRILL_REAL_FETCH_WAIT_MS);
	drill_free(&d);
}

Test(drill_settings, latency_every_cuts_the_run_and_the_interval_keys_need_it)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.latency_every_s, 0, "off unless asked for");
	drill_free(&d);
	const char *text = "duration 600\nlatency_every 60\nexpect interval_p99_ms 2\n"
	                   "expect interval_edge_p99_ms 1\nexpect interval_drift 0.25\n";
	cr_assert_eq(drill_parse("t", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.latency_every_s, 60);
	cr_assert_eq(d.nexpects, 3);
	cr_assert_eq(d.expects[2].key, DRILL_EXPECT_INTERVAL_DRIFT);
	cr_assert_float_eq(d.expects[2].max, 0.25, 1e-9);
	cr_assert_str_eq(drill_expect_name(DRILL_EXPECT_INTERVAL_EDGE_P99), "interval_edge_p99_ms");
	drill_free(&d);
	/* An interval key with nothing to hold: refused, at its line. */
	cr_assert_neq(
	    drill_parse("t", "duration 60\nexpect interval_p99_ms 2\n", &d, err, sizeof err), 0);
	cr_assert_not_null(strstr(err, "t:2:"), "%s", err);
	cr_assert_not_null(strstr(err, "latency_every"), "%s", err);
	cr_assert_neq(drill_parse("t", "duration 60\nlatency_every 0\n", &d, err, sizeof err), 0);
}

Test(drill_settings, the_broker_is_idle_unless_a_drill_says_otherwise)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.broker_idle, 1);
	drill_free(&d);
	cr_assert_eq(drill_parse("t", "duration 60\nbroker_idle 0\n", &d, err, sizeof err), 0, "%s",
	             err);
	cr_assert_eq(d.broker_idle, 0);
	drill_free(&d);
	cr_assert_neq(drill_parse("t", "duration 60\nbroker_idle 2\n", &d, err, sizeof err), 0);
}

Test(drill_settings, consumers_fetch_every_10_ms_unless_a_drill_says_otherwise)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.fetch_wait_ms, 10);
	drill_free(&d);
	cr_assert_eq(drill_parse("t", "duration 60\nfetch_wait_ms 100\n", &d, err, sizeof err), 0,
	             "%s", err);
	cr_assert_eq(d.fetch_wait_ms, 100);
	drill_free(&d);
	cr_assert_neq(drill_parse("t", "duration 60\nfetch_wait_ms 0\n", &d, err, sizeof err), 0);
	/* Past the daemons' socket.timeout.ms (10 s) a wait would fail. */
	cr_assert_neq(drill_parse("t", "duration 60\nfetch_wait_ms 5001\n", &d, err, sizeof err),
	              0);
}

Test(drill_settings, netns_0_runs_without_relays_and_refuses_path_faults)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.netns, 1);
	drill_free(&d);
	cr_assert_eq(
	    drill_parse("t", "duration 60\nnetns 0\nat 5 kill edge0\n", &d, err, sizeof err), 0,
	    "%s", err);
	cr_assert_eq(d.netns, 0);
	drill_free(&d);
	static const char *const faults[] = {"cut edge0 kafka", "heal edge0 kafka",
	                                     "delay edge0 clients 5", "throttle edge0 kafka 1000",
	                                     "reset central0 clients"};
	for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
		char text[128];
		snprintf(text, sizeof text, "duration 60\nnetns 0\nat 5 %s\n", faults[i]);
		cr_assert_neq(drill_parse("t", text, &d, err, sizeof err), 0, "%s", faults[i]);
		cr_assert_not_null(strstr(err, "t:3:"), "%s", err);
		cr_assert_not_null(strstr(err, "no path"), "%s", err);
	}
	cr_assert_neq(drill_parse("t", "duration 60\nnetns 2\n", &d, err, sizeof err), 0);
}

Test(drill_settings, changelog_parses_as_written_and_is_off_until_the_run_settles_the_shape)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.changelog, 0);
	drill_free(&d);
	cr_assert_eq(drill_parse("t", "duration 60\nchangelog 1\n", &d, err, sizeof err), 0, "%s",
	             err);
	cr_assert_eq(d.changelog, 1);
	drill_free(&d);
	cr_assert_neq(drill_parse("t", "duration 60\nchangelog 2\n", &d, err, sizeof err), 0);
}

/* The shape drill_shape settles for a run of text: changelog, standby,
 * regional_kafka. */
static void shape_of(const char *text, bool short_run, unsigned want_changelog,
                     unsigned want_standby, unsigned want_regional)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", text, &d, err, sizeof err), 0, "%s", err);
	drill_shape(&d, short_run);
	cr_assert_eq(d.changelog, want_changelog, "%s (%s run): changelog", text,
	             short_run ? "short" : "full");
	cr_assert_eq(d.standby, want_standby, "%s (%s run): standby", text,
	             short_run ? "short" : "full");
	cr_assert_eq(d.regional_kafka, want_regional, "%s (%s run): regional_kafka", text,
	             short_run ? "short" : "full");
	cr_assert_eq(d.shape_auto, 0);
	drill_free(&d);
}

Test(drill_settings, a_full_run_deploys_each_region_whole_unless_the_drill_says_otherwise)
{
	/* Nothing said: a full run has active, standby and the region's
	 * Kafka; a short run one edge. */
	shape_of("duration 60\n", false, 1, 1, 1);
	shape_of("duration 60\n", true, 0, 0, 0);
	/* What a drill says holds in both. */
	shape_of("duration 60\nchangelog 0\n", false, 0, 0, 0);
	shape_of("duration 60\nchangelog 1\n", false, 1, 1, 1);
	shape_of("duration 60\nchangelog 1\n", true, 1, 0, 0);
	shape_of("duration 60\nstandby 0\n", false, 1, 0, 1);
	shape_of("duration 60\nregional_kafka 0\n", false, 1, 1, 0);
	shape_of("duration 60\nchangelog 1\nstandby 1\nregional_kafka 1\n", true, 1, 1, 1);
	/* A disk fault names the region: with a standby it fills the active
	 * instance's disk, so the full shape takes it too. */
	shape_of("duration 60\nat 5 disk_full edge1\nat 9 disk_free edge1\n", false, 1, 1, 1);
	shape_of("duration 60\nchangelog 1\nstandby 1\nat 5 disk_full edge0\n", true, 1, 1, 0);
}

/* A step a test expects on an edge: its action, the edge's index,
 * whether on the standby, and (where a test checks it) its number. */
typedef struct edge_step {
	drill_action a;
	int index;
	bool standby;
	int64_t a1;
} edge_step;

/* Every step of d is on an edge and as want[i] says (want has at least
 * d->nsteps entries). */
static void assert_edge_steps(const drill *d, const edge_step *want)
{
	for (size_t i = 0; i < d->nsteps; i++) {
		cr_assert_eq(d->steps[i].action, want[i].a, "step %zu", i);
		cr_assert_eq(d->steps[i].node, DRILL_EDGE, "step %zu", i);
		cr_assert_eq(d->steps[i].index, want[i].index, "step %zu", i);
		cr_assert_eq(d->steps[i].standby, want[i].standby, "step %zu", i);
	}
}

Test(drill_settings, standby_runs_a_second_instance_per_region_and_steps_may_name_it)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\nchangelog 1\n", &d, err, sizeof err), 0, "%s",
	             err);
	cr_assert_eq(d.standby, 0, "one instance per region unless asked for");
	cr_assert_eq(d.takeover_ms, 0, "the edge's own takeover unless asked for");
	drill_free(&d);
	const char *text = "duration 60\nchangelog 1\nstandby 1\ntakeover_ms 1000\n"
	                   "expect takeover_max_s 5\n"
	                   "at 10 wipe edge1\n"
	                   "at 11 kill edge1.standby\n"
	                   "at 12 stop edge2\n"
	                   "at 13 cont edge2\n"
	                   "at 14 cut edge0.standby kafka\n"
	                   "at 15 heal edge0 kafka\n"
	                   "at 16 start edge1\n"
	                   "at 17 wipe edge2.standby\n";
	cr_assert_eq(drill_parse("t", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.standby, 1);
	cr_assert_eq(d.takeover_ms, 1000);
	const drill_expect *x = drill_expect_of(&d, DRILL_EXPECT_TAKEOVER_MAX);
	cr_assert(x && x->max == 5);
	cr_assert_str_eq(drill_expect_name(DRILL_EXPECT_TAKEOVER_MAX), "takeover_max_s");
	cr_assert_eq(d.nsteps, 8);
	static const edge_step want[] = {{DRILL_WIPE, 1, false, 0},  {DRILL_KILL, 1, true, 0},
	                                 {DRILL_STOP, 2, false, 0},  {DRILL_CONT, 2, false, 0},
	                                 {DRILL_CUT, 0, true, 0},    {DRILL_HEAL, 0, false, 0},
	                                 {DRILL_START, 1, false, 0}, {DRILL_WIPE, 2, true, 0}};
	assert_edge_steps(&d, want);
	cr_assert_eq(d.steps[4].link, DRILL_LINK_KAFKA);
	cr_assert_str_eq(d.steps[1].text, "at 11 kill edge1.standby");
	drill_free(&d);
}

Test(drill_settings, regional_kafka_gives_each_region_its_own_cluster_and_its_faults)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\nchangelog 1\n", &d, err, sizeof err), 0, "%s",
	             err);
	cr_assert_eq(d.regional_kafka, 0, "the embedded Kafka unless asked for");
	cr_assert_not(d.durability_local, "the edge's own durability unless asked for");
	drill_free(&d);
	const char *text = "duration 60\nchangelog 1\nstandby 1\nregional_kafka 1\n"
	                   "durability local\n"
	                   "at 10 cut edge1 regional\n"
	                   "at 11 delay edge2.standby regional 1\n"
	                   "at 12 heal edge1 regional\n"
	                   "at 13 regional_broker_down edge1 2\n"
	                   "at 14 regional_broker_up edge1 2\n"
	                   "at 15 regional_down edge0\n"
	                   "at 16 regional_up edge0\n";
	cr_assert_eq(drill_parse("t", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.regional_kafka, 1);
	cr_assert(d.durability_local);
	cr_assert_eq(d.nsteps, 7);
	static const edge_step want[] = {{DRILL_CUT, 1, false, 0},
	                                 {DRILL_DELAY, 2, true, 1},
	                                 {DRILL_HEAL, 1, false, 0},
	                                 {DRILL_REGIONAL_BROKER_DOWN, 1, false, 2},
	                                 {DRILL_REGIONAL_BROKER_UP, 1, false, 2},
	                                 {DRILL_REGIONAL_DOWN, 0, false, 0},
	                                 {DRILL_REGIONAL_UP, 0, false, 0}};
	assert_edge_steps(&d, want);
	for (size_t i = 0; i < d.nsteps; i++)
		cr_assert_eq(d.steps[i].a, want[i].a1, "step %zu", i);
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(d.steps[i].link, DRILL_LINK_REGIONAL, "step %zu", i);
	cr_assert(drill_action_on_path(DRILL_CUT));
	cr_assert_not(drill_action_on_path(DRILL_REGIONAL_DOWN), "a cluster fault, not a path");
	cr_assert_not(drill_action_on_path(DRILL_REGIONAL_BROKER_DOWN));
	drill_free(&d);
	cr_assert_eq(drill_parse("t", "duration 60\nchangelog 1\ndurability replicated\n", &d, err,
	                         sizeof err),
	             0, "%s", err);
	cr_assert_not(d.durability_local);
	drill_free(&d);
}

Test(drill_settings, trim_takes_a_region_whose_drill_runs_the_changelog)
{
	drill d;
	char err[256];
	const char *text = "duration 60\nchangelog 1\nregions 3\n"
	                   "at 14 trim edge1\n"
	                   "at 20 trim   edge2   # the log past its retention\n";
	cr_assert_eq(drill_parse("t", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.nsteps, 2);
	cr_assert_eq(d.steps[0].action, DRILL_TRIM);
	cr_assert_eq(d.steps[0].node, DRILL_EDGE);
	cr_assert_eq(d.steps[0].index, 1);
	cr_assert_not(d.steps[0].standby);
	cr_assert_eq(d.steps[0].line, 4);
	cr_assert_eq(d.steps[1].index, 2);
	cr_assert_str_eq(d.steps[1].text, "at 20 trim   edge2");
	cr_assert_not(drill_action_on_path(DRILL_TRIM), "a log's fault, not a path's");
	drill_free(&d);
	/* With a standby and the region's own Kafka too: it trims the log
	 * both instances share. */
	cr_assert_eq(drill_parse("t",
	                         "duration 60\nchangelog 1\nstandby 1\nregional_kafka 1\n"
	                         "at 14 trim edge0\n",
	                         &d, err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(d.steps[0].action, DRILL_TRIM);
	drill_free(&d);

	/* Refused when the file does not turn the changelog on (a short run
	 * would have none), on the step's line. */
	static const struct {
		const char *text;
		const char *want;
	} bad[] = {
	    {"duration 60\nat 14 trim edge1\n", "t:2: trim needs changelog 1"},
	    {"at 14 trim edge1\nduration 60\nchangelog 0\n", "t:1: trim needs changelog 1"},
	    {"duration 60\nchangelog 1\nregions 2\nat 14 trim edge2\n",
	     "t:4: edge2 is past regions 2"},
	    {"duration 60\nchangelog 1\nat 14 trim edge9\n", "t:3: edge9 is past regions 3"},
	    {"duration 60\nchangelog 1\nat 14 trim central0\n",
	     "t:3: trim takes an edge, not 'central0'"},
	    {"duration 60\nchangelog 1\nstandby 1\nat 14 trim edge1.standby\n",
	     "t:4: bad node 'edge1.standby' (edgeN or centralN)"},
	    {"duration 60\nchangelog 1\nat 14 trim\n", "t:3: trim: missing arguments"},
	    {"duration 60\nchangelog 1\nat 14 trim edge1 all\n", "t:3: trim: unexpected 'all'"},
	    {"duration 60\nchangelog 1\nat 61 trim edge1\n", "t:3: step at 61s is past"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(drill_parse("t", bad[i].text, &d, err, sizeof err), ERR_CONFIG,
		             "accepted: %s", bad[i].text);
		cr_assert_not_null(strstr(err, bad[i].want), "want '%s' in '%s'", bad[i].want, err);
		cr_assert_null(d.steps);
	}
}

Test(drill_settings, store_cache_mb_sizes_every_daemons_block_cache)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.store_cache_mb, 0, "the daemons' own default unless set");
	drill_free(&d);
	cr_assert_eq(drill_parse("t", "duration 60\nstore_cache_mb 1\n", &d, err, sizeof err), 0,
	             "%s", err);
	cr_assert_eq(d.store_cache_mb, 1);
	drill_free(&d);
	cr_assert_neq(drill_parse("t", "duration 60\nstore_cache_mb 0\n", &d, err, sizeof err), 0);
}

Test(drill_settings, the_feed_is_on_with_low_milestones_unless_a_drill_says_otherwise)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.feed, 1);
	static const uint64_t want[] = {10, 50, 100, 500, 1000};
	cr_assert_eq(d.nmilestones, 5);
	for (size_t i = 0; i < 5; i++)
		cr_assert_eq(d.milestones[i], want[i]);
	drill_free(&d);
	cr_assert_eq(
	    drill_parse("t", "duration 60\nmilestones 5,20,1000000\n", &d, err, sizeof err), 0,
	    "%s", err);
	cr_assert_eq(d.nmilestones, 3);
	cr_assert_eq(d.milestones[0], 5);
	cr_assert_eq(d.milestones[2], 1000000);
	drill_free(&d);
	cr_assert_eq(drill_parse("t", "duration 60\nfeed 0\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.feed, 0);
	drill_free(&d);
}

Test(drill_settings, the_snapshot_check_is_on_unless_a_drill_turns_it_off)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.snapshot_check, 1, "the product's shape: every snapshot judged");
	drill_free(&d);
	cr_assert_eq(drill_parse("t", "duration 60\nsnapshot_check 0\n", &d, err, sizeof err), 0,
	             "%s", err);
	cr_assert_eq(d.snapshot_check, 0);
	drill_free(&d);
	cr_assert_neq(drill_parse("t", "duration 60\nsnapshot_check 2\n", &d, err, sizeof err), 0);
	cr_assert_not_null(strstr(err, "out of range"), "%s", err);
}

Test(drill_settings, heart_reads_are_off_unless_a_drill_asks_for_a_share_of_them)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_float_eq(d.me, 0, 1e-9);
	drill_free(&d);
	cr_assert_eq(drill_parse("t", "duration 60\nme 0.15\nexpect ready_me_p99_ms 2\n", &d, err,
	                         sizeof err),
	             0, "%s", err);
	cr_assert_float_eq(d.me, 0.15, 1e-9);
	cr_assert_eq(d.nexpects, 1);
	cr_assert_eq(d.expects[0].key, DRILL_EXPECT_READY_ME_P99);
	drill_free(&d);
	cr_assert_neq(drill_parse("t", "duration 60\nreads 0.6\nme 0.5\n", &d, err, sizeof err), 0);
	cr_assert(strstr(err, "add up to more than all the ops"), "%s", err);
}

Test(drill_settings, kafka_is_embedded_unless_the_drill_or_the_run_says_real)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.kafka_real, 0);
	cr_assert_eq(d.kafka_nodes, 1);
	for (unsigned i = 0; i < DRILL_REGIONS_MAX; i++)
		cr_assert_eq(d.regional_nodes[i], DRILL_REGIONAL_BROKERS);
	drill_shape(&d, false);
	cr_assert_eq(d.fetch_wait_ms, 10, "the embedded cluster keeps the drills' wait");
	cr_assert_eq(drill_set_kafka(&d, true, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.kafka_real, 1);
	drill_free(&d);

	cr_assert_eq(
	    drill_parse("t", "duration 60\nkafka real\nkafka_nodes 3\n", &d, err, sizeof err), 0,
	    "%s", err);
	cr_assert_eq(d.kafka_real, 1);
	cr_assert_eq(d.kafka_nodes, 3);
	drill_shape(&d, true);
	cr_assert_eq(d.fetch_wait_ms, DRILL_REAL_FETCH_WAIT_MS,
	             "a real broker answers a waiting fetch when data comes");
	drill_free(&d);

	cr_assert_eq(
	    drill_parse("t", "duration 60\nkafka real\nfetch_wait_ms 20\n", &d, err, sizeof err), 0,
	    "%s", err);
	drill_shape(&d, false);
	cr_assert_eq(d.fetch_wait_ms, 20, "the drill's own wait stays");
	drill_free(&d);

	cr_assert_neq(drill_parse("t", "duration 60\nkafka mock\n", &d, err, sizeof err), 0);
	cr_assert_neq(drill_parse("t", "duration 60\nkafka_nodes 3\n", &d, err, sizeof err), 0);
	cr_assert(strstr(err, "kafka_nodes needs kafka real"), "%s", err);
	cr_assert_neq(
	    drill_parse("t", "duration 60\nkafka real\nkafka_nodes 6\n", &d, err, sizeof err), 0);
}

Test(drill_settings, the_full_jit_needs_real_kafka_and_client_conns_is_bounded)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.kafka_full_jit, 0, "the quick JIT unless a drill says");
	cr_assert_eq(d.client_conns, DRILL_CLIENT_CONNS);
	drill_free(&d);

	cr_assert_eq(drill_parse("t",
	                         "duration 60\nkafka real\nkafka_full_jit 1\nclient_conns 32\n", &d,
	                         err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(d.kafka_full_jit, 1);
	cr_assert_eq(d.client_conns, 32);
	drill_free(&d);

	cr_assert_neq(drill_parse("t", "duration 60\nkafka_full_jit 1\n", &d, err, sizeof err), 0);
	cr_assert(strstr(err, "kafka_full_jit needs kafka real"), "%s", err);
	cr_assert_neq(drill_parse("t", "duration 60\nclient_conns 0\n", &d, err, sizeof err), 0);
	cr_assert_neq(drill_parse("t", "duration 60\nclient_conns 65\n", &d, err, sizeof err), 0);
	cr_assert_eq(drill_parse("t", "duration 60\nclient_conns 64\n", &d, err, sizeof err), 0,
	             "%s", err);
	drill_free(&d);
}

/* What sim drill checks against its open-file limit before it starts. */
Test(drill_settings, the_loads_descriptors_count_each_instance_and_the_relays_ends)
{
	drill d;
	char err[256];
	cr_assert_eq(
	    drill_parse("t", "duration 60\nregions 3\nclient_conns 32\n", &d, err, sizeof err), 0,
	    "%s", err);
	d.standby = 0;
	d.client_relay = 1;
	cr_assert_eq(drill_load_fds(&d, false), 3 * 32, "no relay without namespaces");
	cr_assert_eq(drill_load_fds(&d, true), 3 * 32 * 3, "the relay's two ends per connection");
	d.standby = 1;
	cr_assert_eq(drill_load_fds(&d, true), 3 * 2 * 32 * 3, "both instances of a region");
	d.client_relay = 0;
	cr_assert_eq(drill_load_fds(&d, true), 3 * 2 * 32, "straight to the edges");
	drill_free(&d);
}

Test(drill_settings, regional_nodes_sets_every_region_or_one_whichever_line_comes_first)
{
	drill d;
	char err[256];
	const char *text = "duration 60\nchangelog 1\nregional_kafka 1\nkafka real\n"
	                   "regional_nodes edge1 3\nregional_nodes 1\n";
	cr_assert_eq(drill_parse("t", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.regional_nodes[0], 1);
	cr_assert_eq(d.regional_nodes[1], 3, "a region's own line wins over the later one");
	cr_assert_eq(d.regional_nodes[2], 1);
	drill_free(&d);
	cr_assert_neq(drill_parse("t", "duration 60\nregional_nodes 1\n", &d, err, sizeof err), 0);
	cr_assert(strstr(err, "regional_nodes needs regional_kafka 1"), "%s", err);
	cr_assert_neq(drill_parse("t",
	                          "duration 60\nchangelog 1\nregional_kafka 1\nregional_nodes 4\n",
	                          &d, err, sizeof err),
	              0);
	cr_assert_neq(drill_parse("t",
	                          "duration 60\nchangelog 1\nregional_kafka 1\n"
	                          "regional_nodes central0 1\n",
	                          &d, err, sizeof err),
	              0);
}

Test(drill_settings, broker_steps_on_real_nodes_parse_with_their_targets)
{
	drill d;
	char err[256];
	const char *text = "duration 60\nchangelog 1\nregional_kafka 1\nkafka real\n"
	                   "kafka_nodes 3\n"
	                   "at 1 broker_pause leader\n"
	                   "at 2 broker_resume all\n"
	                   "at 3 broker_restart 2\n"
	                   "at 4 broker_wipe 3\n"
	                   "at 5 regional_broker_down edge1 leader\n"
	                   "at 6 regional_broker_up edge1 all\n"
	                   "at 7 regional_broker_wipe edge2 2\n"
	                   "at 8 regional_broker_pause edge0 leader\n"
	                   "at 9 regional_broker_resume edge0 all\n"
	                   "at 10 regional_broker_restart edge0 1\n";
	cr_assert_eq(drill_parse("t", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.nsteps, 10);
	cr_assert_eq(d.steps[0].action, DRILL_BROKER_PAUSE);
	cr_assert_eq(d.steps[0].index, DRILL_BROKER_LEADER);
	cr_assert_eq(d.steps[1].index, DRILL_BROKER_ALL);
	cr_assert_eq(d.steps[2].action, DRILL_BROKER_RESTART);
	cr_assert_eq(d.steps[2].index, 2);
	cr_assert_eq(d.steps[3].action, DRILL_BROKER_WIPE);
	cr_assert_eq(d.steps[4].action, DRILL_REGIONAL_BROKER_DOWN);
	cr_assert_eq(d.steps[4].index, 1);
	cr_assert_eq(d.steps[4].a, DRILL_BROKER_LEADER);
	cr_assert_eq(d.steps[5].a, DRILL_BROKER_ALL);
	cr_assert_eq(d.steps[6].action, DRILL_REGIONAL_BROKER_WIPE);
	cr_assert_eq(d.steps[6].a, 2);
	cr_assert(drill_action_regional(DRILL_REGIONAL_BROKER_PAUSE));
	cr_assert_not(drill_action_regional(DRILL_BROKER_PAUSE));
	cr_assert(drill_action_real_only(DRILL_BROKER_WIPE));
	cr_assert_not(drill_action_real_only(DRILL_BROKER_DOWN));
	cr_assert_str_eq(drill_action_word(DRILL_REGIONAL_BROKER_RESTART),
	                 "regional_broker_restart");
	/* The same steps cannot run on the embedded cluster. */
	cr_assert_eq(drill_set_kafka(&d, false, err, sizeof err), ERR_CONFIG);
	cr_assert(strstr(err, "broker_pause leader"), "%s", err);
	drill_free(&d);
}

/* The steps refused at parse time are in test_drill.c's bad_cases. */
Test(drill_settings, broker_steps_that_cannot_run_on_this_kafka_are_refused)
{
	/* A run forced onto real Kafka refuses the embedded cluster's faults. */
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("t", "duration 60\nat 5 broker_rtt 1 50\n", &d, err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(drill_set_kafka(&d, true, err, sizeof err), ERR_CONFIG);
	cr_assert(strstr(err, "cannot run on real Kafka"), "%s", err);
	cr_assert_eq(d.kafka_real, 0, "refused: unchanged");
	drill_free(&d);
}

Test(drill_settings, cuts_between_a_regions_kafka_nodes_parse_and_need_their_namespaces)
{
	drill d;
	char err[256];
	const char *text = "duration 60\nregions 2\nchangelog 1\nregional_kafka 1\nkafka real\n"
	                   "at 1 cut kafka1.leader kafka1.others\n"
	                   "at 2 cut kafka0.node2 kafka0.node3 forward\n"
	                   "at 3 cut kafka0.node3 kafka0.node1 backward\n"
	                   "at 4 heal kafka1.leader kafka1.others\n"
	                   "at 5 heal kafka0.node2 kafka0.node3\n"
	                   "at 6 cut edge0 regional\n";
	cr_assert_eq(drill_parse("t", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.nsteps, 6);
	cr_assert_eq(d.regional_kafka_netns, 1, "a cut between nodes puts them in namespaces");
	cr_assert_eq(d.steps[0].action, DRILL_BROKERS_CUT);
	cr_assert_eq(d.steps[0].index, 1);
	cr_assert_eq(d.steps[0].a, DRILL_BROKER_LEADER);
	cr_assert_eq(d.steps[0].b, DRILL_BROKER_OTHERS);
	cr_assert_eq(d.steps[0].dir, 3);
	cr_assert_eq(d.steps[1].index, 0);
	cr_assert_eq(d.steps[1].a, 2);
	cr_assert_eq(d.steps[1].b, 3);
	cr_assert_eq(d.steps[1].dir, 1);
	cr_assert_eq(d.steps[2].dir, 2);
	cr_assert_eq(d.steps[3].action, DRILL_BROKERS_HEAL);
	cr_assert_eq(d.steps[3].a, DRILL_BROKER_LEADER);
	cr_assert_eq(d.steps[4].a, 2);
	/* A cut of a daemon's path is the cut it always was. */
	cr_assert_eq(d.steps[5].action, DRILL_CUT);
	cr_assert_eq(d.steps[5].link, DRILL_LINK_REGIONAL);
	cr_assert_str_eq(drill_action_word(DRILL_BROKERS_CUT), "cut");
	cr_assert(drill_action_real_only(DRILL_BROKERS_HEAL));
	cr_assert_eq(drill_set_kafka(&d, false, err, sizeof err), ERR_CONFIG);
	drill_free(&d);
	cr_assert_eq(drill_parse("t",
	                         "duration 60\nchangelog 1\nregional_kafka 1\nkafka real\n"
	                         "regional_kafka_netns 1\n",
	                         &d, err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(d.regional_kafka_netns, 1);
	drill_free(&d);
}
