/* load_state.c - what the load's parts share below them (load_int.h):
 * its draws (random numbers, Zipf, items, users, regions), an op's
 * claim of its user, an op's ready slot, the pick of a connection, and
 * the hearts' truth a write's answer moves (load_me_note), the stretches
 * with a fault in force (load_set_stalled, load_calm_within). load.c
 * starts ops, load_me.c heart reads and load_http.c sends them all;
 * each calls down into this file, which calls none of them.
 * The loop thread, as load.c says; what is under l->mu is taken there.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "sim/drill/load_int.h"
#include "xmem.h"

/* --- draws ------------------------------------------------------------------ */

/* xorshift64*: fast, and deterministic per seed. */
uint64_t load_rnd(load *l)
{
	uint64_t x = l->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	l->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, 1). */
double load_rnd01(load *l)
{
	return (double)(load_rnd(l) >> 11) * 0x1.0p-53;
}

unsigned load_rnd_below(load *l, unsigned n)
{
	return n ? (unsigned)(load_rnd(l) % n) : 0;
}

void load_zipf_init(load_zipf *z, unsigned n, double s)
{
	if (n == 0)
		n = 1;
	z->n = n;
	z->cdf = xmalloc(n * sizeof *z->cdf);
	double sum = 0;
	for (unsigned k = 0; k < n; k++) {
		sum += pow((double)k + 1, -s);
		z->cdf[k] = sum;
	}
	for (unsigned k = 0; k < n; k++)
		z->cdf[k] /= sum;
	z->cdf[n - 1] = 1.0;
}

unsigned load_zipf_pick(const load_zipf *z, double u)
{
	unsigned lo = 0, hi = z->n - 1; /* the first k with cdf[k] > u */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (z->cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void load_zipf_free(load_zipf *z)
{
	free(z->cdf);
	z->cdf = NULL;
	z->n = 0;
}

/* --- names ------------------------------------------------------------------ */

static bool is_viral(const load *l, unsigned item)
{
	return item == l->o.items;
}

/* "viral" or "i<k>": the item's id within type post. */
void load_item_id(const load *l, unsigned item, char *buf, size_t cap)
{
	if (is_viral(l, item))
		snprintf(buf, cap, "viral");
	else
		snprintf(buf, cap, "i%u", item);
}

void load_item_name(unsigned items, unsigned item, char *buf, size_t cap)
{
	if (item == items)
		snprintf(buf, cap, "post:viral");
	else
		snprintf(buf, cap, "post:i%u", item);
}

const char *load_kind_name(op_kind k)
{
	switch (k) {
	case OP_LIKE: return "like";
	case OP_UNLIKE: return "unlike";
	case OP_VIEW: return "view";
	case OP_ME: return "me";
	default: return "read";
	}
}

/* --- starting ops -------------------------------------------------------------- */

unsigned load_pick_item(load *l, double viral)
{
	if (viral > 0 && load_rnd01(l) < viral)
		return l->o.items;
	return load_zipf_pick(&l->zipf, load_rnd01(l));
}

int load_pick_up_region(load *l, const bool *up, int avoid)
{
	unsigned cand[LOAD_REGIONS_MAX], n = 0;
	for (unsigned r = 0; r < l->o.regions; r++)
		if (up[r] && (int)r != avoid)
			cand[n++] = r;
	if (n == 0)
		return avoid >= 0 && up[avoid] ? avoid : -1;
	return (int)cand[load_rnd_below(l, n)];
}

int load_pick_idle_user(load *l)
{
	if (l->idle == 0)
		return -1;
	unsigned n = l->o.users;
	for (int i = 0; i < 8; i++) {
		unsigned u = load_rnd_below(l, n);
		if (!l->busy[u])
			return (int)u;
	}
	unsigned start = load_rnd_below(l, n);
	for (unsigned i = 0; i < n; i++) {
		unsigned u = (start + i) % n;
		if (!l->busy[u])
			return (int)u;
	}
	return -1;
}

bool load_op_claim(load *l, op *o)
{
	tsa_lock(&l->mu);
	bool ok = !l->draining;
	if (ok) {
		o->next = l->ops;
		if (l->ops)
			l->ops->prev = o;
		l->ops = o;
		l->st.in_flight++;
		if (o->kind == OP_READ) {
			l->st.reads++;
			l->reg[o->region].reads++;
		} else if (o->kind == OP_ME) {
			l->mst.reads++;
		} else {
			l->st.started++;
		}
		o->ready_epoch = l->ready[o->region] ? l->ready_epoch[o->region] : 0;
	}
	tsa_unlock(&l->mu);
	return ok;
}

/* --- an op's place -------------------------------------------------------- */

int load_ready_slot(const load *l, const op *o)
{
	unsigned r = o->region;
	if (!o->ready_epoch || !l->ready[r] || l->ready_epoch[r] != o->ready_epoch)
		return -1;
	return (int)(r * LOAD_READY_PHASES_MAX + l->ready_phase);
}

unsigned load_conn_pick(load *l, const op *o, unsigned inst, unsigned base)
{
	unsigned per = l->o.conns_per_instance;
	unsigned pool = 0, first = 0, n = per;
	if (per >= 4) {
		/* Pools of their own: count reads a quarter (pool 3), and with
		 * heart reads a quarter each for hearts at home and away (pools
		 * 1, 2); writes the rest (pool 0). A read queued behind a write
		 * on an HTTP/1.1 connection waits for the write's answer, which
		 * a reader on a connection of their own never does: with real
		 * Kafka a write may wait a second or two for a lost broker's
		 * fencing, and the reads behind it timed out. */
		unsigned quarter = per / 4, pools = l->o.me_share > 0 ? 3 : 1;
		if (o->kind == OP_READ) {
			pool = 3;
			first = per - quarter;
			n = quarter;
		} else if (o->kind == OP_ME) {
			bool home = o->region == o->home;
			pool = home ? 1 : 2;
			first = per - (home ? 3 : 2) * quarter;
			n = quarter;
		} else {
			n = per - pools * quarter;
		}
	}
	/* The first idle connection from the pool's turn on, else the least
	 * busy: a request queued behind another on an HTTP/1.1 connection
	 * waits for its answer, which no user of a real client does (each
	 * has a connection of their own), so the clients' latency would
	 * measure the load's pool rather than the edge. */
	unsigned start = l->rr[o->region][inst][pool]++ % n, best = first + start;
	for (unsigned k = 0; k < n; k++) {
		unsigned c = first + (start + k) % n;
		if (l->inflight[base + c] < l->inflight[base + best])
			best = c;
		if (!l->inflight[base + best])
			break;
	}
	return best;
}

/* --- the hearts' truth ----------------------------------------------------- */

void load_me_note(load *l, unsigned user, unsigned item, bool away, bool like, uint64_t tag)
{
	if (!l->liked)
		return; /* no heart reads, no undo */
	uint64_t now = clock_mono_us(), key = (uint64_t)user << 32 | item;
	/* Each generation spans converge_ms, the settling time after a fault
	 * (fault_settle_ms) and four timeouts. A heart read is one attempt,
	 * sent as it starts and taken up within timeout_ms unless this loop
	 * stalls for three timeouts more; when the older generation is
	 * dropped its newest change is a whole span old, too old to make any
	 * read in flight young, by age or by a fault since (load_me.c). */
	uint64_t span_us =
	    ((uint64_t)l->o.converge_ms + l->o.fault_settle_ms + 4ull * l->o.timeout_ms) * 1000;
	if (now - l->changed_us >= span_us) {
		smap_free(&l->changed_old);
		l->changed_old = l->changed;
		smap_init(&l->changed);
		l->changed_us = now;
	}
	smap_put(&l->changed, &key, sizeof key, NULL)->u = now | tag;
	if (!like)
		return;
	uint8_t *at = &l->liked_at[user];
	uint32_t e = item | (away ? AWAY_BIT : 0);
	l->liked[(size_t)user * LIKED_KEEP + *at % LIKED_KEEP] = e;
	/* Counts up to LIKED_KEEP, then cycles above it: the slots in use
	 * and the next one, without wrapping to a small count. */
	*at = *at + 1 < 2 * LIKED_KEEP ? (uint8_t)(*at + 1) : (uint8_t)LIKED_KEEP;
}

/* --- faults ------------------------------------------------------------------ */

void load_set_stalled(load *l, int region, bool stalled)
{
	if (region < -1 || region >= (int)LOAD_REGIONS_MAX)
		return;
	uint64_t now = clock_mono_us();
	size_t *open = &l->stall_open[region + 1];
	tsa_lock(&l->mu);
	if (stalled && !*open) {
		if (l->nstalls == l->stalls_cap) {
			l->stalls_cap = l->stalls_cap ? 2 * l->stalls_cap : 32;
			l->stalls = xrealloc(l->stalls, l->stalls_cap * sizeof *l->stalls);
		}
		l->stalls[l->nstalls].start_us = now;
		l->stalls[l->nstalls].end_us = 0;
		l->stalls[l->nstalls].region = region;
		*open = ++l->nstalls;
	} else if (!stalled && *open) {
		l->stalls[*open - 1].end_us = now > 0 ? now : 1;
		*open = 0;
	}
	tsa_unlock(&l->mu);
}

bool load_calm_within(const load *l, unsigned mask, uint64_t from_us, uint64_t to_us,
                      uint64_t span_us)
{
	uint64_t calm_from = from_us; /* the start of the fault-free stretch at hand */
	bool any = false;             /* a fault in force somewhere in the range */
	for (size_t i = 0; i < l->nstalls; i++) {
		int r = l->stalls[i].region;
		if (r >= 0 && !(mask >> r & 1u))
			continue; /* elsewhere */
		uint64_t a = l->stalls[i].start_us, b = l->stalls[i].end_us;
		if (b && b <= from_us)
			continue; /* over before the range */
		if (a >= to_us)
			break;
		any = true;
		if (a > calm_from && a - calm_from >= span_us)
			return true;
		if (!b)
			return false; /* in force to the end of the range */
		if (b > calm_from)
			calm_from = b;
	}
	return !any || (to_us > calm_from && to_us - calm_from >= span_us);
}
