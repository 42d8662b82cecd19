/* h1client.c - a small blocking HTTP/1.1 client for tests (h1client.h). */
#include "tests/support/h1client.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "clock.h"
#include "tests/support/h2client.h" /* H2CLIENT_WAIT_MS */
#include "xmem.h"

static int c_begin(http_parser *p)
{
	h1client *cl = p->data;
	cr_assert_lt(cl->n, H1CLIENT_MAX_ANSWERS);
	h1client_resp *r = &cl->r[cl->n];
	free(r->body);
	memset(r, 0, sizeof *r);
	cl->in_value = false;
	return 0;
}

static int c_field(http_parser *p, const char *at, size_t len)
{
	h1client *cl = p->data;
	h1client_resp *r = &cl->r[cl->n];
	if (cl->in_value || r->nhdrs == 0) {
		cr_assert_lt(r->nhdrs, H1CLIENT_MAX_HEADERS);
		r->nhdrs++;
		cl->in_value = false;
	}
	char *name = r->names[r->nhdrs - 1];
	strncat(name, at, len < 63 - strlen(name) ? len : 63 - strlen(name));
	return 0;
}

static int c_value(http_parser *p, const char *at, size_t len)
{
	h1client *cl = p->data;
	h1client_resp *r = &cl->r[cl->n];
	cl->in_value = true;
	char *v = r->values[r->nhdrs - 1];
	strncat(v, at, len < 255 - strlen(v) ? len : 255 - strlen(v));
	return 0;
}

static int c_headers_done(http_parser *p)
{
	h1client *cl = p->data;
	cl->r[cl->n].status = p->status_code;
	return cl->head[cl->n] ? 1 : 0; /* a HEAD answer has no body */
}

static int c_body(http_parser *p, const char *at, size_t len)
{
	h1client *cl = p->data;
	h1client_resp *r = &cl->r[cl->n];
	r->body = xrealloc(r->body, r->len + len + 1);
	memcpy(r->body + r->len, at, len);
	r->len += len;
	r->body[r->len] = '\0';
	return 0;
}

static int c_done(http_parser *p)
{
	h1client *cl = p->data;
	if (p->status_code >= 100 && p->status_code < 200)
		cl->interim++;
	else
		cl->n++;
	return 0;
}

static const http_parser_settings c_settings = {
    .on_message_begin = c_begin,
    .on_header_field = c_field,
    .on_header_value = c_value,
    .on_headers_complete = c_headers_done,
    .on_body = c_body,
    .on_message_complete = c_done,
};

bool h1client_open_tls(h1client *cl, int port, const tconn_tls *tls)
{
	memset(cl, 0, sizeof *cl);
	http_parser_init(&cl->p, HTTP_RESPONSE);
	cl->p.data = cl;
	bool ok = tconn_open(&cl->conn, port, tls);
	cr_assert(cl->conn.fd >= 0, "connect: %s", strerror(errno));
	return ok;
}

bool h1client_open(h1client *cl, int port, bool tls, const char *alpn, size_t alpn_len)
{
	tconn_tls o = {.alpn = alpn, .alpn_len = alpn_len};
	return h1client_open_tls(cl, port, tls ? &o : NULL);
}

void h1client_close(h1client *cl)
{
	for (int i = 0; i < H1CLIENT_MAX_ANSWERS; i++)
		free(cl->r[i].body);
	tconn_close(&cl->conn);
	memset(cl, 0, sizeof *cl);
	cl->conn.fd = -1;
}

void h1client_send(h1client *cl, const char *data, size_t len)
{
	cr_assert(tconn_write(&cl->conn, data, len), "send: %s", strerror(errno));
}

void h1client_send_str(h1client *cl, const char *s)
{
	h1client_send(cl, s, strlen(s));
}

bool h1client_pump(h1client *cl, int ms)
{
	if (cl->eof)
		return false;
	char buf[16384];
	ssize_t got = tconn_read(&cl->conn, buf, sizeof buf, ms);
	if (got < 0)
		return false;
	if (got == 0) {
		cl->eof = true;
		http_parser_execute(&cl->p, &c_settings, NULL, 0);
		return true;
	}
	size_t used = http_parser_execute(&cl->p, &c_settings, buf, (size_t)got);
	cr_assert_eq(used, (size_t)got, "client parser: %s",
	             http_errno_description(HTTP_PARSER_ERRNO(&cl->p)));
	return true;
}

bool h1client_wait(h1client *cl, int want)
{
	uint64_t end = clock_mono_ms() + H2CLIENT_WAIT_MS;
	while (cl->n < want) {
		if (cl->eof || clock_mono_ms() > end)
			return false;
		h1client_pump(cl, 20);
	}
	return true;
}

bool h1client_wait_eof(h1client *cl, int ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)ms;
	while (!cl->eof) {
		if (clock_mono_ms() > end)
			return false;
		h1client_pump(cl, 20);
	}
	return true;
}

const char *h1client_header(const h1client_resp *r, const char *name)
{
	for (int i = 0; i < r->nhdrs; i++) {
		if (strcasecmp(r->names[i], name) == 0)
			return r->values[i];
	}
	return NULL;
}

void h1client_assert_error(const h1client_resp *r, int status, const char *code)
{
	cr_assert_eq(r->status, status);
	cr_assert_str_eq(h1client_header(r, "content-type"), "application/json");
	cr_assert_str_eq(h1client_header(r, "connection"), "close");
	char want[64];
	snprintf(want, sizeof want, "{\"error\":{\"code\":\"%s\",\"message\":\"", code);
	cr_assert_not_null(r->body);
	cr_assert_eq(strncmp(r->body, want, strlen(want)), 0, "body: %s", r->body);
	cr_assert_eq(r->body[r->len - 1], '}');
}
