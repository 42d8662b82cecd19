/* test_display.c - the short human form of counts: table and invariants. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "display.h"

static void setup(void) {}
static void teardown(void) {}

TestSuite(display, .init = setup, .fini = teardown, .timeout = 10);

/* Criterion copies parameters into the worker process, so strings live
 * inside the struct, not behind pointers. */
typedef struct display_case {
	uint64_t n;
	char want[DISPLAY_MAX];
} display_case;

ParameterizedTestParameters(display, table_of_known_forms)
{
	static display_case cases[] = {
	    {0, "0"},
	    {1, "1"},
	    {999, "999"},
	    {1000, "1K"},
	    {1049, "1K"},
	    {1099, "1K"},
	    {1100, "1.1K"},
	    {1200, "1.2K"},
	    {1999, "1.9K"},
	    {9999, "9.9K"},
	    {10000, "10K"},
	    {12345, "12K"},
	    {123456, "123K"},
	    {999999, "999K"},
	    {1000000, "1M"},
	    {1099999, "1M"},
	    {1250000, "1.2M"},
	    {12000000, "12M"},
	    {999999999, "999M"},
	    {1000000000, "1B"},
	    {1200000000, "1.2B"},
	    {UINT64_C(999999999999), "999B"},
	    {UINT64_C(1000000000000), "1T"},
	    {UINT64_C(1250000000000), "1.2T"},
	    {UINT64_C(999999999999999), "999T"},
	    {UINT64_C(1000000000000000), "1000T"},
	    {UINT64_MAX, "18446744T"},
	};
	return cr_make_param_array(display_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(display_case *c, display, table_of_known_forms)
{
	char buf[DISPLAY_MAX];
	size_t len = display_count(c->n, buf, sizeof buf);
	cr_assert_str_eq(buf, c->want, "n=%" PRIu64, c->n);
	cr_assert_eq(len, strlen(c->want), "n=%" PRIu64, c->n);
}

/* Reads a short form back as the interval [lo, hi) of counts it stands
 * for: "1.2K" is [1200, 1300), "12K" is [12000, 13000). */
static void shown_range(const char *s, uint64_t *lo, uint64_t *hi)
{
	uint64_t whole = 0, tenth = 0, scale = 1;
	bool has_tenth = false;
	for (; *s >= '0' && *s <= '9'; s++)
		whole = whole * 10 + (uint64_t)(*s - '0');
	if (*s == '.') {
		has_tenth = true;
		tenth = (uint64_t)(s[1] - '0');
		s += 2;
	}
	switch (*s) {
	case 'K': scale = UINT64_C(1000); break;
	case 'M': scale = UINT64_C(1000000); break;
	case 'B': scale = UINT64_C(1000000000); break;
	case 'T': scale = UINT64_C(1000000000000); break;
	}
	*lo = whole * scale + tenth * (scale / 10);
	/* Below ten units the form has tenths (a zero one is just dropped). */
	uint64_t step = scale == 1 ? 1 : (whole < 10 || has_tenth) ? scale / 10 : scale;
	*hi = *lo + step;
}

/* The short form is the largest one not above the count: checked around
 * every unit boundary and at round multiples of each unit. */
Test(display, truncates_and_never_rounds_up_near_boundaries)
{
	static const uint64_t units[] = {1000, 1000000, 1000000000, UINT64_C(1000000000000)};
	static const uint64_t mults[] = {1, 2, 9, 10, 11, 99, 100, 999, 1000};
	int checked = 0;
	for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
		for (size_t m = 0; m < sizeof mults / sizeof mults[0]; m++) {
			for (int d = -101; d <= 101; d++) {
				uint64_t n = units[u] * mults[m] + (uint64_t)(int64_t)d;
				char buf[DISPLAY_MAX];
				uint64_t lo, hi;
				display_count(n, buf, sizeof buf);
				shown_range(buf, &lo, &hi);
				cr_assert(lo <= n && n < hi,
				          "n=%" PRIu64 " shown as %s covers [%" PRIu64 ", %" PRIu64
				          ")",
				          n, buf, lo, hi);
				checked++;
			}
		}
	}
	cr_assert_gt(checked, 1000);
}

Test(display, fits_display_max_for_every_magnitude)
{
	uint64_t n = 1;
	for (int i = 0; i < 64; i++, n = n * 2 + 1) {
		char buf[DISPLAY_MAX];
		size_t len = display_count(n, buf, sizeof buf);
		cr_assert_lt(len, sizeof buf);
		cr_assert_eq(len, strlen(buf));
	}
}

Test(display, small_buffer_truncates_without_overflow)
{
	char buf[4] = {'x', 'x', 'x', 'x'};
	size_t len = display_count(123456, buf, 3);
	cr_assert_eq(len, 2);
	cr_assert_str_eq(buf, "12");
	cr_assert_eq(buf[3], 'x');
	cr_assert_eq(display_count(5, buf, 0), 0);
}
