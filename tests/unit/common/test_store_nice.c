/* test_store_nice.c - store_opts.compaction_nice: LevelDB's compaction
 * thread starts at the nice value of the process's first niced open,
 * the thread that opened keeps its own, and the store works as before.
 * Each Criterion test runs in a process of its own, so each sees a
 * process whose LevelDB has not started its thread yet.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "store.h"
#include "tests/support/testdir.h"

static char dir[256];

static void setup(void)
{
	testdir_make(dir, sizeof dir, "test_store_nice");
}

static void teardown(void)
{
	testdir_remove(dir);
}

/* The nice value of one of this process's threads, or -100 when its stat
 * cannot be read (the thread ended). */
static int thread_nice(const char *tid)
{
	char path[128], line[1024];
	snprintf(path, sizeof path, "/proc/self/task/%s/stat", tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -100;
	size_t n = fread(line, 1, sizeof line - 1, f);
	fclose(f);
	line[n] = '\0';
	const char *p = strrchr(line, ')');
	if (!p)
		return -100;
	/* After "pid (comm) ": state is field 1, nice field 17. */
	p += 2;
	for (int field = 1; field < 17; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -100;
		p++;
	}
	return atoi(p);
}

/* How many of this process's threads run at nice value want. */
static int threads_at(int want)
{
	DIR *d = opendir("/proc/self/task");
	cr_assert_not_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && thread_nice(e->d_name) == want)
			n++;
	closedir(d);
	return n;
}

static store *open_at(const char *name, int nice)
{
	char path[512], err[256] = "";
	snprintf(path, sizeof path, "%s/%s", dir, name);
	store_opts o;
	store_opts_default(&o);
	o.cache_bytes = 1 << 20;
	o.compaction_nice = nice;
	store *db = store_open(path, &o, err, sizeof err);
	cr_assert_not_null(db, "%s", err);
	return db;
}

TestSuite(store_nice, .init = setup, .fini = teardown);

Test(store_nice, the_compaction_thread_starts_at_the_nice_value)
{
	cr_assert_eq(getpriority(PRIO_PROCESS, 0), 0, "the test starts at nice 0");
	cr_assert_eq(threads_at(7), 0);
	store *db = open_at("a", 7);
	/* LevelDB's one background thread, and no other. */
	cr_assert_eq(threads_at(7), 1);
	cr_assert_eq(getpriority(PRIO_PROCESS, 0), 0, "the opening thread keeps its own");

	/* The store works: a write, a read, and enough writes through a
	 * 4 MB memtable's switches for the thread to compact. */
	char key[32], val[512];
	memset(val, 'v', sizeof val);
	for (int i = 0; i < 20000; i++) {
		int kn = snprintf(key, sizeof key, "k%08d", i);
		store_batch *b = store_batch_new();
		store_batch_put(b, key, (size_t)kn, val, sizeof val);
		cr_assert_eq(store_write(db, b), 0);
		store_batch_free(b);
	}
	char *got = NULL;
	size_t gl = 0;
	cr_assert_eq(store_get(db, "k00012345", 9, &got, &gl), 0);
	cr_assert_eq(gl, sizeof val);
	free(got);
	cr_assert_eq(threads_at(7), 1);
	store_close(db);
}

Test(store_nice, only_the_first_niced_open_chooses)
{
	store *a = open_at("a", 5);
	store *b = open_at("b", 9);
	cr_assert_eq(threads_at(5), 1);
	cr_assert_eq(threads_at(9), 0, "the thread was running already");
	store_close(b);
	store_close(a);
}

Test(store_nice, zero_leaves_the_priority_alone)
{
	store *db = open_at("a", 0);
	for (int v = 1; v <= 19; v++)
		cr_assert_eq(threads_at(v), 0, "a thread at nice %d", v);
	store_close(db);
}
