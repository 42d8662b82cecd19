/* display.h - the human form of a count: 999, 1.2K, 12K, 123K, 1.2M, 1.2B.
 *
 * Rounds down, so the short form never claims more than the count.
 */
#ifndef LIKES_DISPLAY_H
#define LIKES_DISPLAY_H

#include <stddef.h>
#include <stdint.h>

#define DISPLAY_MAX 16 /* bytes, NUL included, enough for any uint64_t */

/* Writes the NUL-terminated display form into buf (cap >= DISPLAY_MAX)
 * and returns its length. */
size_t display_count(uint64_t n, char *buf, size_t cap);

#endif
