/* check_handover.c - the end of a drill, the fence's part (check.h):
 * likes.batches read back from its start, the batches that an edge's
 * taken-over instance got into it after the hand-over counted, and each
 * central's count of the batches it voided compared with them. Runner
 * thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "clock.h"
#include "hclient.h"
#include "item.h"
#include "log.h"
#include "sim/drill/check.h"
#include "sim/drill/feedread.h"
#include "smap.h"
#include "wire.h"
#include "xmem.h"

#define BATCH_TOPIC "likes.batches" /* central's topics.batches, which drills keep */
#define METRIC_FENCED "likes_central_batches_fenced_total"
#define READ_MS 30000
#define METRICS_TIMEOUT_MS 2000
#define CATCH_UP_MS 15000 /* for the centrals to read the batch topic to its end */

/* An edge's fence in a partition, as central keeps it: the epoch, and
 * the created_ms of the hand-over that set it (0: a batch did). */
typedef struct fence {
	uint64_t epoch, ms;
} fence;

/* The batch topic as central reads it: each (partition, edge)'s fence. */
typedef struct scan {
	smap fence; /* partition u32, edge -> fence* */
	uint64_t handovers, batches, late;
} scan;

static fence *fence_of(scan *s, uint32_t p, wire_str edge)
{
	char key[4 + WIRE_MAX_STR];
	memcpy(key, &p, 4);
	memcpy(key + 4, edge.p, edge.n);
	bool created;
	smap_val *v = smap_put(&s->fence, key, 4 + edge.n, &created);
	if (created)
		v->p = xcalloc(1, sizeof(fence));
	return v->p;
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
		fence *f = fence_of(s, p, h.edge);
		if (h.epoch > f->epoch || h.created_ms > f->ms)
			*f = (fence){h.epoch, h.created_ms};
		return;
	}
	wire_batch b;
	if (t != 'b' || wire_decode_batch(m->payload, m->len, &b))
		return;
	/* What central quarantines before its fence is asked (header_fault). */
	bool bad = b.partition != p || !item_edge_valid(b.edge.p, b.edge.n) ||
	           !item_edge_valid(b.region.p, b.region.n) || b.seq == 0;
	uint64_t epoch = bus_batch_epoch(m);
	fence *f = bad ? NULL : fence_of(s, p, b.edge);
	s->batches += !bad;
	if (f && epoch && epoch < f->epoch) {
		s->late++;
		log_info("a batch of a taken-over instance, after its edge's hand-over",
		         "edge=%.*s partition=%u seq=%" PRIu64 " offset=%" PRId64 " epoch=%" PRIu64
		         " fence=%" PRIu64,
		         (int)b.edge.n, b.edge.p, p, b.seq, m->offset, epoch, f->epoch);
	} else if (f && epoch > f->epoch) {
		*f = (fence){epoch, 0};
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
	scan s = {.handovers = 0};
	smap_init(&s.fence);
	feedread_sink sink = {scan_message, NULL, &s};
	char err[512];
	int parts = 0;
	int rc = feedread_each(c->kafka.bootstraps, BATCH_TOPIC, &sink, READ_MS, &parts, err,
	                       sizeof err);
	smap_free_values(&s.fence);
	smap_free(&s.fence);
	if (rc) {
		report_violation(r, "fence: %s not read: %s", BATCH_TOPIC, err);
		return false;
	}
	report_number(r, "handovers_in_log", (double)s.handovers);
	report_number(r, "late_batches", (double)s.late);
	if (check_faulted_central(d)) {
		report_text(r, "late_batches_applied",
		            "not checked: a central was restarted or cut");
		return true;
	}
	/* Each partition is one shard's; every central of the shard reads
	 * all of it, so the shard's lowest count is what it surely voided.
	 * A voided batch changes no count, so the convergence before did not
	 * wait for it: the centrals get CATCH_UP_MS to read the last ones. */
	unsigned shards = d->shards ? d->shards : 1;
	double voided = 0;
	uint64_t deadline = clock_mono_ms() + CATCH_UP_MS;
	for (;;) {
		voided = 0;
		for (unsigned sh = 0; sh < shards; sh++) {
			double low = -1;
			for (unsigned j = sh; j < d->centrals; j += shards) {
				double v = fenced_at(&c->centrals[j]);
				if (v < 0) {
					report_violation(r, "fence: %s gave no " METRIC_FENCED,
					                 c->centrals[j].name);
					return false;
				}
				if (low < 0 || v < low)
					low = v;
			}
			voided += low < 0 ? 0 : low;
		}
		if (voided >= (double)s.late || clock_mono_ms() >= deadline)
			break;
		struct timespec nap = {0, 200 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
	double applied = (double)s.late > voided ? (double)s.late - voided : 0;
	report_number(r, "late_batches_applied", applied);
	if (applied > 0)
		report_violation(r,
		                 "central applied %.0f of the %" PRIu64
		                 " batches that taken-over instances sent after their hand-over",
		                 applied, s.late);
	return applied == 0;
}
