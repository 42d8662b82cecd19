/* apply_util.h - central's applier over a test's own temp store, as the
 * central tests (test_apply*, test_verify, test_checkpoint, test_opsapi,
 * test_cmetrics) set it up and take it down. Compiled once into the test
 * support library; failures are Criterion assertions, so these are for a
 * test's thread.
 */
#ifndef TESTS_SUPPORT_APPLY_UTIL_H
#define TESTS_SUPPORT_APPLY_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "central/apply/apply.h"
#include "counter.h"
#include "store.h"

/* Parses the set and sum counters (comma lists) into *ctr, makes a temp
 * dir named for name in dir (cap bytes) with a store in it (*db), and
 * returns an applier over that store for partitions. */
applier *apply_util_open(const char *name, const char *set, const char *sum, uint32_t partitions,
                         char *dir, size_t cap, counters *ctr, store **db);

/* Undoes apply_util_open: frees a and closes db (either may be NULL),
 * frees ctr and removes dir with what is in it. */
void apply_util_close(applier *a, store *db, counters *ctr, const char *dir);

#endif
