/* route.h - a daemon's route table: each fixed path, or path prefix,
 * with its method, who may call it, the query parameters it takes, what
 * the daemon must have set up for it to exist, its metrics label and its
 * handler, in one row that dispatch, the 404 and 405 answers and the
 * metrics label all read. Both daemons keep a table of their own (the
 * edge's in edge/api/api.c, central's in central/ops/opsapi.c); this
 * module finds a request's row and judges its method, so the two
 * dispatchers apply one rule.
 *
 * Pure; tables are static and immutable. Any thread.
 */
#ifndef LIKES_ROUTE_H
#define LIKES_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

/* Who may call a route. */
typedef enum route_access {
	ROUTE_PUBLIC,            /* anyone the daemon lets in at all */
	ROUTE_LOOPBACK,          /* loopback clients only; absent (404) for the rest */
	ROUTE_TOKEN_OR_LOOPBACK, /* the daemon's bearer token, unless from loopback */
	ROUTE_TOKEN,             /* the bearer token, when the daemon has one */
	ROUTE_ADMIN,             /* the bearer token always, and only once one is set */
} route_access;

/* A handler of the daemon's own type: its table casts its handlers to
 * this and route_fn's caller casts back to that one type. */
typedef void (*route_handler)(void);

typedef struct route {
	const char *path;   /* the path; ending in '/', a prefix of paths */
	const char *method; /* "GET" or "POST"; NULL: the handler judges
	                       the method (several share the path) */
	route_access access;
	const char *const *params; /* query keys allowed (NULL-ended); NULL: any, or
	                              the handler checks them itself */
	unsigned needs;            /* the daemon's bits: parts the route needs set
	                              up, else it is absent (404) */
	int metric;                /* the daemon's metrics label */
	route_handler fn;
} route;

/* The first row of table[0..n) for path: an exact path row equal to it,
 * or a prefix row it starts with (and goes on past). path ends at its
 * first '?' or at its NUL. NULL when no row serves it. */
const route *route_find(const route *table, size_t n, const char *path);

/* True when method may call r: exactly its method, or any when r names
 * none. (HEAD reaches a GET route where a daemon routes HEAD as GET, as
 * the edge does.) */
bool route_method_ok(const route *r, const char *method);

/* The Allow header of a 405 from r: "GET, HEAD" or "POST". */
const char *route_allow(const route *r);

/* The part of path after r's prefix (for a prefix row), else "". */
const char *route_rest(const route *r, const char *path);

#endif
