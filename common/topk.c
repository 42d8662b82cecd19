/* topk.c - space-saving over two windows (topk.h).
 *
 * Owns two tables of k slots (current and last window), each with an
 * smap from key to slot index for lookups. Finding the smallest slot is a
 * scan of k: k is small (tens to a few hundred) and the scan runs only
 * when a new key arrives while the table is full. Any thread, under the
 * mutex.
 */
#include "topk.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "smap.h"
#include "xmem.h"

typedef struct slot {
	char key[TOPK_KEY_MAX + 1];
	size_t len;
	uint64_t count, error;
} slot;

typedef struct table {
	slot *slots;
	size_t used;
	smap index; /* key -> slot number */
} table;

struct topk {
	pthread_mutex_t mu;
	size_t k;
	uint64_t window_ms;
	uint64_t start; /* of the current window */
	table cur, last;
};

static void table_init(table *tb, size_t k)
{
	tb->slots = xcalloc(k, sizeof *tb->slots);
	tb->used = 0;
	smap_init(&tb->index);
}

static void table_clear(table *tb)
{
	tb->used = 0;
	smap_clear(&tb->index);
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
	free(t->cur.slots);
	free(t->last.slots);
	smap_free(&t->cur.index);
	smap_free(&t->last.index);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* Moves the windows on to the one holding now. */
static void roll(topk *t, uint64_t now)
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
	smap_val *v = smap_get(&tb->index, key, len);
	if (v) {
		tb->slots[v->u].count += n;
		return;
	}
	size_t i;
	uint64_t carried = 0;
	if (tb->used < k) {
		i = tb->used++;
	} else {
		i = 0;
		for (size_t j = 1; j < k; j++)
			if (tb->slots[j].count < tb->slots[i].count)
				i = j;
		carried = tb->slots[i].count;
		smap_del(&tb->index, tb->slots[i].key, tb->slots[i].len);
	}
	slot *s = &tb->slots[i];
	memcpy(s->key, key, len);
	s->key[len] = 0;
	s->len = len;
	s->count = carried + n;
	s->error = carried;
	bool created;
	smap_put(&tb->index, key, len, &created)->u = i;
}

void topk_add(topk *t, const char *key, size_t len, uint64_t n, uint64_t now_ms)
{
	if (len > TOPK_KEY_MAX)
		len = TOPK_KEY_MAX;
	pthread_mutex_lock(&t->mu);
	roll(t, now_ms);
	table_add(&t->cur, t->k, key, len, n);
	pthread_mutex_unlock(&t->mu);
}

static int by_rate(const void *a, const void *b)
{
	const topk_entry *x = a, *y = b;
	return x->rate < y->rate ? 1 : x->rate > y->rate ? -1 : strcmp(x->key, y->key);
}

size_t topk_list(topk *t, uint64_t now_ms, topk_entry *out, size_t max)
{
	pthread_mutex_lock(&t->mu);
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
		smap_val *lv = smap_get(&t->last.index, s->key, s->len);
		if (lv)
			e->rate += weight * (double)t->last.slots[lv->u].count;
	}
	for (size_t i = 0; i < t->last.used; i++) {
		const slot *s = &t->last.slots[i];
		if (smap_get(&t->cur.index, s->key, s->len))
			continue;
		topk_entry *e = &all[n++];
		memcpy(e->key, s->key, s->len + 1);
		e->rate = weight * (double)s->count;
		if (e->rate <= 0)
			n--;
	}
	pthread_mutex_unlock(&t->mu);
	qsort(all, n, sizeof *all, by_rate);
	if (n > max)
		n = max;
	memcpy(out, all, n * sizeof *out);
	free(all);
	return n;
}
