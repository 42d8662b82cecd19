/* load.c - the simulated users: starting ops on an open-loop timer,
 * picking users, items and regions, and the load's lifecycle, settings,
 * truth and statistics (requests and answers are in load_http.c).
 *
 * Threads: load_new starts one thread that owns the event_base, the
 * connections, the PRNG, the users' state, the membership map and every
 * op. Other threads only touch what is under l->mu: the settings, the
 * truth counts, the stats, the histograms and the list of ops in flight
 * (the fields load_drain logs). No libevent call is made with mu held.
 *
 * Owns: the base, connections, ops, truth and histograms; load_free
 * releases all of them.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "sim/drill/evbase.h"
#include "sim/drill/load_int.h"
#include "log.h"
#include "xmem.h"

/* --- randomness and Zipf --------------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The index of "post:<id>", or -1. */
static long item_index(const load *l, const char *item)
{
	if (!item || strncmp(item, "post:", 5) != 0)
		return -1;
	const char *id = item + 5;
	if (strcmp(id, "viral") == 0)
		return l->o.items;
	if (id[0] != 'i' || id[1] < '0' || id[1] > '9' || (id[1] == '0' && id[2]))
		return -1;
	char *end;
	errno = 0;
	unsigned long k = strtoul(id + 1, &end, 10);
	if (*end || errno || k >= l->o.items)
		return -1;
	return (long)k;
}

static void count_skip(load *l)
{
	tsa_lock(&l->mu);
	l->st.skipped++;
	tsa_unlock(&l->mu);
}

static void start_read(load *l, double viral, const bool *up)
{
	int region = load_pick_up_region(l, up, -1);
	if (region < 0) {
		count_skip(l);
		return;
	}
	op *o = load_op_new(l, OP_READ, (unsigned)region);
	if (!o)
		return;
	unsigned want = 1 + load_rnd_below(l, READ_ITEMS_MAX), picked[READ_ITEMS_MAX], n = 0;
	int len = snprintf(o->path, sizeof o->path, "/v1/counts?items=");
	for (unsigned i = 0; i < want; i++) {
		unsigned it = load_pick_item(l, viral);
		bool dup = false;
		for (unsigned j = 0; j < n; j++)
			dup |= picked[j] == it;
		if (dup)
			continue;
		picked[n++] = it;
		char id[24];
		load_item_id(l, it, id, sizeof id);
		len += snprintf(o->path + len, sizeof o->path - (size_t)len, "%spost:%s",
		                n > 1 ? "," : "", id);
	}
	o->first_us = clock_mono_us();
	if (!load_op_claim(l, o)) {
		load_op_free(o);
		return;
	}
	load_send_attempt(o);
}

/* The user's newest like, if it still stands (load_types.h,
 * undo_share): its item in *item. */
static bool newest_like(load *l, unsigned user, unsigned *item)
{
	if (!l->liked)
		return false;
	tsa_lock(&l->mu);
	unsigned at = l->liked_at[user];
	uint32_t e = at ? l->liked[(size_t)user * LIKED_KEEP + (at - 1) % LIKED_KEEP] : 0;
	tsa_unlock(&l->mu);
	if (!at)
		return false;
	uint64_t key = (uint64_t)user << 32 | (e & ~AWAY_BIT);
	if (!smap_get(&l->members, &key, sizeof key))
		return false;
	*item = e & ~AWAY_BIT;
	return true;
}

static void start_write(load *l, double viral, const bool *up)
{
	int user = load_pick_idle_user(l);
	if (user < 0) {
		count_skip(l);
		return;
	}
	uint64_t since;
	unsigned home = load_home_of(l, (unsigned)user, &since);
	int region = home;
	if (!up[home] || (l->o.roam_share > 0 && load_rnd01(l) < l->o.roam_share))
		region = load_pick_up_region(l, up, (int)home);
	if (region < 0 || !up[region]) {
		count_skip(l);
		return;
	}
	unsigned item = load_pick_item(l, viral);
	op_kind kind = OP_LIKE;
	unsigned n = 1;
	if (l->o.sum_share > 0 && load_rnd01(l) < l->o.sum_share) {
		kind = OP_VIEW;
		n = 1 + load_rnd_below(l, 5);
	} else if (l->o.undo_share > 0 && load_rnd01(l) < l->o.undo_share &&
	           newest_like(l, (unsigned)user, &item)) {
		kind = OP_UNLIKE;
	} else {
		uint64_t key = (uint64_t)user << 32 | item;
		if (smap_get(&l->members, &key, sizeof key) && load_rnd01(l) < l->o.unlike_share)
			kind = OP_UNLIKE;
	}
	op *o = load_op_new(l, kind, (unsigned)region);
	if (!o)
		return;
	o->user = (unsigned)user;
	o->home = home;
	o->home_since = since;
	o->home_settled = !since || clock_wall_ms() >= since + l->o.converge_ms;
	o->item = item;
	o->n = n;
	char id[24];
	load_item_id(l, item, id, sizeof id);
	snprintf(o->path, sizeof o->path, "/v1/items/post/%s/%s", id,
	         kind == OP_VIEW ? LOAD_SUM_COUNTER : LOAD_SET_COUNTER);
	uint64_t hlc = l->last_hlc[user];
	int blen = 0;
	if (kind == OP_VIEW && hlc)
		blen = snprintf(o->body, sizeof o->body, "{\"n\":%u,\"hlc\":%" PRIu64 "}", n, hlc);
	else if (kind == OP_VIEW)
		blen = snprintf(o->body, sizeof o->body, "{\"n\":%u}", n);
	else if (hlc)
		blen = snprintf(o->body, sizeof o->body, "{\"hlc\":%" PRIu64 "}", hlc);
	o->body_len = (size_t)blen;
	o->first_us = clock_mono_us();
	if (!load_op_claim(l, o)) {
		load_op_free(o);
		return;
	}
	load_judge_sent(l, o);
	load_trace_sent(l, o);
	o->seq = ++l->opseq[user];
	l->busy[user] = 1;
	l->idle--;
	load_send_attempt(o);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	load *l = arg;
	if (atomic_load(&l->stop)) {
		event_base_loopbreak(l->base);
		return;
	}
	/* How late this tick runs: the time any answer waiting on this loop
	 * waits too, which the clients' latency holds and no edge's does.
	 * libevent plans a persistent timer from its last plan, or from now
	 * when that is past. */
	uint64_t now = clock_mono_us();
	if (!l->tick_due_us)
		l->tick_due_us = now; /* the first tick: planned before the loop ran */
	uint64_t late = now > l->tick_due_us ? now - l->tick_due_us : 0;
	l->tick_due_us = l->tick_due_us + TICK_US > now ? l->tick_due_us + TICK_US : now + TICK_US;
	bool up[LOAD_REGIONS_MAX];
	tsa_lock(&l->mu);
	double rate = l->draining ? 0 : l->rate, viral = l->viral_share;
	memcpy(up, l->up, sizeof up);
	hist_add(&l->lag, late);
	tsa_unlock(&l->mu);

	double dt = (double)(now - l->last_tick_us) / 1e6;
	l->last_tick_us = now;
	if (rate <= 0) {
		l->credit = 0;
		return;
	}
	/* Open loop, but a stalled loop does not make up more than 100 ms. */
	l->credit += rate * dt;
	if (l->credit > rate * 0.1 + 1)
		l->credit = rate * 0.1 + 1;
	while (l->credit >= 1 && !atomic_load(&l->stop)) {
		l->credit -= 1;
		double u = load_rnd01(l);
		if (u < l->o.read_share)
			start_read(l, viral, up);
		else if (u < l->o.read_share + l->o.me_share)
			load_me_start(l, viral, up);
		else
			start_write(l, viral, up);
	}
}

static void *load_main(void *arg)
{
	load *l = arg;
	/* Process signals are the main thread's, and a write to a closed
	 * socket must fail with EPIPE here, not kill the process. Faults
	 * (SIGSEGV...) stay unblocked for the sanitizers. */
	sigset_t set;
	sigemptyset(&set);
	int sigs[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
	              SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaddset(&set, sigs[i]);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	atomic_store(&l->tid, (int)gettid());
	l->last_tick_us = clock_mono_us();
	if (event_base_dispatch(l->base) < 0)
		log_error("load event loop failed", "%s", "");
	return NULL;
}

/* --- lifecycle ------------------------------------------------------------------- */

static bool share_ok(double x)
{
	return x >= 0 && x <= 1;
}

static int check_opts(const load_opts *o, char *err, size_t errlen)
{
	const char *why = NULL;
	if (o->regions < 1 || o->regions > LOAD_REGIONS_MAX)
		why = "regions must be 1..8";
	else if (!o->ports)
		why = "ports missing";
	else if (o->users < 1 || o->users > USERS_MAX)
		why = "users must be 1..10000000";
	else if (o->items < 1 || o->items > ITEMS_MAX)
		why = "items must be 1..1000000";
	else if (!(o->zipf_s > 0) || o->zipf_s > 100)
		why = "zipf_s must be > 0";
	else if (!share_ok(o->viral_share) || !share_ok(o->unlike_share) ||
	         !share_ok(o->sum_share) || !share_ok(o->roam_share) || !share_ok(o->read_share) ||
	         !share_ok(o->undo_share) || !share_ok(o->me_share) || !share_ok(o->give_up_share))
		why = "shares must be 0..1";
	else if (o->read_share + o->me_share > 1)
		why = "read and heart read shares must add up to at most 1";
	else if (!(o->rate >= 0) || o->rate > 1e7)
		why = "rate must be 0..1e7";
	else if (o->conns_per_instance > CONNS_MAX)
		why = "conns_per_instance must be at most LOAD_CONNS_MAX (64)";
	for (unsigned r = 0; !why && r < o->regions; r++)
		if (o->ports[r] <= 0 || o->ports[r] > 65535 ||
		    (o->standby_ports && (o->standby_ports[r] <= 0 || o->standby_ports[r] > 65535)))
			why = "bad port";
	if (why) {
		if (err && errlen)
			snprintf(err, errlen, "load: %s", why);
		return ERR_INVAL;
	}
	return 0;
}

load *load_new(const load_opts *o, char *err, size_t errlen)
{
	if (check_opts(o, err, errlen) != 0)
		return NULL;
	load *l = xcalloc(1, sizeof *l);
	l->o = *o;
	l->o.ports = NULL;
	l->o.standby_ports = NULL;
	l->o.ns = l->o.standby_ns = NULL;
	if (!l->o.timeout_ms)
		l->o.timeout_ms = 2000;
	if (!l->o.conns_per_instance)
		l->o.conns_per_instance = 8;
	l->ninst = o->standby_ports ? 2 : 1;
	for (unsigned r = 0; r < o->regions; r++) {
		l->ports[r][0] = o->ports[r];
		l->ns[r][0] = o->ns ? o->ns[r] : NULL;
		if (o->standby_ports) {
			l->ports[r][1] = o->standby_ports[r];
			l->ns[r][1] = o->standby_ns ? o->standby_ns[r] : NULL;
		}
		l->last_ack[r] = -1;
	}
	pthread_mutex_init(&l->mu, NULL);
	clock_cond_init(&l->drained);
	l->rate = o->rate;
	l->viral_share = o->viral_share;
	for (unsigned r = 0; r < o->regions; r++)
		l->up[r] = true;

	uint64_t s = o->seed;
	l->rng = splitmix(&s) | 1;
	load_zipf_init(&l->zipf, o->items, o->zipf_s);
	l->busy = xcalloc(o->users, 1);
	l->idle = o->users;
	l->opseq = xcalloc(o->users, sizeof *l->opseq);
	l->moved = xcalloc(o->users, sizeof *l->moved);
	l->last_hlc = xcalloc(o->users, sizeof *l->last_hlc);
	smap_init(&l->members);
	l->me_answer = load_me_answer;
	smap_init(&l->changed);
	smap_init(&l->changed_old);
	l->changed_us = clock_mono_us();
	if (o->me_share > 0 || o->undo_share > 0) {
		l->liked = xcalloc((size_t)o->users * LIKED_KEEP, sizeof *l->liked);
		l->liked_at = xcalloc(o->users, 1);
	}
	l->set_count = xcalloc(o->items + 1, sizeof *l->set_count);
	l->sum_count = xcalloc(o->items + 1, sizeof *l->sum_count);
	l->touched = xcalloc(o->items + 1, 1);
	load_judge_init(l);
	l->wr = xcalloc(LOAD_PHASES_MAX, sizeof *l->wr);
	l->rd = xcalloc(LOAD_PHASES_MAX, sizeof *l->rd);
	l->me = xcalloc(LOAD_PHASES_MAX, sizeof *l->me);
	size_t slots = (size_t)o->regions * LOAD_READY_PHASES_MAX;
	l->rwr = xcalloc(slots, sizeof *l->rwr);
	l->rrd = xcalloc(slots, sizeof *l->rrd);
	l->rme = xcalloc(slots, sizeof *l->rme);
	l->rst = xcalloc(slots, sizeof *l->rst);
	hist_init(&l->window);
	hist_init(&l->lag);
	hist_init(&l->hand);
	for (unsigned r = 0; r < LOAD_REGIONS_MAX; r++) {
		hist_init(&l->iwr[r]);
		hist_init(&l->ird[r]);
	}

	unsigned per = l->o.conns_per_instance, nconns = o->regions * l->ninst * per;
	l->conns = xcalloc(nconns, sizeof *l->conns);
	l->inflight = xcalloc(nconns, sizeof *l->inflight);
	l->base = sim_event_base_precise(); /* for the ticks and timeouts (evbase.h) */
	const char *why = NULL;
	if (!l->base)
		why = "event_base_new failed";
	for (unsigned i = 0; !why && i < nconns; i++) {
		unsigned slot = i / per; /* region * ninst + instance */
		l->conns[i] =
		    hconn_new(l->base, (uint16_t)l->ports[slot / l->ninst][slot % l->ninst],
		              ANSWER_MAX, HEADERS_MAX);
		if (!l->conns[i])
			why = "out of memory for a connection";
		else
			hconn_set_netns(l->conns[i], l->ns[slot / l->ninst][slot % l->ninst]);
	}
	if (!why) {
		l->tick = event_new(l->base, -1, EV_PERSIST, on_tick, l);
		struct timeval tv = {0, TICK_US};
		if (!l->tick || event_add(l->tick, &tv) != 0)
			why = "tick timer failed";
	}
	if (!why) {
		int rc = pthread_create(&l->thread, NULL, load_main, l);
		if (rc != 0)
			why = strerror(rc);
		else
			l->thread_started = true;
		if (!rc)
			(void)pthread_setname_np(l->thread, "sim-load");
	}
	if (why) {
		if (err && errlen)
			snprintf(err, errlen, "load: %s", why);
		load_free(l);
		return NULL;
	}
	log_info("load started",
	         "regions=%u instances=%u users=%u items=%u zipf_s=%.2f rate=%.0f viral=%.2f "
	         "unlike=%.2f undo=%.2f sum=%.2f roam=%.2f reads=%.2f timeout_ms=%u conns=%u "
	         "seed=%" PRIu64,
	         o->regions, l->ninst, o->users, o->items, o->zipf_s, o->rate, o->viral_share,
	         o->unlike_share, o->undo_share, o->sum_share, o->roam_share, o->read_share,
	         l->o.timeout_ms, per, o->seed);
	return l;
}

void load_free(load *l)
{
	if (!l)
		return;
	if (l->thread_started) {
		atomic_store(&l->stop, true);
		pthread_join(l->thread, NULL);
	}
	free(l->stalls);
	/* Freeing a connection frees its queued requests without calling
	 * back; the ops that sent them go next. */
	if (l->conns)
		for (unsigned i = 0; i < l->o.regions * l->ninst * l->o.conns_per_instance; i++)
			hconn_free(l->conns[i]);
	for (op *o = l->ops, *next; o; o = next) {
		next = o->next;
		load_op_free(o);
	}
	if (l->tick)
		event_free(l->tick);
	if (l->base)
		event_base_free(l->base);
	free(l->conns);
	free(l->inflight);
	load_zipf_free(&l->zipf);
	free(l->busy);
	free(l->opseq);
	free((void *)l->moved);
	free(l->last_hlc);
	smap_free(&l->members);
	smap_free(&l->changed);
	smap_free(&l->changed_old);
	free(l->liked);
	free(l->liked_at);
	free(l->set_count);
	free(l->sum_count);
	free(l->touched);
	load_judge_free(l);
	load_trace_free(l);
	free(l->wr);
	free(l->rd);
	free(l->me);
	free(l->rwr);
	free(l->rrd);
	free(l->rme);
	free(l->rst);
	pthread_cond_destroy(&l->drained);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* --- settings ---------------------------------------------------------------------- */

void load_set_rate(load *l, double ops_per_s)
{
	if (!(ops_per_s >= 0))
		ops_per_s = 0;
	tsa_lock(&l->mu);
	l->rate = ops_per_s;
	tsa_unlock(&l->mu);
}

void load_set_viral_share(load *l, double share)
{
	if (!(share >= 0))
		share = 0;
	if (share > 1)
		share = 1;
	tsa_lock(&l->mu);
	l->viral_share = share;
	tsa_unlock(&l->mu);
}

void load_set_region_up(load *l, unsigned region, bool up)
{
	if (region >= l->o.regions) {
		log_warn("load: no such region", "region=%u", region);
		return;
	}
	tsa_lock(&l->mu);
	l->up[region] = up;
	tsa_unlock(&l->mu);
}

size_t load_pick_movers(load *l, unsigned region, size_t n, unsigned *users)
{
	size_t k = 0;
	uint64_t since;
	for (unsigned u = 0; u < l->o.users && k < n; u++)
		if (load_home_of(l, u, &since) != region)
			users[k++] = u;
	return k;
}

void load_move_home(load *l, const unsigned *users, size_t n, unsigned region, uint64_t since_ms)
{
	if (region >= l->o.regions || !since_ms || since_ms >> 53) {
		log_warn("load: no such move", "region=%u since_ms=%" PRIu64, region, since_ms);
		return;
	}
	tsa_lock(&l->mu);
	for (size_t i = 0; i < n; i++)
		if (users[i] < l->o.users)
			atomic_store_explicit(&l->moved[users[i]], since_ms << 8 | region,
			                      memory_order_relaxed);
	tsa_unlock(&l->mu);
}

void load_set_region_ready(load *l, unsigned region, bool ready)
{
	if (region >= l->o.regions) {
		log_warn("load: no such region", "region=%u", region);
		return;
	}
	tsa_lock(&l->mu);
	if (ready && !l->ready[region])
		l->ready_epoch[region]++; /* a new spell: ops of the last one are out */
	l->ready[region] = ready;
	tsa_unlock(&l->mu);
}

void load_set_ready_phase(load *l, unsigned phase)
{
	if (phase >= LOAD_READY_PHASES_MAX) {
		log_warn("load: ready phase out of range", "phase=%u", phase);
		phase = LOAD_READY_PHASES_MAX - 1;
	}
	tsa_lock(&l->mu);
	l->ready_phase = phase;
	tsa_unlock(&l->mu);
}

void load_set_phase(load *l, unsigned phase)
{
	if (phase >= LOAD_PHASES_MAX) {
		log_warn("load: phase out of range", "phase=%u", phase);
		phase = LOAD_PHASES_MAX - 1;
	}
	tsa_lock(&l->mu);
	l->phase = phase;
	tsa_unlock(&l->mu);
}

int load_drain(load *l, unsigned timeout_ms)
{
	struct timespec dl = clock_mono_deadline(timeout_ms);
	tsa_lock(&l->mu);
	l->draining = true;
	int rc = 0;
	while (l->st.in_flight > 0 && rc == 0)
		rc = pthread_cond_timedwait(&l->drained, &l->mu, &dl);
	if (l->st.in_flight == 0) {
		tsa_unlock(&l->mu);
		return 0;
	}
	log_warn("load drain timed out", "in_flight=%" PRIu64, l->st.in_flight);
	uint64_t now = clock_mono_us();
	for (op *o = l->ops; o; o = o->next) {
		char id[24];
		load_item_id(l, o->item, id, sizeof id);
		if (!load_is_write(o))
			log_warn("load stuck op",
			         "op=read region=%u instance=%u attempts=%u age_ms=%" PRIu64
			         " path=%.120s",
			         o->region, o->inst, o->attempts, (now - o->first_us) / 1000,
			         o->path);
		else
			log_warn(
			    "load stuck op",
			    "op=%s user=u%u item=post:%s region=%u instance=%u key=u%u-%" PRIu64
			    " attempts=%u age_ms=%" PRIu64,
			    load_kind_name(o->kind), o->user, id, o->region, o->inst, o->user,
			    o->seq, o->attempts, (now - o->first_us) / 1000);
	}
	tsa_unlock(&l->mu);
	return ERR_TIMEOUT;
}

/* --- truth, stats, histograms -------------------------------------------------------- */

uint64_t load_truth_of(load *l, const char *counter, const char *item)
{
	long i = item_index(l, item);
	if (i < 0 || !counter)
		return 0;
	bool set = strcmp(counter, LOAD_SET_COUNTER) == 0;
	if (!set && strcmp(counter, LOAD_SUM_COUNTER) != 0)
		return 0;
	tsa_lock(&l->mu);
	uint64_t v = set ? l->set_count[i] : l->sum_count[i];
	tsa_unlock(&l->mu);
	return v;
}

static void fill_entry(const load *l, load_truth_entry *e, const char *counter, unsigned item,
                       uint64_t count) TSA_REQUIRES(l->mu)
{
	char id[24];
	load_item_id(l, item, id, sizeof id);
	snprintf(e->counter, sizeof e->counter, "%s", counter);
	snprintf(e->item, sizeof e->item, "post:%s", id);
	e->count = e->lo = e->hi = count;
	if (strcmp(counter, LOAD_SET_COUNTER) == 0)
		load_judge_range(l, item, count, &e->lo, &e->hi);
}

size_t load_truth(load *l, load_truth_entry **out)
{
	tsa_lock(&l->mu);
	size_t n = 0;
	for (unsigned i = 0; i <= l->o.items; i++)
		n += (l->touched[i] & TOUCH_SET ? 1 : 0) + (l->touched[i] & TOUCH_SUM ? 1 : 0);
	load_truth_entry *e = n ? xcalloc(n, sizeof *e) : NULL;
	size_t k = 0;
	for (unsigned i = 0; i <= l->o.items; i++) {
		if (l->touched[i] & TOUCH_SET)
			fill_entry(l, &e[k++], LOAD_SET_COUNTER, i, l->set_count[i]);
		if (l->touched[i] & TOUCH_SUM)
			fill_entry(l, &e[k++], LOAD_SUM_COUNTER, i, l->sum_count[i]);
	}
	tsa_unlock(&l->mu);
	*out = e;
	return n;
}

size_t load_members(load *l, load_member_entry **out)
{
	tsa_lock(&l->mu);
	size_t n = l->members.len, k = 0;
	load_member_entry *e = n ? xcalloc(n, sizeof *e) : NULL;
	size_t pos = 0, klen;
	const char *key;
	smap_val *v;
	while (k < n && smap_next(&l->members, &pos, &key, &klen, &v)) {
		uint64_t pair;
		if (klen != sizeof pair)
			continue;
		memcpy(&pair, key, sizeof pair);
		char id[24];
		load_item_id(l, (unsigned)(pair & 0xffffffffu), id, sizeof id);
		snprintf(e[k].item, sizeof e[k].item, "post:%s", id);
		snprintf(e[k].user, sizeof e[k].user, "u%u", (unsigned)(pair >> 32));
		k++;
	}
	tsa_unlock(&l->mu);
	*out = e;
	return k;
}

void load_get_stats(load *l, load_stats *out)
{
	tsa_lock(&l->mu);
	*out = l->st;
	tsa_unlock(&l->mu);
}

void load_get_hist(load *l, unsigned phase, bool reads, hist *out)
{
	if (phase >= LOAD_PHASES_MAX) {
		hist_init(out);
		return;
	}
	tsa_lock(&l->mu);
	*out = reads ? l->rd[phase] : l->wr[phase];
	tsa_unlock(&l->mu);
}

void load_get_region_stats(load *l, unsigned region, int phase, load_region_stats *out)
{
	memset(out, 0, sizeof *out);
	if (region >= l->o.regions || phase >= LOAD_READY_PHASES_MAX)
		return;
	tsa_lock(&l->mu);
	if (phase >= 0) {
		*out = l->rst[region * LOAD_READY_PHASES_MAX + (unsigned)phase];
	} else {
		*out = l->reg[region];
		for (unsigned p = 0; p < LOAD_READY_PHASES_MAX; p++) {
			const load_region_stats *s = &l->rst[region * LOAD_READY_PHASES_MAX + p];
			out->ready_acked += s->ready_acked;
			out->ready_reads += s->ready_reads;
			out->ready_read_errors += s->ready_read_errors;
		}
	}
	tsa_unlock(&l->mu);
}

void load_get_ready_hist(load *l, unsigned region, unsigned phase, bool reads, hist *out)
{
	if (region >= l->o.regions || phase >= LOAD_READY_PHASES_MAX) {
		hist_init(out);
		return;
	}
	size_t i = (size_t)region * LOAD_READY_PHASES_MAX + phase;
	tsa_lock(&l->mu);
	*out = reads ? l->rrd[i] : l->rwr[i];
	tsa_unlock(&l->mu);
}

void load_take_window(load *l, hist *out)
{
	tsa_lock(&l->mu);
	*out = l->window;
	hist_init(&l->window);
	tsa_unlock(&l->mu);
}

void load_take_lag(load *l, hist *lag, hist *hand)
{
	tsa_lock(&l->mu);
	*lag = l->lag;
	hist_init(&l->lag);
	if (hand)
		*hand = l->hand;
	hist_init(&l->hand);
	tsa_unlock(&l->mu);
}

/* --- standbys ------------------------------------------------------------------------ */

unsigned load_route(load *l, unsigned region)
{
	if (region >= l->o.regions)
		return 0;
	tsa_lock(&l->mu);
	unsigned k = l->route[region];
	tsa_unlock(&l->mu);
	return k;
}

pid_t load_thread_id(load *l)
{
	return l ? (pid_t)atomic_load(&l->tid) : 0;
}

int load_last_acked(load *l, unsigned region)
{
	if (region >= l->o.regions)
		return -1;
	tsa_lock(&l->mu);
	int k = l->last_ack[region];
	tsa_unlock(&l->mu);
	return k;
}

void load_instance_started(load *l, unsigned region, unsigned inst)
{
	if (region >= l->o.regions || inst >= l->ninst)
		return;
	tsa_lock(&l->mu);
	l->taken_us[region][inst] = 0;
	l->ack_us[region][inst] = 0;
	l->starts[region][inst]++;
	tsa_unlock(&l->mu);
}

void load_aim(load *l, unsigned region, unsigned inst, unsigned n)
{
	if (region >= l->o.regions || inst >= l->ninst)
		return;
	tsa_lock(&l->mu);
	l->aim_inst[region] = inst;
	l->aim_left[region] = n;
	tsa_unlock(&l->mu);
}

void load_watch_takeover(load *l, unsigned region, unsigned lost)
{
	if (region >= l->o.regions)
		return;
	tsa_lock(&l->mu);
	l->watch_us[region] = clock_mono_us();
	l->watch_first_us[region] = 0;
	l->watch_lost[region] = lost;
	tsa_unlock(&l->mu);
}

uint64_t load_takeover_us(load *l, unsigned region)
{
	if (region >= l->o.regions)
		return 0;
	tsa_lock(&l->mu);
	uint64_t t = l->watch_first_us[region];
	tsa_unlock(&l->mu);
	return t;
}

void load_get_instance_stats(load *l, unsigned region, unsigned inst, load_instance_stats *out)
{
	memset(out, 0, sizeof *out);
	if (region >= l->o.regions || inst >= l->ninst)
		return;
	tsa_lock(&l->mu);
	*out = l->ist[region][inst];
	for (const op *o = l->ops; o; o = o->next)
		if (load_is_write(o) && o->region == region && o->inst == inst && o->attempts)
			out->in_flight++;
	tsa_unlock(&l->mu);
}

void load_take_ready_window(load *l, unsigned region, hist *w, hist *rd)
{
	if (region >= l->o.regions) {
		hist_init(w);
		hist_init(rd);
		return;
	}
	tsa_lock(&l->mu);
	*w = l->iwr[region];
	*rd = l->ird[region];
	hist_init(&l->iwr[region]);
	hist_init(&l->ird[region]);
	tsa_unlock(&l->mu);
}
