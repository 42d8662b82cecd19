/* http.c - the edge's HTTP server, the top of edge/http (http_int.h
 * draws the layers): listeners, accepting, the choice between HTTP/2
 * (http2.c) and HTTP/1.1 (http1.c) by the preface or ALPN, the
 * bufferevent's callbacks, the request timeout sweep, the drain, and the
 * deferred answers handlers ask for. Once a connection's protocol is
 * chosen every event goes to its table of operations (c->ops); the
 * connection itself (output, closing, the handler call) is http_conn.c's.
 *
 * Owns: the listeners, its own TLS store unless the config lends one
 * (http_tls.c, which also says how workers share one), the nghttp2
 * callbacks (made by http2.c), and every connection (a list on the
 * server's http_host); each connection owns its bufferevent and its wake
 * event, and through its protocol's table its protocol state. A deferred
 * answer is owned by the handler's side; the stream or connection only
 * points at it and clears its back pointer when it goes. Nothing is
 * global, so several workers may each run a server on their own loop.
 * Runs only on the server's loop thread, but for http_server_reload_tls,
 * which only goes to the (thread-safe) TLS store.
 */
#include "edge/http/http.h"

#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "blkcache.h"
#include "clock.h"
#include "config.h"
#include "edge/http/http_int.h"
#include "edge/http/http_tls.h"
#include "log.h"
#include "sbuf.h"
#include "xmem.h"

#define DEFAULT_MAX_BODY (64 * 1024)
#define DEFAULT_MAX_HEADER_LIST (16 * 1024)
#define DEFAULT_MAX_STREAMS 100
#define DEFAULT_IDLE_MS 60000
#define DEFAULT_REQUEST_MS 10000
#define DEFAULT_RESET_BURST 100
#define DEFAULT_RESET_RATE 10
#define ACCEPT_RETRY_MS 100
#define LINGER_MAX (256 * 1024) /* what a closing peer may send meanwhile (http_conn.c) */

/* What an HTTP/2 client sends first (RFC 9113 3.4). */
static const char PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN (sizeof PREFACE - 1)
/* "PRI * HTTP/2.0\r\n": bytes that start so can only be meant as HTTP/2;
 * a preface that goes wrong after them is HTTP/2's to refuse (GOAWAY). */
#define PREFACE_LINE_LEN 16

enum { LIS_PLAIN = 0, LIS_TLS = 1 };

struct http_server {
	http_host host; /* what its connections share */
	struct event_base *base;
	unsigned request_ms;
	struct event *sweep; /* finds requests that take too long */
	struct evconnlistener *lis[2];
	struct event *retry; /* re-enables the listeners after accept errors */
	bool accepting;
	/* TLS only: the config's store, or own_tls_store, which this server
	 * made and frees. */
	http_tls_store *tls_store, *own_tls_store;
};

/* --- small helpers ------------------------------------------------------ */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void format_peer(const struct sockaddr *sa, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		if (!inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip))
			snprintf(ip, sizeof ip, "?");
		port = ntohs(in->sin_port);
		snprintf(out, outlen, "%s:%u", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (!inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip))
			snprintf(ip, sizeof ip, "?");
		port = ntohs(in6->sin6_port);
		snprintf(out, outlen, "[%s]:%u", ip, port);
	} else {
		snprintf(out, outlen, "unknown");
	}
}

/* The address of sa as 16 bytes (IPv4 v4-mapped). False for other families. */
static bool ip_of(const struct sockaddr *sa, uint8_t ip[HTTP_IP_LEN])
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memset(ip, 0, 10);
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(ip, &((const struct sockaddr_in6 *)sa)->sin6_addr, HTTP_IP_LEN);
		return true;
	}
	return false;
}

/* --- the protocol choice -------------------------------------------------- */

/* Sets c up for ops's protocol. 0, or ERR_IO when c could not be set up
 * and was freed. */
static int conn_choose(conn *c, const http_proto_ops *ops)
{
	c->ops = ops;
	log_debug("protocol chosen", "peer=%s proto=%s tls=%d", c->peer, ops->name, c->tls);
	if (ops->start(c) != 0) {
		http_conn_free(c);
		return ERR_IO;
	}
	return 0;
}

/* Cleartext: HTTP/2 once the bytes read are the whole preface, or once
 * they start with its request line (RFC 9113 3.4: a wrong preface after
 * that is a connection error, answered with GOAWAY); HTTP/1.1 as soon as
 * a byte before that differs. Looks at the input without consuming it.
 * 1: wait for more; 0: chosen; <0: c was freed. */
static int conn_sniff(conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	char head[PREFACE_LEN];
	size_t n = evbuffer_get_length(in);
	if (n > PREFACE_LEN)
		n = PREFACE_LEN;
	if (evbuffer_copyout(in, head, n) != (ev_ssize_t)n) {
		log_warn("cannot read input", "peer=%s", c->peer);
		http_conn_free(c);
		return ERR_IO;
	}
	size_t match = 0;
	while (match < n && head[match] == PREFACE[match])
		match++;
	if (match == n && n < PREFACE_LEN)
		return 1;
	return conn_choose(c, match >= PREFACE_LINE_LEN ? &http2_ops : &http1_ops);
}

/* A connection whose protocol is not known yet: cleartext before the
 * first bytes tell, TLS before the handshake's ALPN (on_event). It has no
 * request to answer, and nothing to say when it goes. */
static void choosing_read(conn *c)
{
	if (!c->tls && conn_sniff(c) == 0)
		c->ops->read(c);
}

static void choosing_nothing(conn *c)
{
	(void)c;
}

static int choosing_flush(conn *c)
{
	(void)c;
	return 0;
}

static void choosing_sweep(conn *c, uint64_t since)
{
	if (!c->req_started || c->req_started > since)
		return;
	http_refused(c->host, HTTP_REFUSED_SLOW);
	log_debug("handshake timed out", "peer=%s tls=%d", c->peer, c->tls);
	http_conn_free(c);
}

static unsigned choosing_drain(conn *c)
{
	http_conn_free(c); /* no request yet: handshake or preface */
	return 0;
}

static const http_proto_ops choosing_ops = {
    .name = "none",
    .read = choosing_read,
    .written = choosing_nothing,
    .wake = choosing_nothing,
    .flush = choosing_flush,
    .eof = http_conn_eof,
    .idle = http_conn_stalled,
    .sweep = choosing_sweep,
    .drain = choosing_drain,
    .free = choosing_nothing,
    /* start, attach and finish: never called, as no request comes */
};

/* --- connection events --------------------------------------------------- */

static void on_read(struct bufferevent *bev, void *arg)
{
	conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (c->closing) {
		size_t len = evbuffer_get_length(in);
		c->discarded += len;
		if (evbuffer_drain(in, len) != 0 || c->discarded > LINGER_MAX)
			http_conn_free(c);
		return;
	}
	c->ops->read(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn *c = arg;
	if (c->closing) {
		/* Let a queued GOAWAY out, then go. */
		if (c->ops->flush(c) != 0)
			http_conn_free(c);
		else if (http_conn_queued(c) == 0)
			http_conn_drained(c);
		return;
	}
	c->ops->written(c);
}

static void on_event(struct bufferevent *bev, short events, void *arg)
{
	conn *c = arg;
	if (events & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);
		if (!ssl) {
			http_conn_free(c);
			return;
		}
		/* ALPN h2 -> HTTP/2; http/1.1 or no ALPN -> HTTP/1.1. */
		if (conn_choose(c, http_tls_is_h2(ssl) ? &http2_ops : &http1_ops) == 0 &&
		    evbuffer_get_length(bufferevent_get_input(bev)) > 0)
			on_read(bev, c);
		return;
	}
	if (events & BEV_EVENT_EOF) {
		if (c->closing)
			http_conn_eof(c);
		else
			c->ops->eof(c);
	} else if (events & BEV_EVENT_ERROR) {
		char buf[256];
		const char *reason;
		unsigned long e = c->tls ? bufferevent_get_openssl_error(bev) : 0;
		if (e) {
			ERR_error_string_n(e, buf, sizeof buf);
			reason = buf;
		} else {
			reason = evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR());
		}
		log_debug("connection error", "peer=%s reason=\"%s\"", c->peer, reason);
		http_conn_free(c);
	} else if (events & BEV_EVENT_TIMEOUT) {
		/* A peer that stalls our writes or our close is not worth a
		 * goodbye; an idle one gets its protocol's (HTTP/2's GOAWAY;
		 * HTTP/1.1 and a handshake have none). */
		if (c->closing || (events & BEV_EVENT_WRITING))
			http_conn_stalled(c);
		else
			c->ops->idle(c);
	}
}

/* A deferred answer was finished on c: send it on. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	conn *c = arg;
	if (c->closing)
		return;
	c->ops->wake(c);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	(void)salen;
	http_server *srv = arg;
	bool tls = lis == srv->lis[LIS_TLS];
	char peer[64];
	format_peer(sa, peer, sizeof peer);
	uint8_t ip[HTTP_IP_LEN];
	bool ip_known = ip_of(sa, ip), guarded = false;
	if (srv->host.admission.conn_open && ip_known &&
	    !srv->host.admission.conn_open(srv->host.admission.ctx, ip, &guarded)) {
		/* No answer: one would need the very connection the cap refuses. */
		log_debug("connection refused: too many from its address", "peer=%s", peer);
		evutil_closesocket(fd);
		return;
	}

	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		log_debug("cannot set TCP_NODELAY", "peer=%s reason=\"%s\"", peer, strerror(errno));

	struct bufferevent *bev;
	if (tls) {
		SSL *ssl = http_tls_store_ssl_new(srv->tls_store);
		if (!ssl) {
			char buf[256];
			log_warn("cannot create TLS connection", "peer=%s reason=\"%s\"", peer,
			         http_tls_reason(buf, sizeof buf));
			evutil_closesocket(fd);
			if (guarded)
				http_admission_close(&srv->host, ip);
			return;
		}
		/* On failure libevent frees ssl (CLOSE_ON_FREE) but not fd. */
		bev = bufferevent_openssl_socket_new(srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
		                                     BEV_OPT_CLOSE_ON_FREE);
	} else {
		bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!bev) {
		log_warn("cannot create connection buffer", "peer=%s", peer);
		evutil_closesocket(fd);
		if (guarded)
			http_admission_close(&srv->host, ip);
		return;
	}

	conn *c = xcalloc(1, sizeof *c);
	c->host = &srv->host;
	c->bev = bev;
	c->tls = tls;
	c->ops = &choosing_ops;
	c->guarded = guarded;
	c->ip_known = ip_known;
	memcpy(c->ip, ip, sizeof ip);
	c->req_started = clock_mono_ms(); /* the handshake or first request */
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	c->next = srv->host.conns;
	if (srv->host.conns)
		srv->host.conns->prev = c;
	srv->host.conns = c;

	struct timeval idle = {.tv_sec = srv->host.idle_ms / 1000,
	                       .tv_usec = (srv->host.idle_ms % 1000) * 1000};
	bufferevent_setcb(bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(bev, EV_WRITE, HTTP_OUT_LOW, 0);
	c->wake = event_new(srv->base, -1, 0, on_wake, c);
	if (!c->wake || bufferevent_set_timeouts(bev, &idle, &idle) != 0 ||
	    bufferevent_enable(bev, EV_READ | EV_WRITE) != 0) {
		log_warn("cannot arm connection", "peer=%s", peer);
		http_conn_free(c);
		return;
	}
	log_debug("connection accepted", "peer=%s tls=%d", peer, tls);
}

/* --- deferred answers ---------------------------------------------------- */

http_deferred *http_defer(const http_request *req)
{
	http_call *call = req ? req->handle : NULL;
	if (!call || call->def)
		return NULL;
	http_deferred *d = blk_xalloc(sizeof *d);
	memset(d, 0, sizeof *d);
	d->c = call->c;
	d->st = call->st;
	d->c->ops->attach(d);
	call->def = d;
	return d;
}

bool http_deferred_alive(const http_deferred *d)
{
	return d && d->c && !d->c->closing;
}

void http_deferred_keep(http_deferred *d)
{
	if (d)
		d->keep = true;
}

void http_finish(http_deferred *d, http_response *resp)
{
	if (d && d->c) {
		conn *c = d->c;
		c->ops->finish(d, resp);
		/* Sending waits for the next loop turn, so that a handler that
		 * finishes another request never runs protocol code inside
		 * its own call. */
		if (!c->closing)
			event_active(c->wake, EV_TIMEOUT, 0);
	}
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	blk_free(d);
}

/* --- listeners ----------------------------------------------------------- */

static void set_listening(http_server *srv, bool on)
{
	for (int i = 0; i < 2; i++) {
		if (!srv->lis[i])
			continue;
		int rv =
		    on ? evconnlistener_enable(srv->lis[i]) : evconnlistener_disable(srv->lis[i]);
		if (rv != 0)
			log_warn(on ? "cannot resume accepting" : "cannot pause accepting",
			         "listener=%d", i);
	}
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	http_server *srv = arg;
	if (srv->accepting)
		set_listening(srv, true);
}

/* accept(2) failed for a reason that does not go away on its own (EMFILE,
 * ENOBUFS): back off rather than spin on a readable listener. */
static void on_accept_error(struct evconnlistener *lis, void *arg)
{
	(void)lis;
	http_server *srv = arg;
	int e = EVUTIL_SOCKET_ERROR();
	log_warn("accept failed", "reason=\"%s\" retry_ms=%d", evutil_socket_error_to_string(e),
	         ACCEPT_RETRY_MS);
	set_listening(srv, false);
	struct timeval tv = {.tv_sec = 0, .tv_usec = ACCEPT_RETRY_MS * 1000};
	if (evtimer_add(srv->retry, &tv) != 0) {
		log_error("cannot schedule accept retry", "%s", "");
		set_listening(srv, true);
	}
}

/* Once a second (or a quarter of the request timeout): requests that
 * have taken longer than the timeout are answered 408, handshakes and
 * prefaces that have are closed. */
static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	http_server *srv = arg;
	uint64_t now = clock_mono_ms();
	if (now < srv->request_ms)
		return;
	uint64_t since = now - srv->request_ms;
	conn *next;
	for (conn *c = srv->host.conns; c; c = next) {
		next = c->next; /* c may be freed below; no other connection is */
		if (!c->closing)
			c->ops->sweep(c, since);
	}
}

/* "1.2.3.4:80", "[::1]:80" or ":80" (any IPv4 address) to a sockaddr;
 * port 0 asks for any free port. */
static bool parse_addr(const char *addr, struct sockaddr_storage *ss, int *len)
{
	char host[INET6_ADDRSTRLEN + 1];
	int port;
	if (cfg_parse_hostport(addr, host, sizeof host, &port))
		return false;
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (!host[0] || inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = (int)sizeof *in;
		return true;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
		return false;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons((uint16_t)port);
	*len = (int)sizeof *in6;
	return true;
}

static int listen_on(http_server *srv, int idx, const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int len = 0;
	if (!parse_addr(addr, &ss, &len)) {
		seterr(err, errlen, "bad listen address \"%s\" (want ip:port or [ip6]:port)", addr);
		return ERR_CONFIG;
	}
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE |
	                 LEV_OPT_REUSEABLE_PORT;
	srv->lis[idx] = evconnlistener_new_bind(srv->base, on_accept, srv, flags, SOMAXCONN,
	                                        (struct sockaddr *)&ss, len);
	if (!srv->lis[idx]) {
		seterr(err, errlen, "cannot listen on %s: %s", addr,
		       evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return ERR_IO;
	}
	evconnlistener_set_error_cb(srv->lis[idx], on_accept_error);
	return 0;
}

/* --- server -------------------------------------------------------------- */

http_server *http_server_new(struct event_base *base, const http_config *cfg, http_handler handler,
                             void *ctx, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!base || !cfg || !handler) {
		seterr(err, errlen, "http_server_new needs a base, a config and a handler");
		return NULL;
	}
	bool plain = cfg->listen && cfg->listen[0];
	bool tls = cfg->tls_listen && cfg->tls_listen[0];
	if (!plain && !tls) {
		seterr(err, errlen, "no listen or tls_listen address");
		return NULL;
	}

	http_server *srv = xcalloc(1, sizeof *srv);
	srv->base = base;
	srv->host.handler = handler;
	srv->host.ctx = ctx;
	srv->host.max_body = cfg->max_body ? cfg->max_body : DEFAULT_MAX_BODY;
	srv->host.max_header_list =
	    cfg->max_header_list ? cfg->max_header_list : DEFAULT_MAX_HEADER_LIST;
	srv->host.max_streams = cfg->max_streams ? cfg->max_streams : DEFAULT_MAX_STREAMS;
	srv->host.idle_ms = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : DEFAULT_IDLE_MS;
	srv->request_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms : DEFAULT_REQUEST_MS;
	srv->host.reset_burst = cfg->reset_burst ? cfg->reset_burst : DEFAULT_RESET_BURST;
	srv->host.reset_rate = cfg->reset_rate ? cfg->reset_rate : DEFAULT_RESET_RATE;
	srv->host.admission = cfg->admission;
	srv->host.trusted = cfg->trusted;
	srv->accepting = true;

	char why[512];
	if (!(srv->host.cbs = http2_callbacks_new(why, sizeof why))) {
		seterr(err, errlen, "%s", why);
		goto fail;
	}
	if (tls && !(srv->tls_store = cfg->tls_store)) {
		srv->own_tls_store =
		    http_tls_store_new(cfg->tls_cert, cfg->tls_key, why, sizeof why);
		if (!(srv->tls_store = srv->own_tls_store)) {
			seterr(err, errlen, "%s", why);
			goto fail;
		}
	}
	srv->retry = evtimer_new(base, on_retry, srv);
	if (!srv->retry) {
		seterr(err, errlen, "cannot create accept retry timer");
		goto fail;
	}
	unsigned every = srv->request_ms / 4 < 1000 ? srv->request_ms / 4 : 1000;
	struct timeval tv = {.tv_sec = every / 1000, .tv_usec = (every % 1000) * 1000};
	srv->sweep = event_new(base, -1, EV_PERSIST, on_sweep, srv);
	if (!srv->sweep || event_add(srv->sweep, &tv) != 0) {
		seterr(err, errlen, "cannot create request timeout sweep");
		goto fail;
	}
	if (plain && listen_on(srv, LIS_PLAIN, cfg->listen, err, errlen) != 0)
		goto fail;
	if (tls && listen_on(srv, LIS_TLS, cfg->tls_listen, err, errlen) != 0)
		goto fail;
	log_info(
	    "http listening", "h2c=%s h2c_port=%d tls=%s tls_port=%d max_streams=%u max_body=%zu",
	    plain ? cfg->listen : "-", http_server_port(srv, false), tls ? cfg->tls_listen : "-",
	    http_server_port(srv, true), srv->host.max_streams, srv->host.max_body);
	return srv;
fail:
	http_server_free(srv);
	return NULL;
}

void http_server_stop_accepting(http_server *srv)
{
	srv->accepting = false;
	if (srv->retry && evtimer_del(srv->retry) != 0)
		log_warn("cannot cancel accept retry", "%s", "");
	for (int i = 0; i < 2; i++) {
		if (srv->lis[i]) {
			evconnlistener_free(srv->lis[i]);
			srv->lis[i] = NULL;
		}
	}
}

void http_server_drain(http_server *srv, size_t *conns, size_t *in_flight)
{
	http_server_stop_accepting(srv);
	srv->host.draining = true;
	size_t n = 0, busy = 0;
	conn *next;
	for (conn *c = srv->host.conns; c; c = next) {
		next = c->next; /* draining c may free c, and only c */
		n++;
		if (c->closing)
			continue;
		busy += c->ops->drain(c);
	}
	if (conns)
		*conns = n;
	if (in_flight)
		*in_flight = busy;
}

size_t http_server_busy(const http_server *srv)
{
	size_t n = 0;
	for (const conn *c = srv->host.conns; c; c = c->next)
		n += !c->closing;
	return n;
}

int http_server_port(http_server *srv, bool tls)
{
	struct evconnlistener *lis = srv->lis[tls ? LIS_TLS : LIS_PLAIN];
	if (!lis)
		return -1;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(evconnlistener_get_fd(lis), (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}

void http_server_free(http_server *srv)
{
	if (!srv)
		return;
	http_server_stop_accepting(srv);
	while (srv->host.conns)
		http_conn_free(srv->host.conns);
	if (srv->retry)
		event_free(srv->retry);
	if (srv->sweep)
		event_free(srv->sweep);
	http_tls_store_free(srv->own_tls_store);
	nghttp2_session_callbacks_del(srv->host.cbs);
	free(srv);
}

int http_server_reload_tls(http_server *srv, char *err, size_t errlen)
{
	if (!srv->tls_store) {
		seterr(err, errlen, "no TLS listener");
		return ERR_INVAL;
	}
	return http_tls_store_reload(srv->tls_store, err, errlen);
}
