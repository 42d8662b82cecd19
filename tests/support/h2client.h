/* h2client.h - a small blocking HTTP/2 client for tests.
 *
 * Speaks h2c with prior knowledge or TLS with a chosen ALPN list over a
 * blocking socket, driving an nghttp2 client session: submit requests,
 * then h2client_run() until every stream closed. Failures of the client
 * itself are Criterion assertions. One client per thread; it owns its
 * connection (tconn.h), session and the bodies it received. Compiled
 * once into the test support library (tests/support/h2client.c).
 */
#ifndef TESTS_SUPPORT_H2CLIENT_H
#define TESTS_SUPPORT_H2CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "tests/support/tconn.h"

#define H2CLIENT_MAX_STREAMS 128
#define H2CLIENT_MAX_HEADERS 16
#define H2CLIENT_WAIT_MS 5000

typedef struct h2client_stream {
	int32_t id;
	int status;
	bool closed;
	uint32_t code;
	char *body;
	size_t len, cap;
	char names[H2CLIENT_MAX_HEADERS][64], values[H2CLIENT_MAX_HEADERS][256];
	int nhdrs;
	const char *send;
	size_t send_len, send_off;
} h2client_stream;

typedef struct h2client {
	tconn conn;
	nghttp2_session *sess;
	h2client_stream st[H2CLIENT_MAX_STREAMS];
	int n;
	bool eof, goaway;
	uint32_t goaway_code;
} h2client;

/* Connects; alpn is the wire-format ALPN list for TLS ("" offers none).
 * Returns false when the connection or handshake fails. */
bool h2client_open(h2client *cl, int port, bool tls, const char *alpn, size_t alpn_len);

/* Frees the session, the bodies received and the connection;
 * cl->conn.fd is -1 after. */
void h2client_close(h2client *cl);

/* Submits a request; extra is NULL or a "name", "value" pair (xname,
 * xvalue). body (len bytes) must live until the stream closes. */
h2client_stream *h2client_request(h2client *cl, const char *method, const char *path,
                                  const char *body, size_t len, const char *xname,
                                  const char *xvalue);
/* The same with a second extra header, yname: yvalue (none when yname
 * is NULL). */
h2client_stream *h2client_request_with(h2client *cl, const char *method, const char *path,
                                       const char *body, size_t len, const char *xname,
                                       const char *xvalue, const char *yname, const char *yvalue);

/* A request's headers as h2client_request sends them into nv (room for
 * H2CLIENT_NV_MAX): :method and :path unless NULL, :scheme, :authority,
 * and xname: xvalue when xname is set. Returns how many. For a test that
 * submits the frames itself (headers without END_STREAM, a body that
 * never comes); the strings must live until they are submitted. */
#define H2CLIENT_NV_MAX 5
size_t h2client_headers(const h2client *cl, nghttp2_nv *nv, const char *method, const char *path,
                        const char *xname, const char *xvalue);

/* Sends what the session has. */
void h2client_send(h2client *cl);

/* Sends what the session has and reads once (waiting up to ms). */
void h2client_pump(h2client *cl, int ms);

/* Runs until every submitted stream closed; false on EOF or timeout. */
bool h2client_run(h2client *cl);

/* Runs until the server closes the connection; false on timeout. */
bool h2client_wait_eof(h2client *cl, int ms);

/* The value of the response header name on cs, NULL when absent. */
const char *h2client_header(const h2client_stream *cs, const char *name);

/* The error code of the first whole GOAWAY frame in the raw frames
 * buf[0..len) (what a server sent after its preface), -1 when none. */
long h2client_goaway_code(const unsigned char *buf, size_t len);

/* Reads raw frames off c (not through a session) until the peer closes,
 * 8 KiB are read or nothing comes for ms; the error code of the first
 * GOAWAY among them, -1 when none came. */
long h2client_read_goaway(tconn *c, int ms);

#endif
