/* identity.c - request -> user id (dev header mode for now). Any thread. */
#include "identity.h"

#include <string.h>

#include "err.h"

int identity_user(const identity_config *ic, const http_request *req, char user[USER_MAX + 1],
		  const char **reason)
{
	if (!ic->dev_header) {
		*reason = "no identity provider is configured on this edge";
		return ERR_NOTFOUND;
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
	memcpy(user, h->value, h->valuelen);
	user[h->valuelen] = '\0';
	return 0;
}
