/* hconn.c - the load's HTTP/1.1 client connection (hconn.h).
 *
 * States: no socket (fd -1), connecting (a write event waits for the
 * handshake), open. The read event is made with the socket and stays
 * added for its life; the write event is added only while a request's
 * bytes wait for room (or the handshake). The head of the queue is the
 * request on the wire once its first byte is written; the parser reads
 * its answer.
 */
#include "sim/drill/hconn.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "log.h"
#include "sim/drill/netns.h"

struct hreq {
	hreq *next;
	hconn_cb cb;
	void *arg;
	size_t len, sent;
	bool cancelled; /* while fail_all calls back: skip it */
	char data[];    /* the request's bytes */
};

struct hconn {
	struct event_base *base;
	uint16_t port;
	const netns *ns; /* where its sockets are made; NULL: sim's own */
	size_t body_max, headers_max;
	int fd;
	bool connecting;
	struct event *rd, *wr;
	struct event *later; /* a deferred kick (hconn_cancel) */
	hreq *head, *tail;   /* the queue; head is on the wire once sent > 0 */
	hreq *failing;       /* what fail_all is calling back, off the queue */
	http_parser p;
	/* The answer being read. */
	char *body;
	size_t body_len, body_cap, header_bytes;
	uint64_t at_us; /* when the last bytes read reached the socket */
	bool field_is_replayed, replayed, complete, keep_alive;
	int status;
};

/* --- the parser ------------------------------------------------------------------ */

static int on_begin(http_parser *p)
{
	hconn *c = p->data;
	if (c->complete)
		return 1; /* bytes after the answer: no request asked for them */
	c->body_len = 0;
	c->header_bytes = 0;
	c->field_is_replayed = false;
	c->replayed = false;
	return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
	hconn *c = p->data;
	c->header_bytes += len;
	/* A name split over two reads is not matched: the edge's answers are
	 * read whole, and a missed header only leaves replayed false. */
	c->field_is_replayed = len == 19 && strncasecmp(at, "Idempotent-Replayed", 19) == 0;
	return c->header_bytes > c->headers_max;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
	hconn *c = p->data;
	c->header_bytes += len;
	if (c->field_is_replayed)
		c->replayed = len == 4 && strncasecmp(at, "true", 4) == 0;
	return c->header_bytes > c->headers_max;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	hconn *c = p->data;
	if (len > c->body_max - c->body_len)
		return 1; /* too big: the connection goes */
	if (c->body_len + len > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 4096;
		while (cap < c->body_len + len)
			cap *= 2;
		char *b = realloc(c->body, cap);
		if (!b)
			return 1;
		c->body = b;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_complete(http_parser *p)
{
	hconn *c = p->data;
	if (p->status_code >= 100 && p->status_code < 200)
		return 0; /* an interim answer: the real one follows */
	c->complete = true;
	c->status = p->status_code;
	c->keep_alive = http_should_keep_alive(p);
	return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_begin,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* --- the socket ------------------------------------------------------------------ */

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

static void close_socket(hconn *c)
{
	if (c->rd)
		event_free(c->rd);
	if (c->wr)
		event_free(c->wr);
	c->rd = c->wr = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->connecting = false;
}

/* A new socket, connecting; false when none could be made or the
 * connection was refused at once. */
static bool open_socket(hconn *c)
{
	int fd = c->ns ? netns_socket(c->ns)
	               : socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	int ts = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof ts); /* else at_us 0 */
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons(c->port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
	if (rc != 0 && errno != EINPROGRESS) {
		close(fd);
		return false;
	}
	c->fd = fd;
	c->connecting = rc != 0;
	c->rd = event_new(c->base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->wr = event_new(c->base, fd, EV_WRITE, on_write, c);
	if (!c->rd || !c->wr || event_add(c->rd, NULL) != 0) {
		close_socket(c);
		return false;
	}
	http_parser_init(&c->p, HTTP_RESPONSE);
	c->p.data = c;
	c->complete = false;
	return true;
}

/* Every request fails with status 0: the socket goes, and the queue is
 * taken off c before the first callback, so a callback that sends on c
 * starts a new queue on a new socket. */
static void fail_all(hconn *c)
{
	close_socket(c);
	hreq *batch = c->head;
	c->head = c->tail = NULL;
	hanswer a = {.status = 0, .body = ""};
	/* A callback may cancel one of the batch still to come: hconn_cancel
	 * finds it here and marks it. (A callback that fails c again starts
	 * a batch of its own; this one is then done with first.) */
	hreq *outer = c->failing;
	for (hreq *r = batch; r; r = r->next) {
		c->failing = r->next;
		if (!r->cancelled)
			r->cb(&a, r->arg);
	}
	c->failing = outer;
	for (hreq *r = batch, *next; r; r = next) {
		next = r->next;
		free(r);
	}
}

/* Writes what the head request has left; false when the connection
 * broke. A write event waits for the rest when the socket is full. */
static bool write_head(hconn *c)
{
	hreq *r = c->head;
	while (r && r->sent < r->len) {
		ssize_t n = send(c->fd, r->data + r->sent, r->len - r->sent, MSG_NOSIGNAL);
		if (n > 0) {
			r->sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return event_add(c->wr, NULL) == 0;
		return false;
	}
	return true;
}

/* Starts the head request when nothing is on the wire: a socket first
 * when there is none. False when the connection broke. */
static bool kick(hconn *c)
{
	if (!c->head || c->head->sent > 0)
		return true;
	if (c->fd < 0 && !open_socket(c))
		return false;
	if (c->connecting)
		return event_add(c->wr, NULL) == 0;
	return write_head(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	hconn *c = arg;
	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
			fail_all(c);
			return;
		}
		c->connecting = false;
	}
	if (!write_head(c))
		fail_all(c);
}

/* The head's answer is in: the next request goes on the wire (on this
 * socket, or a new one when the server closes this), then the head's
 * callback runs. */
static void answered(hconn *c)
{
	hreq *r = c->head;
	c->head = r->next;
	if (!c->head)
		c->tail = NULL;
	/* An answer before the whole request was written (an early refusal)
	 * leaves the rest unsent: the socket cannot carry another. */
	if (r->sent < r->len)
		c->keep_alive = false;
	hanswer a = {.status = c->status,
	             .body = c->body_len ? c->body : "",
	             .body_len = c->body_len,
	             .replayed = c->replayed,
	             .at_us = c->at_us};
	if (!c->keep_alive)
		close_socket(c);
	else {
		http_parser_init(&c->p, HTTP_RESPONSE);
		c->p.data = c;
	}
	c->complete = false;
	/* The body stays c's until the callback returns: a send inside it
	 * writes the next request but reads no answer. */
	bool ok = kick(c);
	r->cb(&a, r->arg);
	free(r);
	if (!ok)
		fail_all(c);
}

static uint64_t ts_us(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000u + (uint64_t)t->tv_nsec / 1000u;
}

/* The monotonic time at which the bytes msg carried reached the socket,
 * from the kernel's receive timestamp (CLOCK_REALTIME, moved onto the
 * monotonic clock by the two clocks' present distance); 0 when msg has
 * none. */
static uint64_t arrival_us(struct msghdr *msg)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPING)
			continue;
		struct scm_timestamping st;
		memcpy(&st, CMSG_DATA(cm), sizeof st);
		if (!st.ts[0].tv_sec && !st.ts[0].tv_nsec)
			return 0;
		struct timespec real, mono;
		clock_gettime(CLOCK_REALTIME, &real);
		clock_gettime(CLOCK_MONOTONIC, &mono);
		uint64_t r = ts_us(&real), m = ts_us(&mono), at = ts_us(&st.ts[0]);
		if (at > r || r - at > m)
			return 0; /* a clock step between them: no honest figure */
		return m - (r - at);
	}
	return 0;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	hconn *c = arg;
	char buf[16384];
	union {
		char b[CMSG_SPACE(sizeof(struct scm_timestamping))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
	struct msghdr msg = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
	ssize_t n = recvmsg(fd, &msg, 0);
	if (n > 0)
		c->at_us = arrival_us(&msg);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	bool on_wire = c->head && c->head->sent > 0;
	if (n <= 0) {
		/* The server closed (or reset): an answer that ends at the close
		 * is complete; anything else on the wire failed. An idle socket
		 * just goes. */
		if (n == 0 && on_wire) {
			http_parser_execute(&c->p, &settings, NULL, 0);
			if (c->complete) {
				c->keep_alive = false;
				answered(c);
				return;
			}
		}
		if (on_wire || c->head)
			fail_all(c);
		else
			close_socket(c);
		return;
	}
	if (!on_wire) {
		log_warn("load: bytes from an edge with no request out", "port=%u bytes=%zd",
		         c->port, n);
		fail_all(c);
		return;
	}
	size_t used = http_parser_execute(&c->p, &settings, buf, (size_t)n);
	enum http_errno e = HTTP_PARSER_ERRNO(&c->p);
	if (e != HPE_OK || used != (size_t)n) {
		log_warn("load: an answer that does not parse", "port=%u error=%s", c->port,
		         http_errno_name(e));
		fail_all(c);
		return;
	}
	if (c->complete)
		answered(c);
}

/* A start that hconn_cancel deferred: the queue goes on a new socket,
 * or fails, from the event loop. */
static void on_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	hconn *c = arg;
	if (!kick(c))
		fail_all(c);
}

/* --- the interface --------------------------------------------------------------- */

hconn *hconn_new(struct event_base *base, uint16_t port, size_t body_max, size_t headers_max)
{
	hconn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->base = base;
	c->port = port;
	c->body_max = body_max;
	c->headers_max = headers_max;
	c->fd = -1;
	c->later = event_new(base, -1, 0, on_later, c);
	if (!c->later) {
		free(c);
		return NULL;
	}
	return c;
}

void hconn_set_netns(hconn *c, const netns *ns)
{
	c->ns = ns;
}

void hconn_free(hconn *c)
{
	if (!c)
		return;
	close_socket(c);
	event_free(c->later);
	for (hreq *r = c->head, *next; r; r = next) {
		next = r->next;
		free(r);
	}
	free(c->body);
	free(c);
}

hreq *hconn_send(hconn *c, const char *req, size_t len, hconn_cb cb, void *arg)
{
	hreq *r = malloc(sizeof *r + len);
	if (!r)
		return NULL;
	*r = (hreq){.cb = cb, .arg = arg, .len = len};
	memcpy(r->data, req, len);
	bool first = !c->head;
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	if (!first)
		return r; /* it goes when the one before it is answered */
	if (kick(c))
		return r;
	/* Nothing was written: r alone is on the queue. Its failure is said
	 * by the NULL, not by a callback. */
	c->head = c->tail = NULL;
	close_socket(c);
	free(r);
	return NULL;
}

void hconn_cancel(hconn *c, hreq *r)
{
	hreq **pp = &c->head, *prev = NULL;
	while (*pp && *pp != r) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp) {
		for (hreq *f = c->failing; f; f = f->next)
			if (f == r)
				f->cancelled = true; /* fail_all frees it */
		return;
	}
	bool on_wire = r == c->head && r->sent > 0;
	*pp = r->next;
	if (c->tail == r)
		c->tail = prev;
	free(r);
	if (!on_wire)
		return;
	/* Its answer may still come on that socket: the socket goes, and the
	 * queue behind it starts on a new one, from the event loop, where a
	 * failure to start can call back. */
	close_socket(c);
	if (c->head)
		event_active(c->later, 0, 0);
}
