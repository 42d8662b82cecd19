/* load_trace.c - the load's trace (load_types.h, load_trace): each like
 * and unlike as it is first sent and as it ends, and each likes count a
 * count read was answered, with the version the edge named. The end
 * check holds every such answer to the snapshot it names plus the
 * region's own ops central had not applied there (check.h,
 * check_answers). Appended on the loop thread under mu; read by the
 * runner after load_drain.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/drill/load_int.h"
#include "xmem.h"

/* Room for one more in an array of *cap; false at max. */
static bool room(void **a, size_t n, size_t *cap, size_t size, size_t max)
{
	if (n < *cap)
		return true;
	if (n >= max)
		return false;
	size_t want = *cap ? 2 * *cap : 4096;
	if (want > max)
		want = max;
	*a = xrealloc(*a, want * size);
	*cap = want;
	return true;
}

void load_trace_sent(load *l, op *o)
{
	if (!l->o.trace || (o->kind != OP_LIKE && o->kind != OP_UNLIKE))
		return;
	tsa_lock(&l->mu);
	void *a = l->tw;
	if (room(&a, l->ntw, &l->captw, sizeof *l->tw, LOAD_TRACE_WRITES)) {
		l->tw = a;
		l->tw[l->ntw] = (load_write_rec){
		    .user = o->user,
		    .item = o->item,
		    .region = (uint8_t)o->region,
		    .like = o->kind == OP_LIKE,
		    .fate = LOAD_WRITE_OPEN,
		    .sent_us = o->first_us,
		};
		o->trace = (uint32_t)++l->ntw;
	} else {
		l->trace_cut = true;
	}
	tsa_unlock(&l->mu);
}

void load_trace_end(load *l, const op *o, load_write_fate fate, uint64_t hlc, uint64_t at_us)
{
	if (!o->trace)
		return;
	tsa_lock(&l->mu);
	load_write_rec *w = &l->tw[o->trace - 1];
	w->fate = (uint8_t)fate;
	w->inst = (uint8_t)o->inst;
	w->start = l->starts[o->region][o->inst];
	w->hlc = hlc;
	w->end_us = fate == LOAD_WRITE_OPEN ? 0 : at_us;
	tsa_unlock(&l->mu);
}

void load_trace_counts(load *l, const op *o, load_count_rec *recs, size_t n, uint64_t recv_us)
{
	if (!l->o.trace || !n)
		return;
	tsa_lock(&l->mu);
	for (size_t i = 0; i < n; i++) {
		void *a = l->tc;
		if (!room(&a, l->ntc, &l->captc, sizeof *l->tc, LOAD_TRACE_COUNTS)) {
			l->tc_dropped += n - i;
			break;
		}
		l->tc = a;
		recs[i].region = (uint8_t)o->region;
		recs[i].inst = (uint8_t)o->inst;
		recs[i].start = l->starts[o->region][o->inst];
		recs[i].sent_us = o->sent_us;
		recs[i].recv_us = recv_us;
		l->tc[l->ntc++] = recs[i];
	}
	tsa_unlock(&l->mu);
}

void load_get_trace(load *l, load_trace *out)
{
	tsa_lock(&l->mu);
	*out = (load_trace){
	    .writes = l->tw,
	    .nwrites = l->ntw,
	    .counts = l->tc,
	    .ncounts = l->ntc,
	    .items = l->o.items,
	    .users = l->o.users,
	    .complete = !l->trace_cut,
	    .counts_dropped = l->tc_dropped,
	};
	tsa_unlock(&l->mu);
}

void load_trace_free(load *l)
{
	free(l->tw);
	free(l->tc);
}
