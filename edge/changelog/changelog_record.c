/* changelog_record.c - the changelog's record format (changelog.h):
 * encoding a store batch or a mark, and the strict decoder. Pure.
 */
#include "edge/changelog/changelog.h"

#include <string.h>

#define OP_PUT 1
#define OP_DEL 2
#define FORMAT_V1 1 /* before epochs: a data record of epoch 0 */
#define HEAD_V2 10  /* version, kind, epoch */

static void put_u32(sbuf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};
	sbuf_add(b, x, 4);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_head(sbuf *out, enum changelog_kind kind, uint64_t epoch)
{
	unsigned char h[HEAD_V2] = {CHANGELOG_FORMAT, (unsigned char)kind};
	store_put_u64(h + 2, epoch);
	sbuf_add(out, h, sizeof h);
}

typedef struct encoder {
	sbuf *out;
	uint32_t n;
} encoder;

static void enc_put(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	encoder *e = ctx;
	unsigned char op = OP_PUT;
	sbuf_add(e->out, &op, 1);
	put_u32(e->out, (uint32_t)kn);
	sbuf_add(e->out, k, kn);
	put_u32(e->out, (uint32_t)vn);
	sbuf_add(e->out, v, vn);
	e->n++;
}

static void enc_del(void *ctx, const char *k, size_t kn)
{
	encoder *e = ctx;
	unsigned char op = OP_DEL;
	sbuf_add(e->out, &op, 1);
	put_u32(e->out, (uint32_t)kn);
	sbuf_add(e->out, k, kn);
	e->n++;
}

void changelog_encode(const store_batch *wb, uint64_t epoch, sbuf *out)
{
	put_head(out, CHANGELOG_DATA, epoch);
	size_t count_at = out->len;
	put_u32(out, 0); /* the count, once known */
	encoder e = {out, 0};
	store_batch_iterate(wb, &e, enc_put, enc_del);
	unsigned char *n = (unsigned char *)out->p + count_at;
	n[0] = (unsigned char)(e.n >> 24);
	n[1] = (unsigned char)(e.n >> 16);
	n[2] = (unsigned char)(e.n >> 8);
	n[3] = (unsigned char)e.n;
}

void changelog_encode_takeover(uint64_t epoch, const char *instance, uint64_t writer_ms,
                               int64_t expect_at, sbuf *out)
{
	put_head(out, CHANGELOG_TAKEOVER, epoch);
	size_t n = instance ? strlen(instance) : 0;
	put_u32(out, (uint32_t)n);
	sbuf_add(out, instance, n);
	unsigned char w[8];
	store_put_u64(w, writer_ms);
	sbuf_add(out, w, sizeof w);
	if (expect_at < 0)
		return; /* counts wherever it lands: the form before places */
	store_put_u64(w, (uint64_t)expect_at);
	sbuf_add(out, w, sizeof w);
}

bool changelog_takeover_counts(const changelog_head *h, int64_t offset)
{
	return h->kind == CHANGELOG_TAKEOVER && (h->expect_at < 0 || h->expect_at == offset);
}

void changelog_encode_beat(uint64_t epoch, sbuf *out)
{
	put_head(out, CHANGELOG_BEAT, epoch);
}

/* A length-prefixed field at *at of buf (len bytes): its bytes and
 * length, *at moved past it; false when it runs past the end. */
static bool field(const unsigned char *buf, size_t len, size_t *at, const unsigned char **p,
                  size_t *n)
{
	if (len - *at < 4)
		return false;
	*n = get_u32(buf + *at);
	*at += 4;
	if (len - *at < *n)
		return false;
	*p = buf + *at;
	*at += *n;
	return true;
}

/* The changes from *at on (a count, then each change) into wb. */
static int decode_changes(const unsigned char *buf, size_t len, size_t at, store_batch *wb)
{
	if (len - at < 4)
		return ERR_CORRUPT;
	uint32_t n = get_u32(buf + at);
	at += 4;
	for (uint32_t i = 0; i < n; i++) {
		if (at >= len)
			return ERR_CORRUPT;
		unsigned char op = buf[at++];
		const unsigned char *k, *v;
		size_t kn, vn;
		if ((op != OP_PUT && op != OP_DEL) || !field(buf, len, &at, &k, &kn) || !kn)
			return ERR_CORRUPT;
		if (op == OP_DEL) {
			store_batch_del(wb, k, kn);
			continue;
		}
		if (!field(buf, len, &at, &v, &vn))
			return ERR_CORRUPT;
		store_batch_put(wb, k, kn, v, vn);
	}
	return at == len ? 0 : ERR_CORRUPT;
}

int changelog_decode(const void *data, size_t len, changelog_head *h, store_batch *wb)
{
	const unsigned char *buf = data;
	memset(h, 0, sizeof *h);
	h->expect_at = -1;
	if (len < 1)
		return ERR_CORRUPT;
	if (buf[0] == FORMAT_V1) {
		h->kind = CHANGELOG_DATA;
		return decode_changes(buf, len, 1, wb);
	}
	if (buf[0] != CHANGELOG_FORMAT)
		return ERR_VERSION;
	if (len < HEAD_V2)
		return ERR_CORRUPT;
	h->kind = buf[1];
	h->epoch = store_get_u64(buf + 2);
	switch (h->kind) {
	case CHANGELOG_DATA: return decode_changes(buf, len, HEAD_V2, wb);
	case CHANGELOG_TAKEOVER: {
		size_t at = HEAD_V2;
		const unsigned char *who;
		if (!field(buf, len, &at, &who, &h->instance_len))
			return ERR_CORRUPT;
		h->instance = (const char *)who;
		if (at == len)
			return 0; /* from before writer times: none */
		if (len - at != 8 && len - at != 16)
			return ERR_CORRUPT;
		h->writer_ms = store_get_u64(buf + at);
		if (!h->writer_ms)
			return ERR_CORRUPT;
		if (len - at == 8)
			return 0; /* from before places: counts wherever it lands */
		uint64_t expect = store_get_u64(buf + at + 8);
		if (expect > INT64_MAX)
			return ERR_CORRUPT;
		h->expect_at = (int64_t)expect;
		return 0;
	}
	case CHANGELOG_BEAT: return len == HEAD_V2 ? 0 : ERR_CORRUPT;
	default: return ERR_CORRUPT;
	}
}
