/* ledger_count.c - the count write that snapshot messages (ledger.c)
 * and checkpoint messages (ledger_checkpoint.c) share (count_write,
 * ledger_int.h): the store write outside the writer mutex, what it wrote
 * put before readers (the count cache, the confirmation, the partition's
 * view), and its end. Above the view, the outbox and its confirmation,
 * which it calls; called by the two files that apply messages.
 */
#include "edge/ledger/ledger_int.h"

#include <stdlib.h>

#include "failpoint.h"
#include "log.h"

/* The write of w's store batch (the count writers' snap_wb), outside the
 * writer mutex: with store.sync its fsync too. Confirmed batches are
 * read first, as the write deletes them. Readers go on meanwhile, from
 * the store as it was (ledger_int.h). Likes stage and commit, batches
 * seal and go out: none of that touches what this write does (counts
 * and snapshot positions: only cmu's holders write those; the confirmed
 * batches: sealed long ago, kept from the sender while confirming). */
void ledger_count_store(ledger *l, count_write *w)
{
	if (w->confirm)
		ledger_confirm_read(&l->outbox, w->p, &w->conf);
	/* The confirmed batches' deletion to the changelog first, as a hint:
	 * should it fail, a store rebuilt from the log holds them again and
	 * sends them again, and central drops them as repeats. */
	int rep = ERR_INVAL;
	if (w->conf.rep) {
		rep = ledger_log_copy(l, w->conf.rep, false);
		if (rep)
			log_warn("confirmed batches' deletion not copied to the changelog",
			         "partition=%u batches=%zu err=\"%s\"", w->p, w->conf.ndrop,
			         err_str(rep));
	}
	w->rc = rep == 0 ? ledger_log_write(l, l->snap_wb, w->conf.rep, false)
	                 : store_write(l->db, l->snap_wb);
	if (w->rc == 0 && w->conf.ndrop)
		FAILPOINT("confirm.written"); /* applied batches deleted, memory not yet */
}

void ledger_count_begin(ledger *l, count_write *w)
{
	ledger_view_begin(&l->view, w->p);
}

void ledger_count_show(ledger *l, count_write *w)
{
	/* The new counts, the overlay without the confirmed batches and the
	 * new version, all at once for a reader. */
	vstripe *vs = ledger_vstripe(&l->view, w->p);
	ledger_vlock_stripe(&l->view, vs);
	if (w->rc == 0) {
		ledger_cache_counts(&l->view, w->s, w->skip, w->only_cached);
		if (w->confirm)
			ledger_confirm_view(&l->outbox, w->p, w->confirm, &w->conf);
		ledger_view_publish(&l->view, w->p, ledger_outbox_said(&l->outbox, w->p));
	}
	ledger_view_end(&l->view, w->p);
	ledger_vunlock(&l->view, vs);
	if (w->rc && w->confirm)
		ledger_confirm_abort(&l->outbox, w->p);
}

int ledger_count_done(ledger *l, count_write *w)
{
	if (w->pump)
		ledger_pump(l);
	ledger_confirm_free(&w->conf);
	free(w->skip);
	return w->rc;
}
