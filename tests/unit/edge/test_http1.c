/* test_http1.c - the edge HTTP server's HTTP/1.1 side, the choice between
 * HTTP/1.1 and HTTP/2 on one port, and deferred answers over both.
 *
 * Each test starts a server on 127.0.0.1 port 0 whose loop runs in a
 * pthread (tests/support/http_server_util.h); the test thread is the client over
 * blocking sockets: a small HTTP/1.1 client below (http-parser reading
 * the answers, plain or OpenSSL) or tests/support/h2client.h. Deferred answers
 * are finished by timers on the server's loop.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <http_parser.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "edge/http.h"
#include "clock.h"
#include "tests/support/h2client.h"
#include "tests/support/http_server_util.h"
#include "xmem.h"

/* --- a small blocking HTTP/1.1 client -------------------------------------- */

#define H1_MAX 16

typedef struct h1resp {
	int status;
	char names[16][64], values[16][256];
	int nhdrs;
	char *body;
	size_t len;
} h1resp;

typedef struct h1client {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	http_parser p;
	h1resp r[H1_MAX];
	int n;             /* answers complete */
	bool head[H1_MAX]; /* answer i is to a HEAD request */
	bool in_value, eof;
	int interim; /* 1xx answers seen */
} h1client;

static int c_begin(http_parser *p)
{
	h1client *cl = p->data;
	cr_assert_lt(cl->n, H1_MAX);
	h1resp *r = &cl->r[cl->n];
	free(r->body);
	memset(r, 0, sizeof *r);
	cl->in_value = false;
	return 0;
}

static int c_field(http_parser *p, const char *at, size_t len)
{
	h1client *cl = p->data;
	h1resp *r = &cl->r[cl->n];
	if (cl->in_value || r->nhdrs == 0) {
		cr_assert_lt(r->nhdrs, 16);
		r->nhdrs++;
		cl->in_value = false;
	}
	char *name = r->names[r->nhdrs - 1];
	strncat(name, at, len < 63 - strlen(name) ? len : 63 - strlen(name));
	return 0;
}

static int c_value(http_parser *p, const char *at, size_t len)
{
	h1client *cl = p->data;
	h1resp *r = &cl->r[cl->n];
	cl->in_value = true;
	char *v = r->values[r->nhdrs - 1];
	strncat(v, at, len < 255 - strlen(v) ? len : 255 - strlen(v));
	return 0;
}

static int c_headers_done(http_parser *p)
{
	h1client *cl = p->data;
	cl->r[cl->n].status = p->status_code;
	return cl->head[cl->n] ? 1 : 0; /* a HEAD answer has no body */
}

static int c_body(http_parser *p, const char *at, size_t len)
{
	h1client *cl = p->data;
	h1resp *r = &cl->r[cl->n];
	r->body = xrealloc(r->body, r->len + len + 1);
	memcpy(r->body + r->len, at, len);
	r->len += len;
	r->body[r->len] = '\0';
	return 0;
}

static int c_done(http_parser *p)
{
	h1client *cl = p->data;
	if (p->status_code >= 100 && p->status_code < 200)
		cl->interim++;
	else
		cl->n++;
	return 0;
}

static const http_parser_settings c_settings = {
    .on_message_begin = c_begin,
    .on_header_field = c_field,
    .on_header_value = c_value,
    .on_headers_complete = c_headers_done,
    .on_body = c_body,
    .on_message_complete = c_done,
};

/* Connects; with tls, alpn is the wire-format list ("" offers none).
 * False when the handshake fails. */
static bool h1_open(h1client *cl, int p, bool tls, const char *alpn, size_t alpn_len)
{
	memset(cl, 0, sizeof *cl);
	http_parser_init(&cl->p, HTTP_RESPONSE);
	cl->p.data = cl;
	cl->fd = h2client_tcp_connect(p);
	cr_assert(cl->fd >= 0);
	return !tls || h2client_tls_start(cl->fd, alpn, alpn_len, &cl->ctx, &cl->ssl);
}

static void h1_close(h1client *cl)
{
	for (int i = 0; i < H1_MAX; i++)
		free(cl->r[i].body);
	if (cl->ssl)
		SSL_free(cl->ssl);
	SSL_CTX_free(cl->ctx);
	if (cl->fd >= 0)
		close(cl->fd);
	memset(cl, 0, sizeof *cl);
	cl->fd = -1;
}

static void h1_send(h1client *cl, const char *data, size_t len)
{
	while (len) {
		ssize_t n;
		if (cl->ssl) {
			int r = SSL_write(cl->ssl, data, (int)len);
			n = r > 0 ? r : -1;
		} else {
			n = send(cl->fd, data, len, MSG_NOSIGNAL);
		}
		cr_assert_gt(n, 0, "send: %s", strerror(errno));
		data += n;
		len -= (size_t)n;
	}
}

static void h1_send_str(h1client *cl, const char *s)
{
	h1_send(cl, s, strlen(s));
}

/* Reads once, waiting up to ms; false when nothing came. */
static bool h1_pump(h1client *cl, int ms)
{
	if (cl->eof)
		return false;
	if (!cl->ssl || SSL_pending(cl->ssl) == 0) {
		struct pollfd pfd = {.fd = cl->fd, .events = POLLIN};
		if (poll(&pfd, 1, ms) <= 0)
			return false;
	}
	char buf[16384];
	ssize_t got;
	if (cl->ssl) {
		int r = SSL_read(cl->ssl, buf, sizeof buf);
		got = r > 0 ? r : 0;
		if (r <= 0)
			ERR_clear_error();
	} else {
		got = recv(cl->fd, buf, sizeof buf, 0);
	}
	if (got <= 0) {
		cl->eof = true;
		http_parser_execute(&cl->p, &c_settings, NULL, 0);
		return true;
	}
	size_t used = http_parser_execute(&cl->p, &c_settings, buf, (size_t)got);
	cr_assert_eq(used, (size_t)got, "client parser: %s",
	             http_errno_description(HTTP_PARSER_ERRNO(&cl->p)));
	return true;
}

/* Reads until `want` answers are complete; false on EOF first or timeout. */
static bool h1_wait(h1client *cl, int want)
{
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (cl->n < want) {
		if (cl->eof || clock_mono_ms() > end)
			return false;
		h1_pump(cl, 20);
	}
	return true;
}

/* Reads until the server closes; false on timeout. */
static bool h1_wait_eof(h1client *cl, int ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)ms;
	while (!cl->eof) {
		if (clock_mono_ms() > end)
			return false;
		h1_pump(cl, 20);
	}
	return true;
}

static const char *h1_header(const h1resp *r, const char *name)
{
	for (int i = 0; i < r->nhdrs; i++) {
		if (strcasecmp(r->names[i], name) == 0)
			return r->values[i];
	}
	return NULL;
}

/* Asserts r is a JSON error answer with the given status and code. */
static void assert_error(const h1resp *r, int status, const char *code)
{
	cr_assert_eq(r->status, status);
	cr_assert_str_eq(h1_header(r, "content-type"), "application/json");
	cr_assert_str_eq(h1_header(r, "connection"), "close");
	char want[64];
	snprintf(want, sizeof want, "{\"error\":{\"code\":\"%s\",\"message\":\"", code);
	cr_assert_not_null(r->body);
	cr_assert_eq(strncmp(r->body, want, strlen(want)), 0, "body: %s", r->body);
	cr_assert_eq(r->body[r->len - 1], '}');
}

TestSuite(http1, .init = suite_init, .fini = suite_fini, .timeout = 30);

/* --- requests and answers -------------------------------------------------- */

Test(http1, get_is_answered_with_status_line_headers_and_body)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "GET /thing?x=1 HTTP/1.1\r\nHost: localhost\r\nX-In: Hello\r\n\r\n");
	cr_assert(h1_wait(&cl, 1));
	h1resp *r = &cl.r[0];
	cr_assert_eq(r->status, 200);
	cr_assert_eq(cl.p.http_major, 1);
	cr_assert_eq(cl.p.http_minor, 1);
	cr_assert_str_eq(r->body, "{\"method\":\"GET\",\"path\":\"/thing?x=1\"}");
	cr_assert_str_eq(h1_header(r, "content-type"), "application/json");
	cr_assert_str_eq(h1_header(r, "x-path"), "/thing?x=1");
	cr_assert_str_eq(h1_header(r, "x-in"), "Hello",
	                 "header names reach the handler lower-cased");
	cr_assert_str_eq(h1_header(r, "x-h1"), "1");
	cr_assert_str_eq(h1_header(r, "x-tls"), "0");
	char len[16];
	snprintf(len, sizeof len, "%zu", r->len);
	cr_assert_str_eq(h1_header(r, "content-length"), len);
	cr_assert_null(h1_header(r, "connection"));
	pthread_mutex_lock(&H.mu);
	cr_assert(H.last_h1);
	pthread_mutex_unlock(&H.mu);
	h1_close(&cl);
}

Test(http1, post_with_content_length_reaches_handler_intact)
{
	http_config cfg = base_config();
	start_server(&cfg);
	size_t n = 40000;
	char *body = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		body[i] = (char)(i * 13 % 256);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	char head[128];
	snprintf(head, sizeof head, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
	         n);
	h1_send_str(&cl, head);
	h1_send(&cl, body, n);
	cr_assert(h1_wait(&cl, 1));
	cr_assert_eq(cl.r[0].status, 200);
	cr_assert_eq(cl.r[0].len, n);
	cr_assert_eq(memcmp(cl.r[0].body, body, n), 0);
	cr_assert_str_eq(h1_header(&cl.r[0], "content-type"), "application/octet-stream");
	pthread_mutex_lock(&H.mu);
	cr_assert_str_eq(H.last_method, "POST");
	cr_assert_eq(H.last_body_len, n);
	pthread_mutex_unlock(&H.mu);
	h1_close(&cl);
	free(body);
}

Test(http1, chunked_body_reaches_handler_reassembled)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	                 "X-In: head\r\n\r\n"
	                 "5\r\nhello\r\n7\r\n, world\r\n0\r\nX-In: trailer\r\n\r\n");
	cr_assert(h1_wait(&cl, 1));
	cr_assert_eq(cl.r[0].status, 200);
	cr_assert_str_eq(cl.r[0].body, "hello, world");
	cr_assert_str_eq(h1_header(&cl.r[0], "x-in"), "head");
	cr_assert_str_eq(h1_header(&cl.r[0], "x-n"), "3", "trailers are not headers");
	h1_close(&cl);
}

/* A client writing one byte at a time: the strict checks wait for each
 * line's end (and the server reads what TCP gives it) and the requests,
 * a chunked one among them, come out whole and in order. */
Test(http1, requests_sent_a_byte_at_a_time_are_read_whole)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	const char *text = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	                   "3;a=b\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
	                   "GET /p/2 HTTP/1.1\r\nHost: x\r\n\r\n";
	for (const char *p = text; *p; p++) {
		h1_send(&cl, p, 1);
		h1_pump(&cl, 1);
	}
	cr_assert(h1_wait(&cl, 2));
	cr_assert_eq(cl.r[0].status, 200);
	cr_assert_str_eq(cl.r[0].body, "abcde");
	cr_assert_str_eq(h1_header(&cl.r[1], "x-path"), "/p/2");
	h1_close(&cl);
}

Test(http1, empty_lines_before_a_request_line_are_ignored_a_few_times)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	/* RFC 9112 section 2.2: one after a body (some clients send it), and
	 * several before a request, also split over writes. */
	h1_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab\r\n"
	                 "GET /p/2 HTTP/1.1\r\nHost: x\r\n\r\n\r\n\r\n\r");
	cr_assert(h1_wait(&cl, 2));
	h1_send_str(&cl, "\n\r\nGET /p/3 HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 3));
	cr_assert_str_eq(cl.r[0].body, "ab");
	cr_assert_str_eq(h1_header(&cl.r[1], "x-path"), "/p/2");
	cr_assert_str_eq(h1_header(&cl.r[2], "x-path"), "/p/3");
	cr_assert_not(cl.eof);
	h1_close(&cl);

	/* Past a few, an empty line is a malformed request line. */
	h1_open(&cl, port(false), false, "", 0);
	for (int i = 0; i < 9; i++)
		h1_send_str(&cl, "\r\n");
	h1_send_str(&cl, "GET /p/4 HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 1));
	assert_error(&cl.r[0], 400, "bad_request");
	cr_assert(h1_wait_eof(&cl, WAIT_MS));
	h1_close(&cl);
	cr_assert_eq(atomic_load(&H.calls), 3);
}

static void drain_now(void)
{
	size_t conns, in_flight;
	http_server_drain(H.srv, &conns, &in_flight);
}

Test(http1, a_drain_answers_a_request_whose_head_is_still_arriving)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHos");
	cr_assert(h1_wait(&cl, 1));
	run_on_loop(drain_now);
	h1_pump(&cl, 100);
	cr_assert_not(cl.eof, "closed with a request half received");
	h1_send_str(&cl, "t: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 2));
	cr_assert_str_eq(h1_header(&cl.r[1], "x-path"), "/two");
	cr_assert_str_eq(h1_header(&cl.r[1], "connection"), "close");
	cr_assert(h1_wait_eof(&cl, WAIT_MS));
	h1_close(&cl);
}

Test(http1, keep_alive_serves_two_requests_on_one_connection)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 1));
	h1_send_str(&cl, "GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 2));
	cr_assert_str_eq(h1_header(&cl.r[0], "x-path"), "/one");
	cr_assert_str_eq(h1_header(&cl.r[1], "x-path"), "/two");
	cr_assert_not(cl.eof);
	cr_assert_eq(atomic_load(&H.calls), 2);
	h1_close(&cl);
}

Test(http1, pipelined_requests_are_answered_in_order)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\n"
	                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	                 "GET /p/3 HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 3));
	cr_assert_str_eq(h1_header(&cl.r[0], "x-path"), "/p/1");
	cr_assert_str_eq(cl.r[1].body, "abc");
	cr_assert_str_eq(h1_header(&cl.r[2], "x-path"), "/p/3");
	h1_close(&cl);
}

Test(http1, large_answer_then_pipelined_request_arrive_intact)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	size_t n = 3 * 1024 * 1024; /* far over the server's output cap */
	char req[160];
	snprintf(req, sizeof req,
	         "GET /big/%zu HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\n\r\n",
	         n);
	h1_send_str(&cl, req);
	cr_assert(h1_wait(&cl, 2));
	cr_assert_eq(cl.r[0].len, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq((unsigned char)cl.r[0].body[i], (unsigned char)(i * 7 % 251));
	cr_assert_str_eq(h1_header(&cl.r[1], "x-path"), "/small");
	h1_close(&cl);
}

Test(http1, connection_close_is_honoured)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	/* The second request must never be served. */
	h1_send_str(&cl, "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	                 "GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 1));
	cr_assert_str_eq(h1_header(&cl.r[0], "connection"), "close");
	cr_assert(h1_wait_eof(&cl, WAIT_MS));
	cr_assert_eq(cl.n, 1);
	cr_assert_eq(atomic_load(&H.calls), 1);
	h1_close(&cl);
}

Test(http1, http10_closes_unless_keep_alive_is_asked)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	cr_assert(h1_wait(&cl, 1));
	cr_assert_str_eq(h1_header(&cl.r[0], "connection"), "keep-alive");
	h1_send_str(&cl, "GET /b HTTP/1.0\r\n\r\n");
	cr_assert(h1_wait(&cl, 2));
	cr_assert_str_eq(h1_header(&cl.r[1], "x-path"), "/b");
	cr_assert_str_eq(h1_header(&cl.r[1], "connection"), "close");
	cr_assert(h1_wait_eof(&cl, WAIT_MS));
	h1_close(&cl);
}

Test(http1, head_gets_the_length_but_no_body)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	cl.head[0] = true;
	h1_send_str(&cl, "HEAD /big/100 HTTP/1.1\r\nHost: x\r\n\r\n"
	                 "GET /big/100 HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 2));
	cr_assert_str_eq(h1_header(&cl.r[0], "content-length"), "100");
	cr_assert_eq(cl.r[0].len, 0);
	cr_assert_eq(cl.r[1].len, 100, "a body sent after HEAD would shift this answer");
	h1_close(&cl);
}

Test(http1, expect_100_continue_is_answered_before_the_body)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
	                 "Expect: 100-continue\r\n\r\n");
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (cl.interim == 0 && clock_mono_ms() < end)
		h1_pump(&cl, 20);
	cr_assert_eq(cl.interim, 1, "no 100 Continue");
	h1_send_str(&cl, "like");
	cr_assert(h1_wait(&cl, 1));
	cr_assert_str_eq(cl.r[0].body, "like");
	h1_close(&cl);
}

Test(http1, absolute_form_target_reaches_handler_as_a_path)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "GET http://localhost:8081/abs?q=1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
	cr_assert(h1_wait(&cl, 1));
	cr_assert_str_eq(h1_header(&cl.r[0], "x-path"), "/abs?q=1");
	h1_close(&cl);
}

Test(http1, idle_connection_is_closed)
{
	http_config cfg = base_config();
	cfg.idle_timeout_ms = 200;
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 1));
	uint64_t t0 = clock_mono_ms();
	cr_assert(h1_wait_eof(&cl, WAIT_MS));
	cr_assert_geq(clock_mono_ms() - t0, 150);
	h1_close(&cl);
}

/* --- limits and malformed requests ----------------------------------------- */

Test(http1, declared_body_over_max_body_gets_413_and_close)
{
	http_config cfg = base_config();
	cfg.max_body = 1000;
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n");
	char body[1001];
	memset(body, 'a', sizeof body);
	h1_send(&cl, body, sizeof body);
	cr_assert(h1_wait(&cl, 1));
	assert_error(&cl.r[0], 413, "body_too_large");
	cr_assert(h1_wait_eof(&cl, WAIT_MS));
	cr_assert_eq(atomic_load(&H.calls), 0);
	h1_close(&cl);

	/* Exactly max_body is fine. */
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
	h1_send(&cl, body, 1000);
	cr_assert(h1_wait(&cl, 1));
	cr_assert_eq(cl.r[0].status, 200);
	cr_assert_eq(cl.r[0].len, 1000);
	h1_close(&cl);
}

Test(http1, refused_client_may_finish_sending_without_a_reset)
{
	http_config cfg = base_config();
	cfg.max_body = 1000;
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
	cr_assert(h1_wait_eof(&cl, WAIT_MS)); /* the 413, then the server's FIN */
	assert_error(&cl.r[0], 413, "body_too_large");
	/* The server keeps reading (and dropping) the rest of the body: a
	 * server that had closed outright would answer it with a reset. */
	char body[5000];
	memset(body, 'b', sizeof body);
	cr_assert_eq(send(cl.fd, body, sizeof body, MSG_NOSIGNAL), (ssize_t)sizeof body);
	/* A reset shows as EPIPE on a later send; give it 300 ms to come. */
	uint64_t end = clock_mono_ms() + 300;
	while (clock_mono_ms() < end) {
		cr_assert_eq(send(cl.fd, "b", 1, MSG_NOSIGNAL), 1, "send: %s", strerror(errno));
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL);
	}
	h1_close(&cl);
}

Test(http1, chunked_body_over_max_body_gets_413_and_close)
{
	http_config cfg = base_config();
	cfg.max_body = 10;
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	                 "6\r\n123456\r\n6\r\n789012\r\n0\r\n\r\n");
	cr_assert(h1_wait(&cl, 1));
	assert_error(&cl.r[0], 413, "body_too_large");
	cr_assert(h1_wait_eof(&cl, WAIT_MS));
	cr_assert_eq(atomic_load(&H.calls), 0);
	h1_close(&cl);
}

Test(http1, headers_over_cap_get_431_and_close)
{
	http_config cfg = base_config();
	cfg.max_header_list = 1024;
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	char req[2200];
	char big[1500];
	memset(big, 'v', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(req, sizeof req, "GET /x HTTP/1.1\r\nHost: x\r\nX-In: %s\r\n\r\n", big);
	h1_send_str(&cl, req);
	cr_assert(h1_wait(&cl, 1));
	assert_error(&cl.r[0], 431, "headers_too_large");
	cr_assert(h1_wait_eof(&cl, WAIT_MS));
	cr_assert_eq(atomic_load(&H.calls), 0);
	h1_close(&cl);
}

Test(http1, malformed_request_gets_400_json_and_close)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
	                 "GET /bad HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n");
	cr_assert(h1_wait(&cl, 2));
	cr_assert_eq(cl.r[0].status, 200, "the good request before it is still answered");
	assert_error(&cl.r[1], 400, "bad_request");
	cr_assert(h1_wait_eof(&cl, WAIT_MS));
	cr_assert_eq(atomic_load(&H.calls), 1);
	h1_close(&cl);
}

Test(http1, request_for_another_http_version_gets_505)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "GET / HTTP/3.0\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 1));
	assert_error(&cl.r[0], 505, "version_not_supported"); /* RFC 9110 15.6.6 */
	cr_assert_not_null(strstr(cl.r[0].body, "HTTP/1.0 and HTTP/1.1"));
	h1_close(&cl);
}

/* --- one port, two protocols ----------------------------------------------- */

Test(http1, h1_and_h2c_share_the_port_and_answer_alike)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client one;
	h1_open(&one, port(false), false, "", 0);
	h1_send_str(&one,
	            "POST /same HTTP/1.1\r\nHost: x\r\nX-In: v\r\nContent-Length: 2\r\n\r\nhi");
	cr_assert(h1_wait(&one, 1));

	h2client two;
	cr_assert(h2client_open(&two, port(false), false, "", 0));
	h2client_stream *cs = h2client_request(&two, "POST", "/same", "hi", 2, "x-in", "v");
	cr_assert(h2client_run(&two));

	h1resp *r = &one.r[0];
	cr_assert_eq(cs->status, r->status);
	cr_assert_eq(cs->len, r->len);
	cr_assert_str_eq(cs->body, r->body);
	const char *same[] = {"content-type", "content-length", "x-path", "x-in", "x-tls"};
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
		cr_assert_str_eq(h2client_header(cs, same[i]), h1_header(r, same[i]), "%s",
		                 same[i]);
	cr_assert_str_eq(h2client_header(cs, "x-h1"), "0");
	cr_assert_str_eq(h1_header(r, "x-h1"), "1");
	h2client_close(&two);
	h1_close(&one);
}

/* Reads frames off fd until it closes (or WAIT_MS); the error code of
 * the GOAWAY among them, -1 when none came. */
static long goaway_code(int fd)
{
	unsigned char buf[4096];
	size_t len = 0;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	while (len < sizeof buf && poll(&pfd, 1, WAIT_MS) == 1) {
		ssize_t k = recv(fd, buf + len, sizeof buf - len, 0);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	return h2_goaway_code(buf, len);
}

Test(http1, a_wrong_preface_after_its_request_line_is_an_http2_error)
{
	http_config cfg = base_config();
	start_server(&cfg);
	int fd = h2client_tcp_connect(port(false));
	cr_assert(fd >= 0);
	/* The server waits while the bytes could still be the preface. */
	cr_assert_eq(send(fd, "PRI * HTTP/2.0\r\n", 16, MSG_NOSIGNAL), 16);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	cr_assert_eq(poll(&pfd, 1, 200), 0, "the server answered half a preface");
	/* Only HTTP/2 starts so: the rest going wrong is a connection error
	 * of type PROTOCOL_ERROR (RFC 9113 3.4), not an HTTP/1.1 answer. */
	cr_assert_eq(send(fd, "\r\nSX\r\n\r\n", 8, MSG_NOSIGNAL), 8);
	cr_assert_eq(goaway_code(fd), 1, "GOAWAY(PROTOCOL_ERROR)");
	close(fd);

	/* A byte off before the request line ends: HTTP/1.1, which does not
	 * know the method. */
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "PRX / HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 1));
	assert_error(&cl.r[0], 501, "not_implemented");
	h1_close(&cl);
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "PRI * HTTP/2.1\r\n\r\n");
	cr_assert(h1_wait(&cl, 1));
	assert_error(&cl.r[0], 505, "version_not_supported");
	h1_close(&cl);
	cr_assert_eq(atomic_load(&H.calls), 0);
}

/* A request HEADERS frame (GET / over http, authority x,
 * END_STREAM|END_HEADERS) on stream id, in HPACK's static table. */
static void h2_get_frame(unsigned char f[15], uint32_t id)
{
	const unsigned char frame[15] = {0,
	                                 0,
	                                 6,
	                                 1,
	                                 5,
	                                 (unsigned char)(id >> 24),
	                                 (unsigned char)(id >> 16),
	                                 (unsigned char)(id >> 8),
	                                 (unsigned char)id,
	                                 0x82,
	                                 0x86,
	                                 0x84,
	                                 0x01,
	                                 1,
	                                 'x'};
	memcpy(f, frame, sizeof frame);
}

Test(http1, a_headers_frame_on_a_lower_stream_id_is_a_connection_error)
{
	http_config cfg = base_config();
	start_server(&cfg);
	int fd = h2client_tcp_connect(port(false));
	cr_assert(fd >= 0);
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const unsigned char settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
	unsigned char five[15], three[15];
	h2_get_frame(five, 5);
	h2_get_frame(three, 3);
	cr_assert_eq(send(fd, preface, sizeof preface - 1, MSG_NOSIGNAL),
	             (ssize_t)sizeof preface - 1);
	cr_assert_eq(send(fd, settings, sizeof settings, MSG_NOSIGNAL), 9);
	cr_assert_eq(send(fd, five, sizeof five, MSG_NOSIGNAL), 15);
	cr_assert_eq(send(fd, three, sizeof three, MSG_NOSIGNAL), 15);
	/* RFC 9113 5.1.1: a new stream id must be larger than every one the
	 * client used; 3 after 5 is a connection error of type PROTOCOL_ERROR. */
	cr_assert_eq(goaway_code(fd), 1, "GOAWAY(PROTOCOL_ERROR)");
	close(fd);
}

/* Whether buf[0..len) holds a frame of type on stream id. */
static bool h2_frame_seen(const unsigned char *buf, size_t len, unsigned type, uint32_t id)
{
	for (size_t at = 0; at + 9 <= len;) {
		size_t flen = (size_t)buf[at] << 16 | (size_t)buf[at + 1] << 8 | buf[at + 2];
		uint32_t sid = (uint32_t)(buf[at + 5] & 0x7f) << 24 | (uint32_t)buf[at + 6] << 16 |
		               (uint32_t)buf[at + 7] << 8 | buf[at + 8];
		if (buf[at + 3] == type && sid == id)
			return true;
		at += 9 + flen;
	}
	return false;
}

Test(http1, headers_on_a_refused_stream_id_are_not_a_connection_error)
{
	http_config cfg = base_config();
	cfg.max_streams = 1;
	start_server(&cfg);
	int fd = h2client_tcp_connect(port(false));
	cr_assert(fd >= 0);
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const unsigned char settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
	/* GET /defer/300 on stream 1: answered 300 ms later, open till then. */
	static const unsigned char one[26] = {0,    0,    17,   1,   5,   0,    0,   0,   1,
	                                      0x82, 0x86, 0x01, 1,   'x', 0x04, 10,  '/', 'd',
	                                      'e',  'f',  'e',  'r', '/', '3',  '0', '0'};
	unsigned char three[15], seven[15], nine[15];
	h2_get_frame(three, 3);
	h2_get_frame(seven, 7);
	h2_get_frame(nine, 9);
	cr_assert_eq(send(fd, preface, sizeof preface - 1, MSG_NOSIGNAL),
	             (ssize_t)sizeof preface - 1);
	cr_assert_eq(send(fd, settings, sizeof settings, MSG_NOSIGNAL), 9);
	cr_assert_eq(send(fd, one, sizeof one, MSG_NOSIGNAL), 26);
	/* Over the one stream allowed: refused, never a request. */
	cr_assert_eq(send(fd, three, sizeof three, MSG_NOSIGNAL), 15);
	unsigned char buf[8192];
	size_t len = 0;
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (!h2_frame_seen(buf, len, 1, 1) && clock_mono_ms() < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 20) == 1) {
			ssize_t k = recv(fd, buf + len, sizeof buf - len, 0);
			cr_assert_gt(k, 0);
			len += (size_t)k;
		}
	}
	cr_assert(h2_frame_seen(buf, len, 3, 3), "stream 3 was reset");
	cr_assert(h2_frame_seen(buf, len, 1, 1), "stream 1 was answered");
	/* 7 skips 5; then a late HEADERS on 3 (the id the client used and
	 * the server refused) is a frame on a closed stream, to be ignored
	 * (RFC 9113 5.1), not a skipped id: the connection carries on. */
	cr_assert_eq(send(fd, seven, sizeof seven, MSG_NOSIGNAL), 15);
	cr_assert_eq(send(fd, three, sizeof three, MSG_NOSIGNAL), 15);
	cr_assert_eq(send(fd, nine, sizeof nine, MSG_NOSIGNAL), 15);
	len = 0;
	end = clock_mono_ms() + WAIT_MS;
	while (!h2_frame_seen(buf, len, 1, 9) && h2_goaway_code(buf, len) < 0 &&
	       clock_mono_ms() < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 20) == 1) {
			ssize_t k = recv(fd, buf + len, sizeof buf - len, 0);
			if (k <= 0)
				break;
			len += (size_t)k;
		}
	}
	cr_assert_eq(h2_goaway_code(buf, len), -1, "GOAWAY(%ld)", h2_goaway_code(buf, len));
	cr_assert(h2_frame_seen(buf, len, 1, 9), "stream 9 was answered");
	close(fd);
}

Test(http1, preface_split_over_two_writes_is_http2)
{
	http_config cfg = base_config();
	start_server(&cfg);
	int fd = h2client_tcp_connect(port(false));
	cr_assert(fd >= 0);
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	cr_assert_eq(send(fd, preface, 10, MSG_NOSIGNAL), 10);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	cr_assert_eq(poll(&pfd, 1, 200), 0, "the server spoke before the preface was whole");
	static const unsigned char settings[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
	cr_assert_eq(send(fd, preface + 10, sizeof preface - 11, MSG_NOSIGNAL),
	             (ssize_t)sizeof preface - 11);
	cr_assert_eq(send(fd, settings, sizeof settings, MSG_NOSIGNAL), 9);
	cr_assert_eq(poll(&pfd, 1, WAIT_MS), 1);
	unsigned char frame[9];
	cr_assert_eq(recv(fd, frame, sizeof frame, MSG_WAITALL), 9);
	cr_assert_eq(frame[3], 4, "the server's first frame is SETTINGS");
	close(fd);
}

/* --- TLS --------------------------------------------------------------------- */

static void tls_h1_get(const char *alpn, size_t alpn_len)
{
	start_tls_server();
	h1client cl;
	cr_assert(h1_open(&cl, port(true), true, alpn, alpn_len));
	const unsigned char *sel = NULL;
	unsigned sellen = 0;
	SSL_get0_alpn_selected(cl.ssl, &sel, &sellen);
	if (alpn_len)
		cr_assert(sellen == 8 && memcmp(sel, "http/1.1", 8) == 0);
	else
		cr_assert_eq(sellen, 0);
	h1_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nlike"
	                 "GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 2));
	cr_assert_str_eq(cl.r[0].body, "like");
	cr_assert_str_eq(h1_header(&cl.r[0], "x-tls"), "1");
	cr_assert_str_eq(h1_header(&cl.r[1], "x-h1"), "1");
	pthread_mutex_lock(&H.mu);
	cr_assert(H.last_tls);
	cr_assert(H.last_h1);
	pthread_mutex_unlock(&H.mu);
	h1_close(&cl);
}

Test(http1, tls_with_alpn_http11_speaks_http1)
{
	tls_h1_get("\x08http/1.1", 9);
}

Test(http1, tls_without_alpn_speaks_http1)
{
	tls_h1_get("", 0);
}

Test(http1, tls_client_offering_both_gets_h2)
{
	start_tls_server();
	h2client cl;
	cr_assert(h2client_open(&cl, port(true), true, "\x08http/1.1\x02h2", 12));
	const unsigned char *sel = NULL;
	unsigned sellen = 0;
	SSL_get0_alpn_selected(cl.ssl, &sel, &sellen);
	cr_assert(sellen == 2 && memcmp(sel, "h2", 2) == 0);
	h2client_stream *cs = h2client_request(&cl, "GET", "/x", NULL, 0, NULL, NULL);
	cr_assert(h2client_run(&cl));
	cr_assert_eq(cs->status, 200);
	cr_assert_str_eq(h2client_header(cs, "x-h1"), "0");
	h2client_close(&cl);
}

/* --- deferred answers ------------------------------------------------------ */

Test(http1, deferred_answer_over_h2_does_not_hold_up_other_streams)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h2client cl;
	cr_assert(h2client_open(&cl, port(false), false, "", 0));
	h2client_stream *slow = h2client_request(&cl, "GET", "/defer/300", NULL, 0, NULL, NULL);
	h2client_stream *fast = h2client_request(&cl, "GET", "/fast", NULL, 0, NULL, NULL);
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (!fast->closed && clock_mono_ms() < end)
		h2client_pump(&cl, 20);
	cr_assert(fast->closed);
	cr_assert_not(slow->closed, "the deferred stream was answered before its finish");
	cr_assert(h2client_run(&cl));
	cr_assert_eq(slow->status, 202);
	cr_assert_str_eq(slow->body, "{\"deferred\":\"/defer/300\"}");
	cr_assert_str_eq(h2client_header(slow, "x-deferred"), "1");
	cr_assert_eq(atomic_load(&H.alive_at_finish), 1);
	h2client_close(&cl);
}

Test(http1, deferred_answer_over_h1_holds_the_next_pipelined_request)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "GET /defer/200 HTTP/1.1\r\nHost: x\r\n\r\n"
	                 "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&cl, 2));
	cr_assert_eq(cl.r[0].status, 202);
	cr_assert_str_eq(cl.r[0].body, "{\"deferred\":\"/defer/200\"}");
	cr_assert_str_eq(h1_header(&cl.r[0], "x-deferred"), "1");
	cr_assert_str_eq(h1_header(&cl.r[1], "x-path"), "/after");
	cr_assert_lt(atomic_load(&H.finish_seq), atomic_load(&H.after_seq),
	             "the pipelined request ran before the deferred answer was finished");
	cr_assert_eq(atomic_load(&H.alive_at_finish), 1);
	h1_close(&cl);
}

Test(http1, deferred_answer_finished_inside_the_handler_goes_out)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client one;
	h1_open(&one, port(false), false, "", 0);
	h1_send_str(&one,
	            "GET /now HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1_wait(&one, 2));
	cr_assert_eq(one.r[0].status, 200);
	cr_assert_str_eq(one.r[0].body, "{\"now\":true}");
	cr_assert_str_eq(h1_header(&one.r[1], "x-path"), "/next");
	h1_close(&one);

	h2client two;
	cr_assert(h2client_open(&two, port(false), false, "", 0));
	h2client_stream *cs = h2client_request(&two, "GET", "/now", NULL, 0, NULL, NULL);
	cr_assert(h2client_run(&two));
	cr_assert_eq(cs->status, 200);
	cr_assert_str_eq(cs->body, "{\"now\":true}");
	h2client_close(&two);
}

Test(http1, deferred_finish_after_h1_client_left_is_dropped)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1_open(&cl, port(false), false, "", 0);
	h1_send_str(&cl, "GET /defer/300 HTTP/1.1\r\nHost: x\r\n\r\n");
	int one = 1;
	cr_assert(wait_until(calls_reach, &one, WAIT_MS));
	h1_close(&cl);
	cr_assert(wait_until(finished_reach, &one, WAIT_MS));
	cr_assert_eq(atomic_load(&H.alive_at_finish), 0);
}

Test(http1, deferred_finish_after_h2_client_left_is_dropped)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h2client cl;
	cr_assert(h2client_open(&cl, port(false), false, "", 0));
	h2client_request(&cl, "GET", "/defer/300", NULL, 0, NULL, NULL);
	int one = 1;
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (atomic_load(&H.calls) < 1 && clock_mono_ms() < end)
		h2client_pump(&cl, 20);
	cr_assert_eq(atomic_load(&H.calls), 1);
	h2client_close(&cl);
	cr_assert(wait_until(finished_reach, &one, WAIT_MS));
	cr_assert_eq(atomic_load(&H.alive_at_finish), 0);
}

Test(http1, deferred_finish_after_h2_stream_reset_is_dropped)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h2client cl;
	cr_assert(h2client_open(&cl, port(false), false, "", 0));
	h2client_stream *cs = h2client_request(&cl, "GET", "/defer/300", NULL, 0, NULL, NULL);
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (atomic_load(&H.calls) < 1 && clock_mono_ms() < end)
		h2client_pump(&cl, 20);
	cr_assert_eq(nghttp2_submit_rst_stream(cl.sess, NGHTTP2_FLAG_NONE, cs->id, NGHTTP2_CANCEL),
	             0);
	h2client_send(&cl);
	int one = 1;
	cr_assert(wait_until(finished_reach, &one, WAIT_MS));
	cr_assert_eq(atomic_load(&H.alive_at_finish), 0);
	/* The connection itself carries on. */
	h2client_stream *next = h2client_request(&cl, "GET", "/next", NULL, 0, NULL, NULL);
	end = clock_mono_ms() + WAIT_MS;
	while (!next->closed && clock_mono_ms() < end)
		h2client_pump(&cl, 20);
	cr_assert_eq(next->status, 200);
	h2client_close(&cl);
}

static bool held_set(void *arg)
{
	(void)arg;
	return atomic_load(&H.held) != NULL;
}

Test(http1, deferred_outlives_a_freed_server)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client one;
	h1_open(&one, port(false), false, "", 0);
	h1_send_str(&one, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(wait_until(held_set, NULL, WAIT_MS));
	http_deferred *d1 = atomic_exchange(&H.held, NULL);
	h2client two;
	cr_assert(h2client_open(&two, port(false), false, "", 0));
	h2client_request(&two, "GET", "/hold", NULL, 0, NULL, NULL);
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (!atomic_load(&H.held) && clock_mono_ms() < end)
		h2client_pump(&two, 20);
	http_deferred *d2 = atomic_exchange(&H.held, NULL);
	cr_assert_not_null(d2);

	stop_server(); /* the loop is gone: the test thread may finish now */
	cr_assert_not(http_deferred_alive(d1));
	cr_assert_not(http_deferred_alive(d2));
	http_response resp;
	http_response_init(&resp);
	resp.body = xstrdup("late");
	resp.body_len = 4;
	http_finish(d1, &resp);
	cr_assert_null(resp.body);
	resp.body = xstrdup("late");
	http_finish(d2, &resp);
	cr_assert(h1_wait_eof(&one, WAIT_MS));
	cr_assert_eq(one.n, 0);
	h1_close(&one);
	h2client_close(&two);
}

/* --- helpers --------------------------------------------------------------- */

Test(http1, status_reason_names_common_codes)
{
	cr_assert_str_eq(http_status_reason(200), "OK");
	cr_assert_str_eq(http_status_reason(404), "Not Found");
	cr_assert_str_eq(http_status_reason(429), "Too Many Requests");
	cr_assert_str_eq(http_status_reason(503), "Service Unavailable");
	cr_assert_str_eq(http_status_reason(299), "Unknown");
}

Test(http1, finish_of_null_frees_the_body)
{
	http_response resp;
	http_response_init(&resp);
	resp.body = xstrdup("x");
	resp.body_len = 1;
	http_finish(NULL, &resp);
	cr_assert_null(resp.body);
	cr_assert_not(http_deferred_alive(NULL));
	http_request req = {.path = "/"};
	cr_assert_null(http_defer(&req), "a request the server is not handling");
}
