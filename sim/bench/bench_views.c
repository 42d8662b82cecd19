/* bench_views.c - views added up per item against views as ops, on the
 * wire and in central's applier (bench_views.h).
 *
 * Owns, for one run: the generated ops, the two sets of encoded batches
 * (per partition, in the order Kafka would hand them out) and the temp
 * dir with the two stores. Only the apply loops are timed. One thread.
 */
#include "sim/bench/bench_views.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "central/apply/apply.h"
#include "sim/bench/bench_central.h"
#include "sim/bench/benchgen.h"
#include "sim/bench/benchutil.h"
#include "clock.h"
#include "counter.h"
#include "err.h"
#include "hlc.h"
#include "partition.h"
#include "store.h"
#include "wire.h"
#include "xmem.h"

#define SEED UINT64_C(0x7669657773)
/* 2025-01-01T01:00:00Z: 1,000 ops a ms keep a million ops in one day. */
#define BASE_MS UINT64_C(1735693200000)
#define OPS_PER_MS 1000

void bench_views_opts_default(bench_views_opts *o)
{
	*o = (bench_views_opts){.ops = 1000000,
	                        .views_pct = 90,
	                        .viral_pct = 50,
	                        .items = 100000,
	                        .partitions = 16,
	                        .ops_per_batch = 1000,
	                        .dir = "/tmp"};
}

/* One op waiting in its partition's batch. */
typedef struct pend {
	uint32_t item;
	bool view;
	uint64_t user, hlc;
} pend;

typedef struct gen {
	const bench_views_opts *o;
	benchgen_items items; /* "reel:<i>" */
	pend **waiting;       /* per partition: ops_per_batch */
	size_t *nwaiting;
	uint64_t *seq;
	benchgen_log *logs[2]; /* [0] ops, [1] summed: per partition */
	size_t longest;
	wire_op *ops;  /* scratch: ops_per_batch */
	bool *is_view; /* scratch */
	char *users;   /* scratch: ops_per_batch * BENCHGEN_USER_STRIDE */
	uint64_t rng;
} gen;

/* Seals partition p's waiting ops both ways. */
static int seal(gen *g, uint32_t p, bench_views_result *r)
{
	size_t n = g->nwaiting[p];
	if (!n)
		return 0;
	for (size_t j = 0; j < n; j++) {
		const pend *pd = &g->waiting[p][j];
		const char *counter = pd->view ? "views" : "likes";
		g->ops[j] = (wire_op){wire_cstr(counter, strlen(counter)),
		                      benchgen_item(&g->items, pd->item),
		                      benchgen_user(g->users + j * BENCHGEN_USER_STRIDE, pd->user),
		                      WIRE_ADD,
		                      1,
		                      pd->hlc,
		                      {NULL, 0}};
		g->is_view[j] = pd->view;
	}
	/* Every batch from one edge, e0. */
	wire_batch b = benchgen_batch(0, p, ++g->seq[p], hlc_ms(g->waiting[p][n - 1].hlc));
	b.nops = (uint32_t)n;
	b.ops = g->ops;
	benchgen_msg m;
	int rc = wire_encode_batch(&b, &m.buf, &m.len);
	if (rc)
		return rc;
	benchgen_log_push(&g->logs[0][p], m, &g->longest);
	r->per_op.messages++;
	r->per_op.wire_bytes += m.len;
	r->per_op.entries += n;

	wire_batch s = b;
	wire_batch_add_up(g->ops, g->is_view, n, &s, NULL, NULL);
	rc = wire_encode_batch(&s, &m.buf, &m.len);
	r->summed.entries += s.nops + s.nsums;
	free(s.ops);
	free(s.sums);
	if (rc)
		return rc;
	benchgen_log_push(&g->logs[1][p], m, &g->longest);
	r->summed.messages++;
	r->summed.wire_bytes += m.len;
	g->nwaiting[p] = 0;
	return 0;
}

static int build(gen *g, bench_views_result *r)
{
	const bench_views_opts *o = g->o;
	int rc = 0;
	for (uint64_t i = 0; i < o->ops && !rc; i++) {
		bool view = bench_splitmix(&g->rng) % 100 < o->views_pct;
		uint32_t item;
		if (view && bench_splitmix(&g->rng) % 100 < o->viral_pct)
			item = 0;
		else
			item = (uint32_t)(bench_splitmix(&g->rng) % o->items);
		uint32_t p = g->items.part[item];
		g->waiting[p][g->nwaiting[p]++] =
		    (pend){item, view, i, hlc_make(BASE_MS + i / OPS_PER_MS, i % OPS_PER_MS)};
		if (view)
			r->views++;
		else
			r->likes++;
		if (g->nwaiting[p] == o->ops_per_batch)
			rc = seal(g, p, r);
	}
	for (uint32_t p = 0; p < o->partitions && !rc; p++)
		rc = seal(g, p, r);
	r->ops = o->ops;
	return rc;
}

static void gen_init(gen *g, const bench_views_opts *o)
{
	memset(g, 0, sizeof *g);
	g->o = o;
	g->rng = SEED;
	benchgen_items_init(&g->items, "reel", o->items, o->partitions);
	g->waiting = xcalloc(o->partitions, sizeof *g->waiting);
	for (uint32_t p = 0; p < o->partitions; p++)
		g->waiting[p] = xmalloc((size_t)o->ops_per_batch * sizeof **g->waiting);
	g->nwaiting = xcalloc(o->partitions, sizeof *g->nwaiting);
	g->seq = xcalloc(o->partitions, sizeof *g->seq);
	for (int k = 0; k < 2; k++)
		g->logs[k] = xcalloc(o->partitions, sizeof *g->logs[k]);
	g->ops = xcalloc(o->ops_per_batch, sizeof *g->ops);
	g->is_view = xcalloc(o->ops_per_batch, sizeof *g->is_view);
	g->users = xmalloc((size_t)o->ops_per_batch * BENCHGEN_USER_STRIDE);
}

static void gen_free(gen *g)
{
	for (uint32_t p = 0; p < g->o->partitions; p++)
		free(g->waiting[p]);
	for (int k = 0; k < 2; k++)
		benchgen_logs_free(g->logs[k], g->o->partitions);
	free(g->waiting);
	free(g->nwaiting);
	free(g->seq);
	benchgen_items_free(&g->items);
	free(g->ops);
	free(g->is_view);
	free(g->users);
}

/* Applies one set of batches into a new store at dir; *db stays open. */
static int apply_all(const gen *g, int k, const char *dir, const counters *ctr, store **db,
                     bench_views_mode *m, char *err, size_t errlen)
{
	store_opts so;
	bench_central_store_opts(&so);
	*db = store_open_dir(dir, &so, err, errlen);
	if (!*db)
		return ERR_IO;
	applier *a = applier_new(*db, g->o->partitions, ctr, err, errlen);
	if (!a)
		return ERR_IO;
	int rc = benchgen_apply(a, g->logs[k], g->o->partitions, g->longest, &m->apply_s,
	                        &m->apply_cpu_s);
	applier_stats st;
	applier_get_stats(a, &st);
	m->store_writes = st.store_writes;
	applier_free(a);
	if (rc) {
		snprintf(err, errlen, "apply failed: %s", err_str(rc));
		return rc;
	}
	if (st.batches_applied != m->messages || st.ops_applied != m->entries || st.ops_invalid ||
	    st.batches_bad) {
		snprintf(err, errlen,
		         "applier stats disagree with the input: batches %" PRIu64 "/%" PRIu64
		         " entries %" PRIu64 "/%" PRIu64 " invalid %" PRIu64,
		         st.batches_applied, m->messages, st.ops_applied, m->entries,
		         st.ops_invalid);
		return ERR_CORRUPT;
	}
	return 0;
}

int bench_views_run(const bench_views_opts *o, bench_views_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	if (!o->ops || o->ops > BENCH_VIEWS_OPS_MAX || o->views_pct > 100 || o->viral_pct > 100 ||
	    !o->items || o->items > BENCH_VIEWS_ITEMS_MAX || !o->partitions ||
	    o->partitions > PARTITION_MAX || !o->ops_per_batch || o->ops_per_batch > WIRE_MAX_OPS) {
		snprintf(err, errlen, "an option is out of bounds");
		return ERR_INVAL;
	}
	char root[512], dirs[2][600];
	snprintf(root, sizeof root, "%s/bench-views.XXXXXX", o->dir);
	if (!mkdtemp(root)) {
		snprintf(err, errlen, "mkdtemp %s: %s", root, strerror(errno));
		return ERR_IO;
	}
	snprintf(dirs[0], sizeof dirs[0], "%s/ops", root);
	snprintf(dirs[1], sizeof dirs[1], "%s/summed", root);
	counters ctr = {0};
	store *db[2] = {NULL, NULL};
	gen g;
	gen_init(&g, o);
	int rc = counters_parse(&ctr, "likes", "views", err, errlen);
	if (!rc && (rc = build(&g, r)))
		snprintf(err, errlen, "building the batches: %s", err_str(rc));
	bench_views_mode *modes[2] = {&r->per_op, &r->summed};
	for (int k = 0; k < 2 && !rc; k++)
		rc = apply_all(&g, k, dirs[k], &ctr, &db[k], modes[k], err, errlen);
	const char *names[2] = {"views", "likes"};
	for (int c = 0; c < 2 && !rc; c++) {
		uint64_t n;
		rc = bench_central_compare(db[0], db[1], names[c], &n, err, errlen);
		r->counts_compared += n;
	}
	uint64_t total = 0;
	if (!rc && (rc = bench_central_total(db[1], "views", &total)) == 0 && total != r->views) {
		snprintf(err, errlen, "the views add up to %" PRIu64 ", not the %" PRIu64 " sent",
		         total, r->views);
		rc = ERR_CORRUPT;
	}
	for (int k = 0; k < 2; k++)
		if (db[k])
			store_close(db[k]);
	gen_free(&g);
	counters_free(&ctr);
	bench_rmtree(root);
	return rc;
}

/* bytes/view: every batch byte (likes' too) over the views. */
static void row(FILE *f, const char *name, const bench_views_mode *m, uint64_t views, uint64_t ops)
{
	fprintf(f, "  %-12s %9" PRIu64 " %10" PRIu64 " %12" PRIu64 " %11.1f %8.2f %12.0f %7.2f\n",
	        name, m->messages, m->entries, m->wire_bytes,
	        views ? (double)m->wire_bytes / (double)views : 0.0, m->apply_s,
	        m->apply_s > 0 ? (double)ops / m->apply_s : 0.0, m->apply_cpu_s);
}

void bench_views_print(FILE *f, const bench_views_opts *o, const bench_views_result *r, bool json)
{
	double bpv_ops = r->views ? (double)r->per_op.wire_bytes / (double)r->views : 0;
	double bpv_sum = r->views ? (double)r->summed.wire_bytes / (double)r->views : 0;
	if (json) {
		fprintf(f,
		        "{\"ops\":%" PRIu64 ",\"views\":%" PRIu64 ",\"likes\":%" PRIu64
		        ",\"viral_pct\":%u,\"items\":%u,\"partitions\":%u,\"ops_per_batch\":%u,"
		        "\"bytes_per_view_ops\":%.2f,\"bytes_per_view_summed\":%.2f,"
		        "\"apply_s_ops\":%.3f,\"apply_s_summed\":%.3f,"
		        "\"entries_ops\":%" PRIu64 ",\"entries_summed\":%" PRIu64 "}\n",
		        r->ops, r->views, r->likes, o->viral_pct, o->items, o->partitions,
		        o->ops_per_batch, bpv_ops, bpv_sum, r->per_op.apply_s, r->summed.apply_s,
		        r->per_op.entries, r->summed.entries);
		return;
	}
	fprintf(
	    f,
	    "bench-views: %" PRIu64 " ops (%" PRIu64 " views, %u%% of them on one reel; %" PRIu64
	    " likes), %u items, %u partitions, %u ops per batch\n",
	    r->ops, r->views, o->viral_pct, r->likes, o->items, o->partitions, o->ops_per_batch);
	fprintf(f, "  %-12s %9s %10s %12s %11s %8s %12s %7s\n", "batches", "messages", "entries",
	        "wire bytes", "bytes/view", "apply s", "ops/s", "cpu s");
	row(f, "views as ops", &r->per_op, r->views, r->ops);
	row(f, "views summed", &r->summed, r->views, r->ops);
	fprintf(f,
	        "  wire bytes per view %.1f -> %.1f (%.1fx less); apply %.2f s -> %.2f s "
	        "(%.1fx faster); %" PRIu64 " counts equal in both stores\n",
	        bpv_ops, bpv_sum, bpv_sum > 0 ? bpv_ops / bpv_sum : 0, r->per_op.apply_s,
	        r->summed.apply_s,
	        r->summed.apply_s > 0 ? r->per_op.apply_s / r->summed.apply_s : 0,
	        r->counts_compared);
}
