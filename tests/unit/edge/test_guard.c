/* test_guard.c - the edge's admission limits (edge/auth/guard.c) on their own:
 * the per-user sliding minute, the per-address bucket, the connection
 * cap, bounded tables, the bytes they hold and use from several threads. Time is passed in,
 * so nothing here sleeps.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "edge/auth/guard.h"
#include "log.h"
#include "memacct.h"

#define MIN 60000ULL
/* A time at the start of a minute, far from 0. */
#define T0 (1000 * MIN)

static guard *G;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	G = NULL;
}

static void teardown(void)
{
	guard_free(G);
}

TestSuite(guard, .init = setup, .fini = teardown, .timeout = 30);

static guard *make(unsigned per_min, unsigned per_s, unsigned burst, unsigned conns)
{
	guard_config c = {.user_writes_per_min = per_min,
	                  .addr_per_s = per_s,
	                  .addr_burst = burst,
	                  .conns_per_addr = conns,
	                  .users = 4096,
	                  .addrs = 4096};
	G = guard_new(&c);
	return G;
}

static void ip4(uint8_t ip[GUARD_IP_LEN], unsigned last)
{
	memset(ip, 0, GUARD_IP_LEN);
	ip[10] = ip[11] = 0xff;
	ip[12] = 10;
	ip[15] = (uint8_t)last;
}

Test(guard, a_user_gets_exactly_the_limit_in_a_minute)
{
	make(100, 0, 0, 0);
	unsigned ra = 0;
	for (int i = 0; i < 100; i++)
		cr_assert(guard_user_write(G, "alice", 1, T0 + (uint64_t)i * 100, &ra), "write %d",
		          i);
	cr_assert_not(guard_user_write(G, "alice", 1, T0 + 20000, &ra));
	cr_assert_geq(ra, 1);
	cr_assert_leq(ra, 60);
	cr_assert_eq(guard_refusals(G, GUARD_USER_RATE), 1);
	cr_assert(guard_user_write(G, "bob", 1, T0 + 20000, &ra), "users are independent");
}

Test(guard, a_batch_that_does_not_fit_is_refused_whole)
{
	make(10, 0, 0, 0);
	unsigned ra;
	cr_assert(guard_user_write(G, "u", 7, T0, &ra));
	cr_assert_not(guard_user_write(G, "u", 4, T0 + 1, &ra));
	cr_assert(guard_user_write(G, "u", 3, T0 + 2, &ra), "the refused 4 were not counted");
	cr_assert_not(guard_user_write(G, "u", 1, T0 + 3, &ra));
	cr_assert_not(guard_user_write(G, "v", 11, T0, &ra), "more than the limit never fits");
	cr_assert_eq(ra, 60);
}

Test(guard, the_window_slides_rather_than_resetting_at_the_minute)
{
	make(100, 0, 0, 0);
	unsigned ra;
	cr_assert(guard_user_write(G, "u", 100, T0 + MIN - 1000, &ra));
	/* A fixed window would allow 100 more just after the minute turns;
	 * the sliding one still counts most of the 100. */
	cr_assert_not(guard_user_write(G, "u", 10, T0 + MIN + 1000, &ra));
	/* Halfway through the next minute half of them have slid out. */
	cr_assert(guard_user_write(G, "u", 49, T0 + MIN + MIN / 2, &ra));
	cr_assert_not(guard_user_write(G, "u", 2, T0 + MIN + MIN / 2, &ra));
	/* Two minutes on, nothing is left. */
	cr_assert(guard_user_write(G, "u", 100, T0 + 3 * MIN, &ra));
}

Test(guard, retry_after_is_when_the_write_fits)
{
	make(100, 0, 0, 0);
	unsigned ra;
	uint64_t t = T0 + 30000;
	cr_assert(guard_user_write(G, "u", 100, t, &ra));
	cr_assert_not(guard_user_write(G, "u", 1, t, &ra));
	uint64_t later = t + (uint64_t)ra * 1000;
	cr_assert_not(guard_user_write(G, "u", 1, later - 2000, &ra),
	              "fits well before Retry-After: it overstates the wait");
	cr_assert(guard_user_write(G, "u", 1, later, &ra), "Retry-After was too short");
}

Test(guard, retry_after_is_never_more_than_a_minute)
{
	make(5, 0, 0, 0);
	unsigned ra;
	/* Early in a minute: the estimate alone would keep these in the
	 * window for up to 72 s; they all leave it 60 s after the last. */
	for (uint64_t start = 1; start < MIN; start += 7001) {
		char u[16];
		snprintf(u, sizeof u, "u%llu", (unsigned long long)start);
		uint64_t t = T0 + start;
		cr_assert(guard_user_write(G, u, 5, t, &ra));
		cr_assert_not(guard_user_write(G, u, 1, t, &ra));
		cr_assert_leq(ra, 60, "same ms: retry-after %u", ra);
		cr_assert_not(guard_user_write(G, u, 1, t + 1, &ra));
		cr_assert_leq(ra, 60, "start %llu: retry-after %u", (unsigned long long)start, ra);
		cr_assert(guard_user_write(G, u, 1, t + 1 + (uint64_t)ra * 1000, &ra),
		          "start %llu: still refused at Retry-After", (unsigned long long)start);
	}
}

Test(guard, an_address_bucket_allows_its_burst_then_its_rate)
{
	make(0, 10, 5, 0);
	uint8_t a[GUARD_IP_LEN], b[GUARD_IP_LEN];
	ip4(a, 1);
	ip4(b, 2);
	unsigned ra;
	for (int i = 0; i < 5; i++)
		cr_assert(guard_addr_request(G, a, T0, &ra));
	cr_assert_not(guard_addr_request(G, a, T0, &ra));
	cr_assert_eq(ra, 1);
	cr_assert(guard_addr_request(G, b, T0, &ra), "another address has its own bucket");
	cr_assert(guard_addr_request(G, a, T0 + 100, &ra), "10/s: one token back in 100 ms");
	cr_assert_not(guard_addr_request(G, a, T0 + 100, &ra));
	cr_assert_eq(guard_refusals(G, GUARD_ADDR_RATE), 2);
	cr_assert(guard_addr_request(G, NULL, T0, &ra), "an unknown address is let through");
}

Test(guard, connections_per_address_are_capped_and_released)
{
	make(0, 0, 0, 3);
	uint8_t a[GUARD_IP_LEN], b[GUARD_IP_LEN];
	ip4(a, 1);
	ip4(b, 2);
	bool tr;
	for (int i = 0; i < 3; i++) {
		cr_assert(guard_conn_open(G, a, &tr));
		cr_assert(tr);
	}
	cr_assert_not(guard_conn_open(G, a, &tr));
	cr_assert_not(tr);
	cr_assert_eq(guard_conns(G, a), 3);
	cr_assert(guard_conn_open(G, b, &tr));
	guard_conn_close(G, a);
	cr_assert_eq(guard_conns(G, a), 2);
	cr_assert(guard_conn_open(G, a, &tr));
	cr_assert_eq(guard_refusals(G, GUARD_CONNS), 1);
}

Test(guard, tables_stay_bounded_and_reuse_expired_entries_first)
{
	guard_config c = {.user_writes_per_min = 5, .users = 512, .addrs = 512};
	G = guard_new(&c);
	unsigned ra;
	char u[32];
	/* 512 slots, 20000 users in one minute: live entries are pushed out. */
	for (int i = 0; i < 20000; i++) {
		snprintf(u, sizeof u, "user%d", i);
		cr_assert(guard_user_write(G, u, 1, T0, &ra));
	}
	uint64_t ev = guard_evictions(G);
	cr_assert_gt(ev, 0);
	/* Two minutes later every entry is expired: new users take them
	 * without pushing anyone out. */
	for (int i = 0; i < 200; i++) {
		snprintf(u, sizeof u, "late%d", i);
		cr_assert(guard_user_write(G, u, 1, T0 + 2 * MIN, &ra));
	}
	cr_assert_eq(guard_evictions(G), ev);
}

typedef struct {
	atomic_int allowed;
} shared;

static void *hammer(void *arg)
{
	shared *s = arg;
	unsigned ra;
	for (int i = 0; i < 100; i++)
		if (guard_user_write(G, "same", 1, T0, &ra))
			atomic_fetch_add(&s->allowed, 1);
	return NULL;
}

Test(guard, threads_charging_one_user_never_exceed_the_limit)
{
	make(100, 0, 0, 0);
	shared s = {0};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, hammer, &s), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(atomic_load(&s.allowed), 100);
	cr_assert_eq(guard_refusals(G, GUARD_USER_RATE), 300);
}

Test(guard, reasons_have_metric_names_and_counts)
{
	make(0, 0, 0, 0);
	for (int r = 0; r < GUARD_NREASONS; r++)
		cr_assert_str_neq(guard_reason_name((guard_reason)r), "unknown");
	guard_count(G, GUARD_SLOW);
	guard_count(G, GUARD_SLOW);
	guard_count(NULL, GUARD_SLOW);
	cr_assert_eq(guard_refusals(G, GUARD_SLOW), 2);
	cr_assert_str_eq(guard_reason_name(GUARD_RESETS), "rapid_reset");
}

Test(guard, bytes_grow_with_the_users_and_addresses_seen_up_to_the_tables)
{
	/* limits.users and limits.addrs at their defaults: 8 MB and 2 MB of
	 * tables, untouched until a user or an address is first seen. */
	guard_config c = {
	    .user_writes_per_min = 100, .addr_per_s = 10, .users = 262144, .addrs = 65536};
	G = guard_new(&c);
	uint64_t empty = guard_bytes(G);
	cr_assert_lt(empty, 16384, "an idle guard holds its struct only: %lu",
	             (unsigned long)empty);
	unsigned ra;
	char user[32];
	cr_assert(guard_user_write(G, "u0", 1, T0, &ra));
	uint64_t one = guard_bytes(G);
	cr_assert_eq(one, empty + 4096, "one user, one page");
	cr_assert(guard_user_write(G, "u0", 1, T0, &ra));
	cr_assert_eq(guard_bytes(G), one, "the same user writes no new set");
	for (int i = 1; i < 1000; i++) {
		snprintf(user, sizeof user, "u%d", i);
		cr_assert(guard_user_write(G, user, 1, T0, &ra));
	}
	/* 1000 users in about as many of the 32768 sets, on pages a hash
	 * picks: some 790 of the user table's 2048 pages. */
	uint64_t thousand = guard_bytes(G);
	cr_assert_geq(thousand, empty + memacct_touched(262144 * 32, 950), "%lu",
	              (unsigned long)thousand);
	cr_assert_leq(thousand, empty + memacct_touched(262144 * 32, 1000), "%lu",
	              (unsigned long)thousand);
	uint8_t ip[GUARD_IP_LEN];
	ip4(ip, 1);
	cr_assert(guard_addr_request(G, ip, T0, &ra));
	cr_assert_eq(guard_bytes(G), thousand + 4096, "an address, a page of its own table");
	for (int i = 0; i < 1000000; i++) {
		snprintf(user, sizeof user, "v%d", i);
		guard_user_write(G, user, 1, T0, &ra);
	}
	uint64_t full = guard_bytes(G);
	cr_assert_geq(full, empty + 262144 * 32 * 99 / 100, "the user table is written whole");
	cr_assert_leq(full, empty + (262144 + 65536) * 32, "never past the tables' size");
}
