/* ledger_replica.c - the edge's complete replica of central's counts
 * (ledger.h): per partition, whether every count central has is here.
 * Loading central's checkpoints into it is ledger_checkpoint.c's.
 *
 * A partition's replica is complete once a whole checkpoint of it has
 * been loaded: every count central held at the checkpoint's version, on
 * top of which the snapshot stream (tailed from a point before the
 * checkpoint was read) brings every later change. From then on an item
 * with no count here is 0 at the partition's version, a true answer.
 *
 * The state lives in the 'R' partition key, written in the same store
 * write as the counts it describes:
 *   [state u8][lowest version u64][highest version u64][loaded u64]
 *   [resume key: "counter 0 item", the last count loaded; may be empty]
 * A load cut off by a broken connection or a restart resumes after that
 * key, from a later read of central's store. Its messages then carry a
 * later version than the first ones: the partition counts as complete
 * only to the lowest, so the snapshots between the two are applied (each
 * count checked against the version stored with it) rather than skipped
 * as stale.
 *
 * Owns struct replica (replica_int.h: under the writer mutex), below
 * every other concept: it reads the store and calls no other file of
 * the ledger, and the view and the outbox ask it whether a partition is
 * complete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/ledger/ledger_int.h"
#include "xmem.h"

/* replica_int.h */
void ledger_replica_put(store_batch *wb, uint32_t p, const replica_part *rp)
{
	unsigned char val[REPLICA_HEAD + KEY_MAX];
	char key[EKEY_PART_LEN];
	val[0] = (unsigned char)rp->state;
	store_put_u64(val + 1, rp->ckpt_lo);
	store_put_u64(val + 9, rp->ckpt_hi);
	store_put_u64(val + 17, rp->loaded);
	memcpy(val + REPLICA_HEAD, rp->after, rp->after_len);
	store_batch_put(wb, key, ekey_part(key, EKEY_REPLICA, p), val,
	                REPLICA_HEAD + rp->after_len);
}

int ledger_replica_load(ledger *l, char *err, size_t errlen)
{
	char key[EKEY_PART_LEN];
	unsigned char val[REPLICA_HEAD + KEY_MAX];
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		replica_part *rp = &l->replica.parts[p];
		size_t vn;
		int rc = store_get_into(l->db, key, ekey_part(key, EKEY_REPLICA, p), val,
		                        sizeof val, &vn);
		if (rc == ERR_NOTFOUND)
			continue;
		if (rc == 0 && (vn < REPLICA_HEAD || val[0] < LEDGER_REPLICA_LOADING ||
		                val[0] > LEDGER_REPLICA_COMPLETE))
			rc = ERR_CORRUPT;
		if (rc) {
			snprintf(err, errlen, "reading the replica state of partition %u: %s", p,
			         err_str(rc));
			return rc;
		}
		rp->state = val[0];
		rp->ckpt_lo = store_get_u64(val + 1);
		rp->ckpt_hi = store_get_u64(val + 9);
		rp->loaded = store_get_u64(val + 17);
		rp->after_len = vn - REPLICA_HEAD;
		memcpy(rp->after, val + REPLICA_HEAD, rp->after_len);
	}
	return 0;
}

int ledger_replica_get(ledger *l, uint32_t p, ledger_replica *out)
{
	if (p >= l->o.partitions)
		return ERR_INVAL;
	memset(out, 0, sizeof *out);
	ledger_lock(l);
	const replica_part *rp = &l->replica.parts[p];
	out->state = rp->state;
	out->gen = rp->gen;
	out->version = rp->ckpt_lo;
	out->loaded = rp->loaded;
	if (rp->state == LEDGER_REPLICA_LOADING && rp->after_len) {
		const char *z = memchr(rp->after, 0, rp->after_len);
		size_t cl = z ? (size_t)(z - rp->after) : 0;
		size_t il = z ? rp->after_len - cl - 1 : 0;
		if (z && cl && cl <= COUNTER_MAX && il && il <= ITEM_MAX) {
			out->resume = true;
			memcpy(out->counter, rp->after, cl);
			memcpy(out->item, z + 1, il);
		}
	}
	ledger_unlock(l);
	return 0;
}

uint32_t ledger_replica_ready(ledger *l, uint64_t *loaded)
{
	uint32_t n = 0;
	uint64_t sum = 0;
	ledger_lock(l);
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		n += l->replica.parts[p].state == LEDGER_REPLICA_COMPLETE;
		sum += l->replica.parts[p].loaded;
	}
	ledger_unlock(l);
	if (loaded)
		*loaded = sum;
	return n;
}

void ledger_replica_init(ledger *l)
{
	l->replica.parts = xcalloc(l->o.partitions, sizeof *l->replica.parts);
}

void ledger_replica_free(ledger *l)
{
	free(l->replica.parts);
	l->replica.parts = NULL;
}

uint64_t ledger_replica_ckpt_hi(const ledger *l, uint32_t p)
{
	return l->replica.parts[p].ckpt_hi;
}

bool ledger_replica_complete(const ledger *l, uint32_t p)
{
	return l->replica.parts[p].state == LEDGER_REPLICA_COMPLETE;
}
