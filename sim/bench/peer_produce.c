/* peer_produce.c - the bare producer a team could put in front of its
 * likes instead of the edge (issue 69, `bench.sh peers`): an HTTP/2
 * server (cleartext, prior knowledge) that, for each POST
 * /v1/items/TYPE/ID/likes, produces one like-sized record (the user from
 * X-User-Id, the item, a timestamp; about the size of one edge op) to a
 * topic with acks=all from an idempotent producer, and answers 200 only
 * when the record's delivery report says it is in the log, 503 when the
 * report is an error. Nothing is deduplicated or counted: this is the
 * floor under anything that puts each like into a replicated Kafka log
 * before it answers.
 *
 * One thread runs a libevent loop that owns every connection, its
 * nghttp2 session and streams, and serves librdkafka's delivery reports
 * (rd_kafka_poll, woken by the main queue's event fd, with a timer as a
 * backstop); librdkafka's own threads do the network. A stream whose
 * record is in flight outlives its close until the report comes, and a
 * connection outlives its close until all of its reports have come.
 *
 *   peer_produce --bootstrap-file FILE --topic NAME --port N [--set KEY=VALUE]...
 *
 * --set passes a librdkafka property (after the defaults below, so it
 * can override them). It listens on 127.0.0.1 once the topic's metadata
 * is known, says so on stderr, and on SIGINT or SIGTERM waits up to 5 s
 * for the records in flight and prints its counts. GET /healthz answers
 * 200. It uses no project code: what it measures is nghttp2's and
 * Kafka's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <librdkafka/rdkafka.h>
#include <nghttp2/nghttp2.h>

#define PATH_MAX_LEN 256     /* a longer :path is answered 414 */
#define USER_MAX_LEN 64      /* a longer X-User-Id is answered 431 */
#define BODY_MAX 4096        /* a larger body is answered 413 */
#define OUT_HIGH (64 * 1024) /* stop reading a connection with this much queued to send */
#define STREAMS_MAX 256      /* SETTINGS_MAX_CONCURRENT_STREAMS */
#define METADATA_MS 30000    /* the start's wait for the topic's metadata */
#define FLUSH_MS 5000        /* the stop's wait for records in flight */
#define POLL_BACKSTOP_MS 100 /* rd_kafka_poll at least this often */
#define ERRORS_LOGGED 20     /* delivery errors logged one by one, then only counted */
#define ANSWER_MAX 96

typedef struct server server;
typedef struct conn conn;
typedef struct stream stream;

struct server {
	struct event_base *base;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	int qfd[2]; /* the main queue's event pipe: librdkafka writes, the loop reads */
	struct event *qev, *tick, *sigint, *sigterm;
	struct evconnlistener *lis;
	conn *conns; /* open connections, linked through next/prev */
	uint64_t produced, delivered, failed, refused;
	int rc; /* the exit status: 1 after a fatal producer error */
};

struct conn {
	server *srv;
	conn *next, *prev;
	struct bufferevent *bev;
	nghttp2_session *sess;
	stream *streams;  /* open streams, linked through next/prev */
	unsigned pending; /* records produced whose report has not come */
	bool closed;      /* the socket and session are gone; freed when pending is 0 */
};

struct stream {
	conn *c;
	stream *next, *prev;
	int32_t id;
	bool post, get, too_long_path, too_long_user;
	bool in_flight; /* its record's report has not come */
	bool orphan;    /* closed while in flight: the report frees it */
	size_t body, path_len, user_len;
	char path[PATH_MAX_LEN + 1];
	char user[USER_MAX_LEN + 1];
	char answer[ANSWER_MAX];
	size_t answer_len, answer_sent;
};

/* ---- small helpers ------------------------------------------------------ */

static void say(const char *level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(const char *level, const char *msg, const char *fmt, ...)
{
	fprintf(stderr, "level=%s msg=\"%s\"", level, msg);
	if (fmt && *fmt) {
		va_list ap;
		va_start(ap, fmt);
		fputc(' ', stderr);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p) {
		say("error", "out of memory", "bytes=%zu", n * size);
		abort();
	}
	return p;
}

static int64_t wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The first line of a file, its trailing white space cut, into out. */
static int read_line(const char *file, char *out, size_t cap)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return -errno;
	bool ok = fgets(out, (int)cap, f) != NULL;
	fclose(f);
	if (!ok)
		return -EINVAL;
	size_t n = strlen(out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
		out[--n] = '\0';
	return n ? 0 : -EINVAL;
}

/* ---- connections -------------------------------------------------------- */

static void stream_unlink(stream *s)
{
	conn *c = s->c;
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

/* Closes a connection's socket and session; the streams with a record in
 * flight, and the connection itself while it has any, wait for their
 * reports (on_delivery frees them). */
static void conn_close(conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	for (stream *s = c->streams, *next; s; s = next) {
		next = s->next;
		s->next = s->prev = NULL;
		if (s->in_flight)
			s->orphan = true;
		else
			free(s);
	}
	c->streams = NULL;
	nghttp2_session_del(c->sess);
	c->sess = NULL;
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (!c->pending)
		free(c);
}

/* Hands what the session has to send to the socket, up to OUT_HIGH
 * queued; reading stops above it and resumes when the queue drains
 * (on_write). Closes the connection when it is done or broken. */
static void conn_flush(conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	while (evbuffer_get_length(out) < OUT_HIGH) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(c->sess, &data);
		if (n < 0) {
			say("warn", "nghttp2 send failed", "error=\"%s\"",
			    nghttp2_strerror((int)n));
			conn_close(c);
			return;
		}
		if (n == 0)
			break;
		if (evbuffer_add(out, data, (size_t)n) != 0) {
			say("warn", "cannot queue output", "bytes=%zd", n);
			conn_close(c);
			return;
		}
	}
	if (evbuffer_get_length(out) >= OUT_HIGH)
		bufferevent_disable(c->bev, EV_READ);
	else if (!nghttp2_session_want_read(c->sess) && !nghttp2_session_want_write(c->sess) &&
	         evbuffer_get_length(out) == 0)
		conn_close(c);
}

static ssize_t answer_read(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t len,
                           uint32_t *flags, nghttp2_data_source *src, void *user)
{
	(void)sess, (void)id, (void)user;
	stream *s = src->ptr;
	size_t n = s->answer_len - s->answer_sent;
	if (n > len)
		n = len;
	memcpy(buf, s->answer + s->answer_sent, n);
	s->answer_sent += n;
	if (s->answer_sent == s->answer_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* Queues a response with a small text body; the caller flushes. */
static void answer(stream *s, int status, const char *body)
{
	char st[4], len[24];
	snprintf(st, sizeof st, "%d", status);
	int n = snprintf(s->answer, sizeof s->answer, "%s\n", body);
	s->answer_len = n < 0 ? 0 : (size_t)n < sizeof s->answer ? (size_t)n : sizeof s->answer - 1;
	s->answer_sent = 0;
	snprintf(len, sizeof len, "%zu", s->answer_len);
	nghttp2_nv nva[] = {
	    {(uint8_t *)":status", (uint8_t *)st, 7, strlen(st), NGHTTP2_NV_FLAG_NONE},
	    {(uint8_t *)"content-type", (uint8_t *)"text/plain", 12, 10, NGHTTP2_NV_FLAG_NONE},
	    {(uint8_t *)"content-length", (uint8_t *)len, 14, strlen(len), NGHTTP2_NV_FLAG_NONE},
	};
	nghttp2_data_provider prd = {.source = {.ptr = s}, .read_callback = answer_read};
	int rv = nghttp2_submit_response(s->c->sess, s->id, nva, sizeof nva / sizeof nva[0], &prd);
	if (rv != 0)
		say("warn", "cannot submit a response", "stream=%" PRId32 " error=\"%s\"", s->id,
		    nghttp2_strerror(rv));
}

/* The item of a like's path, /v1/items/TYPE/ID/likes, as TYPE:ID into
 * out; false for any other path. */
static bool like_item(const char *path, char *out, size_t cap)
{
	static const char pre[] = "/v1/items/", post[] = "/likes";
	size_t n = strlen(path), np = sizeof pre - 1, ns = sizeof post - 1;
	if (n <= np + ns || memcmp(path, pre, np) != 0 || strcmp(path + n - ns, post) != 0)
		return false;
	const char *type = path + np, *end = path + n - ns;
	const char *slash = memchr(type, '/', (size_t)(end - type));
	if (!slash || slash == type || slash + 1 >= end ||
	    memchr(slash + 1, '/', (size_t)(end - slash - 1)))
		return false;
	int w = snprintf(out, cap, "%.*s:%.*s", (int)(slash - type), type, (int)(end - slash - 1),
	                 slash + 1);
	return w > 0 && (size_t)w < cap;
}

/* A whole request has come: answer it now, or produce its record and
 * answer from its delivery report. */
static void request_done(conn *c, stream *s)
{
	server *srv = c->srv;
	char item[PATH_MAX_LEN + 1], rec[PATH_MAX_LEN + USER_MAX_LEN + 32];
	if (s->too_long_path) {
		answer(s, 414, "path too long");
		return;
	}
	if (s->get && strcmp(s->path, "/healthz") == 0) {
		answer(s, 200, "ok");
		return;
	}
	if (!s->post) {
		answer(s, 405, "only POST a like");
		return;
	}
	if (!like_item(s->path, item, sizeof item)) {
		answer(s, 404, "not a like's path (/v1/items/TYPE/ID/likes)");
		return;
	}
	if (s->too_long_user || s->user_len == 0) {
		answer(s, s->user_len ? 431 : 400, "X-User-Id missing or too long");
		return;
	}
	if (s->body > BODY_MAX) {
		answer(s, 413, "body too large");
		return;
	}
	int n = snprintf(rec, sizeof rec, "%s\t%s\t%" PRId64, s->user, item, wall_us());
	if (n < 0 || (size_t)n >= sizeof rec) {
		answer(s, 500, "record too long");
		return;
	}
	/* A full queue (queue.buffering.max.messages in flight) is answered
	 * 503 at once: serving reports here, inside nghttp2's callback, would
	 * send on sessions nghttp2 is reading. */
	if (rd_kafka_produce(srv->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, rec, (size_t)n,
	                     item, strlen(item), s) != 0) {
		rd_kafka_resp_err_t err = rd_kafka_last_error();
		srv->refused++;
		if (srv->refused <= ERRORS_LOGGED)
			say("warn", "produce refused", "stream=%" PRId32 " item=%s error=\"%s\"",
			    s->id, item, rd_kafka_err2str(err));
		answer(s, 503, rd_kafka_err2name(err));
		return;
	}
	s->in_flight = true;
	c->pending++;
	srv->produced++;
}

/* ---- nghttp2 callbacks ---------------------------------------------------- */

static int on_begin_headers(nghttp2_session *sess, const nghttp2_frame *frame, void *user)
{
	conn *c = user;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	stream *s = xcalloc(1, sizeof *s);
	s->c = c;
	s->id = frame->hd.stream_id;
	s->next = c->streams;
	if (c->streams)
		c->streams->prev = s;
	c->streams = s;
	nghttp2_session_set_stream_user_data(sess, s->id, s);
	return 0;
}

/* Copies a header's value into a bounded field; false when it is too long. */
static bool take(char *dst, size_t cap, size_t *len, const uint8_t *v, size_t vlen)
{
	if (vlen >= cap)
		return false;
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
	*len = vlen;
	return true;
}

static int on_header(nghttp2_session *sess, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
	(void)flags, (void)user;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	stream *s = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
	if (!s)
		return 0;
	if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
		s->post = valuelen == 4 && memcmp(value, "POST", 4) == 0;
		s->get = valuelen == 3 && memcmp(value, "GET", 3) == 0;
	} else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
		s->too_long_path = !take(s->path, sizeof s->path, &s->path_len, value, valuelen);
	} else if (namelen == 9 && memcmp(name, "x-user-id", 9) == 0) {
		s->too_long_user = !take(s->user, sizeof s->user, &s->user_len, value, valuelen);
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *sess, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
	(void)flags, (void)data, (void)user;
	stream *s = nghttp2_session_get_stream_user_data(sess, id);
	if (s)
		s->body += len;
	return 0;
}

static int on_frame_recv(nghttp2_session *sess, const nghttp2_frame *frame, void *user)
{
	conn *c = user;
	if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	stream *s = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
	if (s)
		request_done(c, s);
	return 0;
}

static int on_stream_close(nghttp2_session *sess, int32_t id, uint32_t error_code, void *user)
{
	(void)error_code, (void)user;
	stream *s = nghttp2_session_get_stream_user_data(sess, id);
	if (!s)
		return 0;
	nghttp2_session_set_stream_user_data(sess, id, NULL);
	stream_unlink(s);
	if (s->in_flight)
		s->orphan = true;
	else
		free(s);
	return 0;
}

/* ---- libevent callbacks --------------------------------------------------- */

static void on_read(struct bufferevent *bev, void *arg)
{
	conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	unsigned char *data = evbuffer_pullup(in, -1);
	ssize_t n = nghttp2_session_mem_recv(c->sess, data, len);
	if (n < 0) {
		say("warn", "bad HTTP/2 input", "error=\"%s\"", nghttp2_strerror((int)n));
		conn_close(c);
		return;
	}
	evbuffer_drain(in, (size_t)n);
	conn_flush(c);
}

/* The output queue drained (the write low-watermark is 0): send more,
 * read again. */
static void on_write(struct bufferevent *bev, void *arg)
{
	conn *c = arg;
	bufferevent_enable(bev, EV_READ);
	conn_flush(c);
}

static void on_event(struct bufferevent *bev, short events, void *arg)
{
	(void)bev;
	conn *c = arg;
	if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_close(c);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *addr,
                      int addrlen, void *arg)
{
	(void)lis, (void)addr, (void)addrlen;
	server *srv = arg;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	conn *c = xcalloc(1, sizeof *c);
	c->srv = srv;
	c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		say("warn", "cannot make a bufferevent", "fd=%d", (int)fd);
		evutil_closesocket(fd);
		free(c);
		return;
	}
	nghttp2_session_callbacks *cbs;
	if (nghttp2_session_callbacks_new(&cbs) != 0) {
		say("error", "out of memory", "what=nghttp2_session_callbacks");
		abort();
	}
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	int rv = nghttp2_session_server_new(&c->sess, cbs, c);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, STREAMS_MAX}};
	if (rv == 0)
		rv = nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, 1);
	if (rv != 0) {
		say("warn", "cannot start an HTTP/2 session", "error=\"%s\"", nghttp2_strerror(rv));
		nghttp2_session_del(c->sess);
		bufferevent_free(c->bev);
		free(c);
		return;
	}
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	conn_flush(c);
}

/* ---- the producer --------------------------------------------------------- */

/* A record's delivery report, served by rd_kafka_poll on the loop's
 * thread: answer its stream, or free what waited only for it. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	server *srv = opaque;
	stream *s = m->_private;
	conn *c = s->c;
	s->in_flight = false;
	c->pending--;
	if (m->err) {
		srv->failed++;
		if (srv->failed <= ERRORS_LOGGED)
			say("warn", "record not delivered", "stream=%" PRId32 " error=\"%s\"",
			    s->id, rd_kafka_err2str(m->err));
	} else {
		srv->delivered++;
	}
	if (s->orphan) {
		free(s);
		if (c->closed && !c->pending)
			free(c);
		return;
	}
	if (m->err) {
		answer(s, 503, rd_kafka_err2name(m->err));
	} else {
		char body[64];
		snprintf(body, sizeof body, "{\"partition\":%" PRId32 ",\"offset\":%" PRId64 "}",
		         m->partition, m->offset);
		answer(s, 200, body);
	}
	conn_flush(c);
}

/* Only a fatal error stops an idempotent producer (it could no longer
 * keep the records in order); the others librdkafka retries. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	server *srv = opaque;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char why[512];
		rd_kafka_fatal_error(rk, why, sizeof why);
		say("error", "fatal producer error: stopping", "error=\"%s\"", why);
		srv->rc = 1;
		event_base_loopbreak(srv->base);
		return;
	}
	say("warn", "kafka client error", "error=\"%s\" reason=\"%s\"",
	    rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void on_queue(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	server *srv = arg;
	char buf[64];
	while (read(fd, buf, sizeof buf) > 0)
		;
	rd_kafka_poll(srv->rk, 0);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	server *srv = arg;
	rd_kafka_poll(srv->rk, 0);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	server *srv = arg;
	say("info", "stopping", "signal=%d", (int)sig);
	event_base_loopbreak(srv->base);
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
		say("error", "bad producer property", "key=%s value=\"%s\" error=\"%s\"", k, v,
		    err);
		return -1;
	}
	return 0;
}

/* The producer: an idempotent one with acks=all (on a topic with
 * min.insync.replicas 2, a delivered record is on two brokers), no
 * linger and Nagle off, as the edge's changelog producer is set; then
 * the caller's --set properties, "key=value" each. */
static rd_kafka_t *producer_new(server *srv, const char *bootstrap, char **sets, int nsets)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (conf_set(conf, "bootstrap.servers", bootstrap) ||
	    conf_set(conf, "enable.idempotence", "true") || conf_set(conf, "acks", "all") ||
	    conf_set(conf, "linger.ms", "0") || conf_set(conf, "socket.nagle.disable", "true"))
		goto fail;
	for (int i = 0; i < nsets; i++) {
		char *eq = strchr(sets[i], '=');
		if (!eq || eq == sets[i]) {
			say("error", "bad --set (want KEY=VALUE)", "arg=\"%s\"", sets[i]);
			goto fail;
		}
		*eq = '\0';
		int r = conf_set(conf, sets[i], eq + 1);
		*eq = '=';
		if (r)
			goto fail;
	}
	rd_kafka_conf_set_opaque(conf, srv);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	char err[512];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!rk) {
		say("error", "cannot make the producer", "error=\"%s\"", err);
		goto fail;
	}
	return rk;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* Waits for the topic's metadata, so that the first like does not pay
 * for it; -1 when the topic has no partition or the wait runs out. */
static int topic_ready(server *srv, const char *topic)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t e = rd_kafka_metadata(srv->rk, 0, srv->rkt, &md, METADATA_MS);
	if (e) {
		say("error", "no metadata for the topic", "topic=%s error=\"%s\"", topic,
		    rd_kafka_err2str(e));
		return -1;
	}
	int parts = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
	rd_kafka_metadata_destroy(md);
	if (parts < 1) {
		say("error", "the topic has no partitions", "topic=%s", topic);
		return -1;
	}
	say("info", "topic ready", "topic=%s partitions=%d", topic, parts);
	return 0;
}

/* Delivery reports wake the loop through a pipe librdkafka writes to
 * whenever its main queue goes from empty to not. */
static int queue_events(server *srv)
{
	if (pipe2(srv->qfd, O_NONBLOCK | O_CLOEXEC) != 0) {
		say("error", "cannot make the queue's pipe", "error=\"%s\"", strerror(errno));
		return -1;
	}
	rd_kafka_queue_t *q = rd_kafka_queue_get_main(srv->rk);
	rd_kafka_queue_io_event_enable(q, srv->qfd[1], "1", 1);
	rd_kafka_queue_destroy(q);
	struct timeval backstop = {0, POLL_BACKSTOP_MS * 1000};
	srv->qev = event_new(srv->base, srv->qfd[0], EV_READ | EV_PERSIST, on_queue, srv);
	srv->tick = event_new(srv->base, -1, EV_PERSIST, on_tick, srv);
	srv->sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
	srv->sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
	if (!srv->qev || !srv->tick || !srv->sigint || !srv->sigterm || event_add(srv->qev, NULL) ||
	    event_add(srv->tick, &backstop) || event_add(srv->sigint, NULL) ||
	    event_add(srv->sigterm, NULL)) {
		say("error", "cannot add the loop's events", "%s", "");
		return -1;
	}
	return 0;
}

static int listen_on(server *srv, int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv->lis = evconnlistener_new_bind(srv->base, on_accept, srv,
	                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
	                                   (struct sockaddr *)&sin, sizeof sin);
	if (!srv->lis) {
		say("error", "cannot listen", "port=%d error=\"%s\"", port, strerror(errno));
		return -1;
	}
	say("info", "listening", "addr=127.0.0.1:%d", port);
	return 0;
}

static void server_free(server *srv)
{
	if (srv->lis)
		evconnlistener_free(srv->lis);
	while (srv->conns)
		conn_close(srv->conns);
	if (srv->rk) {
		/* The records in flight get their reports (and free what waits
		 * for them); what is left after FLUSH_MS is purged. */
		if (rd_kafka_flush(srv->rk, FLUSH_MS) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			rd_kafka_purge(srv->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
			rd_kafka_poll(srv->rk, 0);
		}
	}
	struct event *evs[] = {srv->qev, srv->tick, srv->sigint, srv->sigterm};
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		if (evs[i])
			event_free(evs[i]);
	if (srv->rkt)
		rd_kafka_topic_destroy(srv->rkt);
	if (srv->rk)
		rd_kafka_destroy(srv->rk);
	for (int i = 0; i < 2; i++)
		if (srv->qfd[i] >= 0)
			close(srv->qfd[i]);
	if (srv->base)
		event_base_free(srv->base);
}

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "peer_produce: %s\n", why);
	fprintf(stderr, "usage: peer_produce --bootstrap-file FILE --topic NAME --port N "
	                "[--set KEY=VALUE]...\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *bootfile = NULL, *topic = NULL;
	int port = 0, nsets = 0;
	char **sets = xcalloc((size_t)argc, sizeof *sets);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc)
			return usage("every option takes a value");
		if (strcmp(a, "--bootstrap-file") == 0)
			bootfile = argv[++i];
		else if (strcmp(a, "--topic") == 0)
			topic = argv[++i];
		else if (strcmp(a, "--port") == 0) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 1 || v > 65535)
				return usage("--port wants 1-65535");
			port = (int)v;
		} else if (strcmp(a, "--set") == 0)
			sets[nsets++] = argv[++i];
		else
			return usage("unknown option");
	}
	if (!bootfile || !topic || !port)
		return usage("--bootstrap-file, --topic and --port are needed");
	char bootstrap[1024];
	int r = read_line(bootfile, bootstrap, sizeof bootstrap);
	if (r) {
		say("error", "cannot read the bootstrap file", "file=%s error=\"%s\"", bootfile,
		    strerror(-r));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	server srv = {.qfd = {-1, -1}};
	int rc = 1;
	srv.base = event_base_new();
	if (!srv.base) {
		say("error", "cannot make the event loop", "%s", "");
		goto out;
	}
	srv.rk = producer_new(&srv, bootstrap, sets, nsets);
	if (!srv.rk)
		goto out;
	srv.rkt = rd_kafka_topic_new(srv.rk, topic, NULL);
	if (!srv.rkt) {
		say("error", "cannot make the topic handle", "topic=%s error=\"%s\"", topic,
		    rd_kafka_err2str(rd_kafka_last_error()));
		goto out;
	}
	if (topic_ready(&srv, topic) || queue_events(&srv) || listen_on(&srv, port))
		goto out;
	if (event_base_dispatch(srv.base) < 0) {
		say("error", "the event loop failed", "%s", "");
		goto out;
	}
	rc = srv.rc;
out:
	server_free(&srv);
	free(sets);
	printf("produced=%" PRIu64 "\ndelivered=%" PRIu64 "\nfailed=%" PRIu64 "\nrefused=%" PRIu64
	       "\n",
	       srv.produced, srv.delivered, srv.failed, srv.refused);
	return rc;
}
