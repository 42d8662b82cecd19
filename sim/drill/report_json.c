/* report_json.c - a drill run's report.json (report.h), built with
 * jansson so every string is escaped: the record report.c keeps, the
 * processes' readings and verdicts, and the change feed's section
 * (report_feed.c). Reads the record; owns nothing. The report's one
 * owner.
 */
#include "sim/drill/report.h"
#include "sim/drill/report_svg.h"

#include <math.h>
#include <stdbool.h>

#include <jansson.h>

#include "log.h"

/* ---- report.json ---- */

/* A JSON number, or null for NaN and infinities (JSON has neither). */
static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* Sets key in obj, remembering any failure in *ok. */
static void jset(json_t *obj, const char *key, json_t *v, bool *ok)
{
	if (!v || json_object_set_new(obj, key, v) != 0)
		*ok = false;
}

static void jpush(json_t *arr, json_t *v, bool *ok)
{
	if (!v || json_array_append_new(arr, v) != 0)
		*ok = false;
}

/* A count as a JSON integer (capped at INT64_MAX). */
static json_t *jcount(uint64_t n)
{
	return json_integer((json_int_t)(n > INT64_MAX ? INT64_MAX : n));
}

/* A bucket bound: null when unknown (< 0) or past the last bound. */
static json_t *jbound(double v)
{
	return v < 0 || isinf(v) ? json_null() : jnum(v);
}

/* The writes and count reads of a row and their quantiles (null, not 0,
 * where there were none), as the ready and the interval rows have them. */
static void jlatency(json_t *o, uint64_t writes, double w50, double w99, double w999,
                     uint64_t reads, double r50, double r99, bool *ok)
{
	jset(o, "writes", jcount(writes), ok);
	jset(o, "write_p50_ms", writes ? jnum(w50) : json_null(), ok);
	jset(o, "write_p99_ms", writes ? jnum(w99) : json_null(), ok);
	jset(o, "write_p999_ms", writes ? jnum(w999) : json_null(), ok);
	jset(o, "reads", jcount(reads), ok);
	jset(o, "read_p50_ms", reads ? jnum(r50) : json_null(), ok);
	jset(o, "read_p99_ms", reads ? jnum(r99) : json_null(), ok);
}

/* The sampled daemons: the rules, then per daemon its figures (MB,
 * descriptors without the store's own files), its bound and verdict. */
static json_t *procs_json(const report *r, bool *ok)
{
	json_t *o = json_object(), *nodes = json_array();
	if (!o || !nodes) {
		json_decref(nodes);
		*ok = false;
		return o;
	}
	jset(o, "warmup_s", jnum(r->proc_warmup_s), ok);
	jset(o, "every_s", jnum(r->proc_every_s), ok);
	jset(o, "samples", json_integer((json_int_t)r->nprocs), ok);
	for (unsigned i = 0; i < r->nproc_nodes; i++) {
		const report_proc_node *n = &r->proc_nodes[i];
		json_t *j = json_object();
		if (j) {
			const soak_verdict *v = &n->v;
			jset(j, "node", json_string(n->name), ok);
			jset(j, "judged", json_boolean(n->judged && v->judged), ok);
			if (n->instrument) { /* sim's own or its Kafka's levels */
				jset(j, "instrument", json_true(), ok);
				jset(j, "rss_start_mb", jnum(v->rss_start), ok);
				jset(j, "rss_end_mb", jnum(v->rss_end), ok);
				jset(j, "anon_start_mb", jnum(v->anon_start), ok);
				jset(j, "anon_settled_mb", jnum(v->anon_settled), ok);
				jset(j, "anon_end_mb", jnum(v->anon_end), ok);
				jset(j, "anon_trend_mb", jnum(v->anon_trend), ok);
			}
			if (n->judged) {
				char text[1024];
				soak_bound_text(&n->bound, text, sizeof text);
				jset(j, "pass", json_boolean(!v->why[0]), ok);
				jset(j, "why", json_string(v->why), ok);
				jset(j, "samples", json_integer((json_int_t)v->n), ok);
				jset(j, "samples_after_warmup", json_integer((json_int_t)v->npost),
				     ok);
				jset(j, "rss_start_mb", jnum(v->rss_start), ok);
				jset(j, "rss_end_mb", jnum(v->rss_end), ok);
				jset(j, "rss_peak_mb", jnum(v->rss_peak), ok);
				jset(j, "anon_start_mb", jnum(v->anon_start), ok);
				jset(j, "anon_settled_mb", jnum(v->anon_settled), ok);
				jset(j, "anon_end_mb", jnum(v->anon_end), ok);
				jset(j, "anon_growth_mb", jnum(v->anon_growth), ok);
				jset(j, "anon_trend_mb", jnum(v->anon_trend), ok);
				jset(j, "anon_allowed_mb", jnum(v->anon_allowed), ok);
				jset(j, "fds_start", jnum(v->fds_start), ok);
				jset(j, "fds_settled", jnum(v->fds_settled), ok);
				jset(j, "fds_end", jnum(v->fds_end), ok);
				jset(j, "fds_growth", jnum(v->fds_growth), ok);
				jset(j, "fds_trend", jnum(v->fds_trend), ok);
				jset(j, "fds_allowed", jnum(v->fds_allowed), ok);
				jset(j, "store_fds_max", jnum(v->store_fds_max), ok);
				jset(j, "bound_mb", jnum(n->bound.total_mb), ok);
				jset(j, "bound", json_string(text), ok);
				if (v->nheld) {
					json_t *h = json_object();
					for (size_t k = 0; h && k < v->nheld; k++) {
						json_t *e = json_object();
						if (e) {
							jset(e, "settled_mb",
							     jnum(v->held_settled[k].mb), ok);
							jset(e, "end_mb", jnum(v->held_end[k].mb),
							     ok);
						}
						jset(h, v->held_settled[k].name, e, ok);
					}
					jset(j, "held", h, ok);
				}
				if (v->have_unheld) {
					jset(j, "unheld_settled_mb", jnum(v->unheld_settled), ok);
					jset(j, "unheld_end_mb", jnum(v->unheld_end), ok);
					jset(j, "unheld_trend_mb", jnum(v->unheld_trend), ok);
				}
			}
		}
		jpush(nodes, j, ok);
	}
	jset(o, "nodes", nodes, ok);
	return o;
}

static json_t *build_json(const report *r, bool *ok)
{
	json_t *root = json_object();
	if (!root) {
		*ok = false;
		return NULL;
	}
	jset(root, "drill", json_string(r->drill), ok);
	jset(root, "short", json_boolean(r->short_run), ok);
	jset(root, "pass", json_boolean(report_passed(r)), ok);

	json_t *nums = json_object();
	for (size_t i = 0; nums && i < r->nnums; i++) {
		double v = r->nums[i].value;
		/* Whole numbers stay integers, so counters read as counters. */
		json_t *j = (isfinite(v) && v == floor(v) && fabs(v) < 9.0e15)
		                ? json_integer((json_int_t)v)
		                : jnum(v);
		jset(nums, r->nums[i].key, j, ok);
	}
	jset(root, "numbers", nums, ok);

	json_t *texts = json_object();
	for (size_t i = 0; texts && i < r->ntexts; i++)
		jset(texts, r->texts[i].key, json_string(r->texts[i].value), ok);
	jset(root, "texts", texts, ok);

	json_t *lat = json_array();
	for (size_t i = 0; lat && i < r->nlat; i++) {
		const report_latency_row *l = &r->lat[i];
		json_t *o = json_object();
		if (o) {
			jset(o, "phase", json_string(l->phase), ok);
			jset(o, "kind", json_string(report_kind_name(l->kind)), ok);
			jset(o, "n", jcount(l->n), ok);
			jset(o, "p50_ms", jnum(l->p50_ms), ok);
			jset(o, "p99_ms", jnum(l->p99_ms), ok);
			jset(o, "p999_ms", jnum(l->p999_ms), ok);
		}
		jpush(lat, o, ok);
	}
	jset(root, "latency", lat, ok);

	json_t *ready = json_array();
	for (size_t i = 0; ready && i < r->nready; i++) {
		const report_ready_row *q = &r->ready[i];
		json_t *o = json_object();
		if (o) {
			jset(o, "edge", json_string(q->edge), ok);
			jset(o, "phase", json_string(q->phase), ok);
			jlatency(o, q->writes, q->w_p50_ms, q->w_p99_ms, q->w_p999_ms, q->reads,
			         q->r_p50_ms, q->r_p99_ms, ok);
			jset(o, "read_errors", jcount(q->read_errors), ok);
			jset(o, "readthroughs",
			     q->readthroughs < 0 ? json_null() : jnum(q->readthroughs), ok);
			jset(o, "me", jcount(q->hearts), ok);
			jset(o, "me_p50_ms", q->hearts ? jnum(q->m_p50_ms) : json_null(), ok);
			jset(o, "me_p99_ms", q->hearts ? jnum(q->m_p99_ms) : json_null(), ok);
			jset(o, "me_readthroughs",
			     q->me_readthroughs < 0 ? json_null() : jnum(q->me_readthroughs), ok);
			jset(o, "edge_write_p99_ms_at_most", jbound(q->w_srv_p99_ms), ok);
			jset(o, "edge_read_p99_ms_at_most", jbound(q->r_srv_p99_ms), ok);
		}
		jpush(ready, o, ok);
	}
	jset(root, "ready", ready, ok);

	if (r->niv) {
		json_t *iv = json_array();
		for (size_t i = 0; iv && i < r->niv; i++) {
			const report_interval_row *q = &r->iv[i];
			json_t *o = json_object();
			if (o) {
				jset(o, "edge", json_string(q->edge), ok);
				jset(o, "interval", json_integer((json_int_t)q->index + 1), ok);
				jset(o, "start_s", jnum(q->t0_s), ok);
				jset(o, "end_s", jnum(q->t1_s), ok);
				jset(o, "complete", json_boolean(q->complete), ok);
				jlatency(o, q->writes, q->w_p50_ms, q->w_p99_ms, q->w_p999_ms,
				         q->reads, q->r_p50_ms, q->r_p99_ms, ok);
				jset(o, "edge_write_p99_ms_at_most", jbound(q->w_srv_p99_ms), ok);
				jset(o, "edge_read_p99_ms_at_most", jbound(q->r_srv_p99_ms), ok);
				jset(o, "load_loop_lag_p99_ms", jbound(q->lag_p99_ms), ok);
				jset(o, "answer_handoff_p99_ms", jbound(q->hand_p99_ms), ok);
				jset(o, "wakeup_lag_p99_ms", jbound(q->wake_p99_ms), ok);
				jset(o, "echo_rtt_p99_ms", jbound(q->echo_p99_ms), ok);
			}
			jpush(iv, o, ok);
		}
		jset(root, "intervals", iv, ok);
	}

	if (r->ntk) {
		json_t *tk = json_array();
		for (size_t i = 0; tk && i < r->ntk; i++) {
			const report_takeover_row *q = &r->tk[i];
			json_t *o = json_object();
			if (o) {
				jset(o, "region", json_string(q->region), ok);
				jset(o, "step", json_string(q->step), ok);
				jset(o, "at_s", jnum(q->at_s), ok);
				jset(o, "lost", json_string(q->lost), ok);
				jset(o, "by", q->by[0] ? json_string(q->by) : json_null(), ok);
				jset(o, "seconds", q->seconds < 0 ? json_null() : jnum(q->seconds),
				     ok);
				jset(o, "writes_in_flight", jcount(q->in_flight), ok);
				jset(o, "pending_ops",
				     q->pending_ops < 0 ? json_null() : jnum(q->pending_ops), ok);
				jset(o, "pending_batches",
				     q->pending_batches < 0 ? json_null()
				                            : jnum(q->pending_batches),
				     ok);
			}
			jpush(tk, o, ok);
		}
		jset(root, "takeovers", tk, ok);
	}

	json_t *faults = json_array();
	for (size_t i = 0; faults && i < r->nfaults; i++) {
		const report_fault_row *f = &r->faults[i];
		json_t *o = json_object();
		if (o) {
			jset(o, "start_s", jnum(f->start_s), ok);
			jset(o, "end_s", f->end_s < 0 ? json_null() : jnum(f->end_s), ok);
			jset(o, "label", json_string(f->label), ok);
		}
		jpush(faults, o, ok);
	}
	jset(root, "faults", faults, ok);

	json_t *conv = json_array();
	for (size_t i = 0; conv && i < r->nconv; i++) {
		const report_convergence_row *c = &r->conv[i];
		json_t *o = json_object();
		if (o) {
			jset(o, "after", json_string(c->after), ok);
			jset(o, "seconds", jnum(c->seconds), ok);
			jset(o, "converged", json_boolean(c->converged), ok);
		}
		jpush(conv, o, ok);
	}
	jset(root, "convergence", conv, ok);

	json_t *viol = json_array();
	for (size_t i = 0; viol && i < r->nviol_kept; i++)
		jpush(viol, json_string(r->viol[i]), ok);
	jset(root, "violations", viol, ok);
	jset(root, "violations_total", json_integer((json_int_t)r->nviol), ok);
	jset(root, "samples", json_integer((json_int_t)r->nsamples), ok);
	if (r->nproc_nodes)
		jset(root, "processes", procs_json(r, ok), ok);
	if (r->feed.set)
		jset(root, "feed", report_feed_json(r), ok);
	return root;
}

int report_write_json(const report *r, const char *path)
{
	bool ok = true;
	json_t *root = build_json(r, &ok);
	if (!ok) {
		json_decref(root);
		log_error("report json build failed", "path=%s", path);
		return ERR_IO;
	}
	int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
	json_decref(root);
	if (rc != 0) {
		log_error("report write failed", "path=%s", path);
		return ERR_IO;
	}
	return 0;
}
