/* blkcache.c - per-thread caches of freed blocks and buffers (blkcache.h). */
#include "blkcache.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

#if defined(__SANITIZE_ADDRESS__)
#define BLK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BLK_ASAN 1
#endif
#endif
#ifndef BLK_ASAN
#define BLK_ASAN 0
#endif

/* Seven classes of 64 to 4,096 bytes, header included; a block of class
 * k holds (64 << k) - HDR bytes. CLASS_NONE marks a block from malloc. */
#define NCLASS 7
#define CLASS_NONE NCLASS
#define MIN_SHIFT 6

/* Keeps the payload 16-byte aligned, as malloc's is. */
typedef struct hdr {
	uint32_t cls;
	uint32_t unused;
	size_t size; /* asked for: what a realloc copies */
} hdr;
_Static_assert(sizeof(hdr) == 16, "the header keeps malloc's alignment");
#define HDR sizeof(hdr)
_Static_assert(BLK_MAX == (64u << (NCLASS - 1)) - HDR, "BLK_MAX is the top class");

typedef struct freeblk {
	struct freeblk *next;
} freeblk;

typedef struct tcache {
	freeblk *free[NCLASS];
	unsigned nfree[NCLASS];
	void *bufs[BLK_KEEP_BUFS];
	size_t bufcap[BLK_KEEP_BUFS];
	unsigned nbufs;
} tcache;

static _Thread_local tcache *tc;
static pthread_key_t tc_key;
static pthread_once_t tc_once = PTHREAD_ONCE_INIT;
static bool tc_key_ok;

static void tc_drop(void *arg)
{
	tcache *t = arg;
	for (int k = 0; k < NCLASS; k++) {
		while (t->free[k]) {
			freeblk *f = t->free[k];
			t->free[k] = f->next;
			free((char *)f - HDR);
		}
	}
	for (unsigned i = 0; i < t->nbufs; i++)
		free(t->bufs[i]);
	free(t);
	tc = NULL;
}

static void tc_key_make(void)
{
	tc_key_ok = pthread_key_create(&tc_key, tc_drop) == 0;
}

/* The calling thread's cache, made on first use; NULL when nothing is
 * kept (under ASan, or when the cache cannot be made). */
static tcache *cache(void)
{
	if (BLK_ASAN)
		return NULL;
	if (tc)
		return tc;
	if (pthread_once(&tc_once, tc_key_make) != 0 || !tc_key_ok)
		return NULL;
	tcache *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	if (pthread_setspecific(tc_key, t) != 0) {
		free(t);
		return NULL;
	}
	tc = t;
	return t;
}

bool blk_caching(void)
{
	return !BLK_ASAN;
}

static unsigned class_of(size_t n)
{
	if (n > BLK_MAX)
		return CLASS_NONE;
	size_t total = n + HDR;
	unsigned k = 0;
	while (((size_t)64 << k) < total)
		k++;
	return k;
}

void *blk_alloc(size_t n)
{
	unsigned k = class_of(n);
	hdr *h = NULL;
	if (k != CLASS_NONE) {
		tcache *t = cache();
		if (t && t->free[k]) {
			freeblk *f = t->free[k];
			t->free[k] = f->next;
			t->nfree[k]--;
			h = (hdr *)((char *)f - HDR);
		} else {
			h = malloc((size_t)64 << k);
		}
	} else if (n <= SIZE_MAX - HDR) {
		h = malloc(n + HDR);
	}
	if (!h)
		return NULL;
	h->cls = k;
	h->size = n;
	return h + 1;
}

void *blk_calloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	void *p = blk_alloc(count * size);
	if (p)
		memset(p, 0, count * size);
	return p;
}

void blk_free(void *p)
{
	if (!p)
		return;
	hdr *h = (hdr *)p - 1;
	unsigned k = h->cls;
	tcache *t = k != CLASS_NONE ? cache() : NULL;
	if (!t || t->nfree[k] >= (BLK_KEEP_BYTES >> MIN_SHIFT >> k)) {
		free(h);
		return;
	}
	freeblk *f = p;
	f->next = t->free[k];
	t->free[k] = f;
	t->nfree[k]++;
}

void *blk_realloc(void *p, size_t n)
{
	if (!p)
		return blk_alloc(n);
	hdr *h = (hdr *)p - 1;
	if (h->cls != CLASS_NONE && n <= BLK_MAX && n + HDR <= ((size_t)64 << h->cls)) {
		h->size = n;
		return p;
	}
	void *q = blk_alloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, h->size < n ? h->size : n);
	blk_free(p);
	return q;
}

void blk_keep_buf(void *p)
{
	if (!p)
		return;
	tcache *t = cache();
	size_t cap = malloc_usable_size(p);
	if (!t || cap > BLK_BUF_MAX) {
		free(p);
		return;
	}
	unsigned at = t->nbufs;
	if (at == BLK_KEEP_BUFS) {
		/* Full: the buffer takes the place of the smallest one kept, if
		 * it is larger, so that answers of every size find room after
		 * a run of small ones. */
		at = 0;
		for (unsigned i = 1; i < t->nbufs; i++)
			if (t->bufcap[i] < t->bufcap[at])
				at = i;
		if (t->bufcap[at] >= cap) {
			free(p);
			return;
		}
		free(t->bufs[at]);
	} else {
		t->nbufs++;
	}
	t->bufs[at] = p;
	t->bufcap[at] = cap;
}

void *blk_take_buf(size_t need, size_t *cap)
{
	tcache *t = tc; /* nothing kept if the thread has no cache yet */
	if (!t)
		return NULL;
	/* The last kept first: the warmest in the CPU's caches. */
	for (unsigned i = t->nbufs; i-- > 0;) {
		if (t->bufcap[i] < need)
			continue;
		void *p = t->bufs[i];
		*cap = t->bufcap[i];
		t->nbufs--;
		t->bufs[i] = t->bufs[t->nbufs];
		t->bufcap[i] = t->bufcap[t->nbufs];
		return p;
	}
	return NULL;
}

size_t blk_cached(void)
{
	tcache *t = tc;
	if (!t)
		return 0;
	size_t n = t->nbufs;
	for (int k = 0; k < NCLASS; k++)
		n += t->nfree[k];
	return n;
}

void *blk_xalloc(size_t n)
{
	void *p = blk_alloc(n);
	if (!p)
		xmem_oom(n);
	return p;
}

void *blk_xrealloc(void *p, size_t n)
{
	void *q = blk_realloc(p, n);
	if (!q)
		xmem_oom(n);
	return q;
}
