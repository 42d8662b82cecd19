/* h1strict.c - strict HTTP/1.1 request heads and chunked framing
 * (h1strict.h). The grammar is RFC 9112's, read narrowly: whatever a
 * lenient peer might take one way and a strict one another is refused.
 */
#include "edge/http/h1strict.h"

#include <string.h>
#include <strings.h>

#include "edge/http/http_msg.h"

/* tchar of RFC 9110 section 5.6.2. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned hex_val(unsigned char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

/* Where the line starting at p ends: the offset of its CR (followed by
 * LF), -1 when it has not ended within n bytes, -2 for a bare CR or LF. */
static ssize_t line_end(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n')
			return -2;
		if (p[i] == '\r') {
			if (i + 1 == n)
				return -1;
			return p[i + 1] == '\n' ? (ssize_t)i : -2;
		}
	}
	return -1;
}

/* A field line "name:OWS value OWS" of n bytes (no CRLF); NULL when it is
 * well-formed (name and trimmed value out), else why not. */
static const char *field_line(const char *p, size_t n, const char **name, size_t *nlen,
                              const char **value, size_t *vlen)
{
	if (n && (p[0] == ' ' || p[0] == '\t'))
		return "a folded header line (obs-fold)";
	size_t i = 0;
	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == n || p[i] != ':') {
		if (i < n && (p[i] == ' ' || p[i] == '\t'))
			return "whitespace between a header name and its colon";
		return "a header line without a valid name and colon";
	}
	if (i == 0)
		return "a header line without a name";
	*name = p;
	*nlen = i;
	size_t a = i + 1, b = n;
	for (size_t k = a; k < n; k++) {
		unsigned char c = (unsigned char)p[k];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return "a control character in a header value";
	}
	while (a < b && (p[a] == ' ' || p[a] == '\t'))
		a++;
	while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t'))
		b--;
	*value = p + a;
	*vlen = b - a;
	return NULL;
}

static bool name_is(const char *name, size_t nlen, const char *want)
{
	return strlen(want) == nlen && strncasecmp(name, want, nlen) == 0;
}

/* Host: uri-host [":" port], with no room for another reading. */
static bool host_ok(const char *v, size_t n)
{
	size_t i = 0;
	if (n && v[0] == '[') { /* IP-literal */
		while (i < n && v[i] != ']')
			i++;
		if (i == n)
			return false;
		for (size_t k = 1; k < i; k++)
			if (!is_hex((unsigned char)v[k]) && !strchr(":.vV", v[k]))
				return false;
		i++;
	} else {
		for (; i < n && v[i] != ':'; i++) {
			unsigned char c = (unsigned char)v[i];
			bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			          (c >= 'A' && c <= 'Z') || strchr("-._~%!$&'()*+,;=", c);
			if (!c || !ok)
				return false;
		}
	}
	if (i == n)
		return true;
	if (v[i] != ':')
		return false;
	for (i++; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return true;
}

/* A Transfer-Encoding value: 0 when it is exactly "chunked", else the
 * status to refuse with (*why set). */
static int coding_list(const char *v, size_t n, const char **why)
{
	unsigned chunked = 0, other = 0;
	size_t i = 0;
	for (;;) {
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		size_t s = i;
		while (i < n && is_tchar((unsigned char)v[i]))
			i++;
		size_t e = i;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (e == s || (i < n && v[i] != ',')) {
			*why = "a malformed Transfer-Encoding";
			return 400;
		}
		if (e - s == 7 && strncasecmp(v + s, "chunked", 7) == 0)
			chunked++;
		else
			other++;
		if (i == n)
			break;
		i++; /* the comma */
	}
	if (chunked > 1) {
		*why = "chunked given more than once in Transfer-Encoding";
		return 400;
	}
	if (other) {
		*why = "a transfer coding other than chunked";
		return 501;
	}
	return 0;
}

/* A request line not ended yet: the status to refuse it with at once
 * when what has come can no longer be valid (*why set), else 0. */
static int partial_line(const char *p, size_t n, size_t target_max, const char **why)
{
	size_t i = 0;
	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == n)
		return 0;
	if (p[i] != ' ' || i == 0) {
		*why = "a request line that is not method SP target SP version";
		return 400;
	}
	size_t t = ++i;
	while (i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
		i++;
	if (i - t > target_max) {
		*why = "a request target longer than the edge reads";
		return 414;
	}
	if (i < n && p[i] != ' ' && !(p[i] == '\r' && i + 1 == n)) {
		*why = "a request target with a space, a control or a non-ASCII byte";
		return 400;
	}
	return 0;
}

#define BAD(st, text)                                                                              \
	do {                                                                                       \
		*status = (st);                                                                    \
		*why = (text);                                                                     \
		return H1S_BAD;                                                                    \
	} while (0)

/* The request line "method SP target SP HTTP/d.d" of n bytes; 0 or the
 * status to refuse with (*why set). *v11 says HTTP/1.1. */
static int request_line(const char *p, size_t n, size_t target_max, bool *v11, const char **why)
{
	size_t m = 0;
	while (m < n && is_tchar((unsigned char)p[m]))
		m++;
	if (m == 0 || m == n || p[m] != ' ') {
		*why = "a request line that is not method SP target SP version";
		return 400;
	}
	size_t t = m + 1, e = t;
	while (e < n && (unsigned char)p[e] > 0x20 && (unsigned char)p[e] < 0x7f)
		e++;
	if (e - t > target_max) {
		*why = "a request target longer than the edge reads";
		return 414;
	}
	if (e == t || e == n || p[e] != ' ') {
		*why = "a request target with a space, a control or a non-ASCII byte";
		return 400;
	}
	const char *v = p + e + 1;
	size_t vn = n - e - 1;
	if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
	    v[7] < '0' || v[7] > '9') {
		*why = "a request line that is not method SP target SP version";
		return 400;
	}
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1')) {
		*why = "only HTTP/1.0 and HTTP/1.1 are served";
		return 505;
	}
	if (!http_method_known(p, m)) {
		*why = "a method this server does not implement";
		return 501;
	}
	*v11 = v[7] == '1';
	return 0;
}

void h1strict_head_init(h1_head *s)
{
	memset(s, 0, sizeof *s);
}

h1s_result h1strict_head_step(h1_head *s, const char *buf, size_t len, size_t target_max,
                              h1_head_info *info, int *status, const char **why)
{
	if (s->at == 0) {
		ssize_t e = line_end(buf, len);
		if (e == -2)
			BAD(400, "a bare CR or LF in the request line");
		if (e == -1) {
			int st = partial_line(buf, len, target_max, why);
			if (st) {
				*status = st;
				return H1S_BAD;
			}
			return H1S_MORE;
		}
		int st = request_line(buf, (size_t)e, target_max, &s->v11, why);
		if (st) {
			*status = st;
			return H1S_BAD;
		}
		s->at = (size_t)e + 2;
	}
	/* Each field line is checked once: s->at moves past it. */
	for (;;) {
		size_t at = s->at;
		ssize_t le = line_end(buf + at, len - at);
		if (le == -2)
			BAD(400, "a bare CR or LF in the request head");
		if (le == -1) {
			if (len > at && (buf[at] == ' ' || buf[at] == '\t'))
				BAD(400, "a folded header line (obs-fold)");
			return H1S_MORE;
		}
		if (le == 0) {
			s->at += 2;
			break;
		}
		const char *name, *value;
		size_t nlen, vlen;
		const char *bad = field_line(buf + at, (size_t)le, &name, &nlen, &value, &vlen);
		if (bad)
			BAD(400, bad);
		s->at += (size_t)le + 2;
		if (name_is(name, nlen, "host")) {
			s->hosts++;
			s->host_bad |= !host_ok(value, vlen);
		} else if (name_is(name, nlen, "content-length")) {
			s->lengths++;
			if (vlen == 0 || vlen > 19)
				BAD(400, "a Content-Length that is not a decimal number");
			s->length = 0;
			for (size_t k = 0; k < vlen; k++) {
				if (value[k] < '0' || value[k] > '9')
					BAD(400, "a Content-Length that is not a decimal number");
				s->length = s->length * 10 + (uint64_t)(value[k] - '0');
			}
		} else if (name_is(name, nlen, "transfer-encoding")) {
			s->codings++;
			int rc = coding_list(value, vlen, why);
			if (rc) {
				*status = rc;
				return H1S_BAD;
			}
			s->chunked = true;
		} else if (name_is(name, nlen, "authorization")) {
			s->auths++;
		} else if (name_is(name, nlen, "content-type")) {
			s->ctypes++;
		} else if (name_is(name, nlen, "idempotency-key")) {
			s->idems++;
		}
	}
	if (s->codings > 1)
		BAD(400, "more than one Transfer-Encoding field");
	if (s->lengths > 1)
		BAD(400, "more than one Content-Length field");
	if (s->codings && s->lengths)
		BAD(400, "both Content-Length and Transfer-Encoding");
	if (s->codings && !s->v11)
		BAD(400, "Transfer-Encoding in an HTTP/1.0 request");
	if (s->hosts > 1)
		BAD(400, "more than one Host field");
	if (s->v11 && s->hosts == 0)
		BAD(400, "an HTTP/1.1 request without Host");
	if (s->host_bad)
		BAD(400, "a Host that is not host[:port]");
	if (s->auths > 1 || s->ctypes > 1 || s->idems > 1)
		BAD(400, "a field that may appear once appears more than once");
	info->head_len = s->at;
	info->chunked = s->chunked;
	info->length = s->chunked ? 0 : s->length;
	return H1S_OK;
}

h1s_result h1strict_head(const char *buf, size_t len, size_t target_max, h1_head_info *info,
                         int *status, const char **why)
{
	h1_head s;
	h1strict_head_init(&s);
	return h1strict_head_step(&s, buf, len, target_max, info, status, why);
}

/* --- chunked bodies ------------------------------------------------------ */

enum {
	CH_SIZE_FIRST, /* the first hex digit of a size */
	CH_SIZE,       /* more digits, or the line's end or an extension */
	CH_SIZE_LINE,  /* an extension, up to CR */
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER, /* a trailer line or the final empty one, up to CR */
	CH_TRAILER_LF,
	CH_DONE,
};

void h1strict_chunks_init(h1_chunks *s)
{
	memset(s, 0, sizeof *s);
	s->state = CH_SIZE_FIRST;
}

/* chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val
 * a token or a quoted-string; true when p[0..n) is one. */
static bool chunk_ext_ok(const char *p, size_t n)
{
	size_t i = 0;
#define SKIP_BWS()                                                                                 \
	while (i < n && (p[i] == ' ' || p[i] == '\t'))                                             \
	i++
	while (i < n) {
		SKIP_BWS();
		if (i == n || p[i] != ';')
			return false;
		i++;
		SKIP_BWS();
		size_t s = i;
		while (i < n && is_tchar((unsigned char)p[i]))
			i++;
		if (i == s)
			return false;
		size_t save = i;
		SKIP_BWS();
		if (i < n && p[i] == '=') {
			i++;
			SKIP_BWS();
			if (i < n && p[i] == '"') {
				for (i++; i < n && p[i] != '"'; i++) {
					unsigned char c = (unsigned char)p[i];
					if (c == '\\') {
						if (++i == n)
							return false;
						c = (unsigned char)p[i];
					}
					if ((c < 0x20 && c != '\t') || c == 0x7f)
						return false;
				}
				if (i == n)
					return false;
				i++;
			} else {
				s = i;
				while (i < n && is_tchar((unsigned char)p[i]))
					i++;
				if (i == s)
					return false;
			}
		} else {
			i = save;
		}
	}
#undef SKIP_BWS
	return true;
}

/* Adds c to the line being read (kept up to its cap). */
static void line_add(h1_chunks *s, char c)
{
	if (s->line_len < sizeof s->line)
		s->line[s->line_len++] = c;
	else
		s->line_long = true;
}

ssize_t h1strict_chunks(h1_chunks *s, const char *p, size_t n, bool *done, const char **why)
{
	*done = false;
	size_t i = 0;
	while (i < n && s->state != CH_DONE) {
		unsigned char c = (unsigned char)p[i];
		switch (s->state) {
		case CH_SIZE_FIRST:
			if (!is_hex(c)) {
				*why = "a chunk size that is not hexadecimal";
				return -1;
			}
			s->left = hex_val(c);
			s->digits = 1;
			s->state = CH_SIZE;
			i++;
			break;
		case CH_SIZE:
			if (is_hex(c)) {
				if (++s->digits > 15) {
					*why = "a chunk size too large";
					return -1;
				}
				s->left = s->left * 16 + hex_val(c);
			} else if (c == '\r') {
				s->state = CH_SIZE_LF;
			} else if (c == ';' || c == ' ' || c == '\t') {
				s->line_len = 0;
				s->line_long = false;
				line_add(s, (char)c);
				s->state = CH_SIZE_LINE;
			} else {
				*why =
				    "a chunk size line with something other than hex digits and an "
				    "extension";
				return -1;
			}
			i++;
			break;
		case CH_SIZE_LINE:
			if (c == '\n') {
				*why = "a bare LF in a chunk size line";
				return -1;
			}
			if (c == '\r') {
				if (s->line_long || !chunk_ext_ok(s->line, s->line_len)) {
					*why = "a malformed chunk extension";
					return -1;
				}
				s->state = CH_SIZE_LF;
			} else {
				line_add(s, (char)c);
			}
			i++;
			break;
		case CH_SIZE_LF:
			if (c != '\n') {
				*why = "a bare CR in a chunk size line";
				return -1;
			}
			i++;
			s->line_len = 0;
			s->line_long = false;
			s->state = s->left ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA: {
			size_t take = n - i;
			if (take > s->left)
				take = (size_t)s->left;
			s->left -= take;
			i += take;
			if (!s->left)
				s->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
		case CH_DATA_LF:
			if (c != (s->state == CH_DATA_CR ? '\r' : '\n')) {
				*why = "chunk data not followed by CRLF";
				return -1;
			}
			s->state = s->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE_FIRST;
			i++;
			break;
		case CH_TRAILER:
			if (c == '\n') {
				*why = "a bare LF in the trailer section";
				return -1;
			}
			if (c == '\r')
				s->state = CH_TRAILER_LF;
			else
				line_add(s, (char)c);
			i++;
			break;
		case CH_TRAILER_LF: {
			if (c != '\n') {
				*why = "a bare CR in the trailer section";
				return -1;
			}
			i++;
			if (s->line_len == 0 && !s->line_long) {
				s->state = CH_DONE;
				break;
			}
			const char *name, *value, *bad = NULL;
			size_t nlen, vlen;
			if (s->line_long)
				bad = "a trailer line longer than the edge reads";
			else
				bad = field_line(s->line, s->line_len, &name, &nlen, &value, &vlen);
			if (bad) {
				*why = bad;
				return -1;
			}
			s->line_len = 0;
			s->state = CH_TRAILER;
			break;
		}
		default: *why = "internal: a chunk state out of range"; return -1;
		}
	}
	*done = s->state == CH_DONE;
	return (ssize_t)i;
}
