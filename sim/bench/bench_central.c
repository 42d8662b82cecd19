/* bench_central.c - central's applier against a raw LevelDB
 * read-modify-write loop (bench_central.h).
 *
 * Owns, for one run: the generated wire batches (per partition, in the
 * order Kafka would hand them out), the temp dir with the two stores, and
 * the applier of the central run. Everything is freed and removed before
 * bench_central_run returns. Only the loops that touch the stores are
 * timed; building, decoding for the raw loop and checking are not.
 * One thread.
 */
#include "sim/bench/bench_central.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "central/apply/apply.h"
#include "central/apply/keys.h"
#include "central/apply/merge.h"
#include "sim/bench/benchgen.h"
#include "sim/bench/benchutil.h"
#include "clock.h"
#include "counter.h"
#include "hlc.h"
#include "partition.h"
#include "wire.h"
#include "xmem.h"

#define COUNTER "likes"
#define ZIPF_S 0.99                 /* skew of item popularity (YCSB's default) */
#define SEED UINT64_C(0x6c696b6573) /* fixed: every run builds the same likes */
/* 2025-01-01T00:00:00Z: the wall part of the first like's hlc. The likes
 * are 1 ms apart at most, so they span a few days at most. */
#define BASE_MS UINT64_C(1735689600000)
#define LIKES_PER_MS 1000

_Static_assert(BENCH_CENTRAL_EDGES <= BENCHGEN_EDGES, "each edge has its names");

/* One like waiting in its (edge, partition) batch. */
typedef struct pending {
	uint32_t item;
	uint64_t user;
	uint64_t hlc;
} pending;

typedef struct slot {
	pending *v;
	size_t n, cap;
	uint64_t seq; /* last sequence sealed */
} slot;

typedef struct gen {
	const bench_central_opts *o;
	benchgen_items items; /* "post:<rank>" */
	benchgen_zipf zipf;   /* item popularity */
	slot *slots;          /* edge * partitions + partition */
	benchgen_log *parts;  /* sealed batches per partition, in order */
	wire_op *ops;         /* scratch for sealing: ops_per_batch */
	char *users;          /* scratch: ops_per_batch * BENCHGEN_USER_STRIDE */
	uint64_t rng;
	uint64_t batches, wire_bytes;
	size_t max_per_part; /* the longest partition log */
} gen;

/* ---- helpers ------------------------------------------------------------- */

/* A set of nonzero 64-bit keys, open addressing: counts distinct pairs. */
typedef struct u64set {
	uint64_t *k;
	size_t cap, len;
} u64set;

static void u64set_init(u64set *s, uint64_t expect)
{
	s->cap = 16;
	while (s->cap < expect * 2)
		s->cap <<= 1;
	s->k = xcalloc(s->cap, sizeof *s->k);
	s->len = 0;
}

static void u64set_add(u64set *s, uint64_t key)
{
	uint64_t h = key;
	size_t i = (size_t)bench_splitmix(&h) & (s->cap - 1);
	while (s->k[i] && s->k[i] != key)
		i = (i + 1) & (s->cap - 1);
	if (!s->k[i]) {
		s->k[i] = key;
		s->len++;
	}
}

/* ---- building the batches ------------------------------------------------ */

static void gen_init(gen *g, const bench_central_opts *o)
{
	memset(g, 0, sizeof *g);
	g->o = o;
	g->rng = SEED;
	benchgen_items_init(&g->items, "post", o->items, o->partitions);
	benchgen_zipf_init(&g->zipf, o->items, ZIPF_S);
	g->slots = xcalloc((size_t)BENCH_CENTRAL_EDGES * o->partitions, sizeof *g->slots);
	g->parts = xcalloc(o->partitions, sizeof *g->parts);
	g->ops = xcalloc(o->ops_per_batch, sizeof *g->ops);
	g->users = xmalloc((size_t)o->ops_per_batch * BENCHGEN_USER_STRIDE);
}

static void gen_free(gen *g)
{
	benchgen_items_free(&g->items);
	benchgen_zipf_free(&g->zipf);
	if (g->slots)
		for (size_t i = 0; i < (size_t)BENCH_CENTRAL_EDGES * g->o->partitions; i++)
			free(g->slots[i].v);
	free(g->slots);
	if (g->parts)
		benchgen_logs_free(g->parts, g->o->partitions);
	free(g->ops);
	free(g->users);
	memset(g, 0, sizeof *g);
}

/* Encodes the likes waiting in (e, p) as the next batch of p's log. */
static int seal(gen *g, unsigned e, uint32_t p)
{
	slot *s = &g->slots[(size_t)e * g->o->partitions + p];
	if (!s->n)
		return 0;
	for (size_t j = 0; j < s->n; j++) {
		const pending *pd = &s->v[j];
		g->ops[j] = (wire_op){
		    .counter = wire_cstr(COUNTER, strlen(COUNTER)),
		    .item = benchgen_item(&g->items, pd->item),
		    .user = benchgen_user(g->users + j * BENCHGEN_USER_STRIDE, pd->user),
		    .kind = WIRE_ADD,
		    .n = 1,
		    .hlc = pd->hlc,
		};
		/* A user's home is one region for all their likes, whichever
		 * edge took them. */
		if (g->o->homes)
			g->ops[j].home =
			    benchgen_region((unsigned)(pd->user % BENCH_CENTRAL_EDGES));
	}
	wire_batch b = benchgen_batch(e, p, s->seq + 1, hlc_ms(s->v[s->n - 1].hlc));
	b.nops = (uint32_t)s->n;
	b.ops = g->ops;
	benchgen_msg m;
	int rc = wire_encode_batch(&b, &m.buf, &m.len);
	if (rc)
		return rc;
	s->seq++;
	s->n = 0;
	benchgen_log_push(&g->parts[p], m, &g->max_per_part);
	g->batches++;
	g->wire_bytes += m.len;
	return 0;
}

/* Draws every like, counts the distinct pairs and seals the batches. */
static int gen_build(gen *g, uint64_t *distinct)
{
	const bench_central_opts *o = g->o;
	u64set seen = {0};
	if (o->users)
		u64set_init(&seen, o->ops < 1u << 16 ? o->ops : 1u << 16);
	int rc = 0;
	for (uint64_t i = 0; i < o->ops && !rc; i++) {
		uint32_t item = benchgen_zipf_draw(&g->zipf, &g->rng);
		uint64_t user = o->users ? i % o->users : i;
		unsigned e = (unsigned)(user % BENCH_CENTRAL_EDGES);
		uint32_t p = g->items.part[item];
		if (o->users) {
			if (seen.len * 2 >= seen.cap) {
				u64set bigger;
				u64set_init(&bigger, seen.cap);
				for (size_t j = 0; j < seen.cap; j++)
					if (seen.k[j])
						u64set_add(&bigger, seen.k[j]);
				free(seen.k);
				seen = bigger;
			}
			/* user < 2^30 and item < 2^24: the pair fits, never 0. */
			u64set_add(&seen, ((uint64_t)item << 32 | user) + 1);
		}
		slot *s = &g->slots[(size_t)e * o->partitions + p];
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			if (s->cap > o->ops_per_batch)
				s->cap = o->ops_per_batch;
			s->v = xrealloc(s->v, s->cap * sizeof *s->v);
		}
		s->v[s->n++] =
		    (pending){item, user, hlc_make(BASE_MS + i / LIKES_PER_MS, i % LIKES_PER_MS)};
		if (s->n == o->ops_per_batch)
			rc = seal(g, e, p);
	}
	for (unsigned e = 0; e < BENCH_CENTRAL_EDGES && !rc; e++)
		for (uint32_t p = 0; p < o->partitions && !rc; p++)
			rc = seal(g, e, p);
	*distinct = o->users ? seen.len : o->ops;
	free(seen.k);
	return rc;
}

/* ---- the runs ------------------------------------------------------------ */

int bench_central_total(store *db, const char *counter, uint64_t *total)
{
	unsigned char pre[CKEY_MAX];
	size_t cn = strlen(counter);
	if (cn > COUNTER_MAX)
		return ERR_INVAL;
	size_t pn = ckey_count(pre, counter, cn, "", 0);
	store_iter *it = store_iter_new(db, pre, pn);
	const char *k, *v;
	size_t kn, vn;
	uint64_t sum = 0;
	int rc = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		if (vn != 8) {
			rc = ERR_CORRUPT;
			break;
		}
		sum += store_get_u64((const unsigned char *)v);
	}
	int irc = store_iter_status(it);
	store_iter_free(it);
	if (!rc)
		rc = irc;
	if (!rc)
		*total = sum;
	return rc;
}

void bench_central_store_opts(store_opts *so)
{
	store_opts_default(so);
}

/* A printable form of count key k (tag dropped, 0 shown as '/'). */
static void name_key(char *out, size_t outlen, const char *k, size_t kn)
{
	size_t n = 0;
	for (size_t i = 1; i < kn && n + 2 < outlen; i++)
		out[n++] = k[i] ? k[i] : '/';
	out[n] = 0;
}

int bench_central_compare(store *a, store *b, const char *counter, uint64_t *n, char *err,
                          size_t errlen)
{
	unsigned char pre[CKEY_MAX];
	size_t cn = strlen(counter);
	if (cn > COUNTER_MAX)
		return ERR_INVAL;
	size_t pn = ckey_count(pre, counter, cn, "", 0);
	store_iter *ia = store_iter_new(a, pre, pn);
	store_iter *ib = store_iter_new(b, pre, pn);
	const char *ka, *va, *kb, *vb;
	size_t kan, van, kbn, vbn;
	uint64_t seen = 0;
	int rc = 0;
	char name[128];
	for (;;) {
		bool ha = store_iter_next(ia, &ka, &kan, &va, &van);
		bool hb = store_iter_next(ib, &kb, &kbn, &vb, &vbn);
		if (!ha && !hb)
			break;
		if (!ha || !hb || kan != kbn || memcmp(ka, kb, kan) != 0) {
			if (ha)
				name_key(name, sizeof name, ka, kan);
			else
				name_key(name, sizeof name, kb, kbn);
			snprintf(err, errlen, "the stores hold different count keys near %s (%s)",
			         name, ha ? "first store" : "second store");
			rc = ERR_CORRUPT;
			break;
		}
		if (van != 8 || vbn != 8 || memcmp(va, vb, 8) != 0) {
			name_key(name, sizeof name, ka, kan);
			snprintf(err, errlen, "count %s differs: %" PRIu64 " against %" PRIu64,
			         name, van == 8 ? store_get_u64((const unsigned char *)va) : 0,
			         vbn == 8 ? store_get_u64((const unsigned char *)vb) : 0);
			rc = ERR_CORRUPT;
			break;
		}
		seen++;
	}
	int sa = store_iter_status(ia), sb = store_iter_status(ib);
	store_iter_free(ia);
	store_iter_free(ib);
	if (!rc && (sa || sb)) {
		snprintf(err, errlen, "walking the count keys failed");
		rc = sa ? sa : sb;
	}
	if (!rc)
		*n = seen;
	return rc;
}

static int run_central(const gen *g, const char *dir, bench_central_result *r, char *err,
                       size_t errlen)
{
	const bench_central_opts *o = g->o;
	counters ctr = {0};
	applier *a = NULL;
	int rc = counters_parse(&ctr, COUNTER, "views", err, errlen);
	if (rc)
		return rc;
	store *db = store_open_dir(dir, &r->store, err, errlen);
	if (!db) {
		rc = ERR_IO;
		goto out;
	}
	a = applier_new(db, o->partitions, &ctr, err, errlen);
	if (!a) {
		rc = ERR_IO;
		goto out;
	}
	benchgen_feed f = {0};
	if (o->feed)
		benchgen_feed_on(&f, a, g->parts, o->partitions, 1);
	rc = benchgen_apply_rounds(a, g->parts, o->partitions, g->max_per_part,
	                           o->feed ? benchgen_feed_round : NULL, &f, &r->central_s,
	                           &r->central_cpu_s);
	benchgen_feed_free(&f);
	applier_stats st;
	applier_get_stats(a, &st);
	r->central_store_writes = st.store_writes;
	r->feed_events = st.feed_events;
	if (!rc && o->feed && !st.feed_events) {
		snprintf(err, errlen, "central: the feed on, and no event stored");
		rc = ERR_CORRUPT;
		goto out;
	}
	if (rc) {
		snprintf(err, errlen, "central: apply failed: %s", err_str(rc));
		goto out;
	}
	r->central_ops_per_s = r->central_s > 0 ? (double)o->ops / r->central_s : 0;
	if (st.batches_applied != g->batches || st.ops_applied != o->ops || st.ops_invalid ||
	    st.batches_bad || st.batches_held || st.batches_duplicate) {
		snprintf(err, errlen,
		         "central: applier stats disagree with the input: batches_applied=%" PRIu64
		         "/%" PRIu64 " ops_applied=%" PRIu64 "/%" PRIu64 " invalid=%" PRIu64
		         " bad=%" PRIu64 " held=%" PRIu64 " duplicate=%" PRIu64,
		         st.batches_applied, g->batches, st.ops_applied, o->ops, st.ops_invalid,
		         st.batches_bad, st.batches_held, st.batches_duplicate);
		rc = ERR_CORRUPT;
		goto out;
	}
	rc = bench_central_total(db, COUNTER, &r->central_total);
	if (rc) {
		snprintf(err, errlen, "central: reading the counts: %s", err_str(rc));
		goto out;
	}
	if (r->central_total != r->distinct_pairs) {
		snprintf(err, errlen,
		         "central: counts add up to %" PRIu64 ", not the %" PRIu64
		         " distinct (item, user) pairs",
		         r->central_total, r->distinct_pairs);
		rc = ERR_CORRUPT;
	}
out:
	applier_free(a);
	store_close(db);
	counters_free(&ctr);
	return rc;
}

/* The naive design's work for one like: read the membership; when it is
 * new, read the count and write both, one store write per like. */
static int raw_like(store *db, store_batch *wb, const wire_batch *b, const wire_op *op,
                    uint64_t *writes)
{
	unsigned char key[CKEY_MAX];
	size_t kn = ckey_state(key, op->counter.p, op->counter.n, op->item.p, op->item.n,
	                       op->user.p, op->user.n);
	char *val;
	size_t vn;
	int rc = store_get(db, key, kn, &val, &vn);
	if (rc == 0) {
		free(val);
		return 0;
	}
	if (rc != ERR_NOTFOUND)
		return rc;
	/* Central's value encoding, so both stores hold the same bytes. */
	merge_state st = {.present = true, .hlc = op->hlc};
	st.edge_len = (uint8_t)b->edge.n;
	memcpy(st.edge, b->edge.p, b->edge.n);
	st.region_len = (uint8_t)b->region.n;
	memcpy(st.region, b->region.p, b->region.n);
	unsigned char sv[MERGE_STATE_MAX];
	store_batch_clear(wb);
	store_batch_put(wb, key, kn, sv, merge_state_encode(&st, sv));

	kn = ckey_count(key, op->counter.p, op->counter.n, op->item.p, op->item.n);
	uint64_t count = 0;
	rc = store_read_u64(db, key, kn, &count);
	if (rc && rc != ERR_NOTFOUND)
		return rc;
	unsigned char cv[8];
	store_put_u64(cv, rc == ERR_NOTFOUND ? 1 : count + 1);
	store_batch_put(wb, key, kn, cv, 8);
	rc = store_write(db, wb);
	if (rc == 0)
		(*writes)++;
	return rc;
}

static int run_raw(const gen *g, const char *dir, bench_central_result *r, char *err, size_t errlen)
{
	const bench_central_opts *o = g->o;
	store *db = store_open_dir(dir, &r->store, err, errlen);
	if (!db)
		return ERR_IO;
	store_batch *wb = store_batch_new();
	int rc = 0;
	double spent = 0, cpu = 0;
	/* Decoding is untimed: the loop measures what the store costs. */
	for (size_t i = 0; i < g->max_per_part && !rc; i++)
		for (uint32_t p = 0; p < o->partitions && !rc; p++) {
			const benchgen_log *pl = &g->parts[p];
			if (i >= pl->n)
				continue;
			wire_batch b;
			rc = wire_decode_batch(pl->m[i].buf, pl->m[i].len, &b);
			if (rc) {
				snprintf(err, errlen, "raw: a built batch does not decode: %s",
				         err_str(rc));
				break;
			}
			double t0 = clock_mono_s(), c0 = bench_thread_cpu_s();
			for (uint32_t j = 0; j < b.nops && !rc; j++)
				rc = raw_like(db, wb, &b, &b.ops[j], &r->raw_store_writes);
			spent += clock_mono_s() - t0;
			cpu += bench_thread_cpu_s() - c0;
			wire_batch_free(&b);
			if (rc)
				snprintf(err, errlen, "raw: store failed: %s", err_str(rc));
		}
	r->raw_s = spent;
	r->raw_cpu_s = cpu;
	if (!rc) {
		r->raw_ops_per_s = spent > 0 ? (double)o->ops / spent : 0;
		rc = bench_central_total(db, COUNTER, &r->raw_total);
		if (rc)
			snprintf(err, errlen, "raw: reading the counts: %s", err_str(rc));
	}
	if (!rc && r->raw_total != r->distinct_pairs) {
		snprintf(err, errlen,
		         "raw: counts add up to %" PRIu64 ", not the %" PRIu64
		         " distinct (item, user) pairs",
		         r->raw_total, r->distinct_pairs);
		rc = ERR_CORRUPT;
	}
	store_batch_free(wb);
	store_close(db);
	return rc;
}

/* Reopens both stores (untimed) and checks that every count agrees. */
static int compare_runs(const char *cdir, const char *rdir, bench_central_result *r, char *err,
                        size_t errlen)
{
	store *c = store_open_dir(cdir, &r->store, err, errlen);
	if (!c)
		return ERR_IO;
	store *w = store_open_dir(rdir, &r->store, err, errlen);
	if (!w) {
		store_close(c);
		return ERR_IO;
	}
	char why[400] = "";
	int rc = bench_central_compare(c, w, COUNTER, &r->counts_compared, why, sizeof why);
	if (rc)
		snprintf(err, errlen, "central and raw disagree: %s", why);
	store_close(w);
	store_close(c);
	return rc;
}

/* ---- entry points -------------------------------------------------------- */

void bench_central_opts_default(bench_central_opts *o)
{
	*o = (bench_central_opts){
	    .ops = 1000000,
	    .items = 100000,
	    .users = 0,
	    .ops_per_batch = 1000,
	    .partitions = 16,
	    .dir = "/tmp",
	};
}

static int check_opts(const bench_central_opts *o, char *err, size_t errlen)
{
	const char *bad = NULL;
	if (o->ops < 1 || o->ops > BENCH_CENTRAL_OPS_MAX)
		bad = "ops outside 1..1000000000";
	else if (o->items < 1 || o->items > BENCH_CENTRAL_ITEMS_MAX)
		bad = "items outside 1..10000000";
	else if (o->users > o->ops)
		bad = "users above ops";
	else if (o->ops_per_batch < 1 || o->ops_per_batch > WIRE_MAX_OPS)
		bad = "ops per batch outside 1..100000";
	else if (o->partitions < 1 || o->partitions > PARTITION_MAX)
		bad = "partitions outside 1..4096";
	else if (!o->dir || !o->dir[0] || strlen(o->dir) > 3500)
		bad = "no directory, or a path too long";
	if (!bad)
		return 0;
	snprintf(err, errlen, "%s", bad);
	return ERR_INVAL;
}

int bench_central_run(const bench_central_opts *o, bench_central_result *r, char *err,
                      size_t errlen)
{
	memset(r, 0, sizeof *r);
	int rc = check_opts(o, err, errlen);
	if (rc)
		return rc;
	r->ops = o->ops;
	r->homes = o->homes;
	r->feed = o->feed;
	bench_central_store_opts(&r->store);
	char tmp[4096], sub[4200], sub2[4200];
	snprintf(tmp, sizeof tmp, "%s/bench-central.XXXXXX", o->dir);
	if (!mkdtemp(tmp)) {
		snprintf(err, errlen, "mkdtemp %s: %s", tmp, strerror(errno));
		return ERR_IO;
	}
	gen g;
	gen_init(&g, o);
	rc = gen_build(&g, &r->distinct_pairs);
	r->batches = g.batches;
	r->wire_bytes = g.wire_bytes;
	if (rc) {
		snprintf(err, errlen, "building the batches: %s", err_str(rc));
		goto out;
	}
	snprintf(sub, sizeof sub, "%s/central", tmp);
	rc = run_central(&g, sub, r, err, errlen);
	if (rc)
		goto out;
	snprintf(sub2, sizeof sub2, "%s/raw", tmp);
	rc = run_raw(&g, sub2, r, err, errlen);
	if (!rc)
		rc = compare_runs(sub, sub2, r, err, errlen);
out:
	gen_free(&g);
	bench_rmtree(tmp);
	return rc;
}

void bench_central_print_table(FILE *f, const bench_central_result *r)
{
	fprintf(f,
	        "bench-central: %" PRIu64 " likes, %" PRIu64 " distinct (item, user), %" PRIu64
	        " batches (%.1f MB on the wire), %s, ",
	        r->ops, r->distinct_pairs, r->batches, (double)r->wire_bytes / 1e6,
	        r->homes ? "homes named (central indexes them)" : "no homes");
	if (r->feed)
		fprintf(f, "change feed on (%" PRIu64 " events stored and dropped)\n",
		        r->feed_events);
	else
		fprintf(f, "change feed off\n");
	fprintf(f, "%-8s %12s %10s %14s %10s %14s\n", "run", "ops", "seconds", "ops/s", "cpu s",
	        "store writes");
	fprintf(f, "%-8s %12" PRIu64 " %10.3f %14.0f %10.3f %14" PRIu64 "\n", "central", r->ops,
	        r->central_s, r->central_ops_per_s, r->central_cpu_s, r->central_store_writes);
	fprintf(f, "%-8s %12" PRIu64 " %10.3f %14.0f %10.3f %14" PRIu64 "\n", "raw", r->ops,
	        r->raw_s, r->raw_ops_per_s, r->raw_cpu_s, r->raw_store_writes);
	fprintf(f,
	        "central/raw: %.2fx by wall time, %.2fx by the loop thread's CPU time (%" PRIu64
	        " counts equal in both stores)\n",
	        r->raw_ops_per_s > 0 ? r->central_ops_per_s / r->raw_ops_per_s : 0,
	        r->central_cpu_s > 0 ? r->raw_cpu_s / r->central_cpu_s : 0, r->counts_compared);
	fprintf(f,
	        "both stores: block cache %zu MiB, bloom %d bits/key, write buffer %zu MiB, "
	        "sync %s\n",
	        r->store.cache_bytes >> 20, r->store.bloom_bits, r->store.write_buffer >> 20,
	        r->store.sync ? "on" : "off");
}

void bench_central_print_json(FILE *f, const bench_central_result *r)
{
	double ratio = r->raw_ops_per_s > 0 ? r->central_ops_per_s / r->raw_ops_per_s : 0;
	double per_1m = r->ops ? (double)r->central_store_writes * 1e6 / (double)r->ops : 0;
	double cpu_ratio = r->central_cpu_s > 0 ? r->raw_cpu_s / r->central_cpu_s : 0;
	fprintf(f,
	        "{\"ops\":%" PRIu64 ",\"central_ops_per_s\":%.1f,\"raw_ops_per_s\":%.1f,"
	        "\"central_vs_raw_leveldb\":%.3f,\"central_store_writes\":%" PRIu64
	        ",\"store_writes_per_1m_likes\":%.1f,\"raw_store_writes\":%" PRIu64
	        ",\"central_seconds\":%.3f,\"raw_seconds\":%.3f,\"central_cpu_seconds\":%.3f,"
	        "\"raw_cpu_seconds\":%.3f,\"central_vs_raw_cpu\":%.3f,\"distinct_pairs\":%" PRIu64
	        ",\"batches\":%" PRIu64 ",\"counts_compared\":%" PRIu64
	        ",\"store_cache_mb\":%zu,\"store_bloom_bits\":%d,\"store_write_buffer_mb\":%zu,"
	        "\"homes\":%s,\"feed\":%s,\"feed_events\":%" PRIu64 "}\n",
	        r->ops, r->central_ops_per_s, r->raw_ops_per_s, ratio, r->central_store_writes,
	        per_1m, r->raw_store_writes, r->central_s, r->raw_s, r->central_cpu_s, r->raw_cpu_s,
	        cpu_ratio, r->distinct_pairs, r->batches, r->counts_compared,
	        r->store.cache_bytes >> 20, r->store.bloom_bits, r->store.write_buffer >> 20,
	        r->homes ? "true" : "false", r->feed ? "true" : "false", r->feed_events);
}
