/* test_log.c - log_every: one line per interval for a repeated failure;
 * log_emit: strict logfmt whatever the values hold (checked with
 * tests/support/logfmt.h), conversions as printf formats them, long lines cut
 * cleanly, librdkafka's lines through it, and the journal's priority
 * prefix. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "clock.h"
#include "log.h"
#include "tests/support/logfmt.h"
#include "tests/support/proc.h"
#include "tests/support/testdir.h"

Test(log, every_says_yes_once_per_interval_and_counts_the_rest)
{
	log_limit l = {0};
	uint64_t skipped = 99;
	cr_assert(log_every(&l, 200, &skipped), "the first call logs");
	cr_assert_eq(skipped, 0);
	for (int i = 0; i < 5; i++)
		cr_assert_not(log_every(&l, 200, &skipped), "inside the interval");
	uint64_t end = clock_mono_ms() + 2000;
	while (!log_every(&l, 200, &skipped))
		cr_assert_lt(clock_mono_ms(), end, "the interval never ended");
	cr_assert_geq(skipped, 5, "the calls said no to are counted");
	cr_assert_not(log_every(&l, 200, &skipped));
}

/* --- log_emit writes valid logfmt whatever the values hold ----------------- */

static char dir[256];
static char path[512];

static void to_file(void)
{
	char err[256];
	testdir_make(dir, sizeof dir, "likes-log");
	snprintf(path, sizeof path, "%s/test.log", dir);
	cr_assert_eq(log_set_file(path, err, sizeof err), 0, "%s", err);
	log_set_component("");
}

static void remove_dir(void)
{
	testdir_remove(dir);
}

TestSuite(emit, .init = to_file, .fini = remove_dir, .timeout = 30);

/* The last line of the log (without its newline) into line; checks that
 * the file ends in a newline and that every line in it is strict. */
static void last_line(char *line, size_t cap)
{
	char report[2048];
	long bad = logfmt_check_file(path, false, report, sizeof report);
	cr_assert_eq(bad, 0, "invalid lines:\n%s", report);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	static char buf[4 * LOG_LINE_MAX];
	if (fseek(f, -(long)(sizeof buf - 1), SEEK_END) != 0)
		rewind(f); /* shorter than buf */
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	cr_assert_gt(n, 0, "nothing logged");
	cr_assert_eq(buf[n - 1], '\n');
	buf[n - 1] = 0;
	char *start = strrchr(buf, '\n');
	start = start ? start + 1 : buf;
	cr_assert_lt(strlen(start), cap);
	snprintf(line, cap, "%s", start);
}

/* The first field named key of line, split into f (64 fields); a
 * failed assertion when there is none. */
static const logfmt_field *find_field(const char *line, const char *key, logfmt_field *f)
{
	size_t n;
	char why[256];
	cr_assert_eq(logfmt_split(line, strlen(line), f, 64, &n, why, sizeof why), 0, "%s", why);
	for (size_t i = 0; i < n; i++)
		if (logfmt_is(&f[i], key))
			return &f[i];
	cr_assert_fail("no %s in %s", key, line);
	return NULL;
}

/* What comes after msg="...": the fields of the call. */
static const char *fields_of(const char *line)
{
	cr_assert_not_null(strstr(line, " msg=\""), "%s", line);
	logfmt_field f[64];
	const logfmt_field *m = find_field(line, "msg", f);
	return m->val + m->vlen;
}

/* The decoded value of the first field named key in line; its length. */
static size_t field(const char *line, const char *key, char *out, size_t cap)
{
	logfmt_field f[64];
	return logfmt_decode(find_field(line, key, f), out, cap);
}

static const char *const hostile[] = {
    "",
    "plain",
    "two words",
    "undecodable err=\"corrupt data\"",
    "back\\slash",
    "trailing\\",
    "\"",
    "a=b",
    "line\nbreak\r\n",
    "tab\there",
    "ctl\x01\x02\x1b[31m\x7f",
    " leading and trailing ",
    "\xc3\xa9t\xc3\xa9 in utf-8",
};

Test(emit, hostile_values_in_quotes_come_back_whole)
{
	char line[LOG_LINE_MAX + 1], got[512];
	for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		log_info("quoted", "n=%zu reason=\"%s\" after=1", i, hostile[i]);
		last_line(line, sizeof line);
		field(line, "reason", got, sizeof got);
		cr_assert_str_eq(got, hostile[i], "value %zu in %s", i, line);
		field(line, "after", got, sizeof got);
		cr_assert_str_eq(got, "1", "%s", line);
	}
}

Test(emit, hostile_bare_values_are_quoted_only_when_they_must_be)
{
	char line[LOG_LINE_MAX + 1], got[512];
	for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		log_info("bare", "n=%zu peer=%s after=1", i, hostile[i]);
		last_line(line, sizeof line);
		field(line, "peer", got, sizeof got);
		cr_assert_str_eq(got, hostile[i], "value %zu in %s", i, line);
	}
	log_info("bare", "peer=%s", "10.0.0.1:443");
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line), " peer=10.0.0.1:443");
	log_info("bare", "peer=%s", "");
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line), " peer=\"\"");
	log_info("bare", "reason=%s", "undecodable err=\"corrupt data\"");
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line), " reason=\"undecodable err=\\\"corrupt data\\\"\"");
}

Test(emit, escapes_are_the_json_ones)
{
	char line[LOG_LINE_MAX + 1];
	log_info("esc", "v=\"%s\"", "q\" b\\ n\n r\r t\t x\x01 y\x1f z\x7f");
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line),
	                 " v=\"q\\\" b\\\\ n\\n r\\r t\\t x\\u0001 y\\u001f z\\u007f\"");
}

Test(emit, a_value_made_of_text_and_conversions_is_one_value)
{
	char line[LOG_LINE_MAX + 1], got[256];
	log_info("mixed", "key=%s.%s user=u%u old=%d%s new=2", "sec", "name with space", 7u, 1,
	         " old_bad=1");
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line),
	                 " key=\"sec.name with space\" user=u7 old=\"1 old_bad=1\" new=2");
	field(line, "key", got, sizeof got);
	cr_assert_str_eq(got, "sec.name with space");
}

Test(emit, an_empty_field_list_adds_nothing_and_text_gets_a_key)
{
	char line[LOG_LINE_MAX + 1];
	log_info("nothing", "%s", "");
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line), "", "%s", line);
	log_info("keyless", "node=%s %s", "edge0", "edge0: nothing pending");
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line), " node=edge0 text=\"edge0: nothing pending\"");
	log_info("spaces", "  a=1   b=2  ");
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line), " a=1 b=2");
}

Test(emit, msg_and_component_are_escaped)
{
	char line[LOG_LINE_MAX + 1], got[256];
	log_set_component("edge/a b");
	log_warn("said \"no\"\nthen left", "a=%d", 1);
	last_line(line, sizeof line);
	cr_assert(strstr(line, " level=warn component=\"edge/a b\" msg=\"said \\\"no\\\"\\nthen "
	                       "left\" a=1"),
	          "%s", line);
	field(line, "msg", got, sizeof got);
	cr_assert_str_eq(got, "said \"no\"\nthen left");
	log_set_component("edge/mumbai");
	log_info("m", "a=%d", 1);
	last_line(line, sizeof line);
	cr_assert(strstr(line, " component=edge/mumbai msg=\"m\" a=1"), "%s", line);
}

/* Each conversion the tree uses, formatted as printf would. */
#define SAME_AS_PRINTF(fmt, ...)                                                                   \
	do {                                                                                       \
		char want_[512], line_[LOG_LINE_MAX + 1];                                          \
		snprintf(want_, sizeof want_, " " fmt, __VA_ARGS__);                               \
		log_info("conv", fmt, __VA_ARGS__);                                                \
		last_line(line_, sizeof line_);                                                    \
		cr_assert_str_eq(fields_of(line_), want_, "for %s", fmt);                          \
	} while (0)

Test(emit, conversions_format_as_printf_does)
{
	signed char hh = -5;
	short h = -300;
	SAME_AS_PRINTF("a=%d b=%i c=%u d=%x e=%X f=%o", -42, 17, 4000000000u, 255u, 255u, 8u);
	SAME_AS_PRINTF("a=%hhd b=%hd c=%hhu d=%hu", hh, h, (unsigned char)250,
	               (unsigned short)65000);
	SAME_AS_PRINTF("a=%ld b=%lld c=%lu d=%llu", -1L, -2LL, 3UL, 18446744073709551615ULL);
	SAME_AS_PRINTF("a=%zu b=%zd c=%jd d=%ju e=%td", (size_t)9, (ssize_t)-9, (intmax_t)-10,
	               (uintmax_t)10, (ptrdiff_t)-11);
	SAME_AS_PRINTF("seq=%" PRIu64 " off=%" PRId64 " x=%" PRIx64, UINT64_MAX, INT64_MIN,
	               (uint64_t)0xdeadbeef);
	SAME_AS_PRINTF("a=%.2f b=%.0f c=%.1f d=%g e=%e f=%Lf", 3.14159, 2.5, -0.05, 1e-5, 12345.678,
	               (long double)1.5);
	SAME_AS_PRINTF("a=%05d c=%+d d=%#x e=%#o", 42, 5, 255u, 8u);
	SAME_AS_PRINTF("a=%0*d c=%.*f", 6, 1, 3, 1.0);
	SAME_AS_PRINTF("key=%c what=%s", 'k', "count");
	SAME_AS_PRINTF("a=%.3s b=%.*s c=%.200s", "abcdef", 2, "xyz", "short");
	SAME_AS_PRINTF("pct=100%% p=%p", (void *)0x1234);
}

Test(emit, padding_and_odd_bytes_from_conversions_are_quoted)
{
	char line[LOG_LINE_MAX + 1], got[64];
	const char *volatile none = NULL; /* hidden from the compiler's checks */
	log_info("pad", "a=%5d b=%-4s c=%c d=%s", 42, "x", '"', none);
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line), " a=\"   42\" b=\"x   \" c=\"\\\"\" d=(null)");
	log_info("pad", "a=%*d b=%-*d c=%5s d=%-5s e=%*s", 4, 1, 3, 2, "ab", "cd", -3, "z");
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line),
	                 " a=\"   1\" b=\"2  \" c=\"   ab\" d=\"cd   \" e=\"z  \"");
	log_info("nul", "c=\"%c\"", 0);
	last_line(line, sizeof line);
	cr_assert_eq(field(line, "c", got, sizeof got), 1, "%s", line);
	cr_assert_eq(got[0], 0);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"

Test(emit, an_unknown_conversion_is_copied_and_ends_argument_reading)
{
	char line[LOG_LINE_MAX + 1];
	int written = 99;
	log_emit(LOG_INFO, "odd", "a=%d b=%y c=%d", 1, 2, 3);
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line), " a=1 b=%y c=%d");
	log_emit(LOG_INFO, "odd", "a=%d n=%n s=%s", 1, &written, "never read");
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line), " a=1 n=%n s=%s");
	cr_assert_eq(written, 99, "%%n must not write");
	log_emit(LOG_INFO, "odd", "a=%2$d b=%ls end=%", 1, 2);
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line), " a=%2$d b=%ls end=%");
	log_emit(LOG_INFO, "odd", "m=%m q=\"%", 1);
	last_line(line, sizeof line);
	cr_assert_str_eq(fields_of(line), " m=%m q=\"%\"");
}

#pragma GCC diagnostic pop

/* --- long lines are cut, never broken --------------------------------------- */

static void assert_cut(const char *line)
{
	size_t n = strlen(line);
	cr_assert_leq(n + 1, LOG_LINE_MAX, "%zu bytes", n + 1);
	const char *mark = " truncated=true";
	cr_assert(n > strlen(mark) && strcmp(line + n - strlen(mark), mark) == 0, "%s", line);
}

Test(emit, a_long_quoted_value_is_cut_before_an_escape_and_closed)
{
	static char big[6000];
	char line[LOG_LINE_MAX + 1];
	/* Every alignment of 2- and 6-byte escapes against the end of the
	 * line (the prefix shifts them). */
	const char fill[] = {'"', '\\', '\x01', 'a', '\n'};
	for (size_t k = 0; k < sizeof fill; k++) {
		for (size_t pre = 0; pre < 7; pre++) {
			memset(big, 'p', pre);
			memset(big + pre, fill[k], sizeof big - 1 - pre);
			big[sizeof big - 1] = 0;
			log_error("long", "a=1 err=\"%s\" after=2", big);
			last_line(line, sizeof line);
			assert_cut(line);
			cr_assert(strstr(line, " a=1 err=\""), "%s", line);
			cr_assert_null(strstr(line, "after="), "%s", line);
		}
	}
}

Test(emit, a_long_bare_value_is_quoted_when_cut)
{
	static char big[4000];
	char line[LOG_LINE_MAX + 1];
	memset(big, 'x', sizeof big - 1);
	log_info("long", "a=%s", big);
	last_line(line, sizeof line);
	assert_cut(line);
	cr_assert(strstr(line, " a=\"xxxx"), "%s", line);
}

Test(emit, fields_that_do_not_fit_are_left_out_whole)
{
	char line[LOG_LINE_MAX + 1];
	char v[100];
	memset(v, 'v', sizeof v - 1);
	v[sizeof v - 1] = 0;
	for (int i = 0; i < 3; i++) {
		log_info("many",
		         "k01=%s k02=%s k03=%s k04=%s k05=%s k06=%s k07=%s k08=%s k09=%s k10=%s "
		         "k11=%s k12=%s k13=%s k14=%s k15=%s k16=%s k17=%s k18=%s k19=%s k20=%s "
		         "k21=%s k22=%s k23=%s k24=%s",
		         v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v,
		         i == 0 ? v : "");
		last_line(line, sizeof line);
		assert_cut(line);
	}
}

Test(emit, a_long_msg_is_cut_too)
{
	static char big[5000];
	char line[LOG_LINE_MAX + 1];
	memset(big, '"', sizeof big - 1);
	log_info(big, "a=%d", 1);
	last_line(line, sizeof line);
	assert_cut(line);
}

/* --- librdkafka's lines ------------------------------------------------------ */

Test(emit, librdkafka_lines_come_through_the_logger)
{
	char line[LOG_LINE_MAX + 1], got[512], err[256];
	/* A consumer property on a producer (bus_conf_new does not check the
	 * sections; bus_check_props would refuse this): librdkafka warns
	 * (CONFWARN) on creation; without bootstrap.servers it connects
	 * nowhere. */
	cfg_kv kv = {.key = "fetch.wait.max.ms", .value = "10"};
	bus_props bp = {.producer = &kv};
	rd_kafka_conf_t *conf = bus_conf_new(BUS_PRODUCER, &bp, NULL, NULL, err, sizeof err);
	cr_assert_not_null(conf, "%s", err);
	rd_kafka_t *rk = bus_client_new(BUS_PRODUCER, conf, err, sizeof err);
	cr_assert_not_null(rk, "%s", err);
	rd_kafka_destroy(rk);
	log_info("after", "%s", "");
	last_line(line, sizeof line); /* every line so far is strict */
	char out[8192];
	cr_assert_eq(proc_capture(out, sizeof out, "grep 'kafka_fac=CONFWARN' '%s'", path), 0,
	             "no CONFWARN line");
	cr_assert(strstr(out, "level=warn msg=\"librdkafka\" kafka_fac=CONFWARN "
	                      "kafka_client=rdkafka#producer-"),
	          "%s", out);
	cr_assert(strstr(out, "fetch.wait.max.ms"), "%s", out);

	bus_log_line(NULL, 3, "FAIL", "broker \"b1\" down\n");
	last_line(line, sizeof line);
	cr_assert(strstr(line, " level=error msg=\"librdkafka\" kafka_fac=FAIL kafka_client=\"\" "),
	          "%s", line);
	field(line, "detail", got, sizeof got);
	cr_assert_str_eq(got, "broker \"b1\" down\n");
	bus_log_line(NULL, 6, "INFO", "i");
	last_line(line, sizeof line);
	cr_assert(strstr(line, " level=info msg=\"librdkafka\" kafka_fac=INFO"), "%s", line);
	bus_log_line(NULL, 7, "DEBUG", "d"); /* below the info threshold */
	last_line(line, sizeof line);
	cr_assert(strstr(line, "kafka_fac=INFO"), "a debug line was written: %s", line);
}

/* --- the journal's priority prefix ----------------------------------------- */

/* Makes a file of dir stderr and points JOURNAL_STREAM at the device and
 * inode of named (the same file, or another). */
static void stderr_to(const char *file, const char *named)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_geq(dup2(fd, STDERR_FILENO), 0);
	close(fd);
	struct stat st;
	cr_assert_eq(stat(named, &st), 0, "%s", named);
	char js[64];
	snprintf(js, sizeof js, "%llu:%llu", (unsigned long long)st.st_dev,
	         (unsigned long long)st.st_ino);
	cr_assert_eq(setenv("JOURNAL_STREAM", js, 1), 0);
}

static void journal_dir(void)
{
	testdir_make(dir, sizeof dir, "likes-journal");
}

TestSuite(journal, .init = journal_dir, .fini = remove_dir, .timeout = 30);

Test(journal, lines_carry_their_priority_when_stderr_is_the_journal)
{
	char err[256], report[2048];
	snprintf(path, sizeof path, "%s/stderr", dir);
	stderr_to(path, path);
	cr_assert_eq(log_set_file("", err, sizeof err), 0);
	log_threshold = LOG_DEBUG;
	log_error("e", "n=%d", 1);
	log_warn("w", "n=%d", 2);
	log_info("i", "n=%d", 3);
	log_debug("d", "n=%d", 4);
	cr_assert_eq(logfmt_check_file(path, true, report, sizeof report), 0, "%s", report);
	FILE *f = fopen(path, "r");
	char line[LOG_LINE_MAX + 1];
	const char *want[] = {"<3>ts=", "<4>ts=", "<6>ts=", "<7>ts="};
	for (int i = 0; i < 4; i++) {
		cr_assert_not_null(fgets(line, sizeof line, f));
		cr_assert_eq(strncmp(line, want[i], strlen(want[i])), 0, "%s", line);
	}
	fclose(f);
}

Test(journal, no_prefix_when_journal_stream_names_another_file)
{
	char err[256], other[512], report[2048];
	snprintf(path, sizeof path, "%s/stderr", dir);
	snprintf(other, sizeof other, "%s/other", dir);
	FILE *o = fopen(other, "w");
	cr_assert_not_null(o);
	fclose(o);
	stderr_to(path, other);
	cr_assert_eq(log_set_file("", err, sizeof err), 0);
	log_warn("w", "n=%d", 1);
	cr_assert_eq(logfmt_check_file(path, false, report, sizeof report), 0, "%s", report);
}

Test(journal, no_prefix_when_journal_stream_is_malformed_or_absent)
{
	char err[256], report[2048];
	snprintf(path, sizeof path, "%s/stderr", dir);
	stderr_to(path, path);
	const char *keep = getenv("JOURNAL_STREAM");
	char bad[80];
	snprintf(bad, sizeof bad, "%s:1", keep);
	const char *values[] = {bad, "", "x:y", NULL};
	for (int i = 0; i < 4; i++) {
		if (values[i])
			setenv("JOURNAL_STREAM", values[i], 1);
		else
			unsetenv("JOURNAL_STREAM");
		cr_assert_eq(log_set_file("", err, sizeof err), 0);
		log_warn("w", "case=%d", i);
	}
	cr_assert_eq(logfmt_check_file(path, false, report, sizeof report), 0, "%s", report);
}

Test(journal, a_log_file_gets_no_prefix_even_under_the_journal)
{
	char err[256], report[2048], file[512];
	snprintf(path, sizeof path, "%s/stderr", dir);
	snprintf(file, sizeof file, "%s/likes.log", dir);
	stderr_to(path, path);
	cr_assert_eq(log_set_file("", err, sizeof err), 0);
	cr_assert_eq(log_set_file(file, err, sizeof err), 0, "%s", err);
	log_warn("w", "n=%d", 1);
	cr_assert_eq(logfmt_check_file(file, false, report, sizeof report), 0, "%s", report);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, 0, "the line went to stderr");
}
