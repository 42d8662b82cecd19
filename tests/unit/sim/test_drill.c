/* test_drill.c - the drill file parser (sim/drill/drill.c): a full example,
 * defaults, every kind of bad input with its line, step time scaling for
 * the short run, shards and their partition ranges, wipe steps and
 * expectations, and every drill shipped in sim/drills/. */
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
                                "at 100 heal edge1 clients";

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
	cr_assert_float_eq(d.reads, 0.3, 1e-9);
	cr_assert_eq(d.snapshot_ms, 250);
	cr_assert_eq(d.batch_age_ms, 100);
	cr_assert_eq(d.converge_s, 30);
	cr_assert_eq(d.seed, UINT64_MAX);
	cr_assert_eq(d.skew_ms[0], 0);
	cr_assert_eq(d.skew_ms[1], 30000);
	cr_assert_eq(d.skew_ms[3], -2500);
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
	cr_assert_float_eq(d.reads, 0.1, 1e-9);
	cr_assert_eq(d.snapshot_ms, 500);
	cr_assert_eq(d.batch_age_ms, 500);
	cr_assert_eq(d.converge_s, 60);
	cr_assert_eq(d.seed, 1);
	cr_assert_eq(d.shards, 0, "not sharded unless asked");
	for (int i = 0; i < DRILL_REGIONS_MAX; i++)
		cr_assert_eq(d.skew_ms[i], 0);
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
	char text[96];
	int line;
	char reason[64]; /* a part of the message */
} bad_case;

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
    {"duration 60\nchangelog 1\nstandby 1\nskew edge0.standby 5\n", 4, "bad node"},
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

Test(drill, every_shipped_drill_parses)
{
	DIR *dir = opendir("sim/drills");
	cr_assert_not_null(dir, "run the tests from the repository root");
	int n = 0;
	bool central2 = false, sharded = false, wiped = false, expects = false, standby = false,
	     regional = false;
	double short_total = 0;
	struct dirent *e;
	while ((e = readdir(dir))) {
		size_t len = strlen(e->d_name);
		if (len < 7 || strcmp(e->d_name + len - 6, ".drill") != 0)
			continue;
		char path[512];
		snprintf(path, sizeof path, "sim/drills/%s", e->d_name);
		drill d;
		char err[256];
		cr_expect_eq(drill_parse_file(path, &d, err, sizeof err), 0, "%s", err);
		/* The file is named for its drill. */
		cr_expect_eq(strncmp(d.name, e->d_name, len - 6), 0, "%s names %s", path, d.name);
		cr_expect_eq(strlen(d.name), len - 6, "%s names %s", path, d.name);
		cr_expect(d.duration_s >= 60 && d.duration_s <= 120, "%s: full %g s", path,
		          d.duration_s);
		cr_expect(d.short_duration_s >= 10 && d.short_duration_s <= 20, "%s: short %g s",
		          path, d.short_duration_s);
		short_total += d.short_duration_s;
		central2 |= d.centrals == 2;
		sharded |= d.shards >= 2 && d.centrals > d.shards;
		for (size_t i = 0; i < d.nsteps; i++)
			wiped |= d.steps[i].action == DRILL_WIPE;
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
	/* make test runs every short drill: 370 s of load, about twice
	 * that with starts and convergence, in its budget (geo_hearts added
	 * 10 s). */
	cr_assert_leq(short_total, 370, "short runs add up to %g s", short_total);
}

Test(drill, procs_every_turns_process_readings_on)
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

Test(drill, a_new_duration_keeps_each_step_at_its_place_in_the_run)
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

Test(drill, the_soak_drill_parses_and_samples_its_daemons)
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
	drill_free(&d);
}

Test(drill, latency_every_cuts_the_run_and_the_interval_keys_need_it)
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

Test(drill, the_broker_is_idle_unless_a_drill_says_otherwise)
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

Test(drill, consumers_fetch_every_10_ms_unless_a_drill_says_otherwise)
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

Test(drill, netns_0_runs_without_relays_and_refuses_path_faults)
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

Test(drill, changelog_parses_as_written_and_is_off_until_the_run_settles_the_shape)
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

Test(drill, a_full_run_deploys_each_region_whole_unless_the_drill_says_otherwise)
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

Test(drill, standby_runs_a_second_instance_per_region_and_steps_may_name_it)
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
	static const struct {
		drill_action a;
		int index;
		bool standby;
	} want[] = {{DRILL_WIPE, 1, false},  {DRILL_KILL, 1, true}, {DRILL_STOP, 2, false},
	            {DRILL_CONT, 2, false},  {DRILL_CUT, 0, true},  {DRILL_HEAL, 0, false},
	            {DRILL_START, 1, false}, {DRILL_WIPE, 2, true}};
	for (size_t i = 0; i < d.nsteps; i++) {
		cr_assert_eq(d.steps[i].action, want[i].a, "step %zu", i);
		cr_assert_eq(d.steps[i].node, DRILL_EDGE, "step %zu", i);
		cr_assert_eq(d.steps[i].index, want[i].index, "step %zu", i);
		cr_assert_eq(d.steps[i].standby, want[i].standby, "step %zu", i);
	}
	cr_assert_eq(d.steps[4].link, DRILL_LINK_KAFKA);
	cr_assert_str_eq(d.steps[1].text, "at 11 kill edge1.standby");
	drill_free(&d);
}

Test(drill, regional_kafka_gives_each_region_its_own_cluster_and_its_faults)
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
	static const struct {
		drill_action a;
		int index;
		bool standby;
		int64_t a1;
	} want[] = {{DRILL_CUT, 1, false, 0},
	            {DRILL_DELAY, 2, true, 1},
	            {DRILL_HEAL, 1, false, 0},
	            {DRILL_REGIONAL_BROKER_DOWN, 1, false, 2},
	            {DRILL_REGIONAL_BROKER_UP, 1, false, 2},
	            {DRILL_REGIONAL_DOWN, 0, false, 0},
	            {DRILL_REGIONAL_UP, 0, false, 0}};
	for (size_t i = 0; i < d.nsteps; i++) {
		cr_assert_eq(d.steps[i].action, want[i].a, "step %zu", i);
		cr_assert_eq(d.steps[i].node, DRILL_EDGE, "step %zu", i);
		cr_assert_eq(d.steps[i].index, want[i].index, "step %zu", i);
		cr_assert_eq(d.steps[i].standby, want[i].standby, "step %zu", i);
		cr_assert_eq(d.steps[i].a, want[i].a1, "step %zu", i);
	}
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

Test(drill, store_cache_mb_sizes_every_daemons_block_cache)
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

Test(drill, the_feed_is_on_with_low_milestones_unless_a_drill_says_otherwise)
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

Test(drill, heart_reads_are_off_unless_a_drill_asks_for_a_share_of_them)
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
