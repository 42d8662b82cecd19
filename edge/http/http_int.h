/* http_int.h - what the files of the edge's HTTP server share, in
 * layers that call only down:
 *
 *   http.c             the server: listeners, accept, the protocol choice,
 *                      the event callbacks, timeouts, drain, deferred answers
 *   http1.c  http2.c   one protocol each, behind a table of operations
 *   http_conn.c        one connection: output, close, free, the handler call
 *   h1strict.c         the strict HTTP/1.1 framing (http1.c's)
 *   http_msg.c         requests and answers as values
 *
 * The server picks a connection's table once it knows the protocol (the
 * preface, or ALPN) and from then on calls c->ops, never a protocol by
 * name; a protocol calls back only into http_conn.c. The structs here
 * are the connection, what one server's connections share (http_host),
 * and the plumbing of a deferred answer. Private to edge/http; every
 * function runs on the server's loop thread.
 */
#ifndef EDGE_HTTP_INT_H
#define EDGE_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "edge/http/http_msg.h"
#include "edge/http/proxy.h"

#define HTTP_OUT_HIGH (64 * 1024) /* queued output above which we stop reading */
#define HTTP_OUT_LOW (16 * 1024)  /* refill output once it drains to this */
#define HTTP_FIELD_OVERHEAD 32    /* per header field in the list size (RFC 9113) */

typedef struct conn conn;
typedef struct stream stream; /* an HTTP/2 stream, private to http2.c */
typedef struct h1conn h1conn; /* HTTP/1.1 state, private to http1.c */

/* What a protocol does for the server, one table per protocol (http1.c,
 * http2.c) and one for a connection whose protocol is not known yet
 * (http.c). Each function runs with c not closing unless it says so,
 * and any of them may free c. */
typedef struct http_proto_ops {
	const char *name; /* in logs: "h2", "http/1.1" */
	/* Sets c up for the protocol. 0, or ERR_IO (the caller frees c). */
	int (*start)(conn *c);
	/* Input is buffered. */
	void (*read)(conn *c);
	/* The output drained to its low watermark. */
	void (*written)(conn *c);
	/* A deferred answer finished: send it, carry on. */
	void (*wake)(conn *c);
	/* Closing too: moves what the protocol still has to say into the
	 * output. 0, or ERR_IO (the caller frees c). */
	int (*flush)(conn *c);
	/* The client closed its side. */
	void (*eof)(conn *c);
	/* No traffic for the idle timeout. */
	void (*idle)(conn *c);
	/* Requests (or a handshake) under way since before since
	 * (monotonic ms) and not whole yet: answered 408, or c closed. */
	void (*sweep)(conn *c, uint64_t since);
	/* The server drains: answer what is under way, then close. Returns
	 * the requests still under way. */
	unsigned (*drain)(conn *c);
	/* Binds d to the request being handled (d->c, d->st set). */
	void (*attach)(http_deferred *d);
	/* Detaches d from its request and, unless c is closing, answers it
	 * with resp, taking resp->body. d->c is alive. */
	void (*finish)(http_deferred *d, http_response *resp);
	/* Frees the protocol's state of c, detaching pending deferred
	 * answers; also on a closing c, and on one whose start failed. */
	void (*free)(conn *c);
} http_proto_ops;

extern const http_proto_ops http1_ops; /* http1.c */
extern const http_proto_ops http2_ops; /* http2.c */

/* What the connections of one server share: its limits, its handler, its
 * admission hooks and the list of its connections. Part of the server
 * (http.c), which sets it up; the layers below read it, and http_conn.c
 * unlinks a connection it frees. */
typedef struct http_host {
	http_handler handler;
	void *ctx;
	size_t max_body, max_header_list;
	unsigned max_streams, idle_ms;
	unsigned reset_burst, reset_rate;
	http_admission admission;       /* hooks may be NULL */
	const proxy_list *trusted;      /* may be NULL */
	bool draining;                  /* http_server_drain: no new requests on any connection */
	nghttp2_session_callbacks *cbs; /* made by http2.c */
	conn *conns;
} http_host;

#define CONN_ID_HOLES 8

/* One connection. The fields marked HTTP/2 are http2.c's and h1 is
 * http1.c's: no other file touches them (they sit inline to spare an
 * allocation per connection). */
struct conn {
	http_host *host;
	const http_proto_ops *ops; /* the protocol's; set once it is known */
	conn *prev, *next;
	struct bufferevent *bev;
	struct event *wake;    /* runs a finished deferred answer's follow-up */
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

/* --- http_conn.c, for the layers above -------------------------------------- */

/* Frees c and everything it owns now. */
void http_conn_free(conn *c);
/* Stops answering on c: it is freed once its output is written (with
 * linger, only after writing is shut down and the client closed or a
 * short time passed, so a client still sending does not get a reset
 * that eats the answer). May free c before it returns. */
void http_conn_close(conn *c, bool linger);
/* A closing connection's output is written: frees c, or with linger
 * shuts down writing and gives the client a moment to read and close. */
void http_conn_drained(conn *c);
/* The client closed: logs it and frees c. */
void http_conn_eof(conn *c);
/* A connection that stalls (a handshake, our writes, our close) or one
 * with no way to say goodbye went idle: logs it and frees c. */
void http_conn_stalled(conn *c);
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
/* Fills resp with the JSON error for a request refused before the
 * handler: 413 body_too_large, 431 headers_too_large, 408
 * request_timeout, any other status bad_request with why as the message;
 * and tells the server's admission hook of the refusal. */
void http_response_refuse(const conn *c, http_response *resp, int status, const char *why);
/* Tells h's admission hook of one refusal, if it has one. */
void http_refused(const http_host *h, http_refusal why);
/* Tells h's admission hook that a tracked connection from ip closed. */
void http_admission_close(const http_host *h, const uint8_t *ip);
/* Calls the server's handler with req, whose peer, tls and handle it
 * fills in, and resp, which it sets up first. st is the HTTP/2 stream,
 * NULL for HTTP/1.1. False when the handler deferred the answer: resp's
 * body is then freed and http_finish sends the answer. */
bool http_call_handler(conn *c, stream *st, http_request *req, http_response *resp);

/* --- http2.c, for http.c ------------------------------------------------------ */

/* The nghttp2 callbacks every HTTP/2 session of a server uses. NULL with
 * the reason in err (which must not be NULL). */
nghttp2_session_callbacks *http2_callbacks_new(char *err, size_t errlen);

#endif
