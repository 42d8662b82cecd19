/* counter.h - the configured counters and their kinds.
 *
 * A "set" counter counts distinct users per item (likes, saves): each
 * user is in or out, and a repeat changes nothing. A "sum" counter adds
 * n per call (views, shares), 1 <= n <= COUNTER_SUM_MAX. Edge and central
 * read the same two lists from their configs ([counters] set = ..., sum =
 * ...); a name may appear in only one. Pure, any thread.
 */
#ifndef LIKES_COUNTER_H
#define LIKES_COUNTER_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "item.h"

#define COUNTER_SUM_MAX 1000
#define COUNTERS_MAX (2 * ITEM_MAX_NAMES)

typedef enum counter_kind { COUNTER_SET = 1, COUNTER_SUM = 2 } counter_kind;

typedef struct counter_def {
	char *name;
	counter_kind kind;
} counter_def;

typedef struct counters {
	counter_def defs[COUNTERS_MAX];
	size_t n;
} counters;

/* Fills c from two comma-separated lists; sum_list may be empty, set_list
 * may be empty only when sum_list is not. ERR_CONFIG with the reason in
 * err for a bad name, a name in both lists or too many names. */
int counters_parse(counters *c, const char *set_list, const char *sum_list, char *err,
                   size_t errlen) WARN_UNUSED;
void counters_free(counters *c);
/* The counter named s (n bytes), or NULL. */
const counter_def *counters_find(const counters *c, const char *s, size_t n);
const char *counter_kind_name(counter_kind k);

#endif
