/* test_http_guard.c - the HTTP server's defences against hostile
 * clients: connections per address, slow requests (slowloris) on both
 * protocols and before the protocol is known, the HTTP/2 stream cap and
 * the rapid-reset cut-off. Each checks that the refusal is counted and
 * that a well-behaved client on another connection is still served.
 *
 * The server runs on 127.0.0.1 port 0 with its loop in a pthread
 * (tests/support/http_server_util.h); the test thread is the client.
 */
#include <criterion/criterion.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "edge/auth/guard.h"
#include "edge/http/http.h"
#include "clock.h"
#include "tests/support/h2client.h"
#include "tests/support/http_server_util.h"

static guard *G;

static void init(void)
{
	suite_init();
	G = NULL;
}

static void fini(void)
{
	suite_fini(); /* stops the server before its guard goes */
	guard_free(G);
}

TestSuite(http_guard, .init = init, .fini = fini, .timeout = 30);

static http_config guarded(unsigned conns_per_addr)
{
	guard_config gc = {.conns_per_addr = conns_per_addr, .users = 512, .addrs = 512};
	G = guard_new(&gc);
	http_config cfg = base_config();
	cfg.admission = guard_http_admission(G);
	return cfg;
}

/* One GET on a fresh connection answers 200. */
static void served(void)
{
	h2client cl;
	cr_assert(h2client_open(&cl, port(false), false, "", 0));
	h2client_stream *s = h2client_request(&cl, "GET", "/ok", NULL, 0, NULL, NULL);
	cr_assert(h2client_run(&cl), "a well-behaved client was not served");
	cr_assert_eq(s->status, 200);
	h2client_close(&cl);
}

/* Everything the server sends on fd until it closes (or ms pass). */
static size_t read_to_eof(int fd, char *buf, size_t cap, int ms, bool *eof)
{
	uint64_t end = clock_mono_ms() + (uint64_t)ms;
	size_t got = 0;
	*eof = false;
	while (clock_mono_ms() < end) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
		if (n <= 0) {
			*eof = true;
			break;
		}
		got += (size_t)n;
		if (got == cap - 1)
			break;
	}
	buf[got] = 0;
	return got;
}

static unsigned conns_of_loopback(void)
{
	uint8_t ip[GUARD_IP_LEN] = {[10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1};
	return guard_conns(G, ip);
}

static bool conns_drop_to(void *arg)
{
	return conns_of_loopback() == *(unsigned *)arg;
}

Test(http_guard, connections_over_the_per_address_cap_are_closed_at_once)
{
	http_config cfg = guarded(3);
	start_server(&cfg);
	h2client cl[3];
	for (int i = 0; i < 3; i++) {
		cr_assert(h2client_open(&cl[i], port(false), false, "", 0));
		h2client_request(&cl[i], "GET", "/x", NULL, 0, NULL, NULL);
		cr_assert(h2client_run(&cl[i]));
	}
	int fd = tconn_tcp_connect(port(false));
	cr_assert_geq(fd, 0);
	cr_assert(tconn_eof_seen(fd, WAIT_MS), "the fourth connection stayed open");
	close(fd);
	cr_assert_eq(guard_refusals(G, GUARD_CONNS), 1);
	/* The three still work, and closing one makes room. */
	h2client_request(&cl[0], "GET", "/y", NULL, 0, NULL, NULL);
	cr_assert(h2client_run(&cl[0]));
	h2client_close(&cl[2]);
	unsigned two = 2;
	cr_assert(wait_until(conns_drop_to, &two, WAIT_MS), "conns=%u", conns_of_loopback());
	h2client c4;
	cr_assert(h2client_open(&c4, port(false), false, "", 0));
	h2client_request(&c4, "GET", "/z", NULL, 0, NULL, NULL);
	cr_assert(h2client_run(&c4));
	h2client_close(&c4);
	h2client_close(&cl[0]);
	h2client_close(&cl[1]);
}

Test(http_guard, a_slow_http1_request_gets_408_and_the_connection_closes)
{
	http_config cfg = guarded(0);
	cfg.request_timeout_ms = 300;
	start_server(&cfg);
	int fd = tconn_tcp_connect(port(false));
	cr_assert_geq(fd, 0);
	const char *part = "GET /slow HTTP/1.1\r\nhost: a\r\nx-a: 1\r\n";
	cr_assert_eq(send(fd, part, strlen(part), 0), (ssize_t)strlen(part));
	/* Trickling bytes does not help: the request as a whole is timed. */
	uint64_t t0 = clock_mono_ms();
	for (int i = 0; i < 3; i++) {
		usleep(100 * 1000);
		if (send(fd, "x-b: 2\r\n", 8, MSG_NOSIGNAL) != 8)
			break;
	}
	served(); /* meanwhile others are served */
	char buf[2048];
	bool eof;
	read_to_eof(fd, buf, sizeof buf, WAIT_MS, &eof);
	close(fd);
	cr_assert(eof);
	cr_assert(strncmp(buf, "HTTP/1.1 408 ", 13) == 0, "got: %s", buf);
	cr_assert(strstr(buf, "\"code\":\"request_timeout\""), "got: %s", buf);
	cr_assert_geq(clock_mono_ms() - t0, 200);
	cr_assert_eq(guard_refusals(G, GUARD_SLOW), 1);
	cr_assert_eq(atomic_load(&H.calls), 1, "the handler saw only the good request");
}

Test(http_guard, a_slow_second_request_on_a_kept_connection_gets_408)
{
	http_config cfg = guarded(0);
	cfg.request_timeout_ms = 300;
	start_server(&cfg);
	int fd = tconn_tcp_connect(port(false));
	cr_assert_geq(fd, 0);
	const char *first = "GET /first HTTP/1.1\r\nhost: a\r\n\r\n";
	cr_assert_eq(send(fd, first, strlen(first), 0), (ssize_t)strlen(first));
	/* Idle between requests is not a slow request (idle_timeout is). */
	usleep(400 * 1000);
	const char *part = "GET /slow HTTP/1.1\r\nhost: a\r\n";
	cr_assert_eq(send(fd, part, strlen(part), 0), (ssize_t)strlen(part));
	uint64_t t0 = clock_mono_ms();
	char buf[4096];
	bool eof;
	read_to_eof(fd, buf, sizeof buf, WAIT_MS, &eof);
	close(fd);
	cr_assert(eof, "the half-sent request was never timed out");
	cr_assert(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "got: %s", buf);
	const char *second = strstr(buf + 13, "HTTP/1.1 ");
	cr_assert_not_null(second, "got: %s", buf);
	cr_assert(strncmp(second, "HTTP/1.1 408 ", 13) == 0, "got: %s", second);
	cr_assert_geq(clock_mono_ms() - t0, 200);
	cr_assert_eq(guard_refusals(G, GUARD_SLOW), 1);
}

Test(http_guard, a_connection_that_never_finishes_its_preface_is_closed)
{
	http_config cfg = guarded(0);
	cfg.request_timeout_ms = 300;
	start_server(&cfg);
	int fd = tconn_tcp_connect(port(false));
	cr_assert_geq(fd, 0);
	cr_assert_eq(send(fd, "PRI * HTTP/2.0\r\n", 16, 0), 16);
	cr_assert(tconn_eof_seen(fd, WAIT_MS));
	close(fd);
	cr_assert_eq(guard_refusals(G, GUARD_SLOW), 1);
}

/* Never ends the body: the request stays incomplete. */
static ssize_t never_ending(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *user)
{
	(void)s, (void)id, (void)buf, (void)length, (void)flags, (void)src, (void)user;
	return NGHTTP2_ERR_DEFERRED;
}

/* Opens a POST stream whose body never comes; its state in cl->st. */
static h2client_stream *open_held(h2client *cl, const char *path)
{
	cr_assert_lt(cl->n, H2CLIENT_MAX_STREAMS);
	h2client_stream *cs = &cl->st[cl->n];
	memset(cs, 0, sizeof *cs);
	nghttp2_nv nv[H2CLIENT_NV_MAX];
	size_t nnv = h2client_headers(cl, nv, "POST", path, NULL, NULL);
	nghttp2_data_provider prd = {.read_callback = never_ending};
	int32_t id = nghttp2_submit_request(cl->sess, NULL, nv, nnv, &prd, NULL);
	cr_assert_gt(id, 0);
	cs->id = id;
	cl->n++;
	return cs;
}

Test(http_guard, a_slow_http2_stream_gets_408_and_the_connection_carries_on)
{
	http_config cfg = guarded(0);
	cfg.request_timeout_ms = 300;
	start_server(&cfg);
	h2client cl;
	cr_assert(h2client_open(&cl, port(false), false, "", 0));
	h2client_stream *slow = open_held(&cl, "/slow");
	uint64_t t0 = clock_mono_ms();
	cr_assert(h2client_run(&cl));
	cr_assert_eq(slow->status, 408);
	cr_assert(strstr(slow->body, "\"code\":\"request_timeout\""));
	cr_assert_geq(clock_mono_ms() - t0, 200);
	cr_assert_eq(guard_refusals(G, GUARD_SLOW), 1);
	h2client_stream *ok = h2client_request(&cl, "GET", "/after", NULL, 0, NULL, NULL);
	cr_assert(h2client_run(&cl));
	cr_assert_eq(ok->status, 200);
	h2client_close(&cl);
}

Test(http_guard, streams_over_the_concurrent_cap_are_refused_and_counted)
{
	http_config cfg = guarded(0);
	cfg.max_streams = 4;
	start_server(&cfg);
	h2client cl;
	cr_assert(h2client_open(&cl, port(false), false, "", 0));
	/* Sent before the client learns the cap from the server's SETTINGS. */
	for (int i = 0; i < 4; i++)
		open_held(&cl, "/held");
	h2client_stream *over = open_held(&cl, "/over");
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (!over->closed && !cl.eof && clock_mono_ms() < end)
		h2client_pump(&cl, 20);
	cr_assert(over->closed, "the fifth stream was not refused");
	cr_assert(over->code == NGHTTP2_REFUSED_STREAM || over->code == NGHTTP2_PROTOCOL_ERROR,
	          "code %u", over->code);
	cr_assert_eq(over->status, 0, "the handler answered a stream over the cap");
	cr_assert_eq(guard_refusals(G, GUARD_STREAMS), 1);
	for (int i = 0; i < 4; i++)
		cr_assert_not(cl.st[i].closed, "a stream within the cap was closed");
	h2client_close(&cl);
	served();
}

/* Opens a GET stream and cancels it at once, as the rapid-reset attack
 * does; false once the server closed the connection. */
static bool open_and_cancel(h2client *cl)
{
	nghttp2_nv nv[H2CLIENT_NV_MAX];
	size_t nnv = h2client_headers(cl, nv, "GET", "/x", NULL, NULL);
	int32_t id = nghttp2_submit_request(cl->sess, NULL, nv, nnv, NULL, NULL);
	if (id <= 0)
		return false; /* the session got GOAWAY: no new streams */
	h2client_send(cl);
	if (nghttp2_submit_rst_stream(cl->sess, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL) != 0)
		return false;
	h2client_pump(cl, 0);
	return !cl->eof;
}

Test(http_guard, a_rapid_reset_client_is_cut_off_while_others_are_served)
{
	http_config cfg = guarded(0);
	cfg.reset_burst = 20;
	cfg.reset_rate = 1;
	start_server(&cfg);
	h2client good;
	cr_assert(h2client_open(&good, port(false), false, "", 0));
	h2client bad;
	cr_assert(h2client_open(&bad, port(false), false, "", 0));
	uint64_t end = clock_mono_ms() + WAIT_MS;
	while (!bad.goaway && clock_mono_ms() < end && open_and_cancel(&bad))
		;
	cr_assert(h2client_wait_eof(&bad, WAIT_MS), "the attacker was not disconnected");
	cr_assert(bad.goaway);
	cr_assert_eq(bad.goaway_code, NGHTTP2_ENHANCE_YOUR_CALM);
	cr_assert_eq(guard_refusals(G, GUARD_RESETS), 1);
	h2client_close(&bad);
	/* The client on the other connection never noticed. */
	h2client_stream *s = h2client_request(&good, "GET", "/still", NULL, 0, NULL, NULL);
	cr_assert(h2client_run(&good));
	cr_assert_eq(s->status, 200);
	h2client_close(&good);
}

Test(http_guard, a_client_that_cancels_now_and_then_is_not_cut_off)
{
	http_config cfg = guarded(0);
	cfg.reset_burst = 20;
	cfg.reset_rate = 1;
	start_server(&cfg);
	h2client cl;
	cr_assert(h2client_open(&cl, port(false), false, "", 0));
	for (int i = 0; i < 15; i++)
		cr_assert(open_and_cancel(&cl));
	h2client_stream *s = h2client_request(&cl, "GET", "/fine", NULL, 0, NULL, NULL);
	cr_assert(h2client_run(&cl));
	cr_assert_eq(s->status, 200);
	cr_assert_not(cl.goaway);
	cr_assert_eq(guard_refusals(G, GUARD_RESETS), 0);
	h2client_close(&cl);
}
