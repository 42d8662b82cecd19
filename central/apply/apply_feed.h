/* apply_feed.h - the change feed's events as the applier makes them
 * (docs/events.md): one per change that moved a count, one per
 * threshold a count reaches for the first time, and those of the home
 * streams, gathered into the message's 'X' record (feedrec.h), which
 * goes into the message's store write. It sits on the working set
 * (apply_ws.h), where the milestone levels ('L' keys) are kept.
 *
 * The applier's thread only, but for unrouted (an atomic any thread may
 * read); feed_records_drop and feed_records_close take any store, on
 * their caller's thread.
 */
#ifndef CENTRAL_APPLY_FEED_H
#define CENTRAL_APPLY_FEED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "central/apply/apply_ws.h"
#include "central/apply/feedrec.h"
#include "central/apply/merge.h"
#include "err.h"
#include "feedev.h"
#include "sbuf.h"
#include "store.h"
#include "wire.h"

typedef struct apply_feed {
	bool changes, milestones; /* what is on */
	uint64_t *thresholds;     /* ascending */
	size_t nthresholds;
	/* The regions whose users' changes made elsewhere go to their home
	 * stream (topic FEEDREC_HOMES + i). */
	char *homes[FEEDREC_HOMES_MAX];
	size_t nhomes;
	/* The message being applied: its events' id (index unused: see
	 * index), the next index per topic, its record, its events. */
	feedev_id id;
	uint32_t index[FEEDREC_TOPICS];
	sbuf rec;
	uint32_t made;
	_Atomic uint64_t unrouted; /* changes of users at home in no region of homes */
} apply_feed;

void apply_feed_init(apply_feed *f);
void apply_feed_free(apply_feed *f);
/* Changes, milestones at thresholds[0..n) (copied, sorted): applier_set_feed. */
void apply_feed_set(apply_feed *f, bool changes, bool milestones, const uint64_t *thresholds,
                    size_t n);
/* The home streams' regions (copied): applier_set_homes. */
void apply_feed_set_homes(apply_feed *f, const char *const *regions, size_t n);

/* A message at (p, offset) of input epoch epoch begins: no event yet. */
void apply_feed_begin(apply_feed *f, uint32_t epoch, uint32_t p, int64_t offset);
/* Puts the message's record into wb under partition p's version, when it
 * made events. */
void apply_feed_put(apply_feed *f, store_batch *wb, uint32_t p, uint64_t version);

/* The events of one change (a set flip, is_set, member the pair's new
 * state; or a sum of n) made by an op of region and clock hlc, which
 * moved the count from before to after: a change, and the milestones
 * crossed (their levels in w). Nothing when the feed is off. 0, or the
 * store's error (a level not loaded). */
int apply_feed_change(apply_feed *f, apply_ws *w, const wire_op *op, bool is_set, bool member,
                      uint64_t n, const char *region, size_t rn, uint64_t hlc, uint64_t before,
                      uint64_t after);
/* A set op's change of st, made in b's region by a user whose home
 * (op->home) is another: the event on that region's home stream. */
void apply_feed_home(apply_feed *f, const wire_batch *b, const wire_op *op, const merge_state *st,
                     uint64_t count);
/* The event of st (op's pair, count after) on the home stream of region
 * home; counted in unrouted when central sends to no such region. */
void apply_feed_home_to(apply_feed *f, const char *home, size_t hn, const wire_op *op,
                        const merge_state *st, uint64_t count);
/* The move m on every home stream (a "home" event, keyed by its user). */
void apply_feed_moved(apply_feed *f, const wire_move *m);

/* Deletes partition p's records of versions from..upto (their events are
 * in the topics) in any store holding them. Never drops a partition's
 * end key. 0, or ERR_IO. */
int feed_records_drop(store *db, uint32_t p, uint64_t from, uint64_t upto) WARN_UNUSED;
/* Writes the end key (CKEY_FEED_END) of each partition below nparts.
 * 0, or ERR_IO. */
int feed_records_close(store *db, uint32_t nparts) WARN_UNUSED;

#endif
