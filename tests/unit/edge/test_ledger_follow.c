/* test_ledger_follow.c - a follower's side of the ledger's log seam
 * (ledger_follow, ledger_log.follow): the log is handed the ledger's
 * apply and promote; what it applies is in the store and in the
 * membership filter; writes are refused until it promotes; the caller's
 * hand-over runs first, and one that fails leaves the ledger a follower.
 *
 * Same fixture as test_ledger.c (ledger_util.h); the log is a fake
 * that keeps what it was handed and calls it from the test's thread.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "edge/ledger/keys.h"
#include "err.h"
#include "tests/support/ledger_util.h"

static struct {
	int (*apply)(void *arg, store_batch *wb);
	int (*promote)(void *arg);
	void *arg;
	store *db;
	unsigned follows, handovers;
	int handover_rc;
} F;

static int follow(void *ctx, store *db, int (*apply)(void *arg, store_batch *wb),
                  int (*promote)(void *arg), void *arg)
{
	(void)ctx;
	F.follows++;
	F.db = db;
	F.apply = apply;
	F.promote = promote;
	F.arg = arg;
	return 0;
}

static int handover(void *ctx)
{
	cr_assert_eq(ctx, &F, "the hand-over gets its own ctx");
	cr_assert(ledger_following(T.l), "the hand-over runs before the ledger writes");
	F.handovers++;
	return F.handover_rc;
}

static ledger_log fake_log; /* ledger_util_quiet_log with follow */

static void setup(void)
{
	ledger_util_setup("test_ledger_follow");
	memset(&F, 0, sizeof F);
	fake_log = ledger_util_quiet_log;
	fake_log.follow = follow;
	T.o.follower = true;
	T.o.member_filter_bytes = 1u << 16;
	T.o.log = &fake_log;
	open_ledger();
}

TestSuite(ledger_follow, .init = setup, .fini = ledger_util_teardown, .timeout = 30);

static int like(const char *user)
{
	ledger_answer a;
	return ledger_write(T.l, "likes", ITEM, user, true, WALL, &a);
}

/* The active's record of user's like of ITEM, as the log hands it over. */
static int apply_member(const char *user)
{
	char k[EKEY_MEMBER_MAX];
	size_t kn = ekey_member(k, "likes", ITEM, user);
	unsigned char v[9] = {1};
	store_put_u64(v + 1, WALL << 16);
	store_batch *wb = store_batch_new();
	store_batch_put(wb, k, kn, v, sizeof v);
	int rc = F.apply(F.arg, wb);
	store_batch_free(wb);
	return rc;
}

/* The active's sealed batch seq of ITEM's partition, one op of user on
 * ITEM (WIRE_ADD or WIRE_REMOVE), as the log hands it over: with the
 * partition's last sealed sequence ('S'), written by the same seal. */
static int apply_batch(uint64_t seq, const char *user, uint8_t kind)
{
	wire_op op = {.counter = wire_cstr("likes", 5),
	              .item = wire_cstr(ITEM, strlen(ITEM)),
	              .user = wire_cstr(user, strlen(user)),
	              .kind = kind,
	              .n = 1,
	              .hlc = WALL << 16};
	wire_batch b = {.edge = wire_cstr(EDGE, strlen(EDGE)),
	                .region = wire_cstr("eu", 2),
	                .partition = T.p,
	                .seq = seq,
	                .created_ms = WALL,
	                .nops = 1,
	                .ops = &op};
	char *buf, k[EKEY_PART_SEQ_LEN];
	size_t len;
	cr_assert_eq(wire_encode_batch(&b, &buf, &len), 0);
	store_batch *wb = store_batch_new();
	store_batch_put(wb, k, ekey_part_seq(k, EKEY_BATCH, T.p, seq), buf, len);
	unsigned char last[16] = {0}; /* [seq][sealed_to], sealed_to not used here */
	store_put_u64(last, seq);
	store_batch_put(wb, k, ekey_part(k, EKEY_SEALED, T.p), last, sizeof last);
	int rc = F.apply(F.arg, wb);
	store_batch_free(wb);
	free(buf);
	return rc;
}

Test(ledger_follow, a_read_through_count_is_central_s_while_following_and_after_promotion)
{
	/* A standby answered 9 likes when 8 had ever been sent (nemesis
	 * seed 101 on real Kafka): central's read-through count already held
	 * the active's batch central had applied, an unlike, and the view
	 * took that batch's -1 off the count as if its overlay held it. A
	 * follower's overlay holds none of the active's batches. */
	ledger_free(T.l);
	T.o.rt_ttl_ms = 60000;
	open_ledger();
	cr_assert_eq(ledger_follow(T.l, handover, &F), 0);
	cr_assert_eq(apply_batch(1, "u1", WIRE_REMOVE), 0);
	cr_assert_eq(apply_batch(2, "u2", WIRE_ADD), 0);
	ledger_readthrough_put(T.l, "likes", ITEM, 8, 11, 1, WALL);
	cr_assert_eq(count_of(ITEM), 8, "central's count, batch 1 in it");
	/* Promoted, its overlay holds batch 1's -1, which central's count
	 * holds too (taken off once), and batch 2's +1, which it does not. */
	cr_assert_eq(F.promote(F.arg), 0);
	cr_assert_not(ledger_following(T.l));
	cr_assert_eq(count_of(ITEM), 9, "central's count and batch 2");
}

Test(ledger_follow, the_log_is_handed_the_ledgers_apply_and_promote_once)
{
	cr_assert(ledger_following(T.l));
	cr_assert_eq(ledger_follow(T.l, handover, &F), 0);
	cr_assert_eq(F.follows, 1);
	cr_assert_eq(ledger_follow(T.l, handover, &F), ERR_INVAL, "a second follower");
	cr_assert_eq(F.follows, 1);
	cr_assert_eq(F.db, T.db, "the log follows into the ledger's store");
	cr_assert(F.apply && F.promote);
	cr_assert_eq(like("u1"), ERR_FENCED, "a follower takes no write");
}

Test(ledger_follow, what_the_log_applies_is_stored_and_known_to_the_membership_filter)
{
	cr_assert_eq(ledger_follow(T.l, handover, &F), 0);
	uint64_t skipped = stats_now().member_reads_skipped;
	cr_assert_eq(member_of("u9", ITEM), -1);
	cr_assert_eq(stats_now().member_reads_skipped, skipped + 1, "the filter ruled it out");
	cr_assert_eq(apply_member("u9"), 0);
	cr_assert_eq(member_of("u9", ITEM), 1, "the filter learnt the key the log wrote");
	cr_assert_eq(stats_now().member_reads_skipped, skipped + 1);
}

Test(ledger_follow, promotion_runs_the_hand_over_first_then_the_ledger_writes)
{
	cr_assert_eq(ledger_follow(T.l, handover, &F), 0);
	cr_assert_eq(apply_member("u9"), 0);
	cr_assert_eq(F.promote(F.arg), 0);
	cr_assert_eq(F.handovers, 1);
	cr_assert_not(ledger_following(T.l));
	cr_assert_eq(like("u1"), 0);
	cr_assert_eq(member_of("u1", ITEM), 1);
	cr_assert_eq(member_of("u9", ITEM), 1, "what the active wrote stays");
}

Test(ledger_follow, a_hand_over_that_fails_leaves_a_follower_that_takes_no_write)
{
	cr_assert_eq(ledger_follow(T.l, handover, &F), 0);
	F.handover_rc = ERR_KAFKA;
	cr_assert_eq(F.promote(F.arg), ERR_KAFKA);
	cr_assert_eq(F.handovers, 1);
	cr_assert(ledger_following(T.l));
	cr_assert_eq(like("u1"), ERR_FENCED);
}

Test(ledger_follow, a_ledger_with_no_follower_side_cannot_follow)
{
	/* The no-op log (no changelog) has none. */
	ledger_free(T.l);
	T.o.log = NULL;
	open_ledger();
	cr_assert_eq(ledger_follow(T.l, handover, &F), ERR_INVAL);
	/* An active ledger follows nothing. */
	ledger_free(T.l);
	T.o.log = &fake_log;
	T.o.follower = false;
	open_ledger();
	cr_assert_eq(ledger_follow(T.l, handover, &F), ERR_INVAL);
	cr_assert_eq(F.follows, 0);
}
