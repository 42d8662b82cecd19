/* api_state.h - the state of one worker's api (api.h): what the daemon
 * hands it (the ledger, central's shards, identity, counters, limits,
 * telemetry, the readiness hook), its config and stats, and what the
 * api keeps between requests (the membership cache, the parked answers,
 * the waiting entries, the open membership batches). Every file of
 * edge/api reads it through api_int.h; the daemon through api.h. Loop
 * thread, but where a field says otherwise.
 */
#ifndef EDGE_API_STATE_H
#define EDGE_API_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "edge/upstream/central_client.h"
#include "edge/upstream/shards.h"
#include "counter.h"
#include "edge/http/http.h"
#include "edge/auth/guard.h"
#include "edge/auth/identity.h"
#include "log.h"
#include "edge/ledger/ledger.h"
#include "sbuf.h"
#include "smap.h"
#include "edge/telemetry/telemetry.h"

typedef struct api_config {
	unsigned max_items;         /* items in one GET /v1/counts */
	unsigned max_ops;           /* ops in one POST /v1/ops */
	uint64_t idem_retention_ms; /* how long Idempotency-Key answers are kept */
	unsigned max_age_s;         /* count GETs: Cache-Control max-age */
	unsigned stale_s;           /* and stale-while-revalidate */
	uint64_t member_ttl_ms;     /* memberships asked of central kept this long */
	size_t member_entries;      /* at most this many */
	const char *region;         /* edge.region: a user whose identity names
	                               another home is away (api_membership) */
	const char *home_region;    /* users at home here: a pair the store lacks
	                               may be a known no (ledger_member_home);
	                               NULL: home.follow off */
} api_config;

typedef struct api_stats {
	uint64_t requests;              /* handled by this api (this worker) */
	uint64_t readthrough_asked;     /* requests sent to central */
	uint64_t readthrough_failed;    /* no usable answer */
	uint64_t readthrough_retried;   /* asked again of a shard's next address */
	uint64_t readthrough_misrouted; /* answers saying central does not own
	                                   the partition (421, not_owned) */
	uint64_t unknown_503;           /* reads refused: count unknown, central unreachable */
	uint64_t replayed;              /* writes answered from an idempotency record */
	uint64_t not_modified;          /* 304 answers */
	uint64_t member_refused;        /* membership lookups refused: MEMBER_LOOKUPS
	                                   queued or in flight already */
	uint64_t away_local;            /* away pairs answered from this store alone
	                                   after waiting: central's answer missing */
} api_stats;

#define MEMBER_BATCH 100    /* memberships in one request to central */
#define MEMBER_LOOKUPS 2048 /* lookups queued or in flight, per worker */

/* One readiness check of GET /readyz: ok, or why not (a short static or
 * copied phrase, JSON-safe: no quotes or backslashes). */
typedef struct api_check {
	bool ok;
	char reason[120];
} api_check;

/* What the daemon says about its readiness (edge/main.c fills it; the
 * writer check, edge/changelog_wiring.c). */
typedef struct api_readiness {
	api_check store;     /* the store is open and takes writes */
	api_check kafka;     /* Kafka reachable, or the pending budget not spent */
	api_check snapshots; /* every partition's snapshots are fresh */
	api_check replica;   /* every partition's replica of counts is complete */
	api_check writer;    /* this instance takes writes (not a standby, not fenced) */
} api_readiness;

typedef struct parked parked;

typedef struct api {
	ledger *lg;
	struct event_base *base; /* the loop this api serves (group commit) */
	bool group_commit;
	/* Central's instances by partition (edge/upstream/shards.h): a read-through
	 * goes to its item's shard. NULL: no read-through (unknown counts
	 * are 503). */
	shard_router *central;
	identity_config ic;
	char *types[ITEM_MAX_NAMES + 1]; /* NULL-terminated */
	counters counters;
	const char *edge_id;
	api_config cfg;
	guard *guard; /* shared by the workers; NULL: no limits */
	/* The edge's metrics, shared by the workers: /metrics renders it,
	 * /v1/hot lists its hot items, every answer is counted in it. NULL:
	 * none (/metrics and /v1/hot answer 404). */
	telemetry *tm;
	/* The Kafka uplink, shared by the workers: GET /v1/admin/inspect
	 * shows its producer queue. NULL: not shown. */
	struct uplink *up;
	/* The demo page's files, served under /demo/ (demo.h); NULL: off. */
	const struct demo_site *demo;
	/* Fills the checks of GET /readyz; called on the worker's thread.
	 * NULL: /readyz answers ready. */
	void (*readiness)(void *ctx, api_readiness *out);
	void *readiness_ctx;
	smap member_hot, member_cold; /* "counter 0 item 0 user" -> member_entry* */
	/* Their heap bytes (slots, keys, entries), stored by the api's
	 * thread after each put, read by any (api_member_bytes). */
	_Atomic uint64_t member_bytes;
	char cache_control[96];
	api_stats st;
	log_limit write_errors;  /* one "write failed" line a second */
	log_limit misrouted;     /* one "central does not own" line a second */
	struct event *commit_ev; /* runs the group commit at the turn's end */
	struct ask **mbatch;     /* per shard: the open membership batch */
	size_t nmbatch;
	struct event *mflush_ev;       /* sends them at the turn's end */
	size_t member_lookups;         /* queued or in flight */
	parked *parked, **parked_tail; /* answers waiting for the commit */
	parked *parked_free;           /* a pool of them */
	size_t parked_nfree;
	struct waiting *wait_free; /* a pool of entries for requests that
	                              wait for central */
	size_t wait_nfree;
} api;

/* The heap bytes of a's cache of memberships read through from central
 * (both generations, at most cfg.member_entries entries): one relaxed
 * load, any thread. */
uint64_t api_member_bytes(const api *a);

#endif
