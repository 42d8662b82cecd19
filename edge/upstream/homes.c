/* homes.c - the home stream's follower (homes.h). */
#include "edge/upstream/homes.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "clock.h"
#include "feedev.h"
#include "item.h"
#include "log.h"
#include "reseek.h"
#include "xmem.h"

#define RETRY_MS 100 /* a failed apply is tried again this long after */
#define ENDS_MS 2000 /* the longest a question of where a topic ends waits */

struct homes {
	const edge_config *cfg;
	const counters *ctr;
	ledger *lg;
	char *topic;
	rd_kafka_t *consumer;
	bool assigned;
	/* A partition whose offset left the log (auto.offset.reset=error
	 * stops it, and says so once) is restarted alone (reseek.h) at the
	 * topic's end (restart); stalled while that has not succeeded. */
	reseek rs;
	bool *stalled;
	/* Offsets found dropped, counted in gaps once the store has
	 * forgotten their partitions' horizons (the next apply). */
	uint64_t dropped;
	int64_t *next; /* per partition: the offset expected next, -1 unknown */
	/* Per partition, while its horizon is not known: the snapshot
	 * topic's end when this edge began to read the home stream there;
	 * -1 otherwise. The version of the first snapshot past it is the
	 * horizon: every change applied at or above it comes through the
	 * home stream from where the edge began. */
	int64_t *snap_end;
	uint64_t *from; /* per partition: the horizon (LEDGER_HOME_NONE: none) */
	/* Whether central's checkpoint of the region's memberships is asked
	 * for (central's ops API is configured): a partition without a
	 * horizon then gets one, 0, when its load is done, and the
	 * snapshot-made horizon above is not used. */
	bool loads;
	/* Per partition: the load wanted (a number that grows with each
	 * begin_at_end; 0: none) and the last one done. The bootstrap thread
	 * reads want and writes done (homes_load_wanted, homes_load_done). */
	_Atomic uint32_t *want, *done;
	/* Per partition, with done: the horizon the load gives (its
	 * checkpoint's index_from), written before done. */
	_Atomic uint64_t *done_from;
	/* Per partition, with want: the batch topic's end when the load was
	 * asked for. The checkpoint must reflect every op before it (its
	 * version's offset at or past it): an op of this region's own users
	 * made here goes on no stream, and the central that published an
	 * event may be ahead of the one that answers. */
	_Atomic int64_t *mark;
	bool *remark; /* the batch topic's end was not known: asked again */
	/* Read and not yet applied: the events (strings owned) and, per
	 * partition, the position they bring the stream to (next -1: none). */
	ledger_home_ev *evs;
	size_t n, cap;
	ledger_home_pos *pos;
	bool have_pos;
	uint64_t retry_at;
	log_limit read_errors, apply_errors;
	_Atomic uint64_t applied, older, bad, gaps, retries;
	metric *m_applied, *m_older, *m_bad, *m_gaps;
};

homes *homes_new(const edge_config *cfg, const counters *ctr, ledger *lg, metrics *reg, char *err,
                 size_t errlen)
{
	homes *h = xcalloc(1, sizeof *h);
	h->cfg = cfg;
	h->ctr = ctr;
	h->lg = lg;
	size_t tn = strlen(cfg->home_prefix) + strlen(cfg->region) + 1;
	h->topic = xmalloc(tn);
	snprintf(h->topic, tn, "%s%s", cfg->home_prefix, cfg->region);
	size_t np = (size_t)cfg->partitions;
	h->next = xmalloc(np * sizeof *h->next);
	h->pos = xmalloc(np * sizeof *h->pos);
	h->snap_end = xmalloc(np * sizeof *h->snap_end);
	h->from = xcalloc(np, sizeof *h->from);
	h->want = xcalloc(np, sizeof *h->want);
	h->done = xcalloc(np, sizeof *h->done);
	h->done_from = xcalloc(np, sizeof *h->done_from);
	h->mark = xcalloc(np, sizeof *h->mark);
	h->remark = xcalloc(np, sizeof *h->remark);
	h->stalled = xcalloc(np, sizeof *h->stalled);
	reseek_init(&h->rs, (uint32_t)np);
	h->loads = cfg->central_ops[0] != 0;
	for (size_t p = 0; p < np; p++) {
		h->next[p] = h->snap_end[p] = -1;
		h->from[p] = LEDGER_HOME_NONE;
		h->pos[p] = (ledger_home_pos){-1, LEDGER_HOME_NONE};
	}
	char group[256];
	snprintf(group, sizeof group, "likes-edge-%s-home", cfg->id);
	bus_props bp = edge_bus_props(cfg);
	rd_kafka_conf_t *conf =
	    bus_conf_new(BUS_CONSUMER, &bp, cfg->bootstrap_file, group, err, errlen);
	if (!conf) {
		homes_free(h);
		return NULL;
	}
	h->consumer = bus_client_new(BUS_CONSUMER, conf, err, errlen);
	if (!h->consumer) {
		homes_free(h);
		return NULL;
	}
	rd_kafka_poll_set_consumer(h->consumer);
	const char *help = "Home stream events (memberships of this region's users made in "
	                   "another region), by what they did here.";
	h->m_applied = metrics_counter(reg, "home_events_total", help, "result=\"applied\"");
	h->m_older = metrics_counter(reg, "home_events_total", help, "result=\"older\"");
	h->m_bad = metrics_counter(reg, "home_events_total", help, "result=\"bad\"");
	h->m_gaps = metrics_counter(reg, "home_stream_gaps_total",
	                            "Offsets of the home stream gone before this edge read "
	                            "them (retention): memberships it may lack.",
	                            NULL);
	log_info("home stream followed", "topic=%s", h->topic);
	return h;
}

/* Appends e (its strings the turn's own) to the turn's events. */
static void add_event(homes *h, ledger_home_ev e)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 64;
		h->evs = xrealloc(h->evs, h->cap * sizeof *h->evs);
	}
	h->evs[h->n++] = e;
}

static void drop_events(homes *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free((char *)h->evs[i].counter);
		free((char *)h->evs[i].item);
		free((char *)h->evs[i].user);
		free((char *)h->evs[i].home);
	}
	h->n = 0;
	for (int64_t p = 0; p < h->cfg->partitions; p++)
		h->pos[p] = (ledger_home_pos){-1, LEDGER_HOME_NONE};
	h->have_pos = false;
}

void homes_free(homes *h)
{
	if (!h)
		return;
	drop_events(h);
	if (h->consumer) {
		rd_kafka_consumer_close(h->consumer);
		rd_kafka_destroy(h->consumer);
	}
	free(h->evs);
	free(h->pos);
	free(h->snap_end);
	free(h->from);
	free((void *)h->want);
	free((void *)h->done);
	free((void *)h->done_from);
	free((void *)h->mark);
	free(h->remark);
	free(h->stalled);
	reseek_free(&h->rs);
	free(h->next);
	free(h->topic);
	free(h);
}

static void count(_Atomic uint64_t *c, metric *m, uint64_t n)
{
	atomic_fetch_add(c, n);
	metric_add(m, n);
}

/* Partition p has lost its horizon, or never had one, with the stream
 * positioned where it will be read from: the horizon waits for the load
 * of the region's memberships there from central's checkpoint, asked
 * for from now on (homes_load_wanted), or without central's ops API for
 * a snapshot from past the snapshot topic's end as it is now (homes_poll;
 * INT64_MAX when the cluster does not say: none until the next gap).
 * Either way what the horizon covers and the stream does not was in
 * central's store before now: central publishes an event only once the
 * store holds its change. */
static void lose_horizon(homes *h, int32_t p)
{
	h->from[p] = LEDGER_HOME_NONE;
	int64_t lo, hi;
	if (h->loads) {
		rd_kafka_resp_err_t e =
		    bus_watermarks(h->consumer, h->cfg->batch_topic, p, ENDS_MS, &lo, &hi);
		h->remark[p] = e != 0;
		if (e)
			return; /* homes_poll asks again */
		atomic_store(&h->mark[p], hi);
		uint32_t g = atomic_load(&h->want[p]) + 1;
		atomic_store(&h->want[p], g ? g : 1);
		return;
	}
	rd_kafka_resp_err_t e =
	    bus_watermarks(h->consumer, h->cfg->snapshot_topic, p, ENDS_MS, &lo, &hi);
	h->snap_end[p] = e ? INT64_MAX : hi;
}

/* Partition p has no horizon: reading starts at the home topic's end as
 * it is now (lose_horizon says how it gets one). false when the cluster
 * does not say where it ends. */
static bool begin_at_end(homes *h, int32_t p, int64_t *start)
{
	int64_t lo, hi;
	rd_kafka_resp_err_t e = bus_watermarks(h->consumer, h->topic, p, ENDS_MS, &lo, &hi);
	if (e) {
		log_warn("home stream: where the topic ends is not known; trying again",
		         "topic=%s partition=%d err=\"%s\"", h->topic, p, rd_kafka_err2str(e));
		return false;
	}
	*start = hi;
	lose_horizon(h, p);
	return true;
}

/* Every partition at the position the store holds, or, for one without
 * a horizon, at the topic's end (begin_at_end). */
static bool assign_all(homes *h)
{
	int np = (int)h->cfg->partitions;
	h->dropped = 0; /* counted again by an attempt after a failed one */
	/* A new assignment: re-seeks of the one before are over. */
	reseek_free(&h->rs);
	reseek_init(&h->rs, (uint32_t)np);
	memset(h->stalled, 0, (size_t)np * sizeof *h->stalled);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
	for (int p = 0; p < np; p++) {
		int64_t off;
		uint64_t from;
		bool stored = ledger_home_resume(h->lg, (uint32_t)p, &off, &from) == 0 && off >= 0;
		bool have = stored && from != LEDGER_HOME_NONE;
		int64_t lo, hi;
		bool ends = stored && !bus_watermarks(h->consumer, h->topic, p, ENDS_MS, &lo, &hi);
		if (ends && off > hi) {
			/* The topic ends before this store's position: it was
			 * made again (a cluster started empty), and what it had
			 * is gone with it. */
			log_warn("home stream: the topic ends before this edge's position; reading "
			         "from its end, without a horizon until it has one again",
			         "topic=%s partition=%d position=%" PRId64 " end=%" PRId64,
			         h->topic, p, off, hi);
			have = false;
		} else if (ends && off < lo) {
			/* The log dropped changes this edge had not read
			 * (retention passed them while it was down or slow). */
			h->dropped += (uint64_t)(lo - off);
			log_warn("home stream: offsets gone before this edge read them; its users' "
			         "pairs there are read through until it has a horizon again",
			         "topic=%s partition=%d position=%" PRId64 " start=%" PRId64,
			         h->topic, p, off, lo);
			have = false;
		}
		if (!have) {
			if (!begin_at_end(h, p, &off)) {
				rd_kafka_topic_partition_list_destroy(l);
				return false;
			}
			/* The store's horizon goes with the next apply: until
			 * then its pairs would still be answered from it. */
			h->pos[p] = (ledger_home_pos){off, LEDGER_HOME_NONE};
			h->have_pos = true;
		} else {
			h->from[p] = from;
			h->snap_end[p] = -1;
			h->remark[p] = false;
			/* A load asked for before (by this instance, before it
			 * followed) is not needed now. */
			atomic_store(&h->done[p], atomic_load(&h->want[p]));
		}
		h->next[p] = off;
		rd_kafka_topic_partition_list_add(l, h->topic, p)->offset = off;
	}
	rd_kafka_resp_err_t e = rd_kafka_assign(h->consumer, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e) {
		log_error("home stream: assign failed", "topic=%s err=\"%s\"", h->topic,
		          rd_kafka_err2str(e));
		return false;
	}
	return true;
}

/* Partition p stopped out of range: the log no longer has the offset
 * this edge wanted next (retention passed it while the edge was down or
 * slow, or the topic was made again). It begins again at the topic's end
 * without a horizon, which the store forgets with the next apply, so its
 * users' pairs are read through until their memberships are loaded
 * again; the offsets lost are counted then. Only p is restarted: a
 * re-assignment of every partition trips librdkafka 2.0.2 when several
 * stop together (reseek.h). false: tried again next turn (stalled). */
static bool restart(homes *h, int32_t p)
{
	int64_t lo, hi;
	char err[256] = "";
	rd_kafka_resp_err_t e = bus_watermarks(h->consumer, h->topic, p, ENDS_MS, &lo, &hi);
	if (e)
		snprintf(err, sizeof err, "%s", rd_kafka_err2str(e));
	else if (reseek_partition(&h->rs, h->consumer, h->topic, (uint32_t)p, hi, err, sizeof err))
		e = RD_KAFKA_RESP_ERR__FAIL;
	if (e) {
		uint64_t skipped;
		if (log_every(&h->read_errors, 10000, &skipped))
			log_warn("home stream: a partition out of range could not be restarted; "
			         "trying again",
			         "topic=%s partition=%d err=\"%s\" similar_since_last=%" PRIu64,
			         h->topic, p, err, skipped);
		return false;
	}
	int64_t next = h->next[p];
	if (next >= 0 && next < lo)
		h->dropped += (uint64_t)(lo - next);
	log_warn("home stream: offsets gone before this edge read them; its users' pairs there "
	         "are read through until it has a horizon again",
	         "topic=%s partition=%d expected=%" PRId64 " start=%" PRId64 " end=%" PRId64,
	         h->topic, p, next, lo, hi);
	lose_horizon(h, p);
	h->next[p] = hi;
	h->pos[p] = (ledger_home_pos){hi, LEDGER_HOME_NONE};
	h->have_pos = true;
	return true;
}

/* One message: its event kept for the apply, or counted bad; either
 * way the partition's position moves past it. */
static void take(homes *h, const rd_kafka_message_t *m)
{
	int32_t p = m->partition;
	if (h->next[p] >= 0 && m->offset > h->next[p]) {
		count(&h->gaps, h->m_gaps, (uint64_t)(m->offset - h->next[p]));
		log_warn("home stream: offsets gone before this edge read them; its users' pairs "
		         "there are read through until it has a horizon again",
		         "topic=%s partition=%d expected=%" PRId64 " offset=%" PRId64, h->topic, p,
		         h->next[p], m->offset);
		/* Changes are missing: no horizon until it is made again,
		 * from here on. */
		lose_horizon(h, p);
	}
	reseek_note_fetch(&h->rs, (uint32_t)p, m->offset);
	h->next[p] = m->offset + 1;
	h->pos[p] = (ledger_home_pos){m->offset + 1, h->from[p]};
	h->have_pos = true;
	feedev_decoded d;
	const counter_def *def;
	int bad = feedev_decode(m->payload, m->len, &d);
	if (!bad && d.ev.type == FEEDEV_HOME && item_user_valid(d.user, d.ev.user_n) &&
	    item_edge_valid(d.region, d.ev.region_n)) {
		/* A move: the user's pairs of the partition came before it. */
		add_event(h, (ledger_home_ev){.user = xstrdup(d.user),
		                              .home = xstrdup(d.region),
		                              .since_ms = d.ev.n,
		                              .partition = (uint32_t)p});
		return;
	}
	if (bad || d.ev.type != FEEDEV_SET ||
	    !(def = counters_find(h->ctr, d.counter, d.ev.counter_n)) || def->kind != COUNTER_SET ||
	    !item_valid(d.item, d.ev.item_n) || !item_user_valid(d.user, d.ev.user_n)) {
		count(&h->bad, h->m_bad, 1);
		return;
	}
	add_event(h, (ledger_home_ev){.counter = xstrdup(d.counter),
	                              .item = xstrdup(d.item),
	                              .user = xstrdup(d.user),
	                              .member = d.ev.member,
	                              .hlc = d.ev.hlc});
}

/* Partitions waiting for a horizon get one once the snapshot read past
 * the snapshot topic's end they noted has been applied: the ledger's
 * version of the partition then. */
static void horizons(homes *h)
{
	for (int32_t p = 0; p < h->cfg->partitions; p++) {
		int64_t resume;
		if (h->snap_end[p] < 0 || ledger_snapshot_resume(h->lg, (uint32_t)p, &resume) ||
		    resume <= h->snap_end[p])
			continue;
		h->from[p] = ledger_snapshot_version(h->lg, (uint32_t)p);
		h->snap_end[p] = -1;
		h->pos[p] = (ledger_home_pos){h->next[p], h->from[p]};
		h->have_pos = true;
		log_info("home stream: this edge has every change of its users' pairs from here",
		         "topic=%s partition=%d version=%" PRIu64, h->topic, p, h->from[p]);
	}
}

/* Partitions whose load of central's checkpoint is done (the last one
 * wanted) get its horizon: 0, this store has every membership of its
 * users there; or the version from which central's index had them all
 * (a central store older than its index). */
static void loaded(homes *h)
{
	for (int32_t p = 0; h->loads && p < h->cfg->partitions; p++) {
		if (h->remark[p] && h->from[p] == LEDGER_HOME_NONE)
			lose_horizon(h, p);
		uint32_t w = atomic_load(&h->want[p]);
		if (!w || h->from[p] != LEDGER_HOME_NONE || atomic_load(&h->done[p]) != w)
			continue;
		uint64_t from = atomic_load(&h->done_from[p]);
		h->from[p] = from;
		h->pos[p] = (ledger_home_pos){h->next[p], from};
		h->have_pos = true;
		if (from)
			log_warn(
			    "home stream: memberships loaded from central, whose index starts "
			    "late (a store older than it); pairs last changed before it are read "
			    "through",
			    "topic=%s partition=%d version=%" PRIu64, h->topic, p, from);
		else
			log_info(
			    "home stream: memberships loaded from central; this edge has every "
			    "membership of its users here",
			    "topic=%s partition=%d", h->topic, p);
	}
}

uint32_t homes_load_wanted(homes *h, uint32_t p, int64_t *mark)
{
	if (!h || p >= (uint32_t)h->cfg->partitions)
		return 0;
	uint32_t w = atomic_load(&h->want[p]);
	*mark = atomic_load(&h->mark[p]);
	return w && atomic_load(&h->done[p]) != w ? w : 0;
}

void homes_load_done(homes *h, uint32_t p, uint32_t gen, uint64_t index_from)
{
	if (h && p < (uint32_t)h->cfg->partitions) {
		atomic_store(&h->done_from[p], index_from);
		atomic_store(&h->done[p], gen);
	}
}

const char *homes_region(const homes *h)
{
	return h->cfg->region;
}

/* Applies what was read; false when it stays for a later turn. */
static bool apply(homes *h, uint64_t now)
{
	if (!h->n && !h->have_pos)
		return true;
	size_t taken = 0;
	int rc = ledger_home_apply(h->lg, h->evs, h->n, h->pos, clock_wall_ms(), &taken);
	if (rc == 0) {
		count(&h->applied, h->m_applied, taken);
		count(&h->older, h->m_older, h->n - taken);
		drop_events(h);
		return true;
	}
	if (rc == ERR_FENCED) {
		/* Following now: the active has these; read again from the
		 * store's positions if this instance takes over. */
		drop_events(h);
		(void)rd_kafka_assign(h->consumer, NULL);
		h->assigned = false;
		return false;
	}
	atomic_fetch_add(&h->retries, 1);
	if (rc != ERR_AGAIN) {
		uint64_t skipped;
		if (log_every(&h->apply_errors, 10000, &skipped))
			log_warn("home stream: events not applied; trying again",
			         "events=%zu err=\"%s\" similar_since_last=%" PRIu64, h->n,
			         err_str(rc), skipped);
		h->retry_at = now + RETRY_MS;
	}
	return false;
}

void homes_poll(homes *h, int max)
{
	if (!h)
		return;
	uint64_t now = clock_mono_ms();
	if (now < h->retry_at)
		return;
	if (ledger_following(h->lg)) {
		if (h->assigned) {
			drop_events(h);
			(void)rd_kafka_assign(h->consumer, NULL);
			h->assigned = false;
		}
		return;
	}
	if (!h->assigned && !(h->assigned = assign_all(h))) {
		h->retry_at = now + RETRY_MS;
		return;
	}
	if (!apply(h, now))
		return; /* what was read waits: nothing more is read meanwhile */
	if (h->dropped) {
		count(&h->gaps, h->m_gaps, h->dropped);
		h->dropped = 0;
	}
	for (int32_t p = 0; p < h->cfg->partitions; p++)
		if (h->stalled[p])
			h->stalled[p] = !restart(h, p);
	horizons(h);
	loaded(h);
	for (int i = 0; i < max; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(h->consumer, 0);
		if (!m)
			break;
		if (!m->err && m->partition >= 0 && m->partition < h->cfg->partitions) {
			take(h, m);
		} else if ((m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
		            m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) &&
		           m->partition >= 0 && m->partition < h->cfg->partitions) {
			/* librdkafka stopped the partition (auto.offset.reset
			 * is error): left so, its users' pairs would be
			 * answered from a store that misses their changes. An
			 * echo of a fetch from before a restart is not acted
			 * on. */
			int32_t p = m->partition;
			if (reseek_wanted(&h->rs, (uint32_t)p, m->offset))
				h->stalled[p] = !restart(h, p);
		} else if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			uint64_t skipped;
			if (log_every(&h->read_errors, 10000, &skipped))
				log_warn("home stream: read failed",
				         "topic=%s err=\"%s\" similar_since_last=%" PRIu64,
				         h->topic, rd_kafka_message_errstr(m), skipped);
		}
		rd_kafka_message_destroy(m);
	}
	(void)apply(h, now);
}

void homes_get_stats(const homes *h, homes_stats *out)
{
	memset(out, 0, sizeof *out);
	if (!h)
		return;
	out->applied = atomic_load(&h->applied);
	out->older = atomic_load(&h->older);
	out->bad = atomic_load(&h->bad);
	out->gaps = atomic_load(&h->gaps);
	out->retries = atomic_load(&h->retries);
}
