/* apply_thin.h - the sweep of the home index's day keys ('G', keys.h)
 * that nothing reads: the state of a round and its steps (apply_thin.c
 * says how it paces itself). The applier's thread; the two counters may
 * be read from any.
 */
#ifndef CENTRAL_APPLY_THIN_H
#define CENTRAL_APPLY_THIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "central/apply/keys.h"
#include "err.h"
#include "store.h"

/* The sweep of the home index's day keys (apply_thin.c): whether a
 * round is under way and where it resumes (at_n 0: the first 'G' key),
 * the item group (a 'G' key without its day) whose first key it kept
 * last, when the next round is due (mono ms; 0 until the first call),
 * and the round's figures for its log line. */
typedef struct day_thin {
	bool on;
	unsigned char at[CKEY_MAX + 1];
	size_t at_n;
	unsigned char group[CKEY_MAX];
	size_t group_n;
	uint64_t next_ms, round_start_ms, step_ms; /* step_ms: the last step's */
	uint64_t round_read, round_deleted, round_steps, round_max_us;
	store *db;
	_Atomic uint64_t thinned, rounds; /* keys deleted, rounds done: any thread reads */
} day_thin;

/* Runs one step when a round is due (applier_thin_step, apply.h). 0,
 * or the store's error. t zeroed but for db, before the first call. */
int apply_thin_step(day_thin *t, uint64_t now_ms) WARN_UNUSED;
/* Runs the round under way, or a new one, to its end now. */
int apply_thin_round(day_thin *t, uint64_t now_ms) WARN_UNUSED;

#endif
