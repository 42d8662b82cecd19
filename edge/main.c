/* main.c - edge: arguments, configuration and wiring; then the loop.
 *
 *   edge -c FILE [-s section.key=value]...
 *   edge inspect -c FILE [--json] [--offline]   per-partition state (inspect.h)
 *
 * edge.workers event loops (libevent) serve HTTP, each on its own thread
 * (the first on the main thread), all sharing the ledger and the Kafka
 * producer; the main loop also runs, on a 10 ms timer, readiness, the
 * watchdog and the stats. The upstream thread, every 10 ms, serves the
 * Kafka uplink (delivery reports, central's snapshots applied to the
 * ledger), seals what is due, sends again what waits and sweeps old
 * idempotency records: none of it on a loop that answers requests, so no
 * request waits behind a snapshot's application or a seal. SIGTERM/SIGINT start the drain
 * (edge.drain_timeout_ms): every worker stops accepting and says goodbye to its connections (HTTP/2
 * GOAWAY, HTTP/1.1 close after the answer) while its loop keeps answering what was received, group
 * commits included; once no connection is busy (or half the deadline passed) the loops stop, every
 * open batch is sealed and what is sealed goes to Kafka within what is
 * left; exit 0. What Kafka did not take stays in the store for the next
 * start. A second SIGTERM during the drain stops at once.
 * SIGHUP: read http.tls_cert and http.tls_key again (every worker's new
 * TLS connections get them, open ones keep theirs: edge/http/http_tls.c),
 * reopen log.file, and reload identity.jwt_keys (bearer.h's ring: a
 * worker verifies with the old set or the new one, never a freed one; a
 * bad file keeps the old set).
 * systemd: READY=1 once listening, STOPPING=1 when the drain starts,
 * WATCHDOG=1 from the tick while every worker's loop and the upstream
 * thread turn.
 */
#include <event2/event.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge/edge_int.h"
#include "edge/api/api.h"
#include "edge/upstream/bootstrap.h"
#include "edge/auth/bearer.h"
#include "edge/auth/guard.h"
#include "edge/auth/tokcache.h"
#include "clock.h"
#include "failpoint.h"
#include "edge/api/demo.h"
#include "edge/config/edge.h"
#include "edge/http/http.h"
#include "edge/ops/inspect.h"
#include "edge/ledger/ledger.h"
#include "log.h"
#include "memtrim.h"
#include "netaddr.h"
#include "sdnotify.h"
#include "ticker.h"
#include "edge/http/proxy.h"
#include "buildinfo.h"
#include "edge/upstream/shards.h"
#include "store.h"
#include "store_metrics.h"
#include "edge/upstream/uplink.h"
#include "xmem.h"

static atomic_bool hurry_flag; /* a signal after the loops stopped */

static void log_stats(edge *e)
{
	ledger_stats ls;
	uplink_stats us;
	ledger_get_stats(e->lg, &ls);
	uplink_get_stats(e->up, &us);
	size_t heap_free = memtrim_free_bytes();
	log_info(
	    "stats",
	    "heap_free_kb=%zu ops_accepted=%" PRIu64 " ops_duplicate=%" PRIu64
	    " ops_replayed=%" PRIu64 " refused_budget=%" PRIu64 " batches_sealed=%" PRIu64
	    " batches_sent=%" PRIu64 " batches_resent=%" PRIu64 " batches_applied=%" PRIu64
	    " produced=%" PRIu64 " pending_batches=%" PRIu64 " pending_ops=%" PRIu64
	    " pending_bytes=%" PRIu64 " produce_errors=%" PRIu64 " snapshots=%" PRIu64
	    " snapshots_stale=%" PRIu64 " snapshots_bad=%" PRIu64 " snapshots_deadlettered=%" PRIu64
	    " deadletter_failed=%" PRIu64 " snapshot_offset_resets=%" PRIu64
	    " snapshot_retries=%" PRIu64 " readthrough_kept=%" PRIu64 " commits=%" PRIu64
	    " commits_failed=%" PRIu64 " member_reads=%" PRIu64 " member_reads_skipped=%" PRIu64
	    " stage_fresh=%" PRIu64 " stage_reread=%" PRIu64,
	    heap_free / 1024, ls.ops_accepted, ls.ops_duplicate, ls.ops_replayed,
	    telemetry_refused_ops(e->tm, TM_REFUSED_BUDGET), ls.batches_sealed, ls.batches_sent,
	    ls.batches_resent, ls.batches_applied, us.produced, ls.pending_batches, ls.pending_ops,
	    ls.pending_bytes, us.produce_errors, ls.snapshots_applied, ls.snapshots_stale,
	    us.snapshots_bad, us.snapshots_deadlettered, us.deadletter_failed, us.offset_resets,
	    us.snapshot_retries, ls.readthrough_kept, ls.commits, ls.commits_failed,
	    ls.member_reads, ls.member_reads_skipped, ls.stage_fresh, ls.stage_reread);
}

/* memory_bytes{holder="readthrough_members"} (telemetry's hook, on the
 * thread that renders): every worker's cache of memberships read through
 * from central, each up to central.cache_entries. The workers are all
 * set up before any of them serves. */
static bool members_bytes(void *ctx, uint64_t *out)
{
	const edge *e = ctx;
	uint64_t n = 0;
	for (size_t i = 0; e->w && i < e->nw; i++)
		n += api_member_bytes(&e->w[i].api);
	*out = n;
	return true;
}

/* /readyz (api.h's hook), on a worker's thread: the checks as of the
 * last tick that made them. */
static void read_readiness(void *ctx, api_readiness *out)
{
	edge *e = ctx;
	tsa_lock(&e->pub_mu);
	*out = e->pub_ready;
	tsa_unlock(&e->pub_mu);
}

/* Once a second on the main loop: the store's last outcome, Kafka, the
 * snapshots' age. */
static void check_readiness(edge *e, uint64_t now)
{
	ledger_stats ls;
	uplink_stats us;
	uplink_health h;
	ledger_get_stats(e->lg, &ls);
	uplink_get_stats(e->up, &us);
	uplink_get_health(e->up, &h);
	if (ls.commits_failed > e->last_ls.commits_failed ||
	    us.snapshot_retries > e->last_snapshot_retries)
		e->store_fail_ms = now;
	if (ls.commits - ls.commits_failed > e->last_ls.commits - e->last_ls.commits_failed ||
	    ls.snapshots_applied > e->last_ls.snapshots_applied)
		e->store_ok_ms = now;
	e->last_ls = ls;
	e->last_snapshot_retries = us.snapshot_retries;

	uint64_t age_ms = (uint64_t)e->cfg.ready_snapshot_age_s * 1000;
	api_readiness r = {.store.ok = true,
	                   .kafka.ok = true,
	                   .snapshots.ok = true,
	                   .replica.ok = true,
	                   .writer.ok = true};
	if (e->store_fail_ms > e->store_ok_ms) {
		r.store.ok = false;
		snprintf(r.store.reason, sizeof r.store.reason,
		         "the last store write failed (disk full or failing)");
	}
	bool reachable = h.kafka_ok_ms && now - h.kafka_ok_ms < age_ms;
	if (!reachable && !ledger_accepting(e->lg)) {
		r.kafka.ok = false;
		snprintf(r.kafka.reason, sizeof r.kafka.reason,
		         "nothing from Kafka for %" PRId64 "s and the pending budget is spent",
		         e->cfg.ready_snapshot_age_s);
	}
	if (!h.snapshot_ms) {
		r.snapshots.ok = false;
		snprintf(r.snapshots.reason, sizeof r.snapshots.reason,
		         now - e->started_ms < age_ms
		             ? "waiting for the first snapshot of partition %u"
		             : "no snapshot of partition %u since start",
		         h.stale_partition);
	} else if (now - h.snapshot_ms >= age_ms) {
		r.snapshots.ok = false;
		snprintf(r.snapshots.reason, sizeof r.snapshots.reason,
		         "partition %u: newest snapshot read %" PRIu64 "s ago", h.stale_partition,
		         (now - h.snapshot_ms) / 1000);
	}
	uint64_t loaded;
	uint32_t complete = ledger_replica_ready(e->lg, &loaded);
	if (e->boot && complete < (uint32_t)e->cfg.partitions) {
		r.replica.ok = false;
		snprintf(r.replica.reason, sizeof r.replica.reason,
		         "loading the replica from central: %u of %" PRId64
		         " partitions complete, %" PRIu64 " counts loaded",
		         complete, e->cfg.partitions, loaded);
	}
	uint32_t horizons = e->homes ? ledger_home_ready(e->lg) : (uint32_t)e->cfg.partitions;
	if (horizons == (uint32_t)e->cfg.partitions)
		e->homes_once = true;
	if (r.replica.ok && horizons < (uint32_t)e->cfg.partitions) {
		/* Until then a home user's untouched pairs are asked of
		 * central (docs/events.md, "Home streams"): not ready at
		 * the start, when the whole region would be; later, when a
		 * gap in the stream took a partition's horizon, only its
		 * users' pages cross the WAN until its load is done, and
		 * leaving the balancer would send every user of the region
		 * elsewhere for it. */
		r.replica.ok = e->homes_once;
		snprintf(r.replica.reason, sizeof r.replica.reason,
		         "%shome stream: %u of %" PRId64
		         " partitions have a horizon; the others' users' pairs are read "
		         "through",
		         e->homes_once ? "degraded: " : "", horizons, e->cfg.partitions);
	}
	edge_changelog_readiness(e, &r);
	tsa_lock(&e->pub_mu);
	e->pub_ready = r;
	tsa_unlock(&e->pub_mu);
	bool ok[TM_NCHECKS] = {[TM_CHECK_STORE] = r.store.ok,
	                       [TM_CHECK_KAFKA] = r.kafka.ok,
	                       [TM_CHECK_SNAPSHOTS] = r.snapshots.ok,
	                       [TM_CHECK_REPLICA] = r.replica.ok,
	                       [TM_CHECK_WRITER] = r.writer.ok};
	telemetry_readiness(
	    e->tm, r.store.ok && r.kafka.ok && r.snapshots.ok && r.replica.ok && r.writer.ok, ok);
}

/* Every worker's loop, and the upstream thread, turned within the last
 * few seconds. */
static bool workers_alive(edge *e, uint64_t now)
{
	for (size_t i = 0; i < e->nw; i++)
		if (now > atomic_load(&e->w[i].beat_ms) + 5000)
			return false;
	return !e->upstream || now <= ticker_beat_ms(e->upstream) + 5000;
}

static void drain_progress(edge *e, uint64_t now);
static void store_reopen_exit(edge *e, uint64_t now);

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	edge *e = arg;
	uint64_t mono = clock_mono_ms();
	edge_changelog_tick(e, mono);
	store_reopen_exit(e, mono);
	if (e->phase == DRAINING)
		drain_progress(e, mono);
	if (mono >= e->next_ready) {
		check_readiness(e, mono);
		e->next_ready = mono + 1000;
	}
	if (workers_alive(e, mono))
		sdnotify_watchdog_tick(&e->wd, mono);
	uint64_t now = clock_mono_ms();
	if (now >= e->next_stats) {
		log_stats(e);
		(void)memtrim_release();
		e->next_stats = now + 30000;
	}
}

/* The retention's pace: memberships looked at per turn (a few ms), the
 * time between turns, and the longest time between passes. */
#define MEMBER_SWEEP_SCAN 4096
#define MEMBER_SWEEP_TURN_MS 100
#define MEMBER_SWEEP_BUSY_MS 10
#define MEMBER_SWEEP_PASS_MS 60000

/* One turn of the upstream thread. */
static void upstream_turn(void *arg)
{
	edge *e = arg;
	uplink_poll(e->up, 1000);
	homes_poll(e->homes, 1000);
	int rc = ledger_seal_due(e->lg, clock_wall_ms(), false);
	uint64_t skipped;
	if (rc && log_every(&e->seal_errors, 1000, &skipped))
		log_error("sealing failed; the ops stay pending",
		          "err=\"%s\" similar_since_last=%" PRIu64, err_str(rc), skipped);
	uint64_t now = clock_mono_ms();
	if (now >= e->next_pump) {
		/* Retries batches the producer refused (queue full) earlier. */
		ledger_pump(e->lg);
		e->next_pump = now + 1000;
	}
	if (now >= e->next_sweep) {
		/* Expired idempotency records go a bounded slice at a time. */
		int n = ledger_idem_sweep(e->lg, clock_wall_ms(), 1000);
		if (n < 0)
			log_error("idempotency sweep failed", "err=\"%s\"", err_str(n));
		e->next_sweep = now + (n == 1000 ? 10 : 1000);
	}
	uint64_t keep_ms = (uint64_t)e->cfg.member_keep_s * 1000;
	if (keep_ms && now >= e->next_member_sweep) {
		/* Memberships past store.member_keep_s, a slice a turn (well
		 * under 1% of a core while a pass runs; a slice that stopped at
		 * its most drops goes on at once); a pass's end waits a tenth of
		 * the window, at most a minute, for the next. */
		ledger_sweep sw;
		int src =
		    ledger_member_sweep(e->lg, clock_wall_ms(), keep_ms, MEMBER_SWEEP_SCAN, &sw);
		if (src)
			log_error("membership retention failed; it is tried again", "err=\"%s\"",
			          err_str(src));
		uint64_t pause =
		    keep_ms / 10 < MEMBER_SWEEP_PASS_MS ? keep_ms / 10 : MEMBER_SWEEP_PASS_MS;
		e->next_member_sweep = now + (src || sw.wrapped ? pause
		                              : sw.full         ? MEMBER_SWEEP_BUSY_MS
		                                                : MEMBER_SWEEP_TURN_MS);
	}
}

/* Stops the upstream thread after its turn; the main thread then does
 * the drain's last seal and sends itself. */
static void upstream_stop(edge *e)
{
	ticker_stop(e->upstream);
	e->upstream = NULL;
}

/* The drain's first phase, from the tick: once every worker has drained
 * its server, log the counts; once no connection is busy (or the answer
 * deadline passed) stop the main loop (main() does the rest). */
static void drain_progress(edge *e, uint64_t now)
{
	size_t conns = 0, in_flight = 0, busy = 0;
	bool all = true;
	for (size_t i = 0; i < e->nw; i++) {
		worker *w = &e->w[i];
		if (!atomic_load(&w->drained)) {
			all = false;
			continue;
		}
		conns += atomic_load(&w->drain_conns);
		in_flight += atomic_load(&w->drain_in_flight);
		busy += atomic_load(&w->busy);
	}
	if (all && !e->drain_logged) {
		e->drain_logged = true;
		log_info("draining", "connections=%zu in_flight=%zu deadline_ms=%" PRId64, conns,
		         in_flight, e->cfg.drain_timeout_ms);
	}
	if (all && busy == 0) {
		log_info("requests answered", "%s", "");
		event_base_loopbreak(e->base);
	} else if (now >= e->answer_deadline) {
		log_warn("drain: connections still busy at half the deadline; closing them",
		         "busy=%zu", busy);
		event_base_loopbreak(e->base);
	}
}

/* The drain's first phase, from a signal or a store that must be opened
 * again: each worker stops taking requests and answers those in flight. */
static void drain_begin(edge *e, uint64_t now)
{
	int rc = sdnotify_send("STOPPING=1\nSTATUS=draining");
	(void)rc;
	e->phase = DRAINING;
	e->drain_deadline = now + (uint64_t)e->cfg.drain_timeout_ms;
	e->answer_deadline = now + (uint64_t)e->cfg.drain_timeout_ms / 2;
	uplink_stats us;
	uplink_get_stats(e->up, &us);
	e->produced_at_drain = us.produced;
	for (size_t i = 0; i < e->nw; i++) {
		/* Each worker drains on its own loop, at its next beat. */
		atomic_store(&e->w[i].drain_asked, true);
		event_active(e->w[i].beat_ev, EV_TIMEOUT, 0);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	edge *e = arg;
	if (e->signalled) {
		log_warn("second signal during the drain: stopping at once", "signal=%d", (int)sig);
		e->hurry = true;
		event_base_loopbreak(e->base);
		return;
	}
	e->signalled = true;
	log_info("stopping", "signal=%d", (int)sig);
	if (e->phase != DRAINING) /* else a store that must be opened again began it */
		drain_begin(e, clock_mono_ms());
}

/* LevelDB refuses every write until the store is opened again (store.h,
 * store_needs_reopen): the edge drains and exits 1, and the service
 * manager starts it again; with a standby, that one takes the writes
 * over meanwhile. Reads were answered until now. */
static void store_reopen_exit(edge *e, uint64_t now)
{
	if (e->phase == DRAINING || !e->db || !store_needs_reopen(e->db))
		return;
	log_error("the store refuses every write until it is opened again; draining and exiting "
	          "so that the service manager starts this edge again",
	          "edge=%s status=1", e->cfg.id);
	e->exit_status = 1;
	drain_begin(e, now);
}

/* The worker's beat (its loop thread): liveness for the watchdog, and
 * the drain once asked. */
/* Each part keeps what it had when its reload fails: a bad certificate
 * or key leaves the old pair serving (the edge never goes off TLS or
 * drops a listener over a reload), a bad key file the old bearer keys,
 * an unopenable log file the old one. */
static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	edge *e = arg;
	char err[512];
	if (log_reopen(err, sizeof err))
		log_error("log reopen failed; lines go to the old file", "err=\"%s\"", err);
	else if (e->cfg.log_file[0])
		log_info("log reopened", "file=%s", e->cfg.log_file);
	if (e->keys) {
		if (bearer_ring_reload(e->keys, err, sizeof err))
			log_error("jwt key reload failed; the old keys stay in use", "err=\"%s\"",
			          err);
		else
			log_info("jwt keys reloaded", "keys=%zu", bearer_ring_count(e->keys));
	}
	if (!e->tls)
		log_info("SIGHUP: no TLS listener, no certificate to reload", "%s", "");
	else if (http_tls_store_reload(e->tls, err, sizeof err))
		log_error("tls reload failed; the old certificate stays in use", "err=\"%s\"", err);
}

/* Trusting X-User-Id lets anyone who reaches the port be anyone: only on
 * loopback, unless forced (sim runs edges in network namespaces). */
static int identity_setup(edge *e, char *err, size_t errlen)
{
	edge_config *cfg = &e->cfg;
	if (cfg->dev_identity) {
		const char *open_addr = NULL;
		if (cfg->listen[0] && !netaddr_listen_is_loopback(cfg->listen))
			open_addr = cfg->listen;
		else if (cfg->tls_listen[0] && !netaddr_listen_is_loopback(cfg->tls_listen))
			open_addr = cfg->tls_listen;
		if (open_addr && !cfg->dev_identity_force) {
			snprintf(err, errlen,
			         "identity.dev_header = true on the non-loopback address %s: "
			         "refused (identity.dev_header_force = true is for isolated "
			         "test networks only)",
			         open_addr);
			return ERR_CONFIG;
		}
		if (open_addr)
			log_warn("DEVELOPMENT IDENTITY MODE FORCED ON A NON-LOOPBACK ADDRESS: "
			         "anyone who reaches it can act as any user",
			         "edge=%s addr=%s", cfg->id, open_addr);
		else
			log_warn("DEVELOPMENT IDENTITY MODE: the X-User-Id header is trusted "
			         "as the user; never run this way in production",
			         "edge=%s", cfg->id);
	}
	if (cfg->jwt_keys[0]) {
		e->keys = bearer_ring_new(cfg->jwt_keys, cfg->jwt_issuer, cfg->jwt_audience,
		                          cfg->jwt_leeway_s, err, errlen);
		if (!e->keys)
			return ERR_CONFIG;
		log_info("bearer tokens on",
		         "keys=%zu issuer=\"%s\" audience=\"%s\" leeway_s=%" PRId64,
		         bearer_ring_count(e->keys), cfg->jwt_issuer, cfg->jwt_audience,
		         cfg->jwt_leeway_s);
	} else if (!cfg->dev_identity) {
		log_warn("no identity.jwt_keys and no dev_header: every write answers 401", "%s",
		         "");
	}
	e->tmpl.ic.dev_header = cfg->dev_identity;
	e->tmpl.ic.ring = e->keys;
	return 0;
}

/* Everything start-up checks before it opens the store or reaches
 * Kafka: identity keys, names, counters, the shard map, the TLS
 * certificate, the demo page and which section holds each librdkafka
 * property. `edge -t` runs it too, so a config that passes -t fails
 * later only on the disk or the network. */
static int configure(edge *e, char *err, size_t errlen)
{
	edge_config *cfg = &e->cfg;
	bus_props bp = edge_bus_props(cfg);
	if (bus_check_props(&bp, false, err, errlen))
		return ERR_CONFIG;
	if (identity_setup(e, err, errlen))
		return ERR_CONFIG;
	if (!item_edge_valid(cfg->id, strlen(cfg->id)) ||
	    !item_edge_valid(cfg->region, strlen(cfg->region))) {
		snprintf(err, errlen, "edge.id and edge.region must match [a-z0-9_-]{1,64}");
		return ERR_CONFIG;
	}
	if (item_parse_names(cfg->types, e->tmpl.types, item_type_valid)) {
		snprintf(err, errlen, "edge.types: comma-separated [a-z0-9_] names");
		return ERR_CONFIG;
	}
	char cerr[128];
	if (counters_parse(&e->tmpl.counters, cfg->set_counters, cfg->sum_counters, cerr,
	                   sizeof cerr)) {
		snprintf(err, errlen, "counters: %s", cerr);
		return ERR_CONFIG;
	}
	if (strcmp(cfg->commit_thread, "auto") != 0 && strcmp(cfg->commit_thread, "true") != 0 &&
	    strcmp(cfg->commit_thread, "false") != 0) {
		snprintf(err, errlen, "store.commit_thread: '%s' is not auto, true or false",
		         cfg->commit_thread);
		return ERR_CONFIG;
	}
	if (cfg->central_ops[0] &&
	    shards_parse(&e->shards, cfg->central_ops, (uint32_t)cfg->partitions, err, errlen))
		return ERR_CONFIG;
	if (proxy_list_parse(cfg->trusted_proxies, &e->trusted, err, errlen) ||
	    proxy_list_header(&e->trusted, cfg->trusted_proxy_header, err, errlen))
		return ERR_CONFIG;
	if (cfg->tls_listen[0] &&
	    !(e->tls = http_tls_store_new(cfg->tls_cert, cfg->tls_key, err, errlen)))
		return ERR_CONFIG;
	if (cfg->demo_dir[0] && !(e->demo = demo_site_load(cfg->demo_dir, err, errlen)))
		return ERR_CONFIG;
	e->tmpl.demo = e->demo;
	if (edge_changelog_check(cfg, err, errlen))
		return ERR_CONFIG;
	return 0;
}

/* Whether group writes run on the ledger's commit thread. auto: when a
 * write waits (store.sync's fsync, the changelog's acknowledgement), so
 * the loops stage the next group meanwhile; otherwise the loop that ends
 * a turn writes its group itself, a LevelDB write of tens of
 * microseconds, and spares each write two hand-offs between threads.
 * Each costs a wake-up whose delay, on a busy or virtualized host, is
 * what makes the write's tail (docs/ops.md, store.commit_thread). */
static bool commit_threaded(const edge_config *cfg, bool replicated)
{
	if (!cfg->group_commit || strcmp(cfg->commit_thread, "false") == 0)
		return false;
	if (strcmp(cfg->commit_thread, "true") == 0)
		return true;
	return cfg->store_sync || replicated;
}

/* Group copies in flight at once: changelog.pipeline, but one at a time
 * with durability = local, where a copy the log does not take is held
 * on this disk and every later one after it, in order (a later copy
 * already sent could land before it). */
static unsigned commit_depth(const edge_config *cfg)
{
	if (strcmp(cfg->changelog_durability, "local") == 0)
		return 1;
	return (unsigned)cfg->changelog_pipeline;
}

static int start(edge *e, char *err, size_t errlen)
{
	edge_config *cfg = &e->cfg;
	int rc = configure(e, err, errlen);
	if (rc)
		return rc;
	store_opts so;
	store_opts_default(&so);
	so.cache_bytes = (size_t)cfg->store_cache_mb << 20;
	so.sync = cfg->store_sync;
	so.compaction_nice = (int)cfg->store_compaction_nice;
	so.compaction_idle = cfg->store_compaction_idle;
	e->db = store_open_dir(cfg->data_dir, &so, err, errlen);
	if (!e->db)
		return ERR_IO;
	char buf[64];
	snprintf(buf, sizeof buf, "%" PRId64, cfg->partitions);
	if (store_meta_ensure(e->db, "partitions", buf, err, errlen) ||
	    store_meta_ensure(e->db, "edge_id", cfg->id, err, errlen))
		return ERR_CONFIG;

	e->tm = telemetry_new((size_t)cfg->hot_items);
	if (cfg->changelog_brokers[0] || cfg->changelog_bootstrap_file[0]) {
		rc = edge_changelog_start(e, err, errlen);
		if (rc)
			return rc;
	}
	e->up = uplink_new(cfg, e->tm, err, errlen);
	if (!e->up)
		return ERR_KAFKA;
	ledger_opts lo = {
	    .edge_id = cfg->id,
	    .region = cfg->region,
	    .partitions = (uint32_t)cfg->partitions,
	    .seal_ops = (uint32_t)cfg->batch_max_ops,
	    .seal_sums = cfg->batch_sums,
	    .seal_age_ms = (uint64_t)cfg->batch_max_age_ms,
	    .budget_bytes = (uint64_t)cfg->budget_mb << 20,
	    .window_bytes = (uint64_t)cfg->window_kb << 10,
	    .cache_entries = (size_t)cfg->cache_entries,
	    .rt_entries = (size_t)cfg->readthrough_entries,
	    .rt_ttl_ms = (uint64_t)cfg->readthrough_ttl_ms,
	    .max_ahead_ms = (uint64_t)cfg->max_ahead_ms,
	    .member_filter_bytes = (size_t)cfg->member_filter_mb << 20,
	    .seq_from_checkpoint = cfg->central_ops[0] != 0,
	    .commit_thread = commit_threaded(cfg, e->clog != NULL),
	    .home_cover = cfg->home_follow,
	    .member_keep_ms = (uint64_t)cfg->member_keep_s * 1000,
	    .send = uplink_send,
	    .send_ctx = e->up,
	    .commit_depth = commit_depth(cfg),
	    .log = e->clog ? &edge_changelog_log : NULL,
	    .log_ctx = e->clog,
	    .follower = e->clog != NULL,
	    .tm = e->tm,
	};
	e->lg = ledger_open(e->db, &lo, err, errlen);
	if (!e->lg)
		return ERR_IO;
	/* Follows the log until it takes over: then the ledger writes. */
	if (e->clog && edge_changelog_follow(e, err, errlen))
		return ERR_IO;
	telemetry_budget(e->tm, lo.budget_bytes);
	if (uplink_start(e->up, e->lg, err, errlen))
		return ERR_KAFKA;
	if (cfg->home_follow &&
	    !(e->homes = homes_new(cfg, &e->tmpl.counters, e->lg, e->tm->reg, err, errlen)))
		return ERR_KAFKA;
	/* Everything sealed and not yet confirmed by central goes out again,
	 * in order: central drops what it already applied. */
	ledger_pump(e->lg);
	if (cfg->central_ops[0]) {
		/* A checkpoint streams for a while: each read may take longer
		 * than a read-through's whole answer. */
		unsigned t = (unsigned)cfg->central_timeout_ms;
		e->boot = bootstrap_new(e->lg, &e->shards, e->homes, cfg->central_token,
		                        t > 10000 ? t : 10000, err, errlen);
		if (!e->boot)
			return ERR_IO;
	}

	guard_config gc = {
	    .user_writes_per_min = (unsigned)cfg->user_writes_per_min,
	    .addr_per_s = (unsigned)cfg->addr_requests_per_s,
	    .addr_burst = (unsigned)cfg->addr_burst,
	    .conns_per_addr = (unsigned)cfg->max_conns_per_addr,
	    .users = (size_t)cfg->limit_users,
	    .addrs = (size_t)cfg->limit_addrs,
	};
	e->guard = guard_new(&gc);
	e->tmpl.guard = e->guard;
	/* Each owner adds its own scrape-time figures to the registry. */
	guard_metrics_add(e->tm->reg, e->guard);
	ledger_metrics_add(e->tm->reg, e->lg);
	if (e->up)
		uplink_metrics_add(e->tm->reg, e->up);
	store_metrics_add(e->tm->reg, e->db);
	ledger_memory_holders(e->tm, e->lg);
	telemetry_memory_holder(e->tm, "readthrough_members", members_bytes, e);
	telemetry_memory_holder(e->tm, "token_cache", tokcache_holds, NULL);
	telemetry_memory_holder(e->tm, "guard", guard_holds, e->guard);
	telemetry_memory_holder(e->tm, "store", store_metrics_holds, e->db);
	if (e->tls)
		http_tls_metrics_add(e->tm->reg, e->tls);
	e->tmpl.tm = e->tm;
	e->tmpl.up = e->up;
	e->tmpl.readiness = read_readiness;
	e->tmpl.readiness_ctx = e;
	e->tmpl.lg = e->lg;
	e->tmpl.edge_id = cfg->id;
	e->tmpl.group_commit = cfg->group_commit;
	e->tmpl.cfg = (api_config){
	    .max_items = (unsigned)cfg->api_max_items,
	    .max_ops = (unsigned)cfg->api_max_ops,
	    .idem_retention_ms = (uint64_t)cfg->idem_retention_s * 1000,
	    .max_age_s = (unsigned)cfg->max_age_s,
	    .stale_s = (unsigned)cfg->stale_s,
	    .member_ttl_ms = (uint64_t)cfg->member_ttl_ms,
	    .region = cfg->region,
	    .home_region = cfg->home_follow ? cfg->region : NULL,
	    .member_entries = (size_t)cfg->readthrough_entries,
	};
	if (!cfg->central_ops[0])
		log_warn("no central.ops: counts this edge never received answer 503", "%s", "");

	e->base = event_base_new();
	if (!e->base) {
		snprintf(err, errlen, "event_base_new failed");
		return ERR_IO;
	}
	e->nw = (size_t)cfg->workers;
	e->w = xcalloc(e->nw, sizeof *e->w);
	if (edge_workers_start(e, err, errlen))
		return ERR_IO;
	e->tick = event_new(e->base, -1, EV_PERSIST, on_tick, e);
	struct timeval tv = {0, 10000};
	e->sigterm = evsignal_new(e->base, SIGTERM, on_signal, e);
	e->sigint = evsignal_new(e->base, SIGINT, on_signal, e);
	if (!e->tick || !e->sigterm || !e->sigint || event_add(e->tick, &tv) ||
	    event_add(e->sigterm, NULL) || event_add(e->sigint, NULL)) {
		snprintf(err, errlen, "event setup failed");
		return ERR_IO;
	}
	e->sighup = evsignal_new(e->base, SIGHUP, on_sighup, e);
	if (!e->sighup || event_add(e->sighup, NULL)) {
		snprintf(err, errlen, "SIGHUP setup failed");
		return ERR_IO;
	}
	e->upstream = ticker_start("edge-upstream", 10, upstream_turn, e);
	if (!e->upstream) {
		snprintf(err, errlen, "cannot start the upstream thread");
		return ERR_IO;
	}
	e->next_stats = clock_mono_ms() + 30000;
	e->started_ms = clock_mono_ms();
	check_readiness(e, e->started_ms);
	sdnotify_watchdog_init(&e->wd);
	log_info("edge started",
	         "version=%s commit=%s id=%s region=%s listen=%s tls_listen=%s partitions=%" PRId64
	         " workers=%zu group_commit=%s commit_thread=%s",
	         build_version, build_commit, cfg->id, cfg->region, cfg->listen, cfg->tls_listen,
	         cfg->partitions, e->nw, cfg->group_commit ? "true" : "false",
	         ledger_commits_async(e->lg) ? "true" : "false");
	return 0;
}

static void on_late_signal(int sig)
{
	(void)sig;
	atomic_store(&hurry_flag, true);
}

/* The drain's second phase, after every loop stopped: seal what is open
 * (which writes a staged group first) and give Kafka what is left of the
 * deadline to take it all. A signal now (the loops no longer serve
 * libevent's) cuts the wait short. */
static void drain(edge *e)
{
	if (!e->lg || !e->up)
		return;
	if (e->phase != DRAINING) { /* the loop ended for another reason */
		e->phase = DRAINING;
		e->drain_deadline = clock_mono_ms() + (uint64_t)e->cfg.drain_timeout_ms;
	}
	if (e->sigterm) {
		event_free(e->sigterm);
		e->sigterm = NULL;
	}
	if (e->sigint) {
		event_free(e->sigint);
		e->sigint = NULL;
	}
	struct sigaction sa = {.sa_handler = on_late_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* After the late-signal handler: a second signal during the
	 * upstream thread's last turn still hurries what follows. */
	upstream_stop(e);
	for (size_t i = 0; i < e->nw; i++)
		if (e->w[i].http)
			http_server_stop_accepting(e->w[i].http);
	if (!e->hurry && !atomic_load(&hurry_flag)) {
		int rc = ledger_seal_due(e->lg, clock_wall_ms(), true);
		if (rc)
			log_error("final seal failed; ops stay pending on disk", "err=\"%s\"",
			          err_str(rc));
		ledger_pump(e->lg);
	}
	while (!e->hurry && !atomic_load(&hurry_flag) && uplink_queued(e->up) > 0 &&
	       clock_mono_ms() < e->drain_deadline)
		uplink_flush(e->up, 50);
	uplink_stats us;
	ledger_stats ls;
	uplink_get_stats(e->up, &us);
	ledger_get_stats(e->lg, &ls);
	log_info("drained",
	         "sent=%" PRIu64 " left_pending=%zu pending_batches=%" PRIu64 " hurried=%s",
	         us.produced - e->produced_at_drain, uplink_queued(e->up), ls.pending_batches,
	         e->hurry || atomic_load(&hurry_flag) ? "true" : "false");
	log_stats(e);
	for (size_t i = 0; i < e->nw; i++)
		edge_log_worker_stats(i, &e->w[i]);
}

static void stop(edge *e)
{
	/* The changelog's follower writes into the ledger and may promote it
	 * (which sends through the uplink): it stops before either goes. */
	changelog_stop_follow(e->clog);
	seed_serve_stop(e->seed); /* before the store it copies closes */
	upstream_stop(e);         /* before what it uses: the uplink and the ledger */
	if (e->tick)
		event_free(e->tick);
	if (e->sigterm)
		event_free(e->sigterm);
	if (e->sigint)
		event_free(e->sigint);
	if (e->sighup)
		event_free(e->sighup);
	/* The commit threads wake the workers' loops: they stop after them
	 * and before their state is freed. */
	edge_workers_stop(e);
	if (e->lg)
		ledger_stop_commits(e->lg);
	edge_workers_free(e);
	http_tls_store_free(e->tls); /* after every server that used it */
	bootstrap_free(e->boot);     /* before the ledger it loads into */
	homes_free(e->homes);        /* before the ledger it writes into */
	uplink_free(e->up);
	ledger_free(e->lg);
	changelog_free(e->clog); /* after the ledger, whose writes it copies;
	                          * its follower stopped first, above */
	store_close(e->db);
	if (e->base)
		event_base_free(e->base);
	item_free_names(e->tmpl.types);
	counters_free(&e->tmpl.counters);
	shards_free(&e->shards);
	bearer_ring_free(e->keys);
	guard_free(e->guard);
	demo_site_free(e->demo);
	telemetry_free(e->tm);
	cfg_free(edge_options, edge_noptions, &e->cfg);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: edge -c CONFIG [-s section.key=value]... [-t]\n"
	             "       edge --options   (every option as Markdown, as in docs/config.md)\n"
	             "       edge inspect -c CONFIG [--json] [--offline]   (pending batches,\n"
	             "                watermarks, snapshots per partition; see docs/ops.md)\n"
	             "       edge --help | --version\n"
	             "  -t  load and check the config, then exit\n");
}

int main(int argc, char **argv)
{
	static edge e = {.pub_mu = PTHREAD_MUTEX_INITIALIZER};
	char err[512] = "";
	if (argc > 1 && strcmp(argv[1], "inspect") == 0)
		return inspect_main(argc, argv, edge_options, edge_noptions);
	if (build_help_version(argc, argv, 1, "edge", usage) == 0)
		return 0;
	if (argc == 2 && strcmp(argv[1], "--options") == 0) {
		cfg_write_markdown(edge_options, edge_noptions, stdout);
		return 0;
	}
	int rc = cfg_load_args(edge_options, edge_noptions, &e.cfg, argc, argv, err, sizeof err);
	if (rc == CFG_ARGS_CHECK) {
		/* -t also sets each librdkafka property on a scratch conf:
		 * an unknown name or a bad value shows without a client. */
		bus_props bp = edge_bus_props(&e.cfg);
		rc = configure(&e, err, sizeof err);
		if (!rc)
			rc = bus_check_props(&bp, true, err, sizeof err);
		if (rc)
			fprintf(stderr, "edge: %s\n", err);
		else
			printf("edge: config OK\n");
		stop(&e);
		return rc ? 2 : 0;
	}
	if (rc) {
		if (rc < 0)
			fprintf(stderr, "edge: %s\n", err);
		usage(rc < 0 ? stderr : stdout);
		return rc < 0 ? 2 : 0;
	}
	char comp[128];
	snprintf(comp, sizeof comp, "edge/%s", e.cfg.id);
	log_set_component(comp);
	if (log_set_level(e.cfg.log_level)) {
		fprintf(stderr, "edge: edge.log_level: unknown level '%s'\n", e.cfg.log_level);
		return 2;
	}
	if (log_set_file(e.cfg.log_file, err, sizeof err)) {
		fprintf(stderr, "edge: log.file: %s\n", err);
		return 2;
	}
	if (!failpoint_init(err, sizeof err)) {
		fprintf(stderr, "edge: %s\n", err);
		return 2;
	}
	if (e.cfg.clock_skew_ms) {
		clock_set_skew_ms(e.cfg.clock_skew_ms);
		log_warn("clock skewed for a drill; never set clock.skew_ms in production",
		         "skew_ms=%" PRId64, e.cfg.clock_skew_ms);
	}
	evthread_use_pthreads();
	signal(SIGPIPE, SIG_IGN);
	/* A write past a file size limit (LimitFSIZE=) fails with EFBIG, as
	 * one to a full disk does, and is handled as one, not a kill. */
	signal(SIGXFSZ, SIG_IGN);
	cfg_log(edge_options, edge_noptions, &e.cfg);

	if (start(&e, err, sizeof err)) {
		log_error("edge failed to start", "err=\"%s\"", err);
		rc = 1;
	} else {
		if (sdnotify_send("READY=1\nSTATUS=serving"))
			log_warn("sd_notify READY=1 failed", "%s", "");
		event_base_dispatch(e.base);
		edge_workers_stop(&e);
		drain(&e);
		rc = e.exit_status;
	}
	stop(&e);
	return rc;
}
