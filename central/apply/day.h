/* day.h - UTC calendar days for the per-day aggregates: days since
 * 1970-01-01 from an hlc or a wall time, and "YYYY-MM-DD" both ways
 * (proleptic Gregorian). Pure, any thread.
 */
#ifndef CENTRAL_DAY_H
#define CENTRAL_DAY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define DAY_MS UINT64_C(86400000)
#define DAY_TEXT_MAX 40 /* "YYYY-MM-DD" and a NUL; room for any int fields */

/* The UTC day of a wall time in ms since the epoch. */
uint32_t day_of_ms(uint64_t ms);
/* The UTC day of an hlc timestamp's wall part (hlc.h). */
uint32_t day_of_hlc(uint64_t t);

/* Parses exactly "YYYY-MM-DD" (n bytes), year 1970..9999, a real date.
 * 0, or ERR_INVAL with *day untouched. */
int day_parse(const char *s, size_t n, uint32_t *day) WARN_UNUSED;
/* Writes the day as "YYYY-MM-DD" into out (DAY_TEXT_MAX bytes). */
void day_format(uint32_t day, char *out);

#endif
