/* mixgen.c - a mixed like/unlike/view input sealed into per-partition
 * batch logs (mixgen.h). Owns, while it builds, the waiting ops of every
 * (edge, partition) and the ring of recent likes; the result owns the
 * sealed messages. One thread.
 */
#include "sim/bench/mixgen.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlc.h"
#include "partition.h"
#include "sim/bench/benchutil.h"
#include "wire.h"
#include "xmem.h"

#define ZIPF_S 0.99                 /* as bench-central: YCSB's default skew */
#define SEED UINT64_C(0x6665656473) /* fixed: every build gives the same bytes */
/* 2025-01-02T00:00:00Z: the first op's wall clock; a million ops span
 * 17 minutes, all on one UTC day. */
#define BASE_MS UINT64_C(1735776000000)

_Static_assert(MIXGEN_EDGES <= BENCHGEN_EDGES, "each edge has its names");

enum kind { K_LIKE, K_UNLIKE, K_VIEW };

/* One op waiting in its (edge, partition) batch. */
typedef struct pend {
	uint32_t item;
	uint8_t kind;
	uint64_t user, hlc;
} pend;

typedef struct slot {
	pend *v; /* ops_per_batch */
	size_t n;
	uint64_t seq; /* the last sequence sealed */
} slot;

typedef struct pair {
	uint32_t item;
	uint64_t user;
} pair;

typedef struct gen {
	const mixgen_opts *o;
	mixgen *m;
	benchgen_items items;
	benchgen_zipf zipf;
	slot *slots;       /* edge * partitions + partition */
	uint64_t *part_sz; /* bytes sealed per partition */
	uint8_t *touched;  /* per item: any op drawn */
	pair recent[MIXGEN_RECENT];
	size_t nrecent, next_recent;
	wire_op *ops; /* scratch: ops_per_batch */
	bool *is_sum; /* scratch */
	char *users;  /* scratch: ops_per_batch * BENCHGEN_USER_STRIDE */
	uint64_t rng;
} gen;

void mixgen_opts_default(mixgen_opts *o)
{
	*o = (mixgen_opts){.ops = 1000000,
	                   .items = 100000,
	                   .users = 200000,
	                   .views_pct = 30,
	                   .unlike_pct = 10,
	                   .ops_per_batch = 1000,
	                   .partitions = 16};
}

static const char *check(const mixgen_opts *o)
{
	if (o->ops < 1 || o->ops > MIXGEN_OPS_MAX)
		return "ops outside 1..100000000";
	if (o->items < 1 || o->items > MIXGEN_ITEMS_MAX)
		return "items outside 1..10000000";
	if (o->users < 1 || o->users > MIXGEN_USERS_MAX)
		return "users outside 1..1000000000";
	if (o->views_pct > 100 || o->unlike_pct > 100 - o->views_pct)
		return "views and unlikes above 100 percent together";
	if (o->ops_per_batch < 1 || o->ops_per_batch > WIRE_MAX_OPS)
		return "ops per batch outside 1..100000";
	if (o->partitions < 1 || o->partitions > PARTITION_MAX)
		return "partitions outside 1..4096";
	return NULL;
}

/* Encodes the ops waiting in (e, p) as the next batch of p's log. */
static int seal(gen *g, unsigned e, uint32_t p)
{
	slot *s = &g->slots[(size_t)e * g->o->partitions + p];
	if (!s->n)
		return 0;
	for (size_t j = 0; j < s->n; j++) {
		const pend *pd = &s->v[j];
		const char *counter = pd->kind == K_VIEW ? "views" : "likes";
		g->ops[j] =
		    (wire_op){.counter = wire_cstr(counter, strlen(counter)),
		              .item = benchgen_item(&g->items, pd->item),
		              .user = benchgen_user(g->users + j * BENCHGEN_USER_STRIDE, pd->user),
		              .kind = pd->kind == K_UNLIKE ? WIRE_REMOVE : WIRE_ADD,
		              .n = 1,
		              .hlc = pd->hlc};
		g->is_sum[j] = pd->kind == K_VIEW;
	}
	wire_batch b = benchgen_batch(e, p, s->seq + 1, hlc_ms(s->v[s->n - 1].hlc));
	wire_batch_add_up(g->ops, g->is_sum, s->n, &b, NULL, NULL);
	benchgen_msg msg;
	int rc = wire_encode_batch(&b, &msg.buf, &msg.len);
	g->m->sums += b.nsums;
	g->m->entries += b.nops + b.nsums;
	free(b.ops);
	free(b.sums);
	if (rc)
		return rc;
	s->seq++;
	s->n = 0;
	benchgen_log_push(&g->m->parts[p], msg, &g->m->longest);
	g->m->batches++;
	g->m->wire_bytes += msg.len;
	g->part_sz[p] += msg.len;
	return 0;
}

/* The next op: its kind, item and user. */
static pend draw(gen *g, uint64_t i)
{
	const mixgen_opts *o = g->o;
	pend pd = {.hlc = hlc_make(BASE_MS + i / MIXGEN_OPS_PER_MS, i % MIXGEN_OPS_PER_MS)};
	uint64_t pct = bench_splitmix(&g->rng) % 100;
	if (pct < o->views_pct) {
		pd.kind = K_VIEW;
		pd.item = benchgen_zipf_draw(&g->zipf, &g->rng);
		pd.user = bench_splitmix(&g->rng) % o->users;
		g->m->views++;
	} else if (pct < (uint64_t)o->views_pct + o->unlike_pct && g->nrecent) {
		const pair *pr = &g->recent[bench_splitmix(&g->rng) % g->nrecent];
		pd.kind = K_UNLIKE;
		pd.item = pr->item;
		pd.user = pr->user;
		g->m->unlikes++;
	} else {
		pd.kind = K_LIKE;
		pd.item = benchgen_zipf_draw(&g->zipf, &g->rng);
		pd.user = bench_splitmix(&g->rng) % o->users;
		g->recent[g->next_recent] = (pair){pd.item, pd.user};
		g->next_recent = (g->next_recent + 1) % MIXGEN_RECENT;
		if (g->nrecent < MIXGEN_RECENT)
			g->nrecent++;
		g->m->likes++;
		if (pd.item == 0)
			g->m->top_item_likes++;
	}
	return pd;
}

static int build(gen *g)
{
	const mixgen_opts *o = g->o;
	int rc = 0;
	for (uint64_t i = 0; i < o->ops && !rc; i++) {
		pend pd = draw(g, i);
		if (!g->touched[pd.item]) {
			g->touched[pd.item] = 1;
			g->m->distinct_items++;
		}
		unsigned e = (unsigned)(pd.user % MIXGEN_EDGES);
		uint32_t p = g->items.part[pd.item];
		slot *s = &g->slots[(size_t)e * o->partitions + p];
		s->v[s->n++] = pd;
		if (s->n == o->ops_per_batch)
			rc = seal(g, e, p);
	}
	for (unsigned e = 0; e < MIXGEN_EDGES && !rc; e++)
		for (uint32_t p = 0; p < o->partitions && !rc; p++)
			rc = seal(g, e, p);
	for (uint32_t p = 0; p < o->partitions; p++)
		if (g->part_sz[p] > g->m->max_part_bytes)
			g->m->max_part_bytes = g->part_sz[p];
	return rc;
}

int mixgen_build(const mixgen_opts *o, mixgen *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	const char *bad = check(o);
	if (bad) {
		snprintf(err, errlen, "%s", bad);
		return ERR_INVAL;
	}
	m->partitions = o->partitions;
	m->parts = xcalloc(o->partitions, sizeof *m->parts);
	gen *g = xcalloc(1, sizeof *g);
	g->o = o;
	g->m = m;
	g->rng = SEED;
	benchgen_items_init(&g->items, "post", o->items, o->partitions);
	benchgen_zipf_init(&g->zipf, o->items, ZIPF_S);
	size_t nslots = (size_t)MIXGEN_EDGES * o->partitions;
	g->slots = xcalloc(nslots, sizeof *g->slots);
	for (size_t i = 0; i < nslots; i++)
		g->slots[i].v = xmalloc((size_t)o->ops_per_batch * sizeof *g->slots[i].v);
	g->part_sz = xcalloc(o->partitions, sizeof *g->part_sz);
	g->touched = xcalloc(o->items, 1);
	g->ops = xcalloc(o->ops_per_batch, sizeof *g->ops);
	g->is_sum = xcalloc(o->ops_per_batch, sizeof *g->is_sum);
	g->users = xmalloc((size_t)o->ops_per_batch * BENCHGEN_USER_STRIDE);
	int rc = build(g);
	for (size_t i = 0; i < nslots; i++)
		free(g->slots[i].v);
	free(g->slots);
	free(g->part_sz);
	free(g->touched);
	free(g->ops);
	free(g->is_sum);
	free(g->users);
	benchgen_zipf_free(&g->zipf);
	benchgen_items_free(&g->items);
	free(g);
	if (rc) {
		snprintf(err, errlen, "a batch did not encode: %s", err_str(rc));
		mixgen_free(m);
	}
	return rc;
}

void mixgen_free(mixgen *m)
{
	benchgen_logs_free(m->parts, m->partitions);
	memset(m, 0, sizeof *m);
}
