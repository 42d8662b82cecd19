/* fakesrv.c - fake HTTP servers for tests (fakesrv.h). */
#include "tests/support/fakesrv.h"

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

/* The port a bound socket has. */
static int port_of(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	return ntohs(sa.sin_port);
}

int fakesrv_loopback(bool listening, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	if (listening)
		cr_assert_eq(listen(fd, 8), 0);
	*port = port_of(fd);
	return fd;
}

int fakesrv_dead_port(void)
{
	int port;
	close(fakesrv_loopback(false, &port));
	return port;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	fakesrv *s = arg;
	if (atomic_load(&s->stop))
		event_base_loopbreak(s->base);
}

void fakesrv_init(fakesrv *s)
{
	memset(s, 0, sizeof *s);
	s->base = event_base_new();
	cr_assert_not_null(s->base);
	s->tick = event_new(s->base, -1, EV_PERSIST, on_tick, s);
	cr_assert_not_null(s->tick);
	struct timeval tv = {0, 5000};
	cr_assert_eq(event_add(s->tick, &tv), 0);
}

int fakesrv_listen(fakesrv *s, struct evhttp **out, void (*cb)(struct evhttp_request *, void *),
                   void *arg)
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
	return port_of(evhttp_bound_socket_get_fd(bs));
}

static void *loop_main(void *arg)
{
	fakesrv *s = arg;
	event_base_dispatch(s->base);
	return NULL;
}

void fakesrv_start(fakesrv *s)
{
	cr_assert_eq(pthread_create(&s->thread, NULL, loop_main, s), 0);
	s->running = true;
}

void fakesrv_stop(fakesrv *s)
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
