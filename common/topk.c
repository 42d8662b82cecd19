/* topk.c - space-saving over two windows (topk.h).
 *
 * Owns two tables of k slots (current and last window), each with a
 * small open-addressing index from key to slot (linear probing, deletion
 * by shifting back, so no tombstones pile up as keys come and go) and a
 * min-heap of the slots by count, so the smallest is at hand when a new key arrives while the
 * table is full (a long tail of items makes that most adds): an add is
 * a hash lookup and O(log k) heap moves. Any thread, under the mutex.
 */
#include "topk.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "tsa.h"
#include "xmem.h"

typedef struct slot {
	char key[TOPK_KEY_MAX + 1];
	size_t len;
	uint64_t hash;
	uint64_t count, error;
} slot;

typedef struct table {
	slot *slots;
	size_t used;
	uint32_t *index; /* slot number + 1 per bucket, 0 = empty */
	size_t mask;     /* buckets - 1: a power of two at least 4k */
	uint32_t *heap;  /* slot numbers, smallest count first */
	uint32_t *pos;   /* each slot's place in heap */
} table;

struct topk {
	tsa_mutex mu;
	size_t k;
	uint64_t window_ms;
	uint64_t start; /* of the current window */
	table cur, last;
};

static void table_init(table *tb, size_t k)
{
	tb->slots = xcalloc(k, sizeof *tb->slots);
	tb->heap = xcalloc(k, sizeof *tb->heap);
	tb->pos = xcalloc(k, sizeof *tb->pos);
	tb->used = 0;
	size_t n = 8;
	while (n < 4 * k)
		n *= 2;
	tb->index = xcalloc(n, sizeof *tb->index);
	tb->mask = n - 1;
}

/* The bucket holding key, or the empty one where it would go. */
static size_t index_find(const table *tb, const char *key, size_t len, uint64_t h)
{
	size_t b = (size_t)h & tb->mask;
	for (;; b = (b + 1) & tb->mask) {
		uint32_t e = tb->index[b];
		if (!e)
			return b;
		const slot *s = &tb->slots[e - 1];
		if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
			return b;
	}
}

/* Empties bucket b and shifts back the entries that probed past it. */
static void index_del(table *tb, size_t b)
{
	tb->index[b] = 0;
	for (size_t j = (b + 1) & tb->mask; tb->index[j]; j = (j + 1) & tb->mask) {
		size_t home = (size_t)tb->slots[tb->index[j] - 1].hash & tb->mask;
		/* Move it to b unless its home lies cyclically in (b, j]. */
		bool stays = b < j ? (home > b && home <= j) : (home > b || home <= j);
		if (stays)
			continue;
		tb->index[b] = tb->index[j];
		tb->index[j] = 0;
		b = j;
	}
}

static void table_free(table *tb)
{
	free(tb->slots);
	free(tb->heap);
	free(tb->pos);
	free(tb->index);
}

static uint64_t count_at(const table *tb, size_t h)
{
	return tb->slots[tb->heap[h]].count;
}

static void heap_swap(table *tb, size_t a, size_t b)
{
	uint32_t t = tb->heap[a];
	tb->heap[a] = tb->heap[b];
	tb->heap[b] = t;
	tb->pos[tb->heap[a]] = (uint32_t)a;
	tb->pos[tb->heap[b]] = (uint32_t)b;
}

/* The slot at heap place h grew: move it down to where it belongs. */
static void sift_down(table *tb, size_t h)
{
	for (;;) {
		size_t l = 2 * h + 1, r = l + 1, m = h;
		if (l < tb->used && count_at(tb, l) < count_at(tb, m))
			m = l;
		if (r < tb->used && count_at(tb, r) < count_at(tb, m))
			m = r;
		if (m == h)
			return;
		heap_swap(tb, h, m);
		h = m;
	}
}

static void sift_up(table *tb, size_t h)
{
	while (h > 0 && count_at(tb, (h - 1) / 2) > count_at(tb, h)) {
		heap_swap(tb, h, (h - 1) / 2);
		h = (h - 1) / 2;
	}
}

static void table_clear(table *tb)
{
	tb->used = 0;
	memset(tb->index, 0, (tb->mask + 1) * sizeof *tb->index);
}

topk *topk_new(size_t k, uint64_t window_ms)
{
	topk *t = xcalloc(1, sizeof *t);
	pthread_mutex_init(&t->mu, NULL);
	t->k = k ? k : 1;
	t->window_ms = window_ms ? window_ms : 1;
	table_init(&t->cur, t->k);
	table_init(&t->last, t->k);
	return t;
}

void topk_free(topk *t)
{
	if (!t)
		return;
	table_free(&t->cur);
	table_free(&t->last);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* Moves the windows on to the one holding now. */
static void roll(topk *t, uint64_t now) TSA_REQUIRES(t->mu)
{
	if (t->start == 0) {
		t->start = now;
		return;
	}
	if (now < t->start + t->window_ms)
		return;
	table tmp = t->last;
	t->last = t->cur;
	t->cur = tmp;
	table_clear(&t->cur);
	if (now >= t->start + 2 * t->window_ms)
		table_clear(&t->last); /* a whole window passed with nothing */
	t->start = now - (now - t->start) % t->window_ms;
}

static void table_add(table *tb, size_t k, const char *key, size_t len, uint64_t n)
{
	uint64_t h = XXH3_64bits(key, len);
	size_t b = index_find(tb, key, len, h);
	if (tb->index[b]) {
		uint32_t at = tb->index[b] - 1;
		tb->slots[at].count += n;
		sift_down(tb, tb->pos[at]);
		return;
	}
	size_t i;
	uint64_t carried = 0;
	bool fresh = tb->used < k;
	if (fresh) {
		i = tb->used++;
		tb->heap[i] = (uint32_t)i;
		tb->pos[i] = (uint32_t)i;
	} else {
		i = tb->heap[0]; /* the smallest count gives way */
		carried = tb->slots[i].count;
		const slot *old = &tb->slots[i];
		index_del(tb, index_find(tb, old->key, old->len, old->hash));
		b = index_find(tb, key, len, h); /* the shift may have moved it */
	}
	slot *s = &tb->slots[i];
	memcpy(s->key, key, len);
	s->key[len] = 0;
	s->len = len;
	s->hash = h;
	s->count = carried + n;
	s->error = carried;
	tb->index[b] = (uint32_t)i + 1;
	if (fresh)
		sift_up(tb, tb->pos[i]);
	else
		sift_down(tb, 0);
}

void topk_add(topk *t, const char *key, size_t len, uint64_t n, uint64_t now_ms)
{
	if (len > TOPK_KEY_MAX)
		len = TOPK_KEY_MAX;
	tsa_lock(&t->mu);
	roll(t, now_ms);
	table_add(&t->cur, t->k, key, len, n);
	tsa_unlock(&t->mu);
}

static int by_rate(const void *a, const void *b)
{
	const topk_entry *x = a, *y = b;
	return x->rate < y->rate ? 1 : x->rate > y->rate ? -1 : strcmp(x->key, y->key);
}

size_t topk_list(topk *t, uint64_t now_ms, topk_entry *out, size_t max)
{
	tsa_lock(&t->mu);
	roll(t, now_ms);
	double into = (double)(now_ms - t->start) / (double)t->window_ms;
	double weight = into < 1 ? 1 - into : 0; /* of the last window still in range */
	size_t n = 0, cap = 2 * t->k;
	topk_entry *all = xcalloc(cap, sizeof *all);
	for (size_t i = 0; i < t->cur.used; i++) {
		const slot *s = &t->cur.slots[i];
		topk_entry *e = &all[n++];
		memcpy(e->key, s->key, s->len + 1);
		e->count = s->count;
		e->error = s->error;
		e->rate = (double)s->count;
		uint32_t lv = t->last.index[index_find(&t->last, s->key, s->len, s->hash)];
		if (lv)
			e->rate += weight * (double)t->last.slots[lv - 1].count;
	}
	for (size_t i = 0; i < t->last.used; i++) {
		const slot *s = &t->last.slots[i];
		if (t->cur.index[index_find(&t->cur, s->key, s->len, s->hash)])
			continue;
		topk_entry *e = &all[n++];
		memcpy(e->key, s->key, s->len + 1);
		e->rate = weight * (double)s->count;
		if (e->rate <= 0)
			n--;
	}
	tsa_unlock(&t->mu);
	qsort(all, n, sizeof *all, by_rate);
	if (n > max)
		n = max;
	memcpy(out, all, n * sizeof *out);
	free(all);
	return n;
}
