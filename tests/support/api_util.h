/* api_util.h - the edge's api under test, shared by test_api.c,
 * test_api_group.c, test_api_shards.c, test_identity.c, test_inspect.c
 * and fuzz_http.c: the ledger options and api limits they share, the
 * api's set-up over a ledger the test made, and one request through
 * api_handle with the answer's body NUL-terminated. Development identity
 * (X-User-Id), edge id "e1", unless the caller changes them.
 *
 * Compiled once into the test support library, without Criterion (the
 * fuzzers link it too): set-up failures are returned, for the caller to
 * assert or report.
 */
#ifndef TESTS_SUPPORT_API_UTIL_H
#define TESTS_SUPPORT_API_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "edge/api/api.h"
#include "edge/ledger/ledger.h"

/* The ledger the api tests share: edge e1 in region r1 with the given
 * partitions, a batch sealed at 1,000 ops or after 1 s, a 1 MiB budget
 * and window, 64-entry caches, read-through counts kept 1 s, and batches
 * dropped (ledger_sink_discard). The caller changes what its test
 * needs, then opens it. */
ledger_opts api_util_ledger_opts(uint32_t partitions);

/* What a fake central answers to GET /v1/counts?items=...: items is the
 * query after "items=" (read up to '&'), and every item listed gets
 * version 3, applied 0, as_of 1 and a likes count of likes, in its
 * partition of partitions. Writes a NUL-terminated body of at most cap
 * bytes. */
void api_util_counts_answer(char *body, size_t cap, const char *items, uint32_t partitions,
                            int likes);

/* The api limits the tests share: 3 items and 3 ops a request,
 * idempotency records kept 60 s, counts fresh for 2 s and stale after
 * 10 s, 16 memberships cached for 1 s. */
api_config api_util_config(void);

/* Fills a's fields for ledger lg: the item types and counters given
 * (comma lists), the limits cfg, edge id "e1", the development identity
 * header; api_init is the caller's, once it set what else its test
 * needs. 0, or -1 with the reason in err. */
int api_util_prepare(api *a, ledger *lg, const char *types, const char *set, const char *sum,
                     api_config cfg, char *err, size_t errlen);

/* api_util_prepare, then api_init. 0, or -1 with the reason in err. */
int api_util_init(api *a, ledger *lg, const char *types, const char *set, const char *sum,
                  api_config cfg, char *err, size_t errlen);

/* Frees what api_util_prepare and api_init made; lg stays the test's. */
void api_util_free(api *a);

/* 127.0.0.1 as the 16 bytes of http_request.peer_ip. */
void api_util_loopback(uint8_t ip[16]);

/* One request from ip as user (NULL: none), with a body and one more
 * header when given; the answer in *r (its old body freed first), the
 * status returned (0 means 200). */
int api_util_call(api *a, http_response *r, const uint8_t *ip, const char *method, const char *path,
                  const char *user, const char *body, const char *hname, const char *hval);

#endif
