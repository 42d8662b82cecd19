/* store_metrics.c - LevelDB's figures as the shared store_* families
 * (store_metrics.h). Owns nothing: the hook borrows the registry's store.
 * The hook runs on whichever thread renders; LevelDB's property calls
 * are thread-safe.
 */
#include "store_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

typedef struct hook_ctx {
	const metrics *m;
	store *db;
} hook_ctx;

bool store_metrics_compaction_bytes(const char *stats, double *read, double *written)
{
	*read = *written = 0;
	const char *p = strstr(stats, "-----");
	if (!p)
		return false;
	p = strchr(p, '\n');
	while (p && *++p) {
		int level;
		double files, size, secs, r, w;
		if (sscanf(p, "%d %lf %lf %lf %lf %lf", &level, &files, &size, &secs, &r, &w) ==
		    6) {
			*read += r * 1048576.0;
			*written += w * 1048576.0;
		}
		p = strchr(p, '\n');
	}
	return true;
}

bool store_metrics_memory(store *db, double *bytes)
{
	char buf[64];
	if (store_property(db, "leveldb.approximate-memory-usage", buf, sizeof buf) != 0)
		return false;
	*bytes = strtod(buf, NULL);
	return true;
}

static void gauge(const metrics *m, sbuf *out, const char *name, const char *help, double v)
{
	metrics_family(m, out, name, METRIC_GAUGE, help);
	metrics_sample(m, out, name, NULL, v);
}

static void render(void *arg, sbuf *out)
{
	const hook_ctx *c = arg;
	char buf[4096];
	uint64_t bytes;
	double mem;
	if (store_approximate_size(c->db, &bytes) == 0)
		gauge(c->m, out, "store_approximate_bytes",
		      "LevelDB's estimate of the bytes the whole key range takes in its tables "
		      "(the memtable not included).",
		      (double)bytes);
	if (store_metrics_memory(c->db, &mem))
		gauge(c->m, out, "store_memory_bytes",
		      "LevelDB's memory in use (memtables and block cache).", mem);
	metrics_family(c->m, out, "store_level_files", METRIC_GAUGE,
	               "LevelDB table files per level; many at level 0 means compaction is "
	               "behind and writes will be slowed.");
	for (int lv = 0; lv < STORE_METRICS_LEVELS; lv++) {
		char name[48], labels[16];
		snprintf(name, sizeof name, "leveldb.num-files-at-level%d", lv);
		if (store_property(c->db, name, buf, sizeof buf) != 0)
			continue;
		snprintf(labels, sizeof labels, "level=\"%d\"", lv);
		metrics_sample(c->m, out, "store_level_files", labels, strtod(buf, NULL));
	}
	metrics_family(c->m, out, "store_torn_log_refused_total", METRIC_COUNTER,
	               "Writes refused after a failed write tore LevelDB's log, until the log "
	               "was rolled (store.h).");
	metrics_sample(c->m, out, "store_torn_log_refused_total", NULL,
	               (double)store_writes_refused(c->db));
	metrics_family(c->m, out, "store_log_rolls_total", METRIC_COUNTER,
	               "Logs torn by a failed write that were rolled, writes going on after.");
	metrics_sample(c->m, out, "store_log_rolls_total", NULL, (double)store_log_rolls(c->db));
	double rd, wr;
	if (store_property(c->db, "leveldb.stats", buf, sizeof buf) == 0 &&
	    store_metrics_compaction_bytes(buf, &rd, &wr)) {
		metrics_family(c->m, out, "store_compaction_read_bytes_total", METRIC_COUNTER,
		               "Bytes LevelDB compactions read since start (MB resolution).");
		metrics_sample(c->m, out, "store_compaction_read_bytes_total", NULL, rd);
		metrics_family(c->m, out, "store_compaction_written_bytes_total", METRIC_COUNTER,
		               "Bytes LevelDB compactions wrote since start (MB resolution).");
		metrics_sample(c->m, out, "store_compaction_written_bytes_total", NULL, wr);
	}
}

void store_metrics_add(metrics *m, store *db)
{
	hook_ctx *c = xcalloc(1, sizeof *c);
	c->m = m;
	c->db = db;
	metrics_add_hook_owned(m, render, c);
}

bool store_metrics_holds(void *ctx, uint64_t *out)
{
	double bytes;
	if (!store_metrics_memory(ctx, &bytes))
		return false;
	*out = (uint64_t)bytes;
	return true;
}
