/* ledger_util.h - the fixture test_ledger.c and test_ledger_ops.c share:
 * a real LevelDB store in a temp dir, a recording send function instead
 * of Kafka (it keeps partition, seq and bytes of every call and can play
 * a full queue), and open/reopen/teardown. Include once per test file;
 * set the file's own options in its setup after ledger_util_setup.
 * Header-only: the fixture's state, T, is the test file's own, and its
 * short names (record, reopen, count_of) read as part of each test.
 */
#ifndef TESTS_SUPPORT_LEDGER_UTIL_H
#define TESTS_SUPPORT_LEDGER_UTIL_H

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/ledger_sink.h"
#include "tests/support/quiet_log.h"
#include "tests/support/testdir.h"
#include "tests/support/wire_util.h"
#include "edge/ledger/ledger.h"
#include "err.h"
#include "log.h"
#include "partition.h"
#include "store.h"
#include "wire.h"
#include "xmem.h"

#define LEDGER_UTIL static __attribute__((unused))

#define EDGE "edge-a"
#define ITEM "post:1"
#define NPARTS 4
#define WALL UINT64_C(1800000000000)
#define MAX_SENT 1024

typedef struct sent {
	uint32_t partition;
	uint64_t seq;
	char *buf;
	size_t len;
} sent;

static struct {
	char dir[64];
	store *db;
	ledger *l;
	ledger_opts o;
	sent sent[MAX_SENT];
	size_t nsent;
	int answer; /* what the recorder returns */
	uint32_t p; /* ITEM's partition */
} T;

LEDGER_UTIL int record(void *ctx, uint32_t partition, uint64_t seq, const void *buf, size_t len)
{
	(void)ctx;
	if (T.answer)
		return T.answer;
	cr_assert_lt(T.nsent, MAX_SENT);
	sent *s = &T.sent[T.nsent++];
	s->partition = partition;
	s->seq = seq;
	s->buf = xmalloc(len);
	memcpy(s->buf, buf, len);
	s->len = len;
	return 0;
}

LEDGER_UTIL void open_ledger(void)
{
	char err[256];
	T.l = ledger_open(T.db, &T.o, err, sizeof err);
	cr_assert_not_null(T.l, "ledger_open: %s", err);
	/* As the edge does once it has opened the ledger: what was sealed
	 * and not confirmed goes out again, read back from the store. */
	ledger_pump(T.l);
}

LEDGER_UTIL void ledger_util_setup(const char *name)
{
	log_threshold = LOG_ERROR;
	memset(&T, 0, sizeof T);
	testdir_make(T.dir, sizeof T.dir, name);
	T.db = testdir_open_store(T.dir);
	T.o = (ledger_opts){
	    .edge_id = EDGE,
	    .region = "eu",
	    .partitions = NPARTS,
	    .seal_ops = 100,
	    .seal_sums = true,
	    .seal_age_ms = 1000,
	    .budget_bytes = 1u << 20,
	    .window_bytes = 1u << 20,
	    .cache_entries = 64,
	    .send = record,
	    .send_ctx = NULL,
	};
	T.p = partition_of(ITEM, strlen(ITEM), NPARTS);
}

LEDGER_UTIL void ledger_util_teardown(void)
{
	ledger_free(T.l);
	if (T.db)
		store_close(T.db);
	for (size_t i = 0; i < T.nsent; i++)
		free(T.sent[i].buf);
	testdir_remove(T.dir);
}

/* A replica load of partition p begun: its gen, for ledger_replica_apply. */
LEDGER_UTIL uint32_t ledger_util_replica_start(uint32_t p)
{
	cr_assert_eq(ledger_replica_begin(T.l, p, 0), 0);
	ledger_replica r;
	cr_assert_eq(ledger_replica_get(T.l, p, &r), 0);
	return r.gen;
}

/* Every partition's replica loaded from an empty checkpoint at version 1:
 * an item with no count is 0. */
LEDGER_UTIL void ledger_util_complete_replicas(void)
{
	for (uint32_t p = 0; p < NPARTS; p++) {
		uint32_t gen = ledger_util_replica_start(p);
		wire_snapshot s = wire_util_snap(p, 1, WALL, NULL, 0, NULL, 0);
		cr_assert_eq(ledger_replica_apply(T.l, &s, gen), 0);
	}
}

/* A whole one-message snapshot of item's partition from central at
 * version, with item's likes count. */
LEDGER_UTIL void ledger_util_snapshot(const char *item, uint64_t version, uint64_t count)
{
	static int64_t msg = 0;
	wire_count c = {wire_cstr("likes", 5), wire_cstr(item, strlen(item)), count};
	wire_snapshot s =
	    wire_util_snap(partition_of(item, strlen(item), NPARTS), version, WALL, NULL, 0, &c, 1);
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, msg++), 0);
}

/* The likes count of item, as the ledger answers it. */
LEDGER_UTIL uint64_t count_of(const char *item)
{
	ledger_view v;
	cr_assert_eq(ledger_read(T.l, "likes", item, &v), 0);
	return v.count;
}

/* user's likes membership of item: 1, 0, or -1 when none is recorded. */
LEDGER_UTIL int member_of(const char *user, const char *item)
{
	int st;
	cr_assert_eq(ledger_member(T.l, "likes", item, user, &st), 0);
	return st;
}

LEDGER_UTIL ledger_stats stats_now(void)
{
	ledger_stats s;
	ledger_get_stats(T.l, &s);
	return s;
}

LEDGER_UTIL void reopen(void)
{
	ledger_free(T.l);
	T.l = NULL;
	store_close(T.db);
	T.db = testdir_open_store(T.dir);
	open_ledger();
}

/* --- the random runs: a ledger against its one-op-at-a-time twin ------- */

/* xorshift64: the same sequence in every run. */
LEDGER_UTIL uint64_t ledger_util_rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* A second ledger on its own store (T.dir/one) with T's options, but
 * writing every op at once on the caller's thread and reading every
 * membership from the store: what the ledger under test must answer
 * like, op by op. */
LEDGER_UTIL ledger *ledger_util_twin(store **db2)
{
	char dir2[80];
	snprintf(dir2, sizeof dir2, "%s/one", T.dir);
	*db2 = testdir_open_store(dir2);
	char err[256];
	ledger_opts o2 = T.o;
	o2.send = ledger_sink_discard;
	o2.commit_thread = false;
	o2.before_group_write = NULL;
	o2.member_filter_bytes = 0;
	ledger *l2 = ledger_open(*db2, &o2, err, sizeof err);
	cr_assert_not_null(l2, "%s", err);
	return l2;
}

/* The same op answered the same by both ledgers. */
LEDGER_UTIL void ledger_util_same_answer(const ledger_answer *a1, const ledger_answer *a2, size_t i)
{
	cr_assert_eq(a1->changed, a2->changed, "op %zu", i);
	cr_assert_eq(a1->member, a2->member, "op %zu", i);
	cr_assert_eq(a1->view.count, a2->view.count, "op %zu", i);
}

/* A like (add) or unlike of item by user on the "likes" counter, its
 * prior membership unknown. */
LEDGER_UTIL ledger_op like_op(const char *user, const char *item, bool add)
{
	return (ledger_op){.counter = "likes", .item = item, .user = user, .add = add, .prior = -1};
}

/* After the run: the items' counts and the ops accepted and found
 * duplicate are the same in both; s1 and s2 get both ledgers' stats. */
LEDGER_UTIL void ledger_util_same_state(ledger *l2, unsigned items, ledger_stats *s1,
                                        ledger_stats *s2)
{
	for (unsigned k = 0; k < items; k++) {
		char item[16];
		snprintf(item, sizeof item, "post:%u", k);
		ledger_view v1, v2;
		cr_assert_eq(ledger_read(T.l, "likes", item, &v1), 0);
		cr_assert_eq(ledger_read(l2, "likes", item, &v2), 0);
		cr_assert_eq(v1.count, v2.count, "%s", item);
	}
	ledger_get_stats(T.l, s1);
	ledger_get_stats(l2, s2);
	cr_assert_eq(s1->ops_accepted, s2->ops_accepted);
	cr_assert_eq(s1->ops_duplicate, s2->ops_duplicate);
}

/* The end of a random run on commit threads against its twin (l2 on
 * db2): the threads stopped (they seal the batches their last groups
 * filled after the tickets resolve, so the stats then hold still), the
 * same state (ledger_util_same_state) and the same ops pending or
 * sealed, the twin freed. The ops pending, for
 * ledger_util_reopen_keeps. */
LEDGER_UTIL uint64_t ledger_util_twin_matched(ledger *l2, store *db2, unsigned items)
{
	ledger_stop_commits(T.l);
	ledger_stats s1, s2;
	ledger_util_same_state(l2, items, &s1, &s2);
	cr_assert_eq(s1.pending_ops + s1.batches_sealed * T.o.seal_ops,
	             s2.pending_ops + s2.batches_sealed * T.o.seal_ops,
	             "pending %" PRIu64 " sealed %" PRIu64 " against pending %" PRIu64
	             " sealed %" PRIu64,
	             s1.pending_ops, s1.batches_sealed, s2.pending_ops, s2.batches_sealed);
	ledger_free(l2);
	store_close(db2);
	return s1.pending_ops;
}

/* What the ledger wrote loads again, op numbers and all: after a
 * reopen, as many ops pending as before. */
LEDGER_UTIL void ledger_util_reopen_keeps(uint64_t pending)
{
	reopen();
	cr_assert_eq(stats_now().pending_ops, pending,
	             "%" PRIu64 " after the restart, %" PRIu64 " before", stats_now().pending_ops,
	             pending);
}

#endif
