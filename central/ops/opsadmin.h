/* opsadmin.h - the ops API's admin and bulk routes (opsadmin.c): verify
 * and repair, the export stream, stats, digests, backup. The ops API's
 * thread. */
#ifndef CENTRAL_OPSADMIN_H
#define CENTRAL_OPSADMIN_H

#include "central/ops/opsroute.h"

/* GET /v1/admin/verify[?limit=N] */
void ops_route_verify(const ops_env *env, const ops_call *call);
/* POST /v1/admin/repair[?limit=N], once the caller checked the method
 * and the token (always needed, from loopback too). */
void ops_route_repair(const ops_env *env, const ops_call *call);
/* GET /v1/export[?format=csv|json][&counter=C] */
void ops_route_export(const ops_env *env, const ops_call *call);
/* GET /v1/stats */
void ops_route_stats(const ops_env *env, const ops_call *call);
/* GET /v1/digest[?partition=N] */
void ops_route_digest(const ops_env *env, const ops_call *call);
/* POST /v1/admin/backup?dir=PATH, once the caller checked the method and
 * the token. */
void ops_route_backup(const ops_env *env, const ops_call *call);

extern const char *const ops_verify_params[];
extern const char *const ops_export_params[];
extern const char *const ops_digest_params[];
extern const char *const ops_backup_params[];

#endif
