/* opsapi.h - central's internal HTTP/1.1 ops API (libevent evhttp).
 *
 * Runs on a thread of its own with its own event_base and only reads the
 * store, which LevelDB makes safe alongside the applier's writes:
 *   GET /healthz
 *   GET /v1/items/{type}/{id}/{counter}               authoritative count
 *   GET /v1/items/{type}/{id}/{counter}/users/{user}  one user's membership
 *   GET /v1/totals/{counter}                          items and sum (full scan)
 * Bound to loopback by default; the admin token arrives with the security
 * work.
 */
#ifndef CENTRAL_OPSAPI_H
#define CENTRAL_OPSAPI_H

#include <stddef.h>

#include "store.h"

typedef struct ops_api ops_api;

/* NULL when listen is empty (API off) or on failure (reason in err). */
ops_api *ops_api_start(const char *listen, store *db, char *err, size_t errlen);
void ops_api_stop(ops_api *api);

#endif
