/* bench_feed.c - the applier with the change feed on against off
 * (bench_feed.h).
 *
 * Owns, for one run: the built input (mixgen), the temp dir with each
 * round's two stores, and the applier of each replay. Everything is freed
 * and removed before bench_feed_run returns. One thread.
 */
#include "sim/bench/bench_feed.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "central/apply/apply.h"
#include "sim/bench/bench_central.h"
#include "sim/bench/benchgen.h"
#include "sim/bench/benchutil.h"
#include "counter.h"
#include "store.h"

void bench_feed_opts_default(bench_feed_opts *o)
{
	mixgen_opts_default(&o->load);
	o->rounds = 3;
	o->trim_every = 1;
	o->dir = "/tmp";
}

/* One replay into a new store at dir, left open in *db. */
static int replay(const bench_feed_opts *o, const mixgen *load, const counters *ctr, bool feed,
                  const char *dir, store **db, bench_feed_side *side, char *err, size_t errlen)
{
	store_opts so;
	bench_central_store_opts(&so);
	*db = store_open_dir(dir, &so, err, errlen);
	if (!*db)
		return ERR_IO;
	applier *a = applier_new(*db, load->partitions, ctr, err, errlen);
	if (!a)
		return ERR_IO;
	benchgen_feed f = {0};
	if (feed)
		benchgen_feed_on(&f, a, load->parts, load->partitions, o->trim_every);
	int rc =
	    benchgen_apply_rounds(a, load->parts, load->partitions, load->longest,
	                          feed ? benchgen_feed_round : NULL, &f, &side->s, &side->cpu_s);
	benchgen_feed_free(&f);
	applier_stats st;
	applier_get_stats(a, &st);
	applier_free(a);
	side->events = st.feed_events;
	side->store_writes = st.store_writes;
	if (rc) {
		snprintf(err, errlen, "feed %s: apply failed: %s", feed ? "on" : "off",
		         err_str(rc));
		return rc;
	}
	if (st.batches_applied != load->batches || st.ops_applied != load->entries ||
	    st.ops_invalid || st.batches_bad || st.batches_held || st.batches_duplicate) {
		snprintf(err, errlen,
		         "feed %s: applier stats disagree with the input: batches %" PRIu64
		         "/%" PRIu64 " entries %" PRIu64 "/%" PRIu64 " invalid %" PRIu64,
		         feed ? "on" : "off", st.batches_applied, load->batches, st.ops_applied,
		         load->entries, st.ops_invalid);
		return ERR_CORRUPT;
	}
	if (feed ? !st.feed_events : st.feed_events != 0) {
		snprintf(err, errlen, "feed %s: %" PRIu64 " events stored", feed ? "on" : "off",
		         st.feed_events);
		return ERR_CORRUPT;
	}
	return 0;
}

/* One round: both replays, in the order given, then their counts
 * compared. */
static int round_pair(const bench_feed_opts *o, const mixgen *load, const counters *ctr,
                      const char *root, uint32_t r, bench_feed_result *res, char *err,
                      size_t errlen)
{
	char dirs[2][4200];
	store *db[2] = {NULL, NULL}; /* [0] off, [1] on */
	bench_feed_side *sides[2] = {&res->off[r], &res->on[r]};
	int rc = 0;
	for (int k = 0; k < 2; k++)
		snprintf(dirs[k], sizeof dirs[k], "%s/r%u-%s", root, r, k ? "on" : "off");
	for (int j = 0; j < 2 && !rc; j++) {
		int k = r % 2 ? 1 - j : j; /* odd rounds: on first */
		rc = replay(o, load, ctr, k == 1, dirs[k], &db[k], sides[k], err, errlen);
	}
	const char *names[2] = {"likes", "views"};
	uint64_t compared = 0;
	for (int c = 0; c < 2 && !rc; c++) {
		uint64_t n = 0;
		char why[400] = "";
		rc = bench_central_compare(db[0], db[1], names[c], &n, why, sizeof why);
		if (rc)
			snprintf(err, errlen, "round %u: the feed changed the %s counts: %s", r + 1,
			         names[c], why);
		compared += n;
	}
	res->counts_compared = compared;
	for (int k = 0; k < 2; k++) {
		if (db[k])
			store_close(db[k]);
		bench_rmtree(dirs[k]);
	}
	return rc;
}

static int by_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, by_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void summarise(bench_feed_result *r)
{
	double off[BENCH_FEED_ROUNDS_MAX], on[BENCH_FEED_ROUNDS_MAX];
	double offc[BENCH_FEED_ROUNDS_MAX], onc[BENCH_FEED_ROUNDS_MAX];
	uint64_t ops = r->load.likes + r->load.unlikes + r->load.views;
	for (uint32_t i = 0; i < r->rounds; i++) {
		off[i] = r->off[i].s > 0 ? (double)ops / r->off[i].s : 0;
		on[i] = r->on[i].s > 0 ? (double)ops / r->on[i].s : 0;
		offc[i] = r->off[i].cpu_s;
		onc[i] = r->on[i].cpu_s;
	}
	r->off_ops_per_s = median(off, r->rounds);
	r->on_ops_per_s = median(on, r->rounds);
	r->on_vs_off = r->off_ops_per_s > 0 ? r->on_ops_per_s / r->off_ops_per_s : 0;
	double mc = median(onc, r->rounds);
	r->on_vs_off_cpu = mc > 0 ? median(offc, r->rounds) / mc : 0;
}

int bench_feed_run(const bench_feed_opts *o, bench_feed_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	if (o->rounds < 1 || o->rounds > BENCH_FEED_ROUNDS_MAX || !o->dir || !o->dir[0] ||
	    strlen(o->dir) > 3500) {
		snprintf(err, errlen, "rounds outside 1..%d, or no directory",
		         BENCH_FEED_ROUNDS_MAX);
		return ERR_INVAL;
	}
	int rc = mixgen_build(&o->load, &r->load, err, errlen);
	if (rc)
		return rc;
	char root[4096];
	snprintf(root, sizeof root, "%s/bench-feed.XXXXXX", o->dir);
	if (!mkdtemp(root)) {
		snprintf(err, errlen, "mkdtemp %s: %s", root, strerror(errno));
		mixgen_free(&r->load);
		return ERR_IO;
	}
	counters ctr = {0};
	rc = counters_parse(&ctr, "likes", "views", err, errlen);
	for (uint32_t i = 0; i < o->rounds && !rc; i++) {
		rc = round_pair(o, &r->load, &ctr, root, i, r, err, errlen);
		if (!rc)
			r->rounds = i + 1;
	}
	for (uint32_t i = 1; i < r->rounds && !rc; i++)
		if (r->on[i].events != r->on[0].events) {
			snprintf(err, errlen,
			         "round %u made %" PRIu64 " events, round 1 %" PRIu64
			         ": the same input should make the same events",
			         i + 1, r->on[i].events, r->on[0].events);
			rc = ERR_CORRUPT;
		}
	if (r->rounds)
		summarise(r);
	counters_free(&ctr);
	bench_rmtree(root);
	/* The figures stay; the messages go. */
	benchgen_logs_free(r->load.parts, r->load.partitions);
	r->load.parts = NULL;
	return rc;
}

void bench_feed_print(FILE *f, const bench_feed_opts *o, const bench_feed_result *r, bool json)
{
	const mixgen *m = &r->load;
	uint64_t ops = m->likes + m->unlikes + m->views;
	uint64_t events = r->rounds ? r->on[0].events : 0;
	if (json) {
		fprintf(f,
		        "{\"ops\":%" PRIu64 ",\"likes\":%" PRIu64 ",\"unlikes\":%" PRIu64
		        ",\"views\":%" PRIu64 ",\"batches\":%" PRIu64 ",\"wire_bytes\":%" PRIu64
		        ",\"events\":%" PRIu64 ",\"rounds\":%u,\"trim_every\":%u,"
		        "\"off_ops_per_s\":%.1f,\"on_ops_per_s\":%.1f,"
		        "\"central_apply_feed_on_vs_off\":%.3f,"
		        "\"central_apply_feed_on_vs_off_cpu\":%.3f,\"off_seconds\":[",
		        ops, m->likes, m->unlikes, m->views, m->batches, m->wire_bytes, events,
		        r->rounds, o->trim_every, r->off_ops_per_s, r->on_ops_per_s, r->on_vs_off,
		        r->on_vs_off_cpu);
		for (uint32_t i = 0; i < r->rounds; i++)
			fprintf(f, "%s%.3f", i ? "," : "", r->off[i].s);
		fprintf(f, "],\"on_seconds\":[");
		for (uint32_t i = 0; i < r->rounds; i++)
			fprintf(f, "%s%.3f", i ? "," : "", r->on[i].s);
		fprintf(f, "],\"counts_compared\":%" PRIu64 "}\n", r->counts_compared);
		return;
	}
	fprintf(f,
	        "bench-feed: %" PRIu64 " ops (%" PRIu64 " likes, %" PRIu64 " unlikes, %" PRIu64
	        " views) over %u items, %" PRIu64 " batches (%.1f MB); %" PRIu64
	        " feed events a run\n",
	        ops, m->likes, m->unlikes, m->views, o->load.items, m->batches,
	        (double)m->wire_bytes / 1e6, events);
	fprintf(f, "  %-6s %-5s %10s %12s %10s %14s\n", "round", "feed", "seconds", "ops/s",
	        "cpu s", "store writes");
	for (uint32_t i = 0; i < r->rounds; i++)
		for (int j = 0; j < 2; j++) {
			bool on = i % 2 ? j == 0 : j == 1;
			const bench_feed_side *s = on ? &r->on[i] : &r->off[i];
			fprintf(f, "  %-6u %-5s %10.3f %12.0f %10.3f %14" PRIu64 "\n", i + 1,
			        on ? "on" : "off", s->s, s->s > 0 ? (double)ops / s->s : 0,
			        s->cpu_s, s->store_writes);
		}
	fprintf(f,
	        "  medians: off %.0f ops/s, on %.0f ops/s; on/off %.3f by wall time, %.3f by the "
	        "loop thread's CPU time\n",
	        r->off_ops_per_s, r->on_ops_per_s, r->on_vs_off, r->on_vs_off_cpu);
	fprintf(f,
	        "  on: records dropped %s; %" PRIu64
	        " likes and views counts equal in both stores\n",
	        o->trim_every ? "every round of messages (as the publisher would)" : "never",
	        r->counts_compared);
}
