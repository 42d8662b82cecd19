/* evserver.h - fake HTTP servers for tests: evhttp listeners on 127.0.0.1
 * port 0 sharing one event_base, whose loop either runs on a thread of its
 * own (fakesrv_start) or is driven by the test itself. Header-only; a test
 * file may leave some of these unused.
 *
 * The base carries a 5 ms timer that breaks the loop once the stop flag is
 * set, so no thread but the loop's own touches the base while it runs
 * (libevent needs no locking for that). The helper owns what it made: the
 * base, the timer and every evhttp made by fakesrv_listen; fakesrv_stop
 * frees them all. Events and requests a test made on the base itself are
 * the test's to free before fakesrv_stop. Names carry fakesrv_, not ev*:
 * that prefix is libevent's.
 */
#ifndef TESTS_EVSERVER_H
#define TESTS_EVSERVER_H

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#define FAKESRV_UTIL static __attribute__((unused))
#define FAKESRV_HTTP_MAX 4

typedef struct fakesrv {
	struct event_base *base;
	struct event *tick; /* breaks the loop once stop is set */
	struct evhttp *http[FAKESRV_HTTP_MAX];
	int nhttp;
	pthread_t thread;
	bool running; /* the loop thread was started */
	atomic_bool stop;
} fakesrv;

/* The port a bound socket has. */
FAKESRV_UTIL int fakesrv_port_of(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

/* A blocking TCP socket bound to 127.0.0.1 on a free port (in *port),
 * listening (backlog 8) or only bound; nothing ever accepts on it unless
 * the caller does. The caller closes it. */
FAKESRV_UTIL int fakesrv_loopback(bool listening, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	if (listening)
		cr_assert_eq(listen(fd, 8), 0);
	*port = fakesrv_port_of(fd);
	return fd;
}

/* A port on 127.0.0.1 where nothing listens: bound once, then closed. */
FAKESRV_UTIL int fakesrv_dead_port(void)
{
	int port;
	close(fakesrv_loopback(false, &port));
	return port;
}

FAKESRV_UTIL void fakesrv_on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	fakesrv *s = arg;
	if (atomic_load(&s->stop))
		event_base_loopbreak(s->base);
}

/* A fresh base with the stop timer on it; s is zeroed first. */
FAKESRV_UTIL void fakesrv_init(fakesrv *s)
{
	memset(s, 0, sizeof *s);
	s->base = event_base_new();
	cr_assert_not_null(s->base);
	s->tick = event_new(s->base, -1, EV_PERSIST, fakesrv_on_tick, s);
	cr_assert_not_null(s->tick);
	struct timeval tv = {0, 5000};
	cr_assert_eq(event_add(s->tick, &tv), 0);
}

/* A new evhttp on s's base answering every request with cb(req, arg),
 * bound to 127.0.0.1 port 0. Returns the bound port; *out (if not NULL)
 * gets the evhttp for further settings. s keeps it and frees it. */
FAKESRV_UTIL int fakesrv_listen(fakesrv *s, struct evhttp **out,
                                void (*cb)(struct evhttp_request *, void *), void *arg)
{
	cr_assert_lt(s->nhttp, FAKESRV_HTTP_MAX, "more than %d fake listeners", FAKESRV_HTTP_MAX);
	struct evhttp *http = evhttp_new(s->base);
	cr_assert_not_null(http);
	s->http[s->nhttp++] = http;
	evhttp_set_gencb(http, cb, arg);
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	cr_assert_not_null(bs);
	if (out)
		*out = http;
	return fakesrv_port_of(evhttp_bound_socket_get_fd(bs));
}

FAKESRV_UTIL void *fakesrv_main(void *arg)
{
	fakesrv *s = arg;
	event_base_dispatch(s->base);
	return NULL;
}

/* Runs s's loop on a thread of its own until fakesrv_stop. */
FAKESRV_UTIL void fakesrv_start(fakesrv *s)
{
	cr_assert_eq(pthread_create(&s->thread, NULL, fakesrv_main, s), 0);
	s->running = true;
}

/* Stops and joins the loop thread (if started), then frees every evhttp,
 * the timer and the base. Safe on a zeroed or half-made fakesrv. */
FAKESRV_UTIL void fakesrv_stop(fakesrv *s)
{
	if (s->running) {
		atomic_store(&s->stop, true);
		pthread_join(s->thread, NULL);
		s->running = false;
	}
	for (int i = 0; i < s->nhttp; i++)
		evhttp_free(s->http[i]);
	s->nhttp = 0;
	if (s->tick)
		event_free(s->tick);
	s->tick = NULL;
	if (s->base)
		event_base_free(s->base);
	s->base = NULL;
}

#endif
