/* test_http1.c - the edge HTTP server's HTTP/1.1 side: requests and
 * their answers (bodies by length and chunked, keep-alive, pipelining,
 * HEAD, 100-continue, Connection: close, HTTP/1.0, the idle timeout, a
 * drain), then the limits and malformed requests refused with a JSON
 * error and a close. HTTP/2 beside HTTP/1.1 on one port, TLS and
 * deferred answers are test_http_both.c's.
 *
 * Each test starts a server on 127.0.0.1 port 0 whose loop runs in a
 * pthread (tests/support/http_server_util.h); the test thread is the
 * client over a blocking plain socket, tests/support/h1client.h, which
 * sends raw request bytes and reads the answers with http-parser.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "edge/http/http.h"
#include "clock.h"
#include "tests/support/h1client.h"
#include "tests/support/http_server_util.h"
#include "xmem.h"

TestSuite(http1, .init = suite_init, .fini = suite_fini, .timeout = 30);

/* --- requests and answers -------------------------------------------------- */

Test(http1, get_is_answered_with_status_line_headers_and_body)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "GET /thing?x=1 HTTP/1.1\r\nHost: localhost\r\nX-In: Hello\r\n\r\n");
	cr_assert(h1client_wait(&cl, 1));
	h1client_resp *r = &cl.r[0];
	cr_assert_eq(r->status, 200);
	cr_assert_eq(cl.p.http_major, 1);
	cr_assert_eq(cl.p.http_minor, 1);
	cr_assert_str_eq(r->body, "{\"method\":\"GET\",\"path\":\"/thing?x=1\"}");
	cr_assert_str_eq(h1client_header(r, "content-type"), "application/json");
	cr_assert_str_eq(h1client_header(r, "x-path"), "/thing?x=1");
	cr_assert_str_eq(h1client_header(r, "x-in"), "Hello",
	                 "header names reach the handler lower-cased");
	cr_assert_str_eq(h1client_header(r, "x-h1"), "1");
	cr_assert_str_eq(h1client_header(r, "x-tls"), "0");
	char len[16];
	snprintf(len, sizeof len, "%zu", r->len);
	cr_assert_str_eq(h1client_header(r, "content-length"), len);
	cr_assert_null(h1client_header(r, "connection"));
	pthread_mutex_lock(&H.mu);
	cr_assert(H.last_h1);
	pthread_mutex_unlock(&H.mu);
	h1client_close(&cl);
}

Test(http1, each_request_carries_the_time_it_was_read)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	uint64_t before = clock_mono_ns();
	h1client_send_str(&cl, "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n"
	                       "GET /b HTTP/1.1\r\nHost: localhost\r\n\r\n");
	cr_assert(h1client_wait(&cl, 2));
	uint64_t after = clock_mono_ns();
	pthread_mutex_lock(&H.mu);
	cr_assert_eq(H.narrived, 2);
	cr_assert_geq(H.arrived[0], before);
	cr_assert_geq(H.arrived[1], H.arrived[0]);
	cr_assert_leq(H.arrived[1], after);
	pthread_mutex_unlock(&H.mu);
	h1client_close(&cl);
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
	h1client_open(&cl, port(false), false, "", 0);
	char head[128];
	snprintf(head, sizeof head, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
	         n);
	h1client_send_str(&cl, head);
	h1client_send(&cl, body, n);
	cr_assert(h1client_wait(&cl, 1));
	cr_assert_eq(cl.r[0].status, 200);
	cr_assert_eq(cl.r[0].len, n);
	cr_assert_eq(memcmp(cl.r[0].body, body, n), 0);
	cr_assert_str_eq(h1client_header(&cl.r[0], "content-type"), "application/octet-stream");
	pthread_mutex_lock(&H.mu);
	cr_assert_str_eq(H.last_method, "POST");
	cr_assert_eq(H.last_body_len, n);
	pthread_mutex_unlock(&H.mu);
	h1client_close(&cl);
	free(body);
}

Test(http1, chunked_body_reaches_handler_reassembled)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	                       "X-In: head\r\n\r\n"
	                       "5\r\nhello\r\n7\r\n, world\r\n0\r\nX-In: trailer\r\n\r\n");
	cr_assert(h1client_wait(&cl, 1));
	cr_assert_eq(cl.r[0].status, 200);
	cr_assert_str_eq(cl.r[0].body, "hello, world");
	cr_assert_str_eq(h1client_header(&cl.r[0], "x-in"), "head");
	cr_assert_str_eq(h1client_header(&cl.r[0], "x-n"), "3", "trailers are not headers");
	h1client_close(&cl);
}

/* A client writing one byte at a time: the strict checks wait for each
 * line's end (and the server reads what TCP gives it) and the requests,
 * a chunked one among them, come out whole and in order. */
Test(http1, requests_sent_a_byte_at_a_time_are_read_whole)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	const char *text = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	                   "3;a=b\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
	                   "GET /p/2 HTTP/1.1\r\nHost: x\r\n\r\n";
	for (const char *p = text; *p; p++) {
		h1client_send(&cl, p, 1);
		h1client_pump(&cl, 1);
	}
	cr_assert(h1client_wait(&cl, 2));
	cr_assert_eq(cl.r[0].status, 200);
	cr_assert_str_eq(cl.r[0].body, "abcde");
	cr_assert_str_eq(h1client_header(&cl.r[1], "x-path"), "/p/2");
	h1client_close(&cl);
}

Test(http1, empty_lines_before_a_request_line_are_ignored_a_few_times)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	/* RFC 9112 section 2.2: one after a body (some clients send it), and
	 * several before a request, also split over writes. */
	h1client_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab\r\n"
	                       "GET /p/2 HTTP/1.1\r\nHost: x\r\n\r\n\r\n\r\n\r");
	cr_assert(h1client_wait(&cl, 2));
	h1client_send_str(&cl, "\n\r\nGET /p/3 HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 3));
	cr_assert_str_eq(cl.r[0].body, "ab");
	cr_assert_str_eq(h1client_header(&cl.r[1], "x-path"), "/p/2");
	cr_assert_str_eq(h1client_header(&cl.r[2], "x-path"), "/p/3");
	cr_assert_not(cl.eof);
	h1client_close(&cl);

	/* Past a few, an empty line is a malformed request line. */
	h1client_open(&cl, port(false), false, "", 0);
	for (int i = 0; i < 9; i++)
		h1client_send_str(&cl, "\r\n");
	h1client_send_str(&cl, "GET /p/4 HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 1));
	h1client_assert_error(&cl.r[0], 400, "bad_request");
	cr_assert(h1client_wait_eof(&cl, WAIT_MS));
	h1client_close(&cl);
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
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHos");
	cr_assert(h1client_wait(&cl, 1));
	run_on_loop(drain_now);
	h1client_pump(&cl, 100);
	cr_assert_not(cl.eof, "closed with a request half received");
	h1client_send_str(&cl, "t: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 2));
	cr_assert_str_eq(h1client_header(&cl.r[1], "x-path"), "/two");
	cr_assert_str_eq(h1client_header(&cl.r[1], "connection"), "close");
	cr_assert(h1client_wait_eof(&cl, WAIT_MS));
	h1client_close(&cl);
}

Test(http1, keep_alive_serves_two_requests_on_one_connection)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 1));
	h1client_send_str(&cl, "GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 2));
	cr_assert_str_eq(h1client_header(&cl.r[0], "x-path"), "/one");
	cr_assert_str_eq(h1client_header(&cl.r[1], "x-path"), "/two");
	cr_assert_not(cl.eof);
	cr_assert_eq(atomic_load(&H.calls), 2);
	h1client_close(&cl);
}

Test(http1, pipelined_requests_are_answered_in_order)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\n"
	                       "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	                       "GET /p/3 HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 3));
	cr_assert_str_eq(h1client_header(&cl.r[0], "x-path"), "/p/1");
	cr_assert_str_eq(cl.r[1].body, "abc");
	cr_assert_str_eq(h1client_header(&cl.r[2], "x-path"), "/p/3");
	h1client_close(&cl);
}

Test(http1, large_answer_then_pipelined_request_arrive_intact)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	size_t n = 3 * 1024 * 1024; /* far over the server's output cap */
	char req[160];
	snprintf(req, sizeof req,
	         "GET /big/%zu HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\n\r\n",
	         n);
	h1client_send_str(&cl, req);
	cr_assert(h1client_wait(&cl, 2));
	cr_assert_eq(cl.r[0].len, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq((unsigned char)cl.r[0].body[i], (unsigned char)(i * 7 % 251));
	cr_assert_str_eq(h1client_header(&cl.r[1], "x-path"), "/small");
	h1client_close(&cl);
}

Test(http1, connection_close_is_honoured)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	/* The second request must never be served. */
	h1client_send_str(&cl, "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	                       "GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 1));
	cr_assert_str_eq(h1client_header(&cl.r[0], "connection"), "close");
	cr_assert(h1client_wait_eof(&cl, WAIT_MS));
	cr_assert_eq(cl.n, 1);
	cr_assert_eq(atomic_load(&H.calls), 1);
	h1client_close(&cl);
}

Test(http1, http10_closes_unless_keep_alive_is_asked)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	cr_assert(h1client_wait(&cl, 1));
	cr_assert_str_eq(h1client_header(&cl.r[0], "connection"), "keep-alive");
	h1client_send_str(&cl, "GET /b HTTP/1.0\r\n\r\n");
	cr_assert(h1client_wait(&cl, 2));
	cr_assert_str_eq(h1client_header(&cl.r[1], "x-path"), "/b");
	cr_assert_str_eq(h1client_header(&cl.r[1], "connection"), "close");
	cr_assert(h1client_wait_eof(&cl, WAIT_MS));
	h1client_close(&cl);
}

Test(http1, head_gets_the_length_but_no_body)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	cl.head[0] = true;
	h1client_send_str(&cl, "HEAD /big/100 HTTP/1.1\r\nHost: x\r\n\r\n"
	                       "GET /big/100 HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 2));
	cr_assert_str_eq(h1client_header(&cl.r[0], "content-length"), "100");
	cr_assert_eq(cl.r[0].len, 0);
	cr_assert_eq(cl.r[1].len, 100, "a body sent after HEAD would shift this answer");
	h1client_close(&cl);
}

Test(http1, expect_100_continue_is_answered_before_the_body)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
	                       "Expect: 100-continue\r\n\r\n");
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (cl.interim == 0 && clock_mono_ms() < end)
		h1client_pump(&cl, 20);
	cr_assert_eq(cl.interim, 1, "no 100 Continue");
	h1client_send_str(&cl, "like");
	cr_assert(h1client_wait(&cl, 1));
	cr_assert_str_eq(cl.r[0].body, "like");
	h1client_close(&cl);
}

Test(http1, absolute_form_target_reaches_handler_as_a_path)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl,
	                  "GET http://localhost:8081/abs?q=1 HTTP/1.1\r\nHost: localhost\r\n\r\n");
	cr_assert(h1client_wait(&cl, 1));
	cr_assert_str_eq(h1client_header(&cl.r[0], "x-path"), "/abs?q=1");
	h1client_close(&cl);
}

Test(http1, idle_connection_is_closed)
{
	http_config cfg = base_config();
	cfg.idle_timeout_ms = 200;
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 1));
	uint64_t t0 = clock_mono_ms();
	cr_assert(h1client_wait_eof(&cl, WAIT_MS));
	cr_assert_geq(clock_mono_ms() - t0, 150);
	h1client_close(&cl);
}

/* --- limits and malformed requests ----------------------------------------- */

Test(http1, declared_body_over_max_body_gets_413_and_close)
{
	http_config cfg = base_config();
	cfg.max_body = 1000;
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n");
	char body[1001];
	memset(body, 'a', sizeof body);
	h1client_send(&cl, body, sizeof body);
	cr_assert(h1client_wait(&cl, 1));
	h1client_assert_error(&cl.r[0], 413, "body_too_large");
	cr_assert(h1client_wait_eof(&cl, WAIT_MS));
	cr_assert_eq(atomic_load(&H.calls), 0);
	h1client_close(&cl);

	/* Exactly max_body is fine. */
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
	h1client_send(&cl, body, 1000);
	cr_assert(h1client_wait(&cl, 1));
	cr_assert_eq(cl.r[0].status, 200);
	cr_assert_eq(cl.r[0].len, 1000);
	h1client_close(&cl);
}

Test(http1, refused_client_may_finish_sending_without_a_reset)
{
	http_config cfg = base_config();
	cfg.max_body = 1000;
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
	cr_assert(h1client_wait_eof(&cl, WAIT_MS)); /* the 413, then the server's FIN */
	h1client_assert_error(&cl.r[0], 413, "body_too_large");
	/* The server keeps reading (and dropping) the rest of the body: a
	 * server that had closed outright would answer it with a reset. */
	char body[5000];
	memset(body, 'b', sizeof body);
	cr_assert_eq(send(cl.conn.fd, body, sizeof body, MSG_NOSIGNAL), (ssize_t)sizeof body);
	/* A reset shows as EPIPE on a later send; give it 300 ms to come. */
	uint64_t end = clock_mono_ms() + 300;
	while (clock_mono_ms() < end) {
		cr_assert_eq(send(cl.conn.fd, "b", 1, MSG_NOSIGNAL), 1, "send: %s",
		             strerror(errno));
		struct timespec ts = {0, 20 * 1000000};
		nanosleep(&ts, NULL);
	}
	h1client_close(&cl);
}

Test(http1, chunked_body_over_max_body_gets_413_and_close)
{
	http_config cfg = base_config();
	cfg.max_body = 10;
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl,
	                  "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	                  "6\r\n123456\r\n6\r\n789012\r\n0\r\n\r\n");
	cr_assert(h1client_wait(&cl, 1));
	h1client_assert_error(&cl.r[0], 413, "body_too_large");
	cr_assert(h1client_wait_eof(&cl, WAIT_MS));
	cr_assert_eq(atomic_load(&H.calls), 0);
	h1client_close(&cl);
}

Test(http1, headers_over_cap_get_431_and_close)
{
	http_config cfg = base_config();
	cfg.max_header_list = 1024;
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	char req[2200];
	char big[1500];
	memset(big, 'v', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(req, sizeof req, "GET /x HTTP/1.1\r\nHost: x\r\nX-In: %s\r\n\r\n", big);
	h1client_send_str(&cl, req);
	cr_assert(h1client_wait(&cl, 1));
	h1client_assert_error(&cl.r[0], 431, "headers_too_large");
	cr_assert(h1client_wait_eof(&cl, WAIT_MS));
	cr_assert_eq(atomic_load(&H.calls), 0);
	h1client_close(&cl);
}

Test(http1, malformed_request_gets_400_json_and_close)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
	                       "GET /bad HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n");
	cr_assert(h1client_wait(&cl, 2));
	cr_assert_eq(cl.r[0].status, 200, "the good request before it is still answered");
	h1client_assert_error(&cl.r[1], 400, "bad_request");
	cr_assert(h1client_wait_eof(&cl, WAIT_MS));
	cr_assert_eq(atomic_load(&H.calls), 1);
	h1client_close(&cl);
}

Test(http1, request_for_another_http_version_gets_505)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "GET / HTTP/3.0\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 1));
	h1client_assert_error(&cl.r[0], 505, "version_not_supported"); /* RFC 9110 15.6.6 */
	cr_assert_not_null(strstr(cl.r[0].body, "HTTP/1.0 and HTTP/1.1"));
	h1client_close(&cl);
}
