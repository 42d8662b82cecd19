/* test_apply_deadletter.c - the applier's quarantine hook: which
 * messages it is called for (undecodable, bad header, invalid ops, a
 * held batch that no longer decodes), with which reason, partition,
 * offset and bytes; that the partition's offset still moves past each
 * one and the next good batch applies; and what is never quarantined
 * (duplicates, a held batch applied later).
 *
 * Each test gets its own temp dir with a store and an applier for 4
 * partitions (set counters likes, saves; sum counters views, shares)
 * whose hook records every call.
 */
#include <criterion/criterion.h>
#include <stdio.h>
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
#include "xmem.h"

#define NPARTS 4
#define ITEM "post:1"
#define MAX_CALLS 8

typedef struct dl_call {
	uint32_t partition;
	int64_t offset;
	char *msg;
	size_t len;
	char reason[APPLIER_REASON_MAX];
} dl_call;

static struct {
	char dir[64];
	store *db;
	counters ctr;
	applier *a;
	dl_call calls[MAX_CALLS];
	int ncalls;
} T;

static void record(void *ctx, uint32_t partition, int64_t offset, const void *msg, size_t len,
                   const char *reason)
{
	cr_assert_eq(ctx, &T, "the hook gets its context back");
	cr_assert_lt(T.ncalls, MAX_CALLS);
	dl_call *c = &T.calls[T.ncalls++];
	c->partition = partition;
	c->offset = offset;
	c->msg = xmalloc(len ? len : 1);
	if (len)
		memcpy(c->msg, msg, len);
	c->len = len;
	snprintf(c->reason, sizeof c->reason, "%s", reason);
}

static void setup(void)
{
	log_threshold = -1; /* the refusals below log errors on purpose */
	T.a = apply_util_open("test_apply_dl", "likes,saves", "views,shares", NPARTS, T.dir,
	                      sizeof T.dir, &T.ctr, &T.db);
	applier_set_dead_letter(T.a, record, &T);
	T.ncalls = 0;
}

static void teardown(void)
{
	apply_util_close(T.a, T.db, &T.ctr, T.dir);
	T.a = NULL;
	T.db = NULL;
	for (int i = 0; i < T.ncalls; i++)
		free(T.calls[i].msg);
	T.ncalls = 0;
}

TestSuite(apply_deadletter, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ------------------------------------------------------------- */

typedef wire_util_msg msg;

static wire_op like_op(const char *user, uint64_t ts)
{
	return wire_util_op("likes", ITEM, user, WIRE_ADD, 1, ts);
}

static msg make_batch_in(const char *edge, const char *region, uint32_t p, uint64_t seq,
                         const wire_op *ops, size_t nops)
{
	return wire_util_batch(edge, region, p, seq, ops, nops, NULL, 0);
}

static msg one_like(const char *edge, uint32_t p, uint64_t seq, const char *user)
{
	wire_op op = like_op(user, 10 + seq);
	return make_batch_in(edge, "eu", p, seq, &op, 1);
}

/* Applies m at (p, offset), keeping its bytes for comparison. */
static void apply_keep(uint32_t p, int64_t offset, msg m)
{
	int rc = applier_apply(T.a, p, offset, m.buf, m.len, 0);
	cr_assert_eq(rc, 0, "applier_apply: %s", err_str(rc));
}

static void apply_msg(uint32_t p, int64_t offset, msg m)
{
	apply_keep(p, offset, m);
	free(m.buf);
}

static uint64_t count(void)
{
	uint64_t c = 12345;
	cr_assert_eq(applier_count(T.a, "likes", ITEM, &c), 0);
	return c;
}

static int64_t resume(uint32_t p)
{
	int64_t off = -1;
	cr_assert_eq(applier_resume_offset(T.a, p, &off), 0);
	return off;
}

static applier_stats stats(void)
{
	applier_stats st;
	applier_get_stats(T.a, &st);
	return st;
}

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void assert_call(int i, uint32_t p, int64_t offset, const void *bytes, size_t len,
                        const char *reason_prefix)
{
	cr_assert_gt(T.ncalls, i, "hook call %d never happened", i);
	const dl_call *c = &T.calls[i];
	cr_assert_eq(c->partition, p, "call %d: partition %u", i, c->partition);
	cr_assert_eq(c->offset, offset, "call %d: offset %lld", i, (long long)c->offset);
	cr_assert_eq(c->len, len, "call %d: the message's bytes, unchanged", i);
	cr_assert(len == 0 || memcmp(c->msg, bytes, len) == 0, "call %d: bytes differ", i);
	cr_assert(starts(c->reason, reason_prefix), "call %d: reason \"%s\", wanted \"%s...\"", i,
	          c->reason, reason_prefix);
}

/* ---- refused in whole ---------------------------------------------------- */

Test(apply_deadletter, undecodable_batch_is_quarantined_and_the_next_good_batch_applies)
{
	static const char junk[] = "\xc1 poison, not msgpack";
	cr_assert_eq(applier_apply(T.a, 2, 40, junk, sizeof junk - 1, 0), 0);
	cr_assert_eq(T.ncalls, 1);
	assert_call(0, 2, 40, junk, sizeof junk - 1, "undecodable err=");
	cr_assert_eq(resume(2), 41, "the offset moves past the poison message");

	apply_msg(2, 41, one_like("a", 2, 1, "u1"));
	cr_assert_eq(count(), 1, "the good batch after it applies");
	cr_assert_eq(resume(2), 42);
	cr_assert_eq(T.ncalls, 1, "a good batch is not quarantined");
	cr_assert_eq(stats().batches_deadlettered, 1);
	cr_assert_eq(stats().batches_bad, 1);
}

Test(apply_deadletter, empty_message_is_quarantined)
{
	cr_assert_eq(applier_apply(T.a, 0, 3, NULL, 0, 0), 0);
	assert_call(0, 0, 3, NULL, 0, "undecodable ");
	cr_assert_eq(resume(0), 4);
}

Test(apply_deadletter, batch_for_another_partition_is_quarantined_as_a_bad_header)
{
	msg m = one_like("a", 3, 1, "u1");
	apply_keep(0, 7, m);
	assert_call(0, 0, 7, m.buf, m.len, "bad_header partition_mismatch batch_partition=3");
	free(m.buf);
	cr_assert_eq(count(), 0);
	cr_assert_eq(resume(0), 8);
	apply_msg(0, 8, one_like("a", 0, 1, "u1"));
	cr_assert_eq(count(), 1,
	             "seq 1 of the same edge still applies: the bad one changed nothing");
}

Test(apply_deadletter, bad_edge_and_bad_region_are_named)
{
	wire_op op = like_op("u1", 10);
	msg m = make_batch_in("Not An Edge", "eu", 1, 1, &op, 1);
	apply_keep(1, 0, m);
	assert_call(0, 1, 0, m.buf, m.len, "bad_header bad_edge");
	free(m.buf);
	m = make_batch_in("a", "EU West", 1, 1, &op, 1);
	apply_keep(1, 1, m);
	assert_call(1, 1, 1, m.buf, m.len, "bad_header bad_region");
	free(m.buf);
	cr_assert_eq(count(), 0);
	cr_assert_eq(resume(1), 2);
	cr_assert_eq(stats().batches_deadlettered, 2);
}

/* ---- refused in part ----------------------------------------------------- */

Test(apply_deadletter, invalid_ops_quarantine_the_batch_and_the_valid_ops_apply)
{
	wire_op ops[4] = {like_op("u1", 10), like_op("u2", 11), like_op("u3", 12),
	                  like_op("u4", 13)};
	ops[1].counter = wire_cstr("hugs", 4);
	ops[3].item = wire_cstr("post:no spaces", 14);
	msg m = make_batch_in("a", "eu", 0, 1, ops, 4);
	apply_keep(0, 5, m);
	cr_assert_eq(T.ncalls, 1);
	assert_call(0, 0, 5, m.buf, m.len,
	            "invalid_ops count=2 first_index=1 first_reason=unknown_counter");
	free(m.buf);
	cr_assert_eq(count(), 2, "u1 and u3 are counted");
	cr_assert_eq(stats().ops_invalid, 2);
	cr_assert_eq(resume(0), 6);

	apply_msg(0, 6, one_like("a", 0, 2, "u5"));
	cr_assert_eq(count(), 3);
	cr_assert_eq(T.ncalls, 1);
}

Test(apply_deadletter, duplicate_of_a_quarantined_batch_is_not_quarantined_again)
{
	wire_op ops[2] = {like_op("u1", 10), like_op("u2", 11)};
	ops[0].user = wire_cstr("bad\"user", 8);
	msg m = make_batch_in("a", "eu", 0, 1, ops, 2);
	apply_keep(0, 0, m);
	apply_keep(0, 1, m); /* the edge re-sent it */
	free(m.buf);
	cr_assert_eq(T.ncalls, 1, "only its first delivery is quarantined");
	cr_assert(
	    starts(T.calls[0].reason, "invalid_ops count=1 first_index=0 first_reason=bad_user"),
	    "%s", T.calls[0].reason);
	cr_assert_eq(stats().batches_duplicate, 1);
	cr_assert_eq(count(), 1);
}

Test(apply_deadletter, held_batch_is_checked_when_held_not_again_when_it_applies)
{
	wire_op ops[2] = {like_op("u2", 20), like_op("u3", 21)};
	ops[1].n = 3; /* n != 1 on a set counter */
	msg m = make_batch_in("a", "eu", 0, 2, ops, 2);
	apply_keep(0, 0, m);
	cr_assert_eq(stats().batches_held, 1);
	assert_call(0, 0, 0, m.buf, m.len,
	            "invalid_ops count=1 first_index=1 first_reason=set_n_not_1");
	apply_keep(0, 1, m); /* held again: a re-delivery */
	free(m.buf);
	cr_assert_eq(T.ncalls, 1, "a held batch held again is not quarantined twice");

	apply_msg(0, 2, one_like("a", 0, 1, "u1"));
	cr_assert_eq(count(), 2, "seq 1 and the valid op of the held seq 2");
	cr_assert_eq(T.ncalls, 1, "the held batch is not quarantined when it applies");
	cr_assert_eq(resume(0), 3);
}

Test(apply_deadletter, held_batch_that_no_longer_decodes_is_quarantined_without_an_offset)
{
	apply_msg(1, 0, one_like("a", 1, 2, "u2"));
	cr_assert_eq(T.ncalls, 0);
	/* Damage the held copy in the store. */
	unsigned char key[1 + 64 + 5 + 8];
	size_t kn = ckey_edge(key, 'H', "a", 1, 1);
	store_put_u64(key + kn, 2);
	static const char junk[] = "\xc1\xc1 damaged";
	store_batch *wb = store_batch_new();
	store_batch_put(wb, key, kn + 8, junk, sizeof junk - 1);
	cr_assert_eq(store_write(T.db, wb), 0);
	store_batch_free(wb);

	apply_msg(1, 1, one_like("a", 1, 1, "u1"));
	cr_assert_eq(T.ncalls, 1);
	assert_call(0, 1, -1, junk, sizeof junk - 1, "held_undecodable seq=2 err=");
	cr_assert_eq(count(), 1, "seq 1 applies; the damaged seq 2 is skipped");
	apply_msg(1, 2, one_like("a", 1, 3, "u3"));
	cr_assert_eq(count(), 2, "seq 3 follows: the partition is not stalled");
}

/* ---- without a hook, and failures ---------------------------------------- */

Test(apply_deadletter, without_a_hook_refusals_are_still_counted)
{
	applier_set_dead_letter(T.a, NULL, NULL);
	static const char junk[] = "nope";
	cr_assert_eq(applier_apply(T.a, 0, 0, junk, sizeof junk - 1, 0), 0);
	cr_assert_eq(T.ncalls, 0);
	cr_assert_eq(stats().batches_deadlettered, 1);
	cr_assert_eq(resume(0), 1);
}

Test(apply_deadletter, failed_dead_letters_are_counted)
{
	cr_assert_eq(stats().deadletter_failed, 0);
	applier_dead_letter_failed(T.a);
	applier_dead_letter_failed(T.a);
	cr_assert_eq(stats().deadletter_failed, 2);
}
