/* test_mixgen.c - the change feed benchmarks' input (sim/bench/mixgen.c)
 * with small numbers: the same options give the same bytes; every batch
 * decodes, sits in its items' partition and follows its edge's last
 * sequence; the ops in the batches are the likes, unlikes and views
 * drawn, views added up per item; the top item is the most liked; bad
 * options are refused.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "sim/bench/mixgen.h"
#include "err.h"
#include "log.h"
#include "partition.h"
#include "wire.h"

static mixgen_opts opts(void)
{
	mixgen_opts o;
	mixgen_opts_default(&o);
	o.ops = 30000;
	o.items = 2000;
	o.users = 3000;
	o.partitions = 4;
	o.ops_per_batch = 250;
	return o;
}

static void build(const mixgen_opts *o, mixgen *m)
{
	char err[256] = "";
	int rc = mixgen_build(o, m, err, sizeof err);
	cr_assert_eq(rc, 0, "mixgen_build: %s (%s)", err_str(rc), err);
}

static void setup(void)
{
	log_threshold = LOG_ERROR;
}

TestSuite(mixgen, .init = setup, .timeout = 60);

Test(mixgen, the_same_options_build_the_same_bytes)
{
	mixgen_opts o = opts();
	mixgen a, b;
	build(&o, &a);
	build(&o, &b);
	cr_assert_eq(a.batches, b.batches);
	for (uint32_t p = 0; p < o.partitions; p++) {
		cr_assert_eq(a.parts[p].n, b.parts[p].n);
		for (size_t i = 0; i < a.parts[p].n; i++) {
			cr_assert_eq(a.parts[p].m[i].len, b.parts[p].m[i].len);
			cr_assert(
			    !memcmp(a.parts[p].m[i].buf, b.parts[p].m[i].buf, a.parts[p].m[i].len),
			    "partition %u batch %zu differs", p, i);
		}
	}
	mixgen_free(&a);
	mixgen_free(&b);
}

Test(mixgen, batches_decode_in_their_partition_and_sequence_and_add_up_to_the_mix)
{
	mixgen_opts o = opts();
	mixgen m;
	build(&o, &m);
	uint64_t adds = 0, removes = 0, viewed = 0, sums = 0, batches = 0, bytes = 0;
	uint64_t last_seq[MIXGEN_EDGES] = {0};
	for (uint32_t p = 0; p < o.partitions; p++) {
		memset(last_seq, 0, sizeof last_seq);
		for (size_t i = 0; i < m.parts[p].n; i++) {
			wire_batch b;
			int rc = wire_decode_batch(m.parts[p].m[i].buf, m.parts[p].m[i].len, &b);
			cr_assert_eq(rc, 0, "partition %u batch %zu: %s", p, i, err_str(rc));
			cr_assert_eq(b.partition, p);
			cr_assert_eq(b.edge.n, 2);
			unsigned e = (unsigned)(b.edge.p[1] - '0');
			cr_assert_lt(e, MIXGEN_EDGES);
			cr_assert_eq(b.seq, last_seq[e] + 1,
			             "partition %u edge e%u: seq %lu after %lu", p, e,
			             (unsigned long)b.seq, (unsigned long)last_seq[e]);
			last_seq[e] = b.seq;
			for (uint32_t j = 0; j < b.nops; j++) {
				const wire_op *op = &b.ops[j];
				cr_assert_eq(partition_of(op->item.p, op->item.n, o.partitions), p);
				cr_assert_eq(op->counter.n, 5);
				cr_assert(!memcmp(op->counter.p, "likes", 5));
				if (op->kind == WIRE_ADD)
					adds++;
				else
					removes++;
			}
			for (uint32_t j = 0; j < b.nsums; j++) {
				cr_assert_eq(
				    partition_of(b.sums[j].item.p, b.sums[j].item.n, o.partitions),
				    p);
				viewed += b.sums[j].n;
			}
			sums += b.nsums;
			batches++;
			bytes += m.parts[p].m[i].len;
			wire_batch_free(&b);
		}
	}
	cr_expect_eq(adds, m.likes);
	cr_expect_eq(removes, m.unlikes);
	cr_expect_eq(viewed, m.views);
	cr_expect_eq(sums, m.sums);
	cr_expect_eq(m.entries, m.likes + m.unlikes + m.sums);
	cr_expect_lt(m.sums, m.views, "views of one item in one batch are added up");
	cr_expect_eq(batches, m.batches);
	cr_expect_eq(bytes, m.wire_bytes);
	cr_expect_eq(m.likes + m.unlikes + m.views, o.ops);
	/* 30% views and 10% unlikes of 30,000 ops, give or take the draw. */
	cr_expect(m.views > 8000 && m.views < 10000, "views %lu", (unsigned long)m.views);
	cr_expect(m.unlikes > 2400 && m.unlikes < 3600, "unlikes %lu", (unsigned long)m.unlikes);
	cr_expect_leq(m.max_part_bytes, m.wire_bytes);
	cr_expect_geq(m.max_part_bytes * o.partitions, m.wire_bytes);
	mixgen_free(&m);
}

Test(mixgen, the_top_item_takes_the_largest_share_of_likes)
{
	mixgen_opts o = opts();
	mixgen m;
	build(&o, &m);
	/* Zipf 0.99 over 2,000 items: rank 0 has about 12% of the draws,
	 * far above a uniform 1 / 2000. */
	cr_expect_gt(m.top_item_likes * 20, m.likes, "post:0 has %lu of %lu likes",
	             (unsigned long)m.top_item_likes, (unsigned long)m.likes);
	cr_expect_lt(m.distinct_items, o.items + 1);
	mixgen_free(&m);
}

Test(mixgen, options_out_of_bounds_are_refused)
{
	mixgen m;
	char err[256];
	mixgen_opts o = opts();
	o.views_pct = 80;
	o.unlike_pct = 30;
	cr_expect_eq(mixgen_build(&o, &m, err, sizeof err), ERR_INVAL);
	cr_expect(strstr(err, "percent"), "%s", err);
	o = opts();
	o.ops = 0;
	cr_expect_eq(mixgen_build(&o, &m, err, sizeof err), ERR_INVAL);
	o = opts();
	o.users = 0;
	cr_expect_eq(mixgen_build(&o, &m, err, sizeof err), ERR_INVAL);
	o = opts();
	o.ops_per_batch = WIRE_MAX_OPS + 1;
	cr_expect_eq(mixgen_build(&o, &m, err, sizeof err), ERR_INVAL);
}
