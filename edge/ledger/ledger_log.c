/* ledger_log.c - the ledger's side of its log (ledger.h, ledger_log):
 * the log a ledger opened without one gets, and the one way a store
 * batch the ledger writes for itself reaches the store once its copy is
 * taken. Any thread, with the writer mutex let go.
 */
#include "edge/ledger/ledger_int.h"

static void *none_begin(void *ctx, store_batch *wb, bool may_defer)
{
	(void)ctx;
	(void)wb;
	(void)may_defer;
	return NULL;
}

static int none_end(void *ctx, store_batch *wb, void *pending)
{
	(void)ctx;
	(void)wb;
	(void)pending;
	return 0;
}

static void none_written(void *ctx, const store_batch *wb, int rc)
{
	(void)ctx;
	(void)wb;
	(void)rc;
}

static void none_refused(void *ctx, const store_batch *wb)
{
	(void)ctx;
	(void)wb;
}

static bool none_refusing(void *ctx)
{
	(void)ctx;
	return false;
}

static bool none_may_send(void *ctx)
{
	(void)ctx;
	return true;
}

/* Takes every copy at once, refuses nothing, vouches for every send. */
const ledger_log ledger_log_none = {
    .begin = none_begin,
    .end = none_end,
    .written = none_written,
    .refused = none_refused,
    .refusing = none_refusing,
    .may_send = none_may_send,
};

int ledger_log_copy(ledger *l, store_batch *wb, bool may_defer)
{
	const ledger_log *lg = l->o.log;
	return lg->end(l->o.log_ctx, wb, lg->begin(l->o.log_ctx, wb, may_defer));
}

int ledger_log_write(ledger *l, store_batch *wb, const store_batch *copy, bool may_defer)
{
	const ledger_log *lg = l->o.log;
	int rc = store_write(l->db, wb);
	/* A group's copy, in the log and not in this store, is undone there
	 * as the copies of the groups staged on it will be: the undoing of
	 * each reads this store, so the log, replayed, ends where the store
	 * is once the undoing lands (the standby's store too). A seal's is
	 * not: it is tried again under the same sequence, over the same
	 * keys. */
	if (rc && may_defer)
		lg->refused(l->o.log_ctx, copy);
	else
		lg->written(l->o.log_ctx, copy, rc);
	return rc;
}
