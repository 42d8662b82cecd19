/* homes.h - the home stream's follower: the membership changes central
 * applied for users at home in this edge's region that were made in
 * another region (roaming, failover), read from the region's home topic
 * (topics.home_prefix + edge.region; docs/events.md, "Home streams") into
 * the store through ledger_home_apply, so that this edge knows its users'
 * pairs wherever they acted.
 *
 * Driven by the upstream thread (homes_poll every turn). Only an active
 * instance reads: a follower (a standby) gets the same writes, in order
 * with the rest, through the changelog, and starts reading from the
 * positions they carry when it takes over. Positions live in the store
 * ('H' per partition), written with the memberships they cover: a
 * restart, or a new active, resumes exactly there. The stats are atomics
 * any thread may read.
 */
#ifndef EDGE_HOMES_H
#define EDGE_HOMES_H

#include <stdint.h>

#include "counter.h"
#include "edge/config/edge.h"
#include "edge/ledger/ledger.h"
#include "metrics.h"

typedef struct homes homes;

/* The follower of cfg's home topic; nothing is read before homes_poll.
 * Its counters go to reg. NULL with the reason in err. */
homes *homes_new(const edge_config *cfg, const counters *ctr, ledger *lg, metrics *reg, char *err,
                 size_t errlen);
/* Reads up to max messages and applies them in one group commit; a
 * commit that must wait (ERR_AGAIN) or fails keeps them for the next
 * turn. */
void homes_poll(homes *h, int max);

/* Loads of the region's memberships from central's checkpoint, for the
 * bootstrap thread (bootstrap.h): a partition without a horizon wants
 * one, numbered, from when the stream's position there was taken. The
 * number of the load partition p wants (0: none) with *mark, the batch
 * topic's end then: a checkpoint whose version's offset is below it
 * lacks ops made before and must not be taken. And the report that load
 * gen has put every membership central had into the store: the next
 * homes_poll gives p the horizon index_from, the version from which
 * central's index held every change (0: all of them; more for a central
 * store older than its index, whose older pairs stay unknown here). Any
 * thread; h may be NULL. */
uint32_t homes_load_wanted(homes *h, uint32_t p, int64_t *mark);
void homes_load_done(homes *h, uint32_t p, uint32_t gen, uint64_t index_from);
/* The region whose users' memberships the stream brings. */
const char *homes_region(const homes *h);
void homes_free(homes *h);

typedef struct homes_stats {
	uint64_t applied; /* events that changed a pair here */
	uint64_t older;   /* events older than the pair's state here: kept it */
	uint64_t bad;     /* messages that are not a set counter's change: skipped */
	uint64_t gaps;    /* offsets the topic no longer had when read (retention) */
	uint64_t retries; /* turns that kept their events for the next */
} homes_stats;

void homes_get_stats(const homes *h, homes_stats *out);

#endif
