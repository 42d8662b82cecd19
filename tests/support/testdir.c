/* testdir.c - a fresh temp directory per test and a small store inside
 * it (testdir.h).
 */
#include "tests/support/testdir.h"
#include "tests/support/proc.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void testdir_make(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "/tmp/%s.XXXXXX", name);
	cr_assert_not_null(mkdtemp(buf), "mkdtemp %s", buf);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void testdir_remove(const char *dir)
{
	if (dir && dir[0])
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

size_t testdir_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d, "opendir %s", dir);
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

void testdir_make_cert(const char *dir)
{
	char out[4096];
	cr_assert_eq(proc_capture(out, sizeof out,
	                          "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	                          "-nodes -days 2 -subj /CN=localhost -keyout %s/key.pem "
	                          "-out %s/cert.pem 2>&1",
	                          dir, dir),
	             0, "openssl: %s", out);
}

store *testdir_open_store(const char *path)
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

size_t testdir_count_keys(store *db, const void *prefix, size_t plen)
{
	store_iter *it = store_iter_new(db, prefix, plen);
	const char *k, *v;
	size_t kn, vn, n = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn))
		n++;
	cr_assert_eq(store_iter_status(it), 0);
	store_iter_free(it);
	return n;
}
