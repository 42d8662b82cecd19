/* central_client.c - HTTP/1.1 client for central's ops API, and parsers of
 * its answers (central_client.h).
 *
 * Owns CENTRAL_CONNS evhttp connections, one "flight" per distinct path in
 * flight (its evhttp request, its deadline timer and the callers waiting
 * on it), the queue of results due on the loop's next turn, and the
 * circuit breaker. Loop thread of the client's event_base only; the
 * parsers at the bottom are pure and may run on any thread.
 *
 * Deadlines are our own timer per flight rather than evhttp's connection
 * timeout: that one is an inactivity timeout per socket operation (a
 * trickling answer never trips it) and it also closes idle keep-alive
 * connections. evhttp's timeout is set to CENTRAL_IDLE_MS instead, which
 * bounds how long an idle connection is kept and stays under evhttp
 * servers' default of 50 s, so the client, not central, closes idle
 * connections and a request never races a server-side close.
 *
 * evhttp may call a request's callback from inside evhttp_make_request
 * (a socket that cannot be made fails every request queued on its
 * connection at once). Such results are parked on the flight and
 * delivered from the loop, so that no callback ever runs inside
 * central_client_get.
 */
#include "edge/upstream/central_client.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "clock.h"
#include "log.h"
#include "partition.h"
#include "smap.h"
#include "edge/telemetry/telemetry.h"
#include "xmem.h"

#define CENTRAL_IDLE_MS 30000
#define CENTRAL_HEADERS_MAX (64 * 1024)
#define DEFAULT_TIMEOUT_MS 300
#define DEFAULT_MAX_INFLIGHT 256
#define DEFAULT_FAIL_OPEN_MS 1000
#define TIMEOUT_MS_MAX 600000
#define INFLIGHT_MAX 65536
#define FAIL_OPEN_MS_MAX 3600000

enum circuit { CIRCUIT_CLOSED, CIRCUIT_OPEN, CIRCUIT_HALF_OPEN };
enum outcome { OUTCOME_OK, OUTCOME_FAIL, OUTCOME_NEUTRAL };

typedef struct waiter {
	central_done cb;
	void *arg;
} waiter;

/* An error found inside central_client_get, due on the next loop turn. */
typedef struct note {
	struct note *next;
	central_done cb;
	void *arg;
	int rc;
} note;

typedef struct conn {
	struct evhttp_connection *evcon;
	unsigned load; /* flights queued on it */
} conn;

typedef struct flight {
	central_client *c;
	struct flight *prev, *next; /* every flight of the client */
	struct flight *ready_next;  /* parked results, delivered from the loop */
	char *path;
	size_t path_len;
	waiter *w;
	size_t nw, capw;
	struct evhttp_request *req; /* NULL once evhttp no longer holds it for us */
	conn *cn;
	struct event *timer;
	int ev_error;     /* the reason evhttp gave, or -1 */
	bool probe;       /* the request that decides a half-open circuit */
	bool ready;       /* result parked below */
	uint64_t sent_ns; /* when the request went out; 0: it never did */
	int rc, status;
	char *body;
	size_t len;
} flight;

struct central_client {
	struct event_base *base;
	char *address; /* as configured, also the Host header */
	char *auth;    /* "Bearer <token>", or NULL */
	unsigned timeout_ms, max_inflight, fail_open_ms;
	conn conns[CENTRAL_CONNS];
	smap by_path; /* path -> flight */
	flight *head;
	unsigned nflights;
	note *notes, **notes_tail;
	flight *ready;
	struct event *kick; /* delivers notes and parked results */
	int in_get;         /* central_client_get frames on the stack */
	bool closing;
	enum circuit state;
	unsigned fails; /* consecutive, while closed */
	uint64_t open_until;
	bool probe_inflight;
	telemetry *tm;
	central_client_stats st;
};

/* --- setup --------------------------------------------------------------- */

/* Splits "a.b.c.d:port" or "[v6]:port" into a numeric host and a port. */
static int parse_address(const char *a, char *host, size_t hostcap, uint16_t *port)
{
	const char *h, *colon;
	size_t hn;
	int family;
	if (a[0] == '[') {
		const char *end = strchr(a, ']');
		if (!end || end[1] != ':')
			return ERR_INVAL;
		h = a + 1;
		hn = (size_t)(end - h);
		colon = end + 1;
		family = AF_INET6;
	} else {
		colon = strchr(a, ':');
		if (!colon || strchr(colon + 1, ':'))
			return ERR_INVAL;
		h = a;
		hn = (size_t)(colon - a);
		family = AF_INET;
	}
	if (hn == 0 || hn >= hostcap)
		return ERR_INVAL;
	memcpy(host, h, hn);
	host[hn] = 0;
	unsigned char bin[sizeof(struct in6_addr)];
	if (inet_pton(family, host, bin) != 1)
		return ERR_INVAL;
	const char *p = colon + 1;
	unsigned long v = 0;
	if (!*p || strlen(p) > 5)
		return ERR_INVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return ERR_INVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0 || v > 65535)
		return ERR_INVAL;
	*port = (uint16_t)v;
	return 0;
}

static bool token_valid(const char *t)
{
	size_t n = strlen(t);
	if (n > CENTRAL_TOKEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] < 0x21 || t[i] > 0x7e)
			return false;
	return true;
}

static void on_kick(evutil_socket_t fd, short what, void *arg);

central_client *central_client_new(struct event_base *base, const central_client_opts *o, char *err,
                                   size_t errlen)
{
	char host[64];
	uint16_t port;
	if (!base || !o || !o->address) {
		snprintf(err, errlen, "central client: no event base or address");
		return NULL;
	}
	if (parse_address(o->address, host, sizeof host, &port) != 0) {
		snprintf(err, errlen,
		         "central address \"%.80s\": want a numeric IPv4:port or [IPv6]:port",
		         o->address);
		return NULL;
	}
	const char *token = o->token ? o->token : "";
	if (!token_valid(token)) {
		snprintf(err, errlen, "central token: at most %d printable ASCII bytes, no spaces",
		         CENTRAL_TOKEN_MAX);
		return NULL;
	}
	unsigned timeout = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	unsigned inflight = o->max_inflight ? o->max_inflight : DEFAULT_MAX_INFLIGHT;
	unsigned open_ms = o->fail_open_ms ? o->fail_open_ms : DEFAULT_FAIL_OPEN_MS;
	if (timeout > TIMEOUT_MS_MAX || inflight > INFLIGHT_MAX || open_ms > FAIL_OPEN_MS_MAX) {
		snprintf(err, errlen,
		         "central client: timeout_ms <= %d, max_inflight <= %d, fail_open_ms <= %d",
		         TIMEOUT_MS_MAX, INFLIGHT_MAX, FAIL_OPEN_MS_MAX);
		return NULL;
	}

	central_client *c = xcalloc(1, sizeof *c);
	c->base = base;
	c->address = xstrdup(o->address);
	if (token[0]) {
		size_t n = strlen(token) + sizeof "Bearer ";
		c->auth = xmalloc(n);
		snprintf(c->auth, n, "Bearer %s", token);
	}
	c->timeout_ms = timeout;
	c->max_inflight = inflight;
	c->fail_open_ms = open_ms;
	c->tm = o->tm;
	c->notes_tail = &c->notes;
	smap_init(&c->by_path);
	c->kick = event_new(base, -1, 0, on_kick, c);
	if (!c->kick) {
		snprintf(err, errlen, "central client: event_new failed");
		goto fail;
	}
	struct timeval idle = {CENTRAL_IDLE_MS / 1000, (CENTRAL_IDLE_MS % 1000) * 1000};
	for (int i = 0; i < CENTRAL_CONNS; i++) {
		struct evhttp_connection *evcon =
		    evhttp_connection_base_new(base, NULL, host, port);
		if (!evcon) {
			snprintf(err, errlen, "central client: evhttp_connection_base_new failed");
			goto fail;
		}
		evhttp_connection_set_timeout_tv(evcon, &idle);
		evhttp_connection_set_retries(evcon, 0);
		evhttp_connection_set_max_body_size(evcon, CENTRAL_BODY_MAX);
		evhttp_connection_set_max_headers_size(evcon, CENTRAL_HEADERS_MAX);
		c->conns[i].evcon = evcon;
	}
	return c;
fail:
	central_client_free(c);
	return NULL;
}

/* --- circuit breaker ------------------------------------------------------ */

/* 0 when a new request may go to central (*probe: it decides a half-open
 * circuit), ERR_AGAIN when the circuit refuses it. */
static int circuit_admit(central_client *c, bool *probe)
{
	*probe = false;
	if (c->state == CIRCUIT_CLOSED)
		return 0;
	if (c->state == CIRCUIT_OPEN) {
		if (clock_mono_ms() < c->open_until)
			return ERR_AGAIN;
		c->state = CIRCUIT_HALF_OPEN;
		c->probe_inflight = false;
	}
	if (c->probe_inflight)
		return ERR_AGAIN;
	c->probe_inflight = true;
	*probe = true;
	return 0;
}

/* Opens the circuit. Logged once when it opens after working; a probe
 * that fails while central stays down reopens it quietly (debug), so a
 * dead central costs one warning, not one a second. */
static void circuit_open(central_client *c)
{
	if (c->state == CIRCUIT_CLOSED)
		log_warn("central failing, circuit open", "address=%s for_ms=%u", c->address,
		         c->fail_open_ms);
	else
		log_debug("central still failing, circuit open again", "address=%s for_ms=%u",
		          c->address, c->fail_open_ms);
	c->state = CIRCUIT_OPEN;
	c->fails = 0;
	c->open_until = clock_mono_ms() + c->fail_open_ms;
}

static void circuit_record(central_client *c, bool probe, enum outcome out)
{
	if (probe)
		c->probe_inflight = false;
	switch (out) {
	case OUTCOME_OK:
		if (c->state != CIRCUIT_CLOSED)
			log_info("central answering again, circuit closed", "address=%s",
			         c->address);
		c->state = CIRCUIT_CLOSED;
		c->fails = 0;
		break;
	case OUTCOME_FAIL:
		if (c->state == CIRCUIT_CLOSED) {
			if (++c->fails >= CENTRAL_FAILS_TO_OPEN)
				circuit_open(c);
		} else if (probe && c->state == CIRCUIT_HALF_OPEN) {
			circuit_open(c);
		}
		/* A request started before the circuit opened and failing
		 * now tells nothing new. */
		break;
	case OUTCOME_NEUTRAL:
		/* Central answered, but not usefully (too big, not HTTP):
		 * neither up nor down. A half-open circuit waits for the
		 * next probe. */
		break;
	}
}

/* --- delivery ------------------------------------------------------------- */

static void defer_note(central_client *c, central_done cb, void *arg, int rc)
{
	note *n = xcalloc(1, sizeof *n);
	n->cb = cb;
	n->arg = arg;
	n->rc = rc;
	*c->notes_tail = n;
	c->notes_tail = &n->next;
	event_active(c->kick, 0, 0);
}

static void unlink_flight(central_client *c, flight *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		c->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	smap_del(&c->by_path, f->path, f->path_len);
	c->nflights--;
	if (f->cn)
		f->cn->load--;
	if (f->timer)
		event_del(f->timer);
}

static void free_flight(flight *f)
{
	if (f->timer)
		event_free(f->timer);
	free(f->w);
	free(f->path);
	free(f->body);
	free(f);
}

/* Ends f: accounting, then every waiter with the result. The flight leaves
 * the table first, so a callback that gets the same path starts anew. */
static void finish(central_client *c, flight *f, int rc, int status, const char *body, size_t len)
{
	unlink_flight(c, f);
	enum outcome out;
	if (rc == 0)
		out = status >= 500 ? OUTCOME_FAIL : OUTCOME_OK;
	else if (rc == ERR_TIMEOUT || rc == ERR_IO)
		out = OUTCOME_FAIL;
	else
		out = OUTCOME_NEUTRAL;
	if (f->sent_ns)
		telemetry_readthrough(c->tm, (double)(clock_mono_ns() - f->sent_ns) / 1e9,
		                      rc == 0 && status < 500);
	if (rc != 0 || status >= 500) {
		c->st.failures++;
		if (rc == ERR_TIMEOUT)
			c->st.timeouts++;
		log_debug("central request failed", "path=%s status=%d err=\"%s\"", f->path, status,
		          rc ? err_str(rc) : "server error");
	}
	circuit_record(c, f->probe, out);
	for (size_t i = 0; i < f->nw; i++)
		f->w[i].cb(f->w[i].arg, rc, status, body, len);
	free_flight(f);
}

/* Keeps a result found where callbacks may not run; the loop delivers it. */
static void park(central_client *c, flight *f, int rc, int status, char *body, size_t len)
{
	f->ready = true;
	f->rc = rc;
	f->status = status;
	f->body = body;
	f->len = len;
	if (f->timer)
		event_del(f->timer);
	f->ready_next = c->ready;
	c->ready = f;
	event_active(c->kick, 0, 0);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	central_client *c = arg;
	note *n = c->notes;
	flight *f = c->ready;
	c->notes = NULL;
	c->notes_tail = &c->notes;
	c->ready = NULL;
	while (n) {
		note *next = n->next;
		n->cb(n->arg, n->rc, 0, NULL, 0);
		free(n);
		n = next;
	}
	while (f) {
		flight *next = f->ready_next;
		finish(c, f, f->rc, f->status, f->body, f->len);
		f = next;
	}
}

/* --- requests ------------------------------------------------------------- */

static int map_error(int ev_error)
{
	switch (ev_error) {
	case EVREQ_HTTP_TIMEOUT: return ERR_TIMEOUT;
	case EVREQ_HTTP_DATA_TOO_LONG: return ERR_TOOBIG;
	case EVREQ_HTTP_INVALID_HEADER: return ERR_CORRUPT;
	default: return ERR_IO;
	}
}

static void on_error(enum evhttp_request_error e, void *arg)
{
	flight *f = arg;
	f->ev_error = (int)e;
}

/* evhttp's request callback: req NULL after a connection error (on_error
 * said which), a request without a status when the connect failed, else
 * the answer. evhttp frees req after this returns. */
static void on_done(struct evhttp_request *req, void *arg)
{
	flight *f = arg;
	central_client *c = f->c;
	int rc = 0, status = 0;
	char *body = NULL;
	size_t len = 0;
	f->req = NULL;
	if (!req) {
		rc = map_error(f->ev_error);
	} else if ((status = evhttp_request_get_response_code(req)) == 0) {
		rc = ERR_IO;
	} else {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		len = in ? evbuffer_get_length(in) : 0;
		if (len > CENTRAL_BODY_MAX) {
			rc = ERR_TOOBIG;
		} else {
			body = xmalloc(len + 1);
			if (len && evbuffer_copyout(in, body, len) != (ev_ssize_t)len) {
				rc = ERR_IO;
			} else {
				body[len] = 0;
			}
		}
		if (rc) {
			free(body);
			body = NULL;
			len = 0;
			status = 0;
		}
	}
	if (c->in_get) {
		park(c, f, rc, status, body, len);
		return;
	}
	finish(c, f, rc, status, body, len);
	free(body);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	flight *f = arg;
	central_client *c = f->c;
	struct evhttp_request *req = f->req;
	f->req = NULL;
	if (req) {
		/* Cancelling the request at the head of its connection resets
		 * the connection; queued ones move to a new one. */
		evhttp_request_set_error_cb(req, NULL);
		evhttp_cancel_request(req);
	}
	finish(c, f, ERR_TIMEOUT, 0, NULL, 0);
}

static conn *least_loaded(central_client *c)
{
	conn *best = &c->conns[0];
	for (int i = 1; i < CENTRAL_CONNS; i++)
		if (c->conns[i].load < best->load)
			best = &c->conns[i];
	return best;
}

/* Sends f's GET. evhttp may call on_done before this returns; the caller
 * holds in_get so that the result is parked. */
static int start(central_client *c, flight *f)
{
	struct evhttp_request *req = evhttp_request_new(on_done, f);
	if (!req)
		return ERR_IO;
	evhttp_request_set_error_cb(req, on_error);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(h, "Host", c->address) != 0 ||
	    evhttp_add_header(h, "Accept", "application/json") != 0 ||
	    (c->auth && evhttp_add_header(h, "Authorization", c->auth) != 0)) {
		evhttp_request_free(req);
		return ERR_IO;
	}
	f->cn = least_loaded(c);
	f->cn->load++;
	f->req = req;
	f->sent_ns = clock_mono_ns();
	c->st.requests++;
	/* On failure evhttp has freed the request (http.h says so); a
	 * callback it ran already cleared f->req. */
	if (evhttp_make_request(f->cn->evcon, req, EVHTTP_REQ_GET, f->path) != 0) {
		f->req = NULL;
		return ERR_IO;
	}
	return 0;
}

/* URL-safe: RFC 3986 unreserved, sub-delims, ':', '@', '/', '?', '%'. */
static bool path_valid(const char *p, size_t n)
{
	if (n == 0 || n > CENTRAL_PATH_MAX || p[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9'))
			continue;
		if (!strchr("-._~!$&'()*+,;=:@/?%", ch) || ch == 0)
			return false;
	}
	return true;
}

static void add_waiter(flight *f, central_done cb, void *arg)
{
	if (f->nw == f->capw) {
		f->capw = f->capw ? f->capw * 2 : 2;
		f->w = xrealloc(f->w, f->capw * sizeof *f->w);
	}
	f->w[f->nw].cb = cb;
	f->w[f->nw].arg = arg;
	f->nw++;
}

int central_client_get(central_client *c, const char *path, central_done cb, void *arg)
{
	if (!c || !path || !cb)
		return ERR_INVAL;
	if (c->closing)
		return ERR_CLOSED;
	size_t n = strnlen(path, CENTRAL_PATH_MAX + 1);
	if (!path_valid(path, n))
		return ERR_INVAL;

	smap_val *v = smap_get(&c->by_path, path, n);
	if (v) {
		flight *f = v->p;
		if (f->nw >= CENTRAL_WAITERS_MAX) {
			c->st.busy_rejects++;
			defer_note(c, cb, arg, ERR_AGAIN);
			return 0;
		}
		add_waiter(f, cb, arg);
		c->st.coalesced++;
		return 0;
	}
	if (c->nflights >= c->max_inflight) {
		c->st.busy_rejects++;
		defer_note(c, cb, arg, ERR_AGAIN);
		return 0;
	}
	bool probe;
	if (circuit_admit(c, &probe) != 0) {
		c->st.circuit_open_rejects++;
		defer_note(c, cb, arg, ERR_AGAIN);
		return 0;
	}

	flight *f = xcalloc(1, sizeof *f);
	f->c = c;
	f->path = xstrndup(path, n);
	f->path_len = n;
	f->ev_error = -1;
	f->probe = probe;
	add_waiter(f, cb, arg);
	f->next = c->head;
	if (c->head)
		c->head->prev = f;
	c->head = f;
	c->nflights++;
	smap_put(&c->by_path, f->path, n, NULL)->p = f;

	c->in_get++;
	f->timer = evtimer_new(c->base, on_timeout, f);
	int rc = f->timer ? 0 : ERR_IO;
	if (rc == 0) {
		struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
		rc = evtimer_add(f->timer, &tv) == 0 ? 0 : ERR_IO;
	}
	if (rc == 0)
		rc = start(c, f);
	c->in_get--;
	if (rc != 0 && !f->ready) {
		log_warn("central request not started", "path=%s err=\"%s\"", f->path, err_str(rc));
		park(c, f, rc, 0, NULL, 0);
	}
	return 0;
}

bool central_client_usable(const central_client *c)
{
	if (c->closing)
		return false;
	if (c->state == CIRCUIT_CLOSED)
		return true;
	if (c->state == CIRCUIT_OPEN)
		return clock_mono_ms() >= c->open_until;
	return !c->probe_inflight;
}

int central_check_address(const char *address)
{
	char host[64];
	uint16_t port;
	return address && parse_address(address, host, sizeof host, &port) == 0 ? 0 : ERR_INVAL;
}

void central_client_get_stats(const central_client *c, central_client_stats *out)
{
	*out = c->st;
	out->inflight = c->nflights;
	out->circuit_open = c->state != CIRCUIT_CLOSED;
}

void central_client_free(central_client *c)
{
	if (!c)
		return;
	c->closing = true;
	/* Freeing a connection drops its queued requests without calling
	 * back; the flights below answer their waiters instead. */
	for (int i = 0; i < CENTRAL_CONNS; i++) {
		if (c->conns[i].evcon)
			evhttp_connection_free(c->conns[i].evcon);
		c->conns[i].evcon = NULL;
	}
	while (c->notes) {
		note *n = c->notes;
		c->notes = n->next;
		n->cb(n->arg, ERR_CLOSED, 0, NULL, 0);
		free(n);
	}
	c->ready = NULL;
	while (c->head) {
		flight *f = c->head;
		f->req = NULL;
		unlink_flight(c, f);
		for (size_t i = 0; i < f->nw; i++)
			f->w[i].cb(f->w[i].arg, ERR_CLOSED, 0, NULL, 0);
		free_flight(f);
	}
	if (c->kick)
		event_free(c->kick);
	smap_free(&c->by_path);
	free(c->auth);
	free(c->address);
	free(c);
}

/* --- parsers -------------------------------------------------------------- */

/* body (len bytes) as a JSON object; NULL with *rc ERR_TOOBIG (over
 * CENTRAL_BODY_MAX) or ERR_CORRUPT (none, not JSON, not an object). */
static json_t *load_object(const char *body, size_t len, int *rc)
{
	json_error_t jerr;
	*rc = ERR_TOOBIG;
	if (len > CENTRAL_BODY_MAX)
		return NULL;
	*rc = ERR_CORRUPT;
	if (!body)
		return NULL;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root && !json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static int get_u64(const json_t *obj, const char *key, uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v))
		return ERR_CORRUPT;
	json_int_t i = json_integer_value(v);
	if (i < 0 || (uint64_t)i > max)
		return ERR_CORRUPT;
	*out = (uint64_t)i;
	return 0;
}

/* Copies the name s (n bytes) into dst (cap bytes) after valid() agrees;
 * "" only when may_be_empty. */
static int copy_name(const char *s, size_t n, char *dst, size_t cap,
                     bool (*valid)(const char *, size_t), bool may_be_empty)
{
	if (n == 0) {
		if (!may_be_empty)
			return ERR_CORRUPT;
		dst[0] = 0;
		return 0;
	}
	if (!s || n >= cap || memchr(s, 0, n) || !valid(s, n))
		return ERR_CORRUPT;
	memcpy(dst, s, n);
	dst[n] = 0;
	return 0;
}

static int get_name(const json_t *obj, const char *key, char *dst, size_t cap,
                    bool (*valid)(const char *, size_t), bool may_be_empty)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return ERR_CORRUPT;
	return copy_name(json_string_value(v), json_string_length(v), dst, cap, valid,
	                 may_be_empty);
}

static int get_bool(const json_t *obj, const char *key, bool *out)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_boolean(v))
		return ERR_CORRUPT;
	*out = json_is_true(v);
	return 0;
}

int central_parse_counts(const char *body, size_t len, central_count **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int rc;
	json_t *root = load_object(body, len, &rc);
	if (!root)
		return rc;
	rc = ERR_CORRUPT; /* until the whole answer has been read */
	central_count *v = NULL;
	size_t total = 0, k = 0;
	const char *key;
	size_t klen;
	json_t *it;
	json_t *items = json_object_get(root, "items");
	if (!json_is_object(items) || json_object_size(items) > CENTRAL_ITEMS_MAX)
		goto out;
	/* Shapes and sizes first, so that the array is sized once. */
	json_object_keylen_foreach(items, key, klen, it)
	{
		json_t *counts = json_object_get(it, "counts");
		if (!json_is_object(counts))
			goto out;
		size_t m = json_object_size(counts);
		if (m == 0 || m > ITEM_MAX_NAMES)
			goto out;
		total += m;
	}
	if (total)
		v = xcalloc(total, sizeof *v);
	json_object_keylen_foreach(items, key, klen, it)
	{
		central_count base;
		uint64_t part;
		memset(&base, 0, sizeof base);
		if (copy_name(key, klen, base.item, sizeof base.item, item_valid, false) ||
		    get_u64(it, "partition", PARTITION_MAX - 1, &part) ||
		    get_u64(it, "version", INT64_MAX, &base.version) ||
		    get_u64(it, "applied", INT64_MAX, &base.applied) ||
		    get_u64(it, "as_of", INT64_MAX, &base.as_of))
			goto out;
		base.partition = (uint32_t)part;
		json_t *counts = json_object_get(it, "counts");
		const char *ckey;
		size_t cklen;
		json_t *cv;
		json_object_keylen_foreach(counts, ckey, cklen, cv)
		{
			central_count *e = &v[k++];
			*e = base;
			if (copy_name(ckey, cklen, e->counter, sizeof e->counter,
			              item_counter_valid, false) ||
			    !json_is_integer(cv) || json_integer_value(cv) < 0)
				goto out;
			e->count = (uint64_t)json_integer_value(cv);
		}
	}
	*out = v;
	*n = k;
	v = NULL;
	rc = 0;
out:
	free(v);
	json_decref(root);
	return rc;
}

int central_parse_member(const char *body, size_t len, central_member *out)
{
	memset(out, 0, sizeof *out);
	int rc;
	json_t *root = load_object(body, len, &rc);
	if (!root)
		return rc;
	central_member m;
	char item[ITEM_MAX + 1], counter[COUNTER_MAX + 1], user[USER_MAX + 1];
	memset(&m, 0, sizeof m);
	rc = ERR_CORRUPT;
	if (get_name(root, "item", item, sizeof item, item_valid, false) ||
	    get_name(root, "counter", counter, sizeof counter, item_counter_valid, false) ||
	    get_name(root, "user", user, sizeof user, item_user_valid, false) ||
	    get_bool(root, "member", &m.member) || get_bool(root, "known", &m.known) ||
	    get_u64(root, "hlc", INT64_MAX, &m.hlc) ||
	    get_name(root, "edge", m.edge, sizeof m.edge, item_edge_valid, true) ||
	    get_name(root, "region", m.region, sizeof m.region, item_edge_valid, true))
		goto out;
	if (m.member && !m.known)
		goto out;
	if (!m.known && (m.hlc || m.edge[0] || m.region[0]))
		goto out;
	if (m.known && (!m.hlc || !m.edge[0]))
		goto out;
	*out = m;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int central_parse_memberships(const char *body, size_t len, int8_t *states, uint64_t *stamps,
                              size_t n)
{
	int rc;
	json_t *root = load_object(body, len, &rc);
	if (!root)
		return rc;
	rc = ERR_CORRUPT; /* until the whole answer has been read */
	json_t *arr = json_object_get(root, "members");
	if (!json_is_array(arr) || json_array_size(arr) != n)
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);
		bool member, known;
		uint64_t hlc = 0;
		if (!json_is_object(e) || get_bool(e, "member", &member) ||
		    get_bool(e, "known", &known) || (member && !known) ||
		    (json_object_get(e, "hlc") && get_u64(e, "hlc", INT64_MAX, &hlc)))
			goto out;
		states[i] = member ? 1 : 0;
		stamps[i] = hlc;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}
