/* load_fake.h - the fake edge test_load.c and test_load_me.c share,
 * with the helpers that start a load against it and hold its truth to
 * the fake's state. Header-only, included once per test file: the
 * fake's state, F, and the load under test, L, are the test file's own.
 *
 * The fake edge is two evhttp servers (regions 0 and 1) on one event_base
 * run by its own thread, and a second instance of each (their standbys:
 * only the instance F.active names takes writes, the other answers 503
 * not_active, as a standby does; -1 lets both take them, as a zombie
 * would), all sharing one state: per-user membership of
 * likes, sums of views, Idempotency-Key replay of the first answer, an
 * hlc per answer, /v1/counts from the counts applied (F.inflate adds
 * to the likes; F.cross adds the pairs of the item liked at both
 * regions, as an edge's own like of a pair liked elsewhere shows until
 * central has it), and /v1/me from the memberships (F.lie
 * makes it answer the first pair of a page wrong). Switches make it lose
 * the answer of every Nth write after applying it (the connection is
 * shut without an answer), answer 429/503, or refuse writes with 400. It
 * counts what it saw (per region, per item, anomalies such as a reused
 * key or a wrong hlc) so the tests can hold the load's truth against the
 * fake's state. The fake's loop is a fakesrv.h server: it checks a stop
 * flag on a 5 ms timer, so no thread but its own touches its base.
 */
#ifndef TESTS_SUPPORT_LOAD_FAKE_H
#define TESTS_SUPPORT_LOAD_FAKE_H

#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "sim/drill/load.h"
#include "clock.h"
#include "tests/support/fakesrv.h"
#include "log.h"
#include "smap.h"
#include "xmem.h"

#define LOAD_FAKE static __attribute__((unused))

#define REGIONS 2

static struct {
	fakesrv srv;
	int port[REGIONS];
	int sport[REGIONS];                 /* each region's second instance */
	atomic_int active[REGIONS];         /* the instance that takes writes; -1: both */
	atomic_int cut[REGIONS];            /* instance + 1 cut from its log: it answers
	                                     * writes 503 not_replicated; 0: none */
	atomic_int inst_writes[REGIONS][2]; /* writes each instance took */
	atomic_int late_ms[REGIONS][2];     /* answers of writes an instance took wait this long */

	atomic_int drop_every;  /* lose the answer of every Nth write, after applying it */
	atomic_int fail_status; /* 0, or answer every request with it (429, 503) */
	atomic_bool refuse;     /* answer writes 400 */

	atomic_int writes, dropped, replays, applied;
	atomic_int hits[REGIONS]; /* write requests */
	atomic_int away[REGIONS]; /* of which by users whose home is the other region */
	atomic_int reads[REGIONS];
	atomic_int reused, hlc_bad, hlc_missing, hlc_seen, bad;
	atomic_int me_reads, me_home_wrong; /* heart reads; of which with a wrong X-User-Home */
	/* Unlikes that took a like away; of which the user's newest like
	 * (the last POST of a like, whether it changed anything or not). */
	atomic_int unliked, unliked_newest;
	smap newest; /* user -> the like number of that newest like (members' u) */
	uint64_t likes_made;
	atomic_bool lie;     /* answer the first pair of a heart read wrong */
	atomic_uint inflate; /* /v1/counts answers this many likes more */
	atomic_uint version; /* /v1/counts names it in each item's freshness */
	atomic_bool cross;   /* ... and the pairs liked at both regions */
	/* Users below moved_below moved home to region moved_to since
	 * moved_since (the test's load_move_home): their heart reads may
	 * name the old home without X-User-Home-Since (started before) or
	 * the new one with it; me_moved counts the latter. */
	atomic_int moved_below, moved_to, me_moved;
	atomic_ullong moved_since;

	pthread_mutex_t mu;
	smap members;  /* "user item" -> 1 */
	smap liked_at; /* "user item" -> the regions that took a like of it (bits) */
	smap both;     /* item -> pairs liked at both regions */
	smap likes;    /* item -> members */
	smap views;    /* item -> sum */
	smap item_ops; /* item -> applied ops */
	smap idem;     /* "user key" -> stored (malloc'ed) */
	smap last_hlc; /* user -> hlc of its last answer */
	uint64_t hlc;
} F;

static load *L;

/* A recorded answer: the request's fingerprint, then the body. */
typedef struct stored {
	size_t fp_len;
	char data[]; /* fingerprint NUL body NUL */
} stored;

/* --- the fake edge ------------------------------------------------------------ */

LOAD_FAKE void reply(struct evhttp_request *req, int status, const char *body, bool replayed)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "application/json");
	if (replayed)
		evhttp_add_header(h, "Idempotent-Replayed", "true");
	struct evbuffer *b = evbuffer_new();
	evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, status, status < 300 ? "OK" : "Nope", b);
	evbuffer_free(b);
}

/* A write answer that waits before it leaves (F.late_ms): taken at once,
 * told late, as by an instance slow to answer. */
typedef struct late_answer {
	struct evhttp_request *req;
	int status;
	bool replayed;
	char body[];
} late_answer;

LOAD_FAKE void late_reply(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	late_answer *a = arg;
	reply(a->req, a->status, a->body, a->replayed);
	free(a);
}

LOAD_FAKE void reply_write(struct evhttp_request *req, int region, int inst, int status,
                           const char *body, bool replayed)
{
	int ms = atomic_load(&F.late_ms[region][inst]);
	if (ms <= 0) {
		reply(req, status, body, replayed);
		return;
	}
	size_t n = strlen(body);
	late_answer *a = xmalloc(sizeof *a + n + 1);
	a->req = req;
	a->status = status;
	a->replayed = replayed;
	memcpy(a->body, body, n + 1);
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	if (event_base_once(F.srv.base, -1, EV_TIMEOUT, late_reply, a, &tv) != 0) {
		free(a);
		reply(req, status, body, replayed);
	}
}

/* Shuts the connection so the client never sees the answer that follows. */
LOAD_FAKE void lose_answer(struct evhttp_request *req)
{
	struct bufferevent *bev =
	    evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
	shutdown(bufferevent_getfd(bev), SHUT_RDWR);
	atomic_fetch_add(&F.dropped, 1);
}

LOAD_FAKE uint64_t *counter_of(smap *m, const char *item)
{
	return &smap_put(m, item, strlen(item), NULL)->u;
}

/* Applies a new write (F.mu held); fills answer. 0 or an error status. */
LOAD_FAKE int apply_write(int method, const char *user, const char *item, const char *counter,
                          const char *body, char *answer, size_t cap)
{
	long long n = 1;
	uint64_t hlc = 0;
	bool has_hlc = false;
	if (body[0]) {
		json_error_t jerr;
		json_t *root = json_loads(body, 0, &jerr);
		if (!json_is_object(root)) {
			json_decref(root);
			return 400;
		}
		json_t *jn = json_object_get(root, "n"), *jh = json_object_get(root, "hlc");
		if (jn)
			n = json_integer_value(jn);
		if (jh) {
			has_hlc = true;
			hlc = (uint64_t)json_integer_value(jh);
		}
		json_decref(root);
	}
	if (n < 1 || n > 1000)
		return 400;
	uint64_t *last = counter_of(&F.last_hlc, user);
	if (has_hlc) {
		atomic_fetch_add(&F.hlc_seen, 1);
		if (hlc != *last)
			atomic_fetch_add(&F.hlc_bad, 1);
	} else if (*last) {
		atomic_fetch_add(&F.hlc_missing, 1);
	}

	char mkey[256];
	snprintf(mkey, sizeof mkey, "%s %s", user, item);
	bool member = false, changed = false;
	uint64_t count;
	if (strcmp(counter, "likes") == 0) {
		smap_val *m = smap_get(&F.members, mkey, strlen(mkey));
		bool in = m != NULL;
		member = method == EVHTTP_REQ_POST;
		changed = in != member;
		if (member && !in)
			(m = smap_put(&F.members, mkey, strlen(mkey), NULL))->u = ++F.likes_made;
		if (member)
			*counter_of(&F.newest, user) = m->u;
		if (!member && in) {
			atomic_fetch_add(&F.unliked, 1);
			if (m->u == *counter_of(&F.newest, user))
				atomic_fetch_add(&F.unliked_newest, 1);
			smap_del(&F.members, mkey, strlen(mkey));
		}
		uint64_t *c = counter_of(&F.likes, item);
		*c = *c + (changed ? (member ? 1 : (uint64_t)-1) : 0);
		count = *c;
	} else if (strcmp(counter, "views") == 0) {
		if (method != EVHTTP_REQ_POST)
			return 405;
		uint64_t *c = counter_of(&F.views, item);
		*c += (uint64_t)n;
		count = *c;
		changed = true;
	} else {
		return 404;
	}
	*last = ++F.hlc;
	(*counter_of(&F.item_ops, item))++;
	atomic_fetch_add(&F.applied, 1);
	snprintf(answer, cap,
	         "{\"item\":\"%s\",\"counter\":\"%s\",%s\"changed\":%s,\"count\":%llu,"
	         "\"hlc\":%llu}",
	         item, counter,
	         strcmp(counter, "likes") ? ""
	                                  : (member ? "\"member\":true," : "\"member\":false,"),
	         changed ? "true" : "false", (unsigned long long)count, (unsigned long long)F.hlc);
	return 200;
}

/* A like of item by user taken at region (F.mu held): the pair's
 * regions, and the item's pairs liked at both (of two: REGIONS is 2). */
LOAD_FAKE void note_liked_at(const char *user, const char *item, int region)
{
	char mkey[256];
	snprintf(mkey, sizeof mkey, "%s %s", user, item);
	uint64_t *at = counter_of(&F.liked_at, mkey);
	uint64_t was = *at;
	*at |= UINT64_C(1) << region;
	if (was && was != *at)
		(*counter_of(&F.both, item))++;
}

LOAD_FAKE void handle_write(struct evhttp_request *req, int region, int inst, const char *path)
{
	/* /v1/items/post/<id>/<counter> */
	char id[80], counter[40];
	if (sscanf(path, "/v1/items/post/%70[^/]/%32[a-z]", id, counter) != 2) {
		atomic_fetch_add(&F.bad, 1);
		reply(req, 404, "{\"error\":{\"code\":\"not_found\"}}", false);
		return;
	}
	char item[96];
	snprintf(item, sizeof item, "post:%s", id);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *user = evhttp_find_header(in, "X-User-Id");
	const char *key = evhttp_find_header(in, "Idempotency-Key");
	int method = evhttp_request_get_command(req);
	atomic_fetch_add(&F.hits[region], 1);
	if (!user || !key || user[0] != 'u') {
		atomic_fetch_add(&F.bad, 1);
		reply(req, 401, "{\"error\":{\"code\":\"unauthenticated\"}}", false);
		return;
	}
	if (atoi(user + 1) % REGIONS != region)
		atomic_fetch_add(&F.away[region], 1);
	int active = atomic_load(&F.active[region]);
	if (active >= 0 && active != inst) {
		reply(req, 503, "{\"error\":{\"code\":\"not_active\"}}", false);
		return;
	}
	if (atomic_load(&F.cut[region]) == inst + 1) {
		reply(req, 503, "{\"error\":{\"code\":\"not_replicated\"}}", false);
		return;
	}
	atomic_fetch_add(&F.inst_writes[region][inst], 1);
	int fail = atomic_load(&F.fail_status);
	if (fail) {
		reply(req, fail, "{\"error\":{\"code\":\"unavailable\"}}", false);
		return;
	}
	if (atomic_load(&F.refuse)) {
		reply(req, 400, "{\"error\":{\"code\":\"invalid_item\"}}", false);
		return;
	}
	struct evbuffer *ib = evhttp_request_get_input_buffer(req);
	size_t blen = evbuffer_get_length(ib);
	char body[256] = "";
	if (blen >= sizeof body) {
		reply(req, 413, "{\"error\":{\"code\":\"body_too_large\"}}", false);
		return;
	}
	evbuffer_copyout(ib, body, blen);
	body[blen] = '\0';
	char fp[512], ikey[256];
	snprintf(fp, sizeof fp, "%d %s %s", method, path, body);
	snprintf(ikey, sizeof ikey, "%s %s", user, key);

	int status;
	bool replayed = false;
	char answer[512];
	pthread_mutex_lock(&F.mu);
	smap_val *v = smap_get(&F.idem, ikey, strlen(ikey));
	if (v) {
		stored *s = v->p;
		if (s->fp_len != strlen(fp) || memcmp(s->data, fp, s->fp_len) != 0) {
			atomic_fetch_add(&F.reused, 1);
			status = 422;
			snprintf(answer, sizeof answer,
			         "{\"error\":{\"code\":\"idempotency_key_reused\"}}");
		} else {
			atomic_fetch_add(&F.replays, 1);
			status = 200;
			replayed = true;
			snprintf(answer, sizeof answer, "%s", s->data + s->fp_len + 1);
		}
	} else {
		status = apply_write(method, user, item, counter, body, answer, sizeof answer);
		if (status == 200 && method == EVHTTP_REQ_POST && strcmp(counter, "likes") == 0)
			note_liked_at(user, item, region);
		if (status == 200) {
			size_t fl = strlen(fp), al = strlen(answer);
			stored *s = xmalloc(sizeof *s + fl + al + 2);
			s->fp_len = fl;
			memcpy(s->data, fp, fl + 1);
			memcpy(s->data + fl + 1, answer, al + 1);
			smap_put(&F.idem, ikey, strlen(ikey), NULL)->p = s;
		} else {
			snprintf(answer, sizeof answer, "{\"error\":{\"code\":\"refused\"}}");
		}
	}
	pthread_mutex_unlock(&F.mu);

	int every = atomic_load(&F.drop_every);
	if (every > 0 && atomic_fetch_add(&F.writes, 1) % every == every - 1)
		lose_answer(req);
	reply_write(req, region, inst, status, answer, replayed);
}

/* GET /v1/me?counters=likes&items=post:a,post:b...: the memberships. */
LOAD_FAKE void handle_me(struct evhttp_request *req, int region, const char *query)
{
	atomic_fetch_add(&F.me_reads, 1);
	const char *user = evhttp_find_header(evhttp_request_get_input_headers(req), "X-User-Id");
	const char *home = evhttp_find_header(evhttp_request_get_input_headers(req), "X-User-Home");
	const char *items = query ? strstr(query, "items=") : NULL;
	if (!user || user[0] != 'u' || !items) {
		atomic_fetch_add(&F.bad, 1);
		reply(req, 400, "{}", false);
		return;
	}
	const char *since =
	    evhttp_find_header(evhttp_request_get_input_headers(req), "X-User-Home-Since");
	char want[16], want_since[24];
	int uid = atoi(user + 1);
	snprintf(want, sizeof want, "r%d", uid % REGIONS);
	snprintf(want_since, sizeof want_since, "%llu",
	         (unsigned long long)atomic_load(&F.moved_since));
	bool moved = uid < atomic_load(&F.moved_below) && since;
	if (moved)
		snprintf(want, sizeof want, "r%d", atomic_load(&F.moved_to));
	if (!home || strcmp(home, want) != 0 || (since && (!moved || strcmp(since, want_since))))
		atomic_fetch_add(&F.me_home_wrong, 1);
	else if (moved)
		atomic_fetch_add(&F.me_moved, 1);
	(void)region;
	char list[1024], out[4096];
	snprintf(list, sizeof list, "%s", items + 6);
	size_t n = (size_t)snprintf(out, sizeof out, "{\"me\":{");
	bool first = true, lie = atomic_load(&F.lie);
	pthread_mutex_lock(&F.mu);
	char *save = NULL;
	for (char *it = strtok_r(list, ",&", &save); it; it = strtok_r(NULL, ",&", &save)) {
		char mkey[256];
		snprintf(mkey, sizeof mkey, "%s %s", user, it);
		bool in = smap_get(&F.members, mkey, strlen(mkey)) != NULL;
		if (first && lie)
			in = !in;
		n += (size_t)snprintf(out + n, sizeof out - n, "%s\"%s\":{\"likes\":%s}",
		                      first ? "" : ",", it, in ? "true" : "false");
		first = false;
	}
	pthread_mutex_unlock(&F.mu);
	snprintf(out + n, sizeof out - n, "}}");
	reply(req, 200, out, false);
}

LOAD_FAKE void handler(struct evhttp_request *req, void *arg)
{
	int region = (int)(intptr_t)arg % REGIONS, inst = (int)(intptr_t)arg / REGIONS;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	if (!path) {
		atomic_fetch_add(&F.bad, 1);
		reply(req, 400, "{}", false);
		return;
	}
	int method = evhttp_request_get_command(req);
	if (method == EVHTTP_REQ_GET && strcmp(path, "/v1/me") == 0) {
		handle_me(req, region, evhttp_uri_get_query(uri));
		return;
	}
	if (method == EVHTTP_REQ_GET && strcmp(path, "/v1/counts") == 0) {
		atomic_fetch_add(&F.reads[region], 1);
		const char *q = evhttp_uri_get_query(uri);
		int fail = atomic_load(&F.fail_status);
		if (!q || strncmp(q, "items=post:", 11) != 0)
			atomic_fetch_add(&F.bad, 1);
		if (fail) {
			reply(req, fail, "{\"error\":{\"code\":\"count_unavailable\"}}", false);
			return;
		}
		/* Each item's likes and views as applied (F.inflate more). */
		char body[4096], fresh[2048];
		int n = snprintf(body, sizeof body, "{\"counts\":{");
		int fn = snprintf(fresh, sizeof fresh, "\"freshness\":{");
		unsigned version = atomic_load(&F.version);
		const char *p = q ? q + 6 : "";
		unsigned extra = atomic_load(&F.inflate);
		while (*p && n < (int)sizeof body - 200) {
			size_t len = strcspn(p, ",&");
			char item[128];
			snprintf(item, sizeof item, "%.*s", (int)(len < 127 ? len : 127), p);
			pthread_mutex_lock(&F.mu);
			smap_val *lv = smap_get(&F.likes, item, strlen(item));
			smap_val *vv = smap_get(&F.views, item, strlen(item));
			smap_val *bv = smap_get(&F.both, item, strlen(item));
			uint64_t likes = (lv ? lv->u : 0) + extra, views = vv ? vv->u : 0;
			if (atomic_load(&F.cross) && bv)
				likes += bv->u;
			pthread_mutex_unlock(&F.mu);
			n += snprintf(body + n, sizeof body - (size_t)n,
			              "%s\"%s\":{\"likes\":%llu,\"views\":%llu}",
			              body[n - 1] == '{' ? "" : ",", item,
			              (unsigned long long)likes, (unsigned long long)views);
			if (fn < (int)sizeof fresh - 200)
				fn += snprintf(fresh + fn, sizeof fresh - (size_t)fn,
				               "%s\"%s\":{\"version\":%u}",
				               fresh[fn - 1] == '{' ? "" : ",", item, version);
			p += len;
			if (*p != ',')
				break;
			p++;
		}
		snprintf(body + n, sizeof body - (size_t)n, "},%s}}", fresh);
		reply(req, 200, body, false);
		return;
	}
	if (method == EVHTTP_REQ_POST || method == EVHTTP_REQ_DELETE) {
		handle_write(req, region, inst, path);
		return;
	}
	atomic_fetch_add(&F.bad, 1);
	reply(req, 405, "{}", false);
}

LOAD_FAKE void setup(void)
{
	log_threshold = LOG_ERROR;
	signal(SIGPIPE, SIG_IGN); /* the fake writes to connections it shut */
	memset(&F, 0, sizeof F);
	pthread_mutex_init(&F.mu, NULL);
	smap_init(&F.members);
	smap_init(&F.liked_at);
	smap_init(&F.both);
	smap_init(&F.likes);
	smap_init(&F.views);
	smap_init(&F.item_ops);
	smap_init(&F.idem);
	smap_init(&F.last_hlc);
	smap_init(&F.newest);
	F.hlc = 1000;
	fakesrv_init(&F.srv);
	for (int k = 0; k < 2 * REGIONS; k++) {
		struct evhttp *http;
		int port = fakesrv_listen(&F.srv, &http, handler, (void *)(intptr_t)k);
		if (k < REGIONS)
			F.port[k] = port;
		else
			F.sport[k - REGIONS] = port;
		evhttp_set_allowed_methods(http,
		                           EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
	}
	fakesrv_start(&F.srv);
}

LOAD_FAKE void teardown(void)
{
	load_free(L);
	L = NULL;
	fakesrv_stop(&F.srv);
	smap_free(&F.members);
	smap_free(&F.liked_at);
	smap_free(&F.both);
	smap_free(&F.likes);
	smap_free(&F.views);
	smap_free(&F.item_ops);
	smap_free_values(&F.idem);
	smap_free(&F.last_hlc);
	smap_free(&F.newest);
	pthread_mutex_destroy(&F.mu);
}

/* --- helpers ------------------------------------------------------------------ */

LOAD_FAKE load_opts base_opts(void)
{
	load_opts o = {
	    .regions = REGIONS,
	    .ports = F.port,
	    .users = 40,
	    .items = 50,
	    .zipf_s = 1.1,
	    .viral_share = 0.2,
	    .unlike_share = 0.3,
	    .sum_share = 0.3,
	    .roam_share = 0.2,
	    .read_share = 0.1,
	    .rate = 1000,
	    .timeout_ms = 400,
	    .conns_per_instance = 4,
	    .seed = 7,
	};
	return o;
}

LOAD_FAKE void start(const load_opts *o)
{
	char err[128] = "";
	L = load_new(o, err, sizeof err);
	cr_assert_not_null(L, "load_new: %s", err);
}

LOAD_FAKE load_stats stats(void)
{
	load_stats s;
	load_get_stats(L, &s);
	return s;
}

typedef bool (*cond_fn)(void *);

/* Polls cond every 2 ms; false when ms pass first. */
LOAD_FAKE bool wait_for(cond_fn cond, void *arg, unsigned ms)
{
	uint64_t end = clock_mono_ms() + ms;
	while (!cond(arg)) {
		if (clock_mono_ms() >= end)
			return false;
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	return true;
}

LOAD_FAKE bool acked_at_least(void *arg)
{
	return stats().acked >= *(uint64_t *)arg;
}

LOAD_FAKE bool started_at_least(void *arg)
{
	return stats().started >= *(uint64_t *)arg;
}

LOAD_FAKE bool retried_at_least(void *arg)
{
	return stats().retried >= *(uint64_t *)arg;
}

LOAD_FAKE void wait_acked(uint64_t n, unsigned ms)
{
	cr_assert(wait_for(acked_at_least, &n, ms), "acked %llu of %llu in %u ms",
	          (unsigned long long)stats().acked, (unsigned long long)n, ms);
}

LOAD_FAKE void wait_started(uint64_t n, unsigned ms)
{
	cr_assert(wait_for(started_at_least, &n, ms), "started %llu of %llu in %u ms",
	          (unsigned long long)stats().started, (unsigned long long)n, ms);
}

LOAD_FAKE uint64_t fake_count(smap *m, const char *item)
{
	pthread_mutex_lock(&F.mu);
	smap_val *v = smap_get(m, item, strlen(item));
	uint64_t c = v ? v->u : 0;
	pthread_mutex_unlock(&F.mu);
	return c;
}

/* The load's truth and the fake's state agree on every (counter, item);
 * returns the number of entries. */
LOAD_FAKE size_t assert_truth_is_the_fakes(void)
{
	load_truth_entry *e = NULL;
	size_t n = load_truth(L, &e);
	for (size_t i = 0; i < n; i++) {
		bool likes = strcmp(e[i].counter, "likes") == 0;
		cr_assert(likes || strcmp(e[i].counter, "views") == 0, "counter %s", e[i].counter);
		uint64_t want = fake_count(likes ? &F.likes : &F.views, e[i].item);
		cr_assert_eq(e[i].count, want, "%s %s: truth %llu, edge %llu", e[i].counter,
		             e[i].item, (unsigned long long)e[i].count, (unsigned long long)want);
		cr_assert_eq(load_truth_of(L, e[i].counter, e[i].item), e[i].count);
	}
	/* The memberships: as many pairs in for each item as its count. */
	load_member_entry *m = NULL;
	size_t nm = load_members(L, &m);
	uint64_t likes = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(e[i].counter, "likes") != 0)
			continue;
		likes += e[i].count;
		uint64_t in = 0;
		for (size_t k = 0; k < nm; k++)
			in += strcmp(m[k].item, e[i].item) == 0;
		cr_assert_eq(in, e[i].count, "%s: %llu pairs in, count %llu", e[i].item,
		             (unsigned long long)in, (unsigned long long)e[i].count);
	}
	cr_assert_eq(nm, likes, "no pair of an item outside the truth");
	for (size_t k = 0; k < nm; k++)
		cr_assert(m[k].user[0] == 'u' && strncmp(m[k].item, "post:", 5) == 0, "%s %s",
		          m[k].user, m[k].item);
	free(m);
	free(e);
	/* And nothing the fake counted is missing from the truth. */
	smap *maps[2] = {&F.likes, &F.views};
	const char *names[2] = {"likes", "views"};
	for (int k = 0; k < 2; k++) {
		size_t pos = 0;
		const char *key;
		size_t klen;
		smap_val *v;
		pthread_mutex_lock(&F.mu);
		while (smap_next(maps[k], &pos, &key, &klen, &v)) {
			char item[128];
			snprintf(item, sizeof item, "%.*s", (int)klen, key);
			uint64_t want = v->u;
			pthread_mutex_unlock(&F.mu);
			cr_assert_eq(load_truth_of(L, names[k], item), want, "%s %s", names[k],
			             item);
			pthread_mutex_lock(&F.mu);
		}
		pthread_mutex_unlock(&F.mu);
	}
	return n;
}

LOAD_FAKE void assert_no_anomalies(void)
{
	cr_assert_eq(atomic_load(&F.reused), 0, "a key named two different requests");
	cr_assert_eq(atomic_load(&F.hlc_bad), 0,
	             "a write carried another hlc than the last answer's");
	cr_assert_eq(atomic_load(&F.hlc_missing), 0, "a write left out the user's hlc");
	cr_assert_eq(atomic_load(&F.bad), 0, "malformed requests");
	cr_assert_gt(atomic_load(&F.hlc_seen), 0, "writes hand back the hlc");
}

#endif
