/* test_store_torn.c - a write that fails part-way through LevelDB's log
 * (a full disk) must not cost the writes acknowledged after it.
 *
 * LevelDB counts a failed record's bytes as written, so every record
 * appended after it sits off the log's blocks and is dropped when the log
 * is replayed. The store refuses writes until the log is rolled. The disk
 * fills here through RLIMIT_FSIZE: a write past the limit is cut short
 * and fails (EFBIG), as a write to a full disk does, and no mount is
 * needed. Each Criterion test runs in a process of its own, so the limit
 * dies with it.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "store.h"
#include "tests/support/testdir.h"

static char dir[256], path[512];
static struct rlimit limit0; /* the test's own file size limit, put back */

static void setup(void)
{
	cr_assert_eq(getrlimit(RLIMIT_FSIZE, &limit0), 0);
	testdir_make(dir, sizeof dir, "test_store_torn");
	snprintf(path, sizeof path, "%s/store", dir);
	signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails instead */
}

static void teardown(void)
{
	testdir_remove(dir);
}

TestSuite(store_torn, .init = setup, .fini = teardown);

static store *open_store(void)
{
	char err[256] = "";
	store_opts o;
	store_opts_default(&o);
	o.cache_bytes = 1 << 20;
	o.write_buffer = 1 << 20;
	store *db = store_open(path, &o, err, sizeof err);
	cr_assert_not_null(db, "%s", err);
	return db;
}

/* The size of the newest log file in the store. */
static off_t log_size(void)
{
	DIR *d = opendir(path);
	cr_assert_not_null(d);
	unsigned long newest = 0;
	off_t size = -1;
	for (struct dirent *e; (e = readdir(d));) {
		unsigned long n;
		char tail[8];
		if (sscanf(e->d_name, "%lu.%7s", &n, tail) != 2 || strcmp(tail, "log") != 0 ||
		    n < newest)
			continue;
		char f[1024];
		snprintf(f, sizeof f, "%s/%s", path, e->d_name);
		struct stat st;
		cr_assert_eq(stat(f, &st), 0);
		newest = n;
		size = st.st_size;
	}
	closedir(d);
	cr_assert_geq(size, 0, "no log file in %s", path);
	return size;
}

static void file_limit(rlim_t bytes)
{
	struct rlimit rl = limit0;
	if (rl.rlim_max != RLIM_INFINITY && bytes > rl.rlim_max)
		cr_skip_test("the test's file size limit is %llu bytes: too small to test",
		             (unsigned long long)rl.rlim_max);
	rl.rlim_cur = bytes;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void file_limit_back(void)
{
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &limit0), 0);
}

static int put(store *db, int i, size_t vlen)
{
	char k[32], v[2048];
	cr_assert_leq(vlen, sizeof v);
	int kn = snprintf(k, sizeof k, "k%06d", i);
	memset(v, 'a' + i % 26, vlen);
	store_batch *b = store_batch_new();
	store_batch_put(b, k, (size_t)kn, v, vlen);
	int rc = store_write(db, b);
	store_batch_free(b);
	return rc;
}

static bool has(store *db, int i)
{
	char k[32], *v;
	size_t n;
	int kn = snprintf(k, sizeof k, "k%06d", i);
	int rc = store_get(db, k, (size_t)kn, &v, &n);
	if (rc == ERR_NOTFOUND)
		return false;
	cr_assert_eq(rc, 0);
	free(v);
	return true;
}

/* The disk fills in the middle of a record, then has room again: every
 * write acknowledged, before the failure or after it, is in the store
 * once it is opened again from its log. */
Test(store_torn, writes_acknowledged_after_a_failed_write_survive_a_reopen)
{
	store *db = open_store();
	for (int i = 0; i < 100; i++)
		cr_assert_eq(put(db, i, 200), 0);
	file_limit((rlim_t)log_size() + 100); /* the next 1,000-byte record is cut short */
	cr_assert_eq(put(db, 100, 1000), ERR_IO);
	file_limit_back();
	bool acked[2000] = {false};
	int ok = 0;
	for (int i = 102; i < 2000; i++) {
		acked[i] = put(db, i, 200) == 0;
		ok += acked[i];
	}
	cr_assert_gt(ok, 1800, "writes did not go on once the disk had room (%d of 1898)", ok);
	uint64_t rolls = store_log_rolls(db);
	cr_assert_not(store_needs_reopen(db));
	store_close(db);

	db = open_store();
	for (int i = 0; i < 100; i++)
		cr_assert(has(db, i), "k%06d, written before the failure, is lost", i);
	int lost = 0;
	for (int i = 102; i < 2000; i++)
		lost += acked[i] && !has(db, i);
	cr_assert_eq(lost, 0, "%d acknowledged writes lost when the log was replayed", lost);
	cr_assert_geq(rolls, 1);
	store_close(db);
}

/* The disk stays full through the roll's flush, which fails: LevelDB
 * then refuses every write itself until the store is opened again, and
 * the store refuses them before they reach it. Opened again, the store
 * holds every acknowledged write and takes new ones. */
Test(store_torn, a_roll_that_cannot_flush_refuses_writes_until_a_reopen)
{
	store *db = open_store();
	for (int i = 0; i < 100; i++)
		cr_assert_eq(put(db, i, 200), 0);
	file_limit((rlim_t)log_size() + 100);
	cr_assert_eq(put(db, 100, 1000), ERR_IO);
	file_limit(0); /* no file may grow: the flush of the memtable fails */
	cr_assert_eq(put(db, 101, 200), ERR_IO);
	cr_assert_eq(store_writes_refused(db), 1);
	file_limit_back();
	cr_assert_eq(put(db, 102, 200), ERR_IO, "a write within a second of a roll is refused");
	usleep(1100 * 1000);
	cr_assert_eq(put(db, 103, 200), ERR_IO, "LevelDB refuses after a failed flush");
	cr_assert_eq(store_writes_refused(db), 3);
	cr_assert_eq(store_log_rolls(db), 0);
	cr_assert(store_needs_reopen(db), "two rolls with room failed: the store says so");
	store_close(db);

	db = open_store();
	for (int i = 0; i < 100; i++)
		cr_assert(has(db, i), "k%06d, written before the failure, is lost", i);
	for (int i = 100; i < 104; i++)
		cr_assert(!has(db, i), "k%06d was refused, yet it is there", i);
	cr_assert_eq(put(db, 104, 200), 0);
	store_close(db);
}

/* Writers at once: the first in the queue writes the batches queued
 * behind it with its own, as one LevelDB write; every write is there,
 * live and after a reopen, with sync batches among them. */
#define WRITERS 4
#define EACH 1500

static store *shared;

static void *writer_run(void *arg)
{
	int t = (int)(intptr_t)arg;
	for (int i = 0; i < EACH; i++) {
		char k[32], v[300];
		int kn = snprintf(k, sizeof k, "w%d-%06d", t, i);
		memset(v, 'a' + t, sizeof v);
		store_batch *b = store_batch_new();
		store_batch_put(b, k, (size_t)kn, v, sizeof v);
		store_batch_put(b, k, (size_t)kn, v, (size_t)(i % 200)); /* the later put wins */
		if (i % 100 == 0)
			store_batch_sync(b);
		int rc = store_write(shared, b);
		store_batch_free(b);
		if (rc)
			return (void *)1;
	}
	return NULL;
}

static void writes_all_there(store *db)
{
	for (int t = 0; t < WRITERS; t++)
		for (int i = 0; i < EACH; i++) {
			char k[32], *v;
			size_t n;
			int kn = snprintf(k, sizeof k, "w%d-%06d", t, i);
			cr_assert_eq(store_get(db, k, (size_t)kn, &v, &n), 0, "%s missing", k);
			cr_assert_eq(n, (size_t)(i % 200), "%s: the batch's puts out of order", k);
			free(v);
		}
}

Test(store_torn, writers_at_once_are_written_in_groups_and_all_kept)
{
	shared = open_store();
	pthread_t th[WRITERS];
	for (int t = 0; t < WRITERS; t++)
		cr_assert_eq(pthread_create(&th[t], NULL, writer_run, (void *)(intptr_t)t), 0);
	for (int t = 0; t < WRITERS; t++) {
		void *rc;
		cr_assert_eq(pthread_join(th[t], &rc), 0);
		cr_assert_null(rc, "writer %d had a write fail", t);
	}
	writes_all_there(shared);
	/* Four threads, a hundred fsyncs each: some wait while another's
	 * write runs, and are written in its group. */
	cr_assert_gt(store_writes_followed(shared), 0, "no write was written in a group");
	cr_log_info("%llu of %d writes written in another's group",
	            (unsigned long long)store_writes_followed(shared), WRITERS * EACH);
	store_close(shared);
	shared = open_store();
	writes_all_there(shared);
	store_close(shared);
}

/* An injected failure writes nothing: the log stays whole and the next
 * write goes through at once. */
Test(store_torn, an_injected_failure_does_not_tear_the_log)
{
	store *db = open_store();
	store_fail_writes(db, 1);
	cr_assert_eq(put(db, 1, 100), ERR_IO);
	cr_assert_eq(put(db, 2, 100), 0);
	cr_assert_eq(store_writes_refused(db), 0);
	cr_assert_eq(store_log_rolls(db), 0);
	store_close(db);
}
