/* replica_int.h - struct replica, owned by ledger_replica.c: per partition, the
 * replica's load from central's checkpoints, and the only functions
 * other files call on it. Private to edge/ledger/ (ledger_int.h
 * includes it; the locks are its).
 */
#ifndef EDGE_LEDGER_REPLICA_INT_H
#define EDGE_LEDGER_REPLICA_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/ledger/records_int.h"
#include "store.h"

/* An 'R' record: [state u8][lowest version u64][highest version u64]
 * [loaded u64], then the resume key (ledger_replica.c). */
#define REPLICA_HEAD 25

typedef struct replica_part {
	/* LEDGER_REPLICA_*, the lowest and highest version of the checkpoint
	 * messages loaded, the counts loaded, and where a cut-off load
	 * resumes ("counter 0 item"). */
	int state;
	uint32_t gen; /* moves with every start of a load (not stored) */
	uint64_t ckpt_lo, ckpt_hi;
	uint64_t loaded;
	char after[KEY_MAX];
	size_t after_len;
} replica_part;

/* The replica's load, per partition. Under mu; whether a partition is
 * complete reaches readers through ledger_view_publish. Only
 * ledger_replica.c changes it; the checkpoint loader builds a partition's
 * next state in a copy and hands it over (ledger_replica_set). */
struct replica {
	replica_part *parts;
	uint32_t n; /* partitions */
};

void ledger_replica_init(struct replica *r, uint32_t partitions);
void ledger_replica_free(struct replica *r);
/* Reads the partitions' replica records from db at start-up: 0 or ERR_*. */
int ledger_replica_load(struct replica *r, store *db, char *err, size_t errlen);
/* Partition p's state (p < r->n). */
const replica_part *ledger_replica_part(const struct replica *r, uint32_t p);
/* rp takes the place of p's state, once its 'R' record is written. */
void ledger_replica_set(struct replica *r, uint32_t p, const replica_part *rp);
/* The highest version of the checkpoint messages p has loaded: below
 * it a snapshot's counts are checked against the stored versions. cmu
 * or mu held: a load changes it with both held. */
uint64_t ledger_replica_ckpt_hi(const struct replica *r, uint32_t p);
/* p's replica is complete: every count central had is here. */
bool ledger_replica_complete(const struct replica *r, uint32_t p);
/* What ledger_replica_get says of p (ledger.h). */
void ledger_replica_say(const struct replica *r, uint32_t p, ledger_replica *out);
/* The partitions complete, and the counts loaded in all into *loaded. */
uint32_t ledger_replica_count_ready(const struct replica *r, uint64_t *loaded);
/* Puts rp, partition p's replica state, into wb as its 'R' record. */
void ledger_replica_put(store_batch *wb, uint32_t p, const replica_part *rp);

#endif
