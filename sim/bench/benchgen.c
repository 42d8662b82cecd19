/* benchgen.c - the applier benchmarks' items and message logs
 * (benchgen.h). */
#include "sim/bench/benchgen.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "partition.h"
#include "sim/bench/benchutil.h"
#include "version.h"
#include "xmem.h"

void benchgen_items_init(benchgen_items *it, const char *type, uint32_t n, uint32_t partitions)
{
	it->names = xmalloc((size_t)n * BENCHGEN_ITEM_STRIDE);
	it->len = xmalloc(n);
	it->part = xmalloc((size_t)n * sizeof *it->part);
	for (uint32_t i = 0; i < n; i++) {
		char *s = it->names + (size_t)i * BENCHGEN_ITEM_STRIDE;
		int k = snprintf(s, BENCHGEN_ITEM_STRIDE, "%.4s:%" PRIu32, type, i);
		it->len[i] = (uint8_t)k;
		it->part[i] = partition_of(s, (size_t)k, partitions);
	}
}

void benchgen_items_free(benchgen_items *it)
{
	free(it->names);
	free(it->len);
	free(it->part);
	it->names = NULL;
	it->len = NULL;
	it->part = NULL;
}

void benchgen_zipf_init(benchgen_zipf *z, uint32_t n, double s)
{
	z->n = n;
	z->cdf = xmalloc((size_t)n * sizeof *z->cdf);
	double sum = 0;
	for (uint32_t i = 0; i < n; i++) {
		sum += 1.0 / pow((double)i + 1, s);
		z->cdf[i] = sum;
	}
	for (uint32_t i = 0; i < n; i++)
		z->cdf[i] /= sum;
	z->cdf[n - 1] = 1.0;
}

void benchgen_zipf_free(benchgen_zipf *z)
{
	free(z->cdf);
	z->cdf = NULL;
	z->n = 0;
}

uint32_t benchgen_zipf_draw(const benchgen_zipf *z, uint64_t *rng)
{
	double u = (double)(bench_splitmix(rng) >> 11) / 9007199254740992.0; /* [0, 1) */
	size_t lo = 0, hi = z->n - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (uint32_t)lo;
}

void benchgen_log_push(benchgen_log *l, benchgen_msg m, size_t *longest)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->m = xrealloc(l->m, l->cap * sizeof *l->m);
	}
	l->m[l->n++] = m;
	if (l->n > *longest)
		*longest = l->n;
}

void benchgen_logs_free(benchgen_log *logs, uint32_t partitions)
{
	if (!logs)
		return;
	for (uint32_t p = 0; p < partitions; p++) {
		for (size_t i = 0; i < logs[p].n; i++)
			free(logs[p].m[i].buf);
		free(logs[p].m);
	}
	free(logs);
}

int benchgen_apply(applier *a, const benchgen_log *logs, uint32_t partitions, size_t longest,
                   double *wall_s, double *cpu_s)
{
	return benchgen_apply_rounds(a, logs, partitions, longest, NULL, NULL, wall_s, cpu_s);
}

int benchgen_apply_rounds(applier *a, const benchgen_log *logs, uint32_t partitions, size_t longest,
                          benchgen_round_fn fn, void *ctx, double *wall_s, double *cpu_s)
{
	int rc = 0;
	double t0 = clock_mono_s(), c0 = bench_thread_cpu_s();
	for (size_t i = 0; i < longest && !rc; i++) {
		for (uint32_t p = 0; p < partitions && !rc; p++) {
			const benchgen_log *l = &logs[p];
			if (i < l->n)
				rc = applier_apply(a, p, (int64_t)i, l->m[i].buf, l->m[i].len, 0);
		}
		if (!rc && fn)
			rc = fn(ctx, a, i);
	}
	*wall_s = clock_mono_s() - t0;
	*cpu_s = bench_thread_cpu_s() - c0;
	return rc;
}

/* feed.milestones' default (central/main.c's option table). */
static const uint64_t feed_thresholds[] = {10, 100, 1000, 10000, 100000, 1000000};

void benchgen_feed_on(benchgen_feed *f, applier *a, const benchgen_log *logs, uint32_t partitions,
                      uint32_t every)
{
	applier_set_feed(a, true, true, feed_thresholds,
	                 sizeof feed_thresholds / sizeof feed_thresholds[0]);
	*f = (benchgen_feed){.logs = logs, .partitions = partitions, .every = every};
	if (every)
		f->from = xcalloc(partitions, sizeof *f->from);
}

int benchgen_feed_round(void *ctx, applier *a, size_t round)
{
	benchgen_feed *f = ctx;
	if (!f->every || (round + 1) % f->every)
		return 0;
	for (uint32_t p = 0; p < f->partitions; p++) {
		size_t last = f->logs[p].n;
		if (!last)
			continue;
		uint64_t upto = version_make(0, (uint64_t)(round < last ? round : last - 1));
		if (upto < f->from[p])
			continue;
		int rc = applier_feed_trim(a, p, f->from[p], upto);
		if (rc)
			return rc;
		f->from[p] = upto + 1;
	}
	return 0;
}

void benchgen_feed_free(benchgen_feed *f)
{
	free(f->from);
	f->from = NULL;
}

static const char *const edge_names[BENCHGEN_EDGES] = {"e0", "e1", "e2"};
static const char *const region_names[BENCHGEN_EDGES] = {"r0", "r1", "r2"};

wire_str benchgen_region(unsigned e)
{
	return wire_cstr(region_names[e], strlen(region_names[e]));
}

wire_batch benchgen_batch(unsigned e, uint32_t p, uint64_t seq, uint64_t created_ms)
{
	return (wire_batch){.edge = wire_cstr(edge_names[e], strlen(edge_names[e])),
	                    .region = benchgen_region(e),
	                    .partition = p,
	                    .seq = seq,
	                    .created_ms = created_ms};
}

wire_str benchgen_user(char *buf, uint64_t u)
{
	int n = snprintf(buf, BENCHGEN_USER_STRIDE, "u%" PRIu64, u);
	return wire_cstr(buf, (size_t)n);
}
