/* central.c - central's run loop: consume batches, apply, publish.
 *
 * One thread owns the consumer, the applier and the snapshot producer;
 * the ops API (opsapi.c) runs on a thread of its own and only reads the
 * store. The consumer is assigned every owned partition (central.partitions,
 * shard.h) explicitly, starting at
 * the offsets stored with the applied effects, so no group rebalance can
 * move input. For Kafka's lag tools only, those stored offsets are
 * copied to the group likes-central-<id> every bus.commit_interval_ms
 * (kcommit.h): nothing is committed that the store does not already
 * reflect, and nothing committed is ever read back. Input the applier
 * refuses goes, unchanged, to the dead-letter topic through the same
 * producer (bus_dlq_send): a bounded wait when its queue is full, then
 * counted as failed, so a poison message never holds up its partition.
 *
 * An out-of-range input offset (the broker no longer has the stored
 * offset) restarts that partition alone (reseek.h) at the earliest
 * offset kept; when the offsets went backwards (the stored one is above
 * what the broker has: it restarted empty, the topic was recreated) the
 * partition's epoch goes up with the new offset, so the versions edges
 * see keep growing (version.h). A recovery that cannot finish (the
 * watermarks unknown, the re-seek refused) is tried again every second.
 *
 * A repair asked on the ops API (POST /v1/admin/repair) must write the
 * store, and the applier is its only writer: so the ops thread posts it
 * to a job queue (runq.h) that this loop drains on every turn, between
 * two messages; the repair re-reads each item as it is then, writes the
 * recount, and tells the applier (its cache and next snapshot).
 */
#include "central/central.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "central/apply/apply.h"
#include "central/feed/feed.h"
#include "buildinfo.h"
#include "bus.h"
#include "clock.h"
#include "central/ops/cmetrics.h"
#include "item.h"
#include "kcommit.h"
#include "log.h"
#include "memtrim.h"
#include "central/ops/opsapi.h"
#include "reseek.h"
#include "central/resnap.h"
#include "central/runq.h"
#include "sdnotify.h"
#include "central/apply/shard.h"
#include "store.h"
#include "tsa.h"
#include "wire.h"
#include "xmem.h"

static atomic_bool stopping, reload_asked;

void central_stop(void)
{
	atomic_store(&stopping, true);
}

void central_reload(void)
{
	atomic_store(&reload_asked, true);
}

#define FEED_THRESHOLDS_MAX 64

typedef struct central {
	const central_config *cfg;
	store *db;
	applier *ap;
	rd_kafka_t *consumer;
	kcommit *commits; /* stored positions to the group, for tools; NULL = off */
	char group[256];  /* the consumer's group id: likes-central-<id> */
	rd_kafka_t *producer;
	rd_kafka_topic_t *snap_topic;
	bus_dlq dlq; /* refused input goes here (bus.h) */
	ops_api *api;
	counters ctr;
	ops_run_stats run; /* read by the ops API thread */
	runq *jobs;        /* work the ops thread hands to the run loop */
	cmetrics *cm;      /* the registry /metrics serves */
	shard_set own;     /* the partitions this instance owns (central.partitions) */
	feed *fd;          /* the change feed's publisher; NULL = both topics off */
	uint64_t thresholds[FEED_THRESHOLDS_MAX]; /* feed.milestones */
	size_t nthresholds;
	char *homes[ITEM_MAX_NAMES + 1];      /* feed.home_regions, NULL-terminated */
	char *home_topics[FEEDREC_HOMES_MAX]; /* their streams' topics */
	size_t nhomes;
	reseek rs;                  /* partitions restarted after an out-of-range offset */
	unsigned char *recover_due; /* per partition: a recovery to retry (RECOVER_*) */
	bool assigned;
	uint64_t kafka_ok_ms; /* mono ms of the last fetched message or delivered snapshot */
	tsa_mutex ready_mu;   /* guards ready: the loop writes, the ops API's thread reads */
	ops_readiness ready;  /* the checks as check_readiness last made them */
} central;

/* The ops API's readiness hook (opsapi.h): the checks as the run loop
 * last made them (once a second). The ops API's thread. */
static void get_readiness(void *ctx, ops_readiness *out)
{
	central *c = ctx;
	tsa_lock(&c->ready_mu);
	*out = c->ready;
	tsa_unlock(&c->ready_mu);
}

/* A repair, from the ops thread to the run loop (on the poster's stack). */
typedef struct repair_job {
	central *c;
	const verify_target *targets;
	size_t n;
	verify_report *r;
	int rc;
} repair_job;

static void run_repair(void *arg)
{
	repair_job *j = arg;
	j->rc = verify_repair(j->c->db, &j->c->ctr, j->c->ap, j->targets, j->n, verify_report_add,
	                      j->r, &j->r->t);
}

/* The ops API's repair hook: runs on the ops thread, waits for the loop. */
static int post_repair(void *ctx, const verify_target *t, size_t n, verify_report *r,
                       int timeout_ms)
{
	repair_job j = {.c = ctx, .targets = t, .n = n, .r = r, .rc = 0};
	int rc = runq_call(j.c->jobs, run_repair, &j, timeout_ms);
	return rc ? rc : j.rc;
}

/* The broker's high watermark of each partition, for the lag in
 * /v1/stats and /metrics: on every tick as the consumer last saw it (no
 * request to the broker; each fetch answer refreshes it); with ask, once
 * at start-up before anything is consumed, asked of the broker, so the
 * backlog central starts with is always measured (consumer_lag_max). */
static void note_watermarks(central *c, bool ask)
{
	for (int32_t p = 0; p < (int32_t)c->cfg->partitions; p++) {
		if (!shard_owns(&c->own, (uint32_t)p))
			continue;
		int64_t lo = -1, hi = -1;
		rd_kafka_resp_err_t e =
		    ask ? bus_watermarks(c->consumer, c->cfg->batch_topic, p, 2000, &lo, &hi)
		        : rd_kafka_get_watermark_offsets(c->consumer, c->cfg->batch_topic, p, &lo,
		                                         &hi);
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR && hi >= 0)
			atomic_store_explicit(&c->run.input_high[p], hi, memory_order_relaxed);
		else if (ask)
			log_warn("high watermark unknown at start; lag shows after the first tick",
			         "partition=%d err=\"%s\"", p, rd_kafka_err2str(e));
	}
	cmetrics_note_lag(c->cm);
}

#define RUN_ADD(c, f) atomic_fetch_add_explicit(&(c)->run.f, 1, memory_order_relaxed)

/* The message opaque of dead letters (snapshots carry NULL). */
static char dlq_mark;

/* A snapshot that failed for good (the producer never gives up on its
 * own: message.timeout.ms 0, so a permanent error): its counts changed
 * and no edge will hear of them, so they go in the next snapshot, with
 * the count the store holds by then. Its applied sequences are in every
 * snapshot anyway. */
static void remark_snapshot(central *c, const rd_kafka_message_t *m)
{
	wire_snapshot s;
	if (!m->payload || wire_decode_snapshot(m->payload, m->len, &s) != 0)
		return;
	for (uint32_t i = 0; i < s.ncounts; i++)
		if (applier_mark_changed(c->ap, s.counts[i].counter.p, s.counts[i].counter.n,
		                         s.counts[i].item.p, s.counts[i].item.n) == ERR_IO)
			log_error("snapshot counts not marked again: the store failed",
			          "partition=%d", m->partition);
	wire_snapshot_free(&s);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	central *c = opaque;
	bool failed;
	if (bus_dlq_report(&c->dlq, m, &failed)) {
		if (failed)
			applier_dead_letter_failed(c->ap);
		return;
	}
	cmetrics_snapshot_delivered(c->cm, m->partition, !m->err, rd_kafka_message_latency(m));
	if (m->err) {
		RUN_ADD(c, snapshot_errors);
		log_warn("snapshot delivery failed; its counts go in the next one",
		         "partition=%d err=\"%s\"", m->partition, rd_kafka_err2str(m->err));
		remark_snapshot(c, m);
		return;
	}
	c->kafka_ok_ms = clock_mono_ms(); /* delivery reports run on the loop thread */
}

static int open_kafka(central *c, char *err, size_t errlen)
{
	const central_config *cfg = c->cfg;
	bus_props bp = central_bus_props(cfg);
	rd_kafka_conf_t *conf =
	    bus_conf_new(BUS_PRODUCER, &bp, cfg->bootstrap_file, NULL, err, errlen);
	if (!conf)
		return ERR_CONFIG;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_opaque(conf, c);
	c->producer = bus_client_new(BUS_PRODUCER, conf, err, errlen);
	if (!c->producer)
		return ERR_KAFKA;
	c->snap_topic = rd_kafka_topic_new(c->producer, cfg->snapshot_topic, NULL);
	if (!c->snap_topic) {
		snprintf(err, errlen, "topic %s: %s", cfg->snapshot_topic,
		         rd_kafka_err2str(rd_kafka_last_error()));
		return ERR_KAFKA;
	}
	int rc = bus_dlq_init(&c->dlq, c->producer, cfg->deadletter_topic, cfg->batch_topic,
	                      cfg->id, "input", &dlq_mark, err, errlen);
	if (rc)
		return rc;

	snprintf(c->group, sizeof c->group, "likes-central-%s", cfg->id);
	conf = bus_conf_new(BUS_CONSUMER, &bp, cfg->bootstrap_file, c->group, err, errlen);
	if (!conf)
		return ERR_CONFIG;
	c->consumer = bus_client_new(BUS_CONSUMER, conf, err, errlen);
	if (!c->consumer)
		return ERR_KAFKA;
	rd_kafka_poll_set_consumer(c->consumer);
	return 0;
}

/* Waits for topic's metadata and checks its partition count: the batch
 * topic's, and the change feed's topics, which must match it. */
static int check_topic(central *c, const char *topic, char *err, size_t errlen)
{
	uint64_t deadline = clock_mono_ms() + 30000;
	int n;
	while ((n = bus_partition_count(c->consumer, topic, 2000)) < 0) {
		if (atomic_load(&stopping) || clock_mono_ms() > deadline) {
			snprintf(err, errlen, "no metadata for topic %s", topic);
			return ERR_KAFKA;
		}
	}
	if (n != c->cfg->partitions) {
		snprintf(err, errlen, "topic %s has %d partitions, configuration says %" PRId64,
		         topic, n, c->cfg->partitions);
		return ERR_CONFIG;
	}
	return 0;
}

/* Assigns the owned partitions, each from its stored offset. */
static int assign_all(central *c, char *err, size_t errlen)
{
	int np = (int)c->cfg->partitions;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
	for (int p = 0; p < np; p++) {
		if (!shard_owns(&c->own, (uint32_t)p))
			continue;
		int64_t off;
		if (applier_resume_offset(c->ap, (uint32_t)p, &off) != 0)
			off = RD_KAFKA_OFFSET_BEGINNING;
		rd_kafka_topic_partition_list_add(l, c->cfg->batch_topic, p)->offset = off;
		log_debug("input assigned", "topic=%s partition=%d offset=%" PRId64,
		          c->cfg->batch_topic, p, off);
	}
	rd_kafka_resp_err_t e = rd_kafka_assign(c->consumer, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		snprintf(err, errlen, "assign: %s", rd_kafka_err2str(e));
		return ERR_KAFKA;
	}
	return 0;
}

/* Before the first snapshot: the counts of snapshots a crash kept from
 * their delivery go in the next ones (resnap.h). */
static int resnap(central *c, char *err, size_t errlen)
{
	bus_props bp = central_bus_props(c->cfg);
	rd_kafka_conf_t *conf =
	    bus_conf_new(BUS_CONSUMER, &bp, c->cfg->bootstrap_file, c->group, err, errlen);
	if (!conf)
		return ERR_CONFIG;
	resnap_opts o = {.conf = conf,
	                 .snapshot_topic = c->cfg->snapshot_topic,
	                 .batch_topic = c->cfg->batch_topic,
	                 .partitions = (uint32_t)c->cfg->partitions,
	                 .own = &c->own,
	                 .ap = c->ap,
	                 .timeout_ms = 10000,
	                 .deadline_ms = 30000};
	resnap_result r;
	int rc = resnap_run(&o, &r, err, errlen);
	if (rc == 0)
		log_info("resnap done",
		         "partitions=%u batches=%" PRIu64 " counts=%" PRIu64
		         " unknown=%u cut_short=%u ms=%" PRIu64,
		         r.partitions, r.batches, r.counts, r.unknown, r.cut_short, r.ms);
	return rc;
}

/* The feed's trim hook: the applier is the store's only writer. */
static int trim_feed(void *ctx, uint32_t p, uint64_t from, uint64_t upto)
{
	return applier_feed_trim(((central *)ctx)->ap, p, from, upto);
}

static uint32_t feed_epoch(void *ctx, uint32_t p)
{
	return applier_epoch(((central *)ctx)->ap, p);
}

/* The change feed's publisher, when a topic is on (docs/events.md). Its
 * group is named by the first topic on and the partitions owned, so the
 * instances of one shard, and only they, share it. */
static int start_feed(central *c, char *err, size_t errlen)
{
	const central_config *cfg = c->cfg;
	if (!cfg->changes_topic[0] && !cfg->milestones_topic[0] && !c->nhomes)
		return 0;
	char owned[1024], group[1400];
	shard_set_format(&c->own, owned, sizeof owned);
	snprintf(group, sizeof group, "likes-feed-%s-%s",
	         cfg->changes_topic[0]      ? cfg->changes_topic
	         : cfg->milestones_topic[0] ? cfg->milestones_topic
	                                    : c->home_topics[0],
	         owned);
	feed_opts o = {.topics = {cfg->changes_topic, cfg->milestones_topic},
	               .group = group,
	               .id = cfg->id,
	               .partitions = (uint32_t)cfg->partitions,
	               .own = &c->own,
	               .db = c->db,
	               .trim = trim_feed,
	               .trim_ctx = c,
	               .epoch = feed_epoch,
	               .epoch_ctx = c,
	               .timeout_ms = cfg->feed_timeout_ms,
	               .session_ms = cfg->feed_session_ms,
	               .props = central_bus_props(cfg),
	               .bootstrap_file = cfg->bootstrap_file,
	               .reg = cmetrics_registry(c->cm)};
	for (size_t i = 0; i < c->nhomes; i++)
		o.topics[FEEDREC_HOMES + i] = c->home_topics[i];
	for (size_t i = c->nhomes; i < FEEDREC_HOMES_MAX; i++)
		o.topics[FEEDREC_HOMES + i] = "";
	c->fd = feed_new(&o, err, errlen);
	if (!c->fd)
		return ERR_KAFKA;
	log_info("change feed on", "changes=%s milestones=%s home_regions=%s group=%s",
	         cfg->changes_topic, cfg->milestones_topic, cfg->home_regions, group);
	return 0;
}

/* The next input offset the store holds the effects of: what Kafka's
 * tools are told (kcommit). */
static int64_t stored_position(void *ctx, uint32_t p)
{
	return applier_input_offset(((central *)ctx)->ap, p);
}

/* After the assignment: copies of the stored positions go to the
 * consumer's group every commit_interval_ms (off at 0). */
static void start_commits(central *c)
{
	/* A conf of its own, as the consumer's was made: a running
	 * client's conf is not one to copy. */
	char err[256];
	bus_props bp = central_bus_props(c->cfg);
	rd_kafka_conf_t *conf =
	    bus_conf_new(BUS_CONSUMER, &bp, c->cfg->bootstrap_file, c->group, err, sizeof err);
	if (!conf) { /* it was made once already: not expected */
		log_warn("offset commits for tooling are off", "err=\"%s\"", err);
		return;
	}
	uint32_t np = (uint32_t)c->cfg->partitions;
	uint8_t *owned = xcalloc(np, 1);
	for (uint32_t p = 0; p < np; p++)
		owned[p] = shard_owns(&c->own, p);
	kcommit_opts o = {.conf = conf,
	                  .group = c->group,
	                  .topic = c->cfg->batch_topic,
	                  .partitions = np,
	                  .owned = owned,
	                  .interval_ms = c->cfg->commit_interval_ms,
	                  .timeout_ms = 10000,
	                  .position = stored_position,
	                  .ctx = c};
	c->commits = kcommit_new(&o);
	c->run.commits = c->commits;
	free(owned);
	rd_kafka_conf_destroy(conf);
}

/* What a recovery left to do (central.recover_due), retried each second. */
enum { RECOVER_NONE, RECOVER_DECIDE, RECOVER_SEEK };

/* Restarts partition p at its stored offset (reseek.h). 0, or ERR_AGAIN
 * with the retry noted. */
static int reseek_stored(central *c, uint32_t p)
{
	int64_t off;
	if (applier_resume_offset(c->ap, p, &off) != 0)
		off = 0;
	char err[256];
	if (reseek_partition(&c->rs, c->consumer, c->cfg->batch_topic, p, off, err, sizeof err)) {
		log_warn("input partition not restarted; will retry",
		         "partition=%u offset=%" PRId64 " err=\"%s\"", p, off, err);
		c->recover_due[p] = RECOVER_SEEK;
		return ERR_AGAIN;
	}
	c->recover_due[p] = RECOVER_NONE;
	log_info("input partition restarted", "partition=%u offset=%" PRId64, p, off);
	return 0;
}

/* The broker no longer has partition p's stored offset. Below the low
 * watermark, the data between them is gone (retention, or the embedded
 * broker's size cap): resume at the earliest offset kept, in the same
 * epoch. Above the high watermark (or inside the watermarks by the time
 * they are asked, which means the log was replaced and refilled since),
 * the offsets went backwards: resume at the earliest offset in a new
 * epoch, written with it. Either way the edges' end-to-end resend fills
 * the gaps the snapshots will now show. Then only p is restarted.
 * 0; ERR_AGAIN with a retry noted; ERR_IO or ERR_FULL (the store, or
 * the epochs are spent), which stop central. */
static int recover_out_of_range(central *c, uint32_t p)
{
	int64_t lo = 0, hi = 0;
	rd_kafka_resp_err_t e =
	    bus_watermarks(c->consumer, c->cfg->batch_topic, (int32_t)p, 5000, &lo, &hi);
	if (e) {
		log_warn("watermark query failed; will retry", "partition=%u err=\"%s\"", p,
		         rd_kafka_err2str(e));
		c->recover_due[p] = RECOVER_DECIDE;
		return ERR_AGAIN;
	}
	int64_t had = -1;
	int rc = applier_resume_offset(c->ap, p, &had);
	if (rc && rc != ERR_NOTFOUND)
		return rc;
	bool backwards = reseek_went_backwards(had, lo, hi);
	uint32_t epoch = applier_epoch(c->ap, p);
	RUN_ADD(c, offset_resets);
	if (backwards)
		log_error("input offsets went backwards: the broker no longer has the log central "
		          "read (restarted empty, or the topic recreated); a new epoch starts at "
		          "the earliest offset, edges will resend what is missing",
		          "topic=%s partition=%u stored_offset=%" PRId64 " low=%" PRId64
		          " high=%" PRId64 " epoch=%u new_epoch=%u",
		          c->cfg->batch_topic, p, had, lo, hi, epoch, epoch + 1);
	else
		log_error("input offset out of range: messages were dropped by the broker before "
		          "central read them; resuming at the earliest offset, edges will resend "
		          "what is missing",
		          "topic=%s partition=%u stored_offset=%" PRId64 " low=%" PRId64
		          " high=%" PRId64 " epoch=%u new_epoch=%u",
		          c->cfg->batch_topic, p, had, lo, hi, epoch, epoch);
	rc = applier_reset_offset(c->ap, p, lo, backwards);
	if (rc == ERR_FULL)
		log_error("the partition's epochs are spent: versions could no longer grow; "
		          "stopping",
		          "partition=%u epoch=%u", p, epoch);
	if (rc)
		return rc;
	/* A seek does not restart a partition stopped by
	 * auto.offset.reset=error; re-assigning it does. */
	return reseek_stored(c, p);
}

/* An out-of-range event for p at offset: recovered, unless it echoes a
 * re-seek still under way. 0, or what recover_out_of_range returns. */
static int on_out_of_range(central *c, uint32_t p, int64_t offset)
{
	if (p >= (uint32_t)c->cfg->partitions || !shard_owns(&c->own, p))
		return 0;
	if (!reseek_wanted(&c->rs, p, offset)) {
		log_debug("out-of-range event of a fetch before the restart; ignored",
		          "partition=%u offset=%" PRId64, p, offset);
		return 0;
	}
	return recover_out_of_range(c, p);
}

/* Once a second: recoveries that could not finish. 0 or a fatal error. */
static int retry_recoveries(central *c)
{
	for (uint32_t p = 0; p < (uint32_t)c->cfg->partitions; p++) {
		int rc = 0;
		if (c->recover_due[p] == RECOVER_DECIDE)
			rc = recover_out_of_range(c, p);
		else if (c->recover_due[p] == RECOVER_SEEK)
			rc = reseek_stored(c, p);
		if (rc && rc != ERR_AGAIN)
			return rc;
	}
	return 0;
}

/* The applier's dead-letter hook: the refused message, unchanged, to the
 * dead-letter topic (bus_dlq_send). */
static void dead_letter(void *ctx, uint32_t p, int64_t offset, const void *msg, size_t len,
                        const char *reason)
{
	central *c = ctx;
	if (bus_dlq_send(&c->dlq, (int32_t)p, offset, msg, len, reason))
		applier_dead_letter_failed(c->ap);
}

static void publish_partition(central *c, uint32_t p)
{
	bool more = true;
	while (more) {
		wire_snapshot s;
		applier_snapshot(c->ap, p, (size_t)c->cfg->snapshot_max_counts, &s, &more);
		s.source = wire_cstr(c->cfg->id, strlen(c->cfg->id));
		s.produced_ms = clock_wall_ms();
		char *buf;
		size_t len, ncounts = s.ncounts;
		int rc = wire_encode_snapshot(&s, &buf, &len);
		wire_snapshot_free(&s);
		if (rc) {
			log_error("snapshot encoding failed", "partition=%u err=\"%s\"", p,
			          err_str(rc));
			applier_snapshot_failed(c->ap, p);
			return;
		}
		int tries = 0;
		while (rd_kafka_produce(c->snap_topic, (int32_t)p, RD_KAFKA_MSG_F_FREE, buf, len,
		                        NULL, 0, NULL) == -1) {
			rd_kafka_resp_err_t e = rd_kafka_last_error();
			if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || ++tries > 10) {
				log_warn("snapshot not queued; its counts go in the next one",
				         "partition=%u err=\"%s\"", p, rd_kafka_err2str(e));
				free(buf);
				RUN_ADD(c, snapshot_errors);
				applier_snapshot_failed(c->ap, p);
				return;
			}
			rd_kafka_poll(c->producer, 100);
		}
		RUN_ADD(c, snapshot_messages);
		cmetrics_snapshot_queued(c->cm, p, ncounts);
	}
}

static void log_stats(central *c)
{
	applier_stats st;
	applier_get_stats(c->ap, &st);
	size_t heap_free = memtrim_free_bytes();
	log_info("stats",
	         "heap_free_kb=%zu batches_applied=%" PRIu64 " batches_duplicate=%" PRIu64
	         " batches_held=%" PRIu64 " batches_bad=%" PRIu64 " batches_deadlettered=%" PRIu64
	         " deadletter_failed=%" PRIu64 " ops_applied=%" PRIu64 " ops_invalid=%" PRIu64
	         " store_writes=%" PRIu64 " snapshots=%" PRIu64 " snapshot_errors=%" PRIu64
	         " offset_resets=%" PRIu64,
	         heap_free / 1024, st.batches_applied, st.batches_duplicate, st.batches_held,
	         st.batches_bad, st.batches_deadlettered, st.deadletter_failed, st.ops_applied,
	         st.ops_invalid, st.store_writes, atomic_load(&c->run.snapshot_messages),
	         atomic_load(&c->run.snapshot_errors), atomic_load(&c->run.offset_resets));
}

/* Once a second: store, Kafka (assignment and recent traffic: fetched
 * input, or delivered snapshots, which heartbeats keep coming), and the
 * input lag from the consumer's cached high watermarks. */
static void check_readiness(central *c, uint64_t now)
{
	ops_readiness r = {.store.ok = c->db != NULL, .kafka.ok = true, .lag.ok = true};
	if (!r.store.ok)
		snprintf(r.store.reason, sizeof r.store.reason, "the store is not open");
	uint64_t age_ms = (uint64_t)c->cfg->ready_kafka_age_s * 1000;
	if (!c->assigned) {
		r.kafka.ok = false;
		snprintf(r.kafka.reason, sizeof r.kafka.reason, "input partitions not assigned");
	} else if (!c->kafka_ok_ms || now - c->kafka_ok_ms >= age_ms) {
		r.kafka.ok = false;
		snprintf(r.kafka.reason, sizeof r.kafka.reason,
		         "no fetch or delivery for %" PRId64 "s", c->cfg->ready_kafka_age_s);
	}
	int64_t lag = 0;
	for (int32_t p = 0; p < (int32_t)c->cfg->partitions; p++) {
		if (!shard_owns(&c->own, (uint32_t)p))
			continue;
		int64_t lo = -1, hi = -1;
		if (rd_kafka_get_watermark_offsets(c->consumer, c->cfg->batch_topic, p, &lo, &hi) ||
		    hi < 0)
			continue; /* nothing fetched yet: unknown */
		int64_t next = applier_input_offset(c->ap, (uint32_t)p);
		if (next < 0)
			next = lo > 0 ? lo : 0;
		if (hi > next)
			lag += hi - next;
	}
	if (lag > c->cfg->ready_max_lag) {
		r.lag.ok = false;
		snprintf(r.lag.reason, sizeof r.lag.reason,
		         "%" PRId64 " input messages behind, over %" PRId64, lag,
		         c->cfg->ready_max_lag);
	}
	tsa_lock(&c->ready_mu);
	c->ready = r;
	tsa_unlock(&c->ready_mu);
	if (c->cm)
		cmetrics_readiness(c->cm, r.store.ok, r.kafka.ok, r.lag.ok);
}

static void reload(void)
{
	char err[512];
	if (log_reopen(err, sizeof err))
		log_error("log reopen failed; lines go to the old file", "err=\"%s\"", err);
	else
		log_info("SIGHUP: log reopened", "%s", "");
}

static int loop(central *c)
{
	sdnotify_watchdog wd;
	sdnotify_watchdog_init(&wd);
	uint64_t next_ready = 0;
	uint64_t next_tick = clock_mono_ms() + (uint64_t)c->cfg->snapshot_interval_ms;
	uint64_t next_stats = clock_mono_ms() + 30000;
	uint64_t ticks = 0;
	while (!atomic_load(&stopping)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c->consumer, 20);
		if (m) {
			int rc = 0;
			if (!m->err || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				c->kafka_ok_ms = clock_mono_ms();
				reseek_note_fetch(&c->rs, (uint32_t)m->partition, m->offset);
			}
			if (!m->err) {
				rc = applier_apply(c->ap, (uint32_t)m->partition, m->offset,
				                   m->payload, m->len, bus_batch_writer(m));
				if (!rc)
					feed_noted(c->fd, (uint32_t)m->partition,
					           applier_feed_made(c->ap));
			} else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
			           m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
				rc = on_out_of_range(c, (uint32_t)m->partition, m->offset);
				if (rc == ERR_AGAIN)
					rc = 0;
			} else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				log_warn("consumer error", "partition=%d err=\"%s\"", m->partition,
				         rd_kafka_message_errstr(m));
			}
			rd_kafka_message_destroy(m);
			if (rc) {
				log_error("store failed; stopping so that a restart resumes from "
				          "the last durable offset",
				          "err=\"%s\"", err_str(rc));
				return rc;
			}
		}
		rd_kafka_poll(c->producer, 0);
		runq_drain(c->jobs);
		uint64_t now = clock_mono_ms();
		kcommit_poll(c->commits, now);
		int trc = applier_thin_step(c->ap, now);
		if (trc) {
			log_error("store failed while thinning the home index; stopping",
			          "err=\"%s\"", err_str(trc));
			return trc;
		}
		if (c->fd) {
			int rc = feed_turn(c->fd, now);
			if (rc) {
				log_error("store failed while trimming the change feed; stopping",
				          "err=\"%s\"", err_str(rc));
				return rc;
			}
		}
		if (now >= next_tick) {
			bool heartbeat = c->cfg->heartbeat_every > 0 &&
			                 ticks % (uint64_t)c->cfg->heartbeat_every == 0;
			for (uint32_t p = 0; p < (uint32_t)c->cfg->partitions; p++)
				if (shard_owns(&c->own, p) &&
				    (heartbeat || applier_dirty(c->ap, p)))
					publish_partition(c, p);
			note_watermarks(c, false);
			ticks++;
			next_tick = now + (uint64_t)c->cfg->snapshot_interval_ms;
		}
		if (now >= next_stats) {
			log_stats(c);
			(void)memtrim_release();
			next_stats = now + 30000;
		}
		if (now >= next_ready) {
			check_readiness(c, now);
			next_ready = now + 1000;
			int rc = retry_recoveries(c);
			if (rc) {
				log_error("input recovery failed; stopping so that a restart "
				          "resumes from the last durable offset",
				          "err=\"%s\"", err_str(rc));
				return rc;
			}
		}
		if (atomic_exchange(&reload_asked, false))
			reload();
		sdnotify_watchdog_tick(&wd, now);
	}
	/* Stopping: the last message is applied; edges learn of it now
	 * rather than from the next central. */
	if (sdnotify_send("STOPPING=1\nSTATUS=stopping"))
		log_warn("sd_notify STOPPING=1 failed", "%s", "");
	for (uint32_t p = 0; p < (uint32_t)c->cfg->partitions; p++)
		if (shard_owns(&c->own, p) && applier_dirty(c->ap, p))
			publish_partition(c, p);
	return 0;
}

/* feed.milestones: counts of 1 to 2^53 - 1, ascending, at most
 * FEED_THRESHOLDS_MAX; empty = none. */
static int parse_thresholds(const char *list, uint64_t *out, size_t *n, char *err, size_t errlen)
{
	*n = 0;
	const char *p = list;
	while (*p) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(p, &end, 10);
		if (end == p || errno || *p == '-' || v == 0 || v >= (1ULL << 53) ||
		    (*end && *end != ',') || (*end == ',' && !end[1]) ||
		    *n == FEED_THRESHOLDS_MAX || (*n && v <= out[*n - 1])) {
			snprintf(
			    err, errlen,
			    "feed.milestones: \"%s\" is not a list of ascending counts of 1 to "
			    "2^53 - 1 (at most %d), such as 10,100,1000",
			    list, FEED_THRESHOLDS_MAX);
			return ERR_CONFIG;
		}
		out[(*n)++] = v;
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* feed.home_regions into c->homes, and each one's topic. */
static int parse_homes(central *c, char *err, size_t errlen)
{
	const central_config *cfg = c->cfg;
	if (!cfg->home_regions[0])
		return 0;
	if (item_parse_names(cfg->home_regions, c->homes, item_edge_valid)) {
		snprintf(err, errlen,
		         "feed.home_regions: '%s' is not a list of at most %d region names "
		         "([a-z0-9_-]{1,64})",
		         cfg->home_regions, FEEDREC_HOMES_MAX);
		return ERR_CONFIG;
	}
	if (!cfg->home_prefix[0]) {
		snprintf(err, errlen, "topics.home_prefix is empty, and feed.home_regions is set");
		return ERR_CONFIG;
	}
	for (c->nhomes = 0; c->homes[c->nhomes]; c->nhomes++) {
		size_t n = strlen(cfg->home_prefix) + strlen(c->homes[c->nhomes]) + 1;
		c->home_topics[c->nhomes] = xmalloc(n);
		snprintf(c->home_topics[c->nhomes], n, "%s%s", cfg->home_prefix,
		         c->homes[c->nhomes]);
	}
	return 0;
}

static void free_homes(central *c)
{
	item_free_names(c->homes);
	for (size_t i = 0; i < c->nhomes; i++)
		free(c->home_topics[i]);
	c->nhomes = 0;
}

/* The checks start-up makes before it opens the store or reaches Kafka:
 * which section holds each librdkafka property, the counters, the owned
 * partitions (into c->ctr and c->own) and the ops API's address and
 * token. `central -t` makes them too. */
static int configure(central *c, char *err, size_t errlen)
{
	const central_config *cfg = c->cfg;
	bus_props bp = central_bus_props(cfg);
	if (bus_check_props(&bp, false, err, errlen))
		return ERR_CONFIG;
	char why[256] = "";
	int rc = counters_parse(&c->ctr, cfg->counters_set, cfg->counters_sum, why, sizeof why);
	if (rc) {
		snprintf(err, errlen, "[counters]: %s", why);
		return rc;
	}
	rc =
	    shard_set_parse(&c->own, cfg->owned_partitions, (uint32_t)cfg->partitions, err, errlen);
	if (!rc)
		rc = parse_thresholds(cfg->feed_milestones, c->thresholds, &c->nthresholds, err,
		                      errlen);
	if (!rc)
		rc = parse_homes(c, err, errlen);
	bool feed_on = cfg->changes_topic[0] || cfg->milestones_topic[0] || c->nhomes;
	if (!rc && feed_on && cfg->feed_session_ms <= cfg->feed_timeout_ms) {
		/* A publisher cut off must lose its session after its last
		 * message failed, or two could publish at once. */
		snprintf(err, errlen,
		         "feed.session_ms (%" PRId64 ") must be more than "
		         "feed.timeout_ms (%" PRId64 ")",
		         cfg->feed_session_ms, cfg->feed_timeout_ms);
		rc = ERR_CONFIG;
	}
	if (rc || !cfg->ops_listen[0])
		return rc;
	char host[256];
	int port;
	return ops_api_check(cfg->ops_listen, cfg->ops_token, host, sizeof host, &port, err,
	                     errlen);
}

int central_config_check(const central_config *cfg, char *err, size_t errlen)
{
	central c = {.cfg = cfg};
	int rc = configure(&c, err, errlen);
	/* -t also sets each librdkafka property on a scratch conf: an
	 * unknown name or a bad value shows without a client. */
	bus_props bp = central_bus_props(cfg);
	if (!rc)
		rc = bus_check_props(&bp, true, err, errlen);
	counters_free(&c.ctr);
	shard_set_free(&c.own);
	free_homes(&c);
	return rc;
}

int central_run(const central_config *cfg)
{
	central c = {.cfg = cfg,
	             .ready = {.store = {false, "not started"},
	                       .kafka = {false, "not started"},
	                       .lag = {false, "not started"}}};
	pthread_mutex_init(&c.ready_mu, NULL);
	c.jobs = runq_new();
	reseek_init(&c.rs, (uint32_t)cfg->partitions);
	c.recover_due = xcalloc((size_t)cfg->partitions, 1);
	c.run.input_high = xcalloc((size_t)cfg->partitions, sizeof *c.run.input_high);
	for (int64_t p = 0; p < cfg->partitions; p++)
		atomic_init(&c.run.input_high[p], -1);
	char err[512] = "";
	int rc = configure(&c, err, sizeof err);
	if (rc)
		goto out;

	store_opts so;
	store_opts_default(&so);
	so.cache_bytes = (size_t)cfg->store_cache_mb << 20;
	so.sync = cfg->store_sync;
	c.db = store_open_dir(cfg->data_dir, &so, err, sizeof err);
	if (!c.db) {
		if (shard_store_in_use(cfg->data_dir))
			snprintf(err, sizeof err,
			         "the store at %s is in use by another process (another central "
			         "on the same data_dir?)",
			         cfg->data_dir);
		rc = ERR_IO;
		goto out;
	}
	char parts[32];
	snprintf(parts, sizeof parts, "%" PRId64, cfg->partitions);
	rc = store_meta_ensure(c.db, "partitions", parts, err, sizeof err);
	if (rc)
		goto out;
	rc = shard_note_owned(c.db, &c.own, err, sizeof err);
	if (rc)
		goto out;
	c.ap = applier_new(c.db, (uint32_t)cfg->partitions, &c.ctr, err, sizeof err);
	if (!c.ap) {
		rc = ERR_IO;
		goto out;
	}
	applier_set_cache(c.ap, (size_t)cfg->cache_counts, (size_t)cfg->cache_members);
	applier_set_feed(c.ap, cfg->changes_topic[0] != 0, cfg->milestones_topic[0] != 0,
	                 c.thresholds, c.nthresholds);
	applier_set_homes(c.ap, (const char *const *)c.homes, c.nhomes);
	cmetrics_opts mo = {.ctr = &c.ctr,
	                    .partitions = (uint32_t)cfg->partitions,
	                    .ap = c.ap,
	                    .run = &c.run,
	                    .db = c.db,
	                    .data_dir = cfg->data_dir,
	                    .hot_k = (size_t)cfg->hot_items,
	                    .owned = &c.own};
	c.cm = cmetrics_new(&mo);
	cmetrics_feed(c.cm, c.ap);
	rc = open_kafka(&c, err, sizeof err);
	if (rc)
		goto out;
	applier_set_dead_letter(c.ap, dead_letter, &c);
	rc = check_topic(&c, cfg->batch_topic, err, sizeof err);
	for (int i = 0; !rc && i < 2; i++) {
		const char *feed_topic = i ? cfg->milestones_topic : cfg->changes_topic;
		if (feed_topic[0])
			rc = check_topic(&c, feed_topic, err, sizeof err);
	}
	for (size_t i = 0; !rc && i < c.nhomes; i++)
		rc = check_topic(&c, c.home_topics[i], err, sizeof err);
	if (rc)
		goto out;
	rc = resnap(&c, err, sizeof err);
	if (rc)
		goto out;
	rc = assign_all(&c, err, sizeof err);
	if (rc)
		goto out;
	start_commits(&c);
	rc = start_feed(&c, err, sizeof err);
	if (rc)
		goto out;
	note_watermarks(&c, true);
	c.assigned = true;
	ops_api_opts oo = {.listen = cfg->ops_listen,
	                   .token = cfg->ops_token,
	                   .db = c.db,
	                   .ctr = &c.ctr,
	                   .partitions = (uint32_t)cfg->partitions,
	                   .ap = c.ap,
	                   .run = &c.run,
	                   .repair = post_repair,
	                   .repair_ctx = &c,
	                   .readiness = get_readiness,
	                   .readiness_ctx = &c,
	                   .data_dir = cfg->data_dir,
	                   .metrics = c.cm,
	                   .owned = &c.own,
	                   .instance_id = cfg->id};
	c.api = ops_api_start(&oo, err, sizeof err);
	if (!c.api && cfg->ops_listen[0]) {
		rc = ERR_IO;
		goto out;
	}
	char owned[1024];
	shard_set_format(&c.own, owned, sizeof owned);
	log_info("central started",
	         "version=%s commit=%s id=%s partitions=%" PRId64
	         " owned=\"%s\" set_counters=%s sum_counters=%s ops=%s",
	         build_version, build_commit, cfg->id, cfg->partitions, owned, cfg->counters_set,
	         cfg->counters_sum, cfg->ops_listen);
	if (sdnotify_send("READY=1\nSTATUS=applying"))
		log_warn("sd_notify READY=1 failed", "%s", "");
	rc = loop(&c);
	runq_close(c.jobs); /* a repair still waiting is told the loop is gone */
	log_info("central stopping", "%s", "");
	log_stats(&c);
out:
	if (rc && err[0])
		log_error("central failed", "err=\"%s\"", err);
	runq_close(c.jobs);
	ops_api_stop(c.api);
	runq_free(c.jobs);
	free((void *)c.run.input_high);
	kcommit_free(c.commits);
	feed_free(c.fd); /* its messages settle before it leaves its group */
	if (c.consumer) {
		rd_kafka_consumer_close(c.consumer);
		rd_kafka_destroy(c.consumer);
	}
	if (c.producer) {
		rd_kafka_flush(c.producer, 5000);
		if (c.snap_topic)
			rd_kafka_topic_destroy(c.snap_topic);
		bus_dlq_free(&c.dlq);
		rd_kafka_destroy(c.producer);
	}
	applier_free(c.ap);
	cmetrics_free(c.cm);
	store_close(c.db);
	counters_free(&c.ctr);
	shard_set_free(&c.own);
	free_homes(&c);
	reseek_free(&c.rs);
	free(c.recover_due);
	pthread_mutex_destroy(&c.ready_mu);
	return rc;
}
