/* api_util.c - the edge's api under test: set-up and one request
 * (api_util.h). */
#include "tests/support/api_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/api/api.h"
#include "item.h"
#include "partition.h"
#include "tests/support/ledger_sink.h"
#include "xmem.h"

ledger_opts api_util_ledger_opts(uint32_t partitions)
{
	return (ledger_opts){.edge_id = "e1",
	                     .region = "r1",
	                     .partitions = partitions,
	                     .seal_ops = 1000,
	                     .seal_age_ms = 1000,
	                     .budget_bytes = 1u << 20,
	                     .window_bytes = 1u << 20,
	                     .cache_entries = 64,
	                     .rt_entries = 64,
	                     .rt_ttl_ms = 1000,
	                     .max_ahead_ms = 60000,
	                     .send = ledger_sink_discard};
}

void api_util_counts_answer(char *body, size_t cap, const char *items, uint32_t partitions,
                            int likes)
{
	char list[1024];
	snprintf(list, sizeof list, "%.*s", (int)strcspn(items, "&"), items);
	size_t n = (size_t)snprintf(body, cap, "{\"items\":{");
	char *save = NULL;
	bool first = true;
	for (char *it = strtok_r(list, ",", &save); it && n < cap;
	     it = strtok_r(NULL, ",", &save)) {
		n += (size_t)snprintf(body + n, cap - n,
		                      "%s\"%s\":{\"partition\":%u,\"version\":3,\"applied\":0,"
		                      "\"as_of\":1,\"counts\":{\"likes\":%d}}",
		                      first ? "" : ",", it,
		                      partition_of(it, strlen(it), partitions), likes);
		first = false;
	}
	if (n < cap)
		snprintf(body + n, cap - n, "}}");
}

api_config api_util_config(void)
{
	return (api_config){.max_items = 3,
	                    .max_ops = 3,
	                    .idem_retention_ms = 60000,
	                    .max_age_s = 2,
	                    .stale_s = 10,
	                    .member_ttl_ms = 1000,
	                    .member_entries = 16};
}

int api_util_prepare(api *a, ledger *lg, const char *types, const char *set, const char *sum,
                     api_config cfg, char *err, size_t errlen)
{
	a->lg = lg;
	a->ic.dev_header = true;
	a->edge_id = "e1";
	a->cfg = cfg;
	if (item_parse_names(types, a->types, item_type_valid)) {
		snprintf(err, errlen, "bad item types: %s", types);
		return -1;
	}
	if (counters_parse(&a->counters, set, sum, err, errlen))
		return -1;
	return 0;
}

int api_util_init(api *a, ledger *lg, const char *types, const char *set, const char *sum,
                  api_config cfg, char *err, size_t errlen)
{
	if (api_util_prepare(a, lg, types, set, sum, cfg, err, errlen))
		return -1;
	if (api_init(a)) {
		snprintf(err, errlen, "api_init failed");
		return -1;
	}
	return 0;
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
		r->body = xrealloc(r->body, r->body_len + 1);
		r->body[r->body_len] = 0;
	}
	return r->status ? r->status : 200;
}
