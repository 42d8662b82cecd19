/* hclient.h - the one blocking HTTP/1.1 client: the operator commands
 * (central's CLI, `edge inspect`), the edge's checkpoint download and
 * the simulator's checks and samples. One request per connection
 * ("Connection: close"), plain or TLS, with a timeout on every step and,
 * when asked, a deadline on the whole exchange.
 *
 * The answer is read as RFC 9112 section 6.3 frames it for a client: no
 * body after 1xx, 204 and 304; a chunked body when Transfer-Encoding
 * names chunked; else Content-Length bytes; else everything up to EOF.
 * An answer cut short of its framing is an error, never a short body.
 *
 * TLS does not check the server's certificate: the commands talk to a
 * daemon on the same host, or on the operator's private network, and
 * prove nothing with TLS but keep it on when the daemon offers nothing
 * else. Any thread; nothing shared.
 */
#ifndef LIKES_HCLIENT_H
#define LIKES_HCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"

/* The longest request head sent, and the longest answer head read. */
#define HCLIENT_HEAD_MAX (16u << 10)

/* What to send. The strings are the caller's and only read during
 * hclient_do. */
typedef struct hclient_req {
	const char *host; /* a name or address (IPv6 without brackets) */
	int port;         /* 1-65535 */
	bool tls;
	const char *method; /* "GET", "POST": capital letters only */
	const char *path;   /* starts with '/'; no space or control byte */
	const char *token;  /* sent as Authorization: Bearer; NULL or "" none */
	FILE *stream;       /* set: a 200 body goes here as it arrives */
	/* The longest wait for any one step: connecting, a step of the TLS
	 * handshake, each write, each read. 0: no limit. */
	unsigned timeout_ms;
	/* When not 0, the whole exchange (from the call) ends within it. */
	unsigned total_ms;
	size_t max_body; /* a kept body (not a streamed one) over this is refused */
} hclient_req;

typedef struct hclient_answer {
	int status;
	char *body; /* malloc'ed and NUL-terminated, "" when empty; NULL when streamed */
	size_t len; /* of body; 0 when streamed */
} hclient_answer;

/* Sends r and reads the answer. 0 with a's status and body (the caller
 * frees body), whatever the status. Otherwise a is zeroed, err says why
 * (a connection that could not be made starts with "connect"), and:
 *   ERR_INVAL    r is not a request hclient_do sends (see hclient_req;
 *                a head over HCLIENT_HEAD_MAX); nothing was sent;
 *   ERR_IO       no connection; a failed send, read or TLS step; an
 *                answer that is not HTTP, is framed wrongly or ends
 *                before its framing does; a failed write to stream;
 *   ERR_TIMEOUT  a step took longer than timeout_ms, or the exchange
 *                longer than total_ms;
 *   ERR_TOOBIG   the answer's head is over HCLIENT_HEAD_MAX, or the body
 *                to keep over max_body.
 * A streamed body may have been written in part when an error comes. */
int hclient_do(const hclient_req *r, hclient_answer *a, char *err, size_t errlen) WARN_UNUSED;

/* A daemon's listen address ("host:port", host maybe empty, 0.0.0.0 or
 * ::) as the address to connect to on this host. 0, or ERR_INVAL. */
int hclient_local_target(const char *listen, char *host, size_t cap, int *port) WARN_UNUSED;

#endif
