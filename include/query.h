/* query.h - the one parser of URL query strings (what follows '?') for
 * both daemons' HTTP APIs.
 *
 * The rules are those of libevent's evhttp_parse_query_str and
 * evhttp_find_header, which the daemons used before: parameters are split
 * at '&' (one trailing '&' is allowed); each needs a non-empty name and
 * an '=', or the query does not parse. Names are kept as sent; values are
 * decoded: '+' is a space, %XX (two hex digits) a byte, any other byte
 * itself, and a decoded NUL ends the value. query_get matches a name
 * without regard to ASCII case and returns the first of a repeated name.
 *
 * No allocation for a query of up to QUERY_STACK bytes: the decoded text
 * lives in the query itself, else in one malloc'ed buffer (query_free).
 * Owns nothing else; any thread, one query per thread.
 */
#ifndef LIKES_QUERY_H
#define LIKES_QUERY_H

#include <stddef.h>

#define QUERY_PARAMS_MAX 32 /* more parameters: ERR_TOOBIG */
#define QUERY_STACK 4096    /* decoded bytes held without an allocation */

typedef struct query_param {
	char *name, *value; /* NUL-terminated, in the query's buffer; the
	                     caller may split a value in place */
} query_param;

typedef struct query {
	query_param p[QUERY_PARAMS_MAX];
	size_t n;
	char *buf; /* stack or malloc'ed */
	char stack[QUERY_STACK];
} query;

/* Parses qs (NULL or "" is an empty query) into q. 0, ERR_INVAL (does not
 * parse) or ERR_TOOBIG (more than QUERY_PARAMS_MAX parameters). Call
 * query_free afterwards, whatever it returned. */
int query_parse(query *q, const char *qs);

/* The query of a request target ("/path?query"): query_parse of what
 * follows its first '?'. */
int query_parse_target(query *q, const char *target);

void query_free(query *q);

/* The value of the first parameter called name (ASCII case ignored), or
 * NULL. */
const char *query_get(const query *q, const char *name);

/* NULL when every name is one of allowed (NULL-terminated; case ignored)
 * and none appears twice; else what is wrong, for a 400 answer. */
const char *query_check(const query *q, const char *const *allowed);

#endif
