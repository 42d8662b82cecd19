/* opsrun.h - what central's run loop hands the ops API (opsapi.h) and
 * the metrics (cmetrics.h): the counters it bumps, the readiness checks
 * it makes, and the hook that runs a repair where the store's only
 * writer is. Types only.
 */
#ifndef CENTRAL_OPSRUN_H
#define CENTRAL_OPSRUN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "central/apply/verify.h"

/* Counters the run loop bumps (any thread) and /metrics reads. */
typedef struct ops_run_stats {
	_Atomic uint64_t snapshot_messages; /* snapshot messages handed to Kafka */
	_Atomic uint64_t snapshot_errors;   /* not queued, or delivery failed */
	_Atomic uint64_t offset_resets;     /* input offsets found out of range */
	_Atomic int64_t *input_high;        /* per partition: the broker's high watermark
	                                     * as last seen, -1 unknown; NULL = not kept */
	const struct kcommit *commits;      /* positions committed for tools (kcommit.h);
	                                     * set before the ops API starts; NULL = off */
} ops_run_stats;

/* One check of GET /readyz; reason is JSON-safe. */
typedef struct ops_check {
	bool ok;
	char reason[120];
} ops_check;

/* What GET /readyz answers: ready when every check is ok. */
typedef struct ops_readiness {
	ops_check store; /* the store is open */
	ops_check kafka; /* assigned, and a fetch or delivery lately */
	ops_check lag;   /* input not consumed, under ready_max_lag */
} ops_readiness;

/* The daemon's checks as it last made them, copied to out. Called on the
 * ops API's thread, for each GET /readyz. */
typedef void (*ops_readiness_fn)(void *ctx, ops_readiness *out);

/* Runs verify_repair of the n targets where the store's only writer is
 * (central: its run loop), filling r (r->t included); waits at most
 * timeout_ms for the repair to start. 0, ERR_TIMEOUT, ERR_CLOSED,
 * ERR_FULL or ERR_IO. Called on the ops API's thread. */
typedef int (*ops_repair_fn)(void *ctx, const verify_target *t, size_t n, verify_report *r,
                             int timeout_ms);

#endif
