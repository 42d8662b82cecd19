/* ledger_sink.h - for tests of what sits on a ledger: a send function
 * for tests that do not look at what would go to Kafka (it takes every
 * sealed batch and drops it), and a replica made complete and empty, as
 * an edge's is after loading a checkpoint of a central with no counts.
 * Compiled once into the test support library, which fuzz_http links
 * too: no Criterion here.
 */
#ifndef TESTS_SUPPORT_LEDGER_SINK_H
#define TESTS_SUPPORT_LEDGER_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "edge/ledger/ledger.h"

/* A ledger_opts.send that takes every sealed batch and drops it: 0. */
int ledger_sink_discard(void *ctx, uint32_t p, uint64_t seq, const void *buf, size_t len);

/* Every partition of l complete at version 0 with no counts: an item with
 * no count is then 0. 0 or the ledger's error. */
int ledger_sink_complete(ledger *l, uint32_t partitions);

#endif
