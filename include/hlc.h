/* hlc.h - hybrid logical clock.
 *
 * A timestamp is 64 bits: the upper 48 are milliseconds since the Unix
 * epoch, the lower 16 a logical counter that orders events within the same
 * millisecond (and keeps order when the wall clock steps back). Timestamps
 * from one clock are strictly increasing. Pure: the caller passes the wall
 * clock, so tests can drive time. Not thread-safe: one owner per clock.
 *
 * A wall clock past 48 bits of milliseconds (the year 10889) is clamped,
 * and a clock at UINT64_MAX stays there: the only case where timestamps do
 * not increase.
 */
#ifndef LIKES_HLC_H
#define LIKES_HLC_H

#include <stdint.h>

#define HLC_LOGICAL_BITS 16
#define HLC_LOGICAL_MASK ((UINT64_C(1) << HLC_LOGICAL_BITS) - 1)

typedef struct hlc {
	uint64_t last; /* the last timestamp handed out or observed */
} hlc;

void hlc_init(hlc *h);
/* A timestamp for a local event at wall time wall_ms. */
uint64_t hlc_now(hlc *h, uint64_t wall_ms);
/* Merges a timestamp seen from elsewhere; returns a timestamp for the
 * receive event, greater than both remote and every earlier one, and not
 * before (wall_ms, 0). The clock follows remote however far ahead it is:
 * callers that take timestamps from untrusted peers or clients must bound
 * hlc_ms(remote) - wall_ms themselves before calling. */
uint64_t hlc_observe(hlc *h, uint64_t remote, uint64_t wall_ms);

static inline uint64_t hlc_make(uint64_t ms, uint64_t logical)
{
	return (ms << HLC_LOGICAL_BITS) | (logical & HLC_LOGICAL_MASK);
}
static inline uint64_t hlc_ms(uint64_t t)
{
	return t >> HLC_LOGICAL_BITS;
}
static inline uint64_t hlc_logical(uint64_t t)
{
	return t & HLC_LOGICAL_MASK;
}

#endif
