/* members_int.h - struct members, owned by ledger_members.c: the
 * membership filter, a Bloom filter of every membership ('M'), aged
 * item ('Y') and home mark key the store holds (and maybe a few it no
 * longer does), with the store reads it spared and made. A lookup the
 * filter rules out costs no store read: most (user, item) pairs were
 * never liked. Private to edge/ledger/ (ledger_int.h includes it).
 *
 * No lock: the filter's bits and the counters are atomic, so any thread
 * asks and reads; a key is added before the store write that puts it
 * (group commit, a home put, a follower's copy of the active's writes),
 * so "absent" stays true, and a key the write then failed to put only
 * costs a read later. A filter forgets nothing: a deleted key costs a
 * read until the next start.
 */
#ifndef EDGE_LEDGER_MEMBERS_INT_H
#define EDGE_LEDGER_MEMBERS_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bloom.h"
#include "edge/ledger/ledger_types.h"
#include "store.h"

struct members {
	bloom filter; /* 0 bytes: off, every lookup reads the store */
	atomic_uint_fast64_t reads, skipped;
};

/* A filter of bytes (0: none). */
void ledger_members_init(struct members *m, size_t bytes);
void ledger_members_free(struct members *m);
/* Fills it from db's membership, aged-item and home-mark keys (start-up):
 * 0 or the store's error. */
int ledger_members_load(struct members *m, store *db);
/* Key k (kn bytes) may be in the store from now on. */
void ledger_members_add(struct members *m, const char *k, size_t kn);
/* Every key of those kinds that wb puts (a follower's write of the
 * active's records). */
void ledger_members_note(struct members *m, const store_batch *wb);
/* May the store hold key k? false: it does not. */
bool ledger_members_maybe(const struct members *m, const char *k, size_t kn);
/* Key k's hash, its block of the filter asked of memory now: a lookup
 * later (ledger_member_read_h) finds it cached. */
bloom_hash ledger_members_prefetch(const struct members *m, const char *k, size_t kn);
/* The stored membership under member key mkey (kn bytes, hashed bh) and
 * the clock of the op that set it; *state -1 when none. 0 or the store's
 * error. */
int ledger_member_read_h(struct members *m, store *db, const char *mkey, size_t kn, bloom_hash bh,
                         int *state, uint64_t *stamp);
/* ledger_member_read_h with the hash taken here. */
int ledger_member_read(struct members *m, store *db, const char *mkey, size_t kn, int *state,
                       uint64_t *stamp);
/* The reads made and spared (member_reads, member_reads_skipped). */
void ledger_members_stats(const struct members *m, ledger_stats *out);
/* The filter's resident bytes. */
uint64_t ledger_members_bytes(const struct members *m);

#endif
