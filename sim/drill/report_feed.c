/* report_feed.c - the change feed's section of a drill's report: what
 * the replay check found (sim/drill/feedcheck.h), in summary.txt and
 * report.json. Reads the report's record; owns nothing. The report's
 * one owner.
 */
#include "sim/drill/report_svg.h"

#include <inttypes.h>
#include <stdio.h>

static json_t *topic_json(const feedcheck_topic_figures *t)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "events", (json_int_t)t->events, "duplicates",
	                 (json_int_t)t->duplicates, "out_of_order", (json_int_t)t->out_of_order,
	                 "misplaced", (json_int_t)t->misplaced, "undecodable",
	                 (json_int_t)t->undecodable, "lost", (json_int_t)t->lost);
}

json_t *report_feed_json(const report *r)
{
	const report_feed_rec *fr = &r->feed;
	if (!fr->set)
		return NULL;
	json_t *o = json_pack("{s:s}", "state", fr->state);
	if (!o || !fr->checked)
		return o;
	const feedcheck_figures *f = &fr->f;
	json_t *ex = json_array();
	for (size_t i = 0; ex && i < fr->nexamples; i++)
		json_array_append_new(ex, json_string(fr->examples[i]));
	json_t *more = json_pack(
	    "{s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o*}", "changes",
	    topic_json(&f->changes), "milestones", topic_json(&f->milestones), "noop_events",
	    (json_int_t)f->noop, "count_mismatches", (json_int_t)f->count_mismatch,
	    "state_mismatches", (json_int_t)f->state_mismatch, "pair_mismatches",
	    (json_int_t)f->pair_mismatch, "counts", (json_int_t)f->counts, "pairs_in",
	    (json_int_t)f->pairs_in, "milestones_expected", (json_int_t)f->ms_expected,
	    "milestones_seen", (json_int_t)f->ms_seen, "milestones_missing",
	    (json_int_t)f->ms_missing, "milestones_extra", (json_int_t)f->ms_extra,
	    "milestones_wrong_origin", (json_int_t)f->ms_wrong_origin, "violations",
	    (json_int_t)feedcheck_violations(f), "examples", ex);
	json_t *reached = json_object();
	for (size_t i = 0; reached && i < f->nthresholds; i++) {
		char key[24];
		snprintf(key, sizeof key, "%" PRIu64, f->thresholds[i]);
		json_object_set_new(reached, key, json_integer((json_int_t)f->reached[i]));
	}
	if (more && reached)
		json_object_set_new(more, "milestones_reached", reached);
	else
		json_decref(reached);
	if (!more || json_object_update(o, more) != 0) {
		json_decref(more);
		json_decref(o);
		return NULL;
	}
	json_decref(more);
	return o;
}

static void topic_line(FILE *f, const char *what, uint64_t changes, uint64_t milestones)
{
	fprintf(f, "  %-22s %10" PRIu64 " %10" PRIu64 "\n", what, changes, milestones);
}

void report_feed_summary(const report *r, FILE *f)
{
	const report_feed_rec *fr = &r->feed;
	if (!fr->set)
		return;
	fprintf(f,
	        "\nchange feed (likes.changes and likes.milestones replayed against the truth)\n");
	fprintf(f, "  %-22s %s\n", "state", fr->state);
	if (!fr->checked)
		return;
	const feedcheck_figures *x = &fr->f;
	const feedcheck_topic_figures *c = &x->changes, *m = &x->milestones;
	fprintf(f, "  %-22s %10s %10s\n", "", "changes", "milestones");
	topic_line(f, "events", c->events, m->events);
	topic_line(f, "duplicates", c->duplicates, m->duplicates);
	topic_line(f, "out of order", c->out_of_order, m->out_of_order);
	topic_line(f, "misplaced", c->misplaced, m->misplaced);
	topic_line(f, "undecodable", c->undecodable, m->undecodable);
	topic_line(f, "lost before offset 0", c->lost, m->lost);
	fprintf(f, "  %-22s %" PRIu64 "\n", "no-op events", x->noop);
	fprintf(f, "  %-22s %" PRIu64 "\n", "count mismatches", x->count_mismatch);
	fprintf(f,
	        "  %-22s %" PRIu64 " of %" PRIu64 " counts, %" PRIu64 " pairs (%" PRIu64 " in)\n",
	        "state mismatches", x->state_mismatch, x->counts, x->pair_mismatch, x->pairs_in);
	fprintf(f,
	        "  %-22s expected %" PRIu64 ", seen %" PRIu64 ", missing %" PRIu64
	        ", extra %" PRIu64 ", wrong origin %" PRIu64 "\n",
	        "milestones", x->ms_expected, x->ms_seen, x->ms_missing, x->ms_extra,
	        x->ms_wrong_origin);
	fprintf(f, "  %-22s", "reached (counts)");
	for (size_t i = 0; i < x->nthresholds; i++)
		fprintf(f, "%s %" PRIu64 ": %" PRIu64, i ? "," : "", x->thresholds[i],
		        x->reached[i]);
	fprintf(f, "\n");
	for (size_t i = 0; i < fr->nexamples; i++)
		fprintf(f, "  %-22s %s\n", i ? "" : "first faults", fr->examples[i]);
}
