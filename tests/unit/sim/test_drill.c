/* test_drill.c - the drill file parser (sim/drill/drill.c): a full example,
 * defaults, every kind of bad input with its line, step time scaling for
 * the short run, shards and their partition ranges, wipe steps and
 * expectations, and every drill shipped in sim/drills/; which steps the
 * runner counts as a fault on a change's way home. The settings one by
 * one are in test_drill_settings.c. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/testdir.h"
#include "xmem.h"
#include "sim/drill/drill.h"
#include "sim/drill/run_int.h" /* run_fault_scope */

static char tmpdir[64];

static void setup(void)
{
	testdir_make(tmpdir, sizeof tmpdir, "test_drill");
}

static void teardown(void)
{
	testdir_remove(tmpdir);
}

TestSuite(drill, .init = setup, .fini = teardown, .timeout = 20);

static const char full_text[] = "# a full example\n"
                                "name full-1\n"
                                "regions 4\n"
                                "centrals 2\n"
                                "partitions 16\n"
                                "duration 100 short 20   # comment after a statement\n"
                                "rate 500 short 120\n"
                                "users 300\n"
                                "items 400\n"
                                "zipf 0.9\n"
                                "viral 0.5\n"
                                "unlike 0.25\n"
                                "sum 0\n"
                                "roam 1\n"
                                "reads 0.3\n"
                                "snapshot_ms 250\n"
                                "batch_age_ms 100\n"
                                "skew edge1 30000\n"
                                "skew edge3 -2500\n"
                                "converge_s 30\n"
                                "seed 18446744073709551615\n"
                                "\n"
                                "at 50 heal   edge0 kafka\n"
                                "at 10 cut edge0 kafka\n"
                                "  at 10 delay edge2 central 40 5  \n"
                                "at 12 cut edge1 clients forward\n"
                                "at 13 cut central1 kafka backward\n"
                                "at 14 throttle edge3 kafka 100000\n"
                                "at 15 reset central0 clients\n"
                                "at 16 kill edge2\n"
                                "at 17 start edge2\n"
                                "at 18 stop central1\n"
                                "at 19 cont central1\n"
                                "at 20 broker_down all\n"
                                "at 21 broker_up 2\n"
                                "at 22 broker_rtt all 300\n"
                                "at 23 broker_errors 40\n"
                                "at 24 region_down edge3\n"
                                "at 25 region_up edge3\n"
                                "at 26 load_rate 1000\n"
                                "at 27.5 viral 0.75\n"
                                "at 0 delay edge1 kafka 7\n"
                                "at 100 heal edge1 clients\n"
                                "undo 0.6"; /* last: the lines above keep their numbers */

Test(drill, full_example_parses_to_every_field)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("x.drill", full_text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(d.name, "full-1");
	cr_assert_eq(d.regions, 4);
	cr_assert_eq(d.centrals, 2);
	cr_assert_eq(d.partitions, 16);
	cr_assert_float_eq(d.duration_s, 100, 1e-9);
	cr_assert_float_eq(d.short_duration_s, 20, 1e-9);
	cr_assert_float_eq(d.rate, 500, 1e-9);
	cr_assert_float_eq(d.short_rate, 120, 1e-9);
	cr_assert_eq(d.users, 300);
	cr_assert_eq(d.items, 400);
	cr_assert_float_eq(d.zipf, 0.9, 1e-9);
	cr_assert_float_eq(d.viral, 0.5, 1e-9);
	cr_assert_float_eq(d.unlike, 0.25, 1e-9);
	cr_assert_float_eq(d.sum, 0, 1e-9);
	cr_assert_float_eq(d.roam, 1, 1e-9);
	cr_assert_float_eq(d.undo, 0.6, 1e-9);
	cr_assert_float_eq(d.reads, 0.3, 1e-9);
	cr_assert_eq(d.snapshot_ms, 250);
	cr_assert_eq(d.batch_age_ms, 100);
	cr_assert_eq(d.converge_s, 30);
	cr_assert_eq(d.seed, UINT64_MAX);
	cr_assert_eq(d.skew_ms[0][0], 0);
	cr_assert_eq(d.skew_ms[0][1], 30000);
	cr_assert_eq(d.skew_ms[0][3], -2500);
	cr_assert_eq(d.nsteps, 21);

	/* Sorted by time, ties in file order. */
	for (size_t i = 1; i < d.nsteps; i++) {
		cr_assert(d.steps[i - 1].at_s < d.steps[i].at_s ||
		              (d.steps[i - 1].at_s == d.steps[i].at_s &&
		               d.steps[i - 1].line < d.steps[i].line),
		          "step %zu out of order", i);
	}
	const drill_step *s = d.steps;
	cr_assert_eq(s[0].action, DRILL_DELAY);
	cr_assert_eq(s[0].at_s, 0);
	cr_assert_eq(s[0].node, DRILL_EDGE);
	cr_assert_eq(s[0].index, 1);
	cr_assert_eq(s[0].link, DRILL_LINK_KAFKA);
	cr_assert_eq(s[0].a, 7);
	cr_assert_eq(s[0].b, 0);
	cr_assert_eq(s[0].line, 42);

	cr_assert_eq(s[1].action, DRILL_CUT); /* line 24, before the delay on line 25 */
	cr_assert_eq(s[1].line, 24);
	cr_assert_eq(s[1].dir, 3);
	cr_assert_str_eq(s[1].text, "at 10 cut edge0 kafka");
	cr_assert_eq(s[2].action, DRILL_DELAY);
	cr_assert_eq(s[2].index, 2);
	cr_assert_eq(s[2].link, DRILL_LINK_CENTRAL);
	cr_assert_eq(s[2].a, 40);
	cr_assert_eq(s[2].b, 5);
	cr_assert_str_eq(s[2].text, "at 10 delay edge2 central 40 5");

	cr_assert_eq(s[3].action, DRILL_CUT);
	cr_assert_eq(s[3].link, DRILL_LINK_CLIENTS);
	cr_assert_eq(s[3].dir, 1);
	cr_assert_eq(s[4].node, DRILL_CENTRAL);
	cr_assert_eq(s[4].index, 1);
	cr_assert_eq(s[4].dir, 2);
	cr_assert_eq(s[5].action, DRILL_THROTTLE);
	cr_assert_eq(s[5].a, 100000);
	cr_assert_eq(s[6].action, DRILL_RESET);
	cr_assert_eq(s[6].node, DRILL_CENTRAL);
	cr_assert_eq(s[7].action, DRILL_KILL);
	cr_assert_eq(s[8].action, DRILL_START);
	cr_assert_eq(s[9].action, DRILL_STOP);
	cr_assert_eq(s[10].action, DRILL_CONT);
	cr_assert_eq(s[11].action, DRILL_BROKER_DOWN);
	cr_assert_eq(s[11].index, -1);
	cr_assert_eq(s[11].node, 0);
	cr_assert_eq(s[12].action, DRILL_BROKER_UP);
	cr_assert_eq(s[12].index, 2);
	cr_assert_eq(s[13].action, DRILL_BROKER_RTT);
	cr_assert_eq(s[13].index, -1);
	cr_assert_eq(s[13].a, 300);
	cr_assert_eq(s[14].action, DRILL_BROKER_ERRORS);
	cr_assert_eq(s[14].a, 40);
	cr_assert_eq(s[15].action, DRILL_REGION_DOWN);
	cr_assert_eq(s[15].index, 3);
	cr_assert_eq(s[16].action, DRILL_REGION_UP);
	cr_assert_eq(s[17].action, DRILL_LOAD_RATE);
	cr_assert_float_eq(s[17].x, 1000, 1e-9);
	cr_assert_eq(s[18].action, DRILL_VIRAL);
	cr_assert_float_eq(s[18].x, 0.75, 1e-9);
	cr_assert_float_eq(s[18].at_s, 27.5, 1e-9);
	cr_assert_eq(s[19].action, DRILL_HEAL);
	cr_assert_str_eq(s[19].text, "at 50 heal   edge0 kafka");
	cr_assert_eq(s[20].at_s, 100);
	drill_free(&d);
	cr_assert_null(d.steps);
}

Test(drill, defaults_fill_what_the_file_leaves_out)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("sim/drills/quiet.drill", "duration 60\n", &d, err, sizeof err), 0,
	             "%s", err);
	cr_assert_str_eq(d.name, "quiet");
	cr_assert_eq(d.regions, 3);
	cr_assert_eq(d.centrals, 1);
	cr_assert_eq(d.partitions, 8);
	cr_assert_float_eq(d.rate, 300, 1e-9);
	cr_assert_float_eq(d.short_rate, 150, 1e-9);
	cr_assert_eq(d.users, 2000);
	cr_assert_eq(d.items, 2000);
	cr_assert_float_eq(d.zipf, 1.1, 1e-9);
	cr_assert_float_eq(d.viral, 0.2, 1e-9);
	cr_assert_float_eq(d.unlike, 0.2, 1e-9);
	cr_assert_float_eq(d.sum, 0.2, 1e-9);
	cr_assert_float_eq(d.roam, 0.05, 1e-9);
	cr_assert_float_eq(d.undo, 0, 1e-9);
	cr_assert_float_eq(d.reads, 0.1, 1e-9);
	cr_assert_eq(d.snapshot_ms, 500);
	cr_assert_eq(d.batch_age_ms, 500);
	cr_assert_eq(d.converge_s, 60);
	cr_assert_eq(d.seed, 1);
	cr_assert_eq(d.shards, 0, "not sharded unless asked");
	cr_assert_eq(d.netns, 1);
	cr_assert_eq(d.client_relay, 1, "the clients' relay unless asked");
	for (int i = 0; i < DRILL_REGIONS_MAX; i++)
		cr_assert_eq(d.skew_ms[0][i], 0);
	/* No short duration: the short run is the full one. */
	cr_assert_float_eq(d.short_duration_s, 60, 1e-9);
	cr_assert_eq(d.nsteps, 0);
	drill_free(&d);

	/* A rate without a short rate: the short run halves it. */
	cr_assert_eq(drill_parse("r", "duration 60 short 10\nrate 800\n", &d, err, sizeof err), 0,
	             "%s", err);
	cr_assert_float_eq(d.short_rate, 400, 1e-9);
	cr_assert_str_eq(d.name, "r");
	drill_free(&d);
}

Test(drill, short_run_scales_step_times_and_rates)
{
	drill d;
	char err[256];
	const char *text = "duration 90 short 18\nrate 300 short 100\n"
	                   "at 45 kill edge0\nat 90 start edge0\nat 30 load_rate 600\n";
	cr_assert_eq(drill_parse("t", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.nsteps, 3);
	cr_assert_float_eq(drill_duration(&d, false), 90, 1e-9);
	cr_assert_float_eq(drill_duration(&d, true), 18, 1e-9);
	cr_assert_float_eq(drill_step_time(&d, &d.steps[0], false), 30, 1e-9);
	cr_assert_float_eq(drill_step_time(&d, &d.steps[0], true), 6, 1e-9);
	cr_assert_float_eq(drill_step_time(&d, &d.steps[1], true), 9, 1e-9);
	cr_assert_float_eq(drill_step_time(&d, &d.steps[2], true), 18, 1e-9);
	cr_assert_float_eq(drill_step_rate(&d, &d.steps[0], false), 600, 1e-9);
	cr_assert_float_eq(drill_step_rate(&d, &d.steps[0], true), 200, 1e-9);
	drill_free(&d);
}

Test(drill, wipe_takes_an_edge_and_sorts_with_the_other_steps)
{
	drill d;
	char err[256];
	const char *text = "duration 60 short 12\n"
	                   "at 30 start edge2\n"
	                   "at 25 wipe   edge2   # its store goes\n"
	                   "at 40 wipe edge0\n";
	cr_assert_eq(drill_parse("w", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.nsteps, 3);
	const drill_step *s = d.steps;
	cr_assert_eq(s[0].action, DRILL_WIPE);
	cr_assert_eq(s[0].node, DRILL_EDGE);
	cr_assert_eq(s[0].index, 2);
	cr_assert_eq(s[0].line, 3);
	cr_assert_str_eq(s[0].text, "at 25 wipe   edge2");
	cr_assert_eq(s[1].action, DRILL_START);
	cr_assert_eq(s[2].action, DRILL_WIPE);
	cr_assert_eq(s[2].index, 0);
	cr_assert_float_eq(drill_step_time(&d, &s[0], true), 5, 1e-9);
	drill_free(&d);
}

Test(drill, skew_sets_each_instance_of_a_region_apart)
{
	drill d;
	char err[256];
	const char *text = "duration 60\nchangelog 1\nstandby 1\n"
	                   "skew edge1.standby -20000\n"
	                   "skew edge1 500\n";
	cr_assert_eq(drill_parse("s", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.skew_ms[0][1], 500);
	cr_assert_eq(d.skew_ms[1][1], -20000);
	cr_assert_eq(d.skew_ms[1][0], 0);
	cr_assert_eq(d.skew_ms[0][0], 0);
	drill_free(&d);
	/* Without edgeN.standby, skew edgeN is both instances'. */
	cr_assert_eq(drill_parse("s", "duration 60\nchangelog 1\nstandby 1\nskew edge2 -30000\n",
	                         &d, err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(d.skew_ms[0][2], -30000);
	cr_assert_eq(d.skew_ms[1][2], -30000);
	drill_free(&d);
}

Test(drill, move_takes_an_edge_and_a_number_of_users)
{
	drill d;
	char err[256];
	const char *text = "duration 60 short 12\n"
	                   "me 0.1\n"
	                   "at 30 move edge2 40\n"
	                   "at 10 move edge0 1000\n";
	cr_assert_eq(drill_parse("m", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.nsteps, 2);
	const drill_step *s = d.steps;
	cr_assert_eq(s[0].action, DRILL_MOVE);
	cr_assert_eq(s[0].node, DRILL_EDGE);
	cr_assert_eq(s[0].index, 0);
	cr_assert_eq(s[0].a, 1000);
	cr_assert_eq(s[1].index, 2);
	cr_assert_eq(s[1].a, 40);
	cr_assert_float_eq(drill_step_time(&d, &s[1], true), 6, 1e-9);
	drill_free(&d);
}

Test(drill, clock_steps_jump_a_node_and_reset_it)
{
	drill d;
	char err[256];
	const char *text = "duration 60\n"
	                   "changelog 1\nstandby 1\n"
	                   "at 10 clock edge1 jump +600s\n"
	                   "at 20 clock edge1.standby jump -600s\n"
	                   "at 25 clock central0 jump -1500ms\n"
	                   "at 30 clock edge1 reset\n"
	                   "at 40 clock central0 jump +0s\n";
	cr_assert_eq(drill_parse("c", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.nsteps, 5);
	const drill_step *s = d.steps;
	cr_assert_eq(s[0].action, DRILL_CLOCK_JUMP);
	cr_assert_eq(s[0].node, DRILL_EDGE);
	cr_assert_eq(s[0].index, 1);
	cr_assert_not(s[0].standby);
	cr_assert_eq(s[0].a, 600000);
	cr_assert_eq(s[1].action, DRILL_CLOCK_JUMP);
	cr_assert(s[1].standby);
	cr_assert_eq(s[1].a, -600000);
	cr_assert_eq(s[2].node, DRILL_CENTRAL);
	cr_assert_eq(s[2].a, -1500);
	cr_assert_eq(s[3].action, DRILL_CLOCK_RESET);
	cr_assert_eq(s[3].a, 0);
	cr_assert_eq(s[4].action, DRILL_CLOCK_JUMP);
	cr_assert_eq(s[4].a, 0);
	cr_assert_str_eq(drill_action_word(DRILL_CLOCK_JUMP), "clock");
	cr_assert_str_eq(drill_action_word(DRILL_CLOCK_RESET), "clock");
	cr_assert(drill_moves_clocks(&d));
	cr_assert_not(drill_action_on_path(DRILL_CLOCK_JUMP));
	drill_free(&d);
	cr_assert_eq(drill_parse("c", "duration 60\nat 5 kill edge0\n", &d, err, sizeof err), 0,
	             "%s", err);
	cr_assert_not(drill_moves_clocks(&d));
	drill_free(&d);
}

Test(drill, expectations_parse_each_key_once)
{
	drill d;
	char err[256];
	const char *text = "duration 60\n"
	                   "expect ready_write_p99_ms 5\n"
	                   "expect ready_write_p999_ms 12.5\n"
	                   "expect ready_read_p99_ms 2   # count reads\n"
	                   "expect ready_read_errors 0\n"
	                   "expect ready_readthroughs 0\n"
	                   "expect read_errors 3\n";
	cr_assert_eq(drill_parse("e", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.nexpects, 6);
	cr_assert_eq(d.expects[0].key, DRILL_EXPECT_READY_WRITE_P99);
	cr_assert_float_eq(d.expects[0].max, 5, 1e-9);
	cr_assert_eq(d.expects[0].line, 2);
	cr_assert_float_eq(d.expects[1].max, 12.5, 1e-9);
	cr_assert_eq(d.expects[5].key, DRILL_EXPECT_READ_ERRORS);
	cr_assert_float_eq(d.expects[5].max, 3, 1e-9);
	const drill_expect *x = drill_expect_of(&d, DRILL_EXPECT_READY_READ_P99);
	cr_assert_not_null(x);
	cr_assert_float_eq(x->max, 2, 1e-9);
	cr_assert_eq(x->line, 4);
	cr_assert_str_eq(drill_expect_name(DRILL_EXPECT_READY_READTHROUGHS), "ready_readthroughs");
	cr_assert_str_eq(drill_expect_name((drill_expect_key)99), "?");
	drill_free(&d);
	cr_assert_eq(d.nexpects, 0);

	/* None given: none held. */
	cr_assert_eq(drill_parse("e", "duration 60\n", &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.nexpects, 0);
	cr_assert_null(drill_expect_of(&d, DRILL_EXPECT_READ_ERRORS));
	drill_free(&d);
}

Test(drill, shards_give_each_central_a_shard_and_each_shard_a_contiguous_range)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("s", "duration 60\ncentrals 3\nshards 2\npartitions 10\n", &d, err,
	                         sizeof err),
	             0, "%s", err);
	cr_assert_eq(d.shards, 2);
	cr_assert_eq(drill_shard_count(&d), 2);
	/* central0 and central2 are shard 0's primary and replica. */
	cr_assert_eq(drill_shard_of_central(&d, 0), 0);
	cr_assert_eq(drill_shard_of_central(&d, 1), 1);
	cr_assert_eq(drill_shard_of_central(&d, 2), 0);
	unsigned first, last;
	drill_shard_range(&d, 0, &first, &last);
	cr_assert(first == 0 && last == 4, "shard 0: %u-%u", first, last);
	drill_shard_range(&d, 1, &first, &last);
	cr_assert(first == 5 && last == 9, "shard 1: %u-%u", first, last);
	for (unsigned p = 0; p < 10; p++)
		cr_assert_eq(drill_shard_of_partition(&d, p), p < 5 ? 0 : 1, "partition %u", p);
	drill_free(&d);

	/* Uneven: every partition in exactly one shard, in order, none empty. */
	cr_assert_eq(drill_parse("s", "duration 60\ncentrals 4\nshards 3\npartitions 7\n", &d, err,
	                         sizeof err),
	             0, "%s", err);
	unsigned next = 0;
	for (unsigned s = 0; s < 3; s++) {
		drill_shard_range(&d, s, &first, &last);
		cr_assert_eq(first, next, "shard %u starts at %u", s, first);
		cr_assert_geq(last, first, "shard %u is empty", s);
		for (unsigned p = first; p <= last; p++)
			cr_assert_eq(drill_shard_of_partition(&d, p), s, "partition %u", p);
		next = last + 1;
	}
	cr_assert_eq(next, 7, "the shards end at %u", next);
	cr_assert_eq(drill_shard_of_central(&d, 3), 0);
	drill_free(&d);

	/* As many shards as partitions: one partition each. */
	cr_assert_eq(drill_parse("s", "duration 60\ncentrals 2\nshards 2\npartitions 2\n", &d, err,
	                         sizeof err),
	             0, "%s", err);
	drill_shard_range(&d, 1, &first, &last);
	cr_assert(first == 1 && last == 1, "shard 1: %u-%u", first, last);
	drill_free(&d);
}

Test(drill, without_shards_one_shard_owns_every_partition)
{
	drill d;
	char err[256];
	cr_assert_eq(
	    drill_parse("u", "duration 60\ncentrals 2\npartitions 12\n", &d, err, sizeof err), 0,
	    "%s", err);
	cr_assert_eq(d.shards, 0);
	cr_assert_eq(drill_shard_count(&d), 1);
	cr_assert_eq(drill_shard_of_central(&d, 1), 0);
	unsigned first, last;
	drill_shard_range(&d, 0, &first, &last);
	cr_assert(first == 0 && last == 11, "%u-%u", first, last);
	cr_assert_eq(drill_shard_of_partition(&d, 11), 0);
	drill_free(&d);

	/* shards 1 is sharded (a shard map, explicit ranges) with one shard. */
	cr_assert_eq(drill_parse("u", "duration 60\ncentrals 2\nshards 1\n", &d, err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(d.shards, 1);
	drill_shard_range(&d, 0, &first, &last);
	cr_assert(first == 0 && last == 7, "%u-%u", first, last);
	cr_assert_eq(drill_shard_of_central(&d, 1), 0);
	drill_free(&d);
}

/* Inline arrays, not pointers: Criterion runs each parameter in a new
 * process, where pointers into this one mean nothing. */
typedef struct bad_case {
	char text[160];
	int line;
	char reason[64]; /* a part of the message */
} bad_case;

/* A region with its own real cluster: four lines. */
#define REAL_REGION "duration 60\nchangelog 1\nregional_kafka 1\nkafka real\n"

static bad_case bad_cases[] = {
    {"duration 60\nfrobnicate 3\n", 2, "unknown statement 'frobnicate'"},
    {"duration 60\nat 5 explode edge0\n", 2, "unknown action 'explode'"},
    {"duration 60\nregions three\n", 2, "bad number 'three'"},
    {"duration 60\nregions 3x\n", 2, "bad number '3x'"},
    {"duration 60\nusers 0x10\n", 2, "bad number '0x10'"},
    {"duration 60\nzipf 1e3\n", 2, "bad number '1e3'"},
    {"duration 60\nviral nan\n", 2, "bad number 'nan'"},
    {"duration 60\nregions -1\n", 2, "regions -1 out of range 1..8"},
    {"duration 60\n\nregions 9\n", 3, "regions 9 out of range 1..8"},
    {"duration 60\nregions 0\n", 2, "out of range"},
    {"duration 60\ncentrals 5\n", 2, "centrals 5 out of range 1..4"},
    {"duration 60\nshards 0\n", 2, "shards 0 out of range 1..4"},
    {"duration 60\ncentrals 4\nshards 5\n", 3, "shards 5 out of range 1..4"},
    {"duration 60\nshards 2\ncentrals 3\nshards 3\n", 4, "shards given twice"},
    {"duration 60\nshards 2\n", 2, "shards 2 is more than centrals 1"},
    {"shards 3\nduration 60\ncentrals 2\n", 1, "shards 3 is more than centrals 2"},
    {"duration 60\ncentrals 4\npartitions 2\nshards 3\n", 4, "shards 3 is more than partitions 2"},
    {"duration 60\nshards two\n", 2, "bad number 'two'"},
    {"duration 60\nseed 18446744073709551616\n", 2, "out of range"},
    {"duration 60\nviral 1.5\n", 2, "viral 1.5 out of range 0..1"},
    {"duration 60\nroam 1.01\n", 2, "out of range"},
    {"duration 60\nundo 2\n", 2, "undo 2 out of range 0..1"},
    {"duration 60\nreads -0.1\n", 2, "reads -0.1 out of range 0..1"},
    {"duration 60\nat 5 viral 2\n", 2, "viral share 2 out of range"},
    {"duration 60\nregions 2\nat 5 kill edge2\n", 3, "edge2 is past regions 2"},
    {"at 5 kill central1\nduration 60\n", 1, "central1 is past centrals 1"},
    {"duration 60\nskew edge3 100\n", 2, "skew edge3 is past regions 3"},
    {"duration 60\nat 61 kill edge0\n", 2, "past the duration"},
    {"at 100 kill edge0\nduration 60 short 10\n", 1, "past the duration"},
    {"duration 60\nregions 3\nregions 4\n", 3, "regions given twice (first on line 2)"},
    {"name a\nduration 60\nname b\n", 3, "name given twice"},
    {"duration 60\nduration 70\n", 2, "duration given twice"},
    {"duration 60\nskew edge1 5\nskew edge1 6\n", 3, "skew edge1 given twice"},
    {"duration 10 short 20\n", 1, "short duration 20 is longer than the full 10"},
    {"regions 3\n# no duration\n", 2, "no duration"},
    {"", 1, "no duration"},
    {"duration 60\nat 5 cut edge0 kafka sideways\n", 2, "bad direction 'sideways'"},
    {"duration 60\nat 5 cut edge0 disk\n", 2, "bad link 'disk'"},
    {"duration 60\nat 5 cut central0 central\n", 2, "link central is an edge's path"},
    {"duration 60\nat 5 cut edge0\n", 2, "missing arguments"},
    {"duration 60\nat 5 kill edge0 now\n", 2, "unexpected 'now'"},
    {"duration 60\nat 5 kill node0\n", 2, "bad node 'node0'"},
    {"duration 60\nat 5 kill edge\n", 2, "bad node 'edge'"},
    {"duration 60\nat 5 region_down central0\n", 2, "takes an edge"},
    {"duration 60\nat 5 wipe central0\n", 2, "wipe takes an edge, not 'central0'"},
    {"duration 60\nat 5 wipe edge0 now\n", 2, "unexpected 'now'"},
    {"duration 60\nat 5 wipe\n", 2, "missing arguments"},
    {"duration 60\nregions 2\nat 5 wipe edge2\n", 3, "edge2 is past regions 2"},
    {"duration 60\nexpect ready_write_p50_ms 5\n", 2, "unknown expect key 'ready_write_p50_ms'"},
    {"duration 60\nexpect read_errors\n", 2, "expect takes KEY MAX"},
    {"duration 60\nexpect read_errors 0 1\n", 2, "expect takes KEY MAX"},
    {"duration 60\nexpect read_errors -1\n", 2, "read_errors -1 out of range"},
    {"duration 60\nexpect ready_read_p99_ms 2ms\n", 2, "bad number '2ms'"},
    {"duration 60\nexpect ready_read_p99_ms 70000\n", 2, "out of range"},
    {"expect read_errors 0\nduration 60\nexpect read_errors 1\n", 3,
     "expect read_errors given twice (first on line 1)"},
    {"duration 60\nat 5 broker_down 0\n", 2, "broker id 0 out of range"},
    {"duration 60\nat 5 broker_errors 0\n", 2, "out of range"},
    {"duration 60\nat 5 delay edge0 kafka 70000\n", 2, "delay ms 70000 out of range"},
    {"duration 60\nat -1 kill edge0\n", 2, "step time -1 out of range"},
    {"duration 60\nat\n", 2, "needs a time"},
    {"duration 60\nname bad/name\n", 2, "bad name"},
    {"duration 60\nregions\n", 2, "takes one value"},
    {"duration 60\nrate 10 long 5\n", 2, "rate takes OPS"},
    {"duration 60\nskew edge1 ahead\n", 2, "bad number 'ahead'"},
    {"duration 60\nskew central0 5\n", 2, "skew takes an edge"},
    {"duration 60\nusers 1\x01\n", 2, "control character"},
    {"duration 60\r\nat 2 kill edge9\r\n", 2, "edge9 is past regions 3"},
    {"duration 60\nstandby 1\n", 2, "standby 1 needs changelog 1"},
    {"standby 1\nduration 60\nchangelog 0\n", 1, "standby 1 needs changelog 1"},
    {"duration 60\nchangelog 1\nstandby 2\n", 3, "standby 2 out of range 0..1"},
    {"duration 60\ntakeover_ms 1000\n", 2, "takeover_ms needs changelog 1"},
    {"duration 60\nchangelog 1\ntakeover_ms 10\n", 3, "takeover_ms 10 out of range"},
    {"duration 60\nchangelog 1\nexpect takeover_max_s 5\n", 3, "needs standby 1"},
    {"duration 60\nat 5 kill edge1.standby\n", 2, "edge1.standby names a standby instance"},
    {"duration 60\nchangelog 1\nstandby 1\nat 5 region_down edge1.standby\n", 4,
     "bad node 'edge1.standby' (edgeN or centralN)"},
    {"duration 60\nchangelog 1\nstandby 1\nat 5 kill central0.standby\n", 4,
     "bad node 'central0.standby'"},
    {"duration 60\nskew edge0.standby 5\n", 2, "skew edge0.standby names a standby instance"},
    {"duration 60\nchangelog 1\nstandby 1\nskew edge1.standby 5\nskew edge1.standby 6\n", 5,
     "skew edge1.standby given twice"},
    {"duration 60\nchangelog 1\nstandby 1\nskew edge4.standby 5\n", 4,
     "skew edge4 is past regions 3"},
    {"duration 60\nregional_kafka 1\n", 2, "regional_kafka 1 needs changelog 1"},
    {"regional_kafka 1\nduration 60\nchangelog 0\n", 1, "regional_kafka 1 needs changelog 1"},
    {"duration 60\nchangelog 1\nregional_kafka 2\n", 3, "regional_kafka 2 out of range 0..1"},
    {"duration 60\ndurability local\n", 2, "durability needs changelog 1"},
    {"duration 60\nchangelog 1\ndurability fsync\n", 3, "bad durability 'fsync'"},
    {"duration 60\nchangelog 1\ndurability\n", 3, "durability takes one word"},
    {"duration 60\nchangelog 1\ndurability local\ndurability local\n", 4, "durability given twice"},
    {"duration 60\nchangelog 1\nat 5 cut edge0 regional\n", 3, "needs regional_kafka 1"},
    {"duration 60\nfeed 2\n", 2, "feed 2 out of range 0..1"},
    {"duration 60\nmilestones 10,50\nfeed 0\n", 2, "milestones needs feed 1"},
    {"duration 60\nmilestones 50,10\n", 2, "milestones must ascend"},
    {"duration 60\nmilestones 10,10\n", 2, "milestones must ascend"},
    {"duration 60\nmilestones 0,10\n", 2, "milestone 0 out of range"},
    {"duration 60\nmilestones 10,x\n", 2, "bad number 'x'"},
    {"duration 60\nmilestones 10 50\n", 2, "milestones takes one list"},
    {"duration 60\nmilestones ,\n", 2, "at least one threshold"},
    {"duration 60\nmilestones 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17\n", 2,
     "more than 16 milestones"},
    {"duration 60\nmilestones 10\nmilestones 20\n", 3, "milestones given twice"},
    {"duration 60\nchangelog 1\nregional_kafka 1\nat 5 cut central0 regional\n", 4,
     "link regional is an edge's path"},
    {"duration 60\nchangelog 1\nregional_kafka 1\nnetns 0\nat 5 delay edge0 regional 1\n", 5,
     "no path"},
    {"duration 60\nclient_relay 0\nat 5 cut edge1 clients\n", 3,
     "do not cross edge1's clients relay"},
    {"duration 60\nclient_relay 0\nat 5 delay edge0 clients 10\n", 3,
     "do not cross edge0's clients relay"},
    {"duration 60\nclient_relay 2\n", 2, "client_relay 2 out of range 0..1"},
    {"duration 60\nchangelog 1\nat 5 regional_down edge0\n", 3, "needs regional_kafka 1"},
    {"duration 60\nchangelog 1\nat 5 regional_broker_down edge0 1\n", 3, "needs regional_kafka 1"},
    {"duration 60\nchangelog 1\nregional_kafka 1\nat 5 regional_broker_down edge0 4\n", 4,
     "regional broker id 4 out of range 1..3"},
    {"duration 60\nchangelog 1\nregional_kafka 1\nat 5 regional_broker_up edge0\n", 4,
     "missing arguments"},
    {"duration 60\nchangelog 1\nregional_kafka 1\nat 5 regional_down central0\n", 4,
     "takes an edge"},
    {"duration 60\nchangelog 1\nstandby 1\nregional_kafka 1\nat 5 regional_up edge0.standby\n", 5,
     "bad node 'edge0.standby'"},
    {"duration 60\nchangelog 1\nregional_kafka 1\nat 5 regional_up edge3\n", 4,
     "edge3 is past regions 3"},
    {"duration 60\nat 5 move edge1 10\n", 2, "move needs me > 0"},
    {"duration 60\nme 0.1\nregions 1\nat 5 move edge0 10\n", 4, "move needs regions 2"},
    {"duration 60\nme 0.1\nusers 5\nat 5 move edge1 10\n", 4, "more than users 5"},
    {"duration 60\nme 0.1\nat 5 move edge1 0\n", 3, "users to move 0 out of range"},
    {"duration 60\nme 0.1\nat 5 move edge1 1001\n", 3, "users to move 1001 out of range"},
    {"duration 60\nme 0.1\nat 5 move central0 2\n", 3, "move takes an edge"},
    {"duration 60\nme 0.1\nat 5 move edge1\n", 3, "missing arguments"},
    {"duration 60\nme 0.1\nat 5 move edge3 2\n", 3, "edge3 is past regions 3"},
    {"duration 60\nat 5 clock edge0 jump +601s\n", 2, "clock offset +601 out of range"},
    {"duration 60\nat 5 clock edge0 jump -600001ms\n", 2, "out of range -600000..600000"},
    {"duration 60\nat 5 clock edge0 jump 600s\n", 2, "bad clock offset '600s'"},
    {"duration 60\nat 5 clock edge0 jump +10m\n", 2, "bad clock offset '+10m'"},
    {"duration 60\nat 5 clock edge0 jump +s\n", 2, "bad number '+'"},
    {"duration 60\nat 5 clock edge0 jump\n", 2, "clock takes NODE jump OFFSET"},
    {"duration 60\nat 5 clock edge0 reset +5s\n", 2, "clock takes NODE jump OFFSET"},
    {"duration 60\nat 5 clock edge0 skip +5s\n", 2, "clock takes NODE jump OFFSET"},
    {"duration 60\nat 5 clock edge0\n", 2, "clock: missing arguments"},
    {"duration 60\nat 5 clock edge3 reset\n", 2, "edge3 is past regions 3"},
    {"duration 60\nat 5 clock edge0.standby reset\n", 2, "needs standby 1"},
    {"duration 60\nat 5 clock broker1 reset\n", 2, "bad node 'broker1'"},
    /* Broker steps that cannot run on this run's Kafka. */
    {"duration 60\nat 5 broker_pause 1\n", 2, "broker_pause needs kafka real"},
    {"duration 60\nat 5 broker_down leader\n", 2, "leader needs kafka real"},
    {"duration 60\nkafka real\nat 5 broker_rtt all 50\n", 3, "the embedded cluster's"},
    {"duration 60\nkafka real\nat 5 broker_errors 5\n", 3, "the embedded cluster's"},
    {"duration 60\nkafka real\nat 5 broker_up leader\n", 3, "takes an id or all, not leader"},
    {"duration 60\nkafka real\nat 5 broker_wipe all\n", 3, "broker_wipe takes one broker"},
    {"duration 60\nkafka real\nat 5 broker_down 2\n", 3, "broker 2 is past kafka_nodes 1"},
    {REAL_REGION "at 5 regional_broker_wipe edge0 all\n", 5,
     "regional_broker_wipe takes one broker"},
    {REAL_REGION "at 5 regional_broker_resume edge0 leader\n", 5, "not leader"},
    {"duration 60\nchangelog 1\nregional_kafka 1\nat 5 regional_broker_restart edge0 1\n", 4,
     "regional_broker_restart needs kafka real"},
    /* Cuts between a region's Kafka nodes that name no pair, or cannot
     * run here. */
    {REAL_REGION "at 5 cut kafka0.node1 kafka1.node2\n", 5, "of different clusters"},
    {REAL_REGION "at 5 cut kafka0.node2 kafka0.node2\n", 5, "not cut from itself"},
    {REAL_REGION "at 5 cut kafka0.others kafka0.node2\n", 5, "does not fit here"},
    {REAL_REGION "at 5 cut kafka0.node1 kafka0.leader\n", 5, "does not fit here"},
    {REAL_REGION "at 5 cut kafka0.node4 kafka0.node1\n", 5, "Kafka node 4 out of range"},
    {REAL_REGION "at 5 cut kafka0.broker1 kafka0.node2\n", 5, "bad Kafka node"},
    {REAL_REGION "at 5 cut kafka.node1 kafka.node2\n", 5, "bad Kafka node"},
    {REAL_REGION "at 5 cut kafka0.node1 kafka0.node2 sideways\n", 5, "bad direction"},
    {REAL_REGION "at 5 heal kafka0.node1 kafka0.node2 both\n", 5, "a heal clears both ways"},
    {REAL_REGION "at 5 cut kafka3.node1 kafka3.node2\n", 5, "kafka3 is past regions 3"},
    {REAL_REGION "regional_nodes edge0 1\nat 5 cut kafka0.node1 kafka0.others\n", 6,
     "nothing to cut it from"},
    {REAL_REGION "regional_nodes edge0 2\nat 5 cut kafka0.node3 kafka0.others\n", 6,
     "past regional_nodes 2"},
    {"duration 60\nchangelog 1\nregional_kafka 1\nat 5 cut kafka0.leader kafka0.others\n", 4,
     "needs kafka real"},
    {"duration 60\nkafka real\nat 5 cut kafka0.leader kafka0.others\n", 3,
     "needs regional_kafka 1"},
    {REAL_REGION "netns 0\nat 5 cut kafka0.leader kafka0.others\n", 6, "and netns 1"},
    {"duration 60\nchangelog 1\nregional_kafka 1\nregional_kafka_netns 1\n", 4,
     "regional_kafka_netns 1 needs kafka real"},
    /* The earliest bad line is the one reported. */
    {"duration 60\nat 70 kill edge0\nat 5 kill edge7\n", 2, "past the duration"},
};

ParameterizedTestParameters(drill, bad_input_names_its_line_and_reason)
{
	return cr_make_param_array(bad_case, bad_cases, sizeof bad_cases / sizeof bad_cases[0]);
}

ParameterizedTest(bad_case *c, drill, bad_input_names_its_line_and_reason)
{
	drill d;
	char err[256];
	char want[64];
	snprintf(want, sizeof want, "bad.drill:%d: ", c->line);
	int rc = drill_parse("bad.drill", c->text, &d, err, sizeof err);
	cr_assert_eq(rc, ERR_CONFIG, "accepted: %s", c->text);
	cr_assert_eq(strncmp(err, want, strlen(want)), 0, "want prefix '%s', got '%s'", want, err);
	cr_assert_not_null(strstr(err, c->reason), "want '%s' in '%s'", c->reason, err);
	cr_assert_null(d.steps);
	cr_assert_eq(d.nsteps, 0);
}

Test(drill, client_relay_0_leaves_the_centrals_clients_paths_to_fault)
{
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("c", "duration 60\nclient_relay 0\nat 5 cut central0 clients\n",
	                         &d, err, sizeof err),
	             0, "%s", err);
	cr_assert_eq(d.client_relay, 0);
	cr_assert_eq(d.nsteps, 1);
	drill_free(&d);
}

Test(drill, too_many_steps_is_an_error)
{
	size_t cap = 40 * (DRILL_STEPS_MAX + 2);
	char *text = xmalloc(cap);
	size_t n = (size_t)snprintf(text, cap, "duration 60\n");
	for (int i = 0; i <= DRILL_STEPS_MAX; i++)
		n += (size_t)snprintf(text + n, cap - n, "at 1 kill edge0\n");
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("many", text, &d, err, sizeof err), ERR_CONFIG);
	char want[64];
	snprintf(want, sizeof want, "many:%d: ", DRILL_STEPS_MAX + 2);
	cr_assert_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
	free(text);
}

Test(drill, long_statement_text_is_cut_to_fit)
{
	char text[512];
	char pad[200];
	memset(pad, ' ', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	/* Spaces inside a statement are kept as written, so this one is
	 * longer than the text field; the comment is not part of it. */
	snprintf(text, sizeof text, "duration 60\nat 1 kill%.*sedge0 # why\n", 150, pad);
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("x", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.nsteps, 1);
	cr_assert_eq(strlen(d.steps[0].text), sizeof d.steps[0].text - 1);
	cr_assert_eq(strncmp(d.steps[0].text, "at 1 kill   ", 12), 0);
	drill_free(&d);
}

Test(drill, name_longer_than_the_field_is_an_error)
{
	char text[256];
	char longname[DRILL_NAME_MAX + 2];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	snprintf(text, sizeof text, "duration 60\nname %s\n", longname);
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("x", text, &d, err, sizeof err), ERR_CONFIG);
	cr_assert_not_null(strstr(err, "x:2: name longer than"), "%s", err);
	longname[DRILL_NAME_MAX] = '\0';
	snprintf(text, sizeof text, "duration 60\nname %s\n", longname);
	cr_assert_eq(drill_parse("x", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(d.name, longname);
	drill_free(&d);
}

Test(drill, line_longer_than_the_limit_is_an_error)
{
	size_t cap = 4096;
	char *text = xmalloc(cap);
	memset(text, ' ', cap);
	memcpy(text, "duration 60\n", 12);
	memcpy(text + cap - 20, "regions 3\n", 11);
	drill d;
	char err[256];
	cr_assert_eq(drill_parse("x", text, &d, err, sizeof err), ERR_CONFIG);
	cr_assert_not_null(strstr(err, "x:2: line longer than"), "%s", err);
	free(text);
}

Test(drill, missing_file_is_not_found)
{
	drill d;
	char err[256];
	char path[128];
	snprintf(path, sizeof path, "%s/none.drill", tmpdir);
	cr_assert_eq(drill_parse_file(path, &d, err, sizeof err), ERR_NOTFOUND);
	cr_assert_not_null(strstr(err, "none.drill"), "%s", err);
}

Test(drill, file_parses_and_takes_its_name_from_the_path)
{
	char path[128];
	snprintf(path, sizeof path, "%s/from_file.drill", tmpdir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("duration 30 short 10\nat 3 kill edge0\nat 9 start edge0\n", f);
	cr_assert_eq(fclose(f), 0);
	drill d;
	char err[256];
	cr_assert_eq(drill_parse_file(path, &d, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(d.name, "from_file");
	cr_assert_eq(d.nsteps, 2);
	drill_free(&d);

	/* A NUL byte in a file is an error on its line, not the end. */
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fwrite("duration 30\nat 3 kill edge0\0\nat 99 kill edge0\n", 1, 45, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(drill_parse_file(path, &d, err, sizeof err), ERR_CONFIG);
	cr_assert_not_null(strstr(err, "from_file.drill:2: NUL"), "%s", err);
}

/* The next drill file of dir (opened from folder): parsed into d, its
 * path in path, checked to name itself; false after the last. */
static bool next_drill(DIR *dir, const char *folder, char *path, size_t pathn, drill *d)
{
	struct dirent *e;
	while ((e = readdir(dir))) {
		size_t len = strlen(e->d_name);
		if (len < 7 || strcmp(e->d_name + len - 6, ".drill") != 0)
			continue;
		snprintf(path, pathn, "%s/%s", folder, e->d_name);
		char err[256];
		cr_assert_eq(drill_parse_file(path, d, err, sizeof err), 0, "%s", err);
		/* The file is named for its drill. */
		cr_expect_eq(strncmp(d->name, e->d_name, len - 6), 0, "%s names %s", path, d->name);
		cr_expect_eq(strlen(d->name), len - 6, "%s names %s", path, d->name);
		return true;
	}
	return false;
}

Test(drill, every_shipped_drill_parses)
{
	DIR *dir = opendir("sim/drills");
	cr_assert_not_null(dir, "run the tests from the repository root");
	int n = 0;
	bool central2 = false, sharded = false, wiped = false, expects = false, standby = false,
	     regional = false, trimmed = false;
	double short_total = 0, real_total = 0;
	char path[512];
	drill d;
	while (next_drill(dir, "sim/drills", path, sizeof path, &d)) {
		cr_expect(d.duration_s >= 60 && d.duration_s <= 120, "%s: full %g s", path,
		          d.duration_s);
		/* standby_behind's short run is 25 s: its standby comes back
		 * after the trim and must be fit before the wipe. A drill on
		 * real Kafka needs longer: a lost node is fenced after 1.5 s,
		 * a node started takes some 10 s to join. */
		double most = d.kafka_real ? 40 : 25;
		cr_expect(d.short_duration_s >= 10 && d.short_duration_s <= most, "%s: short %g s",
		          path, d.short_duration_s);
		/* regional_leader_cut and regional_brokers_lost_fifo run in
		 * make real-drills alone (the Makefile's SHORT_DRILLS leaves
		 * them out): make test's budget is full. */
		if (!d.kafka_real)
			short_total += d.short_duration_s;
		else if (strcmp(d.name, "regional_leader_cut") != 0 &&
		         strcmp(d.name, "regional_brokers_lost_fifo") != 0)
			real_total += d.short_duration_s;
		central2 |= d.centrals == 2;
		sharded |= d.shards >= 2 && d.centrals > d.shards;
		for (size_t i = 0; i < d.nsteps; i++) {
			wiped |= d.steps[i].action == DRILL_WIPE;
			trimmed |= d.steps[i].action == DRILL_TRIM;
		}
		expects |= d.nexpects > 0;
		standby |= d.standby && drill_expect_of(&d, DRILL_EXPECT_TAKEOVER_MAX);
		regional |= d.regional_kafka && d.standby;
		drill_free(&d);
		n++;
	}
	closedir(dir);
	cr_assert_geq(n, 9, "found %d drills", n);
	cr_assert(central2, "no drill runs two central replicas");
	cr_assert(sharded, "no drill runs shards with a replica");
	cr_assert(wiped, "no drill wipes an edge");
	cr_assert(expects, "no drill holds its figures to expectations");
	cr_assert(standby, "no drill runs standbys and times their takeover");
	cr_assert(regional, "no drill runs standbys on a Kafka of their region's own");
	cr_assert(trimmed, "no drill makes a region's changelog lose its start");
	/* make test runs every short drill: 450 s of load, about twice
	 * that with starts and convergence, in its budget (geo_hearts added
	 * 10 s, standby_behind 25 s, standby_wipe_cut 15 s, standby_skew
	 * 20 s, clock_jump 20 s). */
	cr_assert_leq(short_total, 450, "short runs add up to %g s", short_total);
	/* The drills on real Kafka run short in make test too (all but
	 * central_kafka_restart, Makefile SHORT_DRILLS), each with its JVMs'
	 * start: about two minutes a drill. */
	cr_assert_leq(real_total, 140, "short runs on real Kafka add up to %g s", real_total);
}

/* sim/drills/deployed/ holds drills that judge the region shape as
 * operators run it (make deployed-drills): each names itself, runs on
 * real Kafka and says changelog, standby and the region's own cluster
 * in its file, so no default can make it a lighter product. */
Test(drill, every_deployed_drill_runs_the_deployed_shape)
{
	DIR *dir = opendir("sim/drills/deployed");
	cr_assert_not_null(dir, "run the tests from the repository root");
	int n = 0;
	char path[512];
	drill d;
	while (next_drill(dir, "sim/drills/deployed", path, sizeof path, &d)) {
		cr_expect_eq(d.kafka_real, 1u, "%s: not on real Kafka", path);
		cr_expect_eq(d.changelog, 1u, "%s: no changelog", path);
		cr_expect_eq(d.standby, 1u, "%s: no standby", path);
		cr_expect_eq(d.regional_kafka, 1u, "%s: no regional cluster", path);
		cr_expect_eq(d.regional_nodes[0], 3u, "%s: region 0's cluster not of three nodes",
		             path);
		drill_free(&d);
		n++;
	}
	closedir(dir);
	cr_assert_geq(n, 2, "found %d deployed drills", n);
}

Test(drill, a_slowed_path_of_centrals_is_a_fault_on_every_way_home_and_an_edges_is_not)
{
	drill d;
	char err[256];
	const char *text = "duration 60\n"
	                   "at 1 delay central0 kafka 210 31\n"
	                   "at 2 throttle central0 kafka 100000\n"
	                   "at 3 delay edge0 kafka 40 10\n"
	                   "at 4 delay edge1 central 40 10\n"
	                   "at 5 cut central0 kafka\n"
	                   "at 6 cut edge2 kafka\n";
	cr_assert_eq(drill_parse("scope", text, &d, err, sizeof err), 0, "%s", err);
	cr_assert_eq(d.nsteps, 6);
	cr_assert_eq(run_fault_scope(&d.steps[0]), RUN_SCOPE_ALL,
	             "central's delay holds its feed up");
	cr_assert_eq(run_fault_scope(&d.steps[1]), RUN_SCOPE_ALL);
	cr_assert_eq(run_fault_scope(&d.steps[2]), RUN_SCOPE_NONE,
	             "an edge's WAN delay is latency");
	cr_assert_eq(run_fault_scope(&d.steps[3]), RUN_SCOPE_NONE);
	cr_assert_eq(run_fault_scope(&d.steps[4]), RUN_SCOPE_ALL);
	cr_assert_eq(run_fault_scope(&d.steps[5]), 2, "an edge's cut holds up its region's");
	drill_free(&d);
}
