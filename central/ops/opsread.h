/* opsread.h - the ops API's read routes (opsread.c): counts, items and
 * their breakdowns, memberships, totals. The ops API's thread. */
#ifndef CENTRAL_OPSREAD_H
#define CENTRAL_OPSREAD_H

#include "central/ops/opsroute.h"

/* GET /v1/counts?items=..[&counters=..][&edge=..] */
void ops_route_counts(const ops_env *env, const ops_call *call);
/* GET /v1/memberships?pairs=counter/item/userhex,... */
void ops_route_memberships(const ops_env *env, const ops_call *call);
/* GET /v1/items/T/I/C[?by=..] or /v1/items/T/I/C/users/U; call->rest is
 * the path after "/v1/items/", and the route parses call->uri's query
 * itself. */
void ops_route_items(const ops_env *env, const ops_call *call);
/* GET /v1/totals/{counter}: the counter is call->rest */
void ops_route_totals(const ops_env *env, const ops_call *call);

extern const char *const ops_counts_params[];
extern const char *const ops_memberships_params[];

#endif
