/* identity.c - request -> user id: bearer tokens, or the development
 * X-User-Id header. Reads only immutable config and the key ring (which
 * locks for itself): any thread.
 */
#include "edge/auth/identity.h"

#include <strings.h>
#include <string.h>

#include "err.h"

static int dev_user(const http_request *req, principal *who, const char **reason)
{
	const http_header *home = http_find_header(req, "x-user-home");
	who->home[0] = '\0';
	if (home) {
		if (!item_edge_valid(home->value, home->valuelen)) {
			*reason = "X-User-Home must be a region name: [a-z0-9_-]{1,64}";
			return ERR_NOTFOUND;
		}
		memcpy(who->home, home->value, home->valuelen);
		who->home[home->valuelen] = '\0';
	}
	const http_header *since = http_find_header(req, "x-user-home-since");
	who->home_since = 0;
	if (since) {
		uint64_t v = 0;
		size_t i = 0;
		for (; i < since->valuelen && i < 16 && since->value[i] >= '0' &&
		       since->value[i] <= '9';
		     i++)
			v = v * 10 + (uint64_t)(since->value[i] - '0');
		if (!home || !since->valuelen || i != since->valuelen || i > 15 || !v) {
			*reason = home ? "X-User-Home-Since must be a wall time in ms: 1-15 digits"
			               : "X-User-Home-Since needs X-User-Home";
			return ERR_NOTFOUND;
		}
		who->home_since = v;
	}
	const http_header *h = http_find_header(req, "x-user-id");
	if (!h) {
		*reason = "missing X-User-Id header (development identity mode)";
		return ERR_NOTFOUND;
	}
	if (!item_user_valid(h->value, h->valuelen)) {
		*reason = "X-User-Id must be 1-128 visible ASCII characters";
		return ERR_NOTFOUND;
	}
	memcpy(who->user, h->value, h->valuelen);
	who->user[h->valuelen] = '\0';
	return 0;
}

int identity_user(const identity_config *ic, const http_request *req, int64_t now_s, principal *who,
                  const char **reason)
{
	if (ic->keys || ic->ring) {
		const http_header *h = http_find_header(req, "authorization");
		if (h && h->valuelen >= 7 && strncasecmp(h->value, "bearer ", 7) == 0) {
			const char *t = h->value + 7;
			size_t n = h->valuelen - 7;
			while (n > 0 && *t == ' ') {
				t++;
				n--;
			}
			if (ic->ring)
				return bearer_ring_verify(ic->ring, t, n, now_s, who, reason);
			return bearer_verify(ic->keys, t, n, now_s, who, reason);
		}
		if (!ic->dev_header) {
			*reason =
			    h ? "authorization is not a bearer token" : "missing bearer token";
			return ERR_NOTFOUND;
		}
	}
	if (!ic->dev_header) {
		*reason = "no identity provider is configured on this edge";
		return ERR_NOTFOUND;
	}
	return dev_user(req, who, reason);
}
