/* test_ticker.c - the periodic thread (ticker.h): it turns until stopped,
 * its beat moves with its turns, and a stop waits for the turn under way
 * and no turn begins after it. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <time.h>

#include "clock.h"
#include "ticker.h"

static atomic_int turns;
static atomic_int in_turn;
static unsigned turn_ms;   /* how long a turn takes */
static atomic_int bad_ctx; /* a turn got another ctx */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void turn(void *ctx)
{
	if (ctx != &turns)
		atomic_store(&bad_ctx, 1);
	atomic_store(&in_turn, 1);
	if (turn_ms)
		sleep_ms(turn_ms);
	atomic_fetch_add(&turns, 1);
	atomic_store(&in_turn, 0);
}

static void wait_turns(int n)
{
	uint64_t deadline = clock_mono_ms() + 10000;
	while (atomic_load(&turns) < n) {
		cr_assert_lt(clock_mono_ms(), deadline, "only %d turns", atomic_load(&turns));
		sleep_ms(1);
	}
}

Test(ticker, turns_until_stopped_and_not_after)
{
	atomic_store(&turns, 0);
	turn_ms = 0;
	ticker *t = ticker_start("test-ticker", 2, turn, &turns);
	cr_assert_not_null(t);
	wait_turns(5);
	ticker_stop(t);
	int n = atomic_load(&turns);
	sleep_ms(20);
	cr_assert_eq(atomic_load(&turns), n, "a turn after the stop");
	ticker_stop(NULL);
	cr_assert_eq(atomic_load(&bad_ctx), 0, "each turn gets its ctx");
}

Test(ticker, the_beat_moves_with_the_turns)
{
	atomic_store(&turns, 0);
	turn_ms = 0;
	ticker *t = ticker_start("test-ticker", 5, turn, &turns);
	cr_assert_not_null(t);
	wait_turns(1);
	uint64_t b0 = ticker_beat_ms(t);
	sleep_ms(30);
	wait_turns(atomic_load(&turns) + 2);
	cr_assert_gt(ticker_beat_ms(t), b0, "the beat follows the turns");
	cr_assert_leq(ticker_beat_ms(t), clock_mono_ms());
	ticker_stop(t);
}

Test(ticker, a_stop_waits_for_the_turn_under_way)
{
	atomic_store(&turns, 0);
	turn_ms = 40;
	ticker *t = ticker_start("test-ticker", 1, turn, &turns);
	cr_assert_not_null(t);
	uint64_t deadline = clock_mono_ms() + 10000;
	while (!atomic_load(&in_turn))
		cr_assert_lt(clock_mono_ms(), deadline);
	ticker_stop(t);
	cr_assert_eq(atomic_load(&in_turn), 0, "the stop returned inside a turn");
	cr_assert_geq(atomic_load(&turns), 1);
}
