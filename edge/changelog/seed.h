/* seed.h - a store copied whole from a peer instance of the same edge,
 * for an instance whose position lies before the changelog's start.
 *
 * The log is finite (retention on a real cluster, the embedded
 * cluster's cap of about 5 MiB a partition), so an instance that comes
 * back after the log lost records it never read, or a new one on an
 * empty disk once the log's start has gone, cannot rebuild its store
 * from the log alone: it lacks memberships, idempotency records and
 * pending ops (changelog.h: such a store is "unfit" and never takes
 * over). A peer (the active, or another fit standby) holds all of it.
 *
 * Every instance with changelog.seed_listen set serves its own store,
 * as one consistent view (a LevelDB snapshot), at
 * GET /v1/changelog/seed?edge=ID&partitions=N, with a bearer token
 * (changelog.seed_token; without one, loopback only). The copy's L key
 * says the log position it is at (changelog_snapshot: the store's own,
 * held back to any acknowledged append whose store write has not landed
 * yet): whoever loads it follows the log from there, as the peer would
 * after a restart. The peer refuses (503) while its own store is unfit:
 * the view has a gap mark or held records (writes the log does not have
 * yet, durability = local), or the process knows its follower stopped
 * or it was fenced.
 *
 * Every key is copied (but the gap mark, which a copied store never
 * has), the replica of counts and the home streams' positions too: they are positions in other logs
 * (central's snapshot and home topics), valid with the keys they were written with, so the loader
 * resumes those streams where the peer was instead of loading counts again from central across the
 * WAN.
 *
 * Body (application/octet-stream), numbers big-endian:
 *   "LKSD" version u8 (= 1)
 *   frames: [length u32 > 0][a changelog data record (changelog.h)
 *            holding puts only, epoch 0], in key order
 *   end:    [length u32 = 0][keys u64][frame bytes u64]
 * and nothing after. A body cut short or with wrong totals is refused
 * before the loader touches its store.
 *
 * Loading (seed_load) on an instance that starts: the copy is fetched
 * into a file in the data dir and checked whole; then the store is
 * marked unfit (the gap key), emptied, filled with the copy, and the
 * mark cleared in the last write, so a load cut short by a crash leaves
 * a store that is still unfit and loads again at the next start.
 */
#ifndef EDGE_CHANGELOG_SEED_H
#define EDGE_CHANGELOG_SEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "metrics.h"
#include "sbuf.h"
#include "store.h"

#define SEED_PATH "/v1/changelog/seed"
#define SEED_MAGIC "LKSD"
#define SEED_VERSION 1
#define SEED_FRAME_BYTES (256u << 10) /* a frame ends past this many bytes */
#define SEED_FRAME_MAX (64u << 20)    /* a frame the loader refuses as corrupt */
#define SEED_RETRY_PAUSE_S 5          /* between two rounds of peers that answered 503 */

/* --- the format (pure) ------------------------------------------------------ */

/* Builds a body's frames: seed_enc_begin once, seed_enc_put per key in
 * key order, seed_enc_end once. Output goes to out; seed_enc_flush moves
 * a frame that reached SEED_FRAME_BYTES (or any, with force) into it. */
typedef struct seed_enc {
	store_batch *wb; /* the frame being built */
	size_t wb_bytes;
	uint64_t keys, bytes;
} seed_enc;

void seed_enc_begin(seed_enc *e, sbuf *out);
void seed_enc_put(seed_enc *e, const char *k, size_t kn, const char *v, size_t vn);
/* A frame into out once the one being built is SEED_FRAME_BYTES (or,
 * with force, any that holds a key); true when it wrote one. */
bool seed_enc_flush(seed_enc *e, sbuf *out, bool force);
void seed_enc_end(seed_enc *e, sbuf *out);
void seed_enc_free(seed_enc *e);

/* --- serving ---------------------------------------------------------------- */

/* Why this store may not be copied now, or NULL when it may. */
typedef const char *(*seed_fit_fn)(void *ctx);
/* A read view of the store to copy and the log position it is at
 * (changelog_snapshot), or NULL. */
typedef store_snap *(*seed_snapshot_fn)(void *ctx, int64_t *position);

typedef struct seed_serve_opts {
	const char *listen; /* host:port; "" or NULL: not served */
	const char *token;  /* bearer token asked of peers; "" = loopback peers only */
	const char *edge_id;
	uint32_t partitions;
	store *db;
	seed_fit_fn fit;           /* called on the listener's thread */
	seed_snapshot_fn snapshot; /* the view a copy reads, and its position */
	void *ctx;                 /* fit's and snapshot's */
	metrics *reg;              /* its counters; NULL: none */
} seed_serve_opts;

typedef struct seed_server seed_server;

/* Checks a listen address and token as seed_serve_start would: a listen
 * address that is not loopback needs a token. 0 or ERR_CONFIG. */
int seed_serve_check(const char *listen, const char *token, char *err, size_t errlen) WARN_UNUSED;
/* Serves on a thread of its own until seed_serve_stop. NULL with err set
 * when it cannot (err empty: listen not set). */
seed_server *seed_serve_start(const seed_serve_opts *o, char *err, size_t errlen);
/* The port bound (an ephemeral one when listen said 0). */
int seed_serve_port(const seed_server *s);
/* Stops, ending any copy in progress; before the store closes. */
void seed_serve_stop(seed_server *s);

/* --- loading ---------------------------------------------------------------- */

typedef struct seed_load_opts {
	const char *from;  /* the peers' seed_listen addresses, "host:port,host:port" */
	const char *token; /* sent to them */
	const char *edge_id;
	uint32_t partitions;
	const char *data_dir; /* where the copy is kept while it is checked */
	unsigned timeout_ms;  /* each step of the exchange */
	unsigned retry_ms;    /* while every peer answers 503, asked again this long; 0: once */
	/* At most once a second while fetching, checking and loading
	 * ("fetching", "checking", "loading", with the bytes so far), for a
	 * service manager's start-up timeout. NULL: none. */
	void (*progress)(void *ctx, const char *phase, uint64_t bytes);
	void *progress_ctx;
} seed_load_opts;

typedef struct seed_loaded {
	char peer[256]; /* the one that gave it */
	uint64_t keys;  /* loaded */
	uint64_t bytes; /* frame bytes */
	uint64_t at;    /* the copy's log position (its L key) */
	uint64_t ms;    /* fetching, checking and loading */
} seed_loaded;

/* Checks a seed_from list as seed_load reads it: host:port entries,
 * commas and spaces between. 0 or ERR_CONFIG with the entry in err. */
int seed_from_check(const char *from, char *err, size_t errlen) WARN_UNUSED;

/* Asks each peer in turn for its store and loads the first good copy
 * whose position is at or past log_start into db, replacing everything
 * db held; while every peer answers 503 (ERR_AGAIN), asks again every
 * SEED_RETRY_PAUSE_S for up to retry_ms. A copy older than the log's
 * start is ERR_CONFLICT. The copy waits in
 * data_dir/seed.part, at most half the space free there, until it has
 * been checked whole. 0; ERR_NOTFOUND when no peer is named; else the
 * last peer's error with its reason in err (db untouched when no copy
 * was good; marked unfit when a load was cut short). */
int seed_load(const seed_load_opts *o, store *db, int64_t log_start, seed_loaded *out, char *err,
              size_t errlen) WARN_UNUSED;

/* The checks and the load alone, from a body already in file f (tests,
 * and seed_load after fetching). */
int seed_load_file(FILE *f, store *db, int64_t log_start, seed_loaded *out, char *err,
                   size_t errlen) WARN_UNUSED;

#endif
