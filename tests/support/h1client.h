/* h1client.h - a small blocking HTTP/1.1 client for tests.
 *
 * Writes raw request bytes (whatever framing, good or bad, a test
 * wants) over a blocking socket, plain or TLS with a chosen ALPN list,
 * and reads the answers with http-parser: status, headers and body of
 * each, counted in order, 1xx interim answers apart. Failures of the
 * client itself are Criterion assertions. One client per thread; it owns
 * its connection and the bodies it received. Compiled once into the
 * test support library (tests/support/h1client.c); the connection,
 * plain or TLS, is tconn.h's.
 */
#ifndef TESTS_SUPPORT_H1CLIENT_H
#define TESTS_SUPPORT_H1CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

#include "tests/support/tconn.h"

#define H1CLIENT_MAX_ANSWERS 16
#define H1CLIENT_MAX_HEADERS 16

typedef struct h1client_resp {
	int status;
	char names[H1CLIENT_MAX_HEADERS][64], values[H1CLIENT_MAX_HEADERS][256];
	int nhdrs;
	char *body; /* NUL-terminated; NULL when the answer had none */
	size_t len;
} h1client_resp;

typedef struct h1client {
	tconn conn;
	http_parser p;
	h1client_resp r[H1CLIENT_MAX_ANSWERS];
	int n;                           /* answers complete */
	bool head[H1CLIENT_MAX_ANSWERS]; /* answer i is to a HEAD request */
	bool in_value, eof;
	int interim; /* 1xx answers seen */
} h1client;

/* Connects to 127.0.0.1:port; with tls, alpn is the wire-format list
 * ("" offers none). False when the handshake fails. */
bool h1client_open(h1client *cl, int port, bool tls, const char *alpn, size_t alpn_len);

/* Connects to 127.0.0.1:port, with tls (NULL: plain) offering what it
 * says. False when the handshake fails (cl->conn.tls_err says why). */
bool h1client_open_tls(h1client *cl, int port, const tconn_tls *tls);

/* Frees the bodies received and the connection; cl->conn.fd is -1
 * after. */
void h1client_close(h1client *cl);

/* Writes all len bytes (through TLS when cl has it). */
void h1client_send(h1client *cl, const char *data, size_t len);
void h1client_send_str(h1client *cl, const char *s);

/* Reads once, waiting up to ms; false when nothing came. */
bool h1client_pump(h1client *cl, int ms);

/* Reads until `want` answers are complete; false on EOF first or after
 * H2CLIENT_WAIT_MS. */
bool h1client_wait(h1client *cl, int want);

/* Reads until the server closes; false on timeout. */
bool h1client_wait_eof(h1client *cl, int ms);

/* The value of the header name in r (any case), NULL when absent. */
const char *h1client_header(const h1client_resp *r, const char *name);

/* Asserts r is the server's JSON error answer with the given status and
 * code, and that it closes the connection. */
void h1client_assert_error(const h1client_resp *r, int status, const char *code);

#endif
