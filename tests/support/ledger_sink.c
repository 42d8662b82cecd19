/* ledger_sink.c - a send function that drops every batch, and an empty
 * complete replica, for tests of what sits on a ledger (ledger_sink.h). */
#include "tests/support/ledger_sink.h"

#include <stddef.h>
#include <stdint.h>

#include "edge/ledger/ledger.h"
#include "wire.h"

int ledger_sink_discard(void *ctx, uint32_t p, uint64_t seq, const void *buf, size_t len)
{
	(void)ctx;
	(void)p;
	(void)seq;
	(void)buf;
	(void)len;
	return 0;
}

int ledger_sink_complete(ledger *l, uint32_t partitions)
{
	for (uint32_t p = 0; p < partitions; p++) {
		ledger_replica r;
		wire_snapshot s = {.partition = p, .last = true};
		int rc = ledger_replica_begin(l, p, -1);
		if (!rc)
			rc = ledger_replica_get(l, p, &r);
		if (!rc)
			rc = ledger_replica_apply(l, &s, r.gen);
		if (rc)
			return rc;
	}
	return 0;
}
