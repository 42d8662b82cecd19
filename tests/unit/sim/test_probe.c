/* test_probe.c - `sim converge-probe` against two fake edges: A takes
 * likes, B answers counts that show each like a fixed delay after A took
 * it. Checks that samples are never earlier than the fake made a like
 * visible and not much later, that B's baseline is respected, that likes
 * B never shows time out, that refused or repeated likes are errors and
 * not samples, that polls respect the batch size, that closed
 * connections are reopened, the option bounds and the quantile rule.
 * A bound on a sample's lateness adds how late the machine itself woke
 * threads in that run (sim/drill/wakeprobe.h).
 *
 * Both fakes are evhttp listeners on one fakesrv.h server whose loop
 * runs on its own thread; their shared state is under F.mu.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "sim/drill/hist.h"
#include "sim/drill/probe.h"
#include "sim/drill/wakeprobe.h"
#include "clock.h"
#include "tests/support/fakesrv.h"
#include "item.h"
#include "log.h"

#define LIKED_MAX 2048

static struct {
	fakesrv srv;
	int port_a, port_b;
	pthread_mutex_t mu;
	/* How the fakes behave; set before serve(). */
	int like_status;   /* A's status for a like */
	bool like_repeat;  /* A says "changed": false */
	bool never;        /* B never shows a like */
	bool close_each;   /* B ends every connection after its answer */
	bool drop_each;    /* A ends every connection after its answer, unannounced */
	uint64_t base;     /* B's count before a like */
	uint64_t delay_us; /* B shows a like this long after A took it */
	/* What they saw. */
	struct {
		char item[ITEM_MAX + 1];
		uint64_t at_us;
	} liked[LIKED_MAX];
	size_t nliked;
	int likes, baselines, polls, most_items;
	bool bad_request; /* a request the fakes did not expect */
} F;

static void reply(struct evhttp_request *req, int status, const char *body)
{
	struct evbuffer *out = evbuffer_new();
	cr_assert_not_null(out);
	evbuffer_add(out, body, strlen(body));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evhttp_send_reply(req, status, status == 200 ? "OK" : "Error", out);
	evbuffer_free(out);
}

/* The id in /v1/items/post/ID/likes, or false. */
static bool item_of_path(const char *path, char *item, size_t cap)
{
	char id[ITEM_ID_MAX + 1];
	int end = 0;
	if (sscanf(path, "/v1/items/post/%64[A-Za-z0-9_-]/likes%n", id, &end) != 1 ||
	    path[end] != '\0')
		return false;
	snprintf(item, cap, "post:%s", id);
	return true;
}

/* B's count of item now (F.mu held). */
static uint64_t count_of(const char *item, uint64_t now)
{
	for (size_t i = 0; i < F.nliked; i++)
		if (strcmp(F.liked[i].item, item) == 0)
			return F.base + (!F.never && now >= F.liked[i].at_us + F.delay_us ? 1 : 0);
	return F.base;
}

/* Runs once the answer is written and before evhttp decides whether to
 * keep the connection (libevent 2.1's evhttp_send_done reads the request's
 * headers after this callback): a "Connection: close" added to the
 * request's headers now ends the connection though the answer did not say
 * so, as a server closing an idle connection looks to its client. Unlike
 * an idle timer, it never fires on a connection before its request. */
static void drop_after_answer(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_add_header(evhttp_request_get_input_headers(req), "Connection", "close");
}

static void on_a(struct evhttp_request *req, void *arg)
{
	(void)arg;
	char item[ITEM_MAX + 1];
	const char *user = evhttp_find_header(evhttp_request_get_input_headers(req), "X-User-Id");
	pthread_mutex_lock(&F.mu);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST || !user ||
	    !item_of_path(evhttp_request_get_uri(req), item, sizeof item) ||
	    F.nliked == LIKED_MAX) {
		F.bad_request = true;
		pthread_mutex_unlock(&F.mu);
		reply(req, 400, "{\"error\":{\"code\":\"bad\"}}");
		return;
	}
	F.likes++;
	int status = F.like_status;
	bool repeat = F.like_repeat;
	if (status == 200 && !repeat) {
		snprintf(F.liked[F.nliked].item, sizeof F.liked[F.nliked].item, "%s", item);
		F.liked[F.nliked].at_us = clock_mono_us();
		F.nliked++;
	}
	bool drop = F.drop_each;
	pthread_mutex_unlock(&F.mu);
	if (drop)
		evhttp_request_set_on_complete_cb(req, drop_after_answer, NULL);
	if (status != 200)
		reply(req, status, "{\"error\":{\"code\":\"refused\"}}");
	else
		reply(req, 200,
		      repeat ? "{\"changed\":false,\"count\":1}"
		             : "{\"changed\":true,\"count\":1}");
}

/* GET /v1/counts?items=...&counters=likes */
static void answer_counts(struct evhttp_request *req, const char *query)
{
	struct evkeyvalq kv;
	TAILQ_INIT(&kv);
	const char *items = NULL;
	if (query && evhttp_parse_query_str(query, &kv) == 0)
		items = evhttp_find_header(&kv, "items");
	const char *counters = items ? evhttp_find_header(&kv, "counters") : NULL;
	if (!items || !counters || strcmp(counters, "likes") != 0) {
		pthread_mutex_lock(&F.mu);
		F.bad_request = true;
		pthread_mutex_unlock(&F.mu);
		evhttp_clear_headers(&kv);
		reply(req, 400, "{\"error\":{\"code\":\"bad\"}}");
		return;
	}
	struct evbuffer *out = evbuffer_new();
	cr_assert_not_null(out);
	evbuffer_add_printf(out, "{\"counts\":{");
	uint64_t now = clock_mono_us();
	int n = 0;
	pthread_mutex_lock(&F.mu);
	for (const char *p = items; *p;) {
		size_t len = strcspn(p, ",");
		char item[ITEM_MAX + 1];
		snprintf(item, sizeof item, "%.*s", (int)len, p);
		evbuffer_add_printf(out, "%s\"%s\":{\"likes\":%llu}", n++ ? "," : "", item,
		                    (unsigned long long)count_of(item, now));
		p += len + (p[len] == ',');
	}
	F.polls++;
	if (n > F.most_items)
		F.most_items = n;
	bool close_each = F.close_each;
	pthread_mutex_unlock(&F.mu);
	evbuffer_add_printf(out, "},\"display\":{}}");
	evhttp_clear_headers(&kv);
	if (close_each)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	evhttp_send_reply(req, 200, "OK", out);
	evbuffer_free(out);
}

static void on_b(struct evhttp_request *req, void *arg)
{
	(void)arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = evhttp_uri_get_path(u);
	char item[ITEM_MAX + 1], body[64];
	if (evhttp_request_get_command(req) == EVHTTP_REQ_GET && path &&
	    strcmp(path, "/v1/counts") == 0) {
		answer_counts(req, evhttp_uri_get_query(u));
		return;
	}
	pthread_mutex_lock(&F.mu);
	bool ok = evhttp_request_get_command(req) == EVHTTP_REQ_GET && path &&
	          item_of_path(path, item, sizeof item);
	if (ok) {
		F.baselines++;
		snprintf(body, sizeof body, "{\"count\":%llu}",
		         (unsigned long long)count_of(item, clock_mono_us()));
	} else {
		F.bad_request = true;
	}
	bool close_each = F.close_each;
	pthread_mutex_unlock(&F.mu);
	if (close_each)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	reply(req, ok ? 200 : 400, ok ? body : "{\"error\":{\"code\":\"bad\"}}");
}

static void setup(void)
{
	memset(&F, 0, sizeof F);
	pthread_mutex_init(&F.mu, NULL);
	F.like_status = 200;
	log_set_level("error");
}

static void teardown(void)
{
	fakesrv_stop(&F.srv);
	pthread_mutex_destroy(&F.mu);
}

/* Starts both fakes with the settings in F. */
static void serve(void)
{
	fakesrv_init(&F.srv);
	F.port_a = fakesrv_listen(&F.srv, NULL, on_a, NULL);
	F.port_b = fakesrv_listen(&F.srv, NULL, on_b, NULL);
	fakesrv_start(&F.srv);
}

static probe_opts opts(uint32_t duration_ms, uint32_t interval_ms)
{
	probe_opts o;
	probe_opts_default(&o);
	o.port_a = F.port_a;
	o.port_b = F.port_b;
	o.duration_ms = duration_ms;
	o.interval_ms = interval_ms;
	o.timeout_ms = 5000;
	return o;
}

static void run_ok(const probe_opts *o, probe_result *r)
{
	char err[128] = "";
	cr_assert_eq(probe_run(o, r, err, sizeof err), 0, "probe_run: %s", err);
	pthread_mutex_lock(&F.mu);
	bool bad = F.bad_request;
	pthread_mutex_unlock(&F.mu);
	cr_assert_not(bad, "the probe sent a request the fake edges do not take");
}

TestSuite(probe, .init = setup, .fini = teardown, .timeout = 30);

Test(probe, samples_are_never_early_and_close_to_the_delay)
{
	F.delay_us = 60000;
	serve();
	probe_opts o = opts(400, 20);
	probe_result r;
	run_ok(&o, &r);
	cr_assert_geq(r.likes, 3, "likes %llu", (unsigned long long)r.likes);
	cr_assert_eq(r.visible, r.likes);
	cr_assert_eq(r.timed_out + r.errors + r.poll_errors, 0);
	/* A took each like a little before the probe's ack (by one answer's
	 * trip), so a sample may be that much under the delay, no more. */
	cr_assert_geq(r.p50_ms, 58.0, "p50 %.3f ms", r.p50_ms);
	cr_assert_geq(r.min_ms, 40.0, "min %.3f ms", r.min_ms);
	cr_assert_leq(r.p50_ms, 60.0 + 100.0, "p50 %.3f ms", r.p50_ms);
	cr_assert_leq(r.min_ms, r.p50_ms);
	cr_assert_leq(r.p50_ms, r.p90_ms);
	cr_assert_leq(r.p90_ms, r.p99_ms);
	cr_assert_leq(r.p99_ms, r.max_ms);
	cr_assert_eq(r.poll_ms, o.poll_ms);
	pthread_mutex_lock(&F.mu);
	cr_assert_eq((uint64_t)F.baselines, r.likes);
	/* 60 ms per like at one poll every 2 ms: many polls, not one per like. */
	cr_assert_gt((uint64_t)F.polls, 2 * r.likes, "polls %d", F.polls);
	pthread_mutex_unlock(&F.mu);
}

Test(probe, a_count_above_zero_before_the_like_is_not_taken_for_it)
{
	F.base = 7;
	F.delay_us = 40000;
	serve();
	probe_opts o = opts(200, 20);
	probe_result r;
	run_ok(&o, &r);
	cr_assert_geq(r.likes, 2);
	cr_assert_eq(r.visible, r.likes);
	/* Taking the baseline for the like would give samples of one poll. */
	cr_assert_geq(r.p50_ms, 38.0, "p50 %.3f ms", r.p50_ms);
	cr_assert_geq(r.min_ms, 20.0, "min %.3f ms", r.min_ms);
}

Test(probe, a_like_never_shown_times_out_and_gives_no_sample)
{
	F.never = true;
	serve();
	probe_opts o = opts(100, 10);
	o.timeout_ms = 50;
	probe_result r;
	run_ok(&o, &r);
	cr_assert_geq(r.likes, 1);
	cr_assert_eq(r.visible, 0);
	cr_assert_eq(r.timed_out, r.likes);
	cr_assert_eq(r.errors, 0);
	cr_assert_eq(r.p99_ms, 0.0);
}

Test(probe, a_refused_like_is_an_error_not_a_sample)
{
	F.like_status = 503;
	serve();
	probe_opts o = opts(50, 10);
	probe_result r;
	run_ok(&o, &r);
	cr_assert_geq(r.errors, 1);
	cr_assert_eq(r.likes + r.visible + r.timed_out + r.polls, 0);
}

Test(probe, a_repeated_like_is_an_error_not_a_sample)
{
	F.like_repeat = true;
	serve();
	probe_opts o = opts(50, 10);
	probe_result r;
	run_ok(&o, &r);
	cr_assert_geq(r.errors, 1);
	cr_assert_eq(r.likes + r.visible + r.polls, 0);
}

Test(probe, an_edge_nobody_listens_on_gives_errors_not_a_hang)
{
	serve();
	probe_opts o = opts(50, 10);
	o.port_a = fakesrv_dead_port();
	probe_result r;
	run_ok(&o, &r);
	cr_assert_geq(r.errors, 1);
	cr_assert_eq(r.likes + r.visible, 0);
	pthread_mutex_lock(&F.mu);
	cr_assert_eq(F.likes, 0);
	pthread_mutex_unlock(&F.mu);
}

Test(probe, polls_ask_for_at_most_batch_items_each)
{
	F.delay_us = 300000;
	serve();
	/* Some 60 likes waiting at once, and at least 4 likes even when a
	 * busy machine makes each take far longer than its 5 ms. */
	probe_opts o = opts(400, 5);
	o.batch_items = 3;
	probe_result r;
	run_ok(&o, &r);
	cr_assert_geq(r.likes, 4);
	cr_assert_eq(r.visible, r.likes);
	pthread_mutex_lock(&F.mu);
	cr_assert_eq(F.most_items, 3, "most items in one poll: %d", F.most_items);
	pthread_mutex_unlock(&F.mu);
}

/* One like that B shows delay_us after A took it, polled with poll_frac:
 * its result, and the polls B answered. With stall_ms, also how late this
 * machine woke a sleeping thread meanwhile, at most (a timer's wake-up
 * plus a socket's round trip, sim/drill/wakeprobe.h; 0 when the probe
 * cannot start): the slack a bound on the sample needs when other
 * processes hold the CPUs. */
static int one_slow_like(uint64_t delay_us, uint32_t poll_frac, probe_result *r, double *stall_ms)
{
	F.delay_us = delay_us;
	serve();
	probe_opts o = opts(20, 40); /* one like */
	o.poll_frac = poll_frac;
	wakeprobe *wp = stall_ms ? wakeprobe_start(1000) : NULL;
	run_ok(&o, r);
	if (stall_ms) {
		*stall_ms = 0;
		if (wp) {
			hist late, echo;
			wakeprobe_take(wp, &late, &echo);
			wakeprobe_stop(wp);
			*stall_ms = (double)(late.max_us + echo.max_us) / 1000.0;
		}
	}
	cr_assert_eq(r->likes, 1);
	cr_assert_eq(r->visible, 1);
	pthread_mutex_lock(&F.mu);
	int polls = F.polls;
	pthread_mutex_unlock(&F.mu);
	return polls;
}

/* A like that takes long to show is asked about every 1/poll_frac of its
 * age once that is past poll_ms: far fewer polls than one every poll_ms,
 * and its sample late by at most that fraction (plus one GET). */
Test(probe, a_like_waiting_long_is_polled_less_often_as_it_ages)
{
	probe_result r;
	double stall;
	int polls = one_slow_like(400000, 10, &r, &stall);
	cr_assert_geq(r.min_ms, 398.0, "sample %.3f ms", r.min_ms);
	/* 1.1 x the delay, the slack the first test gives a busy machine, and
	 * what the machine itself delayed wake-ups by in this run, up to
	 * 250 ms: a run stalled longer than that fails rather than passing
	 * on a bound that no longer says anything. */
	cr_log_info("wake-ups late by %.3f ms at most", stall);
	cr_assert_leq(r.min_ms, 400.0 * 1.1 + 100.0 + fmin(stall, 250.0),
	              "sample %.3f ms, wake-ups late by %.3f ms", r.min_ms, stall);
	/* Every 2 ms would be 200 polls; by a tenth of the age about 40. */
	cr_assert_lt(polls, 80, "polls %d", polls);
	cr_assert_gt(polls, 10, "polls %d", polls);
}

Test(probe, with_poll_frac_off_a_like_is_polled_every_poll_ms)
{
	probe_result r;
	int polls = one_slow_like(400000, 0, &r, NULL);
	/* 200 at one every 2 ms; half of that on a busy machine is still
	 * well above the 40 or so of the test before. */
	cr_assert_gt(polls, 100, "polls %d", polls);
}

Test(probe, connections_the_edges_close_are_reopened)
{
	F.delay_us = 20000;
	F.close_each = true; /* B: Connection: close on every answer */
	F.drop_each = true;  /* A: drops each connection after its answer, unannounced */
	serve();
	/* About 20 likes at one every 30 ms; at least 3 even when a busy
	 * machine makes each connection's setup take several times that. */
	probe_opts o = opts(600, 30);
	probe_result r;
	run_ok(&o, &r);
	cr_assert_geq(r.likes, 3, "likes %llu", (unsigned long long)r.likes);
	cr_assert_eq(r.errors + r.poll_errors + r.timed_out, 0);
	cr_assert_eq(r.visible, r.likes);
}

Test(probe, options_out_of_bounds_are_refused)
{
	serve();
	probe_opts good = opts(10, 10);
	struct {
		const char *what;
		probe_opts o;
	} bad[] = {{"port", good},     {"poll", good},   {"batch", good},
	           {"pending", good},  {"prefix", good}, {"interval", good},
	           {"duration", good}, {"type", good},   {"poll_frac", good}};
	bad[0].o.port_a = 0;
	bad[1].o.poll_ms = 0;
	bad[2].o.batch_items = PROBE_BATCH_ITEMS_MAX + 1;
	bad[3].o.max_pending = 0;
	bad[4].o.id_prefix = "no spaces";
	bad[5].o.interval_ms = 0;
	bad[6].o.duration_ms = 0;
	bad[7].o.type = "Post";
	bad[8].o.poll_frac = 1001;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		probe_result r;
		char err[128] = "";
		cr_assert_eq(probe_run(&bad[i].o, &r, err, sizeof err), ERR_INVAL, "%s",
		             bad[i].what);
		cr_assert_neq(err[0], '\0', "%s: no reason given", bad[i].what);
	}
	pthread_mutex_lock(&F.mu);
	cr_assert_eq(F.likes + F.baselines + F.polls, 0);
	pthread_mutex_unlock(&F.mu);
}

Test(probe, quantiles_are_by_nearest_rank)
{
	double v[100];
	for (int i = 0; i < 100; i++)
		v[i] = i + 1;
	cr_assert_eq(probe_quantile(v, 100, 0.50), 50.0);
	cr_assert_eq(probe_quantile(v, 100, 0.99), 99.0);
	cr_assert_eq(probe_quantile(v, 100, 1.00), 100.0);
	cr_assert_eq(probe_quantile(v, 100, 0.001), 1.0);
	cr_assert_eq(probe_quantile(v, 10, 0.90), 9.0);
	cr_assert_eq(probe_quantile(v, 10, 0.91), 10.0);
	cr_assert_eq(probe_quantile(v, 1, 0.99), 1.0);
	cr_assert_eq(probe_quantile(v, 0, 0.5), 0.0);
}
