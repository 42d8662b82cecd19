/* itest_h1conform.c - the real edge against request smuggling over
 * HTTP/1.1: each vector goes as raw bytes on a fresh connection to the
 * edge's cleartext port (stack.h: broker, central, one edge), the client
 * then shuts its side, and the test reads every answer until the edge
 * closes. It asserts the first answer's status and, for every vector
 * that hides a second request in its bytes, that no second answer came:
 * the edge refused the framing rather than reading it one way while a
 * proxy in front could read it another.
 */
#include <criterion/criterion.h>

#include "tests/support/stack.h"
#include "tests/support/tconn.h"

static char certdir[256], extra[1024];
static int tls_port;

/* The edge also listens with TLS, on a throwaway self-signed certificate. */
static void setup(void)
{
	testdir_make(certdir, sizeof certdir, "likes-h1conform");
	testdir_make_cert(certdir);
	tls_port = proc_free_port();
	snprintf(extra, sizeof extra,
	         "[http]\ntls_listen = 127.0.0.1:%d\ntls_cert = %s/cert.pem\n"
	         "tls_key = %s/key.pem\n",
	         tls_port, certdir, certdir);
	S.edge_extra = extra;
	stack_up(1, 2, 200);
}

static void teardown(void)
{
	stack_down();
	testdir_remove(certdir);
}

TestSuite(h1conform, .init = setup, .fini = teardown, .timeout = 120);

/* Sends n bytes on a new connection to port (with tls, TLS offering
 * it), ends the sending side (a half-close; over TLS, close_notify
 * stands for it), reads up to cap-1 bytes until the edge closes (or 5 s
 * pass with nothing); the bytes read. */
static size_t exchange_on(int port, const tconn_tls *tls, const char *req, size_t n, char *out,
                          size_t cap)
{
	tconn c;
	cr_assert(tconn_open(&c, port, tls), "connect or TLS handshake with the edge");
	/* The edge may close on a refusal before all is sent: no assertion. */
	(void)tconn_write(&c, req, n);
	tconn_close_write(&c);
	size_t got = tconn_read_to_eof(&c, out, cap - 1, 5000);
	tconn_close(&c);
	out[got] = 0;
	return got;
}

static size_t exchange(const char *req, size_t n, char *out, size_t cap)
{
	return exchange_on(S.edge_port[0], NULL, req, n, out, cap);
}

/* exchange over TLS with ALPN http/1.1. */
static size_t exchange_tls(const char *req, size_t n, char *out, size_t cap)
{
	static const tconn_tls h1 = {.alpn = "\x08http/1.1", .alpn_len = 9};
	return exchange_on(tls_port, &h1, req, n, out, cap);
}

/* How many answers (status lines) out holds; the first one's status. */
static int answers(const char *out, int *first)
{
	int n = 0;
	*first = -1;
	/* Answers follow each other with no separator: a body has no
	 * newline of its own. A status line is "HTTP/1.1 DDD ". */
	for (const char *p = out; (p = strstr(p, "HTTP/1.1 ")) != NULL; p += 9) {
		bool status = p[9] >= '1' && p[9] <= '5' && p[10] >= '0' && p[10] <= '9' &&
		              p[11] >= '0' && p[11] <= '9' && p[12] == ' ';
		if (!status)
			continue;
		if (n++ == 0)
			*first = atoi(p + 9);
	}
	return n;
}

typedef struct vector {
	const char *name;
	const char *bytes;
	int status;  /* of the first answer */
	int answers; /* how many in all */
} vector;

#define POST "POST /v1/items/reel/1/views HTTP/1.1\r\nHost: x\r\nX-User-Id: u\r\n"
#define SMUGGLED "GET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n"

static const vector vectors[] = {
    /* The reproduction: a space before the colon. */
    {"TE with a space before its colon",
     POST "Transfer-Encoding : chunked\r\n\r\n"
          "7\r\n{\"n\":2}\r\n0\r\n\r\n" SMUGGLED,
     400, 1},
    {"CL with a space before its colon", POST "Content-Length : 7\r\n\r\n{\"n\":2}" SMUGGLED, 400,
     1},
    {"bare LF in a chunk extension",
     POST "Transfer-Encoding: chunked\r\n\r\n"
          "7;\n{\"n\":2}\r\n0\r\n\r\n" SMUGGLED,
     400, 1},
    {"junk after a chunk size",
     POST "Transfer-Encoding: chunked\r\n\r\n"
          "7 junk\r\n{\"n\":2}\r\n0\r\n\r\n" SMUGGLED,
     400, 1},
    {"folded TE", POST "Transfer-Encoding:\r\n chunked\r\n\r\n7\r\n{\"n\":2}\r\n0\r\n\r\n" SMUGGLED,
     400, 1},
    {"two TE fields",
     POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
          "7\r\n{\"n\":2}\r\n0\r\n\r\n" SMUGGLED,
     400, 1},
    {"gzip, chunked",
     POST "Transfer-Encoding: gzip, chunked\r\n\r\n"
          "7\r\n{\"n\":2}\r\n0\r\n\r\n" SMUGGLED,
     501, 1},
    /* The classic set. */
    {"CL.TE", POST "Content-Length: 13\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nSMUGGLED", 400,
     1},
    {"TE.CL",
     POST "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
          "8\r\nSMUGGLED\r\n0\r\n\r\n",
     400, 1},
    {"TE.TE, a second obfuscated TE",
     POST "Transfer-Encoding: chunked\r\nTransfer-encoding: x\r\n\r\n"
          "7\r\n{\"n\":2}\r\n0\r\n\r\n" SMUGGLED,
     501, 1}, /* "x" is a coding the edge does not implement */
    {"TE.TE, a tab before the colon",
     POST "Transfer-Encoding\t: chunked\r\n\r\n"
          "7\r\n{\"n\":2}\r\n0\r\n\r\n" SMUGGLED,
     400, 1},
    {"TE.TE, xchunked",
     POST "Transfer-Encoding: xchunked\r\n\r\n"
          "7\r\n{\"n\":2}\r\n0\r\n\r\n" SMUGGLED,
     501, 1},
    {"TE.TE, a bare LF before it",
     POST "X: y\nTransfer-Encoding: chunked\r\n\r\n"
          "7\r\n{\"n\":2}\r\n0\r\n\r\n" SMUGGLED,
     400, 1},
    {"duplicate CL", POST "Content-Length: 7\r\nContent-Length: 44\r\n\r\n{\"n\":2}" SMUGGLED, 400,
     1},
    {"CL with a sign", POST "Content-Length: +7\r\n\r\n{\"n\":2}" SMUGGLED, 400, 1},
    {"CL with a space inside", POST "Content-Length: 7 0\r\n\r\n{\"n\":2}" SMUGGLED, 400, 1},
    {"CL as a list", POST "Content-Length: 7, 7\r\n\r\n{\"n\":2}" SMUGGLED, 400, 1},
    /* Hosts and singletons. */
    {"no Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, 1},
    {"two Host", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, 1},
    {"Host a b", "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", 400, 1},
    {"two Authorization",
     "GET /healthz HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer a\r\n"
     "Authorization: Bearer b\r\n\r\n",
     400, 1},
    {"two Idempotency-Key",
     POST "Idempotency-Key: a\r\nIdempotency-Key: b\r\n"
          "Content-Length: 7\r\n\r\n{\"n\":2}",
     400, 1},
    {"an unknown method", "BREW /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 501, 1},
    {"HTTP/1.2", "GET /healthz HTTP/1.2\r\nHost: a\r\n\r\n", 505, 1},
    /* What must still work: well-framed requests, pipelined. */
    {"two pipelined GETs",
     "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
     "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
     200, 2},
    {"a chunked write with an extension, then a GET",
     POST "Transfer-Encoding: chunked\r\n\r\n7;a=\"b c\"\r\n{\"n\":2}\r\n0\r\nX-T: 1\r\n\r\n"
          "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
     200, 2},
    {"HTTP/1.0 without Host", "GET /healthz HTTP/1.0\r\n\r\n", 200, 1},
};

/* Every vector through exchange (plain or TLS). */
static void run_vectors(size_t (*xchg)(const char *, size_t, char *, size_t), const char *how)
{
	static char out[64 * 1024];
	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		const vector *v = &vectors[i];
		xchg(v->bytes, strlen(v->bytes), out, sizeof out);
		int first;
		int n = answers(out, &first);
		cr_expect_eq(first, v->status, "%s, %s: first answer %d, want %d:\n%.400s", how,
		             v->name, first, v->status, out);
		cr_expect_eq(n, v->answers, "%s, %s: %d answers, want %d:\n%.600s", how, v->name, n,
		             v->answers, out);
		if (v->answers == 1)
			cr_expect_null(strstr(out, "SMUGGLED"), "%s, %s", how, v->name);
	}
	cr_assert(proc_alive(S.edge_pid[0]), "the edge runs on");
}

Test(h1conform, every_vector_is_answered_as_a_strict_server_would)
{
	run_vectors(exchange, "cleartext");
}

Test(h1conform, every_vector_over_tls_too)
{
	run_vectors(exchange_tls, "TLS");
}

Test(h1conform, a_target_longer_than_the_edge_reads_is_414)
{
	size_t n = 9000;
	char *req = malloc(n + 64);
	cr_assert_not_null(req);
	memcpy(req, "GET /", 5);
	memset(req + 5, 'a', n);
	strcpy(req + 5 + n, " HTTP/1.1\r\nHost: a\r\n\r\n");
	static char out[8192];
	exchange(req, strlen(req), out, sizeof out);
	free(req);
	int first;
	cr_assert_eq(answers(out, &first), 1, "%s", out);
	cr_assert_eq(first, 414, "%.300s", out);
}

/* HEAD, Date and Cache-Control, over HTTP/1.1 (raw) and HTTP/2 (curl). */
Test(h1conform, head_date_and_cache_control_on_both_protocols)
{
	static char out[16384];
	const char *head = "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
	                   "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n";
	exchange(head, strlen(head), out, sizeof out);
	int first;
	cr_assert_eq(answers(out, &first), 2, "%s", out);
	cr_assert_eq(first, 200, "%s", out);
	/* The HEAD answer: GET's length, no body; the 404 right after it. */
	const char *second = strstr(out + 1, "HTTP/1.1 404 ");
	cr_assert_not_null(second, "%s", out);
	cr_assert_not_null(strstr(out, "content-length: 30\r\n"), "%s", out);
	cr_assert(strncmp(second - 4, "\r\n\r\n", 4) == 0, "no body after HEAD's head:\n%s", out);
	cr_assert_not_null(strstr(out, "date: "), "%s", out);
	cr_assert_not_null(strstr(second, "cache-control: no-store\r\n"), "%s", second);
	/* HEAD answer of /healthz carries no-store too. */
	cr_assert(strstr(out, "cache-control: no-store\r\n") < second, "%s", out);

	/* HTTP/2: the same rules. */
	cr_assert_eq(
	    proc_curl(out, sizeof out, "-sI --http2-prior-knowledge", S.edge_port[0], "/healthz"),
	    200, "%s", out);
	cr_assert_not_null(strcasestr(out, "date: "), "%s", out);
	cr_assert_not_null(strcasestr(out, "cache-control: no-store"), "%s", out);
	cr_assert_eq(proc_curl(out, sizeof out, "-si --http2-prior-knowledge", S.edge_port[0],
	                       "/v1/items/blog/1/likes"),
	             400, "%s", out);
	cr_assert_not_null(strcasestr(out, "cache-control: no-store"), "an error: %s", out);
	cr_assert_eq(proc_curl(out, sizeof out, "-si --http2-prior-knowledge -X BREW",
	                       S.edge_port[0], "/healthz"),
	             501, "%s", out);
}

/* This edge trusts no proxy: forwarding headers are not believed, and a
 * request that carries them came through a proxy the edge does not trust,
 * even from 127.0.0.1, so the loopback-only routes refuse it. */
Test(h1conform, a_proxy_the_edge_does_not_trust_gets_no_loopback_route)
{
	static char out[256 * 1024];
	cr_assert_eq(proc_curl(out, sizeof out, "", S.edge_port[0], "/metrics"), 200);
	cr_assert_eq(proc_curl(out, sizeof out, "-H 'X-Forwarded-For: 127.0.0.1'", S.edge_port[0],
	                       "/metrics"),
	             404);
	cr_assert_eq(proc_curl(out, sizeof out, "-H 'Forwarded: for=127.0.0.1'", S.edge_port[0],
	                       "/v1/admin/inspect"),
	             404);
	cr_assert_eq(proc_curl(out, sizeof out, "-H 'X-Forwarded-For: 127.0.0.1'", S.edge_port[0],
	                       "/healthz"),
	             200, "other routes do not care");
}
