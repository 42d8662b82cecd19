/* test_logfmt.c - the strict logfmt reader of tests/support/logfmt.h: the lines
 * it must take, the ones it must refuse, and values decoded back. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "log.h"
#include "tests/support/logfmt.h"

#define TS "ts=2026-11-21T06:00:00.123Z "

static int check(const char *line, bool journal)
{
	char why[256];
	return logfmt_check_line(line, strlen(line), journal, why, sizeof why);
}

/* Criterion hands parameters to the test's own process by copying their
 * bytes, so a case holds its text, not a pointer. */
typedef struct line_case {
	char line[160];
} line_case;

ParameterizedTestParameters(logfmt, takes_good_lines)
{
	static line_case good[] = {
	    {TS "level=info msg=\"started\""},
	    {TS "level=error component=edge/mumbai msg=\"x\" a=1"},
	    {TS "level=warn msg=\"\" key=central.id value=c1 path=/tmp/a-b_c.d"},
	    {TS "level=debug msg=\"q\\\"b\\\\n\\n\\r\\t\" err=\"a b=c\""},
	    {TS "level=info msg=\"ctl \\u0001 \\u001f \\u007f\" x=\"\""},
	    {TS "level=info msg=\"utf-8 \xc3\xa9\" v=\xc3\xa9t\xc3\xa9"},
	    {TS "level=info msg=\"m\" old=5% new=-3.5e+10 p=0x7ffd"},
	};
	return cr_make_param_array(line_case, good, sizeof good / sizeof good[0]);
}

ParameterizedTest(line_case *c, logfmt, takes_good_lines)
{
	char why[256] = "";
	cr_assert_eq(logfmt_check_line(c->line, strlen(c->line), false, why, sizeof why), 0,
	             "%s: %s", why, c->line);
}

ParameterizedTestParameters(logfmt, refuses_bad_lines)
{
	static line_case bad[] = {
	    {""},
	    {"level=info ts=2026-11-21T06:00:00.123Z msg=\"order\""},
	    {"ts=2026-11-21 06:00:00 level=info msg=\"space in ts\""},
	    {"ts=2026-11-21T06:00:00Z level=info msg=\"no millis\""},
	    {TS "level=notice msg=\"level\""},
	    {TS "level=info"},
	    {TS "level=info msg=bare"},
	    {TS "level=info a=1 msg=\"late\""},
	    {TS "level=info msg=\"m\" reason=\"undecodable err=\"corrupt data\"\""},
	    {TS "level=info msg=\"m\" a="},
	    {TS "level=info msg=\"m\" a=b c"},
	    {TS "level=info msg=\"m\"  a=1"},
	    {TS "level=info msg=\"m\" a=1 "},
	    {TS "level=info msg=\"m\" a=b=c"},
	    {TS "level=info msg=\"m\" a=b\"c"},
	    {TS "level=info msg=\"m\" a=b\\c"},
	    {TS "level=info msg=\"m\" a=\"unterminated"},
	    {TS "level=info msg=\"m\" a=\"x\"b"},
	    {TS "level=info msg=\"m\" a=\"bad \\x01 escape\""},
	    {TS "level=info msg=\"m\" a=\"bad \\q escape\""},
	    {TS "level=info msg=\"m\" a=\"newline as \\u000a\""},
	    {TS "level=info msg=\"m\" a=\"upper \\u001F\""},
	    {TS "level=info msg=\"m\" a=\"raw\ttab\""},
	    {TS "level=info msg=\"m\" a=\"raw\x7f"
	        " del\""},
	    {TS "level=info msg=\"m\" k:x=1"},
	    {TS "level=info msg=\"m\" =1"},
	    {TS "level=info msg=\"m\" \"k\"=1"},
	    {"%4|1795422142.978|CONFWARN|rdkafka#producer-1| [thrd:app]: Configuration"},
	};
	return cr_make_param_array(line_case, bad, sizeof bad / sizeof bad[0]);
}

ParameterizedTest(line_case *c, logfmt, refuses_bad_lines)
{
	char why[256] = "";
	cr_assert_neq(logfmt_check_line(c->line, strlen(c->line), false, why, sizeof why), 0,
	              "taken: %s", c->line);
	cr_assert_neq(why[0], 0, "no reason given for %s", c->line);
}

Test(logfmt, journal_prefix_must_match_the_level)
{
	cr_assert_eq(check("<4>" TS "level=warn msg=\"w\"", true), 0);
	cr_assert_eq(check("<3>" TS "level=error msg=\"e\"", true), 0);
	cr_assert_eq(check("<6>" TS "level=info msg=\"i\"", true), 0);
	cr_assert_eq(check("<7>" TS "level=debug msg=\"d\"", true), 0);
	cr_assert_neq(check("<6>" TS "level=warn msg=\"w\"", true), 0);
	cr_assert_neq(check(TS "level=warn msg=\"w\"", true), 0, "the prefix is missing");
	cr_assert_neq(check("<4>" TS "level=warn msg=\"w\"", false), 0, "a prefix in a file");
}

Test(logfmt, values_decode_to_what_was_meant)
{
	const char *line = TS "level=info msg=\"say \\\"hi\\\"\" p=a\\b\\n "
	                      "e=\"c:\\\\dir\\ttab\\u0001\\u007f\" n=\"\"";
	logfmt_field f[8];
	size_t n;
	char why[128], out[64];
	/* a\b is not bare: split refuses it */
	cr_assert_neq(logfmt_split(line, strlen(line), f, 8, &n, why, sizeof why), 0);
	line = TS "level=info msg=\"say \\\"hi\\\"\" p=plain "
	          "e=\"c:\\\\dir\\ttab\\u0001\\u007f\" n=\"\"";
	cr_assert_eq(logfmt_split(line, strlen(line), f, 8, &n, why, sizeof why), 0, "%s", why);
	cr_assert_eq(n, 6);
	cr_assert(logfmt_is(&f[2], "msg"));
	logfmt_decode(&f[2], out, sizeof out);
	cr_assert_str_eq(out, "say \"hi\"");
	logfmt_decode(&f[3], out, sizeof out);
	cr_assert_str_eq(out, "plain");
	cr_assert_eq(logfmt_decode(&f[4], out, sizeof out), 12);
	cr_assert_str_eq(out, "c:\\dir\ttab\x01\x7f");
	cr_assert_eq(logfmt_decode(&f[5], out, sizeof out), 0);
}

/* The capture counts the lines with one msg, at the level asked and more
 * severe, and puts the threshold back. */
Test(logfmt, a_capture_counts_the_lines_of_one_message)
{
	int before = log_threshold;
	logfmt_capture cap;
	logfmt_capture_start(&cap, LOG_WARN);
	log_warn("disk slow", "n=%d", 1);
	log_error("disk slow", "n=%d", 2);
	log_warn("disk slow, again", "n=%d", 3);
	log_info("disk slow", "n=%d", 4); /* below the level: not written */
	cr_assert_eq(logfmt_capture_end(&cap, "disk slow"), 2);
	cr_assert_eq(log_threshold, before);
}
