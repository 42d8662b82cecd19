/* route.c - looking a request up in a daemon's route table (route.h).
 * Pure; any thread.
 */
#include "route.h"

#include <string.h>

static bool is_prefix_row(const route *r)
{
	size_t n = strlen(r->path);
	return n > 0 && r->path[n - 1] == '/';
}

const route *route_find(const route *table, size_t n, const char *path)
{
	size_t plen = strcspn(path, "?");
	for (size_t i = 0; i < n; i++) {
		const route *r = &table[i];
		size_t rl = strlen(r->path);
		if (is_prefix_row(r) ? plen > rl && strncmp(path, r->path, rl) == 0
		                     : plen == rl && strncmp(path, r->path, rl) == 0)
			return r;
	}
	return NULL;
}

bool route_method_ok(const route *r, const char *method)
{
	return !r->method || strcmp(method, r->method) == 0;
}

const char *route_allow(const route *r)
{
	if (!r->method)
		return "";
	return strcmp(r->method, "GET") == 0 ? "GET, HEAD" : r->method;
}

const char *route_rest(const route *r, const char *path)
{
	size_t rl = strlen(r->path);
	return is_prefix_row(r) && strncmp(path, r->path, rl) == 0 ? path + rl : "";
}
