/* opsapi.h - central's internal HTTP/1.1 ops API (libevent evhttp; JSON).
 *
 * Runs on a thread of its own with its own event_base. It only reads: the
 * store (LevelDB makes that safe alongside the applier's writes; answers
 * that combine several keys read them from one LevelDB snapshot), the
 * applier's atomic stats and gauges, and the run loop's ops_run_stats.
 *
 *   GET /healthz                                       {"status":"ok"}
 *   GET /readyz                                        the readiness hook's checks
 *   GET /metrics                                       Prometheus text
 *   GET /v1/counts?items=..[&counters=..][&edge=..]    up to 100 items
 *   GET /v1/items/{type}/{id}/{counter}[?by=region|?by=day[&from][&to]]
 *   GET /v1/items/{type}/{id}/{counter}/users/{user}   set counters only
 *   GET /v1/totals/{counter}                           items and sum (full scan)
 *   GET /v1/digest[?partition=N]                       state digests (shard.h)
 *   GET /v1/export[?format=csv|json][&counter=C]       every count, streamed
 *   GET /v1/checkpoint?partitions=LIST[&after_counter=C&after_item=I]
 *                                                      the counts of those
 *                                                      partitions, versions and
 *                                                      edges' sequences, as
 *                                                      framed snapshots (ckpt.h)
 *   GET /v1/checkpoint?partitions=LIST&home=REGION     the memberships of the
 *                                                      region's users there
 *   GET /v1/stats                                      per-partition offsets, lag
 *   GET /v1/hot[?limit=N]                              fastest-moving counts
 *   GET /v1/admin/verify[?limit=N]                     recount (verify.h), read-only
 *   POST /v1/admin/repair[?limit=N]                    recount and repair
 *   POST /v1/admin/backup?dir=PATH                     copy of the store (shard.h)
 *
 * Sharding: the item and count routes answer only for items of owned
 * partitions (opts.owned); any other item gets 421 not_owner naming its
 * partition, and /v1/counts lists such items under "not_owned" when it
 * has owned ones to answer; /v1/checkpoint and /v1/digest?partition=N
 * answer 421 for a partition not owned. /v1/stats, /v1/digest and
 * /metrics cover the owned partitions.
 *
 * Versions: every "version" in an answer, and a checkpoint's `n`, is the
 * partition's version (version.h: epoch and next input offset, read with
 * applier_view_version), what the snapshots carry.
 *
 * Checkpoint: LIST as in central.partitions (shard.h, "all" too); 400
 * for a bad LIST, for one of after_counter/after_item without the other
 * or either invalid. 200 application/octet-stream: frames (ckpt.h), all
 * read from one store view taken as the request arrives. First the
 * counts: one scan of the 'C' keys in key order (strictly after
 * after_counter 0 after_item when given), each count of a listed
 * partition once, in messages of partition p with n = p's version,
 * l = false, no edges, up to 4096 counts in key order. Then per listed
 * partition, ascending, one message with l = true, no counts, and every
 * edge's applied and held sequences there (as the snapshots carry them).
 * Then the end frame; a stream without it was cut short (a store error,
 * logged).
 *
 * Home checkpoint (home=REGION, a region name; 400 otherwise, and with
 * after_counter or after_item: it always starts from the beginning):
 * the same frames from one view, but for each listed partition in turn
 * the region's 'V' keys of that partition (keys.h) in key order, in
 * messages with n = p's version, l = false, no counts, no edges and up
 * to 4096 memberships ("m": counter, item, user, member, hlc); then per
 * listed partition, ascending, one message with l = true and nothing
 * else; then the end frame. since_ms=T (digits; with home only, 400
 * otherwise): a pair whose op's clock is before T's UTC day is left out;
 * after each partition's pairs, one like (from the 'G' keys) of each
 * (counter, item) the region's users liked before that day.
 *
 * Auth: with a non-empty token every route needs "Authorization: Bearer
 * <token>", except /healthz, /readyz and /metrics asked from a loopback
 * address;
 * otherwise 401 unauthorized. POST /v1/admin/repair always needs the
 * token, from loopback too, and is refused (403) when none is set; so
 * does POST /v1/admin/backup (which writes a new store elsewhere, on the
 * ops thread). Repair is the only route that changes the store, through
 * the repair hook (which runs it on central's run loop). An empty token is allowed only when the
 * listen address is loopback (127.0.0.0/8, ::1, localhost; an empty
 * host, 0.0.0.0 or :: is every interface): then nothing is checked and a
 * warning is logged at start; elsewhere ops_api_start refuses. Any
 * other write route added later must always need the token too. Errors
 * answer
 * {"error":{"code","message"}}.
 * docs/ops.md has the answers in full.
 */
#ifndef CENTRAL_OPSAPI_H
#define CENTRAL_OPSAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "central/apply/apply.h"
#include "central/ops/opsrun.h"
#include "counter.h"
#include "store.h"

typedef struct ops_api_opts {
	const char *listen;  /* host:port; port 0 picks a free one */
	const char *token;   /* "" = no auth (loopback listen only); copied */
	store *db;           /* outlives the API */
	const counters *ctr; /* configured counters; outlives the API */
	uint32_t partitions;
	const applier *ap;        /* stats and input offsets; may be NULL */
	const ops_run_stats *run; /* may be NULL */
	ops_repair_fn repair;     /* NULL: POST /v1/admin/repair answers 503 */
	void *repair_ctx;
	ops_readiness_fn readiness; /* NULL: GET /readyz answers 503, not started */
	void *readiness_ctx;
	const char *data_dir; /* the store's dir, for its size; may be NULL */
	/* central's metrics (cmetrics.h), served on /metrics and /v1/hot;
	 * NULL: the API makes its own from ap, run, db and data_dir, with
	 * nothing fed to it (no histograms move, no hot items). */
	struct cmetrics *metrics;
	const struct shard_set *owned; /* partitions answered for; NULL = all */
	const char *instance_id;       /* recorded in backups as backup_of; may be NULL */
} ops_api_opts;

typedef struct ops_api ops_api;

/* NULL when o->listen is empty (API off) or on failure (reason in err,
 * which stays "" when the API is just off), including an empty token on
 * a listen address that is not loopback. */
ops_api *ops_api_start(const ops_api_opts *o, char *err, size_t errlen);
/* The checks ops_api_start makes of its address and token, for a caller
 * that wants to refuse before doing anything else: listen must parse as
 * host:port (written to host and port), and an empty token needs a
 * loopback host. 0, or ERR_CONFIG with the reason in err. */
int ops_api_check(const char *listen, const char *token, char *host, size_t hostcap, int *port,
                  char *err, size_t errlen) WARN_UNUSED;
/* The port it listens on (the chosen one when asked for port 0). */
int ops_api_port(const ops_api *api);
/* Stops the thread and frees everything; NULL is a no-op. */
void ops_api_stop(ops_api *api);

#endif
