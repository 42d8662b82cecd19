/* store.c - LevelDB behind the store.h interface.
 *
 * Owns the leveldb handle, its options, cache and filter policy. Errors
 * from LevelDB are translated to ERR_IO and logged here, once. Any thread.
 */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <leveldb/c.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "lowprio.h"
#include "tsa.h"
#include "xmem.h"

/* A write that fails part-way leaves LevelDB's log torn: LevelDB counts
 * the record's bytes as written whether or not they reached the file, so
 * every record it appends after that sits off the log's 32 KiB blocks,
 * and a reopen that replays the log drops them, silently ("dropping N
 * bytes" in its LOG), acknowledged or not. After a failed append LevelDB
 * refuses nothing (only a failed fsync, flush or compaction makes it
 * refuse every later write). So after a failed write this store lets
 * nothing more reach that log: writes are refused until the log is
 * rolled, that is until LevelDB has moved to a new log file and flushed
 * the memtable, which holds exactly the writes that succeeded, into a
 * table; the torn log is then deleted. A roll is tried at most once a
 * second, by a write, with wmu let go (the writes meanwhile are refused
 * at once), and only with room on the disk for what the logs hold and
 * some more, as a flush that fails leaves LevelDB refusing every write
 * until it is opened again. One write at a time reaches LevelDB, so
 * that no write can slip into the torn log between a failure and its
 * refusal: writers queue under wmu, and the first in the queue leads,
 * writing its batch with those queued behind it as one (LevelDB's own
 * scheme, which a queue of ours in front of it would otherwise undo:
 * one log record, and one fsync with store.sync, for all of them). */
#define ROLL_EVERY_MS 1000
#define ROLL_SPARE_BYTES (4u << 20) /* room asked beyond the logs' bytes */
#define ROLL_SPARE_FILES 8          /* free inodes asked: a log, a table, a manifest */
#define ROLL_FAILS_REOPEN 2         /* rolls failed in a row, with room: store_needs_reopen */

struct store {
	leveldb_t *ldb;
	leveldb_options_t *opts;
	leveldb_cache_t *cache;
	leveldb_filterpolicy_t *filter;
	leveldb_readoptions_t *ropts;
	leveldb_writeoptions_t *wopts;
	leveldb_writeoptions_t *wopts_sync; /* a store_batch_sync batch's */
	char *path;
	log_limit write_errors;
	/* Writes one at a time, and under it the torn-log state they check
	 * (the comment at the top): whether the log is torn, whether a write
	 * is rolling it, and when the next roll may be tried. */
	tsa_mutex wmu;
	pthread_cond_t wcv;           /* a writer is done, or leads now */
	struct writer *wq;            /* the writers waiting, the leader first */
	struct writer **wq_end;       /* where the next one joins */
	leveldb_writebatch_t *merged; /* the leader's group, when it has more than one */
	bool torn, rolling;
	uint64_t roll_at_ms;
	unsigned rolls_failed; /* in a row, with room on the disk */
	atomic_bool needs_reopen;
	log_limit refusals;
	_Atomic uint64_t rolls, refused, followed;
	_Atomic unsigned fail_writes;  /* store_fail_writes */
	void (*write_hook)(void *ctx); /* store_write_hook */
	void *write_hook_ctx;
	void (*read_hook)(void *ctx); /* store_read_hook */
	void *read_hook_ctx;
};

struct store_batch {
	leveldb_writebatch_t *wb;
	size_t bytes; /* about what the batch adds to the log */
	bool sync;    /* store_batch_sync: this write fsyncs whatever the store's sync */
};

/* A store_write waiting its turn: the first in the queue leads, writing
 * its batch and those queued after it as one (store_write). */
typedef struct writer {
	store_batch *b;
	struct writer *next;
	int rc;
	bool done;
} writer;

struct store_iter {
	leveldb_iterator_t *it;
	leveldb_readoptions_t *ropts;
	char *prefix;
	size_t plen;
	int started;
	int status;
};

void store_opts_default(store_opts *o)
{
	o->cache_bytes = 64u << 20;
	o->bloom_bits = 10;
	o->write_buffer = 16u << 20;
	o->sync = false;
	o->compaction_nice = 0;
	o->compaction_idle = false;
}

/* A compaction of a range no key is in (every key starts with a
 * printable tag): LevelDB switches to a new log and memtable and waits
 * for the old memtable's flush to a table. */
static void switch_memtable(leveldb_t *ldb)
{
	static const char none[] = "\xff\xff\xff\xff";
	leveldb_compact_range(ldb, none, sizeof none - 1, none, sizeof none - 1);
}

/* LevelDB compacts on one background thread per process, which its
 * default environment starts the first time anything schedules a
 * compaction, from whichever thread that is, and a new thread inherits
 * its creator's nice value. A niced open therefore runs leveldb_open on a
 * thread of its own at that value (lowprio.h; or at its own, if that is
 * higher already: an unprivileged thread cannot go back), so that a compaction
 * the open schedules starts the thread there; and when the open left
 * level 0 short of a compaction, it schedules one itself before the
 * thread ends (switch_memtable: the memtable is empty just after the
 * open, so nothing but the switch is done). With 4 or more level-0 files the open has scheduled a
 * compaction already, and a compaction call would wait for level 0 to
 * drain. (A deeper level over its size also makes the open schedule one;
 * the call then waits for that compaction, at the helper's priority,
 * before the store is returned: a slower start, nothing worse.) Only the
 * first niced open in a process that succeeds chooses; later ones find
 * the thread running. SCHED_IDLE (compaction_idle) is chosen the same
 * way: the policy is inherited as the nice value is, and a thread may
 * always take it up; only its way back would need a privilege. */
typedef struct niced_open {
	const char *path;
	leveldb_options_t *opts;
	leveldb_t *ldb;
	char *lerr;
} niced_open;

static void open_niced(void *arg)
{
	niced_open *j = arg;
	j->ldb = leveldb_open(j->opts, j->path, &j->lerr);
	if (!j->ldb)
		return;
	char *l0 = leveldb_property_value(j->ldb, "leveldb.num-files-at-level0");
	bool scheduled = l0 && atoi(l0) >= 4;
	leveldb_free(l0);
	if (!scheduled)
		switch_memtable(j->ldb);
}

static leveldb_t *ldb_open(leveldb_options_t *opts, const char *path, int nice, bool idle,
                           char **lerr)
{
	static atomic_bool chosen;
	if ((nice <= 0 && !idle) || atomic_exchange(&chosen, true))
		return leveldb_open(opts, path, lerr);
	niced_open j = {.path = path, .opts = opts};
	lowprio p = {.idle = idle, .nice = nice};
	if (lowprio_run(&p, open_niced, &j)) {
		atomic_store(&chosen, false);
		log_warn(
		    "store: no thread for a niced open; compactions run at the default priority",
		    "error=\"%s\"", strerror(errno));
		return leveldb_open(opts, path, lerr);
	}
	if (p.idle_errno)
		log_warn("store: could not run the compaction thread under SCHED_IDLE; "
		         "it runs at its nice value",
		         "nice=%d error=\"%s\"", nice, strerror(p.idle_errno));
	if (p.nice_errno)
		log_warn("store: could not set the compaction thread's priority",
		         "nice=%d error=\"%s\"", nice, strerror(p.nice_errno));
	if (!j.ldb)
		atomic_store(&chosen, false); /* the next open may choose */
	*lerr = j.lerr;
	return j.ldb;
}

store *store_open(const char *path, const store_opts *o, char *err, size_t errlen)
{
	store_opts def;
	if (!o) {
		store_opts_default(&def);
		o = &def;
	}
	store *db = xcalloc(1, sizeof *db);
	db->opts = leveldb_options_create();
	leveldb_options_set_create_if_missing(db->opts, 1);
	leveldb_options_set_compression(db->opts, leveldb_snappy_compression);
	leveldb_options_set_write_buffer_size(db->opts, o->write_buffer);
	leveldb_options_set_max_open_files(db->opts, 1000);
	if (o->cache_bytes) {
		db->cache = leveldb_cache_create_lru(o->cache_bytes);
		leveldb_options_set_cache(db->opts, db->cache);
	}
	if (o->bloom_bits > 0) {
		db->filter = leveldb_filterpolicy_create_bloom(o->bloom_bits);
		leveldb_options_set_filter_policy(db->opts, db->filter);
	}
	db->ropts = leveldb_readoptions_create();
	db->wopts = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(db->wopts, o->sync ? 1 : 0);
	db->wopts_sync = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(db->wopts_sync, 1);
	db->path = xstrdup(path);
	pthread_mutex_init(&db->wmu, NULL);
	pthread_cond_init(&db->wcv, NULL);
	db->wq_end = &db->wq;
	db->merged = leveldb_writebatch_create();

	char *lerr = NULL;
	db->ldb = ldb_open(db->opts, path, o->compaction_nice, o->compaction_idle, &lerr);
	if (lerr) {
		snprintf(err, errlen, "open %s: %s", path, lerr);
		leveldb_free(lerr);
		store_close(db);
		return NULL;
	}
	return db;
}

store *store_open_dir(const char *dir, const store_opts *o, char *err, size_t errlen)
{
	if (mkdir(dir, 0755) && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		return NULL;
	}
	char path[4096];
	if ((size_t)snprintf(path, sizeof path, "%s/store", dir) >= sizeof path) {
		snprintf(err, errlen, "data directory path too long");
		return NULL;
	}
	return store_open(path, o, err, errlen);
}

void store_close(store *db)
{
	if (!db)
		return;
	if (db->ldb)
		leveldb_close(db->ldb);
	leveldb_readoptions_destroy(db->ropts);
	leveldb_writeoptions_destroy(db->wopts);
	leveldb_writeoptions_destroy(db->wopts_sync);
	leveldb_options_destroy(db->opts);
	if (db->cache)
		leveldb_cache_destroy(db->cache);
	if (db->filter)
		leveldb_filterpolicy_destroy(db->filter);
	pthread_cond_destroy(&db->wcv);
	pthread_mutex_destroy(&db->wmu);
	leveldb_writebatch_destroy(db->merged);
	free(db->path);
	free(db);
}

/* LevelDB's own buffer for key through read options ro (the live store,
 * or a snapshot): 0 with *v to leveldb_free, ERR_NOTFOUND or ERR_IO. */
static int raw_get(store *db, const leveldb_readoptions_t *ro, const void *key, size_t klen,
                   char **v, size_t *n)
{
	char *lerr = NULL;
	*n = 0;
	if (db->read_hook)
		db->read_hook(db->read_hook_ctx);
	*v = leveldb_get(db->ldb, ro, key, klen, n, &lerr);
	if (lerr) {
		log_error("leveldb get failed", "path=%s err=\"%s\"", db->path, lerr);
		leveldb_free(lerr);
		return ERR_IO;
	}
	return *v ? 0 : ERR_NOTFOUND;
}

/* A get through read options ro. */
static int get_with(store *db, const leveldb_readoptions_t *ro, const void *key, size_t klen,
                    char **val, size_t *vlen)
{
	char *v;
	size_t n;
	int rc = raw_get(db, ro, key, klen, &v, &n);
	if (rc)
		return rc;
	/* LevelDB's buffer is not NUL-terminated; hand back our own copy with
	 * a terminator so string values are easy to use. */
	char *copy = xmalloc(n + 1);
	memcpy(copy, v, n);
	copy[n] = '\0';
	leveldb_free(v);
	*val = copy;
	*vlen = n;
	return 0;
}

/* A fixed-width number through read options ro. */
static int read_u64_with(store *db, const leveldb_readoptions_t *ro, const void *key, size_t klen,
                         uint64_t *v)
{
	char *val;
	size_t vlen;
	int rc = get_with(db, ro, key, klen, &val, &vlen);
	if (rc)
		return rc;
	if (vlen == 8) {
		*v = store_get_u64((unsigned char *)val);
	} else {
		log_error("stored number has the wrong size", "path=%s key_tag=%c size=%zu",
		          db->path, klen ? ((const char *)key)[0] : '?', vlen);
		rc = ERR_CORRUPT;
	}
	free(val);
	return rc;
}

int store_get(store *db, const void *key, size_t klen, char **val, size_t *vlen)
{
	return get_with(db, db->ropts, key, klen, val, vlen);
}

int store_get_into(store *db, const void *key, size_t klen, void *buf, size_t cap, size_t *vlen)
{
	char *v;
	size_t n;
	int rc = raw_get(db, db->ropts, key, klen, &v, &n);
	if (rc)
		return rc;
	if (n > cap) {
		log_error("stored value is longer than expected",
		          "path=%s key_tag=%c size=%zu max=%zu", db->path,
		          klen ? ((const char *)key)[0] : '?', n, cap);
		rc = ERR_CORRUPT;
	} else {
		memcpy(buf, v, n);
		*vlen = n;
	}
	leveldb_free(v);
	return rc;
}

int store_read_u64(store *db, const void *key, size_t klen, uint64_t *v)
{
	return read_u64_with(db, db->ropts, key, klen, v);
}

store_batch *store_batch_new(void)
{
	store_batch *b = xmalloc(sizeof *b);
	b->wb = leveldb_writebatch_create();
	b->bytes = 0;
	b->sync = false;
	return b;
}

void store_batch_put(store_batch *b, const void *k, size_t kn, const void *v, size_t vn)
{
	leveldb_writebatch_put(b->wb, k, kn, v, vn);
	b->bytes += kn + vn + 8;
}

void store_batch_del(store_batch *b, const void *k, size_t kn)
{
	leveldb_writebatch_delete(b->wb, k, kn);
	b->bytes += kn + 8;
}

void store_batch_iterate(const store_batch *b, void *ctx,
                         void (*put)(void *ctx, const char *k, size_t kn, const char *v, size_t vn),
                         void (*del)(void *ctx, const char *k, size_t kn))
{
	leveldb_writebatch_iterate(b->wb, ctx, put, del);
}

void store_batch_clear(store_batch *b)
{
	leveldb_writebatch_clear(b->wb);
	b->bytes = 0;
	b->sync = false;
}

void store_batch_sync(store_batch *b)
{
	b->sync = true;
}

void store_batch_free(store_batch *b)
{
	if (!b)
		return;
	leveldb_writebatch_destroy(b->wb);
	free(b);
}

/* The store's log files: the newest one's number into *newest, their
 * bytes in all into *bytes, and whether any numbered at most `upto` is
 * there: 0, or ERR_IO when the directory cannot be read. */
static int logs_scan(const store *db, uint64_t upto, uint64_t *newest, uint64_t *bytes,
                     bool *old_left)
{
	*newest = *bytes = 0;
	*old_left = false;
	DIR *d = opendir(db->path);
	if (!d)
		return ERR_IO;
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(e->d_name, &end, 10);
		if (errno || end == e->d_name || strcmp(end, ".log") != 0)
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, 0) == 0)
			*bytes += (uint64_t)st.st_size;
		if (n > *newest)
			*newest = n;
		if (n <= upto)
			*old_left = true;
	}
	closedir(d);
	return 0;
}

/* Whether the disk has room for a flush of what the logs hold (the
 * memtables: a table is no bigger than the log records it is made of)
 * and some more, for the table's index and the manifest. */
static bool room_to_roll(const store *db, uint64_t log_bytes)
{
	struct statvfs fs;
	if (statvfs(db->path, &fs))
		return false;
	return (uint64_t)fs.f_bavail * fs.f_frsize >= log_bytes + ROLL_SPARE_BYTES &&
	       fs.f_favail >= ROLL_SPARE_FILES;
}

/* With wmu held: whether this write tries to roll the torn log now (then
 * the store is marked rolling, and the caller rolls with wmu let go). */
static bool roll_due(store *db) TSA_REQUIRES(db->wmu)
{
	uint64_t now = clock_mono_ms();
	if (!db->torn || db->rolling || now < db->roll_at_ms)
		return false;
	db->roll_at_ms = now + ROLL_EVERY_MS;
	db->rolling = true;
	return true;
}

/* Rolls the torn log (the comment at the top) with wmu let go: no write
 * reaches LevelDB meanwhile, as each finds the store torn. The torn log
 * is the newest one now, or older, should an earlier roll have moved to
 * a new log and failed to flush. Rolled once no log up to it is left. */
static void log_roll(store *db) TSA_EXCLUDES(db->wmu)
{
	uint64_t t0 = clock_mono_ms(), upto, bytes;
	bool tried = false, left = true;
	if (logs_scan(db, 0, &upto, &bytes, &left) == 0 && room_to_roll(db, bytes)) {
		switch_memtable(db->ldb); /* its flush deletes the old log */
		uint64_t newest;
		tried = true;
		if (logs_scan(db, upto, &newest, &bytes, &left))
			left = true;
	}
	tsa_lock(&db->wmu);
	db->rolling = false; /* without room yet, no roll was tried: no failure */
	if (tried && left) {
		/* With room for the flush, a roll fails when LevelDB refuses all
		 * writes for good after a flush or compaction failed (while the
		 * disk was full), which only opening the store again mends, or
		 * when it could not make the new log (a quota, no file
		 * descriptor), which an open would not mend either: the service
		 * manager's restarts then fail until the cause is gone, as a
		 * start on a full disk does. Once more first, should the log
		 * have been unreadable for a moment. */
		if (++db->rolls_failed >= ROLL_FAILS_REOPEN &&
		    !atomic_exchange(&db->needs_reopen, true))
			log_error(
			    "store: LevelDB refuses every write until the store is opened again",
			    "path=%s rolls_failed=%u", db->path, db->rolls_failed);
	} else if (tried) {
		db->rolls_failed = 0;
		db->torn = false;
		atomic_fetch_add(&db->rolls, 1);
	}
	tsa_unlock(&db->wmu);
	if (tried && !left)
		log_info("store: the log torn by a failed write is rolled; writes go on",
		         "path=%s ms=%" PRIu64, db->path, clock_mono_ms() - t0);
}

/* Whether this write is one store_fail_writes asked to fail. */
static bool inject_failure(store *db)
{
	unsigned f = atomic_load(&db->fail_writes);
	while (f && !atomic_compare_exchange_weak(&db->fail_writes, &f, f - 1))
		;
	return f != 0;
}

/* A write refused, the log torn: counted, and said once in 10 s. */
static void refused(store *db)
{
	atomic_fetch_add(&db->refused, 1);
	uint64_t skipped;
	if (log_every(&db->refusals, 10000, &skipped))
		log_error("store: write refused until the log torn by a failed write is rolled "
		          "(once the disk has room for the logs' bytes and 4 MiB more)",
		          "path=%s similar_since_last=%" PRIu64, db->path, skipped);
}

/* The most a leader writes as one: its own batch and those queued after
 * it, up to 1 MiB, or 128 KiB more than its own when that is small, so
 * that a small write does not wait on a large group (LevelDB's bounds). */
static size_t group_max(const store_batch *lead)
{
	return lead->bytes <= (128u << 10) ? lead->bytes + (128u << 10) : 1u << 20;
}

/* The leader's write, with wmu held (let go around LevelDB's write):
 * refused while the log is torn; else its batch and those queued after
 * it (not past an injected failure's: that one is written alone) as
 * one LevelDB write; a failure tears the log. Each writer of the group
 * is done, with the group's outcome; *lerr is LevelDB's error. */
static void lead(store *db, char **lerr) TSA_REQUIRES(db->wmu)
{
	writer *me = db->wq, *last = me;
	int rc = 0;
	if (db->torn) {
		for (; last->next; last = last->next)
			;
		rc = ERR_IO;
	} else if (inject_failure(db)) {
		*lerr = strdup("injected write failure"); /* nothing written: the log is whole */
		rc = ERR_IO;
	} else {
		size_t bytes = me->b->bytes, max = group_max(me->b);
		bool sync = me->b->sync;
		for (; last->next && bytes + last->next->b->bytes <= max; last = last->next) {
			bytes += last->next->b->bytes;
			sync |= last->next->b->sync;
		}
		leveldb_writebatch_t *wb = me->b->wb;
		if (last != me) {
			leveldb_writebatch_clear(db->merged);
			for (writer *w = me; w != last->next; w = w->next) {
				leveldb_writebatch_append(db->merged, w->b->wb);
				if (w != me)
					atomic_fetch_add(&db->followed, 1);
			}
			wb = db->merged;
		}
		/* The queue keeps this leader first while it writes: those
		 * that join meanwhile wait, and no other write reaches LevelDB. */
		tsa_unlock(&db->wmu);
		leveldb_write(db->ldb, sync ? db->wopts_sync : db->wopts, wb, lerr);
		tsa_lock(&db->wmu);
		if (*lerr) {
			db->torn = true;
			db->roll_at_ms = 0; /* the next write tries at once: the failure may pass */
			rc = ERR_IO;
		}
	}
	for (writer *w = me, *next; w != last->next; w = next) {
		next = w->next;
		w->rc = rc;
		w->done = true;
		if (rc && !*lerr)
			refused(db);
	}
	db->wq = last->next;
	if (!db->wq)
		db->wq_end = &db->wq;
	pthread_cond_broadcast(&db->wcv);
}

int store_write(store *db, store_batch *b)
{
	char *lerr = NULL;
	writer me = {.b = b};
	tsa_lock(&db->wmu);
	bool roll = roll_due(db);
	tsa_unlock(&db->wmu);
	if (roll)
		log_roll(db);
	tsa_lock(&db->wmu);
	*db->wq_end = &me;
	db->wq_end = &me.next;
	while (!me.done && db->wq != &me)
		pthread_cond_wait(&db->wcv, &db->wmu);
	if (!me.done)
		lead(db, &lerr);
	int rc = me.rc;
	tsa_unlock(&db->wmu);
	if (db->write_hook)
		db->write_hook(db->write_hook_ctx);
	if (lerr) {
		/* A full disk fails every write: one line a second. */
		uint64_t skipped;
		if (log_every(&db->write_errors, 1000, &skipped))
			log_error("leveldb write failed",
			          "path=%s err=\"%s\" similar_since_last=%" PRIu64, db->path, lerr,
			          skipped);
		leveldb_free(lerr);
	}
	return rc;
}

bool store_needs_reopen(store *db)
{
	return atomic_load(&db->needs_reopen);
}

uint64_t store_writes_followed(store *db)
{
	return atomic_load(&db->followed);
}

uint64_t store_log_rolls(store *db)
{
	return atomic_load(&db->rolls);
}

uint64_t store_writes_refused(store *db)
{
	return atomic_load(&db->refused);
}

/* An iterator over prefix from `from` (or the prefix's start), reading
 * at snap (NULL: the live store). */
static store_iter *iter_at(store *db, const leveldb_snapshot_t *snap, const void *prefix,
                           size_t plen, const void *from, size_t flen)
{
	store_iter *it = xcalloc(1, sizeof *it);
	it->ropts = leveldb_readoptions_create();
	leveldb_readoptions_set_fill_cache(it->ropts, 0);
	if (snap)
		leveldb_readoptions_set_snapshot(it->ropts, snap);
	it->it = leveldb_create_iterator(db->ldb, it->ropts);
	it->prefix = xmemdup(prefix, plen);
	it->plen = plen;
	if (from && flen)
		leveldb_iter_seek(it->it, from, flen);
	else
		leveldb_iter_seek(it->it, prefix, plen);
	return it;
}

store_iter *store_iter_from(store *db, const void *prefix, size_t plen, const void *from,
                            size_t flen)
{
	return iter_at(db, NULL, prefix, plen, from, flen);
}

store_iter *store_iter_new(store *db, const void *prefix, size_t plen)
{
	return store_iter_from(db, prefix, plen, NULL, 0);
}

bool store_iter_next(store_iter *it, const char **k, size_t *kn, const char **v, size_t *vn)
{
	if (it->started)
		leveldb_iter_next(it->it);
	it->started = 1;
	if (!leveldb_iter_valid(it->it)) {
		char *lerr = NULL;
		leveldb_iter_get_error(it->it, &lerr);
		if (lerr) {
			log_error("leveldb iteration failed", "err=\"%s\"", lerr);
			leveldb_free(lerr);
			it->status = ERR_IO;
		}
		return false;
	}
	size_t klen;
	const char *key = leveldb_iter_key(it->it, &klen);
	if (klen < it->plen || memcmp(key, it->prefix, it->plen) != 0)
		return false;
	*k = key;
	*kn = klen;
	*v = leveldb_iter_value(it->it, vn);
	return true;
}

int store_iter_status(store_iter *it)
{
	return it->status;
}

void store_iter_free(store_iter *it)
{
	if (!it)
		return;
	leveldb_iter_destroy(it->it);
	leveldb_readoptions_destroy(it->ropts);
	free(it->prefix);
	free(it);
}

int store_iter_end_write(store *db, store_iter *it, store_batch *b, int rc)
{
	if (!rc)
		rc = store_iter_status(it);
	store_iter_free(it);
	if (!rc)
		rc = store_write(db, b);
	store_batch_free(b);
	return rc;
}

int store_meta_ensure(store *db, const char *name, const char *value, char *err, size_t errlen)
{
	char key[128];
	int kn = snprintf(key, sizeof key, "M%s", name);
	if (kn < 0 || (size_t)kn >= sizeof key)
		return ERR_INVAL;
	char *old;
	size_t oldn;
	int rc = store_get(db, key, (size_t)kn, &old, &oldn);
	if (rc == 0) {
		bool same = oldn == strlen(value) && memcmp(old, value, oldn) == 0;
		if (!same)
			snprintf(err, errlen,
			         "%s: store at %s records %s=%s, configuration says %s", name,
			         db->path, name, old, value);
		free(old);
		return same ? 0 : ERR_CONFIG;
	}
	if (rc != ERR_NOTFOUND) {
		snprintf(err, errlen, "reading %s from %s failed", name, db->path);
		return rc;
	}
	store_batch *b = store_batch_new();
	store_batch_put(b, key, (size_t)kn, value, strlen(value));
	rc = store_write(db, b);
	store_batch_free(b);
	if (rc)
		snprintf(err, errlen, "recording %s in %s failed", name, db->path);
	return rc;
}

/* ---- read views --------------------------------------------------------- */

struct store_snap {
	store *db;
	const leveldb_snapshot_t *snap;
	leveldb_readoptions_t *ropts;
};

store_snap *store_snap_new(store *db)
{
	store_snap *sn = xcalloc(1, sizeof *sn);
	sn->db = db;
	sn->snap = leveldb_create_snapshot(db->ldb);
	sn->ropts = leveldb_readoptions_create();
	leveldb_readoptions_set_snapshot(sn->ropts, sn->snap);
	return sn;
}

void store_snap_free(store_snap *sn)
{
	if (!sn)
		return;
	leveldb_readoptions_destroy(sn->ropts);
	leveldb_release_snapshot(sn->db->ldb, sn->snap);
	free(sn);
}

int store_snap_get(store_snap *sn, const void *key, size_t klen, char **val, size_t *vlen)
{
	return get_with(sn->db, sn->ropts, key, klen, val, vlen);
}

int store_snap_read_u64(store_snap *sn, const void *key, size_t klen, uint64_t *v)
{
	return read_u64_with(sn->db, sn->ropts, key, klen, v);
}

store_iter *store_snap_iter_from(store_snap *sn, const void *prefix, size_t plen, const void *from,
                                 size_t flen)
{
	return iter_at(sn->db, sn->snap, prefix, plen, from, flen);
}

void store_fail_writes(store *db, unsigned n)
{
	atomic_store(&db->fail_writes, n);
}

void store_write_hook(store *db, void (*fn)(void *ctx), void *ctx)
{
	db->write_hook = fn;
	db->write_hook_ctx = ctx;
}

void store_read_hook(store *db, void (*fn)(void *ctx), void *ctx)
{
	db->read_hook = fn;
	db->read_hook_ctx = ctx;
}

int store_property(store *s, const char *name, char *out, size_t cap)
{
	char *v = leveldb_property_value(s->ldb, name);
	if (!v) {
		if (cap)
			out[0] = 0;
		return ERR_NOTFOUND;
	}
	if (cap)
		snprintf(out, cap, "%s", v);
	leveldb_free(v);
	return 0;
}

int store_approximate_size(store *s, uint64_t *bytes)
{
	/* Every key sorts below 8 bytes of 0xff: the first byte of each is a
	 * printable tag. */
	static const char limit[8] = {'\xff', '\xff', '\xff', '\xff',
	                              '\xff', '\xff', '\xff', '\xff'};
	const char *starts[1] = {""}, *limits[1] = {limit};
	size_t start_lens[1] = {0}, limit_lens[1] = {sizeof limit};
	uint64_t size = 0;
	leveldb_approximate_sizes(s->ldb, 1, starts, start_lens, limits, limit_lens, &size);
	*bytes = size;
	return 0;
}
