/* load_http.c - one op's requests: attempts over the load's lean HTTP/1.1
 * connections (hconn.h) with a timeout, retries with backoff, and what
 * an answer does to the truth.
 *
 * Each attempt is a request on one of its region's keep-alive
 * connections (round-robin) with op->timer armed for timeout_ms. The
 * answer callback disarms it; a timeout cancels the request (its
 * callback then never runs). A failed attempt re-arms op->timer as a
 * backoff (50 ms doubling to 1 s, jittered), after which the same
 * request (same key) goes to the same region again. A request that got
 * no answer (the connection refused, lost or garbled) is answered with
 * status 0: a connection error.
 * With standbys each attempt goes to the region's routed instance (or
 * an aimed one), and a not_active or not_replicated answer, a
 * connection error or a timeout moves the region to its other instance
 * (load.h): the retry goes there, at once the first time.
 * No lock is held across a call into hconn (its callbacks run from
 * the event loop only, but a callback takes mu).
 *
 * Loop thread only; the state other threads read is updated under mu.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "sim/drill/load_int.h"
#include "log.h"
#include "xmem.h"

/* --- finishing ops ------------------------------------------------------------ */

void load_op_free(op *o)
{
	if (o->timer)
		event_free(o->timer);
	free(o->page);
	free(o);
}

/* Takes o off the in-flight list, frees its user and o. */
void load_op_finish(op *o)
{
	load *l = o->l;
	tsa_lock(&l->mu);
	if (o->prev)
		o->prev->next = o->next;
	else
		l->ops = o->next;
	if (o->next)
		o->next->prev = o->prev;
	if (--l->st.in_flight == 0)
		pthread_cond_broadcast(&l->drained);
	tsa_unlock(&l->mu);
	if (o->kind != OP_READ && !o->given_up) { /* a user's: a write or a heart read */
		l->busy[o->user] = 0;
		l->idle++;
	}
	load_op_free(o);
}

/* The attempt at o->inst found no active instance there (not_active,
 * no connection, no answer): the region's requests go to its other
 * instance from now on, unless an earlier failure moved them already.
 * True when o's next attempt goes elsewhere than this one. */
static bool route_away(op *o)
{
	load *l = o->l;
	if (l->ninst < 2)
		return false;
	unsigned r = o->region;
	bool switched = false;
	tsa_lock(&l->mu);
	if (load_is_write(o))
		l->ist[r][o->inst].failed++;
	if (l->route[r] == o->inst) {
		l->route[r] = (o->inst + 1) % l->ninst;
		l->st.switches++;
		switched = true;
	}
	bool moved = l->route[r] != o->inst;
	unsigned to = l->route[r];
	tsa_unlock(&l->mu);
	if (switched)
		log_debug("load: region moves to its other instance", "region=%u from=%u to=%u", r,
		          o->inst, to);
	return moved;
}

/* The attempt failed without an answer the truth can use: a read ends as
 * an error; a write backs off, then tries the same region again (at
 * once, the first time its region moved to another instance). */
static void attempt_failed(op *o, int status, const char *why, bool moved)
{
	load *l = o->l;
	if (o->kind == OP_ME) {
		tsa_lock(&l->mu);
		l->mst.errors++;
		tsa_unlock(&l->mu);
		load_op_finish(o);
		return;
	}
	if (o->kind == OP_READ) {
		tsa_lock(&l->mu);
		l->st.read_errors++;
		if (status == 503)
			l->st.read_unavailable++;
		l->reg[o->region].read_errors++;
		int slot = load_ready_slot(l, o);
		if (slot >= 0)
			l->rst[slot].ready_read_errors++;
		tsa_unlock(&l->mu);
		load_op_finish(o);
		return;
	}
	if (status == 0 && (!strcmp(why, "timeout") || !strcmp(why, "connection")) &&
	    load_judge_give_up(o)) {
		load_op_finish(o);
		return;
	}
	unsigned ms = 0;
	if (moved && !o->fast_used) {
		o->fast_used = true;
	} else {
		unsigned d = o->backoff_ms;
		o->backoff_ms = d * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d * 2;
		ms = d / 2 + load_rnd_below(l, d / 2 + 1);
	}
	log_debug("load retry",
	          "user=u%u seq=%" PRIu64 " region=%u instance=%u why=%s status=%d delay_ms=%u",
	          o->user, o->seq, o->region, o->inst, why, status, ms);
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	if (evtimer_add(o->timer, &tv) != 0) {
		log_error("load timer failed", "user=u%u", o->user);
		load_send_attempt(o); /* no timer: retry at once rather than hang */
	}
}

static uint64_t json_hlc(json_t *root)
{
	json_t *h = json_object_get(root, "hlc");
	if (!json_is_integer(h) || json_integer_value(h) <= 0)
		return 0;
	return (uint64_t)json_integer_value(h);
}

/* Under mu, with standbys: o's ack at now, from o->inst, replayed or
 * not. Its region's last ack, the takeover watch, and which instances
 * were taken over from. True when o->inst itself was taken over from
 * before o's attempt was sent: a stale ack.
 *
 * An instance j is taken over from when another acks a write sent after
 * the load learned of j's last ack: one sent before may have been taken
 * before j's, and an answer read late says nothing of who holds the
 * region now. A replayed answer gives the first one's outcome, not a
 * write of its own: it is never stale and takes nothing over. */
static bool instance_acked(load *l, const op *o, bool replayed, uint64_t now) TSA_REQUIRES(l->mu)
{
	unsigned r = o->region, k = o->inst;
	bool stale = !replayed && l->taken_us[r][k] && o->sent_us > l->taken_us[r][k];
	l->ist[r][k].acked++;
	if (stale) {
		l->ist[r][k].stale_acks++;
		l->st.stale_acks++;
	}
	if (replayed || stale) /* a stale ack is the bug, not a takeover */
		return stale;
	l->ack_us[r][k] = now;
	for (unsigned j = 0; j < l->ninst; j++)
		if (j != k && l->ack_us[r][j] && !l->taken_us[r][j] &&
		    o->sent_us > l->ack_us[r][j]) {
			l->taken_us[r][j] = now;
			l->taken_by[r][j] = (uint8_t)k;
		}
	/* An answer of the region's former active read late (sent before
	 * the load learned of the current one's last ack) changes nothing:
	 * not the active, not the takeover watch. */
	int last = l->last_ack[r];
	if (last >= 0 && last != (int)k && o->sent_us <= l->ack_us[r][last])
		return false;
	if (l->watch_us[r] && !l->watch_first_us[r] && k != l->watch_lost[r])
		l->watch_first_us[r] = now;
	if (last >= 0 && last != (int)k)
		l->st.active_changes++;
	l->last_ack[r] = (int)k;
	return false;
}

/* Under mu: o's attempt at o->inst was answered not_active. Sent after
 * the load saw that instance take another over, it says the instance
 * has lost the region since (a takeover fenced it): the one it took
 * over from is no longer held off by it, and may hold the region again
 * without a restart. */
static void instance_refused(load *l, const op *o) TSA_REQUIRES(l->mu)
{
	unsigned r = o->region, k = o->inst;
	for (unsigned j = 0; j < l->ninst; j++)
		if (j != k && l->taken_us[r][j] && l->taken_by[r][j] == k &&
		    o->sent_us > l->taken_us[r][j])
			l->taken_us[r][j] = 0;
}

/* A write answered 2xx at now: the truth moves, the user learns the hlc. */
static void write_acked(op *o, const hanswer *a, uint64_t now)
{
	load *l = o->l;
	bool replayed = a->replayed;
	const char *body = a->body;
	size_t len = a->body_len;
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);
	uint64_t hlc = root ? json_hlc(root) : 0;
	/* An answer that does not say whether the edge's count moved, or
	 * gives no clock, is traced as never answered: the end check then
	 * allows for it both ways, for good. */
	json_t *changed = json_object_get(root, "changed");
	load_trace_end(l, o,
	               !hlc                     ? LOAD_WRITE_OPEN
	               : json_is_true(changed)  ? LOAD_WRITE_ACKED
	               : json_is_false(changed) ? LOAD_WRITE_UNCHANGED
	                                        : LOAD_WRITE_OPEN,
	               hlc, now);
	if (o->kind != OP_VIEW && root) {
		json_t *m = json_object_get(root, "member");
		if (json_is_boolean(m) && json_is_true(m) != (o->kind == OP_LIKE))
			log_warn("load answer disagrees with its op",
			         "user=u%u item=%u op=%s body=%.*s", o->user, o->item,
			         load_kind_name(o->kind), (int)(len < 200 ? len : 200), body);
	}
	if (!root)
		log_warn("load answer is not JSON", "user=u%u err=%s", o->user, jerr.text);
	json_decref(root);
	if (hlc)
		l->last_hlc[o->user] = hlc;

	uint64_t lat = now - o->first_us;
	bool stale = false;
	tsa_lock(&l->mu);
	/* The membership map: changed here under mu, read without it on
	 * this thread and with it elsewhere (load_members). */
	uint64_t key = (uint64_t)o->user << 32 | o->item;
	int delta = 0;
	if (o->kind == OP_LIKE) {
		bool created = false;
		smap_val *v = smap_put(&l->members, &key, sizeof key, &created);
		if (created) {
			v->u = 1;
			delta = 1;
		}
	} else if (o->kind == OP_UNLIKE) {
		if (smap_del(&l->members, &key, sizeof key))
			delta = -1;
	}
	if (o->kind != OP_VIEW)
		load_me_note(l, o->user, o->item, o->region != o->home, o->kind == OP_LIKE,
		             load_judge_ack_tag(l, o));
	if (l->ninst > 1) /* the takeover watch's clock: when the load learns of the ack */
		stale = instance_acked(l, o, replayed, clock_mono_us());
	l->st.acked++;
	if (replayed)
		l->st.replayed++;
	if (o->kind == OP_VIEW) {
		l->sum_count[o->item] += o->n;
		l->touched[o->item] |= TOUCH_SUM;
	} else {
		l->set_count[o->item] += (uint64_t)(int64_t)delta;
		l->touched[o->item] |= TOUCH_SET;
	}
	hist_add(&l->wr[l->phase], lat);
	hist_add(&l->window, lat);
	l->reg[o->region].acked++;
	int slot = load_ready_slot(l, o);
	if (slot >= 0) {
		hist_add(&l->rwr[slot], lat);
		hist_add(&l->iwr[o->region], lat);
		l->rst[slot].ready_acked++;
	}
	tsa_unlock(&l->mu);
	if (stale)
		log_error(
		    "load: a write was acknowledged by an instance another one had taken over "
		    "from",
		    "user=u%u key=u%u-%" PRIu64 " region=%u instance=%u", o->user, o->user, o->seq,
		    o->region, o->inst);
	load_op_finish(o);
}

/* The error code a 503 or 409 gives: 1 for not_active (a standby, or a
 * fenced one), 2 for not_replicated (an active one cut from its
 * changelog's cluster), 3 for clock_ahead (409: the hlc sent too far
 * ahead of the edge's clock), 0 for anything else. */
static int refusal(const hanswer *a)
{
	if (!a->body_len)
		return 0;
	json_t *root = json_loadb(a->body, a->body_len, 0, NULL);
	const char *code =
	    json_string_value(json_object_get(json_object_get(root, "error"), "code"));
	int r = !code                                 ? 0
	        : strcmp(code, "not_active") == 0     ? 1
	        : strcmp(code, "not_replicated") == 0 ? 2
	        : strcmp(code, "clock_ahead") == 0    ? 3
	                                              : 0;
	json_decref(root);
	return r;
}

/* o's attempt has left its connection (answered, cancelled or never
 * sent). */
static void conn_done(op *o)
{
	if (o->conn >= 0)
		o->l->inflight[o->conn]--;
	o->conn = -1;
}

static void on_answer(const hanswer *a, void *arg)
{
	/* The answer's time: when its last bytes reached the socket (the
	 * kernel's receive timestamp), before this thread woke to it and
	 * did its own work (docs/drills.md, "The load's clients"); the time
	 * now when the kernel gave none. */
	op *o = arg;
	load *l = o->l;
	uint64_t now = clock_mono_us();
	if (a->at_us && a->at_us >= o->sent_us && a->at_us <= now) {
		tsa_lock(&l->mu);
		hist_add(&l->hand, now - a->at_us);
		tsa_unlock(&l->mu);
		now = a->at_us;
	}
	evtimer_del(o->timer);
	o->req = NULL;
	conn_done(o);
	int status = a->status;
	if (status == 0) {
		attempt_failed(o, 0, "connection", route_away(o));
		return;
	}
	if (o->kind == OP_ME) {
		if (status < 200 || status > 299)
			attempt_failed(o, status, "status", false);
		else
			l->me_answer(o, a, now);
		return;
	}
	if (o->kind == OP_READ) {
		if (status < 200 || status > 299) {
			attempt_failed(o, status, "status", false);
			return;
		}
		load_judge_counts(l, o, a, now);
		uint64_t lat = now - o->first_us;
		tsa_lock(&l->mu);
		hist_add(&l->rd[l->phase], lat);
		int slot = load_ready_slot(l, o);
		if (slot >= 0) {
			hist_add(&l->rrd[slot], lat);
			hist_add(&l->ird[o->region], lat);
			l->rst[slot].ready_reads++;
		}
		tsa_unlock(&l->mu);
		load_op_finish(o);
		return;
	}
	int why = status == 503 || status == 409 ? refusal(a) : 0;
	if (status >= 200 && status <= 299) {
		write_acked(o, a, now);
	} else if (why == 3) {
		/* The edge's clock is behind the user's last answer by more
		 * than its bound: it refused rather than order the write
		 * before that one (docs/api.md). Not in the truth; not a
		 * fault of the edge. */
		load_trace_end(l, o, LOAD_WRITE_REFUSED, 0, now);
		tsa_lock(&l->mu);
		l->st.refused++;
		l->st.clock_refused++;
		tsa_unlock(&l->mu);
		load_op_finish(o);
	} else if (why) {
		tsa_lock(&l->mu);
		if (why == 1) {
			l->st.not_active++;
			l->ist[o->region][o->inst].not_active++;
			if (l->ninst > 1)
				instance_refused(l, o);
		} else {
			l->st.not_replicated++;
			l->ist[o->region][o->inst].not_replicated++;
		}
		tsa_unlock(&l->mu);
		attempt_failed(o, status, why == 1 ? "not_active" : "not_replicated",
		               route_away(o));
	} else if (status == 429 || status >= 500) {
		attempt_failed(o, status, "status", false);
	} else {
		log_info("load op refused", "user=u%u item=%u op=%s status=%d", o->user, o->item,
		         load_kind_name(o->kind), status);
		load_trace_end(l, o, LOAD_WRITE_REFUSED, 0, now);
		tsa_lock(&l->mu);
		l->st.refused++;
		tsa_unlock(&l->mu);
		load_op_finish(o);
	}
}

/* Attempt timeout (a request is out) or the end of a backoff. */
static void on_op_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	op *o = arg;
	if (o->req) {
		hconn_cancel(o->l->conns[o->conn], o->req); /* its callback will not run */
		o->req = NULL;
		conn_done(o);
		attempt_failed(o, 0, "timeout", route_away(o));
	} else {
		load_send_attempt(o);
	}
}

/* The instance o's next attempt goes to: an aimed one while aimed
 * attempts are left (writes), else the region's route. Under mu. */
static unsigned pick_instance(load *l, const op *o) TSA_REQUIRES(l->mu)
{
	unsigned r = o->region;
	if (load_is_write(o) && l->aim_left[r]) {
		l->aim_left[r]--;
		return l->aim_inst[r];
	}
	return l->route[r];
}

/* o's request for instance inst, whole, into buf (REQUEST_MAX); its
 * length, or 0 when it does not fit. */
static size_t build_request(const load *l, const op *o, unsigned inst, char *buf)
{
	const char *method = o->kind == OP_UNLIKE ? "DELETE" : load_is_write(o) ? "POST" : "GET";
	int n = snprintf(buf, REQUEST_MAX, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", method,
	                 o->path, l->ports[o->region][inst]);
	if (o->kind != OP_READ) {
		n += snprintf(buf + n, REQUEST_MAX - (size_t)n, "X-User-Id: u%u\r\n", o->user);
		if (l->o.homes)
			n += snprintf(buf + n, REQUEST_MAX - (size_t)n, "X-User-Home: r%u\r\n",
			              o->home);
		if (l->o.homes && o->home_since)
			n += snprintf(buf + n, REQUEST_MAX - (size_t)n,
			              "X-User-Home-Since: %" PRIu64 "\r\n", o->home_since);
	}
	if (load_is_write(o)) {
		n += snprintf(buf + n, REQUEST_MAX - (size_t)n,
		              "Idempotency-Key: u%u-%" PRIu64 "\r\nContent-Length: %zu\r\n",
		              o->user, o->seq, o->body_len);
		if (o->body_len)
			n += snprintf(buf + n, REQUEST_MAX - (size_t)n,
			              "Content-Type: application/json\r\n");
	}
	n += snprintf(buf + n, REQUEST_MAX - (size_t)n, "\r\n");
	if (n <= 0 || (size_t)n + o->body_len >= REQUEST_MAX)
		return 0;
	memcpy(buf + n, o->body, o->body_len);
	return (size_t)n + o->body_len;
}

/* Sends o's request once more. o may be gone when this returns. */
void load_send_attempt(op *o)
{
	load *l = o->l;
	unsigned per = l->o.conns_per_instance;
	tsa_lock(&l->mu);
	unsigned inst = pick_instance(l, o);
	o->inst = inst;
	tsa_unlock(&l->mu);
	unsigned slot = o->region * l->ninst + inst;
	int ci = (int)(slot * per + load_conn_pick(l, o, inst, slot * per));
	char req[REQUEST_MAX];
	size_t len = build_request(l, o, inst, req);
	if (!len) {
		log_error("load request build failed", "user=u%u", o->user);
		attempt_failed(o, 0, "alloc", false);
		return;
	}

	tsa_lock(&l->mu);
	if (load_is_write(o)) {
		l->st.attempts++;
		if (o->attempts > 0)
			l->st.retried++;
	}
	o->attempts++;
	o->sent_us = clock_mono_us();
	tsa_unlock(&l->mu);

	unsigned ms = l->o.timeout_ms;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	if (evtimer_add(o->timer, &tv) != 0) {
		log_error("load timer failed", "user=u%u", o->user);
		attempt_failed(o, 0, "timer", false);
		return;
	}
	o->req = hconn_send(l->conns[ci], req, len, on_answer, o);
	if (!o->req) {
		log_warn("load request not sent", "region=%u instance=%u path=%s", o->region, inst,
		         o->path);
		evtimer_del(o->timer);
		attempt_failed(o, 0, "send", route_away(o));
		return;
	}
	o->conn = ci;
	l->inflight[ci]++;
}

op *load_op_new(load *l, op_kind kind, unsigned region)
{
	op *o = xcalloc(1, sizeof *o);
	o->l = l;
	o->kind = kind;
	o->region = region;
	o->backoff_ms = BACKOFF_FIRST_MS;
	o->conn = -1;
	o->timer = evtimer_new(l->base, on_op_timer, o);
	if (!o->timer) {
		free(o);
		return NULL;
	}
	return o;
}
