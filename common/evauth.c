/* evauth.c - loopback peers and bearer tokens for evhttp servers
 * (evauth.h). Pure but for reading the request.
 */
#include "evauth.h"

#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "netaddr.h"

bool evauth_from_loopback(struct evhttp_request *req)
{
	struct evhttp_connection *con = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;
	if (!con)
		return false;
	evhttp_connection_get_peer(con, &addr, &port);
	return addr && netaddr_host_is_loopback(addr, strlen(addr));
}

bool evauth_token_matches(const char *given, const char *want)
{
	size_t gn = strlen(given), wn = strlen(want);
	unsigned char diff = gn != wn;
	for (size_t i = 0; i < wn; i++)
		diff |= (unsigned char)((gn ? given[i % gn] : 0) ^ want[i]);
	return diff == 0;
}

bool evauth_bearer_ok(struct evhttp_request *req, const char *token)
{
	if (!token || !token[0])
		return false;
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	return evauth_token_matches(h + 7, token);
}
