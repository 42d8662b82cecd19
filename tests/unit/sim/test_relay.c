/* test_relay.c - sim's TCP relays (sim/drill/relay.c) over real loopback sockets.
 *
 * Each test starts a relay and a small server (a thread that accepts and
 * either echoes each connection on a thread of its own, answers one HTTP
 * request, or hands the accepted socket to the test), then drives clients
 * through a path: pass-through, blocked directions, delay, jitter, rate,
 * reset, refused targets, the hold limit, teardown with open connections,
 * and paths into and out of network namespaces. .fini frees the relay
 * first (its connections close, so the server threads see EOF), then the
 * server, then the clients.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "sim/drill/netns.h"
#include "sim/drill/relay.h"
#include "tests/support/waits.h"

#define CONN_MAX 16
#define BIG (4u << 20)

typedef enum serve_mode { SERVE_HAND, SERVE_ECHO, SERVE_HTTP } serve_mode;

typedef struct server {
	int lfd;
	int port;
	serve_mode mode;
	int stop[2];
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int fds[CONN_MAX];
	int nfds;
	int taken; /* SERVE_HAND: fds handed to the test so far */
	pthread_t workers[CONN_MAX];
	int nworkers;
} server;

static relay *r;
static server *srv;
static netns *ns;
static int clients[CONN_MAX];
static int nclients;

static void pause_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Sets ok to cond, re-checking every 2 ms until it holds or ms pass. */
#define WAIT_FOR(ok, cond, ms)                                                                     \
	do {                                                                                       \
		uint64_t dl_ = clock_mono_ms() + (ms);                                             \
		while (!((ok) = (cond)) && clock_mono_ms() < dl_)                                  \
			pause_ms(2);                                                               \
	} while (0)

static unsigned char pattern_at(size_t k)
{
	return (unsigned char)(((uint32_t)k * 2654435761u) >> 13);
}

/* --- the server ---------------------------------------------------------- */

static void *echo_worker(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[32768];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (w <= 0)
				return NULL;
			off += w;
		}
	}
	shutdown(fd, SHUT_WR);
	return NULL;
}

static void *http_worker(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[8192];
	size_t got = 0;
	while (got < sizeof buf - 1) {
		ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
		if (n <= 0)
			return NULL;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	                             "Connection: close\r\n\r\nok";
	if (send(fd, answer, sizeof answer - 1, MSG_NOSIGNAL) > 0)
		shutdown(fd, SHUT_WR);
	return NULL;
}

static void *server_loop(void *arg)
{
	server *s = arg;
	for (;;) {
		struct pollfd pf[2] = {{.fd = s->lfd, .events = POLLIN},
		                       {.fd = s->stop[0], .events = POLLIN}};
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (pf[1].revents)
			return NULL;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		pthread_mutex_lock(&s->mu);
		if (s->nfds == CONN_MAX) {
			pthread_mutex_unlock(&s->mu);
			close(fd);
			continue;
		}
		s->fds[s->nfds++] = fd;
		if (s->mode != SERVE_HAND) {
			void *(*fn)(void *) = s->mode == SERVE_ECHO ? echo_worker : http_worker;
			if (pthread_create(&s->workers[s->nworkers], NULL, fn,
			                   (void *)(intptr_t)fd) == 0)
				s->nworkers++;
		}
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
	}
}

/* A server on lfd (made by netns_listen, so in whichever namespace). */
static server *server_on(int lfd, int port, serve_mode mode)
{
	cr_assert_geq(lfd, 0, "listen: %d", lfd);
	server *s = calloc(1, sizeof *s);
	cr_assert_not_null(s);
	s->lfd = lfd;
	s->port = port;
	s->mode = mode;
	cr_assert_eq(pipe2(s->stop, O_CLOEXEC), 0);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	cr_assert_eq(pthread_create(&s->thread, NULL, server_loop, s), 0);
	return s;
}

static server *server_start(serve_mode mode)
{
	int port = 0;
	int lfd = netns_listen(NULL, 0, &port);
	return server_on(lfd, port, mode);
}

static void server_free(server *s)
{
	if (!s)
		return;
	cr_assert_eq(write(s->stop[1], "x", 1), 1);
	pthread_join(s->thread, NULL);
	for (int i = 0; i < s->nfds; i++)
		shutdown(s->fds[i], SHUT_RDWR);
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	for (int i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* The next connection the server accepted (SERVE_HAND), or -1 when none
 * comes within ms. The server keeps ownership of the fd. */
static int server_next(server *s, int ms)
{
	struct timespec dl = waits_deadline(ms);
	int fd = -1;
	pthread_mutex_lock(&s->mu);
	while (s->taken == s->nfds) {
		if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT)
			break;
	}
	if (s->taken < s->nfds)
		fd = s->fds[s->taken++];
	pthread_mutex_unlock(&s->mu);
	return fd;
}

/* --- clients ------------------------------------------------------------- */

static int connect_port(int port, int *err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		*err = errno;
		close(fd);
		return -1;
	}
	*err = 0;
	return fd;
}

/* A client connected to port, closed by .fini. */
static int client(int port)
{
	int e;
	int fd = connect_port(port, &e);
	cr_assert_geq(fd, 0, "connect to %d: %s", port, strerror(e));
	cr_assert_lt(nclients, CONN_MAX);
	clients[nclients++] = fd;
	return fd;
}

static void send_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		cr_assert_gt(w, 0, "send: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* Receives up to n bytes, waiting at most ms in all. Returns the count. */
static size_t recv_for(int fd, void *buf, size_t n, int ms)
{
	uint64_t dl = clock_mono_ms() + (uint64_t)ms;
	size_t got = 0;
	while (got < n) {
		uint64_t now = clock_mono_ms();
		if (now >= dl)
			break;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, (int)(dl - now)) <= 0)
			break;
		ssize_t r_ = recv(fd, (char *)buf + got, n - got, MSG_DONTWAIT);
		if (r_ <= 0)
			break;
		got += (size_t)r_;
	}
	return got;
}

/* True when the peer closes (EOF or reset) within ms; data is discarded. */
static bool sees_close(int fd, int ms)
{
	uint64_t dl = clock_mono_ms() + (uint64_t)ms;
	char buf[4096];
	for (;;) {
		uint64_t now = clock_mono_ms();
		if (now >= dl)
			return false;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, (int)(dl - now)) <= 0)
			return false;
		ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
}

/* True when nothing is readable on fd for ms. */
static bool quiet_for(int fd, int ms)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	return poll(&pf, 1, ms) == 0;
}

static void expect_echo(int fd, const char *msg)
{
	size_t n = strlen(msg);
	char buf[256];
	cr_assert_lt(n, sizeof buf);
	send_all(fd, msg, n);
	size_t got = recv_for(fd, buf, n, 3000);
	cr_assert_eq(got, n, "echo of \"%s\": %zu bytes", msg, got);
	cr_assert_eq(memcmp(buf, msg, n), 0);
}

static relay_path *add_path(const char *name, int to_port, int *port)
{
	char err[256];
	relay_path *p = relay_add(r, name, NULL, 0, NULL, to_port, port, err, sizeof err);
	cr_assert_not_null(p, "relay_add: %s", err);
	cr_assert_gt(*port, 0);
	return p;
}

/* Starts a SERVE_HAND server, a path to it and one client through the
 * path: *fd is the client's end, *sfd the server's. */
static relay_path *hand_pair(const char *name, int *fd, int *sfd)
{
	srv = server_start(SERVE_HAND);
	int port;
	relay_path *p = add_path(name, srv->port, &port);
	*fd = client(port);
	*sfd = server_next(srv, 3000);
	cr_assert_geq(*sfd, 0, "the relay never dialled the server");
	return p;
}

static relay_stats stats(relay_path *p)
{
	relay_stats st;
	relay_get_stats(p, &st);
	return st;
}

/* --- fixture ------------------------------------------------------------- */

static void setup(void)
{
	log_set_level("warn");
	char err[256];
	r = relay_new("test-relay", err, sizeof err);
	cr_assert_not_null(r, "relay_new: %s", err);
}

static void teardown(void)
{
	relay_free(r);
	r = NULL;
	server_free(srv);
	srv = NULL;
	for (int i = 0; i < nclients; i++)
		close(clients[i]);
	nclients = 0;
	netns_free(ns);
	ns = NULL;
}

TestSuite(relay, .init = setup, .fini = teardown, .timeout = 20);

/* --- pass-through ---------------------------------------------------------- */

typedef struct writer {
	int fd;
	size_t n;
	bool ok;
} writer;

static void *write_pattern(void *arg)
{
	writer *w = arg;
	unsigned char buf[65536];
	size_t off = 0;
	w->ok = true;
	while (off < w->n) {
		size_t n = w->n - off < sizeof buf ? w->n - off : sizeof buf;
		for (size_t k = 0; k < n; k++)
			buf[k] = pattern_at(off + k);
		for (size_t sent = 0; sent < n;) {
			ssize_t s = send(w->fd, buf + sent, n - sent, MSG_NOSIGNAL);
			if (s <= 0) {
				w->ok = false;
				return NULL;
			}
			sent += (size_t)s;
		}
		off += n;
	}
	shutdown(w->fd, SHUT_WR);
	return NULL;
}

/* Reads until n bytes arrived or ms passed; checks them against the
 * pattern. Returns the number of bytes that matched in order. */
static size_t read_pattern(int fd, size_t n, int ms)
{
	unsigned char *buf = malloc(65536);
	cr_assert_not_null(buf);
	size_t off = 0;
	uint64_t dl = clock_mono_ms() + (uint64_t)ms;
	while (off < n && clock_mono_ms() < dl) {
		size_t want = n - off < 65536 ? n - off : 65536;
		size_t got = recv_for(fd, buf, want, (int)(dl - clock_mono_ms()));
		for (size_t k = 0; k < got; k++) {
			if (buf[k] != pattern_at(off + k)) {
				free(buf);
				return off + k;
			}
		}
		off += got;
		if (got == 0)
			break;
	}
	free(buf);
	return off;
}

Test(relay, echo_passes_large_transfers_intact_both_ways_and_passes_eof)
{
	srv = server_start(SERVE_ECHO);
	int port;
	relay_path *p = add_path("echo", srv->port, &port);
	cr_assert_str_eq(relay_path_name(p), "echo");
	int fd = client(port);

	writer w = {.fd = fd, .n = BIG};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, write_pattern, &w), 0);
	size_t got = read_pattern(fd, BIG, 10000);
	pthread_join(t, NULL);
	cr_assert(w.ok, "writer failed");
	cr_assert_eq(got, BIG, "echo matched %zu of %u bytes", got, BIG);
	/* The client's FIN reached the echo server, whose FIN came back. */
	cr_assert(sees_close(fd, 3000), "no EOF after the echo server shut down");

	bool ok;
	WAIT_FOR(ok, stats(p).open == 0, 3000);
	cr_assert(ok, "connection still open after both FINs");
	relay_stats st = stats(p);
	cr_assert_eq(st.accepted, 1);
	cr_assert_eq(st.bytes_forward, BIG);
	cr_assert_eq(st.bytes_backward, BIG);
	cr_assert_eq(st.resets, 0);
}

/* --- partitions ------------------------------------------------------------ */

Test(relay, blocked_forward_holds_requests_while_replies_flow_and_heal_delivers_in_order)
{
	int fd, sfd;
	relay_path *p = hand_pair("fwd", &fd, &sfd);

	relay_block(p, RELAY_FORWARD);
	send_all(fd, "one,", 4);
	send_all(fd, "two,", 4);
	cr_assert(quiet_for(sfd, 300), "bytes crossed a blocked direction");

	send_all(sfd, "reply", 5);
	char buf[16] = "";
	cr_assert_eq(recv_for(fd, buf, 5, 2000), 5, "reply did not flow back");
	cr_assert_eq(memcmp(buf, "reply", 5), 0);

	send_all(fd, "three", 5);
	relay_heal(p);
	memset(buf, 0, sizeof buf);
	cr_assert_eq(recv_for(sfd, buf, 13, 2000), 13, "held bytes not delivered: \"%s\"", buf);
	cr_assert_str_eq(buf, "one,two,three");
	bool ok;
	WAIT_FOR(ok, stats(p).bytes_forward == 13, 1000);
	cr_assert(ok, "bytes_forward %lu", (unsigned long)stats(p).bytes_forward);
	cr_assert_eq(stats(p).bytes_backward, 5);
}

Test(relay, both_blocked_at_accept_dials_nothing_until_heal)
{
	srv = server_start(SERVE_HAND);
	int port;
	relay_path *p = add_path("both", srv->port, &port);
	relay_block(p, RELAY_BOTH);
	int fd = client(port);
	send_all(fd, "early", 5);

	bool ok;
	WAIT_FOR(ok, stats(p).accepted == 1, 2000);
	cr_assert(ok, "the relay did not accept");
	cr_assert_lt(server_next(srv, 300), 0, "a connection crossed a partition");

	relay_unblock(p, RELAY_FORWARD);
	int sfd = server_next(srv, 3000);
	cr_assert_geq(sfd, 0, "no connection after the forward direction opened");
	char buf[8] = "";
	cr_assert_eq(recv_for(sfd, buf, 5, 2000), 5);
	cr_assert_eq(memcmp(buf, "early", 5), 0);

	/* Backward is still blocked: the answer waits for the heal. */
	send_all(sfd, "late", 4);
	cr_assert(quiet_for(fd, 200), "bytes crossed a blocked backward direction");
	relay_heal(p);
	cr_assert_eq(recv_for(fd, buf, 4, 2000), 4);
	cr_assert_eq(memcmp(buf, "late", 4), 0);
}

Test(relay, eof_waits_behind_held_bytes_and_the_other_direction_stays_open)
{
	int fd, sfd;
	relay_path *p = hand_pair("halfclose", &fd, &sfd);

	relay_block(p, RELAY_FORWARD);
	send_all(fd, "last words", 10);
	cr_assert_eq(shutdown(fd, SHUT_WR), 0);
	cr_assert(quiet_for(sfd, 200), "data or FIN crossed a blocked direction");

	relay_unblock(p, RELAY_FORWARD);
	char buf[16] = "";
	cr_assert_eq(recv_for(sfd, buf, 10, 2000), 10);
	cr_assert_eq(memcmp(buf, "last words", 10), 0);
	cr_assert(sees_close(sfd, 2000), "client's FIN not passed on");

	/* The server can still answer a half-closed client. */
	send_all(sfd, "ack", 3);
	cr_assert_eq(recv_for(fd, buf, 3, 2000), 3);
	cr_assert_eq(memcmp(buf, "ack", 3), 0);
	shutdown(sfd, SHUT_WR);
	cr_assert(sees_close(fd, 2000));
	bool ok;
	WAIT_FOR(ok, stats(p).open == 0, 2000);
	cr_assert(ok, "relay kept a connection both ends closed");
}

Test(relay, held_bytes_stop_at_the_limit_and_all_arrive_after_heal)
{
	int fd, sfd;
	relay_path *p = hand_pair("hold", &fd, &sfd);
	relay_block(p, RELAY_FORWARD);

	/* Write until TCP pushes back (nothing accepted for 300 ms). */
	const size_t cap = 64u << 20;
	unsigned char buf[65536];
	size_t sent = 0;
	while (sent < cap) {
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		if (poll(&pf, 1, 300) == 0)
			break;
		for (size_t k = 0; k < sizeof buf; k++)
			buf[k] = pattern_at(sent + k);
		ssize_t w = send(fd, buf, sizeof buf, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0)
			sent += (size_t)w;
	}
	cr_assert_lt(sent, cap, "the relay kept reading a blocked direction");
	cr_assert_gt(sent, RELAY_HOLD_MAX, "only %zu bytes before backpressure", sent);
	cr_assert(quiet_for(sfd, 50));

	/* The full direction does not stop the other one. */
	send_all(sfd, "pong", 4);
	char small[4];
	cr_assert_eq(recv_for(fd, small, 4, 2000), 4, "reply stuck behind a full hold");

	relay_heal(p);
	size_t got = read_pattern(sfd, sent, 10000);
	cr_assert_eq(got, sent, "%zu of %zu bytes arrived in order", got, sent);
}

/* --- time and bandwidth ------------------------------------------------------ */

Test(relay, delay_holds_each_direction_for_its_time)
{
	int fd, sfd;
	relay_path *p = hand_pair("slow", &fd, &sfd);
	relay_set_delay(p, 100, 0);

	char b;
	uint64_t t0 = clock_mono_ms();
	send_all(fd, "x", 1);
	cr_assert_eq(recv_for(sfd, &b, 1, 2000), 1);
	uint64_t fwd = clock_mono_ms() - t0;

	t0 = clock_mono_ms();
	send_all(sfd, "y", 1);
	cr_assert_eq(recv_for(fd, &b, 1, 2000), 1);
	uint64_t back = clock_mono_ms() - t0;
	cr_assert(fwd >= 100 && fwd < 400, "forward took %lu ms", (unsigned long)fwd);
	cr_assert(back >= 100 && back < 400, "backward took %lu ms", (unsigned long)back);

	relay_set_delay(p, 0, 0);
	t0 = clock_mono_ms();
	send_all(fd, "z", 1);
	cr_assert_eq(recv_for(sfd, &b, 1, 2000), 1);
	cr_assert_lt(clock_mono_ms() - t0, 50, "delay not cleared");
}

/* A 1 ms delay is 1 ms, not a tick of the coarse clock (4 ms here),
 * which made a 1 ms delay each way an 8 ms round trip. The median of
 * many round trips, so a busy machine's worst ones do not count. */
Test(relay, a_delay_of_one_ms_costs_about_one_ms_each_way)
{
	int fd, sfd;
	relay_path *p = hand_pair("ms", &fd, &sfd);
	relay_set_delay(p, 1, 0);
	enum { N = 41 };
	uint64_t rtt[N];
	char b;
	for (int i = 0; i < N; i++) {
		uint64_t t0 = clock_mono_us();
		send_all(fd, "x", 1);
		cr_assert_eq(recv_for(sfd, &b, 1, 2000), 1);
		send_all(sfd, "y", 1);
		cr_assert_eq(recv_for(fd, &b, 1, 2000), 1);
		rtt[i] = clock_mono_us() - t0;
	}
	for (int i = 1; i < N; i++) /* insertion sort: N is small */
		for (int j = i; j > 0 && rtt[j - 1] > rtt[j]; j--) {
			uint64_t t = rtt[j];
			rtt[j] = rtt[j - 1];
			rtt[j - 1] = t;
		}
	uint64_t median = rtt[N / 2];
	cr_assert(median >= 2000 && median < 4000, "median round trip %lu us with 1 ms each way",
	          (unsigned long)median);
}

Test(relay, jitter_never_reorders_bytes)
{
	srv = server_start(SERVE_HAND);
	int port;
	relay_path *p = add_path("jitter", srv->port, &port);
	relay_set_delay(p, 30, 30);
	int fd = client(port);
	int sfd = server_next(srv, 3000);
	cr_assert_geq(sfd, 0);

	/* Many small writes, each likely its own chunk with its own jitter. */
	enum { N = 300 };
	for (size_t k = 0; k < N; k++) {
		unsigned char c = pattern_at(k);
		send_all(fd, &c, 1);
		if (k % 50 == 0)
			pause_ms(3); /* spreads arrivals across the jitter window */
	}
	size_t got = read_pattern(sfd, N, 5000);
	cr_assert_eq(got, N, "%zu of %d bytes in order", got, N);
}

Test(relay, rate_limits_bytes_per_second)
{
	srv = server_start(SERVE_HAND);
	int port;
	relay_path *p = add_path("thin", srv->port, &port);
	relay_set_rate(p, 200000);
	int fd = client(port);
	int sfd = server_next(srv, 3000);
	cr_assert_geq(sfd, 0);

	const size_t n = 400000;
	writer w = {.fd = fd, .n = n};
	pthread_t t;
	uint64_t t0 = clock_mono_ms();
	cr_assert_eq(pthread_create(&t, NULL, write_pattern, &w), 0);
	size_t got = read_pattern(sfd, n, 6000);
	uint64_t took = clock_mono_ms() - t0;
	pthread_join(t, NULL);
	cr_assert_eq(got, n);
	cr_assert(took >= 1500 && took < 4000, "400 KB at 200 KB/s took %lu ms",
	          (unsigned long)took);
}

/* --- resets and failures ----------------------------------------------------- */

Test(relay, reset_closes_open_connections_and_new_ones_work)
{
	srv = server_start(SERVE_ECHO);
	int port;
	relay_path *p = add_path("reset", srv->port, &port);
	int a = client(port);
	int b = client(port);
	expect_echo(a, "hello");
	expect_echo(b, "hello");

	relay_reset(p);
	relay_stats st = stats(p);
	cr_assert_eq(st.resets, 2);
	cr_assert_eq(st.open, 0);
	cr_assert(sees_close(a, 2000), "first client not cut");
	cr_assert(sees_close(b, 2000), "second client not cut");

	int c = client(port);
	expect_echo(c, "again");
	cr_assert_eq(stats(p).accepted, 3);
}

Test(relay, refused_target_closes_the_accepted_side)
{
	int dead_port = 0;
	int lfd = netns_listen(NULL, 0, &dead_port);
	cr_assert_geq(lfd, 0);
	close(lfd); /* nothing listens there now */
	int port;
	relay_path *p = add_path("dead", dead_port, &port);
	int fd = client(port);
	cr_assert(sees_close(fd, 2000), "accepted side left open");
	bool ok;
	WAIT_FOR(ok, stats(p).open == 0, 2000);
	cr_assert(ok);
	cr_assert_eq(stats(p).accepted, 1);
}

Test(relay, free_with_open_connections_and_held_bytes_closes_them)
{
	srv = server_start(SERVE_ECHO);
	int port;
	relay_path *held = add_path("held", srv->port, &port);
	int a = client(port);
	expect_echo(a, "warm");
	relay_block(held, RELAY_FORWARD);
	char junk[100000];
	memset(junk, 'j', sizeof junk);
	send_all(a, junk, sizeof junk);

	int port2;
	relay_path *idle = add_path("parked", srv->port, &port2);
	relay_block(idle, RELAY_BOTH);
	int b = client(port2);
	bool ok;
	WAIT_FOR(ok, stats(held).open == 1 && stats(idle).open == 1, 2000);
	cr_assert(ok);

	relay_free(r);
	r = NULL;
	cr_assert(sees_close(a, 2000));
	cr_assert(sees_close(b, 2000));
	int e;
	cr_assert_lt(connect_port(port, &e), 0, "listener survived relay_free");
	cr_assert_eq(e, ECONNREFUSED);
}

Test(relay, add_rejects_bad_ports_with_a_reason)
{
	char err[256];
	cr_assert_null(relay_add(r, "bad", NULL, 0, NULL, 0, NULL, err, sizeof err));
	cr_assert(strstr(err, "port"), "err: %s", err);
	cr_assert_null(relay_add(r, "bad", NULL, 70000, NULL, 80, NULL, NULL, 0));
}

/* --- namespaces -------------------------------------------------------------- */

static void need_netns(void)
{
	if (!netns_supported())
		cr_skip_test("network namespaces are not available here (needs CAP_SYS_ADMIN)");
	char err[256];
	ns = netns_new(err, sizeof err);
	cr_assert_not_null(ns, "netns_new: %s", err);
}

Test(relay, namespace_listener_is_reachable_only_through_a_path)
{
	need_netns();
	int inner = 0;
	int lfd = netns_listen(ns, 0, &inner);
	srv = server_on(lfd, inner, SERVE_ECHO);

	int e;
	int direct = connect_port(inner, &e);
	if (direct >= 0)
		close(direct);
	cr_assert_lt(direct, 0, "the namespace's listener answered in sim's namespace");
	cr_assert_eq(e, ECONNREFUSED, "connect: %s", strerror(e));

	char err[256];
	int port;
	relay_path *p = relay_add(r, "into", NULL, 0, ns, inner, &port, err, sizeof err);
	cr_assert_not_null(p, "relay_add: %s", err);
	int fd = client(port);
	expect_echo(fd, "across");
}

typedef struct inside {
	const netns *ns;
	int direct_port, path_port;
	int direct_err;
	bool echoed;
} inside;

static void *connect_inside(void *arg)
{
	inside *in = arg;
	if (netns_enter(in->ns) < 0)
		return NULL;
	int fd = connect_port(in->direct_port, &in->direct_err);
	if (fd >= 0)
		close(fd);
	int e;
	fd = connect_port(in->path_port, &e);
	if (fd < 0)
		return NULL;
	char buf[8];
	send_all(fd, "inside", 6);
	in->echoed = recv_for(fd, buf, 6, 3000) == 6 && memcmp(buf, "inside", 6) == 0;
	close(fd);
	return NULL;
}

Test(relay, path_inside_namespace_reaches_server_in_sim_namespace)
{
	need_netns();
	srv = server_start(SERVE_ECHO);
	char err[256];
	int port;
	relay_path *p = relay_add(r, "out", ns, 0, NULL, srv->port, &port, err, sizeof err);
	cr_assert_not_null(p, "relay_add: %s", err);

	/* The path's port is not open in sim's namespace... */
	int e;
	int direct = connect_port(port, &e);
	if (direct >= 0)
		close(direct);
	cr_assert_lt(direct, 0, "the path listens in sim's namespace");

	/* ...but inside, where the server's own port is closed. */
	inside in = {.ns = ns, .direct_port = srv->port, .path_port = port, .direct_err = -1};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, connect_inside, &in), 0);
	pthread_join(t, NULL);
	cr_assert_eq(in.direct_err, ECONNREFUSED, "server reachable from inside: %s",
	             strerror(in.direct_err));
	cr_assert(in.echoed, "no echo through the path from inside the namespace");
	cr_assert_eq(stats(p).accepted, 1);
}

Test(relay, forked_child_in_namespace_runs_curl_through_path)
{
	need_netns();
	if (access("/usr/bin/curl", X_OK) != 0)
		cr_skip_test("curl is not installed");
	srv = server_start(SERVE_HTTP);
	char err[256];
	int port;
	relay_path *p = relay_add(r, "curl", ns, 0, NULL, srv->port, &port, err, sizeof err);
	cr_assert_not_null(p, "relay_add: %s", err);

	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	int out[2];
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (dup2(out[1], 1) < 0 || netns_enter(ns) < 0)
			_exit(126);
		execl("/usr/bin/curl", "curl", "-sS", "--noproxy", "*", "--max-time", "5", url,
		      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	char body[64] = "";
	size_t got = 0;
	uint64_t dl = clock_mono_ms() + 8000;
	while (got < sizeof body - 1 && clock_mono_ms() < dl) {
		struct pollfd pf = {.fd = out[0], .events = POLLIN};
		if (poll(&pf, 1, 100) <= 0)
			continue;
		ssize_t n = read(out[0], body + got, sizeof body - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(out[0]);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "curl status %d", status);
	cr_assert_str_eq(body, "ok");
}
