/* http_conn.c - one connection of the edge's HTTP server, below both
 * protocols (http_int.h): writing to the client, closing (with a linger
 * for a client still sending) and freeing, the handler call both
 * protocols make, and the checks every answer passes before it is sent.
 * A connection reaches its protocol's state only through its table of
 * operations (c->ops), so this file calls neither protocol.
 *
 * Owns nothing of its own: the connection belongs to the server
 * (http.c), which made it and chose its protocol. Runs only on the
 * server's loop thread.
 */
#include "edge/http/http_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "edge/http/proxy.h"
#include "log.h"

#define LINGER_MS 2000 /* how long a closing HTTP/1.1 peer may keep sending */

/* --- answers --------------------------------------------------------------- */

int http_response_check(const conn *c, int32_t id, http_response *resp)
{
	int status = resp->status ? resp->status : 200;
	if (resp->content_type && strpbrk(resp->content_type, "\r\n")) {
		log_warn("handler set an invalid content type", "peer=%s stream=%d", c->peer, id);
		resp->content_type = NULL;
		status = 0;
	}
	if (status < 200 || status > 599) {
		if (status)
			log_warn("handler set an invalid status", "peer=%s stream=%d status=%d",
			         c->peer, id, status);
		status = 500;
		free(resp->body);
		resp->body = NULL;
		resp->nheaders = 0;
	}
	if (!resp->body)
		resp->body_len = 0;
	/* No cache in front may keep an error: it would outlive its cause. */
	if (status >= 400 && !http_has_header(resp, "cache-control") &&
	    http_add_header(resp, "cache-control", "no-store"))
		log_warn("no room for cache-control on an error answer", "peer=%s status=%d",
		         c->peer, status);
	return status;
}

void http_response_refuse(const conn *c, http_response *resp, int status, const char *why)
{
	http_refusal r;
	if (status == 413) {
		r = HTTP_REFUSED_BODY;
		http_response_error(resp, status, "body_too_large",
		                    "the request body is larger than this server accepts");
	} else if (status == 431) {
		r = HTTP_REFUSED_HEADERS;
		http_response_error(resp, status, "headers_too_large",
		                    "the request headers are larger than this server accepts");
	} else if (status == 408) {
		r = HTTP_REFUSED_SLOW;
		http_response_error(resp, status, "request_timeout",
		                    "the request did not arrive in time");
	} else {
		r = HTTP_REFUSED_MALFORMED;
		const char *code = status == 414   ? "target_too_long"
		                   : status == 501 ? "not_implemented"
		                   : status == 505 ? "version_not_supported"
		                                   : "bad_request";
		http_response_error(resp, status, code, why);
	}
	http_refused(c->host, r);
}

void http_refused(const http_host *h, http_refusal why)
{
	if (h->admission.refused)
		h->admission.refused(h->admission.ctx, why);
}

void http_admission_close(const http_host *h, const uint8_t *ip)
{
	if (h->admission.conn_close)
		h->admission.conn_close(h->admission.ctx, ip);
}

/* --- the handler ---------------------------------------------------------- */

bool http_call_handler(conn *c, stream *st, http_request *req, http_response *resp)
{
	http_host *h = c->host;
	http_call call = {.c = c, .st = st};
	req->peer = c->peer;
	req->peer_ip = c->ip_known ? c->ip : NULL;
	uint8_t client[PROXY_IP_LEN];
	proxy_verdict v =
	    proxy_client(h->trusted, req->peer_ip, req->headers, req->nheaders, client);
	req->client_ip = v == PROXY_BAD || !req->peer_ip ? NULL : client;
	req->via_untrusted = v == PROXY_UNTRUSTED;
	req->tls = c->tls;
	req->handle = &call;
	http_response_init(resp);
	h->handler(h->ctx, req, resp);
	if (call.def) {
		free(resp->body); /* answered (now or later) by http_finish */
		resp->body = NULL;
		return false;
	}
	return true;
}

/* --- connections --------------------------------------------------------- */

void http_conn_free(conn *c)
{
	http_host *h = c->host;
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->ops->free(c);
	if (c->wake)
		event_free(c->wake);
	if (c->guarded)
		http_admission_close(h, c->ip);
	if (c->tls) {
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		/* Best effort close_notify; the peer may already be gone. */
		if (ssl && SSL_is_init_finished(ssl) && SSL_shutdown(ssl) < 0)
			ERR_clear_error();
	}
	bufferevent_free(c->bev);
	free(c);
}

size_t http_conn_queued(const conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

int http_conn_out(conn *c, const void *data, size_t n, size_t *sent)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (!c->tls && *sent < HTTP_OUT_HIGH && evbuffer_get_length(out) == 0) {
		ssize_t w;
		do
			w = send(bufferevent_getfd(c->bev), data, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w > 0) {
			data = (const char *)data + w;
			n -= (size_t)w;
			*sent += (size_t)w;
		}
	}
	if (n && evbuffer_add(out, data, n) != 0) {
		log_warn("cannot queue output", "peer=%s bytes=%zu", c->peer, n);
		return ERR_IO;
	}
	return 0;
}

void http_conn_drained(conn *c)
{
	if (!c->linger) {
		http_conn_free(c);
		return;
	}
	if (c->lingering)
		return;
	c->lingering = true;
	unsigned ms = c->host->idle_ms < LINGER_MS ? c->host->idle_ms : LINGER_MS;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) != 0 ||
	    bufferevent_set_timeouts(c->bev, &tv, NULL) != 0) {
		log_debug("cannot linger", "peer=%s reason=\"%s\"", c->peer, strerror(errno));
		http_conn_free(c);
	}
}

void http_conn_close(conn *c, bool linger)
{
	if (!c->closing) {
		c->closing = true;
		c->linger = linger && !c->tls; /* TLS cannot half-close under libevent */
		struct evbuffer *in = bufferevent_get_input(c->bev);
		c->discarded = evbuffer_get_length(in);
		if (evbuffer_drain(in, c->discarded) != 0)
			log_debug("cannot drop input", "peer=%s", c->peer);
		int rv = c->linger ? bufferevent_enable(c->bev, EV_READ)
		                   : bufferevent_disable(c->bev, EV_READ);
		if (rv != 0)
			log_debug("cannot change reading", "peer=%s", c->peer);
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	}
	if (http_conn_queued(c) == 0)
		http_conn_drained(c);
}

void http_conn_eof(conn *c)
{
	log_debug("connection closed by peer", "peer=%s", c->peer);
	http_conn_free(c);
}

void http_conn_stalled(conn *c)
{
	log_debug("closing stalled or idle connection", "peer=%s", c->peer);
	http_conn_free(c);
}
