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

#include "bus.h"
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

/* The batch topic as central reads it: each (partition, edge)'s fence. */
typedef struct scan {
	smap fence; /* partition u32, edge -> the highest epoch named there */
	uint64_t handovers, batches, late;
} scan;

static smap_val *fence_of(scan *s, uint32_t p, wire_str edge)
{
	char key[4 + WIRE_MAX_STR];
	memcpy(key, &p, 4);
	memcpy(key + 4, edge.p, edge.n);
	bool created;
	smap_val *v = smap_put(&s->fence, key, 4 + edge.n, &created);
	if (created)
		v->u = 0;
	return v;
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
		smap_val *f = fence_of(s, p, h.edge);
		if (h.epoch > f->u)
			f->u = h.epoch;
		return;
	}
	wire_batch b;
	if (t != 'b' || wire_decode_batch(m->payload, m->len, &b))
		return;
	s->batches++;
	uint64_t epoch = bus_batch_epoch(m);
	smap_val *f = fence_of(s, p, b.edge);
	if (epoch && epoch < f->u) {
		s->late++;
		log_info("a batch of a taken-over instance, after its edge's hand-over",
		         "edge=%.*s partition=%u seq=%" PRIu64 " offset=%" PRId64 " epoch=%" PRIu64
		         " fence=%" PRIu64,
		         (int)b.edge.n, b.edge.p, p, b.seq, m->offset, epoch, f->u);
	} else if (epoch > f->u) {
		f->u = epoch;
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
	 * all of it, so the shard's lowest count is what it surely voided. */
	unsigned shards = d->shards ? d->shards : 1;
	double voided = 0;
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
	double applied = (double)s.late > voided ? (double)s.late - voided : 0;
	report_number(r, "late_batches_applied", applied);
	if (applied > 0)
		report_violation(r,
		                 "central applied %.0f of the %" PRIu64
		                 " batches that taken-over instances sent after their hand-over",
		                 applied, s.late);
	return applied == 0;
}
