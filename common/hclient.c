/* hclient.c - the one blocking HTTP/1.1 client (hclient.h).
 *
 * Owns, for one request, a non-blocking socket (and, with TLS, its SSL
 * objects), the request's bytes and the answer's parser. Every wait is a
 * poll() bounded by the request's step timeout and its overall deadline,
 * whichever ends first. The parser takes the answer as it arrives, so a
 * streamed body (a checkpoint, an export) is never held whole; a kept
 * one grows up to max_body. Any thread.
 */
#include "hclient.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "clock.h"
#include "config.h"
#include "sbuf.h"
#include "xmem.h"

#define READ_STEP (64u << 10) /* bytes asked of the socket per read */
#define CHUNK_LINE_MAX 1024u  /* a chunk-size line, extensions and CRLF included */

/* --- the connection -------------------------------------------------------- */

typedef struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	unsigned step_ms;  /* the longest wait for one step; 0: none */
	uint64_t deadline; /* clock_mono_ms() the exchange ends by; 0: none */
} conn;

static void conn_close(conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
}

/* Waits until c's socket is ready for events, for at most one step and
 * not past the deadline: 0, ERR_TIMEOUT, or ERR_IO with errno set. */
static int conn_wait(const conn *c, short events)
{
	uint64_t until = c->step_ms ? clock_mono_ms() + c->step_ms : 0;
	if (c->deadline && (!until || c->deadline < until))
		until = c->deadline;
	for (;;) {
		int ms = -1;
		if (until) {
			uint64_t now = clock_mono_ms();
			if (now >= until)
				return ERR_TIMEOUT;
			ms = until - now > INT_MAX ? INT_MAX : (int)(until - now);
		}
		struct pollfd p = {.fd = c->fd, .events = events};
		int n = poll(&p, 1, ms);
		if (n > 0)
			return 0; /* an error or a hang-up shows in the next call */
		if (n < 0 && errno != EINTR)
			return ERR_IO;
	}
}

/* After an SSL call returned ret: waits for what it wants (0 to call it
 * again) or says it failed (ERR_IO, ERR_TIMEOUT). */
static int tls_wait(const conn *c, int ret)
{
	switch (SSL_get_error(c->ssl, ret)) {
	case SSL_ERROR_WANT_READ: return conn_wait(c, POLLIN);
	case SSL_ERROR_WANT_WRITE: return conn_wait(c, POLLOUT);
	default: return ERR_IO;
	}
}

static void tls_reason(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];
	ERR_error_string_n(e, buf, sizeof buf);
	snprintf(err, errlen, "%s: %s", what, e ? buf : strerror(errno));
	ERR_clear_error();
}

/* Connects c->fd to one address: 0, ERR_TIMEOUT or ERR_IO (errno says
 * why); c->fd is -1 unless 0. */
static int connect_one(conn *c, const struct addrinfo *ai)
{
	c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return ERR_IO;
	int rc = 0;
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS) {
			rc = ERR_IO;
		} else if ((rc = conn_wait(c, POLLOUT)) == 0) {
			int soerr = 0;
			socklen_t len = sizeof soerr;
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
				rc = ERR_IO;
			else if (soerr) {
				errno = soerr;
				rc = ERR_IO;
			}
		}
	}
	if (rc) {
		int e = errno;
		close(c->fd);
		c->fd = -1;
		errno = e;
	}
	return rc;
}

static int tls_start(conn *c, char *err, size_t errlen)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx || !(c->ssl = SSL_new(c->ctx))) {
		tls_reason(err, errlen, "connect: TLS setup");
		return ERR_IO;
	}
	SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	SSL_set_options(c->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_set_alpn_protos(c->ssl, alpn, sizeof alpn - 1) || !SSL_set_fd(c->ssl, c->fd)) {
		tls_reason(err, errlen, "connect: TLS setup");
		return ERR_IO;
	}
	for (;;) {
		ERR_clear_error();
		int k = SSL_connect(c->ssl);
		if (k == 1)
			return 0;
		int rc = tls_wait(c, k);
		if (rc == ERR_TIMEOUT) {
			snprintf(err, errlen, "connect: TLS handshake timed out");
			return rc;
		}
		if (rc) {
			tls_reason(err, errlen, "connect: TLS handshake");
			return rc;
		}
	}
}

static int conn_open(conn *c, const hclient_req *r, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	char ps[16];
	snprintf(ps, sizeof ps, "%d", r->port);
	int g = getaddrinfo(r->host, ps, &hints, &res);
	if (g) {
		snprintf(err, errlen, "connect %s: %s", r->host, gai_strerror(g));
		return ERR_IO;
	}
	int rc = ERR_IO;
	for (struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next) {
		rc = connect_one(c, ai);
		if (rc)
			snprintf(err, errlen, "connect %s:%d: %s", r->host, r->port,
			         rc == ERR_TIMEOUT ? "timed out" : strerror(errno));
	}
	freeaddrinfo(res);
	if (rc || !r->tls)
		return rc;
	return tls_start(c, err, errlen);
}

/* Reads what is there, waiting for it: 0 with *got bytes (0 at EOF), or
 * ERR_IO (errno or the TLS error queue says why) or ERR_TIMEOUT. */
static int conn_read(conn *c, char *buf, size_t cap, size_t *got)
{
	for (;;) {
		int rc;
		if (!c->ssl) {
			ssize_t n = recv(c->fd, buf, cap, 0);
			if (n >= 0) {
				*got = (size_t)n;
				return 0;
			}
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return ERR_IO;
			rc = conn_wait(c, POLLIN);
		} else {
			ERR_clear_error();
			int n = SSL_read(c->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
			if (n > 0 || SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN) {
				*got = n > 0 ? (size_t)n : 0;
				return 0;
			}
			rc = tls_wait(c, n);
		}
		if (rc)
			return rc;
	}
}

/* 0, or ERR_IO (errno or the TLS error queue says why) or ERR_TIMEOUT. */
static int conn_write_all(conn *c, const char *p, size_t n)
{
	while (n) {
		size_t w = 0;
		int rc = 0;
		if (!c->ssl) {
			ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);
			if (k >= 0)
				w = (size_t)k;
			else if (errno == EINTR)
				continue;
			else if (errno == EAGAIN || errno == EWOULDBLOCK)
				rc = conn_wait(c, POLLOUT);
			else
				rc = ERR_IO;
		} else {
			ERR_clear_error();
			int k = SSL_write(c->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
			if (k > 0)
				w = (size_t)k;
			else
				rc = tls_wait(c, k);
		}
		if (rc)
			return rc;
		p += w;
		n -= w;
	}
	return 0;
}

/* --- the request ------------------------------------------------------------ */

/* Bytes a request line or header value must not hold: controls, and
 * (where space_ok is false) space. HTAB is allowed in a header value. */
static bool text_ok(const char *s, bool space_ok, bool tab_ok)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == 0x7f || (ch < 0x20 && !(tab_ok && ch == '\t')) ||
		    (ch == ' ' && !space_ok))
			return false;
	}
	return true;
}

static bool method_ok(const char *m)
{
	if (!m || !*m)
		return false;
	for (; *m; m++)
		if (*m < 'A' || *m > 'Z')
			return false;
	return true;
}

/* The request head of r in out: 0, or ERR_INVAL with the reason in err. */
static int build_request(const hclient_req *r, sbuf *out, char *err, size_t errlen)
{
	bool tok = r->token && r->token[0];
	const char *bad = NULL;
	if (!r->host || !r->host[0] || !text_ok(r->host, false, false))
		bad = "the host";
	else if (r->port <= 0 || r->port > 65535)
		bad = "the port";
	else if (!method_ok(r->method))
		bad = "the method";
	else if (!r->path || r->path[0] != '/' || !text_ok(r->path, false, false))
		bad = "the path";
	else if (tok && !text_ok(r->token, true, true))
		bad = "the token";
	if (bad) {
		snprintf(err, errlen, "the request is not sent: %s is not valid", bad);
		return ERR_INVAL;
	}
	bool v6 = strchr(r->host, ':') != NULL;
	sbuf_addf(out, "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nConnection: close\r\n", r->method,
	          r->path, v6 ? "[" : "", r->host, v6 ? "]" : "", r->port);
	if (tok)
		sbuf_addf(out, "Authorization: Bearer %s\r\n", r->token);
	sbuf_adds(out, "\r\n");
	if (out->len > HCLIENT_HEAD_MAX) {
		snprintf(err, errlen, "the request is not sent: its head is over %u bytes",
		         HCLIENT_HEAD_MAX);
		return ERR_INVAL;
	}
	return 0;
}

/* --- the answer ------------------------------------------------------------ */

enum { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_TO_EOF };
enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILERS };

typedef struct parser {
	const hclient_req *r;
	char *err;
	size_t errlen;
	int status;
	char head[HCLIENT_HEAD_MAX];
	size_t head_len;
	bool have_head;
	bool streaming; /* a 200 with r->stream: the body goes there */
	bool done;      /* the answer is complete: nothing more is read */
	int mode;
	uint64_t left; /* BODY_LENGTH: bytes to come; CH_DATA: of this chunk */
	int chunk;     /* BODY_CHUNKED: where in the framing */
	char line[CHUNK_LINE_MAX];
	size_t line_len;        /* CH_SIZE: the line so far */
	unsigned crlf;          /* CH_DATA_END: bytes of CRLF seen */
	size_t trailers, tline; /* CH_TRAILERS: bytes seen, on this line */
	bool cr;                /* CH_TRAILERS: the last byte was CR */
	sbuf body;              /* kept */
} parser;

static int fail(parser *ps, int rc, const char *why)
{
	snprintf(ps->err, ps->errlen, "%s", why);
	return rc;
}

/* Body bytes, decoded: to the stream or kept. */
static int sink(parser *ps, const char *p, size_t n)
{
	if (!n)
		return 0;
	if (ps->streaming) {
		if (fwrite(p, 1, n, ps->r->stream) != n)
			return fail(ps, ERR_IO, "writing the output failed");
		return 0;
	}
	if (n > ps->r->max_body - ps->body.len)
		return fail(ps, ERR_TOOBIG, "the answer is too large");
	sbuf_add(&ps->body, p, n);
	return 0;
}

/* The largest body length taken from the answer's framing (a bound
 * that keeps the digits' arithmetic from overflowing when streaming). */
static uint64_t length_cap(const parser *ps)
{
	uint64_t most = UINT64_MAX / 16;
	return ps->streaming || ps->r->max_body > most ? most : ps->r->max_body;
}

/* Does the header value v (n bytes) name tok, case aside? */
static bool value_has(const char *v, size_t n, const char *tok)
{
	size_t t = strlen(tok);
	for (size_t i = 0; i + t <= n; i++)
		if (strncasecmp(v + i, tok, t) == 0)
			return true;
	return false;
}

/* The status line and the fields of the head (head_len bytes, the blank
 * line included): sets status, streaming and the body's framing. */
static int parse_head(parser *ps)
{
	const char *p = ps->head, *end = ps->head + ps->head_len;
	const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	if (!eol || eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
		return fail(ps, ERR_IO, "the answer is not HTTP");
	int st = 0;
	for (int i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return fail(ps, ERR_IO, "the answer is not HTTP");
		st = st * 10 + (p[i] - '0');
	}
	if (st < 100)
		return fail(ps, ERR_IO, "the answer is not HTTP");
	ps->status = st;
	ps->streaming = ps->r->stream && st == 200;
	bool chunked = false, have_length = false;
	uint64_t length = 0, cap = length_cap(ps);
	for (p = eol + 2; p < end - 2; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		const char *colon = eol ? memchr(p, ':', (size_t)(eol - p)) : NULL;
		if (!colon)
			return fail(ps, ERR_IO, "the answer has a malformed header");
		size_t nlen = (size_t)(colon - p);
		const char *v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		size_t vlen = (size_t)(eol - v);
		if (nlen == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
			chunked |= value_has(v, vlen, "chunked");
		} else if (nlen == 14 && strncasecmp(p, "content-length", 14) == 0) {
			if (vlen == 0)
				return fail(ps, ERR_IO, "the answer has a bad Content-Length");
			length = 0;
			for (size_t i = 0; i < vlen && v[i] != ' ' && v[i] != '\t'; i++) {
				if (v[i] < '0' || v[i] > '9')
					return fail(ps, ERR_IO,
					            "the answer has a bad Content-Length");
				if (length > cap)
					break;
				length = length * 10 + (uint64_t)(v[i] - '0');
			}
			if (length > cap)
				return fail(ps, ERR_TOOBIG, "the answer is too large");
			have_length = true;
		}
	}
	ps->mode = chunked ? BODY_CHUNKED : have_length ? BODY_LENGTH : BODY_TO_EOF;
	if (st < 200 || st == 204 || st == 304)
		ps->mode = BODY_NONE;
	ps->left = length;
	ps->done = ps->mode == BODY_NONE || (ps->mode == BODY_LENGTH && length == 0);
	if (!ps->streaming && ps->mode == BODY_LENGTH)
		sbuf_reserve(&ps->body, (size_t)length);
	return 0;
}

/* A chunk-size line (line_len bytes, CRLF included): hex digits, then
 * nothing or an extension. Moves to the chunk's data or the trailers. */
static int chunk_size(parser *ps)
{
	const char *q = ps->line, *eol = ps->line + ps->line_len - 2;
	uint64_t size = 0, cap = length_cap(ps);
	size_t digits = 0;
	for (; q < eol; q++, digits++) {
		int d;
		if (*q >= '0' && *q <= '9')
			d = *q - '0';
		else if ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'f')
			d = (*q | 0x20) - 'a' + 10;
		else
			break;
		if (size > cap)
			return fail(ps, ERR_TOOBIG, "the answer is too large");
		size = size * 16 + (uint64_t)d;
	}
	if (digits == 0 || (q < eol && *q != ';' && *q != ' ' && *q != '\t'))
		return fail(ps, ERR_IO, "the answer has a bad chunk size");
	if (!ps->streaming && size > ps->r->max_body - ps->body.len)
		return fail(ps, ERR_TOOBIG, "the answer is too large");
	ps->line_len = 0;
	ps->left = size;
	ps->chunk = size ? CH_DATA : CH_TRAILERS;
	ps->crlf = 0;
	return 0;
}

/* Takes what it can of p[0..n) in the chunked framing: *used bytes. */
static int chunk_feed(parser *ps, const char *p, size_t n, size_t *used)
{
	size_t i = 0;
	int rc = 0;
	switch (ps->chunk) {
	case CH_SIZE:
		while (i < n && rc == 0) {
			if (ps->line_len == CHUNK_LINE_MAX)
				return fail(ps, ERR_IO, "the answer has a bad chunk size");
			char ch = ps->line[ps->line_len++] = p[i++];
			if (ch == '\n' && ps->line_len >= 2 && ps->line[ps->line_len - 2] == '\r') {
				rc = chunk_size(ps);
				break;
			}
		}
		break;
	case CH_DATA:
		i = n < ps->left ? n : (size_t)ps->left;
		rc = sink(ps, p, i);
		ps->left -= i;
		if (!ps->left)
			ps->chunk = CH_DATA_END;
		break;
	case CH_DATA_END:
		if (p[i++] != (ps->crlf ? '\n' : '\r'))
			return fail(ps, ERR_IO, "the answer has a chunk without its CRLF");
		if (++ps->crlf == 2)
			ps->chunk = CH_SIZE;
		break;
	case CH_TRAILERS: /* lines up to a blank one, read past */
		while (i < n && !ps->done) {
			char ch = p[i++];
			if (++ps->trailers > HCLIENT_HEAD_MAX)
				return fail(ps, ERR_TOOBIG, "the answer's trailers are too large");
			if (ch == '\n' && ps->cr) {
				ps->done = ps->tline == 0;
				ps->tline = 0;
				ps->cr = false;
				continue;
			}
			ps->tline += ps->cr; /* a CR not before LF is a byte of the line */
			ps->cr = ch == '\r';
			ps->tline += !ps->cr;
		}
		break;
	}
	*used = i;
	return rc;
}

/* Body bytes as they came, through the framing. */
static int body_feed(parser *ps, const char *p, size_t n)
{
	while (n && !ps->done) {
		size_t used = n;
		int rc;
		switch (ps->mode) {
		case BODY_LENGTH:
			used = n < ps->left ? n : (size_t)ps->left;
			rc = sink(ps, p, used);
			ps->left -= used;
			ps->done = ps->left == 0;
			break;
		case BODY_CHUNKED: rc = chunk_feed(ps, p, n, &used); break;
		default: rc = sink(ps, p, n); break;
		}
		if (rc)
			return rc;
		p += used;
		n -= used;
	}
	return 0;
}

/* Bytes as they came: the head until its blank line, then the body. */
static int feed(parser *ps, const char *p, size_t n)
{
	if (!ps->have_head) {
		size_t old = ps->head_len, room = sizeof ps->head - old;
		size_t take = n < room ? n : room;
		memcpy(ps->head + old, p, take);
		ps->head_len += take;
		size_t from = old > 3 ? old - 3 : 0;
		char *e = memmem(ps->head + from, ps->head_len - from, "\r\n\r\n", 4);
		if (!e) {
			if (ps->head_len == sizeof ps->head)
				return fail(ps, ERR_TOOBIG, "the answer's head is too large");
			return 0;
		}
		ps->head_len = (size_t)(e - ps->head) + 4;
		ps->have_head = true;
		int rc = parse_head(ps);
		if (rc)
			return rc;
		p += ps->head_len - old;
		n -= ps->head_len - old;
	}
	return body_feed(ps, p, n);
}

/* err says why a read or write on c failed (ERR_IO): errno's reason, or
 * the TLS error queue's. */
static void io_reason(const conn *c, char *err, size_t errlen, const char *what)
{
	if (c->ssl)
		tls_reason(err, errlen, what);
	else
		snprintf(err, errlen, "%s: %s", what, strerror(errno));
}

/* Reads the answer on c into a (see hclient_do). */
static int read_answer(conn *c, const hclient_req *r, hclient_answer *a, char *err, size_t errlen)
{
	parser *ps = xcalloc(1, sizeof *ps);
	ps->r = r;
	ps->err = err;
	ps->errlen = errlen;
	sbuf_init(&ps->body);
	char *buf = xmalloc(READ_STEP);
	int rc = 0;
	while (!rc && !ps->done) {
		size_t got = 0;
		rc = conn_read(c, buf, READ_STEP, &got);
		if (rc == ERR_TIMEOUT) {
			fail(ps, rc, "reading the answer timed out");
		} else if (rc) {
			io_reason(c, err, errlen, "reading the answer failed");
		} else if (got) {
			rc = feed(ps, buf, got);
		} else if (!ps->have_head) {
			rc = fail(ps, ERR_IO, "the answer ended before its headers");
		} else if (ps->mode != BODY_TO_EOF) {
			rc = fail(ps, ERR_IO, "the answer ended before its body did");
		} else {
			ps->done = true;
		}
	}
	if (!rc) {
		a->status = ps->status;
		if (!ps->streaming)
			a->body = sbuf_take(&ps->body, &a->len);
	}
	sbuf_free(&ps->body);
	free(buf);
	free(ps);
	return rc;
}

int hclient_do(const hclient_req *r, hclient_answer *a, char *err, size_t errlen)
{
	*a = (hclient_answer){0};
	conn c = {.fd = -1,
	          .step_ms = r->timeout_ms,
	          .deadline = r->total_ms ? clock_mono_ms() + r->total_ms : 0};
	sbuf req;
	sbuf_init(&req);
	int rc = build_request(r, &req, err, errlen);
	if (!rc)
		rc = conn_open(&c, r, err, errlen);
	if (!rc) {
		rc = conn_write_all(&c, req.p, req.len);
		if (rc == ERR_TIMEOUT)
			snprintf(err, errlen, "sending the request timed out");
		else if (rc)
			io_reason(&c, err, errlen, "sending the request failed");
	}
	if (!rc)
		rc = read_answer(&c, r, a, err, errlen);
	conn_close(&c);
	sbuf_free(&req);
	if (rc) {
		free(a->body);
		*a = (hclient_answer){0};
	}
	return rc;
}

int hclient_local_target(const char *listen, char *host, size_t cap, int *port)
{
	if (cfg_parse_hostport(listen, host, cap, port) || *port == 0)
		return ERR_INVAL;
	if (!host[0] || strcmp(host, "0.0.0.0") == 0)
		snprintf(host, cap, "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		snprintf(host, cap, "::1");
	return 0;
}
