/* hclient.c - the operator commands' blocking HTTP/1.0 client (hclient.h).
 *
 * Owns one socket (and, with TLS, its SSL objects) for one request. The
 * timeouts are SO_RCVTIMEO and SO_SNDTIMEO, which on Linux bound
 * connect() too. Any thread.
 */
#include "hclient.h"

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "xmem.h"

#define HEAD_MAX 16384

typedef struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
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
	*c = (conn){.fd = -1};
}

static void tls_reason(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];
	ERR_error_string_n(e, buf, sizeof buf);
	snprintf(err, errlen, "%s: %s", what, e ? buf : strerror(errno));
	ERR_clear_error();
}

static int conn_open(conn *c, const hclient_req *r, char *err, size_t errlen)
{
	*c = (conn){.fd = -1};
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	char ps[16];
	snprintf(ps, sizeof ps, "%d", r->port);
	int g = getaddrinfo(r->host, ps, &hints, &res);
	if (g) {
		snprintf(err, errlen, "connect %s: %s", r->host, gai_strerror(g));
		return ERR_IO;
	}
	struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
	for (struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (c->fd < 0)
			continue;
		if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ||
		    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) ||
		    connect(c->fd, ai->ai_addr, ai->ai_addrlen)) {
			snprintf(err, errlen, "connect %s:%d: %s", r->host, r->port,
			         strerror(errno));
			close(c->fd);
			c->fd = -1;
		}
	}
	freeaddrinfo(res);
	if (c->fd < 0)
		return ERR_IO;
	if (!r->tls)
		return 0;
	static const unsigned char alpn[] = "\x08http/1.1";
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (!c->ctx || !(c->ssl = SSL_new(c->ctx))) {
		tls_reason(err, errlen, "connect: TLS setup");
		conn_close(c);
		return ERR_IO;
	}
	SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
	SSL_set_options(c->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_set_alpn_protos(c->ssl, alpn, sizeof alpn - 1) || !SSL_set_fd(c->ssl, c->fd) ||
	    SSL_connect(c->ssl) != 1) {
		tls_reason(err, errlen, "connect: TLS handshake");
		conn_close(c);
		return ERR_IO;
	}
	return 0;
}

/* >0 bytes, 0 at EOF, -1 on error (a timeout included). */
static ssize_t conn_read(conn *c, char *buf, size_t cap)
{
	if (!c->ssl) {
		for (;;) {
			ssize_t n = read(c->fd, buf, cap);
			if (n < 0 && errno == EINTR)
				continue;
			return n;
		}
	}
	int n = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
	if (n > 0)
		return n;
	return SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static bool conn_write_all(conn *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w;
		if (c->ssl) {
			int k = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
			w = k > 0 ? k : -1;
		} else {
			w = write(c->fd, p, n);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* The content-length of a head ending at end, or -1 when it has none. */
static long long content_length(const char *head, const char *end)
{
	for (const char *p = strstr(head, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n"))
		if (strncasecmp(p + 2, "content-length:", 15) == 0)
			return strtoll(p + 17, NULL, 10);
	return -1;
}

/* Reads the answer on c into a (see hclient_do). */
static int read_answer(conn *c, const hclient_req *r, hclient_answer *a, char *err, size_t errlen)
{
	size_t len = 0, cap = HEAD_MAX + 1, body = 0, seen = 0;
	char *buf = xmalloc(cap);
	bool have_head = false, streaming = false;
	long long want = -1;
	int rc = 0;
	for (;;) {
		if (streaming && len > body) {
			if (fwrite(buf + body, 1, len - body, r->stream) != len - body) {
				snprintf(err, errlen, "writing the output failed");
				rc = ERR_IO;
				break;
			}
			len = body;
		}
		if (have_head && want >= 0 && seen >= (unsigned long long)want)
			break;
		if (len + 1 >= cap) {
			if (!have_head || cap > r->max_body + HEAD_MAX) {
				snprintf(err, errlen, "the answer is too large");
				rc = ERR_IO;
				break;
			}
			buf = xrealloc(buf, cap *= 2);
		}
		ssize_t got = conn_read(c, buf + len, cap - len - 1);
		if (got < 0) {
			snprintf(err, errlen, "reading the answer failed: %s",
			         errno ? strerror(errno) : "TLS error");
			rc = ERR_IO;
			break;
		}
		if (got == 0)
			break;
		len += (size_t)got;
		buf[len] = 0;
		if (have_head) {
			seen += (size_t)got;
			continue;
		}
		char *sep = strstr(buf, "\r\n\r\n");
		if (!sep)
			continue;
		if (sscanf(buf, "HTTP/1.%*d %d", &a->status) != 1) {
			snprintf(err, errlen, "the answer is not HTTP");
			rc = ERR_IO;
			break;
		}
		have_head = true;
		want = content_length(buf, sep);
		body = (size_t)(sep + 4 - buf);
		seen = len - body;
		streaming = r->stream && a->status == 200;
	}
	if (!rc && !have_head) {
		snprintf(err, errlen, "the answer ended before its headers");
		rc = ERR_IO;
	}
	if (!rc && !streaming) {
		a->len = len - body;
		a->body = xmalloc(a->len + 1);
		memcpy(a->body, buf + body, a->len);
		a->body[a->len] = 0;
	}
	free(buf);
	return rc;
}

int hclient_do(const hclient_req *r, hclient_answer *a, char *err, size_t errlen)
{
	*a = (hclient_answer){0};
	conn c;
	int rc = conn_open(&c, r, err, errlen);
	if (rc)
		return rc;
	char req[2048];
	bool tok = r->token && r->token[0];
	int n = snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: %s\r\n%s%s%s\r\n", r->method,
	                 r->path, r->host, tok ? "Authorization: Bearer " : "", tok ? r->token : "",
	                 tok ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof req) {
		snprintf(err, errlen, "the request is too long");
		rc = ERR_IO;
	} else if (!conn_write_all(&c, req, (size_t)n)) {
		snprintf(err, errlen, "sending the request failed: %s", strerror(errno));
		rc = ERR_IO;
	} else {
		rc = read_answer(&c, r, a, err, errlen);
	}
	conn_close(&c);
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
