/* opsroute.c - what every route of central's ops API answers with
 * (opsroute.h): the answer helpers, the error bodies (sbuf_adderror, as
 * the edge words them) and the query's check against a route's
 * parameters. The ops API's thread; no state of its own.
 */
#include "central/ops/opsroute.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "sbuf.h"

/* ---- answers ------------------------------------------------------------- */

void ops_reply_buf(struct evhttp_request *req, int code, const char *ctype, struct evbuffer *out)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", out);
}

void ops_reply_json(struct evhttp_request *req, int code, const char *body)
{
	struct evbuffer *out = evbuffer_new();
	if (!out) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add(out, body, strlen(body));
	ops_reply_buf(req, code, "application/json", out);
	evbuffer_free(out);
}

void ops_reply_error(struct evhttp_request *req, int code, const char *ecode, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sbuf b;
	sbuf_init(&b);
	sbuf_adderror(&b, ecode, msg, NULL);
	if (code == 401)
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
		                  "Bearer");
	ops_reply_json(req, code, b.p);
	sbuf_free(&b);
}

/* 421 not_owner with msg and the partition p. */
static void reply_not_owner(struct evhttp_request *req, uint32_t p, const char *msg)
{
	char extra[32];
	snprintf(extra, sizeof extra, ",\"partition\":%u", p);
	sbuf b;
	sbuf_init(&b);
	sbuf_adderror(&b, "not_owner", msg, extra);
	ops_reply_json(req, 421, b.p);
	sbuf_free(&b);
}

void ops_reply_not_owner(struct evhttp_request *req, const char *item, uint32_t p)
{
	char msg[320];
	snprintf(msg, sizeof msg,
	         "partition %u of item %s is not owned by this central (central.partitions): "
	         "ask the shard that owns it",
	         p, item);
	reply_not_owner(req, p, msg);
}

void ops_reply_not_owner_partition(struct evhttp_request *req, uint32_t p)
{
	char msg[160];
	snprintf(msg, sizeof msg,
	         "partition %u is not owned by this central (central.partitions): ask the shard "
	         "that owns it",
	         p);
	reply_not_owner(req, p, msg);
}

void ops_stream_gone(struct evhttp_request *req)
{
	if (!evhttp_request_get_connection(req))
		evhttp_send_reply_end(req); /* with no connection: frees it */
}

/* ---- query parameters ---------------------------------------------------- */

bool ops_parse_query(struct evhttp_request *req, const struct evhttp_uri *uri, query *kv,
                     const char *const *allowed)
{
	int rc = query_parse(kv, evhttp_uri_get_query(uri));
	const char *why = rc == ERR_TOOBIG ? "too many query parameters"
	                  : rc             ? "the query string does not parse"
	                                   : query_check(kv, allowed);
	if (why) {
		ops_reply_error(req, 400, "bad_request", "%s", why);
		return false;
	}
	return true;
}
