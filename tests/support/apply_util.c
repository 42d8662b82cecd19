/* apply_util.c - central's applier over a test's temp store
 * (apply_util.h). */
#include "tests/support/apply_util.h"

#include <criterion/criterion.h>

#include "tests/support/testdir.h"

applier *apply_util_open(const char *name, const char *set, const char *sum, uint32_t partitions,
                         char *dir, size_t cap, counters *ctr, store **db)
{
	char err[256];
	cr_assert_eq(counters_parse(ctr, set, sum, err, sizeof err), 0, "%s", err);
	testdir_make(dir, cap, name);
	*db = testdir_open_store(dir);
	applier *a = applier_new(*db, partitions, ctr, err, sizeof err);
	cr_assert_not_null(a, "applier_new: %s", err);
	return a;
}

void apply_util_close(applier *a, store *db, counters *ctr, const char *dir)
{
	applier_free(a);
	if (db)
		store_close(db);
	counters_free(ctr);
	testdir_remove(dir);
}
