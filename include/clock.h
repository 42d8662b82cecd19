/* clock.h - wall and monotonic time in milliseconds.
 *
 * clock_wall_ms() adds a configured skew (for drills that run an edge
 * whose clock is ahead or behind); clock_mono_ms() never jumps.
 */
#ifndef LIKES_CLOCK_H
#define LIKES_CLOCK_H

#include <stdint.h>

void clock_set_skew_ms(int64_t skew);
uint64_t clock_wall_ms(void);
uint64_t clock_mono_ms(void);

#endif
