/* test_tokcache.c - the digests of tokens a key set has verified
 * (edge/auth/tokcache.c): remembered, bounded, never a false hit, safe
 * from several threads, and the bytes they hold.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "edge/auth/tokcache.h"
#include "log.h"

static tokcache *C;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	C = NULL;
}

static void teardown(void)
{
	tokcache_free(C);
}

TestSuite(tokcache, .init = setup, .fini = teardown, .timeout = 30);

static void dg(const char *tok, unsigned char d[TOKCACHE_DIGEST])
{
	tokcache_digest(tok, strlen(tok), d);
}

Test(tokcache, a_put_token_is_found_and_others_are_not)
{
	C = tokcache_new(1000);
	unsigned char a[TOKCACHE_DIGEST], b[TOKCACHE_DIGEST];
	dg("header.payload.sig1", a);
	dg("header.payload.sig2", b);
	cr_assert_not(tokcache_has(C, a));
	tokcache_put(C, a);
	cr_assert(tokcache_has(C, a));
	cr_assert_not(tokcache_has(C, b), "one byte apart is another token");
	unsigned char zero[TOKCACHE_DIGEST] = {0};
	tokcache_put(C, zero);
	cr_assert_not(tokcache_has(C, zero), "a failed digest is never remembered");
}

Test(tokcache, it_stays_bounded_and_forgets_the_oldest)
{
	C = tokcache_new(64); /* one set of 4 per stripe */
	unsigned char d[TOKCACHE_DIGEST];
	char tok[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(tok, sizeof tok, "t%d", i);
		dg(tok, d);
		tokcache_put(C, d);
	}
	int kept = 0;
	for (int i = 0; i < 5000; i++) {
		snprintf(tok, sizeof tok, "t%d", i);
		dg(tok, d);
		kept += tokcache_has(C, d);
	}
	cr_assert_leq(kept, 64, "kept %d of 5000 in a cache of 64", kept);
	cr_assert_gt(kept, 32, "the last ones put are mostly still there: %d", kept);
	dg("t4999", d);
	cr_assert(tokcache_has(C, d), "the newest is kept");
}

static void *putter(void *arg)
{
	(void)arg;
	unsigned char d[TOKCACHE_DIGEST];
	char tok[32];
	for (int i = 0; i < 20000; i++) {
		snprintf(tok, sizeof tok, "x%d", i % 500);
		dg(tok, d);
		if (!tokcache_has(C, d))
			tokcache_put(C, d);
	}
	return NULL;
}

Test(tokcache, threads_share_it)
{
	C = tokcache_new(4096);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, putter, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	unsigned char d[TOKCACHE_DIGEST];
	int kept = 0;
	char tok[32];
	for (int i = 0; i < 500; i++) {
		snprintf(tok, sizeof tok, "x%d", i);
		dg(tok, d);
		kept += tokcache_has(C, d);
	}
	cr_assert_gt(kept, 450, "500 tokens in a cache of 4096: %d kept", kept);
}

Test(tokcache, bytes_grow_with_the_tokens_seen_up_to_the_table)
{
	/* The edge's size: 65536 digests in 16384 sets of 130 bytes. */
	C = tokcache_new(65536);
	uint64_t empty = tokcache_bytes(C);
	cr_assert_lt(empty, 4096, "a new cache holds its struct only: %lu", (unsigned long)empty);
	cr_assert_eq(tokcache_total_bytes(), empty, "the only cache alive");
	unsigned char d[TOKCACHE_DIGEST];
	char tok[32];
	dg("t0", d);
	tokcache_put(C, d);
	uint64_t one = tokcache_bytes(C);
	cr_assert_eq(one, empty + 4096, "one token, one page");
	tokcache_put(C, d);
	cr_assert_eq(tokcache_bytes(C), one, "a token put again writes nothing new");
	for (int i = 1; i < 100; i++) {
		snprintf(tok, sizeof tok, "t%d", i);
		dg(tok, d);
		tokcache_put(C, d);
	}
	cr_assert_gt(tokcache_bytes(C), one, "grows with the tokens");
	for (int i = 100; i < 200000; i++) {
		snprintf(tok, sizeof tok, "t%d", i);
		dg(tok, d);
		tokcache_put(C, d);
	}
	uint64_t full = tokcache_bytes(C);
	cr_assert_geq(full, empty + 16384 * 130 * 99 / 100, "every page written");
	cr_assert_leq(full, empty + 16384 * 130 + 4096, "never past the table");
	cr_assert_eq(tokcache_total_bytes(), full);

	/* A reload: a second cache beside the first, then the first freed. */
	tokcache *next = tokcache_new(65536);
	cr_assert_eq(tokcache_total_bytes(), full + tokcache_bytes(next));
	tokcache_free(C);
	C = next;
	cr_assert_eq(tokcache_total_bytes(), tokcache_bytes(next), "a freed cache leaves the sum");
}
