/* keys.h - the edge's LevelDB key layout: an encoder (and, where a key is
 * read back, a decoder) for every kind of key the edge stores, so that no
 * other file writes a tag letter or takes a key apart by hand. Numbers
 * are big-endian so that keys sort by them. docs/ARCHITECTURE.md has the
 * table of what each value holds. Pure functions: any thread.
 */
#ifndef EDGE_KEYS_H
#define EDGE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/ledger/idem.h"
#include "item.h"

enum ekey_tag {
	EKEY_MEMBER = 'M',      /* counter 0 item 0 user: a membership */
	EKEY_COUNT = 'C',       /* counter 0 item: a snapshot count */
	EKEY_GROUP = 'G',       /* gno: the pending ops one group commit wrote */
	EKEY_RUN = 'P',         /* partition opno: a run of pending ops (stores
	                           before group records) */
	EKEY_OP = 'O',          /* partition opno: one pending op (stores before runs) */
	EKEY_BATCH = 'B',       /* partition seq: a sealed batch */
	EKEY_FLAGS = 'D',       /* partition seq: its ops' overlay flags */
	EKEY_SEALED = 'S',      /* partition: the last sealed sequence and opno */
	EKEY_APPLIED = 'A',     /* partition: what central's snapshots said last */
	EKEY_SNAP_OFFSET = 'K', /* partition: the next snapshot-topic offset */
	EKEY_SNAP_SEEN = 'N',   /* partition: the newest snapshot version applied */
	EKEY_REPLICA = 'R',     /* partition: the replica's state */
	EKEY_IDEM = 'I',        /* user 0 key: an idempotency record */
	EKEY_IDEM_EXPIRY = 'J', /* expiry user 0 key: its expiry index entry */
	EKEY_HOME_NEXT = 'H',   /* partition: the home stream's position and horizon */
	EKEY_ZERO = 'Z',        /* counter 0 item: a version at which its count was 0 */
	EKEY_AGED = 'Y',        /* counter 0 item: likes of it were dropped here
	                           (store.member_keep_s): an absent pair is not known */
	EKEY_SWEEP = 'W',       /* (alone): where the retention's pass goes on */
	EKEY_HOME_MARK = 'T',   /* user 0 partition: where the user lives, as the
	                           last move the home stream told of left it */
	/* The store's place in its changelog (edge/changelog), each but 'Q'
	 * a key of one byte with a u64 value: */
	EKEY_LOG_POSITION = 'L', /* the offset of the next record to apply */
	EKEY_LOG_EPOCH = 'E',    /* the highest epoch taken over in the log */
	EKEY_LOG_WRITER = 'V',   /* the latest writer time a takeover named (kept
	                            when the log starts again: it only grows) */
	EKEY_LOG_GAP = 'U',      /* records the log lost before this store read
	                            them (retention, truncation): such a store
	                            may not take over */
	EKEY_LOG_HELD = 'Q',     /* n: a record held for the log (durability =
	                            local), oldest first */
};

/* "counter 0 item": the overlay's and the caches' key (no tag). */
#define EKEY_PAIR_MAX (COUNTER_MAX + 1 + ITEM_MAX)
#define EKEY_MEMBER_MAX (1 + COUNTER_MAX + 1 + ITEM_MAX + 1 + USER_MAX)
#define EKEY_COUNT_MAX (1 + EKEY_PAIR_MAX)
#define EKEY_PART_LEN 5
#define EKEY_PART_SEQ_LEN 13
#define EKEY_GROUP_LEN 9

/* A key's first byte, as a one-byte prefix for store_iter_new. */
const char *ekey_prefix(enum ekey_tag tag);
/* k is a key of tag's kind. */
static inline bool ekey_is(const char *k, size_t kn, enum ekey_tag tag)
{
	return kn && k[0] == (char)tag;
}
/* k is the one-byte key of tag ('L', 'E', 'V', 'U', 'W'): ekey_prefix
 * is that key. */
static inline bool ekey_is_alone(const char *k, size_t kn, enum ekey_tag tag)
{
	return kn == 1 && k[0] == (char)tag;
}

size_t ekey_pair(char *k, const char *counter, size_t cl, const char *item, size_t il);
/* 'M' of (counter, item, user) into k (EKEY_MEMBER_MAX bytes). */
size_t ekey_member(char *k, const char *counter, const char *item, const char *user);
/* 'C' of a pair key made by ekey_pair (EKEY_COUNT_MAX bytes). */
size_t ekey_count(char *k, const char *pair, size_t pn);
/* 'Z' of a pair key (EKEY_COUNT_MAX bytes). */
size_t ekey_zero(char *k, const char *pair, size_t pn);
/* 'Y' of a pair key (EKEY_COUNT_MAX bytes). */
size_t ekey_aged(char *k, const char *pair, size_t pn);
/* An 'M' key's parts, copied (NUL-terminated) into counter, item and
 * user (COUNTER_MAX + 1, ITEM_MAX + 1, USER_MAX + 1 bytes). false when
 * k is not one. */
bool ekey_member_parse(const char *k, size_t kn, char *counter, char *item, char *user);

/* 'T' of (user, partition) into k (EKEY_HOME_MARK_MAX bytes). */
#define EKEY_HOME_MARK_MAX (1 + USER_MAX + 1 + 4)
size_t ekey_home_mark(char *k, const char *user, size_t un, uint32_t p);

/* Keys of one partition: 'S', 'A', 'K', 'N', 'R', 'H'. */
size_t ekey_part(char *k, enum ekey_tag tag, uint32_t p);
/* Keys of one partition and a number: 'P', 'O' (opno), 'B', 'D' (seq). */
size_t ekey_part_seq(char *k, enum ekey_tag tag, uint32_t p, uint64_t seq);
/* The partition and number of such a key; false when it is not one. */
bool ekey_part_seq_parse(const char *k, size_t kn, uint32_t *p, uint64_t *seq);

/* 'G' of group number gno, and back; false when k is not one. */
size_t ekey_group(char *k, uint64_t gno);
bool ekey_group_parse(const char *k, size_t kn, uint64_t *gno);

/* 'Q' of held record n (EKEY_HELD_LEN bytes). */
#define EKEY_HELD_LEN 9
size_t ekey_held(char *k, uint64_t n);

/* Idempotency keys: user and key (idem.h bounds them). k holds
 * EKEY_IDEM_MAX bytes. */
#define EKEY_IDEM_MAX (1 + 8 + USER_MAX + 1 + IDEM_KEY_MAX)
size_t ekey_idem(char *k, const char *user, const char *key);
size_t ekey_idem_expiry(char *k, uint64_t expiry_ms, const char *user, const char *key);
/* From an expiry entry: its expiry and the key of the record it indexes
 * (into rec, EKEY_IDEM_MAX bytes). false when kn cannot be one. */
bool ekey_idem_expiry_parse(const char *k, size_t kn, uint64_t *expiry_ms, char *rec, size_t *rn);

#endif
