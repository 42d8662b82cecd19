/* test_api_group.c - group commit through the real HTTP/2 server: the
 * likes read in one loop turn are written in one store write and each is
 * answered after it, with the count it made; when that write fails,
 * every one of them is answered 503 (a batch: 200 with each op's error)
 * and nothing is recorded, also when the write ends before the route
 * that staged it has returned (as the commit thread's can). With commit
 * threads and a changelog copy held, the loop never waits on a write: a
 * retry of a write still out, on the same connection, follows it, and a
 * read sent after both is answered first.
 *
 * The client connects and sends all its requests before the server's
 * loop first runs, so they are in the socket together and are read in
 * one turn (they fit in one read). The loop then runs on its own thread;
 * the test thread only touches the ledger, which locks for itself. One
 * temp dir per test.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "tests/support/h2client.h"
#include "tests/support/testdir.h"
#include "tests/support/api_util.h"
#include "tests/support/ledger_sink.h"
#include "tests/support/quiet_log.h"
#include "edge/api/api.h"
#include "edge/ledger/ledger.h"
#include "clock.h"
#include "log.h"
#include "store.h"
#include "xmem.h"

#define N 20

static struct {
	char dir[64];
	store *db;
	ledger *l;
	api a;
	struct event_base *base;
	http_server *srv;
	pthread_t thread;
	bool running;
	int stop[2];           /* a byte here ends the loop */
	bool fail_after_stage; /* the next staged write's group fails at once */
	struct event *stop_ev;
	h2client cl;
} T;

/* A changelog whose copies are held until the test lets them go. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool go;
	int rc; /* what each copy's end returns once let go */
} H = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};

static void held_go(void)
{
	pthread_mutex_lock(&H.mu);
	H.go = true;
	pthread_mutex_unlock(&H.mu);
	pthread_cond_broadcast(&H.cv);
}

static int held_end(void *ctx, store_batch *wb, void *pending)
{
	(void)ctx, (void)wb, (void)pending;
	pthread_mutex_lock(&H.mu);
	while (!H.go)
		pthread_cond_wait(&H.cv, &H.mu);
	int rc = H.rc;
	pthread_mutex_unlock(&H.mu);
	return rc;
}

static const ledger_log held_log = {
    .begin = ledger_util_log_begin,
    .end = held_end,
    .written = ledger_util_log_written,
    .refused = ledger_util_log_refused,
    .refusing = ledger_util_log_refusing,
    .may_send = ledger_util_log_may_send,
};

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* The ledger's after_stage hook: with fail_after_stage, writes (and so
 * fails) the group right after a route staged into it, before the route
 * returns, as the commit thread may. */
static void after_stage(void *ctx)
{
	(void)ctx;
	if (!T.fail_after_stage)
		return;
	T.fail_after_stage = false;
	store_fail_writes(T.db, 1);
	cr_assert_neq(ledger_commit_now(T.l, clock_wall_ms()), 0);
}

/* The ledger, with commit threads and a held changelog (held) or
 * without either. */
static void open_ledger(bool held)
{
	ledger_opts o = api_util_ledger_opts(4);
	o.seal_age_ms = 60000;
	o.after_stage = after_stage;
	if (held) {
		o.commit_thread = true;
		o.commit_depth = 2;
		o.log = &held_log;
	}
	char err[256];
	T.l = ledger_open(T.db, &o, err, sizeof err);
	cr_assert_not_null(T.l, "%s", err);
	cr_assert_eq(ledger_sink_complete(T.l, o.partitions), 0);
}

static void setup(void)
{
	log_threshold = LOG_ERROR + 1; /* the injected failures log errors */
	memset(&T, 0, sizeof T);
	H.go = false;
	H.rc = 0;
	testdir_make(T.dir, sizeof T.dir, "test_api_group");
	T.db = testdir_open_store(T.dir);
	open_ledger(false);
	char err[256];
	T.base = event_base_new();
	cr_assert_not_null(T.base);
	api_config cfg = api_util_config();
	cfg.max_items = cfg.max_ops = 100;
	cr_assert_eq(api_util_prepare(&T.a, T.l, "post", "likes", "views", cfg, err, sizeof err), 0,
	             "%s", err);
	T.a.base = T.base;
	T.a.group_commit = true;
	cr_assert_eq(api_init(&T.a), 0);
	http_config hc = {.listen = "127.0.0.1:0"};
	T.srv = http_server_new(T.base, &hc, api_handle, &T.a, err, sizeof err);
	cr_assert_not_null(T.srv, "%s", err);
	T.cl.conn.fd = -1;
	cr_assert_eq(pipe(T.stop), 0);
	T.stop_ev = event_new(T.base, T.stop[0], EV_READ, on_stop, T.base);
	cr_assert_not_null(T.stop_ev);
	cr_assert_eq(event_add(T.stop_ev, NULL), 0);
}

static void *loop_main(void *arg)
{
	(void)arg;
	event_base_dispatch(T.base);
	return NULL;
}

static void teardown(void)
{
	held_go(); /* copies still held go on, and the commit threads stop */
	if (T.running) {
		cr_assert_eq(write(T.stop[1], "x", 1), 1);
		pthread_join(T.thread, NULL);
	}
	event_free(T.stop_ev);
	close(T.stop[0]);
	close(T.stop[1]);
	h2client_close(&T.cl);
	http_server_free(T.srv);
	api_util_free(&T.a);
	event_base_free(T.base);
	ledger_free(T.l);
	store_close(T.db);
	testdir_remove(T.dir);
}

TestSuite(api_group, .init = setup, .fini = teardown, .timeout = 30);

/* Sends every submitted request, then lets the loop run. */
static void start_loop(void)
{
	/* One send: separate small writes could wait for an ACK (Nagle)
	 * and reach the server after its first read. */
	size_t len = 0, cap = 4096;
	uint8_t *buf = xmalloc(cap);
	const uint8_t *data;
	ssize_t n;
	while ((n = nghttp2_session_mem_send(T.cl.sess, &data)) > 0) {
		if (len + (size_t)n > cap) {
			cap = 2 * (len + (size_t)n);
			buf = xrealloc(buf, cap);
		}
		memcpy(buf + len, data, (size_t)n);
		len += (size_t)n;
	}
	cr_assert_eq(n, 0);
	cr_assert(tconn_write(&T.cl.conn, buf, len));
	free(buf);
	cr_assert_eq(pthread_create(&T.thread, NULL, loop_main, NULL), 0);
	T.running = true;
}

static void connect_client(void)
{
	int port = http_server_port(T.srv, false);
	cr_assert_gt(port, 0);
	cr_assert(h2client_open(&T.cl, port, false, NULL, 0));
}

static h2client_stream *like(int i)
{
	char user[16];
	snprintf(user, sizeof user, "u%d", i);
	return h2client_request(&T.cl, "POST", "/v1/items/post/1/likes", NULL, 0, "x-user-id",
	                        user); /* nghttp2 copies header values */
}

static ledger_stats stats(void)
{
	ledger_stats s;
	ledger_get_stats(T.l, &s);
	return s;
}

Test(api_group, likes_of_one_turn_share_one_store_write_and_get_their_own_counts)
{
	connect_client();
	h2client_stream *cs[N];
	for (int i = 0; i < N; i++)
		cs[i] = like(i);
	start_loop();
	cr_assert(h2client_run(&T.cl), "every stream answered");
	bool seen[N + 1] = {false};
	for (int i = 0; i < N; i++) {
		cr_assert_eq(cs[i]->status, 200, "like %d: %d %.*s", i, cs[i]->status,
		             (int)cs[i]->len, cs[i]->body);
		const char *c = strstr(cs[i]->body, "\"count\":");
		cr_assert_not_null(c);
		int count = atoi(c + 8);
		cr_assert(count >= 1 && count <= N && !seen[count],
		          "count %d twice or out of range", count);
		seen[count] = true;
	}
	ledger_stats s = stats();
	cr_assert_eq(s.ops_accepted, N);
	cr_assert_eq(s.commits, 1, "%d likes read in one turn: one store write, not %" PRIu64, N,
	             s.commits);
	ledger_view v;
	cr_assert_eq(ledger_read(T.l, "likes", "post:1", &v), 0);
	cr_assert_eq(v.count, N);
}

Test(api_group, a_failed_group_write_answers_every_like_503_and_records_nothing)
{
	connect_client();
	h2client_stream *cs[N];
	for (int i = 0; i < N; i++)
		cs[i] = like(i);
	store_fail_writes(T.db, 1);
	start_loop();
	cr_assert(h2client_run(&T.cl));
	for (int i = 0; i < N; i++) {
		cr_assert_eq(cs[i]->status, 503, "like %d", i);
		cr_assert_not_null(strstr(cs[i]->body, "store_unavailable"));
	}
	ledger_stats s = stats();
	cr_assert_eq(s.commits_failed, 1);
	cr_assert_eq(s.ops_accepted, 0);
	int st;
	cr_assert_eq(ledger_member(T.l, "likes", "post:1", "u0", &st), 0);
	cr_assert_eq(st, -1, "nothing recorded");
}

Test(api_group, a_failed_group_write_gives_a_batch_each_ops_error)
{
	connect_client();
	static const char body[] =
	    "{\"ops\":[{\"item\":\"post:1\",\"counter\":\"likes\",\"op\":\"add\"},"
	    "{\"item\":\"post:2\",\"counter\":\"nope\",\"op\":\"add\"}]}";
	h2client_stream *cs =
	    h2client_request(&T.cl, "POST", "/v1/ops", body, sizeof body - 1, "x-user-id", "u1");
	store_fail_writes(T.db, 1);
	start_loop();
	cr_assert(h2client_run(&T.cl));
	cr_assert_eq(cs->status, 200, "%.*s", (int)cs->len, cs->body);
	cr_assert_not_null(strstr(cs->body, "store_unavailable"), "%.*s", (int)cs->len, cs->body);
	cr_assert_not_null(strstr(cs->body, "unknown_counter"),
	                   "the refused op keeps its own error");
	cr_assert_eq(stats().ops_accepted, 0);
}

Test(api_group, a_like_whose_group_fails_before_its_route_returns_is_answered_503)
{
	connect_client();
	h2client_stream *cs = like(0);
	T.fail_after_stage = true;
	start_loop();
	cr_assert(h2client_run(&T.cl));
	cr_assert_eq(cs->status, 503, "%d %.*s", cs->status, (int)cs->len, cs->body);
	cr_assert_eq(stats().ops_accepted, 0);
	int st;
	cr_assert_eq(ledger_member(T.l, "likes", "post:1", "u0", &st), 0);
	cr_assert_eq(st, -1, "nothing recorded");
}

Test(api_group, a_batch_whose_group_fails_before_its_route_returns_gets_each_ops_error)
{
	connect_client();
	static const char body[] =
	    "{\"ops\":[{\"item\":\"post:1\",\"counter\":\"views\",\"op\":\"add\"}]}";
	h2client_stream *cs =
	    h2client_request(&T.cl, "POST", "/v1/ops", body, sizeof body - 1, "x-user-id", "u1");
	T.fail_after_stage = true;
	start_loop();
	cr_assert(h2client_run(&T.cl));
	cr_assert_eq(cs->status, 200, "%.*s", (int)cs->len, cs->body);
	cr_assert_not_null(strstr(cs->body, "store_unavailable"), "%.*s", (int)cs->len, cs->body);
	cr_assert_eq(stats().ops_accepted, 0);
}

/* Pumps the client until cs is closed (5 s at most). */
static void pump_until_closed(const h2client_stream *cs)
{
	for (int i = 0; i < 50 && !cs->closed && !T.cl.eof; i++)
		h2client_pump(&T.cl, 100);
	cr_assert(cs->closed, "never answered");
}

/* The ledger reopened with commit threads and a held changelog. */
static void hold_copies(void)
{
	ledger_free(T.l);
	open_ledger(true);
	T.a.lg = T.l;
}

Test(api_group, a_retry_of_a_write_still_out_follows_it_and_reads_are_not_held_behind)
{
	hold_copies();
	connect_client();
	/* A keyed like, its retry on the same connection (a client that
	 * gave up on the first before its answer), then a read: all in
	 * one turn. */
	h2client_stream *first =
	    h2client_request_with(&T.cl, "POST", "/v1/items/post/1/likes", NULL, 0, "x-user-id",
	                          "u1", "idempotency-key", "k-1");
	h2client_stream *retry =
	    h2client_request_with(&T.cl, "POST", "/v1/items/post/1/likes", NULL, 0, "x-user-id",
	                          "u1", "idempotency-key", "k-1");
	h2client_stream *read =
	    h2client_request(&T.cl, "GET", "/v1/items/post/1/likes", NULL, 0, "x-user-id", "u2");
	start_loop();
	pump_until_closed(read);
	cr_assert_eq(read->status, 200, "%d %.*s", read->status, (int)read->len, read->body);
	cr_assert_not(first->closed, "answered before its copy was acknowledged");
	cr_assert_not(retry->closed, "the retry answered before its first try");
	held_go();
	cr_assert(h2client_run(&T.cl));
	cr_assert_eq(first->status, 200, "%.*s", (int)first->len, first->body);
	cr_assert_eq(retry->status, 200, "%.*s", (int)retry->len, retry->body);
	cr_assert_eq(retry->len, first->len);
	cr_assert_eq(memcmp(retry->body, first->body, first->len), 0, "%.*s against %.*s",
	             (int)retry->len, retry->body, (int)first->len, first->body);
	cr_assert_str_eq(h2client_header(retry, "idempotent-replayed"), "true");
	ledger_view v;
	cr_assert_eq(ledger_read(T.l, "likes", "post:1", &v), 0);
	cr_assert_eq(v.count, 1, "the retry counted again");
	cr_assert_eq(stats().ops_accepted, 1);
	cr_assert_eq(stats().ops_replayed, 1);
}

Test(api_group, a_batch_retried_while_its_first_try_is_out_fails_with_it_op_by_op)
{
	hold_copies();
	H.rc = ERR_TIMEOUT; /* the held copy is refused once let go */
	connect_client();
	static const char body[] =
	    "{\"ops\":[{\"item\":\"post:1\",\"counter\":\"likes\",\"op\":\"add\"},"
	    "{\"item\":\"post:2\",\"counter\":\"nope\",\"op\":\"add\"}]}";
	h2client_stream *first =
	    h2client_request_with(&T.cl, "POST", "/v1/ops", body, sizeof body - 1, "x-user-id",
	                          "u1", "idempotency-key", "b-1");
	h2client_stream *retry =
	    h2client_request_with(&T.cl, "POST", "/v1/ops", body, sizeof body - 1, "x-user-id",
	                          "u1", "idempotency-key", "b-1");
	start_loop();
	held_go();
	cr_assert(h2client_run(&T.cl));
	cr_assert_eq(first->status, 200, "%.*s", (int)first->len, first->body);
	cr_assert_eq(retry->status, 200, "%.*s", (int)retry->len, retry->body);
	cr_assert_not_null(strstr(first->body, "store_unavailable"), "%.*s", (int)first->len,
	                   first->body);
	cr_assert_eq(retry->len, first->len, "%.*s against %.*s", (int)retry->len, retry->body,
	             (int)first->len, first->body);
	cr_assert_eq(memcmp(retry->body, first->body, first->len), 0);
	cr_assert_eq(stats().ops_accepted, 0);
	cr_assert_eq(stats().ops_replayed, 1, "the retry followed its first try");
}
