/* api_util.c - the edge's api under test: set-up and one request
 * (api_util.h). */
#include "tests/support/api_util.h"

#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge/api/api.h"
#include "item.h"

void api_util_init(api *a, ledger *lg, const char *types, const char *set, const char *sum,
                   api_config cfg)
{
	char err[256];
	a->lg = lg;
	a->ic.dev_header = true;
	a->edge_id = "e1";
	cr_assert_eq(item_parse_names(types, a->types, item_type_valid), 0);
	cr_assert_eq(counters_parse(&a->counters, set, sum, err, sizeof err), 0, "%s", err);
	a->cfg = cfg;
	cr_assert_eq(api_init(a), 0);
}

void api_util_free(api *a)
{
	api_free(a);
	item_free_names(a->types);
	counters_free(&a->counters);
}

void api_util_loopback(uint8_t ip[16])
{
	memset(ip, 0, 16);
	ip[10] = ip[11] = 0xff;
	ip[12] = 127;
	ip[15] = 1;
}

int api_util_call(api *a, http_response *r, const uint8_t *ip, const char *method, const char *path,
                  const char *user, const char *body, const char *hname, const char *hval)
{
	http_header h[2];
	size_t nh = 0;
	if (user)
		h[nh++] = (http_header){"x-user-id", 9, user, strlen(user)};
	if (hname)
		h[nh++] = (http_header){hname, strlen(hname), hval, strlen(hval)};
	http_request rq = {.method = method,
	                   .path = path,
	                   .headers = h,
	                   .nheaders = nh,
	                   .body = body,
	                   .body_len = body ? strlen(body) : 0,
	                   .peer = "127.0.0.1:1",
	                   .peer_ip = ip,
	                   .client_ip = ip};
	free(r->body);
	memset(r, 0, sizeof *r);
	api_handle(a, &rq, r);
	if (r->body) {
		r->body = realloc(r->body, r->body_len + 1);
		r->body[r->body_len] = 0;
	}
	return r->status ? r->status : 200;
}
