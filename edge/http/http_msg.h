/* http_msg.h - what the edge's HTTP server and its user hand each other:
 * a request, the answer the handler fills, the handler itself, and the
 * admission hooks told of what the server refuses before a handler sees
 * it; with the helpers that read a request and build an answer. Both
 * protocols (http1.c, http2.c) and the server (http.c) sit on this;
 * edge/http/http.h includes it, so users of the server need only that.
 *
 * Pure functions over caller-owned values (http_date_now keeps a
 * per-thread buffer); any thread.
 */
#ifndef EDGE_HTTP_MSG_H
#define EDGE_HTTP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define HTTP_MAX_RESP_HEADERS 12

/* An address as the server hands it to handlers and admission hooks: IPv6, or
 * IPv4 as v4-mapped IPv6. */
#define HTTP_IP_LEN 16

typedef struct http_header {
	const char *name; /* lower case (HTTP/1.1 names are lowered for you) */
	size_t namelen;
	const char *value;
	size_t valuelen;
} http_header;

typedef struct http_request {
	const char *method;         /* NUL-terminated: "GET", "POST", ... */
	const char *path;           /* NUL-terminated :path, query included (for
	                               HTTP/1.1 the origin form of the target) */
	const http_header *headers; /* regular (non-pseudo) headers */
	size_t nheaders;
	const char *body; /* NULL when empty; a NUL follows the last byte */
	size_t body_len;
	const char *peer;       /* "127.0.0.1:40000" */
	const uint8_t *peer_ip; /* HTTP_IP_LEN bytes (IPv4 v4-mapped); NULL
	                           when unknown */
	/* The client after the trusted-proxy rule (proxy.h): the peer, or
	 * from a trusted proxy the address its headers name; NULL when
	 * unknown. Valid during the handler call only. */
	const uint8_t *client_ip;
	bool via_untrusted; /* forwarding headers from a peer not trusted */
	bool tls;
	bool h1; /* HTTP/1.x rather than HTTP/2 */
	/* The monotonic clock (ns) when the request's last bytes were read:
	 * for HTTP/2 the read that completed it, shared by every request of
	 * that read (0: not known, as in handlers called by tests). */
	uint64_t arrived_ns;
	void *handle; /* the server's own, for http_defer; leave it alone */
} http_request;

typedef struct http_response {
	int status;               /* 200 unless set (0 also means 200);
	                             otherwise outside 200..599: 500 */
	const char *content_type; /* "application/json" unless set */
	http_header headers[HTTP_MAX_RESP_HEADERS];
	size_t nheaders;
	char hbuf[1024]; /* header names and values live here */
	size_t hbuf_used;
	char *body; /* malloc'ed; the server frees it */
	size_t body_len;
} http_response;

typedef void (*http_handler)(void *ctx, const http_request *req, http_response *resp);

typedef struct http_deferred http_deferred;

/* What the server refuses before any handler sees a request. */
typedef enum http_refusal {
	HTTP_REFUSED_STREAMS,   /* an HTTP/2 stream over the concurrent cap: RST_STREAM */
	HTTP_REFUSED_SLOW,      /* 408 or closed: a request or handshake not in time */
	HTTP_REFUSED_RESETS,    /* HTTP/2 rapid reset: GOAWAY and closed */
	HTTP_REFUSED_HEADERS,   /* 431 */
	HTTP_REFUSED_BODY,      /* 413 */
	HTTP_REFUSED_MALFORMED, /* 400 (or 414, 501, 505): not valid HTTP */
} http_refusal;

/* Who may connect, and what is told of refusals, as the owner of the
 * policy says (the edge hands its admission limits: guard.h). The server
 * keeps no policy of its own. Any hook may be NULL; they run on the
 * worker thread of the connection, so they must be thread-safe. */
typedef struct http_admission {
	/* A connection from ip opens: false refuses it (closed at once, no
	 * answer). *tracked true asks for conn_close when it closes. */
	bool (*conn_open)(void *ctx, const uint8_t ip[HTTP_IP_LEN], bool *tracked);
	void (*conn_close)(void *ctx, const uint8_t ip[HTTP_IP_LEN]);
	/* One refusal before the handler. */
	void (*refused)(void *ctx, http_refusal why);
	void *ctx;
} http_admission;

/* Zero in a size or count field means its default. Port 0 binds any free
 * port (see http_server_port). */

/* Finds a request header by lower-case name; NULL if absent. */
const http_header *http_find_header(const http_request *req, const char *name);
/* Adds a response header, copying name and value into resp->hbuf.
 * ERR_TOOBIG when the headers or hbuf are full; ERR_INVAL for a name that
 * is empty, not lower case, holds a space, a colon or a control byte, is
 * a pseudo header or one the server sets itself (content-type,
 * content-length, connection, transfer-encoding), or for a value holding
 * CR or LF. The response must not be copied after headers are added:
 * they point into its own hbuf. */
int http_add_header(http_response *resp, const char *name, const char *value) WARN_UNUSED;
/* Is m[0..n) a method some HTTP RFC defines (RFC 9110's and PATCH)? An
 * unknown one is answered 501, a known one a route lacks 405. */
bool http_method_known(const char *m, size_t n);
/* Does resp carry a header of that name (any case)? */
bool http_has_header(const http_response *resp, const char *name);

/* Sets resp up as the server does before calling the handler. */
void http_response_init(http_response *resp);
/* Moves src into dst (its headers, which point into its own hbuf, are
 * pointed at dst's) and leaves src with no body. */
void http_response_move(http_response *dst, http_response *src);
/* The reason phrase for an HTTP status ("Not Found"); "Unknown" for
 * codes it does not know. */
const char *http_status_reason(int status);

/* --- for the server's own files (edge/http) -------------------------------- */

/* False for statuses that never carry a body (204, 304). */
bool http_status_has_body(int status);
/* The Date header's value now (RFC 9110 5.6.7, IMF-fixdate); this
 * thread's buffer, remade once a second. */
#define HTTP_DATE_LEN 29
const char *http_date_now(void);
/* Fills resp with a JSON error: {"error":{"code":...,"message":...}}. */
void http_response_error(http_response *resp, int status, const char *code, const char *message);

#endif
