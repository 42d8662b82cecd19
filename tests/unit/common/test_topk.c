/* test_topk.c - the space-saving top-k over two windows (common/topk.c):
 * heavy keys found among many light ones with bounded error, ranking by
 * rate, windows rolling and fading, and bounded memory.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "topk.h"

#define W 60000
#define T0 1000000

static topk *K;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	K = NULL;
}

static void teardown(void)
{
	topk_free(K);
}

TestSuite(topk, .init = setup, .fini = teardown, .timeout = 30);

static void add(const char *key, uint64_t n, uint64_t now)
{
	topk_add(K, key, strlen(key), n, now);
}

Test(topk, a_viral_item_stands_out_among_a_long_tail)
{
	K = topk_new(16, W);
	char key[32];
	uint64_t total = 0;
	/* 20000 items liked once or twice, one liked 5000 times, spread
	 * through the stream. */
	for (int i = 0; i < 20000; i++) {
		snprintf(key, sizeof key, "likes post:%d", i);
		add(key, 1 + (uint64_t)(i % 2), T0 + 1);
		total += 1 + (uint64_t)(i % 2);
		if (i % 4 == 0) {
			add("likes post:viral", 1, T0 + 1);
			total++;
		}
	}
	topk_entry e[16];
	size_t n = topk_list(K, T0 + 2, e, 16);
	cr_assert_gt(n, 0);
	cr_assert_str_eq(e[0].key, "likes post:viral");
	cr_assert_geq(e[0].count, 5000, "space-saving never undercounts a kept key");
	cr_assert_leq(e[0].count - e[0].error, 5000, "count - error is a lower bound");
	cr_assert_leq(e[0].error, total / 16, "the error is at most total/k");
}

Test(topk, keys_are_ranked_by_rate_and_the_list_is_capped)
{
	K = topk_new(8, W);
	add("a", 5, T0);
	add("b", 50, T0);
	add("c", 20, T0);
	topk_entry e[2];
	size_t n = topk_list(K, T0 + 10, e, 2);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(e[0].key, "b");
	cr_assert_str_eq(e[1].key, "c");
	cr_assert_eq(e[0].count, 50);
	cr_assert_eq(e[0].error, 0);
}

Test(topk, a_key_that_stops_fades_out_over_two_windows)
{
	K = topk_new(8, W);
	add("old", 100, T0);
	topk_entry e[8];
	/* Half way through the next window, half of last window counts. */
	add("new", 30, T0 + W + W / 2);
	size_t n = topk_list(K, T0 + W + W / 2, e, 8);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(e[0].key, "old");
	cr_assert_float_eq(e[0].rate, 50.0, 0.5);
	cr_assert_eq(e[0].count, 0, "nothing counted for it in this window");
	/* Later in that window the newcomer overtakes it. */
	add("new", 30, T0 + W + 55000);
	n = topk_list(K, T0 + W + 55000, e, 8);
	cr_assert_str_eq(e[0].key, "new");
	/* Two windows on, the old key is gone. */
	n = topk_list(K, T0 + 3 * W + 1, e, 8);
	cr_assert_eq(n, 0, "%zu entries left", n);
}

Test(topk, long_keys_are_cut_and_memory_stays_at_k)
{
	K = topk_new(4, W);
	char big[400];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	add(big, 1, T0);
	char key[16];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		add(key, 1, T0);
	}
	topk_entry e[10];
	size_t n = topk_list(K, T0, e, 10);
	cr_assert_eq(n, 4, "at most k entries: %zu", n);
	add(big, 100, T0);
	n = topk_list(K, T0, e, 10);
	cr_assert_eq(strlen(e[0].key), TOPK_KEY_MAX);
}

Test(topk, counts_keep_the_space_saving_bounds_over_a_random_stream)
{
	K = topk_new(8, W);
	uint64_t truth[64] = {0}, total = 0;
	unsigned seed = 12345;
	char key[16];
	for (int i = 0; i < 20000; i++) {
		seed = seed * 1103515245u + 12345u;
		/* skewed: low numbers far more often */
		unsigned r = (seed >> 16) % 64, x = r * r / 64;
		snprintf(key, sizeof key, "k%u", x);
		uint64_t n = 1 + (seed >> 8) % 3;
		add(key, n, T0);
		truth[x] += n;
		total += n;
	}
	topk_entry e[8];
	size_t n = topk_list(K, T0, e, 8);
	cr_assert_eq(n, 8);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned x = (unsigned)atoi(e[i].key + 1);
		cr_assert_geq(e[i].count, truth[x], "%s undercounted", e[i].key);
		cr_assert_leq(e[i].count - e[i].error, truth[x], "%s: count - error too high",
		              e[i].key);
		sum += e[i].count;
		if (i)
			cr_assert_geq(e[i - 1].rate, e[i].rate);
	}
	cr_assert_eq(sum, total, "the counters of a full table add up to the stream");
	cr_assert_str_eq(e[0].key, "k0", "the heaviest key leads");
}
