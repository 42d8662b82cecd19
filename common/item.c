/* item.c - validation of item ids, types, users and counter names. */
#include "item.h"

#include <string.h>

static bool all_of(const char *s, size_t n, size_t max, bool (*ok)(char))
{
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!ok(s[i]))
			return false;
	return true;
}

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static bool lower_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static bool edge_char(char c)
{
	return lower_char(c) || c == '-';
}

static bool user_char(char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\';
}

bool item_id_valid(const char *s, size_t n) { return all_of(s, n, ITEM_ID_MAX, id_char); }
bool item_type_valid(const char *s, size_t n) { return all_of(s, n, ITEM_TYPE_MAX, lower_char); }
bool item_user_valid(const char *s, size_t n) { return all_of(s, n, USER_MAX, user_char); }
bool item_counter_valid(const char *s, size_t n) { return all_of(s, n, COUNTER_MAX, lower_char); }
bool item_edge_valid(const char *s, size_t n) { return all_of(s, n, EDGE_ID_MAX, edge_char); }

bool item_valid(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	if (!colon)
		return false;
	size_t tn = (size_t)(colon - s);
	return item_type_valid(s, tn) && item_id_valid(colon + 1, n - tn - 1);
}
