/* quiet_log.h - a fake log for the ledger (ledger_log) whose parts say
 * nothing: a copy taken at once, nothing said of it, no refusal, sends
 * always vouched for. A test that needs one part to act (hold a copy,
 * follow) copies ledger_util_quiet_log and sets that part. Header-only,
 * with no state: any test file may include it, with or without
 * ledger_util.h's fixture.
 */
#ifndef TESTS_SUPPORT_QUIET_LOG_H
#define TESTS_SUPPORT_QUIET_LOG_H

#include <stdbool.h>

#include "edge/ledger/ledger.h"
#include "store.h"

#define QUIET_LOG static __attribute__((unused))

QUIET_LOG void *ledger_util_log_begin(void *ctx, store_batch *wb, bool may_defer)
{
	(void)ctx, (void)wb, (void)may_defer;
	return NULL;
}

QUIET_LOG int ledger_util_log_end(void *ctx, store_batch *wb, void *pending)
{
	(void)ctx, (void)wb, (void)pending;
	return 0;
}

QUIET_LOG void ledger_util_log_written(void *ctx, const store_batch *wb, int rc)
{
	(void)ctx, (void)wb, (void)rc;
}

QUIET_LOG void ledger_util_log_refused(void *ctx, const store_batch *wb)
{
	(void)ctx, (void)wb;
}

QUIET_LOG bool ledger_util_log_refusing(void *ctx)
{
	(void)ctx;
	return false;
}

QUIET_LOG bool ledger_util_log_may_send(void *ctx)
{
	(void)ctx;
	return true;
}

/* A fake log with only the quiet parts above: no follower's side. A test
 * that needs one copies it and sets follow. */
QUIET_LOG const ledger_log ledger_util_quiet_log = {
    .begin = ledger_util_log_begin,
    .end = ledger_util_log_end,
    .written = ledger_util_log_written,
    .refused = ledger_util_log_refused,
    .refusing = ledger_util_log_refusing,
    .may_send = ledger_util_log_may_send,
};

#endif
