/* test_ledger_io.c - the ledger reads its store with the writer mutex let
 * go: a write's stored memberships and idempotency record are read
 * before it, and sealed batches sent again (after a failed delivery, a
 * restart, or a snapshot that passed them over) are read by the pump
 * with it let go. A store read hook (store_read_hook) counts every read
 * made by a thread that holds the writer mutex (ledger_mine). Groups and
 * seals are written with it let go too, also a group committed at once
 * (store_write_hook).
 *
 * Same fixture as test_ledger.c (ledger_util.h); one thread, writes
 * committed at once, so nothing goes stale between a pre-read and the
 * mutex, but where a test's hook commits a group in between: then the
 * write reads again, still before the mutex (the reread path). The home
 * stream's events do the same, but only for the pairs such a group
 * wrote, and give up (ERR_AGAIN, nothing taken) rather than read under
 * the mutex when every try is overtaken.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>

#include "edge/ledger/ledger_int.h"
#include "tests/support/ledger_util.h"
#include "tests/unit/edge/ledger_fixture.h"
#include "wire.h"

static struct {
	atomic_uint reads, under_mu;
	atomic_uint writes, writes_under_mu;
} R;

static void on_write(void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&R.writes, 1);
	if (ledger_mine)
		atomic_fetch_add(&R.writes_under_mu, 1);
}

static void on_read(void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&R.reads, 1);
	if (ledger_mine)
		atomic_fetch_add(&R.under_mu, 1);
}

static void setup(void)
{
	ledger_util_setup("test_ledger_io");
	T.o.seal_ops = 2;
	store_read_hook(T.db, on_read, NULL);
	open_ledger();
	memset(&R, 0, sizeof R); /* the open's own reads are no test's */
}

static void teardown(void)
{
	if (T.db) {
		store_read_hook(T.db, NULL, NULL);
		store_write_hook(T.db, NULL, NULL);
	}
	ledger_util_teardown();
}

TestSuite(ledger_io, .init = setup, .fini = teardown, .timeout = 60);

static void like(const char *user, bool add)
{
	ledger_answer a;
	cr_assert_eq(ledger_write(T.l, "likes", ITEM, user, add, WALL, &a), 0);
}

static char *render_fixed(void *ctx, const ledger_answer *answers, size_t n, size_t *len)
{
	(void)answers;
	(void)n;
	char *s = xstrdup(ctx);
	*len = strlen(s);
	return s;
}

/* A snapshot of T.p at offset that applied this edge's batches to
 * applied. */
static void snapshot(uint64_t applied, uint64_t offset)
{
	wire_edge_seq e = {wire_cstr(EDGE, strlen(EDGE)), applied, 0};
	wire_snapshot s = wire_util_snap(T.p, offset, WALL, &e, 1, NULL, 0);
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 0), 0);
}

static void no_read_under_the_mutex(const char *what)
{
	cr_assert_gt(atomic_load(&R.reads), 0, "%s: the hook saw no read at all", what);
	cr_assert_eq(atomic_load(&R.under_mu), 0, "%s: %u of %u store reads held the writer mutex",
	             what, atomic_load(&R.under_mu), atomic_load(&R.reads));
}

Test(ledger_io, nothing_is_written_with_the_writer_mutex_held)
{
	store_write_hook(T.db, on_write, NULL);
	/* Each write is its own group, committed at once by the writing
	 * thread (no commit thread in this fixture); seal_ops = 2 seals a
	 * batch every second like, and a forced seal writes what is left. */
	like("u1", true);
	like("u2", true);
	like("u3", true);
	like("u1", false);
	like("u4", true);
	cr_assert_eq(ledger_seal_due(T.l, WALL, true), 0);
	/* The count writers' own: a snapshot position reset and the start of
	 * a replica load. */
	cr_assert_eq(ledger_snapshot_reset(T.l, T.p, 7), 0);
	cr_assert_eq(ledger_replica_begin(T.l, T.p, 9), 0);
	cr_assert_geq(atomic_load(&R.writes), 8, "five groups, a seal and two positions");
	cr_assert_eq(atomic_load(&R.writes_under_mu), 0,
	             "%u of %u store writes held the writer mutex", atomic_load(&R.writes_under_mu),
	             atomic_load(&R.writes));
}

Test(ledger_io, memberships_are_read_before_the_writer_mutex)
{
	like("u1", true);
	like("u1", false);
	like("u2", false); /* never seen here: read, and left to central */
	no_read_under_the_mutex("likes and unlikes");
}

Test(ledger_io, an_idempotency_record_is_read_before_the_writer_mutex)
{
	ledger_op op = {.counter = "likes", .item = ITEM, .user = "u1", .add = true, .prior = -1};
	ledger_idem idem = {
	    .req = {"u1", "key-1", 42, WALL + 1000}, .render = render_fixed, .ctx = "first"};
	ledger_replay r;
	ledger_answer a;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, &idem, &r), 0);
	cr_assert_not(r.replayed);
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL + 1, &a, &idem, &r), 0);
	cr_assert(r.replayed, "the retry is answered from the record");
	free(r.body);
	idem.req.fingerprint = 43;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL + 2, &a, &idem, &r), ERR_CONFLICT);
	cr_assert_eq(stats_now().ops_replayed, 1);
	no_read_under_the_mutex("keyed writes, a replay and a conflict");
}

Test(ledger_io, resends_are_read_with_the_writer_mutex_let_go)
{
	like("u1", true);
	like("u2", true); /* seals seq 1: sent from its bytes */
	cr_assert_eq(T.nsent, 1);
	/* Kafka failed it: the pump reads it back and sends it again. */
	ledger_delivered(T.l, T.p, 1, -1);
	ledger_pump(T.l);
	cr_assert_eq(T.nsent, 2);
	cr_assert_eq(T.sent[1].seq, 1);
	cr_assert(T.sent[1].len == T.sent[0].len &&
	          memcmp(T.sent[1].buf, T.sent[0].buf, T.sent[0].len) == 0);
	/* Central read past it (offset 10 onwards) without applying it: the
	 * snapshot sends it again. */
	ledger_delivered(T.l, T.p, 1, 10);
	snapshot(0, 11);
	cr_assert_eq(T.nsent, 3, "resent after the snapshot");
	cr_assert_eq(T.sent[2].seq, 1);
	/* A restart sends every unconfirmed batch again (open_ledger pumps,
	 * as the edge does). */
	like("u3", true);
	like("u4", true); /* seq 2 */
	size_t before = T.nsent;
	ledger_free(T.l);
	T.l = NULL;
	store_close(T.db);
	T.db = testdir_open_store(T.dir);
	store_read_hook(T.db, on_read, NULL);
	open_ledger();
	cr_assert_eq(T.nsent, before + 2, "seq 1 and 2 sent again at the restart");
	cr_assert_eq(T.sent[before].seq, 1);
	cr_assert_eq(T.sent[before + 1].seq, 2);
	no_read_under_the_mutex("resends");
}

Test(ledger_io, a_resend_waits_for_the_read_and_keeps_the_order)
{
	like("u1", true);
	like("u2", true); /* seq 1 */
	ledger_delivered(T.l, T.p, 1, -1);
	/* seq 2 seals while seq 1 waits to be read again: it may not
	 * overtake it. */
	like("u3", true);
	like("u4", true);
	cr_assert_eq(T.nsent, 1, "seq 2 waits behind seq 1");
	ledger_pump(T.l);
	cr_assert_eq(T.nsent, 3);
	cr_assert_eq(T.sent[1].seq, 1);
	cr_assert_eq(T.sent[2].seq, 2);
	no_read_under_the_mutex("a resend before a fresh batch");
}

/* T.l again with the fixture's commit_between hook (ledger_fixture.h),
 * and the read counts cleared. */
static void reopen_overtaking(bool *once)
{
	reopen_with_commit_between(once);
	memset(&R, 0, sizeof R);
}

Test(ledger_io, a_membership_a_commit_overtook_is_read_again_before_the_writer_mutex)
{
	bool once = true;
	reopen_overtaking(&once);
	ledger_op op = {.counter = "likes", .item = ITEM, .user = "u1", .add = true, .prior = -1};
	ledger_ticket t;
	ledger_answer a;
	cr_assert_eq(ledger_stage_ops(T.l, &op, 1, WALL, &a, NULL, NULL, &t), 0);
	/* The repeat reads u1's membership (none yet), then the first like's
	 * group is written before it takes the mutex. */
	once = false;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	cr_assert(once, "the hook ran");
	cr_assert_eq(t.state, LEDGER_DURABLE);
	cr_assert_not(a.changed, "read again, the like is a repeat");
	cr_assert_eq(stats_now().stage_reread, 1);
	no_read_under_the_mutex("a repeat whose first like was written after its reads");
}

Test(ledger_io, a_record_a_commit_overtook_is_read_again_before_the_writer_mutex)
{
	bool once = true;
	reopen_overtaking(&once);
	ledger_op op = {.counter = "likes", .item = ITEM, .user = "u1", .add = true, .prior = -1};
	ledger_idem idem = {
	    .req = {"u1", "key-1", 42, WALL + 1000}, .render = render_fixed, .ctx = "first"};
	ledger_ticket t;
	ledger_answer a;
	ledger_replay r;
	/* The retry finds no record (its first try is only staged), then
	 * the first try's group is written before it takes the mutex. */
	retry_overtaken(&once, &op, &idem, &t, &a, &r);
	cr_assert(r.replayed, "answered from the first try's record");
	free(r.body);
	no_read_under_the_mutex("a retry whose first try was written after its reads");
}

/* --- the home stream's reads -------------------------------------------------- */

/* The after_preread hook of these tests: counts its calls, and on each
 * of the first writes commits a like of user's pair of item (NULL user:
 * none). */
typedef struct hook_state {
	unsigned calls, writes;
	const char *user, *item;
	bool busy; /* in its own write, whose reads call it too */
} hook_state;

static hook_state H;

static void write_between(void *ctx)
{
	(void)ctx;
	if (H.busy)
		return;
	H.calls++;
	if (!H.user || !H.writes)
		return;
	H.writes--;
	ledger_op op = {.counter = "likes",
	                .item = H.item,
	                .user = H.user,
	                .add = H.writes % 2 == 0,
	                .prior = -1};
	ledger_answer a;
	H.busy = true;
	cr_assert_eq(ledger_write_ops(T.l, &op, 1, WALL, &a, NULL, NULL), 0);
	H.busy = false;
}

static void reopen_writing_between(const char *user, const char *item, unsigned writes)
{
	ledger_free(T.l);
	T.o.after_preread = write_between;
	T.o.hook_ctx = NULL;
	open_ledger();
	H = (hook_state){0, writes, user, item, false};
	memset(&R, 0, sizeof R);
}

static int home_event_at(const char *user, bool add, uint64_t ms, size_t *taken)
{
	ledger_home_ev e = {"likes", ITEM, user, add, hlc_make(ms, 0), NULL, 0, 0};
	ledger_home_pos pos[NPARTS];
	for (uint32_t p = 0; p < NPARTS; p++)
		pos[p] = (ledger_home_pos){-1, 0};
	return ledger_home_apply(T.l, &e, 1, pos, WALL, taken);
}

Test(ledger_io, a_home_event_whose_pair_a_commit_overtook_is_read_again_before_the_writer_mutex)
{
	reopen_writing_between("u6", ITEM, 1);
	size_t taken = 9;
	/* Read: no like of u6 yet; then the hook's like is written; read
	 * again, the older unlike leaves it. */
	cr_assert_eq(home_event_at("u6", false, WALL - 1000, &taken), 0);
	cr_assert_eq(taken, 0, "older than the like it missed");
	cr_assert_eq(H.calls, 2, "read twice");
	cr_assert_eq(member_of("u6", ITEM), 1);
	cr_assert_eq(atomic_load(&R.under_mu), 0);
}

Test(ledger_io, a_commit_of_other_pairs_makes_no_home_event_read_again)
{
	reopen_writing_between("u7", "post:elsewhere", 1);
	size_t taken = 9;
	cr_assert_eq(home_event_at("u6", true, WALL - 1000, &taken), 0);
	cr_assert_eq(taken, 1);
	cr_assert_eq(H.calls, 1, "what was read still holds: read once");
	cr_assert_eq(member_of("u6", ITEM), 1);
	cr_assert_eq(atomic_load(&R.under_mu), 0);
}

Test(ledger_io, a_home_event_overtaken_on_every_try_gives_up_without_reading_under_the_mutex)
{
	reopen_writing_between("u6", ITEM, 1000);
	size_t taken = 9;
	cr_assert_eq(home_event_at("u6", true, WALL - 100000, &taken), ERR_AGAIN);
	cr_assert_gt(H.calls, 2, "it read again");
	cr_assert_lt(H.calls, 100, "and gave up");
	cr_assert_eq(atomic_load(&R.under_mu), 0, "%u of %u store reads held the writer mutex",
	             atomic_load(&R.under_mu), atomic_load(&R.reads));
	/* Once the writes stop, the same event is applied (and loses to them). */
	H.writes = 0;
	cr_assert_eq(home_event_at("u6", true, WALL - 100000, &taken), 0);
	cr_assert_eq(taken, 0, "older than the pair's last write");
}

Test(ledger_io, a_commit_of_likes_makes_no_move_read_again)
{
	reopen_writing_between("u7", "post:elsewhere", 1);
	ledger_home_ev e = {.user = "u6", .home = "us", .since_ms = WALL - 1000, .partition = 0};
	ledger_home_pos pos[NPARTS];
	for (uint32_t p = 0; p < NPARTS; p++)
		pos[p] = (ledger_home_pos){-1, 0};
	size_t taken = 9;
	cr_assert_eq(ledger_home_apply(T.l, &e, 1, pos, WALL, &taken), 0);
	cr_assert_eq(H.calls, 1, "a group that put no mark leaves the move's read standing");
	cr_assert_eq(atomic_load(&R.under_mu), 0);
}
