/* idem.h - idempotency records: the first answer to a write that carried
 * an Idempotency-Key, kept for a retention window.
 *
 * Store keys (in the edge's LevelDB, next to the ledger's):
 *   'I' user 0 key             -> [expires_ms u64][fingerprint u64]
 *                                 [status u16][answer bytes]
 *   'J' expires_ms(u64) user 0 key -> ""   (expiry index, swept in order)
 * A record is written in the same LevelDB batch as the ops it answers
 * (see ledger_write_ops), so an answered retry can never apply twice.
 * The fingerprint says which request the key was first used for; the
 * same key with another request is a conflict. Pure encoding plus store
 * reads; any thread (the store is thread-safe).
 */
#ifndef EDGE_IDEM_H
#define EDGE_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "item.h"
#include "store.h"

#define IDEM_KEY_MAX 128 /* bytes in an Idempotency-Key: visible ASCII */
#define IDEM_ANSWER_MAX (256 * 1024)

typedef struct idem_req {
	const char *user;
	const char *key;
	uint64_t fingerprint; /* of method, path and body */
	uint64_t expires_ms;
} idem_req;

/* True for 1..IDEM_KEY_MAX visible ASCII bytes other than '"' and '\\'. */
bool idem_key_valid(const char *key, size_t n);

/* The fingerprint of a request: method, path and body. */
uint64_t idem_fingerprint(const char *method, const char *path, const char *body, size_t len);

/* Looks (user, key) up. 0 with a malloc'ed *answer when a live record
 * matches the fingerprint; ERR_INVAL when a live record has another
 * fingerprint (the key was used for a different request);
 * ERR_NOTFOUND when there is none (or it expired); ERR_IO. */
int idem_lookup(store *db, const idem_req *r, uint64_t now_ms, int *status, char **answer,
                size_t *len) WARN_UNUSED;

/* Adds the record and its expiry entry to b. */
void idem_batch_put(store_batch *b, const idem_req *r, int status, const char *answer, size_t len);

/* Where the sweeps go on. A deleted expiry entry stays in LevelDB as a
 * tombstone until compactions drop it, and an iterator steps over each
 * one, so sweeps that began at the first key would walk every entry
 * swept since, more of them the longer the edge runs. A sweep begins at
 * the last expiry deleted instead. A record expires a retention after
 * it is written, so none can expire before that place unless the wall
 * clock went back: a sweep that sees now_ms below the last one's begins
 * at the first key again. Zero: from the first key. */
typedef struct idem_sweeper {
	uint64_t from_ms; /* the last expiry deleted */
	uint64_t last_ms; /* the last sweep's now_ms */
} idem_sweeper;

/* Deletes up to max records that expired at or before now_ms. Returns
 * how many it removed, or ERR_IO. */
int idem_sweep(store *db, idem_sweeper *sw, uint64_t now_ms, int max) WARN_UNUSED;

#endif
