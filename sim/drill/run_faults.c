/* run_faults.c - a drill's faults (run_int.h): the fault windows the
 * report draws, and the steps that break or heal a path, a region's
 * changelog (trim), a user's home (move) or a Kafka cluster, with the
 * wait for brokers brought back to be in sync. Below run.c, which
 * dispatches every step (run_step) and heals what is left at the end.
 * Main thread.
 */
#include "sim/drill/run_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "sim/drill/cluster.h"
#include "sim/drill/drill.h"
#include "sim/drill/load.h"
#include "sim/drill/report.h"
#include "sim/drill/trim.h"
#include "xmem.h"

/* --- fault windows ---------------------------------------------------------- */

int run_fault_key(const drill_step *s)
{
	switch (s->action) {
	case DRILL_CUT:
	case DRILL_HEAL:
	case DRILL_DELAY:
	case DRILL_THROTTLE: return (int)s->node * 1000 + s->index * 10 + (int)s->link;
	case DRILL_KILL:
	case DRILL_WIPE:
	case DRILL_START:
	case DRILL_STOP:
	case DRILL_CONT: return (int)s->node * 1000 + s->index * 10 + 9;
	case DRILL_BROKER_RTT: return 5100 + s->index + 1;
	case DRILL_REGION_DOWN:
	case DRILL_REGION_UP: return 6000 + s->index;
	case DRILL_DISK_FULL:
	case DRILL_DISK_FREE: return 7000 + s->index;
	case DRILL_CLOCK_JUMP:
	case DRILL_CLOCK_RESET: return (int)s->node * 1000 + s->index * 10 + 8;
	default: return -1;
	}
}

int run_fault_scope(const drill_step *s)
{
	switch (s->action) {
	case DRILL_DELAY:
	case DRILL_THROTTLE:
		/* An edge's slowed path is latency, which converge_ms covers. A
		 * central's holds up everything it publishes: its feed producer
		 * gives up on chunks unacknowledged within feed.timeout_ms and
		 * starts again from the topics' tail, and the home streams with
		 * it, so a change made away from home reaches home late
		 * (nemesis seed 39 on real Kafka: 210 ms each way to central's
		 * cluster, 9-12 hearts 12-20 s late, every one of a change made
		 * in another region). */
		return s->node == DRILL_EDGE ? RUN_SCOPE_NONE : RUN_SCOPE_ALL;
	case DRILL_CLOCK_JUMP:
	case DRILL_BROKER_RTT: return RUN_SCOPE_NONE;
	case DRILL_REGION_DOWN: return s->index;
	default: return s->node == DRILL_EDGE ? s->index : RUN_SCOPE_ALL;
	}
}

void run_stalls_tell(runner *rn)
{
	unsigned regions = rn->d.regions < DRILL_REGIONS_MAX ? rn->d.regions : DRILL_REGIONS_MAX;
	for (int scope = RUN_SCOPE_ALL; scope < (int)regions; scope++) {
		bool any = false;
		for (size_t i = 0; i < rn->nopen && !any; i++)
			any = rn->open[i].scope == scope;
		if (rn->l) /* the load ignores a scope told what it knows */
			load_set_stalled(rn->l, scope, any);
	}
}

void run_window_open(runner *rn, int key, int scope, const char *label)
{
	for (size_t i = 0; i < rn->nopen; i++)
		if (rn->open[i].key == key) {
			/* already in force: the first step names it; a cut where a
			 * delay was holds changes up from now on */
			if (rn->open[i].scope == RUN_SCOPE_NONE)
				rn->open[i].scope = scope;
			run_stalls_tell(rn);
			return;
		}
	if (rn->nopen == WINDOWS_MAX)
		return;
	window *w = &rn->open[rn->nopen++];
	w->key = key;
	w->scope = scope;
	w->start = run_now_s(rn);
	snprintf(w->label, sizeof w->label, "%s", label);
	run_stalls_tell(rn);
}

/* Closes the window of key; with span, every window whose key is in
 * [key, key + span] (a cluster's nodes healed at once). */
void run_window_close_span(runner *rn, int key, int span, const char *healed_by)
{
	for (size_t i = 0; i < rn->nopen; i++) {
		if (rn->open[i].key < key || rn->open[i].key > key + span)
			continue;
		report_fault(rn->r, rn->open[i].start, run_now_s(rn), rn->open[i].label);
		rn->open[i] = rn->open[--rn->nopen];
		if (rn->nheals < WINDOWS_MAX) {
			window *h = &rn->heals[rn->nheals++];
			h->key = key;
			h->start = run_now_s(rn);
			h->truth = load_truth_of(rn->l, LOAD_SET_COUNTER, LOAD_VIRAL);
			snprintf(h->label, sizeof h->label, "%s", healed_by);
		}
		i--;
	}
	run_stalls_tell(rn);
}

void run_window_close(runner *rn, int key, const char *healed_by)
{
	run_window_close_span(rn, key, 0, healed_by);
}

/* --- steps -------------------------------------------------------------------- */

/* Steps back to the host's clock every node whose clock a jump named
 * like s (edgeN or edgeN.standby: with standbys, the instance it hit
 * may since have changed roles) moved, or node n for a central. */
static int clock_reset(runner *rn, const drill_step *s, cluster_node *n, char *err, size_t errlen)
{
	if (s->node != DRILL_EDGE)
		return cluster_node_clock(n, 0, err, errlen);
	int rc = 0;
	for (unsigned k = 0; !rc && k < cluster_instances(&rn->c); k++) {
		cluster_node *m = cluster_instance(&rn->c, (unsigned)s->index, k);
		if (m->clock_ms && m->clock_standby == s->standby)
			rc = cluster_node_clock(m, 0, err, errlen);
	}
	return rc;
}

int run_clock_step(runner *rn, const drill_step *s, cluster_node *n)
{
	char err[256] = "";
	int rc;
	if (s->action == DRILL_CLOCK_JUMP) {
		rc = cluster_node_clock(n, s->a, err, sizeof err);
		n->clock_standby = s->standby;
		if (s->a)
			run_window_open(rn, run_fault_key(s), run_fault_scope(s), s->text);
		else
			run_window_close(rn, run_fault_key(s), s->text);
	} else {
		rc = clock_reset(rn, s, n, err, sizeof err);
		run_window_close(rn, run_fault_key(s), s->text);
	}
	if (rc)
		log_error("clock step failed", "step=\"%s\" err=\"%s\"", s->text, err);
	return rc;
}

void run_clock_heal(cluster_node *n)
{
	char err[256];
	if (n->clock[0] && n->clock_ms && cluster_node_clock(n, 0, err, sizeof err))
		log_error("cannot reset a node's clock", "node=%s err=\"%s\"", n->name, err);
}

/* A path step on node n. In a drill with standbys, a step on edgeN (not
 * edgeN.standby) acts on every instance of the region when it is a heal
 * (the one cut may have stopped being active), a delay or a throttle
 * (where the region is, not a fault of one machine: the standby is as
 * far from Kafka and central, and keeps that when it takes over); a cut
 * or a reset acts on the active instance alone. */
int run_path_step(runner *rn, const drill_step *s, cluster_node *n)
{
	cluster_node *nodes[CLUSTER_INSTANCES_MAX] = {n};
	unsigned nn = 1;
	bool region =
	    s->action == DRILL_HEAL || s->action == DRILL_DELAY || s->action == DRILL_THROTTLE;
	if (region && s->node == DRILL_EDGE && !s->standby)
		for (nn = 0; nn < cluster_instances(&rn->c); nn++)
			nodes[nn] = cluster_instance(&rn->c, (unsigned)s->index, nn);
	for (unsigned k = 0; k < nn; k++) {
		relay_path *paths[CLUSTER_PATHS_MAX];
		int np = cluster_paths(nodes[k], s->link, paths);
		if (np == 0) {
			log_error("drill step has no path here", "step=\"%s\"", s->text);
			return ERR_INVAL;
		}
		for (int i = 0; i < np; i++) {
			switch (s->action) {
			case DRILL_CUT: relay_block(paths[i], (relay_dir)s->dir); break;
			case DRILL_HEAL: relay_heal(paths[i]); break;
			case DRILL_DELAY:
				relay_set_delay(paths[i], (unsigned)s->a, (unsigned)s->b);
				break;
			case DRILL_THROTTLE: relay_set_rate(paths[i], (uint64_t)s->a); break;
			case DRILL_RESET: relay_reset(paths[i]); break;
			default: break;
			}
		}
	}
	if (s->action == DRILL_HEAL)
		run_window_close(rn, run_fault_key(s), s->text);
	else if (s->action != DRILL_RESET)
		run_window_open(rn, run_fault_key(s), run_fault_scope(s), s->text);
	if (s->action == DRILL_HEAL && s->link == DRILL_LINK_REGIONAL)
		run_regional_healed(rn, (unsigned)s->index);
	return 0;
}

/* trim edgeN: region N's changelog loses every record written before
 * the step (trim.h). The time it took is a fault window; what it did
 * goes to the report, and a log that kept part of its start is a
 * violation. */
int run_trim_step(runner *rn, const drill_step *s)
{
	unsigned i = (unsigned)s->index;
	trim_opts o = {.topic = CLUSTER_CHANGELOG_TOPIC, .edge_id = rn->c.edges[i].id};
	cluster_changelog_at(&rn->c, i, &o.bootstraps, &o.partition);
	trim_result t;
	char err[256] = "", key[64], text[384];
	double start = run_now_s(rn);
	int rc = trim_partition(&o, &t, err, sizeof err);
	report_fault(rn->r, start, run_now_s(rn), s->text);
	snprintf(text, sizeof text,
	         "%u void records of %u KiB to %s partition %d in %.1f s: low/high watermarks "
	         "%" PRId64 "/%" PRId64 " before, %" PRId64 "/%" PRId64 " after (%s)",
	         t.records, TRIM_VALUE_BYTES >> 10, o.topic, (int)o.partition,
	         (double)t.ms / 1000.0, t.lo0, t.hi0, t.lo, t.hi,
	         rc == 0 ? "every record before the step gone" : "not complete");
	snprintf(key, sizeof key, "trim_%s_at_%.1fs", o.edge_id, start);
	report_text(rn->r, key, text);
	log_info("changelog trimmed",
	         "edge=%s records=%u ms=%" PRIu64 " lo_before=%" PRId64 " hi_before=%" PRId64
	         " lo_after=%" PRId64 " hi_after=%" PRId64 " done=%s",
	         o.edge_id, t.records, t.ms, t.lo0, t.hi0, t.lo, t.hi, rc ? "no" : "yes");
	if (rc == ERR_TIMEOUT) {
		report_violation(rn->r, "\"%s\" at %.1fs did not complete: %s", s->text, start,
		                 err);
		return 0; /* carried out, and said so */
	}
	if (rc)
		log_error("drill step failed", "step=\"%s\" err=\"%s\" detail=\"%s\"", s->text,
		          err_str(rc), err);
	return rc;
}

/* move edgeN USERS: that many users who live elsewhere move home to
 * region N (cluster_home_move, as the identity service would), and
 * their ops from then on name the new home and the move's time. What
 * moved goes to the report; a move that failed fails the step. */
int run_move_step(runner *rn, const drill_step *s)
{
	unsigned i = (unsigned)s->index;
	unsigned *users = xcalloc((size_t)s->a, sizeof *users);
	size_t n = load_pick_movers(rn->l, i, (size_t)s->a, users);
	char region[16], err[256] = "", key[64], text[256];
	snprintf(region, sizeof region, "r%u", i);
	uint64_t since = clock_wall_ms();
	double start = run_now_s(rn);
	int rc = cluster_home_move(&rn->c, users, n, region, since, err, sizeof err);
	double took = run_now_s(rn) - start;
	if (rc == 0)
		load_move_home(rn->l, users, n, i, since);
	snprintf(text, sizeof text, "%zu users (u%u..u%u) to %s, since_ms %" PRIu64 ", in %.2f s%s",
	         n, n ? users[0] : 0, n ? users[n - 1] : 0, region, since, took,
	         rc ? ": failed (those that ran moved at central; the load keeps their old home)"
	            : "");
	snprintf(key, sizeof key, "move_%s_at_%.1fs", region, start);
	report_text(rn->r, key, text);
	log_info("users moved home", "region=%s users=%zu since_ms=%" PRIu64 " s=%.2f done=%s",
	         region, n, since, took, rc ? "no" : "yes");
	free(users);
	if (rc)
		log_error("drill step failed", "step=\"%s\" err=\"%s\" detail=\"%s\"", s->text,
		          err_str(rc), err);
	return rc;
}

/* What a broker step asks of its cluster: the command's verb, and
 * whether it opens a fault window, closes one, or both (a restart or a
 * wipe: the node is back when the step ends). */
static const struct {
	drill_action action;
	const char *verb;
	bool opens, closes;
} broker_verbs[] = {
    {DRILL_BROKER_DOWN, "down", true, false},
    {DRILL_BROKER_UP, "up", false, true},
    {DRILL_BROKER_PAUSE, "pause", true, false},
    {DRILL_BROKER_RESUME, "resume", false, true},
    {DRILL_BROKER_RESTART, "restart", true, true},
    {DRILL_BROKER_WIPE, "wipe", true, true},
    {DRILL_REGIONAL_BROKER_DOWN, "down", true, false},
    {DRILL_REGIONAL_BROKER_UP, "up", false, true},
    {DRILL_REGIONAL_BROKER_PAUSE, "pause", true, false},
    {DRILL_REGIONAL_BROKER_RESUME, "resume", false, true},
    {DRILL_REGIONAL_BROKER_RESTART, "restart", true, true},
    {DRILL_REGIONAL_BROKER_WIPE, "wipe", true, true},
    {DRILL_REGIONAL_DOWN, "down", true, false},
    {DRILL_REGIONAL_UP, "up", false, true},
};

/* How long a step that brings real brokers back waits for them to be in
 * sync again: a JVM's start and its catching up took 12-14 s on a
 * loaded two-core machine. */
#define BACK_IN_SYNC_MS 60000

/* After a step that brought nodes of a real cluster back: until every
 * partition has a leader and each replica on a running node is in its
 * ISR (sim kafka's "in-sync MS running"). A later step that faults "the
 * leader" means one of a cluster that healed; without the wait a
 * compressed (short) run lost the leader before the restarted nodes
 * had caught up, so no replica could lead (CI, 2026-11-29). A cluster
 * still short after BACK_IN_SYNC_MS is said in the log and the report,
 * and the run goes on. */
static void back_in_sync(runner *rn, kproc *k, const drill_step *s)
{
	char cmd[64], err[256];
	uint64_t t0 = clock_mono_ms();
	snprintf(cmd, sizeof cmd, "in-sync %d running", BACK_IN_SYNC_MS);
	int rc = kproc_command(k, cmd, err, sizeof err);
	uint64_t ms = clock_mono_ms() - t0;
	rn->held_ms += ms;
	char key[64], text[1024];
	snprintf(key, sizeof key, "in_sync_at_%.1fs", run_now_s(rn));
	if (rc) {
		log_warn("drill: the cluster is not back in sync", "step=\"%s\" err=\"%s\"",
		         s->text, err);
		snprintf(text, sizeof text, "\"%s\": %s not back in sync after %" PRIu64 " ms: %s",
		         s->text, k->name, ms, err);
	} else {
		snprintf(text, sizeof text, "\"%s\": %s back in sync in %" PRIu64 " ms", s->text,
		         k->name, ms);
	}
	report_text(rn->r, key, text);
}

/* The node of cluster k (region's, or central's for -1) that leads the
 * partition of note now, said in the report under the step; -1 when
 * none answers. */
static int leader_now(runner *rn, kproc *k, int region, const drill_step *s)
{
	const char *topic;
	int32_t part;
	char cmd[160], ans[64], err[256] = "";
	cluster_kafka_where(&rn->c, region, &topic, &part);
	snprintf(cmd, sizeof cmd, "leader %s %d", topic, (int)part);
	int rc = kproc_ask(k, cmd, ans, sizeof ans, err, sizeof err);
	long got = rc ? -1 : strtol(ans, NULL, 10);
	if (got < 1 || got > k->nbrokers) {
		log_error("drill step failed: no leader", "step=\"%s\" err=\"%s\"", s->text, err);
		return -1;
	}
	char key[64], text[400];
	snprintf(key, sizeof key, "leader_at_%.1fs", run_now_s(rn));
	snprintf(text, sizeof text, "\"%s\": %s partition %d was led by node %d of %s", s->text,
	         topic, (int)part, (int)got, k->name);
	report_text(rn->r, key, text);
	return (int)got;
}

/* Which node is the cluster's active controller, in the report: a cut
 * of the one that is both leader and controller waits for the quorum to
 * elect another before the partition can move. */
static void controller_note(runner *rn, kproc *k, const drill_step *s)
{
	char ans[64], err[256], key[64], text[300];
	if (kproc_ask(k, "controller", ans, sizeof ans, err, sizeof err))
		snprintf(ans, sizeof ans, "unknown (%.40s)", err);
	snprintf(key, sizeof key, "controller_at_%.1fs", run_now_s(rn));
	snprintf(text, sizeof text, "\"%s\": %s's active controller was node %s", s->text, k->name,
	         ans);
	report_text(rn->r, key, text);
}

int run_brokers_step(runner *rn, const drill_step *s)
{
	int region = s->index;
	kproc *k = cluster_kafka_of(&rn->c, region);
	brokerns *b = cluster_brokerns_of(&rn->c, region);
	if (!k || !b) {
		log_error("drill step needs the nodes in namespaces of their own", "step=\"%s\"",
		          s->text);
		return ERR_INVAL;
	}
	bool cut = s->action == DRILL_BROKERS_CUT;
	int x = (int)s->a;
	if (x == DRILL_BROKER_LEADER && cut) {
		if ((x = leader_now(rn, k, region, s)) < 0)
			return ERR_KAFKA;
		rn->cut_leader[region] = x;
		controller_note(rn, k, s);
	} else if (x == DRILL_BROKER_LEADER) {
		x = rn->cut_leader[region];
	}
	int rc = 0;
	for (int y = 1; y <= b->n && rc == 0; y++) {
		if (y == x || (s->b != DRILL_BROKER_OTHERS && y != (int)s->b))
			continue;
		rc = cut ? brokerns_cut(b, x, y, (relay_dir)s->dir) : brokerns_heal(b, x, y);
	}
	if (rc) {
		log_error("drill step failed", "step=\"%s\" node=%d", s->text, x);
		return rc;
	}
	/* One window per region's cluster, 8500 + 10 R: a heal closes it. */
	int key = 8500 + region * 10;
	if (cut)
		run_window_open(rn, key, region, s->text);
	else
		run_window_close(rn, key, s->text);
	if (!cut && k->nbrokers > 1)
		back_in_sync(rn, k, s);
	return 0;
}

/* A fault of one of the drill's Kafka clusters: central's (broker_*) or
 * a region's own (regional_*). A broker named "leader" is the one that
 * leads the cluster's partition of note when the step runs
 * (cluster_kafka_where); the report says which. Each node of a cluster
 * has its fault window; a step on all of them closes them all. */
int run_broker_step(runner *rn, const drill_step *s)
{
	bool regional = drill_action_regional(s->action);
	int region = regional ? s->index : -1;
	kproc *k = cluster_kafka_of(&rn->c, region);
	int target = !regional ? s->index
	             : s->action == DRILL_REGIONAL_DOWN || s->action == DRILL_REGIONAL_UP
	                 ? DRILL_BROKER_ALL
	                 : (int)s->a;
	char cmd[160], id[16], err[256];
	if (!k)
		return ERR_INVAL;
	if (target > k->nbrokers) {
		log_error("no such broker", "step=\"%s\" brokers=%d", s->text, k->nbrokers);
		return ERR_INVAL;
	}
	if (target >= 0)
		snprintf(id, sizeof id, "%d", target);
	else
		snprintf(id, sizeof id, "all");
	if (s->action == DRILL_BROKER_RTT || s->action == DRILL_BROKER_ERRORS) {
		if (s->action == DRILL_BROKER_RTT)
			snprintf(cmd, sizeof cmd, "rtt %s %lld", id, (long long)s->a);
		else
			snprintf(cmd, sizeof cmd, "errors %lld", (long long)s->a);
		int rc = kproc_command(k, cmd, err, sizeof err);
		if (rc) {
			log_error("drill step failed", "step=\"%s\" err=\"%s\" detail=\"%s\"",
			          s->text, err_str(rc), err);
			return rc;
		}
		if (s->action == DRILL_BROKER_RTT && s->a)
			run_window_open(rn, run_fault_key(s), run_fault_scope(s), s->text);
		else if (s->action == DRILL_BROKER_RTT)
			run_window_close(rn, run_fault_key(s), s->text);
		return 0;
	}
	size_t v = 0;
	while (v < sizeof broker_verbs / sizeof broker_verbs[0] &&
	       broker_verbs[v].action != s->action)
		v++;
	if (v == sizeof broker_verbs / sizeof broker_verbs[0])
		return ERR_INVAL;
	if (target == DRILL_BROKER_LEADER) {
		if ((target = leader_now(rn, k, region, s)) < 0)
			return ERR_KAFKA;
		snprintf(id, sizeof id, "%d", target);
	}
	snprintf(cmd, sizeof cmd, "%s %s", broker_verbs[v].verb, id);
	/* One window per node: central's cluster from 5000, region i's from
	 * 8000 + 10 i; "all" at the base, a node at base + id. */
	int base = regional ? 8000 + region * 10 : 5000;
	int key = base + (target < 0 ? 0 : target);
	if (broker_verbs[v].opens)
		run_window_open(rn, key, regional ? region : RUN_SCOPE_ALL, s->text);
	int rc = kproc_command(k, cmd, err, sizeof err);
	if (rc) {
		log_error("drill step failed", "step=\"%s\" err=\"%s\" detail=\"%s\"", s->text,
		          err_str(rc), err);
		return rc;
	}
	if (broker_verbs[v].closes)
		run_window_close_span(rn, key, target < 0 ? 9 : 0, s->text);
	if (broker_verbs[v].closes && k->real && k->nbrokers > 1)
		back_in_sync(rn, k, s);
	return 0;
}

/* A Kafka process of the drill that exited on its own: a run that went
 * on without it would fail later, and for reasons that hide this one. */
void run_check_kafka(runner *rn)
{
	kproc *all[1 + DRILL_REGIONS_MAX];
	size_t n = 0;
	all[n++] = &rn->c.kafka;
	for (unsigned i = 0; rn->d.regional_kafka && i < rn->d.regions; i++)
		all[n++] = &rn->c.regional[i];
	for (size_t i = 0; i < n; i++) {
		int st = 0;
		if (all[i]->pid > 0 && !kproc_alive(all[i], &st))
			report_violation(rn->r,
			                 "%s (a Kafka cluster of the drill) exited at %.1fs "
			                 "with wait status %d; see %s",
			                 all[i]->name, run_now_s(rn), st, all[i]->log);
	}
}
