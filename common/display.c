/* display.c - short human form of a count: 999, 1.2K, 12K, 1.2M, 1.2B, 1.2T.
 *
 * Always truncates, never rounds up: 1,099 is "1K" and 999,999 is "999K".
 * Below ten units one truncated decimal is shown, dropped when it is zero.
 * Pure, owns nothing, any thread.
 */
#include "display.h"

#include <inttypes.h>
#include <stdio.h>

size_t display_count(uint64_t n, char *buf, size_t cap)
{
	static const struct {
		uint64_t unit;
		char suffix;
	} units[] = {
	    {UINT64_C(1000000000000), 'T'},
	    {UINT64_C(1000000000), 'B'},
	    {UINT64_C(1000000), 'M'},
	    {UINT64_C(1000), 'K'},
	};
	int len = -1;

	if (cap == 0)
		return 0;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		uint64_t u = units[i].unit;
		if (n < u)
			continue;
		uint64_t whole = n / u;
		uint64_t tenth = (n % u) / (u / 10);
		if (whole < 10 && tenth > 0)
			len = snprintf(buf, cap, "%" PRIu64 ".%" PRIu64 "%c", whole, tenth,
			               units[i].suffix);
		else
			len = snprintf(buf, cap, "%" PRIu64 "%c", whole, units[i].suffix);
		break;
	}
	if (len < 0)
		len = snprintf(buf, cap, "%" PRIu64, n);
	if (len < 0) {
		buf[0] = '\0';
		return 0;
	}
	/* A buffer below DISPLAY_MAX truncates: report what was written. */
	return (size_t)len < cap ? (size_t)len : cap - 1;
}
