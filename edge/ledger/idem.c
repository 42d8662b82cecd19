/* idem.c - idempotency records in the edge's store (idem.h). */
#include "edge/ledger/idem.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "edge/ledger/keys.h"
#include "xmem.h"

#define HEAD 18 /* expires, fingerprint, status */

bool idem_key_valid(const char *key, size_t n)
{
	if (n == 0 || n > IDEM_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (key[i] < '!' || key[i] > '~' || key[i] == '"' || key[i] == '\\')
			return false;
	return true;
}

uint64_t idem_fingerprint(const char *method, const char *path, const char *body, size_t len)
{
	XXH64_state_t *st = XXH64_createState();
	if (!st)
		abort();
	XXH64_reset(st, 0);
	XXH64_update(st, method, strlen(method) + 1);
	XXH64_update(st, path, strlen(path) + 1);
	if (len)
		XXH64_update(st, body, len);
	uint64_t h = XXH64_digest(st);
	XXH64_freeState(st);
	return h;
}

static bool fits(const idem_req *r)
{
	return strlen(r->user) <= USER_MAX && idem_key_valid(r->key, strlen(r->key));
}

int idem_lookup(store *db, const idem_req *r, uint64_t now_ms, int *status, char **answer,
                size_t *len)
{
	if (!fits(r))
		return ERR_NOTFOUND;
	char k[EKEY_IDEM_MAX];
	size_t kn = ekey_idem(k, r->user, r->key);
	char *v;
	size_t vn;
	int rc = store_get(db, k, kn, &v, &vn);
	if (rc)
		return rc;
	const unsigned char *u = (const unsigned char *)v;
	if (vn < HEAD || store_get_u64(u) <= now_ms) {
		free(v);
		return ERR_NOTFOUND;
	}
	if (store_get_u64(u + 8) != r->fingerprint) {
		free(v);
		return ERR_INVAL;
	}
	*status = (int)((unsigned)u[16] << 8 | u[17]);
	*len = vn - HEAD;
	*answer = xmalloc(*len + 1);
	memcpy(*answer, v + HEAD, *len);
	(*answer)[*len] = 0;
	free(v);
	return 0;
}

void idem_batch_put(store_batch *b, const idem_req *r, int status, const char *answer, size_t len)
{
	if (!fits(r))
		return;
	char k[EKEY_IDEM_MAX];
	size_t kn = ekey_idem(k, r->user, r->key);
	unsigned char *v = xmalloc(HEAD + len);
	store_put_u64(v, r->expires_ms);
	store_put_u64(v + 8, r->fingerprint);
	v[16] = (unsigned char)(status >> 8);
	v[17] = (unsigned char)status;
	memcpy(v + HEAD, answer, len);
	store_batch_put(b, k, kn, v, HEAD + len);
	free(v);
	kn = ekey_idem_expiry(k, r->expires_ms, r->user, r->key);
	store_batch_put(b, k, kn, "", 0);
}

int idem_sweep(store *db, idem_sweeper *sw, uint64_t now_ms, int max)
{
	if (now_ms < sw->last_ms)
		sw->from_ms = 0; /* the clock went back: from the first key */
	sw->last_ms = now_ms;
	unsigned char from[9];
	from[0] = EKEY_IDEM_EXPIRY;
	store_put_u64(from + 1, sw->from_ms);
	store_batch *b = store_batch_new();
	store_iter *it = store_iter_from(db, ekey_prefix(EKEY_IDEM_EXPIRY), 1, from, sizeof from);
	const char *k, *v;
	size_t kn, vn;
	int n = 0;
	uint64_t last = sw->from_ms;
	while (n < max && store_iter_next(it, &k, &kn, &v, &vn)) {
		uint64_t exp;
		char ik[EKEY_IDEM_MAX];
		size_t ikn;
		if (!ekey_idem_expiry_parse(k, kn, &exp, ik, &ikn)) {
			store_batch_del(b, k, kn);
			continue;
		}
		if (exp > now_ms)
			break;
		last = exp;
		store_batch_del(b, k, kn);
		/* The record goes too unless the key was used again since
		 * (then it has a later expiry of its own). */
		char *rec;
		size_t rn;
		int rc = store_get(db, ik, ikn, &rec, &rn);
		if (rc == 0) {
			if (rn >= HEAD && store_get_u64((unsigned char *)rec) == exp)
				store_batch_del(b, ik, ikn);
			free(rec);
		} else if (rc != ERR_NOTFOUND) {
			n = rc;
			break;
		}
		n++;
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc == 0 && n >= 0)
		rc = store_write(db, b);
	store_batch_free(b);
	if (rc == 0 && n >= 0)
		sw->from_ms = last; /* entries of that expiry may be left: not past it */
	return rc ? rc : n;
}
