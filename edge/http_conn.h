/* http_conn.h - what the edge's HTTP server shares between edge/http.c
 * (listeners, connections, HTTP/2, deferred answers) and edge/http1.c
 * (HTTP/1.1): the server and connection structs and the few functions
 * each side calls in the other. Private to edge/http*.c; every function
 * runs on the server's loop thread.
 */
#ifndef EDGE_HTTP_CONN_H
#define EDGE_HTTP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "http.h"

#define HTTP_OUT_HIGH (64 * 1024) /* queued output above which we stop reading */
#define HTTP_OUT_LOW (16 * 1024)  /* refill output once it drains to this */

typedef struct conn conn;
typedef struct stream stream; /* an HTTP/2 stream, private to http.c */
typedef struct h1conn h1conn; /* HTTP/1.1 state, private to http1.c */

enum conn_proto {
	PROTO_UNKNOWN, /* cleartext before the first bytes, TLS before ALPN */
	PROTO_H2,
	PROTO_H1,
};

struct conn {
	http_server *srv;
	conn *prev, *next;
	struct bufferevent *bev;
	struct event *wake; /* runs a finished deferred answer's follow-up */
	enum conn_proto proto;
	nghttp2_session *sess; /* HTTP/2 only */
	stream *streams;       /* HTTP/2 only; freed with the connection */
	h1conn *h1;            /* HTTP/1.1 only */
	bool tls;
	bool closing;     /* answering is over; freed once the output drains */
	bool linger;      /* closing: then shut down writing, read until EOF */
	bool lingering;   /* the output drained and writing is shut down */
	bool read_paused; /* HTTP/2 backpressure */
	size_t discarded; /* bytes read and dropped while closing */
	char peer[64];
};

struct http_server {
	struct event_base *base;
	http_handler handler;
	void *ctx;
	size_t max_body, max_header_list;
	unsigned max_streams, idle_ms;
	struct evconnlistener *lis[2];
	struct event *retry; /* re-enables the listeners after accept errors */
	bool accepting;
	SSL_CTX *ssl_ctx;
	nghttp2_session_callbacks *cbs;
	conn *conns;
};

/* What http_request.handle points at during one handler call. */
typedef struct http_call {
	conn *c;
	stream *st;         /* NULL for HTTP/1.1 */
	http_deferred *def; /* set by http_defer */
} http_call;

/* Owned by the handler's side until http_finish; the stream (HTTP/2) or
 * the HTTP/1.1 state points back at it and clears c when it goes away. */
struct http_deferred {
	conn *c;    /* NULL once the client, connection or server is gone */
	stream *st; /* the HTTP/2 stream; NULL for HTTP/1.1 */
};

/* --- http.c, for http1.c ---------------------------------------------- */

/* Frees c and everything it owns now. */
void http_conn_free(conn *c);
/* Stops answering on c: it is freed once its output is written (with
 * linger, only after writing is shut down and the client closed or a
 * short time passed, so a client still sending does not get a reset
 * that eats the answer). May free c before it returns. */
void http_conn_close(conn *c, bool linger);
/* Bytes queued for the client. */
size_t http_conn_queued(const conn *c);
/* Normalises resp before it is sent: status 0 -> 200, a status outside
 * 200..599 -> 500 with no body or headers; no body -> length 0. Returns
 * the status to send. id names the stream in logs (0 for HTTP/1.1). */
int http_response_check(const conn *c, int32_t id, http_response *resp);
/* Fills resp with a JSON error: {"error":{"code":...,"message":...}}. */
void http_response_error(http_response *resp, int status, const char *code, const char *message);
/* False for statuses that never carry a body (204, 304). */
bool http_status_has_body(int status);

/* --- http1.c, for http.c ---------------------------------------------- */

/* Sets c up for HTTP/1.1: read limits and parser. */
void http1_start(conn *c);
/* Parses what is buffered and answers complete requests. May free c. */
void http1_read(conn *c);
/* The output drained to its low watermark. May free c. */
void http1_written(conn *c);
/* A deferred answer finished: carry on with the next request. May free c. */
void http1_wake(conn *c);
/* The client closed its side. May free c. */
void http1_eof(conn *c);
/* Frees the HTTP/1.1 state, detaching a pending deferred answer. */
void http1_free(conn *c);
/* Binds d to the request being handled on c. */
void http1_attach(conn *c, http_deferred *d);
/* Writes resp as the answer to the deferred request and detaches d. */
void http1_finish(conn *c, http_response *resp);

#endif
