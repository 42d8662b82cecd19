/* display.h - the human form of a count: 999, 1.2K, 12K, 123K, 1.2M, 1.2B.
 *
 * Rounds down, so the short form never claims more than the count:
 * 0..999 exact; below ten units one truncated decimal, dropped when zero
 * (1,049 is "1K", 1,999 is "1.9K"); then whole units (999,999 is "999K").
 * Units K, M, B, T; T covers everything from 10^12 up to UINT64_MAX
 * ("18446744T").
 */
#ifndef LIKES_DISPLAY_H
#define LIKES_DISPLAY_H

#include <stddef.h>
#include <stdint.h>

#define DISPLAY_MAX 16 /* bytes, NUL included, enough for any uint64_t */

/* Writes the NUL-terminated display form into buf (cap >= DISPLAY_MAX)
 * and returns its length. A smaller cap truncates; the return value is
 * then the length actually written (0 when cap is 0). */
size_t display_count(uint64_t n, char *buf, size_t cap);

#endif
