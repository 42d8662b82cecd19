/* test_store_nice.c - store_opts.compaction_nice and compaction_idle:
 * LevelDB's compaction thread starts at the nice value, or under the
 * SCHED_IDLE policy, of the process's first niced open, the thread that
 * opened keeps its own, and the store works as before.
 * Each Criterion test runs in a process of its own, so each sees a
 * process whose LevelDB has not started its thread yet.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "store.h"
#include "tests/support/testdir.h"
#include "tests/support/threadstat.h"

static char dir[256];

static void setup(void)
{
	testdir_make(dir, sizeof dir, "test_store_nice");
}

static void teardown(void)
{
	testdir_remove(dir);
}

static int threads_at(int nice, int most)
{
	return threads_with(getpid(), STAT_NICE, nice, most);
}

/* The nice value the tests ask for: base + step, base being the test's
 * own (a suite run under nice starts above 0). */
static int above(int step)
{
	errno = 0;
	int base = getpriority(PRIO_PROCESS, 0);
	cr_assert_eq(errno, 0);
	if (base + step > 19)
		cr_skip_test("the test runs at nice %d: no room above it to test", base);
	return base + step;
}

static store *open_with(const char *name, int nice, bool idle)
{
	char path[512], err[256] = "";
	snprintf(path, sizeof path, "%s/%s", dir, name);
	store_opts o;
	store_opts_default(&o);
	o.cache_bytes = 1 << 20;
	o.write_buffer = 1 << 20; /* the test's writes fill several memtables */
	o.compaction_nice = nice;
	o.compaction_idle = idle;
	store *db = store_open(path, &o, err, sizeof err);
	cr_assert_not_null(db, "%s", err);
	return db;
}

static store *open_at(const char *name, int nice)
{
	return open_with(name, nice, false);
}

/* Writes through several 1 MB memtables, so that LevelDB's thread runs
 * (started now if no open started it), and checks that they went to
 * table files and read back. */
static void fill(store *db)
{
	char key[32], val[512];
	memset(val, 'v', sizeof val);
	for (int i = 0; i < 20000; i++) {
		int kn = snprintf(key, sizeof key, "k%08d", i);
		store_batch *b = store_batch_new();
		store_batch_put(b, key, (size_t)kn, val, sizeof val);
		cr_assert_eq(store_write(db, b), 0);
		store_batch_free(b);
	}
	int tables = 0;
	for (int lv = 0; lv < 7; lv++) {
		char name[64], files[32] = "";
		snprintf(name, sizeof name, "leveldb.num-files-at-level%d", lv);
		cr_assert_eq(store_property(db, name, files, sizeof files), 0);
		tables += atoi(files);
	}
	cr_assert_gt(tables, 0, "no memtable went to a table file");
	char *got = NULL;
	size_t gl = 0;
	cr_assert_eq(store_get(db, "k00012345", 9, &got, &gl), 0);
	cr_assert_eq(gl, sizeof val);
	free(got);
}

TestSuite(store_nice, .init = setup, .fini = teardown);

Test(store_nice, the_compaction_thread_starts_at_the_nice_value)
{
	int own = getpriority(PRIO_PROCESS, 0), nice = above(7);
	cr_assert_eq(threads_at(nice, 0), 0);
	store *db = open_at("a", nice);
	/* LevelDB's one background thread, and no other. */
	cr_assert_eq(threads_at(nice, 1), 1);
	cr_assert_eq(getpriority(PRIO_PROCESS, 0), own, "the opening thread keeps its own");

	/* The store works, the niced thread compacting its memtables. */
	fill(db);
	cr_assert_eq(threads_at(nice, 1), 1);
	store_close(db);
}

/* What the option relies on and store.h says: LevelDB has one
 * compaction thread per process, so a later open starts none at its own
 * value (were there one per database, it would). */
Test(store_nice, a_later_open_finds_the_thread_running)
{
	int first = above(5), second = above(9);
	store *a = open_at("a", first);
	store *b = open_at("b", second);
	cr_assert_eq(threads_at(first, 1), 1);
	cr_assert_eq(threads_at(second, 0), 0);
	store_close(b);
	store_close(a);
}

/* A failed open (its directory is a file) leaves the choice to the
 * next one. */
Test(store_nice, a_failed_open_leaves_the_choice_to_the_next)
{
	char path[512], err[256] = "";
	snprintf(path, sizeof path, "%s/file", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
	store_opts o;
	store_opts_default(&o);
	o.compaction_nice = above(3);
	cr_assert_null(store_open(path, &o, err, sizeof err));
	int nice = above(6);
	store *db = open_at("a", nice);
	cr_assert_eq(threads_at(nice, 1), 1);
	store_close(db);
}

/* With 0 the thread starts from a writer at the process's own value. */
Test(store_nice, zero_leaves_the_priority_alone)
{
	int own = getpriority(PRIO_PROCESS, 0);
	store *db = open_at("a", 0);
	fill(db);
	for (int v = own + 1; v <= 19; v++)
		cr_assert_eq(threads_at(v, 0), 0, "a thread at nice %d", v);
	store_close(db);
}

/* compaction_idle: the thread starts under SCHED_IDLE, the opener keeps
 * its policy, and the store works with the idle thread compacting. */
Test(store_nice, idle_starts_the_compaction_thread_under_sched_idle)
{
	cr_assert_eq(threads_with(getpid(), STAT_POLICY, SCHED_IDLE, 0), 0);
	int own = getpriority(PRIO_PROCESS, 0), policy = sched_getscheduler(0);
	store *db = open_with("a", 0, true);
	cr_assert_eq(threads_with(getpid(), STAT_POLICY, SCHED_IDLE, 1), 1);
	cr_assert_eq(sched_getscheduler(0), policy, "the opening thread keeps its policy");
	cr_assert_eq(getpriority(PRIO_PROCESS, 0), own);

	fill(db);
	cr_assert_eq(threads_with(getpid(), STAT_POLICY, SCHED_IDLE, 1), 1);
	store_close(db);
}

/* Under SCHED_IDLE the nice value is not the thread's: it is not set. */
Test(store_nice, idle_leaves_the_nice_value_alone)
{
	int nice = above(7);
	store *db = open_with("a", nice, true);
	/* After the writes the helper that opened is long gone: the one
	 * idle thread left is LevelDB's. */
	fill(db);
	cr_assert_eq(threads_with(getpid(), STAT_POLICY, SCHED_IDLE, 1), 1);
	cr_assert_eq(threads_at(nice, 0), 0);
	store_close(db);
}
