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
#include <stdlib.h>
#include <string.h>

#include "tests/support/testdir.h"
#include "edge/ledger/ledger.h"
#include "err.h"
#include "log.h"
#include "partition.h"
#include "store.h"
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

#endif
