/* http_msg.c - requests and answers as values (http_msg.h): finding a
 * request's header, adding an answer's, setting an answer up and moving
 * it, the JSON error body, the status line's reason and the Date
 * header's text. No I/O and no connection; any thread.
 */
#include "edge/http/http_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sbuf.h"

/* --- requests -------------------------------------------------------------- */

const http_header *http_find_header(const http_request *req, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < req->nheaders; i++) {
		const http_header *h = &req->headers[i];
		if (h->namelen == len && memcmp(h->name, name, len) == 0)
			return h;
	}
	return NULL;
}

bool http_method_known(const char *m, size_t n)
{
	static const char *const known[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
	                                    "CONNECT", "OPTIONS", "TRACE", "PATCH"};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strlen(known[i]) == n && memcmp(known[i], m, n) == 0)
			return true;
	return false;
}

/* --- answers --------------------------------------------------------------- */

int http_add_header(http_response *resp, const char *name, const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value);
	if (nlen == 0 || name[0] == ':' || (nlen == 12 && !memcmp(name, "content-type", 12)) ||
	    (nlen == 14 && !memcmp(name, "content-length", 14)) ||
	    (nlen == 10 && !memcmp(name, "connection", 10)) ||
	    (nlen == 17 && !memcmp(name, "transfer-encoding", 17)))
		return ERR_INVAL;
	for (size_t i = 0; i < nlen; i++) {
		/* Lower case, and nothing that could end a line or a name in
		 * an HTTP/1.1 header block. */
		unsigned char ch = (unsigned char)name[i];
		if ((ch >= 'A' && ch <= 'Z') || ch <= ' ' || ch == ':' || ch >= 0x7f)
			return ERR_INVAL;
	}
	if (strpbrk(value, "\r\n"))
		return ERR_INVAL;
	if (resp->nheaders >= HTTP_MAX_RESP_HEADERS || resp->hbuf_used > sizeof resp->hbuf ||
	    nlen + vlen + 2 > sizeof resp->hbuf - resp->hbuf_used)
		return ERR_TOOBIG;
	char *p = resp->hbuf + resp->hbuf_used;
	memcpy(p, name, nlen + 1);
	memcpy(p + nlen + 1, value, vlen + 1);
	resp->headers[resp->nheaders++] =
	    (http_header){.name = p, .namelen = nlen, .value = p + nlen + 1, .valuelen = vlen};
	resp->hbuf_used += nlen + vlen + 2;
	return 0;
}

bool http_has_header(const http_response *resp, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < resp->nheaders; i++)
		if (resp->headers[i].namelen == n &&
		    strncasecmp(resp->headers[i].name, name, n) == 0)
			return true;
	return false;
}

void http_response_init(http_response *resp)
{
	/* Field by field: headers[] and hbuf (1.4 KB) are only read below
	 * nheaders and hbuf_used, and this runs for every request. */
	resp->status = 200;
	resp->content_type = NULL;
	resp->nheaders = 0;
	resp->hbuf_used = 0;
	resp->body = NULL;
	resp->body_len = 0;
}

void http_response_move(http_response *dst, http_response *src)
{
	/* The used part only, as http_response_init leaves the rest unset. */
	dst->status = src->status;
	dst->content_type = src->content_type;
	dst->hbuf_used = src->hbuf_used;
	memcpy(dst->hbuf, src->hbuf, src->hbuf_used);
	dst->nheaders = src->nheaders;
	for (size_t i = 0; i < src->nheaders; i++) {
		const http_header *h = &src->headers[i];
		dst->headers[i] = (http_header){.name = dst->hbuf + (h->name - src->hbuf),
		                                .namelen = h->namelen,
		                                .value = dst->hbuf + (h->value - src->hbuf),
		                                .valuelen = h->valuelen};
	}
	dst->body = src->body;
	dst->body_len = src->body_len;
	src->body = NULL;
	src->body_len = 0;
}

bool http_status_has_body(int status)
{
	return status != 204 && status != 304;
}

void http_response_error(http_response *resp, int status, const char *code, const char *message)
{
	resp->status = status;
	resp->content_type = NULL;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	sbuf b;
	sbuf_init(&b);
	sbuf_adderror(&b, code, message, NULL);
	resp->body = sbuf_take(&b, &resp->body_len);
}

const char *http_date_now(void)
{
	/* One text per second, per loop thread (each worker has its own). */
	static _Thread_local char text[HTTP_DATE_LEN + 1];
	static _Thread_local time_t at = -1;
	time_t now = time(NULL);
	if (now != at) {
		struct tm tm;
		if (!gmtime_r(&now, &tm) ||
		    strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm) != HTTP_DATE_LEN)
			snprintf(text, sizeof text, "Thu, 01 Jan 1970 00:00:00 GMT");
		at = now;
	}
	return text;
}

const char *http_status_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 422: return "Unprocessable Content";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
