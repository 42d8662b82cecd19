/* item.h - what a valid item, item id, user id and counter name look like.
 *
 * Items are "type:id": type one of the configured names, id matching
 * [A-Za-z0-9_-]{1,64}. User ids are 1..128 bytes of visible ASCII other
 * than '"' and '\\' (so they never need escaping in JSON or logs).
 * Counter names match [a-z0-9_]{1,32}. Names the operator gives files,
 * keys and topics use [A-Za-z0-9._-]. Pure functions, any thread.
 */
#ifndef LIKES_ITEM_H
#define LIKES_ITEM_H

#include <stdbool.h>
#include <stddef.h>

#define ITEM_ID_MAX 64
#define ITEM_TYPE_MAX 32
#define ITEM_MAX (ITEM_TYPE_MAX + 1 + ITEM_ID_MAX)
#define USER_MAX 128
#define COUNTER_MAX 32
#define EDGE_ID_MAX 64

bool item_id_valid(const char *s, size_t n);
bool item_type_valid(const char *s, size_t n);
bool item_user_valid(const char *s, size_t n);
bool item_counter_valid(const char *s, size_t n);
/* Edge ids and region names: [a-z0-9_-]{1,64}. */
bool item_edge_valid(const char *s, size_t n);
#define ITEM_MAX_NAMES 16 /* configured types or counters */

/* Splits a comma-separated list of names into out (NULL-terminated,
 * strings malloc'ed). ERR_CONFIG for an empty list, a name valid()
 * refuses, or more than ITEM_MAX_NAMES; out is then empty. */
int item_parse_names(const char *list, char *out[ITEM_MAX_NAMES + 1],
                     bool (*valid)(const char *, size_t)) __attribute__((warn_unused_result));
void item_free_names(char *names[ITEM_MAX_NAMES + 1]);
/* True when s (n bytes) is one of names. */
bool item_in_names(char *const *names, const char *s, size_t n);

/* c may be in a name the operator gives a file, key id or topic:
 * [A-Za-z0-9._-]. Each caller bounds the length (and its own extras). */
bool item_name_char(char c);

/* "type:id" with both parts valid (the type's spelling, not whether it is
 * configured). */
bool item_valid(const char *s, size_t n);

#endif
