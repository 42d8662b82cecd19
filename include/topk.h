/* topk.h - the fastest-moving keys: a bounded space-saving sketch over a
 * sliding window.
 *
 * Keeps k counters. A key already counted adds to its counter; a new key
 * takes a free counter or, when all are taken, the smallest one (its
 * count carried over as the new key's possible error). Any key whose
 * true count in the window exceeds total/k is guaranteed to be kept, and
 * a kept key's count overstates its true count by at most its error.
 *
 * Two windows of window_ms each: the current one and the last. A listing
 * ranks keys by a rate estimate, the current count plus the last one's
 * weighted by how much of it still lies inside one window length back,
 * so a key that has just started to move shows within seconds and one
 * that stopped fades out over two windows.
 *
 * Thread-safe (one mutex); memory is fixed by k.
 */
#ifndef LIKES_TOPK_H
#define LIKES_TOPK_H

#include <stddef.h>
#include <stdint.h>

#define TOPK_KEY_MAX 160

typedef struct topk topk;

typedef struct topk_entry {
	char key[TOPK_KEY_MAX + 1];
	double rate;    /* estimated count over the last window_ms */
	uint64_t count; /* counted in the current window */
	uint64_t error; /* of which at most this much may belong to others */
} topk_entry;

topk *topk_new(size_t k, uint64_t window_ms);
void topk_free(topk *t);
/* Adds n to key (longer keys are cut at TOPK_KEY_MAX). now_ms is
 * monotonic. */
void topk_add(topk *t, const char *key, size_t len, uint64_t n, uint64_t now_ms);
/* Up to max entries, highest rate first. Returns how many. */
size_t topk_list(topk *t, uint64_t now_ms, topk_entry *out, size_t max);

#endif
