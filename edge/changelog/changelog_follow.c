/* changelog_follow.c - the log replayed into a store: the restore before
 * the ledger opens, the follower that tails the log while another
 * instance is active, and the takeover that makes this one active
 * (changelog.h).
 *
 * Replay is one rule, the applier's: the store holds the offset of the
 * next record (L) and the highest epoch taken over so far (E); a data
 * record of a lower epoch than E is void, a takeover of a higher one
 * raises E if it landed at the place it names (one that names none
 * counts anywhere; one past its place is void); any takeover naming a
 * later writer time than V raises V;
 * and every applied record is one store write with the position after
 * it (a beat, or a void record, moves the position in memory only, and
 * the next write carries it).
 *
 * Owns: the follower's thread and its consumer; the applier lives on
 * the stack of whoever replays.
 */
#include "edge/changelog/changelog_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "clock.h"
#include "log.h"

#define REACH_EVERY_MS 250 /* the follower asks for the log's end this often */
#define REACH_LOST_MS 1000 /* no answer for this long: the cluster is out of reach */
#define REACH_TIMEOUT_MS 500
#define MIN_ISR_EVERY_MS 5000   /* min.insync.replicas asked again this often until known */
#define MIN_ISR_KEEP_MS 60000   /* and this often once known (an operator may change it) */
#define MIN_ISR_TIMEOUT_MS 3000 /* and waited for this long, without blocking */
#define RESEED_TRIES 3          /* copies loaded at most, if the log's start passes one */
#define POSITION_EVERY_MS 1000  /* a follower stores a position moved by beats this often */

/* One replay's state. */
typedef struct applier {
	const changelog_opts *o;
	store *db;
	const changelog_sink *sink;
	store_batch *wb;
	int64_t next;    /* the offset of the next record to apply */
	int64_t stored;  /* the position the store holds (next may be past it: beats) */
	uint64_t epoch;  /* the highest epoch taken over so far */
	uint64_t writer; /* the latest writer time a takeover named (V) */
	int64_t gap;     /* records the log lost before this store read them */
	/* The store holds records for the log (durability = local): it is
	 * ahead of the log for their keys, so a record of its own epoch is a
	 * late copy of one of them and is not applied over it. */
	bool held;
	int64_t own_at; /* this instance's own takeover record, while taking over; else -1 */
	uint64_t records, voided;
	/* The last takeover applied: its offset, or -1. */
	int64_t taken_at;
	/* This instance's last takeover that landed past its place, or -1:
	 * the log reaches past it, whatever this reader was told, so the log
	 * is not silent before the replay has read through it. */
	int64_t void_at;
	char other[65]; /* the key of another edge's record, when one stopped it */
} applier;

static int store_apply(void *ctx, store_batch *wb)
{
	return store_write(ctx, wb);
}

static int read_u64_key(store *db, enum ekey_tag k, int64_t *out)
{
	uint64_t v = 0;
	int rc = changelog_read_u64(db, k, &v);
	if (rc == 0)
		*out = (int64_t)v;
	return rc;
}

static int applier_init(applier *a, const changelog_opts *o, store *db, const changelog_sink *sink)
{
	memset(a, 0, sizeof *a);
	a->o = o;
	a->db = db;
	a->sink = sink;
	a->taken_at = -1;
	a->void_at = -1;
	a->own_at = -1;
	int64_t e = 0;
	int rc = read_u64_key(db, EKEY_LOG_POSITION, &a->next);
	if (rc == 0)
		rc = read_u64_key(db, EKEY_LOG_EPOCH, &e);
	if (rc == 0)
		rc = read_u64_key(db, EKEY_LOG_GAP, &a->gap);
	if (rc == 0)
		rc = changelog_read_u64(db, EKEY_LOG_WRITER, &a->writer);
	if (rc == 0) {
		const char *k, *v;
		size_t kn, vn;
		store_iter *it = store_iter_new(db, ekey_prefix(EKEY_LOG_HELD), 1);
		a->held = store_iter_next(it, &k, &kn, &v, &vn);
		rc = store_iter_status(it);
		store_iter_free(it);
	}
	a->epoch = (uint64_t)e;
	a->stored = a->next;
	if (rc == 0)
		a->wb = store_batch_new();
	return rc;
}

static void applier_free(applier *a)
{
	store_batch_free(a->wb);
	a->wb = NULL;
}

/* changelog_read's callback: one record replayed. */
static int apply_record(void *ctx, const rd_kafka_message_t *m)
{
	applier *a = ctx;
	size_t idn = strlen(a->o->edge_id);
	if (m->key_len != idn || memcmp(m->key, a->o->edge_id, idn) != 0) {
		size_t n = m->key_len < sizeof a->other ? m->key_len : sizeof a->other - 1;
		memcpy(a->other, m->key, n);
		a->other[n] = 0;
		a->next = m->offset;
		return ERR_CONFLICT;
	}
	store_batch_clear(a->wb);
	changelog_head h;
	int rc = changelog_decode(m->payload, m->len, &h, a->wb);
	if (rc)
		return rc;
	bool write = false, was_void = false;
	if (changelog_takeover_counts(&h, m->offset) && h.epoch > a->epoch) {
		a->epoch = h.epoch;
		a->taken_at = m->offset;
		store_batch_clear(a->wb);
		changelog_put_u64(a->wb, EKEY_LOG_EPOCH, h.epoch);
		if (a->held && m->offset != a->own_at) {
			/* Another instance took over while this store held writes:
			 * they are void in the log, and the store is ahead of it
			 * for their keys. It never takes over (a gap). */
			log_error("changelog taken over while this store held writes for it: "
			          "they are void in the log, and this store may not take over "
			          "(rebuild it)",
			          "offset=%" PRId64 " epoch=%" PRIu64, m->offset, h.epoch);
			a->held = false;
			a->gap++;
			changelog_put_u64(a->wb, EKEY_LOG_GAP, (uint64_t)a->gap);
		}
		write = true;
		log_info("changelog taken over",
		         "topic=%s partition=%d offset=%" PRId64 " epoch=%" PRIu64 " by=%.*s",
		         a->o->topic, (int)a->o->partition, m->offset, h.epoch,
		         (int)(h.instance_len < 128 ? h.instance_len : 128), h.instance);
	} else if (h.kind == CHANGELOG_DATA && h.epoch >= a->epoch &&
	           !(a->held && h.epoch == a->epoch)) {
		write = true;
	} else if (h.kind != CHANGELOG_BEAT) {
		/* An epoch taken over from, a takeover that came late, or one
		 * that landed past its place. */
		a->voided++;
		was_void = true;
	}
	/* Any takeover's writer time, even a void one's: a larger one only
	 * puts the next takeover's later, which is always safe. */
	if (h.kind == CHANGELOG_TAKEOVER && h.writer_ms > a->writer) {
		a->writer = h.writer_ms;
		changelog_put_u64(a->wb, EKEY_LOG_WRITER, h.writer_ms);
		write = true;
	}
	if (write) {
		changelog_put_u64(a->wb, EKEY_LOG_POSITION, (uint64_t)(m->offset + 1));
		rc = a->sink ? a->sink->apply(a->sink->ctx, a->wb) : store_apply(a->db, a->wb);
		if (rc)
			return rc;
		a->stored = m->offset + 1;
		if (!was_void) /* written for its writer time alone */
			a->records++;
	}
	a->next = m->offset + 1;
	return 0;
}

/* The reason a record stopped a replay, in err. */
static void replay_error(const applier *a, int rc, char *err, size_t errlen)
{
	if (rc == ERR_CONFLICT)
		snprintf(err, errlen,
		         "changelog: the record at %" PRId64 " of %s[%d] is another edge's (key "
		         "%s), not %s's: is changelog.partition its own?",
		         a->next, a->o->topic, (int)a->o->partition, a->other, a->o->edge_id);
	else
		snprintf(err, errlen, "changelog: record at %" PRId64 ": %s", a->next, err_str(rc));
}

/* The log's ends. */
static int watermarks(rd_kafka_t *rk, const changelog_opts *o, int timeout_ms, int64_t *lo,
                      int64_t *hi, char *err, size_t errlen)
{
	rd_kafka_resp_err_t e = bus_watermarks(rk, o->topic, o->partition, timeout_ms, lo, hi);
	if (!e)
		return 0;
	snprintf(err, errlen, "changelog: %s[%d]: the log's ends: %s", o->topic, (int)o->partition,
	         rd_kafka_err2str(e));
	return ERR_KAFKA;
}

/* The log starts at lo, after the store's position: the records before
 * are gone (retention, the embedded cluster's truncation) and this store
 * never had them. Counted in the store (the gap, which keeps it from
 * ever taking over), and replay goes on from lo. */
static int skip_gone(applier *a, int64_t lo, int64_t *missing, char *err, size_t errlen)
{
	*missing += lo - a->next;
	log_error("changelog starts after this store's position: records are gone, and this "
	          "store may not take over",
	          "topic=%s partition=%d position=%" PRId64 " log_start=%" PRId64, a->o->topic,
	          (int)a->o->partition, a->next, lo);
	a->gap += lo - a->next;
	store_batch_clear(a->wb);
	changelog_put_u64(a->wb, EKEY_LOG_GAP, (uint64_t)a->gap);
	changelog_put_u64(a->wb, EKEY_LOG_POSITION, (uint64_t)lo);
	int rc = store_write(a->db, a->wb);
	if (rc) {
		snprintf(err, errlen, "changelog: recording the gap: %s", err_str(rc));
		return rc;
	}
	a->next = a->stored = lo;
	return 0;
}

/* Replays [a->next, until) with rk; a log that starts after a->next
 * counts the gone records in *missing (skip_gone). */
static int replay(applier *a, rd_kafka_t *rk, int64_t lo, int64_t until, int64_t *missing,
                  char *err, size_t errlen)
{
	if (a->next < lo) {
		int rc = skip_gone(a, lo, missing, err, errlen);
		if (rc)
			return rc;
	}
	char why[256] = "";
	int rc = changelog_read(rk, a->o, a->next, until, apply_record, a, why, sizeof why);
	if (rc == ERR_KAFKA || rc == ERR_TIMEOUT)
		snprintf(err, errlen, "%s", why);
	else if (rc)
		replay_error(a, rc, err, errlen);
	return rc;
}

/* The log ends before the store's position: it lost records this store
 * holds (a topic recreated, a cluster rebuilt empty, an unclean leader
 * election). The store keeps what it holds, but its position and epoch
 * start again with the log, whose records from here on count. */
static int log_behind(applier *a, int64_t hi, changelog_restored *out, char *err, size_t errlen)
{
	log_error("changelog ends before this store's position: the log lost records; "
	          "following it from its end",
	          "topic=%s partition=%d position=%" PRId64 " log_end=%" PRId64 " epoch=%" PRIu64,
	          a->o->topic, (int)a->o->partition, a->next, hi, a->epoch);
	out->behind = a->next - hi;
	store_batch_clear(a->wb);
	changelog_put_u64(a->wb, EKEY_LOG_POSITION, (uint64_t)hi);
	changelog_put_u64(a->wb, EKEY_LOG_EPOCH, 0);
	int rc = store_write(a->db, a->wb);
	if (rc) {
		snprintf(err, errlen, "changelog: resetting the store's position: %s", err_str(rc));
		return rc;
	}
	a->next = a->stored = hi;
	a->epoch = 0;
	return 0;
}

/* The store cannot be brought to the log's end from the log alone, and
 * a peer's copy may replace it: it holds no writes the log lacks (those
 * exist on this disk only; such a store stays as it is, unfit). */
static bool reseed_due(const applier *a, int64_t log_start)
{
	if (!a->o->reseed || (!a->gap && a->next >= log_start))
		return false;
	if (a->held) {
		log_error("changelog: this store is unfit but holds writes the log lacks; it is "
		          "not replaced by a peer's copy",
		          "gap=%" PRId64 " position=%" PRId64, a->gap, a->next);
		return false;
	}
	return true;
}

/* A peer's copy in place of the store, and the applier reading it again
 * (out->seeded). 0 whether or not a peer gave one (without, the store
 * follows on, unfit); an error only when the copy's position cannot be
 * read back. */
static int reseed(applier *a, int64_t log_start, changelog_restored *out, char *err, size_t errlen)
{
	char why[512] = "";
	log_info("changelog: this store lies before the log's start or is unfit; copying a peer's",
	         "position=%" PRId64 " log_start=%" PRId64 " gap=%" PRId64, a->next, log_start,
	         a->gap);
	int rc = a->o->reseed(a->o->reseed_ctx, a->db, log_start, why, sizeof why);
	if (rc) {
		log_error("changelog: no peer's copy; this store follows on, unfit to take over",
		          "err=\"%s\"", why);
		return 0;
	}
	const changelog_opts *o = a->o;
	store *db = a->db;
	applier_free(a);
	rc = applier_init(a, o, db, NULL);
	if (rc) {
		snprintf(err, errlen, "changelog: the copied store's position is unreadable: %s",
		         err_str(rc));
		return rc;
	}
	out->seeded = true;
	return 0;
}

int changelog_restore(const changelog_opts *o, store *db, changelog_restored *out, char *err,
                      size_t errlen)
{
	memset(out, 0, sizeof *out);
	applier a;
	int rc = applier_init(&a, o, db, NULL);
	if (rc) {
		snprintf(err, errlen, "changelog: the store's position is unreadable: %s",
		         err_str(rc));
		return rc;
	}
	rd_kafka_t *rk = changelog_consumer(o, err, errlen);
	if (!rk) {
		applier_free(&a);
		return ERR_KAFKA;
	}
	int64_t lo = 0, hi = 0;
	rc = watermarks(rk, o, o->timeout_ms, &lo, &hi, err, errlen);
	/* The log's start may pass a copy while it loads: a few tries. */
	for (int tries = 0; rc == 0 && tries < RESEED_TRIES && reseed_due(&a, lo); tries++) {
		bool seeded = out->seeded;
		out->seeded = false;
		rc = reseed(&a, lo, out, err, errlen);
		if (rc == 0 && !out->seeded) {
			out->seeded = seeded;
			break; /* no peer gave one */
		}
		/* The copy's position: the log's ends again from there. */
		if (rc == 0)
			rc = watermarks(rk, o, o->timeout_ms, &lo, &hi, err, errlen);
	}
	int64_t start = a.next;
	if (rc == 0 && a.next > hi)
		rc = log_behind(&a, hi, out, err, errlen);
	if (rc == 0)
		rc = replay(&a, rk, lo, hi, &out->missing, err, errlen);
	out->from = start + out->missing;
	out->to = a.next;
	out->records = a.records;
	out->voided = a.voided;
	applier_free(&a);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

/* --- taking over ------------------------------------------------------------ */

/* The applier's gap, for changelog_gap and its gauge. */
static void gap_seen(changelog *cl, const applier *a)
{
	atomic_store(&cl->gap, (uint64_t)a->gap);
	if (cl->g_gap)
		metric_set(cl->g_gap, a->gap);
}

/* Takes over with rk as the replay's reader: the takeover record, then
 * the log through it. if_silent (the follower, which read the log to its
 * end and found it silent): a record found on catching up (an active
 * that took over meanwhile, or a beat) means the log is not silent after
 * all, and there is no takeover (ERR_AGAIN). */
static int take(changelog *cl, rd_kafka_t *rk, applier *a, bool if_silent, char *err, size_t errlen)
{
	uint64_t t0 = clock_mono_ms();
	int64_t lo = 0, hi = 0, missing = 0, from = a->next;
	/* Catch up first: the takeover's epoch must top every one before it. */
	int rc = watermarks(rk, &cl->o, cl->o.timeout_ms, &lo, &hi, err, errlen);
	if (rc == 0)
		rc = replay(a, rk, lo, hi, &missing, err, errlen);
	gap_seen(cl, a);
	if (rc)
		return rc;
	if (if_silent && a->next > from) {
		snprintf(err, errlen, "changelog: %" PRId64 " records came: the log is not silent",
		         a->next - from);
		return ERR_AGAIN;
	}
	if (a->gap) {
		snprintf(err, errlen,
		         "changelog: this store lacks %" PRId64 " records the log lost; it may not "
		         "take over (rebuild it)",
		         a->gap);
		return ERR_CORRUPT;
	}
	uint64_t epoch = a->epoch + 1;
	/* The writer time central orders this edge's writers by: this
	 * machine's clock, unless a writer before it named a later time (a
	 * clock ahead of this one): then just after that. */
	uint64_t writer = clock_wall_ms();
	if (writer <= a->writer)
		writer = a->writer + 1;
	/* A follower's takeover counts only right after the last record it
	 * read: should records it was not shown lie between (the broker it
	 * reads from was deposed, cut from the others, and answers with the
	 * log as it was when it led), the log was not silent, and every
	 * reader, the active too, takes the takeover as void. */
	int64_t expect = if_silent ? a->next : -1;
	sbuf rec;
	sbuf_init(&rec);
	changelog_encode_takeover(epoch, cl->instance, writer, expect, &rec);
	int64_t at = -1;
	rc = changelog_produce_wait(cl, &rec, &at);
	sbuf_free(&rec);
	if (rc) {
		snprintf(err, errlen, "changelog: the takeover record was not acknowledged: %s",
		         err_str(rc));
		return rc;
	}
	if (expect >= 0 && at != expect) {
		/* Landed past its place (or before it: the log was cut back). */
		a->void_at = at;
		if (cl->takeovers_void)
			metric_add(cl->takeovers_void, 1);
		snprintf(err, errlen,
		         "changelog: the takeover landed at %" PRId64 ", not at %" PRId64
		         " after the last record read: the log was not silent (it is void)",
		         at, expect);
		return ERR_AGAIN;
	}
	/* What the former active got in before the takeover counts; what
	 * came after is void. Another takeover first: this one lost. */
	a->own_at = at;
	rc = replay(a, rk, lo, at + 1, &missing, err, errlen);
	a->own_at = -1;
	if (rc)
		return rc;
	if (a->taken_at != at || a->epoch != epoch) {
		snprintf(err, errlen,
		         "changelog: another instance took over first (epoch %" PRIu64 ")",
		         a->epoch);
		return ERR_FENCED;
	}
	/* Writes held here before a restart go to the log before any new. */
	rc = changelog_held_load(cl, a->db);
	if (rc) {
		snprintf(err, errlen, "changelog: reading the held records: %s", err_str(rc));
		return rc;
	}
	changelog_set_active(cl, epoch, writer, at);
	if (cl->takeovers)
		metric_add(cl->takeovers, 1);
	log_info("changelog: this instance is active",
	         "topic=%s partition=%d epoch=%" PRIu64 " writer_ms=%" PRIu64 " offset=%" PRId64
	         " instance=%s ms=%" PRIu64,
	         cl->topic, (int)cl->o.partition, epoch, writer, at, cl->instance,
	         clock_mono_ms() - t0);
	return 0;
}

static void count_replay(changelog *cl, applier *a, uint64_t *records, uint64_t *voided)
{
	if (cl->replayed) {
		metric_add(cl->replayed, a->records - *records);
		metric_add(cl->voided, a->voided - *voided);
	}
	*records = a->records;
	*voided = a->voided;
}

int changelog_take(changelog *cl, store *db, const changelog_sink *sink, char *err, size_t errlen)
{
	applier a;
	int rc = applier_init(&a, &cl->o, db, sink);
	if (rc) {
		snprintf(err, errlen, "changelog: the store's position is unreadable: %s",
		         err_str(rc));
		return rc;
	}
	rd_kafka_t *rk = changelog_consumer(&cl->o, err, errlen);
	if (!rk) {
		applier_free(&a);
		return ERR_KAFKA;
	}
	rc = take(cl, rk, &a, false, err, errlen);
	uint64_t r = 0, v = 0;
	count_replay(cl, &a, &r, &v);
	applier_free(&a);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

/* --- following -------------------------------------------------------------- */

/* The follower's view of the log between polls. */
typedef struct follow_state {
	uint64_t seen_ms;  /* the last record read, or when the log came in reach */
	uint64_t reach_ms; /* the last answer about the log's end */
	uint64_t asked_ms;
	int64_t lo, hi;
	log_limit read_errors;
	bool said_unfit;
	uint64_t kept_ms; /* the last keep_position write */
	/* The topic's min.insync.replicas (0: not known; the embedded
	 * cluster never says, and has every replica in sync), the queue its
	 * answer comes on, when it was last asked, whether an answer is
	 * awaited, and whether the partition was short of it when last
	 * looked at. */
	int64_t min_isr;
	rd_kafka_queue_t *cfgq;
	uint64_t min_isr_asked_ms;
	bool asking;
	bool said_no_min_isr;
	bool short_isr;
} follow_state;

/* Asks for min.insync.replicas, never waiting: until the cluster says,
 * then now and then, as an operator may change it. */
static void follow_min_isr(changelog *cl, rd_kafka_t *rk, follow_state *s, uint64_t now)
{
	if (!s->cfgq && !(s->cfgq = rd_kafka_queue_new(rk)))
		return;
	if (s->asking) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(s->cfgq, 0);
		if (!ev)
			return;
		int64_t v = 0;
		if (bus_config_int(ev, "min.insync.replicas", &v) == 0 && v > 0)
			s->min_isr = v;
		else if (s->min_isr <= 0 && !s->said_no_min_isr) {
			/* The embedded cluster, or one that refuses
			 * DescribeConfigs (an ACL): silence is judged as before. */
			log_info(
			    "changelog follower: the cluster did not say its min.insync.replicas; "
			    "a silent log is not checked against its ISR (asked again)",
			    "err=\"%s\"", rd_kafka_event_error_string(ev));
			s->said_no_min_isr = true;
		}
		rd_kafka_event_destroy(ev);
		s->asking = false;
		return;
	}
	if (now - s->min_isr_asked_ms < (s->min_isr > 0 ? MIN_ISR_KEEP_MS : MIN_ISR_EVERY_MS))
		return;
	s->min_isr_asked_ms = now;
	s->asking = bus_config_ask(rk, cl->o.topic, MIN_ISR_TIMEOUT_MS, s->cfgq) == 0;
}

/* Whether the log's silence is the cluster's: the partition has fewer
 * replicas in sync than its min.insync.replicas, so the cluster refuses
 * every append (NOT_ENOUGH_REPLICAS), the active's as well as a
 * takeover's, and the silence says nothing about the active. Once
 * enough are back in sync, the appends both instances retried land in
 * whatever order they reach the leader: a takeover there could land at
 * the place it names and fence an active that only waited for the
 * cluster. True while short, and once more when the ISR is whole again
 * (the silence counts from then); a metadata answer that did not come
 * keeps the last one seen. */
static bool follow_isr_short(changelog *cl, rd_kafka_t *rk, follow_state *s)
{
	int isr, replicas;
	if (s->min_isr <= 0)
		return false;
	if (bus_partition_isr(rk, cl->o.topic, cl->o.partition, REACH_TIMEOUT_MS, &isr, &replicas))
		return s->short_isr;
	bool short_isr = isr < s->min_isr, was = s->short_isr;
	if (short_isr && !was)
		log_warn("changelog follower: the log takes no writes (too few replicas in sync); "
		         "no takeover until it does",
		         "in_sync=%d replicas=%d min_insync=%" PRId64, isr, replicas, s->min_isr);
	else if (!short_isr && was)
		log_info("changelog follower: the log takes writes again", "in_sync=%d replicas=%d",
		         isr, replicas);
	s->short_isr = short_isr;
	return short_isr || was;
}

/* Asks for the log's end now and then; the cluster come back in reach
 * counts as a record (the active's beats may not be read yet). */
static void follow_reach(changelog *cl, rd_kafka_t *rk, follow_state *s, uint64_t now)
{
	if (now - s->asked_ms < REACH_EVERY_MS)
		return;
	s->asked_ms = now;
	int64_t lo, hi;
	char err[256];
	if (watermarks(rk, &cl->o, REACH_TIMEOUT_MS, &lo, &hi, err, sizeof err))
		return;
	uint64_t after = clock_mono_ms();
	if (after - s->reach_ms > REACH_LOST_MS)
		s->seen_ms = after;
	s->reach_ms = after;
	s->lo = lo;
	s->hi = hi;
	follow_min_isr(cl, rk, s, after);
	/* Silent past two beats (or short when last looked at): whose
	 * silence is it? A log that takes no writes counts as a record now,
	 * and so does the ISR found whole again, looked at every
	 * REACH_EVERY_MS while short: a takeover waits takeover_ms after the
	 * cluster takes writes again, time the active's retried appends and
	 * beats land in. (after, not the clock now: follow_silent measures
	 * from reach_ms, and a seen_ms past it would read as a silence of
	 * 2^64 ms.) */
	if ((s->short_isr || after - s->seen_ms >= 2 * (uint64_t)cl->o.beat_ms) &&
	    follow_isr_short(cl, rk, s))
		s->seen_ms = after;
}

/* The log has been silent for takeover_ms, with the cluster in reach and
 * every record up to its end applied, and this store lacks none (it says
 * so once when it would otherwise take over). */
static bool follow_silent(const changelog *cl, follow_state *s, const applier *a, uint64_t now)
{
	if (now < s->reach_ms)
		now = s->reach_ms; /* read after now was */
	/* Past its own void takeover, or the log cut back below it (an
	 * unclean election took it away): no record it must still read. */
	bool read_void = a->next > a->void_at || s->hi <= a->void_at;
	bool silent = now - s->reach_ms < REACH_LOST_MS && a->next >= s->hi && read_void &&
	              now - s->seen_ms >= (uint64_t)cl->o.takeover_ms;
	if (silent && a->gap) {
		if (!s->said_unfit)
			log_error("changelog silent, but this store lacks records the log lost: it "
			          "does not take over (rebuild it: docs/ops.md)",
			          "gap=%" PRId64, a->gap);
		s->said_unfit = true;
		return false;
	}
	return silent;
}

static int follow_assign(rd_kafka_t *rk, const changelog_opts *o, int64_t from)
{
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, o->topic, o->partition)->offset = from;
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, tp);
	rd_kafka_topic_partition_list_destroy(tp);
	if (e)
		log_error("changelog follower: assign failed", "err=\"%s\"", rd_kafka_err2str(e));
	return e ? ERR_KAFKA : 0;
}

/* One polled message into the store; false when the follower must stop
 * (a record it cannot apply). */
static bool follow_message(applier *a, rd_kafka_message_t *m, follow_state *s)
{
	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
		return true;
	uint64_t skipped;
	if (m->err) {
		if (log_every(&s->read_errors, 1000, &skipped))
			log_warn("changelog follower: read failed",
			         "at=%" PRId64 " err=\"%s\" similar_since_last=%" PRIu64, a->next,
			         rd_kafka_message_errstr(m), skipped);
		return true;
	}
	if (m->offset < a->next)
		return true;
	s->seen_ms = clock_mono_ms();
	if (s->short_isr) {
		log_info("changelog follower: the log takes writes again", "at=%" PRId64,
		         m->offset);
		s->short_isr = false;
	}
	int rc = apply_record(a, m);
	if (rc == 0)
		return true;
	char err[256];
	replay_error(a, rc, err, sizeof err);
	log_error("changelog follower stopped: a record it cannot apply", "err=\"%s\"", err);
	return false;
}

/* The position read past records that wrote nothing (the active's beats,
 * void records) into the store, at most once a second: a standby of an
 * idle active would otherwise keep the position of the last data record
 * for as long as the region is idle, and once the log lost that record
 * (retention passes it; the embedded cluster's cap counts beats too) it
 * would count every beat since as records it lacks, unfit to take over
 * or to give a peer its copy (seed.h). */
static void keep_position(applier *a, follow_state *s, uint64_t now)
{
	if (a->next <= a->stored || now - s->kept_ms < POSITION_EVERY_MS)
		return;
	s->kept_ms = now;
	store_batch_clear(a->wb);
	changelog_put_u64(a->wb, EKEY_LOG_POSITION, (uint64_t)a->next);
	int rc = a->sink ? a->sink->apply(a->sink->ctx, a->wb) : store_apply(a->db, a->wb);
	if (rc == 0)
		a->stored = a->next; /* else the next record's write, or the next try */
}

/* Takes over and promotes; true when this instance is active now. */
static bool follow_take(changelog *cl, rd_kafka_t *rk, applier *a, follow_state *s)
{
	char err[256];
	uint64_t silent_since = s->seen_ms;
	int rc = take(cl, rk, a, true, err, sizeof err);
	if (rc) {
		/* Records came, another took over, or the cluster: wait again. */
		if (rc == ERR_AGAIN)
			log_info("changelog follower: no takeover", "why=\"%s\"", err);
		else
			log_warn("changelog follower: no takeover", "err=\"%s\"", err);
		s->seen_ms = clock_mono_ms();
		return false;
	}
	rc = cl->sink.promote(cl->sink.ctx);
	if (rc) {
		/* Active but unable to write: it would keep the log alive with
		 * its beats and let no standby take over. It steps down as a
		 * fenced instance does (the edge exits, and restarts). */
		log_error("changelog: took over, but the writer did not get ready; stepping down",
		          "err=\"%s\"", err_str(rc));
		changelog_step_down(cl);
		return true;
	}
	uint64_t ms = clock_mono_ms() - silent_since;
	atomic_store(&cl->takeover_last_ms, ms);
	log_info("changelog: took over", "since_last_record_ms=%" PRIu64, ms);
	return true;
}

/* Once active, until changelog_free: the held records appended when the
 * log takes them again (durability = local). */
static void keep(changelog *cl)
{
	struct timespec tick = {0, 10 * 1000 * 1000};
	while (!atomic_load(&cl->follow_stop) && changelog_active(cl)) {
		if (changelog_degraded(cl) && changelog_drain(cl)) {
			/* It logged why (a log still out of reach, or fenced):
			 * the next turn tries again, or the edge exits fenced. */
		}
		for (int i = 0; i < 10 && !atomic_load(&cl->follow_stop); i++)
			nanosleep(&tick, NULL);
	}
}

static void *follow_loop(void *arg)
{
	changelog *cl = arg;
	char err[256];
	applier a;
	if (applier_init(&a, &cl->o, cl->db, &cl->sink)) {
		log_error("changelog follower: the store's position is unreadable", "%s", "");
		return NULL;
	}
	rd_kafka_t *rk = changelog_consumer(&cl->o, err, sizeof err);
	if (!rk) {
		log_error("changelog follower: no consumer", "err=\"%s\"", err);
		applier_free(&a);
		return NULL;
	}
	uint64_t now = clock_mono_ms(), records = 0, voided = 0;
	follow_state s = {.seen_ms = now, .hi = INT64_MAX};
	gap_seen(cl, &a);
	bool assigned = follow_assign(rk, &cl->o, a.next) == 0, ok = true;
	while (ok && !atomic_load(&cl->follow_stop)) {
		if (!assigned)
			assigned = follow_assign(rk, &cl->o, a.next) == 0;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, CHANGELOG_POLL_MS);
		if (m) {
			ok = follow_message(&a, m, &s);
			rd_kafka_message_destroy(m);
		}
		count_replay(cl, &a, &records, &voided);
		now = clock_mono_ms();
		if (ok)
			keep_position(&a, &s, now);
		follow_reach(cl, rk, &s, now);
		if (ok && s.lo > a.next) {
			/* Records went (retention, truncation) before this
			 * follower read them: it follows on, unfit to take over. */
			int64_t gone = 0;
			ok = skip_gone(&a, s.lo, &gone, err, sizeof err) == 0;
			gap_seen(cl, &a);
			assigned = false;
			if (cl->o.reseed && !a.held)
				atomic_store(&cl->needs_copy, true);
		}
		if (ok && follow_silent(cl, &s, &a, now)) {
			(void)rd_kafka_assign(rk, NULL);
			if (follow_take(cl, rk, &a, &s))
				break;
			assigned = false;
		}
	}
	count_replay(cl, &a, &records, &voided);
	if (s.cfgq)
		rd_kafka_queue_destroy(s.cfgq);
	if (!ok) {
		atomic_store(&cl->follow_failed, true);
		if (cl->g_stopped)
			metric_set(cl->g_stopped, 1);
	}
	applier_free(&a);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	keep(cl);
	return NULL;
}

int changelog_follow(changelog *cl, store *db, const changelog_sink *sink)
{
	cl->db = db;
	cl->sink = *sink;
	if (pthread_create(&cl->follower, NULL, follow_loop, cl))
		return ERR_IO;
	cl->following = true;
	return 0;
}
