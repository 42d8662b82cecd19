/* inspect.h - `edge inspect`: what an edge holds per partition, for
 * operators.
 *
 *   edge inspect -c FILE [-s section.key=value]... [--json] [--offline]
 *
 * Per partition: ops in the open batch; sealed batches central has not
 * confirmed (count, bytes, lowest and highest seq, and whether they wait
 * for the producer, are in flight or sit in Kafka); the last seq
 * central's snapshots confirmed (the watermark); the last snapshot's
 * version, as_of and age; whether the partition is within its Kafka
 * window. Then the totals: pending ops, bytes and batches against the
 * budget, and (live) the producer's unacknowledged messages.
 *
 * Live, the command asks the running edge's loopback-only route
 * GET /v1/admin/inspect (inspect_json renders it) over http.listen, or
 * over http.tls_listen with TLS when there is no cleartext listener.
 * --offline opens the stopped edge's store through the ledger instead,
 * and renders the same JSON from what is stored: LevelDB's lock refuses
 * that while the edge runs. Exit codes: 0 ok, 2 usage or config error,
 * 3 the edge or its store cannot be reached. docs/ops.md has an example.
 *
 * inspect_json: any thread (it takes the ledger's lock once).
 * inspect_print and inspect_main: the command's main thread.
 */
#ifndef EDGE_INSPECT_H
#define EDGE_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "edge/ledger/ledger.h"

struct uplink;

#define INSPECT_OK 0
#define INSPECT_USAGE 2
#define INSPECT_UNREACHABLE 3

/* The JSON of GET /v1/admin/inspect (docs/api.md), malloc'ed, with its
 * length in *len. up (NULL: none, as offline) adds the producer's
 * unacknowledged messages; ages are taken at now_ms (wall clock). */
char *inspect_json(ledger *lg, struct uplink *up, uint64_t now_ms, size_t *len);

/* Prints that JSON as a table (one row per partition, then the totals)
 * to out; offline says where it came from in the heading. 0, or
 * ERR_CORRUPT when json is not an inspect answer. */
int inspect_print(const char *json, bool offline, FILE *out) WARN_UNUSED;

/* Runs `edge inspect` (argv[1] is "inspect") with the edge's option
 * table (main.c); returns the exit code. */
int inspect_main(int argc, char **argv, const cfg_opt *opts, size_t nopts);

#endif
