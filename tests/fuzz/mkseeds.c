/* mkseeds.c - writes the generated seed inputs of the fuzz targets into
 * DIR/<target>/ (tests/fuzz/corpus/ is committed): batches and snapshots
 * made by the real encoder, HS256 tokens (valid, expired, badly signed,
 * alg none) signed with the fixed secret of fuzz_jwt.c, config edge cases,
 * and HTTP/2 frame sequences for fuzz_http.c (the frames that follow the
 * client preface and SETTINGS the target sends itself). Run by hand:
 *   make FUZZ=1 build-fuzz/mkseeds && build-fuzz/mkseeds tests/fuzz/corpus
 * Single-threaded, a command-line tool.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_secret.h"
#include "wire.h"

static const char *root;

static void put(const char *target, const char *name, const void *b, size_t n)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", root, target);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static wire_str S(const char *s)
{
	return wire_cstr(s, strlen(s));
}

static void wire_seeds(void)
{
	wire_op ops[3] = {
	    {S("likes"), S("post:1"), S("u1"), WIRE_ADD, 1, 1700000000000ull << 16, S("")},
	    {S("likes"), S("post:1"), S("u2"), WIRE_REMOVE, 1, (1700000000001ull << 16) | 3, S("")},
	    {S("views"), S("reel:77"), S("u1"), WIRE_ADD, 1000, 1, S("")},
	};
	wire_batch b = {S("mumbai"), S("mumbai"), 3, 1, 1700000000000ull, 3, ops, 0, NULL};
	char *out;
	size_t len;

	if (wire_encode_batch(&b, &out, &len))
		exit(1);
	put("wire_batch", "three-ops", out, len);
	free(out);
	b.nops = 0;
	b.ops = NULL;
	b.region = S("");
	b.seq = UINT64_MAX;
	b.partition = UINT32_MAX;
	if (wire_encode_batch(&b, &out, &len))
		exit(1);
	put("wire_batch", "empty-max-seq", out, len);
	free(out);
	/* version 2: an op and sums */
	wire_sum sums[2] = {{S("views"), S("reel:77"), 123456, 1700000000000ull << 16},
	                    {S("shares"), S("reel:77"), 1, 7}};
	b = (wire_batch){S("mumbai"), S("mumbai"), 3, 2, 1700000000000ull, 1, ops, 2, sums};
	if (wire_encode_batch(&b, &out, &len))
		exit(1);
	put("wire_batch", "v2-sums", out, len);
	free(out);

	wire_edge_seq edges[2] = {{S("mumbai"), 10, 0}, {S("virginia"), 4, 9}};
	wire_count counts[3] = {{S("likes"), S("post:1"), 41},
	                        {S("likes"), S("post:2"), UINT64_MAX},
	                        {S("views"), S("reel:77"), 0}};
	wire_snapshot s = {.source = S("central-1"),
	                   .partition = 2,
	                   .offset = 1234,
	                   .produced_ms = 1700000000000ull,
	                   .last = true,
	                   .nedges = 2,
	                   .edges = edges,
	                   .ncounts = 3,
	                   .counts = counts};
	if (wire_encode_snapshot(&s, &out, &len))
		exit(1);
	put("wire_snapshot", "two-edges-three-counts", out, len);
	free(out);
	s = (wire_snapshot){.source = S("")};
	if (wire_encode_snapshot(&s, &out, &len))
		exit(1);
	put("wire_snapshot", "empty", out, len);
	free(out);
	/* a batch fed to the snapshot decoder and back: the other type */
	b = (wire_batch){S("e"), S("r"), 0, 1, 0, 1, ops, 0, NULL};
	if (wire_encode_batch(&b, &out, &len))
		exit(1);
	put("wire_snapshot", "a-batch", out, len);
	free(out);
	/* moves: a typical one, one with the widest numbers, and a batch;
	 * a hand-over (the same target reads both) */
	wire_move m = {7, S("u42"), S("eu"), 1764201600000ull, 1764201600123ull};
	if (wire_encode_move(&m, &out, &len))
		exit(1);
	put("wire_move", "typical", out, len);
	free(out);
	m = (wire_move){UINT32_MAX, S("u"), S("r"), WIRE_MOVE_SINCE_MAX, UINT64_MAX};
	if (wire_encode_move(&m, &out, &len))
		exit(1);
	put("wire_move", "widest", out, len);
	free(out);
	if (wire_encode_batch(&b, &out, &len))
		exit(1);
	put("wire_move", "a-batch", out, len);
	free(out);
	wire_handover h = {7, S("edge1"), 3, 1764201600123ull};
	if (wire_encode_handover(&h, &out, &len))
		exit(1);
	put("wire_move", "handover", out, len);
	free(out);
}

static void config_seeds(void)
{
	static const struct {
		const char *name, *text;
	} c[] = {
	    {"every-type", "[edge]\nid = e1\nmax_body = 64k\n[identity]\ndev_header = yes\n"
	                   "[kafka]\nbootstrap.servers = a:1\nlinger.ms = 5 ; comment\n"},
	    {"bad-int", "[edge]\nmax_body = 12q\n"},
	    {"repeat-key", "[edge]\nid = a\nid = b\n"},
	    {"unknown", "[nope]\nx = 1\n"},
	    {"override", "edge.id=x"},
	    {"kafka-override", "kafka.bootstrap.servers = h:9092"},
	    {"no-section", "id = 1\n# comment\n; other\n"},
	    {"long-line",
	     "[edge]\nid = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aaaaaaaaaaaaaaaaaaaa\n"},
	};
	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
		put("config", c[i].name, c[i].text, strlen(c[i].text));
}

static void b64url(const void *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *p = in;
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = a[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = a[v & 63];
	}
	out[o] = 0;
}

/* header.payload.signature, HMAC-SHA256 with key (NULL: no signature). */
static void token(const char *name, const char *hdr, const char *claims, const char *key)
{
	char t[2048], sig[EVP_MAX_MD_SIZE];
	unsigned siglen = 0;

	b64url(hdr, strlen(hdr), t);
	strcat(t, ".");
	b64url(claims, strlen(claims), t + strlen(t));
	if (key)
		HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)t, strlen(t),
		     (unsigned char *)sig, &siglen);
	strcat(t, ".");
	b64url(sig, siglen, t + strlen(t));
	put("jwt", name, t, strlen(t));
}

static void jwt_seeds(void)
{
	const char *hs = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}";

	token("valid", hs, "{\"sub\":\"u1\",\"exp\":4102444800,\"iss\":\"likes\",\"aud\":\"edge\"}",
	      FUZZ_SECRET);
	token("valid-aud-array", hs,
	      "{\"sub\":\"user-7\",\"exp\":4102444800,\"nbf\":1,\"iss\":\"likes\","
	      "\"aud\":[\"x\",\"edge\"]}",
	      FUZZ_SECRET);
	token("expired", hs, "{\"sub\":\"u1\",\"exp\":1,\"iss\":\"likes\",\"aud\":\"edge\"}",
	      FUZZ_SECRET);
	token("wrong-key", hs,
	      "{\"sub\":\"u1\",\"exp\":4102444800,\"iss\":\"likes\",\"aud\":\"edge\"}",
	      "not-the-secret-not-the-secret-xx");
	token("alg-none", "{\"alg\":\"none\"}", "{\"sub\":\"u1\",\"exp\":4102444800}", NULL);
	token("es256-kid", "{\"alg\":\"ES256\",\"kid\":\"e1\"}",
	      "{\"sub\":\"u1\",\"exp\":4102444800,\"iss\":\"likes\",\"aud\":\"edge\"}",
	      FUZZ_SECRET);
	token("no-sub", hs, "{\"exp\":4102444800,\"iss\":\"likes\",\"aud\":\"edge\"}", FUZZ_SECRET);
}

/* ---- HTTP/2 frames ------------------------------------------------------ */

typedef struct fbuf {
	unsigned char b[4096];
	size_t n;
} fbuf;

static void frame(fbuf *f, unsigned type, unsigned flags, unsigned sid, const void *p, size_t n)
{
	unsigned char *h = f->b + f->n;

	h[0] = (unsigned char)(n >> 16);
	h[1] = (unsigned char)(n >> 8);
	h[2] = (unsigned char)n;
	h[3] = (unsigned char)type;
	h[4] = (unsigned char)flags;
	h[5] = (unsigned char)(sid >> 24);
	h[6] = (unsigned char)(sid >> 16);
	h[7] = (unsigned char)(sid >> 8);
	h[8] = (unsigned char)sid;
	if (n)
		memcpy(h + 9, p, n);
	f->n += 9 + n;
}

/* One HPACK "literal header field without indexing, new name" with
 * 7-bit lengths (every name and value here is shorter than 127). */
static size_t field(unsigned char *o, const char *name, const char *value)
{
	size_t nl = strlen(name), vl = strlen(value), k = 0;

	o[k++] = 0x00;
	o[k++] = (unsigned char)nl;
	memcpy(o + k, name, nl);
	k += nl;
	o[k++] = (unsigned char)vl;
	memcpy(o + k, value, vl);
	return k + vl;
}

enum {
	DATA = 0,
	HEADERS = 1,
	RST_STREAM = 3,
	SETTINGS = 4,
	PING = 6,
	GOAWAY = 7,
	WINDOW_UPDATE = 8
};
enum { END_STREAM = 1, END_HEADERS = 4, ACK = 1 };

/* HEADERS for method path on stream sid, with x-user-id: u1 and, when
 * body is set, content-type JSON (END_STREAM unless a body follows). */
static void request(fbuf *f, unsigned sid, const char *method, const char *path, const char *body)
{
	unsigned char h[1024];
	size_t n = 0;

	n += field(h + n, ":method", method);
	n += field(h + n, ":scheme", "http");
	n += field(h + n, ":authority", "127.0.0.1");
	n += field(h + n, ":path", path);
	n += field(h + n, "x-user-id", "u1");
	if (body)
		n += field(h + n, "content-type", "application/json");
	frame(f, HEADERS, END_HEADERS | (body ? 0 : END_STREAM), sid, h, n);
	if (body)
		frame(f, DATA, END_STREAM, sid, body, strlen(body));
}

static void http_seeds(void)
{
	static const unsigned char ping[8] = "12345678";
	static const unsigned char rst[4] = {0, 0, 0, 8};   /* CANCEL */
	static const unsigned char wu[4] = {0, 0, 0x40, 0}; /* 16 KiB */
	static const unsigned char away[8] = {0, 0, 0, 0, 0, 0, 0, 0};
	fbuf f;

	f.n = 0;
	frame(&f, SETTINGS, ACK, 0, NULL, 0);
	request(&f, 1, "GET", "/v1/items/post/1/likes", NULL);
	put("http", "get-likes", f.b, f.n);

	f.n = 0;
	request(&f, 1, "POST", "/v1/items/post/1/likes", NULL);
	request(&f, 3, "GET", "/v1/items/post/1/likes/me", NULL);
	put("http", "like-then-me", f.b, f.n);

	f.n = 0;
	request(&f, 1, "POST", "/v1/ops",
	        "{\"ops\":[{\"op\":\"add\",\"item\":\"post:1\",\"counter\":\"likes\"},"
	        "{\"op\":\"remove\",\"item\":\"post:2\",\"counter\":\"likes\"},"
	        "{\"op\":\"add\",\"item\":\"reel:3\",\"counter\":\"views\",\"n\":5}]}");
	put("http", "post-ops", f.b, f.n);

	f.n = 0;
	request(&f, 1, "GET", "/v1/counts?items=post:1,post:2,reel:3&counters=likes,views", NULL);
	put("http", "get-counts", f.b, f.n);

	f.n = 0;
	request(&f, 1, "POST", "/v1/items/reel/9/views", "{\"n\":3}");
	put("http", "post-views-body", f.b, f.n);

	f.n = 0;
	frame(&f, WINDOW_UPDATE, 0, 0, wu, sizeof wu);
	request(&f, 1, "DELETE", "/v1/items/post/1/likes", NULL);
	frame(&f, RST_STREAM, 0, 1, rst, sizeof rst);
	frame(&f, PING, 0, 0, ping, sizeof ping);
	put("http", "delete-rst-ping", f.b, f.n);

	f.n = 0;
	unsigned char h[512];
	size_t n = 0;
	n += field(h + n, ":method", "POST");
	n += field(h + n, ":scheme", "http");
	n += field(h + n, ":path", "/v1/ops");
	n += field(h + n, ":authority", "x");
	n += field(h + n, "x-user-id", "u2");
	n += field(h + n, "idempotency-key", "k-1");
	frame(&f, HEADERS, END_HEADERS, 1, h, n);
	frame(&f, WINDOW_UPDATE, 0, 1, wu, sizeof wu);
	frame(&f, DATA, 0, 1, "{\"ops\":[{\"op\":\"add\",", 20);
	frame(&f, DATA, END_STREAM, 1, "\"item\":\"post:5\",\"counter\":\"likes\"}]}", 36);
	frame(&f, GOAWAY, 0, 0, away, sizeof away);
	put("http", "split-body-idempotent-goaway", f.b, f.n);

	f.n = 0;
	request(&f, 1, "GET", "/healthz", NULL);
	frame(&f, PING, ACK, 0, ping, sizeof ping);
	put("http", "healthz-ping-ack", f.b, f.n);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds DIR\n");
		return 2;
	}
	root = argv[1];
	mkdir(root, 0755);
	wire_seeds();
	config_seeds();
	jwt_seeds();
	http_seeds();
	return 0;
}
