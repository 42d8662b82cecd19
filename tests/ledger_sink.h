/* ledger_sink.h - a ledger send function for tests that do not look at
 * what would go to Kafka: it takes every sealed batch and drops it.
 * Header only. */
#ifndef TESTS_LEDGER_SINK_H
#define TESTS_LEDGER_SINK_H

#include <stddef.h>
#include <stdint.h>

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

#endif
