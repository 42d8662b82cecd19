/* test_h1strict.c - the strict HTTP/1.1 framing checks: heads that
 * pass, every framing a lenient and a strict reader could see
 * differently refused with its status, and chunked bodies byte by byte.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "edge/http/h1strict.h"

#define TARGET_MAX 64

static h1s_result head(const char *text, h1_head_info *info, int *status)
{
	const char *why = NULL;
	*status = 0;
	h1s_result r = h1strict_head(text, strlen(text), TARGET_MAX, info, status, &why);
	if (r == H1S_BAD)
		cr_assert_not_null(why, "a refusal says why");
	return r;
}

Test(h1strict, well_formed_heads_pass_with_their_framing)
{
	h1_head_info in;
	int st;
	const char *get = "GET /v1/items/post/1/likes HTTP/1.1\r\nHost: edge.example:8443\r\n"
	                  "Accept: */*\r\nX-Empty:\r\n\r\nGET /next";
	cr_assert_eq(head(get, &in, &st), H1S_OK);
	cr_assert_eq(in.head_len, strlen(get) - strlen("GET /next"));
	cr_assert_not(in.chunked);
	cr_assert_eq(in.length, 0);
	cr_assert_eq(
	    head("POST /v1/ops HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n", &in, &st),
	    H1S_OK);
	cr_assert_eq(in.length, 12);
	cr_assert_eq(
	    head("POST /v1/ops HTTP/1.1\r\nHost: a\r\ntransfer-encoding:  Chunked \r\n\r\n", &in,
	         &st),
	    H1S_OK);
	cr_assert(in.chunked);
	cr_assert_eq(head("GET / HTTP/1.0\r\n\r\n", &in, &st), H1S_OK, "1.0 needs no Host");
	cr_assert_eq(head("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", &in, &st), H1S_OK);
	cr_assert_eq(head("GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n", &in, &st), H1S_OK);
}

Test(h1strict, an_unfinished_head_waits)
{
	h1_head_info in;
	int st;
	cr_assert_eq(head("GE", &in, &st), H1S_MORE);
	cr_assert_eq(head("GET / HTTP/1.1\r", &in, &st), H1S_MORE);
	cr_assert_eq(head("GET / HTTP/1.1\r\nHost: a\r\n", &in, &st), H1S_MORE);
	cr_assert_eq(head("GET / HTTP/1.1\r\nHost: a\r\n\r", &in, &st), H1S_MORE);
}

static const struct {
	const char *text;
	int status;
	const char *what;
} bad_heads[] = {
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400, "space before colon"},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length\t: 7\r\n\r\n", 400, "tab before colon"},
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", 400, "obs-fold"},
    {"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tmore\r\n\r\n", 400, "obs-fold with a tab"},
    {"GET / HTTP/1.1\nHost: x\r\n\r\n", 400, "bare LF after the request line"},
    {"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400, "bare LF in the head"},
    {"GET / HTTP/1.1\r\nHost: x\r\r\n\r\n", 400, "bare CR in the head"},
    {"GET / HTTP/1.1\r\nHost: x\r\n\n", 400, "bare LF as the empty line"},
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     400, "two TE fields"},
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400,
     "chunked twice"},
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "gzip"},
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 501, "TE.TE obfuscation"},
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400, "TE parameter"},
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400, "quoted TE"},
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n\r\n", 400, "empty TE"},
    {"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400,
     "CL.TE"},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 400, "two CL"},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n", 400, "CL list"},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n", 400, "CL with a sign"},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3 3\r\n\r\n", 400, "CL with a space inside"},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x3\r\n\r\n", 400, "CL in hex"},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400,
     "CL overflow"},
    {"GET / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400, "empty CL"},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "TE in HTTP/1.0"},
    {"GET / HTTP/1.1\r\n\r\n", 400, "no Host"},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Host"},
    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "Host with a space"},
    {"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400, "Host with userinfo"},
    {"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400, "Host with a bad port"},
    {"GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer 1\r\nAuthorization: Bearer 2\r\n\r\n", 400,
     "two Authorization"},
    {"GET / HTTP/1.1\r\nHost: a\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n\r\n", 400,
     "two Content-Type"},
    {"GET / HTTP/1.1\r\nHost: a\r\nIdempotency-Key: 1\r\nidempotency-key: 2\r\n\r\n", 400,
     "two Idempotency-Key"},
    {"GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400, "empty name"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX-A: b\x01\r\n\r\n", 400, "control in a value"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", 400, "name with a delimiter"},
    {"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "space in the target"},
    {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "two spaces"},
    {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "space after the version"},
    {"GET / http/1.1\r\nHost: a\r\n\r\n", 400, "lower-case version"},
    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "version 2.0 in HTTP/1"},
    {"BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 501, "an unknown method"},
    {"get / HTTP/1.1\r\nHost: a\r\n\r\n", 501, "methods are case-sensitive"},
};

Test(h1strict, every_ambiguous_head_is_refused_with_its_status)
{
	for (size_t i = 0; i < sizeof bad_heads / sizeof bad_heads[0]; i++) {
		h1_head_info in;
		int st;
		cr_expect_eq(head(bad_heads[i].text, &in, &st), H1S_BAD, "%s: passed",
		             bad_heads[i].what);
		cr_expect_eq(st, bad_heads[i].status, "%s: %d", bad_heads[i].what, st);
	}
}

Test(h1strict, a_long_target_is_414_before_its_line_ends)
{
	char text[256];
	memset(text, 'a', sizeof text);
	memcpy(text, "GET /", 5);
	h1_head_info in;
	int st;
	const char *why;
	cr_assert_eq(h1strict_head(text, sizeof text, TARGET_MAX, &in, &st, &why), H1S_BAD);
	cr_assert_eq(st, 414);
	cr_assert_eq(h1strict_head("GET\x01", 4, TARGET_MAX, &in, &st, &why), H1S_BAD,
	             "a bad method byte does not wait for the line's end");
}

/* Runs body through the chunk checker in pieces of step bytes; the
 * bytes it used, or -1 on a refusal. */
static ssize_t chunks(const char *body, size_t step, bool *done)
{
	h1_chunks s;
	h1strict_chunks_init(&s);
	size_t n = strlen(body), at = 0;
	*done = false;
	while (at < n && !*done) {
		size_t k = n - at < step ? n - at : step;
		const char *why = NULL;
		ssize_t r = h1strict_chunks(&s, body + at, k, done, &why);
		if (r < 0) {
			cr_assert_not_null(why);
			return -1;
		}
		at += (size_t)r;
	}
	return (ssize_t)at;
}

Test(h1strict, chunked_bodies_end_where_they_end_in_any_pieces)
{
	const char *body = "7\r\n{\"n\":2}\r\n1;ext=val;q=\"a b\"\r\nx\r\n0\r\nX-T: 1\r\n\r\nGET /";
	size_t want = strlen(body) - strlen("GET /");
	for (size_t step = 1; step <= strlen(body); step++) {
		bool done;
		cr_assert_eq(chunks(body, step, &done), (ssize_t)want, "step %zu", step);
		cr_assert(done);
	}
	bool done;
	cr_assert_eq(chunks("a\r\n0123456789", 4, &done), 13);
	cr_assert_not(done, "a chunk not finished yet");
}

Test(h1strict, chunk_framing_a_lenient_reader_would_take_is_refused)
{
	const char *bad[] = {
	    "2;\nAB\r\n0\r\n\r\n",              /* bare LF in an extension */
	    "7 junk\r\n{\"n\":2}\r\n0\r\n\r\n", /* junk after the size */
	    "2\nAB\r\n0\r\n\r\n",               /* bare LF after the size */
	    "2\r\nAB\n0\r\n\r\n",               /* data not followed by CRLF */
	    "2\r\nABC\r\n0\r\n\r\n",            /* more data than the size */
	    "-2\r\nAB\r\n0\r\n\r\n",            /* a sign */
	    "0x2\r\nAB\r\n0\r\n\r\n",           /* a hex prefix */
	    "\r\n",                             /* no size */
	    "2;=v\r\nAB\r\n0\r\n\r\n",          /* an extension without a name */
	    "2;a=\"x\r\nAB\r\n0\r\n\r\n",       /* an unterminated quoted value */
	    "10000000000000000\r\n",            /* a size too large */
	    "0\r\nX-T : 1\r\n\r\n",             /* a trailer with a space before its colon */
	    "0\r\n folded\r\n\r\n",             /* a folded trailer */
	    "0\r\nX-T: 1\n\r\n",                /* a bare LF in the trailers */
	    "0\r\n\n",                          /* a bare LF as the last line */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bool done;
		cr_expect_eq(chunks(bad[i], 3, &done), -1, "passed: %s", bad[i]);
	}
}

Test(h1strict, a_head_checked_as_it_arrives_gets_the_verdict_it_gets_whole)
{
	const char *heads[] = {
	    "GET /a HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nGET /next",
	    "POST /v1/ops HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n",
	    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
	    "GET / HTTP/1.1\r\n\r\n",
	    "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
	    "HTTP/1.1\r\n",
	    "BREW / HTTP/1.1\r\nHost: a\r\n\r\n",
	    "GET / HTTP/1.1\nHost: a\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
		const char *t = heads[i];
		size_t n = strlen(t);
		h1_head_info whole, part;
		int sw = 0, sp = 0;
		const char *ww = NULL, *wp = NULL;
		h1s_result rw = h1strict_head(t, n, TARGET_MAX, &whole, &sw, &ww);
		h1_head hs;
		h1strict_head_init(&hs);
		h1s_result rp = H1S_MORE;
		size_t k = 0;
		while (rp == H1S_MORE && k < n)
			rp = h1strict_head_step(&hs, t, ++k, TARGET_MAX, &part, &sp, &wp);
		if (rw == H1S_OK) {
			cr_expect_eq(rp, H1S_OK, "%s", t);
			cr_expect_eq(part.head_len, whole.head_len, "%s", t);
			cr_expect_eq(part.chunked, whole.chunked, "%s", t);
			cr_expect_eq(part.length, whole.length, "%s", t);
		} else {
			cr_expect_eq(rp, rw, "%s", t);
			cr_expect_eq(sp, sw, "%s", t);
		}
	}
}
