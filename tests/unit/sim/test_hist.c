/* test_hist.c - latency histograms: quantiles of known distributions,
 * the conservative bound, the exact maximum, merging and edge values.
 *
 * Pure: no files, no threads.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>

#include "sim/drill/hist.h"
#include "log.h"

static hist H;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	hist_init(&H);
}

TestSuite(hist, .init = setup, .timeout = 10);

static void assert_near(uint64_t got, double want, double tol, const char *what)
{
	cr_assert(fabs((double)got - want) <= want * tol, "%s: %llu, want %.0f within %.0f%%", what,
	          (unsigned long long)got, want, tol * 100);
}

Test(hist, empty_answers_zero)
{
	cr_assert_eq(hist_quantile(&H, 0.5), 0);
	cr_assert_eq(hist_quantile(&H, 1.0), 0);
	cr_assert_eq(H.n, 0);
}

Test(hist, uniform_quantiles_are_close_and_max_exact)
{
	for (uint64_t v = 1; v <= 1000; v++)
		hist_add(&H, v);
	cr_assert_eq(H.n, 1000);
	assert_near(hist_quantile(&H, 0.5), 500, 0.07, "p50");
	assert_near(hist_quantile(&H, 0.99), 990, 0.07, "p99");
	assert_near(hist_quantile(&H, 0.9), 900, 0.07, "p90");
	cr_assert_eq(hist_quantile(&H, 1.0), 1000, "p100 is the exact max");
	cr_assert_eq(H.max_us, 1000);
}

Test(hist, quantile_never_below_the_true_value)
{
	/* Spread over nine decades: every quantile is an upper bound within
	 * one bucket (6.25%) of the value at that rank. */
	uint64_t vals[900];
	for (unsigned i = 0; i < 900; i++) {
		vals[i] = (uint64_t)pow(10.0, (double)i / 100.0) + i;
		hist_add(&H, vals[i]);
	}
	for (unsigned k = 1; k <= 100; k++) {
		double q = k / 100.0;
		unsigned rank = (unsigned)ceil(q * 900);
		uint64_t truth = vals[rank - 1]; /* vals is increasing */
		uint64_t got = hist_quantile(&H, q);
		cr_assert_geq(got, truth, "q=%.2f: %llu below %llu", q, (unsigned long long)got,
		              (unsigned long long)truth);
		cr_assert_leq((double)got, (double)truth * 1.0625 + 1,
		              "q=%.2f: %llu too far above %llu", q, (unsigned long long)got,
		              (unsigned long long)truth);
	}
}

Test(hist, small_values_are_exact)
{
	hist_add(&H, 0);
	hist_add(&H, 7);
	hist_add(&H, 31);
	cr_assert_eq(hist_quantile(&H, 0.01), 0);
	cr_assert_eq(hist_quantile(&H, 0.5), 7);
	cr_assert_eq(hist_quantile(&H, 1.0), 31);
}

Test(hist, huge_values_fit)
{
	hist_add(&H, UINT64_MAX);
	hist_add(&H, (uint64_t)1 << 63);
	hist_add(&H, 3600ull * 1000 * 1000); /* an hour */
	cr_assert_eq(H.n, 3);
	cr_assert_eq(hist_quantile(&H, 1.0), UINT64_MAX);
	uint64_t hour = hist_quantile(&H, 0.2);
	assert_near(hour, 3600e6, 0.07, "an hour");
	cr_assert_geq(hist_quantile(&H, 0.5), (uint64_t)1 << 63);
}

Test(hist, out_of_range_q_is_clamped)
{
	for (uint64_t v = 100; v <= 200; v++)
		hist_add(&H, v);
	cr_assert_eq(hist_quantile(&H, 2.0), 200);
	cr_assert_eq(hist_quantile(&H, -1.0), hist_quantile(&H, 0.0));
	cr_assert_leq(hist_quantile(&H, 0.0), 100 * 1.0625);
	cr_assert_eq(hist_quantile(&H, NAN), hist_quantile(&H, 0.0));
}

Test(hist, merge_adds_counts_and_keeps_max)
{
	hist other;
	hist_init(&other);
	for (uint64_t v = 1; v <= 500; v++)
		hist_add(&H, v);
	for (uint64_t v = 501; v <= 1000; v++)
		hist_add(&other, v);
	hist_add(&other, 5000);
	hist_merge(&H, &other);
	cr_assert_eq(H.n, 1001);
	cr_assert_eq(H.max_us, 5000);
	assert_near(hist_quantile(&H, 0.5), 500, 0.07, "merged p50");
	cr_assert_eq(hist_quantile(&H, 1.0), 5000);
	cr_assert_eq(other.n, 501, "the source is unchanged");
}
