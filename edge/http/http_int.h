/* http_int.h - what the edge's HTTP server shares between edge/http/http.c
 * (listeners, connections, protocol choice, the handler call, deferred
 * answers), edge/http/http2.c (HTTP/2) and edge/http/http1.c (HTTP/1.1): the server
 * and connection structs and the few functions each side calls in the
 * other. Private to edge/http/http*.c; every function runs on the server's
 * loop thread.
 */
#ifndef EDGE_HTTP_INT_H
#define EDGE_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "edge/http/http.h"

#define HTTP_OUT_HIGH (64 * 1024) /* queued output above which we stop reading */
#define HTTP_OUT_LOW (16 * 1024)  /* refill output once it drains to this */
#define HTTP_FIELD_OVERHEAD 32    /* per header field in the list size (RFC 9113) */

typedef struct conn conn;
typedef struct stream stream; /* an HTTP/2 stream, private to http2.c */
typedef struct h1conn h1conn; /* HTTP/1.1 state, private to http1.c */

enum conn_proto {
	PROTO_UNKNOWN, /* cleartext before the first bytes, TLS before ALPN */
	PROTO_H2,
	PROTO_H1,
};

#define CONN_ID_HOLES 8

struct conn {
	http_server *srv;
	conn *prev, *next;
	struct bufferevent *bev;
	struct event *wake; /* runs a finished deferred answer's follow-up */
	enum conn_proto proto;
	nghttp2_session *sess; /* HTTP/2 only */
	stream *streams;       /* HTTP/2 only; freed with the connection */
	unsigned nstreams;     /* HTTP/2: how many */
	int32_t last_req_id;   /* HTTP/2: the highest id a client HEADERS used */
	/* HTTP/2: the monotonic clock (ns) when the input being parsed was
	 * read, read once for all the requests it brings */
	uint64_t read_ns;
	/* HTTP/2: client stream ids below last_req_id that no HEADERS frame
	 * used (skipped), the latest CONN_ID_HOLES runs of them, [first, last] */
	int32_t id_holes[CONN_ID_HOLES][2];
	unsigned nid_holes;
	h1conn *h1; /* HTTP/1.1 only */
	bool tls;
	bool closing;         /* answering is over; freed once the output drains */
	bool linger;          /* closing: then shut down writing, read until EOF */
	bool lingering;       /* the output drained and writing is shut down */
	bool read_paused;     /* HTTP/2 backpressure */
	bool guarded;         /* admission.conn_close is owed when it closes */
	size_t discarded;     /* bytes read and dropped while closing */
	uint64_t req_started; /* monotonic ms: a request (or the handshake)
	                         is under way since; 0 = none */
	double reset_tokens;  /* HTTP/2 resets the client may still send */
	uint64_t reset_ms;    /* when reset_tokens was brought up to date */
	uint8_t ip[HTTP_IP_LEN];
	bool ip_known;
	char peer[64];
};

struct http_server {
	struct event_base *base;
	http_handler handler;
	void *ctx;
	size_t max_body, max_header_list;
	unsigned max_streams, idle_ms, request_ms;
	unsigned reset_burst, reset_rate;
	http_admission admission;  /* hooks may be NULL */
	const proxy_list *trusted; /* may be NULL */
	struct event *sweep;       /* finds requests that take too long */
	struct evconnlistener *lis[2];
	struct event *retry; /* re-enables the listeners after accept errors */
	bool accepting;
	bool draining; /* http_server_drain: no new requests on any connection */
	/* TLS only: the config's store, or own_tls_store, which this server
	 * made and frees. */
	http_tls_store *tls_store, *own_tls_store;
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
	bool keep;  /* http_deferred_keep: answered after a half-close too */
};

/* --- http.c, for http2.c and http1.c ------------------------------------ */

/* Frees c and everything it owns now. */
void http_conn_free(conn *c);
/* Stops answering on c: it is freed once its output is written (with
 * linger, only after writing is shut down and the client closed or a
 * short time passed, so a client still sending does not get a reset
 * that eats the answer). May free c before it returns. */
void http_conn_close(conn *c, bool linger);
/* Bytes queued for the client. */
size_t http_conn_queued(const conn *c);
/* Hands data[0..n) to the client: written to the socket at once when
 * nothing is queued before it, the connection is cleartext and the
 * caller's *sent (bytes written this way since it was 0) is below
 * HTTP_OUT_HIGH; the bufferevent would otherwise take write interest (an
 * epoll_ctl), write a loop turn later and drop the interest (another).
 * What the socket does not take, everything after a write error (which
 * the bufferevent then meets and reports) and everything past the budget
 * is queued, and the bufferevent's write callback brings the next
 * flush. 0, or ERR_IO when it cannot be queued. */
int http_conn_out(conn *c, const void *data, size_t n, size_t *sent) WARN_UNUSED;
/* Normalises resp before it is sent: status 0 -> 200, a status outside
 * 200..599 -> 500 with no body or headers; no body -> length 0; an error
 * (4xx, 5xx) without cache-control gets "no-store". Returns the status to
 * send. id names the stream in logs (0 for HTTP/1.1). */
int http_response_check(const conn *c, int32_t id, http_response *resp);
/* The Date header's value now (RFC 9110 5.6.7, IMF-fixdate); this
 * thread's buffer, remade once a second. */
#define HTTP_DATE_LEN 29
const char *http_date_now(void);
/* Fills resp with a JSON error: {"error":{"code":...,"message":...}}. */
void http_response_error(http_response *resp, int status, const char *code, const char *message);
/* Fills resp with the JSON error for a request refused before the
 * handler: 413 body_too_large, 431 headers_too_large, 408
 * request_timeout, any other status bad_request with why as the message;
 * and tells the server's admission hook of the refusal. */
void http_response_refuse(const conn *c, http_response *resp, int status, const char *why);
/* Tells srv's admission hook of one refusal, if it has one. */
void http_refused(const http_server *srv, http_refusal why);
/* False for statuses that never carry a body (204, 304). */
bool http_status_has_body(int status);
/* Calls the server's handler with req, whose peer, tls and handle it
 * fills in, and resp, which it sets up first. st is the HTTP/2 stream,
 * NULL for HTTP/1.1. False when the handler deferred the answer: resp's
 * body is then freed and http_finish sends the answer. */
bool http_call_handler(conn *c, stream *st, http_request *req, http_response *resp);

/* --- http2.c, for http.c ----------------------------------------------- */

/* The nghttp2 callbacks every HTTP/2 session of a server uses. NULL with
 * the reason in err (which must not be NULL). */
nghttp2_session_callbacks *http2_callbacks_new(char *err, size_t errlen);
/* Sets c up for HTTP/2: a server session with our SETTINGS, written to
 * the output. 0, or ERR_IO; the caller then frees c. */
int http2_start(conn *c) WARN_UNUSED;
/* Feeds what is buffered to the session and sends what it answers. May
 * free c. */
void http2_read(conn *c);
/* After reading, writing or a finished deferred answer: sends what the
 * session has, closes c once the session is done, and stops reading
 * while ~HTTP_OUT_HIGH is queued. May free c. */
void http2_progress(conn *c);
/* Moves frames from the session to the socket (cleartext, nothing
 * queued: written at once, up to HTTP_OUT_HIGH a call) or into the
 * bufferevent's output, until ~HTTP_OUT_HIGH is queued. 0, or ERR_IO. */
int http2_flush(conn *c) WARN_UNUSED;
/* c has been idle for the idle timeout: sends GOAWAY and closes once it
 * is written. May free c. */
void http2_idle(conn *c);
/* Answers 408 on every stream of c whose request began before since
 * (monotonic ms) and is not whole yet. May free c. */
void http2_sweep(conn *c, uint64_t since);
/* Frees the session and every stream, detaching pending deferred
 * answers. Safe on a connection that never started HTTP/2. */
void http2_free(conn *c);
/* The drain: GOAWAY NO_ERROR with the last stream received; the open
 * streams are answered, then c closes. Returns the streams still open.
 * May free c. */
unsigned http2_drain(conn *c);
/* Binds d to its stream (d->st). */
void http2_attach(http_deferred *d);
/* Detaches d from its stream and, unless the connection is closing,
 * submits resp there as the answer, taking resp->body. */
void http2_finish(http_deferred *d, http_response *resp);

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
/* The request under way on c took too long: answers 408 and closes. May
 * free c. */
void http1_timeout(conn *c);
/* The drain: the request under way (if any) is answered with
 * "connection: close", then c closes; with none it closes now. Returns 1
 * while a request is under way, else 0. May free c. */
unsigned http1_drain(conn *c);
/* Binds d to the request being handled on c. */
void http1_attach(conn *c, http_deferred *d);
/* Writes resp as the answer to the deferred request and detaches d. */
void http1_finish(conn *c, http_response *resp);

#endif
