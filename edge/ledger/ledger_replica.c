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
 * every other concept: it is given the store to read and calls no other
 * file of the ledger, nor sees struct ledger; the view and the outbox ask
 * it whether a partition is complete, and ledger.c's ledger_replica_get
 * and ledger_replica_ready take the writer mutex around its answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/ledger/replica_int.h"
#include "err.h"
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

int ledger_replica_load(struct replica *r, store *db, char *err, size_t errlen)
{
	char key[EKEY_PART_LEN];
	unsigned char val[REPLICA_HEAD + KEY_MAX];
	for (uint32_t p = 0; p < r->n; p++) {
		replica_part *rp = &r->parts[p];
		size_t vn;
		int rc =
		    store_get_into(db, key, ekey_part(key, EKEY_REPLICA, p), val, sizeof val, &vn);
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

void ledger_replica_say(const struct replica *r, uint32_t p, ledger_replica *out)
{
	memset(out, 0, sizeof *out);
	const replica_part *rp = &r->parts[p];
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
}

uint32_t ledger_replica_count_ready(const struct replica *r, uint64_t *loaded)
{
	uint32_t n = 0;
	uint64_t sum = 0;
	for (uint32_t p = 0; p < r->n; p++) {
		n += r->parts[p].state == LEDGER_REPLICA_COMPLETE;
		sum += r->parts[p].loaded;
	}
	if (loaded)
		*loaded = sum;
	return n;
}

void ledger_replica_init(struct replica *r, uint32_t partitions)
{
	r->parts = xcalloc(partitions, sizeof *r->parts);
	r->n = partitions;
}

void ledger_replica_free(struct replica *r)
{
	free(r->parts);
	r->parts = NULL;
	r->n = 0;
}

const replica_part *ledger_replica_part(const struct replica *r, uint32_t p)
{
	return &r->parts[p];
}

void ledger_replica_set(struct replica *r, uint32_t p, const replica_part *rp)
{
	r->parts[p] = *rp;
}

uint64_t ledger_replica_ckpt_hi(const struct replica *r, uint32_t p)
{
	return r->parts[p].ckpt_hi;
}

bool ledger_replica_complete(const struct replica *r, uint32_t p)
{
	return r->parts[p].state == LEDGER_REPLICA_COMPLETE;
}
