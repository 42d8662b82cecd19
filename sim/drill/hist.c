/* hist.c - log-linear latency histograms.
 *
 * Values below 32 us have a bucket each. From 32 up, each power of two
 * [2^e, 2^(e+1)) is cut into HIST_SUB equal buckets, so a bucket is at
 * most 1/16 (6.25%) of its lower bound wide. A quantile answers the upper
 * bound of the bucket it falls in (never below the true value), capped at
 * the exact maximum. Owns nothing outside the struct; not thread-safe.
 */
#include "sim/drill/hist.h"

#include <math.h>
#include <string.h>

/* log2 of HIST_SUB: the bits kept below a value's leading one. */
#define SUB_BITS 4
#define LINEAR_MAX (2 * HIST_SUB) /* values below this have exact buckets */

static unsigned bucket_of(uint64_t us)
{
	if (us < LINEAR_MAX)
		return (unsigned)us;
	unsigned e = 63u - (unsigned)__builtin_clzll(us); /* >= SUB_BITS + 1 */
	unsigned sub = (unsigned)(us >> (e - SUB_BITS)) & (HIST_SUB - 1);
	return (e - SUB_BITS + 1) * HIST_SUB + sub;
}

/* The largest value that falls in bucket i. */
static uint64_t bucket_upper(unsigned i)
{
	if (i < LINEAR_MAX)
		return i;
	unsigned e = i / HIST_SUB + SUB_BITS - 1;
	uint64_t sub = i % HIST_SUB;
	uint64_t shift = e - SUB_BITS;
	uint64_t next = (HIST_SUB + sub + 1) << shift; /* may wrap at e == 63 */
	return next == 0 ? UINT64_MAX : next - 1;
}

void hist_init(hist *h)
{
	memset(h, 0, sizeof *h);
}

void hist_add(hist *h, uint64_t us)
{
	h->b[bucket_of(us)]++;
	h->n++;
	if (us > h->max_us)
		h->max_us = us;
}

void hist_merge(hist *into, const hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
	into->n += from->n;
	if (from->max_us > into->max_us)
		into->max_us = from->max_us;
}

uint64_t hist_quantile(const hist *h, double q)
{
	if (h->n == 0)
		return 0;
	if (!(q > 0)) /* also NaN */
		q = 0;
	if (q > 1)
		q = 1;
	/* The rank of the wanted value, 1..n. */
	double r = ceil(q * (double)h->n);
	uint64_t rank = r < 1 ? 1 : (r >= (double)h->n ? h->n : (uint64_t)r);
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			uint64_t up = bucket_upper(i);
			return up < h->max_us ? up : h->max_us;
		}
	}
	return h->max_us;
}
