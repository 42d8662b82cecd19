/* opsmetrics.h - the ops API's metrics routes (opsmetrics.c), which read
 * central's registry (cmetrics.h). The ops API's thread. */
#ifndef CENTRAL_OPSMETRICS_H
#define CENTRAL_OPSMETRICS_H

#include "central/ops/opsroute.h"

/* GET /metrics */
void ops_route_metrics(const ops_env *env, const ops_call *call);
/* GET /v1/hot[?limit=N] */
void ops_route_hot(const ops_env *env, const ops_call *call);

extern const char *const ops_hot_params[];

#endif
