/* test_ledger_runs.c - the open batch's ops on disk as runs: one 'P'
 * record per partition and group commit (no record per op), a seal that
 * ends inside a run leaves the run's tail as a new run, and whatever mix
 * of groups, seals and restarts, every op written is sent exactly once,
 * in order. Stores from before runs ('O', a record per op) are read and
 * their records deleted at the seal; a run that does not decode stays on
 * disk without stopping the edge.
 *
 * Same fixture as test_ledger.c (ledger_util.h); the store is read and
 * written directly to see and plant records.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/ledger_util.h"
#include "edge/ledger/ledger_int.h"
#include "wire.h"

static void setup(void)
{
	ledger_util_setup("test_ledger_runs");
	open_ledger();
}

TestSuite(ledger_runs, .init = setup, .fini = ledger_util_teardown, .timeout = 60);

/* The i-th item (from *next on) whose partition is p, as "post:N". */
static void item_in(uint32_t p, int *next, char *item, size_t cap)
{
	for (;; (*next)++) {
		snprintf(item, cap, "post:%d", *next);
		if (partition_of(item, strlen(item), NPARTS) == p) {
			(*next)++;
			return;
		}
	}
}

/* Store records whose key starts with tag (for p, or any partition when p
 * is NPARTS). */
static size_t records(enum ekey_tag tag, uint32_t p)
{
	char prefix[5];
	size_t plen = p < NPARTS ? ekey_part(prefix, tag, p) : 1;
	prefix[0] = (char)tag;
	store_iter *it = store_iter_new(T.db, prefix, plen);
	const char *k, *v;
	size_t kn, vn, n = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn))
		n++;
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	return n;
}

/* Stages (user, item) likes as one group and commits it. */
static void group_of(const char (*users)[16], const char (*items)[16], size_t n)
{
	ledger_op *ops = xcalloc(n, sizeof *ops);
	ledger_answer *a = xcalloc(n, sizeof *a);
	ledger_ticket *t = xcalloc(n, sizeof *t);
	for (size_t i = 0; i < n; i++) {
		ops[i] = (ledger_op){.counter = "likes",
		                     .item = items[i],
		                     .user = users[i],
		                     .add = true,
		                     .prior = -1};
		cr_assert_eq(ledger_stage_ops(T.l, &ops[i], 1, WALL, &a[i], NULL, NULL, &t[i]), 0);
	}
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(t[i].state, LEDGER_DURABLE);
	free(ops);
	free(a);
	free(t);
}

/* Every op of the distinct batches sent so far, as "user@item" in batch
 * sequence order per partition; a batch sent twice (a resend after a
 * restart) must carry the same bytes. Returns the count; out[] gets them. */
static size_t sent_ops(char (*out)[40], size_t cap)
{
	size_t n = 0;
	for (uint32_t p = 0; p < NPARTS; p++) {
		for (uint64_t seq = 1;; seq++) {
			const sent *first = NULL;
			for (size_t i = 0; i < T.nsent; i++) {
				const sent *s = &T.sent[i];
				if (s->partition != p || s->seq != seq)
					continue;
				if (!first) {
					first = s;
					continue;
				}
				cr_assert(
				    s->len == first->len && memcmp(s->buf, first->buf, s->len) == 0,
				    "partition %u seq %" PRIu64 " sent twice with other bytes", p,
				    seq);
			}
			if (!first)
				break;
			wire_batch b;
			cr_assert_eq(wire_decode_batch(first->buf, first->len, &b), 0);
			for (uint32_t i = 0; i < b.nops; i++) {
				cr_assert_lt(n, cap);
				snprintf(out[n++], sizeof out[0], "%.*s@%.*s", (int)b.ops[i].user.n,
				         b.ops[i].user.p, (int)b.ops[i].item.n, b.ops[i].item.p);
			}
			wire_batch_free(&b);
		}
	}
	return n;
}

Test(ledger_runs, a_group_writes_one_run_per_partition_it_touched)
{
	char users[30][16], items[30][16];
	int next[NPARTS] = {0};
	bool touched[NPARTS] = {false};
	size_t parts = 0;
	for (int i = 0; i < 30; i++) {
		uint32_t p = (uint32_t)(i % 3); /* three of the four partitions */
		snprintf(users[i], sizeof users[i], "u%d", i);
		item_in(p, &next[p], items[i], sizeof items[i]);
		if (!touched[p]) {
			touched[p] = true;
			parts++;
		}
	}
	group_of((const char(*)[16])users, (const char(*)[16])items, 30);
	cr_assert_eq(records(EKEY_RUN, NPARTS), parts,
	             "one run per partition, not one record per op");
	cr_assert_eq(records(EKEY_OP, NPARTS), 0);
	cr_assert_eq(stats_now().pending_ops, 30);
	reopen();
	cr_assert_eq(stats_now().pending_ops, 30, "the runs hold every op");
	cr_assert_eq(records(EKEY_RUN, NPARTS), parts);
}

Test(ledger_runs, a_seal_inside_a_run_keeps_its_tail_open_across_a_restart)
{
	ledger_free(T.l);
	T.o.seal_ops = 7;
	open_ledger();
	char users[10][16], items[10][16];
	int next = 0;
	for (int i = 0; i < 10; i++) {
		snprintf(users[i], sizeof users[i], "u%d", i);
		item_in(T.p, &next, items[i], sizeof items[i]);
	}
	/* One group of 10 in one partition: the commit seals the first 7. */
	group_of((const char(*)[16])users, (const char(*)[16])items, 10);
	cr_assert_eq(T.nsent, 1);
	cr_assert_eq(stats_now().pending_ops, 3);
	cr_assert_eq(records(EKEY_RUN, T.p), 1, "the run's tail, put again under its first op");
	reopen();
	cr_assert_eq(stats_now().pending_ops, 3);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	char got[16][40];
	size_t n = sent_ops(got, 16);
	cr_assert_eq(n, 10, "%zu ops sent", n);
	for (int i = 0; i < 10; i++) {
		char want[40];
		snprintf(want, sizeof want, "%s@%s", users[i], items[i]);
		cr_assert_str_eq(got[i], want, "op %d", i);
	}
	cr_assert_eq(records(EKEY_RUN, NPARTS), 0, "every run sealed is gone");
}

Test(ledger_runs, groups_seals_and_restarts_send_every_op_exactly_once)
{
	enum { OPS = 600 };
	static char users[OPS][16], items[OPS][16], want[OPS][40], got[OPS][40];
	unsigned seed = 7;
	int w = 0;
	for (int round = 0; w < OPS; round++) {
		/* Another batch size now and then: a seal lands anywhere in a run. */
		if (round % 5 == 0) {
			ledger_free(T.l);
			T.l = NULL;
			T.o.seal_ops = 3 + (uint32_t)(rand_r(&seed) % 17);
			store_close(T.db);
			T.db = testdir_open_store(T.dir);
			open_ledger();
		}
		int n = 1 + (int)(rand_r(&seed) % 40);
		if (n > OPS - w)
			n = OPS - w;
		for (int i = 0; i < n; i++) {
			snprintf(users[w + i], sizeof users[0], "u%d", w + i);
			snprintf(items[w + i], sizeof items[0], "post:%u", rand_r(&seed) % 50);
		}
		group_of((const char(*)[16])users + w, (const char(*)[16])items + w, (size_t)n);
		w += n;
		if (rand_r(&seed) % 4 == 0)
			cr_assert_eq(ledger_seal_due(T.l, WALL + 60000, false), 0);
	}
	reopen();
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(stats_now().pending_ops, 0);
	cr_assert_eq(records(EKEY_RUN, NPARTS), 0);
	size_t n = sent_ops(got, OPS);
	cr_assert_eq(n, OPS, "%zu ops sent of %d", n, OPS);
	/* Per partition the order is the order written. */
	for (uint32_t p = 0; p < NPARTS; p++) {
		size_t k = 0;
		for (int i = 0; i < OPS; i++)
			if (partition_of(items[i], strlen(items[i]), NPARTS) == p)
				snprintf(want[k++], sizeof want[0], "%.15s@%.15s", users[i],
				         items[i]);
		size_t j = 0;
		for (size_t i = 0; i < n; i++) {
			const char *at = strchr(got[i], '@') + 1;
			if (partition_of(at, strlen(at), NPARTS) != p)
				continue;
			cr_assert_lt(j, k);
			cr_assert_str_eq(got[i], want[j], "partition %u op %zu", p, j);
			j++;
		}
		cr_assert_eq(j, k, "partition %u: %zu ops sent of %zu", p, j, k);
	}
}

/* Puts one record straight into the store. */
static void plant(const char *key, size_t kn, const void *v, size_t vn)
{
	store_batch *b = store_batch_new();
	store_batch_put(b, key, kn, v, vn);
	cr_assert_eq(store_write(T.db, b), 0);
	store_batch_free(b);
}

Test(ledger_runs, single_op_records_of_an_older_store_are_read_and_sealed)
{
	ledger_free(T.l);
	T.l = NULL;
	char users[5][16], items[5][16];
	int next = 0;
	for (int i = 0; i < 5; i++) {
		snprintf(users[i], sizeof users[i], "u%d", i);
		item_in(T.p, &next, items[i], sizeof items[i]);
	}
	/* Three ops as an edge before runs wrote them: 'O' p opno -> op. */
	for (int i = 0; i < 3; i++) {
		pend_op op = ledger_op_make("likes", items[i], users[i], 5, strlen(items[i]),
		                            strlen(users[i]));
		op.kind = WIRE_ADD;
		op.n = 1;
		op.hlc = (WALL << 16) + (uint64_t)i;
		op.counts = true;
		unsigned char enc[OP_ENC_MAX];
		size_t len = ledger_op_encode(&op, enc);
		char key[13];
		plant(key, ekey_part_seq(key, EKEY_OP, T.p, (uint64_t)i), enc, len);
		free(op.counter);
	}
	open_ledger();
	cr_assert_eq(stats_now().pending_ops, 3);
	ledger_view v;
	cr_assert_eq(ledger_read(T.l, "likes", items[0], &v), 0);
	cr_assert_eq(v.count, 1, "an old pending op shows in the overlay");
	group_of((const char(*)[16])users + 3, (const char(*)[16])items + 3, 2);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	char got[8][40];
	cr_assert_eq(sent_ops(got, 8), 5);
	for (int i = 0; i < 5; i++) {
		char want[40];
		snprintf(want, sizeof want, "%s@%s", users[i], items[i]);
		cr_assert_str_eq(got[i], want, "op %d", i);
	}
	cr_assert_eq(records(EKEY_OP, NPARTS), 0, "the old records are deleted at the seal");
	cr_assert_eq(records(EKEY_RUN, NPARTS), 0);
}

Test(ledger_runs, a_run_that_does_not_decode_stays_on_disk)
{
	ledger_free(T.l);
	T.l = NULL;
	unsigned char bad[RUN_HEAD + 3];
	ledger_run_head(bad, 2); /* says two ops, holds three junk bytes */
	memset(bad + RUN_HEAD, 0xee, 3);
	char key[13];
	plant(key, ekey_part_seq(key, EKEY_RUN, T.p, 100), bad, sizeof bad);
	open_ledger();
	cr_assert_eq(stats_now().pending_ops, 0);
	char users[1][16] = {"u1"}, items[1][16];
	int next = 0;
	item_in(T.p, &next, items[0], sizeof items[0]);
	group_of((const char(*)[16])users, (const char(*)[16])items, 1);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	char got[4][40];
	cr_assert_eq(sent_ops(got, 4), 1, "the edge runs on with what decodes");
	cr_assert_eq(records(EKEY_RUN, T.p), 1, "the bad run is kept for a person to look at");
}
