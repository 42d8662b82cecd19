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
 * complete reaches readers through ledger_view_publish. */
struct replica {
	replica_part *parts;
};

void ledger_replica_init(ledger *l);
void ledger_replica_free(ledger *l);
/* The highest version of the checkpoint messages p has loaded: below
 * it a snapshot's counts are checked against the stored versions. cmu
 * or mu held: a load changes it with both held. */
uint64_t ledger_replica_ckpt_hi(const ledger *l, uint32_t p);
/* p's replica is complete: every count central had is here. */
bool ledger_replica_complete(const ledger *l, uint32_t p);
/* Reads the partitions' replica records at start-up: 0 or ERR_*. */
int ledger_replica_load(ledger *l, char *err, size_t errlen);
/* Puts rp, partition p's replica state, into wb as its 'R' record. */
void ledger_replica_put(store_batch *wb, uint32_t p, const replica_part *rp);

#endif
