/* h2client.c - a small blocking HTTP/2 client for tests (h2client.h). */
#include "tests/support/h2client.h"

#include <criterion/criterion.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "clock.h"
#include "xmem.h"

static h2client_stream *find_stream(h2client *cl, int32_t id)
{
	for (int i = 0; i < cl->n; i++) {
		if (cl->st[i].id == id)
			return &cl->st[i];
	}
	return NULL;
}

static int c_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                       size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                       void *user)
{
	(void)s, (void)flags;
	h2client_stream *cs = find_stream(user, f->hd.stream_id);
	if (!cs)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		cs->status = atoi((const char *)value);
	} else if (cs->nhdrs < H2CLIENT_MAX_HEADERS) {
		snprintf(cs->names[cs->nhdrs], 64, "%.*s", (int)namelen, name);
		snprintf(cs->values[cs->nhdrs], 256, "%.*s", (int)valuelen, value);
		cs->nhdrs++;
	}
	return 0;
}

static int c_on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                     void *user)
{
	(void)s, (void)flags;
	h2client_stream *cs = find_stream(user, id);
	if (!cs)
		return 0;
	if (cs->len + len > cs->cap) {
		cs->cap = (cs->len + len) * 2;
		cs->body = xrealloc(cs->body, cs->cap + 1);
	}
	memcpy(cs->body + cs->len, data, len);
	cs->len += len;
	cs->body[cs->len] = '\0';
	return 0;
}

static int c_on_close(nghttp2_session *s, int32_t id, uint32_t code, void *user)
{
	(void)s;
	h2client_stream *cs = find_stream(user, id);
	if (cs) {
		cs->closed = true;
		cs->code = code;
	}
	return 0;
}

static int c_on_frame(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	(void)s;
	h2client *cl = user;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		cl->goaway = true;
		cl->goaway_code = f->goaway.error_code;
	}
	return 0;
}

static ssize_t c_read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                           uint32_t *flags, nghttp2_data_source *src, void *user)
{
	(void)s, (void)id, (void)user;
	h2client_stream *cs = src->ptr;
	size_t n = cs->send_len - cs->send_off;
	if (n > length)
		n = length;
	memcpy(buf, cs->send + cs->send_off, n);
	cs->send_off += n;
	if (cs->send_off == cs->send_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

bool h2client_open(h2client *cl, int port, bool tls, const char *alpn, size_t alpn_len)
{
	memset(cl, 0, sizeof *cl);
	tconn_tls o = {.alpn = alpn, .alpn_len = alpn_len};
	if (!tconn_open(&cl->conn, port, tls ? &o : NULL))
		return false;
	nghttp2_session_callbacks *cbs;
	cr_assert_eq(nghttp2_session_callbacks_new(&cbs), 0);
	nghttp2_session_callbacks_set_on_header_callback(cbs, c_on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, c_on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, c_on_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, c_on_frame);
	cr_assert_eq(nghttp2_session_client_new(&cl->sess, cbs, cl), 0);
	nghttp2_session_callbacks_del(cbs);
	/* Large windows so that only the server's own pacing limits output. */
	nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24}};
	cr_assert_eq(nghttp2_submit_settings(cl->sess, NGHTTP2_FLAG_NONE, iv, 1), 0);
	cr_assert_eq(nghttp2_session_set_local_window_size(cl->sess, NGHTTP2_FLAG_NONE, 0, 1 << 24),
	             0);
	return true;
}

void h2client_close(h2client *cl)
{
	for (int i = 0; i < cl->n; i++)
		free(cl->st[i].body);
	nghttp2_session_del(cl->sess);
	tconn_close(&cl->conn);
	memset(cl, 0, sizeof *cl);
	cl->conn.fd = -1;
}

size_t h2client_headers(const h2client *cl, nghttp2_nv *nv, const char *method, const char *path,
                        const char *xname, const char *xvalue)
{
	size_t n = 0;
#define NV(a, b)                                                                                   \
	nv[n++] = (nghttp2_nv)                                                                     \
	{                                                                                          \
		(uint8_t *)(a), (uint8_t *)(b), strlen(a), strlen(b), NGHTTP2_NV_FLAG_NONE         \
	}
	if (method)
		NV(":method", method);
	NV(":scheme", cl->conn.ssl ? "https" : "http");
	NV(":authority", "localhost");
	if (path)
		NV(":path", path);
	if (xname)
		NV(xname, xvalue);
#undef NV
	return n;
}

h2client_stream *h2client_request(h2client *cl, const char *method, const char *path,
                                  const char *body, size_t len, const char *xname,
                                  const char *xvalue)
{
	return h2client_request_with(cl, method, path, body, len, xname, xvalue, NULL, NULL);
}

h2client_stream *h2client_request_with(h2client *cl, const char *method, const char *path,
                                       const char *body, size_t len, const char *xname,
                                       const char *xvalue, const char *yname, const char *yvalue)
{
	cr_assert_lt(cl->n, H2CLIENT_MAX_STREAMS);
	h2client_stream *cs = &cl->st[cl->n];
	memset(cs, 0, sizeof *cs);
	cs->send = body;
	cs->send_len = len;
	nghttp2_nv nv[H2CLIENT_NV_MAX + 1];
	size_t n = h2client_headers(cl, nv, method, path, xname, xvalue);
	if (yname)
		nv[n++] = (nghttp2_nv){(uint8_t *)yname, (uint8_t *)yvalue, strlen(yname),
		                       strlen(yvalue), NGHTTP2_NV_FLAG_NONE};
	nghttp2_data_provider prd = {.source.ptr = cs, .read_callback = c_read_body};
	int32_t id = nghttp2_submit_request(cl->sess, NULL, nv, n, body ? &prd : NULL, NULL);
	cr_assert_gt(id, 0, "submit_request: %s", nghttp2_strerror(id));
	cs->id = id;
	cl->n++;
	return cs;
}

static bool all_closed(h2client *cl)
{
	for (int i = 0; i < cl->n; i++) {
		if (!cl->st[i].closed)
			return false;
	}
	return true;
}

void h2client_send(h2client *cl)
{
	const uint8_t *data;
	ssize_t n;
	while ((n = nghttp2_session_mem_send(cl->sess, &data)) > 0) {
		if (!tconn_write(&cl->conn, data, (size_t)n)) {
			cl->eof = true;
			return;
		}
	}
	cr_assert_geq(n, 0);
}

void h2client_pump(h2client *cl, int ms)
{
	h2client_send(cl);
	if (cl->eof)
		return;
	uint8_t buf[16384];
	ssize_t got = tconn_read(&cl->conn, buf, sizeof buf, ms);
	if (got < 0)
		return;
	if (got == 0) {
		cl->eof = true;
		return;
	}
	ssize_t used = nghttp2_session_mem_recv(cl->sess, buf, (size_t)got);
	cr_assert_eq(used, got, "client mem_recv: %s", nghttp2_strerror((int)used));
}

bool h2client_run(h2client *cl)
{
	uint64_t end = clock_mono_ms() + H2CLIENT_WAIT_MS;
	while (!all_closed(cl)) {
		if (cl->eof || clock_mono_ms() > end)
			return false;
		h2client_pump(cl, 20);
	}
	return true;
}

bool h2client_wait_eof(h2client *cl, int ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)ms;
	while (!cl->eof) {
		if (clock_mono_ms() > end)
			return false;
		h2client_pump(cl, 20);
	}
	return true;
}

const char *h2client_header(const h2client_stream *cs, const char *name)
{
	for (int i = 0; i < cs->nhdrs; i++) {
		if (strcmp(cs->names[i], name) == 0)
			return cs->values[i];
	}
	return NULL;
}

long h2client_goaway_code(const unsigned char *buf, size_t len)
{
	for (size_t at = 0; at + 9 <= len;) {
		size_t flen = (size_t)buf[at] << 16 | (size_t)buf[at + 1] << 8 | buf[at + 2];
		if (buf[at + 3] == 7 && flen >= 8 && at + 9 + flen <= len) {
			const unsigned char *e = buf + at + 9 + 4;
			return (long)((unsigned long)e[0] << 24 | (unsigned long)e[1] << 16 |
			              (unsigned long)e[2] << 8 | e[3]);
		}
		at += 9 + flen;
	}
	return -1;
}

long h2client_read_goaway(tconn *c, int ms)
{
	unsigned char buf[8192];
	return h2client_goaway_code(buf, tconn_read_to_eof(c, buf, sizeof buf, ms));
}
