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

#include "central/ops/cmetrics.h"
#include "hot.h"
#include "central/ops/opsmetrics.h"
#include "sbuf.h"
#include "xmem.h"

const char *const ops_hot_params[] = {"limit", NULL};

/* The rendered text is handed to libevent without a copy; it frees it
 * once sent. */
static void free_text(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

void ops_route_metrics(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	struct evbuffer *out = evbuffer_new();
	if (!out) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	sbuf b;
	sbuf_init(&b);
	cmetrics_render(env->metrics, &b);
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

void ops_route_hot(const ops_env *env, const ops_call *call)
{
	struct evhttp_request *req = call->req;
	const query *kv = call->kv;
	size_t k = cmetrics_hot_k(env->metrics), limit;
	if (!hot_limit(query_get(kv, "limit"), k, &limit)) {
		ops_reply_error(req, 400, "bad_limit", "%s", HOT_LIMIT_MESSAGE);
		return;
	}
	topk_entry *e = xcalloc(limit ? limit : 1, sizeof *e);
	size_t n = cmetrics_hot(env->metrics, e, limit);
	sbuf b;
	sbuf_init(&b);
	hot_render(&b, e, n, cmetrics_hot_window_ms(env->metrics), k);
	free(e);
	struct evbuffer *out = evbuffer_new();
	if (!out)
		abort();
	evbuffer_add(out, b.p, b.len);
	sbuf_free(&b);
	ops_reply_buf(req, 200, "application/json", out);
	evbuffer_free(out);
}
