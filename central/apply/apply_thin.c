/* apply_thin.c - thinning the home index's day keys ('G', keys.h).
 *
 * The applier writes, with every like of a user who has a home, the 'G'
 * key of (home, partition, counter, item, UTC day of the like), blindly:
 * a read per like to learn whether the item already has an older one
 * would cost more than the key. The only reader is the home checkpoint
 * with since_ms (opsckpt.c, take_day), and it takes an item's first key
 * in a region's partition, its oldest day, and skips the others. So
 * every key of an item after its first is dead weight: for an item
 * liked every day, one key a day for ever.
 *
 * A sweep deletes them: it walks every 'G' key in key order (regions,
 * partitions, items, then days) and deletes each one whose key without
 * its day equals the one before it. An item's first key is never
 * deleted, so the checkpoint's answer is the same before and after,
 * byte for byte; a key with a name that does not parse is left alone,
 * as the relayout leaves it. A round runs in steps, each with its own
 * iterator (a fresh view) and one store write, between two messages on
 * the applier's thread (the store's only writer). A key written between
 * two steps behind the cursor waits for the next round; one ahead of it
 * is judged against the key before it then. Either way the item's first
 * key stays, since only the sweep deletes 'G' keys.
 *
 * The applier's time comes first: a step reads at most THIN_STEP_KEYS
 * keys and stops after THIN_STEP_US, and the next one waits THIN_GAP_MS,
 * so the sweep takes at most a tenth of the loop (about 40,000 keys a
 * second on the machine of docs/performance.md). Rounds: the first
 * THIN_FIRST_MS after the first call (a start's catch-up goes first),
 * then THIN_EVERY_MS after the end of the last; on a store with more
 * keys than an hour's steps read, back to back.
 */
#include "central/apply/apply_thin.h"

#include <inttypes.h>
#include <string.h>

#include <stdatomic.h>
#include "central/apply/keys.h"
#include "clock.h"
#include "log.h"
#include "store.h"

#define THIN_STEP_KEYS 1024
#define THIN_STEP_US 2000
#define THIN_CLOCK_EVERY 64 /* keys between two looks at the clock */
#define THIN_GAP_MS 20
#define THIN_FIRST_MS (5 * 60 * 1000)
#define THIN_EVERY_MS (60 * 60 * 1000)

/* A 'G' key's item group: the key without its 4-byte day; 0 when the
 * key's names do not parse. */
static size_t group_len(const char *k, size_t kn)
{
	const char *r, *c, *item;
	size_t rn, cn, in;
	uint32_t p, day;
	if (!ckey_parse_home_day(k, kn, &r, &rn, &p, &c, &cn, &item, &in, &day))
		return 0;
	return kn - 4;
}

/* One step of the round: up to THIN_STEP_KEYS keys from the cursor on.
 * *done when the round read its last key. 0, or the store's error (the
 * step's deletions not written; the cursor as it was). */
static int step(day_thin *t, bool *done)
{
	unsigned char pre[1] = {CKEY_HOME_DAY};
	store_iter *it = store_iter_from(t->db, pre, sizeof pre, t->at_n ? t->at : NULL, t->at_n);
	store_batch *wb = store_batch_new();
	const char *k, *v;
	size_t kn, vn, read = 0, deleted = 0;
	unsigned char last[CKEY_MAX];
	size_t last_n = 0;
	uint64_t start_us = clock_mono_us(), until_us = start_us + THIN_STEP_US;
	*done = true;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		if (read == THIN_STEP_KEYS ||
		    (read && read % THIN_CLOCK_EVERY == 0 && clock_mono_us() >= until_us)) {
			*done = false;
			break;
		}
		read++;
		if (kn <= sizeof last) {
			memcpy(last, k, kn);
			last_n = kn;
		}
		size_t g = group_len(k, kn);
		if (!g || g > sizeof t->group)
			continue;
		if (g == t->group_n && memcmp(k, t->group, g) == 0) {
			store_batch_del(wb, k, kn);
			deleted++;
		} else {
			memcpy(t->group, k, g);
			t->group_n = g;
		}
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (!rc && deleted)
		rc = store_write(t->db, wb);
	store_batch_free(wb);
	if (rc) {
		/* The group noted may be one whose first key this step read:
		 * forget it, so the retry keeps that key. */
		t->group_n = 0;
		return rc;
	}
	t->round_read += read;
	t->round_deleted += deleted;
	uint64_t took_us = clock_mono_us() - start_us;
	if (took_us > t->round_max_us)
		t->round_max_us = took_us;
	atomic_fetch_add_explicit(&t->thinned, deleted, memory_order_relaxed);
	if (!*done && last_n) {
		/* Resume just after the last key read: the key with a 0 byte
		 * appended is the next one that can exist. */
		memcpy(t->at, last, last_n);
		t->at[last_n] = 0;
		t->at_n = last_n + 1;
	}
	return 0;
}

static void round_end(day_thin *t, uint64_t now_ms)
{
	atomic_fetch_add_explicit(&t->rounds, 1, memory_order_relaxed);
	log_info("home index day keys thinned",
	         "read=%" PRIu64 " deleted=%" PRIu64 " steps=%" PRIu64 " longest_step_us=%" PRIu64
	         " ms=%" PRIu64,
	         t->round_read, t->round_deleted, t->round_steps, t->round_max_us,
	         now_ms >= t->round_start_ms ? now_ms - t->round_start_ms : 0);
	t->on = false;
	t->at_n = 0;
	t->group_n = 0;
	t->next_ms = now_ms + THIN_EVERY_MS;
}

static void round_begin(day_thin *t, uint64_t now_ms)
{
	t->on = true;
	t->round_start_ms = now_ms;
	t->round_read = t->round_deleted = t->round_steps = t->round_max_us = 0;
}

int apply_thin_step(day_thin *t, uint64_t now_ms)
{
	if (!t->next_ms)
		t->next_ms = now_ms + THIN_FIRST_MS;
	if (!t->on) {
		if (now_ms < t->next_ms)
			return 0;
		round_begin(t, now_ms);
	} else if (now_ms < t->step_ms + THIN_GAP_MS) {
		return 0;
	}
	t->step_ms = now_ms;
	bool done;
	int rc = step(t, &done);
	if (rc)
		return rc;
	t->round_steps++;
	if (done)
		round_end(t, now_ms);
	return 0;
}

int apply_thin_round(day_thin *t, uint64_t now_ms)
{
	if (!t->on)
		round_begin(t, now_ms);
	bool done = false;
	while (!done) {
		int rc = step(t, &done);
		if (rc)
			return rc;
		t->round_steps++;
	}
	round_end(t, now_ms);
	return 0;
}
