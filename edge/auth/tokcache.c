/* tokcache.c - remembered token digests (tokcache.h).
 *
 * Owns STRIPES stripes, each a mutex and its sets of WAYS digests with a
 * round-robin victim per set. A digest's first bytes pick its stripe and
 * set (SHA-256 output is uniform). The module keeps the sum of every
 * live cache's bytes (tokcache_total_bytes). Any thread.
 */
#include "edge/auth/tokcache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "memacct.h"
#include "tsa.h"
#include "xmem.h"

#define STRIPES 16
#define WAYS 4

typedef struct set {
	unsigned char d[WAYS][TOKCACHE_DIGEST];
	unsigned char used; /* ways filled */
	unsigned char next; /* the way to replace next when full */
} set;

typedef struct stripe {
	tsa_mutex mu;
	set *sets;
} stripe;

struct tokcache {
	size_t nsets;               /* per stripe */
	_Atomic uint64_t sets_used; /* sets ever written */
	_Atomic uint64_t counted;   /* its share of all_bytes */
	stripe st[STRIPES];
};

static _Atomic uint64_t all_bytes; /* every live cache's tokcache_bytes */

uint64_t tokcache_bytes(const tokcache *c)
{
	uint64_t sets = (uint64_t)STRIPES * c->nsets * sizeof(set);
	return memacct_chunk(sizeof *c) +
	       memacct_touched(sets, atomic_load_explicit(&c->sets_used, memory_order_relaxed));
}

uint64_t tokcache_total_bytes(void)
{
	return atomic_load_explicit(&all_bytes, memory_order_relaxed);
}

/* Brings c's share of all_bytes up to date. Two threads may race here:
 * each moves the sum by what it swapped out, so the sum stays the sum
 * of the shares, one set's write behind at worst. */
static void account(tokcache *c)
{
	uint64_t now = tokcache_bytes(c);
	uint64_t was = atomic_exchange_explicit(&c->counted, now, memory_order_relaxed);
	atomic_fetch_add_explicit(&all_bytes, now - was, memory_order_relaxed);
}

tokcache *tokcache_new(size_t entries)
{
	tokcache *c = xcalloc(1, sizeof *c);
	c->nsets = (entries + STRIPES * WAYS - 1) / (STRIPES * WAYS);
	if (c->nsets == 0)
		c->nsets = 1;
	for (int i = 0; i < STRIPES; i++) {
		pthread_mutex_init(&c->st[i].mu, NULL);
		c->st[i].sets = xcalloc(c->nsets, sizeof *c->st[i].sets);
	}
	account(c);
	return c;
}

void tokcache_free(tokcache *c)
{
	if (!c)
		return;
	atomic_fetch_sub_explicit(&all_bytes,
	                          atomic_exchange_explicit(&c->counted, 0, memory_order_relaxed),
	                          memory_order_relaxed);
	for (int i = 0; i < STRIPES; i++) {
		pthread_mutex_destroy(&c->st[i].mu);
		free(c->st[i].sets);
	}
	free(c);
}

void tokcache_digest(const char *token, size_t len, unsigned char d[TOKCACHE_DIGEST])
{
	unsigned int n = 0;
	if (!EVP_Digest(token, len, d, &n, EVP_sha256(), NULL) || n != TOKCACHE_DIGEST)
		memset(d, 0, TOKCACHE_DIGEST); /* an all-zero digest is never put */
}

static bool zero(const unsigned char d[TOKCACHE_DIGEST])
{
	for (int i = 0; i < TOKCACHE_DIGEST; i++)
		if (d[i])
			return false;
	return true;
}

static set *set_of(tokcache *c, const unsigned char d[TOKCACHE_DIGEST], stripe **s)
{
	uint64_t h;
	memcpy(&h, d, sizeof h);
	*s = &c->st[h % STRIPES];
	return &(*s)->sets[(h / STRIPES) % c->nsets];
}

bool tokcache_has(tokcache *c, const unsigned char d[TOKCACHE_DIGEST])
{
	if (zero(d))
		return false;
	stripe *s;
	set *e = set_of(c, d, &s);
	bool found = false;
	tsa_lock(&s->mu);
	for (int i = 0; i < e->used && !found; i++)
		found = memcmp(e->d[i], d, TOKCACHE_DIGEST) == 0;
	tsa_unlock(&s->mu);
	return found;
}

void tokcache_put(tokcache *c, const unsigned char d[TOKCACHE_DIGEST])
{
	if (zero(d))
		return;
	stripe *s;
	set *e = set_of(c, d, &s);
	tsa_lock(&s->mu);
	bool found = false, first = e->used == 0;
	for (int i = 0; i < e->used && !found; i++)
		found = memcmp(e->d[i], d, TOKCACHE_DIGEST) == 0;
	if (!found) {
		int w = e->used < WAYS ? e->used++ : e->next;
		if (e->used == WAYS && w == e->next)
			e->next = (unsigned char)((e->next + 1) % WAYS);
		memcpy(e->d[w], d, TOKCACHE_DIGEST);
	}
	tsa_unlock(&s->mu);
	if (first) {
		atomic_fetch_add_explicit(&c->sets_used, 1, memory_order_relaxed);
		account(c);
	}
}

bool tokcache_holds(void *ctx, uint64_t *out)
{
	(void)ctx;
	*out = tokcache_total_bytes();
	return true;
}
