/* apply_obs.h - the applier's instruments (apply.h): what it tells the
 * metrics as it applies. Types only, shared by apply.c and apply_ops.c.
 */
#ifndef CENTRAL_APPLY_OBS_H
#define CENTRAL_APPLY_OBS_H

#include <stdint.h>

#include "counter.h"
#include "wire.h"

/* Instruments (metrics): callbacks the applier makes on its own thread,
 * from applier_apply, so they must be cheap and must not call back into
 * the applier. Any may be NULL.
 *   op:          a valid op was applied; moved is how much its count
 *                changed (0 or 1 for a set counter, n for a sum)
 *   invalid:     an op was skipped, for reason why (as in the
 *                dead-letter reason's first_reason)
 *   store_write: one store write took ns nanoseconds
 *   begin, end:  applier_apply of one message starts, and ends after ns
 *                nanoseconds (its decode, effects and store write) */
typedef struct applier_obs {
	void *ctx;
	void (*op)(void *ctx, const counter_def *def, const wire_op *op, uint64_t moved);
	void (*invalid)(void *ctx, const char *why);
	void (*store_write)(void *ctx, uint64_t ns);
	void (*begin)(void *ctx);
	void (*end)(void *ctx, uint64_t ns);
} applier_obs;

#endif
