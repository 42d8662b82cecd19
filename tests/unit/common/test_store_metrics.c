/* test_store_metrics.c - LevelDB's figures as the shared store_* families
 * (common/store_metrics.c): the memory figure both daemons' memory_bytes
 * {holder="store"} reuse is the one store_memory_bytes shows, it grows
 * with the memtable's writes and the blocks read, and it stays within the
 * block cache and memtables the options allow. Each test has its own
 * store in a temp directory.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "sbuf.h"
#include "store.h"
#include "store_metrics.h"
#include "tests/support/prom_util.h"
#include "tests/support/testdir.h"

#define CACHE (1u << 20)
#define BUFFER (1u << 20)

static struct {
	char dir[64];
	store *db;
} T;

static void setup(void)
{
	log_threshold = LOG_ERROR;
	testdir_make(T.dir, sizeof T.dir, "test_store_metrics");
	store_opts o;
	store_opts_default(&o);
	o.cache_bytes = CACHE;
	o.write_buffer = BUFFER;
	char err[256];
	T.db = store_open_dir(T.dir, &o, err, sizeof err);
	cr_assert_not_null(T.db, "%s", err);
}

static void teardown(void)
{
	store_close(T.db);
	testdir_remove(T.dir);
}

TestSuite(store_metrics, .init = setup, .fini = teardown, .timeout = 60);

static void put_keys(int from, int to)
{
	store_batch *b = store_batch_new();
	char k[32], v[100];
	memset(v, 'v', sizeof v);
	for (int i = from; i < to; i++) {
		store_batch_put(b, k, (size_t)snprintf(k, sizeof k, "key-%08d", i), v, sizeof v);
		if (i % 1000 == 999) {
			cr_assert_eq(store_write(T.db, b), 0);
			store_batch_clear(b);
		}
	}
	cr_assert_eq(store_write(T.db, b), 0);
	store_batch_free(b);
}

Test(store_metrics, the_memory_figure_is_the_one_store_memory_bytes_shows)
{
	double mem;
	cr_assert(store_metrics_memory(T.db, &mem));
	put_keys(0, 100);
	cr_assert(store_metrics_memory(T.db, &mem));
	metrics *m = metrics_new("x_");
	store_metrics_add(m, T.db);
	sbuf out;
	sbuf_init(&out);
	metrics_render(m, &out);
	cr_assert_eq(prom_util_get(out.p, "x_store_memory_bytes"), mem, "%s", out.p);
	sbuf_free(&out);
	metrics_free(m);
}

Test(store_metrics, the_memory_figure_grows_with_writes_and_stays_within_cache_and_memtables)
{
	double empty, written, full;
	cr_assert(store_metrics_memory(T.db, &empty));
	cr_assert_lt(empty, BUFFER, "an empty store: a memtable's first block");
	put_keys(0, 2000);
	cr_assert(store_metrics_memory(T.db, &written));
	cr_assert_gt(written, empty + 2000 * 100, "the memtable holds the writes");
	/* Many memtables' worth, and every key read back through the cache. */
	put_keys(2000, 100000);
	char k[32], *v;
	size_t vn;
	for (int i = 0; i < 100000; i += 7) {
		cr_assert_eq(
		    store_get(T.db, k, (size_t)snprintf(k, sizeof k, "key-%08d", i), &v, &vn), 0);
		free(v);
	}
	cr_assert(store_metrics_memory(T.db, &full));
	cr_assert_leq(full, CACHE + 2 * BUFFER + 65536, "a block cache and two memtables: %.0f",
	              full);
}
