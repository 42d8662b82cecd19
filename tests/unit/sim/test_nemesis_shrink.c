/* test_nemesis_shrink.c - the candidates a failing schedule is shrunk
 * through (sim/drill/nemesis_shrink.c) and the fault pairing they rest
 * on (nemesis_faults, nemesis_cover.c): each drop takes one fault with
 * its heal and its settling start and nothing else, each shortening
 * halves one fault and moves its settling start with it, the run is cut
 * after its last step, every candidate parses, and the same text gives
 * the same candidates; a try counts as failing from its report.json's
 * numbers, never from a step it could not carry out alone, and fails the
 * same way as another when their violations share a kind (numbers and
 * items written out). No daemon runs. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/drill/drill.h"
#include "sim/drill/nemesis.h"
#include "sim/drill/nemesis_run.h"
#include "tests/support/testdir.h"

TestSuite(nemesis_shrink, .timeout = 60);

/* A takeover (stop, cont, and the fenced instance started again), a
 * broker down while it runs, and a cut: three faults, seven steps. */
static const char *hand = "name shrinkme\n"
                          "regions 3\n"
                          "duration 180\n"
                          "changelog 1\n"
                          "standby 1\n"
                          "regional_kafka 1\n"
                          "at 20 stop edge0\n"
                          "at 22 regional_broker_down edge1 1\n"
                          "at 36 cont edge0\n"
                          "at 40 regional_broker_up edge1 1\n"
                          "at 48 start edge0\n"
                          "at 60 cut edge2 kafka both\n"
                          "at 75 heal edge2 kafka\n";

/* A step's statement without its "at T " (the step's text has it). */
static const char *what_of(const drill_step *s)
{
	const char *p = s->text;
	if (strncmp(p, "at ", 3) == 0 && (p = strchr(p + 3, ' ')) != NULL)
		return p + 1;
	return s->text;
}

static void parse(const char *text, drill *d)
{
	char err[512];
	cr_assert_eq(drill_parse("shrink", text, d, err, sizeof err), 0, "%s\n%s", err, text);
}

/* Candidate i of text, which must apply. */
static char *candidate(const char *text, size_t i)
{
	char *out = NULL, what[300];
	int rc = nemesis_shrink_candidate(text, i, &out, what, sizeof what);
	cr_assert_eq(rc, 1, "candidate %zu: rc %d (%s)", i, rc, what);
	cr_assert_not_null(out);
	return out;
}

static size_t faults_of(const char *text, size_t *steps)
{
	drill d;
	parse(text, &d);
	nemesis_fault f[DRILL_STEPS_MAX];
	size_t n = nemesis_faults(&d, f, DRILL_STEPS_MAX);
	*steps = d.nsteps;
	drill_free(&d);
	return n;
}

/* The time of the step whose text is step, or -1. */
static double time_of(const char *text, const char *step)
{
	drill d;
	parse(text, &d);
	double at = -1;
	for (size_t i = 0; i < d.nsteps; i++)
		if (strcmp(what_of(&d.steps[i]), step) == 0)
			at = d.steps[i].at_s;
	drill_free(&d);
	return at;
}

Test(nemesis_shrink, a_fenced_instance_started_again_settles_the_takeover_before_it)
{
	drill d;
	parse(hand, &d);
	nemesis_fault f[8];
	size_t n = nemesis_faults(&d, f, 8);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(what_of(&d.steps[f[0].open]), "stop edge0");
	cr_assert_str_eq(what_of(&d.steps[f[0].heal]), "cont edge0");
	cr_assert_geq(f[0].settle, 0);
	cr_assert_str_eq(what_of(&d.steps[f[0].settle]), "start edge0");
	cr_assert_str_eq(what_of(&d.steps[f[1].heal]), "regional_broker_up edge1 1");
	cr_assert_eq(f[1].settle, -1);
	cr_assert_str_eq(what_of(&d.steps[f[2].heal]), "heal edge2 kafka");
	cr_assert_eq(f[2].settle, -1);
	drill_free(&d);
}

Test(nemesis_shrink, candidate_zero_cuts_the_run_after_its_last_step)
{
	char *c = candidate(hand, 0);
	drill d;
	parse(c, &d);
	/* The last step at 75 s and a tail of a tenth (18 s): 93 s. */
	cr_assert_float_eq(d.duration_s, 93.0, 1e-9);
	cr_assert_eq(d.nsteps, 7);
	cr_assert(strncmp(c, "# shrink: the run cut from 180 s to 93 s\n", 41) == 0, "%s", c);
	drill_free(&d);
	free(c);
}

Test(nemesis_shrink, each_drop_takes_one_fault_with_its_heal_and_its_settling)
{
	size_t steps0, f0 = faults_of(hand, &steps0);
	static const size_t gone[] = {3, 2, 2}; /* the takeover has its start too */
	for (size_t i = 1; i <= f0; i++) {
		char *c = candidate(hand, i);
		size_t steps, f = faults_of(c, &steps);
		cr_assert_eq(f, f0 - 1, "candidate %zu", i);
		cr_assert_eq(steps, steps0 - gone[i - 1], "candidate %zu:\n%s", i, c);
		free(c);
	}
	char *c = candidate(hand, 1);
	cr_assert_eq(time_of(c, "start edge0"), -1, "an orphan start is left:\n%s", c);
	cr_assert_eq(time_of(c, "cont edge0"), -1);
	cr_assert_float_eq(time_of(c, "regional_broker_down edge1 1"), 22.0, 1e-9);
	free(c);
}

Test(nemesis_shrink, a_shortened_fault_keeps_its_start_and_moves_its_settling_as_much)
{
	/* The stop: 16 s in force, halved to 8; its start 8 s earlier. */
	char *c = candidate(hand, 4);
	cr_assert_float_eq(time_of(c, "stop edge0"), 20.0, 1e-9);
	cr_assert_float_eq(time_of(c, "cont edge0"), 28.0, 1e-9);
	cr_assert_float_eq(time_of(c, "start edge0"), 40.0, 1e-9);
	free(c);
	/* The cut: 15 s, halved to 7.5. */
	c = candidate(hand, 6);
	cr_assert_float_eq(time_of(c, "heal edge2 kafka"), 67.5, 1e-9);
	free(c);
}

Test(nemesis_shrink, a_fault_is_not_shortened_under_five_seconds)
{
	const char *t = "name short\nduration 60\nat 20 cut edge0 kafka both\n"
	                "at 25 heal edge0 kafka\n";
	char *out = NULL, what[300];
	cr_assert_eq(nemesis_shrink_candidate(t, 2, &out, what, sizeof what), 0);
	cr_assert_null(out);
	cr_assert_eq(nemesis_shrink_candidate(t, 0, &out, what, sizeof what), 0,
	             "a 60 s run is not cut");
	cr_assert_eq(nemesis_shrink_candidate(t, 3, &out, what, sizeof what), -1);
}

Test(nemesis_shrink, every_candidate_of_a_drawn_seed_parses_and_is_the_same_twice)
{
	nemesis_opts o;
	nemesis_opts_default(&o);
	o.duration_s = 90;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		o.seed = seed;
		char err[256], *text = NULL;
		cr_assert_eq(nemesis_draw(&o, &text, err, sizeof err), 0, "%s", err);
		size_t steps0, f0 = faults_of(text, &steps0);
		size_t offered = 0;
		for (size_t i = 0;; i++) {
			char *a = NULL, *b = NULL, what[300];
			int rc = nemesis_shrink_candidate(text, i, &a, what, sizeof what);
			cr_assert_neq(rc, -2, "seed %llu: %s", (unsigned long long)seed, what);
			if (rc == -1)
				break;
			cr_assert_eq(nemesis_shrink_candidate(text, i, &b, what, sizeof what), rc);
			if (rc == 0)
				continue;
			cr_assert_str_eq(a, b);
			size_t steps, f = faults_of(a, &steps);
			cr_assert_leq(f, f0);
			cr_assert_leq(steps, steps0);
			offered++;
			free(a);
			free(b);
		}
		cr_assert_geq(offered, f0, "seed %llu: every fault can at least be dropped",
		              (unsigned long long)seed);
		free(text);
	}
}

Test(nemesis_shrink, dropping_the_first_fault_again_and_again_ends_with_none)
{
	char *t = strdup(hand);
	size_t steps, f = faults_of(t, &steps);
	while (f > 0) {
		char *c = candidate(t, 1);
		size_t nf = faults_of(c, &steps);
		cr_assert_eq(nf, f - 1);
		free(t);
		t = c;
		f = nf;
	}
	cr_assert_eq(steps, 0, "%s", t);
	free(t);
}

Test(nemesis_shrink, a_dropped_fault_takes_its_comment_from_a_drawn_file)
{
	nemesis_opts o;
	nemesis_opts_default(&o);
	o.duration_s = 90;
	o.seed = 42;
	char err[256], *text = NULL;
	cr_assert_eq(nemesis_draw(&o, &text, err, sizeof err), 0, "%s", err);
	cr_assert_not_null(strstr(text, "# fault 1: "));
	char *c = candidate(text, 1);
	cr_assert_null(strstr(c, "# fault 1: "), "%s", c);
	cr_assert_not_null(strstr(c, "# fault 2: "), "%s", c);
	free(c);
	free(text);
}

Test(nemesis_shrink, a_file_the_parser_refuses_is_said_so)
{
	char *out = NULL, what[300];
	cr_assert_eq(nemesis_shrink_candidate("bogus words\n", 0, &out, what, sizeof what), -2);
	cr_assert_null(out);
	cr_assert_neq(what[0], '\0');
}

/* report.json with pass, violations_total and steps_failed (steps < 0:
 * no such number, as a report from before it) in dir: the path. */
static const char *report_of(const char *dir, bool pass, int total, int steps)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/report.json", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "{\"drill\":\"x\",\"pass\":%s,\"numbers\":{\"ops_acked\":10",
	        pass ? "true" : "false");
	if (steps >= 0)
		fprintf(f, ",\"steps_failed\":%d", steps);
	fprintf(f, "},\"violations\":[],\"violations_total\":%d}\n", total);
	cr_assert_eq(fclose(f), 0);
	return path;
}

Test(nemesis_shrink, a_try_fails_by_the_checks_counted_in_its_report_not_by_a_step_alone)
{
	char dir[64];
	testdir_make(dir, sizeof dir, "nemesis-report");
	cr_assert_not(nemesis_report_failed(report_of(dir, true, 0, 0)), "passed");
	cr_assert_not(nemesis_report_failed(report_of(dir, false, 1, 1)), "a step alone");
	cr_assert(nemesis_report_failed(report_of(dir, false, 2, 1)), "a step and a check");
	cr_assert(nemesis_report_failed(report_of(dir, false, 1, 0)), "a check");
	cr_assert_not(nemesis_report_failed(report_of(dir, false, 3, -1)),
	              "a report without steps_failed is not read as failing");
	char missing[128];
	snprintf(missing, sizeof missing, "%s/none/report.json", dir);
	cr_assert_not(nemesis_report_failed(missing));
	testdir_remove(dir);
}

/* report.json failing with the given violations: the path. */
static const char *report_with(const char *dir, const char *const *v, size_t n)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/report.json", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "{\"drill\":\"x\",\"pass\":false,\"numbers\":{\"steps_failed\":0},"
	           "\"violations\":[");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\"%s\"", i ? "," : "", v[i]);
	fprintf(f, "],\"violations_total\":%zu}\n", n);
	cr_assert_eq(fclose(f), 0);
	return path;
}

Test(nemesis_shrink, a_failures_kinds_are_its_violations_with_numbers_and_items_written_out)
{
	char dir[64];
	testdir_make(dir, sizeof dir, "nemesis-kinds");
	const char *v[] = {
	    "post:i123 likes at central0: expected 5, seen 4",
	    "post:viral likes at central0: expected 1,108, seen 1,107",
	    "post:i8 likes at edge1.standby: expected 12, seen 11",
	    "a drill step could not be carried out (see the log)",
	    "edge0 instance 0 still running 10.5 s after edge0 instance 1 took over",
	};
	char kinds[NEMESIS_KINDS_MAX][NEMESIS_KIND_BYTES];
	size_t n = nemesis_report_kinds(report_with(dir, v, 5), kinds, NEMESIS_KINDS_MAX);
	cr_assert_eq(n, 3, "the two central ones are one kind; the step's is left out");
	cr_assert_str_eq(kinds[0], "ITEM likes at centralN: expected N, seen N");
	cr_assert_str_eq(kinds[1], "ITEM likes at edgeN.standby: expected N, seen N");
	cr_assert_str_eq(kinds[2],
	                 "edgeN instance N still running N s after edgeN instance N took over");
	/* At most max; none from a report that cannot be read. */
	cr_assert_eq(nemesis_report_kinds(report_with(dir, v, 5), kinds, 1), 1);
	char missing[128];
	snprintf(missing, sizeof missing, "%s/none/report.json", dir);
	cr_assert_eq(nemesis_report_kinds(missing, kinds, NEMESIS_KINDS_MAX), 0);
	testdir_remove(dir);
}
