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
 *     u32 value length, the value (the event's JSON)
 *
 * Numbers big-endian. The applier writes records (apply_ops.c), the
 * publisher reads them (central/feed/). Pure, any thread.
 */
#ifndef CENTRAL_FEEDREC_H
#define CENTRAL_FEEDREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Opens an entry whose value the caller appends next (feedev_encode);
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

#endif
