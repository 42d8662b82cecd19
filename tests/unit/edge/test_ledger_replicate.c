/* test_ledger_replicate.c - the ledger's writes for itself go to its
 * log (ledger_opts.log: the changelog) before the store, and so before
 * the answer and before a sealed batch is sent; a write the log refuses
 * is refused and records nothing; a seal it refuses leaves the ops open
 * and sends nothing; a refused group's number goes to the next group, so
 * a copy of it that landed after all is overwritten; every copy the log
 * took is reported once, after its store write landed (the changelog
 * holds write positions back until then).
 *
 * Same fixture as test_ledger.c (ledger_util.h), writes committed at
 * once on the test's thread.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "edge/ledger/keys.h"
#include "tests/support/ledger_util.h"
#include "wire.h"

#define HOOK_CALLS_MAX 64

static struct {
	int fail;                       /* the copy's outcome while nonzero */
	bool refusing;                  /* refusing's answer */
	bool hold_sends;                /* may_send's answer, negated */
	unsigned calls;                 /* every call */
	unsigned written;               /* puts it saw that the store already held */
	size_t sent_at[HOOK_CALLS_MAX]; /* T.nsent at each call */
	bool sealed[HOOK_CALLS_MAX];    /* the call held a sealed batch ('B') */
	unsigned batch_dels;            /* deletions of sealed batches seen */
	uint64_t gno[HOOK_CALLS_MAX];   /* its group record's number, or 0 */
	bool has_gno[HOOK_CALLS_MAX];
	bool may_defer[HOOK_CALLS_MAX];           /* the call's may_defer */
	const store_batch *taken[HOOK_CALLS_MAX]; /* copies taken, not reported yet */
	int rc[HOOK_CALLS_MAX];                   /* each copy's outcome, for end */
	unsigned ntaken, reported, unlanded, unknown, refused;
} H;

static void on_put(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	(void)v;
	(void)vn;
	unsigned i = *(unsigned *)ctx;
	char *got;
	size_t n;
	if (store_get(T.db, k, kn, &got, &n) == 0) {
		/* 'S' and 'B' of a partition are rewritten by each seal; any
		 * other key already there would mean the store came first. */
		if (k[0] != EKEY_SEALED)
			H.written++;
		free(got);
	}
	if (k[0] == EKEY_BATCH)
		H.sealed[i] = true;
	uint64_t gno;
	if (ekey_group_parse(k, kn, &gno)) {
		H.gno[i] = gno;
		H.has_gno[i] = true;
	}
}

static void on_del(void *ctx, const char *k, size_t kn)
{
	(void)ctx;
	(void)kn;
	if (k[0] == EKEY_BATCH)
		H.batch_dels++;
}

/* ledger_log.begin: a copy sent, its outcome (H.fail) settled now. */
static void *begin(void *ctx, store_batch *wb, bool may_defer)
{
	(void)ctx;
	unsigned i = H.calls++;
	cr_assert_lt(i, HOOK_CALLS_MAX);
	H.sent_at[i] = T.nsent;
	H.may_defer[i] = may_defer;
	store_batch_iterate(wb, &i, on_put, on_del);
	if (!H.fail)
		H.taken[H.ntaken++] = wb;
	H.rc[i] = H.fail;
	return &H.rc[i];
}

static int end(void *ctx, store_batch *wb, void *pending)
{
	(void)ctx;
	(void)wb;
	return *(int *)pending;
}

static void landed(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	(void)ctx;
	(void)v;
	(void)vn;
	char *got;
	size_t n;
	if (store_get(T.db, k, kn, &got, &n) == 0)
		free(got);
	else
		H.unlanded++;
}

static void no_del(void *ctx, const char *k, size_t kn)
{
	(void)ctx;
	(void)k;
	(void)kn;
}

/* ledger_log.written: a copy taken, its write landed (rc 0). */
static void written(void *ctx, const store_batch *wb, int rc)
{
	(void)ctx;
	H.reported++;
	for (unsigned i = 0; i < H.ntaken; i++)
		if (H.taken[i] == wb) {
			H.taken[i] = H.taken[--H.ntaken];
			if (rc == 0)
				store_batch_iterate(wb, NULL, landed, no_del);
			return;
		}
	H.unknown++;
}

/* ledger_log.refused: a group's copy the ledger refused. */
static void refused(void *ctx, const store_batch *wb)
{
	(void)ctx;
	(void)wb;
	H.refused++;
}

static bool refusing(void *ctx)
{
	(void)ctx;
	return H.refusing;
}

static bool may_send(void *ctx)
{
	(void)ctx;
	return !H.hold_sends;
}

static char *render_ok(void *ctx, const ledger_answer *answers, size_t n, size_t *len)
{
	(void)ctx;
	(void)answers;
	(void)n;
	*len = 2;
	return xstrdup("ok");
}

/* u1's like of ITEM under idempotency key k1 at wall, written (t NULL)
 * or staged with t; the answer's replay in *r (its body the caller's). */
static int keyed_like(uint64_t wall, ledger_replay *r, ledger_ticket *t)
{
	ledger_op op = {.counter = "likes", .item = ITEM, .user = "u1", .add = true, .prior = -1};
	ledger_idem idem = {.req = {"u1", "k1", 42, WALL + 60000}, .render = render_ok};
	ledger_answer a;
	return ledger_stage_ops(T.l, &op, 1, wall, &a, &idem, r, t);
}

static void setup(void)
{
	ledger_util_setup("test_ledger_replicate");
	memset(&H, 0, sizeof H);
	T.o.seal_ops = 2;
	static const ledger_log log = {
	    .begin = begin,
	    .end = end,
	    .written = written,
	    .refused = refused,
	    .refusing = refusing,
	    .may_send = may_send,
	};
	T.o.log = &log;
	open_ledger();
}

TestSuite(ledger_replicate, .init = setup, .fini = ledger_util_teardown, .timeout = 60);

static int like(const char *user)
{
	ledger_answer a;
	return ledger_write(T.l, "likes", ITEM, user, true, WALL, &a);
}

Test(ledger_replicate, a_write_is_copied_before_it_is_stored_and_answered)
{
	cr_assert_eq(like("u1"), 0);
	cr_assert_eq(H.calls, 1, "one copy per group commit");
	cr_assert(H.has_gno[0], "the copy holds the group record");
	cr_assert_eq(H.written, 0, "the copy came before the store write");
	cr_assert(H.may_defer[0], "a group's copy may wait on the disk (durability = local)");
	cr_assert_eq(member_of("u1", ITEM), 1);
}

Test(ledger_replicate, a_seal_is_copied_before_its_batch_is_sent)
{
	cr_assert_eq(like("u1"), 0);
	cr_assert_eq(like("u2"), 0); /* fills the batch: sealed */
	cr_assert_eq(T.nsent, 1);
	unsigned seal = H.calls;
	for (unsigned i = 0; i < H.calls; i++)
		if (H.sealed[i])
			seal = i;
	cr_assert_lt(seal, H.calls, "the seal was copied");
	cr_assert_eq(H.sent_at[seal], 0, "and nothing was sent before its copy");
	cr_assert_not(H.may_defer[seal], "a seal's copy is never held back");
	cr_assert_eq(H.written, 0);
}

Test(ledger_replicate, a_write_whose_copy_fails_is_refused_and_records_nothing)
{
	cr_assert_eq(like("u1"), 0);
	H.fail = ERR_TIMEOUT;
	cr_assert_eq(like("u2"), ERR_TIMEOUT);
	cr_assert_eq(member_of("u2", ITEM), -1, "nothing recorded");
	cr_assert_eq(stats_now().pending_ops, 1);
	/* The refused group's number is the next group's: a copy of it that
	 * reached the log after all is overwritten there. */
	H.fail = 0;
	cr_assert_eq(like("u3"), 0);
	cr_assert(H.has_gno[1] && H.has_gno[2]);
	cr_assert_eq(H.gno[2], H.gno[1], "the refused group's number used again");
	cr_assert_eq(H.gno[1], H.gno[0] + 1);
	cr_assert_eq(member_of("u3", ITEM), 1);
}

/* While the changelog refuses copies at once (refusing: the
 * region's Kafka took none lately and a probe is out), a write is
 * refused before it is staged: no copy is tried, nothing is recorded,
 * and it never waits for room behind a group in flight. A retry of a
 * write already written is still answered from its record. */
Test(ledger_replicate, a_write_while_copies_are_refused_is_refused_before_it_is_staged)
{
	ledger_replay r;
	cr_assert_eq(keyed_like(WALL, &r, NULL), 0);
	unsigned calls = H.calls;
	H.refusing = true;
	cr_assert_eq(like("u2"), ERR_TIMEOUT);
	cr_assert_eq(H.calls, calls, "no copy tried");
	cr_assert_eq(member_of("u2", ITEM), -1, "nothing recorded");
	cr_assert_eq(keyed_like(WALL + 10, &r, NULL), 0);
	cr_assert(r.replayed, "a retry of a written write is answered from its record");
	free(r.body);
	H.refusing = false;
	cr_assert_eq(like("u2"), 0);
	cr_assert_eq(member_of("u2", ITEM), 1);
}

/* A retry of a write still in a group (the probe's, say) is not refused
 * early: refused, its client would learn "not recorded" of a write the
 * group then records. It waits for that write and answers with it. */
Test(ledger_replicate, a_retry_of_a_write_in_a_group_is_not_refused_early)
{
	ledger_replay r;
	ledger_ticket t;
	cr_assert_eq(keyed_like(WALL, &r, &t), 0);
	cr_assert(ledger_ticket_staged(&t));
	H.refusing = true; /* the group holding k1 is the probe now */
	cr_assert_eq(keyed_like(WALL + 10, &r, NULL), 0);
	cr_assert(r.replayed, "answered with the first try's outcome");
	free(r.body);
	cr_assert_eq(ledger_ticket_state(&t), LEDGER_DURABLE);
	cr_assert_eq(member_of("u1", ITEM), 1);
	/* A write of another key is refused early all the same. */
	cr_assert_eq(like("u2"), ERR_TIMEOUT);
}

Test(ledger_replicate, a_seal_whose_copy_fails_leaves_its_ops_open_and_sends_nothing)
{
	cr_assert_eq(like("u1"), 0);
	cr_assert_eq(like("u2"), 0); /* seq 1, sealed and sent */
	ledger_stats s = stats_now();
	cr_assert_eq(T.nsent, 1);
	size_t sealed_before = s.batches_sealed;
	cr_assert_eq(like("u3"), 0);
	H.fail = ERR_KAFKA;
	cr_assert_neq(ledger_seal_due(T.l, WALL + 60000, true), 0);
	cr_assert_eq(T.nsent, 1, "no batch without its seal's copy");
	cr_assert_eq(stats_now().batches_sealed, sealed_before);
	cr_assert_eq(stats_now().pending_ops, 1);
	H.fail = 0;
	cr_assert_eq(ledger_seal_due(T.l, WALL + 60000, true), 0);
	cr_assert_eq(T.nsent, 2);
	cr_assert_eq(T.sent[1].seq, 2, "the next sequence, as if nothing had failed");
	cr_assert_eq(stats_now().pending_ops, 0);
}

/* While the changelog cannot vouch that this instance is still the
 * writer (may_send false), sealed batches stay unsent; the next pump
 * after it can sends them. */
Test(ledger_replicate, no_batch_is_sent_while_the_writer_is_not_vouched_for)
{
	H.hold_sends = true;
	cr_assert_eq(like("u1"), 0);
	cr_assert_eq(like("u2"), 0); /* fills the batch: sealed */
	cr_assert_eq(stats_now().batches_sealed, 1);
	cr_assert_eq(T.nsent, 0, "sealed, not sent");
	ledger_pump(T.l);
	cr_assert_eq(T.nsent, 0);
	H.hold_sends = false;
	ledger_pump(T.l);
	cr_assert_eq(T.nsent, 1);
	cr_assert_eq(T.sent[0].seq, 1);
}

/* u1's and u2's likes, a group each, sealed as seq 1 and delivered; *s
 * (on *e, which the caller keeps) is central's snapshot applying it. */
static void seq1_delivered(wire_edge_seq *e, wire_snapshot *s)
{
	cr_assert_eq(like("u1"), 0);
	cr_assert_eq(like("u2"), 0); /* seq 1 */
	ledger_delivered(T.l, T.p, 1, 0);
	*e = (wire_edge_seq){wire_cstr(EDGE, strlen(EDGE)), 1, 0};
	*s = wire_util_snap(T.p, 1, WALL, e, 1, NULL, 0);
}

Test(ledger_replicate, a_confirmation_copies_the_deletion_of_the_applied_batches)
{
	wire_edge_seq e;
	wire_snapshot s;
	seq1_delivered(&e, &s);
	unsigned before = H.calls;
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 0), 0);
	cr_assert_eq(H.calls, before + 1, "the confirmation is copied");
	cr_assert_not(H.may_defer[before]);
	cr_assert_eq(H.batch_dels, 1, "seq 1's deletion is in the copy");
	cr_assert_eq(stats_now().batches_applied, 1);
	/* A copy that fails holds nothing up: the hint is lost, the
	 * confirmation stands. */
	cr_assert_eq(like("u3"), 0);
	cr_assert_eq(like("u4"), 0); /* seq 2 */
	ledger_delivered(T.l, T.p, 2, 1);
	H.fail = ERR_TIMEOUT;
	e.applied = 2;
	s.offset = 2;
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 1), 0);
	cr_assert_eq(stats_now().batches_applied, 2);
	cr_assert_eq(stats_now().pending_batches, 0);
}

Test(ledger_replicate, every_copy_taken_is_reported_once_after_its_store_write)
{
	wire_edge_seq e;
	wire_snapshot s;
	seq1_delivered(&e, &s);
	cr_assert_eq(ledger_apply_snapshot(T.l, &s, 0), 0); /* a confirmation */
	H.fail = ERR_TIMEOUT;
	cr_assert_eq(like("u3"), ERR_TIMEOUT); /* refused: not taken, not reported */
	H.fail = 0;
	cr_assert_eq(like("u4"), 0);
	cr_assert_geq(H.calls, 5);
	cr_assert_eq(H.ntaken, 0, "every copy taken was reported");
	cr_assert_eq(H.reported, H.calls - 1, "once each, the refused one not at all");
	cr_assert_eq(H.unknown, 0, "no report of a copy not taken");
	cr_assert_eq(H.refused, 1, "the refused group's copy is undone in the log");
	cr_assert_eq(H.unlanded, 0, "each after its write landed");
}
