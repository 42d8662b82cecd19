/* item.c - validation of item ids, types, users and counter names. */
#include "item.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "xmem.h"

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

bool item_id_valid(const char *s, size_t n)
{
	return all_of(s, n, ITEM_ID_MAX, id_char);
}
bool item_type_valid(const char *s, size_t n)
{
	return all_of(s, n, ITEM_TYPE_MAX, lower_char);
}
bool item_user_valid(const char *s, size_t n)
{
	return all_of(s, n, USER_MAX, user_char);
}
bool item_counter_valid(const char *s, size_t n)
{
	return all_of(s, n, COUNTER_MAX, lower_char);
}
bool item_edge_valid(const char *s, size_t n)
{
	return all_of(s, n, EDGE_ID_MAX, edge_char);
}

bool item_name_char(char c)
{
	return id_char(c) || c == '.';
}

bool item_valid(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	if (!colon)
		return false;
	size_t tn = (size_t)(colon - s);
	return item_type_valid(s, tn) && item_id_valid(colon + 1, n - tn - 1);
}

int item_parse_names(const char *list, char *out[ITEM_MAX_NAMES + 1],
                     bool (*valid)(const char *, size_t))
{
	char *copy = xstrdup(list);
	int n = 0, rc = 0;
	for (char *save = NULL, *t = strtok_r(copy, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save)) {
		if (n == ITEM_MAX_NAMES || !valid(t, strlen(t))) {
			rc = ERR_CONFIG;
			break;
		}
		out[n++] = xstrdup(t);
	}
	out[n] = NULL;
	free(copy);
	if (!rc && n == 0)
		rc = ERR_CONFIG;
	if (rc)
		item_free_names(out);
	return rc;
}

void item_free_names(char *names[ITEM_MAX_NAMES + 1])
{
	for (int i = 0; names[i]; i++) {
		free(names[i]);
		names[i] = NULL;
	}
}

bool item_in_names(char *const *names, const char *s, size_t n)
{
	for (; *names; names++)
		if (strlen(*names) == n && memcmp(*names, s, n) == 0)
			return true;
	return false;
}
