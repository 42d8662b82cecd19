/* tconn.h - a test client's connection: a blocking TCP socket to
 * 127.0.0.1, plain or under TLS offering the ALPN list, protocol versions
 * and TLS 1.2 suites a test chooses (never verifying the server), with
 * reads and writes that go through TLS when the connection has it.
 *
 * The transport under h1client and h2client, and on its own for tests
 * that write raw bytes. Failures of the helper itself (a socket or an
 * OpenSSL object that cannot be made) are Criterion assertions; a
 * connection or handshake the server refuses is a result. One thread per
 * connection; it owns its socket and SSL objects. Compiled once into the
 * test support library (tests/support/tconn.c).
 */
#ifndef TESTS_SUPPORT_TCONN_H
#define TESTS_SUPPORT_TCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

/* What a TLS client offers; zeroed fields keep OpenSSL's defaults. */
typedef struct tconn_tls {
	const char *alpn;             /* the wire-format ALPN list */
	size_t alpn_len;              /* 0: no ALPN offered */
	int min_version, max_version; /* TLS1_2_VERSION, ...; 0: OpenSSL's default */
	const char *ciphers;          /* TLS 1.2 suites, OpenSSL's list syntax; NULL: default */
} tconn_tls;

typedef struct tconn {
	int fd;                /* -1 when not connected */
	SSL_CTX *ctx;          /* NULL on a plain connection */
	SSL *ssl;              /* NULL on a plain connection */
	unsigned long tls_err; /* the first OpenSSL error of a failed handshake */
} tconn;

/* Nonzero: SO_RCVBUF for new client sockets (a test of the server's
 * write backpressure sets it before connecting). */
extern int tconn_rcvbuf;

/* A blocking TCP connection to 127.0.0.1:port; -1 (errno set) when the
 * connection fails. */
int tconn_tcp_connect(int port);

/* Connects c to 127.0.0.1:port, then with tls (NULL: plain) shakes hands
 * offering what it says. False when the connection fails (c->fd is -1)
 * or the handshake does (c->tls_err says why); tconn_close(c) either
 * way. */
bool tconn_open(tconn *c, int port, const tconn_tls *tls);

/* Frees the SSL objects and closes the socket; c->fd is -1 after. */
void tconn_close(tconn *c);

/* Writes all len bytes; false when the connection fails first. */
bool tconn_write(tconn *c, const void *p, size_t len);

/* Reads what is there, waiting up to ms for it: the bytes read (> 0), 0
 * at EOF or on an error of the connection, -1 when nothing came in ms. */
ssize_t tconn_read(tconn *c, void *buf, size_t cap, int ms);

/* Reads into buf until the peer closes, cap bytes are read, or nothing
 * comes for ms; the bytes read. */
size_t tconn_read_to_eof(tconn *c, void *buf, size_t cap, int ms);

/* Ends c's sending side: a TLS close_notify, or a TCP half-close. */
void tconn_close_write(tconn *c);

/* The protocol the handshake chose by ALPN, in out ("" when none). */
const char *tconn_alpn(const tconn *c, char *out, size_t cap);

/* Does the peer close fd (EOF or error) within ms? Reads and drops
 * whatever else arrives meanwhile. */
bool tconn_eof_seen(int fd, int ms);

#endif
