/* records_int.h - the ledger's pending ops and the store records that hold
 * them ('G' group records, 'P' runs, 'O' single ops), encoded and
 * strictly decoded by records.c, and the pair key every concept hashes
 * an op's counter and item into. Pure: any thread. Private to
 * edge/ledger/ (ledger_int.h includes it).
 */
#ifndef EDGE_LEDGER_RECORDS_INT_H
#define EDGE_LEDGER_RECORDS_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "edge/ledger/keys.h"
#include "edge/ledger/ledger.h"
#include "memacct.h"
#include "partition.h"
#include "smap.h"
#include "tsa.h"

#define KEY_MAX EKEY_MEMBER_MAX

/* The ledger's writer mutex and count writers' mutex (ledger_int.h), as
 * clang's thread safety analysis names them (tsa.h), so that functions
 * declared before struct ledger is whole can say which they need.
 * Declared for the analysis only: never called, never defined. */
tsa_mutex *ledger_writer_mu(ledger *l);
tsa_mutex *ledger_counts_mu(ledger *l);
#define LEDGER_MU(l) (*ledger_writer_mu(l))
#define LEDGER_CMU(l) (*ledger_counts_mu(l))

typedef struct pend_op {
	char *counter, *item, *user; /* one allocation, at counter */
	char *home;                  /* in it too: the user's home region when it is
	                                another than this edge's (central sends the
	                                change there), else NULL */
	uint8_t kind;
	uint32_t n;
	uint64_t hlc;
	uint64_t opno;
	bool counts; /* moves the overlay (a repeat of the known state does not) */
	bool sum;    /* of a sum counter: sealed into a per-item sum, no user */
} pend_op;

/* The store records holding an open batch's ops: 'G' gno (a group
 * record: the ops one group commit wrote, in every partition it
 * touched), 'P' partition opno (a run: one group's ops in one
 * partition, for a partition waiting for its checkpoint, and in older
 * stores) or, from older stores, 'O' partition opno (one op). A record goes
 * in the write of the seal that seals its last op; until then a restart
 * reads back only its ops at or above their partition's sealed_to ('S'),
 * so a seal never rewrites a record other partitions still need. */
typedef struct pend_rec {
	char key[EKEY_PART_SEQ_LEN];
	uint8_t kn;
	uint32_t left; /* its ops not sealed yet */
} pend_rec;

/* A stretch of a partition's open batch whose ops are in one record
 * (one per record and partition). The record is freed by the seal that
 * takes its last open op. */
typedef struct op_run {
	pend_rec *rec;
	uint32_t n; /* ops in the stretch */
} op_run;

/* A pending op's encoding; buf holds OP_ENC_MAX bytes. */
#define OP_ENC_MAX (32 + KEY_MAX + 1 + EDGE_ID_MAX)
size_t ledger_op_encode(const pend_op *op, unsigned char *buf);
/* The size ledger_op_encode gives an op whose strings are cl, il, ul
 * and hl (the home region; 0: none) bytes long. */
static inline size_t ledger_op_size(size_t cl, size_t il, size_t ul, size_t hl)
{
	return 14 + 3 + cl + il + ul + (hl ? 1 + hl : 0);
}
/* ledger_op_size of op. */
static inline size_t ledger_op_bytes(const pend_op *op)
{
	return ledger_op_size(strlen(op->counter), strlen(op->item), strlen(op->user),
	                      op->home ? strlen(op->home) : 0);
}
/* A run record ('P'): [format u8 = RUN_FORMAT][nops u32][op encoding]... */
#define RUN_FORMAT 1
#define RUN_HEAD 5
/* Writes the head of a run of nops ops into buf. */
void ledger_run_head(unsigned char *buf, uint32_t nops);
/* A group record ('G'): [format u8 = GREC_FORMAT][parts u32], then per
 * partition the group touched: [partition u32][first opno u64][nops u32]
 * and those ops in opno order (ledger_op_encode). */
#define GREC_FORMAT 2
#define GREC_HEAD 5
#define GREC_PART_HEAD 16
#define GREC_MAX (GREC_HEAD + (size_t)LEDGER_GROUP_OPS * (GREC_PART_HEAD + OP_ENC_MAX))
/* One partition's part of a group record, decoded. */
typedef struct grec_part {
	uint32_t p;
	uint32_t n;
	pend_op *ops; /* n, numbered from the part's first opno */
} grec_part;
/* A pending op with its strings in one allocation (at counter); home
 * is hl bytes, none when hl is 0. */
pend_op ledger_op_make(const char *counter, const char *item, const char *user, const char *home,
                       size_t cl, size_t il, size_t ul, size_t hl);
/* The heap bytes of that allocation (memacct_chunk). */
static inline size_t ledger_op_heap(const pend_op *op)
{
	const char *last = op->home ? op->home : op->user;
	return memacct_chunk((size_t)(last - op->counter) + strlen(last) + 1);
}
/* Decodes a record holding one op ('O'): 0 or ERR_CORRUPT. */
int ledger_op_decode(const unsigned char *buf, size_t len, pend_op *op);
/* The ops of a run record ('P'), first at opno: *ops (malloc'ed) and *n.
 * ERR_CORRUPT unless the record holds exactly its count of whole ops. */
int ledger_run_decode(const unsigned char *buf, size_t len, uint64_t opno, pend_op **ops,
                      uint32_t *n);
/* The parts of a group record: *parts (malloc'ed, each part's ops too)
 * and *nparts. ERR_CORRUPT unless the record holds exactly its parts
 * and ops, each part of a partition below partitions, none twice. */
int ledger_grec_decode(const unsigned char *buf, size_t len, uint32_t partitions, grec_part **parts,
                       uint32_t *nparts);
/* Frees decoded parts and the ops still in them (op.counter not NULL). */
void ledger_grec_free(grec_part *parts, uint32_t nparts);

/* What an op adds to the overlay. */
static inline int64_t ledger_op_delta(uint8_t kind, uint32_t n, bool counts)
{
	if (!counts)
		return 0;
	return kind == WIRE_ADD ? (int64_t)n : -(int64_t)n;
}

/* A (counter, item) as the view's maps key it ("counter 0 item"), with
 * its smap_hash and its item's partition: made once per op or read and
 * passed down, so no step hashes the item again. */
typedef struct pair_key {
	char key[EKEY_PAIR_MAX];
	size_t kn;
	uint32_t h; /* smap_hash(key, kn) */
	uint32_t p; /* partition_of(item) */
} pair_key;

static inline void ledger_pair_make(pair_key *k, const char *counter, size_t cl, const char *item,
                                    size_t il, uint32_t partitions)
{
	k->kn = ekey_pair(k->key, counter, cl, item, il);
	k->h = smap_hash(k->key, k->kn);
	k->p = partition_of(item, il, partitions);
}

#endif
