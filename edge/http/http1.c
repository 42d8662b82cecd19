/* http1.c - HTTP/1.x for the edge's HTTP server: http-parser reads
 * requests off a connection, the handler shared with HTTP/2 answers them,
 * and answers leave in request order. One request is handled at a time:
 * once a request is complete the parser pauses until its answer is queued
 * (at once for a plain answer, at http_finish for a deferred one) and the
 * output is below its high mark; pipelined bytes wait in the input,
 * which is capped.
 *
 * Owns each HTTP/1.1 connection's h1conn: the parser, the request being
 * read, and a pointer to the pending deferred answer (cleared on both
 * sides when either goes). The connection itself belongs to http.c,
 * which reaches this file only through http1_ops; this file calls down
 * into http_conn.c, h1strict.c and http_msg.c.
 * Runs only on the server's loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <http_parser.h>

#include "blkcache.h"
#include "clock.h"
#include "edge/http/h1strict.h"
#include "edge/http/http_int.h"
#include "log.h"
#include "xmem.h"

#define INPUT_MAX (64 * 1024) /* unparsed input buffered while a request waits */
#define TARGET_MAX 8192       /* a longer request target is refused with 414 */
#define CRLFS_MAX 8           /* empty lines ignored before a request line */

struct h1conn {
	http_parser p;
	/* the request being read */
	char *url;
	size_t url_len, url_cap;
	http_header *headers; /* each name+value is one allocation at ->name */
	size_t nheaders, headers_cap;
	char *field; /* the header being read: name, NUL, value */
	size_t field_len, field_cap, name_len;
	bool in_value; /* the last piece read was part of a value */
	bool trailers; /* past the header block: fields are counted, not kept */
	size_t header_bytes;
	char *body;
	size_t body_len, body_cap;
	int reject;             /* status to refuse the request with */
	const char *reject_why; /* message for a 400 of our own */
	/* the answer being made */
	bool keep; /* the connection stays open after it */
	bool v10;  /* to an HTTP/1.0 client */
	bool head; /* to a HEAD request: no body */
	http_deferred *def;
	/* why the parser waits */
	bool in_msg;   /* a request has begun and is not complete yet */
	bool out_wait; /* the output is over its high mark */
	bool done;     /* no more requests: close after the answer */
	bool peer_eof; /* the client shut its sending side: answer what it sent, then close */
	/* The strict framing of the request the parser reads (h1strict.h):
	 * no byte reaches http-parser before it has passed these checks,
	 * and none past the request's end, so the next head is checked too. */
	bool framed;      /* its head passed; the counts below hold */
	h1_head hs;       /* unframed: the lines of the head checked so far */
	unsigned crlfs;   /* unframed: empty lines skipped before the head */
	size_t no_lf;     /* unframed: input bytes already looked at for a LF */
	bool no_lf_seen;  /* unframed: a LF has come (the request line ended) */
	size_t head_left; /* head bytes not yet given to the parser */
	bool chunked;
	uint64_t body_left; /* Content-Length bytes not yet given */
	h1_chunks chunks;
};

/* --- request state ------------------------------------------------------- */

/* Appends n bytes at *buf, keeping room for a NUL after them. */
static void append(char **buf, size_t *len, size_t *cap, const char *at, size_t n)
{
	if (n + 1 > *cap - *len || !*buf) {
		size_t want = *len + n + 1;
		size_t c = *cap ? *cap : 64;
		while (c < want)
			c *= 2;
		*buf = xrealloc(*buf, c);
		*cap = c;
	}
	memcpy(*buf + *len, at, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static void request_reset(h1conn *h)
{
	for (size_t i = 0; i < h->nheaders; i++)
		free((char *)h->headers[i].name);
	free(h->headers);
	free(h->url);
	free(h->field);
	free(h->body);
	h->url = h->field = h->body = NULL;
	h->headers = NULL;
	h->url_len = h->url_cap = h->field_len = h->field_cap = h->name_len = 0;
	h->nheaders = h->headers_cap = h->header_bytes = 0;
	h->body_len = h->body_cap = 0;
	h->in_value = false;
	h->trailers = false;
}

/* Counts n more header bytes; false (and a 431) past the cap. */
static bool count(conn *c, size_t n)
{
	h1conn *h = c->h1;
	size_t max = c->host->max_header_list;
	if (h->header_bytes > max || n > max - h->header_bytes) {
		h->reject = 431;
		return false;
	}
	h->header_bytes += n;
	return true;
}

/* Moves the header being read into the list. */
static void push_header(h1conn *h)
{
	if (!h->field)
		return;
	if (!h->in_value) { /* a name with no value callback: empty value */
		h->name_len = h->field_len;
		append(&h->field, &h->field_len, &h->field_cap, "", 1);
	}
	while (h->field_len > h->name_len + 1 &&
	       (h->field[h->field_len - 1] == ' ' || h->field[h->field_len - 1] == '\t'))
		h->field[--h->field_len] = '\0'; /* trailing whitespace is not the value's */
	if (h->nheaders == h->headers_cap) {
		h->headers_cap = h->headers_cap ? h->headers_cap * 2 : 8;
		h->headers = xrealloc(h->headers, h->headers_cap * sizeof *h->headers);
	}
	h->headers[h->nheaders++] = (http_header){.name = h->field,
	                                          .namelen = h->name_len,
	                                          .value = h->field + h->name_len + 1,
	                                          .valuelen = h->field_len - h->name_len - 1};
	h->field = NULL;
	h->field_len = h->field_cap = h->name_len = 0;
	h->in_value = false;
}

/* The request target in origin form: an absolute URI loses its scheme
 * and authority, so handlers route on the path alone. */
static const char *origin_form(h1conn *h)
{
	if (!h->url || !h->url[0])
		return "/";
	if (h->url[0] == '/' || h->p.method == HTTP_CONNECT || strcmp(h->url, "*") == 0)
		return h->url;
	struct http_parser_url u;
	http_parser_url_init(&u);
	if (http_parser_parse_url(h->url, h->url_len, 0, &u) != 0 ||
	    !(u.field_set & (1 << UF_PATH)))
		return "/";
	return h->url + u.field_data[UF_PATH].off;
}

/* --- answers --------------------------------------------------------------- */

static void free_body(const void *data, size_t len, void *arg)
{
	(void)len, (void)arg;
	blk_keep_buf((void *)data);
}

/* Queues resp as the answer to the current request, taking its body. */
static void write_answer(conn *c, http_response *resp)
{
	h1conn *h = c->h1;
	int status = http_response_check(c, 0, resp);
	bool has_body = http_status_has_body(status);
	const char *ctype = resp->content_type ? resp->content_type : "application/json";
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int bad =
	    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, http_status_reason(status)) < 0;
	bad |= evbuffer_add_printf(out, "date: %s\r\n", http_date_now()) < 0;
	if (ctype[0])
		bad |= evbuffer_add_printf(out, "content-type: %s\r\n", ctype) < 0;
	for (size_t i = 0; i < resp->nheaders && i < HTTP_MAX_RESP_HEADERS; i++) {
		const http_header *hd = &resp->headers[i];
		bad |= evbuffer_add_printf(out, "%.*s: %.*s\r\n", (int)hd->namelen, hd->name,
		                           (int)hd->valuelen, hd->value) < 0;
	}
	if (has_body)
		bad |= evbuffer_add_printf(out, "content-length: %zu\r\n", resp->body_len) < 0;
	if (!h->keep)
		bad |= evbuffer_add(out, "connection: close\r\n", 19);
	else if (h->v10)
		bad |= evbuffer_add(out, "connection: keep-alive\r\n", 24);
	bad |= evbuffer_add(out, "\r\n", 2);
	if (has_body && !h->head && resp->body_len) {
		if (evbuffer_add_reference(out, resp->body, resp->body_len, free_body, NULL) == 0)
			resp->body = NULL; /* the buffer frees it once sent */
		else
			bad = 1;
	}
	free(resp->body);
	resp->body = NULL;
	if (bad) {
		log_warn("cannot queue answer", "peer=%s status=%d", c->peer, status);
		h->done = true;
	}
}

/* Answers a request the handler never sees, and ends the connection. */
static void refuse(conn *c, enum http_errno e)
{
	h1conn *h = c->h1;
	int status = h->reject ? h->reject : e == HPE_HEADER_OVERFLOW ? 431 : 400;
	char why[160];
	snprintf(why, sizeof why, "the request is not valid HTTP/1.1: %s",
	         h->reject_why ? h->reject_why : http_errno_description(e));
	log_debug("request refused", "peer=%s status=%d parser=%s", c->peer, status,
	          http_errno_name(e));
	h->keep = false;
	h->head = false;
	h->done = true;
	http_response resp;
	http_response_init(&resp);
	http_response_refuse(c, &resp, status, why);
	write_answer(c, &resp);
}

static void dispatch(conn *c)
{
	h1conn *h = c->h1;
	http_request req = {
	    .method = http_method_str((enum http_method)h->p.method),
	    .path = origin_form(h),
	    .headers = h->headers,
	    .nheaders = h->nheaders,
	    .body = h->body_len ? h->body : NULL,
	    .body_len = h->body_len,
	    .h1 = true,
	    .arrived_ns = clock_mono_ns(),
	};
	http_response resp;
	if (http_call_handler(c, NULL, &req, &resp))
		write_answer(c, &resp);
}

/* --- parser callbacks ------------------------------------------------------ */

static int on_message_begin(http_parser *p)
{
	conn *c = p->data;
	request_reset(c->h1);
	c->h1->in_msg = true;
	if (!c->req_started)
		c->req_started = clock_mono_ms();
	return count(c, HTTP_FIELD_OVERHEAD) ? 0 : -1; /* the target, as :path */
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	conn *c = p->data;
	h1conn *h = c->h1;
	if (!count(c, n))
		return -1;
	append(&h->url, &h->url_len, &h->url_cap, at, n);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	conn *c = p->data;
	h1conn *h = c->h1;
	if (h->trailers) /* chunked trailers are dropped, as HTTP/2 drops them */
		return count(c, n + HTTP_FIELD_OVERHEAD) ? 0 : -1;
	if (h->in_value || !h->field) {
		push_header(h);
		if (!count(c, HTTP_FIELD_OVERHEAD))
			return -1;
	}
	if (!count(c, n))
		return -1;
	size_t from = h->field_len;
	append(&h->field, &h->field_len, &h->field_cap, at, n);
	for (size_t i = from; i < h->field_len; i++) {
		char ch = h->field[i];
		if (ch >= 'A' && ch <= 'Z')
			h->field[i] = (char)(ch - 'A' + 'a');
	}
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	conn *c = p->data;
	h1conn *h = c->h1;
	if (h->trailers)
		return count(c, n) ? 0 : -1;
	if (!h->field)
		return 0; /* cannot happen: a value follows a name */
	if (!h->in_value) {
		h->name_len = h->field_len;
		append(&h->field, &h->field_len, &h->field_cap, "", 1);
		h->in_value = true;
	}
	if (!count(c, n))
		return -1;
	append(&h->field, &h->field_len, &h->field_cap, at, n);
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	conn *c = p->data;
	h1conn *h = c->h1;
	push_header(h);
	h->trailers = true;
	if (p->http_major != 1) {
		h->reject = 400;
		h->reject_why = "only HTTP/1.0 and HTTP/1.1 are served";
		return -1;
	}
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->host->max_body) {
		h->reject = 413;
		return -1;
	}
	/* A client waiting for leave to send its body gets it: answers
	 * before this one are already queued, so order holds. */
	const http_header *expect = NULL;
	for (size_t i = 0; i < h->nheaders; i++) {
		if (h->headers[i].namelen == 6 && memcmp(h->headers[i].name, "expect", 6) == 0)
			expect = &h->headers[i];
	}
	if (expect && p->http_minor >= 1 && strcasecmp(expect->value, "100-continue") == 0 &&
	    evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25) != 0)
		log_debug("cannot queue 100 continue", "peer=%s", c->peer);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	conn *c = p->data;
	h1conn *h = c->h1;
	if (n > c->host->max_body - h->body_len) {
		h->reject = 413;
		return -1;
	}
	append(&h->body, &h->body_len, &h->body_cap, at, n);
	return 0;
}

static int on_message_complete(http_parser *p)
{
	conn *c = p->data;
	h1conn *h = c->h1;
	h->in_msg = false;
	h->keep = http_should_keep_alive(p) && !p->upgrade && !c->host->draining;
	h->v10 = p->http_minor == 0;
	h->head = p->method == HTTP_HEAD;
	c->req_started = 0;
	dispatch(c);
	request_reset(h);
	if (!h->keep)
		h->done = true; /* an Upgrade is ignored: answer, then close */
	if (http_conn_queued(c) >= HTTP_OUT_HIGH)
		h->out_wait = true;
	if (h->def || h->done || h->out_wait)
		http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* --- driving the parser ------------------------------------------------- */

/* Refuses the request being read with status and why (a 400 of ours). */
static void refuse_strict(conn *c, int status, const char *why)
{
	c->h1->reject = status;
	c->h1->reject_why = why;
	refuse(c, HPE_UNKNOWN);
}

/* How many of the avail bytes at data the parser may read now: the rest
 * of the current request's head and body as h1strict checked them, never
 * past the request's end. 0: wait for more input, or the request was
 * refused (h->done). */
static size_t frame(conn *c, const char *data, size_t avail)
{
	h1conn *h = c->h1;
	if (!h->framed) {
		/* RFC 9112 section 2.2: empty lines before a request line are
		 * ignored (some clients send one after a body), a few of them;
		 * the parser skips them too. They start no request timer. */
		if (h->no_lf == 0 && data[0] == '\r') {
			if (avail < 2)
				return 0;
			if (data[1] == '\n' && h->crlfs < CRLFS_MAX) {
				h->crlfs++;
				return 2;
			}
		}
		/* A request has begun: it must be whole within the request
		 * timeout (the first one on a connection is timed from accept). */
		if (!c->req_started)
			c->req_started = clock_mono_ms();
		/* A head is checked only when a line has ended since the last
		 * check, and each line once (h1strict_head_step), so a client
		 * sending a byte at a time costs linear work; the head is
		 * bounded by the header list size. */
		size_t head_max = c->host->max_header_list + TARGET_MAX;
		if (head_max > INPUT_MAX)
			head_max = INPUT_MAX;
		bool line_end = h->no_lf < avail && memchr(data + h->no_lf, '\n', avail - h->no_lf);
		bool first_line_long = !h->no_lf_seen && avail > TARGET_MAX + 64;
		if (!line_end && !first_line_long && avail < head_max) {
			h->no_lf = avail;
			return 0;
		}
		h->no_lf_seen = h->no_lf_seen || line_end;
		h->no_lf = avail;
		h1_head_info info;
		int status = 400;
		const char *why = NULL;
		h1s_result r =
		    h1strict_head_step(&h->hs, data, avail, TARGET_MAX, &info, &status, &why);
		if (r == H1S_MORE && first_line_long && !line_end) {
			r = H1S_BAD; /* a request line longer than any this server reads */
			if (status != 414) {
				status = 400;
				why = "a request line longer than this server reads";
			}
		} else if (r == H1S_MORE && avail < head_max) {
			return 0;
		} else if (r == H1S_MORE) {
			status = 431;
			why = "a request head larger than this server reads";
		}
		if (r != H1S_OK) {
			refuse_strict(c, status, why);
			return 0;
		}
		h->framed = true;
		h->no_lf = 0;
		h->no_lf_seen = false;
		h->crlfs = 0;
		h1strict_head_init(&h->hs);
		h->head_left = info.head_len;
		h->chunked = info.chunked;
		h->body_left = info.length;
		h1strict_chunks_init(&h->chunks);
	}
	size_t take = avail < h->head_left ? avail : h->head_left;
	h->head_left -= take;
	if (h->head_left)
		return take;
	bool end;
	if (h->chunked) {
		const char *why = NULL;
		ssize_t k = h1strict_chunks(&h->chunks, data + take, avail - take, &end, &why);
		if (k < 0) {
			refuse_strict(c, 400, why);
			return 0;
		}
		take += (size_t)k;
	} else {
		size_t k = avail - take;
		if (k > h->body_left)
			k = (size_t)h->body_left;
		h->body_left -= k;
		take += k;
		end = h->body_left == 0;
	}
	if (end)
		h->framed = false;
	return take;
}

/* Parses buffered input while nothing holds the next request back; closes
 * the connection once the last answer is queued. May free c. */
static void process(conn *c)
{
	h1conn *h = c->h1;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	while (!h->def && !h->done && !h->out_wait && evbuffer_get_length(in) > 0) {
		if (HTTP_PARSER_ERRNO(&h->p) == HPE_PAUSED)
			http_parser_pause(&h->p, 0);
		size_t avail = evbuffer_get_length(in);
		char *data = (char *)evbuffer_pullup(in, -1); /* a head is checked whole */
		if (!data) {
			log_warn("cannot read input", "peer=%s", c->peer);
			http_conn_free(c);
			return;
		}
		size_t chunk = frame(c, data, avail);
		if (!chunk)
			break; /* more input is needed, or the request was refused */
		size_t n = http_parser_execute(&h->p, &settings, data, chunk);
		enum http_errno e = HTTP_PARSER_ERRNO(&h->p);
		if (e != HPE_OK && e != HPE_PAUSED) {
			refuse(c, e);
			break;
		}
		if (evbuffer_drain(in, n) != 0) {
			log_warn("cannot drain input", "peer=%s", c->peer);
			http_conn_free(c);
			return;
		}
		if (e == HPE_OK && n < chunk)
			h->done = true; /* the parser stops after an Upgrade */
	}
	if (h->peer_eof && !h->def && !h->out_wait)
		h->done = true; /* every whole request it sent is answered */
	if (h->done && !h->def)
		http_conn_close(c, !h->peer_eof); /* no lingering for a peer that sends no more */
}

static int http1_start(conn *c)
{
	h1conn *h = xcalloc(1, sizeof *h);
	http_parser_init(&h->p, HTTP_REQUEST);
	h->p.data = c;
	c->h1 = h;
	/* Reading stops while this much waits unparsed behind a request. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, INPUT_MAX);
	return 0;
}

static void http1_read(conn *c)
{
	process(c);
}

static void http1_written(conn *c)
{
	c->h1->out_wait = false;
	process(c);
}

static void http1_wake(conn *c)
{
	process(c);
}

static void http1_eof(conn *c)
{
	h1conn *h = c->h1;
	log_debug("peer shut its sending side", "peer=%s", c->peer);
	/* With an answer pending the client counts as gone, unless that
	 * answer is a write's outcome (http_deferred_keep). Else the client
	 * may have shut only its sending side after its last request (a
	 * half-close): every whole request it sent is answered, in order,
	 * and then the connection closes. A client that closed both ways
	 * makes the writes fail, which frees the connection. */
	if (h->def && !h->def->keep) {
		http_conn_free(c);
		return;
	}
	h->peer_eof = true;
	if (bufferevent_disable(c->bev, EV_READ) != 0) {
		http_conn_free(c);
		return;
	}
	process(c);
}

static void http1_free(conn *c)
{
	h1conn *h = c->h1;
	if (h->def)
		h->def->c = NULL;
	request_reset(h);
	free(h);
	c->h1 = NULL;
}

/* The request under way on c took too long: answers 408 and closes. */
static void http1_timeout(conn *c)
{
	h1conn *h = c->h1;
	c->req_started = 0;
	h->keep = false;
	h->head = false;
	h->done = true;
	http_response resp;
	http_response_init(&resp);
	http_response_refuse(c, &resp, 408, NULL);
	write_answer(c, &resp);
	http_conn_close(c, true);
}

static void http1_sweep(conn *c, uint64_t since)
{
	if (!c->req_started || c->req_started > since)
		return;
	log_debug("request timed out", "peer=%s", c->peer);
	http1_timeout(c); /* counts it with its 408 */
}

/* Answers leave as they are made: nothing is held back to flush. */
static int http1_flush(conn *c)
{
	(void)c;
	return 0;
}

/* The drain: the request under way (if any) is answered with
 * "connection: close", then c closes; with none it closes now. */
static unsigned http1_drain(conn *c)
{
	h1conn *h = c->h1;
	if (h->def) {
		/* Its answer says "connection: close"; process() then closes. */
		h->keep = false;
		h->done = true;
		return 1;
	}
	/* A request under way, parsed or still arriving unchecked, is
	 * answered first: on_message_complete sees host->draining. */
	if (h->in_msg || h->framed || h->no_lf > 0)
		return 1;
	h->done = true;
	http_conn_close(c, true); /* once what is queued is written */
	return 0;
}

static void http1_attach(http_deferred *d)
{
	d->c->h1->def = d;
}

static void http1_finish(http_deferred *d, http_response *resp)
{
	conn *c = d->c;
	h1conn *h = c->h1;
	h->def = NULL;
	if (!c->closing)
		write_answer(c, resp);
}

const http_proto_ops http1_ops = {
    .name = "http/1.1",
    .start = http1_start,
    .read = http1_read,
    .written = http1_written,
    .wake = http1_wake,
    .flush = http1_flush,
    .eof = http1_eof,
    .idle = http_conn_stalled, /* HTTP/1.1 has no way to say goodbye */
    .sweep = http1_sweep,
    .drain = http1_drain,
    .attach = http1_attach,
    .finish = http1_finish,
    .free = http1_free,
};
