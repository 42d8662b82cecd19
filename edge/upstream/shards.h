/* shards.h - which central instance answers for which partition: the
 * shard map of central.ops, and a per-loop router over central clients.
 *
 * central.ops is either one address (every partition, as before sharding)
 * or a map of semicolon-separated entries RANGES=ADDR[|ADDR...]:
 *
 *   0-7=10.0.0.10:9090|10.0.0.11:9090;8-15=10.0.0.12:9090
 *
 * RANGES is a comma list of partitions and inclusive ranges ("0-3,8-11");
 * the '|' alternatives of an entry are that shard's primary, then its
 * replicas, in the order they are tried. Every partition of the deployment
 * is covered exactly once. An address is a numeric "IPv4:port" or
 * "[IPv6]:port" (central_check_address).
 *
 * shards_parse and the map are pure (any thread). A router holds one
 * central_client per distinct address on one event_base, and belongs to
 * that base's loop thread, like the clients.
 */
#ifndef EDGE_SHARDS_H
#define EDGE_SHARDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/upstream/central_client.h"
#include "err.h"

#define SHARDS_MAX 256       /* entries in one map */
#define SHARD_ALTS_MAX 8     /* addresses of one shard (primary + replicas) */
#define SHARDS_SPEC_MAX 8192 /* longest central.ops accepted */

typedef struct shard_entry {
	char *addrs[SHARD_ALTS_MAX]; /* primary first; malloc'ed */
	size_t naddrs;               /* 1 .. SHARD_ALTS_MAX */
} shard_entry;

typedef struct shard_map {
	shard_entry *shards; /* nshards entries, in the order written */
	size_t nshards;
	uint16_t *of_part; /* partition -> index in shards */
	uint32_t partitions;
} shard_map;

/* Parses spec for a deployment of partitions partitions (1 ..
 * PARTITION_MAX) into m (the caller's storage; shards_free releases it).
 * A spec without '=' is one address serving every partition. ERR_CONFIG
 * with the reason in err for an empty or oversized spec, a malformed
 * entry or range, a partition out of range, covered twice or not at all,
 * a bad address, too many shards or alternatives. On error m is left
 * empty (shards_free is still safe). */
int shards_parse(shard_map *m, const char *spec, uint32_t partitions, char *err,
                 size_t errlen) WARN_UNUSED;
void shards_free(shard_map *m);

/* The shard serving partition p (p < m->partitions). */
static inline size_t shards_of(const shard_map *m, uint32_t p)
{
	return m->of_part[p];
}

/* --- router (loop thread) ------------------------------------------------ */

typedef struct shard_router shard_router;

/* One client per distinct address of m, all with o's settings (o->address
 * is ignored). The router keeps its own copy of m. NULL with a reason in
 * err when a client cannot be made. */
shard_router *shards_router_new(struct event_base *base, const shard_map *m,
                                const central_client_opts *o, char *err, size_t errlen);
/* Frees every client (their callbacks run with ERR_CLOSED first). NULL is
 * a no-op. Not from inside a client callback. */
void shards_router_free(shard_router *r);

const shard_map *shards_router_map(const shard_router *r);

/* The shard of an item ("type:id"). */
size_t shards_router_shard_of(const shard_router *r, const char *item, size_t len);

/* The alternative of shard s to ask: the first, from index from on, whose
 * client takes requests (circuit closed, or open long enough to probe);
 * when none does, from itself (the client then refuses at once). from
 * past the last alternative: -1. */
int shards_router_pick(const shard_router *r, size_t s, size_t from);

/* The client of alternative alt of shard s, and its address. */
central_client *shards_router_client(const shard_router *r, size_t s, size_t alt);
const char *shards_router_address(const shard_router *r, size_t s, size_t alt);

/* The sum of every client's counters (circuit_open: any open). */
void shards_router_get_stats(const shard_router *r, central_client_stats *out);

#endif
