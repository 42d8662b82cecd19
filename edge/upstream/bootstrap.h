/* bootstrap.h - loads central's checkpoints into the edge's replica.
 *
 * A partition whose replica is loading (ledger_replica_begin: a new or
 * wiped edge, or one whose snapshot stream jumped) is loaded here from
 * the central shard that owns it: GET /v1/checkpoint on central's ops
 * API, streamed into the ledger message by message (ledger_replica_apply)
 * as it arrives, so memory stays bounded whatever the replica's size.
 * The partitions of one shard come in one request; the shard's primary is
 * asked first, then its replicas. A load cut off part-way resumes after
 * the last count it loaded. Failures are retried with a growing pause
 * (0.5 s to 10 s).
 *
 * It loads the region's memberships the same way (homes.h): for each
 * partition of the home stream that wants them, GET /v1/checkpoint with
 * home=REGION streams every membership central holds of the region's
 * users there into the store as the stream's events go
 * (ledger_home_apply: the newer state of a pair wins), and the load is
 * reported done only when the partition's last message has come. Such a
 * load starts again from the beginning when cut off.
 *
 * One thread of its own does the work, with blocking I/O (hclient.h); it
 * never touches the event loops. bootstrap_new and bootstrap_free belong
 * to the main thread; bootstrap_kick and bootstrap_get_stats to any.
 */
#ifndef EDGE_BOOTSTRAP_H
#define EDGE_BOOTSTRAP_H

#include <stdint.h>

#include "edge/ledger/ledger.h"
#include "edge/upstream/homes.h"
#include "edge/upstream/shards.h"

typedef struct bootstrap bootstrap;

typedef struct bootstrap_stats {
	uint64_t requests;   /* checkpoint requests sent */
	uint64_t failures;   /* of them: no connection, not 200, cut off, refused */
	uint64_t messages;   /* checkpoint messages loaded */
	uint64_t counts;     /* counts in them */
	uint64_t members;    /* memberships of the region's users in them */
	uint64_t bytes;      /* checkpoint bytes read */
	uint64_t last_ms;    /* how long the last whole load of a shard took */
	uint64_t members_ms; /* the same for the last load of memberships */
} bootstrap_stats;

/* Starts the thread. map (which must outlive b) says which central serves
 * which partition; hs (NULL when not followed; it must outlive b) which
 * partitions want the region's memberships; token is central's ops token
 * ("" for none); read_timeout_ms bounds connecting and each read. NULL
 * with the reason in err. */
bootstrap *bootstrap_new(ledger *lg, const shard_map *map, homes *hs, const char *token,
                         unsigned read_timeout_ms, char *err, size_t errlen);
/* Looks for loading partitions now rather than within the next second. */
void bootstrap_kick(bootstrap *b);
void bootstrap_get_stats(bootstrap *b, bootstrap_stats *out);
/* Stops the thread (within one read timeout) and frees b. NULL is a no-op. */
void bootstrap_free(bootstrap *b);

#endif
