/* testdir.h - a fresh temp directory per test, removed whole in .fini,
 * and a small LevelDB store inside it. Compiled once into the test
 * support library (tests/support/testdir.c); test processes only. A
 * failure to make the directory or open the store is a Criterion
 * assertion, so these are for a test's thread.
 */
#ifndef TESTS_SUPPORT_TESTDIR_H
#define TESTS_SUPPORT_TESTDIR_H

#include <stddef.h>

#include "store.h"

/* Makes /tmp/<name>.XXXXXX into buf (cap >= 32 + strlen(name)). */
void testdir_make(char *buf, size_t cap, const char *name);

/* Removes dir and everything below it; a no-op for "" or NULL. */
void testdir_remove(const char *dir);

/* How many entries dir holds, "." and ".." not counted: what a test
 * left behind, or what the code under test did. */
size_t testdir_count_entries(const char *dir);

/* A throwaway self-signed certificate for localhost (P-256, two days)
 * as dir/cert.pem with its key dir/key.pem, made by openssl. */
void testdir_make_cert(const char *dir);

/* Opens (creating) a store at path with small caches; the caller closes
 * it (store_close). */
store *testdir_open_store(const char *path);
/* How many keys of db start with prefix (plen bytes; 0: every key). */
size_t testdir_count_keys(store *db, const void *prefix, size_t plen);

#endif
