/* httpget.c - one blocking HTTP/1.1 GET on its own loopback connection.
 *
 * Sends "GET path HTTP/1.1" with Host, Connection: close and an optional
 * bearer token, then reads until the answer is complete: Content-Length
 * bytes, the last chunk of a chunked body (evhttp servers such as central
 * may chunk), or EOF when the answer says neither. Every step (connect,
 * send, each read) waits with poll() against one deadline. Headers are
 * capped at HDR_MAX, the decoded body at HTTPGET_BODY_MAX and the raw
 * answer at RAW_MAX. Owns only its socket and buffers; any thread.
 */
#include "httpget.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "xmem.h"

#define HDR_MAX (64u << 10)
/* Chunk framing of a body at the cap still fits. */
#define RAW_MAX (HDR_MAX + HTTPGET_BODY_MAX + HTTPGET_BODY_MAX / 4)
#define READ_STEP (64u << 10)

enum { BODY_TO_EOF, BODY_LENGTH, BODY_CHUNKED, BODY_NONE };

/* Waits for events on fd until the deadline: 0, ERR_TIMEOUT or ERR_IO. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = clock_mono_ms();
		if (now >= deadline)
			return ERR_TIMEOUT;
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, (int)(deadline - now));
		if (r > 0)
			return 0; /* errors and hangups show in the next call */
		if (r == 0)
			return ERR_TIMEOUT;
		if (errno != EINTR)
			return ERR_IO;
	}
}

static int connect_to(int port, uint64_t deadline, int *out)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ERR_IO;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (errno != EINPROGRESS) {
			close(fd);
			return ERR_IO;
		}
		int rc = wait_fd(fd, POLLOUT, deadline);
		int soerr = 0;
		socklen_t len = sizeof soerr;
		if (rc == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr))
			rc = ERR_IO;
		if (rc != 0) {
			close(fd);
			return rc;
		}
	}
	*out = fd;
	return 0;
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_fd(fd, POLLOUT, deadline);
			if (rc != 0)
				return rc;
			continue;
		}
		return ERR_IO;
	}
	return 0;
}

typedef struct answer {
	char *buf;
	size_t len, cap;
	size_t hdr_len; /* bytes up to and including the blank line; 0 until seen */
	int status;
	int mode;
	size_t content_length;
} answer;

/* Case-insensitive: does the header value contain tok as a word? */
static bool value_has(const char *v, size_t n, const char *tok)
{
	size_t t = strlen(tok);
	for (size_t i = 0; i + t <= n; i++)
		if (strncasecmp(v + i, tok, t) == 0)
			return true;
	return false;
}

/* Parses the status line and headers in a->buf[0..hdr_len). */
static int parse_head(answer *a)
{
	const char *p = a->buf, *end = a->buf + a->hdr_len;
	const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	if (!eol || eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
		return ERR_IO;
	int st = 0;
	for (int i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9')
			return ERR_IO;
		st = st * 10 + (p[i] - '0');
	}
	if (st < 100)
		return ERR_IO;
	a->status = st;
	a->mode = BODY_TO_EOF;
	bool have_length = false;
	for (p = eol + 2; p < end - 2; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			return ERR_IO;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon)
			return ERR_IO;
		size_t nlen = (size_t)(colon - p);
		const char *v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		size_t vlen = (size_t)(eol - v);
		if (nlen == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
			if (value_has(v, vlen, "chunked"))
				a->mode = BODY_CHUNKED;
		} else if (nlen == 14 && strncasecmp(p, "content-length", 14) == 0) {
			size_t n = 0;
			if (vlen == 0)
				return ERR_IO;
			for (size_t i = 0; i < vlen; i++) {
				if (v[i] == ' ' || v[i] == '\t')
					break;
				if (v[i] < '0' || v[i] > '9')
					return ERR_IO;
				if (n > HTTPGET_BODY_MAX)
					return ERR_TOOBIG;
				n = n * 10 + (size_t)(v[i] - '0');
			}
			if (n > HTTPGET_BODY_MAX)
				return ERR_TOOBIG;
			a->content_length = n;
			have_length = true;
		}
	}
	if (a->mode != BODY_CHUNKED && have_length)
		a->mode = BODY_LENGTH;
	if (st < 200 || st == 204 || st == 304)
		a->mode = BODY_NONE;
	return 0;
}

/* Walks the chunks in p[0..n) (copying the data to out when out is not
 * NULL). 1 when the last chunk and the trailers are in, 0 when more is
 * needed, ERR_IO or ERR_TOOBIG. *body is the data length so far. */
static int walk_chunks(const char *p, size_t n, char *out, size_t *body)
{
	size_t i = 0, total = 0;
	for (;;) {
		const char *eol = memmem(p + i, n - i, "\r\n", 2);
		if (!eol)
			return n - i > 1024 ? ERR_IO : 0;
		size_t size = 0, digits = 0;
		const char *q = p + i;
		for (; q < eol; q++) {
			int d;
			if (*q >= '0' && *q <= '9')
				d = *q - '0';
			else if ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'f')
				d = (*q | 0x20) - 'a' + 10;
			else
				break;
			if (size > HTTPGET_BODY_MAX)
				return ERR_TOOBIG;
			size = size * 16 + (size_t)d;
			digits++;
		}
		if (digits == 0 || (q < eol && *q != ';' && *q != ' ' && *q != '\t'))
			return ERR_IO;
		if (size > HTTPGET_BODY_MAX - total)
			return ERR_TOOBIG;
		i = (size_t)(eol - p) + 2;
		if (size == 0) {
			/* Trailers (usually none), then a blank line. */
			for (;;) {
				const char *t = memmem(p + i, n - i, "\r\n", 2);
				if (!t)
					return 0;
				bool blank = t == p + i;
				i = (size_t)(t - p) + 2;
				if (blank) {
					*body = total;
					return 1;
				}
			}
		}
		if (n - i < size + 2)
			return 0;
		if (p[i + size] != '\r' || p[i + size + 1] != '\n')
			return ERR_IO;
		if (out)
			memcpy(out + total, p + i, size);
		total += size;
		i += size + 2;
		*body = total;
	}
}

/* 1 when the answer in a is complete, 0 when more is needed, or an error. */
static int answer_complete(answer *a, bool eof)
{
	if (a->hdr_len == 0) {
		char *e = memmem(a->buf, a->len, "\r\n\r\n", 4);
		if (!e)
			return a->len > HDR_MAX ? ERR_TOOBIG : (eof ? ERR_IO : 0);
		a->hdr_len = (size_t)(e - a->buf) + 4;
		if (a->hdr_len > HDR_MAX)
			return ERR_TOOBIG;
		int rc = parse_head(a);
		if (rc != 0)
			return rc;
	}
	size_t have = a->len - a->hdr_len, body = 0;
	switch (a->mode) {
	case BODY_NONE: return 1;
	case BODY_LENGTH:
		if (have >= a->content_length)
			return 1;
		return eof ? ERR_IO : 0;
	case BODY_CHUNKED: {
		int rc = walk_chunks(a->buf + a->hdr_len, have, NULL, &body);
		if (rc == 0 && eof)
			return ERR_IO;
		return rc;
	}
	default:
		if (have > HTTPGET_BODY_MAX)
			return ERR_TOOBIG;
		return eof ? 1 : 0;
	}
}

static int read_answer(int fd, answer *a, uint64_t deadline)
{
	for (;;) {
		if (a->cap - a->len < READ_STEP) {
			if (a->cap >= RAW_MAX)
				return ERR_TOOBIG;
			size_t cap = a->cap ? a->cap * 2 : 2 * READ_STEP;
			if (cap > RAW_MAX)
				cap = RAW_MAX;
			a->buf = xrealloc(a->buf, cap + 1);
			a->cap = cap;
		}
		size_t want = a->cap - a->len < READ_STEP ? a->cap - a->len : READ_STEP;
		if (want == 0)
			return ERR_TOOBIG;
		ssize_t r = recv(fd, a->buf + a->len, want, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				int rc = wait_fd(fd, POLLIN, deadline);
				if (rc != 0)
					return rc;
				continue;
			}
			/* A reset after a complete answer still counts. */
			int rc = answer_complete(a, true);
			return rc == 1 ? 0 : ERR_IO;
		}
		a->len += (size_t)r;
		int rc = answer_complete(a, r == 0);
		if (rc == 1)
			return 0;
		if (rc < 0)
			return rc;
	}
}

/* Moves the body of a complete answer into a new buffer. */
static char *take_body(answer *a, size_t *len)
{
	size_t have = a->len - a->hdr_len, n = 0;
	const char *p = a->buf + a->hdr_len;
	char *out;
	switch (a->mode) {
	case BODY_NONE: n = 0; break;
	case BODY_LENGTH: n = a->content_length; break;
	case BODY_CHUNKED:
		out = xmalloc(have + 1);
		if (walk_chunks(p, have, out, &n) != 1) { /* checked complete before */
			free(out);
			return NULL;
		}
		out[n] = '\0';
		*len = n;
		return out;
	default: n = have; break;
	}
	out = xmalloc(n + 1);
	memcpy(out, p, n);
	out[n] = '\0';
	*len = n;
	return out;
}

int httpget(int port, const char *path, const char *bearer, unsigned timeout_ms, int *status,
            char **body, size_t *len)
{
	*body = NULL;
	*len = 0;
	*status = 0;
	if (port <= 0 || port > 65535 || !path || path[0] != '/' || strpbrk(path, " \r\n") ||
	    (bearer && strpbrk(bearer, "\r\n")))
		return ERR_INVAL;
	uint64_t deadline = clock_mono_ms() + timeout_ms;
	char *req = NULL;
	int n = asprintf(&req,
	                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s%s%s\r\n",
	                 path, port, bearer ? "Authorization: Bearer " : "", bearer ? bearer : "",
	                 bearer ? "\r\n" : "");
	if (n < 0)
		return ERR_IO;

	int fd = -1;
	answer a = {0};
	int rc = connect_to(port, deadline, &fd);
	if (rc == 0)
		rc = send_all(fd, req, (size_t)n, deadline);
	if (rc == 0)
		rc = read_answer(fd, &a, deadline);
	if (rc == 0) {
		*body = take_body(&a, len);
		if (!*body)
			rc = ERR_IO;
		else
			*status = a.status;
	}
	if (rc != 0)
		log_debug("httpget failed", "port=%d path=%s err=%s", port, path, err_str(rc));
	if (fd >= 0)
		close(fd);
	free(a.buf);
	free(req);
	return rc;
}
