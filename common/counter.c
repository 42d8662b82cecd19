/* counter.c - the configured counters and their kinds (counter.h). */
#include "counter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmem.h"

static int add_list(counters *c, const char *list, counter_kind kind, char *err, size_t errlen)
{
	char *copy = xstrdup(list);
	int rc = 0;
	for (char *save = NULL, *t = strtok_r(copy, ", ", &save); t;
	     t = strtok_r(NULL, ", ", &save)) {
		size_t n = strlen(t);
		if (!item_counter_valid(t, n)) {
			snprintf(err, errlen, "counter name \"%s\" must match [a-z0-9_]{1,%d}", t,
			         COUNTER_MAX);
			rc = ERR_CONFIG;
			break;
		}
		if (counters_find(c, t, n)) {
			snprintf(err, errlen, "counter \"%s\" is named twice", t);
			rc = ERR_CONFIG;
			break;
		}
		if (c->n == COUNTERS_MAX) {
			snprintf(err, errlen, "more than %d counters", COUNTERS_MAX);
			rc = ERR_CONFIG;
			break;
		}
		c->defs[c->n].name = xstrdup(t);
		c->defs[c->n++].kind = kind;
	}
	free(copy);
	return rc;
}

int counters_parse(counters *c, const char *set_list, const char *sum_list, char *err,
                   size_t errlen)
{
	memset(c, 0, sizeof *c);
	int rc = add_list(c, set_list ? set_list : "", COUNTER_SET, err, errlen);
	if (!rc)
		rc = add_list(c, sum_list ? sum_list : "", COUNTER_SUM, err, errlen);
	if (!rc && c->n == 0) {
		snprintf(err, errlen, "no counters configured");
		rc = ERR_CONFIG;
	}
	if (rc)
		counters_free(c);
	return rc;
}

void counters_free(counters *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->defs[i].name);
	c->n = 0;
}

const counter_def *counters_find(const counters *c, const char *s, size_t n)
{
	for (size_t i = 0; i < c->n; i++)
		if (strlen(c->defs[i].name) == n && memcmp(c->defs[i].name, s, n) == 0)
			return &c->defs[i];
	return NULL;
}

const char *counter_kind_name(counter_kind k)
{
	return k == COUNTER_SUM ? "sum" : "set";
}
