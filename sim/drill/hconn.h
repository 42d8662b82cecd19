/* hconn.h - the load's HTTP/1.1 client connection: a keep-alive socket
 * to one 127.0.0.1 port, kept light because the load's one thread is
 * the instrument every client-side latency is read on.
 *
 * It gives each answer the time its last bytes reached the socket, from
 * the kernel's receive timestamp (SO_TIMESTAMPING): the clients'
 * latencies end there, not when the load's thread, which serves every
 * simulated user of every region, has woken and got round to it. On this
 * project's 2-vCPU VM that wait was 0.20-0.48 ms at p99, minute by
 * minute, in a 30-minute soak (docs/drills.md, "The load's clients"); it
 * is the instrument's, and sim reports it in a column of its own. libevent's evhttp, which
 * the load used before, reads with readv and can give no timestamp.
 *
 * It also makes fewer system calls than evhttp: the socket is
 * registered for reading once per connection, a request is written with
 * one send() (a write event only when the socket is full), and an
 * answer is read with one recvmsg() and parsed in place with
 * http-parser. That cut the load thread's CPU per request from 102 to
 * 90 us in the soak; most of what is left is the hypervisor's cost of
 * each wake-up.
 *
 * One request is on the wire at a time (no pipelining, as browsers
 * do); later ones wait in the connection's queue in order. A lost
 * connection (refused, reset, closed before the answer, a malformed or
 * oversized answer) fails the request on the wire and every queued
 * one, each with status 0; the next hconn_send connects again.
 *
 * Callbacks run on the event base's thread, never inside hconn_send or
 * hconn_cancel; a callback may send, cancel or queue on any connection.
 * Not thread-safe: one base, one thread.
 */
#ifndef SIM_HCONN_H
#define SIM_HCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

struct netns; /* netns.h */

typedef struct hconn hconn;
typedef struct hreq hreq;

/* An answer, valid only during the callback. status 0: none came. */
typedef struct hanswer {
	int status;
	const char *body; /* not NUL-terminated; "" when empty */
	size_t body_len;
	bool replayed; /* Idempotent-Replayed: true */
	/* When the answer's last bytes reached the socket (clock_mono_us),
	 * by the kernel's receive timestamp; 0 when it gave none. */
	uint64_t at_us;
} hanswer;

typedef void (*hconn_cb)(const hanswer *a, void *arg);

/* A connection to 127.0.0.1:port that accepts answers with bodies of
 * at most body_max bytes and headers of at most headers_max. Connects
 * at its first request. NULL when out of memory. */
hconn *hconn_new(struct event_base *base, uint16_t port, size_t body_max, size_t headers_max);

/* Makes c's sockets inside ns (netns.h; NULL, the default: sim's own
 * namespace), so that 127.0.0.1:port is that namespace's: a client
 * beside a daemon sim isolated, with no relay between them. Before the
 * first request. */
void hconn_set_netns(hconn *c, const struct netns *ns);

/* Frees c: closes its socket and frees its requests without calling
 * back. */
void hconn_free(hconn *c);

/* Queues a request: len bytes, a whole HTTP/1.1 request, copied. cb
 * gets its answer once. NULL when it cannot be queued: out of memory, no
 * socket could be made, the connection was refused at once, or the
 * write on an idle socket the server had closed failed (no second try
 * on a new one: the caller's retry is that); nothing will call back
 * then. */
hreq *hconn_send(hconn *c, const char *req, size_t len, hconn_cb cb, void *arg);

/* Drops r, which has not been answered: its callback will not run. A
 * request on the wire takes the connection with it (there is no other
 * way to stop an HTTP/1.1 request); the queue behind it goes on a new
 * one. */
void hconn_cancel(hconn *c, hreq *r);

#endif
