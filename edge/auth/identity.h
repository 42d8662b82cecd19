/* identity.h - who is asking. The one place that turns a request into a
 * user id.
 *
 * Two sources: JWT bearer tokens (Authorization: Bearer, verified with
 * the keys of bearer.h), and a development mode that trusts the
 * X-User-Id header (and X-User-Home, the user's home region), on only
 * when the config says so (and logged loudly at start-up). When both are on, a request that carries
 * a bearer token is judged by the token alone. With neither, no request has an identity and writes
 * answer 401.
 */
#ifndef EDGE_IDENTITY_H
#define EDGE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/auth/bearer.h"
#include "edge/http/http.h"
#include "item.h"

typedef struct identity_config {
	bool dev_header;
	const bearer_keys *keys; /* NULL: no bearer tokens; owned by the caller */
	bearer_ring *ring;       /* reloadable keys, used instead of keys when
	                            set (any thread; see bearer.h); owned by
	                            the caller */
} identity_config;

/* Fills who: the user id (NUL-terminated, at most USER_MAX bytes) and
 * the user's home region, "" when the identity names none (a token's
 * home claim; in the development mode, the X-User-Home header). 0;
 * ERR_NOTFOUND when the request carries no credentials (or development
 * headers that are not valid); ERR_INVAL when it carries a bearer token
 * that is refused. Either way *reason says why (the caller answers 401).
 * now_s is the wall time in seconds. */
int identity_user(const identity_config *ic, const http_request *req, int64_t now_s, principal *who,
                  const char **reason);

#endif
