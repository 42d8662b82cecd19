/* feedrec.h - the value of an 'X' key (keys.h): the change feed's events
 * one input message made, kept in central's store from the message's own
 * write until the topics hold them (docs/events.md, "Exactly once").
 *
 *   u64 wall ms when the message was applied (the feed's lag)
 *   then per event, in id order:
 *     u8 topic (FEEDREC_CHANGES, FEEDREC_MILESTONES, or FEEDREC_HOMES + i:
 *        the home stream of the i-th region central sends to)
 *     u32 index (the id's last part)
 *     u16 key length, the key (the item)
 *     u32 value length, the value: the event without its id and item
 *        (feedrec_event_put), which the publisher turns into the JSON
 *        it sends; a value that begins with '{' is that JSON itself
 *        (records stored before the compact form) and is sent as it is
 *
 * Numbers big-endian. The applier writes records (apply_ops.c), the
 * publisher reads them (central/feed/). Pure, any thread.
 */
#ifndef CENTRAL_FEEDREC_H
#define CENTRAL_FEEDREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feedev.h"
#include "sbuf.h"
#include "store.h"

enum {
	FEEDREC_CHANGES = 0,
	FEEDREC_MILESTONES = 1,
	FEEDREC_HOMES = 2,      /* the first region's home stream */
	FEEDREC_HOMES_MAX = 16, /* regions with a home stream */
	FEEDREC_TOPICS = FEEDREC_HOMES + FEEDREC_HOMES_MAX,
};
#define FEEDREC_HEAD 8

typedef struct feedrec_ent {
	int topic;
	uint32_t index;
	const char *key, *val;
	size_t kn, vn;
} feedrec_ent;

static inline void feedrec_begin(sbuf *b, uint64_t wall_ms)
{
	unsigned char h[FEEDREC_HEAD];
	store_put_u64(h, wall_ms);
	sbuf_add(b, h, sizeof h);
}

/* The record's applied time. 0 for a record too short to have one. */
static inline uint64_t feedrec_wall_ms(const char *v, size_t n)
{
	return n >= FEEDREC_HEAD ? store_get_u64((const unsigned char *)v) : 0;
}

/* Opens an entry whose value the caller appends next (feedrec_event_put);
 * returns where its length goes, for feedrec_close. */
static inline size_t feedrec_open(sbuf *b, int topic, uint32_t index, const char *key, size_t kn)
{
	unsigned char h[7];
	h[0] = (unsigned char)topic;
	store_put_u32(h + 1, index);
	h[5] = (unsigned char)(kn >> 8);
	h[6] = (unsigned char)kn;
	sbuf_add(b, h, sizeof h);
	sbuf_add(b, key, kn);
	size_t at = b->len;
	sbuf_add(b, "\0\0\0\0", 4);
	return at;
}

static inline void feedrec_close(sbuf *b, size_t at)
{
	store_put_u32((unsigned char *)b->p + at, (uint32_t)(b->len - at - 4));
}

/* The entry at *pos (start at FEEDREC_HEAD). true with *e filled and *pos
 * past it; false at the end, or with *bad set for a malformed record. */
static inline bool feedrec_next(const char *v, size_t n, size_t *pos, feedrec_ent *e, bool *bad)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t at = *pos;
	*bad = false;
	if (at >= n)
		return false;
	if (n - at < 7) {
		*bad = true;
		return false;
	}
	e->topic = u[at];
	e->index = store_get_u32(u + at + 1);
	e->kn = (size_t)u[at + 5] << 8 | u[at + 6];
	at += 7;
	if (e->topic >= FEEDREC_TOPICS || n - at < e->kn + 4) {
		*bad = true;
		return false;
	}
	e->key = v + at;
	at += e->kn;
	e->vn = store_get_u32(u + at);
	at += 4;
	if (n - at < e->vn) {
		*bad = true;
		return false;
	}
	e->val = v + at;
	*pos = at + e->vn;
	return true;
}

/* ---- an event's value ---------------------------------------------------
 *
 *   u8 type (enum feedev_type), u8 member (0 or 1)
 *   varints (7 bits a byte, low first): hlc, count, n, threshold
 *   counter, user, region: each a varint length, then its bytes
 *
 * About a third of the JSON's bytes: the store writes, flushes and
 * compacts every record once or more before its events are published. */

static inline void feedrec_put_varint(sbuf *b, uint64_t v)
{
	unsigned char x[10];
	size_t n = 0;
	while (v >= 0x80) {
		x[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	x[n++] = (unsigned char)v;
	sbuf_add(b, x, n);
}

static inline bool feedrec_get_varint(const unsigned char **p, const unsigned char *end,
                                      uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p == end)
			return false;
		unsigned char c = *(*p)++;
		x |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

static inline bool feedrec_get_str(const unsigned char **p, const unsigned char *end,
                                   const char **s, size_t *n)
{
	uint64_t len;
	if (!feedrec_get_varint(p, end, &len) || len > (uint64_t)(end - *p))
		return false;
	*s = (const char *)*p;
	*n = (size_t)len;
	*p += len;
	return true;
}

/* Appends e's value (all but its id and item) to b. */
static inline void feedrec_event_put(const feedev *e, sbuf *b)
{
	unsigned char h[2] = {(unsigned char)e->type, e->member ? 1 : 0};
	sbuf_add(b, h, sizeof h);
	feedrec_put_varint(b, e->hlc);
	feedrec_put_varint(b, e->count);
	feedrec_put_varint(b, e->n);
	feedrec_put_varint(b, e->threshold);
	feedrec_put_varint(b, e->counter_n);
	sbuf_add(b, e->counter, e->counter_n);
	feedrec_put_varint(b, e->user_n);
	sbuf_add(b, e->user, e->user_n);
	feedrec_put_varint(b, e->region_n);
	sbuf_add(b, e->region, e->region_n);
}

/* The value is an event's JSON (the form before feedrec_event_put). */
static inline bool feedrec_event_is_json(const char *v, size_t n)
{
	return n > 0 && v[0] == '{';
}

/* Reads entry e's event into *out: its strings point into the record,
 * its item is e's key (a FEEDEV_HOME's key is its user, and it has no
 * item), its id is id. false for a malformed value. */
static inline bool feedrec_event_get(const feedrec_ent *e, feedev_id id, feedev *out)
{
	const unsigned char *p = (const unsigned char *)e->val, *end = p + e->vn;
	if (e->vn < 2 || p[0] < FEEDEV_SET || p[0] > FEEDEV_HOME || p[1] > 1)
		return false;
	bool home = p[0] == FEEDEV_HOME; /* keyed by its user: it has no item */
	*out = (feedev){.id = id,
	                .type = (enum feedev_type)p[0],
	                .member = p[1] == 1,
	                .item = home ? "" : e->key,
	                .item_n = home ? 0 : e->kn};
	p += 2;
	return feedrec_get_varint(&p, end, &out->hlc) && feedrec_get_varint(&p, end, &out->count) &&
	       feedrec_get_varint(&p, end, &out->n) &&
	       feedrec_get_varint(&p, end, &out->threshold) &&
	       feedrec_get_str(&p, end, &out->counter, &out->counter_n) &&
	       feedrec_get_str(&p, end, &out->user, &out->user_n) &&
	       feedrec_get_str(&p, end, &out->region, &out->region_n) && p == end;
}

#endif
