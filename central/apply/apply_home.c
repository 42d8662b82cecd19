/* apply_home.c - the home index's upkeep when the applier opens a store
 * (apply_home.h): the move of an old store's index to the layout that
 * keeps a user's entries together, the note of where the index holds
 * every change, and (central home-index-reset) forgetting that note.
 * Start-up, or a stopped central's store, on the caller's thread.
 */
#include "central/apply/apply_home.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "central/apply/day.h"
#include "central/apply/keys.h"
#include "clock.h"
#include "item.h"
#include "log.h"
#include "sdnotify.h"

/* The home index ('V' keys) is written from a store's start by this
 * code; a store from before it holds memberships the index lacks. The
 * first open by this code of such a store (one with 'S' keys) notes, for
 * every partition that has applied input, the version from which the
 * index holds every change: the home checkpoint sends it ("i"), so an
 * edge loading its users' memberships knows that older pairs may be
 * missing (docs/events.md, "Home streams"). A new store notes none. */
int apply_home_note(store *db, uint32_t nparts, apply_home_version_fn version, void *ctx)
{
	char *v;
	size_t vn;
	const char *meta = "M" CKEY_HOME_INDEX_META;
	int rc = store_get(db, meta, strlen(meta), &v, &vn);
	if (rc == 0) {
		free(v);
		return 0;
	}
	if (rc != ERR_NOTFOUND)
		return rc;
	const char *k, *sv;
	size_t kn, svn;
	store_iter *it = store_iter_new(db, ckey_prefix(CKEY_STATE), 1);
	bool older = store_iter_next(it, &k, &kn, &sv, &svn);
	rc = store_iter_status(it);
	store_iter_free(it);
	if (rc)
		return rc;
	store_batch *wb = store_batch_new();
	uint32_t noted = 0;
	for (uint32_t p = 0; older && p < nparts; p++) {
		uint64_t ver;
		if (!version(ctx, p, &ver))
			continue;
		unsigned char key[CKEY_HOME_FROM_LEN], val[8];
		store_put_u64(val, ver);
		store_batch_put(wb, key, ckey_home_from(key, p), val, sizeof val);
		noted++;
	}
	store_batch_put(wb, meta, strlen(meta), "1", 1);
	rc = store_write(db, wb);
	store_batch_free(wb);
	if (!rc && older)
		log_warn("home index: this store is older than it; a home checkpoint says which "
		         "memberships it may lack (those last changed before now)",
		         "partitions=%" PRIu32, noted);
	return rc;
}

#define RELAYOUT_PER_WRITE 16384
#define RELAYOUT_LOG_MS 10000
#define RELAYOUT_EXTEND_USEC "60000000" /* each write asks systemd for a minute more */

/* A run of the relayout written: the service manager's start-up timeout
 * is pushed on, and every RELAYOUT_LOG_MS the log and the status say
 * how far it is. */
static void relayout_progress(uint64_t moved, uint64_t *logged_ms)
{
	if (sdnotify_send("EXTEND_TIMEOUT_USEC=" RELAYOUT_EXTEND_USEC))
		log_warn("home index: cannot tell the service manager", "keys=%" PRIu64, moved);
	uint64_t now = clock_mono_ms();
	if (now - *logged_ms < RELAYOUT_LOG_MS)
		return;
	*logged_ms = now;
	log_info("home index: moving to its new layout", "keys_so_far=%" PRIu64, moved);
	if (sdnotify_status("moving the home index to its new layout: %" PRIu64 " keys", moved))
		log_warn("home index: cannot tell the service manager", "keys=%" PRIu64, moved);
}

/* Moves a store's home index from its first layout ('U' keys: item
 * before user) to the one where a user's entries in a partition are
 * adjacent ('V' keys, keys.h), so that one seek finds them, with the
 * 'G' key of each like's day. Each write
 * puts a run of 'V' keys and deletes their 'U' keys together; the tags
 * differ, so a start that stopped half-way just goes on. A 'U' key that
 * does not parse is left where it is, and logged. Runs in load(),
 * before any input is applied. */
int apply_home_relayout(store *db)
{
	store_iter *it = store_iter_new(db, ckey_prefix(CKEY_HOME_V1), 1);
	store_batch *wb = store_batch_new();
	const char *k, *v;
	size_t kn, vn;
	uint64_t moved = 0, bad = 0, logged_ms = clock_mono_ms();
	size_t in_batch = 0;
	unsigned char from[CKEY_MAX + 1]; /* the last key read, and a 0: where to go on */
	size_t fn = 0;
	int rc = 0;
	while (!rc && store_iter_next(it, &k, &kn, &v, &vn)) {
		const char *region, *name[3];
		size_t rn, len[3];
		uint32_t p;
		bool member;
		uint64_t clock;
		if (kn > CKEY_MAX) { /* no key of ours is longer: step past it */
			bad++;
			continue;
		}
		memcpy(from, k, kn);
		from[kn] = 0;
		fn = kn + 1;
		if (!ckey_parse_home_parts(k, kn, CKEY_HOME_V1, &region, &rn, &p, name, len) ||
		    !item_edge_valid(region, rn) || !item_counter_valid(name[0], len[0]) ||
		    !item_valid(name[1], len[1]) || !item_user_valid(name[2], len[2]) ||
		    !ckey_parse_home_value(v, vn, &member, &clock)) {
			bad++;
			continue;
		}
		unsigned char key[CKEY_MAX];
		/* 'U': counter, item, user; 'V': user, counter, item */
		size_t n = ckey_home(key, region, rn, p, name[2], len[2], name[0], len[0], name[1],
		                     len[1]);
		store_batch_put(wb, key, n, v, vn);
		if (member) { /* the like's day, for the checkpoint's old likes */
			unsigned char val[CKEY_HOME_DAY_MAX];
			n = ckey_home_day(key, region, rn, p, name[0], len[0], name[1], len[1],
			                  day_of_hlc(clock));
			store_put_u64(val, clock);
			memcpy(val + 8, name[2], len[2]);
			store_batch_put(wb, key, n, val, 8 + len[2]);
		}
		store_batch_del(wb, k, kn);
		moved++;
		if (++in_batch < RELAYOUT_PER_WRITE)
			continue;
		rc = store_write(db, wb);
		store_batch_clear(wb);
		in_batch = 0;
		/* A new iterator after each write: the old one's view would
		 * keep every deleted key on disk until the end. */
		if (!rc)
			rc = store_iter_status(it);
		store_iter_free(it);
		it = store_iter_from(db, ckey_prefix(CKEY_HOME_V1), 1, from, fn);
		relayout_progress(moved, &logged_ms);
	}
	if (!rc)
		rc = store_iter_status(it);
	if (!rc && in_batch)
		rc = store_write(db, wb);
	store_iter_free(it);
	store_batch_free(wb);
	if (!rc && (moved || bad))
		log_info("home index: moved to the layout that keeps a user's entries together",
		         "keys=%" PRIu64 " unreadable_left=%" PRIu64, moved, bad);
	return rc;
}

int apply_home_forget(store *db, uint32_t *forgot)
{
	*forgot = 0;
	const char *meta = "M" CKEY_HOME_INDEX_META;
	unsigned char pre[CKEY_HOME_FROM_LEN];
	size_t pn = ckey_home_from(pre, 0) - 4; /* the name, without a partition */
	store_batch *wb = store_batch_new();
	store_batch_del(wb, meta, strlen(meta));
	const char *k, *v;
	size_t kn, vn;
	store_iter *it = store_iter_new(db, pre, pn);
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		store_batch_del(wb, k, kn);
		(*forgot)++;
	}
	return store_iter_end_write(db, it, wb, 0);
}
