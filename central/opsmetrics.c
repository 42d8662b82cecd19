/* opsmetrics.c - the ops API's metrics routes: GET /metrics (central's
 * registry, cmetrics.h, rendered whole) and GET /v1/hot (the hot-items
 * sketch as JSON). The ops API's thread only; both only read.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmetrics.h"
#include "opsadmin.h"
#include "sbuf.h"
#include "xmem.h"

#define OPS_HOT_DEFAULT 10

const char *const ops_hot_params[] = {"limit", NULL};

/* The rendered text is handed to libevent without a copy; it frees it
 * once sent. */
static void free_text(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

void ops_route_metrics(ops_api *api, struct evhttp_request *req)
{
	struct evbuffer *out = evbuffer_new();
	if (!out) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	sbuf b;
	sbuf_init(&b);
	cmetrics_render(api->metrics, &b);
	size_t len;
	char *text = sbuf_take(&b, &len);
	if (evbuffer_add_reference(out, text, len, free_text, NULL) != 0) {
		free(text);
		evbuffer_free(out);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	ops_reply_buf(req, 200, "text/plain; version=0.0.4", out);
	evbuffer_free(out);
}

/* limit as a number 1..max; false when it is not one. */
static bool parse_limit(const char *s, size_t max, size_t *out)
{
	if (!s || !*s || strlen(s) > 9)
		return false;
	size_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (size_t)(*p - '0');
	}
	if (v < 1 || v > max)
		return false;
	*out = v;
	return true;
}

void ops_route_hot(ops_api *api, struct evhttp_request *req, struct evkeyvalq *kv)
{
	size_t k = cmetrics_hot_k(api->metrics);
	size_t limit = OPS_HOT_DEFAULT < k ? OPS_HOT_DEFAULT : k;
	const char *lq = evhttp_find_header(kv, "limit");
	if (lq && !parse_limit(lq, k, &limit)) {
		ops_reply_error(req, 400, "bad_limit", "limit must be 1 to %zu (central.hot_items)",
		                k);
		return;
	}
	cmetrics_hot_item *hot = xcalloc(limit, sizeof *hot);
	size_t n = cmetrics_hot(api->metrics, hot, limit);
	struct evbuffer *out = evbuffer_new();
	if (!out)
		abort();
	/* Counters and items were validated by the applier before they were
	 * counted: nothing to escape. */
	evbuffer_add_printf(out, "{\"window_ms\":%" PRIu64 ",\"k\":%zu,\"items\":[",
	                    cmetrics_hot_window_ms(api->metrics), k);
	for (size_t i = 0; i < n; i++)
		evbuffer_add_printf(out,
		                    "%s{\"item\":\"%s\",\"counter\":\"%s\",\"rate\":%.3f,"
		                    "\"count\":%" PRIu64 ",\"error\":%" PRIu64 "}",
		                    i ? "," : "", hot[i].item, hot[i].counter, hot[i].rate,
		                    hot[i].count, hot[i].error);
	evbuffer_add_printf(out, "]}");
	free(hot);
	ops_reply_buf(req, 200, "application/json", out);
	evbuffer_free(out);
}
