/* http2.c - HTTP/2 for the edge's HTTP server: an nghttp2 server session
 * per connection, the request state of each stream, answers submitted
 * through nghttp2's data provider, and the output pacing that stops
 * reading while a client does not read its answers.
 *
 * Owns each HTTP/2 connection's session and its streams (a list on the
 * connection, because nghttp2_session_del does not report the streams it
 * drops); a stream points at its pending deferred answer and clears the
 * answer's back pointer when it goes. The connection itself, the
 * protocol choice and the deferred-answer plumbing belong to http.c,
 * which reaches this file through http2_ops (and http2_callbacks_new,
 * once per server); this file calls down into http_conn.c and
 * http_msg.c.
 * Runs only on the server's loop thread.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <nghttp2/nghttp2.h>

#include "blkcache.h"
#include "clock.h"
#include "edge/http/http_int.h"
#include "log.h"
#include "sbuf.h"
#include "xmem.h"

#define STREAM_TEXT 384  /* request text kept inside the stream */
#define STREAM_HEADERS 8 /* headers kept inside the stream */

/* Request text that did not fit in stream.text: one allocation each,
 * chained for stream_free. */
typedef struct spill {
	struct spill *next;
	char text[];
} spill;

struct stream {
	conn *c;
	stream *prev, *next;
	int32_t id;
	uint64_t started;     /* monotonic ms of its HEADERS */
	char *method, *path;  /* in text, or spilled */
	http_header *headers; /* inline, or allocated once there are more */
	size_t nheaders, headers_cap;
	size_t header_bytes;
	size_t text_used;
	spill *spills;
	char *body;
	size_t body_len, body_cap;
	int reject;         /* status to answer instead of the handler */
	bool request_done;  /* END_STREAM received */
	bool answered;      /* a response was submitted */
	http_deferred *def; /* the handler's pending answer, if deferred */
	char *out;          /* response body, read by the data provider */
	size_t out_len, out_off;
	/* Last, and not zeroed when a stream starts: */
	http_header inline_headers[STREAM_HEADERS];
	char text[STREAM_TEXT]; /* method, path, header names and values */
};

static bool name_is(const uint8_t *name, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(name, lit, len) == 0;
}

/* --- answers ------------------------------------------------------------- */

static nghttp2_nv make_nv(const char *name, size_t nlen, const char *value, size_t vlen)
{
	return (nghttp2_nv){.name = (uint8_t *)name,
	                    .namelen = nlen,
	                    .value = (uint8_t *)value,
	                    .valuelen = vlen,
	                    .flags = NGHTTP2_NV_FLAG_NONE};
}

static ssize_t read_body(nghttp2_session *sess, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *user)
{
	(void)sess, (void)id, (void)user;
	stream *st = src->ptr;
	size_t n = st->out_len - st->out_off;
	if (n > length)
		n = length;
	if (n)
		memcpy(buf, st->out + st->out_off, n);
	st->out_off += n;
	if (st->out_off == st->out_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* Submits resp on st, taking its body. On failure the stream is reset.
 * A HEAD answer carries the body's length but not the body; 204 and 304
 * carry neither. */
static void submit_response(conn *c, stream *st, http_response *resp)
{
	int status = http_response_check(c, st->id, resp);
	bool has_body = http_status_has_body(status);
	size_t len = has_body ? resp->body_len : 0;
	if (!has_body || (st->method && strcmp(st->method, "HEAD") == 0)) {
		blk_keep_buf(resp->body);
		resp->body = NULL;
		resp->body_len = 0;
	}
	st->out = resp->body;
	st->out_len = resp->body_len;
	st->out_off = 0;
	resp->body = NULL;
	st->answered = true;

	/* status is 200..599 here (http_response_check). */
	char status_s[3] = {(char)('0' + status / 100), (char)('0' + status / 10 % 10),
	                    (char)('0' + status % 10)};
	char len_s[SBUF_U64_MAX];
	size_t len_n = sbuf_fmt_u64(len_s, len);
	const char *ctype = resp->content_type ? resp->content_type : "application/json";

	nghttp2_nv nv[4 + HTTP_MAX_RESP_HEADERS];
	size_t n = 0;
	nv[n++] = make_nv(":status", 7, status_s, sizeof status_s);
	nv[n++] = make_nv("date", 4, http_date_now(), HTTP_DATE_LEN);
	if (ctype[0])
		nv[n++] = make_nv("content-type", 12, ctype, strlen(ctype));
	for (size_t i = 0; i < resp->nheaders && i < HTTP_MAX_RESP_HEADERS; i++) {
		const http_header *h = &resp->headers[i];
		nv[n++] = make_nv(h->name, h->namelen, h->value, h->valuelen);
		/* An ETag differs from one answer to the next: kept out of
		 * the HPACK tables, it neither costs an insert at both ends
		 * nor pushes out the fields that repeat. */
		if (h->namelen == 4 && memcmp(h->name, "etag", 4) == 0)
			nv[n - 1].flags = NGHTTP2_NV_FLAG_NO_INDEX;
	}
	if (has_body) {
		nv[n++] = make_nv("content-length", 14, len_s, len_n);
		nv[n - 1].flags = NGHTTP2_NV_FLAG_NO_INDEX;
	}

	nghttp2_data_provider prd = {.source.ptr = st, .read_callback = read_body};
	int rv = nghttp2_submit_response(c->sess, st->id, nv, n, st->out_len ? &prd : NULL);
	if (rv != 0) {
		log_warn("cannot submit response", "peer=%s stream=%d reason=\"%s\"", c->peer,
		         st->id, nghttp2_strerror(rv));
		rv = nghttp2_submit_rst_stream(c->sess, NGHTTP2_FLAG_NONE, st->id,
		                               NGHTTP2_INTERNAL_ERROR);
		if (rv != 0)
			log_warn("cannot reset stream", "peer=%s stream=%d reason=\"%s\"", c->peer,
			         st->id, nghttp2_strerror(rv));
	}
}

/* Refuses st with a JSON error; the handler never sees it. */
static void reject(conn *c, stream *st, int status)
{
	if (st->reject || st->answered)
		return;
	st->reject = status;
	blk_free(st->body);
	st->body = NULL;
	st->body_len = st->body_cap = 0;
	http_response resp;
	http_response_init(&resp);
	http_response_refuse(c, &resp, status, "the request lacks :method or :path");
	log_debug("request refused", "peer=%s stream=%d status=%d", c->peer, st->id, status);
	submit_response(c, st, &resp);
}

static void dispatch(conn *c, stream *st)
{
	http_request req = {
	    .method = st->method,
	    .path = st->path,
	    .headers = st->headers,
	    .nheaders = st->nheaders,
	    .body = st->body_len ? st->body : NULL,
	    .body_len = st->body_len,
	    .h1 = false,
	    .arrived_ns = c->read_ns,
	};
	http_response resp;
	if (http_call_handler(c, st, &req, &resp))
		submit_response(c, st, &resp);
}

/* --- streams ------------------------------------------------------------- */

/* A NUL-terminated copy of name (and, when value is not NULL, a second
 * one of value right after it) that lives as long as st: in st->text
 * while it has room, so a usual request allocates nothing for its text. */
static char *stash(stream *st, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen)
{
	size_t need = nlen + 1 + (value ? vlen + 1 : 0);
	char *p;
	if (need <= sizeof st->text - st->text_used) {
		p = st->text + st->text_used;
		st->text_used += need;
	} else {
		spill *sp = blk_xalloc(sizeof *sp + need);
		sp->next = st->spills;
		st->spills = sp;
		p = sp->text;
	}
	memcpy(p, name, nlen);
	p[nlen] = '\0';
	if (value) {
		memcpy(p + nlen + 1, value, vlen);
		p[nlen + 1 + vlen] = '\0';
	}
	return p;
}

static void stream_free(stream *st)
{
	conn *c = st->c;
	if (st->prev)
		st->prev->next = st->next;
	else
		c->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	c->nstreams--;
	if (st->def) {
		st->def->c = NULL;
		st->def->st = NULL;
	}
	while (st->spills) {
		spill *sp = st->spills;
		st->spills = sp->next;
		blk_free(sp);
	}
	if (st->headers != st->inline_headers)
		free(st->headers);
	blk_free(st->body);
	blk_keep_buf(st->out);
	blk_free(st);
}

/* Every frame's header, before nghttp2 acts on it. A HEADERS frame that
 * would open a client stream id the client skipped, below the highest it
 * opened, is an unexpected stream identifier: a connection error of type
 * PROTOCOL_ERROR (RFC 9113 5.1.1). nghttp2 lets it pass by design, as a
 * race with RST_STREAM; the edge holds to the RFC. A HEADERS frame on an
 * id that was used (trailers, a closed stream, one nghttp2 refused
 * before it became a request) is nghttp2's to judge, so ids are recorded
 * here, as the client uses them, not when a request begins. */
static int on_begin_frame(nghttp2_session *sess, const nghttp2_frame_hd *hd, void *user)
{
	(void)sess;
	conn *c = user;
	int32_t id = hd->stream_id;
	if (hd->type != NGHTTP2_HEADERS || !(id & 1))
		return 0;
	if (id > c->last_req_id) {
		if (id > c->last_req_id + 2) { /* ids skipped: keep the run, forget the oldest */
			if (c->nid_holes == CONN_ID_HOLES) {
				memmove(c->id_holes, c->id_holes + 1,
				        sizeof c->id_holes[0] * (CONN_ID_HOLES - 1));
				c->nid_holes--;
			}
			c->id_holes[c->nid_holes][0] = c->last_req_id + (c->last_req_id ? 2 : 1);
			c->id_holes[c->nid_holes][1] = id - 2;
			c->nid_holes++;
		}
		c->last_req_id = id;
		return 0;
	}
	for (unsigned i = 0; i < c->nid_holes; i++) {
		if (id >= c->id_holes[i][0] && id <= c->id_holes[i][1]) {
			log_debug("headers on a stream id below one already used",
			          "peer=%s stream=%d "
			          "last=%d",
			          c->peer, id, c->last_req_id);
			return NGHTTP2_ERR_CALLBACK_FAILURE; /* the reader sends GOAWAY */
		}
	}
	return 0;
}

static int on_begin_headers(nghttp2_session *sess, const nghttp2_frame *frame, void *user)
{
	conn *c = user;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	/* From this thread's block cache: in steady state a stream reuses
	 * the memory of one that ended. Not zeroed whole: the text and
	 * header room need none. */
	stream *st = blk_alloc(sizeof *st);
	if (!st) {
		log_warn("cannot allocate stream state", "peer=%s stream=%d", c->peer,
		         frame->hd.stream_id);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	memset(st, 0, offsetof(stream, inline_headers));
	st->text_used = 0;
	st->spills = NULL;
	st->headers = st->inline_headers;
	st->headers_cap = STREAM_HEADERS;
	st->c = c;
	st->id = frame->hd.stream_id;
	st->started = c->read_ns / 1000000;
	int rv = nghttp2_session_set_stream_user_data(sess, st->id, st);
	if (rv != 0) {
		log_warn("cannot attach stream state", "peer=%s stream=%d reason=\"%s\"", c->peer,
		         st->id, nghttp2_strerror(rv));
		blk_free(st);
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	st->next = c->streams;
	if (c->streams)
		c->streams->prev = st;
	c->streams = st;
	c->nstreams++;
	return 0;
}

/* Parses a decimal content-length; false when it is over max. */
static bool length_within(const uint8_t *v, size_t len, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return true; /* nghttp2 rejects malformed values itself */
		size_t d = (size_t)(v[i] - '0');
		if (n > max / 10 || d > max - n * 10)
			return false;
		n = n * 10 + d;
	}
	return true;
}

static int on_header(nghttp2_session *sess, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
	(void)flags;
	conn *c = user;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* trailers are not kept */
	stream *st = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
	if (!st || st->reject)
		return 0;
	size_t max = c->host->max_header_list;
	if (namelen > max || valuelen > max ||
	    namelen + valuelen + HTTP_FIELD_OVERHEAD > max - st->header_bytes) {
		reject(c, st, 431);
		return 0;
	}
	st->header_bytes += namelen + valuelen + HTTP_FIELD_OVERHEAD;

	if (namelen && name[0] == ':') {
		if (name_is(name, namelen, ":method") && !st->method)
			st->method = stash(st, value, valuelen, NULL, 0);
		else if (name_is(name, namelen, ":path") && !st->path)
			st->path = stash(st, value, valuelen, NULL, 0);
		return 0;
	}
	if (name_is(name, namelen, "content-length") &&
	    !length_within(value, valuelen, c->host->max_body)) {
		reject(c, st, 413);
		return 0;
	}
	if (st->nheaders == st->headers_cap) {
		size_t cap = st->headers_cap * 2;
		http_header *h = xmalloc(cap * sizeof *h);
		memcpy(h, st->headers, st->nheaders * sizeof *h);
		if (st->headers != st->inline_headers)
			free(st->headers);
		st->headers = h;
		st->headers_cap = cap;
	}
	char *p = stash(st, name, namelen, value, valuelen);
	st->headers[st->nheaders++] = (http_header){
	    .name = p, .namelen = namelen, .value = p + namelen + 1, .valuelen = valuelen};
	return 0;
}

static int on_data_chunk(nghttp2_session *sess, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
	(void)flags;
	conn *c = user;
	stream *st = nghttp2_session_get_stream_user_data(sess, id);
	if (!st || st->reject || st->answered)
		return 0;
	size_t max = c->host->max_body;
	if (len > max - st->body_len) {
		reject(c, st, 413);
		return 0;
	}
	size_t need = st->body_len + len + 1; /* room for the trailing NUL */
	if (need > st->body_cap) {
		size_t cap = st->body_cap ? st->body_cap * 2 : 240; /* a 256-byte block */
		if (cap < need)
			cap = need;
		if (cap > max + 1)
			cap = max + 1;
		/* From the thread's block cache: a like's body is a few bytes,
		 * and a malloc per request showed in the profile (1.5%). */
		st->body = blk_xrealloc(st->body, cap);
		st->body_cap = cap;
	}
	memcpy(st->body + st->body_len, data, len);
	st->body_len += len;
	st->body[st->body_len] = '\0';
	return 0;
}

/* One RST_STREAM from the client: a token from its bucket. A client that
 * opens and cancels streams in a loop (the rapid-reset attack) makes the
 * server start work it never gets to finish; once the bucket is empty it
 * gets GOAWAY ENHANCE_YOUR_CALM and is closed once that is written. */
static void count_reset(nghttp2_session *sess, conn *c)
{
	http_host *h = c->host;
	uint64_t now = clock_mono_ms();
	if (now > c->reset_ms) {
		c->reset_tokens += (double)(now - c->reset_ms) * h->reset_rate / 1000.0;
		if (c->reset_tokens > h->reset_burst)
			c->reset_tokens = h->reset_burst;
	}
	c->reset_ms = now;
	if (c->reset_tokens >= 1) {
		c->reset_tokens -= 1;
		return;
	}
	if (nghttp2_session_want_read(sess) == 0)
		return; /* already going */
	http_refused(h, HTTP_REFUSED_RESETS);
	log_info("client cut off: too many stream resets", "peer=%s burst=%u rate=%u", c->peer,
	         h->reset_burst, h->reset_rate);
	int rv = nghttp2_session_terminate_session(sess, NGHTTP2_ENHANCE_YOUR_CALM);
	if (rv != 0)
		log_warn("cannot queue goaway", "peer=%s reason=\"%s\"", c->peer,
		         nghttp2_strerror(rv));
}

static int on_frame_recv(nghttp2_session *sess, const nghttp2_frame *frame, void *user)
{
	conn *c = user;
	if (frame->hd.type == NGHTTP2_RST_STREAM) {
		count_reset(sess, c);
		return 0;
	}
	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	stream *st = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
	if (!st)
		return 0;
	if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
	    (!st->method || !st->path))
		reject(c, st, 400);
	if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
		st->request_done = true;
		if (!st->answered)
			dispatch(c, st);
	}
	return 0;
}

/* A response that went out before its request ended: tell the client to
 * stop sending the rest of it. */
static int on_frame_send(nghttp2_session *sess, const nghttp2_frame *frame, void *user)
{
	conn *c = user;
	/* nghttp2 refuses a stream over SETTINGS_MAX_CONCURRENT_STREAMS with
	 * REFUSED_STREAM (before the client has our SETTINGS) or
	 * PROTOCOL_ERROR (after), and it never reaches on_begin_headers. */
	if (frame->hd.type == NGHTTP2_RST_STREAM &&
	    (frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM ||
	     frame->rst_stream.error_code == NGHTTP2_PROTOCOL_ERROR) &&
	    !nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id) &&
	    c->nstreams >= c->host->max_streams) {
		http_refused(c->host, HTTP_REFUSED_STREAMS);
		return 0;
	}
	if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	stream *st = nghttp2_session_get_stream_user_data(sess, frame->hd.stream_id);
	if (!st || st->request_done)
		return 0;
	int rv = nghttp2_submit_rst_stream(sess, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_NO_ERROR);
	if (rv != 0)
		log_warn("cannot reset stream", "peer=%s stream=%d reason=\"%s\"", c->peer, st->id,
		         nghttp2_strerror(rv));
	return 0;
}

static int on_stream_close(nghttp2_session *sess, int32_t id, uint32_t code, void *user)
{
	conn *c = user;
	stream *st = nghttp2_session_get_stream_user_data(sess, id);
	if (code != NGHTTP2_NO_ERROR)
		log_debug("stream reset", "peer=%s stream=%d code=%u", c->peer, id, code);
	if (st)
		stream_free(st);
	return 0;
}

static int on_session_error(nghttp2_session *sess, int code, const char *msg, size_t len,
                            void *user)
{
	(void)sess;
	conn *c = user;
	log_debug("http2 protocol error", "peer=%s code=%d reason=\"%.*s\"", c->peer, code,
	          (int)len, msg);
	return 0;
}

/* --- the session ---------------------------------------------------------- */

nghttp2_session_callbacks *http2_callbacks_new(char *err, size_t errlen)
{
	nghttp2_session_callbacks *cbs;
	int rv = nghttp2_session_callbacks_new(&cbs);
	if (rv != 0) {
		snprintf(err, errlen, "cannot create http2 callbacks: %s", nghttp2_strerror(rv));
		return NULL;
	}
	nghttp2_session_callbacks_set_on_begin_frame_callback(cbs, on_begin_frame);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	nghttp2_session_callbacks_set_error_callback2(cbs, on_session_error);
	return cbs;
}

/* Moves frames from the session to the socket (cleartext, nothing
 * queued: written at once, up to HTTP_OUT_HIGH a call) or into the
 * bufferevent's output, until ~HTTP_OUT_HIGH is queued. 0, or ERR_IO. */
static int http2_flush(conn *c)
{
	/* nghttp2 hands out a frame at a time; they are gathered here and
	 * written or queued at once, which costs as much as a small frame. */
	uint8_t gather[16 * 1024];
	size_t used = 0, sent = 0;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int rc = 0;
	while (evbuffer_get_length(out) + used < HTTP_OUT_HIGH) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(c->sess, &data);
		if (n < 0) {
			log_warn("http2 send failed", "peer=%s reason=\"%s\"", c->peer,
			         nghttp2_strerror((int)n));
			rc = ERR_IO;
			break;
		}
		if (n == 0)
			break;
		if ((size_t)n <= sizeof gather - used) {
			memcpy(gather + used, data, (size_t)n);
			used += (size_t)n;
			continue;
		}
		/* data is only valid until the next mem_send: out with what is
		 * gathered, then data itself. */
		if ((used && http_conn_out(c, gather, used, &sent) != 0) ||
		    http_conn_out(c, data, (size_t)n, &sent) != 0)
			return ERR_IO;
		used = 0;
	}
	if (used && http_conn_out(c, gather, used, &sent) != 0)
		return ERR_IO;
	return rc;
}

/* Sends GOAWAY with code and closes once it is written. */
static void shutdown_session(conn *c, uint32_t code)
{
	int rv = nghttp2_session_terminate_session(c->sess, code);
	if (rv != 0)
		log_debug("cannot queue goaway", "peer=%s reason=\"%s\"", c->peer,
		          nghttp2_strerror(rv));
	else if (http2_flush(c) != 0) {
		http_conn_free(c);
		return;
	}
	http_conn_close(c, false);
}

/* c has been idle for the idle timeout: sends GOAWAY and closes once it
 * is written. */
static void http2_idle(conn *c)
{
	log_debug("closing idle connection", "peer=%s", c->peer);
	shutdown_session(c, NGHTTP2_NO_ERROR);
}

/* After reading, writing or a finished deferred answer: sends what the
 * session has, closes c once the session is done, and stops reading
 * while ~HTTP_OUT_HIGH is queued. */
static void http2_progress(conn *c)
{
	if (http2_flush(c) != 0) {
		http_conn_free(c);
		return;
	}
	if (!nghttp2_session_want_read(c->sess) && !nghttp2_session_want_write(c->sess)) {
		log_debug("connection done", "peer=%s", c->peer);
		/* Linger: a client still sending (one cut off for resets, say)
		 * would otherwise get a TCP reset that eats our GOAWAY. */
		http_conn_close(c, true);
		return;
	}
	bool over = http_conn_queued(c) >= HTTP_OUT_HIGH;
	if (over && !c->read_paused) {
		if (bufferevent_disable(c->bev, EV_READ) != 0) {
			log_warn("cannot pause reading", "peer=%s", c->peer);
			http_conn_free(c);
			return;
		}
		c->read_paused = true;
	} else if (!over && c->read_paused) {
		if (bufferevent_enable(c->bev, EV_READ) != 0) {
			log_warn("cannot resume reading", "peer=%s", c->peer);
			http_conn_free(c);
			return;
		}
		c->read_paused = false;
	}
}

/* nghttp2's memory comes from the thread's block cache (blkcache.h): a
 * request's stream, frames and header copies reuse what the last request
 * freed. A session lives and dies on its worker's thread. */
static void *h2_malloc(size_t n, void *user)
{
	(void)user;
	return blk_alloc(n);
}

static void h2_free(void *p, void *user)
{
	(void)user;
	blk_free(p);
}

static void *h2_calloc(size_t count, size_t size, void *user)
{
	(void)user;
	return blk_calloc(count, size);
}

static void *h2_realloc(void *p, size_t n, void *user)
{
	(void)user;
	return blk_realloc(p, n);
}

static nghttp2_mem h2_mem = {NULL, h2_malloc, h2_free, h2_calloc, h2_realloc};

static int http2_start(conn *c)
{
	http_host *h = c->host;
	c->reset_tokens = h->reset_burst; /* a full bucket, as of the accept */
	c->reset_ms = c->req_started;
	c->req_started = 0; /* the preface is in; streams time themselves */
	int rv = nghttp2_session_server_new3(&c->sess, h->cbs, c, NULL, &h2_mem);
	if (rv != 0) {
		log_warn("cannot create http2 session", "peer=%s reason=\"%s\"", c->peer,
		         nghttp2_strerror(rv));
		return ERR_IO;
	}
	uint32_t hl = h->max_header_list > UINT32_MAX ? UINT32_MAX : (uint32_t)h->max_header_list;
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, h->max_streams},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, hl},
	};
	rv = nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]);
	if (rv != 0) {
		log_warn("cannot submit settings", "peer=%s reason=\"%s\"", c->peer,
		         nghttp2_strerror(rv));
		return ERR_IO;
	}
	return http2_flush(c);
}

/* Answers 408 on every stream of c whose request began before since and
 * is not whole yet. */
static void http2_sweep(conn *c, uint64_t since)
{
	bool any = false;
	stream *next;
	for (stream *st = c->streams; st; st = next) {
		next = st->next; /* answering does not free streams; sending may */
		if (st->request_done || st->answered || st->reject || st->started > since)
			continue;
		log_debug("request timed out", "peer=%s stream=%d", c->peer, st->id);
		reject(c, st, 408);
		any = true;
	}
	if (any)
		http2_progress(c);
}

static void http2_read(conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	/* One clock read for every request this input completes: the 16 or
	 * so a client sends at once all arrived now, and the time they wait
	 * for the ones ahead of them counts in their latency. */
	c->read_ns = clock_mono_ns();
	while (evbuffer_get_length(in) > 0 && nghttp2_session_want_read(c->sess)) {
		size_t chunk = (size_t)evbuffer_get_contiguous_space(in);
		unsigned char *data = evbuffer_pullup(in, (ev_ssize_t)chunk);
		if (!data) {
			log_warn("cannot read input", "peer=%s", c->peer);
			http_conn_free(c);
			return;
		}
		ssize_t n = nghttp2_session_mem_recv(c->sess, data, chunk);
		if (n < 0) {
			log_debug("closing connection", "peer=%s reason=\"%s\"", c->peer,
			          nghttp2_strerror((int)n));
			/* A wrong preface too is a connection error of type
			 * PROTOCOL_ERROR (RFC 9113 3.4): GOAWAY, then close. */
			shutdown_session(c, NGHTTP2_PROTOCOL_ERROR);
			return;
		}
		if (evbuffer_drain(in, (size_t)n) != 0) {
			log_warn("cannot drain input", "peer=%s", c->peer);
			http_conn_free(c);
			return;
		}
	}
	http2_progress(c);
}

/* Frees the session and every stream, detaching pending deferred
 * answers; safe when the session was never made. */
static void http2_free(conn *c)
{
	nghttp2_session_del(c->sess);
	while (c->streams)
		stream_free(c->streams);
}

/* The drain: GOAWAY NO_ERROR with the last stream received; the open
 * streams are answered, then c closes. */
static unsigned http2_drain(conn *c)
{
	unsigned open = c->nstreams;
	int32_t last = nghttp2_session_get_last_proc_stream_id(c->sess);
	int rv = nghttp2_submit_goaway(c->sess, NGHTTP2_FLAG_NONE, last, NGHTTP2_NO_ERROR, NULL, 0);
	if (rv != 0)
		log_debug("cannot queue goaway", "peer=%s reason=\"%s\"", c->peer,
		          nghttp2_strerror(rv));
	/* Once the GOAWAY is out and no stream is open, the session wants
	 * neither reading nor writing: http2_progress closes c. */
	http2_progress(c);
	return open;
}

/* --- deferred answers ------------------------------------------------------ */

static void http2_attach(http_deferred *d)
{
	d->st->def = d;
}

static void http2_finish(http_deferred *d, http_response *resp)
{
	d->st->def = NULL;
	if (!d->c->closing)
		submit_response(d->c, d->st, resp);
}

const http_proto_ops http2_ops = {
    .name = "h2",
    .start = http2_start,
    .read = http2_read,
    .written = http2_progress,
    .wake = http2_progress,
    .flush = http2_flush,
    .eof = http_conn_eof,
    .idle = http2_idle,
    .sweep = http2_sweep,
    .drain = http2_drain,
    .attach = http2_attach,
    .finish = http2_finish,
    .free = http2_free,
};
