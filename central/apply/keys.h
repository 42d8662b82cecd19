/* keys.h - central's LevelDB key layout, shared by the applier (writes)
 * and the ops API (reads). docs/ARCHITECTURE.md lists the same table.
 *
 * Numbers are big-endian so keys sort numerically; strings are validated
 * before they get here (counters, items, users, edges and regions never
 * hold a 0 byte), so 0 separates the parts unambiguously.
 *
 *   'S' counter 0 item 0 user    -> membership state (merge.h encoding)
 *   'C' counter 0 item           -> count u64
 *   'R' counter 0 item 0 region  -> part of the count from region, u64
 *   'Y' counter 0 item 0 day u32 -> part of the count from that UTC day
 *                                   (days since 1970-01-01), u64
 *   'A' edge 0 partition u32     -> applied sequence u64
 *   'H' edge 0 partition u32 seq u64 -> held batch (wire bytes)
 *   'F' edge 0 partition u32     -> the edge's fence in the partition:
 *                                   the latest writer time a hand-over
 *                                   or a batch's writer header named
 *                                   there u64, then that hand-over's
 *                                   epoch u64 (0 when a batch set it);
 *                                   batches stamped with an earlier
 *                                   writer are refused (docs/wire.md,
 *                                   "Hand-over")
 *   'O' partition u32            -> next input offset u64
 *   'E' partition u32            -> epoch of the partition's input u32
 *                                   (absent = 0; version.h)
 *   'M' name                     -> deployment metadata (store.c)
 *   'M' "home_index_from" 0 partition u32
 *                                -> the version from which the 'V' keys
 *                                   of that partition hold every change
 *                                   (u64): written once, when a store
 *                                   from before the index is first
 *                                   opened (applier_new); absent: from
 *                                   the start
 *   'L' counter 0 item           -> the highest milestone announced for
 *                                   the count, u64 (docs/events.md)
 *   'X' partition u32 version u64 -> the change feed's events that the
 *                                   input message at that version made,
 *                                   until the topics hold them (feedrec.h);
 *                                   version 2^64-1: the partition's end
 *                                   key (CKEY_FEED_END), empty, kept
 *   'V' region 0 partition u32 user 0 counter 0 item
 *                                -> a home region's index of its users'
 *                                   memberships: flags u8 (member 1,
 *                                   unhomed 2), then the winning op's hlc
 *                                   u64; written with the 'S' key by each
 *                                   change an op with that home made (with
 *                                   home streams on, one without a home
 *                                   made in that region: unhomed unless
 *                                   the entry is homed), read by the home
 *                                   checkpoint (opsckpt.c), which skips
 *                                   unhomed ones. A user's entries in a
 *                                   partition are adjacent, so one seek
 *                                   finds them all
 *   'G' region 0 partition u32 counter 0 item 0 day u32
 *                                -> a like of the item by a user of the
 *                                   region, on that UTC day: its hlc u64,
 *                                   then the user (the day's last such
 *                                   like written); written with each like
 *                                   the 'V' index takes as homed; all but
 *                                   an item's first are deleted by the
 *                                   sweep (apply_thin.c). An
 *                                   item's keys sort by day, so its first
 *                                   says how old its oldest like there
 *                                   is: the home checkpoint with since_ms
 *                                   sends one like per item older than
 *                                   the edge's window from them
 *   'W' partition u32 user       -> where the user lives: the wall ms of
 *                                   their last move (u64), then the home
 *                                   region's name; written by a move
 *                                   message applied in that partition
 *                                   (apply_move.c); later ops of the user
 *                                   are indexed under that home
 *   'U' region 0 partition u32 counter 0 item 0 user
 *                                -> the same index in its first layout
 *                                   (item before user); an open moves
 *                                   each such key to its 'V' key
 *                                   (applier_new)
 *
 * 'R' and 'Y' keys whose value falls to 0 are deleted; 'V' keys never
 * are (an unlike leaves member 0). Pure, any thread.
 */
#ifndef CENTRAL_KEYS_H
#define CENTRAL_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "item.h"
#include "store.h"

/* The first byte of each kind of key. */
enum ckey_tag {
	CKEY_STATE = 'S',
	CKEY_COUNT = 'C',
	CKEY_REGION = 'R',
	CKEY_DAY = 'Y',
	CKEY_APPLIED = 'A',
	CKEY_HELD = 'H',
	CKEY_FENCE = 'F',
	CKEY_OFFSET = 'O',
	CKEY_EPOCH = 'E',
	CKEY_META = 'M',
	CKEY_LEVEL = 'L',
	CKEY_FEED = 'X',
	CKEY_HOME = 'V',
	CKEY_HOME_V1 = 'U', /* the index's first layout, read only to move it */
	CKEY_WHERE = 'W',
	CKEY_HOME_DAY = 'G',
};

/* A kind's first byte as a one-byte prefix for store_iter_new. */
static inline const char *ckey_prefix(enum ckey_tag tag)
{
	static const char tags[] = "SCRYAHFOEMLXVUWG";
	const char *at = strchr(tags, (int)tag);
	return at ? at : "";
}

/* Room for the longest key of any kind: a 'V' key, whose region is a
 * name item_edge_valid takes (EDGE_ID_MAX, as merge.h's regions), with
 * some to spare. */
#define CKEY_MAX (1 + EDGE_ID_MAX + 1 + 4 + COUNTER_MAX + 1 + ITEM_MAX + 1 + USER_MAX + 16)

/* tag a 0 b [0 c]: the S, C and R keys, and the prefix of Y keys. */
static inline size_t ckey_join(unsigned char *k, enum ckey_tag tag, const char *a, size_t an,
                               const char *b, size_t bn, const char *c, size_t cn, int with_c)
{
	size_t n = 0;
	k[n++] = (unsigned char)tag;
	memcpy(k + n, a, an);
	n += an;
	k[n++] = 0;
	memcpy(k + n, b, bn);
	n += bn;
	if (with_c) {
		k[n++] = 0;
		memcpy(k + n, c, cn);
		n += cn;
	}
	return n;
}

static inline size_t ckey_state(unsigned char *k, const char *counter, size_t cn, const char *item,
                                size_t in, const char *user, size_t un)
{
	return ckey_join(k, CKEY_STATE, counter, cn, item, in, user, un, 1);
}

static inline size_t ckey_count(unsigned char *k, const char *counter, size_t cn, const char *item,
                                size_t in)
{
	return ckey_join(k, CKEY_COUNT, counter, cn, item, in, NULL, 0, 0);
}

static inline size_t ckey_region(unsigned char *k, const char *counter, size_t cn, const char *item,
                                 size_t in, const char *region, size_t rn)
{
	return ckey_join(k, CKEY_REGION, counter, cn, item, in, region, rn, 1);
}

/* The 'R' or 'Y' prefix of one (counter, item), trailing 0 included. */
static inline size_t ckey_breakdown_prefix(unsigned char *k, enum ckey_tag tag, const char *counter,
                                           size_t cn, const char *item, size_t in)
{
	return ckey_join(k, tag, counter, cn, item, in, "", 0, 1);
}

static inline size_t ckey_day(unsigned char *k, const char *counter, size_t cn, const char *item,
                              size_t in, uint32_t day)
{
	size_t n = ckey_breakdown_prefix(k, CKEY_DAY, counter, cn, item, in);
	store_put_u32(k + n, day);
	return n + 4;
}

static inline size_t ckey_level(unsigned char *k, const char *counter, size_t cn, const char *item,
                                size_t in)
{
	return ckey_join(k, CKEY_LEVEL, counter, cn, item, in, NULL, 0, 0);
}

/* 'X' partition version: one input message's feed record. */
#define CKEY_FEED_LEN 13
static inline size_t ckey_feed(unsigned char *k, uint32_t p, uint64_t version)
{
	k[0] = CKEY_FEED;
	store_put_u32(k + 1, p);
	store_put_u64(k + 5, version);
	return CKEY_FEED_LEN;
}

/* The version of partition p's last 'X' key: an empty record that is
 * never dropped. Records are dropped oldest first, and LevelDB's
 * iterator steps over every deleted key between one live key and the
 * next: without a live key closing each partition's records, a reader
 * that had read a partition's last record would walk the tombstones of
 * the partitions after it (until compactions drop them) to find the end
 * of its prefix. Readers stop at it. */
#define CKEY_FEED_END UINT64_MAX

/* The prefix of partition p's 'X' keys. */
static inline size_t ckey_feed_prefix(unsigned char *k, uint32_t p)
{
	k[0] = CKEY_FEED;
	store_put_u32(k + 1, p);
	return 5;
}

/* 'A', 'F' or 'H' edge 0 partition (an 'H' key then takes the seq, 8
 * more). */
static inline size_t ckey_edge(unsigned char *k, enum ckey_tag tag, const char *edge, size_t en,
                               uint32_t p)
{
	k[0] = (unsigned char)tag;
	memcpy(k + 1, edge, en);
	k[1 + en] = 0;
	store_put_u32(k + 2 + en, p);
	return 6 + en;
}

/* 'H' edge 0 partition seq: a batch held after a gap. */
static inline size_t ckey_held(unsigned char *k, const char *edge, size_t en, uint32_t p,
                               uint64_t seq)
{
	size_t n = ckey_edge(k, CKEY_HELD, edge, en, p);
	store_put_u64(k + n, seq);
	return n + 8;
}

static inline size_t ckey_offset(unsigned char *k, uint32_t p)
{
	k[0] = CKEY_OFFSET;
	store_put_u32(k + 1, p);
	return 5;
}

/* The epoch of partition p's input: bumped, in the same store write as
 * the 'O' key, when the input offsets went backwards (version.h). */
static inline size_t ckey_epoch(unsigned char *k, uint32_t p)
{
	k[0] = CKEY_EPOCH;
	store_put_u32(k + 1, p);
	return 5;
}

#define CKEY_EPOCH_LEN 4  /* an 'E' value: u32 big-endian */
#define CKEY_FENCE_LEN 16 /* an 'F' value: writer ms u64, epoch u64 */

/* The metadata that says a store writes the home index ("Mhome_index",
 * store_meta_ensure's layout), and partition p's version from which the
 * index holds every change, when the store was older than the index. */
#define CKEY_HOME_INDEX_META "home_index"
#define CKEY_HOME_FROM_LEN 21
static inline size_t ckey_home_from(unsigned char *k, uint32_t p)
{
	k[0] = CKEY_META;
	memcpy(k + 1, "home_index_from", 15);
	k[16] = 0;
	store_put_u32(k + 17, p);
	return CKEY_HOME_FROM_LEN;
}

/* The prefix of one region's 'V' keys in partition p: 'V' region 0 p. */
static inline size_t ckey_home_prefix(unsigned char *k, const char *region, size_t rn, uint32_t p)
{
	k[0] = CKEY_HOME;
	memcpy(k + 1, region, rn);
	k[1 + rn] = 0;
	store_put_u32(k + 2 + rn, p);
	return 6 + rn;
}

/* The prefix of one user's 'V' keys in a region's partition p:
 * 'V' region 0 p user 0. */
static inline size_t ckey_home_user_prefix(unsigned char *k, const char *region, size_t rn,
                                           uint32_t p, const char *user, size_t un)
{
	size_t n = ckey_home_prefix(k, region, rn, p);
	memcpy(k + n, user, un);
	n += un;
	k[n++] = 0;
	return n;
}

/* 'V' region 0 p user 0 counter 0 item: the pair's entry in the index
 * of the region's users (p: the partition of the batch that changed it,
 * which is the item's). */
static inline size_t ckey_home(unsigned char *k, const char *region, size_t rn, uint32_t p,
                               const char *user, size_t un, const char *counter, size_t cn,
                               const char *item, size_t in)
{
	size_t n = ckey_home_user_prefix(k, region, rn, p, user, un);
	memcpy(k + n, counter, cn);
	n += cn;
	k[n++] = 0;
	memcpy(k + n, item, in);
	return n + in;
}

/* The prefix of one region's 'G' keys in partition p: 'G' region 0 p. */
static inline size_t ckey_home_day_prefix(unsigned char *k, const char *region, size_t rn,
                                          uint32_t p)
{
	size_t n = ckey_home_prefix(k, region, rn, p);
	k[0] = CKEY_HOME_DAY;
	return n;
}

/* 'G' region 0 p counter 0 item 0 day: a like of the region's users of
 * the item on that day. */
static inline size_t ckey_home_day(unsigned char *k, const char *region, size_t rn, uint32_t p,
                                   const char *counter, size_t cn, const char *item, size_t in,
                                   uint32_t day)
{
	size_t n = ckey_home_day_prefix(k, region, rn, p);
	memcpy(k + n, counter, cn);
	n += cn;
	k[n++] = 0;
	memcpy(k + n, item, in);
	n += in;
	k[n++] = 0;
	store_put_u32(k + n, day);
	return n + 4;
}

/* A 'G' key: its region, partition, counter, item and day (the names
 * non-empty). */
static inline bool ckey_parse_home_day(const char *k, size_t kn, const char **region, size_t *rn,
                                       uint32_t *p, const char **counter, size_t *cn,
                                       const char **item, size_t *in, uint32_t *day)
{
	if (kn < 1 + 1 + 1 + 4 + 1 + 1 + 1 + 1 + 4 || k[0] != CKEY_HOME_DAY || k[kn - 5] != 0)
		return false;
	const char *z = memchr(k + 1, 0, kn - 1), *end = k + kn - 5;
	if (!z || z == k + 1 || end - z < 1 + 4 + 3)
		return false;
	const char *c = z + 5;
	const char *z1 = memchr(c, 0, (size_t)(end - c));
	if (!z1 || z1 == c || z1 + 1 >= end)
		return false;
	*region = k + 1;
	*rn = (size_t)(z - k - 1);
	*p = store_get_u32((const unsigned char *)z + 1);
	*counter = c;
	*cn = (size_t)(z1 - c);
	*item = z1 + 1;
	*in = (size_t)(end - z1 - 1);
	*day = store_get_u32((const unsigned char *)end + 1);
	return true;
}

#define CKEY_HOME_DAY_MAX (8 + USER_MAX) /* a 'G' value: hlc u64, then the user */

#define CKEY_WHERE_MAX (8 + EDGE_ID_MAX) /* a 'W' value: since u64, then the home */

/* A 'W' value into v (CKEY_WHERE_MAX bytes): its length. */
static inline size_t ckey_where_value(unsigned char *v, uint64_t since_ms, const char *home,
                                      size_t hn)
{
	store_put_u64(v, since_ms);
	memcpy(v + 8, home, hn);
	return 8 + hn;
}

/* A 'W' value: its since (above 0) and home (non-empty; its name is not
 * checked here). */
static inline bool ckey_parse_where_value(const char *v, size_t vn, uint64_t *since_ms,
                                          const char **home, size_t *hn)
{
	if (vn <= 8 || vn > CKEY_WHERE_MAX)
		return false;
	*since_ms = store_get_u64((const unsigned char *)v);
	*home = v + 8;
	*hn = vn - 8;
	return *since_ms > 0;
}

/* 'W' p user: where the user lives (the last move applied in p). */
static inline size_t ckey_where(unsigned char *k, uint32_t p, const char *user, size_t un)
{
	k[0] = CKEY_WHERE;
	store_put_u32(k + 1, p);
	memcpy(k + 5, user, un);
	return 5 + un;
}

/* A 'W' key: its partition and user (non-empty). */
static inline bool ckey_parse_where(const char *k, size_t kn, uint32_t *p, const char **user,
                                    size_t *un)
{
	if (kn < 6 || k[0] != CKEY_WHERE)
		return false;
	*p = store_get_u32((const unsigned char *)k + 1);
	*user = k + 5;
	*un = kn - 5;
	return true;
}

#define CKEY_HOME_LEN 9     /* a 'V' value: flags u8, hlc u64 big-endian */
#define CKEY_HOME_MEMBER 1u /* flag: the pair is a membership */
#define CKEY_HOME_UNHOMED                                                                          \
	2u /* flag: set by an op that named no home, keyed                                         \
	    * under the region that took it (apply_ops.c) */

static inline void ckey_home_value_as(unsigned char *v, bool member, bool unhomed, uint64_t clock)
{
	v[0] = (unsigned char)((member ? CKEY_HOME_MEMBER : 0) | (unhomed ? CKEY_HOME_UNHOMED : 0));
	store_put_u64(v + 1, clock);
}

/* A value of a user at home in the key's region. */
static inline void ckey_home_value(unsigned char *v, bool member, uint64_t clock)
{
	ckey_home_value_as(v, member, false, clock);
}

/* ---- reading keys back (pointers into k; nothing validated but the
 * layout) ---- */

/* A 'C' key: its counter and item, both non-empty. */
static inline bool ckey_parse_count(const char *k, size_t kn, const char **counter, size_t *cn,
                                    const char **item, size_t *in)
{
	if (kn < 4 || k[0] != CKEY_COUNT)
		return false;
	const char *z = memchr(k + 1, 0, kn - 1);
	if (!z || z == k + 1 || z == k + kn - 1)
		return false;
	*counter = k + 1;
	*cn = (size_t)(z - k - 1);
	*item = z + 1;
	*in = kn - *cn - 2;
	return true;
}

/* An 'A' or 'F' key (that tag, seq may be NULL) or an 'H' key (tag 'H'): its
 * edge (non-empty), partition and, for 'H', the held sequence. */
static inline bool ckey_parse_edge(const char *k, size_t kn, enum ckey_tag tag, const char **edge,
                                   size_t *en, uint32_t *p, uint64_t *seq)
{
	size_t tail = tag == CKEY_HELD ? 13 : 5; /* 0, partition [, seq] */
	if (kn < 1 + 1 + tail || k[0] != (char)tag)
		return false;
	const char *z = memchr(k + 1, 0, kn - 1);
	if (!z || z == k + 1 || (size_t)(k + kn - z) != tail)
		return false;
	*edge = k + 1;
	*en = (size_t)(z - k - 1);
	*p = store_get_u32((const unsigned char *)z + 1);
	if (seq)
		*seq = tag == CKEY_HELD ? store_get_u64((const unsigned char *)z + 5) : 0;
	return true;
}

/* "counter 0 item" (a 'C' key without its tag, as in the applier's
 * changed-counts map): its two parts. */
static inline bool ckey_split_pair(const char *k, size_t kn, const char **counter, size_t *cn,
                                   const char **item, size_t *in)
{
	const char *z = memchr(k, 0, kn);
	if (!z || z == k || z == k + kn - 1)
		return false;
	*counter = k;
	*cn = (size_t)(z - k);
	*item = z + 1;
	*in = kn - *cn - 1;
	return true;
}

/* The item of an 'S', 'C', 'R', 'Y' or 'L' key (non-empty). */
static inline bool ckey_item_of(const char *k, size_t kn, const char **item, size_t *in)
{
	if (kn < 2 || (k[0] != CKEY_STATE && k[0] != CKEY_COUNT && k[0] != CKEY_REGION &&
	               k[0] != CKEY_DAY && k[0] != CKEY_LEVEL))
		return false;
	const char *z = memchr(k + 1, 0, kn - 1);
	if (!z)
		return false;
	const char *it = z + 1, *end = k + kn;
	if (k[0] != CKEY_COUNT && k[0] != CKEY_LEVEL) {
		const char *z2 = memchr(it, 0, (size_t)(end - it));
		if (!z2)
			return false;
		end = z2;
	}
	if (end == it)
		return false;
	*item = it;
	*in = (size_t)(end - it);
	return true;
}

/* An 'X' key's partition and version. */
static inline bool ckey_parse_feed(const char *k, size_t kn, uint32_t *p, uint64_t *version)
{
	if (kn != CKEY_FEED_LEN || k[0] != CKEY_FEED)
		return false;
	*p = store_get_u32((const unsigned char *)k + 1);
	*version = store_get_u64((const unsigned char *)k + 5);
	return true;
}

/* The parts of a 'V' key (tag CKEY_HOME) or a 'U' key (CKEY_HOME_V1):
 * region, partition, then three names, each non-empty: user, counter,
 * item in a 'V' key; counter, item, user in a 'U' key. The partition's
 * 4 bytes may hold 0s, so it is read by position after the region's 0. */
static inline bool ckey_parse_home_parts(const char *k, size_t kn, enum ckey_tag tag,
                                         const char **region, size_t *rn, uint32_t *p,
                                         const char *name[3], size_t len[3])
{
	if (kn < 1 + 1 + 1 + 4 + 1 + 1 + 1 + 1 + 1 || k[0] != (char)tag)
		return false;
	const char *z = memchr(k + 1, 0, kn - 1), *end = k + kn;
	if (!z || z == k + 1 || end - z < 1 + 4 + 5)
		return false;
	const char *at = z + 5;
	for (int i = 0; i < 2; i++) {
		const char *zi = memchr(at, 0, (size_t)(end - at));
		if (!zi || zi == at)
			return false;
		name[i] = at;
		len[i] = (size_t)(zi - at);
		at = zi + 1;
	}
	if (at == end)
		return false;
	name[2] = at;
	len[2] = (size_t)(end - at);
	*region = k + 1;
	*rn = (size_t)(z - k - 1);
	*p = store_get_u32((const unsigned char *)z + 1);
	return true;
}

/* A 'V' key: its region, partition, user, counter and item. */
static inline bool ckey_parse_home(const char *k, size_t kn, const char **region, size_t *rn,
                                   uint32_t *p, const char **user, size_t *un, const char **counter,
                                   size_t *cn, const char **item, size_t *in)
{
	const char *name[3];
	size_t len[3];
	if (!ckey_parse_home_parts(k, kn, CKEY_HOME, region, rn, p, name, len))
		return false;
	*user = name[0];
	*un = len[0];
	*counter = name[1];
	*cn = len[1];
	*item = name[2];
	*in = len[2];
	return true;
}

/* A 'V' (or 'U') value: false unless it is 9 bytes with no flag but
 * CKEY_HOME_MEMBER and CKEY_HOME_UNHOMED. */
static inline bool ckey_parse_home_value_as(const char *v, size_t vn, bool *member, bool *unhomed,
                                            uint64_t *clock)
{
	if (vn != CKEY_HOME_LEN || ((unsigned char)v[0] & ~(CKEY_HOME_MEMBER | CKEY_HOME_UNHOMED)))
		return false;
	*member = (unsigned char)v[0] & CKEY_HOME_MEMBER;
	*unhomed = (unsigned char)v[0] & CKEY_HOME_UNHOMED;
	*clock = store_get_u64((const unsigned char *)v + 1);
	return true;
}

/* The same, for a reader that takes either kind of entry. */
static inline bool ckey_parse_home_value(const char *v, size_t vn, bool *member, uint64_t *clock)
{
	bool unhomed;
	return ckey_parse_home_value_as(v, vn, member, &unhomed, clock);
}

/* The partition of an 'O', 'E' or 'X' key. */
static inline bool ckey_parse_part(const char *k, size_t kn, uint32_t *p)
{
	if (!((kn == 5 && (k[0] == CKEY_OFFSET || k[0] == CKEY_EPOCH)) ||
	      (kn == CKEY_FEED_LEN && k[0] == CKEY_FEED)))
		return false;
	*p = store_get_u32((const unsigned char *)k + 1);
	return true;
}

#endif
