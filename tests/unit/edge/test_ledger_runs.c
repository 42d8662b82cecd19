/* test_ledger_runs.c - the open batch's ops on disk: one 'G' record per
 * group commit, whatever partitions its ops are in (no record per op or
 * per partition). A seal deletes the records it seals the last op of and
 * leaves the others, whose sealed ops a restart skips by the partition's
 * sealed_to ('S'); whatever mix of groups, seals and restarts, every op
 * written is sent exactly once, in order. Stores from before group
 * records ('O', a record per op; 'P', a run per partition and group) are
 * read and their records deleted with their last op; a record that does
 * not decode stays on disk without stopping the edge.
 *
 * Same fixture as test_ledger.c (ledger_util.h); the store is read and
 * written directly to see and plant records.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/support/ledger_util.h"
#include "edge/ledger/ledger_int.h"
#include "edge/telemetry/telemetry.h"
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
	return testdir_count_keys(T.db, prefix, plen);
}

/* Stages (user, item) likes one write each, at wall, and commits them
 * as one group, waiting until they are durable; or, with keep (room for
 * n tickets, which must outlive the group), only stages them. */
static void group_at(const char (*users)[16], const char (*items)[16], size_t n, uint64_t wall,
                     ledger_ticket *keep)
{
	ledger_op *ops = xcalloc(n, sizeof *ops);
	ledger_answer *a = xcalloc(n, sizeof *a);
	ledger_ticket *t = keep ? keep : xcalloc(n, sizeof *t);
	for (size_t i = 0; i < n; i++) {
		ops[i] = (ledger_op){.counter = "likes",
		                     .item = items[i],
		                     .user = users[i],
		                     .add = true,
		                     .prior = -1};
		cr_assert_eq(ledger_stage_ops(T.l, &ops[i], 1, wall, &a[i], NULL, NULL, &t[i]), 0);
	}
	if (keep)
		goto out;
	cr_assert_eq(ledger_commit(T.l, wall), 0);
	/* With the commit thread, the write is the thread's: wait for it. */
	for (int ms = 0; ms < 10000 && ledger_ticket_state(&t[n - 1]) == LEDGER_STAGED; ms++)
		usleep(1000);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(ledger_ticket_state(&t[i]), LEDGER_DURABLE);
out:
	free(ops);
	free(a);
	if (!keep)
		free(t);
}

static void group_of(const char (*users)[16], const char (*items)[16], size_t n)
{
	group_at(users, items, n, WALL, NULL);
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

/* Asserts that the batches sent so far carry, in order, "user@item" of
 * users[i] and items[i] for i < n. */
static void sent_are(const char (*users)[16], const char (*items)[16], size_t n)
{
	char got[64][40];
	size_t k = sent_ops(got, 64);
	cr_assert_eq(k, n, "%zu ops sent, %zu written", k, n);
	for (size_t i = 0; i < n; i++) {
		char want[40];
		snprintf(want, sizeof want, "%s@%s", users[i], items[i]);
		cr_assert_str_eq(got[i], want, "op %zu", i);
	}
}

/* Restarts, finds `open` ops pending, seals them all (every group record
 * goes), and returns sent_ops. */
static size_t restart_and_drain(uint64_t open, char (*got)[40], size_t cap)
{
	reopen();
	cr_assert_eq(stats_now().pending_ops, open);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 0);
	return sent_ops(got, cap);
}

Test(ledger_runs, a_group_writes_one_record_whatever_partitions_it_touched)
{
	char users[30][16], items[30][16];
	int next[NPARTS] = {0};
	for (int i = 0; i < 30; i++) {
		uint32_t p = (uint32_t)(i % 3); /* three of the four partitions */
		snprintf(users[i], sizeof users[i], "u%d", i);
		item_in(p, &next[p], items[i], sizeof items[i]);
	}
	group_of((const char(*)[16])users, (const char(*)[16])items, 30);
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 1, "one record, not one per partition or per op");
	cr_assert_eq(records(EKEY_RUN, NPARTS), 0);
	cr_assert_eq(records(EKEY_OP, NPARTS), 0);
	cr_assert_eq(stats_now().pending_ops, 30);
	reopen();
	cr_assert_eq(stats_now().pending_ops, 30, "the record holds every op");
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 1);
}

Test(ledger_runs, a_seal_inside_a_record_leaves_it_for_the_ops_still_open)
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
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 1, "kept, not rewritten, for its last 3");
	reopen();
	cr_assert_eq(stats_now().pending_ops, 3, "the 7 sealed are not read back");
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	sent_are((const char(*)[16])users, (const char(*)[16])items, 10);
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 0, "gone with its last op");
}

/* The partition of items[i], for an item made by item_in. */
static uint32_t part_of(const char *item)
{
	return partition_of(item, strlen(item), NPARTS);
}

Test(ledger_runs, a_record_shared_with_an_open_partition_is_sealed_once_across_restarts)
{
	ledger_free(T.l);
	T.o.seal_ops = 3;
	open_ledger();
	uint32_t a = T.p, b = (T.p + 1) % NPARTS;
	char users[6][16], items[6][16];
	int na = 0, nb = 0;
	for (int i = 0; i < 6; i++) {
		snprintf(users[i], sizeof users[i], "u%d", i);
		if (i < 3 || i == 5)
			item_in(a, &na, items[i], sizeof items[i]);
		else
			item_in(b, &nb, items[i], sizeof items[i]);
	}
	/* Three ops in a (a full batch: sealed at the commit), two in b. */
	group_of((const char(*)[16])users, (const char(*)[16])items, 5);
	cr_assert_eq(T.nsent, 1);
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 1, "b still needs it");
	reopen();
	cr_assert_eq(stats_now().pending_ops, 2, "a's sealed ops are not read back");
	/* a's op numbers go on above the sealed ones, although no record
	 * left holds an open op of a: one below would be taken for sealed
	 * at the next start, and lost. */
	group_of((const char(*)[16])users + 5, (const char(*)[16])items + 5, 1);
	char got[8][40];
	size_t n = restart_and_drain(3, got, 8);
	cr_assert_eq(n, 6, "%zu ops sent of 6", n);
	for (int i = 0; i < 6; i++) {
		char want[40];
		snprintf(want, sizeof want, "%.15s@%.15s", users[i], items[i]);
		bool found = false;
		for (size_t j = 0; j < n; j++)
			found |= strcmp(got[j], want) == 0;
		cr_assert(found, "op %d (partition %u) sent", i, part_of(items[i]));
	}
}

/* Groups of random sizes on random items, random seals, restarts with
 * random batch sizes, with or without the commit thread: every op is
 * sent exactly once, in the order written per partition. */
static void random_run(bool thread)
{
	enum { OPS = 600 };
	T.o.commit_thread = thread;
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
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 0);
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

Test(ledger_runs, groups_seals_and_restarts_send_every_op_exactly_once)
{
	random_run(false);
}

Test(ledger_runs, the_same_with_the_commit_thread_writing_and_sealing)
{
	random_run(true);
}

/* Puts one record straight into the store. */
static void plant(const char *key, size_t kn, const void *v, size_t vn)
{
	store_batch *b = store_batch_new();
	store_batch_put(b, key, kn, v, vn);
	cr_assert_eq(store_write(T.db, b), 0);
	store_batch_free(b);
}

/* An op as an older edge wrote it, likes of user on item. */
static size_t old_op(unsigned char *enc, const char *user, const char *item, uint64_t stamp)
{
	pend_op op = ledger_op_make("likes", item, user, NULL, 5, strlen(item), strlen(user), 0);
	op.kind = WIRE_ADD;
	op.n = 1;
	op.hlc = stamp;
	op.counts = true;
	size_t len = ledger_op_encode(&op, enc);
	free(op.counter);
	return len;
}

/* Closes the ledger and names five likes in partition T.p. */
static void closed_with_likes(char (*users)[16], char (*items)[16])
{
	ledger_free(T.l);
	T.l = NULL;
	int next = 0;
	for (int i = 0; i < 5; i++) {
		snprintf(users[i], sizeof users[i], "u%d", i);
		item_in(T.p, &next, items[i], sizeof items[i]);
	}
}

Test(ledger_runs, single_op_records_of_an_older_store_are_read_and_sealed)
{
	char users[5][16], items[5][16];
	closed_with_likes(users, items);
	/* Three ops as an edge before runs wrote them: 'O' p opno -> op. */
	for (int i = 0; i < 3; i++) {
		unsigned char enc[OP_ENC_MAX];
		size_t len = old_op(enc, users[i], items[i], (WALL << 16) + (uint64_t)i);
		char key[13];
		plant(key, ekey_part_seq(key, EKEY_OP, T.p, (uint64_t)i), enc, len);
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

/* Opens the ledger over a store whose pending records do not decode
 * (none is read back), and commits one like in T.p. */
static void open_with_one_like(void)
{
	open_ledger();
	cr_assert_eq(stats_now().pending_ops, 0);
	char users[1][16] = {"u1"}, items[1][16];
	int next = 0;
	item_in(T.p, &next, items[0], sizeof items[0]);
	group_of((const char(*)[16])users, (const char(*)[16])items, 1);
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
	open_with_one_like();
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	char got[4][40];
	cr_assert_eq(sent_ops(got, 4), 1, "the edge runs on with what decodes");
	cr_assert_eq(records(EKEY_RUN, T.p), 1, "the bad run is kept for a person to look at");
}

Test(ledger_runs, a_run_of_an_older_store_is_sealed_in_part_then_deleted_with_its_last_op)
{
	char users[5][16], items[5][16];
	closed_with_likes(users, items);
	/* A run of four ops from opno 10, and an 'S' of 8 bytes (sequence
	 * 5, no sealed_to), as an edge before group records wrote them. */
	static unsigned char rec[RUN_HEAD + 4 * OP_ENC_MAX];
	size_t len = RUN_HEAD;
	for (int i = 0; i < 4; i++)
		len += old_op(rec + len, users[i], items[i], (WALL << 16) + (uint64_t)i);
	ledger_run_head(rec, 4);
	char key[13];
	plant(key, ekey_part_seq(key, EKEY_RUN, T.p, 10), rec, len);
	unsigned char seq[8];
	store_put_u64(seq, 5);
	plant(key, ekey_part(key, EKEY_SEALED, T.p), seq, sizeof seq);
	T.o.seal_ops = 3;
	open_ledger();
	cr_assert_eq(stats_now().pending_ops, 4);
	ledger_lock(T.l);
	int rc =
	    ledger_seal(T.l, T.p, WALL, LEDGER_SEAL_OPS, UINT64_MAX); /* one batch of seal_ops */
	ledger_unlock(T.l);
	cr_assert_eq(rc, 0);
	cr_assert_eq(stats_now().pending_ops, 1, "three sealed, the fourth left open");
	cr_assert_eq(records(EKEY_RUN, NPARTS), 1, "the run stays for its fourth op");
	reopen();
	cr_assert_eq(stats_now().pending_ops, 1, "its three sealed ops are not read back");
	group_of((const char(*)[16])users + 4, (const char(*)[16])items + 4, 1);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(records(EKEY_RUN, NPARTS), 0);
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 0);
	/* Numbered on from the old 'S': 6 holds the run's first three ops
	 * (sent again after the restart), 7 its fourth and the new one. */
	bool seen[2] = {false, false};
	for (size_t i = 0; i < T.nsent; i++) {
		wire_batch b;
		size_t s = T.sent[i].seq - 6;
		cr_assert_lt(s, 2, "seq %" PRIu64, T.sent[i].seq);
		seen[s] = true;
		cr_assert_eq(wire_decode_batch(T.sent[i].buf, T.sent[i].len, &b), 0);
		cr_assert_eq(b.nops, s == 0 ? 3 : 2);
		for (uint32_t j = 0; j < b.nops; j++) {
			size_t at = s * 3 + j;
			cr_assert(b.ops[j].user.n == strlen(users[at]) &&
			              memcmp(b.ops[j].user.p, users[at], b.ops[j].user.n) == 0,
			          "batch %zu op %u", 6 + s, j);
		}
		wire_batch_free(&b);
	}
	cr_assert(seen[0] && seen[1]);
}

/* A group record of the given parts, each of n ops liked by "g<k>" on
 * items of its partition from "post:<first>" on. */
static size_t grec_of(unsigned char *rec, const uint32_t *parts, const uint64_t *opnos,
                      const uint32_t *ns, uint32_t nparts)
{
	size_t len = GREC_HEAD;
	int k = 0;
	for (uint32_t i = 0; i < nparts; i++) {
		store_put_u32(rec + len, parts[i]);
		store_put_u64(rec + len + 4, opnos[i]);
		store_put_u32(rec + len + 12, ns[i]);
		len += GREC_PART_HEAD;
		int next = 0;
		for (uint32_t j = 0; j < ns[i]; j++, k++) {
			char user[16], item[16];
			snprintf(user, sizeof user, "g%d", k);
			item_in(parts[i], &next, item, sizeof item);
			len += old_op(rec + len, user, item, (WALL << 16) + (uint64_t)k);
		}
	}
	rec[0] = GREC_FORMAT;
	store_put_u32(rec + 1, nparts);
	return len;
}

Test(ledger_runs, a_group_record_decodes_only_whole)
{
	static unsigned char rec[GREC_HEAD + 8 * (GREC_PART_HEAD + OP_ENC_MAX)];
	const uint32_t parts[] = {2, 0}, ns[] = {3, 1};
	const uint64_t opnos[] = {40, 7};
	size_t len = grec_of(rec, parts, opnos, ns, 2);
	grec_part *gp;
	uint32_t n;
	cr_assert_eq(ledger_grec_decode(rec, len, NPARTS, &gp, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(gp[0].p, 2);
	cr_assert_eq(gp[0].n, 3);
	cr_assert_eq(gp[0].ops[2].opno, 42);
	cr_assert_str_eq(gp[0].ops[2].user, "g2");
	cr_assert_eq(gp[1].p, 0);
	cr_assert_eq(gp[1].ops[0].opno, 7);
	ledger_grec_free(gp, n);
	/* Each of these is refused, and nothing leaks (the ASan build). */
	cr_assert_eq(ledger_grec_decode(rec, len - 1, NPARTS, &gp, &n), ERR_CORRUPT, "cut short");
	cr_assert_eq(ledger_grec_decode(rec, len, 2, &gp, &n), ERR_CORRUPT,
	             "a partition this edge does not have");
	static unsigned char more[sizeof rec + 1];
	memcpy(more, rec, len);
	more[len] = 0;
	cr_assert_eq(ledger_grec_decode(more, len + 1, NPARTS, &gp, &n), ERR_CORRUPT,
	             "a byte after the last op");
	store_put_u32(more + 1, 3);
	cr_assert_eq(ledger_grec_decode(more, len, NPARTS, &gp, &n), ERR_CORRUPT,
	             "fewer parts than it says");
	const uint32_t twice[] = {1, 1};
	len = grec_of(rec, twice, opnos, ns, 2);
	cr_assert_eq(ledger_grec_decode(rec, len, NPARTS, &gp, &n), ERR_CORRUPT,
	             "one partition in two parts");
	const uint32_t none[] = {0};
	len = grec_of(rec, parts, opnos, none, 1);
	cr_assert_eq(ledger_grec_decode(rec, len, NPARTS, &gp, &n), ERR_CORRUPT, "a part of 0 ops");
	rec[0] = RUN_FORMAT;
	cr_assert_eq(ledger_grec_decode(rec, len, NPARTS, &gp, &n), ERR_CORRUPT, "another format");
}

Test(ledger_runs, a_group_record_that_does_not_decode_stays_and_keeps_its_number)
{
	ledger_free(T.l);
	T.l = NULL;
	unsigned char bad[GREC_HEAD + 3];
	bad[0] = GREC_FORMAT;
	store_put_u32(bad + 1, 1);
	memset(bad + GREC_HEAD, 0xee, 3);
	char key[EKEY_GROUP_LEN];
	plant(key, ekey_group(key, 100), bad, sizeof bad);
	open_with_one_like();
	char *v;
	size_t vn;
	cr_assert_eq(store_get(T.db, key, ekey_group(key, 101), &v, &vn), 0,
	             "the next group is numbered above the bad one");
	free(v);
	cr_assert_eq(store_get(T.db, key, ekey_group(key, 100), &v, &vn), 0);
	cr_assert_eq(vn, sizeof bad, "not overwritten");
	free(v);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 1, "the bad one is kept for a person to look at");
}

/* With the ledger closed: group record 3 holding n0 ops of partition 0
 * from opno 5 and n1 of partition 1 from opno 9, and each partition's
 * 'S' (sequence 1) with its sealed_to, none where it is 0. */
static void plant_group_and_marks(uint32_t n0, uint32_t n1, uint64_t to0, uint64_t to1)
{
	ledger_free(T.l);
	T.l = NULL;
	static unsigned char rec[GREC_HEAD + 8 * (GREC_PART_HEAD + OP_ENC_MAX)];
	const uint32_t parts[] = {0, 1}, ns[] = {n0, n1};
	const uint64_t opnos[] = {5, 9};
	char key[EKEY_GROUP_LEN];
	plant(key, ekey_group(key, 3), rec, grec_of(rec, parts, opnos, ns, 2));
	store_batch *b = store_batch_new();
	if (to0)
		ledger_sealed_put(b, 0, 1, to0);
	if (to1)
		ledger_sealed_put(b, 1, 1, to1);
	cr_assert_eq(store_write(T.db, b), 0);
	store_batch_free(b);
}

Test(ledger_runs, a_group_record_with_every_op_sealed_is_not_read_back)
{
	/* Partition 0 sealed to 7 and partition 1 to 10: nothing is open. */
	plant_group_and_marks(2, 1, 7, 10);
	open_ledger();
	cr_assert_eq(stats_now().pending_ops, 0);
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 1, "left on disk: opening writes nothing");
}

Test(ledger_runs, a_group_record_loads_only_its_ops_above_sealed_to)
{
	plant_group_and_marks(3, 2, 7, 0); /* opnos 5 and 6 sealed, 7 open */
	open_ledger();
	cr_assert_eq(stats_now().pending_ops, 3);
	ledger_summary sum;
	ledger_part_state *ps = ledger_inspect(T.l, &sum);
	cr_assert_eq(ps[0].open_ops, 1, "partition 0: its op 7 only");
	cr_assert_eq(ps[1].open_ops, 2);
	free(ps);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 0);
	cr_assert_eq(T.nsent, 2);
	for (size_t i = 0; i < T.nsent; i++) {
		wire_batch wb;
		cr_assert_eq(wire_decode_batch(T.sent[i].buf, T.sent[i].len, &wb), 0);
		cr_assert_eq(T.sent[i].seq, T.sent[i].partition == 0 ? 2 : 1);
		cr_assert_eq(wb.nops, T.sent[i].partition == 0 ? 1 : 2);
		if (T.sent[i].partition == 0)
			cr_assert(wb.ops[0].user.n == 2 && memcmp(wb.ops[0].user.p, "g2", 2) == 0);
		wire_batch_free(&wb);
	}
}

/* What the store write hook does during a seal's write (the first write
 * once armed, after skip others): checks that the writer mutex is let
 * go, and stages n likes from users/items meanwhile, at wall (0: WALL),
 * as a group committed or (stage_only) left open. */
static struct {
	bool armed;
	int skip;
	bool mutex_free;
	const char (*users)[16], (*items)[16];
	size_t n;
	uint64_t wall;
	ledger_ticket *keep; /* only staged, these tickets */
} during;

static void during_seal(void *ctx)
{
	(void)ctx;
	if (!during.armed || during.skip-- > 0)
		return;
	during.armed = false;
	during.mutex_free = pthread_mutex_trylock(&T.l->mu) == 0;
	if (!during.mutex_free)
		return; /* held: a group now would wait for this very thread */
	pthread_mutex_unlock(&T.l->mu);
	group_at(during.users, during.items, during.n, during.wall ? during.wall : WALL,
	         during.keep);
}

/* users[i]@items[i] for i < n: likes in partition a, the last `other`
 * of them in partition b. */
static void likes_in(char (*users)[16], char (*items)[16], int n, int other, uint32_t a, uint32_t b)
{
	int na = 0, nb = 0;
	for (int i = 0; i < n; i++) {
		snprintf(users[i], sizeof users[i], "u%d", i);
		if (i < n - other)
			item_in(a, &na, items[i], sizeof items[i]);
		else
			item_in(b, &nb, items[i], sizeof items[i]);
	}
}

Test(ledger_runs, a_seal_writes_with_the_writer_mutex_let_go_while_groups_go_on)
{
	uint32_t a = T.p, b = (T.p + 1) % NPARTS;
	char users[8][16], items[8][16];
	likes_in(users, items, 8, 1, a, b); /* 0-6 in a, 7 in b */
	group_of((const char(*)[16])users, (const char(*)[16])items, 5);
	during.armed = true;
	during.users = (const char(*)[16])users + 5;
	during.items = (const char(*)[16])items + 5;
	during.n = 3;
	store_write_hook(T.db, during_seal, NULL);
	ledger_lock(T.l);
	int rc = ledger_seal(T.l, a, WALL, LEDGER_SEAL_AGE,
	                     UINT64_MAX); /* the 5 ops open at its start */
	ledger_unlock(T.l);
	store_write_hook(T.db, NULL, NULL);
	cr_assert(during.mutex_free, "the seal wrote holding the writer mutex");
	cr_assert_eq(rc, 0);
	cr_assert_gt(stats_now().seal_write_cpu_ns, 0, "counted as serial work all the same");
	cr_assert_eq(stats_now().pending_ops, 3, "the group written during the seal stays open");
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 1, "the sealed group's record is gone");
	char got[16][40];
	size_t n = restart_and_drain(3, got, 16);
	cr_assert_eq(n, 8, "%zu ops sent of 8", n);
	for (int i = 0; i < 7; i++) { /* partition a's, in order, first */
		char want[40];
		snprintf(want, sizeof want, "%.15s@%.15s", users[i], items[i]);
		cr_assert_str_eq(got[a < b ? i : i + 1], want, "op %d", i);
	}
}

Test(ledger_runs, a_seal_whose_write_fails_while_a_group_joins_keeps_every_record)
{
	uint32_t a = T.p, b = (T.p + 1) % NPARTS;
	char users[6][16], items[6][16];
	likes_in(users, items, 6, 0, a, b);
	group_of((const char(*)[16])users, (const char(*)[16])items, 3);
	during.armed = true;
	during.users = (const char(*)[16])users + 3;
	during.items = (const char(*)[16])items + 3;
	during.n = 3;
	store_write_hook(T.db, during_seal, NULL);
	store_fail_writes(T.db, 1); /* the seal's write */
	int rc = ledger_seal_due(T.l, WALL, true);
	store_write_hook(T.db, NULL, NULL);
	cr_assert(during.mutex_free);
	cr_assert_neq(rc, 0);
	cr_assert_eq(T.nsent, 0);
	cr_assert_eq(stats_now().pending_ops, 6);
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 2, "no record goes with a failed seal");
	/* The records' counts of open ops are back as they were: the next
	 * seal takes both records with their last ops. */
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 0);
	sent_are((const char(*)[16])users, (const char(*)[16])items, 6);
	reopen();
	cr_assert_eq(stats_now().pending_ops, 0);
}

/* A second thread that seals what a group filled in partition p
 * (ledger_seal_full, as the commit thread does) while a seal of p
 * writes: it finds the batch full (the ops being sealed stay in it until
 * the write is done) and waits for that seal, which the hook holds
 * until it does (5 s at most). */
static pthread_t second_sealer;
static bool second_started, second_waited;

static void *seal_full_main(void *arg)
{
	uint32_t p = (uint32_t)(uintptr_t)arg;
	ledger_lock(T.l);
	ledger_seal_full(T.l, p, WALL);
	ledger_unlock(T.l);
	return NULL;
}

static void during_seal_another(void *ctx)
{
	if (!during.armed || during.skip-- > 0)
		return;
	during.armed = false;
	second_started = pthread_create(&second_sealer, NULL, seal_full_main, ctx) == 0;
	for (int ms = 0; second_started && !second_waited && ms < 5000; ms++) {
		pthread_mutex_lock(&T.l->mu);
		second_waited = T.l->sealer.waiters > 0;
		pthread_mutex_unlock(&T.l->mu);
		if (!second_waited)
			usleep(1000);
	}
}

Test(ledger_runs, a_full_batch_seal_that_waited_for_another_leaves_the_rest_open)
{
	/* 150 likes in partition a, one group: the batch is full (seal_ops
	 * 100), and the group's commit seals 100 of them. During that
	 * seal's write a second sealer comes for the same full batch. Once
	 * the first seal is done, 50 ops are open: not a full batch, so the
	 * second seals nothing, where it used to send them as a short one. */
	enum { N = 150 };
	uint32_t a = T.p, b = (T.p + 1) % NPARTS;
	char(*users)[16] = xcalloc(N, 16), (*items)[16] = xcalloc(N, 16);
	likes_in(users, items, N, 0, a, b);
	during.armed = true;
	during.skip = 1; /* the group's own write */
	store_write_hook(T.db, during_seal_another, (void *)(uintptr_t)a);
	group_of((const char(*)[16])users, (const char(*)[16])items, N);
	store_write_hook(T.db, NULL, NULL);
	cr_assert_not(during.armed, "the seal's write did not reach the hook");
	cr_assert(second_started);
	cr_assert_eq(pthread_join(second_sealer, NULL), 0);
	cr_assert(second_waited, "the second sealer never waited for the first");
	cr_assert_eq(T.nsent, 1, "%zu batches sent, of 1", T.nsent);
	ledger_stats st = stats_now();
	cr_assert_eq(st.batches_sealed, 1);
	cr_assert_eq(st.pending_ops, 50);
	free(users);
	free(items);
}

Test(ledger_runs, a_partition_waiting_for_its_checkpoint_keeps_its_ops_in_runs_of_its_own)
{
	ledger_free(T.l);
	T.l = NULL;
	/* Every partition but a knows its sequence; a waits for central's
	 * checkpoint and cannot seal. */
	uint32_t a = T.p;
	store_batch *sb = store_batch_new();
	for (uint32_t p = 0; p < NPARTS; p++)
		if (p != a)
			ledger_sealed_put(sb, p, 0, 0);
	cr_assert_eq(store_write(T.db, sb), 0);
	store_batch_free(sb);
	T.o.seq_from_checkpoint = true;
	open_ledger();
	char users[40][16], items[40][16];
	int next[NPARTS] = {0};
	for (int i = 0; i < 40; i++) {
		uint32_t p = (uint32_t)i % NPARTS;
		snprintf(users[i], sizeof users[i], "u%d", i);
		item_in(p, &next[p], items[i], sizeof items[i]);
		if (i % 8 == 7)
			group_of((const char(*)[16])users + i - 7, (const char(*)[16])items + i - 7,
			         8);
	}
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 5);
	cr_assert_eq(records(EKEY_RUN, a), 5, "a's ops in a run per group");
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(stats_now().pending_ops, 10, "a's ten ops wait");
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 0,
	             "the others' sealed ops are not kept on disk for a");
	reopen();
	cr_assert_eq(stats_now().pending_ops, 10);
	ledger_summary sum;
	ledger_part_state *ps = ledger_inspect(T.l, &sum);
	cr_assert_eq(ps[a].open_ops, 10);
	free(ps);
}

Test(ledger_runs, an_age_seal_takes_the_ops_open_at_its_start_and_no_later_ones)
{
	uint32_t a = T.p, b = (T.p + 1) % NPARTS;
	char users[8][16], items[8][16];
	likes_in(users, items, 8, 0, a, b);
	group_of((const char(*)[16])users, (const char(*)[16])items, 5); /* at WALL */
	/* During the seal's write, 60 s later, three more likes come. */
	uint64_t later = WALL + 60000;
	during = (__typeof__(during)){.armed = true,
	                              .users = (const char(*)[16])users + 5,
	                              .items = (const char(*)[16])items + 5,
	                              .n = 3,
	                              .wall = later};
	store_write_hook(T.db, during_seal, NULL);
	int rc = ledger_seal_due(T.l, later, false);
	store_write_hook(T.db, NULL, NULL);
	cr_assert(during.mutex_free);
	cr_assert_eq(rc, 0);
	cr_assert_eq(T.nsent, 1);
	cr_assert_eq(stats_now().pending_ops, 3, "the likes that came during the seal stay open");
	/* Their batch is as old as they are, not as the sealed ones were. */
	cr_assert_eq(ledger_seal_due(T.l, later + T.o.seal_age_ms - 1, false), 0);
	cr_assert_eq(stats_now().pending_ops, 3, "not old enough to seal yet");
	cr_assert_eq(ledger_seal_due(T.l, later + T.o.seal_age_ms, false), 0);
	cr_assert_eq(stats_now().pending_ops, 0);
	sent_are((const char(*)[16])users, (const char(*)[16])items, 8);
}

Test(ledger_runs, a_write_that_commits_a_full_group_checks_it_again_after_the_seals)
{
	enum { N = 1000, M = 50 };
	ledger_free(T.l);
	T.o.seal_ops = 50; /* the commit fills batches: it seals, letting the mutex go */
	T.o.budget_bytes = 64u << 20;
	open_ledger();
	static char users[2 * N + M][16], items[2 * N + M][16];
	for (int i = 0; i < 2 * N + M; i++) {
		snprintf(users[i], sizeof users[i], "u%d", i);
		snprintf(items[i], sizeof items[i], "post:%d", i);
	}
	static ledger_ticket first[N], staged[N];
	group_at((const char(*)[16])users, (const char(*)[16])items, N, WALL, first);
	/* The group write, then the first seal's: there, N more likes are
	 * staged into the group just opened. */
	during = (__typeof__(during)){.armed = true,
	                              .skip = 1,
	                              .users = (const char(*)[16])users + N,
	                              .items = (const char(*)[16])items + N,
	                              .n = N,
	                              .keep = staged};
	store_write_hook(T.db, during_seal, NULL);
	/* M more do not fit in the group: it is written first. */
	ledger_op ops[M];
	ledger_answer ans[M];
	ledger_ticket t;
	for (int i = 0; i < M; i++)
		ops[i] = (ledger_op){.counter = "likes",
		                     .item = items[2 * N + i],
		                     .user = users[2 * N + i],
		                     .add = true,
		                     .prior = -1};
	int rc = ledger_stage_ops(T.l, ops, M, WALL, ans, NULL, NULL, &t);
	store_write_hook(T.db, NULL, NULL);
	cr_assert(during.mutex_free, "the hook ran during a seal");
	cr_assert_eq(rc, 0);
	cr_assert_leq(T.l->commit.g->n, LEDGER_GROUP_OPS, "%zu ops in the group", T.l->commit.g->n);
	cr_assert_eq(ledger_commit(T.l, WALL), 0);
	cr_assert_eq(ledger_ticket_state(&t), LEDGER_DURABLE);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(ledger_ticket_state(&first[i]), LEDGER_DURABLE);
		cr_assert_eq(ledger_ticket_state(&staged[i]), LEDGER_DURABLE);
	}
	reopen();
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	static char got[2 * N + M][40];
	size_t n = sent_ops(got, 2 * N + M);
	cr_assert_eq(n, 2 * N + M, "%zu ops sent of %d", n, 2 * N + M);
}

Test(ledger_runs, a_partition_whose_newer_ops_are_in_runs_is_read_back_in_opno_order)
{
	ledger_free(T.l);
	T.l = NULL;
	/* Ops 5-6 of partition a in a group record, ops 7-8 in a run (it
	 * waited for a checkpoint after a restart): the runs are read first. */
	uint32_t a = T.p;
	static unsigned char rec[GREC_HEAD + 4 * (GREC_PART_HEAD + OP_ENC_MAX)];
	const uint32_t parts[] = {a}, ns[] = {2};
	const uint64_t opnos[] = {5};
	char key[EKEY_PART_SEQ_LEN];
	plant(key, ekey_group(key, 1), rec, grec_of(rec, parts, opnos, ns, 1));
	static unsigned char run[RUN_HEAD + 2 * OP_ENC_MAX];
	size_t len = RUN_HEAD;
	char item[16];
	int next = 0;
	for (int i = 0; i < 2; i++) {
		item_in(a, &next, item, sizeof item);
		len += old_op(run + len, i ? "r1" : "r0", item, (WALL << 16) + 10 + (uint64_t)i);
	}
	ledger_run_head(run, 2);
	plant(key, ekey_part_seq(key, EKEY_RUN, a, 7), run, len);
	open_ledger();
	cr_assert_eq(stats_now().pending_ops, 4);
	ledger_lock(T.l);
	int rc =
	    ledger_seal(T.l, a, WALL, LEDGER_SEAL_AGE, 6); /* the ops up to 6: the group record's */
	ledger_unlock(T.l);
	cr_assert_eq(rc, 0);
	cr_assert_eq(records(EKEY_GROUP, NPARTS), 0, "the group record's two ops were sealed");
	cr_assert_eq(records(EKEY_RUN, a), 1);
	reopen();
	cr_assert_eq(stats_now().pending_ops, 2, "the run's two, none lost to sealed_to");
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	cr_assert_eq(T.nsent >= 2, true);
	wire_batch b;
	cr_assert_eq(wire_decode_batch(T.sent[0].buf, T.sent[0].len, &b), 0);
	cr_assert_eq(b.nops, 2);
	cr_assert(b.ops[0].user.n == 2 && memcmp(b.ops[0].user.p, "g0", 2) == 0);
	wire_batch_free(&b);
}

Test(ledger_runs, a_corrupt_record_numbered_last_does_not_wrap_the_op_numbers)
{
	ledger_free(T.l);
	T.l = NULL;
	unsigned char bad[RUN_HEAD + 3];
	ledger_run_head(bad, 2);
	memset(bad + RUN_HEAD, 0xee, 3);
	char key[13];
	plant(key, ekey_part_seq(key, EKEY_RUN, T.p, UINT64_MAX), bad, sizeof bad);
	store_batch *b = store_batch_new();
	ledger_sealed_put(b, T.p, 1, 5); /* ops below 5 are sealed */
	cr_assert_eq(store_write(T.db, b), 0);
	store_batch_free(b);
	open_with_one_like();
	reopen();
	cr_assert_eq(stats_now().pending_ops, 1, "the like is numbered above 5, not wrapped to 0");
	/* A run whose numbers would pass the last one does not decode. */
	unsigned char enc[RUN_HEAD + OP_ENC_MAX];
	size_t len = RUN_HEAD + old_op(enc + RUN_HEAD, "x", "post:1", WALL << 16);
	ledger_run_head(enc, 1);
	pend_op *ops;
	uint32_t n;
	cr_assert_eq(ledger_run_decode(enc, len, UINT64_MAX - 1, &ops, &n), ERR_CORRUPT);
	cr_assert_eq(ledger_run_decode(enc, len, 7, &ops, &n), 0);
	cr_assert_eq(n, 1);
	free(ops[0].counter);
	free(ops);
}
