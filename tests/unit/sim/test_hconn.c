/* test_hconn.c - the load's HTTP/1.1 client connection (sim/drill/hconn.c)
 * against a scripted server on loopback: keep-alive and one request on
 * the wire at a time, answers split across reads, a server that closes,
 * cancels, oversized and surplus answers, and a port nobody listens on.
 *
 * The server takes each connection on a thread of its own and answers
 * the n-th request it reads (over all connections) as script[n] says.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "sim/drill/hconn.h"
#include "sim/drill/netns.h"
#include "tests/support/fakesrv.h"

typedef enum act {
	A_OK,        /* 200, a small body, keep-alive */
	A_REPLAYED,  /* 201 with Idempotent-Replayed: true */
	A_SPLIT,     /* 200 written in three pieces, 5 ms apart */
	A_CLOSE,     /* 200 with Connection: close, then the socket closes */
	A_CUT,       /* half an answer, then the socket closes */
	A_BIG,       /* a body past the client's limit */
	A_TWO,       /* two answers to one request */
	A_HOLD,      /* no answer until the client goes */
	A_SLOW_PEEK, /* waits 30 ms, notes whether more bytes came, then A_OK */
	A_NO_LENGTH, /* 200 without Content-Length: the body ends at the close */
	A_INTERIM,   /* 100 Continue, then 200 */
	A_GARBAGE,   /* not HTTP */
} act;

#define SCRIPT_MAX 32
#define CONNS_MAX 8
#define BODY_MAX 4096

static struct {
	int lfd, port;
	act script[SCRIPT_MAX];
	atomic_int requests, conns;
	atomic_bool pipelined, stop;
	pthread_t acceptor, conn[CONNS_MAX];
	int fds[CONNS_MAX];
} S;

static void nap_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

static void put(int fd, const char *s)
{
	size_t len = strlen(s);
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

/* Reads one request (headers, then Content-Length bytes of body); false
 * at the client's close. */
static bool read_request(int fd, char *buf, size_t cap, size_t *have)
{
	for (;;) {
		buf[*have] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (end) {
			size_t head = (size_t)(end + 4 - buf), body = 0;
			const char *cl = strstr(buf, "Content-Length: ");
			if (cl && cl < end)
				body = strtoul(cl + 16, NULL, 10);
			if (*have >= head + body) {
				memmove(buf, buf + head + body, *have - head - body);
				*have -= head + body;
				return true;
			}
		}
		if (*have + 1 >= cap)
			return false;
		ssize_t n = recv(fd, buf + *have, cap - 1 - *have, 0);
		if (n <= 0)
			return false;
		*have += (size_t)n;
	}
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8192];
	size_t have = 0;
	while (!atomic_load(&S.stop) && read_request(fd, buf, sizeof buf, &have)) {
		int k = atomic_fetch_add(&S.requests, 1);
		act a = k < SCRIPT_MAX ? S.script[k] : A_OK;
		char big[256];
		switch (a) {
		case A_OK: put(fd, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}"); break;
		case A_REPLAYED:
			put(fd, "HTTP/1.1 201 Created\r\nIdempotent-Replayed: true\r\n"
			        "Content-Length: 2\r\n\r\n{}");
			break;
		case A_SPLIT:
			put(fd, "HTTP/1.1 200 OK\r\nContent-Le");
			nap_ms(5);
			put(fd, "ngth: 9\r\n\r\n{\"sp");
			nap_ms(5);
			put(fd, "lit\"}");
			break;
		case A_CLOSE:
			put(fd,
			    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
			shutdown(fd, SHUT_RDWR);
			return NULL;
		case A_CUT:
			put(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
			shutdown(fd, SHUT_RDWR);
			return NULL;
		case A_BIG:
			snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n",
			         BODY_MAX * 2);
			put(fd, big);
			for (int i = 0; i < BODY_MAX * 2 / 64; i++)
				put(fd, "0123456789012345678901234567890123456789012345678901234567"
				        "890123");
			break;
		case A_TWO:
			put(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
			        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB");
			break;
		case A_HOLD:
			while (recv(fd, buf, sizeof buf, 0) > 0)
				;
			return NULL;
		case A_SLOW_PEEK:
			nap_ms(30);
			if (have > 0 || recv(fd, buf, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
				atomic_store(&S.pipelined, true);
			put(fd, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
			break;
		case A_NO_LENGTH:
			put(fd, "HTTP/1.1 200 OK\r\n\r\nto the end");
			shutdown(fd, SHUT_RDWR);
			return NULL;
		case A_INTERIM:
			put(fd, "HTTP/1.1 100 Continue\r\n\r\n"
			        "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":2}");
			break;
		case A_GARBAGE: put(fd, "SMTP ready\r\n\r\n"); break;
		}
	}
	return NULL;
}

static void *accept_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(S.lfd, NULL, NULL);
		if (fd < 0 || atomic_load(&S.stop)) {
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		int k = atomic_fetch_add(&S.conns, 1);
		cr_assert_lt(k, CONNS_MAX);
		S.fds[k] = fd;
		cr_assert_eq(pthread_create(&S.conn[k], NULL, serve, (void *)(intptr_t)fd), 0);
	}
}

static struct event_base *B;

/* Holds receive timestamps on for the test's process. The kernel turns
 * them on for everyone only after the first socket asks, from a work
 * item that runs when it gets a CPU (net_enable_timestamp): on a busy
 * machine a test's first answers came without one (at_us 0). A UDP
 * socket on loopback that asks for them, kept open, and datagrams to
 * itself until one comes stamped (2 s at most). */
static int stamp_fd = -1;

static void timestamps_on(void)
{
	stamp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(stamp_fd, 0);
	int ts = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	cr_assert_eq(setsockopt(stamp_fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof ts), 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	cr_assert_eq(bind(stamp_fd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(getsockname(stamp_fd, (struct sockaddr *)&a, &al), 0);
	uint64_t end = clock_mono_ms() + 2000;
	while (clock_mono_ms() < end) {
		cr_assert_eq(sendto(stamp_fd, "t", 1, 0, (struct sockaddr *)&a, sizeof a), 1);
		char b[8];
		union {
			char c[CMSG_SPACE(sizeof(struct scm_timestamping))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = {.iov_base = b, .iov_len = sizeof b};
		struct msghdr m = {.msg_iov = &iov,
		                   .msg_iovlen = 1,
		                   .msg_control = ctl.c,
		                   .msg_controllen = sizeof ctl.c};
		cr_assert_eq(recvmsg(stamp_fd, &m, 0), 1);
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
			struct scm_timestamping st;
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPING)
				continue;
			memcpy(&st, CMSG_DATA(cm), sizeof st);
			if (st.ts[0].tv_sec || st.ts[0].tv_nsec)
				return;
		}
		nap_ms(5);
	}
	cr_assert_fail("loopback datagrams never came with a receive timestamp");
}

static void setup(void)
{
	memset(&S, 0, sizeof S);
	timestamps_on();
	S.lfd = fakesrv_loopback(true, &S.port);
	cr_assert_eq(pthread_create(&S.acceptor, NULL, accept_main, NULL), 0);
	B = event_base_new();
	cr_assert_not_null(B);
}

static void teardown(void)
{
	atomic_store(&S.stop, true);
	shutdown(S.lfd, SHUT_RDWR);
	pthread_join(S.acceptor, NULL);
	close(S.lfd);
	int n = atomic_load(&S.conns);
	for (int i = 0; i < n; i++) {
		shutdown(S.fds[i], SHUT_RDWR);
		pthread_join(S.conn[i], NULL);
		close(S.fds[i]);
	}
	event_base_free(B);
	close(stamp_fd);
}

TestSuite(hconn, .init = setup, .fini = teardown, .timeout = 20);

/* --- the client's side ----------------------------------------------------------- */

typedef struct got {
	int calls, status;
	char body[BODY_MAX];
	bool replayed;
	uint64_t at_us, called_us; /* the answer's arrival; the callback's time */
	int order;                 /* when it was answered among the test's requests */
} got;

static int answered_so_far;

static void on_answer(const hanswer *a, void *arg)
{
	got *g = arg;
	g->calls++;
	g->status = a->status;
	g->replayed = a->replayed;
	g->at_us = a->at_us;
	g->called_us = clock_mono_us();
	size_t n = a->body_len < BODY_MAX - 1 ? a->body_len : BODY_MAX - 1;
	memcpy(g->body, a->body, n);
	g->body[n] = '\0';
	g->order = ++answered_so_far;
}

static const char REQ[] = "POST /v1/x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}";

static hreq *send_req(hconn *c, got *g)
{
	return hconn_send(c, REQ, sizeof REQ - 1, on_answer, g);
}

/* Runs the loop until every g in gs has its answer, or 5 s. */
static void wait_answers(got **gs, int n)
{
	uint64_t deadline = clock_mono_ms() + 5000;
	for (;;) {
		int done = 0;
		for (int i = 0; i < n; i++)
			done += gs[i]->calls > 0;
		if (done == n)
			return;
		cr_assert_lt(clock_mono_ms(), deadline, "%d of %d answered", done, n);
		event_base_loop(B, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		nap_ms(1);
	}
}

/* Sends n requests on c, answered into g[0..n-1], and waits for them all. */
static void ask_all(hconn *c, got *g, int n)
{
	got *gs[8];
	cr_assert_leq(n, 8);
	for (int i = 0; i < n; i++) {
		cr_assert_not_null(send_req(c, &g[i]));
		gs[i] = &g[i];
	}
	wait_answers(gs, n);
}

static void run_ms(long ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)ms;
	while (clock_mono_ms() < end) {
		event_base_loop(B, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		nap_ms(1);
	}
}

/* --- tests ------------------------------------------------------------------------ */

Test(hconn, keeps_one_connection_and_answers_each_request_in_order)
{
	S.script[1] = A_REPLAYED;
	S.script[2] = A_SPLIT;
	S.script[3] = A_INTERIM;
	hconn *c = hconn_new(B, (uint16_t)S.port, BODY_MAX, 1024);
	got g[4] = {0};
	uint64_t sent_us = clock_mono_us();
	ask_all(c, g, 4);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(g[i].calls, 1);
		cr_assert_eq(g[i].order, i + 1, "answers come in the order asked");
	}
	cr_assert_eq(g[0].status, 200);
	cr_assert_str_eq(g[0].body, "{\"a\":1}");
	cr_assert_not(g[0].replayed);
	cr_assert_eq(g[1].status, 201);
	cr_assert(g[1].replayed);
	cr_assert_str_eq(g[2].body, "{\"split\"}", "an answer split across reads is whole");
	cr_assert_eq(g[3].status, 200, "an interim answer is passed over");
	cr_assert_str_eq(g[3].body, "{\"a\":2}");
	cr_assert_eq(atomic_load(&S.conns), 1, "one keep-alive connection");
	/* Each arrival is the kernel's, on the monotonic clock: after the
	 * sends, before the callback, in order; the split answer's is its
	 * last piece's, at least the two naps after the one before it. */
	for (int i = 0; i < 4; i++) {
		cr_assert_gt(g[i].at_us, 0, "answer %d has no arrival time", i);
		cr_assert_geq(g[i].at_us, sent_us, "answer %d", i);
		cr_assert_leq(g[i].at_us, g[i].called_us, "answer %d", i);
		if (i > 0)
			cr_assert_geq(g[i].at_us, g[i - 1].at_us, "answer %d", i);
	}
	cr_assert_geq(g[2].at_us - g[1].at_us, 10000, "the split answer ended at its last piece");
	hconn_free(c);
}

Test(hconn, puts_one_request_on_the_wire_at_a_time)
{
	S.script[0] = A_SLOW_PEEK;
	S.script[1] = A_SLOW_PEEK;
	hconn *c = hconn_new(B, (uint16_t)S.port, BODY_MAX, 1024);
	got g[3] = {0};
	ask_all(c, g, 3);
	cr_assert_not(atomic_load(&S.pipelined), "a second request came before the answer");
	cr_assert_eq(atomic_load(&S.requests), 3);
	hconn_free(c);
}

Test(hconn, a_lost_connection_fails_every_request_and_the_next_connects_again)
{
	S.script[0] = A_CUT;
	hconn *c = hconn_new(B, (uint16_t)S.port, BODY_MAX, 1024);
	got g[3] = {0};
	cr_assert_not_null(send_req(c, &g[0]));
	cr_assert_not_null(send_req(c, &g[1]));
	got *gs[] = {&g[0], &g[1], &g[2]};
	wait_answers(gs, 2);
	cr_assert_eq(g[0].status, 0, "half an answer is none");
	cr_assert_eq(g[1].status, 0, "the queue behind it fails too");
	cr_assert_eq(atomic_load(&S.requests), 1, "the queued one was never sent");
	cr_assert_not_null(send_req(c, &g[2]));
	wait_answers(gs + 2, 1);
	cr_assert_eq(g[2].status, 200);
	cr_assert_eq(atomic_load(&S.conns), 2);
	hconn_free(c);
}

Test(hconn, a_close_after_the_answer_takes_the_next_request_to_a_new_connection)
{
	S.script[0] = A_CLOSE;
	S.script[2] = A_NO_LENGTH;
	hconn *c = hconn_new(B, (uint16_t)S.port, BODY_MAX, 1024);
	got g[3] = {0};
	ask_all(c, g, 3);
	cr_assert_eq(g[0].status, 200);
	cr_assert_str_eq(g[0].body, "ok");
	cr_assert_eq(g[1].status, 200);
	cr_assert_eq(g[2].status, 200, "a body that ends at the close is whole");
	cr_assert_str_eq(g[2].body, "to the end");
	cr_assert_eq(atomic_load(&S.conns), 2);
	hconn_free(c);
}

Test(hconn, a_cancelled_request_never_calls_back_and_the_queue_goes_on)
{
	S.script[0] = A_HOLD;
	hconn *c = hconn_new(B, (uint16_t)S.port, BODY_MAX, 1024);
	got g[3] = {0};
	hreq *held = send_req(c, &g[0]);
	hreq *queued = send_req(c, &g[1]);
	cr_assert_not_null(send_req(c, &g[2]));
	uint64_t deadline = clock_mono_ms() + 5000; /* the first on the wire, held */
	while (atomic_load(&S.requests) < 1) {
		cr_assert_lt(clock_mono_ms(), deadline, "the first request never came");
		run_ms(1);
	}
	run_ms(10);
	cr_assert_eq(atomic_load(&S.requests), 1);
	hconn_cancel(c, queued); /* off the queue: the wire is untouched */
	hconn_cancel(c, held);   /* on the wire: its connection goes */
	got *gs[] = {&g[2]};
	wait_answers(gs, 1);
	run_ms(30);
	cr_assert_eq(g[0].calls, 0);
	cr_assert_eq(g[1].calls, 0);
	cr_assert_eq(g[2].status, 200, "the one behind went on a new connection");
	cr_assert_eq(atomic_load(&S.requests), 2, "the cancelled queued one was never sent");
	cr_assert_eq(atomic_load(&S.conns), 2);
	hconn_free(c);
}

/* A failure's callback cancels a request of the same batch still to be
 * called back: that one's callback must not run. */
static hconn *cancel_c;
static hreq *cancel_target;

static void on_fail_cancel(const hanswer *a, void *arg)
{
	on_answer(a, arg);
	if (cancel_target)
		hconn_cancel(cancel_c, cancel_target);
	cancel_target = NULL;
}

Test(hconn, a_cancel_from_a_failures_callback_holds)
{
	S.script[0] = A_CUT;
	hconn *c = hconn_new(B, (uint16_t)S.port, BODY_MAX, 1024);
	cancel_c = c;
	got g[3] = {0};
	cr_assert_not_null(hconn_send(c, REQ, sizeof REQ - 1, on_fail_cancel, &g[0]));
	cancel_target = send_req(c, &g[1]);
	cr_assert_not_null(cancel_target);
	cr_assert_not_null(send_req(c, &g[2]));
	got *gs[] = {&g[0], &g[2]};
	wait_answers(gs, 2);
	run_ms(20);
	cr_assert_eq(g[0].status, 0);
	cr_assert_eq(g[1].calls, 0, "a request cancelled while its batch failed was called back");
	cr_assert_eq(g[2].calls, 1);
	cr_assert_eq(g[2].status, 0);
	hconn_free(c);
}

Test(hconn, oversized_surplus_and_garbled_answers_are_none)
{
	S.script[0] = A_BIG;
	S.script[1] = A_TWO;
	S.script[2] = A_GARBAGE;
	hconn *c = hconn_new(B, (uint16_t)S.port, BODY_MAX, 1024);
	got g[4] = {0};
	got *gs[] = {&g[0], &g[1], &g[2], &g[3]};
	for (int i = 0; i < 3; i++) {
		cr_assert_not_null(send_req(c, &g[i]));
		wait_answers(gs + i, 1);
		cr_assert_eq(g[i].status, 0, "answer %d", i);
	}
	cr_assert_not_null(send_req(c, &g[3]));
	wait_answers(gs + 3, 1);
	cr_assert_eq(g[3].status, 200);
	cr_assert_eq(atomic_load(&S.conns), 4, "each bad answer cost its connection");
	hconn_free(c);
}

Test(hconn, a_port_nobody_listens_on_fails_without_hanging)
{
	int dead = fakesrv_dead_port();
	hconn *c = hconn_new(B, (uint16_t)dead, BODY_MAX, 1024);
	got g = {0};
	/* Refused at once (NULL, no callback) or by a callback with 0. */
	hreq *r = send_req(c, &g);
	if (r) {
		got *gs[] = {&g};
		wait_answers(gs, 1);
		cr_assert_eq(g.status, 0);
	} else {
		run_ms(20);
		cr_assert_eq(g.calls, 0);
	}
	hconn_free(c);
}

Test(hconn, freeing_with_requests_queued_calls_nothing_back)
{
	S.script[0] = A_HOLD;
	hconn *c = hconn_new(B, (uint16_t)S.port, BODY_MAX, 1024);
	got g[2] = {0};
	cr_assert_not_null(send_req(c, &g[0]));
	cr_assert_not_null(send_req(c, &g[1]));
	run_ms(20);
	hconn_free(c);
	run_ms(20);
	cr_assert_eq(g[0].calls + g[1].calls, 0);
	hconn_free(NULL);
}

/* The fixture's server for one connection on the listener arg. */
static void *accept_ns_main(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	serve((void *)(intptr_t)fd);
	close(fd);
	return NULL;
}

Test(hconn, made_inside_a_namespace_it_reaches_the_port_there)
{
	if (!netns_supported())
		cr_skip_test("network namespaces are not available here (needs CAP_SYS_ADMIN)");
	char err[256];
	netns *ns = netns_new(err, sizeof err);
	cr_assert_not_null(ns, "%s", err);
	int port = 0;
	int lfd = netns_listen(ns, 0, &port);
	cr_assert_geq(lfd, 0);
	/* The listener's blocking accept on a thread (netns_listen's socket
	 * is non-blocking). */
	int fl = fcntl(lfd, F_GETFL);
	cr_assert_eq(fcntl(lfd, F_SETFL, fl & ~O_NONBLOCK), 0);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, accept_ns_main, (void *)(intptr_t)lfd), 0);
	hconn *c = hconn_new(B, (uint16_t)port, BODY_MAX, 1024);
	hconn_set_netns(c, ns);
	got g = {0};
	cr_assert_not_null(send_req(c, &g));
	got *gs[] = {&g};
	wait_answers(gs, 1);
	cr_assert_eq(g.status, 200, "answered from inside the namespace");
	cr_assert_str_eq(g.body, "{\"a\":1}");
	hconn_free(c);
	/* The same port in sim's own namespace, held by a socket that does
	 * not listen (when it is free here): a client made here is
	 * refused. */
	int hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (hold >= 0 && bind(hold, (struct sockaddr *)&a, sizeof a) == 0) {
		hconn *out = hconn_new(B, (uint16_t)port, BODY_MAX, 1024);
		got o = {0};
		if (send_req(out, &o)) {
			got *os[] = {&o};
			wait_answers(os, 1);
			cr_assert_eq(o.status, 0, "nothing answers that port outside");
		}
		hconn_free(out);
	}
	if (hold >= 0)
		close(hold);
	shutdown(lfd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(lfd);
	netns_free(ns);
}
