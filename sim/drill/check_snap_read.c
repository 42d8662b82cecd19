/* check_snap_read.c - the end of a drill, the snapshots' and the edges'
 * answers' part as a drill runs it (check.h, check_snapshots): reads
 * likes.snapshots and likes.batches back (feedread.h) into the reference
 * merge (check_snap.c) with the edges' answers asked of it
 * (check_answers.c), and reports. Runner thread.
 */
#include <inttypes.h>
#include <stdio.h>

#include "bus.h"
#include "counter.h"
#include "log.h"
#include "sim/drill/check.h"
#include "sim/drill/feedread.h"
#include "version.h"

#define SNAP_TOPIC "likes.snapshots" /* central's topics.snapshots, which drills keep */
#define BATCH_TOPIC "likes.batches"  /* and topics.batches */
/* Central's [counters] defaults, which drills keep (cluster_cfg.c). */
#define SET_COUNTERS "likes,saves"
#define SUM_COUNTERS "views,shares"
#define READ_MS 60000 /* for a topic to be read to its end */

static void on_wrong(void *ctx, const check_snap_wrong *w)
{
	report_violation(
	    ctx,
	    "snapshot of %.*s, partition %u, version %" PRIu64 " (offset %" PRIu64
	    "): %.*s %.*s counts %" PRIu64 ", the reference merge of " BATCH_TOPIC " %" PRIu64,
	    (int)w->source.n, w->source.p, w->partition, w->version, version_offset(w->version),
	    (int)w->item.n, w->item.p, (int)w->counter.n, w->counter.p, w->seen, w->want);
}

static void snap_message(void *ctx, rd_kafka_message_t *m)
{
	check_snap_snapshot(ctx, (unsigned)m->partition, m->payload, m->len);
}

static void input_message(void *ctx, rd_kafka_message_t *m)
{
	check_snap_input(ctx, (unsigned)m->partition, m->offset, m->payload, m->len,
	                 bus_batch_writer(m));
}

static void input_lost(void *ctx, unsigned partition, int64_t first)
{
	check_snap_log_start(ctx, partition, first);
}

/* Reads topic into sink; a violation when it cannot, or when it does not
 * have the drill's partitions. */
static bool read_topic(cluster *c, const char *topic, const feedread_sink *sink, report *r)
{
	char err[512] = "";
	int parts = 0;
	if (feedread_each(c->kafka.bootstraps, topic, sink, READ_MS, &parts, err, sizeof err)) {
		report_violation(r, "snapshot check: %s not read: %s", topic, err);
		return false;
	}
	if ((unsigned)parts != c->d->partitions) {
		report_violation(r, "snapshot check: %s has %d partitions, the drill %u", topic,
		                 parts, c->d->partitions);
		return false;
	}
	return true;
}

static void report_figures(const check_snap_figures *f, report *r)
{
	report_number(r, "snapshots_checked", (double)f->snapshots_checked);
	report_number(r, "snapshot_counts_checked", (double)f->counts_checked);
	report_number(r, "snapshot_counts_wrong", (double)f->counts_wrong);
	report_number(r, "snapshots_skipped", (double)f->snapshots_skipped);
	char text[512];
	snprintf(text, sizeof text,
	         "%" PRIu64 " of a later input epoch, %" PRIu64 " whose batch partition's log "
	         "no longer starts at 0, %" PRIu64 " past the batch topic as read, %" PRIu64
	         " undecodable, %" PRIu64 " of another partition, %" PRIu64
	         " a home checkpoint's, %" PRIu64 " out of order",
	         f->skip_epoch, f->skip_log_start, f->skip_past_end, f->skip_undecodable,
	         f->skip_partition, f->skip_checkpoint, f->skip_late);
	report_text(r, "snapshots_skipped_why", text);
	snprintf(text, sizeof text,
	         "%" PRIu64 " messages: %" PRIu64 " batches applied, %" PRIu64
	         " duplicate, %" PRIu64 " held, %" PRIu64 " fenced, %" PRIu64 " refused; %" PRIu64
	         " hand-overs, %" PRIu64 " moves; %" PRIu64 " invalid ops, %" PRIu64
	         " ops of another partition",
	         f->messages, f->batches_applied, f->batches_duplicate, f->batches_held,
	         f->batches_fenced, f->refused, f->handovers, f->moves, f->ops_invalid,
	         f->ops_misplaced);
	report_text(r, "snapshot_reference", text);
}

/* The edges' answers' violations: the first ANS_NAMED named, then one
 * for the rest. */
#define ANS_NAMED 10

typedef struct ans_ctx {
	report *r;
	uint64_t n;
} ans_ctx;

static void on_answer_wrong(void *ctx, const check_ans_wrong *w)
{
	ans_ctx *a = ctx;
	if (a->n++ >= ANS_NAMED)
		return;
	report_violation(a->r,
	                 "edge%u answered %s likes %" PRIu64 " at version %" PRIu64
	                 " (offset %" PRIu64 "): the reference merge there gives %" PRIu64
	                 ", its own ops not applied there move it %+" PRId64
	                 " for sure and allow +%" PRIu64 " / -%" PRIu64
	                 " more (instance %u, start %u, read sent at %.3f s, answered in %.1f ms)",
	                 w->region, w->item, w->count, w->version, version_offset(w->version),
	                 w->ref, w->sure, w->likes_pending, w->unlikes_pending, w->inst, w->start,
	                 w->sent_s, w->took_ms);
}

static void report_answers(const check_ans_figures *f, uint64_t dropped, report *r)
{
	report_number(r, "edge_answers_checked", (double)f->checked);
	report_number(r, "edge_answers_exact", (double)f->exact);
	report_number(r, "edge_answers_wrong", (double)f->wrong);
	report_number(r, "edge_answers_skipped", (double)(f->skipped + dropped));
	if (f->wrong > ANS_NAMED)
		report_violation(r, "%" PRIu64 " more edge answers outside their range",
		                 f->wrong - ANS_NAMED);
	if (f->answers && !f->checked)
		report_text(r, "edge_answers_check", "judged nothing: every answer was skipped");
	log_info("edge answers judged against the snapshot they name",
	         "answers=%" PRIu64 " checked=%" PRIu64 " exact=%" PRIu64 " wrong=%" PRIu64
	         " skipped=%" PRIu64 " dropped=%" PRIu64 " ops_merged=%" PRIu64,
	         f->answers, f->checked, f->exact, f->wrong, f->skipped, dropped, f->ops_merged);
}

bool check_snapshots(cluster *c, const load_trace *trace, report *r)
{
	const drill *d = c->d;
	if (!d->snapshot_check) {
		report_text(r, "snapshot_check", "off (snapshot_check 0)");
		return true;
	}
	counters ctr;
	char why[256] = "";
	if (counters_parse(&ctr, SET_COUNTERS, SUM_COUNTERS, why, sizeof why)) {
		report_violation(r, "snapshot check: central's counters: %s", why);
		return false;
	}
	check_snap *cs = check_snap_new(d->partitions, &ctr, on_wrong, r);
	ans_ctx actx = {r, 0};
	check_ans *ca = NULL;
	if (trace && trace->complete)
		ca = check_ans_new(trace, d->partitions, cs, on_answer_wrong, &actx);
	else if (trace)
		report_text(
		    r, "edge_answers_check",
		    "not checked: the load's trace ran out of room (LOAD_TRACE_WRITES writes)");
	feedread_sink snaps = {snap_message, NULL, cs};
	feedread_sink input = {input_message, input_lost, cs};
	/* Snapshots first: each names an offset central had read, so the
	 * batch topic read after holds it. */
	bool read = read_topic(c, SNAP_TOPIC, &snaps, r) && read_topic(c, BATCH_TOPIC, &input, r);
	check_snap_figures f;
	check_snap_finish(cs, &f);
	check_ans_figures af = {0};
	if (ca) {
		check_ans_finish(ca, &af);
		check_ans_free(ca);
		if (read)
			report_answers(&af, trace->counts_dropped, r);
	}
	check_snap_free(cs);
	counters_free(&ctr);
	report_text(r, "snapshot_check",
	            read ? "checked" : "not checked: a topic could not be read");
	report_figures(&f, r);
	bool ok = read && f.counts_wrong == 0 && af.wrong == 0;
	if (read && f.snapshots_checked + f.snapshots_skipped == 0) {
		report_violation(r, "snapshot check: " SNAP_TOPIC " holds no snapshot");
		ok = false;
	} else if (read && f.snapshots_checked == 0) {
		/* Every one skipped (the embedded cluster cut every partition's
		 * log in a long run): say so beside the pass. */
		report_text(r, "snapshot_check", "judged nothing: every snapshot was skipped");
		log_warn("snapshot check judged no snapshot: every one was skipped",
		         "skipped=%" PRIu64, f.snapshots_skipped);
	}
	if (f.ops_misplaced) {
		report_violation(r,
		                 "snapshot check: %" PRIu64 " ops in " BATCH_TOPIC
		                 " partitions their item does not hash to",
		                 f.ops_misplaced);
		ok = false;
	}
	log_info("snapshots judged against the reference merge",
	         "checked=%" PRIu64 " counts=%" PRIu64 " wrong=%" PRIu64 " skipped=%" PRIu64,
	         f.snapshots_checked, f.counts_checked, f.counts_wrong, f.snapshots_skipped);
	return ok;
}
