/* seed_serve.c - this instance's store served to a peer that re-seeds
 * (seed.h), on evhttp and a thread of its own.
 *
 * One copy at a time: a second asker is told 503 and tries again (or
 * another peer). A copy reads one LevelDB snapshot from start to end and
 * sends a frame per chunk, the next only once the last was written, so
 * a slow reader holds a snapshot but never this process's memory.
 */
#include "edge/changelog/seed.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "clock.h"
#include "config.h"
#include "evauth.h"
#include "edge/changelog/changelog.h"
#include "log.h"
#include "netaddr.h"
#include "query.h"
#include "xmem.h"

#define SEED_TIMEOUT_S 60 /* a peer that reads nothing for this long is dropped */
#define SEED_MAX_HEADERS 8192

typedef struct copy copy;

struct seed_server {
	char *edge_id, *token;
	uint32_t partitions;
	store *db;
	seed_fit_fn fit;
	seed_snapshot_fn snapshot;
	void *ctx; /* fit's and snapshot's */
	metric *served, *refused;
	struct event_base *base;
	struct evhttp *http;
	struct event *stop_ev;
	int stop_fds[2];
	pthread_t thread;
	int port;
	copy *cur; /* the copy in progress, or NULL */
};

/* One copy being sent. */
struct copy {
	seed_server *s;
	struct evhttp_request *req;
	struct evhttp_connection *con;
	store_snap *sn;
	store_iter *it;
	seed_enc enc;
	int64_t position; /* the copy's: its L key says this */
	bool placed;      /* the L key is sent */
	uint64_t t0;
	char peer[64];
};

/* --- answers ---------------------------------------------------------------- */

static void reply(struct evhttp_request *req, int code, const char *ecode, const char *msg)
{
	sbuf body;
	sbuf_init(&body);
	sbuf_adderror(&body, ecode, msg, NULL);
	sbuf_adds(&body, "\n");
	struct evbuffer *b = evbuffer_new();
	if (!b)
		abort();
	evbuffer_add(b, body.p, body.len);
	sbuf_free(&body);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (code == 503)
		evhttp_add_header(h, "Retry-After", "5");
	if (code == 401)
		evhttp_add_header(h, "WWW-Authenticate", "Bearer");
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
	evbuffer_free(b);
}

/* The bearer token when one is set; loopback peers only otherwise. */
static bool authorized(const seed_server *s, struct evhttp_request *req)
{
	return s->token[0] ? evauth_bearer_ok(req, s->token) : evauth_from_loopback(req);
}

/* --- a copy ----------------------------------------------------------------- */

static void copy_free(copy *x)
{
	if (x->s->cur == x)
		x->s->cur = NULL;
	store_iter_free(x->it);
	if (x->sn)
		store_snap_free(x->sn);
	seed_enc_free(&x->enc);
	free(x);
}

static void copy_more(copy *x);

static void on_written(struct evhttp_connection *con, void *arg)
{
	(void)con;
	copy_more(arg);
}

static void on_closed(struct evhttp_connection *con, void *arg)
{
	(void)con;
	copy *x = arg;
	log_warn("seed: the peer went away before the copy's end", "peer=%s keys=%" PRIu64, x->peer,
	         x->enc.keys);
	if (!evhttp_request_get_connection(x->req))
		evhttp_send_reply_end(x->req); /* with no connection: frees it */
	copy_free(x);
}

/* The copy's position as its L key, once, in key order. */
static void put_position(copy *x)
{
	unsigned char v[8];
	store_put_u64(v, (uint64_t)x->position);
	seed_enc_put(&x->enc, ekey_prefix(EKEY_LOG_POSITION), 1, (const char *)v, 8);
	x->placed = true;
}

/* Sends the next frame, or the end. */
static void copy_more(copy *x)
{
	sbuf out;
	sbuf_init(&out);
	const char *k, *v;
	size_t kn, vn;
	bool more = true;
	while (!seed_enc_flush(&x->enc, &out, false)) {
		if (!store_iter_next(x->it, &k, &kn, &v, &vn)) {
			more = false;
			break;
		}
		if (ekey_is_alone(k, kn, EKEY_LOG_GAP))
			continue; /* 0: handle refused a store with a gap */
		int c = kn ? memcmp(k, ekey_prefix(EKEY_LOG_POSITION), 1) : -1;
		if (!x->placed && (c > 0 || (c == 0 && kn > 1)))
			put_position(x); /* the store had none */
		if (kn == 1 && c == 0) {
			if (!x->placed)
				put_position(x);
			continue;
		}
		seed_enc_put(&x->enc, k, kn, v, vn);
	}
	if (!more && !x->placed && x->position > 0)
		put_position(x);
	int rc = more ? 0 : store_iter_status(x->it);
	struct evbuffer *b = evbuffer_new();
	if (!b)
		abort();
	if (!more && rc == 0)
		seed_enc_end(&x->enc, &out);
	evbuffer_add(b, out.p, out.len);
	sbuf_free(&out);
	if (more) {
		evhttp_send_reply_chunk_with_cb(x->req, b, on_written, x);
		evbuffer_free(b);
		return;
	}
	/* A read error ends the body without its end: the peer refuses it. */
	evhttp_send_reply_chunk(x->req, b);
	evbuffer_free(b);
	evhttp_connection_set_closecb(x->con, NULL, NULL);
	evhttp_send_reply_end(x->req);
	if (rc)
		log_error("seed: reading the store failed; the copy ends unfinished",
		          "peer=%s err=%s", x->peer, err_str(rc));
	else
		log_info("seed: copy sent",
		         "peer=%s keys=%" PRIu64 " bytes=%" PRIu64 " ms=%" PRIu64, x->peer,
		         x->enc.keys, x->enc.bytes, clock_mono_ms() - x->t0);
	if (rc == 0 && x->s->served)
		metric_add(x->s->served, 1);
	copy_free(x);
}

/* GET /v1/changelog/seed?edge=ID&partitions=N, from a peer allowed to. */
static bool check_request(seed_server *s, struct evhttp_request *req)
{
	const char *target = evhttp_request_get_uri(req);
	const char *q = strchr(target, '?');
	size_t pn = q ? (size_t)(q - target) : strlen(target);
	if (pn != strlen(SEED_PATH) || memcmp(target, SEED_PATH, pn) != 0) {
		reply(req, 404, "not_found", "the seed is at " SEED_PATH);
		return false;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		reply(req, 405, "method_not_allowed", "GET only");
		return false;
	}
	if (!authorized(s, req)) {
		reply(req, 401, "unauthorized",
		      s->token[0] ? "a valid Authorization: Bearer token is needed"
		                  : "without changelog.seed_token, loopback peers only");
		return false;
	}
	static const char *const allowed[] = {"edge", "partitions", NULL};
	query kv;
	if (query_parse_target(&kv, target) || query_check(&kv, allowed)) {
		query_free(&kv);
		reply(req, 400, "bad_request", "the query takes edge and partitions, once each");
		return false;
	}
	const char *edge = query_get(&kv, "edge"), *parts = query_get(&kv, "partitions");
	char want[16];
	snprintf(want, sizeof want, "%" PRIu32, s->partitions);
	bool ok = edge && parts && strcmp(edge, s->edge_id) == 0 && strcmp(parts, want) == 0;
	query_free(&kv);
	if (!ok) {
		if (s->refused)
			metric_add(s->refused, 1);
		reply(req, 409, "conflict",
		      "edge and partitions must name this instance's edge.id and edge.partitions");
		return false;
	}
	return true;
}

/* Why the view may not be copied, or NULL: it says itself that it lacks
 * records the log lost (the gap), or holds writes the log lacks (held
 * records), whatever this process has found out about its store so far. */
static const char *view_unfit(store_snap *sn)
{
	uint64_t gap = 0;
	int rc = store_snap_read_u64(sn, ekey_prefix(EKEY_LOG_GAP), 1, &gap);
	if (rc && rc != ERR_NOTFOUND)
		return "this store cannot be read";
	if (gap)
		return "this store lacks records the changelog lost (unfit)";
	store_iter *it = store_snap_iter_from(sn, ekey_prefix(EKEY_LOG_HELD), 1, NULL, 0);
	const char *k, *v;
	size_t kn, vn;
	bool held = store_iter_next(it, &k, &kn, &v, &vn);
	rc = store_iter_status(it);
	store_iter_free(it);
	if (rc)
		return "this store cannot be read";
	return held ? "this store holds writes the changelog does not have yet" : NULL;
}

static void handle(struct evhttp_request *req, void *arg)
{
	seed_server *s = arg;
	if (!check_request(s, req))
		return;
	const char *why = s->fit ? s->fit(s->ctx) : NULL;
	if (!why && s->cur)
		why = "a copy to another peer is in progress";
	int64_t position = 0;
	store_snap *sn = NULL;
	if (!why && !(sn = s->snapshot(s->ctx, &position)))
		why = "this store cannot be read";
	if (!why)
		why = view_unfit(sn);
	if (why) {
		if (sn)
			store_snap_free(sn);
		if (s->refused)
			metric_add(s->refused, 1);
		reply(req, 503, "unavailable", why);
		return;
	}
	copy *x = xcalloc(1, sizeof *x);
	x->s = s;
	x->req = req;
	x->con = evhttp_request_get_connection(req);
	x->t0 = clock_mono_ms();
	x->sn = sn;
	x->position = position;
	char *addr = NULL;
	ev_uint16_t port = 0;
	evhttp_connection_get_peer(x->con, &addr, &port);
	snprintf(x->peer, sizeof x->peer, "%s", addr ? addr : "?");
	x->it = store_snap_iter_from(x->sn, "", 0, NULL, 0);
	sbuf head;
	sbuf_init(&head);
	seed_enc_begin(&x->enc, &head);
	s->cur = x;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "application/octet-stream");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_connection_set_closecb(x->con, on_closed, x);
	struct evbuffer *b = evbuffer_new();
	if (!b)
		abort();
	evbuffer_add(b, head.p, head.len);
	sbuf_free(&head);
	evhttp_send_reply_chunk_with_cb(req, b, on_written, x);
	evbuffer_free(b);
	log_info("seed: copying this store to a peer", "peer=%s position=%" PRId64, x->peer,
	         position);
}

/* --- life cycle ------------------------------------------------------------- */

static void *run(void *arg)
{
	seed_server *s = arg;
	event_base_dispatch(s->base);
	return NULL;
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	seed_server *s = arg;
	event_base_loopbreak(s->base);
}

static void server_free(seed_server *s)
{
	if (s->cur) {
		evhttp_connection_set_closecb(s->cur->con, NULL, NULL);
		copy_free(s->cur);
	}
	if (s->stop_ev)
		event_free(s->stop_ev);
	for (int i = 0; i < 2; i++)
		if (s->stop_fds[i] >= 0)
			close(s->stop_fds[i]);
	if (s->http)
		evhttp_free(s->http);
	if (s->base)
		event_base_free(s->base);
	free(s->edge_id);
	free(s->token);
	free(s);
}

int seed_serve_check(const char *listen, const char *token, char *err, size_t errlen)
{
	char host[256];
	int port;
	if (cfg_parse_hostport(listen, host, sizeof host, &port)) {
		snprintf(err, errlen, "changelog.seed_listen '%s' is not host:port", listen);
		return ERR_CONFIG;
	}
	if ((!token || !token[0]) && !netaddr_host_is_loopback(host, strlen(host))) {
		snprintf(err, errlen,
		         "changelog.seed_listen is %s, not a loopback address, and "
		         "changelog.seed_token is empty: whoever reaches the port would read this "
		         "store; set a token",
		         listen);
		return ERR_CONFIG;
	}
	return 0;
}

static int bound_port(struct evhttp_bound_socket *b)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(evhttp_bound_socket_get_fd(b), (struct sockaddr *)&ss, &sl))
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                                      : ((struct sockaddr_in *)&ss)->sin_port);
}

seed_server *seed_serve_start(const seed_serve_opts *o, char *err, size_t errlen)
{
	if (errlen)
		err[0] = 0;
	if (!o->listen || !o->listen[0])
		return NULL;
	if (seed_serve_check(o->listen, o->token, err, errlen))
		return NULL;
	char host[256];
	int port;
	if (cfg_parse_hostport(o->listen, host, sizeof host, &port))
		return NULL; /* seed_serve_check said why */
	seed_server *s = xcalloc(1, sizeof *s);
	s->edge_id = xstrdup(o->edge_id);
	s->token = xstrdup(o->token ? o->token : "");
	s->partitions = o->partitions;
	s->db = o->db;
	s->fit = o->fit;
	s->snapshot = o->snapshot;
	s->ctx = o->ctx;
	s->stop_fds[0] = s->stop_fds[1] = -1;
	if (o->reg) {
		s->served = metrics_counter(
		    o->reg, "changelog_seeds_served_total",
		    "copies of this store sent whole to a peer that re-seeds", NULL);
		s->refused = metrics_counter(o->reg, "changelog_seeds_refused_total",
		                             "seed requests refused (a store unfit to copy, a copy "
		                             "in progress, another edge's)",
		                             NULL);
	}
	s->base = event_base_new();
	s->http = s->base ? evhttp_new(s->base) : NULL;
	struct evhttp_bound_socket *b =
	    s->http ? evhttp_bind_socket_with_handle(s->http, host[0] ? host : "0.0.0.0",
	                                             (ev_uint16_t)port)
	            : NULL;
	if (!b) {
		snprintf(err, errlen, "changelog.seed_listen: cannot listen on %s", o->listen);
		server_free(s);
		return NULL;
	}
	s->port = bound_port(b);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	                                        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_max_headers_size(s->http, SEED_MAX_HEADERS);
	evhttp_set_max_body_size(s->http, 0);
	evhttp_set_timeout(s->http, SEED_TIMEOUT_S);
	evhttp_set_gencb(s->http, handle, s);
	/* A loopbreak from another thread before the loop runs is lost; a
	 * readable pipe is not. */
	if (pipe2(s->stop_fds, O_CLOEXEC | O_NONBLOCK) ||
	    !(s->stop_ev = event_new(s->base, s->stop_fds[0], EV_READ, on_stop, s)) ||
	    event_add(s->stop_ev, NULL)) {
		snprintf(err, errlen, "changelog.seed_listen: stop pipe: %s", strerror(errno));
		server_free(s);
		return NULL;
	}
	if (pthread_create(&s->thread, NULL, run, s)) {
		snprintf(err, errlen, "changelog.seed_listen: no thread");
		server_free(s);
		return NULL;
	}
	(void)pthread_setname_np(s->thread, "edge-seed");
	log_info("seed: serving this store to peers that re-seed", "listen=%s port=%d", o->listen,
	         s->port);
	return s;
}

int seed_serve_port(const seed_server *s)
{
	return s ? s->port : 0;
}

void seed_serve_stop(seed_server *s)
{
	if (!s)
		return;
	if (write(s->stop_fds[1], "x", 1) != 1)
		log_error("seed: stop pipe write failed", "err=\"%s\"", strerror(errno));
	pthread_join(s->thread, NULL);
	server_free(s);
}
