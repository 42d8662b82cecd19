/* ledger_seal.c - sealing and sending around the writer mutex
 * (ledger_int.h): a seal's steps, one seal at a time, with its encoding
 * and store write (copied to the changelog first) made with the mutex
 * let go; the seals that are due; the pump, which sends the sealed
 * batches and reads from the store, with the mutex let go, those whose
 * bytes are not in memory; and delivery reports.
 *
 * Owns struct sealer (the one seal under way, and its store batch). The
 * batches themselves are the outbox's (ledger_outbox.c): this file calls
 * its steps between lock scopes and never reads its fields.
 */
#include "edge/ledger/ledger_int.h"

#include <inttypes.h>
#include <stdlib.h>

#include "clock.h"
#include "failpoint.h"
#include "log.h"
#include "xmem.h"

void ledger_sealer_init(struct sealer *s)
{
	*s = (struct sealer){.wb = store_batch_new()};
	pthread_cond_init(&s->done, NULL);
}

void ledger_sealer_free(struct sealer *s)
{
	if (!s->wb)
		return;
	store_batch_free(s->wb);
	s->wb = NULL;
	pthread_cond_destroy(&s->done);
}

/* --- sealing ---------------------------------------------------------------- */

/* Takes what p's open batch has to seal into j, after any seal under
 * way (one at a time, so that the record counts it takes off stand
 * until its write is known to have failed or not), and marks a seal
 * under way. false: nothing to seal. Mutex held (let go while it
 * waits). */
static bool seal_take(ledger *l, uint32_t p, ledger_seal_why why, uint64_t upto, uint64_t wall_ms,
                      seal_job *j) TSA_REQUIRES(LEDGER_MU(l))
{
	struct sealer *s = &l->sealer;
	while (s->sealing) {
		s->waiters++;
		ledger_wait(l, &s->done);
		s->waiters--;
	}
	store_batch_clear(s->wb);
	if (!ledger_outbox_take(&l->outbox, p, why, upto, wall_ms, s->wb, j))
		return false;
	s->sealing = true;
	return true;
}

/* The seal's work outside the mutex (writes go on staging meanwhile, and
 * groups on joining the open batches): the wire batch encoded, and its
 * store write with the records' deletions (the sealer's batch, the
 * sealing seal's alone). */
static void seal_run(ledger *l, void *ctx)
{
	seal_job *j = ctx;
	store_batch *wb = l->sealer.wb;
	uint64_t c0 = clock_thread_cpu_ns();
	ledger_outbox_encode(&l->outbox, j, wb);
	if (j->rc == 0) {
		FAILPOINT("seal.encoded");
		/* Replicated before it is written, and so before it is sent:
		 * no batch reaches central that the changelog does not hold. */
		j->rc = ledger_log_copy(l, wb, false);
		if (j->rc == 0) {
			FAILPOINT("seal.copied");
			j->rc = ledger_log_write(l, wb, wb, false);
		}
		if (j->rc == 0)
			FAILPOINT("seal.written");
	}
	j->cpu_ns = clock_thread_cpu_ns() - c0;
}

/* What the seal made, freed outside the mutex: up to batch.max_ops frees. */
static void seal_release(ledger *l, void *ctx)
{
	ledger_outbox_release(&l->outbox, ctx);
}

int ledger_seal(ledger *l, uint32_t p, uint64_t wall_ms, ledger_seal_why why, uint64_t upto)
{
	seal_job j;
	if (!seal_take(l, p, why, upto, wall_ms, &j))
		return 0;
	ledger_outside(l, seal_run, &j);
	/* Either way the next seal may go. */
	l->sealer.sealing = false;
	pthread_cond_broadcast(&l->sealer.done);
	ledger_outbox_settle(&l->outbox, &j);
	ledger_outside(l, seal_release, &j);
	return j.rc;
}

void ledger_seal_full(ledger *l, uint32_t p, uint64_t wall_ms)
{
	while (ledger_outbox_full(&l->outbox, p) && ledger_outbox_can_seal(&l->outbox, p)) {
		int rc = ledger_seal(l, p, wall_ms, LEDGER_SEAL_OPS, UINT64_MAX);
		if (rc) {
			log_error("sealing failed; the ops stay pending", "partition=%u err=\"%s\"",
			          p, err_str(rc));
			return;
		}
	}
}

int ledger_seal_each_due(ledger *l, uint64_t wall_ms, bool force)
{
	int rc = 0;
	for (uint32_t p = 0; p < l->o.partitions; p++) {
		ledger_seal_why why;
		uint64_t upto;
		if (!ledger_outbox_due(&l->outbox, p, wall_ms, force, &why, &upto))
			continue;
		/* A backlog larger than one batch leaves in several: the ops
		 * open now, not those that come while a seal writes (with the
		 * mutex let go), which would keep this loop going. */
		while (ledger_outbox_first_open(&l->outbox, p) <= upto) {
			int r = ledger_seal(l, p, wall_ms, why, upto);
			/* A copy the changelog refused (each waits its
			 * timeout): no other seal would fare better this
			 * tick, and the tick has snapshots to apply. */
			if (r == ERR_TIMEOUT || r == ERR_KAFKA)
				return r;
			if (r) {
				if (!rc)
					rc = r;
				break;
			}
		}
	}
	return rc;
}

/* --- sending ---------------------------------------------------------------- */

/* What ledger_pump reads outside the mutex: per partition, the batch its
 * send stopped at, and the bytes read. */
typedef struct pump_read {
	uint32_t np;
	uint64_t *want; /* per partition: the sequence to read, or 0 */
	char **buf;
	size_t *len;
} pump_read;

static void pump_read_store(ledger *l, void *ctx)
{
	pump_read *r = ctx;
	for (uint32_t p = 0; p < r->np; p++) {
		if (!r->want[p])
			continue;
		char key[EKEY_PART_SEQ_LEN];
		int rc = store_get(l->db, key, ekey_part_seq(key, EKEY_BATCH, p, r->want[p]),
		                   &r->buf[p], &r->len[p]);
		if (rc == 0)
			continue;
		/* Confirmed meanwhile (deleted), it is no longer sent; any other
		 * failure waits for the next pump. */
		if (rc != ERR_NOTFOUND)
			log_error("sealed batch unreadable",
			          "partition=%u seq=%" PRIu64 " err=\"%s\"", p, r->want[p],
			          err_str(rc));
		r->buf[p] = NULL;
	}
}

/* The rounds of a pump: under the mutex each partition sends what it can
 * and names the next batch it must read; the reads run with the mutex let
 * go, and the next round sends what is still unsent. A partition whose
 * read failed sits out the rest of this pump, and there are at most as
 * many rounds as batches sealed when it began. */
void ledger_pump(ledger *l)
{
	if (ledger_following(l))
		return; /* nothing of its own to send */
	uint32_t np = l->o.partitions;
	pump_read r = {np, xcalloc(np, sizeof *r.want), xcalloc(np, sizeof *r.buf),
	               xcalloc(np, sizeof *r.len)};
	bool *out = xcalloc(np, sizeof *out);
	ledger_lock(l);
	/* At most a round per batch sealed now: delivery reports that put
	 * batches back to unsent meanwhile wait for the next pump. */
	size_t rounds = 1 + ledger_outbox_nsealed(&l->outbox);
	for (bool wanted = true; wanted && rounds--;) {
		wanted = false;
		for (uint32_t p = 0; p < np; p++) {
			uint64_t asked = r.want[p];
			batch_bytes have = {asked, r.buf[p], r.len[p]};
			bool got = asked && r.buf[p];
			uint64_t next =
			    out[p] ? 0 : ledger_outbox_send(&l->outbox, p, got ? &have : NULL);
			if (next && next == asked && !got) { /* its read failed */
				out[p] = true;
				next = 0;
			}
			r.want[p] = next;
			free(r.buf[p]);
			r.buf[p] = NULL;
			wanted |= r.want[p] != 0;
		}
		if (wanted)
			ledger_outside(l, pump_read_store, &r);
	}
	ledger_unlock(l);
	free(out);
	free(r.want);
	free(r.buf);
	free(r.len);
}

void ledger_delivered(ledger *l, uint32_t partition, uint64_t seq, int64_t offset)
{
	if (partition >= l->o.partitions)
		return;
	ledger_lock(l);
	ledger_outbox_delivered(&l->outbox, partition, seq, offset);
	ledger_unlock(l);
}
