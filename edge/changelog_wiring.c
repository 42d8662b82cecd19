/* changelog_wiring.c - the edge's wiring of its region changelog
 * (edge/changelog/): the config checks of [changelog], the start-up that
 * restores the store from the log (copying a peer's store through
 * changelog.seed_from when it fell behind the log's start) and starts
 * the producer and the seed listener (changelog.seed_listen), what the
 * listener may hand out, the writer check of /readyz, and the exits of
 * an instance fenced or unfit. Owns no state of its own: e->clog,
 * e->seed and e->instance are struct edge's (edge_int.h), freed by
 * main.c's stop. Main thread, but the seed listener's hooks (its own
 * thread) and the reseed hooks (inside changelog_restore, at start-up).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "edge/edge_int.h"

/* The exit status of an instance another one took the changelog over
 * from (man likes-edge: EXIT STATUS). */
#define EXIT_FENCED 4
/* The exit status of an instance whose store fell behind the changelog's
 * start while it ran (a standby that did not read records the log lost,
 * or an active that could not check them): its restart copies a peer's
 * store. */
#define EXIT_RESEED 5
#define SEED_STEP_TIMEOUT_MS 30000 /* a peer silent this long mid-copy: the next one */
#define SEED_RETRY_MS 120000       /* peers that answer 503 are asked again this long */
/* Each progress report's start-up extension: longer than the longest
 * silence between two (a peer's step timeout, and a retry's pause). */
#define SEED_EXTEND_USEC "90000000"
#define FENCED_GRACE_MS 300 /* for the refusals in flight to be answered (exit_soon) */

/* An instance that may not write again exits, FENCED_GRACE_MS after it
 * first found so, for the workers to answer the writes it refused (503);
 * its memory of the open and sealed batches is stale, and
 * its pump sends nothing meanwhile (changelog_may_send). The service
 * manager starts it again:
 * - EXIT_FENCED: another instance took the changelog over from this one
 *   (or this one could not become its writer, or no longer check its
 *   order and holds writes the log lacks); it restarts as a standby.
 * - EXIT_RESEED: the log's start passed records its store never read (a
 *   standby's follower) or never checked (an active's order check:
 *   changelog_log.c); only a peer's copy at start-up mends that store
 *   (changelog_restore). */
static void exit_soon(edge *e, uint64_t now, int status)
{
	if (!e->exit_ms) {
		e->exit_ms = now;
		e->exit_soon_status = status; /* the first reason found, logged */
		if (status == EXIT_FENCED)
			log_error(
			    "fenced: another instance took this edge's changelog over (or this "
			    "one could not become its writer, or no longer check its order); "
			    "exiting to restart as a standby",
			    "edge=%s instance=%s epoch=%" PRIu64, e->cfg.id, e->instance,
			    changelog_epoch(e->clog));
		else
			log_error(
			    "this instance's store fell behind the changelog's start; exiting so "
			    "that its restart copies a peer's store",
			    "edge=%s instance=%s gap=%" PRIu64 " status=%d", e->cfg.id, e->instance,
			    changelog_gap(e->clog), status);
	}
	if (now - e->exit_ms >= FENCED_GRACE_MS)
		_exit(e->exit_soon_status);
}

/* From the main tick: an instance fenced (by its log, or by central's
 * word that another instance writes as this edge: ledger_overtaken), one
 * whose store fell behind the log's start, or an active that lost its
 * order checks, exits (exit_soon). */
void edge_changelog_tick(edge *e, uint64_t now)
{
	if (!e->clog)
		return;
	if (changelog_fenced(e->clog) || ledger_overtaken(e->lg))
		exit_soon(e, now, EXIT_FENCED);
	else if (changelog_needs_copy(e->clog) && !changelog_active(e->clog))
		exit_soon(e, now, EXIT_RESEED);
	else if (changelog_unchecked(e->clog))
		exit_soon(e, now, EXIT_FENCED); /* no peer to copy, or writes held for the log */
}

/* The [changelog] options start-up checks before it opens the store or
 * reaches Kafka (configure, and so `edge -t`). */
int edge_changelog_check(const edge_config *cfg, char *err, size_t errlen)
{
	if (strcmp(cfg->changelog_durability, "replicated") != 0 &&
	    strcmp(cfg->changelog_durability, "local") != 0) {
		snprintf(err, errlen, "changelog.durability: '%s' is not replicated or local",
		         cfg->changelog_durability);
		return ERR_CONFIG;
	}
	changelog_opts timing = {.timeout_ms = (int)cfg->changelog_timeout_ms,
	                         .beat_ms = (int)cfg->changelog_beat_ms,
	                         .takeover_ms = (int)cfg->changelog_takeover_ms};
	char why[160];
	if (changelog_timing_check(&timing, why, sizeof why)) {
		snprintf(err, errlen, "changelog.%s", why);
		return ERR_CONFIG;
	}
	if (cfg->changelog_seed_listen[0] &&
	    seed_serve_check(cfg->changelog_seed_listen, cfg->changelog_seed_token, err, errlen))
		return ERR_CONFIG;
	if (seed_from_check(cfg->changelog_seed_from, err, errlen))
		return ERR_CONFIG;
	return 0;
}

/* /readyz's writer check, from check_readiness once a second on the main
 * loop: degraded while writes are held on this disk, not ready while
 * this instance follows (a standby, or one that could not take over). */
void edge_changelog_readiness(edge *e, api_readiness *r)
{
	if (e->clog && changelog_degraded(e->clog)) {
		/* Still ready (it takes writes), but on one machine's disk. */
		snprintf(r->writer.reason, sizeof r->writer.reason,
		         "degraded: %" PRIu64 " writes held on this disk until the region's Kafka "
		         "takes them",
		         changelog_held(e->clog));
	}
	if (e->clog && ledger_following(e->lg)) {
		r->writer.ok = false;
		if (changelog_active(e->clog))
			snprintf(
			    r->writer.reason, sizeof r->writer.reason,
			    "took over the changelog; the ledger did not get ready (see the log)");
		else if (changelog_follow_failed(e->clog))
			snprintf(
			    r->writer.reason, sizeof r->writer.reason,
			    "standby, stopped: a changelog record could not be applied (see the "
			    "log); rebuild this store");
		else if (changelog_gap(e->clog))
			snprintf(r->writer.reason, sizeof r->writer.reason,
			         "standby, unfit: the log lost %" PRIu64
			         " records this store lacks; rebuild it",
			         changelog_gap(e->clog));
		else
			snprintf(
			    r->writer.reason, sizeof r->writer.reason,
			    "standby: following the changelog of %s; the active instance takes "
			    "writes",
			    e->cfg.id);
	}
}

/* seed_load_opts.progress: a copy may take longer than the service
 * manager's start-up timeout (TimeoutStartSec): each report extends it,
 * and says where the copy is. */
static void reseed_progress(void *ctx, const char *phase, uint64_t bytes)
{
	(void)ctx;
	if (sdnotify_send("EXTEND_TIMEOUT_USEC=" SEED_EXTEND_USEC) ||
	    sdnotify_status("copying a peer's store: %s, %" PRIu64 " MB", phase, bytes >> 20))
		log_warn("seed: cannot tell the service manager", "phase=%s", phase);
}

/* changelog_opts.reseed: a fit peer's copy of the store (seed.h), from
 * the instances changelog.seed_from names. */
static int reseed_from_peer(void *ctx, store *db, int64_t log_start, char *err, size_t errlen)
{
	const edge *e = ctx;
	const edge_config *cfg = &e->cfg;
	seed_load_opts so = {.from = cfg->changelog_seed_from,
	                     .token = cfg->changelog_seed_token,
	                     .edge_id = cfg->id,
	                     .partitions = (uint32_t)cfg->partitions,
	                     .data_dir = cfg->data_dir,
	                     .timeout_ms = SEED_STEP_TIMEOUT_MS,
	                     .retry_ms = SEED_RETRY_MS,
	                     .progress = reseed_progress};
	seed_loaded r;
	int rc = seed_load(&so, db, log_start, &r, err, errlen);
	reseed_progress(NULL, rc ? "no copy" : "loaded", r.bytes); /* the rest of the start */
	if (rc == 0)
		log_info("changelog: store copied from a peer",
		         "peer=%s keys=%" PRIu64 " bytes=%" PRIu64 " position=%" PRIu64
		         " ms=%" PRIu64,
		         r.peer, r.keys, r.bytes, r.at, r.ms);
	return rc;
}

/* seed_serve_opts.snapshot: the view and the log position it is at. */
static store_snap *seed_snapshot(void *ctx, int64_t *position)
{
	edge *e = ctx;
	return changelog_snapshot(e->clog, e->db, position);
}

/* seed_serve_opts.fit, on the seed listener's thread: a store a peer may
 * take as its own only when this one lacks nothing and holds nothing the
 * log lacks (what this process knows; the listener also reads the view). */
static const char *seed_fit(void *ctx)
{
	const edge *e = ctx;
	if (changelog_fenced(e->clog))
		return "fenced: another instance took this edge's changelog over";
	if (changelog_follow_failed(e->clog))
		return "this standby stopped following the changelog";
	if (changelog_gap(e->clog) || changelog_needs_copy(e->clog) || changelog_unchecked(e->clog))
		return "this store lacks records the changelog lost (unfit)";
	if (changelog_degraded(e->clog))
		return "this store holds writes the changelog does not have yet";
	return NULL;
}

/* The region's changelog: the store brought up to the log's end (a wiped
 * or new machine gets back every write the edge answered), then the
 * producer every replicated write goes through, not active yet. Before
 * the ledger opens, which reads what the restore wrote; the ledger opens
 * as a follower, and the follower's thread (changelog_follow) makes it
 * the writer once this instance takes over. */
int edge_changelog_start(edge *e, char *err, size_t errlen)
{
	const edge_config *cfg = &e->cfg;
	if (cfg->changelog_instance[0]) {
		snprintf(e->instance, sizeof e->instance, "%s", cfg->changelog_instance);
	} else {
		char host[128] = "";
		(void)gethostname(host, sizeof host - 1);
		snprintf(e->instance, sizeof e->instance, "%s/%s", host, cfg->listen);
	}
	changelog_opts co = {
	    .brokers = cfg->changelog_brokers,
	    .bootstrap_file = cfg->changelog_bootstrap_file,
	    .topic = cfg->changelog_topic,
	    .partition = (int32_t)cfg->changelog_partition,
	    .edge_id = cfg->id,
	    .instance = e->instance,
	    .timeout_ms = (int)cfg->changelog_timeout_ms,
	    .beat_ms = (int)cfg->changelog_beat_ms,
	    .takeover_ms = (int)cfg->changelog_takeover_ms,
	    .durability = strcmp(cfg->changelog_durability, "local") == 0 ? CHANGELOG_LOCAL
	                                                                  : CHANGELOG_REPLICATED,
	    .reg = e->tm->reg,
	    .reseed = cfg->changelog_seed_from[0] ? reseed_from_peer : NULL,
	    .reseed_ctx = e,
	};
	uint64_t t0 = clock_mono_ms();
	changelog_restored r;
	int rc = changelog_restore(&co, e->db, &r, err, errlen);
	if (rc)
		return rc;
	log_info("changelog restored",
	         "topic=%s partition=%d records=%" PRIu64 " voided=%" PRIu64 " from=%" PRId64
	         " to=%" PRId64 " missing=%" PRId64 " behind=%" PRId64 " seeded=%s ms=%" PRIu64,
	         co.topic, (int)co.partition, r.records, r.voided, r.from, r.to, r.missing,
	         r.behind, r.seeded ? "true" : "false", clock_mono_ms() - t0);
	e->clog = changelog_new(&co, err, errlen);
	if (!e->clog)
		return ERR_KAFKA;
	seed_serve_opts so = {.listen = cfg->changelog_seed_listen,
	                      .token = cfg->changelog_seed_token,
	                      .edge_id = cfg->id,
	                      .partitions = (uint32_t)cfg->partitions,
	                      .db = e->db,
	                      .fit = seed_fit,
	                      .snapshot = seed_snapshot,
	                      .ctx = e,
	                      .reg = e->tm->reg};
	e->seed = seed_serve_start(&so, err, errlen);
	return e->seed || !err[0] ? 0 : ERR_CONFIG;
}

/* The log's follower's side (ledger_log.follow): the ledger's apply and
 * promote as the changelog's sink. */
static int follow(void *ctx, store *db, int (*apply)(void *arg, store_batch *wb),
                  int (*promote)(void *arg), void *arg)
{
	changelog_sink sink = {apply, promote, arg};
	return changelog_follow(ctx, db, &sink);
}

const ledger_log edge_changelog_log = {
    .begin = changelog_append_begin,
    .end = changelog_append_end,
    .written = changelog_written,
    .refused = changelog_refused,
    .refusing = changelog_refusing,
    .may_send = changelog_may_send,
    .follow = follow,
};

/* Once this instance took over, before the ledger writes: central
 * learns the new epoch on every partition before the ledger sends a
 * batch. */
static int handover(void *ctx)
{
	edge *e = ctx;
	char err[256];
	int rc = uplink_handover(e->up, changelog_epoch(e->clog), changelog_writer(e->clog), err,
	                         sizeof err);
	if (rc)
		log_error("took over, but the hand-over to central could not be queued; writes "
		          "stay refused",
		          "edge=%s err=\"%s\"", e->cfg.id, err);
	return rc;
}

int edge_changelog_follow(edge *e, char *err, size_t errlen)
{
	if (ledger_follow(e->lg, handover, e)) {
		snprintf(err, errlen, "changelog: cannot start the follower");
		return ERR_IO;
	}
	return 0;
}
