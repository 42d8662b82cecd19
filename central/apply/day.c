/* day.c - UTC days since the epoch and their calendar dates (day.h).
 * Conversions walk the calendar a year, then a month, at a time: at most
 * a few thousand steps for any date the aggregates can hold. Pure.
 */
#include "central/apply/day.h"

#include <stdbool.h>
#include <stdio.h>

#include "hlc.h"

uint32_t day_of_ms(uint64_t ms)
{
	uint64_t d = ms / DAY_MS;
	return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

uint32_t day_of_hlc(uint64_t t)
{
	return day_of_ms(hlc_ms(t));
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static int days_in_month(int64_t y, int m)
{
	return month_days[m - 1] + (m == 2 && leap(y));
}

static int days_in_year(int64_t y)
{
	return leap(y) ? 366 : 365;
}

int day_parse(const char *s, size_t n, uint32_t *day)
{
	if (n != 10 || s[4] != '-' || s[7] != '-')
		return ERR_INVAL;
	int v[3] = {0, 0, 0};
	static const int start[3] = {0, 5, 8}, len[3] = {4, 2, 2};
	for (int f = 0; f < 3; f++)
		for (int i = 0; i < len[f]; i++) {
			char c = s[start[f] + i];
			if (c < '0' || c > '9')
				return ERR_INVAL;
			v[f] = v[f] * 10 + (c - '0');
		}
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > days_in_month(v[0], v[1]))
		return ERR_INVAL;
	/* At most 8030 years and 11 months to walk: cheap, and plainly right. */
	int64_t d = v[2] - 1;
	for (int64_t y = 1970; y < v[0]; y++)
		d += days_in_year(y);
	for (int m = 1; m < v[1]; m++)
		d += days_in_month(v[0], m);
	*day = (uint32_t)d;
	return 0;
}

void day_format(uint32_t day, char *out)
{
	int64_t left = day;
	int y = 1970, m = 1;
	while (left >= days_in_year(y))
		left -= days_in_year(y++);
	while (left >= days_in_month(y, m))
		left -= days_in_month(y, m++);
	snprintf(out, DAY_TEXT_MAX, "%04d-%02d-%02d", y, m, (int)left + 1);
}
