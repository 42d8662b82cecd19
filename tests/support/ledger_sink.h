/* ledger_sink.h - for tests of what sits on a ledger: a send function
 * for tests that do not look at what would go to Kafka (it takes every
 * sealed batch and drops it), and a replica made complete and empty, as
 * an edge's is after loading a checkpoint of a central with no counts.
 * Header only. */
#ifndef TESTS_LEDGER_SINK_H
#define TESTS_LEDGER_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "edge/ledger.h"
#include "wire.h"

static inline int ledger_sink_discard(void *ctx, uint32_t p, uint64_t seq, const void *buf,
                                      size_t len)
{
	(void)ctx;
	(void)p;
	(void)seq;
	(void)buf;
	(void)len;
	return 0;
}

/* Every partition of l complete at version 0 with no counts: an item with
 * no count is then 0. 0 or the ledger's error. */
static inline int ledger_sink_complete(ledger *l, uint32_t partitions)
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

#endif
