/* check_feed.c - the end of a drill, the change feed's part (check.h):
 * wait until central has published everything, read both topics back
 * from their start, replay them against the truth (sim/drill/feedcheck.h,
 * sim/drill/feedread.h). Runner thread.
 */
#include "sim/drill/check.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "sbuf.h"
#include "sim/drill/feedcheck.h"
#include "sim/drill/feedread.h"

#define FEED_CHANGES "likes.changes"       /* central's topics.changes, which drills keep */
#define FEED_MILESTONES "likes.milestones" /* and topics.milestones */
#define FEED_WAIT_MS 30000                 /* for the last events to be published */
#define FEED_READ_MS 30000                 /* for a topic to be read to its end */
#define METRIC_PENDING "likes_central_feed_pending_events"
#define METRIC_PUBLISHING "likes_central_feed_publishing_partitions"
#define METRICS_TIMEOUT_MS 2000

/* Both gauges of a central: -1 each when absent, -2 without an answer. */
static void gauges_of(const cluster_node *n, double *pending, double *publishing)
{
	hclient_answer a;
	*pending = *publishing = -2;
	if (cluster_node_get(n, "/metrics", NULL, METRICS_TIMEOUT_MS, &a) == 0 && a.status == 200 &&
	    a.body) {
		*pending = check_metric_in(a.body, METRIC_PENDING);
		*publishing = check_metric_in(a.body, METRIC_PUBLISHING);
	}
	free(a.body);
}

/* The centrals whose gauges are read: every one of the drill's, and the
 * single instance of a sharded drill's end checks once made; NULL past
 * them. */
static cluster_node *central_at(cluster *c, unsigned j)
{
	if (j < c->d->centrals)
		return &c->centrals[j];
	return j == c->d->centrals && c->single_made ? &c->single : NULL;
}

/* "central0 0, central1 0" from v (per central; < 0: not running, no
 * gauge or no answer). */
static void gauges_text(cluster *c, const double *v, const bool *alive, sbuf *b)
{
	for (unsigned j = 0; central_at(c, j); j++) {
		sbuf_addf(b, "%s%s ", j ? ", " : "", central_at(c, j)->name);
		if (!alive[j])
			sbuf_adds(b, "not running");
		else if (v[j] == -1)
			sbuf_adds(b, "no gauge");
		else if (v[j] < 0)
			sbuf_adds(b, "no answer");
		else
			sbuf_addf(b, "%.0f", v[j]);
	}
}

/* Waits until every running central's pending gauge reads 0. */
static bool wait_published(cluster *c, unsigned bound_ms, report *r)
{
	double pending[DRILL_CENTRALS_MAX + 1], publishing[DRILL_CENTRALS_MAX + 1];
	bool alive[DRILL_CENTRALS_MAX + 1];
	uint64_t start = clock_mono_ms(), end = start + bound_ms;
	bool done;
	for (;;) {
		done = true;
		unsigned running = 0;
		for (unsigned j = 0; central_at(c, j); j++) {
			alive[j] = cluster_node_alive(central_at(c, j));
			if (!alive[j])
				continue;
			running++;
			gauges_of(central_at(c, j), &pending[j], &publishing[j]);
			done &= pending[j] == 0;
		}
		done &= running > 0;
		if (done || clock_mono_ms() > end)
			break;
		usleep(250 * 1000);
	}
	report_number(r, "feed_wait_s", (double)(clock_mono_ms() - start) / 1000.0);
	sbuf b;
	sbuf_init(&b);
	gauges_text(c, pending, alive, &b);
	report_text(r, "feed_pending", b.p);
	if (!done)
		report_violation(
		    r, "the change feed was not published within %u s (" METRIC_PENDING "): %s",
		    bound_ms / 1000, b.p);
	sbuf_free(&b);
	sbuf_init(&b);
	gauges_text(c, publishing, alive, &b);
	report_text(r, "feed_publishing_partitions", b.p);
	sbuf_free(&b);
	return done;
}

/* One violation per kind of fault the replay found. */
static void violations(const feedcheck_figures *f, report *r)
{
	const struct {
		uint64_t n;
		const char *what;
	} kinds[] = {
	    {f->changes.undecodable, FEED_CHANGES " messages that are not events"},
	    {f->milestones.undecodable, FEED_MILESTONES " messages that are not events"},
	    {f->changes.lost, FEED_CHANGES " messages gone before the replay"},
	    {f->milestones.lost, FEED_MILESTONES " messages gone before the replay"},
	    {f->changes.duplicates, "repeated event ids in " FEED_CHANGES},
	    {f->milestones.duplicates, "repeated event ids in " FEED_MILESTONES},
	    {f->changes.out_of_order, "event ids out of order in " FEED_CHANGES},
	    {f->milestones.out_of_order, "event ids out of order in " FEED_MILESTONES},
	    {f->changes.misplaced, "events of " FEED_CHANGES " in the wrong place"},
	    {f->milestones.misplaced, "events of " FEED_MILESTONES " in the wrong place"},
	    {f->noop, "set events that leave their pair's state unchanged"},
	    {f->count_mismatch, "change events whose count is not the replayed count"},
	    {f->state_mismatch, "counts the replay ends with that are not the truth"},
	    {f->pair_mismatch, "memberships the replay ends with that are not the truth"},
	    {f->ms_missing, "milestones missing"},
	    {f->ms_extra, "milestones extra"},
	    {f->ms_wrong_origin, "milestones not made by the change that reached them"},
	};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (kinds[i].n)
			report_violation(r, "change feed: %" PRIu64 " %s", kinds[i].n,
			                 kinds[i].what);
}

/* Reads one topic into fc; a violation when it cannot. */
static bool read_topic(cluster *c, const char *topic, enum feedcheck_topic t, feedcheck *fc,
                       report *r)
{
	char err[512] = "";
	int parts = 0;
	int rc = feedread_topic(c->kafka.bootstraps, topic, t, fc, FEED_READ_MS, &parts, err,
	                        sizeof err);
	if (rc) {
		report_violation(r, "change feed: %s not read: %s", topic, err);
		return false;
	}
	if ((unsigned)parts != c->d->partitions) {
		report_violation(r, "change feed: %s has %d partitions, the drill %u", topic, parts,
		                 c->d->partitions);
		return false;
	}
	return true;
}

bool check_feed(cluster *c, const load_truth_entry *truth, size_t n,
                const load_member_entry *members, size_t nmembers, report *r)
{
	const drill *d = c->d;
	if (!d->feed) {
		report_feed(r, "off (feed 0)", NULL, NULL, 0);
		return true;
	}
	unsigned bound = FEED_WAIT_MS + (check_faulted_central(d) ? CLUSTER_FEED_SESSION_MS : 0);
	bool published = wait_published(c, bound, r);
	feedcheck *fc = feedcheck_new(d->partitions, d->milestones, d->nmilestones);
	bool read = read_topic(c, FEED_CHANGES, FEEDCHECK_CHANGES, fc, r) &&
	            read_topic(c, FEED_MILESTONES, FEEDCHECK_MILESTONES, fc, r);
	if (!read) {
		report_feed(r, "not checked: a topic could not be read", NULL, NULL, 0);
		feedcheck_free(fc);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		feedcheck_truth_count(fc, truth[i].counter, truth[i].item, truth[i].count);
	for (size_t i = 0; i < nmembers; i++)
		feedcheck_truth_member(fc, LOAD_SET_COUNTER, members[i].item, members[i].user);
	feedcheck_figures f;
	feedcheck_finish(fc, &f);
	const char *const *ex;
	size_t nex = feedcheck_examples(fc, &ex);
	report_feed(r, published ? "checked" : "checked, before central said it was published", &f,
	            ex, nex);
	violations(&f, r);
	log_info("change feed replayed",
	         "changes=%" PRIu64 " milestones=%" PRIu64 " violations=%" PRIu64, f.changes.events,
	         f.milestones.events, feedcheck_violations(&f));
	feedcheck_free(fc);
	return published && feedcheck_violations(&f) == 0;
}
