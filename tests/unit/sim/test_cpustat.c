/* test_cpustat.c - /proc/stat parsing and the stolen and busy shares. */
#include <criterion/criterion.h>

#include "sim/drill/cpustat.h"

Test(cpustat, parses_the_cpu_line_and_skips_the_per_cpu_ones)
{
	const char *text = "cpu  100 5 50 800 20 3 2 40 7 0\n"
	                   "cpu0 50 2 25 400 10 1 1 20 3 0\n"
	                   "intr 12345\n";
	cpustat c;
	cr_assert(cpustat_parse(text, &c));
	cr_assert_eq(c.total, 100 + 5 + 50 + 800 + 20 + 3 + 2 + 40,
	             "guest time is not added twice");
	cr_assert_eq(c.idle, 820);
	cr_assert_eq(c.steal, 40);
}

Test(cpustat, finds_the_cpu_line_after_other_lines)
{
	cpustat c;
	cr_assert(cpustat_parse("btime 1\ncpu  1 2 3 4 5 6 7 8\n", &c));
	cr_assert_eq(c.steal, 8);
}

Test(cpustat, refuses_text_without_a_whole_cpu_line)
{
	cpustat c;
	cr_assert_not(cpustat_parse("", &c));
	cr_assert_not(cpustat_parse("cpu0 1 2 3 4 5 6 7 8\n", &c));
	cr_assert_not(cpustat_parse("cpu  1 2 3\n", &c));
}

Test(cpustat, shares_of_the_time_between_two_readings)
{
	cpustat a = {.total = 1000, .idle = 600, .steal = 100};
	cpustat b = {.total = 2000, .idle = 1000, .steal = 400};
	double steal, busy;
	cr_assert(cpustat_shares(&a, &b, &steal, &busy));
	cr_assert_float_eq(steal, 0.3, 1e-9);
	cr_assert_float_eq(busy, 0.3, 1e-9);
	cr_assert_not(cpustat_shares(&b, &a, &steal, &busy), "time went backwards");
	cr_assert_not(cpustat_shares(&a, &a, &steal, &busy), "no time passed");
}

Test(cpustat, reads_this_machine)
{
	cpustat c;
	cr_assert(cpustat_read(&c), "Linux has /proc/stat");
	cr_assert_gt(c.total, 0);
	cr_assert_leq(c.idle + c.steal, c.total);
}
