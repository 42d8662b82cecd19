/* test_log.c - log_every: one line per interval for a repeated failure. */
#include <criterion/criterion.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

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
