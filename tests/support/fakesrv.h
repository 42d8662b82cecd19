/* fakesrv.h - fake HTTP servers for tests: evhttp listeners on 127.0.0.1
 * port 0 sharing one event_base, whose loop either runs on a thread of its
 * own (fakesrv_start) or is driven by the test itself.
 *
 * The base carries a 5 ms timer that breaks the loop once the stop flag is
 * set, so no thread but the loop's own touches the base while it runs
 * (libevent needs no locking for that). The helper owns what it made: the
 * base, the timer and every evhttp made by fakesrv_listen; fakesrv_stop
 * frees them all. Events and requests a test made on the base itself are
 * the test's to free before fakesrv_stop. Names carry fakesrv_, not ev*:
 * that prefix is libevent's.
 *
 * Compiled once into the test support library (tests/support/fakesrv.c).
 * Set-up failures are Criterion assertions, so fakesrv_init, _listen,
 * _start and _stop are for a test's thread.
 */
#ifndef TESTS_SUPPORT_FAKESRV_H
#define TESTS_SUPPORT_FAKESRV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct event_base;
struct event;
struct evhttp;
struct evhttp_request;

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

/* A blocking TCP socket bound to 127.0.0.1 on a free port (in *port),
 * listening (backlog 8) or only bound; nothing ever accepts on it unless
 * the caller does. The caller closes it. */
int fakesrv_loopback(bool listening, int *port);

/* A port on 127.0.0.1 where nothing listens: bound once, then closed. */
int fakesrv_dead_port(void);

/* A fresh base with the stop timer on it; s is zeroed first. */
void fakesrv_init(fakesrv *s);

/* A new evhttp on s's base answering every request with cb(req, arg),
 * bound to 127.0.0.1 port 0. Returns the bound port; *out (if not NULL)
 * gets the evhttp for further settings. s keeps it and frees it. */
int fakesrv_listen(fakesrv *s, struct evhttp **out, void (*cb)(struct evhttp_request *, void *),
                   void *arg);

/* Runs s's loop on a thread of its own until fakesrv_stop. */
void fakesrv_start(fakesrv *s);

/* Stops and joins the loop thread (if started), then frees every evhttp,
 * the timer and the base. Safe on a zeroed or half-made fakesrv. */
void fakesrv_stop(fakesrv *s);

#endif
