/* testdir.h - a fresh temp directory per test, removed whole in .fini,
 * and a small LevelDB store inside it. Header-only.
 */
#ifndef TESTS_TESTDIR_H
#define TESTS_TESTDIR_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

#include "store.h"

#define TESTDIR_UTIL static __attribute__((unused))

/* Makes /tmp/<name>.XXXXXX into buf (cap >= 32 + strlen(name)). */
TESTDIR_UTIL void testdir_make(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "/tmp/%s.XXXXXX", name);
	cr_assert_not_null(mkdtemp(buf), "mkdtemp %s", buf);
}

TESTDIR_UTIL int testdir_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything below it; a no-op for "" */
TESTDIR_UTIL void testdir_remove(const char *dir)
{
	if (dir && dir[0])
		nftw(dir, testdir_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Opens (creating) a store at path with small caches. */
TESTDIR_UTIL store *testdir_open_store(const char *path)
{
	store_opts o;
	char err[256];
	store_opts_default(&o);
	o.cache_bytes = 1u << 20;
	o.write_buffer = 1u << 20;
	store *db = store_open(path, &o, err, sizeof err);
	cr_assert_not_null(db, "store_open: %s", err);
	return db;
}

#endif
