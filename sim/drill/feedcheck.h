/* feedcheck.h - the change feed's replay check (docs/events.md is the
 * contract it holds central to), without Kafka: the events read back
 * from likes.changes and likes.milestones go in, with the drill's ground
 * truth, and the figures and the first violations come out.
 *
 * Per topic: no event id twice (a repeat is counted and skipped), ids
 * strictly increasing along each partition (feedev_id_cmp against the
 * highest id the partition gave so far, the rule a consumer drops
 * repeats by), each event in its item's partition, under its item as
 * the key, and of its topic's types.
 *
 * Changes are replayed in order per partition: a "set" must flip its
 * (counter, item, user) pair (one that leaves it as it was is a no-op
 * event), a "sum" adds n, and each event's count must be the replayed
 * count of (counter, item) right after it (members of a set counter, the
 * sum of a sum counter). What the replay ends with must equal the truth:
 * every pair's membership and every (counter, item)'s count.
 *
 * Milestones: for each (counter, item), every configured threshold that
 * the running highest `count` of its change events reached must have
 * exactly one milestone event, made by the message whose change reached
 * it first (the same epoch, partition and offset in their ids), and
 * nothing else may be there.
 *
 * The two topics may be fed in either order; each partition's events of
 * a topic in the order the partition holds them. Pure. One owner.
 */
#ifndef SIM_FEEDCHECK_H
#define SIM_FEEDCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feedev.h"

#define FEEDCHECK_THRESHOLDS_MAX 16
#define FEEDCHECK_EXAMPLES_MAX 12 /* violations kept as text */

typedef struct feedcheck feedcheck;

enum feedcheck_topic { FEEDCHECK_CHANGES = 0, FEEDCHECK_MILESTONES = 1 };

/* One topic's messages. Every field but events counts violations. */
typedef struct feedcheck_topic_figures {
	uint64_t events;       /* messages read */
	uint64_t undecodable;  /* refused by feedev_decode */
	uint64_t lost;         /* gone before the partition's first offset */
	uint64_t duplicates;   /* an id the topic held before (then skipped) */
	uint64_t out_of_order; /* an id not above the partition's highest so far */
	uint64_t misplaced;    /* another partition than its item's or its id's,
	                        * a key other than its item, the other topic's type */
} feedcheck_topic_figures;

typedef struct feedcheck_figures {
	feedcheck_topic_figures changes, milestones;
	/* The replay of the changes topic. */
	uint64_t noop;           /* set events that left their pair's state unchanged */
	uint64_t count_mismatch; /* events whose count is not the replayed count */
	uint64_t pairs_in;       /* pairs the replay ends with in */
	uint64_t counts;         /* (counter, item)s the replay or the truth has */
	uint64_t pair_mismatch;  /* pairs whose replayed membership is not the truth's */
	uint64_t state_mismatch; /* (counter, item)s whose replayed count is not the truth's */
	/* Milestones: (counter, item, threshold) keys. */
	uint64_t ms_expected;     /* thresholds the replayed counts reached */
	uint64_t ms_seen;         /* milestone events (repeats of an id left out) */
	uint64_t ms_missing;      /* expected, none seen */
	uint64_t ms_extra;        /* seen, not expected; and each one past the first */
	uint64_t ms_wrong_origin; /* expected and seen, but not made by the message
	                           * whose change reached the threshold first */
	/* The thresholds checked (as given), and how many (counter, item)s
	 * reached each: what the drill's counts got to. */
	uint64_t thresholds[FEEDCHECK_THRESHOLDS_MAX];
	uint64_t reached[FEEDCHECK_THRESHOLDS_MAX];
	size_t nthresholds;
} feedcheck_figures;

/* A checker for a topic of `partitions` partitions and the thresholds
 * central was given (at most FEEDCHECK_THRESHOLDS_MAX, any order; more
 * are ignored). Free with feedcheck_free. */
feedcheck *feedcheck_new(unsigned partitions, const uint64_t *thresholds, size_t nthresholds);
void feedcheck_free(feedcheck *fc);

/* An event read from partition `partition` of topic t, key its message's
 * key (NULL: none). e's strings are read during the call only. */
void feedcheck_add(feedcheck *fc, enum feedcheck_topic t, unsigned partition, const void *key,
                   size_t keylen, const feedev *e);
/* A message feedev_decode refused (rc its code), at partition/offset. */
void feedcheck_undecodable(feedcheck *fc, enum feedcheck_topic t, unsigned partition,
                           int64_t offset, int rc);
/* The partition's first offset is first, not 0: first messages are gone. */
void feedcheck_lost(feedcheck *fc, enum feedcheck_topic t, unsigned partition, int64_t first);

/* The truth: (counter, item)'s count, for every one an acknowledged op
 * touched; and each (counter, item, user) pair that is in (a set
 * counter's membership). Any time before feedcheck_finish. */
void feedcheck_truth_count(feedcheck *fc, const char *counter, const char *item, uint64_t count);
void feedcheck_truth_member(feedcheck *fc, const char *counter, const char *item, const char *user);

/* Compares the replay with the truth and the milestones with the
 * replay; fills out. Call once, after everything went in. */
void feedcheck_finish(feedcheck *fc, feedcheck_figures *out);
/* The violations in out, all kinds summed; 0 when the feed held. */
uint64_t feedcheck_violations(const feedcheck_figures *f);
/* The first violations as text (FEEDCHECK_EXAMPLES_MAX at most, and a
 * few of each kind, so one kind does not hide the others), in the order
 * found; valid until feedcheck_free. */
size_t feedcheck_examples(const feedcheck *fc, const char *const **out);

#endif
