/* http.h - the edge's HTTP server: HTTP/2 (libevent + nghttp2) and
 * HTTP/1.1 (http-parser) on the same ports. The cleartext listener tells
 * h2c with prior knowledge from HTTP/1.1 by the HTTP/2 connection
 * preface; the TLS listener offers ALPN "h2" and "http/1.1" (h2 first),
 * and a client without ALPN gets HTTP/1.1.
 *
 * One http_server serves one event_base: a worker thread owns a base and
 * a server, and several workers may listen on the same address (the
 * listeners use SO_REUSEPORT), so one loop per worker thread needs no
 * change here. The server owns its connections, sessions and streams
 * (connection -> session -> stream, stream state freed on stream close).
 * Both protocols call the same handler with the same request fields.
 *
 * A request is handed to the handler once its body is complete. The
 * handler runs on the server's loop thread and fills in the response
 * before it returns, or defers the answer (http_defer) and finishes it
 * later (http_finish). The response owns its header text (copied into
 * hbuf by http_add_header) and its body (malloc'ed by the handler, freed
 * by the server once sent or once the stream closes).
 *
 * HTTP/1.1 connections answer one request at a time: a pipelined request
 * is parsed only once the answer before it is queued (for a deferred
 * answer: finished), so answers leave in request order.
 *
 * The TLS certificate and key live in an http_tls_store, which several
 * servers (one per worker) may share: http_tls_store_reload swaps in a
 * new SSL_CTX that every server uses for the connections it accepts from
 * then on, while open connections keep the one they started with.
 *
 * Every function here runs on the server's loop thread (or, for
 * http_server_free, after that loop has stopped), except the
 * http_tls_store functions and http_server_reload_tls, whose rules are
 * given with them. The process must ignore SIGPIPE: libevent and OpenSSL
 * write to sockets the peer may have closed.
 *
 * What a request and an answer are, the handler's type and the admission
 * hooks, with the helpers that read and build them: http_msg.h. The TLS
 * store: http_tls.h.
 */
#ifndef EDGE_HTTP_H
#define EDGE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "edge/http/http_msg.h"
#include "edge/http/http_tls.h"
#include "err.h"

typedef struct http_server http_server;

typedef struct proxy_list proxy_list; /* proxy.h */

typedef struct http_config {
	const char *listen;     /* "127.0.0.1:8081" for h2c and HTTP/1.1,
	                           NULL or "" = none */
	const char *tls_listen; /* "127.0.0.1:8443" for TLS, NULL or "" = none */
	const char *tls_cert;   /* PEM certificate chain file */
	const char *tls_key;    /* PEM private key file */
	/* The TLS listener's certificate, shared and reloadable (it outlives
	 * the server); NULL: the server makes its own from tls_cert and
	 * tls_key. */
	http_tls_store *tls_store;
	size_t max_body;             /* larger bodies: 413 without calling the
	                                handler; default 64 KiB */
	size_t max_header_list;      /* SETTINGS_MAX_HEADER_LIST_SIZE, counted as
	                                RFC 9113 does (name + value + 32 per
	                                field; for HTTP/1.1 the request target
	                                counts as one field); larger lists: 431;
	                                default 16 KiB */
	unsigned max_streams;        /* SETTINGS_MAX_CONCURRENT_STREAMS (HTTP/2);
	                                default 100 */
	unsigned idle_timeout_ms;    /* close a connection with no traffic for
	                                this long; default 60000 */
	unsigned request_timeout_ms; /* a request (HTTP/1.1: from its first
	                                byte, or from accept for the first
	                                one; HTTP/2: from its HEADERS) must be
	                                whole within this: else 408, and the
	                                connection closed (HTTP/1.1) or the
	                                stream answered (HTTP/2); the TLS
	                                handshake and the HTTP/2 preface too
	                                (else closed); default 10000 */
	unsigned reset_burst;        /* HTTP/2 streams a client may reset at once
	                                (a token bucket); default 100 */
	unsigned reset_rate;         /* and per second after that; default 10. A
	                                client over it gets GOAWAY
	                                ENHANCE_YOUR_CALM and is closed */
	http_admission admission;    /* connections per address and refusal
	                                counters; zeroed: neither */
	const proxy_list *trusted;   /* proxies whose forwarding headers are
	                                believed (outlives the server); NULL:
	                                none */
} http_config;

/* Binds the listeners and starts accepting on base. NULL with the reason
 * in err (bad address, port in use, certificate or key unreadable). */
http_server *http_server_new(struct event_base *base, const http_config *cfg, http_handler handler,
                             void *ctx, char *err, size_t errlen);
/* Stops accepting new connections and closes the listening sockets, so
 * new clients are refused (or, with SO_REUSEPORT, go to another worker);
 * open connections carry on. */
void http_server_stop_accepting(http_server *srv);
/* Graceful shutdown (the edge's drain): stops accepting as
 * http_server_stop_accepting does, then every HTTP/2 connection gets
 * GOAWAY NO_ERROR naming the last stream it received, answers the
 * streams it has and closes; an HTTP/1.1 connection answers the request
 * under way with "connection: close" and closes (at once when it has
 * none); one still in its handshake or preface closes now. Streams a
 * client opens after the GOAWAY are never handled (the client knows it
 * may retry them elsewhere); deferred answers are still sent. *conns
 * gets the connections open when it was called, *in_flight the requests
 * received and not yet answered. Further calls change nothing. */
void http_server_drain(http_server *srv, size_t *conns, size_t *in_flight);
/* Connections still answering (not closing): 0 once a drain is over,
 * apart from new streams nobody will answer. */
size_t http_server_busy(const http_server *srv);
/* The port a listener is bound to (useful after binding port 0): the TLS
 * one when tls is true. -1 when that listener is absent or stopped. */
int http_server_port(http_server *srv, bool tls);
/* Closes every connection and frees the server. Not from the handler. */
void http_server_free(http_server *srv);
/* Reads the certificate chain and key files of srv's TLS store again
 * (see http_tls_store_reload; with a shared store every server sharing it
 * changes). ERR_INVAL when srv has no TLS listener. Any thread, while srv
 * lives. */
int http_server_reload_tls(http_server *srv, char *err, size_t errlen) WARN_UNUSED;

/* For a handler that cannot answer yet: after it returns the server sends
 * nothing (and frees whatever it put in resp). The request's fields stay
 * valid only during the handler call, so copy what you need. The caller
 * must call http_finish() exactly once, later (or before the handler
 * returns), on the loop thread, or after http_server_free on the thread
 * that freed the server. NULL when req is not a request being handled or
 * was deferred already. While the answer is pending an HTTP/1.1
 * connection parses no further request; the idle timeout still applies,
 * and an HTTP/1.1 client that shuts down its side counts as gone (but see
 * http_deferred_keep). */
http_deferred *http_defer(const http_request *req);
/* Sends resp as the answer, taking resp->body, if the client is still
 * there, then frees d. If the stream or connection closed meanwhile, or
 * the server was freed, it only frees (d and resp->body). resp is set up
 * by the caller as the handler's is (zeroed, or http_response_init:
 * status 200, content type JSON). d may be NULL: then only resp->body is
 * freed. */
void http_finish(http_deferred *d, http_response *resp);
/* False when the client went away (the answer would be dropped). */
bool http_deferred_alive(const http_deferred *d);
/* Marks d's answer as one an HTTP/1.1 client gets even when it shuts its
 * sending side meanwhile (a half-close), where an unmarked one counts it
 * as gone: for a write's outcome, which stands whether or not anyone
 * reads it. The connection then reads no more, sends d's answer and
 * those of the whole requests it had read, and closes. A client that
 * closed both ways cannot be told apart: the write of the answer fails
 * and the connection is freed. No-op for NULL. */
void http_deferred_keep(http_deferred *d);

#endif
