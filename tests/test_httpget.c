/* test_httpget.c - the blocking GET client against a small evhttp server
 * run on its own thread and event_base: status and body, the bearer
 * header, chunked bodies, caps, a server that never answers and a port
 * nobody listens on.
 *
 * The server is an evserver.h fakesrv: its loop checks a stop flag on a
 * 5 ms timer, so the test thread never touches its base while it runs.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "../sim/httpget.h"
#include "clock.h"
#include "evserver.h"
#include "log.h"
#include "xmem.h"

static struct {
	fakesrv srv;
	int port;
	atomic_int hits;
} S;

/* Sends "part-N;" pieces as separate chunks. */
static void send_chunked(struct evhttp_request *req, int parts)
{
	evhttp_send_reply_start(req, 200, "OK");
	for (int i = 0; i < parts; i++) {
		struct evbuffer *b = evbuffer_new();
		evbuffer_add_printf(b, "part-%d;", i);
		evhttp_send_reply_chunk(req, b);
		evbuffer_free(b);
	}
	evhttp_send_reply_end(req);
}

/* "/ok": 200 "hello"; "/missing": 404 JSON; "/auth": the Authorization
 * header back; "/chunked": 3 chunks; "/bigchunked": a chunked body over
 * the cap; "/big": a body one byte over the cap; "/empty": 204. */
static void handler(struct evhttp_request *req, void *arg)
{
	(void)arg;
	atomic_fetch_add(&S.hits, 1);
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *out = evbuffer_new();
	if (strcmp(uri, "/ok") == 0) {
		evbuffer_add_printf(out, "hello");
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strcmp(uri, "/auth") == 0) {
		const char *a =
		    evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
		evbuffer_add_printf(out, "%s", a ? a : "(none)");
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strcmp(uri, "/chunked") == 0) {
		send_chunked(req, 3);
	} else if (strcmp(uri, "/manychunks") == 0) {
		send_chunked(req, 2000);
	} else if (strcmp(uri, "/bigchunked") == 0) {
		evhttp_send_reply_start(req, 200, "OK");
		char *blk = xcalloc(1, 1u << 20);
		memset(blk, 'x', 1u << 20);
		for (int i = 0; i < 5; i++) {
			struct evbuffer *b = evbuffer_new();
			evbuffer_add(b, blk, 1u << 20);
			evhttp_send_reply_chunk(req, b);
			evbuffer_free(b);
		}
		free(blk);
		evhttp_send_reply_end(req);
	} else if (strcmp(uri, "/big") == 0) {
		size_t n = HTTPGET_BODY_MAX + 1;
		char *blk = xcalloc(1, n);
		evbuffer_add(out, blk, n);
		free(blk);
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strcmp(uri, "/atcap") == 0) {
		size_t n = HTTPGET_BODY_MAX;
		char *blk = xmalloc(n);
		memset(blk, 'y', n);
		evbuffer_add(out, blk, n);
		free(blk);
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strcmp(uri, "/empty") == 0) {
		evhttp_send_reply(req, 204, "No Content", NULL);
	} else {
		evbuffer_add_printf(out, "{\"error\":\"not_found\"}");
		evhttp_send_reply(req, 404, "Not Found", out);
	}
	evbuffer_free(out);
}

static void setup(void)
{
	log_threshold = LOG_ERROR;
	signal(SIGPIPE, SIG_IGN);
	memset(&S, 0, sizeof S);
	fakesrv_init(&S.srv);
	S.port = fakesrv_listen(&S.srv, NULL, handler, NULL);
	fakesrv_start(&S.srv);
}

static void teardown(void)
{
	fakesrv_stop(&S.srv);
}

TestSuite(httpget, .init = setup, .fini = teardown, .timeout = 20);

Test(httpget, answers_status_and_body)
{
	int st;
	char *body;
	size_t len;
	cr_assert_eq(httpget(S.port, "/ok", NULL, 2000, &st, &body, &len), 0);
	cr_assert_eq(st, 200);
	cr_assert_eq(len, 5);
	cr_assert_str_eq(body, "hello");
	free(body);

	cr_assert_eq(httpget(S.port, "/nothing/here", NULL, 2000, &st, &body, &len), 0,
	             "a 404 is an answer, not an error");
	cr_assert_eq(st, 404);
	cr_assert_str_eq(body, "{\"error\":\"not_found\"}");
	free(body);
}

Test(httpget, sends_the_bearer_token_only_when_given)
{
	int st;
	char *body;
	size_t len;
	cr_assert_eq(httpget(S.port, "/auth", "dev-admin-token", 2000, &st, &body, &len), 0);
	cr_assert_str_eq(body, "Bearer dev-admin-token");
	free(body);
	cr_assert_eq(httpget(S.port, "/auth", NULL, 2000, &st, &body, &len), 0);
	cr_assert_str_eq(body, "(none)");
	free(body);
}

Test(httpget, decodes_chunked_bodies)
{
	int st;
	char *body;
	size_t len;
	cr_assert_eq(httpget(S.port, "/chunked", NULL, 2000, &st, &body, &len), 0);
	cr_assert_eq(st, 200);
	cr_assert_str_eq(body, "part-0;part-1;part-2;");
	cr_assert_eq(len, strlen("part-0;part-1;part-2;"));
	free(body);

	cr_assert_eq(httpget(S.port, "/manychunks", NULL, 5000, &st, &body, &len), 0);
	cr_assert_str_eq(body + len - strlen("part-1999;"), "part-1999;");
	cr_assert(strncmp(body, "part-0;part-1;", 14) == 0);
	free(body);
}

Test(httpget, no_content_has_an_empty_body)
{
	int st;
	char *body;
	size_t len;
	cr_assert_eq(httpget(S.port, "/empty", NULL, 2000, &st, &body, &len), 0);
	cr_assert_eq(st, 204);
	cr_assert_eq(len, 0);
	cr_assert_str_eq(body, "");
	free(body);
}

Test(httpget, a_body_at_the_cap_fits_and_over_it_is_too_big)
{
	int st;
	char *body = NULL;
	size_t len;
	cr_assert_eq(httpget(S.port, "/atcap", NULL, 5000, &st, &body, &len), 0);
	cr_assert_eq(len, HTTPGET_BODY_MAX);
	cr_assert_eq(body[0], 'y');
	cr_assert_eq(body[len - 1], 'y');
	free(body);

	cr_assert_eq(httpget(S.port, "/big", NULL, 5000, &st, &body, &len), ERR_TOOBIG);
	cr_assert_null(body);
	cr_assert_eq(httpget(S.port, "/bigchunked", NULL, 5000, &st, &body, &len), ERR_TOOBIG);
	cr_assert_null(body);
}

Test(httpget, times_out_on_a_server_that_never_answers)
{
	/* A listening socket nobody accepts from: connect completes in the
	 * kernel, no answer ever comes. */
	int port;
	int fd = fakesrv_loopback(true, &port);

	int st;
	char *body = NULL;
	size_t len;
	uint64_t t0 = clock_mono_ms();
	cr_assert_eq(httpget(port, "/ok", NULL, 300, &st, &body, &len), ERR_TIMEOUT);
	uint64_t took = clock_mono_ms() - t0;
	cr_assert_geq(took, 290, "gave up after %llu ms", (unsigned long long)took);
	cr_assert_lt(took, 2000, "took %llu ms", (unsigned long long)took);
	cr_assert_null(body);
	close(fd);
}

Test(httpget, refused_port_is_an_io_error)
{
	int port = fakesrv_dead_port(); /* bound, never listened: nobody is there */

	int st;
	char *body = NULL;
	size_t len;
	cr_assert_eq(httpget(port, "/ok", NULL, 2000, &st, &body, &len), ERR_IO);
	cr_assert_null(body);
}

Test(httpget, bad_arguments_are_refused_before_any_io)
{
	int st;
	char *body = NULL;
	size_t len;
	cr_assert_eq(httpget(S.port, "no-slash", NULL, 1000, &st, &body, &len), ERR_INVAL);
	cr_assert_eq(httpget(S.port, "/a b", NULL, 1000, &st, &body, &len), ERR_INVAL);
	cr_assert_eq(httpget(S.port, "/ok", "x\r\nEvil: 1", 1000, &st, &body, &len), ERR_INVAL);
	cr_assert_eq(httpget(0, "/ok", NULL, 1000, &st, &body, &len), ERR_INVAL);
	cr_assert_eq(atomic_load(&S.hits), 0);
}

/* --- raw answers: a one-shot server that writes canned bytes ------------- */

typedef struct canned {
	int fd;
	const char *bytes;
	char got[1024]; /* the request it read */
} canned;

static void *canned_main(void *arg)
{
	canned *c = arg;
	int cfd = accept(c->fd, NULL, NULL);
	if (cfd < 0)
		return NULL;
	size_t n = 0;
	while (n < sizeof c->got - 1) {
		ssize_t r = read(cfd, c->got + n, sizeof c->got - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		c->got[n] = '\0';
		if (strstr(c->got, "\r\n\r\n"))
			break;
	}
	if (write(cfd, c->bytes, strlen(c->bytes)) < 0)
		perror("write");
	close(cfd);
	return NULL;
}

/* Serves bytes once and runs httpget against it. */
static int get_canned(const char *bytes, int *st, char **body, size_t *len, canned *c)
{
	memset(c, 0, sizeof *c);
	c->bytes = bytes;
	int port;
	c->fd = fakesrv_loopback(true, &port);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, canned_main, c), 0);
	int rc = httpget(port, "/x?y=1", "tok", 2000, st, body, len);
	pthread_join(t, NULL);
	close(c->fd);
	return rc;
}

Test(httpget, reads_to_eof_without_a_length_and_sends_close)
{
	canned c;
	int st;
	char *body;
	size_t len;
	cr_assert_eq(
	    get_canned("HTTP/1.0 200 OK\r\nX-A: b\r\n\r\nuntil the end", &st, &body, &len, &c), 0);
	cr_assert_eq(st, 200);
	cr_assert_str_eq(body, "until the end");
	free(body);
	cr_assert(strncmp(c.got, "GET /x?y=1 HTTP/1.1\r\n", 21) == 0, "request: %s", c.got);
	cr_assert_not_null(strstr(c.got, "\r\nConnection: close\r\n"));
	cr_assert_not_null(strstr(c.got, "\r\nAuthorization: Bearer tok\r\n"));
	cr_assert_not_null(strstr(c.got, "\r\nHost: 127.0.0.1"));
}

Test(httpget, garbage_and_short_answers_are_io_errors)
{
	canned c;
	int st;
	char *body = NULL;
	size_t len;
	cr_assert_eq(get_canned("SSH-2.0-OpenSSH\r\n\r\n", &st, &body, &len, &c), ERR_IO);
	cr_assert_null(body);
	cr_assert_eq(
	    get_canned("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", &st, &body, &len, &c),
	    ERR_IO, "a body cut short");
	cr_assert_eq(get_canned("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", &st,
	                        &body, &len, &c),
	             ERR_IO, "a chunk cut short");
	cr_assert_eq(get_canned("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &st,
	                        &body, &len, &c),
	             ERR_IO, "a bad chunk size");
	cr_assert_eq(get_canned("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", &st,
	                        &body, &len, &c),
	             ERR_TOOBIG);
	cr_assert_eq(get_canned("HTTP/1.1 200 OK\r\nContent-Le", &st, &body, &len, &c), ERR_IO,
	             "headers cut short");
	cr_assert_null(body);
}

Test(httpget, chunk_extensions_and_trailers_are_skipped)
{
	canned c;
	int st;
	char *body;
	size_t len;
	cr_assert_eq(get_canned("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
	                        "4;ext=1\r\nabcd\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
	                        &st, &body, &len, &c),
	             0);
	cr_assert_eq(st, 201);
	cr_assert_str_eq(body, "abcd0123456789");
	cr_assert_eq(len, 14);
	free(body);
}
