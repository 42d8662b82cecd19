/* shard.h - the partitions one central instance owns, and what follows
 * from them in the store: which partition a key belongs to, a digest of
 * each partition's state, a copy of the store into a backup, and the
 * removal of the keys of partitions no longer owned.
 *
 * A shard_set is parsed from central.partitions: "all", or a comma list
 * of partition numbers and inclusive ranges ("0-7", "0-3,8-11"), each in
 * [0, topics.partitions), none listed twice. It is fixed once parsed:
 * any thread may read it.
 *
 * Partition of a key (keys.h): S, C, R, Y and L keys belong to the
 * partition of their item (partition_of); A, H, O, E, X, V, G and W keys carry
 * their partition; M keys (metadata) belong to none.
 *
 * The digest of a partition is the sum, mod 2^64, of XXH3-64 over
 * len(key) || key || value of each of its S, C, R, Y, L, U and A keys:
 * it does not depend on the order keys were written in, and two stores
 * that applied the same input reach the same digest. It is read from
 * one store snapshot together with the partition's 'O' key (the input
 * offset the state reflects); 'O', 'E' (the input's epoch), 'H' (held
 * input) and 'X' (feed records) keys are not hashed.
 *
 * shard_backup and shard_prune write: shard_backup a new store of its
 * own, any thread; shard_prune the given store, which must then have no
 * other writer (central stopped).
 */
#ifndef CENTRAL_SHARD_H
#define CENTRAL_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

typedef struct shard_set {
	uint32_t nparts;    /* topics.partitions */
	uint32_t count;     /* partitions owned */
	unsigned char *own; /* nparts flags */
} shard_set;

/* Parses spec for a topic of nparts partitions into s (shard_set_free
 * it). 0, or ERR_CONFIG with the reason in err (s is then empty). */
int shard_set_parse(shard_set *s, const char *spec, uint32_t nparts, char *err,
                    size_t errlen) WARN_UNUSED;
/* Every partition of nparts. */
void shard_set_all(shard_set *s, uint32_t nparts);
void shard_set_free(shard_set *s);
/* Does s own p? A NULL set owns every partition. */
bool shard_owns(const shard_set *s, uint32_t p);
/* The set as ranges ("0-3,8-11"), or "none": the canonical text kept in
 * the store's metadata. Cut to fit cap (NUL-terminated). */
void shard_set_format(const shard_set *s, char *out, size_t cap);

/* The partition key k (kn bytes) belongs to: 0 with *p, or ERR_NOTFOUND
 * for a key of no partition (metadata, or one that does not parse). */
int shard_key_partition(const char *k, size_t kn, uint32_t nparts, uint32_t *p) WARN_UNUSED;

typedef struct shard_digest {
	uint64_t digest; /* sum of the keys' hashes */
	uint64_t keys;   /* keys hashed */
	uint64_t offset; /* next input offset ('O'), 0 when none stored */
} shard_digest;

/* Fills out[p] for each partition p < nparts from one view (all of them,
 * owned or not: the caller picks). 0 or a store error. */
int shard_digest_all(store_snap *sn, uint32_t nparts, shard_digest *out) WARN_UNUSED;

/* The store metadata key that records the owned set, and the one a
 * backup records its source instance under. */
#define SHARD_META_OWNED "owned_partitions"
#define SHARD_META_BACKUP_OF "backup_of"

/* Records s in db's metadata; when a different set was recorded by an
 * earlier start (a rebalance), logs a warning naming the partitions
 * added and dropped. 0 or ERR_IO (reason in err). */
int shard_note_owned(store *db, const shard_set *s, char *err, size_t errlen) WARN_UNUSED;

/* Is the store under data_dir (data_dir/store) locked by another
 * process? False when it is not, or when that cannot be told. */
bool shard_store_in_use(const char *data_dir);

typedef struct shard_backup_info {
	uint64_t keys;     /* keys copied, metadata included */
	uint64_t *offsets; /* nparts next input offsets at the view, 0 = none; free() */
	uint32_t nparts;
} shard_backup_info;

/* Copies every key of db, read from one snapshot, into a new store at
 * dir/store (dir must be absolute and must not exist yet; it is made),
 * in batches of a few MB, then records metadata backup_of = source_id.
 * 0; ERR_INVAL (dir not absolute or not of [A-Za-z0-9/._-]),
 * ERR_CONFLICT (dir exists), or ERR_IO; the reason in err. On success
 * out->offsets is allocated (free it); on failure it is NULL and a
 * partly written dir is left for the operator to remove. */
int shard_backup(store *db, const char *dir, const char *source_id, uint32_t nparts,
                 shard_backup_info *out, char *err, size_t errlen) WARN_UNUSED;

typedef struct shard_prune_counts {
	uint64_t scanned;    /* keys looked at */
	uint64_t deleted;    /* keys removed */
	uint64_t by_tag[26]; /* removed, per key tag 'A'..'Z' */
} shard_prune_counts;

/* Deletes every key of a partition s does not own, in batches; metadata
 * and keys of no partition stay. 0 or ERR_IO. */
int shard_prune(store *db, const shard_set *s, shard_prune_counts *out) WARN_UNUSED;

#endif
