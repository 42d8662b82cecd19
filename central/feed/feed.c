/* feed.c - the change feed's publisher (feed.h; docs/events.md): each
 * partition's state (who publishes it, what was sent and read back),
 * reading back, trimming and publishing. It owns the state; the Kafka
 * clients under it (feed_clients.c) tell it of deliveries and of the
 * group's changes through the hooks it gives them. */
#include "central/feed/feed.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "central/apply/keys.h"
#include "central/feed/feed_clients.h"
#include "clock.h"
#include "feedev.h"
#include "log.h"
#include "sbuf.h"
#include "version.h"
#include "xmem.h"

#define CHUNK_MAX 1000             /* messages of one partition in flight at a time */
#define UNREAD_MAX (4 * CHUNK_MAX) /* sent, not read back: no more is sent */
#define CATCHUP_MAX_MS 30000       /* a catch-up not done by then asks again */
#define READ_MAX 2000              /* messages read back per turn */
#define TRIM_EVERY_MS 100          /* how often published records are dropped */
#define RETRY_MS 1000              /* a watermark query that failed is tried again */
#define WATERMARK_MS 2000          /* the longest a watermark query may wait (asker thread) */
#define GRACE_EXTRA_MS 500         /* beyond timeout_ms, before a new publisher reads */
#define PURGE_MARGIN_MS 1000       /* purged this long before timeout_ms (at most half) */

enum pstate {
	P_IDLE,    /* not this instance's to publish */
	P_WAIT,    /* given to it: waiting out a former publisher's messages */
	P_CATCHUP, /* reading the topics to the watermarks asked */
	P_LIVE,    /* publishing */
	P_STALLED, /* a message failed: waiting for the chunk's last report */
};

/* The ids sent and not yet read back, oldest first. */
typedef struct idq {
	feedev_id *v;
	size_t head, n, cap;
} idq;

/* A watermark query the asker thread runs for the loop. */
enum { ASK_NONE, ASK_ASKED, ASK_ANSWERED, ASK_FAILED };

typedef struct fpart {
	bool owned; /* central.partitions */
	enum pstate st;
	uint64_t wait_until;
	uint64_t catchup_until; /* P_CATCHUP: ask again after this */
	_Atomic int ask;        /* ASK_*: the loop asks, the asker answers */
	_Atomic int64_t asked_hw[FEEDREC_TOPICS];
	int64_t hw[FEEDREC_TOPICS];       /* P_CATCHUP: read to here */
	int64_t read_pos[FEEDREC_TOPICS]; /* the reader's next offset; -1 unknown */
	bool seen_any[FEEDREC_TOPICS];
	feedev_id seen[FEEDREC_TOPICS]; /* the highest id the topic holds */
	bool last_any[FEEDREC_TOPICS];
	feedev_id last[FEEDREC_TOPICS]; /* P_LIVE: the highest id held or sent */
	idq sent[FEEDREC_TOPICS];
	uint32_t inflight;
	uint64_t sent_ms; /* mono ms the chunk in flight was queued */
	bool failed;
	bool handed_back; /* revoked by a rebalance, not lost: nobody else had it since */
	/* The oldest message of each topic that failed since the partition
	 * last went live, and whether that is settled (the read-back found it
	 * after all, or counted it as a gap): if not, and the catch-up finds
	 * a later id in the topic, it is a gap. */
	bool fail_any[FEEDREC_TOPICS], fail_told[FEEDREC_TOPICS];
	feedev_id fail_min[FEEDREC_TOPICS];
	uint64_t kept;      /* records below this version are gone */
	uint64_t send_from; /* P_LIVE: no unsent event in a record below this version */
	uint64_t pending;   /* events in records not yet dropped */
	uint64_t oldest_ms; /* wall ms of the oldest record kept, 0 = none */
} fpart;

struct feed {
	feed_opts o;
	feed_clients cl; /* the Kafka clients and which topics are on */
	fpart *parts;
	uint64_t next_trim;
	metric *published[FEEDREC_TOPICS], *errors[FEEDREC_TOPICS];
	metric *gaps, *foreign, *pending, *lag, *publishing;
	log_limit read_errors, epoch_errors, bad_events, renew_errors;
	sbuf json;       /* send_chunk's: the event it sends */
	bool renew;      /* a purge skipped sequence numbers: a new producer before sending */
	pthread_t asker; /* runs the watermark queries, which may wait */
	bool asking;
	_Atomic bool stop;
};

/* The metrics' label of topic t: its role, or a home stream's topic. */
static void topic_label(const feed_opts *o, int t, char *out, size_t n)
{
	snprintf(out, n, "topic=\"%s\"",
	         t == FEEDREC_CHANGES      ? "changes"
	         : t == FEEDREC_MILESTONES ? "milestones"
	                                   : o->topics[t]);
}

/* ---- small helpers ------------------------------------------------------- */

static void idq_push(idq *q, feedev_id id)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		feedev_id *v = xmalloc(cap * sizeof *v);
		for (size_t i = 0; i < q->n; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	q->v[(q->head + q->n) % q->cap] = id;
	q->n++;
}

static const feedev_id *idq_front(const idq *q)
{
	return q->n ? &q->v[q->head] : NULL;
}

static void idq_pop(idq *q)
{
	q->head = (q->head + 1) % q->cap;
	q->n--;
}

static uint64_t publishing_count(const feed *f)
{
	uint64_t n = 0;
	for (uint32_t p = 0; p < f->o.partitions; p++)
		n += f->parts[p].st != P_IDLE;
	return n;
}

/* An entry's id: its record's version and its own index. */
static feedev_id entry_id(uint32_t p, uint64_t version, uint32_t index)
{
	return (feedev_id){version_epoch(version), p, version_offset(version), index};
}

/* ---- reading the topics back --------------------------------------------- */

static void read_back(feed *f, const rd_kafka_message_t *m)
{
	int t = feed_clients_topic_of(&f->cl, m->rkt);
	uint32_t p = (uint32_t)m->partition;
	if (t < 0 || p >= f->o.partitions)
		return;
	fpart *fp = &f->parts[p];
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		fp->read_pos[t] = m->offset;
		return;
	}
	if (m->err) {
		uint64_t skipped;
		if (log_every(&f->read_errors, 10000, &skipped))
			log_warn("feed read-back error",
			         "topic=%s partition=%u err=\"%s\" skipped=%" PRIu64,
			         f->o.topics[t], p, rd_kafka_message_errstr(m), skipped);
		return;
	}
	fp->read_pos[t] = m->offset + 1;
	feedev_id id;
	if (feedev_id_find(m->payload, m->len, &id)) {
		log_warn("feed message without a readable id; skipped",
		         "topic=%s partition=%u offset=%" PRId64, f->o.topics[t], p, m->offset);
		return;
	}
	if (!fp->seen_any[t] || feedev_id_cmp(&id, &fp->seen[t]) > 0) {
		fp->seen[t] = id;
		fp->seen_any[t] = true;
	}
	if (fp->fail_any[t] && !feedev_id_cmp(&id, &fp->fail_min[t]))
		fp->fail_told[t] = true; /* reported failed, and landed */
	/* Our own messages come back in the order sent; anything else is
	 * a gap (one of ours missing) or another publisher's. */
	idq *q = &fp->sent[t];
	const feedev_id *front = idq_front(q);
	if (!front) {
		if (fp->st == P_LIVE) {
			metric_add(f->foreign, 1);
			log_error("feed event this instance did not send, while publishing",
			          "topic=%s partition=%u offset=%" PRId64 " id=%u-%u-%" PRIu64
			          "-%u",
			          f->o.topics[t], p, m->offset, id.epoch, id.partition, id.offset,
			          id.index);
		}
		return;
	}
	if (feedev_id_cmp(&id, front) < 0) {
		metric_add(f->foreign, 1);
		log_error("feed event below what this instance sent next",
		          "topic=%s partition=%u offset=%" PRId64 " id=%u-%u-%" PRIu64 "-%u",
		          f->o.topics[t], p, m->offset, id.epoch, id.partition, id.offset,
		          id.index);
		return;
	}
	while ((front = idq_front(q)) && feedev_id_cmp(front, &id) < 0) {
		metric_add(f->gaps, 1);
		if (fp->fail_any[t] && !feedev_id_cmp(front, &fp->fail_min[t]))
			fp->fail_told[t] = true; /* counted here */
		log_error("feed feedev sent, reported delivered or not, never read back: a gap",
		          "topic=%s partition=%u id=%u-%u-%" PRIu64 "-%u", f->o.topics[t], p,
		          front->epoch, front->partition, front->offset, front->index);
		idq_pop(q);
	}
	if (front && !feedev_id_cmp(front, &id))
		idq_pop(q);
}

static void read_topics(feed *f)
{
	for (int i = 0; i < READ_MAX; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(f->cl.reader, 0);
		if (!m)
			return;
		read_back(f, m);
		rd_kafka_message_destroy(m);
	}
}

/* ---- trimming ------------------------------------------------------------ */

/* Whether every event of the record at version is in the topics (or
 * meant for a topic turned off since it was stored: never to be sent). */
static bool record_published(const feed *f, const fpart *fp, uint32_t p, uint64_t version,
                             const char *v, size_t vn, uint64_t *events)
{
	size_t pos = FEEDREC_HEAD;
	feedrec_ent e;
	bool bad, all = true;
	*events = 0;
	while (feedrec_next(v, vn, &pos, &e, &bad)) {
		(*events)++;
		feedev_id id = entry_id(p, version, e.index);
		if (f->cl.on[e.topic] &&
		    (!fp->seen_any[e.topic] || feedev_id_cmp(&id, &fp->seen[e.topic]) > 0))
			all = false;
	}
	if (bad) {
		log_error("feed record malformed; dropped", "partition=%u version=%" PRIu64, p,
		          version);
		return true;
	}
	return all;
}

static int trim_partition(feed *f, uint32_t p)
{
	fpart *fp = &f->parts[p];
	unsigned char pre[5], from[CKEY_FEED_LEN];
	ckey_feed_prefix(pre, p);
	ckey_feed(from, p, fp->kept);
	store_iter *it = store_iter_from(f->o.db, pre, sizeof pre, from, sizeof from);
	const char *k, *v;
	size_t kn, vn;
	uint64_t upto = 0, dropped = 0;
	bool any = false;
	fp->oldest_ms = 0;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t kp;
		uint64_t version, n;
		if (!ckey_parse_feed(k, kn, &kp, &version))
			continue;
		if (version == CKEY_FEED_END)
			break;
		if (!record_published(f, fp, p, version, v, vn, &n)) {
			fp->oldest_ms = feedrec_wall_ms(v, vn);
			break;
		}
		upto = version;
		any = true;
		dropped += n;
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	if (rc || !any)
		return rc;
	rc = f->o.trim(f->o.trim_ctx, p, fp->kept, upto);
	if (rc)
		return rc;
	fp->kept = upto + 1;
	fp->pending = fp->pending > dropped ? fp->pending - dropped : 0;
	return 0;
}

static int trim_all(feed *f)
{
	uint64_t pending = 0, oldest = 0;
	for (uint32_t p = 0; p < f->o.partitions; p++) {
		fpart *fp = &f->parts[p];
		if (!fp->owned)
			continue;
		if (fp->pending) {
			int rc = trim_partition(f, p);
			if (rc)
				return rc;
		}
		pending += fp->pending;
		if (fp->pending && fp->oldest_ms && (!oldest || fp->oldest_ms < oldest))
			oldest = fp->oldest_ms;
	}
	uint64_t now = clock_wall_ms();
	metric_set(f->pending, (int64_t)pending);
	metric_set(f->lag, oldest && now > oldest ? (int64_t)((now - oldest) / 1000) : 0);
	metric_set(f->publishing, (int64_t)publishing_count(f));
	return 0;
}

/* ---- publishing ---------------------------------------------------------- */

/* Fails every message still queued (not those in a request already),
 * of every partition, and asks for a new producer before anything is
 * sent again (renew_producer: a purge leaves the idempotent producer's
 * numbering behind). */
static void purge_queued(feed *f, const char *why)
{
	rd_kafka_resp_err_t e =
	    rd_kafka_purge(f->cl.prod, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING);
	if (e)
		log_error("feed: queued messages not purged", "why=\"%s\" err=\"%s\"", why,
		          rd_kafka_err2str(e));
	f->renew = true;
}

/* The producer's delivery report of m (feed_clients' hook). */
static void on_delivery(void *ctx, const rd_kafka_message_t *m)
{
	feed *f = ctx;
	int t = feed_clients_topic_of(&f->cl, m->rkt);
	uint32_t p = (uint32_t)m->partition;
	if (t < 0 || p >= f->o.partitions)
		return;
	fpart *fp = &f->parts[p];
	if (fp->inflight)
		fp->inflight--;
	if (!m->err) {
		metric_add(f->published[t], 1);
		return;
	}
	metric_add(f->errors[t], 1);
	/* Only an id still waiting to be read back: one the read-back
	 * already found (it landed after all) or counted is settled. */
	feedev_id id;
	const feedev_id *front = idq_front(&fp->sent[t]);
	if (!feedev_id_find(m->payload, m->len, &id) && front && feedev_id_cmp(&id, front) >= 0 &&
	    (!fp->fail_any[t] || feedev_id_cmp(&id, &fp->fail_min[t]) < 0)) {
		fp->fail_min[t] = id;
		fp->fail_any[t] = true;
		fp->fail_told[t] = false;
	}
	if (!fp->failed && m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE) {
		log_warn("feed publish failed; the partition starts again from the topics' tail",
		         "topic=%s partition=%u err=\"%s\"", f->o.topics[t], p,
		         rd_kafka_err2str(m->err));
		/* What waits behind the failed message must not land after
		 * it: that would be a gap. Nothing queued is sent now (its
		 * partitions start again from the tail too); with one request
		 * in flight per broker, nothing of this partition is in flight
		 * but what failed. */
		purge_queued(f, "a failure");
	}
	fp->failed = true;
}

/* Sends the next chunk of partition p's unsent events. */
static void send_chunk(feed *f, uint32_t p, uint64_t now)
{
	fpart *fp = &f->parts[p];
	unsigned char pre[5], from[CKEY_FEED_LEN];
	ckey_feed_prefix(pre, p);
	ckey_feed(from, p, fp->send_from > fp->kept ? fp->send_from : fp->kept);
	store_iter *it = store_iter_from(f->o.db, pre, sizeof pre, from, sizeof from);
	const char *k, *v;
	size_t kn, vn;
	uint32_t n = 0;
	while (n < CHUNK_MAX && store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t kp;
		uint64_t version;
		if (!ckey_parse_feed(k, kn, &kp, &version))
			continue;
		if (version == CKEY_FEED_END)
			break;
		size_t pos = FEEDREC_HEAD;
		feedrec_ent e;
		bool bad;
		fp->send_from = version;
		while (n < CHUNK_MAX && feedrec_next(v, vn, &pos, &e, &bad)) {
			feedev_id id = entry_id(p, version, e.index);
			if (!f->cl.on[e.topic] ||
			    (fp->last_any[e.topic] && feedev_id_cmp(&id, &fp->last[e.topic]) <= 0))
				continue;
			const char *body = e.val;
			size_t body_n = e.vn;
			if (!feedrec_event_is_json(e.val, e.vn)) {
				feedev ev;
				if (!feedrec_event_get(&e, id, &ev)) {
					/* Passed over for good, and counted. */
					uint64_t skipped;
					metric_add(f->errors[e.topic], 1);
					if (log_every(&f->bad_events, 10000, &skipped))
						log_error("feed event malformed in its record; "
						          "not sent",
						          "topic=%s partition=%u version=%" PRIu64
						          " index=%u skipped=%" PRIu64,
						          f->o.topics[e.topic], p, version, e.index,
						          skipped);
					fp->last[e.topic] = id;
					fp->last_any[e.topic] = true;
					continue;
				}
				f->json.len = 0;
				feedev_encode(&ev, &f->json);
				body = f->json.p;
				body_n = f->json.len;
			}
			rd_kafka_resp_err_t err = rd_kafka_producev(
			    f->cl.prod, RD_KAFKA_V_RKT(f->cl.rkt[e.topic]),
			    RD_KAFKA_V_PARTITION((int32_t)p), RD_KAFKA_V_KEY(e.key, e.kn),
			    RD_KAFKA_V_VALUE((void *)body, body_n),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
			if (err) {
				if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
					metric_add(f->errors[e.topic], 1);
					log_warn(
					    "feed message not queued; the partition starts again",
					    "topic=%s partition=%u err=\"%s\"",
					    f->o.topics[e.topic], p, rd_kafka_err2str(err));
					fp->failed = true;
				}
				n = CHUNK_MAX; /* stop here; the rest goes next turn */
				break;
			}
			fp->last[e.topic] = id;
			fp->last_any[e.topic] = true;
			idq_push(&fp->sent[e.topic], id);
			fp->inflight++;
			n++;
		}
	}
	if (store_iter_status(it))
		log_warn("feed records not read; tried again next turn", "partition=%u", p);
	store_iter_free(it);
	if (n)
		fp->sent_ms = now;
	if (fp->failed)
		fp->st = P_STALLED;
}

/* librdkafka fails a message that waited message.timeout.ms, and may
 * then send a younger one of the same partition before on_delivery's
 * purge: a gap. The feed does not leave it the chance: once a chunk has
 * waited timeout_ms less PURGE_MARGIN_MS (less half of it, when short),
 * every message still queued, of every partition, fails now. Each partition whose messages failed
 * starts again from the topics' tail (P_STALLED); the messages already in a request may land or
 * not, with nothing of theirs queued behind them. */
static void purge_stale(feed *f, uint64_t now)
{
	/* Well before librdkafka's own timeout: the loop may be a turn late. */
	uint64_t margin = (uint64_t)f->o.timeout_ms / 2;
	if (margin > PURGE_MARGIN_MS)
		margin = PURGE_MARGIN_MS;
	uint64_t limit = (uint64_t)f->o.timeout_ms - margin;
	for (uint32_t p = 0; p < f->o.partitions; p++) {
		const fpart *fp = &f->parts[p];
		if (!fp->inflight || fp->failed || now - fp->sent_ms < limit)
			continue;
		log_warn("feed messages unacknowledged for nearly feed.timeout_ms; every queued "
		         "one fails, and their partitions start again from the tail",
		         "partition=%u inflight=%u waited_ms=%" PRIu64, p, fp->inflight,
		         now - fp->sent_ms);
		purge_queued(f, "unacknowledged");
		for (uint32_t q = 0; q < f->o.partitions; q++)
			if (f->parts[q].inflight)
				f->parts[q].failed = true;
		return;
	}
}

/* The asker thread: runs the watermark queries the loop asks for, so
 * the run loop never waits on a broker that does not answer. */
static void *asker(void *arg)
{
	feed *f = arg;
	while (!atomic_load(&f->stop)) {
		bool any = false;
		for (uint32_t p = 0; p < f->o.partitions && !atomic_load(&f->stop); p++) {
			fpart *fp = &f->parts[p];
			if (atomic_load(&fp->ask) != ASK_ASKED)
				continue;
			any = true;
			int answer = ASK_ANSWERED;
			for (int t = 0; t < FEEDREC_TOPICS && answer == ASK_ANSWERED; t++) {
				int64_t lo = -1, hi = 0;
				if (!f->cl.on[t])
					continue;
				rd_kafka_resp_err_t e =
				    bus_watermarks(f->cl.reader, f->o.topics[t], (int32_t)p,
				                   WATERMARK_MS, &lo, &hi);
				if (e) {
					log_warn("feed watermark query failed; will retry",
					         "topic=%s partition=%u err=\"%s\"", f->o.topics[t],
					         p, rd_kafka_err2str(e));
					answer = ASK_FAILED;
				}
				atomic_store(&fp->asked_hw[t], hi);
			}
			atomic_store(&fp->ask, answer);
		}
		if (!any) {
			struct timespec nap = {0, 10 * 1000 * 1000};
			nanosleep(&nap, NULL);
		}
	}
	return NULL;
}

/* P_WAIT, its wait over: where each topic of p ends, asked of the
 * asker; then read that far (P_CATCHUP). */
static void start_catchup(feed *f, uint32_t p, uint64_t now)
{
	fpart *fp = &f->parts[p];
	switch (atomic_load(&fp->ask)) {
	case ASK_NONE: atomic_store(&fp->ask, ASK_ASKED); return;
	case ASK_ASKED: return;
	case ASK_FAILED:
		atomic_store(&fp->ask, ASK_NONE);
		fp->wait_until = now + RETRY_MS;
		return;
	}
	for (int t = 0; t < FEEDREC_TOPICS; t++)
		fp->hw[t] = atomic_load(&fp->asked_hw[t]);
	atomic_store(&fp->ask, ASK_NONE);
	fp->st = P_CATCHUP;
	fp->catchup_until = now + CATCHUP_MAX_MS;
}

/* The topics hold ids of a later input epoch than this instance's
 * store: its events would all compare below what is there and be
 * dropped. It does not publish; the log says why. */
static bool epoch_behind(feed *f, uint32_t p, const fpart *fp)
{
	uint32_t mine = f->o.epoch(f->o.epoch_ctx, p);
	for (int t = 0; t < FEEDREC_TOPICS; t++) {
		if (!f->cl.on[t] || !fp->seen_any[t] || fp->seen[t].epoch <= mine)
			continue;
		uint64_t skipped;
		if (log_every(&f->epoch_errors, 10000, &skipped))
			log_error(
			    "feed topic holds a later input epoch than this store; not "
			    "publishing (rebuild this instance from a current one)",
			    "topic=%s partition=%u topic_epoch=%u store_epoch=%u skipped=%" PRIu64,
			    f->o.topics[t], p, fp->seen[t].epoch, mine, skipped);
		return true;
	}
	return false;
}

/* Some topic has UNREAD_MAX events sent and not read back yet. */
static bool unread_full(const feed *f, const fpart *fp)
{
	for (int t = 0; t < FEEDREC_TOPICS; t++)
		if (f->cl.on[t] && fp->sent[t].n >= UNREAD_MAX)
			return true;
	return false;
}

static bool caught_up(const feed *f, const fpart *fp)
{
	for (int t = 0; t < FEEDREC_TOPICS; t++)
		if (f->cl.on[t] && fp->read_pos[t] < fp->hw[t])
			return false;
	return true;
}

/* Caught up after a failure: a message that failed, never read back,
 * below the topic's highest id, is a gap (a later one landed; the
 * publisher goes on above it). Counted once. */
static void gap_check(feed *f, uint32_t p, fpart *fp, int t)
{
	if (fp->fail_any[t] && !fp->fail_told[t] && fp->seen_any[t] &&
	    feedev_id_cmp(&fp->seen[t], &fp->fail_min[t]) > 0) {
		metric_add(f->gaps, 1);
		log_error("feed message failed and a later one is in the topic: a gap",
		          "topic=%s partition=%u failed=%u-%u-%" PRIu64 "-%u tail=%u-%u-%" PRIu64
		          "-%u",
		          f->o.topics[t], p, fp->fail_min[t].epoch, fp->fail_min[t].partition,
		          fp->fail_min[t].offset, fp->fail_min[t].index, fp->seen[t].epoch,
		          fp->seen[t].partition, fp->seen[t].offset, fp->seen[t].index);
	}
	fp->fail_any[t] = false;
}

static void step_partition(feed *f, uint32_t p, uint64_t now)
{
	fpart *fp = &f->parts[p];
	switch (fp->st) {
	case P_IDLE: return;
	case P_WAIT:
		/* Nothing of this instance's own may land after the catch-up
		 * reads the tail: its last reports first (a partition taken
		 * back while some were out). Then a failure is history. */
		if (now >= fp->wait_until && !fp->inflight) {
			fp->failed = false;
			start_catchup(f, p, now);
		}
		return;
	case P_CATCHUP:
		if (now >= fp->catchup_until) {
			/* The end asked is not reached (the topic recreated,
			 * the reader stuck): ask again. */
			fp->st = P_WAIT;
			fp->wait_until = now;
			return;
		}
		if (!caught_up(f, fp))
			return;
		if (epoch_behind(f, p, fp)) {
			fp->st = P_WAIT;
			fp->wait_until = now + 10 * RETRY_MS;
			return;
		}
		for (int t = 0; t < FEEDREC_TOPICS; t++) {
			fp->last[t] = fp->seen[t];
			fp->last_any[t] = fp->seen_any[t];
			gap_check(f, p, fp, t);
		}
		fp->st = P_LIVE;
		fp->send_from = 0;
		log_info("feed partition published from here",
		         "partition=%u changes_end=%" PRId64 " milestones_end=%" PRId64, p,
		         fp->hw[FEEDREC_CHANGES], fp->hw[FEEDREC_MILESTONES]);
		return;
	case P_LIVE:
		if (fp->failed) {
			/* Nothing more is sent once a message failed: a later
			 * event landing would leave a gap where it was. */
			fp->st = P_STALLED;
			return;
		}
		if (!f->renew && !fp->inflight && fp->pending && !unread_full(f, fp))
			send_chunk(f, p, now);
		return;
	case P_STALLED:
		if (fp->inflight)
			return;
		/* What failed may or may not be in the topics: start again
		 * from what they hold, once no message of ours can land. */
		for (int t = 0; t < FEEDREC_TOPICS; t++)
			fp->sent[t].n = 0;
		fp->failed = false;
		fp->st = P_WAIT;
		fp->wait_until = now + (uint64_t)f->o.timeout_ms + GRACE_EXTRA_MS;
		return;
	}
}

static bool any_inflight(const feed *f)
{
	for (uint32_t p = 0; p < f->o.partitions; p++)
		if (f->parts[p].inflight)
			return true;
	return false;
}

/* After a purge, once every report is in: a new producer. librdkafka
 * 2.0.2 numbers an idempotent producer's messages as it queues them and
 * moves the numbering past purged ones only for a transaction's abort,
 * so the old producer's next request would skip sequence numbers, which
 * a real broker refuses (OUT_OF_ORDER_SEQUENCE_NUMBER, fatal to an
 * idempotent producer). A new one has a producer id of its own. Nothing
 * is sent meanwhile (P_LIVE waits); a producer that cannot be made is
 * tried again next turn. */
static void renew_producer(feed *f)
{
	if (!f->renew || any_inflight(f))
		return;
	feed_producer_stop(&f->cl, 0);
	char err[256];
	if (feed_producer_start(&f->cl, err, sizeof err)) {
		uint64_t skipped;
		if (log_every(&f->renew_errors, 10000, &skipped))
			log_error("feed producer not made again; tried next turn",
			          "err=\"%s\" skipped=%" PRIu64, err, skipped);
		feed_producer_stop(&f->cl, 0);
		return;
	}
	f->renew = false;
	log_info("feed producer made again after a purge", "%s", "");
}

int feed_turn(feed *f, uint64_t now_ms)
{
	if (f->cl.prod) {
		rd_kafka_poll(f->cl.prod, 0);
		purge_stale(f, now_ms);
	}
	renew_producer(f);
	feed_clients_serve(&f->cl);
	read_topics(f);
	if (now_ms >= f->next_trim) {
		int rc = trim_all(f);
		if (rc)
			return rc;
		f->next_trim = now_ms + TRIM_EVERY_MS;
	}
	for (uint32_t p = 0; p < f->o.partitions; p++)
		step_partition(f, p, now_ms);
	return 0;
}

void feed_noted(feed *f, uint32_t p, uint32_t n)
{
	if (f && p < f->o.partitions)
		f->parts[p].pending += n;
}

/* ---- the group: who publishes -------------------------------------------- */

static bool in_change(const feed_group_change *ch, uint32_t p)
{
	for (size_t i = 0; i < ch->n; i++)
		if (ch->parts[i] == p)
			return true;
	return false;
}

/* The group gave or took partitions (feed_clients' hook, before the
 * clients take the change). A revoke that is not a loss (the group
 * rebalanced; this member stayed in it) hands the partition back:
 * should the next assignment give it to this member again, nobody else
 * had it in between, and publishing goes on where it was. */
static void on_group_change(void *ctx, const feed_group_change *ch)
{
	feed *f = ctx;
	uint64_t now = clock_mono_ms();
	for (size_t i = 0; i < ch->n; i++) {
		uint32_t p = ch->parts[i];
		fpart *fp = &f->parts[p];
		if (!fp->owned)
			continue;
		if (ch->take && fp->st == P_IDLE && fp->handed_back) {
			fp->st = fp->failed ? P_STALLED : P_LIVE;
			fp->handed_back = false;
			log_debug("feed partition given back to this instance", "partition=%u", p);
		} else if (ch->take && fp->st == P_IDLE) {
			fp->st = P_WAIT;
			fp->wait_until = now + (uint64_t)f->o.timeout_ms + GRACE_EXTRA_MS;
			log_info("feed partition given to this instance", "partition=%u", p);
		} else if (!ch->take && fp->st != P_IDLE) {
			/* Handed back only by the eager protocol's revoke-all
			 * (a cooperative revoke moves the partition away), and
			 * only from where publishing can go on. */
			fp->handed_back =
			    !ch->coop && !ch->lost && (fp->st == P_LIVE || fp->st == P_STALLED);
			fp->st = P_IDLE;
			if (!fp->handed_back)
				for (int t = 0; t < FEEDREC_TOPICS; t++)
					fp->sent[t].n = 0;
			log_info("feed partition taken from this instance", "partition=%u lost=%s",
			         p, ch->lost ? "true" : "false");
		}
	}
	if (ch->take && !ch->coop)
		/* The eager assignment is the whole of it: a partition handed
		 * back and not given again went to someone else. */
		for (uint32_t p = 0; p < f->o.partitions; p++)
			if (f->parts[p].handed_back && !in_change(ch, p)) {
				f->parts[p].handed_back = false;
				for (int t = 0; t < FEEDREC_TOPICS; t++)
					f->parts[p].sent[t].n = 0;
			}
	metric_set(f->publishing, (int64_t)publishing_count(f));
}

/* ---- start and stop ------------------------------------------------------ */

/* Counts the records stored before this start, per partition. */
static int count_stored(feed *f)
{
	store_iter *it = store_iter_new(f->o.db, ckey_prefix(CKEY_FEED), 1);
	const char *k, *v;
	size_t kn, vn;
	while (store_iter_next(it, &k, &kn, &v, &vn)) {
		uint32_t p;
		uint64_t version;
		if (!ckey_parse_feed(k, kn, &p, &version) || p >= f->o.partitions)
			continue;
		size_t pos = FEEDREC_HEAD;
		feedrec_ent e;
		bool bad;
		while (feedrec_next(v, vn, &pos, &e, &bad))
			f->parts[p].pending++;
	}
	int rc = store_iter_status(it);
	store_iter_free(it);
	return rc;
}

feed *feed_new(const feed_opts *o, char *err, size_t errlen)
{
	feed *f = xcalloc(1, sizeof *f);
	f->o = *o;
	feed_clients_opts co = {.topics = f->o.topics,
	                        .group = f->o.group,
	                        .id = f->o.id,
	                        .partitions = f->o.partitions,
	                        .own = f->o.own,
	                        .timeout_ms = f->o.timeout_ms,
	                        .session_ms = f->o.session_ms,
	                        .props = &f->o.props,
	                        .bootstrap_file = f->o.bootstrap_file,
	                        .delivered = on_delivery,
	                        .changed = on_group_change,
	                        .ctx = f};
	feed_clients_init(&f->cl, &co);
	sbuf_init(&f->json);
	f->parts = xcalloc(o->partitions, sizeof *f->parts);
	for (uint32_t p = 0; p < o->partitions; p++) {
		f->parts[p].owned = shard_owns(o->own, p);
		for (int t = 0; t < FEEDREC_TOPICS; t++)
			f->parts[p].read_pos[t] = -1;
	}
	for (int t = 0; t < FEEDREC_TOPICS; t++) {
		if (t >= FEEDREC_HOMES && !f->cl.on[t])
			continue; /* the two public topics show even when off */
		char label[320];
		topic_label(o, t, label, sizeof label);
		f->published[t] = metrics_counter(o->reg, "feed_published_total",
		                                  "Change feed events this instance published "
		                                  "(delivered), by topic.",
		                                  label);
		f->errors[t] = metrics_counter(o->reg, "feed_publish_errors_total",
		                               "Change feed messages that failed or were not "
		                               "queued, by topic; the partition starts again "
		                               "from the topics' tail.",
		                               label);
	}
	f->gaps = metrics_counter(o->reg, "feed_gaps_total",
	                          "Change feed events this instance sent that never showed in the "
	                          "topic while later ones did.",
	                          NULL);
	f->foreign = metrics_counter(o->reg, "feed_foreign_total",
	                             "Change feed events read back, while this instance "
	                             "published the partition, that it did not send.",
	                             NULL);
	f->pending = metrics_gauge(o->reg, "feed_pending_events",
	                           "Change feed events stored here and not yet read back from "
	                           "the topics (0 = caught up).",
	                           NULL);
	f->lag = metrics_gauge(o->reg, "feed_lag_seconds",
	                       "Age of the oldest change feed event stored here and not yet "
	                       "read back from the topics.",
	                       NULL);
	f->publishing =
	    metrics_gauge(o->reg, "feed_publishing_partitions",
	                  "Partitions this instance publishes the change feed of.", NULL);
	int rc = f->cl.own_topic < 0 ? ERR_CONFIG : count_stored(f);
	if (rc) {
		snprintf(err, errlen, "%s",
		         rc == ERR_CONFIG ? "feed: no topic is on"
		                          : "feed: stored records unreadable");
		feed_free(f);
		return NULL;
	}
	if (feed_clients_start(&f->cl, err, errlen)) {
		feed_free(f);
		return NULL;
	}
	if (pthread_create(&f->asker, NULL, asker, f)) {
		snprintf(err, errlen, "feed: cannot start its thread");
		feed_free(f);
		return NULL;
	}
	f->asking = true;
	return f;
}

void feed_free(feed *f)
{
	if (!f)
		return;
	atomic_store(&f->stop, true);
	if (f->asking)
		pthread_join(f->asker, NULL);
	/* The group hears that this instance leaves only once what it sent
	 * is delivered or failed, so the next publisher reads all of it. */
	feed_clients_free(&f->cl, (int)f->o.timeout_ms);
	for (uint32_t p = 0; f->parts && p < f->o.partitions; p++)
		for (int t = 0; t < FEEDREC_TOPICS; t++)
			free(f->parts[p].sent[t].v);
	free(f->parts);
	sbuf_free(&f->json);
	free(f);
}
