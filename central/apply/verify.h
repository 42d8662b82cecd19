/* verify.h - recounting central's derived numbers from the memberships,
 * and repairing the ones that disagree.
 *
 * A set counter's count ('C' key) is the number of present memberships
 * ('S' keys) of its item; each present membership also puts one unit in
 * the 'R' bucket of its region and the 'Y' bucket of the UTC day of its
 * hlc (keys.h, apply.h). verify_scan walks the 'S', 'C', 'R' and 'Y'
 * keys of each set counter together, in key order, one (counter, item)
 * at a time, so its memory is bounded by one item's buckets, never by
 * the store. It reports every number that differs from its recount: a
 * count or bucket that is wrong, missing, or stored for an item with no
 * present membership (which must be 0 or absent). Sum counters keep no
 * memberships: their counts cannot be recounted and are skipped (the
 * totals say how many counters were).
 *
 * verify_repair writes the recounted values. It re-reads each item as
 * the store holds it at that moment, so it must run where no other
 * writer can change the item meanwhile: on central's run-loop thread,
 * between two messages (central.c), or with central stopped. A value
 * read between the scan and the repair is never written back.
 *
 * verify_scan and verify_item read only a store_snap, so any thread may
 * call them. Strings in a verify_mismatch are validated names (counters,
 * items, regions), safe to print without escaping.
 */
#ifndef CENTRAL_VERIFY_H
#define CENTRAL_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "central/apply/apply.h"
#include "counter.h"
#include "err.h"
#include "central/apply/keys.h"
#include "store.h"

#define VERIFY_WHAT_MAX (8 + EDGE_ID_MAX + 1)

/* One number that disagrees with its recount. */
typedef struct verify_mismatch {
	char counter[COUNTER_MAX + 1];
	char item[ITEM_MAX + 1];
	char kind;                   /* 'C' count, 'R' region bucket, 'Y' day bucket */
	char what[VERIFY_WHAT_MAX];  /* "count", "region=eu", "day=2024-10-04" */
	unsigned char key[CKEY_MAX]; /* the store key */
	size_t kn;
	bool stored_present; /* the key exists */
	bool stored_bad;     /* it exists but does not hold 8 bytes */
	uint64_t stored;     /* 0 when absent or bad */
	uint64_t expected;
} verify_mismatch;

typedef struct verify_totals {
	uint64_t items;            /* (counter, item) pairs checked */
	uint64_t memberships;      /* 'S' keys read */
	uint64_t present;          /* of those, present */
	uint64_t mismatches;       /* numbers that disagree */
	uint64_t items_mismatched; /* items with at least one */
	uint64_t bad_states;       /* 'S' values that do not decode (not counted) */
	uint64_t bad_keys;         /* keys whose item or suffix is malformed (skipped) */
	uint64_t sum_counters;     /* counters skipped: sums cannot be recounted */
	uint64_t repaired;         /* numbers written by verify_repair */
} verify_totals;

/* Called for each mismatch (verify_scan, verify_item) or each fix made
 * (verify_repair); m is valid during the call only. */
typedef void (*verify_fn)(void *ctx, const verify_mismatch *m);

/* Checks every set counter of ctr over the view sn. t is zeroed first.
 * 0, or ERR_IO when the store could not be read (t then covers what was
 * checked). */
int verify_scan(store_snap *sn, const counters *ctr, verify_fn fn, void *ctx,
                verify_totals *t) WARN_UNUSED;

/* Checks one (counter, item) of a set counter over sn; adds to *t. */
int verify_item(store_snap *sn, const char *counter, const char *item, verify_fn fn, void *ctx,
                verify_totals *t) WARN_UNUSED;

/* A (counter, item) to repair. */
typedef struct verify_target {
	char counter[COUNTER_MAX + 1];
	char item[ITEM_MAX + 1];
} verify_target;

/* Re-checks each of the n targets against the store as it is now and
 * writes, in one atomic write per item, the recounted value of each
 * mismatched key (a count is written even at 0; a bucket whose value
 * should be 0 is deleted, as the applier does). Each fix is logged
 * (msg="repaired" counter item key old new), handed to fn, and, when a
 * is not NULL, to applier_note_repair so the applier's cache forgets the
 * old value and the next snapshot carries the new count. Targets that
 * are not set counters of ctr are skipped. Call only where nothing else
 * writes the store (see above). 0, or ERR_IO (items before the failing
 * one stay repaired). Adds to *t. */
int verify_repair(store *db, const counters *ctr, applier *a, const verify_target *targets,
                  size_t n, verify_fn fn, void *ctx, verify_totals *t) WARN_UNUSED;

/* A collector for verify_fn: keeps the first cap mismatches (any
 * number may come; `seen` counts them) and the distinct (counter, item)
 * pairs of the first cap_targets of them, in order. */
typedef struct verify_report {
	verify_totals t;
	verify_mismatch *m;
	size_t n, cap;
	uint64_t seen;
	verify_target *targets;
	size_t ntargets, cap_targets;
	bool targets_truncated; /* a mismatched item did not fit in targets */
} verify_report;

void verify_report_init(verify_report *r, size_t cap, size_t cap_targets);
void verify_report_free(verify_report *r);
/* The verify_fn of a report (ctx = the verify_report). */
void verify_report_add(void *ctx, const verify_mismatch *m);

#endif
