/* ledger_members.c - the membership filter (members_int.h): what the
 * store may hold of memberships, aged items and home marks, and the
 * membership reads it spares. Calls nothing of the ledger's but the
 * keys (keys.h); staging, the home stream and group commit call it.
 */
#include "edge/ledger/members_int.h"

#include <inttypes.h>
#include <stdlib.h>

#include "clock.h"
#include "edge/ledger/keys.h"
#include "err.h"
#include "log.h"

void ledger_members_init(struct members *m, size_t bytes)
{
	bloom_init(&m->filter, bytes, 7);
	atomic_init(&m->reads, 0);
	atomic_init(&m->skipped, 0);
}

void ledger_members_free(struct members *m)
{
	bloom_free(&m->filter);
}

/* Is k a key the filter keeps? */
static bool kept(const char *k, size_t kn)
{
	return ekey_is(k, kn, EKEY_MEMBER) || ekey_is(k, kn, EKEY_AGED) ||
	       ekey_is(k, kn, EKEY_HOME_MARK);
}

int ledger_members_load(struct members *m, store *db)
{
	if (!bloom_bytes(&m->filter))
		return 0;
	uint64_t t0 = clock_mono_ms();
	enum ekey_tag tags[3] = {EKEY_MEMBER, EKEY_AGED, EKEY_HOME_MARK};
	for (int i = 0; i < 3; i++) {
		store_iter *it = store_iter_new(db, ekey_prefix(tags[i]), 1);
		const char *k, *v;
		size_t kn, vn;
		while (store_iter_next(it, &k, &kn, &v, &vn))
			bloom_add(&m->filter, k, kn);
		int rc = store_iter_status(it);
		store_iter_free(it);
		if (rc)
			return rc;
	}
	log_info("membership filter loaded", "records=%" PRIu64 " filter_bytes=%zu ms=%" PRIu64,
	         m->filter.added, bloom_bytes(&m->filter), clock_mono_ms() - t0);
	return 0;
}

void ledger_members_add(struct members *m, const char *k, size_t kn)
{
	bloom_add(&m->filter, k, kn);
}

static void put_seen(void *ctx, const char *k, size_t kn, const char *v, size_t vn)
{
	(void)v;
	(void)vn;
	if (kept(k, kn))
		bloom_add(&((struct members *)ctx)->filter, k, kn);
}

static void del_seen(void *ctx, const char *k, size_t kn)
{
	(void)ctx;
	(void)k;
	(void)kn; /* a filter forgets nothing: a deleted key costs a read */
}

void ledger_members_note(struct members *m, const store_batch *wb)
{
	if (bloom_bytes(&m->filter))
		store_batch_iterate(wb, m, put_seen, del_seen);
}

bool ledger_members_maybe(const struct members *m, const char *k, size_t kn)
{
	return bloom_maybe(&m->filter, k, kn);
}

bloom_hash ledger_members_prefetch(const struct members *m, const char *k, size_t kn)
{
	bloom_hash bh = bloom_key_hash(k, kn);
	bloom_prefetch(&m->filter, bh);
	return bh;
}

int ledger_member_read_h(struct members *m, store *db, const char *mkey, size_t kn, bloom_hash bh,
                         int *state, uint64_t *stamp)
{
	*state = -1;
	*stamp = 0;
	if (!bloom_maybe_h(&m->filter, bh)) {
		atomic_fetch_add_explicit(&m->skipped, 1, memory_order_relaxed);
		return 0;
	}
	atomic_fetch_add_explicit(&m->reads, 1, memory_order_relaxed);
	char *buf;
	size_t len;
	int rc = store_get(db, mkey, kn, &buf, &len);
	if (rc == ERR_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (len == 9 && (buf[0] == 0 || buf[0] == 1)) {
		*state = buf[0];
		*stamp = store_get_u64((unsigned char *)buf + 1);
	}
	free(buf);
	return 0;
}

int ledger_member_read(struct members *m, store *db, const char *mkey, size_t kn, int *state,
                       uint64_t *stamp)
{
	return ledger_member_read_h(m, db, mkey, kn, bloom_key_hash(mkey, kn), state, stamp);
}

void ledger_members_stats(const struct members *m, ledger_stats *out)
{
	out->member_reads = atomic_load_explicit(&m->reads, memory_order_relaxed);
	out->member_reads_skipped = atomic_load_explicit(&m->skipped, memory_order_relaxed);
}

uint64_t ledger_members_bytes(const struct members *m)
{
	return bloom_resident_bytes(&m->filter);
}
