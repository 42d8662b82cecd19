/* hclient.h - a small blocking HTTP/1.0 client for the operator commands
 * (central's CLI, `edge inspect`): one request per connection, plain or
 * TLS, with a timeout on every step.
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

typedef struct hclient_req {
	const char *host; /* a name or address */
	int port;
	bool tls;
	const char *method; /* "GET", "POST" */
	const char *path;
	const char *token;   /* sent as Authorization: Bearer; NULL or "" none */
	FILE *stream;        /* set: a 200 body goes here as it arrives */
	unsigned timeout_ms; /* for connecting, and for each read and write */
	size_t max_body;     /* larger answers are an error (kept ones only) */
} hclient_req;

typedef struct hclient_answer {
	int status;
	char *body; /* malloc'ed and NUL-terminated; NULL when streamed */
	size_t len;
} hclient_answer;

/* Sends r and reads the answer. 0 with a's status and body (the caller
 * frees body); ERR_IO with the reason in err: no connection (err starts
 * with "connect"), a failed send or read, an answer that is not HTTP or
 * is over max_body, a failed write to stream. */
int hclient_do(const hclient_req *r, hclient_answer *a, char *err, size_t errlen) WARN_UNUSED;

/* A daemon's listen address ("host:port", host maybe empty, 0.0.0.0 or
 * ::) as the address to connect to on this host. 0, or ERR_INVAL. */
int hclient_local_target(const char *listen, char *host, size_t cap, int *port) WARN_UNUSED;

#endif
