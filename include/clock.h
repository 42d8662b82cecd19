/* clock.h - wall and monotonic time in milliseconds.
 *
 * clock_wall_ms() is the system's real-time clock; clock_mono_ms() never
 * jumps. Any thread.
 */
#ifndef LIKES_CLOCK_H
#define LIKES_CLOCK_H

#include <stdint.h>

uint64_t clock_wall_ms(void);
uint64_t clock_mono_ms(void);

#endif
