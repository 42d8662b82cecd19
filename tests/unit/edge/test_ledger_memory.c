/* test_ledger_memory.c - the bytes the ledger's in-memory structures hold
 * (ledger_get_memory): each is 0 or small for an empty ledger, grows
 * with its entries, stays near what its option allows at the cap, and
 * comes down when its entries go (a seal frees the open batch's ops, a
 * confirmation the overlay's entries).
 *
 * Same fixture as test_ledger.c (ledger_util.h), with 16 partitions so
 * that the view has its 16 stripes; every item of a test lives in one
 * partition, so a snapshot of that partition confirms them all.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/support/ledger_util.h"
#include "edge/ledger/ledger_int.h"
#include "memacct.h"
#include "wire.h"

#define PARTS 16
#define CAP 1000 /* cache.entries and central.cache_entries */
#define FILTER (1u << 20)

static void setup(void)
{
	ledger_util_setup("test_ledger_memory");
	T.o.partitions = PARTS;
	T.o.cache_entries = CAP;
	T.o.rt_entries = CAP;
	T.o.rt_ttl_ms = 60000;
	T.o.member_filter_bytes = FILTER;
	T.o.seal_ops = 100000; /* sealed only when a test says */
	T.o.seal_age_ms = 3600000;
	T.p = partition_of(ITEM, strlen(ITEM), PARTS);
	open_ledger();
}

TestSuite(ledger_memory, .init = setup, .fini = ledger_util_teardown, .timeout = 60);

static ledger_memory mem(void)
{
	ledger_memory m;
	ledger_get_memory(T.l, &m);
	return m;
}

/* The i-th item of partition T.p, into buf. */
static const char *item_of(char *buf, size_t cap, int i)
{
	for (int n = 0, found = -1;; n++) {
		snprintf(buf, cap, "post:m%d", n);
		if (partition_of(buf, strlen(buf), PARTS) == T.p && ++found == i)
			return buf;
	}
}

static void like(const char *item, const char *user)
{
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", item, user, true, WALL, &a), 0);
}

/* A snapshot of T.p saying central applied this edge's batches up to
 * applied, at input offset offset. */
static void confirm(uint64_t applied, uint64_t offset)
{
	wire_edge_seq e = {wire_cstr(EDGE, strlen(EDGE)), applied, 0};
	wire_snapshot s = wire_util_snap(T.p, offset, WALL, &e, 1, NULL, 0);
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, (int64_t)offset), 0);
}

Test(ledger_memory, an_empty_ledger_holds_nothing_but_its_partition_table)
{
	ledger_memory m = mem();
	cr_assert_eq(m.count_cache, 0);
	cr_assert_eq(m.readthrough, 0);
	cr_assert_eq(m.overlay, 0);
	cr_assert_eq(m.member_filter, 0, "allocated, but no page written");
	cr_assert_gt(m.outbox, 0, "the per-partition table");
	cr_assert_leq(m.outbox, memacct_chunk(PARTS * sizeof(outbox_part)));
}

Test(ledger_memory, the_count_cache_grows_with_reads_and_stays_near_its_cap)
{
	char item[32];
	ledger_view v;
	uint64_t prev = 0;
	for (int i = 0; i < 20 * CAP; i++) {
		snprintf(item, sizeof item, "post:c%d", i);
		cr_assert_eq(ledger_read(T.l, "likes", item, &v), 0);
		uint64_t b = mem().count_cache;
		if (i == 0)
			cr_assert_gt(b, 0, "one count cached");
		if (i < CAP / 4)
			cr_assert_geq(b, prev, "read %d: the cache only grows until it is full", i);
		/* Two generations of at most half a stripe's share each, in
		 * 64-byte slots at most three quarters full. */
		cr_assert_leq(b, 3 * CAP * sizeof(imap_slot), "read %d: %lu bytes", i,
		              (unsigned long)b);
		prev = b;
	}
	cr_assert_geq(prev, CAP / 2 * sizeof(imap_slot), "a full cache holds its entries");
}

Test(ledger_memory, read_through_counts_grow_with_puts_and_stay_near_their_cap)
{
	char item[32];
	/* Per entry: a 24-byte slot (at most 3/4 full), a key and an entry. */
	size_t per = 2 * sizeof(smap_slot) + memacct_chunk(32) + memacct_chunk(sizeof(rt_entry));
	ledger_readthrough_put(T.l, "likes", "post:r0", 5, 1, 0, WALL);
	uint64_t one = mem().readthrough;
	cr_assert_gt(one, 0);
	for (int i = 1; i < 100; i++) {
		snprintf(item, sizeof item, "post:r%d", i);
		ledger_readthrough_put(T.l, "likes", item, 5, 1, 0, WALL);
	}
	uint64_t hundred = mem().readthrough;
	cr_assert_gt(hundred, one + 50 * memacct_chunk(sizeof(rt_entry)), "grows with the entries");
	for (int i = 100; i < 20 * CAP; i++) {
		snprintf(item, sizeof item, "post:r%d", i);
		ledger_readthrough_put(T.l, "likes", item, 5, 1, 0, WALL);
		cr_assert_leq(mem().readthrough, 2 * CAP * per, "put %d", i);
	}
	cr_assert_geq(mem().readthrough, CAP / 2 * memacct_chunk(sizeof(rt_entry)));
}

Test(ledger_memory, the_overlay_grows_with_counts_moved_and_empties_once_confirmed)
{
	char item[32];
	like(item_of(item, sizeof item, 0), "u");
	uint64_t one = mem().overlay;
	cr_assert_gt(one, 0, "one count moved by an op of this edge");
	like(item, "v");
	cr_assert_eq(mem().overlay, one, "a second op on the same count adds no entry");
	for (int i = 1; i < 50; i++)
		like(item_of(item, sizeof item, i), "u");
	uint64_t fifty = mem().overlay;
	cr_assert_geq(fifty, one + 49 * memacct_chunk(sizeof(overlay_entry)));
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_gt(T.nsent, 0);
	confirm(T.sent[T.nsent - 1].seq, 10);
	uint64_t after = mem().overlay;
	cr_assert_lt(after, fifty - 49 * memacct_chunk(sizeof(overlay_entry)),
	             "confirmed ops leave the overlay (%lu of %lu bytes left)",
	             (unsigned long)after, (unsigned long)fifty);
}

Test(ledger_memory, the_member_filter_holds_the_pages_its_pairs_wrote_and_no_more)
{
	char item[32], user[32];
	like(ITEM, "u0");
	uint64_t one = mem().member_filter;
	cr_assert_eq(one, MEMACCT_PAGE, "one pair, one page");
	for (int i = 1; i < 100; i++) {
		snprintf(user, sizeof user, "u%d", i);
		like(ITEM, user);
	}
	uint64_t hundred = mem().member_filter;
	/* Pairs land on pages as a hash picks them: 100 keys write about 83
	 * of the filter's 256 pages. */
	cr_assert_geq(hundred, memacct_touched(FILTER, 95), "%lu", (unsigned long)hundred);
	cr_assert_leq(hundred, memacct_touched(FILTER, 100), "%lu", (unsigned long)hundred);
	for (int i = 0; i < 20 * (int)(FILTER / MEMACCT_PAGE); i++) {
		snprintf(item, sizeof item, "post:f%d", i);
		like(item, "u");
	}
	cr_assert_geq(mem().member_filter, FILTER * 99 / 100);
	cr_assert_leq(mem().member_filter, FILTER, "store.member_filter_mb at most");
}

Test(ledger_memory, the_outbox_holds_open_ops_until_sealed_and_stays_within_the_budget)
{
	char user[32];
	uint64_t empty = mem().outbox;
	for (int i = 0; i < 200; i++) {
		snprintf(user, sizeof user, "u%d", i);
		like(ITEM, user);
	}
	uint64_t open = mem().outbox;
	/* Each op: its place in the array and its strings. */
	cr_assert_geq(open, empty + 200 * (sizeof(pend_op) + memacct_chunk(16)));
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	uint64_t after_seal = mem().outbox;
	cr_assert_leq(after_seal, open - 200 * memacct_chunk(16),
	              "the sealed ops' strings are freed");
	cr_assert_gt(after_seal, empty, "the arrays and the sealed-batch index stay");

	/* Writes stop at the budget, and so does what the open batches hold. */
	T.answer = ERR_AGAIN; /* Kafka away: nothing leaves */
	uint64_t before = mem().outbox;
	int refused = 0;
	for (int i = 0; i < 100000 && !refused; i++) {
		snprintf(user, sizeof user, "w%d", i);
		ledger_answer a;
		int rc = ledger_write(T.l, "likes", ITEM, user, true, WALL, &a);
		cr_assert(rc == 0 || rc == ERR_FULL, "%s", err_str(rc));
		refused = rc == ERR_FULL;
	}
	cr_assert(refused, "the budget is reached");
	uint64_t full = mem().outbox;
	cr_assert_gt(full, before);
	/* An op costs about 4 times its stored size here (a 56-byte entry,
	 * doubled arrays, a 32-byte string chunk for a 30-byte record). */
	cr_assert_leq(full - before, 8 * T.o.budget_bytes, "%lu bytes for a budget of %lu",
	              (unsigned long)(full - before), (unsigned long)T.o.budget_bytes);
}
