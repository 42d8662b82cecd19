/* test_http_both.c - the edge HTTP server's HTTP/1.1 and HTTP/2 side by
 * side: the choice between them on one port (the HTTP/2 preface or an
 * HTTP/1.1 request line, then HTTP/2's stream ids on that port), over TLS
 * by ALPN, and deferred answers (http_defer, http_finish) over both,
 * including a finish after the client, the stream or the server went;
 * last two helpers of edge/http/http.h that need no server (status reasons,
 * http_finish of NULL). HTTP/1.1 on its own, framing, limits and
 * malformed requests, is test_http1.c's.
 *
 * Each test starts a server on 127.0.0.1 port 0 whose loop runs in a
 * pthread (tests/support/http_server_util.h); the test thread is the
 * client over blocking sockets, plain or OpenSSL: tests/support/h1client.h
 * for HTTP/1.1, tests/support/h2client.h or raw frames for HTTP/2.
 * Deferred answers are finished by timers on the server's loop.
 */
#include <criterion/criterion.h>

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "edge/http/http.h"
#include "clock.h"
#include "tests/support/h1client.h"
#include "tests/support/h2client.h"
#include "tests/support/http_server_util.h"
#include "xmem.h"

TestSuite(http_both, .init = suite_init, .fini = suite_fini, .timeout = 30);

/* --- one port, two protocols ----------------------------------------------- */

Test(http_both, h1_and_h2c_share_the_port_and_answer_alike)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client one;
	h1client_open(&one, port(false), false, "", 0);
	h1client_send_str(
	    &one, "POST /same HTTP/1.1\r\nHost: x\r\nX-In: v\r\nContent-Length: 2\r\n\r\nhi");
	cr_assert(h1client_wait(&one, 1));

	h2client two;
	cr_assert(h2client_open(&two, port(false), false, "", 0));
	h2client_stream *cs = h2client_request(&two, "POST", "/same", "hi", 2, "x-in", "v");
	cr_assert(h2client_run(&two));

	h1client_resp *r = &one.r[0];
	cr_assert_eq(cs->status, r->status);
	cr_assert_eq(cs->len, r->len);
	cr_assert_str_eq(cs->body, r->body);
	const char *same[] = {"content-type", "content-length", "x-path", "x-in", "x-tls"};
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
		cr_assert_str_eq(h2client_header(cs, same[i]), h1client_header(r, same[i]), "%s",
		                 same[i]);
	cr_assert_str_eq(h2client_header(cs, "x-h1"), "0");
	cr_assert_str_eq(h1client_header(r, "x-h1"), "1");
	h2client_close(&two);
	h1client_close(&one);
}

Test(http_both, a_wrong_preface_after_its_request_line_is_an_http2_error)
{
	http_config cfg = base_config();
	start_server(&cfg);
	int fd = tconn_tcp_connect(port(false));
	cr_assert(fd >= 0);
	/* The server waits while the bytes could still be the preface. */
	cr_assert_eq(send(fd, "PRI * HTTP/2.0\r\n", 16, MSG_NOSIGNAL), 16);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	cr_assert_eq(poll(&pfd, 1, 200), 0, "the server answered half a preface");
	/* Only HTTP/2 starts so: the rest going wrong is a connection error
	 * of type PROTOCOL_ERROR (RFC 9113 3.4), not an HTTP/1.1 answer. */
	cr_assert_eq(send(fd, "\r\nSX\r\n\r\n", 8, MSG_NOSIGNAL), 8);
	cr_assert_eq(h2client_read_goaway(&(tconn){.fd = fd}, WAIT_MS), 1,
	             "GOAWAY(PROTOCOL_ERROR)");
	close(fd);

	/* A byte off before the request line ends: HTTP/1.1, which does not
	 * know the method. */
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "PRX / HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 1));
	h1client_assert_error(&cl.r[0], 501, "not_implemented");
	h1client_close(&cl);
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "PRI * HTTP/2.1\r\n\r\n");
	cr_assert(h1client_wait(&cl, 1));
	h1client_assert_error(&cl.r[0], 505, "version_not_supported");
	h1client_close(&cl);
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

Test(http_both, a_headers_frame_on_a_lower_stream_id_is_a_connection_error)
{
	http_config cfg = base_config();
	start_server(&cfg);
	int fd = tconn_tcp_connect(port(false));
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
	cr_assert_eq(h2client_read_goaway(&(tconn){.fd = fd}, WAIT_MS), 1,
	             "GOAWAY(PROTOCOL_ERROR)");
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

Test(http_both, headers_on_a_refused_stream_id_are_not_a_connection_error)
{
	http_config cfg = base_config();
	cfg.max_streams = 1;
	start_server(&cfg);
	int fd = tconn_tcp_connect(port(false));
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
	while (!h2_frame_seen(buf, len, 1, 9) && h2client_goaway_code(buf, len) < 0 &&
	       clock_mono_ms() < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 20) == 1) {
			ssize_t k = recv(fd, buf + len, sizeof buf - len, 0);
			if (k <= 0)
				break;
			len += (size_t)k;
		}
	}
	cr_assert_eq(h2client_goaway_code(buf, len), -1, "GOAWAY(%ld)",
	             h2client_goaway_code(buf, len));
	cr_assert(h2_frame_seen(buf, len, 1, 9), "stream 9 was answered");
	close(fd);
}

Test(http_both, preface_split_over_two_writes_is_http2)
{
	http_config cfg = base_config();
	start_server(&cfg);
	int fd = tconn_tcp_connect(port(false));
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
	cr_assert(h1client_open(&cl, port(true), true, alpn, alpn_len));
	char sel[32];
	cr_assert_str_eq(tconn_alpn(&cl.conn, sel, sizeof sel), alpn_len ? "http/1.1" : "");
	h1client_send_str(&cl, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nlike"
	                       "GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 2));
	cr_assert_str_eq(cl.r[0].body, "like");
	cr_assert_str_eq(h1client_header(&cl.r[0], "x-tls"), "1");
	cr_assert_str_eq(h1client_header(&cl.r[1], "x-h1"), "1");
	pthread_mutex_lock(&H.mu);
	cr_assert(H.last_tls);
	cr_assert(H.last_h1);
	pthread_mutex_unlock(&H.mu);
	h1client_close(&cl);
}

Test(http_both, tls_with_alpn_http11_speaks_http1)
{
	tls_h1_get("\x08http/1.1", 9);
}

Test(http_both, tls_without_alpn_speaks_http1)
{
	tls_h1_get("", 0);
}

Test(http_both, tls_client_offering_both_gets_h2)
{
	start_tls_server();
	h2client cl;
	cr_assert(h2client_open(&cl, port(true), true, "\x08http/1.1\x02h2", 12));
	char sel[32];
	cr_assert_str_eq(tconn_alpn(&cl.conn, sel, sizeof sel), "h2");
	h2client_stream *cs = h2client_request(&cl, "GET", "/x", NULL, 0, NULL, NULL);
	cr_assert(h2client_run(&cl));
	cr_assert_eq(cs->status, 200);
	cr_assert_str_eq(h2client_header(cs, "x-h1"), "0");
	h2client_close(&cl);
}

/* --- deferred answers ------------------------------------------------------ */

Test(http_both, deferred_answer_over_h2_does_not_hold_up_other_streams)
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

Test(http_both, deferred_answer_over_h1_holds_the_next_pipelined_request)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "GET /defer/200 HTTP/1.1\r\nHost: x\r\n\r\n"
	                       "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&cl, 2));
	cr_assert_eq(cl.r[0].status, 202);
	cr_assert_str_eq(cl.r[0].body, "{\"deferred\":\"/defer/200\"}");
	cr_assert_str_eq(h1client_header(&cl.r[0], "x-deferred"), "1");
	cr_assert_str_eq(h1client_header(&cl.r[1], "x-path"), "/after");
	cr_assert_lt(atomic_load(&H.finish_seq), atomic_load(&H.after_seq),
	             "the pipelined request ran before the deferred answer was finished");
	cr_assert_eq(atomic_load(&H.alive_at_finish), 1);
	h1client_close(&cl);
}

Test(http_both, deferred_answer_finished_inside_the_handler_goes_out)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client one;
	h1client_open(&one, port(false), false, "", 0);
	h1client_send_str(
	    &one, "GET /now HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&one, 2));
	cr_assert_eq(one.r[0].status, 200);
	cr_assert_str_eq(one.r[0].body, "{\"now\":true}");
	cr_assert_str_eq(h1client_header(&one.r[1], "x-path"), "/next");
	h1client_close(&one);

	h2client two;
	cr_assert(h2client_open(&two, port(false), false, "", 0));
	h2client_stream *cs = h2client_request(&two, "GET", "/now", NULL, 0, NULL, NULL);
	cr_assert(h2client_run(&two));
	cr_assert_eq(cs->status, 200);
	cr_assert_str_eq(cs->body, "{\"now\":true}");
	h2client_close(&two);
}

/* A client that shuts its sending side after its requests (a half-close)
 * still gets a kept deferred answer (a write's outcome) and the one
 * pipelined behind it, and then the server closes. */
Test(http_both, kept_deferred_answer_over_h1_reaches_a_client_that_shut_its_sending_side)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "GET /keep/200 HTTP/1.1\r\nHost: x\r\n\r\n"
	                       "GET /after HTTP/1.1\r\nHost: x\r\n\r\n");
	tconn_close_write(&cl.conn);
	cr_assert(h1client_wait(&cl, 2));
	cr_assert_eq(cl.r[0].status, 202);
	cr_assert_str_eq(h1client_header(&cl.r[1], "x-path"), "/after");
	cr_assert_eq(atomic_load(&H.alive_at_finish), 1);
	h1client_close(&cl);
}

Test(http_both, deferred_finish_after_h1_client_left_is_dropped)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "GET /defer/300 HTTP/1.1\r\nHost: x\r\n\r\n");
	int one = 1;
	cr_assert(wait_until(calls_reach, &one, WAIT_MS));
	h1client_close(&cl);
	cr_assert(wait_until(finished_reach, &one, WAIT_MS));
	cr_assert_eq(atomic_load(&H.alive_at_finish), 0);
}

/* A client that closed both ways cannot be told from one that shut only
 * its sending side: its kept answer is finished and written, the write
 * fails, and the connection goes; the server serves on. */
Test(http_both, kept_finish_after_h1_client_left_is_written_to_nobody)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client cl;
	h1client_open(&cl, port(false), false, "", 0);
	h1client_send_str(&cl, "GET /keep/300 HTTP/1.1\r\nHost: x\r\n\r\n");
	int one = 1;
	cr_assert(wait_until(calls_reach, &one, WAIT_MS));
	h1client_close(&cl);
	cr_assert(wait_until(finished_reach, &one, WAIT_MS));
	h1client next;
	h1client_open(&next, port(false), false, "", 0);
	h1client_send_str(&next, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
	cr_assert(h1client_wait(&next, 1));
	cr_assert_str_eq(h1client_header(&next.r[0], "x-path"), "/next");
	h1client_close(&next);
}

Test(http_both, deferred_finish_after_h2_client_left_is_dropped)
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

Test(http_both, deferred_finish_after_h2_stream_reset_is_dropped)
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

Test(http_both, deferred_outlives_a_freed_server)
{
	http_config cfg = base_config();
	start_server(&cfg);
	h1client one;
	h1client_open(&one, port(false), false, "", 0);
	h1client_send_str(&one, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
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
	cr_assert(h1client_wait_eof(&one, WAIT_MS));
	cr_assert_eq(one.n, 0);
	h1client_close(&one);
	h2client_close(&two);
}

/* --- helpers --------------------------------------------------------------- */

Test(http_both, status_reason_names_common_codes)
{
	cr_assert_str_eq(http_status_reason(200), "OK");
	cr_assert_str_eq(http_status_reason(404), "Not Found");
	cr_assert_str_eq(http_status_reason(429), "Too Many Requests");
	cr_assert_str_eq(http_status_reason(503), "Service Unavailable");
	cr_assert_str_eq(http_status_reason(299), "Unknown");
}

Test(http_both, finish_of_null_frees_the_body)
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
