/* feedev.h - the change feed's events (docs/events.md is the contract):
 * what central publishes on likes.changes (a membership that flipped, a
 * sum that moved) and likes.milestones (a count that first reached a
 * threshold), one JSON object per Kafka message.
 *
 * An event's id names where central made it: the input epoch and
 * partition, the batch-topic offset whose application made it, and its
 * index among the events that message made (both topics). Ids grow along
 * each partition of each topic, so a consumer drops a repeat by comparing
 * with the last id it kept (feedev_id_cmp).
 *
 * Encoding is ours and exact: fixed member order, shortest integers, so
 * the same event always gives the same bytes, at every instance of a
 * shard. Decoding (jansson) is for readers: sim's replay check and
 * `central tail`; it accepts any member order and refuses anything the
 * contract does not allow. Pure; any thread.
 */
#ifndef LIKES_FEEDEV_H
#define LIKES_FEEDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sbuf.h"

#define FEEDEV_VERSION 1
#define FEEDEV_STR_MAX 256 /* bytes in a decoded string field */
#define FEEDEV_ID_MAX 64   /* "E-P-O-I" in decimal, with its NUL */

typedef struct feedev_id {
	uint32_t epoch;     /* central's input epoch of the partition */
	uint32_t partition; /* the item's partition (batch topic and this one) */
	uint64_t offset;    /* the batch-topic offset whose application made it */
	uint32_t index;     /* among the events that offset made, from 0 */
} feedev_id;

enum feedev_type {
	FEEDEV_SET = 1,       /* a set membership flipped (likes.changes) */
	FEEDEV_SUM = 2,       /* a sum counter moved by n (likes.changes) */
	FEEDEV_MILESTONE = 3, /* a count first reached a threshold (likes.milestones) */
	FEEDEV_HOME = 4,      /* a user's home moved (home streams only): user,
	                         region = the new home, n = the move's wall ms */
};

/* One event. Strings are (pointer, length), not NUL-terminated: the
 * encoder reads them from the caller; the decoder points them into its
 * own storage (feedev_decoded). */
typedef struct feedev {
	feedev_id id;
	enum feedev_type type;
	const char *counter, *item, *user, *region;
	size_t counter_n, item_n, user_n, region_n; /* user: FEEDEV_SET and FEEDEV_HOME;
	                                               counter, item: not FEEDEV_HOME */
	bool member;        /* FEEDEV_SET: the pair's state after the change */
	uint64_t n;         /* FEEDEV_SUM: the amount added; FEEDEV_HOME: since_ms */
	uint64_t threshold; /* FEEDEV_MILESTONE: the threshold reached */
	uint64_t hlc;       /* the winning op's clock (milestone: the op that crossed) */
	uint64_t count;     /* the (counter, item) count right after the change */
} feedev;

/* An event read back, with the storage its strings point into. */
typedef struct feedev_decoded {
	feedev ev;
	char id_text[FEEDEV_ID_MAX];
	char counter[FEEDEV_STR_MAX + 1], item[FEEDEV_STR_MAX + 1];
	char user[FEEDEV_STR_MAX + 1], region[FEEDEV_STR_MAX + 1];
} feedev_decoded;

/* Appends e as one JSON object (no newline) to out. */
void feedev_encode(const feedev *e, sbuf *out);

/* Reads exactly one event from buf. 0; ERR_VERSION for a "v" other than
 * 1; ERR_CORRUPT for anything else the contract refuses (not JSON, a
 * member missing or of the wrong type, an unknown "type", a bad id, a
 * string over FEEDEV_STR_MAX, members of another type present). Unknown
 * members are skipped (a later version may add some). */
int feedev_decode(const void *buf, size_t len, feedev_decoded *out) WARN_UNUSED;

/* The id of an event as feedev_encode wrote it, without parsing the
 * rest: the "id" member among the first bytes. 0, or ERR_CORRUPT. For
 * readers that only need the order (central's publisher). */
int feedev_id_find(const void *buf, size_t len, feedev_id *id) WARN_UNUSED;

/* The id as text, "epoch-partition-offset-index"; returns its length. */
size_t feedev_id_format(const feedev_id *id, char out[FEEDEV_ID_MAX]);
/* Parses that text. 0, or ERR_CORRUPT. */
int feedev_id_parse(const char *s, size_t n, feedev_id *id) WARN_UNUSED;
/* Order along one partition: by epoch, offset, then index (<0, 0, >0).
 * Partitions are not compared. */
int feedev_id_cmp(const feedev_id *a, const feedev_id *b);

#endif
