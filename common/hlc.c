/* hlc.c - hybrid logical clock (Kulkarni et al., 2014).
 *
 * Owns nothing but the caller's hlc struct. Every new timestamp is the
 * largest of: one past the last timestamp (one past the remote one too,
 * when observing), and the wall clock with a zero counter. As a 64-bit
 * number that is exactly the rule of the paper: a newer wall millisecond
 * resets the counter; otherwise the counter of the larger timestamp grows
 * by one, and when it would pass 16 bits the millisecond moves on by one.
 *
 * Pure and not thread-safe: one owner per clock.
 */
#include "hlc.h"

/* Milliseconds that fit the upper 48 bits: about the year 10889. A wall
 * clock past it is clamped, and a clock that reaches UINT64_MAX stays
 * there (the only place where timestamps stop increasing). */
#define HLC_MS_MAX (UINT64_MAX >> HLC_LOGICAL_BITS)

static uint64_t wall_ts(uint64_t wall_ms)
{
	return hlc_make(wall_ms > HLC_MS_MAX ? HLC_MS_MAX : wall_ms, 0);
}

static uint64_t next_after(uint64_t t)
{
	return t == UINT64_MAX ? t : t + 1;
}

void hlc_init(hlc *h)
{
	h->last = 0;
}

uint64_t hlc_now(hlc *h, uint64_t wall_ms)
{
	uint64_t t = next_after(h->last);
	uint64_t w = wall_ts(wall_ms);
	if (w > t)
		t = w;
	h->last = t;
	return t;
}

uint64_t hlc_observe(hlc *h, uint64_t remote, uint64_t wall_ms)
{
	uint64_t t = next_after(h->last > remote ? h->last : remote);
	uint64_t w = wall_ts(wall_ms);
	if (w > t)
		t = w;
	h->last = t;
	return t;
}
