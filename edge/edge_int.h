/* edge_int.h - the edge daemon's own state, shared by main.c (start-up,
 * signals, the tick, the drain), workers.c (the HTTP worker loops) and
 * changelog_wiring.c (the region changelog and the seed listener):
 * struct edge and struct worker, and the few calls between the three
 * files. Private to this folder.
 */
#ifndef EDGE_EDGE_INT_H
#define EDGE_EDGE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "edge/changelog/changelog.h"
#include "edge/changelog/seed.h"
#include "err.h"

#include "edge/api/api.h"
#include "edge/api/demo.h"
#include "edge/auth/bearer.h"
#include "edge/auth/guard.h"
#include "edge/config/edge.h"
#include "edge/http/http.h"
#include "edge/http/proxy.h"
#include "edge/ledger/ledger.h"
#include "edge/telemetry/telemetry.h"
#include "edge/upstream/bootstrap.h"
#include "edge/upstream/shards.h"
#include "edge/upstream/homes.h"
#include "edge/upstream/uplink.h"
#include "log.h"
#include "sdnotify.h"
#include "store.h"
#include "ticker.h"
#include "tsa.h"

/* One event loop serving HTTP: worker 0 runs on the main loop (which also
 * runs the tick and the signals), the others on threads of their own. */
typedef struct worker {
	struct event_base *base; /* worker 0: the edge's */
	http_server *http;
	shard_router *central; /* NULL without central.ops */
	api api;
	size_t index;
	struct event *stats_ev; /* its own 30 s stats line */
	pthread_t thread;
	bool started; /* its thread runs */
	/* Lifecycle: beat_ev runs on the worker's loop every 100 ms. The
	 * main thread sets drain_asked; the worker then drains its server
	 * and reports, all through these atomics. */
	struct event *beat_ev;
	_Atomic uint64_t beat_ms; /* mono ms of its loop's last beat */
	atomic_bool drain_asked, drained;
	_Atomic size_t drain_conns, drain_in_flight; /* at its drain */
	_Atomic size_t busy;                         /* connections still answering */
} worker;

typedef struct edge {
	edge_config cfg;
	struct event_base *base;
	store *db;
	ledger *lg;
	uplink *up;
	homes *homes;         /* the home stream's follower; NULL: home.follow off */
	changelog *clog;      /* NULL without [changelog] */
	seed_server *seed;    /* NULL without changelog.seed_listen */
	char instance[256];   /* its name in the changelog's takeover records */
	uint64_t exit_ms;     /* monotonic: when it found it must exit; 0: not */
	int exit_soon_status; /* with the first reason found (changelog_wiring.c) */
	bootstrap *boot;      /* NULL without central.ops */
	api tmpl;             /* types, counters and api settings every worker copies */
	shard_map shards;     /* central.ops; nshards 0 without it */
	proxy_list trusted;   /* http.trusted_proxies */
	bearer_ring *keys;    /* NULL: no bearer tokens; read by every worker */
	guard *guard;         /* admission limits, shared by every worker */
	worker *w;
	size_t nw;
	log_limit seal_errors;
	struct event *tick, *sigterm, *sigint;
	struct event *sighup; /* reloads the TLS certificate */
	http_tls_store *tls;  /* every worker's TLS certificate; NULL without TLS */
	demo_site *demo;      /* the demo page's files; NULL when off */
	telemetry *tm;        /* /metrics: one registry for every module */
	uint64_t next_stats;
	/* The upstream thread (upstream_turn); next_pump, next_sweep,
	 * next_member_sweep and seal_errors are its own. */
	ticker *upstream;
	uint64_t next_pump, next_sweep, next_member_sweep;
	/* Lifecycle, main thread only, but pub_ready (pub_mu). */
	enum { RUNNING, DRAINING } phase;
	bool hurry;      /* a second signal: stop at once */
	bool signalled;  /* SIGTERM or SIGINT came once */
	int exit_status; /* main's, once the loop ends: 1 when the store must be opened again */
	bool drain_logged;
	uint64_t drain_deadline;  /* mono ms: the whole drain ends */
	uint64_t answer_deadline; /* mono ms: the loops stop answering */
	uint64_t produced_at_drain;
	sdnotify_watchdog wd;
	uint64_t started_ms, next_ready;
	uint64_t store_ok_ms, store_fail_ms; /* last store success and failure seen */
	ledger_stats last_ls;
	uint64_t last_snapshot_retries;
	bool homes_once;         /* every home partition had a horizon at once, since start */
	tsa_mutex pub_mu;        /* guards pub_ready */
	api_readiness pub_ready; /* as of the last check, for /readyz (pub_mu) */
} edge;

/* Sets up every worker (worker 0 on e->base, the others on threads of
 * their own, all listening on the same addresses) and starts their
 * threads. 0, or a negative code with the reason in err. Main thread. */
int edge_workers_start(edge *e, char *err, size_t errlen);
/* Stops the worker threads' loops and waits for them. Main thread. */
void edge_workers_stop(edge *e);
/* Stops them if they run, and frees every worker. Main thread. */
void edge_workers_free(edge *e);
/* The api and central-client counters of worker i as one log line: from
 * its own thread, or from the main thread once its loop has stopped. */
void edge_log_worker_stats(size_t i, worker *w);

/* changelog_wiring.c. The [changelog] options' checks (changelog.durability,
 * the timings, the seed listener and changelog.seed_from): 0, or
 * ERR_CONFIG with the reason in err. Main thread, before the store opens;
 * `edge -t` too. */
int edge_changelog_check(const edge_config *cfg, char *err, size_t errlen) WARN_UNUSED;
/* Restores the store from the region's changelog (a peer's copy first
 * when changelog.seed_from names peers and the store fell behind the
 * log's start), then sets e->clog (not active yet) and, with
 * changelog.seed_listen, e->seed. After the store and e->tm, before the
 * ledger opens. 0, or a negative code with the reason in err. Main
 * thread. */
int edge_changelog_start(edge *e, char *err, size_t errlen) WARN_UNUSED;
/* From the main tick: exits (EXIT_FENCED, man likes-edge) once another
 * instance took the changelog over from this one, after a short grace
 * for the refusals in flight; exits (EXIT_RESEED) after the same grace
 * an instance whose store fell behind the log's start. Nothing without
 * e->clog. Main thread. */
void edge_changelog_tick(edge *e, uint64_t now);
/* Fills r->writer (left as it is without e->clog). Main thread. */
void edge_changelog_readiness(edge *e, api_readiness *r);
/* The changelog as the ledger's log (ledger_opts.log, with e->clog as
 * its ctx): its own functions. */
extern const ledger_log edge_changelog_log;
/* Starts the changelog's follower, writing into e->lg until it takes
 * over; then batches carry the new epoch, central hears of it first
 * (uplink_handover), and the ledger writes. After the ledger and
 * e->up exist. 0, or ERR_IO (no thread) with the reason in err. Main
 * thread. */
int edge_changelog_follow(edge *e, char *err, size_t errlen) WARN_UNUSED;

#endif
