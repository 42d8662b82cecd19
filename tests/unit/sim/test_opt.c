/* test_opt.c - the option tables of sim's commands (sim/opt.c): values
 * stored by kind (numbers in bounds and scaled into 4- and 8-byte
 * fields, strings, flags, a callback), the exit statuses the commands
 * return (2 after a usage error, reported with the usage text on stderr;
 * 0 after --help, the text on stdout), and the arguments after the
 * options, allowed or refused.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sim/opt.h"

static int usage_out, usage_err;

/* Counts where the usage text went instead of printing it. */
static void count_usage(FILE *f)
{
	if (f == stdout)
		usage_out++;
	else
		usage_err++;
}

/* Every test's: usage counted, and the error lines kept from the log
 * (one test reads them). */
static void setup(void)
{
	usage_out = usage_err = 0;
	opt_set_usage(count_usage);
	cr_redirect_stderr();
}

TestSuite(opt, .init = setup, .timeout = 10);

typedef struct fields {
	unsigned n32;
	uint64_t n64;
	const char *s;
	bool flag;
	char called[16];
} fields;

/* An OPTK_CALL that keeps its value, and refuses "no". */
static int keep(void *dst, const char *arg)
{
	if (strcmp(arg, "no") == 0)
		return opt_usage_error("bad --call", arg);
	snprintf(dst, 16, "%s", arg);
	return 0;
}

/* Parses argv (NULL-terminated, argv[0] the command) into f. */
static int parse(fields *f, bool args, char **argv)
{
	int argc = 0;
	while (argv[argc])
		argc++;
	const opt_spec opts[] = {
	    OPT_NUM("n32", 1, 100, f->n32, 0),
	    OPT_NUM("secs", 1, 60, f->n64, 1000),
	    OPT_STR("s", f->s),
	    OPT_FLAG("flag", f->flag),
	    OPT_CALL("call", keep, f->called),
	    OPT_LOG,
	    OPT_HELP,
	};
	return opt_parse(argc, argv, opts, OPT_COUNT(opts), args);
}

Test(opt, each_kind_stores_its_value)
{
	fields f = {0};
	char *argv[] = {"cmd",    "--n32",  "100", "--secs=2",    "--s",  "x",
	                "--flag", "--call", "yes", "--log-level", "warn", NULL};
	cr_assert_eq(parse(&f, false, argv), -1);
	cr_assert_eq(f.n32, 100);
	cr_assert_eq(f.n64, 2000, "scaled by 1000");
	cr_assert_str_eq(f.s, "x");
	cr_assert(f.flag);
	cr_assert_str_eq(f.called, "yes");
	cr_assert_eq(usage_out + usage_err, 0);
}

Test(opt, a_number_out_of_bounds_or_not_whole_is_a_usage_error)
{
	static const char *const bad[] = {"0", "101", "-1", "+5", "5x", "", "99999999999999999999"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		fields f = {0};
		char *argv[] = {"cmd", "--n32", (char *)bad[i], NULL};
		cr_assert_eq(parse(&f, false, argv), 2, "%s", bad[i]);
		cr_assert_eq(f.n32, 0, "%s stored", bad[i]);
	}
	cr_assert_eq(usage_err, (int)(sizeof bad / sizeof bad[0]));
	cr_assert_eq(usage_out, 0);
}

Test(opt, a_usage_error_says_what_and_where)
{
	fields f = {0};
	char *argv[] = {"cmd", "--secs", "61", NULL};
	cr_assert_eq(parse(&f, false, argv), 2);
	fflush(stderr);
	cr_assert_stderr_eq_str("sim: bad --secs: 61\n");
	cr_assert_eq(usage_err, 1);
}

Test(opt, unknown_options_missing_values_and_refused_calls_exit_2)
{
	char *unknown[] = {"cmd", "--nope", NULL};
	char *missing[] = {"cmd", "--s", NULL};
	char *refused[] = {"cmd", "--call", "no", NULL};
	char *level[] = {"cmd", "--log-level", "loud", NULL};
	char **cases[] = {unknown, missing, refused, level};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fields f = {0};
		cr_assert_eq(parse(&f, false, cases[i]), 2, "%s", cases[i][1]);
	}
	cr_assert_eq(usage_err, 4);
}

Test(opt, help_prints_the_usage_on_stdout_and_exits_0)
{
	fields f = {0};
	char *argv[] = {"cmd", "--flag", "--help", "--nope", NULL};
	cr_assert_eq(parse(&f, false, argv), 0);
	cr_assert_eq(usage_out, 1);
	cr_assert_eq(usage_err, 0, "parsing stops at --help");
}

Test(opt, arguments_after_the_options_only_where_the_command_takes_them)
{
	fields f = {0};
	char *with[] = {"cmd", "--flag", "file", NULL};
	cr_assert_eq(parse(&f, true, with), -1);
	cr_assert_eq(optind, 2);
	char *without[] = {"cmd", "--flag", "file", NULL};
	cr_assert_eq(parse(&f, false, without), 2);
}

Test(opt, parse_u64_takes_whole_decimals_in_bounds)
{
	uint64_t n = 7;
	cr_assert_eq(opt_parse_u64("18446744073709551615", 0, UINT64_MAX, &n), 0);
	cr_assert_eq(n, UINT64_MAX);
	cr_assert_neq(opt_parse_u64("18446744073709551616", 0, UINT64_MAX, &n), 0);
	cr_assert_neq(opt_parse_u64(" 1", 0, 10, &n), 0);
	cr_assert_neq(opt_parse_u64("11", 0, 10, &n), 0);
	cr_assert_eq(n, UINT64_MAX, "untouched on error");
}
