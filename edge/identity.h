/* identity.h - who is asking. The one place that turns a request into a
 * user id; JWT verification will live here too.
 *
 * Today: a development mode that trusts the X-User-Id header, on only
 * when the config says so (and logged loudly at start-up). With it off,
 * no request has an identity yet, so writes answer 401.
 */
#ifndef EDGE_IDENTITY_H
#define EDGE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"
#include "item.h"

typedef struct identity_config {
	bool dev_header;
} identity_config;

/* Writes the user id (NUL-terminated, at most USER_MAX bytes) into user.
 * 0, or ERR_NOTFOUND when the request carries no usable identity (the
 * caller answers 401 with reason). */
int identity_user(const identity_config *ic, const http_request *req, char user[USER_MAX + 1],
		  const char **reason);

#endif
