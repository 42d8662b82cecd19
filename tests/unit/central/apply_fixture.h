/* apply_fixture.h - the fixture test_apply.c and test_apply_ops.c share:
 * each test's temp dir (made in .init, removed in .fini) with a store and
 * an applier for 4 partitions with set counters likes, saves and sum
 * counters views, shares; batches of likes built and applied, the stats,
 * ITEM's count, an edge's sequences in a snapshot, reopening the store.
 *
 * Static, included by one test file of a binary: each file declares its
 * own TestSuite with setup and teardown.
 */
#ifndef TESTS_UNIT_CENTRAL_APPLY_FIXTURE_H
#define TESTS_UNIT_CENTRAL_APPLY_FIXTURE_H

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/apply_util.h"
#include "tests/support/testdir.h"
#include "tests/support/wire_util.h"
#include "central/apply/apply.h"
#include "central/apply/keys.h"
#include "counter.h"
#include "err.h"
#include "log.h"
#include "store.h"
#include "wire.h"

#define NPARTS 4
#define ITEM "post:1"

static struct {
	char dir[64];
	store *db;
	counters ctr;
	applier *a;
} T;

static applier *new_applier(void)
{
	char err[256];
	applier *a = applier_new(T.db, NPARTS, &T.ctr, err, sizeof err);
	cr_assert_not_null(a, "applier_new: %s", err);
	return a;
}

static void setup(void)
{
	log_threshold = LOG_ERROR;
	T.a = apply_util_open("test_apply", "likes,saves", "views,shares", NPARTS, T.dir,
	                      sizeof T.dir, &T.ctr, &T.db);
}

static void teardown(void)
{
	apply_util_close(T.a, T.db, &T.ctr, T.dir);
	T.a = NULL;
	T.db = NULL;
}

/* ---- helpers ------------------------------------------------------------- */

typedef wire_util_msg msg;

static inline wire_op like_op(const char *user, bool add, uint64_t ts)
{
	return wire_util_op("likes", ITEM, user, add ? WIRE_ADD : WIRE_REMOVE, 1, ts);
}

/* A batch from edge in region for partition p with the given ops. */
static msg make_batch_in(const char *edge, const char *region, uint32_t p, uint64_t seq,
                         const wire_op *ops, size_t nops)
{
	return wire_util_batch(edge, region, p, seq, ops, nops, NULL, 0);
}

static msg make_batch(const char *edge, uint32_t p, uint64_t seq, const wire_op *ops, size_t nops)
{
	return make_batch_in(edge, "eu", p, seq, ops, nops);
}

static inline applier_stats stats(void)
{
	applier_stats st;
	applier_get_stats(T.a, &st);
	return st;
}

/* A batch with one like (or unlike) of ITEM by user. */
static inline msg one_op(const char *edge, uint32_t p, uint64_t seq, const char *user, bool add,
                         uint64_t ts)
{
	wire_op op = like_op(user, add, ts);
	return make_batch(edge, p, seq, &op, 1);
}

static void apply_msg(uint32_t p, int64_t offset, msg m)
{
	int rc = applier_apply(T.a, p, offset, m.buf, m.len, 0);
	free(m.buf);
	cr_assert_eq(rc, 0, "applier_apply: %s", err_str(rc));
}

static inline uint64_t count(void)
{
	uint64_t c = 12345;
	cr_assert_eq(applier_count(T.a, "likes", ITEM, &c), 0);
	return c;
}

static inline const wire_edge_seq *snap_edge(const wire_snapshot *s, const char *edge)
{
	for (uint32_t i = 0; i < s->nedges; i++)
		if (s->edges[i].edge.n == strlen(edge) &&
		    memcmp(s->edges[i].edge.p, edge, s->edges[i].edge.n) == 0)
			return &s->edges[i];
	return NULL;
}

/* The home index's entry of (region, p, user, likes, item): false when
 * there is none, else its member byte and clock (*clk). */
static inline bool home_entry_of(const char *region, uint32_t p, const char *user, const char *item,
                                 bool *member, uint64_t *clk)
{
	unsigned char k[CKEY_MAX];
	size_t kn = ckey_home(k, region, strlen(region), p, user, strlen(user), "likes", 5, item,
	                      strlen(item));
	char *v;
	size_t vn;
	int rc = store_get(T.db, k, kn, &v, &vn);
	if (rc == ERR_NOTFOUND)
		return false;
	cr_assert_eq(rc, 0, "store_get: %s", err_str(rc));
	cr_assert(ckey_parse_home_value(v, vn, member, clk), "a 9-byte value with known flags");
	free(v);
	return true;
}

static void reopen(void)
{
	applier_free(T.a);
	store_close(T.db);
	T.db = testdir_open_store(T.dir);
	T.a = new_applier();
}

#endif
