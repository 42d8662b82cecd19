/* test_hclient.c - the one blocking HTTP/1.1 client (common/hclient.c).
 *
 * Against the edge's own HTTP server in a thread (tests/support/http_server_util.h):
 * plain and TLS, kept and streamed bodies, the size cap, an address
 * nobody listens on, wildcard listen addresses.
 *
 * The FRAMES tests: the simulator's way of asking (a GET on loopback,
 * the whole exchange within a deadline, bodies up to 4 MiB) against a
 * small evhttp server on its own thread and event_base (a fakesrv.h
 * fakesrv, whose loop checks a stop flag on a 5 ms timer, so the test
 * thread never touches its base while it runs), and against canned
 * bytes: status and body, the bearer header, chunked bodies, caps, a
 * server that never answers or trickles, a port nobody listens on.
 * They are in the one suite, with fixtures of their own: with two suites
 * whose tests ran side by side, Criterion 2.4.1's runner leaked 48 bytes
 * in about half the runs, which the sanitizer build counts as a failure.
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

#include "clock.h"
#include "tests/support/fakesrv.h"
#include "hclient.h"
#include "tests/support/http_server_util.h"
#include "log.h"
#include "xmem.h"

TestSuite(hclient, .init = suite_init, .fini = suite_fini, .timeout = 30);

static hclient_req req_to(int p, bool tls, const char *path)
{
	return (hclient_req){.host = "127.0.0.1",
	                     .port = p,
	                     .tls = tls,
	                     .method = "GET",
	                     .path = path,
	                     .timeout_ms = 5000,
	                     .max_body = 1 << 20};
}

Test(hclient, a_plain_get_returns_status_and_body)
{
	http_config cfg = base_config();
	start_server(&cfg);
	hclient_req r = req_to(port(false), false, "/created");
	r.token = "t0k";
	hclient_answer a;
	char err[256];
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), 0, "%s", err);
	cr_assert_eq(a.status, 201);
	cr_assert_str_eq(a.body, "{\"method\":\"GET\",\"path\":\"/created\"}");
	cr_assert_eq(a.len, strlen(a.body));
	cr_assert(atomic_load(&H.last_h1), "served by the HTTP/1.1 side, not HTTP/2");
	free(a.body);
}

Test(hclient, tls_works_without_checking_the_certificate)
{
	start_tls_server();
	hclient_req r = req_to(port(true), true, "/x");
	hclient_answer a;
	char err[256];
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), 0, "%s", err);
	cr_assert_eq(a.status, 200);
	cr_assert(strstr(a.body, "\"path\":\"/x\""));
	free(a.body);
}

Test(hclient, a_200_body_streams_and_a_large_kept_one_is_refused)
{
	http_config cfg = base_config();
	start_server(&cfg);
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	hclient_req r = req_to(port(false), false, "/big/300000");
	r.stream = f;
	hclient_answer a;
	char err[256];
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), 0, "%s", err);
	cr_assert_eq(a.status, 200);
	cr_assert_null(a.body, "a streamed body is not kept");
	cr_assert_eq(ftell(f), 300000);
	rewind(f);
	for (int i = 0; i < 300000; i++)
		cr_assert_eq(fgetc(f), i * 7 % 251, "byte %d", i);
	fclose(f);
	r.stream = NULL;
	r.max_body = 1000;
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), ERR_TOOBIG);
	cr_assert(strstr(err, "too large"), "%s", err);
	cr_assert_null(a.body);
}

Test(hclient, nobody_listening_is_a_connect_error)
{
	int p = 1; /* nothing listens on port 1 */
	hclient_req r = req_to(p, false, "/");
	hclient_answer a;
	char err[256];
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), ERR_IO);
	cr_assert_eq(strncmp(err, "connect", 7), 0, "%s", err);
}

Test(hclient, wildcard_listen_addresses_become_loopback)
{
	char host[64];
	int p;
	cr_assert_eq(hclient_local_target(":8081", host, sizeof host, &p), 0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(p, 8081);
	cr_assert_eq(hclient_local_target("0.0.0.0:9", host, sizeof host, &p), 0);
	cr_assert_str_eq(host, "127.0.0.1");
	cr_assert_eq(hclient_local_target("[::]:9", host, sizeof host, &p), 0);
	cr_assert_str_eq(host, "::1");
	cr_assert_eq(hclient_local_target("10.0.0.1:9090", host, sizeof host, &p), 0);
	cr_assert_str_eq(host, "10.0.0.1");
	cr_assert_eq(hclient_local_target("127.0.0.1:0", host, sizeof host, &p), ERR_INVAL);
	cr_assert_eq(hclient_local_target("nope", host, sizeof host, &p), ERR_INVAL);
}

/* --- against fakesrv and canned bytes (FRAMES) --------------------------- */

#define CAP (4u << 20) /* the simulator's body cap (sim/drill/cluster.c) */

static struct {
	fakesrv srv;
	int port;
	atomic_int hits;
} E;

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
 * header back; "/chunked": 3 chunks; "/manychunks": 2,000; "/bigchunked":
 * a chunked body over the cap; "/big": a body one byte over the cap;
 * "/atcap": one at it; "/empty": 204. */
static void ev_handler(struct evhttp_request *req, void *arg)
{
	(void)arg;
	atomic_fetch_add(&E.hits, 1);
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
		size_t n = CAP + 1;
		char *blk = xcalloc(1, n);
		evbuffer_add(out, blk, n);
		free(blk);
		evhttp_send_reply(req, 200, "OK", out);
	} else if (strcmp(uri, "/atcap") == 0) {
		size_t n = CAP;
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

static void frames_setup(void)
{
	log_threshold = LOG_ERROR;
	signal(SIGPIPE, SIG_IGN);
	memset(&E, 0, sizeof E);
	fakesrv_init(&E.srv);
	E.port = fakesrv_listen(&E.srv, NULL, ev_handler, NULL);
	fakesrv_start(&E.srv);
}

static void frames_teardown(void)
{
	fakesrv_stop(&E.srv);
}

/* The fixtures of the tests against fakesrv and canned bytes. */
#define FRAMES .init = frames_setup, .fini = frames_teardown

/* The simulator's request: GET on loopback with an optional token, the
 * whole exchange (and so each step) within ms, bodies up to CAP. */
static hclient_req sim_req(int p, const char *path, const char *token, unsigned ms)
{
	return (hclient_req){.host = "127.0.0.1",
	                     .port = p,
	                     .method = "GET",
	                     .path = path,
	                     .token = token,
	                     .timeout_ms = ms,
	                     .total_ms = ms,
	                     .max_body = CAP};
}

static int get(int p, const char *path, const char *token, unsigned ms, hclient_answer *a)
{
	hclient_req r = sim_req(p, path, token, ms);
	char err[256];
	return hclient_do(&r, a, err, sizeof err);
}

Test(hclient, answers_status_and_body, FRAMES)
{
	hclient_answer a;
	cr_assert_eq(get(E.port, "/ok", NULL, 2000, &a), 0);
	cr_assert_eq(a.status, 200);
	cr_assert_eq(a.len, 5);
	cr_assert_str_eq(a.body, "hello");
	free(a.body);

	cr_assert_eq(get(E.port, "/nothing/here", NULL, 2000, &a), 0,
	             "a 404 is an answer, not an error");
	cr_assert_eq(a.status, 404);
	cr_assert_str_eq(a.body, "{\"error\":\"not_found\"}");
	free(a.body);
}

Test(hclient, sends_the_bearer_token_only_when_given, FRAMES)
{
	hclient_answer a;
	cr_assert_eq(get(E.port, "/auth", "dev-admin-token", 2000, &a), 0);
	cr_assert_str_eq(a.body, "Bearer dev-admin-token");
	free(a.body);
	cr_assert_eq(get(E.port, "/auth", NULL, 2000, &a), 0);
	cr_assert_str_eq(a.body, "(none)");
	free(a.body);
}

Test(hclient, decodes_chunked_bodies, FRAMES)
{
	hclient_answer a;
	cr_assert_eq(get(E.port, "/chunked", NULL, 2000, &a), 0);
	cr_assert_eq(a.status, 200);
	cr_assert_str_eq(a.body, "part-0;part-1;part-2;");
	cr_assert_eq(a.len, strlen("part-0;part-1;part-2;"));
	free(a.body);

	cr_assert_eq(get(E.port, "/manychunks", NULL, 5000, &a), 0);
	cr_assert_str_eq(a.body + a.len - strlen("part-1999;"), "part-1999;");
	cr_assert(strncmp(a.body, "part-0;part-1;", 14) == 0);
	free(a.body);
}

Test(hclient, a_chunked_200_streams_decoded, FRAMES)
{
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	hclient_req r = sim_req(E.port, "/manychunks", NULL, 5000);
	r.stream = f;
	r.max_body = 10; /* a streamed body is not held to it */
	hclient_answer a;
	char err[256];
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), 0, "%s", err);
	cr_assert_eq(a.status, 200);
	cr_assert_null(a.body);
	long n = ftell(f);
	char *got = xcalloc(1, (size_t)n + 1);
	rewind(f);
	cr_assert_eq(fread(got, 1, (size_t)n, f), (size_t)n);
	cr_assert(strncmp(got, "part-0;part-1;", 14) == 0, "%.40s", got);
	cr_assert_str_eq(got + n - strlen("part-1999;"), "part-1999;");
	cr_assert_null(strstr(got, "\r\n"), "no chunk framing in the output");
	free(got);
	fclose(f);
}

Test(hclient, no_content_has_an_empty_body, FRAMES)
{
	hclient_answer a;
	cr_assert_eq(get(E.port, "/empty", NULL, 2000, &a), 0);
	cr_assert_eq(a.status, 204);
	cr_assert_eq(a.len, 0);
	cr_assert_str_eq(a.body, "");
	free(a.body);
}

Test(hclient, a_body_at_the_cap_fits_and_over_it_is_too_big, .init = frames_setup,
     .fini = frames_teardown)
{
	hclient_answer a;
	cr_assert_eq(get(E.port, "/atcap", NULL, 5000, &a), 0);
	cr_assert_eq(a.len, CAP);
	cr_assert_eq(a.body[0], 'y');
	cr_assert_eq(a.body[a.len - 1], 'y');
	free(a.body);

	cr_assert_eq(get(E.port, "/big", NULL, 5000, &a), ERR_TOOBIG);
	cr_assert_null(a.body);
	cr_assert_eq(get(E.port, "/bigchunked", NULL, 5000, &a), ERR_TOOBIG);
	cr_assert_null(a.body);
}

Test(hclient, times_out_on_a_server_that_never_answers, .init = frames_setup,
     .fini = frames_teardown)
{
	/* A listening socket nobody accepts from: connect completes in the
	 * kernel, no answer ever comes. */
	int p;
	int fd = fakesrv_loopback(true, &p);

	hclient_answer a;
	uint64_t t0 = clock_mono_ms();
	cr_assert_eq(get(p, "/ok", NULL, 300, &a), ERR_TIMEOUT);
	uint64_t took = clock_mono_ms() - t0;
	cr_assert_geq(took, 290, "gave up after %llu ms", (unsigned long long)took);
	cr_assert_lt(took, 2000, "took %llu ms", (unsigned long long)took);
	cr_assert_null(a.body);
	close(fd);
}

Test(hclient, refused_port_is_an_io_error, FRAMES)
{
	int p = fakesrv_dead_port(); /* bound, never listened: nobody is there */

	hclient_answer a;
	cr_assert_eq(get(p, "/ok", NULL, 2000, &a), ERR_IO);
	cr_assert_null(a.body);
}

Test(hclient, bad_arguments_are_refused_before_any_io, .init = frames_setup,
     .fini = frames_teardown)
{
	hclient_answer a;
	cr_assert_eq(get(E.port, "no-slash", NULL, 1000, &a), ERR_INVAL);
	cr_assert_eq(get(E.port, "/a b", NULL, 1000, &a), ERR_INVAL);
	cr_assert_eq(get(E.port, "/ok", "x\r\nEvil: 1", 1000, &a), ERR_INVAL);
	cr_assert_eq(get(0, "/ok", NULL, 1000, &a), ERR_INVAL);
	hclient_req r = sim_req(E.port, "/ok", NULL, 1000);
	r.method = "G T";
	char err[256];
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), ERR_INVAL);
	r = sim_req(E.port, "/ok", NULL, 1000);
	r.host = "127.0.0.1\r\nX: y";
	cr_assert_eq(hclient_do(&r, &a, err, sizeof err), ERR_INVAL);
	cr_assert_null(a.body);
	cr_assert_eq(atomic_load(&E.hits), 0);
}

/* --- raw answers: a one-shot server that writes canned bytes ------------- */

typedef struct canned {
	int fd;
	const char *bytes;
	unsigned gap_ms; /* set: bytes go one at a time, this far apart */
	char got[1024];  /* the request it read */
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
	size_t len = strlen(c->bytes);
	for (size_t at = 0; at < len;) {
		size_t k = c->gap_ms ? 1 : len - at;
		if (c->gap_ms)
			usleep(c->gap_ms * 1000u);
		ssize_t w = send(cfd, c->bytes + at, k, MSG_NOSIGNAL);
		if (w <= 0)
			break; /* the client gave up */
		at += (size_t)w;
	}
	close(cfd);
	return NULL;
}

/* Serves bytes once (gap_ms apart when not 0) and runs r against it (its
 * port set here). */
static int do_canned(const char *bytes, unsigned gap_ms, hclient_req *r, hclient_answer *a,
                     canned *c)
{
	memset(c, 0, sizeof *c);
	c->bytes = bytes;
	c->gap_ms = gap_ms;
	c->fd = fakesrv_loopback(true, &r->port);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, canned_main, c), 0);
	char err[256];
	int rc = hclient_do(r, a, err, sizeof err);
	pthread_join(t, NULL);
	close(c->fd);
	return rc;
}

static int get_canned(const char *bytes, hclient_answer *a, canned *c)
{
	hclient_req r = sim_req(0, "/x?y=1", "tok", 2000);
	return do_canned(bytes, 0, &r, a, c);
}

Test(hclient, reads_to_eof_without_a_length_and_sends_close, .init = frames_setup,
     .fini = frames_teardown)
{
	canned c;
	hclient_answer a;
	cr_assert_eq(get_canned("HTTP/1.0 200 OK\r\nX-A: b\r\n\r\nuntil the end", &a, &c), 0);
	cr_assert_eq(a.status, 200);
	cr_assert_str_eq(a.body, "until the end");
	free(a.body);
	cr_assert(strncmp(c.got, "GET /x?y=1 HTTP/1.1\r\n", 21) == 0, "request: %s", c.got);
	cr_assert_not_null(strstr(c.got, "\r\nConnection: close\r\n"));
	cr_assert_not_null(strstr(c.got, "\r\nAuthorization: Bearer tok\r\n"));
	cr_assert_not_null(strstr(c.got, "\r\nHost: 127.0.0.1"));
}

Test(hclient, the_host_header_names_the_port, FRAMES)
{
	canned c;
	hclient_answer a;
	hclient_req r = sim_req(0, "/", NULL, 2000);
	cr_assert_eq(do_canned("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, &r, &a, &c), 0);
	free(a.body);
	char want[64];
	snprintf(want, sizeof want, "\r\nHost: 127.0.0.1:%d\r\n", r.port);
	cr_assert_not_null(strstr(c.got, want), "request: %s", c.got);
	cr_assert_null(strstr(c.got, "Authorization"), "no token, no header");
}

Test(hclient, garbage_and_short_answers_are_io_errors, .init = frames_setup,
     .fini = frames_teardown)
{
	canned c;
	hclient_answer a;
	cr_assert_eq(get_canned("SSH-2.0-OpenSSH\r\n\r\n", &a, &c), ERR_IO);
	cr_assert_null(a.body);
	cr_assert_eq(get_canned("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", &a, &c),
	             ERR_IO, "a body cut short");
	cr_assert_eq(
	    get_canned("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", &a, &c),
	    ERR_IO, "a chunk cut short");
	cr_assert_eq(
	    get_canned("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &a, &c),
	    ERR_IO, "a bad chunk size");
	cr_assert_eq(get_canned("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", &a, &c),
	             ERR_TOOBIG);
	cr_assert_eq(get_canned("HTTP/1.1 200 OK\r\nContent-Le", &a, &c), ERR_IO,
	             "headers cut short");
	cr_assert_null(a.body);
}

Test(hclient, a_streamed_body_cut_short_is_an_io_error, .init = frames_setup,
     .fini = frames_teardown)
{
	FILE *f = tmpfile();
	cr_assert_not_null(f);
	canned c;
	hclient_answer a;
	hclient_req r = sim_req(0, "/", NULL, 2000);
	r.stream = f;
	cr_assert_eq(do_canned("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	                       "5\r\nhello\r\n",
	                       0, &r, &a, &c),
	             ERR_IO, "no last chunk");
	cr_assert_eq(ftell(f), 5, "what came was written");
	fclose(f);
}

Test(hclient, chunk_extensions_and_trailers_are_skipped, .init = frames_setup,
     .fini = frames_teardown)
{
	canned c;
	hclient_answer a;
	cr_assert_eq(get_canned("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
	                        "4;ext=1\r\nabcd\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
	                        &a, &c),
	             0);
	cr_assert_eq(a.status, 201);
	cr_assert_str_eq(a.body, "abcd0123456789");
	cr_assert_eq(a.len, 14);
	free(a.body);
}

Test(hclient, each_step_has_a_timeout_and_the_whole_a_deadline, .init = frames_setup,
     .fini = frames_teardown)
{
	/* 40 bytes 20 ms apart: every step is quick, the whole takes ~800 ms. */
	const char *slow = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
	canned c;
	hclient_answer a;
	hclient_req r = sim_req(0, "/", NULL, 500);
	r.total_ms = 0; /* steps only, as the operator commands ask */
	cr_assert_eq(do_canned(slow, 20, &r, &a, &c), 0);
	cr_assert_str_eq(a.body, "abc");
	free(a.body);

	r = sim_req(0, "/", NULL, 300); /* the whole within 300 ms, as sim asks */
	uint64_t t0 = clock_mono_ms();
	cr_assert_eq(do_canned(slow, 20, &r, &a, &c), ERR_TIMEOUT);
	uint64_t took = clock_mono_ms() - t0;
	cr_assert_lt(took, 1500, "took %llu ms", (unsigned long long)took);
	cr_assert_null(a.body);
}
