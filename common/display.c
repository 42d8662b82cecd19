/* display.c - short human form of a count: 999, 1.2K, 12K, 1.2M, 1.2B, 1.2T.
 *
 * Always truncates, never rounds up: 1,099 is "1K" and 999,999 is "999K".
 * Below ten units one truncated decimal is shown, dropped when it is zero.
 * Pure, owns nothing, any thread.
 */
#include "display.h"

#include <string.h>

#include "sbuf.h"

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
	/* Built without printf: counts are displayed on every read. */
	char tmp[SBUF_U64_MAX + 4];
	size_t len = 0;
	size_t i = 0;
	while (i < sizeof units / sizeof units[0] && n < units[i].unit)
		i++;
	if (i == sizeof units / sizeof units[0]) {
		len = sbuf_fmt_u64(tmp, n);
	} else {
		uint64_t u = units[i].unit;
		uint64_t whole = n / u;
		uint64_t tenth = (n % u) / (u / 10);
		len = sbuf_fmt_u64(tmp, whole);
		if (whole < 10 && tenth > 0) {
			tmp[len++] = '.';
			tmp[len++] = (char)('0' + tenth);
		}
		tmp[len++] = units[i].suffix;
	}
	if (cap == 0)
		return 0;
	/* A buffer below DISPLAY_MAX truncates: report what was written. */
	if (len > cap - 1)
		len = cap - 1;
	memcpy(buf, tmp, len);
	buf[len] = '\0';
	return len;
}
