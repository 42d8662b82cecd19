/* hist.h - latency histograms: log-linear buckets (every power of two of
 * microseconds split into 16), so quantiles are within ~6% from 1 us to
 * over an hour, in fixed memory. Not thread-safe: one owner, or a lock.
 */
#ifndef SIM_HIST_H
#define SIM_HIST_H

#include <stdint.h>

#define HIST_SUB 16
#define HIST_BUCKETS (64 * HIST_SUB)

typedef struct hist {
	uint64_t n;
	uint64_t max_us;
	uint64_t b[HIST_BUCKETS];
} hist;

void hist_init(hist *h);
void hist_add(hist *h, uint64_t us);
void hist_merge(hist *into, const hist *from);
/* The q-quantile (0..1) in microseconds; 0 when empty. */
uint64_t hist_quantile(const hist *h, double q);

#endif
