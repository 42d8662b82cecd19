/* test_wakeprobe.c - the machine's wake-up lateness (sim/drill/wakeprobe.c):
 * a started probe records a wake-up and an echo round trip per period,
 * taking clears, and a stop joins its threads (NULL too).
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <time.h>

#include "clock.h"
#include "sim/drill/wakeprobe.h"

static void nap_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

Test(wakeprobe, records_a_wake_up_per_period_and_taking_clears)
{
	wakeprobe *p = wakeprobe_start(1000);
	cr_assert_not_null(p);
	/* Twenty wake-ups, waited for: a busy machine may run it late. */
	hist h, e, all, alle;
	hist_init(&all);
	hist_init(&alle);
	uint64_t deadline = clock_mono_ms() + 10000;
	while (all.n < 20) {
		cr_assert_lt(clock_mono_ms(), deadline, "%" PRIu64 " wake-ups", all.n);
		nap_ms(20);
		wakeprobe_take(p, &h, &e);
		hist_merge(&all, &h);
		hist_merge(&alle, &e);
	}
	/* Each wake-up sends one echo, and each comes back. */
	cr_assert_eq(alle.n, all.n);
	cr_assert_gt(hist_quantile(&alle, 0.5), 0, "a round trip takes some time");
	/* At most one wake-up a period, however long the nap really was. */
	wakeprobe_take(p, NULL, NULL);
	uint64_t t0 = clock_mono_ms();
	nap_ms(100);
	wakeprobe_take(p, &h, NULL);
	uint64_t ms = clock_mono_ms() - t0;
	cr_assert_leq(h.n, ms + 2, "%" PRIu64 " wake-ups in %" PRIu64 " ms", h.n, ms);
	wakeprobe_stop(p);
	wakeprobe_stop(NULL);
}
