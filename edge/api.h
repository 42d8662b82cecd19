/* api.h - the edge's HTTP API: routing, validation, JSON answers.
 *
 *   POST   /v1/items/{type}/{id}/{counter}      like
 *   DELETE /v1/items/{type}/{id}/{counter}      unlike
 *   GET    /v1/items/{type}/{id}/{counter}      count
 *   GET    /v1/items/{type}/{id}/{counter}/me   this user's membership
 *   GET    /healthz
 *
 * api_handle is an http_handler; it runs on the loop thread that owns the
 * connection and calls into the ledger (which locks for itself).
 */
#ifndef EDGE_API_H
#define EDGE_API_H

#include <stdbool.h>

#include "http.h"
#include "identity.h"
#include "ledger.h"

typedef struct api {
	ledger *lg;
	identity_config ic;
	char *types[ITEM_MAX_NAMES + 1];    /* NULL-terminated */
	char *counters[ITEM_MAX_NAMES + 1]; /* NULL-terminated */
	const char *edge_id;
} api;

void api_handle(void *ctx, const http_request *req, http_response *resp);

#endif
