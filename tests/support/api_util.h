/* api_util.h - the edge's api under test, shared by test_api.c,
 * test_api_shards.c and test_inspect.c: its set-up over a ledger the
 * test made, and one request through api_handle with the answer's body
 * NUL-terminated. Development identity (X-User-Id), edge id "e1".
 * Compiled once into the test support library; set-up failures are
 * Criterion assertions, so these are for a test's thread.
 */
#ifndef TESTS_SUPPORT_API_UTIL_H
#define TESTS_SUPPORT_API_UTIL_H

#include <stdint.h>

#include "edge/api/api.h"

/* a over lg with the item types and counters given (comma lists). */
void api_util_init(api *a, ledger *lg, const char *types, const char *set, const char *sum,
                   api_config cfg);

/* Frees what api_util_init made; lg stays the test's. */
void api_util_free(api *a);

/* 127.0.0.1 as the 16 bytes of http_request.peer_ip. */
void api_util_loopback(uint8_t ip[16]);

/* One request from ip as user (NULL: none), with a body and one more
 * header when given; the answer in *r (its old body freed first), the
 * status returned (0 means 200). */
int api_util_call(api *a, http_response *r, const uint8_t *ip, const char *method, const char *path,
                  const char *user, const char *body, const char *hname, const char *hval);

#endif
