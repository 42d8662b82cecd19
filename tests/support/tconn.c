/* tconn.c - a test client's connection, plain or TLS (tconn.h). */
#include "tests/support/tconn.h"

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "clock.h"

int tconn_rcvbuf;

int tconn_tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	if (tconn_rcvbuf)
		cr_assert_eq(
		    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &tconn_rcvbuf, sizeof tconn_rcvbuf), 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static bool tls_start(tconn *c, const tconn_tls *o)
{
	c->ctx = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(c->ctx);
	if (o->min_version)
		cr_assert_eq(SSL_CTX_set_min_proto_version(c->ctx, o->min_version), 1);
	if (o->max_version)
		cr_assert_eq(SSL_CTX_set_max_proto_version(c->ctx, o->max_version), 1);
	if (o->ciphers)
		cr_assert_eq(SSL_CTX_set_cipher_list(c->ctx, o->ciphers), 1, "ciphers %s",
		             o->ciphers);
	if (o->alpn_len)
		cr_assert_eq(SSL_CTX_set_alpn_protos(c->ctx, (const unsigned char *)o->alpn,
		                                     (unsigned)o->alpn_len),
		             0);
	c->ssl = SSL_new(c->ctx);
	cr_assert_not_null(c->ssl);
	cr_assert_eq(SSL_set_fd(c->ssl, c->fd), 1);
	ERR_clear_error();
	if (SSL_connect(c->ssl) != 1) {
		c->tls_err = ERR_peek_error();
		ERR_clear_error();
		return false;
	}
	return true;
}

bool tconn_open(tconn *c, int port, const tconn_tls *tls)
{
	memset(c, 0, sizeof *c);
	c->fd = tconn_tcp_connect(port);
	if (c->fd < 0)
		return false;
	return !tls || tls_start(c, tls);
}

void tconn_close(tconn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

bool tconn_write(tconn *c, const void *p, size_t len)
{
	const char *at = p;
	while (len) {
		ssize_t n;
		if (c->ssl) {
			int r = SSL_write(c->ssl, at, (int)len);
			n = r > 0 ? r : -1;
		} else {
			n = send(c->fd, at, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (n <= 0)
			return false;
		at += n;
		len -= (size_t)n;
	}
	return true;
}

ssize_t tconn_read(tconn *c, void *buf, size_t cap, int ms)
{
	if (!c->ssl || SSL_pending(c->ssl) == 0) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		if (poll(&pfd, 1, ms) <= 0)
			return -1;
	}
	if (c->ssl) {
		int r = SSL_read(c->ssl, buf, (int)cap);
		if (r <= 0)
			ERR_clear_error();
		return r > 0 ? r : 0;
	}
	ssize_t got;
	do
		got = recv(c->fd, buf, cap, 0);
	while (got < 0 && errno == EINTR);
	return got > 0 ? got : 0;
}

size_t tconn_read_to_eof(tconn *c, void *buf, size_t cap, int ms)
{
	size_t len = 0;
	while (len < cap) {
		ssize_t k = tconn_read(c, (char *)buf + len, cap - len, ms);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	return len;
}

void tconn_close_write(tconn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		ERR_clear_error();
	} else {
		shutdown(c->fd, SHUT_WR);
	}
}

const char *tconn_alpn(const tconn *c, char *out, size_t cap)
{
	const unsigned char *p = NULL;
	unsigned len = 0;
	cr_assert_not_null(c->ssl, "ALPN of a plain connection");
	SSL_get0_alpn_selected(c->ssl, &p, &len);
	snprintf(out, cap, "%.*s", (int)len, p ? (const char *)p : "");
	return out;
}

bool tconn_eof_seen(int fd, int ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)ms;
	char buf[512];
	while (clock_mono_ms() <= end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n <= 0)
			return true;
	}
	return false;
}
