/* store.h - a thin LevelDB wrapper: open/close, get, atomic batches, read views,
 * prefix iteration, with LevelDB's errors translated and logged once.
 *
 * LevelDB is thread-safe, and so is a store: any thread may call get,
 * write and iterate. A store_batch belongs to one thread at a time.
 */
#ifndef LIKES_STORE_H
#define LIKES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct store store;
typedef struct store_batch store_batch;
typedef struct store_iter store_iter;

typedef struct store_opts {
	size_t cache_bytes;  /* LevelDB block cache */
	int bloom_bits;      /* bits per key in the bloom filter, 0 = none */
	size_t write_buffer; /* memtable size */
	bool sync;           /* fsync every write (power-loss safety) */
	/* 0, or the nice value (1-19) LevelDB's compaction thread starts
	 * with: a process's first successful store_open that sets it opens
	 * from a thread at that nice value (or the process's own, if higher)
	 * and has the thread started there (it inherits it), so that on a
	 * shared core a compaction yields to the threads answering requests.
	 * Later opens find the thread running, whatever they set. */
	int compaction_nice;
	/* Start the thread as compaction_nice does, but under SCHED_IDLE:
	 * it runs mostly on CPU time the other threads leave, and any
	 * other thread that wakes takes the CPU from it at once. At a nice value
	 * it can keep a core it shares with a request loop until the next
	 * scheduler tick. compaction_nice applies when the kernel refuses
	 * SCHED_IDLE (logged). */
	bool compaction_idle;
} store_opts;

void store_opts_default(store_opts *o);

/* Opens (creating if missing) the database at path. NULL on failure, with
 * the reason in err. */
store *store_open(const char *path, const store_opts *o, char *err, size_t errlen);
/* Creates dir when missing and opens the database at dir/store. */
store *store_open_dir(const char *dir, const store_opts *o, char *err, size_t errlen);
void store_close(store *db);

/* 0 and a malloc'ed copy in *val (free with free()), ERR_NOTFOUND, or
 * ERR_IO. */
int store_get(store *db, const void *key, size_t klen, char **val, size_t *vlen) WARN_UNUSED;

/* As store_get, copying the value into buf (cap bytes) without an
 * allocation of ours: 0 with its size in *vlen, ERR_NOTFOUND, ERR_IO, or
 * ERR_CORRUPT when the value is longer than cap (logged). */
int store_get_into(store *db, const void *key, size_t klen, void *buf, size_t cap,
                   size_t *vlen) WARN_UNUSED;

/* Reads a value stored as 8 big-endian bytes: 0, ERR_NOTFOUND, ERR_IO,
 * or ERR_CORRUPT when the value has another size (logged). */
int store_read_u64(store *db, const void *key, size_t klen, uint64_t *v) WARN_UNUSED;

store_batch *store_batch_new(void);
void store_batch_put(store_batch *b, const void *k, size_t kn, const void *v, size_t vn);
void store_batch_del(store_batch *b, const void *k, size_t kn);
/* Calls put or del for each change in b, in the order they were added. */
void store_batch_iterate(const store_batch *b, void *ctx,
                         void (*put)(void *ctx, const char *k, size_t kn, const char *v, size_t vn),
                         void (*del)(void *ctx, const char *k, size_t kn));
/* Empties b (and forgets store_batch_sync). */
void store_batch_clear(store_batch *b);
/* b's write reaches the disk (fsync) before store_write returns, whatever
 * the store's own sync option says. */
void store_batch_sync(store_batch *b);
void store_batch_free(store_batch *b);
/* Applies the batch atomically. 0 or ERR_IO. One write at a time
 * reaches LevelDB. After a write fails (a full disk), LevelDB's log is
 * torn: anything appended to it would be lost when it is next replayed.
 * So every later write is refused (ERR_IO) until the log is rolled:
 * tried by a write at most once a second, with room on the disk to
 * flush what the log holds (common/store.c says how). */
int store_write(store *db, store_batch *b) WARN_UNUSED;
/* True once rolls with room on the disk failed twice in a row: LevelDB
 * refuses every write until the store is opened again (a flush failed
 * while the disk was full). The edge exits then, for the service
 * manager to start it again: opening replays the log, whole up to the
 * failed write, as nothing was appended after it. Any thread. */
bool store_needs_reopen(store *db);
/* Batches written in another writer's group (store_write: the first of
 * the writers queued writes theirs with its own); any thread. */
uint64_t store_writes_followed(store *db);
/* Torn logs rolled, and writes refused while one waited; any thread. */
uint64_t store_log_rolls(store *db);
uint64_t store_writes_refused(store *db);
/* Tests only: the next n store_write calls fail with ERR_IO, writing
 * nothing, as on a full disk. Any thread. */
void store_fail_writes(store *db, unsigned n);
/* Tests only: fn(ctx) runs at the end of every store_write, once LevelDB
 * applied the batch (or failed to), on the writing thread, before the
 * caller learns the outcome (NULL: none). Set it while no write runs. */
void store_write_hook(store *db, void (*fn)(void *ctx), void *ctx);
/* Tests only: fn(ctx) runs at the start of every read of one key (a get,
 * live or through a snapshot), on the reading thread (NULL: none). Set
 * it while no read runs. */
void store_read_hook(store *db, void (*fn)(void *ctx), void *ctx);

/* Iterates keys that start with prefix, in order. The pointers returned by
 * store_iter_next stay valid until the next call. */
store_iter *store_iter_new(store *db, const void *prefix, size_t plen);
/* Starts at the first key >= from that still has the prefix. */
store_iter *store_iter_from(store *db, const void *prefix, size_t plen, const void *from,
                            size_t flen);
bool store_iter_next(store_iter *it, const char **k, size_t *kn, const char **v, size_t *vn);
/* 0, or ERR_IO if the iteration stopped on an error. */
int store_iter_status(store_iter *it) WARN_UNUSED;
void store_iter_free(store_iter *it);
/* Ends a pass that filled b from it (the deletions of the keys it read,
 * say): unless rc or the iteration failed, writes b; frees both. rc, the
 * iteration's failure, or store_write's. */
int store_iter_end_write(store *db, store_iter *it, store_batch *b, int rc) WARN_UNUSED;

/* A consistent read view: every read through one store_snap sees the
 * store as it was when the view was taken, whatever is written after.
 * Any thread may take one, and any number of threads may read through
 * one at once; it must be freed (once) before the store is closed. */
typedef struct store_snap store_snap;

store_snap *store_snap_new(store *db);
void store_snap_free(store_snap *sn);
/* As store_get and store_read_u64, read from the view. */
int store_snap_get(store_snap *sn, const void *key, size_t klen, char **val,
                   size_t *vlen) WARN_UNUSED;
int store_snap_read_u64(store_snap *sn, const void *key, size_t klen, uint64_t *v) WARN_UNUSED;
/* As store_iter_from (from may be NULL), iterating the view. */
store_iter *store_snap_iter_from(store_snap *sn, const void *prefix, size_t plen, const void *from,
                                 size_t flen);

/* Records name=value in the store's metadata on first use; later opens
 * must agree. 0, ERR_CONFIG (with both values in err) or ERR_IO. Used
 * for facts fixed per deployment, such as the partition count. */
int store_meta_ensure(store *db, const char *name, const char *value, char *err,
                      size_t errlen) WARN_UNUSED;

/* LevelDB's own figures, for metrics. store_property copies the value
 * of property name ("leveldb.num-files-at-level0", "leveldb.stats",
 * "leveldb.approximate-memory-usage", ...) into out (cap bytes, cut to
 * fit, NUL-terminated): 0, or ERR_NOTFOUND for a property LevelDB does
 * not know. store_approximate_size: the bytes on disk the whole key
 * range takes, as LevelDB estimates them (data still in the memtable is
 * not counted). Any thread. */
int store_property(store *s, const char *name, char *out, size_t cap) WARN_UNUSED;
int store_approximate_size(store *s, uint64_t *bytes) WARN_UNUSED;

/* Big-endian fixed-width helpers for keys and values that sort right. */
static inline void store_put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}
static inline uint64_t store_get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}
static inline void store_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}
static inline uint32_t store_get_u32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

#endif
