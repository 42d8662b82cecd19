/* hot.h - GET /v1/hot, the same on both daemons: the limit it takes and
 * the answer it gives from a space-saving sketch's entries (topk.h) whose
 * keys are "counter item":
 *
 *   {"window_ms":60000,"k":100,"items":[{"item":"post:1","counter":"likes",
 *    "rate":12.4,"count":744,"error":0},...]}
 *
 * rate is changes per second over the window, count those counted in the
 * current one, of which at most error may belong to other keys; k is how
 * many keys the sketch keeps. docs/api.md describes it. Pure, any thread.
 */
#ifndef LIKES_HOT_H
#define LIKES_HOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"
#include "topk.h"

#define HOT_LIMIT_DEFAULT 10

/* ?limit= as text (NULL: absent) into *limit: 1..k, absent the smaller
 * of HOT_LIMIT_DEFAULT and k (0 with the sketch off). false for anything
 * else: the route answers 400 bad_limit with HOT_LIMIT_MESSAGE. */
bool hot_limit(const char *s, size_t k, size_t *limit);
#define HOT_LIMIT_MESSAGE "limit is a number from 1 to the hot-items setting"

/* Appends the answer for e[0..n) (entries with other keys are left out). */
void hot_render(sbuf *b, const topk_entry *e, size_t n, uint64_t window_ms, size_t k);

#endif
