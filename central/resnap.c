/* resnap.c - the counts undelivered snapshots carried, marked again at
 * start (resnap.h). Run loop, before the assignment.
 */
#include "central/resnap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "clock.h"
#include "log.h"
#include "version.h"
#include "wire.h"

/* How far back from its end the snapshot topic is read for the last
 * complete snapshot (a big one is split in parts, and two instances of
 * a shard may interleave theirs). */
#define TAIL_MESSAGES 64

/* Between two asks of a partition that did not answer, and how long
 * one ask for its offsets waits when it may ask again: a partition with
 * a leader answers in milliseconds. */
#define RETRY_MS 500
#define ASK_MS 3000

/* Reads (topic, p) from `from` up to (not including) `to`, calling fn on
 * each message; stops early when fn returns false. 0, ERR_TIMEOUT when a
 * message did not come within ms, or ERR_KAFKA. */
typedef bool (*range_fn)(void *ctx, const rd_kafka_message_t *m);

static int read_range(rd_kafka_t *rk, const char *topic, int32_t p, int64_t from, int64_t to,
                      unsigned ms, range_fn fn, void *ctx)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, p)->offset = from;
	rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	if (e)
		return ERR_KAFKA;
	int rc = 0;
	int64_t next = from;
	uint64_t deadline = clock_mono_ms() + ms;
	while (next < to) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m) {
			if (clock_mono_ms() > deadline) {
				rc = ERR_TIMEOUT;
				break;
			}
			continue;
		}
		if (m->err) {
			bool eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
			rd_kafka_message_destroy(m);
			if (eof)
				break;
			rc = ERR_KAFKA;
			break;
		}
		next = m->offset + 1;
		deadline = clock_mono_ms() + ms;
		bool more = m->offset < to ? fn(ctx, m) : false;
		rd_kafka_message_destroy(m);
		if (!more)
			break;
	}
	(void)rd_kafka_assign(rk, NULL);
	return rc;
}

typedef struct tail {
	uint32_t epoch; /* the partition's input epoch now */
	bool found;
	uint64_t version; /* the highest of a complete snapshot of that epoch */
	bool older;       /* snapshots of an earlier epoch were read */
} tail;

/* The highest version of a complete snapshot of the current epoch: an
 * instance that has not seen an input reset yet (or a zombie) may write
 * after one that has, and its older-epoch version says nothing of the
 * new epoch. */
static bool on_snapshot(void *ctx, const rd_kafka_message_t *m)
{
	tail *t = ctx;
	wire_snapshot s;
	if (wire_decode_snapshot(m->payload, m->len, &s) == 0) {
		if (s.last && version_epoch(s.offset) == t->epoch) {
			if (!t->found || s.offset > t->version)
				t->version = s.offset;
			t->found = true;
		} else if (s.last && version_epoch(s.offset) < t->epoch) {
			t->older = true;
		}
		wire_snapshot_free(&s);
	}
	return true;
}

typedef struct marking {
	applier *ap;
	uint64_t batches, counts;
	int rc;
} marking;

/* One (counter, item) of a batch marked; a store failure stops it all. */
static void mark(marking *mk, const wire_str *counter, const wire_str *item)
{
	int rc = applier_mark_changed(mk->ap, counter->p, counter->n, item->p, item->n);
	if (rc == ERR_IO)
		mk->rc = rc;
	mk->counts += rc == 0;
}

static bool on_batch(void *ctx, const rd_kafka_message_t *m)
{
	marking *mk = ctx;
	wire_batch b;
	if (!m->payload || wire_decode_batch(m->payload, m->len, &b) != 0)
		return true; /* not a batch (a hand-over, a move), or refused at apply */
	mk->batches++;
	for (uint32_t i = 0; i < b.nops && !mk->rc; i++)
		mark(mk, &b.ops[i].counter, &b.ops[i].item);
	for (uint32_t i = 0; i < b.nsums && !mk->rc; i++)
		mark(mk, &b.sums[i].counter, &b.sums[i].item);
	wire_batch_free(&b);
	return mk->rc == 0;
}

/* The last complete snapshot of partition p into *t. A partition
 * without a leader (its node restarting, an election under way) answers
 * "timed out" or "not leader" for a second or two: asked again until
 * `end` (0: once). */
static void last_snapshot(const resnap_opts *o, rd_kafka_t *rk, uint32_t p, uint64_t end, tail *t,
                          rd_kafka_resp_err_t *e, int *rc)
{
	for (unsigned tries = 1;; tries++) {
		int64_t lo, hi;
		*t = (tail){.epoch = t->epoch};
		*rc = 0;
		*e = bus_watermarks(rk, o->snapshot_topic, (int32_t)p,
		                    (int)(end && o->timeout_ms > ASK_MS ? ASK_MS : o->timeout_ms),
		                    &lo, &hi);
		if (!*e && hi > lo) {
			int64_t from = hi - TAIL_MESSAGES > lo ? hi - TAIL_MESSAGES : lo;
			*rc = read_range(rk, o->snapshot_topic, (int32_t)p, from, hi, o->timeout_ms,
			                 on_snapshot, t);
		}
		if ((!*e && !*rc) || !end || clock_mono_ms() + RETRY_MS > end)
			return;
		log_info("resnap: the snapshot topic did not answer; asking again",
		         "partition=%u try=%u err=\"%s\"", p, tries,
		         *e ? rd_kafka_err2str(*e) : err_str(*rc));
		/* A fresh view of the leaders: librdkafka asks the leader it
		 * has cached, and after an election that one says "not
		 * leader" until the metadata is refreshed. */
		(void)bus_partition_count(rk, o->snapshot_topic, ASK_MS);
		struct timespec pause = {.tv_nsec = RETRY_MS * 1000000L};
		while (nanosleep(&pause, &pause) == -1 && errno == EINTR)
			;
	}
}

/* One owned partition. */
static int one(const resnap_opts *o, rd_kafka_t *rk, uint32_t p, uint64_t end, resnap_result *r)
{
	int64_t applied;
	if (applier_resume_offset(o->ap, p, &applied) != 0)
		return 0; /* nothing applied yet: nothing to publish */
	uint32_t epoch = applier_epoch(o->ap, p);
	tail t = {.epoch = epoch};
	rd_kafka_resp_err_t e;
	int rc;
	last_snapshot(o, rk, p, end, &t, &e, &rc);
	if (e || rc || !t.found || version_epoch(t.version) != epoch) {
		r->unknown++;
		log_warn("resnap: no complete snapshot of this partition to resume from; its "
		         "counts go out as they change",
		         "partition=%u err=\"%s\" found=%d epoch=%u snapshot_epoch=%u", p,
		         e    ? rd_kafka_err2str(e)
		         : rc ? err_str(rc)
		              : "",
		         t.found, epoch, t.found ? version_epoch(t.version) : 0);
		return 0;
	}
	int64_t from = (int64_t)version_offset(t.version);
	if (from >= applied)
		return 0; /* every applied batch's counts were delivered */
	int64_t ilo, ihi;
	e = bus_watermarks(rk, o->batch_topic, (int32_t)p, (int)o->timeout_ms, &ilo, &ihi);
	if (!e && ilo > from) {
		r->cut_short++;
		log_error("resnap: the input lost batches whose counts no delivered snapshot "
		          "carried; edges may show those items without their own ops until they "
		          "change again (central verify and the edges' replica reload mend it)",
		          "partition=%u from=%" PRId64 " input_start=%" PRId64, p, from, ilo);
		from = ilo;
	}
	marking mk = {.ap = o->ap};
	rc = e ? ERR_KAFKA
	       : read_range(rk, o->batch_topic, (int32_t)p, from, applied, o->timeout_ms, on_batch,
	                    &mk);
	if (mk.rc)
		return mk.rc;
	r->partitions++;
	r->batches += mk.batches;
	r->counts += mk.counts;
	if (rc) {
		r->cut_short++;
		log_error("resnap: the input could not be read again whole",
		          "partition=%u from=%" PRId64 " to=%" PRId64 " err=\"%s\"", p, from,
		          applied, e ? rd_kafka_err2str(e) : err_str(rc));
	} else {
		log_info(
		    "resnap: counts of batches no delivered snapshot showed go in the next one",
		    "partition=%u from=%" PRId64 " to=%" PRId64 " batches=%" PRIu64
		    " counts=%" PRIu64,
		    p, from, applied, mk.batches, mk.counts);
	}
	return 0;
}

int resnap_run(const resnap_opts *o, resnap_result *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	uint64_t t0 = clock_mono_ms();
	rd_kafka_conf_t *conf = o->conf;
	char e[256];
	/* The end of a partition is a message here, not a wait. */
	if (rd_kafka_conf_set(conf, "enable.partition.eof", "true", e, sizeof e)) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "resnap: %s", e);
		return ERR_KAFKA;
	}
	rd_kafka_t *rk = bus_client_new(BUS_CONSUMER, conf, err, errlen);
	if (!rk)
		return ERR_KAFKA;
	int rc = 0;
	uint64_t end = t0 + o->deadline_ms;
	for (uint32_t p = 0; p < o->partitions && !rc; p++) {
		if (!shard_owns(o->own, p))
			continue;
		if (o->deadline_ms && clock_mono_ms() > end) {
			/* Before READY: a service manager's start timeout must not
			 * see central starting forever behind a slow cluster. */
			r->unknown++;
			log_warn(
			    "resnap: out of time; this partition's counts go out as they change",
			    "partition=%u deadline_ms=%u", p, o->deadline_ms);
			continue;
		}
		rc = one(o, rk, p, o->deadline_ms ? end : 0, r);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	r->ms = clock_mono_ms() - t0;
	if (rc)
		snprintf(err, errlen, "resnap: the store failed: %s", err_str(rc));
	return rc;
}
