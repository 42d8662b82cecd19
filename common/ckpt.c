/* ckpt.c - checkpoint stream frames: the writer and the incremental
 * reader (see ckpt.h). A whole frame found in the slice fed is decoded
 * where it lies; only a frame that arrives in pieces is gathered into
 * the reader's buffer, which grows with the bytes that came (not with
 * the length announced) and is reused for the next frames.
 */
#include "ckpt.h"

#include <stdlib.h>
#include <string.h>

#include "xmem.h"

#define GATHER_MIN 65536 /* the first size of the gathering buffer */

const unsigned char ckpt_end_frame[CKPT_HEAD_LEN] = {0, 0, 0, 0};

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int ckpt_frame_put(const wire_snapshot *s, char **out, size_t *outlen)
{
	char *msg;
	size_t len;
	int rc = wire_encode_snapshot(s, &msg, &len);
	if (rc)
		return rc;
	if (len > CKPT_FRAME_MAX) {
		free(msg);
		return ERR_TOOBIG;
	}
	char *f = xmalloc(CKPT_HEAD_LEN + len);
	put_u32((unsigned char *)f, (uint32_t)len);
	memcpy(f + CKPT_HEAD_LEN, msg, len);
	free(msg);
	*out = f;
	*outlen = CKPT_HEAD_LEN + len;
	return 0;
}

void ckpt_reader_init(ckpt_reader *r)
{
	memset(r, 0, sizeof *r);
	r->max = CKPT_FRAME_MAX;
}

void ckpt_reader_set_max(ckpt_reader *r, size_t max)
{
	r->max = max < CKPT_FRAME_MAX ? max : CKPT_FRAME_MAX;
}

void ckpt_reader_free(ckpt_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

bool ckpt_reader_ended(const ckpt_reader *r)
{
	return r->ended;
}

/* Decodes the frame at p (n bytes) and hands it on; an error becomes
 * the reader's. */
static void deliver(ckpt_reader *r, const char *p, size_t n, ckpt_message_fn on_message, void *ctx)
{
	wire_snapshot s;
	int rc = wire_decode_snapshot(p, n, &s);
	if (rc) {
		r->err = rc;
		return;
	}
	r->err = on_message(ctx, &s);
	wire_snapshot_free(&s);
	r->messages++;
	r->nhead = 0;
	r->len = r->have = 0;
}

int ckpt_reader_feed(ckpt_reader *r, const void *buf, size_t len, ckpt_message_fn on_message,
                     ckpt_end_fn on_end, void *ctx)
{
	const char *p = buf;
	while (len && !r->err) {
		if (r->ended)
			return r->err = ERR_CORRUPT; /* nothing may follow the end */
		if (r->nhead < CKPT_HEAD_LEN) {
			size_t take = CKPT_HEAD_LEN - r->nhead;
			if (take > len)
				take = len;
			memcpy(r->head + r->nhead, p, take);
			r->nhead += take;
			p += take;
			len -= take;
			if (r->nhead < CKPT_HEAD_LEN)
				break;
			uint32_t n = get_u32(r->head);
			if (n == 0) {
				r->ended = true;
				r->nhead = 0;
				r->err = on_end ? on_end(ctx) : 0;
				continue;
			}
			if (n > r->max)
				return r->err = ERR_TOOBIG;
			r->len = n;
			r->have = 0;
			if (len >= n) { /* whole here: decoded in place */
				deliver(r, p, n, on_message, ctx);
				p += n;
				len -= n;
			}
			continue;
		}
		size_t take = r->len - r->have;
		if (take > len)
			take = len;
		if (r->have + take > r->cap) {
			size_t cap = r->cap ? r->cap * 2 : GATHER_MIN;
			if (cap < r->have + take)
				cap = r->have + take;
			if (cap > r->len)
				cap = r->len;
			if (cap > r->cap) {
				r->buf = xrealloc(r->buf, cap);
				r->cap = cap;
			}
		}
		memcpy(r->buf + r->have, p, take);
		r->have += take;
		p += take;
		len -= take;
		if (r->have == r->len)
			deliver(r, r->buf, r->len, on_message, ctx);
	}
	return r->err;
}
