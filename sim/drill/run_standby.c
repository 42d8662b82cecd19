/* run_standby.c - what a drill's runner does for regions that run a
 * standby (drill.h standby; run_int.h): which of a region's two
 * instances a step acts on, the takeover it times after a step loses
 * the active one, the instance taken over from that must refuse every
 * write and exit fenced once resumed, and which instance acknowledged
 * the region's writes over the run. Without standby every function
 * here does nothing (run_active and run_step_instance give edgeN).
 *
 * Owns nothing on the heap. Main thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sim/drill/probe.h"
#include "sim/drill/run_int.h"

static bool standby(const runner *rn)
{
	return rn->d.standby != 0;
}

static ready_edge *slot(runner *rn, unsigned i, unsigned inst)
{
	return &rn->rw.e[READY_SLOT(i, inst)];
}

static unsigned other(unsigned inst)
{
	return (inst + 1) % CLUSTER_INSTANCES_MAX;
}

static bool running(cluster_node *n)
{
	return n && cluster_node_alive(n);
}

unsigned run_active(runner *rn, unsigned i)
{
	if (!standby(rn))
		return 0;
	double t = run_now_s(rn);
	int writer = -1;
	for (unsigned k = 0; k < CLUSTER_INSTANCES_MAX; k++) {
		cluster_node *n = cluster_instance(&rn->c, i, k);
		if (!running(n) || n->stopped)
			continue;
		(void)ready_poll_instance(&rn->rw, &rn->c, i, k, t, false);
		if (slot(rn, i, k)->writer == 1 && writer < 0)
			writer = (int)k;
	}
	load_set_region_ready(rn->l, i, ready_region(&rn->rw, i));
	if (writer >= 0)
		return (unsigned)writer;
	/* Nobody says so (a takeover under way, or the active one is
	 * stopped): the one that answered the region's last write. */
	int last = load_last_acked(rn->l, i);
	if (last >= 0 && running(cluster_instance(&rn->c, i, (unsigned)last)))
		return (unsigned)last;
	for (unsigned k = 0; k < CLUSTER_INSTANCES_MAX; k++)
		if (running(cluster_instance(&rn->c, i, k)))
			return k;
	return 0;
}

cluster_node *run_step_instance(runner *rn, const drill_step *s, unsigned *inst)
{
	unsigned i = (unsigned)s->index;
	*inst = 0;
	if (!standby(rn))
		return cluster_instance(&rn->c, i, 0);
	if (s->action == DRILL_START) {
		for (unsigned k = 0; k < CLUSTER_INSTANCES_MAX; k++) {
			cluster_node *n = cluster_instance(&rn->c, i, k);
			if (!running(n)) {
				*inst = k;
				return n;
			}
		}
		return NULL; /* both run */
	}
	if (s->action == DRILL_CONT)
		for (unsigned k = 0; k < CLUSTER_INSTANCES_MAX; k++) {
			cluster_node *n = cluster_instance(&rn->c, i, k);
			if (running(n) && n->stopped) {
				*inst = k;
				return n;
			}
		}
	unsigned a = run_active(rn, i);
	*inst = s->standby ? other(a) : a;
	return cluster_instance(&rn->c, i, *inst);
}

/* --- takeovers ------------------------------------------------------------------ */

/* Has the load seen the region's other instance acknowledge a write
 * since t was lost? */
static void resolve(runner *rn, takeover *t)
{
	if (t->done)
		return;
	uint64_t us = load_takeover_us(rn->l, t->region);
	if (us && us >= t->at_us) {
		t->took_s = (double)(us - t->at_us) / 1e6;
		t->done = true;
		log_info("taken over", "region=%u lost=%s seconds=%.2f", t->region,
		         cluster_instance(&rn->c, t->region, t->lost)->name, t->took_s);
	}
}

void run_lost(runner *rn, unsigned i, unsigned inst, const drill_step *s)
{
	if (!standby(rn))
		return;
	for (size_t k = 0; k < rn->ntk; k++) {
		takeover *t = &rn->tk[k];
		if (t->region != i || t->done)
			continue;
		resolve(rn, t);
		if (!t->done) { /* the next loss starts before it was taken over */
			t->done = true;
			t->took_s = -1;
		}
	}
	if (rn->ntk == TAKEOVERS_MAX) {
		log_warn("more takeovers than the runner times", "max=%d step=\"%s\"",
		         TAKEOVERS_MAX, s->text);
		return;
	}
	(void)ready_poll_instance(&rn->rw, &rn->c, i, inst, run_now_s(rn), true);
	const ready_edge *e = slot(rn, i, inst);
	takeover *t = &rn->tk[rn->ntk++];
	memset(t, 0, sizeof *t);
	t->region = i;
	t->lost = inst;
	rn->lost_active[i][inst] = true;
	t->at_s = run_now_s(rn);
	snprintf(t->step, sizeof t->step, "%s", s->text);
	t->have_pending = e->have_pending;
	t->pending_ops = e->pending_ops;
	t->pending_batches = e->pending_batches;
	load_instance_stats st;
	load_get_instance_stats(rn->l, i, inst, &st);
	t->in_flight = st.in_flight;
	t->took_s = -1;
	t->at_us = clock_mono_us();
	load_watch_takeover(rn->l, i, inst);
	log_info("the region's active instance is lost: timing the takeover",
	         "node=%s step=\"%s\" writes_in_flight=%" PRIu64,
	         cluster_instance(&rn->c, i, inst)->name, s->text, t->in_flight);
}

/* --- instances taken over from ---------------------------------------------------- */

void run_spawned(void *arg, const cluster_node *n)
{
	runner *rn = arg;
	if (n->kind == DRILL_EDGE) /* a new process, standby or not */
		load_instance_started(rn->l, (unsigned)n->index, (unsigned)n->inst);
}

void run_instance_started(runner *rn, unsigned i, unsigned inst)
{
	if (!standby(rn))
		return;
	rn->fence[i][inst].on = false;
	rn->exit_seen[i][inst] = false;
	rn->lost_active[i][inst] = false;
}

void run_instance_killed(runner *rn, unsigned i, unsigned inst)
{
	if (!standby(rn))
		return;
	rn->fence[i][inst].on = false;
	rn->exit_seen[i][inst] = true; /* the step's, not news */
}

/* A standby that exited for a copy of its peer's store is started
 * again at once, as its service manager would (Restart=on-failure). */
static void restart_for_copy(runner *rn, unsigned i, unsigned inst)
{
	cluster_node *n = cluster_instance(&rn->c, i, inst);
	char err[256];
	if (cluster_node_start(&rn->c, n, err, sizeof err)) {
		log_error("cannot start again an instance that exited for a copy",
		          "node=%s err=\"%s\"", n->name, err);
		return;
	}
	log_info("instance started again to copy its peer's store", "node=%s", n->name);
	run_instance_started(rn, i, inst);
}

/* An instance that exited without a step killing it: when, and how
 * (fenced is expected after a takeover, so no violation; the text says
 * which instance gave up the region and when). One that exited for a
 * copy of its peer's store is started again. */
static void note_exit(runner *rn, unsigned i, unsigned inst)
{
	cluster_node *n = cluster_instance(&rn->c, i, inst);
	if (rn->exit_seen[i][inst] || running(n) || n->exit_status < 0)
		return;
	rn->exit_seen[i][inst] = true;
	char how[64];
	bool copy = cluster_node_wants_copy(n);
	if (cluster_node_fenced(n))
		snprintf(how, sizeof how, "status %d (fenced)", CLUSTER_EXIT_FENCED);
	else if (copy)
		snprintf(how, sizeof how, "status %d (behind the log: started again to copy)",
		         CLUSTER_EXIT_RESEED);
	else
		snprintf(how, sizeof how, "wait status %d", n->exit_status);
	size_t len = strlen(rn->exits_text[i]);
	snprintf(rn->exits_text[i] + len, sizeof rn->exits_text[i] - len,
	         "%s%s exited with %s by %.1fs", len ? "; " : "", n->label, how, run_now_s(rn));
	if (copy)
		restart_for_copy(rn, i, inst);
}

void run_resumed(runner *rn, unsigned i, unsigned inst)
{
	if (!standby(rn))
		return;
	cluster_node *n = cluster_instance(&rn->c, i, inst);
	cluster_node *o = cluster_instance(&rn->c, i, other(inst));
	if (!rn->lost_active[i][inst]) {
		log_info("resumed; it was not the active instance when a step stopped it",
		         "node=%s", n->name);
		return;
	}
	rn->lost_active[i][inst] = false;
	bool taken = false;
	if (running(o) && !o->stopped) {
		(void)ready_poll_instance(&rn->rw, &rn->c, i, other(inst), run_now_s(rn), false);
		taken = slot(rn, i, other(inst))->writer == 1;
	}
	for (size_t k = rn->ntk; !taken && k-- > 0;)
		if (rn->tk[k].region == i) {
			resolve(rn, &rn->tk[k]);
			taken = rn->tk[k].lost == inst && rn->tk[k].took_s >= 0;
			break;
		}
	if (!taken) {
		log_info("resumed; no other instance took over meanwhile", "node=%s", n->name);
		return;
	}
	fence_watch *f = &rn->fence[i][inst];
	load_instance_stats st;
	load_get_instance_stats(rn->l, i, inst, &st);
	f->on = true;
	f->resumed_s = run_now_s(rn);
	f->healed = false;
	f->not_active = st.not_active;
	f->not_replicated = st.not_replicated;
	f->failed = st.failed;
	f->acked = st.acked;
	/* A client that still has it cached: the next writes go to it, and
	 * it must refuse each one. */
	load_aim(rn->l, i, inst, AIM_WRITES);
	log_info("resumed after another instance took over: it must refuse every write and "
	         "exit fenced",
	         "node=%s taken_over_by=%s aimed_writes=%d", n->name, o->name, AIM_WRITES);
}

void run_regional_cut(runner *rn, unsigned i, unsigned inst)
{
	if (!standby(rn))
		return;
	rn->regional_cut[i] = (int)inst + 1;
}

void run_regional_healed(runner *rn, unsigned i)
{
	if (!standby(rn) || !rn->regional_cut[i])
		return;
	unsigned inst = (unsigned)rn->regional_cut[i] - 1;
	rn->regional_cut[i] = 0;
	cluster_node *n = cluster_instance(&rn->c, i, inst);
	if (running(n) && !n->stopped) {
		run_resumed(rn, i, inst);
		rn->fence[i][inst].healed = true;
	}
}

/* One fence watch: exited fenced (fine), exited otherwise or still runs
 * past FENCE_WAIT_S (violations). */
static void check_fence(runner *rn, unsigned i, unsigned inst)
{
	fence_watch *f = &rn->fence[i][inst];
	if (!f->on)
		return;
	cluster_node *n = cluster_instance(&rn->c, i, inst);
	double now = run_now_s(rn);
	load_instance_stats st;
	load_get_instance_stats(rn->l, i, inst, &st);
	uint64_t refused = st.not_active - f->not_active,
	         unrepl = st.not_replicated - f->not_replicated, failed = st.failed - f->failed,
	         acked = st.acked - f->acked;
	const char *back = f->healed ? "its regional link healed" : "resumed";
	if (running(n)) {
		if (now - f->resumed_s <= FENCE_WAIT_S)
			return;
		report_violation(rn->r,
		                 "%s still ran %.0f s after it was back (%s) at %.1fs, though "
		                 "another instance had taken over from it (expected: exit status "
		                 "%d, fenced)",
		                 n->label, FENCE_WAIT_S, back, f->resumed_s, CLUSTER_EXIT_FENCED);
		f->on = false;
		return;
	}
	f->on = false;
	char key[64], text[320];
	snprintf(key, sizeof key, "fenced_%s", n->name);
	if (cluster_node_fenced(n)) {
		snprintf(text, sizeof text,
		         "%s, back (%s) at %.1fs after another instance took over: %" PRIu64
		         " write attempts at it answered 503 not_active, %" PRIu64
		         " 503 not_replicated, %" PRIu64
		         " got no answer (connection closed or refused), %" PRIu64
		         " acknowledged; exited with status %d (fenced) by %.1fs",
		         n->label, back, f->resumed_s, refused, unrepl, failed - refused - unrepl,
		         acked, CLUSTER_EXIT_FENCED, now);
		report_text(rn->r, key, text);
	} else {
		report_violation(rn->r,
		                 "%s, back (%s) at %.1fs after another instance took over, exited "
		                 "with wait status %d, not fenced (status %d)",
		                 n->label, back, f->resumed_s, n->exit_status, CLUSTER_EXIT_FENCED);
	}
}

/* --- over the run --------------------------------------------------------------- */

void run_standby_tick(runner *rn)
{
	if (!standby(rn))
		return;
	for (size_t k = 0; k < rn->ntk; k++)
		resolve(rn, &rn->tk[k]);
	for (unsigned i = 0; i < rn->d.regions; i++) {
		int k = load_last_acked(rn->l, i);
		if (k >= 0 && k != rn->acked_by[i] - 1) {
			size_t len = strlen(rn->acked_text[i]);
			snprintf(rn->acked_text[i] + len, sizeof rn->acked_text[i] - len,
			         "%s%s from %.1fs", len ? ", " : "",
			         cluster_instance(&rn->c, i, (unsigned)k)->label, run_now_s(rn));
			rn->acked_by[i] = k + 1;
		}
		for (unsigned inst = 0; inst < CLUSTER_INSTANCES_MAX; inst++) {
			check_fence(rn, i, inst);
			note_exit(rn, i, inst);
		}
	}
}

/* Waits until every fence watch has its answer (at most FENCE_WAIT_S
 * after each resume). */
static void settle_fences(runner *rn)
{
	for (;;) {
		run_standby_tick(rn);
		bool waiting = false;
		for (unsigned i = 0; i < rn->d.regions; i++)
			for (unsigned k = 0; k < CLUSTER_INSTANCES_MAX; k++)
				waiting |= rn->fence[i][k].on;
		if (!waiting)
			return;
		usleep(100 * 1000);
	}
}

static void takeover_row(runner *rn, const takeover *t, const drill_expect *x)
{
	cluster_node *lost = cluster_instance(&rn->c, t->region, t->lost);
	cluster_node *by = cluster_instance(&rn->c, t->region, other(t->lost));
	report_takeover_row q;
	memset(&q, 0, sizeof q);
	snprintf(q.region, sizeof q.region, "%s", rn->c.edges[t->region].id);
	snprintf(q.lost, sizeof q.lost, "%s", lost->label);
	if (t->took_s >= 0)
		snprintf(q.by, sizeof q.by, "%s", by->label);
	snprintf(q.step, sizeof q.step, "%s", t->step);
	q.at_s = t->at_s;
	q.seconds = t->took_s;
	q.in_flight = t->in_flight;
	q.pending_ops = t->have_pending ? t->pending_ops : -1;
	q.pending_batches = t->have_pending ? t->pending_batches : -1;
	report_takeover(rn->r, &q);
	if (!x)
		return;
	if (t->took_s < 0)
		report_violation(rn->r,
		                 "%s lost its active instance %s at %.1fs (\"%s\") and no other "
		                 "instance acknowledged a write after it (expect %s %g)",
		                 q.region, lost->label, t->at_s, t->step, drill_expect_name(x->key),
		                 x->max);
	else if (t->took_s > x->max)
		report_violation(rn->r,
		                 "%s took %.2f s to take over from %s after \"%s\" at %.1fs, more "
		                 "than %g (expect %s %g)",
		                 by->label, t->took_s, lost->label, t->step, t->at_s, x->max,
		                 drill_expect_name(x->key), x->max);
}

void run_standby_figures(runner *rn)
{
	if (!standby(rn))
		return;
	settle_fences(rn);
	const drill_expect *x = drill_expect_of(&rn->d, DRILL_EXPECT_TAKEOVER_MAX);
	double took[TAKEOVERS_MAX];
	size_t ntook = 0;
	for (size_t k = 0; k < rn->ntk; k++) {
		takeover *t = &rn->tk[k];
		resolve(rn, t);
		t->done = true;
		takeover_row(rn, t, x);
		if (t->took_s >= 0 && ntook < TAKEOVERS_MAX)
			took[ntook++] = t->took_s;
	}
	report_number(rn->r, "takeovers", (double)rn->ntk);
	if (ntook) {
		probe_sort(took, ntook);
		report_number(rn->r, "takeover_p50_s", probe_quantile(took, ntook, 0.5));
		report_number(rn->r, "takeover_slowest_s", took[ntook - 1]);
	}
	load_stats st;
	load_get_stats(rn->l, &st);
	/* What the clients saw, whatever caused it: a takeover no step
	 * asked for counts too. */
	report_number(rn->r, "active_changes", (double)st.active_changes);
	const drill_expect *xt = drill_expect_of(&rn->d, DRILL_EXPECT_ACTIVE_CHANGES);
	if (xt && (double)st.active_changes > xt->max)
		report_violation(
		    rn->r,
		    "another instance took over acknowledging a region's writes %" PRIu64
		    " times, more than %g (expect %s %g)",
		    st.active_changes, xt->max, drill_expect_name(xt->key), xt->max);
	const drill_expect *xr = drill_expect_of(&rn->d, DRILL_EXPECT_NOT_REPLICATED);
	if (xr && (double)st.not_replicated > xr->max)
		report_violation(rn->r,
		                 "%" PRIu64
		                 " writes were answered 503 not_replicated, more than %g "
		                 "(expect %s %g)",
		                 st.not_replicated, xr->max, drill_expect_name(xr->key), xr->max);
	report_number(rn->r, "not_active", (double)st.not_active);
	report_number(rn->r, "not_replicated", (double)st.not_replicated);
	report_number(rn->r, "instance_switches", (double)st.switches);
	report_number(rn->r, "stale_acks", (double)st.stale_acks);
	if (st.stale_acks)
		report_violation(rn->r,
		                 "%" PRIu64
		                 " writes were acknowledged by an instance after another "
		                 "had taken over from it (and sent to it after that)",
		                 st.stale_acks);
	for (unsigned i = 0; i < rn->d.regions; i++) {
		char key[64], text[512];
		size_t len = 0;
		text[0] = '\0';
		for (unsigned k = 0; k < CLUSTER_INSTANCES_MAX; k++) {
			load_instance_stats is;
			load_get_instance_stats(rn->l, i, k, &is);
			int m = snprintf(text + len, sizeof text - len,
			                 "%s%s %" PRIu64 " acked, %" PRIu64
			                 " refused not_active, %" PRIu64 " not_replicated",
			                 k ? "; " : "", cluster_instance(&rn->c, i, k)->label,
			                 is.acked, is.not_active, is.not_replicated);
			if (m < 0 || (size_t)m >= sizeof text - len)
				break;
			len += (size_t)m;
		}
		snprintf(key, sizeof key, "writes_%s", rn->c.edges[i].id);
		report_text(rn->r, key, text);
		snprintf(key, sizeof key, "active_%s", rn->c.edges[i].id);
		report_text(rn->r, key,
		            rn->acked_text[i][0] ? rn->acked_text[i] : "no write acknowledged");
		snprintf(key, sizeof key, "exits_%s", rn->c.edges[i].id);
		if (rn->exits_text[i][0])
			report_text(rn->r, key, rn->exits_text[i]);
	}
}
