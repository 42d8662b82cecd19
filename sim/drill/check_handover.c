/* check_handover.c - the end of a drill, the fence's part (check.h):
 * likes.batches read back from its start, the batches that an edge's
 * taken-over instance got into it after the hand-over counted, and each
 * central's count of the batches it voided compared with them; and
 * every takeover's hand-over held to a writer time after the fence its
 * predecessors set. Runner thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "central/apply/apply.h"
#include "clock.h"
#include "hclient.h"
#include "log.h"
#include "sim/drill/check.h"
#include "sim/drill/feedread.h"
#include "smap.h"
#include "wire.h"

#define BATCH_TOPIC "likes.batches" /* central's topics.batches, which drills keep */
#define METRIC_FENCED "likes_central_batches_fenced_total"
#define READ_MS 30000
#define METRICS_TIMEOUT_MS 2000
#define CATCH_UP_MS 15000 /* for the centrals to read the batch topic to its end */

/* The batch topic as central reads it: each (partition, edge)'s fence,
 * the latest writer time named there, and the late batches per shard;
 * the highest epoch handed over there, and the hand-overs of a newer
 * epoch whose writer time was not after the fence (behind). */
typedef struct scan {
	const drill *d;
	smap fence; /* partition u32, edge -> writer ms */
	smap epoch; /* partition u32, edge -> the highest epoch handed over */
	uint64_t handovers, late, behind;
	uint64_t late_of[DRILL_CENTRALS_MAX]; /* per shard */
} scan;

/* m's value for (p, edge), 0 until set. */
static uint64_t *slot_of(smap *m, uint32_t p, wire_str edge)
{
	char key[4 + WIRE_MAX_STR];
	memcpy(key, &p, 4);
	memcpy(key + 4, edge.p, edge.n);
	bool created;
	smap_val *v = smap_put(m, key, 4 + edge.n, &created);
	if (created)
		v->u = 0;
	return &v->u;
}

static void scan_message(void *ctx, rd_kafka_message_t *m)
{
	scan *s = ctx;
	uint32_t p = (uint32_t)m->partition;
	char t = wire_message_type(m->payload, m->len);
	if (t == 'h') {
		wire_handover h;
		if (wire_decode_handover(m->payload, m->len, &h) || h.partition != p)
			return;
		s->handovers++;
		uint64_t *f = slot_of(&s->fence, p, h.edge);
		uint64_t *e = slot_of(&s->epoch, p, h.edge);
		if (h.epoch > *e && h.created_ms <= *f) {
			/* A later takeover, yet not a later writer: central voids
			 * every batch it sends here. */
			s->behind++;
			log_error("a takeover's writer time is not after its predecessors'",
			          "edge=%.*s partition=%u epoch=%" PRIu64 " writer_ms=%" PRIu64
			          " fence_ms=%" PRIu64,
			          (int)h.edge.n, h.edge.p, p, h.epoch, h.created_ms, *f);
		}
		if (h.epoch > *e)
			*e = h.epoch;
		if (h.created_ms > *f)
			*f = h.created_ms;
		return;
	}
	wire_batch b;
	if (t != 'b' || wire_decode_batch(m->payload, m->len, &b))
		return;
	/* Central quarantines a bad header before its fence is asked. */
	uint64_t writer = bus_batch_writer(m);
	uint64_t *f = applier_batch_fault(&b, p) ? NULL : slot_of(&s->fence, p, b.edge);
	if (f && writer && writer < *f) {
		s->late++;
		s->late_of[drill_shard_of_partition(s->d, p)]++;
		log_info("a batch of a taken-over instance, after its edge's hand-over",
		         "edge=%.*s partition=%u seq=%" PRIu64 " offset=%" PRId64
		         " writer_ms=%" PRIu64 " fence_ms=%" PRIu64,
		         (int)b.edge.n, b.edge.p, p, b.seq, m->offset, writer, *f);
	} else if (f && writer > *f) {
		*f = writer;
	}
	wire_batch_free(&b);
}

/* A central's likes_central_batches_fenced_total; -1 without one. */
static double fenced_at(const cluster_node *n)
{
	hclient_answer a;
	double v = -1;
	if (cluster_node_get(n, "/metrics", NULL, METRICS_TIMEOUT_MS, &a) == 0 && a.status == 200 &&
	    a.body)
		v = check_metric_in(a.body, METRIC_FENCED);
	free(a.body);
	return v;
}

bool check_handovers(cluster *c, report *r)
{
	const drill *d = c->d;
	if (!d->changelog)
		return true;
	scan s = {.d = d};
	smap_init(&s.fence);
	smap_init(&s.epoch);
	feedread_sink sink = {scan_message, NULL, &s};
	char err[512];
	int parts = 0;
	int rc = feedread_each(c->kafka.bootstraps, BATCH_TOPIC, &sink, READ_MS, &parts, err,
	                       sizeof err);
	smap_free(&s.fence);
	smap_free(&s.epoch);
	if (rc) {
		report_violation(r, "fence: %s not read: %s", BATCH_TOPIC, err);
		return false;
	}
	report_number(r, "handovers_in_log", (double)s.handovers);
	report_number(r, "handovers_behind", (double)s.behind);
	report_number(r, "late_batches", (double)s.late);
	bool ok = true;
	if (s.behind) {
		report_violation(r,
		                 "fence: %" PRIu64 " hand-overs of a later takeover named a writer "
		                 "time not after the one before them: central voids the new "
		                 "writer's batches (an earlier time) or fences neither writer "
		                 "(the same)",
		                 s.behind);
		ok = false;
	}
	if (check_faulted_central(d)) {
		report_text(r, "late_batches_applied",
		            "not checked: a step faulted a central or a broker");
		return ok;
	}
	/* Every central of a shard reads all of its partitions, so each must
	 * have voided exactly that shard's late batches: fewer is a late batch
	 * applied, more a batch of the current writer voided. A voided batch
	 * changes no count, so the convergence before did not wait for it:
	 * the centrals get CATCH_UP_MS to read the last ones. */
	double fenced[DRILL_CENTRALS_MAX];
	uint64_t deadline = clock_mono_ms() + CATCH_UP_MS;
	for (;;) {
		bool caught_up = true;
		for (unsigned j = 0; j < d->centrals; j++) {
			fenced[j] = fenced_at(&c->centrals[j]);
			if (fenced[j] < 0) {
				report_violation(r, "fence: %s gave no " METRIC_FENCED,
				                 c->centrals[j].name);
				return false;
			}
			caught_up &= fenced[j] >= (double)s.late_of[drill_shard_of_central(d, j)];
		}
		if (caught_up || clock_mono_ms() >= deadline)
			break;
		struct timespec nap = {0, 200 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
	double applied = 0;
	for (unsigned j = 0; j < d->centrals; j++) {
		double want = (double)s.late_of[drill_shard_of_central(d, j)];
		if (fenced[j] < want) {
			applied += want - fenced[j];
			report_violation(r,
			                 "%s applied %.0f of the %.0f batches that taken-over "
			                 "instances sent after their hand-over in its partitions",
			                 c->centrals[j].name, want - fenced[j], want);
			ok = false;
		} else if (fenced[j] > want) {
			report_violation(
			    r,
			    "%s voided %.0f batches more than the %.0f that taken-over "
			    "instances sent after their hand-over in its partitions",
			    c->centrals[j].name, fenced[j] - want, want);
			ok = false;
		}
	}
	report_number(r, "late_batches_applied", applied);
	return ok;
}
