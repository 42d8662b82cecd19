/* evauth.h - who may call a route of an evhttp server: a peer on this
 * host's loopback, and a bearer token compared in time that does not
 * depend on where it differs. Central's ops API and the edge's seed
 * listener (edge/changelog/seed.h) judge their callers with it. Any
 * thread that owns the request.
 */
#ifndef LIKES_EVAUTH_H
#define LIKES_EVAUTH_H

#include <stdbool.h>

struct evhttp_request;

/* The request's peer is a loopback address (netaddr.h); false without a
 * connection. A peer is numeric: "localhost" cannot come from here. */
bool evauth_from_loopback(struct evhttp_request *req);
/* The request's Authorization is "Bearer " and token (ASCII case of
 * "Bearer" ignored); false when token is empty. */
bool evauth_bearer_ok(struct evhttp_request *req, const char *token);
/* given equals want, in time that depends only on want's length. */
bool evauth_token_matches(const char *given, const char *want);

#endif
